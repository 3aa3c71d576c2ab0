//! U-Boot's environment block, byte-compatible with `fw_printenv` and `fw_setenv`.
//!
//! ```text
//! single copy      CRC-32 (u32 LE) | data
//! redundant copy   CRC-32 (u32 LE) | flag (u8) | data
//! data             name=value \0 name=value \0 … \0, then padding to the block's end
//! ```
//!
//! The CRC covers the whole data area, padding included. With two redundant copies the
//! current one is the valid copy with the newer flag (a counter that wraps from 255 to 0), and
//! a write goes to the other copy with the flag one higher: at every instant one complete,
//! valid copy exists, so a power loss during a write leaves the previous environment.

use core::fmt;

use crate::crc32::crc32;

/// How a block is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One copy: CRC, then data.
    Single,
    /// One of two copies: CRC, flag, then data.
    Redundant,
}

impl Layout {
    /// Bytes before the data.
    pub const fn header_len(self) -> usize {
        match self {
            Layout::Single => 4,
            Layout::Redundant => 5,
        }
    }
}

/// What is wrong with an environment block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UbootEnvError {
    /// The block is smaller than a header and an empty environment.
    TooSmall {
        /// Size of the block.
        len: usize,
    },
    /// The stored CRC does not match the data: the copy is damaged or was never written.
    BadCrc {
        /// CRC in the block.
        stored: u32,
        /// CRC of the data.
        computed: u32,
    },
    /// The variables are not ended by an empty entry (two NUL bytes).
    NotTerminated,
    /// An entry without `=`, at this offset into the data.
    MissingEquals {
        /// Offset of the entry.
        offset: usize,
    },
    /// An entry that is not UTF-8 text, at this offset into the data.
    NotText {
        /// Offset of the entry.
        offset: usize,
    },
    /// A name that is empty or holds `=` or a NUL byte, or a value holding a NUL byte.
    InvalidVariable,
    /// The variables do not fit the block.
    TooLarge {
        /// Bytes available for variables.
        capacity: usize,
    },
}

impl fmt::Display for UbootEnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            UbootEnvError::TooSmall { len } => write!(f, "an environment block of {len} bytes is too small"),
            UbootEnvError::BadCrc { stored, computed } => write!(
                f,
                "CRC mismatch (stored {stored:#010x}, computed {computed:#010x}): the copy is damaged or was never written"
            ),
            UbootEnvError::NotTerminated => f.write_str("the variables are not ended by an empty entry"),
            UbootEnvError::MissingEquals { offset } => write!(f, "entry at data offset {offset} has no `=`"),
            UbootEnvError::NotText { offset } => write!(f, "entry at data offset {offset} is not UTF-8 text"),
            UbootEnvError::InvalidVariable => {
                f.write_str("a variable name must be non-empty without `=` or NUL, and a value without NUL")
            }
            UbootEnvError::TooLarge { capacity } => {
                write!(f, "the variables do not fit the {capacity} bytes of the environment")
            }
        }
    }
}

impl core::error::Error for UbootEnvError {}

/// One valid copy of the environment, borrowed from its block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvCopy<'a> {
    /// The redundancy flag (`None` for a single copy).
    pub flag: Option<u8>,
    /// The entries, without the terminating empty one.
    entries: &'a [u8],
}

impl<'a> EnvCopy<'a> {
    /// Checks a block's CRC and entries.
    pub fn parse(block: &'a [u8], layout: Layout) -> Result<Self, UbootEnvError> {
        let header = layout.header_len();
        if block.len() < header + 2 {
            return Err(UbootEnvError::TooSmall { len: block.len() });
        }
        let (head, data) = block.split_at(header);
        let (crc_bytes, flag) = head.split_at(4);
        let mut stored = [0u8; 4];
        stored.copy_from_slice(crc_bytes);
        let stored = u32::from_le_bytes(stored);
        let computed = crc32(data);
        if stored != computed {
            return Err(UbootEnvError::BadCrc { stored, computed });
        }
        // The entries end at the first empty entry: a NUL at the start or after a NUL.
        let end = if data.first() == Some(&0) {
            0
        } else {
            data.windows(2)
                .position(|w| w == [0, 0])
                .map(|p| p + 1)
                .ok_or(UbootEnvError::NotTerminated)?
        };
        let entries = data.get(..end).unwrap_or(&[]);
        let mut offset = 0;
        for entry in entries.split(|&b| b == 0).filter(|e| !e.is_empty()) {
            let text =
                core::str::from_utf8(entry).map_err(|_| UbootEnvError::NotText { offset })?;
            if !text.contains('=') {
                return Err(UbootEnvError::MissingEquals { offset });
            }
            offset += entry.len() + 1;
        }
        Ok(EnvCopy {
            flag: flag.first().copied(),
            entries,
        })
    }

    /// Every variable, in stored order.
    pub fn vars(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.entries
            .split(|&b| b == 0)
            .filter_map(|e| core::str::from_utf8(e).ok())
            .filter_map(|e| e.split_once('='))
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.vars().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// True when redundancy flag `a` is newer than `b` (the counter wraps from 255 to 0).
pub fn is_newer(a: u8, b: u8) -> bool {
    match (a, b) {
        (0, 255) => true,
        (255, 0) => false,
        _ => a > b,
    }
}

/// Of two redundant copies, the current one: the valid one, or the newer of two valid ones.
/// Returns its index (0 or 1).
pub fn current(
    a: &Result<EnvCopy<'_>, UbootEnvError>,
    b: &Result<EnvCopy<'_>, UbootEnvError>,
) -> Option<usize> {
    match (a, b) {
        (Ok(a), Ok(b)) => Some(if is_newer(b.flag.unwrap_or(0), a.flag.unwrap_or(0)) {
            1
        } else {
            0
        }),
        (Ok(_), Err(_)) => Some(0),
        (Err(_), Ok(_)) => Some(1),
        (Err(_), Err(_)) => None,
    }
}

/// Writes `vars` as a complete block into `block` (its whole length), with `flag` for the
/// redundant layout; unused bytes are zero.
pub fn emit<'v>(
    vars: impl IntoIterator<Item = (&'v str, &'v str)>,
    layout: Layout,
    flag: u8,
    block: &mut [u8],
) -> Result<(), UbootEnvError> {
    let header = layout.header_len();
    if block.len() < header + 2 {
        return Err(UbootEnvError::TooSmall { len: block.len() });
    }
    let (head, data) = block.split_at_mut(header);
    data.fill(0);
    let capacity = data.len();
    let mut at = 0;
    for (name, value) in vars {
        if name.is_empty() || name.contains(['=', '\0']) || value.contains('\0') {
            return Err(UbootEnvError::InvalidVariable);
        }
        // The entry, its NUL, and room left for the final empty entry.
        let end = at + name.len() + 1 + value.len();
        if end + 2 > capacity {
            return Err(UbootEnvError::TooLarge { capacity });
        }
        for (part, from) in [
            (name.as_bytes(), at),
            (b"=".as_slice(), at + name.len()),
            (value.as_bytes(), at + name.len() + 1),
        ] {
            if let Some(dest) = data.get_mut(from..from + part.len()) {
                dest.copy_from_slice(part);
            }
        }
        at = end + 1;
    }
    let crc = crc32(data);
    let (crc_bytes, flag_byte) = head.split_at_mut(4);
    crc_bytes.copy_from_slice(&crc.to_le_bytes());
    if let Some(f) = flag_byte.first_mut() {
        *f = flag;
    }
    Ok(())
}

#[cfg(test)]
#[path = "uboot_env_tests.rs"]
mod tests;
