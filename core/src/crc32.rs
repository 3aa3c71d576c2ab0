//! CRC-32 (IEEE 802.3, reflected, as zlib computes it): U-Boot's environment checksum.

/// The byte table, computed at compile time.
// Indexing in a const is checked by the compiler: out of bounds fails the build, never a board.
#[allow(clippy::indexing_slicing)]
const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// The CRC-32 of `data`.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        let index = ((crc ^ u32::from(b)) & 0xff) as usize;
        crc = TABLE.get(index).copied().unwrap_or(0) ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
#[path = "crc32_tests.rs"]
mod tests;
