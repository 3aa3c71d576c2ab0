//! Update bundles (`.nlb`): a signed manifest, then the images, each chunk hashed.
//!
//! ```text
//! header     32 bytes   magic "NLBUNDLE", format (u32 LE), manifest length (u32 LE),
//!                       signature length (u32 LE), 12 zero bytes
//! manifest              postcard: board compatible string, release version, minimum
//!                       version, creation time, expiry, chunk size, and per image: name,
//!                       size, SHA-256, and the SHA-256 of each block of its chunk table
//! signature             signify signature (text) of the manifest bytes
//! payload               each image in manifest order, as blocks:
//!                         [hashes of up to H chunks: H × 32 bytes][those chunks' bytes]
//! ```
//!
//! # Why the chunk table comes in blocks
//!
//! Each chunk is verified before it is written, so its hash must be known, and trusted, before
//! its bytes arrive. A 1 GiB image in 32 KiB chunks has 32,768 hashes (1 MiB): held whole, the
//! table would make the agent's memory grow with the image. So the manifest signs the hash of
//! each *block* of the table (4,096 chunk hashes, covering 128 MiB), and each block travels
//! just before the chunks it covers. The agent holds one block (128 KiB) at a time, checked
//! against the signed manifest; a download that stops resumes at its block; and the
//! manifest stays small (32 bytes per 128 MiB of image).
//!
//! # Trust contract
//!
//! [`BundleHeader::parse`] and [`Manifest::parse`] are the only ways in. The manifest must be
//! verified against its signature *before* it is parsed (the agent does so); after parsing,
//! every size, count and offset is checked, so no layout arithmetic can overflow or index out
//! of bounds.

use core::fmt;

use serde::{Deserialize, Serialize};

use crate::limits::{
    BUNDLE_HEADER_LEN, CHUNK_HASH_LEN, COMPATIBLE_MAX_LEN, IMAGE_NAME_MAX_LEN, MANIFEST_MAX_LEN,
    MAX_CHUNK_SIZE, MAX_HASHES_PER_BLOCK, MAX_IMAGES, MAX_IMAGE_SIZE, MIN_CHUNK_SIZE,
    SIGNATURE_MAX_LEN,
};
use crate::version::ReleaseVersion;

/// The first 8 bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"NLBUNDLE";

/// The bundle format this code reads and writes.
pub const FORMAT: u32 = 1;

/// Chunk size the host uses unless told otherwise: small enough that a change of a few bytes
/// costs little to download, large enough that hashing overhead is negligible.
pub const DEFAULT_CHUNK_SIZE: u32 = 32 * 1024;

/// Chunk hashes per table block unless told otherwise (a 128 KiB block).
pub const DEFAULT_HASHES_PER_BLOCK: u32 = 4096;

/// What is wrong with a bundle's header or manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleError {
    /// The file is shorter than a header.
    Truncated {
        /// Bytes the reader needed.
        needed: u64,
        /// Bytes there were.
        got: u64,
    },
    /// The file does not start with `NLBUNDLE`.
    NotABundle,
    /// A bundle of a format this agent does not read.
    UnknownFormat {
        /// The format number found.
        format: u32,
    },
    /// A header field is out of its bounds.
    Header {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The manifest bytes do not decode.
    Decode,
    /// The manifest decodes but a field is out of its bounds.
    Field {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The manifest does not fit the buffer given to [`Manifest::emit`].
    BufferTooSmall,
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BundleError::Truncated { needed, got } => write!(
                f,
                "the bundle is truncated: {needed} bytes needed, {got} there (an interrupted download?)"
            ),
            BundleError::NotABundle => {
                f.write_str("not a Nanolin bundle (it does not start with NLBUNDLE)")
            }
            BundleError::UnknownFormat { format } => write!(
                f,
                "bundle format {format} is not one this agent reads (it reads format {FORMAT}): update the agent first"
            ),
            BundleError::Header { field, problem } => {
                write!(f, "bundle header: {field} {problem}")
            }
            BundleError::Decode => f.write_str(
                "the bundle manifest does not decode: it was not written by `nanolin bundle create`",
            ),
            BundleError::Field { field, problem } => {
                write!(f, "bundle manifest: {field} {problem}")
            }
            BundleError::BufferTooSmall => f.write_str("the manifest does not fit its buffer"),
        }
    }
}

