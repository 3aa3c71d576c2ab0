//! `nanolin-agent activate --kexec` on the default board under QEMU: the new slot's own kernel
//! starts without passing through the firmware, and a slot that then fails falls back.
//!
//! Two releases of a test distro (prime plus a oneshot service `kexec-test` that drives the
//! board from inside) are built. The first one's disk boots slot A; the service installs the
//! second one's bundle from nginx on 127.0.0.1 (the board's 10.0.2.2; the URL comes on the
//! kernel command line, which kexec passes on) and runs `nanolin-agent activate --kexec`:
//! - **good:** under `-no-reboot` (a firmware reset would end QEMU), the console shows the
//!   kernel's `kexec_core: Starting new kernel`, a second kernel banner, stage1 taking one of
//!   slot B's tries and our init running release 2;
//! - **bad:** the service zeroes slot B's superblock after the kernel is loaded (a slot that
//!   loads but does not mount). Without `-no-reboot`, the board reboots itself: stage1 fails
//!   to mount B on the kexec'd boot and on each firmware boot until B's tries are gone, then
//!   boots slot A by itself.
//!
//! Needs what release_boot.rs needs: the network once, qemu-system-aarch64, and nginx.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::nginx::Nginx;
use common::qemu::{Boot, VirtBoot};
use common::{host_bin, run_in, run_in_env, workspace};

const BOARD: &str = "qemu-aarch64-virt";
/// The two releases: the one flashed, and the update.
const EPOCHS: [&str; 2] = ["1790000000", "1790086400"];
/// Longest one QEMU run may take (TCG on two shared cores).
const RUN_TIMEOUT: Duration = Duration::from_secs(240);

/// The test service's last line before `activate --kexec`.
const ACTIVATING: &str = "kexec-test: activating";
const STARTING: &str = "kexec_core: Starting new kernel";
const BANNER: &str = "Booting Linux on physical CPU";
const SWITCH_B: &str = "stage1: root /dev/vda3 (squashfs) mounted, switching to /sbin/init";
const HELLO: &str = "hello from a Nanolin package";

/// The service that drives the board: installs the bundle named on the command line, then
/// activates it with kexec; with `kexec_test.bad=1` it zeroes slot B's superblock once the
/// kernel is loaded (ignoring init's SIGTERM for the few milliseconds that takes).
const SCRIPT: &str = r#"#!/bin/sh
# Drives tests/tests/kexec_boot.rs from inside the board.
. /etc/nanolin/release
echo "kexec-test: slot $(cat /run/nanolin/slot) runs $version"
arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^kexec_test.$1=//p"; }
url=$(arg url)
[ -n "$url" ] || exit 0
if [ -e /data/kexec-test.done ]; then echo "kexec-test: installed before"; exit 0; fi
touch /data/kexec-test.done && sync
nanolin-agent install "$url" || { echo "kexec-test: install failed"; exit 1; }
# init's SIGTERM must not cut the lines below short (it waits 5 s before SIGKILL).
trap '' TERM
echo "kexec-test: activating at $(cut -d' ' -f1 /proc/uptime) s"
nanolin-agent activate --kexec || { echo "kexec-test: activate failed"; exit 1; }
echo "kexec-test: loaded, init stopping at $(cut -d' ' -f1 /proc/uptime) s"
if [ "$(arg bad)" = 1 ]; then
    dd if=/dev/zero of=/dev/vda3 bs=65536 count=1 conv=fsync 2>/dev/null
    echo "kexec-test: slot B's superblock zeroed after the load"
fi
"#;

fn shared() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kexec_boot");
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The test distro: prime's packages and overlay, plus the `kexec-test` service.
fn distro(dir: &Path) -> PathBuf {
    let file = common::prime_copy(dir, None);
    let overlay = dir.join("prime");
    let script = overlay.join("usr/lib/kexec-test");
    fs::create_dir_all(script.parent().unwrap()).unwrap();
    fs::write(&script, SCRIPT).unwrap();
    fs::write(
        overlay.join("etc/nanolin/services/kexec-test"),
        "# tests/tests/kexec_boot.rs: install the update, activate it with kexec\n\
         run=\"/bin/sh /usr/lib/kexec-test\"\nkind=oneshot\nneeds=network\nafter=commit\n",
    )
    .unwrap();
    file
}

