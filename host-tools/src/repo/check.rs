//! Checking a repository as a client would, and a little more: every problem is collected,
//! none stops the check.
//!
//! - `index.sig` holds over `index` under the key, and the index has not expired;
//! - every file the index lists is there with its size and SHA-256; each listed image's
//!   `.img.sig` holds (checked in the same pass as the hash), each bundle's manifest signature
//!   holds and its length is its manifest's;
//! - nothing unlisted sits in `packages/`, `distros/` or `releases/`;
//! - every channel file's signature holds, it names its own board and channel, it has not
//!   expired, and its bundle is listed with the size it says and carries the version it says.

use std::fs;
use std::path::Path;

use nanolin_core::PublicKey;
use sha2::{Digest, Sha256};

use super::add::inspect_bundle;
use super::channel::parse_channel;
use super::index::{artifact_files, Found, Index};
use super::{
    hex, is_index_path, utc, RepoError, Repository, CHANNELS, INDEX, INDEX_SIG, RELEASES,
    SIGNATURE_PUB,
};
use crate::error::Error;
use crate::signing::stream_file;

/// One thing wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the repository.
    pub path: String,
    /// What is wrong with it, and what to do.
    pub what: String,
}

/// What a check found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The index, when it could be read.
    pub index: Option<Index>,
    /// Files the index lists.
    pub files: usize,
    /// Channel files.
    pub channels: usize,
    /// Everything wrong.
    pub problems: Vec<Problem>,
}

impl Report {
    fn problem(&mut self, path: &str, what: impl Into<String>) {
        self.problems.push(Problem {
            path: path.to_string(),
            what: what.into(),
        });
    }
}

/// Checks the repository at `root` with `key` (the trusted key: by default the repository's
/// own `signature.pub`), at time `now` (seconds since 1970).
pub fn check(root: &Path, key: Option<PublicKey>, now: u64) -> Result<Report, Error> {
    let mut report = Report::default();
    let repo = match key {
        Some(key) => {
            let repo = Repository::with_key(root, key);
            let own = root.join(SIGNATURE_PUB);
            match crate::keyfile::load_public_key(&own) {
                Ok(own) if own == key => {}
                Ok(own) => report.problem(
                    SIGNATURE_PUB,
                    format!(
                        "key {}, not the trusted key {}: the repository's key was replaced, or \
                         the wrong key was given",
                        own.key_number, key.key_number
                    ),
                ),
                Err(e) => report.problem(SIGNATURE_PUB, e.to_string()),
            }
            repo
        }
        None => Repository::open(root)?,
    };
    report.index = check_index(&repo, now, &mut report);
    if let Some(index) = report.index.take() {
        report.files = index.files.len();
        check_files(&repo, &index, &mut report)?;
        report.index = Some(index);
    }
    check_unlisted(&repo, &mut report)?;
    check_channels(&repo, now, &mut report)?;
    Ok(report)
}

/// The index, if it can be read; its signature and expiry checked.
fn check_index(repo: &Repository, now: u64, report: &mut Report) -> Option<Index> {
    let path = repo.path(INDEX);
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(e) => {
            report.problem(INDEX, format!("unreadable: {e}"));
            return None;
        }
    };
    let sig_path = repo.path(INDEX_SIG);
    match crate::keyfile::read(&sig_path) {
        Ok(sig) => {
            if let Err(e) = repo.verify_bytes(&text, &sig, &sig_path, &path) {
                report.problem(
                    INDEX,
                    format!(
                        "{}: the index was altered, or signed by another key",
                        signature_fault(&e)
                    ),
                );
            }
        }
        Err(e) => report.problem(INDEX_SIG, e.to_string()),
    }
    let index = match std::str::from_utf8(&text)
        .map_err(|_| "not text".to_string())
        .and_then(Index::parse)
    {
        Ok(index) => index,
        Err(e) => {
            report.problem(INDEX, format!("malformed: {e}"));
            return None;
        }
    };
    if now > index.expires {
        report.problem(
            INDEX,
            format!(
                "expired at {} (version {}, made {}): clients refuse it; renew it with \
                 `nanolin repo index DIR -s KEY.sec`",
                utc(index.expires),
                index.version,
                utc(index.created)
            ),
        );
    }
    Some(index)
}

