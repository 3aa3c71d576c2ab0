//! What the initramfs early stage (`stage1`) decides, without system calls: the kernel command
//! line's `nanolin.slot=` and `root=`, the board's `/etc/nanolin/boot.conf`, which slot to boot,
//! and where the new root's pieces are mounted.
//!
//! Stage1 runs as PID 1 from the initramfs. It loads the kernel modules, picks the slot (the
//! bootloader's pick from the command line, or on `bootstate=native` boards its own from the
//! native boot record, one try taken and written back before anything is mounted), builds the
//! root and hands over to the root's `/sbin/init`:
//!
//! ```text
//! /run                      tmpfs, moved into the new root as its /run
//! /run/nanolin/rootfs       the slot's squashfs, read-only: the overlay's lower layer
//! /run/nanolin/overlay      tmpfs: upper/ and work/ of the overlay (changes, lost at reboot)
//! /run/nanolin/slot         the booted slot, "A\n" or "B\n", for the update agent
//! /sysroot                  overlayfs: the root, writable but volatile; becomes /
//! /sysroot/data             the data partition (ext4), when it mounts
//! /sysroot/var/lib/nanolin  bind of /sysroot/data/nanolin: the agent's state, kept
//! ```
//!
//! Booted from the release's live medium (the hybrid ISO; [`nanolin_core::medium`]), GRUB
//! passes `nanolin.live=VOLUME_ID` instead of a slot. Stage1 then finds the medium among the
//! block devices by the volume id of its ISO 9660 primary volume descriptor, mounts it
//! read-only on [`MEDIUM`] (it stays there, under /run, in the live system), attaches its
//! root image to a loop device, and mounts that as the lower layer of the same volatile
//! overlay. There is no data partition, and [`SLOT_FILE`] says `live`. With
//! `nanolin.install=auto` (or `=/dev/DISK`) as well, it installs instead: it writes the
//! release's disk image onto the target disk from the medium's ranges
//! ([`nanolin_core::disk_ranges`]), each range checked against its SHA-256, and powers off.
//!
//! `boot.conf` is a key=value file (the syntax of [`nanolin_core::keyvalue`]):
//!
//! ```text
//! bootstate=native            # native | uboot | grub
//! bootstate_path=/dev/vda1    # native only: the device holding the native boot record
//! bootstate_offset=0          # native only: byte offset of its two copies
//! slot_a=/dev/vda2
//! slot_b=/dev/vda3
//! data=/dev/vda4              # optional (empty or left out: no /data)
//! bootfs=/dev/vda1            # optional: the FAT boot partition holding the boot state file
//! tries=3                     # what both slots get back when neither has tries left
//! ```

use core::ffi::CStr;
use core::fmt;

use nanolin_core::boot_record::{self, RegionError, COPY_LEN};
use nanolin_core::boot_state::{BootSlot, BootState, MAX_TRIES};
use nanolin_core::keyvalue::{Item, Parser, Position, SyntaxError};
use nanolin_core::medium::{INSTALL_ARG, INSTALL_AUTO, LIVE_ARG};

/// The board's boot settings in the initramfs.
pub const BOOT_CONF: &str = "/etc/nanolin/boot.conf";

/// The kernel modules to load, one path a line relative to `/lib/modules/RELEASE/`, in order.
pub const MODULES: &str = "/etc/nanolin/modules";

/// Largest `boot.conf` read.
pub const BOOT_CONF_MAX_LEN: usize = 4096;

/// Largest modules list read.
pub const MODULES_MAX_LEN: usize = 16 * 1024;

/// Longest device path (in `boot.conf`, or `root=`).
pub const DEVICE_MAX_LEN: usize = 128;

/// Longest kernel command line read.
pub const CMDLINE_MAX_LEN: usize = 4096;

/// Tries both slots get back when `tries=` is not set.
pub const DEFAULT_TRIES: u8 = 3;

/// How long to wait for a device to appear (drivers probe asynchronously), in milliseconds.
pub const DEVICE_WAIT_MS: u64 = 10_000;

