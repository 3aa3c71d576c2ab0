//! Board descriptions (`boards/NAME.conf`): what a board runs, how it boots, where its boot
//! state lives, how its disk is laid out, and how QEMU runs it where QEMU can.
//!
//! A board file is a key=value file read with the one parser of [`nanolin_core::keyvalue`]
//! (shell-compatible, so scripts may also `source` it):
//!
//! ```sh
//! # boards/qemu-aarch64-virt.conf
//! name=qemu-aarch64-virt
//! compatible=qemu-aarch64-virt
//! description="QEMU aarch64 virt machine, emulated on any host"
//! target=aarch64-unknown-linux-musl
//! debian_arch=arm64
//! qemu_user=qemu-aarch64-static
//! kernel=debian:linux-image-arm64
//! console=ttyAMA0
//! kernel_cmdline="panic=-1"
//! bootloader=native
//! bootstate_partition=boot
//! bootstate_offset=0
//! bootstate_size=1K
//! disk_size=2G
//! partitions="boot:8M root_a:512M root_b:512M data:512M"
//! qemu="qemu-system-aarch64 -M virt -cpu cortex-a57 -smp 2 -m 512M"
//! watchdog=i6300esb
//! ```
//!
//! # Keys
//!
//! | key | | value |
//! | --- | --- | --- |
//! | `name` | required | the board's name, equal to the file name without `.conf`: lowercase letters, digits, `-` and `_` |
//! | `compatible` | optional | the string update bundles carry for this board (default: `name`); letters, digits, `-_.`, at most 64 |
//! | `description` | required | one line for people |
//! | `target` | required | the Rust target of the board's programs: `aarch64-unknown-linux-musl`, `x86_64-unknown-linux-musl`, `riscv64gc-unknown-linux-gnu` or `armv7-unknown-linux-gnueabihf` |
//! | `debian_arch` | required | Debian's name for that architecture: `arm64`, `amd64`, `riscv64` or `armhf` (must match `target`) |
//! | `qemu_user` | required | the qemu-user emulator that runs the board's binaries on the build host, `qemu-ARCH` or `qemu-ARCH-static` for the target's architecture |
//! | `kernel` | required | where the kernel comes from: `debian:PACKAGE`, a Debian binary package (`debian:linux-image-arm64`) |
//! | `debian_suite` | optional | the Debian release the board's Debian packages (kernel, bootloader, firmware) come from, by its code name (`trixie`): apt then reads a private package list of that suite, its `-updates` and `-security`, for the board's architecture only ([`crate::kernel`]). Absent: the build host's own apt sources (Debian 12 here) |
//! | `kernel_cmdline` | optional | extra kernel arguments (not `console=` nor `root=`, which the tools set) |
//! | `console` | required | the kernel's serial console, as in `console=`: `ttyAMA0`, `ttyS0,115200n8` |
//! | `dtb` | optional | the device tree, relative to the kernel package's device tree folder (`broadcom/bcm2711-rpi-4-b.dtb`) |
//! | `bootloader` | required | `uboot`, `grub`, or `native` (no bootloader reads the state: init's early stage picks the slot from the native boot record) |
//! | `uboot_package` | uboot: required | the Debian package providing the board's U-Boot (`u-boot-rpi`) |
//! | `uboot_config` | optional | the U-Boot build of that package the board runs, its folder under `/usr/lib/u-boot` (`rpi_arm64`): its default environment is what the release's environment starts from. Needed when the package holds more than one build; uboot only |
//! | `uboot_files` | optional | files of that U-Boot build copied onto the boot partition's root, for a ROM or firmware that loads U-Boot from a file (`u-boot.bin`, named in the Pi's `config.txt`); uboot only, with a FAT boot partition |
//! | `uboot_raw` | optional | files of that U-Boot build written raw on the disk, `FILE:OFFSET` separated by blanks (`MLO:128K u-boot.img:384K`), where a ROM or SPL reads them from raw sectors: between the primary GPT (17K) and the first partition, on 512-byte sectors, clear of each other and of a raw boot state (checked with the files' sizes when the release is built); uboot only |
//! | `uboot_partitions` | optional | GPT partitions holding files of that U-Boot build, for a ROM that finds its SPL by the partition's type and an SPL that loads U-Boot from a partition number: `NAME:FILE:OFFSET:SIZE:TYPE` separated by blanks (`spl:u-boot-spl.bin.normal.out:2M:2M:2E54B353-1271-4842-806F-E436D6AF6985`): the partition's name, the file, its place and size in bytes (on 1M, whole 4K blocks) and its type GUID. They come first in the GPT, in this order (partition 1, 2, …), between the primary GPT and the first partition of `partitions`, clear of each other, of `uboot_raw` and of a raw boot state; the boot partition then carries the legacy BIOS bootable attribute, which U-Boot's boot scan needs to look past partition 1; uboot only |
//! | `firmware_package` | optional | a Debian package holding the firmware the SoC's ROM loads before U-Boot (`raspi-firmware`); uboot only, with `firmware_files` |
//! | `firmware_files` | with `firmware_package` | files of that package, paths inside it (`usr/lib/raspi-firmware/start4.elf`), copied onto the boot partition's root under their last name |
//! | `firmware_config` | optional | the Raspberry Pi firmware's `config.txt`, one `name=value` setting per word (`arm_64bit=1 enable_uart=1 kernel=u-boot.bin`), written onto the boot partition's root; only with `firmware_package` |
//! | `grub_package` | grub: required | the Debian package providing GRUB (`grub-efi-amd64-bin`) |
//! | `efi` | optional | `yes`: the boot partition is an EFI System Partition and the firmware is UEFI; required with `grub`, refused otherwise (default `no`) |
//! | `boot_partition_type` | optional | the GPT type of the boot partition, for firmware that looks for it by type: `esp` (EFI System Partition; the default, and the only type, with `efi=yes`), `basic-data` (Microsoft basic data) or `linux` (generic Linux data; the default otherwise) |
//! | `bootstate_partition` | required | where the boot state lives: `boot` (the boot partition) or `disk` (raw, between the primary GPT and the first partition) |
//! | `bootstate_offset` | raw: required | the state's offset in bytes from the start of that partition or disk; a multiple of 512 |
//! | `bootstate_file` | file: required | or: a file in the boot partition's FAT file system (`uboot.env`, `EFI/nanolin/grubenv`); uboot and grub only |
//! | `bootstate_size` | see below | bytes of one copy: `uboot`: required, U-Boot's `CONFIG_ENV_SIZE`; `grub`: 1K (the default); `native`: 1K, both 512-byte copies of the record (the default) |
//! | `bootstate_redundant` | optional | `yes`: U-Boot's redundant environment, a second copy right after the first (raw only); `no` (the default). uboot only |
//! | `bootstate_import` | optional | `yes`: U-Boot keeps its own environment elsewhere (SPI flash) and never reads `bootstate_file`: the boot script loads the slot variables from that file (`env import -c`), takes the try and writes them back (`env export -c`, `fatwrite`); the file holds only those variables, in U-Boot's environment format (`fw_printenv` and the agent read it), one copy of `bootstate_size`. `no` (the default): U-Boot's own environment is the state. uboot with `bootstate_file` only |
//! | `disk_size` | required | the smallest medium the board is used with, in bytes (a "4 GB" SD card holds about 3.7 GiB: write `3584M`) |
//! | `partitions` | required | the partitions in disk order, `ROLE:SIZE` separated by blanks; the roles `boot`, `root_a`, `root_b` and `data` exactly once each; `root_a` and `root_b` of one size |
//! | `partition_align` | optional | every partition starts on a multiple of this (a power of two from 512; default 1M) |
//! | `first_partition_offset` | optional | the first partition starts at or after this, for boards whose ROM or SPL reads the bootloader from raw sectors before it (at least 17K, the primary GPT; default: 1M, or `partition_align` when larger) |
//! | `qemu` | optional | the QEMU command for a board QEMU emulates, `qemu-system-ARCH` for the target's architecture and its machine options; the tools add the disk, kernel, initramfs and command line (so not `-kernel`, `-initrd`, `-append`, `-drive`, `-hda`). Empty or absent for hardware |
//! | `watchdog` | optional | the QEMU watchdog device the tools add (`i6300esb`); only with `qemu` |
//! | `modules` | optional | kernel modules the initramfs loads before it mounts the root, blank-separated: the disk's driver (`virtio_blk`, `sdhci_iproc`); `squashfs`, `overlay`, `ext4` and `vfat` are always added, with everything each needs |
//!
//! **Sizes** (`disk_size`, partition sizes, `partition_align`, `first_partition_offset`,
//! `bootstate_offset`, `bootstate_size`) follow one rule: decimal digits with an optional `K`,
//! `M` or `G` (binary: `1K` = 1024 bytes, `1M` = 1024 K), or `0x` and hex digits, in bytes:
//! `512`, `16K`, `64M`, `2G`, `0x260000`.
//!
//! **Layout**: sectors are 512 bytes. Each partition starts at the first multiple of
//! `partition_align` at or after the end of the one before it (the first: at or after
//! `first_partition_offset`). The primary GPT takes sectors 0–33; the last usable sector is
//! `disk sectors − 34`, as sgdisk computes it, leaving the last 33 for the backup GPT. A layout
//! that ends past it does not fit `disk_size` and is refused with both figures.
//!
//! **Boot state**: a raw state (`bootstate_offset`) must lie inside its partition (`boot`) or
//! between the primary GPT and the first partition (`disk`), with its second copy when
//! redundant. The native record is always raw; GRUB's environment block is always a file.
//!
//! # Checks and errors
//!
//! Unknown keys are refused with their line and column and the nearest known key; so are a key
//! assigned twice, `export`, shell functions, and a key that does not apply to the bootloader
//! (`uboot_package` with `grub`). `$name` / `${name}` take the value of an earlier line, as `sh`
//! would; an undefined variable is an error. Every [`BoardError`] says what is wrong, where
//! (`file:line:column`: at the assignment, or at the entry of `partitions` it concerns; a
//! missing key at the end of the file) and what to do. Nothing panics on any input (fuzzed:
//! `fuzz/fuzz_targets/board.rs`).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use nanolin_core::boot_record::REGION_LEN as NATIVE_STATE_LEN;
use nanolin_core::keyvalue::{ExpandError, Item, Parser, Position, SyntaxErrorKind};
use nanolin_core::limits::{COMPATIBLE_MAX_LEN, GRUB_ENV_LEN};

use crate::disk::Guid;
pub use crate::recipe::Place;

/// Longest board file, in bytes.
pub const BOARD_MAX_LEN: usize = 64 * 1024;

/// Longest value of one key after expansion, in bytes.
pub const VALUE_MAX_LEN: usize = 4 * 1024;

/// The extension of a board file.
pub const BOARD_EXTENSION: &str = "conf";

/// The board used when none is named.
pub const DEFAULT_BOARD: &str = "qemu-aarch64-virt";

