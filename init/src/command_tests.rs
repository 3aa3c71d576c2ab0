//! Unit tests of `command`.

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
