//! The repository a fleet polls: static files that any web server, object store or CDN serves.
//!
//! ```text
//! signature.pub              the trusted key (also baked into images)
//! packages.tgz               every recipe (packages/*.rcp)      manifest.tgz   every .lst
//! index + index.sig          every artifact with its size and SHA-256, the repository's
//!                            version (one more at each index, never reused), creation, expiry
//! packages/  distros/        package and distro images with their signatures, lists, reports
//! releases/<board>/          update bundles, with the disk images (and .bmap) of the release
//! channels/<board>/<channel> + .sig     what a board polls: the newest bundle, its version,
//!                                       its size, the channel's expiry (read by nanolin-agent)
//! ```
//!
//! # Trust
//!
//! Whatever a client reads is signed by the key in `signature.pub`: the index (which pins every
//! artifact by size and hash), each channel file, each package and distro image (`.img.sig`)
//! and each bundle's manifest. Nothing is taken into the repository unless its signature holds
//! under that key, and a file once in the repository is never replaced by other bytes: versions
//! are immutable. A channel never goes back to an older release (rollback), and the index and
//! the channels expire (freeze): both are re-signed by `nanolin repo index` and
//! `nanolin repo publish`.
//!
//! # File names
//!
//! Every file name in the repository is letters, digits and `._+~-`, not starting with `.` or
//! `-` ([`is_safe_name`]): names become URLs and index entries, and need no quoting in either.
//! Names starting with `.` are the temporary files of a run in progress, never indexed.
//!
//! The pieces: [`index`] (the index file: scanning, writing, signing), [`archive`] (the
//! reproducible `.tgz` files), [`channel`] (channel files: publish, promote), [`add`] (placing
//! artifacts by kind), [`check`] (verifying a repository as a client would).

pub mod add;
pub mod archive;
pub mod channel;
pub mod check;
pub mod index;

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nanolin_core::keyvalue::{Item, Parser};
use nanolin_core::version::{utc_parts, ReleaseVersion};
use nanolin_core::{
    KeyNumber, PublicKey, Signature, SignatureFile, SignatureVerifier, VerifyError,
};

use crate::error::{Error, Status};
use crate::keyfile::{public_key_text, SigningKey};
use crate::signing::{
    default_trusted_comment, sign_bytes, signature_file_text, signing_time, verify_with_comment,
};

/// The trusted key.
pub const SIGNATURE_PUB: &str = "signature.pub";
/// The index.
pub const INDEX: &str = "index";
/// The index's signature.
pub const INDEX_SIG: &str = "index.sig";
/// Every recipe of `packages/`.
pub const PACKAGES_TGZ: &str = "packages.tgz";
/// Every `.lst` of `packages/` and `distros/`.
pub const MANIFEST_TGZ: &str = "manifest.tgz";
/// Package images and what comes with them.
pub const PACKAGES: &str = "packages";
/// Distro images and what comes with them.
pub const DISTROS: &str = "distros";
/// Bundles and disk images, one directory per board.
pub const RELEASES: &str = "releases";
/// Channel files, one directory per board.
pub const CHANNELS: &str = "channels";
/// The directories the index lists every file of.
pub const ARTIFACT_DIRS: [&str; 3] = [PACKAGES, DISTROS, RELEASES];

/// How long an index or a channel file is valid unless `--expires` says otherwise.
pub const DEFAULT_LIFETIME: &str = "30d";

/// Longest file name in the repository.
pub const NAME_MAX_LEN: usize = 255;

/// Longest value in an index or channel file.
const VALUE_MAX_LEN: usize = 4096;

