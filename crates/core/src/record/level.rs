//! Log levels: normalising level names and numbers, and finding the level in the header of a text line.
//!
//! docs/rules.md ("Levels") is the contract, shape by shape: six levels, names compared case-insensitively,
//! pino/bunyan numbers, and for text lines the level in the line's header (klog, logfmt, zap console,
//! `[ERROR]`, log4j/logback/Python layouts). Text detection reads the header only, and only its first few
//! words, so that the word "ERROR" in an unrelated message does not make the line an error.

/// A normalised log level, ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `trace` (also `trc`, `verbose`, `vrb`, `finer`, `finest`).
    Trace,
    /// `debug` (also `dbg`, `fine`).
    Debug,
    /// `info` (also `inf`, `notice`, `information`, `informational`).
    Info,
    /// `warn` (also `warning`, `wrn`).
    Warn,
    /// `error` (also `err`, `severe`).
    Error,
    /// `fatal` (also `ftl`, `critical`, `crit`, `panic`, `pnc`, `dpanic`, `emerg`, `emergency`, `alert`).
    Fatal,
}

impl Level {
    /// The normalised name: `trace`, `debug`, `info`, `warn`, `error` or `fatal`.
    pub fn name(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }
}

/// The JSON keys read for the level, in order; `log.level` is one literal dotted key (ECS).
pub const LEVEL_KEYS: &[&str] = &["level", "severity", "lvl", "loglevel", "log.level"];

/// Normalises a level name, ignoring ASCII case and surrounding ASCII whitespace.
///
/// The names are the table in docs/rules.md: the usual ones, the syslog long forms (`emergency`,
/// `informational`), java.util.logging's `severe`/`fine`/`finer`/`finest`, Serilog's `verbose`, and the
/// three-letter forms of zerolog and Serilog (`TRC`, `DBG`, `INF`, `WRN`, `ERR`, `FTL`, `PNC`, `VRB`).
/// Single letters are not level names here: `E` means error only at the start of a klog line
/// ([`detect_text`]).
pub fn normalize(word: &[u8]) -> Option<Level> {
    let word = word.trim_ascii();
    // The longest name is `informational`; anything longer is not a level.
    let mut buf = [0u8; 13];
    let lower = buf.get_mut(..word.len())?;
    lower.copy_from_slice(word);
    lower.make_ascii_lowercase();
    Some(match &*lower {
        b"trace" | b"trc" | b"verbose" | b"vrb" | b"finer" | b"finest" => Level::Trace,
        b"debug" | b"dbg" | b"fine" => Level::Debug,
        b"info" | b"inf" | b"notice" | b"information" | b"informational" => Level::Info,
        b"warn" | b"warning" | b"wrn" => Level::Warn,
        b"error" | b"err" | b"severe" => Level::Error,
        b"fatal" | b"ftl" | b"critical" | b"crit" | b"panic" | b"pnc" | b"dpanic" | b"emerg" | b"emergency"
        | b"alert" => Level::Fatal,
        _ => return None,
    })
}

/// A pino/bunyan numeric level: exactly 10, 20, 30, 40, 50 or 60 for trace … fatal.
///
/// Any other number (a custom pino level such as 35, or a syslog severity 0–7, whose scale runs the
/// other way) is `None`: mapping it to a neighbour would be a guess that a rule on `level` then trusts.
pub fn from_number(n: f64) -> Option<Level> {
    const BY_TEN: [Level; 6] = [Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal];
    if n.fract() != 0.0 || !(10.0..=60.0).contains(&n) || n % 10.0 != 0.0 {
        return None;
    }
    Some(BY_TEN[(n / 10.0) as usize - 1])
}

/// How far into a line the header (timestamp, level, thread, logger) is read.
const HEADER: usize = 128;
/// How far a logfmt line is read for its `level=` key: logfmt keys come in any order, but a level key
/// after the first 1 KiB is in a message value, if anywhere.
const LOGFMT_SPAN: usize = 1024;
/// Reading the header for a level stops at its fifth counted word (see [`header_words`]). Four counted
/// words reach PostgreSQL's `2026-11-22 10:00:00.123 UTC [1] ERROR:` and Python's `%(asctime)s -
/// %(name)s - %(levelname)s`; the first word of a message after a four-word header is not read.
const LEAD_WORDS: usize = 4;

