//! Running a recipe's build steps in a sandbox, and checking what they installed.
//!
//! The sandbox is [bubblewrap](https://github.com/containers/bubblewrap) (`bwrap`, Debian
//! package `bubblewrap`): the same few namespace and mount system calls every distribution's
//! build sandbox makes, in a small, well-kept setuid-free program. One build step runs as
//!
//! ```text
//! bwrap --unshare-all --unshare-user --disable-userns --uid 0 --gid 0 --hostname nanolin
//!       --cap-drop ALL --die-with-parent --new-session
//!       --ro-bind /usr /usr --symlink usr/bin /bin …   (every entry of the host's /, read-only)
//!       --bind BUILD /build --bind DESTDIR /dest
//!       --tmpfs /tmp --tmpfs /run --proc /proc --dev /dev --remount-ro / --chdir /build
//!       -- /bin/sh -c 'umask 022; exec "$@" 2>&1' nanolin-build COMMAND…
//! ```
//!
//! so the step sees:
//!
//! - **no network**: a network namespace of its own, holding only the loopback interface;
//!   nothing outside it, not even the host's `127.0.0.1`, can be reached;
//! - **its own processes only**: a PID namespace (bwrap is PID 1 and reaps), and IPC, UTS
//!   (host name `nanolin`) and cgroup namespaces;
//! - **a read-only file system** except two directories, both at fixed paths so two builds
//!   in different host directories see the same paths and can give the same bytes:
//!   [`BUILD_DIR`] (`/build`: the sources, the working directory, `$HOME`, `$srcdir`) and
//!   [`DEST_DIR`] (`/dest`: `$DESTDIR`). `/tmp` and `/run` are private and empty (a fresh
//!   `/run` also hides the host's sockets, which a read-only mount would not), `/proc` is the
//!   sandbox's own and `/dev` is bwrap's minimal one (`null`, `zero`, `full`, `random`,
//!   `urandom`, `tty`, `pts`, `shm`);
//! - **an unprivileged user**: uid and gid 0 inside a user namespace that maps them to the
//!   caller's own ids, with every capability dropped and no further user namespaces allowed,
//!   so files it creates belong to the caller on the host and show as 0:0 inside (owners are
//!   made 0:0 in the image anyway). When the caller is root that uid is root's own, but
//!   without capabilities it can neither remount the read-only mounts nor override
//!   permissions. Where user
//!   namespaces are forbidden (some containers) and the caller is root, bwrap runs without
//!   one: the step runs as root with every capability dropped;
//! - **a clean environment**: only `PATH=/usr/bin:/bin`, `HOME=/build`, `srcdir=/build`,
//!   `DESTDIR=/dest`, `LC_ALL=C`, `TZ=UTC`, `SOURCE_DATE_EPOCH` and the caller's extra
//!   variables (target triple and the like; they come last and win), with `umask 022`.
//!
//! Standard output and error of the step, merged in order, are appended to a log file, and
//! either copied to our standard error as they come (verbose) or summed up there in a
//! [`StatusLine`]: the time taken and the last line printed, redrawn in place on a terminal.
//!
//! After the step, [`check_destdir`] refuses what a package may not hold: setuid or setgid
//! files, device nodes, sockets, FIFOs, hard links shared with files outside the destination,
//! and symbolic links that lead outside the destination. A link's target is resolved the way
//! the board will resolve it once the package is mounted at `/`: a relative target from the
//! link's directory, an absolute one from the destination taken as the root, following the
//! links met on the way; a `..` that climbs above that root is refused, even where the kernel
//! would stop at `/` (`/../etc/passwd`), since it only makes sense as an attempt to get out.
//! Dangling links that stay inside are fine: the file may come from another package.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{mpsc, Mutex, OnceLock};

use crate::status_line::{Display, StatusLine};
use crate::Status;

/// Where the build directory is mounted in the sandbox: working directory, `$HOME`, `$srcdir`.
pub const BUILD_DIR: &str = "/build";

/// Where the destination directory is mounted in the sandbox: `$DESTDIR`.
pub const DEST_DIR: &str = "/dest";

/// `PATH` in the sandbox.
pub const PATH: &str = "/usr/bin:/bin";

/// How many lines of the log a failed build's error shows.
pub const LOG_TAIL_LINES: usize = 20;

