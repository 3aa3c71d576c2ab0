//! Every recipe Nanolin ships, built for the default board twice, in separate directories with
//! separate source caches: the image, file list and license reports are the same bytes, and
//! what they hold works (the aarch64 binaries run under qemu-user). Where an earlier test
//! binary (distro_build) left the package in the shared package store, that build, made by
//! `nanolin distro build` at another time, is the other one.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{host_bin, package_store, peer, run_in, run_in_env, workspace};
use nanolin_host::cmd::package::recipes_with_ids;
use nanolin_host::fetch::SourceCache;

const EPOCH: &str = "1790000000";
const TARGET: &str = "aarch64-unknown-linux-musl";

/// The recipes in `recipes/`: a new one must be added here, so it is built by this test.
const SHIPPED: [&str; 4] = ["busybox", "hello", "nanolin-agent", "nanolin-init"];

/// The package store's build of `recipes/NAME.rcp` for [`TARGET`], if one is there.
fn stored_build(dir: &Path, name: &str) -> Option<PathBuf> {
    let cache = SourceCache::new(dir.join("cache-ids"));
    let ids = recipes_with_ids(&workspace().join("recipes"), &cache).unwrap();
    let (_, id) = ids.iter().find(|(recipe, _)| recipe.name == name)?;
    let stored = package_store().join(TARGET).join(id);
    stored.is_dir().then_some(stored)
}

/// Builds `recipes/NAME.rcp` twice (or once, when the package store has the other build),
/// checks the two builds agree byte for byte, and returns our build's outputs, unpacked image
/// included.
fn build_twice(dir: &Path, name: &str) -> Outputs {
    let recipe = workspace().join(format!("recipes/{name}.rcp"));
    let stored = stored_build(dir, name);
    let builds_needed = if stored.is_some() { 1 } else { 2 };
    let mut builds = Vec::new();
    for n in ["one", "two"].into_iter().take(builds_needed) {
        let cache = dir.join(format!("cache-{n}"));
        run_in_env(
            dir,
            &host_bin("nanolin"),
            &[
                "package",
                "build",
                recipe.to_str().unwrap(),
                "--target",
                TARGET,
                "-o",
                n,
            ],
            &[
                ("SOURCE_DATE_EPOCH", EPOCH),
                ("NANOLIN_SOURCE_CACHE", cache.to_str().unwrap()),
            ],
        )
        .feed("")
        .ok();
        builds.push(dir.join(n));
    }
    let list = |d: &Path| {
        let mut v: Vec<PathBuf> = fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        v.sort();
        v
    };
    let one = list(&builds[0]);
    assert_eq!(one.len(), 4, "{one:?}");
    // The other build: ours, or the store's (which also holds the signature of the image).
    let two: Vec<PathBuf> = match (&stored, builds.get(1)) {
        (Some(stored), _) => {
            eprintln!(
                "{name}: compared with the package store's build, {}",
                stored.display()
            );
            one.iter()
                .map(|f| stored.join(f.file_name().unwrap()))
                .collect()
        }
        (None, Some(second)) => list(second),
        (None, None) => unreachable!("two builds when the store has none"),
    };
    assert_eq!(two.len(), 4, "{two:?}");
    for (a, b) in one.iter().zip(&two) {
        assert_eq!(a.file_name(), b.file_name());
        assert!(
            fs::read(a).unwrap() == fs::read(b).unwrap(),
            "{name}: {} differs between two builds",
            a.file_name().unwrap().to_string_lossy()
        );
    }
    let find = |ext: &str| {
        one.iter()
            .find(|f| f.to_string_lossy().ends_with(ext))
            .unwrap_or_else(|| panic!("no {ext} among {one:?}"))
            .clone()
    };
    let root = dir.join("root");
    run_in(
        dir,
        &peer("unsquashfs", "squashfs-tools"),
        &[
            "-q",
            "-d",
            root.to_str().unwrap(),
            find(".img").to_str().unwrap(),
        ],
        "",
    )
    .ok();
    Outputs {
        list: fs::read_to_string(find(".lst")).unwrap(),
        report: fs::read_to_string(find(".licenses.txt")).unwrap(),
        root,
    }
}

struct Outputs {
    list: String,
    report: String,
    root: PathBuf,
}

fn qemu(dir: &Path, program: &Path, args: &[&str]) -> String {
    let mut all = vec![program.to_str().unwrap()];
    all.extend_from_slice(args);
    let qemu = peer("qemu-aarch64-static", "qemu-user-static");
    run_in(dir, &qemu, &all, "").ok().stdout
}

#[test]
fn the_shipped_recipes_are_the_ones_tested_here() {
    let mut found: Vec<String> = fs::read_dir(workspace().join("recipes"))
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".rcp").map(str::to_string)
        })
        .collect();
    found.sort();
    assert_eq!(
        found, SHIPPED,
        "add the new recipe to SHIPPED and give it a test here"
    );
}

