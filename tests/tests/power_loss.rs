//! Power loss at any instant of an update leaves a bootable board.
//!
//! The agent runs against a simulated disk that loses power after a chosen number of bytes
//! (or operations): the write in progress is torn at that byte, and every write not yet
//! synced is kept, dropped or torn at random, as a real disk's cache may do. Then the board
//! "boots": the bootloader's view of the boot state (read with the codecs that `fw_printenv`,
//! `grub-editenv` and `init` agree with) must be valid, and the slot it picks must hold a
//! complete, verified image. Then the agent runs again and must finish the update.
//!
//! Hundreds of cut points, chosen at random (seeded, so a failure is repeatable), on every
//! boot state backend.

mod common;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use common::host_bin;
use nanolin_agent::bootstate::open_store;
use nanolin_agent::config::AgentConfig;
use nanolin_agent::install::{install, InstallOptions};
use nanolin_agent::source::FileSource;
use nanolin_agent::storage::{Access, Disk, Storage};
use nanolin_core::boot_record;
use nanolin_core::boot_state::{BootSlot, BootState};
use nanolin_core::grub_env::GrubEnv;
use nanolin_core::uboot_env::{self, EnvCopy, Layout};

/// xorshift64*: a repeatable stream of random numbers.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
}

/// When the power goes.
#[derive(Debug, Clone, Copy)]
enum Cut {
    /// Never (a run to count what an install does).
    Never,
    /// After this many bytes written.
    AfterBytes(u64),
    /// At this operation (write, sync or file replacement), counted from 0.
    AtOperation(u64),
}

#[derive(Default, Clone)]
struct SimFile {
    /// What survives a power loss.
    durable: Vec<u8>,
    /// Writes since the last sync, in order.
    pending: Vec<(u64, Vec<u8>)>,
}

impl SimFile {
    fn apply(data: &mut Vec<u8>, offset: u64, bytes: &[u8]) {
        let end = offset as usize + bytes.len();
        if data.len() < end {
            data.resize(end, 0);
        }
        data[offset as usize..end].copy_from_slice(bytes);
    }

    /// What a reader sees now: durable data with pending writes on top.
    fn view(&self) -> Vec<u8> {
        let mut data = self.durable.clone();
        for (offset, bytes) in &self.pending {
            Self::apply(&mut data, *offset, bytes);
        }
        data
    }
}

struct SimState {
    files: HashMap<PathBuf, SimFile>,
    cut: Cut,
    bytes: u64,
    operations: u64,
    dead: bool,
    rng: Rng,
}

/// A disk whose power can be cut.
struct SimDisk {
    state: Mutex<SimState>,
}

fn power_lost() -> io::Error {
    io::Error::other("power lost")
}

impl SimDisk {
    fn new(files: HashMap<PathBuf, SimFile>, cut: Cut, seed: u64) -> Self {
        SimDisk {
            state: Mutex::new(SimState {
                files,
                cut,
                bytes: 0,
                operations: 0,
                dead: false,
                rng: Rng(seed | 1),
            }),
        }
    }

    /// What is on the disk after the power came back: durable data, and each unsynced write
    /// kept, dropped or torn.
    fn after_power_loss(&self) -> HashMap<PathBuf, SimFile> {
        let mut state = self.state.lock().unwrap();
        let mut rng = Rng(state.rng.next() | 1);
        state
            .files
            .iter()
            .map(|(path, file)| {
                let mut durable = file.durable.clone();
                for (offset, bytes) in &file.pending {
                    match rng.below(3) {
                        0 => {}
                        1 => SimFile::apply(&mut durable, *offset, bytes),
                        _ => {
                            let keep = rng.below(bytes.len() as u64 + 1) as usize;
                            SimFile::apply(&mut durable, *offset, &bytes[..keep]);
                        }
                    }
                }
                (
                    path.clone(),
                    SimFile {
                        durable,
                        pending: Vec::new(),
                    },
                )
            })
            .collect()
    }

    fn counts(&self) -> (u64, u64) {
        let state = self.state.lock().unwrap();
        (state.bytes, state.operations)
    }
}

impl SimState {
    /// Counts one operation of `len` bytes; returns how many of them get written before the
    /// power goes (`len` when it does not), or an error when it is gone already.
    fn admit(&mut self, len: u64) -> io::Result<u64> {
        if self.dead {
            return Err(power_lost());
        }
        let op = self.operations;
        self.operations += 1;
        let allowed = match self.cut {
            Cut::Never => len,
            Cut::AtOperation(at) if op >= at => {
                self.dead = true;
                self.rng.below(len + 1)
            }
            Cut::AtOperation(_) => len,
            Cut::AfterBytes(at) => {
                let left = at.saturating_sub(self.bytes);
                if left < len || (len == 0 && left == 0) {
                    self.dead = true;
                }
                left.min(len)
            }
        };
        self.bytes += allowed;
        Ok(allowed)
    }
}

