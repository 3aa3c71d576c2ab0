//! The install path, one function of named steps, after RAUC's `do_install_bundle`:
//! check the bundle → refuse by policy → choose the slot → write → verify → flip the boot
//! state.
//!
//! Nothing unverified reaches a slot: the manifest's signature is checked before the manifest
//! is decoded; each table block is checked against the signed manifest before its hashes are
//! used; each chunk is checked against its hash before it is written. The target slot is
//! marked unbootable before its first byte changes and becomes bootable only after the whole
//! image's hash has been checked and the slot synced, so power loss at any instant leaves a
//! board that boots a complete, verified image.
//!
//! Memory is constant: one table block, a few write batches, and (for deltas) an index of the
//! running slot's chunks bounded by [`MAX_DELTA_CHUNKS`].

use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::time::Instant;

use nanolin_core::boot_state::BootSlot;
use nanolin_core::bundle::{BundleHeader, ImageManifest, Manifest};
use nanolin_core::limits::{BUNDLE_HEADER_LEN, CHUNK_HASH_LEN};
use nanolin_core::{PublicKeyFile, SignatureFile, SignatureVerifier};
use sha2::{Digest, Sha256};

use crate::bootstate::BootStateStore;
use crate::config::AgentConfig;
use crate::error::{AgentError, Refusal};
use crate::source::Source;
use crate::status::{LastResult, SlotCondition, Status};
use crate::storage::{Access, AlignedBuf, Disk, Storage};

/// Bytes of one write batch: large enough for full-speed direct writes.
pub const BATCH_LEN: usize = 512 * 1024;

/// Write batches in flight: one being filled, one queued, one being written.
pub const BATCHES: usize = 3;

/// Most chunks of the running slot indexed for a delta (16 bytes each: 1 MiB). Chunks past
/// this are downloaded.
pub const MAX_DELTA_CHUNKS: usize = 65_536;

/// How an install is asked for.
#[derive(Debug, Clone, Copy)]
pub struct InstallOptions {
    /// Accept a release older than the booted one (never below the floor).
    pub allow_downgrade: bool,
    /// Take chunks already on the board instead of downloading them (remote sources).
    pub delta: bool,
    /// Now, in seconds since 1970 (expiry).
    pub now: u64,
    /// Print progress lines.
    pub progress: bool,
}

/// What an install did.
#[derive(Debug, Clone, Default)]
pub struct InstallReport {
    /// The release installed.
    pub version: String,
    /// The slot written.
    pub slot: Option<BootSlot>,
    /// Bytes of images written.
    pub image_bytes: u64,
    /// Bytes fetched from the source (header, manifest, tables and chunks).
    pub downloaded: u64,
    /// Bytes already in the target slot (a resumed install).
    pub reused_in_place: u64,
    /// Bytes copied from the running slot.
    pub reused_from_running: u64,
    /// Seconds taken.
    pub seconds: f64,
}

impl InstallReport {
    /// Bytes not downloaded.
    pub fn reused(&self) -> u64 {
        self.reused_in_place + self.reused_from_running
    }
}

/// A checked bundle: header and manifest bytes, the manifest verified.
pub struct CheckedBundle {
    /// The header.
    pub header: BundleHeader,
    manifest_bytes: Vec<u8>,
    /// Bytes of the whole bundle.
    pub len: u64,
}

impl CheckedBundle {
    /// The decoded manifest.
    pub fn manifest(&self) -> Result<Manifest<'_>, AgentError> {
        Manifest::parse(&self.manifest_bytes).map_err(|e| Refusal::Bundle(e).into())
    }
}

