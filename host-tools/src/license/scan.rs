//! Walking a source tree: copyright statements, SPDX tags and license files.
//!
//! The walk is bounded ([`limits`]), never follows links, never opens anything but regular
//! files, and reads each file's start only. Text in any encoding is read without failing:
//! UTF-8, UTF-16 with a byte order mark, and anything else as Latin-1.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use sha1::Sha1;
use sha2::{Digest, Sha256};

use super::expression::read_tag;
use super::{
    detect, limits, FileDigest, Holder, LicenseError, LicenseFile, Place, Scan, ScanStats,
    Statement, Tag,
};

/// Directories of version control metadata, never part of the sources.
const SKIPPED_DIRS: &[&str] = &[".git", ".hg", ".svn", ".bzr"];

/// Scans the source tree at `root` (a directory of unpacked sources).
pub fn scan(root: &Path) -> Result<Scan, LicenseError> {
    let meta = fs::metadata(root).map_err(|e| LicenseError::io("read", root, e))?;
    if !meta.is_dir() {
        return Err(LicenseError::NotADirectory(root.to_path_buf()));
    }
    let mut walk = Walk::default();
    walk.run(root)?;
    Ok(walk.finish())
}

#[derive(Default)]
struct Walk {
    holders: BTreeMap<String, Vec<Statement>>,
    tags: Vec<Tag>,
    license_files: Vec<LicenseFile>,
    files: Vec<FileDigest>,
    stats: ScanStats,
    license_files_compared: usize,
}

impl Walk {
    fn run(&mut self, root: &Path) -> Result<(), LicenseError> {
        // Directories still to list: absolute path, path relative to the root, depth.
        let mut pending: Vec<(PathBuf, String, usize)> =
            vec![(root.to_path_buf(), String::new(), 0)];
        while let Some((dir, rel, depth)) = pending.pop() {
            let mut entries: Vec<(OsString, PathBuf)> = Vec::new();
            let listing = fs::read_dir(&dir).map_err(|e| LicenseError::io("list", &dir, e))?;
            for entry in listing {
                let entry = entry.map_err(|e| LicenseError::io("list", &dir, e))?;
                entries.push((entry.file_name(), entry.path()));
            }
            entries.sort();
            let mut subdirs = Vec::new();
            for (name, path) in entries {
                let name = name.to_string_lossy().into_owned();
                let child_rel = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                let kind = fs::symlink_metadata(&path)
                    .map_err(|e| LicenseError::io("read", &path, e))?
                    .file_type();
                if kind.is_dir() {
                    if SKIPPED_DIRS.contains(&name.as_str()) {
                        continue;
                    }
                    if depth + 1 > limits::MAX_DEPTH {
                        self.stats.deep_directories += 1;
                    } else {
                        subdirs.push((path, child_rel, depth + 1));
                    }
                } else if kind.is_file() {
                    if self.stats.files_scanned >= limits::MAX_FILES {
                        self.stats.file_limit_reached = true;
                        return Ok(());
                    }
                    let in_licenses_dir = rel.rsplit('/').next().is_some_and(|d| {
                        d.eq_ignore_ascii_case("licenses") || d.eq_ignore_ascii_case("licences")
                    });
                    self.file(&path, &child_rel, is_license_name(&name) || in_licenses_dir)?;
                } else {
                    self.stats.special_files += 1;
                }
            }
            // Popped in name order.
            pending.extend(subdirs.into_iter().rev());
        }
        Ok(())
    }