/// How many symbolic links one link's target may pass through before it counts as a loop
/// (the kernel's limit).
pub const MAX_LINK_DEPTH: u32 = 40;

/// The sandbox program and the Debian package that has it.
const BWRAP: &str = "bwrap";
const BWRAP_PACKAGE: &str = "bubblewrap";

/// Host entries of `/` that the sandbox replaces with its own (or mounts over).
const REPLACED: &[&str] = &["proc", "dev", "tmp", "run", "build", "dest"];

/// The last bytes of a log read to find its last lines.
const TAIL_WINDOW: u64 = 64 * 1024;

/// One build step to run: where, with what environment, logging where.
#[derive(Debug, Clone)]
pub struct Sandbox {
    /// Host directory with the unpacked sources, mounted writable at [`BUILD_DIR`].
    pub build_dir: PathBuf,
    /// Host directory the step installs into, mounted writable at [`DEST_DIR`] (`$DESTDIR`).
    pub dest_dir: PathBuf,
    /// File the step's output is appended to (created if missing).
    pub log: PathBuf,
    /// `SOURCE_DATE_EPOCH`: seconds since 1970, the time the build pretends it is.
    pub source_date_epoch: u64,
    /// Extra variables (`CARCH`, `CHOST`, a cross compiler's `PATH`…), set after the fixed
    /// ones, so they win.
    pub env: Vec<(String, String)>,
    /// What the step's output does besides going to the log.
    pub output: StepOutput,
}

/// What a step's output does besides going to its log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutput {
    /// Copied to our standard error as it comes (`-v`).
    Stream,
    /// Summed up on our standard error by a [`StatusLine`] with this label: on a terminal
    /// redrawn in place with the time taken and the last line printed; otherwise a plain
    /// line now and then.
    Status(String),
}

/// What went wrong running a build step or checking what it installed.
#[derive(Debug)]
pub enum SandboxError {
    /// bwrap is not installed.
    Missing,
    /// bwrap is installed but cannot build its sandbox here.
    Unusable {
        /// What bwrap said.
        reason: String,
    },
    /// A file or directory could not be read, written or created.
    Io {
        /// What we were doing, as a verb phrase ("read", "create").
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// The build or destination directory is not a directory.
    NotADirectory(PathBuf),
    /// An extra variable has a name the shell cannot take, or a value with a NUL byte.
    BadVariable(String),
    /// No command was given.
    NoCommand,
    /// The step failed.
    Failed {
        /// How it ended.
        status: ExitStatus,
        /// The full log.
        log: PathBuf,
        /// Its last lines ([`LOG_TAIL_LINES`]).
        tail: Vec<String>,
    },
    /// A file is setuid or setgid.
    Privileged {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A device node, socket or FIFO.
    Special {
        /// The file.
        path: PathBuf,
        /// What it is ("character device", "socket"…).
        kind: &'static str,
    },
    /// A symbolic link that leads outside the destination.
    LinkOut {
        /// The link.
        path: PathBuf,
        /// Its target.
        target: PathBuf,
    },
    /// A symbolic link whose target passes through more than [`MAX_LINK_DEPTH`] links.
    LinkLoop {
        /// The link.
        path: PathBuf,
    },
    /// A file with hard links outside the destination.
    HardLinkOut {
        /// One of its names inside.
        path: PathBuf,
        /// Its link count.
        links: u64,
        /// How many of those links are inside.
        inside: u64,
    },
}

impl SandboxError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        SandboxError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The exit status this error maps to: a failed or refused build is a "no", a missing or
    /// unusable sandbox or an I/O error a system failure, a bad request a usage error.
    pub fn status(&self) -> Status {
        match self {
            SandboxError::Missing | SandboxError::Unusable { .. } | SandboxError::Io { .. } => {
                Status::System
            }
            SandboxError::NotADirectory(_)
            | SandboxError::BadVariable(_)
            | SandboxError::NoCommand => Status::Usage,
            SandboxError::Failed { .. }
            | SandboxError::Privileged { .. }
            | SandboxError::Special { .. }
            | SandboxError::LinkOut { .. }
            | SandboxError::LinkLoop { .. }
            | SandboxError::HardLinkOut { .. } => Status::No,
        }
    }
}

impl fmt::Display for SandboxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SandboxError::Missing => write!(
                f,
                "{BWRAP} is not installed: builds run in its sandbox; install it with \
                 `apt-get install {BWRAP_PACKAGE}`"
            ),
            SandboxError::Unusable { reason } => write!(
                f,
                "{BWRAP} cannot build the sandbox here: {reason}; it needs user namespaces \
                 (sysctl user.max_user_namespaces > 0, kernel.unprivileged_userns_clone=1) or root"
            ),
            SandboxError::Io {
                action,
                path,
                source,
            } => write!(f, "unable to {action} {}: {source}", path.display()),
            SandboxError::NotADirectory(path) => {
                write!(f, "{} is not a directory", path.display())
            }
            SandboxError::BadVariable(name) => write!(
                f,
                "cannot pass variable {name:?} to the build: names are letters, digits and _ \
                 not starting with a digit, and values hold no NUL byte"
            ),
            SandboxError::NoCommand => f.write_str("no build command given"),
            SandboxError::Failed { status, log, tail } => {
                write!(
                    f,
                    "the build failed ({status}). It ran without network and with a read-only \
                     file system except {BUILD_DIR} and $DESTDIR ({DEST_DIR}): a recipe must \
                     list its downloads in source= and install only into $DESTDIR. Last lines \
                     of the log {}:",
                    log.display()
                )?;
                for line in tail {
                    write!(f, "\n  {line}")?;
                }
                Ok(())
            }
            SandboxError::Privileged { path, mode } => write!(
                f,
                "refusing {}: it is {} (mode {mode:04o}); packages may not install privileged \
                 files: remove the chmod from the recipe",
                path.display(),
                match (mode & 0o4000 != 0, mode & 0o2000 != 0) {
                    (true, true) => "setuid and setgid",
                    (true, false) => "setuid",
                    _ => "setgid",
                }
            ),
            SandboxError::Special { path, kind } => write!(
                f,
                "refusing {}: it is a {kind}; packages hold only files, directories and \
                 symbolic links (device nodes come from devtmpfs, sockets and FIFOs are made \
                 at run time)",
                path.display()
            ),
            SandboxError::LinkOut { path, target } => write!(
                f,
                "refusing {}: symbolic link to {} leads outside the package; links must stay \
                 inside it (absolute targets are taken with the package as /)",
                path.display(),
                target.display()
            ),
            SandboxError::LinkLoop { path } => write!(
                f,
                "refusing {}: its target passes through more than {MAX_LINK_DEPTH} symbolic \
                 links (a loop?)",
                path.display()
            ),
            SandboxError::HardLinkOut {
                path,
                links,
                inside,
            } => write!(
                f,
                "refusing {}: it has {links} hard links but only {inside} inside the \
                 destination; a package may not share files with the outside: copy it instead",
                path.display()
            ),
        }
    }
}

