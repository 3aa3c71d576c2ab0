//! Unit tests of `signature`.

use super::*;
use std::string::ToString;

// `signify-openbsd -S -s a.sec -m m` over "hello\n".
pub(crate) const SIGNIFY_SIG: &[u8] = b"untrusted comment: verify with a.pub\n\
    RWQs4sbN4IwvtSRICapUYuDJwt5j+1UjlvsNZYTd6uCnPk8F/SufsPA+jrSZjzZ9PXX9/6WLHbhWsILLgnyMQfQCj/oyrI6aXAc=\n";

// `minisign -S -l` (legacy) over "hello\n".
pub(crate) const MINISIGN_SIG: &[u8] = b"untrusted comment: signature from minisign secret key\n\
    RWRsUntk8y+AtHALWW7GQqj0b60C3bQj33gZFvL7du95JcZKnExpy5/XCJfpkF62JKPq2EnskAQX3ZTe0agGRmzRpblU9RsoNgo=\n\
    trusted comment: timestamp:1795377798\tfile:m\n\
    0B2vm9R6IHmZcxAaofY3Rwfy0ABiDZ1P0oeFYQjfc/CN5XaHZ70NVnGFCezJcuNXL4FWap48BewmQ2j6X2L2AA==\n";

// `minisign -S` (prehashed, the default since 0.11).
const MINISIGN_PREHASHED: &[u8] = b"untrusted comment: signature from minisign secret key\n\
    RURsUntk8y+AtDzFtUMnfA8sTlgciSZgk3mo+RIQUDTzAzLeTkY6Y2N4aX8qsLcEJDQ3SmRLZ3HKL94vYBud/FVS/qlSavgnzQs=\n\
    trusted comment: timestamp:1795377798\tfile:m\thashed\n\
    lwGjIXD/gRjWisKiYOiZXjUWreeuqK5756duAnJ1DtcVJ4HcgGKieYRexif1FsyhM0C11FsowhO3IRHoD3ciAQ==\n";

#[test]
fn round_trips_signify_signature() {
    let file = SignatureFile::parse(SIGNIFY_SIG).unwrap();
    assert_eq!(file.comment, "verify with a.pub");
    assert!(file.trusted.is_none());
    let mut buf = [0u8; 256];
    let n = file.emit(&mut buf).unwrap();
    assert_eq!(n, file.buffer_len());
    assert_eq!(&buf[..n], SIGNIFY_SIG);
}

#[test]
fn round_trips_minisign_signature() {
    let file = SignatureFile::parse(MINISIGN_SIG).unwrap();
    let trusted = file.trusted.unwrap();
    assert_eq!(trusted.comment, "timestamp:1795377798\tfile:m");
    assert_eq!(file.signature.key_number.to_string(), "B4802FF3647B526C");
    let mut buf = [0u8; 512];
    let n = file.emit(&mut buf).unwrap();
    assert_eq!(&buf[..n], MINISIGN_SIG);
}

#[test]
fn refuses_prehashed_minisign_signature() {
    let e = SignatureFile::parse(MINISIGN_PREHASHED).unwrap_err();
    assert_eq!(
        (e.line, e.column, e.kind),
        (2, 1, FormatErrorKind::PrehashedSignature)
    );
}

#[test]
fn names_faults_in_the_minisign_tail() {
    let mut text = SIGNIFY_SIG.to_vec();
    text.extend_from_slice(b"comment: x\n");
    let e = SignatureFile::parse(&text).unwrap_err();
    assert_eq!(
        (e.line, e.kind),
        (3, FormatErrorKind::MissingHeader(TRUSTED_COMMENT_HEADER))
    );
    let mut text = SIGNIFY_SIG.to_vec();
    text.extend_from_slice(b"trusted comment: x\n");
    assert_eq!(SignatureFile::parse(&text).unwrap_err().line, 4);
    let cut = &MINISIGN_SIG[..MINISIGN_SIG.len() - 5];
    let e = SignatureFile::parse(cut).unwrap_err();
    assert_eq!((e.line, e.kind), (4, FormatErrorKind::MissingNewline));
}

#[test]
fn every_truncation_is_an_error() {
    let signify_part_len = MINISIGN_SIG
        .windows(9)
        .position(|w| w == b"\ntrusted ")
        .unwrap()
        + 1;
    for len in 0..MINISIGN_SIG.len() {
        let keeps_signify_part = len == signify_part_len;
        assert_eq!(
            SignatureFile::parse(&MINISIGN_SIG[..len]).is_ok(),
            keeps_signify_part,
            "{len}"
        );
    }
}
