//! The supervisor's event loop: load the services, then dispatch events to the state machine
//! of `nanolin_init::supervisor` and carry out what it decides. Nothing here decides.

use core::fmt::Write;

use nanolin_init::cmdline::BootOptions;
use nanolin_init::limits::{MAX_SERVICES, SERVICE_FILE_MAX_LEN, STOP_GRACE_MS};
use nanolin_init::log::LogRing;
use nanolin_init::service::ServiceId;
use nanolin_init::supervisor::{Blocker, Decision, ExitStatus, Failure, Kill, State, Supervisor};
use nanolin_init::table::{Definition, ServiceTable};
use rustix::event::epoll;
use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{Mode, OFlags, RawDir};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};

use crate::boot;
use crate::control::{self, Ending, Reply, Request};
use crate::say::{say, Dec, Line};
use crate::spawn::{self, SpawnError};
use crate::sys::{self, Args, SignalSet};

/// Where service files live unless `--services DIR` (or `nanolin.services=`) says otherwise.
const DEFAULT_SERVICES: &str = "/etc/nanolin/services";

/// The kernel modules to load at boot unless `nanolin.modules=` says otherwise.
const DEFAULT_MODULES: &str = "/etc/nanolin/modules";

/// How often the hardware watchdog is petted; drivers time out after tens of seconds.
const WATCHDOG_PET_MS: u64 = 5_000;

/// Epoll tags: what an event is about in the high half, the service in the low half.
const TAG_SIGNALS: u64 = 0;
const TAG_CONTROL: u64 = 1 << 32;
const TAG_NOTIFY: u64 = 2 << 32;
const TAG_READY: u64 = 3 << 32;
const TAG_OUTPUT: u64 = 4 << 32;
const TAG_EXEC: u64 = 5 << 32;
const TAG_KIND: u64 = !0 << 32;

/// Bytes of service output read at once.
const OUTPUT_CHUNK: usize = 1024;

/// Longest `NOTIFY_SOCKET=…` entry.
const NOTIFY_ENV_MAX: usize = 128;

/// Events handled per wake-up.
const EVENTS_PER_WAIT: usize = 32;

/// Everything init holds, reserved once. All zero, so it lies in .bss and only the pages in
/// use cost memory.
struct Init {
    table: ServiceTable,
    sup: Supervisor,
    /// Read end of each service's readiness pipe, as fd + 1 (0: none).
    ready: [i32; MAX_SERVICES],
    /// Read end of each service's output pipe, as fd + 1 (0: none).
    output: [i32; MAX_SERVICES],
    /// Read end of each starting service's exec-status pipe, as fd + 1 (0: none).
    exec: [i32; MAX_SERVICES],
    /// The last lines of every service's output.
    log: LogRing,
    file: [u8; SERVICE_FILE_MAX_LEN],
    /// `NOTIFY_SOCKET=path`, NUL-terminated, for `ready=notify` services.
    notify_env: [u8; NOTIFY_ENV_MAX],
}

static mut INIT: Init = Init {
    table: ServiceTable::new(),
    sup: Supervisor::new(),
    ready: [0; MAX_SERVICES],
    output: [0; MAX_SERVICES],
    exec: [0; MAX_SERVICES],
    log: LogRing::new(),
    file: [0; SERVICE_FILE_MAX_LEN],
    notify_env: [0; NOTIFY_ENV_MAX],
};

