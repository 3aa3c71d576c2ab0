//! Unit tests of `stage1`.

use super::*;
use nanolin_core::boot_record::{read, BootRecord, REGION_LEN};
use std::string::{String, ToString};
use std::vec::Vec;

const NATIVE: &str = "\
# Written by nanolin release build for qemu-aarch64-virt.
bootstate=native
bootstate_path=/dev/vda1
bootstate_offset=0
slot_a=/dev/vda2
slot_b=\"/dev/vda3\"
data=/dev/vda4
tries=3
";

const GRUB: &str = "\
bootstate=grub
slot_a=/dev/vda2
slot_b=/dev/vda3
data=/dev/vda4
bootfs=/dev/vda1
";

fn conf(text: &str) -> BootConf {
    BootConf::parse(text, |name, _| panic!("unknown {name}")).unwrap()
}

fn region_of(state: BootState, generation: u32) -> [u8; REGION_LEN] {
    let mut region = [0u8; REGION_LEN];
    let mut copy = [0u8; COPY_LEN];
    BootRecord { generation, state }.emit_copy(&mut copy);
    region[..COPY_LEN].copy_from_slice(&copy);
    region
}

/// The region after `pick` is written, as stage1 writes it.
fn written(mut region: [u8; REGION_LEN], pick: &NativePick) -> [u8; REGION_LEN] {
    let at = pick.copy_offset(0) as usize;
    region[at..at + COPY_LEN].copy_from_slice(&pick.copy);
    region
}

#[test]
fn reads_the_native_boot_conf() {
    let c = conf(NATIVE);
    assert_eq!(c.backend, Backend::Native);
    assert_eq!(c.state_device.as_str(), "/dev/vda1");
    assert_eq!(c.state_offset, 0);
    assert_eq!(c.slot_device(BootSlot::A), "/dev/vda2");
    assert_eq!(c.slot_device(BootSlot::B), "/dev/vda3");
    assert_eq!(c.data.as_deref(), Some("/dev/vda4"));
    assert_eq!(c.bootfs, None);
    assert_eq!(c.tries, 3);
    assert_eq!(c.slot_of("/dev/vda3"), Some(BootSlot::B));
    assert_eq!(c.slot_of("/dev/vda4"), None);
}

#[test]
fn boot_conf_defaults_and_bootloader_boards() {
    let c = conf("bootstate=uboot\nslot_a=/dev/mmcblk0p2\nslot_b=/dev/mmcblk0p3\n");
    assert_eq!(c.backend, Backend::UBoot);
    assert_eq!(c.state_device.as_str(), "");
    assert_eq!((c.data, c.tries), (None, DEFAULT_TRIES));
    let c = conf("bootstate=native\nbootstate_path=/dev/mmcblk0\nbootstate_offset=0x100000\nslot_a=/a\nslot_b=/b\n");
    assert_eq!(c.state_offset, 1 << 20);
    // An empty value is no value, as the release build writes it for a board without /data.
    let c = conf("bootstate=grub\nslot_a=/a\nslot_b=/b\ndata=\ntries=\nbootfs=\n");
    assert_eq!((c.data, c.bootfs, c.tries), (None, None, DEFAULT_TRIES));
    // A boot state file: its partition is named, to be mounted for the agent.
    let c = conf(GRUB);
    assert_eq!(c.bootfs.as_deref(), Some("/dev/vda1"));
    let e = BootConf::parse("bootstate=grub\nslot_a=\nslot_b=/b\n", |_, _| {}).unwrap_err();
    assert_eq!(e, ConfError::Missing { name: "slot_a" });
}

#[test]
fn boot_conf_faults_name_the_setting_and_place() {
    let missing = |text: &str| BootConf::parse(text, |_, _| {}).unwrap_err();
    assert_eq!(
        missing("slot_a=/a\nslot_b=/b\n"),
        ConfError::Missing { name: "bootstate" }
    );
    assert_eq!(
        missing("bootstate=native\nslot_a=/a\nslot_b=/b\n"),
        ConfError::Missing {
            name: "bootstate_path"
        }
    );
    assert_eq!(
        missing("bootstate=grub\nslot_a=/a\n"),
        ConfError::Missing { name: "slot_b" }
    );
    let e = missing("bootstate=grub\nslot_a=/a\nslot_b=/b\ntries=0\n");
    assert_eq!(
        e.to_string(),
        "line 4, column 1: tries= must be a number from 1 to 9"
    );
    let e = missing("bootstate=lilo\n");
    assert_eq!(
        e.to_string(),
        "line 1, column 1: bootstate= must be native, uboot or grub"
    );
    for bad in [
        "slot_a=vda2",
        "slot_a=$disk",
        "bootstate_offset=1K",
        "tries=10",
    ] {
        assert!(
            matches!(missing(bad), ConfError::BadValue { .. }),
            "{bad}: {:?}",
            missing(bad)
        );
    }
    let long = std::format!("slot_a=/dev/{}", str::repeat("x", DEVICE_MAX_LEN));
    assert!(matches!(
        missing(&long),
        ConfError::BadValue { name: "slot_a", .. }
    ));
    assert!(matches!(missing("slot_a=/a; reboot"), ConfError::Syntax(_)));
    let mut unknown = Vec::new();
    BootConf::parse(
        "bootstate=grub\nslot_a=/a\nslot_b=/b\nsolt_b=/c\n",
        |n, p| unknown.push((String::from(n), p.line)),
    )
    .unwrap();
    assert_eq!(unknown, [(String::from("solt_b"), 4)]);
}

