//! Packet bytes → [`Flow`]: the datapath's flow key extraction.
//!
//! [`extract`] reads a packet's headers into a [`Flow`], with the
//! semantics of the Linux datapath (`net/openvswitch/flow.c`) and of OVS's
//! userspace extractor (`lib/flow.c`):
//!
//! - **L2.** For an Ethernet packet (`packet_type` 0): addresses, up to
//!   [`FLOW_MAX_VLAN_HEADERS`] VLAN tags (TPID 0x8100 or 0x88a8, stored
//!   with [`VLAN_CFI`] set as "tag present"), then the ethertype. An
//!   802.3 frame (type/length below 0x600) gets the ethertype of its
//!   LLC/SNAP header when it has an Ethernet one, and
//!   [`FLOW_DL_TYPE_NONE`] otherwise. For any other `packet_type` the
//!   packet starts at L3 and `dl_type` is the type's low 16 bits.
//! - **MPLS.** Up to [`FLOW_MAX_MPLS_LABELS`] label stack entries, up to
//!   the bottom of stack; nothing after the stack is parsed.
//! - **IPv4** (options skipped) and **IPv6** (hop-by-hop, routing,
//!   destination options, AH and fragment headers walked): addresses,
//!   ToS/traffic class, TTL/hop limit, protocol, flow label, and
//!   [`Flow::nw_frag`]. A later fragment has no L4 fields; an IPv6 later
//!   fragment has `nw_proto` 44 (fragment).
//! - **ARP/RARP** for Ethernet and IPv4: addresses, and the opcode in
//!   `nw_proto` when it fits in 8 bits.
//! - **L4.** TCP ports and the 12 flag bits; UDP and SCTP ports; ICMP and
//!   ICMPv6 type and code in `tp_src`/`tp_dst`. A neighbor solicitation
//!   or advertisement also gives the target, the source/target link-layer
//!   addresses (`arp_sha`/`arp_tha`), the type of the first of those
//!   options (in `tcp_flags`) and the reserved word (NA flags, in
//!   `igmp_group_ip4`).
//! - **NSH**: base header, service path, and MD1 context.
//! - **Metadata** (`in_port`, tunnel, `skb_priority`, `pkt_mark`,
//!   `recirc_id`, `dp_hash`, `packet_type`, all `ct_*`) comes from `md`.
//!
//! Extraction never fails. A header that is truncated or malformed is left
//! out, with everything inside it, and the outer layers already read are
//! kept: a truncated TCP header gives ports 0 but all the IPv4 fields, as
//! in the kernel. It does not allocate.
//!
//! ```
//! use odp::{compose::compose, extract::extract, flow::Flow};
//! let flow = Flow {
//!     dl_type: 0x0800,
//!     nw_src: u32::from_be_bytes([10, 0, 0, 1]),
//!     nw_dst: u32::from_be_bytes([10, 0, 0, 2]),
//!     nw_ttl: 64,
//!     nw_proto: 17,
//!     tp_src: 53,
//!     tp_dst: 5353,
//!     ..Flow::default()
//! };
//! let packet = compose(&flow, 12);
//! let md = Flow { in_port: 3, ..Flow::default() };
//! assert_eq!(extract(&packet, &md), Flow { in_port: 3, ..flow });
//!
//! // Cut inside the UDP header: the IPv4 fields stay, the ports go.
//! let cut = extract(&packet[..14 + 20 + 6], &md);
//! assert_eq!((cut.nw_src, cut.nw_proto, cut.tp_src), (flow.nw_src, 17, 0));
//! ```
//!
//! Where the kernel and OVS differ we chose as follows, and say why:
//! - The IPv4 total length and IPv6 payload length only trim trailing
//!   link-layer padding. A packet shorter than they announce keeps its L3
//!   fields and is parsed as far as it goes (the kernel's behaviour; OVS
//!   drops all L3 fields), so that truncation never loses outer layers.
//! - A truncated or malformed IPv6 extension header keeps the IPv6 fields
//!   and sets `nw_proto` to 59 ("no next header"), as the kernel does.
//! - A TCP header whose data offset is below 5 or beyond the packet is
//!   malformed (the kernel's check; OVS only wants 20 bytes).
//! - Neighbor discovery options follow OVS (`lib/flow.c`): parsing stops
//!   at an option with a zero or overlong length, keeping what was found;
//!   a repeated link-layer address option clears the target and both
//!   addresses. The kernel, which lacks the option type and reserved word,
//!   clears them on a bad length too.
//! - IGMP is not parsed (the kernel datapath does not; its keys have no
//!   IGMP attribute).

