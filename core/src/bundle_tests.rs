//! Unit tests of `bundle`.

use super::*;

const HASHES: [u8; 64] = [7u8; 64];

fn version(text: &str) -> ReleaseVersion {
    ReleaseVersion::parse(text).unwrap()
}

fn sample() -> Manifest<'static> {
    // 5 chunks of 4 KiB (the last short), 4 hashes per block: 2 blocks.
    Manifest::new(
        "qemu-aarch64-virt",
        version("r26.11-G22134501"),
        Some(version("r26.01-G01000000")),
        1_790_000_000,
        Some(1_800_000_000),
        4096,
        4,
        &[("rootfs", 4 * 4096 + 100, [1u8; 32], &HASHES)],
    )
    .unwrap()
}

#[test]
fn header_round_trip_and_refusals() {
    let header = BundleHeader {
        manifest_len: 300,
        signature_len: 200,
    };
    let bytes = header.emit();
    assert_eq!(&bytes[..8], b"NLBUNDLE");
    assert_eq!(BundleHeader::parse(&bytes), Ok(header));
    assert_eq!(header.payload_offset(), 32 + 300 + 200);
    assert_eq!(
        BundleHeader::parse(&bytes[..31]),
        Err(BundleError::Truncated {
            needed: 32,
            got: 31
        })
    );
    let mut bad = bytes;
    bad[0] ^= 1;
    assert_eq!(BundleHeader::parse(&bad), Err(BundleError::NotABundle));
    let mut bad = bytes;
    bad[8] = 2;
    assert_eq!(
        BundleHeader::parse(&bad),
        Err(BundleError::UnknownFormat { format: 2 })
    );
    let mut bad = bytes;
    bad[31] = 1;
    assert!(matches!(
        BundleHeader::parse(&bad),
        Err(BundleError::Header { .. })
    ));
    let mut bad = bytes;
    bad[12..16].copy_from_slice(&0u32.to_le_bytes());
    assert!(matches!(
        BundleHeader::parse(&bad),
        Err(BundleError::Header { .. })
    ));
}

#[test]
fn manifest_round_trip() {
    let manifest = sample();
    let mut buf = [0u8; 512];
    let len = manifest.emit(&mut buf).unwrap();
    let back = Manifest::parse(&buf[..len]).unwrap();
    assert_eq!(back, manifest);
    let image = back.image("rootfs").unwrap();
    assert_eq!(image.chunk_count(), 5);
    assert_eq!(image.block_count(), 2);
    assert_eq!(image.encoded_len(), 5 * 32 + 4 * 4096 + 100);
    assert_eq!(back.payload_len(), image.encoded_len());
    let b0 = image.block(0).unwrap();
    assert_eq!((b0.table_offset, b0.chunks, b0.data_len), (0, 4, 4 * 4096));
    assert_eq!(b0.data_offset(), 128);
    let b1 = image.block(1).unwrap();
    assert_eq!(b1.table_offset, 4 * (32 + 4096));
    assert_eq!(
        (b1.chunks, b1.first_chunk, b1.image_offset, b1.data_len),
        (1, 4, 4 * 4096, 100)
    );
    assert!(image.block(2).is_none());
    assert_eq!(image.chunk_len(4), 100);
    assert_eq!(image.block_hash(1), Some(&[7u8; 32]));
    assert_eq!(image.block_hash(2), None);
}

#[test]
fn manifest_refusals() {
    let mut buf = [0u8; 512];
    let len = sample().emit(&mut buf).unwrap();
    // Every truncation fails to decode or is refused; none panics.
    for cut in 0..len {
        assert!(Manifest::parse(&buf[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = buf;
    longer[len] = 0;
    assert!(Manifest::parse(&longer[..len + 1]).is_err());
    let new = |compat, chunk, hashes: &'static [u8], size| {
        Manifest::new(
            compat,
            version("r26.11-G22134501"),
            None,
            1,
            None,
            chunk,
            4,
            &[("rootfs", size, [0; 32], hashes)],
        )
    };
    assert!(matches!(
        new("bad board", 4096, &HASHES, 5000),
        Err(BundleError::Field {
            field: "compatible",
            ..
        })
    ));
    assert!(matches!(
        new("b", 4000, &HASHES, 5000),
        Err(BundleError::Field {
            field: "chunk_size",
            ..
        })
    ));
    assert!(matches!(
        new("b", 4096, &HASHES[..32], 5 * 4096),
        Err(BundleError::Field {
            field: "block hashes",
            ..
        })
    ));
    assert!(matches!(
        new("b", 4096, &[], 0),
        Err(BundleError::Field {
            field: "image size",
            ..
        })
    ));
    let newer_min = Manifest::new(
        "b",
        version("r26.01-G01000000"),
        Some(version("r26.02-G01000000")),
        1,
        None,
        4096,
        4,
        &[("rootfs", 10, [0; 32], &HASHES[..32])],
    );
    assert!(matches!(
        newer_min,
        Err(BundleError::Field {
            field: "min_version",
            ..
        })
    ));
    let expired = Manifest::new(
        "b",
        version("r26.01-G01000000"),
        None,
        10,
        Some(10),
        4096,
        4,
        &[("rootfs", 10, [0; 32], &HASHES[..32])],
    );
    assert!(matches!(
        expired,
        Err(BundleError::Field {
            field: "expires",
            ..
        })
    ));
}