#[test]
fn reads_slot_and_root_from_the_command_line() {
    let args = KernelArgs::parse(
        "console=ttyAMA0 root=/dev/mmcblk0p3 rootwait nanolin.slot=B panic=-1 \
         nanolin.watchdog=/dev/watchdog0",
    );
    assert_eq!(args.slot, Some(Ok(BootSlot::B)));
    assert_eq!(args.root, Some("/dev/mmcblk0p3"));
    assert_eq!(args.watchdog, Some("/dev/watchdog0"));
    assert_eq!(
        KernelArgs::parse("nanolin.watchdog=watchdog0").watchdog,
        None
    );
    let args = KernelArgs::parse("nanolin.slot=C root=");
    assert_eq!(args.slot, Some(Err("C")));
    assert_eq!(args.root, None);
    assert_eq!(
        KernelArgs::parse("console=ttyAMA0 panic=-1"),
        KernelArgs::default()
    );
    // Not our words: `rootfstype=`, `nanolin.slots=`.
    assert_eq!(
        KernelArgs::parse("rootfstype=squashfs nanolin.slots=A"),
        KernelArgs::default()
    );
}

#[test]
fn the_command_line_wins_then_the_native_record_then_root() {
    let native = conf(NATIVE);
    let uboot = conf("bootstate=uboot\nslot_a=/dev/mmcblk0p2\nslot_b=/dev/mmcblk0p3\n");
    let given = |slot, device| Plan::Given { slot, device };
    // nanolin.slot= wins on any board; root= names the device when it is a path.
    let args = KernelArgs::parse("nanolin.slot=B");
    assert_eq!(plan(&args, &native), given(BootSlot::B, "/dev/vda3"));
    let args = KernelArgs::parse("nanolin.slot=a root=/dev/sda3");
    assert_eq!(plan(&args, &uboot), given(BootSlot::A, "/dev/sda3"));
    let args = KernelArgs::parse("nanolin.slot=A root=PARTUUID=1234-02");
    assert_eq!(plan(&args, &uboot), given(BootSlot::A, "/dev/mmcblk0p2"));
    // Otherwise the native record picks; a bad nanolin.slot= does not count.
    assert_eq!(plan(&KernelArgs::parse(""), &native), Plan::Native);
    assert_eq!(
        plan(&KernelArgs::parse("nanolin.slot=C root=/dev/vda2"), &native),
        Plan::Native
    );
    // A bootloader board without nanolin.slot=: root= tells, if it is one of the slots.
    let args = KernelArgs::parse("root=/dev/mmcblk0p3");
    assert_eq!(plan(&args, &uboot), given(BootSlot::B, "/dev/mmcblk0p3"));
    assert_eq!(
        plan(&KernelArgs::parse("root=/dev/sdb1"), &uboot),
        Plan::Unknown
    );
    assert_eq!(plan(&KernelArgs::parse(""), &uboot), Plan::Unknown);
}

#[test]
fn native_pick_takes_a_try_and_writes_the_other_copy() {
    let region = region_of(BootState::new(3), 7);
    let pick = pick_native(&region, 3);
    assert_eq!(pick.slot, Some(BootSlot::A));
    assert_eq!(pick.found, Ok(BootState::new(3)));
    assert_eq!(TriesLeft(pick.state).to_string(), "A 2, B 3");
    // The current copy (0) is left alone: the write goes to copy 1, one generation later.
    assert_eq!((pick.copy_index, pick.copy_offset(4096)), (1, 4096 + 512));
    let after = written(region, &pick);
    assert_eq!(&after[..COPY_LEN], &region[..COPY_LEN]);
    let (record, at) = read(&after).unwrap();
    assert_eq!((record.generation, at, record.state), (8, 1, pick.state));

    // The next boots: A 1, A 0, then B.
    let pick = pick_native(&after, 3);
    assert_eq!(TriesLeft(pick.state).to_string(), "A 1, B 3");
    assert_eq!(pick.copy_index, 0);
    let after = written(after, &pick);
    let after = written(after, &pick_native(&after, 3));
    let pick = pick_native(&after, 3);
    assert_eq!(pick.slot, Some(BootSlot::B));
    assert_eq!(TriesLeft(pick.state).to_string(), "A 0, B 2");
}

