//! The `name=value` syntax of recipes, distros, boards, the agent's config and service files.
//!
//! A file is a sequence of shell-compatible assignments, comments and (in recipes) shell
//! functions:
//!
//! ```text
//! # comment
//! name=busybox
//! description="a tiny userland"     # trailing comment
//! source="https://example.org/$name-${version}.tar.bz2"
//! build() {
//!     make            # function bodies are for `sh`; this parser only notes their names
//! }
//! ```
//!
//! The file is read without running a shell, so only what a shell would do without running
//! anything is accepted: unquoted words, `'single'` and `"double"` quotes (which may span
//! lines), backslash escapes, and `$name` / `${name}` expansions. Command substitution
//! (`$(…)`, backticks), other `${…}` forms, shell operators in unquoted words, and more than one
//! assignment on a line are refused with the place of the fault, so the value Nanolin reads is
//! always the value `sh` would assign.
//!
//! Parsing is zero-copy: [`Value`] keeps the raw text and yields its [`Piece`]s (literal text and
//! variable references); [`Value::expand_into`] writes the final value into a caller buffer.
//! A function body ends at the first line that is exactly `}` at column 1.

use core::fmt;

/// A place in the text, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column (byte in the line), from 1.
    pub column: u32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// A syntax fault and its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where the fault is.
    pub position: Position,
    /// What it is.
    pub kind: SyntaxErrorKind,
}

/// What is wrong with a key=value text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyntaxErrorKind {
    /// A line does not start with a name.
    ExpectedName,
    /// A name is not followed by `=` (or `() {` for a function).
    ExpectedEquals,
    /// Spaces around `=`, which `sh` reads as a command.
    SpaceAroundEquals,
    /// A quote is opened and never closed.
    UnterminatedQuote(char),
    /// `$(…)` or a backtick: command substitution needs a shell.
    CommandSubstitution,
    /// A `${…}` form other than `${name}`.
    UnsupportedExpansion,
    /// A shell operator (`; & | < > ( )`) in an unquoted value.
    ShellOperator(char),
    /// Text after the value on the same line.
    UnexpectedText,
    /// A function whose body never ends with a `}` line.
    UnterminatedFunction,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.position, self.kind)
    }
}

impl fmt::Display for SyntaxErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyntaxErrorKind::ExpectedName => f.write_str(
                "expected a name (letters, digits and `_`, not starting with a digit) or a `#` comment",
            ),
            SyntaxErrorKind::ExpectedEquals => {
                f.write_str("expected `=` after the name, as in `name=value`")
            }
            SyntaxErrorKind::SpaceAroundEquals => {
                f.write_str("no spaces around `=`: write `name=value`, or quote a value with spaces")
            }
            SyntaxErrorKind::UnterminatedQuote(q) => {
                write!(f, "the quote {q} opened here is never closed")
            }
            SyntaxErrorKind::CommandSubstitution => f.write_str(
                "command substitution ($(…) or backticks) needs a shell: write the value out",
            ),
            SyntaxErrorKind::UnsupportedExpansion => {
                f.write_str("only ${name} expansions are supported: write the value out")
            }
            SyntaxErrorKind::ShellOperator(c) => {
                write!(f, "`{c}` is a shell operator: quote the value")
            }
            SyntaxErrorKind::UnexpectedText => {
                f.write_str("unexpected text after the value: quote a value that contains spaces")
            }
            SyntaxErrorKind::UnterminatedFunction => {
                f.write_str("this function has no closing `}` alone at the start of a line")
            }
        }
    }
}

impl core::error::Error for SyntaxError {}

/// One piece of a value: literal text, or a reference to a variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Text that stands as it is.
    Text(&'a str),
    /// `$name` or `${name}`.
    Variable(&'a str),
}

/// Why a value could not be expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpandError<'a> {
    /// A variable that is not defined.
    UnknownVariable(&'a str),
    /// The value does not fit the buffer.
    TooLong {
        /// Size of the buffer.
        capacity: usize,
    },
}

impl fmt::Display for ExpandError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpandError::UnknownVariable(name) => {
                write!(f, "${name} is not defined above this line")
            }
            ExpandError::TooLong { capacity } => {
                write!(f, "the value is longer than {capacity} bytes")
            }
        }
    }
}

/// The value of an assignment, as written (checked by the parser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Value<'a> {
    raw: &'a str,
}

