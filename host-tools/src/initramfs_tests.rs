//! Unit tests of `initramfs`: the archive read back field by field, reproducibility, refusals.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::*;

/// One entry read back from an archive.
#[derive(Debug)]
struct Read {
    name: String,
    fields: [u32; 13],
    data: Vec<u8>,
}

fn parse(mut bytes: &[u8]) -> Vec<Read> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    loop {
        assert_eq!(&bytes[..6], NEWC_MAGIC, "magic at {offset}");
        let mut fields = [0u32; 13];
        for (i, f) in fields.iter_mut().enumerate() {
            let text = std::str::from_utf8(&bytes[6 + 8 * i..14 + 8 * i]).unwrap();
            *f = u32::from_str_radix(text, 16).unwrap();
        }
        let namesize = fields[11] as usize;
        let name = std::str::from_utf8(&bytes[HEADER_LEN..HEADER_LEN + namesize - 1])
            .unwrap()
            .to_string();
        assert_eq!(bytes[HEADER_LEN + namesize - 1], 0);
        let data_at = (HEADER_LEN + namesize).div_ceil(4) * 4;
        let size = fields[6] as usize;
        let data = bytes[data_at..data_at + size].to_vec();
        let next = (data_at + size).div_ceil(4) * 4;
        offset += next;
        let done = name == TRAILER;
        out.push(Read { name, fields, data });
        if done {
            assert_eq!(next, bytes.len(), "nothing after the trailer");
            return out;
        }
        bytes = &bytes[next..];
    }
}

fn tree(dir: &Path, stamp: u64) {
    fs::create_dir_all(dir.join("bin")).unwrap();
    fs::create_dir_all(dir.join("a-b")).unwrap();
    fs::write(dir.join("init"), b"#!/bin/sh\necho hi\n").unwrap();
    fs::set_permissions(dir.join("init"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(dir.join("bin/busybox"), vec![0x7fu8; 1001]).unwrap();
    fs::set_permissions(dir.join("bin/busybox"), fs::Permissions::from_mode(0o4755)).unwrap();
    symlink("busybox", dir.join("bin/sh")).unwrap();
    fs::write(dir.join("a-b/empty"), b"").unwrap();
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(stamp);
    for f in ["init", "bin/busybox", "a-b/empty"] {
        fs::File::options()
            .write(true)
            .open(dir.join(f))
            .unwrap()
            .set_modified(when)
            .unwrap();
    }
}

#[test]
fn entries_are_sorted_owned_by_root_and_stamped() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), 1_000_000);
    let mut bytes = Vec::new();
    let len = write_cpio(dir.path(), 1_700_000_000, &mut bytes).unwrap();
    assert_eq!(len, bytes.len() as u64);
    let entries = parse(&bytes);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "a-b",
            "a-b/empty",
            "bin",
            "bin/busybox",
            "bin/sh",
            "init",
            TRAILER
        ]
    );
    for (i, e) in entries.iter().enumerate().take(names.len() - 1) {
        assert_eq!(e.fields[0], i as u32 + 1, "inode of {}", e.name);
        assert_eq!((e.fields[2], e.fields[3]), (0, 0), "owner of {}", e.name);
        assert_eq!(e.fields[5], 1_700_000_000, "mtime of {}", e.name);
        assert_eq!(e.fields[12], 0);
    }
    let get = |n: &str| entries.iter().find(|e| e.name == n).unwrap();
    assert_eq!(get("bin").fields[1] & 0o170000, 0o040000);
    assert_eq!(get("bin").fields[4], 2);
    assert_eq!(get("bin/busybox").fields[1], 0o104755);
    assert_eq!(get("bin/busybox").data, vec![0x7fu8; 1001]);
    assert_eq!(get("bin/sh").fields[1] & 0o170000, 0o120000);
    assert_eq!(get("bin/sh").data, b"busybox");
    assert_eq!(get("init").fields[1], 0o100755);
    assert_eq!(get("init").data, b"#!/bin/sh\necho hi\n");
}

#[test]
fn the_hosts_times_do_not_change_the_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    tree(a.path(), 1_000_000);
    tree(b.path(), 2_000_000);
    let (mut one, mut two) = (Vec::new(), Vec::new());
    write_cpio(a.path(), 42, &mut one).unwrap();
    write_cpio(b.path(), 42, &mut two).unwrap();
    assert_eq!(one, two);
}

#[test]
fn gzip_output_is_reproducible_and_unpacks_to_the_archive() {
    let src = tempfile::tempdir().unwrap();
    tree(src.path(), 5);
    let out = tempfile::tempdir().unwrap();
    let spec = |compression| InitramfsSpec {
        source_date_epoch: 1_600_000_000,
        compression,
    };
    let plain = out.path().join("i.cpio");
    let info = write_initramfs(src.path(), &plain, &spec(Compression::None)).unwrap();
    assert_eq!(info.entries, 6);
    assert_eq!(info.len, info.archive_len);
    let (one, two) = (out.path().join("1.gz"), out.path().join("2.gz"));
    write_initramfs(src.path(), &one, &spec(Compression::Gzip)).unwrap();
    let info = write_initramfs(src.path(), &two, &spec(Compression::Gzip)).unwrap();
    assert_eq!(fs::read(&one).unwrap(), fs::read(&two).unwrap());
    assert_eq!(info.len, fs::metadata(&two).unwrap().len());
    assert_eq!(
        fs::metadata(&two).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let unpacked = std::process::Command::new("gzip")
        .arg("-dc")
        .arg(&one)
        .output()
        .unwrap()
        .stdout;
    assert_eq!(unpacked, fs::read(&plain).unwrap());
}

#[test]
fn sockets_an_output_inside_and_a_late_epoch_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), 5);
    let spec = InitramfsSpec {
        source_date_epoch: 0,
        compression: Compression::None,
    };
    let err = write_initramfs(dir.path(), &dir.path().join("bin/x.cpio"), &spec).unwrap_err();
    assert!(matches!(err, InitramfsError::OutputInside { .. }), "{err}");
    let mut sink = Vec::new();
    let err = write_cpio(dir.path(), 1 << 33, &mut sink).unwrap_err();
    assert!(matches!(err, InitramfsError::EpochTooLarge(_)), "{err}");
    let _listener = std::os::unix::net::UnixListener::bind(dir.path().join("sock")).unwrap();
    let err = write_cpio(dir.path(), 0, &mut sink).unwrap_err();
    assert!(err.to_string().contains("socket cannot be put"), "{err}");
    assert_eq!(err.status(), Status::No);
    let file = dir.path().join("init");
    assert!(matches!(
        write_cpio(&file, 0, &mut sink),
        Err(InitramfsError::NotADirectory(_))
    ));
}
