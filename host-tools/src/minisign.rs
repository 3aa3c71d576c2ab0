//! minisign secret keys, so a team that already signs with minisign can sign with `nanolin`.
//!
//! Record (after base64), as minisign 0.11 writes it:
//!
//! ```text
//! "Ed" | kdf ("Sc" scrypt, or two zero bytes) | "B2" | salt (32) | opslimit (u64 LE)
//! | memlimit (u64 LE) | key number (8) | secret key (64) | checksum (32)
//! ```
//!
//! The last 104 bytes are XOR-ed with scrypt(passphrase, salt) when the kdf is `Sc`; scrypt's
//! N, r and p come from opslimit and memlimit as libsodium picks them. The checksum is
//! BLAKE2b-256 of `"Ed" | key number | secret key`; minisign leaves it zero for keys made
//! without a password (`-W`).

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use nanolin_core::base64;
use nanolin_core::{KeyNumber, SecretKeyError};

/// Decoded length of a minisign secret key record.
pub const RECORD_LEN: usize = 6 + 32 + 8 + 8 + SEALED_LEN;
const SEALED_LEN: usize = 8 + 64 + 32;
/// Most scrypt memory we let a key file ask for (minisign's own keys ask for 1 GiB).
pub const MAX_SCRYPT_MEMORY: u64 = 2 << 30;

/// A minisign secret key as stored.
pub struct MinisignSecretKey {
    scrypt: Option<ScryptSettings>,
    sealed: [u8; SEALED_LEN],
}

struct ScryptSettings {
    salt: [u8; 32],
    params: scrypt::Params,
}

/// Why a file is not a minisign secret key we can use.
pub type ParseError = String;

/// libsodium's choice of scrypt parameters for `crypto_pwhash_scryptsalsa208sha256`.
fn pick_params(opslimit: u64, memlimit: u64) -> (u8, u32, u32) {
    let opslimit = opslimit.max(32768);
    let r: u32 = 8;
    let log_n_for = |max_n: u64| {
        let mut log_n = 1u8;
        while log_n < 63 && (1u64 << log_n) <= max_n / 2 {
            log_n += 1;
        }
        log_n
    };
    if opslimit < memlimit / 32 {
        let max_n = opslimit / (u64::from(r) * 4);
        (log_n_for(max_n), r, 1)
    } else {
        let max_n = memlimit / (u64::from(r) * 128);
        let log_n = log_n_for(max_n);
        let max_rp = ((opslimit / 4) >> log_n).min(0x3fff_ffff);
        (log_n, r, (max_rp as u32 / r).max(1))
    }
}

impl MinisignSecretKey {
    /// True when `text` looks like a minisign secret key (its record has minisign's length).
    pub fn is_minisign(text: &[u8]) -> bool {
        record_line(text).is_some_and(|line| base64::encoded_len(RECORD_LEN) == line.len())
    }

