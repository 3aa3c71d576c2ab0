//! Any bytes as a distro file: reading never panics, and every error names a place inside the
//! text.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nanolin_host::distro::Distro;

fuzz_target!(|data: &[u8]| {
    match Distro::parse(Path::new("fuzz.rcp"), data) {
        Ok(distro) => assert!(!distro.packages.is_empty()),
        Err(e) => {
            let place = e.place().expect("a parse error has a place");
            let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
            assert!(place.position.line >= 1 && place.position.line as usize <= lines + 1);
            assert!(e.to_string().starts_with("fuzz.rcp:"), "{e}");
        }
    }
});
