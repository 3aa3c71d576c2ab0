//! What a release puts where the bootloader reads it: the boot partition's files, and the
//! first boot state (slot A first, with its tries) where the board keeps it.
//!
//! [`boot_files`] makes, for a [`Board`], from a kernel image, an initramfs and (for boards
//! with `dtb=`) a device tree:
//!
//! | bootloader | boot partition | boot state |
//! | --- | --- | --- |
//! | `native` | raw: nothing but the state (QEMU loads the kernel and initramfs itself) | [`nanolin_core::boot_record`], both copies, at `bootstate_offset` |
//! | `uboot` | vfat: `Image` (arm64, riscv64) or `zImage` (armhf), the device tree, `initrd.img`, `boot.scr` (and its source `boot.cmd`) | U-Boot's environment: the file `bootstate_file`, or raw bytes at `bootstate_offset` (both copies when redundant) |
//! | `grub` | vfat EFI System Partition: `EFI/BOOT/BOOTX64.EFI` (or the architecture's name), `vmlinuz`, `initrd.img` | GRUB's environment block, the file `bootstate_file` |
//!
//! The tree is a folder for [`crate::disk::make_vfat`]; raw bytes come as a [`RawState`] with
//! their offset on the disk. Nothing here reads the network.
//!
//! # The A/B logic
//!
//! Every backend stores the same three variables ([`nanolin_core::boot_state`]): `BOOT_ORDER`
//! (`A B`), `BOOT_A_LEFT`, `BOOT_B_LEFT`. The boot script and the GRUB configuration implement
//! RAUC's documented U-Boot integration with them: missing variables get their defaults
//! (`A B`, [`DEFAULT_TRIES`] each); the first slot of `BOOT_ORDER` with tries left is taken,
//! its count decremented and the environment saved *before* the kernel starts; when no slot
//! has tries left, both get [`DEFAULT_TRIES`] again and the board resets (RAUC's fallback).
//! The kernel gets `root=` the slot's partition on the board's `disk_device` (`/dev/vda2`,
//! `/dev/mmcblk0p3`: [`slot_root`]) and `nanolin.slot=A` (or `B`), which the agent reads to
//! know the booted slot, besides `console=` and the board's `kernel_cmdline`. On the `native`
//! board `init`'s early stage does the same from the native record.
//!
//! ## U-Boot
//!
//! `boot.scr` is the script compiled by `mkimage -T script -C none` (Debian's u-boot-tools),
//! with `SOURCE_DATE_EPOCH` as its time stamp, so it is reproducible. U-Boot's distro boot
//! finds it on the boot partition and runs it with `devtype`, `devnum` and
//! `distro_bootpart` set (the script falls back to the boot partition of `mmc 0`: 1, or
//! after the board's `uboot_partitions`). It loads the kernel to
//! `${kernel_addr_r}`, the device tree to `${fdt_addr_r}` (or, for a board without `dtb=`,
//! boots with U-Boot's own, `${fdtcontroladdr}`, as the firmware handed it over), the
//! initramfs to `${ramdisk_addr_r}`, and runs `booti` (arm64, riscv64) or `bootz` (armhf).
//!
//! **A valid environment replaces U-Boot's built-in default environment whole** (without
//! `CONFIG_ENV_APPEND`, which Debian's builds do not set): an environment holding only the
//! three slot variables would leave U-Boot without `bootcmd` and its load addresses. So the
//! environment written here is the board's U-Boot default environment
//! ([`BootInputs::uboot_default_env`], read from its U-Boot binary by
//! [`uboot_default_env`]) with the three variables set. It is written with
//! [`nanolin_core::uboot_env`], as `fw_printenv` and the agent read it; two redundant copies
//! carry the flags 1 and 0, so copy 0 is current and the agent's first write goes to copy 1.
//!
//! **`bootstate_import=yes`** (a U-Boot whose own environment is out of the system's reach,
//! in SPI flash: the VisionFive 2) follows RAUC's documented alternative: the file
//! `bootstate_file` holds the three slot variables alone, in U-Boot's environment format
//! (CRC, then the variables), one copy of `bootstate_size`; the script clears them, loads the
//! file and imports them (`env import -c ADDR SIZE VARS`), and where it would `saveenv` it
//! exports them back (`env export -c -s SIZE`) and rewrites the file (`fatwrite`). U-Boot's
//! own environment is never saved. The agent reads and writes the file as it does any
//! single-copy environment (`uboot_env="/boot/firmware/FILE 0x0 SIZE"`), and so does `fw_printenv`.
//!
//! ## GRUB
//!
//! The EFI application is made with `grub-mkimage` (Debian's grub-common, with the modules
//! of grub-efi-amd64-bin) the way `grub-mkstandalone` makes it: every module needed built in,
//! and a memdisk holding `boot/grub/grub.cfg`, the prefix `(memdisk)/boot/grub`. Not with
//! `grub-mkstandalone` itself: it archives its memdisk from a temporary copy of the whole
//! module folder, with the time of the copy as every file's mtime (it ignores
//! `SOURCE_DATE_EPOCH`), so two runs differ (675 bytes of 9.8 MB, measured with GRUB
//! 2.06-13). Here the memdisk is a tar written with `SOURCE_DATE_EPOCH` as every time stamp,
//! and grub-mkimage writes a fixed PE time stamp, so the file is reproducible; it is about a
//! tenth the size too. The configuration finds the EFI System Partition from `$cmdpath`
//! (where the firmware loaded GRUB from), reads the block with `load_env -f`, picks the slot,
//! writes the counts back with `save_env -f` and boots `vmlinuz` and `initrd.img` from that
//! partition.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use nanolin_core::boot_record::{self, BootRecord, REGION_LEN};
use nanolin_core::boot_state::{BootSlot, BootState, MAX_TRIES};
use nanolin_core::grub_env;
use nanolin_core::limits::GRUB_ENV_LEN;
use nanolin_core::medium::{INSTALL_ARG, INSTALL_AUTO, LIVE_ARG, LIVE_CFG};
use nanolin_core::uboot_env::{self, Layout};

use crate::board::{Arch, Board, Bootloader, Role, StateLocation};
use crate::tool::{Failure, Tool};
use crate::Status;

