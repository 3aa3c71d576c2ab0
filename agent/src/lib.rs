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
//! - [`check`]: verifying a signed file (`nanolin-agent verify`);
//! - [`health`]: whether the booted slot's required services came up (`nanolin-agent commit`);
//! - [`state_lock`]: one agent process at a time on the status record and boot state.
//!
//! Memory stays constant whatever the image size: fixed buffers, one chunk table block at a
//! time.
#![deny(missing_docs)]
// Unsafe code only where rustix has no wrapper: kexec's two system calls (kexec::sys).
#![deny(unsafe_code)]

/// `eprintln!` in one write: on a board, init copies what a service says to the console one
/// read at a time, and `eprintln!` writes a line in pieces, so its lines came out broken.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        let line = format!("{}\n", format_args!($($arg)*));
        // Nowhere to report a failure to report.
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    }};
}

pub mod bootstate;
pub mod channel;
pub mod check;
pub mod commands;
pub mod config;
pub mod error;
pub mod health;
pub mod http;
pub mod install;
pub mod kexec;
pub mod kv;
pub mod source;
pub mod state_lock;
pub mod status;
pub mod storage;