/// How often to look for it meanwhile, in milliseconds.
pub const DEVICE_POLL_MS: u64 = 20;

/// Wait before rebooting after a fatal failure, so the reason can be read, in milliseconds.
pub const REBOOT_DELAY_MS: u64 = 5_000;

/// Where the new root is assembled.
pub const NEWROOT: &str = "/sysroot";

/// Stage1's own files, in the tmpfs that becomes the new root's /run.
pub const RUN_DIR: &str = "/run/nanolin";

/// Where the slot's squashfs is mounted: the overlay's lower layer.
pub const LOWER: &str = "/run/nanolin/rootfs";

/// The tmpfs holding the overlay's upper and work folders.
pub const OVERLAY_DIR: &str = "/run/nanolin/overlay";

/// The overlay's upper folder: every change to the root, lost at reboot.
pub const UPPER: &str = "/run/nanolin/overlay/upper";

/// The overlay's work folder.
pub const WORK: &str = "/run/nanolin/overlay/work";

/// The overlay's mount options: [`LOWER`], [`UPPER`] and [`WORK`].
pub const OVERLAY_OPTIONS: &CStr = c"lowerdir=/run/nanolin/rootfs,upperdir=/run/nanolin/overlay/upper,workdir=/run/nanolin/overlay/work";

/// The file naming the booted slot, as the system sees it after the switch (and as stage1
/// writes it before: the same tmpfs).
pub const SLOT_FILE: &str = "/run/nanolin/slot";

/// Where the data partition is mounted in the new root.
pub const NEWROOT_DATA: &str = "/sysroot/data";

/// The folder of the data partition that holds the agent's state.
pub const NEWROOT_DATA_STATE: &str = "/sysroot/data/nanolin";

/// Where the agent keeps its state in the new root: a bind of [`NEWROOT_DATA_STATE`].
pub const NEWROOT_STATE: &str = "/sysroot/var/lib/nanolin";

/// Where the boot partition's FAT file system is mounted in the new root, on boards whose
/// bootloader keeps its state in a file there (GRUB's `grubenv` on the ESP, U-Boot's
/// `uboot.env`): the agent reads and writes that file under [`BOOTFS`]. Not `/boot`, which
/// holds the slot's own kernel and initramfs (for kexec).
pub const NEWROOT_BOOTFS: &str = "/sysroot/boot/firmware";

/// [`NEWROOT_BOOTFS`] as the booted system sees it.
pub const BOOTFS: &str = "/boot/firmware";

/// The early mounts moved into the new root: (in the initramfs, in the new root).
pub const MOVED: [(&str, &str); 4] = [
    ("/dev", "/sysroot/dev"),
    ("/proc", "/sysroot/proc"),
    ("/sys", "/sysroot/sys"),
    ("/run", "/sysroot/run"),
];

/// The program started in the new root.
pub const INIT: &CStr = c"/sbin/init";

/// Where the live medium (ISO 9660, read-only) is mounted; under /run, so the live system
/// keeps it at the same path.
pub const MEDIUM: &str = "/run/nanolin/medium";

/// The text of [`SLOT_FILE`] on a live system: [`nanolin_core::medium::LIVE_SLOT`] and a
/// newline.
pub const LIVE_SLOT_FILE_TEXT: &str = "live\n";

/// Longest block device name read from /sys/class/block.
pub const BLOCK_NAME_MAX_LEN: usize = 32;

/// Bytes of the buffer the block device folder is read through (getdents64).
pub const DIR_BUFFER_LEN: usize = 4096;

/// Bytes the installer reads and writes at a time (a static buffer).
pub const COPY_BUFFER_LEN: usize = 4 << 20;

/// A block device's name, as /sys/class/block lists it (`vda`, `sr0`, `nvme0n1`).
pub type BlockName = heapless::String<BLOCK_NAME_MAX_LEN>;

/// The text of [`SLOT_FILE`] for `slot`.
pub const fn slot_file_text(slot: BootSlot) -> &'static str {
    match slot {
        BootSlot::A => "A\n",
        BootSlot::B => "B\n",
    }
}

