//! Streaming Ed25519 verification: a file of any size, fed in pieces, in constant memory.
//!
//! Ed25519 hashes `R | A | message` once, so the message can pass through a fixed buffer and
//! never be held whole. The verdict is the same as verifying the whole message at once: the
//! pieces may have any sizes, including zero.
//!
//! ```
//! # use nanolin_core::{PublicKeyFile, SignatureFile, SignatureVerifier};
//! # fn check(key: &[u8], sig: &[u8], pieces: &[&[u8]]) -> Result<(), nanolin_core::VerifyError> {
//! let key = PublicKeyFile::parse(key).map_err(|_| nanolin_core::VerifyError::MalformedSignature)?.key;
//! let sig = SignatureFile::parse(sig).map_err(|_| nanolin_core::VerifyError::MalformedSignature)?;
//! let mut verifier = SignatureVerifier::new(&key, &sig.signature)?;
//! for piece in pieces {
//!     verifier.update(piece);
//! }
//! verifier.finish()
//! # }
//! ```

use core::fmt;

use crate::key::{KeyNumber, PublicKey};
use crate::limits::{SIGNATURE_LEN, TRUSTED_COMMENT_MAX_LEN};
use crate::signature::{Signature, TrustedComment};

/// Why a signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyError {
    /// The signature was made by another key than the one given.
    WrongKey {
        /// Number of the key given.
        key: KeyNumber,
        /// Number of the key that made the signature.
        signature: KeyNumber,
    },
    /// The public key is not a valid Ed25519 point.
    InvalidPublicKey,
    /// The signature is not a canonical Ed25519 signature.
    MalformedSignature,
    /// The signature does not match the data: the data or the signature was altered.
    Mismatch,
    /// The trusted comment does not match its signature: it was altered.
    TrustedCommentForged,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::WrongKey { key, signature } => write!(
                f,
                "checked against the wrong key: the signature is from key {signature}, the public key given is {key}"
            ),
            VerifyError::InvalidPublicKey => {
                f.write_str("the public key is not a valid Ed25519 key: the key file is damaged")
            }
            VerifyError::MalformedSignature => {
                f.write_str("the signature is not a valid Ed25519 signature: the signature file is damaged")
            }
            VerifyError::Mismatch => {
                f.write_str("signature verification failed: the file or its signature was altered")
            }
            VerifyError::TrustedCommentForged => {
                f.write_str("the trusted comment does not match its signature: it was altered")
            }
        }
    }
}

impl core::error::Error for VerifyError {}

fn map_ed25519_error(e: ed25519_compact::Error) -> VerifyError {
    match e {
        ed25519_compact::Error::InvalidPublicKey | ed25519_compact::Error::WeakPublicKey => {
            VerifyError::InvalidPublicKey
        }
        ed25519_compact::Error::SignatureMismatch => VerifyError::Mismatch,
        _ => VerifyError::MalformedSignature,
    }
}

/// Checks a signature over data fed in pieces, in constant memory.
#[derive(Clone)]
pub struct SignatureVerifier {
    state: ed25519_compact::VerifyingState,
}

impl SignatureVerifier {
    /// Starts verifying `signature` against `key`, refusing a signature of another key.
    pub fn new(key: &PublicKey, signature: &Signature) -> Result<Self, VerifyError> {
        if key.key_number != signature.key_number {
            return Err(VerifyError::WrongKey {
                key: key.key_number,
                signature: signature.key_number,
            });
        }
        let public = ed25519_compact::PublicKey::new(key.key);
        let state = public
            .verify_incremental(&ed25519_compact::Signature::new(signature.signature))
            .map_err(map_ed25519_error)?;
        Ok(SignatureVerifier { state })
    }

    /// Feeds the next piece of the data.
    pub fn update(&mut self, piece: &[u8]) {
        self.state.absorb(piece);
    }

    /// The verdict over all the pieces fed.
    pub fn finish(self) -> Result<(), VerifyError> {
        self.state.verify().map_err(map_ed25519_error)
    }
}

/// Checks minisign's trusted comment: a signature by `key` over the file signature followed
/// by the comment.
pub fn verify_trusted_comment(
    key: &PublicKey,
    signature: &Signature,
    trusted: &TrustedComment<'_>,
) -> Result<(), VerifyError> {
    let global = Signature {
        key_number: signature.key_number,
        signature: trusted.global_signature,
    };
    let mut verifier = SignatureVerifier::new(key, &global)?;
    verifier.update(&signature.signature);
    verifier.update(trusted.comment.as_bytes());
    verifier.finish().map_err(|e| match e {
        VerifyError::Mismatch | VerifyError::MalformedSignature => {
            VerifyError::TrustedCommentForged
        }
        other => other,
    })
}

/// The message minisign signs for a trusted comment: the file signature, then the comment.
///
/// Returns the bytes written to `buf`, or `None` when the comment does not fit.
pub fn trusted_comment_message<'b>(
    signature: &Signature,
    comment: &str,
    buf: &'b mut [u8; SIGNATURE_LEN + TRUSTED_COMMENT_MAX_LEN],
) -> Option<&'b [u8]> {
    let len = SIGNATURE_LEN + comment.len();
    let out = buf.get_mut(..len)?;
    let (head, tail) = out.split_at_mut(SIGNATURE_LEN);
    head.copy_from_slice(&signature.signature);
    tail.copy_from_slice(comment.as_bytes());
    Some(out)
}

#[cfg(test)]
#[path = "verifier_tests.rs"]
mod tests;
