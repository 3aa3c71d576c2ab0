//! Recipes (`.rcp`): what a package is made of, read without running a shell, and the package
//! id that names what a recipe builds.
//!
//! A recipe is a key=value file (the one parser of [`nanolin_core::keyvalue`]) with two shell
//! functions that only the build step runs under `sh`:
//!
//! ```sh
//! # recipes/hello.rcp
//! name=hello
//! version=1.0
//! release=1
//! description="A small C program, built from source in the sandbox"
//! url=https://example.invalid/hello
//! license="MIT"                       # an SPDX expression (checked elsewhere: kept as text)
//! source="hello-1.0.tar.gz https://example.invalid/src/hello-1.0.tar.gz::hello.tgz git+file:///srv/git/lib#commit=0123456789abcdef0123456789abcdef01234567"
//! sha256sums="<64 hex> <64 hex> SKIP"   # one per source, in order; SKIP only for git
//! depends="busybox"                   # package names, space-separated
//! makedepends=""
//! build() {
//!     make CC="$CC"
//! }
//! package() {
//!     make DESTDIR="$DESTDIR" install
//! }
//! ```
//!
//! - **Sources** are space-separated entries `LOCATION` or `LOCATION::NAME`, where NAME is the
//!   file name the source is saved as in the build directory (by default the last part of the
//!   LOCATION; for git, the repository's name without `.git`, unpacked as a directory). A
//!   LOCATION is a path relative to the recipe's directory, an `http://` or `https://` URL, or
//!   `git+PATH_OR_URL#commit=SHA1`: a local git repository (a path, or a `file://` URL) taken
//!   at that full 40-hex commit. Two more kinds serve recipes that ship inside the tree they
//!   build (Nanolin's own `init` and agent), the way Nix takes `src = ./.`:
//!   - `tree+PATH::NAME`: the files git lists in the work tree at PATH (tracked and untracked
//!     but not ignored, as they are now, committed or not), archived deterministically;
//!   - `cargo+PATH/Cargo.lock` (saved as `vendor` unless named): every crates.io package the
//!     lock file lists, each pinned by the checksum the lock records, unpacked as a cargo
//!     vendor directory, with `$HOME/.cargo/config.toml` in the build directory pointing
//!     cargo at it, so `cargo build --offline --locked` needs no network.
//! - **`sha256sums`** has one entry per source, in order: 64 hex digits, or `SKIP` for a git
//!   source (pinned by its commit), a tree or a lock file (pinned by their content, which is
//!   hashed when fetched and enters the package id), and only for those. An empty source list
//!   has no sums.
//! - **Required**: `name` (`[a-z0-9][a-z0-9+._-]*`), `version` (not empty; no `-`, which
//!   separates the parts of a package id, no `/`, blanks or control characters), `release` (a
//!   whole number from 1), `license` (an SPDX expression, kept as text here), `source` and
//!   `sha256sums` with equal counts, and a `package()` function (`build()` is optional).
//!   `description`, `url`, `depends` and `makedepends` (package names) are optional.
//! - `$name` / `${version}` expansions take the value of an earlier line, as `sh` would; a
//!   variable not defined above is an error (recipes see no environment variables). A variable
//!   assigned twice has its last value. Other variables are allowed (helpers for the
//!   functions), but one named like a recipe variable in another case (`Version=`) is refused.
//! - Every error names the file, line and column: syntax errors where the fault is, semantic
//!   errors at the assignment they concern, a missing variable or function at the end of the
//!   file, where it can be added.
//!
//! **Package id**: `name-version-HASH`, where HASH is the first 16 hex digits of
//! SHA-256(recipe bytes ‖ for each dependency, `depends` then `makedepends` in the order
//! written: its package id ‖ `"\n"`). A recipe with `tree+` or `cargo+` sources also hashes,
//! after its bytes and before the dependencies, `"content "` ‖ hex SHA-256 of each such
//! source's content ‖ `"\n"` in source order (see [`Recipe::content_digests`]). Change one byte
//! of a recipe, of a tree it builds, or of anything a dependency is built from, and the id
//! changes; the same files give the same id on any machine.
//! [`package_ids`] resolves the dependencies among a set of recipes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use nanolin_core::keyvalue::{ExpandError, Item, Parser, Position, SyntaxErrorKind};
use sha2::{Digest, Sha256};

/// Longest recipe file, in bytes.
pub const RECIPE_MAX_LEN: usize = 1024 * 1024;

/// Longest value of one variable after expansion, in bytes.
pub const VALUE_MAX_LEN: usize = 64 * 1024;

/// Hex digits of the recipe hash in a package id.
pub const PACKAGE_HASH_HEX_LEN: usize = 16;

