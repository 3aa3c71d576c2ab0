//! Unit tests of `medium`, on literal descriptor bytes.

use super::*;

fn pvd(id: &[u8]) -> [u8; SECTOR_LEN] {
    let mut sector = [0u8; SECTOR_LEN];
    sector[..7].copy_from_slice(b"\x01CD001\x01");
    sector[40..72].fill(b' ');
    sector[40..40 + id.len()].copy_from_slice(id);
    sector
}

#[test]
fn the_volume_id_of_a_primary_volume_descriptor() {
    assert_eq!(volume_id(&pvd(b"NANOLIN_PRIME")), Some("NANOLIN_PRIME"));
    let full = [b'A'; 32];
    assert_eq!(
        volume_id(&pvd(&full)),
        Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
    );
    assert_eq!(volume_id(&pvd(b"")), Some(""));
}

#[test]
fn other_sectors_have_no_volume_id() {
    // A supplementary descriptor (Joliet), a terminator, another standard, a bad version.
    for (at, byte) in [(0, 2u8), (0, 255), (1, b'B'), (6, 2)] {
        let mut sector = pvd(b"X");
        sector[at] = byte;
        assert_eq!(volume_id(&sector), None, "byte {at} = {byte}");
    }
    assert_eq!(volume_id(&[0u8; SECTOR_LEN]), None);
    // Too short to hold the id.
    assert_eq!(volume_id(&pvd(b"X")[..50]), None);
    // Not UTF-8.
    assert_eq!(volume_id(&pvd(&[0xff])), None);
}

#[test]
fn paths_are_plain_and_in_the_nanolin_folder() {
    for path in [ROOT_IMAGE, LIVE_CFG, RANGES, BLOCKS] {
        assert!(crate::disk_ranges::is_plain_path(path), "{path}");
        assert!(path.starts_with("nanolin/"), "{path}");
    }
}
