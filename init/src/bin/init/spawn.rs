//! Starting a service: fork, set the child up, exec — and learn whether the exec worked.
//!
//! The child reports a failure through a close-on-exec pipe: the parent's read returns 0 bytes
//! once exec succeeded (the pipe closed), or the step that failed and its errno otherwise. So
//! a service that cannot start is known at once, with the reason, instead of looking like a
//! process that exited 127.

use core::ffi::c_char;
use core::fmt;

use nanolin_init::command::{self, CommandError};
use nanolin_init::limits::{MAX_ARGUMENTS, MAX_ENVIRONMENT, VALUE_MAX_LEN};
use nanolin_init::passwd;
use nanolin_init::service::{Readiness, ServiceId};
use nanolin_init::table::ServiceTable;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::pipe::{pipe_with, PipeFlags};

use crate::sys::{self, Forked};

/// The PATH services get, and where a command without a slash is looked up.
const PATH: &[u8] = b"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\0";

/// Longest path tried when looking a command up in PATH.
const PATH_MAX_LEN: usize = 512;

/// What a child could not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Put the readiness pipe at its descriptor.
    ReadyFd = 1,
    /// Change to the working directory.
    Directory = 2,
    /// Find the user.
    User = 3,
    /// Switch to the user.
    SwitchUser = 4,
    /// Execute the program.
    Exec = 5,
    /// Start a new session.
    Session = 6,
}

impl Step {
    fn from_code(code: u8) -> Self {
        match code {
            1 => Step::ReadyFd,
            2 => Step::Directory,
            3 => Step::User,
            4 => Step::SwitchUser,
            6 => Step::Session,
            _ => Step::Exec,
        }
    }
}

/// Why a service could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpawnError {
    /// Its command line cannot be split.
    Command(CommandError),
    /// A system call of init failed.
    System(&'static str, Errno),
    /// The child failed at this step.
    Child(Step, Errno),
}

impl SpawnError {
    /// The error number, for the supervisor's record.
    pub fn errno(&self) -> i32 {
        match self {
            SpawnError::Command(_) => Errno::INVAL.raw_os_error(),
            SpawnError::System(_, e) | SpawnError::Child(_, e) => e.raw_os_error(),
        }
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::Command(e) => write!(f, "{e}"),
            SpawnError::System(what, e) => write!(f, "unable to {what}: {}", sys::errno_name(*e)),
            SpawnError::Child(step, e) => {
                let what = match step {
                    Step::ReadyFd => "set up its readiness descriptor",
                    Step::Directory => "change to its directory",
                    Step::User if *e == Errno::NOENT => {
                        return f.write_str("its user does not exist")
                    }
                    Step::User => "read its user",
                    Step::SwitchUser => "switch to its user",
                    Step::Exec => "execute its program",
                    Step::Session => "start a new session",
                };
                write!(f, "unable to {what}: {}", sys::errno_name(*e))
            }
        }
    }
}

/// A started service.
pub struct Spawned {
    /// Its process.
    pub pid: i32,
    /// Read end of its readiness pipe (`ready=fd:N`).
    pub ready: Option<OwnedFd>,
    /// Read end of the pipe its standard output and error go to.
    pub output: OwnedFd,
    /// Read end of the pipe that tells whether its exec worked ([`exec_result`]).
    pub exec: OwnedFd,
}

/// What the exec-status pipe of a starting service says: `None` while it has said nothing,
/// `Some(Ok(()))` once the program runs (the pipe closed on exec), or the failure.
pub fn exec_result(pipe: rustix::fd::BorrowedFd<'_>) -> Option<Result<(), SpawnError>> {
    let mut message = [0u8; 8];
    match rustix::io::read(pipe, &mut message) {
        Ok(0) => Some(Ok(())),
        // The child writes its 8 bytes at once, well under the pipe's atomic size.
        Ok(8) => {
            let mut errno = [0u8; 4];
            errno.copy_from_slice(&message[4..]);
            let errno = Errno::from_raw_os_error(i32::from_ne_bytes(errno));
            Some(Err(SpawnError::Child(Step::from_code(message[0]), errno)))
        }
        Ok(_) => Some(Err(SpawnError::Child(Step::Exec, Errno::IO))),
        Err(_) => None,
    }
}

