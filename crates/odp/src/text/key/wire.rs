//! The netlink payload bytes of key attributes, as far as the text format
//! needs them.
//!
//! OVS's formatter works on netlink bytes: whether a mask is "exact" or
//! "wildcard" is decided on the raw payload (struct padding included), the
//! generic `keyN(..)` form prints the payload, and the parser limits a key
//! to what fits in a netlink attribute. This module gives the payload and
//! encoded size of a [`KeyAttr`] for those decisions; it is not the netlink
//! codec of the crate (that is [`crate::nl::key`]).

use crate::abi::*;
use crate::key::{KeyAttr, NshAttr, TunnelAttr};

/// Encoded size of an attribute with a payload of `len` bytes.
pub(super) fn nla_size(len: usize) -> usize {
    4 + nl::align(len)
}

fn put_nla(out: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = (4 + payload.len()) as u16;
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(payload);
    out.resize(out.len() + nl::align(payload.len()) - payload.len(), 0);
}

/// The attribute stream encoding `attrs` (used for nested payloads).
pub(super) fn stream(attrs: &[KeyAttr]) -> Vec<u8> {
    let mut out = Vec::new();
    for a in attrs {
        put_nla(&mut out, a.ty(), &payload(a));
    }
    out
}

/// The payload of a tunnel sub-attribute.
pub(super) fn tunnel_payload(a: &TunnelAttr) -> Vec<u8> {
    match a {
        TunnelAttr::Id(v) => v.to_be_bytes().to_vec(),
        TunnelAttr::Ipv4Src(ip) | TunnelAttr::Ipv4Dst(ip) => ip.octets().to_vec(),
        TunnelAttr::Tos(v) | TunnelAttr::Ttl(v) => vec![*v],
        TunnelAttr::DontFragment
        | TunnelAttr::Csum
        | TunnelAttr::Oam
        | TunnelAttr::Pad
        | TunnelAttr::Ipv4InfoBridge => Vec::new(),
        TunnelAttr::GeneveOpts(b) => b.clone(),
        TunnelAttr::TpSrc(v) | TunnelAttr::TpDst(v) => v.to_be_bytes().to_vec(),
        TunnelAttr::VxlanOpts(gbp) => {
            let mut out = Vec::new();
            if let Some(g) = gbp {
                put_nla(&mut out, OVS_VXLAN_EXT_GBP, &g.to_ne_bytes());
            }
            out
        }
        TunnelAttr::Ipv6Src(ip) | TunnelAttr::Ipv6Dst(ip) => ip.octets().to_vec(),
        TunnelAttr::ErspanOpts(md) => {
            let mut out = md.version.to_ne_bytes().to_vec();
            out.extend_from_slice(&md.u);
            out
        }
        TunnelAttr::GtpuOpts { flags, msgtype } => vec![*flags, *msgtype],
        TunnelAttr::Unknown { payload, .. } => payload.clone(),
    }
}

/// The payload of an NSH sub-attribute.
pub(super) fn nsh_payload(a: &NshAttr) -> Vec<u8> {
    match a {
        NshAttr::Base(b) => {
            let mut out = vec![b.flags, b.ttl, b.mdtype, b.np];
            out.extend_from_slice(&b.path_hdr.to_be_bytes());
            out
        }
        NshAttr::Md1(c) => c.iter().flat_map(|w| w.to_be_bytes()).collect(),
        NshAttr::Md2(b) => b.clone(),
        NshAttr::Unknown { payload, .. } => payload.clone(),
    }
}

