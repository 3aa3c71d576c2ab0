//! Fetching a recipe's sources into a content-addressed cache, each checked against its pin.
//!
//! The cache (by default `$XDG_CACHE_HOME/nanolin/sources`, else `~/.cache/nanolin/sources`;
//! `NANOLIN_SOURCE_CACHE` overrides both) holds:
//!
//! ```text
//! sha256/<64 hex>     a file whose SHA-256 is its name (also a tree's archive, a crate)
//! git/<40 hex>.tar    `git archive --format=tar` of that commit (deterministic)
//! ```
//!
//! Two kinds of source are pinned by their content rather than by a hash in the recipe (see
//! [`crate::recipe`]): a `tree+` source is archived from the files git lists in the work tree
//! ([`fetch_tree`]; the archive's SHA-256 enters the package id), and a `cargo+` source is the
//! crates a `Cargo.lock` lists ([`fetch_crates`]), each fetched like any pinned file: from the
//! cache, else from cargo's own download cache (`$CARGO_HOME/registry/cache`, the same
//! `.crate` files), else from crates.io, and checked against the checksum the lock records.
//!
//! A file enters the cache only whole and only when its hash matches the pin: it is written to
//! a temporary file beside its entry, hashed while it streams, and renamed into place after
//! the check; on a mismatch or any failure the temporary file is removed, so the cache never
//! holds a partial or wrong file. A cached file is used without the network (and re-hashed
//! first: a damaged entry is replaced). Local files are copied in the same way; git sources
//! come from local repositories only, so they never need the network.
//!
//! HTTP(S) downloads use [`TIMEOUT`] for connecting and for each read and write, follow up to
//! five redirects, and stop at [`DOWNLOAD_MAX_LEN`]. No `Accept-Encoding` is sent, so the bytes
//! hashed are the bytes of the file.
//!
//! Progress goes to a callback ([`FetchProgress`]); this module draws nothing.

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::cargo_lock::{locked_crates, LockError, LockedCrate};
use crate::recipe::{hex, CommitId, Location, Pin, Place, SourceEntry};

/// Largest source file fetched, in bytes (4 GiB).
pub const DOWNLOAD_MAX_LEN: u64 = 4 << 30;

/// Time allowed to connect, and for each read or write of a download.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variable that names the source cache.
pub const CACHE_ENV: &str = "NANOLIN_SOURCE_CACHE";

/// Bytes read at a time.
const BUFFER_LEN: usize = 256 * 1024;

/// Variables that would point git elsewhere than the repository given.
const GIT_ENV_REMOVED: [&str; 6] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
];

/// Settings that would make `git archive` differ between machines, fixed to git's defaults.
const GIT_FIXED_CONFIG: [&str; 6] = [
    "-c",
    "core.autocrlf=false",
    "-c",
    "core.eol=lf",
    "-c",
    "tar.umask=0002",
];

/// What to say when there is no `git` to run.
const GIT_MISSING: &str = "git is not installed: install it (apt-get install git)";

/// The content-addressed source cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceCache {
    root: PathBuf,
}

impl SourceCache {
    /// A cache at `root` (created when first written).
    pub fn new(root: impl Into<PathBuf>) -> SourceCache {
        SourceCache { root: root.into() }
    }

    /// The cache the environment names: `NANOLIN_SOURCE_CACHE`, else
    /// `$XDG_CACHE_HOME/nanolin/sources`, else `$HOME/.cache/nanolin/sources`.
    pub fn from_env() -> Result<SourceCache, FetchError> {
        Self::from_vars(|name| std::env::var_os(name))
    }

