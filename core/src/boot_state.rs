//! The A/B boot state every backend stores: which slot to try first, and how many tries each
//! slot has left.
//!
//! The logic is RAUC's U-Boot integration, so a stock boot script works unchanged:
//!
//! ```text
//! BOOT_ORDER="A B"   slots in the order the bootloader tries them
//! BOOT_A_LEFT=3      tries left for slot A; the bootloader decrements before booting it
//! BOOT_B_LEFT=3      tries left for slot B; a slot with 0 left is skipped
//! ```
//!
//! A slot is *good* when it booted and its health check passed: its tries are reset to the
//! full count. A slot is *bad* when it failed: 0 tries, so the bootloader skips it and boots the
//! other one by itself (automatic rollback). A freshly installed slot is put first in the order
//! with the full count of tries.

use core::fmt;

/// Most tries a slot can be given (a bootloader counter; U-Boot scripts compare it as a number).
pub const MAX_TRIES: u8 = 9;

/// One of the two root file system slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BootSlot {
    /// The first slot.
    A,
    /// The second slot.
    B,
}

impl BootSlot {
    /// Both slots, A first.
    pub const ALL: [BootSlot; 2] = [BootSlot::A, BootSlot::B];

    /// The slot's letter as the bootloader variables name it.
    pub const fn name(self) -> &'static str {
        match self {
            BootSlot::A => "A",
            BootSlot::B => "B",
        }
    }

    /// The other slot.
    pub const fn other(self) -> BootSlot {
        match self {
            BootSlot::A => BootSlot::B,
            BootSlot::B => BootSlot::A,
        }
    }

    /// 0 for A, 1 for B.
    pub const fn index(self) -> usize {
        match self {
            BootSlot::A => 0,
            BootSlot::B => 1,
        }
    }

    /// The slot named by `text` (`A` or `B`, either case).
    pub fn from_name(text: &str) -> Option<BootSlot> {
        match text {
            "A" | "a" => Some(BootSlot::A),
            "B" | "b" => Some(BootSlot::B),
            _ => None,
        }
    }

    /// Name of the variable holding this slot's tries left.
    pub const fn left_variable(self) -> &'static str {
        match self {
            BootSlot::A => "BOOT_A_LEFT",
            BootSlot::B => "BOOT_B_LEFT",
        }
    }
}

impl fmt::Display for BootSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Name of the variable holding the try order.
pub const ORDER_VARIABLE: &str = "BOOT_ORDER";

/// What is wrong with stored boot state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootStateError {
    /// A variable is missing.
    Missing {
        /// Its name.
        name: &'static str,
    },
    /// `BOOT_ORDER` names something other than `A` and `B`, or one slot twice.
    BadOrder,
    /// A tries-left count is not a number from 0 to [`MAX_TRIES`].
    BadTries {
        /// The variable's name.
        name: &'static str,
    },
}

impl fmt::Display for BootStateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BootStateError::Missing { name } => write!(f, "the variable {name} is not set"),
            BootStateError::BadOrder => write!(
                f,
                "{ORDER_VARIABLE} must list slots A and B, each at most once, separated by spaces"
            ),
            BootStateError::BadTries { name } => {
                write!(f, "{name} must be a number from 0 to {MAX_TRIES}")
            }
        }
    }
}

impl core::error::Error for BootStateError {}

/// Slot try order and tries left: what the bootloader (or `init`'s early stage) reads to pick
/// a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootState {
    /// Slots in try order; a slot left out is never booted.
    order: [Option<BootSlot>; 2],
    /// Tries left, indexed by [`BootSlot::index`].
    left: [u8; 2],
}

impl BootState {
    /// A board just flashed: A first, then B, each with `tries` tries.
    pub const fn new(tries: u8) -> Self {
        let tries = if tries > MAX_TRIES { MAX_TRIES } else { tries };
        BootState {
            order: [Some(BootSlot::A), Some(BootSlot::B)],
            left: [tries, tries],
        }
    }

    /// The state from its parts; `order` may list a slot at most once.
    pub fn from_parts(order: &[BootSlot], left_a: u8, left_b: u8) -> Result<Self, BootStateError> {
        let mut slots = [None; 2];
        for (i, slot) in order.iter().enumerate() {
            let place = slots.get_mut(i).ok_or(BootStateError::BadOrder)?;
            if order.get(..i).is_some_and(|before| before.contains(slot)) {
                return Err(BootStateError::BadOrder);
            }
            *place = Some(*slot);
        }
        if left_a > MAX_TRIES {
            return Err(BootStateError::BadTries {
                name: "BOOT_A_LEFT",
            });
        }
        if left_b > MAX_TRIES {
            return Err(BootStateError::BadTries {
                name: "BOOT_B_LEFT",
            });
        }
        Ok(BootState {
            order: slots,
            left: [left_a, left_b],
        })
    }

