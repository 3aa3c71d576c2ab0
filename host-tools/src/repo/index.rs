//! The repository's index: every artifact with its size and SHA-256, signed.
//!
//! `index` is a key=value file (the syntax of `nanolin_core::keyvalue`), signed by `index.sig`
//! (signify, with minisign's trusted comment `timestamp:CREATED<TAB>file:index`):
//!
//! ```sh
//! # nanolin repository index: every artifact with its size and SHA-256; index.sig signs it
//! format=1
//! version=7                 # one more at each `nanolin repo index`, never reused
//! created=1795000000        # seconds since 1970 (SOURCE_DATE_EPOCH when set)
//! expires=1797592000        # clients refuse the index after this time
//! file="manifest.tgz 412 9f1c…"                        # path size sha256, one per file
//! file="packages.tgz 389 03ab…"
//! file="packages/hello-1.0-r26.11-G22134501.img 4096 5e77…"
//! file="releases/qemu-aarch64-virt/prime-r26.11-G22134501.nlb 123456789 c0de…"
//! ```
//!
//! The lines are in this order; `file=` lines are sorted by the bytes of the path, each path
//! listed once; a path is relative to the repository, `/`-separated, and is `packages.tgz`,
//! `manifest.tgz` or a file under `packages/`, `distros/` or `releases/` (every component a
//! [safe name](super::is_safe_name), so no value needs quoting beyond the double quotes).
//! The same files and `SOURCE_DATE_EPOCH` give the same bytes, and the same signature.
//!
//! Channel files are not listed: they change at every publish and carry their own signature
//! and expiry. `signature.pub` is not listed: it is what the index is checked with.

use std::fs;
use std::path::Path;

use super::archive::{archive_mtime, write_tgz};
use super::{
    hex, is_index_path, parse_sha256, read_pairs, sha256_file, write_atomically, RepoError,
    Repository, Signer, ARTIFACT_DIRS, DISTROS, INDEX, INDEX_SIG, MANIFEST_TGZ, PACKAGES,
    PACKAGES_TGZ,
};
use crate::error::Error;

/// The index format this code writes and reads.
pub const FORMAT: u32 = 1;

/// One file the index lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the repository, `/`-separated.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256 of the bytes.
    pub sha256: [u8; 32],
}

impl Entry {
    /// Reads `PATH SIZE SHA256`.
    pub fn parse(value: &str) -> Result<Entry, String> {
        let fields: Vec<&str> = value.split(' ').collect();
        let [path, size, sha256] = fields[..] else {
            return Err(format!(
                "file={value:?}: expected \"PATH SIZE SHA256\", separated by one space"
            ));
        };
        if !is_index_path(path) {
            return Err(format!(
                "file={value:?}: {path:?} is not a path an index may list"
            ));
        }
        let size = size
            .parse()
            .ok()
            .filter(|_| size.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| format!("file={value:?}: the size {size:?} is not a number"))?;
        let sha256 = parse_sha256(sha256)
            .ok_or_else(|| format!("file={value:?}: the SHA-256 is not 64 lowercase hex digits"))?;
        Ok(Entry {
            path: path.to_string(),
            size,
            sha256,
        })
    }
}

/// A repository's index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Index {
    /// The repository's version: one more at each index.
    pub version: u64,
    /// When the index was made, seconds since 1970.
    pub created: u64,
    /// When clients stop trusting it, seconds since 1970.
    pub expires: u64,
    /// Every file, sorted by path.
    pub files: Vec<Entry>,
}

