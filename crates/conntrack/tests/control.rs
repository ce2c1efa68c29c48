use conntrack::timeout::{TimeoutPolicy, Timeouts, TpAttr};
use conntrack::tuple::Tuple;
use conntrack::{Conntrack, CtAction, Verdict};
use dpif::ct::CtFlush as Flush;

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

fn exec(ct: &Conntrack, mut p: Vec<u8>, a: &CtAction, zone: u16, now: u64) -> (Verdict, u8) {
    let mut m = md();
    let r = ct.execute(&mut p, &mut m, a, zone, now);
    (r.verdict, m.ct_state)
}

#[test]
fn zones_are_separate() {
    let ct = Conntrack::default();
    exec(&ct, udp4(C, 1, S, 2, b""), &commit(), 1, 0);
    assert_eq!(
        exec(&ct, udp4(S, 2, C, 1, b""), &commit(), 1, 0).1,
        TRK | EST | RPL
    );
    assert_eq!(
        exec(&ct, udp4(S, 2, C, 1, b""), &commit(), 2, 0).1,
        TRK | NEW
    );
    assert_eq!((ct.zone_conns(1), ct.zone_conns(2)), (1, 1));
    let mut m = md();
    ct.execute(&mut udp4(C, 1, S, 2, b""), &mut m, &commit(), 7, 0);
    assert_eq!(m.ct_zone, 7);
    assert!(ct.dump_text(Some(7), false, false, 0).contains(",zone=7"));
}

#[test]
fn zone_limits_and_maxconns() {
    let ct = Conntrack::default();
    ct.limits().set_zone_limit(5, 2);
    ct.limits().set_default_zone_limit(3);
    for i in 0..2 {
        assert_eq!(
            exec(&ct, udp4(C, 100 + i, S, 2, b""), &commit(), 5, 0).0,
            Verdict::Continue
        );
    }
    assert_eq!(
        exec(&ct, udp4(C, 200, S, 2, b""), &commit(), 5, 0).0,
        Verdict::Drop
    );
    // An uncommitted packet is not limited.
    assert_eq!(
        exec(&ct, udp4(C, 200, S, 2, b""), &CtAction::default(), 5, 0).1,
        TRK | NEW
    );
    // Zone 6 follows the default (3).
    for i in 0..3 {
        assert_eq!(
            exec(&ct, udp4(C, 300 + i, S, 2, b""), &commit(), 6, 0).0,
            Verdict::Continue
        );
    }
    assert_eq!(
        exec(&ct, udp4(C, 400, S, 2, b""), &commit(), 6, 0).0,
        Verdict::Drop
    );
    assert_eq!(
        dpif::ct::format::limits(&ct.limits_report(&[])),
        "default limit=3\nzone=5,limit=2,count=2\n"
    );
    ct.limits().set_max_conns(5);
    assert_eq!(
        exec(&ct, udp4(C, 500, S, 2, b""), &commit(), 0, 0).0,
        Verdict::Drop
    );
    assert_eq!(ct.n_conns(), 5);
}

#[test]
fn mark_and_labels_masked() {
    let ct = Conntrack::default();
    let a = CtAction {
        commit: true,
        mark: Some((0x12, 0xff)),
        labels: Some((0xab << 64, 0xff << 64)),
        ..Default::default()
    };
    let mut m = md();
    ct.execute(&mut udp4(C, 1, S, 2, b""), &mut m, &a, 0, 0);
    assert_eq!((m.ct_mark, m.ct_label), (0x12, 0xab << 64));
    let b = CtAction {
        commit: true,
        mark: Some((0x3400, 0xff00)),
        labels: Some((1, 1)),
        ..Default::default()
    };
    let mut m = md();
    ct.execute(&mut udp4(S, 2, C, 1, b""), &mut m, &b, 0, 0);
    assert_eq!((m.ct_mark, m.ct_label), (0x3412, 0xab << 64 | 1));
    let d = ct.dump_text(None, false, false, 0);
    assert!(d.contains(",mark=13330,labels=0xab0000000000000001"), "{d}");
}

#[test]
fn force_deletes_a_reply_direction_connection() {
    let ct = Conntrack::default();
    exec(&ct, udp4(C, 1, S, 2, b""), &commit(), 0, 0);
    let force = CtAction {
        commit: true,
        force: true,
        ..Default::default()
    };
    // From the server's side, with force: the old connection goes and
    // this packet starts a new one in its direction.
    assert_eq!(exec(&ct, udp4(S, 2, C, 1, b""), &force, 0, 0).1, TRK | NEW);
    let e = ct.dump(None, 0);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].orig.src, std::net::IpAddr::from(S));
    // In the original direction force changes nothing.
    assert_eq!(exec(&ct, udp4(S, 2, C, 1, b""), &force, 0, 0).1, TRK | NEW);
    assert_eq!(ct.n_conns(), 1);
}

