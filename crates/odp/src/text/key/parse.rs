//! The parser: OVS's `parse_odp_key_mask_attr`, attribute by attribute.
//!
//! Each function reads the text after `name(` and returns the key
//! attribute, the mask attribute and the bytes read, or `None` for a syntax
//! error. Field lists follow OVS's loop exactly: fields in any order, a
//! field may repeat (the last one wins), and a list ends at `)`.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::flags::{self, CT_STATE, TCP_FLAGS, TUN_FLAGS, TUN_F_CSUM, TUN_F_DF, TUN_F_OAM};
use super::scan::{self, at, scan_eth, scan_ipv4, scan_ipv6, scan_uint, scan_uint_nomask, tail};
use super::wire;
use super::{DELIMITERS, MAX_NESTED, MAX_NLA_PAYLOAD};
use crate::key::{
    ArpKey, CtTupleIpv4, CtTupleIpv6, ErspanMetadata, EthernetKey, IcmpKey, Ipv4Key, Ipv6Key,
    KeyAttr, MplsLse, NdExtKey, NdKey, NshAttr, NshBase, PortsKey, TunnelAttr,
};

/// `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` at the start of `s`.
pub(super) fn is_uuid(s: &[u8]) -> bool {
    s.len() >= 36
        && s[..36].iter().enumerate().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                *c == b'-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

/// A parsed attribute: key, mask, bytes consumed.
pub(super) type Parsed = (KeyAttr, KeyAttr, usize);

/// What one step of OVS's key parser (`parse_odp_key_mask_attr`) reads at
/// the start of `s`: one attribute, with its mask, and the bytes to move
/// on. `None` where OVS's parser fails.
///
/// OVS reads a valid `nsh(...)` only when `encap(...)` follows it at once:
/// it then appends both attributes but moves on by the length of the
/// `encap(...)` text alone, counted from the start of `nsh(`. Any other
/// `nsh(...)` is a syntax error. Both are reproduced here.
pub(super) fn parse_step(s: &[u8], depth: usize) -> Option<(Vec<(KeyAttr, KeyAttr)>, usize)> {
    if depth < MAX_NESTED && s.starts_with(b"nsh(") {
        let (k, m, n) = nsh(&s[4..])?;
        let rest = tail(s, 4 + n);
        let inner = rest.strip_prefix(b"encap(")?;
        let (ek, em, en) = encap(inner, depth)?;
        return Some((vec![(k, m), (ek, em)], 6 + en));
    }
    let (k, m, n) = parse_attr_at(s, depth)?;
    Some((vec![(k, m)], n))
}

/// One attribute at `depth` (1 for the top level).
pub(super) fn parse_attr_at(s: &[u8], depth: usize) -> Option<Parsed> {
    if depth >= MAX_NESTED {
        return None;
    }
    // In OVS's order of tests (each name is a prefix test).
    const NAMES: &[&str] = &[
        "skb_priority(",
        "skb_mark(",
        "recirc_id(",
        "dp_hash(",
        "ct_state(",
        "ct_zone(",
        "ct_mark(",
        "ct_label(",
        "ct_tuple4(",
        "ct_tuple6(",
        "tunnel(",
        "in_port(",
        "eth(",
        "vlan(",
        "eth_type(",
        "mpls(",
        "ipv4(",
        "ipv6(",
        "tcp(",
        "tcp_flags(",
        "udp(",
        "sctp(",
        "icmp(",
        "icmpv6(",
        "arp(",
        "nd(",
        "nd_ext(",
        "packet_type(",
        "nsh(",
        "encap(",
    ];
    let name = NAMES.iter().find(|p| s.starts_with(p.as_bytes()))?;
    let r = &s[name.len()..];
    let (k, m, n) = match *name {
        "skb_priority(" => single_u32(r, KeyAttr::Priority),
        "skb_mark(" => single_u32(r, KeyAttr::SkbMark),
        "recirc_id(" => recirc_id(r),
        "dp_hash(" => single_u32(r, KeyAttr::DpHash),
        "ct_state(" => ct_state(r),
        "ct_zone(" => ct_zone(r),
        "ct_mark(" => single_u32(r, KeyAttr::CtMark),
        "ct_label(" => ct_label(r),
        "ct_tuple4(" => ct_tuple4(r),
        "ct_tuple6(" => ct_tuple6(r),
        "tunnel(" => tunnel(r),
        "in_port(" => single_u32(r, KeyAttr::InPort),
        "eth(" => eth(r),
        "vlan(" => vlan(r),
        "eth_type(" => eth_type(r),
        "mpls(" => mpls(r),
        "ipv4(" => ipv4(r),
        "ipv6(" => ipv6(r),
        "tcp(" => ports(r, KeyAttr::Tcp),
        "tcp_flags(" => tcp_flags(r),
        "udp(" => ports(r, KeyAttr::Udp),
        "sctp(" => ports(r, KeyAttr::Sctp),
        "icmp(" => icmp(r, KeyAttr::Icmp),
        "icmpv6(" => icmp(r, KeyAttr::Icmpv6),
        "arp(" => arp(r),
        "nd(" => nd(r),
        "nd_ext(" => nd_ext(r),
        "packet_type(" => packet_type(r),
        // Only with `encap(` after it: see `parse_step`.
        "nsh(" => None,
        _ => encap(r, depth),
    }?;
    Some((k, m, name.len() + n))
}

/// OVS's field loop: `f` reads one `name=value` at the given position and
/// returns its length, `Some(0)` when no field name matches, `None` when
/// the value is malformed. Fields are separated by `,` and the list must
/// end with `)`. Returns the length including the `)`.
fn fields(s: &[u8], mut f: impl FnMut(&[u8]) -> Option<usize>) -> Option<usize> {
    let mut i = 0;
    loop {
        let n = f(tail(s, i))?;
        i += n;
        let c = at(s, i);
        i += 1;
        if c != b',' || n == 0 {
            break;
        }
    }
    (at(s, i - 1) == b')').then_some(i)
}

/// The closing `)` of a single-value attribute.
fn close(s: &[u8], n: usize) -> Option<usize> {
    (at(s, n) == b')').then_some(n + 1)
}

fn u8f(s: &[u8]) -> Option<(u8, u8, usize)> {
    scan_uint(s, 8).map(|(v, m, n)| (v as u8, m as u8, n))
}

fn u16f(s: &[u8]) -> Option<(u16, u16, usize)> {
    scan_uint(s, 16).map(|(v, m, n)| (v as u16, m as u16, n))
}

fn u32f(s: &[u8]) -> Option<(u32, u32, usize)> {
    scan_uint(s, 32).map(|(v, m, n)| (v as u32, m as u32, n))
}

fn u64f(s: &[u8]) -> Option<(u64, u64, usize)> {
    scan_uint(s, 64)
}

/// `%7[a-z]` naming a fragment type; the mask is always exact.
fn fragf(s: &[u8]) -> Option<(u8, u8, usize)> {
    let n = s
        .iter()
        .take(7)
        .take_while(|c| c.is_ascii_lowercase())
        .count();
    let t = match &s[..n] {
        b"no" => crate::abi::OVS_FRAG_TYPE_NONE,
        b"first" => crate::abi::OVS_FRAG_TYPE_FIRST,
        b"later" => crate::abi::OVS_FRAG_TYPE_LATER,
        _ => return None,
    };
    Some((t, u8::MAX, n))
}

/// An IPv6 flow label (20 bits; a mask out of range is not read).
fn labelf(s: &[u8]) -> Option<(u32, u32, usize)> {
    let (v, n) = scan::scan_int(s, 0)?;
    let v = v as u32;
    if v & !0xfffff != 0 {
        return None;
    }
    if at(s, n) == b'/' {
        if let Some((m, k)) = scan::scan_int(tail(s, n + 1), 0) {
            let m = m as u32;
            if m & !0xfffff == 0 {
                return Some((v, m, n + 1 + k));
            }
        }
    }
    Some((v, 0xfffff, n))
}

/// A bit field of `bits` bits at `offset` inside `key`/`mask` (VLAN TCI,
/// MPLS LSE): the value and mask must fit; an absent mask makes the field
/// exact.
fn bitfield(
    s: &[u8],
    key: &mut u32,
    mask: &mut u32,
    bits: u32,
    offset: u32,
    width: u32,
) -> Option<usize> {
    let trunc = |v: u64| {
        if width == 16 {
            u32::from(v as u16)
        } else {
            v as u32
        }
    };
    let field = ((1u32 << bits) - 1) << offset;
    let (v, n) = scan::scan_int(s, 0)?;
    let v = trunc(v);
    if v >> bits != 0 {
        return None;
    }
    *key = (*key & !field) | (v << offset);
    if at(s, n) == b'/' {
        if let Some((m, k)) = scan::scan_int(tail(s, n + 1), 0) {
            let m = trunc(m);
            if m >> bits != 0 {
                return None;
            }
            *mask = (*mask & !field) | (m << offset);
            return Some(n + 1 + k);
        }
    }
    *mask |= field;
    Some(n)
}

/// Tries the field `name`: on a match, scans its value with `scan`, stores
/// key and mask, and returns from the enclosing closure.
macro_rules! field {
    ($t:ident, $name:literal, $scan:expr, $k:expr, $m:expr) => {
        if let Some(r) = $t.strip_prefix($name) {
            let (v, mv, n) = $scan(r)?;
            $k = v;
            $m = mv;
            return Some($name.len() + n);
        }
    };
}

fn single_u32(s: &[u8], make: fn(u32) -> KeyAttr) -> Option<Parsed> {
    let (v, m, n) = u32f(s)?;
    Some((make(v), make(m), close(s, n)?))
}

fn recirc_id(s: &[u8]) -> Option<Parsed> {
    let (v, n) = scan_uint_nomask(s, 32)?;
    Some((
        KeyAttr::RecircId(v as u32),
        KeyAttr::RecircId(u32::MAX),
        close(s, n)?,
    ))
}

fn ct_state(s: &[u8]) -> Option<Parsed> {
    let (f, m, n) = flags::parse_flags(s, CT_STATE, b')', 0xff, true)?;
    if n == 0 {
        return None;
    }
    Some((KeyAttr::CtState(f), KeyAttr::CtState(m), close(s, n)?))
}

fn ct_zone(s: &[u8]) -> Option<Parsed> {
    let (v, m, n) = u16f(s)?;
    Some((KeyAttr::CtZone(v), KeyAttr::CtZone(m), close(s, n)?))
}

fn ct_label(s: &[u8]) -> Option<Parsed> {
    let (v, mut n) = scan::parse_int_string(s, 16)?;
    let mut m = vec![0xff; 16];
    if at(s, n) == b'/' {
        let (mv, k) = scan::parse_int_string(tail(s, n + 1), 16)?;
        m = mv;
        n += 1 + k;
    }
    if n == 0 {
        return None;
    }
    // The text is big-endian; the attribute carries the host-order u128.
    let le = |b: &[u8]| -> [u8; 16] {
        let mut o = [0u8; 16];
        for (d, s) in o.iter_mut().zip(b.iter().rev()) {
            *d = *s;
        }
        o
    };
    Some((
        KeyAttr::CtLabels(le(&v)),
        KeyAttr::CtLabels(le(&m)),
        close(s, n)?,
    ))
}

fn ct_tuple4(s: &[u8]) -> Option<Parsed> {
    let zero = CtTupleIpv4 {
        src: Ipv4Addr::UNSPECIFIED,
        dst: Ipv4Addr::UNSPECIFIED,
        src_port: 0,
        dst_port: 0,
        proto: 0,
    };
    let (mut k, mut m) = (zero, zero);
    let n = fields(s, |t| {
        field!(t, b"src=", scan_ipv4, k.src, m.src);
        field!(t, b"dst=", scan_ipv4, k.dst, m.dst);
        field!(t, b"proto=", u8f, k.proto, m.proto);
        field!(t, b"tp_src=", u16f, k.src_port, m.src_port);
        field!(t, b"tp_dst=", u16f, k.dst_port, m.dst_port);
        Some(0)
    })?;
    Some((KeyAttr::CtOrigTupleIpv4(k), KeyAttr::CtOrigTupleIpv4(m), n))
}

fn ct_tuple6(s: &[u8]) -> Option<Parsed> {
    let zero = CtTupleIpv6 {
        src: Ipv6Addr::UNSPECIFIED,
        dst: Ipv6Addr::UNSPECIFIED,
        src_port: 0,
        dst_port: 0,
        proto: 0,
    };
    let (mut k, mut m) = (zero, zero);
    let n = fields(s, |t| {
        field!(t, b"src=", scan_ipv6, k.src, m.src);
        field!(t, b"dst=", scan_ipv6, k.dst, m.dst);
        field!(t, b"proto=", u8f, k.proto, m.proto);
        field!(t, b"tp_src=", u16f, k.src_port, m.src_port);
        field!(t, b"tp_dst=", u16f, k.dst_port, m.dst_port);
        // OVS prints this attribute's ports as `src_port`/`dst_port` but
        // parses only `tp_src`/`tp_dst`; we also accept what it prints, so
        // that dump-flows output can be fed back.
        field!(t, b"src_port=", u16f, k.src_port, m.src_port);
        field!(t, b"dst_port=", u16f, k.dst_port, m.dst_port);
        Some(0)
    })?;
    Some((KeyAttr::CtOrigTupleIpv6(k), KeyAttr::CtOrigTupleIpv6(m), n))
}

/// Tries the tunnel field `name`: on a match, appends the key and mask
/// sub-attributes and returns from the enclosing closure.
macro_rules! tun_field {
    ($t:ident, $kt:ident, $mt:ident, $name:literal, $scan:expr, $variant:path) => {
        if let Some(r) = $t.strip_prefix($name) {
            let (v, mv, n) = $scan(r)?;
            $kt.push($variant(v));
            $mt.push($variant(mv));
            return Some($name.len() + n);
        }
    };
}

fn tunnel(s: &[u8]) -> Option<Parsed> {
    let (mut kt, mut mt) = (Vec::new(), Vec::new());
    let n = fields(s, |t| {
        tun_field!(t, kt, mt, b"tun_id=", u64f, TunnelAttr::Id);
        tun_field!(t, kt, mt, b"src=", scan_ipv4, TunnelAttr::Ipv4Src);
        tun_field!(t, kt, mt, b"dst=", scan_ipv4, TunnelAttr::Ipv4Dst);
        tun_field!(t, kt, mt, b"ipv6_src=", scan_ipv6, TunnelAttr::Ipv6Src);
        tun_field!(t, kt, mt, b"ipv6_dst=", scan_ipv6, TunnelAttr::Ipv6Dst);
        tun_field!(t, kt, mt, b"tos=", u8f, TunnelAttr::Tos);
        tun_field!(t, kt, mt, b"ttl=", u8f, TunnelAttr::Ttl);
        tun_field!(t, kt, mt, b"tp_src=", u16f, TunnelAttr::TpSrc);
        tun_field!(t, kt, mt, b"tp_dst=", u16f, TunnelAttr::TpDst);
        tun_field!(t, kt, mt, b"erspan(", erspan, TunnelAttr::ErspanOpts);
        if let Some(r) = t.strip_prefix(b"vxlan(gbp(") {
            let (v, m, n) = vxlan_gbp(r)?;
            if v != 0 {
                kt.push(TunnelAttr::VxlanOpts(Some(v)));
            }
            if m != 0 {
                mt.push(TunnelAttr::VxlanOpts(Some(m)));
            }
            return Some(10 + n);
        }
        tun_field!(t, kt, mt, b"geneve(", geneve, TunnelAttr::GeneveOpts);
        if let Some(r) = t.strip_prefix(b"gtpu(") {
            let (k, m, n) = gtpu(r)?;
            kt.push(k);
            mt.push(m);
            return Some(5 + n);
        }
        if let Some(r) = t.strip_prefix(b"flags(") {
            let (f, m, n) = flags::parse_flags(r, TUN_FLAGS, b')', flags::TUN_F_MASK, true)?;
            let n = close(r, n)?;
            push_tun_flags(&mut kt, f as u16);
            push_tun_flags(&mut mt, m as u16);
            return Some(6 + n);
        }
        Some(0)
    })?;
    Some((KeyAttr::Tunnel(kt), KeyAttr::Tunnel(mt), n))
}

/// The flag sub-attributes for `flags` (the `key` flag has none).
fn push_tun_flags(out: &mut Vec<TunnelAttr>, flags: u16) {
    if flags & TUN_F_DF != 0 {
        out.push(TunnelAttr::DontFragment);
    }
    if flags & TUN_F_CSUM != 0 {
        out.push(TunnelAttr::Csum);
    }
    if flags & TUN_F_OAM != 0 {
        out.push(TunnelAttr::Oam);
    }
}

/// `id=..,flags=..))`: the GBP word `flags << 16 | id` and its mask.
fn vxlan_gbp(s: &[u8]) -> Option<(u32, u32, usize)> {
    let (mut id, mut id_m, mut fl, mut fl_m) = (0u16, 0u16, 0u8, 0u8);
    let mut i = 0;
    if let Some(r) = s.strip_prefix(b"id=") {
        let (v, m, n) = u16f(r)?;
        (id, id_m) = (v, m);
        i += 3 + n;
    }
    if at(s, i) == b',' {
        i += 1;
    }
    if let Some(r) = tail(s, i).strip_prefix(b"flags=") {
        let (v, m, n) = u8f(r)?;
        (fl, fl_m) = (v, m);
        i += 6 + n;
    }
    if !tail(s, i).starts_with(b"))") {
        return None;
    }
    Some((
        u32::from(fl) << 16 | u32::from(id),
        u32::from(fl_m) << 16 | u32::from(id_m),
        i + 2,
    ))
}

/// `ver=1,idx=..)` or `ver=2,dir=..,hwid=..)`. As in OVS, a version mask
/// is read but not kept, and fields are only stored when the `)` follows.
fn erspan(s: &[u8]) -> Option<(ErspanMetadata, ErspanMetadata, usize)> {
    let mut key = ErspanMetadata::default();
    let mut mask = ErspanMetadata {
        version: u32::MAX,
        u: [0xff; 8],
    };
    let mut i = 0;
    let mut ver = 0u8;
    if let Some(r) = s.strip_prefix(b"ver=") {
        let (v, _, n) = u8f(r)?;
        ver = v;
        i += 4 + n;
    }
    if at(s, i) == b',' {
        i += 1;
    }
    match ver {
        1 => {
            let (mut idx, mut idx_m) = (0u32, 0u32);
            if let Some(r) = tail(s, i).strip_prefix(b"idx=") {
                let (v, m, n) = u32f(r)?;
                (idx, idx_m) = (v, m);
                i += 4 + n;
            }
            if at(s, i) == b')' {
                i += 1;
                key.version = 1;
                key.u[..4].copy_from_slice(&idx.to_be_bytes());
                mask.u[..4].copy_from_slice(&idx_m.to_be_bytes());
            }
        }
        2 => {
            let (mut dir, mut dir_m, mut hwid, mut hwid_m) = (0u8, 0u8, 0u8, 0u8);
            if let Some(r) = tail(s, i).strip_prefix(b"dir=") {
                let (v, m, n) = u8f(r)?;
                (dir, dir_m) = (v, m);
                i += 4 + n;
            }
            if at(s, i) == b',' {
                i += 1;
            }
            if let Some(r) = tail(s, i).strip_prefix(b"hwid=") {
                let (v, m, n) = u8f(r)?;
                (hwid, hwid_m) = (v, m);
                i += 5 + n;
            }
            if at(s, i) == b')' {
                i += 1;
                // Last byte of the v2 metadata: hwid in bits 4-7, dir in bit 3.
                key.version = 2;
                key.u[7] = (hwid & 0xf) << 4 | (dir & 1) << 3;
                mask.u[7] = (mask.u[7] & 0x07) | (hwid_m & 0xf) << 4 | (dir_m & 1) << 3;
            }
        }
        // OVS reads versions 1 and 2 only, though an erspan() whose fields
        // were not stored prints as `erspan(ver=0)`.
        _ => return None,
    }
    Some((key, mask, i))
}

/// `{class=..,type=..,len=..,0xdata/0xmask}...)`: the raw TLV options and
/// their mask (at most 252 bytes).
fn geneve(s: &[u8]) -> Option<(Vec<u8>, Vec<u8>, usize)> {
    geneve_opts(s, true)
}

/// OVS's `scan_geneve`: `{class=..,type=..,len=..,DATA}...` up to and
/// including the closing `)`. Returns the option bytes, their mask and the
/// bytes read. Without `masks` (OVS passing no mask, as `tnl_push` does),
/// no `/mask` is read, and one makes the text invalid.
pub(in crate::text) fn geneve_opts(s: &[u8], masks: bool) -> Option<(Vec<u8>, Vec<u8>, usize)> {
    let u8f = |s: &[u8]| -> Option<(u8, u8, usize)> {
        if masks {
            u8f(s)
        } else {
            scan::scan_uint_nomask(s, 8).map(|(v, n)| (v as u8, u8::MAX, n))
        }
    };
    let u16f = |s: &[u8]| -> Option<(u16, u16, usize)> {
        if masks {
            u16f(s)
        } else {
            scan::scan_uint_nomask(s, 16).map(|(v, n)| (v as u16, u16::MAX, n))
        }
    };
    const ROOM: usize = 252;
    let (mut kd, mut md) = ([0u8; ROOM], [0xffu8; ROOM]);
    let (mut off, mut remain, mut i) = (0usize, ROOM, 0usize);
    while at(s, i) == b'{' && remain >= 4 {
        i += 1;
        remain -= 4;
        let mut data_len = 0usize;
        if let Some(r) = tail(s, i).strip_prefix(b"class=") {
            let (v, m, n) = u16f(r)?;
            kd[off..off + 2].copy_from_slice(&v.to_be_bytes());
            md[off..off + 2].copy_from_slice(&m.to_be_bytes());
            i += 6 + n;
        } else {
            md[off..off + 2].fill(0);
        }
        if at(s, i) == b',' {
            i += 1;
        }
        if let Some(r) = tail(s, i).strip_prefix(b"type=") {
            let (v, m, n) = u8f(r)?;
            kd[off + 2] = v;
            md[off + 2] = m;
            i += 5 + n;
        } else {
            md[off + 2] = 0;
        }
        if at(s, i) == b',' {
            i += 1;
        }
        if let Some(r) = tail(s, i).strip_prefix(b"len=") {
            let (v, m, n) = u8f(r)?;
            i += 4 + n;
            if v > 124 || v % 4 != 0 || usize::from(v) > remain {
                return None;
            }
            kd[off + 3] = (kd[off + 3] & 0xe0) | (v / 4);
            md[off + 3] = (md[off + 3] & 0xe0) | (m & 0x1f);
            data_len = usize::from(v);
        } else {
            // OVS clears the type mask here (not the length mask).
            md[off + 2] = 0;
        }
        let data = off + 4..off + 4 + data_len;
        if at(s, i) == b',' {
            i += 1;
            let (v, n) = scan::parse_int_string(tail(s, i), data_len)?;
            kd[data.clone()].copy_from_slice(&v);
            i += n;
        }
        if masks && at(s, i) == b'/' {
            i += 1;
            let (v, n) = scan::parse_int_string(tail(s, i), data_len)?;
            md[data].copy_from_slice(&v);
            i += n;
        }
        md[off + 3] &= 0x1f;
        if at(s, i) != b'}' {
            return None;
        }
        i += 1;
        off += 4 + data_len;
        remain -= data_len;
    }
    if at(s, i) != b')' {
        return None;
    }
    let len = ROOM - remain;
    Some((kd[..len].to_vec(), md[..len].to_vec(), i + 1))
}

/// `flags=..,msgtype=..)`: fields are only stored when the `)` follows.
fn gtpu(s: &[u8]) -> Option<(TunnelAttr, TunnelAttr, usize)> {
    let md = |flags, msgtype| TunnelAttr::GtpuOpts { flags, msgtype };
    let (mut fl, mut fl_m, mut mt, mut mt_m) = (0u8, 0u8, 0u8, 0u8);
    let mut i = 0;
    if let Some(r) = s.strip_prefix(b"flags=") {
        let (v, m, n) = u8f(r)?;
        (fl, fl_m) = (v, m);
        i += 6 + n;
    }
    if at(s, i) == b',' {
        i += 1;
    }
    if let Some(r) = tail(s, i).strip_prefix(b"msgtype=") {
        let (v, m, n) = u8f(r)?;
        (mt, mt_m) = (v, m);
        i += 8 + n;
    }
    if at(s, i) == b')' {
        return Some((md(fl, mt), md(fl_m, mt_m), i + 1));
    }
    if i == 0 {
        return None;
    }
    Some((md(0, 0), md(0xff, 0xff), i))
}

fn eth(s: &[u8]) -> Option<Parsed> {
    let (mut k, mut m) = (EthernetKey::default(), EthernetKey::default());
    let n = fields(s, |t| {
        field!(t, b"src=", scan_eth, k.src, m.src);
        field!(t, b"dst=", scan_eth, k.dst, m.dst);
        Some(0)
    })?;
    Some((KeyAttr::Ethernet(k), KeyAttr::Ethernet(m), n))
}

fn vlan(s: &[u8]) -> Option<Parsed> {
    // The CFI ("VLAN present") bit starts set and exact.
    let (mut k, mut m) = (0x1000u32, 0x1000u32);
    let n = fields(s, |t| {
        const VLAN_FIELDS: [(&[u8], u32, u32); 3] =
            [(b"vid=", 12, 0), (b"pcp=", 3, 13), (b"cfi=", 1, 12)];
        for (name, bits, offset) in VLAN_FIELDS {
            if let Some(r) = t.strip_prefix(name) {
                return Some(name.len() + bitfield(r, &mut k, &mut m, bits, offset, 16)?);
            }
        }
        Some(0)
    })?;
    Some((KeyAttr::Vlan(k as u16), KeyAttr::Vlan(m as u16), n))
}

fn eth_type(s: &[u8]) -> Option<Parsed> {
    let (v, m, n) = u16f(s)?;
    Some((KeyAttr::Ethertype(v), KeyAttr::Ethertype(m), close(s, n)?))
}

/// Up to three label stack entries; a field seen again starts the next one.
fn mpls(s: &[u8]) -> Option<Parsed> {
    const FIELDS: [(&[u8], u32, u32); 4] = [
        (b"label=", 20, 12),
        (b"tc=", 3, 9),
        (b"ttl=", 8, 0),
        (b"bos=", 1, 8),
    ];
    let (mut k, mut m) = ([0u32; 3], [0u32; 3]);
    let (mut idx, mut seen, mut i) = (0usize, 0u32, 0usize);
    let mut full = false;
    loop {
        let t = tail(s, i);
        let mut n = 0;
        for (f, (name, bits, offset)) in FIELDS.iter().enumerate() {
            if t.starts_with(name) {
                if seen & (1 << f) != 0 {
                    seen = 0;
                    idx += 1;
                    if idx == 3 {
                        full = true;
                        break;
                    }
                }
                i += name.len();
                n = bitfield(tail(s, i), &mut k[idx], &mut m[idx], *bits, *offset, 32)?;
                i += n;
                seen |= 1 << f;
                break;
            }
        }
        if full {
            break;
        }
        let c = at(s, i);
        i += 1;
        if c != b',' || n == 0 {
            break;
        }
    }
    if at(s, i - 1) != b')' || idx == 3 {
        return None;
    }
    let lses = |v: &[u32]| v[..=idx].iter().map(|&x| MplsLse(x)).collect();
    Some((KeyAttr::Mpls(lses(&k)), KeyAttr::Mpls(lses(&m)), i))
}

fn ipv4(s: &[u8]) -> Option<Parsed> {
    let (mut k, mut m) = (Ipv4Key::default(), Ipv4Key::default());
    let n = fields(s, |t| {
        field!(t, b"src=", scan_ipv4, k.src, m.src);
        field!(t, b"dst=", scan_ipv4, k.dst, m.dst);
        field!(t, b"proto=", u8f, k.proto, m.proto);
        field!(t, b"tos=", u8f, k.tos, m.tos);
        field!(t, b"ttl=", u8f, k.ttl, m.ttl);
        field!(t, b"frag=", fragf, k.frag, m.frag);
        Some(0)
    })?;
    Some((KeyAttr::Ipv4(k), KeyAttr::Ipv4(m), n))
}

fn ipv6(s: &[u8]) -> Option<Parsed> {
    let (mut k, mut m) = (Ipv6Key::default(), Ipv6Key::default());
    let n = fields(s, |t| {
        field!(t, b"src=", scan_ipv6, k.src, m.src);
        field!(t, b"dst=", scan_ipv6, k.dst, m.dst);
        field!(t, b"label=", labelf, k.label, m.label);
        field!(t, b"proto=", u8f, k.proto, m.proto);
        field!(t, b"tclass=", u8f, k.tclass, m.tclass);
        field!(t, b"hlimit=", u8f, k.hlimit, m.hlimit);
        field!(t, b"frag=", fragf, k.frag, m.frag);
        Some(0)
    })?;
    Some((KeyAttr::Ipv6(k), KeyAttr::Ipv6(m), n))
}

fn ports(s: &[u8], make: fn(PortsKey) -> KeyAttr) -> Option<Parsed> {
    let (mut k, mut m) = (PortsKey::default(), PortsKey::default());
    let n = fields(s, |t| {
        field!(t, b"src=", u16f, k.src, m.src);
        field!(t, b"dst=", u16f, k.dst, m.dst);
        Some(0)
    })?;
    Some((make(k), make(m), n))
}

fn tcp_flags(s: &[u8]) -> Option<Parsed> {
    let (f, m, n) = flags::parse_flags(s, TCP_FLAGS, b')', 0x0fff, true)?;
    if n == 0 {
        return None;
    }
    Some((
        KeyAttr::TcpFlags(f as u16),
        KeyAttr::TcpFlags(m as u16),
        close(s, n)?,
    ))
}

fn icmp(s: &[u8], make: fn(IcmpKey) -> KeyAttr) -> Option<Parsed> {
    let (mut k, mut m) = (IcmpKey::default(), IcmpKey::default());
    let n = fields(s, |t| {
        field!(t, b"type=", u8f, k.ty, m.ty);
        field!(t, b"code=", u8f, k.code, m.code);
        Some(0)
    })?;
    Some((make(k), make(m), n))
}

fn arp(s: &[u8]) -> Option<Parsed> {
    let (mut k, mut m) = (ArpKey::default(), ArpKey::default());
    let n = fields(s, |t| {
        field!(t, b"sip=", scan_ipv4, k.sip, m.sip);
        field!(t, b"tip=", scan_ipv4, k.tip, m.tip);
        field!(t, b"op=", u16f, k.op, m.op);
        field!(t, b"sha=", scan_eth, k.sha, m.sha);
        field!(t, b"tha=", scan_eth, k.tha, m.tha);
        Some(0)
    })?;
    Some((KeyAttr::Arp(k), KeyAttr::Arp(m), n))
}

fn nd(s: &[u8]) -> Option<Parsed> {
    let (mut k, mut m) = (NdKey::default(), NdKey::default());
    let n = fields(s, |t| {
        field!(t, b"target=", scan_ipv6, k.target, m.target);
        field!(t, b"sll=", scan_eth, k.sll, m.sll);
        field!(t, b"tll=", scan_eth, k.tll, m.tll);
        Some(0)
    })?;
    Some((KeyAttr::Nd(k), KeyAttr::Nd(m), n))
}

fn nd_ext(s: &[u8]) -> Option<Parsed> {
    let (mut k, mut m) = (NdExtKey::default(), NdExtKey::default());
    let n = fields(s, |t| {
        field!(t, b"nd_reserved=", u32f, k.reserved, m.reserved);
        field!(t, b"nd_options_type=", u8f, k.options_type, m.options_type);
        Some(0)
    })?;
    Some((KeyAttr::NdExtensions(k), KeyAttr::NdExtensions(m), n))
}

fn packet_type(s: &[u8]) -> Option<Parsed> {
    let (mut ns, mut ns_m, mut id, mut id_m) = (0u16, 0u16, 0u16, 0u16);
    let n = fields(s, |t| {
        field!(t, b"ns=", u16f, ns, ns_m);
        field!(t, b"id=", u16f, id, id_m);
        Some(0)
    })?;
    let pt = |ns: u16, id: u16| KeyAttr::PacketType(u32::from(ns) << 16 | u32::from(id));
    Some((pt(ns, id), pt(ns_m, id_m), n))
}

/// `nsh(flags=..,mdtype=..,np=..,spi=..,si=..,c1=..)`: the base header and,
/// for MD type 1 (always in the mask), the four context words.
fn nsh(s: &[u8]) -> Option<Parsed> {
    let (mut k, mut m) = (NshBase::default(), NshBase::default());
    let (mut spi, mut spi_m, mut si, mut si_m) = (0u32, 0u32, 0u8, 0u8);
    let (mut c, mut c_m) = ([0u32; 4], [0u32; 4]);
    let n = fields(s, |t| {
        field!(t, b"flags=", u8f, k.flags, m.flags);
        field!(t, b"mdtype=", u8f, k.mdtype, m.mdtype);
        field!(t, b"np=", u8f, k.np, m.np);
        field!(t, b"spi=", u32f, spi, spi_m);
        field!(t, b"si=", u8f, si, si_m);
        field!(t, b"c1=", u32f, c[0], c_m[0]);
        field!(t, b"c2=", u32f, c[1], c_m[1]);
        field!(t, b"c3=", u32f, c[2], c_m[2]);
        field!(t, b"c4=", u32f, c[3], c_m[3]);
        Some(0)
    })?;
    k.path_hdr = spi << 8 | u32::from(si);
    m.path_hdr = spi_m << 8 | u32::from(si_m);
    let mut key = vec![NshAttr::Base(k)];
    if k.mdtype == 1 {
        key.push(NshAttr::Md1(c));
    }
    let mask = vec![NshAttr::Base(m), NshAttr::Md1(c_m)];
    Some((KeyAttr::Nsh(key), KeyAttr::Nsh(mask), n))
}

fn encap(s: &[u8], depth: usize) -> Option<Parsed> {
    let (mut k, mut m) = (Vec::new(), Vec::new());
    let (mut i, mut size) = (0usize, 0usize);
    loop {
        while DELIMITERS.contains(&at(s, i)) && i < s.len() {
            i += 1;
        }
        match at(s, i) {
            0 => return None,
            b')' => break,
            _ => {}
        }
        let (attrs, n) = parse_step(&s[i..], depth + 1)?;
        for (ka, ma) in attrs {
            size += wire::encoded_size(&ka);
            if size > MAX_NLA_PAYLOAD {
                return None;
            }
            k.push(ka);
            m.push(ma);
        }
        i += n;
    }
    Some((KeyAttr::Encap(k), KeyAttr::Encap(m), i + 1))
}