/// The `boot.conf` setting naming the root device of `slot`.
pub const fn slot_key(slot: BootSlot) -> &'static str {
    match slot {
        BootSlot::A => "slot_a",
        BootSlot::B => "slot_b",
    }
}

/// A device path.
pub type Device = heapless::String<DEVICE_MAX_LEN>;

/// Where the board keeps its boot state, as `bootstate=` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The native record: stage1 picks the slot.
    Native,
    /// The U-Boot environment: U-Boot picked, and says so on the command line.
    UBoot,
    /// GRUB's environment block: GRUB picked, and says so on the command line.
    Grub,
}

impl Backend {
    /// The backend `bootstate=` names.
    pub fn from_name(name: &str) -> Option<Backend> {
        match name {
            "native" => Some(Backend::Native),
            "uboot" => Some(Backend::UBoot),
            "grub" => Some(Backend::Grub),
            _ => None,
        }
    }

    /// Its name in `boot.conf`.
    pub const fn name(self) -> &'static str {
        match self {
            Backend::Native => "native",
            Backend::UBoot => "uboot",
            Backend::Grub => "grub",
        }
    }
}

/// What is wrong with `boot.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfError {
    /// Not key=value syntax.
    Syntax(SyntaxError),
    /// A setting that must be there is not.
    Missing {
        /// Its name.
        name: &'static str,
    },
    /// A value that is not one the setting takes.
    BadValue {
        /// The setting.
        name: &'static str,
        /// Where its value is.
        position: Position,
        /// What it takes.
        expected: &'static str,
    },
}

impl fmt::Display for ConfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ConfError::Syntax(e) => write!(f, "{e}"),
            ConfError::Missing { name } => write!(f, "{name}= is not set"),
            ConfError::BadValue {
                name,
                position,
                expected,
            } => write!(f, "{position}: {name}= must be {expected}"),
        }
    }
}

impl core::error::Error for ConfError {}

/// The settings of `boot.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootConf {
    /// `bootstate=`.
    pub backend: Backend,
    /// `bootstate_path=`: the device of the native record (required when native).
    pub state_device: Device,
    /// `bootstate_offset=`: where on it the record's two copies are, in bytes.
    pub state_offset: u64,
    /// `slot_a=`.
    pub slot_a: Device,
    /// `slot_b=`.
    pub slot_b: Device,
    /// `data=`: the data partition, when the board has one.
    pub data: Option<Device>,
    /// `bootfs=`: the boot partition to mount on [`NEWROOT_BOOTFS`], when the boot state is a
    /// file in it.
    pub bootfs: Option<Device>,
    /// `tries=`: what both slots get back when neither has tries left.
    pub tries: u8,
}

/// Expected values, as messages say them.
const EXPECT_PATH: &str = "an absolute device path of at most 128 bytes, such as /dev/vda2";
const EXPECT_OFFSET: &str = "a byte offset (decimal, or hexadecimal after 0x)";
const EXPECT_TRIES: &str = "a number from 1 to 9";
const EXPECT_BACKEND: &str = "native, uboot or grub";