    fn file(&mut self, path: &Path, rel: &str, license_name: bool) -> Result<(), LicenseError> {
        let (bytes, truncated) = read_start(path)?;
        self.stats.files_scanned += 1;
        if truncated {
            self.stats.truncated_files += 1;
        }
        let Some(text) = decode(&bytes, truncated) else {
            self.stats.binary_files += 1;
            return Ok(());
        };
        let mut found = false;
        for (index, line) in text.lines().enumerate() {
            let place = || Place {
                file: rel.to_string(),
                line: index + 1,
            };
            if let Some((statement, holder)) = copyright_statement(line) {
                self.holders.entry(holder).or_default().push(Statement {
                    place: place(),
                    text: statement,
                });
                found = true;
            }
            if let Some(expression) = license_tag(line) {
                let reading = read_tag(&expression);
                self.tags.push(Tag {
                    place: place(),
                    text: expression,
                    ids: reading.ids,
                    exceptions: reading.exceptions,
                    problem: reading.problem,
                });
                found = true;
            }
        }
        if license_name {
            let best = if self.license_files_compared < limits::MAX_LICENSE_FILES {
                self.license_files_compared += 1;
                detect::identify(detect::store()?, &text)
            } else {
                self.stats.license_files_not_compared += 1;
                None
            };
            self.license_files.push(LicenseFile {
                file: rel.to_string(),
                best,
            });
            found = true;
        }
        if found {
            self.files.push(digest(path, rel)?);
        }
        Ok(())
    }

    fn finish(self) -> Scan {
        let mut holders: Vec<Holder> = self
            .holders
            .into_iter()
            .map(|(name, mut statements)| {
                statements.sort();
                statements.dedup();
                Holder { name, statements }
            })
            .collect();
        holders.sort_by(|a, b| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut tags = self.tags;
        tags.sort_by(|a, b| a.place.cmp(&b.place));
        let mut license_files = self.license_files;
        license_files.sort_by(|a, b| a.file.cmp(&b.file));
        let mut files = self.files;
        files.sort_by(|a, b| a.file.cmp(&b.file));
        Scan {
            holders,
            tags,
            license_files,
            files,
            stats: self.stats,
        }
    }
}

/// `LICENSE*`, `LICENCE*`, `COPYING*`, `COPYRIGHT*`, `NOTICE*`, in any case.
fn is_license_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["LICENSE", "LICENCE", "COPYING", "COPYRIGHT", "NOTICE"]
        .iter()
        .any(|p| upper.starts_with(p))
}

/// The first [`limits::MAX_FILE_BYTES`] of a file, and whether there was more.
fn read_start(path: &Path) -> Result<(Vec<u8>, bool), LicenseError> {
    let file = File::open(path).map_err(|e| LicenseError::io("read", path, e))?;
    let mut bytes = Vec::new();
    file.take(limits::MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| LicenseError::io("read", path, e))?;
    let truncated = bytes.len() > limits::MAX_FILE_BYTES;
    bytes.truncate(limits::MAX_FILE_BYTES);
    Ok((bytes, truncated))
}

/// The text of a file's start, or `None` for a binary file. `truncated`: the bytes end
/// mid-file, so a UTF-8 sequence cut at the end is dropped rather than taken for Latin-1.
pub(super) fn decode(bytes: &[u8], truncated: bool) -> Option<Cow<'_, str>> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        return Some(Cow::Owned(utf16(rest, u16::from_le_bytes)));
    }
    if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        return Some(Cow::Owned(utf16(rest, u16::from_be_bytes)));
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    let sniff = &bytes[..bytes.len().min(limits::BINARY_SNIFF_BYTES)];
    if sniff.contains(&0) {
        return None;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(Cow::Borrowed(text)),
        // Cut inside the last character by the read limit: the valid part is the text.
        Err(e) if truncated && e.error_len().is_none() => {
            let valid = bytes.get(..e.valid_up_to()).unwrap_or_default();
            Some(Cow::Borrowed(
                std::str::from_utf8(valid).unwrap_or_default(),
            ))
        }
        // Not UTF-8: Latin-1, where every byte is a character (0xA9 is ©).
        Err(_) => Some(Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect())),
    }
}

fn utf16(bytes: &[u8], unit: fn([u8; 2]) -> u16) -> String {
    let units = bytes.chunks_exact(2).map(|pair| unit([pair[0], pair[1]]));
    char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect()
}

