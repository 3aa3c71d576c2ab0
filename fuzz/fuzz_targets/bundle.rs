//! A bundle's header and manifest of any content, and release version texts: parsing never
//! panics, and a manifest it accepts re-emits to bytes that parse to the same manifest, whose
//! layout arithmetic stays inside the payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_core::bundle::{BundleHeader, Manifest};
use nanolin_core::version::ReleaseVersion;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = BundleHeader::parse(data) {
        assert_eq!(BundleHeader::parse(&header.emit()), Ok(header));
    }
    if let Ok(text) = core::str::from_utf8(data) {
        if let Ok(v) = ReleaseVersion::parse(text) {
            assert_eq!(v.text().as_str(), text);
        }
    }
    let Ok(manifest) = Manifest::parse(data) else { return };
    let mut buf = vec![0u8; data.len() + 64];
    let len = manifest.emit(&mut buf).expect("an accepted manifest re-emits");
    assert_eq!(Manifest::parse(&buf[..len]).as_ref(), Ok(&manifest));
    let payload = manifest.payload_len();
    for image in manifest.images() {
        let mut covered = 0;
        for index in 0..image.block_count().min(64) {
            let block = image.block(index).expect("every block index below the count exists");
            assert!(block.data_offset() + block.data_len <= payload);
            assert!(image.block_hash(index).is_some());
            covered += block.data_len;
        }
        if image.block_count() <= 64 {
            assert_eq!(covered, image.size);
        }
    }
});