#[test]
fn flush_by_each_selector() {
    let ct = Conntrack::default();
    let a = CtAction {
        commit: true,
        mark: Some((1, 1)),
        ..Default::default()
    };
    exec(&ct, udp4(C, 1, S, 2, b""), &a, 0, 0);
    exec(&ct, udp4(C, 3, S, 4, b""), &commit(), 0, 0);
    exec(&ct, udp4(C, 5, S, 6, b""), &commit(), 9, 0);
    exec(
        &ct,
        udp4(C, 7, S, 8, b""),
        &CtAction {
            commit: true,
            labels: Some((1 << 127, 1 << 127)),
            ..Default::default()
        },
        0,
        0,
    );
    assert_eq!(ct.n_conns(), 4);
    assert_eq!(
        ct.flush(&Flush {
            zone: Some(9),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        ct.flush(&Flush {
            mark: Some((1, 1)),
            ..Default::default()
        }),
        1
    );
    assert_eq!(
        ct.flush(&Flush {
            labels: Some((1 << 127, 1 << 127)),
            ..Default::default()
        }),
        1
    );
    let t = Tuple {
        src: v4(C),
        dst: v4(S),
        src_port: 3,
        dst_port: 4,
        proto: 17,
        v6: false,
    };
    let t = conntrack::dump::dpif_tuple(&t);
    assert_eq!(
        ct.flush(&Flush {
            orig: Some(t),
            zone: Some(1),
            ..Default::default()
        }),
        0
    );
    assert_eq!(
        ct.flush(&Flush {
            orig: Some(t),
            ..Default::default()
        }),
        1
    );
    // The reply direction's tuple names the same connection (the
    // kernel's ctnetlink delete looks either direction up).
    exec(&ct, udp4(C, 3, S, 4, b""), &commit(), 0, 0);
    let reply = conntrack::dump::dpif_tuple(&Tuple {
        src: v4(S),
        dst: v4(C),
        src_port: 4,
        dst_port: 3,
        proto: 17,
        v6: false,
    });
    assert_eq!(
        ct.flush(&Flush {
            orig: Some(reply),
            ..Default::default()
        }),
        1
    );
    exec(&ct, udp4(C, 3, S, 4, b""), &commit(), 0, 0);
    assert_eq!(ct.flush(&Flush::default()), 1);
    assert_eq!(ct.n_conns(), 0);
    // After a flush the same packet is new again.
    assert_eq!(
        exec(&ct, udp4(C, 3, S, 4, b""), &commit(), 0, 0).1,
        TRK | NEW
    );
}

#[test]
fn expiry_with_a_fake_clock() {
    let ct = Conntrack::default();
    let t0 = 1_000_000;
    exec(&ct, udp4(C, 1, S, 2, b""), &commit(), 0, t0);
    assert_eq!(ct.sweep(t0 + 29_000, 1000), 0);
    assert_eq!(ct.n_conns(), 1);
    assert_eq!(ct.sweep(t0 + 31_000, 1000), 1);
    assert_eq!(ct.n_conns(), 0);
    // The server's packet now starts a connection of its own.
    assert_eq!(
        exec(
            &ct,
            udp4(S, 2, C, 1, b""),
            &CtAction::default(),
            0,
            t0 + 31_000
        )
        .1,
        TRK | NEW
    );
    // Past its time a connection is gone for lookups even before a sweep.
    exec(&ct, udp4(C, 3, S, 4, b""), &commit(), 0, t0);
    assert_eq!(
        exec(&ct, udp4(S, 4, C, 3, b""), &commit(), 0, t0 + 29_000).1,
        TRK | EST | RPL
    );
    assert_eq!(
        exec(
            &ct,
            udp4(S, 4, C, 3, b""),
            &CtAction::default(),
            0,
            t0 + 60_000
        )
        .1,
        TRK | NEW
    );
    assert_eq!(ct.n_conns(), 0);
    // A refreshed connection lives on; an ESTABLISHED TCP one for days.
    exec(&ct, tcp4(C, 9, S, 80, 1, 0, SYN, b""), &commit(), 0, t0);
    exec(
        &ct,
        tcp4(S, 80, C, 9, 7, 2, SYN | ACK, b""),
        &commit(),
        0,
        t0,
    );
    exec(&ct, tcp4(C, 9, S, 80, 2, 8, ACK, b""), &commit(), 0, t0);
    let mut now = t0;
    for _ in 0..20 {
        now += 60_000;
        ct.sweep(now, 10);
    }
    assert_eq!(ct.n_conns(), 1);
    assert_eq!(ct.dump(None, t0)[0].timeout, 5 * 24 * 3600);
}

#[test]
fn sweep_budget_bounds_work() {
    let ct = Conntrack::default();
    for i in 0..100 {
        exec(&ct, udp4(C, 1000 + i, S, 2, b""), &commit(), 0, 0);
    }
    assert_eq!(ct.sweep(40_000, 30), 30);
    assert_eq!(ct.n_conns(), 70);
    while ct.sweep(40_000, 30) > 0 {}
    assert_eq!(ct.n_conns(), 0);
}

#[test]
fn timeout_policy() {
    let ct = Conntrack::default();
    let mut t = Timeouts::default();
    t.set(TpAttr::UdpFirst, 5);
    let id = ct.set_timeout_policy(TimeoutPolicy {
        name: "short".into(),
        timeouts: t,
    });
    let odp_ct = odp::action::Ct {
        commit: true,
        timeout: Some("short".into()),
        ..Default::default()
    };
    let a = ct.action(&odp_ct).unwrap();
    assert_eq!(a.timeout, Some(id));
    exec(&ct, udp4(C, 1, S, 2, b""), &a, 0, 0);
    assert_eq!(ct.dump(None, 0)[0].timeout, 5);
    assert_eq!(ct.sweep(6_000, 100), 1);
}

#[test]
fn odp_action_checks() {
    let ct = Conntrack::default();
    let bad = odp::action::Ct {
        mark: Some((1, 1)),
        ..Default::default()
    };
    assert!(ct.action(&bad).is_err());
    let bad = odp::action::Ct {
        commit: true,
        helper: Some("sip".into()),
        ..Default::default()
    };
    assert!(ct.action(&bad).is_err());
    let ok = odp::action::Ct {
        force_commit: true,
        zone: Some(3),
        helper: Some("ftp".into()),
        eventmask: Some(1),
        ..Default::default()
    };
    let a = ct.action(&ok).unwrap();
    assert!(a.commit && a.force && a.zone == 3);
}

#[test]
fn ct_clear_resets_the_key() {
    let ct = Conntrack::default();
    let mut m = md();
    ct.execute(&mut udp4(C, 1, S, 2, b""), &mut m, &commit(), 4, 0);
    assert_ne!(m.ct_state, 0);
    conntrack::ct_clear(&mut m);
    assert_eq!(
        (m.ct_state, m.ct_zone, m.ct_mark, m.ct_label, m.ct_nw_proto),
        (0, 0, 0, 0, 0)
    );
}

#[test]
fn dump_formats_as_ovs_dpctl() {
    let ct = Conntrack::default();
    ct.set_acct(true);
    exec(&ct, tcp4(C, 1000, S, 80, 1, 0, SYN, b""), &commit(), 0, 0);
    exec(
        &ct,
        tcp4(S, 80, C, 1000, 7, 2, SYN | ACK, &[]),
        &commit(),
        0,
        0,
    );
    let e = &ct.dump(None, 0)[0];
    let id = e.id;
    let fmt = |e: &dpif::ct::CtEntry, m, st| {
        let mut s = String::new();
        dpif::ct::format::entry(&mut s, e, m, st);
        s
    };
    assert_eq!(
        fmt(e, true, true),
        format!(
            "tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1000,dport=80,packets=1,bytes=40),reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=1000,packets=1,bytes=40),id={id},status=SEEN_REPLY|CONFIRMED,timeout=60,protoinfo=(state_orig=SYN_RECV,state_reply=SYN_RECV,flags_orig=0,flags_reply=MAXACK_SET)"
        )
    );
    assert_eq!(
        fmt(e, false, false),
        "tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1000,dport=80),reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=1000),protoinfo=(state=ESTABLISHED)"
    );
    exec(
        &ct,
        udp6(0xfd00 << 112 | 1, 5, 0xfd00 << 112 | 2, 6, b""),
        &commit(),
        3,
        0,
    );
    assert_eq!(
        dpif::ct::format::stats(&ct.dump(None, 0), true),
        "Connections Stats:\n    Total: 2\n  TCP: 1\n    Conn per TCP states:\n\t  [ESTABLISHED]=1\n  UDP: 1\n"
    );
    assert!(ct.dump_text(Some(3), false, false, 0).starts_with("udp,orig=(src=fd00::1,dst=fd00::2,sport=5,dport=6),reply=(src=fd00::2,dst=fd00::1,sport=6,dport=5),zone=3"));
    let b = dpif::ct::format::bkts(&ct.ct_dump(None, 0), 0);
    assert!(
        b.starts_with("Total Buckets: 256\nCurrent Connections: 2\n\n+-----------+"),
        "{b}"
    );
}

#[test]
fn memory_per_connection_is_bounded() {
    let n = conntrack::conn::BYTES_PER_CONN;
    println!("bytes per connection (estimate): {n}");
    assert!(n < 1024, "{n}");
}
