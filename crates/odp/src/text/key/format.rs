//! Key and mask attributes to text, as OVS's `odp_flow_format` prints them.
//!
//! With a mask, a field whose mask is all zeros is left out (unless
//! `verbose`), an exact field is printed without `/mask`, and any other
//! field as `value/mask`. A key attribute with no mask attribute of its type
//! is treated as fully wildcarded.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::flags::{self, CT_STATE, TCP_FLAGS, TUN_FLAGS};
use super::scan::inet_ntop6;
use super::wire::{self, Len};
use crate::abi::*;
use crate::key::{ErspanMetadata, KeyAttr, NshAttr, NshBase, TunnelAttr};

fn chomp(out: &mut String, c: char) {
    if out.ends_with(c) {
        out.pop();
    }
}

/// C's `%#x`: `0` for zero, else `0x...`.
fn alt_hex(v: u64) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

fn eth_str(a: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        a[0], a[1], a[2], a[3], a[4], a[5]
    )
}

/// OVS's `ds_put_hex`: `0x` and the bytes without leading zero bytes, or `0`.
/// OVS's `ds_put_hex`: `0x` then the bytes with leading zero bytes
/// dropped, or `0` if all are zero.
pub(in crate::text) fn put_hex(out: &mut String, b: &[u8]) {
    match b.iter().position(|&x| x != 0) {
        None => out.push('0'),
        Some(i) => {
            let _ = write!(out, "0x{:x}", b[i]);
            for x in &b[i + 1..] {
                let _ = write!(out, "{x:02x}");
            }
        }
    }
}

fn put_generic(out: &mut String, b: &[u8]) {
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{x:02x}");
    }
}

/// The common shape of OVS's per-field formatters: skip a field whose mask
/// is empty (unless verbose), print `name=value`, then `/mask` if partial.
fn field(
    out: &mut String,
    name: &str,
    empty: bool,
    full: bool,
    verbose: bool,
    value: impl FnOnce() -> String,
    mask: impl FnOnce() -> String,
) {
    if verbose || !empty {
        let _ = write!(out, "{name}={}", value());
        if !full {
            let _ = write!(out, "/{}", mask());
        }
        out.push(',');
    }
}

fn f_u8u(out: &mut String, name: &str, k: u8, m: Option<u8>, v: bool) {
    let (e, f) = (m == Some(0), m.is_none_or(|m| m == u8::MAX));
    field(
        out,
        name,
        e,
        f,
        v,
        || k.to_string(),
        || alt_hex(m.unwrap_or(0).into()),
    );
}

fn f_u8x(out: &mut String, name: &str, k: u8, m: Option<u8>, v: bool) {
    let (e, f) = (m == Some(0), m.is_none_or(|m| m == u8::MAX));
    field(
        out,
        name,
        e,
        f,
        v,
        || alt_hex(k.into()),
        || alt_hex(m.unwrap_or(0).into()),
    );
}

fn f_be16(out: &mut String, name: &str, k: u16, m: Option<u16>, v: bool) {
    let (e, f) = (m == Some(0), m.is_none_or(|m| m == u16::MAX));
    field(
        out,
        name,
        e,
        f,
        v,
        || k.to_string(),
        || alt_hex(m.unwrap_or(0).into()),
    );
}

fn f_be16x(out: &mut String, name: &str, k: u16, m: Option<u16>, v: bool) {
    let (e, f) = (m == Some(0), m.is_none_or(|m| m == u16::MAX));
    field(
        out,
        name,
        e,
        f,
        v,
        || alt_hex(k.into()),
        || alt_hex(m.unwrap_or(0).into()),
    );
}

/// OVS's `format_be64`, unlike the other field printers, treats a missing
/// mask as empty: without a mask it prints only when verbose.
fn f_be64(out: &mut String, name: &str, k: u64, m: Option<u64>, v: bool) {
    let (e, f) = (m.unwrap_or(0) == 0, m.is_none_or(|m| m == u64::MAX));
    field(
        out,
        name,
        e,
        f,
        v,
        || format!("0x{k:x}"),
        || alt_hex(m.unwrap_or(0)),
    );
}

fn f_ipv4(out: &mut String, name: &str, k: Ipv4Addr, m: Option<Ipv4Addr>, v: bool) {
    let (e, f) = (
        m == Some(Ipv4Addr::UNSPECIFIED),
        m.is_none_or(|m| m == Ipv4Addr::BROADCAST),
    );
    field(
        out,
        name,
        e,
        f,
        v,
        || k.to_string(),
        || m.unwrap_or(Ipv4Addr::UNSPECIFIED).to_string(),
    );
}

fn f_in6(out: &mut String, name: &str, k: &Ipv6Addr, m: Option<&Ipv6Addr>, v: bool) {
    let exact = Ipv6Addr::from([0xff; 16]);
    let (e, f) = (
        m == Some(&Ipv6Addr::UNSPECIFIED),
        m.is_none_or(|m| *m == exact),
    );
    field(
        out,
        name,
        e,
        f,
        v,
        || inet_ntop6(k),
        || inet_ntop6(m.unwrap_or(&Ipv6Addr::UNSPECIFIED)),
    );
}

fn f_label(out: &mut String, name: &str, k: u32, m: Option<u32>, v: bool) {
    let (e, f) = (m == Some(0), m.is_none_or(|m| m & 0xfffff == 0xfffff));
    field(
        out,
        name,
        e,
        f,
        v,
        || alt_hex(k.into()),
        || alt_hex(m.unwrap_or(0).into()),
    );
}

