//! Unit tests of `boot_record`.

use super::*;
use crate::boot_state::BootSlot::{A, B};

/// Generation 5, B before A, A out of tries, B with 3: byte for byte.
const RECORD: [u8; RECORD_LEN] = [
    b'N', b'L', b'B', b'S', // magic
    1,    // version
    8, 0, // length of the fields
    5, 0, 0, 0, // generation
    b'B', b'A', // order
    0, 3, // tries left A, B
    0x84, 0x1d, 0xd6, 0x4e, // CRC-32 of the above
];

fn record(generation: u32, order: &[BootSlot], left_a: u8, left_b: u8) -> BootRecord {
    BootRecord {
        generation,
        state: BootState::from_parts(order, left_a, left_b).unwrap(),
    }
}

fn copy_of(r: &BootRecord) -> [u8; COPY_LEN] {
    let mut copy = [0xAAu8; COPY_LEN];
    r.emit_copy(&mut copy);
    copy
}

fn region(first: &[u8; COPY_LEN], second: &[u8; COPY_LEN]) -> [u8; REGION_LEN] {
    let mut region = [0u8; REGION_LEN];
    region[..COPY_LEN].copy_from_slice(first);
    region[COPY_LEN..].copy_from_slice(second);
    region
}

#[test]
fn emits_and_parses_literal_bytes() {
    let r = record(5, &[B, A], 0, 3);
    let copy = copy_of(&r);
    assert_eq!(copy[..RECORD_LEN], RECORD);
    assert!(
        copy[RECORD_LEN..].iter().all(|&b| b == 0),
        "the rest is zero"
    );
    assert_eq!(BootRecord::parse_copy(&RECORD), Ok(r));
    assert_eq!(BootRecord::parse_copy(&copy), Ok(r));
    let parsed = BootRecord::parse_copy(&RECORD).unwrap();
    assert_eq!(parsed.state.order().collect::<std::vec::Vec<_>>(), [B, A]);
    assert_eq!(parsed.state.next_boot(), Some(B));
}

#[test]
fn round_trips_every_order() {
    for order in [&[A, B][..], &[B, A], &[A], &[B], &[]] {
        for (left_a, left_b) in [(0, 0), (3, 1), (MAX_TRIES, MAX_TRIES)] {
            let r = record(u32::MAX, order, left_a, left_b);
            assert_eq!(BootRecord::parse_copy(&copy_of(&r)), Ok(r));
        }
    }
}

#[test]
fn refuses_truncated_and_damaged_copies() {
    assert_eq!(
        BootRecord::parse_copy(&RECORD[..RECORD_LEN - 1]),
        Err(BootRecordError::TooShort {
            len: RECORD_LEN - 1
        })
    );
    assert_eq!(
        BootRecord::parse_copy(&[0xff; COPY_LEN]),
        Err(BootRecordError::BadMagic { found: [0xff; 4] })
    );
    // Every single flipped bit is caught.
    for i in 0..RECORD_LEN {
        for bit in 0..8 {
            let mut bad = RECORD;
            bad[i] ^= 1 << bit;
            assert!(
                BootRecord::parse_copy(&bad).is_err(),
                "flipped bit {bit} of byte {i} went unnoticed"
            );
        }
    }
    let mut bad = RECORD;
    bad[12] ^= 1;
    assert_eq!(
        BootRecord::parse_copy(&bad),
        Err(BootRecordError::BadCrc {
            stored: 0x4ed6_1d84,
            computed: crc32(&bad[..15])
        })
    );
    let mut bad = RECORD;
    bad[4] = 0;
    assert_eq!(
        BootRecord::parse_copy(&bad),
        Err(BootRecordError::BadVersion { version: 0 })
    );
    let mut bad = RECORD;
    bad[5] = 7;
    assert_eq!(
        BootRecord::parse_copy(&bad),
        Err(BootRecordError::BadLength { len: 7, max: 8 })
    );
}

/// A copy with `fields` after the header, its length and CRC made right.
fn with_fields(version: u8, fields: &[u8]) -> [u8; COPY_LEN] {
    let mut copy = [0u8; COPY_LEN];
    copy[..4].copy_from_slice(b"NLBS");
    copy[4] = version;
    copy[5..7].copy_from_slice(&(fields.len() as u16).to_le_bytes());
    copy[7..7 + fields.len()].copy_from_slice(fields);
    let end = 7 + fields.len();
    let crc = crc32(&copy[..end]);
    copy[end..end + 4].copy_from_slice(&crc.to_le_bytes());
    copy
}

#[test]
fn refuses_fields_out_of_range_even_with_a_good_crc() {
    let gen = [1, 0, 0, 0];
    let cases: [([u8; 4], BootRecordError); 5] = [
        ([b'C', b'A', 1, 1], BootRecordError::BadOrder { offset: 11 }),
        ([b'A', b'A', 1, 1], BootRecordError::BadOrder { offset: 12 }),
        ([0, b'A', 1, 1], BootRecordError::BadOrder { offset: 12 }),
        (
            [b'A', b'B', MAX_TRIES + 1, 1],
            BootRecordError::BadTries {
                slot: A,
                tries: MAX_TRIES + 1,
            },
        ),
        (
            [b'A', b'B', 1, 200],
            BootRecordError::BadTries {
                slot: B,
                tries: 200,
            },
        ),
    ];
    for (tail, error) in cases {
        let mut fields = [0u8; 8];
        fields[..4].copy_from_slice(&gen);
        fields[4..].copy_from_slice(&tail);
        assert_eq!(BootRecord::parse_copy(&with_fields(1, &fields)), Err(error));
    }
}

