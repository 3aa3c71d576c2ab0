//! Keys and signatures against the real signify (OpenBSD, Debian's signify-openbsd) and
//! minisign, in both directions.

mod common;

use std::fs;
use std::path::Path;

use common::{minisign, nanolin, run_in, scratch, signify};

const PASSPHRASE: &str = "correct horse battery staple";

fn write_passphrase(dir: &Path) {
    fs::write(dir.join("pass"), format!("{PASSPHRASE}\n")).unwrap();
}

fn signify_verifies(dir: &Path, key: &str, sig: &str) {
    run_in(
        dir,
        &signify(),
        &["-V", "-p", key, "-m", "m", "-x", sig],
        "",
    )
    .ok();
}

fn minisign_verifies(dir: &Path, key: &str, sig: &str) {
    let run = run_in(
        dir,
        &minisign(),
        &["-V", "-p", key, "-m", "m", "-x", sig],
        "",
    )
    .ok();
    assert!(
        run.stdout.contains("comment signature verified"),
        "{}",
        run.stdout
    );
}

#[test]
fn nanolin_key_without_passphrase_signs_for_signify_and_minisign() {
    let dir = scratch();
    let d = dir.path();
    nanolin(d, &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"]).ok();
    nanolin(d, &["sign", "-s", "k.sec", "m"]).ok();
    signify_verifies(d, "k.pub", "m.sig");
    minisign_verifies(d, "k.pub", "m.sig");
    nanolin(d, &["verify", "-p", "k.pub", "m"]).ok();
    // And signify signs with our secret key.
    run_in(
        d,
        &signify(),
        &["-S", "-s", "k.sec", "-m", "m", "-x", "s.sig"],
        "",
    )
    .ok();
    nanolin(d, &["verify", "-p", "k.pub", "-x", "s.sig", "m"]).ok();
}

#[test]
fn nanolin_signature_is_byte_identical_to_signify() {
    let dir = scratch();
    let d = dir.path();
    nanolin(d, &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"]).ok();
    nanolin(d, &["sign", "-s", "k.sec", "m"]).ok();
    run_in(
        d,
        &signify(),
        &["-S", "-s", "k.sec", "-m", "m", "-x", "s.sig"],
        "",
    )
    .ok();
    let ours = fs::read_to_string(d.join("m.sig")).unwrap();
    let theirs = fs::read_to_string(d.join("s.sig")).unwrap();
    // signify's two lines are exactly our first two; minisign's trusted comment follows.
    let ours_signify_part: Vec<&str> = ours.lines().take(2).collect();
    let theirs_lines: Vec<&str> = theirs.lines().collect();
    assert_eq!(ours_signify_part, theirs_lines);
    assert_eq!(ours.lines().count(), 4);
}

#[test]
fn nanolin_key_with_passphrase_works_both_ways() {
    let dir = scratch();
    let d = dir.path();
    write_passphrase(d);
    nanolin(
        d,
        &[
            "key",
            "generate",
            "-p",
            "k.pub",
            "-s",
            "k.sec",
            "--passphrase-file",
            "pass",
        ],
    )
    .ok();
    let sec = fs::read_to_string(d.join("k.sec")).unwrap();
    assert!(sec.starts_with("untrusted comment: signify secret key\n"));
    nanolin(
        d,
        &["sign", "-s", "k.sec", "--passphrase-file", "pass", "m"],
    )
    .ok();
    signify_verifies(d, "k.pub", "m.sig");
    minisign_verifies(d, "k.pub", "m.sig");
    // signify reads the passphrase from standard input when it has no terminal.
    run_in(
        d,
        &signify(),
        &["-S", "-s", "k.sec", "-m", "m", "-x", "s.sig"],
        &format!("{PASSPHRASE}\n"),
    )
    .ok();
    nanolin(d, &["verify", "-p", "k.pub", "-x", "s.sig", "m"]).ok();
}

#[test]
fn signify_keys_sign_with_nanolin() {
    let dir = scratch();
    let d = dir.path();
    run_in(
        d,
        &signify(),
        &["-G", "-n", "-p", "plain.pub", "-s", "plain.sec"],
        "",
    )
    .ok();
    let pass = format!("{PASSPHRASE}\n{PASSPHRASE}\n");
    run_in(
        d,
        &signify(),
        &[
            "-G",
            "-p",
            "locked.pub",
            "-s",
            "locked.sec",
            "-c",
            "build host",
        ],
        &pass,
    )
    .ok();
    write_passphrase(d);

    nanolin(d, &["sign", "-s", "plain.sec", "-x", "plain.sig", "m"]).ok();
    signify_verifies(d, "plain.pub", "plain.sig");
    minisign_verifies(d, "plain.pub", "plain.sig");

    nanolin(
        d,
        &[
            "sign",
            "-s",
            "locked.sec",
            "--passphrase-file",
            "pass",
            "-x",
            "locked.sig",
            "m",
        ],
    )
    .ok();
    signify_verifies(d, "locked.pub", "locked.sig");
    minisign_verifies(d, "locked.pub", "locked.sig");

    // signify's own signatures verify with nanolin.
    run_in(
        d,
        &signify(),
        &["-S", "-s", "plain.sec", "-m", "m", "-x", "s.sig"],
        "",
    )
    .ok();
    nanolin(d, &["verify", "-p", "plain.pub", "-x", "s.sig", "m"]).ok();
}

#[test]
fn minisign_keys_sign_with_nanolin() {
    let dir = scratch();
    let d = dir.path();
    run_in(
        d,
        &minisign(),
        &["-G", "-W", "-p", "plain.pub", "-s", "plain.key"],
        "",
    )
    .ok();
    nanolin(d, &["sign", "-s", "plain.key", "-x", "plain.sig", "m"]).ok();
    minisign_verifies(d, "plain.pub", "plain.sig");
    signify_verifies(d, "plain.pub", "plain.sig");
    nanolin(d, &["verify", "-p", "plain.pub", "-x", "plain.sig", "m"]).ok();
}

#[test]
fn minisign_key_with_password_signs_with_nanolin() {
    let dir = scratch();
    let d = dir.path();
    let pass = format!("{PASSPHRASE}\n{PASSPHRASE}\n");
    run_in(
        d,
        &minisign(),
        &["-G", "-p", "locked.pub", "-s", "locked.key"],
        &pass,
    )
    .ok();
    write_passphrase(d);
    nanolin(
        d,
        &[
            "sign",
            "-s",
            "locked.key",
            "--passphrase-file",
            "pass",
            "-x",
            "locked.sig",
            "m",
        ],
    )
    .ok();
    minisign_verifies(d, "locked.pub", "locked.sig");
    signify_verifies(d, "locked.pub", "locked.sig");
    fs::write(d.join("wrong"), "not it\n").unwrap();
    nanolin(
        d,
        &[
            "sign",
            "-s",
            "locked.key",
            "--passphrase-file",
            "wrong",
            "-x",
            "w.sig",
            "m",
        ],
    )
    .code(1)
    .says("incorrect passphrase");
    assert!(!d.join("w.sig").exists());
}

#[test]
fn minisign_signatures_verify_with_nanolin() {
    let dir = scratch();
    let d = dir.path();
    run_in(
        d,
        &minisign(),
        &["-G", "-W", "-p", "k.pub", "-s", "k.key"],
        "",
    )
    .ok();
    // Legacy (pure Ed25519) signatures are signify-compatible: accepted, trusted comment checked.
    run_in(
        d,
        &minisign(),
        &[
            "-S",
            "-l",
            "-s",
            "k.key",
            "-m",
            "m",
            "-x",
            "legacy.sig",
            "-t",
            "release r26.11",
        ],
        "",
    )
    .ok();
    let run = nanolin(d, &["verify", "-p", "k.pub", "-x", "legacy.sig", "m"]).ok();
    assert!(
        run.stdout.contains("trusted comment: release r26.11"),
        "{}",
        run.stdout
    );
    // Prehashed signatures (minisign's default) are refused: signify cannot check them.
    run_in(
        d,
        &minisign(),
        &["-S", "-s", "k.key", "-m", "m", "-x", "hashed.sig"],
        "",
    )
    .ok();
    nanolin(d, &["verify", "-p", "k.pub", "-x", "hashed.sig", "m"])
        .code(1)
        .says("prehashed minisign signature");
}

#[test]
fn board_agent_verifies_what_the_host_signs() {
    let dir = scratch();
    let d = dir.path();
    nanolin(d, &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"]).ok();
    nanolin(d, &["sign", "-s", "k.sec", "m"]).ok();
    let qemu = common::peer("qemu-aarch64-static", "qemu-user-static");
    let agent = common::board_agent();
    let agent = agent.to_str().unwrap();
    run_in(d, &qemu, &[agent, "verify", "-p", "k.pub", "m"], "").ok();
    fs::write(d.join("m"), b"an appliance image, or any file at all!\n").unwrap();
    run_in(d, &qemu, &[agent, "verify", "-p", "k.pub", "m"], "")
        .code(1)
        .says("signature verification failed");
}
