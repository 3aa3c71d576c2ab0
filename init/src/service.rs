//! A service as its file defines it: what to run, when, and how to tell it is up.
//!
//! ```text
//! # /etc/nanolin/services/agent
//! run="/usr/bin/nanolin-agent daemon"
//! needs="network data"          # hard dependencies: started first, must come up
//! after=syslog                  # ordering only: started first if present
//! kind=longrun                  # or oneshot
//! ready=fd:3                    # none | fd:N (a line on fd N, as s6) | notify (sd_notify)
//! restart=always                # always | on-failure | never
//! user=agent                    # name or uid[:gid]
//! health=required               # the slot is good only when this is up
//! directory=/var/lib/agent      # working directory
//! export RUST_LOG=info          # environment of the service
//! ```

use core::fmt;

use nanolin_core::keyvalue::{Position, SyntaxErrorKind};

use crate::limits::{
    MAX_DEPENDENCIES, MAX_ENVIRONMENT, MAX_SERVICES, NAME_MAX_LEN, READY_FD_MAX, VALUE_MAX_LEN,
};
use crate::strings::StrRef;

/// Index of a service in its table.
pub type ServiceId = u16;

/// Whether a service keeps running or runs once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Runs until stopped; supervised and restarted.
    Longrun,
    /// Runs to completion; up once it exited 0.
    Oneshot,
}

/// How init learns that a longrun service is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Ready as soon as it is started.
    Immediate,
    /// Ready when it writes a line to this file descriptor (s6's notification-fd).
    Fd(u8),
    /// Ready when it sends `READY=1` to `$NOTIFY_SOCKET` (sd_notify).
    Notify,
}

/// When a service that exited is started again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restart {
    /// Whenever it exits.
    Always,
    /// When it exits with a non-zero status or by a signal.
    OnFailure,
    /// Never.
    Never,
}

/// A range of entries in the table's dependency list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DependencyRange {
    /// First entry.
    pub start: u16,
    /// Number of entries.
    pub len: u16,
}

impl DependencyRange {
    /// The entries' indexes.
    pub fn indexes(&self) -> core::ops::Range<usize> {
        let start = usize::from(self.start);
        start..start + usize::from(self.len)
    }
}

/// A service's definition, its strings stored in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceDef {
    /// Name (the file name).
    pub name: StrRef,
    /// Command line: words separated by blanks, quoted with '…' or "…" to hold blanks.
    pub run: StrRef,
    /// Working directory.
    pub directory: Option<StrRef>,
    /// User to run as: a name, or uid[:gid].
    pub user: Option<StrRef>,
    /// Environment: `NAME=value` entries, each ended by a NUL byte.
    pub environment: StrRef,
    /// Number of environment entries.
    pub environment_len: u8,
    /// Longrun or oneshot.
    pub kind: Kind,
    /// How readiness is signalled.
    pub ready: Readiness,
    /// Restart policy.
    pub restart: Restart,
    /// The slot is good only when this service is up.
    pub health_required: bool,
    /// Hard dependencies.
    pub needs: DependencyRange,
    /// Ordering-only dependencies.
    pub after: DependencyRange,
    /// Line of `needs=` (for messages about unknown names).
    pub needs_line: u32,
    /// Line of `after=`.
    pub after_line: u32,
}

/// What is wrong with a service file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceErrorKind {
    /// The key=value syntax is broken.
    Syntax(SyntaxErrorKind),
    /// A setting init does not know.
    UnknownSetting,
    /// A setting given twice.
    RepeatedSetting,
    /// A value that is not one of the allowed ones.
    InvalidValue {
        /// The setting.
        setting: &'static str,
        /// What it takes.
        expected: &'static str,
    },
    /// A value uses `$name`: service files are not expanded.
    Variable,
    /// A value longer than [`VALUE_MAX_LEN`].
    ValueTooLong,
    /// No `run=`, or an empty one.
    MissingRun,
    /// The file name is not a usable service name.
    InvalidName,
    /// A service of this name exists already.
    DuplicateName,
    /// The file is larger than init reads.
    FileTooLarge,
    /// More `export` lines than [`MAX_ENVIRONMENT`].
    TooManyVariables,
    /// The table holds [`MAX_SERVICES`] services already.
    TooManyServices,
    /// The dependency list is full ([`MAX_DEPENDENCIES`] entries).
    TooManyDependencies,
    /// The string space is full.
    OutOfStringSpace,
    /// A service needs itself.
    NeedsItself,
    /// A value holds a NUL byte, which no program can be given.
    NulByte,
    /// `needs=` names a service that has no file.
    UnknownService(ShortName),
}

