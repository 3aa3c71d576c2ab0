//! `nanolin distro build` of the shipped `prime` distro for the default board: the packages'
//! builds are kept by package id and reused, the image is reproducible, and real peers read
//! it (`unsquashfs`, `signify`, `pyspdxtools`); bad distros are refused with nothing written.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{host_bin, peer, run_in, run_in_env, workspace};

const EPOCH: &str = "1790000000";

/// `nanolin distro build DISTRO -o OUT` in `dir`, packages kept in `store`.
fn distro_build(dir: &Path, distro: &Path, out: &str, store: &Path, extra: &[&str]) -> common::Run {
    let mut args = vec![
        "distro",
        "build",
        distro.to_str().unwrap(),
        "-s",
        "k.sec",
        "-o",
        out,
        "--packages",
        store.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let cache = dir.join("cache");
    run_in_env(
        dir,
        &host_bin("nanolin"),
        &args,
        &[
            ("SOURCE_DATE_EPOCH", EPOCH),
            ("NANOLIN_SOURCE_CACHE", cache.to_str().unwrap()),
        ],
    )
    .feed("")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

fn find(files: &[PathBuf], ext: &str) -> PathBuf {
    files
        .iter()
        .find(|f| f.to_string_lossy().ends_with(ext))
        .unwrap_or_else(|| panic!("no {ext} in {files:?}"))
        .clone()
}

#[test]
fn prime_builds_reproducibly_from_the_package_store() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::nanolin(d, &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"]).ok();
    let prime = workspace().join("distros/prime.rcp");
    // The store the release tests share: this binary may find the packages built already.
    let store = common::package_store();
    distro_build(d, &prime, "one", &store, &[]).ok();
    // The second build takes every package from the store.
    let second = distro_build(d, &prime, "two", &store, &[]).ok();
    assert_eq!(
        second.stderr.matches("built before").count(),
        4,
        "{}",
        second.stderr
    );
    let (one, two) = (files(&d.join("one")), files(&d.join("two")));
    assert_eq!(one.len(), 5, "{one:?}");
    for (a, b) in one.iter().zip(&two) {
        assert_eq!(a.file_name(), b.file_name());
        assert!(
            fs::read(a).unwrap() == fs::read(b).unwrap(),
            "{a:?} differs"
        );
    }
    let img = find(&one, ".img");
    assert!(img
        .to_string_lossy()
        .ends_with("prime-qemu-aarch64-virt-r26.09-G21141320.img"));

    // unsquashfs lists what the .lst lists.
    let listed = run_in(
        d,
        &peer("unsquashfs", "squashfs-tools"),
        &["-lls", img.to_str().unwrap()],
        "",
    )
    .ok()
    .stdout;
    let from_image: Vec<String> = listed
        .lines()
        // `squashfs-root/bin/sh -> busybox`: the path is the word after the owner and time.
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| w.starts_with("squashfs-root"))
        })
        .filter_map(|p| p.strip_prefix("squashfs-root"))
        .map(|p| {
            if p.is_empty() {
                "/".to_string()
            } else {
                p.to_string()
            }
        })
        .collect();
    let list = fs::read_to_string(find(&one, ".lst")).unwrap();
    let from_list: Vec<&str> = list
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(from_image, from_list);
    for path in [
        "/sbin/init",
        "/usr/bin/nanolin-agent",
        "/bin/busybox",
        "/bin/sh",
        "/usr/bin/hello",
        "/etc/nanolin/services/agent",
        "/etc/nanolin/keys/release.pub",
    ] {
        assert!(from_list.contains(&path), "{path} missing:\n{list}");
    }

    // The board's configuration: the agent's slots and boot state, the trusted key.
    let root = d.join("root");
    run_in(
        d,
        &peer("unsquashfs", "squashfs-tools"),
        &["-q", "-d", root.to_str().unwrap(), img.to_str().unwrap()],
        "",
    )
    .ok();
    let conf = fs::read_to_string(root.join("etc/nanolin/agent.conf")).unwrap();
    for line in [
        "compatible=qemu-aarch64-virt",
        "slot_a=/dev/vda2",
        "slot_b=/dev/vda3",
        "bootstate=native",
        "bootstate_path=/dev/vda1",
        "repository=http://10.0.2.2:8080",
    ] {
        assert!(conf.lines().any(|l| l == line), "{line} missing:\n{conf}");
    }
    let key_line = |p: &Path| {
        fs::read_to_string(p)
            .unwrap()
            .lines()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(
        key_line(&root.join("etc/nanolin/keys/release.pub")),
        key_line(&d.join("k.pub"))
    );
    assert_eq!(
        fs::read_to_string(root.join("etc/hostname")).unwrap(),
        "prime\n"
    );

    // signify checks the image's signature; pyspdxtools the whole image's SPDX document.
    run_in(
        d,
        &common::signify(),
        &[
            "-V",
            "-p",
            "k.pub",
            "-m",
            img.to_str().unwrap(),
            "-x",
            find(&one, ".img.sig").to_str().unwrap(),
        ],
        "",
    )
    .ok();
    let spdx = fs::read_to_string(find(&one, ".spdx.json")).unwrap();
    for package in ["nanolin-init", "nanolin-agent", "busybox", "hello"] {
        assert!(
            spdx.contains(&format!("\"name\": \"{package}\"")),
            "{package} not in the SPDX document"
        );
    }
    if let Some(tool) = common::pyspdxtools() {
        run_in(
            d,
            &tool,
            &["-i", find(&one, ".spdx.json").to_str().unwrap()],
            "",
        )
        .ok();
    }
    let report = fs::read_to_string(find(&one, ".licenses.txt")).unwrap();
    assert!(
        report.contains("busybox-1.37.0-") && report.contains("GPL-2.0-only"),
        "{report}"
    );
}

