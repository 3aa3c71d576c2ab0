//! Unit tests of `keyvalue`.

use super::*;

fn assignments(text: &str) -> std::vec::Vec<(&str, &str)> {
    Parser::new(text)
        .map(|item| match item.unwrap() {
            Item::Assignment(a) => (a.name, a.value.raw()),
            Item::Function { name, .. } => (name, "()"),
        })
        .collect()
}

fn expand(value: &str) -> std::string::String {
    let text = std::format!("v={value}\n");
    let Some(Ok(Item::Assignment(a))) = Parser::new(&text).next() else {
        panic!("{value}")
    };
    let mut buf = [0u8; 256];
    let lookup = |name: &str| match name {
        "name" => Some("busybox"),
        "version" => Some("1.36.1"),
        _ => None,
    };
    std::string::String::from(a.value.expand_into(&mut buf, lookup).unwrap())
}

#[test]
fn reads_assignments_comments_and_functions() {
    let text = "# a recipe\n\nname=busybox\n  version=1.36.1 # pinned\nexport LANG=C\n\
                build() {\n    make\n  }\n}\ndesc=\"two\nlines\"\n";
    assert_eq!(
        assignments(text),
        [
            ("name", "busybox"),
            ("version", "1.36.1"),
            ("LANG", "C"),
            ("build", "()"),
            ("desc", "\"two\nlines\"")
        ]
    );
    let positions: std::vec::Vec<Position> = Parser::new(text)
        .map(|i| match i.unwrap() {
            Item::Assignment(a) => a.position,
            Item::Function { position, .. } => position,
        })
        .collect();
    assert_eq!(positions[1], Position { line: 4, column: 3 });
    let exported: std::vec::Vec<bool> = Parser::new(text)
        .filter_map(|i| match i.unwrap() {
            Item::Assignment(a) => Some(a.exported),
            Item::Function { .. } => None,
        })
        .collect();
    assert_eq!(exported, [false, false, true, false]);
    assert_eq!(
        positions[4],
        Position {
            line: 10,
            column: 1
        }
    );
}

#[test]
fn resolves_quotes_escapes_and_variables_as_sh_does() {
    assert_eq!(expand("plain"), "plain");
    assert_eq!(expand("'single $name \\n'"), "single $name \\n");
    assert_eq!(expand("\"double $name\""), "double busybox");
    assert_eq!(expand("\"$name-${version}.tar\""), "busybox-1.36.1.tar");
    assert_eq!(expand("a\\ b"), "a b");
    assert_eq!(expand("\"q\\\"uote \\$name \\x\""), "q\"uote $name \\x");
    assert_eq!(expand("mix'ed'\"up\""), "mixedup");
    assert_eq!(expand("cost\\$5"), "cost$5");
    assert_eq!(expand("a$"), "a$");
    assert_eq!(expand("\"\""), "");
    assert_eq!(expand(""), "");
    assert_eq!(expand("\"line\\\ncontinued\""), "linecontinued");
    assert_eq!(expand("\"ünï\""), "ünï");
}

#[test]
fn literal_values_are_zero_copy() {
    let Some(Ok(Item::Assignment(a))) = Parser::new("x='a b'\n").next() else {
        panic!()
    };
    assert_eq!(a.value.as_literal(), Some("a b"));
    let Some(Ok(Item::Assignment(a))) = Parser::new("x=$y\n").next() else {
        panic!()
    };
    assert_eq!(a.value.as_literal(), None);
}

#[test]
fn unknown_variables_and_small_buffers_are_errors() {
    let Some(Ok(Item::Assignment(a))) = Parser::new("x=\"$nope\"").next() else {
        panic!()
    };
    assert_eq!(
        a.value.expand_into(&mut [0; 8], |_| None),
        Err(ExpandError::UnknownVariable("nope"))
    );
    let Some(Ok(Item::Assignment(a))) = Parser::new("x=abcdef").next() else {
        panic!()
    };
    assert_eq!(
        a.value.expand_into(&mut [0; 3], |_| None),
        Err(ExpandError::TooLong { capacity: 3 })
    );
}

fn first_error(text: &str) -> (u32, u32, SyntaxErrorKind) {
    let e = Parser::new(text).find_map(Result::err).unwrap();
    (e.position.line, e.position.column, e.kind)
}

#[test]
fn refuses_what_needs_a_shell_with_its_place() {
    use SyntaxErrorKind::*;
    assert_eq!(first_error("a=1\nb = 2\n"), (2, 2, SpaceAroundEquals));
    assert_eq!(first_error("a=1\n9x=2\n"), (2, 1, ExpectedName));
    assert_eq!(first_error("run\n"), (1, 4, ExpectedEquals));
    assert_eq!(
        first_error("a=\"open\nstill"),
        (1, 3, UnterminatedQuote('"'))
    );
    assert_eq!(first_error("a='open"), (1, 3, UnterminatedQuote('\'')));
    assert_eq!(first_error("a=$(uname)\n"), (1, 3, CommandSubstitution));
    assert_eq!(first_error("a=\"x`id`\"\n"), (1, 5, CommandSubstitution));
    assert_eq!(first_error("a=${b:-c}\n"), (1, 3, UnsupportedExpansion));
    assert_eq!(first_error("a=b;c\n"), (1, 4, ShellOperator(';')));
    assert_eq!(first_error("a=b c\n"), (1, 5, UnexpectedText));
    assert_eq!(
        first_error("f() {\n  x\n  }\n"),
        (1, 1, UnterminatedFunction)
    );
    assert_eq!(first_error("f() x\n"), (1, 5, ExpectedEquals));
    assert_eq!(first_error("\n\n  \"x\"=1\n"), (3, 3, ExpectedName));
}

#[test]
fn stops_after_the_first_error() {
    let items: std::vec::Vec<_> = Parser::new("a=1\nb c\nd=2\n").collect();
    assert_eq!(items.len(), 2);
    assert!(items[1].is_err());
}

#[test]
fn any_prefix_of_a_file_parses_or_fails_cleanly() {
    let text = "n=1\nx=\"a $n ${n} \\\" b\"\ny='c'\\ d\nf() {\n echo\n}\n# end\n";
    for len in 0..=text.len() {
        if let Some(prefix) = text.get(..len) {
            for item in Parser::new(prefix) {
                if let Ok(Item::Assignment(a)) = item {
                    let _ = a.value.expand_into(&mut [0; 64], |_| Some("v"));
                }
            }
        }
    }
}
