//! An OpenFlow-style flow filter, as `ovstest test-odp parse-filter` takes
//! it: `dl_type=0x1235`, `ip,nw_src=35.8.2.199`, `tcp6,tp_src=90`, ...
//!
//! [`Filter::parse`] reads the specification into a flow and the set of
//! bits it constrains (OVS's `parse_ofp_exact_flow`, plus optional
//! `/mask` or `/prefix` on values). [`Filter::matches`] then tells whether a
//! datapath flow (key and mask attributes) agrees with it: for every bit
//! the filter constrains, the filter's value and the flow's value are equal
//! wherever the flow's own mask has a 1.
//!
//! Fields understood: the protocol shorthands `ip`, `ipv6`, `icmp`, `icmp6`,
//! `tcp`, `tcp6`, `udp`, `udp6`, `sctp`, `sctp6`, `arp`, `rarp`, `mpls`,
//! `mplsm`; and `in_port`, `dl_src`/`eth_src`, `dl_dst`/`eth_dst`,
//! `dl_type`/`eth_type`, `dl_vlan`, `dl_vlan_pcp`, `vlan_tci`,
//! `nw_src`/`ip_src`, `nw_dst`/`ip_dst`, `nw_proto`/`ip_proto`, `nw_tos`,
//! `nw_ecn`, `nw_ttl`, `arp_op`, `arp_spa`, `arp_tpa`, `arp_sha`,
//! `arp_tha`, `ipv6_src`, `ipv6_dst`, `ipv6_label`, `nd_target`,
//! `nd_sll`, `nd_tll`, `tp_src`/`tcp_src`/`udp_src`/`sctp_src`,
//! `tp_dst`/..., `icmp_type`, `icmp_code`, `icmpv6_type`, `icmpv6_code`,
//! `skb_priority`, `pkt_mark`, `recirc_id`, `dp_hash`, `tun_id`,
//! `tun_src`, `tun_dst`, `ct_zone`, `ct_mark`, `mpls_label`, `mpls_tc`,
//! `mpls_bos`, `mpls_ttl`.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::convert::{key_to_flow, key_to_mask};
use crate::error::ParseError;
use crate::flow::{Flow, VLAN_CFI, VLAN_PCP_MASK, VLAN_VID_MASK};
use crate::key::KeyAttr;

/// A parsed filter: a flow, and a mask of the bits it constrains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    flow: Flow,
    wc: Flow,
}

const ETH_TYPE_IP: u16 = 0x0800;
const ETH_TYPE_IPV6: u16 = 0x86dd;
const ETH_TYPE_ARP: u16 = 0x0806;
const ETH_TYPE_RARP: u16 = 0x8035;
const ETH_TYPE_MPLS: u16 = 0x8847;
const ETH_TYPE_MPLS_MCAST: u16 = 0x8848;

/// The protocol shorthands: name, Ethertype, IP protocol (0: none).
const PROTOCOLS: &[(&str, u16, u8)] = &[
    ("ip", ETH_TYPE_IP, 0),
    ("ipv6", ETH_TYPE_IPV6, 0),
    ("icmp", ETH_TYPE_IP, 1),
    ("icmp6", ETH_TYPE_IPV6, 58),
    ("tcp", ETH_TYPE_IP, 6),
    ("tcp6", ETH_TYPE_IPV6, 6),
    ("udp", ETH_TYPE_IP, 17),
    ("udp6", ETH_TYPE_IPV6, 17),
    ("sctp", ETH_TYPE_IP, 132),
    ("sctp6", ETH_TYPE_IPV6, 132),
    ("arp", ETH_TYPE_ARP, 0),
    ("rarp", ETH_TYPE_RARP, 0),
    ("mpls", ETH_TYPE_MPLS, 0),
    ("mplsm", ETH_TYPE_MPLS_MCAST, 0),
];

/// What a field needs the flow to be before it may be set.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prereq {
    None,
    Ipv4,
    Ipv6,
    IpAny,
    Arp,
    Mpls,
    /// TCP, UDP or SCTP over IPv4 or IPv6.
    Ports,
    Icmp4,
    Icmp6,
    Nd,
}

/// How a field's text value is read and where it goes.
#[derive(Clone, Copy)]
enum Field {
    InPort,
    DlSrc,
    DlDst,
    DlType,
    DlVlan,
    DlVlanPcp,
    VlanTci,
    NwSrc,
    NwDst,
    NwProto,
    NwTos,
    NwEcn,
    NwTtl,
    ArpSha,
    ArpTha,
    Ipv6Src,
    Ipv6Dst,
    Ipv6Label,
    NdTarget,
    TpSrc,
    TpDst,
    IcmpType,
    IcmpCode,
    SkbPriority,
    PktMark,
    RecircId,
    DpHash,
    TunId,
    TunSrc,
    TunDst,
    CtZone,
    CtMark,
    MplsLabel,
    MplsTc,
    MplsBos,
    MplsTtl,
}

