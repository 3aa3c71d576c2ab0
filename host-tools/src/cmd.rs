//! One module per subcommand; each returns the run's [`Status`](crate::Status).

pub mod bundle;
pub mod distro;
pub mod key;
pub mod package;
pub mod release;
pub mod release_run;
pub mod repo;
pub mod sign;
pub mod verify;

use std::path::{Path, PathBuf};

use crate::cli::SecretKeyArgs;
use crate::error::Error;
use crate::keyfile::{load_secret_key, SigningKey};
use crate::passphrase::PassphraseSource;

/// The signature path for `file`: the one given with `-x`, else `FILE.sig`.
fn signature_path(explicit: Option<&Path>, file: &Path) -> PathBuf {
    explicit.map_or_else(
        || {
            let mut name = file.as_os_str().to_owned();
            name.push(".sig");
            PathBuf::from(name)
        },
        Path::to_path_buf,
    )
}

/// Refuses `-x` with more than one file: every file needs its own signature.
fn check_single_signature(explicit: Option<&Path>, files: &[PathBuf]) -> Result<(), Error> {
    if explicit.is_some() && files.len() > 1 {
        return Err(Error::Usage(
            "-x names one signature file, but several files were given: drop -x to use FILE.sig for each".into(),
        ));
    }
    Ok(())
}

/// Shows the start of a step of a long command.
pub(crate) fn step(text: &str) {
    eprintln!("==> {text}");
}

/// Opens the secret key `args` name; returns it with its path.
pub fn open_secret_key(args: SecretKeyArgs) -> Result<(SigningKey, PathBuf), Error> {
    let path = args.secret_key.ok_or_else(|| {
        Error::Usage("no secret key given: pass -s KEY.sec or set NANOLIN_KEY".into())
    })?;
    let key = load_secret_key(&path, &PassphraseSource::from_option(args.passphrase_file))?;
    Ok((key, path))
}