/// The variables a recipe defines (each checked for a case-insensitive near miss).
pub const RECIPE_VARIABLES: [&str; 10] = [
    "name",
    "version",
    "release",
    "description",
    "url",
    "license",
    "source",
    "sha256sums",
    "depends",
    "makedepends",
];

/// The functions a recipe defines.
pub const RECIPE_FUNCTIONS: [&str; 2] = ["build", "package"];

/// A place in a file: `file:line:column` when shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// The file.
    pub file: PathBuf,
    /// Line and column in it.
    pub position: Position,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}",
            self.file.display(),
            self.position.line,
            self.position.column
        )
    }
}

/// A full git commit id (40 hex digits, shown in lower case).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommitId(pub [u8; 20]);

impl CommitId {
    /// Parses 40 hex digits (either case).
    pub fn parse(text: &str) -> Option<CommitId> {
        parse_hex::<20>(text).map(CommitId)
    }
}

impl fmt::Display for CommitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex(&self.0))
    }
}

/// What pins a source's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pin {
    /// The SHA-256 of the file.
    Sha256([u8; 32]),
    /// The commit of a git repository.
    Commit(CommitId),
    /// The source's own content, hashed when it is fetched: that hash enters the package id
    /// (a `tree+` or `cargo+` source).
    Content,
}

impl fmt::Display for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pin::Sha256(sum) => write!(f, "sha256 {}", hex(sum)),
            Pin::Commit(commit) => write!(f, "commit {commit}"),
            Pin::Content => f.write_str("its content"),
        }
    }
}

/// Where a source comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A file, relative to the recipe's directory.
    Path(PathBuf),
    /// An `http://` or `https://` URL.
    Url(String),
    /// A local git repository: a path relative to the recipe's directory, or absolute (from a
    /// `file://` URL). The commit is the entry's [`Pin`].
    Git {
        /// The repository.
        repository: PathBuf,
    },
    /// The files git lists in a work tree (relative to the recipe's directory), as they are.
    Tree {
        /// The directory.
        dir: PathBuf,
    },
    /// The crates.io packages a `Cargo.lock` (relative to the recipe's directory) lists.
    CargoLock {
        /// The lock file.
        lock: PathBuf,
    },
}

/// One entry of `source`, without its pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceEntry {
    /// The entry as written (after expansion), for messages.
    pub written: String,
    /// Where it comes from.
    pub location: Location,
    /// The name it is saved as in the build directory (a directory for git).
    pub file_name: String,
    /// The `source` assignment it comes from.
    pub place: Place,
}

/// A source and its pin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Where it comes from and what it is called.
    pub entry: SourceEntry,
    /// What its content must be.
    pub pin: Pin,
}

/// A package's name, version and recipe hash: `name-version-0123456789abcdef`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageId(String);

impl PackageId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PackageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A checked recipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    /// The file it was read from (or the name given to [`Recipe::parse`]).
    pub path: PathBuf,
    /// The whole text, as read: the package id hashes it.
    pub text: String,
    /// Package name.
    pub name: String,
    /// Upstream version.
    pub version: String,
    /// Build number of this version, from 1.
    pub release: u32,
    /// One line about the package.
    pub description: Option<String>,
    /// The project's home page.
    pub url: Option<String>,
    /// SPDX license expression, as written.
    pub license: String,
    /// The sources, in order, each with its pin.
    pub sources: Vec<Source>,
    /// Packages needed at run time (and to build).
    pub depends: Vec<String>,
    /// Packages needed only to build.
    pub makedepends: Vec<String>,
    /// Whether the recipe has a `build()` function.
    pub has_build: bool,
    /// The SHA-256 of each [`Pin::Content`] source's content, in source order, once the
    /// sources are fetched (empty until then): [`Recipe::package_id`] hashes them.
    pub content_digests: Vec<[u8; 32]>,
    name_position: Position,
    license_position: Position,
    depends_position: Position,
    makedepends_position: Position,
}