/// Tries a freshly flashed slot A gets, and what the boot scripts give both slots when the
/// variables are missing or no slot has tries left: the agent's default (`tries=`).
pub const DEFAULT_TRIES: u8 = 3;

/// The initramfs's name on a boot partition.
pub const INITRAMFS_FILE: &str = "initrd.img";

/// The compiled U-Boot script's name: what U-Boot's distro boot looks for.
pub const UBOOT_SCRIPT_FILE: &str = "boot.scr";

/// The U-Boot script's source, kept beside it for people.
pub const UBOOT_SCRIPT_SOURCE: &str = "boot.cmd";

/// The kernel's name on a GRUB EFI System Partition.
pub const GRUB_KERNEL_FILE: &str = "vmlinuz";

/// The GRUB modules built into the EFI application (besides the firmware's video module).
pub const GRUB_MODULES: &[&str] = &[
    "memdisk",
    "tar",
    "part_gpt",
    "part_msdos",
    "fat",
    // The release's hybrid ISO: booted as a CD, GRUB reads the kernel from its ISO 9660 tree.
    "iso9660",
    "normal",
    "configfile",
    "search",
    "regexp",
    "test",
    "true",
    "echo",
    "loadenv",
    "linux",
    "sleep",
    "reboot",
    "halt",
    "serial",
    "terminal",
];

/// Tools and the Debian packages that have them.
const MKIMAGE: (&str, &str) = ("mkimage", "u-boot-tools");
const GRUB_MKIMAGE: (&str, &str) = ("grub-mkimage", "grub-common");

/// Where GRUB's modules are installed, per platform.
const GRUB_LIB: &str = "/usr/lib/grub";

/// What the boot files are made from.
#[derive(Debug, Clone, Copy)]
pub struct BootInputs<'a> {
    /// The bootable kernel image ([`crate::kernel::KernelFiles::image`]).
    pub kernel: &'a Path,
    /// The initramfs.
    pub initramfs: &'a Path,
    /// The device tree, for a board with `dtb=` ([`crate::kernel::KernelFiles::dtb`]).
    pub dtb: Option<&'a Path>,
    /// Tries slot A starts with: 1 to [`MAX_TRIES`].
    pub tries: u8,
    /// The default environment of the board's U-Boot build ([`uboot_default_env`]), which a
    /// valid environment replaces: required for `uboot` boards, unused with
    /// `bootstate_import` (the imported file holds the slot variables alone).
    pub uboot_default_env: Option<&'a [(String, String)]>,
    /// The time stamp of `boot.scr` and of the GRUB memdisk, in seconds since 1970 (UTC).
    pub source_date_epoch: u64,
}

/// The boot partition's content and the first boot state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootFiles {
    /// The folder tree of the boot partition's vfat (`uboot`, `grub`); `None` when the
    /// partition is raw (`native`).
    pub tree: Option<PathBuf>,
    /// The boot state as raw bytes (`native`; `uboot` with `bootstate_offset`); `None` when it
    /// is a file in the tree.
    pub raw: Option<RawState>,
}

/// Boot state written as raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawState {
    /// Where, as the board says: from the start of the disk or of a partition.
    pub location: StateLocation,
    /// The same place as an offset from the start of the disk.
    pub disk_offset: u64,
    /// Every copy, back to back.
    pub bytes: Vec<u8>,
}

/// Why the boot files could not be made.
#[derive(Debug)]
pub enum BootfsError {
    /// The board's bootloader cannot boot this architecture or layout here.
    Unsupported {
        /// The board.
        board: String,
        /// Why, and what to do.
        reason: String,
    },
    /// An input the board needs was not given.
    MissingInput {
        /// The board.
        board: String,
        /// What is missing, and where it comes from.
        what: &'static str,
    },
    /// The tries are not 1 to [`MAX_TRIES`].
    BadTries(u8),
    /// The tree folder is not empty.
    NotEmpty(PathBuf),
    /// The boot state does not fit where the board keeps it.
    State {
        /// Which format.
        what: &'static str,
        /// The codec's reason.
        reason: String,
    },
    /// No default environment was found in a U-Boot binary.
    NoDefaultEnv,
    /// A tool is not installed.
    ToolMissing {
        /// The command.
        tool: &'static str,
        /// The Debian package that has it.
        package: &'static str,
    },
    /// A tool failed.
    ToolFailed {
        /// The command.
        tool: &'static str,
        /// How it ended.
        status: ExitStatus,
        /// What it said.
        output: String,
    },
    /// A file could not be read or written.
    Io {
        /// What we were doing, as a verb phrase.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
}

impl BootfsError {
    fn io(action: &'static str, path: &Path, source: io::Error) -> BootfsError {
        BootfsError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The exit status this error maps to.
    pub fn status(&self) -> Status {
        match self {
            BootfsError::Unsupported { .. }
            | BootfsError::State { .. }
            | BootfsError::NoDefaultEnv => Status::No,
            BootfsError::MissingInput { .. }
            | BootfsError::BadTries(_)
            | BootfsError::NotEmpty(_) => Status::Usage,
            BootfsError::ToolMissing { .. }
            | BootfsError::ToolFailed { .. }
            | BootfsError::Io { .. } => Status::System,
        }
    }
}

impl fmt::Display for BootfsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootfsError::Unsupported { board, reason } => write!(f, "board {board}: {reason}"),
            BootfsError::MissingInput { board, what } => {
                write!(f, "board {board}: no {what} given")
            }
            BootfsError::BadTries(tries) => write!(
                f,
                "{tries} tries: a slot gets 1 to {MAX_TRIES} tries (the bootloaders count one \
                 digit)"
            ),
            BootfsError::NotEmpty(dir) => write!(
                f,
                "{} is not empty: the boot files go into a new or empty folder",
                dir.display()
            ),
            BootfsError::State { what, reason } => {
                write!(f, "the first {what} cannot be written: {reason}")
            }
            BootfsError::NoDefaultEnv => write!(
                f,
                "no default environment (a block of name=value strings with bootcmd=) in the \
                 U-Boot binary: is it u-boot.bin (or u-boot.img) of the board's uboot_package?"
            ),
            BootfsError::ToolMissing { tool, package } => write!(
                f,
                "{tool} is not installed: install it (apt-get install {package})"
            ),
            BootfsError::ToolFailed {
                tool,
                status,
                output,
            } => write!(f, "{tool} failed ({status}): {}", output.trim()),
            BootfsError::Io {
                action,
                path,
                source,
            } => write!(f, "unable to {action} {}: {source}", path.display()),
        }
    }
}

