//! `SecretKeyFile::parse` on any bytes: a key it accepts emits back to the same text and
//! parses again to the same key; a refusal names a place inside the input. An accepted key is
//! also opened as if stored without passphrase, and one that opens seals back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_core::limits::{MAX_KDF_ROUNDS, SECRET_KEY_LEN};
use nanolin_core::{SealedSecretKey, SecretKeyError, SecretKeyFile};
use nanolin_fuzz::{check_emit, check_error_place};

fuzz_target!(|data: &[u8]| {
    match SecretKeyFile::parse(data) {
        Ok(file) => {
            let text = check_emit(data, file.buffer_len(), |buf| file.emit(buf));
            let again = SecretKeyFile::parse(&text).expect("emitted secret key does not parse");
            assert!(again == file, "emitted secret key parses to another key");
            assert!(file.key.kdf_rounds <= MAX_KDF_ROUNDS);
            // Never prints key material.
            let debug = format!("{file:?}");
            assert!(debug.contains("SealedSecretKey"));

            let mask = [0u8; SECRET_KEY_LEN];
            match file.key.open(&mask) {
                Ok(secret) => {
                    let k = &file.key;
                    let resealed =
                        SealedSecretKey::seal(&secret, k.key_number, k.kdf_rounds, k.salt, &mask);
                    assert!(resealed == file.key, "an opened key does not seal back to itself");
                }
                Err(SecretKeyError::WrongPassphrase) => assert!(file.key.is_encrypted()),
                Err(SecretKeyError::ChecksumMismatch) => assert!(!file.key.is_encrypted()),
                Err(SecretKeyError::InconsistentKey) => {}
            }
        }
        Err(e) => check_error_place(data, &e),
    }
});
