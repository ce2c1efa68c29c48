//! Flow key attributes ↔ [`Flow`].
//!
//! [`flow_to_key`] and [`flow_to_mask`] build the canonical attribute list of
//! a flow (or of a megaflow mask), as OVS's `odp_flow_key_from_flow` and
//! `odp_flow_key_from_mask` do; what gets emitted depends on what the
//! datapath supports ([`KeyParms`]).
//!
//! [`key_to_flow`] and [`key_to_mask`] go the other way, and report how well
//! the attributes fit the canonical form ([`Fitness`]):
//!
//! - an attribute that the rest of the key calls for but that is absent
//!   (e.g. an MPLS stack whose innermost entry is not bottom-of-stack, or a
//!   VLAN tag without its `encap`) gives [`Fitness::TooLittle`];
//! - an attribute that nothing calls for, or one this code does not know,
//!   gives [`Fitness::TooMuch`];
//! - a malformed key is an error, whose message is OVS's, followed by
//!   `; the flow key in error is: ` and the key in text form.
//!
//! Conventions of [`Flow`] used here (the same as OVS's `struct flow`):
//! `in_port == ODPP_NONE` means "no input port"; `packet_type` 0 is Ethernet;
//! a VLAN header is present when its TCI has [`VLAN_CFI`]; `dl_type` below
//! 0x600 ([`FLOW_DL_TYPE_NONE`]) means "not Ethernet II"; for ARP, `nw_proto`
//! holds the opcode; for ICMP, `tp_src`/`tp_dst` hold type and code; for ND,
//! `arp_sha`/`arp_tha` hold the link-layer options, `igmp_group_ip4` the
//! reserved word and `tcp_flags` the option type. Geneve options are kept
//! raw in `tunnel.metadata` (with [`FLOW_TNL_F_UDPIF`] set, so that an empty
//! options attribute survives); a mask of them has `len == 0xff` ("match the
//! length exactly").

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::abi::*;
use crate::error::{Fitness, ParseError};
use crate::flow::*;
use crate::key::*;

/// The `in_port` value meaning "no input port" (OVS's `ODPP_NONE`).
pub const ODPP_NONE: u32 = u32::MAX;
/// `Flow::dl_type` of a frame that is not Ethernet II.
pub const FLOW_DL_TYPE_NONE: u16 = 0x5ff;
/// Smallest Ethertype of an Ethernet II frame.
pub const ETH_TYPE_MIN: u16 = 0x600;
/// `Flow::nw_frag` bits that a mask can cover.
pub const FLOW_NW_FRAG_MASK: u8 = FLOW_NW_FRAG_ANY | FLOW_NW_FRAG_LATER;
/// `FlowTnl::flags`: the Geneve options are kept raw, as the datapath gave
/// them (set when a key has a Geneve options attribute, even an empty one).
pub const FLOW_TNL_F_UDPIF: u16 = 1 << 4;
/// `Flow::packet_type` of an Ethernet frame.
pub const PT_ETH: u32 = 0;
/// Packet type namespace whose types are Ethertypes.
pub const OFPHTN_ETHERTYPE: u32 = 1;

const ETH_TYPE_IP: u16 = 0x0800;
const ETH_TYPE_ARP: u16 = 0x0806;
const ETH_TYPE_RARP: u16 = 0x8035;
const ETH_TYPE_VLAN: u16 = 0x8100;
const ETH_TYPE_VLAN_8021AD: u16 = 0x88a8;
const ETH_TYPE_IPV6: u16 = 0x86dd;
const ETH_TYPE_MPLS: u16 = 0x8847;
const ETH_TYPE_MPLS_MCAST: u16 = 0x8848;
const ETH_TYPE_NSH: u16 = 0x894f;

const IPPROTO_ICMP: u8 = 1;
const IPPROTO_IGMP: u8 = 2;
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_SCTP: u8 = 132;

const ND_NEIGHBOR_SOLICIT: u16 = 135;
const ND_NEIGHBOR_ADVERT: u16 = 136;

const MPLS_BOS: u32 = 0x100;
const NSH_M_TYPE1: u8 = 1;

/// What the datapath supports, which decides what [`flow_to_key`] and
/// [`flow_to_mask`] emit (OVS's `struct odp_support` plus `probe`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyParms {
    /// `recirc_id` and `dp_hash` are emitted.
    pub recirc: bool,
    /// `ct_state` is emitted.
    pub ct_state: bool,
    /// `ct_zone` is emitted.
    pub ct_zone: bool,
    /// `ct_mark` is emitted.
    pub ct_mark: bool,
    /// `ct_label` is emitted.
    pub ct_label: bool,
    /// The IPv4 original-direction conntrack tuple is emitted (when the flow
    /// has one).
    pub ct_orig_tuple: bool,
    /// The IPv6 original-direction conntrack tuple is emitted.
    pub ct_orig_tuple6: bool,
    /// How many VLAN headers are emitted (capped at
    /// [`FLOW_MAX_VLAN_HEADERS`]).
    pub max_vlan_headers: usize,
    /// How many MPLS label stack entries a mask may cover.
    pub max_mpls_depth: usize,
    /// ND extensions (`nd_ext`) are emitted.
    pub nd_ext: bool,
    /// Building a probe flow: emit every VLAN header the flow has, whatever
    /// `max_vlan_headers` says.
    pub probe: bool,
    /// An MPLS flow without label stack entries gets an empty `mpls`
    /// attribute, as OVS's `odp_flow_key_from_flow` emits it (and `ovstest
    /// test-odp parse-keys` prints it, as `mpls((bad key length 0)`). No
    /// decoder, OVS's included, reads such a key back; without this the
    /// attribute is left out.
    pub empty_mpls: bool,
}

impl KeyParms {
    /// Everything supported, as many VLAN headers and MPLS entries as a
    /// [`Flow`] holds, original-direction tuples included.
    pub fn all() -> Self {
        KeyParms {
            recirc: true,
            ct_state: true,
            ct_zone: true,
            ct_mark: true,
            ct_label: true,
            ct_orig_tuple: true,
            ct_orig_tuple6: true,
            max_vlan_headers: FLOW_MAX_VLAN_HEADERS,
            max_mpls_depth: FLOW_MAX_MPLS_LABELS,
            nd_ext: true,
            probe: false,
            empty_mpls: false,
        }
    }

    /// The settings of OVS's `test-odp parse-keys`: recirc, ct_state,
    /// ct_zone, ct_mark, ct_label, unlimited VLAN headers and nd_ext on, all
    /// else off; empty MPLS attributes as OVS emits them.
    pub fn test_odp() -> Self {
        KeyParms {
            recirc: true,
            ct_state: true,
            ct_zone: true,
            ct_mark: true,
            ct_label: true,
            max_vlan_headers: usize::MAX,
            nd_ext: true,
            empty_mpls: true,
            ..KeyParms::default()
        }
    }
}

fn eth_type_vlan(t: u16) -> bool {
    t == ETH_TYPE_VLAN || t == ETH_TYPE_VLAN_8021AD
}

fn eth_type_mpls(t: u16) -> bool {
    t == ETH_TYPE_MPLS || t == ETH_TYPE_MPLS_MCAST
}

/// OVS's `get_dl_type`: the Ethertype of an Ethernet packet, the type of
/// a packet whose packet type is an Ethertype, or `FLOW_DL_TYPE_NONE`.
fn get_dl_type(f: &Flow) -> u16 {
    if f.packet_type == PT_ETH {
        f.dl_type
    } else if f.packet_type >> 16 == OFPHTN_ETHERTYPE {
        f.packet_type as u16
    } else {
        0x05ff
    }
}