    /// Parses a minisign secret key file.
    pub fn parse(text: &[u8]) -> Result<Self, ParseError> {
        let line = record_line(text).ok_or("line 2: missing base64 record")?;
        let record =
            base64::decode_exact::<RECORD_LEN>(line).map_err(|e| format!("line 2: {e}"))?;
        let (head, sealed_bytes) = record.split_at(RECORD_LEN - SEALED_LEN);
        if &head[0..2] != b"Ed" {
            return Err("line 2: unknown signature algorithm (expected Ed)".into());
        }
        if &head[4..6] != b"B2" {
            return Err("line 2: unknown checksum algorithm (expected B2)".into());
        }
        let mut salt = [0u8; 32];
        salt.copy_from_slice(&head[6..38]);
        let le = |range: std::ops::Range<usize>| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&head[range]);
            u64::from_le_bytes(b)
        };
        let (opslimit, memlimit) = (le(38..46), le(46..54));
        let scrypt = match &head[2..4] {
            b"Sc" => {
                let (log_n, r, p) = pick_params(opslimit, memlimit);
                let memory = 128u64.saturating_mul(u64::from(r)) << log_n;
                if memory > MAX_SCRYPT_MEMORY || log_n >= 64 {
                    return Err(format!(
                        "line 2: the key asks for {memory} bytes of scrypt memory; at most {MAX_SCRYPT_MEMORY} are accepted"
                    ));
                }
                // The length in Params only matters for password hash strings; `scrypt()`
                // fills whatever buffer it is given.
                let params = scrypt::Params::new(log_n, r, p, scrypt::Params::RECOMMENDED_LEN)
                    .map_err(|e| format!("line 2: unusable scrypt parameters: {e}"))?;
                Some(ScryptSettings { salt, params })
            }
            [0, 0] => None,
            _ => return Err("line 2: unknown key derivation (expected Sc or none)".into()),
        };
        let mut sealed = [0u8; SEALED_LEN];
        sealed.copy_from_slice(sealed_bytes);
        Ok(MinisignSecretKey { scrypt, sealed })
    }

    /// True when a passphrase is needed.
    pub fn is_encrypted(&self) -> bool {
        self.scrypt.is_some()
    }

    /// Opens the key, returning its number and the secret key (seed then public key).
    pub fn open(&self, passphrase: &str) -> Result<(KeyNumber, [u8; 64]), SecretKeyError> {
        let mut plain = self.sealed;
        if let Some(s) = &self.scrypt {
            let mut mask = [0u8; SEALED_LEN];
            // Fails only for an empty or enormous output, and ours is neither.
            scrypt::scrypt(passphrase.as_bytes(), &s.salt, &s.params, &mut mask)
                .map_err(|_| SecretKeyError::WrongPassphrase)?;
            for (b, m) in plain.iter_mut().zip(mask) {
                *b ^= m;
            }
        }
        let mut key_number = [0u8; 8];
        key_number.copy_from_slice(&plain[0..8]);
        let mut secret = [0u8; 64];
        secret.copy_from_slice(&plain[8..72]);
        let stored = &plain[72..104];
        let mut hasher = Blake2b::<U32>::new();
        hasher.update(b"Ed");
        hasher.update(key_number);
        hasher.update(secret);
        let computed = hasher.finalize();
        let unset = !self.is_encrypted() && stored.iter().all(|&b| b == 0);
        if computed.as_slice() != stored && !unset {
            return Err(if self.is_encrypted() {
                SecretKeyError::WrongPassphrase
            } else {
                SecretKeyError::ChecksumMismatch
            });
        }
        let public = ed25519_compact::PublicKey::from_slice(&secret[32..])
            .map_err(|_| SecretKeyError::InconsistentKey)?;
        ed25519_compact::SecretKey::new(secret)
            .validate_public_key(&public)
            .map_err(|_| SecretKeyError::InconsistentKey)?;
        Ok((KeyNumber(key_number), secret))
    }
}

/// The second line of a key file, without its line ending (minisign may omit the last one).
fn record_line(text: &[u8]) -> Option<&[u8]> {
    let mut lines = text.split(|&b| b == b'\n');
    let first = lines.next()?;
    if !first.starts_with(b"untrusted comment: ") {
        return None;
    }
    let line = lines.next()?;
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_libsodium_params_for_minisign_defaults() {
        // crypto_pwhash_scryptsalsa208sha256_{OPS,MEM}LIMIT_SENSITIVE
        assert_eq!(pick_params(33_554_432, 1_073_741_824), (20, 8, 1));
        // _INTERACTIVE
        assert_eq!(pick_params(524_288, 16_777_216), (14, 8, 1));
    }

    // `minisign -G -W` (no password).
    const UNENCRYPTED: &[u8] = b"untrusted comment: minisign encrypted secret key\n\
        RWQAAEIyAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAbFJ7ZPMvgLQt5JQy5Rt5E8gO9RIdjLr4h3s7KkfVN9js51OrhMozcNCmRnmwawIa1lOVESXGVxphpInvUioPJ0ekjNTS/1BZAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";

    #[test]
    fn opens_key_without_password() {
        assert!(MinisignSecretKey::is_minisign(UNENCRYPTED));
        let key = MinisignSecretKey::parse(UNENCRYPTED).unwrap();
        assert!(!key.is_encrypted());
        let (number, _secret) = key.open("").unwrap();
        assert_eq!(number.to_string(), "B4802FF3647B526C");
    }
}
