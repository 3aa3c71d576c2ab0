//! Any text as stage1's boot.conf and any kernel command line, and any bytes as the native
//! boot record region: the early stage never panics, a broken boot.conf names its fault, and
//! whatever the record holds, a slot is picked with a try taken.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_init::stage1::{pick_native, plan, BootConf, KernelArgs};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The first line is the command line, the rest boot.conf.
    let (cmdline, conf) = text.split_once('\n').unwrap_or((text, ""));
    let args = KernelArgs::parse(cmdline);
    match BootConf::parse(conf, |_, _| {}) {
        Ok(conf) => {
            let _ = plan(&args, &conf);
            let _ = conf.slot_device(nanolin_core::boot_state::BootSlot::A);
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
    let _ = pick_native(data, 3);
});
