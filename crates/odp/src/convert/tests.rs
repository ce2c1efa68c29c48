//! Unit tests from typed attributes written by hand after corpus lines
//! (`keys.in` / `keys.out`, `filter-base.in`).

use super::*;

const SRC: [u8; 6] = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05];
const DST: [u8; 6] = [0x10, 0x11, 0x12, 0x13, 0x14, 0x15];

fn eth() -> KeyAttr {
    KeyAttr::Ethernet(EthernetKey { src: SRC, dst: DST })
}

/// `recirc_id(0),dp_hash(0),skb_priority(0),in_port(1),skb_mark(0),eth(...)`
fn prefix() -> Vec<KeyAttr> {
    vec![
        KeyAttr::RecircId(0),
        KeyAttr::DpHash(0),
        KeyAttr::Priority(0),
        KeyAttr::InPort(1),
        KeyAttr::SkbMark(0),
        eth(),
    ]
}

/// What parse-keys puts in front of `eth(...)` of a line without ct fields:
/// `...,skb_mark(0),ct_state(0),ct_zone(0),ct_mark(0),ct_label(0),packet_type(ns=0,id=0),eth(...)`.
fn canonical_prefix(ct_mark: u32, ct_label: [u8; 16]) -> Vec<KeyAttr> {
    vec![
        KeyAttr::RecircId(0),
        KeyAttr::DpHash(0),
        KeyAttr::Priority(0),
        KeyAttr::InPort(1),
        KeyAttr::SkbMark(0),
        KeyAttr::CtState(0),
        KeyAttr::CtZone(0),
        KeyAttr::CtMark(ct_mark),
        KeyAttr::CtLabels(ct_label),
        KeyAttr::PacketType(0),
        eth(),
    ]
}

fn with(mut base: Vec<KeyAttr>, rest: Vec<KeyAttr>) -> Vec<KeyAttr> {
    base.extend(rest);
    base
}

fn ipv4(proto: u8, frag: u8) -> KeyAttr {
    KeyAttr::Ipv4(Ipv4Key {
        src: Ipv4Addr::new(35, 8, 2, 41),
        dst: Ipv4Addr::new(172, 16, 0, 20),
        proto,
        tos: 0,
        ttl: 128,
        frag,
    })
}

fn ipv6(proto: u8) -> KeyAttr {
    KeyAttr::Ipv6(Ipv6Key {
        src: "::1".parse().unwrap(),
        dst: "::2".parse().unwrap(),
        label: 0,
        proto,
        tclass: 0,
        hlimit: 128,
        frag: 0,
    })
}

/// parse-keys: key → flow → key with the corpus settings.
fn round_trip(key: &[KeyAttr]) -> (Vec<KeyAttr>, Fitness) {
    let (flow, fit) = key_to_flow(key).expect("decodes");
    (flow_to_key(&flow, &KeyParms::test_odp()), fit)
}

#[test]
fn tcp_key_gets_ct_and_packet_type_inserted() {
    let l4 = vec![
        KeyAttr::Ethertype(0x0800),
        ipv4(6, 0),
        KeyAttr::Tcp(PortsKey { src: 80, dst: 8080 }),
    ];
    let (out, fit) = round_trip(&with(prefix(), l4.clone()));
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!(out, with(canonical_prefix(0, [0; 16]), l4));
}

#[test]
fn flow_fields_of_tcp_key() {
    let key = with(
        prefix(),
        vec![
            KeyAttr::Ethertype(0x0800),
            ipv4(6, 0),
            KeyAttr::Tcp(PortsKey { src: 80, dst: 8080 }),
        ],
    );
    let (f, _) = key_to_flow(&key).unwrap();
    assert_eq!(f.in_port, 1);
    assert_eq!(f.dl_type, 0x0800);
    assert_eq!(f.nw_src, u32::from_be_bytes([35, 8, 2, 41]));
    assert_eq!(f.nw_proto, 6);
    assert_eq!((f.tp_src, f.tp_dst), (80, 8080));
    assert_eq!(f.packet_type, PT_ETH);
}

