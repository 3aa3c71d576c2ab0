//! A package's image (`.img`, squashfs) and its list of contents (`.lst`), made from the
//! destination directory of its build.
//!
//! # The `.lst` format
//!
//! UTF-8 text, one line per path in the package, each ending in `\n`, seven fields separated
//! by one tab:
//!
//! ```text
//! PATH            TYPE  MODE  OWNER  SIZE  SHA256                      TARGET
//! /               d     0755  0:0    -     -                           -
//! /usr/bin/hello  f     0755  0:0    16    4ae3…(64 hex digits)        -
//! /usr/bin/hi     l     0777  0:0    -     -                           hello
//! ```
//!
//! (Aligned here for reading: in the file, fields are separated by exactly one tab, each line
//! ends in a line feed, and there is no header line.)
//!
//! - `PATH`: absolute, as the path will be on the board with the package mounted at `/`; the
//!   root itself is `/`. Lines are sorted by the bytes of the path (so `/a-b` comes before
//!   `/a/b`), directories included.
//! - `TYPE`: `f` file, `d` directory, `l` symbolic link; nothing else can be in a package.
//! - `MODE`: the permission bits, four octal digits (`0644`, `0755`, `1777`). The root is
//!   always `0755`, whatever the mode of the directory it was made from, as in the image.
//! - `OWNER`: `uid:gid`, always `0:0`: the image makes every file root's.
//! - `SIZE`: for a file its size in bytes, decimal; otherwise `-`.
//! - `SHA256`: for a file the SHA-256 of its contents, 64 lowercase hex digits; otherwise `-`.
//! - `TARGET`: for a symbolic link its target, as stored; otherwise `-`.
//!
//! In `PATH` and `TARGET`, a backslash is written `\\`, tab `\t`, line feed `\n`, carriage
//! return `\r`, any other byte below 0x20, 0x7f and every byte that is not part of valid UTF-8
//! `\xHH` (two lowercase hex digits); everything else is written as it is. Hard links are
//! listed under each of their names as files.
//!
//! # The image
//!
//! `mksquashfs` (Debian package `squashfs-tools`, 4.4 or later) writes the image with
//! [`MKSQUASHFS_FLAGS`] plus `-mkfs-time EPOCH -all-time EPOCH`: every file owned by 0:0,
//! every time stamp the build's `SOURCE_DATE_EPOCH` (clamping taken to its end: one time for
//! everything, so the host's time stamps never matter), no extended attributes, a fixed
//! compressor and block size, and the root directory `0755`. mksquashfs orders its output
//! deterministically (`-reproducible`, the default since 4.4, named so an older default cannot
//! creep in) whatever the number of threads, so the same tree gives the same bytes on any
//! machine. The image is written under a temporary name beside the output and renamed at the
//! end, so a failed run leaves nothing behind.

use std::fmt;
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use sha2::{Digest, Sha256};

use crate::Status;

/// The flags given to every `mksquashfs` run, besides the two times.
pub const MKSQUASHFS_FLAGS: &[&str] = &[
    "-noappend",
    "-reproducible",
    "-all-root",
    "-no-xattrs",
    "-root-mode",
    "0755",
    "-comp",
    "xz",
    "-b",
    "131072",
    "-exit-on-error",
    "-no-progress",
    "-quiet",
];

/// The image writer and the Debian package that has it.
const MKSQUASHFS: &str = "mksquashfs";
const SQUASHFS_PACKAGE: &str = "squashfs-tools";

