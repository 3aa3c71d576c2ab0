use super::*;

/// A U-Boot board with every key, raw redundant state before the first partition.
const FULL: &str = "# boards/test.conf
name=test
compatible=$name
description=\"A test board\"
target=armv7-unknown-linux-gnueabihf
debian_arch=armhf
qemu_user=qemu-arm-static
kernel=debian:linux-image-armmp
kernel_cmdline=\"rootwait  panic=10\"
console=ttyS0,115200n8
dtb=am335x-boneblack.dtb
bootloader=uboot
uboot_package=u-boot-omap
bootstate_partition=disk
bootstate_offset=0x260000
bootstate_size=128K
bootstate_redundant=yes
disk_size=3584M
partition_align=4M
first_partition_offset=4M
partitions=\"boot:64M root_a:1G root_b:1G data:512M\"
disk_device=/dev/mmcblk0
qemu=\"\"
";

/// A native QEMU board with only what is required (and qemu).
const MINIMAL: &str = "name=test
description=\"QEMU\"
target=aarch64-unknown-linux-musl
debian_arch=arm64
qemu_user=qemu-aarch64-static
kernel=debian:linux-image-arm64
console=ttyAMA0
bootloader=native
bootstate_partition=boot
bootstate_offset=0
disk_size=2G
partitions=\"boot:8M root_a:512M root_b:512M data:512M\"
disk_device=/dev/vda
";

/// A GRUB board.
const GRUB: &str = "name=test
description=\"PC\"
target=x86_64-unknown-linux-musl
debian_arch=amd64
qemu_user=qemu-x86_64-static
kernel=debian:linux-image-amd64
console=ttyS0
bootloader=grub
grub_package=grub-efi-amd64-bin
efi=yes
bootstate_partition=boot
bootstate_file=EFI/nanolin/grubenv
disk_size=2G
partitions=\"boot:64M root_a:512M root_b:512M data:512M\"
disk_device=/dev/vda
qemu=\"qemu-system-x86_64 -M q35 -m 512M\"
watchdog=i6300esb
";

/// `text` with the line starting with `start` replaced by `line` (removed when empty).
fn with_line(text: &str, start: &str, line: &str) -> String {
    let mut found = false;
    let mut out = String::new();
    for l in text.split_inclusive('\n') {
        if !found && l.starts_with(start) {
            found = true;
            if !line.is_empty() {
                out.push_str(line);
                out.push('\n');
            }
        } else {
            out.push_str(l);
        }
    }
    assert!(found, "no line starts with {start:?}");
    out
}

fn parse(text: &str) -> Result<Board, BoardError> {
    Board::parse(Path::new("boards/test.conf"), text.as_bytes())
}

fn parse_ok(text: &str) -> Board {
    parse(text).unwrap_or_else(|e| panic!("{e}"))
}

/// The error message for `text`.
fn error(text: &str) -> String {
    match parse(text) {
        Ok(board) => panic!("accepted: {board:?}"),
        Err(e) => e.to_string(),
    }
}

fn boards_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../boards")
}

const MIB: u64 = 2048; // sectors

#[test]
fn full_board_reads_every_key() {
    let b = parse_ok(FULL);
    assert_eq!(b.name, "test");
    assert_eq!(b.compatible, "test");
    assert_eq!(b.description, "A test board");
    assert_eq!(b.target, "armv7-unknown-linux-gnueabihf");
    assert_eq!(b.arch, Arch::Armv7);
    assert_eq!(b.qemu_user, "qemu-arm-static");
    assert_eq!(
        b.kernel,
        KernelSource::Debian("linux-image-armmp".to_string())
    );
    assert_eq!(b.kernel.to_string(), "debian:linux-image-armmp");
    assert_eq!(b.kernel_cmdline, "rootwait panic=10");
    assert_eq!(b.console, "ttyS0,115200n8");
    assert_eq!(b.dtb.as_deref(), Some("am335x-boneblack.dtb"));
    assert_eq!(b.bootloader, Bootloader::Uboot);
    assert_eq!(b.bootloader_package.as_deref(), Some("u-boot-omap"));
    assert!(!b.efi);
    assert_eq!(
        b.boot_state,
        BootState {
            location: StateLocation::Disk { offset: 0x260000 },
            size: 128 * 1024,
            redundant: true,
            import: false,
        }
    );
    assert_eq!(
        b.boot_state.disk_range(&b.layout),
        Some((0x260000, 0x40000))
    );
    assert_eq!(b.disk_size, 3584 << 20);
    assert!(b.qemu.is_empty());
    assert!(!b.has_qemu());
    assert_eq!(b.watchdog, None);
}

#[test]
fn layout_is_aligned_in_order_after_the_first_offset() {
    let b = parse_ok(FULL);
    let l = &b.layout;
    assert_eq!(l.disk_sectors, 3584 * MIB);
    assert_eq!(l.align_sectors, 4 * MIB);
    assert_eq!(l.first_usable, 34);
    assert_eq!(l.last_usable, 3584 * MIB - 34);
    let got: Vec<(Role, u64, u64)> = l
        .partitions
        .iter()
        .map(|p| (p.role, p.start_sector, p.size_sectors))
        .collect();
    assert_eq!(
        got,
        [
            (Role::Boot, 4 * MIB, 64 * MIB),
            (Role::RootA, 68 * MIB, 1024 * MIB),
            (Role::RootB, 1092 * MIB, 1024 * MIB),
            (Role::Data, 2116 * MIB, 512 * MIB),
        ]
    );
    assert_eq!(
        l.partition(Role::Data).map(Partition::end_sector),
        Some(2628 * MIB)
    );
}

#[test]
fn minimal_board_takes_the_defaults() {
    let b = parse_ok(MINIMAL);
    assert_eq!(b.compatible, "test");
    assert_eq!(b.kernel_cmdline, "");
    assert_eq!(b.dtb, None);
    assert_eq!(b.bootloader, Bootloader::Native);
    assert_eq!(b.bootloader_package, None);
    assert_eq!(
        b.boot_state,
        BootState {
            location: StateLocation::Partition {
                role: Role::Boot,
                offset: 0
            },
            size: 1024,
            redundant: false,
            import: false,
        }
    );
    assert_eq!(b.boot_state.disk_range(&b.layout), Some((1 << 20, 1024)));
    // Default alignment and first offset: 1 MiB.
    assert_eq!(b.layout.align_sectors, MIB);
    let starts: Vec<u64> = b.layout.partitions.iter().map(|p| p.start_sector).collect();
    assert_eq!(starts, [MIB, 9 * MIB, 521 * MIB, 1033 * MIB]);
}