/// Runs init: returns only when not PID 1 and every service is down.
pub fn main(args: Args) -> i32 {
    let mut services = DEFAULT_SERVICES.as_bytes();
    let mut explicit_services = false;
    let mut resume: Option<&[u8]> = None;
    let mut socket = control::DEFAULT_SOCKET.as_bytes();
    let mut i = 1;
    while let Some(arg) = args.get(i) {
        let value = args.get(i + 1);
        match (arg, value) {
            (b"--services", Some(v)) => {
                services = v;
                explicit_services = true;
            }
            (b"--control", Some(v)) => socket = v,
            (b"--resume", Some(v)) => resume = Some(v),
            _ => {
                sys::write_all(sys::stderr(), nanolin_init::USAGE.as_bytes());
                return 2;
            }
        }
        i += 2;
    }
    let (Ok(mut services), Ok(socket)) =
        (core::str::from_utf8(services), core::str::from_utf8(socket))
    else {
        sys::write_all(sys::stderr(), nanolin_init::USAGE.as_bytes());
        return 2;
    };

    let pid1 = rustix::process::getpid().is_init();
    let container = sys::in_container();
    let mut cmdline = [0u8; 1024];
    let mut watchdog = None;
    if pid1 && !container && resume.is_none() {
        boot::early_boot();
        let options = BootOptions::parse(boot::kernel_cmdline(&mut cmdline), |word| {
            say!("unknown option {word} ignored")
        });
        boot::load_modules(options.modules.unwrap_or(DEFAULT_MODULES));
        if !explicit_services {
            if let Some(dir) = options.services {
                services = dir;
            }
        }
        watchdog = options.watchdog.and_then(|device| {
            rustix::fs::open(device, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| {
                    say!(
                        "unable to open the watchdog {device}: {}",
                        sys::errno_name(e)
                    )
                })
                .ok()
        });
    }
    let mut next_pet = 0;
    // Every service holds a pipe or two open in init: lift the descriptor limit (services get
    // the old one back), and keep inherited descriptors from leaking into services.
    sys::raise_nofile();
    sys::close_inherited_on_exec();
    if !pid1 {
        // Orphans of our services come back to us, as they would to PID 1.
        if let Err(e) = rustix::process::set_child_subreaper(Some(rustix::process::getpid())) {
            say!("unable to become a subreaper: {}", sys::errno_name(e));
        }
    }

    // SAFETY: init is single-threaded and this is the only place INIT is referenced; the
    // reference lives for the rest of the program.
    let init: &'static mut Init = unsafe { &mut *core::ptr::addr_of_mut!(INIT) };
    load(init, services);

    let signals = SignalSet::of(&[
        libc::SIGCHLD,
        libc::SIGTERM,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
    ]);
    let signal_fd = match sys::signal_fd(&signals) {
        Ok(fd) => fd,
        Err(e) => {
            say!("unable to watch signals: {}", sys::errno_name(e));
            return 3;
        }
    };
    let Ok(epoll_fd) = epoll::create(epoll::CreateFlags::CLOEXEC) else {
        say!("unable to create an epoll instance");
        return 3;
    };
    watch(&epoll_fd, &signal_fd, TAG_SIGNALS);
    sys::set_control_socket(socket);
    let listener = match control::listen(socket) {
        Ok(fd) => {
            watch(&epoll_fd, &fd, TAG_CONTROL);
            Some(fd)
        }
        Err(e) => {
            say!(
                "unable to listen on {socket}: {}; init ctl will not reach this init",
                sys::errno_name(e)
            );
            None
        }
    };

    let notify = match notify_socket(init, socket) {
        Ok(fd) => {
            watch(&epoll_fd, &fd, TAG_NOTIFY);
            Some(fd)
        }
        Err(e) => {
            say!("unable to create the notify socket: {}; ready=notify services will not become ready", sys::errno_name(e));
            None
        }
    };
    // Service output is copied to the kernel log (at debug level, so the console shows it
    // once) when init is the system's PID 1.
    let kmsg = if pid1 && !container {
        rustix::fs::open("/dev/kmsg", OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()).ok()
    } else {
        None
    };

    if let Some(path) = resume.and_then(|p| core::str::from_utf8(p).ok()) {
        adopt_services(init, &epoll_fd, path);
    }

    let mut ending: Option<Ending> = None;
    loop {
        let now = sys::now_ms();
        if ending.is_none() {
            start_what_can_start(init, &epoll_fd, now, kmsg.as_ref());
        } else if init
            .sup
            .shutdown_step(&init.table, now, |_, kill| send(kill))
        {
            return finish(ending.unwrap_or(Ending::PowerOff), pid1, container);
        }
        if let Some(device) = &watchdog {
            // Any write pets the watchdog; a hung init stops writing and the board resets.
            if now >= next_pet {
                sys::write_all(device.as_fd(), b"\0");
                next_pet = now + WATCHDOG_PET_MS;
            }
        }
        let deadline = match (init.sup.next_deadline(), watchdog.is_some()) {
            (Some(d), true) => Some(d.min(next_pet)),
            (None, true) => Some(next_pet),
            (d, false) => d,
        };
        let timeout = deadline.map(|d| {
            let ms = d.saturating_sub(now);
            rustix::time::Timespec {
                tv_sec: (ms / 1000) as i64,
                tv_nsec: ((ms % 1000) * 1_000_000) as i64,
            }
        });
        let mut events = [core::mem::MaybeUninit::<epoll::Event>::uninit(); EVENTS_PER_WAIT];
        let ready = match epoll::wait(&epoll_fd, &mut events[..], timeout.as_ref()) {
            Ok((ready, _)) => ready,
            Err(_) => &mut [],
        };
        for event in ready.iter() {
            match event.data.u64() {
                TAG_SIGNALS => {
                    while let Some(signal) = sys::read_signal(signal_fd.as_fd()) {
                        match signal as i32 {
                            libc::SIGCHLD => reap(init, kmsg.as_ref()),
                            // As busybox init: TERM reboots, USR1 halts, USR2 powers off;
                            // INT is Ctrl-Alt-Del, which reboots.
                            libc::SIGTERM | libc::SIGINT => {
                                begin_shutdown(init, &mut ending, Ending::Reboot)
                            }
                            libc::SIGUSR1 => begin_shutdown(init, &mut ending, Ending::Halt),
                            libc::SIGUSR2 => begin_shutdown(init, &mut ending, Ending::PowerOff),
                            libc::SIGHUP if ending.is_none() => {
                                let (a, c, r) = load(init, services);
                                say!(
                                    "reloaded: {} added, {} changed, {} removed",
                                    Dec::from(a),
                                    Dec::from(c),
                                    Dec::from(r)
                                );
                            }
                            _ => {}
                        }
                    }
                }
                TAG_CONTROL => {
                    if let Some(listener) = &listener {
                        let mut reexec = false;
                        control::serve(listener, |request, reply| {
                            if matches!(request, Some(Request::Reexec)) {
                                reexec = ending.is_none();
                                return if reexec { 0 } else { 1 };
                            }
                            answer(init, request, reply, &mut ending, services)
                        });
                        if reexec {
                            reexec_self(init, socket);
                        }
                    }
                }
                TAG_NOTIFY => {
                    if let Some(fd) = &notify {
                        notified(init, fd);
                    }
                }
                tag => {
                    let id = (tag & !TAG_KIND) as ServiceId;
                    match tag & TAG_KIND {
                        TAG_READY => readiness(init, id),
                        TAG_OUTPUT => output(init, id, kmsg.as_ref()),
                        TAG_EXEC => exec_status(init, id),
                        _ => {}
                    }
                }
            }
        }
        init.sup.tick(sys::now_ms(), send);
    }
}

