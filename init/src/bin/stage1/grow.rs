//! Growing the data file system to its partition.
//!
//! A release's disk image carries a small ext4 on the data partition (a flash writes every
//! block of it); at every boot stage1 asks the kernel to grow the mounted file system to the
//! whole partition (`EXT4_IOC_RESIZE_FS`, online, what `resize2fs` does for a mounted ext4).
//! Once it fills the partition the kernel has nothing to do.

use rustix::fd::AsFd;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::ioctl::{ioctl, opcode, Setter};

use crate::say::say;
use crate::sys::{self, errno_name};

/// `EXT4_IOC_RESIZE_FS`: grow a mounted ext4 to this many blocks.
const EXT4_IOC_RESIZE_FS: rustix::ioctl::Opcode = opcode::write::<u64>(b'f', 16);

/// Bytes in a MiB, for messages.
const MIB: u64 = 1 << 20;

/// Grows the ext4 mounted on `mount_point` to the size of `device`. Reports growth and
/// failure; a failed growth leaves the file system as it was, still mounted.
pub fn grow_to_device(device: &str, mount_point: &str) {
    let sizes = device_size(device).and_then(|bytes| {
        let dir = rustix::fs::open(
            mount_point,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let before = rustix::fs::fstatfs(&dir)?;
        let block = wide(before.f_bsize);
        if block == 0 {
            return Err(Errno::INVAL);
        }
        // SAFETY: EXT4_IOC_RESIZE_FS reads one u64 through its argument.
        unsafe {
            ioctl(
                dir.as_fd(),
                Setter::<EXT4_IOC_RESIZE_FS, u64>::new(bytes / block),
            )
        }?;
        let after = rustix::fs::fstatfs(&dir)?;
        let mib = |blocks| wide(blocks).saturating_mul(block) / MIB;
        Ok((mib(before.f_blocks), mib(after.f_blocks)))
    });
    match sizes {
        Ok((before, after)) if after > before => {
            say!("data grown from {before} MiB to {after} MiB: it fills {device}")
        }
        Ok(_) => {}
        Err(e) => say!(
            "unable to grow the data file system to the whole of {device}: {}; it keeps its \
             size",
            errno_name(e)
        ),
    }
}

/// The size of the block device `device`, in bytes.
fn device_size(device: &str) -> Result<u64, Errno> {
    let fd = rustix::fs::open(device, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())?;
    sys::block_device_size(&fd)
}

/// A statfs field as a u64: their types differ between architectures and C libraries.
fn wide<T: TryInto<u64>>(n: T) -> u64 {
    n.try_into().unwrap_or(0)
}