/// The payload of `a` exactly as OVS lays it out (padding zeroed).
pub(super) fn payload(a: &KeyAttr) -> Vec<u8> {
    let mut out = Vec::new();
    match a {
        KeyAttr::Encap(inner) => out = stream(inner),
        KeyAttr::Priority(v)
        | KeyAttr::InPort(v)
        | KeyAttr::SkbMark(v)
        | KeyAttr::DpHash(v)
        | KeyAttr::RecircId(v)
        | KeyAttr::CtState(v)
        | KeyAttr::CtMark(v) => out.extend_from_slice(&v.to_ne_bytes()),
        KeyAttr::Ethernet(e) => {
            out.extend_from_slice(&e.src);
            out.extend_from_slice(&e.dst);
        }
        KeyAttr::Vlan(v) | KeyAttr::Ethertype(v) | KeyAttr::TcpFlags(v) => {
            out.extend_from_slice(&v.to_be_bytes())
        }
        KeyAttr::Ipv4(k) => {
            out.extend_from_slice(&k.src.octets());
            out.extend_from_slice(&k.dst.octets());
            out.extend_from_slice(&[k.proto, k.tos, k.ttl, k.frag]);
        }
        KeyAttr::Ipv6(k) => {
            out.extend_from_slice(&k.src.octets());
            out.extend_from_slice(&k.dst.octets());
            out.extend_from_slice(&k.label.to_be_bytes());
            out.extend_from_slice(&[k.proto, k.tclass, k.hlimit, k.frag]);
        }
        KeyAttr::Tcp(p) | KeyAttr::Udp(p) | KeyAttr::Sctp(p) => {
            out.extend_from_slice(&p.src.to_be_bytes());
            out.extend_from_slice(&p.dst.to_be_bytes());
        }
        KeyAttr::Icmp(k) | KeyAttr::Icmpv6(k) => out.extend_from_slice(&[k.ty, k.code]),
        KeyAttr::Arp(k) => {
            out.extend_from_slice(&k.sip.octets());
            out.extend_from_slice(&k.tip.octets());
            out.extend_from_slice(&k.op.to_be_bytes());
            out.extend_from_slice(&k.sha);
            out.extend_from_slice(&k.tha);
            out.extend_from_slice(&[0, 0]);
        }
        KeyAttr::Nd(k) => {
            out.extend_from_slice(&k.target.octets());
            out.extend_from_slice(&k.sll);
            out.extend_from_slice(&k.tll);
        }
        KeyAttr::Tunnel(attrs) => {
            for t in attrs {
                put_nla(&mut out, t.ty(), &tunnel_payload(t));
            }
        }
        KeyAttr::Mpls(lses) => {
            for l in lses {
                out.extend_from_slice(&l.0.to_be_bytes());
            }
        }
        KeyAttr::CtZone(v) => out.extend_from_slice(&v.to_ne_bytes()),
        KeyAttr::CtLabels(b) => out.extend_from_slice(b),
        KeyAttr::CtOrigTupleIpv4(t) => {
            out.extend_from_slice(&t.src.octets());
            out.extend_from_slice(&t.dst.octets());
            out.extend_from_slice(&t.src_port.to_be_bytes());
            out.extend_from_slice(&t.dst_port.to_be_bytes());
            out.extend_from_slice(&[t.proto, 0, 0, 0]);
        }
        KeyAttr::CtOrigTupleIpv6(t) => {
            out.extend_from_slice(&t.src.octets());
            out.extend_from_slice(&t.dst.octets());
            out.extend_from_slice(&t.src_port.to_be_bytes());
            out.extend_from_slice(&t.dst_port.to_be_bytes());
            out.extend_from_slice(&[t.proto, 0, 0, 0]);
        }
        KeyAttr::Nsh(attrs) => {
            for n in attrs {
                put_nla(&mut out, n.ty(), &nsh_payload(n));
            }
        }
        KeyAttr::PacketType(v) => out.extend_from_slice(&v.to_be_bytes()),
        KeyAttr::NdExtensions(k) => {
            out.extend_from_slice(&k.reserved.to_be_bytes());
            out.extend_from_slice(&[k.options_type, 0, 0, 0]);
        }
        KeyAttr::Ipv6Exthdrs(v) => out.extend_from_slice(&v.to_ne_bytes()),
        KeyAttr::Unknown { payload, .. } => out.extend_from_slice(payload),
    }
    out
}

