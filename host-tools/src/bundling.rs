//! Writing and reading update bundles (`.nlb`) on the host.
//!
//! An image is read twice: once to hash its chunks and the whole, once to copy its chunks
//! behind their table blocks. The chunk hashes are held in memory meanwhile (32 bytes per
//! chunk: 1 MiB for a 1 GiB image at 32 KiB chunks); the board never holds more than one
//! block of them.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use nanolin_core::bundle::{BundleError, BundleHeader, ImageManifest, Manifest};
use nanolin_core::limits::{BUNDLE_HEADER_LEN, MANIFEST_MAX_LEN, SIGNATURE_MAX_LEN};
use nanolin_core::version::ReleaseVersion;
use nanolin_core::{PublicKey, Signature, SignatureFile, SignatureVerifier};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::keyfile::SigningKey;
use crate::signing::{sign_bytes, signature_file_text};

/// One image to put in a bundle.
#[derive(Debug, Clone)]
pub struct ImageSource {
    /// The slot pair it is for (`rootfs`).
    pub name: String,
    /// The image file.
    pub path: PathBuf,
}

/// What a bundle is made of.
pub struct BundleSpec<'a> {
    /// Board compatible string.
    pub compatible: &'a str,
    /// Release version.
    pub version: ReleaseVersion,
    /// Floor devices record: they never go below it afterwards.
    pub min_version: Option<ReleaseVersion>,
    /// Creation time (seconds since 1970).
    pub created: u64,
    /// Expiry time (seconds since 1970).
    pub expires: Option<u64>,
    /// Bytes per chunk.
    pub chunk_size: u32,
    /// Chunk hashes per table block.
    pub hashes_per_block: u32,
    /// The images.
    pub images: &'a [ImageSource],
    /// The signature's untrusted comment (`verify with KEY.pub`).
    pub untrusted_comment: String,
}

/// Hashes of one image: every chunk's, each table block's, and the whole image's.
struct ImageHashes {
    size: u64,
    sha256: [u8; 32],
    chunks: Vec<[u8; 32]>,
    blocks: Vec<u8>,
}

fn bundle_error(path: &Path, error: BundleError) -> Error {
    Error::Bundle {
        path: path.to_path_buf(),
        error,
    }
}

/// Reads `path` in chunks of `chunk_size`, hashing each and the whole.
fn hash_image(path: &Path, chunk_size: u32, hashes_per_block: u32) -> Result<ImageHashes, Error> {
    let mut file = File::open(path).map_err(|e| Error::io("open", path, e))?;
    let mut whole = Sha256::new();
    let mut chunks = Vec::new();
    let mut buf = vec![0u8; chunk_size as usize];
    let mut size = 0u64;
    loop {
        let n = read_full(&mut file, &mut buf).map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            break;
        }
        let piece = &buf[..n];
        whole.update(piece);
        chunks.push(Sha256::digest(piece).into());
        size += n as u64;
        if n < buf.len() {
            break;
        }
    }
    let blocks = chunks
        .chunks(hashes_per_block as usize)
        .flat_map(|block| {
            let mut hasher = Sha256::new();
            block.iter().for_each(|h| hasher.update(h));
            <[u8; 32]>::from(hasher.finalize())
        })
        .collect();
    Ok(ImageHashes {
        size,
        sha256: whole.finalize().into(),
        chunks,
        blocks,
    })
}

/// Fills `buf` from `reader` unless the input ends first; returns the bytes read.
pub fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// What `create` wrote.
#[derive(Debug, Clone)]
pub struct Written {
    /// Bytes of the bundle.
    pub bundle_len: u64,
    /// Bytes of the manifest.
    pub manifest_len: usize,
    /// Chunks over all images.
    pub chunks: u64,
}

/// Writes the bundle `spec` describes to `out`, signed with `key`, through a temporary file
/// renamed into place: a failed run leaves nothing behind.
pub fn create(spec: &BundleSpec<'_>, key: &SigningKey, out: &Path) -> Result<Written, Error> {
    let mut hashed = Vec::new();
    for image in spec.images {
        let hashes = hash_image(&image.path, spec.chunk_size, spec.hashes_per_block)?;
        if hashes.size == 0 {
            return Err(Error::Usage(format!(
                "{} is empty: a bundle image needs at least one byte",
                image.path.display()
            )));
        }
        hashed.push(hashes);
    }
    let parts: Vec<(&str, u64, [u8; 32], &[u8])> = spec
        .images
        .iter()
        .zip(&hashed)
        .map(|(image, h)| (image.name.as_str(), h.size, h.sha256, h.blocks.as_slice()))
        .collect();
    let manifest = Manifest::new(
        spec.compatible,
        spec.version,
        spec.min_version,
        spec.created,
        spec.expires,
        spec.chunk_size,
        spec.hashes_per_block,
        &parts,
    )
    .map_err(|e| bundle_error(out, e))?;
    let mut manifest_bytes = vec![0u8; MANIFEST_MAX_LEN];
    let manifest_len = manifest.emit(&mut manifest_bytes).map_err(|_| {
        Error::Usage(format!(
            "the manifest is larger than {MANIFEST_MAX_LEN} bytes: use a larger --chunk-size"
        ))
    })?;
    manifest_bytes.truncate(manifest_len);

    let signature = Signature {
        key_number: key.key_number,
        signature: sign_bytes(key, &manifest_bytes),
    };
    let trusted = format!(
        "timestamp:{}\tfile:manifest\tboard:{}\tversion:{}",
        spec.created, spec.compatible, spec.version
    );
    let signature_text = signature_file_text(key, signature, &spec.untrusted_comment, &trusted)?;

    let header = BundleHeader {
        manifest_len: manifest_len as u32,
        signature_len: signature_text.len() as u32,
    };
    let mut temp = out.as_os_str().to_owned();
    temp.push(".part");
    let temp = PathBuf::from(temp);
    let result = write_bundle(
        &temp,
        &header,
        &manifest_bytes,
        &signature_text,
        spec,
        &hashed,
    );
    match result {
        Ok(bundle_len) => {
            fs::rename(&temp, out).map_err(|e| Error::io("rename into place", out, e))?;
            Ok(Written {
                bundle_len,
                manifest_len,
                chunks: hashed.iter().map(|h| h.chunks.len() as u64).sum(),
            })
        }
        Err(e) => {
            let _ = fs::remove_file(&temp);
            Err(e)
        }
    }
}

