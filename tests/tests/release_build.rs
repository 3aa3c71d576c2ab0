//! `nanolin release build` of the shipped `prime` distro: the disk image checked by `sgdisk -v`
//! with every partition where the board file puts it, root A holding the root file system
//! `unsquashfs` lists, the boot state where the bootloader reads it, `bmaptool copy` writing
//! the image, the bundle verified, the same bytes again from the same `SOURCE_DATE_EPOCH`;
//! `--publish` into a repository `nanolin repo check` finds good; bad input refused with
//! nothing written. The UEFI board's hybrid ISO boots live under OVMF, installs the release
//! onto a blank disk, and that disk then boots slot A.
//!
//! Needs the network once (packages' crates, Debian's kernel and U-Boot through apt; the
//! source cache keeps them).

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use common::qemu::boot_until;
use common::{
    board, disk_bytes, fat_copy_out, find, host_bin, peer, run_in, run_in_env, workspace,
};
use nanolin_host::board::{Board, Role};

const EPOCH: &str = "1790000000";
const VERSION: &str = "r26.09-G21141320";

/// One release build at a time: they share the package store.
static BUILDS: Mutex<()> = Mutex::new(());

/// Longest a boot may take to reach its markers (TCG on two shared cores).
const BOOT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(240);

/// A folder kept across the tests of this run: the package store and the release key.
fn shared() -> PathBuf {
    static SHARED: OnceLock<PathBuf> = OnceLock::new();
    SHARED
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("release_build");
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

/// `nanolin release build prime --board BOARD -o OUT` in `dir`, with `extra` arguments.
fn release(dir: &Path, board: &str, out: &str, extra: &[&str]) -> common::Run {
    let _one = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let shared = shared();
    let key = shared.join("k.sec");
    let store = common::package_store();
    let distro = workspace().join("distros/prime.rcp");
    let mut args = vec![
        "release",
        "build",
        distro.to_str().unwrap(),
        "--board",
        board,
        "-s",
        key.to_str().unwrap(),
        "-o",
        out,
        "--packages",
        store.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let run = run_in_env(
        dir,
        &host_bin("nanolin"),
        &args,
        &[("SOURCE_DATE_EPOCH", EPOCH)],
    )
    .feed("");
    eprintln!("{}", run.stderr);
    run
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// `sgdisk -v` finds no problem, and every partition is named and placed as the board says.
fn check_table(disk: &Path, board: &Board) {
    let d = disk.parent().unwrap();
    let sgdisk = peer("sgdisk", "gdisk");
    let verified = run_in(d, &sgdisk, &["-v", disk.to_str().unwrap()], "").ok();
    assert!(
        verified.stdout.contains("No problems found"),
        "{}",
        verified.stdout
    );
    let printed = run_in(d, &sgdisk, &["-p", disk.to_str().unwrap()], "")
        .ok()
        .stdout;
    for (i, p) in board.layout.partitions.iter().enumerate() {
        let row = printed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(&(i + 1).to_string()))
            .unwrap_or_else(|| panic!("no partition {} in:\n{printed}", i + 1));
        let fields: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(fields[1], p.start_sector.to_string(), "{row}");
        assert_eq!(fields[2], (p.end_sector() - 1).to_string(), "{row}");
        assert_eq!(fields.last().unwrap(), &p.role.as_str(), "{row}");
    }
}

/// Root A holds the root file system, byte for byte, and unsquashfs reads it.
fn check_root(disk: &Path, board: &Board, root: &Path) {
    let image = fs::read(root).unwrap();
    let slot = board.layout.partition(Role::RootA).unwrap();
    assert!(disk_bytes(disk, slot.start_bytes(), image.len()) == image);
    let listed = run_in(
        root.parent().unwrap(),
        &peer("unsquashfs", "squashfs-tools"),
        &["-l", root.to_str().unwrap()],
        "",
    )
    .ok()
    .stdout;
    for path in [
        "squashfs-root/sbin/init",
        "squashfs-root/usr/bin/nanolin-agent",
    ] {
        assert!(listed.lines().any(|l| l == path), "{path}:\n{listed}");
    }
}

/// `bmaptool copy` writes the image (only its mapped blocks) to a file that then has the
/// same bytes.
fn check_bmap(disk: &Path) {
    let d = disk.parent().unwrap();
    let copy = d.join("flashed.img");
    let bmap = PathBuf::from(format!("{}.bmap", disk.display()));
    run_in(
        d,
        &peer("bmaptool", "bmap-tools"),
        &[
            "copy",
            "--bmap",
            bmap.to_str().unwrap(),
            disk.to_str().unwrap(),
            copy.to_str().unwrap(),
        ],
        "",
    )
    .ok();
    run_in(
        d,
        Path::new("cmp"),
        &[disk.to_str().unwrap(), copy.to_str().unwrap()],
        "",
    )
    .ok();
    fs::remove_file(copy).unwrap();
}

/// Types `key` on the keyboard of the QEMU whose monitor listens on `monitor`
/// (`sendkey`), once `text` (a GRUB menu entry) is on its console `log`; gives up after
/// [`BOOT_TIMEOUT`].
fn type_at_menu(
    log: &Path,
    text: &str,
    monitor: &Path,
    key: &'static str,
) -> std::thread::JoinHandle<()> {
    let (log, text, monitor) = (log.to_path_buf(), text.to_string(), monitor.to_path_buf());
    std::thread::spawn(move || {
        let start = std::time::Instant::now();
        while !common::qemu::console(&log).contains(&text) {
            if start.elapsed() > BOOT_TIMEOUT {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let mut socket = std::os::unix::net::UnixStream::connect(&monitor).unwrap();
        std::io::Write::write_all(&mut socket, format!("sendkey {key}\n").as_bytes()).unwrap();
        // The monitor echoes the command once it has run it.
        let mut said = Vec::new();
        let mut buf = [0u8; 256];
        while !String::from_utf8_lossy(&said).contains(&format!("sendkey {key}\r")) {
            match std::io::Read::read(&mut socket, &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => said.extend_from_slice(&buf[..n]),
            }
        }
    })
}

/// QEMU's q35 machine under OVMF, its serial console in `log`, nothing attached yet.
fn ovmf(log: &Path) -> std::process::Command {
    let mut qemu = std::process::Command::new(peer("qemu-system-x86_64", "qemu-system-x86"));
    qemu.args(["-M", "q35", "-smp", "2", "-m", "512M"])
        .args(["-nodefaults", "-no-user-config", "-display", "none"])
        .args(["-bios", "/usr/share/ovmf/OVMF.fd", "-chardev"])
        .arg(format!("file,id=console,path={}", log.display()))
        .args(["-serial", "chardev:console"]);
    qemu
}

#[test]
fn default_board_release_is_flashable_reproducible_and_published() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let shared = shared();
    let key = shared.join("k.sec");
    let repo = d.join("repo");
    common::nanolin(
        d,
        &[
            "repo",
            "init",
            repo.to_str().unwrap(),
            "-s",
            key.to_str().unwrap(),
        ],
    )
    .ok();
    let run = release(
        d,
        "qemu-aarch64-virt",
        "one",
        &["--publish", repo.to_str().unwrap(), "--expires", "3650d"],
    )
    .ok();
    let one = files(&d.join("one"));
    let names: Vec<String> = one
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let base = format!("prime-qemu-aarch64-virt-{VERSION}");
    for suffix in [
        ".img",
        ".img.sig",
        ".lst",
        ".licenses.txt",
        ".spdx.json",
        ".disk.img",
        ".disk.img.bmap",
        ".nlb",
        ".kernel",
        ".initrd",
        ".release",
    ] {
        assert!(
            names.contains(&format!("{base}{suffix}")),
            "{base}{suffix} missing: {names:?}"
        );
    }
    assert_eq!(names.len(), 11, "{names:?}");
    // The summary: every file, how to flash and boot it.
    for text in ["bmaptool copy", "nanolin release run", "update bundle"] {
        assert!(run.stderr.contains(text), "{text} not in the summary");
    }

    let b = board("qemu-aarch64-virt");
    let disk = find(&one, ".disk.img");
    check_table(&disk, &b);
    check_root(&disk, &b, &find(&one, &format!("{VERSION}.img")));
    check_bmap(&disk);
    // The native boot record at the start of the boot partition: slot A first.
    let boot = b.layout.partition(Role::Boot).unwrap();
    let record = disk_bytes(&disk, boot.start_bytes(), 1024);
    assert!(record.iter().any(|&b| b != 0), "no boot record");

    // The bundle carries the root file system for this board, signed by the release key.
    let info = common::nanolin(
        d,
        &[
            "bundle",
            "info",
            "-p",
            shared.join("k.pub").to_str().unwrap(),
            find(&one, ".nlb").to_str().unwrap(),
        ],
    )
    .ok();
    let said = format!("{}{}", info.stdout, info.stderr);
    assert!(
        said.contains("qemu-aarch64-virt") && said.contains(VERSION),
        "{said}"
    );

    // The description pins the kernel and lists every file with its hash.
    let description = fs::read_to_string(find(&one, ".release")).unwrap();
    for key in [
        "kernel_package=linux-image-",
        "kernel_sha256=",
        "modules=\"",
        "file=\"",
    ] {
        assert!(description.contains(key), "{key}:\n{description}");
    }
    assert!(description.contains("virtio_blk") && description.contains("squashfs"));

    // Published: the repository checks out, and the channel names the bundle.
    common::nanolin(
        d,
        &[
            "repo",
            "check",
            repo.to_str().unwrap(),
            "-p",
            shared.join("k.pub").to_str().unwrap(),
        ],
    )
    .ok();
    let channel = fs::read_to_string(repo.join("channels/qemu-aarch64-virt/stable")).unwrap();
    assert!(
        channel.contains(&format!("releases/qemu-aarch64-virt/{base}.nlb")),
        "{channel}"
    );
    for file in [
        ".disk.img",
        ".disk.img.bmap",
        ".kernel",
        ".initrd",
        ".release",
    ] {
        assert!(
            repo.join(format!("releases/qemu-aarch64-virt/{base}{file}"))
                .is_file(),
            "{file} not published"
        );
    }
    assert!(repo.join(format!("distros/{base}.img")).is_file());

    // The same epoch again: the same bytes, every file.
    release(d, "qemu-aarch64-virt", "two", &[]).ok();
    let two = files(&d.join("two"));
    assert_eq!(one.len(), two.len());
    for (a, b) in one.iter().zip(&two) {
        assert_eq!(a.file_name(), b.file_name());
        assert!(
            fs::read(a).unwrap() == fs::read(b).unwrap(),
            "{a:?} differs"
        );
    }
}

#[test]
fn uboot_board_release_has_the_script_and_environment_on_its_boot_partition() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    release(d, "raspberrypi4", "out", &[]).ok();
    let out = files(&d.join("out"));
    let b = board("raspberrypi4");
    let disk = find(&out, ".disk.img");
    check_table(&disk, &b);
    check_root(&disk, &b, &find(&out, &format!("{VERSION}.img")));
    // No kernel beside the image: U-Boot loads it from the boot partition.
    assert!(!out.iter().any(|f| f.to_string_lossy().ends_with(".kernel")));
    // The boot partition, as mtools reads it.
    let boot = b.layout.partition(Role::Boot).unwrap();
    let part = d.join("boot.vfat");
    fs::write(
        &part,
        disk_bytes(&disk, boot.start_bytes(), boot.size_bytes() as usize),
    )
    .unwrap();
    let listing = run_in(
        d,
        &peer("mdir", "mtools"),
        &["-b", "-i", part.to_str().unwrap(), "::/"],
        "",
    )
    .ok()
    .stdout;
    for name in ["boot.scr", "Image", "initrd.img", "uboot.env"] {
        assert!(
            listing.contains(name),
            "{name} not on the boot partition:\n{listing}"
        );
    }
    let env = d.join("uboot.env");
    fat_copy_out(d, &part, "::/uboot.env", &env);
    fs::write(
        d.join("fw_env.config"),
        format!("{} 0x0 0x4000\n", env.display()),
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
    for line in ["BOOT_ORDER=A B", "BOOT_A_LEFT=3", "BOOT_B_LEFT=3"] {
        assert!(vars.lines().any(|l| l == line), "{line}:\n{vars}");
    }
    assert!(vars.lines().any(|l| l.starts_with("bootcmd=")), "{vars}");
}

#[test]
fn bad_input_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // An unknown board.
    let run = release(d, "no-such-board", "out", &[]).code(1);
    assert!(run.stderr.contains("no-such-board"), "{}", run.stderr);
    assert!(files(&d.join("out")).is_empty());

    // A distro naming a package no recipe builds, and one naming a package twice.
    std::os::unix::fs::symlink(workspace().join("recipes"), d.join("recipes")).unwrap();
    let real_boards = workspace().join("boards");
    for (name, packages, says) in [
        ("missing", "hello nothere", "nothere has no recipe"),
        ("twice", "hello=1.0 hello=2.0", "hello"),
    ] {
        let distro = d.join(format!("{name}.rcp"));
        fs::write(
            &distro,
            format!("name={name}\npackages=\"{packages}\"\nrecipes=recipes\n"),
        )
        .unwrap();
        let _one = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
        let key = shared().join("k.sec");
        let run = run_in_env(
            d,
            &host_bin("nanolin"),
            &[
                "release",
                "build",
                distro.to_str().unwrap(),
                "--boards",
                real_boards.to_str().unwrap(),
                "-s",
                key.to_str().unwrap(),
                "-o",
                "out",
            ],
            &[("SOURCE_DATE_EPOCH", EPOCH)],
        )
        .feed("")
        .code(1);
        assert!(run.stderr.contains(says), "{name}: {}", run.stderr);
        assert!(files(&d.join("out")).is_empty());
    }

    // A layout whose root partitions cannot hold the root file system.
    let boards = d.join("boards");
    fs::create_dir_all(&boards).unwrap();
    let text = fs::read_to_string(workspace().join("boards/qemu-aarch64-virt.conf")).unwrap();
    fs::write(
        boards.join("tiny.conf"),
        text.replace("name=qemu-aarch64-virt", "name=tiny")
            .replace("compatible=qemu-aarch64-virt", "compatible=tiny")
            .replace("root_a:512M root_b:512M", "root_a:1M root_b:1M"),
    )
    .unwrap();
    let run = release(d, "tiny", "out", &["--boards", boards.to_str().unwrap()]).code(1);
    assert!(
        run.stderr.contains("does not fit") || run.stderr.contains("root partitions of board tiny"),
        "{}",
        run.stderr
    );
    assert!(
        files(&d.join("out")).is_empty(),
        "{:?}",
        files(&d.join("out"))
    );

    // A layout larger than the board's disk.
    fs::write(
        boards.join("small.conf"),
        text.replace("name=qemu-aarch64-virt", "name=small")
            .replace("compatible=qemu-aarch64-virt", "compatible=small")
            .replace("disk_size=2G", "disk_size=1G"),
    )
    .unwrap();
    let run = release(d, "small", "out", &["--boards", boards.to_str().unwrap()]).code(1);
    assert!(
        run.stderr.contains("small.conf:") && run.stderr.contains("do not fit the disk"),
        "{}",
        run.stderr
    );
    assert!(files(&d.join("out")).is_empty());
}

#[test]
fn uefi_board_release_boots_live_from_its_iso_and_installs_itself_on_a_disk() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = release(d, "qemu-x86_64", "out", &[]).ok();
    assert!(run.stderr.contains("hybrid ISO"), "{}", run.stderr);
    let out = files(&d.join("out"));
    let b = board("qemu-x86_64");
    let disk = find(&out, ".disk.img");
    check_table(&disk, &b);
    check_root(&disk, &b, &find(&out, &format!("{VERSION}.img")));

    // The ISO: xorriso reads it, with the live menu, the root file system, the installer's
    // ranges and blocks, and the bundle in its tree.
    let iso = find(&out, ".iso");
    let xorriso = peer("xorriso", "xorriso");
    let listed = run_in(
        d,
        &xorriso,
        // stdio: takes the path as a file wherever it is (xorriso refuses /dev/… otherwise).
        &[
            "-indev",
            &format!("stdio:{}", iso.display()),
            "-find",
            "/nanolin",
        ],
        "",
    )
    .ok()
    .stdout;
    let base = format!("prime-qemu-x86_64-{VERSION}");
    for name in [
        "/nanolin/live.cfg".to_string(),
        "/nanolin/rootfs.img".to_string(),
        "/nanolin/disk.ranges".to_string(),
        "/nanolin/disk.blocks".to_string(),
        format!("/nanolin/{base}.nlb"),
    ] {
        assert!(listed.contains(&name), "{name} not in the ISO:\n{listed}");
    }
    eprintln!("iso: {} bytes", fs::metadata(&iso).unwrap().len());

    // Live: the ISO as a USB stick under OVMF (the install below boots it as a CD). GRUB,
    // loaded from the stick, finds its live menu there and boots the default entry; stage1
    // finds the medium among the disks by its volume id and runs the root image from it; the
    // agent knows it is live.
    let title = format!("Nanolin prime {VERSION}");
    let live_entry = format!("{title} (live)");
    let install_entry = format!("Install {title} to the first disk (erases it)");
    let log = d.join("live.console.log");
    let mut qemu = ovmf(&log);
    qemu.args(["-monitor", "none", "-device", "qemu-xhci,id=xhci", "-drive"])
        .arg(format!(
            "if=none,format=raw,id=u0,readonly=on,file={}",
            iso.display()
        ))
        .args(["-device", "usb-storage,bus=xhci.0,drive=u0"])
        .args([
            "-netdev",
            "user,id=n0",
            "-device",
            "virtio-net-pci,netdev=n0",
        ]);
    let (console, _) = boot_until(
        qemu,
        "live",
        &log,
        &[
            &live_entry,
            &install_entry,
            "stage1: live medium NANOLIN_PRIME on /dev/sda",
            "stage1: live system: no data partition",
            "hello from a Nanolin package",
            "a live system installs no updates",
            "booted:     live",
        ],
        BOOT_TIMEOUT,
    );
    assert!(!console.contains("nanolin: booting slot"), "{console}");

    // Install: the ISO as a CD again, and a blank disk. At the menu, the install entry's
    // hotkey (`i`, typed on the keyboard through QEMU's monitor) boots the installer, which
    // writes the disk and powers off.
    let target = d.join("blank.img");
    fs::File::create(&target)
        .unwrap()
        .set_len(b.disk_size)
        .unwrap();
    let log = d.join("install.console.log");
    let monitor = d.join("monitor.sock");
    let mut qemu = ovmf(&log);
    qemu.arg("-monitor")
        .arg(format!("unix:{},server=on,wait=off", monitor.display()))
        .args(["-no-reboot", "-cdrom", iso.to_str().unwrap(), "-drive"])
        .arg(format!(
            "if=none,format=raw,file={},id=t0",
            target.display()
        ))
        .args(["-device", "virtio-blk-pci,drive=t0"]);
    let typist = type_at_menu(&log, &install_entry, &monitor, "i");
    let (console, _) = boot_until(
        qemu,
        "install",
        &log,
        &[
            "nanolin.install=auto",
            "stage1: installing onto /dev/vda",
            "stage1: installing: 100%",
            "every range checked",
            "stage1: the medium can be removed now; powering off",
            "reboot: Power down",
        ],
        BOOT_TIMEOUT,
    );
    typist.join().unwrap();
    if let Some(line) = console.lines().find(|l| l.contains("stage1: installed ")) {
        eprintln!("install: {line}");
    }
    // The disk holds what the image holds: the mapped blocks written, the rest still blank.
    check_table(&target, &b);
    run_in(
        d,
        Path::new("cmp"),
        &[disk.to_str().unwrap(), target.to_str().unwrap()],
        "",
    )
    .ok();

    // The installed disk alone, as the board boots it (`nanolin release run`: OVMF, GRUB
    // from the ESP): GRUB picks slot A, stage1 mounts it and the ESP, our init runs the
    // services, and the agent commits the slot in GRUB's environment.
    let log = d.join("installed.console.log");
    let mut run = std::process::Command::new(host_bin("nanolin"));
    run.current_dir(workspace()).args([
        "release",
        "run",
        target.to_str().unwrap(),
        "--board",
        "qemu-x86_64",
        "--log",
        log.to_str().unwrap(),
    ]);
    boot_until(
        run,
        "installed disk",
        &log,
        &[
            "nanolin: booting slot A (tries left: A 2, B 3)",
            "Linux version",
            "stage1: root /dev/vda2 (squashfs) mounted",
            "stage1: boot partition /dev/vda1 (vfat) on /boot/firmware",
            "hello from a Nanolin package",
            // The health check writes GRUB's environment on the ESP.
            "commit: slot A committed",
        ],
        BOOT_TIMEOUT,
    );
    // What `release run` starts: the board's machine and firmware, disk, network, watchdog.
    let printed = run_in(
        workspace().as_path(),
        &host_bin("nanolin"),
        &["release", "run", disk.to_str().unwrap(), "--print"],
        "",
    )
    .ok()
    .stdout;
    for word in [
        "qemu-system-x86_64",
        "OVMF.fd",
        "virtio-blk-pci",
        "user,id=net0",
        "i6300esb",
        "-nographic",
    ] {
        assert!(printed.contains(word), "{word}: {printed}");
    }
}

#[test]
fn armv7_release_keeps_a_redundant_uboot_environment_in_raw_sectors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    release(d, "beaglebone-black", "out", &[]).ok();
    let out = files(&d.join("out"));
    let b = board("beaglebone-black");
    let disk = find(&out, ".disk.img");
    check_table(&disk, &b);
    let root = find(&out, &format!("{VERSION}.img"));
    check_root(&disk, &b, &root);
    // The board's agent (built by its package for armv7, glibc linked in statically) starts
    // and says its version, under qemu-user: no armv7 board boots here.
    let agent = d.join("nanolin-agent");
    let extracted = std::process::Command::new(peer("unsquashfs", "squashfs-tools"))
        .args(["-cat", root.to_str().unwrap(), "usr/bin/nanolin-agent"])
        .output()
        .unwrap();
    assert!(extracted.status.success(), "no usr/bin/nanolin-agent");
    fs::write(&agent, &extracted.stdout).unwrap();
    fs::set_permissions(&agent, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let version = run_in(
        d,
        &peer("qemu-arm-static", "qemu-user-static"),
        &[agent.to_str().unwrap(), "--version"],
        "",
    )
    .ok()
    .stdout;
    assert!(version.starts_with("nanolin-agent "), "{version}");
    // Both copies of the environment between the GPT and the first partition, as the board
    // file says (0x260000, 128 KiB each): fw_printenv reads them from the image.
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
    for line in ["BOOT_ORDER=A B", "BOOT_A_LEFT=3", "BOOT_B_LEFT=3"] {
        assert!(vars.lines().any(|l| l == line), "{line}:\n{vars}");
    }
    assert!(vars.lines().any(|l| l.starts_with("bootcmd=")), "{vars}");
    // The bytes of the environment are in the block map: a flash writes them.
    let bmap = fs::read_to_string(format!("{}.bmap", disk.display())).unwrap();
    let first = 0x260000 / 4096;
    assert!(
        bmap.lines()
            .filter_map(|l| l.trim().strip_prefix("<Range"))
            .any(|l| l.contains(&format!("> {first}-")) || l.contains(&format!("> {first} "))),
        "the environment's blocks are not mapped:\n{bmap}"
    );
}
