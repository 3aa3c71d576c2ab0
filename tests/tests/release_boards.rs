//! `nanolin release build` for the boards beyond the default one: what their ROMs and
//! firmware load first, and the riscv64 boards, whose Debian packages come from Debian 13.
//!
//! - **qemu-riscv64-virt**: the kernel from trixie through the private apt list, the board's
//!   programs static riscv64 ELF files; the disk image boots under QEMU (OpenSBI) to stage1 and
//!   our init running `hello`; a pin to a version trixie does not serve is refused saying so.
//! - **visionfive2**: the SPL and the U-Boot FIT of Debian's u-boot-starfive in the GPT
//!   partitions `spl` (type 2E54B353-…, sector 4096) and `uboot` (partition 2, sector 8192)
//!   that U-Boot's doc/board/starfive/visionfive2.rst lays out, byte for byte what the pinned
//!   package holds, and mapped in the `.bmap`; the boot partition 3, legacy BIOS bootable;
//!   `uboot.env` on it holding only the slot variables, as `fw_printenv` reads it, and the
//!   agent's configuration naming it.
//! - **raspberrypi4**: the Pi firmware (raspi-firmware), `config.txt` and U-Boot's
//!   `u-boot.bin` on the FAT boot partition, as `mdir` lists it; that partition typed
//!   Microsoft basic data, which the Pi 4's EEPROM bootloader looks for on a GPT disk.
//! - **beaglebone-black**: MLO and `u-boot.img` of Debian's u-boot-omap raw at 128 and 384
//!   KiB, where the AM335x ROM and the SPL read them, and mapped in the `.bmap`.
//!
//! Needs the network once (crates, Debian's packages through apt; the source cache keeps them).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::qemu::boot_until;
use common::{
    board, disk_bytes, fat_copy_out, find, host_bin, peer, run_in, run_in_env, workspace,
};
use nanolin_host::board::{Board, Role};
use nanolin_host::fetch::SourceCache;
use nanolin_host::kernel::{pinned_deb, Kernel};

const EPOCH: &str = "1790000000";
const VERSION: &str = "r26.09-G21141320";

/// One release build at a time: they share the package store.
static BUILDS: Mutex<()> = Mutex::new(());

/// A folder kept across the tests of this run, with the release key.
fn shared() -> PathBuf {
    static SHARED: OnceLock<PathBuf> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("release_boards");
            fs::create_dir_all(&dir).unwrap();
            if !dir.join("k.sec").exists() {
                common::nanolin(
                    &dir,
                    &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"],
                )
                .ok();
            }
            dir
        })
        .clone()
}

