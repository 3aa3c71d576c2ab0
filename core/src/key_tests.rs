//! Unit tests of `key`.

use super::*;

// Written by `signify-openbsd -G -n -p a.pub -s a.sec` (Debian 31-3).
const SIGNIFY_PUB: &[u8] = b"untrusted comment: signify public key\n\
    RWQs4sbN4IwvtfWCTyUNkrmK+Mhpda7h7JoMUM6kJBVcIqXDal9K99SH\n";
const SIGNIFY_SEC: &[u8] = b"untrusted comment: signify secret key\n\
    RWRCSwAAAAD8m/hoTKWKEv76vwRvP9R6rRb+R/39qvcs4sbN4IwvtZlGM35yZuDgblzUt+HEQUB6o1zfhF8VsFj+nRQoZBPW9YJPJQ2SuYr4yGl1ruHsmgxQzqQkFVwipcNqX0r31Ic=\n";

#[test]
fn parses_and_emits_signify_public_key() {
    let file = PublicKeyFile::parse(SIGNIFY_PUB).unwrap();
    assert_eq!(file.comment, "signify public key");
    assert_eq!(
        file.key.key_number.0,
        [0x2c, 0xe2, 0xc6, 0xcd, 0xe0, 0x8c, 0x2f, 0xb5]
    );
    let mut buf = [0u8; 128];
    let n = file.emit(&mut buf).unwrap();
    assert_eq!(n, file.buffer_len());
    assert_eq!(&buf[..n], SIGNIFY_PUB);
}

#[test]
fn opens_unencrypted_signify_secret_key() {
    let public = PublicKeyFile::parse(SIGNIFY_PUB).unwrap().key;
    let file = SecretKeyFile::parse(SIGNIFY_SEC).unwrap();
    assert!(!file.key.is_encrypted());
    assert_eq!(file.key.key_number, public.key_number);
    let secret = file.key.open(&[0; 64]).unwrap();
    assert_eq!(&secret[32..], &public.key);
    let mut buf = [0u8; 256];
    let n = file.emit(&mut buf).unwrap();
    assert_eq!(&buf[..n], SIGNIFY_SEC);
}

#[test]
fn seal_and_open_with_mask() {
    let plain = SecretKeyFile::parse(SIGNIFY_SEC)
        .unwrap()
        .key
        .open(&[0; 64])
        .unwrap();
    let mask = [0x5a; 64];
    let sealed = SealedSecretKey::seal(&plain, KeyNumber([1; 8]), 42, [7; 16], &mask);
    assert_ne!(sealed.sealed_key, plain);
    assert_eq!(sealed.open(&mask).unwrap(), plain);
    assert_eq!(
        sealed.open(&[0x5b; 64]),
        Err(SecretKeyError::WrongPassphrase)
    );
    let back = SealedSecretKey::from_record(&sealed.to_record()).unwrap();
    assert!(back == sealed);
}

#[test]
fn damaged_unencrypted_key_is_named() {
    let mut key = SecretKeyFile::parse(SIGNIFY_SEC).unwrap().key;
    key.sealed_key[3] ^= 1;
    assert_eq!(key.open(&[0; 64]), Err(SecretKeyError::ChecksumMismatch));
}

#[test]
fn errors_name_line_and_column() {
    let e = PublicKeyFile::parse(b"").unwrap_err();
    assert_eq!(
        (e.line, e.column, e.kind),
        (1, 1, FormatErrorKind::MissingLine)
    );
    let e = PublicKeyFile::parse(b"untrusted comment: x\n").unwrap_err();
    assert_eq!((e.line, e.kind), (2, FormatErrorKind::MissingLine));
    let e = PublicKeyFile::parse(b"comment: x\nRWQ=\n").unwrap_err();
    assert_eq!(
        e.kind,
        FormatErrorKind::MissingHeader(UNTRUSTED_COMMENT_HEADER)
    );
    let truncated = &SIGNIFY_PUB[..SIGNIFY_PUB.len() - 1];
    let e = PublicKeyFile::parse(truncated).unwrap_err();
    assert_eq!((e.line, e.kind), (2, FormatErrorKind::MissingNewline));
    let mut garbage = SIGNIFY_PUB.to_vec();
    let at = garbage.len() - 10;
    garbage[at] = b'*';
    let e = PublicKeyFile::parse(&garbage).unwrap_err();
    assert_eq!((e.line, e.column), (2, 48));
    let mut extra = SIGNIFY_PUB.to_vec();
    extra.extend_from_slice(b"x\n");
    assert_eq!(
        PublicKeyFile::parse(&extra).unwrap_err().kind,
        FormatErrorKind::TrailingData
    );
    // A secret key is not a public key.
    assert!(matches!(
        PublicKeyFile::parse(SIGNIFY_SEC).unwrap_err().kind,
        FormatErrorKind::Base64(_) | FormatErrorKind::LineTooLong { .. }
    ));
}

#[test]
fn over_long_comment_is_refused() {
    let mut text = b"untrusted comment: ".to_vec();
    text.extend(core::iter::repeat_n(b'a', COMMENT_MAX_LEN + 1));
    text.extend_from_slice(b"\nRWQ=\n");
    let e = PublicKeyFile::parse(&text).unwrap_err();
    assert_eq!(
        e.kind,
        FormatErrorKind::CommentTooLong {
            max: COMMENT_MAX_LEN
        }
    );
    let key = PublicKeyFile::parse(SIGNIFY_PUB).unwrap().key;
    let long = core::str::from_utf8(&text[19..19 + COMMENT_MAX_LEN + 1]).unwrap();
    let mut buf = [0u8; 2048];
    assert_eq!(
        PublicKeyFile { comment: long, key }.emit(&mut buf),
        Err(EmitError::CommentTooLong {
            max: COMMENT_MAX_LEN
        })
    );
}
