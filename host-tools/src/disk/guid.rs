//! GUIDs: the textual form people read, the mixed-endian form GPT stores, and reproducible ones
//! derived from a seed.

use std::fmt;

use sha2::{Digest, Sha256};

use super::DiskError;

/// A GUID, kept in RFC 4122 byte order: the bytes as its text reads,
/// `00112233-4455-6677-8899-aabbccddeeff` is `[0x00, 0x11, …, 0xff]`.
///
/// GPT stores the first three fields little-endian ([`Guid::to_gpt_bytes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid([u8; 16]);

impl Guid {
    /// The all-zero GUID: in a GPT entry's type, "this entry is unused".
    pub const NIL: Guid = Guid([0; 16]);

    /// The GUID whose text is the 32 hex digits of `value`:
    /// `Guid::from_u128(0xC12A7328_F81F_11D2_BA4B_00A0C93EC93B)`.
    pub const fn from_u128(value: u128) -> Guid {
        Guid(value.to_be_bytes())
    }

    /// The GUID of these bytes, in RFC 4122 (text) order.
    pub const fn from_bytes(bytes: [u8; 16]) -> Guid {
        Guid(bytes)
    }

    /// The bytes in RFC 4122 (text) order.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// A GUID that depends only on `seed` and `purpose`: the first 16 bytes of
    /// SHA-256(`seed` ‖ 0x00 ‖ `purpose`), with the version set to 4 and the variant to RFC 4122
    /// (`xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx`), so it reads as a random GUID while the
    /// same seed always gives the same one.
    pub fn derive(seed: &str, purpose: &str) -> Guid {
        let mut hasher = Sha256::new();
        hasher.update(seed.as_bytes());
        hasher.update([0]);
        hasher.update(purpose.as_bytes());
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Guid(bytes)
    }

    /// Parses `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` (hex digits in either case).
    pub fn parse(text: &str) -> Result<Guid, DiskError> {
        let bad = || DiskError::BadGuid {
            text: text.to_string(),
        };
        let raw = text.as_bytes();
        if raw.len() != 36 {
            return Err(bad());
        }
        let mut bytes = [0u8; 16];
        let mut digits = 0;
        for (at, &c) in raw.iter().enumerate() {
            if matches!(at, 8 | 13 | 18 | 23) {
                if c != b'-' {
                    return Err(bad());
                }
                continue;
            }
            let nibble = (c as char).to_digit(16).ok_or_else(bad)? as u8;
            bytes[digits / 2] |= if digits % 2 == 0 { nibble << 4 } else { nibble };
            digits += 1;
        }
        Ok(Guid(bytes))
    }

    /// The 16 bytes GPT stores: the first three fields (4, 2 and 2 bytes) little-endian, the
    /// last eight bytes as they are.
    pub fn to_gpt_bytes(&self) -> [u8; 16] {
        let b = self.0;
        [
            b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8], b[9], b[10], b[11], b[12], b[13],
            b[14], b[15],
        ]
    }

    /// The GUID GPT stores as these 16 bytes (the inverse of [`Guid::to_gpt_bytes`]).
    pub fn from_gpt_bytes(bytes: [u8; 16]) -> Guid {
        // Swapping the same fields again undoes the swap.
        Guid(Guid(bytes).to_gpt_bytes())
    }
}

impl fmt::Display for Guid {
    /// Lowercase, hyphenated: `c12a7328-f81f-11d2-ba4b-00a0c93ec93b`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}
