//! The key=value parser on any text: it never panics, every place it names is inside the text,
//! every value it returns is a slice of the text, and expanding a value whose variables each
//! stand for one byte never makes it longer than it was written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_core::keyvalue::{Item, Parser, Position};

fn check_position(text: &str, position: Position) {
    let lines: Vec<&str> = text.split('\n').collect();
    let line = position.line as usize;
    assert!(line >= 1 && line <= lines.len(), "line {line} of {}", lines.len());
    let len = lines[line - 1].len();
    assert!(position.column >= 1 && position.column as usize <= len + 1, "column {} of {len}", position.column);
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let range = text.as_ptr() as usize..text.as_ptr() as usize + text.len() + 1;
    for item in Parser::new(text) {
        match item {
            Ok(Item::Assignment(a)) => {
                check_position(text, a.position);
                let raw = a.value.raw();
                assert!(range.contains(&(raw.as_ptr() as usize)));
                assert!(!a.name.is_empty());
                let mut buf = vec![0u8; raw.len()];
                let value = a.value.expand_into(&mut buf, |_| Some("v")).expect("expansion grew");
                if let Some(literal) = a.value.as_literal() {
                    assert_eq!(literal, value);
                }
            }
            Ok(Item::Function { name, position }) => {
                check_position(text, position);
                assert!(!name.is_empty());
            }
            Err(e) => {
                check_position(text, e.position);
                let _ = e.to_string();
            }
        }
    }
});
