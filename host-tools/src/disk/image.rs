//! The disk image file: a sparse file of the disk's size holding the partition tables and
//! each partition's content at its offset.
//!
//! All-zero 4 KiB blocks of a content file are not written, so they stay holes: an image of
//! a large, mostly empty disk takes little room. The returned [`BlockMap`] says which blocks
//! a flash must write (the `.bmap`): both tables in full, since a GPT's CRC covers its unused
//! entries, and for each content every block it spans or only its non-zero blocks, as its
//! [`Mapping`] says. Space no content covers (root B, the end of a partition past its content,
//! gaps) is never mapped: a flash leaves it as it was.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::bmap::{BlockMap, BLOCK_SIZE};
use super::gpt::{Gpt, Partition};
use super::{DiskError, Temporary};

/// Bytes read from a content file at a time.
const CHUNK: usize = 1 << 20;

/// Which blocks of a content go into the block map.
///
/// `bmaptool copy` onto used media writes only the mapped blocks and leaves the old bytes in
/// the others, so a block may be left out only if nothing ever reads it expecting zeros.
/// Every format Nanolin puts on a disk does read such zeros: vfat (free FAT entries, the end
/// of a directory), ext4 as mke2fs makes it (the resize inode's reserved blocks, and a
/// journal whose stale blocks a recovery could replay), and root file systems, whose bytes an
/// update hashes. Copying only the non-zero blocks of a vfat or ext4 image over bytes of
/// 0xA5 leaves `fsck.fat -n` and `e2fsck -fn` reporting errors; use [`Mapping::Full`] for
/// them, and keep a file system image small (grown on the board) to keep flashing fast.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mapping {
    /// Every block the content spans, all-zero ones included: a flash writes the zeros.
    /// All-zero blocks are still holes in the image file.
    Full,
    /// Only the blocks that are not all zeros: a flash leaves whatever the media held in the
    /// others. For contents that never read what they did not write (none of Nanolin's file
    /// systems: see above).
    Data,
}

/// One partition's content: a file copied to the start of the partition.
#[derive(Debug, Clone, Copy)]
pub struct Content<'a> {
    /// The partition's name, as in the table.
    pub partition: &'a str,
    /// The file, at most as large as the partition.
    pub file: &'a Path,
    /// Which of its blocks a flash must write.
    pub mapping: Mapping,
}

/// Writes the disk image of `gpt` with `contents` to `out` (replaced only once complete) and
/// returns the map of the blocks a flash must write.
///
/// Refuses, before writing anything, content for a partition the table does not have, two
/// contents for one partition and a content larger than its partition.
pub fn write_image(gpt: &Gpt, contents: &[Content<'_>], out: &Path) -> Result<BlockMap, DiskError> {
    let mut placed: Vec<(&Partition, &Content<'_>)> = Vec::with_capacity(contents.len());
    for (i, content) in contents.iter().enumerate() {
        let partition = gpt
            .partitions()
            .iter()
            .find(|p| p.name == content.partition)
            .ok_or_else(|| DiskError::UnknownPartition {
                name: content.partition.to_string(),
            })?;
        if contents[..i]
            .iter()
            .any(|c| c.partition == content.partition)
        {
            return Err(DiskError::ContentTwice {
                name: content.partition.to_string(),
            });
        }
        let size = std::fs::metadata(content.file)
            .map_err(|e| DiskError::io("read", content.file, e))?
            .len();
        check_fits(partition, content, size)?;
        placed.push((partition, content));
    }
    // In disk order, so the block map grows at its end.
    placed.sort_by_key(|(p, _)| p.start_sector);

    let temp = Temporary::beside(out)?;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp.path())
        .map_err(|e| DiskError::io("create", temp.path(), e))?;
    file.set_len(gpt.disk_size())
        .map_err(|e| DiskError::io("write", temp.path(), e))?;
    let mut map = BlockMap::new(gpt.disk_size());

    let primary = gpt.primary();
    file.write_all_at(&primary, 0)
        .map_err(|e| DiskError::io("write", temp.path(), e))?;
    map.add(0, primary.len() as u64);
    for (partition, content) in placed {
        copy_content(&file, temp.path(), partition, content, &mut map)?;
    }
    let backup = gpt.backup();
    file.write_all_at(&backup, gpt.backup_offset())
        .map_err(|e| DiskError::io("write", temp.path(), e))?;
    map.add(gpt.backup_offset(), backup.len() as u64);

    drop(file);
    temp.persist(out)?;
    Ok(map)
}

fn check_fits(partition: &Partition, content: &Content<'_>, size: u64) -> Result<(), DiskError> {
    if size > partition.size() {
        return Err(DiskError::ContentTooLarge {
            partition: partition.name.clone(),
            path: content.file.to_path_buf(),
            content_size: size,
            partition_size: partition.size(),
        });
    }
    Ok(())
}

/// Copies `content` to `partition`'s place in `out`, leaving its all-zero blocks as holes.
fn copy_content(
    out: &File,
    out_path: &Path,
    partition: &Partition,
    content: &Content<'_>,
    map: &mut BlockMap,
) -> Result<(), DiskError> {
    let mut src = File::open(content.file).map_err(|e| DiskError::io("open", content.file, e))?;
    let mut buf = vec![0u8; CHUNK];
    let mut done = 0u64;
    loop {
        let n =
            read_full(&mut src, &mut buf).map_err(|e| DiskError::io("read", content.file, e))?;
        if n == 0 {
            break;
        }
        // The file may have grown since it was measured.
        check_fits(partition, content, done + n as u64)?;
        let at = partition.offset() + done;
        let mut run: Option<usize> = None; // start of the current run of non-zero blocks
        for (i, block) in buf[..n].chunks(BLOCK_SIZE as usize).enumerate() {
            let start = i * BLOCK_SIZE as usize;
            match (is_zero(block), run) {
                (false, None) => run = Some(start),
                (true, Some(from)) => {
                    write_run(out, out_path, &buf[from..start], at + from as u64)?;
                    if content.mapping == Mapping::Data {
                        map.add(at + from as u64, (start - from) as u64);
                    }
                    run = None;
                }
                _ => {}
            }
        }
        if let Some(from) = run {
            write_run(out, out_path, &buf[from..n], at + from as u64)?;
            if content.mapping == Mapping::Data {
                map.add(at + from as u64, (n - from) as u64);
            }
        }
        done += n as u64;
        if n < buf.len() {
            break;
        }
    }
    if content.mapping == Mapping::Full {
        map.add(partition.offset(), done);
    }
    Ok(())
}

fn write_run(out: &File, out_path: &Path, bytes: &[u8], offset: u64) -> Result<(), DiskError> {
    out.write_all_at(bytes, offset)
        .map_err(|e| DiskError::io("write", out_path, e))
}

/// Reads until `buf` is full or the file ends; returns how much was read.
fn read_full(src: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match src.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Whether every byte of `block` is zero (compared eight bytes at a time).
fn is_zero(block: &[u8]) -> bool {
    let words = block.chunks_exact(8);
    let tail = words.remainder();
    words.fold(0u64, |acc, w| {
        acc | u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]])
    }) == 0
        && tail.iter().all(|&b| b == 0)
}

#[cfg(test)]
#[path = "image_tests.rs"]
mod tests;
