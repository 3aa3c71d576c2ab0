//! Every size bound of the formats, in one place.
//!
//! Where a bound comes from a peer tool, it is that tool's bound, so that anything we write the
//! peer reads and the reverse.

/// Longest untrusted comment, in bytes, after `untrusted comment: `.
///
/// signify copies the comment into a 1024-byte buffer with its terminating NUL.
pub const COMMENT_MAX_LEN: usize = 1023;

/// Longest trusted comment, in bytes, after `trusted comment: ` (minisign's
/// `TRUSTEDCOMMENTMAXBYTES` less its NUL).
pub const TRUSTED_COMMENT_MAX_LEN: usize = 8191;

/// Header of the first line of every key and signature file.
pub const UNTRUSTED_COMMENT_HEADER: &str = "untrusted comment: ";

/// Header of minisign's third signature line.
pub const TRUSTED_COMMENT_HEADER: &str = "trusted comment: ";

/// Bytes of a key number, the random tag that ties a signature to its key.
pub const KEY_NUMBER_LEN: usize = 8;

/// Bytes of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;

/// Bytes of an Ed25519 secret key as signify stores it: seed, then public key.
pub const SECRET_KEY_LEN: usize = 64;

/// Bytes of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;

/// Bytes of a signify salt for bcrypt_pbkdf.
pub const SALT_LEN: usize = 16;

/// Bytes of a signify secret key checksum (the head of SHA-512 of the secret key).
pub const CHECKSUM_LEN: usize = 8;

/// Decoded size of a public key record: algorithm, key number, key.
pub const PUBLIC_KEY_RECORD_LEN: usize = 2 + KEY_NUMBER_LEN + PUBLIC_KEY_LEN;

/// Decoded size of a secret key record: algorithm, KDF, rounds, salt, checksum, key number, key.
pub const SECRET_KEY_RECORD_LEN: usize =
    2 + 2 + 4 + SALT_LEN + CHECKSUM_LEN + KEY_NUMBER_LEN + SECRET_KEY_LEN;

/// Decoded size of a signature record: algorithm, key number, signature.
pub const SIGNATURE_RECORD_LEN: usize = 2 + KEY_NUMBER_LEN + SIGNATURE_LEN;

/// bcrypt_pbkdf rounds signify uses for a passphrase-protected secret key.
pub const DEFAULT_KDF_ROUNDS: u32 = 42;

/// Most bcrypt_pbkdf rounds we accept from a secret key file: far above signify's 42, low enough
/// that a hostile key file cannot keep the signer busy for hours.
pub const MAX_KDF_ROUNDS: u32 = 10_000;

/// Longest base64 line of any record we read (a secret key, the largest, takes 140).
pub const BASE64_LINE_MAX_LEN: usize = 4 * SECRET_KEY_RECORD_LEN.div_ceil(3);

/// Bytes of an update bundle's fixed header.
pub const BUNDLE_HEADER_LEN: usize = 32;

/// Largest bundle manifest: four 64 GiB images in 128 MiB blocks take about 64 KiB.
pub const MANIFEST_MAX_LEN: usize = 128 * 1024;

/// Largest signature text in a bundle (a signify signature with a long trusted comment).
pub const SIGNATURE_MAX_LEN: usize = 16 * 1024;

/// Bytes of a chunk hash (SHA-256).
pub const CHUNK_HASH_LEN: usize = 32;

/// Smallest chunk a bundle may use.
pub const MIN_CHUNK_SIZE: u32 = 4 * 1024;

/// Largest chunk a bundle may use: the agent's chunk buffer holds one.
pub const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;

/// Most chunk hashes in one table block: the agent's table buffer holds one block (2 MiB).
pub const MAX_HASHES_PER_BLOCK: u32 = 65_536;

/// Most images in one bundle.
pub const MAX_IMAGES: usize = 4;

/// Largest image in a bundle.
pub const MAX_IMAGE_SIZE: u64 = 64 * 1024 * 1024 * 1024;

/// Longest board compatible string.
pub const COMPATIBLE_MAX_LEN: usize = 64;

/// Longest image name.
pub const IMAGE_NAME_MAX_LEN: usize = 64;

/// Bytes of a GRUB environment block as `grub-editenv create` writes it (GRUB's
/// `DEFAULT_ENVBLK_SIZE`).
pub const GRUB_ENV_LEN: usize = 1024;

/// Bytes of one copy of the native boot record: one disk sector, which a block device writes
/// whole.
pub const BOOT_RECORD_COPY_LEN: usize = 512;

/// Largest installer ranges file (`nanolin/disk.ranges`): the installer reads it whole into a
/// buffer of this size. About 600 ranges; a release's disk has a few dozen.
pub const DISK_RANGES_MAX_LEN: usize = 64 * 1024;

/// Longest file path in a ranges file (relative to the medium's root).
pub const DISK_RANGES_PATH_MAX_LEN: usize = 128;
