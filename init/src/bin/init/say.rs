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
