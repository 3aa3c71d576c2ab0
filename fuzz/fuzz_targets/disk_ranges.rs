//! Any text as the installer's ranges file (`nanolin/disk.ranges`), and any bytes as an
//! ISO 9660 primary volume descriptor: parsing never panics; a file it accepts has its ranges
//! in order, inside the image, with plain paths, adding up to what it says it writes, and
//! re-emits to a file that parses to the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_core::disk_ranges::{emit, is_plain_path, DiskRanges, Source};

fuzz_target!(|data: &[u8]| {
    let _ = nanolin_core::medium::volume_id(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ranges = match DiskRanges::parse(text) {
        Ok(ranges) => ranges,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let header = ranges.header();
    let mut next = 0u64;
    let mut written = 0u64;
    let mut count = 0;
    for range in ranges.ranges() {
        assert!(range.first_block >= next && range.block_count > 0);
        next = range.first_block + range.block_count;
        assert!(next <= header.blocks_count());
        assert!(!range.is_empty(&header));
        written += range.len(&header);
        count += 1;
        if let Source::File { path, offset, .. } = range.source {
            assert!(is_plain_path(path));
            assert!(offset.checked_add(range.len(&header)).is_some());
        }
    }
    assert_eq!(count, ranges.len());
    assert_eq!(written, ranges.written_bytes());
    let mut again = String::new();
    emit(&mut again, "fuzz", &header, ranges.ranges()).expect("a String takes any text");
    let reparsed = DiskRanges::parse(&again).expect("an emitted file parses");
    assert_eq!(reparsed.header(), header);
    assert!(reparsed.ranges().eq(ranges.ranges()));
});
