//! The installer's map of a release's disk image (`nanolin/disk.ranges` on the hybrid ISO):
//! which blocks of the disk the installer writes, where their bytes are on the medium, and the
//! SHA-256 each range must have.
//!
//! The blocks are exactly those of the release's block map (`….disk.img.bmap`), the ones
//! `bmaptool copy` writes; the rest of the target disk is left as it was. Each range's bytes
//! come from a file of the medium (the root file system image, the EFI System Partition image,
//! or `nanolin/disk.blocks`, which holds the bytes no other file has), or are zeros, which the
//! medium does not store at all.
//!
//! ```text
//! # comments and blank lines anywhere
//! nanolin-disk-ranges 1                                 format and version (first line)
//! image_size 2147483648                                 the disk image's size, in bytes
//! block_size 4096                                       the ranges' unit, in bytes
//! blocks 0 5 3f0c…(64 hex) nanolin/disk.blocks 0        COUNT blocks from FIRST: from FILE at
//! blocks 256 16384 9a41… efi.img 0                        byte OFFSET, with this SHA-256
//! zeros 16640 122880                                    COUNT blocks of zeros from FIRST
//! ```
//!
//! Fields are separated by spaces or tabs. Ranges are in disk order, never overlapping, and
//! end inside the image; a range's bytes are `COUNT × block_size`, except that the image's
//! last block holds only what is left of `image_size` (as in a block map). `FILE` is a path
//! relative to the medium's root: ASCII letters, digits and `._+-`, `/`-separated, no empty,
//! `.` or `..` component, at most [`DISK_RANGES_PATH_MAX_LEN`] bytes. A `blocks` range's
//! SHA-256 is that of its bytes as written to the disk, lowercase hex.
//!
//! # Trust contract
//!
//! The text enters through [`DiskRanges::parse`], which checks every line (syntax, numbers,
//! bounds, order, paths) and names the first bad one. After that, no accessor can fail or
//! panic: [`DiskRanges::ranges`] yields the checked ranges. The SHA-256 of each range is what
//! the installer checks the bytes it read against before calling the install good; the file
//! itself comes from the same medium, so it guards against a bad read, not an attacker.

use core::fmt;

pub use crate::limits::{DISK_RANGES_MAX_LEN, DISK_RANGES_PATH_MAX_LEN};

/// The first line (after comments): the format and its version.
pub const FORMAT_LINE: &str = "nanolin-disk-ranges 1";

/// Smallest `block_size`: a disk sector.
pub const BLOCK_SIZE_MIN: u32 = 512;

/// Largest `block_size`.
pub const BLOCK_SIZE_MAX: u32 = 1 << 20;

/// Bytes of a SHA-256.
pub const SHA256_LEN: usize = 32;

/// The image a map describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The disk image's size, in bytes (at least 1): the target must hold this much.
    pub image_size: u64,
    /// The ranges' unit, in bytes: a power of two from [`BLOCK_SIZE_MIN`] to
    /// [`BLOCK_SIZE_MAX`].
    pub block_size: u32,
}

impl Header {
    /// How many blocks the image takes (the last may be partial).
    pub const fn blocks_count(&self) -> u64 {
        self.image_size.div_ceil(self.block_size as u64)
    }
}

/// Where a range's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source<'a> {
    /// A file of the medium, from a byte offset, with the SHA-256 the bytes must have.
    File {
        /// The file, relative to the medium's root.
        path: &'a str,
        /// Where in it the range's bytes start.
        offset: u64,
        /// The SHA-256 of the range's bytes.
        sha256: [u8; SHA256_LEN],
    },
    /// Zeros: nothing is read.
    Zeros,
}

/// One range of blocks to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range<'a> {
    /// Its first block.
    pub first_block: u64,
    /// How many blocks (at least 1).
    pub block_count: u64,
    /// Where its bytes come from.
    pub source: Source<'a>,
}

