//! `nanolin-agent activate [--kexec]`: start the slot that boots next.
//!
//! Without `--kexec` the agent runs `reboot_command` (default `reboot`) and the board goes
//! through its firmware and bootloader. With `--kexec` it starts that slot's own kernel
//! directly:
//!
//! 1. the slot that boots next is the first in the boot state's order with tries left;
//! 2. its root file system (squashfs) is mounted read-only at [`KEXEC_MOUNT`], and its
//!    `/boot/vmlinuz` and `/boot/initrd.img` (put there by `nanolin release build`) are
//!    loaded with the running kernel's command line (`nanolin.slot=` dropped), then it is
//!    unmounted;
//! 3. the try is counted as a bootloader would count it: on `native` boards stage1 takes it
//!    from the boot record, as on every boot; on U-Boot and GRUB boards, whose bootloader
//!    is skipped, the agent takes it in the boot state and passes `nanolin.slot=X`;
//! 4. init is asked (`kexec` on its control socket) to stop every service and end with
//!    `reboot(LINUX_REBOOT_CMD_KEXEC)`.
//!
//! A kexec'd slot that does not come up is handled as after any boot: stage1 reboots, the
//! firmware boots the next try, and when the slot's tries are gone the other slot boots.
//!
//! Loading uses `kexec_file_load(2)`. Kernels built without it (Debian 12's arm64 kernel has
//! `CONFIG_KEXEC=y` but not `CONFIG_KEXEC_FILE`) get `kexec_load(2)` on arm64: the agent
//! places the raw `Image`, the initramfs, a device tree (the running one from
//! `/sys/firmware/fdt` with a new `/chosen`) and a six-instruction purgatory that jumps to
//! the kernel with the device tree in `x0`, as the arm64 boot protocol asks.

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nanolin_core::boot_state::BootSlot;

use crate::bootstate::open_store;
use crate::config::{AgentConfig, BootStateConfig};
use crate::error::AgentError;
use crate::storage::Disk;

/// Where the slot to start is mounted while its kernel is loaded.
pub const KEXEC_MOUNT: &str = "/run/nanolin/kexec-slot";
/// The kernel each slot's root file system carries (`nanolin release build`).
pub const SLOT_KERNEL: &str = "boot/vmlinuz";
/// The initramfs each slot's root file system carries.
pub const SLOT_INITRAMFS: &str = "boot/initrd.img";
/// Largest kernel command line read from `/proc/cmdline` and passed on.
pub const CMDLINE_MAX_LEN: usize = 4096;

/// How the agent switches to a newly installed slot (`activate=` in agent.conf).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Activate {
    /// Run `reboot_command`: through the firmware and the bootloader.
    #[default]
    Reboot,
    /// Start the slot's kernel directly with kexec.
    Kexec,
}

impl Activate {
    /// `reboot` or `kexec`.
    pub fn from_name(text: &str) -> Option<Self> {
        match text {
            "reboot" => Some(Activate::Reboot),
            "kexec" => Some(Activate::Kexec),
            _ => None,
        }
    }
}

/// What `activate --kexec` did before handing over to init.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded {
    /// The slot started.
    pub slot: BootSlot,
    /// How it was loaded: `kexec_file_load` or `kexec_load`.
    pub how: &'static str,
    /// The command line given to the new kernel.
    pub cmdline: String,
}

/// The new kernel's command line: the running one without `nanolin.slot=` (or RAUC's
/// `rauc.slot=`), plus `nanolin.slot=X` when the agent took the try itself.
pub fn kexec_cmdline(running: &str, slot: Option<BootSlot>) -> String {
    let mut words: Vec<&str> = running
        .split_whitespace()
        .filter(|w| !w.starts_with("nanolin.slot=") && !w.starts_with("rauc.slot="))
        .collect();
    let named = slot.map(|s| format!("nanolin.slot={}", s.name()));
    if let Some(named) = &named {
        words.push(named);
    }
    words.join(" ")
}