/// SHA-1 and SHA-256 of a whole file, read in blocks.
fn digest(path: &Path, rel: &str) -> Result<FileDigest, LicenseError> {
    let mut file = File::open(path).map_err(|e| LicenseError::io("read", path, e))?;
    let mut sha1 = Sha1::new();
    let mut sha256 = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .map_err(|e| LicenseError::io("read", path, e))?;
        if n == 0 {
            break;
        }
        let block = buf.get(..n).unwrap_or_default();
        sha1.update(block);
        sha256.update(block);
    }
    Ok(FileDigest {
        file: rel.to_string(),
        sha1: hex(&sha1.finalize()),
        sha256: hex(&sha256.finalize()),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Comment openers stripped from the start of a line, longest first.
const OPENERS: &[&str] = &[
    "<!--", "\"\"\"", "'''", "//", "/*", "(*", "{-", "--", "dnl ", "rem ", "REM ", "..", "#", "*",
    ";", "!", "%", "'", "\"",
];
/// Comment closers stripped from the end of a line.
const CLOSERS: &[&str] = &[
    "-->", "\"\"\"", "'''", "*/", "*)", "-}", "*", "#", "\\n\"", "\"", ";",
];

/// A line without its comment markers and surrounding blanks.
pub(super) fn strip_comment(line: &str) -> &str {
    let mut s = line.trim();
    'open: loop {
        for opener in OPENERS {
            if let Some(rest) = s.strip_prefix(opener) {
                s = rest.trim_start();
                continue 'open;
            }
        }
        break;
    }
    'close: loop {
        for closer in CLOSERS {
            if let Some(rest) = s.strip_suffix(closer) {
                s = rest.trim_end();
                continue 'close;
            }
        }
        break;
    }
    s
}

/// At most [`limits::MAX_STATEMENT_CHARS`] characters of `s`, blanks collapsed.
fn bounded(s: &str) -> String {
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match collapsed.char_indices().nth(limits::MAX_STATEMENT_CHARS) {
        Some((at, _)) => collapsed.get(..at).unwrap_or_default().to_string(),
        None => collapsed,
    }
}

/// Placeholders of license templates (`Copyright (C) <year> <name of author>`): lines with
/// these are instructions, not statements.
const PLACEHOLDERS: &[&str] = &[
    "<year>",
    "yyyy",
    "[year]",
    "{year}",
    "<name",
    "[name",
    "{name",
    "<owner",
    "<author",
    "<copyright",
    "[copyright",
    "name of author",
    "name of copyright owner",
];

/// First words that make a "holder" a sentence about copyright instead.
const NOT_HOLDERS: &[&str] = &[
    "notice",
    "notices",
    "holder",
    "holders",
    "owner",
    "owners",
    "law",
    "laws",
    "and",
    "or",
    "statement",
    "statements",
    "license",
    "licence",
    "information",
    "is",
    "of",
    "for",
    "to",
    "protection",
    "the above",
    "disclaimer",
];

/// The copyright statement on a line, if there is one: the statement as written (comment
/// markers dropped) and the holder it names.
pub(super) fn copyright_statement(line: &str) -> Option<(String, String)> {
    let lower = line.to_ascii_lowercase();
    if !(lower.contains("copyright") || line.contains('©') || lower.contains("(c)")) {
        return None;
    }
    let body = strip_comment(line);
    if let Some(at) = find_ci(body, "SPDX-FileCopyrightText:") {
        let statement = strip_comment(body.get(at..).unwrap_or_default());
        let rest = statement
            .get("SPDX-FileCopyrightText:".len()..)
            .unwrap_or_default();
        let holder = holder_of(rest)?;
        return Some((bounded(trim_statement(statement)), holder));
    }
    let body_lower = body.to_lowercase();
    // A statement starts the line with `Copyright`, `©`, or `(c)` and a year.
    let starts = body_lower.starts_with("copyright")
        || body.starts_with('©')
        || (body_lower.starts_with("(c)")
            && body
                .get(3..)
                .is_some_and(|r| r.trim_start().starts_with(|c: char| c.is_ascii_digit())));
    let statement = if starts {
        body
    } else {
        // Inside a line (`printf("Copyright (C) 2019 Jane Doe\n")`): only with a © mark, and up
        // to the end of a quoted string.
        let at = find_ci(body, "copyright")?;
        let from = body.get(at..)?;
        let after = from.get("copyright".len()..)?.trim_start().to_lowercase();
        if !(after.starts_with("(c)") || after.starts_with('©')) {
            return None;
        }
        let end = from.find(['"', '\\']).unwrap_or(from.len());
        from.get(..end)?.trim_end()
    };
    let statement_lower = statement.to_lowercase();
    if PLACEHOLDERS.iter().any(|p| statement_lower.contains(p)) {
        return None;
    }
    let marked = statement.contains('©')
        || statement_lower.contains("(c)")
        || statement_lower.contains("&copy;")
        || has_year(statement);
    if !marked {
        return None;
    }
    let holder = holder_of(statement)?;
    Some((bounded(trim_statement(statement)), holder))
}

