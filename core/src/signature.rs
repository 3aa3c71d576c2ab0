//! signify signatures, optionally followed by minisign's trusted comment.
//!
//! ```text
//! untrusted comment: verify with release.pub
//! RWQ…                       "Ed" | key number (8) | Ed25519 signature of the file (64)
//! trusted comment: timestamp:1795377798<TAB>file:m
//! 0B2v…                      Ed25519 signature of (file signature | trusted comment) (64)
//! ```
//!
//! The first two lines are a complete signify signature, and signify ignores what follows
//! them; all four lines are a complete minisign signature in its legacy (`Ed`, not prehashed)
//! form. One file thus verifies with both tools. The trusted comment is signed, so it cannot be
//! changed without the key; the untrusted one can.

use crate::armor::{
    comment_line_len, read_armored, record_line_len, EmitError, FormatError, FormatErrorKind,
    LineReader, TextWriter,
};
use crate::key::{KeyNumber, ALGORITHM_ED25519};
use crate::limits::{
    COMMENT_MAX_LEN, SIGNATURE_LEN, SIGNATURE_RECORD_LEN, TRUSTED_COMMENT_HEADER,
    TRUSTED_COMMENT_MAX_LEN, UNTRUSTED_COMMENT_HEADER,
};

/// Algorithm tag of minisign's prehashed signatures (Ed25519 over BLAKE2b-512).
pub const ALGORITHM_ED25519_PREHASHED: [u8; 2] = *b"ED";

/// An Ed25519 signature with the number of the key that made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature {
    /// Number of the signing key.
    pub key_number: KeyNumber,
    /// The Ed25519 signature (R then S).
    pub signature: [u8; SIGNATURE_LEN],
}

impl Signature {
    /// Reads a decoded signature record.
    pub fn from_record(record: &[u8; SIGNATURE_RECORD_LEN]) -> Result<Self, FormatErrorKind> {
        let (algorithm, rest) = record.split_at(2);
        if algorithm == ALGORITHM_ED25519_PREHASHED {
            return Err(FormatErrorKind::PrehashedSignature);
        }
        if algorithm != ALGORITHM_ED25519 {
            let mut tag = [0u8; 2];
            tag.copy_from_slice(algorithm);
            return Err(FormatErrorKind::UnknownAlgorithm(tag));
        }
        let (key_number, signature) = rest.split_at(8);
        let mut out = Signature {
            key_number: KeyNumber([0; 8]),
            signature: [0; SIGNATURE_LEN],
        };
        out.key_number.0.copy_from_slice(key_number);
        out.signature.copy_from_slice(signature);
        Ok(out)
    }

    /// The decoded signature record.
    pub fn to_record(&self) -> [u8; SIGNATURE_RECORD_LEN] {
        let mut record = [0u8; SIGNATURE_RECORD_LEN];
        let (algorithm, rest) = record.split_at_mut(2);
        algorithm.copy_from_slice(&ALGORITHM_ED25519);
        let (key_number, signature) = rest.split_at_mut(8);
        key_number.copy_from_slice(&self.key_number.0);
        signature.copy_from_slice(&self.signature);
        record
    }
}

/// minisign's signed comment and the signature over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedComment<'a> {
    /// The comment text (minisign writes `timestamp:…\tfile:…`).
    pub comment: &'a str,
    /// Ed25519 signature of the file signature followed by the comment.
    pub global_signature: [u8; SIGNATURE_LEN],
}

/// A signature file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureFile<'a> {
    /// The untrusted comment (signify writes `verify with KEY.pub`).
    pub comment: &'a str,
    /// The signature of the file.
    pub signature: Signature,
    /// minisign's trusted comment, when present.
    pub trusted: Option<TrustedComment<'a>>,
}

impl<'a> SignatureFile<'a> {
    /// Parses a whole signature file: two lines (signify), or four (minisign legacy).
    pub fn parse(text: &'a [u8]) -> Result<Self, FormatError> {
        let mut lines = LineReader::new(text);
        let (comment, record, line) = read_armored::<SIGNATURE_RECORD_LEN>(&mut lines)?;
        let signature = Signature::from_record(&record).map_err(|kind| line.error(1, kind))?;
        let trusted = if lines.is_at_end() {
            None
        } else {
            let comment = lines
                .next_line()?
                .comment(TRUSTED_COMMENT_HEADER, TRUSTED_COMMENT_MAX_LEN)?;
            let global_signature = lines.next_line()?.record::<SIGNATURE_LEN>()?;
            Some(TrustedComment {
                comment,
                global_signature,
            })
        };
        lines.expect_end()?;
        Ok(SignatureFile {
            comment,
            signature,
            trusted,
        })
    }

    /// Bytes [`emit`](Self::emit) writes.
    pub fn buffer_len(&self) -> usize {
        let signify = comment_line_len(UNTRUSTED_COMMENT_HEADER, self.comment)
            + record_line_len(SIGNATURE_RECORD_LEN);
        let minisign = self.trusted.map_or(0, |t| {
            comment_line_len(TRUSTED_COMMENT_HEADER, t.comment) + record_line_len(SIGNATURE_LEN)
        });
        signify + minisign
    }

    /// Writes the file into `buf`, returning its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, EmitError> {
        let mut w = TextWriter::new(buf, self.buffer_len())?;
        w.push_comment(UNTRUSTED_COMMENT_HEADER, self.comment, COMMENT_MAX_LEN)?;
        w.push_record(&self.signature.to_record())?;
        if let Some(trusted) = &self.trusted {
            w.push_comment(
                TRUSTED_COMMENT_HEADER,
                trusted.comment,
                TRUSTED_COMMENT_MAX_LEN,
            )?;
            w.push_record(&trusted.global_signature)?;
        }
        Ok(w.finish())
    }
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