/// Field names, what they set, and their prerequisites.
const FIELDS: &[(&str, Field, Prereq)] = &[
    ("in_port", Field::InPort, Prereq::None),
    ("dl_src", Field::DlSrc, Prereq::None),
    ("eth_src", Field::DlSrc, Prereq::None),
    ("dl_dst", Field::DlDst, Prereq::None),
    ("eth_dst", Field::DlDst, Prereq::None),
    ("dl_type", Field::DlType, Prereq::None),
    ("eth_type", Field::DlType, Prereq::None),
    ("dl_vlan", Field::DlVlan, Prereq::None),
    ("dl_vlan_pcp", Field::DlVlanPcp, Prereq::None),
    ("vlan_tci", Field::VlanTci, Prereq::None),
    ("nw_src", Field::NwSrc, Prereq::Ipv4),
    ("ip_src", Field::NwSrc, Prereq::Ipv4),
    ("nw_dst", Field::NwDst, Prereq::Ipv4),
    ("ip_dst", Field::NwDst, Prereq::Ipv4),
    ("nw_proto", Field::NwProto, Prereq::IpAny),
    ("ip_proto", Field::NwProto, Prereq::IpAny),
    ("nw_tos", Field::NwTos, Prereq::IpAny),
    ("nw_ecn", Field::NwEcn, Prereq::IpAny),
    ("ip_ecn", Field::NwEcn, Prereq::IpAny),
    ("nw_ttl", Field::NwTtl, Prereq::IpAny),
    ("arp_op", Field::NwProto, Prereq::Arp),
    ("arp_spa", Field::NwSrc, Prereq::Arp),
    ("arp_tpa", Field::NwDst, Prereq::Arp),
    ("arp_sha", Field::ArpSha, Prereq::Arp),
    ("arp_tha", Field::ArpTha, Prereq::Arp),
    ("ipv6_src", Field::Ipv6Src, Prereq::Ipv6),
    ("ipv6_dst", Field::Ipv6Dst, Prereq::Ipv6),
    ("ipv6_label", Field::Ipv6Label, Prereq::Ipv6),
    ("nd_target", Field::NdTarget, Prereq::Nd),
    ("nd_sll", Field::ArpSha, Prereq::Nd),
    ("nd_tll", Field::ArpTha, Prereq::Nd),
    ("tp_src", Field::TpSrc, Prereq::Ports),
    ("tcp_src", Field::TpSrc, Prereq::Ports),
    ("udp_src", Field::TpSrc, Prereq::Ports),
    ("sctp_src", Field::TpSrc, Prereq::Ports),
    ("tp_dst", Field::TpDst, Prereq::Ports),
    ("tcp_dst", Field::TpDst, Prereq::Ports),
    ("udp_dst", Field::TpDst, Prereq::Ports),
    ("sctp_dst", Field::TpDst, Prereq::Ports),
    ("icmp_type", Field::IcmpType, Prereq::Icmp4),
    ("icmp_code", Field::IcmpCode, Prereq::Icmp4),
    ("icmpv6_type", Field::IcmpType, Prereq::Icmp6),
    ("icmpv6_code", Field::IcmpCode, Prereq::Icmp6),
    ("skb_priority", Field::SkbPriority, Prereq::None),
    ("pkt_mark", Field::PktMark, Prereq::None),
    ("recirc_id", Field::RecircId, Prereq::None),
    ("dp_hash", Field::DpHash, Prereq::None),
    ("tun_id", Field::TunId, Prereq::None),
    ("tunnel_id", Field::TunId, Prereq::None),
    ("tun_src", Field::TunSrc, Prereq::None),
    ("tun_dst", Field::TunDst, Prereq::None),
    ("ct_zone", Field::CtZone, Prereq::None),
    ("ct_mark", Field::CtMark, Prereq::None),
    ("mpls_label", Field::MplsLabel, Prereq::Mpls),
    ("mpls_tc", Field::MplsTc, Prereq::Mpls),
    ("mpls_bos", Field::MplsBos, Prereq::Mpls),
    ("mpls_ttl", Field::MplsTtl, Prereq::Mpls),
];