/// `activate --kexec`: loads the next slot's kernel and asks init to start it.
pub fn activate_kexec(config: &AgentConfig, disk: &dyn Disk) -> Result<Loaded, AgentError> {
    let mut store = open_store(config, disk);
    let mut state = store.load()?;
    let slot = state.next_boot().ok_or_else(|| {
        AgentError::BootState(format!(
            "{}: no slot has tries left, so none boots next (mark-good a slot first)",
            store.describe()
        ))
    })?;
    let pair = config.slot_pair("rootfs").ok_or_else(|| {
        AgentError::Config(format!(
            "{}: slot_a= and slot_b= must be set: activate --kexec mounts the slot to start",
            config.origin.display()
        ))
    })?;
    let device = match slot {
        BootSlot::A => &pair.a,
        BootSlot::B => &pair.b,
    };
    // Native boards: stage1 counts the try from the boot record, as on every boot. Others:
    // their bootloader is skipped, so the agent counts it and names the slot.
    let agent_counts = !matches!(config.bootstate, BootStateConfig::Native { .. });
    let running = read_cmdline()?;
    let cmdline = kexec_cmdline(&running, agent_counts.then_some(slot));

    let how = {
        let mounted = Mounted::new(device, Path::new(KEXEC_MOUNT))?;
        let kernel = mounted.path.join(SLOT_KERNEL);
        let initrd = mounted.path.join(SLOT_INITRAMFS);
        for file in [&kernel, &initrd] {
            if !file.is_file() {
                return Err(AgentError::io(
                    "find",
                    file,
                    std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!(
                            "slot {slot} ({}) carries no /{SLOT_KERNEL} and /{SLOT_INITRAMFS}: its release predates kexec support; use activate without --kexec",
                            device.display()
                        ),
                    ),
                ));
            }
        }
        load(&kernel, &initrd, &cmdline)?
    };

    if agent_counts {
        let taken = state.take_try();
        store.store(&state)?;
        if taken != Some(slot) {
            return Err(AgentError::BootState(format!(
                "{}: the boot state changed while the kernel was loaded",
                store.describe()
            )));
        }
    }
    ask_init(&config.control_socket, "kexec")?;
    Ok(Loaded { slot, how, cmdline })
}

fn read_cmdline() -> Result<String, AgentError> {
    let path = Path::new("/proc/cmdline");
    let text = std::fs::read_to_string(path).map_err(|e| AgentError::io("read", path, e))?;
    if text.len() >= CMDLINE_MAX_LEN {
        return Err(AgentError::io(
            "read",
            path,
            std::io::Error::other(format!(
                "the command line is {} bytes, more than the {CMDLINE_MAX_LEN} passed on",
                text.len()
            )),
        ));
    }
    Ok(text)
}

/// Sends `request` to init's control socket; init answers, then stops every service.
fn ask_init(socket: &Path, request: &str) -> Result<(), AgentError> {
    let mut stream =
        UnixStream::connect(socket).map_err(|e| AgentError::io("connect to", socket, e))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    stream
        .write_all(format!("{request}\n").as_bytes())
        .map_err(|e| AgentError::io("write to", socket, e))?;
    // The answer ends with RS, a digit; init may already be stopping us: best effort.
    let mut answer = [0u8; 512];
    let n = stream.read(&mut answer).unwrap_or(0);
    let answer = answer.get(..n).unwrap_or_default();
    match answer.iter().position(|&b| b == 0x1e) {
        Some(at) if answer.get(at + 1).is_some_and(|&d| d != b'0') => Err(AgentError::io(
            "ask init through",
            socket,
            std::io::Error::other(format!(
                "init refused {request:?}: {} (is init new enough to know `kexec`?)",
                String::from_utf8_lossy(answer.get(..at).unwrap_or_default()).trim()
            )),
        )),
        _ => Ok(()),
    }
}

/// A read-only squashfs mount, unmounted when dropped.
struct Mounted {
    path: PathBuf,
}

impl Mounted {
    fn new(device: &Path, at: &Path) -> Result<Self, AgentError> {
        use rustix::mount::{mount, MountFlags};
        std::fs::create_dir_all(at).map_err(|e| AgentError::io("create", at, e))?;
        // A mount left by an earlier run that was killed.
        let _ = rustix::mount::unmount(at, rustix::mount::UnmountFlags::DETACH);
        mount(
            device,
            at,
            "squashfs",
            MountFlags::RDONLY | MountFlags::NOSUID | MountFlags::NODEV,
            None::<&std::ffi::CStr>,
        )
        .map_err(|e| {
            AgentError::io(
                "mount",
                device,
                std::io::Error::other(format!(
                    "{e} (mounting it read-only as squashfs at {}: is the slot written, and the agent root?)",
                    at.display()
                )),
            )
        })?;
        Ok(Mounted {
            path: at.to_path_buf(),
        })
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = rustix::mount::unmount(&self.path, rustix::mount::UnmountFlags::empty());
        let _ = std::fs::remove_dir(&self.path);
    }
}