/// Why a repository command refused, or could not finish.
#[derive(Debug)]
pub enum RepoError {
    /// `repo init` in a directory that holds other files.
    NotEmpty {
        /// The directory.
        dir: PathBuf,
    },
    /// A directory without `signature.pub`.
    NotRepository {
        /// The directory.
        dir: PathBuf,
    },
    /// The secret key given is not the one the repository trusts.
    NotRepositoryKey {
        /// The secret key file.
        secret_key: PathBuf,
        /// Its key number.
        got: KeyNumber,
        /// The number of the repository's key.
        trusted: KeyNumber,
    },
    /// A file signed by another key than the repository's.
    WrongKey {
        /// The file (an image's `.img.sig`, a bundle, a channel file).
        path: PathBuf,
        /// The key that signed it.
        signed_by: KeyNumber,
        /// The repository's key.
        trusted: KeyNumber,
    },
    /// A signature that does not hold, or cannot be read.
    BadSignature {
        /// The signed file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// An artifact whose kind cannot be told from its name.
    UnknownKind {
        /// The file.
        path: PathBuf,
    },
    /// An artifact given without what must come with it, or that cannot be placed.
    Unplaceable {
        /// The file.
        path: PathBuf,
        /// What is missing, and what to do.
        reason: String,
    },
    /// A file name the repository cannot hold.
    BadName {
        /// The file.
        path: PathBuf,
    },
    /// A file of the repository would be replaced by other bytes.
    Immutable {
        /// The file in the repository.
        existing: PathBuf,
        /// The artifact with the same name.
        offered: PathBuf,
    },
    /// The index or a channel file is malformed.
    Malformed {
        /// The file.
        path: PathBuf,
        /// The fault and its line.
        reason: String,
    },
    /// A channel would go back to an older release.
    Older {
        /// The channel file.
        channel: PathBuf,
        /// The release offered.
        offered: ReleaseVersion,
        /// The release the channel names now.
        current: ReleaseVersion,
    },
    /// A channel to promote from does not exist.
    NoChannel {
        /// The channel file.
        path: PathBuf,
    },
    /// A bundle that cannot be published.
    Unpublishable {
        /// The bundle.
        path: PathBuf,
        /// Why, and what to do.
        reason: String,
    },
    /// An outside program (gzip) is missing or failed.
    Tool {
        /// The program.
        program: &'static str,
        /// What happened.
        reason: String,
    },
    /// `repo check` found problems; each was reported.
    CheckFailed {
        /// The repository.
        dir: PathBuf,
        /// How many.
        problems: usize,
    },
}

impl RepoError {
    /// The exit status this error maps to.
    pub fn status(&self) -> Status {
        match self {
            RepoError::NotRepository { .. } | RepoError::UnknownKind { .. } => Status::Usage,
            RepoError::Tool { .. } => Status::System,
            RepoError::NotEmpty { .. }
            | RepoError::NotRepositoryKey { .. }
            | RepoError::WrongKey { .. }
            | RepoError::BadSignature { .. }
            | RepoError::Unplaceable { .. }
            | RepoError::BadName { .. }
            | RepoError::Immutable { .. }
            | RepoError::Malformed { .. }
            | RepoError::Older { .. }
            | RepoError::NoChannel { .. }
            | RepoError::Unpublishable { .. }
            | RepoError::CheckFailed { .. } => Status::No,
        }
    }
}

impl fmt::Display for RepoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RepoError::NotEmpty { dir } => write!(
                f,
                "{} holds files but is not a repository (no {SIGNATURE_PUB}): refusing to make \
                 one there; choose an empty or new directory",
                dir.display()
            ),
            RepoError::NotRepository { dir } => write!(
                f,
                "{} is not a repository (no {SIGNATURE_PUB}): make one with \
                 `nanolin repo init {} -s KEY.sec`",
                dir.display(),
                dir.display()
            ),
            RepoError::NotRepositoryKey {
                secret_key,
                got,
                trusted,
            } => write!(
                f,
                "{} is key {got}, but the repository trusts key {trusted} ({SIGNATURE_PUB}): \
                 sign with the repository's secret key",
                secret_key.display()
            ),
            RepoError::WrongKey {
                path,
                signed_by,
                trusted,
            } => write!(
                f,
                "{}: signed by key {signed_by}, but the repository trusts key {trusted} \
                 ({SIGNATURE_PUB}): sign it again with the repository's key",
                path.display()
            ),
            RepoError::BadSignature { path, reason } => {
                write!(
                    f,
                    "{}: the signature does not hold: {reason}",
                    path.display()
                )
            }
            RepoError::UnknownKind { path } => write!(
                f,
                "{}: not a repository artifact: give package or distro outputs (.img, \
                 .img.sig, .lst, .licenses.txt, .spdx.json, .rcp), bundles (.nlb), or disk \
                 images with their .bmap",
                path.display()
            ),
            RepoError::Unplaceable { path, reason } => write!(f, "{}: {reason}", path.display()),
            RepoError::BadName { path } => write!(
                f,
                "{}: repository file names are letters, digits and `._+~-`, at most \
                 {NAME_MAX_LEN} bytes, not starting with `.` or `-` (they become URLs and \
                 index entries): rename it",
                path.display()
            ),
            RepoError::Immutable { existing, offered } => write!(
                f,
                "{} exists with other bytes than {}: versions are immutable, so a file is \
                 never replaced; make a new version",
                existing.display(),
                offered.display()
            ),
            RepoError::Malformed { path, reason } => write!(
                f,
                "{}: {reason}: restore it from a backup, or check the repository with \
                 `nanolin repo check`",
                path.display()
            ),
            RepoError::Older {
                channel,
                offered,
                current,
            } => write!(
                f,
                "{} names {current}: refusing to go back to the older {offered} (rollback); \
                 publish a newer release instead",
                channel.display()
            ),
            RepoError::NoChannel { path } => write!(
                f,
                "{} does not exist: publish to it first with `nanolin repo publish`",
                path.display()
            ),
            RepoError::Unpublishable { path, reason } => write!(f, "{}: {reason}", path.display()),
            RepoError::Tool { program, reason } => write!(f, "{program}: {reason}"),
            RepoError::CheckFailed { dir, problems } => write!(
                f,
                "repository {}: {problems} problem{} (each shown above)",
                dir.display(),
                if *problems == 1 { "" } else { "s" }
            ),
        }
    }
}