#[test]
fn grub_board_keeps_its_state_in_a_file_on_the_esp() {
    let b = parse_ok(GRUB);
    assert_eq!(b.bootloader, Bootloader::Grub);
    assert_eq!(b.bootloader_package.as_deref(), Some("grub-efi-amd64-bin"));
    assert!(b.efi);
    assert_eq!(
        b.boot_state.location,
        StateLocation::File {
            role: Role::Boot,
            path: "EFI/nanolin/grubenv".to_string()
        }
    );
    assert_eq!(b.boot_state.size, 1024);
    assert_eq!(b.boot_state.disk_range(&b.layout), None);
    assert_eq!(
        b.qemu,
        ["qemu-system-x86_64", "-M", "q35", "-m", "512M"].map(String::from)
    );
    assert_eq!(b.watchdog.as_deref(), Some("i6300esb"));
}

#[test]
fn every_board_in_the_repository_reads_and_fits() {
    let names = Board::list(&boards_dir()).unwrap();
    for expected in [
        "beaglebone-black",
        "qemu-aarch64-virt",
        "qemu-riscv64-virt",
        "qemu-x86_64",
        "raspberrypi4",
        "visionfive2",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "no boards/{expected}.conf"
        );
    }
    assert!(names.iter().any(|n| n == DEFAULT_BOARD));
    for name in &names {
        let b = Board::find(&boards_dir(), name).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&b.name, name);
        let l = &b.layout;
        assert_eq!(l.partitions.len(), 4, "{name}");
        let mut previous_end = l.first_usable;
        for p in &l.partitions {
            assert_eq!(p.start_sector % l.align_sectors, 0, "{name}: {p:?}");
            assert!(p.start_sector >= previous_end, "{name}: {p:?}");
            previous_end = p.end_sector();
        }
        assert!(previous_end <= l.last_usable + 1, "{name}");
        assert!(l.last_usable + 1 + GPT_BACKUP_SECTORS <= b.disk_size / SECTOR_SIZE);
        for role in ROLES {
            assert_eq!(l.partitions.iter().filter(|p| p.role == role).count(), 1);
        }
        if let Some((offset, len)) = b.boot_state.disk_range(l) {
            assert!(offset + len <= b.disk_size, "{name}");
        }
        assert_eq!(b.has_qemu(), name.starts_with("qemu-"), "{name}");
    }
}

#[test]
fn default_board_keeps_the_keys_the_scripts_source() {
    let b = Board::find(&boards_dir(), DEFAULT_BOARD).unwrap();
    assert_eq!(b.name, "qemu-aarch64-virt");
    assert_eq!(b.compatible, "qemu-aarch64-virt");
    assert_eq!(
        b.description,
        "QEMU aarch64 virt machine, emulated on any host"
    );
    assert_eq!(b.target, "aarch64-unknown-linux-musl");
    assert_eq!(b.console, "ttyAMA0");
    assert_eq!(b.qemu_user, "qemu-aarch64-static");
    assert_eq!(b.bootloader, Bootloader::Native);
    assert_eq!(
        b.qemu.first().map(String::as_str),
        Some("qemu-system-aarch64")
    );
}

#[test]
fn real_boards_have_their_documented_choices() {
    let find = |name| Board::find(&boards_dir(), name).unwrap();
    let bbb = find("beaglebone-black");
    assert_eq!(bbb.layout.partitions[0].start_bytes(), 4 << 20);
    assert_eq!(
        bbb.boot_state.disk_range(&bbb.layout),
        Some((0x260000, 0x40000))
    );
    let vf2 = find("visionfive2");
    assert_eq!(vf2.layout.partitions[0].start_bytes(), 8 << 20);
    assert_eq!(vf2.bootloader_package.as_deref(), Some("u-boot-starfive"));
    let rpi = find("raspberrypi4");
    assert_eq!(rpi.dtb.as_deref(), Some("broadcom/bcm2711-rpi-4-b.dtb"));
    let pc = find("qemu-x86_64");
    assert!(pc.efi);
    assert_eq!(pc.bootloader, Bootloader::Grub);
}

#[test]
fn find_refuses_an_unknown_board_listing_the_known_ones() {
    let e = Board::find(&boards_dir(), "raspberrypi5").unwrap_err();
    assert!(e.place().is_none());
    let message = e.to_string();
    assert!(
        message.contains("no board `raspberrypi5` in ")
            && message.contains(": did you mean `raspberrypi4`? (known boards: beaglebone-black, "),
        "{message}"
    );
    assert!(message.contains("qemu-aarch64-virt"), "{message}");
    // A name that is not a board name never reaches the file system.
    let e = Board::find(&boards_dir(), "../boards/qemu-x86_64").unwrap_err();
    assert!(matches!(e, BoardError::UnknownBoard { .. }), "{e}");
}

#[test]
fn find_in_an_empty_folder_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let e = Board::find(dir.path(), "x").unwrap_err();
    assert!(e.to_string().ends_with("(it has no .conf files)"), "{e}");
    let e = Board::find(&dir.path().join("missing"), "x").unwrap_err();
    assert!(matches!(e, BoardError::Io { .. }), "{e}");
}

#[test]
fn load_names_the_file_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.conf");
    fs::write(&path, with_line(MINIMAL, "console=", "consol=ttyS0")).unwrap();
    let e = Board::load(&path).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:7:1: unknown key `consol`: did you mean `console`? (every key is listed in the \
             README's Boards section)",
            path.display()
        )
    );
    let e = Board::load(&dir.path().join("none.conf")).unwrap_err();
    assert!(e.to_string().starts_with("unable to read "), "{e}");
}

#[test]
fn sizes_follow_one_rule() {
    assert_eq!(parse_size("512"), Some(512));
    assert_eq!(parse_size("16K"), Some(16 * 1024));
    assert_eq!(parse_size("64M"), Some(64 << 20));
    assert_eq!(parse_size("2G"), Some(2 << 30));
    assert_eq!(parse_size("0x260000"), Some(0x260000));
    assert_eq!(parse_size("0xFf"), Some(255));
    assert_eq!(parse_size("0"), Some(0));
    for bad in [
        "",
        "K",
        "0x",
        "1k",
        "1.5M",
        "-1",
        " 1",
        "1 M",
        "0x1M",
        "1MB",
        "1T",
        "1KK",
        "0X10",
        "99999999999999999999",
        "17179869184G",
    ] {
        assert_eq!(parse_size(bad), None, "{bad:?}");
    }
}

#[test]
fn unknown_keys_are_refused_with_the_nearest_known_one() {
    let cases = [
        ("bootsate_size=1K", "bootstate_size"),
        ("Console=ttyS0", "console"),
        ("cmdline=quiet", "kernel_cmdline"),
        ("kernel_cmd_line=quiet", "kernel_cmdline"),
        ("partition=x", "partitions"),
        ("uboot_pacakge=u-boot-rpi", "uboot_package"),
    ];
    for (line, near) in cases {
        let text = format!("{MINIMAL}{line}\n");
        let key = line.split('=').next().unwrap();
        assert_eq!(
            error(&text),
            format!(
                "boards/test.conf:14:1: unknown key `{key}`: did you mean `{near}`? (every key is \
                 listed in the README's Boards section)"
            )
        );
    }
    let message = error(&format!("{MINIMAL}colour=blue\n"));
    assert!(
        message.starts_with(
            "boards/test.conf:14:1: unknown key `colour`: a board file has only these keys: \
             name, compatible, description,"
        ),
        "{message}"
    );
}