/// Reads the services folder: at start, and again on a reload. New files are added, removed
/// ones stopped, changed ones read again (a running service keeps its process; the new
/// definition applies at its next start). Every name is declared before any file is read,
/// so a `needs=` may name a service whose file comes later in the folder. Returns the counts
/// added, changed and removed.
fn load(init: &mut Init, dir: &str) -> (usize, usize, usize) {
    let (mut added, mut changed, mut removed) = (0, 0, 0);
    let fd = match rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            say!(
                "unable to open {dir}: {}; no services read",
                sys::errno_name(e)
            );
            return (0, 0, 0);
        }
    };
    // Pass 1: the names. A bit per service says its file is there.
    let mut listed = [0u64; MAX_SERVICES / 64];
    let known = init.table.len();
    let mut buf = [core::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut entries = RawDir::new(&fd, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        let Ok(name) = core::str::from_utf8(entry.file_name().to_bytes()) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let id = match init.table.find(name) {
            Some(id) => id,
            None => match init.table.declare(name) {
                Ok(id) => id,
                Err(e) => {
                    say!("{dir}/{name}: {e}; skipped");
                    continue;
                }
            },
        };
        if let Some(word) = listed.get_mut(usize::from(id) / 64) {
            *word |= 1 << (id % 64);
        }
    }
    // Pass 2: the files, and what disappeared.
    for id in init.table.ids() {
        let is_listed = listed
            .get(usize::from(id) / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0);
        if !is_listed {
            if !matches!(
                init.table.entry(id).map(|e| e.definition),
                Some(Definition::Removed)
            ) {
                init.table.remove(id);
                removed += 1;
            }
            continue;
        }
        let mut path = Line::new();
        let _ = write!(path, "{dir}/{}", init.table.name(id));
        let path = core::str::from_utf8(path.as_bytes()).unwrap_or("");
        let text = match sys::read_file(&mut init.file, path) {
            Ok(text) => text,
            Err(e) => {
                say!("unable to read {path}: {}", sys::errno_name(e));
                continue;
            }
        };
        match init.table.redefine(id, text) {
            Ok(true) if usize::from(id) >= known => added += 1,
            Ok(true) => changed += 1,
            Ok(false) => {}
            Err(e) => say!("{path}: {e}"),
        }
    }
    init.table.mark_cycles(report_cycle);
    init.sup.refresh(&init.table, sys::now_ms(), send);
    (added, changed, removed)
}

