//! Packets: compose then extract gives the flow back, for every packet
//! kind; truncated and malformed packets never panic and keep the layers
//! that were whole.

use odp::compose::compose;
use odp::extract::extract;
use odp::flow::{Flow, FlowNsh, VlanHdr, FLOW_NW_FRAG_ANY, FLOW_NW_FRAG_LATER, VLAN_CFI};
use packet::{checksum, icmpv6, ipproto, ipv4, ipv6, tcp};
use proptest::prelude::*;

const FLOW_DL_TYPE_NONE: u16 = 0x05ff;
const BOS: u32 = 0x100;

// ---------------------------------------------------------------------
// Strategies.

/// Ethernet addresses and 0, 1 or 2 VLAN tags.
fn l2() -> impl Strategy<Value = Flow> {
    (
        any::<[u8; 6]>(),
        any::<[u8; 6]>(),
        0usize..=2,
        any::<[u16; 2]>(),
        any::<[bool; 2]>(),
    )
        .prop_map(|(dst, src, n, tcis, qinq)| {
            let mut f = Flow {
                dl_dst: dst,
                dl_src: src,
                ..Flow::default()
            };
            for i in 0..n {
                f.vlans[i] = VlanHdr {
                    tpid: if qinq[i] { 0x88a8 } else { 0x8100 },
                    tci: tcis[i] | VLAN_CFI,
                };
            }
            f
        })
}

/// Metadata, with the packet type of the flow it goes with.
fn metadata() -> impl Strategy<Value = Flow> {
    (
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        any::<u16>(),
        any::<u32>(),
        any::<u128>(),
        any::<u64>(),
        any::<u32>(),
    )
        .prop_map(
            |(
                in_port,
                recirc_id,
                dp_hash,
                prio,
                mark,
                ct_state,
                zone,
                ct_mark,
                label,
                tun_id,
                tun_dst,
            )| {
                let mut md = Flow {
                    in_port,
                    recirc_id,
                    dp_hash,
                    skb_priority: prio,
                    pkt_mark: mark,
                    ct_state,
                    ct_zone: zone,
                    ct_mark,
                    ct_label: label,
                    ..Flow::default()
                };
                md.tunnel.tun_id = tun_id;
                md.tunnel.ip_dst = tun_dst;
                md
            },
        )
}

/// The L4 part of a flow over IP: TCP, UDP, SCTP, ICMP(v6) or a
/// protocol with no L4 fields.
fn l4(is_ipv6: bool) -> impl Strategy<Value = (u8, u16, u16, u16)> {
    let icmp = if is_ipv6 {
        ipproto::ICMPV6
    } else {
        ipproto::ICMP
    };
    prop_oneof![
        (any::<u16>(), any::<u16>(), 0u16..0x1000).prop_map(|(s, d, fl)| (ipproto::TCP, s, d, fl)),
        (any::<u16>(), any::<u16>()).prop_map(|(s, d)| (ipproto::UDP, s, d, 0)),
        (any::<u16>(), any::<u16>()).prop_map(|(s, d)| (ipproto::SCTP, s, d, 0)),
        (0u16..256, 0u16..256).prop_map(move |(t, c)| {
            // Type 135/136 with code 0 is neighbor discovery, generated apart.
            let c = if is_ipv6 && (t == 135 || t == 136) && c == 0 {
                1
            } else {
                c
            };
            (icmp, t, c, 0)
        }),
        Just((ipproto::GRE, 0, 0, 0)),
    ]
}

fn ipv4_flow() -> impl Strategy<Value = Flow> {
    (
        l2(),
        any::<(u32, u32, u8, u8)>(),
        l4(false),
        prop_oneof![
            Just(0u8),
            Just(FLOW_NW_FRAG_ANY),
            Just(FLOW_NW_FRAG_ANY | FLOW_NW_FRAG_LATER)
        ],
    )
        .prop_map(
            |(mut f, (src, dst, tos, ttl), (proto, tp_src, tp_dst, flags), frag)| {
                f.dl_type = 0x0800;
                f.nw_src = src;
                f.nw_dst = dst;
                f.nw_tos = tos;
                f.nw_ttl = ttl;
                f.nw_proto = proto;
                f.nw_frag = frag;
                if frag & FLOW_NW_FRAG_LATER == 0 {
                    f.tp_src = tp_src;
                    f.tp_dst = tp_dst;
                    f.tcp_flags = flags;
                }
                f
            },
        )
}

