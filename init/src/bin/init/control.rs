//! The control socket: `init ctl status|start|stop|restart|poweroff|reboot|halt`.
//!
//! A unix stream socket; the client writes one line (`stop NAME`), init answers with a status
//! line (`0`, `1` or `2`, the exit code the client returns) and text, then closes.

use core::fmt::Write;

use nanolin_init::supervisor::{Blocker, ExitStatus, Failure, State, Supervisor};
use nanolin_init::table::ServiceTable;
use rustix::fd::{AsFd, OwnedFd};
use rustix::io::Errno;
use rustix::net::{self, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

use crate::say::{Dec, Line};
use crate::sys::{self, Args};

/// Where the control socket lives unless `--control PATH` says otherwise.
pub const DEFAULT_SOCKET: &str = "/run/nanolin/init.sock";

/// Longest request line.
const REQUEST_MAX: usize = 256;

/// How the system should end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Power off.
    PowerOff,
    /// Reboot.
    Reboot,
    /// Halt.
    Halt,
    /// Start the kernel loaded with kexec_load(2) or kexec_file_load(2) (the update agent's
    /// `activate --kexec`).
    Kexec,
}

/// What a request asks of the event loop.
pub enum Request<'a> {
    /// Print every service's state.
    Status,
    /// Start a service.
    Start(&'a str),
    /// Stop a service.
    Stop(&'a str),
    /// Stop and start a service.
    Restart(&'a str),
    /// Print the kept output of a service.
    Log(&'a str),
    /// Read the services folder again.
    Reload,
    /// Execute init again (a new binary), keeping every service running.
    Reexec,
    /// Shut the system down.
    Shutdown(Ending),
}

fn parse(line: &str) -> Option<Request<'_>> {
    let mut words = line.split_ascii_whitespace();
    let request = match (words.next()?, words.next()) {
        ("status", None) => Request::Status,
        ("reload", None) => Request::Reload,
        ("reexec", None) => Request::Reexec,
        ("start", Some(name)) => Request::Start(name),
        ("stop", Some(name)) => Request::Stop(name),
        ("restart", Some(name)) => Request::Restart(name),
        ("log", Some(name)) => Request::Log(name),
        ("poweroff", None) => Request::Shutdown(Ending::PowerOff),
        ("reboot", None) => Request::Shutdown(Ending::Reboot),
        ("halt", None) => Request::Shutdown(Ending::Halt),
        ("kexec", None) => Request::Shutdown(Ending::Kexec),
        _ => return None,
    };
    words.next().is_none().then_some(request)
}

/// Creates the listening socket at `path`, replacing a stale one.
pub fn listen(path: &str) -> Result<OwnedFd, Errno> {
    if let Some((dir, _)) = path.rsplit_once('/') {
        if !dir.is_empty() {
            let _ = rustix::fs::mkdir(dir, rustix::fs::Mode::from_raw_mode(0o755));
        }
    }
    let _ = rustix::fs::unlink(path);
    let socket = net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    net::bind(&socket, &SocketAddrUnix::new(path)?)?;
    // Only root may control init.
    rustix::fs::chmod(path, rustix::fs::Mode::from_raw_mode(0o600))?;
    net::listen(&socket, 16)?;
    Ok(socket)
}

/// Reads one request from a new connection; answers with `handle`, which returns the exit
/// code and writes the text.
pub fn serve(listener: &OwnedFd, mut handle: impl FnMut(Option<Request<'_>>, &mut Reply) -> u8) {
    while let Ok(conn) = net::accept_with(listener, SocketFlags::CLOEXEC) {
        // A client that connects and says nothing must not stall PID 1.
        let _ = net::sockopt::set_socket_timeout(
            &conn,
            net::sockopt::Timeout::Recv,
            Some(core::time::Duration::from_millis(500)),
        );
        let mut buf = [0u8; REQUEST_MAX];
        let mut len = 0;
        while len < REQUEST_MAX && !buf.get(..len).unwrap_or(&[]).contains(&b'\n') {
            match rustix::io::read(&conn, buf.get_mut(len..).unwrap_or(&mut [])) {
                Ok(0) | Err(_) => break,
                Ok(n) => len += n,
            }
        }
        let text = core::str::from_utf8(buf.get(..len).unwrap_or(&[])).unwrap_or("");
        let line = text.split('\n').next().unwrap_or("");
        let mut reply = Reply { fd: conn };
        let code = handle(parse(line), &mut reply);
        reply.finish(code);
    }
}

/// The answer being written to a client.
pub struct Reply {
    fd: OwnedFd,
}

impl Reply {
    /// Sends one line of text.
    pub fn line(&mut self, line: &mut Line) {
        line.send(self.fd.as_fd());
    }

    /// Sends the usage text.
    pub fn usage(&mut self) {
        sys::write_all(self.fd.as_fd(), nanolin_init::USAGE.as_bytes());
    }

    fn finish(self, code: u8) {
        // The status goes last, on its own line, so the client can stream the text.
        let status = [b'\x1e', b'0' + code.min(9), b'\n'];
        sys::write_all(self.fd.as_fd(), &status);
    }
}

/// Writes the status line of one service.
pub fn describe(table: &ServiceTable, sup: &Supervisor, id: u16, line: &mut Line, now: u64) {
    let Some(report) = sup.report(id) else { return };
    let _ = write!(line, "{:<24} ", table.name(id));
    let _ = match report.state {
        State::Waiting => write!(line, "waiting for its dependencies"),
        State::Starting { pid, since } => write!(
            line,
            "starting (pid {}, {} ms)",
            Dec::from(pid),
            Dec::from(now.saturating_sub(since))
        ),
        State::Up { pid, since } => write!(
            line,
            "up (pid {}, {} s)",
            Dec::from(pid),
            Dec::from(now.saturating_sub(since) / 1000)
        ),
        State::Done => write!(line, "done"),
        State::Backoff { until } => write!(
            line,
            "restarting in {} ms",
            Dec::from(until.saturating_sub(now))
        ),
        State::Stopping { pid, .. } => write!(line, "stopping (pid {})", Dec::from(pid)),
        State::Stopped => write!(line, "stopped"),
        State::Failed(Failure::Exited(status)) => write!(line, "failed: {}", Status(status)),
        State::Failed(Failure::CrashLoop(status)) => write!(
            line,
            "failed: crashed {} times in a row, last {}",
            report.starts,
            Status(status)
        ),
        State::Failed(Failure::SpawnFailed(errno)) => {
            write!(
                line,
                "failed: cannot start: {}",
                sys::errno_name(Errno::from_raw_os_error(errno))
            )
        }
        State::Blocked(Blocker::Removed) => write!(line, "removed: its file is gone"),
        State::Blocked(Blocker::InvalidDefinition) => {
            write!(line, "not started: its file is broken")
        }
        State::Blocked(Blocker::Cycle) => write!(line, "not started: part of a dependency cycle"),
        State::Blocked(Blocker::Dependency(d)) => write!(
            line,
            "not started: needs {}, which cannot start",
            table.name(d)
        ),
    };
    if let (Some(status), false) = (report.last_exit, matches!(report.state, State::Failed(_))) {
        let _ = write!(line, "; last exit: {}", Status(status));
    }
}

/// An exit status, in words.
pub struct Status(pub ExitStatus);

impl core::fmt::Display for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            ExitStatus::Code(code) => write!(f, "exit status {}", Dec::from(code)),
            ExitStatus::Signal(signal) => write!(f, "killed by signal {}", Dec::from(signal)),
        }
    }
}

