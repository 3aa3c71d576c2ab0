//! Running the real binaries and the real peer tools in a temporary directory.
#![allow(dead_code)]

pub mod nginx;
pub mod qemu;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn cargo_build(args: &[&str]) {
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet"])
        .args(args)
        .current_dir(workspace())
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build {args:?} failed");
}

/// Path of a host binary of the workspace, built on first use (or taken from
/// NANOLIN_BIN_DIR, which `./nanolin test` sets to its fresh build).
pub fn host_bin(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        if let Some(dir) = std::env::var_os("NANOLIN_BIN_DIR") {
            return PathBuf::from(dir);
        }
        cargo_build(&["-p", "nanolin-host", "-p", "nanolin-agent"]);
        workspace().join("target/debug")
    });
    dir.join(name)
}

/// The agent built for the default board (aarch64, static musl), run under qemu-user.
pub fn board_agent() -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(path) = std::env::var_os("NANOLIN_BOARD_AGENT") {
                return PathBuf::from(path);
            }
            cargo_build(&[
                "--release",
                "--target",
                "aarch64-unknown-linux-musl",
                "-p",
                "nanolin-agent",
            ]);
            workspace().join("target/aarch64-unknown-linux-musl/release/nanolin-agent")
        })
        .clone()
}

/// A peer tool from Debian's packages; its absence fails the test with the fix.
pub fn peer(name: &str, package: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("{name} is not installed: run ./nanolin test (it installs it) or apt-get install {package}")
    })
}

/// signify as Debian installs it.
pub fn signify() -> PathBuf {
    peer("signify-openbsd", "signify-openbsd")
}

/// minisign.
pub fn minisign() -> PathBuf {
    peer("minisign", "minisign")
}

/// A finished run: exit code and both outputs as text.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(out: Output) -> Self {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Asserts success, showing the output otherwise.
    #[track_caller]
    pub fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts this exit code.
    #[track_caller]
    pub fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "unexpected exit code:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts that standard error mentions `text`.
    #[track_caller]
    pub fn says(self, text: &str) -> Self {
        assert!(
            self.stderr.contains(text),
            "stderr lacks {text:?}:\n{}",
            self.stderr
        );
        self
    }
}

/// Runs `program args` in `dir` with `stdin` fed, no terminal, and a clean signing time.
pub fn run_in(dir: &Path, program: &Path, args: &[&str], stdin: &str) -> Run {
    run_in_env(dir, program, args, &[]).feed(stdin)
}

/// A command about to run, waiting for its standard input.
pub struct Pending(std::process::Child);

impl Pending {
    /// Feeds `stdin` and waits for the end.
    pub fn feed(mut self, stdin: &str) -> Run {
        self.0
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .ok();
        Run::from_output(self.0.wait_with_output().unwrap())
    }

    /// Waits for the end, with nothing on standard input.
    pub fn ok(self) -> Run {
        self.feed("").ok()
    }
}

/// Starts `program args` in `dir` with `env` added to a clean environment.
pub fn run_in_env(dir: &Path, program: &Path, args: &[&str], env: &[(&str, &str)]) -> Pending {
    let child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .env_remove("NANOLIN_KEY")
        .env_remove("NANOLIN_PUBLIC_KEY")
        .env_remove("NANOLIN_PASSPHRASE_FILE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    Pending(child)
}

/// A scratch directory with a message file `m` in it.
pub fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m"),
        b"an appliance image, or any file at all\n",
    )
    .unwrap();
    dir
}

/// `nanolin ARGS` in `dir`.
pub fn nanolin(dir: &Path, args: &[&str]) -> Run {
    run_in(dir, &host_bin("nanolin"), args, "")
}

/// `pyspdxtools` (pip package spdx-tools) when installed; in CI its absence is a failure.
pub fn pyspdxtools() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("pyspdxtools"))
            .find(|p| p.is_file())
    });
    if found.is_none() && std::env::var_os("CI").is_some() {
        panic!("pyspdxtools is not installed: pip install spdx-tools (./nanolin test installs it)");
    }
    found
}

/// A package store shared by the test binaries that build releases (they run one after the
/// other): packages built for a target by one are taken from it by the next.
#[allow(dead_code)]
pub fn package_store() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("package-store")
}

/// Copies the file `name` (`::/uboot.env`) out of the FAT file system `image` into `to`
/// (mtools' `mcopy`).
#[allow(dead_code)]
pub fn fat_copy_out(dir: &Path, image: &Path, name: &str, to: &Path) {
    run_in(
        dir,
        &peer("mcopy", "mtools"),
        &["-i", image.to_str().unwrap(), name, to.to_str().unwrap()],
        "",
    )
    .ok();
}

/// The file of `files` whose name ends in `suffix`.
pub fn find(files: &[PathBuf], suffix: &str) -> PathBuf {
    files
        .iter()
        .find(|f| f.to_string_lossy().ends_with(suffix))
        .unwrap_or_else(|| panic!("no {suffix} in {files:?}"))
        .clone()
}

/// The board `name` of the workspace's `boards/`.
pub fn board(name: &str) -> nanolin_host::board::Board {
    nanolin_host::board::Board::find(&workspace().join("boards"), name)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The bytes of the disk at `offset`, `len` of them.
pub fn disk_bytes(disk: &Path, offset: u64, len: usize) -> Vec<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(disk).unwrap();
    file.seek(SeekFrom::Start(offset)).unwrap();
    let mut bytes = vec![0; len];
    file.read_exact(&mut bytes).unwrap();
    bytes
}

/// A copy of the `prime` distro in `dir`: `dir/prime.rcp` and its overlay `dir/prime/`, with
/// the recipes path made relative to `dir` (distro files want it relative) and, when given,
/// another repository for the agent to poll. Returns the distro file.
pub fn prime_copy(dir: &Path, repository: Option<&str>) -> PathBuf {
    let distros = workspace().join("distros");
    let overlay = dir.join("prime");
    if overlay.exists() {
        std::fs::remove_dir_all(&overlay).unwrap();
    }
    std::fs::create_dir_all(dir).unwrap();
    let copied = Command::new("cp")
        .arg("-R")
        .arg(distros.join("prime"))
        .arg(&overlay)
        .status()
        .unwrap();
    assert!(copied.success(), "cp -R distros/prime failed");
    let dir_abs = std::fs::canonicalize(dir).unwrap();
    let recipes = std::fs::canonicalize(workspace().join("recipes")).unwrap();
    let shared = dir_abs
        .ancestors()
        .find(|a| recipes.starts_with(a))
        .unwrap();
    let up = dir_abs.strip_prefix(shared).unwrap().components().count();
    let recipes = Path::new(&"../".repeat(up)).join(recipes.strip_prefix(shared).unwrap());
    let text = std::fs::read_to_string(distros.join("prime.rcp")).unwrap();
    let text: String = text
        .lines()
        .map(|line| match (line.split_once('='), repository) {
            (Some(("recipes", _)), _) => format!("recipes={}", recipes.display()),
            (Some(("overlay", _)), _) => "overlay=prime".into(),
            (Some(("repository", _)), Some(url)) => format!("repository={url}"),
            _ => line.to_string(),
        })
        .map(|line| line + "\n")
        .collect();
    let file = dir.join("prime.rcp");
    std::fs::write(&file, text).unwrap();
    file
}