impl BootConf {
    /// Reads `boot.conf`'s text; `unknown` hears each setting it does not know (a typo shows).
    pub fn parse(text: &str, mut unknown: impl FnMut(&str, Position)) -> Result<Self, ConfError> {
        let mut backend = None;
        let mut state_device = None;
        let mut state_offset = 0;
        let mut slot_a = None;
        let mut slot_b = None;
        let mut data = None;
        let mut bootfs = None;
        let mut tries = DEFAULT_TRIES;
        for item in Parser::new(text) {
            let assignment = match item.map_err(ConfError::Syntax)? {
                Item::Assignment(a) => a,
                Item::Function { .. } => continue,
            };
            let position = assignment.position;
            let (name, expected) = match assignment.name {
                "bootstate" => ("bootstate", EXPECT_BACKEND),
                "bootstate_path" => ("bootstate_path", EXPECT_PATH),
                "bootstate_offset" => ("bootstate_offset", EXPECT_OFFSET),
                "slot_a" => ("slot_a", EXPECT_PATH),
                "slot_b" => ("slot_b", EXPECT_PATH),
                "data" => ("data", EXPECT_PATH),
                "bootfs" => ("bootfs", EXPECT_PATH),
                "tries" => ("tries", EXPECT_TRIES),
                other => {
                    unknown(other, position);
                    continue;
                }
            };
            let bad = ConfError::BadValue {
                name,
                position,
                expected,
            };
            // Every value is short and literal: no variables, nothing longer than a path.
            let mut buf = [0u8; DEVICE_MAX_LEN];
            let text = assignment
                .value
                .expand_into(&mut buf, |_| None)
                .map_err(|_| bad)?;
            // An empty value is no value (`data=` on a board without a data partition).
            if text.is_empty() {
                match name {
                    "bootstate" => backend = None,
                    "bootstate_path" => state_device = None,
                    "bootstate_offset" => state_offset = 0,
                    "slot_a" => slot_a = None,
                    "slot_b" => slot_b = None,
                    "data" => data = None,
                    "bootfs" => bootfs = None,
                    _ => tries = DEFAULT_TRIES,
                }
                continue;
            }
            match name {
                "bootstate" => backend = Some(Backend::from_name(text).ok_or(bad)?),
                "bootstate_offset" => state_offset = parse_offset(text).ok_or(bad)?,
                "tries" => {
                    tries = text
                        .parse::<u8>()
                        .ok()
                        .filter(|t| (1..=MAX_TRIES).contains(t))
                        .ok_or(bad)?
                }
                _ => {
                    let device = device(text).ok_or(bad)?;
                    match name {
                        "bootstate_path" => state_device = Some(device),
                        "slot_a" => slot_a = Some(device),
                        "slot_b" => slot_b = Some(device),
                        "bootfs" => bootfs = Some(device),
                        _ => data = Some(device),
                    }
                }
            }
        }
        let backend = backend.ok_or(ConfError::Missing { name: "bootstate" })?;
        let state_device = match (backend, state_device) {
            (_, Some(d)) => d,
            (Backend::Native, None) => {
                return Err(ConfError::Missing {
                    name: "bootstate_path",
                })
            }
            (_, None) => Device::new(),
        };
        Ok(BootConf {
            backend,
            state_device,
            state_offset,
            slot_a: slot_a.ok_or(ConfError::Missing { name: "slot_a" })?,
            slot_b: slot_b.ok_or(ConfError::Missing { name: "slot_b" })?,
            data,
            bootfs,
            tries,
        })
    }

    /// The root device of `slot`.
    pub fn slot_device(&self, slot: BootSlot) -> &str {
        match slot {
            BootSlot::A => &self.slot_a,
            BootSlot::B => &self.slot_b,
        }
    }

    /// The slot whose root device is `device`, if any.
    pub fn slot_of(&self, device: &str) -> Option<BootSlot> {
        BootSlot::ALL
            .into_iter()
            .find(|s| self.slot_device(*s) == device)
    }
}

/// An absolute path that fits a [`Device`].
fn device(text: &str) -> Option<Device> {
    if !text.starts_with('/') {
        return None;
    }
    let mut device = Device::new();
    device.push_str(text).ok()?;
    Some(device)
}

/// A byte offset: decimal, or hexadecimal after `0x`.
fn parse_offset(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// What the kernel command line says about the slot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KernelArgs<'a> {
    /// `nanolin.slot=`: the slot the bootloader picked, or the value when it is not A or B.
    pub slot: Option<Result<BootSlot, &'a str>>,
    /// `root=`: the root device the bootloader named.
    pub root: Option<&'a str>,
    /// `nanolin.watchdog=`: the hardware watchdog stage1 starts and init then pets.
    pub watchdog: Option<&'a str>,
    /// `nanolin.live=`: the volume id of the live medium to take the root from.
    pub live: Option<&'a str>,
    /// `nanolin.install=`: install the release from the live medium onto this disk (`auto`,
    /// or a device path).
    pub install: Option<&'a str>,
}