impl Range<'_> {
    /// Where the range starts on the disk, in bytes.
    pub const fn disk_offset(&self, header: &Header) -> u64 {
        self.first_block.saturating_mul(header.block_size as u64)
    }

    /// How many bytes the range writes: its blocks, the image's last one only as far as the
    /// image goes.
    pub fn len(&self, header: &Header) -> u64 {
        let end = self
            .first_block
            .saturating_add(self.block_count)
            .saturating_mul(header.block_size as u64)
            .min(header.image_size);
        end.saturating_sub(self.disk_offset(header))
    }

    /// Whether the range writes nothing (never, for a parsed range).
    pub fn is_empty(&self, header: &Header) -> bool {
        self.len(header) == 0
    }
}

/// What is wrong with a ranges file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskRangesError {
    /// Longer than [`DISK_RANGES_MAX_LEN`].
    TooLong {
        /// Its length.
        len: usize,
    },
    /// A line is wrong.
    Line {
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        fault: Fault,
    },
    /// No `blocks` or `zeros` line: nothing to install.
    NoRanges,
}

/// What is wrong with one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The first line is not [`FORMAT_LINE`] (another format, or a version this reader does
    /// not know).
    NotFormatLine,
    /// Not the line expected here (`image_size`, then `block_size`, then ranges).
    Expected(&'static str),
    /// A line that is none of the known kinds.
    UnknownKeyword,
    /// A field is missing.
    MissingField(&'static str),
    /// More fields than the line takes.
    ExtraField,
    /// A field is not a decimal number that fits.
    BadNumber(&'static str),
    /// `image_size` is 0.
    EmptyImage,
    /// `block_size` is not a power of two in range.
    BadBlockSize,
    /// A range of 0 blocks.
    EmptyRange,
    /// A range that starts before the previous one ends.
    Overlap,
    /// A range that ends past the image's last block.
    PastEnd,
    /// A range whose bytes' end in its file overflows.
    OffsetOverflow,
    /// Not 64 lowercase hex digits.
    BadSha256,
    /// Not a plain relative path of the allowed characters and length.
    BadPath,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Fault::NotFormatLine => write!(f, "the first line is not \"{FORMAT_LINE}\""),
            Fault::Expected(what) => write!(f, "expected {what} here"),
            Fault::UnknownKeyword => f.write_str("not a blocks or zeros line"),
            Fault::MissingField(what) => write!(f, "{what} is missing"),
            Fault::ExtraField => f.write_str("more fields than the line takes"),
            Fault::BadNumber(what) => write!(f, "{what} is not a decimal number that fits"),
            Fault::EmptyImage => f.write_str("image_size is 0"),
            Fault::BadBlockSize => write!(
                f,
                "block_size must be a power of two from {BLOCK_SIZE_MIN} to {BLOCK_SIZE_MAX}"
            ),
            Fault::EmptyRange => f.write_str("a range of 0 blocks"),
            Fault::Overlap => f.write_str("the range starts before the previous one ends"),
            Fault::PastEnd => f.write_str("the range ends past the image"),
            Fault::OffsetOverflow => f.write_str("the range's end in its file overflows"),
            Fault::BadSha256 => f.write_str("the SHA-256 is not 64 lowercase hex digits"),
            Fault::BadPath => write!(
                f,
                "the file is not a relative path of letters, digits and ._+- of at most \
                 {DISK_RANGES_PATH_MAX_LEN} bytes"
            ),
        }
    }
}

impl fmt::Display for DiskRangesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DiskRangesError::TooLong { len } => write!(
                f,
                "{len} bytes, more than the {DISK_RANGES_MAX_LEN} a ranges file may have"
            ),
            DiskRangesError::Line { line, fault } => write!(f, "line {line}: {fault}"),
            DiskRangesError::NoRanges => f.write_str("no blocks or zeros line: nothing to write"),
        }
    }
}

impl core::error::Error for DiskRangesError {}

