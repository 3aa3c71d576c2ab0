//! Early boot, when init is the system's PID 1: the file systems every program expects, the
//! console, the hostname. Each step that fails is reported and skipped: a board that boots
//! with a missing /sys is better than one that stops.

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{mount, MountFlags};

use crate::say::say;
use crate::sys;

/// One early mount: source, target, type, flags, options.
type EarlyMount = (
    &'static str,
    &'static str,
    &'static str,
    MountFlags,
    Option<&'static core::ffi::CStr>,
);

const NOSUID_NODEV_NOEXEC: MountFlags = MountFlags::NOSUID
    .union(MountFlags::NODEV)
    .union(MountFlags::NOEXEC);

/// In order: later targets live inside earlier ones.
const MOUNTS: [EarlyMount; 6] = [
    ("proc", "/proc", "proc", NOSUID_NODEV_NOEXEC, None),
    ("sysfs", "/sys", "sysfs", NOSUID_NODEV_NOEXEC, None),
    (
        "devtmpfs",
        "/dev",
        "devtmpfs",
        MountFlags::NOSUID,
        Some(c"mode=0755"),
    ),
    (
        "devpts",
        "/dev/pts",
        "devpts",
        MountFlags::NOSUID.union(MountFlags::NOEXEC),
        Some(c"gid=5,mode=0620,ptmxmode=0666"),
    ),
    (
        "tmpfs",
        "/run",
        "tmpfs",
        MountFlags::NOSUID.union(MountFlags::NODEV),
        Some(c"mode=0755"),
    ),
    (
        "cgroup2",
        "/sys/fs/cgroup",
        "cgroup2",
        NOSUID_NODEV_NOEXEC,
        None,
    ),
];

/// Mounts the early file systems, attaches the console and sets the hostname.
pub fn early_boot() {
    for (source, target, fstype, flags, options) in MOUNTS {
        // The mount point may be missing on a minimal root; a failure here shows in mount.
        let _ = rustix::fs::mkdir(target, Mode::from_raw_mode(0o755));
        // Already mounted (the initramfs moved it here, /run with what it wrote for the
        // system): mounting again would stack a fresh file system over it.
        if is_mount_point(target) {
            continue;
        }
        match mount(source, target, fstype, flags, options) {
            Ok(()) | Err(Errno::BUSY) => {}
            Err(e) => say!(
                "unable to mount {target} ({fstype}): {}",
                sys::errno_name(e)
            ),
        }
    }
    attach_console();
    set_hostname();
}

/// True when `path` is the root of a mount: on another device than the folder holding it.
fn is_mount_point(path: &str) -> bool {
    let parent = match path.rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((parent, _)) => parent,
    };
    match (rustix::fs::stat(path), rustix::fs::stat(parent)) {
        (Ok(a), Ok(b)) => a.st_dev != b.st_dev,
        _ => false,
    }
}

/// Makes /dev/console standard input, output and error when the kernel could not (no
/// /dev/console in the initramfs before devtmpfs was mounted).
fn attach_console() {
    if rustix::io::fcntl_getfd(sys::stdout()).is_ok() {
        return;
    }
    if let Ok(console) =
        rustix::fs::open("/dev/console", OFlags::RDWR | OFlags::NOCTTY, Mode::empty())
    {
        for target in 0..3 {
            let _ = sys::child_dup2(rustix::fd::AsFd::as_fd(&console), target);
        }
    }
}

/// Sets the hostname from /etc/hostname, if there is one.
fn set_hostname() {
    let Ok(file) = rustix::fs::open(
        "/etc/hostname",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    let mut buf = [0u8; 64];
    let Ok(n) = rustix::io::read(&file, &mut buf) else {
        return;
    };
    let name = buf.get(..n).unwrap_or(&[]);
    let name = name.split(|&b| b == b'\n').next().unwrap_or(&[]);
    if !name.is_empty() {
        if let Err(e) = rustix::system::sethostname(name) {
            say!("unable to set the hostname: {}", sys::errno_name(e));
        }
    }
}

/// Reads /proc/cmdline into `buf`.
pub fn kernel_cmdline(buf: &mut [u8]) -> &str {
    let Ok(file) = rustix::fs::open(
        "/proc/cmdline",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return "";
    };
    let n = rustix::io::read(&file, &mut *buf).unwrap_or(0);
    core::str::from_utf8(buf.get(..n).unwrap_or(&[]))
        .unwrap_or("")
        .trim_end()
}

/// Loads the kernel modules listed in `list` (finit_module(2)), in order.
pub fn load_modules(list: &str) {
    let mut buf = [0u8; 4096];
    let text = match sys::read_file(&mut buf, list) {
        Ok(text) => text,
        Err(Errno::NOENT) => return,
        Err(e) => {
            say!(
                "unable to read {list}: {} (at most 4096 bytes of UTF-8); no modules loaded",
                sys::errno_name(e)
            );
            return;
        }
    };
    let uname = rustix::system::uname();
    let release = core::str::from_utf8(uname.release().to_bytes()).unwrap_or("");
    for module in nanolin_init::cmdline::module_lines(text) {
        let mut path = crate::say::Line::new();
        let _ = if module.starts_with('/') {
            core::fmt::Write::write_str(&mut path, module)
        } else {
            core::fmt::Write::write_fmt(&mut path, format_args!("/lib/modules/{release}/{module}"))
        };
        let path = core::str::from_utf8(path.as_bytes()).unwrap_or("");
        let compressed = [".xz", ".zst", ".gz"].iter().any(|s| path.ends_with(s));
        match rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => match sys::finit_module(&fd, compressed) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => say!("unable to load module {path}: {}", sys::errno_name(e)),
            },
            Err(e) => say!("unable to open module {path}: {}", sys::errno_name(e)),
        }
    }
}
