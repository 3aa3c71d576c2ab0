//! Thin wrappers over the system calls init makes: one function per operation, the C call it
//! makes named in its doc. Every `unsafe` block of the binary is here, each with its reason.

use core::ffi::{c_char, c_int};
use core::mem::MaybeUninit;

use rustix::fd::{BorrowedFd, OwnedFd};
use rustix::io::Errno;

// musl's libc.a, self-contained in the Rust target: the start files, syscall, exec, signalfd.
#[link(name = "c")]
extern "C" {}

/// Standard error, where every message of init goes (the console when init is PID 1).
pub fn stderr() -> BorrowedFd<'static> {
    // SAFETY: fd 2 stays open for init's whole life (the kernel's console, or the caller's
    // stderr); writes to a closed fd fail harmlessly with EBADF.
    unsafe { BorrowedFd::borrow_raw(2) }
}

/// Standard output.
pub fn stdout() -> BorrowedFd<'static> {
    // SAFETY: as for `stderr`.
    unsafe { BorrowedFd::borrow_raw(1) }
}

/// Writes all of `bytes` to `fd` (write(2) until done), giving up silently on error: a
/// message that cannot be shown must not stop init.
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
        Errno::SRCH => "ESRCH",
        Errno::INTR => "EINTR",
        Errno::IO => "EIO",
        Errno::TOOBIG => "E2BIG",
        Errno::NOEXEC => "ENOEXEC",
        Errno::BADF => "EBADF",
        Errno::CHILD => "ECHILD",
        Errno::AGAIN => "EAGAIN",
        Errno::NOMEM => "ENOMEM",
        Errno::ACCESS => "EACCES",
        Errno::BUSY => "EBUSY",
        Errno::EXIST => "EEXIST",
        Errno::NODEV => "ENODEV",
        Errno::NOTDIR => "ENOTDIR",
        Errno::ISDIR => "EISDIR",
        Errno::INVAL => "EINVAL",
        Errno::MFILE => "EMFILE",
        Errno::TXTBSY => "ETXTBSY",
        Errno::NOSPC => "ENOSPC",
        Errno::FBIG => "EFBIG",
        Errno::ROFS => "EROFS",
        Errno::NAMETOOLONG => "ENAMETOOLONG",
        Errno::NOSYS => "ENOSYS",
        Errno::LOOP => "ELOOP",
        Errno::ADDRINUSE => "EADDRINUSE",
        Errno::CONNREFUSED => "ECONNREFUSED",
        _ => "an unexpected error",
    }
}

/// Milliseconds of the monotonic clock (clock_gettime(2), CLOCK_MONOTONIC, through musl's
/// vDSO lookup, which the C library carries anyway).
pub fn now_ms() -> u64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes the time into the timespec it is given.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t);
    }
    (t.tv_sec as u64)
        .saturating_mul(1000)
        .saturating_add(t.tv_nsec as u64 / 1_000_000)
}

/// A set of signals.
pub struct SignalSet(libc::sigset_t);

impl SignalSet {
    /// The signals given (sigemptyset(3), sigaddset(3)).
    pub fn of(signals: &[c_int]) -> Self {
        let mut set = MaybeUninit::<libc::sigset_t>::uninit();
        // SAFETY: sigemptyset initialises the set it is given; sigaddset takes an initialised
        // set and a signal number (an invalid one only makes it return EINVAL).
        unsafe {
            libc::sigemptyset(set.as_mut_ptr());
            for &signal in signals {
                libc::sigaddset(set.as_mut_ptr(), signal);
            }
            SignalSet(set.assume_init())
        }
    }
}

