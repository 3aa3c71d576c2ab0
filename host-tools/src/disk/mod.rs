//! Flashable disk images: a GPT disk (boot, root A, root B, data) written as a sparse file,
//! the `.bmap` that lets `bmaptool copy` write only the blocks that matter, and the file
//! systems of the boot (vfat) and data (ext4) partitions.
//!
//! The pieces, each in its own module:
//!
//! - [`gpt`]: the partition table, checked and encoded by hand ([`Gpt`]).
//! - [`guid`]: GUIDs, in text and GPT byte order, derived from a seed ([`Guid`]).
//! - [`image`]: the disk image file: tables plus each partition's content, all-zero 4 KiB
//!   blocks left as holes ([`write_image`]), and the [`BlockMap`] of what must be written.
//! - [`bmap`]: the `.bmap` file bmap-tools reads (format 2.0, SHA-256) ([`write_bmap`]).
//! - [`fs`]: vfat and ext4 images from a directory, with dosfstools, mtools and e2fsprogs
//!   ([`make_vfat`], [`make_ext4`]).
//! - [`ranges`]: the installer's copy of the image on the hybrid ISO, `disk.ranges` and
//!   `disk.blocks` ([`write_install_ranges`]).
//!
//! Everything is reproducible: the same inputs (layout, seed, contents, `SOURCE_DATE_EPOCH`)
//! give the same image and `.bmap`, byte for byte, on any machine with the tools.
//!
//! A typical release image:
//!
//! ```no_run
//! # fn main() -> Result<(), nanolin_host::disk::DiskError> {
//! use std::path::Path;
//! use nanolin_host::disk::{self, part_type, Content, Gpt, Mapping, Partition};
//!
//! let part = |name: &str, type_guid, start_sector, size_sectors| Partition {
//!     name: name.to_string(),
//!     type_guid,
//!     start_sector,
//!     size_sectors,
//!     attributes: 0,
//! };
//! let gpt = Gpt::new(
//!     256 << 20,
//!     "qemu-aarch64-virt r26.11-G22134501",
//!     vec![
//!         part("boot", part_type::EFI_SYSTEM, 2048, 65536),
//!         part("root-a", part_type::ROOT_AARCH64, 67584, 163840),
//!         part("root-b", part_type::ROOT_AARCH64, 231424, 163840),
//!         part("data", part_type::LINUX_DATA, 395264, 118784),
//!     ],
//! )?;
//! let map = disk::write_image(
//!     &gpt,
//!     &[
//!         Content { partition: "boot", file: Path::new("boot.vfat"), mapping: Mapping::Full },
//!         Content { partition: "root-a", file: Path::new("root.img"), mapping: Mapping::Full },
//!         Content { partition: "data", file: Path::new("data.ext4"), mapping: Mapping::Full },
//!     ],
//!     Path::new("release.img"),
//! )?;
//! disk::write_bmap(Path::new("release.img"), &map, Path::new("release.bmap"))?;
//! # Ok(())
//! # }
//! ```

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;

use crate::Status;

pub mod bmap;
pub mod fs;
pub mod gpt;
pub mod guid;
pub mod image;
pub mod ranges;

pub use bmap::{write_bmap, BlockMap, BLOCK_SIZE};
pub use fs::{make_ext4, make_vfat, Ext4Spec, VfatSpec};
pub use gpt::{attribute, part_type, Gpt, Partition, SECTOR_SIZE};
pub use guid::Guid;
pub use image::{write_image, Content, Mapping};
pub use ranges::{write_install_ranges, Placed, RangesInfo};

