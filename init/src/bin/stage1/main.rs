//! `stage1`: PID 1 of a Nanolin initramfs (its `/init`), a static binary with no Rust standard
//! library and no allocator.
//!
//! It mounts /dev, /proc, /sys and /run, loads the kernel modules, picks the slot (the
//! bootloader's pick from the kernel command line, or its own from the native boot record,
//! with one try taken and written back before anything is mounted), mounts the slot's
//! squashfs under a volatile overlay with the data partition, moves the early mounts into it,
//! switches root and executes `/sbin/init`. Any fatal failure is printed as one line, and the
//! board reboots after [`REBOOT_DELAY_MS`]: the next boot takes the next try, so a bad slot
//! falls back by itself. Every decision is made by `nanolin_init::stage1`; see its module
//! documentation for the layout of the root.
#![no_std]
#![no_main]

mod grow;
mod live;
mod say;
mod sys;

use core::convert::Infallible;
use core::ffi::{c_char, c_int, CStr};

use nanolin_core::boot_record::REGION_LEN;
use nanolin_core::boot_state::BootSlot;
use nanolin_init::cmdline::module_lines;
use nanolin_init::stage1::{
    self, slot_file_text, slot_key, BootConf, Device, KernelArgs, Plan, TriesLeft, BOOTFS,
    BOOT_CONF, BOOT_CONF_MAX_LEN, CMDLINE_MAX_LEN, DEVICE_WAIT_MS, INIT, LIVE_SLOT_FILE_TEXT,
    LOWER, MODULES, MODULES_MAX_LEN, MOVED, NEWROOT, NEWROOT_BOOTFS, NEWROOT_DATA,
    NEWROOT_DATA_STATE, NEWROOT_STATE, OVERLAY_DIR, OVERLAY_OPTIONS, REBOOT_DELAY_MS, RUN_DIR,
    SLOT_FILE, UPPER, WORK,
};
use rustix::fd::AsFd;
use rustix::fs::{Access, Mode, OFlags};
use rustix::io::Errno;
use rustix::mount::{mount, mount_bind, mount_move, MountFlags};

use say::{say, Line};
use sys::errno_name;

/// The boot cannot go on: its reason, one line, is on the console.
struct Fatal;

/// Prints the reason the boot cannot go on, and gives the [`Fatal`] that says so.
macro_rules! fatal {
    ($($arg:tt)*) => {{
        $crate::say::say!($($arg)*);
        $crate::Fatal
    }};
}
pub(crate) use fatal;

/// What is booted: a slot, or the live medium's root image.
#[derive(Clone, Copy)]
enum Booted {
    /// A slot of the disk.
    Slot(BootSlot),
    /// The live medium: no slot.
    Live,
}

impl core::fmt::Display for Booted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Booted::Slot(slot) => write!(f, "slot {slot}"),
            Booted::Live => f.write_str("the live medium"),
        }
    }
}

const USAGE: &[u8] = b"usage: stage1 is PID 1 (/init) of a Nanolin initramfs: it picks the slot, \
mounts its root and starts /sbin/init; it does nothing else\n";

#[no_mangle]
extern "C" fn main(_argc: c_int, _argv: *const *const c_char) -> c_int {
    if !rustix::process::getpid().is_init() {
        sys::write_all(sys::stderr(), USAGE);
        return 2;
    }
    // The boot returns only when it cannot go on, its reason said.
    let Err(Fatal) = boot();
    say!("rebooting in {} s", REBOOT_DELAY_MS / 1000);
    sys::sleep_ms(REBOOT_DELAY_MS);
    sys::reboot()
}

