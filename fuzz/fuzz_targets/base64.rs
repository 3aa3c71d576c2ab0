//! `base64::decode` on any bytes, and `encode` of any bytes.
//!
//! Decoding is strict, so text it accepts is the one canonical encoding of what it decodes
//! to: encoding that gives the text back. Encoding any data gives text that decodes to it.
//! `decode_exact` agrees with `decode`; a buffer one byte short is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nanolin_core::base64::{self, Base64Error};
use nanolin_core::limits::{
    PUBLIC_KEY_RECORD_LEN, SECRET_KEY_RECORD_LEN, SIGNATURE_LEN, SIGNATURE_RECORD_LEN,
};

/// `decode_exact::<N>` must give what `decode` gave, when that is N bytes, and fail otherwise.
fn check_exact<const N: usize>(text: &[u8], decoded: Option<&[u8]>) {
    match (base64::decode_exact::<N>(text), decoded) {
        (Ok(exact), Some(d)) => assert_eq!(&exact[..], d),
        (Ok(_), None) => panic!("decode_exact::<{N}> accepts text that decode refuses"),
        (Err(_), Some(d)) => assert_ne!(d.len(), N, "decode_exact::<{N}> refuses {N} good bytes"),
        (Err(_), None) => {}
    }
}

fuzz_target!(|data: &[u8]| {
    // The input as text.
    let mut out = vec![0u8; data.len() / 4 * 3];
    let decoded = match base64::decode(data, &mut out) {
        Ok(n) => {
            assert!(n <= out.len());
            let decoded = &out[..n];
            let mut text = vec![0u8; base64::encoded_len(n)];
            let encoded = base64::encode(decoded, &mut text).expect("encode into encoded_len");
            assert_eq!(encoded.as_bytes(), data, "decode accepted non-canonical base64");
            // The exact length is enough; one byte less is not.
            let mut exact = vec![0u8; n];
            assert_eq!(base64::decode(data, &mut exact), Ok(n));
            assert_eq!(exact, decoded);
            if n > 0 {
                let mut short = vec![0u8; n - 1];
                assert!(matches!(
                    base64::decode(data, &mut short),
                    Err(Base64Error::BufferTooSmall { .. })
                ));
            }
            Some(decoded)
        }
        Err(e) => {
            match e {
                Base64Error::InvalidSymbol { offset, byte } => {
                    assert_eq!(data.get(offset), Some(&byte), "{e}")
                }
                Base64Error::InvalidPadding { offset } => assert!(offset < data.len(), "{e}"),
                Base64Error::InvalidLength { len } => {
                    assert_eq!(len, data.len());
                    assert_ne!(len % 4, 0);
                }
                Base64Error::WrongDecodedLength { .. } | Base64Error::BufferTooSmall { .. } => {
                    panic!("decode into a big enough buffer failed with {e:?}")
                }
            }
            let _ = e.to_string();
            None
        }
    };
    check_exact::<0>(data, decoded);
    check_exact::<2>(data, decoded);
    check_exact::<PUBLIC_KEY_RECORD_LEN>(data, decoded);
    check_exact::<SIGNATURE_LEN>(data, decoded);
    check_exact::<SIGNATURE_RECORD_LEN>(data, decoded);
    check_exact::<SECRET_KEY_RECORD_LEN>(data, decoded);

    // The input as data.
    let mut text = vec![0u8; base64::encoded_len(data.len())];
    let encoded = base64::encode(data, &mut text).expect("encode into encoded_len");
    assert_eq!(encoded.len(), base64::encoded_len(data.len()));
    let mut back = vec![0u8; data.len()];
    assert_eq!(base64::decode(encoded.as_bytes(), &mut back), Ok(data.len()));
    assert_eq!(back, data);
    if !data.is_empty() {
        let mut short = vec![0u8; base64::encoded_len(data.len()) - 1];
        assert_eq!(
            base64::encode(data, &mut short),
            Err(Base64Error::BufferTooSmall { needed: base64::encoded_len(data.len()) })
        );
    }
});