impl std::error::Error for RepoError {}

impl From<RepoError> for Error {
    fn from(e: RepoError) -> Self {
        Error::Repo(e)
    }
}

/// Whether `name` may be a file or directory name in the repository.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= NAME_MAX_LEN
        && !name.starts_with(['.', '-'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+~-".contains(&b))
}

/// Whether `path` is a path the index may list: `packages.tgz`, `manifest.tgz`, or a file in
/// one of the [`ARTIFACT_DIRS`], every component a [safe name](is_safe_name).
pub fn is_index_path(path: &str) -> bool {
    if path == PACKAGES_TGZ || path == MANIFEST_TGZ {
        return true;
    }
    let parts: Vec<&str> = path.split('/').collect();
    parts.len() >= 2 && ARTIFACT_DIRS.contains(&parts[0]) && parts.iter().all(|p| is_safe_name(p))
}

/// The file name of `path` as text, when it has one.
pub fn file_name(path: &Path) -> Option<&str> {
    path.file_name().and_then(|n| n.to_str())
}

/// `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(unix: u64) -> String {
    let [y, mo, d, h, mi, s] = utc_parts(unix);
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    crate::bundling::hex(bytes)
}

/// 32 bytes from 64 lowercase hex digits.
pub fn parse_sha256(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64
        || !digits
            .iter()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks(2)) {
        let text = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(text, 16).ok()?;
    }
    Some(out)
}

/// One `name=value` of a key=value file, with its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The name.
    pub name: String,
    /// The value, quotes resolved and `$variables` of earlier lines expanded.
    pub value: String,
    /// The line it starts on.
    pub line: u32,
}

/// The assignments of a key=value text (the syntax of `nanolin_core::keyvalue`), in order.
/// Shell functions are skipped when `functions` is true (recipes) and refused otherwise.
pub fn read_pairs(text: &str, functions: bool) -> Result<Vec<Pair>, String> {
    let mut pairs: Vec<Pair> = Vec::new();
    let mut buf = vec![0u8; VALUE_MAX_LEN];
    for item in Parser::new(text) {
        match item.map_err(|e| e.to_string())? {
            Item::Assignment(a) => {
                let value = a
                    .value
                    .expand_into(&mut buf, |name| {
                        pairs
                            .iter()
                            .rev()
                            .find(|p| p.name == name)
                            .map(|p| p.value.as_str())
                    })
                    .map_err(|e| format!("{}: {e}", a.position))?
                    .to_string();
                pairs.push(Pair {
                    name: a.name.to_string(),
                    value,
                    line: a.position.line,
                });
            }
            Item::Function { position, .. } if !functions => {
                return Err(format!("{position}: functions have no meaning here"))
            }
            Item::Function { .. } => {}
        }
    }
    Ok(pairs)
}

/// An opened repository: its directory and the key it trusts.
#[derive(Debug, Clone)]
pub struct Repository {
    root: PathBuf,
    key: PublicKey,
}

impl Repository {
    /// Opens the repository at `root` (a directory with `signature.pub`).
    pub fn open(root: &Path) -> Result<Repository, Error> {
        let key_path = root.join(SIGNATURE_PUB);
        if !key_path.is_file() {
            return Err(RepoError::NotRepository { dir: root.into() }.into());
        }
        let key = crate::keyfile::load_public_key(&key_path)?;
        Ok(Repository {
            root: root.to_path_buf(),
            key,
        })
    }