#[test]
fn mpls_without_bos_is_too_little() {
    let lse = MplsLse::new(100, 7, false, 100);
    let l3 = vec![KeyAttr::Ethertype(0x8847), KeyAttr::Mpls(vec![lse])];
    let (out, fit) = round_trip(&with(prefix(), l3.clone()));
    assert_eq!(fit, Fitness::TooLittle);
    assert_eq!(out, with(canonical_prefix(0, [0; 16]), l3));
}

#[test]
fn mpls_with_bos_is_perfect() {
    let l3 = vec![
        KeyAttr::Ethertype(0x8848),
        KeyAttr::Mpls(vec![MplsLse::new(1000, 4, true, 200)]),
    ];
    let (out, fit) = round_trip(&with(prefix(), l3.clone()));
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!(out, with(canonical_prefix(0, [0; 16]), l3));
}

#[test]
fn mpls_bos_in_outer_label_is_an_error() {
    let key = with(
        prefix(),
        vec![
            KeyAttr::Ethertype(0x8847),
            KeyAttr::Mpls(vec![
                MplsLse::new(1, 0, true, 1),
                MplsLse::new(2, 0, true, 1),
            ]),
        ],
    );
    let e = key_to_flow(&key).unwrap_err();
    assert!(e
        .msg
        .starts_with("MPLS BOS set in non-innermost label; the flow key in error is: "));
}

#[test]
fn vlan_encap_round_trip() {
    // vlan(vid=99,pcp=7) → TCI 0xf063 (with CFI).
    let inner = vec![
        KeyAttr::Ethertype(0x0800),
        ipv4(17, 0),
        KeyAttr::Udp(PortsKey { src: 81, dst: 6632 }),
    ];
    let l2 = vec![
        KeyAttr::Ethertype(0x8100),
        KeyAttr::Vlan(0xf063),
        KeyAttr::Encap(inner),
    ];
    let (out, fit) = round_trip(&with(prefix(), l2.clone()));
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!(out, with(canonical_prefix(0, [0; 16]), l2));

    let (f, _) = key_to_flow(&out).unwrap();
    assert_eq!((f.vlans[0].tpid, f.vlans[0].tci), (0x8100, 0xf063));
    assert_eq!(f.vlans[1].tci, 0);
}

#[test]
fn vlan_with_mpls_without_bos_inside_is_too_little() {
    let l2 = vec![
        KeyAttr::Ethertype(0x8100),
        KeyAttr::Vlan(0xf063),
        KeyAttr::Encap(vec![
            KeyAttr::Ethertype(0x8847),
            KeyAttr::Mpls(vec![MplsLse::new(100, 7, false, 100)]),
        ]),
    ];
    let (out, fit) = round_trip(&with(prefix(), l2.clone()));
    assert_eq!(fit, Fitness::TooLittle);
    assert_eq!(out, with(canonical_prefix(0, [0; 16]), l2));
}

#[test]
fn two_vlans_nest() {
    let l2 = vec![
        KeyAttr::Ethertype(0x88a8),
        KeyAttr::Vlan(0x1000 | 10),
        KeyAttr::Encap(vec![
            KeyAttr::Ethertype(0x8100),
            KeyAttr::Vlan(0x1000 | 20),
            KeyAttr::Encap(vec![KeyAttr::Ethertype(0x1234)]),
        ]),
    ];
    let (out, fit) = round_trip(&with(prefix(), l2.clone()));
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!(out, with(canonical_prefix(0, [0; 16]), l2));
    let (f, _) = key_to_flow(&out).unwrap();
    assert_eq!(f.vlans[0].tpid, 0x88a8);
    assert_eq!(f.vlans[1].tci, 0x1000 | 20);
    assert_eq!(f.dl_type, 0x1234);
}

#[test]
fn vlan_without_encap_is_too_little() {
    let key = with(
        prefix(),
        vec![KeyAttr::Ethertype(0x8100), KeyAttr::Vlan(0xf063)],
    );
    assert_eq!(key_to_flow(&key).unwrap().1, Fitness::TooLittle);
}

