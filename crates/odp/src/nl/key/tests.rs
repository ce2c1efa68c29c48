//! Unit tests from small byte arrays: one per strict rejection kind, the
//! tolerant mode's keep-and-report behaviour, and emitting.

use super::*;
use crate::DecodeErrorKind::*;

/// Frames one attribute by hand (little-endian header, zero padding).
fn a(ty: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((payload.len() + 4) as u16).to_le_bytes());
    v.extend_from_slice(&ty.to_le_bytes());
    v.extend_from_slice(payload);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

fn strict(bytes: &[u8]) -> Result<Vec<KeyAttr>, DecodeError> {
    decode_keys(bytes, Mode::Strict).map(|(a, _)| a)
}

fn kind_path(r: Result<Vec<KeyAttr>, DecodeError>) -> (DecodeErrorKind, Vec<u16>) {
    let e = r.expect_err("must be rejected");
    (e.kind, e.path)
}

fn eth() -> Vec<u8> {
    a(OVS_KEY_ATTR_ETHERNET, &[0; 12])
}
fn ethertype(t: u16) -> Vec<u8> {
    a(OVS_KEY_ATTR_ETHERTYPE, &t.to_be_bytes())
}
fn ipv4(proto: u8, frag: u8) -> Vec<u8> {
    a(
        OVS_KEY_ATTR_IPV4,
        &[10, 0, 0, 1, 10, 0, 0, 2, proto, 0, 64, frag],
    )
}
fn tunnel(parts: &[Vec<u8>]) -> Vec<u8> {
    a(OVS_KEY_ATTR_TUNNEL, &cat(parts))
}
fn tun_ok() -> Vec<Vec<u8>> {
    vec![
        a(OVS_TUNNEL_KEY_ATTR_IPV4_DST, &[10, 0, 0, 2]),
        a(OVS_TUNNEL_KEY_ATTR_TTL, &[64]),
    ]
}

#[test]
fn minimal_keys_are_accepted() {
    let bytes = cat(&[
        a(OVS_KEY_ATTR_IN_PORT, &1u32.to_ne_bytes()),
        eth(),
        ethertype(0x0800),
        ipv4(17, 0),
        a(OVS_KEY_ATTR_UDP, &[0, 1, 0, 2]),
    ]);
    let attrs = strict(&bytes).unwrap();
    assert_eq!(attrs.len(), 5);
    assert_eq!(attrs[4], KeyAttr::Udp(PortsKey { src: 1, dst: 2 }));
}

// --- UnknownType

#[test]
fn strict_rejects_type_above_max() {
    assert_eq!(
        kind_path(strict(&a(OVS_KEY_ATTR_MAX + 1, &[]))),
        (UnknownType, vec![33])
    );
}

#[test]
fn strict_rejects_unspec_and_tunnel_info() {
    assert_eq!(kind_path(strict(&a(0, &[]))), (UnknownType, vec![0]));
    assert_eq!(
        kind_path(strict(&a(OVS_KEY_ATTR_TUNNEL_INFO, &[0; 8]))),
        (UnknownType, vec![OVS_KEY_ATTR_TUNNEL_INFO])
    );
}

#[test]
fn strict_accepts_userspace_packet_type_and_nd_ext() {
    let bytes = cat(&[
        a(OVS_KEY_ATTR_PACKET_TYPE, &[0, 1, 0x08, 0]),
        a(OVS_KEY_ATTR_ETHERTYPE, &[8, 0]),
        ipv4(0, 0),
    ]);
    assert_eq!(strict(&bytes).unwrap()[0], KeyAttr::PacketType(0x0001_0800));
    let nd_ext = a(OVS_KEY_ATTR_ND_EXTENSIONS, &[0x20, 0, 0, 0, 2, 0, 0, 0]);
    assert_eq!(
        strict(&nd_ext).unwrap()[0],
        KeyAttr::NdExtensions(NdExtKey {
            reserved: 0x2000_0000,
            options_type: 2
        })
    );
}

#[test]
fn strict_rejects_unknown_nested_types() {
    let mut parts = tun_ok();
    parts.push(a(OVS_TUNNEL_KEY_ATTR_MAX + 1, &[]));
    assert_eq!(
        kind_path(strict(&tunnel(&parts))),
        (UnknownType, vec![16, 18])
    );
    let nsh = a(OVS_KEY_ATTR_NSH, &a(4, &[]));
    assert_eq!(kind_path(strict(&nsh)), (UnknownType, vec![28, 4]));
    let mut parts = tun_ok();
    parts.push(a(OVS_TUNNEL_KEY_ATTR_VXLAN_OPTS, &a(2, &[0; 4])));
    assert_eq!(
        kind_path(strict(&tunnel(&parts))),
        (UnknownType, vec![16, 11, 2])
    );
}

