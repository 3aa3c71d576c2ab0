//! Boot state in U-Boot's environment, both directions with the real `fw_printenv` and
//! `fw_setenv` (Debian's u-boot-tools), single and redundant layouts; and an environment file
//! that U-Boot itself imports and writes back (`bootstate_import`, the VisionFive 2's way),
//! run by Debian's qemu_arm64 U-Boot (u-boot-qemu) under qemu-system-aarch64, then read by
//! `fw_printenv` and written by the agent, about 3 s a boot.

mod common;

use std::fs;
use std::path::Path;

use common::{peer, run_in};
use nanolin_core::uboot_env::{current, emit, EnvCopy, Layout};

const SIZE: usize = 0x4000;

fn fw(dir: &Path, tool: &str, args: &[&str]) -> common::Run {
    let mut all = vec!["-c", "fw_env.config"];
    all.extend_from_slice(args);
    run_in(dir, &peer(tool, "u-boot-tools"), &all, "")
}

fn write_block(path: &Path, vars: &[(&str, &str)], layout: Layout, flag: u8) {
    let mut block = vec![0u8; SIZE];
    emit(vars.iter().copied(), layout, flag, &mut block).unwrap();
    fs::write(path, block).unwrap();
}

#[test]
fn single_copy_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("fw_env.config"),
        format!("{}/env.bin 0x0 {SIZE:#x}\n", d.display()),
    )
    .unwrap();
    write_block(
        &d.join("env.bin"),
        &[
            ("BOOT_ORDER", "A B"),
            ("BOOT_A_LEFT", "3"),
            ("BOOT_B_LEFT", "3"),
        ],
        Layout::Single,
        0,
    );
    let run = fw(d, "fw_printenv", &[]).ok();
    for line in ["BOOT_ORDER=A B", "BOOT_A_LEFT=3", "BOOT_B_LEFT=3"] {
        assert!(
            run.stdout.lines().any(|l| l == line),
            "fw_printenv lacks {line}: {}",
            run.stdout
        );
    }
    // fw_setenv changes one, adds one and deletes one; we read all of it.
    fw(d, "fw_setenv", &["BOOT_A_LEFT", "2"]).ok();
    fw(d, "fw_setenv", &["upgrade_available", "1"]).ok();
    fw(d, "fw_setenv", &["BOOT_B_LEFT"]).ok();
    let block = fs::read(d.join("env.bin")).unwrap();
    let env = EnvCopy::parse(&block, Layout::Single).unwrap();
    assert_eq!(env.get("BOOT_A_LEFT"), Some("2"));
    assert_eq!(env.get("upgrade_available"), Some("1"));
    assert_eq!(env.get("BOOT_B_LEFT"), None);
    assert_eq!(env.get("BOOT_ORDER"), Some("A B"));
}

#[test]
fn redundant_copies_alternate_with_fw_setenv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("fw_env.config"),
        format!(
            "{0}/a.bin 0x0 {SIZE:#x}\n{0}/b.bin 0x0 {SIZE:#x}\n",
            d.display()
        ),
    )
    .unwrap();
    // Ours writes copy A (flag 1); B was never written.
    write_block(
        &d.join("a.bin"),
        &[("BOOT_ORDER", "A B")],
        Layout::Redundant,
        1,
    );
    fs::write(d.join("b.bin"), vec![0xffu8; SIZE]).unwrap();
    assert!(fw(d, "fw_printenv", &["BOOT_ORDER"])
        .ok()
        .stdout
        .contains("BOOT_ORDER=A B"));
    // fw_setenv writes the other copy with a newer flag; we take it as current.
    fw(d, "fw_setenv", &["BOOT_ORDER", "B A"]).ok();
    let (a, b) = (
        fs::read(d.join("a.bin")).unwrap(),
        fs::read(d.join("b.bin")).unwrap(),
    );
    let (pa, pb) = (
        EnvCopy::parse(&a, Layout::Redundant),
        EnvCopy::parse(&b, Layout::Redundant),
    );
    assert_eq!(current(&pa, &pb), Some(1));
    let newest = pb.unwrap();
    assert_eq!(newest.get("BOOT_ORDER"), Some("B A"));
    assert_eq!(
        pa.unwrap().get("BOOT_ORDER"),
        Some("A B"),
        "the old copy is left whole"
    );
    // Ours writes the older copy with the next flag; fw_printenv follows.
    let flag = newest.flag.unwrap().wrapping_add(1);
    write_block(
        &d.join("a.bin"),
        &[("BOOT_ORDER", "A"), ("BOOT_A_LEFT", "3")],
        Layout::Redundant,
        flag,
    );
    let run = fw(d, "fw_printenv", &[]).ok();
    assert!(
        run.stdout.lines().any(|l| l == "BOOT_ORDER=A"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.lines().any(|l| l == "BOOT_A_LEFT=3"),
        "{}",
        run.stdout
    );
}

