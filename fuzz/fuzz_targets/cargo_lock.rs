//! Any bytes as a `Cargo.lock`: reading never panics, an error names a line of the text, and
//! every crate read has a safe name and version (they become file names and URL parts).
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_host::cargo_lock::locked_crates;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match locked_crates(text) {
        Ok(crates) => {
            for krate in crates {
                for part in [&krate.name, &krate.version] {
                    assert!(!part.is_empty() && !part.starts_with('.'));
                    assert!(!part.contains(['/', '\\', '\0']));
                }
                assert!(krate.url().starts_with("https://static.crates.io/crates/"));
            }
        }
        Err(e) => {
            assert!(e.line >= 1 && e.line <= text.lines().count().max(1), "{e}");
        }
    }
});