/// A checked ranges file: a view over its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskRanges<'a> {
    header: Header,
    /// The text from the first range line on.
    body: &'a str,
    /// The line number of the body's first line.
    body_line: usize,
    count: usize,
    written: u64,
}

/// The lines of `text` that are not blank or comments, with their numbers (from 1).
fn content_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .enumerate()
        .map(|(i, l)| {
            (
                i + 1,
                l.trim_matches(|c| c == ' ' || c == '\t' || c == '\r'),
            )
        })
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// Fields of a line: runs of characters other than spaces and tabs.
fn fields(line: &str) -> impl Iterator<Item = &str> {
    line.split([' ', '\t']).filter(|f| !f.is_empty())
}

impl<'a> DiskRanges<'a> {
    /// Checks `text` whole: format line, header, every range.
    pub fn parse(text: &'a str) -> Result<Self, DiskRangesError> {
        if text.len() > DISK_RANGES_MAX_LEN {
            return Err(DiskRangesError::TooLong { len: text.len() });
        }
        let bad = |line, fault| DiskRangesError::Line { line, fault };
        let mut lines = content_lines(text);
        let (n, first) = lines.next().ok_or(bad(1, Fault::NotFormatLine))?;
        if !fields(first).eq(fields(FORMAT_LINE)) {
            return Err(bad(n, Fault::NotFormatLine));
        }
        // A line missing at the end is missing on the line after the last.
        let end = text.split('\n').count() + usize::from(!text.ends_with('\n'));
        let mut setting = |name: &'static str| -> Result<(usize, u64), DiskRangesError> {
            let (n, line) = lines.next().ok_or(bad(end, Fault::Expected(name)))?;
            let mut f = fields(line);
            if f.next() != Some(name) {
                return Err(bad(n, Fault::Expected(name)));
            }
            let value = number(f.next(), name).map_err(|fault| bad(n, fault))?;
            if f.next().is_some() {
                return Err(bad(n, Fault::ExtraField));
            }
            Ok((n, value))
        };
        let (_, image_size) = setting("image_size")?;
        let (n, block_size) = setting("block_size")?;
        if image_size == 0 {
            return Err(bad(n - 1, Fault::EmptyImage));
        }
        let block_size = u32::try_from(block_size)
            .ok()
            .filter(|b| b.is_power_of_two() && (BLOCK_SIZE_MIN..=BLOCK_SIZE_MAX).contains(b))
            .ok_or(bad(n, Fault::BadBlockSize))?;
        let header = Header {
            image_size,
            block_size,
        };
        // The body starts on the line after block_size's (line n).
        let body = text.splitn(n + 1, '\n').nth(n).unwrap_or("");
        let mut ranges = DiskRanges {
            header,
            body,
            body_line: n + 1,
            count: 0,
            written: 0,
        };
        let mut next_free = 0u64;
        for (n, line) in ranges.lines() {
            let range = parse_range(line, &header).map_err(|fault| bad(n, fault))?;
            if range.first_block < next_free {
                return Err(bad(n, Fault::Overlap));
            }
            next_free = range.first_block + range.block_count;
            ranges.count += 1;
            ranges.written += range.len(&header);
        }
        if ranges.count == 0 {
            return Err(DiskRangesError::NoRanges);
        }
        Ok(ranges)
    }

    fn lines(&self) -> impl Iterator<Item = (usize, &'a str)> {
        let base = self.body_line - 1;
        content_lines(self.body).map(move |(n, l)| (n + base, l))
    }

    /// The image's size and block size.
    pub const fn header(&self) -> Header {
        self.header
    }

    /// How many ranges there are (at least 1).
    pub const fn len(&self) -> usize {
        self.count
    }

    /// Always false: a parsed file has a range.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// How many bytes the ranges write, zeros included.
    pub const fn written_bytes(&self) -> u64 {
        self.written
    }

    /// The ranges, in disk order.
    pub fn ranges(&self) -> impl Iterator<Item = Range<'a>> + 'a {
        let header = self.header;
        let base = self.body_line - 1;
        content_lines(self.body)
            .map(move |(n, l)| (n + base, l))
            .filter_map(move |(_, line)| parse_range(line, &header).ok())
    }
}