fn report_cycle(table: &ServiceTable, cycle: &[ServiceId]) {
    let mut line = Line::new();
    let _ = write!(line, "init: dependency cycle: ");
    for &id in cycle {
        let _ = write!(line, "{} -> ", table.name(id));
    }
    let _ = write!(
        line,
        "{}; these services will not start",
        cycle.first().map_or("", |&id| table.name(id))
    );
    line.send(sys::stderr());
}

/// Where the running services are handed to the next init: beside the control socket.
fn resume_path(control: &str) -> Line {
    let dir = control
        .rsplit_once('/')
        .map_or(".", |(d, _)| if d.is_empty() { "/" } else { d });
    let mut path = Line::new();
    let _ = write!(path, "{dir}/init.resume");
    path
}

/// Executes init again, handing over every running service: its pid, whether it is up, and
/// its output and readiness pipes, kept open across the exec. Returns only on failure.
fn reexec_self(init: &mut Init, control: &str) {
    let path = resume_path(control);
    let path = core::str::from_utf8(path.as_bytes()).unwrap_or("");
    let Ok(file) = rustix::fs::open(
        path,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
    ) else {
        say!("unable to write {path}; not re-executing");
        return;
    };
    let keep = |slot: i32, keep: bool| {
        if slot > 0 {
            let flags = if keep {
                rustix::io::FdFlags::empty()
            } else {
                rustix::io::FdFlags::CLOEXEC
            };
            let _ = rustix::io::fcntl_setfd(sys::borrow_raw(slot - 1), flags);
        }
    };
    for id in init.table.ids() {
        let Some(report) = init.sup.report(id) else {
            continue;
        };
        let Some(pid) = report.state.pid() else {
            continue;
        };
        let up = matches!(report.state, State::Up { .. });
        let output = init.output.get(usize::from(id)).copied().unwrap_or(0);
        let ready = init.ready.get(usize::from(id)).copied().unwrap_or(0);
        keep(output, true);
        keep(ready, true);
        let mut line = Line::new();
        let _ = write!(
            line,
            "{} {} {} {} {}",
            init.table.name(id),
            Dec::from(pid),
            if up { "1" } else { "0" },
            Dec::from(output - 1),
            Dec::from(ready - 1)
        );
        line.send(file.as_fd());
    }
    drop(file);
    say!("re-executing, keeping every service running");
    let e = sys::reexec(path);
    say!("unable to re-execute: {}; carrying on", sys::errno_name(e));
    for (&output, &ready) in init.output.iter().zip(init.ready.iter()) {
        keep(output, false);
        keep(ready, false);
    }
    let _ = rustix::fs::unlink(path);
}

