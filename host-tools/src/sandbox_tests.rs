//! Checks of a destination directory and of the sandbox's environment; the sandbox itself is
//! exercised by `tests/tests/sandbox.rs`.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::net::UnixListener;

use super::*;

fn dest() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("usr/bin")).unwrap();
    fs::create_dir_all(dir.path().join("usr/lib")).unwrap();
    fs::write(dir.path().join("usr/bin/tool"), b"#!/bin/sh\n").unwrap();
    dir
}

#[test]
fn accepts_files_directories_and_links_that_stay_inside() {
    let dir = dest();
    let d = dir.path();
    symlink("tool", d.join("usr/bin/same-dir")).unwrap();
    symlink("../bin/tool", d.join("usr/lib/up-one")).unwrap();
    symlink("../../etc/passwd", d.join("usr/bin/board-passwd")).unwrap();
    symlink("/etc/passwd", d.join("usr/bin/absolute")).unwrap();
    symlink("/usr/lib/missing.so.1", d.join("usr/lib/dangling")).unwrap();
    symlink("usr/bin", d.join("bin")).unwrap();
    symlink("../bin/../usr/bin/tool", d.join("usr/lib/through-link")).unwrap();
    fs::hard_link(d.join("usr/bin/tool"), d.join("usr/lib/hard-inside")).unwrap();
    check_destdir(d).unwrap();
}

#[test]
fn refuses_relative_link_out() {
    let dir = dest();
    symlink("../../etc/passwd", dir.path().join("usr/passwd")).unwrap();
    let e = check_destdir(dir.path()).unwrap_err();
    assert!(matches!(e, SandboxError::LinkOut { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("usr/passwd") && text.contains("../../etc/passwd"),
        "{text}"
    );
    assert_eq!(e.status(), Status::No);
}

#[test]
fn refuses_absolute_link_climbing_above_root() {
    let dir = dest();
    symlink("/../etc/passwd", dir.path().join("usr/bin/sneaky")).unwrap();
    let e = check_destdir(dir.path()).unwrap_err();
    assert!(matches!(e, SandboxError::LinkOut { .. }), "{e}");
}

#[test]
fn refuses_link_out_through_another_link() {
    // usr/lib/up -> .. is the root; up/.. from there is outside.
    let dir = dest();
    let d = dir.path();
    symlink("..", d.join("usr/lib/up")).unwrap();
    symlink("../lib/up/../..", d.join("usr/lib/out")).unwrap();
    let e = check_destdir(d).unwrap_err();
    match e {
        SandboxError::LinkOut { path, .. } => assert!(path.ends_with("usr/lib/out")),
        other => panic!("{other}"),
    }
}

#[test]
fn refuses_link_loops() {
    let dir = dest();
    symlink("b", dir.path().join("a")).unwrap();
    symlink("a/x", dir.path().join("b")).unwrap();
    let e = check_destdir(dir.path()).unwrap_err();
    assert!(matches!(e, SandboxError::LinkLoop { .. }), "{e}");
}

#[test]
fn refuses_setuid_and_setgid() {
    for (mode, word) in [(0o4755, "setuid"), (0o2755, "setgid")] {
        let dir = dest();
        let tool = dir.path().join("usr/bin/tool");
        fs::set_permissions(&tool, fs::Permissions::from_mode(mode)).unwrap();
        let e = check_destdir(dir.path()).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, SandboxError::Privileged { .. }), "{text}");
        assert!(text.contains(&*tool.to_string_lossy()), "{text}");
        assert!(
            text.contains(word) && text.contains(&format!("{mode:04o}")),
            "{text}"
        );
    }
}

