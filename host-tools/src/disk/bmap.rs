//! The `.bmap` file of an image: which 4 KiB blocks `bmaptool copy` must write, each range
//! with its SHA-256, so flashing skips the rest and checks what it writes.
//!
//! The format is bmap-tools' version 2.0 (`bmaptools/BmapCreate.py`), written here byte for
//! byte as `bmaptool create` writes it, comments included: for an image whose allocated
//! blocks are exactly its mapped blocks, `bmaptool create` gives the same file. In particular:
//!
//! - `ImageSize` is the image's size in bytes, `BlockSize` 4096, `BlocksCount` the blocks it
//!   takes (the last may be partial), `MappedBlocksCount` how many the ranges cover.
//! - Each `<Range chksum="…"> FIRST-LAST </Range>` (or `> BLOCK </Range>` for one block) is an
//!   inclusive range of block numbers; `chksum` is the SHA-256 of its bytes in the image (for
//!   the last block of the image, only the bytes that exist).
//! - `BmapFileChecksum` is the SHA-256 of the whole file as written with that field holding
//!   64 ASCII zeros; `bmaptool` zeroes the field again to check it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{DiskError, Temporary};

/// Bytes per block of the block map (and of the image writer's hole detection).
pub const BLOCK_SIZE: u64 = 4096;

/// Which blocks of an image hold what must be written when it is flashed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockMap {
    image_size: u64,
    /// Inclusive block ranges, sorted, neither overlapping nor touching.
    ranges: Vec<(u64, u64)>,
}

impl BlockMap {
    /// The map of an image of `image_size` bytes with no block mapped.
    pub fn new(image_size: u64) -> BlockMap {
        BlockMap {
            image_size,
            ranges: Vec::new(),
        }
    }

    /// Marks every block holding a byte of `offset..offset + len` (bytes past the image's end
    /// are ignored).
    pub fn add(&mut self, offset: u64, len: u64) {
        let end = offset.saturating_add(len).min(self.image_size);
        if offset >= end {
            return;
        }
        let (first, last) = (offset / BLOCK_SIZE, (end - 1) / BLOCK_SIZE);
        match self.ranges.last_mut() {
            None => self.ranges.push((first, last)),
            // In order, as the image writer adds: extend or append.
            Some(tail) if first >= tail.0 => {
                if first <= tail.1 + 1 {
                    tail.1 = tail.1.max(last);
                } else {
                    self.ranges.push((first, last));
                }
            }
            Some(_) => {
                self.ranges.push((first, last));
                self.ranges.sort_unstable();
                let mut merged: Vec<(u64, u64)> = Vec::with_capacity(self.ranges.len());
                for &(a, b) in &self.ranges {
                    match merged.last_mut() {
                        Some(m) if a <= m.1 + 1 => m.1 = m.1.max(b),
                        _ => merged.push((a, b)),
                    }
                }
                self.ranges = merged;
            }
        }
    }

    /// The image's size in bytes.
    pub fn image_size(&self) -> u64 {
        self.image_size
    }

    /// How many blocks the image takes (the last may be partial).
    pub fn blocks_count(&self) -> u64 {
        self.image_size.div_ceil(BLOCK_SIZE)
    }

    /// How many blocks are mapped.
    pub fn mapped_count(&self) -> u64 {
        self.ranges.iter().map(|(a, b)| b - a + 1).sum()
    }

    /// The mapped blocks as inclusive ranges of block numbers, in order.
    pub fn ranges(&self) -> &[(u64, u64)] {
        &self.ranges
    }
}

/// Writes the `.bmap` of `image`, whose mapped blocks are `map`'s, to `out` (replaced only
/// once complete). Reads every mapped block of the image to checksum it.
pub fn write_bmap(image: &Path, map: &BlockMap, out: &Path) -> Result<(), DiskError> {
    let mut file = File::open(image).map_err(|e| DiskError::io("open", image, e))?;
    let size = file
        .metadata()
        .map_err(|e| DiskError::io("read", image, e))?
        .len();
    if size != map.image_size {
        let why = format!(
            "it is {size} bytes, but the block map describes a {}-byte image",
            map.image_size
        );
        return Err(DiskError::io(
            "map",
            image,
            io::Error::new(io::ErrorKind::InvalidData, why),
        ));
    }
    let mut sums = Vec::with_capacity(map.ranges.len());
    let mut buf = vec![0u8; 1 << 20];
    for &(first, last) in &map.ranges {
        let start = first * BLOCK_SIZE;
        let mut left = ((last + 1) * BLOCK_SIZE).min(size) - start;
        file.seek(SeekFrom::Start(start))
            .map_err(|e| DiskError::io("read", image, e))?;
        let mut hasher = Sha256::new();
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            file.read_exact(&mut buf[..n])
                .map_err(|e| DiskError::io("read", image, e))?;
            hasher.update(&buf[..n]);
            left -= n as u64;
        }
        sums.push(hasher.finalize().into());
    }
    let xml = render(map, &sums);
    let temp = Temporary::beside(out)?;
    let mut f =
        File::create_new(temp.path()).map_err(|e| DiskError::io("create", temp.path(), e))?;
    f.write_all(xml.as_bytes())
        .map_err(|e| DiskError::io("write", temp.path(), e))?;
    drop(f);
    temp.persist(out)
}

