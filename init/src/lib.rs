//! The library side of Nanolin's PID 1: what the `init` binary decides, without system calls,
//! so it builds for any target and is tested on the host.
//!
//! This release holds the command line of `init`; the service model, dependency graph and
//! supervision state machine join it as they are built.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

/// What `init` was asked to do by its first argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invocation {
    /// `--version`: print the version.
    Version,
    /// `--help`: print the usage.
    Help,
    /// Anything else: an argument `init` does not know.
    Unknown,
}

impl Invocation {
    /// Reads the first argument.
    pub fn from_arg(arg: &[u8]) -> Self {
        match arg {
            b"--version" | b"-V" => Invocation::Version,
            b"--help" | b"-h" => Invocation::Help,
            _ => Invocation::Unknown,
        }
    }
}

/// The version line `init --version` prints.
pub const VERSION_LINE: &str = concat!("nanolin-init ", env!("CARGO_PKG_VERSION"), "\n");

/// The usage `init --help` prints.
pub const USAGE: &str = "usage: init [--version | --help]\n\
Exit codes: 0 success, 1 no, 2 usage error, 3 system failure.\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_first_argument() {
        assert_eq!(Invocation::from_arg(b"--version"), Invocation::Version);
        assert_eq!(Invocation::from_arg(b"-h"), Invocation::Help);
        assert_eq!(Invocation::from_arg(b"--bogus"), Invocation::Unknown);
    }
}