#[test]
fn a_key_twice_export_and_functions_are_refused() {
    assert_eq!(
        error(&format!("{MINIMAL}console=ttyS0\n")),
        "boards/test.conf:14:1: `console` is assigned twice (first on line 7): keep one"
    );
    assert_eq!(
        error(&with_line(MINIMAL, "console=", "export console=ttyS0")),
        "boards/test.conf:7:8: `export console=…`: board files export nothing: write \
         `console=…`"
    );
    assert_eq!(
        error(&format!("{MINIMAL}build() {{\n  make\n}}\n")),
        "boards/test.conf:14:1: `build()` is a shell function: board files have only \
         key=value lines"
    );
}

#[test]
fn syntax_errors_and_variables_name_their_place() {
    assert_eq!(
        error(&with_line(MINIMAL, "console=", "console = ttyS0")),
        "boards/test.conf:7:8: no spaces around `=`: write `name=value`, or quote a value with \
         spaces"
    );
    assert_eq!(
        error(&with_line(MINIMAL, "description=", "description=$board")),
        "boards/test.conf:2:1: $board is not defined above this line: define it first (board \
         files see no environment variables)"
    );
    let b = parse_ok(&with_line(
        MINIMAL,
        "description=",
        "description=\"${name} board\"",
    ));
    assert_eq!(b.description, "test board");
    let e = parse(&format!(
        "{MINIMAL}qemu=\"{}\"\n",
        "x".repeat(VALUE_MAX_LEN + 1)
    ))
    .unwrap_err();
    assert!(matches!(e, BoardError::ValueTooLong { .. }), "{e}");
}

#[test]
fn missing_keys_are_reported_at_the_end_with_what_to_add() {
    for key in [
        "name",
        "description",
        "target",
        "debian_arch",
        "qemu_user",
        "kernel",
        "console",
        "bootloader",
        "bootstate_partition",
        "disk_size",
        "disk_device",
        "partitions",
    ] {
        let text = with_line(MINIMAL, &format!("{key}="), "");
        let message = error(&text);
        assert!(
            message.starts_with(&format!(
                "boards/test.conf:13:1: the board has no `{key}`: add "
            )),
            "{key}: {message}"
        );
    }
    assert_eq!(
        error(&with_line(MINIMAL, "bootstate_offset=", "")),
        "boards/test.conf:13:1: the board has no `bootstate_offset`: a raw boot state needs its \
         place: add bootstate_offset=… (bytes from the start of the partition or disk), or \
         bootstate_file=… for a file"
    );
    assert!(error(&with_line(FULL, "uboot_package=", ""))
        .contains("the board has no `uboot_package`: a U-Boot board names the Debian package"));
    assert!(error(&with_line(FULL, "bootstate_size=", ""))
        .contains("the board has no `bootstate_size`: U-Boot's environment size"));
    assert!(
        error(&with_line(GRUB, "grub_package=", "")).contains("the board has no `grub_package`")
    );
}

#[test]
fn name_must_be_the_file_name() {
    assert_eq!(
        error(&with_line(MINIMAL, "name=", "name=other")),
        "boards/test.conf:1:1: name `other` differs from the file's name `test`: a board is \
         named by its file: write name=test, or rename the file to other.conf"
    );
    assert!(error(&with_line(MINIMAL, "name=", "name=Test")).contains("name `Test` is invalid"));
}

#[test]
fn target_architecture_and_emulator_agree() {
    assert_eq!(
        error(&with_line(
            MINIMAL,
            "target=",
            "target=aarch64-unknown-linux-gnu"
        )),
        "boards/test.conf:3:1: target `aarch64-unknown-linux-gnu` is invalid: the boards build \
         for aarch64-unknown-linux-musl, x86_64-unknown-linux-musl, \
         riscv64gc-unknown-linux-gnu, armv7-unknown-linux-gnueabihf: did you mean \
         `aarch64-unknown-linux-musl`?"
    );
    assert_eq!(
        error(&with_line(MINIMAL, "debian_arch=", "debian_arch=aarch64")),
        "boards/test.conf:4:1: debian_arch `aarch64` is invalid: target \
         aarch64-unknown-linux-musl is Debian's arm64: write debian_arch=arm64"
    );
    assert_eq!(
        error(&with_line(
            MINIMAL,
            "qemu_user=",
            "qemu_user=qemu-arm-static"
        )),
        "boards/test.conf:5:1: qemu_user `qemu-arm-static` is invalid: \
         aarch64-unknown-linux-musl binaries run under qemu-aarch64-static (or qemu-aarch64)"
    );
    parse_ok(&with_line(MINIMAL, "qemu_user=", "qemu_user=qemu-aarch64"));
}

#[test]
fn kernel_console_and_device_tree_are_checked() {
    assert!(
        error(&with_line(MINIMAL, "kernel=", "kernel=linux-image-arm64"))
            .contains("write debian:PACKAGE")
    );
    assert!(error(&with_line(MINIMAL, "kernel=", "kernel=debian:Linux")).contains("invalid"));
    for bad in ["tty S0", "ttyS0,", "0tty", "ttyS0,115200 n8", "/dev/ttyS0"] {
        let line = format!("console=\"{bad}\"");
        assert!(
            error(&with_line(MINIMAL, "console=", &line)).contains("a console is a device name"),
            "{bad}"
        );
    }
    assert_eq!(
        error(&format!(
            "{MINIMAL}kernel_cmdline=\"quiet console=ttyS1\"\n"
        )),
        "boards/test.conf:14:1: kernel_cmdline `console=ttyS1` is invalid: the tools set \
         console= (from the console key) and root= (the booted slot): leave it out"
    );
    assert!(error(&format!("{MINIMAL}kernel_cmdline=root=/dev/vda2\n")).contains("root="));
    for bad in ["/boot/x.dtb", "../x.dtb", "a//b.dtb", "x.dts", "a/./b.dtb"] {
        assert!(
            error(&format!("{MINIMAL}dtb={bad}\n")).contains("a device tree is a .dtb file"),
            "{bad}"
        );
    }
}

