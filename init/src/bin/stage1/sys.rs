//! Thin wrappers over the system calls stage1 makes that rustix leaves to the C library, and
//! the small helpers every step shares. Every `unsafe` block of the binary is here, each with
//! its reason.

use core::ffi::{c_char, CStr};

use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

// musl's libc.a, self-contained in the Rust target: the start files, execve.
#[link(name = "c")]
extern "C" {}

extern "C" {
    static environ: *const *const c_char;
}

/// Standard error: the console, once [`attach_console`] made sure there is one.
pub fn stderr() -> BorrowedFd<'static> {
    // SAFETY: fd 2 stays open for stage1's whole life (the console); writes to a closed fd
    // fail harmlessly with EBADF.
    unsafe { BorrowedFd::borrow_raw(2) }
}

/// Writes all of `bytes` to `fd` (write(2) until done), giving up silently on error: a
/// message that cannot be shown must not stop the boot.
pub fn write_all(fd: BorrowedFd<'_>, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        match rustix::io::write(fd, bytes) {
            Ok(n) if n > 0 => bytes = bytes.get(n..).unwrap_or(&[]),
            Err(Errno::INTR) => {}
            _ => return,
        }
    }
}

/// The symbolic name of an error number, as a sysadmin looks it up.
pub fn errno_name(e: Errno) -> &'static str {
    match e {
        Errno::PERM => "EPERM",
        Errno::NOENT => "ENOENT",
        Errno::INTR => "EINTR",
        Errno::IO => "EIO",
        Errno::NXIO => "ENXIO",
        Errno::TOOBIG => "E2BIG",
        Errno::NOEXEC => "ENOEXEC",
        Errno::BADF => "EBADF",
        Errno::AGAIN => "EAGAIN",
        Errno::NOMEM => "ENOMEM",
        Errno::ACCESS => "EACCES",
        Errno::NOTBLK => "ENOTBLK",
        Errno::BUSY => "EBUSY",
        Errno::EXIST => "EEXIST",
        Errno::NODEV => "ENODEV",
        Errno::NOTDIR => "ENOTDIR",
        Errno::ISDIR => "EISDIR",
        Errno::INVAL => "EINVAL",
        Errno::FBIG => "EFBIG",
        Errno::NOSPC => "ENOSPC",
        Errno::ROFS => "EROFS",
        Errno::NAMETOOLONG => "ENAMETOOLONG",
        Errno::NOSYS => "ENOSYS",
        Errno::LOOP => "ELOOP",
        Errno::ILSEQ => "EILSEQ",
        Errno::NOKEY => "ENOKEY",
        Errno::KEYREJECTED => "EKEYREJECTED",
        Errno::UCLEAN => "EUCLEAN",
        _ => "an unexpected error",
    }
}

/// Milliseconds since the kernel started (clock_gettime(2), CLOCK_MONOTONIC).
pub fn now_ms() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64)
        .saturating_mul(1000)
        .saturating_add(t.tv_nsec as u64 / 1_000_000)
}

/// Sleeps `ms` milliseconds (nanosleep(2)).
pub fn sleep_ms(ms: u64) {
    let request = rustix::time::Timespec {
        tv_sec: (ms / 1000) as i64,
        tv_nsec: ((ms % 1000) * 1_000_000) as i64,
    };
    let _ = rustix::thread::nanosleep(&request);
}

/// Makes /dev/console standard input, output and error when the kernel could not open it (the
/// initramfs has no /dev/console before devtmpfs is mounted): open(2), dup2(2).
pub fn attach_console() {
    if rustix::io::fcntl_getfd(stderr()).is_ok() {
        return;
    }
    let Ok(console) =
        rustix::fs::open("/dev/console", OFlags::RDWR | OFlags::NOCTTY, Mode::empty())
    else {
        return;
    };
    let fd = rustix::fd::IntoRawFd::into_raw_fd(console);
    for target in 0..3 {
        // SAFETY: both are plain descriptor numbers; dup2 closes `target` first if it is open.
        unsafe {
            libc::dup2(fd, target);
        }
    }
    if fd > 2 {
        // SAFETY: `fd` came from `into_raw_fd` above and nothing else holds it.
        drop(unsafe { <OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(fd) });
    }
}

fn last_errno() -> Errno {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    Errno::from_raw_os_error(unsafe { *libc::__errno_location() })
}