    /// [`SourceCache::from_env`] with the environment given by `var`.
    fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Result<SourceCache, FetchError> {
        let set = |name| var(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(root) = set(CACHE_ENV) {
            return Ok(SourceCache::new(root));
        }
        // The XDG spec ignores relative values.
        if let Some(cache) = set("XDG_CACHE_HOME").filter(|p| p.is_absolute()) {
            return Ok(SourceCache::new(cache.join("nanolin/sources")));
        }
        set("HOME")
            .map(|home| SourceCache::new(home.join(".cache/nanolin/sources")))
            .ok_or(FetchError::NoCache)
    }

    /// The cache's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a file with this SHA-256 is kept.
    pub fn sha256_entry(&self, sha256: &[u8; 32]) -> PathBuf {
        self.root.join("sha256").join(hex(sha256))
    }

    /// Where the archive of a git commit is kept.
    pub fn git_entry(&self, commit: &CommitId) -> PathBuf {
        self.root.join("git").join(format!("{commit}.tar"))
    }
}

/// What a fetch is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FetchStep {
    /// Hashing a cached entry again before using it.
    Verify,
    /// Copying a local file into the cache.
    Copy,
    /// Downloading.
    Download,
    /// Writing the archive of a git commit or a work tree.
    Archive,
    /// Fetching the crates of a lock file: `done` and `total` count crates, not bytes.
    Crates,
}

/// How far a fetch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchProgress {
    /// What it is doing.
    pub step: FetchStep,
    /// Bytes done.
    pub done: u64,
    /// Bytes in all, when known.
    pub total: Option<u64>,
}

