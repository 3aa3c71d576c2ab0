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
mod tests {
    use super::*;
    use std::string::String;
    use std::vec::Vec;

    fn words(line: &str) -> Result<Vec<String>, CommandError> {
        let mut buf = [0u8; 256];
        let mut starts = [0usize; 8];
        let n = split(line, &mut buf, &mut starts)?;
        Ok(starts[..n]
            .iter()
            .map(|&s| {
                let end = buf[s..].iter().position(|&b| b == 0).unwrap() + s;
                String::from_utf8(buf[s..end].to_vec()).unwrap()
            })
            .collect())
    }

    #[test]
    fn splits_like_a_shell_without_expansion() {
        assert_eq!(words("/bin/echo  a\tb").unwrap(), ["/bin/echo", "a", "b"]);
        assert_eq!(
            words("sh -c 'echo $HOME; exit 3'").unwrap(),
            ["sh", "-c", "echo $HOME; exit 3"]
        );
        assert_eq!(
            words("x \"a \\\"b\\\" \\n\"").unwrap(),
            ["x", "a \"b\" \\n"]
        );
        assert_eq!(words("x a\\ b ''").unwrap(), ["x", "a b", ""]);
        assert_eq!(words("x pre'mid'\"post\"").unwrap(), ["x", "premidpost"]);
    }

    #[test]
    fn refuses_what_cannot_be_run() {
        assert_eq!(words("   "), Err(CommandError::Empty));
        assert_eq!(words("x 'open"), Err(CommandError::UnterminatedQuote));
        assert_eq!(
            words("a b c d e f g h i"),
            Err(CommandError::TooManyArguments { max: 8 })
        );
        let mut small = [0u8; 4];
        assert_eq!(
            split("abcdef", &mut small, &mut [0; 2]),
            Err(CommandError::TooLong)
        );
    }
}
