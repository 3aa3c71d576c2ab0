//! Release disk images read back by the real tools: sgdisk finds the table sound and as laid
//! out (byte for byte the table sgdisk itself writes for the same layout), bmaptool copies the
//! image exactly from its `.bmap`, fsck.fat and e2fsck accept the file systems, and building
//! twice gives the same bytes.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use nanolin_host::disk::{
    self, attribute, part_type, Content, Ext4Spec, Gpt, Guid, Mapping, Partition, VfatSpec,
};
use nanolin_host::pkgimage;

const EPOCH: u64 = 1_700_000_000;
const SEED: &str = "qemu-aarch64-virt r23.11-G14221320";
const DISK: u64 = 128 << 20;

fn peers() {
    common::peer("sgdisk", "gdisk");
    common::peer("bmaptool", "bmap-tools");
    common::peer("mkfs.fat", "dosfstools");
    common::peer("fsck.fat", "dosfstools");
    common::peer("mcopy", "mtools");
    common::peer("mtype", "mtools");
    common::peer("mke2fs", "e2fsprogs");
    common::peer("e2fsck", "e2fsprogs");
    common::peer("debugfs", "e2fsprogs");
    common::peer("mksquashfs", "squashfs-tools");
    common::peer("unsquashfs", "squashfs-tools");
}

/// Runs `program args`, asserting success; returns standard output.
#[track_caller]
fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn part(name: &str, type_guid: Guid, start_sector: u64, size_sectors: u64) -> Partition {
    Partition {
        name: name.to_string(),
        type_guid,
        start_sector,
        size_sectors,
        attributes: 0,
    }
}

/// 128 MiB: boot 16 MiB, root A and root B 32 MiB each, data 32 MiB, 14 MiB left over.
fn layout() -> Vec<Partition> {
    vec![
        Partition {
            attributes: attribute::LEGACY_BIOS_BOOTABLE,
            ..part("boot", part_type::EFI_SYSTEM, 2048, 32768)
        },
        part("root-a", part_type::ROOT_AARCH64, 34816, 65536),
        Partition {
            attributes: attribute::READ_ONLY,
            ..part("root-b", part_type::ROOT_AARCH64, 100352, 65536)
        },
        part("data", part_type::LINUX_DATA, 165888, 65536),
    ]
}