fn f_eth(out: &mut String, name: &str, k: &[u8; 6], m: Option<&[u8; 6]>, v: bool) {
    let empty = m.is_some_and(|m| *m == [0; 6]);
    if v || !empty {
        let _ = write!(out, "{name}={}", eth_str(k));
        if let Some(m) = m.filter(|m| **m != [0xff; 6]) {
            let _ = write!(out, "/{}", eth_str(m));
        }
        out.push(',');
    }
}

fn f_frag(out: &mut String, name: &str, k: u8, m: Option<u8>) {
    let empty = m == Some(0);
    let full = m.is_none_or(|m| m == u8::MAX);
    if !empty && !full {
        let _ = write!(
            out,
            "error: partial mask not supported for frag ({}),",
            alt_hex(m.unwrap_or(0).into())
        );
    } else if !empty {
        let t = match k {
            OVS_FRAG_TYPE_NONE => "no",
            OVS_FRAG_TYPE_FIRST => "first",
            OVS_FRAG_TYPE_LATER => "later",
            _ => "<error>",
        };
        let _ = write!(out, "{name}={t},");
    }
}

/// OVS's name of an `OVS_KEY_ATTR_*` type, as in its text format and
/// messages (`key<N>` for types it does not name).
pub fn attr_name(ty: u16) -> String {
    let n = match ty {
        OVS_KEY_ATTR_UNSPEC => "unspec",
        OVS_KEY_ATTR_ENCAP => "encap",
        OVS_KEY_ATTR_PRIORITY => "skb_priority",
        OVS_KEY_ATTR_SKB_MARK => "skb_mark",
        OVS_KEY_ATTR_CT_STATE => "ct_state",
        OVS_KEY_ATTR_CT_ZONE => "ct_zone",
        OVS_KEY_ATTR_CT_MARK => "ct_mark",
        OVS_KEY_ATTR_CT_LABELS => "ct_label",
        OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4 => "ct_tuple4",
        OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6 => "ct_tuple6",
        OVS_KEY_ATTR_TUNNEL => "tunnel",
        OVS_KEY_ATTR_IN_PORT => "in_port",
        OVS_KEY_ATTR_ETHERNET => "eth",
        OVS_KEY_ATTR_VLAN => "vlan",
        OVS_KEY_ATTR_ETHERTYPE => "eth_type",
        OVS_KEY_ATTR_IPV4 => "ipv4",
        OVS_KEY_ATTR_IPV6 => "ipv6",
        OVS_KEY_ATTR_TCP => "tcp",
        OVS_KEY_ATTR_TCP_FLAGS => "tcp_flags",
        OVS_KEY_ATTR_UDP => "udp",
        OVS_KEY_ATTR_SCTP => "sctp",
        OVS_KEY_ATTR_ICMP => "icmp",
        OVS_KEY_ATTR_ICMPV6 => "icmpv6",
        OVS_KEY_ATTR_ARP => "arp",
        OVS_KEY_ATTR_ND => "nd",
        OVS_KEY_ATTR_ND_EXTENSIONS => "nd_ext",
        OVS_KEY_ATTR_MPLS => "mpls",
        OVS_KEY_ATTR_DP_HASH => "dp_hash",
        OVS_KEY_ATTR_RECIRC_ID => "recirc_id",
        OVS_KEY_ATTR_PACKET_TYPE => "packet_type",
        OVS_KEY_ATTR_NSH => "nsh",
        _ => return format!("key{ty}"),
    };
    n.to_string()
}

/// OVS's `check_attr_len`: prints the attribute generically with a length
/// complaint and returns false when key or mask has the wrong length.
fn check_len(
    out: &mut String,
    ty: u16,
    expected: Len,
    key: &[u8],
    mask: Option<&[u8]>,
    need_key: bool,
) -> bool {
    let want = match expected {
        Len::Fixed(n) => n as i64,
        Len::Invalid => -1,
        Len::Variable | Len::Nested => return true,
    };
    let bad_key = key.len() as i64 != want;
    let bad_mask = mask.is_some_and(|m| m.len() as i64 != want);
    if !bad_key && !bad_mask {
        return true;
    }
    if need_key {
        let _ = write!(out, "key{ty}");
    }
    if bad_key {
        let _ = write!(out, "(bad key length {}, expected {want})(", key.len());
    }
    put_generic(out, key);
    if let Some(m) = mask {
        out.push('/');
        if bad_mask {
            let _ = write!(out, "(bad mask length {}, expected {want})(", m.len());
        }
        put_generic(out, m);
    }
    out.push(')');
    false
}

/// Whether typed attributes need the generic length check at all (only raw
/// ones can have a wrong length).
fn key_attr_len_ok(out: &mut String, a: &KeyAttr, ma: Option<&KeyAttr>) -> bool {
    let raw = matches!(a, KeyAttr::Unknown { .. } | KeyAttr::Ipv6Exthdrs(_))
        || matches!(ma, Some(KeyAttr::Unknown { .. }));
    // OVS cannot check the length of a type it does not know.
    if !raw || a.ty() > wire::OVS_TEXT_KEY_ATTR_MAX {
        return true;
    }
    let mp = ma.map(wire::payload);
    check_len(
        out,
        a.ty(),
        wire::key_len(a.ty()),
        &wire::payload(a),
        mp.as_deref(),
        false,
    )
}

