//! Hybrid ISO 9660 images for UEFI boards (`qemu-x86_64`): one file that boots as a CD and,
//! written raw to a USB stick or disk, as a disk. Made with `xorriso -as mkisofs` (Debian's
//! xorriso), byte-reproducible.
//!
//! # Layout
//!
//! The EFI System Partition image (a FAT file system holding `EFI/BOOT/BOOTX64.EFI`) is stored
//! once, as the file [`EFI_IMAGE_PATH`] of the ISO 9660 tree, and found by both firmware paths:
//!
//! - **as a CD**: the El Torito boot catalog holds one entry, platform EFI, no emulation,
//!   naming that file (`-e /efi.img -no-emul-boot`); the firmware reads it as a FAT volume;
//! - **as a disk**: a GPT (behind a protective MBR) has an EFI System partition covering the
//!   same bytes (`-efi-boot-part --efi-boot-image`, as `grub-mkrescue` does), and the firmware
//!   boots it as it would a hard disk's. The rest of the ISO is covered by "gap" partitions
//!   of type Basic Data; the ISO 9660 file system is still read from the start of the disk.
//!
//! Not an appended partition (`-append_partition 2 0xef`, after the ISO 9660 volume): El
//! Torito counts a boot image's size in 512-byte sectors on 16 bits, so for an image over
//! 32 MiB xorriso records 0, which edk2 (OVMF) reads as "up to the end of the ISO 9660
//! volume" — nothing, when the image lies beyond it. Measured with OVMF: a 64 MiB appended
//! ESP (the `qemu-x86_64` board's boot partition size) boots as a disk but not as a CD;
//! stored in the tree it boots both ways, whatever its size.
//!
//! # Reproducible
//!
//! Two runs with the same inputs and `SOURCE_DATE_EPOCH` give the same bytes, whatever the
//! host files' owners, modes, times or inode numbers:
//!
//! - every file and directory time stamp is `SOURCE_DATE_EPOCH` (`--set_all_file_dates`), so
//!   are the volume's creation and modification dates, GRUB's UUID of it and the boot
//!   catalog's time (`--modification-date`);
//! - Rock Ridge records owner 0:0, mode 0444 for files and 0555 for directories (`-r`,
//!   `-file-mode`, `-dir-mode`): nothing on the image is executable or writable;
//! - the GPT disk GUID is derived from the volume id and the epoch ([`Guid::derive`]),
//!   the partition GUIDs from it by xorriso, instead of random ones;
//! - xorriso runs with no startup files (`-no_rc`) and a fixed environment (`LC_ALL=C`,
//!   `TZ=UTC`, `SOURCE_DATE_EPOCH`), standard input closed.
//!
//! No Joliet tree: the boards read Rock Ridge names. The image is written under a temporary
//! name beside the output and renamed into place once complete.

use std::collections::HashSet;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use crate::disk::Guid;
use crate::tool::{Failure, Tool};
use crate::Status;

/// Where the EFI System Partition image is in the ISO 9660 tree (no file may be put there).
pub const EFI_IMAGE_PATH: &str = "efi.img";

/// The longest volume id ISO 9660 stores.
pub const VOLUME_ID_MAX: usize = 32;

/// The last `SOURCE_DATE_EPOCH` an ISO 9660 directory record can store:
/// 2155-12-31 23:59:59 UTC (its year is a byte counted from 1900).
pub const EPOCH_MAX: u64 = 5_869_583_999;

/// The longest name of one path component, in bytes (Rock Ridge's limit in xorriso; longer
/// names would be cut and hashed).
pub const NAME_MAX: usize = 255;

/// The tool and the Debian package that has it.
const XORRISO: Tool = ("xorriso", "xorriso");

/// An ISO image to make.
#[derive(Debug, Clone, Copy)]
pub struct IsoSpec<'a> {
    /// The volume id: 1 to [`VOLUME_ID_MAX`] ISO 9660 d-characters (`A`-`Z`, `0`-`9`, `_`),
    /// e.g. `NANOLIN_PRIME`.
    pub volume_id: &'a str,
    /// A FAT file system image holding `EFI/BOOT/BOOTX64.EFI` (and whatever that loads): the
    /// El Torito EFI boot image and the EFI System partition, stored at [`EFI_IMAGE_PATH`].
    pub efi_image: &'a Path,
    /// The files to put in the ISO 9660 tree: their path in it (relative, `/`-separated, no
    /// `.` or `..`) and the file on the host. Directories above them are made; a host file
    /// named twice is stored once.
    pub files: &'a [(String, PathBuf)],
    /// `SOURCE_DATE_EPOCH`: every time stamp and the volume's dates, in seconds since 1970
    /// (UTC), up to [`EPOCH_MAX`].
    pub source_date_epoch: u64,
}