impl std::error::Error for SandboxError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SandboxError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Sandbox {
    /// Runs `command` (program and arguments, looked up in [`PATH`] inside the sandbox) in
    /// [`BUILD_DIR`], then checks the destination with [`check_destdir`].
    ///
    /// A recipe's steps run as `["sh", "-e", "-c", ". ./RECIPE.rcp; build"]`, then the same with
    /// `package`: the caller decides.
    pub fn run<S: AsRef<OsStr>>(&self, command: &[S]) -> Result<(), SandboxError> {
        if command.is_empty() {
            return Err(SandboxError::NoCommand);
        }
        let build_dir = directory(&self.build_dir)?;
        let dest_dir = directory(&self.dest_dir)?;
        let env = self.environment()?;
        let mode = sandbox_mode()?;

        let mut bwrap = Command::new(BWRAP);
        bwrap.args(namespace_args(mode));
        bwrap.args(root_args()?);
        bwrap
            .arg("--bind")
            .arg(&build_dir)
            .arg(BUILD_DIR)
            .arg("--bind")
            .arg(&dest_dir)
            .arg(DEST_DIR)
            .args(["--tmpfs", "/tmp", "--tmpfs", "/run", "--proc", "/proc"])
            .args([
                "--dev",
                "/dev",
                "--remount-ro",
                "/",
                "--chdir",
                BUILD_DIR,
                "--",
            ])
            .args([
                "/bin/sh",
                "-c",
                "umask 022; exec \"$@\" 2>&1",
                "nanolin-build",
            ])
            .args(command)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null());

        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| SandboxError::io("open the log", &self.log, e))?;
        let status = run_logged(&mut bwrap, &log, &self.log, &self.output)?;
        if !status.success() {
            return Err(SandboxError::Failed {
                status,
                log: self.log.clone(),
                tail: tail_lines(&self.log, LOG_TAIL_LINES)?,
            });
        }
        check_destdir(&self.dest_dir)
    }

    /// The step's whole environment, fixed variables first.
    fn environment(&self) -> Result<Vec<(String, String)>, SandboxError> {
        let mut env: Vec<(String, String)> = [
            ("PATH", PATH),
            ("HOME", BUILD_DIR),
            ("srcdir", BUILD_DIR),
            ("DESTDIR", DEST_DIR),
            ("LC_ALL", "C"),
            ("TZ", "UTC"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        env.push((
            "SOURCE_DATE_EPOCH".to_string(),
            self.source_date_epoch.to_string(),
        ));
        for (name, value) in &self.env {
            let good_name = name.bytes().enumerate().all(|(i, b)| {
                b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit())
            });
            if name.is_empty() || !good_name || value.contains('\0') {
                return Err(SandboxError::BadVariable(name.clone()));
            }
            env.retain(|(k, _)| k != name);
            env.push((name.clone(), value.clone()));
        }
        Ok(env)
    }
}