/// Why a recipe, or a set of recipes, is refused.
#[derive(Debug)]
pub enum RecipeError {
    /// The recipe file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// The file is longer than [`RECIPE_MAX_LEN`].
    TooLong {
        /// The file, at its start.
        at: Place,
        /// The limit.
        limit: usize,
    },
    /// The file is not UTF-8 text.
    NotUtf8 {
        /// The first byte that is not.
        at: Place,
    },
    /// The key=value syntax is broken.
    Syntax {
        /// Where.
        at: Place,
        /// What.
        kind: SyntaxErrorKind,
    },
    /// A `$variable` not defined on an earlier line.
    UndefinedVariable {
        /// The assignment.
        at: Place,
        /// The variable's name.
        variable: String,
    },
    /// A value longer than [`VALUE_MAX_LEN`] once expanded.
    ValueTooLong {
        /// The assignment.
        at: Place,
        /// The limit.
        limit: usize,
    },
    /// A variable or function named like a recipe's own in another case (`Version`).
    WrongCase {
        /// The assignment or function.
        at: Place,
        /// The name as written (functions with `()`).
        found: String,
        /// The name meant.
        expected: String,
    },
    /// A required variable or function is missing.
    Missing {
        /// The end of the file.
        at: Place,
        /// `name`, `version`, `release`, `license` or `package()`.
        what: &'static str,
    },
    /// A value breaks its rule.
    Invalid {
        /// The assignment.
        at: Place,
        /// What the value is (`name`, `version`, `release`, `license`, `dependency`).
        what: &'static str,
        /// The value.
        value: String,
        /// The rule.
        rule: &'static str,
    },
    /// `source` and `sha256sums` have different counts.
    CountMismatch {
        /// The `sha256sums` assignment (or `source` when there is none).
        at: Place,
        /// Entries in `source`.
        sources: usize,
        /// Entries in `sha256sums`.
        sums: usize,
    },
    /// A source entry is malformed.
    BadSource {
        /// The `source` assignment.
        at: Place,
        /// The entry.
        entry: String,
        /// What is wrong and what to do.
        reason: &'static str,
    },
    /// A `sha256sums` entry is malformed or does not fit its source.
    BadChecksum {
        /// The `sha256sums` assignment.
        at: Place,
        /// The source it pins.
        entry: String,
        /// The entry of `sha256sums`.
        sum: String,
        /// What is wrong and what to do.
        reason: &'static str,
    },
    /// Two sources are saved under one name.
    DuplicateFileName {
        /// The `source` assignment.
        at: Place,
        /// The name.
        file_name: String,
    },
    /// A dependency is listed twice (in `depends` and `makedepends` together).
    DuplicateDependency {
        /// The assignment listing it the second time.
        at: Place,
        /// The package.
        name: String,
    },
    /// Two recipes of one set have one name.
    DuplicateRecipe {
        /// The second recipe's `name`.
        at: Place,
        /// The name.
        name: String,
        /// The first recipe with it.
        first: PathBuf,
    },
    /// A dependency that no recipe of the set provides.
    MissingDependency {
        /// The `depends` or `makedepends` assignment naming it.
        at: Place,
        /// The recipe that needs it.
        recipe: String,
        /// The missing package.
        dependency: String,
    },
    /// Recipes that depend on each other.
    Cycle {
        /// The assignment that closes the cycle.
        at: Place,
        /// The names around the cycle, the first repeated at the end.
        cycle: Vec<String>,
    },
}

impl RecipeError {
    /// Where the fault is (none for a file that could not be read).
    pub fn place(&self) -> Option<&Place> {
        match self {
            RecipeError::Io { .. } => None,
            RecipeError::TooLong { at, .. }
            | RecipeError::NotUtf8 { at }
            | RecipeError::Syntax { at, .. }
            | RecipeError::UndefinedVariable { at, .. }
            | RecipeError::ValueTooLong { at, .. }
            | RecipeError::WrongCase { at, .. }
            | RecipeError::Missing { at, .. }
            | RecipeError::Invalid { at, .. }
            | RecipeError::CountMismatch { at, .. }
            | RecipeError::BadSource { at, .. }
            | RecipeError::BadChecksum { at, .. }
            | RecipeError::DuplicateFileName { at, .. }
            | RecipeError::DuplicateDependency { at, .. }
            | RecipeError::DuplicateRecipe { at, .. }
            | RecipeError::MissingDependency { at, .. }
            | RecipeError::Cycle { at, .. } => Some(at),
        }
    }
}

/// What to add for a missing variable or function.
fn missing_hint(what: &str) -> &'static str {
    match what {
        "name" => "add name=… (lowercase letters, digits and `+._-`)",
        "version" => "add version=… with the upstream version",
        "release" => "add release=1 (and count up when the recipe changes, not the version)",
        "license" => "add license=… with an SPDX expression, such as license=\"MIT\"",
        "package()" => "add a package() function that installs into \"$DESTDIR\"",
        _ => "add it",
    }
}