    /// Slots in try order.
    pub fn order(&self) -> impl Iterator<Item = BootSlot> + '_ {
        self.order.iter().flatten().copied()
    }

    /// Tries left for `slot`.
    pub fn left(&self, slot: BootSlot) -> u8 {
        self.left.get(slot.index()).copied().unwrap_or(0)
    }

    /// The slot the bootloader boots next: the first in order with tries left.
    pub fn next_boot(&self) -> Option<BootSlot> {
        self.order().find(|s| self.left(*s) > 0)
    }

    /// What the bootloader does at power-on: picks [`Self::next_boot`] and takes one of its
    /// tries.
    pub fn take_try(&mut self) -> Option<BootSlot> {
        let slot = self.next_boot()?;
        self.set_left(slot, self.left(slot).saturating_sub(1));
        Some(slot)
    }

    fn set_left(&mut self, slot: BootSlot, tries: u8) {
        if let Some(left) = self.left.get_mut(slot.index()) {
            *left = tries.min(MAX_TRIES);
        }
    }

    /// `slot` booted and is healthy: its tries go back to `tries`, and it stays in the order.
    pub fn mark_good(&mut self, slot: BootSlot, tries: u8) {
        self.set_left(slot, tries);
        if !self.order().any(|s| s == slot) {
            self.put_last(slot);
        }
    }

    /// `slot` failed: no tries left, so the bootloader skips it.
    pub fn mark_bad(&mut self, slot: BootSlot) {
        self.set_left(slot, 0);
    }

    /// `slot` holds a new release: it goes first, with `tries` tries; the other slot stays as
    /// the fallback.
    pub fn activate(&mut self, slot: BootSlot, tries: u8) {
        self.order = [Some(slot), Some(slot.other())];
        self.set_left(slot, tries);
    }

    fn put_last(&mut self, slot: BootSlot) {
        let first = self.order().find(|s| *s != slot);
        self.order = [first.or(Some(slot)), first.map(|_| slot)];
    }

    /// `BOOT_ORDER` as text: `"A B"`, `"B A"`, `"A"`, or empty.
    pub fn order_text(&self) -> OrderText {
        let mut text = OrderText {
            bytes: [b' '; 3],
            len: 0,
        };
        for slot in self.order() {
            let at = if text.len == 0 { 0 } else { 2 };
            if let Some(b) = text.bytes.get_mut(at) {
                *b = slot.name().as_bytes().first().copied().unwrap_or(b'A');
            }
            text.len = at + 1;
        }
        text
    }

    /// Reads the state from bootloader variables, looked up by `get`.
    pub fn from_vars<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, BootStateError> {
        let order_text = get(ORDER_VARIABLE).ok_or(BootStateError::Missing {
            name: ORDER_VARIABLE,
        })?;
        let mut order = [BootSlot::A; 2];
        let mut count = 0;
        for word in order_text.split([' ', ',']).filter(|w| !w.is_empty()) {
            let slot = BootSlot::from_name(word).ok_or(BootStateError::BadOrder)?;
            let place = order.get_mut(count).ok_or(BootStateError::BadOrder)?;
            *place = slot;
            count += 1;
        }
        let mut left = [0u8; 2];
        for slot in BootSlot::ALL {
            let name = slot.left_variable();
            let text = get(name).ok_or(BootStateError::Missing { name })?;
            let tries = text
                .trim()
                .parse::<u8>()
                .map_err(|_| BootStateError::BadTries { name })?;
            if let Some(l) = left.get_mut(slot.index()) {
                *l = tries;
            }
        }
        let [left_a, left_b] = left;
        BootState::from_parts(order.get(..count).unwrap_or(&[]), left_a, left_b)
    }

    /// The variables that store this state, as (name, value) pairs; `digits` holds the text of
    /// the counts.
    pub fn to_vars<'d>(
        &self,
        order: &'d OrderText,
        digits: &'d mut [u8; 2],
    ) -> [(&'static str, &'d str); 3] {
        let [left_a, left_b] = self.left;
        *digits = [b'0' + left_a % 10, b'0' + left_b % 10];
        let digits: &'d [u8; 2] = digits;
        let (a, b) = digits.split_at(1);
        [
            (ORDER_VARIABLE, order.as_str()),
            ("BOOT_A_LEFT", core::str::from_utf8(a).unwrap_or("0")),
            ("BOOT_B_LEFT", core::str::from_utf8(b).unwrap_or("0")),
        ]
    }
}

/// `BOOT_ORDER`'s text, without allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderText {
    bytes: [u8; 3],
    len: usize,
}

impl OrderText {
    /// The text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.bytes.get(..self.len).unwrap_or(&[])).unwrap_or("")
    }
}

#[cfg(test)]
#[path = "boot_state_tests.rs"]
mod tests;