/// The directory at `path`, made absolute for bwrap.
fn directory(path: &Path) -> Result<PathBuf, SandboxError> {
    let full = fs::canonicalize(path).map_err(|e| SandboxError::io("open", path, e))?;
    if !full.is_dir() {
        return Err(SandboxError::NotADirectory(path.to_path_buf()));
    }
    Ok(full)
}

/// Whether the sandbox gets a user namespace of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Uid 0 in a user namespace mapped to the caller.
    UserNamespace,
    /// No user namespace: the caller is root and user namespaces are forbidden here.
    RootWithoutCapabilities,
}

fn namespace_args(mode: Mode) -> Vec<&'static str> {
    let mut args = vec!["--unshare-all"];
    if mode == Mode::UserNamespace {
        args.extend([
            "--unshare-user",
            "--disable-userns",
            "--uid",
            "0",
            "--gid",
            "0",
        ]);
    }
    args.extend([
        "--hostname",
        "nanolin",
        "--cap-drop",
        "ALL",
        "--die-with-parent",
        "--new-session",
    ]);
    args
}

/// Finds out once whether bwrap works here, and how.
fn sandbox_mode() -> Result<Mode, SandboxError> {
    static MODE: OnceLock<Result<Mode, String>> = OnceLock::new();
    let found = MODE.get_or_init(|| {
        let first = probe(Mode::UserNamespace)?;
        let Some(reason) = first else {
            return Ok(Mode::UserNamespace);
        };
        let root = fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        if root && probe(Mode::RootWithoutCapabilities)?.is_none() {
            return Ok(Mode::RootWithoutCapabilities);
        }
        Err(reason)
    });
    match found {
        Ok(mode) => Ok(*mode),
        Err(reason) if reason.is_empty() => Err(SandboxError::Missing),
        Err(reason) => Err(SandboxError::Unusable {
            reason: reason.clone(),
        }),
    }
}

/// Runs `true` in a sandbox of this mode: `Ok(None)` if it works, `Ok(Some(why))` if not,
/// `Err("")` if bwrap is missing.
fn probe(mode: Mode) -> Result<Option<String>, String> {
    let out = Command::new(BWRAP)
        .args(namespace_args(mode))
        .args([
            "--ro-bind",
            "/",
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--",
        ])
        .arg("true")
        .env_clear()
        .env("PATH", PATH)
        .stdin(Stdio::null())
        .output();
    match out {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(String::new()),
        Err(e) => Ok(Some(e.to_string())),
        Ok(out) if out.status.success() => Ok(None),
        Ok(out) => Ok(Some(
            String::from_utf8_lossy(&out.stderr).trim().to_string(),
        )),
    }
}

fn spawn_error(e: io::Error) -> SandboxError {
    if e.kind() == io::ErrorKind::NotFound {
        SandboxError::Missing
    } else {
        SandboxError::io("run", Path::new(BWRAP), e)
    }
}

