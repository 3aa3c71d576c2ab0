//! Unit tests of `verifier`.

use super::*;
use crate::key::PublicKeyFile;
use crate::signature::SignatureFile;

const SIGNIFY_PUB: &[u8] = b"untrusted comment: signify public key\n\
    RWQs4sbN4IwvtfWCTyUNkrmK+Mhpda7h7JoMUM6kJBVcIqXDal9K99SH\n";
const SIGNIFY_SIG: &[u8] = b"untrusted comment: verify with a.pub\n\
    RWQs4sbN4IwvtSRICapUYuDJwt5j+1UjlvsNZYTd6uCnPk8F/SufsPA+jrSZjzZ9PXX9/6WLHbhWsILLgnyMQfQCj/oyrI6aXAc=\n";
const MINISIGN_PUB: &[u8] = b"untrusted comment: minisign public key B4802FF3647B526C\n\
    RWRsUntk8y+AtNCmRnmwawIa1lOVESXGVxphpInvUioPJ0ekjNTS/1BZ\n";
const MINISIGN_SIG: &[u8] = b"untrusted comment: signature from minisign secret key\n\
    RWRsUntk8y+AtHALWW7GQqj0b60C3bQj33gZFvL7du95JcZKnExpy5/XCJfpkF62JKPq2EnskAQX3ZTe0agGRmzRpblU9RsoNgo=\n\
    trusted comment: timestamp:1795377798\tfile:m\n\
    0B2vm9R6IHmZcxAaofY3Rwfy0ABiDZ1P0oeFYQjfc/CN5XaHZ70NVnGFCezJcuNXL4FWap48BewmQ2j6X2L2AA==\n";
const MESSAGE: &[u8] = b"hello\n";

fn verify_in_pieces(
    key: &[u8],
    sig: &[u8],
    message: &[u8],
    piece: usize,
) -> Result<(), VerifyError> {
    let key = PublicKeyFile::parse(key).unwrap().key;
    let sig = SignatureFile::parse(sig).unwrap().signature;
    let mut verifier = SignatureVerifier::new(&key, &sig)?;
    for chunk in message.chunks(piece.max(1)) {
        verifier.update(chunk);
        verifier.update(&[]);
    }
    verifier.finish()
}

#[test]
fn accepts_signify_signature_in_any_pieces() {
    for piece in 1..=MESSAGE.len() {
        assert_eq!(
            verify_in_pieces(SIGNIFY_PUB, SIGNIFY_SIG, MESSAGE, piece),
            Ok(())
        );
    }
}

#[test]
fn refuses_altered_message_and_wrong_key() {
    assert_eq!(
        verify_in_pieces(SIGNIFY_PUB, SIGNIFY_SIG, b"hellO\n", 2),
        Err(VerifyError::Mismatch)
    );
    assert_eq!(
        verify_in_pieces(SIGNIFY_PUB, SIGNIFY_SIG, b"hello", 2),
        Err(VerifyError::Mismatch)
    );
    assert!(matches!(
        verify_in_pieces(MINISIGN_PUB, SIGNIFY_SIG, MESSAGE, 3),
        Err(VerifyError::WrongKey { .. })
    ));
}

#[test]
fn checks_minisign_trusted_comment() {
    let key = PublicKeyFile::parse(MINISIGN_PUB).unwrap().key;
    assert_eq!(
        verify_in_pieces(MINISIGN_PUB, MINISIGN_SIG, MESSAGE, 4),
        Ok(())
    );
    let file = SignatureFile::parse(MINISIGN_SIG).unwrap();
    let trusted = file.trusted.unwrap();
    assert_eq!(
        verify_trusted_comment(&key, &file.signature, &trusted),
        Ok(())
    );
    let forged = TrustedComment {
        comment: "timestamp:1795377799\tfile:m",
        ..trusted
    };
    assert_eq!(
        verify_trusted_comment(&key, &file.signature, &forged),
        Err(VerifyError::TrustedCommentForged)
    );
}

#[test]
fn flipped_signature_bits_never_verify() {
    let key = PublicKeyFile::parse(SIGNIFY_PUB).unwrap().key;
    let sig = SignatureFile::parse(SIGNIFY_SIG).unwrap().signature;
    for bit in 0..SIGNATURE_LEN * 8 {
        let mut bad = sig;
        bad.signature[bit / 8] ^= 1 << (bit % 8);
        let verdict = SignatureVerifier::new(&key, &bad).and_then(|mut v| {
            v.update(MESSAGE);
            v.finish()
        });
        assert!(verdict.is_err(), "bit {bit}");
    }
}
