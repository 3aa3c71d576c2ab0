//! A service file of any content: init's parser never panics, names a place inside the file
//! for every fault, keeps nothing of a broken file, and a valid definition's strings and
//! dependencies are within the table.
#![no_main]

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use nanolin_init::table::ServiceTable;

static TABLE: Mutex<Option<Box<ServiceTable>>> = Mutex::new(None);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut guard = TABLE.lock().unwrap();
    // A fresh table per input, reusing the allocation.
    let table = guard.get_or_insert_with(|| Box::new(ServiceTable::new()));
    **table = ServiceTable::new();
    for name in ["network", "syslog", "svc", "data"] {
        table.declare(name).unwrap();
    }
    let id = table.find("svc").unwrap();
    match table.define(id, text) {
        Ok(()) => {
            let def = *table.definition(id).expect("a defined service has a definition");
            assert!(!table.string(def.run).trim().is_empty());
            for &dep in table.dependencies(def.needs).iter().chain(table.dependencies(def.after)) {
                assert!(usize::from(dep) < table.len() && dep != id);
            }
            let env = table.string(def.environment);
            assert_eq!(env.matches('\0').count(), usize::from(def.environment_len));
        }
        Err(e) => {
            assert!(table.definition(id).is_none());
            if let Some(p) = e.position {
                let lines: Vec<&str> = text.split('\n').collect();
                let line = p.line as usize;
                assert!(line >= 1 && line <= lines.len());
                assert!(p.column as usize <= lines[line - 1].len() + 1);
            }
            let _ = e.to_string();
            // Nothing of the broken file was kept: a good file still fits as before.
            table.define(id, "run=/bin/true\n").expect("table damaged by a broken file");
        }
    }
});
