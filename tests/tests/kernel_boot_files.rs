//! The kernel and boot pieces of a release, checked with the real things: Debian's arm64
//! kernel fetched through apt and booted under QEMU with an initramfs of ours that loads the
//! module closure with `insmod`; `boot.scr` read by `mkimage -l`, the U-Boot environment by
//! `fw_printenv`, GRUB's environment block by `grub-editenv`, GRUB's EFI application by
//! `file`; every file built twice to the same bytes.
//!
//! Needs the network once (apt-get download; the source cache keeps the .debs), root or an
//! `arm64` dpkg architecture, and qemu-system-aarch64 (tests/qemu/boot.sh installs it).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use common::{peer, run_in, workspace};
use nanolin_core::boot_state::{BootSlot, BootState};
use nanolin_core::uboot_env::{current, EnvCopy, Layout};
use nanolin_host::board::{Arch, Board, Role, StateLocation, DEFAULT_BOARD};
use nanolin_host::bootfs::{self, BootFiles, BootInputs};
use nanolin_host::disk::{make_vfat, VfatSpec};
use nanolin_host::fetch::SourceCache;
use nanolin_host::initramfs::{write_initramfs, Compression, InitramfsSpec};
use nanolin_host::kernel::{fetch_deb, fetch_kernel, Kernel, KernelFiles};

/// Every time stamp of the files built here.
const EPOCH: u64 = 1_700_000_000;

/// What the guest prints once /init runs, and once the modules are in.
const MARKER: &str = "NANOLIN-KERNEL-BOOT-FILES";
const MODULES_OK: &str = "modules ok";

/// The modules the boot loads.
const MODULES: [&str; 2] = ["virtio_blk", "squashfs"];

fn board(name: &str) -> Board {
    Board::find(&workspace().join("boards"), name).unwrap_or_else(|e| panic!("{e}"))
}

fn cache() -> SourceCache {
    SourceCache::from_env().unwrap_or_else(|e| panic!("{e}"))
}

/// A fresh folder of this test binary's own, below cargo's target/tmp.
fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("kernel_boot_files")
        .join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    dir
}

struct Fetched {
    kernel: Kernel,
    files: KernelFiles,
}

/// The default board's kernel, fetched and unpacked once per run.
fn default_kernel() -> &'static Fetched {
    static FETCHED: OnceLock<Fetched> = OnceLock::new();
    FETCHED.get_or_init(|| {
        let board = board(DEFAULT_BOARD);
        let start = Instant::now();
        let kernel = fetch_kernel(&board, &cache()).unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "kernel: {} {} sha256 {} fetched in {:.1} s",
            kernel.package,
            kernel.version,
            kernel.sha256_hex(),
            start.elapsed().as_secs_f64()
        );
        let start = Instant::now();
        let files = kernel
            .unpack(&work_dir("kernel"))
            .unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "kernel: {} unpacked, depmod run in {:.1} s",
            files.release,
            start.elapsed().as_secs_f64()
        );
        Fetched { kernel, files }
    })
}

/// Debian's static arm64 busybox, fetched and unpacked once per run.
fn busybox() -> &'static PathBuf {
    static BUSYBOX: OnceLock<PathBuf> = OnceLock::new();
    BUSYBOX.get_or_init(|| {
        let deb =
            fetch_deb("busybox-static", Arch::Aarch64, &cache()).unwrap_or_else(|e| panic!("{e}"));
        let dir = work_dir("busybox");
        deb.unpack(&dir).unwrap_or_else(|e| panic!("{e}"));
        dir.join("bin/busybox")
    })
}

