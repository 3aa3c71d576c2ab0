//! File system images for the boot (vfat) and data (ext4) partitions, made from a directory
//! with the Debian tools, byte-reproducible.
//!
//! # vfat
//!
//! `mkfs.fat --invariant -i VOLID` (dosfstools) formats a file of the size asked for: fixed
//! volume id, fixed creation times. mtools then adds the tree without mounting: `mmd` makes
//! every directory, then one `mcopy` per directory copies its files, all in byte order of
//! their names, so directory entries always come in the same order. mtools stamps every entry
//! with `SOURCE_DATE_EPOCH` (read in UTC: `TZ=UTC`), never the host files' times. vfat holds
//! files and directories only: links, device nodes and names it cannot store (or two names it
//! would see as one, `README` and `readme`) are refused.
//!
//! # ext4
//!
//! `mke2fs -t ext4` (e2fsprogs) formats a file with a fixed UUID, directory hash seed and
//! root owner, its features pinned by a configuration of our own (`MKE2FS_CONFIG`, Debian
//! 12's defaults), inode tables and journal written out rather than left to the host's
//! discard support, and every time stamp `E2FSPROGS_FAKE_TIME`. `debugfs -w` then adds the
//! tree, in byte order of names, and sets each inode's mode and owner (0:0): unlike
//! `mke2fs -d`, which copies the host files' owners and times (ctime included, which no one
//! can set), nothing of the host leaks in.
//!
//! Both are written under a temporary name beside the output and renamed into place once
//! complete.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{DiskError, Guid, Temporary};
use crate::tool::{Failure, Tool};

/// A vfat file system to make.
#[derive(Debug, Clone, Copy)]
pub struct VfatSpec<'a> {
    /// Its size in bytes: a non-zero multiple of 512.
    pub size: u64,
    /// Its volume label: 1 to 11 characters, uppercase ASCII letters, digits, space and
    /// `!#$%&'()-@^_`{}~`.
    pub label: &'a str,
    /// Its volume id (serial number), as `mkfs.fat -i` takes it.
    pub volume_id: u32,
    /// The time stamp of every file and directory, in seconds since 1970 (UTC): 1980 to 2107.
    pub source_date_epoch: u64,
}

/// An ext4 file system to make.
#[derive(Debug, Clone, Copy)]
pub struct Ext4Spec<'a> {
    /// Its size in bytes: a non-zero multiple of 4096, the block size.
    pub size: u64,
    /// Its volume label: at most 16 bytes.
    pub label: &'a str,
    /// Its UUID (what `root=UUID=` and `blkid` name).
    pub uuid: Guid,
    /// The seed of its directory index hashes.
    pub hash_seed: Guid,
    /// Every time stamp, in seconds since 1970 (UTC): up to 2106.
    pub source_date_epoch: u64,
}

/// The tools and the Debian packages that have them.
const MKFS_FAT: (&str, &str) = ("mkfs.fat", "dosfstools");
const MMD: (&str, &str) = ("mmd", "mtools");
const MCOPY: (&str, &str) = ("mcopy", "mtools");
const MKE2FS: (&str, &str) = ("mke2fs", "e2fsprogs");
const DEBUGFS: (&str, &str) = ("debugfs", "e2fsprogs");

/// 1980-01-01 00:00:00 UTC and 2107-12-31 23:59:59 UTC: what a FAT time stamp can hold.
const FAT_EPOCHS: (u64, u64) = (315_532_800, 4_354_819_199);

/// The mke2fs configuration every ext4 image is made with: Debian 12's `/etc/mke2fs.conf`, so
/// a host whose defaults differ (newer features such as `orphan_file` that older board
/// kernels cannot mount) still makes the same file system.
const MKE2FS_CONF: &str = "\
[defaults]
\tbase_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
\tdefault_mntopts = acl,user_xattr
\tenable_periodic_fsck = 0
\tblocksize = 4096
\tinode_size = 256
\tinode_ratio = 16384