impl core::error::Error for BundleError {}

/// The fixed header: where the manifest, its signature and the payload are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleHeader {
    /// Bytes of the manifest.
    pub manifest_len: u32,
    /// Bytes of the signature text.
    pub signature_len: u32,
}

mod field {
    use core::ops::Range;
    pub const MAGIC: Range<usize> = 0..8;
    pub const FORMAT: Range<usize> = 8..12;
    pub const MANIFEST_LEN: Range<usize> = 12..16;
    pub const SIGNATURE_LEN: Range<usize> = 16..20;
    pub const RESERVED: Range<usize> = 20..32;
}

fn le_u32(bytes: &[u8], range: core::ops::Range<usize>) -> u32 {
    let mut word = [0u8; 4];
    if let Some(b) = bytes.get(range) {
        word.copy_from_slice(b);
    }
    u32::from_le_bytes(word)
}

impl BundleHeader {
    /// Checks a header's magic, format and lengths.
    pub fn parse(bytes: &[u8]) -> Result<Self, BundleError> {
        if bytes.len() < BUNDLE_HEADER_LEN {
            return Err(BundleError::Truncated {
                needed: BUNDLE_HEADER_LEN as u64,
                got: bytes.len() as u64,
            });
        }
        if bytes.get(field::MAGIC) != Some(MAGIC.as_slice()) {
            return Err(BundleError::NotABundle);
        }
        let format = le_u32(bytes, field::FORMAT);
        if format != FORMAT {
            return Err(BundleError::UnknownFormat { format });
        }
        if bytes
            .get(field::RESERVED)
            .is_none_or(|r| r.iter().any(|b| *b != 0))
        {
            return Err(BundleError::Header {
                field: "reserved bytes",
                problem: "are not zero",
            });
        }
        let header = BundleHeader {
            manifest_len: le_u32(bytes, field::MANIFEST_LEN),
            signature_len: le_u32(bytes, field::SIGNATURE_LEN),
        };
        if header.manifest_len == 0 || header.manifest_len as usize > MANIFEST_MAX_LEN {
            return Err(BundleError::Header {
                field: "manifest length",
                problem: "is 0 or above the 131072-byte limit",
            });
        }
        if header.signature_len == 0 || header.signature_len as usize > SIGNATURE_MAX_LEN {
            return Err(BundleError::Header {
                field: "signature length",
                problem: "is 0 or above the 16384-byte limit",
            });
        }
        Ok(header)
    }

    /// Writes the header.
    pub fn emit(&self) -> [u8; BUNDLE_HEADER_LEN] {
        let mut bytes = [0u8; BUNDLE_HEADER_LEN];
        let parts: [(core::ops::Range<usize>, &[u8]); 4] = [
            (field::MAGIC, MAGIC),
            (field::FORMAT, &FORMAT.to_le_bytes()),
            (field::MANIFEST_LEN, &self.manifest_len.to_le_bytes()),
            (field::SIGNATURE_LEN, &self.signature_len.to_le_bytes()),
        ];
        for (range, value) in parts {
            if let Some(dest) = bytes.get_mut(range) {
                dest.copy_from_slice(value);
            }
        }
        bytes
    }

    /// Offset of the manifest in the bundle.
    pub const fn manifest_offset(&self) -> u64 {
        BUNDLE_HEADER_LEN as u64
    }

    /// Offset of the signature in the bundle.
    pub const fn signature_offset(&self) -> u64 {
        self.manifest_offset() + self.manifest_len as u64
    }

    /// Offset of the payload in the bundle.
    pub const fn payload_offset(&self) -> u64 {
        self.signature_offset() + self.signature_len as u64
    }
}

