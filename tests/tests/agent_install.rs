//! `nanolin-agent` on a board made of files: installs of bundles made by `nanolin bundle
//! create`, the boot state read and written by the real `fw_printenv`/`fw_setenv` and
//! `grub-editenv`, refusals that leave the slot untouched, downloads from nginx on 127.0.0.1
//! (cut and resumed, and as a delta), and channel polling.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use common::nginx::Nginx;
use common::{host_bin, nanolin, peer, run_in, Run};

const SLOT_LEN: usize = 4 * 1024 * 1024;
const IMAGE_LEN: usize = 3 * 1024 * 1024 + 4321;

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

/// A board whose slots and boot state are files in a temporary directory.
struct Board {
    dir: tempfile::TempDir,
}

impl Board {
    /// A board with `bootstate` lines, booted from `booted`; keys `k.pub`/`k.sec` made.
    fn new(bootstate: &str) -> Board {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::write(d.join("slot_a"), vec![0u8; SLOT_LEN]).unwrap();
        fs::write(d.join("slot_b"), pattern(77, SLOT_LEN)).unwrap();
        fs::write(d.join("bootrecord"), vec![0u8; 1024]).unwrap();
        nanolin(d, &["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"]).ok();
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
        let board = Board { dir };
        board.configure(bootstate, "A", "");
        board
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn configure(&self, bootstate: &str, booted: &str, extra: &str) {
        let d = self.dir.path().display();
        fs::write(
            self.path("agent.conf"),
            format!(
                "compatible=test-board\nslot_a={d}/slot_a\nslot_b={d}/slot_b\nbooted={booted}\nkeys={d}/k.pub\nstate_dir={d}/state\ntries=3\n{bootstate}\n{extra}"
            ),
        )
        .unwrap();
    }

    /// Configures the native boot record (`bootrecord`, all zeros: a board never set up).
    fn native(&self, booted: &str, extra: &str) {
        let record = self.path("bootrecord");
        self.configure(
            &format!("bootstate=native\nbootstate_path={}", record.display()),
            booted,
            extra,
        );
    }

    fn agent(&self, args: &[&str]) -> Run {
        let mut all = vec!["-c", "agent.conf"];
        all.extend_from_slice(args);
        run_in(self.dir.path(), &host_bin("nanolin-agent"), &all, "")
    }

    /// Writes `image` as `name` and bundles it.
    fn bundle(&self, name: &str, version: &str, image: &[u8], extra: &[&str]) -> PathBuf {
        let image_name = format!("{name}.img");
        fs::write(self.path(&image_name), image).unwrap();
        let out = format!("{name}.nlb");
        let mut args = vec![
            "bundle",
            "create",
            "-b",
            "test-board",
            "--version",
            version,
            "-i",
            &image_name,
            "--chunk-size",
            "16384",
            "-s",
            "k.sec",
            "-o",
            &out,
        ];
        args.extend_from_slice(extra);
        nanolin(self.dir.path(), &args).ok();
        self.path(&out)
    }

    fn slot(&self, name: &str) -> Vec<u8> {
        fs::read(self.path(name)).unwrap()
    }

    fn status_json(&self) -> String {
        self.agent(&["status", "--json"]).ok().stdout
    }
}

fn image(seed: u64) -> Vec<u8> {
    pattern(seed, IMAGE_LEN)
}

#[track_caller]
fn assert_holds(slot: &[u8], image: &[u8]) {
    assert!(
        slot[..image.len()] == image[..],
        "the slot does not hold the image"
    );
}

fn fw_config(board: &Board, redundant: bool) -> String {
    let env = board.path("env");
    fs::write(&env, vec![0u8; 0x8000]).unwrap();
    let config = if redundant {
        format!("{0} 0x0 0x4000\n{0} 0x4000 0x4000\n", env.display())
    } else {
        format!("{} 0x0 0x4000\n", env.display())
    };
    fs::write(board.path("fw_env.config"), config).unwrap();
    let mut lines = format!(
        "bootstate=uboot\nuboot_env='{} 0x0 0x4000'\n",
        env.display()
    );
    if redundant {
        lines.push_str(&format!(
            "uboot_env_redundant='{} 0x4000 0x4000'\n",
            env.display()
        ));
    }
    lines
}

fn fw(board: &Board, tool: &str, args: &[&str]) -> Run {
    let mut all = vec!["-c", "fw_env.config"];
    all.extend_from_slice(args);
    run_in(board.dir.path(), &peer(tool, "u-boot-tools"), &all, "")
}

#[test]
fn uboot_environment_both_ways_with_fw_printenv_and_fw_setenv() {
    for redundant in [true, false] {
        let board = Board::new("");
        let lines = fw_config(&board, redundant);
        board.configure(&lines, "A", "");
        let image = image(1);
        let bundle = board.bundle("r1", "r26.11-G22000001", &image, &[]);
        let run = board.agent(&["install", bundle.to_str().unwrap()]).ok();
        assert!(
            run.stdout
                .contains("installed r26.11-G22000001 into slot B"),
            "{}",
            run.stdout
        );
        assert_holds(&board.slot("slot_b"), &image);

        // What the agent wrote, U-Boot's tools read.
        let printed = fw(&board, "fw_printenv", &[]).ok().stdout;
        for line in ["BOOT_ORDER=B A", "BOOT_B_LEFT=3", "BOOT_A_LEFT=3"] {
            assert!(
                printed.lines().any(|l| l == line),
                "redundant={redundant}: fw_printenv lacks {line}:\n{printed}"
            );
        }
        // What U-Boot's tools write (the bootloader taking a try), the agent reads.
        fw(&board, "fw_setenv", &["BOOT_B_LEFT", "1"]).ok();
        fw(&board, "fw_setenv", &["bootdelay", "5"]).ok();
        let json = board.status_json();
        assert!(
            json.contains(
                r#""B":{"version":"r26.11-G22000001","state":"installed","tries_left":1"#
            ),
            "{json}"
        );
        // mark-bad keeps the variables it does not own.
        board.agent(&["mark-bad", "B"]).ok();
        let printed = fw(&board, "fw_printenv", &[]).ok().stdout;
        assert!(
            printed.contains("BOOT_B_LEFT=0") && printed.contains("bootdelay=5"),
            "{printed}"
        );
    }
}

#[test]
fn grub_environment_both_ways_with_grub_editenv() {
    let board = Board::new("");
    let grubenv = board.path("grubenv");
    board.configure(
        &format!("bootstate=grub\nbootstate_path={}", grubenv.display()),
        "A",
        "",
    );
    let editenv = peer("grub-editenv", "grub-common");
    let grub = |args: &[&str]| {
        let mut all = vec![grubenv.to_str().unwrap()];
        all.extend_from_slice(args);
        run_in(board.dir.path(), &editenv, &all, "").ok()
    };
    grub(&["create"]);
    grub(&["set", "saved_entry=nanolin"]);
    let image = image(2);
    let bundle = board.bundle("r1", "r26.11-G22000001", &image, &[]);
    board.agent(&["install", bundle.to_str().unwrap()]).ok();
    let listed = grub(&["list"]).stdout;
    for line in [
        "BOOT_ORDER=B A",
        "BOOT_A_LEFT=3",
        "BOOT_B_LEFT=3",
        "saved_entry=nanolin",
    ] {
        assert!(
            listed.lines().any(|l| l == line),
            "grub-editenv list lacks {line}:\n{listed}"
        );
    }
    assert_eq!(fs::metadata(&grubenv).unwrap().len(), 1024);
    grub(&["set", "BOOT_B_LEFT=2"]);
    assert!(board.status_json().contains(r#""tries_left":2"#));
    board.agent(&["mark-good", "B"]).ok();
    assert!(grub(&["list"]).stdout.lines().any(|l| l == "BOOT_B_LEFT=3"));
}

#[test]
fn native_record_install_mark_and_status() {
    let board = Board::new("");
    board.native("A", "");
    let image = image(3);
    let bundle = board.bundle("r1", "r26.11-G22000001", &image, &[]);
    board.agent(&["install", bundle.to_str().unwrap()]).ok();
    let json = board.status_json();
    assert!(
        json.contains(r#""boot_order":"B A""#) && json.contains(r#""next_boot":"B""#),
        "{json}"
    );
    // The board reboots into B, and its health check passes.
    board.native("B", "");
    board.agent(&["mark-good"]).ok();
    let status = board.agent(&["status"]).ok().stdout;
    assert!(
        status.contains("slot B:     r26.11-G22000001 good, 3 tries left, booted"),
        "{status}"
    );
}

/// Each refusal leaves the target slot's bytes as they were.
#[test]
fn refusals_leave_the_slot_untouched() {
    let board = Board::new("");
    let record = board.path("bootrecord");
    board.native("A", "");
    let image2 = image(4);
    let good = board.bundle("r2", "r26.11-G22000002", &image2, &[]);
    let good_bytes = fs::read(&good).unwrap();
    let header_manifest_len = u32::from_le_bytes(good_bytes[12..16].try_into().unwrap()) as usize;
    let signature_len = u32::from_le_bytes(good_bytes[16..20].try_into().unwrap()) as usize;
    let payload = 32 + header_manifest_len + signature_len;

    let variant = |name: &str, change: &dyn Fn(&mut Vec<u8>)| {
        let mut bytes = good_bytes.clone();
        change(&mut bytes);
        let path = board.path(name);
        fs::write(&path, bytes).unwrap();
        path
    };
    let flip = |at: usize| move |b: &mut Vec<u8>| b[at] ^= 0x01;
    // A base64 letter of the signature line swapped for another valid one.
    let sig_at = {
        let sig = &good_bytes[32 + header_manifest_len..payload];
        let line2 = sig.iter().position(|&c| c == b'\n').unwrap() + 20;
        32 + header_manifest_len + line2
    };
    let mut cases: Vec<(String, PathBuf, &str)> = vec![
        (
            "payload byte flipped (last chunk)".into(),
            variant("p1.nlb", &flip(good_bytes.len() - 10)),
            "does not match its hash",
        ),
        (
            "payload byte flipped (a table)".into(),
            variant("p2.nlb", &flip(payload + 5)),
            "chunk table block 0",
        ),
        (
            "manifest byte flipped".into(),
            variant("m.nlb", &flip(32 + 20)),
            "signature",
        ),
        (
            "signature letter changed".into(),
            variant("s.nlb", &|b: &mut Vec<u8>| {
                b[sig_at] = if b[sig_at] == b'A' { b'B' } else { b'A' }
            }),
            "signature",
        ),
        (
            "truncated".into(),
            variant("t.nlb", &|b: &mut Vec<u8>| b.truncate(b.len() - 1000)),
            "truncated",
        ),
        (
            "bytes appended".into(),
            variant("l.nlb", &|b: &mut Vec<u8>| b.extend_from_slice(b"more")),
            "bytes were appended",
        ),
        (
            "header only".into(),
            variant("h.nlb", &|b: &mut Vec<u8>| b.truncate(40)),
            "truncated",
        ),
    ];
    let other_key = {
        fs::write(board.path("x.img"), &image2).unwrap();
        nanolin(
            board.dir.path(),
            &[
                "bundle",
                "create",
                "-b",
                "test-board",
                "--version",
                "r26.11-G22000002",
                "-i",
                "x.img",
                "-s",
                "other.sec",
                "-o",
                "x.nlb",
            ],
        )
        .ok();
        board.path("x.nlb")
    };
    cases.push((
        "signed by an untrusted key".into(),
        other_key,
        "not among the trusted keys",
    ));
    let wrong_board = {
        nanolin(
            board.dir.path(),
            &[
                "bundle",
                "create",
                "-b",
                "other-board",
                "--version",
                "r26.11-G22000002",
                "-i",
                "x.img",
                "-s",
                "k.sec",
                "-o",
                "w.nlb",
            ],
        )
        .ok();
        board.path("w.nlb")
    };
    cases.push((
        "for another board".into(),
        wrong_board,
        "refusing bundle for board other-board: this board is test-board",
    ));
    let expired = {
        let run = common::run_in_env(
            board.dir.path(),
            &host_bin("nanolin"),
            &[
                "bundle",
                "create",
                "-b",
                "test-board",
                "--version",
                "r26.11-G22000002",
                "-i",
                "x.img",
                "--expires",
                "1h",
                "-s",
                "k.sec",
                "-o",
                "e.nlb",
            ],
            &[("SOURCE_DATE_EPOCH", "1700000000")],
        );
        run.ok();
        board.path("e.nlb")
    };
    cases.push(("expired".into(), expired, "expired"));

    for (what, bundle, says) in &cases {
        let before_b = board.slot("slot_b");
        let before_record = fs::read(&record).unwrap();
        let run = board.agent(&["install", bundle.to_str().unwrap()]);
        assert_eq!(
            run.code, 1,
            "{what}: exit code {}\n{}",
            run.code, run.stderr
        );
        assert!(
            run.stderr.contains(says),
            "{what}: stderr lacks {says:?}:\n{}",
            run.stderr
        );
        assert!(board.slot("slot_b") == before_b, "{what}: slot B changed");
        assert!(
            fs::read(&record).unwrap() == before_record,
            "{what}: the boot state changed"
        );
    }

    // The good bundle installs; the board reboots into B; then older releases are refused.
    board.agent(&["install", good.to_str().unwrap()]).ok();
    board.native("B", "");
    board.agent(&["mark-good"]).ok();
    let image1 = image(5);
    let older = board.bundle("r1", "r26.11-G22000001", &image1, &[]);
    let before_a = board.slot("slot_a");
    board
        .agent(&["install", older.to_str().unwrap()])
        .code(1)
        .says("refusing release r26.11-G22000001: the board runs r26.11-G22000002");
    assert!(
        board.slot("slot_a") == before_a,
        "older release: slot A changed"
    );
    // A newer release sets a floor; a downgrade below it is refused even when allowed.
    let image3 = image(6);
    let r3 = board.bundle(
        "r3",
        "r26.11-G22000003",
        &image3,
        &["--min-version", "r26.11-G22000003"],
    );
    board.agent(&["install", r3.to_str().unwrap()]).ok();
    board.native("A", "");
    board.agent(&["mark-good"]).ok();
    let before_b = board.slot("slot_b");
    board
        .agent(&["install", "--allow-downgrade", older.to_str().unwrap()])
        .code(1)
        .says("minimum version r26.11-G22000003");
    assert!(
        board.slot("slot_b") == before_b,
        "below the floor: slot B changed"
    );
}

/// A proxy on 127.0.0.1 that passes every connection through to `upstream`, except the
/// `cut_at`-th (from 0), whose answer it cuts after `limit` bytes.
fn cutting_proxy(upstream: u16, cut_at: usize, limit: usize) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let n = seen.fetch_add(1, Ordering::SeqCst);
            let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                return;
            };
            let (mut from_client, mut to_server) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            thread::spawn(move || {
                let _ = std::io::copy(&mut from_client, &mut to_server);
            });
            thread::spawn(move || {
                let mut left = if n == cut_at { limit } else { usize::MAX };
                let mut buf = vec![0; 64 * 1024];
                while left > 0 {
                    let want = left.min(buf.len());
                    match server.read(&mut buf[..want]) {
                        Ok(0) | Err(_) => break,
                        Ok(k) => {
                            if client.write_all(&buf[..k]).is_err() {
                                break;
                            }
                            left -= k;
                        }
                    }
                }
                let _ = client.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
            });
        }
    });
    (port, count)
}

