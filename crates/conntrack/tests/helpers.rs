use conntrack::helper::Helper;
use conntrack::nat::{Manip, NatRange};
use conntrack::{Conntrack, CtAction, NatAction};

use crate::common::*;
use crate::cs::*;

const C: [u8; 4] = [10, 1, 1, 1];
const S: [u8; 4] = [10, 2, 2, 2];
const N: [u8; 4] = [10, 1, 1, 240];

fn ftp_snat() -> CtAction {
    CtAction {
        commit: true,
        helper: Some(Helper::Ftp),
        nat: Some(NatAction {
            kind: Some(Manip::Src),
            range: NatRange {
                map_ips: true,
                min_addr: v4(N),
                max_addr: v4(N),
                ..Default::default()
            },
        }),
        ..Default::default()
    }
}

fn nat_commit() -> CtAction {
    CtAction {
        commit: true,
        nat: Some(NatAction {
            kind: None,
            range: NatRange::default(),
        }),
        ..Default::default()
    }
}

fn payload(p: &[u8]) -> &[u8] {
    let ip = l3(p);
    let hl = usize::from(ip[20 + 12] >> 4) * 4;
    &ip[20 + hl..]
}

fn seq_ack(p: &[u8]) -> (u32, u32) {
    let t = &l3(p)[20..];
    (
        u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
        u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
    )
}

#[test]
fn ftp_active_through_snat_rewrites_port_and_adjusts_sequences() {
    let ct = Conntrack::default();
    let a = ftp_snat();
    let run = |p: &mut Vec<u8>, act: &CtAction| {
        let mut m = md();
        ct.execute(p, &mut m, act, 0, 0);
        m.ct_state
    };
    run(&mut tcp4(C, 40000, S, 21, 100, 0, SYN, b""), &a);
    run(&mut tcp4(S, 21, N, 40000, 500, 101, SYN | ACK, b""), &a);
    run(&mut tcp4(C, 40000, S, 21, 101, 501, ACK, b""), &a);
    // PORT 10,1,1,1,39,16 (port 10000): announced as the NAT address,
    // two bytes longer.
    let cmd = b"PORT 10,1,1,1,39,16\r\n";
    let mut p = tcp4(C, 40000, S, 21, 101, 501, ACK | PSH, cmd);
    assert_eq!(run(&mut p, &a), TRK | EST | SNAT);
    assert_eq!(payload(&p), b"PORT 10,1,1,240,39,16\r\n");
    assert!(checksums_ok(&p));
    assert_eq!(seq_ack(&p).0, 101);
    // The server acknowledges the longer command: its ACK is mapped back.
    let mut r = tcp4(
        S,
        21,
        N,
        40000,
        501,
        101 + cmd.len() as u32 + 2,
        ACK,
        b"200 OK\r\n",
    );
    assert_eq!(run(&mut r, &a), TRK | EST | RPL | DNAT);
    assert_eq!(seq_ack(&r).1, 101 + cmd.len() as u32);
    assert!(checksums_ok(&r));
    // The client's next segment is shifted forward.
    let mut p = tcp4(
        C,
        40000,
        S,
        21,
        101 + cmd.len() as u32,
        509,
        ACK,
        b"LIST\r\n",
    );
    run(&mut p, &a);
    assert_eq!(seq_ack(&p).0, 101 + cmd.len() as u32 + 2);
    assert!(checksums_ok(&p));
    // The server's data connection to the announced address is related,
    // and NAT brings it to the client.
    let mut d = tcp4(S, 20, N, 10000, 7000, 0, SYN, b"");
    let mut m = md();
    ct.execute(&mut d, &mut m, &CtAction::default(), 0, 0);
    assert_eq!(m.ct_state, TRK | NEW | REL);
    assert_eq!((m.ct_tp_src, m.ct_tp_dst), (40000, 21), "master's tuple");
    let mut d = tcp4(S, 20, N, 10000, 7000, 0, SYN, b"");
    let mut m = md();
    ct.execute(&mut d, &mut m, &nat_commit(), 0, 0);
    assert_eq!(m.ct_state & (TRK | NEW | REL), TRK | NEW | REL);
    assert_eq!(&l3(&d)[16..20], &C);
    assert!(checksums_ok(&d));
    let dump = ct.dump_text(None, true, false, 0);
    assert!(dump.contains("helper=ftp"), "{dump}");
    assert!(
        dump.contains("parent=(src=10.1.1.1,dst=10.2.2.2,sport=40000,dport=21)"),
        "{dump}"
    );
}