/// A mask for `a` that wildcards everything, shaped as OVS generates it:
/// zeros for a plain attribute, an empty nest for a nested one.
fn zero_like(a: &KeyAttr) -> KeyAttr {
    match a {
        KeyAttr::Encap(_) => KeyAttr::Encap(Vec::new()),
        KeyAttr::Tunnel(_) => KeyAttr::Tunnel(Vec::new()),
        KeyAttr::Nsh(_) => KeyAttr::Nsh(Vec::new()),
        KeyAttr::Mpls(l) => KeyAttr::Mpls(vec![Default::default(); l.len()]),
        KeyAttr::Unknown { ty, payload } => KeyAttr::Unknown {
            ty: *ty,
            payload: vec![0; payload.len()],
        },
        KeyAttr::Priority(_) => KeyAttr::Priority(0),
        KeyAttr::InPort(_) => KeyAttr::InPort(0),
        KeyAttr::Ethernet(_) => KeyAttr::Ethernet(Default::default()),
        KeyAttr::Vlan(_) => KeyAttr::Vlan(0),
        KeyAttr::Ethertype(_) => KeyAttr::Ethertype(0),
        KeyAttr::Ipv4(_) => KeyAttr::Ipv4(Default::default()),
        KeyAttr::Ipv6(_) => KeyAttr::Ipv6(Default::default()),
        KeyAttr::Tcp(_) => KeyAttr::Tcp(Default::default()),
        KeyAttr::Udp(_) => KeyAttr::Udp(Default::default()),
        KeyAttr::Icmp(_) => KeyAttr::Icmp(Default::default()),
        KeyAttr::Icmpv6(_) => KeyAttr::Icmpv6(Default::default()),
        KeyAttr::Arp(_) => KeyAttr::Arp(Default::default()),
        KeyAttr::Nd(_) => KeyAttr::Nd(Default::default()),
        KeyAttr::SkbMark(_) => KeyAttr::SkbMark(0),
        KeyAttr::Sctp(_) => KeyAttr::Sctp(Default::default()),
        KeyAttr::TcpFlags(_) => KeyAttr::TcpFlags(0),
        KeyAttr::DpHash(_) => KeyAttr::DpHash(0),
        KeyAttr::RecircId(_) => KeyAttr::RecircId(0),
        KeyAttr::CtState(_) => KeyAttr::CtState(0),
        KeyAttr::CtZone(_) => KeyAttr::CtZone(0),
        KeyAttr::CtMark(_) => KeyAttr::CtMark(0),
        KeyAttr::CtLabels(_) => KeyAttr::CtLabels([0; 16]),
        KeyAttr::CtOrigTupleIpv4(_) => KeyAttr::CtOrigTupleIpv4(crate::key::CtTupleIpv4 {
            src: Ipv4Addr::UNSPECIFIED,
            dst: Ipv4Addr::UNSPECIFIED,
            src_port: 0,
            dst_port: 0,
            proto: 0,
        }),
        KeyAttr::CtOrigTupleIpv6(_) => KeyAttr::CtOrigTupleIpv6(crate::key::CtTupleIpv6 {
            src: Ipv6Addr::UNSPECIFIED,
            dst: Ipv6Addr::UNSPECIFIED,
            src_port: 0,
            dst_port: 0,
            proto: 0,
        }),
        KeyAttr::PacketType(_) => KeyAttr::PacketType(0),
        KeyAttr::NdExtensions(_) => KeyAttr::NdExtensions(Default::default()),
        KeyAttr::Ipv6Exthdrs(_) => KeyAttr::Ipv6Exthdrs(0),
    }
}

fn find(mask: &[KeyAttr], ty: u16) -> Option<&KeyAttr> {
    mask.iter().find(|m| m.ty() == ty)
}

/// `odp_flow_format`: a key list with an optional mask list.
pub(super) fn format_list(
    key: &[KeyAttr],
    mask: Option<&[KeyAttr]>,
    verbose: bool,
    out: &mut String,
) {
    let mask = mask.filter(|m| !m.is_empty());
    if key.is_empty() {
        out.push_str("<empty>");
        return;
    }
    let (mut has_ethtype, mut has_packet_type, mut first) = (false, false, true);
    for a in key {
        let ty = a.ty();
        let found = mask.and_then(|m| find(m, ty));
        if !key_attr_len_ok(out, a, found) {
            continue;
        }
        if ty == OVS_KEY_ATTR_ETHERTYPE {
            has_ethtype = true;
        } else if ty == OVS_KEY_ATTR_PACKET_TYPE {
            has_packet_type = true;
        }
        let nested = wire::key_len(ty) == Len::Nested;
        let wildcard = mask.is_some() && found.is_none_or(|m| wire::mask_is_const(m, false));
        if verbose || !wildcard || nested {
            let generated = (wildcard && found.is_none()).then(|| zero_like(a));
            if !first {
                out.push(',');
            }
            format_one(a, found.or(generated.as_ref()), verbose, out);
            first = false;
        } else if ty == OVS_KEY_ATTR_ETHERNET && !has_packet_type {
            if !first {
                out.push(',');
            }
            out.push_str("eth()");
        } else if ty == OVS_KEY_ATTR_PACKET_TYPE && wildcard {
            // A packet type not shown does not stand for the Ethernet
            // header: an all-wildcarded eth() is then shown.
            has_packet_type = false;
        }
    }
    if !has_ethtype {
        if let Some(KeyAttr::Ethertype(m)) = mask.and_then(|m| find(m, OVS_KEY_ATTR_ETHERTYPE)) {
            let _ = write!(out, ",eth_type(0/0x{m:04x})");
        }
    }
}