#[test]
fn installs_from_nginx_resuming_a_cut_transfer() {
    let board = Board::new("");
    board.native("A", "");
    let image = image(7);
    board.bundle("r1", "r26.11-G22000001", &image, &[]);
    let nginx = Nginx::start(board.dir.path());
    // The bundle's bulk arrives on the third connection (length probe, manifest, data): cut
    // it after 1 MiB.
    let (port, connections) = cutting_proxy(nginx.port(), 2, 1024 * 1024);
    let url = format!("http://127.0.0.1:{port}/r1.nlb");
    let run = board.agent(&["install", &url]).ok();
    assert_holds(&board.slot("slot_b"), &image);
    assert!(
        connections.load(Ordering::SeqCst) > 3,
        "the cut transfer was not resumed"
    );
    assert!(
        run.stdout.contains("installed r26.11-G22000001"),
        "{}",
        run.stdout
    );
}

#[test]
fn delta_downloads_only_the_changed_chunks() {
    let board = Board::new("");
    board.native("A", "");
    // Slot A runs release 1; release 2 changes 1% of the image in 10 places.
    let image1 = image(8);
    let mut slot_a = image1.clone();
    slot_a.resize(SLOT_LEN, 0);
    fs::write(board.path("slot_a"), slot_a).unwrap();
    let mut image2 = image1.clone();
    let run_len = IMAGE_LEN / 100 / 10;
    for i in 0..10 {
        let at = 1000 + i * (IMAGE_LEN / 10);
        for b in &mut image2[at..at + run_len] {
            *b = !*b;
        }
    }
    board.bundle("r2", "r26.11-G22000002", &image2, &[]);
    let nginx = Nginx::start(board.dir.path());
    let run = board.agent(&["install", &nginx.url("/r2.nlb")]).ok();
    assert_holds(&board.slot("slot_b"), &image2);
    let sent = nginx.bytes_sent();
    let share = sent as f64 / IMAGE_LEN as f64 * 100.0;
    eprintln!(
        "delta: nginx sent {sent} bytes for a 1% change: {share:.2}% of the image; {}",
        run.stdout.trim()
    );
    // 10 changes of 0.1% each, each rounded out to 16 KiB chunks, plus the tables: about 7%.
    assert!(share < 10.0, "the delta fetched {share:.2}% of the image");
    assert!(board.status_json().contains(r#""reused":"#));
}

/// Writes `channels/test-board/stable` (+ `.sig`, signed with `key`) for `bundle`.
fn publish(board: &Board, version: &str, bundle: &str, expires: u64, key: &str) {
    let dir = board.path("channels/test-board");
    fs::create_dir_all(&dir).unwrap();
    let size = fs::metadata(board.path(bundle)).unwrap().len();
    fs::write(
        dir.join("stable"),
        format!("board=test-board\nchannel=stable\nversion={version}\nbundle={bundle}\nsize={size}\nexpires={expires}\n"),
    )
    .unwrap();
    nanolin(
        board.dir.path(),
        &["sign", "-s", key, "channels/test-board/stable"],
    )
    .ok();
}

#[test]
fn poll_installs_newer_releases_and_refuses_replays_and_expired_channels() {
    let board = Board::new("");
    let nginx = Nginx::start(board.dir.path());
    let repo = format!("repository={}\nchannel=stable", nginx.url(""));
    board.native("A", &repo);
    let far = 4_000_000_000u64;
    let image2 = image(9);
    board.bundle("r2", "r26.11-G22000002", &image2, &[]);
    publish(&board, "r26.11-G22000002", "r2.nlb", far, "k.sec");
    let run = board.agent(&["poll"]).ok();
    assert!(
        run.stdout
            .contains("installed r26.11-G22000002 into slot B"),
        "{}",
        run.stdout
    );
    assert_holds(&board.slot("slot_b"), &image2);
    board.agent(&["poll"]).code(1).says("waits for a reboot");
    // After the reboot into B: up to date.
    board.native("B", &repo);
    board.agent(&["mark-good"]).ok();
    board.agent(&["poll"]).code(1).says("up to date");
    // A replayed older channel file is refused.
    let image1 = image(10);
    board.bundle("r1", "r26.11-G22000001", &image1, &[]);
    publish(&board, "r26.11-G22000001", "r1.nlb", far, "k.sec");
    board.agent(&["poll"]).code(1).says("seen before");
    // An expired one too, and one signed by another key.
    board.bundle("r3", "r26.11-G22000003", &image(11), &[]);
    publish(&board, "r26.11-G22000003", "r3.nlb", 1_000_000_000, "k.sec");
    board
        .agent(&["poll"])
        .code(1)
        .says("refusing the channel file: it expired");
    publish(&board, "r26.11-G22000003", "r3.nlb", far, "other.sec");
    board
        .agent(&["poll"])
        .code(1)
        .says("not among the trusted keys");
    let before_a = board.slot("slot_a");
    assert!(board.slot("slot_a") == before_a);
    // Signed by the right key: installed into A.
    publish(&board, "r26.11-G22000003", "r3.nlb", far, "k.sec");
    board.agent(&["poll"]).ok();
    assert_holds(&board.slot("slot_a"), &image(11));
}

/// The bundle tool's `info` shows the manifest and checks the signature and length.
#[test]
fn bundle_info_shows_the_manifest() {
    let board = Board::new("");
    let bundle = board.bundle(
        "r1",
        "r26.11-G22000001",
        &image(12),
        &["--expires", "30d", "--min-version", "r26.01-G01000000"],
    );
    let run = nanolin(
        board.dir.path(),
        &["bundle", "info", "-p", "k.pub", bundle.to_str().unwrap()],
    )
    .ok();
    for text in [
        "board:       test-board",
        "version:     r26.11-G22000001",
        "min version: r26.01-G01000000",
        "good signature by key",
        "rootfs: 3150049 bytes",
    ] {
        assert!(
            run.stdout.contains(text),
            "info lacks {text:?}:\n{}",
            run.stdout
        );
    }
    nanolin(
        board.dir.path(),
        &[
            "bundle",
            "info",
            "-p",
            "other.pub",
            bundle.to_str().unwrap(),
        ],
    )
    .code(1);
    let mut bytes = fs::read(&bundle).unwrap();
    bytes.push(0);
    fs::write(board.path("long.nlb"), bytes).unwrap();
    nanolin(board.dir.path(), &["bundle", "info", "long.nlb"])
        .code(1)
        .says("bytes were appended");
}

/// The agent built for the default board (aarch64, static musl) installs under qemu-user, and
/// U-Boot's tools read the environment it wrote.
#[test]
fn the_board_agent_installs_under_qemu() {
    let board = Board::new("");
    let lines = fw_config(&board, true);
    board.configure(&lines, "A", "");
    let image = image(13);
    let bundle = board.bundle("r1", "r26.11-G22000001", &image, &[]);
    let qemu = peer("qemu-aarch64-static", "qemu-user-static");
    let agent = common::board_agent();
    let run = run_in(
        board.dir.path(),
        &qemu,
        &[
            agent.to_str().unwrap(),
            "-c",
            "agent.conf",
            "install",
            bundle.to_str().unwrap(),
        ],
        "",
    )
    .ok();
    assert!(run.stdout.contains("into slot B"), "{}", run.stdout);
    assert_holds(&board.slot("slot_b"), &image);
    assert!(fw(&board, "fw_printenv", &["BOOT_ORDER"])
        .ok()
        .stdout
        .contains("BOOT_ORDER=B A"));
}

/// `daemon` polls on its interval and installs what the channel offers.
#[test]
fn daemon_polls_and_installs() {
    let board = Board::new("");
    let nginx = Nginx::start(board.dir.path());
    board.native(
        "A",
        &format!(
            "repository={}\npoll_interval=1\npoll_jitter=1\nhealth_deadline=0",
            nginx.url("")
        ),
    );
    let image2 = image(14);
    board.bundle("r2", "r26.11-G22000002", &image2, &[]);
    let mut daemon = std::process::Command::new(host_bin("nanolin-agent"))
        .args(["-c", "agent.conf", "daemon"])
        .current_dir(board.dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Nothing published yet: the daemon keeps polling; then the channel appears.
    thread::sleep(std::time::Duration::from_millis(1500));
    publish(&board, "r26.11-G22000002", "r2.nlb", 4_000_000_000, "k.sec");
    let mut installed = false;
    for _ in 0..100 {
        if board
            .status_json()
            .contains(r#""B":{"version":"r26.11-G22000002","state":"installed""#)
        {
            installed = true;
            break;
        }
        thread::sleep(std::time::Duration::from_millis(100));
    }
    daemon.kill().unwrap();
    daemon.wait().unwrap();
    assert!(
        installed,
        "the daemon did not install the release: {}",
        board.status_json()
    );
    assert_holds(&board.slot("slot_b"), &image2);
}

/// A stand-in for init's control socket: answers every `status` with `answer`, as
/// `init ctl status` does (service lines, then RS, the exit digit and a newline).
fn fake_init(board: &Board, name: &str, answer: &'static str) -> PathBuf {
    let socket = board.path(name);
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 7];
            if stream.read_exact(&mut request).is_ok() && &request == b"status\n" {
                let _ = stream.write_all(answer.as_bytes());
            }
        }
    });
    socket
}