impl<'a> KernelArgs<'a> {
    /// Reads `cmdline` (the last of repeated words wins, as in the kernel).
    pub fn parse(cmdline: &'a str) -> Self {
        let mut args = KernelArgs::default();
        for word in cmdline.split_ascii_whitespace() {
            if let Some(value) = word.strip_prefix("nanolin.slot=") {
                args.slot = Some(BootSlot::from_name(value).ok_or(value));
            } else if let Some(value) = word.strip_prefix("root=") {
                args.root = Some(value).filter(|v| !v.is_empty());
            } else if let Some(value) = word.strip_prefix("nanolin.watchdog=") {
                args.watchdog = Some(value).filter(|v| v.starts_with('/'));
            } else if let Some(value) = word.strip_prefix(LIVE_ARG) {
                args.live = Some(value).filter(|v| !v.is_empty());
            } else if let Some(value) = word.strip_prefix(INSTALL_ARG) {
                args.install = Some(value).filter(|v| !v.is_empty());
            }
        }
        args
    }
}

/// Where the slot comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan<'a> {
    /// The bootloader picked (it already took the try): boot `slot` from `device`.
    Given {
        /// The slot.
        slot: BootSlot,
        /// Its root device: `root=` when it is a device path, else the slot's in `boot.conf`.
        device: &'a str,
    },
    /// Stage1 picks, from the native boot record.
    Native,
    /// The board's bootloader picks, but the command line names no slot.
    Unknown,
    /// Booted from the live medium whose ISO 9660 volume id is `volume_id`: the root is its
    /// root image, and no slot is booted.
    Live {
        /// The medium's volume id.
        volume_id: &'a str,
    },
    /// Install the release from the live medium onto a disk, then power off.
    Install {
        /// The medium's volume id.
        volume_id: &'a str,
        /// The disk, or the value of `nanolin.install=` when it names none.
        target: Result<Target<'a>, &'a str>,
    },
    /// `nanolin.install=` without `nanolin.live=`: nothing names the medium to install from.
    NoMedium,
}

/// The disk the installer writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// The first whole disk that is not the medium ([`is_whole_disk`], [`disk_before`]).
    Auto,
    /// The device named.
    Device(&'a str),
}

impl<'a> Target<'a> {
    /// `nanolin.install=`'s value: `auto`, or an absolute device path under /dev that fits a
    /// [`Device`].
    pub fn parse(value: &'a str) -> Option<Self> {
        if value == INSTALL_AUTO {
            return Some(Target::Auto);
        }
        (value.starts_with("/dev/") && value.len() > 5 && value.len() <= DEVICE_MAX_LEN)
            .then_some(Target::Device(value))
    }
}

/// Where the root comes from: `nanolin.live=` (with `nanolin.install=`: install) wins; else
/// `nanolin.slot=`; else the native record on native boards; else the slot whose device
/// `root=` names.
pub fn plan<'a>(args: &KernelArgs<'a>, conf: &'a BootConf) -> Plan<'a> {
    match (args.live, args.install) {
        (Some(volume_id), None) => return Plan::Live { volume_id },
        (Some(volume_id), Some(target)) => {
            return Plan::Install {
                volume_id,
                target: Target::parse(target).ok_or(target),
            }
        }
        (None, Some(_)) => return Plan::NoMedium,
        (None, None) => {}
    }
    let root = args.root.filter(|r| r.starts_with('/'));
    if let Some(Ok(slot)) = args.slot {
        return Plan::Given {
            slot,
            device: root.unwrap_or(conf.slot_device(slot)),
        };
    }
    if conf.backend == Backend::Native {
        return Plan::Native;
    }
    match root.and_then(|r| conf.slot_of(r).map(|s| (s, r))) {
        Some((slot, device)) => Plan::Given { slot, device },
        None => Plan::Unknown,
    }
}

/// Stage1's pick from the native boot record, and the write that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativePick {
    /// The slot to boot, one try taken; `None` when neither slot had tries left (both got
    /// `tries` back, and the board reboots to start over).
    pub slot: Option<BootSlot>,
    /// The state the region held, or why it held none (then stage1 started from
    /// [`BootState::new`]).
    pub found: Result<BootState, RegionError>,
    /// The state written.
    pub state: BootState,
    /// The copy to write: 0 or 1.
    pub copy_index: usize,
    /// Its bytes.
    pub copy: [u8; COPY_LEN],
}

