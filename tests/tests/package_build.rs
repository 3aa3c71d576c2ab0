//! `nanolin package build` on the shipped `hello` recipe: reproducible outputs, checked by the
//! real `unsquashfs`, `signify` and `pyspdxtools`; a bad pin leaves nothing behind.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::{host_bin, peer, run_in, run_in_env, workspace};

const EPOCH: &str = "1790000000";

/// Builds `recipe` into `out` with a private source cache.
fn build(dir: &Path, recipe: &Path, out: &str) -> common::Run {
    let cache = dir.join("cache");
    run_in_env(
        dir,
        &host_bin("nanolin"),
        &[
            "package",
            "build",
            recipe.to_str().unwrap(),
            "--target",
            "aarch64-unknown-linux-musl",
            "-s",
            "k.sec",
            "-o",
            out,
        ],
        &[
            ("SOURCE_DATE_EPOCH", EPOCH),
            ("NANOLIN_SOURCE_CACHE", cache.to_str().unwrap()),
        ],
    )
    .feed("")
}

fn outputs(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

fn with_ext<'a>(files: &'a [PathBuf], ext: &str) -> &'a Path {
    files
        .iter()
        .find(|f| f.to_str().unwrap().ends_with(ext))
        .unwrap_or_else(|| panic!("no {ext} among {files:?}"))
}

#[test]
fn hello_builds_reproducibly_and_peers_read_its_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::nanolin(d, &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"]).ok();
    let recipe = workspace().join("recipes/hello.rcp");
    build(d, &recipe, "one").ok();
    build(d, &recipe, "two").ok();
    let (one, two) = (outputs(&d.join("one")), outputs(&d.join("two")));
    assert_eq!(one.len(), 5, "{one:?}");
    let names = |v: &[PathBuf]| {
        v.iter()
            .map(|p| p.file_name().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&one), names(&two));
    // The release version of generation is in every name, from SOURCE_DATE_EPOCH.
    assert!(
        one.iter()
            .all(|p| p.to_str().unwrap().contains("hello-1.0-r26.09-G21141320")),
        "{one:?}"
    );
    for ext in [".img", ".lst", ".spdx.json", ".licenses.txt", ".img.sig"] {
        assert!(
            fs::read(with_ext(&one, ext)).unwrap() == fs::read(with_ext(&two, ext)).unwrap(),
            "{ext} differs between two builds"
        );
    }

    // unsquashfs lists exactly the paths of the .lst, with their modes, owned by root.
    let img = with_ext(&one, ".img");
    let listed = run_in(
        d,
        &peer("unsquashfs", "squashfs-tools"),
        &["-lls", img.to_str().unwrap()],
        "",
    )
    .ok()
    .stdout;
    let from_image: Vec<(String, String)> = listed
        .lines()
        .filter(|l| l.contains("squashfs-root"))
        .map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let path = fields
                .last()
                .unwrap()
                .trim_start_matches("squashfs-root")
                .to_string();
            (
                if path.is_empty() { "/".into() } else { path },
                format!("{} {}", fields[0], fields[1]),
            )
        })
        .collect();
    let list = fs::read_to_string(with_ext(&one, ".lst")).unwrap();
    let from_list: Vec<String> = list
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .collect();
    let image_paths: Vec<String> = from_image.iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(image_paths, from_list, "unsquashfs and the .lst disagree");
    assert!(
        from_image.iter().all(|(_, m)| m.ends_with("root/root")),
        "{from_image:?}"
    );
    assert!(list.contains("/usr/bin/hello\tf\t0755\t0:0\t"), "{list}");

    // signify checks the signature of the image.
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
            with_ext(&one, ".img.sig").to_str().unwrap(),
        ],
        "",
    )
    .ok();

    // The binary was cross-built for aarch64 in the sandbox and runs there.
    let unpacked = d.join("unpacked");
    run_in(
        d,
        &peer("unsquashfs", "squashfs-tools"),
        &[
            "-q",
            "-d",
            unpacked.to_str().unwrap(),
            img.to_str().unwrap(),
        ],
        "",
    )
    .ok();
    let qemu = peer("qemu-aarch64-static", "qemu-user-static");
    let ran = run_in(
        d,
        &qemu,
        &[unpacked.join("usr/bin/hello").to_str().unwrap()],
        "",
    )
    .ok();
    assert_eq!(ran.stdout, "hello from a Nanolin package\n");

    // The license report names the holder and the license, declared and detected agree.
    let report = fs::read_to_string(with_ext(&one, ".licenses.txt")).unwrap();
    assert!(
        report.contains("The Nanolin authors") && report.contains("MIT [declared]"),
        "{report}"
    );
    // pyspdxtools validates the SPDX document.
    if let Some(tool) = common::pyspdxtools() {
        run_in(
            d,
            &tool,
            &["-i", with_ext(&one, ".spdx.json").to_str().unwrap()],
            "",
        )
        .ok();
    }
}

