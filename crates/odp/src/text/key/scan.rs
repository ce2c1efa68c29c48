//! Low-level scanning with the exact acceptance rules of OVS's text parser.
//!
//! OVS reads numbers with its own `scanf` (`ovs_scan`): leading white space
//! is skipped, a sign is accepted, `%i` picks the base from a `0x` or `0`
//! prefix, and out-of-range values keep their least significant bits instead
//! of failing. Addresses go through glibc's `inet_pton`, and long hex strings
//! through OVS's `parse_int_string`. The functions here reproduce those rules
//! so that exactly the same texts are accepted, with the same values.
//!
//! Every scanner takes the remaining input as bytes and returns what it read
//! with the number of bytes consumed; `None` means "no match". Reading past
//! the end behaves as reading a NUL byte, as in C.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The byte at `i`, or 0 past the end (C's terminating NUL).
pub(super) fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

/// `s` from `i` on (empty past the end).
pub(super) fn tail(s: &[u8], i: usize) -> &[u8] {
    s.get(i..).unwrap_or(&[])
}

/// C's `isspace` in the "C" locale.
pub(in crate::text) fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn hexit(c: u8) -> Option<u32> {
    (c as char).to_digit(16)
}

/// One integer conversion of OVS's `ovs_scan` (`%i` with `base` 0, `%d`/`%u`
/// with 10, `%x` with 16): the value wrapped to 64 bits (never an overflow
/// error) and the bytes consumed. `0x` must be followed by a hex digit.
pub(in crate::text) fn scan_int(s: &[u8], base: u32) -> Option<(u64, usize)> {
    let mut i = 0;
    while is_space(at(s, i)) {
        i += 1;
    }
    let negative = at(s, i) == b'-';
    if matches!(at(s, i), b'-' | b'+') {
        i += 1;
    }
    let mut base = base;
    if (base == 0 || base == 16) && at(s, i) == b'0' && matches!(at(s, i + 1), b'x' | b'X') {
        base = 16;
        i += 2;
    } else if base == 0 {
        base = if at(s, i) == b'0' { 8 } else { 10 };
    }
    let mut value: u64 = 0;
    let mut digits = 0;
    while let Some(d) = hexit(at(s, i)).filter(|&d| d < base) {
        value = value
            .wrapping_mul(u64::from(base))
            .wrapping_add(u64::from(d));
        digits += 1;
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    Some((
        if negative {
            value.wrapping_neg()
        } else {
            value
        },
        i,
    ))
}

/// A number, optionally followed by `/mask` (both with `base`): value, mask
/// if one was given, bytes consumed. A `/` not followed by a number is left
/// unconsumed, as OVS does.
pub(super) fn scan_int_masked(s: &[u8], base: u32) -> Option<(u64, Option<u64>, usize)> {
    let (v, n) = scan_int(s, base)?;
    if at(s, n) == b'/' {
        if let Some((m, k)) = scan_int(tail(s, n + 1), base) {
            return Some((v, Some(m), n + 1 + k));
        }
    }
    Some((v, None, n))
}

fn ones(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// OVS's `scan_u8`/`scan_u16`/`scan_u32`/`scan_be*` with a mask: value and
/// mask truncated to `bits`, mask all-ones when not given.
pub(super) fn scan_uint(s: &[u8], bits: u32) -> Option<(u64, u64, usize)> {
    let (v, m, n) = scan_int_masked(s, 0)?;
    Some((v & ones(bits), m.unwrap_or(u64::MAX) & ones(bits), n))
}

/// The same without mask (the `/` is not read).
pub(super) fn scan_uint_nomask(s: &[u8], bits: u32) -> Option<(u64, usize)> {
    let (v, n) = scan_int(s, 0)?;
    Some((v & ones(bits), n))
}

/// `%hhu.%hhu.%hhu.%hhu`.
fn scan_ip4_raw(s: &[u8]) -> Option<(Ipv4Addr, usize)> {
    let mut i = 0;
    let mut o = [0u8; 4];
    for (k, byte) in o.iter_mut().enumerate() {
        if k > 0 {
            if at(s, i) != b'.' {
                return None;
            }
            i += 1;
        }
        let (v, n) = scan_int(tail(s, i), 10)?;
        *byte = v as u8;
        i += n;
    }
    Some((Ipv4Addr::from(o), i))
}

/// An IPv4 address with optional `/mask` (all-ones when absent).
pub(super) fn scan_ipv4(s: &[u8]) -> Option<(Ipv4Addr, Ipv4Addr, usize)> {
    let (a, n) = scan_ip4_raw(s)?;
    if at(s, n) == b'/' {
        if let Some((m, k)) = scan_ip4_raw(tail(s, n + 1)) {
            return Some((a, m, n + 1 + k));
        }
    }
    Some((a, Ipv4Addr::BROADCAST, n))
}

/// `%hhx:%hhx:%hhx:%hhx:%hhx:%hhx`.
fn scan_eth_raw(s: &[u8]) -> Option<([u8; 6], usize)> {
    let mut i = 0;
    let mut o = [0u8; 6];
    for (k, byte) in o.iter_mut().enumerate() {
        if k > 0 {
            if at(s, i) != b':' {
                return None;
            }
            i += 1;
        }
        let (v, n) = scan_int(tail(s, i), 16)?;
        *byte = v as u8;
        i += n;
    }
    Some((o, i))
}

/// An Ethernet address with optional `/mask` (all-ones when absent).
pub(super) fn scan_eth(s: &[u8]) -> Option<([u8; 6], [u8; 6], usize)> {
    let (a, n) = scan_eth_raw(s)?;
    if at(s, n) == b'/' {
        if let Some((m, k)) = scan_eth_raw(tail(s, n + 1)) {
            return Some((a, m, n + 1 + k));
        }
    }
    Some((a, [0xff; 6], n))
}

/// `%46[0123456789abcdefABCDEF:.]` followed by `inet_pton(AF_INET6)`.
fn scan_ip6_raw(s: &[u8]) -> Option<(Ipv6Addr, usize)> {
    let n = s
        .iter()
        .take(46)
        .take_while(|c| c.is_ascii_hexdigit() || **c == b':' || **c == b'.')
        .count();
    if n == 0 {
        return None;
    }
    Some((inet_pton6(&s[..n])?, n))
}

/// An IPv6 address with optional `/mask` (all-ones when absent).
pub(super) fn scan_ipv6(s: &[u8]) -> Option<(Ipv6Addr, Ipv6Addr, usize)> {
    let (a, n) = scan_ip6_raw(s)?;
    if at(s, n) == b'/' {
        if let Some((m, k)) = scan_ip6_raw(tail(s, n + 1)) {
            return Some((a, m, n + 1 + k));
        }
    }
    Some((a, Ipv6Addr::from([0xff; 16]), n))
}

/// glibc's `inet_pton4` on exactly `s` (no leading zeros, 4 octets).
fn inet_pton4(s: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut idx = 0;
    let mut saw_digit = false;
    let mut octets = 0;
    for &c in s {
        if c.is_ascii_digit() {
            let new = u32::from(out[idx]) * 10 + u32::from(c - b'0');
            if saw_digit && out[idx] == 0 {
                return None;
            }
            if new > 255 {
                return None;
            }
            out[idx] = new as u8;
            if !saw_digit {
                octets += 1;
                if octets > 4 {
                    return None;
                }
                saw_digit = true;
            }
        } else if c == b'.' && saw_digit {
            if octets == 4 {
                return None;
            }
            idx += 1;
            saw_digit = false;
        } else {
            return None;
        }
    }
    if octets < 4 {
        return None;
    }
    Some(out)
}

/// glibc's `inet_pton6` on exactly `s`.
pub(in crate::text) fn inet_pton6(s: &[u8]) -> Option<Ipv6Addr> {
    let mut tmp = [0u8; 16];
    let mut tp = 0usize;
    let mut colonp: Option<usize> = None;
    let mut i = 0usize;
    if s.is_empty() {
        return None;
    }
    if s[0] == b':' {
        i = 1;
        if at(s, 1) != b':' {
            return None;
        }
    }
    let mut curtok = i;
    let mut xdigits = 0;
    let mut val: u32 = 0;
    while i < s.len() {
        let c = s[i];
        i += 1;
        if let Some(d) = hexit(c) {
            if xdigits == 4 {
                return None;
            }
            val = (val << 4) | d;
            xdigits += 1;
            continue;
        }
        if c == b':' {
            curtok = i;
            if xdigits == 0 {
                if colonp.is_some() {
                    return None;
                }
                colonp = Some(tp);
                continue;
            } else if i == s.len() {
                return None;
            }
            if tp + 2 > 16 {
                return None;
            }
            tmp[tp] = (val >> 8) as u8;
            tmp[tp + 1] = val as u8;
            tp += 2;
            xdigits = 0;
            val = 0;
            continue;
        }
        if c == b'.' && tp + 4 <= 16 {
            if let Some(v4) = inet_pton4(&s[curtok..]) {
                tmp[tp..tp + 4].copy_from_slice(&v4);
                tp += 4;
                xdigits = 0;
                break;
            }
        }
        return None;
    }
    if xdigits > 0 {
        if tp + 2 > 16 {
            return None;
        }
        tmp[tp] = (val >> 8) as u8;
        tmp[tp + 1] = val as u8;
        tp += 2;
    }
    if let Some(cp) = colonp {
        if tp == 16 {
            return None;
        }
        let n = tp - cp;
        let moved: Vec<u8> = tmp[cp..tp].to_vec();
        for b in &mut tmp[cp..] {
            *b = 0;
        }
        tmp[16 - n..].copy_from_slice(&moved);
        tp = 16;
    }
    if tp != 16 {
        return None;
    }
    Some(Ipv6Addr::from(tmp))
}

/// glibc's `inet_ntop(AF_INET6)`: the longest run (first of equals) of two
/// or more zero groups becomes `::`; IPv4-compatible and IPv4-mapped
/// addresses end in dotted quad.
pub(in crate::text) fn inet_ntop6(a: &Ipv6Addr) -> String {
    let w = a.segments();
    let (mut best_base, mut best_len) = (usize::MAX, 0usize);
    let (mut cur_base, mut cur_len) = (usize::MAX, 0usize);
    for (i, &word) in w.iter().enumerate() {
        if word == 0 {
            if cur_base == usize::MAX {
                cur_base = i;
                cur_len = 1;
            } else {
                cur_len += 1;
            }
        } else if cur_base != usize::MAX {
            if best_base == usize::MAX || cur_len > best_len {
                best_base = cur_base;
                best_len = cur_len;
            }
            cur_base = usize::MAX;
        }
    }
    if cur_base != usize::MAX && (best_base == usize::MAX || cur_len > best_len) {
        best_base = cur_base;
        best_len = cur_len;
    }
    if best_base != usize::MAX && best_len < 2 {
        best_base = usize::MAX;
    }
    let mut out = String::new();
    for (i, &word) in w.iter().enumerate() {
        if best_base != usize::MAX && i >= best_base && i < best_base + best_len {
            if i == best_base {
                out.push(':');
            }
            continue;
        }
        if i != 0 {
            out.push(':');
        }
        if i == 6 && best_base == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff)) {
            let o = a.octets();
            out.push_str(&format!("{}.{}.{}.{}", o[12], o[13], o[14], o[15]));
            return out;
        }
        out.push_str(&format!("{word:x}"));
    }
    if best_base != usize::MAX && best_base + best_len == 8 {
        out.push(':');
    }
    out
}

