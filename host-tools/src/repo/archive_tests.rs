use std::process::Command;

use super::*;

fn members() -> Vec<(String, Vec<u8>)> {
    vec![
        ("packages/a.rcp".into(), b"name=a\n".to_vec()),
        ("packages/b.rcp".into(), vec![b'x'; 513]),
        (
            format!("releases/{}/{}", "d".repeat(90), "n".repeat(60)),
            Vec::new(),
        ),
    ]
}

#[test]
fn header_fields_and_checksum() {
    let h = header("packages/a.rcp", 7, 1_700_000_000).unwrap();
    assert_eq!(&h[..15], b"packages/a.rcp\0");
    assert_eq!(&h[100..108], b"0000644\0");
    assert_eq!(&h[108..116], b"0000000\0");
    assert_eq!(&h[116..124], b"0000000\0");
    assert_eq!(&h[124..136], b"00000000007\0");
    assert_eq!(&h[136..148], format!("{:011o}\0", 1_700_000_000).as_bytes());
    assert_eq!(h[156], b'0');
    assert_eq!(&h[257..265], b"ustar\x0000");
    // The checksum: the sum of the header's bytes with the field as spaces.
    let mut blank = h;
    blank[148..156].fill(b' ');
    let sum: u32 = blank.iter().map(|&b| u32::from(b)).sum();
    assert_eq!(&h[148..156], format!("{sum:06o}\0 ").as_bytes());
}

#[test]
fn long_paths_use_the_prefix_and_too_long_ones_are_refused() {
    let path = format!("releases/{}/{}", "d".repeat(90), "n".repeat(60));
    let h = header(&path, 0, 0).unwrap();
    assert_eq!(&h[..61], format!("{}\0", "n".repeat(60)).as_bytes());
    assert_eq!(
        &h[345..345 + 100],
        format!("releases/{}\0", "d".repeat(90)).as_bytes()
    );
    assert!(header(&"n".repeat(101), 0, 0).is_err());
    assert!(header(&format!("a/{}", "n".repeat(101)), 0, 0).is_err());
}

#[test]
fn blocks_and_records() {
    let stream = tar(&members(), 0).unwrap();
    // Three headers, 1 + 2 + 0 data blocks, two end blocks: 8 blocks in one record.
    assert_eq!(stream.len(), RECORD_LEN);
    assert!(stream[6 * BLOCK_LEN..].iter().all(|&b| b == 0));
    assert_eq!(tar(&[], 0).unwrap(), vec![0u8; RECORD_LEN]);
}

/// GNU tar reads the stream back: names, sizes, owner, mode, time, contents.
#[test]
fn tar_lists_and_extracts_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.tgz");
    write_tgz(&out, &members(), 1_700_000_000).unwrap();
    let listing = Command::new("tar")
        .args(["--numeric-owner", "--utc", "-tvzf"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(listing.status.success());
    let listing = String::from_utf8(listing.stdout).unwrap();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    assert!(
        lines[0].starts_with("-rw-r--r-- 0/0")
            && lines[0].contains(" 7 2023-11-14 22:13")
            && lines[0].ends_with(" packages/a.rcp"),
        "{listing}"
    );
    assert!(lines[2].ends_with(&"n".repeat(60)), "{listing}");
    let contents = Command::new("tar")
        .args(["-xOzf"])
        .arg(&out)
        .arg("packages/b.rcp")
        .output()
        .unwrap();
    assert_eq!(contents.stdout, vec![b'x'; 513]);
    // gzip -n: no name, no time in the header.
    let bytes = fs::read(&out).unwrap();
    assert_eq!(&bytes[..4], &[0x1f, 0x8b, 8, 0]);
    assert_eq!(&bytes[4..8], &[0, 0, 0, 0]);
    // The same members give the same bytes.
    let again = dir.path().join("y.tgz");
    write_tgz(&again, &members(), 1_700_000_000).unwrap();
    assert_eq!(fs::read(&again).unwrap(), bytes);
    assert_eq!(
        fs::metadata(&out).unwrap().permissions().mode() & 0o777,
        0o644
    );
}