/// A decimal field.
fn number(field: Option<&str>, name: &'static str) -> Result<u64, Fault> {
    let field = field.ok_or(Fault::MissingField(name))?;
    if field.is_empty() || !field.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Fault::BadNumber(name));
    }
    field.parse().map_err(|_| Fault::BadNumber(name))
}

/// One `blocks` or `zeros` line, checked against the header (not against its neighbours).
fn parse_range<'a>(line: &'a str, header: &Header) -> Result<Range<'a>, Fault> {
    let mut f = fields(line);
    let keyword = f.next().ok_or(Fault::UnknownKeyword)?;
    if keyword != "blocks" && keyword != "zeros" {
        return Err(Fault::UnknownKeyword);
    }
    let first_block = number(f.next(), "FIRST_BLOCK")?;
    let block_count = number(f.next(), "BLOCK_COUNT")?;
    if block_count == 0 {
        return Err(Fault::EmptyRange);
    }
    match first_block.checked_add(block_count) {
        Some(end) if end <= header.blocks_count() => {}
        _ => return Err(Fault::PastEnd),
    }
    let mut range = Range {
        first_block,
        block_count,
        source: Source::Zeros,
    };
    if keyword == "blocks" {
        let sha256 = parse_sha256(f.next().ok_or(Fault::MissingField("SHA256"))?)?;
        let path = f.next().ok_or(Fault::MissingField("FILE"))?;
        if !is_plain_path(path) {
            return Err(Fault::BadPath);
        }
        let offset = number(f.next(), "OFFSET")?;
        offset
            .checked_add(range.len(header))
            .ok_or(Fault::OffsetOverflow)?;
        range.source = Source::File {
            path,
            offset,
            sha256,
        };
    }
    if f.next().is_some() {
        return Err(Fault::ExtraField);
    }
    Ok(range)
}

/// 64 lowercase hex digits.
fn parse_sha256(text: &str) -> Result<[u8; SHA256_LEN], Fault> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    if text.len() != 2 * SHA256_LEN {
        return Err(Fault::BadSha256);
    }
    let mut out = [0u8; SHA256_LEN];
    for (byte, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
        let (Some(&hi), Some(&lo)) = (pair.first(), pair.get(1)) else {
            return Err(Fault::BadSha256);
        };
        *byte = (digit(hi).ok_or(Fault::BadSha256)? << 4) | digit(lo).ok_or(Fault::BadSha256)?;
    }
    Ok(out)
}

/// A relative path of letters, digits and `._+-`, no empty, `.` or `..` component.
pub fn is_plain_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= DISK_RANGES_PATH_MAX_LEN
        && path.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        })
}

/// Writes a ranges file: `comment` (each line after `# `), the format line, the header, the
/// ranges. What it writes parses back to the same when the ranges follow the rules of the
/// module documentation.
pub fn emit<'r>(
    out: &mut impl fmt::Write,
    comment: &str,
    header: &Header,
    ranges: impl IntoIterator<Item = Range<'r>>,
) -> fmt::Result {
    for line in comment.lines() {
        writeln!(out, "# {line}")?;
    }
    writeln!(out, "{FORMAT_LINE}")?;
    writeln!(out, "image_size {}", header.image_size)?;
    writeln!(out, "block_size {}", header.block_size)?;
    for range in ranges {
        match range.source {
            Source::Zeros => writeln!(out, "zeros {} {}", range.first_block, range.block_count)?,
            Source::File {
                path,
                offset,
                sha256,
            } => {
                write!(out, "blocks {} {} ", range.first_block, range.block_count)?;
                for b in sha256 {
                    write!(out, "{b:02x}")?;
                }
                writeln!(out, " {path} {offset}")?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "disk_ranges_tests.rs"]
mod tests;
