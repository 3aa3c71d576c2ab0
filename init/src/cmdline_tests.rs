//! Unit tests of `cmdline`.

use super::*;
use std::vec::Vec;

#[test]
fn reads_our_options_and_names_unknown_ones() {
    let mut unknown = Vec::new();
    let options = BootOptions::parse(
        "console=ttyAMA0 quiet nanolin.watchdog=/dev/watchdog0 nanolin.servics=/x nanolin.modules=/etc/m root=/dev/vda2",
        |w| unknown.push(w),
    );
    assert_eq!(options.watchdog, Some("/dev/watchdog0"));
    assert_eq!(options.modules, Some("/etc/m"));
    assert_eq!(options.services, None);
    assert_eq!(unknown, ["nanolin.servics=/x"]);
}

#[test]
fn leaves_stage1_options_to_stage1_without_a_word() {
    let mut unknown = Vec::new();
    let options = BootOptions::parse(
        "nanolin.slot=A nanolin.live=NANOLIN_R26 nanolin.install=auto nanolin.slt=B",
        |w| unknown.push(w),
    );
    assert_eq!(options, BootOptions::default());
    assert_eq!(unknown, ["nanolin.slt=B"]);
}

#[test]
fn lists_modules() {
    let list = "# storage\nkernel/fs/squashfs/squashfs.ko\n\n  /abs/overlay.ko  \n";
    assert_eq!(
        module_lines(list).collect::<Vec<_>>(),
        ["kernel/fs/squashfs/squashfs.ko", "/abs/overlay.ko"]
    );
}
