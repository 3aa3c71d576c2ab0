//! The one-pass limit of an A/B install (tests/bench/install.sh).
//!
//!     onepass IMAGE SLOT
//!
//! Reads IMAGE, SHA-256s it and writes it to SLOT (a file or a block device) with O_DIRECT
//! through 4 MiB aligned buffers, then fsyncs SLOT: the least work any installer that checks
//! a hash must do. Three threads form a pipeline (read → hash → write) so reading, hashing and
//! writing overlap; buffers circulate, nothing is copied twice. Prints one line:
//!
//!     BYTES SECONDS SHA256HEX
//!
//! SECONDS runs from before IMAGE is opened until fsync returned.

use sha2::{Digest, Sha256};
use std::alloc::{alloc_zeroed, Layout};
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Instant;

const BUF: usize = 4 << 20; // 4 MiB per write
const ALIGN: usize = 4096; // O_DIRECT: address, length and offset aligned to the block size
const NBUF: usize = 4;

/// A 4 MiB, 4 KiB-aligned buffer that lives for the whole run (leaked on purpose).
struct Block {
    ptr: *mut u8,
    len: usize,
}
unsafe impl Send for Block {}
impl Block {
    fn new() -> Block {
        let layout = Layout::from_size_align(BUF, ALIGN).unwrap();
        let ptr = unsafe { alloc_zeroed(layout) };
        assert!(!ptr.is_null(), "out of memory");
        Block { ptr, len: 0 }
    }
    fn full(&mut self) -> &mut [u8] {
        unsafe { std::slice::from_raw_parts_mut(self.ptr, BUF) }
    }
    fn data(&self) -> &[u8] {
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

fn open(path: &std::ffi::OsStr, flags: libc::c_int) -> io::Result<libc::c_int> {
    let c = CString::new(path.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let fd = unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, 0o644) };
    if fd < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(fd)
    }
}

fn check(r: libc::ssize_t) -> io::Result<usize> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

fn reader(fd: libc::c_int, free: Receiver<Block>, out: SyncSender<Block>) -> io::Result<()> {
    for mut b in free {
        let buf = b.full();
        let mut n = 0;
        while n < BUF {
            let r = loop {
                let r = unsafe { libc::read(fd, buf[n..].as_mut_ptr().cast(), BUF - n) };
                if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                break check(r)?;
            };
            if r == 0 {
                break;
            }
            n += r;
        }
        b.len = n;
        let last = n < BUF;
        if out.send(b).is_err() || last {
            break;
        }
    }
    Ok(())
}

fn writer(fd: libc::c_int, inp: Receiver<Block>, free: SyncSender<Block>) -> io::Result<u64> {
    let mut off: u64 = 0;
    let mut direct = true;
    for b in inp {
        let data = b.data();
        if data.is_empty() {
            break;
        }
        // The tail of an image whose size is not a multiple of the block size: O_DIRECT
        // cannot write it, so drop O_DIRECT for that last write.
        if data.len() % ALIGN != 0 && direct {
            unsafe {
                let fl = libc::fcntl(fd, libc::F_GETFL);
                check(libc::fcntl(fd, libc::F_SETFL, fl & !libc::O_DIRECT) as libc::ssize_t)?;
            }
            direct = false;
        }
        let mut n = 0;
        while n < data.len() {
            let r = unsafe {
                libc::pwrite(fd, data[n..].as_ptr().cast(), data.len() - n, (off + n as u64) as libc::off_t)
            };
            if r < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            n += check(r)?;
        }
        off += data.len() as u64;
        let last = data.len() < BUF;
        let _ = free.send(b);
        if last {
            break;
        }
    }
    if unsafe { libc::fsync(fd) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(off)
}

fn run(src: &std::ffi::OsStr, dst: &std::ffi::OsStr) -> io::Result<(u64, f64, String)> {
    let t0 = Instant::now();
    let ifd = open(src, libc::O_RDONLY)?;
    unsafe { libc::posix_fadvise(ifd, 0, 0, libc::POSIX_FADV_SEQUENTIAL) };
    let ofd = open(dst, libc::O_WRONLY | libc::O_CREAT | libc::O_DIRECT)?;

    let (free_tx, free_rx) = sync_channel::<Block>(NBUF);
    let (read_tx, read_rx) = sync_channel::<Block>(NBUF);
    let (hash_tx, hash_rx) = sync_channel::<Block>(NBUF);
    for _ in 0..NBUF {
        free_tx.send(Block::new()).unwrap();
    }
    let free_tx2 = free_tx.clone();
    drop(free_tx);
    let rd = std::thread::spawn(move || reader(ifd, free_rx, read_tx));
    let wr = std::thread::spawn(move || writer(ofd, hash_rx, free_tx2));

    let mut h = Sha256::new();
    for b in read_rx {
        h.update(b.data());
        let last = b.len < BUF;
        if hash_tx.send(b).is_err() || last {
            break;
        }
    }
    drop(hash_tx);
    let hashed = h.finalize();
    rd.join().unwrap()?;
    let written = wr.join().unwrap()?;
    let secs = t0.elapsed().as_secs_f64();
    unsafe {
        libc::close(ifd);
        libc::close(ofd);
    }
    let hex: String = hashed.iter().map(|b| format!("{b:02x}")).collect();
    Ok((written, secs, hex))
}

fn main() {
    let args: Vec<_> = std::env::args_os().collect();
    if args.len() != 3 {
        eprintln!("usage: onepass IMAGE SLOT");
        std::process::exit(2);
    }
    match run(&args[1], &args[2]) {
        Ok((bytes, secs, hex)) => println!("{bytes} {secs:.3} {hex}"),
        Err(e) => {
            eprintln!("onepass: {e}");
            std::process::exit(1);
        }
    }
}
