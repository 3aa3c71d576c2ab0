//! End to end, the way a team runs it: `nanolin release build --publish` into a repository
//! served by nginx on 127.0.0.1, the default board's disk image booted by `nanolin release
//! run`, and the board's own agent finding each new release on its channel (QEMU's user
//! network shows the host as 10.0.2.2).
//!
//! 1. Release 1 boots from slot A, its data file system grown to the partition; the health
//!    check commits it; the agent's status says A good.
//! 2. Release 2 is published: the board installs it into B, reboots into it, commits it.
//!    Release 2 also switches the agent to `activate=kexec`: from then on the daemon starts
//!    each update's own kernel with kexec instead of rebooting through the firmware.
//! 3. Release 3's `health=required` service fails: the board installs it and kexecs into it,
//!    the health check marks it bad, the board falls back to B by itself (a firmware reboot)
//!    and never tries release 3 again.
//! 4. The power is cut (QEMU killed) while release 4 is written: the board boots B again and
//!    the next poll finishes release 4 from where it stopped, kexecs into it and commits it.
//! 5. The daemon's kexec is steps 3 and 4; `activate --kexec` by hand, and a slot that fails
//!    after the kexec, are `kexec_boot.rs`.
//! 6. A bundle signed with another key, and a replayed older channel file, are refused.
//!
//! Every boot's console is kept in `target/tmp/end_to_end/` (`boot-N.log`); a step that does
//! not happen fails with the console's last lines. Boot and update times are printed.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::nginx::Nginx;
use common::{host_bin, nanolin, run_in_env, workspace};
use nanolin_core::version::ReleaseVersion;

const BOARD: &str = "qemu-aarch64-virt";

/// Longest a step on the board may take (TCG on two shared cores; polls every 10 s).
const STEP_TIMEOUT: Duration = Duration::from_secs(240);

/// The kernel's last line before it jumps into the kernel the agent loaded.
const KEXEC: &str = "kexec_core: Starting new kernel";

/// Bytes of incompressible data release 4 carries, so that its install takes long enough to
/// be cut.
const BALLAST_LEN: usize = 24 << 20;

/// The test's folder, kept after the run: the repository, the releases, the consoles.
fn output_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("end_to_end");
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The build host: key, repository, the distro being changed release after release.
struct Host {
    dir: PathBuf,
    nginx: Nginx,
    /// The first release's time; release N is N minutes later.
    epoch: u64,
}

impl Host {
    fn new() -> Host {
        let dir = output_dir();
        nanolin(
            &dir,
            &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"],
        )
        .ok();
        nanolin(
            &dir,
            &[
                "key",
                "generate",
                "-n",
                "-p",
                "other.pub",
                "-s",
                "other.sec",
            ],
        )
        .ok();
        nanolin(&dir, &["repo", "init", "repo", "-s", "k.sec"]).ok();
        let nginx = Nginx::start(&dir.join("repo"));
        // prime as it is, polling this test's nginx.
        common::prime_copy(
            &dir.join("distros"),
            Some(&format!("http://10.0.2.2:{}", nginx.port())),
        );
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Host {
            dir,
            nginx,
            epoch: now - 3600,
        }
    }

    fn services(&self) -> PathBuf {
        self.dir.join("distros/prime/etc/nanolin/services")
    }

    fn version(&self, n: u64) -> String {
        ReleaseVersion::from_unix(self.epoch + 60 * n)
            .unwrap()
            .to_string()
    }

