//! A board's kernel: Debian's binary package fetched through apt, cached by its SHA-256,
//! unpacked, and the modules an initramfs needs picked from it in load order.
//!
//! # Fetching
//!
//! A board names its kernel as `kernel=debian:PACKAGE`, usually a meta-package such as
//! `linux-image-arm64` that depends on exactly one versioned kernel package
//! (`linux-image-6.1.0-56-arm64 (= 6.1.192-2)`). [`fetch_kernel`] asks apt for the candidate
//! of `PACKAGE:ARCH` (`apt-cache show`), follows that dependency to the exact package and
//! version, and takes the SHA-256 Debian's index records for the `.deb`. When the
//! [`SourceCache`] already holds a file of that hash, no download happens; otherwise
//! `apt-get download PACKAGE:ARCH=VERSION` fetches it (apt checks it against Debian's signed
//! index), the file is hashed again, and it enters the cache as `sha256/<hex>` by rename, so
//! the cache never holds a partial or wrong file. A package that names no versioned kernel
//! (`kernel=debian:linux-image-6.1.0-56-arm64`) is taken as it is.
//!
//! A kernel of another architecture than the host's needs `dpkg --add-architecture ARCH`
//! and an `apt-get update` once: done here when running as root and the architecture is
//! missing (or apt does not know the package yet), refused otherwise with the command to run.
//! Nothing is ever installed: packages are only downloaded and unpacked.
//!
//! # A board's own Debian suite
//!
//! A board with `debian_suite=` (the riscv64 boards: `trixie`, as Debian 12 has no riscv64
//! port) does not use the host's apt sources. apt runs with a private configuration in the
//! source cache, `apt/SUITE-ARCH/`: a `sources.list` naming `SUITE`, `SUITE-updates` (both from
//! [`DEBIAN_MIRROR`]) and `SUITE-security` (from [`DEBIAN_SECURITY_MIRROR`]), components
//! [`DEBIAN_COMPONENTS`], signed by Debian's archive keyring ([`DEBIAN_KEYRING`], package
//! debian-archive-keyring); its own package lists, apt cache and an empty dpkg status; and
//! `APT::Architecture` the board's architecture alone. So neither root nor
//! `dpkg --add-architecture` is needed, and nothing of the host's apt state changes. The lists
//! are updated when missing or older than [`PRIVATE_LISTS_MAX_AGE`] seconds, and once more
//! in a run when a package or version is not found. The host's general apt settings (a proxy,
//! say) still apply: only the sources, state and architectures are replaced.
//!
//! A rebuild uses [`Kernel::pinned`]: the package, version and SHA-256 a release recorded.
//! The cache answers when it holds the file; otherwise apt must still offer exactly that
//! version with exactly that hash, and when it does not the error says what apt offers now,
//! rather than taking another kernel.
//!
//! # Unpacking
//!
//! [`Kernel::unpack`] extracts the package with `dpkg-deb -x` and runs `depmod -b DIR RELEASE`
//! (the package ships no `modules.dep`: its postinst makes it). [`KernelFiles`] names what a
//! release needs: the bootable image, the device tree folder and the modules folder.
//!
//! The image is what QEMU's `-kernel`, U-Boot's `booti`/`bootz` and GRUB's `linux` load. For
//! arm64 and riscv64 that is the raw `Image` (magic `ARM\x64` / `RSC\x05` at byte 56): U-Boot's
//! `booti` refuses a compressed one unless the board's environment sets `kernel_comp_addr_r`.
//! Debian 12 ships `vmlinuz` for arm64 as the raw Image already; a gzip-compressed one, or an
//! EFI zboot image (`MZ` … `zimg`) holding a gzip payload, is decompressed (with `gzip -dc`)
//! to `boot/Image-RELEASE` beside it. armhf's `zImage` and amd64's `bzImage` decompress
//! themselves and are used as they are.
//!
//! # Modules
//!
//! [`KernelFiles::modules_closure`] turns module names (`virtio_blk squashfs ext4`; `-` and
//! `_` are the same, as for modprobe) into the module files with everything they depend on,
//! from `modules.dep`, plus the `pre:` and `post:` soft dependencies of `modules.softdep`
//! that resolve (through `modules.alias` where needed), in an order `insmod` can load them
//! one by one. A name built into the kernel (`modules.builtin`) needs no file and is reported
//! as built in; a name that is neither is an error listing the nearest module and built-in
//! names.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use crate::board::{Arch, Board, KernelSource};
use crate::fetch::{sha256_file, SourceCache};
use crate::tool::{Failure, Tool};
use crate::Status;

/// Where apt and dpkg come from.
const APT_PACKAGE: &str = "apt";

/// Tools and the Debian packages that have them.
const APT_CACHE: (&str, &str) = ("apt-cache", APT_PACKAGE);
const APT_GET: (&str, &str) = ("apt-get", APT_PACKAGE);
const DPKG: (&str, &str) = ("dpkg", "dpkg");
const DPKG_DEB: (&str, &str) = ("dpkg-deb", "dpkg");
const DEPMOD: (&str, &str) = ("depmod", "kmod");
const GZIP: (&str, &str) = ("gzip", "gzip");

/// Where a board's own Debian suite comes from (see the module documentation).
pub const DEBIAN_MIRROR: &str = "http://deb.debian.org/debian";

/// Where the security updates of a board's own Debian suite come from.
pub const DEBIAN_SECURITY_MIRROR: &str = "http://deb.debian.org/debian-security";

/// The components of a board's own Debian suite: the firmware some boards' ROMs load first
/// (the Raspberry Pi's) is in non-free-firmware.
pub const DEBIAN_COMPONENTS: &str = "main non-free-firmware";

/// The keyring Debian's archive is signed with (package debian-archive-keyring).
pub const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// A private package list older than this (seconds) is updated before a new candidate is
/// taken from it: one day.
pub const PRIVATE_LISTS_MAX_AGE: u64 = 24 * 60 * 60;

/// Most names a missing-module error suggests.
const SUGGESTIONS: usize = 12;

/// A Debian kernel package in the source cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kernel {
    /// The versioned package (`linux-image-6.1.0-56-arm64`).
    pub package: String,
    /// Its Debian version (`6.1.192-2`).
    pub version: String,
    /// The architecture it was built for.
    pub arch: Arch,
    /// The SHA-256 of the `.deb`, as Debian's index records it.
    pub sha256: [u8; 32],
    /// The `.deb` in the cache (`sha256/<hex>`).
    pub deb_path: PathBuf,
}

/// A Debian package in the source cache: any package, fetched the way kernels are (the U-Boot
/// or GRUB package of a board, busybox for tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedDeb {
    /// The package.
    pub package: String,
    /// Its Debian version.
    pub version: String,
    /// Its architecture.
    pub arch: Arch,
    /// The SHA-256 of the `.deb`.
    pub sha256: [u8; 32],
    /// The `.deb` in the cache.
    pub path: PathBuf,
}