#[test]
fn bootloader_keys_must_apply() {
    assert_eq!(
        error(&with_line(MINIMAL, "bootloader=", "bootloader=u-boot")),
        "boards/test.conf:8:1: bootloader `u-boot` is invalid: the bootloader is uboot, grub or \
         native (init picks the slot): did you mean `uboot`?"
    );
    assert_eq!(
        error(&format!("{MINIMAL}uboot_package=u-boot-qemu\n")),
        "boards/test.conf:14:1: `uboot_package` does not apply here: bootloader=native has no \
         bootloader package: remove it"
    );
    assert!(error(&format!("{GRUB}uboot_package=u-boot-qemu\n"))
        .contains("`uboot_package` does not apply here: the bootloader is grub"));
    assert!(error(&format!("{FULL}grub_package=grub-efi\n"))
        .contains("`grub_package` does not apply here: the bootloader is uboot"));
    assert!(error(&with_line(GRUB, "efi=", "efi=no")).contains("efi `no` is invalid: GRUB"));
    assert!(error(&with_line(GRUB, "efi=", "")).contains("the board has no `efi`: GRUB"));
    assert!(error(&format!("{MINIMAL}efi=yes\n")).contains("only GRUB boards boot by UEFI"));
    assert!(error(&format!("{MINIMAL}efi=true\n")).contains("efi is yes or no"));
    assert!(
        error(&with_line(FULL, "uboot_package=", "uboot_package=U-Boot"))
            .contains("a Debian package name")
    );
}

#[test]
fn boot_state_fits_its_bootloader() {
    // Native: raw only, 1K.
    assert!(error(&with_line(
        MINIMAL,
        "bootstate_offset=",
        "bootstate_file=state"
    ))
    .contains("`bootstate_file` does not apply here: init's early stage reads the native record"));
    assert!(error(&format!("{MINIMAL}bootstate_size=2K\n"))
        .contains("the native record (two 512-byte copies) is 1024 bytes"));
    parse_ok(&format!("{MINIMAL}bootstate_size=0x400\n"));
    assert!(error(&format!("{MINIMAL}bootstate_redundant=yes\n"))
        .contains("only U-Boot has a redundant environment"));
    // GRUB: a file only, 1K.
    assert!(error(&format!("{GRUB}bootstate_offset=0\n")).contains("not both"));
    assert!(
        error(&with_line(GRUB, "bootstate_file=", "bootstate_offset=0"))
            .contains("GRUB reads its environment block from a file")
    );
    assert!(error(&format!("{GRUB}bootstate_size=16K\n"))
        .contains("GRUB's environment block is 1024 bytes"));
    assert!(error(&with_line(
        GRUB,
        "bootstate_file=",
        "bootstate_file=/EFI/grubenv"
    ))
    .contains("a relative path"));
    assert!(error(&with_line(
        GRUB,
        "bootstate_partition=",
        "bootstate_partition=disk"
    ))
    .contains("bootstate_partition=disk is raw"));
    // U-Boot.
    assert!(
        error(&with_line(FULL, "bootstate_size=", "bootstate_size=100"))
            .contains("a U-Boot environment is 256 bytes to 1M")
    );
    assert!(
        error(&with_line(FULL, "bootstate_size=", "bootstate_size=2M"))
            .contains("a U-Boot environment is 256 bytes to 1M")
    );
    assert!(error(&with_line(
        FULL,
        "bootstate_offset=",
        "bootstate_offset=0x260100"
    ))
    .contains("512-byte sector"));
    assert!(error(&with_line(
        FULL,
        "bootstate_redundant=",
        "bootstate_redundant=1"
    ))
    .contains("it is yes or no"));
    let file = with_line(
        &with_line(FULL, "bootstate_partition=", "bootstate_partition=boot"),
        "bootstate_offset=",
        "bootstate_file=uboot.env",
    );
    assert!(error(&file).contains("a redundant environment is a second copy right after"));
    let b = parse_ok(&with_line(
        &file,
        "bootstate_redundant=",
        "bootstate_redundant=no",
    ));
    assert_eq!(
        b.boot_state.location,
        StateLocation::File {
            role: Role::Boot,
            path: "uboot.env".to_string()
        }
    );
}

#[test]
fn boot_state_stays_where_it_belongs() {
    assert_eq!(
        error(&with_line(
            FULL,
            "bootstate_partition=",
            "bootstate_partition=root_a"
        )),
        "boards/test.conf:14:1: bootstate_partition `root_a` is invalid: an update rewrites the \
         root slots, and the boot state must outlive it: write boot (or disk)"
    );
    assert!(error(&with_line(
        FULL,
        "bootstate_partition=",
        "bootstate_partition=data"
    ))
    .contains("the data partition holds a file system"));
    assert!(error(&with_line(
        FULL,
        "bootstate_partition=",
        "bootstate_partition=bot"
    ))
    .contains("did you mean `boot`?"));
    // Raw on the disk: both copies before the first partition (4 MiB), after the GPT.
    assert_eq!(
        error(&with_line(
            FULL,
            "bootstate_offset=",
            "bootstate_offset=0x3E0000"
        )),
        "boards/test.conf:15:1: bootstate_offset `0x3E0000` is invalid: both copies of the boot \
         state must lie between the primary GPT (17 KiB) and the first partition (4 MiB \
         (4194304 bytes)): move it, or raise first_partition_offset"
    );
    parse_ok(&with_line(
        FULL,
        "bootstate_offset=",
        "bootstate_offset=0x3C0000",
    ));
    assert!(error(&with_line(
        FULL,
        "bootstate_offset=",
        "bootstate_offset=0x4000"
    ))
    .contains("between the primary GPT"));
    parse_ok(&with_line(
        FULL,
        "bootstate_offset=",
        "bootstate_offset=17K",
    ));
    // Raw in the boot partition (8 MiB here).
    assert!(error(&with_line(
        MINIMAL,
        "bootstate_offset=",
        "bootstate_offset=8M"
    ))
    .contains("must lie inside the boot partition (8 MiB (8388608 bytes))"));
    parse_ok(&with_line(
        MINIMAL,
        "bootstate_offset=",
        "bootstate_offset=0x7FFC00",
    ));
}

#[test]
fn a_layout_that_does_not_fit_names_both_figures() {
    // 1 MiB before, 8 + 3 x 512 MiB of partitions, 33 sectors of backup GPT.
    assert_eq!(
        error(&with_line(MINIMAL, "disk_size=", "disk_size=1G")),
        "boards/test.conf:12:1: the partitions do not fit the disk: they need 1545.02 MiB \
         (1620066816 bytes) with alignment and both GPTs, but disk_size (line 11) is 1 GiB \
         (1073741824 bytes): shrink the partitions or raise disk_size"
    );
    // The last partition may end at the last usable sector, and not one sector later.
    let fits = (1545 * MIB + GPT_BACKUP_SECTORS) * SECTOR_SIZE;
    let b = parse_ok(&with_line(
        MINIMAL,
        "disk_size=",
        &format!("disk_size={fits}"),
    ));
    assert_eq!(
        b.layout.partitions[3].end_sector(),
        b.layout.last_usable + 1
    );
    let short = fits - SECTOR_SIZE;
    let message = error(&with_line(
        MINIMAL,
        "disk_size=",
        &format!("disk_size={short}"),
    ));
    assert!(
        message.contains("they need 1545.02 MiB (1620066816 bytes)"),
        "{message}"
    );
    assert!(error(&with_line(MINIMAL, "disk_size=", "disk_size=1000"))
        .contains("a disk is a whole number of 512-byte sectors"));
    assert!(error(&with_line(MINIMAL, "disk_size=", "disk_size=16K"))
        .contains("no room for partitions"));
    assert!(error(&with_line(MINIMAL, "disk_size=", "disk_size=2g")).contains("a size is"));
}