impl Index {
    /// Reads an index's text; the error names the line.
    pub fn parse(text: &str) -> Result<Index, String> {
        let pairs = read_pairs(text, false)?;
        let mut format = None;
        let mut numbers: [Option<u64>; 3] = [None; 3];
        let mut files: Vec<Entry> = Vec::new();
        for pair in pairs {
            let at = |reason: String| format!("line {}: {reason}", pair.line);
            let slot = match pair.name.as_str() {
                "format" => &mut format,
                "version" => &mut numbers[0],
                "created" => &mut numbers[1],
                "expires" => &mut numbers[2],
                "file" => {
                    let entry = Entry::parse(&pair.value).map_err(at)?;
                    if let Some(last) = files.last() {
                        if last.path >= entry.path {
                            return Err(at(format!(
                                "{} is out of order or listed twice (paths are sorted)",
                                entry.path
                            )));
                        }
                    }
                    files.push(entry);
                    continue;
                }
                other => {
                    return Err(at(format!(
                        "{other}= is not part of an index of format {FORMAT}"
                    )))
                }
            };
            if slot.is_some() {
                return Err(at(format!("{}= is given twice", pair.name)));
            }
            let number = pair
                .value
                .parse::<u64>()
                .ok()
                .filter(|_| pair.value.bytes().all(|b| b.is_ascii_digit()))
                .ok_or_else(|| at(format!("{}={:?} is not a number", pair.name, pair.value)))?;
            *slot = Some(number);
        }
        match format {
            Some(f) if f == u64::from(FORMAT) => {}
            Some(f) => {
                return Err(format!(
                    "format={f}: this nanolin reads index format {FORMAT}; update nanolin"
                ))
            }
            None => return Err("format= is missing".into()),
        }
        let [version, created, expires] = numbers;
        let missing = |what: &str| format!("{what}= is missing");
        Ok(Index {
            version: version.ok_or_else(|| missing("version"))?,
            created: created.ok_or_else(|| missing("created"))?,
            expires: expires.ok_or_else(|| missing("expires"))?,
            files,
        })
    }

    /// The text of the index.
    pub fn to_text(&self) -> String {
        let mut text = format!(
            "# nanolin repository index: every artifact with its size and SHA-256; {INDEX_SIG} signs it\n\
             format={FORMAT}\nversion={}\ncreated={}\nexpires={}\n",
            self.version, self.created, self.expires
        );
        for entry in &self.files {
            text.push_str(&format!(
                "file=\"{} {} {}\"\n",
                entry.path,
                entry.size,
                hex(&entry.sha256)
            ));
        }
        text
    }

    /// The entry for `path`.
    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.files
            .binary_search_by(|e| e.path.as_str().cmp(path))
            .ok()
            .and_then(|i| self.files.get(i))
    }
}

/// Reads and parses the repository's index (without checking its signature).
pub fn read_index(repo: &Repository) -> Result<Index, Error> {
    let path = repo.path(INDEX);
    let text = fs::read_to_string(&path).map_err(|e| Error::io("read", &path, e))?;
    Index::parse(&text).map_err(|reason| RepoError::Malformed { path, reason }.into())
}

/// A file found under the artifact directories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// A regular file, with its path relative to the repository.
    File(String),
    /// Something that cannot be indexed: a link, a device, a name that is not safe, a
    /// temporary file left by an interrupted run.
    Stray(String),
}

/// Every file under the artifact directories, sorted by path; hidden names (temporary files
/// of a run) come out as [`Found::Stray`], like links and unsafe names.
pub fn artifact_files(repo: &Repository) -> Result<Vec<Found>, Error> {
    let mut found = Vec::new();
    for dir in ARTIFACT_DIRS {
        walk(&repo.path(dir), dir, &mut found)?;
    }
    found.sort_by(|a, b| path_of(a).cmp(path_of(b)));
    Ok(found)
}

fn path_of(found: &Found) -> &str {
    match found {
        Found::File(p) | Found::Stray(p) => p,
    }
}

