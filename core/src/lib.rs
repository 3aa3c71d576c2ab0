//! Formats that both sides of Nanolin must agree on, with no operating system and no allocator.
//!
//! The board verifies what the host signs, so the encodings live here once:
//!
//! - [`base64`]: the RFC 4648 alphabet signify and minisign use, into caller buffers;
//! - [`armor`]: the two-line `untrusted comment:` text envelope around every key and signature;
//! - [`key`]: signify public keys and (passphrase-encrypted) secret keys;
//! - [`keyvalue`]: the shell-compatible `name=value` syntax of every Nanolin text file;
//! - [`signature`]: signify signatures, with minisign's trusted comment as an optional tail;
//! - [`uboot_env`]: U-Boot's environment block (single and redundant), as `fw_printenv` reads it;
//! - [`bundle`]: update bundles: header, signed manifest, chunk tables in blocks;
//! - [`boot_state`]: the A/B slot order and tries left that every bootloader backend stores;
//! - [`grub_env`]: GRUB's environment block, as `grub-editenv` reads and writes it;
//! - [`boot_record`]: the native two-copy boot state record, where `init` picks the slot;
//! - [`crc32`]: the CRC-32 it is checked with;
//! - [`disk_ranges`]: the installer's map of a release's disk image on the hybrid ISO: which
//!   blocks to write, from which file of the medium, with which SHA-256;
//! - [`verifier`]: a streaming Ed25519 verifier, fed a file of any size in pieces, in constant
//!   memory;
//! - [`medium`]: the live medium (the hybrid ISO): its paths, its kernel command line words,
//!   its ISO 9660 volume id;
//! - [`version`]: release versions `rYY.MM-GDDHHMMSS`, the anti-rollback counter;
//! - [`limits`]: every size bound, as a named constant.
//!
//! # Trust contract
//!
//! Untrusted bytes enter only through the `parse` functions, which check every length, every
//! header and every base64 symbol and name the line and column of the first fault. Values they
//! return are well formed by construction; no accessor on them can panic. Nothing here allocates.
#![no_std]
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

pub mod armor;
pub mod base64;
pub mod boot_record;
pub mod boot_state;
pub mod bundle;
pub mod crc32;
pub mod disk_ranges;
pub mod grub_env;
pub mod key;
pub mod keyvalue;
pub mod limits;
pub mod medium;
pub mod signature;
pub mod uboot_env;
pub mod verifier;
pub mod version;

pub use armor::{FormatError, FormatErrorKind};
pub use key::{
    KeyNumber, PublicKey, PublicKeyFile, SealedSecretKey, SecretKeyError, SecretKeyFile,
};
pub use signature::{Signature, SignatureFile, TrustedComment};
pub use verifier::{SignatureVerifier, VerifyError};