/// `format_odp_key_attr`: one attribute, after the length check.
pub(super) fn format_attr_checked(
    a: &KeyAttr,
    ma: Option<&KeyAttr>,
    verbose: bool,
    out: &mut String,
) {
    if key_attr_len_ok(out, a, ma) {
        format_one(a, ma, verbose, out);
    }
}

macro_rules! mask_as {
    ($ma:expr, $variant:path) => {
        match $ma {
            Some($variant(m)) => Some(m),
            _ => None,
        }
    };
}

/// `format_odp_key_attr__`: `name(fields)` for one attribute and its mask.
fn format_one(a: &KeyAttr, ma: Option<&KeyAttr>, v: bool, out: &mut String) {
    let is_exact = ma.is_none_or(|m| wire::mask_is_const(m, true));
    let mask_empty = ma.is_none_or(|m| wire::payload(m).iter().all(|&b| b == 0));
    out.push_str(&attr_name(a.ty()));
    out.push('(');
    match a {
        KeyAttr::Encap(inner) => {
            let mi = match ma {
                Some(KeyAttr::Encap(m)) if !m.is_empty() && !inner.is_empty() => Some(m.as_slice()),
                _ => None,
            };
            if !inner.is_empty() {
                format_list(inner, mi, v, out);
            }
        }
        KeyAttr::Priority(k) | KeyAttr::SkbMark(k) | KeyAttr::DpHash(k) | KeyAttr::RecircId(k) => {
            out.push_str(&alt_hex((*k).into()));
            if !is_exact {
                let m = u32_of(ma);
                let _ = write!(out, "/{}", alt_hex(m.into()));
            }
        }
        KeyAttr::CtMark(k) => {
            if v || !mask_empty {
                out.push_str(&alt_hex((*k).into()));
                if !is_exact {
                    let _ = write!(out, "/{}", alt_hex(u32_of(ma).into()));
                }
            }
        }
        KeyAttr::CtState(k) => {
            let m = if mask_empty { 0 } else { u32_of(ma) };
            if v {
                out.push_str(&alt_hex((*k).into()));
                if !is_exact {
                    let _ = write!(out, "/{}", alt_hex(m.into()));
                }
            } else if !is_exact {
                flags::format_flags_masked(out, CT_STATE, *k, m, u32::MAX);
            } else {
                flags::format_flags(out, CT_STATE, *k, '|');
            }
        }
        KeyAttr::CtZone(k) => {
            if v || !mask_empty {
                out.push_str(&alt_hex((*k).into()));
                if !is_exact {
                    let m = mask_as!(ma, KeyAttr::CtZone).copied().unwrap_or(0);
                    let _ = write!(out, "/{}", alt_hex(m.into()));
                }
            }
        }
        KeyAttr::CtLabels(k) => {
            let m = mask_as!(ma, KeyAttr::CtLabels);
            if v || m.is_some_and(|m| m.iter().any(|&b| b != 0)) {
                let kb: Vec<u8> = k.iter().rev().copied().collect();
                put_hex(out, &kb);
                if let Some(m) = m.filter(|m| m.iter().any(|&b| b != 0xff)) {
                    out.push('/');
                    let mb: Vec<u8> = m.iter().rev().copied().collect();
                    put_hex(out, &mb);
                }
            }
        }
        KeyAttr::CtOrigTupleIpv4(k) => {
            let m = mask_as!(ma, KeyAttr::CtOrigTupleIpv4);
            f_ipv4(out, "src", k.src, m.map(|m| m.src), v);
            f_ipv4(out, "dst", k.dst, m.map(|m| m.dst), v);
            f_u8u(out, "proto", k.proto, m.map(|m| m.proto), v);
            f_be16(out, "tp_src", k.src_port, m.map(|m| m.src_port), v);
            f_be16(out, "tp_dst", k.dst_port, m.map(|m| m.dst_port), v);
            chomp(out, ',');
        }
        KeyAttr::CtOrigTupleIpv6(k) => {
            let m = mask_as!(ma, KeyAttr::CtOrigTupleIpv6);
            f_in6(out, "src", &k.src, m.map(|m| &m.src), v);
            f_in6(out, "dst", &k.dst, m.map(|m| &m.dst), v);
            f_u8u(out, "proto", k.proto, m.map(|m| m.proto), v);
            f_be16(out, "src_port", k.src_port, m.map(|m| m.src_port), v);
            f_be16(out, "dst_port", k.dst_port, m.map(|m| m.dst_port), v);
            chomp(out, ',');
        }
        KeyAttr::Tunnel(attrs) => {
            let m = mask_as!(ma, KeyAttr::Tunnel).map(|m| m.as_slice());
            format_tunnel(attrs, m, v, out);
        }
        KeyAttr::InPort(k) => {
            let _ = write!(out, "{k}");
            if !is_exact {
                let _ = write!(out, "/{}", alt_hex(u32_of(ma).into()));
            }
        }
        KeyAttr::PacketType(k) => {
            let m = mask_as!(ma, KeyAttr::PacketType)
                .copied()
                .unwrap_or(u32::MAX);
            f_be16(out, "ns", (*k >> 16) as u16, Some((m >> 16) as u16), v);
            f_be16x(out, "id", *k as u16, Some(m as u16), v);
            chomp(out, ',');
        }
        KeyAttr::Ethernet(k) => {
            let m = mask_as!(ma, KeyAttr::Ethernet);
            f_eth(out, "src", &k.src, m.map(|m| &m.src), v);
            f_eth(out, "dst", &k.dst, m.map(|m| &m.dst), v);
            chomp(out, ',');
        }
        KeyAttr::Vlan(k) => {
            let m = mask_as!(ma, KeyAttr::Vlan).copied().unwrap_or(u16::MAX);
            format_vlan_tci(out, *k, m, v);
        }
        KeyAttr::Mpls(k) => {
            if k.is_empty() {
                out.push_str("(bad key length 0)");
                return;
            }
            if is_exact {
                for l in k {
                    let _ = write!(
                        out,
                        "label={},tc={},ttl={},bos={},",
                        l.label(),
                        l.tc(),
                        l.ttl(),
                        u8::from(l.bos())
                    );
                }
            } else {
                let m = mask_as!(ma, KeyAttr::Mpls)
                    .map(|m| m.as_slice())
                    .unwrap_or(&[]);
                if m.len() != k.len() {
                    let _ = write!(
                        out,
                        "(key length {} != mask length {})",
                        4 * k.len(),
                        4 * m.len()
                    );
                    return;
                }
                for (l, m) in k.iter().zip(m) {
                    let _ = write!(
                        out,
                        "label={}/0x{:x},tc={}/{:x},ttl={}/0x{:x},bos={}/{:x},",
                        l.label(),
                        m.label(),
                        l.tc(),
                        m.tc(),
                        l.ttl(),
                        m.ttl(),
                        u8::from(l.bos()),
                        u8::from(m.bos())
                    );
                }
            }
            chomp(out, ',');
        }
        KeyAttr::Ethertype(k) => {
            let _ = write!(out, "0x{k:04x}");
            if !is_exact {
                let m = mask_as!(ma, KeyAttr::Ethertype).copied().unwrap_or(0);
                let _ = write!(out, "/0x{m:04x}");
            }
        }
        KeyAttr::Ipv4(k) => {
            let m = mask_as!(ma, KeyAttr::Ipv4);
            f_ipv4(out, "src", k.src, m.map(|m| m.src), v);
            f_ipv4(out, "dst", k.dst, m.map(|m| m.dst), v);
            f_u8u(out, "proto", k.proto, m.map(|m| m.proto), v);
            f_u8x(out, "tos", k.tos, m.map(|m| m.tos), v);
            f_u8u(out, "ttl", k.ttl, m.map(|m| m.ttl), v);
            f_frag(out, "frag", k.frag, m.map(|m| m.frag));
            chomp(out, ',');
        }
        KeyAttr::Ipv6(k) => {
            let m = mask_as!(ma, KeyAttr::Ipv6);
            f_in6(out, "src", &k.src, m.map(|m| &m.src), v);
            f_in6(out, "dst", &k.dst, m.map(|m| &m.dst), v);
            f_label(out, "label", k.label, m.map(|m| m.label), v);
            f_u8u(out, "proto", k.proto, m.map(|m| m.proto), v);
            f_u8x(out, "tclass", k.tclass, m.map(|m| m.tclass), v);
            f_u8u(out, "hlimit", k.hlimit, m.map(|m| m.hlimit), v);
            f_frag(out, "frag", k.frag, m.map(|m| m.frag));
            chomp(out, ',');
        }
        KeyAttr::Tcp(k) | KeyAttr::Udp(k) | KeyAttr::Sctp(k) => {
            let m = match ma {
                Some(KeyAttr::Tcp(m) | KeyAttr::Udp(m) | KeyAttr::Sctp(m)) => Some(m),
                _ => None,
            };
            f_be16(out, "src", k.src, m.map(|m| m.src), v);
            f_be16(out, "dst", k.dst, m.map(|m| m.dst), v);
            chomp(out, ',');
        }
        KeyAttr::TcpFlags(k) => {
            if !is_exact {
                let m = mask_as!(ma, KeyAttr::TcpFlags).copied().unwrap_or(0);
                flags::format_flags_masked(
                    out,
                    TCP_FLAGS,
                    (*k).into(),
                    u32::from(m & 0x0fff),
                    0x0fff,
                );
            } else {
                flags::format_flags(out, TCP_FLAGS, (*k).into(), '|');
            }
        }
        KeyAttr::Icmp(k) | KeyAttr::Icmpv6(k) => {
            let m = match ma {
                Some(KeyAttr::Icmp(m) | KeyAttr::Icmpv6(m)) => Some(m),
                _ => None,
            };
            f_u8u(out, "type", k.ty, m.map(|m| m.ty), v);
            f_u8u(out, "code", k.code, m.map(|m| m.code), v);
            chomp(out, ',');
        }
        KeyAttr::Arp(k) => {
            let m = mask_as!(ma, KeyAttr::Arp);
            f_ipv4(out, "sip", k.sip, m.map(|m| m.sip), v);
            f_ipv4(out, "tip", k.tip, m.map(|m| m.tip), v);
            f_be16(out, "op", k.op, m.map(|m| m.op), v);
            f_eth(out, "sha", &k.sha, m.map(|m| &m.sha), v);
            f_eth(out, "tha", &k.tha, m.map(|m| &m.tha), v);
            chomp(out, ',');
        }
        KeyAttr::Nd(k) => {
            let m = mask_as!(ma, KeyAttr::Nd);
            f_in6(out, "target", &k.target, m.map(|m| &m.target), v);
            f_eth(out, "sll", &k.sll, m.map(|m| &m.sll), v);
            f_eth(out, "tll", &k.tll, m.map(|m| &m.tll), v);
            chomp(out, ',');
        }
        KeyAttr::NdExtensions(k) => {
            let m = mask_as!(ma, KeyAttr::NdExtensions);
            let _ = write!(out, "nd_reserved=0x{:x},", k.reserved);
            f_u8u(
                out,
                "nd_options_type",
                k.options_type,
                m.map(|m| m.options_type),
                v,
            );
            chomp(out, ',');
        }
        KeyAttr::Nsh(attrs) => {
            let m = mask_as!(ma, KeyAttr::Nsh).map(|m| m.as_slice());
            format_nsh(attrs, m, out);
        }
        KeyAttr::Ipv6Exthdrs(_) | KeyAttr::Unknown { .. } => {
            put_generic(out, &wire::payload(a));
            if !is_exact {
                out.push('/');
                put_generic(out, &ma.map(wire::payload).unwrap_or_default());
            }
        }
    }
    out.push(')');
}