    /// `nanolin release build --publish` of the distro as it is now, as release `n`.
    fn release(&self, n: u64) -> Release {
        let start = Instant::now();
        let store = common::package_store();
        let epoch = (self.epoch + 60 * n).to_string();
        let run = run_in_env(
            &self.dir,
            &host_bin("nanolin"),
            &[
                "release",
                "build",
                "distros/prime.rcp",
                "--board",
                BOARD,
                "--boards",
                workspace().join("boards").to_str().unwrap(),
                "-s",
                "k.sec",
                "-o",
                "releases",
                "--packages",
                store.to_str().unwrap(),
                "--publish",
                "repo",
                "--expires",
                "30d",
            ],
            &[("SOURCE_DATE_EPOCH", &epoch)],
        )
        .feed("");
        if run.code != 0 {
            panic!("release {n} failed:\n{}", run.stderr);
        }
        let version = self.version(n);
        eprintln!(
            "release {n} ({version}) built and published in {:.1} s",
            start.elapsed().as_secs_f64()
        );
        let base = self
            .dir
            .join(format!("releases/prime-{BOARD}-{version}.disk.img"));
        assert!(base.is_file(), "{} is missing", base.display());
        Release {
            version,
            disk: base,
        }
    }

    fn channel(&self) -> PathBuf {
        self.dir.join(format!("repo/channels/{BOARD}/stable"))
    }
}

struct Release {
    version: String,
    disk: PathBuf,
}

/// The board: one QEMU run of `nanolin release run`, its console read as it grows. A reboot
/// stays in the same run; a power cut ends it.
struct Board {
    qemu: Child,
    log: PathBuf,
    /// Where in the console the next expected line is looked for.
    seen: usize,
    started: Instant,
}

impl Board {
    fn power_on(host: &Host, disk: &Path, run: usize) -> Board {
        let log = host.dir.join(format!("run-{run}.console.log"));
        let qemu = Command::new(host_bin("nanolin"))
            .args(["release", "run", "--boards"])
            .arg(workspace().join("boards"))
            .arg("--log")
            .arg(&log)
            .arg(disk)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Board {
            qemu,
            log,
            seen: 0,
            started: Instant::now(),
        }
    }

    fn console(&self) -> String {
        String::from_utf8_lossy(&fs::read(&self.log).unwrap_or_default()).replace('\r', "")
    }

    /// Waits for `text` on the console after what was seen so far; returns the line and when
    /// it showed, from power-on.
    #[track_caller]
    fn expect(&mut self, text: &str) -> (String, Duration) {
        self.expect_all(&[text]).remove(0)
    }