/// Word separators: space, tab, CR and LF.
fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The longest prefix of `line` of at most `limit` bytes that does not end inside a word: a word that runs
/// past the limit could be the start of a longer one (`INFORMAL` → `INFO`), so it is not read.
fn whole_words(line: &[u8], limit: usize) -> &[u8] {
    match line.get(limit) {
        None => line,
        Some(&b) if is_sep(b) => &line[..limit],
        Some(_) => {
            let end = line[..limit].iter().rposition(|&b| is_sep(b)).map_or(0, |i| i + 1);
            &line[..end]
        }
    }
}

/// The words of `s`: maximal runs of bytes other than space, tab, CR and LF.
fn words(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&b| is_sep(b)).filter(|w| !w.is_empty())
}

/// The level in the header of a text line, by the first shape of docs/rules.md ("Levels") that matches:
///
/// 1. klog: the line starts `E1122 10:00:00` (`I`, `W`, `E`, `F` for info, warn, error, fatal);
/// 2. logfmt: a word `level=NAME` or `level="NAME"` (also `lvl`, `severity`, `loglevel`), in the first
///    KiB of a line whose first word is a `key=…` pair, else in the header;
/// 3. zap console: `2026-11-22T10:00:00.000Z<TAB>error<TAB>…`;
/// 4. – 6. in the header, before its fifth counted word ([`header_words`]): `[NAME]` or `<NAME>` in any
///    case; an upper-case `NAME`, possibly `(NAME`, `prefix.NAME` (Laravel), followed by nothing or one of
///    `:` `,` `)` `[` `]` (`ERROR:root:`, `WARN[0000]`, `[10:00:00 INF]`); and, for the first word only,
///    `NAME:` in any case (`error: …`).
///
/// The header is the first 128 bytes, without a word cut at that limit. Lower-case words other than
/// these shapes are never levels ("2026-11-22 10:00:00 error rate is fine" has none).
pub fn detect_text(line: &[u8]) -> Option<Level> {
    klog(line).or_else(|| logfmt(line)).or_else(|| zap(line)).or_else(|| header_words(line))
}

fn klog(line: &[u8]) -> Option<Level> {
    let head = line.get(..14)?;
    let digits = |r: std::ops::Range<usize>| head[r].iter().all(u8::is_ascii_digit);
    let shape = digits(1..5)
        && head[5] == b' '
        && digits(6..8)
        && head[8] == b':'
        && digits(9..11)
        && head[11] == b':'
        && digits(12..14);
    if !shape {
        return None;
    }
    match head[0] {
        b'I' => Some(Level::Info),
        b'W' => Some(Level::Warn),
        b'E' => Some(Level::Error),
        b'F' => Some(Level::Fatal),
        _ => None,
    }
}

fn logfmt(line: &[u8]) -> Option<Level> {
    // A logfmt line starts with `key=`; only then is a level key deep in the line still a level key.
    let is_logfmt = words(line).next().is_some_and(|first| {
        let key = first.split(|&b| b == b'=').next().unwrap_or(first);
        key.len() < first.len()
            && !key.is_empty()
            && key.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    });
    let span = whole_words(line, if is_logfmt { LOGFMT_SPAN } else { HEADER });
    // Most text lines have no `=` in their header: one SIMD search instead of a walk over its words.
    memchr::memchr(b'=', span)?;
    words(span).find_map(logfmt_pair)
}

/// `level=warn`, `lvl="WARN"`, …: the whole word, the value a level name, bare or double-quoted.
fn logfmt_pair(word: &[u8]) -> Option<Level> {
    let eq = word.iter().position(|&b| b == b'=')?;
    if !matches!(&word[..eq], b"level" | b"lvl" | b"severity" | b"loglevel") {
        return None;
    }
    let value = &word[eq + 1..];
    let name = match value.strip_prefix(b"\"") {
        Some(quoted) => quoted.strip_suffix(b"\"")?,
        None => value,
    };
    if name.is_empty() || !name.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    normalize(name)
}

