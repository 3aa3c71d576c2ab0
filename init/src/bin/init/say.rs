//! Messages on the console, s6-style: `init: unable to mount /proc: EPERM`.

use core::fmt::{self, Write};

use rustix::fd::BorrowedFd;

use crate::sys;

/// Longest message line; longer ones are cut.
const LINE_MAX: usize = 512;

/// A message line being formatted on the stack.
pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    /// An empty line.
    pub fn new() -> Self {
        Line {
            buf: [0; LINE_MAX],
            len: 0,
        }
    }

    /// The text so far.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Appends raw bytes (a service's output, shown as it printed it).
    pub fn push_bytes(&mut self, bytes: &[u8]) {
        let take = bytes.len().min(LINE_MAX - self.len);
        if let (Some(dest), Some(src)) = (
            self.buf.get_mut(self.len..self.len + take),
            bytes.get(..take),
        ) {
            dest.copy_from_slice(src);
            self.len += take;
        }
    }

    /// Writes the line and a newline to `fd`.
    pub fn send(&mut self, fd: BorrowedFd<'_>) {
        if self.len == LINE_MAX {
            self.len -= 1;
        }
        let _ = self.write_str("\n");
        sys::write_all(fd, self.as_bytes());
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = LINE_MAX - self.len;
        let take = s.len().min(room);
        if let (Some(dest), Some(src)) = (
            self.buf.get_mut(self.len..self.len + take),
            s.as_bytes().get(..take),
        ) {
            dest.copy_from_slice(src);
            self.len += take;
        }
        Ok(())
    }
}

/// Prints `init: …` and a newline on standard error. One function for every message, so each
/// call site costs only its arguments.
#[inline(never)]
pub fn say_line(args: fmt::Arguments<'_>) {
    let mut line = Line::new();
    let _ = line.write_str("init: ");
    let _ = line.write_fmt(args);
    line.send(sys::stderr());
}

/// Prints `init: …` on standard error.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::say::say_line(format_args!($($arg)*))
    };
}
pub(crate) use say;

/// A whole number in decimal. init shows its integers through this rather than through each
/// integer type's own `Display` (about 300 bytes apiece of init's 64 KiB budget): all go
/// through `u32`'s, which the binary needs anyway. Magnitudes above `u32::MAX` show as
/// `u32::MAX`; init's numbers (pids, descriptors, counts, delays in ms) stay below it.
pub struct Dec {
    negative: bool,
    magnitude: u32,
}

impl From<u64> for Dec {
    fn from(n: u64) -> Self {
        Dec {
            negative: false,
            magnitude: u32::try_from(n).unwrap_or(u32::MAX),
        }
    }
}

impl From<usize> for Dec {
    fn from(n: usize) -> Self {
        Dec {
            negative: false,
            magnitude: u32::try_from(n).unwrap_or(u32::MAX),
        }
    }
}

impl From<i32> for Dec {
    fn from(n: i32) -> Self {
        Dec {
            negative: n < 0,
            magnitude: n.unsigned_abs(),
        }
    }
}

impl fmt::Display for Dec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.negative {
            f.write_str("-")?;
        }
        fmt::Display::fmt(&self.magnitude, f)
    }
}