/// Loads `kernel` and `initrd` to start with `cmdline`; says which call did it.
fn load(kernel: &Path, initrd: &Path, cmdline: &str) -> Result<&'static str, AgentError> {
    let open = |p: &Path| std::fs::File::open(p).map_err(|e| AgentError::io("open", p, e));
    let (kernel_file, initrd_file) = (open(kernel)?, open(initrd)?);
    let hint = |e: std::io::Error| {
        let why = match e.raw_os_error() {
            Some(1) => "the agent must run as root; a kernel locked down (Secure Boot) refuses unsigned kernels",
            Some(61) | Some(74) | Some(129) => "the kernel refuses an image it cannot verify (CONFIG_KEXEC_SIG_FORCE or lockdown)",
            Some(8) => "the kernel does not take this image format",
            _ => "activate without --kexec to reboot instead",
        };
        std::io::Error::new(e.kind(), format!("{e}: {why}"))
    };
    match sys::kexec_file_load(&kernel_file, &initrd_file, cmdline) {
        Ok(()) => return Ok("kexec_file_load"),
        Err(e) if e.raw_os_error() != Some(38) => {
            return Err(AgentError::io("kexec_file_load", kernel, hint(e)))
        }
        Err(_) => {}
    }
    // ENOSYS: the kernel has no kexec_file_load (CONFIG_KEXEC_FILE unset).
    if cfg!(target_arch = "aarch64") {
        let read = |p: &Path| std::fs::read(p).map_err(|e| AgentError::io("read", p, e));
        let fdt_path = Path::new("/sys/firmware/fdt");
        let iomem_path = Path::new("/proc/iomem");
        let iomem = std::fs::read_to_string(iomem_path)
            .map_err(|e| AgentError::io("read", iomem_path, e))?;
        let (image, ramdisk, fdt) = (read(kernel)?, read(initrd)?, read(fdt_path)?);
        let segments = arm64::plan(&image, &ramdisk, &fdt, &system_ram(&iomem), cmdline)
            .map_err(|m| AgentError::io("kexec_load", kernel, std::io::Error::other(m)))?;
        sys::kexec_load(&segments).map_err(|e| AgentError::io("kexec_load", kernel, hint(e)))?;
        return Ok("kexec_load");
    }
    Err(AgentError::io(
        "kexec_file_load",
        kernel,
        std::io::Error::other(
            "the running kernel has no kexec_file_load (CONFIG_KEXEC_FILE): activate without --kexec",
        ),
    ))
}

/// The top-level `System RAM` ranges of `/proc/iomem`, as (first, last) byte addresses.
pub fn system_ram(iomem: &str) -> Vec<(u64, u64)> {
    iomem
        .lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| {
            let (range, name) = l.split_once(" : ")?;
            (name.trim() == "System RAM").then_some(())?;
            let (a, b) = range.trim().split_once('-')?;
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
            ))
        })
        // A range that ends before it starts is no RAM to place a kernel in.
        .filter(|(first, last)| first <= last)
        .collect()
}

/// One piece of memory for `kexec_load(2)`: bytes and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// The bytes (shorter than `memsz`: the rest is zeroed).
    pub bytes: Vec<u8>,
    /// Physical destination, page aligned.
    pub mem: u64,
    /// Bytes reserved there, page aligned.
    pub memsz: u64,
}

/// A plan for `kexec_load(2)`: the entry point and the segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Physical address started (the purgatory).
    pub entry: u64,
    /// Kernel, initramfs, device tree, purgatory.
    pub segments: Vec<Segment>,
}

/// arm64: the boot protocol (Documentation/arm64/booting.rst) and a device tree editor.
pub mod arm64 {
    use super::{Plan, Segment};

    /// Every segment starts on this boundary (the largest arm64 page size).
    pub const ALIGN: u64 = 64 * 1024;
    /// The kernel's base is 2 MiB aligned.
    pub const KERNEL_ALIGN: u64 = 2 * 1024 * 1024;

    fn align_up(value: u64, to: u64) -> Option<u64> {
        value.checked_add(to - 1).map(|v| v & !(to - 1))
    }