/// What went wrong listing a tree or writing its image.
#[derive(Debug)]
pub enum ImageError {
    /// mksquashfs is not installed.
    Missing,
    /// A file or directory could not be read, written or created.
    Io {
        /// What we were doing, as a verb phrase ("read", "create").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// The tree to pack is not a directory.
    NotADirectory(PathBuf),
    /// Something a package cannot hold: a device node, socket or FIFO.
    Unsupported {
        /// The file.
        path: PathBuf,
    },
    /// `SOURCE_DATE_EPOCH` does not fit squashfs' 32-bit time stamps (after 2106-02-07).
    EpochTooLarge(u64),
    /// The output path has no file name.
    NoFileName(PathBuf),
    /// The output would be inside the tree it is made from.
    OutputInside {
        /// The output.
        out: PathBuf,
        /// The tree.
        tree: PathBuf,
    },
    /// mksquashfs failed.
    Failed {
        /// How it ended.
        status: ExitStatus,
        /// What it said.
        stderr: String,
    },
}

impl ImageError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        ImageError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The exit status this error maps to: a tree a package cannot hold is a "no", a bad
    /// request a usage error, the rest a system failure.
    pub fn status(&self) -> Status {
        match self {
            ImageError::Unsupported { .. } => Status::No,
            ImageError::NotADirectory(_)
            | ImageError::EpochTooLarge(_)
            | ImageError::NoFileName(_)
            | ImageError::OutputInside { .. } => Status::Usage,
            ImageError::Missing | ImageError::Io { .. } | ImageError::Failed { .. } => {
                Status::System
            }
        }
    }
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageError::Missing => write!(
                f,
                "{MKSQUASHFS} is not installed: package images are squashfs; install it with \
                 `apt-get install {SQUASHFS_PACKAGE}`"
            ),
            ImageError::Io {
                action,
                path,
                source,
            } => write!(f, "unable to {action} {}: {source}", path.display()),
            ImageError::NotADirectory(path) => {
                write!(f, "{} is not a directory: nothing to pack", path.display())
            }
            ImageError::Unsupported { path } => write!(
                f,
                "refusing {}: not a file, directory or symbolic link; a package holds nothing else",
                path.display()
            ),
            ImageError::EpochTooLarge(epoch) => write!(
                f,
                "SOURCE_DATE_EPOCH {epoch} is past 2106-02-07, the last time squashfs can \
                 store: give a smaller one"
            ),
            ImageError::NoFileName(path) => {
                write!(f, "{} names no file to write the image to", path.display())
            }
            ImageError::OutputInside { out, tree } => write!(
                f,
                "{} is inside {}, the tree it would be made from: write it elsewhere",
                out.display(),
                tree.display()
            ),
            ImageError::Failed { status, stderr } => {
                write!(f, "{MKSQUASHFS} failed ({status})")?;
                let said = stderr.trim();
                if !said.is_empty() {
                    write!(f, ": {said}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for ImageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ImageError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// What one path of the tree is.
enum Kind {
    Dir,
    File { size: u64, sha256: [u8; 32] },
    Link(Vec<u8>),
}

/// The `.lst` of the tree at `destdir` (format in the module documentation).
pub fn write_list(destdir: &Path) -> Result<String, ImageError> {
    let meta = fs::metadata(destdir).map_err(|e| ImageError::io("open", destdir, e))?;
    if !meta.is_dir() {
        return Err(ImageError::NotADirectory(destdir.to_path_buf()));
    }
    let mut entries = vec![(b"/".to_vec(), 0o755, Kind::Dir)];
    collect(destdir, b"", &mut entries)?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    let mut out = String::new();
    for (path, mode, kind) in entries {
        escape(&path, &mut out);
        let (letter, size, sha256, target) = match kind {
            Kind::Dir => ('d', "-".to_string(), "-".to_string(), None),
            Kind::File { size, sha256 } => ('f', size.to_string(), hex(&sha256), None),
            Kind::Link(target) => ('l', "-".to_string(), "-".to_string(), Some(target)),
        };
        out.push_str(&format!("\t{letter}\t{mode:04o}\t0:0\t{size}\t{sha256}\t"));
        match target {
            Some(target) => escape(&target, &mut out),
            None => out.push('-'),
        }
        out.push('\n');
    }
    Ok(out)
}

/// Adds every entry below `dir` (whose path in the package is `at`) to `entries`.
fn collect(
    dir: &Path,
    at: &[u8],
    entries: &mut Vec<(Vec<u8>, u32, Kind)>,
) -> Result<(), ImageError> {
    for entry in fs::read_dir(dir).map_err(|e| ImageError::io("list", dir, e))? {
        let entry = entry.map_err(|e| ImageError::io("list", dir, e))?;
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).map_err(|e| ImageError::io("read", &path, e))?;
        let mut name = at.to_vec();
        name.push(b'/');
        name.extend_from_slice(entry.file_name().as_bytes());
        let mode = meta.mode() & 0o7777;
        let kind = meta.file_type();
        if kind.is_dir() {
            collect(&path, &name, entries)?;
            entries.push((name, mode, Kind::Dir));
        } else if kind.is_file() {
            let sha256 = hash_file(&path)?;
            entries.push((
                name,
                mode,
                Kind::File {
                    size: meta.len(),
                    sha256,
                },
            ));
        } else if kind.is_symlink() {
            let target = fs::read_link(&path).map_err(|e| ImageError::io("read", &path, e))?;
            entries.push((
                name,
                mode,
                Kind::Link(target.as_os_str().as_bytes().to_vec()),
            ));
        } else {
            return Err(ImageError::Unsupported { path });
        }
    }
    Ok(())
}

fn hash_file(path: &Path) -> Result<[u8; 32], ImageError> {
    let mut file = File::open(path).map_err(|e| ImageError::io("read", path, e))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut hasher).map_err(|e| ImageError::io("read", path, e))?;
    Ok(hasher.finalize().into())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Appends `bytes` to `out`, escaped as the module documentation says.
fn escape(bytes: &[u8], out: &mut String) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\t' => out.push_str("\\t"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                c if (c as u32) < 0x20 || c == '\x7f' => {
                    out.push_str(&format!("\\x{:02x}", c as u32));
                }
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
}

/// Writes the squashfs image of the tree at `destdir` to `out_img`, every time stamp
/// `source_date_epoch` (see the module documentation for the flags). Replaces `out_img` only
/// once the whole image is written; a failed run leaves nothing behind.
pub fn write_image(
    destdir: &Path,
    out_img: &Path,
    source_date_epoch: u64,
) -> Result<(), ImageError> {
    let tree = fs::canonicalize(destdir).map_err(|e| ImageError::io("open", destdir, e))?;
    if !tree.is_dir() {
        return Err(ImageError::NotADirectory(destdir.to_path_buf()));
    }
    let epoch = u32::try_from(source_date_epoch)
        .map_err(|_| ImageError::EpochTooLarge(source_date_epoch))?;
    let name = out_img
        .file_name()
        .ok_or_else(|| ImageError::NoFileName(out_img.to_path_buf()))?;
    let parent = match out_img.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let parent = fs::canonicalize(parent).map_err(|e| ImageError::io("open", parent, e))?;
    if parent.starts_with(&tree) {
        return Err(ImageError::OutputInside {
            out: out_img.to_path_buf(),
            tree: destdir.to_path_buf(),
        });
    }

    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = Temporary(parent.join(temp_name));
    let epoch = epoch.to_string();
    let out = Command::new(MKSQUASHFS)
        .arg(&tree)
        .arg(&temp.0)
        .args(MKSQUASHFS_FLAGS)
        .args(["-mkfs-time", &epoch, "-all-time", &epoch])
        // mksquashfs refuses SOURCE_DATE_EPOCH beside the time flags.
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => ImageError::Missing,
            _ => ImageError::io("run", Path::new(MKSQUASHFS), e),
        })?;
    if !out.status.success() {
        let mut said = String::from_utf8_lossy(&out.stderr).into_owned();
        if said.trim().is_empty() {
            said = String::from_utf8_lossy(&out.stdout).into_owned();
        }
        return Err(ImageError::Failed {
            status: out.status,
            stderr: said,
        });
    }
    File::open(&temp.0)
        .and_then(|f| f.sync_all())
        .map_err(|e| ImageError::io("write", &temp.0, e))?;
    fs::rename(&temp.0, out_img).map_err(|e| ImageError::io("create", out_img, e))?;
    temp.keep();
    Ok(())
}

/// A file removed when dropped, unless kept.
struct Temporary(PathBuf);

impl Temporary {
    /// Leaves the file in place (it has been renamed).
    fn keep(mut self) {
        self.0 = PathBuf::new();
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if !self.0.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.0);
        }
    }
}

#[cfg(test)]
#[path = "pkgimage_tests.rs"]
mod tests;
