//! The library behind the `nanolin` command: keys, signatures, and (in later releases) packages
//! and releases. Each module is one concept; [`Error`] is the one error type the binary sees.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod board;
pub mod bootfs;
pub mod bundling;
pub mod cargo_lock;
pub mod cli;
pub mod cmd;
pub mod disk;
pub mod distro;
pub mod error;
pub mod fetch;
pub mod initramfs;
pub mod iso;
pub mod kernel;
pub mod keyfile;
pub mod license;
pub mod minisign;
pub mod passphrase;
pub mod pkgimage;
pub mod recipe;
pub mod repo;
pub mod sandbox;
pub mod signing;
pub mod status_line;
pub mod tool;
pub mod verifying;

pub use error::{Error, Status};
