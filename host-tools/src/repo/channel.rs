//! Channel files: what a board polls, written exactly as `nanolin-agent` reads them
//! (`agent/src/channel.rs`).
//!
//! `channels/<board>/<channel>`, signed by `channels/<board>/<channel>.sig` (as `nanolin sign`
//! signs the file):
//!
//! ```sh
//! board=qemu-aarch64-virt
//! channel=stable
//! version=r26.11-G22134501
//! bundle=releases/qemu-aarch64-virt/prime-r26.11-G22134501.nlb
//! size=123456789
//! expires=1798761600
//! ```
//!
//! A channel never goes back: publishing or promoting a release older than the one the
//! channel names is refused (the same release again is allowed: it renews the expiry).

use std::fs;
use std::path::Path;

use nanolin_core::version::ReleaseVersion;

use super::index::Index;
use super::{is_safe_name, write_atomically, RepoError, Repository, Signer, CHANNELS, RELEASES};
use crate::error::Error;

/// A channel file: the agent's own type, so the repository writes and checks exactly what
/// boards read.
pub use nanolin_agent::channel::Channel as ChannelFile;

/// Reads a channel file's text with the agent's reader; the error is the reason alone.
pub fn parse_channel(text: &str) -> Result<ChannelFile, String> {
    ChannelFile::parse(text).map_err(|e| match e {
        nanolin_agent::error::AgentError::Refused(nanolin_agent::error::Refusal::Channel(
            reason,
        )) => reason,
        other => other.to_string(),
    })
}

/// `channels/<board>/<channel>`.
pub fn channel_path(board: &str, channel: &str) -> String {
    format!("{CHANNELS}/{board}/{channel}")
}

/// Refuses a channel name that cannot be a file beside its signature.
pub fn check_channel_name(channel: &str) -> Result<(), Error> {
    if !is_safe_name(channel) || channel.ends_with(".sig") {
        return Err(Error::Usage(format!(
            "{channel:?} cannot name a channel: use letters, digits and `._+~-`, not starting \
             with `.` or `-` and not ending in .sig (testing, stable)"
        )));
    }
    Ok(())
}

/// Refuses a board compatible string that cannot be a directory name.
pub fn check_board_name(board: &str, origin: &Path) -> Result<(), Error> {
    if !is_safe_name(board) {
        return Err(RepoError::Unplaceable {
            path: origin.into(),
            reason: format!(
                "the board {board:?} cannot name a directory of the repository (letters, \
                 digits and `._+~-`)"
            ),
        }
        .into());
    }
    Ok(())
}

/// Reads `channels/<board>/<channel>` and checks its signature, board and channel; `None`
/// when there is no such file.
pub fn read_channel(
    repo: &Repository,
    board: &str,
    channel: &str,
) -> Result<Option<ChannelFile>, Error> {
    let relative = channel_path(board, channel);
    let path = repo.path(&relative);
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let sig_path = repo.path(&format!("{relative}.sig"));
    let sig = crate::keyfile::read(&sig_path)?;
    repo.verify_bytes(&text, &sig, &sig_path, &path)?;
    let malformed = |reason: String| RepoError::Malformed {
        path: path.clone(),
        reason,
    };
    let text = String::from_utf8(text).map_err(|_| malformed("not text".into()))?;
    let file = parse_channel(&text).map_err(malformed)?;
    if file.board != board || file.channel != channel {
        return Err(malformed(format!(
            "it says board {} channel {}, not what its place says",
            file.board, file.channel
        ))
        .into());
    }
    Ok(Some(file))
}

/// A release a channel can name: a bundle of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The board's compatible string.
    pub board: String,
    /// The release version.
    pub version: ReleaseVersion,
    /// The bundle, relative to the repository (`releases/<board>/NAME.nlb`).
    pub bundle: String,
    /// Bytes of the bundle.
    pub size: u64,
}

/// What a publish or promote wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// The channel file, relative to the repository.
    pub path: String,
    /// The release the channel named before, if any.
    pub previous: Option<ReleaseVersion>,
    /// The channel file written.
    pub file: ChannelFile,
}

/// Writes `channels/<board>/<channel>` and its `.sig` for `release`, valid `lifetime`
/// seconds from the signing time; refuses a release older than the channel's.
pub fn publish(
    repo: &Repository,
    signer: &Signer<'_>,
    release: &Release,
    channel: &str,
    lifetime: u64,
) -> Result<Published, Error> {
    check_channel_name(channel)?;
    check_board_name(&release.board, &repo.path(&release.bundle))?;
    let relative = channel_path(&release.board, channel);
    let current = read_channel(repo, &release.board, channel)?;
    if let Some(current) = &current {
        if release.version < current.version {
            return Err(RepoError::Older {
                channel: repo.path(&relative),
                offered: release.version,
                current: current.version,
            }
            .into());
        }
    }
    let file = ChannelFile {
        board: release.board.clone(),
        channel: channel.to_string(),
        version: release.version,
        bundle: release.bundle.clone(),
        size: release.size,
        expires: signer.time().saturating_add(lifetime),
    };
    let text = file.to_text();
    let signature = signer.sign(channel, text.as_bytes())?;
    let dir = repo.path(&format!("{CHANNELS}/{}", release.board));
    fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    write_atomically(&repo.path(&relative), text.as_bytes())?;
    write_atomically(&repo.path(&format!("{relative}.sig")), &signature)?;
    Ok(Published {
        path: relative,
        previous: current.map(|c| c.version),
        file,
    })
}

/// Publishes to channel `to` the release channel `from` names (checked: its signature, and
/// its bundle listed in `index` with the size it says), re-signed with a fresh expiry.
pub fn promote(
    repo: &Repository,
    signer: &Signer<'_>,
    index: &Index,
    board: &str,
    from: &str,
    to: &str,
    lifetime: u64,
) -> Result<Published, Error> {
    check_channel_name(from)?;
    check_channel_name(to)?;
    check_board_name(board, &repo.path(CHANNELS))?;
    let source = read_channel(repo, board, from)?.ok_or_else(|| RepoError::NoChannel {
        path: repo.path(&channel_path(board, from)),
    })?;
    let listed = index.get(&source.bundle);
    let in_releases = source.bundle.starts_with(&format!("{RELEASES}/{board}/"));
    if !in_releases || listed.map(|e| e.size) != Some(source.size) {
        return Err(RepoError::Unpublishable {
            path: repo.path(&source.bundle),
            reason: format!(
                "channel {from} names it ({} bytes), but the index {}: run `nanolin repo check`",
                source.size,
                match listed {
                    Some(e) if in_releases => format!("lists it with {} bytes", e.size),
                    _ => "does not list it among the board's releases".into(),
                }
            ),
        }
        .into());
    }
    let release = Release {
        board: board.to_string(),
        version: source.version,
        bundle: source.bundle,
        size: source.size,
    };
    publish(repo, signer, &release, to, lifetime)
}

#[cfg(test)]
#[path = "channel_tests.rs"]
mod tests;
