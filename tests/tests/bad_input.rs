//! Every kind of bad input to `nanolin key`, `sign` and `verify`: a clear message, the right
//! exit code (1 no, 2 usage, 3 system), never a crash.

mod common;

use std::fs;
use std::path::Path;

use common::{nanolin, run_in, scratch};

/// A directory with key pair k.pub/k.sec, message m and its signature m.sig.
fn signed() -> tempfile::TempDir {
    let dir = scratch();
    let d = dir.path();
    nanolin(d, &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"]).ok();
    nanolin(d, &["sign", "-s", "k.sec", "m"]).ok();
    dir
}

fn edit(path: &Path, change: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = fs::read(path).unwrap();
    change(&mut bytes);
    fs::write(path, bytes).unwrap();
}

/// Offset of the `n`th (0-based) line's first byte.
fn line_start(bytes: &[u8], n: usize) -> usize {
    bytes
        .split_inclusive(|&b| b == b'\n')
        .take(n)
        .map(<[u8]>::len)
        .sum()
}

fn verify(d: &Path) -> common::Run {
    nanolin(d, &["verify", "-p", "k.pub", "m"])
}

#[test]
fn flipped_byte_in_file_is_refused() {
    let dir = signed();
    edit(&dir.path().join("m"), |b| b[3] ^= 0x20);
    verify(dir.path())
        .code(1)
        .says("m: FAILED: signature verification failed");
}

#[test]
fn every_flipped_symbol_of_the_signature_is_refused() {
    let dir = signed();
    let d = dir.path();
    let original = fs::read(d.join("m.sig")).unwrap();
    let start = line_start(&original, 1);
    let end = line_start(&original, 2) - 1;
    // Every other symbol of the signature line, swapped for another base64 symbol.
    for at in (start..end).step_by(7) {
        let mut bytes = original.clone();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        fs::write(d.join("m.sig"), &bytes).unwrap();
        let run = verify(d);
        assert_eq!(
            run.code, 1,
            "symbol {at} changed, yet: {} {}",
            run.stdout, run.stderr
        );
    }
}

#[test]
fn flipped_byte_in_key_is_refused() {
    let dir = signed();
    let d = dir.path();
    let original = fs::read(d.join("k.pub")).unwrap();
    let start = line_start(&original, 1);
    for at in [start + 3, start + 10, start + 30, start + 50] {
        let mut bytes = original.clone();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        fs::write(d.join("k.pub"), &bytes).unwrap();
        let run = verify(d);
        assert_eq!(
            run.code, 1,
            "key symbol {at} changed, yet: {} {}",
            run.stdout, run.stderr
        );
    }
}

#[test]
fn wrong_key_is_named() {
    let dir = signed();
    let d = dir.path();
    nanolin(
        d,
        &[
            "key",
            "generate",
            "-n",
            "-p",
            "other.pub",
            "-s",
            "other.sec",
        ],
    )
    .ok();
    nanolin(d, &["verify", "-p", "other.pub", "m"])
        .code(1)
        .says("checked against the wrong key");
}

#[test]
fn truncated_and_empty_signatures_are_refused_with_their_place() {
    let dir = signed();
    let d = dir.path();
    let original = fs::read(d.join("m.sig")).unwrap();
    fs::write(d.join("m.sig"), &original[..original.len() / 3]).unwrap();
    verify(d).code(1).says("m.sig: line 2, column");
    fs::write(d.join("m.sig"), b"").unwrap();
    verify(d)
        .code(1)
        .says("m.sig: line 1, column 1: the file ends here");
    fs::write(d.join("m.sig"), &original[..original.len() - 1]).unwrap();
    verify(d).code(1).says("line 4").says("truncated");
}

#[test]
fn empty_and_truncated_keys_are_refused() {
    let dir = signed();
    let d = dir.path();
    let original = fs::read(d.join("k.pub")).unwrap();
    fs::write(d.join("k.pub"), b"").unwrap();
    verify(d).code(1).says("k.pub: line 1, column 1");
    fs::write(d.join("k.pub"), &original[..original.len() - 10]).unwrap();
    verify(d).code(1).says("k.pub: line 2");
}

#[test]
fn base64_garbage_is_located() {
    let dir = signed();
    let d = dir.path();
    edit(&d.join("m.sig"), |b| {
        let at = line_start(b, 1) + 12;
        b[at] = b'%';
    });
    verify(d)
        .code(1)
        .says("m.sig: line 2, column 13: malformed base64: byte 0x25");
}

#[test]
fn over_long_comment_is_refused() {
    let dir = signed();
    let d = dir.path();
    edit(&d.join("m.sig"), |b| {
        let long = "x".repeat(2000);
        b.splice(19..19, long.bytes());
    });
    verify(d)
        .code(1)
        .says("line 1, column 1043: the comment is longer than 1023 bytes");
    let long = "y".repeat(1100);
    nanolin(
        d,
        &["sign", "-s", "k.sec", "-c", &long, "-x", "long.sig", "m"],
    )
    .code(2)
    .says("comment is longer than 1023 bytes");
}

#[test]
fn forged_trusted_comment_is_refused() {
    let dir = signed();
    let d = dir.path();
    edit(&d.join("m.sig"), |b| {
        let at = line_start(b, 2) + "trusted comment: timestamp:".len();
        b[at] = if b[at] == b'9' { b'8' } else { b'9' };
    });
    verify(d)
        .code(1)
        .says("trusted comment does not match its signature");
}

#[test]
fn wrong_passphrase_is_refused() {
    let dir = scratch();
    let d = dir.path();
    fs::write(d.join("pass"), "right\n").unwrap();
    fs::write(d.join("wrong"), "wrong\n").unwrap();
    nanolin(
        d,
        &[
            "key",
            "generate",
            "-p",
            "k.pub",
            "-s",
            "k.sec",
            "--passphrase-file",
            "pass",
        ],
    )
    .ok();
    nanolin(
        d,
        &["sign", "-s", "k.sec", "--passphrase-file", "wrong", "m"],
    )
    .code(1)
    .says("k.sec: incorrect passphrase for this secret key");
    assert!(!d.join("m.sig").exists());
}

#[test]
fn no_terminal_and_no_passphrase_file_says_what_to_do() {
    let dir = scratch();
    let d = dir.path();
    let setsid = common::peer("setsid", "util-linux");
    let nanolin = common::host_bin("nanolin");
    let run = run_in(
        d,
        &setsid,
        &[
            "-w",
            nanolin.to_str().unwrap(),
            "key",
            "generate",
            "-p",
            "k.pub",
            "-s",
            "k.sec",
        ],
        "",
    );
    run.code(2).says("pass --passphrase-file FILE");
    assert!(!d.join("k.sec").exists());
}

#[test]
fn empty_passphrase_is_refused() {
    let dir = scratch();
    let d = dir.path();
    fs::write(d.join("empty"), "\n").unwrap();
    nanolin(
        d,
        &[
            "key",
            "generate",
            "-p",
            "k.pub",
            "-s",
            "k.sec",
            "--passphrase-file",
            "empty",
        ],
    )
    .code(2)
    .says("empty passphrase");
}

#[test]
fn damaged_secret_key_is_refused() {
    let dir = signed();
    let d = dir.path();
    edit(&d.join("k.sec"), |b| {
        let at = line_start(b, 1) + 100;
        b[at] = if b[at] == b'A' { b'B' } else { b'A' };
    });
    nanolin(d, &["sign", "-s", "k.sec", "-x", "n.sig", "m"])
        .code(1)
        .says("k.sec:");
    // A key that asks for absurd bcrypt rounds is refused before any work.
    edit(&d.join("k.sec"), |b| {
        let start = line_start(b, 1);
        // "RWRCSw" is "EdBK"; the next 4 symbols carry the first 3 bytes of the rounds.
        b[start + 6..start + 10].copy_from_slice(b"f///");
    });
    nanolin(d, &["sign", "-s", "k.sec", "-x", "n.sig", "m"])
        .code(1)
        .says("bcrypt_pbkdf rounds");
}

#[test]
fn existing_keys_are_not_overwritten() {
    let dir = signed();
    let d = dir.path();
    let before = fs::read(d.join("k.sec")).unwrap();
    nanolin(d, &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"])
        .code(2)
        .says("exists already");
    assert_eq!(fs::read(d.join("k.sec")).unwrap(), before);
}

#[test]
fn usage_errors_say_the_fix() {
    let dir = signed();
    let d = dir.path();
    fs::write(d.join("n"), "another file\n").unwrap();
    nanolin(d, &["sign", "m"])
        .code(2)
        .says("pass -s KEY.sec or set NANOLIN_KEY");
    nanolin(d, &["verify", "m"]).code(2).says("pass -p KEY.pub");
    nanolin(d, &["sign", "-s", "k.sec", "-x", "one.sig", "m", "n"])
        .code(2)
        .says("drop -x");
    nanolin(d, &["frobnicate"]).code(2);
}

#[test]
fn each_file_gets_its_verdict() {
    let dir = signed();
    let d = dir.path();
    fs::write(d.join("n"), "another file\n").unwrap();
    nanolin(d, &["sign", "-s", "k.sec", "n"]).ok();
    edit(&d.join("n"), |b| b.push(b'!'));
    let run = nanolin(d, &["verify", "-p", "k.pub", "m", "n"]).code(1);
    assert!(run.stdout.contains("m: OK"), "{}", run.stdout);
    assert!(run.stderr.contains("n: FAILED"), "{}", run.stderr);
    assert!(
        run.stderr.contains("1 of 2 files failed verification"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_files_are_a_system_failure() {
    let dir = signed();
    let d = dir.path();
    nanolin(d, &["verify", "-p", "k.pub", "absent"])
        .code(3)
        .says("unable to read absent.sig");
    nanolin(d, &["verify", "-p", "absent.pub", "m"])
        .code(3)
        .says("unable to read absent.pub");
    nanolin(d, &["sign", "-s", "k.sec", "absent"])
        .code(3)
        .says("unable to read absent");
}

#[test]
fn reproducible_signatures_with_source_date_epoch() {
    let dir = signed();
    let d = dir.path();
    let sign = |out: &str| {
        let status = std::process::Command::new(common::host_bin("nanolin"))
            .args(["sign", "-s", "k.sec", "-x", out, "m"])
            .current_dir(d)
            .env("SOURCE_DATE_EPOCH", "1550841765")
            .status()
            .unwrap();
        assert!(status.success());
        fs::read(d.join(out)).unwrap()
    };
    let first = sign("a.sig");
    assert_eq!(first, sign("b.sig"));
    assert!(String::from_utf8(first)
        .unwrap()
        .contains("trusted comment: timestamp:1550841765\tfile:m\n"));
}