impl From<CachedDeb> for Kernel {
    fn from(deb: CachedDeb) -> Kernel {
        Kernel {
            package: deb.package,
            version: deb.version,
            arch: deb.arch,
            sha256: deb.sha256,
            deb_path: deb.path,
        }
    }
}

/// The format of a kernel image as the bootloader loads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// arm64 or riscv64 `Image`, uncompressed (U-Boot `booti`, QEMU `-kernel`).
    Image,
    /// armhf `zImage`, self-decompressing (U-Boot `bootz`).
    ZImage,
    /// x86 `bzImage` (GRUB `linux`, QEMU `-kernel`).
    BzImage,
}

/// The files of an unpacked kernel package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFiles {
    /// Where the package was unpacked.
    pub root: PathBuf,
    /// The kernel release (`uname -r`: `6.1.0-56-arm64`).
    pub release: String,
    /// The bootable kernel image: `boot/vmlinuz-RELEASE`, or the raw `Image` decompressed
    /// from it beside it.
    pub image: PathBuf,
    /// What [`Self::image`] is.
    pub format: ImageFormat,
    /// The device tree folder (`usr/lib/linux-image-RELEASE`), when the package has one.
    pub dtbs: Option<PathBuf>,
    /// The modules folder (`lib/modules/RELEASE`), `modules.dep` made.
    pub modules: PathBuf,
}

/// One module file of a closure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleFile {
    /// The module's name (`virtio_blk`).
    pub name: String,
    /// Its path relative to the modules folder, as `modules.dep` has it
    /// (`kernel/drivers/block/virtio_blk.ko`): where it goes below `/lib/modules/RELEASE/`.
    pub relative: PathBuf,
    /// Its path on the host.
    pub path: PathBuf,
}

/// The modules that make some names available, in load order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModuleClosure {
    /// The files to load, each after everything it depends on.
    pub files: Vec<ModuleFile>,
    /// The names asked for that are built into the kernel: nothing to load.
    pub builtin: Vec<String>,
}

