//! The library behind the `nanolin` command: keys, signatures, and (in later releases) packages
//! and releases. Each module is one concept; [`Error`] is the one error type the binary sees.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod bundling;
pub mod cli;
pub mod cmd;
pub mod error;
pub mod fetch;
pub mod keyfile;
pub mod license;
pub mod minisign;
pub mod passphrase;
pub mod pkgimage;
pub mod recipe;
pub mod sandbox;
pub mod signing;
pub mod verifying;

pub use error::{Error, Status};
