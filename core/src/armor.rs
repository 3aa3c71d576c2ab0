//! The text envelope of every key and signature: a comment line, then one base64 record.
//!
//! ```text
//! untrusted comment: signify public key
//! RWQs4sbN4IwvtfWCTyUNkrmK+Mhpda7h7JoMUM6kJBVcIqXDal9K99SH
//! ```
//!
//! signify requires the header `untrusted comment: ` and a newline after each line; so do we,
//! so that a file we accept, signify accepts too. A `\r` before a newline is forgiven (a key
//! pasted on another system). Errors carry the 1-based line and column of the fault.

use core::fmt;

use crate::base64::{self, Base64Error};
use crate::limits::{BASE64_LINE_MAX_LEN, COMMENT_MAX_LEN, UNTRUSTED_COMMENT_HEADER};

/// A fault in a key or signature file, with its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FormatError {
    /// 1-based line of the fault.
    pub line: u32,
    /// 1-based column (byte) of the fault within the line.
    pub column: u32,
    /// What is wrong there.
    pub kind: FormatErrorKind,
}

/// What is wrong in a key or signature file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormatErrorKind {
    /// The file ends before this line.
    MissingLine,
    /// The line does not end with a newline: the file was truncated.
    MissingNewline,
    /// The line does not start with this header.
    MissingHeader(&'static str),
    /// The comment is longer than signify or minisign allows.
    CommentTooLong {
        /// Longest comment allowed, in bytes.
        max: usize,
    },
    /// The comment is not UTF-8 text or holds a control character.
    CommentNotText,
    /// The base64 line is longer than any record we read.
    LineTooLong {
        /// Longest line accepted, in bytes.
        max: usize,
    },
    /// The base64 record could not be decoded.
    Base64(Base64Error),
    /// The record names an algorithm other than Ed25519 (`Ed`).
    UnknownAlgorithm([u8; 2]),
    /// A minisign `ED` signature: Ed25519 over a BLAKE2b hash, which signify cannot check.
    PrehashedSignature,
    /// A secret key names a key derivation other than bcrypt_pbkdf (`BK`).
    UnknownKdf([u8; 2]),
    /// A secret key asks for more bcrypt_pbkdf rounds than we allow.
    TooManyKdfRounds {
        /// Rounds the file asks for.
        rounds: u32,
        /// Most rounds accepted.
        max: u32,
    },
    /// Bytes follow the last line of the record.
    TrailingData,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.kind
        )
    }
}

impl fmt::Display for FormatErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FormatErrorKind::MissingLine => {
                f.write_str("the file ends here: it is empty or truncated")
            }
            FormatErrorKind::MissingNewline => {
                f.write_str("the line has no newline at its end: the file is truncated")
            }
            FormatErrorKind::MissingHeader(header) => {
                write!(f, "the line must start with `{}`", header.trim_end())
            }
            FormatErrorKind::CommentTooLong { max } => {
                write!(f, "the comment is longer than {max} bytes")
            }
            FormatErrorKind::CommentNotText => {
                f.write_str("the comment is not UTF-8 text or holds a control character")
            }
            FormatErrorKind::LineTooLong { max } => write!(
                f,
                "the base64 line is longer than {max} bytes: this is not a key or signature record"
            ),
            FormatErrorKind::Base64(e) => write!(f, "malformed base64: {e}"),
            FormatErrorKind::UnknownAlgorithm([a, b]) => write!(
                f,
                "unknown algorithm {}{} (expected `Ed`, Ed25519): not a signify or minisign record",
                char::from(a).escape_default(),
                char::from(b).escape_default()
            ),
            FormatErrorKind::PrehashedSignature => f.write_str(
                "this is a prehashed minisign signature (`ED`), which signify cannot check: \
                 sign with `minisign -S -l` or `nanolin sign`",
            ),
            FormatErrorKind::UnknownKdf([a, b]) => write!(
                f,
                "unknown key derivation {}{} (expected `BK`, bcrypt_pbkdf)",
                char::from(a).escape_default(),
                char::from(b).escape_default()
            ),
            FormatErrorKind::TooManyKdfRounds { rounds, max } => write!(
                f,
                "the key asks for {rounds} bcrypt_pbkdf rounds; at most {max} are accepted"
            ),
            FormatErrorKind::TrailingData => {
                f.write_str("unexpected bytes after the last line of the record")
            }
        }
    }
}