[fs_types]
\text3 = {
\t\tfeatures = has_journal
\t}
\text4 = {
\t\tfeatures = has_journal,extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
\t}
\tsmall = {
\t\tblocksize = 1024
\t\tinode_ratio = 4096
\t}
\tfloppy = {
\t\tblocksize = 1024
\t\tinode_ratio = 8192
\t}
\tbig = {
\t\tinode_ratio = 32768
\t}
\thuge = {
\t\tinode_ratio = 65536
\t}
\tnews = {
\t\tinode_ratio = 4096
\t}
\tlargefile = {
\t\tinode_ratio = 1048576
\t\tblocksize = -1
\t}
\tlargefile4 = {
\t\tinode_ratio = 4194304
\t\tblocksize = -1
\t}
";

/// Makes the vfat image `out` holding the tree at `tree` (or nothing).
pub fn make_vfat(tree: Option<&Path>, out: &Path, spec: &VfatSpec<'_>) -> Result<(), DiskError> {
    if spec.size == 0 || spec.size % 512 != 0 {
        return Err(DiskError::FsSize {
            fs: "vfat",
            size: spec.size,
            block: 512,
        });
    }
    check_vfat_label(spec.label)?;
    let epoch = spec.source_date_epoch;
    if !(FAT_EPOCHS.0..=FAT_EPOCHS.1).contains(&epoch) {
        return Err(DiskError::EpochOutOfRange {
            fs: "vfat",
            epoch,
            range: "from 1980 to 2107",
        });
    }
    let entries = match tree {
        Some(tree) => walk(tree)?,
        None => Vec::new(),
    };
    check_vfat_names(&entries)?;

    let temp = sized_temporary(out, spec.size)?;
    let volume_id = format!("{:08X}", spec.volume_id);
    run(
        MKFS_FAT,
        tool_command(MKFS_FAT)?
            .args(["--invariant", "-i", &volume_id, "-n", spec.label])
            .arg(temp.path()),
    )?;

    let mtools = |tool: (&'static str, &'static str)| -> Result<Command, DiskError> {
        let mut cmd = tool_command(tool)?;
        cmd.env("MTOOLS_SKIP_CHECK", "1")
            .env("SOURCE_DATE_EPOCH", epoch.to_string())
            .env("TZ", "UTC")
            .env("LC_ALL", "C.UTF-8")
            .arg("-i")
            .arg(temp.path());
        Ok(cmd)
    };
    let dirs: Vec<&Entry> = entries.iter().filter(|e| e.kind == Kind::Dir).collect();
    if !dirs.is_empty() {
        let mut cmd = mtools(MMD)?;
        cmd.args(dirs.iter().map(|e| mtools_path(&e.name)));
        run(MMD, &mut cmd)?;
    }
    // One mcopy per directory, its files in name order: the root first, then each
    // directory in the order made.
    let mut parents: Vec<&[u8]> = vec![b""];
    parents.extend(dirs.iter().map(|e| e.name.as_slice()));
    for parent in parents {
        let files: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.kind == Kind::File && e.parent() == parent)
            .collect();
        if files.is_empty() {
            continue;
        }
        let mut cmd = mtools(MCOPY)?;
        cmd.args(files.iter().map(|e| &e.source));
        let mut target = mtools_path(parent);
        target.push('/');
        cmd.arg(target);
        run(MCOPY, &mut cmd)?;
    }
    temp.persist(out)
}

