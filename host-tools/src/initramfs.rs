//! Reproducible initramfs archives: a directory tree as a `newc` cpio archive (what the Linux
//! kernel unpacks into its initial root file system), optionally gzip-compressed.
//!
//! # The archive
//!
//! Written here, no `cpio` tool needed. Each entry is a 110-byte ASCII header — magic
//! `070701`, then thirteen 8-digit hex fields: inode, mode, uid, gid, link count, mtime, file
//! size, device major and minor, special-file major and minor, name length (with its NUL),
//! checksum (0) — then the name and its NUL, padded to a multiple of 4 bytes, then the data
//! (a file's contents, a symbolic link's target), padded to a multiple of 4. The archive ends
//! with the entry `TRAILER!!!`. (`Documentation/driver-api/early-userspace/buffer-format.rst`
//! in the kernel; the same format `cpio -H newc` writes.)
//!
//! What makes it reproducible, whatever the host's files say:
//!
//! - entries in bytewise order of their paths (a folder before what it holds), names
//!   relative (`init`, `bin/busybox`), without `./`;
//! - owner and group 0:0; every mtime `SOURCE_DATE_EPOCH`;
//! - inode numbers 1, 2, 3 … in that order, device numbers 0, link counts 2 for a folder and
//!   1 otherwise (hard links are stored as separate files);
//! - modes kept as they are (type and permission bits, set-uid included), the file contents
//!   and link targets as they are; device nodes keep their major and minor numbers.
//!
//! Sockets cannot be archived and are refused, as are files of 4 GiB or more (the size field
//! has 32 bits) and an epoch past 2106 (so has the mtime field).
//!
//! # Compression
//!
//! [`Compression::Gzip`] pipes the archive through `gzip -9 -n` (no name, no time stamp in
//! its header), which every Linux kernel configured for an initramfs can unpack (Debian's:
//! `CONFIG_RD_GZIP=y`). [`Compression::None`] leaves it as it is: larger, and the kernel
//! needs no decompressor. The output is written under a temporary name beside it and renamed
//! at the end, so a failed run leaves nothing behind.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use crate::Status;

/// The magic of a `newc` header.
pub const NEWC_MAGIC: &[u8; 6] = b"070701";

/// Bytes of a `newc` header.
pub const HEADER_LEN: usize = 110;

/// The name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";

/// The compressor and the Debian package that has it.
const GZIP: (&str, &str) = ("gzip", "gzip");

/// File type bits of a mode.
const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;

/// How the archive is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not at all.
    None,
    /// `gzip -9 -n`.
    Gzip,
}

/// How to write an initramfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitramfsSpec {
    /// The mtime of every entry, in seconds since 1970 (UTC).
    pub source_date_epoch: u64,
    /// How the archive is compressed.
    pub compression: Compression,
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitramfsInfo {
    /// Entries in the archive (the trailer not counted).
    pub entries: u64,
    /// Bytes of the archive before compression.
    pub archive_len: u64,
    /// Bytes of the output file.
    pub len: u64,
}

