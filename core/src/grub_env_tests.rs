//! Unit tests of `grub_env`.

use std::vec::Vec;

use super::*;

/// A block as `grub-editenv` leaves it: header, its comment, `body`, `#` to `len`.
fn block(body: &str, len: usize) -> Vec<u8> {
    let mut b = Vec::from(HEADER.as_bytes());
    b.extend_from_slice(MESSAGE.as_bytes());
    b.extend_from_slice(body.as_bytes());
    assert!(b.len() <= len);
    b.resize(len, b'#');
    b
}

#[test]
fn reads_a_grub_editenv_block() {
    // What `grub-editenv F create; grub-editenv F set 'BOOT_ORDER=A B' BOOT_A_LEFT=3
    // 'P=C:\dir x' 'NL=one<newline>two'` writes.
    let b = block(
        "BOOT_ORDER=A B\nBOOT_A_LEFT=3\nP=C:\\\\dir x\nNL=one\\\ntwo\n",
        GRUB_ENV_LEN,
    );
    let env = GrubEnv::parse(&b).unwrap();
    let names: Vec<&str> = env.vars().map(|(n, _)| n).collect();
    assert_eq!(names, ["BOOT_ORDER", "BOOT_A_LEFT", "P", "NL"]);
    assert_eq!(env.get("BOOT_ORDER").unwrap().as_plain(), Some("A B"));
    assert_eq!(env.get("BOOT_A_LEFT").unwrap(), "3");
    let p = env.get("P").unwrap();
    assert_eq!(p.as_plain(), None, "an escaped value must be unescaped");
    assert_eq!(p, "C:\\dir x");
    assert_eq!(p.len(), 8);
    assert_eq!(p.pieces().collect::<Vec<_>>(), ["C:", "\\dir x"]);
    let mut buf = [0u8; 16];
    assert_eq!(env.get_into("NL", &mut buf).unwrap(), Some("one\ntwo"));
    assert_eq!(env.get_into("nope", &mut buf).unwrap(), None);
    assert_eq!(
        env.get_into("P", &mut [0u8; 7]),
        Err(GrubEnvError::BufferTooSmall { needed: 8 })
    );
    assert_eq!(std::format!("{}", env.get("NL").unwrap()), "one\ntwo");
    assert_eq!(std::format!("{:?}", p), "\"C:\\\\dir x\"");
}

#[test]
fn unescapes_any_byte_like_grub() {
    // GRUB writes only `\\` and `\<newline>`, but reads `\x` as `x` for every x.
    let b = block("E=a\\qb\\\\c\\é\nF=\\\\\n", 200);
    let env = GrubEnv::parse(&b).unwrap();
    assert_eq!(env.get("E").unwrap(), "aqb\\cé");
    assert_eq!(env.get("F").unwrap(), "\\");
}

#[test]
fn comments_are_skipped_and_last_duplicate_wins() {
    let mut b = Vec::from(HEADER.as_bytes());
    b.extend_from_slice(b"X=1\n# a comment \\\nstill the comment=no\nX=2\n=empty name\n");
    b.resize(300, b'#');
    let env = GrubEnv::parse(&b).unwrap();
    let vars: Vec<(&str, std::string::String)> =
        env.vars().map(|(n, v)| (n, std::format!("{v}"))).collect();
    assert_eq!(
        vars,
        [
            ("X", "1".into()),
            ("X", "2".into()),
            ("", "empty name".into())
        ]
    );
    assert_eq!(
        env.get("X").unwrap(),
        "2",
        "GRUB's load_env: the last one wins"
    );
}

#[test]
fn accepts_every_length_grub_accepts() {
    // GRUB wants the header and one byte more, and nothing else.
    let mut b = Vec::from(HEADER.as_bytes());
    assert_eq!(
        GrubEnv::parse(&b),
        Err(GrubEnvError::TooSmall { len: 25, min: 26 })
    );
    b.push(b'#');
    assert_eq!(GrubEnv::parse(&b).unwrap().vars().count(), 0);
    // An entry filling the block to its very end, newline last, no padding.
    let mut full = Vec::from(HEADER.as_bytes());
    full.extend_from_slice(b"a=1\n");
    assert_eq!(GrubEnv::parse(&full).unwrap().get("a").unwrap(), "1");
    let big = block("a=1\n", 4096);
    assert_eq!(GrubEnv::parse(&big).unwrap().get("a").unwrap(), "1");
}

