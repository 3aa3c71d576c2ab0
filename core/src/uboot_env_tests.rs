//! Unit tests of `uboot_env`.

use super::*;

#[test]
fn round_trips_both_layouts() {
    for layout in [Layout::Single, Layout::Redundant] {
        let mut block = [0xAAu8; 64];
        emit(
            [("BOOT_ORDER", "A B"), ("BOOT_A_LEFT", "3")],
            layout,
            7,
            &mut block,
        )
        .unwrap();
        let env = EnvCopy::parse(&block, layout).unwrap();
        assert_eq!(env.get("BOOT_ORDER"), Some("A B"));
        assert_eq!(env.vars().count(), 2);
        assert_eq!(env.flag, (layout == Layout::Redundant).then_some(7));
    }
}

#[test]
fn refuses_damage_and_overflow() {
    let mut block = [0u8; 32];
    emit([("a", "1")], Layout::Single, 0, &mut block).unwrap();
    block[6] ^= 1;
    assert!(matches!(
        EnvCopy::parse(&block, Layout::Single),
        Err(UbootEnvError::BadCrc { .. })
    ));
    assert_eq!(
        emit(
            [("a", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx")],
            Layout::Single,
            0,
            &mut block
        ),
        Err(UbootEnvError::TooLarge { capacity: 28 })
    );
    assert_eq!(
        emit([("a=b", "1")], Layout::Single, 0, &mut block),
        Err(UbootEnvError::InvalidVariable)
    );
    assert_eq!(
        EnvCopy::parse(&[0; 5], Layout::Single),
        Err(UbootEnvError::TooSmall { len: 5 })
    );
    // An all-zero block of the right CRC is an empty environment.
    let mut empty = [0u8; 16];
    emit([], Layout::Single, 0, &mut empty).unwrap();
    assert_eq!(
        EnvCopy::parse(&empty, Layout::Single)
            .unwrap()
            .vars()
            .count(),
        0
    );
}

#[test]
fn newer_copy_wins_with_wraparound() {
    assert!(is_newer(2, 1) && !is_newer(1, 2));
    assert!(is_newer(0, 255) && !is_newer(255, 0));
    let mut a = [0u8; 32];
    let mut b = [0u8; 32];
    emit([("v", "old")], Layout::Redundant, 255, &mut a).unwrap();
    emit([("v", "new")], Layout::Redundant, 0, &mut b).unwrap();
    let (pa, pb) = (
        EnvCopy::parse(&a, Layout::Redundant),
        EnvCopy::parse(&b, Layout::Redundant),
    );
    assert_eq!(current(&pa, &pb), Some(1));
    b[10] ^= 1;
    let pb = EnvCopy::parse(&b, Layout::Redundant);
    assert_eq!(
        current(&pa, &pb),
        Some(0),
        "a torn newer copy leaves the older one current"
    );
}