#[test]
fn vlan_without_cfi_is_an_error() {
    let key = with(
        prefix(),
        vec![
            KeyAttr::Ethertype(0x8100),
            KeyAttr::Vlan(0x0063),
            KeyAttr::Encap(vec![]),
        ],
    );
    let e = key_to_flow(&key).unwrap_err();
    assert!(e
        .msg
        .starts_with("OVS_KEY_ATTR_VLAN 0x0063 is nonzero but CFI bit is not set; "));
}

#[test]
fn duplicate_encap_is_an_error() {
    // keys-too-long.in: encap(),encap(),...
    let key = vec![KeyAttr::Encap(vec![]), KeyAttr::Encap(vec![])];
    let e = key_to_flow(&key).unwrap_err();
    assert!(e
        .msg
        .starts_with("duplicate encap attribute in flow key; the flow key in error is: "));
}

#[test]
fn unexpected_attribute_is_too_much() {
    // A UDP attribute after a TCP packet's.
    let key = with(
        prefix(),
        vec![
            KeyAttr::Ethertype(0x0800),
            ipv4(6, 0),
            KeyAttr::Tcp(PortsKey { src: 1, dst: 2 }),
            KeyAttr::Udp(PortsKey { src: 1, dst: 2 }),
        ],
    );
    assert_eq!(key_to_flow(&key).unwrap().1, Fitness::TooMuch);
    let unknown = with(
        prefix(),
        vec![KeyAttr::Unknown {
            ty: 40,
            payload: vec![1, 2, 3, 4],
        }],
    );
    assert_eq!(key_to_flow(&unknown).unwrap().1, Fitness::TooMuch);
}

#[test]
fn igmp_needs_no_l4_attribute() {
    // As OVS 3.1's odp_flow_key_to_flow: no IGMP attribute exists, so an
    // IPv4 key of protocol 2 is complete without one.
    let key = with(prefix(), vec![KeyAttr::Ethertype(0x0800), ipv4(2, 0)]);
    let (f, fit) = key_to_flow(&key).unwrap();
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!(f.nw_proto, 2);
}

#[test]
fn missing_l4_is_too_little() {
    let key = with(prefix(), vec![KeyAttr::Ethertype(0x0800), ipv4(6, 0)]);
    assert_eq!(key_to_flow(&key).unwrap().1, Fitness::TooLittle);
    // A later fragment has no L4 header.
    let key = with(prefix(), vec![KeyAttr::Ethertype(0x0800), ipv4(6, 2)]);
    assert_eq!(key_to_flow(&key).unwrap().1, Fitness::Perfect);
}

#[test]
fn ct_mark_and_label_are_kept() {
    let label = 0x1234567890abcdef1234567890abcdef_u128.to_le_bytes();
    let key = vec![
        KeyAttr::RecircId(0),
        KeyAttr::DpHash(0),
        KeyAttr::Priority(0),
        KeyAttr::InPort(1),
        KeyAttr::SkbMark(0),
        KeyAttr::CtMark(0x12345678),
        KeyAttr::CtLabels(label),
        eth(),
        KeyAttr::Ethertype(0x1234),
    ];
    let (out, fit) = round_trip(&key);
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!(
        out,
        with(
            canonical_prefix(0x12345678, label),
            vec![KeyAttr::Ethertype(0x1234)]
        )
    );
}

#[test]
fn nd_with_extensions_round_trip() {
    let l3 = vec![
        KeyAttr::Ethertype(0x86dd),
        ipv6(58),
        KeyAttr::Icmpv6(IcmpKey { ty: 136, code: 0 }),
        KeyAttr::Nd(NdKey {
            target: "::3".parse().unwrap(),
            sll: [0, 5, 6, 7, 8, 9],
            tll: [0, 0xa, 0xb, 0xc, 0xd, 0xe],
        }),
        KeyAttr::NdExtensions(NdExtKey {
            reserved: 0,
            options_type: 2,
        }),
    ];
    let (out, fit) = round_trip(&with(prefix(), l3.clone()));
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!(out, with(canonical_prefix(0, [0; 16]), l3.clone()));
    // Without nd_ext support, the extension is left out.
    let (f, _) = key_to_flow(&with(prefix(), l3)).unwrap();
    let parms = KeyParms {
        nd_ext: false,
        ..KeyParms::test_odp()
    };
    assert!(!flow_to_key(&f, &parms)
        .iter()
        .any(|a| matches!(a, KeyAttr::NdExtensions(_))));
}