fn write(path: &Path, bytes: &[u8], mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The three trees: boot (a kernel, a device tree, a command line), root, data.
fn trees(dir: &Path) {
    let kernel: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    write(&dir.join("boot/EFI/BOOT/BOOTAA64.EFI"), &kernel, 0o644);
    write(&dir.join("boot/virt.dtb"), &[0xd0; 5000], 0o644);
    write(
        &dir.join("boot/cmdline.txt"),
        b"console=ttyAMA0 root=PARTLABEL=root-a\n",
        0o644,
    );
    write(&dir.join("root/sbin/init"), &[0x7f; 70_000], 0o755);
    write(&dir.join("root/etc/hostname"), b"nanolin\n", 0o644);
    write(
        &dir.join("data/etc/nanolin/agent.conf"),
        b"channel=stable\n",
        0o600,
    );
    write(
        &dir.join("data/log/README"),
        &b"logs go here\n".repeat(500),
        0o644,
    );
    std::os::unix::fs::symlink("agent.conf", dir.join("data/etc/nanolin/current")).unwrap();
}

/// Everything a release build makes, in `dir`: `disk.img`, `disk.bmap` and the partition
/// contents they were made from.
struct Built {
    image: PathBuf,
    bmap: PathBuf,
    gpt: Gpt,
}

fn build(dir: &Path, touch: bool) -> Built {
    trees(dir);
    if touch {
        // Other times and an other mode on the trees' directories must not matter.
        let status = Command::new("touch")
            .args(["-d", "2001-02-03 04:05:06"])
            .arg(dir.join("boot/cmdline.txt"))
            .arg(dir.join("data/log/README"))
            .arg(dir.join("root/etc/hostname"))
            .status()
            .unwrap();
        assert!(status.success());
        fs::set_permissions(dir.join("data"), fs::Permissions::from_mode(0o700)).unwrap();
    }
    let gpt = Gpt::new(DISK, SEED, layout()).unwrap();
    let boot = dir.join("boot.vfat");
    disk::make_vfat(
        Some(&dir.join("boot")),
        &boot,
        &VfatSpec {
            size: gpt.partitions()[0].size(),
            label: "BOOT",
            volume_id: 0x4e4c_0001,
            source_date_epoch: EPOCH,
        },
    )
    .unwrap();
    let root = dir.join("root.img");
    pkgimage::write_image(&dir.join("root"), &root, EPOCH).unwrap();
    let data = dir.join("data.ext4");
    disk::make_ext4(
        Some(&dir.join("data")),
        &data,
        &Ext4Spec {
            size: gpt.partitions()[3].size(),
            label: "data",
            uuid: Guid::derive(SEED, "data-fs"),
            hash_seed: Guid::derive(SEED, "data-fs-hash"),
            source_date_epoch: EPOCH,
        },
    )
    .unwrap();

    let image = dir.join("disk.img");
    let map = disk::write_image(
        &gpt,
        &[
            Content {
                partition: "boot",
                file: &boot,
                mapping: Mapping::Full,
            },
            Content {
                partition: "root-a",
                file: &root,
                mapping: Mapping::Full,
            },
            Content {
                partition: "data",
                file: &data,
                mapping: Mapping::Full,
            },
        ],
        &image,
    )
    .unwrap();
    let bmap = dir.join("disk.bmap");
    disk::write_bmap(&image, &map, &bmap).unwrap();
    Built { image, bmap, gpt }
}

/// Bytes `offset..offset + len` of `image`, as a file of their own.
fn slice(image: &Path, offset: u64, len: u64, out: &Path) -> PathBuf {
    let bytes = fs::read(image).unwrap();
    fs::write(out, &bytes[offset as usize..(offset + len) as usize]).unwrap();
    out.to_path_buf()
}

#[test]
fn sgdisk_finds_the_table_sound_and_as_laid_out() {
    peers();
    let dir = tempfile::tempdir().unwrap();
    let built = build(dir.path(), false);
    let img = s(&built.image);

    let verify = tool("sgdisk", &["-v", img]);
    assert!(verify.contains("No problems found."), "{verify}");

    let print = tool("sgdisk", &["-p", img]);
    assert!(print.contains("Disk identifier (GUID): "), "{print}");
    assert!(
        print.contains(&built.gpt.disk_guid().to_string().to_uppercase()),
        "{print}"
    );
    assert!(
        print.contains("First usable sector is 34, last usable sector is 262110"),
        "{print}"
    );
    let rows: Vec<Vec<&str>> = print
        .lines()
        .skip_while(|l| !l.starts_with("Number"))
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 4, "{print}");
    for (i, (row, p)) in rows.iter().zip(built.gpt.partitions()).enumerate() {
        assert_eq!(row[0], (i + 1).to_string());
        assert_eq!(row[1], p.start_sector.to_string(), "{print}");
        assert_eq!(row[2], p.last_sector().to_string(), "{print}");
        assert_eq!(row.last().unwrap(), &p.name, "{print}");
    }

    for (i, p) in built.gpt.partitions().iter().enumerate() {
        let info = tool("sgdisk", &["-i", &(i + 1).to_string(), img]);
        let field = |name: &str| -> String {
            let line = info
                .lines()
                .find(|l| l.starts_with(name))
                .unwrap_or_else(|| panic!("no {name} in {info}"));
            line[name.len()..].trim().to_string()
        };
        let code = field("Partition GUID code:");
        assert!(
            code.starts_with(&p.type_guid.to_string().to_uppercase()),
            "{}: {code}",
            p.name
        );
        assert_eq!(
            field("Partition unique GUID:"),
            built.gpt.unique_guids()[i].to_string().to_uppercase()
        );
        assert!(field("First sector:").starts_with(&format!("{} ", p.start_sector)));
        assert!(field("Last sector:").starts_with(&format!("{} ", p.last_sector())));
        assert!(field("Partition size:").starts_with(&format!("{} sectors", p.size_sectors)));
        assert_eq!(field("Attribute flags:"), format!("{:016X}", p.attributes));
        assert_eq!(field("Partition name:"), format!("'{}'", p.name));
    }
}

