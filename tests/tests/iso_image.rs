//! The hybrid ISO image of the `qemu-x86_64` board, checked with the real things: made twice
//! from inputs with different host times, modes and inodes to the same bytes; its tree, El
//! Torito catalog and volume read back by xorriso, its GPT by sgdisk (`gdisk`); and booted
//! under QEMU with OVMF as a CD, as a virtio disk and as a USB stick larger than the image,
//! GRUB printing a marker on the serial console each time, and finding the ISO 9660 tree on
//! the whole disk it was loaded from (what its live menu check relies on).
//!
//! The EFI System Partition is the board's boot partition size (64 MiB): over 32 MiB, the
//! size El Torito can count, which is the case the layout is chosen for (see
//! `nanolin_host::iso`).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use common::{peer, run_in, workspace};
use nanolin_core::medium::ROOT_IMAGE;
use nanolin_host::board::{Board, Role};
use nanolin_host::bootfs;
use nanolin_host::disk::{make_vfat, VfatSpec};
use nanolin_host::iso::{make_iso, IsoInfo, IsoSpec, EFI_IMAGE_PATH};

/// Every time stamp of the files built here: 2023-11-14 22:13:20 UTC.
const EPOCH: u64 = 1_700_000_000;

const VOLUME_ID: &str = "NANOLIN_ISO_TEST";

/// What GRUB prints, followed by `$cmdpath`: where the firmware loaded it from.
const MARKER: &str = "nanolin-iso: grub ran from ";

/// OVMF, the UEFI firmware the qemu-x86_64 board boots with.
const OVMF: &str = "/usr/share/ovmf/OVMF.fd";

/// What GRUB prints when the disk it was loaded from (`$cmdpath`'s, the whole disk) holds the
/// ISO 9660 tree with the root image, as the live menu check of `bootfs::grub_cfg` looks.
const MEDIUM_MARKER: &str = "nanolin-iso: the medium's tree is on ";

/// The size of the root image, at `nanolin_core::medium::ROOT_IMAGE`.
const ROOT_SIZE: usize = 1 << 20;

/// A fresh folder of this test binary's own, below cargo's target/tmp.
fn work_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("iso_image")
        .join(name);
    if dir.exists() {
        fs::remove_dir_all(&dir).unwrap();
    }
    fs::create_dir_all(&dir).unwrap();
    dir
}

/// The inputs of an ISO, made in `dir`: the ESP image and the files for the tree.
struct Inputs {
    esp: PathBuf,
    files: Vec<(String, PathBuf)>,
}

/// Makes the ESP (GRUB that prints the marker and halts) and the tree's files in `dir`.
fn inputs(dir: &Path) -> Inputs {
    let board = Board::find(&workspace().join("boards"), "qemu-x86_64").unwrap();
    let esp_size = board.layout.partition(Role::Boot).unwrap().size_bytes();
    let tree = dir.join("esp");
    let efi = tree.join("EFI/BOOT/BOOTX64.EFI");
    let cfg = format!(
        "echo \"{MARKER}$cmdpath\"\n\
         regexp --set=1:disk '^\\(([^,)]*)' \"$cmdpath\"\n\
         if [ -f \"($disk)/{ROOT_IMAGE}\" ]; then echo \"{MEDIUM_MARKER}($disk)\"; fi\n\
         halt\n"
    );
    bootfs::make_grub_efi(&cfg, "x86_64-efi", EPOCH, &efi).unwrap_or_else(|e| panic!("{e}"));
    let esp = dir.join("esp.vfat");
    make_vfat(
        Some(&tree),
        &esp,
        &VfatSpec {
            size: esp_size,
            label: "NANOLIN_ESP",
            volume_id: 0x4e4c_0150,
            source_date_epoch: EPOCH,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let root = dir.join("root.img");
    let bytes: Vec<u8> = (0..ROOT_SIZE).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(&root, bytes).unwrap();
    let readme = dir.join("README.txt");
    fs::write(&readme, "A Nanolin test image.\n").unwrap();
    Inputs {
        esp,
        files: vec![
            (ROOT_IMAGE.to_string(), root),
            ("README".to_string(), readme.clone()),
            // What a graft point must escape (= and \), and a space.
            ("notes/a=b\\c d.txt".to_string(), readme),
        ],
    }
}

fn spec(inputs: &Inputs) -> IsoSpec<'_> {
    IsoSpec {
        volume_id: VOLUME_ID,
        efi_image: &inputs.esp,
        files: &inputs.files,
        source_date_epoch: EPOCH,
    }
}

/// The ISO every test reads, made once.
struct Made {
    dir: PathBuf,
    iso: PathBuf,
    info: IsoInfo,
    inputs: Inputs,
}

fn made() -> &'static Made {
    static MADE: OnceLock<Made> = OnceLock::new();
    MADE.get_or_init(|| {
        let dir = work_dir("one");
        let inputs = inputs(&dir);
        let iso = dir.join("nanolin.iso");
        let start = Instant::now();
        let info = make_iso(&spec(&inputs), &iso).unwrap_or_else(|e| panic!("{e}"));
        eprintln!(
            "iso: {} bytes made in {:.2} s",
            info.size,
            start.elapsed().as_secs_f64()
        );
        Made {
            dir,
            iso,
            info,
            inputs,
        }
    })
}