#[test]
fn strict_rejects_encap_and_vlan_on_non_vlan_frames() {
    let bytes = cat(&[eth(), ethertype(0x1234), a(OVS_KEY_ATTR_ENCAP, &[])]);
    assert_eq!(
        kind_path(strict(&bytes)),
        (UnknownType, vec![OVS_KEY_ATTR_ENCAP])
    );
    let bytes = cat(&[eth(), ethertype(0x1234), a(OVS_KEY_ATTR_VLAN, &[0x10, 0])]);
    assert_eq!(
        kind_path(strict(&bytes)),
        (UnknownType, vec![OVS_KEY_ATTR_VLAN])
    );
}

// --- Duplicate

#[test]
fn strict_rejects_duplicates() {
    let bytes = cat(&[
        a(OVS_KEY_ATTR_SKB_MARK, &[0; 4]),
        a(OVS_KEY_ATTR_SKB_MARK, &[1, 0, 0, 0]),
    ]);
    assert_eq!(kind_path(strict(&bytes)), (Duplicate, vec![15]));
    let mut parts = tun_ok();
    parts.push(a(OVS_TUNNEL_KEY_ATTR_TTL, &[1]));
    assert_eq!(kind_path(strict(&tunnel(&parts))), (Duplicate, vec![16, 4]));
}

#[test]
fn strict_rejects_duplicates_across_encap_levels() {
    let inner = cat(&[ethertype(0x1234), a(OVS_KEY_ATTR_IN_PORT, &[1, 0, 0, 0])]);
    let bytes = cat(&[
        a(OVS_KEY_ATTR_IN_PORT, &[1, 0, 0, 0]),
        eth(),
        ethertype(0x8100),
        a(OVS_KEY_ATTR_VLAN, &[0x10, 5]),
        a(OVS_KEY_ATTR_ENCAP, &inner),
    ]);
    assert_eq!(kind_path(strict(&bytes)), (Duplicate, vec![1, 3]));
}

#[test]
fn strict_rejects_two_tunnel_option_blocks() {
    let mut parts = tun_ok();
    parts.push(a(OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS, &[0; 8]));
    parts.push(a(OVS_TUNNEL_KEY_ATTR_VXLAN_OPTS, &[]));
    assert_eq!(
        kind_path(strict(&tunnel(&parts))),
        (Duplicate, vec![16, 11])
    );
}

// --- BadLength

#[test]
fn both_modes_reject_wrong_fixed_lengths() {
    let bytes = a(OVS_KEY_ATTR_IPV4, &[0; 11]);
    for mode in [Mode::Strict, Mode::Tolerant] {
        let e = decode_keys(&bytes, mode).unwrap_err();
        assert_eq!(e.kind, BadLength { got: 11, want: 12 });
        assert_eq!(e.path, vec![OVS_KEY_ATTR_IPV4]);
    }
    let e = decode_attr(OVS_KEY_ATTR_IN_PORT, &[1, 0], Mode::Strict).unwrap_err();
    assert_eq!(e.kind, BadLength { got: 2, want: 4 });
}

#[test]
fn mpls_length_rules() {
    let e = strict(&a(OVS_KEY_ATTR_MPLS, &[0; 5])).unwrap_err();
    assert_eq!(e.kind, BadLength { got: 5, want: 4 });
    assert_eq!(
        strict(&a(OVS_KEY_ATTR_MPLS, &[])).unwrap_err().kind,
        BadLength { got: 0, want: 4 }
    );
    // Four LSEs: over the kernel's depth in strict mode, kept in tolerant mode.
    let four = cat(&[eth(), ethertype(0x8847), a(OVS_KEY_ATTR_MPLS, &[0; 16])]);
    assert_eq!(
        strict(&four).unwrap_err().kind,
        BadLength { got: 16, want: 12 }
    );
    let (attrs, fit) = decode_keys(&four, Mode::Tolerant).unwrap();
    assert_eq!(attrs[2], KeyAttr::Mpls(vec![MplsLse(0); 4]));
    assert_eq!(fit, Fitness::Perfect);
}

#[test]
fn strict_geneve_options_are_whole_words() {
    let mut parts = tun_ok();
    parts.push(a(OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS, &[0; 6]));
    let e = strict(&tunnel(&parts)).unwrap_err();
    assert_eq!(
        (e.kind, e.path),
        (BadLength { got: 6, want: 4 }, vec![16, 8])
    );
}

// --- Trailing

#[test]
fn both_modes_reject_framing_errors() {
    let mut truncated = a(OVS_KEY_ATTR_IN_PORT, &[1, 0, 0, 0]);
    truncated.extend_from_slice(&[8, 0]);
    let mut overlong = a(OVS_KEY_ATTR_IN_PORT, &[1, 0, 0, 0]);
    overlong.extend_from_slice(&[12, 0, 2, 0, 0, 0, 0, 0]);
    let short_len = [2u8, 0, 3, 0];
    for bytes in [&truncated[..], &overlong[..], &short_len[..]] {
        for mode in [Mode::Strict, Mode::Tolerant] {
            assert_eq!(decode_keys(bytes, mode).unwrap_err().kind, Trailing);
        }
    }
    // Inside a nest too, with the path of the nest.
    let bad_tunnel = a(OVS_KEY_ATTR_TUNNEL, &[9, 0, 4, 0, 1]);
    let e = decode_keys(&bad_tunnel, Mode::Tolerant).unwrap_err();
    assert_eq!((e.kind, e.path), (Trailing, vec![16]));
}

