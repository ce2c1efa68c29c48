//! The netlink payload bytes of key attributes, as far as the text format
//! needs them.
//!
//! OVS's formatter works on netlink bytes: whether a mask is "exact" or
//! "wildcard" is decided on the raw payload (struct padding included), the
//! generic `keyN(..)` form prints the payload, and the parser limits a key
//! to what fits in a netlink attribute. This module gives the payload and
//! encoded size of a [`KeyAttr`] for those decisions; it is not the netlink
//! codec of the crate: payloads come from [`crate::nl::key::emit_payload`].

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
#[cfg(test)]
pub(super) fn stream(attrs: &[KeyAttr]) -> Vec<u8> {
    let mut w = nl::Writer::new();
    crate::nl::key::emit_keys(attrs, &mut w);
    w.into_bytes()
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
    crate::nl::key::emit_payload(a, &mut out);
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

/// The highest key attribute type OVS knows (its `OVS_KEY_ATTR_MAX`,
/// `OVS_KEY_ATTR_TUNNEL_INFO`). Kernel types above it (`IPV6_EXTHDRS`, 32,
/// from Linux 5.18) are unknown to OVS's text format: printed as
/// `key<N>(<bytes>/<mask bytes>)` whatever their mask, with no length check.
pub(super) const OVS_TEXT_KEY_ATTR_MAX: u16 = OVS_KEY_ATTR_TUNNEL_INFO;

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
        t if t <= OVS_TEXT_KEY_ATTR_MAX => Len::Fixed(0),
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