/// The manifest as it is encoded (postcard).
#[derive(Serialize, Deserialize)]
struct ManifestWire<'a> {
    compatible: &'a str,
    version: &'a str,
    min_version: Option<&'a str>,
    created: u64,
    expires: Option<u64>,
    chunk_size: u32,
    hashes_per_block: u32,
    #[serde(borrow)]
    images: heapless::Vec<ImageWire<'a>, MAX_IMAGES>,
}

#[derive(Serialize, Deserialize)]
struct ImageWire<'a> {
    name: &'a str,
    size: u64,
    sha256: [u8; 32],
    block_hashes: &'a [u8],
}

/// One image of a bundle: what a slot receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageManifest<'a> {
    /// Which slot pair takes it (`rootfs` for the root file system).
    pub name: &'a str,
    /// Bytes of the image.
    pub size: u64,
    /// SHA-256 of the whole image.
    pub sha256: [u8; 32],
    /// SHA-256 of each block of the chunk table, 32 bytes each.
    block_hashes: &'a [u8],
    /// Offset of this image's first block in the payload.
    payload_offset: u64,
    /// Bytes of each chunk (the last may be shorter).
    chunk_size: u32,
    /// Chunk hashes per table block.
    hashes_per_block: u32,
}

/// Where one block of an image lies, and what it covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockLayout {
    /// The block's index.
    pub index: u64,
    /// Offset of its table (the chunk hashes) from the start of the payload.
    pub table_offset: u64,
    /// Chunks it covers.
    pub chunks: u32,
    /// Index of its first chunk in the image.
    pub first_chunk: u64,
    /// Offset in the image of its first chunk.
    pub image_offset: u64,
    /// Bytes of image it covers.
    pub data_len: u64,
}

impl BlockLayout {
    /// Bytes of its table.
    pub const fn table_len(&self) -> u64 {
        self.chunks as u64 * CHUNK_HASH_LEN as u64
    }

    /// Offset of its chunk data from the start of the payload.
    pub const fn data_offset(&self) -> u64 {
        self.table_offset + self.table_len()
    }
}

impl<'a> ImageManifest<'a> {
    /// Bytes of each chunk.
    pub const fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Chunks in the image.
    pub const fn chunk_count(&self) -> u64 {
        self.size.div_ceil(self.chunk_size as u64)
    }

    /// Table blocks of the image.
    pub const fn block_count(&self) -> u64 {
        self.chunk_count().div_ceil(self.hashes_per_block as u64)
    }

    /// Bytes the image takes in the payload: its tables and its data.
    pub const fn encoded_len(&self) -> u64 {
        self.chunk_count() * CHUNK_HASH_LEN as u64 + self.size
    }

    /// Offset of the image in the payload.
    pub const fn payload_offset(&self) -> u64 {
        self.payload_offset
    }

    /// The signed hash of table block `index`.
    pub fn block_hash(&self, index: u64) -> Option<&'a [u8; 32]> {
        let start = usize::try_from(index).ok()?.checked_mul(CHUNK_HASH_LEN)?;
        self.block_hashes
            .get(start..start.checked_add(CHUNK_HASH_LEN)?)?
            .try_into()
            .ok()
    }

    /// Where block `index` lies.
    pub fn block(&self, index: u64) -> Option<BlockLayout> {
        if index >= self.block_count() {
            return None;
        }
        let per_block = self.hashes_per_block as u64;
        let first_chunk = index * per_block;
        let chunks = (self.chunk_count() - first_chunk).min(per_block);
        let chunk = self.chunk_size as u64;
        let full_block = per_block * (CHUNK_HASH_LEN as u64 + chunk);
        let image_offset = first_chunk * chunk;
        Some(BlockLayout {
            index,
            table_offset: self.payload_offset + index * full_block,
            chunks: chunks as u32,
            first_chunk,
            image_offset,
            data_len: (chunks * chunk).min(self.size - image_offset),
        })
    }

    /// Bytes of chunk `index` (the last chunk may be short).
    pub fn chunk_len(&self, index: u64) -> u64 {
        let start = index.saturating_mul(self.chunk_size as u64);
        self.size.saturating_sub(start).min(self.chunk_size as u64)
    }
}