#[test]
fn a_wrong_pin_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::nanolin(d, &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"]).ok();
    let recipes = d.join("recipes");
    fs::create_dir_all(recipes.join("hello")).unwrap();
    for f in ["hello/hello.c", "hello/LICENSE"] {
        fs::copy(workspace().join("recipes").join(f), recipes.join(f)).unwrap();
    }
    let text = fs::read_to_string(workspace().join("recipes/hello.rcp")).unwrap();
    let hash = text.split("sha256sums=\"").nth(1).unwrap()[..64].to_string();
    let last = if hash.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &hash[..63]);
    fs::write(recipes.join("hello.rcp"), text.replace(&hash, &wrong)).unwrap();
    let run = build(d, &recipes.join("hello.rcp"), "out");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("mismatch")
            && run.stderr.contains(&hash)
            && run.stderr.contains(&wrong),
        "{}",
        run.stderr
    );
    assert!(
        !d.join("out").exists() || outputs(&d.join("out")).is_empty(),
        "something was written"
    );
}

/// Each bad input is refused with a message naming it (exit 1), and nothing is written.
#[test]
fn bad_recipes_are_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::nanolin(d, &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"]).ok();
    let good = fs::read_to_string(workspace().join("recipes/hello.rcp")).unwrap();
    let cases: Vec<(&str, String, Option<String>, &str)> = vec![
        ("missing source", good.replace("hello/LICENSE", "hello/NOTICE"), None, "NOTICE"),
        ("syntax error", good.replace("name=hello", "name=hel lo"), None, "hello.rcp:2:"),
        ("unknown SPDX id", good.replace("license=MIT", "license=MITT"), None, "hello.rcp:7: license `MITT`"),
        (
            "dependency cycle",
            good.replace("depends=\"\"", "depends=\"other\"").replace("source=", "depends=other\nsource="),
            Some("name=other\nversion=1\nrelease=1\nlicense=MIT\ndepends=hello\npackage() {\n    true\n}\n".into()),
            "→",
        ),
    ];
    for (what, text, other, says) in cases {
        let case = d.join(what.replace(' ', "-"));
        fs::create_dir_all(case.join("hello")).unwrap();
        for f in ["hello/hello.c", "hello/LICENSE"] {
            fs::copy(workspace().join("recipes").join(f), case.join(f)).unwrap();
        }
        fs::write(case.join("hello.rcp"), text).unwrap();
        if let Some(other) = other {
            fs::write(case.join("other.rcp"), other).unwrap();
        }
        let out = case.join("out");
        let run = build(d, &case.join("hello.rcp"), out.to_str().unwrap());
        assert_eq!(run.code, 1, "{what}: exit {}\n{}", run.code, run.stderr);
        assert!(
            run.stderr.contains(says),
            "{what}: stderr lacks {says:?}:\n{}",
            run.stderr
        );
        assert!(
            !out.exists() || outputs(&out).is_empty(),
            "{what}: something was written"
        );
    }
}

/// A recipe whose build prints two lines a second apart, with hello's license.
fn slow_recipe(dir: &Path) -> PathBuf {
    let license = workspace().join("recipes/hello/LICENSE");
    fs::copy(&license, dir.join("LICENSE")).unwrap();
    let sum = run_in(dir, Path::new("sha256sum"), &["LICENSE"], "")
        .ok()
        .stdout;
    let sha = sum.split_whitespace().next().unwrap().to_string();
    let recipe = dir.join("slow.rcp");
    fs::write(
        &recipe,
        format!(
            "name=slow\nversion=1\nrelease=1\ndescription=\"Prints for a while\"\n\
             url=https://example.invalid/slow\nlicense=MIT\nsource=\"LICENSE\"\n\
             sha256sums=\"{sha}\"\n\
             build() {{\n    echo step one; sleep 1; printf '\\033[1mstep two\\033[0m\\n'; sleep 1\n}}\n\
             package() {{\n    mkdir -p \"$DESTDIR/usr/share/licenses/slow\"\n    \
             install -m 0644 LICENSE \"$DESTDIR/usr/share/licenses/slow/\"\n}}\n"
        ),
    )
    .unwrap();
    recipe
}

#[test]
fn build_progress_is_redrawn_in_place_on_a_terminal_and_plain_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    common::nanolin(d, &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"]).ok();
    slow_recipe(d);
    // On a terminal (script gives one): the status line is redrawn in place with the time
    // and the build's last line, escape sequences of its own removed, then erased.
    let command = format!(
        "{} package build slow.rcp --target aarch64-unknown-linux-musl -s k.sec -o tty",
        host_bin("nanolin").display()
    );
    let tty = run_in_env(
        d,
        &peer("script", "bsdutils"),
        &["-qec", &command, "/dev/null"],
        &[("NANOLIN_SOURCE_CACHE", d.join("cache").to_str().unwrap())],
    )
    .feed("")
    .ok()
    .stdout;
    assert!(
        tty.contains("\r\x1b[K    slow: building 0s: step one"),
        "{tty:?}"
    );
    assert!(tty.contains("s: step two\r\x1b[K"), "{tty:?}");
    assert!(tty.contains("\r\x1b[K    slow: built in "), "{tty:?}");
    assert!(
        !tty.contains("\x1b[1m"),
        "the build's own escapes leak: {tty:?}"
    );
    // Elsewhere: no escapes, one line for the build's end.
    let plain = build(d, &d.join("slow.rcp"), "plain").ok().stderr;
    assert!(
        !plain.contains('\x1b') && !plain.contains('\r'),
        "{plain:?}"
    );
    assert!(plain.contains("\n    slow: built in "), "{plain}");
}
