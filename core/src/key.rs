//! signify keys: the public key a board trusts and the secret key a build host signs with.
//!
//! Records (after base64 decoding), byte-compatible with OpenBSD signify:
//!
//! ```text
//! public key  "Ed" | key number (8) | Ed25519 public key (32)
//! secret key  "Ed" | "BK" | kdf rounds (u32 BE) | salt (16) | checksum (8) | key number (8)
//!             | Ed25519 secret key (64, seed then public key), XOR-ed with bcrypt_pbkdf output
//! ```
//!
//! minisign public keys have the same record, so a minisign public key file reads as one of
//! ours. The checksum is the head of SHA-512 of the plain secret key: it tells a wrong
//! passphrase from a right one. The key derivation itself (bcrypt_pbkdf) runs on the host only;
//! this module takes its output.

use core::fmt;

use sha2::{Digest, Sha512};

use crate::armor::{
    comment_line_len, read_armored, record_line_len, EmitError, FormatError, FormatErrorKind,
    LineReader, TextWriter,
};
use crate::limits::{
    CHECKSUM_LEN, COMMENT_MAX_LEN, KEY_NUMBER_LEN, MAX_KDF_ROUNDS, PUBLIC_KEY_LEN,
    PUBLIC_KEY_RECORD_LEN, SALT_LEN, SECRET_KEY_LEN, SECRET_KEY_RECORD_LEN,
    UNTRUSTED_COMMENT_HEADER,
};

/// Algorithm tag of every record: Ed25519.
pub const ALGORITHM_ED25519: [u8; 2] = *b"Ed";

/// Key derivation tag of signify secret keys: bcrypt_pbkdf.
pub const KDF_BCRYPT_PBKDF: [u8; 2] = *b"BK";

/// The random tag that ties a signature to the key that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyNumber(pub [u8; KEY_NUMBER_LEN]);

impl fmt::Display for KeyNumber {
    /// Upper-case hex of the little-endian number, as minisign prints key ids.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", u64::from_le_bytes(self.0))
    }
}

/// Splits a record into fixed-size fields, front to back.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        let (head, rest) = self.0.split_at(N.min(self.0.len()));
        // Callers take exactly the record's length, so `head` is always N bytes long.
        if let Some(dest) = out.get_mut(..head.len()) {
            dest.copy_from_slice(head);
        }
        self.0 = rest;
        out
    }
}

/// Joins fixed-size fields into a record.
struct Record<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Record<N> {
    fn new() -> Self {
        Record {
            bytes: [0; N],
            len: 0,
        }
    }

    fn put(mut self, field: &[u8]) -> Self {
        let end = self.len + field.len();
        if let Some(dest) = self.bytes.get_mut(self.len..end) {
            dest.copy_from_slice(field);
        }
        self.len = end;
        self
    }
}

/// An Ed25519 public key with its key number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKey {
    /// Tag that signatures made by the matching secret key carry.
    pub key_number: KeyNumber,
    /// The Ed25519 public key.
    pub key: [u8; PUBLIC_KEY_LEN],
}

impl PublicKey {
    /// Reads a decoded public key record.
    pub fn from_record(record: &[u8; PUBLIC_KEY_RECORD_LEN]) -> Result<Self, FormatErrorKind> {
        let mut fields = Fields(record);
        let algorithm = fields.take::<2>();
        if algorithm != ALGORITHM_ED25519 {
            return Err(FormatErrorKind::UnknownAlgorithm(algorithm));
        }
        Ok(PublicKey {
            key_number: KeyNumber(fields.take()),
            key: fields.take(),
        })
    }

    /// The decoded public key record.
    pub fn to_record(&self) -> [u8; PUBLIC_KEY_RECORD_LEN] {
        Record::new()
            .put(&ALGORITHM_ED25519)
            .put(&self.key_number.0)
            .put(&self.key)
            .bytes
    }
}