#[test]
fn arp_maps_opcode_to_nw_proto() {
    let arp = ArpKey {
        sip: Ipv4Addr::new(1, 2, 3, 4),
        tip: Ipv4Addr::new(5, 6, 7, 8),
        op: 1,
        sha: [0, 0xf, 0x10, 0x11, 0x12, 0x13],
        tha: [0, 0x14, 0x15, 0x16, 0x17, 0x18],
    };
    let l3 = vec![KeyAttr::Ethertype(0x0806), KeyAttr::Arp(arp)];
    let (f, fit) = key_to_flow(&with(prefix(), l3.clone())).unwrap();
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!(f.nw_proto, 1);
    assert_eq!(f.nw_src, 0x01020304);
    assert_eq!(f.arp_tha, arp.tha);
    assert_eq!(
        flow_to_key(&f, &KeyParms::test_odp()),
        with(canonical_prefix(0, [0; 16]), l3)
    );
    let bad = with(
        prefix(),
        vec![
            KeyAttr::Ethertype(0x0806),
            KeyAttr::Arp(ArpKey { op: 0x100, ..arp }),
        ],
    );
    let e = key_to_flow(&bad).unwrap_err();
    assert!(e
        .msg
        .starts_with("unsupported ARP opcode 256 in flow key; "));
}

#[test]
fn icmp_maps_to_ports() {
    let l3 = vec![
        KeyAttr::Ethertype(0x0800),
        ipv4(1, 0),
        KeyAttr::Icmp(IcmpKey { ty: 1, code: 2 }),
    ];
    let (f, _) = key_to_flow(&with(prefix(), l3.clone())).unwrap();
    assert_eq!((f.tp_src, f.tp_dst), (1, 2));
    assert_eq!(
        round_trip(&with(prefix(), l3.clone())).0,
        with(canonical_prefix(0, [0; 16]), l3)
    );
}

fn tunnel_prefix(tunnel: Vec<TunnelAttr>) -> Vec<KeyAttr> {
    vec![
        KeyAttr::RecircId(0),
        KeyAttr::DpHash(0),
        KeyAttr::Priority(0),
        KeyAttr::Tunnel(tunnel),
        KeyAttr::InPort(1),
        KeyAttr::SkbMark(0),
        eth(),
    ]
}

#[test]
fn tunnel_with_erspan_v2_round_trip() {
    // tunnel(tun_id=0xfedcba9876543210,src=10.0.0.1,dst=10.0.0.2,ttl=128,
    //        erspan(ver=2,dir=1,hwid=0x7),flags(df|key))
    let mut u = [0u8; 8];
    u[7] = 0x78; // the bytes OVS built (keys.hex)
    let tunnel = vec![
        TunnelAttr::Id(0xfedcba9876543210),
        TunnelAttr::Ipv4Src(Ipv4Addr::new(10, 0, 0, 1)),
        TunnelAttr::Ipv4Dst(Ipv4Addr::new(10, 0, 0, 2)),
        TunnelAttr::Ttl(128),
        TunnelAttr::DontFragment,
        TunnelAttr::ErspanOpts(ErspanMetadata { version: 2, u }),
    ];
    let key = tunnel_prefix(tunnel.clone());
    let (f, fit) = key_to_flow(&key).unwrap();
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!((f.tunnel.erspan_dir, f.tunnel.erspan_hwid), (1, 7));
    assert_eq!(f.tunnel.flags, FLOW_TNL_F_KEY | FLOW_TNL_F_DONT_FRAGMENT);
    let out = flow_to_key(&f, &KeyParms::test_odp());
    assert_eq!(out[3], KeyAttr::Tunnel(tunnel));
    assert_eq!(out[4], KeyAttr::InPort(1));
    assert_eq!(out[5], KeyAttr::SkbMark(0));
}