/// The text bmaptool 3.x writes before the mapped-block count.
const START: &str = r#"<?xml version="1.0" ?>
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
"#;

/// The `.bmap` text of `map`, whose ranges have the SHA-256 sums `sums`.
///
/// Built as bmaptool builds it: the mapped-block comment and count are first written as
/// blanks, then overwritten in place (the comment may run into the three blanks before its
/// `-->`, exactly as bmaptool's does), and the file checksum is taken with its field all
/// zeros, then written into it.
pub(crate) fn render(map: &BlockMap, sums: &[[u8; 32]]) -> String {
    let blocks = map.blocks_count();
    let image_human = human_size(map.image_size);
    let mut xml = String::from(START);
    xml.push_str(&format!(
        "    <!-- Image size in bytes: {image_human} -->\n    <ImageSize> {} </ImageSize>\n\n",
        map.image_size
    ));
    xml.push_str(&format!(
        "    <!-- Size of a block in bytes -->\n    <BlockSize> {BLOCK_SIZE} </BlockSize>\n\n"
    ));
    xml.push_str(&format!(
        "    <!-- Count of blocks in the image file -->\n    <BlocksCount> {blocks} </BlocksCount>\n\n"
    ));
    xml.push_str("    <!-- Count of mapped blocks: ");
    let comment_at = xml.len();
    xml.push_str(&format!(
        "{} or {}   -->\n",
        " ".repeat(image_human.len()),
        " ".repeat("100.0%".len())
    ));
    xml.push_str("    <MappedBlocksCount> ");
    let count_at = xml.len();
    xml.push_str(&" ".repeat(blocks.to_string().len()));
    xml.push_str(" </MappedBlocksCount>\n\n");
    xml.push_str("    <!-- Type of checksum used in this file -->\n");
    xml.push_str("    <ChecksumType> sha256 </ChecksumType>\n\n");
    xml.push_str("    <!-- The checksum of this bmap file. When it is calculated, the value of\n");
    xml.push_str("         the checksum has be zero (all ASCII \"0\" symbols).  -->\n");
    xml.push_str("    <BmapFileChecksum> ");
    let checksum_at = xml.len();
    xml.push_str(&"0".repeat(64));
    xml.push_str(" </BmapFileChecksum>\n\n");
    xml.push_str("    <!-- The block map which consists of elements which may either be a\n");
    xml.push_str("         range of blocks or a single block. The 'chksum' attribute\n");
    xml.push_str("         (if present) is the checksum of this blocks range. -->\n");
    xml.push_str("    <BlockMap>\n");
    for (&(first, last), sum) in map.ranges.iter().zip(sums) {
        let sum = hex(sum);
        if first == last {
            xml.push_str(&format!(
                "        <Range chksum=\"{sum}\"> {first} </Range>\n"
            ));
        } else {
            xml.push_str(&format!(
                "        <Range chksum=\"{sum}\"> {first}-{last} </Range>\n"
            ));
        }
    }
    xml.push_str("    </BlockMap>\n</bmap>\n");

    let mapped = map.mapped_count();
    let percent = if blocks == 0 {
        0.0
    } else {
        (mapped as f64 * 100.0) / blocks as f64
    };
    let comment = format!("{} or {percent:.1}%", human_size(mapped * BLOCK_SIZE));
    overwrite(&mut xml, comment_at, &comment);
    overwrite(&mut xml, count_at, &mapped.to_string());
    let checksum = hex(&Sha256::digest(xml.as_bytes()).into());
    overwrite(&mut xml, checksum_at, &checksum);
    xml
}

/// Writes `text` over the characters of `xml` from byte `at` on (all ASCII), as a seek and a
/// write over a file would.
fn overwrite(xml: &mut String, at: usize, text: &str) {
    let end = (at + text.len()).min(xml.len());
    xml.replace_range(at..end, text);
}

/// A size as bmap-tools' `human_size` writes it: `1 byte`, `N bytes` below 512, else one
/// decimal in KiB, MiB, GiB or TiB (and, past that, the TiB figure labelled EiB, as it does).
fn human_size(size: u64) -> String {
    if size == 1 {
        return "1 byte".to_string();
    }
    if size < 512 {
        return format!("{size} bytes");
    }
    let mut value = size as f64;
    for unit in ["KiB", "MiB", "GiB", "TiB"] {
        value /= 1024.0;
        if value < 1024.0 {
            return format!("{value:.1} {unit}");
        }
    }
    format!("{value:.1} EiB")
}

fn hex(bytes: &[u8; 32]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "bmap_tests.rs"]
mod tests;
