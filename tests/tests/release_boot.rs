//! The default board's release booted under QEMU, as a user boots it: `nanolin release build`
//! of `prime`, then QEMU loads the kernel and the initramfs, whose `/init` is stage1. Stage1
//! picks slot A from the native boot record (one try taken and written back), mounts its
//! squashfs under a tmpfs overlay with the data partition, and hands over to our init, which
//! runs the `hello` service and the agent. Checked on the console and on the disk copy the
//! board wrote: stage1 takes a try (A 2), the health check (`nanolin-agent commit`) gives it
//! back once the `health=required` services are up, and so on at every boot; the agent knows
//! the booted slot; a slot whose root does not mount reboots, and once its tries are gone the
//! board boots the other slot by itself.
//!
//! Needs the network once (packages' crates, Debian's kernel through apt; the shared package
//! store under target/tmp keeps them), and qemu-system-aarch64.

mod common;

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::qemu::{Boot, VirtBoot};
use common::{host_bin, peer, run_in, run_in_env, workspace};
use nanolin_core::boot_record::{read, REGION_LEN};
use nanolin_core::boot_state::{BootSlot, BootState};
use nanolin_host::board::{Board, Role, StateLocation};

const EPOCH: &str = "1790000000";
const BOARD: &str = "qemu-aarch64-virt";

/// Longest a boot may take to reach its markers (TCG on two shared cores).
const BOOT_TIMEOUT: Duration = Duration::from_secs(180);

/// What the console shows once our init runs the services.
const HELLO: &str = "hello from a Nanolin package";
/// The health check's verdict on slot A.
const COMMIT_A: &str = "commit: slot A committed: 2 required services up";
/// Stage1's last line before it executes /sbin/init, for slot A.
const SWITCH_A: &str = "stage1: root /dev/vda2 (squashfs) mounted, switching to /sbin/init";

/// This test binary's folder, kept across runs: the release key, the release, the disk copies.
/// (The package store is the one every release-building test shares.)
fn shared() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("release_boot");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The release's files the boots need.
struct Release {
    kernel: PathBuf,
    initrd: PathBuf,
    disk: PathBuf,
    root: PathBuf,
}

fn board() -> Board {
    Board::find(&workspace().join("boards"), BOARD).unwrap_or_else(|e| panic!("{e}"))
}

/// `nanolin release build distros/prime.rcp --board qemu-aarch64-virt`, once per run.
fn release() -> &'static Release {
    static BUILT: OnceLock<Release> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = shared();
        if !dir.join("k.sec").exists() {
            common::nanolin(
                &dir,
                &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"],
            )
            .ok();
        }
        let out = dir.join("out");
        if out.exists() {
            fs::remove_dir_all(&out).unwrap();
        }
        let distro = workspace().join("distros/prime.rcp");
        let store = common::package_store();
        let start = Instant::now();
        let run = run_in_env(
            &dir,
            &host_bin("nanolin"),
            &[
                "release",
                "build",
                distro.to_str().unwrap(),
                "--board",
                BOARD,
                "-s",
                "k.sec",
                "-o",
                "out",
                "--packages",
                store.to_str().unwrap(),
            ],
            &[("SOURCE_DATE_EPOCH", EPOCH)],
        )
        .feed("");
        eprintln!("{}", run.stderr);
        let run = run.ok();
        eprintln!("release built in {:.1} s", start.elapsed().as_secs_f64());
        assert!(run.stderr.contains("initramfs"), "{}", run.stderr);
        let files: Vec<PathBuf> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        let find = |suffix: &str| {
            files
                .iter()
                .find(|f| f.to_string_lossy().ends_with(suffix))
                .unwrap_or_else(|| panic!("no *{suffix} in {files:?}"))
                .clone()
        };
        Release {
            kernel: find(".kernel"),
            initrd: find(".initrd"),
            disk: find(".disk.img"),
            root: files
                .iter()
                .find(|f| {
                    let name = f.to_string_lossy();
                    name.ends_with(".img") && !name.ends_with(".disk.img")
                })
                .unwrap_or_else(|| panic!("no root image in {files:?}"))
                .clone(),
        }
    })
}

/// A copy of the release's disk for one test to boot and write to (sparse: 2 GiB, mostly
/// holes).
fn disk_copy(dir: &Path, name: &str) -> PathBuf {
    let copy = dir.join(format!("{name}.img"));
    run_in(
        dir,
        Path::new("cp"),
        &[
            "--sparse=always",
            release().disk.to_str().unwrap(),
            copy.to_str().unwrap(),
        ],
        "",
    )
    .ok();
    copy
}

/// Writes `bytes` into `disk` at `offset`.
fn write_at(disk: &Path, offset: u64, bytes: &[u8]) {
    let mut file = fs::OpenOptions::new().write(true).open(disk).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    file.write_all(bytes).unwrap();
    file.sync_all().unwrap();
}