fn ipv6_l3(mut f: Flow, (src, dst, label, tc, hlim): (u128, u128, u32, u8, u8)) -> Flow {
    f.dl_type = 0x86dd;
    f.ipv6_src = src;
    f.ipv6_dst = dst;
    f.ipv6_label = label & 0xfffff;
    f.nw_tos = tc;
    f.nw_ttl = hlim;
    f
}

fn ipv6_flow() -> impl Strategy<Value = Flow> {
    (
        l2(),
        any::<(u128, u128, u32, u8, u8)>(),
        l4(true),
        prop_oneof![
            Just(0u8),
            Just(FLOW_NW_FRAG_ANY),
            Just(FLOW_NW_FRAG_ANY | FLOW_NW_FRAG_LATER)
        ],
    )
        .prop_map(|(f, l3, (proto, tp_src, tp_dst, flags), frag)| {
            let mut f = ipv6_l3(f, l3);
            f.nw_frag = frag;
            if frag & FLOW_NW_FRAG_LATER == 0 {
                f.nw_proto = proto;
                f.tp_src = tp_src;
                f.tp_dst = tp_dst;
                f.tcp_flags = flags;
            } else {
                f.nw_proto = ipproto::FRAGMENT;
            }
            f
        })
}

fn nd_flow() -> impl Strategy<Value = Flow> {
    (
        l2(),
        any::<(u128, u128, u32, u8, u8)>(),
        any::<bool>(),
        any::<u128>(),
        any::<u32>(),
        proptest::option::of(any::<[u8; 6]>()),
        proptest::option::of(any::<[u8; 6]>()),
        any::<bool>(),
    )
        .prop_map(|(f, l3, advert, target, reserved, sll, tll, tll_first)| {
            let mut f = ipv6_l3(f, l3);
            f.nw_proto = ipproto::ICMPV6;
            f.tp_src = if advert { 136 } else { 135 };
            f.nd_target = target;
            f.igmp_group_ip4 = reserved;
            let sll = sll.filter(|a| *a != [0; 6]);
            let tll = tll.filter(|a| *a != [0; 6]);
            f.arp_sha = sll.unwrap_or_default();
            f.arp_tha = tll.unwrap_or_default();
            f.tcp_flags = match (sll, tll) {
                (Some(_), Some(_)) => {
                    if tll_first {
                        2
                    } else {
                        1
                    }
                }
                (Some(_), None) => 1,
                (None, Some(_)) => 2,
                (None, None) => 0,
            };
            f
        })
}

fn arp_flow() -> impl Strategy<Value = Flow> {
    (
        l2(),
        any::<bool>(),
        any::<(u32, u32, u8)>(),
        any::<[u8; 6]>(),
        any::<[u8; 6]>(),
    )
        .prop_map(|(mut f, rarp, (spa, tpa, op), sha, tha)| {
            f.dl_type = if rarp { 0x8035 } else { 0x0806 };
            f.nw_src = spa;
            f.nw_dst = tpa;
            f.nw_proto = op;
            f.arp_sha = sha;
            f.arp_tha = tha;
            f
        })
}

fn mpls_flow() -> impl Strategy<Value = Flow> {
    (l2(), any::<bool>(), 1usize..=3, any::<[u32; 3]>()).prop_map(|(mut f, mcast, n, lses)| {
        f.dl_type = if mcast { 0x8848 } else { 0x8847 };
        for (i, (slot, lse)) in f.mpls_lse.iter_mut().zip(lses).take(n).enumerate() {
            *slot = if i + 1 == n { lse | BOS } else { lse & !BOS };
        }
        f
    })
}

