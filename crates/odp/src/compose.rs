//! [`Flow`] → packet bytes: builds a packet whose extraction
//! ([`crate::extract::extract`]) gives back the flow's header fields.
//!
//! This is the datapath's equivalent of OVS's `flow_compose`: it is used
//! to make test packets and probe packets, not to forward traffic. Every
//! header carries a valid checksum (IPv4 header, TCP, UDP, ICMP, ICMPv6,
//! SCTP's CRC32c). Fields that a flow does not describe are set to fixed
//! values (IPv4 id 0, TCP sequence numbers 0, window 0...). After the last
//! header come `l4_payload_len` bytes counting up from 0.
//!
//! What is built, by `dl_type` (for `packet_type` 0, after the Ethernet
//! header and the VLAN tags whose TCI has [`VLAN_CFI`] set):
//! - MPLS: the label stack entries up to the first with its bottom of
//!   stack bit set (at most [`FLOW_MAX_MPLS_LABELS`]).
//! - IPv4: a 20-byte header; a fragment (`nw_frag`) has MF set, and a
//!   later fragment offset 100 (in 8-byte units) and no L4 header.
//! - IPv6: the fixed header, plus a fragment header for fragments (a later
//!   fragment has offset 100 and no L4 header).
//! - TCP, UDP, SCTP, ICMP (over IPv4), ICMPv6 (over IPv6; a neighbor
//!   solicitation or advertisement also gets its target, the reserved
//!   word from `igmp_group_ip4`, and link-layer address options for the
//!   nonzero `arp_sha`/`arp_tha`, the one named by `tcp_flags` first).
//! - ARP/RARP for Ethernet and IPv4; NSH with MD type 1 context, or a
//!   bare MD type 2 (or other) header.
//! - [`FLOW_DL_TYPE_NONE`]: an 802.3 frame with a plain LLC header.
//!
//! For any other `packet_type` the packet starts with the L3 header.

use crate::abi::FLOW_DL_TYPE_NONE;
use crate::extract::PT_ETH;
use crate::flow::{Flow, FLOW_MAX_MPLS_LABELS, FLOW_NW_FRAG_ANY, FLOW_NW_FRAG_LATER, VLAN_CFI};
use packet::{
    arp, checksum, ethernet, icmpv4, icmpv6, ipproto, ipv4, ipv6, mpls, nsh, sctp, tcp, udp,
};

/// Fragment offset (in 8-byte units) given to later fragments.
const LATER_FRAG_OFFSET: u16 = 100;

/// Builds a packet whose extraction gives `flow`'s header fields, followed
/// by `l4_payload_len` bytes of payload (see the module docs).
pub fn compose(flow: &Flow, l4_payload_len: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(128 + l4_payload_len);
    if flow.packet_type == PT_ETH {
        put_l2(&mut buf, flow);
        if flow.dl_type == FLOW_DL_TYPE_NONE {
            // 802.3: length field, then a plain (non-SNAP) LLC header.
            let len = u16::try_from(3 + l4_payload_len).unwrap_or(u16::MAX);
            buf.extend_from_slice(&len.to_be_bytes());
            buf.extend_from_slice(&[0x42, 0x42, 0x03]);
            put_payload(&mut buf, l4_payload_len);
            return buf;
        }
        buf.extend_from_slice(&flow.dl_type.to_be_bytes());
    }

    match flow.dl_type {
        t if ethernet::is_mpls(t) => {
            put_mpls(&mut buf, flow);
            put_payload(&mut buf, l4_payload_len);
        }
        ethernet::ETHERTYPE_IPV4 => put_ipv4(&mut buf, flow, l4_payload_len),
        ethernet::ETHERTYPE_IPV6 => put_ipv6(&mut buf, flow, l4_payload_len),
        ethernet::ETHERTYPE_ARP | ethernet::ETHERTYPE_RARP => {
            put_arp(&mut buf, flow);
            put_payload(&mut buf, l4_payload_len);
        }
        ethernet::ETHERTYPE_NSH => {
            put_nsh(&mut buf, flow);
            put_payload(&mut buf, l4_payload_len);
        }
        _ => put_payload(&mut buf, l4_payload_len),
    }
    buf
}

