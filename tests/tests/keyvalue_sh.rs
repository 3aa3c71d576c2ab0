//! The key=value parser against the real `sh`: for every value below, the value Nanolin reads
//! without a shell is the value `sh` assigns when it sources the same file.

use std::fs;
use std::process::Command;

use nanolin_core::keyvalue::{Item, Parser};

const VALUES: &[&str] = &[
    "plain",
    "''",
    "\"\"",
    "'single quoted $name \\n'",
    "\"double $name\"",
    "\"$name-${version}.tar.bz2\"",
    "https://example.org/$name/${name}_$version.tgz",
    "a\\ b",
    "\\$name",
    "\"q\\\"uote \\$name \\x \\\\ \\`\"",
    "mix'ed'\"up\"$name",
    "cost\\$5",
    "a$",
    "\"a$\"",
    "$",
    "\"line one\nline two\"",
    "'multi\nline'",
    "\"joined \\\nline\"",
    "joined\\\nword",
    "\"ünïcödé $name\"",
    "tab\\\there",
    "\"# not a comment\"",
    "a#b",
    "\"${name}${version}\"",
    "$name$version",
    "'\"'\"'\"",
    "\"'\"",
    "\\'",
    "\\\"",
    "--flag=value",
    "/usr/bin/nanolin-agent",
    "\"$undefined_is_refused_by_us\"",
];

#[test]
fn values_are_what_sh_assigns() {
    let dir = tempfile::tempdir().unwrap();
    for value in VALUES {
        let text = format!("name=busybox\nversion=1.36.1\nv={value}\n");
        let path = dir.path().join("f");
        fs::write(&path, &text).unwrap();
        let out = Command::new("sh")
            .arg("-c")
            .arg(". ./f && printf %s \"$v\"")
            .current_dir(dir.path())
            .output()
            .expect("run sh");
        assert!(
            out.status.success(),
            "sh refused {value:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = String::from_utf8(out.stdout).unwrap();

        let mut defined: Vec<(String, String)> = Vec::new();
        let mut ours = None;
        for item in Parser::new(&text) {
            let Item::Assignment(a) = item.unwrap_or_else(|e| panic!("{value:?}: {e}")) else {
                continue;
            };
            let mut buf = [0u8; 256];
            let lookup = |n: &str| {
                defined
                    .iter()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.as_str())
            };
            match a.value.expand_into(&mut buf, lookup) {
                Ok(v) => {
                    let v = v.to_string();
                    if a.name == "v" {
                        ours = Some(v.clone());
                    }
                    defined.push((a.name.to_string(), v));
                }
                // sh gives an undefined variable the empty string; we refuse it instead.
                Err(e) => {
                    assert!(value.contains("undefined"), "{value:?}: {e}");
                    assert_eq!(expected, "");
                    ours = Some(String::new());
                }
            }
        }
        assert_eq!(ours.as_deref(), Some(expected.as_str()), "value {value:?}");
    }
}

#[test]
fn what_we_refuse_needs_a_shell() {
    // Each of these is refused with its place; sh would run something, or reads it otherwise.
    for text in [
        "v=$(id)\n",
        "v=`id`\n",
        "v=${x:-y}\n",
        "v=a;b\n",
        "v = 1\n",
        "v=a b\n",
    ] {
        let err = Parser::new(text).find_map(Result::err);
        assert!(err.is_some(), "{text:?} was accepted");
    }
}