/// A service name copied into an error, so the error stays `Copy` and owns its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShortName {
    bytes: [u8; NAME_MAX_LEN],
    len: u8,
}

impl ShortName {
    /// Copies `name`, cut to [`NAME_MAX_LEN`] bytes at a character boundary.
    pub fn new(name: &str) -> Self {
        let mut end = name.len().min(NAME_MAX_LEN);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        let mut bytes = [0u8; NAME_MAX_LEN];
        if let (Some(dest), Some(src)) = (bytes.get_mut(..end), name.as_bytes().get(..end)) {
            dest.copy_from_slice(src);
        }
        ShortName {
            bytes,
            len: end as u8,
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        self.bytes
            .get(..usize::from(self.len))
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

/// A fault in a service file, with its place when it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceError {
    /// Line and column, when the fault is at one place.
    pub position: Option<Position>,
    /// What is wrong.
    pub kind: ServiceErrorKind,
}

impl ServiceError {
    pub(crate) fn at(position: Position, kind: ServiceErrorKind) -> Self {
        ServiceError {
            position: Some(position),
            kind,
        }
    }

    pub(crate) fn whole(kind: ServiceErrorKind) -> Self {
        ServiceError {
            position: None,
            kind,
        }
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.position {
            write!(f, "{p}: ")?;
        }
        self.kind.fmt(f)
    }
}

impl fmt::Display for ServiceErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceErrorKind::Syntax(kind) => kind.fmt(f),
            ServiceErrorKind::UnknownSetting => f.write_str(
                "unknown setting; known: run, needs, after, kind, ready, restart, user, health, \
                 directory, and `export NAME=value` for the environment",
            ),
            ServiceErrorKind::RepeatedSetting => f.write_str("this setting is given twice"),
            ServiceErrorKind::InvalidValue { setting, expected } => {
                write!(f, "invalid {setting}: expected {expected}")
            }
            ServiceErrorKind::Variable => f.write_str(
                "service files are not expanded: write the value out, or quote it with '…'",
            ),
            ServiceErrorKind::ValueTooLong => write!(f, "the value is longer than {VALUE_MAX_LEN} bytes"),
            ServiceErrorKind::MissingRun => f.write_str("no command: add run=\"/path/to/program args\""),
            ServiceErrorKind::InvalidName => write!(
                f,
                "not a service name: use up to {NAME_MAX_LEN} letters, digits, and . _ @ - (not starting with .)"
            ),
            ServiceErrorKind::DuplicateName => f.write_str("a service of this name is defined already"),
            ServiceErrorKind::FileTooLarge => f.write_str("the service file is too large"),
            ServiceErrorKind::TooManyVariables => {
                write!(f, "more than {MAX_ENVIRONMENT} exported variables")
            }
            ServiceErrorKind::TooManyServices => write!(f, "more than {MAX_SERVICES} services"),
            ServiceErrorKind::TooManyDependencies => {
                write!(f, "more than {MAX_DEPENDENCIES} dependencies over all services")
            }
            ServiceErrorKind::OutOfStringSpace => {
                f.write_str("the space for service definitions is used up")
            }
            ServiceErrorKind::NeedsItself => f.write_str("a service cannot need or follow itself"),
            ServiceErrorKind::NulByte => f.write_str("the value holds a NUL byte"),
            ServiceErrorKind::UnknownService(name) => write!(
                f,
                "needs `{}`, but no service of that name exists",
                name.as_str()
            ),
        }
    }
}

impl core::error::Error for ServiceError {}

/// True for a usable service name.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX_LEN
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
}

impl Kind {
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "longrun" => Some(Kind::Longrun),
            "oneshot" => Some(Kind::Oneshot),
            _ => None,
        }
    }
}

impl Readiness {
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "none" => Some(Readiness::Immediate),
            "notify" => Some(Readiness::Notify),
            _ => {
                let fd: u8 = value.strip_prefix("fd:")?.parse().ok()?;
                // 0, 1 and 2 are the service's standard streams.
                (3..=READY_FD_MAX)
                    .contains(&fd)
                    .then_some(Readiness::Fd(fd))
            }
        }
    }
}

impl Restart {
    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "always" => Some(Restart::Always),
            "on-failure" => Some(Restart::OnFailure),
            "never" => Some(Restart::Never),
            _ => None,
        }
    }
}
