//! Log levels: normalising level names and numbers, and finding the level at the start of a text line.
//!
//! docs/rules.md ("Levels") is the contract: six levels, names compared case-insensitively, pino/bunyan
//! numbers, and for text lines the level in the line's header (klog, logfmt, zap console, `[ERROR]`,
//! log4j/logback/Python layouts). Text detection looks at the header only, so that the word "error" in
//! the middle of an unrelated message does not make the line an error.

/// A normalised log level, ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `trace` (also `verbose`, `finer`, `finest`).
    Trace,
    /// `debug` (also `fine`).
    Debug,
    /// `info` (also `notice`, `information`, `informational`).
    Info,
    /// `warn` (also `warning`).
    Warn,
    /// `error` (also `err`, `severe`).
    Error,
    /// `fatal` (also `critical`, `crit`, `panic`, `dpanic`, `emerg`, `emergency`, `alert`).
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

/// Normalises a level name, ignoring ASCII case and surrounding whitespace.
///
/// Besides the names in docs/rules.md this knows the syslog long forms (`emergency`, `informational`),
/// java.util.logging's `severe`/`fine`/`finer`/`finest`, Serilog's `verbose`, and the three-letter
/// forms of zerolog and Serilog (`TRC`, `DBG`, `INF`, `WRN`, `ERR`, `FTL`, `PNC`, `VRB`). Single letters
/// are not level names here: `E` means error only at the start of a klog line ([`detect_text`]).
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

/// How far into a line the header (timestamp, level, thread, logger) is looked for.
const HEADER: usize = 128;
/// How many whitespace-separated words of the header may come before the level. Python's
/// `%(asctime)s - %(name)s - %(levelname)s` puts it sixth.
const HEADER_WORDS: usize = 6;
/// How far a logfmt line is searched for its `level=` key: logfmt keys come in any order, but a level
/// key after the first 1 KiB is in a message value, if anywhere.
const LOGFMT_SPAN: usize = 1024;

/// The level at the start of a text line, if one of the usual layouts puts one there:
///
/// - klog: `E1122 10:00:00.123456 …` (`I`, `W`, `E`, `F`);
/// - logfmt: a `level=`, `lvl=`, `severity=` or `loglevel=` key, anywhere in a line that starts with a
///   `key=` pair, else within the header;
/// - zap console: `2026-11-22T10:00:00.000Z<TAB>error<TAB>…`;
/// - a bracketed level among the first words: `[ERROR] …`, `2024-05-07T10:58:13.877Z [INFO]  …`,
///   Apache's `[Sun Dec 04 04:47:44 2005] [error] …`, `<warn>`;
/// - an upper-case level word among the first words, as log4j, logback, Spring Boot and Python write
///   it: `2026-11-22 10:00:00,123 ERROR …`, `… [main] WARN …`, `ERROR:root:…`, `production.ERROR: …`
///   (Laravel), `WARN[0000] …` (logrus);
/// - a first word that is a level followed by a colon, in any case: `error: …`, `Warning: …`.
///
/// Lower-case words elsewhere are not levels ("2026-11-22 10:00:00 error rate is fine" is not an
/// error), and only the first 128 bytes are read.
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
    let first_word_end = line.iter().position(|&b| b == b' ' || b == b'\t').unwrap_or(line.len());
    let first_word = &line[..first_word_end];
    let is_logfmt = first_word.iter().position(|&b| b == b'=').is_some_and(|eq| {
        eq > 0 && first_word[..eq].iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    });
    let span = &line[..line.len().min(if is_logfmt { LOGFMT_SPAN } else { HEADER })];
    let mut i = 0;
    while i < span.len() {
        // Keys start the line or follow a space or tab.
        if i == 0 || matches!(span[i - 1], b' ' | b'\t') {
            for key in [&b"level="[..], b"lvl=", b"severity=", b"loglevel="] {
                if span[i..].starts_with(key)
                    && let Some(level) = logfmt_value(&line[i + key.len()..])
                {
                    return Some(level);
                }
            }
        }
        i += 1;
    }
    None
}