/// Takes over the services the previous init handed over in `path`.
fn adopt_services(init: &mut Init, epoll_fd: &OwnedFd, path: &str) {
    let text = match sys::read_file(&mut init.file, path) {
        Ok(text) => text,
        Err(e) => {
            say!(
                "unable to read {path}: {}; services are started afresh",
                sys::errno_name(e)
            );
            return;
        }
    };
    let now = sys::now_ms();
    let mut adopted = 0;
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        let (Some(name), Some(pid), Some(up), Some(output), Some(ready)) = (
            words.next(),
            words.next(),
            words.next(),
            words.next(),
            words.next(),
        ) else {
            continue;
        };
        let (Some(id), Ok(pid), Ok(output), Ok(ready)) = (
            init.table.find(name),
            pid.parse::<i32>(),
            output.parse::<i32>(),
            ready.parse::<i32>(),
        ) else {
            continue;
        };
        init.sup.adopt(&init.table, id, pid, up == "1", now);
        for (fd, tag, slots) in [
            (output, TAG_OUTPUT, &mut init.output),
            (ready, TAG_READY, &mut init.ready),
        ] {
            if fd < 0 {
                continue;
            }
            let borrowed = sys::borrow_raw(fd);
            let _ = rustix::io::fcntl_setfd(borrowed, rustix::io::FdFlags::CLOEXEC);
            watch(epoll_fd, borrowed, tag + u64::from(id));
            if let Some(slot) = slots.get_mut(usize::from(id)) {
                *slot = fd + 1;
            }
        }
        adopted += 1;
    }
    let _ = rustix::fs::unlink(path);
    say!("took over {} running services", Dec::from(adopted));
}

/// The panic handler's way out: re-execute with every service kept, if init got that far.
pub fn reexec_after_panic() {
    // SAFETY: init is single-threaded and the panic ended the event loop for good, so the
    // loop's borrow of INIT is never used again; nothing else touches it.
    let init = unsafe { &mut *core::ptr::addr_of_mut!(INIT) };
    if !init.table.is_empty() {
        reexec_self(init, sys::control_socket());
    }
}

/// Starts every service the supervisor says can start.
fn start_what_can_start(init: &mut Init, epoll_fd: &OwnedFd, now: u64, kmsg: Option<&OwnedFd>) {
    while let Some(decision) = init.sup.next(&init.table) {
        match decision {
            Decision::Start(id) => match spawn::spawn(&init.table, id, &init.notify_env) {
                Ok(spawned) => {
                    // The previous run's last words, if any are unread, before its pipe goes.
                    output(init, id, kmsg);
                    keep_fd(&mut init.output, id, spawned.output, epoll_fd, TAG_OUTPUT);
                    if let Some(ready) = spawned.ready {
                        keep_fd(&mut init.ready, id, ready, epoll_fd, TAG_READY);
                    }
                    keep_fd(&mut init.exec, id, spawned.exec, epoll_fd, TAG_EXEC);
                    init.sup.started(id, spawned.pid, now);
                }
                Err(e) => {
                    say!("unable to start {}: {}", init.table.name(id), e);
                    init.sup.spawn_failed(id, SpawnError::errno(&e));
                }
            },
            Decision::Blocked(id, why) => {
                let name = init.table.name(id);
                match why {
                    Blocker::Dependency(d) => say!(
                        "{name} not started: it needs {}, which cannot start",
                        init.table.name(d)
                    ),
                    Blocker::Cycle => say!("{name} not started: it is part of a dependency cycle"),
                    Blocker::InvalidDefinition => say!("{name} not started: its file is broken"),
                    Blocker::Removed => {}
                }
            }
        }
    }
}

/// Adds `fd` to the epoll set, its events tagged `tag`. A failure means its events are
/// missed, which the caller cannot mend; the service still runs.
fn watch(epoll_fd: &OwnedFd, fd: impl AsFd, tag: u64) {
    let _ = epoll::add(
        epoll_fd,
        fd,
        epoll::EventData::new_u64(tag),
        epoll::EventFlags::IN,
    );
}

/// Watches `fd` (tagged with `kind` and `id`) and keeps it in `slots` in place of any earlier
/// one of `id`.
fn keep_fd(
    slots: &mut [i32; MAX_SERVICES],
    id: ServiceId,
    fd: OwnedFd,
    epoll_fd: &OwnedFd,
    kind: u64,
) {
    watch(epoll_fd, &fd, kind + u64::from(id));
    close_slot(slots, id);
    if let Some(slot) = slots.get_mut(usize::from(id)) {
        *slot = sys::into_raw(fd) + 1;
    }
}

/// Closes the descriptor kept for `id` in `slots`, if any.
fn close_slot(slots: &mut [i32; MAX_SERVICES], id: ServiceId) {
    if let Some(slot) = slots.get_mut(usize::from(id)) {
        if *slot != 0 {
            sys::close_raw(*slot - 1);
            *slot = 0;
        }
    }
}

