//! The GUID Partition Table (UEFI 2.10, chapter 5.3), written by hand: a protective MBR at
//! LBA 0, the primary header at LBA 1 and its 128 entries of 128 bytes at LBAs 2–33, and the
//! backup entries and header in the last 33 sectors. 512-byte sectors.
//!
//! The caller places the partitions (the board module does); [`Gpt::new`] checks the
//! placement and refuses, with the partition named, anything a tool or a firmware would
//! trip on. Every GUID in the table is derived from a seed ([`Guid::derive`]), so the same
//! seed and layout give the same bytes.

use nanolin_core::crc32::crc32;

use super::{DiskError, Guid};

/// Bytes per sector (logical block).
pub const SECTOR_SIZE: u64 = 512;
/// Entries in each partition entry array: the UEFI minimum, and what every tool writes.
pub const ENTRY_COUNT: usize = 128;
/// Bytes per partition entry.
pub const ENTRY_SIZE: usize = 128;
/// Sectors each entry array takes (128 × 128 bytes).
pub const ENTRY_SECTORS: u64 = (ENTRY_COUNT * ENTRY_SIZE) as u64 / SECTOR_SIZE;
/// Sectors at the start of the disk the table takes: protective MBR, header, entries.
pub const PRIMARY_SECTORS: u64 = 2 + ENTRY_SECTORS;
/// Sectors at the end of the disk the backup takes: entries, header.
pub const BACKUP_SECTORS: u64 = ENTRY_SECTORS + 1;
/// Every partition starts on a multiple of this many sectors (1 MiB): the alignment of
/// flash erase blocks and of what partitioning tools propose.
pub const ALIGNMENT_SECTORS: u64 = 2048;
/// Every partition's size is a multiple of this many sectors (4 KiB), the block size of
/// the image writer and of the bmap.
pub const SIZE_GRANULE_SECTORS: u64 = 8;
/// The longest partition name, in UTF-16 code units (72 bytes in the entry).
pub const NAME_UNITS: usize = 36;

/// Header revision 1.0.
const REVISION: u32 = 0x0001_0000;
/// Bytes of the header that its CRC covers.
const HEADER_SIZE: u32 = 92;

/// Partition type GUIDs, as the UEFI specification and the Discoverable Partitions
/// Specification (uapi-group.org) define them. `sgdisk -L` names the codes in brackets.
pub mod part_type {
    use super::Guid;

    /// EFI System Partition (sgdisk `EF00`).
    pub const EFI_SYSTEM: Guid = Guid::from_u128(0xC12A7328_F81F_11D2_BA4B_00A0C93EC93B);
    /// Extended Boot Loader Partition, XBOOTLDR (sgdisk `EA00`).
    pub const XBOOTLDR: Guid = Guid::from_u128(0xBC13C2FF_59E6_4262_A352_B275FD6F7172);
    /// Root partition, 64-bit ARM (sgdisk `8305`).
    pub const ROOT_AARCH64: Guid = Guid::from_u128(0xB921B045_1DF0_41C3_AF44_4C6F280D3FAE);
    /// Root partition, x86-64 (sgdisk `8304`).
    pub const ROOT_X86_64: Guid = Guid::from_u128(0x4F68BCE3_E8CD_4DB1_96E7_FBCAF984B709);
    /// Root partition, 64-bit RISC-V (no sgdisk code in gdisk 1.0.9).
    pub const ROOT_RISCV64: Guid = Guid::from_u128(0x72EC70A6_CF74_40E6_BD49_4BDA08E8F224);
    /// Root partition, 32-bit ARM (sgdisk `8307`).
    pub const ROOT_ARM: Guid = Guid::from_u128(0x69DAD710_2CE4_4E3C_B16C_21A1D49ABED3);
    /// Generic Linux data: a Linux file system with no defined mount point (sgdisk `8300`,
    /// "Linux filesystem").
    pub const LINUX_GENERIC: Guid = Guid::from_u128(0x0FC63DAF_8483_4772_8E79_3D69D8477DE4);
    /// The type of a board's data partition: generic Linux data ([`LINUX_GENERIC`]). Not the
    /// specification's `/var` type, which systemd would mount only if its unique GUID were
    /// derived from the machine id, which an image made once for many boards cannot know.
    pub const LINUX_DATA: Guid = LINUX_GENERIC;
    /// Variable data, mounted at `/var` by systemd-gpt-auto-generator (sgdisk `8310`).
    pub const LINUX_VAR: Guid = Guid::from_u128(0x4D21B016_B534_45C2_A9FB_5C16E091FD2D);
    /// Microsoft basic data (sgdisk `0700`): a FAT or NTFS data partition; with the EFI System
    /// Partition, the type the Raspberry Pi 4's EEPROM bootloader looks for FAT in on a GPT disk.
    pub const BASIC_DATA: Guid = Guid::from_u128(0xEBD0A0A2_B9E5_4433_87C0_68B6B72699C7);
}

