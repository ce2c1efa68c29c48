//! Checksums: the Internet checksum (RFC 1071) with the IPv4 and IPv6
//! pseudo-headers, its incremental update (RFC 1624), and CRC32c (SCTP).
//!
//! A checksum is computed in two steps: [`add`] accumulates 16-bit
//! big-endian words into a running partial sum (a `u32` that never
//! overflows), and [`finish`] folds the carries and complements it, giving
//! the value to store in a header. A header whose stored checksum is right
//! sums, with the checksum field included, to `0xffff` ([`is_valid`]).
//!
//! ```
//! use packet::checksum;
//! let header = [0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0, 0,
//!               0xc0, 0xa8, 0, 1, 0xc0, 0xa8, 0, 0xc7];
//! assert_eq!(checksum::data(&header), 0xb861);
//! ```

/// Adds `data` to the partial sum `sum`, as big-endian 16-bit words. An odd
/// final byte is padded with a zero byte, so every chunk but the last one
/// of a checksummed range must have even length.
pub fn add(sum: u32, data: &[u8]) -> u32 {
    let mut acc = u64::from(sum);
    let mut words = data.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    fold64(acc)
}

fn fold64(mut acc: u64) -> u32 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // Fits: the loop leaves at most 16 bits.
    acc as u32
}

/// Folds the carries of a partial sum into 16 bits (not complemented).
pub fn fold(sum: u32) -> u16 {
    // fold64 leaves at most 16 significant bits.
    fold64(u64::from(sum)) as u16
}

/// Finishes a partial sum: folds and complements it, giving the value to
/// store in a checksum field.
pub fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// The Internet checksum of `data` (the value to store in a header whose
/// checksum field inside `data` is zero).
pub fn data(data: &[u8]) -> u16 {
    finish(add(0, data))
}

/// True if a partial sum over a range including its stored checksum shows
/// the checksum is right.
pub fn is_valid(sum: u32) -> bool {
    fold(sum) == 0xffff
}

/// Partial sum of the IPv4 pseudo-header for an upper-layer packet of
/// `len` bytes with protocol `proto` (RFC 768, RFC 793).
pub fn pseudo_header_v4(src: u32, dst: u32, proto: u8, len: u16) -> u32 {
    let mut sum = add(0, &src.to_be_bytes());
    sum = add(sum, &dst.to_be_bytes());
    add(sum, &[0, proto, (len >> 8) as u8, len as u8])
}

/// Partial sum of the IPv6 pseudo-header for an upper-layer packet of
/// `len` bytes whose final next-header value is `next_header` (RFC 8200
/// section 8.1).
pub fn pseudo_header_v6(src: u128, dst: u128, next_header: u8, len: u32) -> u32 {
    let mut sum = add(0, &src.to_be_bytes());
    sum = add(sum, &dst.to_be_bytes());
    sum = add(sum, &len.to_be_bytes());
    add(sum, &[0, 0, 0, next_header])
}

/// Updates the stored checksum `check` after a 16-bit word covered by it
/// changed from `old` to `new` (RFC 1624, equation 3: `HC' = ~(~HC + ~m +
/// m')`). Never yields `0x0000` from a nonzero sum, as RFC 1624 requires.
pub fn update_u16(check: u16, old: u16, new: u16) -> u16 {
    let sum = u32::from(!check) + u32::from(!old) + u32::from(new);
    finish(sum)
}

/// Updates the stored checksum `check` after a 32-bit field (aligned on a
/// 16-bit boundary of the checksummed range) changed from `old` to `new`.
pub fn update_u32(check: u16, old: u32, new: u32) -> u16 {
    update_bytes(check, &old.to_be_bytes(), &new.to_be_bytes())
}

/// Updates the stored checksum `check` after the bytes `old` (starting on a
/// 16-bit boundary of the checksummed range) were replaced by `new`.
/// `old` and `new` must have the same, even, length; extra bytes of the
/// longer one are ignored.
pub fn update_bytes(check: u16, old: &[u8], new: &[u8]) -> u16 {
    let mut acc = u64::from(!check);
    for (o, n) in old.chunks_exact(2).zip(new.chunks_exact(2)) {
        acc += u64::from(!u16::from_be_bytes([o[0], o[1]]));
        acc += u64::from(u16::from_be_bytes([n[0], n[1]]));
    }
    finish(fold64(acc))
}

