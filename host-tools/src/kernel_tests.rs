//! Unit tests of `kernel`: apt's answers, module closures and kernel images, on literal
//! inputs (the real Debian kernel is fetched and booted in tests/tests/kernel_boot_files.rs).

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use super::*;

const SHOW: &str = "\
Package: linux-image-arm64
Source: linux-signed-arm64 (6.1.192+2)
Version: 6.1.192-2
Architecture: arm64
Depends: linux-image-6.1.0-56-arm64 (= 6.1.192-2)
Description: Linux for 64-bit ARMv8 machines (meta-package)
 This package depends on the latest Linux kernel
 and modules for use on ARMv8 machines.
SHA256: 1111111111111111111111111111111111111111111111111111111111111111

Package: linux-image-6.1.0-56-arm64
Version: 6.1.192-2
Architecture: arm64
Depends: kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool
Filename: pool/updates/main/l/linux-signed-arm64/linux-image-6.1.0-56-arm64_6.1.192-2_arm64.deb
SHA256: 6f4ed2d1cb9106bc977c2b1960008f175e2eed5740340634b7894e65ef5acc82

Package: linux-image-6.1.0-56-arm64
Version: 6.1.190-1
Architecture: amd64
SHA256: 2222222222222222222222222222222222222222222222222222222222222222
";

#[test]
fn apt_records_are_read_per_architecture() {
    let records = parse_records(SHOW, Arch::Aarch64);
    assert_eq!(records.len(), 2, "{records:?}");
    let meta = &records[0];
    assert_eq!(meta.package, "linux-image-arm64");
    assert_eq!(meta.version, "6.1.192-2");
    assert_eq!(
        versioned_kernel(&meta.depends),
        Some((
            "linux-image-6.1.0-56-arm64".to_string(),
            "6.1.192-2".to_string()
        ))
    );
    assert_eq!(
        hex(&records[1].sha256),
        "6f4ed2d1cb9106bc977c2b1960008f175e2eed5740340634b7894e65ef5acc82"
    );
    // The amd64 stanza is not an arm64 package.
    assert!(parse_records(SHOW, Arch::X86_64)
        .iter()
        .all(|r| r.version == "6.1.190-1"));
}

#[test]
fn a_versioned_kernel_package_pins_nothing_further() {
    assert_eq!(
        versioned_kernel("kmod, linux-base (>= 4.3~), initramfs-tools | linux-initramfs-tool"),
        None
    );
    assert_eq!(
        versioned_kernel("linux-image-6.12.9-riscv64:riscv64 (= 6.12.9-1), foo"),
        Some(("linux-image-6.12.9-riscv64".into(), "6.12.9-1".into()))
    );
    assert_eq!(parse_hex32("abc"), None);
}

#[test]
fn errors_say_what_apt_offers_and_what_to_run() {
    let gone = KernelError::VersionGone {
        package: "linux-image-6.1.0-56-arm64".into(),
        arch: "arm64",
        version: "6.1.192-2".into(),
        offered: vec!["6.1.200-1".into()],
        suite: None,
    };
    let text = gone.to_string();
    assert!(
        text.contains("6.1.192-2") && text.contains("it offers 6.1.200-1"),
        "{text}"
    );
    assert_eq!(gone.status(), Status::No);
    let arch = KernelError::ArchitectureMissing { arch: "arm64" }.to_string();
    assert!(arch.contains("sudo dpkg --add-architecture arm64 && sudo apt-get update"));
}

/// A modules folder as depmod leaves it, for the module index.
fn modules_dir(dir: &Path) -> KernelFiles {
    let modules = dir.join("lib/modules/6.1.0-9-arm64");
    fs::create_dir_all(&modules).unwrap();
    fs::write(
        modules.join("modules.dep"),
        "kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko\n\
         kernel/lib/crc16.ko:\n\
         kernel/fs/mbcache.ko:\n\
         kernel/fs/jbd2/jbd2.ko:\n\
         kernel/crypto/crc32c_generic.ko:\n\
         kernel/drivers/block/virtio_blk.ko:\n\
         kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio_pci_modern_dev.ko\n\
         kernel/drivers/virtio/virtio_pci_legacy_dev.ko:\n\
         kernel/drivers/virtio/virtio_pci_modern_dev.ko:\n\
         kernel/fs/squashfs/squashfs.ko:\n",
    )
    .unwrap();
    fs::write(
        modules.join("modules.builtin"),
        "kernel/drivers/virtio/virtio.ko\nkernel/drivers/virtio/virtio_ring.ko\n",
    )
    .unwrap();
    fs::write(
        modules.join("modules.softdep"),
        "# Soft dependencies extracted from modules themselves.\n\
         softdep ext4 pre: crypto-crc32c\n\
         softdep jbd2 pre: crypto-crc32c\n\
         softdep cifs gcm\n",
    )
    .unwrap();
    fs::write(
        modules.join("modules.alias"),
        "alias crypto-crc32c crc32c_generic\nalias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci\n",
    )
    .unwrap();
    KernelFiles {
        root: dir.to_path_buf(),
        release: "6.1.0-9-arm64".into(),
        image: dir.join("boot/vmlinuz-6.1.0-9-arm64"),
        format: ImageFormat::Image,
        dtbs: None,
        modules,
    }
}

