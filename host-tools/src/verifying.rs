//! Verifying files against signify or minisign signatures, streaming each file once.

use std::path::Path;

use nanolin_core::verifier::verify_trusted_comment;
use nanolin_core::{PublicKey, SignatureFile, SignatureVerifier, VerifyError};

use crate::error::Error;
use crate::keyfile::read;
use crate::signing::stream_file;

/// A file that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// minisign's trusted comment, checked, when the signature has one.
    pub trusted_comment: Option<String>,
}

/// Why a file did not verify.
#[derive(Debug)]
pub enum Rejection {
    /// The signature file is malformed, or the file or its signature could not be read.
    Unreadable(Error),
    /// The signature does not hold.
    Invalid(VerifyError),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Rejection::Unreadable(e) => e.fmt(f),
            Rejection::Invalid(e) => e.fmt(f),
        }
    }
}

/// Verifies `file` against the signature in `signature_path`.
pub fn verify_file(
    key: &PublicKey,
    file: &Path,
    signature_path: &Path,
) -> Result<Verified, Rejection> {
    let text = read(signature_path).map_err(Rejection::Unreadable)?;
    let sig = SignatureFile::parse(&text).map_err(|error| {
        Rejection::Unreadable(Error::Format {
            path: signature_path.into(),
            error,
        })
    })?;
    // The trusted comment is cheap to check: do it before streaming a large file.
    if let Some(trusted) = &sig.trusted {
        verify_trusted_comment(key, &sig.signature, trusted).map_err(Rejection::Invalid)?;
    }
    let mut verifier = SignatureVerifier::new(key, &sig.signature).map_err(Rejection::Invalid)?;
    stream_file(file, |piece| verifier.update(piece))
        .map_err(|e| Rejection::Unreadable(Error::io("read", file, e)))?;
    verifier.finish().map_err(Rejection::Invalid)?;
    Ok(Verified {
        trusted_comment: sig.trusted.map(|t| t.comment.to_string()),
    })
}