/// `warn`, `"warn"` or `WARN`, ending at a space, a tab or the end of the line.
fn logfmt_value(v: &[u8]) -> Option<Level> {
    let (quoted, v) = match v.strip_prefix(b"\"") {
        Some(rest) => (true, rest),
        None => (false, v),
    };
    let len = v.iter().position(|b| !b.is_ascii_alphabetic()).unwrap_or(v.len());
    let mut rest = &v[len..];
    if quoted {
        rest = rest.strip_prefix(b"\"")?;
    }
    if !matches!(rest.first(), None | Some(b' ' | b'\t' | b'\n' | b'\r')) {
        return None;
    }
    normalize(&v[..len])
}

fn zap(line: &[u8]) -> Option<Level> {
    // zap's console encoder: time, level, then caller or message, TAB-separated; the time has no spaces.
    let line = &line[..line.len().min(HEADER)];
    let tab = line.iter().position(|&b| b == b'\t' || b == b' ')?;
    if tab == 0 || line[tab] != b'\t' {
        return None;
    }
    let rest = &line[tab + 1..];
    let end = rest.iter().position(|&b| b == b'\t')?;
    let word = &rest[..end];
    if word.is_empty() || !word.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    normalize(word)
}

fn header_words(line: &[u8]) -> Option<Level> {
    // A word cut by the header limit could be the prefix of a longer one (`INFORMAL` → `INFO`), so the
    // last word counts only if the line really ends there or whitespace follows it.
    let cut = line.len() > HEADER;
    let head = &line[..line.len().min(HEADER)];
    let mut words = head.split(|&b| b == b' ' || b == b'\t').filter(|w| !w.is_empty()).peekable();
    let mut n = 0;
    while let Some(word) = words.next() {
        if n == HEADER_WORDS {
            break;
        }
        let last = words.peek().is_none();
        if last && cut && !matches!(line[HEADER], b' ' | b'\t') {
            break;
        }
        if let Some(level) = header_word(word, n == 0) {
            return Some(level);
        }
        n += 1;
    }
    None
}

/// One word of a line's header, as a level: `[x]…`/`<x>…` in any case; an upper-case word, bare, after a
/// `.`-separated prefix (`production.ERROR:`) or followed by `:`, `[`, `]`, `)` or `,`; and, for the first
/// word only, any case followed by a colon (`error: …`).
fn header_word(word: &[u8], first: bool) -> Option<Level> {
    let alpha_run = |w: &[u8]| w.iter().position(|b| !b.is_ascii_alphabetic()).unwrap_or(w.len());
    for (open, close) in [(b'[', b']'), (b'<', b'>')] {
        if let Some(inner) = word.strip_prefix(&[open]) {
            let len = alpha_run(inner);
            if len > 0 && inner.get(len) == Some(&close) {
                return normalize(&inner[..len]);
            }
        }
    }
    // An opening bracket may belong to an earlier word: `[10:00:00 INF]` (Serilog), `(WARN)`.
    let word = word.strip_prefix(b"(").unwrap_or(word);
    let after_dot = word.iter().rposition(|&b| b == b'.').map(|dot| &word[dot + 1..]);
    for w in [Some(word), after_dot].into_iter().flatten() {
        let (name, rest) = w.split_at(alpha_run(w));
        if name.is_empty() {
            continue;
        }
        let upper = name.iter().all(u8::is_ascii_uppercase)
            && matches!(rest.first(), None | Some(b':' | b'[' | b']' | b')' | b','));
        let colon_first = first && rest.first() == Some(&b':');
        if (upper || colon_first)
            && let Some(level) = normalize(name)
        {
            return Some(level);
        }
    }
    None
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
            ("com.example.ErrorHandler: handled", None),
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
