//! Any bytes as a board file: reading never panics, every error names a place inside the
//! text, and a board that reads has a layout that holds: each role once, partitions in disk
//! order, aligned, between the primary and the backup GPT of a disk of `disk_size`, and a raw
//! boot state inside the disk, clear of the partitions it does not belong to.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nanolin_host::board::{
    Board, StateLocation, GPT_BACKUP_SECTORS, GPT_PRIMARY_SECTORS, ROLES, SECTOR_SIZE,
};

fuzz_target!(|data: &[u8]| {
    let board = match Board::parse(Path::new("fuzz.conf"), data) {
        Ok(board) => board,
        Err(e) => {
            let place = e.place().expect("a parse error has a place");
            let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
            assert!(place.position.line >= 1 && place.position.line as usize <= lines);
            assert!(place.position.column >= 1);
            assert!(e.to_string().starts_with("fuzz.conf:"));
            return;
        }
    };
    assert_eq!(board.name, "fuzz");
    let layout = &board.layout;
    assert_eq!(layout.disk_sectors * SECTOR_SIZE, board.disk_size);
    assert_eq!(layout.first_usable, GPT_PRIMARY_SECTORS);
    assert_eq!(layout.last_usable + 1 + GPT_BACKUP_SECTORS, layout.disk_sectors);
    assert_eq!(layout.partitions.len(), ROLES.len());
    for role in ROLES {
        assert_eq!(layout.partitions.iter().filter(|p| p.role == role).count(), 1);
    }
    let mut end = layout.first_usable;
    for p in &layout.partitions {
        assert!(p.size_sectors > 0);
        assert_eq!(p.start_sector % layout.align_sectors, 0);
        assert!(p.start_sector >= end);
        end = p.end_sector();
    }
    assert!(end <= layout.last_usable + 1);
    if let Some((offset, len)) = board.boot_state.disk_range(layout) {
        assert!(offset + len <= board.disk_size);
        let first = layout.partitions.iter().map(|p| p.start_bytes()).min().unwrap_or(0);
        match board.boot_state.location {
            StateLocation::Disk { .. } => {
                assert!(offset >= GPT_PRIMARY_SECTORS * SECTOR_SIZE && offset + len <= first)
            }
            StateLocation::Partition { role, .. } => {
                let p = layout.partition(role).expect("the state's partition exists");
                assert!(offset >= p.start_bytes() && offset + len <= p.start_bytes() + p.size_bytes());
            }
            StateLocation::File { .. } => unreachable!("a file has no disk range"),
        }
    }
    assert!(!board.qemu.is_empty() || board.watchdog.is_none());
});