fn prereq_ok(p: Prereq, f: &Flow) -> bool {
    let ip4 = f.dl_type == ETH_TYPE_IP;
    let ip6 = f.dl_type == ETH_TYPE_IPV6;
    match p {
        Prereq::None => true,
        Prereq::Ipv4 => ip4,
        Prereq::Ipv6 => ip6,
        Prereq::IpAny => ip4 || ip6,
        Prereq::Arp => f.dl_type == ETH_TYPE_ARP || f.dl_type == ETH_TYPE_RARP,
        Prereq::Mpls => f.dl_type == ETH_TYPE_MPLS || f.dl_type == ETH_TYPE_MPLS_MCAST,
        Prereq::Ports => (ip4 || ip6) && matches!(f.nw_proto, 6 | 17 | 132),
        Prereq::Icmp4 => ip4 && f.nw_proto == 1,
        Prereq::Icmp6 => ip6 && f.nw_proto == 58,
        Prereq::Nd => ip6 && f.nw_proto == 58 && matches!(f.tp_src, 135 | 136) && f.tp_dst == 0,
    }
}

/// An unsigned integer in C's `strtoull(…, 0)` forms: `0x` hex, leading-0
/// octal, or decimal.
fn parse_uint(s: &str) -> Option<u128> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u128::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u128::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

fn parse_int<T: TryFrom<u128>>(s: &str) -> Option<T> {
    parse_uint(s).and_then(|v| T::try_from(v).ok())
}

fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut out = [0u8; 6];
    let mut parts = s.split(':');
    for b in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// A value and its optional mask, split at `/`.
fn split_mask(s: &str) -> (&str, Option<&str>) {
    match s.split_once('/') {
        Some((v, m)) => (v, Some(m)),
        None => (s, None),
    }
}

fn bad(s: &str, key: &str, why: &str) -> ParseError {
    ParseError::new(format!("{s}: bad value for {key} ({why})"))
}

/// An integer field with an optional integer mask.
fn int_masked<T>(v: &str, key: &str, s: &str, full: T) -> Result<(T, T), ParseError>
where
    T: TryFrom<u128> + Copy,
{
    let (val, mask) = split_mask(v);
    let value: T = parse_int(val).ok_or_else(|| bad(s, key, &format!("invalid value '{val}'")))?;
    let mask: T = match mask {
        None => full,
        Some(m) => parse_int(m).ok_or_else(|| bad(s, key, &format!("invalid mask '{m}'")))?,
    };
    Ok((value, mask))
}

fn ipv4_masked(v: &str, key: &str, s: &str) -> Result<(u32, u32), ParseError> {
    let (val, mask) = split_mask(v);
    let ip: Ipv4Addr = val
        .parse()
        .map_err(|_| bad(s, key, &format!("{val}: invalid IP address")))?;
    let mask = match mask {
        None => u32::MAX,
        Some(m) => {
            if let Ok(a) = m.parse::<Ipv4Addr>() {
                u32::from(a)
            } else {
                let n: u32 = m
                    .parse()
                    .ok()
                    .filter(|n| *n <= 32)
                    .ok_or_else(|| bad(s, key, &format!("{m}: invalid IP prefix length")))?;
                u32::MAX.checked_shl(32 - n).unwrap_or(0)
            }
        }
    };
    Ok((u32::from(ip), mask))
}

fn ipv6_masked(v: &str, key: &str, s: &str) -> Result<(u128, u128), ParseError> {
    let (val, mask) = split_mask(v);
    let ip: Ipv6Addr = val
        .parse()
        .map_err(|_| bad(s, key, &format!("{val}: invalid IPv6 address")))?;
    let mask = match mask {
        None => u128::MAX,
        Some(m) => {
            if let Ok(a) = m.parse::<Ipv6Addr>() {
                u128::from(a)
            } else {
                let n: u32 = m
                    .parse()
                    .ok()
                    .filter(|n| *n <= 128)
                    .ok_or_else(|| bad(s, key, &format!("{m}: invalid IPv6 prefix length")))?;
                u128::MAX.checked_shl(128 - n).unwrap_or(0)
            }
        }
    };
    Ok((u128::from(ip), mask))
}

fn mac_masked(v: &str, key: &str, s: &str) -> Result<([u8; 6], [u8; 6]), ParseError> {
    let (val, mask) = split_mask(v);
    let mac =
        parse_mac(val).ok_or_else(|| bad(s, key, &format!("{val}: invalid Ethernet address")))?;
    let mask = match mask {
        None => [0xff; 6],
        Some(m) => {
            parse_mac(m).ok_or_else(|| bad(s, key, &format!("{m}: invalid Ethernet mask")))?
        }
    };
    Ok((mac, mask))
}