fn relative(closure: &ModuleClosure) -> Vec<String> {
    closure
        .files
        .iter()
        .map(|m| m.relative.display().to_string())
        .collect()
}

#[test]
fn a_closure_loads_dependencies_and_soft_dependencies_first() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = modules_dir(dir.path());
    let closure = kernel
        .modules_closure(&["virtio-blk", "virtio_pci", "ext4", "virtio", "squashfs"])
        .unwrap();
    assert_eq!(
        relative(&closure),
        [
            "kernel/drivers/block/virtio_blk.ko",
            "kernel/drivers/virtio/virtio_pci_legacy_dev.ko",
            "kernel/drivers/virtio/virtio_pci_modern_dev.ko",
            "kernel/drivers/virtio/virtio_pci.ko",
            "kernel/crypto/crc32c_generic.ko",
            "kernel/lib/crc16.ko",
            "kernel/fs/mbcache.ko",
            "kernel/fs/jbd2/jbd2.ko",
            "kernel/fs/ext4/ext4.ko",
            "kernel/fs/squashfs/squashfs.ko",
        ]
    );
    assert_eq!(closure.builtin, ["virtio"]);
    let first = &closure.files[0];
    assert_eq!(first.name, "virtio_blk");
    assert_eq!(first.path, kernel.modules.join(&first.relative));
}

#[test]
fn a_missing_module_names_near_ones_and_counts_the_builtins() {
    let dir = tempfile::tempdir().unwrap();
    let kernel = modules_dir(dir.path());
    let err = kernel
        .modules_closure(&["virtio_blk", "virtio_net", "zz_nothing"])
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("modules virtio_net, zz_nothing are neither"),
        "{text}"
    );
    assert!(text.contains("modules.builtin lists 2"), "{text}");
    assert!(
        text.contains("did you mean") && text.contains("virtio_pci"),
        "{text}"
    );
    assert_eq!(err.status(), Status::No);
}

#[test]
fn a_dtb_outside_the_package_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut kernel = modules_dir(dir.path());
    assert!(matches!(
        kernel.dtb("broadcom/x.dtb"),
        Err(KernelError::NoDtb { dir: None, .. })
    ));
    let dtbs = dir.path().join("usr/lib/linux-image-6.1.0-9-arm64");
    fs::create_dir_all(dtbs.join("broadcom")).unwrap();
    fs::write(dtbs.join("broadcom/x.dtb"), b"dtb").unwrap();
    kernel.dtbs = Some(dtbs.clone());
    assert_eq!(
        kernel.dtb("broadcom/x.dtb").unwrap(),
        dtbs.join("broadcom/x.dtb")
    );
    assert!(kernel.dtb("../../../etc/passwd").is_err());
    assert!(kernel.dtb("broadcom/y.dtb").is_err());
}

/// 64 bytes with the arm64 Image magic at byte 56.
fn arm64_image() -> Vec<u8> {
    let mut image = vec![0u8; 4096];
    image[56..60].copy_from_slice(b"ARM\x64");
    image
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-c")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(data).unwrap();
    child.wait_with_output().unwrap().stdout
}

