//! Checking a file against its signature on the board, in constant memory.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use nanolin_core::{FormatError, PublicKeyFile, SignatureFile, SignatureVerifier, VerifyError};

/// Size of the one buffer a file streams through.
pub const CHECK_BUFFER_LEN: usize = 64 * 1024;

/// Largest key or signature file read (a signature with the longest trusted comment).
pub const MAX_SIGNATURE_FILE_LEN: u64 = 16 * 1024;

/// Why a file did not check out.
#[derive(Debug)]
pub enum CheckError {
    /// A file could not be read.
    Io(PathBuf, io::Error),
    /// A key or signature file is larger than any valid one.
    TooLarge(PathBuf),
    /// A key or signature file is malformed.
    Format(PathBuf, FormatError),
    /// The signature does not hold.
    Verify(VerifyError),
}

impl CheckError {
    /// Exit status: 1 for a verdict, 3 for a system failure.
    pub fn status(&self) -> u8 {
        match self {
            CheckError::Io(..) => 3,
            _ => 1,
        }
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CheckError::Io(path, e) => write!(f, "unable to read {}: {e}", path.display()),
            CheckError::TooLarge(path) => write!(
                f,
                "{} is larger than {MAX_SIGNATURE_FILE_LEN} bytes: not a key or signature file",
                path.display()
            ),
            CheckError::Format(path, e) => write!(f, "{}: {e}", path.display()),
            CheckError::Verify(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CheckError {}

/// Reads a small text file into `buf`, refusing one that does not fit.
fn read_small<'b>(path: &Path, buf: &'b mut [u8]) -> Result<&'b [u8], CheckError> {
    let io_error = |e| CheckError::Io(path.to_path_buf(), e);
    let file = File::open(path).map_err(io_error)?;
    let mut len = 0;
    let mut limited = file.take(MAX_SIGNATURE_FILE_LEN + 1);
    loop {
        let rest = buf.get_mut(len..).unwrap_or(&mut []);
        if rest.is_empty() {
            return Err(CheckError::TooLarge(path.to_path_buf()));
        }
        match limited.read(rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(e)),
        }
    }
    Ok(buf.get(..len).unwrap_or(&[]))
}

/// Verifies `file` against `signature` made by `key`; returns the checked trusted comment.
pub fn check_file(key: &Path, file: &Path, signature: &Path) -> Result<Option<String>, CheckError> {
    let mut key_buf = [0u8; MAX_SIGNATURE_FILE_LEN as usize];
    let key_text = read_small(key, &mut key_buf)?;
    let public = PublicKeyFile::parse(key_text)
        .map_err(|e| CheckError::Format(key.to_path_buf(), e))?
        .key;
    let mut sig_buf = [0u8; MAX_SIGNATURE_FILE_LEN as usize + 1];
    let sig_text = read_small(signature, &mut sig_buf)?;
    let sig = SignatureFile::parse(sig_text)
        .map_err(|e| CheckError::Format(signature.to_path_buf(), e))?;
    if let Some(trusted) = &sig.trusted {
        nanolin_core::verifier::verify_trusted_comment(&public, &sig.signature, trusted)
            .map_err(CheckError::Verify)?;
    }
    let mut verifier =
        SignatureVerifier::new(&public, &sig.signature).map_err(CheckError::Verify)?;
    let mut data = File::open(file).map_err(|e| CheckError::Io(file.to_path_buf(), e))?;
    let mut buf = vec![0u8; CHECK_BUFFER_LEN];
    loop {
        match data.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => verifier.update(buf.get(..n).unwrap_or(&[])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(CheckError::Io(file.to_path_buf(), e)),
        }
    }
    verifier.finish().map_err(CheckError::Verify)?;
    Ok(sig.trusted.map(|t| t.comment.to_string()))
}