fn u32_of(ma: Option<&KeyAttr>) -> u32 {
    match ma {
        Some(
            KeyAttr::Priority(m)
            | KeyAttr::SkbMark(m)
            | KeyAttr::DpHash(m)
            | KeyAttr::RecircId(m)
            | KeyAttr::CtMark(m)
            | KeyAttr::CtState(m)
            | KeyAttr::InPort(m),
        ) => *m,
        _ => 0,
    }
}

fn format_vlan_tci(out: &mut String, tci: u16, mask: u16, v: bool) {
    let vid = |t: u16| t & 0x0fff;
    let pcp = |t: u16| (t >> 13) & 7;
    if v || vid(tci) != 0 || vid(mask) != 0 {
        let _ = write!(out, "vid={}", vid(tci));
        if vid(mask) != 0x0fff {
            let _ = write!(out, "/0x{:x}", vid(mask));
        }
        out.push(',');
    }
    if v || pcp(tci) != 0 || pcp(mask) != 0 {
        let _ = write!(out, "pcp={}", pcp(tci));
        if pcp(mask) != 7 {
            let _ = write!(out, "/0x{:x}", pcp(mask));
        }
        out.push(',');
    }
    if tci & 0x1000 == 0 {
        out.push_str("cfi=0,");
    }
    chomp(out, ',');
}