#[test]
fn tunnel_erspan_v1_and_options() {
    let tunnel = vec![
        TunnelAttr::Id(5),
        TunnelAttr::Ipv6Src("2001::1".parse().unwrap()),
        TunnelAttr::Ipv6Dst("2001::2".parse().unwrap()),
        TunnelAttr::Tos(8),
        TunnelAttr::Ttl(64),
        TunnelAttr::Csum,
        TunnelAttr::TpSrc(1),
        TunnelAttr::TpDst(4789),
        TunnelAttr::Oam,
        TunnelAttr::VxlanOpts(Some(0x40_0102)),
        TunnelAttr::GeneveOpts(vec![0xff, 0xff, 0x80, 1, 1, 2, 3, 4]),
        TunnelAttr::ErspanOpts(ErspanMetadata {
            version: 1,
            u: [0, 0, 0, 7, 0, 0, 0, 0],
        }),
        TunnelAttr::GtpuOpts {
            flags: 0x30,
            msgtype: 0xff,
        },
    ];
    let (f, fit) = key_to_flow(&tunnel_prefix(tunnel.clone())).unwrap();
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!(f.tunnel.erspan_idx, 7);
    assert_eq!((f.tunnel.gbp_id, f.tunnel.gbp_flags), (0x102, 0x40));
    assert_eq!(f.tunnel.metadata.len, 8);
    let out = flow_to_key(&f, &KeyParms::test_odp());
    assert_eq!(out[3], KeyAttr::Tunnel(tunnel));
}

#[test]
fn tunnel_without_ttl_is_an_error() {
    let key = tunnel_prefix(vec![TunnelAttr::Ipv4Dst(Ipv4Addr::new(1, 1, 1, 1))]);
    let e = key_to_flow(&key).unwrap_err();
    assert!(e
        .msg
        .starts_with("tunnel options missing TTL; the flow key in error is: "));
}

#[test]
fn unknown_tunnel_attribute_is_too_much() {
    let key = tunnel_prefix(vec![
        TunnelAttr::Ipv4Dst(Ipv4Addr::new(1, 1, 1, 1)),
        TunnelAttr::Ttl(1),
        TunnelAttr::Unknown {
            ty: 30,
            payload: vec![],
        },
    ]);
    assert_eq!(key_to_flow(&key).unwrap().1, Fitness::TooMuch);
}

#[test]
fn missing_in_port_and_ethertype_defaults() {
    let (f, fit) = key_to_flow(&[eth()]).unwrap();
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!(f.in_port, ODPP_NONE);
    assert_eq!(f.dl_type, FLOW_DL_TYPE_NONE);
    // No in_port, no Ethertype when re-encoded.
    let out = flow_to_key(&f, &KeyParms::default());
    assert_eq!(
        out,
        vec![
            KeyAttr::Priority(0),
            KeyAttr::SkbMark(0),
            KeyAttr::PacketType(0),
            eth()
        ]
    );
    let e = key_to_flow(&[eth(), KeyAttr::Ethertype(0x5ff)]).unwrap_err();
    assert!(e.msg.starts_with("invalid Ethertype 1535 in flow key; "));
}

#[test]
fn nsh_round_trip() {
    let nsh = vec![
        NshAttr::Base(NshBase {
            flags: 0,
            ttl: 63,
            mdtype: 1,
            np: 3,
            path_hdr: 0x123456 << 8 | 255,
        }),
        NshAttr::Md1([1, 2, 3, 4]),
    ];
    let l3 = vec![KeyAttr::Ethertype(0x894f), KeyAttr::Nsh(nsh)];
    let (out, fit) = round_trip(&with(prefix(), l3.clone()));
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!(out, with(canonical_prefix(0, [0; 16]), l3));
}