struct Releases {
    kernel: PathBuf,
    initrd: PathBuf,
    disk: PathBuf,
    /// The second release's bundle, served by nginx.
    served: PathBuf,
}

fn releases() -> &'static Releases {
    static BUILT: OnceLock<Releases> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = shared();
        if !dir.join("k.sec").exists() {
            common::nanolin(
                &dir,
                &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"],
            )
            .ok();
        }
        let distro = distro(&dir);
        let store = common::package_store();
        let boards = workspace().join("boards");
        let mut outs = Vec::new();
        for (i, epoch) in EPOCHS.iter().enumerate() {
            let out = dir.join(format!("out{i}"));
            if out.exists() {
                fs::remove_dir_all(&out).unwrap();
            }
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
                    "--boards",
                    boards.to_str().unwrap(),
                    "-s",
                    "k.sec",
                    "-o",
                    out.to_str().unwrap(),
                    "--packages",
                    store.to_str().unwrap(),
                ],
                &[("SOURCE_DATE_EPOCH", epoch)],
            )
            .feed("");
            if run.code != 0 {
                panic!("release build failed:\n{}", run.stderr);
            }
            eprintln!(
                "release {i} built in {:.1} s",
                start.elapsed().as_secs_f64()
            );
            outs.push(out);
        }
        let find = |out: &Path, suffix: &str| {
            fs::read_dir(out)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.to_string_lossy().ends_with(suffix))
                .unwrap_or_else(|| panic!("no *{suffix} in {}", out.display()))
        };
        let served = dir.join("www");
        fs::create_dir_all(&served).unwrap();
        fs::copy(find(&outs[1], ".nlb"), served.join("update.nlb")).unwrap();
        Releases {
            kernel: find(&outs[0], ".kernel"),
            initrd: find(&outs[0], ".initrd"),
            disk: find(&outs[0], ".disk.img"),
            served,
        }
    })
}

/// A sparse copy of the first release's disk.
fn disk_copy(dir: &Path, name: &str) -> PathBuf {
    let copy = dir.join(format!("{name}.img"));
    run_in(
        dir,
        Path::new("cp"),
        &[
            "--sparse=always",
            releases().disk.to_str().unwrap(),
            copy.to_str().unwrap(),
        ],
        "",
    )
    .ok();
    copy
}

/// Boots `disk` with the update's URL on the command line until `done(console)` holds or
/// QEMU exits; `reboot`: whether a guest reboot resets the machine (else it ends QEMU).
fn boot(
    disk: &Path,
    name: &str,
    append: &str,
    reboot: bool,
    markers: &[&str],
    done: impl Fn(&str) -> bool,
) -> Boot {
    let releases = releases();
    VirtBoot {
        kernel: &releases.kernel,
        initrd: &releases.initrd,
        disk,
        log: disk.with_extension("console.log"),
        cmdline: format!("console=ttyAMA0 panic=-1 {append}"),
        reboot,
        watchdog: false,
        timeout: RUN_TIMEOUT,
    }
    .run(name, markers, done)
}

/// What follows `marker`'s first appearance.
fn after<'c>(console: &'c str, marker: &str) -> &'c str {
    console
        .find(marker)
        .map_or("", |at| console.get(at..).unwrap_or(""))
}

