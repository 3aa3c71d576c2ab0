//! Unit tests of `log`.

use super::*;
use std::string::String;
use std::vec::Vec;

fn text(ring: &LogRing, id: ServiceId) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    ring.lines(id, |piece, continued| {
        let piece = String::from_utf8_lossy(piece).into_owned();
        match (continued, out.last_mut()) {
            (true, Some(last)) => last.push_str(&piece),
            _ => out.push(piece),
        }
    });
    out
}

#[test]
fn keeps_each_services_lines_in_order() {
    let mut ring = std::boxed::Box::new(LogRing::new());
    ring.push(1, b"one");
    ring.push(2, b"other");
    ring.push(1, b"");
    ring.push(1, b"two");
    assert_eq!(text(&ring, 1), ["one", "", "two"]);
    assert_eq!(text(&ring, 2), ["other"]);
    assert!(text(&ring, 3).is_empty());
}

#[test]
fn long_lines_span_slots_and_old_lines_go_first() {
    let mut ring = std::boxed::Box::new(LogRing::new());
    let long: Vec<u8> = (0..300).map(|i| b'a' + (i % 26) as u8).collect();
    ring.push(7, &long);
    assert_eq!(text(&ring, 7), [String::from_utf8(long.clone()).unwrap()]);
    for i in 0..LOG_SLOTS {
        ring.push(8, std::format!("line {i}").as_bytes());
    }
    assert!(text(&ring, 7).is_empty(), "overwritten");
    let kept = text(&ring, 8);
    assert_eq!(kept.len(), LOG_SLOTS);
    assert_eq!(kept[0], "line 0");
    ring.push(8, b"newest");
    let kept = text(&ring, 8);
    assert_eq!(
        (
            kept.first().unwrap().as_str(),
            kept.last().unwrap().as_str()
        ),
        ("line 1", "newest")
    );
}