/// Why a kernel could not be fetched, unpacked or its modules found.
#[derive(Debug)]
pub enum KernelError {
    /// A tool is not installed.
    ToolMissing {
        /// The command.
        tool: &'static str,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// A tool failed.
    ToolFailed {
        /// The command line.
        command: String,
        /// How it ended (none: killed by a signal).
        status: Option<ExitStatus>,
        /// What it said.
        output: String,
    },
    /// dpkg does not know the architecture, and we are not root to add it.
    ArchitectureMissing {
        /// Debian's name of the architecture.
        arch: &'static str,
    },
    /// apt knows no such package.
    UnknownPackage {
        /// The package.
        package: String,
        /// Debian's name of the architecture.
        arch: &'static str,
        /// Whether the package lists were updated in this run.
        updated: bool,
        /// The board's own Debian suite, when apt read that (none: the host's sources).
        suite: Option<String>,
    },
    /// apt no longer offers the pinned version.
    VersionGone {
        /// The package.
        package: String,
        /// Debian's name of the architecture.
        arch: &'static str,
        /// The version pinned.
        version: String,
        /// The versions apt offers now.
        offered: Vec<String>,
        /// The board's own Debian suite, when apt read that (none: the host's sources).
        suite: Option<String>,
    },
    /// Debian's index records another SHA-256 for the pinned version than the pin.
    PinMismatch {
        /// The package.
        package: String,
        /// The version.
        version: String,
        /// The pinned SHA-256, hex.
        pinned: String,
        /// What the index records, hex.
        index: String,
    },
    /// A downloaded file's SHA-256 is not what Debian's index records.
    HashMismatch {
        /// The file.
        path: PathBuf,
        /// What the index records, hex.
        expected: String,
        /// The file's, hex.
        got: String,
    },
    /// The package is not a kernel package as expected.
    BadPackage {
        /// The `.deb` or the folder it was unpacked to.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Module names that are neither module files nor built in.
    ModulesMissing {
        /// The kernel release.
        release: String,
        /// The names not found.
        missing: Vec<String>,
        /// Module and built-in names near them.
        near: Vec<String>,
        /// How many modules the kernel builds in (`modules.builtin`).
        builtin: usize,
        /// How many module files it has (`modules.dep`).
        files: usize,
    },
    /// A line of a module index cannot be read.
    BadModuleIndex {
        /// The file.
        path: PathBuf,
        /// Its line, from 1.
        line: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// The board's device tree is not in the package.
    NoDtb {
        /// The device tree asked for, relative to the package's device tree folder.
        dtb: String,
        /// The kernel release.
        release: String,
        /// The folder looked in (none when the package has no device trees).
        dir: Option<PathBuf>,
    },
    /// The folder to unpack into is not empty.
    NotEmpty(PathBuf),
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

impl KernelError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> KernelError {
        KernelError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The exit status this error maps to: a pin apt cannot honour, a file that is not what
    /// the index says and a bad name are a "no"; missing tools, apt, the network and files
    /// are system failures.
    pub fn status(&self) -> Status {
        match self {
            KernelError::VersionGone { .. }
            | KernelError::PinMismatch { .. }
            | KernelError::HashMismatch { .. }
            | KernelError::BadPackage { .. }
            | KernelError::ModulesMissing { .. }
            | KernelError::NoDtb { .. } => Status::No,
            KernelError::NotEmpty(_) => Status::Usage,
            KernelError::ToolMissing { .. }
            | KernelError::ToolFailed { .. }
            | KernelError::ArchitectureMissing { .. }
            | KernelError::UnknownPackage { .. }
            | KernelError::BadModuleIndex { .. }
            | KernelError::Io { .. } => Status::System,
        }
    }
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelError::ToolMissing { tool, package } => write!(
                f,
                "{tool} is not installed: install it (apt-get install {package})"
            ),
            KernelError::ToolFailed {
                command,
                status,
                output,
            } => {
                match status.and_then(|s| s.code()) {
                    Some(code) => write!(f, "`{command}` failed with status {code}")?,
                    None => write!(f, "`{command}` was killed")?,
                }
                let said = output.trim();
                if said.is_empty() {
                    Ok(())
                } else {
                    write!(f, ": {said}")
                }
            }
            KernelError::ArchitectureMissing { arch } => write!(
                f,
                "dpkg does not know the architecture {arch}, which the kernel is built for, and \
                 only root can add it (nothing of it is installed: packages are only downloaded): \
                 run `sudo dpkg --add-architecture {arch} && sudo apt-get update` once, then try \
                 again"
            ),
            KernelError::UnknownPackage {
                package,
                arch,
                updated,
                suite: Some(suite),
            } => {
                write!(
                    f,
                    "Debian {suite} has no package {package}:{arch} (apt's private list of \
                     {suite}, {suite}-updates and {suite}-security for {arch}"
                )?;
                if *updated {
                    write!(f, ", updated in this run")?;
                }
                write!(
                    f,
                    "): check kernel=, the bootloader's package and debian_suite= in the board \
                     file"
                )
            }
            KernelError::UnknownPackage {
                package,
                arch,
                updated,
                suite: None,
            } => {
                write!(f, "apt knows no package {package}:{arch}")?;
                if *updated {
                    write!(
                        f,
                        " even after apt-get update: check kernel= in the board file, and that \
                         /etc/apt/sources.list names a Debian release that has it"
                    )
                } else {
                    write!(
                        f,
                        ": run `sudo apt-get update` (the package lists may be missing or old), \
                         or check kernel= in the board file"
                    )
                }
            }
            KernelError::VersionGone {
                package,
                arch,
                version,
                offered,
                suite,
            } => {
                let from = match suite {
                    Some(suite) => format!("Debian {suite} no longer serves"),
                    None => "apt no longer offers".to_string(),
                };
                write!(
                    f,
                    "the release pins {package}:{arch} version {version}, which {from} ("
                )?;
                if offered.is_empty() {
                    write!(f, "it offers no version of {package} at all")?;
                } else {
                    write!(f, "it offers {}", offered.join(", "))?;
                }
                write!(
                    f,
                    "): put the pinned .deb into the source cache, or add an archive that still \
                     has it (snapshot.debian.org) to apt's sources, or build with the current \
                     kernel instead of the pin"
                )
            }
            KernelError::PinMismatch {
                package,
                version,
                pinned,
                index,
            } => write!(
                f,
                "{package} {version}: Debian's index records sha256 {index}, but the release pins \
                 {pinned}: the archive rebuilt the package under the same version, or the pin is \
                 wrong; refusing to use another file than the one pinned"
            ),
            KernelError::HashMismatch {
                path,
                expected,
                got,
            } => write!(
                f,
                "{}: sha256 {got}, but Debian's index records {expected}: the download is \
                 damaged: try again",
                path.display()
            ),
            KernelError::BadPackage { path, reason } => {
                write!(f, "{}: {reason}", path.display())
            }
            KernelError::ModulesMissing {
                release,
                missing,
                near,
                builtin,
                files,
            } => {
                let (noun, verb) = if missing.len() == 1 {
                    ("module", "is")
                } else {
                    ("modules", "are")
                };
                write!(
                    f,
                    "kernel {release}: {noun} {} {verb} neither a module file (of {files} in \
                     modules.dep) nor built in (modules.builtin lists {builtin})",
                    missing.join(", ")
                )?;
                if near.is_empty() {
                    write!(f, ": check the names (as `modinfo -F name` prints them)")
                } else {
                    write!(f, ": did you mean {}?", near.join(", "))
                }
            }
            KernelError::BadModuleIndex { path, line, reason } => write!(
                f,
                "{}:{line}: {reason}: the kernel package is damaged, or depmod failed",
                path.display()
            ),
            KernelError::NoDtb { dtb, release, dir } => match dir {
                Some(dir) => write!(
                    f,
                    "kernel {release} has no device tree {dtb} (looked in {}): check dtb= in the \
                     board file",
                    dir.display()
                ),
                None => write!(
                    f,
                    "kernel {release} ships no device trees, but the board asks for {dtb}: check \
                     dtb= and kernel= in the board file"
                ),
            },
            KernelError::NotEmpty(dir) => write!(
                f,
                "{} is not empty: unpack a kernel into a new or empty folder",
                dir.display()
            ),
            KernelError::Io {
                action,
                path,
                source,
            } => write!(f, "unable to {action} {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for KernelError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KernelError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Fetches the kernel `board` names (`kernel=debian:PACKAGE`) for its architecture into
/// `cache`: the exact package and version apt's candidate of `PACKAGE` depends on.
pub fn fetch_kernel(board: &Board, cache: &SourceCache) -> Result<Kernel, KernelError> {
    let KernelSource::Debian(package) = &board.kernel;
    let mut apt = Apt::open(board.debian_suite.as_deref(), board.arch, cache, true)?;
    let meta = apt.candidate(package)?;
    let (package, version) = match versioned_kernel(&meta.depends) {
        Some((dep, version)) => (dep, version),
        None => (package.clone(), meta.version.clone()),
    };
    let record = apt.version(&package, &version)?;
    apt.fetch(&record, cache).map(Kernel::from)
}

/// Fetches the candidate version of any Debian package `package` for `arch` into `cache`, as
/// [`fetch_kernel`] fetches a kernel (no dependency followed).
pub fn fetch_deb(package: &str, arch: Arch, cache: &SourceCache) -> Result<CachedDeb, KernelError> {
    fetch_deb_from(None, package, arch, cache)
}

/// [`fetch_deb`] from a board's own Debian `suite` (none: the host's apt sources), as
/// [`fetch_kernel`] does for a board with `debian_suite=`.
pub fn fetch_deb_from(
    suite: Option<&str>,
    package: &str,
    arch: Arch,
    cache: &SourceCache,
) -> Result<CachedDeb, KernelError> {
    let mut apt = Apt::open(suite, arch, cache, true)?;
    let record = apt.candidate(package)?;
    apt.fetch(&record, cache)
}

/// A Debian package a release pinned: `package` at exactly `version`, whose `.deb` has
/// SHA-256 `sha256`, from `suite` (none: the host's apt sources). From the cache when it holds
/// that file (no apt, no network); otherwise apt must offer that version with that hash, and
/// when it does not the error says so ([`KernelError::VersionGone`],
/// [`KernelError::PinMismatch`]) rather than taking another.
pub fn pinned_deb(
    suite: Option<&str>,
    arch: Arch,
    package: &str,
    version: &str,
    sha256: &[u8; 32],
    cache: &SourceCache,
) -> Result<CachedDeb, KernelError> {
    let entry = cache.sha256_entry(sha256);
    if cached_matches(&entry, sha256)? {
        return Ok(CachedDeb {
            package: package.to_string(),
            version: version.to_string(),
            arch,
            sha256: *sha256,
            path: entry,
        });
    }
    let mut apt = Apt::open(suite, arch, cache, false)?;
    let record = apt.version(package, version)?;
    if &record.sha256 != sha256 {
        return Err(KernelError::PinMismatch {
            package: package.to_string(),
            version: version.to_string(),
            pinned: hex(sha256),
            index: hex(&record.sha256),
        });
    }
    apt.fetch(&record, cache)
}

impl Kernel {
    /// The kernel a release pinned: `package` at exactly `version`, whose `.deb` has SHA-256
    /// `sha256`. From the cache when it holds that file (no apt, no network); otherwise apt
    /// must offer that version with that hash.
    pub fn pinned(
        arch: Arch,
        package: &str,
        version: &str,
        sha256: &[u8; 32],
        cache: &SourceCache,
    ) -> Result<Kernel, KernelError> {
        pinned_deb(None, arch, package, version, sha256, cache).map(Kernel::from)
    }

    /// The kernel a release of `board` pinned: [`Kernel::pinned`] from the board's own Debian
    /// suite when it names one (`debian_suite=`).
    pub fn pinned_for(
        board: &Board,
        package: &str,
        version: &str,
        sha256: &[u8; 32],
        cache: &SourceCache,
    ) -> Result<Kernel, KernelError> {
        pinned_deb(
            board.debian_suite.as_deref(),
            board.arch,
            package,
            version,
            sha256,
            cache,
        )
        .map(Kernel::from)
    }

    /// The SHA-256 of the `.deb`, hex.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }

    /// Unpacks the package into `dir` (created; must be empty if it exists), makes
    /// `modules.dep`, and names the files a release needs.
    pub fn unpack(&self, dir: &Path) -> Result<KernelFiles, KernelError> {
        unpack_deb(&self.deb_path, dir)?;
        let boot = dir.join("boot");
        let bad = |reason: String| KernelError::BadPackage {
            path: self.deb_path.clone(),
            reason,
        };
        let mut releases = Vec::new();
        let listing = fs::read_dir(&boot).map_err(|_| {
            bad(format!(
                "{} {} has no /boot: is it a kernel image package (linux-image-…)?",
                self.package, self.version
            ))
        })?;
        for entry in listing {
            let entry = entry.map_err(|e| KernelError::io("list", &boot, e))?;
            let name = entry.file_name();
            // vmlinuz-RELEASE; Debian 13's riscv64 packages name the raw Image vmlinux-RELEASE.
            let release = name.to_str().and_then(|n| {
                n.strip_prefix("vmlinuz-")
                    .or_else(|| n.strip_prefix("vmlinux-"))
            });
            if let Some(release) = release {
                releases.push(release.to_string());
            }
        }
        releases.sort();
        let release = match releases.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(bad(format!(
                    "{} {} has no /boot/vmlinuz-*: is it a kernel image package (linux-image-…)?",
                    self.package, self.version
                )))
            }
            many => {
                return Err(bad(format!(
                    "{} {} has several kernels ({}): name the versioned package in kernel=",
                    self.package,
                    self.version,
                    many.join(", ")
                )))
            }
        };
        let modules = ["lib/modules", "usr/lib/modules"]
            .iter()
            .map(|base| dir.join(base).join(&release))
            .find(|p| p.is_dir())
            .ok_or_else(|| bad(format!("no lib/modules/{release} in the package")))?;
        // A merged-/usr package (Debian 13) has only usr/lib/modules; depmod -b reads
        // lib/modules below the base, which on a merged system is a link to usr/lib.
        let lib = dir.join("lib");
        if !lib.exists() && dir.join("usr/lib/modules").is_dir() {
            std::os::unix::fs::symlink("usr/lib", &lib)
                .map_err(|e| KernelError::io("link lib to usr/lib in", dir, e))?;
        }
        let mut depmod = tool(DEPMOD)?;
        depmod.arg("-b").arg(dir).arg(&release);
        run(DEPMOD, &mut depmod)?;
        if !modules.join("modules.dep").is_file() {
            return Err(bad(format!(
                "depmod -b {} {release} made no {}/modules.dep",
                dir.display(),
                modules.display()
            )));
        }
        let vmlinuz = [
            boot.join(format!("vmlinuz-{release}")),
            boot.join(format!("vmlinux-{release}")),
        ]
        .into_iter()
        .find(|p| p.is_file())
        .unwrap_or_else(|| boot.join(format!("vmlinuz-{release}")));
        let (image, format) = bootable_image(&vmlinuz, &release, self.arch)?;
        let dtbs =
            Some(dir.join("usr/lib").join(format!("linux-image-{release}"))).filter(|p| p.is_dir());
        Ok(KernelFiles {
            root: dir.to_path_buf(),
            release,
            image,
            format,
            dtbs,
            modules,
        })
    }
}

impl CachedDeb {
    /// Unpacks the package into `dir` (created; must be empty if it exists) with `dpkg-deb -x`.
    pub fn unpack(&self, dir: &Path) -> Result<(), KernelError> {
        unpack_deb(&self.path, dir)
    }
}

/// `dpkg-deb -x DEB DIR`, into a new or empty `dir`.
fn unpack_deb(deb: &Path, dir: &Path) -> Result<(), KernelError> {
    match fs::read_dir(dir) {
        Ok(mut listing) => {
            if listing.next().is_some() {
                return Err(KernelError::NotEmpty(dir.to_path_buf()));
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|e| KernelError::io("create", dir, e))?;
        }
        Err(e) => return Err(KernelError::io("read", dir, e)),
    }
    let mut cmd = tool(DPKG_DEB)?;
    cmd.arg("-x").arg(deb).arg(dir);
    run(DPKG_DEB, &mut cmd).map(|_| ())
}

impl KernelFiles {
    /// The device tree `dtb` (relative to the package's device tree folder, as a board's `dtb=`
    /// names it).
    pub fn dtb(&self, dtb: &str) -> Result<PathBuf, KernelError> {
        let missing = |dir: Option<PathBuf>| KernelError::NoDtb {
            dtb: dtb.to_string(),
            release: self.release.clone(),
            dir,
        };
        let Some(dir) = &self.dtbs else {
            return Err(missing(None));
        };
        let safe = Path::new(dtb)
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)));
        let path = dir.join(dtb);
        if !safe || !path.is_file() {
            return Err(missing(Some(dir.clone())));
        }
        Ok(path)
    }

    /// The module files that make `names` available, with their dependencies and soft
    /// dependencies, each after what it needs: the order `insmod` loads them in.
    pub fn modules_closure(&self, names: &[&str]) -> Result<ModuleClosure, KernelError> {
        let index = ModuleIndex::read(&self.modules)?;
        let mut closure = ModuleClosure::default();
        let mut missing = Vec::new();
        let mut seen = BTreeSet::new();
        for name in names {
            let key = module_key(name);
            if index.deps.contains_key(&key) {
                index.visit(&key, &mut seen, &mut closure.files);
            } else if index.builtin.contains(&key) {
                if !closure.builtin.contains(&key) {
                    closure.builtin.push(key);
                }
            } else if !missing.contains(&key) {
                missing.push(key);
            }
        }
        if !missing.is_empty() {
            let near = index.near(&missing);
            return Err(KernelError::ModulesMissing {
                release: self.release.clone(),
                missing,
                near,
                builtin: index.builtin.len(),
                files: index.deps.len(),
            });
        }
        for file in &mut closure.files {
            file.path = self.modules.join(&file.relative);
        }
        Ok(closure)
    }
}

/// A module name as modprobe compares it: `-` is `_`.
fn module_key(name: &str) -> String {
    name.trim().replace('-', "_")
}

/// The module name of a path in the module indexes (`kernel/fs/ext4/ext4.ko.xz` → `ext4`).
fn module_name_of(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split(".ko").next().unwrap_or(file);
    module_key(stem)
}

/// What `modules.dep`, `modules.builtin`, `modules.softdep` and `modules.alias` say.
struct ModuleIndex {
    /// Module name → (its file relative to the modules folder, the files it depends on).
    deps: BTreeMap<String, (String, Vec<String>)>,
    /// File relative to the modules folder → module name.
    by_file: BTreeMap<String, String>,
    /// Built-in module names.
    builtin: BTreeSet<String>,
    /// Module name → (pre, post) soft dependencies, as written (names or aliases).
    soft: BTreeMap<String, (Vec<String>, Vec<String>)>,
    /// Alias (exact, no wildcards) → module names.
    aliases: BTreeMap<String, Vec<String>>,
}

impl ModuleIndex {
    fn read(dir: &Path) -> Result<ModuleIndex, KernelError> {
        let text = |name: &str, required: bool| -> Result<String, KernelError> {
            let path = dir.join(name);
            match fs::read_to_string(&path) {
                Ok(text) => Ok(text),
                Err(e) if e.kind() == io::ErrorKind::NotFound && !required => Ok(String::new()),
                Err(e) => Err(KernelError::io("read", &path, e)),
            }
        };
        // Paths in modules.dep are relative to the modules folder; old depmods wrote them
        // absolute, from /lib/modules/RELEASE/.
        let release_prefix = format!(
            "/lib/modules/{}/",
            dir.file_name().and_then(|n| n.to_str()).unwrap_or_default()
        );
        let relative = |p: &str| p.strip_prefix(&release_prefix).unwrap_or(p).to_string();
        let dep_path = dir.join("modules.dep");
        let mut deps = BTreeMap::new();
        let mut by_file = BTreeMap::new();
        for (n, line) in text("modules.dep", true)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let Some((module, needs)) = line.split_once(':') else {
                return Err(KernelError::BadModuleIndex {
                    path: dep_path,
                    line: n + 1,
                    reason: "a line of modules.dep is `MODULE: DEPENDENCIES`",
                });
            };
            let module = relative(module.trim());
            let needs = needs.split_whitespace().map(relative).collect();
            let name = module_name_of(&module);
            by_file.insert(module.clone(), name.clone());
            deps.insert(name, (module, needs));
        }
        let builtin = text("modules.builtin", false)?
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(module_name_of)
            .collect();
        let mut soft: BTreeMap<String, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for line in text("modules.softdep", false)?.lines() {
            let mut words = line.split_whitespace();
            if words.next() != Some("softdep") {
                continue;
            }
            let Some(module) = words.next() else { continue };
            let entry = soft.entry(module_key(module)).or_default();
            // Words before `pre:` or `post:` belong to neither, as for modprobe.
            let mut into: Option<bool> = None;
            for word in words {
                match word {
                    "pre:" => into = Some(true),
                    "post:" => into = Some(false),
                    _ => match into {
                        Some(true) => entry.0.push(word.to_string()),
                        Some(false) => entry.1.push(word.to_string()),
                        None => {}
                    },
                }
            }
        }
        let mut aliases: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for line in text("modules.alias", false)?.lines() {
            let mut words = line.split_whitespace();
            if let (Some("alias"), Some(alias), Some(module)) =
                (words.next(), words.next(), words.next())
            {
                if !alias.contains(['*', '?', '[']) {
                    aliases
                        .entry(alias.to_string())
                        .or_default()
                        .push(module_key(module));
                }
            }
        }
        Ok(ModuleIndex {
            deps,
            by_file,
            builtin,
            soft,
            aliases,
        })
    }