/// The whole boot; returns only when it cannot go on.
fn boot() -> Result<Infallible, Fatal> {
    early_mounts();
    load_modules();
    let mut conf_text = [0u8; BOOT_CONF_MAX_LEN];
    let conf = read_conf(&mut conf_text)?;
    let mut cmdline = [0u8; CMDLINE_MAX_LEN];
    let cmdline = sys::read_file(&mut cmdline, "/proc/cmdline").unwrap_or("");
    let args = KernelArgs::parse(cmdline);
    // An install runs longer than a watchdog waits, and no init comes to pet it.
    if let (Some(device), None) = (args.watchdog, args.install) {
        start_watchdog(device);
    }
    if let Some(Err(word)) = args.slot {
        say!("nanolin.slot={word} on the kernel command line is neither A nor B; ignored");
    }
    let loop_device: Device;
    let (booted, device) = match stage1::plan(&args, &conf) {
        Plan::Given { slot, device } => {
            let said = match args.slot {
                Some(Ok(_)) => "nanolin.slot=",
                _ => "root=",
            };
            say!("slot {slot}, the bootloader's pick ({said} on the kernel command line)");
            (Booted::Slot(slot), device)
        }
        Plan::Native => {
            let slot = pick_native(&conf)?;
            (Booted::Slot(slot), conf.slot_device(slot))
        }
        Plan::Live { volume_id } => {
            live::mount_medium(volume_id)?;
            loop_device = live::attach_root_image()?;
            (Booted::Live, loop_device.as_str())
        }
        Plan::Install { volume_id, target } => {
            let Err(fatal) = live::install(volume_id, target);
            return Err(fatal);
        }
        Plan::NoMedium => {
            return Err(fatal!(
                "nanolin.install= is on the kernel command line, but no nanolin.live= names \
                 the live medium to install from; boot the ISO's install entry"
            ))
        }
        Plan::Unknown => {
            return Err(fatal!(
                "the bootloader named no slot: no nanolin.slot= on the kernel command line, and \
                 no root= naming slot_a= or slot_b= of {BOOT_CONF} (bootstate={}); check the \
                 boot script",
                conf.backend.name()
            ))
        }
    };
    mount_root(booted, device)?;
    match booted {
        Booted::Slot(_) => {
            mount_data(&conf);
            mount_bootfs(&conf);
        }
        Booted::Live => {
            say!("live system: no data partition; /var/lib/nanolin is lost at power-off")
        }
    }
    write_slot_file(booted);
    switch_root(booted, device)
}

/// Starts the hardware watchdog: from here a boot that hangs is reset. Closed without the
/// magic `V`, the watchdog keeps counting until init opens it again and pets it; if init never
/// comes up, the board resets and the try stage1 took counts against the slot.
fn start_watchdog(device: &str) {
    match rustix::fs::open(device, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) => {
            sys::write_all(fd.as_fd(), b"\0");
            say!("watchdog {device} started: init pets it from now on");
        }
        Err(e) => say!("unable to start the watchdog {device}: {}", errno_name(e)),
    }
}

/// The early file systems stage1 needs, and the console once /dev is there. A failure is
/// reported and skipped: what it breaks is reported where it shows.
fn early_mounts() {
    const NOSUID_NODEV_NOEXEC: MountFlags = MountFlags::NOSUID
        .union(MountFlags::NODEV)
        .union(MountFlags::NOEXEC);
    type Early = (
        &'static str,
        &'static str,
        MountFlags,
        Option<&'static CStr>,
    );
    const EARLY: [Early; 4] = [
        ("devtmpfs", "/dev", MountFlags::NOSUID, Some(c"mode=0755")),
        ("proc", "/proc", NOSUID_NODEV_NOEXEC, None),
        ("sysfs", "/sys", NOSUID_NODEV_NOEXEC, None),
        (
            "tmpfs",
            "/run",
            MountFlags::NOSUID.union(MountFlags::NODEV),
            Some(c"mode=0755"),
        ),
    ];
    for (fstype, target, flags, options) in EARLY {
        let mounted =
            sys::mkdir(target).and_then(|()| mount(fstype, target, fstype, flags, options));
        // The console needs /dev: before it, nothing can be shown.
        if target == "/dev" {
            sys::attach_console();
        }
        match mounted {
            Ok(()) | Err(Errno::BUSY) => {}
            Err(e) => say!("unable to mount {target} ({fstype}): {}", errno_name(e)),
        }
    }
}

