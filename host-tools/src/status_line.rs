//! A long step's status while it runs: how long it has run and the last line it printed.
//!
//! On a terminal the status is one line redrawn in place (`\r`, then erase to the end of the
//! line), cut to the terminal's width, like cargo's and ninja's; elsewhere (a CI log, a pipe)
//! it is a plain line every [`PLAIN_INTERVAL`], so a log shows the step is alive without
//! filling up. The output being watched is fed in as raw bytes: lines end at `\n` or `\r`
//! (progress bars redraw with `\r`), and escape sequences and other control characters are
//! dropped so they cannot move our cursor.

use std::io::Write;
use std::time::{Duration, Instant};

/// How often a terminal's status line is redrawn.
pub const TERMINAL_INTERVAL: Duration = Duration::from_millis(200);

/// How often a plain status line is printed when the output is not a terminal.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(30);

/// The width assumed when the terminal's cannot be read.
pub const DEFAULT_WIDTH: usize = 80;

/// The longest last line kept (characters); the rest of a longer line is dropped.
pub const MAX_LINE: usize = 512;

/// Where a status goes, and how it is shown there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// A terminal this many columns wide: one line redrawn in place.
    Terminal {
        /// Columns.
        width: usize,
    },
    /// Anything else: a plain line now and then.
    Plain,
}

impl Display {
    /// How standard error shows a status: a terminal (with its width) or plain.
    pub fn of_stderr() -> Display {
        let stderr = std::io::stderr();
        if !std::io::IsTerminal::is_terminal(&stderr) {
            return Display::Plain;
        }
        let width = rustix::termios::tcgetwinsize(&stderr)
            .map(|size| usize::from(size.ws_col))
            .ok()
            .filter(|&w| w > 0)
            .unwrap_or(DEFAULT_WIDTH);
        Display::Terminal { width }
    }

    /// How often a status shown this way is drawn.
    pub fn interval(self) -> Duration {
        match self {
            Display::Terminal { .. } => TERMINAL_INTERVAL,
            Display::Plain => PLAIN_INTERVAL,
        }
    }
}

/// The status of one running step: its label, when it started, the last line it printed.
#[derive(Debug)]
pub struct StatusLine {
    label: String,
    started: Instant,
    display: Display,
    /// The last complete, non-blank line.
    last: String,
    /// The line being received.
    partial: String,
    /// Inside an escape sequence (after ESC), and whether it is a CSI one (`ESC [`).
    escape: Escape,
    /// Lines received, complete or not.
    lines: u64,
    /// Whether a terminal line is drawn and must be erased before anything else is printed.
    drawn: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Started,
    Csi,
}

impl StatusLine {
    /// A status for the step `label`, started now, shown as `display` says.
    pub fn new(label: impl Into<String>, display: Display) -> StatusLine {
        StatusLine {
            label: label.into(),
            started: Instant::now(),
            display,
            last: String::new(),
            partial: String::new(),
            escape: Escape::None,
            lines: 0,
            drawn: false,
        }
    }

    /// How the status is shown.
    pub fn display(&self) -> Display {
        self.display
    }

    /// Takes more of the step's output.
    pub fn feed(&mut self, bytes: &[u8]) {
        for ch in String::from_utf8_lossy(bytes).chars() {
            match (self.escape, ch) {
                (Escape::None, '\x1b') => self.escape = Escape::Started,
                (Escape::Started, '[') => self.escape = Escape::Csi,
                // A two-character escape (ESC c, ESC 7…) ends with its second character.
                (Escape::Started, _) => self.escape = Escape::None,
                // A CSI sequence ends with a byte in @..~.
                (Escape::Csi, '@'..='~') => self.escape = Escape::None,
                (Escape::Csi, _) => {}
                (Escape::None, '\n' | '\r') => self.end_line(),
                (Escape::None, '\t') => self.push(' '),
                (Escape::None, c) if c.is_control() => {}
                (Escape::None, c) => self.push(c),
            }
        }
    }

    fn push(&mut self, c: char) {
        if self.partial.chars().count() < MAX_LINE {
            self.partial.push(c);
        }
    }

    fn end_line(&mut self) {
        let line = self.partial.trim();
        if !line.is_empty() {
            self.last = line.to_string();
            self.lines += 1;
        }
        self.partial.clear();
    }

    /// The last non-blank line the step printed (a line still being printed counts once it
    /// has something).
    pub fn last_line(&self) -> &str {
        let partial = self.partial.trim();
        if partial.is_empty() {
            &self.last
        } else {
            partial
        }
    }

    /// Lines the step has printed so far.
    pub fn lines(&self) -> u64 {
        self.lines
    }

    /// How long the step has run.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// The status as text: `    LABEL 1m05s: LAST LINE`, cut to `width` characters when
    /// one is given.
    pub fn render(&self, elapsed: Duration, width: Option<usize>) -> String {
        let mut text = format!("    {} {}", self.label, format_elapsed(elapsed));
        let last = self.last_line();
        if !last.is_empty() {
            text.push_str(": ");
            text.push_str(last);
        }
        match width {
            // One column short, so the cursor never wraps to the next line.
            Some(width) => text.chars().take(width.saturating_sub(1)).collect(),
            None => text,
        }
    }

    /// Draws the status to `out` now.
    pub fn draw(&mut self, out: &mut impl Write) {
        let text = match self.display {
            Display::Terminal { width } => {
                self.drawn = true;
                format!("\r\x1b[K{}", self.render(self.elapsed(), Some(width)))
            }
            Display::Plain => format!("{}\n", self.render(self.elapsed(), None)),
        };
        // Our terminal going away must not fail the step.
        let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    }

    /// Erases a drawn terminal line, so what is printed next starts on a clean line.
    pub fn clear(&mut self, out: &mut impl Write) {
        if self.drawn {
            let _ = out.write_all(b"\r\x1b[K").and_then(|()| out.flush());
            self.drawn = false;
        }
    }
}

/// `42s`, `3m07s`, `1h02m`: short and fixed in form, for a line redrawn in place.
pub fn format_elapsed(elapsed: Duration) -> String {
    let secs = elapsed.as_secs();
    match secs {
        0..=59 => format!("{secs}s"),
        60..=3599 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

#[cfg(test)]
#[path = "status_line_tests.rs"]
mod tests;