fn nsh_flow() -> impl Strategy<Value = Flow> {
    (
        l2(),
        0u8..4,
        0u8..64,
        any::<bool>(),
        any::<u8>(),
        any::<u32>(),
        any::<[u32; 4]>(),
    )
        .prop_map(|(mut f, flags, ttl, md1, np, path_hdr, context)| {
            f.dl_type = 0x894f;
            f.nsh = FlowNsh {
                flags,
                ttl,
                mdtype: if md1 { 1 } else { 2 },
                np,
                path_hdr,
                context: if md1 { context } else { [0; 4] },
            };
            f
        })
}

fn other_l2_flow() -> impl Strategy<Value = Flow> {
    (
        l2(),
        prop_oneof![Just(FLOW_DL_TYPE_NONE), Just(0x88cc_u16), Just(0x6558)],
    )
        .prop_map(|(mut f, dl_type)| {
            f.dl_type = dl_type;
            f
        })
}

/// An IP flow carried as an L3 packet (packet_type ethertype namespace).
fn l3_packet_flow() -> impl Strategy<Value = Flow> {
    prop_oneof![ipv4_flow(), ipv6_flow()].prop_map(|mut f| {
        f.dl_dst = [0; 6];
        f.dl_src = [0; 6];
        f.vlans = Default::default();
        f.packet_type = 1 << 16 | u32::from(f.dl_type);
        f
    })
}

fn any_flow() -> impl Strategy<Value = Flow> {
    prop_oneof![
        3 => ipv4_flow(),
        3 => ipv6_flow(),
        2 => nd_flow(),
        1 => arp_flow(),
        1 => mpls_flow(),
        1 => nsh_flow(),
        1 => other_l2_flow(),
        1 => l3_packet_flow(),
    ]
}

// ---------------------------------------------------------------------
// Expectations.

/// `flow` with the metadata of `md` (and `md` given `flow`'s packet type).
fn with_metadata(flow: &Flow, md: &mut Flow) -> Flow {
    md.packet_type = flow.packet_type;
    let mut f = *flow;
    f.tunnel = md.tunnel;
    f.in_port = md.in_port;
    f.recirc_id = md.recirc_id;
    f.dp_hash = md.dp_hash;
    f.skb_priority = md.skb_priority;
    f.pkt_mark = md.pkt_mark;
    f.ct_state = md.ct_state;
    f.ct_zone = md.ct_zone;
    f.ct_mark = md.ct_mark;
    f.ct_label = md.ct_label;
    f
}

/// Where L3 starts in a composed packet of `flow`.
fn l3_offset(flow: &Flow) -> usize {
    if flow.packet_type != 0 {
        return 0;
    }
    let tags = flow.vlans.iter().filter(|v| v.tci & VLAN_CFI != 0).count();
    14 + 4 * tags
}

/// Length of the L3 header(s) (IPv6 with its fragment header), for IP.
fn l3_len(flow: &Flow) -> Option<usize> {
    match flow.dl_type {
        0x0800 => Some(20),
        0x86dd if flow.nw_frag != 0 => Some(48),
        0x86dd => Some(40),
        _ => None,
    }
}

fn l2_fields(f: &Flow) -> ([u8; 6], [u8; 6], [VlanHdr; 2], u16) {
    (f.dl_dst, f.dl_src, f.vlans, f.dl_type)
}

