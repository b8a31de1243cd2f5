//! Fuzzes request decoding exactly as the server does it: one frame (without its length
//! prefix) through `strom_kafka::decode_request` — header, API/version checks, and the
//! count-guarded body decode. Any panic (a `DecodeError::Panicked` included) or abort is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let frame = bytes::Bytes::copy_from_slice(data);
    if let Err(strom_kafka::DecodeError::Panicked) = strom_kafka::decode_request(frame) {
        panic!("the protocol decoder panicked on this input");
    }
});