#[test]
fn native_pick_follows_the_order() {
    let mut state = BootState::new(3);
    state.activate(BootSlot::B, 3);
    let pick = pick_native(&region_of(state, 1), 3);
    assert_eq!(pick.slot, Some(BootSlot::B));
    assert_eq!(TriesLeft(pick.state).to_string(), "A 3, B 2");
}

#[test]
fn no_tries_left_gives_both_their_tries_back() {
    let state = BootState::from_parts(&[BootSlot::B, BootSlot::A], 0, 0).unwrap();
    let pick = pick_native(&region_of(state, 41), 3);
    assert_eq!(pick.slot, None);
    assert_eq!(TriesLeft(pick.state).to_string(), "A 3, B 3");
    // The order is kept.
    assert_eq!(pick.state.next_boot(), Some(BootSlot::B));
    let (record, _) = read(&written(region_of(state, 41), &pick)).unwrap();
    assert_eq!((record.generation, record.state), (42, pick.state));
    // A slot left out of the order is put back, so the refill can boot something.
    let state = BootState::from_parts(&[], 0, 0).unwrap();
    let pick = pick_native(&region_of(state, 0), 2);
    assert_eq!(pick.state.next_boot(), Some(BootSlot::A));
    assert_eq!(TriesLeft(pick.state).to_string(), "A 2, B 2");
}

#[test]
fn a_region_without_a_valid_copy_starts_fresh() {
    let pick = pick_native(&[0u8; REGION_LEN], 3);
    assert!(matches!(pick.found, Err(RegionError::NoValidCopy { .. })));
    assert_eq!(pick.slot, Some(BootSlot::A));
    assert_eq!(TriesLeft(pick.state).to_string(), "A 2, B 3");
    assert_eq!(pick.copy_index, 0);
    let (record, _) = read(&written([0u8; REGION_LEN], &pick)).unwrap();
    assert_eq!((record.generation, record.state), (0, pick.state));
    // A torn copy 1 beside a good copy 0: copy 0 counts, and copy 1 is rewritten.
    let mut region = region_of(BootState::new(3), 5);
    region[COPY_LEN..COPY_LEN + 4].copy_from_slice(b"NLBS");
    let pick = pick_native(&region, 3);
    assert_eq!((pick.found, pick.copy_index), (Ok(BootState::new(3)), 1));
}

#[test]
fn layout_constants_agree() {
    let options = OVERLAY_OPTIONS.to_str().unwrap();
    assert_eq!(
        options,
        std::format!("lowerdir={LOWER},upperdir={UPPER},workdir={WORK}")
    );
    for path in [LOWER, OVERLAY_DIR, SLOT_FILE] {
        assert!(path.starts_with(RUN_DIR), "{path}");
    }
    for path in [UPPER, WORK] {
        assert!(path.starts_with(OVERLAY_DIR), "{path}");
    }
    for path in [NEWROOT_DATA, NEWROOT_DATA_STATE, NEWROOT_STATE] {
        assert!(path.starts_with(NEWROOT), "{path}");
    }
    for (from, to) in MOVED {
        assert_eq!(to, std::format!("{NEWROOT}{from}"));
    }
    assert!(EXPECT_PATH.contains(&DEVICE_MAX_LEN.to_string()));
    assert_eq!(slot_file_text(BootSlot::B), "B\n");
    assert_eq!(slot_key(BootSlot::A), "slot_a");
}

#[test]
fn module_paths() {
    let mut path = String::new();
    module_path(
        "6.1.0-56-arm64",
        "kernel/fs/squashfs/squashfs.ko.xz",
        &mut path,
    )
    .unwrap();
    assert_eq!(
        path,
        "/lib/modules/6.1.0-56-arm64/kernel/fs/squashfs/squashfs.ko.xz"
    );
    assert!(is_compressed_module(&path));
    let mut path = String::new();
    module_path("6.1", "/opt/m.ko", &mut path).unwrap();
    assert_eq!(path, "/opt/m.ko");
    assert!(!is_compressed_module(&path));
}