#[test]
fn bad_distros_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::nanolin(d, &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"]).ok();
    // A tree with the shipped recipes (hello only needs its files) and a distro folder.
    fs::create_dir_all(d.join("distros")).unwrap();
    fs::create_dir_all(d.join("recipes/hello")).unwrap();
    for f in ["hello.rcp", "hello/hello.c", "hello/LICENSE"] {
        fs::copy(
            workspace().join("recipes").join(f),
            d.join("recipes").join(f),
        )
        .unwrap();
    }
    let boards = workspace().join("boards");
    let cases = [
        (
            "unknown board",
            "name=x\npackages=hello\n",
            Some("no-such-board"),
            "qemu-aarch64-virt",
        ),
        (
            "missing package",
            "name=x\npackages=\"hello nothere\"\n",
            None,
            "package nothere has no recipe",
        ),
        (
            "package twice",
            "name=x\npackages=\"hello=1.0 hello=2.0\"\n",
            None,
            "x.rcp:2:1: package hello is named twice",
        ),
        (
            "wrong version",
            "name=x\npackages=\"hello=2.0\"\n",
            None,
            "asks for hello=2.0, but its recipe builds version 1.0",
        ),
    ];
    for (what, text, board, says) in cases {
        fs::write(d.join("distros/x.rcp"), text).unwrap();
        let out = d.join("out");
        let mut args = vec!["--boards", boards.to_str().unwrap()];
        if let Some(b) = board {
            args.extend(["--board", b]);
        }
        let store = d.join("store");
        let run = distro_build(
            d,
            &d.join("distros/x.rcp"),
            out.to_str().unwrap(),
            &store,
            &args,
        );
        assert_eq!(run.code, 1, "{what}: exit {}\n{}", run.code, run.stderr);
        assert!(
            run.stderr.contains(says),
            "{what}: stderr lacks {says:?}:\n{}",
            run.stderr
        );
        assert!(files(&out).is_empty(), "{what}: something was written");
        assert!(
            files(&d.join("store")).is_empty(),
            "{what}: a package was built"
        );
    }
}