/// The initramfs tree: busybox, the module closure, and an /init that loads the modules in
/// order with insmod, prints what the test expects and powers off.
fn initramfs_tree(dir: &Path) {
    let fetched = default_kernel();
    let release = &fetched.files.release;
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::copy(busybox(), dir.join("bin/busybox")).unwrap();
    fs::set_permissions(dir.join("bin/busybox"), fs::Permissions::from_mode(0o755)).unwrap();
    for d in ["proc", "sys", "dev"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    let closure = fetched
        .files
        .modules_closure(&MODULES)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!closure.files.is_empty());
    let mut loads = String::new();
    for module in &closure.files {
        let at = Path::new("lib/modules")
            .join(release)
            .join(&module.relative);
        fs::create_dir_all(dir.join(&at).parent().unwrap()).unwrap();
        fs::copy(&module.path, dir.join(&at)).unwrap();
        loads.push_str(&format!(
            "$bb insmod /{} || fail=\"$fail {}\"\n",
            at.display(),
            module.name
        ));
    }
    let mut checks = String::new();
    for name in MODULES {
        checks.push_str(&format!(
            "$bb grep -q '^{name} ' /proc/modules || fail=\"$fail {name}(not live)\"\n"
        ));
    }
    let init = format!(
        "#!/bin/busybox sh\n\
         bb=/bin/busybox\n\
         $bb mount -t proc proc /proc\n\
         echo {MARKER}\n\
         fail=\n\
         {loads}{checks}\
         if [ -z \"$fail\" ]; then echo '{MODULES_OK}'; else echo \"modules failed:$fail\"; fi\n\
         $bb poweroff -f\n"
    );
    fs::write(dir.join("init"), init).unwrap();
    fs::set_permissions(dir.join("init"), fs::Permissions::from_mode(0o755)).unwrap();
}

fn spec() -> InitramfsSpec {
    InitramfsSpec {
        source_date_epoch: EPOCH,
        compression: Compression::Gzip,
    }
}

#[test]
fn debian_kernel_boots_our_initramfs_and_loads_the_module_closure() {
    let fetched = default_kernel();
    let files = &fetched.files;
    assert!(
        files
            .image
            .file_name()
            .unwrap()
            .to_string_lossy()
            .contains(&files.release),
        "{:?}",
        files.image
    );
    // The raw Image that QEMU's -kernel and U-Boot's booti take.
    let head = fs::read(&files.image).unwrap();
    assert_eq!(&head[56..60], b"ARM\x64");
    assert!(files.modules.join("modules.dep").is_file());

    let dir = work_dir("boot");
    let tree = dir.join("root");
    initramfs_tree(&tree);
    let (one, two) = (dir.join("initrd.1.gz"), dir.join("initrd.2.gz"));
    let info = write_initramfs(&tree, &one, &spec()).unwrap_or_else(|e| panic!("{e}"));
    write_initramfs(&tree, &two, &spec()).unwrap();
    assert_eq!(
        fs::read(&one).unwrap(),
        fs::read(&two).unwrap(),
        "initramfs differs"
    );
    eprintln!(
        "initramfs: {} entries, {} bytes, {} gzip-compressed",
        info.entries, info.archive_len, info.len
    );

    // cpio itself reads it: every entry, owned by root, dated EPOCH.
    let plain = dir.join("initrd.cpio");
    write_initramfs(
        &tree,
        &plain,
        &InitramfsSpec {
            compression: Compression::None,
            ..spec()
        },
    )
    .unwrap();
    let listing = Command::new(peer("cpio", "cpio"))
        .args(["-itv", "--quiet", "-F"])
        .arg(&plain)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(listing.status.success(), "{listing:?}");
    let listing = String::from_utf8_lossy(&listing.stdout);
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len() as u64, info.entries, "{listing}");
    for line in &lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!((words[2], words[3]), ("root", "root"), "{line}");
        assert!(line.contains("Nov 14  2023"), "{line}");
    }
    assert!(lines.iter().any(|l| l.ends_with(" init")), "{listing}");

    let start = Instant::now();
    let boot = Command::new("bash")
        .arg(workspace().join("tests/qemu/boot.sh"))
        .arg("--kernel")
        .arg(&files.image)
        .arg("--initrd")
        .arg(&one)
        .args(["--timeout", "240"])
        .args(["--expect", &format!("^{MARKER}$")])
        .args(["--expect", &format!("^{MODULES_OK}$")])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&boot.stderr);
    assert!(boot.status.success(), "boot failed:\n{said}");
    eprintln!(
        "boot: {:.1} s ({})",
        start.elapsed().as_secs_f64(),
        said.lines().last().unwrap_or_default()
    );
}