fn zap(line: &[u8]) -> Option<Level> {
    // zap's console encoder: time, level, then caller or message, TAB-separated; the time has no spaces.
    let head = whole_words(line, HEADER);
    memchr::memchr(b'\t', head)?;
    let first = head.iter().position(|&b| is_sep(b))?;
    if first == 0 || head[first] != b'\t' {
        return None;
    }
    let rest = &head[first + 1..];
    let end = rest.iter().position(|&b| is_sep(b))?;
    let name = &rest[..end];
    if rest[end] != b'\t' || name.is_empty() || !name.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    normalize(name)
}

/// Shapes 4–6 on the lead words of the header: the words before the fifth counted one. A word without
/// an ASCII letter or digit (`-`, `|`, `---`) is not counted, nor is a bracketed field: a word starting
/// with `[` and the words after it up to the first one containing `]` (`[main]`, `[1]`,
/// `[2016-12-19 20:39:48,918]`). Uncounted words are still read: `[ERROR]`, `[10:00:00 INF]`.
fn header_words(line: &[u8]) -> Option<Level> {
    let mut counted = 0;
    let mut in_brackets = false;
    for (i, word) in words(whole_words(line, HEADER)).enumerate() {
        if in_brackets || word[0] == b'[' {
            // Inside a bracketed field, or starting one: it goes on until a word containing `]`.
            in_brackets = !word.contains(&b']');
        } else if word.iter().any(u8::is_ascii_alphanumeric) {
            counted += 1;
            if counted > LEAD_WORDS {
                return None;
            }
        }
        if let Some(level) = header_word(word, i == 0) {
            return Some(level);
        }
    }
    None
}

/// One lead word as a level: `[NAME]…`/`<NAME>…` in any case; an upper-case `NAME`, after an optional `(`
/// and an optional `prefix.` (letters, digits, `_`, `-`), ending the word or followed by `:`, `,`, `)`, `[`
/// or `]`; and, for the first word only, `NAME:` in any case.
fn header_word(word: &[u8], first: bool) -> Option<Level> {
    let letters = |w: &[u8]| w.iter().position(|b| !b.is_ascii_alphabetic()).unwrap_or(w.len());
    // Shape 4: bracketed, any case.
    let bracketed = [(b'[', b']'), (b'<', b'>')].into_iter().find_map(|(open, close)| {
        let inner = word.strip_prefix(&[open])?;
        let len = letters(inner);
        if len > 0 && inner.get(len) == Some(&close) { normalize(&inner[..len]) } else { None }
    });
    // Shape 6: the first word, `NAME:` in any case.
    let named = || {
        let len = letters(word);
        if first && len > 0 && word.get(len) == Some(&b':') { normalize(&word[..len]) } else { None }
    };
    bracketed.or_else(named).or_else(|| upper_case(word))
}

