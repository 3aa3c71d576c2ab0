//! The native boot state record, for boards where `init` picks the slot: a [`BootState`] and a
//! generation counter, stored twice so a power loss during a write never loses it.
//!
//! ```text
//! region   copy 0 (COPY_LEN bytes) | copy 1 (COPY_LEN bytes)
//! copy     offset  bytes
//!          0       4   magic "NLBS"
//!          4       1   format version (1)
//!          5       2   length of the fields that follow, u16 LE (8 in version 1)
//!          7       4   generation, u32 LE
//!          11      2   slot order: `A`, `B` or 0 (none) each, none only after the slots
//!          13      1   tries left for slot A
//!          14      1   tries left for slot B
//!          15      4   CRC-32 (u32 LE) of bytes 0..15
//!          19      …   zero to the end of the copy
//! ```
//!
//! The fields are a fixed little-endian encoding rather than postcard: four fixed-size fields
//! need no serializer, and a byte layout written down here can be read by a bootloader script
//! or a hex dump as well as by Rust.
//!
//! A later format version only appends fields (and raises the length): a reader takes the
//! fields it knows and skips the rest, so the older release in the other slot, booted after a
//! rollback, still reads what the newer one wrote.
//!
//! # Power-loss safety
//!
//! The current record is the valid copy with the newer generation. A write goes to the *other*
//! copy (see [`write_index`] and [`next_write`]) with the generation one higher, so the current
//! copy is never touched: if the write is torn, its CRC fails and the previous record stays
//! current. A copy is one 512-byte sector, which a disk or eMMC writes whole; on raw flash, give
//! each copy an erase block of its own.
//!
//! The generation is compared with serial-number arithmetic (RFC 1982), so it may wrap from
//! `u32::MAX` to 0; at one write per boot it never comes near doing so.
//!
//! # Trust contract
//!
//! Bytes enter through [`BootRecord::parse_copy`] and [`read`], which check magic, length and
//! CRC before decoding, and check every field after; nothing here panics or allocates.

use core::fmt;

use crate::boot_state::{BootSlot, BootState, MAX_TRIES};
use crate::crc32::crc32;
pub use crate::limits::BOOT_RECORD_COPY_LEN as COPY_LEN;

/// Bytes of the region holding both copies.
pub const REGION_LEN: usize = 2 * COPY_LEN;

/// The first four bytes of every copy.
pub const MAGIC: [u8; 4] = *b"NLBS";

/// The format version this code writes.
pub const FORMAT_VERSION: u8 = 1;

/// Byte positions in a copy.
mod field {
    use core::ops::Range;

    pub const MAGIC: Range<usize> = 0..4;
    pub const VERSION: usize = 4;
    pub const LENGTH: Range<usize> = 5..7;
    /// Start of the fields the length counts.
    pub const FIELDS: usize = 7;
    pub const GENERATION: Range<usize> = 7..11;
    pub const ORDER: Range<usize> = 11..13;
    pub const LEFT_A: usize = 13;
    pub const LEFT_B: usize = 14;
    /// Length of version 1's fields.
    pub const FIELDS_V1_LEN: usize = 15 - FIELDS;
    /// Bytes of the CRC after the fields.
    pub const CRC_LEN: usize = 4;
}

/// Bytes of a version 1 record: header, fields and CRC.
pub const RECORD_LEN: usize = field::FIELDS + field::FIELDS_V1_LEN + field::CRC_LEN;

/// Longest the fields of any version may be, so that the record fits one copy.
const FIELDS_MAX_LEN: usize = COPY_LEN - field::FIELDS - field::CRC_LEN;

/// What is wrong with one copy of the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootRecordError {
    /// Fewer bytes than a version 1 record.
    TooShort {
        /// Bytes given.
        len: usize,
    },
    /// The copy does not start with `NLBS`: it was never written, or is not a boot record.
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// Format version 0, which no writer uses.
    BadVersion {
        /// The version byte.
        version: u8,
    },
    /// The length of the fields is shorter than version 1's, or runs past the copy.
    BadLength {
        /// The stored length.
        len: usize,
        /// The longest length that fits.
        max: usize,
    },
    /// The stored CRC does not match: the copy is damaged or its write was torn.
    BadCrc {
        /// CRC in the copy.
        stored: u32,
        /// CRC of the bytes before it.
        computed: u32,
    },
    /// The slot order is not `A`, `B` or 0 for none, lists a slot twice, or has a slot after a
    /// none.
    BadOrder {
        /// Offset of the offending byte in the copy.
        offset: usize,
    },
    /// A slot has more tries left than [`MAX_TRIES`].
    BadTries {
        /// The slot.
        slot: BootSlot,
        /// Its stored tries.
        tries: u8,
    },
}

