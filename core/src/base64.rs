//! Standard base64 (RFC 4648, `+/` alphabet, `=` padding), as signify and minisign write it.
//!
//! Both directions work on caller buffers. Decoding is strict: no white space, no missing or
//! extra padding, no non-zero bits in the padding; the error names the offending offset.

use core::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Length of the base64 text for `len` bytes of data.
pub const fn encoded_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// Why base64 text could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base64Error {
    /// A byte outside the alphabet, at this offset into the text.
    InvalidSymbol {
        /// Offset of the byte into the text, from 0.
        offset: usize,
        /// The byte itself.
        byte: u8,
    },
    /// The text is not a whole number of 4-symbol groups.
    InvalidLength {
        /// Length of the text.
        len: usize,
    },
    /// Padding in the wrong place, or padding bits that are not zero, at this offset.
    InvalidPadding {
        /// Offset of the first bad symbol.
        offset: usize,
    },
    /// The text decodes to another number of bytes than the record needs.
    WrongDecodedLength {
        /// Bytes the record needs.
        expected: usize,
        /// Bytes the text holds.
        got: usize,
    },
    /// The output buffer is too small.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
}

impl fmt::Display for Base64Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Base64Error::InvalidSymbol { offset, byte } => write!(
                f,
                "byte {byte:#04x} at offset {offset} is not base64 (allowed: A-Z a-z 0-9 + / =)"
            ),
            Base64Error::InvalidLength { len } => write!(
                f,
                "base64 text of {len} symbols is not a multiple of 4: the line is truncated or has extra characters"
            ),
            Base64Error::InvalidPadding { offset } => {
                write!(f, "misplaced or non-canonical base64 padding at offset {offset}")
            }
            Base64Error::WrongDecodedLength { expected, got } => write!(
                f,
                "base64 holds {got} bytes where {expected} are expected: the line is truncated or not this kind of record"
            ),
            Base64Error::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
        }
    }
}

impl core::error::Error for Base64Error {}

/// Encodes `data` into `out`, returning the text written.
pub fn encode<'a>(data: &[u8], out: &'a mut [u8]) -> Result<&'a str, Base64Error> {
    let needed = encoded_len(data.len());
    let out = out
        .get_mut(..needed)
        .ok_or(Base64Error::BufferTooSmall { needed })?;
    for (chunk, group) in data.chunks(3).zip(out.chunks_mut(4)) {
        let b = [
            chunk.first().copied().unwrap_or(0),
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let symbols = [
            symbol(n >> 18),
            symbol(n >> 12),
            if chunk.len() > 1 {
                symbol(n >> 6)
            } else {
                b'='
            },
            if chunk.len() > 2 { symbol(n) } else { b'=' },
        ];
        group.copy_from_slice(&symbols);
    }
    // Only ASCII from ALPHABET and '=' was written.
    core::str::from_utf8(out).map_err(|_| Base64Error::BufferTooSmall { needed })
}

/// The symbol for the low six bits of `bits`.
fn symbol(bits: u32) -> u8 {
    // The mask keeps the index below 64, so the fallback is never taken.
    ALPHABET.get((bits & 63) as usize).copied().unwrap_or(b'=')
}

fn symbol_value(byte: u8) -> Option<u8> {
    match byte {
        b'A'..=b'Z' => Some(byte - b'A'),
        b'a'..=b'z' => Some(byte - b'a' + 26),
        b'0'..=b'9' => Some(byte - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes `text` into `out`, returning the number of bytes written.
pub fn decode(text: &[u8], out: &mut [u8]) -> Result<usize, Base64Error> {
    if text.len() % 4 != 0 {
        // Report a bad symbol first: it is the more precise diagnosis.
        if let Some((offset, &byte)) = text
            .iter()
            .enumerate()
            .find(|(_, &b)| b != b'=' && symbol_value(b).is_none())
        {
            return Err(Base64Error::InvalidSymbol { offset, byte });
        }
        return Err(Base64Error::InvalidLength { len: text.len() });
    }
    let groups = text.len() / 4;
    let mut written = 0;
    for (index, group) in text.chunks_exact(4).enumerate() {
        let base = index * 4;
        let last = index + 1 == groups;
        let mut values = [0u8; 4];
        let mut padding = 0;
        for (i, (&byte, value)) in group.iter().zip(values.iter_mut()).enumerate() {
            if byte == b'=' {
                // '=' only in the last group, only in its last two places, and only trailing.
                if !last || i < 2 {
                    return Err(Base64Error::InvalidPadding { offset: base + i });
                }
                padding += 1;
            } else if padding > 0 {
                return Err(Base64Error::InvalidPadding { offset: base + i });
            } else {
                *value = symbol_value(byte).ok_or(Base64Error::InvalidSymbol {
                    offset: base + i,
                    byte,
                })?;
            }
        }
        let n = (u32::from(values[0]) << 18)
            | (u32::from(values[1]) << 12)
            | (u32::from(values[2]) << 6)
            | u32::from(values[3]);
        // Canonical encodings leave the bits under the padding zero.
        let spare_bits = match padding {
            2 => n & 0xffff,
            1 => n & 0xff,
            _ => 0,
        };
        if spare_bits != 0 {
            return Err(Base64Error::InvalidPadding {
                offset: base + 4 - padding,
            });
        }
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let take = 3 - padding;
        let end = written + take;
        let needed = groups * 3;
        let dest = out
            .get_mut(written..end)
            .ok_or(Base64Error::BufferTooSmall { needed })?;
        dest.copy_from_slice(bytes.get(..take).unwrap_or(&[]));
        written = end;
    }
    Ok(written)
}

/// Decodes `text` that must hold exactly `N` bytes.
pub fn decode_exact<const N: usize>(text: &[u8]) -> Result<[u8; N], Base64Error> {
    let mut out = [0u8; N];
    let got = decoded_len(text)?;
    if got != N {
        return Err(Base64Error::WrongDecodedLength { expected: N, got });
    }
    decode(text, &mut out)?;
    Ok(out)
}

/// Number of bytes `text` decodes to, checking only its length and padding count.
fn decoded_len(text: &[u8]) -> Result<usize, Base64Error> {
    if text.len() % 4 != 0 {
        return decode(text, &mut []).map(|_| 0);
    }
    let padding = text
        .iter()
        .rev()
        .take(2)
        .take_while(|&&b| b == b'=')
        .count();
    Ok(text.len() / 4 * 3 - padding)
}

#[cfg(test)]
#[path = "base64_tests.rs"]
mod tests;