/// Loads a kernel module from an open file (finit_module(2)); `compressed` lets the kernel
/// decompress it (MODULE_INIT_COMPRESSED_FILE).
pub fn finit_module(fd: &OwnedFd, compressed: bool) -> Result<(), Errno> {
    const MODULE_INIT_COMPRESSED_FILE: libc::c_long = 4;
    let flags = if compressed {
        MODULE_INIT_COMPRESSED_FILE
    } else {
        0
    };
    let params = c"";
    // SAFETY: finit_module takes a descriptor, a NUL-terminated parameter string and flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_finit_module,
            fd.as_raw_fd(),
            params.as_ptr(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(last_errno())
    }
}

/// Replaces stage1 with `path` (execve(2)), with no other argument and stage1's environment
/// (the kernel's). Returns only on failure, with the reason.
pub fn exec(path: &CStr) -> Errno {
    let argv = [path.as_ptr(), core::ptr::null()];
    // SAFETY: `path` is NUL-terminated, `argv` null-terminated, and musl keeps `environ`
    // valid and null-terminated; all outlive execve.
    unsafe {
        libc::execve(path.as_ptr(), argv.as_ptr(), environ);
    }
    last_errno()
}

/// Flushes every write and restarts the machine (reboot(2), RB_AUTOBOOT). PID 1 must not
/// exit (the kernel would panic), so should the reboot fail, it waits for ever.
pub fn reboot() -> ! {
    rustix::fs::sync();
    let _ = rustix::system::reboot(rustix::system::RebootCommand::Restart);
    loop {
        sleep_ms(60_000);
    }
}

/// Reads a whole text file into `buf` (EFBIG when it does not fit, EILSEQ when not UTF-8).
pub fn read_file<'b>(buf: &'b mut [u8], path: &str) -> Result<&'b str, Errno> {
    let fd = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    let mut len = 0;
    loop {
        let Some(rest) = buf.get_mut(len..).filter(|r| !r.is_empty()) else {
            return Err(Errno::FBIG);
        };
        match rustix::io::read(&fd, rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    core::str::from_utf8(buf.get(..len).unwrap_or(&[])).map_err(|_| Errno::ILSEQ)
}

/// Reads exactly `buf.len()` bytes at `offset` (pread(2)); EIO when the device ends first.
pub fn read_exact_at(fd: &OwnedFd, buf: &mut [u8], offset: u64) -> Result<(), Errno> {
    let mut done = 0;
    while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
        match rustix::io::pread(fd, rest, offset + done as u64) {
            Ok(0) => return Err(Errno::IO),
            Ok(n) => done += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes all of `bytes` at `offset` (pwrite(2)) and waits until they are on the device
/// (fsync(2)).
pub fn write_all_at_synced(fd: &OwnedFd, bytes: &[u8], offset: u64) -> Result<(), Errno> {
    let mut done = 0;
    while let Some(rest) = bytes.get(done..).filter(|r| !r.is_empty()) {
        match rustix::io::pwrite(fd, rest, offset + done as u64) {
            Ok(0) => return Err(Errno::IO),
            Ok(n) => done += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    rustix::fs::fsync(fd)
}

/// Creates the folder `path` (mkdir(2), mode 0755); one that exists is fine.
pub fn mkdir(path: &str) -> Result<(), Errno> {
    match rustix::fs::mkdir(path, Mode::from_raw_mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Waits until `path` exists (stat(2) every [`DEVICE_POLL_MS`]), at most `timeout_ms`;
/// returns how long it took, or the last error.
///
/// [`DEVICE_POLL_MS`]: nanolin_init::stage1::DEVICE_POLL_MS
pub fn wait_for(path: &str, timeout_ms: u64) -> Result<u64, Errno> {
    let start = now_ms();
    loop {
        match rustix::fs::stat(path) {
            Ok(_) => return Ok(now_ms().saturating_sub(start)),
            Err(e) if now_ms().saturating_sub(start) >= timeout_ms => return Err(e),
            Err(_) => sleep_ms(nanolin_init::stage1::DEVICE_POLL_MS),
        }
    }
}

/// Creates `path` and every folder leading to it (as `mkdir -p`).
pub fn mkdir_all(path: &str) -> Result<(), Errno> {
    for (at, _) in path.match_indices('/').skip(1) {
        mkdir(path.get(..at).unwrap_or(path))?;
    }
    mkdir(path)
}