/// A statement without the separators a line break left at its end (`Inc.,`).
fn trim_statement(statement: &str) -> &str {
    statement.trim_end_matches([',', ';', ':', ' '])
}

/// Byte offset of `needle` (ASCII) in `haystack`, ignoring ASCII case.
fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    (0..=h.len().checked_sub(n.len())?)
        .find(|&i| {
            h.get(i..i + n.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(n))
        })
        .filter(|&i| haystack.is_char_boundary(i))
}

/// A four-digit year from 1900 to 2099 as a word of its own or a range's end.
fn has_year(s: &str) -> bool {
    let b = s.as_bytes();
    b.windows(4).enumerate().any(|(i, w)| {
        let digits =
            w.iter().all(u8::is_ascii_digit) && (w.starts_with(b"19") || w.starts_with(b"20"));
        let before = i == 0 || !b[i - 1].is_ascii_digit();
        let after = b.get(i + 4).is_none_or(|c| !c.is_ascii_digit());
        digits && before && after
    })
}

/// A word of years: `2019`, `2019,`, `2019-2021`, `2019-present`, `-`.
fn is_years(word: &str) -> bool {
    let w = word.to_ascii_lowercase();
    let w = w
        .trim_end_matches("present")
        .trim_end_matches("now")
        .trim_end_matches("today");
    !w.is_empty()
        && w.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '–' | ',' | '/' | '.' | '+'))
}

/// The holder named by a statement: what follows the `Copyright`, `©` marks and years,
/// without `All rights reserved`.
pub(super) fn holder_of(statement: &str) -> Option<String> {
    let marked = statement
        .replace("(C)", " © ")
        .replace("(c)", " © ")
        .replace("&copy;", " © ")
        .replace('©', " © ");
    let mut words = marked.split_whitespace().peekable();
    while let Some(word) = words.peek() {
        let w = word.trim_end_matches([',', ';', ':']).to_ascii_lowercase();
        let skip =
            w.is_empty() || w == "©" || w == "by" || w.starts_with("copyright") || is_years(&w);
        if !skip {
            break;
        }
        words.next();
    }
    let mut holder = words.collect::<Vec<_>>().join(" ");
    let lower = holder.to_lowercase();
    if let Some(at) = lower.find("all rights reserved") {
        holder.truncate(at);
    }
    let mut holder = holder.trim_end_matches([',', ';', ':', ' ']).to_string();
    // A final full stop ends the sentence, except after an abbreviation (`Inc.`).
    if let Some(stripped) = holder.strip_suffix('.') {
        let last = stripped
            .rsplit(' ')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if ![
            "inc", "ltd", "co", "corp", "al", "bv", "ab", "sa", "ag", "llc", "plc",
        ]
        .contains(&last.as_str())
        {
            holder = stripped.trim_end().to_string();
        }
    }
    let lower = holder.to_lowercase();
    if holder.is_empty()
        || NOT_HOLDERS
            .iter()
            .any(|w| lower == *w || lower.starts_with(&format!("{w} ")))
    {
        return None;
    }
    Some(bounded(&holder))
}

/// The expression of an `SPDX-License-Identifier:` tag on a line: the characters an SPDX
/// expression can have, up to the first that it cannot (a comment closer, a quote).
pub(super) fn license_tag(line: &str) -> Option<String> {
    const TAG: &str = "SPDX-License-Identifier:";
    let at = find_ci(line, TAG)?;
    let rest = line.get(at + TAG.len()..)?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || " .+-:()/".contains(c)))
        .unwrap_or(rest.len());
    let expression = bounded(rest.get(..end)?.trim());
    (!expression.is_empty()).then_some(expression)
}