    /// The module files a soft dependency names: the module, else what its alias names.
    fn resolve_soft(&self, word: &str) -> Vec<String> {
        let key = module_key(word);
        if self.deps.contains_key(&key) {
            return vec![key];
        }
        self.aliases
            .get(word)
            .map(|names| {
                names
                    .iter()
                    .filter(|n| self.deps.contains_key(*n))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Adds `name` to `out` after its soft `pre:` dependencies and its dependencies (depth
    /// first, each once), and before its `post:` ones.
    fn visit(&self, name: &str, seen: &mut BTreeSet<String>, out: &mut Vec<ModuleFile>) {
        if !seen.insert(name.to_string()) {
            return;
        }
        let Some((file, needs)) = self.deps.get(name) else {
            return;
        };
        let (pre, post) = self.soft.get(name).cloned().unwrap_or_default();
        for word in &pre {
            for dep in self.resolve_soft(word) {
                self.visit(&dep, seen, out);
            }
        }
        for dep in needs {
            let dep_name = self
                .by_file
                .get(dep)
                .cloned()
                .unwrap_or_else(|| module_name_of(dep));
            self.visit(&dep_name, seen, out);
        }
        out.push(ModuleFile {
            name: name.to_string(),
            relative: PathBuf::from(file),
            path: PathBuf::new(),
        });
        for word in &post {
            for dep in self.resolve_soft(word) {
                self.visit(&dep, seen, out);
            }
        }
    }

    /// Module and built-in names near any of `missing`: containing it, contained in it, or
    /// sharing its first word.
    fn near(&self, missing: &[String]) -> Vec<String> {
        let mut near = BTreeSet::new();
        for m in missing {
            let head = m.split('_').next().unwrap_or(m);
            for name in self.deps.keys().chain(self.builtin.iter()) {
                let close = name.contains(m.as_str())
                    || (name.len() >= 3 && m.contains(name.as_str()))
                    || (head.len() >= 3 && name.split('_').next() == Some(head));
                if close {
                    near.insert(name.clone());
                }
            }
        }
        near.into_iter().take(SUGGESTIONS).collect()
    }
}

/// The bootable image from `vmlinuz`: itself, or the raw Image decompressed beside it.
fn bootable_image(
    vmlinuz: &Path,
    release: &str,
    arch: Arch,
) -> Result<(PathBuf, ImageFormat), KernelError> {
    let bad = |reason: String| KernelError::BadPackage {
        path: vmlinuz.to_path_buf(),
        reason,
    };
    match arch {
        Arch::Armv7 => return Ok((vmlinuz.to_path_buf(), ImageFormat::ZImage)),
        Arch::X86_64 => return Ok((vmlinuz.to_path_buf(), ImageFormat::BzImage)),
        Arch::Aarch64 | Arch::Riscv64 => {}
    }
    let magic: &[u8; 4] = if arch == Arch::Aarch64 {
        b"ARM\x64"
    } else {
        b"RSC\x05"
    };
    let head = read_head(vmlinuz, 64)?;
    if head.get(56..60) == Some(magic.as_slice()) {
        return Ok((vmlinuz.to_path_buf(), ImageFormat::Image));
    }
    let out = vmlinuz.with_file_name(format!("Image-{release}"));
    let compressed: Vec<u8> = if head.starts_with(&[0x1f, 0x8b]) {
        fs::read(vmlinuz).map_err(|e| KernelError::io("read", vmlinuz, e))?
    } else if head.starts_with(b"MZ") && head.get(4..8) == Some(b"zimg".as_slice()) {
        // EFI zboot: payload offset and size (u32 LE) at 8 and 12, compression name at 24.
        let whole = fs::read(vmlinuz).map_err(|e| KernelError::io("read", vmlinuz, e))?;
        let word = |at: usize| {
            whole
                .get(at..at + 4)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_le_bytes)
                .unwrap_or(0) as usize
        };
        let (offset, size) = (word(8), word(12));
        let kind: String = whole
            .get(24..56)
            .unwrap_or_default()
            .iter()
            .take_while(|b| **b != 0)
            .map(|b| char::from(*b))
            .collect();
        if kind != "gzip" {
            return Err(bad(format!(
                "an EFI zboot image compressed with {kind:?}: only gzip is supported"
            )));
        }
        whole
            .get(offset..offset.saturating_add(size))
            .ok_or_else(|| bad("an EFI zboot image whose payload lies past its end".into()))?
            .to_vec()
    } else {
        return Err(bad(format!(
            "not a {} kernel Image (no magic {:?} at byte 56), nor gzip or EFI zboot",
            arch.debian(),
            String::from_utf8_lossy(magic)
        )));
    };
    let raw = gunzip(&compressed)?;
    if raw.get(56..60) != Some(magic.as_slice()) {
        return Err(bad(format!(
            "decompressed, it is not a {} kernel Image either",
            arch.debian()
        )));
    }
    fs::write(&out, raw).map_err(|e| KernelError::io("write", &out, e))?;
    Ok((out, ImageFormat::Image))
}

/// The first `len` bytes of `path` (fewer if shorter).
fn read_head(path: &Path, len: usize) -> Result<Vec<u8>, KernelError> {
    let mut head = Vec::with_capacity(len);
    fs::File::open(path)
        .and_then(|f| f.take(len as u64).read_to_end(&mut head))
        .map_err(|e| KernelError::io("read", path, e))?;
    Ok(head)
}

/// `gzip -dc` of `data`.
fn gunzip(data: &[u8]) -> Result<Vec<u8>, KernelError> {
    let mut cmd = tool(GZIP)?;
    cmd.arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| spawn_error(GZIP, e))?;
    let mut stdin = child.stdin.take();
    // Feed from a thread: gzip writes while it reads, and both pipes are bounded.
    let input = data.to_vec();
    let feeder = std::thread::spawn(move || {
        if let Some(stdin) = stdin.as_mut() {
            let _ = stdin.write_all(&input);
        }
    });
    let output = child
        .wait_with_output()
        .map_err(|e| KernelError::io("run", Path::new(GZIP.0), e))?;
    let _ = feeder.join();
    if !output.status.success() {
        return Err(KernelError::ToolFailed {
            command: "gzip -dc".into(),
            status: Some(output.status),
            output: String::from_utf8_lossy(&output.stderr).into_owned(),
        });
    }
    Ok(output.stdout)
}

/// One package version as `apt-cache show` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    package: String,
    version: String,
    arch: Arch,
    depends: String,
    sha256: [u8; 32],
}

/// apt's private configuration for a board's own Debian suite and architecture, in the
/// source cache (see the module documentation).
struct PrivateApt {
    suite: String,
    dir: PathBuf,
}

/// The file in a private list folder whose time is the last `apt-get update`.
const LISTS_STAMP: &str = "lists/nanolin-updated";

/// The `sources.list` of a private configuration.
fn private_sources(suite: &str, arch: Arch) -> String {
    let options = format!("[arch={} signed-by={DEBIAN_KEYRING}]", arch.debian());
    format!(
        "# Written by nanolin: Debian {suite} for {arch}, for boards with debian_suite={suite}.\n\
         deb {options} {DEBIAN_MIRROR} {suite} {DEBIAN_COMPONENTS}\n\
         deb {options} {DEBIAN_MIRROR} {suite}-updates {DEBIAN_COMPONENTS}\n\
         deb {options} {DEBIAN_SECURITY_MIRROR} {suite}-security {DEBIAN_COMPONENTS}\n",
        arch = arch.debian()
    )
}

impl PrivateApt {
    /// The configuration of `suite` for `arch` in `cache`, made or brought up to date.
    fn open(suite: &str, arch: Arch, cache: &SourceCache) -> Result<PrivateApt, KernelError> {
        let dir = cache
            .root()
            .join("apt")
            .join(format!("{suite}-{}", arch.debian()));
        for sub in [
            "lists/partial",
            "cache/archives/partial",
            "sources.list.d",
            "preferences.d",
        ] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).map_err(|e| KernelError::io("create", &path, e))?;
        }
        let sources = dir.join("sources.list");
        let text = private_sources(suite, arch);
        if fs::read_to_string(&sources).ok().as_deref() != Some(text.as_str()) {
            // Other sources: the lists no longer match them.
            let _ = fs::remove_file(dir.join(LISTS_STAMP));
            fs::write(&sources, text).map_err(|e| KernelError::io("write", &sources, e))?;
        }
        let status = dir.join("status");
        if !status.is_file() {
            fs::write(&status, "").map_err(|e| KernelError::io("write", &status, e))?;
        }
        Ok(PrivateApt {
            suite: suite.to_string(),
            dir,
        })
    }

    /// The `-o` options that make apt use this configuration.
    fn options(&self, arch: Arch) -> Vec<String> {
        let path = |sub: &str| self.dir.join(sub).to_string_lossy().into_owned();
        let mut options = vec![
            format!("Dir::Etc::SourceList={}", path("sources.list")),
            format!("Dir::Etc::SourceParts={}", path("sources.list.d")),
            "Dir::Etc::Preferences=/dev/null".to_string(),
            format!("Dir::Etc::PreferencesParts={}", path("preferences.d")),
            format!("Dir::State::Lists={}", path("lists")),
            format!("Dir::State::status={}", path("status")),
            format!("Dir::Cache={}", path("cache")),
            format!("APT::Architecture={}", arch.debian()),
            format!("APT::Architectures={}", arch.debian()),
        ];
        if is_root() {
            // apt drops to the _apt user to download, which cannot write to root's cache.
            options.push("APT::Sandbox::User=root".to_string());
        }
        options
    }

    /// Seconds since the lists were last updated; `None` when they never were.
    fn lists_age(&self) -> Option<u64> {
        let modified = fs::metadata(self.dir.join(LISTS_STAMP))
            .and_then(|m| m.modified())
            .ok()?;
        Some(
            std::time::SystemTime::now()
                .duration_since(modified)
                .map_or(0, |d| d.as_secs()),
        )
    }

    fn mark_updated(&self) -> Result<(), KernelError> {
        let stamp = self.dir.join(LISTS_STAMP);
        fs::write(&stamp, "").map_err(|e| KernelError::io("write", &stamp, e))
    }
}

