//! A U-Boot environment block of any content, in both layouts: parsing never panics, and a
//! block it accepts re-emits (same size, layout and flag) to a block with the same variables.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_core::uboot_env::{emit, EnvCopy, Layout};

fuzz_target!(|data: &[u8]| {
    for layout in [Layout::Single, Layout::Redundant] {
        let Ok(env) = EnvCopy::parse(data, layout) else { continue };
        let vars: Vec<(&str, &str)> = env.vars().collect();
        for (name, value) in &vars {
            assert!(!name.contains('\0') && !value.contains('\0'));
        }
        let mut block = vec![0u8; data.len()];
        // Entries without a name (`=x`) are kept by the parser but cannot be written back.
        if emit(vars.iter().copied(), layout, env.flag.unwrap_or(0), &mut block).is_ok() {
            let again = EnvCopy::parse(&block, layout).expect("an emitted block parses");
            assert_eq!(again.vars().collect::<Vec<_>>(), vars);
            assert_eq!(again.flag, env.flag);
        }
    }
});