/// A signature's fault, without the file name the problem is reported under.
fn signature_fault(e: &RepoError) -> String {
    match e {
        RepoError::BadSignature { reason, .. } => format!("the signature does not hold: {reason}"),
        RepoError::WrongKey {
            signed_by, trusted, ..
        } => format!("signed by key {signed_by}, not the trusted key {trusted}"),
        other => other.to_string(),
    }
}

/// Every listed file: there, its size, its hash, its signature.
fn check_files(repo: &Repository, index: &Index, report: &mut Report) -> Result<(), Error> {
    for entry in &index.files {
        let path = repo.path(&entry.path);
        let meta = match fs::symlink_metadata(&path) {
            Ok(meta) => meta,
            Err(e) => {
                report.problem(&entry.path, format!("listed in the index, but {e}"));
                continue;
            }
        };
        if !meta.is_file() {
            report.problem(&entry.path, "listed in the index, but not a plain file");
            continue;
        }
        if meta.len() != entry.size {
            report.problem(
                &entry.path,
                format!(
                    "size: the index says {} bytes, the file has {}",
                    entry.size,
                    meta.len()
                ),
            );
            continue;
        }
        // An image's signature is checked in the same pass as its hash.
        let sig_relative = format!("{}.sig", entry.path);
        let mut verifier = None;
        if entry.path.ends_with(".img") && index.get(&sig_relative).is_some() {
            let sig_path = repo.path(&sig_relative);
            match crate::keyfile::read(&sig_path)
                .and_then(|text| Ok(repo.verifier(&text, &sig_path, &path)?))
            {
                Ok(v) => verifier = Some(v),
                Err(Error::Repo(e)) => report.problem(&sig_relative, signature_fault(&e)),
                Err(e) => report.problem(&sig_relative, e.to_string()),
            }
        }
        let mut hasher = Sha256::new();
        let streamed = stream_file(&path, |piece| {
            hasher.update(piece);
            if let Some(v) = verifier.as_mut() {
                v.update(piece);
            }
        });
        if let Err(e) = streamed {
            report.problem(&entry.path, format!("unreadable: {e}"));
            continue;
        }
        let got: [u8; 32] = hasher.finalize().into();
        if got != entry.sha256 {
            report.problem(
                &entry.path,
                format!(
                    "tampered: the index says sha256 {}, the file has {}",
                    hex(&entry.sha256),
                    hex(&got)
                ),
            );
        }
        if let Some(Err(e)) = verifier.map(|v| v.finish()) {
            report.problem(
                &sig_relative,
                format!("the signature of {} does not hold: {e}", entry.path),
            );
        }
        if entry.path.ends_with(".nlb") {
            if let Err(e) = inspect_bundle(repo, &path) {
                report.problem(&entry.path, e.to_string());
            }
        }
    }
    Ok(())
}

/// Files of the artifact directories the index does not list.
fn check_unlisted(repo: &Repository, report: &mut Report) -> Result<(), Error> {
    let listed = |path: &str| {
        report
            .index
            .as_ref()
            .is_none_or(|index| index.get(path).is_some())
    };
    let mut found = Vec::new();
    for file in artifact_files(repo)? {
        match file {
            Found::File(path) if !listed(&path) => found.push((
                path,
                "not in the index: put artifacts in with `nanolin repo add`, which checks and \
                 indexes them",
            )),
            Found::File(_) => {}
            Found::Stray(path) => found.push((
                path,
                "not a plain file with a safe name (a link? a temporary file of an interrupted \
                 run?): clients cannot rely on it; remove it",
            )),
        }
    }
    for (path, what) in found {
        report.problem(&path, what);
    }
    Ok(())
}