/// Sets the masked bits of `*field` to `value` and adds `mask` to `*wc`.
fn put<T>(field: &mut T, wc: &mut T, value: T, mask: T)
where
    T: Copy
        + std::ops::BitAnd<Output = T>
        + std::ops::BitOr<Output = T>
        + std::ops::Not<Output = T>,
{
    *field = (*field & !mask) | (value & mask);
    *wc = *wc | mask;
}

fn put_mac(field: &mut [u8; 6], wc: &mut [u8; 6], value: [u8; 6], mask: [u8; 6]) {
    for i in 0..6 {
        put(&mut field[i], &mut wc[i], value[i], mask[i]);
    }
}

impl Filter {
    /// Parses a filter specification: comma- or space-separated protocol
    /// shorthands and `field=value[/mask]` pairs.
    pub fn parse(s: &str) -> Result<Filter, ParseError> {
        let mut flow = Flow::default();
        let mut wc = Flow::default();
        for token in s
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|t| !t.is_empty())
        {
            let (key, value) = match token.split_once(['=', ':']) {
                Some((k, v)) => (k, Some(v)),
                None => (token, None),
            };
            if let Some(&(_, dl_type, nw_proto)) = PROTOCOLS.iter().find(|p| p.0 == key) {
                if flow.dl_type != 0 {
                    return Err(ParseError::new(format!(
                        "{s}: Ethernet type set multiple times"
                    )));
                }
                flow.dl_type = dl_type;
                wc.dl_type = 0xffff;
                if nw_proto != 0 {
                    if flow.nw_proto != 0 {
                        return Err(ParseError::new(format!(
                            "{s}: network protocol set multiple times"
                        )));
                    }
                    flow.nw_proto = nw_proto;
                    wc.nw_proto = 0xff;
                }
                continue;
            }
            let Some(&(_, field, prereq)) = FIELDS.iter().find(|f| f.0 == key) else {
                return Err(ParseError::new(format!("{s}: unknown field {key}")));
            };
            let Some(value) = value else {
                return Err(ParseError::new(format!("{s}: field {key} missing value")));
            };
            if !prereq_ok(prereq, &flow) {
                return Err(ParseError::new(format!(
                    "{s}: prerequisites not met for setting {key}"
                )));
            }
            set_field(field, value, key, s, &mut flow, &mut wc)?;
        }
        Ok(Filter { flow, wc })
    }

    /// The filter's flow values.
    pub fn flow(&self) -> &Flow {
        &self.flow
    }

    /// The bits the filter constrains (1 = constrained).
    pub fn wildcards(&self) -> &Flow {
        &self.wc
    }

    /// Whether the datapath flow with these key and mask attributes matches
    /// the filter. A key or mask that does not decode never matches.
    pub fn matches(&self, key: &[KeyAttr], mask: &[KeyAttr]) -> bool {
        let Ok((flow, _)) = key_to_flow(key) else {
            return false;
        };
        let Ok((mask, _)) = key_to_mask(mask, &flow) else {
            return false;
        };
        self.matches_flow(&flow, &mask)
    }

    /// Whether a flow and its mask match the filter: wherever the filter
    /// constrains a bit and the mask has a 1, the two flows agree.
    pub fn matches_flow(&self, flow: &Flow, mask: &Flow) -> bool {
        let f = flow_bytes(&self.flow);
        let w = flow_bytes(&self.wc);
        let v = flow_bytes(flow);
        let m = flow_bytes(mask);
        f.iter()
            .zip(&w)
            .zip(v.iter().zip(&m))
            .all(|((f, w), (v, m))| (f ^ v) & w & m == 0)
    }
}