#[test]
fn the_tables_are_the_bytes_sgdisk_writes_for_the_same_layout() {
    common::peer("sgdisk", "gdisk");
    let dir = tempfile::tempdir().unwrap();
    let gpt = Gpt::new(DISK, SEED, layout()).unwrap();
    let ours = dir.path().join("ours.img");
    disk::write_image(&gpt, &[], &ours).unwrap();

    let theirs = dir.path().join("theirs.img");
    fs::File::create(&theirs).unwrap().set_len(DISK).unwrap();
    let mut args = vec!["-o".to_string(), "-U".into(), gpt.disk_guid().to_string()];
    for (i, p) in gpt.partitions().iter().enumerate() {
        let n = i + 1;
        args.push(format!("-n{n}:{}:{}", p.start_sector, p.last_sector()));
        args.push(format!("-t{n}:{}", p.type_guid));
        args.push(format!("-u{n}:{}", gpt.unique_guids()[i]));
        args.push(format!("-c{n}:{}", p.name));
        for bit in (0..64).filter(|b| p.attributes & (1 << b) != 0) {
            args.push(format!("-A{n}:set:{bit}"));
        }
    }
    args.push(s(&theirs).to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tool("sgdisk", &args);

    let ours = fs::read(&ours).unwrap();
    let theirs = fs::read(&theirs).unwrap();
    let head = 34 * 512;
    let tail = ours.len() - 33 * 512;
    assert!(ours[..head] == theirs[..head], "the primary tables differ");
    assert!(ours[tail..] == theirs[tail..], "the backup tables differ");
    assert!(ours == theirs, "the images differ outside the tables");
}

#[test]
fn bmaptool_copies_the_image_exactly() {
    peers();
    let dir = tempfile::tempdir().unwrap();
    let built = build(dir.path(), false);
    let copy = dir.path().join("copy.img");
    let out = Command::new("bmaptool")
        .args(["copy", "--bmap", s(&built.bmap), s(&built.image), s(&copy)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        fs::read(&copy).unwrap() == fs::read(&built.image).unwrap(),
        "bmaptool's copy differs from the image"
    );

    // Onto used media (bmaptool truncates a regular file, so this is done here as it does
    // on a device): only the blocks the bmap lists are written, the rest keeps old bytes.
    let used = flash_onto_used_media(&built.image, &built.bmap, &dir.path().join("used.img"));
    let verify = tool("sgdisk", &["-v", s(&used)]);
    assert!(verify.contains("No problems found."), "{verify}");
    let parts = built.gpt.partitions();
    let vfat = slice(
        &used,
        parts[0].offset(),
        parts[0].size(),
        &dir.path().join("used.vfat"),
    );
    tool("fsck.fat", &["-n", s(&vfat)]);
    let ext4 = slice(
        &used,
        parts[3].offset(),
        parts[3].size(),
        &dir.path().join("used.ext4"),
    );
    tool("e2fsck", &["-fn", s(&ext4)]);
    let root = fs::read(dir.path().join("root.img")).unwrap();
    let squash = slice(
        &used,
        parts[1].offset(),
        root.len() as u64,
        &dir.path().join("used.sq"),
    );
    assert!(fs::read(squash).unwrap() == root);
}

/// What `bmaptool copy` does to a block device that held other data (every byte 0xA5): the
/// blocks of each `<Range>` of `bmap` are copied from `image`, nothing else is touched.
fn flash_onto_used_media(image: &Path, bmap: &Path, out: &Path) -> PathBuf {
    let image = fs::read(image).unwrap();
    let mut media = vec![0xa5u8; image.len()];
    let text = fs::read_to_string(bmap).unwrap();
    let mut ranges = 0;
    for line in text
        .lines()
        .filter(|l| l.trim_start().starts_with("<Range"))
    {
        let blocks = line
            .split('>')
            .nth(1)
            .unwrap()
            .split('<')
            .next()
            .unwrap()
            .trim();
        let (first, last) = match blocks.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().unwrap(), b.parse::<usize>().unwrap()),
            None => (blocks.parse().unwrap(), blocks.parse().unwrap()),
        };
        let (start, end) = (first * 4096, ((last + 1) * 4096).min(image.len()));
        media[start..end].copy_from_slice(&image[start..end]);
        ranges += 1;
    }
    assert!(ranges > 0, "no ranges in {text}");
    fs::write(out, media).unwrap();
    out.to_path_buf()
}

