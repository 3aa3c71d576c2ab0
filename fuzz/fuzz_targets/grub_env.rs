//! A GRUB environment block of any content: parsing never panics, every value unescapes the
//! same way by each accessor, and a block it accepts re-emits (into a block just large enough,
//! and into one of the same size when that holds it) to a block with the same variables.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_core::grub_env::{emit, needed_len, GrubEnv, GrubEnvError, Value};

fuzz_target!(|data: &[u8]| {
    let Ok(env) = GrubEnv::parse(data) else {
        return;
    };
    let vars: Vec<(&str, Value)> = env.vars().collect();
    for (name, value) in &vars {
        assert!(!name.starts_with('#') && !name.contains(['=', '\n', '\0']));
        let mut buf = vec![0u8; value.len()];
        let text = value
            .unescape_into(&mut buf)
            .expect("a value fits its own length");
        assert_eq!(text, value.to_string());
        assert!(!text.contains('\0'));
        assert!(value.as_plain().is_none_or(|p| p == text));
        assert!(env.get(name).is_some());
    }
    // Every variable read can be written back, into a block of the size it needs.
    let needed = needed_len(vars.iter().copied());
    let mut block = vec![0u8; needed];
    emit(vars.iter().copied(), &mut block).expect("read variables are writable");
    let again = GrubEnv::parse(&block).expect("an emitted block parses");
    assert!(again.vars().eq(vars.iter().copied()));
    // Written again, the block is the same bytes.
    let mut twice = vec![0u8; needed];
    emit(again.vars(), &mut twice).expect("rewritable");
    assert_eq!(block, twice);
    // Into a block of the original size: it fits exactly when the needed length says so.
    let mut same = vec![0u8; data.len()];
    match emit(vars.iter().copied(), &mut same) {
        Ok(()) => assert!(needed <= data.len()),
        Err(GrubEnvError::TooLarge { .. } | GrubEnvError::TooSmall { .. }) => {
            assert!(needed > data.len())
        }
        Err(e) => panic!("unexpected error: {e}"),
    }
});
