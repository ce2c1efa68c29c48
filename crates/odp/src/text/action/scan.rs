//! A cursor over the action text with the scanning rules OVS's parser relies
//! on (its `ovs_scan`, a `scanf` work-alike): numeric conversions skip
//! leading white space, accept a sign, pick the base from the prefix for
//! `%i`, and store the value truncated to the destination's width.

use std::net::{Ipv4Addr, Ipv6Addr};

/// The separators allowed between actions.
pub(super) const DELIMITERS: &[u8] = b", \t\r\n";

/// A position in the text. Past the end reads as NUL, as in C.
#[derive(Debug, Clone, Copy)]
pub(super) struct Cur<'a> {
    s: &'a [u8],
    pub(super) pos: usize,
}

impl<'a> Cur<'a> {
    pub(super) fn new(s: &'a str) -> Self {
        Cur {
            s: s.as_bytes(),
            pos: 0,
        }
    }

    /// The text from the cursor on.
    pub(super) fn rest(&self) -> &'a [u8] {
        self.s.get(self.pos..).unwrap_or(&[])
    }

    /// The text from the cursor on, as a `str` (empty if the cursor is not on
    /// a character boundary).
    pub(super) fn rest_str(&self) -> &'a str {
        std::str::from_utf8(self.rest()).unwrap_or("")
    }

    /// The byte at the cursor, or 0 at the end.
    pub(super) fn peek(&self) -> u8 {
        self.peek_at(0)
    }

    /// The byte `off` bytes after the cursor, or 0 past the end.
    pub(super) fn peek_at(&self, off: usize) -> u8 {
        self.s.get(self.pos + off).copied().unwrap_or(0)
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    pub(super) fn advance(&mut self, n: usize) {
        self.pos += n;
    }

    /// Skips any of `set`.
    pub(super) fn skip_any(&mut self, set: &[u8]) {
        while !self.at_end() && set.contains(&self.peek()) {
            self.pos += 1;
        }
    }

    /// Whether the text at the cursor starts with `lit`.
    pub(super) fn starts_with(&self, lit: &str) -> bool {
        self.rest().starts_with(lit.as_bytes())
    }

    /// Consumes `lit` if the text at the cursor starts with it.
    pub(super) fn lit(&mut self, lit: &str) -> bool {
        if self.starts_with(lit) {
            self.pos += lit.len();
            true
        } else {
            false
        }
    }

    /// Runs `f`; if it fails, puts the cursor back where it was.
    pub(super) fn attempt<T>(&mut self, f: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let saved = self.pos;
        let r = f(self);
        if r.is_none() {
            self.pos = saved;
        }
        r
    }

    fn skip_space(&mut self) {
        while matches!(
            self.peek(),
            b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'
        ) {
            self.pos += 1;
        }
    }

    /// One `ovs_scan` integer conversion in `base` (0: from the prefix):
    /// white space, an optional sign, digits; the value wrapped to 64 bits,
    /// never an overflow error (OVS's `scan_int`). `None` without digits.
    fn scan(&mut self, base: u32) -> Option<u64> {
        let (v, n) = crate::text::key::scan::scan_int(self.rest(), base)?;
        self.pos += n;
        Some(v)
    }

    /// glibc's `strtoull` (base from the prefix), as OVS's
    /// `parse_int_string` uses it: white space, a sign (negative values
    /// wrapped), digits; `None` without digits or on overflow. Unlike
    /// [`Cur::int_i`], `0x` without a hex digit reads as `0`.
    pub(super) fn strtoull(&mut self) -> Option<u64> {
        self.strto(0, false).map(|(v, _)| v)
    }

    /// glibc's `sscanf` `%lli` (OVS reads `meter(...)` with it): as
    /// `strtoll`, out-of-range values saturate.
    pub(super) fn sscanf_lli(&mut self) -> Option<u64> {
        self.strto(0, true).map(|(v, _)| v)
    }

    /// `strtoull`/`strtoll` after white space. Returns the value as 64 bits
    /// and whether it overflowed: `strtoull` fails on overflow (`None`),
    /// `strtoll` saturates.
    fn strto(&mut self, base: u32, signed: bool) -> Option<(u64, bool)> {
        self.attempt(|c| {
            c.skip_space();
            let neg = match c.peek() {
                b'-' => {
                    c.pos += 1;
                    true
                }
                b'+' => {
                    c.pos += 1;
                    false
                }
                _ => false,
            };
            let mut base = base;
            let hex_prefix = c.peek() == b'0'
                && matches!(c.peek_at(1), b'x' | b'X')
                && c.peek_at(2).is_ascii_hexdigit();
            if (base == 0 || base == 16) && hex_prefix {
                c.pos += 2;
                base = 16;
            } else if base == 0 {
                base = if c.peek() == b'0' { 8 } else { 10 };
            }
            let start = c.pos;
            let mut v: u128 = 0;
            while let Some(d) = (c.peek() as char).to_digit(base) {
                v = v
                    .saturating_mul(u128::from(base))
                    .saturating_add(u128::from(d));
                c.pos += 1;
            }
            if c.pos == start {
                return None;
            }
            if signed {
                let limit = if neg { 1u128 << 63 } else { (1u128 << 63) - 1 };
                if v > limit {
                    let sat = if neg { 1u64 << 63 } else { (1u64 << 63) - 1 };
                    return Some((sat, true));
                }
            } else if v > u128::from(u64::MAX) {
                return None;
            }
            let v = v as u64;
            Some((if neg { v.wrapping_neg() } else { v }, false))
        })
    }

    /// `%i`: base from the prefix; low bits kept by the caller.
    pub(super) fn int_i(&mut self) -> Option<u64> {
        self.scan(0)
    }

    /// `%d`: decimal.
    pub(super) fn int_d(&mut self) -> Option<u64> {
        self.scan(10)
    }

    /// `%u`: decimal (a sign is accepted, as C's).
    pub(super) fn int_u(&mut self) -> Option<u64> {
        self.scan(10)
    }

    /// `%x`: hexadecimal (an `0x` prefix is allowed).
    pub(super) fn int_x(&mut self) -> Option<u64> {
        self.scan(16)
    }

    /// `%i` into 32 bits.
    pub(super) fn i32(&mut self) -> Option<u32> {
        self.int_i().map(|v| v as u32)
    }

    /// `%i` into 16 bits.
    pub(super) fn i16(&mut self) -> Option<u16> {
        self.int_i().map(|v| v as u16)
    }

    /// `%i` into 8 bits.
    pub(super) fn i8(&mut self) -> Option<u8> {
        self.int_i().map(|v| v as u8)
    }

    /// `%[set]` with a maximum width: at least one byte of `set`.
    pub(super) fn span(&mut self, max: usize, allowed: impl Fn(u8) -> bool) -> Option<&'a str> {
        let start = self.pos;
        while self.pos - start < max && !self.at_end() && allowed(self.peek()) {
            self.pos += 1;
        }
        if self.pos == start {
            return None;
        }
        std::str::from_utf8(&self.s[start..self.pos]).ok()
    }

    /// `%lf` (`strtod`, decimal forms).
    pub(super) fn float(&mut self) -> Option<f64> {
        self.attempt(|c| {
            c.skip_space();
            let start = c.pos;
            if matches!(c.peek(), b'+' | b'-') {
                c.pos += 1;
            }
            let mut digits = 0;
            while c.peek().is_ascii_digit() {
                c.pos += 1;
                digits += 1;
            }
            if c.peek() == b'.' {
                c.pos += 1;
                while c.peek().is_ascii_digit() {
                    c.pos += 1;
                    digits += 1;
                }
            }
            if digits == 0 {
                return None;
            }
            if matches!(c.peek(), b'e' | b'E') {
                let save = c.pos;
                c.pos += 1;
                if matches!(c.peek(), b'+' | b'-') {
                    c.pos += 1;
                }
                if c.peek().is_ascii_digit() {
                    while c.peek().is_ascii_digit() {
                        c.pos += 1;
                    }
                } else {
                    c.pos = save;
                }
            }
            std::str::from_utf8(&c.s[start..c.pos]).ok()?.parse().ok()
        })
    }

    /// Six `%x` bytes separated by colons (`ETH_ADDR_SCAN_FMT`).
    pub(super) fn mac(&mut self) -> Option<[u8; 6]> {
        self.attempt(|c| {
            let mut m = [0u8; 6];
            for (i, b) in m.iter_mut().enumerate() {
                if i > 0 && !c.lit(":") {
                    return None;
                }
                *b = c.int_x()? as u8;
            }
            Some(m)
        })
    }

    /// Four `%u` bytes separated by dots (`IP_SCAN_FMT`).
    pub(super) fn ipv4(&mut self) -> Option<Ipv4Addr> {
        self.attempt(|c| {
            let mut m = [0u8; 4];
            for (i, b) in m.iter_mut().enumerate() {
                if i > 0 && !c.lit(".") {
                    return None;
                }
                *b = c.int_u()? as u8;
            }
            Some(Ipv4Addr::from(m))
        })
    }

    /// `IPV6_SCAN_FMT` (up to 46 address characters), then `inet_pton`.
    pub(super) fn ipv6(&mut self) -> Option<Ipv6Addr> {
        self.attempt(|c| {
            let t = c.span(46, |b| b.is_ascii_hexdigit() || b == b':' || b == b'.')?;
            t.parse().ok()
        })
    }
}