/// A public key file: comment line and record line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicKeyFile<'a> {
    /// The untrusted comment (for a signify key, `signify public key`).
    pub comment: &'a str,
    /// The key.
    pub key: PublicKey,
}

impl<'a> PublicKeyFile<'a> {
    /// Parses a whole public key file.
    pub fn parse(text: &'a [u8]) -> Result<Self, FormatError> {
        let mut lines = LineReader::new(text);
        let (comment, record, line) = read_armored::<PUBLIC_KEY_RECORD_LEN>(&mut lines)?;
        let key = PublicKey::from_record(&record).map_err(|kind| line.error(1, kind))?;
        lines.expect_end()?;
        Ok(PublicKeyFile { comment, key })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        comment_line_len(UNTRUSTED_COMMENT_HEADER, self.comment)
            + record_line_len(PUBLIC_KEY_RECORD_LEN)
    }

    /// Writes the file into `buf`, returning its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let mut w = TextWriter::new(buf, self.buffer_len())?;
        w.push_comment(UNTRUSTED_COMMENT_HEADER, self.comment, COMMENT_MAX_LEN)?;
        w.push_record(&self.key.to_record())?;
        Ok(w.finish())
    }
}

/// Why a secret key could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKeyError {
    /// The checksum does not match: the passphrase is wrong.
    WrongPassphrase,
    /// The checksum does not match a key stored without passphrase: the file is damaged.
    ChecksumMismatch,
    /// The key's seed does not give the public key stored beside it: the file is damaged.
    InconsistentKey,
}

impl fmt::Display for SecretKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SecretKeyError::WrongPassphrase => "incorrect passphrase for this secret key",
            SecretKeyError::ChecksumMismatch => {
                "the secret key's checksum does not match: the key file is damaged"
            }
            SecretKeyError::InconsistentKey => {
                "the secret key does not match its own public half: the key file is damaged"
            }
        })
    }
}

impl core::error::Error for SecretKeyError {}

/// A signify secret key as stored: possibly sealed with a passphrase.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecretKey {
    /// bcrypt_pbkdf rounds; 0 means the key is stored without passphrase.
    pub kdf_rounds: u32,
    /// bcrypt_pbkdf salt.
    pub salt: [u8; SALT_LEN],
    /// First bytes of SHA-512 of the plain secret key.
    pub checksum: [u8; CHECKSUM_LEN],
    /// Tag of the key pair.
    pub key_number: KeyNumber,
    /// The secret key XOR-ed with the derived key (plain when `kdf_rounds` is 0).
    pub sealed_key: [u8; SECRET_KEY_LEN],
}

impl fmt::Debug for SealedSecretKey {
    // Never print key material, sealed or not.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecretKey")
            .field("kdf_rounds", &self.kdf_rounds)
            .field("key_number", &self.key_number)
            .finish_non_exhaustive()
    }
}

fn checksum_of(secret: &[u8; SECRET_KEY_LEN]) -> [u8; CHECKSUM_LEN] {
    let digest = Sha512::digest(secret);
    Fields(&digest).take()
}

fn xor_into(key: &mut [u8; SECRET_KEY_LEN], mask: &[u8; SECRET_KEY_LEN]) {
    for (k, m) in key.iter_mut().zip(mask) {
        *k ^= m;
    }
}

impl SealedSecretKey {
    /// Seals `secret` (seed then public key) with `mask`, the bcrypt_pbkdf output for the
    /// passphrase and `salt` (all zero when `kdf_rounds` is 0).
    pub fn seal(
        secret: &[u8; SECRET_KEY_LEN],
        key_number: KeyNumber,
        kdf_rounds: u32,
        salt: [u8; SALT_LEN],
        mask: &[u8; SECRET_KEY_LEN],
    ) -> Self {
        let mut sealed_key = *secret;
        if kdf_rounds > 0 {
            xor_into(&mut sealed_key, mask);
        }
        SealedSecretKey {
            kdf_rounds,
            salt,
            checksum: checksum_of(secret),
            key_number,
            sealed_key,
        }
    }