/// Partition attribute bits (UEFI 2.10 table 5.8 and the Discoverable Partitions
/// Specification), to be or-ed into [`Partition::attributes`].
pub mod attribute {
    /// Required for the platform to work: tools must not delete it (bit 0).
    pub const REQUIRED: u64 = 1 << 0;
    /// The firmware must not create a block I/O protocol for it (bit 1).
    pub const NO_BLOCK_IO: u64 = 1 << 1;
    /// Legacy BIOS bootable (bit 2): what U-Boot's and syslinux' GPT boot looks for.
    pub const LEGACY_BIOS_BOOTABLE: u64 = 1 << 2;
    /// Grow the file system to the partition on first mount (bit 59, systemd).
    pub const GROW_FS: u64 = 1 << 59;
    /// Mount read-only (bit 60).
    pub const READ_ONLY: u64 = 1 << 60;
    /// Do not mount automatically (bit 63).
    pub const NO_AUTO: u64 = 1 << 63;
}

/// One partition as the caller places it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Its name, at most [`NAME_UNITS`] UTF-16 code units; unique in the table, since its
    /// unique GUID is derived from it.
    pub name: String,
    /// What it holds ([`part_type`]).
    pub type_guid: Guid,
    /// Its first sector: a multiple of [`ALIGNMENT_SECTORS`].
    pub start_sector: u64,
    /// Its length in sectors: a multiple of [`SIZE_GRANULE_SECTORS`], not zero.
    pub size_sectors: u64,
    /// Attribute bits ([`attribute`]).
    pub attributes: u64,
}

impl Partition {
    /// Its last sector (inclusive), as GPT stores it.
    pub fn last_sector(&self) -> u64 {
        // Saturating: meaningful only for a partition Gpt::new accepted, never a panic.
        self.start_sector
            .saturating_add(self.size_sectors)
            .saturating_sub(1)
    }

    /// Its offset in the disk, in bytes.
    pub fn offset(&self) -> u64 {
        self.start_sector.saturating_mul(SECTOR_SIZE)
    }

    /// Its length in bytes.
    pub fn size(&self) -> u64 {
        self.size_sectors.saturating_mul(SECTOR_SIZE)
    }
}

/// A checked partition table for a disk of a given size, ready to be written.
#[derive(Debug, Clone)]
pub struct Gpt {
    sectors: u64,
    disk_guid: Guid,
    partitions: Vec<Partition>,
    unique_guids: Vec<Guid>,
}