/// `nanolin release build prime --board BOARD -o out` in `dir`; the files written, sorted.
fn release(dir: &Path, board: &str) -> Vec<PathBuf> {
    let _one = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let key = shared().join("k.sec");
    let store = common::package_store();
    let distro = workspace().join("distros/prime.rcp");
    let started = Instant::now();
    let run = run_in_env(
        dir,
        &host_bin("nanolin"),
        &[
            "release",
            "build",
            distro.to_str().unwrap(),
            "--board",
            board,
            "-s",
            key.to_str().unwrap(),
            "-o",
            "out",
            "--packages",
            store.to_str().unwrap(),
        ],
        &[("SOURCE_DATE_EPOCH", EPOCH)],
    )
    .feed("");
    eprintln!("{}", run.stderr);
    eprintln!(
        "{board}: release built in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    run.ok();
    let mut files: Vec<PathBuf> = fs::read_dir(dir.join("out"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// The value of `key=` in the `.release` file.
fn described(files: &[PathBuf], key: &str) -> String {
    let text = fs::read_to_string(find(files, ".release")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in:\n{text}"))
        .trim_matches('"')
        .to_string()
}

/// `sgdisk -v` finds no problem with the disk's GPT.
fn check_gpt(disk: &Path) {
    let verified = run_in(
        disk.parent().unwrap(),
        &peer("sgdisk", "gdisk"),
        &["-v", disk.to_str().unwrap()],
        "",
    )
    .ok();
    assert!(
        verified.stdout.contains("No problems found"),
        "{}",
        verified.stdout
    );
}

/// The GPT entry `number` of `disk` as `sgdisk -i` shows it: its type (`Partition GUID
/// code`), first sector, attribute flags and name (`'spl'`), by their labels.
fn gpt_entry(disk: &Path, number: usize) -> Vec<(String, String)> {
    let shown = run_in(
        disk.parent().unwrap(),
        &peer("sgdisk", "gdisk"),
        &["-i", &number.to_string(), disk.to_str().unwrap()],
        "",
    )
    .ok()
    .stdout;
    shown
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The value of `label` in a [`gpt_entry`], up to its first blank (the type GUID without
/// sgdisk's name for it, the first sector without its place in MiB).
fn entry_field(entry: &[(String, String)], label: &str) -> String {
    let value = entry
        .iter()
        .find(|(k, _)| k == label)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {label} in {entry:?}"));
    if label == "Partition name" {
        value.to_string()
    } else {
        value.split(' ').next().unwrap_or("").to_string()
    }
}

/// Whether the block map lists every 4 KiB block of `offset..offset + len`.
fn mapped(disk: &Path, offset: u64, len: u64) -> bool {
    let bmap = fs::read_to_string(format!("{}.bmap", disk.display())).unwrap();
    let ranges: Vec<(u64, u64)> = bmap
        .lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("<Range")?;
            let range = l.split('>').nth(1)?.split('<').next()?.trim();
            let (a, b) = range.split_once('-').unwrap_or((range, range));
            Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
        })
        .collect();
    let (first, last) = (offset / 4096, (offset + len - 1) / 4096);
    (first..=last).all(|block| ranges.iter().any(|(a, b)| (*a..=*b).contains(&block)))
}

/// The board's boot partition (vfat) copied out of the disk, for mtools.
fn boot_partition(dir: &Path, disk: &Path, b: &Board) -> PathBuf {
    let boot = b.layout.partition(Role::Boot).unwrap();
    let part = dir.join("boot.vfat");
    fs::write(
        &part,
        disk_bytes(disk, boot.start_bytes(), boot.size_bytes() as usize),
    )
    .unwrap();
    part
}

/// Whether `elf` is a static (no program interpreter) 64-bit RISC-V executable.
fn static_riscv64(elf: &[u8]) -> bool {
    let u16_at = |at: usize| u16::from_le_bytes([elf[at], elf[at + 1]]);
    let u64_at = |at: usize| u64::from_le_bytes(elf[at..at + 8].try_into().unwrap());
    if elf.get(..5) != Some(b"\x7fELF\x02") || u16_at(18) != 0xf3 {
        return false;
    }
    let (phoff, phentsize, phnum) = (u64_at(32) as usize, u16_at(54) as usize, u16_at(56));
    // PT_INTERP is 3.
    (0..phnum as usize)
        .all(|i| u32::from_le_bytes(elf[phoff + i * phentsize..][..4].try_into().unwrap()) != 3)
}

#[test]
fn riscv64_virt_release_takes_debian_13_and_boots_to_init_under_qemu() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = release(d, "qemu-riscv64-virt");
    let b = board("qemu-riscv64-virt");
    let disk = find(&out, ".disk.img");
    check_gpt(&disk);

    // The kernel is Debian 13's, pinned in the description.
    assert_eq!(described(&out, "debian_suite"), "trixie");
    let package = described(&out, "kernel_package");
    assert!(
        package.starts_with("linux-image-") && package.ends_with("+deb13-riscv64"),
        "{package}"
    );
    // The board's programs: static riscv64 executables (glibc linked in; no musl std here).
    let root = find(&out, &format!("{VERSION}.img"));
    for path in [
        "sbin/init",
        "usr/lib/nanolin/stage1",
        "usr/bin/nanolin-agent",
        "bin/busybox",
    ] {
        let elf = std::process::Command::new(peer("unsquashfs", "squashfs-tools"))
            .args(["-cat", root.to_str().unwrap(), path])
            .output()
            .unwrap();
        assert!(elf.status.success(), "{path} not in the root file system");
        assert!(
            static_riscv64(&elf.stdout),
            "{path} is not a static riscv64 executable"
        );
    }

    // Booted by QEMU's virt machine (OpenSBI starts the kernel) through `nanolin release run`.
    let log = d.join("console.log");
    let mut run = std::process::Command::new(host_bin("nanolin"));
    run.current_dir(workspace()).args([
        "release",
        "run",
        disk.to_str().unwrap(),
        "--snapshot",
        "--log",
        log.to_str().unwrap(),
    ]);
    let (_, seconds) = boot_until(
        run,
        "qemu-riscv64-virt",
        &log,
        &[
            "Linux version 6.12",
            "stage1: slot A (tries left: A 2, B 3)",
            "stage1: root /dev/vda2 (squashfs) mounted",
            "hello from a Nanolin package",
        ],
        Duration::from_secs(300),
    );
    eprintln!("qemu-riscv64-virt: hello {seconds:.1} s after QEMU started");

    // A rebuild pinned to a version Debian 13 does not serve says so, and takes no other.
    let sha256 = [0x5a; 32];
    let error = Kernel::pinned_for(
        &b,
        &package,
        "0.0.1-1",
        &sha256,
        &SourceCache::from_env().unwrap(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains("version 0.0.1-1, which Debian trixie no longer serves"),
        "{error}"
    );
}

#[test]
fn visionfive2_release_carries_the_spl_and_the_uboot_fit_in_their_gpt_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = release(d, "visionfive2");
    let b = board("visionfive2");
    let disk = find(&out, ".disk.img");
    check_gpt(&disk);
    // U-Boot's doc/board/starfive/visionfive2.rst: the JH7110 ROM loads the SPL from the
    // partition typed 2E54B353-…, the SPL loads u-boot.itb from partition 2
    // (CONFIG_SYS_MMCSD_RAW_MODE_U_BOOT_PARTITION=0x2), typed BC13C2FF-… as recommended;
    // sgdisk --new=1:4096:8191 … --new=2:8192:16383. Then ours, the boot partition legacy
    // BIOS bootable (bit 2): U-Boot's bootflow scan reads partition 1 only without it.
    let expected = [
        ("spl", "2E54B353-1271-4842-806F-E436D6AF6985", "4096", false),
        (
            "uboot",
            "BC13C2FF-59E6-4262-A352-B275FD6F7172",
            "8192",
            false,
        ),
        (
            "boot",
            "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
            "16384",
            true,
        ),
        (
            "root_a",
            "72EC70A6-CF74-40E6-BD49-4BDA08E8F224",
            "278528",
            false,
        ),
        (
            "root_b",
            "72EC70A6-CF74-40E6-BD49-4BDA08E8F224",
            "2375680",
            false,
        ),
        (
            "data",
            "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
            "4472832",
            false,
        ),
    ];
    for (n, (name, type_guid, first, bootable)) in expected.into_iter().enumerate() {
        let entry = gpt_entry(&disk, n + 1);
        assert_eq!(entry_field(&entry, "Partition name"), format!("'{name}'"));
        assert_eq!(
            entry_field(&entry, "Partition GUID code"),
            type_guid,
            "{name}"
        );
        assert_eq!(entry_field(&entry, "First sector"), first, "{name}");
        let flags = u64::from_str_radix(&entry_field(&entry, "Attribute flags"), 16).unwrap();
        assert_eq!(flags & 4 != 0, bootable, "{name}: attributes {flags:#x}");
    }
    // The slot variables alone in uboot.env on the boot partition (the script imports them:
    // U-Boot's own environment is in the QSPI flash), as fw_printenv reads them.
    let part = boot_partition(d, &disk, &b);
    let env = d.join("uboot.env");
    fat_copy_out(d, &part, "::/uboot.env", &env);
    assert_eq!(fs::metadata(&env).unwrap().len(), 0x10000);
    fs::write(
        d.join("fw_env.config"),
        format!("{} 0x0 0x10000\n", env.display()),
    )
    .unwrap();
    let vars = run_in(
        d,
        &peer("fw_printenv", "u-boot-tools"),
        &["-c", "fw_env.config"],
        "",
    )
    .ok()
    .stdout;
    let mut vars: Vec<&str> = vars.lines().collect();
    vars.sort();
    assert_eq!(vars, ["BOOT_A_LEFT=3", "BOOT_B_LEFT=3", "BOOT_ORDER=A B"]);
    // The agent reads and writes that file, root A and B being partitions 4 and 5.
    let conf = std::process::Command::new(peer("unsquashfs", "squashfs-tools"))
        .args([
            "-cat",
            find(&out, &format!("{VERSION}.img")).to_str().unwrap(),
            "etc/nanolin/agent.conf",
        ])
        .output()
        .unwrap();
    let conf = String::from_utf8_lossy(&conf.stdout);
    for line in [
        "uboot_env=\"/boot/firmware/uboot.env 0x0 0x10000\"",
        "slot_a=/dev/mmcblk1p4",
        "slot_b=/dev/mmcblk1p5",
    ] {
        assert!(conf.lines().any(|l| l == line), "{line} not in:\n{conf}");
    }
    assert_eq!(described(&out, "debian_suite"), "trixie");
    assert_eq!(described(&out, "uboot_package"), "u-boot-starfive");
    // The pinned package, fetched again by its pin: its files are on the disk byte for byte.
    let sha256: [u8; 32] = (0..32)
        .map(|i| {
            u8::from_str_radix(&described(&out, "uboot_sha256")[2 * i..2 * i + 2], 16).unwrap()
        })
        .collect::<Vec<u8>>()
        .try_into()
        .unwrap();
    let deb = pinned_deb(
        Some("trixie"),
        board("visionfive2").arch,
        "u-boot-starfive",
        &described(&out, "uboot_version"),
        &sha256,
        &SourceCache::from_env().unwrap(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let unpacked = d.join("u-boot");
    deb.unpack(&unpacked).unwrap();
    let build = unpacked.join("usr/lib/u-boot/starfive_visionfive2");
    // At the start of partitions spl (1) and uboot (2): sectors 4096 and 8192.
    for (name, offset) in [
        ("u-boot-spl.bin.normal.out", 4096u64 * 512),
        ("u-boot.itb", 8192 * 512),
    ] {
        let file = fs::read(build.join(name)).unwrap();
        assert!(
            disk_bytes(&disk, offset, file.len()) == file,
            "{name} is not at {offset:#x}"
        );
        assert!(
            mapped(&disk, offset, file.len() as u64),
            "{name} not mapped"
        );
    }
}

#[test]
fn raspberrypi4_boot_partition_has_the_firmware_its_config_and_uboot() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = release(d, "raspberrypi4");
    let b = board("raspberrypi4");
    let disk = find(&out, ".disk.img");
    check_gpt(&disk);
    // Raspberry Pi's documentation (config_txt/autoboot.adoc): "Bootable partitions must be
    // formatted as FAT12, FAT16 or FAT32"; on a GPT disk the EEPROM bootloader takes them
    // from partitions typed Microsoft basic data or EFI System only (rpi-eeprom issues 126
    // and 130, release 2020-05-26), not the generic Linux type.
    let entry = gpt_entry(&disk, 1);
    assert_eq!(entry_field(&entry, "Partition name"), "'boot'");
    assert_eq!(
        entry_field(&entry, "Partition GUID code"),
        "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7"
    );
    let boot = b.layout.partition(Role::Boot).unwrap();
    let sector = disk_bytes(&disk, boot.start_bytes(), 512);
    assert_eq!(&sector[510..], [0x55, 0xaa], "no FAT boot sector");
    // The FAT type string: at 0x36 for FAT12 and FAT16, at 0x52 for FAT32.
    let (small, large) = (&sector[0x36..0x3e], &sector[0x52..0x5a]);
    assert!(
        small == b"FAT12   " || small == b"FAT16   " || large == b"FAT32   ",
        "not FAT12, FAT16 or FAT32: {:?}",
        String::from_utf8_lossy(&sector[0x36..0x5a])
    );
    let part = boot_partition(d, &disk, &b);
    let listing = run_in(
        d,
        &peer("mdir", "mtools"),
        &["-b", "-i", part.to_str().unwrap(), "::/"],
        "",
    )
    .ok()
    .stdout;
    // What the ROM and the GPU firmware read, then what U-Boot's script boots.
    for name in [
        "start4.elf",
        "fixup4.dat",
        "config.txt",
        "bcm2711-rpi-4-b.dtb",
        "u-boot.bin",
        "boot.scr",
        "Image",
        "initrd.img",
        "uboot.env",
    ] {
        assert!(
            listing
                .lines()
                .any(|l| l.trim_end() == format!("::/{name}")),
            "{name} not on the boot partition:\n{listing}"
        );
    }
    let config = d.join("config.txt");
    fat_copy_out(d, &part, "::/config.txt", &config);
    let config = fs::read_to_string(config).unwrap();
    for line in [
        "arm_64bit=1",
        "enable_uart=1",
        "upstream_kernel=1",
        "kernel=u-boot.bin",
    ] {
        assert!(config.lines().any(|l| l == line), "{line}:\n{config}");
    }
    // Both packages pinned like the kernel.
    assert_eq!(described(&out, "firmware_package"), "raspi-firmware");
    assert_eq!(described(&out, "uboot_package"), "u-boot-rpi");
    assert_eq!(described(&out, "firmware_sha256").len(), 64);
}

#[test]
fn beaglebone_black_release_has_mlo_and_uboot_img_where_the_rom_and_spl_read_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = release(d, "beaglebone-black");
    let disk = find(&out, ".disk.img");
    check_gpt(&disk);
    assert_eq!(described(&out, "uboot_package"), "u-boot-omap");
    // MLO at 128 KiB as the AM335x ROM reads it in raw mode: the table of contents
    // (CHSETTINGS) in its first sector, then the GP header, the image's size and its load
    // address in the SoC's internal RAM (0x402f0400).
    assert_eq!(
        disk_bytes(&disk, 0x20014, 10),
        b"CHSETTINGS",
        "no MLO at 0x20000"
    );
    let gp = disk_bytes(&disk, 0x20200, 8);
    let size = u32::from_le_bytes(gp[..4].try_into().unwrap());
    assert!(size > 16 * 1024 && size < 0x40000, "MLO size {size}");
    assert_eq!(&gp[4..8], &0x402f_0400u32.to_le_bytes(), "no GP header");
    assert!(
        mapped(&disk, 0x20000, 0x200 + 8 + u64::from(size)),
        "MLO not mapped"
    );
    // u-boot.img at 384 KiB (the SPL's raw sector 0x300): a FIT or a legacy U-Boot image.
    let img = disk_bytes(&disk, 0x60000, 4);
    assert!(
        img == [0xd0, 0x0d, 0xfe, 0xed] || img == [0x27, 0x05, 0x19, 0x56],
        "no u-boot.img at 0x60000: {img:02x?}"
    );
    assert!(mapped(&disk, 0x60000, 4096), "u-boot.img not mapped");
    // Its end before the environment at 0x260000, which U-Boot still finds.
    fs::write(
        d.join("fw_env.config"),
        format!(
            "{disk} 0x260000 0x20000\n{disk} 0x280000 0x20000\n",
            disk = disk.display()
        ),
    )
    .unwrap();
    let vars = run_in(
        d,
        &peer("fw_printenv", "u-boot-tools"),
        &["-c", "fw_env.config"],
        "",
    )
    .ok()
    .stdout;
    assert!(vars.lines().any(|l| l == "BOOT_ORDER=A B"), "{vars}");
}