    /// Waits for every one of `texts` after what was seen so far, in any order (services run
    /// side by side); returns their lines and when the last showed.
    #[track_caller]
    fn expect_all(&mut self, texts: &[&str]) -> Vec<(String, Duration)> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let console = self.console();
            let rest = console.get(self.seen..).unwrap_or("");
            let found: Vec<Option<(usize, usize)>> = texts
                .iter()
                .map(|text| {
                    let at = self.seen + rest.find(text)?;
                    let start = console[..at].rfind('\n').map_or(0, |i| i + 1);
                    let end = console[at..].find('\n').map_or(console.len(), |i| at + i);
                    Some((start, end))
                })
                .collect();
            if found.iter().all(Option::is_some) {
                let elapsed = self.started.elapsed();
                let lines: Vec<(usize, usize)> = found.into_iter().flatten().collect();
                self.seen = lines.iter().map(|&(_, end)| end).max().unwrap_or(self.seen);
                return lines
                    .into_iter()
                    .map(|(start, end)| (console[start..end].to_string(), elapsed))
                    .collect();
            }
            let ended = self.qemu.try_wait().unwrap().is_some();
            if ended || Instant::now() > deadline {
                let missing: Vec<&&str> = texts
                    .iter()
                    .zip(&found)
                    .filter(|(_, f)| f.is_none())
                    .map(|(t, _)| t)
                    .collect();
                let tail: Vec<&str> = console.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                panic!(
                    "the board did not show {missing:?} ({}); the console ({}) ends:\n{}",
                    if ended { "QEMU ended" } else { "timed out" },
                    self.log.display(),
                    tail.join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Cuts the power: QEMU is killed at once, nothing flushed.
    fn cut_power(mut self) {
        self.qemu.kill().unwrap();
        self.qemu.wait().unwrap();
        split_boots(&self.log);
    }
}

impl Drop for Board {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

/// Writes each boot of a run's console to its own `boot-N.log` beside it, numbered on from the
/// ones there.
fn split_boots(log: &Path) {
    let dir = log.parent().unwrap();
    let mut n = fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.starts_with("boot-") && name.ends_with(".log")
        })
        .count();
    let console = String::from_utf8_lossy(&fs::read(log).unwrap_or_default()).replace('\r', "");
    let banner = "Booting Linux on physical CPU";
    let mut starts: Vec<usize> = console.match_indices(banner).map(|(i, _)| i).collect();
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    for (i, &start) in starts.iter().enumerate() {
        let end = starts.get(i + 1).copied().unwrap_or(console.len());
        let part = &console[start..end];
        if part.trim().is_empty() {
            continue;
        }
        n += 1;
        fs::write(dir.join(format!("boot-{n}.log")), part).unwrap();
    }
}

/// The channel file and its signature as they are now.
fn save_channel(host: &Host) -> (Vec<u8>, Vec<u8>) {
    let channel = host.channel();
    (
        fs::read(&channel).unwrap(),
        fs::read(channel.with_file_name("stable.sig")).unwrap(),
    )
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

#[test]
fn releases_update_over_the_air_fall_back_and_resume() {
    let host = Host::new();

    // 1. Release 1, flashed: boots from A, committed by its health check.
    let r1 = host.release(1);
    let disk = host.dir.join("board.disk.img");
    fs::copy(&r1.disk, &disk).unwrap();
    for suffix in ["kernel", "initrd", "release"] {
        fs::copy(
            r1.disk.with_extension("").with_extension(suffix),
            disk.with_extension("").with_extension(suffix),
        )
        .unwrap();
    }
    let mut board = Board::power_on(&host, &disk, 1);
    board.expect("stage1: slot A (tries left: A 2, B 3)");
    // The flashed data file system is small; the first boot grows it to its partition.
    let (grown, _) = board.expect("stage1: data grown from ");
    eprintln!("{grown}");
    board.expect("hello from a Nanolin package");
    let (_, up) = board.expect("commit: slot A committed: 2 required services up");
    board.expect(&format!(
        "report: slot A:     {} good, 3 tries left, booted",
        r1.version
    ));
    eprintln!(
        "power-on to committed (all services up): {:.1} s",
        seconds(up)
    );
    board.expect(&format!("up to date: slot A runs {}", r1.version));

    // 2. Release 2 (a new service): installed into B, booted, committed.
    fs::write(
        host.services().join("news"),
        "run=\"/bin/sh -c 'echo release 2 arrived over the air'\"\nkind=oneshot\n",
    )
    .unwrap();
    // From release 2 on, the agent activates an update with kexec (steps 3 and 4).
    let rcp = host.dir.join("distros/prime.rcp");
    let mut text = fs::read_to_string(&rcp).unwrap();
    text.push_str("activate=kexec\n");
    fs::write(&rcp, text).unwrap();
    let r2 = host.release(2);
    let replay = save_channel(&host);
    let (_, polled) = board.expect(&format!("agent: nanolin-agent: installing {}", r2.version));
    board.expect(&format!("installed {} into slot B", r2.version));
    board.expect("stage1: slot B (tries left: A 3, B 2)");
    let seen = board.expect_all(&[
        "news: release 2 arrived over the air",
        "commit: slot B committed: 2 required services up",
    ]);
    let committed = seen[1].1;
    board.expect(&format!(
        "report: slot B:     {} good, 3 tries left, booted",
        r2.version
    ));
    eprintln!(
        "poll to committed update (install, reboot, health check): {:.1} s",
        seconds(committed - polled)
    );

    // 3. Release 3: its required service fails. Installed into A, booted once, marked bad;
    // the board falls back to B and does not take release 3 again.
    fs::write(
        host.services().join("app"),
        "run=\"/bin/sh -c 'echo app: cannot start; exit 1'\"\nkind=oneshot\nhealth=required\n",
    )
    .unwrap();
    let r3 = host.release(3);
    board.expect(&format!("installed {} into slot A", r3.version));
    let (_, kexec) = board.expect(KEXEC);
    let (_, in_a) = board.expect("stage1: slot A (tries left: A 2, B 3)");
    eprintln!(
        "daemon's kexec to stage1 in slot A: {:.1} s",
        seconds(in_a - kexec)
    );
    board.expect(&format!(
        "release {} in slot A failed its health check (app failed: exit status 1): marked bad, \
         never tried again; the board falls back to slot B",
        r3.version
    ));
    board.expect("stage1: slot B (tries left: A 0, B 2)");
    board.expect("commit: slot B committed");
    board.expect(&format!("report: failed:     {}", r3.version));
    board.expect(&format!(
        "release {} failed on this board before: not trying it again",
        r3.version
    ));

    // 4. Release 4 (the failing service gone, 24 MiB more): the power is cut while it is
    // written to A. B boots again and the next poll finishes it.
    fs::remove_file(host.services().join("app")).unwrap();
    let ballast = host.dir.join("distros/prime/var/lib/ballast");
    fs::create_dir_all(ballast.parent().unwrap()).unwrap();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let bytes: Vec<u8> = (0..BALLAST_LEN)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    fs::write(&ballast, bytes).unwrap();
    let r4 = host.release(4);
    board.expect(&format!("agent: nanolin-agent: installing {}", r4.version));
    // Cut once some of it is written (progress comes in tenths of the image).
    board.expect("agent: nanolin-agent: rootfs: 20%");
    board.cut_power();
    eprintln!("power cut while release 4 was written");

    let mut board = Board::power_on(&host, &disk, 2);
    board.expect("stage1: slot B (tries left: A 0, B 2)");
    board.expect("commit: slot B committed");
    let (resumed, _) = board.expect(&format!("installed {} into slot A", r4.version));
    let in_place: u64 = resumed
        .split(" reused (")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no reuse figure in {resumed:?}"));
    assert!(
        in_place > 0,
        "nothing was kept from the cut install: {resumed}"
    );
    eprintln!("resumed: {resumed}");
    board.expect(KEXEC);
    board.expect("stage1: slot A (tries left: A 2, B 3)");
    board.expect(&format!("release {} confirmed", r4.version));

    // 6. A channel naming a bundle signed with another key, then a replayed older channel:
    // both refused, and the board stays on release 4.
    let root_image = fs::read_dir(host.dir.join("releases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name().unwrap().to_string_lossy() == format!("prime-{BOARD}-{}.img", r4.version)
        })
        .unwrap_or_else(|| panic!("no root image of release 4"));
    let forged_version = host.version(5);
    let forged = format!("releases/{BOARD}/forged.nlb");
    nanolin(
        &host.dir,
        &[
            "bundle",
            "create",
            "-b",
            BOARD,
            "--version",
            &forged_version,
            "-i",
            root_image.to_str().unwrap(),
            "-s",
            "other.sec",
            "-o",
            &format!("repo/{forged}"),
        ],
    )
    .ok();
    let size = fs::metadata(host.dir.join("repo").join(&forged))
        .unwrap()
        .len();
    let expires = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 86_400;
    fs::write(
        host.channel(),
        format!(
            "board={BOARD}\nchannel=stable\nversion={forged_version}\nbundle={forged}\n\
             size={size}\nexpires={expires}\n"
        ),
    )
    .unwrap();
    nanolin(
        &host.dir,
        &["sign", "-s", "k.sec", host.channel().to_str().unwrap()],
    )
    .ok();
    board.expect("not among the trusted keys");
    fs::write(host.channel(), &replay.0).unwrap();
    fs::write(host.channel().with_file_name("stable.sig"), &replay.1).unwrap();
    board.expect(&format!(
        "refusing channel file for {}: one for {forged_version} was seen before",
        r2.version
    ));
    let requests = host.nginx.requests();
    assert!(
        requests.iter().any(|r| r.uri.contains("forged.nlb")),
        "the forged bundle was never asked for"
    );
    board.cut_power();
}