impl std::error::Error for BootfsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BootfsError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Makes the boot files of `board`: the vfat tree in `tree` (created; must be empty if it
/// exists; untouched for a raw boot partition) and the raw boot state.
pub fn boot_files(
    board: &Board,
    inputs: &BootInputs<'_>,
    tree: &Path,
) -> Result<BootFiles, BootfsError> {
    if !(1..=MAX_TRIES).contains(&inputs.tries) {
        return Err(BootfsError::BadTries(inputs.tries));
    }
    match board.bootloader {
        Bootloader::Native => native_files(board, inputs),
        Bootloader::Uboot => uboot_files(board, inputs, tree),
        Bootloader::Grub => grub_files(board, inputs, tree),
    }
}

/// The kernel command line for `slot` (none: `init`'s early stage picks it, on `native`
/// boards): `console=`, the slot's `root=` and `nanolin.slot=`, then the board's own
/// arguments.
pub fn kernel_cmdline(board: &Board, slot: Option<BootSlot>) -> String {
    match slot {
        Some(slot) => cmdline(board, Some((&slot_root(board, slot), slot.name()))),
        None => cmdline(board, None),
    }
}

/// The device of a slot's root file system as the board's kernel names it: its partition
/// number on `disk_device` (`/dev/vda2`, `/dev/mmcblk0p2`).
pub fn slot_root(board: &Board, slot: BootSlot) -> String {
    let role = match slot {
        BootSlot::A => Role::RootA,
        BootSlot::B => Role::RootB,
    };
    board.role_device(role)
}

/// `console=… [root=ROOT nanolin.slot=SLOT] EXTRA`, where ROOT and SLOT may be script
/// variables.
fn cmdline(board: &Board, root: Option<(&str, &str)>) -> String {
    let mut words = vec![format!("console={}", board.console)];
    if let Some((device, slot)) = root {
        words.push(format!("root={device}"));
        words.push(format!("nanolin.slot={slot}"));
    }
    // The watchdog QEMU adds: stage1 starts it, init pets it, a hung boot is reset.
    if board.watchdog.is_some() {
        words.push(format!("nanolin.watchdog={WATCHDOG_DEVICE}"));
    }
    if !board.kernel_cmdline.trim().is_empty() {
        words.push(board.kernel_cmdline.trim().to_string());
    }
    words.join(" ")
}

/// The device node of a board's first (only) watchdog.
pub const WATCHDOG_DEVICE: &str = "/dev/watchdog0";

/// The state of a freshly flashed board: A first, then B, each with `tries`
/// ([`BootState::new`]).
pub fn first_state(tries: u8) -> BootState {
    BootState::new(tries)
}

/// Both copies of the native boot record holding `state`, generation 0 (copy 0 is current on
/// the tie; the first write goes to copy 1).
pub fn native_record(state: &BootState) -> [u8; REGION_LEN] {
    let record = BootRecord {
        generation: 0,
        state: *state,
    };
    let mut copy = [0u8; boot_record::COPY_LEN];
    record.emit_copy(&mut copy);
    let mut region = [0u8; REGION_LEN];
    for chunk in region.chunks_exact_mut(boot_record::COPY_LEN) {
        chunk.copy_from_slice(&copy);
    }
    region
}

/// The three slot variables of `state`, as `(name, value)`.
pub fn slot_vars(state: &BootState) -> Vec<(String, String)> {
    let order = state.order_text();
    let mut digits = [0u8; 2];
    state
        .to_vars(&order, &mut digits)
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// `defaults` with the slot variables of `state` set (replaced where the defaults have them,
/// else added at the end).
pub fn uboot_vars(defaults: &[(String, String)], state: &BootState) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = defaults.to_vec();
    for (name, value) in slot_vars(state) {
        match vars.iter_mut().find(|(n, _)| *n == name) {
            Some(var) => var.1 = value,
            None => vars.push((name, value)),
        }
    }
    vars
}

/// A U-Boot environment of `vars`: one copy of `size` bytes, or two back to back when
/// `redundant` (flags 1 and 0: copy 0 is current).
pub fn uboot_env_bytes(
    vars: &[(String, String)],
    size: usize,
    redundant: bool,
) -> Result<Vec<u8>, BootfsError> {
    let state_error = |e: uboot_env::UbootEnvError| BootfsError::State {
        what: "U-Boot environment",
        reason: format!(
            "{e}: U-Boot's default environment and the slot variables need {} bytes; raise \
             bootstate_size in the board file if U-Boot's build (CONFIG_ENV_SIZE) allows it",
            vars.iter()
                .map(|(n, v)| n.len() + v.len() + 2)
                .sum::<usize>()
                + 5
        ),
    };
    let pairs = || vars.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    if !redundant {
        let mut block = vec![0u8; size];
        uboot_env::emit(pairs(), Layout::Single, 0, &mut block).map_err(state_error)?;
        return Ok(block);
    }
    let mut region = vec![0u8; size * 2];
    let (first, second) = region.split_at_mut(size);
    uboot_env::emit(pairs(), Layout::Redundant, 1, first).map_err(state_error)?;
    uboot_env::emit(pairs(), Layout::Redundant, 0, second).map_err(state_error)?;
    Ok(region)
}

/// GRUB's environment block (1 KiB, as `grub-editenv create`) holding `state`.
pub fn grub_env_bytes(state: &BootState) -> Result<Vec<u8>, BootfsError> {
    let vars = slot_vars(state);
    let mut block = vec![0u8; GRUB_ENV_LEN];
    grub_env::emit(
        vars.iter().map(|(n, v)| (n.as_str(), v.as_str())),
        &mut block,
    )
    .map_err(|e| BootfsError::State {
        what: "GRUB environment block",
        reason: e.to_string(),
    })?;
    Ok(block)
}

fn native_files(board: &Board, inputs: &BootInputs<'_>) -> Result<BootFiles, BootfsError> {
    let bytes = native_record(&first_state(inputs.tries)).to_vec();
    Ok(BootFiles {
        tree: None,
        raw: Some(raw_state(board, bytes)?),
    })
}

/// The raw state of `board` holding `bytes`.
fn raw_state(board: &Board, bytes: Vec<u8>) -> Result<RawState, BootfsError> {
    let state = &board.boot_state;
    let Some((disk_offset, len)) = state.disk_range(&board.layout) else {
        return Err(BootfsError::Unsupported {
            board: board.name.clone(),
            reason: "the boot state is a file, not raw bytes".into(),
        });
    };
    if len != bytes.len() as u64 {
        return Err(BootfsError::State {
            what: "boot state",
            reason: format!(
                "it takes {} bytes, but the board keeps {len} (bootstate_size)",
                bytes.len()
            ),
        });
    }
    Ok(RawState {
        location: state.location.clone(),
        disk_offset,
        bytes,
    })
}

/// U-Boot's names for the architectures (`mkimage -A`), and how it boots their kernels.
fn uboot_arch(arch: Arch) -> (&'static str, &'static str, &'static str) {
    match arch {
        Arch::Aarch64 => ("arm64", "booti", "Image"),
        Arch::Riscv64 => ("riscv", "booti", "Image"),
        Arch::Armv7 => ("arm", "bootz", "zImage"),
        Arch::X86_64 => ("x86", "zboot", "bzImage"),
    }
}

/// The device tree's name on the boot partition: the last part of the board's `dtb`.
fn dtb_file(board: &Board) -> Option<&str> {
    board
        .dtb
        .as_deref()
        .map(|d| d.rsplit('/').next().unwrap_or(d))
}

fn uboot_files(
    board: &Board,
    inputs: &BootInputs<'_>,
    tree: &Path,
) -> Result<BootFiles, BootfsError> {
    if board.arch == Arch::X86_64 {
        return Err(BootfsError::Unsupported {
            board: board.name.clone(),
            reason: "U-Boot boots arm64, armhf and riscv64 boards here: use bootloader=grub for \
                     x86_64"
                .into(),
        });
    }
    // An imported file holds the slot variables alone: U-Boot's own environment lives
    // elsewhere and stays whole.
    let no_defaults = Vec::new();
    let defaults = if board.boot_state.import {
        Some(&no_defaults[..])
    } else {
        inputs.uboot_default_env
    }
    .ok_or_else(|| BootfsError::MissingInput {
        board: board.name.clone(),
        what: "U-Boot default environment (a valid environment replaces U-Boot's built-in \
                   one whole, bootcmd and load addresses included: read it from the board's \
                   U-Boot binary with bootfs::uboot_default_env)",
    })?;
    let dtb = match (dtb_file(board), inputs.dtb) {
        (Some(name), Some(path)) => Some((name, path)),
        (None, _) => None,
        (Some(_), None) => {
            return Err(BootfsError::MissingInput {
                board: board.name.clone(),
                what: "device tree (the board names one with dtb=: KernelFiles::dtb finds it)",
            })
        }
    };
    let (mkimage_arch, _, kernel_name) = uboot_arch(board.arch);
    new_tree(tree)?;
    copy(inputs.kernel, &tree.join(kernel_name))?;
    copy(inputs.initramfs, &tree.join(INITRAMFS_FILE))?;
    if let Some((name, path)) = dtb {
        copy(path, &tree.join(name))?;
    }
    let script = uboot_script(board);
    let source = tree.join(UBOOT_SCRIPT_SOURCE);
    fs::write(&source, &script).map_err(|e| BootfsError::io("write", &source, e))?;
    compile_uboot_script(
        &source,
        mkimage_arch,
        inputs.source_date_epoch,
        &tree.join(UBOOT_SCRIPT_FILE),
    )?;

    let vars = uboot_vars(defaults, &first_state(inputs.tries));
    let state = &board.boot_state;
    let size = usize::try_from(state.size).unwrap_or(usize::MAX);
    let bytes = uboot_env_bytes(&vars, size, state.redundant)?;
    let raw = match &state.location {
        StateLocation::File { path, .. } => {
            write_in_tree(tree, path, &bytes)?;
            None
        }
        StateLocation::Disk { .. } | StateLocation::Partition { .. } => {
            Some(raw_state(board, bytes)?)
        }
    };
    Ok(BootFiles {
        tree: Some(tree.to_path_buf()),
        raw,
    })
}

/// The U-Boot boot script of `board` (before `mkimage`).
pub fn uboot_script(board: &Board) -> String {
    let (_, boot_cmd, kernel_name) = uboot_arch(board.arch);
    let mut s = String::new();
    let line = |s: &mut String, text: &str| {
        s.push_str(text);
        s.push('\n');
    };
    line(
        &mut s,
        "# Nanolin A/B boot for U-Boot (written by nanolin), after RAUC's documented U-Boot logic:",
    );
    line(
        &mut s,
        "# BOOT_ORDER lists the slots in the order tried, BOOT_A_LEFT and BOOT_B_LEFT the tries",
    );
    line(
        &mut s,
        "# each has left. The first slot in order with tries left loses one and boots.",
    );
    line(&mut s, &format!("# Board: {}.", board.name));
    line(&mut s, "");
    // Where the script runs from, as U-Boot's boot scan sets it; else the boot partition
    // (its number in hex, as U-Boot reads it) of the first MMC device.
    let device = |s: &mut String| {
        line(s, "test -n \"${devtype}\" || setenv devtype mmc");
        line(s, "test -n \"${devnum}\" || setenv devnum 0");
        line(
            s,
            &format!(
                "test -n \"${{distro_bootpart}}\" || setenv distro_bootpart {:x}",
                board.partition_number(Role::Boot)
            ),
        );
    };
    let part = "${devtype} ${devnum}:${distro_bootpart}";
    // bootstate_import: the slot variables live in a file of the boot partition, not in
    // U-Boot's own environment (RAUC's way for an environment the system cannot write).
    let import = match (&board.boot_state.location, board.boot_state.import) {
        (StateLocation::File { path, .. }, true) => Some(path.as_str()),
        _ => None,
    };
    let vars: Vec<&str> = std::iter::once("BOOT_ORDER")
        .chain(BootSlot::ALL.into_iter().map(|slot| slot.left_variable()))
        .collect();
    let vars = vars.join(" ");
    if let Some(path) = import {
        device(&mut s);
        line(&mut s, "");
        line(
            &mut s,
            &format!(
                "# U-Boot keeps its own environment elsewhere: the slot variables live in {path}"
            ),
        );
        line(
            &mut s,
            "# on the boot partition, in U-Boot's environment format (fw_printenv and the agent",
        );
        line(
            &mut s,
            "# read and write it), imported here and exported back once the try is taken.",
        );
        for var in vars.split(' ') {
            line(&mut s, &format!("setenv {var}"));
        }
        line(
            &mut s,
            &format!("if load {part} ${{kernel_addr_r}} {path}; then"),
        );
        line(
            &mut s,
            &format!("  env import -c ${{kernel_addr_r}} ${{filesize}} {vars}"),
        );
        line(&mut s, "fi");
    }
    line(
        &mut s,
        "test -n \"${BOOT_ORDER}\" || setenv BOOT_ORDER \"A B\"",
    );
    for slot in BootSlot::ALL {
        let var = slot.left_variable();
        line(
            &mut s,
            &format!("test -n \"${{{var}}}\" || setenv {var} {DEFAULT_TRIES}"),
        );
    }
    if import.is_none() {
        device(&mut s);
    }
    line(&mut s, "");
    // Stores the slot variables: U-Boot's saveenv, or the file written back whole.
    let save = |s: &mut String| match import {
        None => line(s, "  saveenv"),
        Some(path) => {
            let size = board.boot_state.size;
            line(
                s,
                &format!("  env export -c -s {size:#x} ${{kernel_addr_r}} {vars}"),
            );
            line(
                s,
                &format!("  fatwrite {part} ${{kernel_addr_r}} {path} {size:#x}"),
            );
        }
    };
    line(&mut s, "setenv nanolin_slot");
    line(&mut s, "for BOOT_SLOT in \"${BOOT_ORDER}\"; do");
    line(&mut s, "  if test -z \"${nanolin_slot}\"; then");
    for (i, slot) in BootSlot::ALL.into_iter().enumerate() {
        let var = slot.left_variable();
        let name = slot.name();
        let keyword = if i == 0 { "if" } else { "elif" };
        line(
            &mut s,
            &format!("    {keyword} test \"x${{BOOT_SLOT}}\" = \"x{name}\"; then"),
        );
        line(&mut s, &format!("      if test ${{{var}}} -gt 0; then"));
        line(&mut s, &format!("        setexpr {var} ${{{var}}} - 1"));
        line(&mut s, &format!("        setenv nanolin_slot {name}"));
        line(
            &mut s,
            &format!("        setenv nanolin_root {}", slot_root(board, slot)),
        );
        line(&mut s, "      fi");
    }
    line(&mut s, "    fi");
    line(&mut s, "  fi");
    line(&mut s, "done");
    line(&mut s, "");
    line(&mut s, "if test -n \"${nanolin_slot}\"; then");
    save(&mut s);
    line(&mut s, "else");
    line(
        &mut s,
        &format!(
            "  echo \"nanolin: no slot has tries left (BOOT_ORDER ${{BOOT_ORDER}}): both get \
             {DEFAULT_TRIES} again\""
        ),
    );
    for slot in BootSlot::ALL {
        line(
            &mut s,
            &format!("  setenv {} {DEFAULT_TRIES}", slot.left_variable()),
        );
    }
    save(&mut s);
    line(&mut s, "  reset");
    line(&mut s, "fi");
    line(&mut s, "");
    line(
        &mut s,
        "echo \"nanolin: booting slot ${nanolin_slot} (tries left: A ${BOOT_A_LEFT}, B ${BOOT_B_LEFT})\"",
    );
    let args = cmdline(board, Some(("${nanolin_root}", "${nanolin_slot}")));
    line(&mut s, &format!("setenv bootargs \"{args}\""));
    line(
        &mut s,
        &format!("load {part} ${{kernel_addr_r}} {kernel_name}"),
    );
    let fdt = match dtb_file(board) {
        Some(name) => {
            line(&mut s, &format!("load {part} ${{fdt_addr_r}} {name}"));
            "${fdt_addr_r}"
        }
        // No dtb= : the device tree U-Boot runs with, as the firmware handed it over.
        None => "${fdtcontroladdr}",
    };
    // The initramfs last: booti and bootz take its size from ${filesize}.
    line(
        &mut s,
        &format!("load {part} ${{ramdisk_addr_r}} {INITRAMFS_FILE}"),
    );
    line(
        &mut s,
        &format!("{boot_cmd} ${{kernel_addr_r}} ${{ramdisk_addr_r}}:${{filesize}} {fdt}"),
    );
    line(
        &mut s,
        "echo \"nanolin: slot ${nanolin_slot} did not boot: resetting\"",
    );
    line(&mut s, "reset");
    s
}

/// `mkimage -A ARCH -O linux -T script -C none -d SOURCE OUT`, time stamp `epoch`.
pub fn compile_uboot_script(
    source: &Path,
    mkimage_arch: &str,
    epoch: u64,
    out: &Path,
) -> Result<(), BootfsError> {
    let mut cmd = tool(MKIMAGE)?;
    cmd.args([
        "-A",
        mkimage_arch,
        "-O",
        "linux",
        "-T",
        "script",
        "-C",
        "none",
    ])
    .args(["-n", "nanolin A/B boot"])
    .arg("-d")
    .arg(source)
    .arg(out)
    .env("SOURCE_DATE_EPOCH", epoch.to_string());
    run(MKIMAGE, &mut cmd)
}

/// GRUB's EFI platform, its module folder name and the removable-media file name, per
/// architecture.
fn grub_platform(arch: Arch) -> (&'static str, &'static str) {
    match arch {
        Arch::X86_64 => ("x86_64-efi", "BOOTX64.EFI"),
        Arch::Aarch64 => ("arm64-efi", "BOOTAA64.EFI"),
        Arch::Riscv64 => ("riscv64-efi", "BOOTRISCV64.EFI"),
        Arch::Armv7 => ("arm-efi", "BOOTARM.EFI"),
    }
}

fn grub_files(
    board: &Board,
    inputs: &BootInputs<'_>,
    tree: &Path,
) -> Result<BootFiles, BootfsError> {
    let StateLocation::File { path: env_path, .. } = &board.boot_state.location else {
        return Err(BootfsError::Unsupported {
            board: board.name.clone(),
            reason: "GRUB reads its environment block from a file: give bootstate_file".into(),
        });
    };
    let (platform, efi_name) = grub_platform(board.arch);
    new_tree(tree)?;
    let efi = tree.join("EFI/BOOT").join(efi_name);
    make_grub_efi(
        &grub_cfg(board, env_path),
        platform,
        inputs.source_date_epoch,
        &efi,
    )?;
    copy(inputs.kernel, &tree.join(GRUB_KERNEL_FILE))?;
    copy(inputs.initramfs, &tree.join(INITRAMFS_FILE))?;
    write_in_tree(tree, env_path, &grub_env_bytes(&first_state(inputs.tries))?)?;
    Ok(BootFiles {
        tree: Some(tree.to_path_buf()),
        raw: None,
    })
}

/// The GRUB configuration of `board`, its environment block at `env_path` on the EFI System
/// Partition.
pub fn grub_cfg(board: &Board, env_path: &str) -> String {
    let mut s = String::new();
    let line = |s: &mut String, text: &str| {
        s.push_str(text);
        s.push('\n');
    };
    line(
        &mut s,
        "# Nanolin A/B boot for GRUB (written by nanolin), after RAUC's documented logic:",
    );
    line(
        &mut s,
        "# BOOT_ORDER lists the slots in the order tried, BOOT_A_LEFT and BOOT_B_LEFT the tries",
    );
    line(
        &mut s,
        "# each has left. The first slot in order with tries left loses one and boots.",
    );
    line(&mut s, &format!("# Board: {}.", board.name));
    line(&mut s, "");
    line(&mut s, "set timeout=0");
    live_medium_check(&mut s);
    line(
        &mut s,
        "# The EFI System Partition: where the firmware loaded GRUB from.",
    );
    line(&mut s, "regexp --set=1:esp '^\\(([^)]*)\\)' \"$cmdpath\"");
    line(&mut s, "if [ -z \"$esp\" ]; then");
    line(
        &mut s,
        &format!("  search --no-floppy --file --set=esp /{env_path}"),
    );
    line(&mut s, "fi");
    line(&mut s, &format!("set nanolin_env=\"($esp)/{env_path}\""));
    line(&mut s, "");
    line(&mut s, "set BOOT_ORDER=\"A B\"");
    for slot in BootSlot::ALL {
        line(
            &mut s,
            &format!("set {}={DEFAULT_TRIES}", slot.left_variable()),
        );
    }
    line(
        &mut s,
        "load_env -f \"$nanolin_env\" BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT",
    );
    line(&mut s, "");
    line(&mut s, "set nanolin_slot=");
    line(&mut s, "for slot in $BOOT_ORDER; do");
    line(&mut s, "  if [ -z \"$nanolin_slot\" ]; then");
    for (i, slot) in BootSlot::ALL.into_iter().enumerate() {
        let keyword = if i == 0 { "if" } else { "elif" };
        line(
            &mut s,
            &format!("    {keyword} [ \"$slot\" = {} ]; then", slot.name()),
        );
        // GRUB has no arithmetic: one branch per count.
        let var = slot.left_variable();
        for (j, left) in (1..=MAX_TRIES).rev().enumerate() {
            let keyword = if j == 0 { "if" } else { "elif" };
            line(
                &mut s,
                &format!(
                    "      {keyword} [ \"${var}\" = {left} ]; then set {var}={}; set nanolin_slot={}",
                    left - 1,
                    slot.name()
                ),
            );
        }
        line(&mut s, "      fi");
    }
    line(&mut s, "    fi");
    line(&mut s, "  fi");
    line(&mut s, "done");
    line(&mut s, "");
    line(&mut s, "if [ -z \"$nanolin_slot\" ]; then");
    line(
        &mut s,
        &format!(
            "  echo \"nanolin: no slot has tries left (BOOT_ORDER $BOOT_ORDER): both get \
             {DEFAULT_TRIES} again\""
        ),
    );
    for slot in BootSlot::ALL {
        line(
            &mut s,
            &format!("  set {}={DEFAULT_TRIES}", slot.left_variable()),
        );
    }
    line(
        &mut s,
        "  save_env -f \"$nanolin_env\" BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT",
    );
    line(&mut s, "  reboot");
    line(&mut s, "fi");
    line(
        &mut s,
        "save_env -f \"$nanolin_env\" BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT",
    );
    line(
        &mut s,
        &format!(
            "if [ \"$nanolin_slot\" = A ]; then set nanolin_root={}; else set nanolin_root={}; fi",
            slot_root(board, BootSlot::A),
            slot_root(board, BootSlot::B)
        ),
    );
    line(
        &mut s,
        "echo \"nanolin: booting slot $nanolin_slot (tries left: A $BOOT_A_LEFT, B $BOOT_B_LEFT)\"",
    );
    let args = cmdline(board, Some(("$nanolin_root", "$nanolin_slot")));
    line(&mut s, &format!("linux ($esp)/{GRUB_KERNEL_FILE} {args}"));
    line(&mut s, &format!("initrd ($esp)/{INITRAMFS_FILE}"));
    line(&mut s, "boot");
    line(
        &mut s,
        "echo \"nanolin: slot $nanolin_slot did not boot: rebooting\"",
    );
    line(&mut s, "sleep 3");
    line(&mut s, "reboot");
    s
}

/// How long GRUB's live menu waits before booting its default entry (live), in seconds.
pub const LIVE_MENU_TIMEOUT: u32 = 5;

/// The live medium check at the head of the GRUB configuration: when the disk the firmware
/// loaded GRUB from (the device of `$cmdpath`: `cd0` for a CD, `hd0` for the ISO written to a
/// stick) holds an ISO 9660 tree with the live menu ([`LIVE_CFG`]), GRUB shows that menu
/// ([`grub_live_cfg`]) instead of booting a slot. Only that disk is looked at, never searched
/// for: a board with its disk and a live stick boots its slots when the firmware picks the
/// disk.
fn live_medium_check(s: &mut String) {
    let lines = [
        "# A live medium (the release's ISO as a CD, or written to a stick): the disk GRUB was",
        "# loaded from holds the ISO 9660 tree with the live menu. Only that disk is looked at.",
        "regexp --set=1:nanolin_disk '^\\(([^,)]*)' \"$cmdpath\"",
        "if [ -n \"$nanolin_disk\" ]; then",
        &format!("  if [ -f \"($nanolin_disk)/{LIVE_CFG}\" ]; then"),
        "    set nanolin_medium=\"($nanolin_disk)\"",
        "    export nanolin_medium",
        &format!("    configfile \"$nanolin_medium/{LIVE_CFG}\""),
        "    echo \"nanolin: no entry of the live menu booted: rebooting\"",
        "    sleep 3",
        "    reboot",
        "  fi",
        "fi",
        "",
    ];
    for text in lines {
        s.push_str(text);
        s.push('\n');
    }
}

/// The live medium's GRUB menu ([`LIVE_CFG`] on the hybrid ISO), `title` naming the release
/// (`Nanolin prime r26.11-G22134501`): the live system (the default, after
/// [`LIVE_MENU_TIMEOUT`] seconds; key `l`), and the installer onto the first disk (key `i`:
/// a menu entry's hotkey boots it at once). Both boot the
/// medium's kernel and initramfs with `nanolin.live=VOLUME_ID`, which stage1 finds the medium
/// by; the installer adds `nanolin.install=auto` (edit the entry to name a disk,
/// `nanolin.install=/dev/sdb`) and runs without the watchdog (nothing pets it meanwhile).
pub fn grub_live_cfg(board: &Board, title: &str, volume_id: &str) -> String {
    // console=, the medium, the watchdog (live only), the board's own arguments.
    let args = |watchdog: bool, install: &str| {
        let mut words = vec![
            format!("console={}", board.console),
            format!("{LIVE_ARG}{volume_id}"),
        ];
        if !install.is_empty() {
            words.push(format!("{INSTALL_ARG}{install}"));
        }
        if watchdog && board.watchdog.is_some() {
            words.push(format!("nanolin.watchdog={WATCHDOG_DEVICE}"));
        }
        if !board.kernel_cmdline.trim().is_empty() {
            words.push(board.kernel_cmdline.trim().to_string());
        }
        words.join(" ")
    };
    let entry = |name: &str, hotkey: char, args: &str| {
        format!(
            "menuentry \"{name}\" --hotkey={hotkey} {{\n  linux $nanolin_medium/{GRUB_KERNEL_FILE} \
             {args}\n  initrd $nanolin_medium/{INITRAMFS_FILE}\n}}\n"
        )
    };
    let mut s = format!(
        "# The live menu of {title} for {board} (written by nanolin): GRUB shows it when it was\n\
         # loaded from this medium ($nanolin_medium, set by the GRUB configuration).\n\
         export nanolin_medium\n\
         set timeout={LIVE_MENU_TIMEOUT}\n\
         set default=0\n",
        board = board.name
    );
    s.push_str(&entry(&format!("{title} (live)"), 'l', &args(true, "")));
    s.push_str(&entry(
        &format!("Install {title} to the first disk (erases it)"),
        'i',
        &args(false, INSTALL_AUTO),
    ));
    s
}

/// Makes GRUB's EFI application `out` for `platform` (`x86_64-efi`) with `cfg` as its
/// configuration: every module of [`GRUB_MODULES`] built in, `cfg` in a memdisk, reproducible
/// (see the module documentation).
pub fn make_grub_efi(cfg: &str, platform: &str, epoch: u64, out: &Path) -> Result<(), BootfsError> {
    let modules_dir = Path::new(GRUB_LIB).join(platform);
    if !modules_dir.join("moddep.lst").is_file() {
        let package = match platform {
            "x86_64-efi" => "grub-efi-amd64-bin",
            "arm64-efi" => "grub-efi-arm64-bin",
            "riscv64-efi" => "grub-efi-riscv64-bin",
            _ => "grub-efi-arm-bin",
        };
        return Err(BootfsError::ToolMissing {
            tool: "GRUB's EFI modules",
            package,
        });
    }
    if let Some(dir) = out.parent() {
        fs::create_dir_all(dir).map_err(|e| BootfsError::io("create", dir, e))?;
    }
    let work = tempfile::Builder::new()
        .prefix(".grub-")
        .tempdir()
        .map_err(|e| BootfsError::io("create a temporary folder in", &std::env::temp_dir(), e))?;
    let memdisk = work.path().join("memdisk.tar");
    let tar = ustar(&[("boot/grub/grub.cfg", cfg.as_bytes())], epoch);
    fs::write(&memdisk, tar).map_err(|e| BootfsError::io("write", &memdisk, e))?;
    let mut modules: Vec<&str> = GRUB_MODULES.to_vec();
    if modules_dir.join("efi_gop.mod").is_file() {
        modules.push("efi_gop");
    }
    let mut cmd = tool(GRUB_MKIMAGE)?;
    cmd.args(["-O", platform, "-d"])
        .arg(&modules_dir)
        .args(["-p", "(memdisk)/boot/grub", "-m"])
        .arg(&memdisk)
        .arg("-o")
        .arg(out)
        .args(modules);
    run(GRUB_MKIMAGE, &mut cmd)
}

/// A ustar archive of `files` (and the folders above them), every time stamp `epoch`, owners
/// 0:0: what GRUB's memdisk holds.
fn ustar(files: &[(&str, &[u8])], epoch: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let mut dirs: Vec<String> = Vec::new();
    for (path, _) in files {
        let mut at = 0;
        while let Some(i) = path.get(at..).and_then(|rest| rest.find('/')) {
            let dir = format!("{}/", path.get(..at + i).unwrap_or_default());
            if !dirs.contains(&dir) {
                dirs.push(dir);
            }
            at += i + 1;
        }
    }
    for dir in &dirs {
        out.extend_from_slice(&tar_header(dir, 0o755, 0, b'5', epoch));
    }
    for (path, data) in files {
        out.extend_from_slice(&tar_header(path, 0o644, data.len() as u64, b'0', epoch));
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// One 512-byte ustar header (names under 100 bytes).
fn tar_header(name: &str, mode: u32, size: u64, kind: u8, epoch: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    let mut put = |at: usize, bytes: &[u8]| {
        if let Some(dest) = h.get_mut(at..at + bytes.len()) {
            dest.copy_from_slice(bytes);
        }
    };
    put(0, name.as_bytes());
    put(100, format!("{mode:07o}\0").as_bytes());
    put(108, b"0000000\0");
    put(116, b"0000000\0");
    put(124, format!("{size:011o}\0").as_bytes());
    put(
        136,
        format!("{:011o}\0", epoch & 0o77_777_777_777).as_bytes(),
    );
    put(148, b"        ");
    put(156, &[kind]);
    put(257, b"ustar\0");
    put(263, b"00");
    put(265, b"root");
    put(297, b"root");
    let sum: u32 = h.iter().map(|b| u32::from(*b)).sum();
    let mut h2 = h;
    if let Some(dest) = h2.get_mut(148..156) {
        dest.copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    }
    h2
}

/// Reads U-Boot's default environment out of a U-Boot binary (`u-boot.bin`, `u-boot.img`,
/// `u-boot.itb`): the block of NUL-separated `name=value` strings, ended by an empty one,
/// that holds `bootcmd=`. The largest such block is taken.
pub fn uboot_default_env(binary: &[u8]) -> Result<Vec<(String, String)>, BootfsError> {
    const KEY: &[u8] = b"bootcmd=";
    let mut best: Vec<(String, String)> = Vec::new();
    let mut from = 0;
    while let Some(found) = find(binary.get(from..).unwrap_or_default(), KEY) {
        let at = from + found;
        from = at + 1;
        if at > 0 && binary.get(at - 1) != Some(&0) {
            continue;
        }
        // Back over the entries before it, each ended by a NUL.
        let mut start = at;
        while start >= 2 && binary.get(start - 2) != Some(&0) {
            let end = start - 1;
            let begin = binary
                .get(..end)
                .and_then(|b| b.iter().rposition(|c| *c == 0))
                .map_or(0, |i| i + 1);
            if env_entry(binary.get(begin..end).unwrap_or_default()).is_none() {
                break;
            }
            start = begin;
        }
        // Forward to the empty entry.
        let mut vars = Vec::new();
        let mut pos = start;
        let mut complete = false;
        while let Some(len) = binary
            .get(pos..)
            .and_then(|b| b.iter().position(|c| *c == 0))
        {
            if len == 0 {
                complete = true;
                break;
            }
            match env_entry(binary.get(pos..pos + len).unwrap_or_default()) {
                Some(var) => vars.push(var),
                None => break,
            }
            pos += len + 1;
        }
        if complete && vars.len() > best.len() {
            best = vars;
        }
    }
    if best.len() < 2 {
        return Err(BootfsError::NoDefaultEnv);
    }
    Ok(best)
}

/// `name=value` as an environment entry: a name of letters, digits and `_.-:`, a printable
/// value.
fn env_entry(bytes: &[u8]) -> Option<(String, String)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (name, value) = text.split_once('=')?;
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b':'));
    let value_ok = value
        .chars()
        .all(|c| !c.is_control() || c == '\t' || c == '\n');
    (name_ok && value_ok).then(|| (name.to_string(), value.to_string()))
}