/// Argument buffer: every word and its NUL.
struct Argv {
    bytes: [u8; VALUE_MAX_LEN + MAX_ARGUMENTS],
    pointers: [*const c_char; MAX_ARGUMENTS + 1],
}

/// Starts service `id` of `table`; `notify` is the `NOTIFY_SOCKET=…` entry (NUL-terminated)
/// given to `ready=notify` services.
pub fn spawn(table: &ServiceTable, id: ServiceId, notify: &[u8]) -> Result<Spawned, SpawnError> {
    let def = table
        .definition(id)
        .ok_or(SpawnError::System("find its definition", Errno::NOENT))?;
    let mut argv = Argv {
        bytes: [0; VALUE_MAX_LEN + MAX_ARGUMENTS],
        pointers: [core::ptr::null(); MAX_ARGUMENTS + 1],
    };
    let mut starts = [0usize; MAX_ARGUMENTS];
    let words = command::split(table.string(def.run), &mut argv.bytes, &mut starts)
        .map_err(SpawnError::Command)?;
    for (pointer, &start) in argv
        .pointers
        .iter_mut()
        .zip(starts.get(..words).unwrap_or(&[]))
    {
        *pointer = argv.bytes.as_ptr().wrapping_add(start).cast();
    }
    // The environment entries are stored NUL-terminated already; point at each.
    let mut envp: [*const c_char; MAX_ENVIRONMENT + 3] = [core::ptr::null(); MAX_ENVIRONMENT + 3];
    let mut count = 0;
    if let Some(slot) = envp.get_mut(count) {
        *slot = PATH.as_ptr().cast();
        count += 1;
    }
    if def.ready == Readiness::Notify && notify.first().is_some_and(|&b| b != 0) {
        if let Some(slot) = envp.get_mut(count) {
            *slot = notify.as_ptr().cast();
            count += 1;
        }
    }
    let environment = table.string(def.environment);
    let mut offset = 0;
    for entry in environment.split_terminator('\0') {
        if let Some(slot) = envp.get_mut(count) {
            *slot = environment.as_ptr().wrapping_add(offset).cast();
            count += 1;
        }
        offset += entry.len() + 1;
    }

    let ready = match def.ready {
        Readiness::Fd(n) => Some((
            pipe_with(PipeFlags::CLOEXEC).map_err(|e| SpawnError::System("create a pipe", e))?,
            n,
        )),
        _ => None,
    };
    let (status_read, status_write) =
        pipe_with(PipeFlags::CLOEXEC).map_err(|e| SpawnError::System("create a pipe", e))?;
    let (output_read, output_write) =
        pipe_with(PipeFlags::CLOEXEC).map_err(|e| SpawnError::System("create a pipe", e))?;

    match sys::fork().map_err(|e| SpawnError::System("fork", e))? {
        Forked::Child => {
            drop(status_read);
            let (step, errno) = child(
                table,
                id,
                &argv,
                &envp,
                &output_write,
                ready.as_ref().map(|((_, w), n)| (w, *n)),
            );
            let report = [step as u8, 0, 0, 0];
            let mut message = [0u8; 8];
            message[..4].copy_from_slice(&report);
            message[4..].copy_from_slice(&errno.raw_os_error().to_ne_bytes());
            sys::write_all(status_write.as_fd(), &message);
            sys::exit_now(127)
        }
        Forked::Parent(pid) => {
            drop(status_write);
            drop(output_write);
            // init reads its end without blocking, so one chatty service cannot stall it.
            let _ = rustix::fs::fcntl_setfl(&output_read, rustix::fs::OFlags::NONBLOCK);
            let ready_read = ready.map(|((r, w), _)| {
                drop(w);
                r
            });
            // Whether the exec worked arrives later, on this pipe, through the event loop:
            // services start side by side instead of one exec at a time.
            let _ = rustix::fs::fcntl_setfl(&status_read, rustix::fs::OFlags::NONBLOCK);
            Ok(Spawned {
                pid,
                ready: ready_read,
                output: output_read,
                exec: status_read,
            })
        }
    }
}