/// The boot state in the native record on `disk`, where the board file puts it.
fn boot_state(disk: &Path) -> BootState {
    let board = board();
    let StateLocation::Partition { role, offset } = board.boot_state.location else {
        panic!(
            "{BOARD} keeps its record in a partition: {:?}",
            board.boot_state.location
        )
    };
    let start = board.layout.partition(role).unwrap().start_bytes() + offset;
    let mut region = vec![0u8; REGION_LEN];
    let mut file = fs::File::open(disk).unwrap();
    file.seek(SeekFrom::Start(start)).unwrap();
    file.read_exact(&mut region).unwrap();
    let (record, _) = read(&region).unwrap_or_else(|e| panic!("{}: {e}", disk.display()));
    record.state
}

/// The console lines stage1 printed.
fn stage1_lines(boot: &Boot) -> Vec<&str> {
    boot.console
        .lines()
        .filter(|l| l.starts_with("stage1: "))
        .collect()
}

/// Boots `disk` until `done(console)` holds, QEMU exits, or [`BOOT_TIMEOUT`] passes; notes
/// when each of `markers` first showed. A guest reboot ends QEMU (`-no-reboot`); the board's
/// watchdog is there, as `release run` adds it.
fn boot(disk: &Path, name: &str, markers: &[&str], done: impl Fn(&str) -> bool) -> Boot {
    let release = release();
    VirtBoot {
        kernel: &release.kernel,
        initrd: &release.initrd,
        disk,
        log: disk.parent().unwrap().join(format!("{name}.console.log")),
        cmdline: "console=ttyAMA0 nanolin.watchdog=/dev/watchdog0 panic=-1".into(),
        reboot: false,
        watchdog: true,
        timeout: BOOT_TIMEOUT,
    }
    .run(name, markers, done)
}

/// The lines the agent printed name its repository: it got past finding the booted slot (or
/// it says it cannot find it).
fn agent_spoke(console: &str) -> bool {
    console
        .lines()
        .any(|l| l.starts_with("agent: ") && (l.contains("10.0.2.2") || l.contains("which slot")))
}

/// The first boot of a fresh disk, shared by the tests that look at it.
struct FirstBoot {
    disk: PathBuf,
    boot: Boot,
}

fn first_boot() -> &'static FirstBoot {
    static FIRST: OnceLock<FirstBoot> = OnceLock::new();
    FIRST.get_or_init(|| {
        // A folder of its own, emptied first: a static is never dropped, so no TempDir.
        let dir = shared().join("first");
        if dir.exists() {
            fs::remove_dir_all(&dir).unwrap();
        }
        fs::create_dir_all(&dir).unwrap();
        let disk = disk_copy(&dir, "first");
        let started = Instant::now();
        let boot = boot(
            &disk,
            "first",
            &["Run /init as init process", SWITCH_A, HELLO, COMMIT_A],
            |c| {
                c.contains(HELLO)
                    && c.contains(COMMIT_A)
                    && (agent_spoke(c) || started.elapsed() > Duration::from_secs(90))
            },
        );
        FirstBoot { disk, boot }
    })
}

#[test]
fn stage1_picks_slot_a_counts_its_try_and_starts_our_init() {
    let first = first_boot();
    let one = &first.boot;
    one.shows("stage1: slot A (tries left: A 2, B 3)");
    one.shows(SWITCH_A);
    one.shows("stage1: data /dev/vda4 (ext4) on /data");
    one.shows(HELLO);
    assert!(!one.exited, "the board rebooted:\n{}", one.console);
    let lines = stage1_lines(one);
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("unable") || l.contains("fresh")),
        "{lines:#?}"
    );
    one.shows(COMMIT_A);
    match (
        one.at("Run /init as init process"),
        one.at(SWITCH_A),
        one.at(HELLO),
        one.at(COMMIT_A),
    ) {
        (Some(kernel), Some(switch), Some(hello), Some(commit)) => eprintln!(
            "boot time from QEMU's start: {:.1} s to stage1 (/init), {:.1} s to /sbin/init, \
             {:.1} s to init's first line (hello), {:.1} s to the commit",
            kernel.as_secs_f64(),
            switch.as_secs_f64(),
            hello.as_secs_f64(),
            commit.as_secs_f64()
        ),
        times => panic!("markers missing: {times:?}"),
    }

    // The record on the disk: slot A first, its try given back by the health check.
    let state = boot_state(&first.disk);
    assert_eq!(state.order().next(), Some(BootSlot::A));
    assert_eq!((state.left(BootSlot::A), state.left(BootSlot::B)), (3, 3));

    // The same disk again: a try taken, and given back.
    let again = boot(&first.disk, "second", &[SWITCH_A, HELLO, COMMIT_A], |c| {
        c.contains(COMMIT_A)
    });
    again.shows("stage1: slot A (tries left: A 2, B 3)");
    again.shows(HELLO);
    let state = boot_state(&first.disk);
    assert_eq!((state.left(BootSlot::A), state.left(BootSlot::B)), (3, 3));
}