#[test]
fn ftp_passive_without_nat_expects_the_client() {
    let ct = Conntrack::default();
    let a = CtAction {
        commit: true,
        helper: Some(Helper::Ftp),
        ..Default::default()
    };
    let run = |p: &mut Vec<u8>| {
        let mut m = md();
        ct.execute(p, &mut m, &a, 0, 0);
        m.ct_state
    };
    run(&mut tcp4(C, 40001, S, 21, 100, 0, SYN, b""));
    run(&mut tcp4(S, 21, C, 40001, 500, 101, SYN | ACK, b""));
    run(&mut tcp4(C, 40001, S, 21, 101, 501, ACK, b""));
    let msg = b"227 Entering Passive Mode (10,2,2,2,200,10)\r\n";
    let mut r = tcp4(S, 21, C, 40001, 501, 101, ACK | PSH, msg);
    assert_eq!(run(&mut r), TRK | EST | RPL);
    assert_eq!(payload(&r), msg, "no NAT, no rewrite");
    let mut d = tcp4(C, 40100, S, 200 * 256 + 10, 1, 0, SYN, b"");
    let mut m = md();
    ct.execute(&mut d, &mut m, &CtAction::default(), 0, 0);
    assert_eq!(m.ct_state, TRK | NEW | REL);
    // Unrelated ports are not.
    let mut d = tcp4(C, 40100, S, 1234, 1, 0, SYN, b"");
    let mut m = md();
    ct.execute(&mut d, &mut m, &CtAction::default(), 0, 0);
    assert_eq!(m.ct_state, TRK | NEW);
}

#[test]
fn ftp_command_parsing() {
    use conntrack::helper::ftp::{find_command, Kind};
    use conntrack::state::Dir;
    let c = find_command(b"EPRT |1|10.0.0.1|6275|\r\n", Dir::Original).unwrap();
    assert_eq!(
        (c.kind, c.addr, c.port),
        (Kind::Eprt, Some(0x0a00_0001), 6275)
    );
    let c = find_command(
        b"229 Entering Extended Passive Mode (|||6446|)\r\n",
        Dir::Reply,
    )
    .unwrap();
    assert_eq!((c.kind, c.port), (Kind::Epsv, 6446));
    assert!(find_command(b"PORT 300,1,1,1,1,1\r\n", Dir::Original).is_none());
    assert!(find_command(b"USER x\r\nPORT 1,2,3,4,0,21\r\n", Dir::Original).is_some());
}

#[test]
fn tftp_reply_is_related() {
    let ct = Conntrack::default();
    let a = CtAction {
        commit: true,
        helper: Some(Helper::Tftp),
        ..Default::default()
    };
    let mut rrq = udp4(C, 1234, S, 69, b"\x00\x01file\x00octet\x00");
    let mut m = md();
    ct.execute(&mut rrq, &mut m, &a, 0, 0);
    assert_eq!(m.ct_state, TRK | NEW);
    let mut data = udp4(S, 5555, C, 1234, b"\x00\x03\x00\x01data");
    let mut m = md();
    ct.execute(&mut data, &mut m, &CtAction::default(), 0, 0);
    assert_eq!(m.ct_state, TRK | NEW | REL);
    let mut m = md();
    let mut data = udp4(S, 5555, C, 1234, b"\x00\x03\x00\x01data");
    ct.execute(
        &mut data,
        &mut m,
        &CtAction {
            commit: true,
            ..Default::default()
        },
        0,
        0,
    );
    assert_eq!(m.ct_state, TRK | NEW | REL);
    let mut ack = udp4(C, 1234, S, 5555, b"\x00\x04\x00\x01");
    let mut m = md();
    ct.execute(&mut ack, &mut m, &CtAction::default(), 0, 0);
    assert_eq!(m.ct_state, TRK | EST | RPL | REL);
}