/// Loads the kernel modules listed in [`MODULES`] (finit_module(2)), in order; one already in
/// the kernel is fine, one that fails is reported and skipped.
fn load_modules() {
    let mut buf = [0u8; MODULES_MAX_LEN];
    let text = match sys::read_file(&mut buf, MODULES) {
        Ok(text) => text,
        Err(Errno::NOENT) => return,
        Err(e) => {
            say!(
                "unable to read {MODULES}: {} (at most {MODULES_MAX_LEN} bytes of UTF-8); no \
                 modules loaded",
                errno_name(e)
            );
            return;
        }
    };
    let uname = rustix::system::uname();
    let release = core::str::from_utf8(uname.release().to_bytes()).unwrap_or("");
    let (mut loaded, mut present, mut failed) = (0, 0, 0);
    for module in module_lines(text) {
        let mut path = Line::new();
        let _ = stage1::module_path(release, module, &mut path);
        let path = path.as_str();
        let result = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| ("open", e))
            .and_then(|fd| {
                sys::finit_module(&fd, stage1::is_compressed_module(path)).map_err(|e| ("load", e))
            });
        match result {
            Ok(()) => loaded += 1,
            Err((_, Errno::EXIST)) => present += 1,
            Err((what, e)) => {
                failed += 1;
                say!("unable to {what} module {path}: {}", errno_name(e));
            }
        }
    }
    say!("modules: {loaded} loaded, {present} already in the kernel, {failed} failed");
}

/// Reads [`BOOT_CONF`] into `buf`.
fn read_conf(buf: &mut [u8]) -> Result<BootConf, Fatal> {
    let text = sys::read_file(buf, BOOT_CONF).map_err(|e| {
        fatal!(
            "unable to read {BOOT_CONF}: {} (at most {BOOT_CONF_MAX_LEN} bytes of UTF-8); the \
             initramfs is incomplete: rebuild the release",
            errno_name(e)
        )
    })?;
    BootConf::parse(text, |name, at| {
        say!("{BOOT_CONF}: {at}: unknown setting {name}= ignored")
    })
    .map_err(|e| fatal!("{BOOT_CONF}: {e}; the initramfs is broken: rebuild the release"))
}

/// Picks the slot from the native boot record: the first in the order with tries left loses
/// one, and the record is written back (the copy not holding the current record, then fsync)
/// before anything is mounted, so a boot that hangs or reboots has used its try.
fn pick_native(conf: &BootConf) -> Result<BootSlot, Fatal> {
    let device = conf.state_device.as_str();
    let offset = conf.state_offset;
    let tries = conf.tries;
    sys::wait_for(device, DEVICE_WAIT_MS).map_err(|e| {
        fatal!(
            "the boot state device {device} did not appear within {} s ({}): check \
             bootstate_path= in {BOOT_CONF} and that the disk's driver is in {MODULES}",
            DEVICE_WAIT_MS / 1000,
            errno_name(e)
        )
    })?;
    // A device that cannot be written (write-protected) is still read: its write then fails,
    // and the board boots without counting the try rather than not at all.
    let open = |flags| rustix::fs::open(device, flags | OFlags::CLOEXEC, Mode::empty());
    let fd = match open(OFlags::RDWR) {
        Err(Errno::ROFS | Errno::ACCESS | Errno::PERM) => open(OFlags::RDONLY),
        opened => opened,
    }
    .map_err(|e| {
        fatal!(
            "unable to open the boot state device {device}: {}",
            errno_name(e)
        )
    })?;
    let mut region = [0u8; REGION_LEN];
    sys::read_exact_at(&fd, &mut region, offset).map_err(|e| {
        fatal!(
            "unable to read the boot record on {device} at byte {offset}: {}; check \
             bootstate_offset= in {BOOT_CONF}",
            errno_name(e)
        )
    })?;
    let pick = stage1::pick_native(&region, tries);
    if let Err(e) = pick.found {
        say!("{device} at byte {offset}: {e}; starting fresh: A then B, {tries} tries each");
    }
    let written = sys::write_all_at_synced(&fd, &pick.copy, pick.copy_offset(offset));
    match (pick.slot, written) {
        (Some(slot), Ok(())) => {
            say!("slot {slot} (tries left: {})", TriesLeft(pick.state));
            Ok(slot)
        }
        (Some(slot), Err(e)) => {
            say!(
                "unable to write the boot record on {device}: {}; booting slot {slot} without \
                 counting this try",
                errno_name(e)
            );
            Ok(slot)
        }
        (None, Ok(())) => Err(fatal!(
            "no slot has tries left: both get {tries} tries again ({}); booting anew",
            TriesLeft(pick.state)
        )),
        (None, Err(e)) => Err(fatal!(
            "no slot has tries left, and giving them {tries} again failed: unable to write the \
             boot record on {device}: {}",
            errno_name(e)
        )),
    }
}