impl fmt::Display for RecipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecipeError::Io { path, source } => {
                write!(f, "unable to read {}: {source}", path.display())
            }
            RecipeError::TooLong { at, limit } => write!(
                f,
                "{at}: longer than {limit} bytes, the limit for a recipe: is this a recipe?"
            ),
            RecipeError::NotUtf8 { at } => {
                write!(f, "{at}: not UTF-8 text: save the recipe as UTF-8")
            }
            RecipeError::Syntax { at, kind } => write!(f, "{at}: {kind}"),
            RecipeError::UndefinedVariable { at, variable } => write!(
                f,
                "{at}: ${variable} is not defined above this line: define it first \
                 (recipes see no environment variables)"
            ),
            RecipeError::ValueTooLong { at, limit } => write!(
                f,
                "{at}: the value is longer than {limit} bytes once expanded: shorten it"
            ),
            RecipeError::WrongCase {
                at,
                found,
                expected,
            } => write!(
                f,
                "{at}: `{found}` is not a recipe's `{expected}`: names are case-sensitive, \
                 write `{expected}` (or pick a name that is not a recipe's own)"
            ),
            RecipeError::Missing { at, what } => write!(
                f,
                "{at}: the recipe has no `{what}`: {}",
                missing_hint(what)
            ),
            RecipeError::Invalid {
                at,
                what,
                value,
                rule,
            } => write!(f, "{at}: {what} `{value}` is invalid: {rule}"),
            RecipeError::CountMismatch { at, sources, sums } => write!(
                f,
                "{at}: {sources} source(s) but {sums} sha256sums: give one sum per source, in \
                 order (SKIP for a git source)"
            ),
            RecipeError::BadSource { at, entry, reason } => {
                write!(f, "{at}: source `{entry}`: {reason}")
            }
            RecipeError::BadChecksum {
                at,
                entry,
                sum,
                reason,
            } => write!(f, "{at}: sha256sums entry `{sum}` for `{entry}`: {reason}"),
            RecipeError::DuplicateFileName { at, file_name } => write!(
                f,
                "{at}: two sources are saved as `{file_name}`: name one otherwise with \
                 LOCATION::NAME"
            ),
            RecipeError::DuplicateDependency { at, name } => write!(
                f,
                "{at}: `{name}` is listed twice in depends and makedepends: list it once"
            ),
            RecipeError::DuplicateRecipe { at, name, first } => write!(
                f,
                "{at}: a second recipe named `{name}` (the first is {}): remove or rename one",
                first.display()
            ),
            RecipeError::MissingDependency {
                at,
                recipe,
                dependency,
            } => write!(
                f,
                "{at}: {recipe} depends on `{dependency}`, which no recipe provides: add a \
                 recipe for it, or remove it from the dependencies"
            ),
            RecipeError::Cycle { at, cycle } => write!(
                f,
                "{at}: dependency cycle {}: remove one of these dependencies",
                cycle.join(" → ")
            ),
        }
    }
}

impl std::error::Error for RecipeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecipeError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let digit = |nibble: u8| char::from_digit(u32::from(nibble), 16).unwrap_or('0');
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(digit(b >> 4));
        text.push(digit(b & 0xf));
    }
    text
}

/// `N` bytes from exactly `2 * N` hex digits (either case).
pub(crate) fn parse_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let high = char::from(*pair.first()?).to_digit(16)?;
        let low = char::from(*pair.get(1)?).to_digit(16)?;
        *byte = u8::try_from((high << 4) | low).ok()?;
    }
    Some(out)
}

/// The place of byte `offset` of `bytes`.
fn position_at(bytes: &[u8], offset: usize) -> Position {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let lines = before.iter().filter(|&&b| b == b'\n').count();
    Position {
        line: u32::try_from(lines + 1).unwrap_or(u32::MAX),
        column: u32::try_from(offset - line_start + 1).unwrap_or(u32::MAX),
    }
}

/// Whether `name` is a package name: `[a-z0-9][a-z0-9+._-]*`.
pub fn is_package_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && bytes.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+._-".contains(&c))
}

const NAME_RULE: &str =
    "a package name is lowercase letters, digits and `+._-`, starting with a letter or digit";

fn is_version(version: &str) -> bool {
    !version.is_empty()
        && !version
            .chars()
            .any(|c| c == '-' || c == '/' || c.is_whitespace() || c.is_control())
}

const VERSION_RULE: &str = "a version is not empty and has no `-` (it separates the parts of a \
     package id), `/`, blanks or control characters: write 1.0_rc1 for 1.0-rc1";

fn parse_release(release: &str) -> Option<u32> {
    if release.starts_with('0') || !release.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    release.parse().ok()
}

const RELEASE_RULE: &str = "the release is a whole number from 1, without leading zeros (count \
     up when the recipe changes, not the version)";

/// Whether `name` can be a file name in the build directory.
fn is_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

/// A `scheme://` at the start of `location`: the scheme.
fn scheme(location: &str) -> Option<&str> {
    let (scheme, _) = location.split_once("://")?;
    let mut chars = scheme.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic() && chars.all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c)))
        .then_some(scheme)
}