/// bwrap arguments that rebuild the host's `/` read-only: each entry bound at its place,
/// symbolic links (`/bin -> usr/bin`) recreated, except the entries the sandbox replaces.
fn root_args() -> Result<Vec<OsString>, SandboxError> {
    let root = Path::new("/");
    let mut names = Vec::new();
    for entry in fs::read_dir(root).map_err(|e| SandboxError::io("list", root, e))? {
        let entry = entry.map_err(|e| SandboxError::io("list", root, e))?;
        let name = entry.file_name();
        if !REPLACED.iter().any(|r| OsStr::new(r) == name) {
            names.push(name);
        }
    }
    names.sort();
    let mut args = Vec::new();
    for name in names {
        let path = root.join(&name);
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue; // gone since listed
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = fs::read_link(&path).map_err(|e| SandboxError::io("read", &path, e))?;
            args.extend([OsString::from("--symlink"), target.into(), path.into()]);
        } else if kind.is_dir() || kind.is_file() {
            args.extend([
                OsString::from("--ro-bind"),
                path.clone().into(),
                path.into(),
            ]);
        }
    }
    Ok(args)
}

/// Runs `command` with its output appended to `log` and shown as `output` says.
fn run_logged(
    command: &mut Command,
    log: &File,
    log_path: &Path,
    output: &StepOutput,
) -> Result<ExitStatus, SandboxError> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(spawn_error)?;
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let status = match output {
        StepOutput::Stream => None,
        StepOutput::Status(label) => Some(Mutex::new(StatusLine::new(
            label.as_str(),
            Display::of_stderr(),
        ))),
    };
    let (stop, stopped) = mpsc::channel::<()>();
    let copied = std::thread::scope(|scope| {
        if let Some(status) = &status {
            scope.spawn(move || redraw(status, &stopped));
        }
        let out = scope.spawn(|| stdout.map_or(Ok(()), |s| copy_output(s, log, status.as_ref())));
        let err = stderr.map_or(Ok(()), |s| copy_output(s, log, status.as_ref()));
        let out = out
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("log copier panicked")));
        drop(stop);
        out.and(err)
    });
    if let Some(status) = &status {
        lock(status).clear(&mut io::stderr());
    }
    let status = child
        .wait()
        .map_err(|e| SandboxError::io("wait for", Path::new(BWRAP), e))?;
    copied.map_err(|e| SandboxError::io("write", log_path, e))?;
    Ok(status)
}

/// Draws `status` at its display's interval until `stop` is dropped.
fn redraw(status: &Mutex<StatusLine>, stop: &mpsc::Receiver<()>) {
    let interval = lock(status).display().interval();
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(interval) {
        lock(status).draw(&mut io::stderr());
    }
}

/// The status line, even if a thread holding it panicked (it holds only text).
fn lock(status: &Mutex<StatusLine>) -> std::sync::MutexGuard<'_, StatusLine> {
    status
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Copies `from` to the log until it ends, and to our standard error or into `status`.
fn copy_output(
    mut from: impl Read,
    mut log: &File,
    status: Option<&Mutex<StatusLine>>,
) -> io::Result<()> {
    let mut buf = [0u8; 8192];
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let bytes = buf.get(..n).unwrap_or_default();
        log.write_all(bytes)?;
        match status {
            Some(status) => lock(status).feed(bytes),
            // Our terminal going away must not fail the build.
            None => drop(io::stderr().write_all(bytes)),
        }
    }
}

/// The last `count` lines of the file at `path` (looking at its last 64 KiB only).
fn tail_lines(path: &Path, count: usize) -> Result<Vec<String>, SandboxError> {
    let mut file = File::open(path).map_err(|e| SandboxError::io("read", path, e))?;
    let len = file
        .metadata()
        .map_err(|e| SandboxError::io("read", path, e))?
        .len();
    let start = len.saturating_sub(TAIL_WINDOW);
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(start))
        .and_then(|_| file.read_to_end(&mut bytes))
        .map_err(|e| SandboxError::io("read", path, e))?;
    let text = String::from_utf8_lossy(&bytes);
    let mut lines: Vec<&str> = text.lines().collect();
    if start > 0 && lines.len() > 1 {
        lines.remove(0); // cut in the middle
    }
    let skip = lines.len().saturating_sub(count);
    Ok(lines[skip..].iter().map(|l| l.to_string()).collect())
}

