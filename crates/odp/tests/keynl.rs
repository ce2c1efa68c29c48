//! Netlink flow key codec (`odp::nl::key`) against the conformance corpus:
//! every `key=`, `mask=` and `flowkey=` buffer OVS built must decode and
//! re-emit to the same bytes.

use odp::key::KeyAttr;
use odp::nl::{key, Mode};
use odp::{DecodeError, Fitness};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/conformance/");

const FILES: [&str; 7] = [
    "keys.hex",
    "wc-keys.hex",
    "wc-keys-extra.hex",
    "filter-base.hex",
    "filter-vlan-base.hex",
    "keys-too-long.hex",
    "keys-nested-encap.hex",
];

fn unhex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() & 1, 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn emit(attrs: &[KeyAttr]) -> Vec<u8> {
    let mut w = nl::Writer::new();
    key::emit_keys(attrs, &mut w);
    assert!(!w.overflowed());
    w.into_bytes()
}

/// One buffer of the corpus.
struct Case {
    file: &'static str,
    line: usize,
    field: &'static str,
    bytes: Vec<u8>,
}

fn cases() -> Vec<(Case, Option<Case>)> {
    let mut out = Vec::new();
    for file in FILES {
        let text = std::fs::read_to_string(format!("{DIR}{file}")).expect("corpus file");
        for (i, line) in text.lines().enumerate() {
            let field = |name: &'static str| {
                line.split(' ')
                    .find_map(|w| w.strip_prefix(name).and_then(|w| w.strip_prefix('=')))
                    .filter(|v| *v != "error")
                    .map(|v| Case {
                        file,
                        line: i + 1,
                        field: name,
                        bytes: unhex(v),
                    })
            };
            if let Some(k) = field("key") {
                let m = field("mask");
                out.push((k, m));
            }
            if let Some(f) = field("flowkey") {
                out.push((f, None));
            }
        }
    }
    out
}

/// Decodes strictly, falling back to tolerant; returns the attributes and
/// the strict error if there was one.
fn decode(c: &Case) -> (Vec<KeyAttr>, Option<DecodeError>) {
    match key::decode_keys(&c.bytes, Mode::Strict) {
        Ok((attrs, fit)) => {
            assert_eq!(fit, Fitness::Perfect, "{}:{} {}", c.file, c.line, c.field);
            (attrs, None)
        }
        Err(e) => {
            let (attrs, _) = key::decode_keys(&c.bytes, Mode::Tolerant)
                .unwrap_or_else(|e2| panic!("{}:{} {}: {e2}", c.file, c.line, c.field));
            (attrs, Some(e))
        }
    }
}

#[test]
fn corpus_round_trips_bit_exact() {
    let mut n = 0;
    let mut strict_failures = Vec::new();
    for (k, m) in cases() {
        let (kattrs, kerr) = decode(&k);
        assert_eq!(emit(&kattrs), k.bytes, "{}:{} {}", k.file, k.line, k.field);
        n += 1;
        if let Some(e) = kerr {
            strict_failures.push(format!("{}:{} {}: {e}", k.file, k.line, k.field));
        }
        if let Some(m) = m {
            let mattrs = match key::decode_mask(&m.bytes, &kattrs, Mode::Strict) {
                Ok(a) => a,
                Err(e) => {
                    strict_failures.push(format!("{}:{} mask: {e}", m.file, m.line));
                    key::decode_mask(&m.bytes, &kattrs, Mode::Tolerant)
                        .unwrap_or_else(|e| panic!("{}:{} mask: {e}", m.file, m.line))
                }
            };
            assert_eq!(emit(&mattrs), m.bytes, "{}:{} mask", m.file, m.line);
            n += 1;
        }
    }
    for f in &strict_failures {
        println!("strict rejects {f}");
    }
    println!(
        "{n} buffers round-tripped, {} rejected by strict mode",
        strict_failures.len()
    );
    // Every non-error key=, mask= and flowkey= buffer of the seven files.
    assert_eq!(n, 971);
}

/// The strict rejections the corpus is expected to produce: OVS's test keys
/// omit `tcp_flags` beside `tcp(...)` (the kernel requires both), one group
/// masks `ct_tuple4` on non-IPv4 keys (the kernel refuses that mask), and
/// the oversize key repeats `encap()` 16383 times at one level.
#[test]
fn corpus_strict_rejections_are_the_kernels() {
    use odp::abi::*;
    use odp::DecodeErrorKind::*;
    let mut rejected = 0;
    for (k, m) in cases() {
        let kattrs = match key::decode_keys(&k.bytes, Mode::Strict) {
            Ok((a, _)) => a,
            Err(e) => {
                rejected += 1;
                let ok = match (&e.kind, e.path.last()) {
                    (Missing, Some(&OVS_KEY_ATTR_TCP_FLAGS)) => k
                        .bytes
                        .windows(4)
                        .any(|w| w == [8, 0, OVS_KEY_ATTR_TCP as u8, 0]),
                    (Duplicate, Some(&OVS_KEY_ATTR_ENCAP)) => k.file == "keys-too-long.hex",
                    _ => false,
                };
                assert!(ok, "{}:{} {}: unexpected {e}", k.file, k.line, k.field);
                key::decode_keys(&k.bytes, Mode::Tolerant).unwrap().0
            }
        };
        if let Some(m) = m {
            if let Err(e) = key::decode_mask(&m.bytes, &kattrs, Mode::Strict) {
                rejected += 1;
                let ipv4_key = kattrs.iter().any(|a| matches!(a, KeyAttr::Ipv4(_)));
                let ok = match (&e.kind, e.path.as_slice()) {
                    (MaskNotAllowed, [OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4]) => !ipv4_key,
                    (Duplicate, [OVS_KEY_ATTR_ENCAP]) => m.file == "keys-too-long.hex",
                    _ => false,
                };
                assert!(ok, "{}:{} mask: unexpected {e}", m.file, m.line);
            }
        }
    }
    assert!(rejected > 0 && rejected < 100, "{rejected} rejected");
}

