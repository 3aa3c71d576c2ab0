//! `nanolin repo`: repositories made, filled, indexed, published, promoted and checked by the
//! real binary; their signatures checked by signify; served by nginx on 127.0.0.1 to
//! `nanolin-agent poll`, which installs what a channel offers and refuses a replayed or an
//! expired channel file.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::nginx::Nginx;
use common::{host_bin, peer, run_in, run_in_env, signify, Run};

/// The signing time of the reproducible runs: 2026-11-18 11:06:40 UTC.
const EPOCH: &str = "1795000000";
const BOARD: &str = "test-board";
const V1: &str = "r26.11-G22000001";
const V2: &str = "r26.11-G22000002";
const V3: &str = "r26.11-G22000003";
const PACKAGE: &str = "hello-1.0-r26.11-G22134501";
const SLOT_LEN: usize = 1024 * 1024;
const IMAGE_LEN: usize = 300 * 1024 + 17;

/// xorshift: repeatable test data.
fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A working directory with keys `k` (the repository's) and `other`, and `out/` for
/// artifacts; the repository goes to `repo/`.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Work {
        let work = Work {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::create_dir(work.path("out")).unwrap();
        for key in ["k", "other"] {
            work.nanolin(&[
                "key",
                "generate",
                "-n",
                "-p",
                &format!("{key}.pub"),
                "-s",
                &format!("{key}.sec"),
            ])
            .ok();
        }
        work
    }

    /// Another working directory with the same keys.
    fn with_keys_of(other: &Work) -> Work {
        let work = Work {
            dir: tempfile::tempdir().unwrap(),
        };
        fs::create_dir(work.path("out")).unwrap();
        for name in ["k.pub", "k.sec", "other.pub", "other.sec"] {
            fs::copy(other.path(name), work.path(name)).unwrap();
        }
        work
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn nanolin(&self, args: &[&str]) -> Run {
        run_in(self.dir.path(), &host_bin("nanolin"), args, "")
    }

    /// `nanolin ARGS` at the fixed signing time.
    fn fixed(&self, args: &[&str]) -> Run {
        run_in_env(
            self.dir.path(),
            &host_bin("nanolin"),
            args,
            &[("SOURCE_DATE_EPOCH", EPOCH)],
        )
        .feed("")
    }

    /// A package's outputs in `out/`, the image signed with `key`, and its recipe.
    fn package(&self, base: &str, key: &str) {
        fs::write(
            self.path(&format!("out/{base}.img")),
            format!("squashfs of {base}").repeat(50),
        )
        .unwrap();
        for (suffix, text) in [
            (".lst", "/\td\t0755\t0:0\t-\t-\t-\n"),
            (".licenses.txt", "hello 1.0: MIT\n"),
            (".spdx.json", "{\"spdxVersion\": \"SPDX-2.3\"}\n"),
        ] {
            fs::write(self.path(&format!("out/{base}{suffix}")), text).unwrap();
        }
        fs::write(
            self.path("out/hello.rcp"),
            "name=hello\nversion=1.0\nrelease=1\nlicense=MIT\npackage() {\n    true\n}\n",
        )
        .unwrap();
        self.fixed(&["sign", "-s", key, &format!("out/{base}.img")])
            .ok();
    }

    /// `out/NAME.nlb` for the test board at `version`, of an image made from `seed`.
    fn bundle(&self, name: &str, version: &str, seed: u64) -> Vec<u8> {
        let image = pattern(seed, IMAGE_LEN);
        let image_path = format!("out/{name}.rootfs");
        fs::write(self.path(&image_path), &image).unwrap();
        self.fixed(&[
            "bundle",
            "create",
            "-b",
            BOARD,
            "--version",
            version,
            "-i",
            &image_path,
            "--chunk-size",
            "16384",
            "-s",
            "k.sec",
            "-o",
            &format!("out/{name}.nlb"),
        ])
        .ok();
        image
    }

    /// The key number of `KEY.pub`.
    fn key_number(&self, key: &str) -> String {
        nanolin_host::keyfile::load_public_key(&self.path(key))
            .unwrap()
            .key_number
            .to_string()
    }

    /// A repository made at the fixed time: the package and its recipe, the bundle r2 with a
    /// disk image and its block map, indexed again, r2 published to `testing`.
    fn filled_repository(&self) {
        self.package(PACKAGE, "k.sec");
        self.bundle("r2", V2, 2);
        fs::write(self.path("out/disk.img"), pattern(9, 8192)).unwrap();
        fs::write(self.path("out/disk.bmap"), "<bmap version=\"2.0\"/>\n").unwrap();
        let lifetime = ["--expires", "3650d", "-s", "k.sec"];
        let run = |args: &[&str]| {
            let all: Vec<&str> = args.iter().chain(&lifetime).copied().collect();
            self.fixed(&all).ok()
        };
        run(&["repo", "init", "repo"]);
        run(&[
            "repo",
            "add",
            "repo",
            &format!("out/{PACKAGE}.img"),
            "out/hello.rcp",
        ]);
        run(&[
            "repo",
            "add",
            "repo",
            "out/r2.nlb",
            "out/disk.img",
            "out/disk.bmap",
        ]);
        run(&["repo", "index", "repo"]);
        run(&[
            "repo",
            "publish",
            "repo",
            "repo/releases/test-board/r2.nlb",
            "--channel",
            "testing",
        ]);
    }
}

fn sha256_hex(path: &Path) -> String {
    nanolin_host::repo::hex(&nanolin_host::repo::sha256_file(path).unwrap().1)
}

/// The files of the repository, every byte, sorted by path.
fn tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let name = path.strip_prefix(root).unwrap().display().to_string();
                files.push((name, fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn init_add_index_publish_check_round_trip_reproducibly() {
    let a = Work::new();
    a.filled_repository();
    // Every file where it belongs.
    let names: Vec<String> = tree(&a.path("repo")).into_iter().map(|f| f.0).collect();
    let expected = [
        "channels/test-board/testing".to_string(),
        "channels/test-board/testing.sig".into(),
        "index".into(),
        "index.sig".into(),
        "manifest.tgz".into(),
        "packages.tgz".into(),
        format!("packages/{PACKAGE}.img"),
        format!("packages/{PACKAGE}.img.sig"),
        format!("packages/{PACKAGE}.licenses.txt"),
        format!("packages/{PACKAGE}.lst"),
        format!("packages/{PACKAGE}.rcp"),
        format!("packages/{PACKAGE}.spdx.json"),
        "releases/test-board/disk.bmap".into(),
        "releases/test-board/disk.img".into(),
        "releases/test-board/r2.nlb".into(),
        "signature.pub".into(),
    ];
    assert_eq!(names, expected);
    assert_eq!(a.key_number("repo/signature.pub"), a.key_number("k.pub"));

    // The index: version 4 (init, two adds, index), the fixed time, every file.
    let index = String::from_utf8(a.read("repo/index")).unwrap();
    let bundle = a.path("repo/releases/test-board/r2.nlb");
    let bundle_len = fs::metadata(&bundle).unwrap().len();
    assert!(
        index.starts_with(&format!(
            "# nanolin repository index: every artifact with its size and SHA-256; index.sig signs it\n\
             format=1\nversion=4\ncreated={EPOCH}\nexpires={}\nfile=\"manifest.tgz ",
            1_795_000_000u64 + 3650 * 86_400
        )),
        "{index}"
    );
    assert!(
        index.contains(&format!(
            "\nfile=\"releases/test-board/r2.nlb {bundle_len} {}\"\n",
            sha256_hex(&bundle)
        )),
        "{index}"
    );
    assert_eq!(index.matches("\nfile=").count(), 11, "{index}");

    // The channel file, as the agent reads it.
    let channel = String::from_utf8(a.read("repo/channels/test-board/testing")).unwrap();
    assert_eq!(
        channel,
        format!(
            "board=test-board\nchannel=testing\nversion={V2}\nbundle=releases/test-board/r2.nlb\nsize={bundle_len}\nexpires={}\n",
            1_795_000_000u64 + 3650 * 86_400
        )
    );
    let parsed = nanolin_agent::channel::Channel::parse(&channel).unwrap();
    assert_eq!(parsed.to_text(), channel);
    // Its signature is the one `nanolin sign` writes for it.
    a.fixed(&[
        "sign",
        "-s",
        "k.sec",
        "-x",
        "channel.sig",
        "repo/channels/test-board/testing",
    ])
    .ok();
    assert_eq!(
        a.read("channel.sig"),
        a.read("repo/channels/test-board/testing.sig")
    );

    // signify accepts the index, the channel and the package with signature.pub.
    for (signed, sig) in [
        ("repo/index", "repo/index.sig"),
        (
            "repo/channels/test-board/testing",
            "repo/channels/test-board/testing.sig",
        ),
        (
            &format!("repo/packages/{PACKAGE}.img"),
            &format!("repo/packages/{PACKAGE}.img.sig"),
        ),
    ] {
        run_in(
            a.dir.path(),
            &signify(),
            &["-V", "-p", "repo/signature.pub", "-x", sig, "-m", signed],
            "",
        )
        .ok();
    }

    // The archives: the recipe, and the file list.
    for (archive, member) in [
        ("repo/packages.tgz", format!("packages/{PACKAGE}.rcp")),
        ("repo/manifest.tgz", format!("packages/{PACKAGE}.lst")),
    ] {
        let run = run_in(a.dir.path(), &peer("tar", "tar"), &["-tzf", archive], "").ok();
        assert_eq!(run.stdout, format!("{member}\n"));
    }

    // check: all good.
    let run = a.nanolin(&["repo", "check", "repo"]).ok();
    assert_eq!(
        run.stdout,
        "repo: good: index version 4 (expires 2036-11-15 11:06:40 UTC), 11 files, 1 channels\n"
    );
    a.nanolin(&["repo", "check", "repo", "-p", "k.pub"]).ok();

    // The same steps elsewhere, with the same keys and time: the same bytes, every file.
    let b = Work::with_keys_of(&a);
    b.filled_repository();
    let (ta, tb) = (tree(&a.path("repo")), tree(&b.path("repo")));
    for ((name, x), (_, y)) in ta.iter().zip(&tb) {
        assert!(x == y, "{name} differs between two runs");
    }
    assert_eq!(ta.len(), tb.len());
}

#[test]
fn refusals_name_the_fault() {
    let w = Work::new();
    w.filled_repository();
    let (k, other) = (w.key_number("k.pub"), w.key_number("other.pub"));
    // The same artifacts again: nothing changes but the index version.
    let run = w
        .nanolin(&["repo", "add", "repo", "out/r2.nlb", "-s", "k.sec"])
        .ok();
    assert!(
        run.stderr.contains("r2.nlb: already there"),
        "{}",
        run.stderr
    );
    // Other bytes under a name the repository has: refused.
    fs::write(w.path("out/disk.img"), "another disk").unwrap();
    w.nanolin(&[
        "repo",
        "add",
        "repo",
        "out/r2.nlb",
        "out/disk.img",
        "out/disk.bmap",
        "-s",
        "k.sec",
    ])
    .code(1)
    .says("versions are immutable");
    // A package signed by another key: both key numbers named, nothing copied.
    w.package("bye-2-r26.11-G22134502", "other.sec");
    w.nanolin(&[
        "repo",
        "add",
        "repo",
        "out/bye-2-r26.11-G22134502.img",
        "-s",
        "k.sec",
    ])
    .code(1)
    .says(&format!(
        "signed by key {other}, but the repository trusts key {k}"
    ));
    assert!(!w.path("repo/packages/bye-2-r26.11-G22134502.img").exists());
    // Signing the repository with another key.
    w.nanolin(&["repo", "index", "repo", "-s", "other.sec"])
        .code(1)
        .says(&format!(
            "other.sec is key {other}, but the repository trusts key {k}"
        ));
    // Not a repository; a directory with other files; an unknown artifact.
    w.nanolin(&["repo", "index", "out", "-s", "k.sec"])
        .code(2)
        .says("out is not a repository");
    w.nanolin(&["repo", "init", "out", "-s", "k.sec"])
        .code(1)
        .says("holds files but is not a repository");
    w.nanolin(&["repo", "add", "repo", "k.pub", "-s", "k.sec"])
        .code(2)
        .says("not a repository artifact");
    // init on the repository itself: nothing to do.
    w.nanolin(&["repo", "init", "repo", "-s", "k.sec"])
        .ok()
        .says("already a repository");
    w.nanolin(&["repo", "check", "repo"]).ok();
}

#[test]
fn check_reports_tampering_an_edited_index_and_expiry() {
    let w = Work::new();
    w.filled_repository();
    let image = format!("repo/packages/{PACKAGE}.img");
    let original = w.read(&image);
    let expected = sha256_hex(&w.path(&image));
    let mut flipped = original.clone();
    flipped[100] ^= 0x01;
    fs::write(w.path(&image), &flipped).unwrap();
    let got = sha256_hex(&w.path(&image));
    let run = w.nanolin(&["repo", "check", "repo"]).code(1);
    let run = run.says(&format!(
        "{image}: tampered: the index says sha256 {expected}, the file has {got}"
    ));
    run.says("repository repo: 2 problems");
    fs::write(w.path(&image), &original).unwrap();
    w.nanolin(&["repo", "check", "repo"]).ok();

    // An edited index: its signature no longer holds.
    let index = w.read("repo/index");
    let text = String::from_utf8(index.clone()).unwrap();
    fs::write(
        w.path("repo/index"),
        text.replacen("expires=2", "expires=3", 1),
    )
    .unwrap();
    w.nanolin(&["repo", "check", "repo"])
        .code(1)
        .says("repo/index: ")
        .says("the signature does not hold");
    fs::write(w.path("repo/index"), &index).unwrap();

    // A file put in by hand is not listed.
    fs::write(w.path("repo/releases/test-board/extra.nlb"), "x").unwrap();
    w.nanolin(&["repo", "check", "repo"])
        .code(1)
        .says("repo/releases/test-board/extra.nlb: not in the index");
    fs::remove_file(w.path("repo/releases/test-board/extra.nlb")).unwrap();

    // Checked with another key.
    let other = w.key_number("other.pub");
    w.nanolin(&["repo", "check", "repo", "-p", "other.pub"])
        .code(1)
        .says(&format!("not the trusted key {other}"));

    // An index made long ago, valid one day: expired, and said so.
    run_in_env(
        w.dir.path(),
        &host_bin("nanolin"),
        &["repo", "index", "repo", "--expires", "1d", "-s", "k.sec"],
        &[("SOURCE_DATE_EPOCH", "1000000000")],
    )
    .feed("")
    .ok();
    w.nanolin(&["repo", "check", "repo"]).code(1).says(
        "repo/index: expired at 2001-09-10 01:46:40 UTC (version 5, made 2001-09-09 01:46:40 UTC)",
    );
}

#[test]
fn publish_and_promote_never_go_back() {
    let w = Work::new();
    for (name, version, seed) in [("r1", V1, 1), ("r2", V2, 2), ("r3", V3, 3)] {
        w.bundle(name, version, seed);
    }
    w.nanolin(&["repo", "init", "repo", "-s", "k.sec"]).ok();
    w.nanolin(&[
        "repo",
        "add",
        "repo",
        "out/r1.nlb",
        "out/r2.nlb",
        "--channel",
        "testing",
        "-s",
        "k.sec",
    ])
    .ok()
    .says(&format!("channels/test-board/testing: {V2}"));
    // Older than testing's r2: refused, both versions said, the channel left as it was.
    let before = w.read("repo/channels/test-board/testing");
    w.nanolin(&[
        "repo",
        "publish",
        "repo",
        "out/r1.nlb",
        "--channel",
        "testing",
        "-s",
        "k.sec",
    ])
    .code(1)
    .says(&format!(
        "names {V2}: refusing to go back to the older {V1} (rollback)"
    ));
    assert_eq!(w.read("repo/channels/test-board/testing"), before);
    // Promote testing to stable; stable moves on to r3 (added by publish); promoting r2 again
    // is refused.
    w.nanolin(&[
        "repo", "promote", "repo", "--board", BOARD, "--from", "testing", "--to", "stable", "-s",
        "k.sec",
    ])
    .ok()
    .says(&format!("channels/test-board/stable: {V2}"));
    w.nanolin(&[
        "repo",
        "publish",
        "repo",
        "out/r3.nlb",
        "-c",
        "stable",
        "-s",
        "k.sec",
    ])
    .ok()
    .says(&format!("channels/test-board/stable: {V3}"))
    .says(&format!("was {V2}"));
    assert!(w.path("repo/releases/test-board/r3.nlb").exists());
    let stable = w.read("repo/channels/test-board/stable");
    w.nanolin(&[
        "repo", "promote", "repo", "--board", BOARD, "--from", "testing", "--to", "stable", "-s",
        "k.sec",
    ])
    .code(1)
    .says(&format!(
        "names {V3}: refusing to go back to the older {V2} (rollback)"
    ));
    assert_eq!(w.read("repo/channels/test-board/stable"), stable);
    // add --channel refuses before copying anything.
    w.bundle("r1b", V1, 4);
    w.nanolin(&[
        "repo",
        "add",
        "repo",
        "out/r1b.nlb",
        "--channel",
        "stable",
        "-s",
        "k.sec",
    ])
    .code(1)
    .says("rollback");
    assert!(!w.path("repo/releases/test-board/r1b.nlb").exists());
    // From a channel that does not exist.
    w.nanolin(&[
        "repo", "promote", "repo", "--board", BOARD, "--from", "nightly", "--to", "stable", "-s",
        "k.sec",
    ])
    .code(1)
    .says("nightly does not exist");
    w.nanolin(&["repo", "check", "repo"]).ok();
}

/// The board of `agent_install.rs`, made of files, polling the repository through nginx.
#[test]
fn the_agent_installs_from_a_published_channel_and_refuses_replays_and_expiry() {
    let w = Work::new();
    let d = w.dir.path().display().to_string();
    fs::write(w.path("slot_a"), vec![0u8; SLOT_LEN]).unwrap();
    fs::write(w.path("slot_b"), pattern(77, SLOT_LEN)).unwrap();
    fs::write(w.path("bootrecord"), vec![0u8; 1024]).unwrap();
    let images: Vec<Vec<u8>> = [("r1", V1, 1), ("r2", V2, 2), ("r3", V3, 3)]
        .iter()
        .map(|(name, version, seed)| w.bundle(name, version, *seed))
        .collect();
    w.nanolin(&["repo", "init", "repo", "-s", "k.sec"]).ok();
    let nginx = Nginx::start(&w.path("repo"));
    fs::write(
        w.path("agent.conf"),
        format!(
            "compatible={BOARD}\nslot_a={d}/slot_a\nslot_b={d}/slot_b\nbooted=A\n\
             keys={d}/repo/signature.pub\nstate_dir={d}/state\ntries=3\n\
             bootstate=native\nbootstate_path={d}/bootrecord\n\
             repository={}\nchannel=stable\n",
            nginx.url("").trim_end_matches('/')
        ),
    )
    .unwrap();
    let agent = |args: &[&str]| {
        let mut all = vec!["-c", "agent.conf"];
        all.extend_from_slice(args);
        run_in(w.dir.path(), &host_bin("nanolin-agent"), &all, "")
    };
    let publish = |bundle: &str, env: &[(&str, &str)], extra: &[&str]| {
        let mut args = vec![
            "repo", "publish", "repo", bundle, "-c", "stable", "-s", "k.sec",
        ];
        args.extend_from_slice(extra);
        run_in_env(w.dir.path(), &host_bin("nanolin"), &args, env)
            .feed("")
            .ok();
    };
    // r1, then r2: the agent installs r2 into slot B.
    publish("out/r1.nlb", &[], &[]);
    let old_channel = w.read("repo/channels/test-board/stable");
    let old_sig = w.read("repo/channels/test-board/stable.sig");
    publish("out/r2.nlb", &[], &[]);
    let run = agent(&["poll"]).ok();
    assert!(
        run.stdout.contains(&format!("installed {V2} into slot B")),
        "{}",
        run.stdout
    );
    assert!(w.read("slot_b")[..IMAGE_LEN] == images[1][..]);
    // The r1 channel file, validly signed, replayed over r2's: refused.
    fs::write(w.path("repo/channels/test-board/stable"), &old_channel).unwrap();
    fs::write(w.path("repo/channels/test-board/stable.sig"), &old_sig).unwrap();
    agent(&["poll"]).code(1).says("seen before");
    // r3 in a channel file that expired long ago: refused.
    publish(
        "out/r3.nlb",
        &[("SOURCE_DATE_EPOCH", "1000000000")],
        &["--expires", "1d"],
    );
    agent(&["poll"])
        .code(1)
        .says("refusing the channel file: it expired");
    // `repo check` says so too.
    w.nanolin(&["repo", "check", "repo"])
        .code(1)
        .says("channels/test-board/stable: expired at 2001-09-10 01:46:40 UTC");
    // Published again, fresh (and the index, which that publish renewed for a day of 2001):
    // installed.
    publish("out/r3.nlb", &[], &[]);
    w.nanolin(&["repo", "index", "repo", "-s", "k.sec"]).ok();
    let run = agent(&["poll"]).ok();
    assert!(
        run.stdout.contains(&format!("installed {V3} into slot B")),
        "{}",
        run.stdout
    );
    assert!(w.read("slot_b")[..IMAGE_LEN] == images[2][..]);
    w.nanolin(&["repo", "check", "repo"]).ok();
}
