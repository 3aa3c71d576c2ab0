//! The installer's copy of a disk image, for the hybrid ISO: `nanolin/disk.ranges` and
//! `nanolin/disk.blocks`.
//!
//! The installer (stage1 booted with `nanolin.install=`) writes the blocks of the release's
//! block map onto the target disk, exactly those `bmaptool copy` writes from the `.bmap`, and
//! checks each range's SHA-256 as it copies it. The ranges file
//! ([`nanolin_core::disk_ranges`] has the format and its parser) says, for each range, where
//! its bytes are on the medium:
//!
//! - **zeros**: a run of at least [`MIN_ZERO_RUN`] all-zero blocks (the unused parts of the
//!   EFI System Partition and of the data file system): nothing is stored, the installer
//!   writes zeros;
//! - **a file the ISO already holds**: the blocks lying wholly inside the content of a
//!   partition that the ISO also carries as a file ([`Placed`]: the root file system image,
//!   the EFI System Partition image `efi.img`) are read from that file, so they are not stored
//!   twice;
//! - **`nanolin/disk.blocks`**: everything else (both partition tables, the data file
//!   system's metadata, the last partial block of a content), the ranges' bytes concatenated
//!   in disk order.
//!
//! So the ISO grows by the partition tables and the data file system's non-zero blocks, not
//! by a second copy of the disk. Every range's SHA-256 is that of the disk image's bytes; a
//! range read from a placed file is checked here to have those bytes, so what the installer
//! writes is the disk image's mapped blocks byte for byte.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use nanolin_core::disk_ranges::{
    self, DiskRanges, Header, Range, Source, DISK_RANGES_MAX_LEN, SHA256_LEN,
};
use sha2::{Digest, Sha256};

use super::bmap::{BlockMap, BLOCK_SIZE};
use super::{DiskError, Temporary};

/// Where the ranges file is on the ISO.
pub const RANGES_FILE: &str = nanolin_core::medium::RANGES;

/// Where the blocks no other file of the ISO holds are.
pub const BLOCKS_FILE: &str = nanolin_core::medium::BLOCKS;

/// Shortest run of all-zero blocks written as a `zeros` range (1 MiB): shorter runs stay in
/// their neighbours' ranges, which keeps the ranges file short.
pub const MIN_ZERO_RUN: u64 = 256;

/// Bytes read at a time.
const CHUNK: u64 = 1 << 20;

/// A file of the ISO whose bytes are on the disk image from an offset (a partition's
/// content).
#[derive(Debug, Clone, Copy)]
pub struct Placed<'a> {
    /// Its path on the ISO, as the ranges file names it.
    pub medium_path: &'a str,
    /// The file on the host.
    pub file: &'a Path,
    /// Where its first byte is on the disk image.
    pub disk_offset: u64,
}

/// What [`write_install_ranges`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RangesInfo {
    /// How many ranges.
    pub ranges: usize,
    /// Bytes the installer writes (the mapped blocks).
    pub written: u64,
    /// Of those, zeros.
    pub zeros: u64,
    /// Of those, read from placed files.
    pub from_files: u64,
    /// Of those, stored in `disk.blocks` (its size).
    pub stored: u64,
}

/// Where one block's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Zeros,
    /// The placed file of that index.
    Placed(usize),
    Stored,
}

/// A run of blocks of one kind, contiguous on the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    first: u64,
    count: u64,
    kind: Kind,
}