/// The exec-status pipe of `id` spoke: its program runs, or could not be started.
fn exec_status(init: &mut Init, id: ServiceId) {
    let Some(&slot) = init.exec.get(usize::from(id)) else {
        return;
    };
    if slot == 0 {
        return;
    }
    let Some(result) = spawn::exec_result(sys::borrow_raw(slot - 1)) else {
        return;
    };
    close_slot(&mut init.exec, id);
    match result {
        Ok(()) => init.sup.executed(&init.table, id),
        Err(e) => {
            say!("unable to start {}: {}", init.table.name(id), e);
            init.sup.spawn_failed(id, e.errno());
        }
    }
}

/// Closes the readiness pipe of `id`, if it has one.
fn forget_ready(init: &mut Init, id: ServiceId) {
    close_slot(&mut init.ready, id);
}

/// Service `id` printed something: keep it, show it on the console, copy it to the kernel log.
fn output(init: &mut Init, id: ServiceId, kmsg: Option<&OwnedFd>) {
    let Some(&slot) = init.output.get(usize::from(id)) else {
        return;
    };
    if slot == 0 {
        return;
    }
    // The read end is non-blocking: take everything there is, then go back to the loop.
    loop {
        let mut buf = [0u8; OUTPUT_CHUNK];
        let n = match rustix::io::read(sys::borrow_raw(slot - 1), &mut buf) {
            Ok(0) | Err(Errno::BADF) => {
                // Every writer is gone.
                close_slot(&mut init.output, id);
                return;
            }
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(_) => return,
        };
        show_output(init, id, buf.get(..n).unwrap_or(&[]), kmsg);
    }
}

/// Keeps and shows one chunk of a service's output.
fn show_output(init: &mut Init, id: ServiceId, text: &[u8], kmsg: Option<&OwnedFd>) {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    for line in text.split(|&b| b == b'\n') {
        init.log.push(id, line);
        let name = init.table.name(id);
        let mut shown = Line::new();
        let _ = write!(shown, "{name}: ");
        shown.push_bytes(line);
        shown.send(sys::stderr());
        if let Some(kmsg) = kmsg {
            let mut logged = Line::new();
            let _ = write!(logged, "<7>{name}: ");
            logged.push_bytes(line);
            logged.send(kmsg.as_fd());
        }
    }
}

/// Creates the datagram socket `ready=notify` services send `READY=1` to, beside the control
/// socket, and the environment entry that names it.
fn notify_socket(init: &mut Init, control: &str) -> Result<OwnedFd, Errno> {
    use rustix::net::{self, AddressFamily, SocketAddrUnix, SocketFlags, SocketType};
    let dir = control
        .rsplit_once('/')
        .map_or(".", |(d, _)| if d.is_empty() { "/" } else { d });
    let mut path = Line::new();
    let _ = write!(path, "{dir}/notify");
    let path = core::str::from_utf8(path.as_bytes()).unwrap_or("");
    let mut entry = Line::new();
    let _ = write!(entry, "NOTIFY_SOCKET={path}\0");
    let entry = entry.as_bytes();
    init.notify_env
        .get_mut(..entry.len())
        .ok_or(Errno::NAMETOOLONG)?
        .copy_from_slice(entry);
    let _ = rustix::fs::unlink(path);
    let socket = net::socket_with(
        AddressFamily::UNIX,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
        None,
    )?;
    net::bind(&socket, &SocketAddrUnix::new(path)?)?;
    // The kernel then tells which process sent each message.
    net::sockopt::set_socket_passcred(&socket, true)?;
    Ok(socket)
}

/// A service wrote to the notify socket: `READY=1` from its main process makes it ready.
fn notified(init: &mut Init, socket: &OwnedFd) {
    use core::mem::MaybeUninit;
    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
    loop {
        let mut buf = [0u8; 512];
        let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmCredentials(1))];
        let mut control = RecvAncillaryBuffer::new(&mut space);
        let mut iov = [rustix::io::IoSliceMut::new(&mut buf)];
        let Ok(msg) = rustix::net::recvmsg(socket, &mut iov, &mut control, RecvFlags::DONTWAIT)
        else {
            return;
        };
        let mut sender = None;
        for message in control.drain() {
            if let RecvAncillaryMessage::ScmCredentials(cred) = message {
                sender = Some(cred.pid.as_raw_nonzero().get());
            }
        }
        let text = buf.get(..msg.bytes).unwrap_or(&[]);
        let ready = text.split(|&b| b == b'\n').any(|l| l == b"READY=1");
        if let (true, Some(pid)) = (ready, sender) {
            if let Some(id) = init.sup.find_pid(pid) {
                init.sup.ready(id);
            }
        }
    }
}