fn walk(dir: &Path, relative: &str, found: &mut Vec<Found>) -> Result<(), Error> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("list", dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| Error::io("list", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = format!("{relative}/{name}");
        let kind = entry
            .file_type()
            .map_err(|e| Error::io("inspect", &entry.path(), e))?;
        if !super::is_safe_name(&name) {
            found.push(Found::Stray(path));
        } else if kind.is_dir() {
            walk(&entry.path(), &path, found)?;
        } else if kind.is_file() {
            found.push(Found::File(path));
        } else {
            found.push(Found::Stray(path));
        }
    }
    Ok(())
}

/// Files of the artifact directories whose name ends in `suffix`, as archive members
/// (repository-relative name, bytes), sorted.
fn members(
    repo: &Repository,
    dirs: &[&str],
    suffix: &str,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut members = Vec::new();
    for found in artifact_files(repo)? {
        if let Found::File(path) = found {
            let in_dirs = dirs.iter().any(|d| path.starts_with(&format!("{d}/")));
            if in_dirs && path.ends_with(suffix) {
                let file = repo.path(&path);
                let bytes = fs::read(&file).map_err(|e| Error::io("read", &file, e))?;
                members.push((path, bytes));
            }
        }
    }
    Ok(members)
}

/// Writes `packages.tgz`, `manifest.tgz`, then `index` and `index.sig` for the repository as
/// it is, with the version after `previous` (none for a new repository: version 1), valid for
/// `lifetime` seconds from the signing time. Refuses to index a link or any other file that
/// is not a plain file with a safe name.
pub fn write_index(
    repo: &Repository,
    signer: &Signer<'_>,
    previous: Option<&Index>,
    lifetime: u64,
) -> Result<Index, Error> {
    let version = match previous {
        None => 1,
        Some(p) => p
            .version
            .checked_add(1)
            .ok_or_else(|| RepoError::Malformed {
                path: repo.path(INDEX),
                reason: format!("version={} cannot grow", p.version),
            })?,
    };
    let mtime = archive_mtime();
    write_tgz(
        &repo.path(PACKAGES_TGZ),
        &members(repo, &[PACKAGES], ".rcp")?,
        mtime,
    )?;
    write_tgz(
        &repo.path(MANIFEST_TGZ),
        &members(repo, &[PACKAGES, DISTROS], ".lst")?,
        mtime,
    )?;
    let mut paths = vec![MANIFEST_TGZ.to_string(), PACKAGES_TGZ.to_string()];
    for found in artifact_files(repo)? {
        match found {
            Found::File(path) => paths.push(path),
            Found::Stray(path) => {
                return Err(RepoError::Unplaceable {
                    path: repo.path(&path),
                    reason: "not a plain file with a safe name (a link, a temporary file of an \
                             interrupted run, a name with other characters): the index lists \
                             only plain files; remove it or replace it with the file"
                        .into(),
                }
                .into())
            }
        }
    }
    paths.sort();
    let mut files = Vec::with_capacity(paths.len());
    for path in paths {
        let (size, sha256) = sha256_file(&repo.path(&path))?;
        files.push(Entry { path, size, sha256 });
    }
    let created = signer.time();
    let index = Index {
        version,
        created,
        expires: created.saturating_add(lifetime),
        files,
    };
    let text = index.to_text();
    let signature = signer.sign(INDEX, text.as_bytes())?;
    write_atomically(&repo.path(INDEX), text.as_bytes())?;
    write_atomically(&repo.path(INDEX_SIG), &signature)?;
    Ok(index)
}

/// Re-indexes an existing repository: the previous index gives the version to follow.
pub fn reindex(repo: &Repository, signer: &Signer<'_>, lifetime: u64) -> Result<Index, Error> {
    let previous = match read_index(repo) {
        Ok(index) => index,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Err(RepoError::Malformed {
                path: repo.path(INDEX),
                reason: "missing: the repository version would start again at 1, and clients \
                         that saw a later one would refuse it"
                    .into(),
            }
            .into())
        }
        Err(e) => return Err(e),
    };
    write_index(repo, signer, Some(&previous), lifetime)
}

#[cfg(test)]
#[path = "index_tests.rs"]
mod tests;
