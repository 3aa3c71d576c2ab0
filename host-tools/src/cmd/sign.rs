//! `nanolin sign`: one signature file per file, readable by signify and minisign.

use std::fs;
use std::path::Path;

use crate::cli::SignArgs;
use crate::cmd::{check_single_signature, open_secret_key, signature_path};
use crate::error::{Error, Status};
use crate::signing::{
    default_trusted_comment, sign_file, signature_file_text, signing_time, verify_with_comment,
};

/// Runs `nanolin sign`.
pub fn run(args: SignArgs) -> Result<Status, Error> {
    check_single_signature(args.signature.as_deref(), &args.files)?;
    let (key, secret_path) = open_secret_key(args.key)?;
    let untrusted = args
        .comment
        .unwrap_or_else(|| verify_with_comment(&secret_path));
    let time = signing_time();
    for file in &args.files {
        let signature = sign_file(&key, file)?;
        let trusted = args
            .trusted_comment
            .clone()
            .unwrap_or_else(|| default_trusted_comment(file, time));
        let text = signature_file_text(&key, signature, &untrusted, &trusted)?;
        let target = signature_path(args.signature.as_deref(), file);
        write_atomically(&target, &text)?;
    }
    Ok(Status::Success)
}

/// Writes `contents` to a temporary file beside `path`, then renames it over `path`, so a
/// reader never sees half a signature.
fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".tmp");
    let temp = Path::new(&temp);
    fs::write(temp, contents).map_err(|e| Error::io("write", temp, e))?;
    fs::rename(temp, path).map_err(|e| Error::io("replace", path, e))
}