    /// The repository at `root`, trusting `key` whatever its `signature.pub` says.
    pub fn with_key(root: &Path, key: PublicKey) -> Repository {
        Repository {
            root: root.to_path_buf(),
            key,
        }
    }

    /// Makes `root` a repository trusting `key`'s public half: the directories,
    /// `signature.pub`, and (by the caller) the first index. An existing repository of the
    /// same key is opened as it is; returns whether it was created.
    pub fn create(
        root: &Path,
        key: &SigningKey,
        secret_path: &Path,
    ) -> Result<(Repository, bool), Error> {
        if root.join(SIGNATURE_PUB).exists() {
            let repo = Repository::open(root)?;
            repo.require_signer(key, secret_path)?;
            repo.make_dirs()?;
            return Ok((repo, false));
        }
        match fs::read_dir(root) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(RepoError::NotEmpty { dir: root.into() }.into());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(root).map_err(|e| Error::io("create", root, e))?;
            }
            Err(e) => return Err(Error::io("list", root, e)),
        }
        let repo = Repository {
            root: root.to_path_buf(),
            key: key.public_key(),
        };
        repo.make_dirs()?;
        let text = public_key_text(repo.key, "nanolin repository public key")?;
        write_atomically(&repo.path(SIGNATURE_PUB), &text)?;
        Ok((repo, true))
    }

    fn make_dirs(&self) -> Result<(), Error> {
        for dir in ARTIFACT_DIRS.iter().chain(&[CHANNELS]) {
            let path = self.path(dir);
            fs::create_dir_all(&path).map_err(|e| Error::io("create", &path, e))?;
        }
        Ok(())
    }

    /// The repository's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The key it trusts.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// The file at `relative` (a `/`-separated path) in the repository.
    pub fn path(&self, relative: &str) -> PathBuf {
        relative
            .split('/')
            .fold(self.root.clone(), |path, part| path.join(part))
    }

    /// Refuses a secret key other than the repository's: what it signed would not verify.
    pub fn require_signer(&self, key: &SigningKey, secret_path: &Path) -> Result<(), Error> {
        if key.public_key() != self.key {
            return Err(RepoError::NotRepositoryKey {
                secret_key: secret_path.into(),
                got: key.key_number,
                trusted: self.key.key_number,
            }
            .into());
        }
        Ok(())
    }

    /// A verifier of a signature (the text of a `.sig` file, `sig_path` naming it) over the
    /// file `signed`, by the repository's key: feed it the file's bytes.
    pub fn verifier(
        &self,
        sig_text: &[u8],
        sig_path: &Path,
        signed: &Path,
    ) -> Result<SignatureVerifier, RepoError> {
        let bad = |reason: String| RepoError::BadSignature {
            path: signed.into(),
            reason,
        };
        let sig = SignatureFile::parse(sig_text)
            .map_err(|e| bad(format!("{}: {e}", sig_path.display())))?;
        if sig.signature.key_number != self.key.key_number {
            return Err(RepoError::WrongKey {
                path: sig_path.into(),
                signed_by: sig.signature.key_number,
                trusted: self.key.key_number,
            });
        }
        let failed = |e: VerifyError| bad(e.to_string());
        if let Some(trusted) = &sig.trusted {
            nanolin_core::verifier::verify_trusted_comment(&self.key, &sig.signature, trusted)
                .map_err(failed)?;
        }
        SignatureVerifier::new(&self.key, &sig.signature).map_err(failed)
    }

    /// Checks a signature over bytes held in memory.
    pub fn verify_bytes(
        &self,
        message: &[u8],
        sig_text: &[u8],
        sig_path: &Path,
        signed: &Path,
    ) -> Result<(), RepoError> {
        let mut verifier = self.verifier(sig_text, sig_path, signed)?;
        verifier.update(message);
        verifier.finish().map_err(|e| RepoError::BadSignature {
            path: signed.into(),
            reason: e.to_string(),
        })
    }

    /// Checks `signed`'s signature file `sig_path`, streaming the file once.
    pub fn verify_file(&self, signed: &Path, sig_path: &Path) -> Result<(), Error> {
        let text = crate::keyfile::read(sig_path)?;
        let mut verifier = self.verifier(&text, sig_path, signed)?;
        crate::signing::stream_file(signed, |piece| verifier.update(piece))
            .map_err(|e| Error::io("read", signed, e))?;
        verifier.finish().map_err(|e| {
            RepoError::BadSignature {
                path: signed.into(),
                reason: e.to_string(),
            }
            .into()
        })
    }
}

