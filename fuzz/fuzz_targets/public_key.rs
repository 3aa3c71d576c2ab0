//! `PublicKeyFile::parse` on any bytes: a key it accepts emits back to the same text and
//! parses again to the same key; a refusal names a place inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_core::PublicKeyFile;
use nanolin_fuzz::{check_emit, check_error_place};

fuzz_target!(|data: &[u8]| {
    match PublicKeyFile::parse(data) {
        Ok(file) => {
            let text = check_emit(data, file.buffer_len(), |buf| file.emit(buf));
            let again = PublicKeyFile::parse(&text).expect("emitted public key does not parse");
            assert_eq!(again, file);
            let _ = file.key.key_number.to_string();
        }
        Err(e) => check_error_place(data, &e),
    }
});
