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

    /// glibc's `sscanf` `%lli` (OVS reads `meter(...)` with it): white
    /// space, a sign, digits with the base from the prefix (`0x` needs a hex
    /// digit after it, or reads as `0`); out-of-range values saturate, as
    /// `strtoll`'s do. `None` without digits.
    pub(super) fn sscanf_lli(&mut self) -> Option<u64> {
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
            let base = if c.peek() == b'0'
                && matches!(c.peek_at(1), b'x' | b'X')
                && c.peek_at(2).is_ascii_hexdigit()
            {
                c.pos += 2;
                16
            } else if c.peek() == b'0' {
                8
            } else {
                10
            };
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
            let limit = if neg { 1u128 << 63 } else { (1u128 << 63) - 1 };
            let v = v.min(limit) as u64;
            Some(if neg { v.wrapping_neg() } else { v })
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
        // glibc's sscanf %lli.
        let mut c = Cur::new("0x)");
        assert_eq!(c.sscanf_lli(), Some(0));
        assert_eq!(c.pos, 1);
        assert_eq!(
            Cur::new("99999999999999999999").sscanf_lli(),
            Some(i64::MAX as u64)
        );
        assert_eq!(
            Cur::new("-99999999999999999999").sscanf_lli(),
            Some(1u64 << 63)
        );
    }

    #[test]
    fn hex_pairs_stop_at_odd_digit() {
        assert_eq!(hex_pairs(b"0a1b2)"), (vec![0x0a, 0x1b], 4));
        assert_eq!(hex_pairs(b"0a.1b )"), (vec![0x0a, 0x1b], 6));
    }
}
