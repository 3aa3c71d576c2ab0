//! The crates a `Cargo.lock` pins: what a `cargo+PATH/Cargo.lock` source fetches.
//!
//! Only what vendoring needs is read: each `[[package]]` table's `name`, `version`, `source`
//! and `checksum`. Packages without a `source` are the workspace's own (they come with the
//! tree); packages from crates.io must carry a checksum, the SHA-256 of the `.crate` file,
//! which is what pins them. Any other source (a git repository, another registry) is refused:
//! it could not be fetched by checksum. Lock files of format 1, which keep checksums in a
//! `[metadata]` table, are refused with the command that rewrites them.
//!
//! The reader is a line reader for the subset of TOML cargo writes: `[[package]]` and
//! `[table]` headers, `key = "string"` pairs, and arrays (`dependencies = [ … ]`, over one
//! line or several) that it skips. Every error names the line.

use std::fmt;

use crate::recipe::{hex, parse_hex};

/// The `source` of a crates.io package, as cargo writes it.
pub const CRATES_IO_SOURCES: [&str; 2] = [
    "registry+https://github.com/rust-lang/crates.io-index",
    "sparse+https://index.crates.io/",
];

/// Where crates.io serves a `.crate` file: `{name}/{name}-{version}.crate` follows.
pub const CRATES_IO_DOWNLOAD: &str = "https://static.crates.io/crates/";

/// Most packages a lock file may list.
pub const PACKAGES_MAX: usize = 10_000;

/// One crates.io package of a lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedCrate {
    /// The crate's name.
    pub name: String,
    /// Its exact version.
    pub version: String,
    /// SHA-256 of its `.crate` file.
    pub checksum: [u8; 32],
}

impl LockedCrate {
    /// The `.crate` file's name: `name-version.crate`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.crate", self.name, self.version)
    }

    /// Where crates.io serves it.
    pub fn url(&self) -> String {
        format!("{CRATES_IO_DOWNLOAD}{}/{}", self.name, self.file_name())
    }

    /// The checksum as cargo writes it (lower-case hex).
    pub fn checksum_hex(&self) -> String {
        hex(&self.checksum)
    }
}

/// What is wrong with a lock file, and on which line (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockError {
    /// The line.
    pub line: usize,
    /// What is wrong there and what to do.
    pub reason: String,
}

impl fmt::Display for LockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

impl std::error::Error for LockError {}

/// A `[[package]]` table being read.
#[derive(Default)]
struct Table {
    line: usize,
    name: Option<String>,
    version: Option<String>,
    source: Option<String>,
    checksum: Option<String>,
}

/// The crates.io packages of `text`, in the order listed (cargo sorts them by name).
pub fn locked_crates(text: &str) -> Result<Vec<LockedCrate>, LockError> {
    let mut crates = Vec::new();
    let mut table: Option<Table> = None;
    let mut in_array = false;
    let mut packages = 0usize;
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let err = |reason: String| LockError { line, reason };
        let trimmed = raw.trim();
        if in_array {
            if trimmed.starts_with(']') {
                in_array = false;
            }
            continue;
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if trimmed.starts_with('[') {
            if let Some(done) = table.take() {
                crates.extend(finish(done)?);
            }
            match trimmed {
                "[[package]]" => {
                    packages += 1;
                    if packages > PACKAGES_MAX {
                        return Err(err(format!(
                            "more than {PACKAGES_MAX} packages: is this a Cargo.lock?"
                        )));
                    }
                    table = Some(Table {
                        line,
                        ..Table::default()
                    });
                }
                "[metadata]" => {
                    return Err(err(
                        "a lock file of format 1 keeps checksums in [metadata]: run \
                         `cargo update --workspace` with a recent cargo to rewrite it"
                            .into(),
                    ))
                }
                // Other tables (`[[patch.unused]]`) hold nothing to fetch.
                _ => {}
            }
            continue;
        }
        let Some((key, value)) = trimmed.split_once('=') else {
            return Err(err(format!(
                "expected `key = value` or a [table] header, found `{}`",
                shorten(trimmed)
            )));
        };
        let (key, value) = (key.trim(), value.trim());
        if value.starts_with('[') {
            in_array = !value.ends_with(']');
            continue;
        }
        let Some(table) = table.as_mut() else {
            continue; // `version = 4` at the top
        };
        let slot = match key {
            "name" => &mut table.name,
            "version" => &mut table.version,
            "source" => &mut table.source,
            "checksum" => &mut table.checksum,
            _ => continue,
        };
        let string = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .filter(|v| !v.contains(['"', '\\']))
            .ok_or_else(|| {
                err(format!(
                    "`{key}` should be a plain quoted string, found `{}`",
                    shorten(value)
                ))
            })?;
        *slot = Some(string.to_string());
    }
    if in_array {
        return Err(LockError {
            line: text.lines().count(),
            reason: "an array is not closed with `]` before the end".into(),
        });
    }
    if let Some(done) = table.take() {
        crates.extend(finish(done)?);
    }
    Ok(crates)
}