/// What [`make_iso`] made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IsoInfo {
    /// The size of the image, in bytes (a multiple of 2048).
    pub size: u64,
}

/// What went wrong making an ISO image.
#[derive(Debug)]
pub enum IsoError {
    /// A volume id ISO 9660 cannot store.
    BadVolumeId {
        /// The volume id.
        volume_id: String,
        /// The first character it cannot hold, or none when its length is wrong.
        bad: Option<char>,
    },
    /// A `SOURCE_DATE_EPOCH` past [`EPOCH_MAX`].
    EpochOutOfRange(u64),
    /// A path in the ISO that is not relative, `/`-separated and plain.
    BadIsoPath {
        /// The path.
        path: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Two files given one path in the ISO, or a file where another needs a directory.
    PathClash {
        /// The path given first.
        first: String,
        /// The path that clashes with it.
        second: String,
    },
    /// An input file that does not exist.
    MissingFile {
        /// The file on the host.
        path: PathBuf,
        /// What it was given for: "the EFI image", or its path in the ISO.
        purpose: String,
    },
    /// An input that is not a regular file (a directory, a device).
    NotAFile {
        /// The file on the host.
        path: PathBuf,
        /// What it was given for.
        purpose: String,
    },
    /// An EFI image that is not a FAT file system: no boot sector signature.
    NotFat(PathBuf),
    /// xorriso is not installed.
    ToolMissing,
    /// xorriso failed.
    ToolFailed {
        /// How it ended.
        status: ExitStatus,
        /// What it said: its complaints, or all its output when it made none.
        said: String,
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

impl IsoError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        IsoError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The exit status this error maps to: an EFI image that is not one is a "no", a spec no
    /// image can follow (volume id, epoch, paths, missing inputs) a usage error, a missing or
    /// failing tool or file a system failure.
    pub fn status(&self) -> Status {
        match self {
            IsoError::NotFat(_) => Status::No,
            IsoError::BadVolumeId { .. }
            | IsoError::EpochOutOfRange(_)
            | IsoError::BadIsoPath { .. }
            | IsoError::PathClash { .. }
            | IsoError::MissingFile { .. }
            | IsoError::NotAFile { .. } => Status::Usage,
            IsoError::ToolMissing | IsoError::ToolFailed { .. } | IsoError::Io { .. } => {
                Status::System
            }
        }
    }
}

impl fmt::Display for IsoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IsoError::BadVolumeId { volume_id, bad } => {
                match bad {
                    Some(c) => write!(
                        f,
                        "ISO volume id {volume_id:?} holds {c:?}, which ISO 9660 volume ids \
                         cannot: use uppercase A-Z, digits and _"
                    )?,
                    None => write!(
                        f,
                        "ISO volume id {volume_id:?} is {} characters: ISO 9660 stores 1 to \
                         {VOLUME_ID_MAX}",
                        volume_id.chars().count()
                    )?,
                }
                match suggest_volume_id(volume_id) {
                    Some(s) if s != *volume_id => write!(f, " (e.g. {s:?})"),
                    _ => Ok(()),
                }
            }
            IsoError::EpochOutOfRange(epoch) => write!(
                f,
                "SOURCE_DATE_EPOCH {epoch} is past 2155-12-31 23:59:59 UTC ({EPOCH_MAX}), the \
                 last time ISO 9660 stores: give an earlier time"
            ),
            IsoError::BadIsoPath { path, why } => {
                write!(f, "{path:?} cannot be a path in the ISO: {why}")
            }
            IsoError::PathClash { first, second } if first == second => write!(
                f,
                "two files are given the path {first:?} in the ISO: give each its own path"
            ),
            IsoError::PathClash { first, second } => write!(
                f,
                "{second:?} in the ISO needs {first:?} to be a directory, but a file is given \
                 that path: rename one"
            ),
            IsoError::MissingFile { path, purpose } => write!(
                f,
                "{} (given for {purpose}) does not exist: build it first or fix the path",
                path.display()
            ),
            IsoError::NotAFile { path, purpose } => write!(
                f,
                "{} (given for {purpose}) is not a regular file: give a file",
                path.display()
            ),
            IsoError::NotFat(path) => write!(
                f,
                "{} is not a FAT file system image (no boot sector signature): give the EFI \
                 System Partition image, made with make_vfat or mkfs.fat",
                path.display()
            ),
            IsoError::ToolMissing => write!(
                f,
                "{} is not installed: ISO images need it; install it with `apt-get install {}`",
                XORRISO.0, XORRISO.1
            ),
            IsoError::ToolFailed { status, said } => {
                write!(f, "{} failed ({status})", XORRISO.0)?;
                let said = said.trim();
                if !said.is_empty() {
                    write!(f, ": {said}")?;
                }
                Ok(())
            }
            IsoError::Io {
                action,
                path,
                source,
            } => write!(f, "unable to {action} {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for IsoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            IsoError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Makes the hybrid ISO image `out` (see the module documentation for its layout).
pub fn make_iso(spec: &IsoSpec<'_>, out: &Path) -> Result<IsoInfo, IsoError> {
    check_volume_id(spec.volume_id)?;
    let epoch = spec.source_date_epoch;
    if epoch > EPOCH_MAX {
        return Err(IsoError::EpochOutOfRange(epoch));
    }
    check_iso_paths(spec.files)?;
    check_input(spec.efi_image, "the EFI image")?;
    check_fat(spec.efi_image)?;
    for (iso_path, host) in spec.files {
        check_input(host, iso_path)?;
    }

    let xorriso = crate::tool::find(XORRISO.0).ok_or(IsoError::ToolMissing)?;
    let temp = temporary_beside(out)?;
    let guid = Guid::derive(&format!("{} {epoch}", spec.volume_id), "iso gpt disk");
    let mut cmd = Command::new(xorriso);
    cmd.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .args(["-no_rc", "-as", "mkisofs", "-o"])
        .arg(&temp)
        .args(["-V", spec.volume_id, "-iso-level", "3"])
        .args(["-r", "-file-mode", "0444", "-dir-mode", "0555"])
        .arg(format!("--modification-date={}", iso_date(epoch)))
        .args(["--set_all_file_dates", &format!("={epoch}")])
        .args(["--gpt_disk_guid", &guid.to_string()])
        .args(["-e", &format!("/{EFI_IMAGE_PATH}"), "-no-emul-boot"])
        .args(["-efi-boot-part", "--efi-boot-image", "--boot-catalog-hide"])
        .arg("-graft-points")
        .arg(graft_point(EFI_IMAGE_PATH, spec.efi_image));
    for (iso_path, host) in spec.files {
        cmd.arg(graft_point(iso_path, host));
    }
    crate::tool::run(&mut cmd).map_err(|failure| match failure {
        Failure::Missing => IsoError::ToolMissing,
        Failure::Spawn(e) => IsoError::io("run", Path::new(XORRISO.0), e),
        Failure::Exited { status, said } => IsoError::ToolFailed {
            status,
            said: complaints(&said),
        },
    })?;

    let file = fs::File::open(&temp).map_err(|e| IsoError::io("open", &temp, e))?;
    file.sync_all()
        .map_err(|e| IsoError::io("write", &temp, e))?;
    let size = file
        .metadata()
        .map_err(|e| IsoError::io("read", &temp, e))?
        .len();
    temp.persist(out)
        .map_err(|e| IsoError::io("create", out, e.error))?;
    Ok(IsoInfo { size })
}

/// Refuses a volume id that is empty, longer than [`VOLUME_ID_MAX`] or holds anything but
/// d-characters.
fn check_volume_id(volume_id: &str) -> Result<(), IsoError> {
    let bad = volume_id
        .chars()
        .find(|&c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'));
    if bad.is_some() || volume_id.is_empty() || volume_id.len() > VOLUME_ID_MAX {
        return Err(IsoError::BadVolumeId {
            volume_id: volume_id.to_string(),
            bad,
        });
    }
    Ok(())
}

/// A valid volume id close to `volume_id`: uppercase, other characters as `_`, cut to
/// [`VOLUME_ID_MAX`]; none for an empty one.
fn suggest_volume_id(volume_id: &str) -> Option<String> {
    let s: String = volume_id
        .chars()
        .map(|c| c.to_ascii_uppercase())
        .map(|c| {
            if c.is_ascii_uppercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .take(VOLUME_ID_MAX)
        .collect();
    (!s.is_empty()).then_some(s)
}

/// Refuses paths in the ISO that are not relative and plain, that name the EFI image's place,
/// or that clash with one another.
fn check_iso_paths(files: &[(String, PathBuf)]) -> Result<(), IsoError> {
    let bad = |path: &str, why| IsoError::BadIsoPath {
        path: path.to_string(),
        why,
    };
    for (path, _) in files {
        if path.is_empty() {
            return Err(bad(path, "it is empty: give the file's path in the ISO"));
        }
        if path.starts_with('/') {
            return Err(bad(
                path,
                "it is absolute: give it relative to the ISO's root, without the leading /",
            ));
        }
        if path.chars().any(char::is_control) {
            return Err(bad(path, "it holds a control character: rename it"));
        }
        for part in path.split('/') {
            match part {
                "" => {
                    return Err(bad(
                        path,
                        "it has an empty component (// or a trailing /): name a file",
                    ))
                }
                "." | ".." => {
                    return Err(bad(
                        path,
                        "it has a . or .. component: give the plain path of the file",
                    ))
                }
                _ if part.len() > NAME_MAX => {
                    return Err(bad(
                        path,
                        "a component is longer than 255 bytes, which Rock Ridge cannot hold: \
                         shorten it",
                    ))
                }
                _ => {}
            }
        }
        if path == EFI_IMAGE_PATH {
            return Err(bad(
                path,
                "the EFI image is stored there: give the file another path",
            ));
        }
    }
    // The EFI image is a file at EFI_IMAGE_PATH; every path's directories must not be files.
    let mut taken: HashSet<&str> = HashSet::from([EFI_IMAGE_PATH]);
    for (path, _) in files {
        if !taken.insert(path) {
            return Err(IsoError::PathClash {
                first: path.clone(),
                second: path.clone(),
            });
        }
    }
    for (path, _) in files {
        let mut dirs = path.match_indices('/').map(|(at, _)| &path[..at]);
        if let Some(file) = dirs.find(|dir| taken.contains(dir)) {
            return Err(IsoError::PathClash {
                first: file.to_string(),
                second: path.clone(),
            });
        }
    }
    Ok(())
}

/// Refuses an input that is missing or not a regular file.
fn check_input(path: &Path, purpose: &str) -> Result<(), IsoError> {
    match fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(IsoError::NotAFile {
            path: path.to_path_buf(),
            purpose: purpose.to_string(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(IsoError::MissingFile {
            path: path.to_path_buf(),
            purpose: purpose.to_string(),
        }),
        Err(e) => Err(IsoError::io("read", path, e)),
    }
}

/// Refuses an EFI image without the boot sector signature every FAT file system has.
fn check_fat(path: &Path) -> Result<(), IsoError> {
    let mut sector = [0u8; 512];
    let mut file = fs::File::open(path).map_err(|e| IsoError::io("open", path, e))?;
    match file.read_exact(&mut sector) {
        Ok(()) if sector[510..] == [0x55, 0xaa] => Ok(()),
        Ok(()) => Err(IsoError::NotFat(path.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            Err(IsoError::NotFat(path.to_path_buf()))
        }
        Err(e) => Err(IsoError::io("read", path, e)),
    }
}

/// `/ISO_PATH=HOST`, an `-as mkisofs` graft point: `=` and `\` in the ISO path escaped
/// (the host path is taken whole after the first unescaped `=`). The leading `/` keeps it
/// from being read as an option.
fn graft_point(iso_path: &str, host: &Path) -> std::ffi::OsString {
    let mut point = std::ffi::OsString::from("/");
    point.push(iso_path.replace('\\', "\\\\").replace('=', "\\="));
    point.push("=");
    point.push(host.as_os_str());
    point
}

/// `YYYYMMDDhhmmss00`, `epoch` in UTC, as `--modification-date=` takes it.
fn iso_date(epoch: u64) -> String {
    let [year, month, day, hour, minute, second] = nanolin_core::version::utc_parts(epoch);
    format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}00")
}

/// xorriso's complaints (its `FAILURE`, `SORRY` and the like lines) from what it said, or all
/// of it when there are none.
fn complaints(said: &str) -> String {
    let lines: Vec<&str> = said
        .lines()
        .filter(|l| {
            ["FATAL", "FAILURE", "SORRY", "MISHAP", "aborting"]
                .iter()
                .any(|word| l.contains(&format!(" : {word} ")))
        })
        .collect();
    if lines.is_empty() {
        said.trim().to_string()
    } else {
        lines.join("\n")
    }
}

/// A fresh temporary path beside `out`, in the same directory (so the rename is atomic),
/// removed when dropped unless persisted. The file is created empty, readable as the umask
/// allows, for xorriso to overwrite.
fn temporary_beside(out: &Path) -> Result<tempfile::TempPath, IsoError> {
    let name = out.file_name().ok_or_else(|| {
        IsoError::io(
            "create",
            out,
            io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"),
        )
    })?;
    let dir = match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let file = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(|e| IsoError::io("create a temporary file in", dir, e))?;
    Ok(file.into_temp_path())
}

#[cfg(test)]
#[path = "iso_tests.rs"]
mod tests;
