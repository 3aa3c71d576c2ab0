//! Unit tests of the crate root.

use super::*;

#[test]
fn reads_first_argument() {
    assert_eq!(Invocation::from_arg(b"--version"), Invocation::Version);
    assert_eq!(Invocation::from_arg(b"-h"), Invocation::Help);
    assert_eq!(Invocation::from_arg(b"--bogus"), Invocation::Unknown);
}
