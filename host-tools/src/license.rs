//! The license report of a package: who holds rights in its sources, which licenses they
//! reference, and whether that agrees with the license its recipe declares.
//!
//! Four steps, each a plain function over plain data so the caller fills it from a recipe:
//!
//! 1. [`check_expression`] reads the recipe's `license=` value as an SPDX license expression
//!    (strictly: ids are case-sensitive, deprecated ids refused with the id to write instead).
//! 2. [`scan`] walks a directory of unpacked sources: copyright statements, `SPDX-License-
//!    Identifier:` tags, and license files whose text is identified against the SPDX License
//!    List texts built into this program (no network; ties broken by id, so the answer is the
//!    same on every run). Reading is bounded by the constants in [`limits`].
//! 3. [`compare`] sets every license id found against the ids declared.
//! 4. [`report_text`] and [`spdx_json`] write the report for people and as an SPDX 2.3 JSON
//!    document; [`spdx_json_image`] writes one document for the packages of a whole image.
//!
//! Outputs are deterministic: paths relative to the source root, everything sorted, the
//! creation time given by the caller (`SOURCE_DATE_EPOCH`).

mod compare;
pub mod compiled;
mod detect;
mod expression;
mod scan;
mod spdx_doc;
mod text;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

pub use compare::{compare, Comparison, FileEvidence, FoundLicense};
pub use expression::{check_expression, Expression};
pub use scan::scan;
pub use spdx_doc::{spdx_json, spdx_json_image};
pub use text::report_text;

/// Every bound of a scan, so that a huge or hostile source tree cannot make the tool hang.
pub mod limits {
    /// Bytes read from the start of each file. Copyright statements and SPDX tags sit at the
    /// top of files, and the longest common license texts (GPL-3.0: 35 KiB) fit well within.
    pub const MAX_FILE_BYTES: usize = 128 * 1024;
    /// Files read in one tree; the walk stops after this many, and the report says so.
    pub const MAX_FILES: usize = 100_000;
    /// License files whose text is identified (each costs a comparison with every license
    /// text of the SPDX License List, some tens of milliseconds).
    pub const MAX_LICENSE_FILES: usize = 200;
    /// Directory levels below the root; deeper directories are skipped and counted.
    pub const MAX_DEPTH: usize = 64;
    /// Characters kept of one copyright statement or tag (minified files have long lines).
    pub const MAX_STATEMENT_CHARS: usize = 300;
    /// Bytes looked at to tell a binary file (one NUL byte among them makes it binary).
    pub const BINARY_SNIFF_BYTES: usize = 8000;
    /// The match score (0 to 1) from which a license file's text counts as identified.
    pub const TEXT_MATCH_THRESHOLD: f32 = 0.9;
}

/// A package as its recipe describes it: what the report is about.
#[derive(Debug, Clone, PartialEq)]
pub struct PackageInfo {
    /// The recipe's `name`.
    pub name: String,
    /// The recipe's `version`.
    pub version: String,
    /// The package id (`name-version-<hash>`).
    pub package_id: String,
    /// The recipe's `url`, if any: the package's download location in the SPDX document.
    pub url: Option<String>,
    /// The recipe's `license`, checked.
    pub declared: Expression,
}

/// A line of a file in the scanned tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Place {
    /// Path relative to the source root, `/`-separated.
    pub file: String,
    /// Line number, from 1.
    pub line: usize,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One copyright statement as found.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Statement {
    /// Where.
    pub place: Place,
    /// The statement, without comment markers (`Copyright (C) 2019 Jane Doe`).
    pub text: String,
}

/// A rights holder and every statement that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The holder as written after the years (`Jane Doe <jane@example.org>`).
    pub name: String,
    /// Every statement naming it, by place.
    pub statements: Vec<Statement>,
}

/// An `SPDX-License-Identifier:` tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// Where.
    pub place: Place,
    /// The expression as written.
    pub text: String,
    /// The license ids it names (deprecated ids read as their successors: `GPL-2.0+` as
    /// `GPL-2.0-or-later`), sorted.
    pub ids: Vec<String>,
    /// The exceptions it names (`WITH Linux-syscall-note`), sorted.
    pub exceptions: Vec<String>,
    /// Why the tag could not be read, when it could not (then `ids` is empty).
    pub problem: Option<String>,
}