/// Why a source could not be fetched.
#[derive(Debug)]
pub enum FetchError {
    /// No cache directory is named by the environment.
    NoCache,
    /// A local file or repository does not exist.
    Missing {
        /// The `source` assignment.
        at: Place,
        /// The entry as written.
        entry: String,
        /// The path looked for.
        path: PathBuf,
    },
    /// The content is not what the pin says.
    Mismatch {
        /// The `source` assignment.
        at: Place,
        /// The file name of the source.
        name: String,
        /// The pinned SHA-256, hex.
        expected: String,
        /// The SHA-256 of what was fetched, hex.
        got: String,
    },
    /// The server answered with an error status.
    HttpStatus {
        /// The `source` assignment.
        at: Place,
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The download failed (connection, timeout, TLS, a broken transfer).
    Http {
        /// The `source` assignment.
        at: Place,
        /// The URL.
        url: String,
        /// The reason.
        reason: String,
    },
    /// The source is larger than [`DOWNLOAD_MAX_LEN`].
    TooLarge {
        /// The `source` assignment.
        at: Place,
        /// The entry as written.
        entry: String,
        /// The limit.
        limit: u64,
    },
    /// The pinned commit is not in the repository.
    UnknownCommit {
        /// The `source` assignment.
        at: Place,
        /// The repository.
        repository: PathBuf,
        /// The commit.
        commit: CommitId,
    },
    /// git failed, or the path is not the top of a git repository.
    Git {
        /// The `source` assignment.
        at: Place,
        /// The repository.
        repository: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A git source with a sha256 pin, or a file with a commit.
    PinKind {
        /// The `source` assignment.
        at: Place,
        /// The entry as written.
        entry: String,
    },
    /// A `tree+` source could not be listed or archived.
    Tree {
        /// The `source` assignment.
        at: Place,
        /// The directory.
        dir: PathBuf,
        /// What went wrong and what to do.
        reason: String,
    },
    /// A `cargo+` source's lock file is malformed or names what cannot be fetched.
    Lock {
        /// The `source` assignment.
        at: Place,
        /// The lock file.
        lock: PathBuf,
        /// The fault and its line.
        error: LockError,
    },
    /// A file could not be read or written.
    Io {
        /// What we were doing, as a verb phrase.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
}

impl FetchError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> FetchError {
        FetchError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::NoCache => write!(
                f,
                "no source cache: set {CACHE_ENV} (or HOME or XDG_CACHE_HOME) to a directory"
            ),
            FetchError::Missing { at, entry, path } => write!(
                f,
                "{at}: source `{entry}`: {} does not exist: put it there, or fix the path in \
                 the recipe",
                path.display()
            ),
            FetchError::Mismatch {
                at,
                name,
                expected,
                got,
            } => write!(
                f,
                "{at}: {name}: sha256 mismatch: expected {expected}, got {got}: the source \
                 changed upstream or the pin is wrong"
            ),
            FetchError::HttpStatus { at, url, status } => {
                let meaning = match status {
                    404 | 410 => " (no such file)",
                    401 | 403 => " (access denied)",
                    500..=599 => " (a server fault)",
                    _ => "",
                };
                write!(
                    f,
                    "{at}: {url}: the server answered {status}{meaning}: check the URL, or try \
                     again later"
                )
            }
            FetchError::Http { at, url, reason } => write!(
                f,
                "{at}: {url}: {reason}: check the URL and the network, then try again"
            ),
            FetchError::TooLarge { at, entry, limit } => write!(
                f,
                "{at}: {entry}: larger than {limit} bytes, the limit for a source: is this the \
                 right file?"
            ),
            FetchError::UnknownCommit {
                at,
                repository,
                commit,
            } => write!(
                f,
                "{at}: commit {commit} is not in the git repository {}: fetch it into that \
                 repository, or fix the commit in the recipe",
                repository.display()
            ),
            FetchError::Git {
                at,
                repository,
                reason,
            } => write!(f, "{at}: git repository {}: {reason}", repository.display()),
            FetchError::PinKind { at, entry } => write!(
                f,
                "{at}: {entry}: a git source is pinned by its commit, a tree or cargo source by \
                 its content (SKIP) and any other by sha256: fix the pin"
            ),
            FetchError::Tree { at, dir, reason } => {
                write!(f, "{at}: tree source {}: {reason}", dir.display())
            }
            FetchError::Lock { at, lock, error } => write!(
                f,
                "{at}: cargo source {}:{}: {}",
                lock.display(),
                error.line,
                error.reason
            ),
            FetchError::Io {
                action,
                path,
                source,
            } => write!(f, "unable to {action} {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for FetchError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FetchError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Fetches `entry` into `cache` and checks it against `pin`; relative locations start from
/// `recipe_dir`. Returns the cache entry: a file pinned by sha256, or the tar archive of a git
/// commit. A cached entry is used as it is (a file is hashed again first); `progress` hears of
/// every step.
pub fn fetch(
    entry: &SourceEntry,
    pin: &Pin,
    recipe_dir: &Path,
    cache: &SourceCache,
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<PathBuf, FetchError> {
    match (&entry.location, pin) {
        (Location::Git { repository }, Pin::Commit(commit)) => {
            fetch_git(entry, &recipe_dir.join(repository), commit, cache, progress)
        }
        (Location::Tree { dir }, Pin::Content) => {
            fetch_tree(entry, &recipe_dir.join(dir), cache, progress).map(|(path, _)| path)
        }
        (Location::Git { .. }, Pin::Sha256(_))
        | (_, Pin::Commit(_))
        | (_, Pin::Content)
        | (Location::Tree { .. } | Location::CargoLock { .. }, _) => Err(FetchError::PinKind {
            at: entry.place.clone(),
            entry: entry.written.clone(),
        }),
        (location, Pin::Sha256(expected)) => {
            let target = cache.sha256_entry(expected);
            if cached_file_matches(&target, expected, progress)? {
                return Ok(target);
            }
            match location {
                Location::Path(path) => {
                    let path = recipe_dir.join(path);
                    let file = File::open(&path).map_err(|e| match e.kind() {
                        io::ErrorKind::NotFound => FetchError::Missing {
                            at: entry.place.clone(),
                            entry: entry.written.clone(),
                            path: path.clone(),
                        },
                        _ => FetchError::io("open", &path, e),
                    })?;
                    let total = file.metadata().ok().map(|m| m.len());
                    let mut stream = Stream {
                        reader: file,
                        step: FetchStep::Copy,
                        total,
                        origin: &path,
                    };
                    store(&mut stream, entry, expected, &target, progress)
                }
                Location::Url(url) => {
                    let (reader, total) = get(url, entry)?;
                    let mut stream = Stream {
                        reader,
                        step: FetchStep::Download,
                        total,
                        origin: Path::new(url),
                    };
                    store(&mut stream, entry, expected, &target, progress)
                }
                Location::Git { .. } | Location::Tree { .. } | Location::CargoLock { .. } => {
                    Err(FetchError::PinKind {
                        at: entry.place.clone(),
                        entry: entry.written.clone(),
                    })
                }
            }
        }
    }
}

/// The SHA-256 of the file at `path`.
pub fn sha256_file(path: &Path) -> io::Result<[u8; 32]> {
    hash_reader(&mut File::open(path)?, &mut |_| {})
}

/// Hashes everything `reader` gives, telling `done` the bytes so far.
fn hash_reader(reader: &mut dyn Read, done: &mut dyn FnMut(u64)) -> io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUFFER_LEN];
    let mut total = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(buf.get(..n).unwrap_or_default());
        total += n as u64;
        done(total);
    }
    Ok(hasher.finalize().into())
}

/// Whether a cached file exists with the right hash; a damaged one is removed.
fn cached_file_matches(
    target: &Path,
    expected: &[u8; 32],
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<bool, FetchError> {
    let mut file = match File::open(target) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(FetchError::io("open", target, e)),
    };
    let total = file.metadata().ok().map(|m| m.len());
    let got = hash_reader(&mut file, &mut |done| {
        progress(FetchProgress {
            step: FetchStep::Verify,
            done,
            total,
        })
    })
    .map_err(|e| FetchError::io("read", target, e))?;
    if &got == expected {
        return Ok(true);
    }
    fs::remove_file(target).map_err(|e| FetchError::io("remove the damaged", target, e))?;
    Ok(false)
}

/// Bytes on their way into the cache.
struct Stream<'a, R> {
    reader: R,
    step: FetchStep,
    total: Option<u64>,
    /// The file or URL read, for messages.
    origin: &'a Path,
}

/// Streams into a temporary file beside `target`, hashing; renames it to `target` when the
/// hash is `expected`, and removes it otherwise.
fn store<R: Read>(
    stream: &mut Stream<'_, R>,
    entry: &SourceEntry,
    expected: &[u8; 32],
    target: &Path,
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<PathBuf, FetchError> {
    let dir = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| FetchError::io("create", dir, e))?;
    // Removed when dropped: on every early return below.
    let mut partial = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(dir)
        .map_err(|e| FetchError::io("create a temporary file in", dir, e))?;
    let too_large = || FetchError::TooLarge {
        at: entry.place.clone(),
        entry: entry.written.clone(),
        limit: DOWNLOAD_MAX_LEN,
    };
    if stream.total.is_some_and(|total| total > DOWNLOAD_MAX_LEN) {
        return Err(too_large());
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; BUFFER_LEN];
    let mut done = 0u64;
    loop {
        let n = match stream.reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(match stream.step {
                    FetchStep::Download => FetchError::Http {
                        at: entry.place.clone(),
                        url: stream.origin.display().to_string(),
                        reason: e.to_string(),
                    },
                    _ => FetchError::io("read", stream.origin, e),
                })
            }
        };
        done += n as u64;
        if done > DOWNLOAD_MAX_LEN {
            return Err(too_large());
        }
        let chunk = buf.get(..n).unwrap_or_default();
        hasher.update(chunk);
        partial
            .write_all(chunk)
            .map_err(|e| FetchError::io("write", partial.path(), e))?;
        progress(FetchProgress {
            step: stream.step,
            done,
            total: stream.total,
        });
    }
    let got: [u8; 32] = hasher.finalize().into();
    if &got != expected {
        return Err(FetchError::Mismatch {
            at: entry.place.clone(),
            name: entry.file_name.clone(),
            expected: hex(expected),
            got: hex(&got),
        });
    }
    finish(partial, target)
}