/// A whole `[[package]]` table: a crate to fetch, or `None` for a workspace member.
fn finish(table: Table) -> Result<Option<LockedCrate>, LockError> {
    let err = |reason: String| LockError {
        line: table.line,
        reason,
    };
    let name = table
        .name
        .ok_or_else(|| err("this [[package]] has no name".into()))?;
    let version = table
        .version
        .ok_or_else(|| err(format!("package {name} has no version")))?;
    let Some(source) = table.source else {
        return Ok(None);
    };
    if !CRATES_IO_SOURCES.contains(&source.as_str()) {
        return Err(err(format!(
            "package {name} {version} comes from {source}: only crates.io packages are fetched \
             by checksum; vendor it into the tree as a path dependency"
        )));
    }
    // Names and versions become file names and URL parts.
    let safe = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.+".contains(c))
            && !s.starts_with('.')
    };
    if !safe(&name) || !safe(&version) {
        return Err(err(format!(
            "package `{}` `{}`: a crate name or version holds only letters, digits, -, _, . \
             and +",
            shorten(&name),
            shorten(&version)
        )));
    }
    let checksum = table
        .checksum
        .as_deref()
        .and_then(parse_hex::<32>)
        .ok_or_else(|| {
            err(format!(
                "package {name} {version} has no checksum (64 hex digits): run `cargo \
                 generate-lockfile` to write them"
            ))
        })?;
    Ok(Some(LockedCrate {
        name,
        version,
        checksum,
    }))
}

/// The first characters of `text`, for a message.
fn shorten(text: &str) -> String {
    const SHOWN: usize = 60;
    match text.char_indices().nth(SHOWN) {
        Some((at, _)) => format!("{}…", text.get(..at).unwrap_or(text)),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = "589f6da84c646204747d1270a2a5661ea66ed1cced2631d546fdfb155959f9ec";

    #[test]
    fn reads_crates_io_packages_and_skips_members() {
        let text = format!(
            "# This file is automatically @generated by Cargo.\nversion = 4\n\n\
             [[package]]\nname = \"nanolin-core\"\nversion = \"0.1.0\"\ndependencies = [\n \"heapless\",\n]\n\n\
             [[package]]\nname = \"heapless\"\nversion = \"0.8.0\"\n\
             source = \"registry+https://github.com/rust-lang/crates.io-index\"\n\
             checksum = \"{SUM}\"\ndependencies = [\"hash32\", \"stable_deref_trait\"]\n"
        );
        let crates = locked_crates(&text).unwrap();
        assert_eq!(crates.len(), 1);
        let c = &crates[0];
        assert_eq!((c.name.as_str(), c.version.as_str()), ("heapless", "0.8.0"));
        assert_eq!(c.checksum_hex(), SUM);
        assert_eq!(
            c.url(),
            "https://static.crates.io/crates/heapless/heapless-0.8.0.crate"
        );
    }

    #[test]
    fn refuses_what_cannot_be_fetched_by_checksum() {
        let git = "[[package]]\nname = \"x\"\nversion = \"1.0.0\"\nsource = \"git+https://example.invalid/x#abc\"\n";
        let e = locked_crates(git).unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.reason.contains("only crates.io"), "{e}");
        let no_sum = "\n[[package]]\nname = \"x\"\nversion = \"1.0.0\"\nsource = \"registry+https://github.com/rust-lang/crates.io-index\"\n";
        let e = locked_crates(no_sum).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("no checksum"), "{e}");
        let v1 = "[[package]]\nname = \"x\"\nversion = \"1\"\n[metadata]\n";
        assert_eq!(locked_crates(v1).unwrap_err().line, 4);
        let bad = "[[package]]\nname = x\n";
        let e = locked_crates(bad).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.reason.contains("quoted string"), "{e}");
        let path = format!("[[package]]\nname = \"../x\"\nversion = \"1\"\nsource = \"{}\"\nchecksum = \"{SUM}\"\n", CRATES_IO_SOURCES[0]);
        assert!(locked_crates(&path).unwrap_err().reason.contains("letters"));
        let open = "[[package]]\nname = \"x\"\ndependencies = [\n \"a\",\n";
        assert!(locked_crates(open)
            .unwrap_err()
            .reason
            .contains("not closed"));
        assert!(locked_crates("what is this\n")
            .unwrap_err()
            .reason
            .contains("expected"));
    }

    #[test]
    fn reads_the_workspace_lock() {
        let text = include_str!("../../Cargo.lock");
        let crates = locked_crates(text).unwrap();
        assert!(crates.len() > 50, "{}", crates.len());
        assert!(crates.iter().any(|c| c.name == "rustix"));
        assert!(!crates.iter().any(|c| c.name.starts_with("nanolin")));
    }
}