/// Writes the ranges file `ranges_out` and the blocks file `blocks_out` for installing
/// `image` (whose mapped blocks `map` lists; each replaced only once complete). `placed`
/// are the files of the ISO that hold partitions' contents; `comment` heads the ranges
/// file.
pub fn write_install_ranges(
    image: &Path,
    map: &BlockMap,
    placed: &[Placed<'_>],
    comment: &str,
    ranges_out: &Path,
    blocks_out: &Path,
) -> Result<RangesInfo, DiskError> {
    let disk = File::open(image).map_err(|e| DiskError::io("open", image, e))?;
    let size = disk
        .metadata()
        .map_err(|e| DiskError::io("read", image, e))?
        .len();
    if size != map.image_size() {
        return Err(invalid(
            image,
            format!(
                "it is {size} bytes, but its block map describes a {}-byte image",
                map.image_size()
            ),
        ));
    }
    let mut placed_len = Vec::with_capacity(placed.len());
    for p in placed {
        let len = std::fs::metadata(p.file)
            .map_err(|e| DiskError::io("read", p.file, e))?
            .len();
        placed_len.push(len);
    }
    let header = Header {
        image_size: size,
        block_size: BLOCK_SIZE as u32,
    };
    let mut runs = Vec::new();
    for &(first, last) in map.ranges() {
        let zero = zero_blocks(&disk, image, &header, first, last)?;
        classify(&header, first, &zero, placed, &placed_len, &mut runs);
    }

    let blocks_temp = Temporary::beside(blocks_out)?;
    let blocks = File::create_new(blocks_temp.path())
        .map_err(|e| DiskError::io("create", blocks_temp.path(), e))?;
    let mut info = RangesInfo {
        ranges: runs.len(),
        written: 0,
        zeros: 0,
        from_files: 0,
        stored: 0,
    };
    let mut ranges = Vec::with_capacity(runs.len());
    for run in &runs {
        let range = Range {
            first_block: run.first,
            block_count: run.count,
            source: Source::Zeros,
        };
        let (at, len) = (range.disk_offset(&header), range.len(&header));
        info.written += len;
        let source = match run.kind {
            Kind::Zeros => {
                info.zeros += len;
                None
            }
            Kind::Stored => {
                let sha256 = copy_hashed(&disk, at, len, Some((&blocks, info.stored))).map_err(
                    |e| match e {
                        Copy::Read(e) => DiskError::io("read", image, e),
                        Copy::Write(e) => DiskError::io("write", blocks_temp.path(), e),
                    },
                )?;
                let offset = info.stored;
                info.stored += len;
                Some((BLOCKS_FILE, offset, sha256))
            }
            Kind::Placed(i) => {
                let p = placed[i];
                let offset = at - p.disk_offset;
                let sha256 = hashed(&disk, image, at, len)?;
                let file = File::open(p.file).map_err(|e| DiskError::io("open", p.file, e))?;
                if hashed(&file, p.file, offset, len)? != sha256 {
                    return Err(invalid(
                        p.file,
                        format!(
                            "its bytes from {offset} ({len} bytes) differ from the disk image's \
                             at {at}: the image was not made from it"
                        ),
                    ));
                }
                info.from_files += len;
                Some((p.medium_path, offset, sha256))
            }
        };
        ranges.push((range, source));
    }
    blocks
        .sync_all()
        .map_err(|e| DiskError::io("write", blocks_temp.path(), e))?;
    drop(blocks);

    let mut text = String::new();
    let listed = ranges.iter().map(|(range, source)| Range {
        source: match *source {
            None => Source::Zeros,
            Some((path, offset, sha256)) => Source::File {
                path,
                offset,
                sha256,
            },
        },
        ..*range
    });
    disk_ranges::emit(&mut text, comment, &header, listed)
        .map_err(|_| invalid(ranges_out, "unable to format the ranges".into()))?;
    if text.len() > DISK_RANGES_MAX_LEN {
        return Err(invalid(
            ranges_out,
            format!(
                "{} ranges take {} bytes, more than the {DISK_RANGES_MAX_LEN} the installer \
                 reads: the disk image is too fragmented (a file system with many scattered \
                 blocks?)",
                runs.len(),
                text.len()
            ),
        ));
    }
    // What the installer will read, read back here first.
    DiskRanges::parse(&text)
        .map_err(|e| invalid(ranges_out, format!("the ranges written do not parse: {e}")))?;
    let ranges_temp = Temporary::beside(ranges_out)?;
    std::fs::write(ranges_temp.path(), &text)
        .map_err(|e| DiskError::io("write", ranges_temp.path(), e))?;
    blocks_temp.persist(blocks_out)?;
    ranges_temp.persist(ranges_out)?;
    Ok(info)
}

fn invalid(path: &Path, why: String) -> DiskError {
    DiskError::io(
        "describe the install of",
        path,
        io::Error::new(io::ErrorKind::InvalidData, why),
    )
}

/// Which blocks of `first..=last` are all zeros.
fn zero_blocks(
    disk: &File,
    image: &Path,
    header: &Header,
    first: u64,
    last: u64,
) -> Result<Vec<bool>, DiskError> {
    let bs = BLOCK_SIZE;
    let start = first * bs;
    let end = ((last + 1) * bs).min(header.image_size);
    let mut zero = Vec::with_capacity((last - first + 1) as usize);
    let mut buf = vec![0u8; CHUNK as usize];
    let mut at = start;
    while at < end {
        let n = (end - at).min(CHUNK) as usize;
        disk.read_exact_at(&mut buf[..n], at)
            .map_err(|e| DiskError::io("read", image, e))?;
        zero.extend(
            buf[..n]
                .chunks(bs as usize)
                .map(|b| b.iter().all(|&x| x == 0)),
        );
        at += n as u64;
    }
    Ok(zero)
}

/// Appends the runs of the mapped range starting at block `first` whose blocks' zero flags
/// are `zero`: runs of at least [`MIN_ZERO_RUN`] zero blocks are zeros; other blocks lying
/// wholly inside a placed file come from it; the rest is stored.
fn classify(
    header: &Header,
    first: u64,
    zero: &[bool],
    placed: &[Placed<'_>],
    placed_len: &[u64],
    runs: &mut Vec<Run>,
) {
    let bs = u64::from(header.block_size);
    // Long zero runs first.
    let mut long_zero = vec![false; zero.len()];
    let mut i = 0;
    while i < zero.len() {
        let n = zero[i..].iter().take_while(|&&z| z).count();
        if n as u64 >= MIN_ZERO_RUN {
            long_zero[i..i + n].fill(true);
        }
        i += n.max(1);
    }
    for (i, &is_zero) in long_zero.iter().enumerate() {
        let block = first + i as u64;
        let (at, end) = (block * bs, ((block + 1) * bs).min(header.image_size));
        let kind = if is_zero {
            Kind::Zeros
        } else {
            placed
                .iter()
                .zip(placed_len)
                .position(|(p, &len)| at >= p.disk_offset && end <= p.disk_offset + len)
                .map_or(Kind::Stored, Kind::Placed)
        };
        match runs.last_mut() {
            Some(run) if run.kind == kind && run.first + run.count == block => run.count += 1,
            _ => runs.push(Run {
                first: block,
                count: 1,
                kind,
            }),
        }
    }
}

/// Why a copy failed.
enum Copy {
    Read(io::Error),
    Write(io::Error),
}

/// SHA-256 of `len` bytes of `file` from `at`.
fn hashed(file: &File, path: &Path, at: u64, len: u64) -> Result<[u8; SHA256_LEN], DiskError> {
    copy_hashed(file, at, len, None).map_err(|e| match e {
        Copy::Read(e) | Copy::Write(e) => DiskError::io("read", path, e),
    })
}

/// SHA-256 of `len` bytes of `file` from `at`, copied to `to` (a file and an offset) when
/// given.
fn copy_hashed(
    file: &File,
    at: u64,
    len: u64,
    to: Option<(&File, u64)>,
) -> Result<[u8; SHA256_LEN], Copy> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK.min(len) as usize];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(CHUNK) as usize;
        file.read_exact_at(&mut buf[..n], at + done)
            .map_err(Copy::Read)?;
        hasher.update(&buf[..n]);
        if let Some((out, base)) = to {
            out.write_all_at(&buf[..n], base + done)
                .map_err(Copy::Write)?;
        }
        done += n as u64;
    }
    Ok(hasher.finalize().into())
}

#[cfg(test)]
#[path = "ranges_tests.rs"]
mod tests;