use crate::abi::FLOW_DL_TYPE_NONE;
use crate::flow::{
    Flow, VlanHdr, FLOW_MAX_MPLS_LABELS, FLOW_MAX_VLAN_HEADERS, FLOW_NW_FRAG_ANY,
    FLOW_NW_FRAG_LATER, VLAN_CFI,
};
use packet::{arp, ethernet, icmpv4, icmpv6, ipproto, ipv4, ipv6, mpls, nsh, sctp, tcp, udp, vlan};

/// `packet_type` of an Ethernet frame.
pub const PT_ETH: u32 = 0;

/// Extracts the flow of `packet`, with the metadata of `md` (see the
/// module docs for what is read and how bad headers are treated).
///
/// Runs per packet: never panics, never allocates.
pub fn extract(packet: &[u8], md: &Flow) -> Flow {
    let mut flow = Flow::default();
    extract_into(packet, md, &mut flow);
    flow
}

/// [`extract`] writing into `flow` (whose old contents are all replaced):
/// for callers that keep flows in place, so that the 576-byte result is
/// not copied around once per packet.
pub fn extract_into(packet: &[u8], md: &Flow, flow: &mut Flow) {
    *flow = metadata(md);
    let l3 = if flow.packet_type == PT_ETH {
        match parse_l2(packet, flow) {
            Some(rest) => rest,
            None => return,
        }
    } else {
        flow.dl_type = flow.packet_type as u16;
        packet
    };

    match flow.dl_type {
        t if ethernet::is_mpls(t) => parse_mpls(l3, flow),
        ethernet::ETHERTYPE_IPV4 => parse_ipv4(l3, flow),
        ethernet::ETHERTYPE_IPV6 => parse_ipv6(l3, flow),
        ethernet::ETHERTYPE_ARP | ethernet::ETHERTYPE_RARP => parse_arp(l3, flow),
        ethernet::ETHERTYPE_NSH => parse_nsh(l3, flow),
        _ => {}
    }
}

/// A flow holding only the metadata fields of `md`.
#[inline(always)]
fn metadata(md: &Flow) -> Flow {
    Flow {
        tunnel: md.tunnel,
        skb_priority: md.skb_priority,
        pkt_mark: md.pkt_mark,
        dp_hash: md.dp_hash,
        in_port: md.in_port,
        recirc_id: md.recirc_id,
        ct_state: md.ct_state,
        ct_nw_proto: md.ct_nw_proto,
        ct_zone: md.ct_zone,
        ct_mark: md.ct_mark,
        ct_label: md.ct_label,
        packet_type: md.packet_type,
        ct_nw_src: md.ct_nw_src,
        ct_nw_dst: md.ct_nw_dst,
        ct_ipv6_src: md.ct_ipv6_src,
        ct_ipv6_dst: md.ct_ipv6_dst,
        ct_tp_src: md.ct_tp_src,
        ct_tp_dst: md.ct_tp_dst,
        ..Flow::default()
    }
}

