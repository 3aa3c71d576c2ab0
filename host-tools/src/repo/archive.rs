//! `packages.tgz` and `manifest.tgz`: reproducible gzip-compressed tar archives.
//!
//! The tar stream is written here (POSIX ustar, which every tar reads): members in the order
//! given (sorted by the caller), each a plain file of mode 0644 owned by 0:0 with no user or
//! group name, every time stamp `SOURCE_DATE_EPOCH` (0 when unset), no directory entries, the
//! archive padded to 10240-byte records as tar pads it. `gzip -n` compresses it: no name and
//! no time in the gzip header. The same files give the same bytes with the same gzip (the
//! deflate output of gzip has not changed in decades, but it is gzip's, not ours).

use std::fs::{self, File};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::RepoError;
use crate::error::Error;

/// Bytes of a tar block.
pub const BLOCK_LEN: usize = 512;
/// Bytes of a tar record: archives are padded to a multiple.
pub const RECORD_LEN: usize = 20 * BLOCK_LEN;

/// The time stamp of archive members: `SOURCE_DATE_EPOCH`, or 0.
pub fn archive_mtime() -> u64 {
    std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
}

/// Writes `value` as zero-padded octal filling `field` but its last byte, which is NUL.
fn octal(field: &mut [u8], value: u64) -> Result<(), String> {
    let digits = field.len() - 1;
    let text = format!("{value:0digits$o}");
    if text.len() > digits {
        return Err(format!("{value} does not fit a tar header field"));
    }
    field[..digits].copy_from_slice(text.as_bytes());
    field[digits] = 0;
    Ok(())
}

/// Splits `path` into ustar's prefix (up to 155 bytes) and name (up to 100).
fn split_path(path: &str) -> Result<(&str, &str), String> {
    if path.len() <= 100 {
        return Ok(("", path));
    }
    path.char_indices()
        .filter(|(_, c)| *c == '/')
        .map(|(at, _)| (&path[..at], &path[at + 1..]))
        .find(|(prefix, name)| prefix.len() <= 155 && name.len() <= 100 && !name.is_empty())
        .ok_or_else(|| format!("{path}: too long for a tar header (ustar)"))
}

/// The ustar header of a plain file.
pub fn header(path: &str, size: u64, mtime: u64) -> Result<[u8; BLOCK_LEN], String> {
    let (prefix, name) = split_path(path)?;
    let mut h = [0u8; BLOCK_LEN];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], 0o644)?;
    octal(&mut h[108..116], 0)?;
    octal(&mut h[116..124], 0)?;
    octal(&mut h[124..136], size)?;
    octal(&mut h[136..148], mtime)?;
    h[148..156].fill(b' ');
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], 0)?;
    octal(&mut h[337..345], 0)?;
    h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    // Six octal digits, NUL, space: what tar writes.
    octal(&mut h[148..155], u64::from(sum))?;
    h[155] = b' ';
    Ok(h)
}

/// The tar stream of `members` (name, bytes), in the order given.
pub fn tar(members: &[(String, Vec<u8>)], mtime: u64) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for (name, bytes) in members {
        out.extend_from_slice(&header(name, bytes.len() as u64, mtime)?);
        out.extend_from_slice(bytes);
        let pad = (BLOCK_LEN - bytes.len() % BLOCK_LEN) % BLOCK_LEN;
        out.resize(out.len() + pad, 0);
    }
    // The end: two zero blocks, then zeros to the end of the record.
    out.resize(out.len() + 2 * BLOCK_LEN, 0);
    let pad = (RECORD_LEN - out.len() % RECORD_LEN) % RECORD_LEN;
    out.resize(out.len() + pad, 0);
    Ok(out)
}

/// Writes `members` as a `.tgz` at `out`, through a temporary file renamed into place.
pub fn write_tgz(out: &Path, members: &[(String, Vec<u8>)], mtime: u64) -> Result<(), Error> {
    let stream = tar(members, mtime).map_err(|reason| RepoError::Unplaceable {
        path: out.into(),
        reason,
    })?;
    let temp = super::temporary(out);
    let result = gzip(&stream, &temp);
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    fs::rename(&temp, out).map_err(|e| Error::io("replace", out, e))
}

/// `gzip -n -9` of `bytes` into the file `out`.
fn gzip(bytes: &[u8], out: &Path) -> Result<(), Error> {
    let file = File::create(out).map_err(|e| Error::io("create", out, e))?;
    let output = file.try_clone().map_err(|e| Error::io("create", out, e))?;
    let mut child = Command::new("gzip")
        .args(["-n", "-9", "-c"])
        .stdin(Stdio::piped())
        .stdout(output)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RepoError::Tool {
            program: "gzip",
            reason: match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "not installed: the repository's .tgz files need it (apt-get install gzip)"
                        .into()
                }
                _ => format!("unable to run it: {e}"),
            },
        })?;
    // gzip writes to the file, never to a pipe we read: feeding it all first cannot block.
    let fed = child
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(bytes))
        .unwrap_or(Ok(()));
    let finished = child.wait_with_output().map_err(|e| RepoError::Tool {
        program: "gzip",
        reason: format!("unable to wait for it: {e}"),
    })?;
    if !finished.status.success() || fed.is_err() {
        return Err(RepoError::Tool {
            program: "gzip",
            reason: format!(
                "failed ({}): {}",
                finished.status,
                String::from_utf8_lossy(&finished.stderr).trim()
            ),
        }
        .into());
    }
    file.sync_all().map_err(|e| Error::io("write", out, e))?;
    fs::set_permissions(out, fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io("write", out, e))
}

#[cfg(test)]
#[path = "archive_tests.rs"]
mod tests;
