//! Unit tests of `disk_ranges`, on literal text.

use std::string::String;
use std::vec::Vec;

use super::*;

const SHA_A: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn sha_a() -> [u8; 32] {
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = [
            0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd,
            0xee, 0xff,
        ][i % 16];
    }
    out
}

fn text(ranges: &str) -> String {
    std::format!(
        "# a comment\n\nnanolin-disk-ranges 1\nimage_size 10000\nblock_size 4096\n{ranges}"
    )
}

fn fault(text: &str) -> (usize, Fault) {
    match DiskRanges::parse(text) {
        Err(DiskRangesError::Line { line, fault }) => (line, fault),
        other => panic!("expected a line fault, got {other:?}"),
    }
}

#[test]
fn a_file_parses_into_its_header_and_ranges() {
    let t = text(&std::format!(
        "blocks 0 1 {SHA_A} nanolin/disk.blocks 0\n# between\nzeros 1 1\nblocks 2 1 {SHA_A} efi.img 8192\n"
    ));
    let r = DiskRanges::parse(&t).unwrap();
    assert_eq!(
        r.header(),
        Header {
            image_size: 10000,
            block_size: 4096
        }
    );
    assert_eq!(r.header().blocks_count(), 3);
    assert_eq!(r.len(), 3);
    assert!(!r.is_empty());
    // The last block is partial: 10000 - 8192 bytes.
    assert_eq!(r.written_bytes(), 10000);
    let all: Vec<Range> = r.ranges().collect();
    assert_eq!(
        all[0],
        Range {
            first_block: 0,
            block_count: 1,
            source: Source::File {
                path: "nanolin/disk.blocks",
                offset: 0,
                sha256: sha_a()
            }
        }
    );
    assert_eq!(all[1].source, Source::Zeros);
    assert_eq!(all[2].disk_offset(&r.header()), 8192);
    assert_eq!(all[2].len(&r.header()), 10000 - 8192);
    assert!(matches!(
        all[2].source,
        Source::File {
            path: "efi.img",
            offset: 8192,
            ..
        }
    ));
}

#[test]
fn emit_writes_what_parse_reads() {
    let header = Header {
        image_size: 1 << 30,
        block_size: 4096,
    };
    let ranges = [
        Range {
            first_block: 0,
            block_count: 5,
            source: Source::File {
                path: "nanolin/disk.blocks",
                offset: 0,
                sha256: sha_a(),
            },
        },
        Range {
            first_block: 256,
            block_count: 1000,
            source: Source::Zeros,
        },
    ];
    let mut out = String::new();
    emit(&mut out, "line one\nline two", &header, ranges).unwrap();
    assert!(out.starts_with("# line one\n# line two\nnanolin-disk-ranges 1\n"));
    assert!(out.contains(&std::format!("blocks 0 5 {SHA_A} nanolin/disk.blocks 0\n")));
    assert!(out.ends_with("zeros 256 1000\n"));
    let parsed = DiskRanges::parse(&out).unwrap();
    assert_eq!(parsed.header(), header);
    assert!(parsed.ranges().eq(ranges));
    assert_eq!(parsed.written_bytes(), 1005 * 4096);
}

#[test]
fn the_format_line_and_header_come_first_in_order() {
    assert_eq!(fault(""), (1, Fault::NotFormatLine));
    assert_eq!(fault("nanolin-disk-ranges 2\n"), (1, Fault::NotFormatLine));
    assert_eq!(fault("# c\nimage_size 1\n"), (2, Fault::NotFormatLine));
    assert_eq!(
        fault("nanolin-disk-ranges 1\nblock_size 4096\n"),
        (2, Fault::Expected("image_size"))
    );
    assert_eq!(
        fault("nanolin-disk-ranges 1\nimage_size 1\n"),
        (3, Fault::Expected("block_size"))
    );
    assert_eq!(
        fault("nanolin-disk-ranges 1\nimage_size 0\nblock_size 4096\nzeros 0 1\n"),
        (2, Fault::EmptyImage)
    );
    for bad in ["256", "4097", "2097152", "99999999999"] {
        let t = std::format!("nanolin-disk-ranges 1\nimage_size 1\nblock_size {bad}\nzeros 0 1\n");
        assert_eq!(fault(&t), (3, Fault::BadBlockSize), "{bad}");
    }
    assert_eq!(
        fault("nanolin-disk-ranges 1\nimage_size -1\nblock_size 4096\n"),
        (2, Fault::BadNumber("image_size"))
    );
    assert_eq!(
        fault("nanolin-disk-ranges 1\nimage_size 1 2\nblock_size 4096\n"),
        (2, Fault::ExtraField)
    );
    // Tabs, spaces and carriage returns around fields are fine.
    let t = "nanolin-disk-ranges\t1\r\n  image_size 4096\nblock_size\t4096 \nzeros 0 1\n";
    assert_eq!(DiskRanges::parse(t).unwrap().written_bytes(), 4096);
    assert_eq!(
        DiskRanges::parse("nanolin-disk-ranges 1\nimage_size 1\nblock_size 4096\n"),
        Err(DiskRangesError::NoRanges)
    );
}