/// apt, for one architecture: updates the package lists at most once per run.
struct Apt {
    arch: Arch,
    updated: bool,
    /// The board's own suite; `None`: the host's apt sources.
    private: Option<PrivateApt>,
}

impl Apt {
    fn new(arch: Arch) -> Apt {
        Apt {
            arch,
            updated: false,
            private: None,
        }
    }

    /// apt for `arch` from the host's sources (`suite` none), or from `suite` through a private
    /// configuration, ready to answer: the architecture known to dpkg (host), or the lists
    /// present, and updated when older than [`PRIVATE_LISTS_MAX_AGE`] if `fresh` (private).
    fn open(
        suite: Option<&str>,
        arch: Arch,
        cache: &SourceCache,
        fresh: bool,
    ) -> Result<Apt, KernelError> {
        let mut apt = Apt::new(arch);
        let Some(suite) = suite else {
            apt.ensure_architecture()?;
            return Ok(apt);
        };
        let private = PrivateApt::open(suite, arch, cache)?;
        let stale = match private.lists_age() {
            None => true,
            Some(age) => fresh && age > PRIVATE_LISTS_MAX_AGE,
        };
        apt.private = Some(private);
        if stale {
            apt.update()?;
        }
        Ok(apt)
    }

    /// `tool`, with the private configuration's options when there is one.
    fn command(&self, which: Tool) -> Result<Command, KernelError> {
        let mut cmd = tool(which)?;
        if let Some(private) = &self.private {
            for option in private.options(self.arch) {
                cmd.arg("-o").arg(option);
            }
        }
        Ok(cmd)
    }