/// OVS's `is_ip_any`: IPv4 or IPv6 by [`get_dl_type`].
fn is_ip_any(f: &Flow) -> bool {
    matches!(get_dl_type(f), ETH_TYPE_IP | ETH_TYPE_IPV6)
}

fn is_nd(f: &Flow) -> bool {
    f.dl_type == ETH_TYPE_IPV6
        && f.nw_proto == IPPROTO_ICMPV6
        && f.tp_dst == 0
        && (f.tp_src == ND_NEIGHBOR_SOLICIT || f.tp_src == ND_NEIGHBOR_ADVERT)
}

fn tnl_is_set(t: &FlowTnl) -> bool {
    t.ip_dst != 0 || t.ipv6_dst != 0 || t.ip_src != 0 || t.ipv6_src != 0
}

/// Number of MPLS label stack entries in `flow` (up to the first with
/// bottom-of-stack set, or the nonzero ones if none has it).
pub fn count_mpls_labels(flow: &Flow) -> usize {
    if !eth_type_mpls(flow.dl_type) {
        return 0;
    }
    let mut nonzero = 0;
    for (i, lse) in flow.mpls_lse.iter().enumerate() {
        if lse & MPLS_BOS != 0 {
            return i + 1;
        }
        if *lse != 0 {
            nonzero += 1;
        }
    }
    nonzero
}

// ---------------------------------------------------------------------------
// Flow → attributes.

/// The canonical key attributes of `flow` (OVS's `odp_flow_key_from_flow`).
pub fn flow_to_key(flow: &Flow, parms: &KeyParms) -> Vec<KeyAttr> {
    encode(flow, None, parms)
}

/// The mask attributes of the megaflow (`flow`, `mask`), shaped as the key
/// of `flow` (OVS's `odp_flow_key_from_mask`).
pub fn flow_to_mask(mask: &Flow, flow: &Flow, parms: &KeyParms) -> Vec<KeyAttr> {
    encode(flow, Some(mask), parms)
}

fn ovs_to_odp_frag(nw_frag: u8, is_mask: bool) -> u8 {
    if is_mask {
        if nw_frag & FLOW_NW_FRAG_ANY != 0 {
            0xff
        } else {
            0
        }
    } else if nw_frag & FLOW_NW_FRAG_ANY == 0 {
        OVS_FRAG_TYPE_NONE
    } else if nw_frag & FLOW_NW_FRAG_LATER != 0 {
        OVS_FRAG_TYPE_LATER
    } else {
        OVS_FRAG_TYPE_FIRST
    }
}

/// Attribute lists being built, one per open `encap`.
struct Nest {
    levels: Vec<Vec<KeyAttr>>,
}

impl Nest {
    fn push(&mut self, a: KeyAttr) {
        if let Some(l) = self.levels.last_mut() {
            l.push(a);
        }
    }

    fn open(&mut self) {
        self.levels.push(Vec::new());
    }

    fn finish(mut self) -> Vec<KeyAttr> {
        while self.levels.len() > 1 {
            let inner = self.levels.pop().unwrap_or_default();
            self.push(KeyAttr::Encap(inner));
        }
        self.levels.pop().unwrap_or_default()
    }
}

fn encode(flow: &Flow, mask: Option<&Flow>, parms: &KeyParms) -> Vec<KeyAttr> {
    let is_mask = mask.is_some();
    let data = mask.unwrap_or(flow);
    let mut out = Nest {
        levels: vec![Vec::new()],
    };

    if parms.recirc {
        out.push(KeyAttr::RecircId(data.recirc_id));
        out.push(KeyAttr::DpHash(data.dp_hash));
    }
    out.push(KeyAttr::Priority(data.skb_priority));
    if is_mask || tnl_is_set(&flow.tunnel) {
        out.push(KeyAttr::Tunnel(tunnel_to_attrs(
            &data.tunnel,
            &flow.tunnel,
            is_mask,
        )));
    }
    if is_mask || flow.in_port != ODPP_NONE {
        out.push(KeyAttr::InPort(data.in_port));
    }
    out.push(KeyAttr::SkbMark(data.pkt_mark));
    if parms.ct_state {
        out.push(KeyAttr::CtState(u32::from(data.ct_state)));
    }
    if parms.ct_zone {
        out.push(KeyAttr::CtZone(data.ct_zone));
    }
    if parms.ct_mark {
        out.push(KeyAttr::CtMark(data.ct_mark));
    }
    if parms.ct_label {
        out.push(KeyAttr::CtLabels(data.ct_label.to_le_bytes()));
    }
    if flow.ct_nw_proto != 0 {
        if parms.ct_orig_tuple && flow.dl_type == ETH_TYPE_IP {
            out.push(KeyAttr::CtOrigTupleIpv4(CtTupleIpv4 {
                src: Ipv4Addr::from(data.ct_nw_src),
                dst: Ipv4Addr::from(data.ct_nw_dst),
                src_port: data.ct_tp_src,
                dst_port: data.ct_tp_dst,
                proto: data.ct_nw_proto,
            }));
        } else if parms.ct_orig_tuple6 && flow.dl_type == ETH_TYPE_IPV6 {
            out.push(KeyAttr::CtOrigTupleIpv6(CtTupleIpv6 {
                src: Ipv6Addr::from(data.ct_ipv6_src),
                dst: Ipv6Addr::from(data.ct_ipv6_dst),
                src_port: data.ct_tp_src,
                dst_port: data.ct_tp_dst,
                proto: data.ct_nw_proto,
            }));
        }
    }
    out.push(KeyAttr::PacketType(data.packet_type));

    let max_vlans = if parms.probe {
        FLOW_MAX_VLAN_HEADERS
    } else {
        parms.max_vlan_headers.min(FLOW_MAX_VLAN_HEADERS)
    };

    if flow.packet_type == PT_ETH {
        out.push(KeyAttr::Ethernet(EthernetKey {
            src: data.dl_src,
            dst: data.dl_dst,
        }));
        for i in 0..max_vlans {
            let mut tpid = flow.vlans[i].tpid;
            let truncated = flow.vlans[i].tci == 0;
            if truncated {
                if eth_type_vlan(flow.dl_type) {
                    // A truncated tag: its TPID is all there is, in dl_type.
                    tpid = flow.dl_type;
                } else {
                    break;
                }
            }
            out.push(KeyAttr::Ethertype(if is_mask { 0xffff } else { tpid }));
            out.push(KeyAttr::Vlan(data.vlans[i].tci));
            out.open();
            if truncated {
                return out.finish();
            }
        }
    }

    if flow.dl_type < ETH_TYPE_MIN {
        // A key leaves the Ethertype out for non-Ethernet II frames; its mask
        // says "exactly not Ethernet II".
        if is_mask {
            out.push(KeyAttr::Ethertype(0xffff));
        }
        return out.finish();
    }
    out.push(KeyAttr::Ethertype(data.dl_type));
    if eth_type_vlan(flow.dl_type) {
        return out.finish();
    }

    match flow.dl_type {
        ETH_TYPE_IP => out.push(KeyAttr::Ipv4(Ipv4Key {
            src: Ipv4Addr::from(data.nw_src),
            dst: Ipv4Addr::from(data.nw_dst),
            proto: data.nw_proto,
            tos: data.nw_tos,
            ttl: data.nw_ttl,
            frag: ovs_to_odp_frag(data.nw_frag, is_mask),
        })),
        ETH_TYPE_IPV6 => out.push(KeyAttr::Ipv6(Ipv6Key {
            src: Ipv6Addr::from(data.ipv6_src),
            dst: Ipv6Addr::from(data.ipv6_dst),
            label: data.ipv6_label,
            proto: data.nw_proto,
            tclass: data.nw_tos,
            hlimit: data.nw_ttl,
            frag: ovs_to_odp_frag(data.nw_frag, is_mask),
        })),
        ETH_TYPE_ARP | ETH_TYPE_RARP => out.push(KeyAttr::Arp(ArpKey {
            sip: Ipv4Addr::from(data.nw_src),
            tip: Ipv4Addr::from(data.nw_dst),
            // OVS's get_arp_key: a full byte (a mask's, or opcode 255)
            // stands for all 16 bits.
            op: if data.nw_proto == u8::MAX {
                u16::MAX
            } else {
                u16::from(data.nw_proto)
            },
            sha: data.arp_sha,
            tha: data.arp_tha,
        })),
        t if eth_type_mpls(t) => {
            let mut n = count_mpls_labels(flow);
            if is_mask {
                n = n.min(parms.max_mpls_depth);
            }
            // OVS emits an empty MPLS attribute for a stack of zero labels,
            // which no decoder (OVS's included) accepts back; unless asked
            // to, we leave it out, so that every key we emit decodes.
            if n > 0 || parms.empty_mpls {
                out.push(KeyAttr::Mpls(
                    data.mpls_lse[..n].iter().map(|&l| MplsLse(l)).collect(),
                ));
            }
        }
        ETH_TYPE_NSH => out.push(KeyAttr::Nsh(nsh_to_attrs(&data.nsh, is_mask))),
        _ => {}
    }

    if is_ip_any(flow) && flow.nw_frag & FLOW_NW_FRAG_LATER == 0 {
        let ports = PortsKey {
            src: data.tp_src,
            dst: data.tp_dst,
        };
        let icmp = IcmpKey {
            ty: data.tp_src as u8,
            code: data.tp_dst as u8,
        };
        match flow.nw_proto {
            IPPROTO_TCP => {
                out.push(KeyAttr::Tcp(ports));
                if data.tcp_flags != 0 || mask.is_some_and(|m| m.tcp_flags != 0) {
                    out.push(KeyAttr::TcpFlags(data.tcp_flags));
                }
            }
            IPPROTO_UDP => out.push(KeyAttr::Udp(ports)),
            IPPROTO_SCTP => out.push(KeyAttr::Sctp(ports)),
            IPPROTO_ICMP if flow.dl_type == ETH_TYPE_IP => out.push(KeyAttr::Icmp(icmp)),
            IPPROTO_ICMPV6 if flow.dl_type == ETH_TYPE_IPV6 => {
                out.push(KeyAttr::Icmpv6(icmp));
                // In a mask, ICMP type and code are exact at 0xff (8 bits).
                if is_nd(flow) && (!is_mask || (data.tp_src == 0xff && data.tp_dst == 0xff)) {
                    out.push(KeyAttr::Nd(NdKey {
                        target: Ipv6Addr::from(data.nd_target),
                        sll: data.arp_sha,
                        tll: data.arp_tha,
                    }));
                    if parms.nd_ext && (data.igmp_group_ip4 != 0 || data.tcp_flags != 0) {
                        out.push(KeyAttr::NdExtensions(NdExtKey {
                            reserved: data.igmp_group_ip4,
                            options_type: data.tcp_flags as u8,
                        }));
                    }
                }
            }
            _ => {}
        }
    }
    out.finish()
}