fn zero_tunnel_like(a: &TunnelAttr) -> TunnelAttr {
    match a {
        TunnelAttr::Id(_) => TunnelAttr::Id(0),
        TunnelAttr::Ipv4Src(_) => TunnelAttr::Ipv4Src(Ipv4Addr::UNSPECIFIED),
        TunnelAttr::Ipv4Dst(_) => TunnelAttr::Ipv4Dst(Ipv4Addr::UNSPECIFIED),
        TunnelAttr::Tos(_) => TunnelAttr::Tos(0),
        TunnelAttr::Ttl(_) => TunnelAttr::Ttl(0),
        TunnelAttr::GeneveOpts(b) => TunnelAttr::GeneveOpts(vec![0; b.len()]),
        TunnelAttr::TpSrc(_) => TunnelAttr::TpSrc(0),
        TunnelAttr::TpDst(_) => TunnelAttr::TpDst(0),
        TunnelAttr::VxlanOpts(_) => TunnelAttr::VxlanOpts(None),
        TunnelAttr::Ipv6Src(_) => TunnelAttr::Ipv6Src(Ipv6Addr::UNSPECIFIED),
        TunnelAttr::Ipv6Dst(_) => TunnelAttr::Ipv6Dst(Ipv6Addr::UNSPECIFIED),
        TunnelAttr::ErspanOpts(_) => TunnelAttr::ErspanOpts(ErspanMetadata::default()),
        TunnelAttr::GtpuOpts { .. } => TunnelAttr::GtpuOpts {
            flags: 0,
            msgtype: 0,
        },
        TunnelAttr::Unknown { ty, payload } => TunnelAttr::Unknown {
            ty: *ty,
            payload: vec![0; payload.len()],
        },
        flag => flag.clone(),
    }
}

macro_rules! tmask {
    ($ma:expr, $variant:path) => {
        match $ma {
            Some($variant(m)) => Some(*m),
            _ => None,
        }
    };
}