impl core::error::Error for FormatError {}

/// One line of a text record, without its newline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    pub number: u32,
    pub text: &'a [u8],
}

impl<'a> Line<'a> {
    pub fn error(&self, column: usize, kind: FormatErrorKind) -> FormatError {
        FormatError {
            line: self.number,
            column: u32::try_from(column).unwrap_or(u32::MAX),
            kind,
        }
    }

    /// The text after `header`, which the line must start with.
    pub fn after_header(&self, header: &'static str) -> Result<&'a [u8], FormatError> {
        self.text
            .strip_prefix(header.as_bytes())
            .ok_or(self.error(1, FormatErrorKind::MissingHeader(header)))
    }

    /// The comment after `header`, checked to be one line of text of at most `max` bytes.
    pub fn comment(&self, header: &'static str, max: usize) -> Result<&'a str, FormatError> {
        let body = self.after_header(header)?;
        let column = header.len() + 1;
        if body.len() > max {
            return Err(self.error(column + max, FormatErrorKind::CommentTooLong { max }));
        }
        let text = core::str::from_utf8(body)
            .map_err(|e| self.error(column + e.valid_up_to(), FormatErrorKind::CommentNotText))?;
        if let Some(at) = text
            .bytes()
            .position(|b| b.is_ascii_control() && b != b'\t')
        {
            return Err(self.error(column + at, FormatErrorKind::CommentNotText));
        }
        Ok(text)
    }

    /// The line as one base64 record of exactly `N` bytes.
    pub fn record<const N: usize>(&self) -> Result<[u8; N], FormatError> {
        if self.text.len() > BASE64_LINE_MAX_LEN {
            return Err(self.error(
                BASE64_LINE_MAX_LEN + 1,
                FormatErrorKind::LineTooLong {
                    max: BASE64_LINE_MAX_LEN,
                },
            ));
        }
        base64::decode_exact::<N>(self.text).map_err(|e| {
            let column = match e {
                Base64Error::InvalidSymbol { offset, .. }
                | Base64Error::InvalidPadding { offset } => offset + 1,
                _ => self.text.len() + 1,
            };
            self.error(column, FormatErrorKind::Base64(e))
        })
    }
}

/// Splits text into newline-terminated lines, counting them.
#[derive(Debug, Clone)]
pub(crate) struct LineReader<'a> {
    rest: &'a [u8],
    number: u32,
}

impl<'a> LineReader<'a> {
    pub fn new(text: &'a [u8]) -> Self {
        LineReader {
            rest: text,
            number: 0,
        }
    }

    /// True when every byte has been read.
    pub fn is_at_end(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next line; a missing line or a missing newline is an error.
    pub fn next_line(&mut self) -> Result<Line<'a>, FormatError> {
        self.number = self.number.saturating_add(1);
        let number = self.number;
        if self.rest.is_empty() {
            return Err(FormatError {
                line: number,
                column: 1,
                kind: FormatErrorKind::MissingLine,
            });
        }
        let Some(end) = self.rest.iter().position(|&b| b == b'\n') else {
            let column = u32::try_from(self.rest.len() + 1).unwrap_or(u32::MAX);
            return Err(FormatError {
                line: number,
                column,
                kind: FormatErrorKind::MissingNewline,
            });
        };
        let (line, rest) = self.rest.split_at(end);
        self.rest = rest.get(1..).unwrap_or(&[]);
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        Ok(Line { number, text })
    }