fn nsh_to_attrs(nsh: &FlowNsh, is_mask: bool) -> Vec<NshAttr> {
    let mut v = vec![NshAttr::Base(NshBase {
        flags: nsh.flags,
        ttl: nsh.ttl,
        mdtype: nsh.mdtype,
        np: nsh.np,
        path_hdr: nsh.path_hdr,
    })];
    if is_mask || nsh.mdtype == NSH_M_TYPE1 {
        v.push(NshAttr::Md1(nsh.context));
    }
    v
}

/// Packs ERSPAN v1/v2 fields into `struct erspan_metadata`'s union bytes.
fn erspan_to_attr(t: &FlowTnl) -> ErspanMetadata {
    let mut u = [0u8; 8];
    if t.erspan_ver == 1 {
        u[..4].copy_from_slice(&t.erspan_idx.to_be_bytes());
    } else {
        // struct erspan_md2: be32 timestamp, be16 sgt, then two bytes of bit
        // fields (x86 layout): hwid_upper:2 (low bits of byte 6), and in
        // byte 7 o:1, gra:2, dir:1, hwid:4 from the low bit up.
        u[6] = (t.erspan_hwid >> 4) & 0x3;
        u[7] = ((t.erspan_dir & 1) << 3) | ((t.erspan_hwid & 0xf) << 4);
    }
    ErspanMetadata {
        version: u32::from(t.erspan_ver),
        u,
    }
}

fn erspan_from_attr(m: &ErspanMetadata, t: &mut FlowTnl) {
    t.erspan_ver = m.version as u8;
    if t.erspan_ver == 1 {
        t.erspan_idx = u32::from_be_bytes([m.u[0], m.u[1], m.u[2], m.u[3]]);
    } else if t.erspan_ver == 2 {
        t.erspan_dir = (m.u[7] >> 3) & 1;
        t.erspan_hwid = ((m.u[6] & 0x3) << 4) | (m.u[7] >> 4);
    }
}

/// The tunnel attributes of `tun` (a key, or a mask whose key is `key`).
fn tunnel_to_attrs(tun: &FlowTnl, key: &FlowTnl, is_mask: bool) -> Vec<TunnelAttr> {
    let mut v = Vec::new();
    // A mask may have a nonzero tun_id without the KEY flag.
    if tun.tun_id != 0 || tun.flags & FLOW_TNL_F_KEY != 0 {
        v.push(TunnelAttr::Id(tun.tun_id));
    }
    if tun.ip_src != 0 {
        v.push(TunnelAttr::Ipv4Src(Ipv4Addr::from(tun.ip_src)));
    }
    if tun.ip_dst != 0 {
        v.push(TunnelAttr::Ipv4Dst(Ipv4Addr::from(tun.ip_dst)));
    }
    if tun.ipv6_src != 0 {
        v.push(TunnelAttr::Ipv6Src(Ipv6Addr::from(tun.ipv6_src)));
    }
    if tun.ipv6_dst != 0 {
        v.push(TunnelAttr::Ipv6Dst(Ipv6Addr::from(tun.ipv6_dst)));
    }
    if tun.ip_tos != 0 {
        v.push(TunnelAttr::Tos(tun.ip_tos));
    }
    v.push(TunnelAttr::Ttl(tun.ip_ttl));
    if tun.flags & FLOW_TNL_F_DONT_FRAGMENT != 0 {
        v.push(TunnelAttr::DontFragment);
    }
    if tun.flags & FLOW_TNL_F_CSUM != 0 {
        v.push(TunnelAttr::Csum);
    }
    if tun.tp_src != 0 {
        v.push(TunnelAttr::TpSrc(tun.tp_src));
    }
    if tun.tp_dst != 0 {
        v.push(TunnelAttr::TpDst(tun.tp_dst));
    }
    if tun.flags & FLOW_TNL_F_OAM != 0 {
        v.push(TunnelAttr::Oam);
    }
    if tun.gbp_flags != 0 || tun.gbp_id != 0 {
        v.push(TunnelAttr::VxlanOpts(Some(
            (u32::from(tun.gbp_flags) << 16) | u32::from(tun.gbp_id),
        )));
    }
    // Geneve options, kept raw: the key's length decides how many bytes (of
    // the key or of the mask) are sent.
    let len = usize::from(key.metadata.len).min(key.metadata.opts.len());
    if len > 0 || key.flags & FLOW_TNL_F_UDPIF != 0 {
        let src = if is_mask {
            &tun.metadata
        } else {
            &key.metadata
        };
        v.push(TunnelAttr::GeneveOpts(src.opts[..len].to_vec()));
    }
    if tun.erspan_ver == 1 || tun.erspan_ver == 2 {
        v.push(TunnelAttr::ErspanOpts(erspan_to_attr(tun)));
    }
    if tun.gtpu_flags != 0 && tun.gtpu_msgtype != 0 {
        v.push(TunnelAttr::GtpuOpts {
            flags: tun.gtpu_flags,
            msgtype: tun.gtpu_msgtype,
        });
    }
    v
}