    fn suite(&self) -> Option<String> {
        self.private.as_ref().map(|p| p.suite.clone())
    }

    /// Makes sure dpkg knows the architecture: adds it (and updates the package lists) when
    /// root, or says what to run.
    fn ensure_architecture(&mut self) -> Result<(), KernelError> {
        let arch = self.arch.debian();
        let mut native = tool(DPKG)?;
        native.arg("--print-architecture");
        if run(DPKG, &mut native)?.trim() == arch {
            return Ok(());
        }
        let mut foreign = tool(DPKG)?;
        foreign.arg("--print-foreign-architectures");
        if run(DPKG, &mut foreign)?.lines().any(|l| l.trim() == arch) {
            return Ok(());
        }
        if !is_root() {
            return Err(KernelError::ArchitectureMissing { arch });
        }
        let mut add = tool(DPKG)?;
        add.args(["--add-architecture", arch]);
        run(DPKG, &mut add)?;
        self.update()
    }

    /// `apt-get update` (as root). A mirror being synced fails one index now and then, and
    /// apt then exits 100 for all: it is tried twice, then the lists apt has are used (a
    /// package missing from them is reported as unknown, with what to run).
    fn update(&mut self) -> Result<(), KernelError> {
        let mut failed = None;
        for attempt in 0..2 {
            if attempt > 0 {
                std::thread::sleep(std::time::Duration::from_secs(5));
            }
            let mut cmd = self.command(APT_GET)?;
            cmd.args(["update", "-qq"]);
            match run(APT_GET, &mut cmd) {
                Ok(_) => {
                    failed = None;
                    break;
                }
                Err(e) => failed = Some(e),
            }
        }
        if let Some(e) = failed {
            eprintln!("    warning: {e}; going on with the package lists apt has");
        }
        // Tried: a mirror in the middle of a sync is not asked again in every build of the
        // day (a package missing from the lists still updates them once per run).
        if let Some(private) = &self.private {
            private.mark_updated()?;
        }
        self.updated = true;
        Ok(())
    }

