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
