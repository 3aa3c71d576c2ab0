//! The one error type of the host library, and the exit status each error maps to.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use nanolin_core::armor::EmitError;
use nanolin_core::{FormatError, SecretKeyError};

/// How a run of a Nanolin program ended, as its exit code (the same in every program).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// 0: done.
    Success = 0,
    /// 1: the answer is no (verification failed, input refused).
    No = 1,
    /// 2: the command line is wrong.
    Usage = 2,
    /// 3: the system failed us (a file could not be read or written).
    System = 3,
}

/// Everything that can go wrong in the host tools.
#[derive(Debug)]
pub enum Error {
    /// A file could not be read, written or created.
    Io {
        /// What we were doing, as a verb phrase ("read", "create").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// A key or signature file is malformed.
    Format {
        /// The file.
        path: PathBuf,
        /// The fault and its place.
        error: FormatError,
    },
    /// A minisign secret key file is malformed.
    MinisignKey {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A secret key could not be opened.
    SecretKey {
        /// The file.
        path: PathBuf,
        /// Why.
        error: SecretKeyError,
    },
    /// No passphrase could be had.
    Passphrase(String),
    /// A file we were asked to create exists already.
    Exists(PathBuf),
    /// A record could not be written (a comment that does not fit the format).
    Emit(EmitError),
    /// The command line asks for something impossible.
    Usage(String),
    /// An update bundle is malformed.
    Bundle {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        error: nanolin_core::bundle::BundleError,
    },
    /// Input that is well formed but refused (a signature that does not hold).
    Refused(String),
    /// A recipe, or a set of recipes, is wrong.
    Recipe(crate::recipe::RecipeError),
    /// A source could not be fetched or did not match its pin.
    Fetch(crate::fetch::FetchError),
    /// A license expression is wrong, or the sources could not be scanned.
    License(crate::license::LicenseError),
    /// The sandboxed build failed or left something a package may not hold.
    Sandbox(crate::sandbox::SandboxError),
    /// The package image or its file list could not be written.
    Image(crate::pkgimage::ImageError),
    /// A repository refused, or could not be written or checked.
    Repo(crate::repo::RepoError),
    /// A board file is wrong, or names no board.
    Board(crate::board::BoardError),
    /// A distro file is wrong.
    Distro(crate::distro::DistroError),
    /// A disk image could not be laid out or written.
    Disk(crate::disk::DiskError),
    /// A kernel could not be fetched or unpacked.
    Kernel(crate::kernel::KernelError),
    /// An initramfs could not be written.
    Initramfs(crate::initramfs::InitramfsError),
    /// The boot files could not be made.
    Bootfs(crate::bootfs::BootfsError),
    /// An ISO image could not be made.
    Iso(crate::iso::IsoError),
    /// Some files did not verify; each was reported as it failed.
    VerificationFailed {
        /// Files that failed.
        failed: usize,
        /// Files checked.
        total: usize,
    },
}

impl Error {
    /// An I/O error on `path` while doing `action`.
    pub fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The exit status this error maps to.
    pub fn status(&self) -> Status {
        match self {
            Error::Io { .. } => Status::System,
            Error::Passphrase(_) | Error::Exists(_) | Error::Emit(_) | Error::Usage(_) => {
                Status::Usage
            }
            Error::Format { .. }
            | Error::MinisignKey { .. }
            | Error::SecretKey { .. }
            | Error::Bundle { .. }
            | Error::Refused(_)
            | Error::VerificationFailed { .. } => Status::No,
            Error::Recipe(e) => match e {
                crate::recipe::RecipeError::Io { .. } => Status::System,
                _ => Status::No,
            },
            // The source is wrong (a refusal) or could not be had (the system failed us).
            Error::Fetch(e) => match e {
                crate::fetch::FetchError::Missing { .. }
                | crate::fetch::FetchError::Mismatch { .. }
                | crate::fetch::FetchError::TooLarge { .. }
                | crate::fetch::FetchError::UnknownCommit { .. }
                | crate::fetch::FetchError::PinKind { .. }
                | crate::fetch::FetchError::Tree { .. }
                | crate::fetch::FetchError::Lock { .. } => Status::No,
                _ => Status::System,
            },
            Error::License(e) => match e {
                crate::license::LicenseError::Expression { .. } => Status::No,
                _ => Status::System,
            },
            Error::Sandbox(e) => e.status(),
            Error::Image(e) => e.status(),
            Error::Repo(e) => e.status(),
            Error::Board(crate::board::BoardError::Io { .. })
            | Error::Distro(crate::distro::DistroError::Io { .. }) => Status::System,
            Error::Board(_) | Error::Distro(_) => Status::No,
            Error::Disk(e) => e.status(),
            Error::Kernel(e) => e.status(),
            Error::Initramfs(e) => e.status(),
            Error::Bootfs(e) => e.status(),
            Error::Iso(e) => e.status(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io {
                action,
                path,
                source,
            } => {
                write!(f, "unable to {action} {}: {source}", path.display())
            }
            Error::Format { path, error } => write!(f, "{}: {error}", path.display()),
            Error::MinisignKey { path, reason } => {
                write!(
                    f,
                    "{}: not a usable minisign secret key: {reason}",
                    path.display()
                )
            }
            Error::SecretKey { path, error } => write!(f, "{}: {error}", path.display()),
            Error::Passphrase(reason) => f.write_str(reason),
            Error::Exists(path) => write!(
                f,
                "{} exists already: refusing to overwrite a key; remove it or choose another name",
                path.display()
            ),
            Error::Emit(e) => e.fmt(f),
            Error::Usage(reason) => f.write_str(reason),
            Error::Bundle { path, error } => write!(f, "{}: {error}", path.display()),
            Error::Refused(reason) => f.write_str(reason),
            Error::Recipe(e) => e.fmt(f),
            Error::Fetch(e) => e.fmt(f),
            Error::License(e) => e.fmt(f),
            Error::Sandbox(e) => e.fmt(f),
            Error::Image(e) => e.fmt(f),
            Error::Repo(e) => e.fmt(f),
            Error::Board(e) => e.fmt(f),
            Error::Distro(e) => e.fmt(f),
            Error::Disk(e) => e.fmt(f),
            Error::Kernel(e) => e.fmt(f),
            Error::Initramfs(e) => e.fmt(f),
            Error::Bootfs(e) => e.fmt(f),
            Error::Iso(e) => e.fmt(f),
            Error::VerificationFailed { failed, total } => {
                write!(f, "{failed} of {total} files failed verification")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Format { error, .. } => Some(error),
            Error::SecretKey { error, .. } => Some(error),
            Error::Emit(error) => Some(error),
            _ => None,
        }
    }
}

impl From<EmitError> for Error {
    fn from(e: EmitError) -> Self {
        Error::Emit(e)
    }
}

impl From<crate::recipe::RecipeError> for Error {
    fn from(e: crate::recipe::RecipeError) -> Self {
        Error::Recipe(e)
    }
}

impl From<crate::fetch::FetchError> for Error {
    fn from(e: crate::fetch::FetchError) -> Self {
        Error::Fetch(e)
    }
}

impl From<crate::license::LicenseError> for Error {
    fn from(e: crate::license::LicenseError) -> Self {
        Error::License(e)
    }
}

impl From<crate::sandbox::SandboxError> for Error {
    fn from(e: crate::sandbox::SandboxError) -> Self {
        Error::Sandbox(e)
    }
}

impl From<crate::pkgimage::ImageError> for Error {
    fn from(e: crate::pkgimage::ImageError) -> Self {
        Error::Image(e)
    }
}

impl From<crate::board::BoardError> for Error {
    fn from(e: crate::board::BoardError) -> Self {
        Error::Board(e)
    }
}

impl From<crate::distro::DistroError> for Error {
    fn from(e: crate::distro::DistroError) -> Self {
        Error::Distro(e)
    }
}

impl From<crate::disk::DiskError> for Error {
    fn from(e: crate::disk::DiskError) -> Self {
        Error::Disk(e)
    }
}

impl From<crate::kernel::KernelError> for Error {
    fn from(e: crate::kernel::KernelError) -> Self {
        Error::Kernel(e)
    }
}

impl From<crate::initramfs::InitramfsError> for Error {
    fn from(e: crate::initramfs::InitramfsError) -> Self {
        Error::Initramfs(e)
    }
}

impl From<crate::bootfs::BootfsError> for Error {
    fn from(e: crate::bootfs::BootfsError) -> Self {
        Error::Bootfs(e)
    }
}

impl From<crate::iso::IsoError> for Error {
    fn from(e: crate::iso::IsoError) -> Self {
        Error::Iso(e)
    }
}