    /// `package` at exactly `version`, or what apt offers instead.
    fn version(&mut self, package: &str, version: &str) -> Result<Record, KernelError> {
        let mut records = match self.show(package, true) {
            Ok(records) => records,
            Err(KernelError::UnknownPackage { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        // A private list may be a day old: before saying the version is gone, read the
        // suite as it is now.
        if self.private.is_some() && !self.updated && !records.iter().any(|r| r.version == version)
        {
            self.update()?;
            records = match self.show(package, true) {
                Ok(records) => records,
                Err(KernelError::UnknownPackage { .. }) => Vec::new(),
                Err(e) => return Err(e),
            };
        }
        if let Some(record) = records.iter().find(|r| r.version == version) {
            return Ok(record.clone());
        }
        let mut offered: Vec<String> = Vec::new();
        for r in records {
            if !offered.contains(&r.version) {
                offered.push(r.version);
            }
        }
        Err(KernelError::VersionGone {
            package: package.to_string(),
            arch: self.arch.debian(),
            version: version.to_string(),
            offered,
            suite: self.suite(),
        })
    }

    /// The candidate (the version apt would fetch) of `package`.
    fn candidate(&mut self, package: &str) -> Result<Record, KernelError> {
        let mut records = self.show(package, false)?;
        if records.is_empty() {
            return Err(self.unknown(package));
        }
        Ok(records.swap_remove(0))
    }

    fn unknown(&self, package: &str) -> KernelError {
        KernelError::UnknownPackage {
            package: package.to_string(),
            arch: self.arch.debian(),
            updated: self.updated,
            suite: self.suite(),
        }
    }

    fn show(&mut self, package: &str, all: bool) -> Result<Vec<Record>, KernelError> {
        let spec = format!("{package}:{}", self.arch.debian());
        loop {
            let mut cmd = self.command(APT_CACHE)?;
            cmd.arg("show");
            if !all {
                cmd.arg("--no-all-versions");
            }
            cmd.arg(&spec);
            let output = cmd
                .env("LC_ALL", "C")
                .stdin(Stdio::null())
                .output()
                .map_err(|e| spawn_error(APT_CACHE, e))?;
            let text = String::from_utf8_lossy(&output.stdout);
            let records: Vec<Record> = parse_records(&text, self.arch)
                .into_iter()
                .filter(|r| r.package == package)
                .collect();
            if !records.is_empty() {
                let mut unique: Vec<Record> = Vec::new();
                for r in records {
                    if !unique.contains(&r) {
                        unique.push(r);
                    }
                }
                return Ok(unique);
            }
            // Not known: the lists may be missing or old. Update once (the host's: as root).
            if self.updated || (self.private.is_none() && !is_root()) {
                return Err(self.unknown(package));
            }
            self.update()?;
        }
    }

    /// The `.deb` of `record` in `cache`: from the cache when there, else downloaded.
    fn fetch(&self, record: &Record, cache: &SourceCache) -> Result<CachedDeb, KernelError> {
        let entry = cache.sha256_entry(&record.sha256);
        let deb = CachedDeb {
            package: record.package.clone(),
            version: record.version.clone(),
            arch: record.arch,
            sha256: record.sha256,
            path: entry.clone(),
        };
        if cached_matches(&entry, &record.sha256)? {
            return Ok(deb);
        }
        let dir = entry.parent().unwrap_or(cache.root()).to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| KernelError::io("create", &dir, e))?;
        // Removed when dropped, whatever happens below.
        let work = tempfile::Builder::new()
            .prefix(".apt-download-")
            .tempdir_in(&dir)
            .map_err(|e| KernelError::io("create a temporary folder in", &dir, e))?;
        let mut cmd = self.command(APT_GET)?;
        cmd.args(["download", "-qq"]);
        if is_root() && self.private.is_none() {
            // apt drops to the _apt user to download, which cannot write to a root-owned
            // folder: stay root.
            cmd.args(["-o", "APT::Sandbox::User=root"]);
        }
        cmd.arg(format!(
            "{}:{}={}",
            record.package,
            record.arch.debian(),
            record.version
        ))
        .current_dir(work.path());
        run(APT_GET, &mut cmd)?;
        let mut debs = Vec::new();
        for item in
            fs::read_dir(work.path()).map_err(|e| KernelError::io("list", work.path(), e))?
        {
            let item = item.map_err(|e| KernelError::io("list", work.path(), e))?;
            if item.file_name().to_string_lossy().ends_with(".deb") {
                debs.push(item.path());
            }
        }
        let [file] = debs.as_slice() else {
            return Err(KernelError::BadPackage {
                path: work.path().to_path_buf(),
                reason: format!(
                    "apt-get download {} {} gave {} .deb files, not one",
                    record.package,
                    record.version,
                    debs.len()
                ),
            });
        };
        let got = sha256_file(file).map_err(|e| KernelError::io("read", file, e))?;
        if got != record.sha256 {
            return Err(KernelError::HashMismatch {
                path: file.clone(),
                expected: hex(&record.sha256),
                got: hex(&got),
            });
        }
        fs::File::open(file)
            .and_then(|f| f.sync_all())
            .map_err(|e| KernelError::io("write", file, e))?;
        fs::rename(file, &entry).map_err(|e| KernelError::io("rename into the cache", file, e))?;
        Ok(deb)
    }
}

/// The stanzas of `apt-cache show` output that are complete and of `arch`.
fn parse_records(text: &str, arch: Arch) -> Vec<Record> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: BTreeMap<&str, String> = BTreeMap::new();
        let mut last: Option<&str> = None;
        for line in stanza.lines() {
            if line.starts_with([' ', '\t']) {
                if let Some(value) = last.and_then(|k| fields.get_mut(k)) {
                    value.push(' ');
                    value.push_str(line.trim());
                }
                continue;
            }
            if let Some((key, value)) = line.split_once(':') {
                fields.insert(key, value.trim().to_string());
                last = Some(key);
            }
        }
        let field = |k: &str| fields.get(k).cloned().unwrap_or_default();
        let stanza_arch = field("Architecture");
        if stanza_arch != arch.debian() && stanza_arch != "all" {
            continue;
        }
        let Some(sha256) = parse_hex32(&field("SHA256")) else {
            continue;
        };
        let (package, version) = (field("Package"), field("Version"));
        if package.is_empty() || version.is_empty() {
            continue;
        }
        out.push(Record {
            package,
            version,
            arch,
            depends: field("Depends"),
            sha256,
        });
    }
    out
}

