//! Unit tests of `base64`.

use super::*;

#[test]
fn rfc4648_vectors() {
    let cases: [(&[u8], &str); 7] = [
        (b"", ""),
        (b"f", "Zg=="),
        (b"fo", "Zm8="),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg=="),
        (b"fooba", "Zm9vYmE="),
        (b"foobar", "Zm9vYmFy"),
    ];
    for (data, text) in cases {
        let mut buf = [0u8; 16];
        assert_eq!(encode(data, &mut buf).unwrap(), text);
        let mut out = [0u8; 16];
        let n = decode(text.as_bytes(), &mut out).unwrap();
        assert_eq!(&out[..n], data);
    }
}

#[test]
fn rejects_bad_text_with_offsets() {
    let mut out = [0u8; 16];
    assert_eq!(
        decode(b"Zm9v!mFy", &mut out),
        Err(Base64Error::InvalidSymbol {
            offset: 4,
            byte: b'!'
        })
    );
    assert_eq!(
        decode(b"Zm9vY", &mut out),
        Err(Base64Error::InvalidLength { len: 5 })
    );
    assert_eq!(
        decode(b"Zg==Zm9v", &mut out),
        Err(Base64Error::InvalidPadding { offset: 2 })
    );
    assert_eq!(
        decode(b"Z===", &mut out),
        Err(Base64Error::InvalidPadding { offset: 1 })
    );
    assert_eq!(
        decode(b"Zh==", &mut out),
        Err(Base64Error::InvalidPadding { offset: 2 })
    );
    assert_eq!(
        decode(b"Zm8=", &mut [0u8; 1]),
        Err(Base64Error::BufferTooSmall { needed: 3 })
    );
    assert_eq!(
        decode_exact::<4>(b"Zm8="),
        Err(Base64Error::WrongDecodedLength {
            expected: 4,
            got: 2
        })
    );
    assert_eq!(
        decode(b"Zm 9", &mut out),
        Err(Base64Error::InvalidSymbol {
            offset: 2,
            byte: b' '
        })
    );
}

#[test]
fn round_trips_every_length() {
    let data: [u8; 80] = core::array::from_fn(|i| (i * 37 + 11) as u8);
    for len in 0..data.len() {
        let mut text = [0u8; 120];
        let encoded = encode(&data[..len], &mut text).unwrap();
        assert_eq!(encoded.len(), encoded_len(len));
        let mut out = [0u8; 80];
        let n = decode(encoded.as_bytes(), &mut out).unwrap();
        assert_eq!(&out[..n], &data[..len]);
    }
}