impl<'a> Value<'a> {
    /// The value as written, quotes and escapes included.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The pieces of the value, quotes and escapes resolved.
    pub fn pieces(&self) -> Pieces<'a> {
        Pieces {
            rest: self.raw,
            mode: Quoting::None,
        }
    }

    /// The value when it is one literal text (no variables, no escapes): zero-copy.
    pub fn as_literal(&self) -> Option<&'a str> {
        let mut pieces = self.pieces();
        match (pieces.next(), pieces.next()) {
            (None, _) => Some(""),
            (Some(Piece::Text(text)), None) => Some(text),
            _ => None,
        }
    }

    /// Writes the final value into `buf`, expanding variables through `lookup`.
    pub fn expand_into<'b, 'c, F>(
        &self,
        buf: &'b mut [u8],
        mut lookup: F,
    ) -> Result<&'b str, ExpandError<'a>>
    where
        F: FnMut(&str) -> Option<&'c str>,
    {
        let capacity = buf.len();
        let mut len = 0;
        for piece in self.pieces() {
            let text = match piece {
                Piece::Text(text) => text,
                Piece::Variable(name) => lookup(name).ok_or(ExpandError::UnknownVariable(name))?,
            };
            let end = len + text.len();
            buf.get_mut(len..end)
                .ok_or(ExpandError::TooLong { capacity })?
                .copy_from_slice(text.as_bytes());
            len = end;
        }
        // Whole UTF-8 strings were joined, so the result is UTF-8.
        let written = buf.get(..len).unwrap_or(&[]);
        core::str::from_utf8(written).map_err(|_| ExpandError::TooLong { capacity })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    None,
    Single,
    Double,
}

/// Iterator over the [`Piece`]s of a [`Value`].
#[derive(Debug, Clone)]
pub struct Pieces<'a> {
    rest: &'a str,
    mode: Quoting,
}

/// Length of a name at the start of `s` (0 when there is none).
fn name_len(s: &[u8]) -> usize {
    match s.first() {
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => s
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
            .count(),
        _ => 0,
    }
}

/// A variable reference at the start of `s` (which starts with `$`): its name and length.
fn variable_at(s: &str) -> Option<(&str, usize)> {
    let bytes = s.as_bytes();
    if bytes.get(1) == Some(&b'{') {
        let n = name_len(bytes.get(2..).unwrap_or(&[]));
        if n > 0 && bytes.get(2 + n) == Some(&b'}') {
            return Some((s.get(2..2 + n)?, n + 3));
        }
        return None;
    }
    let n = name_len(bytes.get(1..).unwrap_or(&[]));
    if n > 0 {
        Some((s.get(1..1 + n)?, n + 1))
    } else {
        None
    }
}

impl<'a> Pieces<'a> {
    /// Takes `n` bytes off the front as a piece of text.
    fn take(&mut self, n: usize) -> Option<&'a str> {
        let text = self.rest.get(..n)?;
        self.rest = self.rest.get(n..)?;
        Some(text)
    }

    fn skip(&mut self, n: usize) {
        self.rest = self.rest.get(n..).unwrap_or("");
    }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        loop {
            let bytes = self.rest.as_bytes();
            let first = *bytes.first()?;
            match self.mode {
                Quoting::Single => {
                    if first == b'\'' {
                        self.mode = Quoting::None;
                        self.skip(1);
                        continue;
                    }
                    let n = bytes
                        .iter()
                        .position(|&c| c == b'\'')
                        .unwrap_or(bytes.len());
                    return self.take(n).map(Piece::Text);
                }
                Quoting::None | Quoting::Double => {
                    let double = self.mode == Quoting::Double;
                    match first {
                        b'"' => {
                            self.mode = if double {
                                Quoting::None
                            } else {
                                Quoting::Double
                            };
                            self.skip(1);
                        }
                        b'\'' if !double => {
                            self.mode = Quoting::Single;
                            self.skip(1);
                        }
                        b'\\' => match bytes.get(1) {
                            // A backslash-newline joins lines.
                            Some(b'\n') => self.skip(2),
                            // In double quotes only these are escapes; other backslashes stay.
                            Some(b'$' | b'`' | b'"' | b'\\') if double => {
                                self.skip(1);
                                return self.take(1).map(Piece::Text);
                            }
                            Some(_) if !double => {
                                self.skip(1);
                                let n = self.rest.chars().next().map_or(0, char::len_utf8);
                                return self.take(n).map(Piece::Text);
                            }
                            _ => return self.take(1).map(Piece::Text),
                        },
                        b'$' => {
                            if let Some((name, n)) = variable_at(self.rest) {
                                self.skip(n);
                                return Some(Piece::Variable(name));
                            }
                            return self.take(1).map(Piece::Text);
                        }
                        _ => {
                            let special: &[u8] = if double { b"\"\\$" } else { b"\"'\\$" };
                            let n = bytes
                                .iter()
                                .position(|c| special.contains(c))
                                .unwrap_or(bytes.len());
                            return self.take(n).map(Piece::Text);
                        }
                    }
                }
            }
        }
    }
}