// ---------------------------------------------------------------------------
// Attributes → flow.

/// Decodes a flow key into a [`Flow`] (OVS's `odp_flow_key_to_flow`).
///
/// Returns the flow and how well the key fits ([`Fitness::Perfect`],
/// [`Fitness::TooMuch`] or [`Fitness::TooLittle`]; never
/// [`Fitness::Error`]), or an error with OVS's message.
pub fn key_to_flow(key: &[KeyAttr]) -> Result<(Flow, Fitness), ParseError> {
    let mut d = Decoder {
        src: None,
        flow: Flow::default(),
    };
    match d.run(key) {
        Ok(fit) => Ok((d.flow, fit)),
        Err(msg) => {
            let mut s = msg;
            s.push_str("; the flow key in error is: ");
            format_attrs(key, &mut s);
            Err(ParseError::new(s))
        }
    }
}

/// Decodes a flow mask into a mask [`Flow`], given the flow its key decoded
/// to (OVS's `odp_flow_key_to_mask`). An empty mask means an exact match on
/// every field the flow's packet has.
pub fn key_to_mask(mask: &[KeyAttr], flow: &Flow) -> Result<(Flow, Fitness), ParseError> {
    if mask.is_empty() {
        return Ok((exact_mask_for_packet(flow), Fitness::Perfect));
    }
    let mut d = Decoder {
        src: Some(flow),
        flow: Flow::default(),
    };
    match d.run(mask) {
        Ok(fit) => Ok((d.flow, fit)),
        Err(msg) => {
            let mut s = msg;
            s.push_str("; the flow mask in error is: ");
            format_attrs(mask, &mut s);
            s.push_str(", for the following flow key: ");
            format_attrs(&flow_to_key(flow, &KeyParms::all()), &mut s);
            Err(ParseError::new(s))
        }
    }
}

/// What OVS's `odp_flow_key_to_flow` leaves in the flow, whether or not
/// decoding succeeds: it fills the flow field by field and stops at the
/// first error. `ovs-dpctl dump-flows filter=...` and `ovstest test-odp
/// parse-filter` match filters against that flow, ignoring the error.
pub fn key_to_flow_lossy(key: &[KeyAttr]) -> Flow {
    let mut d = Decoder {
        src: None,
        flow: Flow::default(),
    };
    let _ = d.run(key);
    d.flow
}

/// What OVS's `odp_flow_key_to_mask` leaves in the mask, whether or not
/// decoding succeeds (see [`key_to_flow_lossy`]).
pub fn key_to_mask_lossy(mask: &[KeyAttr], flow: &Flow) -> Flow {
    if mask.is_empty() {
        return exact_mask_for_packet(flow);
    }
    let mut d = Decoder {
        src: Some(flow),
        flow: Flow::default(),
    };
    let _ = d.run(mask);
    d.flow
}

/// Formats attributes for an error message.
fn format_attrs(key: &[KeyAttr], out: &mut String) {
    crate::text::key::format_key(key, out);
}

use crate::text::key::attr_name;

/// The flow's `nw_frag` bits for an IPv4/IPv6 attribute's `frag`, with
/// OVS's error for values outside the fragment bits.
fn checked_frag(frag: u8, is_mask: bool, attr: &str) -> Result<u8, String> {
    let f = odp_to_ovs_frag(frag, is_mask);
    if f > FLOW_NW_FRAG_MASK {
        return Err(format!(
            "{attr} has invalid nw_frag {}",
            alt_hex(u32::from(f))
        ));
    }
    Ok(f)
}

/// C's `%#x`: `0` for zero, `0x…` otherwise.
fn alt_hex(v: u32) -> String {
    if v == 0 {
        "0".to_string()
    } else {
        format!("{v:#x}")
    }
}

fn bit(ty: u16) -> u64 {
    1u64 << ty
}

/// The attributes of one list (the outer key, or one `encap`), by type.
struct Attrs<'a> {
    slot: [Option<&'a KeyAttr>; 64],
    present: u64,
    /// An attribute type above `OVS_KEY_ATTR_MAX` that was seen, or 0.
    out_of_range: u16,
}

impl<'a> Attrs<'a> {
    fn collect(list: &'a [KeyAttr]) -> Result<Self, String> {
        let mut a = Attrs {
            slot: [None; 64],
            present: 0,
            out_of_range: 0,
        };
        for attr in list {
            let ty = attr.ty();
            if ty > OVS_KEY_ATTR_MAX {
                a.out_of_range = ty;
                continue;
            }
            if a.present & bit(ty) != 0 {
                return Err(format!("duplicate {} attribute in flow key", attr_name(ty)));
            }
            if let KeyAttr::Unknown { payload, .. } = attr {
                if let Some(want) = crate::nl::key::fixed_len(crate::nl::key::Level::Key, ty) {
                    if payload.len() != want {
                        return Err(format!(
                            "attribute {} has length {} but should have length {}",
                            attr_name(ty),
                            payload.len(),
                            want
                        ));
                    }
                }
            }
            a.present |= bit(ty);
            a.slot[usize::from(ty)] = Some(attr);
        }
        Ok(a)
    }

    fn has(&self, ty: u16) -> bool {
        self.present & bit(ty) != 0
    }

    fn get(&self, ty: u16) -> Option<&'a KeyAttr> {
        self.slot.get(usize::from(ty)).copied().flatten()
    }
}

/// Decodes a key (`src == None`) or a mask (`src` is the key's flow).
struct Decoder<'s> {
    src: Option<&'s Flow>,
    flow: Flow,
}

/// A decoding step: its result, or OVS's error message.
type Step<T> = Result<T, String>;

fn check_expectations(a: &Attrs<'_>, expected: u64) -> Fitness {
    if expected & !a.present != 0 {
        Fitness::TooLittle
    } else if a.present & !expected != 0 || a.out_of_range != 0 {
        Fitness::TooMuch
    } else {
        Fitness::Perfect
    }
}