/// Step 1: bounds before reading, signature before parsing.
pub fn check_bundle(
    source: &mut dyn Source,
    keys: &[std::path::PathBuf],
) -> Result<CheckedBundle, AgentError> {
    let len = source.size()?;
    if len < BUNDLE_HEADER_LEN as u64 {
        return Err(Refusal::Length {
            expected: BUNDLE_HEADER_LEN as u64,
            got: len,
        }
        .into());
    }
    let mut head = [0u8; BUNDLE_HEADER_LEN];
    source.plan(0, BUNDLE_HEADER_LEN as u64);
    source.read_at(0, &mut head)?;
    let header = BundleHeader::parse(&head).map_err(Refusal::Bundle)?;
    if len < header.payload_offset() {
        return Err(Refusal::Length {
            expected: header.payload_offset(),
            got: len,
        }
        .into());
    }
    let mut manifest_bytes = vec![0u8; header.manifest_len as usize];
    let mut signature = vec![0u8; header.signature_len as usize];
    source.plan(header.manifest_offset(), header.payload_offset());
    source.read_at(header.manifest_offset(), &mut manifest_bytes)?;
    source.read_at(header.signature_offset(), &mut signature)?;
    verify_manifest(&manifest_bytes, &signature, keys)?;
    let bundle = CheckedBundle {
        header,
        manifest_bytes,
        len,
    };
    let expected = header.payload_offset() + bundle.manifest()?.payload_len();
    if len != expected {
        return Err(Refusal::Length { expected, got: len }.into());
    }
    Ok(bundle)
}

/// Checks `signature` over `message` with the trusted key it names.
pub fn verify_manifest(
    message: &[u8],
    signature: &[u8],
    keys: &[std::path::PathBuf],
) -> Result<(), AgentError> {
    let sig = SignatureFile::parse(signature)
        .map_err(|e| Refusal::Signature(format!("the signature is malformed: {e}")))?;
    let number = sig.signature.key_number;
    for path in keys {
        let text =
            std::fs::read(path).map_err(|e| AgentError::io("read the trusted key", path, e))?;
        let key = PublicKeyFile::parse(&text)
            .map_err(|e| AgentError::Config(format!("trusted key {}: {e}", path.display())))?
            .key;
        if key.key_number != number {
            continue;
        }
        let bad = |e: nanolin_core::VerifyError| Refusal::Signature(format!("{e}"));
        if let Some(trusted) = &sig.trusted {
            nanolin_core::verifier::verify_trusted_comment(&key, &sig.signature, trusted)
                .map_err(bad)?;
        }
        let mut verifier = SignatureVerifier::new(&key, &sig.signature).map_err(bad)?;
        verifier.update(message);
        return verifier.finish().map_err(|e| bad(e).into());
    }
    Err(Refusal::Signature(format!(
        "signed by key {number}, which is not among the trusted keys (keys= in agent.conf)"
    ))
    .into())
}

/// Step 2: refuse by policy: board, version, floor, expiry.
pub fn check_policy(
    manifest: &Manifest<'_>,
    config: &AgentConfig,
    status: &Status,
    booted: BootSlot,
    options: &InstallOptions,
) -> Result<(), AgentError> {
    if manifest.compatible != config.compatible {
        return Err(Refusal::WrongBoard {
            bundle: manifest.compatible.into(),
            ours: config.compatible.clone(),
        }
        .into());
    }
    if let Some(floor) = status.floor {
        if manifest.version < floor {
            return Err(Refusal::BelowFloor {
                bundle: manifest.version.to_string(),
                floor: floor.to_string(),
            }
            .into());
        }
    }
    if let Some(installed) = status.slot(booted).version {
        if manifest.version <= installed && !options.allow_downgrade {
            return Err(Refusal::NotNewer {
                bundle: manifest.version.to_string(),
                installed: installed.to_string(),
            }
            .into());
        }
    }
    if let Some(expires) = manifest.expires {
        if options.now > expires {
            return Err(Refusal::Expired {
                what: "the bundle",
                expires,
                now: options.now,
            }
            .into());
        }
    }
    Ok(())
}

/// The slots that take `image`.
fn slot_pair<'c>(
    config: &'c AgentConfig,
    image: &ImageManifest<'_>,
) -> Result<&'c crate::config::SlotPair, AgentError> {
    config.slot_pair(image.name).ok_or_else(|| {
        Refusal::NoSlot {
            image: image.name.into(),
        }
        .into()
    })
}