/// Makes the ext4 image `out` holding the tree at `tree` (or nothing).
pub fn make_ext4(tree: Option<&Path>, out: &Path, spec: &Ext4Spec<'_>) -> Result<(), DiskError> {
    if spec.size == 0 || spec.size % 4096 != 0 {
        return Err(DiskError::FsSize {
            fs: "ext4",
            size: spec.size,
            block: 4096,
        });
    }
    if spec.label.len() > 16 {
        return Err(DiskError::BadLabel {
            fs: "ext4",
            label: spec.label.to_string(),
            rule: "ext4 labels are at most 16 bytes; shorten it",
        });
    }
    let epoch = spec.source_date_epoch;
    if epoch > u64::from(u32::MAX) {
        return Err(DiskError::EpochOutOfRange {
            fs: "ext4",
            epoch,
            range: "up to 2106-02-07",
        });
    }
    let entries = match tree {
        Some(tree) => walk(tree)?,
        None => Vec::new(),
    };
    let commands = debugfs_commands(&entries)?;

    let temp = sized_temporary(out, spec.size)?;
    let config = scratch_file(out, "mke2fs.conf", MKE2FS_CONF.as_bytes())?;
    let extended = format!(
        "hash_seed={},root_owner=0:0,nodiscard,lazy_itable_init=0,lazy_journal_init=0",
        spec.hash_seed
    );
    run(
        MKE2FS,
        tool_command(MKE2FS)?
            .env("MKE2FS_CONFIG", config.path())
            .env("E2FSPROGS_FAKE_TIME", epoch.to_string())
            .args(["-q", "-F", "-t", "ext4", "-b", "4096", "-L", spec.label])
            .args(["-U", &spec.uuid.to_string(), "-E", &extended])
            .arg(temp.path()),
    )?;
    if !commands.is_empty() {
        let script = scratch_file(out, "debugfs", &commands)?;
        let output = tool_command(DEBUGFS)?
            .env("E2FSPROGS_FAKE_TIME", epoch.to_string())
            .arg("-w")
            .arg("-f")
            .arg(script.path())
            .arg(temp.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| spawn_error(DEBUGFS, e))?;
        // debugfs exits 0 whatever its commands did: anything on standard error but its
        // version banner is a failed command.
        let stderr = String::from_utf8_lossy(&output.stderr);
        let complaints: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("debugfs "))
            .collect();
        if !output.status.success() || !complaints.is_empty() {
            return Err(DiskError::ToolFailed {
                tool: DEBUGFS.0,
                status: (!output.status.success()).then_some(output.status),
                output: complaints.join("\n"),
            });
        }
    }
    temp.persist(out)
}

/// What one path of the tree is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File,
    Link(Vec<u8>),
}

/// One path of the tree.
#[derive(Debug)]
struct Entry {
    /// Its path in the file system without the leading slash, `/`-separated (`EFI/BOOT`).
    name: Vec<u8>,
    /// Where it is on the host.
    source: PathBuf,
    kind: Kind,
    /// Its permission bits.
    mode: u32,
}

impl Entry {
    /// The name of the directory holding it (empty for the root).
    fn parent(&self) -> &[u8] {
        match self.name.iter().rposition(|&b| b == b'/') {
            Some(at) => &self.name[..at],
            None => b"",
        }
    }

    /// Its last component.
    fn file_name(&self) -> &[u8] {
        match self.name.iter().rposition(|&b| b == b'/') {
            Some(at) => &self.name[at + 1..],
            None => &self.name,
        }
    }
}

/// Every path below `tree`, each directory before what it holds, siblings in byte order.
fn walk(tree: &Path) -> Result<Vec<Entry>, DiskError> {
    let meta = fs::metadata(tree).map_err(|e| DiskError::io("open", tree, e))?;
    if !meta.is_dir() {
        return Err(DiskError::NotADirectory(tree.to_path_buf()));
    }
    // Absolute, so no source path reads as an option or an mtools drive letter.
    let tree = fs::canonicalize(tree).map_err(|e| DiskError::io("open", tree, e))?;
    let mut entries = Vec::new();
    walk_into(&tree, b"", &mut entries)?;
    Ok(entries)
}