/// Bytes of a disk sector.
pub const SECTOR_SIZE: u64 = 512;

/// Sectors of the primary GPT at the start of the disk: protective MBR, header, 32 sectors of
/// partition entries.
pub const GPT_PRIMARY_SECTORS: u64 = 34;

/// Sectors of the backup GPT at the end of the disk: 32 sectors of entries and the header.
pub const GPT_BACKUP_SECTORS: u64 = 33;

/// Partition alignment unless `partition_align` says otherwise: 1 MiB.
pub const DEFAULT_PARTITION_ALIGN: u64 = 1024 * 1024;

/// Largest `partition_align`: 1 GiB.
pub const MAX_PARTITION_ALIGN: u64 = 1024 * 1024 * 1024;

/// Largest U-Boot environment copy: 1 MiB (U-Boot's are 8 to 256 KiB in practice).
pub const UBOOT_ENV_MAX_LEN: u64 = 1024 * 1024;

/// Smallest U-Boot environment copy: its CRC and flag, and room for a few variables.
pub const UBOOT_ENV_MIN_LEN: u64 = 256;

/// Every key of a board file.
pub const BOARD_KEYS: [&str; 37] = [
    "name",
    "compatible",
    "description",
    "target",
    "debian_arch",
    "qemu_user",
    "kernel",
    "kernel_cmdline",
    "console",
    "dtb",
    "bootloader",
    "uboot_package",
    "grub_package",
    "efi",
    "bootstate_partition",
    "bootstate_offset",
    "bootstate_file",
    "bootstate_size",
    "bootstate_redundant",
    "disk_size",
    "disk_device",
    "partitions",
    "partition_align",
    "first_partition_offset",
    "qemu",
    "watchdog",
    "modules",
    "uboot_config",
    "debian_suite",
    "uboot_files",
    "uboot_raw",
    "firmware_package",
    "firmware_files",
    "firmware_config",
    "uboot_partitions",
    "bootstate_import",
    "boot_partition_type",
];

/// The CPU architectures Nanolin builds boards for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Arch {
    /// 64-bit Arm.
    Aarch64,
    /// 64-bit x86.
    X86_64,
    /// 64-bit RISC-V (RV64GC).
    Riscv64,
    /// 32-bit Arm v7 with hardware floating point.
    Armv7,
}

/// The Rust targets boards may name, with their architecture.
pub const TARGETS: [(&str, Arch); 4] = [
    ("aarch64-unknown-linux-musl", Arch::Aarch64),
    ("x86_64-unknown-linux-musl", Arch::X86_64),
    ("riscv64gc-unknown-linux-gnu", Arch::Riscv64),
    ("armv7-unknown-linux-gnueabihf", Arch::Armv7),
];

impl Arch {
    /// Debian's name for the architecture (`dpkg --print-architecture`).
    pub fn debian(self) -> &'static str {
        match self {
            Arch::Aarch64 => "arm64",
            Arch::X86_64 => "amd64",
            Arch::Riscv64 => "riscv64",
            Arch::Armv7 => "armhf",
        }
    }

    /// QEMU's name for it, as in `qemu-ARCH` and `qemu-system-ARCH`.
    pub fn qemu(self) -> &'static str {
        match self {
            Arch::Aarch64 => "aarch64",
            Arch::X86_64 => "x86_64",
            Arch::Riscv64 => "riscv64",
            Arch::Armv7 => "arm",
        }
    }
}

/// Where the kernel comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelSource {
    /// A Debian binary package (`linux-image-arm64`).
    Debian(String),
}

impl fmt::Display for KernelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KernelSource::Debian(package) => write!(f, "debian:{package}"),
        }
    }
}

/// What picks the slot at boot, and so where the boot state is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootloader {
    /// U-Boot, from its environment.
    Uboot,
    /// GRUB, from its environment block.
    Grub,
    /// No bootloader reads the state: init's early stage picks the slot from the native record.
    Native,
}

impl Bootloader {
    /// The name in a board file.
    pub fn as_str(self) -> &'static str {
        match self {
            Bootloader::Uboot => "uboot",
            Bootloader::Grub => "grub",
            Bootloader::Native => "native",
        }
    }
}

impl fmt::Display for Bootloader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The GPT type of the boot partition (`boot_partition_type`): what the board's firmware
/// looks for it by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootPartitionType {
    /// Generic Linux data (`linux`): U-Boot reads FAT on a partition of any type.
    Linux,
    /// EFI System Partition (`esp`): what UEFI firmware boots from.
    Esp,
    /// Microsoft basic data (`basic-data`): with the EFI System Partition, what the Raspberry
    /// Pi 4's EEPROM bootloader looks for FAT in on a GPT disk.
    BasicData,
}

impl BootPartitionType {
    /// Every type, in the order the board file's rule names them.
    pub const ALL: [BootPartitionType; 3] = [
        BootPartitionType::Esp,
        BootPartitionType::BasicData,
        BootPartitionType::Linux,
    ];

    /// The name in a board file.
    pub fn as_str(self) -> &'static str {
        match self {
            BootPartitionType::Linux => "linux",
            BootPartitionType::Esp => "esp",
            BootPartitionType::BasicData => "basic-data",
        }
    }
}

impl fmt::Display for BootPartitionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a partition is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// What the firmware or bootloader reads: bootloader files, the boot state.
    Boot,
    /// Root file system, slot A.
    RootA,
    /// Root file system, slot B.
    RootB,
    /// Data kept across updates.
    Data,
}

/// Every role, each of which a layout has exactly once.
pub const ROLES: [Role; 4] = [Role::Boot, Role::RootA, Role::RootB, Role::Data];

impl Role {
    /// The name in a board file (and the GPT partition name).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Boot => "boot",
            Role::RootA => "root_a",
            Role::RootB => "root_b",
            Role::Data => "data",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        ROLES.into_iter().find(|r| r.as_str() == text)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One partition of a computed layout, in 512-byte sectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partition {
    /// What it is for.
    pub role: Role,
    /// First sector.
    pub start_sector: u64,
    /// Sectors.
    pub size_sectors: u64,
}

impl Partition {
    /// The sector after the last.
    pub fn end_sector(&self) -> u64 {
        self.start_sector.saturating_add(self.size_sectors)
    }

    /// Offset of the first byte on the disk.
    pub fn start_bytes(&self) -> u64 {
        self.start_sector.saturating_mul(SECTOR_SIZE)
    }

    /// Bytes.
    pub fn size_bytes(&self) -> u64 {
        self.size_sectors.saturating_mul(SECTOR_SIZE)
    }
}

/// A disk layout, computed and checked: partitions in disk order, aligned, inside the usable
/// sectors of a GPT disk of `disk_sectors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// Sectors of the disk (`disk_size` / 512).
    pub disk_sectors: u64,
    /// Every partition starts on a multiple of this many sectors.
    pub align_sectors: u64,
    /// The first sector a partition may use (after the primary GPT).
    pub first_usable: u64,
    /// The last sector a partition may use (before the backup GPT).
    pub last_usable: u64,
    /// The partitions, in disk order.
    pub partitions: Vec<Partition>,
}

/// Why a layout cannot be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutError {
    /// The disk is too small for the GPT itself.
    DiskTooSmall {
        /// Sectors of the disk.
        disk_sectors: u64,
    },
    /// The partitions end past the last usable sector.
    DoesNotFit {
        /// Sectors the layout needs, the backup GPT included.
        needed_sectors: u64,
        /// Sectors of the disk.
        disk_sectors: u64,
    },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LayoutError::DiskTooSmall { disk_sectors } => write!(
                f,
                "a disk of {} has no room for partitions after the primary and backup GPT",
                size_text(disk_sectors.saturating_mul(SECTOR_SIZE))
            ),
            LayoutError::DoesNotFit {
                needed_sectors,
                disk_sectors,
            } => write!(
                f,
                "the partitions need {} (the backup GPT included) but the disk has {}",
                size_text(needed_sectors.saturating_mul(SECTOR_SIZE)),
                size_text(disk_sectors.saturating_mul(SECTOR_SIZE))
            ),
        }
    }
}

impl std::error::Error for LayoutError {}

impl Layout {
    /// Lays out `partitions` (role and size in sectors, in disk order) on a disk of
    /// `disk_sectors`: each starts at the first multiple of `align_sectors` at or after the
    /// end of the one before (the first: at or after `first_sector`, and after the primary
    /// GPT). `align_sectors` 0 counts as 1.
    pub fn compute(
        disk_sectors: u64,
        align_sectors: u64,
        first_sector: u64,
        partitions: &[(Role, u64)],
    ) -> Result<Layout, LayoutError> {
        let align = align_sectors.max(1);
        let last_usable = disk_sectors
            .checked_sub(GPT_BACKUP_SECTORS + 1)
            .filter(|last| *last >= GPT_PRIMARY_SECTORS)
            .ok_or(LayoutError::DiskTooSmall { disk_sectors })?;
        let mut next = first_sector.max(GPT_PRIMARY_SECTORS);
        let mut out = Vec::with_capacity(partitions.len());
        // Sectors needed so far, saturating: a sum past u64 does not fit any disk either.
        let mut needed = next;
        for &(role, size_sectors) in partitions {
            let start = round_up(next, align).unwrap_or(u64::MAX);
            let end = start.saturating_add(size_sectors);
            needed = end;
            next = end;
            out.push(Partition {
                role,
                start_sector: start,
                size_sectors,
            });
        }
        if needed > last_usable.saturating_add(1) {
            return Err(LayoutError::DoesNotFit {
                needed_sectors: needed.saturating_add(GPT_BACKUP_SECTORS),
                disk_sectors,
            });
        }
        Ok(Layout {
            disk_sectors,
            align_sectors: align,
            first_usable: GPT_PRIMARY_SECTORS,
            last_usable,
            partitions: out,
        })
    }

    /// The partition of `role`.
    pub fn partition(&self, role: Role) -> Option<&Partition> {
        self.partitions.iter().find(|p| p.role == role)
    }
}

/// Where the boot state is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    /// Raw bytes from the start of the disk, before the first partition.
    Disk {
        /// Offset of the first copy, in bytes.
        offset: u64,
    },
    /// Raw bytes from the start of a partition.
    Partition {
        /// The partition.
        role: Role,
        /// Offset of the first copy, in bytes, from the partition's start.
        offset: u64,
    },
    /// A file in a partition's FAT file system.
    File {
        /// The partition.
        role: Role,
        /// The file's path in that file system, relative, `/`-separated.
        path: String,
    },
}

/// The boot state: where, how large, how many copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootState {
    /// Where.
    pub location: StateLocation,
    /// Bytes of one copy (U-Boot's `CONFIG_ENV_SIZE`; the whole block or record otherwise).
    pub size: u64,
    /// U-Boot's redundant environment: a second copy right after the first.
    pub redundant: bool,
    /// `bootstate_import`: U-Boot keeps its own environment elsewhere, and the boot script
    /// imports the slot variables from the file and writes them back (a file location only).
    pub import: bool,
}