/// A board laid out like the VisionFive 2 (U-Boot partitions spl and uboot first, the slot
/// variables imported from `uboot.env` on the boot partition), for QEMU's arm64 virt machine
/// and Debian's qemu_arm64 U-Boot, which keeps its own environment in flash as the VisionFive
/// 2's keeps it in SPI flash.
const IMPORT_BOARD: &str = "\
name=uboot-import
description=\"test: U-Boot partitions first, the slot variables imported from a file\"
target=aarch64-unknown-linux-musl
debian_arch=arm64
qemu_user=qemu-aarch64-static
kernel=debian:linux-image-arm64
console=ttyAMA0
bootloader=uboot
uboot_package=u-boot-qemu
uboot_partitions=\"spl:u-boot-spl.bin.normal.out:2M:2M:2E54B353-1271-4842-806F-E436D6AF6985
    uboot:u-boot.itb:4M:4M:BC13C2FF-59E6-4262-A352-B275FD6F7172\"
bootstate_partition=boot
bootstate_file=uboot.env
bootstate_size=64K
bootstate_import=yes
disk_size=64M
first_partition_offset=8M
partitions=\"boot:16M root_a:8M root_b:8M data:8M\"
disk_device=/dev/vda
";

/// Debian's U-Boot for QEMU's arm64 virt machine (u-boot-qemu).
const UBOOT_QEMU_BIN: &str = "/usr/lib/u-boot/qemu_arm64/u-boot.bin";

