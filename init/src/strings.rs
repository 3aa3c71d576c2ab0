//! One fixed block of bytes holding every string of every service, addressed by [`StrRef`].
//!
//! Strings are appended and never moved; a failed service file is rolled back by truncating to
//! the length before it.

use core::fmt;

/// Where a string lives in [`Strings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StrRef {
    start: u32,
    len: u32,
}

impl StrRef {
    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// True for the empty string.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// The block is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StringsFull {
    /// Capacity of the block, in bytes.
    pub capacity: usize,
}

impl fmt::Display for StringsFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the {} bytes for service strings are used up",
            self.capacity
        )
    }
}

/// A fixed block of UTF-8 strings.
pub struct Strings<const N: usize> {
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> Default for Strings<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Strings<N> {
    /// An empty block.
    pub const fn new() -> Self {
        Strings {
            bytes: [0; N],
            len: 0,
        }
    }

    /// Bytes in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets everything stored from `len` on.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Stores `s`.
    pub fn push(&mut self, s: &str) -> Result<StrRef, StringsFull> {
        self.push_with(|buf| {
            let dest = buf.get_mut(..s.len()).ok_or(StringsFull { capacity: N })?;
            dest.copy_from_slice(s.as_bytes());
            Ok(s.len())
        })
    }

    /// Stores what `write` puts at the start of the free space (it returns the length, which
    /// must end on a UTF-8 boundary of valid UTF-8).
    pub fn push_with<E>(
        &mut self,
        write: impl FnOnce(&mut [u8]) -> Result<usize, E>,
    ) -> Result<StrRef, E> {
        let free = self.bytes.get_mut(self.len..).unwrap_or(&mut []);
        let written = write(free)?.min(N - self.len);
        let start = self.len;
        self.len += written;
        Ok(StrRef {
            start: start as u32,
            len: written as u32,
        })
    }

    /// Extends the string `r`, which must be the last stored, by `s`.
    pub fn extend(&mut self, r: StrRef, s: &str) -> Result<StrRef, StringsFull> {
        let end = r.start as usize + r.len();
        if end != self.len {
            return Err(StringsFull { capacity: N });
        }
        let more = self.push(s)?;
        Ok(StrRef {
            start: r.start,
            len: r.len + more.len,
        })
    }

    /// The string at `r` (empty if `r` is not from this block).
    pub fn get(&self, r: StrRef) -> &str {
        let start = r.start as usize;
        self.bytes
            .get(start..start + r.len())
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }
}

#[cfg(test)]
#[path = "strings_tests.rs"]
mod tests;