/// The last part of a path, as a file name.
fn last_part(path: &str) -> Option<&str> {
    let name = path.trim_end_matches('/').rsplit('/').next()?;
    is_file_name(name).then_some(name)
}

/// A source entry's location, name and (for git) commit.
fn parse_source_entry(entry: &str) -> Result<(Location, String, Option<CommitId>), &'static str> {
    // `LOCATION::NAME`, where NAME has no `/` (so `[::1]` in a URL is not taken for one).
    let (location, name) = match entry.rsplit_once("::") {
        Some((location, name)) if !name.contains(['/', ']']) => {
            if !is_file_name(name) {
                return Err("the NAME after `::` must be a file name (no `/`, not `.` or `..`)");
            }
            (location, Some(name))
        }
        _ => (entry, None),
    };
    if location.is_empty() {
        return Err("no location before `::`: write LOCATION::NAME");
    }
    let (location, default_name, commit) = if let Some(dir) = location.strip_prefix("tree+") {
        if dir.is_empty() || dir.starts_with('/') || scheme(dir).is_some() {
            return Err(
                "a tree source is a directory relative to the recipe's: write tree+PATH::NAME",
            );
        }
        let location = Location::Tree {
            dir: PathBuf::from(dir),
        };
        (location, last_part(dir).filter(|n| *n != ".."), None)
    } else if let Some(lock) = location.strip_prefix("cargo+") {
        if !(lock == "Cargo.lock" || lock.ends_with("/Cargo.lock")) || lock.starts_with('/') {
            return Err("a cargo source names a Cargo.lock relative to the recipe's directory: write cargo+PATH/Cargo.lock");
        }
        let location = Location::CargoLock {
            lock: PathBuf::from(lock),
        };
        (location, Some("vendor"), None)
    } else if let Some(git) = location.strip_prefix("git+") {
        let Some((repository, fragment)) = git.split_once('#') else {
            return Err("a git source is pinned by a full commit: add #commit=<40 hex digits>");
        };
        let commit = fragment
            .strip_prefix("commit=")
            .and_then(CommitId::parse)
            .ok_or("a git source is pinned by a full commit: write #commit=<40 hex digits> (not a branch, tag or short id)")?;
        let path = if let Some(path) = repository.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err("a file:// URL names an absolute path: write file:///path/to/repo");
            }
            path
        } else if scheme(repository).is_some() {
            return Err("only local git repositories (a path or a file:// URL) are supported: clone it and point at the clone");
        } else {
            repository
        };
        if path.is_empty() {
            return Err("no repository after `git+`: write git+PATH#commit=…");
        }
        let default = last_part(path).map(|n| n.strip_suffix(".git").unwrap_or(n));
        (
            Location::Git {
                repository: PathBuf::from(path),
            },
            default.filter(|n| is_file_name(n)),
            Some(commit),
        )
    } else if let Some(scheme) = scheme(location) {
        if scheme != "http" && scheme != "https" {
            return Err(
                "a source is a relative path, an http:// or https:// URL, or git+PATH#commit=…",
            );
        }
        let rest = location.get(scheme.len() + 3..).unwrap_or("");
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() {
            return Err("the URL names no host");
        }
        let path = path.split(['?', '#']).next().unwrap_or("");
        (Location::Url(location.to_string()), last_part(path), None)
    } else {
        if location.starts_with('/') {
            return Err(
                "a file source is a path relative to the recipe's directory, not an absolute path",
            );
        }
        (
            Location::Path(PathBuf::from(location)),
            last_part(location),
            None,
        )
    };
    let name = name
        .or(default_name)
        .ok_or("the location ends in no file name: name the file with LOCATION::NAME")?;
    Ok((location, name.to_string(), commit))
}

/// The variables and functions of a recipe text, in order, values expanded.
struct Definitions<'a> {
    variables: Vec<(&'a str, String, Position)>,
    functions: Vec<(&'a str, Position)>,
}

impl Definitions<'_> {
    /// The last assignment of `name`.
    fn get(&self, name: &str) -> Option<(&str, Position)> {
        self.variables
            .iter()
            .rev()
            .find(|(n, _, _)| *n == name)
            .map(|(_, value, position)| (value.as_str(), *position))
    }
}

/// A recipe or function name that differs from a recipe's own only in case.
fn near_miss<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .copied()
        .find(|k| *k != name && k.eq_ignore_ascii_case(name))
}

impl Recipe {
    /// Reads and checks the recipe at `path`.
    pub fn load(path: &Path) -> Result<Recipe, RecipeError> {
        let io_error = |source| RecipeError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_error)?;
        let mut bytes = Vec::new();
        // One byte past the limit tells a file at the limit from a longer one.
        file.take(RECIPE_MAX_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        Recipe::parse(path, &bytes)
    }

