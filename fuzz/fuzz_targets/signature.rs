//! `SignatureFile::parse` on any bytes: a signature it accepts (signify's two lines or
//! minisign's four) emits back to the same text and parses again to the same signature; a
//! refusal names a place inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_core::SignatureFile;
use nanolin_fuzz::{check_emit, check_error_place};

fuzz_target!(|data: &[u8]| {
    match SignatureFile::parse(data) {
        Ok(file) => {
            let text = check_emit(data, file.buffer_len(), |buf| file.emit(buf));
            let again = SignatureFile::parse(&text).expect("emitted signature does not parse");
            assert_eq!(again, file);
            let newlines = text.iter().filter(|&&b| b == b'\n').count();
            assert_eq!(newlines, if file.trusted.is_some() { 4 } else { 2 });
            // The first two lines alone are the signify signature.
            let signify_len = text
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .nth(1)
                .map(|(at, _)| at + 1)
                .expect("two lines");
            let signify = SignatureFile::parse(&text[..signify_len]).expect("signify part parses");
            assert_eq!((signify.comment, signify.signature), (file.comment, file.signature));
            assert!(signify.trusted.is_none());
        }
        Err(e) => check_error_place(data, &e),
    }
});