#[test]
fn an_arm64_image_is_used_as_it_is_and_a_gzipped_one_decompressed() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("vmlinuz-a");
    fs::write(&plain, arm64_image()).unwrap();
    assert_eq!(
        bootable_image(&plain, "a", Arch::Aarch64).unwrap(),
        (plain.clone(), ImageFormat::Image)
    );
    let packed = dir.path().join("vmlinuz-b");
    fs::write(&packed, gzip(&arm64_image())).unwrap();
    let (image, format) = bootable_image(&packed, "b", Arch::Aarch64).unwrap();
    assert_eq!(image, dir.path().join("Image-b"));
    assert_eq!(format, ImageFormat::Image);
    assert_eq!(fs::read(&image).unwrap(), arm64_image());
    // EFI zboot: MZ, "zimg", payload offset and size, "gzip".
    let payload = gzip(&arm64_image());
    let mut zboot = vec![0u8; 512];
    zboot[0..2].copy_from_slice(b"MZ");
    zboot[4..8].copy_from_slice(b"zimg");
    zboot[8..12].copy_from_slice(&512u32.to_le_bytes());
    zboot[12..16].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    zboot[24..28].copy_from_slice(b"gzip");
    zboot.extend_from_slice(&payload);
    let efi = dir.path().join("vmlinuz-c");
    fs::write(&efi, zboot).unwrap();
    let (image, _) = bootable_image(&efi, "c", Arch::Aarch64).unwrap();
    assert_eq!(fs::read(image).unwrap(), arm64_image());
    // Not an arm64 kernel at all; and an armhf zImage is taken as it is.
    let junk = dir.path().join("vmlinuz-d");
    fs::write(&junk, vec![7u8; 128]).unwrap();
    let err = bootable_image(&junk, "d", Arch::Aarch64).unwrap_err();
    assert!(
        err.to_string().contains("not a arm64 kernel Image"),
        "{err}"
    );
    assert_eq!(
        bootable_image(&junk, "d", Arch::Armv7).unwrap().1,
        ImageFormat::ZImage
    );
}

#[test]
fn unpacking_refuses_a_folder_with_files() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("x"), b"x").unwrap();
    let kernel = Kernel {
        package: "linux-image-x".into(),
        version: "1".into(),
        arch: Arch::Aarch64,
        sha256: [0; 32],
        deb_path: dir.path().join("none.deb"),
    };
    assert!(matches!(
        kernel.unpack(dir.path()),
        Err(KernelError::NotEmpty(_))
    ));
}

#[test]
fn a_private_suite_names_its_release_in_errors_and_sources() {
    let gone = KernelError::VersionGone {
        package: "linux-image-6.12.107+deb13-riscv64".into(),
        arch: "riscv64",
        version: "6.12.107-1".into(),
        offered: vec!["6.12.120-1".into()],
        suite: Some("trixie".into()),
    };
    let text = gone.to_string();
    assert!(
        text.contains("version 6.12.107-1, which Debian trixie no longer serves")
            && text.contains("it offers 6.12.120-1")
            && text.contains("snapshot.debian.org"),
        "{text}"
    );
    let unknown = KernelError::UnknownPackage {
        package: "busybox".into(),
        arch: "riscv64",
        updated: true,
        suite: Some("trixie".into()),
    }
    .to_string();
    assert!(
        unknown.starts_with("Debian trixie has no package busybox:riscv64")
            && unknown.contains("debian_suite="),
        "{unknown}"
    );
    let sources = private_sources("trixie", Arch::Riscv64);
    for line in [
        "deb [arch=riscv64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] \
         http://deb.debian.org/debian trixie main non-free-firmware",
        "http://deb.debian.org/debian trixie-updates main",
        "http://deb.debian.org/debian-security trixie-security main",
    ] {
        assert!(sources.contains(line), "{line}:\n{sources}");
    }
}

#[test]
fn a_private_configuration_lives_in_the_cache_and_replaces_sources_state_and_architectures() {
    let dir = tempfile::tempdir().unwrap();
    let cache = SourceCache::new(dir.path());
    let private = PrivateApt::open("trixie", Arch::Riscv64, &cache).unwrap();
    let base = dir.path().join("apt/trixie-riscv64");
    assert!(base.join("sources.list").is_file() && base.join("status").is_file());
    assert_eq!(private.lists_age(), None);
    let options = private.options(Arch::Riscv64).join("\n");
    for option in [
        format!(
            "Dir::Etc::SourceList={}",
            base.join("sources.list").display()
        ),
        format!("Dir::State::Lists={}", base.join("lists").display()),
        "APT::Architectures=riscv64".to_string(),
    ] {
        assert!(options.contains(&option), "{option}:\n{options}");
    }
    private.mark_updated().unwrap();
    assert!(private.lists_age().unwrap() < 60);
    // Other sources written over them: the lists count as never updated.
    fs::write(
        base.join("sources.list"),
        "deb http://example.invalid x main\n",
    )
    .unwrap();
    let again = PrivateApt::open("trixie", Arch::Riscv64, &cache).unwrap();
    assert_eq!(again.lists_age(), None);
}
