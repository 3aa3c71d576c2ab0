//! `nanolin release run`: a release's disk image booted in QEMU as its board would boot it.
//!
//! The QEMU command is the board file's `qemu=` (machine, CPU, memory, firmware such as OVMF
//! for GRUB boards), then what every board gets:
//!
//! - the disk image as a virtio disk (`-drive if=none,format=raw … -device virtio-blk-pci`),
//!   the board's `disk_device`; with `--snapshot` QEMU keeps writes in memory;
//! - for boards without a bootloader (`native`), the kernel and initramfs written beside the
//!   image (`….kernel`, `….initrd`) with `-kernel`, `-initrd` and the command line;
//! - a user-mode network (`-netdev user`) in which the host is `10.0.2.2`, where the demo's
//!   repository is served;
//! - the board's watchdog (`-device i6300esb`), whose expiry resets the machine;
//! - the serial console on this terminal (`-nographic`: Ctrl-A X quits), or in a file with
//!   `--log`.
//!
//! QEMU replaces this process, so its exit status is the command's.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::board::{Board, Bootloader};
use crate::bootfs::kernel_cmdline;
use crate::cli::ReleaseRunArgs;
use crate::error::{Error, Status};

/// The file name ending of a release's disk image.
pub const DISK_SUFFIX: &str = ".disk.img";

/// The release file beside `image` with `suffix` in place of [`DISK_SUFFIX`].
fn sibling(image: &Path, suffix: &str) -> Result<PathBuf, Error> {
    let text = image.to_string_lossy();
    let base = text.strip_suffix(DISK_SUFFIX).ok_or_else(|| {
        Error::Usage(format!(
            "{}: not a release's disk image (NAME{DISK_SUFFIX}, from nanolin release build)",
            image.display()
        ))
    })?;
    Ok(PathBuf::from(format!("{base}{suffix}")))
}

/// The board a release was built for, from its `.release` file.
fn release_board(image: &Path) -> Result<String, Error> {
    let description = sibling(image, ".release")?;
    let text = std::fs::read_to_string(&description).map_err(|e| {
        Error::Usage(format!(
            "unable to read {} to learn the board ({e}): name it with --board",
            description.display()
        ))
    })?;
    text.lines()
        .find_map(|l| l.strip_prefix("board="))
        .map(|b| b.trim_matches('"').to_string())
        .ok_or_else(|| {
            Error::Refused(format!(
                "{}: no board= line: name the board with --board",
                description.display()
            ))
        })
}

/// The QEMU command that boots `image` on `board`.
pub fn qemu_command(
    board: &Board,
    image: &Path,
    log: Option<&Path>,
    snapshot: bool,
) -> Result<Command, Error> {
    let Some((program, machine)) = board.qemu.split_first() else {
        return Err(Error::Refused(format!(
            "board {} is hardware ({}): QEMU cannot boot it; flash the image with bmaptool",
            board.name,
            board.path.display()
        )));
    };
    if !image.is_file() {
        return Err(Error::Usage(format!(
            "{}: no such disk image",
            image.display()
        )));
    }
    let mut qemu = Command::new(program);
    qemu.args(machine);
    if board.bootloader == Bootloader::Native {
        let (kernel, initrd) = (sibling(image, ".kernel")?, sibling(image, ".initrd")?);
        for file in [&kernel, &initrd] {
            if !file.is_file() {
                return Err(Error::Usage(format!(
                    "{}: missing; a {} board boots the kernel and initramfs written beside its \
                     disk image by nanolin release build",
                    file.display(),
                    board.bootloader
                )));
            }
        }
        qemu.arg("-kernel")
            .arg(kernel)
            .arg("-initrd")
            .arg(initrd)
            .arg("-append")
            .arg(kernel_cmdline(board, None));
    }
    let mut drive = std::ffi::OsString::from("if=none,format=raw,id=disk0,file=");
    drive.push(image);
    qemu.arg("-drive")
        .arg(drive)
        .args(["-device", "virtio-blk-pci,drive=disk0"]);
    if snapshot {
        qemu.arg("-snapshot");
    }
    qemu.args([
        "-netdev",
        "user,id=net0",
        "-device",
        "virtio-net-pci,netdev=net0",
    ]);
    if let Some(watchdog) = &board.watchdog {
        qemu.args(["-device", watchdog]);
    }
    match log {
        Some(log) => {
            let mut chardev = std::ffi::OsString::from("file,id=console,path=");
            chardev.push(log);
            qemu.args(["-display", "none", "-monitor", "none", "-chardev"])
                .arg(chardev)
                .args(["-serial", "chardev:console"]);
        }
        None => {
            qemu.arg("-nographic");
        }
    }
    Ok(qemu)
}

/// `nanolin release run`.
pub fn run(args: ReleaseRunArgs) -> Result<Status, Error> {
    let name = match &args.board {
        Some(name) => name.clone(),
        None => release_board(&args.image)?,
    };
    let board = Board::find(&args.boards, &name)?;
    let mut qemu = qemu_command(&board, &args.image, args.log.as_deref(), args.snapshot)?;
    let line = std::iter::once(qemu.get_program())
        .chain(qemu.get_args())
        .map(|a| a.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    if args.print {
        println!("{line}");
        return Ok(Status::Success);
    }
    eprintln!(
        "==> booting {} on {}: {line}",
        args.image.display(),
        board.name
    );
    if args.log.is_none() {
        eprintln!("    (the serial console follows; Ctrl-A X quits QEMU)");
    }
    let error = qemu.exec();
    Err(Error::Refused(format!(
        "unable to run {}: {error}: install QEMU (Debian: qemu-system-arm, qemu-system-x86)",
        board.qemu.first().map(String::as_str).unwrap_or("qemu")
    )))
}
