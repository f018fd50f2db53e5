//! Command-line arguments.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Check, test and measure logtrim rule sets on sample log files before deploying them.
///
/// A rule set is a YAML file: string fields to parse (access logs, JSON, app logs), rules evaluated in
/// order (first match wins: keep with a priority, drop, or sample) and a default action.
/// See docs/rules.md for the format.
#[derive(Parser, Debug)]
#[command(name = "logtrim", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate rule files; exit 1 on any error (printed as file:line:col: message)
    Check {
        /// Rule files to check
        #[arg(required = true, value_name = "RULES")]
        rules: Vec<PathBuf>,
        /// Print the compiled plan: fields extracted, parsers, rule order and prefilters
        #[arg(long)]
        explain: bool,
    },
    /// Run the examples embedded in rule files (`tests:`); exit 1 if any fails
    Test {
        /// Rule files whose tests to run
        #[arg(required = true, value_name = "RULES")]
        rules: Vec<PathBuf>,
        /// Output format
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
    /// Write what would be sent — the records the rules keep, trimmed, and summaries of those they drop —
    /// to stdout (or -o FILE)
    Run {
        /// Rule file
        #[arg(value_name = "RULES")]
        rules: PathBuf,
        #[command(flatten)]
        input: InputArgs,
        /// Write kept records here instead of stdout
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Write the records that were dropped here too (for inspection)
        #[arg(long, value_name = "FILE")]
        dropped: Option<PathBuf>,
        /// Write each as the HEC event the Lambda would send (one per line, with its time, host, source
        /// and sourcetype from the record as the Lambda's default mapping reads them)
        #[arg(long)]
        hec: bool,
        /// Archive the records that are not sent (dropped, sampled out, shed, blank; the rule file's
        /// `archive:` section says which and how) to a directory, file:///path or s3://bucket/prefix,
        /// in the layout `logtrim replay` reads
        #[arg(long, value_name = "DIR|URL")]
        archive: Option<String>,
        /// S3: address the bucket as endpoint/bucket (MinIO, Ceph, moto) rather than bucket.endpoint;
        /// the endpoint itself comes from AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3)
        #[arg(long, env = "LOGTRIM_ARCHIVE_S3_PATH_STYLE")]
        s3_path_style: bool,
    },
    /// Send archived records back to Splunk HEC (or to a file): a time range, rules, any condition of
    /// the rule language; each record at most once, whatever the replays before
    Replay(crate::cmd::replay::ReplayArgs),
    /// Measure what a rule set would keep: per-rule records and bytes, total reduction, projected GB/day
    Report {
        /// Rule file
        #[arg(value_name = "RULES")]
        rules: PathBuf,
        #[command(flatten)]
        input: InputArgs,
        /// The input covers this many days (for GB/day); by default derived from record timestamps
        #[arg(long, value_name = "N")]
        days: Option<f64>,
        /// Output format
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
        /// Never show a progress bar (it is shown only when stderr is a terminal)
        #[arg(long)]
        no_progress: bool,
        /// Replay the input as one licence day under a daily byte budget: when each priority is shed and
        /// what each keeps. SIZE (e.g. 4GB) overrides the rule file's `budget.limit`; `--budget rules`
        /// uses the rule file's `budget:` section as it is
        #[arg(long, value_name = "SIZE")]
        budget: Option<String>,
        /// Input volume per day for --budget (e.g. 6GB); by default the input's own rate, from record
        /// timestamps or --days
        #[arg(long, value_name = "SIZE", requires = "budget")]
        rate: Option<String>,
        /// Also write a self-contained HTML page of charts here: volume by rule, GB/day, the costliest
        /// templates, and with --budget the licence day
        #[arg(long, value_name = "FILE")]
        html: Option<PathBuf>,
    },
    /// Find the message templates that cost the most and propose rules that cut them, checked on the
    /// input: never a record at warn or above, with status 400 or above, or kept at high or critical
    #[command(override_usage = "logtrim suggest [OPTIONS] [RULES] [FILE]...")]
    Suggest(crate::cmd::suggest::SuggestArgs),
    /// Show which rule decides one record, and the field values the rules saw
    Explain {
        /// Rule file
        #[arg(value_name = "RULES")]
        rules: PathBuf,
        /// The record: a JSON object or a text line; `-` reads records from stdin, one per line, each
        /// explained as soon as it is read
        #[arg(value_name = "RECORD")]
        record: String,
        /// Output format
        #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
        format: OutputFormat,
    },
}

#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Input files (gzip is detected and decompressed); none or `-` reads stdin
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Input format; `auto` detects it per file from its first bytes
    #[arg(long = "input-format", value_enum, default_value_t = InputFormatArg::Auto)]
    pub input_format: InputFormatArg,
    /// Longest record kept whole, in bytes; longer lines are truncated and counted
    #[arg(long, value_name = "BYTES", default_value_t = 1024 * 1024)]
    pub max_record_bytes: usize,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// For people
    Text,
    /// One JSON document, for machines
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputFormatArg {
    /// Detect per file
    Auto,
    /// One JSON object per line (Fluent Bit records)
    Json,
    /// Kubernetes CRI container logs: `<time> <stream> <P|F> <msg>`, partial lines joined
    Cri,
    /// Docker json-file container logs, partial lines joined
    Docker,
    /// Plain text, one record per line
    Text,
    /// A saved Firehose transformation event (records decoded as the Lambda decodes them)
    Firehose,
    /// A CloudWatch Logs subscription payload (`DATA_MESSAGE`, gzip as delivered or plain)
    Cloudwatch,
}