/// Reads the Ethernet header, VLAN tags and ethertype; returns the L3
/// bytes, or `None` when the frame is shorter than an Ethernet header.
fn parse_l2<'a>(packet: &'a [u8], flow: &mut Flow) -> Option<&'a [u8]> {
    let frame = ethernet::Frame::new_checked(packet).ok()?;
    flow.dl_dst = frame.dst_addr();
    flow.dl_src = frame.src_addr();

    // `rest` starts at a type/length field (the frame's or a tag's TPID).
    let mut rest = &packet[ethernet::HEADER_LEN - 2..];
    let mut ethertype = frame.ethertype();
    for slot in flow.vlans.iter_mut().take(FLOW_MAX_VLAN_HEADERS) {
        if !ethernet::is_vlan_tpid(ethertype) {
            break;
        }
        // A tag counts only if the ethertype after it is there too.
        let Ok(tag) = vlan::Tag::new_checked(&rest[2..]) else {
            break;
        };
        *slot = VlanHdr {
            tpid: ethertype,
            tci: tag.tci() | VLAN_CFI,
        };
        ethertype = tag.ethertype();
        rest = &rest[vlan::TAG_LEN..];
    }
    let rest = &rest[2..];

    if ethertype >= ethernet::ETHERTYPE_MIN {
        flow.dl_type = ethertype;
        return Some(rest);
    }
    match ethernet::LlcSnap::new_checked(rest) {
        Ok(llc) if llc.is_snap_ethernet() => {
            let snap_type = llc.snap_type();
            flow.dl_type = if snap_type >= ethernet::ETHERTYPE_MIN {
                snap_type
            } else {
                FLOW_DL_TYPE_NONE
            };
            Some(&rest[ethernet::LLC_SNAP_LEN..])
        }
        _ => {
            flow.dl_type = FLOW_DL_TYPE_NONE;
            Some(rest)
        }
    }
}

/// Reads up to [`FLOW_MAX_MPLS_LABELS`] label stack entries.
fn parse_mpls(mut data: &[u8], flow: &mut Flow) {
    for slot in flow.mpls_lse.iter_mut().take(FLOW_MAX_MPLS_LABELS) {
        let Ok(lse) = mpls::Lse::new_checked(data) else {
            return;
        };
        *slot = lse.raw();
        if lse.bos() {
            return;
        }
        data = lse.payload();
    }
}

fn parse_ipv4(data: &[u8], flow: &mut Flow) {
    let Ok(ip) = ipv4::Packet::new_checked(data) else {
        return;
    };
    flow.nw_src = ip.src_addr();
    flow.nw_dst = ip.dst_addr();
    flow.nw_tos = ip.tos();
    flow.nw_ttl = ip.ttl();
    flow.nw_proto = ip.protocol();
    if ip.is_fragment() {
        flow.nw_frag = FLOW_NW_FRAG_ANY;
        if ip.frag_offset() != 0 {
            flow.nw_frag |= FLOW_NW_FRAG_LATER;
            return;
        }
    }
    parse_l4(ip.payload(), flow);
}

/// The outcome of walking IPv6 extension headers.
enum ExtWalk<'a> {
    /// Reached an upper-layer (or unknown) header `proto` at `data`.
    Upper(u8, &'a [u8]),
    /// A later fragment: no upper-layer header to read.
    LaterFragment,
    /// An extension header was truncated or malformed.
    Malformed,
}

/// Skips extension headers starting with `proto`; records fragment
/// status in `nw_frag`. Every header consumes at least 8 bytes, so the
/// walk ends.
fn walk_ipv6_ext<'a>(mut proto: u8, mut data: &'a [u8], nw_frag: &mut u8) -> ExtWalk<'a> {
    loop {
        match proto {
            ipproto::HOPOPTS | ipproto::ROUTING | ipproto::DSTOPTS => {
                let Ok(h) = ipv6::ExtHeader::new_checked(data) else {
                    return ExtWalk::Malformed;
                };
                proto = h.next_header();
                data = h.payload();
            }
            ipproto::AH => {
                // Only the first 8 bytes are read, so an AH whose length
                // field says 8 bytes passes here as in the kernel and OVS
                // (`ipv6::AuthHeader` wants the 12 a valid one has).
                let Some(&[next, len, ..]) = data.get(..ipv6::EXT_MIN_LEN) else {
                    return ExtWalk::Malformed;
                };
                let Some(rest) = data.get((usize::from(len) + 2) * 4..) else {
                    return ExtWalk::Malformed;
                };
                proto = next;
                data = rest;
            }
            ipproto::FRAGMENT => {
                let Ok(h) = ipv6::FragHeader::new_checked(data) else {
                    return ExtWalk::Malformed;
                };
                proto = h.next_header();
                data = h.payload();
                if h.offset_flags() != 0 {
                    *nw_frag = FLOW_NW_FRAG_ANY;
                    if h.frag_offset() != 0 {
                        *nw_frag |= FLOW_NW_FRAG_LATER;
                        return ExtWalk::LaterFragment;
                    }
                }
            }
            _ => return ExtWalk::Upper(proto, data),
        }
    }
}