/// glibc's `strtoull(s, &end, 0)`: value and end offset; `Err` on overflow.
/// With no digits the value is 0 and the end is 0.
fn strtoull(s: &[u8]) -> Result<(u64, usize), ()> {
    let mut i = 0;
    while is_space(at(s, i)) {
        i += 1;
    }
    let negative = at(s, i) == b'-';
    if matches!(at(s, i), b'-' | b'+') {
        i += 1;
    }
    let base: u64 =
        if at(s, i) == b'0' && matches!(at(s, i + 1), b'x' | b'X') && hexit(at(s, i + 2)).is_some()
        {
            i += 2;
            16
        } else if at(s, i) == b'0' {
            8
        } else {
            10
        };
    let mut value: u64 = 0;
    let mut digits = 0;
    let mut overflow = false;
    while let Some(d) = hexit(at(s, i)).filter(|&d| u64::from(d) < base) {
        match value
            .checked_mul(base)
            .and_then(|v| v.checked_add(u64::from(d)))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
        digits += 1;
        i += 1;
    }
    if digits == 0 {
        return Ok((0, 0));
    }
    if overflow {
        return Err(());
    }
    Ok((
        if negative {
            value.wrapping_neg()
        } else {
            value
        },
        i,
    ))
}

/// glibc's `strtoll(s, &end, 10)` as OVS's `str_to_llong` uses it: white
/// space, a sign, decimal digits. `None` without digits or on overflow.
pub(in crate::text) fn strtoll10(s: &[u8]) -> Option<(i64, usize)> {
    let mut i = 0;
    while is_space(at(s, i)) {
        i += 1;
    }
    let negative = at(s, i) == b'-';
    if matches!(at(s, i), b'-' | b'+') {
        i += 1;
    }
    let start = i;
    let mut v: i128 = 0;
    while at(s, i).is_ascii_digit() {
        v = (v * 10 + i128::from(at(s, i) - b'0')).min(i128::from(u64::MAX));
        i += 1;
    }
    if i == start {
        return None;
    }
    let v = if negative { -v } else { v };
    i64::try_from(v).ok().map(|v| (v, i))
}

