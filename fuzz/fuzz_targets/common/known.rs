//! Known findings, being fixed elsewhere or recorded in FUZZING.md, that the targets step around by
//! default so that a run explores past them instead of stopping at the first one again and again.
//! `LOGTRIM_FUZZ_STRICT=1` turns every such exception off (to check that a fix has landed, or to see
//! the findings themselves); each use says which finding it is.

use std::sync::OnceLock;

/// Whether known findings are to fail the run like any other.
pub fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("LOGTRIM_FUZZ_STRICT").is_some_and(|v| v != "0" && !v.is_empty()))
}