fn l3_fields(f: &Flow) -> (u32, u32, u128, u128, u32, u8, u8, u8, u8) {
    (
        f.nw_src,
        f.nw_dst,
        f.ipv6_src,
        f.ipv6_dst,
        f.ipv6_label,
        f.nw_frag,
        f.nw_tos,
        f.nw_ttl,
        f.nw_proto,
    )
}

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Every header field of `got` is the expected one or zero; `dl_type` may
/// also be a VLAN TPID (a tag cut short) and, over IPv6, `nw_proto` may be
/// 59 (an extension header cut short).
fn is_partial(got: &Flow, want: &Flow) -> Result<(), TestCaseError> {
    macro_rules! field_ok {
        ($($f:ident),*) => {$(
            prop_assert!(
                got.$f == want.$f || is_zero(&got.$f),
                "{}: got {:?}, want {:?} or zero", stringify!($f), got.$f, want.$f
            );
        )*};
    }
    field_ok!(
        dl_dst,
        dl_src,
        nw_src,
        nw_dst,
        ipv6_src,
        ipv6_dst,
        ipv6_label,
        nw_frag,
        nw_tos,
        nw_ttl,
        nd_target,
        arp_sha,
        arp_tha,
        tcp_flags,
        nsh,
        tp_src,
        tp_dst,
        igmp_group_ip4
    );
    for (g, w) in got.mpls_lse.iter().zip(&want.mpls_lse) {
        prop_assert!(g == w || *g == 0, "mpls_lse {:?}", got.mpls_lse);
    }
    for (g, w) in got.vlans.iter().zip(&want.vlans) {
        prop_assert!(g == w || *g == VlanHdr::default());
    }
    prop_assert!(
        got.dl_type == want.dl_type
            || got.dl_type == 0
            || got.dl_type == 0x8100
            || got.dl_type == 0x88a8,
        "dl_type {:#x}",
        got.dl_type
    );
    prop_assert!(
        got.nw_proto == want.nw_proto
            || got.nw_proto == 0
            || (want.dl_type == 0x86dd && got.nw_proto == ipproto::NONE),
        "nw_proto {}",
        got.nw_proto
    );
    // Metadata is never lost.
    prop_assert_eq!(got.in_port, want.in_port);
    prop_assert_eq!(got.tunnel, want.tunnel);
    prop_assert_eq!(got.packet_type, want.packet_type);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn compose_then_extract_gives_the_flow(
        flow in any_flow(), mut md in metadata(), payload in 0usize..48,
    ) {
        let want = with_metadata(&flow, &mut md);
        let packet = compose(&flow, payload);
        prop_assert_eq!(extract(&packet, &md), want);
    }

    #[test]
    fn every_prefix_keeps_the_whole_layers(
        flow in any_flow(), mut md in metadata(), payload in 0usize..16,
    ) {
        let want = with_metadata(&flow, &mut md);
        let packet = compose(&flow, payload);
        let headers_end = packet.len() - payload;
        let l3 = l3_offset(&flow);
        for n in 0..=packet.len() {
            let got = extract(&packet[..n], &md);
            is_partial(&got, &want)?;
            if n >= l3 && (flow.packet_type != 0 || n >= 14) {
                prop_assert_eq!(l2_fields(&got), l2_fields(&want), "prefix {}", n);
            }
            if let Some(len) = l3_len(&flow) {
                if n >= l3 + len {
                    prop_assert_eq!(l3_fields(&got), l3_fields(&want), "prefix {}", n);
                }
            }
            if n >= headers_end {
                prop_assert_eq!(got, want, "prefix {}", n);
            }
        }
    }

    #[test]
    fn composed_checksums_are_valid(flow in prop_oneof![ipv4_flow(), ipv6_flow(), nd_flow()], payload in 0usize..40) {
        let packet = compose(&flow, payload);
        let l3 = &packet[l3_offset(&flow)..];
        let later = flow.nw_frag & FLOW_NW_FRAG_LATER != 0;
        let (pseudo, l4) = if flow.dl_type == 0x0800 {
            let ip = ipv4::Packet::new_checked(l3).unwrap();
            prop_assert!(ip.verify_checksum());
            let l4 = ip.payload();
            (checksum::pseudo_header_v4(flow.nw_src, flow.nw_dst, flow.nw_proto, l4.len() as u16), l4)
        } else {
            let ip = ipv6::Packet::new_checked(l3).unwrap();
            let skip = if flow.nw_frag != 0 { 8 } else { 0 };
            let l4 = &ip.payload()[skip..];
            (checksum::pseudo_header_v6(flow.ipv6_src, flow.ipv6_dst, flow.nw_proto, l4.len() as u32), l4)
        };
        if !later {
            match flow.nw_proto {
                ipproto::TCP | ipproto::UDP | ipproto::ICMPV6 => {
                    prop_assert!(checksum::is_valid(checksum::add(pseudo, l4)));
                }
                ipproto::ICMP => prop_assert!(checksum::is_valid(checksum::add(0, l4))),
                ipproto::SCTP => {
                    prop_assert!(packet::sctp::Packet::new_checked(l4).unwrap().verify_checksum());
                }
                _ => {}
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        packet_type in prop_oneof![Just(0u32), Just(0x1_0800), Just(0x1_86dd), Just(0x1_8847), Just(0x1_0806), Just(0x1_894f)],
    ) {
        let md = Flow { packet_type, ..Flow::default() };
        let f = extract(&bytes, &md);
        prop_assert_eq!(f.packet_type, packet_type);
    }

    #[test]
    fn corrupted_packets_never_panic(
        flow in any_flow(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut packet = compose(&flow, 8);
        for (at, value) in flips {
            let i = at.index(packet.len());
            packet[i] = value;
        }
        let md = Flow { packet_type: flow.packet_type, ..Flow::default() };
        let _ = extract(&packet, &md);
    }
}

// ---------------------------------------------------------------------
// Hand-made malformed packets.

fn eth(ethertype: u16) -> Vec<u8> {
    let mut p = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    p.extend_from_slice(&ethertype.to_be_bytes());
    p
}

fn tcp4_flow() -> Flow {
    Flow {
        dl_dst: [0x02, 0, 0, 0, 0, 2],
        dl_src: [0x02, 0, 0, 0, 0, 1],
        dl_type: 0x0800,
        nw_src: 0xc0a8_0001,
        nw_dst: 0xc0a8_0002,
        nw_tos: 0x10,
        nw_ttl: 64,
        nw_proto: ipproto::TCP,
        tp_src: 1000,
        tp_dst: 2000,
        tcp_flags: 0x02,
        ..Flow::default()
    }
}

#[test]
fn truncated_tcp_header_keeps_ipv4_fields() {
    let flow = tcp4_flow();
    let packet = compose(&flow, 0);
    let got = extract(&packet[..14 + 20 + 19], &Flow::default());
    let want = Flow {
        tp_src: 0,
        tp_dst: 0,
        tcp_flags: 0,
        ..flow
    };
    assert_eq!(got, want);
}

#[test]
fn tcp_data_offset_below_five_is_malformed() {
    let mut packet = compose(&tcp4_flow(), 0);
    packet[14 + 20 + 12] = 0x40;
    let got = extract(&packet, &Flow::default());
    assert_eq!((got.tp_src, got.tp_dst, got.tcp_flags), (0, 0, 0));
    assert_eq!(got.nw_proto, ipproto::TCP);
}

#[test]
fn bad_ipv4_header_length_drops_l3_only() {
    for ihl_byte in [0x44u8, 0x4f] {
        let mut packet = compose(&tcp4_flow(), 0);
        packet[14] = ihl_byte;
        let got = extract(&packet, &Flow::default());
        assert_eq!(got.dl_type, 0x0800);
        assert_eq!(got.dl_src, tcp4_flow().dl_src);
        assert_eq!((got.nw_src, got.nw_proto, got.tp_src), (0, 0, 0));
    }
}

#[test]
fn ipv4_options_are_skipped() {
    let flow = tcp4_flow();
    let mut packet = compose(&flow, 0);
    // Insert 8 option bytes (NOPs and EOL) and fix IHL, length, checksum.
    packet.splice(34..34, [1, 1, 1, 1, 1, 1, 1, 0]);
    let mut ip = ipv4::Packet::new_unchecked(&mut packet[14..]);
    ip.set_version_and_header_len(28);
    ip.set_total_len(48);
    ip.fill_checksum();
    assert_eq!(extract(&packet, &Flow::default()), flow);
}

#[test]
fn ethernet_padding_after_ipv4_is_ignored() {
    let flow = Flow {
        nw_proto: ipproto::UDP,
        tcp_flags: 0,
        ..tcp4_flow()
    };
    let mut packet = compose(&flow, 0);
    packet.resize(60, 0xee);
    assert_eq!(extract(&packet, &Flow::default()), flow);
}

#[test]
fn ipv4_later_fragment_has_no_l4() {
    let mut packet = compose(&tcp4_flow(), 0);
    let mut ip = ipv4::Packet::new_unchecked(&mut packet[14..]);
    ip.set_flags_frag(185);
    ip.fill_checksum();
    let got = extract(&packet, &Flow::default());
    assert_eq!(got.nw_frag, FLOW_NW_FRAG_ANY | FLOW_NW_FRAG_LATER);
    assert_eq!(got.nw_proto, ipproto::TCP);
    assert_eq!((got.tp_src, got.tp_dst, got.tcp_flags), (0, 0, 0));
}

/// IPv6 from 2001:db8::1 to 2001:db8::2 with the given extension headers
/// (already chained, the first one being `first`) and a TCP header.
fn ipv6_with_ext(first: u8, ext: &[u8]) -> Vec<u8> {
    let mut p = eth(0x86dd);
    let l3 = p.len();
    p.resize(l3 + 40, 0);
    p.extend_from_slice(ext);
    let l4 = p.len();
    p.resize(l4 + 20, 0);
    let mut t = tcp::Packet::new_unchecked(&mut p[l4..]);
    t.set_src_port(5555);
    t.set_dst_port(22);
    t.set_header_len_and_flags(20, tcp::FLAG_ACK);
    let payload = (p.len() - l3 - 40) as u16;
    let mut ip = ipv6::Packet::new_unchecked(&mut p[l3..]);
    ip.set_version_tc_flow_label(0, 7);
    ip.set_payload_len(payload);
    ip.set_next_header(first);
    ip.set_hop_limit(9);
    ip.set_src_addr(0x2001_0db8 << 96 | 1);
    ip.set_dst_addr(0x2001_0db8 << 96 | 2);
    p
}

/// Hop-by-hop (8) → routing (16) → destination options (8) → AH (16) → TCP.
fn ext_chain() -> Vec<u8> {
    let mut ext = vec![ipproto::ROUTING, 0, 1, 4, 0, 0, 0, 0];
    ext.extend_from_slice(&[
        ipproto::DSTOPTS,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
    ]);
    ext.extend_from_slice(&[ipproto::AH, 0, 1, 4, 0, 0, 0, 0]);
    ext.extend_from_slice(&[ipproto::TCP, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 0]);
    ext
}

#[test]
fn ipv6_extension_headers_are_walked() {
    let packet = ipv6_with_ext(ipproto::HOPOPTS, &ext_chain());
    let got = extract(&packet, &Flow::default());
    assert_eq!(got.nw_proto, ipproto::TCP);
    assert_eq!(
        (got.tp_src, got.tp_dst, got.tcp_flags),
        (5555, 22, tcp::FLAG_ACK)
    );
    assert_eq!(got.ipv6_label, 7);
    assert_eq!(got.nw_ttl, 9);
    assert_eq!(got.nw_frag, 0);
}

#[test]
fn truncated_ipv6_extension_header_keeps_ipv6_fields() {
    let packet = ipv6_with_ext(ipproto::HOPOPTS, &ext_chain());
    // Cut inside the routing header (14 + 40 + 8 + 10).
    let got = extract(&packet[..72], &Flow::default());
    assert_eq!(got.ipv6_src, 0x2001_0db8 << 96 | 1);
    assert_eq!(got.ipv6_dst, 0x2001_0db8 << 96 | 2);
    assert_eq!(got.nw_ttl, 9);
    assert_eq!(got.nw_proto, ipproto::NONE);
    assert_eq!((got.tp_src, got.tp_dst), (0, 0));
}

#[test]
fn ipv6_short_ah_is_walked_and_overlong_ah_is_malformed() {
    // An AH whose length field (0) says 8 bytes.
    let ah8 = [ipproto::TCP, 0, 0, 0, 0, 0, 0, 1];
    let got = extract(&ipv6_with_ext(ipproto::AH, &ah8), &Flow::default());
    assert_eq!((got.nw_proto, got.tp_dst), (ipproto::TCP, 22));
    // An AH claiming more bytes than the packet has.
    let long = [ipproto::TCP, 40, 0, 0, 0, 0, 0, 1];
    let got = extract(&ipv6_with_ext(ipproto::AH, &long), &Flow::default());
    assert_eq!((got.nw_proto, got.tp_dst), (ipproto::NONE, 0));
}

#[test]
fn ipv6_first_fragment_has_l4_and_later_has_not() {
    let first = [ipproto::TCP, 0, 0, 1, 0, 0, 0, 1];
    let got = extract(&ipv6_with_ext(ipproto::FRAGMENT, &first), &Flow::default());
    assert_eq!(got.nw_frag, FLOW_NW_FRAG_ANY);
    assert_eq!((got.nw_proto, got.tp_dst), (ipproto::TCP, 22));

    let later = [ipproto::TCP, 0, 0x01, 0x40, 0, 0, 0, 1];
    let got = extract(&ipv6_with_ext(ipproto::FRAGMENT, &later), &Flow::default());
    assert_eq!(got.nw_frag, FLOW_NW_FRAG_ANY | FLOW_NW_FRAG_LATER);
    assert_eq!((got.nw_proto, got.tp_dst), (ipproto::FRAGMENT, 0));

    // An atomic fragment (offset 0, no M flag) is not a fragment.
    let atomic = [ipproto::TCP, 0, 0, 0, 0, 0, 0, 1];
    let got = extract(&ipv6_with_ext(ipproto::FRAGMENT, &atomic), &Flow::default());
    assert_eq!((got.nw_frag, got.tp_dst), (0, 22));
}

fn nd_flow_fixed() -> Flow {
    Flow {
        dl_type: 0x86dd,
        ipv6_src: 0xfe80 << 112 | 1,
        ipv6_dst: 0xff02 << 112 | 1,
        nw_ttl: 255,
        nw_proto: ipproto::ICMPV6,
        tp_src: 135,
        nd_target: 0xfe80 << 112 | 2,
        arp_sha: [0x02, 0, 0, 0, 0, 1],
        tcp_flags: 1,
        ..Flow::default()
    }
}

/// Appends `opts` to the ND message of `packet` and fixes lengths and the
/// checksum.
fn nd_with_options(flow: &Flow, opts: &[u8]) -> Vec<u8> {
    let mut p = compose(flow, 0);
    p.extend_from_slice(opts);
    let plen = (p.len() - 54) as u16;
    ipv6::Packet::new_unchecked(&mut p[14..]).set_payload_len(plen);
    let pseudo = checksum::pseudo_header_v6(flow.ipv6_src, flow.ipv6_dst, 58, u32::from(plen));
    icmpv6::Packet::new_unchecked(&mut p[54..]).fill_checksum(pseudo);
    p
}

#[test]
fn nd_duplicate_source_address_option_clears_nd_fields() {
    let flow = nd_flow_fixed();
    let got = extract(
        &nd_with_options(&flow, &[1, 1, 2, 0, 0, 0, 0, 9]),
        &Flow::default(),
    );
    assert_eq!(
        (got.nd_target, got.arp_sha, got.arp_tha),
        (0, [0; 6], [0; 6])
    );
    assert_eq!((got.tp_src, got.tp_dst), (135, 0));
}

#[test]
fn nd_zero_length_option_stops_parsing_and_keeps_what_was_found() {
    let flow = nd_flow_fixed();
    let got = extract(
        &nd_with_options(&flow, &[2, 0, 0, 0, 0, 0, 0, 0, 2, 1, 9, 9, 9, 9, 9, 9]),
        &Flow::default(),
    );
    assert_eq!(got, flow);
}

#[test]
fn nd_unknown_options_are_skipped() {
    let mut flow = nd_flow_fixed();
    flow.arp_sha = [0; 6];
    flow.tcp_flags = 0;
    // A 16-byte unknown option, then a target link-layer address.
    let opts = [
        14u8, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 1, 2, 3, 4, 5, 6,
    ];
    let p = nd_with_options(&flow, &opts);
    let got = extract(&p, &Flow::default());
    assert_eq!(got.arp_tha, [1, 2, 3, 4, 5, 6]);
    assert_eq!(got.tcp_flags, 2);
    assert_eq!(got.nd_target, flow.nd_target);
}

#[test]
fn icmpv6_short_of_the_nd_target_keeps_type_and_code() {
    let flow = nd_flow_fixed();
    let p = compose(&flow, 0);
    let got = extract(&p[..54 + 20], &Flow::default());
    assert_eq!(
        (got.tp_src, got.tp_dst, got.nd_target, got.arp_sha),
        (135, 0, 0, [0; 6])
    );
}

#[test]
fn arp_with_other_address_kinds_gives_no_arp_fields() {
    let flow = Flow {
        dl_type: 0x0806,
        nw_src: 1,
        nw_dst: 2,
        nw_proto: 1,
        arp_sha: [1; 6],
        ..Flow::default()
    };
    let mut p = compose(&flow, 0);
    p[14 + 4] = 8; // hardware address length
    let got = extract(&p, &Flow::default());
    assert_eq!(got.dl_type, 0x0806);
    assert_eq!((got.nw_src, got.nw_proto, got.arp_sha), (0, 0, [0; 6]));
}

#[test]
fn arp_opcode_above_255_gives_proto_zero() {
    let mut p = eth(0x0806);
    p.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0x01, 0x01]);
    p.extend_from_slice(&[1, 2, 3, 4, 5, 6, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
    let got = extract(&p, &Flow::default());
    assert_eq!(got.nw_proto, 0);
    assert_eq!(
        (got.nw_src, got.nw_dst, got.arp_sha),
        (0x0a00_0001, 0x0a00_0002, [1, 2, 3, 4, 5, 6])
    );
}

#[test]
fn mpls_stack_deeper_than_three_keeps_three() {
    let mut p = eth(0x8847);
    for i in 0..5u32 {
        let bos = if i == 4 { BOS } else { 0 };
        p.extend_from_slice(&((i + 16) << 12 | bos | 64).to_be_bytes());
    }
    let got = extract(&p, &Flow::default());
    assert_eq!(got.mpls_lse, [16 << 12 | 64, 17 << 12 | 64, 18 << 12 | 64]);
}

#[test]
fn malformed_nsh_gives_no_nsh_fields() {
    let flow = Flow {
        dl_type: 0x894f,
        nsh: FlowNsh {
            flags: 1,
            ttl: 63,
            mdtype: 1,
            np: 3,
            path_hdr: 0x0001_02ff,
            context: [1, 2, 3, 4],
        },
        ..Flow::default()
    };
    let good = compose(&flow, 0);
    assert_eq!(extract(&good, &Flow::default()), flow);

    let mut version1 = good.clone();
    version1[14] |= 0x40;
    assert_eq!(extract(&version1, &Flow::default()).nsh, FlowNsh::default());

    let mut md1_short = good.clone();
    md1_short[15] = (md1_short[15] & 0xc0) | 4;
    assert_eq!(
        extract(&md1_short, &Flow::default()).nsh,
        FlowNsh::default()
    );

    assert_eq!(
        extract(&good[..14 + 23], &Flow::default()).nsh,
        FlowNsh::default()
    );
}