#[test]
fn activate_kexec_starts_slot_b_without_the_firmware() {
    let releases = releases();
    let nginx = Nginx::start(&releases.served);
    let url = nginx.url("update.nlb").replace("127.0.0.1", "10.0.2.2");
    let dir = tempfile::tempdir_in(shared()).unwrap();
    let disk = disk_copy(dir.path(), "good");
    let run = boot(
        &disk,
        "good",
        &format!("kexec_test.url={url}"),
        false,
        &[ACTIVATING, STARTING, SWITCH_B, HELLO],
        |c| after(c, SWITCH_B).contains("kexec-test: installed before"),
    );
    // Kept for a look: the temporary folder goes.
    fs::write(shared().join("good.console.log"), &run.console).unwrap();
    // A firmware reset would have ended QEMU (-no-reboot).
    assert!(!run.exited, "QEMU was reset:\n{}", run.console);
    run.shows("stage1: slot A (tries left: A 2, B 3)");
    run.shows("kexec-test: slot A runs r26.09-G21141320");
    run.shows(ACTIVATING);
    let kexeced = after(&run.console, ACTIVATING);
    assert!(kexeced.contains("starting slot B by kexec"), "{kexeced}");
    assert!(kexeced.contains(STARTING), "{kexeced}");
    assert!(!kexeced.contains("reboot: Restarting system"), "{kexeced}");
    assert_eq!(run.count(BANNER), 2, "two kernels:\n{}", run.console);
    assert_eq!(run.count("Run /init as init process"), 2, "{}", run.console);
    let second = after(&run.console, STARTING);
    // Stage1 took one of B's tries from the record, as on any boot; our init ran release 2.
    assert!(
        second
            .lines()
            .any(|l| l.starts_with("stage1: slot B (tries left: A ") && l.ends_with(", B 2)")),
        "{second}"
    );
    assert!(second.contains(SWITCH_B), "{second}");
    assert!(second.contains(HELLO), "{second}");
    assert!(
        second.contains("kexec-test: slot B runs r26.09-G22141320"),
        "{second}"
    );
    match (run.at(ACTIVATING), run.at(STARTING), run.at(SWITCH_B)) {
        (Some(activate), Some(starting), Some(init)) => eprintln!(
            "activate --kexec to the new kernel: {:.1} s; to stage1 handing over to init on \
             slot B: {:.1} s (host clock, console polled every 50 ms)",
            (starting - activate).as_secs_f64(),
            (init - activate).as_secs_f64()
        ),
        times => panic!("markers missing: {times:?}"),
    }
    // The board's own clocks: the old kernel's uptime at each step, the new one's at init.
    let number = |after_text: &str, before_text: &str| -> Option<f64> {
        let rest = after(&run.console, after_text).get(after_text.len()..)?;
        rest.split(before_text).next()?.trim().parse().ok()
    };
    if let (Some(asked), Some(loaded), Some(started), Some(init)) = (
        number("kexec-test: activating at ", " s"),
        number("kexec-test: loaded, init stopping at ", " s"),
        after(&run.console, "kexec-test: loaded")
            .lines()
            .find(|l| l.ends_with(STARTING))
            .and_then(|l| l.trim_start_matches('[').split(']').next())
            .and_then(|t| t.trim().parse::<f64>().ok()),
        number(&format!("{SWITCH_B} ("), " s after the kernel started"),
    ) {
        eprintln!(
            "on the board: agent loading (mount, read, kexec_load) {:.2} s, init's shutdown \
             {:.2} s, new kernel to our init {:.2} s",
            loaded - asked,
            started - loaded,
            init
        );
    }
}

#[test]
fn a_slot_that_fails_after_kexec_falls_back_to_a_by_itself() {
    let releases = releases();
    let nginx = Nginx::start(&releases.served);
    let url = nginx.url("update.nlb").replace("127.0.0.1", "10.0.2.2");
    let dir = tempfile::tempdir_in(shared()).unwrap();
    let disk = disk_copy(dir.path(), "bad");
    let failure = "stage1: unable to mount /dev/vda3 (slot B) as squashfs";
    let run = boot(
        &disk,
        "bad",
        &format!("kexec_test.url={url} kexec_test.bad=1"),
        true,
        &[ACTIVATING, STARTING, failure],
        |c| after(after(c, STARTING), "B 0)").contains("kexec-test: installed before"),
    );
    run.shows("kexec-test: slot B's superblock zeroed after the load");
    let kexeced = after(&run.console, STARTING);
    // The kexec'd boot takes B's first try and fails; two firmware boots take the others;
    // then A boots by itself and the agent notes the fallback.
    for left in [2, 1, 0] {
        assert!(
            kexeced
                .lines()
                .any(|l| l.starts_with("stage1: slot B (tries left: A ")
                    && l.ends_with(&format!(", B {left})"))),
            "no boot of B with {left} tries left:\n{kexeced}"
        );
    }
    assert_eq!(run.count(failure), 3, "{}", run.console);
    let back = after(kexeced, "B 0)");
    assert!(
        back.lines()
            .any(|l| l.starts_with("stage1: slot A (tries left: A ") && l.ends_with(", B 0)")),
        "{back}"
    );
    assert!(
        back.contains("kexec-test: slot A runs r26.09-G21141320"),
        "{back}"
    );
    assert!(back.contains(HELLO), "{back}");
    assert_eq!(run.count(STARTING), 1, "{}", run.console);
}