/// Appends `len` zero bytes and returns where they start.
fn grow(buf: &mut Vec<u8>, len: usize) -> usize {
    let at = buf.len();
    buf.resize(at + len, 0);
    at
}

fn put_payload(buf: &mut Vec<u8>, len: usize) {
    buf.extend((0..len).map(|i| i as u8));
}

/// Ethernet addresses and VLAN tags (the ethertype is the caller's).
fn put_l2(buf: &mut Vec<u8>, flow: &Flow) {
    buf.extend_from_slice(&flow.dl_dst);
    buf.extend_from_slice(&flow.dl_src);
    for v in flow.vlans.iter().filter(|v| v.tci & VLAN_CFI != 0) {
        let tpid = if v.tpid == 0 {
            ethernet::ETHERTYPE_VLAN
        } else {
            v.tpid
        };
        buf.extend_from_slice(&tpid.to_be_bytes());
        buf.extend_from_slice(&v.tci.to_be_bytes());
    }
}

fn put_mpls(buf: &mut Vec<u8>, flow: &Flow) {
    let n = flow
        .mpls_lse
        .iter()
        .position(|lse| lse & mpls::BOS_MASK != 0)
        .map_or(FLOW_MAX_MPLS_LABELS, |i| i + 1);
    for &lse in &flow.mpls_lse[..n] {
        let at = grow(buf, mpls::LSE_LEN);
        mpls::Lse::new_unchecked(&mut buf[at..]).set_raw(lse);
    }
}

fn put_ipv4(buf: &mut Vec<u8>, flow: &Flow, payload_len: usize) {
    let l3 = grow(buf, ipv4::MIN_HEADER_LEN);
    let mut flags_frag = 0;
    if flow.nw_frag & FLOW_NW_FRAG_ANY != 0 {
        flags_frag |= ipv4::FLAG_MF;
        if flow.nw_frag & FLOW_NW_FRAG_LATER != 0 {
            flags_frag |= LATER_FRAG_OFFSET;
        }
    }
    let later = flags_frag & ipv4::FRAG_OFFSET_MASK != 0;
    let l4 = buf.len();
    if later {
        put_payload(buf, payload_len);
    } else {
        put_l4(buf, flow, false, payload_len);
    }
    let total_len = u16::try_from(buf.len() - l3).unwrap_or(u16::MAX);
    let mut ip = ipv4::Packet::new_unchecked(&mut buf[l3..l4]);
    ip.set_version_and_header_len(ipv4::MIN_HEADER_LEN);
    ip.set_tos(flow.nw_tos);
    ip.set_total_len(total_len);
    ip.set_ident(0);
    ip.set_flags_frag(flags_frag);
    ip.set_ttl(flow.nw_ttl);
    ip.set_protocol(flow.nw_proto);
    ip.set_src_addr(flow.nw_src);
    ip.set_dst_addr(flow.nw_dst);
    ip.fill_checksum();
    if !later {
        let l4_len = u16::try_from(buf.len() - l4).unwrap_or(u16::MAX);
        let pseudo = checksum::pseudo_header_v4(flow.nw_src, flow.nw_dst, flow.nw_proto, l4_len);
        fill_l4_checksum(&mut buf[l4..], flow.nw_proto, pseudo);
    }
}

