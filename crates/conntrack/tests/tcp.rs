use conntrack::{Conntrack, CtAction, Verdict};

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

/// Runs `pkt` through `ct(commit)` with a fresh key; returns ct_state.
fn run(ct: &Conntrack, pkt: &mut Vec<u8>, act: &CtAction, now: u64) -> u8 {
    let mut m = md();
    let r = ct.execute(pkt, &mut m, act, 0, now);
    assert_eq!(r.verdict, Verdict::Continue);
    m.ct_state
}

#[test]
fn handshake_data_fin() {
    let ct = Conntrack::default();
    let a = commit();
    let t = 1000;
    // SYN: +new+trk.
    assert_eq!(
        run(&ct, &mut tcp4(C, 40000, S, 80, 100, 0, SYN, b""), &a, t),
        TRK | NEW
    );
    // SYN-ACK (reply): +est+rpl+trk.
    assert_eq!(
        run(
            &ct,
            &mut tcp4(S, 80, C, 40000, 500, 101, SYN | ACK, b""),
            &a,
            t
        ),
        TRK | EST | RPL
    );
    // ACK: +est+trk.
    assert_eq!(
        run(&ct, &mut tcp4(C, 40000, S, 80, 101, 501, ACK, b""), &a, t),
        TRK | EST
    );
    assert!(ct
        .dump_text(None, false, false, t)
        .contains("protoinfo=(state=ESTABLISHED)"));
    // Data both ways.
    assert_eq!(
        run(
            &ct,
            &mut tcp4(C, 40000, S, 80, 101, 501, ACK | PSH, b"GET /"),
            &a,
            t
        ),
        TRK | EST
    );
    assert_eq!(
        run(
            &ct,
            &mut tcp4(S, 80, C, 40000, 501, 106, ACK | PSH, b"200"),
            &a,
            t
        ),
        TRK | EST | RPL
    );
    // FIN from the client, FIN from the server, last ACK.
    assert_eq!(
        run(
            &ct,
            &mut tcp4(C, 40000, S, 80, 106, 504, FIN | ACK, b""),
            &a,
            t
        ),
        TRK | EST
    );
    assert_eq!(
        run(
            &ct,
            &mut tcp4(S, 80, C, 40000, 504, 107, FIN | ACK, b""),
            &a,
            t
        ),
        TRK | EST | RPL
    );
    assert_eq!(
        run(&ct, &mut tcp4(C, 40000, S, 80, 107, 505, ACK, b""), &a, t),
        TRK | EST
    );
    let d = ct.dump_text(None, false, false, t);
    assert_eq!(
        d,
        "tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=40000,dport=80),reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=40000),protoinfo=(state=TIME_WAIT)\n"
    );
    // TIME_WAIT lasts 120 s.
    let e = &ct.dump(None, t)[0];
    assert_eq!(e.timeout, 120);
}

#[test]
fn uncommitted_syn_stays_new_and_is_not_stored() {
    let ct = Conntrack::default();
    let a = CtAction::default();
    assert_eq!(
        run(&ct, &mut tcp4(C, 1, S, 80, 100, 0, SYN, b""), &a, 0),
        TRK | NEW
    );
    assert_eq!(
        run(&ct, &mut tcp4(C, 1, S, 80, 100, 0, SYN, b""), &a, 0),
        TRK | NEW
    );
    assert_eq!(ct.n_conns(), 0);
    // The reply to an uncommitted SYN belongs to nothing: a SYN-ACK
    // cannot start a connection.
    assert_eq!(
        run(&ct, &mut tcp4(S, 80, C, 1, 9, 101, SYN | ACK, b""), &a, 0),
        TRK | INV
    );
}

#[test]
fn committed_connection_is_new_until_a_reply() {
    let ct = Conntrack::default();
    let a = commit();
    assert_eq!(
        run(&ct, &mut tcp4(C, 2, S, 80, 100, 0, SYN, b""), &a, 0),
        TRK | NEW
    );
    // A retransmitted SYN of a committed, unreplied connection: +new.
    assert_eq!(
        run(&ct, &mut tcp4(C, 2, S, 80, 100, 0, SYN, b""), &a, 0),
        TRK | NEW
    );
    assert_eq!(ct.n_conns(), 1);
}