/// A bundle's manifest, checked: what it installs, for which board, and from when to when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest<'a> {
    /// The board compatible string a device must have.
    pub compatible: &'a str,
    /// The release version.
    pub version: ReleaseVersion,
    /// Devices record this as the floor below which they never go back.
    pub min_version: Option<ReleaseVersion>,
    /// When the bundle was made (seconds since 1970).
    pub created: u64,
    /// After this time (seconds since 1970) devices refuse the bundle.
    pub expires: Option<u64>,
    /// Bytes of each chunk.
    pub chunk_size: u32,
    /// Chunk hashes per table block.
    pub hashes_per_block: u32,
    images: heapless::Vec<ImageManifest<'a>, MAX_IMAGES>,
}

fn check_name(field: &'static str, text: &str, max: usize) -> Result<(), BundleError> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_.".contains(c);
    if text.is_empty() || text.len() > max || !text.chars().all(ok_char) {
        return Err(BundleError::Field {
            field,
            problem: "must be 1 to 64 characters of letters, digits, '-', '_' and '.'",
        });
    }
    Ok(())
}

fn parse_version(field: &'static str, text: &str) -> Result<ReleaseVersion, BundleError> {
    ReleaseVersion::parse(text).map_err(|_| BundleError::Field {
        field,
        problem: "is not a release version rYY.MM-GDDHHMMSS",
    })
}