fn put_ipv6(buf: &mut Vec<u8>, flow: &Flow, payload_len: usize) {
    let l3 = grow(buf, ipv6::HEADER_LEN);
    let fragment = flow.nw_frag & FLOW_NW_FRAG_ANY != 0;
    let later = fragment && flow.nw_frag & FLOW_NW_FRAG_LATER != 0;
    let next_header = if fragment {
        let at = grow(buf, ipv6::FRAG_HEADER_LEN);
        let mut frag = ipv6::FragHeader::new_unchecked(&mut buf[at..]);
        // A later fragment's flow says only "fragment" in nw_proto.
        frag.set_next_header(if later && flow.nw_proto == ipproto::FRAGMENT {
            ipproto::NONE
        } else {
            flow.nw_proto
        });
        let offset = if later { LATER_FRAG_OFFSET << 3 } else { 0 };
        frag.set_offset_flags(offset | ipv6::FRAG_MORE);
        frag.set_ident(0);
        ipproto::FRAGMENT
    } else {
        flow.nw_proto
    };
    let l4 = buf.len();
    if later {
        put_payload(buf, payload_len);
    } else {
        put_l4(buf, flow, true, payload_len);
    }
    let payload = u16::try_from(buf.len() - l3 - ipv6::HEADER_LEN).unwrap_or(u16::MAX);
    let mut ip = ipv6::Packet::new_unchecked(&mut buf[l3..]);
    ip.set_version_tc_flow_label(flow.nw_tos, flow.ipv6_label);
    ip.set_payload_len(payload);
    ip.set_next_header(next_header);
    ip.set_hop_limit(flow.nw_ttl);
    ip.set_src_addr(flow.ipv6_src);
    ip.set_dst_addr(flow.ipv6_dst);
    if !later {
        let l4_len = u32::try_from(buf.len() - l4).unwrap_or(u32::MAX);
        let pseudo =
            checksum::pseudo_header_v6(flow.ipv6_src, flow.ipv6_dst, flow.nw_proto, l4_len);
        fill_l4_checksum(&mut buf[l4..], flow.nw_proto, pseudo);
    }
}

/// Appends the L4 header of `flow.nw_proto` with a zero checksum, then the
/// payload.
fn put_l4(buf: &mut Vec<u8>, flow: &Flow, is_ipv6: bool, payload_len: usize) {
    match flow.nw_proto {
        ipproto::TCP => {
            let at = grow(buf, tcp::MIN_HEADER_LEN);
            let mut t = tcp::Packet::new_unchecked(&mut buf[at..]);
            t.set_src_port(flow.tp_src);
            t.set_dst_port(flow.tp_dst);
            t.set_header_len_and_flags(tcp::MIN_HEADER_LEN, flow.tcp_flags);
        }
        ipproto::UDP => {
            let at = grow(buf, udp::HEADER_LEN);
            let len = u16::try_from(udp::HEADER_LEN + payload_len).unwrap_or(u16::MAX);
            let mut u = udp::Packet::new_unchecked(&mut buf[at..]);
            u.set_src_port(flow.tp_src);
            u.set_dst_port(flow.tp_dst);
            u.set_len(len);
        }
        ipproto::SCTP => {
            let at = grow(buf, sctp::HEADER_LEN);
            let mut s = sctp::Packet::new_unchecked(&mut buf[at..]);
            s.set_src_port(flow.tp_src);
            s.set_dst_port(flow.tp_dst);
        }
        ipproto::ICMP if !is_ipv6 => {
            let at = grow(buf, icmpv4::HEADER_LEN);
            let mut i = icmpv4::Packet::new_unchecked(&mut buf[at..]);
            i.set_msg_type(flow.tp_src as u8);
            i.set_msg_code(flow.tp_dst as u8);
        }
        ipproto::ICMPV6 if is_ipv6 => put_icmpv6(buf, flow),
        _ => {}
    }
    put_payload(buf, payload_len);
}

fn put_icmpv6(buf: &mut Vec<u8>, flow: &Flow) {
    let at = grow(buf, icmpv6::HEADER_LEN);
    let mut i = icmpv6::Packet::new_unchecked(&mut buf[at..]);
    i.set_msg_type(flow.tp_src as u8);
    i.set_msg_code(flow.tp_dst as u8);
    if !i.is_nd() {
        return;
    }
    i.set_data_word(flow.igmp_group_ip4);
    buf.extend_from_slice(&flow.nd_target.to_be_bytes());
    let sll = (icmpv6::OPT_SOURCE_LLADDR, flow.arp_sha);
    let tll = (icmpv6::OPT_TARGET_LLADDR, flow.arp_tha);
    let order = if flow.tcp_flags == u16::from(icmpv6::OPT_TARGET_LLADDR) {
        [tll, sll]
    } else {
        [sll, tll]
    };
    for (ty, addr) in order {
        if addr != [0; 6] {
            let at = grow(buf, icmpv6::LLADDR_OPT_LEN);
            icmpv6::NdOption::new_unchecked(&mut buf[at..]).set_lladdr(ty, addr);
        }
    }
}

