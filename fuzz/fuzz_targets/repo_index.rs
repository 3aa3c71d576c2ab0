//! Any text as a repository index: reading never panics, errors name a line or the key that is
//! missing, and what is read writes back to text that reads the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_host::repo::index::Index;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match Index::parse(text) {
        Ok(index) => {
            let again = Index::parse(&index.to_text()).expect("an index's own text reads");
            assert_eq!(again, index);
        }
        Err(e) => assert!(
            e.starts_with("line ") || e.starts_with("format=") || e.ends_with("= is missing"),
            "{e}"
        ),
    }
});