/// Blocks `set` and returns a signalfd(2) that reads them instead.
pub fn signal_fd(set: &SignalSet) -> Result<OwnedFd, Errno> {
    // SAFETY: the set is initialised; sigprocmask only reads it.
    if unsafe { libc::sigprocmask(libc::SIG_BLOCK, &set.0, core::ptr::null_mut()) } != 0 {
        return Err(Errno::INVAL);
    }
    // SAFETY: -1 asks for a new descriptor; the set is initialised.
    let fd = unsafe { libc::signalfd(-1, &set.0, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
    if fd < 0 {
        return Err(last_errno());
    }
    // SAFETY: signalfd returned a new descriptor that nothing else owns.
    Ok(unsafe { rustix::fd::FromRawFd::from_raw_fd(fd) })
}

/// Reads the next pending signal from a signalfd (read(2)), or `None` when none is pending.
pub fn read_signal(fd: BorrowedFd<'_>) -> Option<u32> {
    let mut info = [0u8; core::mem::size_of::<libc::signalfd_siginfo>()];
    match rustix::io::read(fd, &mut info) {
        Ok(n) if n == info.len() => {
            let mut signo = [0u8; 4];
            signo.copy_from_slice(info.get(..4)?);
            Some(u32::from_ne_bytes(signo))
        }
        _ => None,
    }
}

fn last_errno() -> Errno {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    Errno::from_raw_os_error(unsafe { *libc::__errno_location() })
}

/// What fork(2) returned to this process.
pub enum Forked {
    /// This is the child.
    Child,
    /// This is the parent; the child's pid.
    Parent(i32),
}

/// fork(2), as the bare system call: clone(2) with only `SIGCHLD`, what the kernel's fork
/// is. Not the C library's fork, whose locking and at-fork machinery a single-threaded init
/// has no use for and which costs about 1.5 KiB of init's 64 KiB budget.
pub fn fork() -> Result<Forked, Errno> {
    let flags = libc::c_long::from(libc::SIGCHLD);
    // SAFETY: init is single-threaded, so the child gets a consistent copy of everything, and
    // no lock of the C library can be held; the child makes only async-signal-safe calls (raw
    // system calls) before it execs or exits. Stack, thread id and TLS arguments are 0: the
    // child runs on a copy of this stack, as after fork.
    match unsafe { libc::syscall(libc::SYS_clone, flags, 0, 0, 0, 0) } {
        -1 => Err(last_errno()),
        0 => Ok(Forked::Child),
        pid => i32::try_from(pid)
            .map(Forked::Parent)
            .map_err(|_| Errno::INVAL),
    }
}

/// In a child: makes `fd` appear as descriptor `target` (dup2(2)), without close-on-exec.
pub fn child_dup2(fd: BorrowedFd<'_>, target: c_int) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    // SAFETY: both are plain descriptor numbers; dup2 closes `target` first if it is open.
    if unsafe { libc::dup2(fd.as_raw_fd(), target) } < 0 {
        return Err(last_errno());
    }
    Ok(())
}

/// In a child: unblocks every signal and restores default dispositions (sigprocmask(2)), so
/// the service starts as a fresh process would.
pub fn child_reset_signals() {
    let empty = SignalSet::of(&[]);
    // SAFETY: the set is initialised; the old mask is not wanted. rt_sigaction reads a zeroed
    // action big enough for every architecture's layout; KILL and STOP only fail.
    unsafe {
        libc::sigprocmask(libc::SIG_SETMASK, &empty.0, core::ptr::null_mut());
        // Signals ignored by whoever started init stay ignored across exec: undo that too.
        // rt_sigaction(2) directly, with an all-zero action (SIG_DFL, no flags, empty mask):
        // musl's sigaction wrapper would cost more than this whole loop.
        let default_action = [0u64; 4];
        for signal in 1..32 {
            libc::syscall(
                libc::SYS_rt_sigaction,
                signal,
                default_action.as_ptr(),
                core::ptr::null::<u64>(),
                8usize,
            );
        }
    }
}

/// Marks every descriptor from 3 up close-on-exec (close_range(2)), so what init inherited
/// from whoever started it does not leak into services.
pub fn close_inherited_on_exec() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range only changes descriptor flags; an old kernel answers ENOSYS.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC);
    }
}

/// The descriptor limit init started with, restored in services (init raises its own).
static mut SERVICE_NOFILE: Option<rustix::process::Rlimit> = None;

/// Raises init's descriptor limit to the most allowed, remembering the old one for services.
pub fn raise_nofile() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let old = getrlimit(Resource::Nofile);
    if let Some(max) = old.maximum {
        let _ = setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(max),
                maximum: Some(max),
            },
        );
    }
    // SAFETY: written once at start by the only thread, before any service is spawned.
    unsafe { *core::ptr::addr_of_mut!(SERVICE_NOFILE) = Some(old) };
}