/// Makes a complete temporary file durable and readable, and renames it to `target`.
fn finish(partial: tempfile::NamedTempFile, target: &Path) -> Result<PathBuf, FetchError> {
    partial
        .as_file()
        .sync_all()
        .map_err(|e| FetchError::io("write", partial.path(), e))?;
    set_readable(partial.path()).map_err(|e| FetchError::io("set the mode of", target, e))?;
    partial
        .persist(target)
        .map_err(|e| FetchError::io("rename a temporary file to", target, e.error))?;
    Ok(target.to_path_buf())
}

/// Mode 0644: temporary files are created 0600.
#[cfg(unix)]
fn set_readable(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_readable(_path: &Path) -> io::Result<()> {
    Ok(())
}

/// Starts a GET of `url`: the body and its announced length.
fn get(url: &str, entry: &SourceEntry) -> Result<(impl Read, Option<u64>), FetchError> {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(TIMEOUT)
        .timeout_read(TIMEOUT)
        .timeout_write(TIMEOUT)
        .user_agent(concat!("nanolin/", env!("CARGO_PKG_VERSION")))
        .build();
    let response = agent.get(url).call().map_err(|e| match e {
        ureq::Error::Status(status, _) => FetchError::HttpStatus {
            at: entry.place.clone(),
            url: url.to_string(),
            status,
        },
        ureq::Error::Transport(transport) => FetchError::Http {
            at: entry.place.clone(),
            url: url.to_string(),
            reason: transport.to_string(),
        },
    })?;
    let total = response
        .header("Content-Length")
        .and_then(|len| len.trim().parse::<u64>().ok());
    Ok((response.into_reader(), total))
}

/// A git command on `repository`, isolated from the caller's git environment.
fn git(repository: &Path) -> Command {
    let mut command = Command::new("git");
    command.arg("-C").arg(repository).args(GIT_FIXED_CONFIG);
    for name in GIT_ENV_REMOVED {
        command.env_remove(name);
    }
    command.stdin(Stdio::null());
    command
}

/// Runs a git command to its end: its standard output on success, else the reason.
fn run_git(command: &mut Command) -> Result<Vec<u8>, String> {
    let output = command.output().map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => GIT_MISSING.to_string(),
        _ => format!("unable to run git: {e}"),
    })?;
    if output.status.success() {
        return Ok(output.stdout);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    Err(stderr.trim().to_string())
}