#[test]
fn layout_compute_leaves_both_gpts_alone() {
    // A 1 MiB partition on a disk of exactly 1 MiB + GPTs, unaligned.
    let l = Layout::compute(34 + 2048 + 33, 1, 0, &[(Role::Data, 2048)]).unwrap();
    assert_eq!(l.partitions[0].start_sector, 34);
    assert_eq!(l.last_usable, 34 + 2048 - 1);
    assert_eq!(
        Layout::compute(34 + 2048 + 32, 1, 0, &[(Role::Data, 2048)]),
        Err(LayoutError::DoesNotFit {
            needed_sectors: 34 + 2048 + 33,
            disk_sectors: 34 + 2048 + 32
        })
    );
    assert_eq!(
        Layout::compute(67, 1, 0, &[]),
        Err(LayoutError::DiskTooSmall { disk_sectors: 67 })
    );
    // Sizes near u64::MAX saturate instead of wrapping around to fit.
    assert!(Layout::compute(u64::MAX, 2048, 2048, &[(Role::Boot, u64::MAX - 10)]).is_err());
    assert!(Layout::compute(
        u64::MAX / 2,
        2048,
        2048,
        &[(Role::Boot, u64::MAX / 2), (Role::Data, u64::MAX / 2)]
    )
    .is_err());
}

#[test]
fn partitions_are_checked_entry_by_entry() {
    let with = |value: &str| with_line(MINIMAL, "partitions=", &format!("partitions=\"{value}\""));
    // The column points at the entry: `partitions="` is 12 bytes, so the first entry is at 13.
    assert_eq!(
        error(&with("boot:8M rot_a:512M root_b:512M data:512M")),
        "boards/test.conf:12:21: partitions `rot_a:512M` is invalid: the roles are boot, \
         root_a, root_b and data: did you mean `root_a`?"
    );
    assert_eq!(
        error(&with("boot:8M root_a:512M root_b:512M boot:8M data:1M")),
        "boards/test.conf:12:13: partitions `boot:8M` is invalid: boot is listed twice: list \
         each role once"
    );
    assert!(error(&with("boot:8M root_a:512M root_b:512M")).starts_with(
        "boards/test.conf:12:1: partitions `boot:8M root_a:512M root_b:512M` is \
                      invalid: there is no data partition"
    ));
    assert!(error(&with("boot=8M root_a:512M root_b:512M data:1M"))
        .contains("a partition is ROLE:SIZE"));
    assert!(error(&with("boot:8m root_a:512M root_b:512M data:1M")).contains("a size is"));
    assert!(error(&with("boot:0 root_a:512M root_b:512M data:1M"))
        .contains("whole number of 512-byte sectors"));
    assert!(error(&with("boot:1000 root_a:512M root_b:512M data:1M"))
        .contains("whole number of 512-byte sectors"));
    assert_eq!(
        error(&with("boot:8M root_a:512M root_b:256M data:512M")),
        "boards/test.conf:12:33: partitions `boot:8M root_a:512M root_b:256M data:512M` is \
         invalid: root_a and root_b differ in size: a release must fit either slot, so give \
         them one size"
    );
    // Any order, as written.
    let b = parse_ok(&with("data:512M root_b:512M root_a:512M boot:8M"));
    let roles: Vec<Role> = b.layout.partitions.iter().map(|p| p.role).collect();
    assert_eq!(roles, [Role::Data, Role::RootB, Role::RootA, Role::Boot]);
    // An odd size is followed by an aligned start.
    let b = parse_ok(&with("boot:1536K root_a:512M root_b:512M data:512M"));
    assert_eq!(b.layout.partitions[1].start_sector, 3 * MIB);
}

#[test]
fn alignment_and_first_offset_are_checked() {
    for bad in ["0", "1000", "3M", "2G", "256"] {
        assert!(
            error(&format!("{MINIMAL}partition_align={bad}\n")).contains("a power of two"),
            "{bad}"
        );
    }
    // The first partition starts at 1 MiB unless told otherwise, whatever the alignment.
    let b = parse_ok(&format!("{MINIMAL}partition_align=512\n"));
    assert_eq!(b.layout.partitions[0].start_sector, MIB);
    let b = parse_ok(&format!("{MINIMAL}partition_align=4M\n"));
    assert_eq!(b.layout.partitions[0].start_sector, 4 * MIB);
    for bad in ["16K", "0", "17000"] {
        assert!(
            error(&format!("{MINIMAL}first_partition_offset={bad}\n"))
                .contains("after the primary GPT"),
            "{bad}"
        );
    }
    let b = parse_ok(&format!(
        "{MINIMAL}partition_align=512\nfirst_partition_offset=17K\n"
    ));
    assert_eq!(b.layout.partitions[0].start_sector, 34);
    // An offset that is not aligned is rounded up to the alignment.
    let b = parse_ok(&format!("{MINIMAL}first_partition_offset=1536K\n"));
    assert_eq!(b.layout.partitions[0].start_sector, 2 * MIB);
}

#[test]
fn qemu_command_and_watchdog_are_checked() {
    assert_eq!(
        error(&format!("{MINIMAL}qemu=\"qemu-system-x86_64 -M q35\"\n")),
        "boards/test.conf:14:1: qemu `qemu-system-x86_64 -M q35` is invalid: \
         aarch64-unknown-linux-musl boards run under qemu-system-aarch64: start with it"
    );
    assert_eq!(
        error(&format!(
            "{MINIMAL}qemu=\"qemu-system-aarch64 -M virt -kernel Image\"\n"
        )),
        "boards/test.conf:14:35: qemu `-kernel` is invalid: the tools add the disk, kernel, \
         initramfs and command line: give only the machine's options"
    );
    assert_eq!(
        error(&format!("{MINIMAL}watchdog=i6300esb\n")),
        "boards/test.conf:14:1: `watchdog` does not apply here: watchdog names the QEMU device \
         to add, and this board has no qemu command: remove it"
    );
    assert!(
        error(&with_line(GRUB, "watchdog=", "watchdog=\"i6300esb,x\""))
            .contains("a QEMU device name")
    );
}