/// The versioned kernel a meta-package's `Depends` pins: `linux-image-X (= V)`.
fn versioned_kernel(depends: &str) -> Option<(String, String)> {
    depends
        .split(',')
        .flat_map(|alt| alt.split('|'))
        .find_map(|dep| {
            let dep = dep.trim();
            let (name, rest) = dep.split_once(' ')?;
            let name = name.split(':').next()?;
            let version = rest
                .trim()
                .strip_prefix("(=")?
                .strip_suffix(')')?
                .trim()
                .to_string();
            name.starts_with("linux-image-")
                .then(|| (name.to_string(), version))
        })
}

/// 64 hex digits as bytes.
fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the cache holds a file of this hash (a damaged one is removed).
fn cached_matches(entry: &Path, sha256: &[u8; 32]) -> Result<bool, KernelError> {
    match sha256_file(entry) {
        Ok(got) if &got == sha256 => Ok(true),
        Ok(_) => {
            fs::remove_file(entry)
                .map_err(|e| KernelError::io("remove the damaged cache entry", entry, e))?;
            Ok(false)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(KernelError::io("read", entry, e)),
    }
}

/// Whether we run as root (dpkg and apt can change the system only then).
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| {
        use std::os::unix::fs::MetadataExt;
        m.uid() == 0
    })
}

/// `tool`, found by [`crate::tool::find`].
fn tool(tool: Tool) -> Result<Command, KernelError> {
    crate::tool::find(tool.0)
        .map(|path| {
            let mut cmd = Command::new(path);
            cmd.env("DEBIAN_FRONTEND", "noninteractive");
            cmd
        })
        .ok_or(KernelError::ToolMissing {
            tool: tool.0,
            package: tool.1,
        })
}

fn spawn_error(tool: Tool, e: io::Error) -> KernelError {
    match e.kind() {
        io::ErrorKind::NotFound => KernelError::ToolMissing {
            tool: tool.0,
            package: tool.1,
        },
        _ => KernelError::io("run", Path::new(tool.0), e),
    }
}

/// Runs `cmd` (which is `tool`) to its end; its standard output, or the error with what it
/// said.
fn run(tool: Tool, cmd: &mut Command) -> Result<String, KernelError> {
    match crate::tool::run(cmd) {
        Ok(output) => Ok(String::from_utf8_lossy(&output.stdout).into_owned()),
        Err(Failure::Missing) => Err(KernelError::ToolMissing {
            tool: tool.0,
            package: tool.1,
        }),
        Err(Failure::Spawn(e)) => Err(spawn_error(tool, e)),
        Err(Failure::Exited { status, said }) => {
            let mut command = tool.0.to_string();
            for arg in cmd.get_args() {
                command.push(' ');
                command.push_str(&arg.to_string_lossy());
            }
            Err(KernelError::ToolFailed {
                command,
                status: Some(status),
                output: said,
            })
        }
    }
}

#[cfg(test)]
#[path = "kernel_tests.rs"]
mod tests;