/// The closest SPDX license text to a file's text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextMatch {
    /// The license ids whose text this is, sorted: one, or several that share one text
    /// (`GPL-2.0-only` and `GPL-2.0-or-later`: the text does not say whether later versions
    /// may be chosen; the notices in the source files do).
    pub ids: Vec<String>,
    /// How close, from 0 to 1 (1: the same words).
    pub confidence: f32,
    /// The file matched the license's standard header (the notice put atop source files)
    /// rather than its full text.
    pub header: bool,
}

/// A license file (`LICENSE*`, `LICENCE*`, `COPYING*`, `COPYRIGHT*`, `NOTICE*`, or a file in a
/// `LICENSES/` directory) and what its text was identified as.
#[derive(Debug, Clone, PartialEq)]
pub struct LicenseFile {
    /// Path relative to the source root.
    pub file: String,
    /// The closest license text; `None` when the file was not compared (past
    /// [`limits::MAX_LICENSE_FILES`]) or has no words to compare.
    pub best: Option<TextMatch>,
}

impl LicenseFile {
    /// The match, when it is close enough to count ([`limits::TEXT_MATCH_THRESHOLD`]).
    pub fn identified(&self) -> Option<&TextMatch> {
        self.best
            .as_ref()
            .filter(|m| m.confidence >= limits::TEXT_MATCH_THRESHOLD && !m.ids.is_empty())
    }
}

/// Checksums of a file in which something was found (the SPDX document lists these files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDigest {
    /// Path relative to the source root.
    pub file: String,
    /// SHA-1 of the whole file, lowercase hex (SPDX 2.3 requires it).
    pub sha1: String,
    /// SHA-256 of the whole file, lowercase hex.
    pub sha256: String,
}

/// Counts of what a scan read and left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Files read.
    pub files_scanned: usize,
    /// Files skipped as binary.
    pub binary_files: usize,
    /// Symbolic links, devices, sockets and pipes skipped (links are not followed).
    pub special_files: usize,
    /// Files larger than [`limits::MAX_FILE_BYTES`], of which only the start was read.
    pub truncated_files: usize,
    /// Directories skipped for lying deeper than [`limits::MAX_DEPTH`].
    pub deep_directories: usize,
    /// The walk stopped at [`limits::MAX_FILES`] files.
    pub file_limit_reached: bool,
    /// License files not compared for being past [`limits::MAX_LICENSE_FILES`].
    pub license_files_not_compared: usize,
    /// Files with findings left out by [`Scan::retain`] as not part of what was built.
    pub files_left_out: usize,
}

/// What [`scan`] found in a source tree. Every list is sorted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scan {
    /// Rights holders, by name.
    pub holders: Vec<Holder>,
    /// SPDX tags, by place.
    pub tags: Vec<Tag>,
    /// License files, by path.
    pub license_files: Vec<LicenseFile>,
    /// Every file with a finding (statement, tag, or license file), by path.
    pub files: Vec<FileDigest>,
    /// What was read and left out.
    pub stats: ScanStats,
}

impl Scan {
    /// Keeps only the findings in files (paths relative to the source root) for which `keep`
    /// is true: a build that used part of its sources (a cargo build, see [`compiled`]) is
    /// reported for that part. Counts the files left out.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        let before = self.files.len();
        self.files.retain(|f| keep(&f.file));
        self.stats.files_left_out += before - self.files.len();
        self.tags.retain(|t| keep(&t.place.file));
        self.license_files.retain(|l| keep(&l.file));
        for holder in &mut self.holders {
            holder.statements.retain(|s| keep(&s.place.file));
        }
        self.holders.retain(|h| !h.statements.is_empty());
    }
}

/// What is wrong with a license expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpressionFault {
    /// An id that is not on the SPDX License List.
    UnknownLicense {
        /// The id as written.
        id: String,
        /// Close ids on the list, best first (may be empty).
        suggestions: Vec<String>,
    },
    /// An id the SPDX License List has deprecated.
    DeprecatedLicense {
        /// The id as written.
        id: String,
        /// The ids to write instead (may be empty).
        replacements: Vec<String>,
    },
    /// An exception (after `WITH`) that is not on the SPDX exceptions list.
    UnknownException {
        /// The id as written.
        id: String,
        /// Close exception ids, best first (may be empty).
        suggestions: Vec<String>,
    },
    /// A reference into another SPDX document (`DocumentRef-…:LicenseRef-…`), which a
    /// recipe cannot supply.
    DocumentRef,
    /// An `AdditionRef-`, which SPDX 2.3 documents cannot carry.
    AdditionRef,
    /// The expression is not well formed; what the parser expected.
    Syntax(String),
}

