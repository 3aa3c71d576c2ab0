//! Unit tests of `bootfs`: the boot state of each backend read back with the core's codecs,
//! the scripts' logic as text, the U-Boot default environment found in a binary. The peer
//! tools (mkimage, fw_printenv, grub-editenv) check the files in
//! tests/tests/kernel_boot_files.rs.

use std::path::{Path, PathBuf};

use nanolin_core::boot_record;
use nanolin_core::grub_env::GrubEnv;
use nanolin_core::uboot_env::{current, EnvCopy};

use super::*;

fn board(name: &str) -> Board {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../boards");
    Board::find(&dir, name).unwrap_or_else(|e| panic!("{e}"))
}

fn inputs<'a>(dir: &'a Path, defaults: Option<&'a [(String, String)]>) -> BootInputs<'a> {
    BootInputs {
        kernel: dir,
        initramfs: dir,
        dtb: None,
        tries: 3,
        uboot_default_env: defaults,
        source_date_epoch: 1_700_000_000,
    }
}

#[test]
fn the_native_board_gets_both_record_copies_in_its_raw_boot_partition() {
    let b = board("qemu-aarch64-virt");
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let files = boot_files(&b, &inputs(dir.path(), None), &tree).unwrap();
    assert_eq!(files.tree, None);
    assert!(!tree.exists(), "a raw boot partition has no tree");
    let raw = files.raw.unwrap();
    let boot = b.layout.partition(Role::Boot).unwrap();
    assert_eq!(raw.disk_offset, boot.start_bytes());
    assert_eq!(raw.bytes.len(), REGION_LEN);
    let (record, copy) = boot_record::read(&raw.bytes).unwrap();
    assert_eq!(copy, 0);
    assert_eq!(record.state, BootState::new(3));
    assert_eq!(record.state.next_boot(), Some(BootSlot::A));
    // Both copies are valid.
    let (first, second) = raw.bytes.split_at(boot_record::COPY_LEN);
    assert_eq!(BootRecord::parse_copy(first).unwrap(), record);
    assert_eq!(BootRecord::parse_copy(second).unwrap(), record);
}

#[test]
fn tries_outside_one_to_nine_are_refused() {
    let b = board("qemu-aarch64-virt");
    let dir = tempfile::tempdir().unwrap();
    for tries in [0, 10] {
        let mut i = inputs(dir.path(), None);
        i.tries = tries;
        let err = boot_files(&b, &i, dir.path()).unwrap_err();
        assert!(
            matches!(err, BootfsError::BadTries(t) if t == tries),
            "{err}"
        );
    }
}

fn defaults() -> Vec<(String, String)> {
    vec![
        ("bootcmd".into(), "run distro_bootcmd".into()),
        ("kernel_addr_r".into(), "0x00080000".into()),
        ("BOOT_A_LEFT".into(), "9".into()),
    ]
}

#[test]
fn the_uboot_environment_is_the_default_one_with_the_slot_variables() {
    let vars = uboot_vars(&defaults(), &BootState::new(2));
    assert_eq!(
        vars.iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>(),
        [
            "bootcmd=run distro_bootcmd",
            "kernel_addr_r=0x00080000",
            "BOOT_A_LEFT=2",
            "BOOT_ORDER=A B",
            "BOOT_B_LEFT=2"
        ]
    );
    let single = uboot_env_bytes(&vars, 0x4000, false).unwrap();
    assert_eq!(single.len(), 0x4000);
    let env = EnvCopy::parse(&single, Layout::Single).unwrap();
    assert_eq!(env.get("BOOT_ORDER"), Some("A B"));
    assert_eq!(env.get("bootcmd"), Some("run distro_bootcmd"));
    let region = uboot_env_bytes(&vars, 0x2000, true).unwrap();
    let (a, b) = region.split_at(0x2000);
    let (a, b) = (
        EnvCopy::parse(a, Layout::Redundant),
        EnvCopy::parse(b, Layout::Redundant),
    );
    assert_eq!(current(&a, &b), Some(0));
    assert_eq!(b.unwrap().get("BOOT_B_LEFT"), Some("2"));
    let err = uboot_env_bytes(&vars, 64, false).unwrap_err();
    assert!(err.to_string().contains("raise bootstate_size"), "{err}");
}