/// The first position of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Makes `dir` (must be empty if it exists).
fn new_tree(dir: &Path) -> Result<(), BootfsError> {
    match fs::read_dir(dir) {
        Ok(mut listing) => {
            if listing.next().is_some() {
                return Err(BootfsError::NotEmpty(dir.to_path_buf()));
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|e| BootfsError::io("create", dir, e))
        }
        Err(e) => Err(BootfsError::io("read", dir, e)),
    }
}

/// Copies `from` to `to` (mode 0644: vfat keeps no modes anyway).
fn copy(from: &Path, to: &Path) -> Result<(), BootfsError> {
    if let Some(dir) = to.parent() {
        fs::create_dir_all(dir).map_err(|e| BootfsError::io("create", dir, e))?;
    }
    fs::copy(from, to).map_err(|e| BootfsError::io("copy", from, e))?;
    set_mode_0644(to)
}

/// Writes `bytes` to `path` (relative, `/`-separated) inside `tree`.
fn write_in_tree(tree: &Path, path: &str, bytes: &[u8]) -> Result<(), BootfsError> {
    let target = tree.join(path);
    if let Some(dir) = target.parent() {
        fs::create_dir_all(dir).map_err(|e| BootfsError::io("create", dir, e))?;
    }
    fs::write(&target, bytes).map_err(|e| BootfsError::io("write", &target, e))?;
    set_mode_0644(&target)
}

fn set_mode_0644(path: &Path) -> Result<(), BootfsError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o644))
        .map_err(|e| BootfsError::io("set the mode of", path, e))
}

fn tool(tool: Tool) -> Result<Command, BootfsError> {
    crate::tool::find(tool.0)
        .map(Command::new)
        .ok_or(BootfsError::ToolMissing {
            tool: tool.0,
            package: tool.1,
        })
}

/// Runs `cmd` (which is `tool`) to its end, its output kept for the error if it fails.
fn run(tool: Tool, cmd: &mut Command) -> Result<(), BootfsError> {
    crate::tool::run(cmd).map(drop).map_err(|f| match f {
        Failure::Missing => BootfsError::ToolMissing {
            tool: tool.0,
            package: tool.1,
        },
        Failure::Spawn(e) => BootfsError::io("run", Path::new(tool.0), e),
        Failure::Exited { status, said } => BootfsError::ToolFailed {
            tool: tool.0,
            status,
            output: said,
        },
    })
}

#[cfg(test)]
#[path = "bootfs_tests.rs"]
mod tests;
