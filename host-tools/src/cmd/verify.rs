//! `nanolin verify`: every file against its signature, with one line per file.

use crate::cli::VerifyArgs;
use crate::cmd::{check_single_signature, signature_path};
use crate::error::{Error, Status};
use crate::keyfile::load_public_key;
use crate::verifying::{verify_file, Rejection};

/// Runs `nanolin verify`: success only when every file verifies.
pub fn run(args: VerifyArgs) -> Result<Status, Error> {
    check_single_signature(args.signature.as_deref(), &args.files)?;
    let key_path = args.public_key.ok_or_else(|| {
        Error::Usage("no public key given: pass -p KEY.pub or set NANOLIN_PUBLIC_KEY".into())
    })?;
    let key = load_public_key(&key_path)?;
    let mut failed = 0;
    let mut unreadable = 0;
    for file in &args.files {
        let sig_path = signature_path(args.signature.as_deref(), file);
        match verify_file(&key, file, &sig_path) {
            Ok(verified) => {
                if !args.quiet {
                    match verified.trusted_comment {
                        Some(comment) => {
                            println!("{}: OK (trusted comment: {comment})", file.display())
                        }
                        None => println!("{}: OK", file.display()),
                    }
                }
            }
            Err(rejection) => {
                eprintln!("{}: FAILED: {rejection}", file.display());
                failed += 1;
                if let Rejection::Unreadable(Error::Io { .. }) = rejection {
                    unreadable += 1;
                }
            }
        }
    }
    match (failed, unreadable) {
        (0, _) => Ok(Status::Success),
        // Files we could not even read are the system's failure, not a verdict.
        (_, n) if n == failed => Ok(Status::System),
        _ => Err(Error::VerificationFailed {
            failed,
            total: args.files.len(),
        }),
    }
}