/// The archive of `commit` of the local repository `repository`, from the cache or made.
fn fetch_git(
    entry: &SourceEntry,
    repository: &Path,
    commit: &CommitId,
    cache: &SourceCache,
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<PathBuf, FetchError> {
    let target = cache.git_entry(commit);
    // Entries are renamed into place only when complete; the commit names the content.
    if let Ok(metadata) = fs::metadata(&target) {
        progress(FetchProgress {
            step: FetchStep::Verify,
            done: metadata.len(),
            total: Some(metadata.len()),
        });
        return Ok(target);
    }
    if !repository.exists() {
        return Err(FetchError::Missing {
            at: entry.place.clone(),
            entry: entry.written.clone(),
            path: repository.to_path_buf(),
        });
    }
    let git_error = |reason: String| FetchError::Git {
        at: entry.place.clone(),
        repository: repository.to_path_buf(),
        reason,
    };
    // Not a subdirectory of some other repository: `git -C` would find that one.
    let prefix = run_git(git(repository).args(["rev-parse", "--show-prefix"])).map_err(|e| {
        if e.starts_with(GIT_MISSING) {
            return git_error(e);
        }
        git_error(format!(
            "{e}: point the source at a git repository (the directory holding .git, or a bare \
             repository)"
        ))
    })?;
    if !prefix.trim_ascii().is_empty() {
        return Err(git_error(format!(
            "not the top of a git repository (it is {} inside one): point the source at the \
             repository's top directory",
            String::from_utf8_lossy(prefix.trim_ascii())
        )));
    }
    let object = format!("{commit}^{{commit}}");
    run_git(git(repository).args(["cat-file", "-e", &object])).map_err(|_| {
        FetchError::UnknownCommit {
            at: entry.place.clone(),
            repository: repository.to_path_buf(),
            commit: *commit,
        }
    })?;

    let dir = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| FetchError::io("create", dir, e))?;
    let partial = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(dir)
        .map_err(|e| FetchError::io("create a temporary file in", dir, e))?;
    let out = partial
        .reopen()
        .map_err(|e| FetchError::io("open", partial.path(), e))?;
    let commit_text = commit.to_string();
    progress(FetchProgress {
        step: FetchStep::Archive,
        done: 0,
        total: None,
    });
    run_git(
        git(repository)
            .args(["archive", "--format=tar", &commit_text])
            .stdout(out),
    )
    .map_err(|e| git_error(format!("git archive {commit}: {e}")))?;
    let len = fs::metadata(partial.path()).map_or(0, |m| m.len());
    progress(FetchProgress {
        step: FetchStep::Archive,
        done: len,
        total: Some(len),
    });
    finish(partial, &target)
}