#[test]
fn a_uboot_board_needs_the_default_environment_and_its_device_tree() {
    let b = board("raspberrypi4");
    let dir = tempfile::tempdir().unwrap();
    let err = boot_files(&b, &inputs(dir.path(), None), &dir.path().join("t")).unwrap_err();
    assert!(
        err.to_string()
            .contains("replaces U-Boot's built-in one whole"),
        "{err}"
    );
    let d = defaults();
    let err = boot_files(&b, &inputs(dir.path(), Some(&d)), &dir.path().join("t")).unwrap_err();
    assert!(err.to_string().contains("no device tree"), "{err}");
    assert_eq!(err.status(), Status::Usage);
}

#[test]
fn the_uboot_script_follows_raucs_logic_for_the_board() {
    let text = uboot_script(&board("raspberrypi4"));
    for line in [
        "test -n \"${BOOT_ORDER}\" || setenv BOOT_ORDER \"A B\"",
        "test -n \"${BOOT_A_LEFT}\" || setenv BOOT_A_LEFT 3",
        "for BOOT_SLOT in \"${BOOT_ORDER}\"; do",
        "      if test ${BOOT_B_LEFT} -gt 0; then",
        "        setexpr BOOT_B_LEFT ${BOOT_B_LEFT} - 1",
        "        setenv nanolin_root /dev/mmcblk0p3",
        "  saveenv",
        "  reset",
        "setenv bootargs \"console=ttyS1,115200 root=${nanolin_root} \
         nanolin.slot=${nanolin_slot} rootwait panic=10\"",
        "load ${devtype} ${devnum}:${distro_bootpart} ${kernel_addr_r} Image",
        "load ${devtype} ${devnum}:${distro_bootpart} ${fdt_addr_r} bcm2711-rpi-4-b.dtb",
        "booti ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdt_addr_r}",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }
    // The initramfs loads last: booti takes its size from ${filesize}.
    let initrd = text.find("initrd.img").unwrap();
    assert!(text.find("bcm2711-rpi-4-b.dtb").unwrap() < initrd);
    let bbb = uboot_script(&board("beaglebone-black"));
    assert!(bbb.contains("bootz ${kernel_addr_r} ${ramdisk_addr_r}:${filesize} ${fdt_addr_r}"));
    assert!(bbb.contains("${kernel_addr_r} zImage"));
}