#[test]
fn refuses_sockets_and_fifos() {
    let dir = dest();
    let socket = dir.path().join("usr/lib/control");
    let _listener = UnixListener::bind(&socket).unwrap();
    let e = check_destdir(dir.path()).unwrap_err();
    assert!(e.to_string().contains("is a socket"), "{e}");
    fs::remove_file(&socket).unwrap();

    let fifo = dir.path().join("usr/lib/pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let e = check_destdir(dir.path()).unwrap_err();
    assert!(e.to_string().contains("is a FIFO"), "{e}");
}

#[test]
fn refuses_hard_link_to_outside() {
    let outside = tempfile::tempdir().unwrap();
    let dir = dest();
    fs::write(outside.path().join("secret"), b"x").unwrap();
    fs::hard_link(
        outside.path().join("secret"),
        dir.path().join("usr/lib/copy"),
    )
    .unwrap();
    let e = check_destdir(dir.path()).unwrap_err();
    match &e {
        SandboxError::HardLinkOut {
            path,
            links,
            inside,
        } => {
            assert!(path.ends_with("usr/lib/copy"));
            assert_eq!((*links, *inside), (2, 1));
        }
        other => panic!("{other}"),
    }
}

#[test]
fn refuses_a_file_as_destination() {
    let dir = dest();
    let e = check_destdir(&dir.path().join("usr/bin/tool")).unwrap_err();
    assert!(matches!(e, SandboxError::NotADirectory(_)), "{e}");
}

fn sandbox(env: &[(&str, &str)]) -> Sandbox {
    Sandbox {
        build_dir: PathBuf::from("/nonexistent"),
        dest_dir: PathBuf::from("/nonexistent"),
        log: PathBuf::from("/nonexistent"),
        source_date_epoch: 1_700_000_000,
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        output: StepOutput::Status("build".into()),
    }
}

#[test]
fn environment_is_fixed_then_extras_which_win() {
    let env = sandbox(&[
        ("CARCH", "aarch64"),
        ("PATH", "/opt/cross/bin:/usr/bin:/bin"),
    ])
    .environment()
    .unwrap();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("SOURCE_DATE_EPOCH"), Some("1700000000"));
    assert_eq!(get("LC_ALL"), Some("C"));
    assert_eq!(get("TZ"), Some("UTC"));
    assert_eq!(get("HOME"), Some(BUILD_DIR));
    assert_eq!(get("srcdir"), Some(BUILD_DIR));
    assert_eq!(get("DESTDIR"), Some(DEST_DIR));
    assert_eq!(get("CARCH"), Some("aarch64"));
    assert_eq!(get("PATH"), Some("/opt/cross/bin:/usr/bin:/bin"));
    assert_eq!(env.iter().filter(|(n, _)| n == "PATH").count(), 1);
}

#[test]
fn refuses_bad_variable_names() {
    for name in ["", "1X", "A=B", "A-B", "A B"] {
        let e = sandbox(&[(name, "x")]).environment().unwrap_err();
        assert!(matches!(e, SandboxError::BadVariable(_)), "{name}: {e}");
    }
    let e = sandbox(&[("X", "a\0b")]).environment().unwrap_err();
    assert!(matches!(e, SandboxError::BadVariable(_)));
}

#[test]
fn tail_keeps_the_last_lines() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    let text: String = (1..=30).map(|i| format!("line {i}\n")).collect();
    fs::write(&log, text).unwrap();
    let tail = tail_lines(&log, LOG_TAIL_LINES).unwrap();
    assert_eq!(tail.len(), 20);
    assert_eq!(tail[0], "line 11");
    assert_eq!(tail[19], "line 30");

    let long: String = (0..20_000).map(|i| format!("{i:09}\n")).collect();
    fs::write(&log, long).unwrap();
    let tail = tail_lines(&log, 3).unwrap();
    assert_eq!(tail, ["000019997", "000019998", "000019999"]);
}

#[test]
fn failure_message_says_how_the_build_ran_and_where_the_log_is() {
    let status = Command::new("false").status().unwrap();
    let e = SandboxError::Failed {
        status,
        log: PathBuf::from("/var/log/b.log"),
        tail: vec!["curl: (6) Could not resolve host".to_string()],
    };
    let text = e.to_string();
    for part in [
        "without network",
        "read-only file system",
        "/var/log/b.log",
        "\n  curl: (6)",
    ] {
        assert!(text.contains(part), "{part:?} missing from {text}");
    }
}