/// `commit` waits for the services marked `health=required`: a healthy slot is confirmed; a
/// new release whose service fails is marked bad, never tried again, and the board reboots
/// into the other slot; a slot confirmed before is not rolled back by a later failure.
#[test]
fn commit_confirms_healthy_releases_and_rolls_back_failed_ones() {
    let board = Board::new("");
    let services = board.path("services");
    fs::create_dir_all(&services).unwrap();
    fs::write(services.join("web"), "run=/bin/web\nhealth=required\n").unwrap();
    fs::write(services.join("log"), "run=/bin/log\n").unwrap();
    let healthy = fake_init(
        &board,
        "healthy.sock",
        "log                      failed: exit status 2\n\
         web                      up (pid 9, 1 s)\n\x1e0\n",
    );
    let failed = fake_init(&board, "failed.sock", "web failed: exit status 1\n\x1e0\n");
    let slow = fake_init(&board, "slow.sock", "web starting (pid 9, 5 ms)\n\x1e0\n");
    let settings = |socket: &PathBuf| {
        format!(
            "services_dir={}\ncontrol_socket={}\nhealth_deadline=1\nreboot_command=\"echo rebooted >> {}\"",
            services.display(),
            socket.display(),
            board.path("reboots").display()
        )
    };
    // First boot of slot A: healthy (the failed `log` is not required), confirmed.
    board.native("A", &settings(&healthy));
    let run = board.agent(&["commit"]).ok();
    assert!(
        run.stdout
            .contains("slot A committed: 1 required services up in"),
        "{}",
        run.stdout
    );
    // Release 2 goes into B; B boots and its web service fails.
    let bundle = board.bundle("r2", "r26.11-G22000002", &image(21), &[]);
    board.agent(&["install", bundle.to_str().unwrap()]).ok();
    board.native("B", &settings(&failed));
    board.agent(&["commit"]).code(1).says(
        "release r26.11-G22000002 in slot B failed its health check (web failed: exit status 1): \
         marked bad, never tried again; the board falls back to slot A",
    );
    assert_eq!(
        fs::read_to_string(board.path("reboots")).unwrap(),
        "rebooted\n"
    );
    let json = board.status_json();
    assert!(json.contains(r#""next_boot":"A""#), "{json}");
    assert!(
        json.contains(r#""B":{"version":"r26.11-G22000002","state":"bad","tries_left":0"#),
        "{json}"
    );
    assert!(json.contains(r#""failed":["r26.11-G22000002"]"#), "{json}");
    // Back on A, which was confirmed before: a failure now is reported, nothing is undone.
    board.native("A", &settings(&failed));
    board
        .agent(&["commit", "--no-reboot"])
        .code(1)
        .says("it was confirmed before, so it stays");
    assert!(board
        .status_json()
        .contains(r#""A":{"version":null,"state":"good","tries_left":3"#));
    // A service still starting at the deadline is named.
    board.native("A", &settings(&slow));
    board
        .agent(&["commit", "--no-reboot"])
        .code(1)
        .says("not up within 1 s: web starting (pid 9, 5 ms)");
    // Healthy again: committed, tries refilled; only one reboot was asked for.
    board.native("A", &settings(&healthy));
    board.agent(&["commit"]).ok();
    assert_eq!(
        fs::read_to_string(board.path("reboots")).unwrap(),
        "rebooted\n"
    );
    board
        .agent(&["commit", "extra"])
        .code(2)
        .says("commit takes only --no-reboot");
}