/// Shape 5: an upper-case level name, after an optional `(` and an optional `prefix.`, ending the word or
/// followed by `:`, `,`, `)`, `[` or `]`.
fn upper_case(word: &[u8]) -> Option<Level> {
    let letters = |w: &[u8]| w.iter().position(|b| !b.is_ascii_alphabetic()).unwrap_or(w.len());
    let word = word.strip_prefix(b"(").unwrap_or(word);
    let prefix = word.iter().position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-')));
    let after_prefix = match prefix {
        Some(dot) if dot > 0 && word[dot] == b'.' => Some(&word[dot + 1..]),
        _ => None,
    };
    [Some(word), after_prefix].into_iter().flatten().find_map(|w| {
        let len = letters(w);
        let upper = len > 0 && w[..len].iter().all(u8::is_ascii_uppercase);
        let ends = matches!(w.get(len), None | Some(b':' | b',' | b')' | b'[' | b']'));
        if upper && ends { normalize(&w[..len]) } else { None }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names() {
        let all = [Level::Trace, Level::Debug, Level::Info, Level::Warn, Level::Error, Level::Fatal];
        let names: Vec<_> = all.iter().map(|l| l.name()).collect();
        assert_eq!(names, ["trace", "debug", "info", "warn", "error", "fatal"]);
        assert!(Level::Trace < Level::Fatal && Level::Warn < Level::Error);
        assert_eq!(LEVEL_KEYS, ["level", "severity", "lvl", "loglevel", "log.level"]);
    }

    #[test]
    fn normalisation_table() {
        let table: &[(&str, Option<Level>)] = &[
            ("trace", Some(Level::Trace)),
            ("TRACE", Some(Level::Trace)),
            ("verbose", Some(Level::Trace)),
            ("debug", Some(Level::Debug)),
            ("Debug", Some(Level::Debug)),
            ("DBG", Some(Level::Debug)),
            ("info", Some(Level::Info)),
            ("INFO", Some(Level::Info)),
            ("notice", Some(Level::Info)),
            ("Information", Some(Level::Info)),
            ("informational", Some(Level::Info)),
            ("warn", Some(Level::Warn)),
            ("WARN", Some(Level::Warn)),
            ("warning", Some(Level::Warn)),
            ("Warning", Some(Level::Warn)),
            ("error", Some(Level::Error)),
            ("ERROR", Some(Level::Error)),
            ("err", Some(Level::Error)),
            ("SEVERE", Some(Level::Error)),
            ("fatal", Some(Level::Fatal)),
            ("critical", Some(Level::Fatal)),
            ("CRIT", Some(Level::Fatal)),
            ("panic", Some(Level::Fatal)),
            ("dpanic", Some(Level::Fatal)),
            ("DPANIC", Some(Level::Fatal)),
            ("emerg", Some(Level::Fatal)),
            ("alert", Some(Level::Fatal)),
            (" info\n", Some(Level::Info)),
            ("", None),
            ("E", None),
            ("I", None),
            ("default", None),
            ("30", None),
            ("information!", None),
            ("informationally", None),
            ("errors", None),
            ("wärn", None),
        ];
        for &(word, want) in table {
            assert_eq!(normalize(word.as_bytes()), want, "{word:?}");
        }
    }

    #[test]
    fn numbers() {
        let table: &[(f64, Option<Level>)] = &[
            (10.0, Some(Level::Trace)),
            (20.0, Some(Level::Debug)),
            (30.0, Some(Level::Info)),
            (40.0, Some(Level::Warn)),
            (50.0, Some(Level::Error)),
            (60.0, Some(Level::Fatal)),
            (0.0, None),
            (3.0, None),
            (35.0, None),
            (30.5, None),
            (70.0, None),
            (-10.0, None),
            (f64::NAN, None),
            (f64::INFINITY, None),
        ];
        for &(n, want) in table {
            assert_eq!(from_number(n), want, "{n}");
        }
    }

    #[test]
    fn text_lines() {
        use Level::*;
        let table: &[(&str, Option<Level>)] = &[
            // klog
            ("I0507 12:04:17.597069       1 file.go:169] \"Syncing iptables rules\"", Some(Info)),
            ("W1122 10:00:00.123456       1 reflector.go:561] watch ended", Some(Warn)),
            ("E1122 10:00:00.123456       1 proxier.go:805] \"Failed to execute iptables-restore\"", Some(Error)),
            ("F1122 10:00:00.123456       1 main.go:1] boom", Some(Fatal)),
            ("I1122 10:00:00.123456 1 x.go:1] ERROR in message is not the level", Some(Info)),
            ("X1122 10:00:00.123456 1 x.go:1] hi", None),
            ("E112 10:00:00 short", None),
            // logfmt
            ("time=2026-11-22T10:00:00.000Z level=warning msg=\"card declined\" status=402", Some(Warn)),
            ("ts=2024-05-07T10:55:53Z caller=main.go:12 lvl=debug msg=hi", Some(Debug)),
            ("level=\"ERROR\" msg=x", Some(Error)),
            ("time=\"2026-11-22T10:00:00Z\" level=critical msg=x", Some(Fatal)),
            ("t=1 level=5 level=info", Some(Info)),
            ("ts=1 severity=notice", Some(Info)),
            ("msg=x mylevel=error", None),
            // zap console
            ("2025-04-24T22:09:20.854Z\tinfo\tMetrics\t{\"otelcol.component.id\": \"debug\"}", Some(Info)),
            ("2025-04-24T22:09:20.856Z\terror\tinternal/queue_sender.go:128\tExporting failed.", Some(Error)),
            ("2026-11-22T10:00:00.000Z\tDPANIC\tx\ty", Some(Fatal)),
            ("2026-11-22T10:00:00.000Z\tnot-a-level\tx\tsome error", None),
            // bracketed
            ("[ERROR] connection refused", Some(Error)),
            ("[warn] low disk", Some(Warn)),
            ("2024-05-07T10:58:13.877Z [INFO]  core: security barrier not initialized", Some(Info)),
            ("[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6", Some(Error)),
            ("[10:00:00 INF] Started", Some(Info)),
            ("<notice> x", Some(Info)),
            // log4j / logback / Spring / Python / Laravel / logrus
            ("2025-01-24T07:00:30,139 INFO [background-preinit       ] Version : HV000001", Some(Info)),
            ("[2016-12-19 20:39:48,918] WARN [ReplicaFetcherThread-0-2], Error in fetch", Some(Warn)),
            ("2026-11-22 10:00:00,123 ERROR [main] c.e.orders.OrderService - Request failed", Some(Error)),
            ("2026-11-22 10:00:00.123 [http-nio-8080-exec-1] WARN  c.e.Foo - slow", Some(Warn)),
            ("2026-11-22T10:00:00.123+01:00  INFO 12345 --- [main] c.e.App : Started", Some(Info)),
            ("2026-11-22 10:00:00,123 - checkout.http - CRITICAL - disk full", Some(Fatal)),
            ("ERROR:root:something broke", Some(Error)),
            ("[2024-01-01 00:00:00] production.ERROR: Undefined variable", Some(Error)),
            ("WARN[0000] deprecated flag", Some(Warn)),
            ("081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1", Some(Info)),
            (
                "2015-07-29 17:41:44,747 - INFO  [QuorumPeer[myid=1]/0:0:0:0:0:0:0:0:2181:FastLeaderElection@774] - x",
                Some(Info),
            ),
            // first word with a colon
            ("error: unable to recognize \"deploy.yaml\"", Some(Error)),
            ("Warning: resource is deprecated", Some(Warn)),
            ("INFO:     Started server process [1]", Some(Info)),
            ("x Warning: not the first word", None),
            ("com.example.ErrorHandler: handled", None),
            // more layouts: PostgreSQL, gunicorn, nginx error log, MySQL, env_logger, Go's log, RabbitMQ
            ("2026-11-22 10:00:00.123 UTC [1] ERROR:  relation \"x\" does not exist", Some(Error)),
            ("2026-11-22 10:00:00.123 UTC [1] LOG:  database system is ready to accept connections", None),
            ("[2026-11-22 10:00:00 +0000] [1] [INFO] Starting gunicorn 21.2.0", Some(Info)),
            ("2026/11/22 10:00:00 [error] 29#29: *1 open() \"/x\" failed", Some(Error)),
            ("2026-11-22T10:00:00.123456Z 0 [Warning] [MY-010068] [Server] CA certificate is self signed.", Some(Warn)),
            ("[2026-11-22T10:00:00Z ERROR my_crate::db] connection lost", Some(Error)),
            ("2026/11/22 10:00:00 ERROR failed to connect", Some(Error)),
            ("2026-11-22 10:00:00.123456+00:00 [info] <0.9.0> Feature flags: list of feature flags found:", Some(Info)),
            ("(WARN) low disk", Some(Warn)),
            ("[ INFO ] x", Some(Info)),
            // reading stops at the fifth counted word; separators and bracketed fields do not count
            ("a b c ERROR", Some(Error)),
            ("a b c d ERROR", None),
            ("a b c d [ERROR]", Some(Error)),
            ("a b c d e [ERROR]", None),
            ("a - b | c --- ERROR", Some(Error)),
            ("[a] [b c] [d] [e] w x y WARN", Some(Warn)),
            ("[a] [b c] [d] [e] w x y z WARN", None),
            ("[unclosed w x y z WARN", Some(Warn)),
            // a damaged klog prefix: the message's first word is the fifth counted word
            ("\u{FFFD}I1122 10:00:00.123456       1 reflector.go:147] WARNING", None),
            ("I1122 10:00:00.123456       1 reflector.go:147] WARNING", Some(Info)),
            // shape details
            ("ERROR. not a level", None),
            ("ERRORS x", None),
            ("Error x", None),
            ("a.b.ERROR: two prefixes", None),
            ("[main] app-1.WARN: x", Some(Warn)),
            ("[Error]x", Some(Error)),
            ("<warn x", None),
            ("[warn> x", None),
            ("level=\"info msg=x", None),
            ("level=info\" msg=x", None),
            ("  level=info msg=x", Some(Info)),
            ("LEVEL=info msg=x", None),
            ("2026-11-22T10:00:00.000Z\terror not zap", None),
            (" 2026-11-22T10:00:00.000Z\terror\tx", None),
            ("2026-11-22T10:00:00.000Z\t\terror\tx", None),
            ("[ERROR]\r", Some(Error)),
            ("x\r\nERROR", Some(Error)),
            // nothing
            ("", None),
            ("hello world", None),
            ("2026-11-22 10:00:00 error rate is fine", None),
            ("Connection failed with error: timeout", None),
            ("{\"level\":\"error\",\"msg\":\"x\"}", None),
            ("\tat com.example.orders.OrderService.submit(OrderService.java:212)", None),
            ("Caused by: java.net.SocketTimeoutException: Read timed out", None),
            (
                "org.springframework.web.client.ResourceAccessException: I/O error on POST request for \"http://inventory:8080/reserve\": Read timed out",
                None,
            ),
            ("10.0.0.1 - - [22/Nov/2026:10:00:00 +0000] \"GET /ERROR HTTP/1.1\" 500 2 \"-\" \"-\"", None),
            (
                "[2019-04-08T16:16:55.931Z] \"GET /ERROR HTTP/1.1\" 500 - 0 89 5 4 \"-\" \"curl\" \"id\" \"h\" \"u\"",
                None,
            ),
            ("a b c d e f g ERROR late", None),
            ("2026-11-22 [main-ERROR-1] x", None),
        ];
        for &(line, want) in table {
            assert_eq!(detect_text(line.as_bytes()), want, "{line:?}");
            assert_eq!(detect_text(format!("{line}\n").as_bytes()), want, "{line:?} + newline");
        }
    }

    #[test]
    fn header_limit() {
        // The level must be in the first 128 bytes, and a word cut at the limit is not read.
        let pad = "x".repeat(130);
        assert_eq!(detect_text(format!("[{pad}] ERROR x").as_bytes()), None);
        let pad = "1".repeat(123);
        assert_eq!(detect_text(format!("{pad} INFORMAL").as_bytes()), None);
        assert_eq!(detect_text(format!("{pad} INFO more").as_bytes()), Some(Level::Info));
        // logfmt keys may sit anywhere in the first KiB of a logfmt line, but not deep in a plain line.
        let pad = "k=v ".repeat(50);
        assert_eq!(detect_text(format!("{pad}level=error").as_bytes()), Some(Level::Error));
        let pad = "word ".repeat(50);
        assert_eq!(detect_text(format!("{pad}level=error").as_bytes()), None);
    }

    proptest! {
        #[test]
        fn never_panics(line in prop::collection::vec(any::<u8>(), 0..300)) {
            let _ = detect_text(&line);
            let _ = normalize(&line);
        }

        #[test]
        fn never_panics_on_text(line in "[ -~\t\\[\\]<>éIWEF0-9:=\"]{0,200}") {
            let _ = detect_text(line.as_bytes());
        }

        #[test]
        fn numbers_never_panic(n in any::<f64>()) {
            let _ = from_number(n);
        }
    }
}