/// Why every content of a release is mapped in full: copying only the non-zero blocks of a
/// vfat or an ext4 image onto used media breaks both file systems.
#[test]
fn data_only_mapping_breaks_vfat_and_ext4_on_used_media() {
    peers();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    trees(d);
    let gpt = Gpt::new(DISK, SEED, layout()).unwrap();
    let parts = gpt.partitions();
    let boot = d.join("boot.vfat");
    let vfat_spec = VfatSpec {
        size: parts[0].size(),
        label: "BOOT",
        volume_id: 1,
        source_date_epoch: EPOCH,
    };
    disk::make_vfat(Some(&d.join("boot")), &boot, &vfat_spec).unwrap();
    let data = d.join("data.ext4");
    let ext4_spec = Ext4Spec {
        size: parts[3].size(),
        label: "data",
        uuid: Guid::derive(SEED, "data-fs"),
        hash_seed: Guid::derive(SEED, "data-fs-hash"),
        source_date_epoch: EPOCH,
    };
    disk::make_ext4(Some(&d.join("data")), &data, &ext4_spec).unwrap();
    let image = d.join("disk.img");
    let map = disk::write_image(
        &gpt,
        &[
            Content {
                partition: "boot",
                file: &boot,
                mapping: Mapping::Data,
            },
            Content {
                partition: "data",
                file: &data,
                mapping: Mapping::Data,
            },
        ],
        &image,
    )
    .unwrap();
    let bmap = d.join("disk.bmap");
    disk::write_bmap(&image, &map, &bmap).unwrap();
    let used = flash_onto_used_media(&image, &bmap, &d.join("used.img"));

    let vfat = slice(
        &used,
        parts[0].offset(),
        parts[0].size(),
        &d.join("used.vfat"),
    );
    let fsck = Command::new("fsck.fat")
        .arg("-n")
        .arg(&vfat)
        .output()
        .unwrap();
    assert!(!fsck.status.success(), "fsck.fat found no fault");
    let ext4 = slice(
        &used,
        parts[3].offset(),
        parts[3].size(),
        &d.join("used.ext4"),
    );
    let fsck = Command::new("e2fsck")
        .arg("-fn")
        .arg(&ext4)
        .output()
        .unwrap();
    assert!(!fsck.status.success(), "e2fsck found no fault");
}

#[test]
fn our_bmap_is_what_bmaptool_create_writes_when_every_content_maps_its_data() {
    common::peer("bmaptool", "bmap-tools");
    let dir = tempfile::tempdir().unwrap();
    let gpt = Gpt::new(DISK, SEED, layout()).unwrap();
    let content = dir.path().join("content");
    let mut bytes = vec![0u8; 3 << 20];
    bytes[..5000].fill(1);
    bytes[2 << 20..(2 << 20) + 4096].fill(2);
    bytes[(3 << 20) - 1] = 3;
    fs::write(&content, bytes).unwrap();
    let image = dir.path().join("disk.img");
    let map = disk::write_image(
        &gpt,
        &[
            Content {
                partition: "boot",
                file: &content,
                mapping: Mapping::Data,
            },
            Content {
                partition: "data",
                file: &content,
                mapping: Mapping::Data,
            },
        ],
        &image,
    )
    .unwrap();
    let ours = dir.path().join("ours.bmap");
    disk::write_bmap(&image, &map, &ours).unwrap();
    let theirs = tool("bmaptool", &["create", s(&image)]);
    assert_eq!(fs::read_to_string(&ours).unwrap(), theirs);
}

#[test]
fn the_file_systems_pass_fsck_and_hold_the_trees() {
    peers();
    let dir = tempfile::tempdir().unwrap();
    let built = build(dir.path(), false);
    let parts = built.gpt.partitions();

    let vfat = slice(
        &built.image,
        parts[0].offset(),
        parts[0].size(),
        &dir.path().join("p1"),
    );
    tool("fsck.fat", &["-n", s(&vfat)]);
    let kernel = Command::new("mtype")
        .args(["-i", s(&vfat), "::/EFI/BOOT/BOOTAA64.EFI"])
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap();
    assert!(kernel.status.success());
    assert!(kernel.stdout == fs::read(dir.path().join("boot/EFI/BOOT/BOOTAA64.EFI")).unwrap());
    let listing = Command::new("mdir")
        .args(["-i", s(&vfat), "::/"])
        .env("MTOOLS_SKIP_CHECK", "1")
        .env("TZ", "UTC")
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.contains("Volume in drive : is BOOT"), "{listing}");
    assert!(listing.contains("Serial Number is 4E4C-0001"), "{listing}");
    assert!(listing.contains("2023-11-14  22:13"), "{listing}");

    let root = fs::metadata(dir.path().join("root.img")).unwrap().len();
    let squash = slice(
        &built.image,
        parts[1].offset(),
        root,
        &dir.path().join("p2"),
    );
    let list = tool("unsquashfs", &["-l", s(&squash)]);
    assert!(list.contains("squashfs-root/sbin/init"), "{list}");

    let ext4 = slice(
        &built.image,
        parts[3].offset(),
        parts[3].size(),
        &dir.path().join("p4"),
    );
    tool("e2fsck", &["-fn", s(&ext4)]);
    let conf = tool("debugfs", &["-R", "cat /etc/nanolin/agent.conf", s(&ext4)]);
    assert_eq!(conf, "channel=stable\n");
    let stat = tool("debugfs", &["-R", "stat /etc/nanolin/agent.conf", s(&ext4)]);
    assert!(stat.contains("Mode:  0600"), "{stat}");
    assert!(stat.contains("User:     0   Group:     0"), "{stat}");
    assert!(stat.contains("mtime: 0x6553f100"), "{stat}");
    let link = tool("debugfs", &["-R", "stat /etc/nanolin/current", s(&ext4)]);
    assert!(link.contains("Type: symlink"), "{link}");
    assert!(link.contains("Fast link dest: \"agent.conf\""), "{link}");
    let super_block = tool("dumpe2fs", &["-h", s(&ext4)]);
    assert!(
        super_block.contains(&Guid::derive(SEED, "data-fs").to_string()),
        "{super_block}"
    );
    assert!(
        super_block.contains("Filesystem volume name:   data"),
        "{super_block}"
    );
}