/// Checks what a build installed in `dest`: refuses setuid and setgid files, device nodes,
/// sockets, FIFOs, hard links shared with files outside `dest`, and symbolic links that lead
/// outside it (see the module documentation for how targets are resolved). Entries are
/// visited in byte order, so the same tree always gives the same first refusal.
pub fn check_destdir(dest: &Path) -> Result<(), SandboxError> {
    let meta = fs::metadata(dest).map_err(|e| SandboxError::io("open", dest, e))?;
    if !meta.is_dir() {
        return Err(SandboxError::NotADirectory(dest.to_path_buf()));
    }
    let mut linked = HardLinks::new();
    check_dir(dest, dest, &mut Vec::new(), &mut linked)?;
    let mut linked: Vec<(PathBuf, u64, u64)> = linked.into_values().collect();
    linked.sort();
    for (path, links, inside) in linked {
        if inside < links {
            return Err(SandboxError::HardLinkOut {
                path,
                links,
                inside,
            });
        }
    }
    Ok(())
}

/// Files with more than one link: (device, inode) → (first name met, link count, names met).
type HardLinks = HashMap<(u64, u64), (PathBuf, u64, u64)>;

fn check_dir(
    dest: &Path,
    dir: &Path,
    at: &mut Vec<OsString>,
    linked: &mut HardLinks,
) -> Result<(), SandboxError> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| SandboxError::io("list", dir, e))? {
        names.push(
            entry
                .map_err(|e| SandboxError::io("list", dir, e))?
                .file_name(),
        );
    }
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let meta = fs::symlink_metadata(&path).map_err(|e| SandboxError::io("read", &path, e))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            at.push(name);
            check_dir(dest, &path, at, linked)?;
            at.pop();
        } else if kind.is_symlink() {
            let target = fs::read_link(&path).map_err(|e| SandboxError::io("read", &path, e))?;
            let mut depth = 0;
            match resolve(dest, at, &target, &mut depth) {
                Ok(Some(_)) => {}
                Ok(None) => return Err(SandboxError::LinkOut { path, target }),
                Err(Resolve::Loop) => return Err(SandboxError::LinkLoop { path }),
                Err(Resolve::Io(p, e)) => return Err(SandboxError::io("read", &p, e)),
            }
        } else if kind.is_file() {
            let mode = meta.mode() & 0o7777;
            if mode & 0o6000 != 0 {
                return Err(SandboxError::Privileged { path, mode });
            }
            if meta.nlink() > 1 {
                linked
                    .entry((meta.dev(), meta.ino()))
                    .or_insert((path, meta.nlink(), 0))
                    .2 += 1;
            }
        } else {
            let kind = if kind.is_block_device() {
                "block device"
            } else if kind.is_char_device() {
                "character device"
            } else if kind.is_socket() {
                "socket"
            } else if kind.is_fifo() {
                "FIFO"
            } else {
                "special file"
            };
            return Err(SandboxError::Special { path, kind });
        }
    }
    Ok(())
}

/// Why a link's target could not be resolved.
enum Resolve {
    Loop,
    Io(PathBuf, io::Error),
}

/// Resolves `target`, met in directory `at` (components below `dest`), with `dest` as the
/// root, following the symbolic links on the way: the components it leads to, or `None` if a
/// `..` climbs above `dest`. Components that do not exist are taken as they are.
fn resolve(
    dest: &Path,
    at: &[OsString],
    target: &Path,
    depth: &mut u32,
) -> Result<Option<Vec<OsString>>, Resolve> {
    let mut stack: Vec<OsString> = if target.has_root() {
        Vec::new()
    } else {
        at.to_vec()
    };
    for component in target.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => stack.clear(),
            Component::CurDir => {}
            Component::ParentDir => {
                if stack.pop().is_none() {
                    return Ok(None);
                }
            }
            Component::Normal(name) => {
                stack.push(name.to_os_string());
                let here: PathBuf = dest.join(stack.iter().collect::<PathBuf>());
                let is_link = fs::symlink_metadata(&here).is_ok_and(|m| m.file_type().is_symlink());
                if is_link {
                    *depth += 1;
                    if *depth > MAX_LINK_DEPTH {
                        return Err(Resolve::Loop);
                    }
                    let next = fs::read_link(&here).map_err(|e| Resolve::Io(here.clone(), e))?;
                    stack.pop();
                    match resolve(dest, &stack, &next, depth)? {
                        Some(resolved) => stack = resolved,
                        None => return Ok(None),
                    }
                }
            }
        }
    }
    Ok(Some(stack))
}

#[cfg(test)]
#[path = "sandbox_tests.rs"]
mod tests;
