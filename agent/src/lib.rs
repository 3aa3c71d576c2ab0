//! The board's update agent.
//!
//! One module per concept:
//!
//! - [`config`]: `agent.conf`; [`status`]: what each slot holds, the floor, the last result;
//! - [`bootstate`]: the boot state backends (U-Boot, GRUB, native) behind one trait;
//! - [`storage`]: devices and small files, behind a trait so tests can cut the power;
//! - [`source`]: where bundle bytes come from (a file, or [`http`]);
//! - [`install`]: the install path, check → policy → slot → write → verify → flip;
//! - [`channel`]: the signed channel file a board polls;
//! - [`check`]: verifying a signed file (`nanolin-agent verify`).
//!
//! Memory stays constant whatever the image size: fixed buffers, one chunk table block at a
//! time.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod bootstate;
pub mod channel;
pub mod check;
pub mod commands;
pub mod config;
pub mod error;
pub mod http;
pub mod install;
pub mod kv;
pub mod source;
pub mod status;
pub mod storage;