/// Something arrived on the readiness pipe of `id`: a newline means ready.
fn readiness(init: &mut Init, id: ServiceId) {
    let Some(&slot) = init.ready.get(usize::from(id)) else {
        return;
    };
    if slot == 0 {
        return;
    }
    let mut buf = [0u8; 64];
    match rustix::io::read(sys::borrow_raw(slot - 1), &mut buf) {
        Ok(n) if buf.get(..n).is_some_and(|b| b.contains(&b'\n')) => {
            init.sup.ready(id);
            forget_ready(init, id);
        }
        Ok(0) | Err(_) => forget_ready(init, id),
        Ok(_) => {}
    }
}

/// Collects every process that ended, services and orphans alike.
fn reap(init: &mut Init, kmsg: Option<&OwnedFd>) {
    while let Ok(Some((pid, status))) = rustix::process::wait(WaitOptions::NOHANG) {
        let status = match (status.exit_status(), status.terminating_signal()) {
            (Some(code), _) => ExitStatus::Code(code),
            (_, Some(signal)) => ExitStatus::Signal(signal),
            _ => continue,
        };
        let now = sys::now_ms();
        // What the service printed before it ended comes before the news of its end, and so
        // does a failed exec, which makes the process no longer the service's.
        if let Some(id) = init.sup.find_pid(pid.as_raw_nonzero().get()) {
            output(init, id, kmsg);
            exec_status(init, id);
        }
        let Some(exit) = init
            .sup
            .exited(&init.table, pid.as_raw_nonzero().get(), status, now)
        else {
            continue;
        };
        forget_ready(init, exit.id);
        let name = init.table.name(exit.id);
        let how = control::Status(exit.status);
        let delay = match exit.state {
            State::Backoff { until } => Some(until.saturating_sub(now)),
            State::Waiting => Some(0),
            _ => None,
        };
        match exit.state {
            State::Backoff { .. } | State::Waiting => {
                say!(
                    "{name} ended ({how}); restarting in {} ms",
                    Dec::from(delay.unwrap_or(0))
                )
            }
            State::Failed(Failure::CrashLoop(_)) => {
                say!("{name} ended ({how}) and keeps crashing; not restarting it (init ctl start {name} tries again)")
            }
            State::Failed(_) => say!("{name} failed ({how})"),
            _ => {}
        }
    }
}

/// Sends a signal to a service's process group.
fn send(kill: Kill) {
    let (pid, signal) = match kill {
        Kill::Term(pid) => (pid, Signal::TERM),
        Kill::Kill(pid) => (pid, Signal::KILL),
    };
    if let Some(pid) = Pid::from_raw(pid) {
        // The service runs in its own session: signal its whole group. The leader is in it
        // unless it moved out; only then is it signalled alone, since a second signal can
        // run a shell's trap twice.
        let _ = rustix::process::kill_process_group(pid, signal);
        if rustix::process::getpgid(Some(pid)) != Ok(pid) {
            let _ = rustix::process::kill_process(pid, signal);
        }
    }
}

fn begin_shutdown(init: &mut Init, ending: &mut Option<Ending>, how: Ending) {
    if ending.is_none() {
        say!(
            "stopping every service to {}",
            match how {
                Ending::PowerOff => "power off",
                Ending::Reboot => "reboot",
                Ending::Halt => "halt",
                Ending::Kexec => "kexec",
            }
        );
        *ending = Some(how);
        init.sup.shut_down();
    }
}