/// OVS's `parse_int_string`: a hex string (`0x...`, any length, blanks
/// allowed between digits) or a C integer, right-justified big-endian in
/// `width` bytes. Returns the bytes and the offset where parsing stopped, or
/// `None` if the value does not fit.
pub(in crate::text) fn parse_int_string(s: &[u8], width: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = vec![0u8; width];
    if s.starts_with(b"0x") || s.starts_with(b"0X") {
        let mut i = 2;
        let mut digits: Vec<u8> = Vec::new();
        loop {
            while matches!(at(s, i), b' ' | b'\t' | b'\r' | b'\n') {
                i += 1;
            }
            let Some(h) = hexit(at(s, i)) else { break };
            if h != 0 || !digits.is_empty() {
                if (digits.len() + 2) / 2 > width {
                    return None;
                }
                digits.push(h as u8);
            }
            i += 1;
        }
        let mut idx = width;
        let mut k = digits.len();
        while k > 0 {
            idx -= 1;
            out[idx] = digits[k - 1];
            if k > 1 {
                out[idx] |= digits[k - 2] << 4;
            }
            k = k.saturating_sub(2);
        }
        return Some((out, i));
    }
    let (mut v, end) = strtoull(s).ok()?;
    // No digits: OVS's EINVAL.
    if end == 0 {
        return None;
    }
    for b in out.iter_mut().rev() {
        *b = v as u8;
        v = v.checked_shr(8).unwrap_or(0);
    }
    if v != 0 {
        return None;
    }
    Some((out, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints_follow_ovs_scan() {
        assert_eq!(scan_int(b" 0x1fz", 0), Some((0x1f, 5)));
        assert_eq!(scan_int(b"010", 0), Some((8, 3)));
        assert_eq!(scan_int(b"08", 0), Some((0, 1)));
        assert_eq!(scan_int(b"0x", 0), None);
        assert_eq!(scan_int(b"-1", 0), Some((u64::MAX, 2)));
        assert_eq!(scan_uint(b"0x1ff/3", 8), Some((0xff, 3, 7)));
        assert_eq!(scan_uint(b"5/x", 8), Some((5, 0xff, 1)));
    }

    #[test]
    fn ipv6_text_matches_glibc() {
        for (t, want) in [
            ("::", "::"),
            ("::1", "::1"),
            ("::255", "::255"),
            ("1:0:0:1::", "1:0:0:1::"),
            ("fe80::1:2", "fe80::1:2"),
            ("1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"),
            ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
            ("::1.2.3.4", "::1.2.3.4"),
            ("1::2:0:0:3", "1::2:0:0:3"),
        ] {
            let a = inet_pton6(t.as_bytes()).unwrap();
            assert_eq!(inet_ntop6(&a), want, "{t}");
        }
        for bad in [
            "",
            ":",
            ":1::",
            "1:::2",
            "12345::",
            "1:2:3:4:5:6:7:8:9",
            "::1.2.3",
            "1::2::3",
            "1:",
        ] {
            assert!(inet_pton6(bad.as_bytes()).is_none(), "{bad}");
        }
    }

    #[test]
    fn int_strings() {
        assert_eq!(parse_int_string(b"0x0102)", 4), Some((vec![0, 0, 1, 2], 6)));
        assert_eq!(parse_int_string(b"0x1 2", 1), Some((vec![0x12], 5)));
        assert_eq!(parse_int_string(b"0x123", 1), None);
        assert_eq!(parse_int_string(b"258", 2), Some((vec![1, 2], 3)));
        assert_eq!(parse_int_string(b"258", 1), None);
        // No digits: OVS's EINVAL (`s == *tail`).
        assert_eq!(parse_int_string(b"x", 1), None);
        assert_eq!(parse_int_string(b"", 1), None);
    }
}