/// Everything that can go wrong in making a license report.
#[derive(Debug)]
pub enum LicenseError {
    /// A license expression is not a valid SPDX 2.3 expression.
    Expression {
        /// The expression as written.
        expression: String,
        /// Character column of the fault within the expression, from 1.
        column: usize,
        /// What is wrong.
        fault: ExpressionFault,
        /// The file and line the expression came from, when known (see [`LicenseError::at`]).
        origin: Option<(PathBuf, usize)>,
    },
    /// A file or directory of the tree could not be read.
    Io {
        /// What we were doing, as a verb phrase ("read", "list").
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// The path given to [`scan`] is not a directory.
    NotADirectory(PathBuf),
    /// The SPDX license texts built into the program could not be loaded.
    DetectionData(String),
}

impl LicenseError {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        LicenseError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The same error, said to come from `file` at `line` (a recipe's `license=` line).
    pub fn at(self, file: &Path, line: usize) -> Self {
        match self {
            LicenseError::Expression {
                expression,
                column,
                fault,
                ..
            } => LicenseError::Expression {
                expression,
                column,
                fault,
                origin: Some((file.to_path_buf(), line)),
            },
            other => other,
        }
    }
}

/// `a`, `a or b`, `a, b or c`, each in backquotes.
fn alternatives(ids: &[String]) -> String {
    let quoted: Vec<String> = ids.iter().map(|id| format!("`{id}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

impl fmt::Display for ExpressionFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const LIST: &str = "https://spdx.org/licenses/";
        match self {
            ExpressionFault::UnknownLicense { id, suggestions } if suggestions.is_empty() => {
                write!(
                    f,
                    "`{id}` is not an SPDX license id: write one from {LIST}, or \
                     LicenseRef-NAME for a license that is not on the list"
                )
            }
            ExpressionFault::UnknownLicense { id, suggestions } => write!(
                f,
                "`{id}` is not an SPDX license id: did you mean {}?",
                alternatives(suggestions)
            ),
            ExpressionFault::DeprecatedLicense { id, replacements } if replacements.is_empty() => {
                write!(
                    f,
                    "`{id}` is deprecated in the SPDX License List: write the id that replaced \
                     it (see {LIST})"
                )
            }
            ExpressionFault::DeprecatedLicense { id, replacements } => write!(
                f,
                "`{id}` is deprecated in the SPDX License List: write {}",
                alternatives(replacements)
            ),
            ExpressionFault::UnknownException { id, suggestions } if suggestions.is_empty() => {
                write!(
                    f,
                    "`{id}` is not an SPDX license exception: write one from \
                     https://spdx.org/licenses/exceptions-index.html"
                )
            }
            ExpressionFault::UnknownException { id, suggestions } => write!(
                f,
                "`{id}` is not an SPDX license exception: did you mean {}?",
                alternatives(suggestions)
            ),
            ExpressionFault::DocumentRef => f.write_str(
                "DocumentRef- names a license in another SPDX document, which a recipe cannot \
                 supply: write LicenseRef-NAME",
            ),
            ExpressionFault::AdditionRef => f.write_str(
                "AdditionRef- is SPDX 3 syntax that SPDX 2.3 documents cannot carry: write \
                 LicenseRef-NAME for the license with its addition",
            ),
            ExpressionFault::Syntax(reason) => f.write_str(reason),
        }
    }
}

impl fmt::Display for LicenseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LicenseError::Expression {
                expression,
                column,
                fault,
                origin,
            } => {
                if let Some((file, line)) = origin {
                    write!(f, "{}:{line}: ", file.display())?;
                }
                write!(f, "license `{expression}`, column {column}: {fault}")
            }
            LicenseError::Io {
                action,
                path,
                source,
            } => write!(f, "unable to {action} {}: {source}", path.display()),
            LicenseError::NotADirectory(path) => write!(
                f,
                "{} is not a directory: give the directory the sources were unpacked into",
                path.display()
            ),
            LicenseError::DetectionData(reason) => write!(
                f,
                "the SPDX license texts built into nanolin cannot be loaded ({reason}): rebuild \
                 nanolin"
            ),
        }
    }
}

impl std::error::Error for LicenseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LicenseError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "license_tests.rs"]
mod tests;