#[test]
fn an_imported_state_is_loaded_from_its_file_and_written_back_by_the_script() {
    let b = board("visionfive2");
    let text = uboot_script(&b);
    let lines: Vec<&str> = text.lines().collect();
    let at = |line: &str| {
        lines
            .iter()
            .position(|l| *l == line)
            .unwrap_or_else(|| panic!("no line {line:?} in:\n{text}"))
    };
    // Where it runs from first (partition 3, after spl and uboot), then the import, then
    // the defaults for what the file lacks.
    let bootpart = at("test -n \"${distro_bootpart}\" || setenv distro_bootpart 3");
    let clear = at("setenv BOOT_ORDER");
    let load =
        at("if load ${devtype} ${devnum}:${distro_bootpart} ${kernel_addr_r} uboot.env; then");
    let import =
        at("  env import -c ${kernel_addr_r} ${filesize} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT");
    let defaults = at("test -n \"${BOOT_ORDER}\" || setenv BOOT_ORDER \"A B\"");
    assert!(bootpart < clear && clear < load && load < import && import < defaults);
    // Written back wherever U-Boot would have saved its environment, never saveenv (which
    // would write the QSPI flash).
    let export = "  env export -c -s 0x10000 ${kernel_addr_r} BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT";
    let write = "  fatwrite ${devtype} ${devnum}:${distro_bootpart} ${kernel_addr_r} uboot.env \
                 0x10000";
    let exports: Vec<usize> = (0..lines.len()).filter(|i| lines[*i] == export).collect();
    assert_eq!(exports.len(), 2, "{text}");
    assert!(exports.iter().all(|i| lines[i + 1] == write), "{text}");
    assert!(!text.contains("saveenv"), "{text}");
    assert!(text.contains("setenv nanolin_root /dev/mmcblk1p4"));
    assert!(text.contains("setenv nanolin_root /dev/mmcblk1p5"));
    // The other U-Boot boards keep U-Boot's own environment.
    for name in ["raspberrypi4", "beaglebone-black"] {
        let other = uboot_script(&board(name));
        assert!(
            !other.contains("env import") && !other.contains("fatwrite"),
            "{name}"
        );
        assert!(other.contains("setenv distro_bootpart 1\n"), "{name}");
    }

    // The file holds the slot variables alone, one 64 KiB copy; no default environment needed.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    fs::write(&file, b"x").unwrap();
    let mut inputs = inputs(&file, None);
    inputs.dtb = Some(&file);
    let files = boot_files(&b, &inputs, &dir.path().join("t")).unwrap_or_else(|e| panic!("{e}"));
    let env = fs::read(files.tree.unwrap().join("uboot.env")).unwrap();
    assert_eq!(env.len(), 64 * 1024);
    let copy = EnvCopy::parse(&env, Layout::Single).unwrap();
    let vars: Vec<(&str, &str)> = copy.vars().collect();
    assert_eq!(
        vars,
        [
            ("BOOT_ORDER", "A B"),
            ("BOOT_A_LEFT", "3"),
            ("BOOT_B_LEFT", "3")
        ]
    );
    assert!(files.raw.is_none());
}

#[test]
fn the_grub_configuration_counts_down_without_arithmetic() {
    let text = grub_cfg(&board("qemu-x86_64"), "EFI/nanolin/grubenv");
    for line in [
        "set nanolin_env=\"($esp)/EFI/nanolin/grubenv\"",
        "load_env -f \"$nanolin_env\" BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT",
        "for slot in $BOOT_ORDER; do",
        "      if [ \"$BOOT_A_LEFT\" = 9 ]; then set BOOT_A_LEFT=8; set nanolin_slot=A",
        "      elif [ \"$BOOT_B_LEFT\" = 1 ]; then set BOOT_B_LEFT=0; set nanolin_slot=B",
        "save_env -f \"$nanolin_env\" BOOT_ORDER BOOT_A_LEFT BOOT_B_LEFT",
        "if [ \"$nanolin_slot\" = A ]; then set nanolin_root=/dev/vda2; \
         else set nanolin_root=/dev/vda3; fi",
        "linux ($esp)/vmlinuz console=ttyS0 root=$nanolin_root \
         nanolin.slot=$nanolin_slot nanolin.watchdog=/dev/watchdog0 panic=-1",
        "initrd ($esp)/initrd.img",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }
}

#[test]
fn the_grub_configuration_shows_the_live_menu_only_from_the_live_medium() {
    let text = grub_cfg(&board("qemu-x86_64"), "EFI/nanolin/grubenv");
    for line in [
        "regexp --set=1:nanolin_disk '^\\(([^,)]*)' \"$cmdpath\"",
        "  if [ -f \"($nanolin_disk)/nanolin/live.cfg\" ]; then",
        "    configfile \"$nanolin_medium/nanolin/live.cfg\"",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }
    // Checked before the slot logic, and never by searching other devices for it.
    assert!(text.find("live.cfg").unwrap() < text.find("load_env").unwrap());
    assert!(!text.contains("search --no-floppy --file --set=nanolin"));
}

