//! What the agent reads of the running system to start a slot's kernel by kexec: the device
//! tree (`/sys/firmware/fdt`) it rewrites with a new `/chosen`, and the RAM ranges of
//! `/proc/iomem`. Neither panics on any input; a tree it rewrote can be rewritten again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_agent::kexec::{fdt, system_ram};

fuzz_target!(|data: &[u8]| {
    if let Ok(tree) = fdt::with_chosen(
        data,
        "console=ttyAMA0 panic=-1",
        Some((0x4000_0000, 0x4010_0000)),
    ) {
        fdt::with_chosen(&tree, "console=ttyAMA0", None).expect("a rewritten tree rewrites");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        for (start, end) in system_ram(text) {
            assert!(start <= end, "a RAM range ends before it starts");
        }
    }
});