/// Encoded size (header, payload, padding) of `a`.
pub(super) fn encoded_size(a: &KeyAttr) -> usize {
    nla_size(payload_len(a))
}

fn payload_len(a: &KeyAttr) -> usize {
    match a {
        KeyAttr::Encap(inner) => inner.iter().map(encoded_size).sum(),
        KeyAttr::Tunnel(attrs) => attrs
            .iter()
            .map(|t| nla_size(tunnel_payload(t).len()))
            .sum(),
        KeyAttr::Nsh(attrs) => attrs.iter().map(|n| nla_size(nsh_payload(n).len())).sum(),
        _ => payload(a).len(),
    }
}

/// How long OVS expects an attribute's payload to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Len {
    /// Exactly this many bytes.
    Fixed(usize),
    /// Any length.
    Variable,
    /// A nested attribute stream.
    Nested,
    /// Not a known type (OVS prints "expected -1").
    Invalid,
}

/// OVS's length table for `OVS_KEY_ATTR_*`.
pub(super) fn key_len(ty: u16) -> Len {
    match ty {
        OVS_KEY_ATTR_ENCAP | OVS_KEY_ATTR_TUNNEL | OVS_KEY_ATTR_NSH => Len::Nested,
        OVS_KEY_ATTR_MPLS => Len::Variable,
        OVS_KEY_ATTR_PRIORITY
        | OVS_KEY_ATTR_SKB_MARK
        | OVS_KEY_ATTR_DP_HASH
        | OVS_KEY_ATTR_RECIRC_ID
        | OVS_KEY_ATTR_IN_PORT
        | OVS_KEY_ATTR_CT_STATE
        | OVS_KEY_ATTR_CT_MARK
        | OVS_KEY_ATTR_PACKET_TYPE
        | OVS_KEY_ATTR_TCP
        | OVS_KEY_ATTR_UDP
        | OVS_KEY_ATTR_SCTP => Len::Fixed(4),
        OVS_KEY_ATTR_ETHERNET | OVS_KEY_ATTR_IPV4 => Len::Fixed(12),
        OVS_KEY_ATTR_VLAN
        | OVS_KEY_ATTR_ETHERTYPE
        | OVS_KEY_ATTR_TCP_FLAGS
        | OVS_KEY_ATTR_ICMP
        | OVS_KEY_ATTR_ICMPV6
        | OVS_KEY_ATTR_CT_ZONE => Len::Fixed(2),
        OVS_KEY_ATTR_IPV6 | OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6 => Len::Fixed(40),
        OVS_KEY_ATTR_ARP => Len::Fixed(24),
        OVS_KEY_ATTR_ND => Len::Fixed(28),
        OVS_KEY_ATTR_ND_EXTENSIONS => Len::Fixed(8),
        OVS_KEY_ATTR_CT_LABELS | OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4 => Len::Fixed(16),
        t if t <= OVS_KEY_ATTR_MAX => Len::Fixed(0),
        _ => Len::Invalid,
    }
}

/// OVS's length table for `OVS_TUNNEL_KEY_ATTR_*`.
pub(super) fn tunnel_len(ty: u16) -> Len {
    match ty {
        OVS_TUNNEL_KEY_ATTR_ID => Len::Fixed(8),
        OVS_TUNNEL_KEY_ATTR_IPV4_SRC | OVS_TUNNEL_KEY_ATTR_IPV4_DST => Len::Fixed(4),
        OVS_TUNNEL_KEY_ATTR_TOS | OVS_TUNNEL_KEY_ATTR_TTL => Len::Fixed(1),
        OVS_TUNNEL_KEY_ATTR_TP_SRC | OVS_TUNNEL_KEY_ATTR_TP_DST => Len::Fixed(2),
        OVS_TUNNEL_KEY_ATTR_IPV6_SRC | OVS_TUNNEL_KEY_ATTR_IPV6_DST => Len::Fixed(16),
        OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS
        | OVS_TUNNEL_KEY_ATTR_ERSPAN_OPTS
        | OVS_TUNNEL_KEY_ATTR_GTPU_OPTS => Len::Variable,
        OVS_TUNNEL_KEY_ATTR_VXLAN_OPTS => Len::Nested,
        t if t <= OVS_TUNNEL_KEY_ATTR_MAX => Len::Fixed(0),
        _ => Len::Invalid,
    }
}