impl Decoder<'_> {
    fn is_mask(&self) -> bool {
        self.src.is_some()
    }

    /// The key's flow: the given one for a mask, the one being built for a
    /// key.
    fn src(&self) -> &Flow {
        self.src.unwrap_or(&self.flow)
    }

    fn run(&mut self, key: &[KeyAttr]) -> Result<Fitness, String> {
        self.run_inner(key)
    }

    fn run_inner(&mut self, key: &[KeyAttr]) -> Step<Fitness> {
        let is_mask = self.is_mask();
        let mut a = Attrs::collect(key)?;
        let mut expected = 0u64;

        // Metadata.
        match a.get(OVS_KEY_ATTR_RECIRC_ID) {
            Some(KeyAttr::RecircId(v)) => {
                self.flow.recirc_id = *v;
                expected |= bit(OVS_KEY_ATTR_RECIRC_ID);
            }
            // A mask without recirc_id matches it exactly.
            _ if is_mask => self.flow.recirc_id = u32::MAX,
            _ => {}
        }
        if let Some(KeyAttr::DpHash(v)) = a.get(OVS_KEY_ATTR_DP_HASH) {
            self.flow.dp_hash = *v;
            expected |= bit(OVS_KEY_ATTR_DP_HASH);
        }
        if let Some(KeyAttr::Priority(v)) = a.get(OVS_KEY_ATTR_PRIORITY) {
            self.flow.skb_priority = *v;
            expected |= bit(OVS_KEY_ATTR_PRIORITY);
        }
        if let Some(KeyAttr::SkbMark(v)) = a.get(OVS_KEY_ATTR_SKB_MARK) {
            self.flow.pkt_mark = *v;
            expected |= bit(OVS_KEY_ATTR_SKB_MARK);
        }
        if let Some(KeyAttr::CtState(v)) = a.get(OVS_KEY_ATTR_CT_STATE) {
            // The OVS_CS_F_* bits and struct flow's CS_* bits coincide; bits
            // beyond the eight known ones are dropped.
            self.flow.ct_state = (*v & 0xff) as u8;
            expected |= bit(OVS_KEY_ATTR_CT_STATE);
        }
        if let Some(KeyAttr::CtZone(v)) = a.get(OVS_KEY_ATTR_CT_ZONE) {
            self.flow.ct_zone = *v;
            expected |= bit(OVS_KEY_ATTR_CT_ZONE);
        }
        if let Some(KeyAttr::CtMark(v)) = a.get(OVS_KEY_ATTR_CT_MARK) {
            self.flow.ct_mark = *v;
            expected |= bit(OVS_KEY_ATTR_CT_MARK);
        }
        if let Some(KeyAttr::CtLabels(v)) = a.get(OVS_KEY_ATTR_CT_LABELS) {
            self.flow.ct_label = u128::from_le_bytes(*v);
            expected |= bit(OVS_KEY_ATTR_CT_LABELS);
        }
        if let Some(KeyAttr::CtOrigTupleIpv4(t)) = a.get(OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4) {
            self.flow.ct_nw_src = u32::from(t.src);
            self.flow.ct_nw_dst = u32::from(t.dst);
            self.flow.ct_nw_proto = t.proto;
            self.flow.ct_tp_src = t.src_port;
            self.flow.ct_tp_dst = t.dst_port;
            expected |= bit(OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4);
        }
        if let Some(KeyAttr::CtOrigTupleIpv6(t)) = a.get(OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6) {
            self.flow.ct_ipv6_src = u128::from(t.src);
            self.flow.ct_ipv6_dst = u128::from(t.dst);
            self.flow.ct_nw_proto = t.proto;
            self.flow.ct_tp_src = t.src_port;
            self.flow.ct_tp_dst = t.dst_port;
            expected |= bit(OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6);
        }
        if let Some(KeyAttr::Tunnel(t)) = a.get(OVS_KEY_ATTR_TUNNEL) {
            let fit = tunnel_from_attrs(t, is_mask, &mut self.flow.tunnel)?;
            if fit == Fitness::Perfect {
                expected |= bit(OVS_KEY_ATTR_TUNNEL);
            }
        }
        match a.get(OVS_KEY_ATTR_IN_PORT) {
            Some(KeyAttr::InPort(v)) => {
                self.flow.in_port = *v;
                expected |= bit(OVS_KEY_ATTR_IN_PORT);
            }
            _ if !is_mask => self.flow.in_port = ODPP_NONE,
            _ => {}
        }
        match a.get(OVS_KEY_ATTR_PACKET_TYPE) {
            Some(KeyAttr::PacketType(v)) => {
                self.flow.packet_type = *v;
                expected |= bit(OVS_KEY_ATTR_PACKET_TYPE);
                if self.src().packet_type >> 16 == OFPHTN_ETHERTYPE {
                    self.flow.dl_type = *v as u16;
                }
            }
            _ if !is_mask => self.flow.packet_type = PT_ETH,
            _ => {}
        }

        // Ethernet header, or a bare Ethertype for a layer-3 packet.
        if let Some(KeyAttr::Ethernet(e)) = a.get(OVS_KEY_ATTR_ETHERNET) {
            self.flow.dl_src = e.src;
            self.flow.dl_dst = e.dst;
            if !is_mask {
                self.flow.packet_type = PT_ETH;
            }
            expected |= bit(OVS_KEY_ATTR_ETHERNET);
        } else if let Some(KeyAttr::Ethertype(t)) = a.get(OVS_KEY_ATTR_ETHERTYPE) {
            if !is_mask {
                self.flow.packet_type = (OFPHTN_ETHERTYPE << 16) | u32::from(*t);
            }
            expected |= bit(OVS_KEY_ATTR_ETHERTYPE);
        }

        self.parse_ethertype(&a, &mut expected)?;

        let vlan = if is_mask {
            self.src().vlans[0].tci & VLAN_CFI != 0
        } else {
            eth_type_vlan(self.flow.dl_type)
        };
        if vlan {
            self.parse_8021q_onward(&mut a, expected)
        } else {
            if is_mask {
                // No VLAN mask: match "no VLAN" exactly.
                self.flow.vlans[0].tpid = 0xffff;
                self.flow.vlans[0].tci = 0xffff;
                if let Some(KeyAttr::Vlan(v)) = a.get(OVS_KEY_ATTR_VLAN) {
                    self.flow.vlans[0].tci = *v;
                    expected |= bit(OVS_KEY_ATTR_VLAN);
                }
            }
            self.parse_l2_5_onward(&a, &mut expected, true)
        }
    }

    /// Sets `dl_type` from the Ethertype attribute, or a default.
    fn parse_ethertype(&mut self, a: &Attrs<'_>, expected: &mut u64) -> Step<()> {
        let is_mask = self.is_mask();
        if let Some(KeyAttr::Ethertype(t)) = a.get(OVS_KEY_ATTR_ETHERTYPE) {
            self.flow.dl_type = *t;
            if !is_mask && *t < ETH_TYPE_MIN {
                return Err(format!("invalid Ethertype {t} in flow key"));
            }
            let src_type = self.src().dl_type;
            if is_mask && src_type < ETH_TYPE_MIN && *t != 0xffff {
                return Err(format!(
                    "can't bitwise match non-Ethernet II \"Ethertype\" {} (with mask {})",
                    alt_hex(u32::from(src_type)),
                    alt_hex(u32::from(*t))
                ));
            }
            *expected |= bit(OVS_KEY_ATTR_ETHERTYPE);
        } else if !is_mask {
            self.flow.dl_type = if a.has(OVS_KEY_ATTR_IPV4) {
                ETH_TYPE_IP
            } else if a.has(OVS_KEY_ATTR_IPV6) {
                ETH_TYPE_IPV6
            } else if a.has(OVS_KEY_ATTR_MPLS) {
                ETH_TYPE_MPLS
            } else {
                FLOW_DL_TYPE_NONE
            };
        } else if self.src().packet_type != PT_ETH {
            // The Ethertype is the packet type of a layer-3 packet: exact.
            self.flow.dl_type = 0xffff;
        } else if self.src().dl_type < ETH_TYPE_MIN {
            return Err("mask expected for non-Ethernet II frame".to_string());
        }
        Ok(())
    }

    /// VLAN tags, each with its `encap`, then what the innermost holds.
    fn parse_8021q_onward(&mut self, a: &mut Attrs<'_>, mut expected: u64) -> Step<Fitness> {
        let is_mask = self.is_mask();
        let mut i = 0;
        while i < FLOW_MAX_VLAN_HEADERS
            && if is_mask {
                self.src().vlans[i].tci & VLAN_CFI != 0
            } else {
                eth_type_vlan(self.flow.dl_type)
            }
        {
            let encap = match a.get(OVS_KEY_ATTR_ENCAP) {
                Some(KeyAttr::Encap(inner)) => Some(inner),
                _ => None,
            };
            if !is_mask {
                expected |= bit(OVS_KEY_ATTR_VLAN) | bit(OVS_KEY_ATTR_ENCAP);
            } else {
                expected |= a.present & (bit(OVS_KEY_ATTR_VLAN) | bit(OVS_KEY_ATTR_ENCAP));
            }
            let fitness = check_expectations(a, expected);

            // The Ethertype seen so far was the tag's TPID.
            self.flow.vlans[i].tpid = self.flow.dl_type;
            self.flow.dl_type = 0;
            self.flow.vlans[i].tci = match a.get(OVS_KEY_ATTR_VLAN) {
                Some(KeyAttr::Vlan(t)) => *t,
                _ => 0,
            };
            let tci = self.flow.vlans[i].tci;
            if !is_mask {
                if !a.has(OVS_KEY_ATTR_VLAN) || encap.is_none() {
                    return Ok(Fitness::TooLittle);
                } else if tci == 0 {
                    // A truncated 802.1Q header: nothing may follow it.
                    if fitness == Fitness::Perfect && encap.is_some_and(|e| !e.is_empty()) {
                        return Ok(Fitness::TooMuch);
                    }
                    return Ok(fitness);
                } else if tci & VLAN_CFI == 0 {
                    return Err(format!(
                        "OVS_KEY_ATTR_VLAN 0x{tci:04x} is nonzero but CFI bit is not set"
                    ));
                }
            }
            let Some(inner) = encap else {
                return Ok(fitness);
            };

            *a = Attrs::collect(inner)?;
            expected = 0;
            self.parse_ethertype(a, &mut expected)?;
            let fit = self.parse_l2_5_onward(a, &mut expected, false)?;
            if fit != Fitness::Perfect {
                return Ok(fit);
            }
            i += 1;
        }
        Ok(check_expectations(a, expected))
    }

    /// MPLS, layer 3 and layer 4.
    fn parse_l2_5_onward(
        &mut self,
        a: &Attrs<'_>,
        expected: &mut u64,
        need_check: bool,
    ) -> Step<Fitness> {
        let is_mask = self.is_mask();
        let src_dl_type = self.src().dl_type;
        // The L3 attribute of a mask, if any, and whether it is all zeros.
        let mut l3_mask: Option<(u16, bool)> = None;

        if eth_type_mpls(src_dl_type) {
            if !is_mask || a.has(OVS_KEY_ATTR_MPLS) {
                *expected |= bit(OVS_KEY_ATTR_MPLS);
            }
            if let Some(KeyAttr::Unknown { payload, .. }) = a.get(OVS_KEY_ATTR_MPLS) {
                return Err(format!("MPLS LSEs have invalid length {}", payload.len()));
            }
            if let Some(KeyAttr::Mpls(lses)) = a.get(OVS_KEY_ATTR_MPLS) {
                let n = lses.len();
                if n == 0 {
                    return Err("MPLS LSEs have invalid length 0".to_string());
                }
                for (slot, lse) in self.flow.mpls_lse.iter_mut().zip(lses) {
                    *slot = lse.0;
                }
                if n > FLOW_MAX_MPLS_LABELS {
                    return Ok(Fitness::TooMuch);
                }
                if !is_mask {
                    if lses[..n - 1].iter().any(|l| l.bos()) {
                        return Err("MPLS BOS set in non-innermost label".to_string());
                    }
                    if n < FLOW_MAX_MPLS_LABELS && !lses[n - 1].bos() {
                        return Ok(Fitness::TooLittle);
                    }
                }
            }
            return Ok(self.done(a, *expected, need_check));
        } else if src_dl_type == ETH_TYPE_IP {
            if !is_mask {
                *expected |= bit(OVS_KEY_ATTR_IPV4);
            }
            if let Some(KeyAttr::Ipv4(k)) = a.get(OVS_KEY_ATTR_IPV4) {
                let f = &mut self.flow;
                f.nw_src = u32::from(k.src);
                f.nw_dst = u32::from(k.dst);
                f.nw_proto = k.proto;
                f.nw_tos = k.tos;
                f.nw_ttl = k.ttl;
                f.nw_frag = checked_frag(k.frag, is_mask, "OVS_KEY_ATTR_IPV4")?;
                l3_mask = Some((OVS_KEY_ATTR_IPV4, *k == Ipv4Key::default()));
            }
        } else if src_dl_type == ETH_TYPE_IPV6 {
            if !is_mask {
                *expected |= bit(OVS_KEY_ATTR_IPV6);
            }
            if let Some(KeyAttr::Ipv6(k)) = a.get(OVS_KEY_ATTR_IPV6) {
                let f = &mut self.flow;
                f.ipv6_src = u128::from(k.src);
                f.ipv6_dst = u128::from(k.dst);
                f.ipv6_label = k.label;
                f.nw_proto = k.proto;
                f.nw_tos = k.tclass;
                f.nw_ttl = k.hlimit;
                f.nw_frag = checked_frag(k.frag, is_mask, "OVS_KEY_ATTR_IPV6")?;
                l3_mask = Some((OVS_KEY_ATTR_IPV6, *k == Ipv6Key::default()));
            }
        } else if src_dl_type == ETH_TYPE_ARP || src_dl_type == ETH_TYPE_RARP {
            if !is_mask {
                *expected |= bit(OVS_KEY_ATTR_ARP);
            }
            if let Some(KeyAttr::Arp(k)) = a.get(OVS_KEY_ATTR_ARP) {
                if !is_mask && k.op & 0xff00 != 0 {
                    return Err(format!("unsupported ARP opcode {} in flow key", k.op));
                }
                let f = &mut self.flow;
                f.nw_src = u32::from(k.sip);
                f.nw_dst = u32::from(k.tip);
                f.nw_proto = k.op as u8;
                f.arp_sha = k.sha;
                f.arp_tha = k.tha;
                l3_mask = Some((OVS_KEY_ATTR_ARP, *k == ArpKey::default()));
            }
        } else if src_dl_type == ETH_TYPE_NSH {
            if !is_mask {
                *expected |= bit(OVS_KEY_ATTR_NSH);
            }
            if let Some(KeyAttr::Nsh(list)) = a.get(OVS_KEY_ATTR_NSH) {
                nsh_from_attrs(list, is_mask, &mut self.flow.nsh)?;
                l3_mask = Some((OVS_KEY_ATTR_NSH, list.is_empty()));
            }
        } else {
            return Ok(self.done(a, *expected, need_check));
        }

        if let Some((ty, all_zero)) = l3_mask.filter(|_| is_mask) {
            if !all_zero && self.flow.dl_type != 0xffff {
                return Err(format!(
                    "unexpected L3 matching with masked Ethertype {}/{}",
                    alt_hex(u32::from(src_dl_type)),
                    alt_hex(u32::from(self.flow.dl_type))
                ));
            }
            *expected |= bit(ty);
        }

        // Layer 4.
        let src = *self.src();
        let l4_ok = src.nw_frag & FLOW_NW_FRAG_LATER == 0;
        // OVS's decoder tests the Ethertype itself here, not the packet
        // type.
        let ip_any = src.dl_type == ETH_TYPE_IP || src.dl_type == ETH_TYPE_IPV6;
        let mut l4_bit = None;
        let ports_ty = match src.nw_proto {
            IPPROTO_TCP => Some(OVS_KEY_ATTR_TCP),
            IPPROTO_UDP => Some(OVS_KEY_ATTR_UDP),
            IPPROTO_SCTP => Some(OVS_KEY_ATTR_SCTP),
            _ => None,
        };
        if let Some(ty) = ports_ty.filter(|_| ip_any && l4_ok) {
            if !is_mask {
                *expected |= bit(ty);
            }
            if let Some(KeyAttr::Tcp(p) | KeyAttr::Udp(p) | KeyAttr::Sctp(p)) = a.get(ty) {
                self.flow.tp_src = p.src;
                self.flow.tp_dst = p.dst;
                l4_bit = Some(ty);
            }
            if ty == OVS_KEY_ATTR_TCP {
                if let Some(KeyAttr::TcpFlags(fl)) = a.get(OVS_KEY_ATTR_TCP_FLAGS) {
                    *expected |= bit(OVS_KEY_ATTR_TCP_FLAGS);
                    self.flow.tcp_flags = *fl;
                }
            }
        } else if src.nw_proto == IPPROTO_ICMP && src.dl_type == ETH_TYPE_IP && l4_ok {
            if !is_mask {
                *expected |= bit(OVS_KEY_ATTR_ICMP);
            }
            if let Some(KeyAttr::Icmp(k)) = a.get(OVS_KEY_ATTR_ICMP) {
                self.flow.tp_src = u16::from(k.ty);
                self.flow.tp_dst = u16::from(k.code);
                l4_bit = Some(OVS_KEY_ATTR_ICMP);
            }
        } else if src.nw_proto == IPPROTO_ICMPV6 && src.dl_type == ETH_TYPE_IPV6 && l4_ok {
            if !is_mask {
                *expected |= bit(OVS_KEY_ATTR_ICMPV6);
            }
            if let Some(KeyAttr::Icmpv6(k)) = a.get(OVS_KEY_ATTR_ICMPV6) {
                self.flow.tp_src = u16::from(k.ty);
                self.flow.tp_dst = u16::from(k.code);
                l4_bit = Some(OVS_KEY_ATTR_ICMPV6);
                if is_nd(self.src()) {
                    self.parse_nd(a, expected)?;
                }
            }
        }
        // IGMP has no key attribute: its type, code and group are not in a
        // datapath key, and a key without them fits perfectly (OVS 3.1's
        // odp_flow_key_to_flow), so that datapaths accept IGMP flows as the
        // kernel does.

        if let Some(ty) = l4_bit.filter(|_| is_mask) {
            if (self.flow.tp_src != 0 || self.flow.tp_dst != 0) && self.flow.nw_proto != 0xff {
                return Err(
                    "flow matches on L4 ports but does not define an L4 protocol".to_string(),
                );
            }
            *expected |= bit(ty);
        }
        Ok(self.done(a, *expected, need_check))
    }

    fn parse_nd(&mut self, a: &Attrs<'_>, expected: &mut u64) -> Step<()> {
        let is_mask = self.is_mask();
        // In a mask, ICMP type and code are exact at 0xff (they are 8 bits).
        let icmp_exact = self.flow.tp_src == 0xff && self.flow.tp_dst == 0xff;
        if !is_mask {
            *expected |= bit(OVS_KEY_ATTR_ND);
        }
        if let Some(KeyAttr::Nd(k)) = a.get(OVS_KEY_ATTR_ND) {
            self.flow.nd_target = u128::from(k.target);
            self.flow.arp_sha = k.sll;
            self.flow.arp_tha = k.tll;
            if is_mask {
                if *k != NdKey::default() && !icmp_exact {
                    return Err(format!(
                        "ICMP (src,dst) masks should be (0xff,0xff) but are actually ({},{})",
                        alt_hex(u32::from(self.flow.tp_src)),
                        alt_hex(u32::from(self.flow.tp_dst))
                    ));
                }
                *expected |= bit(OVS_KEY_ATTR_ND);
            }
        }
        if let Some(KeyAttr::NdExtensions(k)) = a.get(OVS_KEY_ATTR_ND_EXTENSIONS) {
            if !is_mask {
                *expected |= bit(OVS_KEY_ATTR_ND_EXTENSIONS);
            }
            self.flow.igmp_group_ip4 = k.reserved;
            self.flow.tcp_flags = u16::from(k.options_type);
            if is_mask {
                if *k != NdExtKey::default() && !icmp_exact {
                    // OVS fails here without a message of its own.
                    return Err("(null)".to_string());
                }
                *expected |= bit(OVS_KEY_ATTR_ND_EXTENSIONS);
            }
        }
        Ok(())
    }

    fn done(&self, a: &Attrs<'_>, expected: u64, need_check: bool) -> Fitness {
        if need_check {
            check_expectations(a, expected)
        } else {
            Fitness::Perfect
        }
    }
}