fn format_tunnel(key: &[TunnelAttr], mask: Option<&[TunnelAttr]>, v: bool, out: &mut String) {
    use super::flags::{TUN_F_CSUM, TUN_F_DF, TUN_F_KEY, TUN_F_OAM};
    let (mut fl, mut mfl) = (0u16, 0u16);
    for a in key {
        let ty = a.ty();
        let found = mask.and_then(|m| m.iter().find(|x| x.ty() == ty));
        let generated = (mask.is_some() && found.is_none()).then(|| zero_tunnel_like(a));
        let ma = found.or(generated.as_ref());
        if matches!(a, TunnelAttr::Unknown { .. }) || matches!(ma, Some(TunnelAttr::Unknown { .. }))
        {
            let mp = ma.map(wire::tunnel_payload);
            if !check_len(
                out,
                ty,
                wire::tunnel_len(ty),
                &wire::tunnel_payload(a),
                mp.as_deref(),
                true,
            ) {
                continue;
            }
        }
        match a {
            TunnelAttr::Id(k) => {
                f_be64(out, "tun_id", *k, tmask!(ma, TunnelAttr::Id), v);
                fl |= TUN_F_KEY;
                if ma.is_some() {
                    mfl |= TUN_F_KEY;
                }
            }
            TunnelAttr::Ipv4Src(k) => f_ipv4(out, "src", *k, tmask!(ma, TunnelAttr::Ipv4Src), v),
            TunnelAttr::Ipv4Dst(k) => f_ipv4(out, "dst", *k, tmask!(ma, TunnelAttr::Ipv4Dst), v),
            TunnelAttr::Ipv6Src(k) => {
                let m = tmask!(ma, TunnelAttr::Ipv6Src);
                f_in6(out, "ipv6_src", k, m.as_ref(), v)
            }
            TunnelAttr::Ipv6Dst(k) => {
                let m = tmask!(ma, TunnelAttr::Ipv6Dst);
                f_in6(out, "ipv6_dst", k, m.as_ref(), v)
            }
            TunnelAttr::Tos(k) => f_u8x(out, "tos", *k, tmask!(ma, TunnelAttr::Tos), v),
            TunnelAttr::Ttl(k) => f_u8u(out, "ttl", *k, tmask!(ma, TunnelAttr::Ttl), v),
            TunnelAttr::DontFragment => fl |= TUN_F_DF,
            TunnelAttr::Csum => fl |= TUN_F_CSUM,
            TunnelAttr::Oam => fl |= TUN_F_OAM,
            TunnelAttr::TpSrc(k) => f_be16(out, "tp_src", *k, tmask!(ma, TunnelAttr::TpSrc), v),
            TunnelAttr::TpDst(k) => f_be16(out, "tp_dst", *k, tmask!(ma, TunnelAttr::TpDst), v),
            TunnelAttr::VxlanOpts(k) => {
                out.push_str("vxlan(");
                if let Some(gbp) = k {
                    let m = match ma {
                        Some(TunnelAttr::VxlanOpts(m)) => Some(m.unwrap_or(0)),
                        _ => None,
                    };
                    out.push_str("gbp(");
                    f_be16(out, "id", *gbp as u16, m.map(|m| m as u16), v);
                    f_u8x(
                        out,
                        "flags",
                        (*gbp >> 16) as u8,
                        m.map(|m| (m >> 16) as u8),
                        v,
                    );
                    chomp(out, ',');
                    out.push_str("),");
                }
                chomp(out, ',');
                out.push_str("),");
            }
            TunnelAttr::GeneveOpts(k) => {
                out.push_str("geneve(");
                let m = match ma {
                    Some(TunnelAttr::GeneveOpts(m)) => Some(m.as_slice()),
                    _ => None,
                };
                format_geneve(out, k, m, v);
                out.push_str("),");
            }
            TunnelAttr::Pad => {}
            TunnelAttr::ErspanOpts(k) => {
                out.push_str("erspan(");
                format_erspan(out, k, tmask!(ma, TunnelAttr::ErspanOpts).as_ref(), v);
                out.push_str("),");
            }
            TunnelAttr::GtpuOpts { flags, msgtype } => {
                out.push_str("gtpu(");
                let m = match ma {
                    Some(TunnelAttr::GtpuOpts { flags, msgtype }) => Some((*flags, *msgtype)),
                    _ => None,
                };
                f_u8x(out, "flags", *flags, m.map(|m| m.0), v);
                f_u8u(out, "msgtype", *msgtype, m.map(|m| m.1), v);
                chomp(out, ',');
                out.push_str("),");
            }
            TunnelAttr::Ipv4InfoBridge | TunnelAttr::Unknown { .. } => {
                let kp = wire::tunnel_payload(a);
                let _ = write!(out, "key{ty}(");
                put_generic(out, &kp);
                if let Some(m) = ma {
                    let mp = wire::tunnel_payload(m);
                    if !wire::raw_mask_is_const(ty, &mp, true) {
                        out.push('/');
                        put_generic(out, &mp);
                    }
                }
                out.push_str("),");
            }
        }
    }
    if let Some(m) = mask {
        for a in m {
            match a {
                TunnelAttr::DontFragment => mfl |= TUN_F_DF,
                TunnelAttr::Csum => mfl |= TUN_F_CSUM,
                TunnelAttr::Oam => mfl |= TUN_F_OAM,
                _ => {}
            }
        }
    }
    let mflags = mask.map(|_| mfl);
    if v || mflags != Some(0) {
        out.push_str("flags(");
        match mflags {
            Some(m) => flags::format_flags_masked(
                out,
                TUN_FLAGS,
                fl.into(),
                u32::from(m) & flags::TUN_F_MASK,
                flags::TUN_F_MASK,
            ),
            None => flags::format_flags(out, TUN_FLAGS, fl.into(), '|'),
        }
        out.push_str("),");
    }
    chomp(out, ',');
}

/// OVS's `format_geneve_opts` (also used for the options of `tnl_push`).
pub(in crate::text) fn format_geneve(out: &mut String, key: &[u8], mask: Option<&[u8]>, v: bool) {
    if let Some(m) = mask {
        if m.len() != key.len() {
            let _ = write!(
                out,
                "value len {} different from mask len {}",
                key.len(),
                m.len()
            );
            return;
        }
    }
    let mut off = 0usize;
    let mut left = key.len();
    while left > 0 {
        if left < 4 {
            let _ = write!(out, "opt len {left} less than minimum 4");
            return;
        }
        let data_len = usize::from(key[off + 3] & 0x1f) * 4;
        let len_mask = mask.map(|m| match m[off + 3] & 0x1f {
            0x1f => 0xff,
            l => l,
        });
        let len = 4 + data_len;
        if len > left {
            let _ = write!(out, "opt len {len} greater than remaining {left}");
            return;
        }
        out.push('{');
        let class = u16::from_be_bytes([key[off], key[off + 1]]);
        f_be16x(
            out,
            "class",
            class,
            mask.map(|m| u16::from_be_bytes([m[off], m[off + 1]])),
            v,
        );
        f_u8x(out, "type", key[off + 2], mask.map(|m| m[off + 2]), v);
        f_u8u(out, "len", data_len as u8, len_mask, v);
        let kd = &key[off + 4..off + len];
        let md = mask.map(|m| &m[off + 4..off + len]);
        if data_len > 0 && (v || md.is_none_or(|m| m.iter().any(|&b| b != 0))) {
            put_hex(out, kd);
            if let Some(m) = md.filter(|m| m.iter().any(|&b| b != 0xff)) {
                out.push('/');
                put_hex(out, m);
            }
        } else {
            chomp(out, ',');
        }
        out.push('}');
        off += len;
        left -= len;
    }
}