    /// True when a passphrase is needed to open the key.
    pub fn is_encrypted(&self) -> bool {
        self.kdf_rounds > 0
    }

    /// Opens the key with `mask` (ignored when the key has no passphrase), checking the
    /// checksum and that the seed gives the stored public key.
    pub fn open(
        &self,
        mask: &[u8; SECRET_KEY_LEN],
    ) -> Result<[u8; SECRET_KEY_LEN], SecretKeyError> {
        let mut secret = self.sealed_key;
        if self.is_encrypted() {
            xor_into(&mut secret, mask);
        }
        if checksum_of(&secret) != self.checksum {
            return Err(if self.is_encrypted() {
                SecretKeyError::WrongPassphrase
            } else {
                SecretKeyError::ChecksumMismatch
            });
        }
        let key = ed25519_compact::SecretKey::new(secret);
        let mut halves = Fields(&secret);
        let _seed = halves.take::<32>();
        let public = ed25519_compact::PublicKey::new(halves.take());
        key.validate_public_key(&public)
            .map_err(|_| SecretKeyError::InconsistentKey)?;
        Ok(secret)
    }

    /// Reads a decoded secret key record.
    pub fn from_record(record: &[u8; SECRET_KEY_RECORD_LEN]) -> Result<Self, FormatErrorKind> {
        let mut fields = Fields(record);
        let algorithm = fields.take::<2>();
        if algorithm != ALGORITHM_ED25519 {
            return Err(FormatErrorKind::UnknownAlgorithm(algorithm));
        }
        let kdf = fields.take::<2>();
        if kdf != KDF_BCRYPT_PBKDF {
            return Err(FormatErrorKind::UnknownKdf(kdf));
        }
        let kdf_rounds = u32::from_be_bytes(fields.take());
        if kdf_rounds > MAX_KDF_ROUNDS {
            return Err(FormatErrorKind::TooManyKdfRounds {
                rounds: kdf_rounds,
                max: MAX_KDF_ROUNDS,
            });
        }
        Ok(SealedSecretKey {
            kdf_rounds,
            salt: fields.take(),
            checksum: fields.take(),
            key_number: KeyNumber(fields.take()),
            sealed_key: fields.take(),
        })
    }

    /// The decoded secret key record.
    pub fn to_record(&self) -> [u8; SECRET_KEY_RECORD_LEN] {
        Record::new()
            .put(&ALGORITHM_ED25519)
            .put(&KDF_BCRYPT_PBKDF)
            .put(&self.kdf_rounds.to_be_bytes())
            .put(&self.salt)
            .put(&self.checksum)
            .put(&self.key_number.0)
            .put(&self.sealed_key)
            .bytes
    }
}

/// A secret key file: comment line and record line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretKeyFile<'a> {
    /// The untrusted comment (for a signify key, `signify secret key`).
    pub comment: &'a str,
    /// The sealed key.
    pub key: SealedSecretKey,
}

impl<'a> SecretKeyFile<'a> {
    /// Parses a whole secret key file.
    pub fn parse(text: &'a [u8]) -> Result<Self, FormatError> {
        let mut lines = LineReader::new(text);
        let (comment, record, line) = read_armored::<SECRET_KEY_RECORD_LEN>(&mut lines)?;
        let key = SealedSecretKey::from_record(&record).map_err(|kind| line.error(1, kind))?;
        lines.expect_end()?;
        Ok(SecretKeyFile { comment, key })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        comment_line_len(UNTRUSTED_COMMENT_HEADER, self.comment)
            + record_line_len(SECRET_KEY_RECORD_LEN)
    }

    /// Writes the file into `buf`, returning its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let mut w = TextWriter::new(buf, self.buffer_len())?;
        w.push_comment(UNTRUSTED_COMMENT_HEADER, self.comment, COMMENT_MAX_LEN)?;
        w.push_record(&self.key.to_record())?;
        Ok(w.finish())
    }
}

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