impl BootState {
    /// The raw bytes the state takes on the disk (both copies when redundant): offset and
    /// length. `None` for a file.
    pub fn disk_range(&self, layout: &Layout) -> Option<(u64, u64)> {
        let base = match &self.location {
            StateLocation::Disk { offset } => *offset,
            StateLocation::Partition { role, offset } => layout
                .partition(*role)?
                .start_bytes()
                .checked_add(*offset)?,
            StateLocation::File { .. } => return None,
        };
        Some((base, self.region_len()))
    }

    /// Bytes of every copy together.
    pub fn region_len(&self) -> u64 {
        if self.redundant {
            self.size.saturating_mul(2)
        } else {
            self.size
        }
    }
}

/// A checked board description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    /// The file it was read from (or the name given to [`Board::parse`]).
    pub path: PathBuf,
    /// The board's name, the file's stem.
    pub name: String,
    /// The string update bundles carry for it.
    pub compatible: String,
    /// One line for people.
    pub description: String,
    /// Rust target of its programs.
    pub target: String,
    /// Its architecture (`debian_arch` agrees).
    pub arch: Arch,
    /// The qemu-user emulator for its binaries.
    pub qemu_user: String,
    /// Where the kernel comes from.
    pub kernel: KernelSource,
    /// Extra kernel arguments (empty when none).
    pub kernel_cmdline: String,
    /// The kernel's console, as in `console=`.
    pub console: String,
    /// The device tree, relative to the kernel package's device tree folder.
    pub dtb: Option<String>,
    /// What picks the slot.
    pub bootloader: Bootloader,
    /// The Debian package providing the bootloader (`uboot_package` or `grub_package`).
    pub bootloader_package: Option<String>,
    /// The boot partition is an EFI System Partition and the firmware UEFI.
    pub efi: bool,
    /// The GPT type of the boot partition.
    pub boot_partition_type: BootPartitionType,
    /// Where the boot state is kept.
    pub boot_state: BootState,
    /// Bytes of the smallest medium.
    pub disk_size: u64,
    /// The partitions, computed and checked.
    pub layout: Layout,
    /// The QEMU command (program and machine options); empty for hardware.
    pub qemu: Vec<String>,
    /// The QEMU watchdog device to add.
    pub watchdog: Option<String>,
    /// Kernel modules the initramfs loads for the disk (the file systems come on top).
    pub modules: Vec<String>,
    /// The U-Boot build of `bootloader_package` the board runs (its `/usr/lib/u-boot` folder).
    pub uboot_config: Option<String>,
    /// The device the board sees its disk as (`/dev/vda`, `/dev/mmcblk0`): where the agent
    /// finds the slots and the boot state.
    pub disk_device: String,
    /// The Debian suite its Debian packages come from (`trixie`), through a private apt
    /// configuration; `None`: the build host's apt sources.
    pub debian_suite: Option<String>,
    /// What a ROM or firmware loads before Nanolin's boot script runs.
    pub loader: Loader,
}

/// The files a board's ROM or firmware loads first (before U-Boot runs the boot script), from
/// Debian's packages: `uboot_files`, `uboot_raw`, `firmware_package`, `firmware_files` and
/// `firmware_config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Loader {
    /// Files of the U-Boot build copied onto the boot partition's root.
    pub uboot_files: Vec<String>,
    /// Files of the U-Boot build written raw, at byte offsets from the disk's start.
    pub uboot_raw: Vec<(String, u64)>,
    /// GPT partitions holding files of the U-Boot build, first in the table, in this order.
    pub uboot_partitions: Vec<UbootPartition>,
    /// The Debian package with the SoC's firmware.
    pub firmware_package: Option<String>,
    /// Files of that package (paths inside it) copied onto the boot partition's root.
    pub firmware_files: Vec<String>,
    /// The settings of the Raspberry Pi firmware's `config.txt`, one per line.
    pub firmware_config: Vec<String>,
}

impl Loader {
    /// Whether the board has nothing of its own to load first.
    pub fn is_empty(&self) -> bool {
        *self == Loader::default()
    }
}

/// A GPT partition holding a file of the board's U-Boot build (`uboot_partitions`): where a
/// ROM finds the SPL by the partition's type, or an SPL loads U-Boot from a partition number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UbootPartition {
    /// The partition's name in the GPT (`spl`, `uboot`).
    pub name: String,
    /// The file of the U-Boot build it holds, relative to its folder under `/usr/lib/u-boot`.
    pub file: String,
    /// Its first sector (512 bytes), on a 1 MiB boundary.
    pub start_sector: u64,
    /// Its length in sectors, whole 4 KiB blocks.
    pub size_sectors: u64,
    /// Its GPT type.
    pub type_guid: Guid,
}

impl UbootPartition {
    /// Its offset in bytes from the disk's start.
    pub fn start_bytes(&self) -> u64 {
        self.start_sector.saturating_mul(SECTOR_SIZE)
    }

    /// Its length in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.size_sectors.saturating_mul(SECTOR_SIZE)
    }
}

/// Why a board file, or a board name, is refused.
#[derive(Debug)]
pub enum BoardError {
    /// A file or folder could not be read.
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// The file is longer than [`BOARD_MAX_LEN`].
    TooLong {
        /// The file, at its start.
        at: Place,
        /// The limit.
        limit: usize,
    },
    /// The file is not UTF-8 text.
    NotUtf8 {
        /// The first byte that is not.
        at: Place,
    },
    /// The key=value syntax is broken.
    Syntax {
        /// Where.
        at: Place,
        /// What.
        kind: SyntaxErrorKind,
    },
    /// A `$variable` not defined on an earlier line.
    UndefinedVariable {
        /// The assignment.
        at: Place,
        /// The variable's name.
        variable: String,
    },
    /// A value longer than [`VALUE_MAX_LEN`] once expanded.
    ValueTooLong {
        /// The assignment.
        at: Place,
        /// The limit.
        limit: usize,
    },
    /// A key that board files do not have.
    UnknownKey {
        /// The assignment.
        at: Place,
        /// The key as written.
        key: String,
        /// The known key it is nearest to.
        suggestion: Option<&'static str>,
    },
    /// A shell function: board files have none.
    Function {
        /// The function's name.
        at: Place,
        /// Its name.
        name: String,
    },
    /// `export key=value`.
    Exported {
        /// The assignment.
        at: Place,
        /// The key.
        key: String,
    },
    /// A key assigned twice.
    Duplicate {
        /// The second assignment.
        at: Place,
        /// The key.
        key: String,
        /// The line of the first.
        first_line: u32,
    },
    /// A required key is missing.
    Missing {
        /// The end of the file, where it can be added.
        at: Place,
        /// The key.
        key: &'static str,
        /// Why it is needed and what to write.
        hint: &'static str,
    },
    /// A value breaks its rule.
    Invalid {
        /// The assignment, or the entry of a list.
        at: Place,
        /// The key.
        key: &'static str,
        /// The value or entry.
        value: String,
        /// The rule, and what to do.
        rule: String,
    },
    /// A key that does not apply to this board.
    NotApplicable {
        /// The assignment.
        at: Place,
        /// The key.
        key: &'static str,
        /// Why, and what to do.
        reason: &'static str,
    },
    /// `name` differs from the file's name.
    NameMismatch {
        /// The assignment.
        at: Place,
        /// The name written.
        name: String,
        /// The file's name without `.conf`.
        stem: String,
    },
    /// The partitions do not fit `disk_size`.
    DoesNotFit {
        /// The `partitions` assignment.
        at: Place,
        /// Bytes the layout needs, the backup GPT included.
        needed: u64,
        /// `disk_size`, in bytes.
        disk_size: u64,
        /// Line of the `disk_size` assignment.
        disk_size_line: u32,
    },
    /// No board of that name.
    UnknownBoard {
        /// The folder searched.
        dir: PathBuf,
        /// The name asked for.
        name: String,
        /// The boards there.
        known: Vec<String>,
    },
}

impl BoardError {
    /// Where the fault is in a board file (none for an unreadable file or an unknown board).
    pub fn place(&self) -> Option<&Place> {
        match self {
            BoardError::Io { .. } | BoardError::UnknownBoard { .. } => None,
            BoardError::TooLong { at, .. }
            | BoardError::NotUtf8 { at }
            | BoardError::Syntax { at, .. }
            | BoardError::UndefinedVariable { at, .. }
            | BoardError::ValueTooLong { at, .. }
            | BoardError::UnknownKey { at, .. }
            | BoardError::Function { at, .. }
            | BoardError::Exported { at, .. }
            | BoardError::Duplicate { at, .. }
            | BoardError::Missing { at, .. }
            | BoardError::Invalid { at, .. }
            | BoardError::NotApplicable { at, .. }
            | BoardError::NameMismatch { at, .. }
            | BoardError::DoesNotFit { at, .. } => Some(at),
        }
    }
}

impl fmt::Display for BoardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoardError::Io { path, source } => {
                write!(f, "unable to read {}: {source}", path.display())
            }
            BoardError::TooLong { at, limit } => write!(
                f,
                "{at}: longer than {limit} bytes, the limit for a board file: is this a board \
                 description?"
            ),
            BoardError::NotUtf8 { at } => {
                write!(f, "{at}: not UTF-8 text: save the board file as UTF-8")
            }
            BoardError::Syntax { at, kind } => write!(f, "{at}: {kind}"),
            BoardError::UndefinedVariable { at, variable } => write!(
                f,
                "{at}: ${variable} is not defined above this line: define it first (board \
                 files see no environment variables)"
            ),
            BoardError::ValueTooLong { at, limit } => write!(
                f,
                "{at}: the value is longer than {limit} bytes once expanded: shorten it"
            ),
            BoardError::UnknownKey {
                at,
                key,
                suggestion: Some(known),
            } => write!(
                f,
                "{at}: unknown key `{key}`: did you mean `{known}`? (every key is listed in the \
                 README's Boards section)"
            ),
            BoardError::UnknownKey {
                at,
                key,
                suggestion: None,
            } => write!(
                f,
                "{at}: unknown key `{key}`: a board file has only these keys: {}",
                BOARD_KEYS.join(", ")
            ),
            BoardError::Function { at, name } => write!(
                f,
                "{at}: `{name}()` is a shell function: board files have only key=value lines"
            ),
            BoardError::Exported { at, key } => write!(
                f,
                "{at}: `export {key}=…`: board files export nothing: write `{key}=…`"
            ),
            BoardError::Duplicate {
                at,
                key,
                first_line,
            } => write!(
                f,
                "{at}: `{key}` is assigned twice (first on line {first_line}): keep one"
            ),
            BoardError::Missing { at, key, hint } => {
                write!(f, "{at}: the board has no `{key}`: {hint}")
            }
            BoardError::Invalid {
                at,
                key,
                value,
                rule,
            } => write!(f, "{at}: {key} `{value}` is invalid: {rule}"),
            BoardError::NotApplicable { at, key, reason } => {
                write!(f, "{at}: `{key}` does not apply here: {reason}")
            }
            BoardError::NameMismatch { at, name, stem } => write!(
                f,
                "{at}: name `{name}` differs from the file's name `{stem}`: a board is named by \
                 its file: write name={stem}, or rename the file to {name}.{BOARD_EXTENSION}"
            ),
            BoardError::DoesNotFit {
                at,
                needed,
                disk_size,
                disk_size_line,
            } => write!(
                f,
                "{at}: the partitions do not fit the disk: they need {} with alignment and \
                 both GPTs, but disk_size (line {disk_size_line}) is {}: shrink the partitions \
                 or raise disk_size",
                size_text(*needed),
                size_text(*disk_size)
            ),
            BoardError::UnknownBoard { dir, name, known } => {
                write!(f, "no board `{name}` in {}", dir.display())?;
                let names: Vec<&str> = known.iter().map(String::as_str).collect();
                if let Some(near) = nearest(name, &names) {
                    write!(f, ": did you mean `{near}`?")?;
                }
                if known.is_empty() {
                    write!(f, " (it has no .{BOARD_EXTENSION} files)")
                } else {
                    write!(f, " (known boards: {})", known.join(", "))
                }
            }
        }
    }
}

