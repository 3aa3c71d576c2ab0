//! Boot records of any content: parsing never panics; a copy it accepts re-emits to a copy that
//! parses to the same record; and on any region (the input, zero-padded to two copies) the next
//! write goes to the copy not holding the current record, becomes current when complete, and
//! leaves a valid copy when torn at any byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_core::boot_record::{next_write, read, BootRecord, COPY_LEN, RECORD_LEN, REGION_LEN};
use nanolin_core::boot_state::BootState;

fuzz_target!(|data: &[u8]| {
    if let Ok(record) = BootRecord::parse_copy(data) {
        let mut copy = [0u8; COPY_LEN];
        record.emit_copy(&mut copy);
        assert_eq!(BootRecord::parse_copy(&copy), Ok(record));
        // Version 1 with its own length is one encoding: the same bytes.
        if data.get(4..7) == Some(&[1, 8, 0]) {
            assert_eq!(copy.get(..RECORD_LEN), data.get(..RECORD_LEN));
        }
    }

    let mut region = [0u8; REGION_LEN];
    let n = data.len().min(REGION_LEN);
    region[..n].copy_from_slice(&data[..n]);
    let current = read(&region);
    let mut state = current.map_or(BootState::new(3), |(r, _)| r.state);
    state.take_try();
    let (at, bytes) = next_write(&region, &state);
    assert!(at < 2);
    if let Ok((_, held)) = current {
        assert_ne!(at, held, "a write must not go to the current copy");
    }
    let target = at * COPY_LEN..(at + 1) * COPY_LEN;

    // Torn after `tear` bytes: a valid copy still exists.
    let tear = data.len() % (RECORD_LEN + 1);
    let mut torn = region;
    torn[target.start..target.start + tear].copy_from_slice(&bytes[..tear]);
    if current.is_ok() {
        assert!(read(&torn).is_ok(), "a torn write lost the boot record");
    }

    // Complete: the new record is current, one generation on.
    region[target].copy_from_slice(&bytes);
    let (new, held) = read(&region).expect("a record just written");
    assert_eq!((held, new.state), (at, state));
    if let Ok((old, _)) = current {
        assert_eq!(new.generation, old.generation.wrapping_add(1));
    }
});