#[test]
fn identity_values_are_checked() {
    assert!(error(&format!("{MINIMAL}compatible=\"a b\"\n")).contains("a compatible string"));
    assert!(error(&format!("{MINIMAL}compatible={}\n", "a".repeat(65))).contains("1 to 64"));
    let b = parse_ok(&format!("{MINIMAL}compatible=vendor.board_v2\n"));
    assert_eq!(b.compatible, "vendor.board_v2");
    assert!(
        error(&with_line(MINIMAL, "description=", "description=\"a\nb\"")).contains("one line")
    );
    assert!(error(&with_line(MINIMAL, "description=", "description=\"  \"")).contains("one line"));
}

#[test]
fn file_limits_and_encoding() {
    let e = parse(&"#".repeat(BOARD_MAX_LEN + 1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "boards/test.conf:1:1: longer than 65536 bytes, the limit for a board file: is this a \
         board description?"
    );
    let e = Board::parse(
        Path::new("boards/test.conf"),
        b"name=test\ndescription=\xff\n",
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "boards/test.conf:2:13: not UTF-8 text: save the board file as UTF-8"
    );
}

#[test]
fn no_input_panics() {
    // Every prefix of each sample, and each sample with one byte changed at every place.
    for sample in [FULL, MINIMAL, GRUB] {
        let bytes = sample.as_bytes();
        for end in 0..bytes.len() {
            let _ = Board::parse(Path::new("test.conf"), &bytes[..end]);
        }
        for i in 0..bytes.len() {
            for b in [b'\n', b'"', b'0', b'$', b' ', b':', 0xff] {
                let mut changed = bytes.to_vec();
                changed[i] = b;
                if let Err(e) = Board::parse(Path::new("test.conf"), &changed) {
                    let place = e.place().expect("a parse error has a place");
                    assert!(place.position.line >= 1 && place.position.column >= 1);
                }
            }
        }
    }
}

#[test]
fn near_misses() {
    assert_eq!(nearest("consle", &BOARD_KEYS), Some("console"));
    assert_eq!(nearest("NAME", &BOARD_KEYS), Some("name"));
    assert_eq!(nearest("xyz", &BOARD_KEYS), None);
    assert_eq!(nearest("", &BOARD_KEYS), None);
    assert_eq!(edit_distance("mti", "mit", 2), Some(1));
    assert_eq!(edit_distance("abc", "abcdef", 2), None);
}

#[test]
fn sizes_read_for_people() {
    assert_eq!(size_text(2 << 30), "2 GiB (2147483648 bytes)");
    assert_eq!(size_text(1545 << 20), "1545 MiB (1620049920 bytes)");
    assert_eq!(size_text(17 * 1024), "17 KiB (17408 bytes)");
    assert_eq!(size_text(1000), "1000 bytes");
    // Not a whole unit: hundredths of a MiB, rounded up (a need is never understated).
    assert_eq!(size_text((3 << 20) + 512), "3.01 MiB (3146240 bytes)");
    assert_eq!(
        size_text(u64::MAX),
        "17592186044416.00 MiB (18446744073709551615 bytes)"
    );
}

#[test]
fn initramfs_modules_and_uboot_build_are_read_and_checked() {
    let b = parse_ok(&format!(
        "{FULL}modules=\"sdhci_omap  mmc-block\"\nuboot_config=am335x_evm\n"
    ));
    assert_eq!(b.modules, ["sdhci_omap", "mmc-block"]);
    assert_eq!(b.uboot_config.as_deref(), Some("am335x_evm"));
    let b = parse_ok(MINIMAL);
    assert!(b.modules.is_empty() && b.uboot_config.is_none());
    assert!(error(&format!("{MINIMAL}modules=\"virtio_blk ../x\"\n"))
        .contains("modules `../x` is invalid: a kernel module name"));
    assert_eq!(
        error(&format!("{MINIMAL}uboot_config=rpi_arm64\n")),
        "boards/test.conf:14:1: `uboot_config` does not apply here: uboot_config names a U-Boot \
         build, and this board has no U-Boot: remove it"
    );
    assert!(error(&format!("{FULL}uboot_config=a/b\n")).contains("a folder name"));
}

#[test]
fn every_qemu_board_lists_its_disk_driver() {
    for name in Board::list(&boards_dir()).unwrap() {
        let b = Board::find(&boards_dir(), &name).unwrap();
        assert!(!b.modules.is_empty(), "{name} lists no modules");
        if b.bootloader == Bootloader::Uboot {
            assert!(b.uboot_config.is_some(), "{name} names no U-Boot build");
        }
        if b.disk_device.starts_with("/dev/vd") {
            assert!(b.modules.iter().any(|m| m == "virtio_blk"), "{name}");
        }
    }
}

#[test]
fn a_debian_suite_is_a_code_name_and_refused_with_its_place_otherwise() {
    assert_eq!(parse_ok(MINIMAL).debian_suite, None);
    let b = parse_ok(&format!("{MINIMAL}debian_suite=trixie\n"));
    assert_eq!(b.debian_suite.as_deref(), Some("trixie"));
    let b = parse_ok(&format!("{MINIMAL}debian_suite=bookworm-backports\n"));
    assert_eq!(b.debian_suite.as_deref(), Some("bookworm-backports"));
    for bad in ["Trixie", "trixie-", "-x", "13", "trixie/main", "\"\""] {
        let said = error(&format!("{MINIMAL}debian_suite={bad}\n"));
        assert!(
            said.starts_with("boards/test.conf:14:1: debian_suite `")
                && said.contains("is invalid: a Debian suite is the code name"),
            "{bad}: {said}"
        );
    }
    let said = error(&format!("{MINIMAL}debian_suite=stable\n"));
    assert!(
        said.starts_with("boards/test.conf:14:1: debian_suite `stable` is invalid")
            && said.contains("write the code name (trixie"),
        "{said}"
    );
    assert!(
        error(&format!("{MINIMAL}debian_suit=trixie\n")).contains("did you mean `debian_suite`")
    );
}

#[test]
fn riscv64_boards_take_their_packages_from_debian_13() {
    for name in Board::list(&boards_dir()).unwrap() {
        let b = Board::find(&boards_dir(), &name).unwrap();
        if b.arch == Arch::Riscv64 {
            assert_eq!(b.debian_suite.as_deref(), Some("trixie"), "{name}");
        }
    }
}

#[test]
fn loader_files_are_read_and_checked_against_the_layout() {
    let b = parse_ok(&format!(
        "{FULL}uboot_raw=\"MLO:128K u-boot.img:0x60000\"\nuboot_files=u-boot.bin\n\
         firmware_package=raspi-firmware\n\
         firmware_files=\"usr/lib/raspi-firmware/start4.elf usr/lib/raspi-firmware/fixup4.dat\"\n\
         firmware_config=\"arm_64bit=1 kernel=u-boot.bin\"\n"
    ));
    assert_eq!(
        b.loader.uboot_raw,
        [
            ("MLO".to_string(), 0x20000),
            ("u-boot.img".to_string(), 0x60000)
        ]
    );
    assert_eq!(b.loader.uboot_files, ["u-boot.bin"]);
    assert_eq!(b.loader.firmware_package.as_deref(), Some("raspi-firmware"));
    assert_eq!(b.loader.firmware_files.len(), 2);
    assert_eq!(
        b.loader.firmware_config,
        ["arm_64bit=1", "kernel=u-boot.bin"]
    );
    assert!(parse_ok(FULL).loader.is_empty());

    // Errors name the file, the line and the entry's column.
    let line = FULL.lines().count() + 1;
    for (raw, says) in [
        ("MLO", "a raw file is FILE:OFFSET"),
        (
            "MLO:8K",
            "between the primary GPT (17 KiB) and the first partition (4 MiB",
        ),
        ("MLO:4M", "between the primary GPT"),
        ("MLO:1000", "a raw file starts on a 512-byte sector"),
        (
            "MLO:0x270000",
            "inside the raw boot state (0x260000 to 0x2a0000)",
        ),
        ("MLO:128K u-boot.img:128K", "another raw file starts there"),
        ("../MLO:128K", "FILE is a file of the U-Boot build"),
        ("MLO:lots", "a size is decimal digits"),
    ] {
        let said = error(&format!("{FULL}uboot_raw=\"{raw}\"\n"));
        assert!(
            said.starts_with(&format!("boards/test.conf:{line}:")) && said.contains(says),
            "{raw}: {said}"
        );
    }
    assert_eq!(
        error(&format!("{FULL}uboot_raw=\"MLO:128K bad:4M\"\n")),
        format!(
            "boards/test.conf:{line}:21: uboot_raw `bad:4M` is invalid: a raw file starts on a \
             512-byte sector between the primary GPT (17 KiB) and the first partition (4 MiB \
             (4194304 bytes)): move it, or raise first_partition_offset"
        )
    );
    assert!(error(&format!("{FULL}firmware_package=raspi-firmware\n"))
        .contains("the board has no `firmware_files`"));
    assert!(error(&format!("{FULL}firmware_files=start4.elf\n"))
        .contains("`firmware_files` does not apply here: there is no firmware_package"));
    assert!(error(&format!("{FULL}firmware_config=arm_64bit=1\n"))
        .contains("`firmware_config` does not apply here"));
    assert!(error(&format!(
        "{FULL}firmware_package=raspi-firmware\nfirmware_files=a\nfirmware_config=\"=1\"\n"
    ))
    .contains("a config.txt setting is name=value"));
    assert!(
        error(&format!("{FULL}firmware_package=Raspi\nfirmware_files=a\n"))
            .contains("firmware_package `Raspi` is invalid")
    );
    // Not for boards without U-Boot.
    for key in [
        "uboot_files=u-boot.bin",
        "uboot_raw=MLO:128K",
        "firmware_package=x",
    ] {
        let said = error(&format!("{MINIMAL}{key}\n"));
        assert!(
            said.starts_with("boards/test.conf:14:1: `") && said.contains("has no U-Boot"),
            "{key}: {said}"
        );
    }
}

#[test]
fn boards_whose_rom_loads_a_bootloader_name_it() {
    let b = Board::find(&boards_dir(), "raspberrypi4").unwrap();
    assert_eq!(b.loader.uboot_files, ["u-boot.bin"]);
    assert_eq!(b.loader.firmware_package.as_deref(), Some("raspi-firmware"));
    assert!(b
        .loader
        .firmware_config
        .iter()
        .any(|s| s == "kernel=u-boot.bin"));
    let b = Board::find(&boards_dir(), "beaglebone-black").unwrap();
    assert_eq!(
        b.loader.uboot_raw,
        [
            ("MLO".to_string(), 128 * 1024),
            ("u-boot.img".to_string(), 384 * 1024)
        ]
    );
}

/// [`FULL`] with its boot state in the file `uboot.env` of the boot partition and the first
/// partition at 8 MiB: room for U-Boot partitions at 2 and 4 MiB.
fn with_file_state() -> String {
    let text = with_line(FULL, "bootstate_partition=", "bootstate_partition=boot");
    let text = with_line(&text, "bootstate_offset=", "bootstate_file=uboot.env");
    let text = with_line(&text, "bootstate_redundant=", "");
    with_line(
        &text,
        "first_partition_offset=",
        "first_partition_offset=8M",
    )
}

const SPL: &str = "spl:u-boot-spl.bin.normal.out:2M:2M:2E54B353-1271-4842-806F-E436D6AF6985";
const FIT: &str = "uboot:u-boot.itb:4M:4M:BC13C2FF-59E6-4262-A352-B275FD6F7172";

#[test]
fn uboot_partitions_come_first_in_the_gpt_and_number_the_others_after_them() {
    let b = parse_ok(&format!(
        "{}uboot_partitions=\"{SPL}\n    {FIT}\"\n",
        with_file_state()
    ));
    let got: Vec<(&str, &str, u64, u64, String)> = b
        .loader
        .uboot_partitions
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.file.as_str(),
                p.start_sector,
                p.size_sectors,
                p.type_guid.to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "spl",
                "u-boot-spl.bin.normal.out",
                4096,
                4096,
                "2e54b353-1271-4842-806f-e436d6af6985".to_string()
            ),
            (
                "uboot",
                "u-boot.itb",
                8192,
                8192,
                "bc13c2ff-59e6-4262-a352-b275fd6f7172".to_string()
            ),
        ]
    );
    assert_eq!(b.layout.partitions[0].start_sector, 8 * MIB);
    assert_eq!(b.partition_number(Role::Boot), 3);
    assert_eq!(b.partition_number(Role::Data), 6);
    assert_eq!(b.role_device(Role::RootA), "/dev/mmcblk0p4");
    // Without them, the roles number from 1.
    let plain = parse_ok(FULL);
    assert_eq!(plain.partition_number(Role::Boot), 1);
    assert_eq!(plain.role_device(Role::RootB), "/dev/mmcblk0p3");
}