/// Installs the bundle from `source` into the slot that is not booted, and makes that slot
/// the next to boot.
pub fn install(
    config: &AgentConfig,
    disk: &dyn Disk,
    store: &mut dyn BootStateStore,
    source: &mut dyn Source,
    booted: BootSlot,
    options: &InstallOptions,
) -> Result<InstallReport, AgentError> {
    let started = Instant::now();
    let bundle = check_bundle(source, &config.keys)?;
    let manifest = bundle.manifest()?;
    let mut status = Status::load(disk, &config.state_dir)?;
    check_policy(&manifest, config, &status, booted, options)?;

    // Step 3: the slot, and room for every image, before anything is written.
    let target = booted.other();
    for image in manifest.images() {
        let path = slot_pair(config, image)?.path(target);
        let size = disk
            .open(path, Access::Read)
            .and_then(|mut d| d.size())
            .map_err(|e| AgentError::io("open the target slot", path, e))?;
        if size < image.size {
            return Err(Refusal::SlotTooSmall {
                path: path.into(),
                size,
                needed: image.size,
            }
            .into());
        }
    }
    let mut report = InstallReport {
        version: manifest.version.to_string(),
        slot: Some(target),
        ..InstallReport::default()
    };
    if options.progress {
        crate::say!(
            "nanolin-agent: installing {} from {} into slot {target} (booted: {booted})",
            manifest.version,
            source.describe()
        );
    }

    // A bundle on the board is checked whole first: every table block, every chunk and the
    // image hash, so a damaged bundle is refused before anything changes. (A download is
    // checked chunk by chunk as it arrives: fetching it twice would double the traffic.)
    let prechecked = match source.local_file() {
        Some(file) => {
            for image in manifest.images() {
                precheck_image(file, image, bundle.header.payload_offset())?;
            }
            true
        }
        None => false,
    };

    // Step 4: the target must not boot while it is written.
    let mut state = store.load()?;
    state.mark_bad(target);
    store.store(&state)?;
    let record = status.slot_mut(target);
    record.condition = SlotCondition::Installing;
    record.version = None;
    record.image_sizes.clear();
    status.save(disk, &config.state_dir)?;

    // Step 5: write and verify each image.
    let fetched_before = source.fetched();
    for image in manifest.images() {
        let pair = slot_pair(config, image)?;
        let running_size = status
            .slot(booted)
            .image_sizes
            .iter()
            .find(|(n, _)| n == image.name)
            .map(|(_, s)| *s);
        let job = ImageJob {
            image,
            payload_offset: bundle.header.payload_offset(),
            target_path: pair.path(target),
            running_path: pair.path(booted),
            running_size,
            delta: options.delta && source.is_remote(),
            progress: options.progress,
            prechecked,
        };
        let written = write_image(&job, disk, source)?;
        report.image_bytes += image.size;
        report.reused_in_place += written.in_place;
        report.reused_from_running += written.from_running;
    }
    report.downloaded = source.fetched() - fetched_before + bundle.header.payload_offset();

    // Step 6: record what the slot holds, then let it boot.
    let record = status.slot_mut(target);
    record.condition = SlotCondition::Installed;
    record.version = Some(manifest.version);
    record.installed = Some(options.now);
    record.image_sizes = manifest
        .images()
        .iter()
        .map(|i| (i.name.to_string(), i.size))
        .collect();
    if let Some(min) = manifest.min_version {
        status.floor = Some(status.floor.map_or(min, |f| f.max(min)));
    }
    report.seconds = started.elapsed().as_secs_f64();
    status.last = Some(LastResult {
        version: manifest.version.to_string(),
        result: format!("installed into slot {target}"),
        time: options.now,
        downloaded: report.downloaded,
        reused: report.reused(),
    });
    status.save(disk, &config.state_dir)?;
    let mut state = store.load()?;
    state.activate(target, config.tries);
    store.store(&state)?;
    Ok(report)
}