/// filter-base.in line 3:
/// `in_port(1),eth(...),eth_type(0x0800),ipv4(...,proto=6,...),tcp(src=80/0xff00,dst=8080/0xff)`.
#[test]
fn mask_of_masked_tcp_ports() {
    let key = vec![
        KeyAttr::InPort(1),
        eth(),
        KeyAttr::Ethertype(0x0800),
        ipv4(6, 0),
        KeyAttr::Tcp(PortsKey { src: 80, dst: 8080 }),
    ];
    let mask = vec![
        KeyAttr::InPort(u32::MAX),
        KeyAttr::Ethernet(EthernetKey {
            src: [0xff; 6],
            dst: [0xff; 6],
        }),
        KeyAttr::Ethertype(0xffff),
        KeyAttr::Ipv4(Ipv4Key {
            src: Ipv4Addr::BROADCAST,
            dst: Ipv4Addr::BROADCAST,
            proto: 0xff,
            tos: 0xff,
            ttl: 0xff,
            frag: 0xff,
        }),
        KeyAttr::Tcp(PortsKey {
            src: 0xff00,
            dst: 0xff,
        }),
    ];
    let (f, fit) = key_to_flow(&key).unwrap();
    assert_eq!(fit, Fitness::Perfect);
    let (m, fit) = key_to_mask(&mask, &f).unwrap();
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!((m.tp_src, m.tp_dst), (0xff00, 0xff));
    assert_eq!(m.nw_frag, FLOW_NW_FRAG_MASK);
    assert_eq!(m.recirc_id, u32::MAX, "absent recirc_id is exact");
    assert_eq!(m.vlans[0].tci, 0xffff, "absent VLAN is exactly none");
    assert_eq!(m.dl_type, 0xffff);

    // And back: the mask attributes of that megaflow.
    let parms = KeyParms::default();
    let back = flow_to_mask(&m, &f, &parms);
    assert!(back.contains(&mask[4]));
    assert!(back.contains(&mask[3]));
}

#[test]
fn l4_mask_without_exact_proto_is_an_error() {
    let key = vec![
        eth(),
        KeyAttr::Ethertype(0x0800),
        ipv4(6, 0),
        KeyAttr::Tcp(PortsKey { src: 80, dst: 8080 }),
    ];
    let mask = vec![
        KeyAttr::Ethernet(EthernetKey::default()),
        KeyAttr::Ethertype(0xffff),
        KeyAttr::Ipv4(Ipv4Key {
            proto: 0xf0,
            ..Ipv4Key::default()
        }),
        KeyAttr::Tcp(PortsKey { src: 0xff, dst: 0 }),
    ];
    let (f, _) = key_to_flow(&key).unwrap();
    let e = key_to_mask(&mask, &f).unwrap_err();
    assert!(e.msg.starts_with(
        "flow matches on L4 ports but does not define an L4 protocol; the flow mask in error is: "
    ));
}

#[test]
fn masked_ethertype_with_l3_is_an_error() {
    let key = vec![eth(), KeyAttr::Ethertype(0x0800), ipv4(5, 0)];
    let mask = vec![
        KeyAttr::Ethernet(EthernetKey::default()),
        KeyAttr::Ethertype(0xfff0),
        KeyAttr::Ipv4(Ipv4Key {
            proto: 0xff,
            ..Ipv4Key::default()
        }),
    ];
    let (f, _) = key_to_flow(&key).unwrap();
    let e = key_to_mask(&mask, &f).unwrap_err();
    assert!(e
        .msg
        .starts_with("unexpected L3 matching with masked Ethertype 0x800/0xfff0; "));
}

#[test]
fn empty_mask_is_exact_for_the_packet() {
    let key = with(
        prefix(),
        vec![
            KeyAttr::Ethertype(0x0800),
            ipv4(17, 0),
            KeyAttr::Udp(PortsKey { src: 1, dst: 2 }),
        ],
    );
    let (f, _) = key_to_flow(&key).unwrap();
    let (m, fit) = key_to_mask(&[], &f).unwrap();
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!((m.nw_src, m.tp_src, m.tcp_flags), (u32::MAX, u16::MAX, 0));
    assert_eq!(m.arp_sha, [0; 6]);
}