/// Mounts the root's squashfs (a slot's, or the live medium's on its loop device) read-only
/// at [`LOWER`] and the overlay at [`NEWROOT`]: the squashfs under a tmpfs, so the root is
/// writable and every change is gone at reboot.
fn mount_root(booted: Booted, device: &str) -> Result<(), Fatal> {
    let made = |dir: &str| {
        sys::mkdir(dir).map_err(|e| fatal!("unable to create {dir}: {}", errno_name(e)))
    };
    for dir in [RUN_DIR, LOWER, OVERLAY_DIR, NEWROOT] {
        made(dir)?;
    }
    // The live medium's loop device is there already.
    if let Booted::Slot(slot) = booted {
        sys::wait_for(device, DEVICE_WAIT_MS).map_err(|e| {
            fatal!(
                "the root device {device} of slot {slot} did not appear within {} s ({}): check \
                 {}= in {BOOT_CONF} (or root= on the kernel command line) and that the disk's \
                 driver is in {MODULES}",
                DEVICE_WAIT_MS / 1000,
                errno_name(e),
                slot_key(slot)
            )
        })?;
    }
    mount(device, LOWER, "squashfs", MountFlags::RDONLY, None).map_err(|e| {
        fatal!(
            "unable to mount {device} ({booted}) as squashfs on {LOWER}: {}; {booted} holds no \
             intact root file system (a failed update, a damaged medium?), or squashfs is not \
             in {MODULES}",
            errno_name(e)
        )
    })?;
    mount(
        "tmpfs",
        OVERLAY_DIR,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV,
        Some(c"mode=0755"),
    )
    .map_err(|e| {
        fatal!(
            "unable to mount a tmpfs on {OVERLAY_DIR}: {}",
            errno_name(e)
        )
    })?;
    made(UPPER)?;
    made(WORK)?;
    mount(
        "overlay",
        NEWROOT,
        "overlay",
        MountFlags::empty(),
        Some(OVERLAY_OPTIONS),
    )
    .map_err(|e| {
        fatal!(
            "unable to mount the overlay of {device} ({booted}) on {NEWROOT}: {}; is overlay in \
             {MODULES}?",
            errno_name(e)
        )
    })
}

/// Mounts the data partition on /data of the new root and binds its `nanolin` folder on
/// /var/lib/nanolin, so the agent's state is kept across boots and updates. Without it the
/// board still boots, with that state in the volatile overlay.
fn mount_data(conf: &BootConf) {
    let Some(device) = conf.data.as_deref() else {
        say!("no data= in {BOOT_CONF}: no /data; /var/lib/nanolin is lost at reboot");
        return;
    };
    if let Err(e) = sys::wait_for(device, DEVICE_WAIT_MS) {
        say!(
            "the data partition {device} did not appear within {} s ({}); going on without \
             /data: /var/lib/nanolin is lost at reboot",
            DEVICE_WAIT_MS / 1000,
            errno_name(e)
        );
        return;
    }
    let mounted = sys::mkdir(NEWROOT_DATA).and_then(|()| {
        mount(
            device,
            NEWROOT_DATA,
            "ext4",
            MountFlags::NOSUID | MountFlags::NODEV,
            None,
        )
    });
    if let Err(e) = mounted {
        say!(
            "unable to mount the data partition {device} (ext4) on /data: {}; going on without \
             /data: /var/lib/nanolin is lost at reboot",
            errno_name(e)
        );
        return;
    }
    grow::grow_to_device(device, NEWROOT_DATA);
    let bound = sys::mkdir(NEWROOT_DATA_STATE)
        .and_then(|()| sys::mkdir_all(NEWROOT_STATE))
        .and_then(|()| mount_bind(NEWROOT_DATA_STATE, NEWROOT_STATE));
    match bound {
        Ok(()) => say!("data {device} (ext4) on /data; /var/lib/nanolin kept in /data/nanolin"),
        Err(e) => say!(
            "unable to bind /data/nanolin on /var/lib/nanolin: {}; the agent's state is lost at \
             reboot",
            errno_name(e)
        ),
    }
}