    /// Checks the recipe text `bytes`; `path` names it in errors and locates its sources.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Recipe, RecipeError> {
        let at = |position: Position| Place {
            file: path.to_path_buf(),
            position,
        };
        if bytes.len() > RECIPE_MAX_LEN {
            return Err(RecipeError::TooLong {
                at: at(Position { line: 1, column: 1 }),
                limit: RECIPE_MAX_LEN,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| RecipeError::NotUtf8 {
            at: at(position_at(bytes, e.valid_up_to())),
        })?;
        let defs = definitions(text, &at)?;
        let end = at(position_at(bytes, bytes.len()));
        let required = |what: &'static str| {
            defs.get(what).ok_or_else(|| RecipeError::Missing {
                at: end.clone(),
                what,
            })
        };
        let invalid = |position, what, value: &str, rule| RecipeError::Invalid {
            at: at(position),
            what,
            value: value.to_string(),
            rule,
        };

        let (name, name_position) = required("name")?;
        if !is_package_name(name) {
            return Err(invalid(name_position, "name", name, NAME_RULE));
        }
        let (version, version_position) = required("version")?;
        if !is_version(version) {
            return Err(invalid(version_position, "version", version, VERSION_RULE));
        }
        let (release_text, release_position) = required("release")?;
        let release = parse_release(release_text)
            .ok_or_else(|| invalid(release_position, "release", release_text, RELEASE_RULE))?;
        let (license, license_position) = required("license")?;
        if license.trim().is_empty() {
            return Err(invalid(
                license_position,
                "license",
                license,
                "the license is an SPDX expression, such as MIT or GPL-2.0-only",
            ));
        }
        let sources = sources(&defs, &at)?;
        let (depends, makedepends, depends_position, makedepends_position) =
            dependencies(&defs, &at)?;
        let has_function = |wanted: &str| defs.functions.iter().any(|(n, _)| *n == wanted);
        if !has_function("package") {
            return Err(RecipeError::Missing {
                at: end,
                what: "package()",
            });
        }
        Ok(Recipe {
            path: path.to_path_buf(),
            text: text.to_string(),
            name: name.to_string(),
            version: version.to_string(),
            release,
            description: defs.get("description").map(|(v, _)| v.to_string()),
            url: defs.get("url").map(|(v, _)| v.to_string()),
            license: license.to_string(),
            sources,
            depends,
            makedepends,
            has_build: has_function("build"),
            content_digests: Vec::new(),
            name_position,
            license_position,
            depends_position,
            makedepends_position,
        })
    }

    /// The directory the recipe's relative source paths start from.
    pub fn dir(&self) -> &Path {
        // A bare file name's parent is "", which no directory call accepts.
        match self.path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        }
    }

    /// Every dependency: `depends`, then `makedepends`, in the order written.
    pub fn dependencies(&self) -> impl Iterator<Item = &str> {
        self.depends
            .iter()
            .chain(&self.makedepends)
            .map(String::as_str)
    }

    /// The line of the `license=` assignment (for errors about the expression).
    pub fn license_line(&self) -> usize {
        self.license_position.line as usize
    }

    /// Each dependency with the place of the assignment that names it.
    fn dependency_places(&self) -> impl Iterator<Item = (&str, Place)> {
        let place = |position| Place {
            file: self.path.clone(),
            position,
        };
        let depends = self
            .depends
            .iter()
            .map(move |d| (d.as_str(), place(self.depends_position)));
        let makedepends = self
            .makedepends
            .iter()
            .map(move |d| (d.as_str(), place(self.makedepends_position)));
        depends.chain(makedepends)
    }

    /// The package id, given the ids of [`Recipe::dependencies`] in that order.
    pub fn package_id<'a>(
        &self,
        dependency_ids: impl IntoIterator<Item = &'a PackageId>,
    ) -> PackageId {
        let mut hasher = Sha256::new();
        hasher.update(self.text.as_bytes());
        for digest in &self.content_digests {
            hasher.update(b"content ");
            hasher.update(hex(digest).as_bytes());
            hasher.update(b"\n");
        }
        for id in dependency_ids {
            hasher.update(id.as_str().as_bytes());
            hasher.update(b"\n");
        }
        let digest = hasher.finalize();
        let mut hash = hex(&digest);
        hash.truncate(PACKAGE_HASH_HEX_LEN);
        PackageId(format!("{}-{}-{hash}", self.name, self.version))
    }
}

