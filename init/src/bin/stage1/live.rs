//! The live medium (the release's hybrid ISO, as a CD or written raw to a stick or disk):
//! finding it among the block devices, mounting it, its root image on a loop device, and the
//! installer that writes the release's disk image from it onto a disk.

use core::convert::Infallible;
use core::mem::MaybeUninit;

use nanolin_core::disk_ranges::{DiskRanges, Range, Source, DISK_RANGES_MAX_LEN};
use nanolin_core::medium::{self, PVD_OFFSET, RANGES, ROOT_IMAGE, SECTOR_LEN};
use nanolin_init::stage1::{
    disk_before, is_cdrom, is_whole_disk, tenths, BlockName, Device, Target, DEVICE_POLL_MS,
    DEVICE_WAIT_MS, DIR_BUFFER_LEN, MEDIUM, MODULES,
};
use rustix::fd::OwnedFd;
use rustix::fs::{FileType, Mode, OFlags, RawDir};
use rustix::io::Errno;
use rustix::mount::{mount, MountFlags};
use sha2::{Digest, Sha256};

use crate::say::{say, Line};
use crate::sys::{self, errno_name};
use crate::{fatal, Fatal};

/// Where the kernel lists the block devices.
const BLOCK_CLASS: &str = "/sys/class/block";

/// Bytes in a MiB, for messages.
const MIB: u64 = 1 << 20;

/// The live medium, found and mounted on [`MEDIUM`].
pub struct Medium {
    /// Its block device's name (`sr0`, `sdb`).
    pub name: BlockName,
    /// Its device (`/dev/sr0`).
    pub device: Device,
}

/// `/dev/NAME`.
fn dev_path(name: &str) -> Device {
    let mut device = Device::new();
    let _ = device.push_str("/dev/");
    let _ = device.push_str(name);
    device
}

/// Calls `f` with the name of every block device the kernel lists now, until it says stop.
fn each_block_device(mut f: impl FnMut(&str) -> bool) -> Result<(), Errno> {
    let dir = rustix::fs::open(
        BLOCK_CLASS,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut buf = [MaybeUninit::<u8>::uninit(); DIR_BUFFER_LEN];
    let mut entries = RawDir::new(&dir, &mut buf);
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let Ok(name) = entry.file_name().to_str() else {
            continue;
        };
        if !name.starts_with('.') && name.len() <= BlockName::new().capacity() && !f(name) {
            break;
        }
    }
    Ok(())
}

/// Whether `device` holds an ISO 9660 file system with the volume id `volume_id`.
fn has_volume_id(device: &str, volume_id: &str) -> bool {
    let Ok(fd) = rustix::fs::open(device, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) else {
        return false;
    };
    let mut sector = [0u8; SECTOR_LEN];
    sys::read_exact_at(&fd, &mut sector, PVD_OFFSET).is_ok()
        && medium::volume_id(&sector) == Some(volume_id)
}

/// Finds the medium whose ISO 9660 volume id is `volume_id` among the CD drives and whole
/// disks (never by a partition: the medium must not be a target's partition), waiting up to
/// [`DEVICE_WAIT_MS`] for it to appear, and mounts it read-only on [`MEDIUM`].
pub fn mount_medium(volume_id: &str) -> Result<Medium, Fatal> {
    let start = sys::now_ms();
    let mut found = None;
    loop {
        let listed = each_block_device(|name| {
            if !(is_cdrom(name) || is_whole_disk(name)) {
                return true;
            }
            let device = dev_path(name);
            if !has_volume_id(&device, volume_id) {
                return true;
            }
            let mut block = BlockName::new();
            let _ = block.push_str(name);
            found = Some(Medium {
                name: block,
                device,
            });
            false
        });
        if let Err(e) = listed {
            return Err(fatal!(
                "unable to list the block devices in {BLOCK_CLASS}: {}",
                errno_name(e)
            ));
        }
        if found.is_some() || sys::now_ms().saturating_sub(start) >= DEVICE_WAIT_MS {
            break;
        }
        sys::sleep_ms(DEVICE_POLL_MS);
    }
    let medium = found.ok_or_else(|| {
        fatal!(
            "the live medium {volume_id} did not appear within {} s: no CD or disk holds an \
             ISO 9660 file system of that volume id; check that the medium is in, and that \
             its drive's driver (ahci, sr_mod, usb_storage, nvme…) is in {MODULES}",
            DEVICE_WAIT_MS / 1000
        )
    })?;
    let device = medium.device.as_str();
    sys::mkdir_all(MEDIUM)
        .and_then(|()| mount(device, MEDIUM, "iso9660", MountFlags::RDONLY, None))
        .map_err(|e| {
            fatal!(
                "unable to mount the live medium {device} (iso9660) on {MEDIUM}: {}; is isofs \
                 in {MODULES}?",
                errno_name(e)
            )
        })?;
    say!("live medium {volume_id} on {device}, mounted on {MEDIUM}");
    Ok(medium)
}