/// Everything the child does before exec; returns only on failure.
fn child(
    table: &ServiceTable,
    id: ServiceId,
    argv: &Argv,
    envp: &[*const c_char],
    output: &OwnedFd,
    ready: Option<(&OwnedFd, u8)>,
) -> (Step, Errno) {
    sys::child_reset_signals();
    sys::child_restore_nofile();
    if let Err(e) = rustix::process::setsid() {
        return (Step::Session, e);
    }
    if let Ok(null) = rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::RDWR,
        rustix::fs::Mode::empty(),
    ) {
        let _ = sys::child_dup2(null.as_fd(), 0);
    }
    // Standard output and error go to init, which keeps and shows them.
    let _ = sys::child_dup2(output.as_fd(), 1);
    let _ = sys::child_dup2(output.as_fd(), 2);
    if let Some((write_end, n)) = ready {
        if let Err(e) = sys::child_dup2(write_end.as_fd(), i32::from(n)) {
            return (Step::ReadyFd, e);
        }
    }
    let Some(def) = table.definition(id) else {
        return (Step::Exec, Errno::NOENT);
    };
    if let Some(dir) = def.directory {
        if let Err(e) = rustix::process::chdir(table.string(dir)) {
            return (Step::Directory, e);
        }
    }
    if let Some(user) = def.user {
        let Some((uid, gid)) = resolve_user(table.string(user)) else {
            return (Step::User, Errno::NOENT);
        };
        if let Err(e) = sys::child_become(uid, gid) {
            return (Step::SwitchUser, e);
        }
    }
    let program = argv.pointers[0];
    let name = argv.bytes.split(|&b| b == 0).next().unwrap_or(&[]);
    if name.contains(&b'/') {
        return (Step::Exec, sys::exec(program, &argv.pointers, envp));
    }
    // Look the program up in PATH, as execvp does; ENOENT unless a better reason turns up.
    let mut reason = Errno::NOENT;
    let dirs = PATH.get(5..PATH.len() - 1).unwrap_or(&[]);
    for dir in dirs.split(|&b| b == b':') {
        let mut path = [0u8; PATH_MAX_LEN];
        if join_path(&mut path, dir, name).is_none() {
            continue;
        }
        match sys::exec(path.as_ptr().cast(), &argv.pointers, envp) {
            Errno::NOENT | Errno::NOTDIR => {}
            other => reason = other,
        }
    }
    (Step::Exec, reason)
}

/// Writes `dir/name` and a NUL into `buf`; `None` when it does not fit.
fn join_path(buf: &mut [u8], dir: &[u8], name: &[u8]) -> Option<()> {
    let len = dir.len() + 1 + name.len();
    buf.get_mut(..dir.len())?.copy_from_slice(dir);
    *buf.get_mut(dir.len())? = b'/';
    buf.get_mut(dir.len() + 1..len)?.copy_from_slice(name);
    *buf.get_mut(len)? = 0;
    Some(())
}

/// Largest /etc/passwd read when looking a user up by name.
const PASSWD_MAX_LEN: usize = 32 * 1024;

/// `name`, or `uid[:gid]` (gid defaults to uid).
fn resolve_user(user: &str) -> Option<(u32, u32)> {
    if let Some(ids) = passwd::numeric_user(user) {
        return Some(ids);
    }
    let fd = rustix::fs::open(
        "/etc/passwd",
        rustix::fs::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    )
    .ok()?;
    let mut buf = [0u8; PASSWD_MAX_LEN];
    let mut len = 0;
    while let Some(rest) = buf.get_mut(len..).filter(|r| !r.is_empty()) {
        match rustix::io::read(&fd, rest) {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
    }
    passwd::find_user(buf.get(..len)?, user)
}