impl fmt::Display for BootRecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BootRecordError::TooShort { len } => write!(
                f,
                "{len} bytes are too few for a boot record ({RECORD_LEN} at least)"
            ),
            BootRecordError::BadMagic { found } => write!(
                f,
                "no boot record: the copy starts with {found:02x?}, not \"NLBS\" (never written?)"
            ),
            BootRecordError::BadVersion { version } => {
                write!(f, "boot record format version {version} is not valid")
            }
            BootRecordError::BadLength { len, max } => write!(
                f,
                "boot record length {len} at byte 5 is out of range ({} to {max})",
                field::FIELDS_V1_LEN
            ),
            BootRecordError::BadCrc { stored, computed } => write!(
                f,
                "boot record CRC mismatch (stored {stored:#010x}, computed {computed:#010x}): \
                 the copy is damaged or its write was torn"
            ),
            BootRecordError::BadOrder { offset } => write!(
                f,
                "boot record slot order at byte {offset} must be A, B or 0 (none), each slot once, \
                 none last"
            ),
            BootRecordError::BadTries { slot, tries } => write!(
                f,
                "boot record gives slot {slot} {tries} tries left; at most {MAX_TRIES}"
            ),
        }
    }
}

impl core::error::Error for BootRecordError {}

/// What is wrong with a region of two copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionError {
    /// The region is not [`REGION_LEN`] bytes.
    BadSize {
        /// Its length.
        len: usize,
    },
    /// Neither copy is valid.
    NoValidCopy {
        /// What is wrong with copy 0.
        first: BootRecordError,
        /// What is wrong with copy 1.
        second: BootRecordError,
    },
}

impl fmt::Display for RegionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RegionError::BadSize { len } => write!(
                f,
                "a boot record region of {len} bytes must be {REGION_LEN} (two copies of {COPY_LEN})"
            ),
            RegionError::NoValidCopy { first, second } => write!(
                f,
                "no valid boot record: copy 0: {first}; copy 1: {second}"
            ),
        }
    }
}

impl core::error::Error for RegionError {}

/// The boot state with the generation of the write that stored it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootRecord {
    /// One more with every write; the copy with the newer generation is current.
    pub generation: u32,
    /// Slot order and tries left.
    pub state: BootState,
}

impl BootRecord {
    /// Checks and decodes one copy (at least [`RECORD_LEN`] bytes; the record must end within
    /// the first [`COPY_LEN`]).
    pub fn parse_copy(bytes: &[u8]) -> Result<Self, BootRecordError> {
        if bytes.len() < RECORD_LEN {
            return Err(BootRecordError::TooShort { len: bytes.len() });
        }
        let found = read_array(bytes, field::MAGIC.start);
        if found != MAGIC {
            return Err(BootRecordError::BadMagic { found });
        }
        let version = byte(bytes, field::VERSION);
        if version == 0 {
            return Err(BootRecordError::BadVersion { version });
        }
        let len = usize::from(u16::from_le_bytes(read_array(bytes, field::LENGTH.start)));
        let max = FIELDS_MAX_LEN.min(bytes.len() - field::FIELDS - field::CRC_LEN);
        if !(field::FIELDS_V1_LEN..=max).contains(&len) {
            return Err(BootRecordError::BadLength { len, max });
        }
        let crc_at = field::FIELDS + len;
        let stored = u32::from_le_bytes(read_array(bytes, crc_at));
        let computed = crc32(bytes.get(..crc_at).unwrap_or(&[]));
        if stored != computed {
            return Err(BootRecordError::BadCrc { stored, computed });
        }
        let generation = u32::from_le_bytes(read_array(bytes, field::GENERATION.start));
        let order = decode_order(read_array(bytes, field::ORDER.start))?;
        let left_a = byte(bytes, field::LEFT_A);
        let left_b = byte(bytes, field::LEFT_B);
        for (slot, tries) in [(BootSlot::A, left_a), (BootSlot::B, left_b)] {
            if tries > MAX_TRIES {
                return Err(BootRecordError::BadTries { slot, tries });
            }
        }
        let state = BootState::from_parts(order.slots(), left_a, left_b).map_err(|_| {
            BootRecordError::BadOrder {
                offset: field::ORDER.start,
            }
        })?;
        Ok(BootRecord { generation, state })
    }