fn set_field(
    field: Field,
    value: &str,
    key: &str,
    s: &str,
    flow: &mut Flow,
    wc: &mut Flow,
) -> Result<(), ParseError> {
    match field {
        Field::InPort => {
            let (v, m) = int_masked::<u32>(value, key, s, u32::MAX)?;
            put(&mut flow.in_port, &mut wc.in_port, v, m);
        }
        Field::DlSrc => {
            let (v, m) = mac_masked(value, key, s)?;
            put_mac(&mut flow.dl_src, &mut wc.dl_src, v, m);
        }
        Field::DlDst => {
            let (v, m) = mac_masked(value, key, s)?;
            put_mac(&mut flow.dl_dst, &mut wc.dl_dst, v, m);
        }
        Field::DlType => {
            let (v, m) = int_masked::<u16>(value, key, s, u16::MAX)?;
            put(&mut flow.dl_type, &mut wc.dl_type, v, m);
        }
        Field::DlVlan => {
            let v: u16 = parse_int(value)
                .filter(|v| *v <= VLAN_VID_MASK || *v == 0xffff)
                .ok_or_else(|| bad(s, key, &format!("invalid value '{value}'")))?;
            if v == 0xffff {
                // "No VLAN header".
                flow.vlans[0].tci = 0;
                wc.vlans[0].tci = 0xffff;
            } else {
                let tci = &mut flow.vlans[0].tci;
                *tci = (*tci & !VLAN_VID_MASK) | v | VLAN_CFI;
                wc.vlans[0].tci |= VLAN_VID_MASK | VLAN_CFI;
            }
        }
        Field::DlVlanPcp => {
            let v: u16 = parse_int(value)
                .filter(|v| *v <= 7)
                .ok_or_else(|| bad(s, key, &format!("invalid value '{value}'")))?;
            let tci = &mut flow.vlans[0].tci;
            *tci = (*tci & !VLAN_PCP_MASK) | (v << 13) | VLAN_CFI;
            wc.vlans[0].tci |= VLAN_PCP_MASK | VLAN_CFI;
        }
        Field::VlanTci => {
            let (v, m) = int_masked::<u16>(value, key, s, u16::MAX)?;
            put(&mut flow.vlans[0].tci, &mut wc.vlans[0].tci, v, m);
        }
        Field::NwSrc => {
            let (v, m) = ipv4_masked(value, key, s)?;
            put(&mut flow.nw_src, &mut wc.nw_src, v, m);
        }
        Field::NwDst => {
            let (v, m) = ipv4_masked(value, key, s)?;
            put(&mut flow.nw_dst, &mut wc.nw_dst, v, m);
        }
        Field::NwProto => {
            let (v, m) = int_masked::<u8>(value, key, s, u8::MAX)?;
            put(&mut flow.nw_proto, &mut wc.nw_proto, v, m);
        }
        Field::NwTos => {
            // The DSCP bits of the ToS byte.
            let (v, m) = int_masked::<u8>(value, key, s, 0xfc)?;
            put(&mut flow.nw_tos, &mut wc.nw_tos, v, m & 0xfc);
        }
        Field::NwEcn => {
            let (v, m) = int_masked::<u8>(value, key, s, 0x03)?;
            put(&mut flow.nw_tos, &mut wc.nw_tos, v, m & 0x03);
        }
        Field::NwTtl => {
            let (v, m) = int_masked::<u8>(value, key, s, u8::MAX)?;
            put(&mut flow.nw_ttl, &mut wc.nw_ttl, v, m);
        }
        Field::ArpSha => {
            let (v, m) = mac_masked(value, key, s)?;
            put_mac(&mut flow.arp_sha, &mut wc.arp_sha, v, m);
        }
        Field::ArpTha => {
            let (v, m) = mac_masked(value, key, s)?;
            put_mac(&mut flow.arp_tha, &mut wc.arp_tha, v, m);
        }
        Field::Ipv6Src => {
            let (v, m) = ipv6_masked(value, key, s)?;
            put(&mut flow.ipv6_src, &mut wc.ipv6_src, v, m);
        }
        Field::Ipv6Dst => {
            let (v, m) = ipv6_masked(value, key, s)?;
            put(&mut flow.ipv6_dst, &mut wc.ipv6_dst, v, m);
        }
        Field::Ipv6Label => {
            let (v, m) = int_masked::<u32>(value, key, s, 0x000f_ffff)?;
            put(&mut flow.ipv6_label, &mut wc.ipv6_label, v, m & 0x000f_ffff);
        }
        Field::NdTarget => {
            let (v, m) = ipv6_masked(value, key, s)?;
            put(&mut flow.nd_target, &mut wc.nd_target, v, m);
        }
        Field::TpSrc => {
            let (v, m) = int_masked::<u16>(value, key, s, u16::MAX)?;
            put(&mut flow.tp_src, &mut wc.tp_src, v, m);
        }
        Field::TpDst => {
            let (v, m) = int_masked::<u16>(value, key, s, u16::MAX)?;
            put(&mut flow.tp_dst, &mut wc.tp_dst, v, m);
        }
        Field::IcmpType => {
            // ICMP type and code are 8 bits, kept in the port fields.
            let (v, m) = int_masked::<u8>(value, key, s, u8::MAX)?;
            put(&mut flow.tp_src, &mut wc.tp_src, u16::from(v), u16::from(m));
        }
        Field::IcmpCode => {
            let (v, m) = int_masked::<u8>(value, key, s, u8::MAX)?;
            put(&mut flow.tp_dst, &mut wc.tp_dst, u16::from(v), u16::from(m));
        }
        Field::SkbPriority => {
            let (v, m) = int_masked::<u32>(value, key, s, u32::MAX)?;
            put(&mut flow.skb_priority, &mut wc.skb_priority, v, m);
        }
        Field::PktMark => {
            let (v, m) = int_masked::<u32>(value, key, s, u32::MAX)?;
            put(&mut flow.pkt_mark, &mut wc.pkt_mark, v, m);
        }
        Field::RecircId => {
            let (v, m) = int_masked::<u32>(value, key, s, u32::MAX)?;
            put(&mut flow.recirc_id, &mut wc.recirc_id, v, m);
        }
        Field::DpHash => {
            let (v, m) = int_masked::<u32>(value, key, s, u32::MAX)?;
            put(&mut flow.dp_hash, &mut wc.dp_hash, v, m);
        }
        Field::TunId => {
            let (v, m) = int_masked::<u64>(value, key, s, u64::MAX)?;
            put(&mut flow.tunnel.tun_id, &mut wc.tunnel.tun_id, v, m);
        }
        Field::TunSrc => {
            let (v, m) = ipv4_masked(value, key, s)?;
            put(&mut flow.tunnel.ip_src, &mut wc.tunnel.ip_src, v, m);
        }
        Field::TunDst => {
            let (v, m) = ipv4_masked(value, key, s)?;
            put(&mut flow.tunnel.ip_dst, &mut wc.tunnel.ip_dst, v, m);
        }
        Field::CtZone => {
            let (v, m) = int_masked::<u16>(value, key, s, u16::MAX)?;
            put(&mut flow.ct_zone, &mut wc.ct_zone, v, m);
        }
        Field::CtMark => {
            let (v, m) = int_masked::<u32>(value, key, s, u32::MAX)?;
            put(&mut flow.ct_mark, &mut wc.ct_mark, v, m);
        }
        Field::MplsLabel | Field::MplsTc | Field::MplsBos | Field::MplsTtl => {
            let (shift, width) = match field {
                Field::MplsLabel => (12, 20),
                Field::MplsTc => (9, 3),
                Field::MplsBos => (8, 1),
                _ => (0, 8),
            };
            let limit = (1u32 << width) - 1;
            let v: u32 = parse_int(value)
                .filter(|v| *v <= limit)
                .ok_or_else(|| bad(s, key, &format!("invalid value '{value}'")))?;
            put(
                &mut flow.mpls_lse[0],
                &mut wc.mpls_lse[0],
                v << shift,
                limit << shift,
            );
        }
    }
    Ok(())
}