// --- TooDeep

fn nested_encaps(n: usize) -> Vec<u8> {
    let mut inner = Vec::new();
    for _ in 0..n {
        inner = cat(&[
            ethertype(0x8100),
            a(OVS_KEY_ATTR_VLAN, &[0x10, 1]),
            a(OVS_KEY_ATTR_ENCAP, &inner),
        ]);
    }
    inner
}

#[test]
fn encap_depth_limits() {
    assert!(strict(&nested_encaps(2)).is_ok());
    let e = strict(&nested_encaps(3)).unwrap_err();
    assert_eq!((e.kind, e.path), (TooDeep, vec![1, 1, 1]));
    assert!(decode_keys(&nested_encaps(32), Mode::Tolerant).is_ok());
    assert_eq!(
        decode_keys(&nested_encaps(33), Mode::Tolerant)
            .unwrap_err()
            .kind,
        TooDeep
    );
}

// --- Missing

#[test]
fn strict_rejects_missing_l3_l4() {
    let bytes = cat(&[eth(), ethertype(0x0800)]);
    assert_eq!(
        kind_path(strict(&bytes)),
        (Missing, vec![OVS_KEY_ATTR_IPV4])
    );
    let bytes = cat(&[eth(), ethertype(0x0800), ipv4(17, 0)]);
    assert_eq!(kind_path(strict(&bytes)), (Missing, vec![OVS_KEY_ATTR_UDP]));
    // A later fragment has no L4 header to match.
    let bytes = cat(&[eth(), ethertype(0x0800), ipv4(17, OVS_FRAG_TYPE_LATER)]);
    assert!(strict(&bytes).is_ok());
    // Missing inside the encap is reported there.
    let inner = cat(&[ethertype(0x0806)]);
    let bytes = cat(&[
        eth(),
        ethertype(0x8100),
        a(OVS_KEY_ATTR_VLAN, &[0x10, 1]),
        a(OVS_KEY_ATTR_ENCAP, &inner),
    ]);
    assert_eq!(
        kind_path(strict(&bytes)),
        (Missing, vec![1, OVS_KEY_ATTR_ARP])
    );
}

#[test]
fn strict_rejects_vlan_frames_without_tag_or_encap() {
    let bytes = cat(&[eth(), ethertype(0x8100), a(OVS_KEY_ATTR_ENCAP, &[])]);
    assert_eq!(
        kind_path(strict(&bytes)),
        (Missing, vec![OVS_KEY_ATTR_VLAN])
    );
    let bytes = cat(&[eth(), ethertype(0x88a8), a(OVS_KEY_ATTR_VLAN, &[0x10, 1])]);
    assert_eq!(
        kind_path(strict(&bytes)),
        (Missing, vec![OVS_KEY_ATTR_ENCAP])
    );
}

#[test]
fn strict_tunnel_keys_need_ttl_and_dst() {
    let no_ttl = tunnel(&[a(OVS_TUNNEL_KEY_ATTR_IPV4_DST, &[1, 2, 3, 4])]);
    assert_eq!(
        kind_path(strict(&no_ttl)),
        (Missing, vec![16, OVS_TUNNEL_KEY_ATTR_TTL])
    );
    let no_dst = tunnel(&[a(OVS_TUNNEL_KEY_ATTR_TTL, &[1])]);
    assert_eq!(
        kind_path(strict(&no_dst)),
        (Missing, vec![16, OVS_TUNNEL_KEY_ATTR_IPV4_DST])
    );
    // Masks have no such rule.
    let key = strict(&tunnel(&tun_ok())).unwrap();
    assert!(decode_mask(&no_dst, &key, Mode::Strict).is_ok());
}

// --- BadValue

#[test]
fn strict_rejects_out_of_range_key_values() {
    let frag3 = cat(&[eth(), ethertype(0x0800), ipv4(0, 3)]);
    assert_eq!(
        kind_path(strict(&frag3)),
        (BadValue, vec![OVS_KEY_ATTR_IPV4])
    );
    let mut v6 = [0u8; 40];
    v6[32] = 0x00;
    v6[33] = 0x10; // label 0x100000: 21 bits
    let label = cat(&[eth(), ethertype(0x86dd), a(OVS_KEY_ATTR_IPV6, &v6)]);
    assert_eq!(
        kind_path(strict(&label)),
        (BadValue, vec![OVS_KEY_ATTR_IPV6])
    );
    let mut arp = [0u8; 24];
    arp[8] = 1; // op 0x100
    let arp = cat(&[eth(), ethertype(0x0806), a(OVS_KEY_ATTR_ARP, &arp)]);
    assert_eq!(kind_path(strict(&arp)), (BadValue, vec![OVS_KEY_ATTR_ARP]));
    let ct = a(OVS_KEY_ATTR_CT_STATE, &0x100u32.to_ne_bytes());
    assert_eq!(
        kind_path(strict(&ct)),
        (BadValue, vec![OVS_KEY_ATTR_CT_STATE])
    );
    // The same values are fine in tolerant mode (no key rules there).
    assert!(decode_keys(&frag3, Mode::Tolerant).is_ok());
}