/// Answers one control request.
fn answer(
    init: &mut Init,
    request: Option<Request<'_>>,
    reply: &mut Reply,
    ending: &mut Option<Ending>,
    services: &str,
) -> u8 {
    let now = sys::now_ms();
    let Some(request) = request else {
        reply.usage();
        return 2;
    };
    let name = match request {
        Request::Status => {
            for id in init.table.ids() {
                let mut line = Line::new();
                control::describe(&init.table, &init.sup, id, &mut line, now);
                reply.line(&mut line);
            }
            return 0;
        }
        Request::Shutdown(how) => {
            begin_shutdown(init, ending, how);
            return 0;
        }
        Request::Reload if ending.is_some() => return 1,
        // Handled by the event loop, once the answer is sent.
        Request::Reexec => return 0,
        Request::Reload => {
            let (a, c, r) = load(init, services);
            let mut line = Line::new();
            let _ = write!(
                line,
                "reloaded: {} added, {} changed, {} removed",
                Dec::from(a),
                Dec::from(c),
                Dec::from(r)
            );
            reply.line(&mut line);
            return 0;
        }
        Request::Start(name)
        | Request::Stop(name)
        | Request::Restart(name)
        | Request::Log(name) => name,
    };
    let Some(id) = init.table.find(name) else {
        let mut line = Line::new();
        let _ = write!(line, "no service called {name}");
        reply.line(&mut line);
        return 1;
    };
    match request {
        Request::Log(_) => {
            let mut line = Line::new();
            init.log.lines(id, |piece, continued| {
                if !continued && !line.as_bytes().is_empty() {
                    reply.line(&mut line);
                    line = Line::new();
                }
                line.push_bytes(piece);
            });
            if !line.as_bytes().is_empty() {
                reply.line(&mut line);
            }
        }
        Request::Start(_) => {
            if !init.sup.start(id) {
                let mut line = Line::new();
                control::describe(&init.table, &init.sup, id, &mut line, now);
                reply.line(&mut line);
                return 1;
            }
        }
        Request::Stop(_) => {
            if let Some(kill) = init.sup.stop(id, false, now) {
                send(kill);
            }
        }
        _ => {
            if let Some(kill) = init.sup.stop(id, true, now) {
                send(kill);
            }
        }
    }
    0
}

/// Every service is down: end the system (PID 1) or return (a supervisor for tests).
fn finish(ending: Ending, pid1: bool, container: bool) -> i32 {
    if !pid1 {
        say!("every service is stopped");
        return 0;
    }
    // What is left is not a service: ask it to end, then make it.
    terminate_everything();
    rustix::fs::sync();
    if !container {
        // A read-only root survives the power going away.
        if let Err(e) = rustix::mount::mount_remount("/", rustix::mount::MountFlags::RDONLY, "") {
            say!("unable to remount / read-only: {}", sys::errno_name(e));
        }
    }
    let command = match ending {
        Ending::PowerOff => rustix::system::RebootCommand::PowerOff,
        Ending::Reboot => rustix::system::RebootCommand::Restart,
        Ending::Halt => rustix::system::RebootCommand::Halt,
        Ending::Kexec => rustix::system::RebootCommand::Kexec,
    };
    let mut e = rustix::system::reboot(command)
        .err()
        .unwrap_or(Errno::INVAL);
    if ending == Ending::Kexec {
        // No kernel loaded (EINVAL): an ordinary reboot instead.
        e = rustix::system::reboot(rustix::system::RebootCommand::Restart)
            .err()
            .unwrap_or(Errno::INVAL);
    }
    say!(
        "unable to end the system: {}; halting here",
        sys::errno_name(e)
    );
    loop {
        let _ = rustix::event::epoll::create(epoll::CreateFlags::CLOEXEC).map(|ep| {
            let mut events = [core::mem::MaybeUninit::<epoll::Event>::uninit(); 1];
            let _ = epoll::wait(&ep, &mut events[..], None);
        });
    }
}

/// SIGTERM to every process, a grace period, SIGKILL to what remains, all reaped.
fn terminate_everything() {
    sys::kill_all(libc::SIGTERM);
    let deadline = sys::now_ms() + STOP_GRACE_MS;
    while sys::now_ms() < deadline {
        match rustix::process::wait(WaitOptions::NOHANG) {
            Ok(Some(_)) => continue,
            Err(Errno::CHILD) => return,
            _ => sys::sleep_ms(10),
        }
    }
    sys::kill_all(libc::SIGKILL);
    while let Ok(Some(_)) = rustix::process::wait(WaitOptions::empty()) {}
}