#[test]
fn uboot_partitions_are_refused_with_the_entry_and_the_rule() {
    let base = with_file_state();
    let line = base.lines().count() + 1;
    for (entry, says) in [
        (
            "spl:2M:2M",
            "a U-Boot partition is NAME:FILE:OFFSET:SIZE:TYPE",
        ),
        (
            "SPL:a:2M:2M:2E54B353-1271-4842-806F-E436D6AF6985",
            "NAME is the partition's GPT name",
        ),
        (
            "boot:a:2M:2M:2E54B353-1271-4842-806F-E436D6AF6985",
            "another partition is named boot",
        ),
        (
            "spl:../a:2M:2M:2E54B353-1271-4842-806F-E436D6AF6985",
            "FILE is a file of the U-Boot build",
        ),
        (
            "spl:a:1536K:2M:2E54B353-1271-4842-806F-E436D6AF6985",
            "starts on a 1 MiB boundary",
        ),
        (
            "spl:a:2M:1000:2E54B353-1271-4842-806F-E436D6AF6985",
            "whole 4 KiB blocks",
        ),
        (
            "spl:a:0:2M:2E54B353-1271-4842-806F-E436D6AF6985",
            "after the primary GPT",
        ),
        (
            "spl:a:6M:4M:2E54B353-1271-4842-806F-E436D6AF6985",
            "it ends at 10 MiB (10485760 bytes), past the first partition of partitions= (8 MiB",
        ),
        (
            "spl:a:2M:2M:2E54B353",
            "TYPE is the partition's GPT type GUID",
        ),
        (
            "spl:a:2M:2M:00000000-0000-0000-0000-000000000000",
            "not all zero",
        ),
        (
            "spl:a:2M:lots:2E54B353-1271-4842-806F-E436D6AF6985",
            "a size is",
        ),
    ] {
        let said = error(&format!("{base}uboot_partitions=\"{entry}\"\n"));
        assert!(
            said.starts_with(&format!(
                "boards/test.conf:{line}:19: uboot_partitions `{entry}` is invalid: "
            )) && said.contains(says),
            "{entry}: {said}"
        );
    }
    // Two entries: the second is placed at its own column, after the first.
    let said = error(&format!("{base}uboot_partitions=\"{SPL} {SPL}\"\n"));
    assert!(
        said.contains(&format!(":{line}:19: ")) && said.contains("another partition is named spl"),
        "{said}"
    );
    let overlapping = "uboot:u-boot.itb:3M:4M:BC13C2FF-59E6-4262-A352-B275FD6F7172";
    let said = error(&format!("{base}uboot_partitions=\"{SPL} {overlapping}\"\n"));
    assert!(
        said.contains(&format!(":{line}:{}: ", 19 + SPL.len() + 1))
            && said.contains("it starts before the end of spl (4 MiB")
            && said.contains("in disk order"),
        "{said}"
    );
    // Clear of a raw boot state (FULL's, at 0x260000 to 0x2a0000) and of raw files.
    let raw_state = with_line(FULL, "first_partition_offset=", "first_partition_offset=8M");
    assert!(error(&format!("{raw_state}uboot_partitions=\"{SPL}\"\n"))
        .contains("it overlaps the raw boot state (0x260000 to 0x2a0000)"));
    assert!(error(&format!(
        "{base}uboot_partitions=\"{SPL}\"\nuboot_raw=\"MLO:3M\"\n"
    ))
    .contains("uboot_raw `MLO:3M` is invalid: it starts inside the spl partition"));
    // Not for boards without U-Boot.
    let said = error(&format!("{MINIMAL}uboot_partitions=\"{SPL}\"\n"));
    assert!(
        said.starts_with("boards/test.conf:14:1: `uboot_partitions` does not apply here")
            && said.contains("has no U-Boot"),
        "{said}"
    );
}

