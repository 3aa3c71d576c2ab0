//! The image writer on small literal contents: where bytes land, which blocks stay holes, what
//! the block map holds, and the refusals.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::super::gpt::{part_type, Partition};
use super::super::Guid;
use super::*;

const DISK: u64 = 16 << 20;

fn part(name: &str, type_guid: Guid, start_sector: u64, size_sectors: u64) -> Partition {
    Partition {
        name: name.to_string(),
        type_guid,
        start_sector,
        size_sectors,
        attributes: 0,
    }
}

/// 16 MiB: boot at 1 MiB (4 MiB), root-a at 5 MiB (4 MiB), data at 9 MiB (4 MiB).
fn gpt() -> Gpt {
    Gpt::new(
        DISK,
        "image test",
        vec![
            part("boot", part_type::EFI_SYSTEM, 2048, 8192),
            part("root-a", part_type::ROOT_AARCH64, 10240, 8192),
            part("data", part_type::LINUX_DATA, 18432, 8192),
        ],
    )
    .unwrap()
}

/// A content file of `blocks` 4 KiB blocks, block `i` filled with `fill(i)`, then `tail`.
fn content(
    dir: &Path,
    name: &str,
    blocks: usize,
    fill: impl Fn(usize) -> u8,
    tail: &[u8],
) -> PathBuf {
    let mut bytes = Vec::new();
    for i in 0..blocks {
        bytes.extend(std::iter::repeat_n(fill(i), 4096));
    }
    bytes.extend_from_slice(tail);
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    path
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn contents_land_at_their_partitions_and_zero_blocks_stay_holes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // boot: blocks 0 and 2 written, 1 and 3 zero, then 10 bytes.
    let boot = content(
        d,
        "boot",
        4,
        |i| if i % 2 == 0 { 0xb0 } else { 0 },
        b"0123456789",
    );
    // root-a: 3 blocks of data, zero block, data block.
    let root = content(d, "root", 5, |i| if i == 3 { 0 } else { i as u8 + 1 }, b"");
    // data: all zero but its last block.
    let data = content(d, "data", 3, |i| if i == 2 { 0xda } else { 0 }, b"");
    let out = d.join("disk.img");
    let gpt = gpt();
    let map = write_image(
        &gpt,
        &[
            Content {
                partition: "data",
                file: &data,
                mapping: Mapping::Data,
            },
            Content {
                partition: "boot",
                file: &boot,
                mapping: Mapping::Data,
            },
            Content {
                partition: "root-a",
                file: &root,
                mapping: Mapping::Full,
            },
        ],
        &out,
    )
    .unwrap();

    let image = fs::read(&out).unwrap();
    assert_eq!(image.len() as u64, DISK);
    assert_eq!(&image[..34 * 512], gpt.primary().as_slice());
    assert_eq!(
        &image[gpt.backup_offset() as usize..],
        gpt.backup().as_slice()
    );
    let at = |sector: usize| sector * 512;
    assert_eq!(
        &image[at(2048)..at(2048) + 4 * 4096 + 10],
        fs::read(&boot).unwrap()
    );
    assert_eq!(
        &image[at(10240)..at(10240) + 5 * 4096],
        fs::read(&root).unwrap()
    );
    assert_eq!(
        &image[at(18432)..at(18432) + 3 * 4096],
        fs::read(&data).unwrap()
    );

    // Blocks: tables 0..=4 and 4091..=4095; boot at 256 (data: 256, 258, 260);
    // root-a at 1280 (full: 1280..=1284); data at 2304 (data: 2306).
    assert_eq!(
        map.ranges(),
        &[
            (0, 4),
            (256, 256),
            (258, 258),
            (260, 260),
            (1280, 1284),
            (2306, 2306),
            (4091, 4095)
        ]
    );
    assert_eq!(map.image_size(), DISK);

    // Written: 5 + 3 + 4 (root-a's zero block is a hole too) + 1 + 4 blocks = 68 KiB; the
    // file system may round up, but nowhere near 16 MiB.
    let allocated = fs::metadata(&out).unwrap().blocks() * 512;
    assert!(allocated < 1 << 20, "{allocated} bytes allocated");
    assert_eq!(listing(d), ["boot", "data", "disk.img", "root"]);
}

#[test]
fn a_disk_without_contents_is_its_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("disk.img");
    let map = write_image(&gpt(), &[], &out).unwrap();
    assert_eq!(map.ranges(), &[(0, 4), (4091, 4095)]);
    assert_eq!(fs::metadata(&out).unwrap().len(), DISK);
}

#[test]
fn a_content_as_large_as_its_partition_fits() {
    let dir = tempfile::tempdir().unwrap();
    let full = content(dir.path(), "full", 1024, |_| 0x55, b"");
    let out = dir.path().join("disk.img");
    let map = write_image(
        &gpt(),
        &[Content {
            partition: "data",
            file: &full,
            mapping: Mapping::Data,
        }],
        &out,
    )
    .unwrap();
    assert_eq!(map.ranges(), &[(0, 4), (2304, 3327), (4091, 4095)]);
}

#[test]
fn refuses_a_content_larger_than_its_partition_naming_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let big = content(dir.path(), "big", 1024, |_| 1, b"!");
    let out = dir.path().join("disk.img");
    let err = write_image(
        &gpt(),
        &[Content {
            partition: "boot",
            file: &big,
            mapping: Mapping::Full,
        }],
        &out,
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            DiskError::ContentTooLarge { partition, content_size: 4194305, partition_size: 4194304, .. }
                if partition == "boot"
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("4194305 bytes") && text.contains("4194304 bytes"),
        "{text}"
    );
    assert_eq!(err.status(), crate::Status::No);
    assert_eq!(listing(dir.path()), ["big"], "nothing written");
}

#[test]
fn refuses_unknown_partitions_and_two_contents_for_one() {
    let dir = tempfile::tempdir().unwrap();
    let small = content(dir.path(), "small", 1, |_| 1, b"");
    let out = dir.path().join("disk.img");
    let one = Content {
        partition: "boot",
        file: &small,
        mapping: Mapping::Full,
    };
    let err = write_image(
        &gpt(),
        &[Content {
            partition: "root-b",
            ..one
        }],
        &out,
    )
    .unwrap_err();
    assert!(
        matches!(&err, DiskError::UnknownPartition { name } if name == "root-b"),
        "{err:?}"
    );
    let err = write_image(&gpt(), &[one, one], &out).unwrap_err();
    assert!(
        matches!(&err, DiskError::ContentTwice { name } if name == "boot"),
        "{err:?}"
    );
    let missing = dir.path().join("missing");
    let err = write_image(
        &gpt(),
        &[Content {
            file: &missing,
            ..one
        }],
        &out,
    )
    .unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    assert_eq!(listing(dir.path()), ["small"], "nothing written");
}

#[test]
fn zero_blocks_are_found() {
    assert!(is_zero(&[0; 4096]));
    assert!(is_zero(&[0; 13]));
    assert!(is_zero(&[]));
    for at in [0, 7, 8, 4095] {
        let mut block = [0u8; 4096];
        block[at] = 1;
        assert!(!is_zero(&block), "{at}");
    }
    let mut odd = [0u8; 13];
    odd[12] = 1;
    assert!(!is_zero(&odd));
}