/// Why an initramfs could not be written.
#[derive(Debug)]
pub enum InitramfsError {
    /// The tree is not a directory.
    NotADirectory(PathBuf),
    /// The output would be inside the tree it is made from.
    OutputInside {
        /// The output.
        out: PathBuf,
        /// The tree.
        tree: PathBuf,
    },
    /// Something an archive cannot hold.
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What it is.
        what: &'static str,
    },
    /// A file of 4 GiB or more.
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// `SOURCE_DATE_EPOCH` does not fit the 32-bit mtime field (after 2106-02-07).
    EpochTooLarge(u64),
    /// gzip is not installed.
    ToolMissing {
        /// The command.
        tool: &'static str,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// gzip failed.
    ToolFailed {
        /// The command.
        tool: &'static str,
        /// How it ended.
        status: ExitStatus,
        /// What it said.
        output: String,
    },
    /// A file could not be read or written.
    Io {
        /// What we were doing, as a verb phrase.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
}

impl InitramfsError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> InitramfsError {
        InitramfsError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The exit status this error maps to: a tree an archive cannot hold is a "no", a bad
    /// request a usage error, the rest a system failure.
    pub fn status(&self) -> Status {
        match self {
            InitramfsError::Unsupported { .. } | InitramfsError::TooLarge { .. } => Status::No,
            InitramfsError::NotADirectory(_)
            | InitramfsError::OutputInside { .. }
            | InitramfsError::EpochTooLarge(_) => Status::Usage,
            InitramfsError::ToolMissing { .. }
            | InitramfsError::ToolFailed { .. }
            | InitramfsError::Io { .. } => Status::System,
        }
    }
}

impl fmt::Display for InitramfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InitramfsError::NotADirectory(path) => write!(
                f,
                "{} is not a directory: an initramfs is made from a folder tree",
                path.display()
            ),
            InitramfsError::OutputInside { out, tree } => write!(
                f,
                "the initramfs {} would be inside the tree {} it is made from: write it \
                 elsewhere",
                out.display(),
                tree.display()
            ),
            InitramfsError::Unsupported { path, what } => write!(
                f,
                "{}: a {what} cannot be put into an initramfs: remove it from the tree",
                path.display()
            ),
            InitramfsError::TooLarge { path, len } => write!(
                f,
                "{}: {len} bytes, but a cpio newc entry holds less than 4 GiB: leave it out of \
                 the initramfs",
                path.display()
            ),
            InitramfsError::EpochTooLarge(epoch) => write!(
                f,
                "SOURCE_DATE_EPOCH {epoch} is after 2106-02-07, past what a cpio mtime can hold: \
                 give an earlier time"
            ),
            InitramfsError::ToolMissing { tool, package } => write!(
                f,
                "{tool} is not installed: install it (apt-get install {package}), or write the \
                 initramfs uncompressed"
            ),
            InitramfsError::ToolFailed {
                tool,
                status,
                output,
            } => write!(f, "{tool} failed ({status}): {}", output.trim()),
            InitramfsError::Io {
                action,
                path,
                source,
            } => write!(f, "unable to {action} {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for InitramfsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            InitramfsError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// One entry of the tree.
struct Entry {
    /// Path relative to the tree, as bytes.
    name: Vec<u8>,
    /// Where it is on the host.
    source: PathBuf,
    /// Type and permission bits.
    mode: u32,
    /// Device numbers of a device node.
    rdev: (u32, u32),
    /// What follows the header: a file's size, a link target's length.
    len: u64,
}

/// Writes the initramfs of `tree` to `out`.
pub fn write_initramfs(
    tree: &Path,
    out: &Path,
    spec: &InitramfsSpec,
) -> Result<InitramfsInfo, InitramfsError> {
    let entries = list_tree(tree)?;
    check_outside(tree, out)?;
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".initramfs-")
        .tempfile_in(dir)
        .map_err(|e| InitramfsError::io("create a temporary file in", dir, e))?;
    let mtime = u32::try_from(spec.source_date_epoch)
        .map_err(|_| InitramfsError::EpochTooLarge(spec.source_date_epoch))?;
    let archive_len = match spec.compression {
        Compression::None => {
            let mut writer = BufWriter::new(temp.as_file());
            let len = write_entries(&entries, mtime, &mut writer)?;
            writer
                .flush()
                .map_err(|e| InitramfsError::io("write", temp.path(), e))?;
            len
        }
        Compression::Gzip => {
            let sink = temp
                .as_file()
                .try_clone()
                .map_err(|e| InitramfsError::io("write", temp.path(), e))?;
            let path = crate::tool::find(GZIP.0).ok_or(InitramfsError::ToolMissing {
                tool: GZIP.0,
                package: GZIP.1,
            })?;
            let mut child = Command::new(path)
                .args(["-9", "-n", "-c"])
                .stdin(Stdio::piped())
                .stdout(Stdio::from(sink))
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| InitramfsError::io("run", Path::new(GZIP.0), e))?;
            let written = match child.stdin.take() {
                Some(stdin) => {
                    let mut writer = BufWriter::new(stdin);
                    write_entries(&entries, mtime, &mut writer).and_then(|len| {
                        writer
                            .flush()
                            .map_err(|e| InitramfsError::io("write to", Path::new(GZIP.0), e))?;
                        Ok(len)
                    })
                }
                None => Err(InitramfsError::io(
                    "write to",
                    Path::new(GZIP.0),
                    io::Error::other("no pipe"),
                )),
            };
            // The pipe is closed (dropped) by now: gzip finishes.
            let mut said = String::new();
            if let Some(mut err) = child.stderr.take() {
                let _ = err.read_to_string(&mut said);
            }
            let status = child
                .wait()
                .map_err(|e| InitramfsError::io("run", Path::new(GZIP.0), e))?;
            let len = written?;
            if !status.success() {
                return Err(InitramfsError::ToolFailed {
                    tool: GZIP.0,
                    status,
                    output: said,
                });
            }
            len
        }
    };
    temp.as_file()
        .sync_all()
        .map_err(|e| InitramfsError::io("write", temp.path(), e))?;
    let len = temp
        .as_file()
        .metadata()
        .map_err(|e| InitramfsError::io("read", temp.path(), e))?
        .len();
    set_mode_0644(temp.path())?;
    temp.persist(out)
        .map_err(|e| InitramfsError::io("rename a temporary file to", out, e.error))?;
    Ok(InitramfsInfo {
        entries: entries.len() as u64,
        archive_len,
        len,
    })
}