fn odp_to_ovs_frag(frag: u8, is_mask: bool) -> u8 {
    if is_mask {
        return if frag != 0 { FLOW_NW_FRAG_MASK } else { 0 };
    }
    match frag {
        OVS_FRAG_TYPE_NONE => 0,
        OVS_FRAG_TYPE_FIRST => FLOW_NW_FRAG_ANY,
        OVS_FRAG_TYPE_LATER => FLOW_NW_FRAG_ANY | FLOW_NW_FRAG_LATER,
        _ => 0xff,
    }
}

fn nsh_from_attrs(list: &[NshAttr], is_mask: bool, nsh: &mut FlowNsh) -> Step<()> {
    let mut has_md1 = false;
    for attr in list {
        match attr {
            NshAttr::Base(b) => {
                nsh.flags = b.flags;
                nsh.ttl = b.ttl;
                nsh.mdtype = b.mdtype;
                nsh.np = b.np;
                nsh.path_hdr = b.path_hdr;
            }
            NshAttr::Md1(c) => {
                has_md1 = true;
                nsh.context = *c;
            }
            // MD2 and unknown attributes are not matched (their presence
            // makes the NSH attribute "too much", which is not reported).
            NshAttr::Md2(_) | NshAttr::Unknown { .. } => return Ok(()),
        }
    }
    if !is_mask && has_md1 && nsh.mdtype != NSH_M_TYPE1 {
        return Err(format!(
            "OVS_NSH_KEY_ATTR_MD1 present but declared mdtype {} is not {} (NSH_M_TYPE1)",
            nsh.mdtype, NSH_M_TYPE1
        ));
    }
    Ok(())
}

