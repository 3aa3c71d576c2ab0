//! The real `init` binary as PID 1 of a PID and mount namespace (`unshare --pid --fork
//! --mount-proc`), with services that fail, crash, become ready late and leave orphans, driven
//! through `init ctl` as an operator would.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{peer, run_in, workspace};

/// The init binary for this host, static musl, as boards get it.
fn init_bin() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("NANOLIN_INIT_BIN") {
                return PathBuf::from(path);
            }
            let status = Command::new(env!("CARGO"))
                .args([
                    "build",
                    "--quiet",
                    "--release",
                    "--target",
                    "x86_64-unknown-linux-musl",
                    "-p",
                    "nanolin-init",
                    "--features",
                    "binary",
                ])
                .current_dir(workspace())
                .status()
                .expect("run cargo build");
            assert!(status.success(), "building init failed");
            workspace().join("target/x86_64-unknown-linux-musl/release/init")
        })
        .clone()
}

/// A running init in its own namespaces, with its services and control socket in `dir`.
struct Pid1 {
    dir: tempfile::TempDir,
    child: Child,
}

impl Pid1 {
    /// Writes `services` (name, file) and `scripts` (name, shell script), then starts init.
    fn start(services: &[(&str, &str)], scripts: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir(d.join("services")).unwrap();
        for (name, text) in scripts {
            let path = d.join(name);
            fs::write(
                &path,
                format!("#!/bin/sh\nD={}\nexport D\n{text}", d.display()),
            )
            .unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
        for (name, text) in services {
            let text = text.replace("@D", &d.display().to_string());
            fs::write(d.join("services").join(name), text).unwrap();
        }
        let log = fs::File::create(d.join("console.log")).unwrap();
        let child = Command::new(peer("unshare", "util-linux"))
            .args([
                "--pid",
                "--fork",
                "--mount-proc",
                "env",
                "container=nanolin-test",
            ])
            .arg(init_bin())
            .arg("--services")
            .arg(d.join("services"))
            .arg("--control")
            .arg(d.join("init.sock"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("run unshare (util-linux; needs root)");
        Pid1 { dir, child }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn ctl(&self, args: &[&str]) -> common::Run {
        let sock = self.path("init.sock");
        let mut all = vec!["ctl", "--control", sock.to_str().unwrap()];
        all.extend_from_slice(args);
        run_in(self.dir.path(), &init_bin(), &all, "")
    }

    fn console(&self) -> String {
        fs::read_to_string(self.path("console.log")).unwrap_or_default()
    }

    /// Polls `init ctl status` until `line_has` holds for the named service.
    fn wait_for(&self, name: &str, state: &str, within: Duration) -> String {
        let start = Instant::now();
        loop {
            let run = self.ctl(&["status"]);
            if let Some(line) = run
                .stdout
                .lines()
                .find(|l| l.split_whitespace().next() == Some(name))
            {
                if line.contains(state) {
                    return line.to_string();
                }
            }
            assert!(
                start.elapsed() < within,
                "{name} never became {state:?}; status:\n{}\nconsole:\n{}",
                run.stdout,
                self.console()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for init (and so the namespace) to end; returns how long it took.
    fn wait_exit(&mut self, within: Duration) -> Duration {
        let start = Instant::now();
        loop {
            if self.child.try_wait().unwrap().is_some() {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < within,
                "init did not end; console:\n{}",
                self.console()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The host pid of init (the child of unshare).
    fn host_pid(&self) -> u32 {
        let children = fs::read_to_string(format!("/proc/{0}/task/{0}/children", self.child.id()))
            .unwrap_or_default();
        children
            .split_whitespace()
            .next()
            .and_then(|p| p.parse().ok())
            .expect("init's host pid")
    }
}

impl Drop for Pid1 {
    fn drop(&mut self) {
        // Killing the namespace's init kills every process in it.
        if let Ok(None) = self.child.try_wait() {
            let pid = self.host_pid();
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            let _ = self.child.wait();
        }
    }
}

/// Processes whose parent is `pid`, with their state letter.
fn children_of(pid: u32) -> Vec<(u32, char)> {
    let mut out = vec![];
    for entry in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …: comm may hold spaces, so split after its ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if fields.next().and_then(|p| p.parse::<u32>().ok()) == Some(pid) {
            out.push((child, state));
        }
    }
    out
}

/// The number a service script writes to `path`, waiting until it is there.
fn read_number(path: &Path) -> f64 {
    let start = Instant::now();
    loop {
        let text = fs::read_to_string(path).unwrap_or_default();
        if !text.trim().is_empty() {
            if let Ok(number) = text.trim().parse() {
                return number;
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{} never written",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn services_come_up_in_order_and_failures_are_contained() {
    let mut init = Pid1::start(
        &[
            ("data", "run=@D/data.sh\nkind=oneshot\n"),
            ("late", "run=@D/late.sh\nready=fd:3\n"),
            ("app", "run=@D/app.sh\nneeds=\"data late\"\n"),
            // Ready only when it says so, which it never does: it fails first, so what needs it
            // must not start. (With ready=none it would count as up the moment it started.)
            ("fails", "run=@D/fails.sh\nrestart=never\nready=fd:3\n"),
            ("needs-fails", "run=@D/app.sh\nneeds=fails\n"),
            ("crashes", "run=@D/crashes.sh\n"),
            ("orphans", "run=@D/orphans.sh\n"),
        ],
        &[
            ("data.sh", "touch $D/data.done\n"),
            ("late.sh", "sleep 0.5\ncat /proc/uptime | cut -d' ' -f1 > $D/late.ready\necho ready >&3\nexec sleep 100000\n"),
            ("app.sh", "test -e $D/data.done || exit 9\ncat /proc/uptime | cut -d' ' -f1 > $D/app.started\nexec sleep 100000\n"),
            ("fails.sh", "exit 1\n"),
            ("crashes.sh", "echo crash >> $D/crashes.count\nexit 2\n"),
            // A child that outlives its parent is reparented to init, which must reap it.
            ("orphans.sh", "(sleep 0.2 &)\n(sleep 0.3 &)\nexec sleep 100000\n"),
        ],
    );
    init.wait_for("app", "up", Duration::from_secs(10));
    // app needs late, which is ready only once it said so on fd 3.
    assert!(read_number(&init.path("app.started")) >= read_number(&init.path("late.ready")));
    init.wait_for("data", "done", Duration::from_secs(1));
    init.wait_for("fails", "failed: exit status 1", Duration::from_secs(5));
    init.wait_for(
        "needs-fails",
        "not started: needs fails",
        Duration::from_secs(5),
    );
    // Restarted at once, then after 100, 200 and 400 ms; the fifth crash gives it up.
    init.wait_for(
        "crashes",
        "failed: crashed 5 times in a row",
        Duration::from_secs(10),
    );
    let crashes = fs::read_to_string(init.path("crashes.count"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(crashes, 5);
    let console = init.console();
    assert!(
        console.contains("init: crashes ended (exit status 2); restarting in 100 ms"),
        "{console}"
    );
    assert!(
        console.contains("init: needs-fails not started: it needs fails, which cannot start"),
        "{console}"
    );
    // The orphans are gone: reaped, not zombies.
    std::thread::sleep(Duration::from_millis(500));
    let zombies: Vec<_> = children_of(init.host_pid())
        .into_iter()
        .filter(|(_, s)| *s == 'Z')
        .collect();
    assert!(zombies.is_empty(), "zombies left: {zombies:?}");

    init.ctl(&["poweroff"]).ok();
    let took = init.wait_exit(Duration::from_secs(15));
    println!("poweroff took {took:?}");
    assert!(init
        .console()
        .contains("init: stopping every service to power off"));
}

#[test]
fn operator_controls_services() {
    let mut init = Pid1::start(
        &[("base", "run=\"@D/svc.sh base\"\n"), ("top", "run=\"@D/svc.sh top\"\nneeds=base\n")],
        // The pid is written once the trap is set, so a stop seen by the test is a trapped one.
        &[("svc.sh", "trap 'echo $1 >> $D/stopped; exit 0' TERM\necho $$ > $D/$1.pid\nsleep 100000 &\nwait\n")],
    );
    init.wait_for("top", "up", Duration::from_secs(5));
    init.ctl(&["stop", "top"]).ok();
    init.wait_for("top", "stopped", Duration::from_secs(5));
    init.ctl(&["start", "top"]).ok();
    init.wait_for("top", "up", Duration::from_secs(5));
    let before = fs::read_to_string(init.path("base.pid")).unwrap();
    init.ctl(&["restart", "base"]).ok();
    let start = Instant::now();
    while fs::read_to_string(init.path("base.pid")).unwrap() == before {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "base was not restarted"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    init.ctl(&["stop", "ghost"]).code(1);
    assert!(init.ctl(&["frobnicate"]).code(2).stderr.is_empty());
    // Both up again (a restart of base takes top down and back with it), so no stop from the
    // restart lands in the file after it is emptied.
    init.wait_for("base", "up", Duration::from_secs(5));
    init.wait_for("top", "up", Duration::from_secs(5));
    std::thread::sleep(Duration::from_millis(200));
    // SIGTERM to PID 1 shuts down in reverse dependency order: top before base.
    fs::write(init.path("stopped"), "").unwrap();
    let pid = init.host_pid();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    init.wait_exit(Duration::from_secs(15));
    let stopped = fs::read_to_string(init.path("stopped")).unwrap();
    assert_eq!(
        stopped.lines().collect::<Vec<_>>(),
        ["top", "base"],
        "{}",
        init.console()
    );
}

#[test]
fn broken_files_and_cycles_are_reported_and_the_rest_boots() {
    let mut init = Pid1::start(
        &[
            ("good", "run=@D/svc.sh\n"),
            ("broken", "run=@D/svc.sh\nrestart=sometimes\n"),
            ("loop-a", "run=@D/svc.sh\nneeds=loop-b\n"),
            ("loop-b", "run=@D/svc.sh\nneeds=loop-a\n"),
            ("ghost-user", "run=@D/svc.sh\nneeds=nobody-here\n"),
            ("missing", "run=/nonexistent/program\n"),
        ],
        &[("svc.sh", "exec sleep 100000\n")],
    );
    init.wait_for("good", "up", Duration::from_secs(5));
    init.wait_for(
        "missing",
        "failed: cannot start: ENOENT",
        Duration::from_secs(5),
    );
    let console = init.console();
    for expected in [
        "/services/broken: line 2, column 1: invalid restart: expected always, on-failure or never",
        "init: dependency cycle: loop-",
        "/services/ghost-user: line 2, column 1: needs `nobody-here`, but no service of that name exists",
        "init: unable to start missing: unable to execute its program: ENOENT",
    ] {
        assert!(console.contains(expected), "console lacks {expected:?}:\n{console}");
    }
    init.ctl(&["poweroff"]).ok();
    init.wait_exit(Duration::from_secs(15));
}

#[test]
fn output_is_kept_and_sd_notify_readiness_works() {
    let mut init = Pid1::start(
        &[
            ("chatty", "run=@D/chatty.sh\n"),
            ("notifier", "run=@D/notify.sh\nready=notify\n"),
            ("after-notify", "run=@D/after.sh\nneeds=notifier\n"),
        ],
        &[
            ("chatty.sh", "echo hello from chatty\necho second line >&2\nexec sleep 100000\n"),
            // sd_notify(3) from the service's main process, half a second after it starts.
            (
                "notify.sh",
                "exec python3 -c 'import os, socket, time\ntime.sleep(0.5)\nopen(os.environ[\"D\"] + \"/notified\", \"w\").write(open(\"/proc/uptime\").read().split()[0])\nsocket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b\"READY=1\", os.environ[\"NOTIFY_SOCKET\"])\ntime.sleep(100000)'\n",
            ),
            ("after.sh", "cut -d' ' -f1 /proc/uptime > $D/after.started\nexec sleep 100000\n"),
        ],
    );
    init.wait_for("after-notify", "up", Duration::from_secs(10));
    assert!(read_number(&init.path("after.started")) >= read_number(&init.path("notified")));
    let log = init.ctl(&["log", "chatty"]).ok();
    assert_eq!(log.stdout, "hello from chatty\nsecond line\n");
    assert!(
        init.console().contains("chatty: hello from chatty\n"),
        "{}",
        init.console()
    );
    init.ctl(&["log", "nobody"]).code(1);
    init.ctl(&["poweroff"]).ok();
    init.wait_exit(Duration::from_secs(15));
}

#[test]
fn reload_picks_up_added_and_removed_services() {
    let mut init = Pid1::start(
        &[("base", "run=@D/svc.sh\n"), ("old", "run=@D/svc.sh\n")],
        &[("svc.sh", "exec sleep 100000\n")],
    );
    init.wait_for("old", "up", Duration::from_secs(5));
    let services = init.path("services");
    fs::remove_file(services.join("old")).unwrap();
    fs::write(
        services.join("new"),
        "run=@D/svc.sh\nneeds=base\n".replace("@D", &init.dir.path().display().to_string()),
    )
    .unwrap();
    // Two new services, one needing the other: order in the folder must not matter.
    let d = init.dir.path().display().to_string();
    fs::write(
        services.join("aa-new"),
        "run=@D/svc.sh\nneeds=zz-new\n".replace("@D", &d),
    )
    .unwrap();
    fs::write(services.join("zz-new"), "run=@D/svc.sh\n".replace("@D", &d)).unwrap();
    let run = init.ctl(&["reload"]).ok();
    assert_eq!(
        run.stdout,
        "reloaded: 3 added, 0 changed, 1 removed\n",
        "{}",
        init.console()
    );
    init.wait_for("aa-new", "up", Duration::from_secs(5));
    init.wait_for("new", "up", Duration::from_secs(5));
    init.wait_for("old", "removed: its file is gone", Duration::from_secs(10));
    // A package adding a service as an overlay can also signal init instead.
    fs::write(
        services.join("later"),
        "run=@D/svc.sh\n".replace("@D", &init.dir.path().display().to_string()),
    )
    .unwrap();
    Command::new("kill")
        .args(["-HUP", &init.host_pid().to_string()])
        .status()
        .unwrap();
    init.wait_for("later", "up", Duration::from_secs(5));
    assert!(init
        .console()
        .contains("init: reloaded: 1 added, 0 changed, 0 removed"));
    init.ctl(&["poweroff"]).ok();
    init.wait_exit(Duration::from_secs(15));
}

#[test]
fn reexec_keeps_every_service_running() {
    let mut init = Pid1::start(
        &[
            ("ticker", "run=@D/ticker.sh\n"),
            ("slow", "run=@D/slow.sh\nready=fd:3\n"),
            ("after-slow", "run=@D/ticker.sh\nneeds=slow\n"),
        ],
        &[
            ("ticker.sh", "while :; do echo tick; sleep 0.1; done\n"),
            (
                "slow.sh",
                "while [ ! -e $D/go ]; do sleep 0.05; done\necho ready >&3\nexec sleep 100000\n",
            ),
        ],
    );
    let before = init.wait_for("ticker", "up", Duration::from_secs(5));
    init.wait_for("slow", "starting", Duration::from_secs(5));
    let run = init.ctl(&["reexec"]).ok();
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    // The same process, seen by the new init; its output still arrives.
    let pid = |line: &str| {
        line.split("pid ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .map(str::to_string)
    };
    let start = Instant::now();
    let after = loop {
        let run = init.ctl(&["status"]);
        if let Some(line) = run.stdout.lines().find(|l| l.starts_with("ticker ")) {
            break line.to_string();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no status after reexec: {}",
            init.console()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        pid(&before),
        pid(&after),
        "ticker was restarted:\n{}",
        init.console()
    );
    assert!(
        init.console()
            .contains("init: took over 2 running services"),
        "{}",
        init.console()
    );
    let ticks = init.ctl(&["log", "ticker"]).ok().stdout.lines().count();
    std::thread::sleep(Duration::from_millis(400));
    assert!(
        init.ctl(&["log", "ticker"]).ok().stdout.lines().count() > ticks,
        "output lost after reexec"
    );
    // A readiness pipe handed over still works.
    fs::write(init.path("go"), "").unwrap();
    init.wait_for("after-slow", "up", Duration::from_secs(5));
    init.ctl(&["poweroff"]).ok();
    init.wait_exit(Duration::from_secs(15));
}

#[test]
fn services_start_clean_whatever_init_inherited() {
    let mut init = Pid1::start(
        &[("probe", "run=@D/probe.sh\nkind=oneshot\n")],
        &[(
            "probe.sh",
            "grep -E '^(SigIgn|SigBlk)' /proc/self/status > $D/signals\nls /proc/self/fd | wc -l > $D/fds\nulimit -n > $D/nofile\n",
        )],
    );
    init.wait_for("probe", "done", Duration::from_secs(5));
    let signals = fs::read_to_string(init.path("signals")).unwrap();
    // Only what the probe's own shell ignores may show; nothing blocked, SIGINT/QUIT not ignored.
    assert!(signals.contains("SigBlk:\t0000000000000000"), "{signals}");
    let ignored = u64::from_str_radix(
        signals
            .lines()
            .find(|l| l.starts_with("SigIgn"))
            .unwrap()
            .split('\t')
            .nth(1)
            .unwrap(),
        16,
    )
    .unwrap();
    assert_eq!(ignored & 0b110, 0, "SIGINT or SIGQUIT ignored: {signals}");
    // stdin, stdout, stderr, and ls's own directory descriptor.
    assert!(
        read_number(&init.path("fds")) <= 4.0,
        "descriptors leaked into the service"
    );
    // init raises its own descriptor limit; services get back the one it started with.
    let limits = fs::read_to_string("/proc/self/limits").unwrap();
    let ours: f64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .nth(3)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(read_number(&init.path("nofile")), ours);
    init.ctl(&["poweroff"]).ok();
    init.wait_exit(Duration::from_secs(15));
}
