//! The installer's ranges on a small literal image: which blocks become zeros, placed-file or
//! stored ranges, and that applying the ranges the way the installer does writes the image's
//! mapped blocks byte for byte.

use std::fs;
use std::path::PathBuf;

use super::*;

const BS: u64 = BLOCK_SIZE;
const IMAGE: u64 = 2048 * BS;
/// Where the placed "root" content starts, in blocks.
const ROOT_AT: u64 = 256;

/// The root content: 600 blocks and 100 bytes; blocks 100..400 zero (a long run), blocks
/// 500..510 zero (a short one), the rest non-zero.
fn root_bytes() -> Vec<u8> {
    let mut bytes = Vec::new();
    for i in 0..600u64 {
        let fill = if (100..400).contains(&i) || (500..510).contains(&i) {
            0
        } else {
            (i % 250) as u8 + 1
        };
        bytes.extend(std::iter::repeat_n(fill, BS as usize));
    }
    bytes.extend(std::iter::repeat_n(0x77, 100));
    bytes
}

/// The image (tables at block 0..3 and the last block, root at [`ROOT_AT`]), its block map,
/// and the root file.
fn fixture(dir: &Path) -> (PathBuf, BlockMap, PathBuf) {
    let mut image = vec![0u8; IMAGE as usize];
    image[..3 * BS as usize].fill(0x11);
    let root = root_bytes();
    let at = (ROOT_AT * BS) as usize;
    image[at..at + root.len()].copy_from_slice(&root);
    let last = ((IMAGE - BS) as usize)..IMAGE as usize;
    image[last].fill(0x22);
    let image_path = dir.join("disk.img");
    fs::write(&image_path, &image).unwrap();
    let root_path = dir.join("root.img");
    fs::write(&root_path, &root).unwrap();
    let mut map = BlockMap::new(IMAGE);
    map.add(0, 3 * BS);
    map.add(ROOT_AT * BS, root.len() as u64);
    map.add(IMAGE - BS, BS);
    (image_path, map, root_path)
}

/// What the installer does with the ranges: each range's bytes from its file of the medium
/// (checked against its SHA-256) or zeros, written at its place on a target full of 0xA5.
fn apply(text: &str, medium: &Path) -> Vec<u8> {
    let ranges = DiskRanges::parse(text).unwrap();
    let header = ranges.header();
    let mut target = vec![0xa5u8; header.image_size as usize];
    for range in ranges.ranges() {
        let (at, len) = (
            range.disk_offset(&header) as usize,
            range.len(&header) as usize,
        );
        match range.source {
            Source::Zeros => target[at..at + len].fill(0),
            Source::File {
                path,
                offset,
                sha256,
            } => {
                let file = fs::read(medium.join(path)).unwrap();
                let bytes = &file[offset as usize..offset as usize + len];
                assert_eq!(<[u8; 32]>::from(Sha256::digest(bytes)), sha256, "{path}");
                target[at..at + len].copy_from_slice(bytes);
            }
        }
    }
    target
}

#[test]
fn applied_ranges_write_the_mapped_blocks_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (image, map, root) = fixture(d);
    let medium = d.join("medium");
    fs::create_dir_all(medium.join("nanolin")).unwrap();
    fs::copy(&root, medium.join("nanolin/rootfs.img")).unwrap();
    let info = write_install_ranges(
        &image,
        &map,
        &[Placed {
            medium_path: "nanolin/rootfs.img",
            file: &root,
            disk_offset: ROOT_AT * BS,
        }],
        "test image",
        &medium.join(RANGES_FILE),
        &medium.join(BLOCKS_FILE),
    )
    .unwrap();
    // Tables (3 blocks), the root's partial last block and the image's last block are stored;
    // the 300 zero blocks are zeros; the rest of root, short zero run included, is read from it.
    assert_eq!(info.stored, 5 * BS);
    assert_eq!(info.zeros, 300 * BS);
    assert_eq!(info.from_files, 300 * BS);
    assert_eq!(info.written, map.mapped_count() * BS);
    assert_eq!(
        fs::metadata(medium.join(BLOCKS_FILE)).unwrap().len(),
        5 * BS
    );
    let text = fs::read_to_string(medium.join(RANGES_FILE)).unwrap();
    assert!(
        text.starts_with("# test image\nnanolin-disk-ranges 1\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!("zeros {} 300\n", ROOT_AT + 100)),
        "{text}"
    );
    assert_eq!(info.ranges, DiskRanges::parse(&text).unwrap().len());
    // blocks 0-2 stored; root 0-99 file, 100-399 zeros, 400-599 file; root's last block
    // stored; the image's last block stored (not touching: its own range).
    assert_eq!(info.ranges, 6, "{text}");

    let written = apply(&text, &medium);
    let original = fs::read(&image).unwrap();
    for block in 0..IMAGE / BS {
        let r = (block * BS) as usize..((block + 1) * BS) as usize;
        let mapped = map.ranges().iter().any(|&(a, b)| (a..=b).contains(&block));
        if mapped {
            assert!(written[r.clone()] == original[r], "block {block} differs");
        } else {
            assert!(
                written[r].iter().all(|&b| b == 0xa5),
                "block {block} written"
            );
        }
    }
}

#[test]
fn without_placed_files_every_non_zero_block_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (image, map, _) = fixture(d);
    let info = write_install_ranges(
        &image,
        &map,
        &[],
        "",
        &d.join("disk.ranges"),
        &d.join("disk.blocks"),
    )
    .unwrap();
    assert_eq!(info.from_files, 0);
    assert_eq!(info.zeros, 300 * BS);
    assert_eq!(info.stored, info.written - info.zeros);
}

#[test]
fn a_placed_file_that_is_not_on_the_image_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (image, map, root) = fixture(d);
    let mut other = fs::read(&root).unwrap();
    other[5] ^= 1;
    let other_path = d.join("other.img");
    fs::write(&other_path, other).unwrap();
    let e = write_install_ranges(
        &image,
        &map,
        &[Placed {
            medium_path: "nanolin/rootfs.img",
            file: &other_path,
            disk_offset: ROOT_AT * BS,
        }],
        "",
        &d.join("disk.ranges"),
        &d.join("disk.blocks"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("other.img") && e.contains("differ from the disk image"),
        "{e}"
    );
    // Nothing left behind.
    assert!(!d.join("disk.ranges").exists() && !d.join("disk.blocks").exists());
}

#[test]
fn a_map_of_another_image_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (image, _, _) = fixture(d);
    let e = write_install_ranges(
        &image,
        &BlockMap::new(IMAGE + BS),
        &[],
        "",
        &d.join("disk.ranges"),
        &d.join("disk.blocks"),
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("block map describes"), "{e}");
}