impl NativePick {
    /// Byte offset of the copy to write, on a device whose region starts at `region_offset`.
    pub fn copy_offset(&self, region_offset: u64) -> u64 {
        region_offset + (self.copy_index * COPY_LEN) as u64
    }
}

/// What a bootloader does at power-on, on the record region `region` (both copies): the first
/// slot in the order with tries left loses one. When none has any, both get `tries` back
/// (RAUC's fallback), so a board never stays down for good. A region without a valid copy
/// counts as a board just flashed.
pub fn pick_native(region: &[u8], tries: u8) -> NativePick {
    let found = boot_record::read(region).map(|(record, _)| record.state);
    let mut state = found.unwrap_or(BootState::new(tries));
    let slot = state.take_try();
    if slot.is_none() {
        for s in BootSlot::ALL {
            state.mark_good(s, tries);
        }
    }
    let (copy_index, copy) = boot_record::next_write(region, &state);
    NativePick {
        slot,
        found,
        state,
        copy_index,
        copy,
    }
}

/// Tries left of both slots, as messages show them: `A 2, B 3`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriesLeft(pub BootState);

impl fmt::Display for TriesLeft {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "A {}, B {}",
            self.0.left(BootSlot::A),
            self.0.left(BootSlot::B)
        )
    }
}

/// A module's path: `line` as it is when absolute, else under `/lib/modules/RELEASE/`.
pub fn module_path(release: &str, line: &str, out: &mut impl fmt::Write) -> fmt::Result {
    if line.starts_with('/') {
        out.write_str(line)
    } else {
        write!(out, "/lib/modules/{release}/{line}")
    }
}

/// Whether the block device `name` (as /sys/class/block lists it) is a whole disk the
/// installer may write: `vd*`, `sd*`, `hd*`, `xvd*` (letters only after the prefix),
/// `nvme<N>n<N>`, `mmcblk<N>` — not a partition, not an eMMC's boot or RPMB area, not a loop,
/// RAM, zram, CD (`sr*`), device-mapper or RAID device.
pub fn is_whole_disk(name: &str) -> bool {
    let letters = |rest: &str| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_lowercase());
    let number = |rest: &str| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = name.strip_prefix("nvme") {
        return match rest.split_once('n') {
            Some((controller, namespace)) => number(controller) && number(namespace),
            None => false,
        };
    }
    if let Some(rest) = name.strip_prefix("mmcblk") {
        return number(rest);
    }
    ["xvd", "vd", "sd", "hd"]
        .iter()
        .find_map(|prefix| name.strip_prefix(prefix))
        .is_some_and(letters)
}

/// Whether the block device `name` is a CD drive (`sr<N>`): where a live medium may be, and
/// never an install target.
pub fn is_cdrom(name: &str) -> bool {
    name.strip_prefix("sr")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether disk `a` comes before disk `b` for `nanolin.install=auto`: the shorter name
/// first, then in byte order (`vda` before `vdb` before `vdaa`; `sda` before `nvme0n1`).
pub fn disk_before(a: &str, b: &str) -> bool {
    (a.len(), a.as_bytes()) < (b.len(), b.as_bytes())
}

/// How many tenths of `total` `done` is (0 to 10); 10 for a `total` of 0. No 128-bit
/// arithmetic: its helpers in the compiler's builtins would need an unwinder on aarch64.
pub fn tenths(done: u64, total: u64) -> u64 {
    let done = done.min(total);
    match total {
        0 => 10,
        t if t <= u64::MAX / 10 => done * 10 / t,
        t => (done / (t / 10)).min(10),
    }
}

/// True for a module file the kernel must decompress (MODULE_INIT_COMPRESSED_FILE).
pub fn is_compressed_module(path: &str) -> bool {
    [".xz", ".zst", ".gz"].iter().any(|s| path.ends_with(s))
}

#[cfg(test)]
#[path = "stage1_tests.rs"]
mod tests;