/// Every channel file of every board.
fn check_channels(repo: &Repository, now: u64, report: &mut Report) -> Result<(), Error> {
    let dir = repo.path(CHANNELS);
    let boards = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("list", &dir, e)),
    };
    let mut boards: Vec<_> = boards
        .map(|e| e.map(|e| (e.file_name().to_string_lossy().into_owned(), e.path())))
        .collect::<Result<_, _>>()
        .map_err(|e| Error::io("list", &dir, e))?;
    boards.sort();
    for (board, board_dir) in boards {
        if !board_dir.is_dir() {
            report.problem(
                &format!("{CHANNELS}/{board}"),
                "not a board's directory of channels",
            );
            continue;
        }
        let mut names: Vec<String> = fs::read_dir(&board_dir)
            .map_err(|e| Error::io("list", &board_dir, e))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()
            .map_err(|e| Error::io("list", &board_dir, e))?;
        names.sort();
        for name in &names {
            let relative = format!("{CHANNELS}/{board}/{name}");
            if name.starts_with('.') {
                report.problem(
                    &relative,
                    "a temporary file left by an interrupted run: remove it",
                );
                continue;
            }
            if let Some(channel) = name.strip_suffix(".sig") {
                if !names.iter().any(|n| n == channel) {
                    report.problem(&relative, "a signature without its channel file");
                }
                continue;
            }
            report.channels += 1;
            check_channel(repo, &board, name, now, report);
        }
    }
    Ok(())
}

fn check_channel(repo: &Repository, board: &str, name: &str, now: u64, report: &mut Report) {
    let relative = format!("{CHANNELS}/{board}/{name}");
    let path = repo.path(&relative);
    let sig_path = repo.path(&format!("{relative}.sig"));
    let text = match fs::read(&path) {
        Ok(text) => text,
        Err(e) => return report.problem(&relative, format!("unreadable: {e}")),
    };
    match crate::keyfile::read(&sig_path) {
        Ok(sig) => {
            if let Err(e) = repo.verify_bytes(&text, &sig, &sig_path, &path) {
                report.problem(
                    &relative,
                    format!("{}: boards refuse it", signature_fault(&e)),
                );
            }
        }
        Err(e) => report.problem(&relative, format!("{e}: boards refuse a channel unsigned")),
    }
    let file = match std::str::from_utf8(&text)
        .map_err(|_| "not text".to_string())
        .and_then(parse_channel)
    {
        Ok(file) => file,
        Err(e) => return report.problem(&relative, format!("malformed: {e}")),
    };
    if file.board != board || file.channel != name {
        report.problem(
            &relative,
            format!(
                "it says board {} channel {}: boards polling this place refuse it",
                file.board, file.channel
            ),
        );
    }
    if now > file.expires {
        report.problem(
            &relative,
            format!(
                "expired at {} ({}): boards refuse it; renew it with `nanolin repo publish` or \
                 `nanolin repo promote`",
                utc(file.expires),
                file.version
            ),
        );
    }
    if !is_index_path(&file.bundle) || !file.bundle.starts_with(&format!("{RELEASES}/{board}/")) {
        return report.problem(
            &relative,
            format!(
                "bundle={} is not a place for this board's bundles ({RELEASES}/{board}/…)",
                file.bundle
            ),
        );
    }
    if let Some(index) = &report.index {
        match index.get(&file.bundle) {
            None => {
                return report.problem(
                    &relative,
                    format!("its bundle {} is not in the index", file.bundle),
                )
            }
            Some(entry) if entry.size != file.size => {
                return report.problem(
                    &relative,
                    format!(
                        "it says its bundle {} has {} bytes, the index says {}",
                        file.bundle, file.size, entry.size
                    ),
                )
            }
            Some(_) => {}
        }
    }
    if let Ok(info) = inspect_bundle(repo, &repo.path(&file.bundle)) {
        if info.version != file.version || info.board != file.board {
            report.problem(
                &relative,
                format!(
                    "it offers {} for {}, but its bundle {} carries {} for {}",
                    file.version, file.board, file.bundle, info.version, info.board
                ),
            );
        }
    }
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