/// Every field of a [`Flow`] as bytes, in a fixed order, so that two flows
/// and masks can be compared bit by bit.
pub(crate) fn flow_bytes(f: &Flow) -> Vec<u8> {
    let mut b = Vec::with_capacity(640);
    let t = &f.tunnel;
    b.extend(t.ip_dst.to_be_bytes());
    b.extend(t.ipv6_dst.to_be_bytes());
    b.extend(t.ip_src.to_be_bytes());
    b.extend(t.ipv6_src.to_be_bytes());
    b.extend(t.tun_id.to_be_bytes());
    b.extend(t.flags.to_be_bytes());
    b.extend([t.ip_tos, t.ip_ttl]);
    b.extend(t.tp_src.to_be_bytes());
    b.extend(t.tp_dst.to_be_bytes());
    b.extend(t.gbp_id.to_be_bytes());
    b.extend([t.gbp_flags, t.erspan_ver]);
    b.extend(t.erspan_idx.to_be_bytes());
    b.extend([t.erspan_dir, t.erspan_hwid, t.gtpu_flags, t.gtpu_msgtype]);
    b.push(t.metadata.len);
    b.extend(t.metadata.opts);
    b.extend(f.skb_priority.to_be_bytes());
    b.extend(f.pkt_mark.to_be_bytes());
    b.extend(f.dp_hash.to_be_bytes());
    b.extend(f.in_port.to_be_bytes());
    b.extend(f.recirc_id.to_be_bytes());
    b.extend([f.ct_state, f.ct_nw_proto]);
    b.extend(f.ct_zone.to_be_bytes());
    b.extend(f.ct_mark.to_be_bytes());
    b.extend(f.ct_label.to_be_bytes());
    b.extend(f.packet_type.to_be_bytes());
    b.extend(f.dl_dst);
    b.extend(f.dl_src);
    b.extend(f.dl_type.to_be_bytes());
    for v in &f.vlans {
        b.extend(v.tpid.to_be_bytes());
        b.extend(v.tci.to_be_bytes());
    }
    for l in &f.mpls_lse {
        b.extend(l.to_be_bytes());
    }
    b.extend(f.nw_src.to_be_bytes());
    b.extend(f.nw_dst.to_be_bytes());
    b.extend(f.ct_nw_src.to_be_bytes());
    b.extend(f.ct_nw_dst.to_be_bytes());
    b.extend(f.ipv6_src.to_be_bytes());
    b.extend(f.ipv6_dst.to_be_bytes());
    b.extend(f.ct_ipv6_src.to_be_bytes());
    b.extend(f.ct_ipv6_dst.to_be_bytes());
    b.extend(f.ipv6_label.to_be_bytes());
    b.extend([f.nw_frag, f.nw_tos, f.nw_ttl, f.nw_proto]);
    b.extend(f.nd_target.to_be_bytes());
    b.extend(f.arp_sha);
    b.extend(f.arp_tha);
    b.extend(f.tcp_flags.to_be_bytes());
    let n = &f.nsh;
    b.extend([n.flags, n.ttl, n.mdtype, n.np]);
    b.extend(n.path_hdr.to_be_bytes());
    for c in &n.context {
        b.extend(c.to_be_bytes());
    }
    b.extend(f.tp_src.to_be_bytes());
    b.extend(f.tp_dst.to_be_bytes());
    b.extend(f.ct_tp_src.to_be_bytes());
    b.extend(f.ct_tp_dst.to_be_bytes());
    b.extend(f.igmp_group_ip4.to_be_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{EthernetKey, Ipv4Key, PortsKey};

    fn eth() -> KeyAttr {
        KeyAttr::Ethernet(EthernetKey {
            src: [0, 1, 2, 3, 4, 5],
            dst: [0x10, 0x11, 0x12, 0x13, 0x14, 0x15],
        })
    }

    fn exact_eth() -> KeyAttr {
        KeyAttr::Ethernet(EthernetKey {
            src: [0xff; 6],
            dst: [0xff; 6],
        })
    }

    fn ipv4(proto: u8) -> KeyAttr {
        KeyAttr::Ipv4(Ipv4Key {
            src: Ipv4Addr::new(35, 8, 2, 41),
            dst: Ipv4Addr::new(172, 16, 0, 20),
            proto,
            tos: 0,
            ttl: 128,
            frag: 0,
        })
    }

    fn ipv4_mask(addr: u32, byte: u8) -> KeyAttr {
        KeyAttr::Ipv4(Ipv4Key {
            src: Ipv4Addr::from(addr),
            dst: Ipv4Addr::from(addr),
            proto: byte,
            tos: byte,
            ttl: byte,
            frag: 0xff,
        })
    }

    /// filter-base.in line 2: ipv4 with /255.255.255.0 and /0xf0 masks.
    fn masked_ipv4_line() -> (Vec<KeyAttr>, Vec<KeyAttr>) {
        let key = vec![
            KeyAttr::InPort(1),
            eth(),
            KeyAttr::Ethertype(0x0800),
            ipv4(5),
        ];
        let mask = vec![
            KeyAttr::InPort(u32::MAX),
            exact_eth(),
            KeyAttr::Ethertype(0xffff),
            ipv4_mask(0xffff_ff00, 0xf0),
        ];
        (key, mask)
    }

    /// filter-base.in line 3: tcp(src=80/0xff00,dst=8080/0xff).
    fn tcp_line() -> (Vec<KeyAttr>, Vec<KeyAttr>) {
        let key = vec![
            KeyAttr::InPort(1),
            eth(),
            KeyAttr::Ethertype(0x0800),
            ipv4(6),
            KeyAttr::Tcp(PortsKey { src: 80, dst: 8080 }),
        ];
        let mask = vec![
            KeyAttr::InPort(u32::MAX),
            exact_eth(),
            KeyAttr::Ethertype(0xffff),
            ipv4_mask(u32::MAX, 0xff),
            KeyAttr::Tcp(PortsKey {
                src: 0xff00,
                dst: 0xff,
            }),
        ];
        (key, mask)
    }

    #[test]
    fn parses_shorthands_and_fields() {
        let f = Filter::parse("tcp6,tp_src=90").unwrap();
        assert_eq!((f.flow().dl_type, f.wildcards().dl_type), (0x86dd, 0xffff));
        assert_eq!((f.flow().nw_proto, f.wildcards().nw_proto), (6, 0xff));
        assert_eq!((f.flow().tp_src, f.wildcards().tp_src), (90, 0xffff));

        let f = Filter::parse("dl_vlan=99").unwrap();
        assert_eq!(f.flow().vlans[0].tci, 0x1063);
        assert_eq!(f.wildcards().vlans[0].tci, 0x1fff);

        let f = Filter::parse("ip,nw_src=10.0.0.0/8,nw_dst=1.2.3.4/255.255.0.0").unwrap();
        assert_eq!(f.wildcards().nw_src, 0xff00_0000);
        assert_eq!(f.flow().nw_dst, 0x0102_0000);
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            Filter::parse("nw_src=1.2.3.4").unwrap_err().msg,
            "nw_src=1.2.3.4: prerequisites not met for setting nw_src"
        );
        assert_eq!(
            Filter::parse("ip,foo=1").unwrap_err().msg,
            "ip,foo=1: unknown field foo"
        );
        assert_eq!(
            Filter::parse("ip,tcp").unwrap_err().msg,
            "ip,tcp: Ethernet type set multiple times"
        );
        assert!(Filter::parse("dl_type=zz").is_err());
        assert!(Filter::parse("dl_vlan=5000").is_err());
    }

    #[test]
    fn masked_line_matches_within_its_mask() {
        let (key, mask) = masked_ipv4_line();
        // filter-04/05/06: 35.8.2.199 agrees with 35.8.2.41/24.
        for spec in [
            "ip,nw_src=35.8.2.199",
            "ip,nw_dst=172.16.0.199",
            "dl_type=0x0800,nw_src=35.8.2.199,nw_dst=172.16.0.199",
            "icmp,nw_src=35.8.2.199",
            "tcp,tp_src=90",
        ] {
            assert!(Filter::parse(spec).unwrap().matches(&key, &mask), "{spec}");
        }
        for spec in ["ip,nw_src=35.8.3.199", "ipv6", "arp", "dl_type=0x1235"] {
            assert!(!Filter::parse(spec).unwrap().matches(&key, &mask), "{spec}");
        }
    }

    #[test]
    fn masked_ports_match() {
        let (key, mask) = tcp_line();
        // filter-09: tp_src=90 agrees with src=80/0xff00.
        assert!(Filter::parse("tcp,tp_src=90").unwrap().matches(&key, &mask));
        // tp_src=300 does not (0x012c & 0xff00 != 0).
        assert!(!Filter::parse("tcp,tp_src=300")
            .unwrap()
            .matches(&key, &mask));
        // The exact source address differs.
        assert!(!Filter::parse("ip,nw_src=35.8.2.199")
            .unwrap()
            .matches(&key, &mask));
        assert!(!Filter::parse("tcp6,tp_src=90")
            .unwrap()
            .matches(&key, &mask));
    }

    #[test]
    fn masked_ethertype_matches() {
        // filter-01: dl_type=0x1235 agrees with eth_type(0x1234/0xfff0).
        let key = vec![KeyAttr::InPort(1), eth(), KeyAttr::Ethertype(0x1234)];
        let mask = vec![
            KeyAttr::InPort(u32::MAX),
            exact_eth(),
            KeyAttr::Ethertype(0xfff0),
        ];
        assert!(Filter::parse("dl_type=0x1235")
            .unwrap()
            .matches(&key, &mask));
        assert!(!Filter::parse("dl_type=0x1245")
            .unwrap()
            .matches(&key, &mask));
        assert!(!Filter::parse("ip").unwrap().matches(&key, &mask));
    }

    #[test]
    fn vlan_filter() {
        let line = |vid: u16| {
            let key = vec![
                KeyAttr::InPort(1),
                eth(),
                KeyAttr::Ethertype(0x8100),
                KeyAttr::Vlan(0xf000 | vid),
                KeyAttr::Encap(vec![KeyAttr::Ethertype(0x0800), ipv4(5)]),
            ];
            let mask = vec![
                KeyAttr::InPort(u32::MAX),
                exact_eth(),
                KeyAttr::Ethertype(0xffff),
                KeyAttr::Vlan(0xffff),
                KeyAttr::Encap(vec![KeyAttr::Ethertype(0xffff), ipv4_mask(u32::MAX, 0xff)]),
            ];
            (key, mask)
        };
        let f = Filter::parse("dl_vlan=99,ip").unwrap();
        let (k, m) = line(99);
        assert!(f.matches(&k, &m));
        let (k, m) = line(100);
        assert!(!f.matches(&k, &m));
    }
}
