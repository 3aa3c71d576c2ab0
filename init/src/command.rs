//! A service's command line, split into arguments the way a shell splits a simple command.
//!
//! Words are separated by blanks; `'…'` keeps everything literally, `"…"` keeps blanks and
//! takes `\"`, `\\`, `\$` and `` \` `` as escapes, and a backslash outside quotes makes the next
//! character literal. There is no expansion, globbing or redirection: for those, run a shell
//! (`run="/bin/sh -c '…'"`). Arguments are written NUL-terminated into a caller buffer, ready
//! for `execve(2)`.

use core::fmt;

/// Why a command line could not be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandError {
    /// No words at all.
    Empty,
    /// A quote is never closed.
    UnterminatedQuote,
    /// More arguments than the caller has room for.
    TooManyArguments {
        /// Most arguments accepted.
        max: usize,
    },
    /// The arguments do not fit the caller's buffer.
    TooLong,
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::Empty => f.write_str("the command is empty"),
            CommandError::UnterminatedQuote => {
                f.write_str("a quote in the command is never closed")
            }
            CommandError::TooManyArguments { max } => {
                write!(f, "the command has more than {max} arguments")
            }
            CommandError::TooLong => f.write_str("the command is too long"),
        }
    }
}

/// Splits `line` into NUL-terminated words in `buf`; `starts[i]` receives the offset of word
/// `i`. Returns the number of words.
pub fn split(line: &str, buf: &mut [u8], starts: &mut [usize]) -> Result<usize, CommandError> {
    let mut out = 0usize;
    let mut words = 0usize;
    let mut in_word = false;
    let mut bytes = line.bytes().peekable();
    let mut put = |b: u8, out: &mut usize| -> Result<(), CommandError> {
        *buf.get_mut(*out).ok_or(CommandError::TooLong)? = b;
        *out += 1;
        Ok(())
    };
    let mut begin = |words: &mut usize, out: usize| -> Result<(), CommandError> {
        let max = starts.len();
        *starts
            .get_mut(*words)
            .ok_or(CommandError::TooManyArguments { max })? = out;
        *words += 1;
        Ok(())
    };
    while let Some(b) = bytes.next() {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            if in_word {
                put(0, &mut out)?;
                in_word = false;
            }
            continue;
        }
        if !in_word {
            begin(&mut words, out)?;
            in_word = true;
        }
        match b {
            b'\'' => loop {
                match bytes.next() {
                    Some(b'\'') => break,
                    Some(c) => put(c, &mut out)?,
                    None => return Err(CommandError::UnterminatedQuote),
                }
            },
            b'"' => loop {
                match bytes.next() {
                    Some(b'"') => break,
                    Some(b'\\') if matches!(bytes.peek(), Some(b'"' | b'\\' | b'$' | b'`')) => {
                        if let Some(c) = bytes.next() {
                            put(c, &mut out)?;
                        }
                    }
                    Some(c) => put(c, &mut out)?,
                    None => return Err(CommandError::UnterminatedQuote),
                }
            },
            b'\\' => {
                if let Some(c) = bytes.next() {
                    put(c, &mut out)?;
                }
            }
            c => put(c, &mut out)?,
        }
    }
    if in_word {
        put(0, &mut out)?;
    }
    if words == 0 {
        return Err(CommandError::Empty);
    }
    Ok(words)
}

#[cfg(test)]
#[path = "command_tests.rs"]
mod tests;
