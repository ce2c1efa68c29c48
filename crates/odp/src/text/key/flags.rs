//! Named bit flags (tunnel flags, conntrack state, TCP flags): parsing and
//! printing in OVS's `a|b|c`, `+a-b` and numeric forms.

use std::fmt::Write;

use super::scan::{at, scan_int, tail};

/// A flag table: `(bit, name)` sorted by bit.
pub(in crate::text) type Names = &'static [(u32, &'static str)];

/// Tunnel flags of the text format (`flags(...)` inside `tunnel(...)`).
pub(super) const TUN_FLAGS: Names = &[(1, "oam"), (2, "df"), (4, "csum"), (8, "key")];
/// Tunnel flag bits.
pub(super) const TUN_F_OAM: u16 = 1;
pub(super) const TUN_F_DF: u16 = 2;
pub(super) const TUN_F_CSUM: u16 = 4;
pub(super) const TUN_F_KEY: u16 = 8;
pub(super) const TUN_F_MASK: u32 = 0xf;

/// Conntrack state flags (`OVS_CS_F_*`).
pub(super) const CT_STATE: Names = &[
    (0x01, "new"),
    (0x02, "est"),
    (0x04, "rel"),
    (0x08, "rpl"),
    (0x10, "inv"),
    (0x20, "trk"),
    (0x40, "snat"),
    (0x80, "dnat"),
];

/// TCP flags (the 12 low bits of the flags word).
pub(super) const TCP_FLAGS: Names = &[
    (0x001, "fin"),
    (0x002, "syn"),
    (0x004, "rst"),
    (0x008, "psh"),
    (0x010, "ack"),
    (0x020, "urg"),
    (0x040, "ece"),
    (0x080, "cwr"),
    (0x100, "ns"),
    (0x200, "[200]"),
    (0x400, "[400]"),
    (0x800, "[800]"),
];

fn name(names: Names, bit: u32) -> Option<&'static str> {
    names.iter().find(|(b, _)| *b == bit).map(|(_, n)| *n)
}

/// Parses flags up to (not including) `end`: `0x3/0x7`, `+a-b` (only with
/// `masked`) or `a|b|0x4`. Returns flags, mask (all ones for the unmasked
/// forms) and bytes consumed, or `None` for unknown or disallowed flags.
pub(in crate::text) fn parse_flags(
    s: &[u8],
    names: Names,
    end: u8,
    allowed: u32,
    masked: bool,
) -> Option<(u32, u32, usize)> {
    if masked {
        if let Some((f, n)) = scan_int(s, 0) {
            if at(s, n) == b'/' {
                if let Some((m, k)) = scan_int(tail(s, n + 1), 0) {
                    let (f, m) = (f as u32, m as u32);
                    if f & !allowed != 0 || m & !allowed != 0 {
                        return None;
                    }
                    return Some((f, m, n + 1 + k));
                }
            }
        }
    }
    if masked && matches!(at(s, 0), b'+' | b'-') {
        let (mut flags, mut mask, mut i) = (0u32, 0u32, 0usize);
        while at(s, i) != end {
            let set = match at(s, i) {
                b'+' => true,
                b'-' => false,
                _ => return None,
            };
            i += 1;
            let rest = tail(s, i);
            let (bit, len) = names.iter().find_map(|&(bit, n)| {
                let after = at(rest, n.len());
                (rest.starts_with(n.as_bytes()) && (after == b'+' || after == b'-' || after == end))
                    .then_some((bit, n.len()))
            })?;
            if mask & bit != 0 || bit & allowed == 0 {
                return None;
            }
            if set {
                flags |= bit;
            }
            mask |= bit;
            i += len;
        }
        return Some((flags, mask, i));
    }
    let (mut result, mut i) = (0u32, 0usize);
    while at(s, i) != end {
        if let Some((v, n)) = scan_int(tail(s, i), 0) {
            if (v as u32) & !allowed != 0 {
                return None;
            }
            i += n + usize::from(at(s, i + n) == b'|');
            result |= v as u32;
            continue;
        }
        let rest = tail(s, i);
        let (bit, len) = names.iter().find_map(|&(bit, n)| {
            let after = at(rest, n.len());
            (rest.starts_with(n.as_bytes()) && (after == b'|' || after == end))
                .then_some((bit, n.len()))
        })?;
        if bit & allowed == 0 {
            return None;
        }
        result |= bit;
        i += len + usize::from(at(s, i + len) == b'|');
    }
    Some((result, u32::MAX, i))
}

/// `a|b|0x30` (or `0` for no flags), names from low to high bit.
pub(super) fn format_flags(out: &mut String, names: Names, flags: u32, del: char) {
    if flags == 0 {
        out.push('0');
        return;
    }
    let mut bad = 0;
    for i in 0..32 {
        let bit = 1u32 << i;
        if flags & bit == 0 {
            continue;
        }
        match name(names, bit) {
            Some(n) => {
                out.push_str(n);
                out.push(del);
            }
            None => bad |= bit,
        }
    }
    if bad != 0 {
        let _ = write!(out, "0x{bad:x}{del}");
    }
    if out.ends_with(del) {
        out.pop();
    }
}

/// `+a-b` for the bits of `mask`, or the plain form when `mask` is
/// `max_mask`, or `0/0` when it is empty.
pub(super) fn format_flags_masked(
    out: &mut String,
    names: Names,
    flags: u32,
    mask: u32,
    max_mask: u32,
) {
    if mask == max_mask {
        format_flags(out, names, flags, '|');
        return;
    }
    if mask == 0 {
        out.push_str("0/0");
        return;
    }
    for i in 0..32 {
        let bit = 1u32 << i;
        if mask & bit != 0 {
            out.push(if flags & bit != 0 { '+' } else { '-' });
            out.push_str(name(names, bit).unwrap_or("[Unknown]"));
        }
    }
}
