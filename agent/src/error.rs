//! The agent's one error type, and the exit status each error maps to.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use nanolin_core::bundle::BundleError;

/// Why an update was refused: the input is well formed but must not be installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The bundle is for another board.
    WrongBoard {
        /// The bundle's compatible string.
        bundle: String,
        /// This board's.
        ours: String,
    },
    /// The bundle is older than (or the same as) what the board runs.
    NotNewer {
        /// The bundle's version.
        bundle: String,
        /// The booted slot's version.
        installed: String,
    },
    /// The bundle is older than the floor a previous release set.
    BelowFloor {
        /// The bundle's version.
        bundle: String,
        /// The floor.
        floor: String,
    },
    /// The manifest (or channel) expired.
    Expired {
        /// What expired.
        what: &'static str,
        /// When (seconds since 1970).
        expires: u64,
        /// Now (seconds since 1970).
        now: u64,
    },
    /// No trusted key made the signature, or it does not hold.
    Signature(String),
    /// The header or manifest is malformed.
    Bundle(BundleError),
    /// The bundle is not as long as its manifest says.
    Length {
        /// Bytes the manifest implies.
        expected: u64,
        /// Bytes there are.
        got: u64,
    },
    /// A table block does not match its signed hash.
    TableHash {
        /// The image.
        image: String,
        /// The block.
        block: u64,
    },
    /// A chunk does not match its hash.
    ChunkHash {
        /// The image.
        image: String,
        /// The chunk.
        chunk: u64,
    },
    /// The written image's hash is not the manifest's.
    ImageHash {
        /// The image.
        image: String,
    },
    /// The configuration has no slot for an image of the bundle.
    NoSlot {
        /// The image.
        image: String,
    },
    /// The slot is smaller than the image.
    SlotTooSmall {
        /// The slot.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The image's size.
        needed: u64,
    },
    /// The release failed on this board before and is not tried again.
    FailedBefore {
        /// The version.
        version: String,
    },
    /// A channel file older than one seen before (a replay).
    ChannelReplay {
        /// The channel file's version.
        got: String,
        /// The newest seen.
        seen: String,
    },
    /// A channel file is malformed.
    Channel(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::WrongBoard { bundle, ours } => write!(
                f,
                "refusing bundle for board {bundle}: this board is {ours} (build the release for {ours})"
            ),
            Refusal::NotNewer { bundle, installed } => write!(
                f,
                "refusing release {bundle}: the board runs {installed}, which is not older (pass --allow-downgrade to go back, never below the floor)"
            ),
            Refusal::BelowFloor { bundle, floor } => write!(
                f,
                "refusing release {bundle}: an installed release set the minimum version {floor}"
            ),
            Refusal::Expired { what, expires, now } => write!(
                f,
                "refusing {what}: it expired at {expires} and the clock says {now} (publish a fresh one, or set the board's clock)"
            ),
            Refusal::Signature(reason) => write!(f, "refusing bundle: {reason}"),
            Refusal::Bundle(e) => write!(f, "refusing bundle: {e}"),
            Refusal::Length { expected, got } => write!(
                f,
                "refusing bundle: it has {got} bytes but its manifest says {expected} ({})",
                if got < expected { "truncated" } else { "bytes were appended" }
            ),
            Refusal::TableHash { image, block } => write!(
                f,
                "refusing bundle: the chunk table block {block} of image {image} does not match the signed manifest (corrupt or tampered)"
            ),
            Refusal::ChunkHash { image, chunk } => write!(
                f,
                "refusing bundle: chunk {chunk} of image {image} does not match its hash (corrupt or tampered); nothing unverified was written"
            ),
            Refusal::ImageHash { image } => write!(
                f,
                "image {image} does not match the manifest's SHA-256 (corrupt or tampered): the target slot is not made bootable"
            ),
            Refusal::NoSlot { image } => write!(
                f,
                "the bundle carries image {image} but agent.conf names no slot for it (slot_a_{image}= and slot_b_{image}=)"
            ),
            Refusal::SlotTooSmall { path, size, needed } => write!(
                f,
                "slot {} holds {size} bytes but the image needs {needed}",
                path.display()
            ),
            Refusal::FailedBefore { version } => write!(
                f,
                "release {version} failed on this board before: not trying it again (publish a newer one)"
            ),
            Refusal::ChannelReplay { got, seen } => write!(
                f,
                "refusing channel file for {got}: one for {seen} was seen before (a replayed or stale channel)"
            ),
            Refusal::Channel(reason) => write!(f, "refusing channel file: {reason}"),
        }
    }
}

/// Everything that can go wrong in the agent.
#[derive(Debug)]
pub enum AgentError {
    /// The command line is wrong.
    Usage(String),
    /// The configuration is wrong.
    Config(String),
    /// A file or device could not be read or written.
    Io {
        /// What we were doing ("read", "write", "sync").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// The update server could not be reached, or answered wrongly.
    Download(String),
    /// The boot state could not be read or is damaged.
    BootState(String),
    /// The update was refused.
    Refused(Refusal),
    /// Nothing to do (no newer release).
    UpToDate(String),
    /// The booted slot failed its health check: which services and what became of the slot.
    Unhealthy(String),
}

impl AgentError {
    /// An I/O error on `path` while doing `action`.
    pub fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        AgentError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// Exit status: 1 no, 2 usage, 3 system failure.
    pub fn status(&self) -> u8 {
        match self {
            AgentError::Refused(_) | AgentError::UpToDate(_) | AgentError::Unhealthy(_) => 1,
            AgentError::Usage(_) | AgentError::Config(_) => 2,
            AgentError::Io { .. } | AgentError::Download(_) | AgentError::BootState(_) => 3,
        }
    }
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Usage(m)
            | AgentError::Config(m)
            | AgentError::UpToDate(m)
            | AgentError::Unhealthy(m) => f.write_str(m),
            AgentError::Io {
                action,
                path,
                source,
            } => write!(f, "unable to {action} {}: {source}", path.display()),
            AgentError::Download(m) => write!(f, "download failed: {m}"),
            AgentError::BootState(m) => write!(f, "boot state: {m}"),
            AgentError::Refused(r) => r.fmt(f),
        }
    }
}

impl std::error::Error for AgentError {}

impl From<Refusal> for AgentError {
    fn from(r: Refusal) -> Self {
        AgentError::Refused(r)
    }
}