/// An assignment `name=value`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Assignment<'a> {
    /// The name.
    pub name: &'a str,
    /// The value.
    pub value: Value<'a>,
    /// Where the name starts.
    pub position: Position,
    /// Written as `export name=value` (service files pass these to the service's environment).
    pub exported: bool,
}

/// One item of a key=value file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// `name=value`.
    Assignment(Assignment<'a>),
    /// `name() { … }`: a shell function, for `sh` to run.
    Function {
        /// The function's name.
        name: &'a str,
        /// Where its name starts.
        position: Position,
    },
}

/// Reads the items of a key=value text, in order.
#[derive(Debug, Clone)]
pub struct Parser<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
    line_start: usize,
    failed: bool,
}

impl<'a> Parser<'a> {
    /// A parser over `text`.
    pub fn new(text: &'a str) -> Self {
        Parser {
            text,
            pos: 0,
            line: 1,
            line_start: 0,
            failed: false,
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<u8> {
        self.bytes().get(self.pos + offset).copied()
    }

    fn position_of(&self, pos: usize, line: u32, line_start: usize) -> Position {
        let column = u32::try_from(pos.saturating_sub(line_start) + 1).unwrap_or(u32::MAX);
        Position { line, column }
    }

    fn here(&self) -> Position {
        self.position_of(self.pos, self.line, self.line_start)
    }

    fn error(&mut self, position: Position, kind: SyntaxErrorKind) -> SyntaxError {
        self.failed = true;
        SyntaxError { position, kind }
    }

    /// Moves past one byte, counting lines.
    fn advance(&mut self) {
        if self.peek() == Some(b'\n') {
            self.line = self.line.saturating_add(1);
            self.line_start = self.pos + 1;
        }
        self.pos += 1;
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r')) {
            self.pos += 1;
        }
    }

    fn skip_to_line_end(&mut self) {
        while !matches!(self.peek(), None | Some(b'\n')) {
            self.pos += 1;
        }
    }

    /// After a value or a `{`: blanks, an optional comment, then the end of the line.
    fn finish_line(&mut self) -> Result<(), SyntaxError> {
        self.skip_blanks();
        match self.peek() {
            None => Ok(()),
            Some(b'\n') => {
                self.advance();
                Ok(())
            }
            Some(b'#') => {
                self.skip_to_line_end();
                self.advance();
                Ok(())
            }
            Some(_) => {
                let here = self.here();
                Err(self.error(here, SyntaxErrorKind::UnexpectedText))
            }
        }
    }

    /// Checks a `$` at the current place, in a value; moves past what it introduces.
    fn dollar(&mut self) -> Result<(), SyntaxError> {
        let here = self.here();
        match self.peek_at(1) {
            Some(b'(') => Err(self.error(here, SyntaxErrorKind::CommandSubstitution)),
            Some(b'{') => match variable_at(self.text.get(self.pos..).unwrap_or("")) {
                Some((_, n)) => {
                    self.pos += n;
                    Ok(())
                }
                None => Err(self.error(here, SyntaxErrorKind::UnsupportedExpansion)),
            },
            _ => {
                self.pos += 1;
                Ok(())
            }
        }
    }

    /// Reads a value up to the first unquoted blank or line end.
    fn value(&mut self) -> Result<Value<'a>, SyntaxError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => break,
                b'\'' => {
                    let open = self.here();
                    self.pos += 1;
                    loop {
                        match self.peek() {
                            None => {
                                return Err(
                                    self.error(open, SyntaxErrorKind::UnterminatedQuote('\''))
                                )
                            }
                            Some(b'\'') => break,
                            Some(_) => self.advance(),
                        }
                    }
                    self.pos += 1;
                }
                b'"' => {
                    let open = self.here();
                    self.pos += 1;
                    loop {
                        match self.peek() {
                            None => {
                                return Err(
                                    self.error(open, SyntaxErrorKind::UnterminatedQuote('"'))
                                )
                            }
                            Some(b'"') => break,
                            Some(b'\\') => {
                                self.pos += 1;
                                if self.peek().is_some() {
                                    self.advance();
                                }
                            }
                            Some(b'$') => self.dollar()?,
                            Some(b'`') => {
                                let here = self.here();
                                return Err(self.error(here, SyntaxErrorKind::CommandSubstitution));
                            }
                            Some(_) => self.advance(),
                        }
                    }
                    self.pos += 1;
                }
                b'\\' => {
                    self.pos += 1;
                    if self.peek().is_some() {
                        self.advance();
                    }
                }
                b'$' => self.dollar()?,
                b'`' => {
                    let here = self.here();
                    return Err(self.error(here, SyntaxErrorKind::CommandSubstitution));
                }
                b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' => {
                    let here = self.here();
                    return Err(self.error(here, SyntaxErrorKind::ShellOperator(char::from(c))));
                }
                _ => self.pos += 1,
            }
        }
        let raw = self.text.get(start..self.pos).unwrap_or("");
        Ok(Value { raw })
    }

    /// Skips a function body, up to and including its `}` line.
    fn function_body(&mut self, opened: Position) -> Result<(), SyntaxError> {
        loop {
            if self.peek().is_none() {
                return Err(self.error(opened, SyntaxErrorKind::UnterminatedFunction));
            }
            let line_start = self.pos;
            self.skip_to_line_end();
            let line = self.text.get(line_start..self.pos).unwrap_or("");
            self.advance();
            if line.trim_end() == "}" {
                return Ok(());
            }
        }
    }

    fn item(&mut self) -> Option<Result<Item<'a>, SyntaxError>> {
        loop {
            self.skip_blanks();
            match self.peek()? {
                b'\n' => self.advance(),
                b'#' => {
                    self.skip_to_line_end();
                    self.advance();
                }
                _ => break,
            }
        }
        Some(self.statement())
    }

    fn statement(&mut self) -> Result<Item<'a>, SyntaxError> {
        let mut start = self.here();
        let mut n = name_len(self.bytes().get(self.pos..).unwrap_or(&[]));
        // `export name=value` assigns the same value.
        let exported = self.text.get(self.pos..self.pos + n) == Some("export")
            && matches!(self.peek_at(n), Some(b' ' | b'\t'));
        if exported {
            self.pos += n;
            self.skip_blanks();
            start = self.here();
            n = name_len(self.bytes().get(self.pos..).unwrap_or(&[]));
        }
        if n == 0 {
            return Err(self.error(start, SyntaxErrorKind::ExpectedName));
        }
        let name = self.text.get(self.pos..self.pos + n).unwrap_or("");
        self.pos += n;
        match self.peek() {
            Some(b'=') => {
                self.pos += 1;
                let value = self.value()?;
                self.finish_line()?;
                Ok(Item::Assignment(Assignment {
                    name,
                    value,
                    position: start,
                    exported,
                }))
            }
            Some(b'(') if self.peek_at(1) == Some(b')') => {
                self.pos += 2;
                self.skip_blanks();
                if self.peek() != Some(b'{') {
                    let here = self.here();
                    return Err(self.error(here, SyntaxErrorKind::ExpectedEquals));
                }
                self.pos += 1;
                self.finish_line()?;
                self.function_body(start)?;
                Ok(Item::Function {
                    name,
                    position: start,
                })
            }
            Some(b' ' | b'\t') => {
                let here = self.here();
                self.skip_blanks();
                let kind = if self.peek() == Some(b'=') {
                    SyntaxErrorKind::SpaceAroundEquals
                } else {
                    SyntaxErrorKind::ExpectedEquals
                };
                Err(self.error(here, kind))
            }
            _ => {
                let here = self.here();
                Err(self.error(here, SyntaxErrorKind::ExpectedEquals))
            }
        }
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Item<'a>, SyntaxError>;

    /// The next item; after the first error, nothing (the rest of the text is not trusted).
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        self.item()
    }
}

#[cfg(test)]
#[path = "keyvalue_tests.rs"]
mod tests;
