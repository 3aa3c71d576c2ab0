//! The `.bmap` text against files `bmaptool create` (bmap-tools 3.6) wrote, and the block
//! map's bookkeeping. `tests/tests/disk_image.rs` has `bmaptool copy` read what we write.

use std::fs;

use super::*;

/// `bmaptool create` of a 10000-byte file: 100 bytes of `x` at 0, a hole, 1808 bytes of `y`
/// at 8192 (its last, partial block).
const SMALL_BMAP: &str = r#"<?xml version="1.0" ?>
<!-- This file contains the block map for an image file, which is basically
     a list of useful (mapped) block numbers in the image file. In other words,
     it lists only those blocks which contain data (boot sector, partition
     table, file-system metadata, files, directories, extents, etc). These
     blocks have to be copied to the target device. The other blocks do not
     contain any useful data and do not have to be copied to the target
     device.

     The block map an optimization which allows to copy or flash the image to
     the image quicker than copying of flashing the entire image. This is
     because with bmap less data is copied: <MappedBlocksCount> blocks instead
     of <BlocksCount> blocks.

     Besides the machine-readable data, this file contains useful commentaries
     which contain human-readable information like image size, percentage of
     mapped data, etc.

     The 'version' attribute is the block map file format version in the
     'major.minor' format. The version major number is increased whenever an
     incompatible block map format change is made. The minor number changes
     in case of minor backward-compatible changes. -->

<bmap version="2.0">
    <!-- Image size in bytes: 9.8 KiB -->
    <ImageSize> 10000 </ImageSize>

    <!-- Size of a block in bytes -->
    <BlockSize> 4096 </BlockSize>

    <!-- Count of blocks in the image file -->
    <BlocksCount> 3 </BlocksCount>

    <!-- Count of mapped blocks: 8.0 KiB or 66.7%    -->
    <MappedBlocksCount> 2 </MappedBlocksCount>

    <!-- Type of checksum used in this file -->
    <ChecksumType> sha256 </ChecksumType>

    <!-- The checksum of this bmap file. When it is calculated, the value of
         the checksum has be zero (all ASCII "0" symbols).  -->
    <BmapFileChecksum> 275707873b4501ffb7b6a77f8263995dfca1c420e7ac38cddeef54024405a4f8 </BmapFileChecksum>

    <!-- The block map which consists of elements which may either be a
         range of blocks or a single block. The 'chksum' attribute
         (if present) is the checksum of this blocks range. -->
    <BlockMap>
        <Range chksum="19037fd375e28dc764710bed5f625cd0de77efcc891e6d74b1e25e4bc28ce250"> 0 </Range>
        <Range chksum="6c41cfa7dd9e74378ccfdf10f4950ed34934bdb184d4e01bf1bed7b31b805133"> 2 </Range>
    </BlockMap>
</bmap>
"#;

fn small_image(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("small.img");
    let mut bytes = vec![0u8; 10000];
    bytes[..100].fill(b'x');
    bytes[8192..].fill(b'y');
    fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn writes_what_bmaptool_create_writes() {
    let dir = tempfile::tempdir().unwrap();
    let image = small_image(dir.path());
    let mut map = BlockMap::new(10000);
    map.add(0, 100);
    map.add(8192, 1808);
    let out = dir.path().join("small.bmap");
    write_bmap(&image, &map, &out).unwrap();
    assert_eq!(fs::read_to_string(&out).unwrap(), SMALL_BMAP);
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        left,
        ["small.bmap", "small.img"],
        "temporary files left behind"
    );
}

#[test]
fn the_mapped_size_comment_runs_into_its_blanks_as_bmaptool_s_does() {
    // `bmaptool create` of a 1 MiB file with its first 255 blocks written: the comment
    // "1020.0 KiB or 99.6%" is longer than the blanks left for it ("1.0 MiB" long).
    let mut map = BlockMap::new(1 << 20);
    map.add(0, 255 * 4096);
    let sum: [u8; 32] = Sha256::digest(vec![7u8; 255 * 4096]).into();
    let xml = render(&map, &[sum]);
    assert!(
        xml.contains("    <!-- Count of mapped blocks: 1020.0 KiB or 99.6% -->\n"),
        "{xml}"
    );
    assert!(xml.contains(
        "<BmapFileChecksum> 78f2add1f7f64510ae1c46385330e97f52640d71f5757c6fa97336e868c049ab </BmapFileChecksum>"
    ));
    assert!(xml.contains(
        "<Range chksum=\"32df3fdd72ff8956ecf85da07b6f2e2614536f5d536db5a1f00a5fc738f4147d\"> 0-254 </Range>"
    ));
}

#[test]
fn refuses_an_image_of_another_size() {
    let dir = tempfile::tempdir().unwrap();
    let image = small_image(dir.path());
    let map = BlockMap::new(12288);
    let err = write_bmap(&image, &map, &dir.path().join("x.bmap")).unwrap_err();
    assert!(err.to_string().contains("12288-byte image"), "{err}");
    assert!(!dir.path().join("x.bmap").exists());
}

#[test]
fn block_map_merges_and_counts() {
    let mut map = BlockMap::new(10 * 4096 + 1);
    assert_eq!(map.blocks_count(), 11);
    map.add(0, 1);
    map.add(4095, 2); // blocks 0 and 1
    map.add(3 * 4096, 4096); // block 3
    map.add(4 * 4096, 1); // block 4: touches 3
    map.add(2 * 4096, 0); // nothing
    assert_eq!(map.ranges(), &[(0, 1), (3, 4)]);
    map.add(8 * 4096, 1);
    map.add(6 * 4096, 1); // out of order
    map.add(2 * 4096, 10); // fills the gap between 1 and 3
    assert_eq!(map.ranges(), &[(0, 4), (6, 6), (8, 8)]);
    map.add(10 * 4096, 100); // past the end: clamped to the last, partial block
    map.add(11 * 4096, 100); // wholly past the end: ignored
    assert_eq!(map.ranges(), &[(0, 4), (6, 6), (8, 8), (10, 10)]);
    assert_eq!(map.mapped_count(), 8);
    map.add(0, u64::MAX);
    assert_eq!(map.ranges(), &[(0, 10)]);
}

#[test]
fn sizes_read_as_bmap_tools_writes_them() {
    for (size, text) in [
        (0, "0 bytes"),
        (1, "1 byte"),
        (511, "511 bytes"),
        (512, "0.5 KiB"),
        (10000, "9.8 KiB"),
        (64 << 20, "64.0 MiB"),
        ((1 << 30) - 1, "1024.0 MiB"),
        (3 << 40, "3.0 TiB"),
        (1 << 50, "1024.0 EiB"),
    ] {
        assert_eq!(human_size(size), text, "{size}");
    }
}