impl Gpt {
    /// The table of a disk of `disk_size` bytes holding `partitions`, numbered in the order
    /// given (the first is partition 1). The disk GUID is `Guid::derive(seed, "gpt-disk")`,
    /// each partition's unique GUID `Guid::derive(seed, "gpt-partition:" + name)`.
    ///
    /// Refuses a disk size that is not whole sectors or too small for the two tables, more
    /// than 128 partitions, and any partition whose name is too long, holds a NUL or is used
    /// twice, whose type is the nil GUID (an unused entry), or that is empty, misaligned,
    /// outside the usable sectors or overlapping another.
    pub fn new(disk_size: u64, seed: &str, partitions: Vec<Partition>) -> Result<Gpt, DiskError> {
        if disk_size % SECTOR_SIZE != 0 {
            return Err(DiskError::DiskSizeNotSectors { size: disk_size });
        }
        let sectors = disk_size / SECTOR_SIZE;
        // One usable sector at least between the two tables.
        let minimum = (PRIMARY_SECTORS + BACKUP_SECTORS + 1) * SECTOR_SIZE;
        if disk_size < minimum {
            return Err(DiskError::DiskTooSmall {
                size: disk_size,
                minimum,
            });
        }
        if partitions.len() > ENTRY_COUNT {
            return Err(DiskError::TooManyPartitions {
                count: partitions.len(),
            });
        }
        let first_usable = PRIMARY_SECTORS;
        let last_usable = sectors - BACKUP_SECTORS - 1;
        for (i, p) in partitions.iter().enumerate() {
            let units = p.name.encode_utf16().count();
            if units > NAME_UNITS {
                return Err(DiskError::NameTooLong {
                    name: p.name.clone(),
                    units,
                });
            }
            if p.name.contains('\0') {
                return Err(DiskError::NameHasNul {
                    name: p.name.clone(),
                });
            }
            if partitions[..i].iter().any(|q| q.name == p.name) {
                return Err(DiskError::DuplicateName {
                    name: p.name.clone(),
                });
            }
            if p.type_guid == Guid::NIL {
                return Err(DiskError::NilType {
                    name: p.name.clone(),
                });
            }
            if p.size_sectors == 0 {
                return Err(DiskError::EmptyPartition {
                    name: p.name.clone(),
                });
            }
            if p.start_sector % ALIGNMENT_SECTORS != 0 {
                return Err(DiskError::Misaligned {
                    name: p.name.clone(),
                    start_sector: p.start_sector,
                });
            }
            if p.size_sectors % SIZE_GRANULE_SECTORS != 0 {
                return Err(DiskError::SizeNotBlocks {
                    name: p.name.clone(),
                    size_sectors: p.size_sectors,
                });
            }
            let last = p.start_sector.checked_add(p.size_sectors - 1);
            if p.start_sector < first_usable || last.is_none_or(|last| last > last_usable) {
                return Err(DiskError::OutsideUsable {
                    name: p.name.clone(),
                    start_sector: p.start_sector,
                    size_sectors: p.size_sectors,
                    first_usable,
                    last_usable,
                });
            }
        }
        let mut by_start: Vec<&Partition> = partitions.iter().collect();
        by_start.sort_by_key(|p| p.start_sector);
        for pair in by_start.windows(2) {
            if let [a, b] = pair {
                if b.start_sector <= a.last_sector() {
                    return Err(DiskError::Overlap {
                        first: a.name.clone(),
                        second: b.name.clone(),
                    });
                }
            }
        }
        let unique_guids = partitions
            .iter()
            .map(|p| Guid::derive(seed, &format!("gpt-partition:{}", p.name)))
            .collect();
        Ok(Gpt {
            sectors,
            disk_guid: Guid::derive(seed, "gpt-disk"),
            partitions,
            unique_guids,
        })
    }

    /// The disk's size in bytes.
    pub fn disk_size(&self) -> u64 {
        self.sectors * SECTOR_SIZE
    }

    /// The disk GUID.
    pub fn disk_guid(&self) -> Guid {
        self.disk_guid
    }

    /// The partitions, in table order (partition 1 first).
    pub fn partitions(&self) -> &[Partition] {
        &self.partitions
    }

    /// The unique GUID of each partition, in table order (what `root=PARTUUID=` names).
    pub fn unique_guids(&self) -> &[Guid] {
        &self.unique_guids
    }

    /// The first sector a partition may use.
    pub fn first_usable_lba(&self) -> u64 {
        PRIMARY_SECTORS
    }

    /// The last sector a partition may use.
    pub fn last_usable_lba(&self) -> u64 {
        self.sectors - BACKUP_SECTORS - 1
    }

    /// The first [`PRIMARY_SECTORS`] sectors of the disk: protective MBR, primary header,
    /// entry array.
    pub fn primary(&self) -> Vec<u8> {
        let entries = self.entries();
        let mut out = vec![0u8; (PRIMARY_SECTORS * SECTOR_SIZE) as usize];
        out[..512].copy_from_slice(&self.protective_mbr());
        out[512..1024].copy_from_slice(&self.header(1, self.sectors - 1, 2, &entries));
        out[1024..].copy_from_slice(&entries);
        out
    }

    /// The last [`BACKUP_SECTORS`] sectors of the disk: entry array, backup header.
    pub fn backup(&self) -> Vec<u8> {
        let entries = self.entries();
        let last = self.sectors - 1;
        let mut out = entries.clone();
        out.extend_from_slice(&self.header(last, 1, last - ENTRY_SECTORS, &entries));
        out
    }

