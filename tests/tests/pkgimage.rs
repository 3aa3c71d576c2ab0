//! Package images and lists: reproducible, and read back by the real squashfs tools exactly
//! as the `.lst` describes them.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use nanolin_host::pkgimage::{write_image, write_list, ImageError};

const EPOCH: u64 = 1_700_000_000;
/// EPOCH as unsquashfs prints it (TZ=UTC).
const EPOCH_TEXT: &str = "2023-11-14 22:13";

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A small package tree: files 0644 and 0755, an empty one, directories, a symbolic link.
fn tree(root: &Path) {
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    fs::create_dir_all(root.join("usr/share/doc/hello")).unwrap();
    fs::create_dir(root.join("etc")).unwrap();
    fs::write(root.join("usr/bin/hello"), b"#!/bin/sh\necho hello\n").unwrap();
    chmod(&root.join("usr/bin/hello"), 0o755);
    fs::write(
        root.join("usr/share/doc/hello/README"),
        "hello, a test package\n".repeat(1000),
    )
    .unwrap();
    chmod(&root.join("usr/share/doc/hello/README"), 0o644);
    fs::write(root.join("etc/hello.conf"), b"").unwrap();
    chmod(&root.join("etc/hello.conf"), 0o644);
    symlink("hello", root.join("usr/bin/hi")).unwrap();
}

fn mksquashfs_peers() {
    common::peer("mksquashfs", "squashfs-tools");
    common::peer("unsquashfs", "squashfs-tools");
}

/// `.lst` lines by path: (type, mode, owner, size, sha256, target).
fn parse_list(list: &str) -> BTreeMap<String, [String; 6]> {
    list.lines()
        .map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 7, "{line:?}");
            (
                f[0].to_string(),
                [f[1], f[2], f[3], f[4], f[5], f[6]].map(str::to_string),
            )
        })
        .collect()
}

/// `ls -l` permissions (`-rwsr-xr-x`) as octal mode bits.
fn mode_of(perms: &str) -> u32 {
    let p = perms.as_bytes();
    let mut mode = 0;
    for (i, bit) in [0o400, 0o200, 0o100, 0o40, 0o20, 0o10, 0o4, 0o2, 0o1]
        .into_iter()
        .enumerate()
    {
        if p[i + 1] != b'-' && !(p[i + 1] == b'S' || p[i + 1] == b'T') {
            mode |= bit;
        }
    }
    for (at, special, lower, upper) in [(3, 0o4000, b's', b'S'), (6, 0o2000, b's', b'S')] {
        if p[at] == lower || p[at] == upper {
            mode |= special;
        }
    }
    if p[9] == b't' || p[9] == b'T' {
        mode |= 0o1000;
    }
    mode
}

#[test]
fn images_and_lists_are_reproducible() {
    mksquashfs_peers();
    let mut outputs = Vec::new();
    for round in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join(format!("dest-{round}"));
        fs::create_dir(&dest).unwrap();
        tree(&dest);
        if round == 1 {
            // Different times and a different root mode must not matter.
            let touched = Command::new("touch")
                .args(["-h", "-d", "2001-02-03 04:05:06"])
                .arg(dest.join("usr/bin/hi"))
                .arg(dest.join("usr/bin/hello"))
                .arg(dest.join("etc"))
                .status()
                .unwrap();
            assert!(touched.success());
            chmod(&dest, 0o700);
        }
        let out = dir.path().join("out");
        fs::create_dir(&out).unwrap();
        write_image(&dest, &out.join("hello.img"), EPOCH).unwrap();
        let list = write_list(&dest).unwrap();
        outputs.push((fs::read(out.join("hello.img")).unwrap(), list));
        let left: Vec<_> = fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["hello.img"], "temporary files left behind");
    }
    assert!(outputs[0].0 == outputs[1].0, "the two images differ");
    assert_eq!(outputs[0].1, outputs[1].1, "the two lists differ");
}