#[test]
fn mask_of_vlan_flow() {
    let key = with(
        prefix(),
        vec![
            KeyAttr::Ethertype(0x8100),
            KeyAttr::Vlan(0xf063),
            KeyAttr::Encap(vec![KeyAttr::Ethertype(0x0800), ipv4(5, 0)]),
        ],
    );
    let mask = vec![
        KeyAttr::Ethernet(EthernetKey::default()),
        KeyAttr::Ethertype(0xffff),
        KeyAttr::Vlan(0x1fff),
        KeyAttr::Encap(vec![
            KeyAttr::Ethertype(0xffff),
            KeyAttr::Ipv4(Ipv4Key {
                proto: 0xff,
                ..Ipv4Key::default()
            }),
        ]),
    ];
    let (f, _) = key_to_flow(&key).unwrap();
    let (m, fit) = key_to_mask(&mask, &f).unwrap();
    assert_eq!(fit, Fitness::Perfect);
    assert_eq!(m.vlans[0].tci, 0x1fff);
    assert_eq!(m.dl_type, 0xffff);
    assert_eq!(m.nw_proto, 0xff);
    let back = flow_to_mask(&m, &f, &KeyParms::all());
    let encap = back.iter().find_map(|a| match a {
        KeyAttr::Encap(v) => Some(v),
        _ => None,
    });
    assert!(encap.is_some_and(|v| v.contains(&KeyAttr::Ethertype(0xffff))));
}

#[test]
fn undecoded_attributes_of_wrong_length_are_errors() {
    let key = vec![KeyAttr::Unknown {
        ty: OVS_KEY_ATTR_PRIORITY,
        payload: vec![0; 3],
    }];
    let e = key_to_flow(&key).unwrap_err();
    assert!(e
        .msg
        .starts_with("attribute skb_priority has length 3 but should have length 4; "));
    let key = with(
        prefix(),
        vec![
            KeyAttr::Ethertype(0x8847),
            KeyAttr::Unknown {
                ty: OVS_KEY_ATTR_MPLS,
                payload: vec![0; 6],
            },
        ],
    );
    let e = key_to_flow(&key).unwrap_err();
    assert!(e.msg.starts_with("MPLS LSEs have invalid length 6; "));
    let e = key_to_flow(&with(prefix(), vec![KeyAttr::Mpls(vec![])])).unwrap_err();
    assert!(e.msg.starts_with("MPLS LSEs have invalid length 0; "));
}

mod proptests {
    use super::*;
    use proptest::prelude::*;

    fn leaf() -> impl Strategy<Value = KeyAttr> {
        let ethertype = prop_oneof![
            Just(0x0800u16),
            Just(0x86dd),
            Just(0x0806),
            Just(0x8100),
            Just(0x88a8),
            Just(0x8847),
            Just(0x894f),
            any::<u16>(),
        ];
        let proto = prop_oneof![
            Just(1u8),
            Just(2),
            Just(6),
            Just(17),
            Just(58),
            Just(132),
            any::<u8>()
        ];
        prop_oneof![
            any::<u32>().prop_map(KeyAttr::RecircId),
            any::<u32>().prop_map(KeyAttr::InPort),
            // Packet types that exist: Ethernet (0, 0) and L3 packets
            // (namespace 1, an EtherType). Others (e.g. namespace 0, type 1)
            // are rewritten on decode and so have no canonical key.
            prop::sample::select(vec![0u32, 0x1_0800, 0x1_86dd, 0x1_8847, 0x1_894f])
                .prop_map(KeyAttr::PacketType),
            Just(eth()),
            ethertype.prop_map(KeyAttr::Ethertype),
            any::<u16>().prop_map(KeyAttr::Vlan),
            (proto.clone(), 0u8..4).prop_map(|(p, f)| ipv4(p, f)),
            proto.prop_map(ipv6),
            (any::<u16>(), any::<u16>())
                .prop_map(|(s, d)| KeyAttr::Tcp(PortsKey { src: s, dst: d })),
            (any::<u8>(), any::<u8>())
                .prop_map(|(t, c)| KeyAttr::Icmpv6(IcmpKey { ty: t, code: c })),
            Just(KeyAttr::Nd(NdKey::default())),
            prop::collection::vec(any::<u32>().prop_map(MplsLse), 0..5).prop_map(KeyAttr::Mpls),
            any::<u8>().prop_map(|m| KeyAttr::Nsh(vec![
                NshAttr::Base(NshBase {
                    mdtype: m,
                    ..NshBase::default()
                }),
                NshAttr::Md1([0; 4]),
            ])),
            (any::<u8>(), any::<bool>()).prop_map(|(ttl, geneve)| {
                let mut t = vec![TunnelAttr::Ipv4Dst(Ipv4Addr::new(1, 2, 3, 4))];
                if ttl > 10 {
                    t.push(TunnelAttr::Ttl(ttl));
                }
                if geneve {
                    t.push(TunnelAttr::GeneveOpts(vec![ttl; usize::from(ttl)]));
                }
                KeyAttr::Tunnel(t)
            }),
            (any::<u16>(), 0usize..6).prop_map(|(ty, n)| KeyAttr::Unknown {
                ty,
                payload: vec![0; n]
            }),
        ]
    }