#[test]
fn building_twice_gives_the_same_bytes() {
    peers();
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let first = build(a.path(), false);
    // A second apart, so any time stamp of the host would show.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = build(b.path(), true);
    assert!(
        fs::read(&first.image).unwrap() == fs::read(&second.image).unwrap(),
        "the two images differ"
    );
    assert_eq!(
        fs::read_to_string(&first.bmap).unwrap(),
        fs::read_to_string(&second.bmap).unwrap(),
        "the two bmaps differ"
    );
}

/// Not run by default: writes a 1 GiB image with 512 MiB of content (half of it zeros) and
/// prints how long it took. `cargo test -p nanolin-tests --test disk_image -- --ignored
/// --nocapture`.
#[test]
#[ignore]
fn time_a_one_gibibyte_image() {
    let dir = tempfile::tempdir().unwrap();
    let gpt = Gpt::new(
        1 << 30,
        SEED,
        vec![
            part("root-a", part_type::ROOT_AARCH64, 2048, 1 << 20),
            part("data", part_type::LINUX_DATA, 2048 + (1 << 20), 1 << 19),
        ],
    )
    .unwrap();
    let content = dir.path().join("content");
    let mut bytes = vec![0u8; 512 << 20];
    for (i, block) in bytes.chunks_mut(8192).enumerate() {
        block[..4096].fill(i as u8 | 1);
    }
    fs::write(&content, &bytes).unwrap();
    drop(bytes);
    let image = dir.path().join("disk.img");
    let start = Instant::now();
    let map = disk::write_image(
        &gpt,
        &[Content {
            partition: "root-a",
            file: &content,
            mapping: Mapping::Data,
        }],
        &image,
    )
    .unwrap();
    let written = start.elapsed();
    disk::write_bmap(&image, &map, &dir.path().join("disk.bmap")).unwrap();
    let mapped = start.elapsed() - written;
    println!(
        "1 GiB image, 512 MiB content (256 MiB non-zero): written in {written:?}, bmap in {mapped:?}, {} ranges",
        map.ranges().len()
    );
}

#[test]
fn a_tree_too_large_for_its_file_system_is_refused_with_the_tools_words() {
    peers();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 31 % 253) as u8).collect();
    write(&d.join("tree/big.bin"), &big, 0o644);

    let out = d.join("small.ext4");
    let spec = Ext4Spec {
        size: 2 << 20,
        label: "data",
        uuid: Guid::derive(SEED, "u"),
        hash_seed: Guid::derive(SEED, "h"),
        source_date_epoch: EPOCH,
    };
    let err = disk::make_ext4(Some(&d.join("tree")), &out, &spec).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("debugfs reported an error: write: "),
        "{err}"
    );
    let out = d.join("small.vfat");
    let spec = VfatSpec {
        size: 2 << 20,
        label: "BOOT",
        volume_id: 1,
        source_date_epoch: EPOCH,
    };
    let err = disk::make_vfat(Some(&d.join("tree")), &out, &spec).unwrap_err();
    assert!(err.to_string().starts_with("mcopy failed"), "{err}");
    let mut left: Vec<String> = fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["tree"], "temporary files left behind");
}
