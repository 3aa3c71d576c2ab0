//! `nanolin key generate`.

use crate::cli::{GenerateArgs, KeyCommand};
use crate::error::{Error, Status};
use crate::keyfile::NewKeyPair;
use crate::passphrase::PassphraseSource;

/// Runs `nanolin key …`.
pub fn run(command: KeyCommand) -> Result<Status, Error> {
    match command {
        KeyCommand::Generate(args) => generate(args),
    }
}

fn generate(args: GenerateArgs) -> Result<Status, Error> {
    let passphrase = if args.no_passphrase {
        None
    } else {
        Some(PassphraseSource::from_option(args.passphrase_file).read_new()?)
    };
    let key_number = NewKeyPair {
        public_path: &args.public_key,
        secret_path: &args.secret_key,
        comment: &args.comment,
        passphrase: passphrase.as_deref(),
    }
    .generate()?;
    eprintln!(
        "key {key_number}: public key {}, secret key {}{}",
        args.public_key.display(),
        args.secret_key.display(),
        if passphrase.is_some() {
            " (passphrase-protected)"
        } else {
            " (no passphrase)"
        }
    );
    Ok(Status::Success)
}