fn format_erspan(out: &mut String, k: &ErspanMetadata, m: Option<&ErspanMetadata>, v: bool) {
    f_u8u(out, "ver", k.version as u8, m.map(|m| m.version as u8), v);
    let idx = |e: &ErspanMetadata| u32::from_be_bytes([e.u[0], e.u[1], e.u[2], e.u[3]]);
    let dir = |e: &ErspanMetadata| (e.u[7] >> 3) & 1;
    let hwid = |e: &ErspanMetadata| e.u[7] >> 4;
    if k.version == 1 {
        match m {
            Some(m) => {
                let _ = write!(
                    out,
                    "idx={}/{},",
                    alt_hex(idx(k).into()),
                    alt_hex(idx(m).into())
                );
            }
            None => {
                let _ = write!(out, "idx={},", alt_hex(idx(k).into()));
            }
        }
    } else if k.version == 2 {
        f_u8u(out, "dir", dir(k), m.map(dir), v);
        f_u8x(out, "hwid", hwid(k), m.map(hwid), v);
    }
    chomp(out, ',');
}

fn format_nsh(key: &[NshAttr], mask: Option<&[NshAttr]>, out: &mut String) {
    let mut base = NshBase::default();
    let mut ctx = [0u32; 4];
    let mut mbase = NshBase {
        flags: 0xff,
        ttl: 0xff,
        mdtype: 0xff,
        np: 0xff,
        path_hdr: u32::MAX,
    };
    let mut mctx = [u32::MAX; 4];
    for a in key {
        let ty = a.ty();
        let ma = mask.and_then(|m| m.iter().find(|x| x.ty() == ty));
        if matches!(a, NshAttr::Unknown { .. }) || matches!(ma, Some(NshAttr::Unknown { .. })) {
            let mp = ma.map(wire::nsh_payload);
            if !check_len(
                out,
                ty,
                wire::nsh_len(ty),
                &wire::nsh_payload(a),
                mp.as_deref(),
                true,
            ) {
                continue;
            }
        }
        match a {
            NshAttr::Base(b) => {
                base = *b;
                if let Some(NshAttr::Base(m)) = ma {
                    mbase = *m;
                }
            }
            NshAttr::Md1(c) => {
                ctx = *c;
                if let Some(NshAttr::Md1(m)) = ma {
                    mctx = *m;
                }
            }
            _ => {}
        }
    }
    let spi = |p: u32| p >> 8;
    let si = |p: u32| p as u8;
    if mask.is_none() {
        let _ = write!(
            out,
            "flags={},ttl={},mdtype={},np={},spi=0x{:x},si={}",
            base.flags,
            base.ttl,
            base.mdtype,
            base.np,
            spi(base.path_hdr),
            si(base.path_hdr)
        );
        if base.mdtype == 1 {
            for (i, c) in ctx.iter().enumerate() {
                let _ = write!(out, ",c{}=0x{:x}", i + 1, c);
            }
        }
        return;
    }
    let mut first = true;
    nsh_u8(out, &mut first, "flags", base.flags, mbase.flags);
    nsh_u8(out, &mut first, "ttl", base.ttl, mbase.ttl);
    nsh_u8(out, &mut first, "mdtype", base.mdtype, mbase.mdtype);
    nsh_u8(out, &mut first, "np", base.np, mbase.np);
    let mut spi_mask = spi(mbase.path_hdr);
    if spi_mask == 0x00ff_ffff {
        spi_mask = u32::MAX;
    }
    nsh_be32(out, &mut first, "spi", spi(base.path_hdr), spi_mask);
    nsh_u8(out, &mut first, "si", si(base.path_hdr), si(mbase.path_hdr));
    for i in 0..4 {
        nsh_be32(out, &mut first, &format!("c{}", i + 1), ctx[i], mctx[i]);
    }
}

fn nsh_u8(out: &mut String, first: &mut bool, name: &str, k: u8, m: u8) {
    if m != 0 {
        if !*first {
            out.push(',');
        }
        if m == u8::MAX {
            let _ = write!(out, "{name}={k}");
        } else {
            let _ = write!(out, "{name}=0x{k:02x}/0x{m:02x}");
        }
        *first = false;
    }
}

fn nsh_be32(out: &mut String, first: &mut bool, name: &str, k: u32, m: u32) {
    if m != 0 {
        if !*first {
            out.push(',');
        }
        if m == u32::MAX {
            let _ = write!(out, "{name}=0x{k:x}");
        } else {
            let _ = write!(out, "{name}=0x{k:x}/0x{m:08x}");
        }
        *first = false;
    }
}