/// `init ctl …`: sends the request, prints the answer, exits with its code.
pub fn client(args: Args, first: usize) -> i32 {
    let mut path = DEFAULT_SOCKET.as_bytes();
    let mut i = first;
    if args.get(i) == Some(b"--control") {
        match args.get(i + 1) {
            Some(p) => path = p,
            None => return usage(),
        }
        i += 2;
    }
    let mut request = [0u8; REQUEST_MAX];
    let mut len = 0;
    while let Some(word) = args.get(i) {
        let end = len + word.len() + 1;
        let Some(dest) = request.get_mut(len..end) else {
            return usage();
        };
        if let Some((last, head)) = dest.split_last_mut() {
            head.copy_from_slice(word);
            *last = b' ';
        }
        len = end;
        i += 1;
    }
    if len == 0 || matches!(args.get(first), Some(b"--help" | b"-h")) {
        return usage();
    }
    if let Some(last) = request.get_mut(len - 1) {
        *last = b'\n';
    }
    let Ok(path) = core::str::from_utf8(path) else {
        return usage();
    };
    match exchange(path, request.get(..len).unwrap_or(&[])) {
        Ok(code) => code,
        Err(e) => {
            let mut line = Line::new();
            let _ = write!(
                line,
                "init ctl: unable to reach init at {path}: {}",
                sys::errno_name(e)
            );
            line.send(sys::stderr());
            3
        }
    }
}

fn usage() -> i32 {
    sys::write_all(sys::stderr(), nanolin_init::USAGE.as_bytes());
    2
}

/// Sends the request and copies the answer to standard output; returns the status.
fn exchange(path: &str, request: &[u8]) -> Result<i32, Errno> {
    let socket = net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    net::connect(&socket, &SocketAddrUnix::new(path)?)?;
    sys::write_all(socket.as_fd(), request);
    let mut buf = [0u8; 4096];
    let mut code = 3;
    // Text passes through; the status arrives last as RS, digit, newline.
    loop {
        let n = match rustix::io::read(&socket, &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e),
        };
        let chunk = buf.get(..n).unwrap_or(&[]);
        let (text, status) = match chunk.iter().position(|&b| b == b'\x1e') {
            Some(at) => (chunk.get(..at).unwrap_or(&[]), chunk.get(at + 1..)),
            None => (chunk, None),
        };
        sys::write_all(sys::stdout(), text);
        if let Some(&digit) = status.and_then(|s| s.first()) {
            code = i32::from(digit.wrapping_sub(b'0')).min(9);
        }
    }
    Ok(code)
}
