//! Passphrases typed on a terminal: `script` (util-linux) gives `nanolin` a pseudo-terminal and
//! types into it, as a person at a keyboard would.

mod common;

use std::path::Path;

use common::{host_bin, nanolin, peer, run_in, scratch, signify};

/// Runs `nanolin ARGS` on a pseudo-terminal, typing `typed`.
fn on_terminal(dir: &Path, args: &str, typed: &str) -> common::Run {
    let command = format!("{} {args}", host_bin("nanolin").display());
    run_in(
        dir,
        &peer("script", "bsdutils"),
        &["-qec", &command, "/dev/null"],
        typed,
    )
}

#[test]
fn generate_asks_twice_and_sign_asks_once() {
    let dir = scratch();
    let d = dir.path();
    let run = on_terminal(
        d,
        "key generate -p k.pub -s k.sec",
        "typed secret\ntyped secret\n",
    )
    .ok();
    assert!(run.stdout.contains("confirm passphrase:"), "{}", run.stdout);
    on_terminal(d, "sign -s k.sec m", "typed secret\n").ok();
    run_in(
        d,
        &signify(),
        &["-V", "-p", "k.pub", "-m", "m", "-x", "m.sig"],
        "",
    )
    .ok();
    // The passphrase really seals the key: a wrong one is refused.
    let run = on_terminal(d, "sign -s k.sec -x w.sig m", "mistyped\n").code(1);
    assert!(
        run.stdout.contains("incorrect passphrase"),
        "{}",
        run.stdout
    );
}

#[test]
fn mismatched_confirmation_writes_nothing() {
    let dir = scratch();
    let d = dir.path();
    let run = on_terminal(d, "key generate -p k.pub -s k.sec", "one\ntwo\n").code(2);
    assert!(
        run.stdout.contains("passphrases do not match"),
        "{}",
        run.stdout
    );
    assert!(!d.join("k.sec").exists() && !d.join("k.pub").exists());
    nanolin(d, &["verify", "-p", "k.pub", "m"]).code(3);
}