/// The SHA-256 a [`Pin::Content`] source adds to its recipe's package id: its archive's for a
/// tree (made and cached on the way), its lock file's for a cargo source (whose crates the
/// lock's checksums pin).
pub fn content_digest(
    entry: &SourceEntry,
    recipe_dir: &Path,
    cache: &SourceCache,
) -> Result<[u8; 32], FetchError> {
    match &entry.location {
        Location::Tree { dir } => {
            fetch_tree(entry, &recipe_dir.join(dir), cache, &mut |_| {}).map(|(_, sum)| sum)
        }
        Location::CargoLock { lock } => {
            let lock = recipe_dir.join(lock);
            sha256_file(&lock).map_err(|e| missing_or_io(entry, &lock, e))
        }
        _ => Err(FetchError::PinKind {
            at: entry.place.clone(),
            entry: entry.written.clone(),
        }),
    }
}

/// A missing file as [`FetchError::Missing`], any other failure as I/O.
fn missing_or_io(entry: &SourceEntry, path: &Path, e: io::Error) -> FetchError {
    match e.kind() {
        io::ErrorKind::NotFound => FetchError::Missing {
            at: entry.place.clone(),
            entry: entry.written.clone(),
            path: path.to_path_buf(),
        },
        _ => FetchError::io("read", path, e),
    }
}