fn walk_into(dir: &Path, at: &[u8], entries: &mut Vec<Entry>) -> Result<(), DiskError> {
    let mut children = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| DiskError::io("list", dir, e))? {
        let entry = entry.map_err(|e| DiskError::io("list", dir, e))?;
        children.push(entry.path());
    }
    children.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    for path in children {
        let meta = fs::symlink_metadata(&path).map_err(|e| DiskError::io("read", &path, e))?;
        let mut name = at.to_vec();
        if !name.is_empty() {
            name.push(b'/');
        }
        name.extend_from_slice(path.file_name().map(OsStrExt::as_bytes).unwrap_or_default());
        let mode = meta.mode() & 0o7777;
        let kind = meta.file_type();
        if kind.is_dir() {
            entries.push(Entry {
                name: name.clone(),
                source: path.clone(),
                kind: Kind::Dir,
                mode,
            });
            walk_into(&path, &name, entries)?;
        } else if kind.is_file() {
            entries.push(Entry {
                name,
                source: path,
                kind: Kind::File,
                mode,
            });
        } else if kind.is_symlink() {
            let target = fs::read_link(&path).map_err(|e| DiskError::io("read", &path, e))?;
            entries.push(Entry {
                name,
                source: path,
                kind: Kind::Link(target.as_os_str().as_bytes().to_vec()),
                mode,
            });
        } else {
            return Err(DiskError::Unsupported {
                path,
                why: "not a file, directory or symbolic link; a disk image holds nothing else",
            });
        }
    }
    Ok(())
}

fn check_vfat_label(label: &str) -> Result<(), DiskError> {
    let allowed =
        |c: char| c.is_ascii_uppercase() || c.is_ascii_digit() || " !#$%&'()-@^_`{}~".contains(c);
    if label.is_empty() || label.len() > 11 || !label.chars().all(allowed) {
        return Err(DiskError::BadLabel {
            fs: "vfat",
            label: label.to_string(),
            rule: "vfat labels are 1 to 11 characters: uppercase ASCII letters, digits, space \
                   and !#$%&'()-@^_`{}~",
        });
    }
    Ok(())
}

/// Refuses what vfat cannot hold: links, names it cannot store, names it would take as one.
fn check_vfat_names(entries: &[Entry]) -> Result<(), DiskError> {
    let mut seen: Vec<(Vec<u8>, String)> = Vec::new();
    for e in entries {
        if let Kind::Link(_) = e.kind {
            return Err(DiskError::Unsupported {
                path: e.source.clone(),
                why: "a symbolic link, which vfat cannot hold: copy what it points to instead",
            });
        }
        let Ok(name) = std::str::from_utf8(e.file_name()) else {
            return Err(DiskError::Unsupported {
                path: e.source.clone(),
                why: "its name is not UTF-8, which vfat names must be",
            });
        };
        if name
            .chars()
            .any(|c| c < ' ' || c == '\x7f' || "\"*/:<>?\\|".contains(c))
            || name.ends_with(['.', ' '])
        {
            return Err(DiskError::Unsupported {
                path: e.source.clone(),
                why: "vfat cannot store its name (no control characters, none of \"*/:<>?\\|, \
                      no trailing dot or space): rename it",
            });
        }
        let key = (e.parent().to_vec(), name.to_lowercase());
        if seen.contains(&key) {
            return Err(DiskError::Unsupported {
                path: e.source.clone(),
                why: "vfat ignores case, and another name in its directory differs from it \
                      only in case: rename one",
            });
        }
        seen.push(key);
    }
    Ok(())
}

/// `::/a/b`, an mtools path in the image, from a tree name.
fn mtools_path(name: &[u8]) -> String {
    // Names were checked to be UTF-8.
    format!("::/{}", String::from_utf8_lossy(name))
}