/// OVS's length table for `OVS_NSH_KEY_ATTR_*`.
pub(super) fn nsh_len(ty: u16) -> Len {
    match ty {
        OVS_NSH_KEY_ATTR_BASE => Len::Fixed(8),
        OVS_NSH_KEY_ATTR_MD1 => Len::Fixed(16),
        OVS_NSH_KEY_ATTR_MD2 => Len::Variable,
        t if t <= OVS_NSH_KEY_ATTR_MAX => Len::Fixed(0),
        _ => Len::Invalid,
    }
}

fn all(b: &[u8], c: u8) -> bool {
    b.iter().all(|&x| x == c)
}

/// OVS's test of whether a mask payload of attribute type `ty` is all
/// zeros (`ones == false`) or all ones, on the raw bytes: TCP flags look at
/// the 12 flag bits, IPv6 at the 20 label bits, and struct padding is
/// skipped for ARP and the conntrack tuples (but not elsewhere).
pub(super) fn raw_mask_is_const(ty: u16, b: &[u8], ones: bool) -> bool {
    let c = if ones { 0xff } else { 0 };
    let range = |n: usize| b.get(..n).is_some_and(|x| all(x, c));
    match ty {
        OVS_KEY_ATTR_TCP_FLAGS => {
            b.len() >= 2
                && (u16::from_be_bytes([b[0], b[1]]) & 0x0fff) == if ones { 0x0fff } else { 0 }
        }
        OVS_KEY_ATTR_IPV6 => {
            b.len() >= 40
                && (u32::from_be_bytes([b[32], b[33], b[34], b[35]]) & 0xfffff)
                    == if ones { 0xfffff } else { 0 }
                && all(&b[..32], c)
                && all(&b[36..40], c)
        }
        OVS_KEY_ATTR_ARP => range(22),
        OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4 => range(13),
        OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6 => range(37),
        OVS_KEY_ATTR_PRIORITY
        | OVS_KEY_ATTR_IN_PORT
        | OVS_KEY_ATTR_ETHERNET
        | OVS_KEY_ATTR_VLAN
        | OVS_KEY_ATTR_ETHERTYPE
        | OVS_KEY_ATTR_IPV4
        | OVS_KEY_ATTR_TCP
        | OVS_KEY_ATTR_UDP
        | OVS_KEY_ATTR_ICMP
        | OVS_KEY_ATTR_ICMPV6
        | OVS_KEY_ATTR_ND
        | OVS_KEY_ATTR_ND_EXTENSIONS
        | OVS_KEY_ATTR_SKB_MARK
        | OVS_KEY_ATTR_TUNNEL
        | OVS_KEY_ATTR_SCTP
        | OVS_KEY_ATTR_DP_HASH
        | OVS_KEY_ATTR_RECIRC_ID
        | OVS_KEY_ATTR_MPLS
        | OVS_KEY_ATTR_CT_STATE
        | OVS_KEY_ATTR_CT_ZONE
        | OVS_KEY_ATTR_CT_MARK
        | OVS_KEY_ATTR_CT_LABELS
        | OVS_KEY_ATTR_PACKET_TYPE
        | OVS_KEY_ATTR_NSH => all(b, c),
        _ => false,
    }
}

/// [`raw_mask_is_const`] for a typed mask attribute.
pub(super) fn mask_is_const(m: &KeyAttr, ones: bool) -> bool {
    raw_mask_is_const(m.ty(), &payload(m), ones)
}