    fn attrs() -> impl Strategy<Value = Vec<KeyAttr>> {
        let nested = leaf().prop_recursive(3, 24, 6, |inner| {
            prop::collection::vec(inner, 0..6).prop_map(KeyAttr::Encap)
        });
        prop::collection::vec(nested, 0..10)
    }

    proptest! {
        #[test]
        fn never_panics(key in attrs(), mask in attrs()) {
            if let Ok((flow, fit)) = key_to_flow(&key) {
                prop_assert_ne!(fit, Fitness::Error);
                let canon = flow_to_key(&flow, &KeyParms::all());
                let (again, _) = key_to_flow(&canon).expect("a canonical key decodes");
                // An inconsistent input key (say, an IPv4 attribute under an
                // IPv6 packet type) may be rewritten once on decode; from
                // then on the canonical key must be a fixed point.
                let canon2 = flow_to_key(&again, &KeyParms::all());
                let (again2, _) = key_to_flow(&canon2).expect("a canonical key decodes");
                prop_assert_eq!(flow_to_key(&again2, &KeyParms::all()), canon2);
                if let Ok((m, _)) = key_to_mask(&mask, &flow) {
                    let _ = flow_to_mask(&m, &flow, &KeyParms::all());
                }
                let _ = key_to_mask(&[], &flow);
            }
        }
    }
}

#[test]
fn empty_geneve_options_survive() {
    let tunnel = vec![
        TunnelAttr::Ipv4Dst(Ipv4Addr::new(1, 1, 1, 1)),
        TunnelAttr::Ttl(64),
        TunnelAttr::GeneveOpts(vec![]),
    ];
    let (f, fit) = key_to_flow(&tunnel_prefix(tunnel.clone())).unwrap();
    assert_eq!(fit, Fitness::Perfect);
    assert_ne!(f.tunnel.flags & FLOW_TNL_F_UDPIF, 0);
    assert_eq!(
        flow_to_key(&f, &KeyParms::test_odp())[3],
        KeyAttr::Tunnel(tunnel)
    );
    // A flow built elsewhere, with options but without the flag, keeps them.
    let mut g = f;
    g.tunnel.flags &= !FLOW_TNL_F_UDPIF;
    g.tunnel.metadata.len = 4;
    g.tunnel.metadata.opts[..4].copy_from_slice(&[1, 2, 3, 4]);
    assert!(
        flow_to_key(&g, &KeyParms::test_odp()).contains(&KeyAttr::Tunnel(vec![
            TunnelAttr::Ipv4Dst(Ipv4Addr::new(1, 1, 1, 1)),
            TunnelAttr::Ttl(64),
            TunnelAttr::GeneveOpts(vec![1, 2, 3, 4]),
        ]))
    );
}

#[test]
fn r_mpls_ethertype_without_labels_canonical_key_decodes() {
    let key = vec![KeyAttr::Ethertype(0x8847)];
    let (flow, fit) = key_to_flow(&key).expect("decodes");
    assert_ne!(fit, Fitness::Error);
    let canon = flow_to_key(&flow, &KeyParms::all());
    let r = key_to_flow(&canon);
    assert!(r.is_ok(), "canonical key {canon:?} fails: {r:?}");
}
