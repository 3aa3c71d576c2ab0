//! The table on literal bytes (type GUIDs and the protective MBR as sgdisk 1.0.9 writes
//! them), and each refusal. `tests/tests/disk_image.rs` compares whole tables with sgdisk's.

use super::*;

fn part(name: &str, type_guid: Guid, start_sector: u64, size_sectors: u64) -> Partition {
    Partition {
        name: name.to_string(),
        type_guid,
        start_sector,
        size_sectors,
        attributes: 0,
    }
}

/// A 64 MiB disk: boot, root A, root B, data.
fn four() -> Vec<Partition> {
    vec![
        part("boot", part_type::EFI_SYSTEM, 2048, 32768),
        part("root-a", part_type::ROOT_AARCH64, 34816, 32768),
        part("root-b", part_type::ROOT_AARCH64, 67584, 32768),
        part("data", part_type::LINUX_DATA, 100352, 28672),
    ]
}

const DISK: u64 = 64 << 20;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn le64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

fn le32(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

#[test]
fn type_guids_are_stored_as_sgdisk_stores_them() {
    // `sgdisk -t N:CODE` then the first 16 bytes of each entry (`xxd -p`).
    let cases = [
        (part_type::EFI_SYSTEM, "28732ac11ff8d211ba4b00a0c93ec93b"),
        (part_type::XBOOTLDR, "ffc213bce6596242a352b275fd6f7172"),
        (part_type::ROOT_AARCH64, "45b021b9f01dc341af444c6f280d3fae"),
        (part_type::ROOT_X86_64, "e3bc684fcde8b14d96e7fbcaf984b709"),
        (part_type::ROOT_ARM, "10d7da69e42c3c4eb16c21a1d49abed3"),
        (part_type::ROOT_RISCV64, "a670ec7274cfe640bd494bda08e8f224"),
        (part_type::LINUX_GENERIC, "af3dc60f838472478e793d69d8477de4"),
        (part_type::LINUX_VAR, "16b0214d34b5c245a9fb5c16e091fd2d"),
    ];
    for (guid, stored) in cases {
        assert_eq!(hex(&guid.to_gpt_bytes()), stored, "{guid}");
        assert_eq!(Guid::from_gpt_bytes(guid.to_gpt_bytes()), guid);
    }
    assert_eq!(
        part_type::EFI_SYSTEM.to_string(),
        "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
    );
    assert_eq!(part_type::LINUX_DATA, part_type::LINUX_GENERIC);
}

#[test]
fn guids_parse_print_and_derive() {
    let text = "B921B045-1DF0-41C3-AF44-4C6F280D3FAE";
    let guid = Guid::parse(text).unwrap();
    assert_eq!(guid, part_type::ROOT_AARCH64);
    assert_eq!(guid.to_string(), text.to_lowercase());
    for bad in [
        "",
        "b921b045-1df0-41c3-af44-4c6f280d3fa",
        "b921b045-1df0-41c3-af44-4c6f280d3faee",
        "b921b045x1df0-41c3-af44-4c6f280d3fae",
        "g921b045-1df0-41c3-af44-4c6f280d3fae",
        "+921b045-1df0-41c3-af44-4c6f280d3fae",
    ] {
        assert!(
            matches!(Guid::parse(bad), Err(DiskError::BadGuid { .. })),
            "{bad}"
        );
    }

    // SHA-256("nanolin test" NUL "gpt-disk"), first 16 bytes, version 4, variant 10.
    let derived = Guid::derive("nanolin test", "gpt-disk");
    assert_eq!(hex(derived.as_bytes()), "9e9f71b5a4ab4314a123d9520da12913");
    assert_eq!(derived.as_bytes()[6] >> 4, 4);
    assert_eq!(derived.as_bytes()[8] >> 6, 0b10);
    assert_ne!(derived, Guid::derive("nanolin test", "gpt-disk2"));
    assert_ne!(derived, Guid::derive("nanolin tes", "tgpt-disk"));
}

#[test]
fn protective_mbr_and_headers() {
    let gpt = Gpt::new(DISK, "nanolin test", four()).unwrap();
    let primary = gpt.primary();
    let backup = gpt.backup();
    assert_eq!(primary.len(), 34 * 512);
    assert_eq!(backup.len(), 33 * 512);
    assert_eq!(gpt.backup_offset(), (131072 - 33) * 512);

    // As sgdisk writes it for a 64 MiB disk: CHS 0/0/2 to 8/40/32, LBA 1, 131071 sectors.
    assert!(primary[..446].iter().all(|&b| b == 0));
    assert_eq!(hex(&primary[446..462]), "00000200ee28200801000000ffff0100");
    assert!(primary[462..510].iter().all(|&b| b == 0));
    assert_eq!(&primary[510..512], &[0x55, 0xAA]);

    let header = &primary[512..1024];
    assert_eq!(&header[..8], b"EFI PART");
    assert_eq!(le32(header, 8), 0x0001_0000);
    assert_eq!(le32(header, 12), 92);
    assert_eq!(le64(header, 24), 1);
    assert_eq!(le64(header, 32), 131071);
    assert_eq!(le64(header, 40), 34);
    assert_eq!(le64(header, 48), 131038);
    assert_eq!(&header[56..72], &gpt.disk_guid().to_gpt_bytes());
    assert_eq!(le64(header, 72), 2);
    assert_eq!(le32(header, 80), 128);
    assert_eq!(le32(header, 84), 128);
    let entries = &primary[1024..];
    assert_eq!(le32(header, 88), nanolin_core::crc32::crc32(entries));
    let mut zeroed = header[..92].to_vec();
    zeroed[16..20].fill(0);
    assert_eq!(le32(header, 16), nanolin_core::crc32::crc32(&zeroed));
    assert!(header[92..].iter().all(|&b| b == 0));

    // The backup: the same entries, then a header pointing back at LBA 1.
    assert_eq!(&backup[..16384], entries);
    let backup_header = &backup[16384..];
    assert_eq!(le64(backup_header, 24), 131071);
    assert_eq!(le64(backup_header, 32), 1);
    assert_eq!(le64(backup_header, 72), 131071 - 32);
    assert_eq!(&backup_header[40..56], &header[40..56]);
    assert_eq!(&backup_header[56..72], &header[56..72]);
    assert_eq!(&backup_header[88..92], &header[88..92]);
}

#[test]
fn entries_hold_types_guids_places_attributes_and_names() {
    let mut parts = four();
    parts[0].attributes = attribute::REQUIRED | attribute::LEGACY_BIOS_BOOTABLE;
    parts[1].name = "räcine-α".to_string();
    let gpt = Gpt::new(DISK, "nanolin test", parts).unwrap();
    let entries = &gpt.primary()[1024..];
    let first = &entries[..128];
    assert_eq!(&first[..16], &part_type::EFI_SYSTEM.to_gpt_bytes());
    assert_eq!(
        &first[16..32],
        &Guid::derive("nanolin test", "gpt-partition:boot").to_gpt_bytes()
    );
    assert_eq!(
        gpt.unique_guids()[0],
        Guid::derive("nanolin test", "gpt-partition:boot")
    );
    assert_eq!(le64(first, 32), 2048);
    assert_eq!(le64(first, 40), 34815);
    assert_eq!(le64(first, 48), 0b101);
    assert_eq!(&first[56..64], b"b\0o\0o\0t\0");
    assert!(first[64..].iter().all(|&b| b == 0));

    let second = &entries[128..256];
    let name: Vec<u16> = "räcine-α".encode_utf16().collect();
    for (i, unit) in name.iter().enumerate() {
        assert_eq!(&second[56 + 2 * i..58 + 2 * i], &unit.to_le_bytes());
    }
    assert!(
        entries[512..].iter().all(|&b| b == 0),
        "unused entries are zero"
    );
}

#[test]
fn same_seed_same_bytes_other_seed_other_guids() {
    let a = Gpt::new(DISK, "seed", four()).unwrap();
    let b = Gpt::new(DISK, "seed", four()).unwrap();
    let c = Gpt::new(DISK, "other", four()).unwrap();
    assert_eq!(a.primary(), b.primary());
    assert_eq!(a.backup(), b.backup());
    assert_ne!(a.disk_guid(), c.disk_guid());
    assert_ne!(a.unique_guids(), c.unique_guids());
}

#[test]
fn chs_of_the_last_sector_as_sgdisk_computes_it() {
    assert_eq!(chs(131071), [0x28, 0x20, 0x08]); // 64 MiB
    assert_eq!(chs(1228799), [0x7c, 0x30, 0x4c]); // 600 MiB
    assert_eq!(chs(33554431), [0xff, 0xff, 0xff]); // 16 GiB: past cylinder 1023
    assert_eq!(chs(16065 * 1023 + 16064), [0xfe, 0xff, 0xff]); // the last cylinder
}

#[test]
fn a_disk_past_two_tebibytes_says_so_in_the_mbr() {
    let sectors: u64 = 1 << 33; // 4 TiB
    let gpt = Gpt::new(sectors * 512, "big", vec![]).unwrap();
    let mbr = gpt.primary();
    assert_eq!(&mbr[458..462], &[0xff; 4]);
}

#[test]
fn refuses_bad_layouts_naming_the_partition() {
    let err = |disk: u64, parts: Vec<Partition>| Gpt::new(disk, "s", parts).unwrap_err();

    assert!(matches!(
        err(DISK + 1, four()),
        DiskError::DiskSizeNotSectors { size } if size == DISK + 1
    ));
    assert!(matches!(
        err(67 * 512, vec![]),
        DiskError::DiskTooSmall { minimum: 34816, .. }
    ));
    Gpt::new(68 * 512, "s", vec![]).unwrap();

    let many: Vec<Partition> = (0..129)
        .map(|i| {
            part(
                &format!("p{i}"),
                part_type::LINUX_GENERIC,
                2048 * (i + 1),
                8,
            )
        })
        .collect();
    assert!(matches!(
        err(1 << 30, many),
        DiskError::TooManyPartitions { count: 129 }
    ));

    let mut p = four();
    p[2].name = "x".repeat(37);
    assert!(matches!(
        err(DISK, p),
        DiskError::NameTooLong { units: 37, .. }
    ));
    let mut p = four();
    p[2].name = "x".repeat(36);
    Gpt::new(DISK, "s", p).unwrap();
    let mut p = four();
    p[2].name = "😀".repeat(19); // 38 code units
    assert!(matches!(
        err(DISK, p),
        DiskError::NameTooLong { units: 38, .. }
    ));
    let mut p = four();
    p[2].name = "a\0b".to_string();
    assert!(matches!(err(DISK, p), DiskError::NameHasNul { .. }));

    let mut p = four();
    p[2].name = "root-a".to_string();
    assert!(matches!(err(DISK, p), DiskError::DuplicateName { name } if name == "root-a"));

    let mut p = four();
    p[3].type_guid = Guid::NIL;
    assert!(matches!(err(DISK, p), DiskError::NilType { name } if name == "data"));

    let mut p = four();
    p[3].size_sectors = 0;
    assert!(matches!(err(DISK, p), DiskError::EmptyPartition { name } if name == "data"));

    let mut p = four();
    p[1].start_sector = 34824;
    let e = err(DISK, p);
    assert!(matches!(
        &e,
        DiskError::Misaligned { name, start_sector: 34824 } if name == "root-a"
    ));
    assert!(e.to_string().contains("e.g. 36864"), "{e}");

    let mut p = four();
    p[1].size_sectors = 32767;
    assert!(matches!(
        err(DISK, p),
        DiskError::SizeNotBlocks {
            size_sectors: 32767,
            ..
        }
    ));

    let mut p = four();
    p[3].size_sectors = 30720; // ends at 131071, past 131038
    let e = err(DISK, p);
    assert!(matches!(
        &e,
        DiskError::OutsideUsable { name, first_usable: 34, last_usable: 131038, .. }
            if name == "data"
    ));
    assert!(e.to_string().contains("100352..=131071"), "{e}");
    let mut p = four();
    p[0].start_sector = 0;
    assert!(matches!(err(DISK, p), DiskError::OutsideUsable { .. }));
    let mut p = four();
    p[3].start_sector = u64::MAX - 2047;
    assert!(matches!(err(DISK, p), DiskError::OutsideUsable { .. }));

    let mut p = four();
    p[2].start_sector = 63488; // inside root-a, which ends at 67583
    assert!(matches!(
        err(DISK, p),
        DiskError::Overlap { first, second } if first == "root-a" && second == "root-b"
    ));
    // Out of order in the table, still caught.
    let mut p = four();
    p.swap(0, 3);
    p[3].start_sector = 100352;
    p[3].size_sectors = 8;
    assert!(matches!(err(DISK, p), DiskError::Overlap { .. }));
}

#[test]
fn partitions_may_come_in_any_order() {
    let mut p = four();
    p.reverse();
    let gpt = Gpt::new(DISK, "s", p).unwrap();
    assert_eq!(gpt.partitions()[0].name, "data");
}
