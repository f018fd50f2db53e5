//! An invocation's memory, counted by a global allocator in a test binary of its own (it would count
//! every other test's allocations too).

use logtrim_core::RuleSet;
use logtrim_lambda::decode::{self, Compression, encode_base64};
use logtrim_lambda::event::{FirehoseRecord, FirehoseResult};
use logtrim_lambda::transform::{Settings, pipeline, transform};

fn rec(id: &str, data: &[u8]) -> FirehoseRecord {
    FirehoseRecord { record_id: id.into(), approximate_arrival_timestamp: Some(1_000), data: encode_base64(data) }
}

/// Counts the bytes this thread holds and the most it held: the transform runs on the test's thread,
/// and tests on other threads do not disturb the count.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn add(n: isize) {
        let _ = LIVE.try_with(|l| {
            l.set(l.get() + n);
            let _ = PEAK.try_with(|p| p.set(p.get().max(l.get())));
        });
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            add(l.size() as isize);
            unsafe { System.alloc(l) }
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            add(-(l.size() as isize));
            unsafe { System.dealloc(p, l) }
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
            add(n as isize - l.size() as isize);
            unsafe { System.realloc(p, l, n) }
        }
    }

    /// The most this thread held above what it held before `f`, in bytes.
    pub fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
        let base = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(base));
        let t = f();
        (t, (PEAK.with(Cell::get) - base) as usize)
    }
}

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

#[test]
fn r15_memory_stays_bounded_by_one_record_and_the_response() {
    // Records that inflate to the cap, every line kept: their output is larger than any response.
    let record_bytes = 8 << 20;
    let line = br#"10.0.0.9 - - [22/Nov/2026:10:00:01 +0000] "GET /api/orders?id=1 HTTP/1.1" 503 5 "-" "curl/8.5.0""#;
    let plain: Vec<u8> = line.iter().chain(b"\n").copied().cycle().take(record_bytes / (line.len() + 1) * (line.len() + 1)).collect();
    let records: Vec<_> = (0..6).map(|i| rec(&i.to_string(), &decode::compress(Compression::Gzip, &plain))).collect();
    let s = Settings { max_decompressed: record_bytes, ..Settings::default() };
    let rules = RuleSet::from_yaml("t.yaml", "parse:\n  log: [access]\nrules: []\n").unwrap();
    let (o, peak) = counting::peak_of(|| transform(&records, &mut pipeline(&rules, &s), &s));
    assert!(o.response().records.iter().all(|r| r.result == FirehoseResult::Dropped));
    assert_eq!(o.stats.records_reingested, 6);
    assert_eq!(o.counters.total().kept as usize, 6 * plain.len() / (line.len() + 1));
    // One record decoded at a time (its buffer up to twice its size while it inflates), its output
    // cut off at the response limit, the outputs held for the response (within the limit), and the
    // chunks to re-ingest.
    let reingest: usize = o.reingest.iter().map(Vec::len).sum();
    let bound = 2 * record_bytes + 2 * s.response_limit + reingest + (1 << 20);
    assert!(peak <= bound, "peak {peak} bytes, bound {bound}");
}

