//! Unit tests of `kexec`: the command line, the arm64 plan, the device tree editor.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::arm64::{plan, purgatory, ALIGN, KERNEL_ALIGN};
use super::fdt::with_chosen;
use super::*;

#[test]
fn cmdline_drops_the_slot_and_names_it_when_the_agent_counts() {
    let running = "console=ttyAMA0 nanolin.slot=A panic=-1 rauc.slot=A\n";
    assert_eq!(kexec_cmdline(running, None), "console=ttyAMA0 panic=-1");
    assert_eq!(
        kexec_cmdline(running, Some(BootSlot::B)),
        "console=ttyAMA0 panic=-1 nanolin.slot=B"
    );
    assert_eq!(kexec_cmdline("", Some(BootSlot::A)), "nanolin.slot=A");
}

#[test]
fn activate_names() {
    assert_eq!(Activate::from_name("kexec"), Some(Activate::Kexec));
    assert_eq!(Activate::from_name("reboot"), Some(Activate::Reboot));
    assert_eq!(Activate::from_name("Kexec"), None);
    assert_eq!(Activate::default(), Activate::Reboot);
}

#[test]
fn system_ram_is_the_top_level_ranges() {
    let iomem = "09000000-09000fff : pl011@9000000\n\
                 40000000-5fffffff : System RAM\n  \
                 40210000-41d4ffff : Kernel code\n\
                 80000000-8fffffff : System RAM\n";
    assert_eq!(
        system_ram(iomem),
        vec![(0x4000_0000, 0x5fff_ffff), (0x8000_0000, 0x8fff_ffff)]
    );
    // Without root, /proc/iomem shows zeros: no usable range.
    assert_eq!(system_ram("00000000-00000000 : System RAM\n"), vec![(0, 0)]);
}

#[test]
fn purgatory_is_the_assembled_code() {
    // aarch64-linux-gnu-as of: ldr x0, dtb; ldr x4, kern; mov x1..x3, xzr; br x4.
    let code = purgatory(0x4800_0000, 0x4020_0000);
    assert_eq!(
        code.get(..24),
        Some(
            [
                0xc0, 0x00, 0x00, 0x58, 0xe4, 0x00, 0x00, 0x58, 0xe1, 0x03, 0x1f, 0xaa, 0xe2, 0x03,
                0x1f, 0xaa, 0xe3, 0x03, 0x1f, 0xaa, 0x80, 0x00, 0x1f, 0xd6
            ]
            .as_slice()
        )
    );
    assert_eq!(
        code.get(24..32),
        Some(0x4800_0000u64.to_le_bytes().as_slice())
    );
    assert_eq!(
        code.get(32..40),
        Some(0x4020_0000u64.to_le_bytes().as_slice())
    );
}

/// A device tree compiled by dtc, and one decompiled by it.
fn dtc(args: &[&str], input: &[u8]) -> Vec<u8> {
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("nanolin-kexec-dtc-{}-{call}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(format!("in-{}", args.join("")));
    std::fs::write(&file, input).unwrap_or_default();
    let out = std::process::Command::new("dtc")
        .args(args)
        .arg(&file)
        .output()
        .map(|o| o.stdout)
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&dir);
    out
}

const DTS: &str = r#"/dts-v1/;
/memreserve/ 0x48000000 0x1000;
/ {
    #address-cells = <2>;
    model = "linux,dummy-virt";
    chosen {
        bootargs = "console=ttyAMA0 old";
        linux,initrd-start = <0x0 0x48000000>;
        linux,initrd-end = <0x0 0x48100000>;
        stdout-path = "/pl011@9000000";
    };
    memory@40000000 { device_type = "memory"; reg = <0x0 0x40000000 0x0 0x20000000>; };
};
"#;