#[test]
fn live_and_install_words_plan_a_live_boot_or_an_install() {
    let native = conf(NATIVE);
    let args = KernelArgs::parse("console=ttyS0 nanolin.live=NANOLIN_PRIME panic=-1");
    assert_eq!(args.live, Some("NANOLIN_PRIME"));
    assert_eq!(args.install, None);
    // Live wins over a slot and the native record.
    assert_eq!(
        plan(&args, &native),
        Plan::Live {
            volume_id: "NANOLIN_PRIME"
        }
    );
    let args = KernelArgs::parse("nanolin.slot=A nanolin.live=V nanolin.install=auto");
    assert_eq!(
        plan(&args, &native),
        Plan::Install {
            volume_id: "V",
            target: Ok(Target::Auto)
        }
    );
    let args = KernelArgs::parse("nanolin.live=V nanolin.install=/dev/nvme0n1");
    assert_eq!(
        plan(&args, &native),
        Plan::Install {
            volume_id: "V",
            target: Ok(Target::Device("/dev/nvme0n1"))
        }
    );
    // A target that names no device is handed back as typed.
    for bad in ["sda", "/dev/", "/tmp/x", "AUTO"] {
        let line = std::format!("nanolin.live=V nanolin.install={bad}");
        let args = KernelArgs::parse(&line);
        assert_eq!(
            plan(&args, &native),
            Plan::Install {
                volume_id: "V",
                target: Err(bad)
            },
            "{bad}"
        );
    }
    let long = std::format!("/dev/{}", "x".repeat(DEVICE_MAX_LEN));
    assert_eq!(Target::parse(&long), None);
    // Install without a medium, and empty words.
    assert_eq!(
        plan(&KernelArgs::parse("nanolin.install=auto"), &native),
        Plan::NoMedium
    );
    assert_eq!(
        KernelArgs::parse("nanolin.live= nanolin.install="),
        KernelArgs::default()
    );
}

#[test]
fn whole_disks_are_told_from_partitions_and_other_devices() {
    for disk in [
        "vda", "vdb", "vdaa", "sda", "sdz", "hda", "xvda", "nvme0n1", "nvme10n2", "mmcblk0",
        "mmcblk12",
    ] {
        assert!(is_whole_disk(disk), "{disk}");
        assert!(!is_cdrom(disk), "{disk}");
    }
    for other in [
        "vda1",
        "sda2",
        "nvme0n1p1",
        "nvme0",
        "nvmen1",
        "mmcblk0p1",
        "mmcblk0boot0",
        "mmcblk0boot1",
        "mmcblk0rpmb",
        "mmcblk",
        "loop0",
        "ram0",
        "zram0",
        "sr0",
        "dm-0",
        "md0",
        "nbd0",
        "vd",
        "sd",
        "",
        "VDA",
    ] {
        assert!(!is_whole_disk(other), "{other}");
    }
    assert!(is_cdrom("sr0") && is_cdrom("sr12"));
    assert!(!is_cdrom("sr") && !is_cdrom("sra") && !is_cdrom("scd0"));
}

#[test]
fn the_first_disk_has_the_shortest_name_then_the_first_in_order() {
    let mut disks = ["vdaa", "nvme0n1", "vdb", "sda", "vda", "mmcblk0"];
    disks.sort_by(|a, b| {
        if disk_before(a, b) {
            core::cmp::Ordering::Less
        } else if disk_before(b, a) {
            core::cmp::Ordering::Greater
        } else {
            core::cmp::Ordering::Equal
        }
    });
    assert_eq!(disks, ["sda", "vda", "vdb", "vdaa", "mmcblk0", "nvme0n1"]);
    assert!(!disk_before("vda", "vda"));
}

#[test]
fn progress_counts_tenths() {
    assert_eq!(tenths(0, 100), 0);
    assert_eq!(tenths(9, 100), 0);
    assert_eq!(tenths(10, 100), 1);
    assert_eq!(tenths(99, 100), 9);
    assert_eq!(tenths(100, 100), 10);
    assert_eq!(tenths(200, 100), 10);
    assert_eq!(tenths(0, 0), 10);
    // Past u64::MAX / 10 bytes, no overflow.
    assert_eq!(tenths(u64::MAX / 2, u64::MAX), 5);
    assert_eq!(tenths(u64::MAX, u64::MAX), 10);
    assert_eq!(tenths(u64::MAX / 10 * 9, u64::MAX / 10), 10);
}

#[test]
fn the_live_slot_file_says_live() {
    assert_eq!(
        LIVE_SLOT_FILE_TEXT,
        std::format!("{}\n", nanolin_core::medium::LIVE_SLOT)
    );
    assert!(MEDIUM.starts_with(RUN_DIR));
    assert!(BLOCK_NAME_MAX_LEN + "/dev/".len() <= DEVICE_MAX_LEN);
}