#[test]
fn bootstate_import_takes_a_file_on_a_uboot_board() {
    let b = parse_ok(&format!("{}bootstate_import=yes\n", with_file_state()));
    assert!(b.boot_state.import);
    assert_eq!(
        b.boot_state.location,
        StateLocation::File {
            role: Role::Boot,
            path: "uboot.env".to_string()
        }
    );
    assert!(
        !parse_ok(&format!("{}bootstate_import=no\n", with_file_state()))
            .boot_state
            .import
    );
    assert!(!parse_ok(FULL).boot_state.import);
    let line = FULL.lines().count() + 1;
    assert_eq!(
        error(&format!("{FULL}bootstate_import=yes\n")),
        format!(
            "boards/test.conf:{line}:1: `bootstate_import` does not apply here: the boot \
             script imports the slot variables from a file on the boot partition: give \
             bootstate_file=… (such as uboot.env) instead of bootstate_offset, or write \
             bootstate_import=no"
        )
    );
    assert!(error(&format!("{}bootstate_import=1\n", with_file_state()))
        .contains("bootstate_import `1` is invalid: it is yes or no"));
    assert!(error(&format!("{GRUB}bootstate_import=yes\n"))
        .contains("`bootstate_import` does not apply here: the boot script imports U-Boot"));
    assert!(error(&format!("{FULL}bootstate_imports=yes\n"))
        .contains("did you mean `bootstate_import`?"));
}

#[test]
fn boot_partition_type_defaults_to_the_firmwares_and_is_checked() {
    assert_eq!(parse_ok(FULL).boot_partition_type, BootPartitionType::Linux);
    assert_eq!(parse_ok(GRUB).boot_partition_type, BootPartitionType::Esp);
    for t in BootPartitionType::ALL {
        let b = parse_ok(&format!("{FULL}boot_partition_type={t}\n"));
        assert_eq!(b.boot_partition_type, t);
    }
    let line = FULL.lines().count() + 1;
    assert_eq!(
        error(&format!("{FULL}boot_partition_type=basic_data\n")),
        format!(
            "boards/test.conf:{line}:1: boot_partition_type `basic_data` is invalid: the boot \
             partition's GPT type is esp (EFI System Partition), basic-data (Microsoft basic \
             data) or linux (generic Linux data): did you mean `basic-data`?"
        )
    );
    assert!(error(&format!("{GRUB}boot_partition_type=basic-data\n"))
        .contains("UEFI firmware boots from an EFI System Partition"));
    assert_eq!(
        parse_ok(&format!("{GRUB}boot_partition_type=esp\n")).boot_partition_type,
        BootPartitionType::Esp
    );
}

#[test]
fn visionfive2_boots_from_its_spl_and_uboot_partitions_and_imports_its_state() {
    let b = Board::find(&boards_dir(), "visionfive2").unwrap();
    let parts: Vec<(&str, &str, u64, String)> = b
        .loader
        .uboot_partitions
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.file.as_str(),
                p.start_sector,
                p.type_guid.to_string(),
            )
        })
        .collect();
    // U-Boot's doc/board/starfive/visionfive2.rst: spl at 4096, uboot (partition 2) at 8192.
    assert_eq!(
        parts,
        [
            (
                "spl",
                "u-boot-spl.bin.normal.out",
                4096,
                "2e54b353-1271-4842-806f-e436d6af6985".to_string()
            ),
            (
                "uboot",
                "u-boot.itb",
                8192,
                "bc13c2ff-59e6-4262-a352-b275fd6f7172".to_string()
            ),
        ]
    );
    assert!(b.loader.uboot_raw.is_empty());
    assert_eq!(b.partition_number(Role::Boot), 3);
    assert!(b.boot_state.import);
    // The Pi 4's EEPROM bootloader looks for FAT in basic data (or ESP) GPT partitions.
    let pi = Board::find(&boards_dir(), "raspberrypi4").unwrap();
    assert_eq!(pi.boot_partition_type, BootPartitionType::BasicData);
    assert!(!pi.boot_state.import);
}