fn tunnel_from_attrs(list: &[TunnelAttr], is_mask: bool, tun: &mut FlowTnl) -> Step<Fitness> {
    let mut ttl = false;
    let mut unknown = false;
    for attr in list {
        match attr {
            TunnelAttr::Id(v) => {
                tun.tun_id = *v;
                tun.flags |= FLOW_TNL_F_KEY;
            }
            TunnelAttr::Ipv4Src(a) => tun.ip_src = u32::from(*a),
            TunnelAttr::Ipv4Dst(a) => tun.ip_dst = u32::from(*a),
            TunnelAttr::Ipv6Src(a) => tun.ipv6_src = u128::from(*a),
            TunnelAttr::Ipv6Dst(a) => tun.ipv6_dst = u128::from(*a),
            TunnelAttr::Tos(v) => tun.ip_tos = *v,
            TunnelAttr::Ttl(v) => {
                tun.ip_ttl = *v;
                ttl = true;
            }
            TunnelAttr::DontFragment => tun.flags |= FLOW_TNL_F_DONT_FRAGMENT,
            TunnelAttr::Csum => tun.flags |= FLOW_TNL_F_CSUM,
            TunnelAttr::Oam => tun.flags |= FLOW_TNL_F_OAM,
            TunnelAttr::TpSrc(v) => tun.tp_src = *v,
            TunnelAttr::TpDst(v) => tun.tp_dst = *v,
            TunnelAttr::VxlanOpts(gbp) => {
                if let Some(gbp) = gbp {
                    tun.gbp_id = (*gbp & 0xffff) as u16;
                    tun.gbp_flags = ((*gbp >> 16) & 0xff) as u8;
                }
            }
            TunnelAttr::GeneveOpts(opts) => {
                if opts.len() > tun.metadata.opts.len() {
                    return Err(format!(
                        "geneve options have length {} but at most {} fit",
                        opts.len(),
                        tun.metadata.opts.len()
                    ));
                }
                tun.metadata.opts[..opts.len()].copy_from_slice(opts);
                tun.flags |= FLOW_TNL_F_UDPIF;
                // A mask matches the options' length exactly.
                tun.metadata.len = if is_mask { 0xff } else { opts.len() as u8 };
            }
            TunnelAttr::ErspanOpts(m) => erspan_from_attr(m, tun),
            TunnelAttr::GtpuOpts { flags, msgtype } => {
                tun.gtpu_flags = *flags;
                tun.gtpu_msgtype = *msgtype;
            }
            TunnelAttr::Pad | TunnelAttr::Ipv4InfoBridge | TunnelAttr::Unknown { .. } => {
                unknown = true
            }
        }
    }
    if !ttl {
        return Err("tunnel options missing TTL".to_string());
    }
    Ok(if unknown {
        Fitness::TooMuch
    } else {
        Fitness::Perfect
    })
}