struct SimStorage<'d> {
    disk: &'d SimDisk,
    path: PathBuf,
}

impl Storage for SimStorage<'_> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let state = self.disk.state.lock().unwrap();
        if state.dead {
            return Err(power_lost());
        }
        let file = state.files.get(&self.path).ok_or(io::ErrorKind::NotFound)?;
        let (start, end) = (offset as usize, offset as usize + buf.len());
        if end > file.durable.len() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.copy_from_slice(&file.durable[start..end]);
        // Unsynced writes show on top, as the page cache shows them.
        for (at, bytes) in &file.pending {
            let (w_start, w_end) = (*at as usize, *at as usize + bytes.len());
            let (lo, hi) = (start.max(w_start), end.min(w_end));
            if lo < hi {
                buf[lo - start..hi - start].copy_from_slice(&bytes[lo - w_start..hi - w_start]);
            }
        }
        Ok(())
    }

    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        let mut state = self.disk.state.lock().unwrap();
        let allowed = state.admit(buf.len() as u64)? as usize;
        let file = state.files.entry(self.path.clone()).or_default();
        // A slot is a device: it never grows.
        let room = file.durable.len().saturating_sub(offset as usize);
        let allowed = allowed.min(room);
        file.pending.push((offset, buf[..allowed].to_vec()));
        if state.dead {
            return Err(power_lost());
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let mut state = self.disk.state.lock().unwrap();
        state.admit(0)?;
        if state.dead {
            return Err(power_lost());
        }
        let file = state.files.entry(self.path.clone()).or_default();
        for (offset, bytes) in std::mem::take(&mut file.pending) {
            SimFile::apply(&mut file.durable, offset, &bytes);
        }
        Ok(())
    }

    fn size(&mut self) -> io::Result<u64> {
        let state = self.disk.state.lock().unwrap();
        Ok(state
            .files
            .get(&self.path)
            .map_or(0, |f| f.durable.len() as u64))
    }
}

impl Disk for SimDisk {
    fn open(&self, path: &Path, _access: Access) -> io::Result<Box<dyn Storage + Send + '_>> {
        let state = self.state.lock().unwrap();
        if state.dead {
            return Err(power_lost());
        }
        if !state.files.contains_key(path) {
            return Err(io::ErrorKind::NotFound.into());
        }
        Ok(Box::new(SimStorage {
            disk: self,
            path: path.to_path_buf(),
        }))
    }

    fn read_file(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        let state = self.state.lock().unwrap();
        if state.dead {
            return Err(power_lost());
        }
        Ok(state.files.get(path).map(SimFile::view))
    }

    fn replace_file(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
        let mut state = self.state.lock().unwrap();
        // Written beside, synced, renamed, directory synced: one step that happened or not.
        let allowed = state.admit(contents.len() as u64)?;
        if state.dead && allowed < contents.len() as u64 {
            return Err(power_lost());
        }
        state.files.insert(
            path.to_path_buf(),
            SimFile {
                durable: contents.to_vec(),
                pending: Vec::new(),
            },
        );
        if state.dead {
            return Err(power_lost());
        }
        Ok(())
    }
}

const SLOT_LEN: usize = 3 * 1024 * 1024;
const IMAGE_LEN: usize = 2 * 1024 * 1024 + 12_345;

/// A board: two slots, A holding release 1, and its boot state; the bundle of release 2.
struct Fixture {
    _dir: tempfile::TempDir,
    bundle: PathBuf,
    image1: Vec<u8>,
    image2: Vec<u8>,
    /// What slot B holds before the update.
    old_b: Vec<u8>,
    keys: PathBuf,
}

fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = Rng(seed);
    (0..len).map(|_| rng.next() as u8).collect()
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let nanolin = host_bin("nanolin");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(&nanolin)
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["key", "generate", "-n", "-p", "k.pub", "-s", "k.sec"]);
    let image1 = pattern(1, IMAGE_LEN);
    let mut image2 = image1.clone();
    // Release 2 changes a few places, so a resumed install can reuse what is there.
    for at in [10_000usize, 700_000, 1_500_000, IMAGE_LEN - 100] {
        for b in &mut image2[at..at + 50] {
            *b ^= 0x5A;
        }
    }
    std::fs::write(d.join("image2"), &image2).unwrap();
    run(&[
        "bundle",
        "create",
        "-b",
        "sim-board",
        "--version",
        "r26.11-G22000002",
        "-i",
        "image2",
        "--chunk-size",
        "16384",
        "-s",
        "k.sec",
        "-o",
        "r2.nlb",
    ]);
    Fixture {
        bundle: d.join("r2.nlb"),
        keys: d.join("k.pub"),
        image1,
        image2,
        old_b: pattern(99, SLOT_LEN),
        _dir: dir,
    }
}