/// Fills the checksum of the L4 message `l4` (header and payload).
fn fill_l4_checksum(l4: &mut [u8], proto: u8, pseudo: u32) {
    match proto {
        ipproto::TCP if l4.len() >= tcp::MIN_HEADER_LEN => {
            tcp::Packet::new_unchecked(l4).fill_checksum(pseudo)
        }
        ipproto::UDP if l4.len() >= udp::HEADER_LEN => {
            udp::Packet::new_unchecked(l4).fill_checksum(pseudo)
        }
        ipproto::SCTP if l4.len() >= sctp::HEADER_LEN => {
            sctp::Packet::new_unchecked(l4).fill_checksum()
        }
        // put_l4 writes an ICMP header only over IPv4 and an ICMPv6 one
        // only over IPv6, so the protocol number tells which.
        ipproto::ICMP if l4.len() >= icmpv4::HEADER_LEN => {
            icmpv4::Packet::new_unchecked(l4).fill_checksum()
        }
        ipproto::ICMPV6 if l4.len() >= icmpv6::HEADER_LEN => {
            icmpv6::Packet::new_unchecked(l4).fill_checksum(pseudo)
        }
        _ => {}
    }
}

fn put_arp(buf: &mut Vec<u8>, flow: &Flow) {
    let at = grow(buf, arp::PACKET_LEN);
    let mut a = arp::Packet::new_unchecked(&mut buf[at..]);
    a.set_ethernet_ipv4();
    a.set_oper(u16::from(flow.nw_proto));
    a.set_sha(flow.arp_sha);
    a.set_spa(flow.nw_src);
    a.set_tha(flow.arp_tha);
    a.set_tpa(flow.nw_dst);
}

fn put_nsh(buf: &mut Vec<u8>, flow: &Flow) {
    let md1 = flow.nsh.mdtype == nsh::MD_TYPE_1;
    let len = if md1 { nsh::MD1_LEN } else { nsh::BASE_LEN };
    let at = grow(buf, len);
    let mut h = nsh::Header::new_unchecked(&mut buf[at..]);
    h.set_flags_ttl_len(flow.nsh.flags, flow.nsh.ttl, len);
    h.set_md_type(flow.nsh.mdtype);
    h.set_next_proto(flow.nsh.np);
    h.set_path_hdr(flow.nsh.path_hdr);
    if md1 {
        for (i, &word) in flow.nsh.context.iter().enumerate() {
            h.set_md1_context(i, word);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::extract;

    fn tcp4() -> Flow {
        Flow {
            dl_dst: [0, 0, 0, 0, 0, 2],
            dl_src: [0, 0, 0, 0, 0, 1],
            dl_type: 0x0800,
            nw_src: 0x0a00_0001,
            nw_dst: 0x0a00_0002,
            nw_ttl: 64,
            nw_proto: 6,
            tp_src: 1234,
            tp_dst: 80,
            tcp_flags: 0x012,
            ..Flow::default()
        }
    }

    #[test]
    fn tcp_over_ipv4_bytes() {
        let p = compose(&tcp4(), 10);
        assert_eq!(p.len(), 64);
        assert_eq!(&p[12..14], &[0x08, 0x00]);
        let ip = ipv4::Packet::new_checked(&p[14..]).unwrap();
        assert_eq!(ip.total_len(), 50);
        assert!(ip.verify_checksum());
        let pseudo = checksum::pseudo_header_v4(0x0a00_0001, 0x0a00_0002, 6, 30);
        assert!(tcp::Packet::new_checked(&p[34..])
            .unwrap()
            .verify_checksum(pseudo));
        assert_eq!(&p[54..], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert_eq!(extract(&p, &Flow::default()), tcp4());
    }

    #[test]
    fn llc_frame() {
        let f = Flow {
            dl_type: FLOW_DL_TYPE_NONE,
            ..Flow::default()
        };
        let p = compose(&f, 4);
        assert_eq!(&p[12..17], &[0, 7, 0x42, 0x42, 0x03]);
        assert_eq!(extract(&p, &Flow::default()), f);
    }
}