#[test]
fn synack_acking_unseen_data_is_invalid() {
    let ct = Conntrack::default();
    let a = commit();
    run(&ct, &mut tcp4(C, 3, S, 80, 100, 0, SYN, b""), &a, 0);
    // The SYN-ACK acknowledges 5000, far beyond what the client sent:
    // "ACK is over upper bound".
    assert_eq!(
        run(
            &ct,
            &mut tcp4(S, 80, C, 3, 500, 5000, SYN | ACK, b""),
            &a,
            0
        ),
        TRK | INV
    );
    // The right one is still accepted.
    assert_eq!(
        run(&ct, &mut tcp4(S, 80, C, 3, 500, 101, SYN | ACK, b""), &a, 0),
        TRK | EST | RPL
    );
}

#[test]
fn out_of_window_before_established_is_invalid_after_is_liberal() {
    let ct = Conntrack::default();
    let a = commit();
    run(&ct, &mut tcp4(C, 4, S, 80, 100, 0, SYN, b""), &a, 0);
    run(&ct, &mut tcp4(S, 80, C, 4, 500, 101, SYN | ACK, b""), &a, 0);
    // SYN_RECV: data far beyond the server's window is invalid.
    let far = 101u32.wrapping_add(10_000_000);
    assert_eq!(
        run(&ct, &mut tcp4(C, 4, S, 80, far, 501, ACK, b"x"), &a, 0),
        TRK | INV
    );
    // Complete the handshake; then the same packet passes, because the
    // openvswitch datapath makes established TCP connections liberal.
    assert_eq!(
        run(&ct, &mut tcp4(C, 4, S, 80, 101, 501, ACK, b""), &a, 0),
        TRK | EST
    );
    assert_eq!(
        run(&ct, &mut tcp4(C, 4, S, 80, 101, 501, ACK, b""), &a, 0),
        TRK | EST
    );
    assert_eq!(
        run(&ct, &mut tcp4(C, 4, S, 80, far, 501, ACK, b"x"), &a, 0),
        TRK | EST
    );
    assert!(ct.dump_text(None, true, false, 0).contains("BE_LIBERAL"));
}

#[test]
fn be_liberal_switch_accepts_window_violations() {
    let ct = Conntrack::default();
    ct.set_tcp_be_liberal(true);
    let a = commit();
    run(&ct, &mut tcp4(C, 5, S, 80, 100, 0, SYN, b""), &a, 0);
    assert_eq!(
        run(
            &ct,
            &mut tcp4(S, 80, C, 5, 500, 5000, SYN | ACK, b""),
            &a,
            0
        ),
        TRK | EST | RPL
    );
}

#[test]
fn rst_closes() {
    let ct = Conntrack::default();
    let a = commit();
    run(&ct, &mut tcp4(C, 6, S, 80, 100, 0, SYN, b""), &a, 0);
    run(&ct, &mut tcp4(S, 80, C, 6, 500, 101, SYN | ACK, b""), &a, 0);
    run(&ct, &mut tcp4(C, 6, S, 80, 101, 501, ACK, b""), &a, 0);
    assert_eq!(
        run(&ct, &mut tcp4(S, 80, C, 6, 501, 101, RST | ACK, b""), &a, 0),
        TRK | EST | RPL
    );
    let e = &ct.dump(None, 0)[0];
    assert_eq!(tcp_state(e), 7, "CLOSING, as OVS names the kernel's CLOSE");
    assert_eq!(e.timeout, 10);
}

#[test]
fn rst_answering_syn_kills_the_connection() {
    let ct = Conntrack::default();
    let a = commit();
    run(&ct, &mut tcp4(C, 7, S, 80, 100, 0, SYN, b""), &a, 0);
    assert_eq!(
        run(&ct, &mut tcp4(S, 80, C, 7, 0, 101, RST | ACK, b""), &a, 0),
        TRK | EST | RPL
    );
    assert_eq!(ct.n_conns(), 0);
}