/// `xorriso ARGS` on the image, its standard output.
fn xorriso(dir: &Path, args: &[&str]) -> String {
    run_in(dir, &peer("xorriso", "xorriso"), args, "")
        .ok()
        .stdout
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_image_is_the_same_bytes_whatever_the_host_files_times_modes_and_inodes() {
    let one = made();
    assert_eq!(
        one.info.size,
        fs::metadata(&one.iso).unwrap().len(),
        "IsoInfo::size is not the file's"
    );
    assert_eq!(one.info.size % 2048, 0);

    // Other copies of the same inputs (new inodes), other mtimes, other modes, other folder.
    let dir = work_dir("two");
    let two = inputs(&dir);
    let long_ago = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for (i, path) in std::iter::once(&two.esp)
        .chain(two.files.iter().map(|(_, p)| p))
        .enumerate()
    {
        let file = fs::File::options().write(true).open(path).unwrap();
        file.set_modified(long_ago + Duration::from_secs(i as u64 * 3600))
            .unwrap();
        let mode = if i % 2 == 0 { 0o755 } else { 0o600 };
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }
    let iso = dir.join("nanolin.iso");
    let info = make_iso(&spec(&two), &iso).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(info, one.info);
    let (a, b) = (fs::read(&one.iso).unwrap(), fs::read(&iso).unwrap());
    let differing = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    assert!(
        a == b,
        "the two images differ: {differing} bytes, the first at {:?}",
        a.iter().zip(&b).position(|(x, y)| x != y)
    );
    // Nothing left beside the output but what the test made.
    assert_eq!(
        names(&dir),
        ["README.txt", "esp", "esp.vfat", "nanolin.iso", "root.img"]
    );
}

#[test]
fn xorriso_reads_the_tree_volume_and_efi_boot_entry_and_sgdisk_the_esp_partition() {
    let m = made();
    let iso = m.iso.to_str().unwrap();

    // The tree: our files, the ESP image, owner 0:0, read-only, every time the epoch.
    let listing = xorriso(
        &m.dir,
        &["-indev", iso, "-find", "/", "-exec", "lsdl", "--"],
    );
    let lines: Vec<&str> = listing.lines().collect();
    let esp_size = fs::metadata(&m.inputs.esp).unwrap().len();
    let row = |mode: &str, size: u64, path: &str| {
        format!("{mode}    1 0        0 {size:>15} Nov 14  2023 '{path}'")
    };
    for expected in [
        row("dr-xr-xr-x", 0, "/"),
        row("-r--r--r--", 22, "/README"),
        row("-r--r--r--", esp_size, &format!("/{EFI_IMAGE_PATH}")),
        row("dr-xr-xr-x", 0, "/nanolin"),
        row("-r--r--r--", ROOT_SIZE as u64, &format!("/{ROOT_IMAGE}")),
        row("dr-xr-xr-x", 0, "/notes"),
        row("-r--r--r--", 22, "/notes/a=b\\c d.txt"),
    ] {
        assert!(
            lines.contains(&expected.as_str()),
            "{expected:?} not listed:\n{listing}"
        );
    }
    assert_eq!(lines.len(), 7, "more than our files:\n{listing}");

    // Their bytes, extracted.
    let out = m.dir.join("extracted");
    fs::create_dir_all(&out).unwrap();
    xorriso(
        &m.dir,
        &[
            "-osirrox",
            "on",
            "-indev",
            iso,
            "-extract",
            &format!("/{ROOT_IMAGE}"),
            out.join("root.img").to_str().unwrap(),
            "-extract",
            &format!("/{EFI_IMAGE_PATH}"),
            out.join("efi.img").to_str().unwrap(),
        ],
    );
    assert_eq!(
        fs::read(out.join("root.img")).unwrap(),
        fs::read(&m.inputs.files[0].1).unwrap()
    );
    let esp = fs::read(&m.inputs.esp).unwrap();
    assert!(fs::read(out.join("efi.img")).unwrap() == esp);

    // The volume: its id and the epoch as its dates.
    let pvd = xorriso(&m.dir, &["-indev", iso, "-pvd_info"]);
    for line in [
        format!("Volume Id    : {VOLUME_ID}"),
        "Creation Time: 2023111422132000".to_string(),
        "Modif. Time  : 2023111422132000".to_string(),
    ] {
        assert!(pvd.lines().any(|l| l == line), "{line:?} not in:\n{pvd}");
    }

    // One El Torito entry, for UEFI, not emulating, bootable, the ESP image. Over 32 MiB,
    // its load size is recorded as 0 ("to the end of the volume").
    let el_torito = xorriso(&m.dir, &["-indev", iso, "-report_el_torito", "plain"]);
    let boot_img: Vec<&str> = el_torito
        .lines()
        .filter(|l| l.starts_with("El Torito boot img :"))
        .collect();
    assert_eq!(boot_img.len(), 1, "{el_torito}");
    let fields: Vec<&str> = boot_img[0].split_whitespace().collect();
    assert_eq!(
        fields[5..10],
        ["1", "UEFI", "y", "none", "0x0000"],
        "{el_torito}"
    );
    assert_eq!(fields[11], "0", "load size: {el_torito}");
    assert!(
        el_torito
            .lines()
            .any(|l| l == format!("El Torito img path :   1  /{EFI_IMAGE_PATH}")),
        "{el_torito}"
    );

    // The GPT: valid, and an EFI System partition holding the ESP image's very bytes.
    let sgdisk = peer("sgdisk", "gdisk");
    let verified = run_in(&m.dir, &sgdisk, &["-v", iso], "").ok().stdout;
    assert!(verified.contains("No problems found"), "{verified}");
    let printed = run_in(&m.dir, &sgdisk, &["-p", iso], "").ok().stdout;
    let esp_rows: Vec<&str> = printed.lines().filter(|l| l.contains(" EF00 ")).collect();
    assert_eq!(
        esp_rows.len(),
        1,
        "no single EFI System partition:\n{printed}"
    );
    let number = esp_rows[0].split_whitespace().next().unwrap();
    let info = run_in(&m.dir, &sgdisk, &["-i", number, iso], "")
        .ok()
        .stdout;
    assert!(
        info.contains("Partition GUID code: C12A7328-F81F-11D2-BA4B-00A0C93EC93B"),
        "{info}"
    );
    let sector = |key: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {key:?} in:\n{info}"))
    };
    let (first, last) = (sector("First sector: "), sector("Last sector: "));
    let image = fs::read(&m.iso).unwrap();
    let partition = &image[first as usize * 512..(last as usize + 1) * 512];
    assert_eq!(partition.len(), esp.len(), "{info}");
    assert!(
        partition == esp.as_slice(),
        "the partition is not the ESP image"
    );
    eprintln!(
        "iso: ESP of {} bytes at byte {}, GPT partition {number}",
        esp.len(),
        first * 512
    );
}

