//! The board's storage as the agent sees it: slots and state records written at offsets, small
//! files replaced atomically. Behind a trait so that tests can cut the power at any write.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Alignment of direct (page-cache bypassing) writes.
pub const DIRECT_ALIGN: usize = 4096;

/// A device or file read and written at offsets.
pub trait Storage {
    /// Fills `buf` from `offset`.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes all of `buf` at `offset`.
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()>;
    /// Makes every write so far durable.
    fn sync(&mut self) -> io::Result<()>;
    /// Bytes of the device or file.
    fn size(&mut self) -> io::Result<u64>;
}

/// Whether a device is opened to read or to write too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read only.
    Read,
    /// Read and write; large aligned writes bypass the page cache where the system allows.
    Write,
}

/// The board's storage: devices, and small files replaced in one step.
pub trait Disk: Sync {
    /// Opens a device or file.
    fn open(&self, path: &Path, access: Access) -> io::Result<Box<dyn Storage + Send + '_>>;
    /// The contents of a small file, or `None` when it does not exist.
    fn read_file(&self, path: &Path) -> io::Result<Option<Vec<u8>>>;
    /// Replaces a small file so that at every instant it holds the old or the new contents
    /// (written beside it, synced, renamed over it, directory synced).
    fn replace_file(&self, path: &Path, contents: &[u8]) -> io::Result<()>;
}

/// The real storage of the running system.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealDisk;

/// A real file or device: one descriptor through the page cache, and one bypassing it
/// (`O_DIRECT`) for large aligned writes, where the file system allows it.
struct RealStorage {
    file: File,
    direct: Option<File>,
}

fn is_aligned(offset: u64, buf: &[u8]) -> bool {
    offset % DIRECT_ALIGN as u64 == 0
        && buf.len() % DIRECT_ALIGN == 0
        && (buf.as_ptr() as usize) % DIRECT_ALIGN == 0
}

impl Storage for RealStorage {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }

    fn write_at(&mut self, offset: u64, buf: &[u8]) -> io::Result<()> {
        match &self.direct {
            Some(direct) if is_aligned(offset, buf) => direct.write_all_at(buf, offset),
            _ => self.file.write_all_at(buf, offset),
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn size(&mut self) -> io::Result<u64> {
        let meta = self.file.metadata()?;
        if meta.is_file() {
            return Ok(meta.len());
        }
        // A block device reports 0 in its metadata; its end is where seeking ends.
        use std::io::Seek;
        self.file.seek(io::SeekFrom::End(0))
    }
}

impl Disk for RealDisk {
    fn open(&self, path: &Path, access: Access) -> io::Result<Box<dyn Storage + Send + '_>> {
        let write = access == Access::Write;
        let file = OpenOptions::new().read(true).write(write).open(path)?;
        let direct = if write {
            OpenOptions::new()
                .read(true)
                .write(true)
                .custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32)
                .open(path)
                .ok()
        } else {
            None
        };
        Ok(Box::new(RealStorage { file, direct }))
    }

    fn read_file(&self, path: &Path) -> io::Result<Option<Vec<u8>>> {
        match fs::read(path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn replace_file(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let mut temp = path.as_os_str().to_owned();
        temp.push(".new");
        let temp = Path::new(&temp);
        let mut file = File::create(temp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(temp, path)?;
        File::open(dir)?.sync_all()
    }
}

/// A buffer whose start is aligned for direct writes.
pub struct AlignedBuf {
    bytes: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    /// A zeroed buffer of `len` bytes starting on a [`DIRECT_ALIGN`] boundary.
    pub fn new(len: usize) -> Self {
        let bytes = vec![0u8; len + DIRECT_ALIGN];
        let start = bytes.as_ptr().align_offset(DIRECT_ALIGN).min(DIRECT_ALIGN);
        AlignedBuf { bytes, start, len }
    }

    /// The whole buffer.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let end = self.start + self.len;
        self.bytes.get_mut(self.start..end).unwrap_or(&mut [])
    }

    /// The whole buffer.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes
            .get(self.start..self.start + self.len)
            .unwrap_or(&[])
    }

    /// Bytes of the buffer.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True for a zero-length buffer.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
