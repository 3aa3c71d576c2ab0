//! Unit tests of `config`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn config(extra: &str) -> AgentConfig {
    let text = format!(
        "compatible=qemu-aarch64-virt\nslot_a=/dev/vda2\nslot_b=/dev/vda3\n\
         bootstate=native\nbootstate_path=/dev/vda1\nkeys=/etc/nanolin/keys/release.pub\n{extra}"
    );
    AgentConfig::parse(Path::new("agent.conf"), &text).unwrap_or_else(|e| panic!("{e}"))
}

fn no_file() -> Option<String> {
    None
}

#[test]
fn booted_slot_comes_from_config_then_command_line_then_the_initramfs() {
    let file_b = || Some(String::from("B\n"));
    let slot = |config: &AgentConfig, cmdline: &str, file: fn() -> Option<String>| {
        booted_slot_with(config, cmdline, file).map_err(|e| e.to_string())
    };
    // booted= wins over everything.
    let pinned = config("booted=A\n");
    assert_eq!(slot(&pinned, "nanolin.slot=B", file_b), Ok(BootSlot::A));
    // Then the command line (ours or RAUC's word).
    let plain = config("");
    assert_eq!(
        slot(&plain, "console=ttyAMA0 nanolin.slot=A", file_b),
        Ok(BootSlot::A)
    );
    assert_eq!(slot(&plain, "rauc.slot=A", no_file), Ok(BootSlot::A));
    // Then what stage1 wrote in /run/nanolin/slot, on boards whose initramfs picks.
    assert_eq!(
        slot(&plain, "console=ttyAMA0 panic=-1", file_b),
        Ok(BootSlot::B)
    );
    assert_eq!(
        slot(&plain, "", || Some(String::from("A"))),
        Ok(BootSlot::A)
    );
    // A file with something else in it is an error that names it.
    let bad = slot(&plain, "", || Some(String::from("C\n"))).unwrap_err();
    assert!(bad.contains(SLOT_FILE) && bad.contains("\"C\""), "{bad}");
    // Nothing anywhere: the error says where the answer should come from.
    let none = slot(&plain, "console=ttyAMA0", no_file).unwrap_err();
    assert!(
        none.contains("nanolin.slot=") && none.contains(SLOT_FILE) && none.contains("booted="),
        "{none}"
    );
}

#[test]
fn the_slot_file_is_not_read_when_the_answer_is_known() {
    let read = std::cell::Cell::new(false);
    let file = || {
        read.set(true);
        Some(String::from("B\n"))
    };
    let slot = booted_slot_with(&config(""), "nanolin.slot=A", file).unwrap();
    assert_eq!((slot, read.get()), (BootSlot::A, false));
}

#[test]
fn slot_file_is_where_stage1_writes_it() {
    assert_eq!(SLOT_FILE, "/run/nanolin/slot");
}

#[test]
fn activate_is_reboot_unless_kexec_is_asked() {
    use crate::kexec::Activate;
    assert_eq!(config("").activate, Activate::Reboot);
    assert_eq!(config("activate=reboot\n").activate, Activate::Reboot);
    assert_eq!(config("activate=kexec\n").activate, Activate::Kexec);
    let text = "compatible=x\nslot_a=/a\nslot_b=/b\nbootstate=grub\nbootstate_path=/g\n\
                keys=/k\nactivate=firmware\n";
    let e = AgentConfig::parse(Path::new("agent.conf"), text)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("line 7") && e.contains("activate") && e.contains("reboot or kexec"),
        "{e}"
    );
}

#[test]
fn a_live_system_is_told_by_its_command_line_or_the_slot_file() {
    let plain = config("");
    let live_file = || Some(String::from("live\n"));
    assert!(is_live_with(
        &plain,
        "console=ttyS0 nanolin.live=NANOLIN_PRIME",
        no_file
    ));
    assert!(is_live_with(&plain, "console=ttyS0", live_file));
    assert!(!is_live_with(
        &plain,
        "console=ttyS0 nanolin.slot=A",
        no_file
    ));
    assert!(!is_live_with(&plain, "", || Some(String::from("A\n"))));
    // booted= pins a slot: never live.
    assert!(!is_live_with(
        &config("booted=B\n"),
        "nanolin.live=X",
        live_file
    ));
    // Asked for its slot, a live system says it has none, and what to do.
    let e = booted_slot_with(&plain, "console=ttyS0", live_file)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("live system") && e.contains("install it to a disk"),
        "{e}"
    );
}
