//! Unit tests of `strings`.

use super::*;

#[test]
fn stores_extends_and_rolls_back() {
    let mut s = Strings::<16>::new();
    let a = s.push("abc").unwrap();
    let b = s.push("de").unwrap();
    let b = s.extend(b, "fg").unwrap();
    assert_eq!((s.get(a), s.get(b)), ("abc", "defg"));
    assert!(s.extend(a, "x").is_err());
    let mark = s.len();
    s.push("123456789").unwrap();
    assert_eq!(s.push("x"), Err(StringsFull { capacity: 16 }));
    s.truncate(mark);
    assert_eq!(s.push("xyz").map(|r| s.get(r).len()), Ok(3));
}