/// `MEDIUM/path`.
fn on_medium(path: &str) -> Line {
    let mut line = Line::new();
    let _ = core::fmt::Write::write_fmt(&mut line, format_args!("{MEDIUM}/{path}"));
    line
}

/// Attaches the medium's root image to a free loop device, read-only; returns the device.
pub fn attach_root_image() -> Result<Device, Fatal> {
    let image = on_medium(ROOT_IMAGE);
    let image = image.as_str();
    let file =
        rustix::fs::open(image, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| {
            fatal!(
                "unable to open the live root image {image}: {}; the medium is not a Nanolin \
                 release's ISO, or is damaged",
                errno_name(e)
            )
        })?;
    let no_loop =
        |what: &str, e: Errno| fatal!("unable to {what}: {}; is loop in {MODULES}?", errno_name(e));
    let control = rustix::fs::open(
        "/dev/loop-control",
        OFlags::RDWR | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| no_loop("open /dev/loop-control", e))?;
    let number = sys::loop_get_free(&control).map_err(|e| no_loop("get a free loop device", e))?;
    let mut device = Device::new();
    let _ = core::fmt::Write::write_fmt(&mut device, format_args!("/dev/loop{number}"));
    let path = device.as_str();
    sys::wait_for(path, DEVICE_WAIT_MS).map_err(|e| no_loop("see the new loop device", e))?;
    let opened = rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| no_loop("open the loop device", e))?;
    sys::loop_attach_read_only(&opened, &file).map_err(|e| {
        fatal!(
            "unable to attach {image} to {path} (LOOP_CONFIGURE): {}; the kernel needs Linux \
             5.8 or later",
            errno_name(e)
        )
    })?;
    Ok(device)
}

/// Installs the release from the live medium `volume_id` onto `target`: reads every range of
/// the medium's ranges file and checks it against its SHA-256 before a byte reaches the disk
/// (a damaged medium leaves the disk as it was), then writes the blocks, each range checked
/// again as it is copied, syncs, and powers off. Returns only when it cannot go on, its reason said.
pub fn install(volume_id: &str, target: Result<Target<'_>, &str>) -> Result<Infallible, Fatal> {
    let target = target.map_err(|typed| {
        fatal!(
            "nanolin.install={typed} names no disk: give auto (the first disk that is not the \
             medium) or a device such as /dev/sda"
        )
    })?;
    let medium = mount_medium(volume_id)?;
    let mut text = [0u8; DISK_RANGES_MAX_LEN];
    let path = on_medium(RANGES);
    let path = path.as_str();
    let text = sys::read_file(&mut text, path).map_err(|e| {
        fatal!(
            "unable to read {path}: {} (at most {DISK_RANGES_MAX_LEN} bytes of UTF-8); the \
             medium is not a Nanolin release's ISO, or is damaged",
            errno_name(e)
        )
    })?;
    let ranges = DiskRanges::parse(text)
        .map_err(|e| fatal!("{path}: {e}; the medium is damaged: write the ISO again"))?;
    let (device, disk) = open_target(target, &medium)?;
    let device = device.as_str();
    let header = ranges.header();
    let size = sys::block_device_size(&disk)
        .map_err(|e| fatal!("unable to read the size of {device}: {}", errno_name(e)))?;
    if size < header.image_size {
        return Err(fatal!(
            "{device} holds {size} bytes, but the release's disk image needs {}: install onto \
             a larger disk",
            header.image_size
        ));
    }
    let buf =
        sys::copy_buffer().ok_or_else(|| fatal!("internal error: the copy buffer is taken"))?;
    say!(
        "installing onto {device} ({} MiB; everything on it is erased): {} MiB in {} ranges \
         from {}",
        size / MIB,
        ranges.written_bytes() / MIB,
        ranges.len(),
        medium.device
    );
    let start = sys::now_ms();
    let file_bytes = ranges
        .ranges()
        .filter(|r| !matches!(r.source, Source::Zeros))
        .map(|r| r.len(&header))
        .fold(0u64, u64::saturating_add);
    let mut progress = Progress::new("checking the medium", file_bytes);
    for range in ranges.ranges() {
        copy_range(None, device, &range, &header, buf, &mut progress)?;
    }
    let mut progress = Progress::new("installing", ranges.written_bytes());
    for range in ranges.ranges() {
        copy_range(Some(&disk), device, &range, &header, buf, &mut progress)?;
    }
    rustix::fs::fsync(&disk).map_err(|e| fatal!("unable to flush {device}: {}", errno_name(e)))?;
    let ms = sys::now_ms().saturating_sub(start);
    say!(
        "installed {} bytes onto {device} in {}.{} s, every range checked",
        progress.done,
        ms / 1000,
        ms % 1000 / 100
    );
    say!("the medium can be removed now; powering off");
    sys::power_off()
}