/// What went wrong laying out, writing or describing a disk image.
#[derive(Debug)]
pub enum DiskError {
    /// The disk size is not a whole number of sectors.
    DiskSizeNotSectors {
        /// The size asked for, in bytes.
        size: u64,
    },
    /// The disk cannot hold the two tables and a sector between them.
    DiskTooSmall {
        /// The size asked for, in bytes.
        size: u64,
        /// The smallest possible, in bytes.
        minimum: u64,
    },
    /// More partitions than the entry array holds.
    TooManyPartitions {
        /// How many were given.
        count: usize,
    },
    /// A partition name longer than the 36 UTF-16 code units its entry holds.
    NameTooLong {
        /// The name.
        name: String,
        /// Its length in UTF-16 code units.
        units: usize,
    },
    /// A partition name with a NUL character, which would end it early.
    NameHasNul {
        /// The name.
        name: String,
    },
    /// Two partitions with one name (their unique GUIDs, derived from it, would clash).
    DuplicateName {
        /// The name.
        name: String,
    },
    /// A partition typed with the nil GUID, which marks an unused entry.
    NilType {
        /// The partition.
        name: String,
    },
    /// A partition of zero sectors.
    EmptyPartition {
        /// The partition.
        name: String,
    },
    /// A partition that does not start on a 1 MiB boundary.
    Misaligned {
        /// The partition.
        name: String,
        /// Its first sector.
        start_sector: u64,
    },
    /// A partition whose size is not whole 4 KiB blocks.
    SizeNotBlocks {
        /// The partition.
        name: String,
        /// Its size in sectors.
        size_sectors: u64,
    },
    /// A partition reaching outside the sectors the tables leave free.
    OutsideUsable {
        /// The partition.
        name: String,
        /// Its first sector.
        start_sector: u64,
        /// Its size in sectors.
        size_sectors: u64,
        /// The first sector a partition may use.
        first_usable: u64,
        /// The last sector a partition may use.
        last_usable: u64,
    },
    /// Two partitions sharing sectors.
    Overlap {
        /// The one that starts first.
        first: String,
        /// The one that starts inside it.
        second: String,
    },
    /// Text that is not a GUID.
    BadGuid {
        /// The text.
        text: String,
    },
    /// Content given for a partition the table does not have.
    UnknownPartition {
        /// The name given.
        name: String,
    },
    /// Two contents given for one partition.
    ContentTwice {
        /// The partition.
        name: String,
    },
    /// A content file larger than its partition.
    ContentTooLarge {
        /// The partition.
        partition: String,
        /// The content file.
        path: PathBuf,
        /// Its size in bytes.
        content_size: u64,
        /// The partition's size in bytes.
        partition_size: u64,
    },
    /// A file system size that is not whole blocks of the file system (or is zero).
    FsSize {
        /// The file system ("vfat", "ext4").
        fs: &'static str,
        /// The size asked for, in bytes.
        size: u64,
        /// The block size it must be a multiple of.
        block: u64,
    },
    /// A volume label the file system cannot store.
    BadLabel {
        /// The file system.
        fs: &'static str,
        /// The label.
        label: String,
        /// What the file system allows.
        rule: &'static str,
    },
    /// A `SOURCE_DATE_EPOCH` the file system cannot store.
    EpochOutOfRange {
        /// The file system.
        fs: &'static str,
        /// The time, in seconds since 1970.
        epoch: u64,
        /// What the file system allows.
        range: &'static str,
    },
    /// The tree to copy into a file system is not a directory.
    NotADirectory(PathBuf),
    /// Something in the tree the file system cannot hold (a link on vfat, a device node, a
    /// name the tool cannot be given, two names vfat sees as one).
    Unsupported {
        /// The file.
        path: PathBuf,
        /// Why.
        why: &'static str,
    },
    /// A tool is not installed.
    ToolMissing {
        /// The command.
        tool: &'static str,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// A tool failed.
    ToolFailed {
        /// The command.
        tool: &'static str,
        /// How it ended.
        status: Option<ExitStatus>,
        /// What it said.
        output: String,
    },
    /// A file could not be read, written or created.
    Io {
        /// What we were doing, as a verb phrase ("read", "create").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
}

impl DiskError {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        DiskError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The exit status this error maps to: a layout, content or tree the image cannot take
    /// is a "no", a request no image could satisfy a usage error, a missing or failing tool
    /// or file a system failure.
    pub fn status(&self) -> Status {
        match self {
            DiskError::DiskSizeNotSectors { .. }
            | DiskError::DiskTooSmall { .. }
            | DiskError::TooManyPartitions { .. }
            | DiskError::NameTooLong { .. }
            | DiskError::NameHasNul { .. }
            | DiskError::DuplicateName { .. }
            | DiskError::NilType { .. }
            | DiskError::EmptyPartition { .. }
            | DiskError::Misaligned { .. }
            | DiskError::SizeNotBlocks { .. }
            | DiskError::OutsideUsable { .. }
            | DiskError::Overlap { .. }
            | DiskError::BadGuid { .. }
            | DiskError::ContentTooLarge { .. }
            | DiskError::Unsupported { .. } => Status::No,
            DiskError::UnknownPartition { .. }
            | DiskError::ContentTwice { .. }
            | DiskError::FsSize { .. }
            | DiskError::BadLabel { .. }
            | DiskError::EpochOutOfRange { .. }
            | DiskError::NotADirectory(_) => Status::Usage,
            DiskError::ToolMissing { .. } | DiskError::ToolFailed { .. } | DiskError::Io { .. } => {
                Status::System
            }
        }
    }
}

impl fmt::Display for DiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskError::DiskSizeNotSectors { size } => write!(
                f,
                "disk size {size} bytes is not a whole number of {SECTOR_SIZE}-byte sectors: \
                 round it to a multiple of {SECTOR_SIZE}"
            ),
            DiskError::DiskTooSmall { size, minimum } => write!(
                f,
                "disk size {size} bytes cannot hold the partition tables: give at least \
                 {minimum} bytes"
            ),
            DiskError::TooManyPartitions { count } => write!(
                f,
                "{count} partitions given: a GPT holds at most {}; drop some",
                gpt::ENTRY_COUNT
            ),
            DiskError::NameTooLong { name, units } => write!(
                f,
                "partition name {name:?} is {units} UTF-16 code units long: GPT stores at \
                 most {}; shorten it",
                gpt::NAME_UNITS
            ),
            DiskError::NameHasNul { name } => write!(
                f,
                "partition name {name:?} contains a NUL character, which would end it early: \
                 remove it"
            ),
            DiskError::DuplicateName { name } => write!(
                f,
                "two partitions are named {name:?}: names must be unique (each partition's \
                 GUID is derived from its name); rename one"
            ),
            DiskError::NilType { name } => write!(
                f,
                "partition {name:?} has the nil type GUID, which marks an unused entry: give \
                 it a type"
            ),
            DiskError::EmptyPartition { name } => {
                write!(f, "partition {name:?} has no sectors: give it a size")
            }
            DiskError::Misaligned { name, start_sector } => write!(
                f,
                "partition {name:?} starts at sector {start_sector}, not on a 1 MiB boundary: \
                 start it at a multiple of {} sectors (e.g. {})",
                gpt::ALIGNMENT_SECTORS,
                start_sector.div_ceil(gpt::ALIGNMENT_SECTORS) * gpt::ALIGNMENT_SECTORS
            ),
            DiskError::SizeNotBlocks { name, size_sectors } => write!(
                f,
                "partition {name:?} is {size_sectors} sectors, not whole 4 KiB blocks: make \
                 its size a multiple of {} sectors",
                gpt::SIZE_GRANULE_SECTORS
            ),
            DiskError::OutsideUsable {
                name,
                start_sector,
                size_sectors,
                first_usable,
                last_usable,
            } => write!(
                f,
                "partition {name:?} (sectors {start_sector}..={}) reaches outside the usable \
                 sectors {first_usable}..={last_usable} of this disk: move or shrink it, or \
                 make the disk larger",
                start_sector.saturating_add(size_sectors.saturating_sub(1))
            ),
            DiskError::Overlap { first, second } => write!(
                f,
                "partitions {first:?} and {second:?} overlap: {second:?} starts before \
                 {first:?} ends; move one"
            ),
            DiskError::BadGuid { text } => write!(
                f,
                "{text:?} is not a GUID: write it as 8-4-4-4-12 hex digits, e.g. \
                 c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
            ),
            DiskError::UnknownPartition { name } => write!(
                f,
                "content given for partition {name:?}, which the table does not have: name \
                 one of its partitions"
            ),
            DiskError::ContentTwice { name } => {
                write!(f, "two contents given for partition {name:?}: give one")
            }
            DiskError::ContentTooLarge {
                partition,
                path,
                content_size,
                partition_size,
            } => write!(
                f,
                "{} is {content_size} bytes, larger than partition {partition:?} \
                 ({partition_size} bytes): make the partition larger or the content smaller",
                path.display()
            ),
            DiskError::FsSize { fs, size, block } => write!(
                f,
                "a {fs} image of {size} bytes is not whole {block}-byte blocks: give a \
                 non-zero multiple of {block}"
            ),
            DiskError::BadLabel { fs, label, rule } => {
                write!(f, "{label:?} cannot label a {fs} file system: {rule}")
            }
            DiskError::EpochOutOfRange { fs, epoch, range } => write!(
                f,
                "SOURCE_DATE_EPOCH {epoch} cannot be stored in {fs}, which stores times \
                 {range}: give a time in that range"
            ),
            DiskError::NotADirectory(path) => write!(
                f,
                "{} is not a directory: give the directory whose contents the file system \
                 should hold",
                path.display()
            ),
            DiskError::Unsupported { path, why } => {
                write!(f, "refusing {}: {why}", path.display())
            }
            DiskError::ToolMissing { tool, package } => write!(
                f,
                "{tool} is not installed: disk images need it; install it with \
                 `apt-get install {package}`"
            ),
            DiskError::ToolFailed {
                tool,
                status,
                output,
            } => {
                match status {
                    Some(status) => write!(f, "{tool} failed ({status})")?,
                    None => write!(f, "{tool} reported an error")?,
                }
                let said = output.trim();
                if !said.is_empty() {
                    write!(f, ": {said}")?;
                }
                Ok(())
            }
            DiskError::Io {
                action,
                path,
                source,
            } => write!(f, "unable to {action} {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for DiskError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DiskError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A file removed when dropped, unless kept: outputs are written under a temporary name and
/// renamed into place at the end, so a failed run leaves nothing behind.
pub(crate) struct Temporary(PathBuf);

impl Temporary {
    /// A temporary name beside `out`, in the same directory (so the rename is atomic).
    pub(crate) fn beside(out: &Path) -> Result<Temporary, DiskError> {
        let name = out.file_name().ok_or_else(|| {
            DiskError::io(
                "create",
                out,
                io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
            )
        })?;
        let mut temp = std::ffi::OsString::from(".");
        temp.push(name);
        temp.push(format!(".{}.tmp", std::process::id()));
        Ok(Temporary(out.with_file_name(temp)))
    }

    /// The temporary path.
    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Syncs the file and renames it to `out`.
    pub(crate) fn persist(mut self, out: &Path) -> Result<(), DiskError> {
        std::fs::File::open(&self.0)
            .and_then(|f| f.sync_all())
            .map_err(|e| DiskError::io("write", &self.0, e))?;
        std::fs::rename(&self.0, out).map_err(|e| DiskError::io("create", out, e))?;
        self.0 = PathBuf::new();
        Ok(())
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}