#[test]
fn a_later_version_with_more_fields_still_reads() {
    // Version 2 appends 3 bytes; this version reads the fields it knows.
    let copy = with_fields(2, &[9, 0, 0, 0, b'A', b'B', 2, 3, 0xde, 0xad, 0xbe]);
    assert_eq!(BootRecord::parse_copy(&copy), Ok(record(9, &[A, B], 2, 3)));
    // A length past the copy is refused.
    let mut copy = with_fields(2, &[9, 0, 0, 0, b'A', b'B', 2, 3]);
    copy[5..7].copy_from_slice(&502u16.to_le_bytes());
    assert_eq!(
        BootRecord::parse_copy(&copy),
        Err(BootRecordError::BadLength { len: 502, max: 501 })
    );
}

#[test]
fn the_newer_generation_wins_with_wraparound() {
    assert!(is_newer(2, 1) && !is_newer(1, 2) && !is_newer(1, 1));
    assert!(is_newer(0, u32::MAX) && !is_newer(u32::MAX, 0));
    let old = copy_of(&record(u32::MAX, &[A, B], 3, 3));
    let new = copy_of(&record(0, &[B, A], 3, 3));
    assert_eq!(read(&region(&old, &new)).unwrap().1, 1);
    assert_eq!(read(&region(&new, &old)).unwrap().1, 0);
    let (r, at) = read(&region(&old, &new)).unwrap();
    assert_eq!((r.generation, at), (0, 1));
    // A tie (never written so) goes to copy 0.
    assert_eq!(read(&region(&old, &old)).unwrap().1, 0);
}

#[test]
fn a_torn_write_keeps_the_current_copy() {
    let current = copy_of(&record(7, &[A, B], 3, 3));
    let mut torn = copy_of(&record(8, &[B, A], 0, 3));
    // The write stopped after 12 bytes; the rest is what was there before.
    torn[12..].copy_from_slice(&[0xAA; COPY_LEN - 12]);
    let (r, at) = read(&region(&current, &torn)).unwrap();
    assert_eq!((r.generation, at), (7, 0));
    assert_eq!(r.state.next_boot(), Some(A));
    // Torn the other way round: copy 1 current, copy 0 torn.
    let (r, at) = read(&region(&torn, &current)).unwrap();
    assert_eq!((r.generation, at), (7, 1));
}

#[test]
fn both_copies_bad_or_a_wrong_size_is_an_error() {
    let blank = [0u8; REGION_LEN];
    let error = read(&blank).unwrap_err();
    assert_eq!(
        error,
        RegionError::NoValidCopy {
            first: BootRecordError::BadMagic { found: [0; 4] },
            second: BootRecordError::BadMagic { found: [0; 4] },
        }
    );
    let text = std::format!("{error}");
    assert!(
        text.contains("copy 0:") && text.contains("copy 1:"),
        "{text}"
    );
    assert_eq!(
        read(&[0u8; REGION_LEN - 1]),
        Err(RegionError::BadSize {
            len: REGION_LEN - 1
        })
    );
}

#[test]
fn writes_alternate_and_never_touch_the_current_copy() {
    // A blank region: the first write goes to copy 0 with generation 0.
    let mut region = [0xffu8; REGION_LEN];
    assert_eq!(write_index(&region), 0);
    let mut state = BootState::new(3);
    let (at, bytes) = next_write(&region, &state);
    assert_eq!(at, 0);
    region[..COPY_LEN].copy_from_slice(&bytes);
    assert_eq!(read(&region).unwrap(), (record(0, &[A, B], 3, 3), 0));
    // Each later write goes to the other copy, one generation on.
    for generation in 1..6u32 {
        let before = read(&region).unwrap();
        state.take_try();
        let (at, bytes) = next_write(&region, &state);
        assert_eq!(at, write_index(&region));
        assert_ne!(at, before.1, "a write must not overwrite the current copy");
        region[at * COPY_LEN..(at + 1) * COPY_LEN].copy_from_slice(&bytes);
        let (r, now) = read(&region).unwrap();
        assert_eq!((r.generation, now, r.state), (generation, at, state));
    }
    // Copy 1 damaged: the next write repairs it, and copy 0 stays current meanwhile.
    let (r, at) = read(&region).unwrap();
    assert_eq!(at, 1);
    region[COPY_LEN + 3] ^= 0xff;
    assert_eq!(read(&region).unwrap().0.generation, r.generation - 1);
    assert_eq!(write_index(&region), 1);
}

#[test]
fn errors_name_the_fault() {
    let text = std::format!("{}", BootRecordError::BadMagic { found: [0; 4] });
    assert!(
        text.contains("NLBS") && text.contains("never written"),
        "{text}"
    );
    let text = std::format!(
        "{}",
        BootRecordError::BadTries {
            slot: B,
            tries: 200
        }
    );
    assert_eq!(text, "boot record gives slot B 200 tries left; at most 9");
}