#[test]
fn the_live_menu_boots_live_by_default_and_offers_the_installer() {
    let text = grub_live_cfg(
        &board("qemu-x86_64"),
        "Nanolin prime r26.09-G21141320",
        "NANOLIN_PRIME",
    );
    for line in [
        "export nanolin_medium",
        "set timeout=5",
        "set default=0",
        "menuentry \"Nanolin prime r26.09-G21141320 (live)\" --hotkey=l {",
        "  linux $nanolin_medium/vmlinuz console=ttyS0 nanolin.live=NANOLIN_PRIME \
         nanolin.watchdog=/dev/watchdog0 panic=-1",
        "  initrd $nanolin_medium/initrd.img",
        "menuentry \"Install Nanolin prime r26.09-G21141320 to the first disk (erases it)\" \
         --hotkey=i {",
        // No watchdog while installing: nothing pets it.
        "  linux $nanolin_medium/vmlinuz console=ttyS0 nanolin.live=NANOLIN_PRIME \
         nanolin.install=auto panic=-1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in:\n{text}"
        );
    }
    // The live entry comes first: the default.
    assert!(text.find("(live)").unwrap() < text.find("Install").unwrap());
}

#[test]
fn the_grub_environment_block_holds_the_first_state() {
    let block = grub_env_bytes(&BootState::new(3)).unwrap();
    assert_eq!(block.len(), GRUB_ENV_LEN);
    let env = GrubEnv::parse(&block).unwrap();
    assert_eq!(env.get("BOOT_ORDER").unwrap(), "A B");
    assert_eq!(env.get("BOOT_B_LEFT").unwrap(), "3");
}

#[test]
fn kernel_command_lines_name_the_slot() {
    let b = board("qemu-aarch64-virt");
    assert_eq!(
        kernel_cmdline(&b, None),
        "console=ttyAMA0 nanolin.watchdog=/dev/watchdog0 panic=-1"
    );
    assert_eq!(
        kernel_cmdline(&b, Some(BootSlot::B)),
        "console=ttyAMA0 root=/dev/vda3 nanolin.slot=B nanolin.watchdog=/dev/watchdog0 panic=-1"
    );
    // No watchdog on the board, none on the command line.
    let r = board("raspberrypi4");
    assert!(!kernel_cmdline(&r, None).contains("watchdog"));
}

#[test]
fn the_default_environment_is_found_in_a_binary() {
    let mut binary = b"\x7fELF\0\0junk %s=%d\0Hit any key\0".to_vec();
    binary.extend_from_slice(b"bootargs=console=ttyS0\0bootcmd=run distro_bootcmd\0");
    binary.extend_from_slice(b"bootdelay=2\0.flags=ethaddr:mc\0\0\x01\x02more");
    binary.extend_from_slice(b"\0bootcmd=lonely\0\0");
    let env = uboot_default_env(&binary).unwrap();
    assert_eq!(
        env,
        [
            ("bootargs".to_string(), "console=ttyS0".to_string()),
            ("bootcmd".into(), "run distro_bootcmd".into()),
            ("bootdelay".into(), "2".into()),
            (".flags".into(), "ethaddr:mc".into()),
        ]
    );
    assert!(matches!(
        uboot_default_env(b"no environment here\0bootcmd=x"),
        Err(BootfsError::NoDefaultEnv)
    ));
}

#[test]
fn the_memdisk_tar_has_valid_headers() {
    let tar = ustar(&[("boot/grub/grub.cfg", b"echo hi\n")], 1_700_000_000);
    // boot/, boot/grub/, the file header, one data block, two end blocks.
    assert_eq!(tar.len(), 6 * 512);
    for header in [&tar[0..512], &tar[512..1024], &tar[1024..1536]] {
        let stored =
            u32::from_str_radix(std::str::from_utf8(&header[148..154]).unwrap(), 8).unwrap();
        let sum: u32 = header
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(*b)
                }
            })
            .sum();
        assert_eq!(stored, sum);
        assert_eq!(&header[257..263], b"ustar\0");
    }
    assert_eq!(&tar[0..6], b"boot/\0");
    assert_eq!(&tar[512..523], b"boot/grub/\0");
    assert_eq!(&tar[1536..1544], b"echo hi\n");
}