fn buffer(file: &str, line: usize, field: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(format!("{DIR}{file}")).unwrap();
    let l = text.lines().nth(line - 1).unwrap();
    let v = l
        .split(' ')
        .find_map(|w| w.strip_prefix(field).and_then(|w| w.strip_prefix('=')))
        .unwrap();
    unhex(v)
}

fn tolerant(file: &str, line: usize) -> Vec<KeyAttr> {
    let (attrs, fit) = key::decode_keys(&buffer(file, line, "key"), Mode::Tolerant).unwrap();
    assert_eq!(fit, Fitness::Perfect);
    attrs
}

fn has(attrs: &[KeyAttr], want: &KeyAttr) -> bool {
    attrs.iter().any(|a| a == want)
}

fn tunnel(attrs: &[KeyAttr]) -> &[odp::key::TunnelAttr] {
    attrs
        .iter()
        .find_map(|a| match a {
            KeyAttr::Tunnel(t) => Some(t.as_slice()),
            _ => None,
        })
        .expect("a tunnel attribute")
}

// The values below are read off the text lines of the `.in` files, so they
// check byte order and field offsets independently of the round trip.

#[test]
fn decoded_values_match_the_text_l2_l3_l4() {
    use odp::key::*;
    use std::net::Ipv4Addr;
    // keys.in:4 in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15),
    // eth_type(0x0800),ipv4(src=35.8.2.41,dst=172.16.0.20,proto=5,tos=0x81,ttl=128,frag=no)
    let a = tolerant("keys.hex", 4);
    assert!(has(&a, &KeyAttr::InPort(1)));
    assert!(has(
        &a,
        &KeyAttr::Ethernet(EthernetKey {
            src: [0, 1, 2, 3, 4, 5],
            dst: [0x10, 0x11, 0x12, 0x13, 0x14, 0x15]
        })
    ));
    assert!(has(&a, &KeyAttr::Ethertype(0x0800)));
    assert!(has(
        &a,
        &KeyAttr::Ipv4(Ipv4Key {
            src: Ipv4Addr::new(35, 8, 2, 41),
            dst: Ipv4Addr::new(172, 16, 0, 20),
            proto: 5,
            tos: 0x81,
            ttl: 128,
            frag: 0
        })
    ));
    // keys.in:7 udp(src=81,dst=6632)
    assert!(has(
        &tolerant("keys.hex", 7),
        &KeyAttr::Udp(PortsKey { src: 81, dst: 6632 })
    ));
    // keys.in:20 eth_type(0x8847),mpls(label=100,tc=7,ttl=100,bos=1)
    let a = tolerant("keys.hex", 20);
    assert!(has(
        &a,
        &KeyAttr::Mpls(vec![MplsLse::new(100, 7, true, 100)])
    ));
    // keys.in:82 arp(sip=1.2.3.4,tip=5.6.7.8,op=1,sha=00:0f:10:11:12:13,tha=00:14:15:16:17:18)
    assert!(has(
        &tolerant("keys.hex", 82),
        &KeyAttr::Arp(ArpKey {
            sip: Ipv4Addr::new(1, 2, 3, 4),
            tip: Ipv4Addr::new(5, 6, 7, 8),
            op: 1,
            sha: [0, 0x0f, 0x10, 0x11, 0x12, 0x13],
            tha: [0, 0x14, 0x15, 0x16, 0x17, 0x18]
        })
    ));
    // keys.in:19 icmpv6(type=136,code=0),nd(target=::3,sll=00:05:06:07:08:09,
    // tll=00:0a:0b:0c:0d:0e),nd_ext(nd_reserved=0x0,nd_options_type=2)
    let a = tolerant("keys.hex", 19);
    assert!(has(&a, &KeyAttr::Icmpv6(IcmpKey { ty: 136, code: 0 })));
    assert!(has(
        &a,
        &KeyAttr::Nd(NdKey {
            target: "::3".parse().unwrap(),
            sll: [0, 5, 6, 7, 8, 9],
            tll: [0, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e]
        })
    ));
    assert!(has(
        &a,
        &KeyAttr::NdExtensions(NdExtKey {
            reserved: 0,
            options_type: 2
        })
    ));
}