#[test]
fn the_agent_knows_the_slot_stage1_booted() {
    let boot = &first_boot().boot;
    let agent: Vec<&str> = boot
        .console
        .lines()
        .filter(|l| l.starts_with("agent: "))
        .collect();
    assert!(
        !agent.is_empty(),
        "the agent said nothing:\n{}",
        boot.console
    );
    // Stage1 writes /run/nanolin/slot; the agent reads it (no nanolin.slot= on a native
    // board's command line). If init mounts a fresh tmpfs over the /run stage1 moved into the
    // new root, the file is hidden and the agent says it cannot tell.
    assert!(
        !boot.console.contains("cannot tell which slot is booted"),
        "the agent did not find /run/nanolin/slot (does init mount over /run?):\n{agent:#?}"
    );
    // It went on to poll its repository (which is not there).
    assert!(
        agent.iter().any(|l| l.contains("10.0.2.2")),
        "the agent did not poll:\n{agent:#?}"
    );
}

#[test]
fn a_slot_that_does_not_mount_reboots_until_the_other_slot_boots() {
    let dir = tempfile::tempdir_in(shared()).unwrap();
    let disk = disk_copy(dir.path(), "bad-a");
    let b = board();
    // Slot B gets the release's root; slot A's first MiB is zeroed: no squashfs there.
    let root = fs::read(&release().root).unwrap();
    write_at(
        &disk,
        b.layout.partition(Role::RootB).unwrap().start_bytes(),
        &root,
    );
    write_at(
        &disk,
        b.layout.partition(Role::RootA).unwrap().start_bytes(),
        &vec![0u8; 1 << 20],
    );

    // Each boot of A takes a try, fails to mount, says why and reboots: under -no-reboot the
    // guest's reboot ends QEMU.
    let failure = "stage1: unable to mount /dev/vda2 (slot A) as squashfs";
    for left in [2, 1, 0] {
        let boot = boot(&disk, &format!("bad-a-{left}"), &[failure], |_| false);
        assert!(boot.exited, "no reboot:\n{}", boot.console);
        boot.shows(&format!("stage1: slot A (tries left: A {left}, B 3)"));
        boot.shows(failure);
        boot.shows("stage1: rebooting in 5 s");
        assert!(!boot.console.contains(HELLO), "{}", boot.console);
        let state = boot_state(&disk);
        assert_eq!(
            (state.left(BootSlot::A), state.left(BootSlot::B)),
            (left, 3)
        );
        if let (Some(failed), true) = (boot.at(failure), left == 2) {
            eprintln!(
                "{:.1} s from QEMU's start to stage1's failure",
                failed.as_secs_f64()
            );
        }
    }
    // A has no tries left: B boots.
    let boot = boot(&disk, "fallback-b", &[HELLO], |c| c.contains(HELLO));
    boot.shows("stage1: slot B (tries left: A 0, B 2)");
    boot.shows("stage1: root /dev/vda3 (squashfs) mounted, switching to /sbin/init");
    boot.shows(HELLO);
}

/// A boot that hangs after stage1 is reset by the hardware watchdog stage1 started, and the
/// try it took stays taken: slot A's `/sbin/init` is replaced by a script that never returns.
#[test]
fn a_hung_boot_is_reset_by_the_watchdog() {
    let dir = tempfile::tempdir_in(shared()).unwrap();
    let disk = disk_copy(dir.path(), "hung");
    // The release's root, its init swapped for one that hangs.
    let tree = dir.path().join("root");
    let unsquashfs = peer("unsquashfs", "squashfs-tools");
    run_in(
        dir.path(),
        &unsquashfs,
        &[
            "-q",
            "-d",
            tree.to_str().unwrap(),
            release().root.to_str().unwrap(),
        ],
        "",
    )
    .ok();
    let init = tree.join("sbin/init");
    let _ = fs::remove_file(&init);
    fs::write(
        &init,
        "#!/bin/sh\necho init hangs here\nwhile :; do sleep 1000; done\n",
    )
    .unwrap();
    fs::set_permissions(&init, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let hung = dir.path().join("hung.squashfs");
    run_in(
        dir.path(),
        &peer("mksquashfs", "squashfs-tools"),
        &[
            tree.to_str().unwrap(),
            hung.to_str().unwrap(),
            "-noappend",
            "-all-root",
            "-quiet",
        ],
        "",
    )
    .ok();
    let b = board();
    write_at(
        &disk,
        b.layout.partition(Role::RootA).unwrap().start_bytes(),
        &fs::read(&hung).unwrap(),
    );
    let hang = "init hangs here";
    let start = Instant::now();
    let boot = boot(&disk, "hung", &[hang], |_| false);
    let total = start.elapsed();
    boot.shows("stage1: watchdog /dev/watchdog0 started");
    boot.shows(hang);
    assert!(
        boot.exited,
        "the watchdog did not reset the board:\n{}",
        boot.console
    );
    assert!(!boot.console.contains(HELLO), "{}", boot.console);
    if let Some(at) = boot.at(hang) {
        eprintln!(
            "the hang began {:.1} s after QEMU's start; the watchdog reset the board {:.1} s later",
            at.as_secs_f64(),
            total.saturating_sub(at).as_secs_f64()
        );
    }
    // The try stage1 took is not given back: A 2, B 3.
    let state = boot_state(&disk);
    assert_eq!((state.left(BootSlot::A), state.left(BootSlot::B)), (2, 3));
}
