//! Running the programs the host tools lean on (mkfs.fat, debugfs, mkimage, apt-get…): found
//! in `PATH` or, since system tools live there and a user's `PATH` often lacks them, in
//! `/usr/sbin` or `/sbin`; run to their end with their output kept. Each caller turns a
//! [`Failure`] into its own error, which names the Debian package to install.

use std::io;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output, Stdio};

/// A program and the Debian package that has it.
pub type Tool = (&'static str, &'static str);

/// The path of the program `name`: in `PATH`, `/usr/sbin` or `/sbin`.
pub fn find(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Why a run of a tool did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// The program is not installed.
    Missing,
    /// It could not be started.
    Spawn(io::Error),
    /// It ended unsuccessfully.
    Exited {
        /// How it ended.
        status: ExitStatus,
        /// What it said: its standard error, or its standard output when that was empty.
        said: String,
    },
}

/// Runs `cmd` to its end with no standard input; its output when it succeeds.
pub fn run(cmd: &mut Command) -> Result<Output, Failure> {
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Failure::Missing,
            _ => Failure::Spawn(e),
        })?;
    if output.status.success() {
        return Ok(output);
    }
    let mut said = String::from_utf8_lossy(&output.stderr).into_owned();
    if said.trim().is_empty() {
        said = String::from_utf8_lossy(&output.stdout).into_owned();
    }
    Err(Failure::Exited {
        status: output.status,
        said,
    })
}