/// The debugfs script that adds `entries` to an empty file system, each owned by 0:0 with its
/// mode from the tree.
fn debugfs_commands(entries: &[Entry]) -> Result<Vec<u8>, DiskError> {
    let mut script = Vec::new();
    for e in entries {
        let path = quote(b"/", &e.name, &e.source)?;
        let (type_bits, line) = match &e.kind {
            Kind::Dir => (0o040000, [b"mkdir ".as_slice(), &path].concat()),
            Kind::File => {
                let source = quote(b"", e.source.as_os_str().as_bytes(), &e.source)?;
                (
                    0o100000,
                    [b"write ".as_slice(), &source, b" ", &path].concat(),
                )
            }
            Kind::Link(target) => {
                let target = quote(b"", target, &e.source)?;
                (
                    0o120000,
                    [b"symlink ".as_slice(), &path, b" ", &target].concat(),
                )
            }
        };
        script.extend_from_slice(&line);
        script.push(b'\n');
        let mode = if let Kind::Link(_) = e.kind {
            0o777
        } else {
            e.mode
        };
        for (field, value) in [
            ("mode", format!("0{:o}", type_bits | mode)),
            ("uid", "0".to_string()),
            ("gid", "0".to_string()),
        ] {
            script.extend_from_slice(b"sif ");
            script.extend_from_slice(&path);
            script.extend_from_slice(format!(" {field} {value}\n").as_bytes());
        }
    }
    Ok(script)
}

/// `"PREFIX NAME"`, quoted for debugfs' command parser, which cannot take a double quote
/// or a line break inside an argument.
fn quote(prefix: &[u8], name: &[u8], source: &Path) -> Result<Vec<u8>, DiskError> {
    if name
        .iter()
        .any(|&b| b == b'"' || b == b'\n' || b == b'\r' || b == 0)
    {
        return Err(DiskError::Unsupported {
            path: source.to_path_buf(),
            why: "its name holds a double quote or a line break, which debugfs cannot be given: \
                  rename it",
        });
    }
    Ok([b"\"".as_slice(), prefix, name, b"\""].concat())
}

/// A temporary file beside `out` of `size` bytes (all hole), to format.
fn sized_temporary(out: &Path, size: u64) -> Result<Temporary, DiskError> {
    let temp = Temporary::beside(out)?;
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp.path())
        .map_err(|e| DiskError::io("create", temp.path(), e))?;
    file.set_len(size)
        .map_err(|e| DiskError::io("write", temp.path(), e))?;
    Ok(temp)
}

/// A helper file (a configuration, a script) beside `out`, removed when dropped.
fn scratch_file(out: &Path, what: &str, bytes: &[u8]) -> Result<Temporary, DiskError> {
    let mut name = out.as_os_str().to_owned();
    name.push(format!(".{what}"));
    let temp = Temporary::beside(Path::new(&name))?;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temp.path())
        .map_err(|e| DiskError::io("create", temp.path(), e))?;
    file.write_all(bytes)
        .map_err(|e| DiskError::io("write", temp.path(), e))?;
    Ok(temp)
}

/// A command for `tool`, found by [`crate::tool::find`].
fn tool_command(tool: Tool) -> Result<Command, DiskError> {
    crate::tool::find(tool.0)
        .map(Command::new)
        .ok_or(DiskError::ToolMissing {
            tool: tool.0,
            package: tool.1,
        })
}

fn spawn_error(tool: Tool, e: io::Error) -> DiskError {
    match e.kind() {
        io::ErrorKind::NotFound => DiskError::ToolMissing {
            tool: tool.0,
            package: tool.1,
        },
        _ => DiskError::io("run", Path::new(tool.0), e),
    }
}

/// Runs `cmd` (which is `tool`) to its end, its output kept for the error if it fails.
fn run(tool: Tool, cmd: &mut Command) -> Result<(), DiskError> {
    crate::tool::run(cmd).map(drop).map_err(|f| match f {
        Failure::Missing => DiskError::ToolMissing {
            tool: tool.0,
            package: tool.1,
        },
        Failure::Spawn(e) => spawn_error(tool, e),
        Failure::Exited { status, said } => DiskError::ToolFailed {
            tool: tool.0,
            status: Some(status),
            output: said,
        },
    })
}

#[cfg(test)]
#[path = "fs_tests.rs"]
mod tests;
