//! Key files on disk: generating a pair, loading a public key, opening a secret key.
//!
//! Secret keys may be signify's (what `nanolin key generate` writes) or minisign's; public keys
//! of both tools share one format.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use nanolin_core::limits::{DEFAULT_KDF_ROUNDS, SALT_LEN, SECRET_KEY_LEN};
use nanolin_core::{KeyNumber, PublicKey, PublicKeyFile, SealedSecretKey, SecretKeyFile};

use crate::error::Error;
use crate::minisign::MinisignSecretKey;
use crate::passphrase::PassphraseSource;

/// An opened secret key, ready to sign.
pub struct SigningKey {
    /// Number of the key pair; signatures carry it.
    pub key_number: KeyNumber,
    /// Ed25519 secret key: 32-byte seed, then the 32-byte public key.
    pub secret: [u8; SECRET_KEY_LEN],
}

impl SigningKey {
    /// The 32-byte seed.
    pub fn seed(&self) -> [u8; 32] {
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&self.secret[..32]);
        seed
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        let mut key = [0u8; 32];
        key.copy_from_slice(&self.secret[32..]);
        PublicKey {
            key_number: self.key_number,
            key,
        }
    }
}

impl Drop for SigningKey {
    fn drop(&mut self) {
        self.secret.fill(0);
    }
}

/// Reads a whole file, naming it in the error.
pub fn read(path: &Path) -> Result<Vec<u8>, Error> {
    fs::read(path).map_err(|e| Error::io("read", path, e))
}

/// Loads a public key file (signify's or minisign's).
pub fn load_public_key(path: &Path) -> Result<PublicKey, Error> {
    let text = read(path)?;
    let file = PublicKeyFile::parse(&text).map_err(|error| Error::Format {
        path: path.into(),
        error,
    })?;
    Ok(file.key)
}

/// bcrypt_pbkdf output that seals a signify secret key.
fn signify_mask(passphrase: &str, salt: &[u8; SALT_LEN], rounds: u32) -> Result<[u8; 64], Error> {
    let mut mask = [0u8; 64];
    bcrypt_pbkdf::bcrypt_pbkdf(passphrase, salt, rounds, &mut mask).map_err(|e| {
        Error::Passphrase(format!("unable to derive the key from the passphrase: {e}"))
    })?;
    Ok(mask)
}

/// Opens a secret key file, asking `passphrase` only when the key is encrypted.
pub fn load_secret_key(path: &Path, passphrase: &PassphraseSource) -> Result<SigningKey, Error> {
    let text = read(path)?;
    let prompt = format!("passphrase for {}: ", path.display());
    if MinisignSecretKey::is_minisign(&text) {
        let key = MinisignSecretKey::parse(&text).map_err(|reason| Error::MinisignKey {
            path: path.into(),
            reason,
        })?;
        let pass = if key.is_encrypted() {
            passphrase.read(&prompt)?
        } else {
            String::new()
        };
        let (key_number, secret) = key.open(&pass).map_err(|error| Error::SecretKey {
            path: path.into(),
            error,
        })?;
        return Ok(SigningKey { key_number, secret });
    }
    let file = SecretKeyFile::parse(&text).map_err(|error| Error::Format {
        path: path.into(),
        error,
    })?;
    let sealed = &file.key;
    let mask = if sealed.is_encrypted() {
        signify_mask(&passphrase.read(&prompt)?, &sealed.salt, sealed.kdf_rounds)?
    } else {
        [0u8; 64]
    };
    let secret = sealed.open(&mask).map_err(|error| Error::SecretKey {
        path: path.into(),
        error,
    })?;
    Ok(SigningKey {
        key_number: sealed.key_number,
        secret,
    })
}

fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| {
        Error::io(
            "draw random bytes for",
            Path::new("the key"),
            std::io::Error::other(e),
        )
    })?;
    Ok(bytes)
}

/// Creates `path` with `contents`, refusing to overwrite; `mode` as in chmod.
fn create_new(path: &Path, contents: &[u8], mode: u32) -> Result<(), Error> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => Error::Exists(path.into()),
            _ => Error::io("create", path, e),
        })?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::io("write", path, e))
}

/// A new key pair: what to write and where.
pub struct NewKeyPair<'a> {
    /// Public key file to create.
    pub public_path: &'a Path,
    /// Secret key file to create.
    pub secret_path: &'a Path,
    /// Comment prefix (`COMMENT public key`, `COMMENT secret key`); signify's default is
    /// `signify`.
    pub comment: &'a str,
    /// Passphrase sealing the secret key; `None` stores it without (signify -n).
    pub passphrase: Option<&'a str>,
}

impl NewKeyPair<'_> {
    /// Generates the pair and writes both files; returns the key number.
    pub fn generate(&self) -> Result<KeyNumber, Error> {
        let seed = ed25519_compact::Seed::new(random()?);
        let pair = ed25519_compact::KeyPair::from_seed(seed);
        let key_number = KeyNumber(random()?);
        let salt: [u8; SALT_LEN] = random()?;
        let (rounds, mask) = match self.passphrase {
            Some(pass) => (
                DEFAULT_KDF_ROUNDS,
                signify_mask(pass, &salt, DEFAULT_KDF_ROUNDS)?,
            ),
            None => (0, [0u8; 64]),
        };
        let sealed = SealedSecretKey::seal(&pair.sk, key_number, rounds, salt, &mask);
        let secret_comment = format!("{} secret key", self.comment);
        let public_comment = format!("{} public key", self.comment);
        let secret_file = SecretKeyFile {
            comment: &secret_comment,
            key: sealed,
        };
        let public_text = public_key_text(
            PublicKey {
                key_number,
                key: *pair.pk,
            },
            &public_comment,
        )?;
        let mut secret_text = vec![0u8; secret_file.buffer_len()];
        secret_file.emit(&mut secret_text)?;
        if self.public_path.exists() {
            return Err(Error::Exists(self.public_path.into()));
        }
        create_new(self.secret_path, &secret_text, 0o600)?;
        create_new(self.public_path, &public_text, 0o644)?;
        Ok(key_number)
    }
}

/// The text of a public key file (signify's two lines) for `key`, with `comment` on its first
/// line (`untrusted comment: COMMENT`).
pub fn public_key_text(key: PublicKey, comment: &str) -> Result<Vec<u8>, Error> {
    let file = PublicKeyFile { comment, key };
    let mut text = vec![0u8; file.buffer_len()];
    let len = file.emit(&mut text)?;
    text.truncate(len);
    Ok(text)
}