#[test]
fn strict_vlan_tci_rules() {
    let no_cfi = cat(&[
        eth(),
        ethertype(0x8100),
        a(OVS_KEY_ATTR_VLAN, &[0, 5]),
        a(OVS_KEY_ATTR_ENCAP, &[]),
    ]);
    assert_eq!(
        kind_path(strict(&no_cfi)),
        (BadValue, vec![OVS_KEY_ATTR_VLAN])
    );
    let truncated_with_content = cat(&[
        eth(),
        ethertype(0x8100),
        a(OVS_KEY_ATTR_VLAN, &[0, 0]),
        a(OVS_KEY_ATTR_ENCAP, &ethertype(0x1234)),
    ]);
    assert_eq!(
        kind_path(strict(&truncated_with_content)),
        (BadValue, vec![OVS_KEY_ATTR_ENCAP])
    );
    let truncated = cat(&[
        eth(),
        ethertype(0x8100),
        a(OVS_KEY_ATTR_VLAN, &[0, 0]),
        a(OVS_KEY_ATTR_ENCAP, &[]),
    ]);
    assert!(strict(&truncated).is_ok());
}

#[test]
fn strict_tunnel_values() {
    let zero_dst = tunnel(&[
        a(OVS_TUNNEL_KEY_ATTR_IPV4_DST, &[0; 4]),
        a(OVS_TUNNEL_KEY_ATTR_TTL, &[1]),
    ]);
    assert_eq!(
        kind_path(strict(&zero_dst)),
        (BadValue, vec![16, OVS_TUNNEL_KEY_ATTR_IPV4_DST])
    );
    let mut mixed = tun_ok();
    mixed.push(a(OVS_TUNNEL_KEY_ATTR_IPV6_SRC, &[1; 16]));
    assert_eq!(
        kind_path(strict(&tunnel(&mixed))),
        (BadValue, vec![16, OVS_TUNNEL_KEY_ATTR_IPV6_DST])
    );
}

#[test]
fn strict_nsh_md1_and_md2_exclusive() {
    let nsh = a(
        OVS_KEY_ATTR_NSH,
        &cat(&[
            a(1, &[0, 63, 1, 3, 0, 0, 1, 255]),
            a(2, &[0; 16]),
            a(3, &[0; 8]),
        ]),
    );
    assert_eq!(kind_path(strict(&nsh)), (BadValue, vec![28, 3]));
}

// --- MaskNotAllowed

fn key_ipv4_tcp() -> Vec<KeyAttr> {
    let bytes = cat(&[
        eth(),
        ethertype(0x0800),
        ipv4(6, 0),
        a(OVS_KEY_ATTR_TCP, &[0, 80, 0, 81]),
        a(OVS_KEY_ATTR_TCP_FLAGS, &[0, 2]),
    ]);
    strict(&bytes).unwrap()
}

fn mask_ipv4(proto_mask: u8) -> Vec<u8> {
    a(
        OVS_KEY_ATTR_IPV4,
        &[255, 255, 255, 255, 0, 0, 0, 0, proto_mask, 0, 0, 0],
    )
}

#[test]
fn mask_without_key_attribute_is_rejected() {
    let key = key_ipv4_tcp();
    let mask = a(OVS_KEY_ATTR_SKB_MARK, &[0xff; 4]);
    let e = decode_mask(&mask, &key, Mode::Strict).unwrap_err();
    assert_eq!(
        (e.kind, e.path),
        (MaskNotAllowed, vec![OVS_KEY_ATTR_SKB_MARK])
    );
    // An all-zero mask attribute is ignored, as the kernel ignores it.
    let zero = a(OVS_KEY_ATTR_SKB_MARK, &[0; 4]);
    assert!(decode_mask(&zero, &key, Mode::Strict).is_ok());
    // Tunnel, in_port and EtherType masks are always allowed (the kernel's
    // match_validate): an exact "no tunnel" match has a tunnel mask.
    let mut tun = a(OVS_TUNNEL_KEY_ATTR_IPV4_DST, &[0xff; 4]);
    tun.extend(a(OVS_TUNNEL_KEY_ATTR_TTL, &[0xff]));
    let tunnel_mask = a(OVS_KEY_ATTR_TUNNEL, &tun);
    assert!(decode_mask(&tunnel_mask, &key, Mode::Strict).is_ok());
    // Tolerant mode does not apply mask rules.
    assert!(decode_mask(&mask, &key, Mode::Tolerant).is_ok());
}