fn parse_ipv6(data: &[u8], flow: &mut Flow) {
    let Ok(ip) = ipv6::Packet::new_checked(data) else {
        return;
    };
    flow.ipv6_src = ip.src_addr();
    flow.ipv6_dst = ip.dst_addr();
    flow.ipv6_label = ip.flow_label();
    flow.nw_tos = ip.traffic_class();
    flow.nw_ttl = ip.hop_limit();
    match walk_ipv6_ext(ip.next_header(), ip.payload(), &mut flow.nw_frag) {
        ExtWalk::Upper(proto, l4) => {
            flow.nw_proto = proto;
            parse_l4(l4, flow);
        }
        ExtWalk::LaterFragment => flow.nw_proto = ipproto::FRAGMENT,
        ExtWalk::Malformed => flow.nw_proto = ipproto::NONE,
    }
}

fn parse_arp(data: &[u8], flow: &mut Flow) {
    let Ok(a) = arp::Packet::new_checked(data) else {
        return;
    };
    if !a.is_ethernet_ipv4() {
        return;
    }
    flow.nw_src = a.spa();
    flow.nw_dst = a.tpa();
    flow.nw_proto = u8::try_from(a.oper()).unwrap_or(0);
    flow.arp_sha = a.sha();
    flow.arp_tha = a.tha();
}

fn parse_nsh(data: &[u8], flow: &mut Flow) {
    let Ok(h) = nsh::Header::new_checked(data) else {
        return;
    };
    if h.version() != 0 {
        return;
    }
    let mut context = [0u32; 4];
    // MD type 2 metadata (and unknown types) are not matched on.
    if h.md_type() == nsh::MD_TYPE_1 {
        if h.header_len() != nsh::MD1_LEN {
            return;
        }
        for (i, word) in context.iter_mut().enumerate() {
            *word = h.md1_context(i).unwrap_or(0);
        }
    }
    flow.nsh.flags = h.flags();
    flow.nsh.ttl = h.ttl();
    flow.nsh.mdtype = h.md_type();
    flow.nsh.np = h.next_proto();
    flow.nsh.path_hdr = h.path_hdr();
    flow.nsh.context = context;
}

/// Reads the L4 header of protocol `flow.nw_proto` at `data`.
fn parse_l4(data: &[u8], flow: &mut Flow) {
    match flow.nw_proto {
        ipproto::TCP => {
            if let Ok(t) = tcp::Packet::new_checked(data) {
                flow.tp_src = t.src_port();
                flow.tp_dst = t.dst_port();
                flow.tcp_flags = t.flags();
            }
        }
        ipproto::UDP => {
            if let Ok(u) = udp::Packet::new_checked(data) {
                flow.tp_src = u.src_port();
                flow.tp_dst = u.dst_port();
            }
        }
        ipproto::SCTP => {
            if let Ok(s) = sctp::Packet::new_checked(data) {
                flow.tp_src = s.src_port();
                flow.tp_dst = s.dst_port();
            }
        }
        ipproto::ICMP if flow.dl_type == ethernet::ETHERTYPE_IPV4 => {
            if let Ok(i) = icmpv4::Packet::new_checked(data) {
                flow.tp_src = u16::from(i.msg_type());
                flow.tp_dst = u16::from(i.msg_code());
            }
        }
        ipproto::ICMPV6 if flow.dl_type == ethernet::ETHERTYPE_IPV6 => parse_icmpv6(data, flow),
        _ => {}
    }
}

fn parse_icmpv6(data: &[u8], flow: &mut Flow) {
    let Ok(icmp) = icmpv6::Packet::new_checked(data) else {
        return;
    };
    flow.tp_src = u16::from(icmp.msg_type());
    flow.tp_dst = u16::from(icmp.msg_code());
    if !icmp.is_nd() {
        return;
    }
    flow.igmp_group_ip4 = icmp.data_word();
    if icmp.check_nd_len().is_err() {
        return;
    }
    flow.nd_target = icmp.nd_target();

    let mut options = icmp.nd_options();
    let mut opt_type = 0u8;
    while options.len() >= icmpv6::LLADDR_OPT_LEN {
        let Ok(opt) = icmpv6::NdOption::new_checked(options) else {
            break;
        };
        if let Some(addr) = opt.lladdr() {
            let slot = if opt.option_type() == icmpv6::OPT_SOURCE_LLADDR {
                &mut flow.arp_sha
            } else {
                &mut flow.arp_tha
            };
            if *slot != [0; 6] {
                // The same address option twice: the message is invalid.
                flow.nd_target = 0;
                flow.arp_sha = [0; 6];
                flow.arp_tha = [0; 6];
                break;
            }
            *slot = addr;
            if opt_type == 0 {
                opt_type = opt.option_type();
            }
        }
        options = &options[opt.option_len()..];
    }
    flow.tcp_flags = u16::from(opt_type);
}