#[test]
fn decoded_values_match_the_text_metadata_vlan_ct() {
    use odp::key::*;
    use std::net::Ipv4Addr;
    // wc-keys.in:121 skb_priority(0x1234),...,skb_mark(0x1234/0xfff0),
    // eth_type(0x8100),vlan(vid=99,pcp=7),encap(eth_type(0x86dd),...)
    let key = buffer("wc-keys.hex", 121, "key");
    let (k, _) = key::decode_keys(&key, Mode::Tolerant).unwrap();
    assert!(has(&k, &KeyAttr::Priority(0x1234)));
    assert!(has(&k, &KeyAttr::SkbMark(0x1234)));
    assert!(has(&k, &KeyAttr::Vlan(0x1000 | (7 << 13) | 99)));
    let inner = k
        .iter()
        .find_map(|a| match a {
            KeyAttr::Encap(v) => Some(v),
            _ => None,
        })
        .unwrap();
    assert!(has(inner, &KeyAttr::Ethertype(0x86dd)));
    let m = key::decode_mask(&buffer("wc-keys.hex", 121, "mask"), &k, Mode::Strict).unwrap();
    assert!(has(&m, &KeyAttr::SkbMark(0xfff0)));
    assert!(has(&m, &KeyAttr::Priority(0xffff_ffff)));

    // wc-keys.in:124 ct_state(+trk),ct_zone(0x5/0xff),ct_mark(0x10305070/0xf0f0f0f0),
    // ct_tuple4(src=10.10.10.10,dst=20.20.20.20,proto=17,tp_src=1,tp_dst=2)
    let (k, _) = key::decode_keys(&buffer("wc-keys.hex", 124, "key"), Mode::Strict).unwrap();
    assert!(has(&k, &KeyAttr::CtState(odp::abi::OVS_CS_F_TRACKED)));
    assert!(has(&k, &KeyAttr::CtZone(5)));
    assert!(has(&k, &KeyAttr::CtMark(0x1030_5070)));
    assert!(has(
        &k,
        &KeyAttr::CtOrigTupleIpv4(CtTupleIpv4 {
            src: Ipv4Addr::new(10, 10, 10, 10),
            dst: Ipv4Addr::new(20, 20, 20, 20),
            src_port: 1,
            dst_port: 2,
            proto: 17
        })
    ));
    let m = key::decode_mask(&buffer("wc-keys.hex", 124, "mask"), &k, Mode::Tolerant).unwrap();
    assert!(has(&m, &KeyAttr::CtZone(0xff)));
    assert!(has(&m, &KeyAttr::CtMark(0xf0f0_f0f0)));
}

#[test]
fn decoded_values_match_the_text_tunnels() {
    use odp::key::TunnelAttr;
    use std::net::Ipv4Addr;
    // keys.in:39 tunnel(tun_id=0x7f10354,src=10.10.10.10,dst=20.20.20.20,ttl=64,
    // flags(csum|key)),...,skb_mark(0x1234)
    let a = tolerant("keys.hex", 39);
    assert!(has(&a, &KeyAttr::SkbMark(0x1234)));
    let t = tunnel(&a);
    assert!(t.contains(&TunnelAttr::Id(0x7f10354)));
    assert!(t.contains(&TunnelAttr::Ipv4Src(Ipv4Addr::new(10, 10, 10, 10))));
    assert!(t.contains(&TunnelAttr::Ipv4Dst(Ipv4Addr::new(20, 20, 20, 20))));
    assert!(t.contains(&TunnelAttr::Ttl(64)));
    assert!(t.contains(&TunnelAttr::Csum));
    // keys.in:212 tunnel(tun_id=0xfedcba9876543210,...,erspan(ver=2,dir=1,hwid=0x7),flags(df|key))
    let a = tolerant("keys.hex", 212);
    let t = tunnel(&a);
    assert!(t.contains(&TunnelAttr::Id(0xfedc_ba98_7654_3210)));
    assert!(t.contains(&TunnelAttr::DontFragment));
    assert!(t
        .iter()
        .any(|x| matches!(x, TunnelAttr::ErspanOpts(md) if md.version == 2)));
    // wc-keys.in:17 vxlan(gbp(id=10/0xff,flags=0xb)): GBP is flags << 16 | id, host order.
    let k = tolerant("wc-keys.hex", 17);
    assert!(tunnel(&k).contains(&TunnelAttr::VxlanOpts(Some(0x000b_000a))));
    let m = key::decode_mask(&buffer("wc-keys.hex", 17, "mask"), &k, Mode::Strict).unwrap();
    assert!(tunnel(&m).contains(&TunnelAttr::VxlanOpts(Some(0x00ff_00ff))));
    // wc-keys.in:50 geneve({class=0,type=0,len=4,0xa/0xff}{class=0xffff,type=0x1,len=4,0xffffffff})
    let k = tolerant("wc-keys.hex", 50);
    let opts = [
        0, 0, 0, 1, 0, 0, 0, 0x0a, 0xff, 0xff, 1, 1, 0xff, 0xff, 0xff, 0xff,
    ];
    assert!(tunnel(&k).contains(&TunnelAttr::GeneveOpts(opts.to_vec())));
}