/// Mounts the boot partition's FAT file system on [`BOOTFS`] when the boot state is a
/// file in it, for the agent to read and write. Without it the agent cannot commit, and the
/// bootloader falls back once the tries run out: say so.
fn mount_bootfs(conf: &BootConf) {
    let Some(device) = conf.bootfs.as_deref() else {
        return;
    };
    let mounted = sys::wait_for(device, DEVICE_WAIT_MS)
        .and_then(|_| sys::mkdir_all(NEWROOT_BOOTFS))
        .and_then(|()| {
            mount(
                device,
                NEWROOT_BOOTFS,
                "vfat",
                MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
                None,
            )
        });
    match mounted {
        Ok(()) => say!("boot partition {device} (vfat) on {BOOTFS}"),
        Err(e) => say!(
            "unable to mount the boot partition {device} (vfat) on {BOOTFS}: {}; the agent \
             cannot reach the boot state, so no boot will be committed",
            errno_name(e)
        ),
    }
}

/// Writes [`SLOT_FILE`] (the slot, or `live`): the tmpfs on /run becomes the new root's /run.
fn write_slot_file(booted: Booted) {
    let written = rustix::fs::open(
        SLOT_FILE,
        OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o644),
    )
    .and_then(|fd| {
        let text = match booted {
            Booted::Slot(slot) => slot_file_text(slot),
            Booted::Live => LIVE_SLOT_FILE_TEXT,
        }
        .as_bytes();
        match rustix::io::write(&fd, text) {
            Ok(n) if n == text.len() => Ok(()),
            Ok(_) => Err(Errno::IO),
            Err(e) => Err(e),
        }
    });
    if let Err(e) = written {
        say!(
            "unable to write {SLOT_FILE}: {}; the update agent cannot tell the booted slot",
            errno_name(e)
        );
    }
}

/// Moves the early mounts into the new root, makes it / (chdir, mount --move, chroot: the
/// classic switch_root; the initramfs is not freed) and executes `/sbin/init`.
fn switch_root(booted: Booted, device: &str) -> Result<Infallible, Fatal> {
    for (from, to) in MOVED {
        if let Err(e) = sys::mkdir(to).and_then(|()| mount_move(from, to)) {
            say!(
                "unable to move {from} to {to}: {}; /sbin/init mounts it anew",
                errno_name(e)
            );
        }
    }
    let switched = rustix::process::chdir(NEWROOT)
        .and_then(|()| mount_move(".", "/"))
        .and_then(|()| rustix::process::chroot("."))
        .and_then(|()| rustix::process::chdir("/"));
    if let Err(e) = switched {
        return Err(fatal!(
            "unable to make {NEWROOT} the root: {}",
            errno_name(e)
        ));
    }
    let init = INIT.to_str().unwrap_or("");
    if let Err(e) = rustix::fs::access(INIT, Access::EXEC_OK) {
        return Err(fatal!(
            "no {init} to run in the root file system of {booted} ({device}): {}; is it a \
             Nanolin root?",
            errno_name(e)
        ));
    }
    let ms = sys::now_ms();
    say!(
        "root {device} (squashfs) mounted, switching to {init} ({}.{} s after the kernel \
         started)",
        ms / 1000,
        ms % 1000 / 100
    );
    let e = sys::exec(INIT);
    Err(fatal!(
        "unable to start {init} from {device} ({booted}): {}",
        errno_name(e)
    ))
}

/// ARM's unwinding tables in the precompiled compiler builtins name a personality routine;
/// nothing unwinds here (panic = "abort"), so it is never called.
#[cfg(target_arch = "arm")]
#[no_mangle]
extern "C" fn rust_eh_personality() {}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // Nothing here is meant to panic (the lints forbid the usual causes). Should it happen:
    // say so, and reboot into the next try.
    sys::write_all(
        sys::stderr(),
        b"stage1: internal error (panic); rebooting\n",
    );
    sys::sleep_ms(REBOOT_DELAY_MS);
    sys::reboot()
}
