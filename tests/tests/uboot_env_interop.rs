//! Boot state in U-Boot's environment, both directions with the real `fw_printenv` and
//! `fw_setenv` (Debian's u-boot-tools), single and redundant layouts.

mod common;

use std::fs;
use std::path::Path;

use common::{peer, run_in};
use nanolin_core::uboot_env::{current, emit, EnvCopy, Layout};

const SIZE: usize = 0x4000;

fn fw(dir: &Path, tool: &str, args: &[&str]) -> common::Run {
    let mut all = vec!["-c", "fw_env.config"];
    all.extend_from_slice(args);
    run_in(dir, &peer(tool, "u-boot-tools"), &all, "")
}

fn write_block(path: &Path, vars: &[(&str, &str)], layout: Layout, flag: u8) {
    let mut block = vec![0u8; SIZE];
    emit(vars.iter().copied(), layout, flag, &mut block).unwrap();
    fs::write(path, block).unwrap();
}

#[test]
fn single_copy_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("fw_env.config"),
        format!("{}/env.bin 0x0 {SIZE:#x}\n", d.display()),
    )
    .unwrap();
    write_block(
        &d.join("env.bin"),
        &[
            ("BOOT_ORDER", "A B"),
            ("BOOT_A_LEFT", "3"),
            ("BOOT_B_LEFT", "3"),
        ],
        Layout::Single,
        0,
    );
    let run = fw(d, "fw_printenv", &[]).ok();
    for line in ["BOOT_ORDER=A B", "BOOT_A_LEFT=3", "BOOT_B_LEFT=3"] {
        assert!(
            run.stdout.lines().any(|l| l == line),
            "fw_printenv lacks {line}: {}",
            run.stdout
        );
    }
    // fw_setenv changes one, adds one and deletes one; we read all of it.
    fw(d, "fw_setenv", &["BOOT_A_LEFT", "2"]).ok();
    fw(d, "fw_setenv", &["upgrade_available", "1"]).ok();
    fw(d, "fw_setenv", &["BOOT_B_LEFT"]).ok();
    let block = fs::read(d.join("env.bin")).unwrap();
    let env = EnvCopy::parse(&block, Layout::Single).unwrap();
    assert_eq!(env.get("BOOT_A_LEFT"), Some("2"));
    assert_eq!(env.get("upgrade_available"), Some("1"));
    assert_eq!(env.get("BOOT_B_LEFT"), None);
    assert_eq!(env.get("BOOT_ORDER"), Some("A B"));
}

#[test]
fn redundant_copies_alternate_with_fw_setenv() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("fw_env.config"),
        format!(
            "{0}/a.bin 0x0 {SIZE:#x}\n{0}/b.bin 0x0 {SIZE:#x}\n",
            d.display()
        ),
    )
    .unwrap();
    // Ours writes copy A (flag 1); B was never written.
    write_block(
        &d.join("a.bin"),
        &[("BOOT_ORDER", "A B")],
        Layout::Redundant,
        1,
    );
    fs::write(d.join("b.bin"), vec![0xffu8; SIZE]).unwrap();
    assert!(fw(d, "fw_printenv", &["BOOT_ORDER"])
        .ok()
        .stdout
        .contains("BOOT_ORDER=A B"));
    // fw_setenv writes the other copy with a newer flag; we take it as current.
    fw(d, "fw_setenv", &["BOOT_ORDER", "B A"]).ok();
    let (a, b) = (
        fs::read(d.join("a.bin")).unwrap(),
        fs::read(d.join("b.bin")).unwrap(),
    );
    let (pa, pb) = (
        EnvCopy::parse(&a, Layout::Redundant),
        EnvCopy::parse(&b, Layout::Redundant),
    );
    assert_eq!(current(&pa, &pb), Some(1));
    let newest = pb.unwrap();
    assert_eq!(newest.get("BOOT_ORDER"), Some("B A"));
    assert_eq!(
        pa.unwrap().get("BOOT_ORDER"),
        Some("A B"),
        "the old copy is left whole"
    );
    // Ours writes the older copy with the next flag; fw_printenv follows.
    let flag = newest.flag.unwrap().wrapping_add(1);
    write_block(
        &d.join("a.bin"),
        &[("BOOT_ORDER", "A"), ("BOOT_A_LEFT", "3")],
        Layout::Redundant,
        flag,
    );
    let run = fw(d, "fw_printenv", &[]).ok();
    assert!(
        run.stdout.lines().any(|l| l == "BOOT_ORDER=A"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.lines().any(|l| l == "BOOT_A_LEFT=3"),
        "{}",
        run.stdout
    );
}
