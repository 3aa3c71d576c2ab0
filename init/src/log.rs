//! The last lines each service printed, in one fixed ring shared by all services.
//!
//! One ring rather than one per service: a quiet service costs nothing, and a chatty one can
//! only push out the oldest lines, its own or others'. A line longer than a slot continues in
//! the next one.

use crate::limits::{LOG_LINE_MAX, LOG_SLOTS};
use crate::service::ServiceId;

#[derive(Clone, Copy)]
struct Slot {
    id: ServiceId,
    len: u8,
    /// This slot continues the line of the previous one.
    continued: bool,
    bytes: [u8; LOG_LINE_MAX],
}

const EMPTY: Slot = Slot {
    id: 0,
    len: 0,
    continued: false,
    bytes: [0; LOG_LINE_MAX],
};

/// The ring of kept lines.
pub struct LogRing {
    slots: [Slot; LOG_SLOTS],
    /// Next slot written.
    next: usize,
    /// Slots in use.
    used: usize,
}

impl Default for LogRing {
    fn default() -> Self {
        Self::new()
    }
}

impl LogRing {
    /// An empty ring (all zero: place it in a `static`).
    pub const fn new() -> Self {
        LogRing {
            slots: [EMPTY; LOG_SLOTS],
            next: 0,
            used: 0,
        }
    }

    /// Keeps `line` (without its newline) as printed by `id`.
    pub fn push(&mut self, id: ServiceId, line: &[u8]) {
        let mut continued = false;
        let mut chunks = line.chunks(LOG_LINE_MAX);
        let first: &[u8] = &[];
        // An empty line still takes a slot, so it shows.
        for chunk in core::iter::once(chunks.next().unwrap_or(first)).chain(chunks) {
            if let Some(slot) = self.slots.get_mut(self.next) {
                slot.id = id;
                slot.len = chunk.len() as u8;
                slot.continued = continued;
                if let Some(dest) = slot.bytes.get_mut(..chunk.len()) {
                    dest.copy_from_slice(chunk);
                }
            }
            self.next = (self.next + 1) % LOG_SLOTS;
            self.used = (self.used + 1).min(LOG_SLOTS);
            continued = true;
        }
    }

    /// The kept lines of `id`, oldest first, each as the pieces it was stored in; the first
    /// may lack its beginning if older slots were overwritten.
    pub fn lines(&self, id: ServiceId, mut each: impl FnMut(&[u8], bool)) {
        let oldest = (self.next + LOG_SLOTS - self.used) % LOG_SLOTS;
        for i in 0..self.used {
            if let Some(slot) = self.slots.get((oldest + i) % LOG_SLOTS) {
                if slot.id == id {
                    each(
                        slot.bytes.get(..usize::from(slot.len)).unwrap_or(&[]),
                        slot.continued,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "log_tests.rs"]
mod tests;