/// What has been read or written, and the last tenth shown.
struct Progress {
    what: &'static str,
    total: u64,
    done: u64,
    shown: u64,
}

impl Progress {
    fn new(what: &'static str, total: u64) -> Self {
        Progress {
            what,
            total,
            done: 0,
            shown: 0,
        }
    }

    fn advance(&mut self, bytes: u64) {
        self.done = self.done.saturating_add(bytes);
        let now = tenths(self.done, self.total);
        if now > self.shown {
            self.shown = now;
            say!(
                "{}: {}% ({} of {} MiB)",
                self.what,
                now * 10,
                self.done / MIB,
                self.total / MIB
            );
        }
    }
}

/// Writes one range onto `disk`: zeros, or the bytes of its file on the medium, checked
/// against the range's SHA-256. Without a disk, only reads and checks a file's range.
fn copy_range(
    disk: Option<&OwnedFd>,
    device: &str,
    range: &Range<'_>,
    header: &nanolin_core::disk_ranges::Header,
    buf: &mut [u8],
    progress: &mut Progress,
) -> Result<(), Fatal> {
    let at = range.disk_offset(header);
    let len = range.len(header);
    let write_failed = |offset: u64, e: Errno| {
        fatal!(
            "unable to write {device} at byte {offset}: {}; the disk is left incomplete",
            errno_name(e)
        )
    };
    let (path, offset, sha256) = match (range.source, disk) {
        (Source::Zeros, None) => return Ok(()),
        (Source::Zeros, Some(disk)) => {
            return write_zeros(disk, at, len, buf, progress).map_err(|(o, e)| write_failed(o, e))
        }
        (
            Source::File {
                path,
                offset,
                sha256,
            },
            _,
        ) => (path, offset, sha256),
    };
    let file = on_medium(path);
    let file = file.as_str();
    let source =
        rustix::fs::open(file, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).map_err(|e| {
            fatal!(
                "unable to open {file}: {}; the medium is damaged: write the ISO again",
                errno_name(e)
            )
        })?;
    let mut hasher = Sha256::new();
    let mut done = 0u64;
    while done < len {
        let n = usize::try_from(len - done)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let chunk = buf.get_mut(..n).unwrap_or_default();
        sys::read_exact_at(&source, chunk, offset.saturating_add(done)).map_err(|e| {
            fatal!(
                "unable to read {file} at byte {}: {}; the medium is damaged: write the ISO \
                 again",
                offset.saturating_add(done),
                errno_name(e)
            )
        })?;
        hasher.update(&*chunk);
        if let Some(disk) = disk {
            sys::write_all_at(disk, chunk, at + done).map_err(|e| write_failed(at + done, e))?;
        }
        done += n as u64;
        progress.advance(n as u64);
    }
    if <[u8; 32]>::from(hasher.finalize()) != sha256 {
        return Err(fatal!(
            "blocks {} to {} read from {file} do not match their SHA-256: the medium gave bad \
             bytes (write the ISO again, or use another medium); {device} is {}",
            range.first_block,
            range.first_block + range.block_count - 1,
            if disk.is_some() {
                "left incomplete"
            } else {
                "untouched"
            }
        ));
    }
    Ok(())
}