/// In a child: puts back the descriptor limit init started with.
pub fn child_restore_nofile() {
    // SAFETY: only read after the single write at start.
    if let Some(old) = unsafe { *core::ptr::addr_of!(SERVICE_NOFILE) } {
        let _ = rustix::process::setrlimit(rustix::process::Resource::Nofile, old);
    }
}

/// In a child: becomes `uid`:`gid` with no supplementary groups (setgroups(2), setgid(2),
/// setuid(2)), in that order, since dropping the uid first would forbid the rest. The raw
/// system calls act on this thread only, which is the whole of a freshly forked child.
pub fn child_become(uid: u32, gid: u32) -> Result<(), Errno> {
    use rustix::process::{Gid, Uid};
    match rustix::thread::set_thread_groups(&[]) {
        Ok(()) | Err(Errno::PERM) => {}
        Err(e) => return Err(e),
    }
    rustix::thread::set_thread_gid(Gid::from_raw(gid))?;
    rustix::thread::set_thread_uid(Uid::from_raw(uid))
}

/// In a child: execve(2); returns only on failure, with the reason.
pub fn exec(path: *const c_char, argv: &[*const c_char], envp: &[*const c_char]) -> Errno {
    // SAFETY: the caller passes NUL-terminated strings and null-terminated pointer arrays
    // that live until exec replaces the process.
    unsafe {
        libc::execve(path, argv.as_ptr(), envp.as_ptr());
    }
    last_errno()
}

/// Ends this process at once (_exit(2)), running nothing else: for a child whose exec failed.
pub fn exit_now(code: c_int) -> ! {
    // SAFETY: _exit takes any status and never returns.
    unsafe { libc::_exit(code) }
}

/// Closes a raw descriptor we hold by number (close(2)); errors are of no use here.
pub fn close_raw(fd: i32) {
    if fd >= 0 {
        // SAFETY: the caller owns `fd` and forgets it after this call.
        drop(unsafe { <OwnedFd as rustix::fd::FromRawFd>::from_raw_fd(fd) });
    }
}

/// Borrows a raw descriptor we hold by number.
pub fn borrow_raw(fd: i32) -> BorrowedFd<'static> {
    // SAFETY: the caller holds `fd` open for as long as it uses the borrow (the event loop
    // closes it only after removing it from every structure).
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// Gives up ownership of a descriptor, returning its number (the event loop tracks it).
pub fn into_raw(fd: OwnedFd) -> i32 {
    rustix::fd::IntoRawFd::into_raw_fd(fd)
}

/// The argument vector musl's start files hand to `main`.
#[derive(Clone, Copy)]
pub struct Args {
    argc: usize,
    argv: *const *const c_char,
}

impl Args {
    /// Wraps main's arguments.
    pub fn new(argc: c_int, argv: *const *const c_char) -> Self {
        Args {
            argc: if argv.is_null() {
                0
            } else {
                argc.max(0) as usize
            },
            argv,
        }
    }

    /// Argument `i` without its NUL, if there is one.
    pub fn get(&self, i: usize) -> Option<&'static [u8]> {
        if i >= self.argc {
            return None;
        }
        // SAFETY: the C runtime passes argc valid NUL-terminated strings that live as long as
        // the process.
        unsafe {
            let ptr = *self.argv.add(i);
            if ptr.is_null() {
                return None;
            }
            Some(core::ffi::CStr::from_ptr(ptr).to_bytes())
        }
    }
}

/// Sends `signal` to every process but init itself (kill(2) with pid -1).
pub fn kill_all(signal: c_int) {
    // SAFETY: kill with -1 only sends a signal; it touches no memory.
    unsafe {
        libc::kill(-1, signal);
    }
}

/// Sleeps `ms` milliseconds (nanosleep(2) through clock_nanosleep).
pub fn sleep_ms(ms: u64) {
    let request = rustix::time::Timespec {
        tv_sec: (ms / 1000) as i64,
        tv_nsec: ((ms % 1000) * 1_000_000) as i64,
    };
    let _ = rustix::thread::nanosleep(&request);
}