impl<'a> Manifest<'a> {
    /// A manifest for `images`, each given as (name, size, SHA-256, table block hashes).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        compatible: &'a str,
        version: ReleaseVersion,
        min_version: Option<ReleaseVersion>,
        created: u64,
        expires: Option<u64>,
        chunk_size: u32,
        hashes_per_block: u32,
        images: &[(&'a str, u64, [u8; 32], &'a [u8])],
    ) -> Result<Self, BundleError> {
        let mut manifest = Manifest {
            compatible,
            version,
            min_version,
            created,
            expires,
            chunk_size,
            hashes_per_block,
            images: heapless::Vec::new(),
        };
        let mut offset = 0u64;
        for &(name, size, sha256, block_hashes) in images {
            offset = manifest.push_image(name, size, sha256, block_hashes, offset)?;
        }
        manifest.check()?;
        Ok(manifest)
    }

    /// Adds an image at payload offset `offset`; returns the offset after it. Sizes are
    /// checked by `check` before any offset is relied on; until then the offset saturates
    /// rather than wraps.
    fn push_image(
        &mut self,
        name: &'a str,
        size: u64,
        sha256: [u8; 32],
        block_hashes: &'a [u8],
        offset: u64,
    ) -> Result<u64, BundleError> {
        let image = ImageManifest {
            name,
            size,
            sha256,
            block_hashes,
            payload_offset: offset,
            chunk_size: self.chunk_size,
            hashes_per_block: self.hashes_per_block,
        };
        let next = if size <= MAX_IMAGE_SIZE && self.chunk_size >= MIN_CHUNK_SIZE {
            offset.saturating_add(image.encoded_len())
        } else {
            offset
        };
        self.images.push(image).map_err(|_| BundleError::Field {
            field: "images",
            problem: "are more than 4",
        })?;
        Ok(next)
    }

    /// Decodes and checks a manifest (after its signature has been verified).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BundleError> {
        let (wire, rest): (ManifestWire<'a>, &[u8]) =
            postcard::take_from_bytes(bytes).map_err(|_| BundleError::Decode)?;
        if !rest.is_empty() {
            return Err(BundleError::Field {
                field: "manifest",
                problem: "has bytes after its end",
            });
        }
        let mut manifest = Manifest {
            compatible: wire.compatible,
            version: parse_version("version", wire.version)?,
            min_version: match wire.min_version {
                Some(v) => Some(parse_version("min_version", v)?),
                None => None,
            },
            created: wire.created,
            expires: wire.expires,
            chunk_size: wire.chunk_size,
            hashes_per_block: wire.hashes_per_block,
            images: heapless::Vec::new(),
        };
        let mut offset = 0u64;
        for image in wire.images {
            offset = manifest.push_image(
                image.name,
                image.size,
                image.sha256,
                image.block_hashes,
                offset,
            )?;
        }
        manifest.check()?;
        Ok(manifest)
    }

    fn check(&self) -> Result<(), BundleError> {
        check_name("compatible", self.compatible, COMPATIBLE_MAX_LEN)?;
        if self.min_version.is_some_and(|min| min > self.version) {
            return Err(BundleError::Field {
                field: "min_version",
                problem: "is newer than the release version",
            });
        }
        if self.expires.is_some_and(|e| e <= self.created) {
            return Err(BundleError::Field {
                field: "expires",
                problem: "is not after the creation time",
            });
        }
        if !self.chunk_size.is_power_of_two()
            || !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&self.chunk_size)
        {
            return Err(BundleError::Field {
                field: "chunk_size",
                problem: "must be a power of two from 4 KiB to 16 MiB",
            });
        }
        if !(1..=MAX_HASHES_PER_BLOCK).contains(&self.hashes_per_block) {
            return Err(BundleError::Field {
                field: "hashes_per_block",
                problem: "must be from 1 to 65536",
            });
        }
        if self.images.is_empty() {
            return Err(BundleError::Field {
                field: "images",
                problem: "are missing: a bundle carries at least one",
            });
        }
        for (i, image) in self.images.iter().enumerate() {
            check_name("image name", image.name, IMAGE_NAME_MAX_LEN)?;
            if self
                .images
                .iter()
                .take(i)
                .any(|other| other.name == image.name)
            {
                return Err(BundleError::Field {
                    field: "image name",
                    problem: "appears twice",
                });
            }
            if image.size == 0 || image.size > MAX_IMAGE_SIZE {
                return Err(BundleError::Field {
                    field: "image size",
                    problem: "is 0 or above the 64 GiB limit",
                });
            }
            let want = image.block_count().saturating_mul(CHUNK_HASH_LEN as u64);
            if image.block_hashes.len() as u64 != want {
                return Err(BundleError::Field {
                    field: "block hashes",
                    problem: "do not match the image size (one 32-byte hash per table block)",
                });
            }
        }
        Ok(())
    }

    /// The images, in payload order.
    pub fn images(&self) -> &[ImageManifest<'a>] {
        &self.images
    }

    /// The image named `name`.
    pub fn image(&self, name: &str) -> Option<&ImageManifest<'a>> {
        self.images.iter().find(|i| i.name == name)
    }

    /// Bytes of the payload: every image's tables and data.
    pub fn payload_len(&self) -> u64 {
        self.images.iter().map(|i| i.encoded_len()).sum()
    }

    /// Encodes the manifest into `buf`; returns the bytes written.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, BundleError> {
        let version = self.version.text();
        let min_version = self.min_version.map(|v| v.text());
        let mut images = heapless::Vec::<ImageWire<'_>, MAX_IMAGES>::new();
        for image in &self.images {
            images
                .push(ImageWire {
                    name: image.name,
                    size: image.size,
                    sha256: image.sha256,
                    block_hashes: image.block_hashes,
                })
                .map_err(|_| BundleError::BufferTooSmall)?;
        }
        let wire = ManifestWire {
            compatible: self.compatible,
            version: version.as_str(),
            min_version: min_version.as_ref().map(|v| v.as_str()),
            created: self.created,
            expires: self.expires,
            chunk_size: self.chunk_size,
            hashes_per_block: self.hashes_per_block,
            images,
        };
        postcard::to_slice(&wire, buf)
            .map(|written| written.len())
            .map_err(|_| BundleError::BufferTooSmall)
    }
}

#[cfg(test)]
#[path = "bundle_tests.rs"]
mod tests;
