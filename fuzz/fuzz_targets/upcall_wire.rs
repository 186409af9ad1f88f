//! The upcall messages between broker, keel and agent (wire::upcall): any
//! bytes decode to a message or an error, never a panic; a decoded message
//! encodes back to the same bytes.
#![no_main]

use keel_wire::upcall::{decode, MAX_MSG};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = decode(data) {
        let mut buf = [0u8; MAX_MSG];
        let n = m.encode(&mut buf).expect("a decoded message encodes");
        assert_eq!(&buf[..n], data, "round trip of {m:?}");
    }
});