/// Zeroes `len` bytes of `disk` from `at`: by the device's own command (BLKZEROOUT) where it
/// has one, else by writing zeros from `buf`. On failure, where it failed and why.
fn write_zeros(
    disk: &OwnedFd,
    at: u64,
    len: u64,
    buf: &mut [u8],
    progress: &mut Progress,
) -> Result<(), (u64, Errno)> {
    let mut offload = true;
    let mut zeroed = false;
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(buf.len() as u64);
        if offload {
            match sys::zero_out(disk, at + done, n) {
                Ok(()) => {
                    done += n;
                    progress.advance(n);
                    continue;
                }
                Err(Errno::NOTTY | Errno::OPNOTSUPP | Errno::INVAL) => offload = false,
                Err(e) => return Err((at + done, e)),
            }
        }
        if !zeroed {
            buf.fill(0);
            zeroed = true;
        }
        let chunk = buf.get(..n as usize).unwrap_or_default();
        sys::write_all_at(disk, chunk, at + done).map_err(|e| (at + done, e))?;
        done += n;
        progress.advance(n);
    }
    Ok(())
}

/// The disk to install onto, open for writing (exclusively: not one in use), and its path.
fn open_target(target: Target<'_>, medium: &Medium) -> Result<(Device, OwnedFd), Fatal> {
    let device = match target {
        Target::Auto => first_disk(medium)?,
        Target::Device(path) => {
            sys::wait_for(path, DEVICE_WAIT_MS).map_err(|e| {
                fatal!(
                    "the install target {path} did not appear within {} s ({}): check its name, \
                     and that its driver is in {MODULES}",
                    DEVICE_WAIT_MS / 1000,
                    errno_name(e)
                )
            })?;
            let mut device = Device::new();
            let _ = device.push_str(path);
            device
        }
    };
    let path = device.as_str();
    let disk = rustix::fs::open(
        path,
        OFlags::RDWR | OFlags::EXCL | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| match e {
        Errno::BUSY => fatal!("{path} is in use (mounted?): not installing onto it"),
        e => fatal!("unable to open {path} for writing: {}", errno_name(e)),
    })?;
    let stat = rustix::fs::fstat(&disk)
        .map_err(|e| fatal!("unable to look at {path}: {}", errno_name(e)))?;
    if FileType::from_raw_mode(stat.st_mode) != FileType::BlockDevice {
        return Err(fatal!(
            "{path} is not a block device: name a disk, such as /dev/sda"
        ));
    }
    let same = rustix::fs::stat(medium.device.as_str()).is_ok_and(|m| m.st_rdev == stat.st_rdev);
    if same {
        return Err(fatal!(
            "{path} is the live medium itself: name another disk"
        ));
    }
    Ok((device, disk))
}

/// The first whole disk that is not the medium and has a size ([`disk_before`]), waiting up
/// to [`DEVICE_WAIT_MS`] for one to appear.
fn first_disk(medium: &Medium) -> Result<Device, Fatal> {
    let start = sys::now_ms();
    loop {
        let mut best: Option<BlockName> = None;
        let listed = each_block_device(|name| {
            let candidate = is_whole_disk(name)
                && name != medium.name.as_str()
                && best.as_ref().is_none_or(|b| disk_before(name, b))
                && rustix::fs::open(
                    dev_path(name).as_str(),
                    OFlags::RDONLY | OFlags::CLOEXEC,
                    Mode::empty(),
                )
                .and_then(|fd| sys::block_device_size(&fd))
                .is_ok_and(|size| size > 0);
            if candidate {
                let mut b = BlockName::new();
                let _ = b.push_str(name);
                best = Some(b);
            }
            true
        });
        if let Err(e) = listed {
            return Err(fatal!(
                "unable to list the block devices in {BLOCK_CLASS}: {}",
                errno_name(e)
            ));
        }
        if let Some(name) = best {
            return Ok(dev_path(&name));
        }
        if sys::now_ms().saturating_sub(start) >= DEVICE_WAIT_MS {
            return Err(fatal!(
                "no disk to install onto: no whole disk (vd*, sd*, nvme*n*, mmcblk*) other than \
                 the medium {} appeared within {} s; attach one, or name it with \
                 nanolin.install=/dev/…",
                medium.device,
                DEVICE_WAIT_MS / 1000
            ));
        }
        sys::sleep_ms(DEVICE_POLL_MS);
    }
}