/// Signs the repository's small files (index, channels) as `nanolin sign` signs a file: the
/// same untrusted comment (`verify with KEY.pub`) and trusted comment (`timestamp:T` and the
/// file's name), so the bytes are those `nanolin sign` writes for the same file and time.
pub struct Signer<'a> {
    key: &'a SigningKey,
    untrusted: String,
    time: u64,
}

impl<'a> Signer<'a> {
    /// A signer with `key` (read from `secret_path`), at the signing time (`SOURCE_DATE_EPOCH`
    /// when set, else now).
    pub fn new(key: &'a SigningKey, secret_path: &Path) -> Self {
        Signer::at(key, secret_path, signing_time())
    }

    /// A signer with `key` at `time` (seconds since 1970).
    pub fn at(key: &'a SigningKey, secret_path: &Path, time: u64) -> Self {
        Signer {
            key,
            untrusted: verify_with_comment(secret_path),
            time,
        }
    }

    /// The signing time, seconds since 1970.
    pub fn time(&self) -> u64 {
        self.time
    }

    /// The text of a signature file over `message`, for a file named `name`.
    pub fn sign(&self, name: &str, message: &[u8]) -> Result<Vec<u8>, Error> {
        let signature = Signature {
            key_number: self.key.key_number,
            signature: sign_bytes(self.key, message),
        };
        signature_file_text(
            self.key,
            signature,
            &self.untrusted,
            &default_trusted_comment(Path::new(name), self.time),
        )
    }
}

/// The temporary name of `path` while it is written: hidden, beside it.
fn temporary(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.part"))
}

/// Writes `contents` to a temporary file beside `path` (mode 0644, synced), then renames it
/// over `path`: a reader sees the old file or the new one, never half of one.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let temp = temporary(path);
    let result = (|| {
        let mut file = File::create(&temp)?;
        file.set_permissions(fs::Permissions::from_mode(0o644))?;
        file.write_all(contents)?;
        file.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(Error::io("write", &temp, e));
    }
    fs::rename(&temp, path).map_err(|e| Error::io("replace", path, e))
}

/// Copies `source` to `dest` (mode 0644, synced) through a temporary file linked into place,
/// so an existing `dest` is never replaced, even by a run racing this one.
pub fn copy_new(source: &Path, dest: &Path) -> Result<(), Error> {
    let temp = temporary(dest);
    let result = (|| {
        let mut input = File::open(source)?;
        let mut output = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&temp)?;
        output.set_permissions(fs::Permissions::from_mode(0o644))?;
        io::copy(&mut input, &mut output)?;
        output.sync_all()
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&temp);
        return Err(Error::io("copy into the repository", source, e));
    }
    let immutable = || {
        Error::from(RepoError::Immutable {
            existing: dest.into(),
            offered: source.into(),
        })
    };
    let linked = fs::hard_link(&temp, dest);
    let result = match linked {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Err(immutable()),
        // A file system without hard links: rename, which is atomic but would replace a file
        // that appeared since we looked, so look once more.
        Err(_) if fs::symlink_metadata(dest).is_ok() => Err(immutable()),
        Err(_) => fs::rename(&temp, dest).map_err(|e| Error::io("create", dest, e)),
    };
    let _ = fs::remove_file(&temp);
    result
}

/// Size and SHA-256 of the file at `path`, streamed.
pub fn sha256_file(path: &Path) -> Result<(u64, [u8; 32]), Error> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let size = crate::signing::stream_file(path, |piece| hasher.update(piece))
        .map_err(|e| Error::io("read", path, e))?;
    Ok((size, hasher.finalize().into()))
}

/// Whether two files hold the same bytes.
pub fn same_contents(a: &Path, b: &Path) -> Result<bool, Error> {
    let len = |p: &Path| {
        fs::metadata(p)
            .map(|m| m.len())
            .map_err(|e| Error::io("read", p, e))
    };
    if len(a)? != len(b)? {
        return Ok(false);
    }
    Ok(sha256_file(a)?.1 == sha256_file(b)?.1)
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