/// Boots OVMF with `devices`, returns the serial console and how long until QEMU ended.
fn boot(name: &str, devices: &[String]) -> (String, f64) {
    assert!(
        Path::new(OVMF).is_file(),
        "{OVMF} is missing: apt-get install ovmf"
    );
    let log = made().dir.join(format!("console-{name}.log"));
    let start = Instant::now();
    let out = Command::new(peer("timeout", "coreutils"))
        .args(["-k", "5", "300"])
        .arg(peer("qemu-system-x86_64", "qemu-system-x86"))
        .args(["-M", "q35", "-smp", "2", "-m", "512M"])
        .args([
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-monitor",
            "none",
        ])
        .arg("-no-reboot")
        .arg("-chardev")
        .arg(format!("file,id=console,path={}", log.display()))
        .args(["-serial", "chardev:console"])
        .args(["-bios", OVMF])
        .args(devices)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let elapsed = start.elapsed().as_secs_f64();
    let console = String::from_utf8_lossy(&fs::read(&log).unwrap()).replace('\r', "");
    assert!(
        out.status.success(),
        "qemu ({name}) failed ({:?}): {}\n{console}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (console, elapsed)
}

/// Asserts GRUB ran, loaded from a path starting with `from`, and found the medium's tree on
/// that whole disk (`(cd0)`, `(hd0)`), as the live menu check does.
#[track_caller]
fn grub_ran(name: &str, console: &str, from: &str) {
    let disk = from.split([',', ')']).next().unwrap_or(from);
    assert!(
        console.contains(&format!("{MEDIUM_MARKER}{disk})")),
        "{name}: GRUB did not find the medium's tree on {disk}):\n{console}"
    );
    let line = console
        .lines()
        .find_map(|l| l.find(MARKER).map(|at| &l[at + MARKER.len()..]))
        .unwrap_or_else(|| panic!("{name}: GRUB did not run:\n{console}"));
    assert!(
        line.starts_with(from),
        "{name}: GRUB ran from {line}, not {from}"
    );
}

#[test]
fn ovmf_boots_the_image_as_a_cd_as_a_disk_and_as_a_larger_usb_stick() {
    let m = made();

    let (console, secs) = boot(
        "cdrom",
        &["-cdrom".to_string(), m.iso.display().to_string()],
    );
    grub_ran("cdrom", &console, "(cd0)/EFI/BOOT");
    eprintln!("iso boot as a CD: {secs:.1} s to GRUB's halt");

    let (console, secs) = boot(
        "disk",
        &[
            "-drive".to_string(),
            format!(
                "if=none,format=raw,readonly=on,id=d0,file={}",
                m.iso.display()
            ),
            "-device".to_string(),
            "virtio-blk-pci,drive=d0".to_string(),
        ],
    );
    grub_ran("disk", &console, "(hd0,gpt2)/EFI/BOOT");
    eprintln!("iso boot as a virtio disk: {secs:.1} s to GRUB's halt");

    // Written raw to a larger stick: the backup GPT is not at the disk's end.
    let stick = m.dir.join("stick.img");
    fs::copy(&m.iso, &stick).unwrap();
    fs::File::options()
        .write(true)
        .open(&stick)
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    let (console, secs) = boot(
        "usb",
        &[
            "-device".to_string(),
            "qemu-xhci,id=xhci".to_string(),
            "-drive".to_string(),
            format!("if=none,format=raw,id=u0,file={}", stick.display()),
            "-device".to_string(),
            "usb-storage,bus=xhci.0,drive=u0".to_string(),
        ],
    );
    grub_ran("usb", &console, "(hd0,gpt2)/EFI/BOOT");
    eprintln!("iso boot as a 256 MiB USB stick: {secs:.1} s to GRUB's halt");
}
