//! One module per subcommand; each returns the run's [`Status`](crate::Status).

pub mod bundle;
pub mod key;
pub mod sign;
pub mod verify;

use std::path::{Path, PathBuf};

use crate::error::Error;

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