/// Reads the assignments (expanded) and functions of `text`.
fn definitions<'a>(
    text: &'a str,
    at: &dyn Fn(Position) -> Place,
) -> Result<Definitions<'a>, RecipeError> {
    let mut defs = Definitions {
        variables: Vec::new(),
        functions: Vec::new(),
    };
    let mut buf = vec![0u8; VALUE_MAX_LEN];
    for item in Parser::new(text) {
        let item = item.map_err(|e| RecipeError::Syntax {
            at: at(e.position),
            kind: e.kind,
        })?;
        match item {
            Item::Assignment(a) => {
                if let Some(expected) = near_miss(a.name, &RECIPE_VARIABLES) {
                    return Err(RecipeError::WrongCase {
                        at: at(a.position),
                        found: a.name.to_string(),
                        expected: expected.to_string(),
                    });
                }
                let value = a
                    .value
                    .expand_into(&mut buf, |name| defs.get(name).map(|(v, _)| v))
                    .map_err(|e| match e {
                        ExpandError::UnknownVariable(variable) => RecipeError::UndefinedVariable {
                            at: at(a.position),
                            variable: variable.to_string(),
                        },
                        ExpandError::TooLong { .. } => RecipeError::ValueTooLong {
                            at: at(a.position),
                            limit: VALUE_MAX_LEN,
                        },
                    })?
                    .to_string();
                defs.variables.push((a.name, value, a.position));
            }
            Item::Function { name, position } => {
                if let Some(expected) = near_miss(name, &RECIPE_FUNCTIONS) {
                    return Err(RecipeError::WrongCase {
                        at: at(position),
                        found: format!("{name}()"),
                        expected: format!("{expected}()"),
                    });
                }
                defs.functions.push((name, position));
            }
        }
    }
    Ok(defs)
}

/// The sources with their pins.
fn sources(
    defs: &Definitions<'_>,
    at: &dyn Fn(Position) -> Place,
) -> Result<Vec<Source>, RecipeError> {
    let (source_text, source_position) = or_empty(defs.get("source"));
    let (sums_text, sums_position) = or_empty(defs.get("sha256sums"));
    let entries: Vec<&str> = source_text.split_ascii_whitespace().collect();
    let sums: Vec<&str> = sums_text.split_ascii_whitespace().collect();
    if entries.len() != sums.len() {
        let position = if defs.get("sha256sums").is_some() {
            sums_position
        } else {
            source_position
        };
        return Err(RecipeError::CountMismatch {
            at: at(position),
            sources: entries.len(),
            sums: sums.len(),
        });
    }
    let mut sources: Vec<Source> = Vec::with_capacity(entries.len());
    for (written, sum) in entries.into_iter().zip(sums) {
        let (location, file_name, commit) =
            parse_source_entry(written).map_err(|reason| RecipeError::BadSource {
                at: at(source_position),
                entry: written.to_string(),
                reason,
            })?;
        let bad_sum = |reason| RecipeError::BadChecksum {
            at: at(sums_position),
            entry: written.to_string(),
            sum: sum.to_string(),
            reason,
        };
        let by_content = matches!(location, Location::Tree { .. } | Location::CargoLock { .. });
        let pin =
            match (commit, sum) {
                (Some(commit), "SKIP") => Pin::Commit(commit),
                (Some(_), _) => {
                    return Err(bad_sum(
                        "a git source is pinned by its commit: write SKIP in its place",
                    ))
                }
                (None, "SKIP") if by_content => Pin::Content,
                (None, _) if by_content => return Err(bad_sum(
                    "a tree or cargo source is pinned by its content, hashed into the package id: write SKIP in its place",
                )),
                (None, "SKIP") => return Err(bad_sum(
                    "only a git source (pinned by its commit), a tree or a cargo source may be \
                     SKIP: give the file's sha256 (sha256sum FILE)",
                )),
                (None, sum) => Pin::Sha256(
                    parse_hex::<32>(sum)
                        .ok_or_else(|| bad_sum("a sha256 is 64 hex digits (sha256sum FILE)"))?,
                ),
            };
        if sources.iter().any(|s| s.entry.file_name == file_name) {
            return Err(RecipeError::DuplicateFileName {
                at: at(source_position),
                file_name,
            });
        }
        sources.push(Source {
            entry: SourceEntry {
                written: written.to_string(),
                location,
                file_name,
                place: at(source_position),
            },
            pin,
        });
    }
    Ok(sources)
}