#[cfg(test)]
mod tests {
    use super::*;

    // Ethernet + IPv4 (with a 4-byte option) + TCP SYN 1234 -> 80.
    static TCP4: [u8; 58] = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x08,
        0x00, // eth
        0x46, 0x04, 0x00, 0x2c, 0x00, 0x00, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, // ipv4
        0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02, 0x01, 0x01, 0x01, 0x00, // ipv4
        0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x12, 0x20, 0x00, 0, 0, 0,
        0, // tcp
    ];

    #[test]
    fn tcp_over_ipv4_with_options() {
        let md = Flow {
            in_port: 7,
            recirc_id: 3,
            ..Flow::default()
        };
        let f = extract(&TCP4, &md);
        assert_eq!(f.in_port, 7);
        assert_eq!(f.recirc_id, 3);
        assert_eq!(f.dl_dst, [0, 0, 0, 0, 0, 2]);
        assert_eq!(f.dl_src, [0, 0, 0, 0, 0, 1]);
        assert_eq!(f.dl_type, 0x0800);
        assert_eq!(f.nw_src, 0x0a00_0001);
        assert_eq!(f.nw_dst, 0x0a00_0002);
        assert_eq!(f.nw_tos, 4);
        assert_eq!(f.nw_ttl, 64);
        assert_eq!(f.nw_proto, 6);
        assert_eq!(f.nw_frag, 0);
        assert_eq!((f.tp_src, f.tp_dst), (1234, 80));
        assert_eq!(f.tcp_flags, 0x012);
    }

    #[test]
    fn truncated_tcp_keeps_ipv4() {
        let f = extract(&TCP4[..50], &Flow::default());
        assert_eq!(f.nw_src, 0x0a00_0001);
        assert_eq!(f.nw_proto, 6);
        assert_eq!((f.tp_src, f.tp_dst, f.tcp_flags), (0, 0, 0));
    }

    #[test]
    fn short_frame_gives_metadata_only() {
        let md = Flow {
            in_port: 1,
            ..Flow::default()
        };
        assert_eq!(extract(&TCP4[..13], &md), md);
    }

    #[test]
    fn llc_frames() {
        let mut plain = [0u8; 20];
        plain[12] = 0x00;
        plain[13] = 0x06;
        plain[14..17].copy_from_slice(&[0x42, 0x42, 0x03]);
        assert_eq!(extract(&plain, &Flow::default()).dl_type, FLOW_DL_TYPE_NONE);

        let mut snap = [0u8; 22];
        snap[13] = 0x08;
        snap[14..22].copy_from_slice(&[0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x06]);
        assert_eq!(extract(&snap, &Flow::default()).dl_type, 0x0806);
    }

    #[test]
    fn third_vlan_tag_is_the_ethertype() {
        let mut p = vec![0u8; 12];
        for _ in 0..3 {
            p.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        p.extend_from_slice(&[0x08, 0x00]);
        let f = extract(&p, &Flow::default());
        assert_eq!(f.vlans[0].tci, 0x1005);
        assert_eq!(f.vlans[1].tpid, 0x8100);
        assert_eq!(f.dl_type, 0x8100);
    }

    #[test]
    fn l3_packet_type() {
        let md = Flow {
            packet_type: 1 << 16 | 0x0800,
            ..Flow::default()
        };
        let f = extract(&TCP4[14..], &md);
        assert_eq!(f.dl_type, 0x0800);
        assert_eq!(f.dl_src, [0; 6]);
        assert_eq!(f.tp_dst, 80);
        assert_eq!(f.packet_type, md.packet_type);
    }
}
