//! Field values in the text forms OVS's scanners read (`%i`: decimal,
//! `0x` hex, leading-zero octal, a sign), biased towards the edges of each
//! field's width and just past them.

use crate::rng::Rng;

/// An integer for a field of `bits` bits: edges, random values, values one
/// past the width, now and then a negative or absurdly long one.
pub fn int(r: &Rng, bits: u32) -> String {
    let max: u128 = if bits >= 128 {
        u128::MAX
    } else {
        (1u128 << bits) - 1
    };
    let v: u128 = match r.below(100) {
        0..=9 => 0,
        10..=14 => 1,
        15..=24 => max,
        25..=26 => max.saturating_add(1),
        27 => ((r.next() as u128) << 64 | r.next() as u128) & (max << 1 | 1),
        28..=32 => max / 2 + 1,
        33..=45 => (r.next() as u128) % 16,
        46..=55 => (r.next() as u128) & 0xff & max,
        _ => ((r.next() as u128) << 64 | r.next() as u128) & max,
    };
    match r.below(100) {
        0 => format!("-{}", v.min(1000)),
        1 => format!("0{:o}", v),
        2 => format!("0X{v:X}"),
        3..=40 => format!("0x{v:x}"),
        _ => v.to_string(),
    }
}

/// An integer, masked with `/mask` (when `masks`) now and then.
pub fn masked_int(r: &Rng, bits: u32, masks: bool) -> String {
    let v = int(r, bits);
    if masks && r.chance(35) {
        format!("{v}/{}", int(r, bits))
    } else {
        v
    }
}

/// A dotted-quad IPv4 address, now and then malformed.
pub fn ipv4(r: &Rng) -> String {
    let b = |r: &Rng| match r.below(8) {
        0 => 0,
        1 => 255,
        _ => r.below(256),
    };
    match r.below(150) {
        0 => format!("{}.{}.{}", b(r), b(r), b(r)),
        1 => format!("{}.{}.{}.{}", 256 + r.below(10), b(r), b(r), b(r)),
        _ => format!("{}.{}.{}.{}", b(r), b(r), b(r), b(r)),
    }
}

/// An IPv4 address with an optional mask (dotted, now and then a prefix
/// length, which OVS's scanner does not take).
pub fn masked_ipv4(r: &Rng, masks: bool) -> String {
    let a = ipv4(r);
    if !masks || !r.chance(35) {
        return a;
    }
    match r.below(20) {
        0 => format!("{a}/{}", r.below(33)),
        1 => format!("{a}/255.255.255.0"),
        2 => format!("{a}/0.0.0.0"),
        _ => format!("{a}/{}", ipv4(r)),
    }
}

/// An IPv6 address in one of its textual forms.
pub fn ipv6(r: &Rng) -> String {
    let w = |r: &Rng| -> u16 {
        match r.below(5) {
            0 => 0,
            1 => 0xffff,
            _ => r.next() as u16,
        }
    };
    match r.below(10) {
        0 => "::".into(),
        1 => format!("::{:x}", w(r)),
        2 => format!("fe80::{:x}:{:x}", w(r), w(r)),
        3 => format!("2001:db8::{:x}", w(r)),
        4 => format!("::ffff:{}", ipv4(r)),
        5 => format!("{:x}::", w(r)),
        6 if r.chance(10) => "1:2:3:4:5:6:7".into(),
        _ => (0..8)
            .map(|_| format!("{:x}", w(r)))
            .collect::<Vec<_>>()
            .join(":"),
    }
}

/// An IPv6 address with an optional mask.
pub fn masked_ipv6(r: &Rng, masks: bool) -> String {
    let a = ipv6(r);
    if !masks || !r.chance(35) {
        return a;
    }
    match r.below(6) {
        0 => format!("{a}/{}", r.below(129)),
        1 => format!("{a}/::"),
        _ => format!("{a}/{}", ipv6(r)),
    }
}

/// An Ethernet address, now and then short.
pub fn mac(r: &Rng) -> String {
    let n = if r.below(150) == 0 { 5 } else { 6 };
    (0..n)
        .map(|_| match r.below(5) {
            0 => "00".to_string(),
            1 => "ff".to_string(),
            _ => format!("{:02x}", r.next() as u8),
        })
        .collect::<Vec<_>>()
        .join(":")
}

/// An Ethernet address with an optional mask.
pub fn masked_mac(r: &Rng, masks: bool) -> String {
    let a = mac(r);
    if masks && r.chance(35) {
        format!("{a}/{}", mac(r))
    } else {
        a
    }
}

/// A hex string of `n` bytes (`0x` prefixed or not).
pub fn hex_bytes(r: &Rng, n: usize) -> String {
    let s: String = (0..n).map(|_| format!("{:02x}", r.next() as u8)).collect();
    if r.chance(80) {
        format!("0x{s}")
    } else {
        s
    }
}