    fn le64(bytes: &[u8], at: usize) -> u64 {
        bytes
            .get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_le_bytes)
    }

    /// `ldr x0, dtb; ldr x4, kernel; mov x1, xzr; mov x2, xzr; mov x3, xzr; br x4`, then
    /// the two addresses: what kexec-tools' purgatory does, without its checksum.
    pub fn purgatory(dtb: u64, kernel: u64) -> Vec<u8> {
        let mut code = Vec::with_capacity(40);
        for word in [
            0x5800_00c0u32,
            0x5800_00e4,
            0xaa1f_03e1,
            0xaa1f_03e2,
            0xaa1f_03e3,
            0xd61f_0080,
        ] {
            code.extend_from_slice(&word.to_le_bytes());
        }
        code.extend_from_slice(&dtb.to_le_bytes());
        code.extend_from_slice(&kernel.to_le_bytes());
        code
    }

    /// Places `image` (a raw arm64 `Image`), `initrd` and `fdt` (with a new `/chosen`) in
    /// the first range of `ram` that holds them all.
    pub fn plan(
        image: &[u8],
        initrd: &[u8],
        fdt: &[u8],
        ram: &[(u64, u64)],
        cmdline: &str,
    ) -> Result<Plan, String> {
        if image.get(56..60) != Some(b"ARM\x64".as_slice()) {
            return Err(
                "not a raw arm64 Image (no ARM\\x64 magic at 56): kexec_load needs it unpacked"
                    .into(),
            );
        }
        let text_offset = le64(image, 8);
        let image_size = le64(image, 16).max(image.len() as u64);
        let len = |n: usize| n as u64;
        let fdt_room = len(fdt.len()) + len(cmdline.len()) + 4096;
        for &(first, last) in ram {
            let end = last.saturating_add(1);
            let place = || -> Option<Plan> {
                let kernel = align_up(first, KERNEL_ALIGN)?.checked_add(text_offset)?;
                let initrd_at = align_up(kernel.checked_add(image_size)?, KERNEL_ALIGN)?;
                let dtb_at = align_up(initrd_at.checked_add(len(initrd.len()))?, ALIGN)?;
                let purgatory_at = align_up(dtb_at.checked_add(fdt_room)?, ALIGN)?;
                let top = purgatory_at.checked_add(ALIGN)?;
                if top > end {
                    return None;
                }
                let dtb = super::fdt::with_chosen(
                    fdt,
                    cmdline,
                    Some((initrd_at, initrd_at + len(initrd.len()))),
                )
                .ok()?;
                let segment = |bytes: Vec<u8>, mem: u64, size: u64| {
                    Some(Segment {
                        bytes,
                        mem,
                        memsz: align_up(size, ALIGN)?,
                    })
                };
                let dtb_len = len(dtb.len());
                Some(Plan {
                    entry: purgatory_at,
                    segments: vec![
                        segment(image.to_vec(), kernel, image_size)?,
                        segment(initrd.to_vec(), initrd_at, len(initrd.len()))?,
                        segment(dtb, dtb_at, dtb_len)?,
                        segment(purgatory(dtb_at, kernel), purgatory_at, ALIGN)?,
                    ],
                })
            };
            if let Some(plan) = place() {
                return Ok(plan);
            }
        }
        Err(format!(
            "no System RAM range in /proc/iomem holds the kernel ({image_size} bytes), the initramfs ({} bytes) and the device tree",
            initrd.len()
        ))
    }
}

/// A flattened device tree editor: just what kexec needs, `/chosen` rewritten.
pub mod fdt {
    const MAGIC: u32 = 0xd00d_feed;
    const BEGIN_NODE: u32 = 1;
    const END_NODE: u32 = 2;
    const PROP: u32 = 3;
    const NOP: u32 = 4;
    const END: u32 = 9;
    const HEADER_LEN: usize = 40;
    /// Properties of `/chosen` that describe the running boot and are replaced or dropped.
    const REPLACED: [&str; 5] = [
        "bootargs",
        "linux,initrd-start",
        "linux,initrd-end",
        "linux,elfcorehdr",
        "linux,usable-memory-range",
    ];

    fn be32(b: &[u8], at: usize) -> Result<u32, String> {
        b.get(at..at + 4)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map(u32::from_be_bytes)
            .ok_or_else(|| format!("device tree truncated at {at}"))
    }

    fn pad4(n: usize) -> usize {
        (n + 3) & !3
    }

    fn put(out: &mut Vec<u8>, word: u32) {
        out.extend_from_slice(&word.to_be_bytes());
    }

    fn prop(out: &mut Vec<u8>, name_offset: u32, value: &[u8]) {
        put(out, PROP);
        put(out, value.len() as u32);
        put(out, name_offset);
        out.extend_from_slice(value);
        out.resize(pad4(out.len()), 0);
    }