    /// Where [`Gpt::backup`] goes, in bytes from the start of the disk.
    pub fn backup_offset(&self) -> u64 {
        (self.sectors - BACKUP_SECTORS) * SECTOR_SIZE
    }

    /// LBA 0: one partition of type 0xEE covering the disk (up to 2³² − 1 sectors), so
    /// MBR-only tools see the disk as in use.
    fn protective_mbr(&self) -> [u8; 512] {
        let mut mbr = [0u8; 512];
        let last = self.sectors - 1;
        let record = &mut mbr[446..462];
        record[0] = 0x00; // not bootable
        record[1..4].copy_from_slice(&[0x00, 0x02, 0x00]); // CHS of LBA 1
        record[4] = 0xEE;
        record[5..8].copy_from_slice(&chs(last));
        record[8..12].copy_from_slice(&1u32.to_le_bytes());
        let size = u32::try_from(last).unwrap_or(u32::MAX);
        record[12..16].copy_from_slice(&size.to_le_bytes());
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        mbr
    }

    /// The entry array: one 128-byte entry per partition, the rest zero.
    fn entries(&self) -> Vec<u8> {
        let mut out = vec![0u8; ENTRY_COUNT * ENTRY_SIZE];
        for ((p, unique), entry) in self
            .partitions
            .iter()
            .zip(&self.unique_guids)
            .zip(out.chunks_exact_mut(ENTRY_SIZE))
        {
            entry[0..16].copy_from_slice(&p.type_guid.to_gpt_bytes());
            entry[16..32].copy_from_slice(&unique.to_gpt_bytes());
            entry[32..40].copy_from_slice(&p.start_sector.to_le_bytes());
            entry[40..48].copy_from_slice(&p.last_sector().to_le_bytes());
            entry[48..56].copy_from_slice(&p.attributes.to_le_bytes());
            for (unit, slot) in p
                .name
                .encode_utf16()
                .zip(entry[56..128].chunks_exact_mut(2))
            {
                slot.copy_from_slice(&unit.to_le_bytes());
            }
        }
        out
    }

    /// A header sector: at `my_lba`, pointing at the other copy and at its entry array.
    fn header(
        &self,
        my_lba: u64,
        alternate_lba: u64,
        entries_lba: u64,
        entries: &[u8],
    ) -> [u8; 512] {
        let mut h = [0u8; 512];
        h[0..8].copy_from_slice(b"EFI PART");
        h[8..12].copy_from_slice(&REVISION.to_le_bytes());
        h[12..16].copy_from_slice(&HEADER_SIZE.to_le_bytes());
        // 16..20: the header's CRC, computed below with the field zero; 20..24 reserved.
        h[24..32].copy_from_slice(&my_lba.to_le_bytes());
        h[32..40].copy_from_slice(&alternate_lba.to_le_bytes());
        h[40..48].copy_from_slice(&self.first_usable_lba().to_le_bytes());
        h[48..56].copy_from_slice(&self.last_usable_lba().to_le_bytes());
        h[56..72].copy_from_slice(&self.disk_guid.to_gpt_bytes());
        h[72..80].copy_from_slice(&entries_lba.to_le_bytes());
        h[80..84].copy_from_slice(&(ENTRY_COUNT as u32).to_le_bytes());
        h[84..88].copy_from_slice(&(ENTRY_SIZE as u32).to_le_bytes());
        h[88..92].copy_from_slice(&crc32(entries).to_le_bytes());
        let crc = crc32(&h[..HEADER_SIZE as usize]);
        h[16..20].copy_from_slice(&crc.to_le_bytes());
        h
    }
}

/// The cylinder-head-sector address of `lba` in the 255-head, 63-sector geometry MBR tools
/// assume, as the three bytes of a partition record; `FF FF FF` past cylinder 1023.
fn chs(lba: u64) -> [u8; 3] {
    const HEADS: u64 = 255;
    const SECTORS: u64 = 63;
    let cylinder = lba / (HEADS * SECTORS);
    if cylinder > 1023 {
        return [0xFF; 3];
    }
    let head = (lba / SECTORS) % HEADS;
    let sector = lba % SECTORS + 1;
    [
        head as u8,
        (sector as u8) | (((cylinder >> 8) as u8) << 6),
        cylinder as u8,
    ]
}

#[cfg(test)]
#[path = "gpt_tests.rs"]
mod tests;
