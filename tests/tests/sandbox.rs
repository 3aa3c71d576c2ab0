//! Build steps run in bubblewrap's sandbox: what a recipe can do there, and what it cannot
//! (reach the network, write outside its two directories, leave privileged files or links
//! out of its package).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nanolin_host::sandbox::{Sandbox, SandboxError, StepOutput, BUILD_DIR, DEST_DIR};

const EPOCH: u64 = 1_700_000_000;

/// A build directory holding `recipe.rcp`, an empty destination and a log path.
struct Build {
    _dir: tempfile::TempDir,
    sandbox: Sandbox,
}

impl Build {
    fn new(build: &str, package: &str) -> Self {
        common::peer("bwrap", "bubblewrap");
        let dir = tempfile::tempdir().unwrap();
        let build_dir = dir.path().join("build");
        let dest_dir = dir.path().join("dest");
        fs::create_dir(&build_dir).unwrap();
        fs::create_dir(&dest_dir).unwrap();
        fs::write(
            build_dir.join("recipe.rcp"),
            format!("name=test\nversion=1\nbuild() {{\n{build}\n}}\npackage() {{\n{package}\n}}\n"),
        )
        .unwrap();
        let sandbox = Sandbox {
            build_dir,
            dest_dir,
            log: dir.path().join("build.log"),
            source_date_epoch: EPOCH,
            env: vec![
                ("CARCH".to_string(), "aarch64".to_string()),
                ("CHOST".to_string(), "aarch64-linux-musl".to_string()),
            ],
            output: StepOutput::Status("build".into()),
        };
        Build { _dir: dir, sandbox }
    }

    /// Runs `build`, then `package`, as the package builder does.
    fn run(&self) -> Result<(), SandboxError> {
        self.step("build")?;
        self.step("package")
    }

    fn step(&self, function: &str) -> Result<(), SandboxError> {
        let script = format!(". ./recipe.rcp; {function}");
        self.sandbox.run(&["sh", "-e", "-c", &script])
    }

    fn dest(&self, path: &str) -> PathBuf {
        self.sandbox.dest_dir.join(path)
    }

    fn log(&self) -> String {
        fs::read_to_string(&self.sandbox.log).unwrap()
    }
}

/// The failure's text, asserting it is a failed build that says how the build ran.
#[track_caller]
fn failed(result: Result<(), SandboxError>) -> (SandboxError, String) {
    let e = result.expect_err("the build should have failed");
    let text = e.to_string();
    assert!(matches!(e, SandboxError::Failed { .. }), "{text}");
    assert!(
        text.contains("without network") && text.contains("read-only file system"),
        "{text}"
    );
    (e, text)
}

#[test]
fn builds_and_installs_into_destdir() {
    let b = Build::new(
        "echo compiling; printf 'hello\\n' > hello.txt; mkdir -p obj; touch obj/hello.o",
        "mkdir -p \"$DESTDIR/usr/share/hello\"; cp hello.txt \"$DESTDIR/usr/share/hello/\"; \
         ln -s share/hello/hello.txt \"$DESTDIR/usr/hello\"",
    );
    b.run().unwrap();
    assert_eq!(
        fs::read_to_string(b.dest("usr/share/hello/hello.txt")).unwrap(),
        "hello\n"
    );
    assert!(b.sandbox.build_dir.join("obj/hello.o").is_file());
    assert!(b.log().contains("compiling"), "{}", b.log());
}

#[test]
fn network_is_unreachable_even_on_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let connect = format!("exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected");

    // Outside the sandbox the same command reaches the listener: the test means something.
    let outside = Command::new("bash")
        .args(["-c", &connect])
        .output()
        .unwrap();
    assert!(outside.status.success(), "{outside:?}");
    listener.accept().expect("the control connection arrives");

    let b = Build::new("true", "true");
    let (_, text) = failed(b.sandbox.run(&["bash", "-e", "-c", &connect]));
    assert!(text.contains("Connection refused"), "{text}");
    assert!(!b.log().contains("connected"));
    let second = listener.accept().map(|_| ()).unwrap_err();
    assert_eq!(second.kind(), ErrorKind::WouldBlock, "a connection got out");

    // Nothing beyond the loopback either: no route at all.
    let (_, text) = failed(
        b.sandbox
            .run(&["bash", "-e", "-c", "exec 3<>/dev/tcp/192.0.2.1/80"]),
    );
    assert!(text.contains("Network is unreachable"), "{text}");
}

#[test]
fn writes_outside_build_and_destdir_fail() {
    let marker = format!("nanolin-sandbox-{}", std::process::id());
    let etc = Path::new("/etc").join(&marker);
    let b = Build::new(&format!("echo x > {}", etc.display()), "true");
    let (_, text) = failed(b.run());
    assert!(text.contains("Read-only file system"), "{text}");
    assert!(!etc.exists());

    // The caller's home: $HOME in the sandbox is the build directory, the real one read-only.
    let home = PathBuf::from(std::env::var_os("HOME").unwrap()).join(&marker);
    let b = Build::new(&format!("echo x > {}", home.display()), "true");
    let (_, text) = failed(b.run());
    assert!(text.contains("Read-only file system"), "{text}");
    assert!(!home.exists());

    // A new top-level directory.
    let b = Build::new(&format!("mkdir /{marker}"), "true");
    failed(b.run());
    assert!(!Path::new("/").join(&marker).exists());

    // /tmp is the sandbox's own: writable, and gone afterwards.
    let tmp = Path::new("/tmp").join(&marker);
    let b = Build::new(&format!("echo x > {}", tmp.display()), "true");
    b.run().unwrap();
    assert!(!tmp.exists());
}