/// A backend: its name, its configuration lines, its boot state files as flashed.
type Backend = (&'static str, String, Vec<(PathBuf, Vec<u8>)>);

/// The backends under test: the configuration lines and the initial boot state files.
fn backends() -> Vec<Backend> {
    let state = BootState::new(3);
    let order = state.order_text();
    let mut digits = [0u8; 2];
    let vars = state.to_vars(&order, &mut digits);

    let mut env = vec![0u8; 2 * 0x2000];
    let (first, second) = env.split_at_mut(0x2000);
    uboot_env::emit(vars, Layout::Redundant, 1, first).unwrap();
    uboot_env::emit(vars, Layout::Redundant, 0, second).unwrap();

    let mut grub = vec![0u8; 1024];
    nanolin_core::grub_env::emit(vars.iter().map(|(n, v)| (*n, *v)), &mut grub).unwrap();

    let mut native = vec![0u8; boot_record::REGION_LEN];
    let (index, copy) = boot_record::next_write(&native, &state);
    native[index * boot_record::COPY_LEN..][..boot_record::COPY_LEN].copy_from_slice(&copy);

    vec![
        (
            "uboot",
            "bootstate=uboot\nuboot_env='/sim/env 0x0 0x2000'\nuboot_env_redundant='/sim/env 0x2000 0x2000'\n".into(),
            vec![(PathBuf::from("/sim/env"), env)],
        ),
        (
            "grub",
            "bootstate=grub\nbootstate_path=/sim/grubenv\n".into(),
            vec![(PathBuf::from("/sim/grubenv"), grub)],
        ),
        (
            "native",
            "bootstate=native\nbootstate_path=/sim/state\n".into(),
            vec![(PathBuf::from("/sim/state"), native)],
        ),
    ]
}

/// What the bootloader does at power-on: reads the state (which must be valid) and picks a
/// slot.
fn bootloader_pick(backend: &str, files: &HashMap<PathBuf, SimFile>) -> BootState {
    let bytes = |p: &str| files[Path::new(p)].durable.clone();
    match backend {
        "uboot" => {
            let env = bytes("/sim/env");
            let (a, b) = env.split_at(0x2000);
            let copies = [
                EnvCopy::parse(a, Layout::Redundant),
                EnvCopy::parse(b, Layout::Redundant),
            ];
            let current = uboot_env::current(&copies[0], &copies[1])
                .expect("no valid copy of the U-Boot environment after power loss");
            let copy = copies[current].as_ref().unwrap();
            BootState::from_vars(|n| copy.get(n)).unwrap()
        }
        "grub" => {
            let block = bytes("/sim/grubenv");
            let env = GrubEnv::parse(&block).expect("the GRUB environment is damaged");
            let vars: Vec<(String, String)> = env
                .vars()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            BootState::from_vars(|n| {
                vars.iter()
                    .rev()
                    .find(|(k, _)| k == n)
                    .map(|(_, v)| v.as_str())
            })
            .unwrap()
        }
        _ => {
            let region = bytes("/sim/state");
            boot_record::read(&region)
                .expect("no valid boot record after power loss")
                .0
                .state
        }
    }
}

fn config(backend_lines: &str, keys: &Path) -> AgentConfig {
    let text = format!(
        "compatible=sim-board\nslot_a=/sim/a\nslot_b=/sim/b\nkeys={}\nstate_dir=/sim/agent\ntries=3\n{backend_lines}",
        keys.display()
    );
    AgentConfig::parse(Path::new("agent.conf"), &text).unwrap()
}

fn initial_files(fx: &Fixture, state_files: &[(PathBuf, Vec<u8>)]) -> HashMap<PathBuf, SimFile> {
    let mut a = fx.image1.clone();
    a.resize(SLOT_LEN, 0);
    let b = fx.old_b.clone();
    let mut files: HashMap<PathBuf, SimFile> = [("/sim/a", a), ("/sim/b", b)]
        .into_iter()
        .map(|(p, d)| {
            (
                PathBuf::from(p),
                SimFile {
                    durable: d,
                    pending: Vec::new(),
                },
            )
        })
        .collect();
    for (path, bytes) in state_files {
        files.insert(
            path.clone(),
            SimFile {
                durable: bytes.clone(),
                pending: Vec::new(),
            },
        );
    }
    files
}

fn options() -> InstallOptions {
    InstallOptions {
        allow_downgrade: false,
        delta: true,
        now: 1_800_000_000,
        progress: false,
    }
}

/// Installs release 2 on a board booted from A, with the power cut at `cut`.
fn run_install(
    fx: &Fixture,
    cfg: &AgentConfig,
    files: HashMap<PathBuf, SimFile>,
    cut: Cut,
    seed: u64,
) -> (SimDisk, bool) {
    let disk = SimDisk::new(files, cut, seed);
    let mut store = open_store(cfg, &disk);
    let mut source = FileSource::open(fx.bundle.clone()).unwrap();
    let done = install(
        cfg,
        &disk,
        store.as_mut(),
        &mut source,
        BootSlot::A,
        &options(),
    )
    .is_ok();
    drop(store);
    (disk, done)
}

fn check_bootable(
    fx: &Fixture,
    backend: &str,
    files: &HashMap<PathBuf, SimFile>,
    what: &str,
) -> BootSlot {
    let state = bootloader_pick(backend, files);
    let slot = state
        .next_boot()
        .unwrap_or_else(|| panic!("{what}: no slot left to boot"));
    let (path, want) = match slot {
        BootSlot::A => ("/sim/a", &fx.image1),
        BootSlot::B => ("/sim/b", &fx.image2),
    };
    let data = &files[Path::new(path)].durable;
    assert!(
        data[..want.len()] == want[..],
        "{what}: the bootloader picks slot {slot}, which does not hold its complete image"
    );
    slot
}

#[test]
fn power_loss_at_random_points_leaves_a_bootable_board_on_every_backend() {
    let fx = fixture();
    let cuts_per_backend: u64 = std::env::var("NANOLIN_POWER_CUTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(150);
    let mut summary = Vec::new();
    for (name, lines, state_files) in backends() {
        let cfg = config(&lines, &fx.keys);
        // A run without a cut: it must finish, and tells how much an install writes.
        let (disk, done) = run_install(&fx, &cfg, initial_files(&fx, &state_files), Cut::Never, 1);
        assert!(done, "{name}: the install without a power cut failed");
        let (total_bytes, total_ops) = disk.counts();
        assert_eq!(
            check_bootable(&fx, name, &disk.after_power_loss(), "uncut"),
            BootSlot::B
        );

        let mut rng = Rng(0xC0FFEE ^ name.len() as u64);
        let (mut booted_new, mut booted_old, mut resumed_bytes) = (0, 0, 0u64);
        for i in 0..cuts_per_backend {
            // Half the cuts by byte (mostly inside the image), half by operation (so every
            // boot state write and sync is hit as often as the image writes).
            let cut = if i % 2 == 0 {
                Cut::AfterBytes(rng.below(total_bytes + 1))
            } else {
                Cut::AtOperation(rng.below(total_ops + 1))
            };
            let seed = rng.next();
            let (disk, _) = run_install(&fx, &cfg, initial_files(&fx, &state_files), cut, seed);
            let after = disk.after_power_loss();
            let what = format!("{name}, cut {cut:?}, seed {seed:#x}");
            match check_bootable(&fx, name, &after, &what) {
                BootSlot::A => booted_old += 1,
                BootSlot::B => booted_new += 1,
            }
            // The board comes back on A (or B): the next run of the agent completes the update.
            if bootloader_pick(name, &after).next_boot() == Some(BootSlot::A) {
                let disk = SimDisk::new(after, Cut::Never, seed);
                let mut store = open_store(&cfg, &disk);
                let mut source = FileSource::open(fx.bundle.clone()).unwrap();
                let report = install(
                    &cfg,
                    &disk,
                    store.as_mut(),
                    &mut source,
                    BootSlot::A,
                    &options(),
                )
                .unwrap_or_else(|e| panic!("{what}: the install after power loss failed: {e}"));
                resumed_bytes += report.reused_in_place;
                drop(store);
                assert_eq!(
                    check_bootable(&fx, name, &disk.after_power_loss(), &what),
                    BootSlot::B
                );
            }
        }
        summary.push(format!(
            "{name}: {cuts_per_backend} cuts over {total_bytes} bytes / {total_ops} operations: {booted_old} boot the old release, {booted_new} the new one; every board then finished the update"
        ));
        let _ = resumed_bytes;
    }
    for line in summary {
        eprintln!("power loss: {line}");
    }
}