    /// Fails unless every byte has been read.
    pub fn expect_end(&self) -> Result<(), FormatError> {
        if self.is_at_end() {
            Ok(())
        } else {
            Err(FormatError {
                line: self.number.saturating_add(1),
                column: 1,
                kind: FormatErrorKind::TrailingData,
            })
        }
    }
}

/// Reads the untrusted comment line and the record line that follows it.
pub(crate) fn read_armored<'a, const N: usize>(
    lines: &mut LineReader<'a>,
) -> Result<(&'a str, [u8; N], Line<'a>), FormatError> {
    let comment = lines
        .next_line()?
        .comment(UNTRUSTED_COMMENT_HEADER, COMMENT_MAX_LEN)?;
    let record_line = lines.next_line()?;
    let record = record_line.record::<N>()?;
    Ok((comment, record, record_line))
}

/// Why a record could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmitError {
    /// The output buffer is smaller than the text.
    BufferTooSmall {
        /// Bytes needed.
        needed: usize,
    },
    /// A comment is longer than its format allows.
    CommentTooLong {
        /// Longest comment allowed, in bytes.
        max: usize,
    },
    /// A comment holds a newline or another control character.
    CommentNotText,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            EmitError::BufferTooSmall { needed } => {
                write!(f, "output buffer too small: {needed} bytes needed")
            }
            EmitError::CommentTooLong { max } => {
                write!(f, "the comment is longer than {max} bytes: shorten it")
            }
            EmitError::CommentNotText => f.write_str(
                "the comment holds a newline or control character: use one line of text",
            ),
        }
    }
}

impl core::error::Error for EmitError {}

/// Checks that `comment` can stand on one line of at most `max` bytes.
pub(crate) fn check_comment(comment: &str, max: usize) -> Result<(), EmitError> {
    if comment.len() > max {
        return Err(EmitError::CommentTooLong { max });
    }
    if comment.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err(EmitError::CommentNotText);
    }
    Ok(())
}

/// Appends text to a caller buffer.
pub(crate) struct TextWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
    needed: usize,
}

impl<'a> TextWriter<'a> {
    /// A writer over `buf` for a text of `needed` bytes, refusing a buffer that is too small.
    pub fn new(buf: &'a mut [u8], needed: usize) -> Result<Self, EmitError> {
        if buf.len() < needed {
            return Err(EmitError::BufferTooSmall { needed });
        }
        Ok(TextWriter {
            buf,
            len: 0,
            needed,
        })
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<(), EmitError> {
        let end = self.len + bytes.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(EmitError::BufferTooSmall {
                needed: self.needed,
            })?
            .copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    pub fn push_base64(&mut self, data: &[u8]) -> Result<(), EmitError> {
        let rest = self.buf.get_mut(self.len..).unwrap_or(&mut []);
        let written = base64::encode(data, rest)
            .map_err(|_| EmitError::BufferTooSmall {
                needed: self.needed,
            })?
            .len();
        self.len += written;
        Ok(())
    }

    /// Writes `header comment\n`.
    pub fn push_comment(
        &mut self,
        header: &str,
        comment: &str,
        max: usize,
    ) -> Result<(), EmitError> {
        check_comment(comment, max)?;
        self.push(header.as_bytes())?;
        self.push(comment.as_bytes())?;
        self.push(b"\n")
    }

    /// Writes a base64 record line.
    pub fn push_record(&mut self, record: &[u8]) -> Result<(), EmitError> {
        self.push_base64(record)?;
        self.push(b"\n")
    }

    pub fn finish(self) -> usize {
        self.len
    }
}

/// Length of a `header comment\n` line.
pub(crate) const fn comment_line_len(header: &str, comment: &str) -> usize {
    header.len() + comment.len() + 1
}

/// Length of a base64 record line of `len` bytes.
pub(crate) const fn record_line_len(len: usize) -> usize {
    base64::encoded_len(len) + 1
}
