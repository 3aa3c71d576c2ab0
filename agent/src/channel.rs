//! Channel files: what a board polls to learn the newest release for it.
//!
//! `REPOSITORY/channels/<board>/<channel>` is a key=value file, signed by
//! `REPOSITORY/channels/<board>/<channel>.sig` (signify):
//!
//! ```sh
//! board=qemu-aarch64-virt
//! channel=stable
//! version=r26.11-G22134501
//! bundle=releases/qemu-aarch64-virt/prime-r26.11-G22134501.nlb   # relative to the repository
//! size=123456789
//! expires=1798761600                                             # seconds since 1970
//! ```
//!
//! The signature stops forgery; `expires` stops a freeze (a server kept from publishing
//! anything new); the version, never lower than one seen before, stops a replay.

use nanolin_core::version::ReleaseVersion;

use crate::error::{AgentError, Refusal};
use crate::kv::read_pairs;

/// Largest channel file (and signature) fetched.
pub const CHANNEL_MAX_LEN: u64 = 64 * 1024;

/// A checked channel file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    /// The board it is for.
    pub board: String,
    /// The channel's name.
    pub channel: String,
    /// The newest release.
    pub version: ReleaseVersion,
    /// Where its bundle is, relative to the repository (or a full URL).
    pub bundle: String,
    /// Bytes of the bundle.
    pub size: u64,
    /// After this time (seconds since 1970) the file is refused.
    pub expires: u64,
}

impl Channel {
    /// Reads a channel file's text (its signature checked first by the caller).
    pub fn parse(text: &str) -> Result<Self, AgentError> {
        let pairs = read_pairs("channel file", text).map_err(Refusal::Channel)?;
        let get = |key: &str| {
            pairs
                .iter()
                .rev()
                .find(|p| p.name == key)
                .map(|p| p.value.clone())
                .ok_or_else(|| Refusal::Channel(format!("{key}= is missing")))
        };
        let number = |key: &str| -> Result<u64, Refusal> {
            get(key)?
                .parse()
                .map_err(|_| Refusal::Channel(format!("{key}= is not a number")))
        };
        let version = get("version")?;
        Ok(Channel {
            board: get("board")?,
            channel: get("channel")?,
            version: ReleaseVersion::parse(&version)
                .map_err(|e| Refusal::Channel(format!("version={version}: {e}")))?,
            bundle: get("bundle")?,
            size: number("size")?,
            expires: number("expires")?,
        })
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        format!(
            "board={}\nchannel={}\nversion={}\nbundle={}\nsize={}\nexpires={}\n",
            self.board, self.channel, self.version, self.bundle, self.size, self.expires
        )
    }
}
