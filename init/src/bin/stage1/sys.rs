//! Thin wrappers over the system calls stage1 makes that rustix leaves to the C library, and
//! the small helpers every step shares. Every `unsafe` block of the binary is here, each with
//! its reason.

use core::ffi::{c_char, CStr};

use core::sync::atomic::{AtomicBool, Ordering};

use nanolin_init::stage1::COPY_BUFFER_LEN;
use rustix::fd::{AsRawFd, BorrowedFd, OwnedFd};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::ioctl::{ioctl, opcode, Getter, Ioctl, IoctlOutput, Opcode, Setter};

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
    write_all_at(fd, bytes, offset)?;
    rustix::fs::fsync(fd)
}

/// Writes all of `bytes` at `offset` (pwrite(2)); EIO when the device ends first.
pub fn write_all_at(fd: &OwnedFd, bytes: &[u8], offset: u64) -> Result<(), Errno> {
    let mut done = 0;
    while let Some(rest) = bytes.get(done..).filter(|r| !r.is_empty()) {
        match rustix::io::pwrite(fd, rest, offset + done as u64) {
            Ok(0) => return Err(Errno::IO),
            Ok(n) => done += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
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

/// Flushes every write and powers the machine off (reboot(2), RB_POWER_OFF). PID 1 must not
/// exit, so should that fail, it waits for ever.
pub fn power_off() -> ! {
    rustix::fs::sync();
    let _ = rustix::system::reboot(rustix::system::RebootCommand::PowerOff);
    loop {
        sleep_ms(60_000);
    }
}

/// `BLKGETSIZE64` (linux/fs.h): a block device's size in bytes. The opcode encodes `size_t`,
/// as the C header's `_IOR(0x12, 114, size_t)` does; the kernel writes 64 bits.
const BLKGETSIZE64: Opcode = opcode::read::<usize>(0x12, 114);

/// `BLKZEROOUT` (linux/fs.h): zeroes a byte range of a block device, by the device's own
/// write-zeroes command where it has one.
const BLKZEROOUT: Opcode = opcode::none(0x12, 127);

/// `LOOP_CTL_GET_FREE` (linux/loop.h), on /dev/loop-control: the number of a free loop
/// device, made if need be.
const LOOP_CTL_GET_FREE: Opcode = opcode::none(0x4C, 0x82);

/// `LOOP_CONFIGURE` (linux/loop.h, Linux 5.8): attaches a file to a loop device with its
/// settings in one call.
const LOOP_CONFIGURE: Opcode = opcode::none(0x4C, 0x0A);

/// `LO_FLAGS_READ_ONLY`: the loop device refuses writes.
const LO_FLAGS_READ_ONLY: u32 = 1;

/// `struct loop_info64` (linux/loop.h).
#[repr(C)]
struct LoopInfo64 {
    device: u64,
    inode: u64,
    rdevice: u64,
    offset: u64,
    size_limit: u64,
    number: u32,
    encrypt_type: u32,
    encrypt_key_size: u32,
    flags: u32,
    file_name: [u8; 64],
    crypt_name: [u8; 64],
    encrypt_key: [u8; 32],
    init: [u64; 2],
}

/// `struct loop_config` (linux/loop.h): what `LOOP_CONFIGURE` reads.
#[repr(C)]
struct LoopConfig {
    fd: u32,
    block_size: u32,
    info: LoopInfo64,
    reserved: [u64; 8],
}

// The kernel's sizes of the two structures.
const _: () = assert!(core::mem::size_of::<LoopInfo64>() == 232);
const _: () = assert!(core::mem::size_of::<LoopConfig>() == 304);

/// An ioctl whose answer is its return value, with no argument.
struct Returns<const OPCODE: Opcode>;

// SAFETY: the ioctls named with it take no argument and touch no user memory; the output is
// the return value.
unsafe impl<const OPCODE: Opcode> Ioctl for Returns<OPCODE> {
    type Output = IoctlOutput;
    const IS_MUTATING: bool = false;
    fn opcode(&self) -> Opcode {
        OPCODE
    }
    fn as_ptr(&mut self) -> *mut core::ffi::c_void {
        core::ptr::null_mut()
    }
    unsafe fn output_from_ptr(
        out: IoctlOutput,
        _: *mut core::ffi::c_void,
    ) -> Result<IoctlOutput, Errno> {
        Ok(out)
    }
}

/// The size of the block device open as `fd`, in bytes (ioctl(2) `BLKGETSIZE64`).
pub fn block_device_size(fd: &OwnedFd) -> Result<u64, Errno> {
    // SAFETY: BLKGETSIZE64 writes one u64 through its argument.
    unsafe { ioctl(fd, Getter::<BLKGETSIZE64, u64>::new()) }
}

/// Zeroes `len` bytes of the block device open as `fd` from `offset` (ioctl(2)
/// `BLKZEROOUT`); both must be multiples of its logical block size. ENOTTY or EOPNOTSUPP
/// where the device cannot.
pub fn zero_out(fd: &OwnedFd, offset: u64, len: u64) -> Result<(), Errno> {
    // SAFETY: BLKZEROOUT reads two u64 (start, length) through its argument.
    unsafe { ioctl(fd, Setter::<BLKZEROOUT, [u64; 2]>::new([offset, len])) }
}

/// The number of a free loop device (ioctl(2) `LOOP_CTL_GET_FREE` on /dev/loop-control).
pub fn loop_get_free(control: &OwnedFd) -> Result<u32, Errno> {
    // SAFETY: LOOP_CTL_GET_FREE takes no argument and returns the number.
    let n = unsafe { ioctl(control, Returns::<LOOP_CTL_GET_FREE>) }?;
    u32::try_from(n).map_err(|_| Errno::INVAL)
}

/// Attaches `file` to the loop device open as `device`, read-only (ioctl(2)
/// `LOOP_CONFIGURE`). Not `LO_FLAGS_AUTOCLEAR`: closing `device` before the mount opens the
/// loop device would detach it again.
pub fn loop_attach_read_only(device: &OwnedFd, file: &OwnedFd) -> Result<(), Errno> {
    let config = LoopConfig {
        fd: u32::try_from(file.as_raw_fd()).map_err(|_| Errno::BADF)?,
        block_size: 0,
        info: LoopInfo64 {
            device: 0,
            inode: 0,
            rdevice: 0,
            offset: 0,
            size_limit: 0,
            number: 0,
            encrypt_type: 0,
            encrypt_key_size: 0,
            flags: LO_FLAGS_READ_ONLY,
            file_name: [0; 64],
            crypt_name: [0; 64],
            encrypt_key: [0; 32],
            init: [0; 2],
        },
        reserved: [0; 8],
    };
    // SAFETY: LOOP_CONFIGURE reads one struct loop_config, laid out as the kernel's (sizes
    // checked above), through its argument.
    unsafe { ioctl(device, Setter::<LOOP_CONFIGURE, LoopConfig>::new(config)) }
}

/// The installer's copy buffer, [`COPY_BUFFER_LEN`] bytes, handed out once: a static, so
/// stage1 needs no allocator and no large stack.
///
/// [`COPY_BUFFER_LEN`]: nanolin_init::stage1::COPY_BUFFER_LEN
pub fn copy_buffer() -> Option<&'static mut [u8]> {
    static mut BUFFER: [u8; COPY_BUFFER_LEN] = [0; COPY_BUFFER_LEN];
    static TAKEN: AtomicBool = AtomicBool::new(false);
    if TAKEN.swap(true, Ordering::AcqRel) {
        return None;
    }
    // SAFETY: TAKEN lets this line run once, so the one mutable reference to BUFFER is never
    // aliased.
    Some(unsafe { &mut *core::ptr::addr_of_mut!(BUFFER) })
}