    /// `fdt` with `/chosen`'s `bootargs` set to `cmdline` and `linux,initrd-start`/`-end`
    /// to `initrd` (start, end) or removed; the rest copied.
    pub fn with_chosen(
        fdt: &[u8],
        cmdline: &str,
        initrd: Option<(u64, u64)>,
    ) -> Result<Vec<u8>, String> {
        if be32(fdt, 0)? != MAGIC {
            return Err("not a flattened device tree (bad magic)".into());
        }
        let field = |i: usize| be32(fdt, 4 * i).map(|v| v as usize);
        let (total, off_struct, off_strings, off_rsv) =
            (field(1)?, field(2)?, field(3)?, field(4)?);
        let (boot_cpu, size_strings, size_struct) = (field(7)?, field(8)?, field(9)?);
        let slice = |at: usize, len: usize| {
            at.checked_add(len)
                .filter(|&e| e <= total && e <= fdt.len())
                .and_then(|e| fdt.get(at..e))
                .ok_or_else(|| "device tree block out of bounds".to_string())
        };
        let strings_in = slice(off_strings, size_strings)?;
        let structure = slice(off_struct, size_struct)?;
        let mut rsv_len = 0;
        while be32(fdt, off_rsv + rsv_len)? != 0
            || be32(fdt, off_rsv + rsv_len + 4)? != 0
            || be32(fdt, off_rsv + rsv_len + 8)? != 0
            || be32(fdt, off_rsv + rsv_len + 12)? != 0
        {
            rsv_len += 16;
        }
        let rsvmap = slice(off_rsv, rsv_len + 16)?;

        let mut strings = strings_in.to_vec();
        let mut name_at = |name: &str| {
            let at = strings.len() as u32;
            strings.extend_from_slice(name.as_bytes());
            strings.push(0);
            at
        };
        let bootargs = name_at("bootargs");
        let start_name = name_at("linux,initrd-start");
        let end_name = name_at("linux,initrd-end");
        let new_props = |out: &mut Vec<u8>| {
            let mut args = cmdline.as_bytes().to_vec();
            args.push(0);
            prop(out, bootargs, &args);
            if let Some((start, end)) = initrd {
                prop(out, start_name, &start.to_be_bytes());
                prop(out, end_name, &end.to_be_bytes());
            }
        };
        let name_of = |offset: usize| -> &[u8] {
            let rest = strings_in.get(offset..).unwrap_or_default();
            rest.split(|&b| b == 0).next().unwrap_or_default()
        };

        let mut out = Vec::with_capacity(structure.len() + cmdline.len() + 64);
        let (mut at, mut depth, mut in_chosen, mut saw_chosen) = (0usize, 0usize, false, false);
        loop {
            let token = be32(structure, at)?;
            match token {
                BEGIN_NODE => {
                    let rest = structure.get(at + 4..).unwrap_or_default();
                    let name_len = rest
                        .iter()
                        .position(|&b| b == 0)
                        .ok_or("device tree node name not terminated")?;
                    let next = at + 4 + pad4(name_len + 1);
                    depth += 1;
                    if depth == 2 && rest.get(..name_len) == Some(b"chosen".as_slice()) {
                        in_chosen = true;
                        saw_chosen = true;
                    }
                    out.extend_from_slice(structure.get(at..next).ok_or("device tree truncated")?);
                    at = next;
                }
                END_NODE => {
                    if in_chosen && depth == 2 {
                        new_props(&mut out);
                        in_chosen = false;
                    }
                    if depth == 1 && !saw_chosen {
                        put(&mut out, BEGIN_NODE);
                        out.extend_from_slice(b"chosen\0\0");
                        new_props(&mut out);
                        put(&mut out, END_NODE);
                    }
                    depth = depth.checked_sub(1).ok_or("device tree nodes unbalanced")?;
                    put(&mut out, END_NODE);
                    at += 4;
                }
                PROP => {
                    let len = be32(structure, at + 4)? as usize;
                    let name = be32(structure, at + 8)? as usize;
                    let next = at + 12 + pad4(len);
                    let whole = structure.get(at..next).ok_or("device tree truncated")?;
                    let drop = in_chosen
                        && depth == 2
                        && REPLACED.iter().any(|r| r.as_bytes() == name_of(name));
                    if !drop {
                        out.extend_from_slice(whole);
                    }
                    at = next;
                }
                NOP => at += 4,
                END => {
                    put(&mut out, END);
                    break;
                }
                other => return Err(format!("device tree token {other:#x} at {at} unknown")),
            }
        }

        let off_rsv_new = HEADER_LEN;
        let off_struct_new = off_rsv_new + rsvmap.len();
        let off_strings_new = off_struct_new + out.len();
        let total_new = off_strings_new + strings.len();
        let mut blob = Vec::with_capacity(total_new);
        for word in [
            MAGIC as usize,
            total_new,
            off_struct_new,
            off_strings_new,
            off_rsv_new,
            17,
            16,
            boot_cpu,
            strings.len(),
            out.len(),
        ] {
            put(&mut blob, word as u32);
        }
        blob.extend_from_slice(rsvmap);
        blob.extend_from_slice(&out);
        blob.extend_from_slice(&strings);
        Ok(blob)
    }
}

