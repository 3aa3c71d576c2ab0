//! Unit tests of `boot_state`.

use super::*;

fn vars(state: &BootState) -> std::vec::Vec<(std::string::String, std::string::String)> {
    let order = state.order_text();
    let mut digits = [0u8; 2];
    state
        .to_vars(&order, &mut digits)
        .iter()
        .map(|(n, v)| (std::string::String::from(*n), std::string::String::from(*v)))
        .collect()
}

#[test]
fn fresh_board_boots_a_then_falls_back_to_b() {
    let mut state = BootState::new(3);
    assert_eq!(state.order_text().as_str(), "A B");
    for _ in 0..3 {
        assert_eq!(state.take_try(), Some(BootSlot::A));
    }
    assert_eq!(state.take_try(), Some(BootSlot::B));
    assert_eq!(state.left(BootSlot::A), 0);
}

#[test]
fn activate_good_bad() {
    let mut state = BootState::new(3);
    state.activate(BootSlot::B, 2);
    assert_eq!(state.order_text().as_str(), "B A");
    assert_eq!(state.take_try(), Some(BootSlot::B));
    state.mark_bad(BootSlot::B);
    assert_eq!(state.next_boot(), Some(BootSlot::A));
    state.mark_good(BootSlot::A, 3);
    assert_eq!(state.left(BootSlot::A), 3);
}

#[test]
fn variables_round_trip() {
    let mut state = BootState::new(3);
    state.activate(BootSlot::B, 1);
    let v = vars(&state);
    assert_eq!(v[0], ("BOOT_ORDER".into(), "B A".into()));
    assert_eq!(v[2], ("BOOT_B_LEFT".into(), "1".into()));
    let back =
        BootState::from_vars(|name| v.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()))
            .unwrap();
    assert_eq!(back, state);
}

#[test]
fn refuses_bad_variables() {
    let get = |order: &'static str, a: &'static str| {
        move |name: &str| match name {
            "BOOT_ORDER" => Some(order),
            "BOOT_A_LEFT" => Some(a),
            "BOOT_B_LEFT" => Some("3"),
            _ => None,
        }
    };
    assert_eq!(
        BootState::from_vars(get("A A", "3")),
        Err(BootStateError::BadOrder)
    );
    assert_eq!(
        BootState::from_vars(get("A C", "3")),
        Err(BootStateError::BadOrder)
    );
    assert_eq!(
        BootState::from_vars(get("A B A", "3")),
        Err(BootStateError::BadOrder)
    );
    assert_eq!(
        BootState::from_vars(get("A B", "x")),
        Err(BootStateError::BadTries {
            name: "BOOT_A_LEFT"
        })
    );
    assert_eq!(
        BootState::from_vars(get("A B", "10")),
        Err(BootStateError::BadTries {
            name: "BOOT_A_LEFT"
        })
    );
    assert!(BootState::from_vars(|_| None).is_err());
    let single = BootState::from_vars(get("B", "3")).unwrap();
    assert_eq!(single.order_text().as_str(), "B");
    assert_eq!(
        BootState::from_vars(get("", "3")).unwrap().next_boot(),
        None
    );
}