/// Parses hex byte pairs, skipping white space and dots between them, as
/// OVS's `ofpbuf_put_hex`: stops at the first place that is not two hex
/// digits. Returns the bytes and how much text was consumed.
pub(super) fn hex_pairs(s: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        while matches!(s.get(i), Some(b' ' | b'.' | b'\t' | b'\r' | b'\n')) {
            i += 1;
        }
        let hi = s.get(i).and_then(|b| (*b as char).to_digit(16));
        let lo = s.get(i + 1).and_then(|b| (*b as char).to_digit(16));
        match (hi, lo) {
            (Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 2;
            }
            _ => return (out, i),
        }
    }
}

/// OVS's `parse_int_string`: a `0x` hexadecimal string of any length (white
/// space allowed between digits) or a C integer, right-aligned big-endian in
/// `width` bytes. Returns the bytes and the length consumed.
pub(super) fn int_string(s: &[u8], width: usize) -> Option<(Vec<u8>, usize)> {
    let mut out = vec![0u8; width];
    if s.len() >= 2 && s[0] == b'0' && matches!(s[1], b'x' | b'X') {
        let mut i = 2;
        let mut digits: Vec<u8> = Vec::new();
        loop {
            while matches!(s.get(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
                i += 1;
            }
            match s.get(i).and_then(|b| (*b as char).to_digit(16)) {
                Some(d) => {
                    if d != 0 || !digits.is_empty() {
                        if (digits.len() + 1).div_ceil(2) > width {
                            return None;
                        }
                        digits.push(d as u8);
                    }
                    i += 1;
                }
                None => break,
            }
        }
        let mut idx = width;
        let mut j = digits.len();
        while j > 0 {
            idx -= 1;
            let lo = digits[j - 1];
            let hi = if j >= 2 { digits[j - 2] } else { 0 };
            out[idx] = (hi << 4) | lo;
            j = j.saturating_sub(2);
        }
        return Some((out, i));
    }
    let text = std::str::from_utf8(s).unwrap_or("");
    let mut c = Cur::new(text);
    let v = c.strtoull()?;
    let mut v = v;
    for b in out.iter_mut().rev() {
        *b = v as u8;
        v >>= 8;
    }
    Some((out, c.pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_i_follows_c_prefix_rules() {
        assert_eq!(Cur::new("0x1c7)").int_i(), Some(0x1c7));
        assert_eq!(Cur::new("010").int_i(), Some(8));
        assert_eq!(Cur::new(" -1").i32(), Some(u32::MAX));
        assert_eq!(Cur::new("x").int_i(), None);
        // OVS's scan_int: `0x` needs a digit; values wrap.
        assert_eq!(Cur::new("0x)").int_i(), None);
        assert_eq!(
            Cur::new("99999999999999999999").i32(),
            Some(99999999999999999999u128 as u64 as u32)
        );
        // glibc's strtoull and strtoll.
        let mut c = Cur::new("0x)");
        assert_eq!(c.strtoull(), Some(0));
        assert_eq!(c.pos, 1);
        assert_eq!(Cur::new("99999999999999999999").strtoull(), None);
        assert_eq!(
            Cur::new("99999999999999999999").sscanf_lli(),
            Some(i64::MAX as u64)
        );
    }

    #[test]
    fn int_string_right_aligns() {
        assert_eq!(int_string(b"0xa}", 4), Some((vec![0, 0, 0, 0xa], 3)));
        assert_eq!(int_string(b"0x123", 1), None);
        assert_eq!(int_string(b"258", 2), Some((vec![1, 2], 3)));
    }

    #[test]
    fn hex_pairs_stop_at_odd_digit() {
        assert_eq!(hex_pairs(b"0a1b2)"), (vec![0x0a, 0x1b], 4));
        assert_eq!(hex_pairs(b"0a.1b )"), (vec![0x0a, 0x1b], 6));
    }
}
