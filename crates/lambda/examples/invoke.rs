//! Invokes the handler on a saved Firehose event `N` times, as the bench does (`handler::invoke`, the
//! response serialized as the runtime does), and prints the response's size: for profiles
//! (`valgrind --tool=callgrind`) and peak RSS (`/usr/bin/time -v`).
//!
//! `cargo run --release -p logtrim-lambda --example invoke -- RULES EVENT [N]`; the bench writes its
//! events to `$TMPDIR/logtrim-bench-lambda-*.json`. Re-ingestion fails the invocation (none expected).

use logtrim_lambda::handler::{self, State};
use logtrim_lambda::reingest::{PutError, PutRecordBatch};

struct NoReingest;

impl PutRecordBatch for NoReingest {
    async fn put_record_batch(&self, _: &str, _: &[&[u8]]) -> Result<Vec<Option<String>>, PutError> {
        Err(PutError("not expected".into()))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // As the binary does.
    logtrim_lambda::heap::keep_freed_memory();
    let args: Vec<String> = std::env::args().collect();
    let [_, rules, event, rest @ ..] = &args[..] else {
        eprintln!("usage: invoke RULES EVENT [N]");
        std::process::exit(2);
    };
    let n: usize = rest.first().map_or(1, |n| n.parse().expect("N is a number"));
    let yaml = std::fs::read_to_string(rules).expect("rules");
    let rules = logtrim_core::RuleSet::from_yaml(rules, &yaml).expect("rules compile");
    let mut state = State::new(rules, logtrim_lambda::transform::Settings::default(), NoReingest);
    state.print_emf = false;
    let body = std::fs::read(event).expect("event file");
    let mut len = 0;
    for _ in 0..n {
        let response = handler::invoke(&state, &body).await.expect("the invocation succeeds");
        len = serde_json::to_vec(&response).expect("serializes").len();
    }
    println!("{len} bytes of response");
}
