//! Signing files of any size: RFC 8032 Ed25519, streamed twice, in constant memory.
//!
//! Pure Ed25519 hashes the message twice (once for the nonce, once for the challenge), so a
//! file is read in two passes through a fixed buffer instead of being held whole as signify
//! does. The result is deterministic and byte-identical to what signify writes for the same key
//! and file.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use ed25519_dalek::hazmat::{raw_sign_byupdate, ExpandedSecretKey};
use ed25519_dalek::{SignatureError, VerifyingKey};
use nanolin_core::limits::{SIGNATURE_LEN, TRUSTED_COMMENT_MAX_LEN};
use nanolin_core::{Signature, SignatureFile, TrustedComment};
use sha2::{Digest, Sha512};

use crate::error::Error;
use crate::keyfile::SigningKey;

/// Size of the buffer a file streams through.
pub const STREAM_BUFFER_LEN: usize = 1 << 20;

/// Feeds every byte of `path` to `sink`, returning the byte count.
pub fn stream_file(path: &Path, mut sink: impl FnMut(&[u8])) -> io::Result<u64> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; STREAM_BUFFER_LEN];
    let mut total = 0u64;
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let piece = buf.get(..n).unwrap_or(&[]);
        sink(piece);
        total += n as u64;
    }
}

fn dalek_keys(key: &SigningKey) -> Result<(ExpandedSecretKey, VerifyingKey), Error> {
    let expanded = ExpandedSecretKey::from(&key.seed());
    let verifying =
        VerifyingKey::from_bytes(&key.public_key().key).map_err(|_| Error::SecretKey {
            path: "the secret key".into(),
            error: nanolin_core::SecretKeyError::InconsistentKey,
        })?;
    Ok((expanded, verifying))
}

/// Signs the whole file at `path`.
pub fn sign_file(key: &SigningKey, path: &Path) -> Result<Signature, Error> {
    let (expanded, verifying) = dalek_keys(key)?;
    let failure: RefCell<Option<io::Error>> = RefCell::new(None);
    let lengths: RefCell<Vec<u64>> = RefCell::new(Vec::new());
    let signature = raw_sign_byupdate::<Sha512, _>(
        &expanded,
        |hasher: &mut Sha512| match stream_file(path, |piece| hasher.update(piece)) {
            Ok(len) => {
                lengths.borrow_mut().push(len);
                Ok(())
            }
            Err(e) => {
                *failure.borrow_mut() = Some(e);
                Err(SignatureError::new())
            }
        },
        &verifying,
    );
    if let Some(e) = failure.into_inner() {
        return Err(Error::io("read", path, e));
    }
    let lengths = lengths.into_inner();
    // The two passes must see the same file, or the signature would be garbage.
    if lengths.windows(2).any(|w| w[0] != w[1]) {
        return Err(Error::io(
            "sign",
            path,
            io::Error::other("the file changed while it was being signed; sign it again"),
        ));
    }
    let signature = signature.map_err(|e| Error::io("sign", path, io::Error::other(e)))?;
    Ok(Signature {
        key_number: key.key_number,
        signature: signature.to_bytes(),
    })
}

/// Signs a message held in memory (deterministic, RFC 8032).
pub fn sign_bytes(key: &SigningKey, message: &[u8]) -> [u8; SIGNATURE_LEN] {
    let secret = ed25519_compact::SecretKey::new(key.secret);
    *secret.sign(message, None)
}

/// minisign's default trusted comment: when it was signed and what.
pub fn default_trusted_comment(path: &Path, timestamp: u64) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    format!("timestamp:{timestamp}\tfile:{name}")
}

/// Seconds since the epoch: `SOURCE_DATE_EPOCH` when set (reproducible builds), else now.
pub fn signing_time() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
}

/// The text of a signature file readable by both signify and minisign.
pub fn signature_file_text(
    key: &SigningKey,
    signature: Signature,
    untrusted_comment: &str,
    trusted_comment: &str,
) -> Result<Vec<u8>, Error> {
    if trusted_comment.len() > TRUSTED_COMMENT_MAX_LEN {
        return Err(nanolin_core::armor::EmitError::CommentTooLong {
            max: TRUSTED_COMMENT_MAX_LEN,
        }
        .into());
    }
    let mut message = Vec::with_capacity(SIGNATURE_LEN + trusted_comment.len());
    message.extend_from_slice(&signature.signature);
    message.extend_from_slice(trusted_comment.as_bytes());
    let file = SignatureFile {
        comment: untrusted_comment,
        signature,
        trusted: Some(TrustedComment {
            comment: trusted_comment,
            global_signature: sign_bytes(key, &message),
        }),
    };
    let mut text = vec![0u8; file.buffer_len()];
    let len = file.emit(&mut text)?;
    text.truncate(len);
    Ok(text)
}

/// signify's untrusted comment for signatures: `verify with NAME.pub`, from the secret key's
/// file name.
pub fn verify_with_comment(secret_key_path: &Path) -> String {
    let name = secret_key_path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let stem = name.strip_suffix(".sec").unwrap_or(&name);
    format!("verify with {stem}.pub")
}