#[test]
fn l3_mask_needs_exact_ethertype() {
    let key = key_ipv4_tcp();
    let ok = cat(&[ethertype(0xffff), mask_ipv4(0)]);
    assert!(decode_mask(&ok, &key, Mode::Strict).is_ok());
    let loose = cat(&[ethertype(0xfff0), mask_ipv4(0)]);
    let e = decode_mask(&loose, &key, Mode::Strict).unwrap_err();
    assert_eq!((e.kind, e.path), (MaskNotAllowed, vec![OVS_KEY_ATTR_IPV4]));
}

#[test]
fn l4_mask_needs_exact_protocol() {
    let key = key_ipv4_tcp();
    let tcp = a(OVS_KEY_ATTR_TCP, &[0xff, 0, 0, 0]);
    let ok = cat(&[ethertype(0xffff), mask_ipv4(0xff), tcp.clone()]);
    assert!(decode_mask(&ok, &key, Mode::Strict).is_ok());
    let loose = cat(&[ethertype(0xffff), mask_ipv4(0xf0), tcp]);
    let e = decode_mask(&loose, &key, Mode::Strict).unwrap_err();
    assert_eq!((e.kind, e.path), (MaskNotAllowed, vec![OVS_KEY_ATTR_TCP]));
}

#[test]
fn encap_mask_needs_exact_tpid_and_cfi() {
    let inner = cat(&[ethertype(0x1234)]);
    let key = strict(&cat(&[
        eth(),
        ethertype(0x8100),
        a(OVS_KEY_ATTR_VLAN, &[0x10, 1]),
        a(OVS_KEY_ATTR_ENCAP, &inner),
    ]))
    .unwrap();
    let mask = |tpid: u16, tci: [u8; 2]| {
        cat(&[
            ethertype(tpid),
            a(OVS_KEY_ATTR_VLAN, &tci),
            a(OVS_KEY_ATTR_ENCAP, &ethertype(0xffff)),
        ])
    };
    assert!(decode_mask(&mask(0xffff, [0x1f, 0xff]), &key, Mode::Strict).is_ok());
    let e = decode_mask(&mask(0xff00, [0x1f, 0xff]), &key, Mode::Strict).unwrap_err();
    assert_eq!((e.kind, e.path), (MaskNotAllowed, vec![OVS_KEY_ATTR_ENCAP]));
    let e = decode_mask(&mask(0xffff, [0x0f, 0xff]), &key, Mode::Strict).unwrap_err();
    assert_eq!(e.kind, MaskNotAllowed);
    // A TCI mask of zeros is not an entry of the kernel's table: the key's
    // TCI (with the CFI bit) is checked in its place, and passes. A TPID
    // mask of zeros falls back to a key EtherType and fails.
    assert!(decode_mask(&mask(0xffff, [0, 0]), &key, Mode::Strict).is_ok());
    let e = decode_mask(&mask(0, [0x1f, 0xff]), &key, Mode::Strict).unwrap_err();
    assert_eq!((e.kind, e.path), (MaskNotAllowed, vec![OVS_KEY_ATTR_ENCAP]));
}

#[test]
fn zero_inner_tci_mask_stands_for_the_outer_mask_or_the_key() {
    // 802.1ad outside, 802.1Q inside (as ovs-vswitchd puts QinQ flows).
    let key = strict(&cat(&[
        eth(),
        ethertype(0x88a8),
        a(OVS_KEY_ATTR_VLAN, &[0x1f, 0xfe]),
        a(
            OVS_KEY_ATTR_ENCAP,
            &cat(&[
                ethertype(0x8100),
                a(OVS_KEY_ATTR_VLAN, &[0x10, 0x64]),
                a(OVS_KEY_ATTR_ENCAP, &ethertype(0x1234)),
            ]),
        ),
    ]))
    .unwrap();
    let mask = |outer: [u8; 2], inner: [u8; 2]| {
        cat(&[
            ethertype(0xffff),
            a(OVS_KEY_ATTR_VLAN, &outer),
            a(
                OVS_KEY_ATTR_ENCAP,
                &cat(&[
                    ethertype(0xffff),
                    a(OVS_KEY_ATTR_VLAN, &inner),
                    a(OVS_KEY_ATTR_ENCAP, &ethertype(0xffff)),
                ]),
            ),
        ])
    };
    assert!(decode_mask(&mask([0, 0], [0, 0]), &key, Mode::Strict).is_ok());
    assert!(decode_mask(&mask([0x10, 0], [0, 0]), &key, Mode::Strict).is_ok());
    // A non-zero inner mask is checked as it is.
    let e = decode_mask(&mask([0x10, 0], [0x0f, 0xff]), &key, Mode::Strict).unwrap_err();
    assert_eq!(
        (e.kind, e.path),
        (MaskNotAllowed, vec![OVS_KEY_ATTR_ENCAP, OVS_KEY_ATTR_ENCAP])
    );
    let e = decode_mask(&mask([0x0f, 0xff], [0, 0]), &key, Mode::Strict).unwrap_err();
    assert_eq!((e.kind, e.path), (MaskNotAllowed, vec![OVS_KEY_ATTR_ENCAP]));
}

// --- Tolerant mode

