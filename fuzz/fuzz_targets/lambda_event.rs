//! The Lambda's reader of the invocation event (`logtrim_lambda::event::EventRef::from_body`), which
//! walks the request body with the core's JSON scanner instead of serde_json, differentially against
//! serde_json's reading of the same type.
//!
//! Asserts:
//! - nothing panics;
//! - what one accepts, the other accepts, with the same members read (ids, arrival times, data);
//! - the documented differences only: the reader refuses an event or record written as an array of its
//!   members' values (serde_json reads those as sequences), and bodies serde_json's `Value` refuses too
//!   (serde_json does not check the strings of members it ignores for UTF-8 or lone surrogates).
#![no_main]

use libfuzzer_sys::fuzz_target;
use logtrim_lambda::event::EventRef;

fuzz_target!(|body: &[u8]| {
    let theirs = serde_json::from_slice::<EventRef>(body);
    let ours = EventRef::from_body(body);
    match (theirs, ours) {
        (Ok(t), Ok(o)) => assert_eq!(t, o, "read differently: {:?}", String::from_utf8_lossy(body)),
        (Err(_), Err(_)) => {}
        (Err(e), Ok(o)) => panic!("accepted what serde_json refuses ({e}): {:?}\n{o:?}", String::from_utf8_lossy(body)),
        (Ok(_), Err(e)) => {
            let as_array = |v: &serde_json::Value| {
                v.is_array() || v["records"].as_array().is_some_and(|r| r.iter().any(|r| r.is_array()))
            };
            let excused = serde_json::from_slice::<serde_json::Value>(body).map_or(true, |v| as_array(&v));
            assert!(excused, "refused ({e}) what serde_json reads: {:?}", String::from_utf8_lossy(body));
        }
    }
});
