//! The live medium: a release's hybrid ISO, booted as a CD or written raw to a USB stick or
//! disk. What the host puts on it and the board's early stage (stage1) reads from it agree
//! here: the paths in its ISO 9660 tree, the kernel command line words that say "live" and
//! "install", and how a block device is recognised as the medium (the volume id in its
//! ISO 9660 primary volume descriptor).
//!
//! ```text
//! efi.img                  the EFI System Partition image (GRUB), also the El Torito image
//! vmlinuz  initrd.img      the kernel and initramfs GRUB boots
//! EFI/nanolin/grubenv      GRUB's environment block (read-only here: a CD counts no tries)
//! nanolin/live.cfg         GRUB's live menu; its presence marks the medium as live
//! nanolin/rootfs.img       the root file system (squashfs): the live system's root
//! nanolin/disk.ranges      the installer's ranges (crate::disk_ranges)
//! nanolin/disk.blocks      the bytes of the disk image no other file holds
//! nanolin/*.nlb            the update bundle
//! ```

/// The root file system image on the medium, relative to its root.
pub const ROOT_IMAGE: &str = "nanolin/rootfs.img";

/// GRUB's live menu on the medium; GRUB takes a medium holding it for a live one.
pub const LIVE_CFG: &str = "nanolin/live.cfg";

/// The installer's ranges file on the medium ([`crate::disk_ranges`]).
pub const RANGES: &str = "nanolin/disk.ranges";

/// The bytes of the disk image that no other file of the medium holds.
pub const BLOCKS: &str = "nanolin/disk.blocks";

/// Kernel command line word naming the live medium by its volume id: boot live from it.
pub const LIVE_ARG: &str = "nanolin.live=";

/// Kernel command line word asking to install the release from the live medium onto a disk:
/// [`INSTALL_AUTO`] or a device path.
pub const INSTALL_ARG: &str = "nanolin.install=";

/// The value of [`INSTALL_ARG`] that picks the first whole disk that is not the medium.
pub const INSTALL_AUTO: &str = "auto";

/// What stage1 writes in `/run/nanolin/slot` (with a newline) on a live system, where no slot
/// is booted.
pub const LIVE_SLOT: &str = "live";

/// Bytes of an ISO 9660 logical sector.
pub const SECTOR_LEN: usize = 2048;

/// Where the primary volume descriptor is: sector 16, after the system area.
pub const PVD_OFFSET: u64 = 16 * SECTOR_LEN as u64;

/// Where the volume id is in the primary volume descriptor, and its length (ISO 9660 8.4.6).
const VOLUME_ID: core::ops::Range<usize> = 40..72;

/// The volume id of an ISO 9660 primary volume descriptor (`sector`, the
/// [`SECTOR_LEN`] bytes at [`PVD_OFFSET`]): type 1, `CD001`, version 1; the id without its
/// trailing spaces. `None` for anything else.
pub fn volume_id(sector: &[u8]) -> Option<&str> {
    if sector.get(..7) != Some(b"\x01CD001\x01".as_slice()) {
        return None;
    }
    let id = core::str::from_utf8(sector.get(VOLUME_ID)?).ok()?;
    Some(id.trim_end_matches([' ', '\0']))
}

#[cfg(test)]
#[path = "medium_tests.rs"]
mod tests;