#[test]
fn a_pinned_kernel_comes_from_the_cache_and_a_gone_version_is_named() {
    let fetched = default_kernel();
    let k = &fetched.kernel;
    let again = Kernel::pinned(Arch::Aarch64, &k.package, &k.version, &k.sha256, &cache())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(&again, k);
    // A version apt never had, with a hash the cache does not hold.
    let err =
        Kernel::pinned(Arch::Aarch64, &k.package, "0.0.1-1", &[0x5a; 32], &cache()).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("version 0.0.1-1, which apt no longer offers")
            && text.contains(&format!("it offers {}", k.version)),
        "{text}"
    );
    // The versioned package's name is the kernel's, whatever the board names.
    assert!(k.package.starts_with("linux-image-") && k.package.ends_with("-arm64"));
}

/// A stand-in for a file the bootloader loads but the test does not boot.
fn dummy(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("{name}\n")).unwrap();
    path
}

/// Every file below `dir`, relative, with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                pending.push(p);
            } else {
                out.push((
                    p.strip_prefix(dir).unwrap().to_path_buf(),
                    fs::read(&p).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// U-Boot's default environment of Debian's rpi_arm64 build.
fn rpi_default_env() -> &'static Vec<(String, String)> {
    static ENV: OnceLock<Vec<(String, String)>> = OnceLock::new();
    ENV.get_or_init(|| {
        let deb =
            fetch_deb("u-boot-rpi", Arch::Aarch64, &cache()).unwrap_or_else(|e| panic!("{e}"));
        let dir = work_dir("u-boot-rpi");
        deb.unpack(&dir).unwrap_or_else(|e| panic!("{e}"));
        let binary = fs::read(dir.join("usr/lib/u-boot/rpi_arm64/u-boot.bin")).unwrap();
        bootfs::uboot_default_env(&binary).unwrap_or_else(|e| panic!("{e}"))
    })
}

fn fw_printenv(dir: &Path, config: &str) -> String {
    fs::write(dir.join("fw_env.config"), config).unwrap();
    run_in(
        dir,
        &peer("fw_printenv", "u-boot-tools"),
        &["-c", "fw_env.config"],
        "",
    )
    .ok()
    .stdout
}

fn has_lines(text: &str, lines: &[&str]) {
    for line in lines {
        assert!(
            text.lines().any(|l| l == *line),
            "no line {line:?} in:\n{text}"
        );
    }
}

#[test]
fn raspberry_pi_boot_files_hold_a_script_mkimage_reads_and_an_environment_fw_printenv_reads() {
    let fetched = default_kernel();
    let b = board("raspberrypi4");
    let defaults = rpi_default_env();
    assert!(
        defaults
            .iter()
            .any(|(n, v)| n == "bootcmd" && v == "run distro_bootcmd"),
        "{defaults:?}"
    );
    assert!(defaults.iter().any(|(n, _)| n == "kernel_addr_r"));
    let dtb = fetched
        .files
        .dtb(b.dtb.as_deref().unwrap())
        .unwrap_or_else(|e| panic!("{e}"));
    let dir = work_dir("rpi4");
    let initrd = dummy(&dir, "initrd");
    let inputs = BootInputs {
        kernel: &fetched.files.image,
        initramfs: &initrd,
        dtb: Some(&dtb),
        tries: 3,
        uboot_default_env: Some(defaults),
        source_date_epoch: EPOCH,
    };
    let made = |name: &str| -> BootFiles {
        bootfs::boot_files(&b, &inputs, &dir.join(name)).unwrap_or_else(|e| panic!("{e}"))
    };
    let files = made("one");
    assert_eq!(files.raw, None, "the Pi keeps its environment in a file");
    let tree = files.tree.unwrap();
    let names: Vec<String> = snapshot(&tree)
        .iter()
        .map(|(p, _)| p.display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "Image",
            "bcm2711-rpi-4-b.dtb",
            "boot.cmd",
            "boot.scr",
            "initrd.img",
            "uboot.env"
        ]
    );
    assert_eq!(
        fs::read(tree.join("Image")).unwrap(),
        fs::read(&fetched.files.image).unwrap()
    );

    let listed = run_in(
        &tree,
        &peer("mkimage", "u-boot-tools"),
        &["-l", "boot.scr"],
        "",
    )
    .ok()
    .stdout;
    for want in [
        "Image Name:   nanolin A/B boot",
        "Image Type:   AArch64 Linux Script (uncompressed)",
    ] {
        assert!(
            listed.contains(want),
            "mkimage -l lacks {want:?}:\n{listed}"
        );
    }
    // SOURCE_DATE_EPOCH, shown in local time.
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("Created:") && l.contains("2023")),
        "{listed}"
    );

    let env = fw_printenv(&dir, &format!("{}/uboot.env 0x0 0x4000\n", tree.display()));
    has_lines(
        &env,
        &[
            "BOOT_ORDER=A B",
            "BOOT_A_LEFT=3",
            "BOOT_B_LEFT=3",
            "bootcmd=run distro_bootcmd",
            "kernel_addr_r=0x00080000",
        ],
    );
    assert_eq!(env.lines().count(), defaults.len() + 3, "{env}");

    // The partition holds it: make_vfat takes the tree as it is.
    make_vfat(
        Some(&tree),
        &dir.join("boot.vfat"),
        &VfatSpec {
            size: b.layout.partition(Role::Boot).unwrap().size_bytes(),
            label: "BOOT",
            volume_id: 0x4e4c_0001,
            source_date_epoch: EPOCH,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let again = made("two");
    assert_eq!(
        snapshot(&tree),
        snapshot(&again.tree.unwrap()),
        "boot files differ"
    );
}

#[test]
fn beaglebone_gets_both_redundant_environment_copies_raw_before_the_first_partition() {
    let b = board("beaglebone-black");
    let dir = work_dir("bbb");
    let (kernel, initrd, dtb) = (
        dummy(&dir, "zImage"),
        dummy(&dir, "initrd"),
        dummy(&dir, "dtb"),
    );
    let defaults = rpi_default_env();
    let files = bootfs::boot_files(
        &b,
        &BootInputs {
            kernel: &kernel,
            initramfs: &initrd,
            dtb: Some(&dtb),
            tries: 2,
            uboot_default_env: Some(defaults),
            source_date_epoch: EPOCH,
        },
        &dir.join("tree"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let tree = files.tree.unwrap();
    assert!(tree.join("zImage").is_file() && tree.join("am335x-boneblack.dtb").is_file());
    assert!(!tree.join("uboot.env").exists());
    let listed = run_in(
        &tree,
        &peer("mkimage", "u-boot-tools"),
        &["-l", "boot.scr"],
        "",
    )
    .ok()
    .stdout;
    assert!(listed.contains("ARM Linux Script"), "{listed}");
    let raw = files.raw.unwrap();
    assert_eq!(raw.location, StateLocation::Disk { offset: 0x26_0000 });
    assert_eq!(raw.disk_offset, 0x26_0000);
    assert_eq!(raw.bytes.len(), 2 * 0x2_0000);
    let (first, second) = raw.bytes.split_at(0x2_0000);
    assert_eq!(
        current(
            &EnvCopy::parse(first, Layout::Redundant),
            &EnvCopy::parse(second, Layout::Redundant)
        ),
        Some(0)
    );
    // fw_printenv reads the two copies where the board keeps them.
    let disk = dir.join("disk.img");
    let mut image = vec![0u8; 0x26_0000];
    image.extend_from_slice(&raw.bytes);
    fs::write(&disk, image).unwrap();
    let env = fw_printenv(
        &dir,
        &format!(
            "{0} 0x260000 0x20000\n{0} 0x280000 0x20000\n",
            disk.display()
        ),
    );
    has_lines(&env, &["BOOT_ORDER=A B", "BOOT_A_LEFT=2", "BOOT_B_LEFT=2"]);
}

#[test]
fn grub_esp_holds_a_reproducible_efi_application_and_an_environment_grub_editenv_reads() {
    let b = board("qemu-x86_64");
    let dir = work_dir("grub");
    let (kernel, initrd) = (dummy(&dir, "bzImage"), dummy(&dir, "initrd"));
    let inputs = BootInputs {
        kernel: &kernel,
        initramfs: &initrd,
        dtb: None,
        tries: 3,
        uboot_default_env: None,
        source_date_epoch: EPOCH,
    };
    let start = Instant::now();
    let files = bootfs::boot_files(&b, &inputs, &dir.join("one")).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "grub: EFI System Partition tree in {:.2} s",
        start.elapsed().as_secs_f64()
    );
    assert_eq!(files.raw, None);
    let tree = files.tree.unwrap();
    let efi = fs::read(tree.join("EFI/BOOT/BOOTX64.EFI")).unwrap();
    assert_eq!(&efi[..2], b"MZ");
    eprintln!("grub: BOOTX64.EFI {} bytes", efi.len());
    let kind = run_in(
        &tree,
        &peer("file", "file"),
        &["-b", "EFI/BOOT/BOOTX64.EFI"],
        "",
    )
    .ok()
    .stdout;
    assert!(
        kind.contains("EFI application") && kind.contains("x86-64"),
        "{kind}"
    );
    // The configuration is in the memdisk, readable as text.
    let cfg = bootfs::grub_cfg(&b, "EFI/nanolin/grubenv");
    assert!(
        efi.windows(cfg.len()).any(|w| w == cfg.as_bytes()),
        "grub.cfg is not embedded"
    );
    assert_eq!(fs::read(tree.join("vmlinuz")).unwrap(), b"bzImage\n");

    let listed = run_in(
        &tree,
        &peer("grub-editenv", "grub-common"),
        &["EFI/nanolin/grubenv", "list"],
        "",
    )
    .ok()
    .stdout;
    assert_eq!(listed, "BOOT_ORDER=A B\nBOOT_A_LEFT=3\nBOOT_B_LEFT=3\n");
    assert_eq!(
        fs::metadata(tree.join("EFI/nanolin/grubenv"))
            .unwrap()
            .len(),
        1024
    );

    let again = bootfs::boot_files(&b, &inputs, &dir.join("two")).unwrap();
    assert_eq!(
        snapshot(&tree),
        snapshot(&again.tree.unwrap()),
        "ESP files differ"
    );
}

/// A board of QEMU's virt machine booted by Debian's qemu_arm64 U-Boot: the boot script's
/// slot logic run by a real U-Boot.
const UBOOT_QEMU_BOARD: &str = "\
name=qemu-aarch64-uboot
description=\"test: QEMU virt machine, U-Boot from Debian's u-boot-qemu\"
target=aarch64-unknown-linux-musl
debian_arch=arm64
qemu_user=qemu-aarch64-static
kernel=debian:linux-image-arm64
console=ttyAMA0
kernel_cmdline=\"panic=-1 quiet\"
bootloader=uboot
uboot_package=u-boot-qemu
bootstate_partition=boot
bootstate_file=uboot.env
bootstate_size=256K
disk_size=128M
partitions=\"boot:64M root_a:8M root_b:8M data:8M\"
disk_device=/dev/vda
qemu=\"qemu-system-aarch64 -M virt -cpu cortex-a57 -m 512M\"
";

/// Debian's U-Boot for QEMU's arm64 virt machine.
const UBOOT_QEMU_BIN: &str = "/usr/lib/u-boot/qemu_arm64/u-boot.bin";

/// Boots `disk` with U-Boot, its environment flash `flash`; the console.
fn boot_uboot(dir: &Path, disk: &Path, flash: &Path, n: usize) -> String {
    let log = dir.join(format!("console.{n}.log"));
    let start = Instant::now();
    let out = Command::new("timeout")
        .args(["-k", "5", "240"])
        .arg(peer("qemu-system-aarch64", "qemu-system-arm"))
        .args([
            "-M",
            "virt",
            "-cpu",
            "cortex-a57",
            "-smp",
            "2",
            "-m",
            "512M",
        ])
        .args([
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-monitor",
            "none",
        ])
        .arg("-no-reboot")
        .args(["-accel", "tcg,thread=multi"])
        .arg("-chardev")
        .arg(format!("file,id=console,path={}", log.display()))
        .args(["-serial", "chardev:console"])
        .arg("-bios")
        .arg(UBOOT_QEMU_BIN)
        .arg("-drive")
        .arg(format!(
            "if=pflash,format=raw,index=1,file={}",
            flash.display()
        ))
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

#[test]
fn uboot_runs_the_script_and_reads_our_environment_slot_choice_and_fallback() {
    let fetched = default_kernel();
    let dir = work_dir("uboot-qemu");
    let b = Board::parse(
        Path::new("qemu-aarch64-uboot.conf"),
        UBOOT_QEMU_BOARD.as_bytes(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let binary = fs::read(UBOOT_QEMU_BIN)
        .unwrap_or_else(|e| panic!("{UBOOT_QEMU_BIN}: {e}: apt-get install u-boot-qemu"));
    let defaults = bootfs::uboot_default_env(&binary).unwrap_or_else(|e| panic!("{e}"));

    // The initramfs shows the command line U-Boot gave the kernel, and powers off.
    let root = dir.join("root");
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::create_dir_all(root.join("proc")).unwrap();
    fs::copy(busybox(), root.join("bin/busybox")).unwrap();
    fs::set_permissions(root.join("bin/busybox"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(
        root.join("init"),
        "#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\n\
         echo \"CMDLINE: $(/bin/busybox cat /proc/cmdline)\"\n/bin/busybox poweroff -f\n",
    )
    .unwrap();
    fs::set_permissions(root.join("init"), fs::Permissions::from_mode(0o755)).unwrap();
    let initrd = dir.join("initrd.gz");
    write_initramfs(&root, &initrd, &spec()).unwrap();

    let files = bootfs::boot_files(
        &b,
        &BootInputs {
            kernel: &fetched.files.image,
            initramfs: &initrd,
            dtb: None,
            tries: 3,
            uboot_default_env: Some(&defaults),
            source_date_epoch: EPOCH,
        },
        &dir.join("boot"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let boot = b.layout.partition(Role::Boot).unwrap();
    let vfat = dir.join("boot.vfat");
    make_vfat(
        files.tree.as_deref(),
        &vfat,
        &VfatSpec {
            size: boot.size_bytes(),
            label: "BOOT",
            volume_id: 0x4e4c_0002,
            source_date_epoch: EPOCH,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let parts = b
        .layout
        .partitions
        .iter()
        .map(|p| nanolin_host::disk::Partition {
            name: p.role.as_str().to_string(),
            type_guid: nanolin_host::disk::part_type::LINUX_DATA,
            start_sector: p.start_sector,
            size_sectors: p.size_sectors,
            attributes: 0,
        })
        .collect();
    let gpt = nanolin_host::disk::Gpt::new(b.disk_size, "uboot-qemu", parts).unwrap();
    let disk = dir.join("disk.img");
    nanolin_host::disk::write_image(
        &gpt,
        &[nanolin_host::disk::Content {
            partition: "boot",
            file: &vfat,
            mapping: nanolin_host::disk::Mapping::Full,
        }],
        &disk,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // Debian's qemu_arm64 U-Boot keeps its environment at the start of the second flash
    // bank (QEMU 7.2's flash times out on U-Boot's saveenv, so counts do not persist from one
    // boot to the next here): each boot starts from an environment written with our codec,
    // or from none (U-Boot's default one).
    let flash = dir.join("flash1.img");
    let size = usize::try_from(b.boot_state.size).unwrap();
    // The environment a boot starts from, and the slot and counts it must boot with.
    type Case = (Option<BootState>, Option<(&'static str, &'static str)>);
    let cases: [Case; 4] = [
        // No environment: the script's defaults, slot A.
        (None, Some(("A", "A 2, B 3"))),
        // A used up: the fallback to B.
        (
            Some(BootState::from_parts(&[BootSlot::A, BootSlot::B], 0, 3).unwrap()),
            Some(("B", "A 0, B 2")),
        ),
        // An update activated B.
        (
            Some(BootState::from_parts(&[BootSlot::B, BootSlot::A], 3, 1).unwrap()),
            Some(("B", "A 3, B 0")),
        ),
        // Nothing left: both get their tries back and the board resets.
        (
            Some(BootState::from_parts(&[BootSlot::A, BootSlot::B], 0, 0).unwrap()),
            None,
        ),
    ];
    let cmdline = |console: &str| -> String {
        console
            .lines()
            .find_map(|l| l.strip_prefix("CMDLINE: "))
            .unwrap_or_else(|| panic!("the kernel never ran /init:\n{console}"))
            .to_string()
    };
    for (n, (state, expected)) in cases.iter().enumerate() {
        let mut bank = vec![0u8; 64 << 20];
        if let Some(state) = state {
            let vars = bootfs::uboot_vars(&defaults, state);
            let env = bootfs::uboot_env_bytes(&vars, size, false).unwrap();
            bank[..size].copy_from_slice(&env);
        }
        fs::write(&flash, bank).unwrap();
        let console = boot_uboot(&dir, &disk, &flash, n + 1);
        let Some((slot, left)) = expected else {
            assert!(
                console
                    .contains("nanolin: no slot has tries left (BOOT_ORDER A B): both get 3 again")
                    && !console.contains("CMDLINE: "),
                "boot {}: no reset:\n{console}",
                n + 1
            );
            continue;
        };
        assert!(
            console.contains(&format!(
                "nanolin: booting slot {slot} (tries left: {left})"
            )),
            "boot {}: no slot {slot} with {left}:\n{console}",
            n + 1
        );
        let partition = if *slot == "A" {
            "/dev/vda2"
        } else {
            "/dev/vda3"
        };
        assert_eq!(
            cmdline(&console),
            format!("console=ttyAMA0 root={partition} nanolin.slot={slot} panic=-1 quiet")
        );
    }
}

/// OVMF, the UEFI firmware the qemu-x86_64 board boots with.
const OVMF: &str = "/usr/share/ovmf/OVMF.fd";

#[test]
fn grub_under_uefi_picks_the_slot_and_saves_the_count_in_grubenv() {
    let b = board("qemu-x86_64");
    let dir = work_dir("grub-qemu");
    // Not a kernel: GRUB's `linux` refuses it after the count is saved, and the script
    // reboots (QEMU exits: -no-reboot). The count it saved is in the ESP image.
    let (kernel, initrd) = (dummy(&dir, "bzImage"), dummy(&dir, "initrd"));
    let files = bootfs::boot_files(
        &b,
        &BootInputs {
            kernel: &kernel,
            initramfs: &initrd,
            dtb: None,
            tries: 3,
            uboot_default_env: None,
            source_date_epoch: EPOCH,
        },
        &dir.join("esp"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let boot = b.layout.partition(Role::Boot).unwrap();
    let vfat = dir.join("esp.vfat");
    make_vfat(
        files.tree.as_deref(),
        &vfat,
        &VfatSpec {
            size: boot.size_bytes(),
            label: "ESP",
            volume_id: 0x4e4c_0003,
            source_date_epoch: EPOCH,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let parts = b
        .layout
        .partitions
        .iter()
        .map(|p| nanolin_host::disk::Partition {
            name: p.role.as_str().to_string(),
            type_guid: if p.role == Role::Boot {
                nanolin_host::disk::part_type::EFI_SYSTEM
            } else {
                nanolin_host::disk::part_type::LINUX_DATA
            },
            start_sector: p.start_sector,
            size_sectors: p.size_sectors,
            attributes: 0,
        })
        .collect();
    let gpt = nanolin_host::disk::Gpt::new(b.disk_size, "grub-qemu", parts).unwrap();
    let disk = dir.join("disk.img");
    nanolin_host::disk::write_image(
        &gpt,
        &[nanolin_host::disk::Content {
            partition: "boot",
            file: &vfat,
            mapping: nanolin_host::disk::Mapping::Full,
        }],
        &disk,
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let log = dir.join("console.log");
    let start = Instant::now();
    let out = Command::new("timeout")
        .args(["-k", "5", "300"])
        .arg(peer("qemu-system-x86_64", "qemu-system-x86"))
        .args(["-M", "q35", "-smp", "2", "-m", "512M"])
        .args([
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-monitor",
            "none",
        ])
        .arg("-no-reboot")
        .arg("-chardev")
        .arg(format!("file,id=console,path={}", log.display()))
        .args(["-serial", "chardev:console"])
        .args(["-bios", OVMF])
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
    eprintln!("grub boot: {:.1} s", start.elapsed().as_secs_f64());
    assert!(
        console.contains("nanolin: booting slot A (tries left: A 2, B 3)"),
        "GRUB did not pick slot A:\n{console}"
    );
    // save_env wrote the count into the block on the ESP, in place.
    let grubenv = dir.join("grubenv");
    let copied = Command::new(peer("mcopy", "mtools"))
        .args(["-n", "-i"])
        .arg(format!("{}@@{}", disk.display(), boot.start_bytes()))
        .arg("::EFI/nanolin/grubenv")
        .arg(&grubenv)
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap();
    assert!(copied.status.success(), "{copied:?}");
    let listed = run_in(
        &dir,
        &peer("grub-editenv", "grub-common"),
        &["grubenv", "list"],
        "",
    )
    .ok()
    .stdout;
    assert_eq!(listed, "BOOT_ORDER=A B\nBOOT_A_LEFT=2\nBOOT_B_LEFT=3\n");
}