#[test]
fn every_range_fault_names_its_line() {
    let cases: [(String, Fault); 13] = [
        ("copy 0 1".into(), Fault::UnknownKeyword),
        ("zeros 0".into(), Fault::MissingField("BLOCK_COUNT")),
        ("zeros x 1".into(), Fault::BadNumber("FIRST_BLOCK")),
        ("zeros 0 +1".into(), Fault::BadNumber("BLOCK_COUNT")),
        ("zeros 0 0".into(), Fault::EmptyRange),
        ("zeros 0 4".into(), Fault::PastEnd),
        ("zeros 18446744073709551615 2".into(), Fault::PastEnd),
        ("zeros 0 1 extra".into(), Fault::ExtraField),
        ("blocks 0 1".into(), Fault::MissingField("SHA256")),
        (
            std::format!("blocks 0 1 {}", SHA_A.to_uppercase()),
            Fault::BadSha256,
        ),
        (
            std::format!("blocks 0 1 {SHA_A}"),
            Fault::MissingField("FILE"),
        ),
        (
            std::format!("blocks 0 1 {SHA_A} f"),
            Fault::MissingField("OFFSET"),
        ),
        (
            std::format!("blocks 0 1 {SHA_A} f 18446744073709551615"),
            Fault::OffsetOverflow,
        ),
    ];
    for (line, expected) in cases {
        assert_eq!(fault(&text(&line)), (6, expected), "{line}");
    }
    assert_eq!(
        fault(&text(&std::format!("blocks 0 1 {}g f 0", &SHA_A[1..]))).1,
        Fault::BadSha256
    );
    assert_eq!(
        fault(&text(&std::format!("blocks 0 1 {} f 0", &SHA_A[1..]))).1,
        Fault::BadSha256
    );
    // In order, not overlapping (touching is fine).
    assert_eq!(fault(&text("zeros 1 1\nzeros 0 1\n")), (7, Fault::Overlap));
    assert_eq!(fault(&text("zeros 0 2\nzeros 1 1\n")), (7, Fault::Overlap));
    assert!(DiskRanges::parse(&text("zeros 0 1\nzeros 1 2\n")).is_ok());
}

#[test]
fn paths_are_plain_and_relative() {
    for good in ["efi.img", "nanolin/disk.blocks", "a/b-c_d+e.f"] {
        assert!(is_plain_path(good), "{good}");
        let t = text(&std::format!("blocks 0 1 {SHA_A} {good} 0"));
        assert!(DiskRanges::parse(&t).is_ok(), "{good}");
    }
    let long = "a".repeat(DISK_RANGES_PATH_MAX_LEN + 1);
    for bad in [
        "", "/efi.img", "a//b", "a/", "./a", "a/../b", "..", "a b", "é", "a\\b", &long,
    ] {
        assert!(!is_plain_path(bad), "{bad}");
    }
    let t = text(&std::format!("blocks 0 1 {SHA_A} ../etc/shadow 0"));
    assert_eq!(fault(&t), (6, Fault::BadPath));
}

#[test]
fn too_long_a_file_is_refused_before_reading() {
    let t = "#".repeat(DISK_RANGES_MAX_LEN + 1);
    assert_eq!(
        DiskRanges::parse(&t),
        Err(DiskRangesError::TooLong { len: t.len() })
    );
}

#[test]
fn errors_say_what_is_wrong() {
    let e = DiskRanges::parse(&text("zeros 0 9")).unwrap_err();
    assert_eq!(std::format!("{e}"), "line 6: the range ends past the image");
    let e = DiskRanges::parse("nanolin-disk-ranges 3").unwrap_err();
    assert_eq!(
        std::format!("{e}"),
        "line 1: the first line is not \"nanolin-disk-ranges 1\""
    );
}