#[test]
fn bad_flags_checksum_and_truncation_are_invalid() {
    let ct = Conntrack::default();
    let a = commit();
    assert_eq!(
        run(&ct, &mut tcp4(C, 8, S, 80, 1, 0, SYN | FIN, b""), &a, 0),
        TRK | INV
    );
    let mut p = tcp4(C, 8, S, 80, 1, 0, SYN, b"");
    let n = p.len();
    p[n - 3] ^= 0xff;
    assert_eq!(run(&ct, &mut p, &a, 0), TRK | INV);
    let mut p = tcp4(C, 8, S, 80, 1, 0, SYN, b"");
    p.truncate(14 + 20 + 10);
    p[16..18].copy_from_slice(&30u16.to_be_bytes());
    assert_eq!(run(&ct, &mut p, &a, 0), TRK | INV);
    assert_eq!(ct.n_conns(), 0);
}

#[test]
fn loose_pickup_of_a_mid_stream_ack() {
    let ct = Conntrack::default();
    assert_eq!(
        run(
            &ct,
            &mut tcp4(C, 9, S, 80, 1000, 2000, ACK, b"x"),
            &commit(),
            0
        ),
        TRK | NEW
    );
    assert_eq!(
        run(
            &ct,
            &mut tcp4(S, 80, C, 9, 2000, 1001, ACK, b""),
            &commit(),
            0
        ),
        TRK | EST | RPL
    );
}

#[test]
fn reopen_after_time_wait() {
    let ct = Conntrack::default();
    let a = commit();
    run(&ct, &mut tcp4(C, 10, S, 80, 100, 0, SYN, b""), &a, 0);
    run(
        &ct,
        &mut tcp4(S, 80, C, 10, 500, 101, SYN | ACK, b""),
        &a,
        0,
    );
    run(&ct, &mut tcp4(C, 10, S, 80, 101, 501, ACK, b""), &a, 0);
    run(
        &ct,
        &mut tcp4(C, 10, S, 80, 101, 501, FIN | ACK, b""),
        &a,
        0,
    );
    run(
        &ct,
        &mut tcp4(S, 80, C, 10, 501, 102, FIN | ACK, b""),
        &a,
        0,
    );
    run(&ct, &mut tcp4(C, 10, S, 80, 102, 502, ACK, b""), &a, 0);
    // A new SYN on the same ports: the old connection goes, a new one starts.
    assert_eq!(
        run(&ct, &mut tcp4(C, 10, S, 80, 90_000, 0, SYN, b""), &a, 0),
        TRK | NEW
    );
    assert_eq!(tcp_state(&ct.dump(None, 0)[0]), 2);
}

#[test]
fn second_ct_in_the_same_zone_does_not_track_twice() {
    // ct(zone=0) then ct(commit,zone=0) on the same packet: the second
    // finds the connection from the key and keeps the state.
    let ct = Conntrack::default();
    let mut p = tcp4(C, 11, S, 80, 100, 0, SYN, b"");
    let mut m = md();
    ct.execute(&mut p, &mut m, &CtAction::default(), 0, 0);
    assert_eq!(m.ct_state, TRK | NEW);
    ct.execute(&mut p, &mut m, &commit(), 0, 0);
    assert_eq!(m.ct_state, TRK | NEW);
    assert_eq!(ct.n_conns(), 1);
    // The SYN-ACK, looked up twice (ct then ct(commit)): still +est+rpl.
    let mut p = tcp4(S, 80, C, 11, 500, 101, SYN | ACK, b"");
    let mut m = md();
    ct.execute(&mut p, &mut m, &CtAction::default(), 0, 0);
    ct.execute(&mut p, &mut m, &commit(), 0, 0);
    assert_eq!(m.ct_state, TRK | EST | RPL);
    assert_eq!(m.ct_nw_src, 0x0a01_0101);
    assert_eq!((m.ct_tp_src, m.ct_tp_dst, m.ct_nw_proto), (11, 80, 6));
}

/// The OVS TCP state of an entry.
fn tcp_state(e: &dpif::ct::CtEntry) -> u8 {
    match e.protoinfo {
        Some(dpif::ct::CtProtoinfo::Tcp(t)) => t.state_orig,
        _ => panic!("not TCP: {e:?}"),
    }
}
