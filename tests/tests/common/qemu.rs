//! Boots under QEMU, watched through the serial console written to a file.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::peer;

/// One QEMU at a time in a test binary: boot times stay comparable.
static QEMU: Mutex<()> = Mutex::new(());

/// The console as text so far (carriage returns dropped).
pub fn console(log: &Path) -> String {
    String::from_utf8_lossy(&fs::read(log).unwrap_or_default()).replace('\r', "")
}

/// Stops QEMU through `timeout`, which passes SIGTERM on (QEMU then flushes and exits).
pub fn stop(mut qemu: Child) {
    if qemu.try_wait().unwrap().is_none() {
        let _ = Command::new("kill")
            .args(["-TERM", &qemu.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while qemu.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = qemu.kill();
    }
    let _ = qemu.wait();
}

/// Runs `command` (a QEMU boot writing its console to `log`) until `markers` are all on the
/// console, QEMU ends, or `timeout` passes; asserts every marker showed; returns the console
/// and the seconds it took.
pub fn boot_until(
    mut command: Command,
    name: &str,
    log: &Path,
    markers: &[&str],
    timeout: Duration,
) -> (String, f64) {
    let mut qemu = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let console = loop {
        let console = console(log);
        let done = markers.iter().all(|m| console.contains(m));
        if done || start.elapsed() > timeout || qemu.try_wait().unwrap().is_some() {
            break console;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let seconds = start.elapsed().as_secs_f64();
    let _ = qemu.kill();
    let _ = qemu.wait();
    eprintln!("{name}: {seconds:.1} s to the markers");
    for marker in markers {
        assert!(
            console.contains(marker),
            "{name}: no {marker:?} on the console:\n{console}"
        );
    }
    (console, seconds)
}

/// A boot of the default board (`qemu-aarch64-virt`): QEMU loads the release's kernel and
/// initramfs itself, as `nanolin release run` does.
pub struct VirtBoot<'a> {
    /// The release's `.kernel`.
    pub kernel: &'a Path,
    /// The release's `.initrd`.
    pub initrd: &'a Path,
    /// The disk image the board boots and writes to.
    pub disk: &'a Path,
    /// Where the console goes.
    pub log: PathBuf,
    /// The kernel command line.
    pub cmdline: String,
    /// A guest reboot resets the machine (else it ends QEMU: `-no-reboot`).
    pub reboot: bool,
    /// The board's watchdog (`i6300esb`) is added.
    pub watchdog: bool,
    /// Longest the boot may take.
    pub timeout: Duration,
}

/// A finished boot: the console, and when each marker first showed, from QEMU's start.
pub struct Boot {
    /// The whole console.
    pub console: String,
    /// Each marker seen and when.
    pub seen: Vec<(String, Duration)>,
    /// QEMU ended by itself (under `-no-reboot`, the guest rebooted).
    pub exited: bool,
}

impl Boot {
    /// When `marker` first showed.
    pub fn at(&self, marker: &str) -> Option<Duration> {
        self.seen.iter().find(|(m, _)| m == marker).map(|(_, t)| *t)
    }

    /// Asserts the console shows `text`.
    #[track_caller]
    pub fn shows(&self, text: &str) {
        assert!(
            self.console.contains(text),
            "no {text:?} on the console:\n{}",
            self.console
        );
    }

    /// How often the console shows `text`.
    pub fn count(&self, text: &str) -> usize {
        self.console.matches(text).count()
    }
}

impl VirtBoot<'_> {
    /// Boots until `done(console)` holds, QEMU exits, or the timeout passes; notes when each
    /// of `markers` first showed.
    pub fn run(&self, name: &str, markers: &[&str], done: impl Fn(&str) -> bool) -> Boot {
        let _one = QEMU.lock().unwrap_or_else(|e| e.into_inner());
        let _ = fs::remove_file(&self.log);
        let start = Instant::now();
        let mut command = Command::new("timeout");
        command
            .arg((self.timeout.as_secs() + 60).to_string())
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
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .arg("-chardev")
            .arg(format!("file,id=console,path={}", self.log.display()))
            .args(["-serial", "chardev:console"])
            .arg("-kernel")
            .arg(self.kernel)
            .arg("-initrd")
            .arg(self.initrd)
            .arg("-append")
            .arg(&self.cmdline)
            .arg("-drive")
            .arg(format!(
                "if=none,format=raw,file={},id=d0",
                self.disk.display()
            ))
            .args(["-device", "virtio-blk-pci,drive=d0"])
            .args([
                "-netdev",
                "user,id=n0",
                "-device",
                "virtio-net-pci,netdev=n0",
            ]);
        if !self.reboot {
            command.arg("-no-reboot");
        }
        if self.watchdog {
            command.args(["-device", "i6300esb"]);
        }
        let mut qemu = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut seen: Vec<(String, Duration)> = Vec::new();
        let (console, exited) = loop {
            let exited = qemu.try_wait().unwrap().is_some();
            let console = console(&self.log);
            for marker in markers {
                if console.contains(marker) && !seen.iter().any(|(m, _)| m == marker) {
                    seen.push((marker.to_string(), start.elapsed()));
                }
            }
            if exited || done(&console) || start.elapsed() > self.timeout {
                break (console, exited);
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        stop(qemu);
        eprintln!(
            "{name}: {:.1} s{}",
            start.elapsed().as_secs_f64(),
            if exited { ", QEMU exited (reboot)" } else { "" }
        );
        Boot {
            console,
            seen,
            exited,
        }
    }
}
