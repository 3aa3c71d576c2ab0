//! The library side of Nanolin's PID 1: everything `init` decides, without system calls, so it
//! builds for any target and is tested on the host.
//!
//! - [`service`]: a service as its file defines it;
//! - [`table`]: every service, its definition and its resolved dependencies;
//! - [`supervisor`]: the life of every service as an explicit state machine;
//! - [`cmdline`]: init's options on the kernel command line, and the modules list;
//! - [`command`]: a command line split into arguments, as a shell would without expanding;
//! - [`log`]: the last lines every service printed, in one shared ring;
//! - [`passwd`]: users looked up in /etc/passwd without the C library;
//! - [`stage1`]: the initramfs early stage: boot.conf, the slot it boots, the new root's layout;
//! - [`strings`]: the fixed block holding every service's strings;
//! - [`limits`]: every capacity and time constant.
//!
//! Nothing here allocates: capacities are constants, and a full table refuses more with a
//! typed error.
#![no_std]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

#[cfg(test)]
extern crate std;

pub mod cmdline;
pub mod command;
pub mod limits;
pub mod log;
pub mod passwd;
pub mod service;
pub mod stage1;
pub mod strings;
pub mod supervisor;
pub mod table;

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
pub const USAGE: &str =
    "usage: init [--services DIR] [--control SOCKET]   supervise the services in DIR\n\
       init ctl [--control SOCKET] status | start NAME | stop NAME | restart NAME | log NAME\n\
                | reload | reexec | poweroff | reboot | halt | kexec\n\
       init --version | --help\n\
Defaults: --services /etc/nanolin/services, --control /run/nanolin/init.sock. As PID 1, init\n\
first mounts /proc, /sys, /dev, /dev/pts, /run and cgroup2, unless the environment has\n\
container=... set.\n\
Exit codes: 0 success, 1 no, 2 usage error, 3 system failure.\n";

#[cfg(test)]
#[path = "lib_tests.rs"]
mod tests;