/// The two system calls, which rustix does not wrap. The only unsafe code of the agent.
#[allow(unsafe_code)]
mod sys {
    use std::ffi::{c_long, c_void};
    use std::fs::File;

    use super::{AsRawFd, Plan};

    extern "C" {
        /// syscall(2), from the C library the agent links anyway.
        fn syscall(number: c_long, ...) -> c_long;
    }

    #[cfg(any(target_arch = "aarch64", target_arch = "riscv64"))]
    const NR_KEXEC_FILE_LOAD: c_long = 294;
    #[cfg(target_arch = "x86_64")]
    const NR_KEXEC_FILE_LOAD: c_long = 320;
    #[cfg(target_arch = "arm")]
    const NR_KEXEC_FILE_LOAD: c_long = 401;
    #[cfg(not(any(
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "x86_64",
        target_arch = "arm"
    )))]
    const NR_KEXEC_FILE_LOAD: c_long = -1;

    #[cfg(any(target_arch = "aarch64", target_arch = "riscv64"))]
    const NR_KEXEC_LOAD: c_long = 104;
    #[cfg(target_arch = "x86_64")]
    const NR_KEXEC_LOAD: c_long = 246;
    #[cfg(target_arch = "arm")]
    const NR_KEXEC_LOAD: c_long = 347;
    #[cfg(not(any(
        target_arch = "aarch64",
        target_arch = "riscv64",
        target_arch = "x86_64",
        target_arch = "arm"
    )))]
    const NR_KEXEC_LOAD: c_long = -1;

    /// Flags of both calls: none (`KEXEC_ARCH_DEFAULT`, not a crash kernel).
    const NO_FLAGS: c_long = 0;

    /// `struct kexec_segment` of `<linux/kexec.h>`.
    #[repr(C)]
    struct KexecSegment {
        buf: *const c_void,
        bufsz: usize,
        mem: usize,
        memsz: usize,
    }

    /// kexec_file_load(2): <https://man7.org/linux/man-pages/man2/kexec_file_load.2.html>
    pub fn kexec_file_load(kernel: &File, initrd: &File, cmdline: &str) -> std::io::Result<()> {
        let mut text = cmdline.as_bytes().to_vec();
        text.push(0);
        // SAFETY: the descriptors are open for the call; `text` is NUL-terminated, its length
        // includes the NUL, and it outlives the call; the kernel only reads it.
        let r = unsafe {
            syscall(
                NR_KEXEC_FILE_LOAD,
                c_long::from(kernel.as_raw_fd()),
                c_long::from(initrd.as_raw_fd()),
                text.len() as c_long,
                text.as_ptr() as c_long,
                NO_FLAGS,
            )
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// kexec_load(2): <https://man7.org/linux/man-pages/man2/kexec_load.2.html>
    pub fn kexec_load(plan: &Plan) -> std::io::Result<()> {
        let segments: Vec<KexecSegment> = plan
            .segments
            .iter()
            .map(|s| KexecSegment {
                buf: s.bytes.as_ptr().cast(),
                bufsz: s.bytes.len(),
                mem: s.mem as usize,
                memsz: s.memsz as usize,
            })
            .collect();
        // SAFETY: every segment's buffer is a live Vec of `bufsz` bytes for the call, and
        // `segments` holds `len` entries; the kernel copies them and keeps no pointer.
        let r = unsafe {
            syscall(
                NR_KEXEC_LOAD,
                plan.entry as c_long,
                segments.len() as c_long,
                segments.as_ptr() as c_long,
                NO_FLAGS,
            )
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "kexec_tests.rs"]
mod tests;