/// One image to write.
struct ImageJob<'a> {
    image: &'a ImageManifest<'a>,
    payload_offset: u64,
    target_path: &'a Path,
    running_path: &'a Path,
    running_size: Option<u64>,
    delta: bool,
    progress: bool,
    /// Every chunk was checked before writing (a local bundle): the copy does not hash them
    /// again; the whole image's hash, computed as it is written, catches a file changed since.
    prechecked: bool,
}

/// Bytes of an image that did not come from the source.
#[derive(Debug, Default)]
struct ImageWritten {
    in_place: u64,
    from_running: u64,
}

/// Where a chunk's bytes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkFrom {
    /// The bundle.
    Source,
    /// The target slot holds it already (an install that was cut off).
    InPlace,
    /// The running slot holds it at this offset.
    Running(u64),
}

/// A filled batch for the writer: bytes for image offset `offset`.
struct Batch {
    offset: u64,
    buf: AlignedBuf,
    len: usize,
    write: bool,
}

/// What the writer thread ends with: the whole image's hash when it computed one.
type WriterResult = Result<Option<[u8; 32]>, std::io::Error>;

/// Bytes read at a time when a local bundle is checked whole.
pub const PRECHECK_READ_LEN: usize = 512 * 1024;

/// Threads that check a local bundle's chunks side by side.
pub const PRECHECK_THREADS: u64 = 2;

/// Checks a local bundle's image before anything is written: each table block against the
/// signed manifest, each chunk against its table. Blocks are shared out between
/// [`PRECHECK_THREADS`] threads. The whole image's hash is computed as it is written and
/// checked before the slot is made bootable (so a file changed between the two passes is
/// caught too).
fn precheck_image(
    file: &std::fs::File,
    image: &ImageManifest<'_>,
    payload_offset: u64,
) -> Result<(), AgentError> {
    use std::os::unix::fs::FileExt;
    let read = |offset: u64, buf: &mut [u8]| {
        file.read_exact_at(buf, offset)
            .map_err(|e| AgentError::io("read the bundle", Path::new("bundle"), e))
    };
    let worker = |first_block: u64| -> Result<(), AgentError> {
        let chunk_size = image.chunk_size() as usize;
        let per_read = (PRECHECK_READ_LEN / chunk_size).max(1);
        let mut buf = vec![0u8; per_read * chunk_size];
        let mut table = Vec::new();
        let mut index = first_block;
        while let Some(block) = image.block(index) {
            table.resize(block.table_len() as usize, 0);
            read(payload_offset + block.table_offset, &mut table)?;
            if image
                .block_hash(index)
                .is_none_or(|h| *h != <[u8; 32]>::from(Sha256::digest(&table)))
            {
                return Err(Refusal::TableHash {
                    image: image.name.into(),
                    block: index,
                }
                .into());
            }
            let mut chunk = 0usize;
            while chunk < block.chunks as usize {
                let count = per_read.min(block.chunks as usize - chunk);
                let first = block.first_chunk + chunk as u64;
                let len: u64 = (0..count as u64).map(|i| image.chunk_len(first + i)).sum();
                let bytes = buf.get_mut(..len as usize).unwrap_or(&mut []);
                read(
                    payload_offset + block.data_offset() + (chunk * chunk_size) as u64,
                    bytes,
                )?;
                for (i, piece) in bytes.chunks(chunk_size).enumerate() {
                    let at = (chunk + i) * CHUNK_HASH_LEN;
                    if table.get(at..at + CHUNK_HASH_LEN) != Some(Sha256::digest(piece).as_slice())
                    {
                        return Err(Refusal::ChunkHash {
                            image: image.name.into(),
                            chunk: first + i as u64,
                        }
                        .into());
                    }
                }
                chunk += count;
            }
            index += PRECHECK_THREADS;
        }
        Ok(())
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = (1..PRECHECK_THREADS)
            .map(|w| scope.spawn(move || worker(w)))
            .collect();
        // Report the fault of the earliest block: this thread has block 0.
        let mut result = worker(0);
        for handle in workers {
            let joined = handle.join().unwrap_or_else(|_| {
                Err(AgentError::io(
                    "read the bundle",
                    Path::new("bundle"),
                    std::io::Error::other("a checking thread stopped"),
                ))
            });
            if result.is_ok() {
                result = joined;
            }
        }
        result
    })
}