impl std::error::Error for BoardError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BoardError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// `bytes` for people: `2 GiB (2147483648 bytes)`, or just the bytes when not a whole KiB.
fn size_text(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (unit, name) in UNITS {
        if bytes >= unit && bytes % unit == 0 {
            return format!("{} {name} ({bytes} bytes)", bytes / unit);
        }
    }
    if bytes >= 1 << 20 {
        // Not a whole unit: hundredths of a MiB, rounded up, then the exact figure.
        let hundredths = u128::from(bytes).saturating_mul(100).div_ceil(1 << 20);
        return format!(
            "{}.{:02} MiB ({bytes} bytes)",
            hundredths / 100,
            hundredths % 100
        );
    }
    format!("{bytes} bytes")
}

/// The first multiple of `align` at or after `value` (`align` > 0).
fn round_up(value: u64, align: u64) -> Option<u64> {
    value.div_ceil(align).checked_mul(align)
}

/// The rule for sizes, for messages.
const SIZE_RULE: &str = "a size is decimal digits with an optional K, M or G (1K = 1024 bytes), \
     or 0x and hex digits, in bytes: 512, 16K, 64M, 2G, 0x260000";

/// A size in bytes (see [`SIZE_RULE`]).
pub fn parse_size(text: &str) -> Option<u64> {
    if let Some(hex) = text.strip_prefix("0x") {
        if hex.is_empty() || !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
            return None;
        }
        return u64::from_str_radix(hex, 16).ok();
    }
    let (digits, unit) = match text.as_bytes().last()? {
        b'K' => (text.get(..text.len() - 1)?, 1u64 << 10),
        b'M' => (text.get(..text.len() - 1)?, 1 << 20),
        b'G' => (text.get(..text.len() - 1)?, 1 << 30),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    digits.parse::<u64>().ok()?.checked_mul(unit)
}

/// Edit distance between two short texts (transpositions count once); `None` past `limit`.
fn edit_distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let a = a.as_bytes();
    let b = b.as_bytes();
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        if let Some(cell) = d.get_mut(at(i, 0)) {
            *cell = i;
        }
        for j in 1..=b.len() {
            let get = |i, j| d.get(at(i, j)).copied().unwrap_or(usize::MAX - 1);
            let (ai, bj) = (a.get(i - 1), b.get(j - 1));
            let mut v = (get(i - 1, j) + 1)
                .min(get(i, j - 1) + 1)
                .min(get(i - 1, j - 1) + usize::from(ai != bj));
            if i > 1 && j > 1 && ai == b.get(j - 2) && a.get(i - 2) == bj {
                v = v.min(get(i - 2, j - 2) + 1);
            }
            if let Some(cell) = d.get_mut(at(i, j)) {
                *cell = v;
            }
        }
    }
    d.get(at(a.len(), b.len())).copied().filter(|&v| v <= limit)
}

/// The known word nearest to `word`: same but for case, within a few edits, or one that
/// contains it (`cmdline` for `kernel_cmdline`).
fn nearest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    if word.is_empty() || word.len() > 64 {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    if let Some(k) = known
        .iter()
        .find(|k| **k != word && k.eq_ignore_ascii_case(word))
    {
        return Some(k);
    }
    // One edit in a short word, two in a longer one, more in a long one (a target triple).
    let limit = if lower.len() <= 4 {
        1
    } else {
        (lower.len() / 6).max(2)
    };
    let close = known
        .iter()
        .filter_map(|k| Some((edit_distance(&lower, k, limit)?, *k)))
        .filter(|(d, _)| *d > 0)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k);
    close.or_else(|| {
        (lower.len() >= 4)
            .then(|| known.iter().copied().find(|k| k.contains(lower.as_str())))
            .flatten()
    })
}

/// The place of byte `offset` of `bytes`.
fn position_at(bytes: &[u8], offset: usize) -> Position {
    let before = bytes.get(..offset).unwrap_or(bytes);
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let lines = before.iter().filter(|&&b| b == b'\n').count();
    Position {
        line: u32::try_from(lines + 1).unwrap_or(u32::MAX),
        column: u32::try_from(offset.saturating_sub(line_start) + 1).unwrap_or(u32::MAX),
    }
}

/// One assignment of a board file.
struct Entry {
    value: String,
    /// Where the key starts.
    position: Position,
    /// The value as written, for the places of list entries.
    raw: String,
}

/// The keys of a board file, read and expanded; what is taken is removed, so what is left
/// over are keys that do not apply.
struct Entries {
    file: PathBuf,
    map: BTreeMap<&'static str, Entry>,
    end: Position,
}

impl Entries {
    fn at(&self, position: Position) -> Place {
        Place {
            file: self.file.clone(),
            position,
        }
    }

    fn get(&self, key: &str) -> Option<&Entry> {
        self.map.get(key)
    }

    /// The value and place of `key`, if given.
    fn optional(&self, key: &'static str) -> Option<(&str, Position)> {
        self.get(key).map(|e| (e.value.as_str(), e.position))
    }

    /// The value and place of `key`, which must be given.
    fn required(
        &self,
        key: &'static str,
        hint: &'static str,
    ) -> Result<(&str, Position), BoardError> {
        self.optional(key).ok_or_else(|| BoardError::Missing {
            at: self.at(self.end),
            key,
            hint,
        })
    }

    fn invalid(
        &self,
        position: Position,
        key: &'static str,
        value: &str,
        rule: impl Into<String>,
    ) -> BoardError {
        BoardError::Invalid {
            at: self.at(position),
            key,
            value: value.to_string(),
            rule: rule.into(),
        }
    }

    /// Refuses `key` when given: it does not apply, for `reason`.
    fn refuse(&self, key: &'static str, reason: &'static str) -> Result<(), BoardError> {
        match self.get(key) {
            Some(e) => Err(BoardError::NotApplicable {
                at: self.at(e.position),
                key,
                reason,
            }),
            None => Ok(()),
        }
    }

    /// The place of `entry`, a word of `key`'s value: at the word when the value holds it as
    /// written on the key's line, else at the key.
    fn entry_position(&self, key: &str, entry: &str) -> Position {
        let Some(e) = self.get(key) else {
            return self.end;
        };
        let found = e
            .raw
            .match_indices(entry)
            .find(|(i, _)| {
                // A whole word, on the first line of the value.
                let before = e.raw.get(..*i).unwrap_or("");
                let after = e.raw.get(i + entry.len()..).unwrap_or("");
                !before.contains('\n')
                    && before.chars().last().is_none_or(|c| " \t\"'".contains(c))
                    && after.chars().next().is_none_or(|c| " \t\"'".contains(c))
            })
            .map(|(i, _)| i);
        match found {
            Some(i) => {
                let offset = u32::try_from(key.len() + 1 + i).unwrap_or(0);
                Position {
                    line: e.position.line,
                    column: e.position.column.saturating_add(offset),
                }
            }
            None => e.position,
        }
    }
}

/// Reads the assignments of `text`, expanded, refusing what a board file does not have.
fn entries(path: &Path, text: &str, bytes: &[u8]) -> Result<Entries, BoardError> {
    let mut out = Entries {
        file: path.to_path_buf(),
        map: BTreeMap::new(),
        end: position_at(bytes, bytes.len()),
    };
    let mut buf = vec![0u8; VALUE_MAX_LEN];
    for item in Parser::new(text) {
        let item = item.map_err(|e| BoardError::Syntax {
            at: out.at(e.position),
            kind: e.kind,
        })?;
        let a = match item {
            Item::Assignment(a) => a,
            Item::Function { name, position } => {
                return Err(BoardError::Function {
                    at: out.at(position),
                    name: name.to_string(),
                })
            }
        };
        let Some(&key) = BOARD_KEYS.iter().find(|k| **k == a.name) else {
            return Err(BoardError::UnknownKey {
                at: out.at(a.position),
                key: a.name.to_string(),
                suggestion: nearest(a.name, &BOARD_KEYS),
            });
        };
        if a.exported {
            return Err(BoardError::Exported {
                at: out.at(a.position),
                key: key.to_string(),
            });
        }
        if let Some(first) = out.get(key) {
            return Err(BoardError::Duplicate {
                at: out.at(a.position),
                key: key.to_string(),
                first_line: first.position.line,
            });
        }
        let value = a
            .value
            .expand_into(&mut buf, |name| out.get(name).map(|e| e.value.as_str()))
            .map_err(|e| match e {
                ExpandError::UnknownVariable(variable) => BoardError::UndefinedVariable {
                    at: out.at(a.position),
                    variable: variable.to_string(),
                },
                ExpandError::TooLong { .. } => BoardError::ValueTooLong {
                    at: out.at(a.position),
                    limit: VALUE_MAX_LEN,
                },
            })?
            .to_string();
        out.map.insert(
            key,
            Entry {
                value,
                position: a.position,
                raw: a.value.raw().to_string(),
            },
        );
    }
    Ok(out)
}

/// Whether `name` is a board name: `[a-z0-9][a-z0-9_-]*`, at most 64 characters (so it is
/// also a compatible string).
pub fn is_board_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= COMPATIBLE_MAX_LEN
        && bytes
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && bytes.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-".contains(&c))
}

/// Whether `text` is a Debian package name: `[a-z0-9][a-z0-9+.-]+`.
fn is_debian_package(text: &str) -> bool {
    let mut bytes = text.bytes();
    text.len() >= 2
        && bytes
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && bytes.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+.-".contains(&c))
}

/// Whether `text` is one line of printable text (tabs allowed).
fn is_one_line(text: &str) -> bool {
    !text.chars().any(|c| c.is_control() && c != '\t')
}

