//! `init`: Nanolin's PID 1, a static binary with no Rust standard library and no allocator.
//!
//! musl's start files call `main`; from there everything goes through rustix (and, for the
//! clone system call, exec and signalfd, musl). The binary only sets up, spawns, reaps and
//! supervises; every decision is made by the `nanolin_init` library.
//!
//! - `init [--services DIR] [--control SOCKET]`: supervise the services in DIR (as PID 1, after
//!   the early mounts);
//! - `init ctl COMMAND` (or the binary called as `initctl`): talk to a running init.
#![no_std]
#![no_main]

mod boot;
mod control;
mod run;
mod say;
mod spawn;
mod sys;

use core::ffi::{c_char, c_int};

use nanolin_init::{Invocation, USAGE, VERSION_LINE};

#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    let args = sys::Args::new(argc, argv);
    sys::set_args(args);
    let called_as_ctl = args
        .get(0)
        .is_some_and(|a| a.rsplit(|&b| b == b'/').next() == Some(b"initctl"));
    if called_as_ctl {
        return control::client(args, 1);
    }
    match args.get(1) {
        Some(b"ctl") => control::client(args, 2),
        Some(arg) if arg.starts_with(b"--") && !matches!(arg, b"--services" | b"--control") => {
            match Invocation::from_arg(arg) {
                Invocation::Version => {
                    sys::write_all(sys::stdout(), VERSION_LINE.as_bytes());
                    0
                }
                Invocation::Help => {
                    sys::write_all(sys::stdout(), USAGE.as_bytes());
                    0
                }
                Invocation::Unknown => {
                    sys::write_all(sys::stderr(), USAGE.as_bytes());
                    2
                }
            }
        }
        _ => run::main(args),
    }
}

/// ARM's unwinding tables in the precompiled compiler builtins name a personality routine;
/// nothing unwinds here (panic = "abort"), so it is never called.
#[cfg(target_arch = "arm")]
#[no_mangle]
extern "C" fn rust_eh_personality() {}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // Nothing in this binary is meant to panic (the lints forbid the usual causes). Should it
    // happen anyway: say so on the console and in the kernel log, then start init afresh with every service kept running; only if
    // that fails, stop. (The panic's own message is not printed: keeping every panic site's
    // text would cost kilobytes of a 64 KiB budget.)
    const MESSAGE: &[u8] = b"<2>init: internal error (panic); re-executing\n";
    sys::write_all(sys::stderr(), MESSAGE.get(3..).unwrap_or(MESSAGE));
    if let Ok(kmsg) = rustix::fs::open(
        "/dev/kmsg",
        rustix::fs::OFlags::WRONLY,
        rustix::fs::Mode::empty(),
    ) {
        sys::write_all(rustix::fd::AsFd::as_fd(&kmsg), MESSAGE);
    }
    run::reexec_after_panic();
    sys::exit_now(3)
}