/// Loads a kernel module from an open file (finit_module(2)); `compressed` lets the kernel
/// decompress it (MODULE_INIT_COMPRESSED_FILE).
pub fn finit_module(fd: &OwnedFd, compressed: bool) -> Result<(), Errno> {
    use rustix::fd::AsRawFd;
    const MODULE_INIT_COMPRESSED_FILE: libc::c_long = 4;
    let flags = if compressed {
        MODULE_INIT_COMPRESSED_FILE
    } else {
        0
    };
    let params = b"\0";
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

/// main's arguments and the control socket path, kept for re-executing.
static mut ARGS: Option<Args> = None;
static mut CONTROL: &str = "";

/// Remembers main's arguments (once, at start).
pub fn set_args(args: Args) {
    // SAFETY: written once at start by the only thread, before anything reads it.
    unsafe { *core::ptr::addr_of_mut!(ARGS) = Some(args) };
}

/// Remembers the control socket path (once, at start).
pub fn set_control_socket(path: &'static str) {
    // SAFETY: as for `set_args`.
    unsafe { *core::ptr::addr_of_mut!(CONTROL) = path };
}

/// The control socket path.
pub fn control_socket() -> &'static str {
    // SAFETY: only read after the single write at start.
    unsafe { *core::ptr::addr_of!(CONTROL) }
}

/// Most arguments passed on when re-executing.
const REEXEC_MAX_ARGS: usize = 32;

/// Executes this program again (execve(2) of /proc/self/exe) with its first arguments, less
/// any earlier `--resume FILE`, plus `--resume resume`. Returns only on failure.
pub fn reexec(resume: &str) -> Errno {
    let mut path = [0u8; 256];
    let Some(dest) = path.get_mut(..resume.len()) else {
        return Errno::NAMETOOLONG;
    };
    dest.copy_from_slice(resume.as_bytes());
    // SAFETY: only read after the single write at start.
    let Some(args) = (unsafe { *core::ptr::addr_of!(ARGS) }) else {
        return Errno::INVAL;
    };
    let mut argv: [*const c_char; REEXEC_MAX_ARGS + 3] = [core::ptr::null(); REEXEC_MAX_ARGS + 3];
    let mut n = 0;
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        if arg == b"--resume" {
            i += 2;
            continue;
        }
        if let Some(slot) = argv.get_mut(n).filter(|_| n < REEXEC_MAX_ARGS) {
            // SAFETY: `arg` is a slice of a NUL-terminated argument string the process keeps.
            *slot = arg.as_ptr().cast();
            n += 1;
        }
        i += 1;
    }
    let flag = b"--resume\0";
    for extra in [flag.as_ptr(), path.as_ptr()] {
        if let Some(slot) = argv.get_mut(n) {
            *slot = extra.cast();
            n += 1;
        }
    }
    // SAFETY: musl keeps `environ` valid; the arrays are null-terminated and outlive execve.
    unsafe { libc::execve(c"/proc/self/exe".as_ptr(), argv.as_ptr(), environ) };
    last_errno()
}

extern "C" {
    static environ: *const *const c_char;
}

/// True when the environment says init runs in a container (`container=…`, as systemd reads
/// it), where the early mounts and the final remount must not touch the host.
pub fn in_container() -> bool {
    let mut found = false;
    // SAFETY: musl keeps `environ` valid and null-terminated for the life of the process.
    let mut entry = unsafe { environ };
    while !entry.is_null() {
        // SAFETY: each entry up to the null one is a NUL-terminated string.
        let ptr = unsafe { *entry };
        if ptr.is_null() {
            break;
        }
        // SAFETY: as above.
        let text = unsafe { core::ffi::CStr::from_ptr(ptr) }.to_bytes();
        found |= text.starts_with(b"container=");
        // SAFETY: not past the null terminator, checked above.
        entry = unsafe { entry.add(1) };
    }
    found
}

/// Reads a whole text file into `buf` (EFBIG when it does not fit, EILSEQ when not UTF-8).
pub fn read_file<'b>(buf: &'b mut [u8], path: &str) -> Result<&'b str, Errno> {
    let fd = rustix::fs::open(
        path,
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    let mut len = 0;
    loop {
        let Some(rest) = buf.get_mut(len..) else {
            return Err(Errno::FBIG);
        };
        if rest.is_empty() {
            return Err(Errno::FBIG);
        }
        match rustix::io::read(&fd, rest) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    core::str::from_utf8(buf.get(..len).unwrap_or(&[])).map_err(|_| Errno::ILSEQ)
}