/// Writes the uncompressed `newc` archive of `tree` to `out`, every mtime `epoch`; returns
/// its length in bytes.
pub fn write_cpio(tree: &Path, epoch: u64, out: &mut dyn Write) -> Result<u64, InitramfsError> {
    let entries = list_tree(tree)?;
    let mtime = u32::try_from(epoch).map_err(|_| InitramfsError::EpochTooLarge(epoch))?;
    write_entries(&entries, mtime, out)
}

/// Temporary files are created 0600; an initramfs is no secret.
fn set_mode_0644(path: &Path) -> Result<(), InitramfsError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
        .map_err(|e| InitramfsError::io("set the mode of", path, e))
}

/// Refuses an output inside the tree.
fn check_outside(tree: &Path, out: &Path) -> Result<(), InitramfsError> {
    let tree_abs = fs::canonicalize(tree).map_err(|e| InitramfsError::io("read", tree, e))?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let parent_abs = fs::canonicalize(parent).map_err(|e| InitramfsError::io("read", parent, e))?;
    if parent_abs.starts_with(&tree_abs) {
        return Err(InitramfsError::OutputInside {
            out: out.to_path_buf(),
            tree: tree.to_path_buf(),
        });
    }
    Ok(())
}

/// Every entry below `tree`, in bytewise order of their relative paths.
fn list_tree(tree: &Path) -> Result<Vec<Entry>, InitramfsError> {
    let meta = fs::metadata(tree).map_err(|e| InitramfsError::io("read", tree, e))?;
    if !meta.is_dir() {
        return Err(InitramfsError::NotADirectory(tree.to_path_buf()));
    }
    let mut out = Vec::new();
    let mut pending = vec![(tree.to_path_buf(), Vec::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let listing = fs::read_dir(&dir).map_err(|e| InitramfsError::io("list", &dir, e))?;
        for item in listing {
            let item = item.map_err(|e| InitramfsError::io("list", &dir, e))?;
            let source = item.path();
            let meta = fs::symlink_metadata(&source)
                .map_err(|e| InitramfsError::io("read", &source, e))?;
            let mut name = prefix.clone();
            if !name.is_empty() {
                name.push(b'/');
            }
            name.extend_from_slice(item.file_name().as_bytes());
            let kind = meta.file_type();
            let unsupported = |what| InitramfsError::Unsupported {
                path: source.clone(),
                what,
            };
            let (len, rdev) = if kind.is_dir() {
                pending.push((source.clone(), name.clone()));
                (0, (0, 0))
            } else if kind.is_file() {
                (meta.len(), (0, 0))
            } else if kind.is_symlink() {
                let target =
                    fs::read_link(&source).map_err(|e| InitramfsError::io("read", &source, e))?;
                (target.as_os_str().len() as u64, (0, 0))
            } else if kind.is_char_device() || kind.is_block_device() {
                (0, split_rdev(meta.rdev()))
            } else if kind.is_fifo() {
                (0, (0, 0))
            } else if kind.is_socket() {
                return Err(unsupported("socket"));
            } else {
                return Err(unsupported("file of unknown type"));
            };
            if len > u64::from(u32::MAX) {
                return Err(InitramfsError::TooLarge { path: source, len });
            }
            out.push(Entry {
                name,
                source,
                mode: meta.mode(),
                rdev,
                len,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Linux's `MAJOR()` and `MINOR()` of a `dev_t`.
fn split_rdev(rdev: u64) -> (u32, u32) {
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    (major as u32, minor as u32)
}

/// Writes the entries and the trailer; returns the bytes written.
fn write_entries(
    entries: &[Entry],
    mtime: u32,
    out: &mut dyn Write,
) -> Result<u64, InitramfsError> {
    let mut written = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    for (i, entry) in entries.iter().enumerate() {
        let is_dir = entry.mode & S_IFMT == S_IFDIR;
        let header = Header {
            ino: u32::try_from(i + 1).unwrap_or(u32::MAX),
            mode: entry.mode & (S_IFMT | 0o7777),
            nlink: if is_dir { 2 } else { 1 },
            mtime,
            filesize: u32::try_from(entry.len).unwrap_or(u32::MAX),
            rdev: entry.rdev,
            name: &entry.name,
        };
        let fail = |e| InitramfsError::io("write the initramfs entry for", &entry.source, e);
        written += header.write(out).map_err(fail)?;
        let kind = entry.mode & S_IFMT;
        let mut data_len = 0u64;
        if kind == S_IFLNK {
            let target = fs::read_link(&entry.source)
                .map_err(|e| InitramfsError::io("read", &entry.source, e))?;
            let bytes = target.as_os_str().as_bytes();
            out.write_all(bytes).map_err(fail)?;
            data_len = bytes.len() as u64;
        } else if kind == S_IFREG {
            let mut file = File::open(&entry.source)
                .map_err(|e| InitramfsError::io("open", &entry.source, e))?;
            loop {
                let n = match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(InitramfsError::io("read", &entry.source, e)),
                };
                data_len += n as u64;
                if data_len > entry.len {
                    break;
                }
                out.write_all(buf.get(..n).unwrap_or_default())
                    .map_err(fail)?;
            }
        }
        if data_len != entry.len {
            return Err(InitramfsError::io(
                "read",
                &entry.source,
                io::Error::other("the file changed size while it was archived"),
            ));
        }
        written += data_len;
        written += pad(out, data_len).map_err(fail)?;
    }
    let trailer = Header {
        ino: 0,
        mode: 0,
        nlink: 1,
        mtime: 0,
        filesize: 0,
        rdev: (0, 0),
        name: TRAILER.as_bytes(),
    };
    written += trailer
        .write(out)
        .map_err(|e| InitramfsError::io("write", Path::new("the initramfs"), e))?;
    Ok(written)
}

/// Zero bytes after `len` bytes up to a multiple of 4; returns how many.
fn pad(out: &mut dyn Write, len: u64) -> io::Result<u64> {
    let n = (4 - len % 4) % 4;
    out.write_all(&[0u8; 3][..n as usize])?;
    Ok(n)
}

/// A `newc` header and name.
struct Header<'a> {
    ino: u32,
    mode: u32,
    nlink: u32,
    mtime: u32,
    filesize: u32,
    rdev: (u32, u32),
    name: &'a [u8],
}

impl Header<'_> {
    /// Writes the header, the name, its NUL and the padding; returns the bytes written.
    fn write(&self, out: &mut dyn Write) -> io::Result<u64> {
        let namesize = u32::try_from(self.name.len() + 1).unwrap_or(u32::MAX);
        let fields = [
            self.ino,
            self.mode,
            0, // uid
            0, // gid
            self.nlink,
            self.mtime,
            self.filesize,
            0, // devmajor
            0, // devminor
            self.rdev.0,
            self.rdev.1,
            namesize,
            0, // check
        ];
        let mut header = Vec::with_capacity(HEADER_LEN + self.name.len() + 4);
        header.extend_from_slice(NEWC_MAGIC);
        for field in fields {
            header.extend_from_slice(format!("{field:08X}").as_bytes());
        }
        header.extend_from_slice(self.name);
        header.push(0);
        out.write_all(&header)?;
        let len = header.len() as u64;
        Ok(len + pad(out, len)?)
    }
}

#[cfg(test)]
#[path = "initramfs_tests.rs"]
mod tests;
