use conntrack::nat::{Manip, NatRange};
use conntrack::{Conntrack, CtAction, NatAction, Verdict};

use crate::common::*;
use crate::cs::*;

const C: [u8; 4] = [10, 1, 1, 1];
const C2: [u8; 4] = [10, 1, 1, 3];
const S: [u8; 4] = [10, 2, 2, 2];

fn snat(lo: [u8; 4], hi: [u8; 4], ports: Option<(u16, u16)>) -> CtAction {
    CtAction {
        commit: true,
        nat: Some(NatAction {
            kind: Some(Manip::Src),
            range: NatRange {
                map_ips: true,
                min_addr: v4(lo),
                max_addr: v4(hi),
                proto_specified: ports.is_some(),
                min_port: ports.map_or(0, |p| p.0),
                max_port: ports.map_or(0, |p| p.1),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

fn nat_only() -> CtAction {
    CtAction {
        nat: Some(NatAction {
            kind: None,
            range: NatRange::default(),
        }),
        ..Default::default()
    }
}

fn src_of(p: &[u8]) -> ([u8; 4], u16) {
    let ip = l3(p);
    (
        [ip[12], ip[13], ip[14], ip[15]],
        u16::from_be_bytes([ip[20], ip[21]]),
    )
}

fn dst_of(p: &[u8]) -> ([u8; 4], u16) {
    let ip = l3(p);
    (
        [ip[16], ip[17], ip[18], ip[19]],
        u16::from_be_bytes([ip[22], ip[23]]),
    )
}

#[test]
fn snat_rewrites_and_reverses() {
    let ct = Conntrack::default();
    let a = snat([10, 9, 9, 1], [10, 9, 9, 1], None);
    let mut p = tcp4(C, 40000, S, 80, 100, 0, SYN, b"");
    let mut m = md();
    assert_eq!(
        ct.execute(&mut p, &mut m, &a, 0, 0).verdict,
        Verdict::Continue
    );
    assert_eq!(m.ct_state, TRK | NEW | SNAT);
    // What the server sees: the NAT address, the port kept (it was free).
    assert_eq!(src_of(&p), ([10, 9, 9, 1], 40000));
    assert!(checksums_ok(&p));
    assert_eq!(m.nw_src, 0x0a09_0901);
    // The original tuple stays the client's.
    assert_eq!(m.ct_nw_src, 0x0a01_0101);
    // The server's reply, through ct(nat): translated back, +dnat.
    let mut r = tcp4(S, 80, [10, 9, 9, 1], 40000, 500, 101, SYN | ACK, b"");
    let mut m = md();
    ct.execute(&mut r, &mut m, &nat_only(), 0, 0);
    assert_eq!(m.ct_state, TRK | EST | RPL | DNAT);
    assert_eq!(dst_of(&r), (C, 40000));
    assert!(checksums_ok(&r));
    assert_eq!(
        ct.dump_text(None, false, false, 0),
        "tcp,orig=(src=10.1.1.1,dst=10.2.2.2,sport=40000,dport=80),reply=(src=10.2.2.2,dst=10.9.9.1,sport=80,dport=40000),protoinfo=(state=ESTABLISHED)\n"
    );
    // Later client packets through ct(nat): +est+snat.
    let mut p = tcp4(C, 40000, S, 80, 101, 501, ACK, b"");
    let mut m = md();
    ct.execute(&mut p, &mut m, &nat_only(), 0, 0);
    assert_eq!(m.ct_state, TRK | EST | SNAT);
    assert_eq!(src_of(&p).0, [10, 9, 9, 1]);
}

#[test]
fn snat_port_collisions_and_exhaustion() {
    let ct = Conntrack::default();
    // One address, four ports: the kernel picks the address first (by a
    // hash) and searches ports only within it.
    let a = snat([10, 9, 9, 1], [10, 9, 9, 1], Some((1000, 1003)));
    let mut seen = std::collections::HashSet::new();
    for i in 0..4u8 {
        let mut p = udp4([10, 1, 1, 10 + i], 5555, S, 53, b"q");
        let mut m = md();
        assert_eq!(
            ct.execute(&mut p, &mut m, &a, 0, 0).verdict,
            Verdict::Continue
        );
        let (addr, port) = src_of(&p);
        assert_eq!(addr, [10, 9, 9, 1]);
        assert!((1000..=1003).contains(&port), "{port}");
        assert!(seen.insert((addr, port)), "tuple reused: {addr:?}:{port}");
        assert!(checksums_ok(&p));
    }
    // All four ports are taken: the fifth is dropped.
    let mut p = udp4([10, 1, 1, 99], 5555, S, 53, b"q");
    let mut m = md();
    assert_eq!(ct.execute(&mut p, &mut m, &a, 0, 0).verdict, Verdict::Drop);
    assert_eq!(ct.n_conns(), 4);
}

#[test]
fn snat_keeps_the_source_port_when_free_and_moves_it_on_collision() {
    let ct = Conntrack::default();
    let a = snat([10, 9, 9, 1], [10, 9, 9, 1], None);
    let mut p1 = udp4(C, 5000, S, 53, b"q");
    ct.execute(&mut p1, &mut md(), &a, 0, 0);
    assert_eq!(src_of(&p1), ([10, 9, 9, 1], 5000));
    let mut p2 = udp4(C2, 5000, S, 53, b"q");
    ct.execute(&mut p2, &mut md(), &a, 0, 0);
    let (addr, port) = src_of(&p2);
    assert_eq!(addr, [10, 9, 9, 1]);
    assert_ne!(port, 5000);
    assert!(
        port >= 1024,
        "ephemeral range for a port above 1023: {port}"
    );
    // A port below 512 stays below 512.
    let mut p3 = udp4(C, 123, S, 123, b"q");
    let mut p4 = udp4(C2, 123, S, 123, b"q");
    ct.execute(&mut p3, &mut md(), &a, 0, 0);
    ct.execute(&mut p4, &mut md(), &a, 0, 0);
    let (_, port) = src_of(&p4);
    assert!((1..512).contains(&port), "{port}");
}

#[test]
fn persistent_snat_maps_a_client_to_one_address() {
    let ct = Conntrack::default();
    let mut a = snat([10, 9, 9, 1], [10, 9, 9, 200], None);
    if let Some(n) = &mut a.nat {
        n.range.persistent = true;
    }
    let mut first = None;
    for d in 1..20u8 {
        let mut p = udp4(C, 6000, [10, 2, 2, d], 53, b"q");
        ct.execute(&mut p, &mut md(), &a, 0, 0);
        let (addr, _) = src_of(&p);
        assert_eq!(*first.get_or_insert(addr), addr);
    }
}

#[test]
fn dnat_with_port_range() {
    let ct = Conntrack::default();
    let a = CtAction {
        commit: true,
        nat: Some(NatAction {
            kind: Some(Manip::Dst),
            range: NatRange {
                map_ips: true,
                min_addr: v4([10, 3, 3, 3]),
                max_addr: v4([10, 3, 3, 3]),
                proto_specified: true,
                min_port: 8080,
                max_port: 8081,
                ..Default::default()
            },
        }),
        ..Default::default()
    };
    let vip = [10, 0, 0, 100];
    let mut p = tcp4(C, 40001, vip, 80, 1, 0, SYN, b"");
    let mut m = md();
    ct.execute(&mut p, &mut m, &a, 0, 0);
    // The kernel's null SNAT binding after DNAT gives +snat too.
    assert_eq!(m.ct_state, TRK | NEW | DNAT | SNAT);
    assert_eq!(dst_of(&p), ([10, 3, 3, 3], 8080));
    assert_eq!(src_of(&p), (C, 40001));
    assert!(checksums_ok(&p));
    let mut r = tcp4([10, 3, 3, 3], 8080, C, 40001, 9, 2, SYN | ACK, b"");
    let mut m = md();
    ct.execute(&mut r, &mut m, &nat_only(), 0, 0);
    assert_eq!(m.ct_state, TRK | EST | RPL | SNAT);
    assert_eq!(src_of(&r), (vip, 80));
    assert!(checksums_ok(&r));
}

#[test]
fn zero_snat_moves_the_port_only_on_collision() {
    let ct = Conntrack::default();
    let dnat = CtAction {
        commit: true,
        nat: Some(NatAction {
            kind: Some(Manip::Dst),
            range: NatRange {
                map_ips: true,
                min_addr: v4(S),
                max_addr: v4(S),
                ..Default::default()
            },
        }),
        ..Default::default()
    };
    // A DNATed connection whose reply tuple is S:80 -> C:7000.
    let mut p = tcp4(C, 7000, [10, 0, 0, 50], 80, 1, 0, SYN, b"");
    ct.execute(&mut p, &mut md(), &dnat, 0, 0);
    // A direct connection with the same reply tuple: a plain commit
    // clashes and is dropped ...
    let mut q = tcp4(C, 7000, S, 80, 1, 0, SYN, b"");
    let mut m = md();
    let plain = CtAction {
        commit: true,
        ..Default::default()
    };
    assert_eq!(
        ct.execute(&mut q, &mut m, &plain, 0, 0).verdict,
        Verdict::Drop
    );
    // ... while nat(src=0.0.0.0) keeps the address and moves the port.
    let zero = snat([0, 0, 0, 0], [0, 0, 0, 0], None);
    let mut q = tcp4(C, 7000, S, 80, 1, 0, SYN, b"");
    let mut m = md();
    assert_eq!(
        ct.execute(&mut q, &mut m, &zero, 0, 0).verdict,
        Verdict::Continue
    );
    let (addr, port) = src_of(&q);
    assert_eq!(addr, C);
    assert_ne!(port, 7000);
    // Without a collision nothing changes.
    let mut r = tcp4(C, 7001, S, 80, 1, 0, SYN, b"");
    ct.execute(&mut r, &mut md(), &zero, 0, 0);
    assert_eq!(src_of(&r), (C, 7001));
}

#[test]
fn icmp_error_inner_header_is_translated() {
    let ct = Conntrack::default();
    let a = snat([10, 9, 9, 1], [10, 9, 9, 1], Some((2000, 2000)));
    let mut q = udp4(C, 5000, S, 53, b"query");
    ct.execute(&mut q, &mut md(), &a, 0, 0);
    assert_eq!(src_of(&q), ([10, 9, 9, 1], 2000));
    // The server's unreachable quotes the translated query.
    let mut e = icmp4(S, [10, 9, 9, 1], 3, 3, 0, &l3(&q)[..28]);
    let mut m = md();
    ct.execute(&mut e, &mut m, &nat_only(), 0, 0);
    assert_eq!(m.ct_state, TRK | REL | RPL | DNAT);
    let ip = l3(&e);
    assert_eq!(&ip[16..20], &C, "outer destination back to the client");
    let inner = &ip[28..];
    assert_eq!(&inner[12..16], &C, "quoted source back to the client");
    assert_eq!(u16::from_be_bytes([inner[20], inner[21]]), 5000);
    assert!(checksums_ok(&e));
}

#[test]
fn ipv6_snat() {
    let ct = Conntrack::default();
    let c6: u128 = 0xfd00 << 112 | 1;
    let s6: u128 = 0xfd00 << 112 | 2;
    let n6: u128 = 0xfd00 << 112 | 0x99;
    let a = CtAction {
        commit: true,
        nat: Some(NatAction {
            kind: Some(Manip::Src),
            range: NatRange {
                map_ips: true,
                min_addr: n6,
                max_addr: n6,
                ..Default::default()
            },
        }),
        ..Default::default()
    };
    let mut p = udp6(c6, 1000, s6, 2000, b"x");
    let mut m = md();
    ct.execute(&mut p, &mut m, &a, 0, 0);
    assert_eq!(m.ct_state, TRK | NEW | SNAT);
    assert_eq!(&l3(&p)[8..24], &n6.to_be_bytes());
    assert!(checksums_ok(&p));
    let mut r = udp6(s6, 2000, n6, 1000, b"y");
    let mut m = md();
    ct.execute(&mut r, &mut m, &nat_only(), 0, 0);
    assert_eq!(m.ct_state, TRK | EST | RPL | DNAT);
    assert_eq!(&l3(&r)[24..40], &c6.to_be_bytes());
    assert!(checksums_ok(&r));
}

fn zone1(mut a: CtAction) -> (CtAction, u16) {
    a.zone = 1;
    (a, 1)
}

/// OVS's "SNAT with ct_mark change on reply": a reply translated back by
/// `ct(nat)` goes through `ct(commit)` again in the same zone; the second
/// `ct` finds the connection (its key says +trk in this zone, the tuple is
/// inverted because NAT changed it) and sets the mark on it.
#[test]
fn commit_after_reverse_nat_finds_the_connection() {
    let ct = Conntrack::default();
    const N: [u8; 4] = [10, 1, 1, 240];
    let (a, z) = zone1(snat(N, N, None));
    let mut p = icmp4(C, S, 8, 0, 0x1234_0001, b"ping");
    let mut m = md();
    ct.execute(&mut p, &mut m, &a, z, 0);
    assert_eq!(m.ct_state, TRK | NEW | SNAT);
    let mut r = icmp4(S, N, 0, 0, 0x1234_0001, b"ping");
    let mut m = md();
    let (back, z) = zone1(nat_only());
    ct.execute(&mut r, &mut m, &back, z, 0);
    assert_eq!(m.ct_state, TRK | EST | RPL | DNAT);
    let (mark, z) = zone1(CtAction {
        commit: true,
        mark: Some((1, u32::MAX)),
        ..Default::default()
    });
    ct.execute(&mut r, &mut m, &mark, z, 0);
    assert_eq!(m.ct_mark, 1);
    assert_eq!(ct.n_conns(), 1);
    let d = ct.dump_text(None, false, false, 0);
    assert!(d.contains(",zone=1,mark=1"), "{d}");
}

/// OVS's "DNAT with additional SNAT": once a connection is committed with
/// destination NAT, its source binding is set up as the identity (the
/// kernel's `nf_nat_alloc_null_binding`), so a later `ct(commit,nat(src))`
/// on it changes nothing.
#[test]
fn snat_after_dnat_commit_is_a_null_binding() {
    let ct = Conntrack::default();
    const VIP: [u8; 4] = [172, 1, 1, 2];
    let dnat = CtAction {
        commit: true,
        nat: Some(NatAction {
            kind: Some(Manip::Dst),
            range: NatRange {
                map_ips: true,
                min_addr: v4(S),
                max_addr: v4(S),
                proto_specified: true,
                min_port: 80,
                max_port: 80,
                ..Default::default()
            },
        }),
        ..Default::default()
    };
    let mut p = tcp4(C, 40000, VIP, 8080, 100, 0, SYN, b"");
    let mut m = md();
    ct.execute(&mut p, &mut m, &dnat, 0, 0);
    // The identity source binding counts as source NAT done on the key
    // (the kernel's `nf_ct_nat` reports both manips).
    assert_eq!(m.ct_state, TRK | NEW | DNAT | SNAT);
    assert_eq!(dst_of(&p), (S, 80));
    let mut then = snat([10, 1, 1, 240], [10, 1, 1, 240], None);
    then.mark = Some((0xac, u32::MAX));
    ct.execute(&mut p, &mut m, &then, 0, 0);
    assert_eq!(src_of(&p), (C, 40000), "no source NAT");
    assert_eq!(dst_of(&p), (S, 80));
    assert_eq!(m.ct_mark, 0xac);
    let d = ct.dump_text(None, false, false, 0);
    assert!(
        d.contains("reply=(src=10.2.2.2,dst=10.1.1.1,sport=80,dport=40000)"),
        "{d}"
    );
}
