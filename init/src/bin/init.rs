//! `init`: a static, allocation-free binary with no Rust standard library.
//!
//! musl's start files call `main`; everything after that goes through rustix.
#![no_std]
#![no_main]

use core::ffi::{c_char, c_int, CStr};

use nanolin_init::{Invocation, USAGE, VERSION_LINE};

/// Writes all of `text` to standard output or error, ignoring failure: there is nobody to tell.
fn write_all(to_stderr: bool, mut text: &[u8]) {
    // SAFETY: file descriptors 1 and 2 are open for the life of the process or the calls
    // fail harmlessly with EBADF.
    let fd = unsafe {
        if to_stderr {
            rustix::stdio::stderr()
        } else {
            rustix::stdio::stdout()
        }
    };
    while !text.is_empty() {
        match rustix::io::write(fd, text) {
            Ok(n) if n > 0 => text = text.get(n..).unwrap_or(&[]),
            _ => return,
        }
    }
}

#[no_mangle]
extern "C" fn main(argc: c_int, argv: *const *const c_char) -> c_int {
    if argc < 2 || argv.is_null() {
        write_all(true, USAGE.as_bytes());
        return 2;
    }
    // SAFETY: the C runtime passes argc valid, NUL-terminated strings in argv.
    let first = unsafe { CStr::from_ptr(*argv.add(1)) };
    match Invocation::from_arg(first.to_bytes()) {
        Invocation::Version => {
            write_all(false, VERSION_LINE.as_bytes());
            0
        }
        Invocation::Help => {
            write_all(false, USAGE.as_bytes());
            0
        }
        Invocation::Unknown => {
            write_all(true, USAGE.as_bytes());
            2
        }
    }
}

// musl's libc.a, self-contained in the Rust target, supplies the start files' needs.
#[link(name = "c")]
extern "C" {
    /// The C library's `_exit(2)`.
    fn _exit(status: c_int) -> !;
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // Nothing in this binary can panic; if it ever does, stop at once without unwinding.
    // SAFETY: `_exit` takes any status and never returns.
    unsafe { _exit(3) }
}