/// The writer thread: hashes the whole image in order (unless it was checked before) and
/// writes it.
fn writer(
    mut target: Box<dyn Storage + Send + '_>,
    batches: Receiver<Batch>,
    free: SyncSender<AlignedBuf>,
    hash_whole: bool,
) -> Result<Option<[u8; 32]>, std::io::Error> {
    let mut whole = hash_whole.then(Sha256::new);
    for batch in batches {
        let data = batch.buf.as_slice().get(..batch.len).unwrap_or(&[]);
        if let Some(whole) = whole.as_mut() {
            whole.update(data);
        }
        if batch.write {
            target.write_at(batch.offset, data)?;
        }
        // The filler may have finished; a closed channel is not an error here.
        let _ = free.send(batch.buf);
    }
    target.sync()?;
    Ok(whole.map(|w| w.finalize().into()))
}

/// The running slot's chunks by hash, sorted by the hash's first 8 bytes.
struct DeltaIndex {
    entries: Vec<(u64, u32)>,
}

fn hash_prefix(hash: &[u8]) -> u64 {
    let mut head = [0u8; 8];
    if let Some(h) = hash.get(..8) {
        head.copy_from_slice(h);
    }
    u64::from_le_bytes(head)
}

impl DeltaIndex {
    fn build(running: &mut dyn Storage, size: u64, chunk_size: u32) -> std::io::Result<Self> {
        let chunk = chunk_size as u64;
        let count = (size / chunk).min(MAX_DELTA_CHUNKS as u64);
        let mut entries = Vec::with_capacity(count as usize);
        let per_read = (BATCH_LEN as u64 / chunk).max(1);
        let mut buf = vec![0u8; (per_read * chunk) as usize];
        let mut index = 0u64;
        while index < count {
            let n = per_read.min(count - index);
            let bytes = buf.get_mut(..(n * chunk) as usize).unwrap_or(&mut []);
            running.read_at(index * chunk, bytes)?;
            for (i, piece) in bytes.chunks(chunk as usize).enumerate() {
                entries.push((
                    hash_prefix(&Sha256::digest(piece)),
                    (index + i as u64) as u32,
                ));
            }
            index += n;
        }
        entries.sort_unstable();
        Ok(DeltaIndex { entries })
    }

    fn find(&self, hash: &[u8]) -> Option<u32> {
        let key = hash_prefix(hash);
        let at = self.entries.partition_point(|(k, _)| *k < key);
        self.entries
            .get(at)
            .filter(|(k, _)| *k == key)
            .map(|(_, i)| *i)
    }
}