#[test]
fn nanolin_init_is_reproducible_and_within_its_size_budget() {
    let dir = tempfile::tempdir().unwrap();
    let out = build_twice(dir.path(), "nanolin-init");
    assert!(
        out.list.contains("/sbin/init\tf\t0755\t0:0\t"),
        "{}",
        out.list
    );
    let init = fs::read(out.root.join("sbin/init")).unwrap();
    // A static aarch64 ELF (no interpreter), within the 64 KiB budget.
    assert_eq!(&init[..4], b"\x7fELF");
    assert_eq!(u16::from_le_bytes([init[18], init[19]]), 183, "EM_AARCH64");
    assert!(
        !init.windows(14).any(|w| w == b"/lib/ld-linux-"),
        "dynamically linked"
    );
    assert!(init.len() <= 64 * 1024, "init is {} bytes", init.len());
    // The report covers the crates compiled into it, not the whole lock file.
    assert!(out.report.contains("vendor/rustix-"), "{}", out.report);
    assert!(!out.report.contains("vendor/windows"), "{}", out.report);
    assert!(!out.report.contains("vendor/clap"), "{}", out.report);
}

#[test]
fn nanolin_agent_is_reproducible_and_runs_on_the_board() {
    let dir = tempfile::tempdir().unwrap();
    let out = build_twice(dir.path(), "nanolin-agent");
    assert!(
        out.list.contains("/usr/bin/nanolin-agent\tf\t0755\t0:0\t"),
        "{}",
        out.list
    );
    let version = qemu(
        dir.path(),
        &out.root.join("usr/bin/nanolin-agent"),
        &["--version"],
    );
    assert!(version.starts_with("nanolin-agent 0.1.0"), "{version}");
    assert!(out.report.contains("vendor/rustls-"), "{}", out.report);
    assert!(
        !out.report.contains("vendor/ureq-"),
        "the host tools' crates: {}",
        out.report
    );
}

#[test]
fn busybox_is_reproducible_and_every_linked_applet_exists() {
    let dir = tempfile::tempdir().unwrap();
    let out = build_twice(dir.path(), "busybox");
    let busybox = out.root.join("bin/busybox");
    let applets = qemu(dir.path(), &busybox, &["--list"]);
    let applets: Vec<&str> = applets.lines().collect();
    let mut linked = 0;
    for entry in fs::read_dir(out.root.join("bin")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        if name == "busybox" {
            continue;
        }
        assert_eq!(fs::read_link(entry.path()).unwrap(), Path::new("busybox"));
        assert!(
            applets.contains(&name.as_str()),
            "busybox has no applet {name}"
        );
        linked += 1;
    }
    assert!(linked > 40, "{linked} applets linked");
    let said = qemu(dir.path(), &busybox, &["echo", "from busybox"]);
    assert_eq!(said, "from busybox\n");
    assert!(
        out.report.contains("GPL-2.0-only [declared]") && out.report.contains("Erik Andersen"),
        "{}",
        out.report
    );
    assert!(out
        .root
        .join("usr/share/licenses/busybox/COPYING")
        .is_file());
}

#[test]
fn hello_is_reproducible() {
    // The outputs themselves are checked by package_build.rs; here, only that the shipped
    // recipe gives the same bytes twice with caches of its own.
    let dir = tempfile::tempdir().unwrap();
    let out = build_twice(dir.path(), "hello");
    assert!(
        out.list.contains("/usr/bin/hello\tf\t0755\t0:0\t"),
        "{}",
        out.list
    );
}

#[test]
fn package_ids_change_with_the_tree_they_build() {
    // The ids of the in-tree recipes cover the tree: the same tree gives the same ids, a copy
    // of the tree with one byte changed gives new ones, and the other recipes keep theirs.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ids = |root: &Path| {
        run_in_env(
            d,
            &host_bin("nanolin"),
            &["package", "id", root.join("recipes").to_str().unwrap()],
            &[("NANOLIN_SOURCE_CACHE", d.join("cache").to_str().unwrap())],
        )
        .feed("")
        .ok()
        .stdout
    };
    // A small git work tree with the recipes, a Cargo.lock and one source file.
    let tree = d.join("tree");
    fs::create_dir_all(tree.join("recipes")).unwrap();
    for name in SHIPPED {
        let from = workspace().join(format!("recipes/{name}.rcp"));
        fs::copy(from, tree.join(format!("recipes/{name}.rcp"))).unwrap();
    }
    fs::copy(workspace().join("Cargo.lock"), tree.join("Cargo.lock")).unwrap();
    fs::write(tree.join("main.rs"), "fn main() {}\n").unwrap();
    run_in(
        d,
        Path::new("git"),
        &["init", "-q", tree.to_str().unwrap()],
        "",
    )
    .ok();
    let first = ids(&tree);
    assert_eq!(first, ids(&tree), "the same tree gives the same ids");
    fs::write(tree.join("main.rs"), "fn main() { }\n").unwrap();
    let second = ids(&tree);
    let changed: Vec<(&str, &str)> = first
        .lines()
        .zip(second.lines())
        .filter(|(a, b)| a != b)
        .collect();
    let names: Vec<&str> = changed
        .iter()
        .map(|(a, _)| a.split(' ').next().unwrap())
        .collect();
    assert_eq!(
        names,
        ["nanolin-agent", "nanolin-init"],
        "{first}\n{second}"
    );
}