/// Archives the files git lists in the work tree `dir` (tracked, and untracked but not
/// ignored; as they are on disk, committed or not) into the cache: a GNU tar with the paths
/// sorted, owners 0:0, every time 0 and modes 0644/0755, so the same files give the same
/// bytes on any machine. Returns the entry and its SHA-256.
pub fn fetch_tree(
    entry: &SourceEntry,
    dir: &Path,
    cache: &SourceCache,
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<(PathBuf, [u8; 32]), FetchError> {
    let tree_error = |reason: String| FetchError::Tree {
        at: entry.place.clone(),
        dir: dir.to_path_buf(),
        reason,
    };
    if !dir.is_dir() {
        return Err(FetchError::Missing {
            at: entry.place.clone(),
            entry: entry.written.clone(),
            path: dir.to_path_buf(),
        });
    }
    let listed = run_git(git(dir).args([
        "ls-files",
        "-z",
        "--cached",
        "--others",
        "--exclude-standard",
    ]))
    .map_err(|e| {
        tree_error(format!(
            "{e}: a tree source is a directory of a git work tree (git lists its files)"
        ))
    })?;
    let mut files: Vec<&[u8]> = listed
        .split(|b| *b == 0)
        .filter(|path| !path.is_empty())
        .collect();
    files.sort_unstable();
    files.dedup();
    let mut list = Vec::with_capacity(listed.len());
    for file in files {
        let path = dir.join(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(file));
        // Deleted but still tracked, or a submodule: nothing to archive.
        match fs::symlink_metadata(&path) {
            Ok(m) if m.is_file() || m.file_type().is_symlink() => {
                list.extend_from_slice(file);
                list.push(0);
            }
            _ => {}
        }
    }
    if list.is_empty() {
        return Err(tree_error("git lists no files there".into()));
    }

    let temp_dir = cache.root().join("sha256");
    fs::create_dir_all(&temp_dir).map_err(|e| FetchError::io("create", &temp_dir, e))?;
    let mut partial = tempfile::Builder::new()
        .prefix(".partial-")
        .tempfile_in(&temp_dir)
        .map_err(|e| FetchError::io("create a temporary file in", &temp_dir, e))?;
    progress(FetchProgress {
        step: FetchStep::Archive,
        done: 0,
        total: None,
    });
    let mut tar = Command::new("tar")
        .arg("--create")
        .arg("--file=-")
        .arg("--directory")
        .arg(dir)
        .args([
            "--format=gnu",
            "--no-recursion",
            "--null",
            "--files-from=-",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "--numeric-owner",
            "--mode=u=rwX,go=rX",
        ])
        .env("LC_ALL", "C")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| tree_error(format!("unable to run tar: {e}")))?;
    let mut stdin = tar.stdin.take();
    // The list is written from another thread: tar writes the archive as it reads the list.
    let feeder = std::thread::spawn(move || {
        if let Some(stdin) = stdin.as_mut() {
            let _ = stdin.write_all(&list);
        }
    });
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    if let Some(mut out) = tar.stdout.take() {
        let mut buf = vec![0u8; BUFFER_LEN];
        loop {
            let n = match out.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(FetchError::io("read the archive of", dir, e)),
            };
            let chunk = buf.get(..n).unwrap_or_default();
            hasher.update(chunk);
            partial
                .write_all(chunk)
                .map_err(|e| FetchError::io("write", partial.path(), e))?;
            done += n as u64;
        }
    }
    let _ = feeder.join();
    let output = tar
        .wait_with_output()
        .map_err(|e| tree_error(format!("unable to run tar: {e}")))?;
    if !output.status.success() {
        return Err(tree_error(format!(
            "tar failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    progress(FetchProgress {
        step: FetchStep::Archive,
        done,
        total: Some(done),
    });
    let digest: [u8; 32] = hasher.finalize().into();
    let target = cache.sha256_entry(&digest);
    if target.exists() {
        return Ok((target, digest));
    }
    Ok((finish(partial, &target)?, digest))
}

/// Fetches every crates.io package the lock file `lock` lists into the cache, each checked
/// against the checksum the lock records: from the cache, else from cargo's download cache,
/// else from crates.io. Returns each crate with its cache entry, in the lock's order.
pub fn fetch_crates(
    entry: &SourceEntry,
    lock: &Path,
    cache: &SourceCache,
    progress: &mut dyn FnMut(FetchProgress),
) -> Result<Vec<(LockedCrate, PathBuf)>, FetchError> {
    let text = fs::read_to_string(lock).map_err(|e| missing_or_io(entry, lock, e))?;
    let crates = locked_crates(&text).map_err(|error| FetchError::Lock {
        at: entry.place.clone(),
        lock: lock.to_path_buf(),
        error,
    })?;
    let cargo_caches = cargo_download_caches();
    let total = crates.len() as u64;
    let mut fetched = Vec::with_capacity(crates.len());
    for (index, krate) in crates.into_iter().enumerate() {
        progress(FetchProgress {
            step: FetchStep::Crates,
            done: index as u64,
            total: Some(total),
        });
        let url = krate.url();
        let crate_entry = SourceEntry {
            written: url.clone(),
            location: Location::Url(url),
            file_name: krate.file_name(),
            place: entry.place.clone(),
        };
        let target = cache.sha256_entry(&krate.checksum);
        let quiet = &mut |_| {};
        let mut path = None;
        if cached_file_matches(&target, &krate.checksum, quiet)? {
            path = Some(target.clone());
        }
        for dir in &cargo_caches {
            if path.is_some() {
                break;
            }
            let local = dir.join(krate.file_name());
            let Ok(file) = File::open(&local) else {
                continue;
            };
            let mut stream = Stream {
                total: file.metadata().ok().map(|m| m.len()),
                reader: file,
                step: FetchStep::Copy,
                origin: &local,
            };
            // A copy that does not match is skipped: crates.io has the right one.
            if let Ok(stored) = store(&mut stream, &crate_entry, &krate.checksum, &target, quiet) {
                path = Some(stored);
            }
        }
        let path = match path {
            Some(path) => path,
            None => fetch(
                &crate_entry,
                &Pin::Sha256(krate.checksum),
                Path::new("."),
                cache,
                quiet,
            )?,
        };
        fetched.push((krate, path));
    }
    progress(FetchProgress {
        step: FetchStep::Crates,
        done: total,
        total: Some(total),
    });
    Ok(fetched)
}

/// cargo's download caches: `$CARGO_HOME/registry/cache/*/` (`CARGO_HOME` defaults to
/// `~/.cargo`), where it keeps the `.crate` files it fetched.
fn cargo_download_caches() -> Vec<PathBuf> {
    let home = std::env::var_os("CARGO_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(home) = home else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = fs::read_dir(home.join("registry/cache"))
        .map(|entries| entries.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    dirs.sort();
    dirs
}

#[cfg(test)]
#[path = "fetch_tests.rs"]
mod tests;