fn write_bundle(
    path: &Path,
    header: &BundleHeader,
    manifest: &[u8],
    signature: &[u8],
    spec: &BundleSpec<'_>,
    hashed: &[ImageHashes],
) -> Result<u64, Error> {
    let io_err = |e| Error::io("write", path, e);
    let file = File::create(path).map_err(io_err)?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    out.write_all(&header.emit()).map_err(io_err)?;
    out.write_all(manifest).map_err(io_err)?;
    out.write_all(signature).map_err(io_err)?;
    let mut buf = vec![0u8; spec.chunk_size as usize];
    for (image, hashes) in spec.images.iter().zip(hashed) {
        let mut input = File::open(&image.path).map_err(|e| Error::io("open", &image.path, e))?;
        for block in hashes.chunks.chunks(spec.hashes_per_block as usize) {
            for hash in block {
                out.write_all(hash).map_err(io_err)?;
            }
            for hash in block {
                let n = read_full(&mut input, &mut buf)
                    .map_err(|e| Error::io("read", &image.path, e))?;
                // The image must not change between the passes: each chunk is hashed again.
                if n == 0 || <[u8; 32]>::from(Sha256::digest(&buf[..n])) != *hash {
                    return Err(Error::io(
                        "bundle",
                        &image.path,
                        io::Error::other(
                            "the image changed while the bundle was written; run again",
                        ),
                    ));
                }
                out.write_all(&buf[..n]).map_err(io_err)?;
            }
        }
    }
    let file = out.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    file.metadata().map(|m| m.len()).map_err(io_err)
}

/// A bundle's header, manifest bytes and signature, read from a file.
pub struct BundleFile {
    /// The header.
    pub header: BundleHeader,
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// The signature text.
    pub signature: Vec<u8>,
    /// Bytes of the file.
    pub file_len: u64,
}

impl BundleFile {
    /// Reads the parts before the payload.
    pub fn read(path: &Path) -> Result<Self, Error> {
        let io_err = |e| Error::io("read", path, e);
        let mut file = File::open(path).map_err(io_err)?;
        let file_len = file.metadata().map_err(io_err)?.len();
        let mut head = [0u8; BUNDLE_HEADER_LEN];
        let n = read_full(&mut file, &mut head).map_err(io_err)?;
        let header = BundleHeader::parse(&head[..n]).map_err(|e| bundle_error(path, e))?;
        let need = header.payload_offset();
        if file_len < need {
            return Err(bundle_error(
                path,
                BundleError::Truncated {
                    needed: need,
                    got: file_len,
                },
            ));
        }
        let mut manifest = vec![0u8; header.manifest_len as usize];
        let mut signature = vec![0u8; (header.signature_len as usize).min(SIGNATURE_MAX_LEN)];
        file.seek(SeekFrom::Start(header.manifest_offset()))
            .map_err(io_err)?;
        file.read_exact(&mut manifest).map_err(io_err)?;
        file.read_exact(&mut signature).map_err(io_err)?;
        Ok(BundleFile {
            header,
            manifest,
            signature,
            file_len,
        })
    }

    /// Checks the manifest's signature with `key`.
    pub fn verify(&self, key: &PublicKey, path: &Path) -> Result<(), Error> {
        let sig = SignatureFile::parse(&self.signature).map_err(|error| Error::Format {
            path: path.to_path_buf(),
            error,
        })?;
        let failed = |e| Error::Refused(format!("{}: manifest signature: {e}", path.display()));
        if let Some(trusted) = &sig.trusted {
            nanolin_core::verifier::verify_trusted_comment(key, &sig.signature, trusted)
                .map_err(failed)?;
        }
        let mut verifier = SignatureVerifier::new(key, &sig.signature).map_err(failed)?;
        verifier.update(&self.manifest);
        verifier.finish().map_err(failed)
    }

    /// The key number of the signature.
    pub fn key_number(&self) -> Option<nanolin_core::KeyNumber> {
        SignatureFile::parse(&self.signature)
            .ok()
            .map(|s| s.signature.key_number)
    }

    /// Decodes the manifest (check the signature first).
    pub fn manifest(&self, path: &Path) -> Result<Manifest<'_>, Error> {
        Manifest::parse(&self.manifest).map_err(|e| bundle_error(path, e))
    }
}

/// Hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A human summary of one image.
pub fn describe_image(image: &ImageManifest<'_>) -> String {
    format!(
        "{}: {} bytes, sha256 {}, {} chunks of {} bytes in {} table blocks",
        image.name,
        image.size,
        hex(&image.sha256),
        image.chunk_count(),
        image.chunk_size(),
        image.block_count()
    )
}