/// The mask that matches exactly every field `flow`'s packet has (OVS's
/// `flow_wildcards_init_for_packet`), used when a flow comes without a mask.
pub fn exact_mask_for_packet(flow: &Flow) -> Flow {
    let mut m = Flow::default();
    let t = &flow.tunnel;
    if tnl_is_set(t) {
        let mt = &mut m.tunnel;
        if t.ip_dst != 0 || t.ip_src != 0 {
            mt.ip_dst = u32::MAX;
            mt.ip_src = u32::MAX;
        } else {
            mt.ipv6_dst = u128::MAX;
            mt.ipv6_src = u128::MAX;
        }
        mt.tun_id = u64::MAX;
        mt.flags = FLOW_TNL_F_DONT_FRAGMENT
            | FLOW_TNL_F_CSUM
            | FLOW_TNL_F_KEY
            | FLOW_TNL_F_OAM
            | FLOW_TNL_F_UDPIF;
        mt.ip_tos = u8::MAX;
        mt.ip_ttl = u8::MAX;
        mt.tp_src = u16::MAX;
        mt.tp_dst = u16::MAX;
        mt.gbp_id = u16::MAX;
        mt.gbp_flags = u8::MAX;
        mt.erspan_ver = u8::MAX;
        mt.erspan_idx = u32::MAX;
        mt.erspan_dir = u8::MAX;
        mt.erspan_hwid = u8::MAX;
        mt.gtpu_flags = u8::MAX;
        mt.gtpu_msgtype = u8::MAX;
        if t.metadata.len > 0 {
            mt.metadata.len = 0xff;
            let n = usize::from(t.metadata.len).min(mt.metadata.opts.len());
            mt.metadata.opts[..n].fill(0xff);
        }
    }
    m.skb_priority = u32::MAX;
    m.pkt_mark = u32::MAX;
    m.recirc_id = u32::MAX;
    m.dp_hash = u32::MAX;
    m.in_port = u32::MAX;
    m.ct_state = u8::MAX;
    m.ct_zone = u16::MAX;
    m.ct_mark = u32::MAX;
    m.ct_label = u128::MAX;
    m.packet_type = u32::MAX;
    if flow.packet_type == PT_ETH {
        m.dl_dst = [0xff; 6];
        m.dl_src = [0xff; 6];
        m.vlans = [VlanHdr {
            tpid: 0xffff,
            tci: 0xffff,
        }; FLOW_MAX_VLAN_HEADERS];
    }
    m.dl_type = 0xffff;

    let ct_tuple = flow.ct_nw_proto != 0;
    match flow.dl_type {
        ETH_TYPE_IP => {
            m.nw_src = u32::MAX;
            m.nw_dst = u32::MAX;
            if ct_tuple {
                m.ct_nw_src = u32::MAX;
                m.ct_nw_dst = u32::MAX;
            }
        }
        ETH_TYPE_IPV6 => {
            m.ipv6_src = u128::MAX;
            m.ipv6_dst = u128::MAX;
            m.ipv6_label = u32::MAX;
            if ct_tuple {
                m.ct_ipv6_src = u128::MAX;
                m.ct_ipv6_dst = u128::MAX;
            }
        }
        ETH_TYPE_ARP | ETH_TYPE_RARP => {
            m.nw_src = u32::MAX;
            m.nw_dst = u32::MAX;
            m.nw_proto = u8::MAX;
            m.arp_sha = [0xff; 6];
            m.arp_tha = [0xff; 6];
            return m;
        }
        ETH_TYPE_NSH => {
            m.nsh = FlowNsh {
                flags: u8::MAX,
                ttl: u8::MAX,
                mdtype: u8::MAX,
                np: u8::MAX,
                path_hdr: u32::MAX,
                context: [u32::MAX; 4],
            };
            return m;
        }
        t if eth_type_mpls(t) => {
            let n = count_mpls_labels(flow);
            for lse in m.mpls_lse.iter_mut().take(n.max(1)) {
                *lse = u32::MAX;
            }
            return m;
        }
        _ => return m,
    }
    if ct_tuple {
        m.ct_nw_proto = u8::MAX;
        m.ct_tp_src = u16::MAX;
        m.ct_tp_dst = u16::MAX;
    }
    m.nw_frag = FLOW_NW_FRAG_MASK;
    m.nw_tos = u8::MAX;
    m.nw_ttl = u8::MAX;
    m.nw_proto = u8::MAX;
    if flow.nw_frag & FLOW_NW_FRAG_LATER != 0 {
        return m;
    }
    match flow.nw_proto {
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP | IPPROTO_ICMP | IPPROTO_ICMPV6 => {
            m.tp_src = u16::MAX;
            m.tp_dst = u16::MAX;
        }
        IPPROTO_IGMP => {
            m.tp_src = u16::MAX;
            m.tp_dst = u16::MAX;
            m.igmp_group_ip4 = u32::MAX;
        }
        _ => {}
    }
    if flow.nw_proto == IPPROTO_TCP {
        m.tcp_flags = u16::MAX;
    }
    if is_nd(flow) {
        m.nd_target = u128::MAX;
        m.arp_sha = [0xff; 6];
        m.arp_tha = [0xff; 6];
        m.igmp_group_ip4 = u32::MAX;
        m.tcp_flags = u16::MAX;
    }
    m
}

#[cfg(test)]
mod tests;