/// Streams one image into its slot through the writer thread.
fn write_image(
    job: &ImageJob<'_>,
    disk: &dyn Disk,
    source: &mut dyn Source,
) -> Result<ImageWritten, AgentError> {
    let image = job.image;
    let chunk_size = image.chunk_size() as usize;
    let target = disk
        .open(job.target_path, Access::Write)
        .map_err(|e| AgentError::io("open the target slot", job.target_path, e))?;
    let (mut in_place_dev, mut running_dev, index) = if job.delta {
        let in_place = disk.open(job.target_path, Access::Read).ok();
        let mut running = disk.open(job.running_path, Access::Read).ok();
        let index = match running.as_mut() {
            Some(dev) => {
                let size = job
                    .running_size
                    .or_else(|| dev.size().ok())
                    .unwrap_or(0)
                    .min(dev.size().unwrap_or(0));
                DeltaIndex::build(dev.as_mut(), size, image.chunk_size()).ok()
            }
            None => None,
        };
        (in_place, running, index)
    } else {
        (None, None, None)
    };

    let batch_len = BATCH_LEN.max(chunk_size);
    let (batch_tx, batch_rx) = sync_channel::<Batch>(BATCHES);
    let (free_tx, free_rx) = sync_channel::<AlignedBuf>(BATCHES);
    let mut spare: Vec<AlignedBuf> = (0..BATCHES).map(|_| AlignedBuf::new(batch_len)).collect();
    let mut written = ImageWritten::default();

    std::thread::scope(|scope| -> Result<ImageWritten, AgentError> {
        // The whole image's hash: on this thread when it has no chunks to hash (a prechecked
        // local bundle), so the writer only writes; else on the writer.
        let mut whole_here = job.prechecked.then(Sha256::new);
        let hash_in_writer = whole_here.is_none();
        let handle = scope.spawn(move || writer(target, batch_rx, free_tx, hash_in_writer));
        let writer_failed =
            |handle: std::thread::ScopedJoinHandle<'_, WriterResult>| match handle.join() {
                Ok(Err(e)) => AgentError::io("write", job.target_path, e),
                _ => AgentError::io(
                    "write",
                    job.target_path,
                    std::io::Error::other("the writer stopped"),
                ),
            };
        // Buffers reused for every block: nothing is allocated per block.
        let mut table = Vec::new();
        let mut froms: Vec<ChunkFrom> = Vec::new();
        let mut scratch: Vec<u8> = Vec::new();
        let mut current: Option<Batch> = None;
        let mut chunk_hash = [0u8; 32];
        // Progress in tenths of the image's bytes (a table block may cover all of it).
        let mut done = 0u64;
        let mut tenths_shown = 0u64;
        for block_index in 0..image.block_count() {
            let Some(block) = image.block(block_index) else {
                break;
            };
            // The table block, checked against the signed manifest.
            table.resize(block.table_len() as usize, 0);
            let table_at = job.payload_offset + block.table_offset;
            froms.clear();
            froms.resize(block.chunks as usize, ChunkFrom::Source);
            if job.delta {
                source.plan(table_at, table_at + block.table_len());
            } else {
                source.plan(
                    table_at,
                    job.payload_offset + block.data_offset() + block.data_len,
                );
            }
            source.read_at(table_at, &mut table)?;
            let signed = image.block_hash(block_index);
            if signed.is_none_or(|h| *h != <[u8; 32]>::from(Sha256::digest(&table))) {
                return Err(Refusal::TableHash {
                    image: image.name.into(),
                    block: block_index,
                }
                .into());
            }
            // Which chunks the board has already (delta), before fetching any.
            if job.delta {
                scratch.resize(chunk_size, 0);
                for (i, from) in froms.iter_mut().enumerate() {
                    let chunk = block.first_chunk + i as u64;
                    let len = image.chunk_len(chunk) as usize;
                    let want = table
                        .get(i * CHUNK_HASH_LEN..(i + 1) * CHUNK_HASH_LEN)
                        .unwrap_or(&[]);
                    let piece = scratch.get_mut(..len).unwrap_or(&mut []);
                    let offset = chunk * chunk_size as u64;
                    if let Some(dev) = in_place_dev.as_mut() {
                        if dev.read_at(offset, piece).is_ok()
                            && Sha256::digest(&*piece).as_slice() == want
                        {
                            *from = ChunkFrom::InPlace;
                            continue;
                        }
                    }
                    if len == chunk_size {
                        if let Some(found) = index.as_ref().and_then(|ix| ix.find(want)) {
                            *from = ChunkFrom::Running(u64::from(found) * chunk_size as u64);
                        }
                    }
                }
            }
            let data_at = job.payload_offset + block.data_offset();
            let mut planned_to = 0u64;
            for (i, from) in froms.iter().enumerate() {
                let chunk = block.first_chunk + i as u64;
                let len = image.chunk_len(chunk) as usize;
                let image_offset = chunk * chunk_size as u64;
                let write = *from != ChunkFrom::InPlace;
                // Flush the batch when it is full or changes between written and kept bytes.
                let flush = current
                    .as_ref()
                    .is_some_and(|b| b.write != write || b.len + len > batch_len);
                if flush {
                    if let Some(batch) = current.take() {
                        if batch_tx.send(batch).is_err() {
                            return Err(writer_failed(handle));
                        }
                    }
                }
                if current.is_none() {
                    let buf = match spare.pop() {
                        Some(buf) => buf,
                        None => match free_rx.recv() {
                            Ok(buf) => buf,
                            Err(_) => return Err(writer_failed(handle)),
                        },
                    };
                    current = Some(Batch {
                        offset: image_offset,
                        buf,
                        len: 0,
                        write,
                    });
                }
                let Some(batch) = current.as_mut() else { break };
                let at = batch.len;
                let piece = batch
                    .buf
                    .as_mut_slice()
                    .get_mut(at..at + len)
                    .unwrap_or(&mut []);
                let want = table
                    .get(i * CHUNK_HASH_LEN..(i + 1) * CHUNK_HASH_LEN)
                    .unwrap_or(&[]);
                let local_ok = match *from {
                    ChunkFrom::Source => false,
                    ChunkFrom::InPlace => in_place_dev
                        .as_mut()
                        .is_some_and(|d| d.read_at(image_offset, piece).is_ok()),
                    ChunkFrom::Running(offset) => running_dev
                        .as_mut()
                        .is_some_and(|d| d.read_at(offset, piece).is_ok()),
                };
                // Bytes taken from a slot are checked like downloaded ones.
                let fetch = !local_ok || {
                    chunk_hash.copy_from_slice(&Sha256::digest(&*piece));
                    chunk_hash != want
                };
                if fetch {
                    if *from == ChunkFrom::InPlace {
                        // The slot changed under us: cannot happen with a hash-only batch
                        // mixing; refuse rather than guess.
                        return Err(AgentError::io(
                            "read back",
                            job.target_path,
                            std::io::Error::other("the target slot changed during the install"),
                        ));
                    }
                    let from_at = data_at + i as u64 * chunk_size as u64;
                    if from_at >= planned_to {
                        // A run of chunks to fetch: ask for all of it at once.
                        let run = froms
                            .iter()
                            .skip(i)
                            .take_while(|f| **f == ChunkFrom::Source)
                            .count()
                            .max(1);
                        let end = (from_at + run as u64 * chunk_size as u64)
                            .min(data_at + block.data_len);
                        source.plan(from_at, end);
                        planned_to = end;
                    }
                    source.read_at(from_at, piece)?;
                    if !job.prechecked && Sha256::digest(&*piece).as_slice() != want {
                        return Err(Refusal::ChunkHash {
                            image: image.name.into(),
                            chunk,
                        }
                        .into());
                    }
                } else if let ChunkFrom::Running(_) = from {
                    written.from_running += len as u64;
                } else {
                    written.in_place += len as u64;
                }
                if let Some(whole) = whole_here.as_mut() {
                    whole.update(&*piece);
                }
                batch.len += len;
                done += len as u64;
                let tenths = done * 10 / image.size.max(1);
                if job.progress && tenths > tenths_shown {
                    tenths_shown = tenths;
                    crate::say!("nanolin-agent: {}: {}%", image.name, tenths * 10);
                }
            }
        }
        if let Some(batch) = current.take() {
            if batch_tx.send(batch).is_err() {
                return Err(writer_failed(handle));
            }
        }
        drop(batch_tx);
        let whole = match handle.join() {
            Ok(Ok(hash)) => hash.or_else(|| whole_here.take().map(|w| w.finalize().into())),
            Ok(Err(e)) => return Err(AgentError::io("write", job.target_path, e)),
            Err(_) => {
                return Err(AgentError::io(
                    "write",
                    job.target_path,
                    std::io::Error::other("the writer stopped"),
                ))
            }
        };
        if whole.is_some_and(|w| w != image.sha256) {
            return Err(Refusal::ImageHash {
                image: image.name.into(),
            }
            .into());
        }
        Ok(std::mem::take(&mut written))
    })
}