/// Whether `path` is a relative `/`-separated path of ordinary names.
fn is_relative_path(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && !part.chars().any(|c| c.is_control() || c == '\\')
        })
}

/// A `yes` / `no` value.
fn parse_yes_no(text: &str) -> Option<bool> {
    match text {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

/// Appends "did you mean" for `value` among `known` to `rule`.
fn with_suggestion(rule: &str, value: &str, known: &[&str]) -> String {
    match nearest(value, known) {
        Some(near) => format!("{rule}: did you mean `{near}`?"),
        None => rule.to_string(),
    }
}

/// The hint for a missing key.
fn missing_hint(key: &str) -> &'static str {
    match key {
        "name" => "add name=… with the file's name without .conf",
        "description" => "add description=\"…\", one line for people",
        "target" => "add target=… with the Rust target of the board's programs, such as aarch64-unknown-linux-musl",
        "debian_arch" => "add debian_arch=… (arm64, amd64, riscv64 or armhf, to match target)",
        "qemu_user" => "add qemu_user=qemu-ARCH-static, the emulator for the board's binaries",
        "kernel" => "add kernel=debian:PACKAGE, such as kernel=debian:linux-image-arm64",
        "console" => "add console=… with the serial console, such as console=ttyS0,115200n8",
        "bootloader" => "add bootloader=uboot, grub or native",
        "uboot_package" => "a U-Boot board names the Debian package of its U-Boot: add uboot_package=…, such as u-boot-rpi",
        "grub_package" => "a GRUB board names the Debian package of its GRUB: add grub_package=…, such as grub-efi-amd64-bin",
        "bootstate_partition" => "add bootstate_partition=boot (or disk, raw before the first partition)",
        "bootstate_offset" => "a raw boot state needs its place: add bootstate_offset=… (bytes from the start of the partition or disk), or bootstate_file=… for a file",
        "bootstate_size" => "U-Boot's environment size is fixed when U-Boot is built: add bootstate_size=… with its CONFIG_ENV_SIZE, such as 16K",
        "disk_device" => "add disk_device=… with the device the board's kernel names its disk, such as /dev/vda (virtio) or /dev/mmcblk0 (SD card)",
        "disk_size" => "add disk_size=… with the smallest medium the board is used with, such as 3584M for a \"4 GB\" SD card",
        "partitions" => "add partitions=\"boot:SIZE root_a:SIZE root_b:SIZE data:SIZE\" in disk order",
        _ => "add it",
    }
}

impl Board {
    /// Reads and checks the board file at `path`.
    pub fn load(path: &Path) -> Result<Board, BoardError> {
        let io_error = |source| BoardError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(io_error)?;
        let mut bytes = Vec::new();
        // One byte past the limit tells a file at the limit from a longer one.
        file.take(BOARD_MAX_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        Board::parse(path, &bytes)
    }

    /// The names of the boards in `dir` (its `.conf` files), sorted.
    pub fn list(dir: &Path) -> Result<Vec<String>, BoardError> {
        let io_error = |source| BoardError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let mut names = Vec::new();
        for entry in fs::read_dir(dir).map_err(io_error)? {
            let path = entry.map_err(io_error)?.path();
            if path.extension().is_some_and(|e| e == BOARD_EXTENSION) {
                if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                    names.push(stem.to_string());
                }
            }
        }
        names.sort();
        Ok(names)
    }

    /// Reads and checks the board `name` from `boards_dir` (`boards_dir/NAME.conf`); an unknown
    /// name is refused with the boards there.
    pub fn find(boards_dir: &Path, name: &str) -> Result<Board, BoardError> {
        let path = boards_dir.join(format!("{name}.{BOARD_EXTENSION}"));
        if !is_board_name(name) || !path.is_file() {
            return Err(BoardError::UnknownBoard {
                dir: boards_dir.to_path_buf(),
                name: name.to_string(),
                known: Board::list(boards_dir)?,
            });
        }
        Board::load(&path)
    }

    /// Checks the board text `bytes`; `path` names it in errors, and its stem is the board's
    /// name.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Board, BoardError> {
        let start = Place {
            file: path.to_path_buf(),
            position: Position { line: 1, column: 1 },
        };
        if bytes.len() > BOARD_MAX_LEN {
            return Err(BoardError::TooLong {
                at: start,
                limit: BOARD_MAX_LEN,
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|e| BoardError::NotUtf8 {
            at: Place {
                file: path.to_path_buf(),
                position: position_at(bytes, e.valid_up_to()),
            },
        })?;
        let e = entries(path, text, bytes)?;

        let (name, compatible, description) = identity(&e, path)?;
        let (target, arch, qemu_user) = programs(&e)?;
        let (kernel, kernel_cmdline, console, dtb) = kernel(&e)?;
        let (bootloader, bootloader_package, efi) = bootloader(&e)?;
        let boot_partition_type = boot_partition_type(&e, efi)?;
        let (disk_size, layout) = layout(&e)?;
        let boot_state = boot_state(&e, bootloader, &layout)?;
        let (qemu, watchdog) = qemu(&e, arch, &target)?;
        let (disk_device, disk_device_at) =
            e.required("disk_device", missing_hint("disk_device"))?;
        let device_ok = disk_device.starts_with("/dev/")
            && disk_device.len() > 5
            && disk_device
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"/_-".contains(&c));
        if !device_ok {
            return Err(e.invalid(
                disk_device_at,
                "disk_device",
                disk_device,
                "a device path under /dev, such as /dev/vda or /dev/mmcblk0",
            ));
        }
        let disk_device = disk_device.to_string();
        let modules = modules(&e)?;
        let uboot_config = uboot_config(&e, bootloader)?;
        let debian_suite = debian_suite(&e)?;
        let loader = loader(&e, bootloader, &boot_state, &layout)?;

        Ok(Board {
            path: path.to_path_buf(),
            name,
            compatible,
            description,
            target,
            arch,
            qemu_user,
            kernel,
            kernel_cmdline,
            console,
            dtb,
            bootloader,
            bootloader_package,
            efi,
            boot_partition_type,
            boot_state,
            disk_size,
            layout,
            qemu,
            watchdog,
            disk_device,
            modules,
            uboot_config,
            debian_suite,
            loader,
        })
    }

    /// The device of the partition at `index` (from 1) of the board's disk: `/dev/vda2`, or
    /// `/dev/mmcblk0p2` where the disk's name ends in a digit.
    pub fn partition_device(&self, index: usize) -> String {
        let separator = if self.disk_device.ends_with(|c: char| c.is_ascii_digit()) {
            "p"
        } else {
            ""
        };
        format!("{}{separator}{index}", self.disk_device)
    }

    /// The number (from 1) of the partition of `role` in the board's GPT: after the
    /// `uboot_partitions`, which come first. 0 for a role the layout lacks (none does).
    pub fn partition_number(&self, role: Role) -> usize {
        self.layout
            .partitions
            .iter()
            .position(|p| p.role == role)
            .map_or(0, |i| self.loader.uboot_partitions.len() + i + 1)
    }

    /// The device of the partition of `role` as the board's kernel names it
    /// ([`Board::partition_number`] on `disk_device`: `/dev/vda2`, `/dev/mmcblk0p4`).
    pub fn role_device(&self, role: Role) -> String {
        self.partition_device(self.partition_number(role))
    }

    /// Whether QEMU emulates this board.
    pub fn has_qemu(&self) -> bool {
        !self.qemu.is_empty()
    }
}

/// `name`, `compatible` and `description`.
fn identity(e: &Entries, path: &Path) -> Result<(String, String, String), BoardError> {
    let (name, name_at) = e.required("name", missing_hint("name"))?;
    if !is_board_name(name) {
        return Err(e.invalid(
            name_at,
            "name",
            name,
            "a board name is lowercase letters, digits, `-` and `_`, starting with a letter \
             or digit, at most 64",
        ));
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name != stem {
        return Err(BoardError::NameMismatch {
            at: e.at(name_at),
            name: name.to_string(),
            stem,
        });
    }
    let compatible = match e.optional("compatible") {
        None => name.to_string(),
        Some((value, at)) => {
            let ok = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
            if value.is_empty() || value.len() > COMPATIBLE_MAX_LEN || !value.chars().all(ok) {
                return Err(e.invalid(
                    at,
                    "compatible",
                    value,
                    "a compatible string is 1 to 64 letters, digits, `-`, `_` and `.` \
                     (what update bundles carry): leave it out to use the name",
                ));
            }
            value.to_string()
        }
    };
    let (description, description_at) = e.required("description", missing_hint("description"))?;
    if description.trim().is_empty() || !is_one_line(description) {
        return Err(e.invalid(
            description_at,
            "description",
            description,
            "a description is one line of text",
        ));
    }
    Ok((name.to_string(), compatible, description.to_string()))
}

/// `target`, `debian_arch` (checked against it) and `qemu_user`.
fn programs(e: &Entries) -> Result<(String, Arch, String), BoardError> {
    let (target, target_at) = e.required("target", missing_hint("target"))?;
    let triples: Vec<&str> = TARGETS.iter().map(|(t, _)| *t).collect();
    let arch = TARGETS
        .iter()
        .find(|(t, _)| *t == target)
        .map(|(_, a)| *a)
        .ok_or_else(|| {
            e.invalid(
                target_at,
                "target",
                target,
                with_suggestion(
                    &format!("the boards build for {}", triples.join(", ")),
                    target,
                    &triples,
                ),
            )
        })?;
    let (debian_arch, debian_at) = e.required("debian_arch", missing_hint("debian_arch"))?;
    if debian_arch != arch.debian() {
        return Err(e.invalid(
            debian_at,
            "debian_arch",
            debian_arch,
            format!(
                "target {target} is Debian's {0}: write debian_arch={0}",
                arch.debian()
            ),
        ));
    }
    let (qemu_user, qemu_user_at) = e.required("qemu_user", missing_hint("qemu_user"))?;
    let emulator = format!("qemu-{}", arch.qemu());
    if qemu_user != emulator && qemu_user != format!("{emulator}-static") {
        return Err(e.invalid(
            qemu_user_at,
            "qemu_user",
            qemu_user,
            format!("{target} binaries run under {emulator}-static (or {emulator})"),
        ));
    }
    Ok((target.to_string(), arch, qemu_user.to_string()))
}

/// `kernel`, `kernel_cmdline`, `console` and `dtb`.
fn kernel(e: &Entries) -> Result<(KernelSource, String, String, Option<String>), BoardError> {
    let (kernel, kernel_at) = e.required("kernel", missing_hint("kernel"))?;
    let kernel = match kernel.strip_prefix("debian:") {
        Some(package) if is_debian_package(package) => KernelSource::Debian(package.to_string()),
        _ => {
            return Err(e.invalid(
                kernel_at,
                "kernel",
                kernel,
                "a kernel comes from a Debian binary package: write debian:PACKAGE, such as \
                 debian:linux-image-arm64",
            ))
        }
    };
    let kernel_cmdline = match e.optional("kernel_cmdline") {
        None => String::new(),
        Some((value, at)) => {
            if !is_one_line(value) {
                return Err(e.invalid(
                    at,
                    "kernel_cmdline",
                    value,
                    "the kernel's arguments are one line",
                ));
            }
            if let Some(word) = value
                .split_whitespace()
                .find(|w| w.starts_with("console=") || w.starts_with("root="))
            {
                return Err(e.invalid(
                    at,
                    "kernel_cmdline",
                    word,
                    "the tools set console= (from the console key) and root= (the booted \
                     slot): leave it out",
                ));
            }
            value.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    let (console, console_at) = e.required("console", missing_hint("console"))?;
    let (device, options) = console.split_once(',').unwrap_or((console, ""));
    let device_ok = device
        .bytes()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && device.bytes().all(|c| c.is_ascii_alphanumeric());
    let options_ok = console.find(',').is_none()
        || (!options.is_empty() && options.bytes().all(|c| c.is_ascii_alphanumeric()));
    if !device_ok || !options_ok {
        return Err(e.invalid(
            console_at,
            "console",
            console,
            "a console is a device name and optional settings, as in the kernel's \
             console=: ttyAMA0, ttyS0,115200n8",
        ));
    }
    let dtb = match e.optional("dtb") {
        None => None,
        Some((value, at)) => {
            if !is_relative_path(value) || !value.ends_with(".dtb") {
                return Err(e.invalid(
                    at,
                    "dtb",
                    value,
                    "a device tree is a .dtb file relative to the kernel package's device \
                     tree folder, such as broadcom/bcm2711-rpi-4-b.dtb",
                ));
            }
            Some(value.to_string())
        }
    };
    Ok((kernel, kernel_cmdline, console.to_string(), dtb))
}

/// `bootloader`, its package and `efi`.
fn bootloader(e: &Entries) -> Result<(Bootloader, Option<String>, bool), BoardError> {
    let (bootloader_text, bootloader_at) = e.required("bootloader", missing_hint("bootloader"))?;
    let bootloader = match bootloader_text {
        "uboot" => Bootloader::Uboot,
        "grub" => Bootloader::Grub,
        "native" => Bootloader::Native,
        other => {
            return Err(e.invalid(
                bootloader_at,
                "bootloader",
                other,
                with_suggestion(
                    "the bootloader is uboot, grub or native (init picks the slot)",
                    other,
                    &["uboot", "grub", "native"],
                ),
            ))
        }
    };
    let package = |key: &'static str| -> Result<String, BoardError> {
        let (value, at) = e.required(key, missing_hint(key))?;
        if !is_debian_package(value) {
            return Err(e.invalid(
                at,
                key,
                value,
                "a Debian package name is lowercase letters, digits and `+.-`",
            ));
        }
        Ok(value.to_string())
    };
    let bootloader_package = match bootloader {
        Bootloader::Uboot => {
            e.refuse("grub_package", "the bootloader is uboot: remove it")?;
            Some(package("uboot_package")?)
        }
        Bootloader::Grub => {
            e.refuse("uboot_package", "the bootloader is grub: remove it")?;
            Some(package("grub_package")?)
        }
        Bootloader::Native => {
            let reason = "bootloader=native has no bootloader package: remove it";
            e.refuse("uboot_package", reason)?;
            e.refuse("grub_package", reason)?;
            None
        }
    };
    let efi = match e.optional("efi") {
        None => false,
        Some((value, at)) => {
            parse_yes_no(value).ok_or_else(|| e.invalid(at, "efi", value, "efi is yes or no"))?
        }
    };
    match (bootloader, efi) {
        (Bootloader::Grub, false) => {
            const HINT: &str = "GRUB boards boot by UEFI (a BIOS GRUB needs a BIOS boot \
                                partition, which Nanolin's layouts do not have): write efi=yes";
            return Err(match e.optional("efi") {
                Some((value, at)) => e.invalid(at, "efi", value, HINT),
                None => BoardError::Missing {
                    at: e.at(e.end),
                    key: "efi",
                    hint: HINT,
                },
            });
        }
        (Bootloader::Uboot | Bootloader::Native, true) => {
            return Err(BoardError::NotApplicable {
                at: e.at(e.get("efi").map_or(e.end, |x| x.position)),
                key: "efi",
                reason: "only GRUB boards boot by UEFI here: write efi=no or remove it",
            })
        }
        _ => {}
    }
    Ok((bootloader, bootloader_package, efi))
}

/// `boot_partition_type`: `esp` with `efi=yes` (the default there), else any (default
/// `linux`).
fn boot_partition_type(e: &Entries, efi: bool) -> Result<BootPartitionType, BoardError> {
    let default = if efi {
        BootPartitionType::Esp
    } else {
        BootPartitionType::Linux
    };
    let Some((value, at)) = e.optional("boot_partition_type") else {
        return Ok(default);
    };
    let names: Vec<&str> = BootPartitionType::ALL.iter().map(|t| t.as_str()).collect();
    let Some(kind) = BootPartitionType::ALL
        .into_iter()
        .find(|t| t.as_str() == value)
    else {
        return Err(e.invalid(
            at,
            "boot_partition_type",
            value,
            with_suggestion(
                "the boot partition's GPT type is esp (EFI System Partition), basic-data \
                 (Microsoft basic data) or linux (generic Linux data)",
                value,
                &names,
            ),
        ));
    };
    if efi && kind != BootPartitionType::Esp {
        return Err(e.invalid(
            at,
            "boot_partition_type",
            value,
            "UEFI firmware boots from an EFI System Partition, and this board has efi=yes: \
             write esp, or leave it out",
        ));
    }
    Ok(kind)
}

/// `disk_size` and the layout of `partitions`, `partition_align` and
/// `first_partition_offset`.
fn layout(e: &Entries) -> Result<(u64, Layout), BoardError> {
    let size = |key: &'static str, value: &str, at: Position| {
        parse_size(value).ok_or_else(|| e.invalid(at, key, value, SIZE_RULE))
    };
    let (disk_text, disk_at) = e.required("disk_size", missing_hint("disk_size"))?;
    let disk_size = size("disk_size", disk_text, disk_at)?;
    if disk_size % SECTOR_SIZE != 0 || disk_size == 0 {
        return Err(e.invalid(
            disk_at,
            "disk_size",
            disk_text,
            "a disk is a whole number of 512-byte sectors",
        ));
    }
    let align = match e.optional("partition_align") {
        None => DEFAULT_PARTITION_ALIGN,
        Some((value, at)) => {
            let align = size("partition_align", value, at)?;
            if !align.is_power_of_two() || !(SECTOR_SIZE..=MAX_PARTITION_ALIGN).contains(&align) {
                return Err(e.invalid(
                    at,
                    "partition_align",
                    value,
                    "the alignment is a power of two from 512 bytes to 1G, such as 1M or 4M",
                ));
            }
            align
        }
    };
    let first_offset = match e.optional("first_partition_offset") {
        None => align.max(DEFAULT_PARTITION_ALIGN),
        Some((value, at)) => {
            let offset = size("first_partition_offset", value, at)?;
            if offset % SECTOR_SIZE != 0 || offset < GPT_PRIMARY_SECTORS * SECTOR_SIZE {
                return Err(e.invalid(
                    at,
                    "first_partition_offset",
                    value,
                    "the first partition starts on a 512-byte sector after the primary GPT \
                     (17K): such as 1M or 4M",
                ));
            }
            offset
        }
    };
    let (parts_text, parts_at) = e.required("partitions", missing_hint("partitions"))?;
    let parts = partitions(e, parts_text, parts_at)?;
    let layout = Layout::compute(
        disk_size / SECTOR_SIZE,
        align / SECTOR_SIZE,
        first_offset / SECTOR_SIZE,
        &parts,
    )
    .map_err(|error| match error {
        LayoutError::DiskTooSmall { .. } => e.invalid(
            disk_at,
            "disk_size",
            disk_text,
            "the disk has no room for partitions after the primary and backup GPT",
        ),
        LayoutError::DoesNotFit { needed_sectors, .. } => BoardError::DoesNotFit {
            at: e.at(parts_at),
            needed: needed_sectors.saturating_mul(SECTOR_SIZE),
            disk_size,
            disk_size_line: disk_at.line,
        },
    })?;
    Ok((disk_size, layout))
}

/// The roles and sizes (in sectors) of `partitions`, in disk order: each role once, the root
/// slots of one size.
fn partitions(
    e: &Entries,
    parts_text: &str,
    parts_at: Position,
) -> Result<Vec<(Role, u64)>, BoardError> {
    let mut parts: Vec<(Role, u64)> = Vec::new();
    let role_names: Vec<&str> = ROLES.iter().map(|r| r.as_str()).collect();
    for entry in parts_text.split_whitespace() {
        let entry_at = e.entry_position("partitions", entry);
        let bad = |rule: String| e.invalid(entry_at, "partitions", entry, rule);
        let Some((role_text, size_text)) = entry.split_once(':') else {
            return Err(bad(
                "a partition is ROLE:SIZE, such as boot:64M or root_a:512M".to_string(),
            ));
        };
        let role = Role::parse(role_text).ok_or_else(|| {
            bad(with_suggestion(
                "the roles are boot, root_a, root_b and data",
                role_text,
                &role_names,
            ))
        })?;
        if parts.iter().any(|(r, _)| *r == role) {
            return Err(bad(format!("{role} is listed twice: list each role once")));
        }
        let bytes = parse_size(size_text).ok_or_else(|| bad(SIZE_RULE.to_string()))?;
        if bytes == 0 || bytes % SECTOR_SIZE != 0 {
            return Err(bad(
                "a partition is a whole number of 512-byte sectors, at least one".to_string(),
            ));
        }
        parts.push((role, bytes / SECTOR_SIZE));
    }
    if let Some(role) = ROLES.iter().find(|r| !parts.iter().any(|(p, _)| p == *r)) {
        return Err(e.invalid(
            parts_at,
            "partitions",
            parts_text,
            format!(
                "there is no {role} partition: list boot, root_a, root_b and data, each \
                 once, in disk order"
            ),
        ));
    }
    let slot_size = |role| parts.iter().find(|(r, _)| *r == role).map(|(_, s)| *s);
    if slot_size(Role::RootA) != slot_size(Role::RootB) {
        return Err(e.invalid(
            e.entry_position(
                "partitions",
                parts_text
                    .split_whitespace()
                    .find(|w| w.starts_with("root_b:"))
                    .unwrap_or(""),
            ),
            "partitions",
            parts_text,
            "root_a and root_b differ in size: a release must fit either slot, so give \
             them one size",
        ));
    }
    Ok(parts)
}

/// A kernel module name: letters, digits, `_` and `-`.
fn is_module_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// `modules`.
fn modules(e: &Entries) -> Result<Vec<String>, BoardError> {
    let Some((value, at)) = e.optional("modules") else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for name in value.split_whitespace() {
        if !is_module_name(name) {
            return Err(e.invalid(
                at,
                "modules",
                name,
                "a kernel module name (letters, digits, _ and -), such as virtio_blk",
            ));
        }
        names.push(name.to_string());
    }
    Ok(names)
}

/// `uboot_config`.
fn uboot_config(e: &Entries, bootloader: Bootloader) -> Result<Option<String>, BoardError> {
    let Some((value, at)) = e.optional("uboot_config") else {
        return Ok(None);
    };
    if bootloader != Bootloader::Uboot {
        return Err(BoardError::NotApplicable {
            at: e.at(at),
            key: "uboot_config",
            reason: "uboot_config names a U-Boot build, and this board has no U-Boot: remove it",
        });
    }
    if !is_module_name(value) {
        return Err(e.invalid(
            at,
            "uboot_config",
            value,
            "a folder name under /usr/lib/u-boot, such as rpi_arm64",
        ));
    }
    Ok(Some(value.to_string()))
}

/// `uboot_files`, `uboot_raw`, `firmware_package`, `firmware_files` and `firmware_config`.
fn loader(
    e: &Entries,
    bootloader: Bootloader,
    boot_state: &BootState,
    layout: &Layout,
) -> Result<Loader, BoardError> {
    const KEYS: [&str; 6] = [
        "uboot_files",
        "uboot_raw",
        "uboot_partitions",
        "firmware_package",
        "firmware_files",
        "firmware_config",
    ];
    if bootloader != Bootloader::Uboot {
        for key in KEYS {
            e.refuse(
                key,
                "it names what a ROM loads before U-Boot, and this board has no U-Boot: remove it",
            )?;
        }
        return Ok(Loader::default());
    }
    let words = |key: &'static str| -> Vec<(String, Position)> {
        e.optional(key)
            .map(|(value, _)| {
                value
                    .split_whitespace()
                    .map(|w| (w.to_string(), e.entry_position(key, w)))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut loader = Loader::default();
    for (file, at) in words("uboot_files") {
        if !is_relative_path(&file) {
            return Err(e.invalid(
                at,
                "uboot_files",
                &file,
                "a file of the U-Boot build, relative to its folder under /usr/lib/u-boot, \
                 such as u-boot.bin",
            ));
        }
        loader.uboot_files.push(file);
    }
    let first = layout
        .partitions
        .first()
        .map_or(u64::MAX, Partition::start_bytes);
    let state = match boot_state.location {
        StateLocation::Disk { offset } => {
            Some((offset, offset.saturating_add(boot_state.region_len())))
        }
        _ => None,
    };
    loader.uboot_partitions = uboot_partitions(e, state, first)?;
    for (entry, at) in words("uboot_raw") {
        let bad = |rule: String| e.invalid(at, "uboot_raw", &entry, rule);
        let Some((file, offset_text)) = entry.rsplit_once(':') else {
            return Err(bad(
                "a raw file is FILE:OFFSET, such as MLO:128K (bytes from the disk's start)".into(),
            ));
        };
        if !is_relative_path(file) {
            return Err(bad(
                "FILE is a file of the U-Boot build, relative to its folder under \
                 /usr/lib/u-boot, such as MLO"
                    .into(),
            ));
        }
        let offset = parse_size(offset_text).ok_or_else(|| bad(SIZE_RULE.to_string()))?;
        let gpt = GPT_PRIMARY_SECTORS * SECTOR_SIZE;
        if offset % SECTOR_SIZE != 0 || offset < gpt || offset >= first {
            return Err(bad(format!(
                "a raw file starts on a 512-byte sector between the primary GPT (17 KiB) and \
                 the first partition ({}): move it, or raise first_partition_offset",
                size_text(first)
            )));
        }
        if let Some((start, end)) = state.filter(|(s, e)| (*s..*e).contains(&offset)) {
            return Err(bad(format!(
                "it starts inside the raw boot state ({start:#x} to {end:#x}): move one of them"
            )));
        }
        if loader.uboot_raw.iter().any(|(_, o)| *o == offset) {
            return Err(bad(
                "another raw file starts there: give each its own offset".into(),
            ));
        }
        if let Some(p) = loader
            .uboot_partitions
            .iter()
            .find(|p| (p.start_bytes()..p.start_bytes() + p.size_bytes()).contains(&offset))
        {
            return Err(bad(format!(
                "it starts inside the {} partition of uboot_partitions: a file there is that \
                 partition's content; move one of them",
                p.name
            )));
        }
        loader.uboot_raw.push((file.to_string(), offset));
    }
    let package = match e.optional("firmware_package") {
        None => None,
        Some((value, at)) => {
            if !is_debian_package(value) {
                return Err(e.invalid(
                    at,
                    "firmware_package",
                    value,
                    "a Debian package name is lowercase letters, digits and `+.-`, such as \
                     raspi-firmware",
                ));
            }
            Some(value.to_string())
        }
    };
    let files = words("firmware_files");
    match (&package, files.is_empty()) {
        (Some(_), true) => {
            return Err(BoardError::Missing {
                at: e.at(e.end),
                key: "firmware_files",
                hint: "firmware_package names a package: list the files to take from it with \
                       firmware_files=\"…\", such as usr/lib/raspi-firmware/start4.elf",
            })
        }
        (None, false) => {
            e.refuse(
                "firmware_files",
                "there is no firmware_package to take them from: add firmware_package=…",
            )?;
        }
        _ => {}
    }
    for (file, at) in files {
        if !is_relative_path(&file) {
            return Err(e.invalid(
                at,
                "firmware_files",
                &file,
                "a file of the firmware package, its path inside the package, such as \
                 usr/lib/raspi-firmware/start4.elf",
            ));
        }
        loader.firmware_files.push(file);
    }
    if package.is_none() {
        e.refuse(
            "firmware_config",
            "config.txt is read by the firmware of firmware_package, and there is none: add \
             firmware_package=… or remove it",
        )?;
    }
    for (setting, at) in words("firmware_config") {
        let ok = setting.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        });
        if !ok {
            return Err(e.invalid(
                at,
                "firmware_config",
                &setting,
                "a config.txt setting is name=value without blanks, such as arm_64bit=1",
            ));
        }
        loader.firmware_config.push(setting);
    }
    loader.firmware_package = package;
    Ok(loader)
}

/// `uboot_partitions`: `NAME:FILE:OFFSET:SIZE:TYPE` entries, in disk order, between the
/// primary GPT and `first` (the first partition of `partitions`, in bytes), clear of the raw
/// boot state `state` (its byte range).
fn uboot_partitions(
    e: &Entries,
    state: Option<(u64, u64)>,
    first: u64,
) -> Result<Vec<UbootPartition>, BoardError> {
    use crate::disk::gpt::{ALIGNMENT_SECTORS, NAME_UNITS, SIZE_GRANULE_SECTORS};
    let Some((value, _)) = e.optional("uboot_partitions") else {
        return Ok(Vec::new());
    };
    let mut out: Vec<UbootPartition> = Vec::new();
    for entry in value.split_whitespace() {
        let at = e.entry_position("uboot_partitions", entry);
        let bad = |rule: String| e.invalid(at, "uboot_partitions", entry, rule);
        let fields: Vec<&str> = entry.split(':').collect();
        let [name, file, offset_text, size_text_, type_text] = fields[..] else {
            return Err(bad(
                "a U-Boot partition is NAME:FILE:OFFSET:SIZE:TYPE, such as \
                 spl:u-boot-spl.bin.normal.out:2M:2M:2E54B353-1271-4842-806F-E436D6AF6985 \
                 (its GPT name, the file of the U-Boot build it holds, its place and size in \
                 bytes, its GPT type)"
                    .into(),
            ));
        };
        let name_ok = name.len() <= NAME_UNITS
            && name
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"_-".contains(&c));
        if !name_ok {
            return Err(bad(format!(
                "NAME is the partition's GPT name: lowercase letters, digits, `-` and `_`, at \
                 most {NAME_UNITS}, such as spl"
            )));
        }
        if Role::parse(name).is_some() || out.iter().any(|p| p.name == name) {
            return Err(bad(format!(
                "another partition is named {name}: GPT names are unique here (the partitions \
                 of partitions= are named after their roles); rename it"
            )));
        }
        if !is_relative_path(file) {
            return Err(bad(
                "FILE is a file of the U-Boot build, relative to its folder under \
                 /usr/lib/u-boot, such as u-boot.itb"
                    .into(),
            ));
        }
        let offset = parse_size(offset_text).ok_or_else(|| bad(SIZE_RULE.to_string()))?;
        let size = parse_size(size_text_).ok_or_else(|| bad(SIZE_RULE.to_string()))?;
        let align = ALIGNMENT_SECTORS * SECTOR_SIZE;
        let granule = SIZE_GRANULE_SECTORS * SECTOR_SIZE;
        if offset == 0 || offset % align != 0 || size == 0 || size % granule != 0 {
            return Err(bad(
                "a partition starts on a 1 MiB boundary after the primary GPT and is whole 4 \
                 KiB blocks, such as 2M:2M"
                    .into(),
            ));
        }
        let end = offset.saturating_add(size);
        if end > first {
            return Err(bad(format!(
                "it ends at {}, past the first partition of partitions= ({}): move or shrink \
                 it, or raise first_partition_offset",
                size_text(end),
                size_text(first)
            )));
        }
        if let Some(before) = out
            .last()
            .filter(|p| offset < p.start_bytes() + p.size_bytes())
        {
            return Err(bad(format!(
                "it starts before the end of {} ({}): list the U-Boot partitions in disk \
                 order, clear of each other",
                before.name,
                size_text(before.start_bytes() + before.size_bytes())
            )));
        }
        if let Some((start, stop)) = state.filter(|(s, t)| offset < *t && *s < end) {
            return Err(bad(format!(
                "it overlaps the raw boot state ({start:#x} to {stop:#x}): move one of them"
            )));
        }
        let type_guid = Guid::parse(type_text)
            .ok()
            .filter(|g| *g != Guid::NIL)
            .ok_or_else(|| {
                bad(
                    "TYPE is the partition's GPT type GUID, 8-4-4-4-12 hex digits, not all \
                     zero, such as 2E54B353-1271-4842-806F-E436D6AF6985"
                        .into(),
                )
            })?;
        out.push(UbootPartition {
            name: name.to_string(),
            file: file.to_string(),
            start_sector: offset / SECTOR_SIZE,
            size_sectors: size / SECTOR_SIZE,
            type_guid,
        });
    }
    Ok(out)
}

/// Longest Debian suite name (`bookworm-backports` is 18).
pub const DEBIAN_SUITE_MAX_LEN: usize = 32;

/// `debian_suite`: a Debian code name, lowercase letters, then optionally `-` and a pocket
/// (`trixie`, `bookworm`, `sid`). Not `stable` or `testing`: they move to another release, and
/// a release's pins would stop meaning one thing.
fn debian_suite(e: &Entries) -> Result<Option<String>, BoardError> {
    let Some((value, at)) = e.optional("debian_suite") else {
        return Ok(None);
    };
    let (name, pocket) = value.split_once('-').unwrap_or((value, ""));
    let letters = |t: &str| !t.is_empty() && t.bytes().all(|c| c.is_ascii_lowercase());
    let ok = value.len() <= DEBIAN_SUITE_MAX_LEN
        && letters(name)
        && if value.contains('-') {
            letters(pocket)
        } else {
            true
        };
    if !ok {
        return Err(e.invalid(
            at,
            "debian_suite",
            value,
            "a Debian suite is the code name of a Debian release, lowercase letters (trixie,              bookworm): leave it out to use the build host's apt sources",
        ));
    }
    const MOVING: [&str; 6] = [
        "stable",
        "oldstable",
        "testing",
        "unstable",
        "oldoldstable",
        "experimental",
    ];
    if MOVING.contains(&name) {
        return Err(e.invalid(
            at,
            "debian_suite",
            value,
            format!(
                "`{name}` names another Debian release as time passes, and a release's pinned                  packages would vanish with it: write the code name (trixie for Debian 13,                  bookworm for Debian 12)"
            ),
        ));
    }
    Ok(Some(value.to_string()))
}

/// `qemu` and `watchdog`.
fn qemu(
    e: &Entries,
    arch: Arch,
    target: &str,
) -> Result<(Vec<String>, Option<String>), BoardError> {
    let qemu: Vec<String> = match e.optional("qemu") {
        None => Vec::new(),
        Some((value, at)) => {
            let words: Vec<String> = value.split_whitespace().map(String::from).collect();
            let program = format!("qemu-system-{}", arch.qemu());
            if let Some(first) = words.first() {
                if *first != program {
                    return Err(e.invalid(
                        at,
                        "qemu",
                        value,
                        format!("{target} boards run under {program}: start with it"),
                    ));
                }
            }
            const ADDED: [&str; 5] = ["-kernel", "-initrd", "-append", "-drive", "-hda"];
            if let Some(word) = words.iter().find(|w| ADDED.contains(&w.as_str())) {
                return Err(e.invalid(
                    e.entry_position("qemu", word),
                    "qemu",
                    word,
                    "the tools add the disk, kernel, initramfs and command line: give only \
                     the machine's options",
                ));
            }
            words
        }
    };
    let watchdog = match e.optional("watchdog") {
        None => None,
        Some((value, at)) => {
            if qemu.is_empty() {
                return Err(BoardError::NotApplicable {
                    at: e.at(at),
                    key: "watchdog",
                    reason: "watchdog names the QEMU device to add, and this board has no \
                             qemu command: remove it",
                });
            }
            let ok = value
                .bytes()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric())
                && value
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"_-".contains(&c));
            if !ok {
                return Err(e.invalid(
                    at,
                    "watchdog",
                    value,
                    "a watchdog is a QEMU device name (-device NAME), such as i6300esb",
                ));
            }
            Some(value.to_string())
        }
    };
    Ok((qemu, watchdog))
}