    /// Writes the record into a whole copy, the unused rest zero.
    pub fn emit_copy(&self, copy: &mut [u8; COPY_LEN]) {
        copy.fill(0);
        let mut order = [0u8; 2];
        for (code, slot) in order.iter_mut().zip(self.state.order()) {
            *code = slot_code(slot);
        }
        let len = field::FIELDS_V1_LEN as u16;
        let parts: [(usize, &[u8]); 6] = [
            (field::MAGIC.start, &MAGIC),
            (field::VERSION, &[FORMAT_VERSION]),
            (field::LENGTH.start, &len.to_le_bytes()),
            (field::GENERATION.start, &self.generation.to_le_bytes()),
            (field::ORDER.start, &order),
            (
                field::LEFT_A,
                &[self.state.left(BootSlot::A), self.state.left(BootSlot::B)],
            ),
        ];
        for (at, part) in parts {
            put(copy, at, part);
        }
        let crc_at = RECORD_LEN - field::CRC_LEN;
        let crc = crc32(copy.get(..crc_at).unwrap_or(&[]));
        put(copy, crc_at, &crc.to_le_bytes());
    }

    /// The record that replaces this one: `state`, one generation later.
    pub fn next(&self, state: BootState) -> BootRecord {
        BootRecord {
            generation: self.generation.wrapping_add(1),
            state,
        }
    }
}

/// True when generation `a` is newer than `b`: ahead by less than half the counter's range
/// (serial-number arithmetic, so the counter may wrap).
pub fn is_newer(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// The current record of a region of two copies, and the index of the copy holding it.
pub fn read(region: &[u8]) -> Result<(BootRecord, usize), RegionError> {
    if region.len() != REGION_LEN {
        return Err(RegionError::BadSize { len: region.len() });
    }
    let (first, second) = region.split_at(COPY_LEN);
    read_copies(first, second)
}

/// The current record of two copies stored apart (each in an erase block of its own), and the
/// index of the copy holding it: the valid one, or of two valid ones the newer (copy 0 on a tie).
pub fn read_copies(first: &[u8], second: &[u8]) -> Result<(BootRecord, usize), RegionError> {
    match (
        BootRecord::parse_copy(first),
        BootRecord::parse_copy(second),
    ) {
        (Ok(a), Ok(b)) if is_newer(b.generation, a.generation) => Ok((b, 1)),
        (Ok(a), _) => Ok((a, 0)),
        (Err(_), Ok(b)) => Ok((b, 1)),
        (Err(first), Err(second)) => Err(RegionError::NoValidCopy { first, second }),
    }
}

/// The copy the next write must go to: the one not holding the current record (copy 0 when
/// neither is valid).
pub fn write_index(region: &[u8]) -> usize {
    match read(region) {
        Ok((_, current)) => 1 - current,
        Err(_) => 0,
    }
}

/// The next write that stores `state`: which copy to write, and its bytes. The generation is one
/// more than the current record's (0 when the region holds none).
pub fn next_write(region: &[u8], state: &BootState) -> (usize, [u8; COPY_LEN]) {
    let (index, record) = match read(region) {
        Ok((current, at)) => (1 - at, current.next(*state)),
        Err(_) => (
            0,
            BootRecord {
                generation: 0,
                state: *state,
            },
        ),
    };
    let mut copy = [0u8; COPY_LEN];
    record.emit_copy(&mut copy);
    (index, copy)
}

/// Slots in order, as decoded.
struct Order {
    slots: [BootSlot; 2],
    count: usize,
}

impl Order {
    fn slots(&self) -> &[BootSlot] {
        self.slots.get(..self.count).unwrap_or(&[])
    }
}

const fn slot_code(slot: BootSlot) -> u8 {
    match slot {
        BootSlot::A => b'A',
        BootSlot::B => b'B',
    }
}

/// The order bytes: each `A`, `B` or 0, no slot after a 0, no slot twice.
fn decode_order(codes: [u8; 2]) -> Result<Order, BootRecordError> {
    let mut order = Order {
        slots: [BootSlot::A; 2],
        count: 0,
    };
    for (i, code) in codes.into_iter().enumerate() {
        let offset = field::ORDER.start + i;
        let slot = match code {
            0 => None,
            b'A' => Some(BootSlot::A),
            b'B' => Some(BootSlot::B),
            _ => return Err(BootRecordError::BadOrder { offset }),
        };
        match slot {
            None => {}
            Some(slot) if order.count == i && !order.slots().contains(&slot) => {
                if let Some(place) = order.slots.get_mut(i) {
                    *place = slot;
                }
                order.count += 1;
            }
            Some(_) => return Err(BootRecordError::BadOrder { offset }),
        }
    }
    Ok(order)
}

/// `N` bytes at `at` (zeros past the end; callers check lengths first).
fn read_array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = bytes.get(at..at + N) {
        out.copy_from_slice(src);
    }
    out
}

fn byte(bytes: &[u8], at: usize) -> u8 {
    bytes.get(at).copied().unwrap_or(0)
}

fn put(copy: &mut [u8], at: usize, part: &[u8]) {
    if let Some(dest) = copy.get_mut(at..at + part.len()) {
        dest.copy_from_slice(part);
    }
}

#[cfg(test)]
#[path = "boot_record_tests.rs"]
mod tests;