#[test]
fn setuid_file_is_refused_by_path() {
    let b = Build::new(
        "true",
        "mkdir -p \"$DESTDIR/usr/bin\"; cp /bin/true \"$DESTDIR/usr/bin/su\"; \
         chmod 4755 \"$DESTDIR/usr/bin/su\"",
    );
    let e = b.run().unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, SandboxError::Privileged { .. }), "{text}");
    let path = b.dest("usr/bin/su");
    assert!(text.contains(&*path.to_string_lossy()), "{text}");
    assert!(text.contains("setuid"), "{text}");
}

#[test]
fn link_out_of_destdir_is_refused() {
    let b = Build::new("true", "ln -s ../../etc/passwd \"$DESTDIR/passwd\"");
    let e = b.run().unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, SandboxError::LinkOut { .. }), "{text}");
    assert!(
        text.contains(&*b.dest("passwd").to_string_lossy()),
        "{text}"
    );
    assert!(text.contains("../../etc/passwd"), "{text}");
}

#[test]
fn environment_is_the_clean_one() {
    let b = Build::new(
        "env > env.txt; umask > umask.txt; echo $$ > pid.txt; hostname > host.txt; \
         id -u > uid.txt; id -g > gid.txt; pwd > pwd.txt",
        "cp env.txt umask.txt pid.txt host.txt uid.txt gid.txt pwd.txt \"$DESTDIR/\"; \
         stat -c %u:%g \"$DESTDIR/env.txt\" > \"$DESTDIR/owner.txt\"",
    );
    b.run().unwrap();
    let read = |name: &str| fs::read_to_string(b.dest(name)).unwrap().trim().to_string();

    let env: BTreeMap<String, String> = read("env.txt")
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let want = [
        ("PATH", "/usr/bin:/bin"),
        ("HOME", BUILD_DIR),
        ("srcdir", BUILD_DIR),
        ("DESTDIR", DEST_DIR),
        ("LC_ALL", "C"),
        ("TZ", "UTC"),
        ("SOURCE_DATE_EPOCH", "1700000000"),
        ("CARCH", "aarch64"),
        ("CHOST", "aarch64-linux-musl"),
    ];
    for (k, v) in want {
        assert_eq!(env.get(k).map(String::as_str), Some(v), "{k} in {env:?}");
    }
    // Only what the shell adds itself besides.
    for k in env.keys() {
        assert!(
            want.iter().any(|(w, _)| w == k) || ["PWD", "OLDPWD", "SHLVL", "_"].contains(&&**k),
            "{k} leaked into the build: {env:?}"
        );
    }
    assert_eq!(read("umask.txt"), "0022");
    assert_eq!(read("pwd.txt"), BUILD_DIR);
    assert_eq!(read("host.txt"), "nanolin");
    assert_eq!((read("uid.txt"), read("gid.txt")), ("0".into(), "0".into()));
    assert_eq!(read("owner.txt"), "0:0");
    let pid: u32 = read("pid.txt").parse().unwrap();
    assert!(pid < 10, "pid {pid}: not a PID namespace of its own");
    let mode = fs::metadata(b.dest("env.txt"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn failed_build_shows_its_last_lines_and_log() {
    let b = Build::new(
        "for i in $(seq 1 30); do echo \"line $i\"; done; exit 3",
        "true",
    );
    let (e, text) = failed(b.run());
    match e {
        SandboxError::Failed { status, log, tail } => {
            assert_eq!(status.code(), Some(3));
            assert_eq!(log, b.sandbox.log);
            assert_eq!(tail.len(), 20);
            assert_eq!(tail.first().map(String::as_str), Some("line 11"));
            assert_eq!(tail.last().map(String::as_str), Some("line 30"));
        }
        other => panic!("{other}"),
    }
    assert!(text.contains(&*b.sandbox.log.to_string_lossy()), "{text}");
    assert!(!text.contains("line 10\n"), "{text}");
}

#[test]
fn verbose_build_still_logs_everything() {
    let mut b = Build::new("echo to-stdout; echo to-stderr >&2", "true");
    b.sandbox.output = StepOutput::Stream;
    b.run().unwrap();
    let log = b.log();
    assert!(
        log.contains("to-stdout\n") && log.contains("to-stderr\n"),
        "{log}"
    );
}

#[test]
fn status_build_still_logs_everything() {
    let b = Build::new("echo to-stdout; echo to-stderr >&2", "true");
    b.run().unwrap();
    let log = b.log();
    assert!(
        log.contains("to-stdout\n") && log.contains("to-stderr\n"),
        "{log}"
    );
}