#[test]
fn chosen_is_rewritten_and_dtc_reads_it() {
    let blob = dtc(&["-I", "dts", "-O", "dtb"], DTS.as_bytes());
    assert!(
        !blob.is_empty(),
        "dtc (device-tree-compiler) is needed for this test"
    );
    let edited = with_chosen(
        &blob,
        "console=ttyAMA0 new",
        Some((0x4400_0000, 0x4420_0000)),
    )
    .unwrap_or_default();
    let text = String::from_utf8(dtc(&["-I", "dtb", "-O", "dts"], &edited)).unwrap_or_default();
    assert!(
        text.contains("bootargs = \"console=ttyAMA0 new\";"),
        "{text}"
    );
    assert!(
        text.contains("linux,initrd-start = <0x00 0x44000000>;"),
        "{text}"
    );
    assert!(
        text.contains("linux,initrd-end = <0x00 0x44200000>;"),
        "{text}"
    );
    assert!(text.contains("stdout-path = \"/pl011@9000000\";"), "{text}");
    assert!(
        text.contains("/memreserve/\t0x0000000048000000 0x0000000000001000;"),
        "{text}"
    );
    assert!(
        text.contains("reg = <0x00 0x40000000 0x00 0x20000000>;"),
        "{text}"
    );
    assert_eq!(text.matches("bootargs").count(), 1, "{text}");

    // A tree without /chosen gets one; without an initramfs its properties go.
    let bare = dtc(
        &["-I", "dts", "-O", "dtb"],
        b"/dts-v1/;\n/ { model = \"x\"; };\n",
    );
    let edited = with_chosen(&bare, "quiet", None).unwrap_or_default();
    let text = String::from_utf8(dtc(&["-I", "dtb", "-O", "dts"], &edited)).unwrap_or_default();
    assert!(text.contains("chosen {"), "{text}");
    assert!(text.contains("bootargs = \"quiet\";"), "{text}");
    assert!(!text.contains("initrd"), "{text}");
}

#[test]
fn bad_device_trees_are_refused() {
    assert!(with_chosen(&[], "x", None).is_err());
    assert!(with_chosen(&[0xd0, 0x0d, 0xfe, 0xed, 0, 0, 0, 40], "x", None).is_err());
    assert!(with_chosen(&[0u8; 64], "x", None).is_err());
}

fn image(text_offset: u64, size: u64) -> Vec<u8> {
    let mut image = vec![0u8; 4096];
    image[8..16].copy_from_slice(&text_offset.to_le_bytes());
    image[16..24].copy_from_slice(&size.to_le_bytes());
    image[56..60].copy_from_slice(b"ARM\x64");
    image
}

#[test]
fn the_plan_follows_the_arm64_boot_protocol() {
    let blob = dtc(&["-I", "dts", "-O", "dtb"], DTS.as_bytes());
    assert!(
        !blob.is_empty(),
        "dtc (device-tree-compiler) is needed for this test"
    );
    let initrd = vec![7u8; 3 * 1024 * 1024 + 5];
    let ram = [(0x4000_0000, 0x5fff_ffff)];
    let Ok(placed) = plan(&image(0, 40 << 20), &initrd, &blob, &ram, "console=ttyAMA0") else {
        panic!("no plan");
    };
    let [kernel, ramdisk, dtb, purg] = placed.segments.as_slice() else {
        panic!("four segments");
    };
    assert_eq!(kernel.mem % KERNEL_ALIGN, 0);
    assert_eq!(kernel.mem, 0x4000_0000);
    assert_eq!(kernel.memsz, 40 << 20);
    assert!(ramdisk.mem >= kernel.mem + kernel.memsz);
    assert_eq!(ramdisk.bytes, initrd);
    assert!(dtb.mem >= ramdisk.mem + ramdisk.memsz);
    assert_eq!(placed.entry, purg.mem);
    assert_eq!(purg.bytes, purgatory(dtb.mem, kernel.mem));
    for s in &placed.segments {
        assert_eq!(s.mem % ALIGN, 0);
        assert_eq!(s.memsz % ALIGN, 0);
        assert!(s.bytes.len() as u64 <= s.memsz);
        assert!(s.mem + s.memsz <= 0x6000_0000);
    }
    // text_offset is honoured; a range too small is skipped for the next.
    let ram = [(0x4000_0000, 0x40ff_ffff), (0x8000_0000, 0x8fff_ffff)];
    let Ok(placed) = plan(&image(0x8_0000, 40 << 20), &initrd, &blob, &ram, "x") else {
        panic!("no plan");
    };
    assert_eq!(placed.segments.first().map(|s| s.mem), Some(0x8008_0000));
    // No room, and no Image, are refused with the reason.
    let small = [(0x4000_0000, 0x40ff_ffff)];
    let e = plan(&image(0, 40 << 20), &initrd, &blob, &small, "x")
        .err()
        .unwrap_or_default();
    assert!(e.contains("no System RAM range"), "{e}");
    let e = plan(&[0u8; 64], &initrd, &blob, &ram, "x")
        .err()
        .unwrap_or_default();
    assert!(e.contains("not a raw arm64 Image"), "{e}");
}