/// [`update_bytes`] for a UDP checksum, where 0 means "no checksum": a
/// zero checksum stays zero, and a computed zero is stored as `0xffff`.
pub fn update_udp(check: u16, old: &[u8], new: &[u8]) -> u16 {
    if check == 0 {
        return 0;
    }
    match update_bytes(check, old, new) {
        0 => 0xffff,
        c => c,
    }
}

/// CRC32c (Castagnoli) lookup table, reflected polynomial 0x82f63b78.
const CRC32C_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// Continues a CRC32c over `data`. Start with `!0`; the CRC is the
/// complement of the final state (see [`crc32c`]).
pub fn crc32c_update(mut state: u32, data: &[u8]) -> u32 {
    for &b in data {
        state = CRC32C_TABLE[((state ^ u32::from(b)) & 0xff) as usize] ^ (state >> 8);
    }
    state
}

/// The CRC32c of `data` (RFC 3309). SCTP stores it in its checksum field
/// least significant byte first ([`crate::sctp::Packet::fill_checksum`]).
pub fn crc32c(data: &[u8]) -> u32 {
    !crc32c_update(!0, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    static RFC1071: [u8; 8] = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];

    static IPV4_HEADER: [u8; 20] = [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00,
        0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    #[test]
    fn rfc1071_example_sum() {
        assert_eq!(fold(add(0, &RFC1071)), 0xddf2);
        assert_eq!(data(&RFC1071), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(add(0, &[0x12, 0x34, 0x56]), 0x1234 + 0x5600);
    }

    #[test]
    fn ipv4_header_checks() {
        assert!(is_valid(add(0, &IPV4_HEADER)));
        let mut h = IPV4_HEADER;
        h[10] = 0;
        h[11] = 0;
        assert_eq!(data(&h), 0xb861);
    }

    #[test]
    fn incremental_update_matches_recompute() {
        let mut h = IPV4_HEADER;
        // Decrement the TTL (byte 8, in the word 0x4011).
        let old_word = u16::from_be_bytes([h[8], h[9]]);
        h[8] -= 1;
        let new_word = u16::from_be_bytes([h[8], h[9]]);
        let updated = update_u16(0xb861, old_word, new_word);
        h[10] = 0;
        h[11] = 0;
        assert_eq!(updated, data(&h));

        // Change the destination address.
        let mut h2 = IPV4_HEADER;
        let new_dst = 0x0a00_0001u32;
        h2[16..20].copy_from_slice(&new_dst.to_be_bytes());
        let updated = update_u32(0xb861, 0xc0a8_00c7, new_dst);
        h2[10] = 0;
        h2[11] = 0;
        assert_eq!(updated, data(&h2));
    }

    #[test]
    fn incremental_update_of_an_ipv6_address_in_the_pseudo_header() {
        let segment = [0x12u8, 0x34, 0x00, 0x50, 0, 8, 0, 0];
        let (src, dst, new_dst) = (1u128 << 120 | 5, 2u128 << 120 | 9, 0xfe80u128 << 112 | 0x77);
        let full = |d: u128| finish(add(pseudo_header_v6(src, d, 17, 8), &segment));
        let updated = update_udp(full(dst), &dst.to_be_bytes(), &new_dst.to_be_bytes());
        assert_eq!(updated, full(new_dst));
        assert_eq!(update_udp(0, &[0, 1], &[0, 2]), 0);
    }

    #[test]
    fn udp_update_never_stores_zero() {
        // ~0x0001 + ~0x0000 + 0x0001 folds to 0xffff, whose complement is 0.
        let updated = update_bytes(0x0001, &[0x00, 0x00], &[0x00, 0x01]);
        assert_eq!(updated, 0);
        assert_eq!(update_udp(0x0001, &[0x00, 0x00], &[0x00, 0x01]), 0xffff);
    }

    #[test]
    fn pseudo_headers_sum_their_fields() {
        let v4 = pseudo_header_v4(0xc0a8_0001, 0xc0a8_00c7, 17, 0x5f);
        assert_eq!(
            v4,
            fold(0xc0a8 + 0x0001 + 0xc0a8 + 0x00c7 + 17 + 0x5f) as u32
        );
        let v6 = pseudo_header_v6(1 << 112 | 1, 2, 58, 0x1_0020);
        assert_eq!(v6, 1 + 1 + 2 + 1 + 0x20 + 58);
    }

    #[test]
    fn crc32c_known_values() {
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(&[0u8; 32]), 0x8a91_36aa);
        assert_eq!(crc32c(&[0xffu8; 32]), 0x62a8_ab43);
    }
}