/// `depends` and `makedepends`, each checked, with the places of their assignments.
#[allow(clippy::type_complexity)]
fn dependencies(
    defs: &Definitions<'_>,
    at: &dyn Fn(Position) -> Place,
) -> Result<(Vec<String>, Vec<String>, Position, Position), RecipeError> {
    let mut seen: Vec<&str> = Vec::new();
    let mut read = |variable: &str| -> Result<(Vec<String>, Position), RecipeError> {
        let (text, position) = or_empty(defs.get(variable));
        let mut list = Vec::new();
        for name in text.split_ascii_whitespace() {
            if !is_package_name(name) {
                return Err(RecipeError::Invalid {
                    at: at(position),
                    what: "dependency",
                    value: name.to_string(),
                    rule: NAME_RULE,
                });
            }
            if seen.contains(&name) {
                return Err(RecipeError::DuplicateDependency {
                    at: at(position),
                    name: name.to_string(),
                });
            }
            seen.push(name);
            list.push(name.to_string());
        }
        Ok((list, position))
    };
    let (depends, depends_position) = read("depends")?;
    let (makedepends, makedepends_position) = read("makedepends")?;
    Ok((depends, makedepends, depends_position, makedepends_position))
}

/// An optional variable's value and place: empty at line 1, column 1 when absent.
fn or_empty(definition: Option<(&str, Position)>) -> (&str, Position) {
    definition.unwrap_or(("", Position { line: 1, column: 1 }))
}

/// The package id of every recipe, by name, resolving `depends` and `makedepends` among
/// `recipes` (dependencies first). Refuses two recipes of one name, a dependency no recipe
/// provides, and a dependency cycle (named as `a → b → a`).
pub fn package_ids(recipes: &[Recipe]) -> Result<BTreeMap<String, PackageId>, RecipeError> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(recipes.len());
    for (i, recipe) in recipes.iter().enumerate() {
        if let Some(&first) = index.get(recipe.name.as_str()) {
            return Err(RecipeError::DuplicateRecipe {
                at: Place {
                    file: recipe.path.clone(),
                    position: recipe.name_position,
                },
                name: recipe.name.clone(),
                first: recipes
                    .get(first)
                    .map(|r| r.path.clone())
                    .unwrap_or_default(),
            });
        }
        index.insert(recipe.name.as_str(), i);
    }
    // Each recipe's dependencies as indices, with the place naming each.
    let mut edges: Vec<Vec<(usize, Place)>> = Vec::with_capacity(recipes.len());
    for recipe in recipes {
        let mut out = Vec::new();
        for (dependency, at) in recipe.dependency_places() {
            let Some(&d) = index.get(dependency) else {
                return Err(RecipeError::MissingDependency {
                    at,
                    recipe: recipe.name.clone(),
                    dependency: dependency.to_string(),
                });
            };
            out.push((d, at));
        }
        edges.push(out);
    }

    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        Open,
        Done,
    }
    let mut state = vec![State::New; recipes.len()];
    let mut ids: Vec<Option<PackageId>> = vec![None; recipes.len()];
    // Depth first without recursion (chains of thousands of recipes): (recipe, next edge).
    let mut stack: Vec<(usize, usize)> = Vec::new();
    for root in 0..recipes.len() {
        if state.get(root) != Some(&State::New) {
            continue;
        }
        stack.push((root, 0));
        if let Some(s) = state.get_mut(root) {
            *s = State::Open;
        }
        while let Some(top) = stack.last_mut() {
            let (node, next) = *top;
            let node_edges = edges.get(node).map(Vec::as_slice).unwrap_or_default();
            if let Some((dependency, at)) = node_edges.get(next) {
                top.1 += 1;
                match state.get(*dependency).copied() {
                    Some(State::New) => {
                        if let Some(s) = state.get_mut(*dependency) {
                            *s = State::Open;
                        }
                        stack.push((*dependency, 0));
                    }
                    Some(State::Open) => {
                        let start = stack.iter().position(|(n, _)| n == dependency).unwrap_or(0);
                        let name = |i: usize| recipes.get(i).map(|r| r.name.clone());
                        let cycle = stack
                            .get(start..)
                            .unwrap_or_default()
                            .iter()
                            .filter_map(|(n, _)| name(*n))
                            .chain(name(*dependency))
                            .collect();
                        return Err(RecipeError::Cycle {
                            at: at.clone(),
                            cycle,
                        });
                    }
                    Some(State::Done) | None => {}
                }
                continue;
            }
            // Every dependency is done: this recipe's id can be made.
            let dependency_ids: Vec<&PackageId> = node_edges
                .iter()
                .filter_map(|(d, _)| ids.get(*d).and_then(Option::as_ref))
                .collect();
            if let Some(recipe) = recipes.get(node) {
                let id = recipe.package_id(dependency_ids);
                if let Some(slot) = ids.get_mut(node) {
                    *slot = Some(id);
                }
            }
            if let Some(s) = state.get_mut(node) {
                *s = State::Done;
            }
            stack.pop();
        }
    }
    Ok(recipes
        .iter()
        .zip(ids)
        .filter_map(|(recipe, id)| Some((recipe.name.clone(), id?)))
        .collect())
}

#[cfg(test)]
#[path = "recipe_tests.rs"]
mod tests;
