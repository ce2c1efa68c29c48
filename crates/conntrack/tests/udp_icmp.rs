use conntrack::{Conntrack, CtAction};

use crate::common::*;
use crate::cs::*;

const C: [u8; 4] = [10, 1, 1, 1];
const S: [u8; 4] = [10, 1, 1, 2];

fn commit() -> CtAction {
    CtAction {
        commit: true,
        ..Default::default()
    }
}

fn st(ct: &Conntrack, mut p: Vec<u8>) -> u8 {
    let mut m = md();
    ct.execute(&mut p, &mut m, &commit(), 0, 0);
    m.ct_state
}

#[test]
fn udp_new_reply_established() {
    let ct = Conntrack::default();
    assert_eq!(st(&ct, udp4(C, 5000, S, 53, b"q")), TRK | NEW);
    assert_eq!(st(&ct, udp4(C, 5000, S, 53, b"q")), TRK | NEW);
    assert_eq!(st(&ct, udp4(S, 53, C, 5000, b"a")), TRK | EST | RPL);
    assert_eq!(st(&ct, udp4(C, 5000, S, 53, b"q")), TRK | EST);
    // Unreplied: 30 s; after a reply within 2 s: still 30 s, not assured.
    let e = &ct.dump(None, 0)[0];
    assert_eq!(e.timeout, 30);
    assert_eq!(e.status & 4, 0);
}

#[test]
fn udp_stream_gets_assured_and_the_long_timeout() {
    let ct = Conntrack::default();
    let run = |p: Vec<u8>, now| {
        let mut p = p;
        let mut m = md();
        ct.execute(&mut p, &mut m, &commit(), 0, now);
    };
    run(udp4(C, 5001, S, 53, b"q"), 0);
    run(udp4(S, 53, C, 5001, b"a"), 100);
    run(udp4(C, 5001, S, 53, b"q"), 3000);
    let e = &ct.dump(None, 3000)[0];
    assert_eq!(e.timeout, 120);
    assert_ne!(e.status & 4, 0, "ASSURED");
}

#[test]
fn icmp_echo_is_a_connection() {
    let ct = Conntrack::default();
    assert_eq!(st(&ct, icmp4(C, S, 8, 0, 0x1234_0001, b"ping")), TRK | NEW);
    assert_eq!(
        st(&ct, icmp4(S, C, 0, 0, 0x1234_0001, b"ping")),
        TRK | EST | RPL
    );
    assert_eq!(
        ct.dump_text(None, false, false, 0),
        "icmp,orig=(src=10.1.1.1,dst=10.1.1.2,id=4660,type=8,code=0),reply=(src=10.1.1.2,dst=10.1.1.1,id=4660,type=0,code=0)\n"
    );
    // An echo reply nobody asked for is invalid, and so is a type that
    // cannot start a connection.
    assert_eq!(st(&ct, icmp4(S, C, 0, 0, 0x9999_0001, b"x")), TRK | INV);
    assert_eq!(st(&ct, icmp4(S, C, 9, 0, 0, b"")), TRK | INV);
}

#[test]
fn icmp_port_unreachable_is_related_reply() {
    let ct = Conntrack::default();
    let q = udp4(C, 5002, S, 53, b"query");
    st(&ct, q.clone());
    // The server's host answers with port unreachable, quoting the query.
    let quoted = l3(&q)[..28].to_vec();
    let mut m = md();
    let mut e = icmp4(S, C, 3, 3, 0, &quoted);
    ct.execute(&mut e, &mut m, &CtAction::default(), 0, 0);
    assert_eq!(m.ct_state, TRK | REL | RPL);
    // The key's original tuple is the UDP connection's.
    assert_eq!((m.ct_nw_proto, m.ct_tp_src, m.ct_tp_dst), (17, 5002, 53));
    // An error quoting an unknown flow is invalid.
    let other = udp4(C, 5003, S, 53, b"query");
    let mut e = icmp4(S, C, 3, 3, 0, &l3(&other)[..28]);
    let mut m = md();
    ct.execute(&mut e, &mut m, &CtAction::default(), 0, 0);
    assert_eq!(m.ct_state, TRK | INV);
}

const C6: u128 = 0xfd00 << 112 | 1;
const S6: u128 = 0xfd00 << 112 | 2;

#[test]
fn icmpv6_echo_and_errors() {
    let ct = Conntrack::default();
    assert_eq!(st(&ct, icmp6(C6, S6, 128, 0, 0x0042_0001, b"p")), TRK | NEW);
    assert_eq!(
        st(&ct, icmp6(S6, C6, 129, 0, 0x0042_0001, b"p")),
        TRK | EST | RPL
    );
    let q = udp6(C6, 7000, S6, 7001, b"data");
    assert_eq!(st(&ct, q.clone()), TRK | NEW);
    let mut e = icmp6(S6, C6, 1, 4, 0, l3(&q));
    let mut m = md();
    ct.execute(&mut e, &mut m, &CtAction::default(), 0, 0);
    assert_eq!(m.ct_state, TRK | REL | RPL);
    assert_eq!(m.ct_ipv6_src, C6);
    // Neighbour discovery is not tracked.
    let mut ns = icmp6(C6, S6, 135, 0, 0, &[0u8; 16]);
    let mut m = md();
    ct.execute(&mut ns, &mut m, &CtAction::default(), 0, 0);
    assert_eq!(m.ct_state, TRK | INV);
}

#[test]
fn other_protocols_are_generic() {
    let ct = Conntrack::default();
    let gre = ipv4(C, S, 47, &[0, 0, 0x08, 0x00], None);
    assert_eq!(st(&ct, gre), TRK | NEW);
    let gre_back = ipv4(S, C, 47, &[0, 0, 0x08, 0x00], None);
    assert_eq!(st(&ct, gre_back), TRK | EST | RPL);
    assert_eq!(ct.dump(None, 0)[0].timeout, 600);
    assert!(ct
        .dump_text(None, false, false, 0)
        .starts_with("47,orig=(src=10.1.1.1,dst=10.1.1.2,sport=0,dport=0)"));
}

#[test]
fn non_ip_and_garbage_are_invalid() {
    let ct = Conntrack::default();
    let mut arp = vec![0u8; 42];
    arp[12] = 0x08;
    arp[13] = 0x06;
    let mut m = md();
    ct.execute(&mut arp, &mut m, &commit(), 3, 0);
    assert_eq!((m.ct_state, m.ct_zone), (TRK | INV, 3));
    let mut bad = udp4(C, 1, S, 2, b"x");
    bad[14] = 0x4f; // IHL beyond the packet
    let mut m = md();
    ct.execute(&mut bad, &mut m, &commit(), 0, 0);
    assert_eq!(m.ct_state, TRK | INV);
}
