//! Properties the fuzz targets share: what a parse of untrusted text must guarantee.
//!
//! Each target checks, for every input:
//!
//! - on success, `emit` into a buffer of `buffer_len()` bytes succeeds, writes exactly
//!   `buffer_len()` bytes, and writes the input back byte for byte, except that a `\r` before
//!   a newline (which the parsers forgive) is dropped; one byte less of buffer is refused;
//! - on failure, the error names a line that exists (or the one after the last, for a missing
//!   line or trailing data) and a column within that line or just past its end.

use nanolin_core::armor::EmitError;
use nanolin_core::FormatError;

/// The input as the parsers read it: each `\r\n` becomes `\n`.
///
/// The parsers strip one `\r` before each newline; a second one is left in the line, where
/// neither a comment nor base64 admits it, so replacing every `\r\n` is the same thing for any
/// input they accept.
pub fn without_cr_before_lf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.iter().copied().peekable();
    while let Some(b) = bytes.next() {
        if b == b'\r' && bytes.peek() == Some(&b'\n') {
            continue;
        }
        out.push(b);
    }
    out
}

/// Emits a parsed value and checks the text against its source; returns the text.
///
/// `buffer_len` and `emit` are the value's own; `input` is what it was parsed from.
pub fn check_emit(
    input: &[u8],
    buffer_len: usize,
    emit: impl Fn(&mut [u8]) -> Result<usize, EmitError>,
) -> Vec<u8> {
    let mut buf = vec![0u8; buffer_len];
    let written = emit(&mut buf).expect("emit of a parsed value into buffer_len() bytes failed");
    assert_eq!(written, buffer_len, "emit wrote another length than buffer_len()");
    let expected = without_cr_before_lf(input);
    assert!(
        buf == expected,
        "emitted text differs from the input:\n input: {:?}\n  emit: {:?}",
        String::from_utf8_lossy(&expected),
        String::from_utf8_lossy(&buf)
    );
    if buffer_len > 0 {
        let mut short = vec![0u8; buffer_len - 1];
        assert_eq!(
            emit(&mut short),
            Err(EmitError::BufferTooSmall { needed: buffer_len }),
            "emit into one byte less than buffer_len() did not refuse"
        );
    }
    buf
}

/// Checks that a parse error points into the input.
pub fn check_error_place(input: &[u8], e: &FormatError) {
    // Render the message, as a caller would; it must not panic.
    let message = e.to_string();
    assert!(!message.is_empty());
    let lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    // `split` yields one more piece than there are newlines: the unterminated rest (maybe
    // empty), which is where a missing newline, a missing line or trailing data is reported.
    let line = usize::try_from(e.line).expect("line fits usize");
    assert!(
        (1..=lines.len()).contains(&line),
        "error on line {line}, but the input has {} newline(s): {e}",
        lines.len() - 1
    );
    let terminated = line < lines.len();
    let text = lines[line - 1];
    let text = if terminated { text.strip_suffix(b"\r").unwrap_or(text) } else { text };
    let column = usize::try_from(e.column).expect("column fits usize");
    assert!(
        (1..=text.len() + 1).contains(&column),
        "error at column {column} of line {line}, which is {} bytes long: {e}",
        text.len()
    );
}
