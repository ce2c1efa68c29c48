//! UFIDs derived from flow keys, for callers that do not choose their own.
//!
//! The UFID of a key is the 128-bit MurmurHash3 (x64 variant) of the key's
//! netlink encoding, so that the same key always gets the same id, in every
//! process and for every provider. Written here because the hash is small and
//! must stay bit-stable across crate versions.

use odp::key::{KeyAttr, Ufid};

/// The UFID of `key`.
pub fn from_key(key: &[KeyAttr]) -> Ufid {
    // A typical key encodes to about 150 bytes: size the buffer up front
    // (growing from empty reallocated several times per call).
    let mut w = nl::Writer::with_buffer(Vec::with_capacity(256));
    odp::nl::key::emit_keys(key, &mut w);
    Ufid(murmur3_x64_128(w.as_bytes(), 0))
}

/// MurmurHash3, x64 128-bit variant, as a `u128` (h2 in the high half).
pub fn murmur3_x64_128(data: &[u8], seed: u64) -> u128 {
    const C1: u64 = 0x87c3_7b91_1142_53d5;
    const C2: u64 = 0x4cf5_ad43_2745_937f;
    fn fmix(mut k: u64) -> u64 {
        k ^= k >> 33;
        k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
        k ^= k >> 33;
        k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        k ^ (k >> 33)
    }
    let mut h1 = seed;
    let mut h2 = seed;
    let mut blocks = data.chunks_exact(16);
    for b in &mut blocks {
        let k1 = u64::from_le_bytes(b[..8].try_into().unwrap_or_default());
        let k2 = u64::from_le_bytes(b[8..].try_into().unwrap_or_default());
        h1 ^= k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
        h1 = h1
            .rotate_left(27)
            .wrapping_add(h2)
            .wrapping_mul(5)
            .wrapping_add(0x52dc_e729);
        h2 ^= k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
        h2 = h2
            .rotate_left(31)
            .wrapping_add(h1)
            .wrapping_mul(5)
            .wrapping_add(0x3849_5ab5);
    }
    let tail = blocks.remainder();
    let mut k1 = 0u64;
    let mut k2 = 0u64;
    for (i, &b) in tail.iter().enumerate() {
        if i < 8 {
            k1 |= u64::from(b) << (8 * i);
        } else {
            k2 |= u64::from(b) << (8 * (i - 8));
        }
    }
    if tail.len() > 8 {
        h2 ^= k2.wrapping_mul(C2).rotate_left(33).wrapping_mul(C1);
    }
    if !tail.is_empty() {
        h1 ^= k1.wrapping_mul(C1).rotate_left(31).wrapping_mul(C2);
    }
    let len = data.len() as u64;
    h1 ^= len;
    h2 ^= len;
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    h1 = fmix(h1);
    h2 = fmix(h2);
    h1 = h1.wrapping_add(h2);
    h2 = h2.wrapping_add(h1);
    (u128::from(h2) << 64) | u128::from(h1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference values computed with an independent implementation
    /// (Python's `mmh3.hash64(data, 0, signed=False)`).
    #[test]
    fn matches_reference_vectors() {
        assert_eq!(murmur3_x64_128(b"", 0), 0);
        let h = murmur3_x64_128(b"hello", 0);
        assert_eq!(h as u64, 0xcbd8a7b341bd9b02);
        assert_eq!((h >> 64) as u64, 0x5b1e906a48ae1d19);
        let h = murmur3_x64_128(b"The quick brown fox jumps over the lazy dog", 0);
        assert_eq!(h as u64, 0xe34bbc7bbc071b6c);
        assert_eq!((h >> 64) as u64, 0x7a433ca9c49a9347);
        let bytes: Vec<u8> = (0..31).collect();
        let h = murmur3_x64_128(&bytes, 0);
        assert_eq!(h as u64, 0x053dd3e1a32cd094);
        assert_eq!((h >> 64) as u64, 0x9ee59aefb4005490);
    }
}