/// Boots `disk` with U-Boot until the boot script resets (its dummy kernel does not boot);
/// the console.
fn boot_uboot(dir: &Path, disk: &Path, n: usize) -> String {
    let log = dir.join(format!("console.{n}.log"));
    let start = std::time::Instant::now();
    let out = std::process::Command::new("timeout")
        .args(["-k", "5", "120"])
        .arg(peer("qemu-system-aarch64", "qemu-system-arm"))
        .args(["-M", "virt", "-cpu", "cortex-a57", "-m", "512M"])
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .args(["-monitor", "none", "-no-reboot"])
        .arg("-serial")
        .arg(format!("file:{}", log.display()))
        .args(["-bios", UBOOT_QEMU_BIN])
        .arg("-drive")
        .arg(format!("if=none,format=raw,id=d0,file={}", disk.display()))
        .args(["-device", "virtio-blk-pci,drive=d0"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let console = String::from_utf8_lossy(&fs::read(&log).unwrap()).replace('\r', "");
    assert!(
        out.status.success(),
        "qemu failed ({:?}): {}\n{console}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("u-boot boot {n}: {:.1} s", start.elapsed().as_secs_f64());
    console
}

/// `mcopy` between the FAT file system at byte `offset` of `disk` and a host file.
fn mcopy(dir: &Path, disk: &Path, offset: u64, from: &str, to: &str) {
    let image = format!("{}@@{offset}", disk.display());
    run_in(
        dir,
        &peer("mcopy", "mtools"),
        &["-o", "-i", &image, from, to],
        "",
    )
    .ok();
}

#[test]
fn uboot_imports_the_slot_variables_from_the_boot_partition_and_writes_them_back() {
    use nanolin_agent::bootstate::open_store;
    use nanolin_agent::config::AgentConfig;
    use nanolin_agent::storage::RealDisk;
    use nanolin_core::boot_state::{BootSlot, BootState};
    use nanolin_host::board::{Board, Role};
    use nanolin_host::bootfs::{self, BootInputs};
    use nanolin_host::disk::{self, Content, Gpt, Mapping, VfatSpec};

    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let b = Board::parse(Path::new("uboot-import.conf"), IMPORT_BOARD.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    // The shipped VisionFive 2's partitions and state, on a machine QEMU runs.
    let vf2 = Board::find(&common::workspace().join("boards"), "visionfive2").unwrap();
    assert_eq!(b.loader.uboot_partitions, vf2.loader.uboot_partitions);
    assert_eq!(b.boot_state, vf2.boot_state);
    fs::metadata(UBOOT_QEMU_BIN)
        .unwrap_or_else(|e| panic!("{UBOOT_QEMU_BIN}: {e}: apt-get install u-boot-qemu"));

    // The boot partition as a release makes it: boot.scr, uboot.env; a kernel that does not
    // boot, so the script resets once it has taken the try.
    let dummy = d.join("dummy");
    fs::write(&dummy, b"not a kernel").unwrap();
    let files = bootfs::boot_files(
        &b,
        &BootInputs {
            kernel: &dummy,
            initramfs: &dummy,
            dtb: None,
            tries: 3,
            uboot_default_env: None,
            source_date_epoch: 1_700_000_000,
        },
        &d.join("boot"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let boot = b.layout.partition(Role::Boot).unwrap();
    let vfat = d.join("boot.vfat");
    disk::make_vfat(
        files.tree.as_deref(),
        &vfat,
        &VfatSpec {
            size: boot.size_bytes(),
            label: "BOOT",
            volume_id: 0x4e4c_0003,
            source_date_epoch: 1_700_000_000,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // The release's GPT: spl, uboot, then boot (legacy BIOS bootable), root A, root B, data.
    let gpt = Gpt::new(
        b.disk_size,
        "uboot-import",
        nanolin_host::cmd::release::disk_partitions(&b),
    )
    .unwrap();
    let disk_path = d.join("disk.img");
    disk::write_image(
        &gpt,
        &[
            Content {
                partition: "spl",
                file: &dummy,
                mapping: Mapping::Full,
            },
            Content {
                partition: "uboot",
                file: &dummy,
                mapping: Mapping::Full,
            },
            Content {
                partition: "boot",
                file: &vfat,
                mapping: Mapping::Full,
            },
        ],
        &disk_path,
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // What U-Boot wrote, read by fw_printenv and by the agent's U-Boot store as the board's
    // agent.conf names it (uboot_env="/boot/firmware/uboot.env 0x0 0x10000").
    let env = d.join("uboot.env");
    fs::write(
        d.join("fw_env.config"),
        format!("{} 0x0 0x10000\n", env.display()),
    )
    .unwrap();
    let printed = |expected: &[&str]| {
        mcopy(
            d,
            &disk_path,
            boot.start_bytes(),
            "::/uboot.env",
            env.to_str().unwrap(),
        );
        let run = fw(d, "fw_printenv", &[]).ok();
        let mut vars: Vec<&str> = run.stdout.lines().collect();
        vars.sort();
        assert_eq!(vars, expected, "fw_printenv");
    };
    let config = AgentConfig::parse(
        Path::new("agent.conf"),
        &format!(
            "compatible=uboot-import\nslot_a=/dev/vda4\nslot_b=/dev/vda5\nkeys=/k.pub\n\
             bootstate=uboot\nuboot_env=\"{} 0x0 0x10000\"\n",
            env.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    // Boot 1: A takes its first try, and U-Boot writes the file back.
    let console = boot_uboot(d, &disk_path, 1);
    assert!(
        console.contains("nanolin: booting slot A (tries left: A 2, B 3)"),
        "{console}"
    );
    assert!(
        console.contains("nanolin: slot A did not boot: resetting"),
        "{console}"
    );
    printed(&["BOOT_A_LEFT=2", "BOOT_B_LEFT=3", "BOOT_ORDER=A B"]);
    // The agent reads it, and activates B as an update does.
    let disk_io = RealDisk;
    let mut store = open_store(&config, &disk_io);
    assert_eq!(
        store.load().unwrap(),
        BootState::from_parts(&[BootSlot::A, BootSlot::B], 2, 3).unwrap()
    );
    let activated = BootState::from_parts(&[BootSlot::B, BootSlot::A], 2, 3).unwrap();
    store.store(&activated).unwrap();
    mcopy(
        d,
        &disk_path,
        boot.start_bytes(),
        env.to_str().unwrap(),
        "::/uboot.env",
    );

    // Boot 2: U-Boot imports what the agent wrote: B first, one try taken.
    let console = boot_uboot(d, &disk_path, 2);
    assert!(
        console.contains("nanolin: booting slot B (tries left: A 2, B 2)"),
        "{console}"
    );
    printed(&["BOOT_A_LEFT=2", "BOOT_B_LEFT=2", "BOOT_ORDER=B A"]);
    eprintln!(
        "import and write-back checked in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