#[test]
fn refuses_damage_naming_the_line() {
    assert_eq!(
        GrubEnv::parse(&[b'#'; 64]),
        Err(GrubEnvError::MissingHeader)
    );
    let mut b = block("a=1\n", 128);
    b[0] = b'!';
    assert_eq!(GrubEnv::parse(&b), Err(GrubEnvError::MissingHeader));
    // Line 4 has no `=` (GRUB would read `NOEQ\nb` as one name).
    let b = block("a=1\nNOEQ\nb=2\n", 128);
    assert_eq!(
        GrubEnv::parse(&b),
        Err(GrubEnvError::MissingEquals {
            line: 4,
            offset: 98
        })
    );
    // An empty line is an entry without `=`.
    let b = block("\na=1\n", 128);
    assert!(matches!(
        GrubEnv::parse(&b),
        Err(GrubEnvError::MissingEquals { line: 3, .. })
    ));
    // Truncated: the last entry lost its newline, or ends in a lone backslash.
    let mut b = Vec::from(HEADER.as_bytes());
    b.extend_from_slice(b"a=1\nb=2");
    assert_eq!(
        GrubEnv::parse(&b),
        Err(GrubEnvError::Unterminated {
            line: 3,
            offset: 29
        })
    );
    let mut b = Vec::from(HEADER.as_bytes());
    b.extend_from_slice(b"b=2\\\n");
    assert!(matches!(
        GrubEnv::parse(&b),
        Err(GrubEnvError::Unterminated { line: 2, .. })
    ));
    // A flipped byte that breaks UTF-8, and a NUL.
    let mut b = block("a=caf\u{e9}\n", 128);
    b[100] = 0xff;
    assert_eq!(
        GrubEnv::parse(&b),
        Err(GrubEnvError::NotText {
            line: 3,
            offset: 94
        })
    );
    b[99] = b'e';
    b[100] = 0;
    assert!(matches!(
        GrubEnv::parse(&b),
        Err(GrubEnvError::NotText { .. })
    ));
}

#[test]
fn emits_what_grub_editenv_writes() {
    let mut b = [0u8; GRUB_ENV_LEN];
    emit(
        [
            ("BOOT_ORDER", "A B"),
            ("P", "C:\\dir x"),
            ("NL", "one\ntwo"),
            ("E", ""),
        ],
        &mut b,
    )
    .unwrap();
    assert_eq!(
        b.to_vec(),
        block(
            "BOOT_ORDER=A B\nP=C:\\\\dir x\nNL=one\\\ntwo\nE=\n",
            GRUB_ENV_LEN
        )
    );
    // Round trip, values read back unescaped.
    let env = GrubEnv::parse(&b).unwrap();
    assert_eq!(env.get("P").unwrap(), "C:\\dir x");
    assert_eq!(env.get("NL").unwrap(), "one\ntwo");
    assert!(env.get("E").unwrap().is_empty());
    // An empty environment is the header, the comment, padding.
    emit::<&str>([], &mut b).unwrap();
    assert_eq!(b.to_vec(), block("", GRUB_ENV_LEN));
}

#[test]
fn rewrites_read_values_unchanged() {
    let src = block("A=x\\\\y\nB=1\\\n2\n", 256);
    let env = GrubEnv::parse(&src).unwrap();
    let mut out = [0u8; 256];
    // Read values go back as they are; a plain one replaces B.
    emit(
        env.vars()
            .filter(|(n, _)| *n != "B")
            .chain([("B", Value::plain("3"))]),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.to_vec(), block("A=x\\\\y\nB=3\n", 256));
}

#[test]
fn refuses_what_does_not_fit_or_reads_back_otherwise() {
    // Exactly full: the last newline on the last byte.
    let mut exact = [0u8; EMIT_MIN_LEN + 6];
    assert_eq!(needed_len([("ab", "c\\")]), EMIT_MIN_LEN + 7);
    assert_eq!(needed_len([("ab", "cd")]), exact.len());
    emit([("ab", "cd")], &mut exact).unwrap();
    assert_eq!(GrubEnv::parse(&exact).unwrap().get("ab").unwrap(), "cd");
    // One byte more does not fit (the backslash is escaped), and leaves no environment.
    assert_eq!(
        emit([("ab", "c\\")], &mut exact),
        Err(GrubEnvError::TooLarge { capacity: 6 })
    );
    assert!(exact.iter().all(|&b| b == b'#'));
    assert_eq!(
        emit([("a", "1")], &mut [0u8; EMIT_MIN_LEN - 1]),
        Err(GrubEnvError::TooSmall {
            len: EMIT_MIN_LEN - 1,
            min: EMIT_MIN_LEN
        })
    );
    let mut b = [0u8; 256];
    for name in ["a=b", "#a", "a\nb", "a\0"] {
        assert_eq!(
            emit([(name, "1")], &mut b),
            Err(GrubEnvError::InvalidVariable),
            "{name:?}"
        );
    }
    assert_eq!(
        emit([("a", "1\0")], &mut b),
        Err(GrubEnvError::InvalidVariable)
    );
}

#[test]
fn errors_say_where() {
    let text = std::format!(
        "{}",
        GrubEnvError::MissingEquals {
            line: 4,
            offset: 98
        }
    );
    assert_eq!(text, "entry at line 4 (byte 98) has no `=`");
    let text = std::format!("{}", GrubEnvError::TooLarge { capacity: 930 });
    assert!(text.contains("930 bytes"), "{text}");
}