/// The boot state keys, checked against the bootloader and the layout.
fn boot_state(
    e: &Entries,
    bootloader: Bootloader,
    layout: &Layout,
) -> Result<BootState, BoardError> {
    let (partition_text, partition_at) =
        e.required("bootstate_partition", missing_hint("bootstate_partition"))?;
    let role = match partition_text {
        "disk" => None,
        "boot" => Some(Role::Boot),
        other => {
            let rule = match Role::parse(other) {
                Some(Role::RootA | Role::RootB) => {
                    "an update rewrites the root slots, and the boot state must outlive it: \
                     write boot (or disk)"
                        .to_string()
                }
                Some(_) => "the data partition holds a file system with no room reserved for \
                            the boot state: write boot (or disk)"
                    .to_string(),
                None => with_suggestion(
                    "the boot state lives in boot (the boot partition) or disk (raw, before \
                     the first partition)",
                    other,
                    &["boot", "disk"],
                ),
            };
            return Err(e.invalid(partition_at, "bootstate_partition", other, rule));
        }
    };
    let file = e.optional("bootstate_file");
    let offset = e.optional("bootstate_offset");
    let redundant = match e.optional("bootstate_redundant") {
        None => false,
        Some((value, at)) => {
            if bootloader != Bootloader::Uboot {
                return Err(BoardError::NotApplicable {
                    at: e.at(at),
                    key: "bootstate_redundant",
                    reason: "only U-Boot has a redundant environment (the native record always \
                             keeps two copies, GRUB's block one): remove it",
                });
            }
            parse_yes_no(value)
                .ok_or_else(|| e.invalid(at, "bootstate_redundant", value, "it is yes or no"))?
        }
    };
    let size_of = |value: &str, at: Position| {
        parse_size(value).ok_or_else(|| e.invalid(at, "bootstate_size", value, SIZE_RULE))
    };
    // The size of one copy: fixed by the format, or U-Boot's build.
    let fixed = |len: usize, what: &str| -> Result<u64, BoardError> {
        let len = len as u64;
        match e.optional("bootstate_size") {
            None => Ok(len),
            Some((value, at)) => {
                if size_of(value, at)? != len {
                    return Err(e.invalid(
                        at,
                        "bootstate_size",
                        value,
                        format!("{what} is {len} bytes: write bootstate_size=1K or leave it out"),
                    ));
                }
                Ok(len)
            }
        }
    };
    let size = match bootloader {
        Bootloader::Native => fixed(NATIVE_STATE_LEN, "the native record (two 512-byte copies)")?,
        Bootloader::Grub => fixed(GRUB_ENV_LEN, "GRUB's environment block")?,
        Bootloader::Uboot => {
            let (value, at) = e.required("bootstate_size", missing_hint("bootstate_size"))?;
            let size = size_of(value, at)?;
            if !(UBOOT_ENV_MIN_LEN..=UBOOT_ENV_MAX_LEN).contains(&size) {
                return Err(e.invalid(
                    at,
                    "bootstate_size",
                    value,
                    "a U-Boot environment is 256 bytes to 1M (its CONFIG_ENV_SIZE)",
                ));
            }
            size
        }
    };
    let location = match (file, offset) {
        (Some(_), Some((_, at))) => {
            return Err(BoardError::NotApplicable {
                at: e.at(at),
                key: "bootstate_offset",
                reason: "the boot state is a file (bootstate_file) or raw bytes \
                         (bootstate_offset), not both: remove one",
            })
        }
        (None, None) => {
            return Err(BoardError::Missing {
                at: e.at(e.end),
                key: "bootstate_offset",
                hint: missing_hint("bootstate_offset"),
            })
        }
        (Some((path, at)), None) => {
            if bootloader == Bootloader::Native {
                return Err(BoardError::NotApplicable {
                    at: e.at(at),
                    key: "bootstate_file",
                    reason: "init's early stage reads the native record from raw sectors, \
                             before any file system is mounted: give bootstate_offset instead",
                });
            }
            let Some(role) = role else {
                return Err(e.invalid(
                    at,
                    "bootstate_file",
                    path,
                    "a file lives in a partition's file system, and bootstate_partition=disk is \
                     raw: write bootstate_partition=boot",
                ));
            };
            if redundant {
                let at = e.get("bootstate_redundant").map_or(e.end, |x| x.position);
                return Err(BoardError::NotApplicable {
                    at: e.at(at),
                    key: "bootstate_redundant",
                    reason: "a redundant environment is a second copy right after the first, \
                             in raw storage: give bootstate_offset, or write \
                             bootstate_redundant=no",
                });
            }
            if !is_relative_path(path) {
                return Err(e.invalid(
                    at,
                    "bootstate_file",
                    path,
                    "a file in the boot partition is a relative path without `.` or `..` \
                     parts, such as uboot.env or EFI/nanolin/grubenv",
                ));
            }
            StateLocation::File {
                role,
                path: path.to_string(),
            }
        }
        (None, Some((value, at))) => {
            if bootloader == Bootloader::Grub {
                return Err(BoardError::NotApplicable {
                    at: e.at(at),
                    key: "bootstate_offset",
                    reason: "GRUB reads its environment block from a file: give \
                             bootstate_file=… (such as EFI/nanolin/grubenv) instead",
                });
            }
            let offset = parse_size(value)
                .ok_or_else(|| e.invalid(at, "bootstate_offset", value, SIZE_RULE))?;
            if offset % SECTOR_SIZE != 0 || size % SECTOR_SIZE != 0 {
                return Err(e.invalid(
                    at,
                    "bootstate_offset",
                    value,
                    "raw boot state starts on a 512-byte sector and takes whole sectors (offset \
                     and size multiples of 512)",
                ));
            }
            let end = offset.checked_add(if redundant {
                size.saturating_mul(2)
            } else {
                size
            });
            let what = if redundant {
                "both copies of the boot state"
            } else {
                "the boot state"
            };
            match role {
                None => {
                    let first = layout
                        .partitions
                        .first()
                        .map_or(u64::MAX, Partition::start_bytes);
                    let gpt = GPT_PRIMARY_SECTORS * SECTOR_SIZE;
                    if offset < gpt || end.is_none_or(|end| end > first) {
                        return Err(e.invalid(
                            at,
                            "bootstate_offset",
                            value,
                            format!(
                                "{what} must lie between the primary GPT (17 KiB) and the first \
                                 partition ({}): move it, or raise first_partition_offset",
                                size_text(first)
                            ),
                        ));
                    }
                    StateLocation::Disk { offset }
                }
                Some(role) => {
                    let room = layout.partition(role).map_or(0, Partition::size_bytes);
                    if end.is_none_or(|end| end > room) {
                        return Err(e.invalid(
                            at,
                            "bootstate_offset",
                            value,
                            format!(
                                "{what} must lie inside the {role} partition ({}): move it, or \
                                 make the partition larger",
                                size_text(room)
                            ),
                        ));
                    }
                    StateLocation::Partition { role, offset }
                }
            }
        }
    };
    let import = match e.optional("bootstate_import") {
        None => false,
        Some((value, at)) => {
            if bootloader != Bootloader::Uboot {
                return Err(BoardError::NotApplicable {
                    at: e.at(at),
                    key: "bootstate_import",
                    reason: "the boot script imports U-Boot environment variables, and this \
                             board has no U-Boot: remove it",
                });
            }
            let import = parse_yes_no(value)
                .ok_or_else(|| e.invalid(at, "bootstate_import", value, "it is yes or no"))?;
            if import && !matches!(location, StateLocation::File { .. }) {
                return Err(BoardError::NotApplicable {
                    at: e.at(at),
                    key: "bootstate_import",
                    reason: "the boot script imports the slot variables from a file on the \
                             boot partition: give bootstate_file=… (such as uboot.env) instead \
                             of bootstate_offset, or write bootstate_import=no",
                });
            }
            import
        }
    };
    Ok(BootState {
        location,
        size,
        redundant,
        import,
    })
}

#[cfg(test)]
#[path = "board_tests.rs"]
mod tests;
