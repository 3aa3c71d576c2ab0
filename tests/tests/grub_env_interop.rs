//! Boot state in GRUB's environment block, both directions with the real `grub-editenv`
//! (Debian's grub-common): what it writes we read, what we write it lists and edits, byte for
//! byte the same block for the same variables.

mod common;

use std::fs;
use std::path::Path;

use common::{peer, run_in};
use nanolin_core::boot_state::{BootSlot, BootState};
use nanolin_core::grub_env::{emit, GrubEnv, GRUB_ENV_LEN};

/// `grub-editenv env.bin ARGS` in `dir`.
fn editenv(dir: &Path, args: &[&str]) -> common::Run {
    let mut all = vec!["env.bin"];
    all.extend_from_slice(args);
    run_in(dir, &peer("grub-editenv", "grub-common"), &all, "")
}

fn write_block(path: &Path, vars: &[(&str, &str)], len: usize) {
    let mut block = vec![0u8; len];
    emit(vars.iter().copied(), &mut block).unwrap();
    fs::write(path, block).unwrap();
}

/// A value with a backslash and a space, and one with a newline: the two bytes GRUB escapes.
const ODD: &[(&str, &str)] = &[("WIN_PATH", "C:\\boot dir\\"), ("TWO_LINES", "one\ntwo")];

#[test]
fn we_read_what_grub_editenv_writes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    editenv(d, &["create"]).ok();
    editenv(
        d,
        &[
            "set",
            "BOOT_ORDER=A B",
            "BOOT_A_LEFT=3",
            "BOOT_B_LEFT=3",
            "WIN_PATH=C:\\boot dir\\",
            "TWO_LINES=one\ntwo",
        ],
    )
    .ok();
    let block = fs::read(d.join("env.bin")).unwrap();
    assert_eq!(block.len(), GRUB_ENV_LEN);
    let env = GrubEnv::parse(&block).unwrap();
    assert_eq!(env.get("BOOT_ORDER").unwrap(), "A B");
    assert_eq!(env.get("BOOT_A_LEFT").unwrap(), "3");
    assert_eq!(env.get("BOOT_B_LEFT").unwrap(), "3");
    for (name, value) in ODD {
        assert_eq!(env.get(name).unwrap(), *value, "{name}");
        let mut buf = [0u8; 64];
        assert_eq!(env.get_into(name, &mut buf).unwrap(), Some(*value));
    }
    let names: Vec<&str> = env.vars().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "BOOT_ORDER",
            "BOOT_A_LEFT",
            "BOOT_B_LEFT",
            "WIN_PATH",
            "TWO_LINES"
        ]
    );
    // grub-editenv changes a value in place and drops one; we follow.
    editenv(d, &["set", "BOOT_A_LEFT=2"]).ok();
    editenv(d, &["unset", "WIN_PATH"]).ok();
    let block = fs::read(d.join("env.bin")).unwrap();
    let env = GrubEnv::parse(&block).unwrap();
    assert_eq!(env.get("BOOT_A_LEFT").unwrap(), "2");
    assert_eq!(env.get("WIN_PATH"), None);
    assert_eq!(env.get("TWO_LINES").unwrap(), "one\ntwo");
}

#[test]
fn grub_editenv_lists_and_edits_what_we_write() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let vars = [
        ("BOOT_ORDER", "B A"),
        ("BOOT_A_LEFT", "0"),
        ("BOOT_B_LEFT", "3"),
        ODD[0],
        ODD[1],
    ];
    write_block(&d.join("env.bin"), &vars, GRUB_ENV_LEN);
    let run = editenv(d, &["list"]).ok();
    // `list` prints values unescaped, so the newline splits a line.
    assert_eq!(
        run.stdout,
        "BOOT_ORDER=B A\nBOOT_A_LEFT=0\nBOOT_B_LEFT=3\nWIN_PATH=C:\\boot dir\\\nTWO_LINES=one\ntwo\n"
    );
    // grub-editenv adds to our block, keeping its size; we read all of it.
    editenv(d, &["set", "X=1", "BOOT_B_LEFT=2"]).ok();
    let block = fs::read(d.join("env.bin")).unwrap();
    assert_eq!(block.len(), GRUB_ENV_LEN);
    let env = GrubEnv::parse(&block).unwrap();
    assert_eq!(env.get("X").unwrap(), "1");
    assert_eq!(env.get("BOOT_B_LEFT").unwrap(), "2");
    assert_eq!(env.get("BOOT_ORDER").unwrap(), "B A");
    assert_eq!(env.get("WIN_PATH").unwrap(), ODD[0].1);
    assert_eq!(env.get("TWO_LINES").unwrap(), ODD[1].1);
}

#[test]
fn our_block_is_byte_for_byte_grub_editenvs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let vars = [("BOOT_ORDER", "A B"), ("BOOT_A_LEFT", "3"), ODD[0], ODD[1]];
    editenv(d, &["create"]).ok();
    let args: Vec<String> = vars.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let mut set = vec!["set"];
    set.extend(args.iter().map(String::as_str));
    editenv(d, &set).ok();
    let theirs = fs::read(d.join("env.bin")).unwrap();
    let mut ours = vec![0u8; GRUB_ENV_LEN];
    emit(vars.iter().copied(), &mut ours).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
    assert_eq!(ours, theirs);
}

#[test]
fn grub_editenv_takes_a_block_of_another_size() {
    // GRUB never changes a block's size, and reads any size that holds the header.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_block(&d.join("env.bin"), &[("BOOT_ORDER", "A")], 4096);
    assert_eq!(editenv(d, &["list"]).ok().stdout, "BOOT_ORDER=A\n");
    editenv(d, &["set", "BOOT_A_LEFT=1"]).ok();
    let block = fs::read(d.join("env.bin")).unwrap();
    assert_eq!(block.len(), 4096);
    assert_eq!(
        GrubEnv::parse(&block).unwrap().get("BOOT_A_LEFT").unwrap(),
        "1"
    );
}

#[test]
fn boot_state_round_trips_through_grub_editenv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A new release in B: B first with 3 tries, A as the fallback, already used up once.
    let mut state = BootState::new(3);
    state.activate(BootSlot::B, 3);
    state.take_try();
    let order = state.order_text();
    let mut digits = [0u8; 2];
    let vars = state.to_vars(&order, &mut digits);
    let mut block = vec![0u8; GRUB_ENV_LEN];
    // Other variables of the board's GRUB stay where they are.
    emit(
        [("saved_entry", "nanolin")].into_iter().chain(vars),
        &mut block,
    )
    .unwrap();
    fs::write(d.join("env.bin"), &block).unwrap();
    let listed = editenv(d, &["list"]).ok().stdout;
    assert_eq!(
        listed,
        "saved_entry=nanolin\nBOOT_ORDER=B A\nBOOT_A_LEFT=3\nBOOT_B_LEFT=2\n"
    );
    // GRUB's boot script takes the next try the same way, with `save_env`; grub-editenv stands
    // in for it here.
    editenv(d, &["set", "BOOT_B_LEFT=1"]).ok();
    let block = fs::read(d.join("env.bin")).unwrap();
    let env = GrubEnv::parse(&block).unwrap();
    let read = BootState::from_vars(|name| env.get(name).and_then(|v| v.as_plain())).unwrap();
    state.take_try();
    assert_eq!(read, state);
    assert_eq!(read.next_boot(), Some(BootSlot::B));
    assert_eq!(read.left(BootSlot::B), 1);
    assert_eq!(env.get("saved_entry").unwrap(), "nanolin");
}