#[test]
fn unsquashfs_lists_exactly_what_the_lst_says() {
    mksquashfs_peers();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    fs::create_dir(&dest).unwrap();
    tree(&dest);
    let img = dir.path().join("hello.img");
    write_image(&dest, &img, EPOCH).unwrap();
    let list = parse_list(&write_list(&dest).unwrap());
    assert_eq!(
        list.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "/",
            "/etc",
            "/etc/hello.conf",
            "/usr",
            "/usr/bin",
            "/usr/bin/hello",
            "/usr/bin/hi",
            "/usr/share",
            "/usr/share/doc",
            "/usr/share/doc/hello",
            "/usr/share/doc/hello/README",
        ]
    );

    let out = Command::new("unsquashfs")
        .arg("-lln")
        .arg(&img)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut listed = BTreeMap::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(rest) = f.get(5).and_then(|p| p.strip_prefix("squashfs-root")) else {
            continue;
        };
        let path = if rest.is_empty() { "/" } else { rest };
        let target = (f.get(6) == Some(&"->")).then(|| f[7].to_string());
        assert_eq!(format!("{} {}", f[3], f[4]), EPOCH_TEXT, "{line}");
        listed.insert(
            path.to_string(),
            (f[0].to_string(), f[1].to_string(), f[2].to_string(), target),
        );
    }
    assert_eq!(
        listed.keys().collect::<Vec<_>>(),
        list.keys().collect::<Vec<_>>()
    );
    for (path, [kind, mode, owner, size, _sha, target]) in &list {
        let (perms, sq_owner, sq_size, sq_target) = &listed[path];
        let sq_kind = match perms.as_bytes()[0] {
            b'-' => "f",
            b'd' => "d",
            b'l' => "l",
            other => panic!("{path}: type {}", other as char),
        };
        assert_eq!(sq_kind, kind, "{path}");
        assert_eq!(format!("{:04o}", mode_of(perms)), *mode, "{path}");
        assert_eq!(sq_owner, "0/0", "{path}");
        assert_eq!(owner, "0:0", "{path}");
        if kind == "f" {
            assert_eq!(sq_size, size, "{path}");
        }
        if kind == "l" {
            assert_eq!(sq_target.as_deref(), Some(target.as_str()), "{path}");
        }
    }

    // Extracted, every file has the contents the list hashed.
    let extracted = dir.path().join("x");
    let out = Command::new("unsquashfs")
        .args(["-no-progress", "-d"])
        .arg(&extracted)
        .arg(&img)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for (path, [kind, _, _, size, sha, _]) in &list {
        if kind != "f" {
            continue;
        }
        let file = extracted.join(path.trim_start_matches('/'));
        let sum = Command::new("sha256sum").arg(&file).output().unwrap();
        let sum = String::from_utf8(sum.stdout).unwrap();
        assert_eq!(sum.split_whitespace().next(), Some(sha.as_str()), "{path}");
        assert_eq!(fs::metadata(&file).unwrap().len().to_string(), *size);
    }
}

#[test]
fn failed_image_leaves_nothing_behind() {
    mksquashfs_peers();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("dest");
    fs::create_dir(&dest).unwrap();
    tree(&dest);
    let out = dir.path().join("out");
    // The image's name is taken by a directory: the final rename fails.
    fs::create_dir_all(out.join("hello.img/taken")).unwrap();
    let e = write_image(&dest, &out.join("hello.img"), EPOCH).unwrap_err();
    assert!(matches!(e, ImageError::Io { .. }), "{e}");
    assert!(e.to_string().contains("hello.img"), "{e}");
    let left: Vec<_> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["hello.img"], "temporary files left behind");

    // A directory that does not exist: nothing is made at all.
    let e = write_image(&dir.path().join("missing"), &out.join("other.img"), EPOCH).unwrap_err();
    assert!(e.to_string().contains("missing"), "{e}");
    assert!(!out.join("other.img").exists());
}