#[test]
fn tolerant_keeps_unknowns_and_reports_too_much() {
    let tun = tunnel(&[tun_ok(), vec![a(40, &[1, 2, 3])]].concat());
    let nsh = a(OVS_KEY_ATTR_NSH, &a(9, &[7; 4]));
    let vx = tunnel(
        &[
            tun_ok(),
            vec![a(OVS_TUNNEL_KEY_ATTR_VXLAN_OPTS, &a(5, &[1]))],
        ]
        .concat(),
    );
    let bytes = cat(&[
        a(200, &[9, 9]),
        a(OVS_KEY_ATTR_TUNNEL_INFO, &[1; 4]),
        tun,
        nsh,
        vx,
    ]);
    let (attrs, fit) = decode_keys(&bytes, Mode::Tolerant).unwrap();
    assert_eq!(fit, Fitness::TooMuch);
    assert_eq!(
        attrs[0],
        KeyAttr::Unknown {
            ty: 200,
            payload: vec![9, 9]
        }
    );
    assert_eq!(
        attrs[1],
        KeyAttr::Unknown {
            ty: 31,
            payload: vec![1; 4]
        }
    );
    match &attrs[2] {
        KeyAttr::Tunnel(t) => assert_eq!(
            t[2],
            TunnelAttr::Unknown {
                ty: 40,
                payload: vec![1, 2, 3]
            }
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        attrs[3],
        KeyAttr::Nsh(vec![NshAttr::Unknown {
            ty: 9,
            payload: vec![7; 4]
        }])
    );
    let mut w = nl::Writer::new();
    emit_keys(&attrs, &mut w);
    assert_eq!(w.as_bytes(), &bytes[..]);
}

#[test]
fn tolerant_keeps_duplicates_in_order() {
    let bytes = cat(&[
        a(OVS_KEY_ATTR_SKB_MARK, &[0; 4]),
        a(OVS_KEY_ATTR_SKB_MARK, &[1, 0, 0, 0]),
    ]);
    let (attrs, fit) = decode_keys(&bytes, Mode::Tolerant).unwrap();
    assert_eq!(attrs, vec![KeyAttr::SkbMark(0), KeyAttr::SkbMark(1)]);
    assert_eq!(fit, Fitness::TooMuch);
}

#[test]
fn nested_flag_is_ignored_on_decode() {
    let mut bytes = tunnel(&tun_ok());
    bytes[3] |= 0x80; // NLA_F_NESTED
    let (attrs, _) = decode_keys(&bytes, Mode::Strict).unwrap();
    assert!(matches!(&attrs[0], KeyAttr::Tunnel(t) if t.len() == 2));
}

// --- Emitting

#[test]
fn emit_payload_appends_exactly_the_payload() {
    let mut out = vec![0xa5; 3];
    emit_payload(
        &KeyAttr::Ipv4(Ipv4Key {
            src: [1, 2, 3, 4].into(),
            dst: [5, 6, 7, 8].into(),
            proto: 6,
            tos: 1,
            ttl: 64,
            frag: 2,
        }),
        &mut out,
    );
    assert_eq!(out, [0xa5, 0xa5, 0xa5, 1, 2, 3, 4, 5, 6, 7, 8, 6, 1, 64, 2]);
    let mut out = vec![0xa5];
    emit_payload(
        &KeyAttr::Tunnel(vec![TunnelAttr::Ttl(9), TunnelAttr::Csum]),
        &mut out,
    );
    assert_eq!(out, [0xa5, 5, 0, 4, 0, 9, 0, 0, 0, 4, 0, 6, 0]);
    let mut out = Vec::new();
    emit_payload(&KeyAttr::Mpls(vec![MplsLse(0x0006_41ff)]), &mut out);
    assert_eq!(out, [0, 6, 0x41, 0xff]);
}

#[test]
fn emit_uses_documented_byte_orders() {
    let attrs = [
        KeyAttr::SkbMark(0x0102_0304),
        KeyAttr::CtZone(0x0102),
        KeyAttr::Ipv6Exthdrs(0x0102),
        KeyAttr::TcpFlags(0x0102),
        KeyAttr::PacketType(0x0001_894f),
        KeyAttr::Tunnel(vec![
            TunnelAttr::Id(0x0102_0304_0506_0708),
            TunnelAttr::VxlanOpts(Some(0x0102_0304)),
            TunnelAttr::ErspanOpts(ErspanMetadata {
                version: 1,
                u: [0, 0, 0, 7, 0, 0, 0, 0],
            }),
        ]),
    ];
    let mut w = nl::Writer::new();
    emit_keys(&attrs, &mut w);
    let b = w.as_bytes();
    let ne32 = 0x0102_0304u32.to_ne_bytes();
    assert_eq!(&b[4..8], &ne32);
    assert_eq!(&b[12..14], &0x0102u16.to_ne_bytes());
    assert_eq!(&b[20..22], &0x0102u16.to_ne_bytes());
    assert_eq!(&b[28..30], &[1, 2]);
    assert_eq!(&b[36..40], &[0, 1, 0x89, 0x4f]);
    // Tunnel: id (network order), vxlan nest with host-order GBP, erspan
    // with host-order version.
    assert_eq!(&b[40..44], &[44, 0, 16, 0]);
    assert_eq!(&b[44..56], &[12, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(&b[56..64], &[12, 0, 11, 0, 8, 0, 1, 0]);
    assert_eq!(&b[64..68], &ne32);
    assert_eq!(&b[68..76], &[16, 0, 15, 0, 1, 0, 0, 0]);
    assert_eq!(&b[76..84], &[0, 0, 0, 7, 0, 0, 0, 0]);
    assert_eq!(b.len(), 84);
    let (back, fit) = decode_keys(b, Mode::Tolerant).unwrap();
    assert_eq!((back.as_slice(), fit), (&attrs[..], Fitness::Perfect));
}

#[test]
fn decode_attr_decodes_one() {
    assert_eq!(
        decode_attr(OVS_KEY_ATTR_ETHERTYPE, &[0x86, 0xdd], Mode::Strict).unwrap(),
        KeyAttr::Ethertype(0x86dd)
    );
    assert_eq!(
        decode_attr(99, &[1], Mode::Strict).unwrap_err().kind,
        UnknownType
    );
    assert_eq!(
        decode_attr(99, &[1], Mode::Tolerant).unwrap(),
        KeyAttr::Unknown {
            ty: 99,
            payload: vec![1]
        }
    );
}

#[test]
fn random_input_never_panics() {
    // A small deterministic generator: enough to walk odd lengths and types
    // through both modes without a fuzzer.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..3000 {
        let len = (next() % 64) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Make plausible headers more likely.
        if len >= 4 {
            bytes[0] = (len as u8).min(bytes[0] % 64);
            bytes[1] = 0;
            bytes[2] %= 34;
            bytes[3] = 0;
        }
        for mode in [Mode::Strict, Mode::Tolerant] {
            if let Ok((attrs, fit)) = decode_keys(&bytes, mode) {
                let _ = decode_mask(&bytes, &attrs, mode);
                if fit == Fitness::Perfect {
                    let mut w = nl::Writer::new();
                    emit_keys(&attrs, &mut w);
                    let back = decode_keys(w.as_bytes(), mode).unwrap().0;
                    assert_eq!(back, attrs);
                }
            }
        }
    }
}

#[test]
fn geneve_mask_length_must_match_key() {
    let mut parts = tun_ok();
    parts.push(a(
        OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS,
        &[0, 0, 0, 1, 0, 0, 0, 9],
    ));
    let key = strict(&tunnel(&parts)).unwrap();
    let mask = |n: usize| tunnel(&[a(OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS, &vec![0xff; n])]);
    assert!(decode_mask(&mask(8), &key, Mode::Strict).is_ok());
    let e = decode_mask(&mask(4), &key, Mode::Strict).unwrap_err();
    assert_eq!(
        (e.kind, e.path),
        (BadLength { got: 4, want: 8 }, vec![16, 8])
    );
}

#[test]
fn tunnel_and_nsh_nests_round_trip_alone() {
    let tun = vec![
        TunnelAttr::Id(7),
        TunnelAttr::Ipv6Dst("fe80::1".parse().unwrap()),
        TunnelAttr::Ttl(3),
        TunnelAttr::GtpuOpts {
            flags: 0x30,
            msgtype: 0xff,
        },
        TunnelAttr::Ipv4InfoBridge,
    ];
    let mut w = nl::Writer::new();
    emit_tunnel(&tun, &mut w);
    assert_eq!(
        decode_tunnel(w.as_bytes(), Mode::Strict).unwrap(),
        (tun, Fitness::Perfect)
    );
    let nsh = vec![
        NshAttr::Base(NshBase {
            flags: 1,
            ttl: 63,
            mdtype: 2,
            np: 3,
            path_hdr: 0x0102_03ff,
        }),
        NshAttr::Md2(vec![0, 1, 2, 4, 9, 9, 9, 9]),
    ];
    let mut w = nl::Writer::new();
    emit_nsh(&nsh, &mut w);
    assert_eq!(&w.as_bytes()[4..12], &[1, 63, 2, 3, 1, 2, 3, 0xff]);
    assert_eq!(
        decode_nsh(w.as_bytes(), Mode::Strict).unwrap(),
        (nsh, Fitness::Perfect)
    );
}

/// Every variant with arbitrary field values survives emit → decode.
#[test]
fn every_variant_round_trips() {
    let mut x: u64 = 0x0123_4567_89ab_cdef;
    let mut r = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..50 {
        let v = r();
        let (b, w, h, q) = (v as u8, v as u16, v as u32, r());
        let ip4 = std::net::Ipv4Addr::from(h);
        let ip6 = std::net::Ipv6Addr::from(u128::from(q) << 64 | u128::from(v));
        let mac = [b, b ^ 1, b ^ 2, b ^ 3, b ^ 4, b ^ 5];
        let attrs = vec![
            KeyAttr::Priority(h),
            KeyAttr::InPort(h ^ 1),
            KeyAttr::Ethernet(EthernetKey {
                src: mac,
                dst: [b; 6],
            }),
            KeyAttr::Vlan(w),
            KeyAttr::Ethertype(w ^ 3),
            KeyAttr::Ipv4(Ipv4Key {
                src: ip4,
                dst: ip4,
                proto: b,
                tos: b ^ 1,
                ttl: b ^ 2,
                frag: b ^ 3,
            }),
            KeyAttr::Ipv6(Ipv6Key {
                src: ip6,
                dst: ip6,
                label: h,
                proto: b,
                tclass: b ^ 1,
                hlimit: b ^ 2,
                frag: b ^ 3,
            }),
            KeyAttr::Tcp(PortsKey { src: w, dst: w ^ 9 }),
            KeyAttr::Udp(PortsKey { src: w ^ 1, dst: w }),
            KeyAttr::Icmp(IcmpKey { ty: b, code: b ^ 7 }),
            KeyAttr::Icmpv6(IcmpKey { ty: b ^ 7, code: b }),
            KeyAttr::Arp(ArpKey {
                sip: ip4,
                tip: ip4,
                op: w,
                sha: mac,
                tha: [b; 6],
            }),
            KeyAttr::Nd(NdKey {
                target: ip6,
                sll: mac,
                tll: [b; 6],
            }),
            KeyAttr::SkbMark(h ^ 2),
            KeyAttr::Tunnel(vec![
                TunnelAttr::Id(q),
                TunnelAttr::Ipv4Src(ip4),
                TunnelAttr::Ipv4Dst(ip4),
                TunnelAttr::Tos(b),
                TunnelAttr::Ttl(b ^ 1),
                TunnelAttr::DontFragment,
                TunnelAttr::Csum,
                TunnelAttr::Oam,
                TunnelAttr::GeneveOpts(vec![b; usize::from(b % 8) * 4]),
                TunnelAttr::TpSrc(w),
                TunnelAttr::TpDst(w ^ 1),
                TunnelAttr::VxlanOpts(if b % 2 == 0 { Some(h) } else { None }),
                TunnelAttr::Ipv6Src(ip6),
                TunnelAttr::Ipv6Dst(ip6),
                TunnelAttr::Pad,
                TunnelAttr::ErspanOpts(ErspanMetadata {
                    version: h,
                    u: mac_u(q),
                }),
                TunnelAttr::Ipv4InfoBridge,
                TunnelAttr::GtpuOpts {
                    flags: b,
                    msgtype: b ^ 1,
                },
            ]),
            KeyAttr::Sctp(PortsKey { src: w, dst: w }),
            KeyAttr::TcpFlags(w & 0xfff),
            KeyAttr::DpHash(h ^ 3),
            KeyAttr::RecircId(h ^ 4),
            KeyAttr::Mpls(
                (0..=usize::from(b % 3))
                    .map(|i| MplsLse(h ^ i as u32))
                    .collect(),
            ),
            KeyAttr::CtState(h & 0xff),
            KeyAttr::CtZone(w),
            KeyAttr::CtMark(h ^ 5),
            KeyAttr::CtLabels([b; 16]),
            KeyAttr::CtOrigTupleIpv4(CtTupleIpv4 {
                src: ip4,
                dst: ip4,
                src_port: w,
                dst_port: w ^ 1,
                proto: b,
            }),
            KeyAttr::CtOrigTupleIpv6(CtTupleIpv6 {
                src: ip6,
                dst: ip6,
                src_port: w,
                dst_port: w ^ 1,
                proto: b,
            }),
            KeyAttr::Nsh(vec![
                NshAttr::Base(NshBase {
                    flags: b,
                    ttl: b ^ 1,
                    mdtype: 1,
                    np: b ^ 2,
                    path_hdr: h,
                }),
                NshAttr::Md1([h, h ^ 1, h ^ 2, h ^ 3]),
            ]),
            KeyAttr::PacketType(h),
            KeyAttr::NdExtensions(NdExtKey {
                reserved: h,
                options_type: b,
            }),
            KeyAttr::Ipv6Exthdrs(w),
            KeyAttr::Encap(vec![
                KeyAttr::Ethertype(w),
                KeyAttr::Nsh(vec![NshAttr::Md2(vec![b; 12])]),
            ]),
        ];
        let mut wr = nl::Writer::new();
        emit_keys(&attrs, &mut wr);
        let (back, fit) = decode_keys(wr.as_bytes(), Mode::Tolerant).unwrap();
        assert_eq!(fit, Fitness::Perfect);
        assert_eq!(back, attrs);
        // Each attribute alone, through emit_payload and decode_attr.
        for attr in &attrs {
            let mut p = Vec::new();
            emit_payload(attr, &mut p);
            assert_eq!(&decode_attr(attr.ty(), &p, Mode::Tolerant).unwrap(), attr);
        }
    }
}

fn mac_u(q: u64) -> [u8; 8] {
    q.to_le_bytes()
}
