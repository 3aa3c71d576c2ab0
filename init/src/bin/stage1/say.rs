//! Messages on the console, s6-style: `stage1: unable to mount /dev/vda2 …: EINVAL`.

use core::fmt::{self, Write};

use crate::sys;

/// Longest message line; longer ones are cut.
const LINE_MAX: usize = 1024;

/// A line being formatted on the stack: a message, or a path.
pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    /// An empty line.
    pub const fn new() -> Self {
        Line {
            buf: [0; LINE_MAX],
            len: 0,
        }
    }

    /// The text so far.
    pub fn as_str(&self) -> &str {
        // Only whole `str`s are appended, cut at a character boundary.
        core::str::from_utf8(self.buf.get(..self.len).unwrap_or(&[])).unwrap_or("")
    }

    /// Writes the line and a newline to the console in one write, so kernel messages do not
    /// land in between (a full line loses its last byte to the newline).
    fn send(&mut self) {
        self.len = self.len.min(LINE_MAX - 1);
        if let Some(end) = self.buf.get_mut(self.len) {
            *end = b'\n';
        }
        sys::write_all(sys::stderr(), self.buf.get(..=self.len).unwrap_or(&[]));
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = LINE_MAX - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        if let (Some(dest), Some(src)) = (
            self.buf.get_mut(self.len..self.len + take),
            s.as_bytes().get(..take),
        ) {
            dest.copy_from_slice(src);
            self.len += take;
        }
        if take < s.len() {
            return Err(fmt::Error);
        }
        Ok(())
    }
}

/// Prints `stage1: …` and a newline on standard error (the console). One function for every
/// message, so each call site costs only its arguments.
#[inline(never)]
pub fn say_line(args: fmt::Arguments<'_>) {
    let mut line = Line::new();
    let _ = line.write_str("stage1: ");
    let _ = line.write_fmt(args);
    line.send();
}

/// Prints `stage1: …` on the console.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::say::say_line(format_args!($($arg)*))
    };
}
pub(crate) use say;
