//! ctnetlink, cttimeout and `ovs_ct_limit` requests on the daemon, raw:
//! the kernel's errnos for malformed or impossible requests (never a
//! panic, never a hang), dumps of a table larger than a datagram, and
//! which datapath's tracker a request acts on.

mod common;

use std::net::IpAddr;

use common::{err_of, genl, unique, Daemon, Raw};
use dpif_netlink::ct_limit::*;
use dpif_netlink::ctnetlink::*;
use nl::msg::{Header, MsgBuilder, NLMSG_DONE, NLM_F_ACK, NLM_F_DUMP, NLM_F_EXCL, NLM_F_REQUEST};
use oxvsd::families::FAM_CT_LIMIT;

const REQ_ACK: u16 = NLM_F_REQUEST | NLM_F_ACK;

fn nf(subsys: u8, msg: u8, flags: u16, family: u8, f: impl FnOnce(&mut nl::Writer)) -> Vec<u8> {
    let mut b = MsgBuilder::new(msg_type(subsys, msg), flags).seq(5);
    b.header_bytes(&[family, 0, 0, 0]);
    f(b.attrs());
    b.finish().unwrap()
}

fn errno_of(s: &mut Raw, req: &[u8]) -> i32 {
    let r = s.transact(req);
    err_of(r.last().unwrap()).expect("ends with NLMSG_ERROR")
}

/// The entries of a ctnetlink dump.
fn dump(s: &mut Raw, f: impl FnOnce(&mut nl::Writer)) -> Vec<dpif::ct::CtEntry> {
    let r = s.transact(&nf(1, IPCTNL_MSG_CT_GET, NLM_F_REQUEST | NLM_F_DUMP, 0, f));
    let mut out = Vec::new();
    for d in &r {
        for m in nl::msg::Messages::new(d) {
            let m = m.unwrap();
            if m.header.ty == NLMSG_DONE {
                return out;
            }
            assert_eq!(m.header.ty, msg_type(1, IPCTNL_MSG_CT_NEW));
            let (family, _, attrs) = split(m.payload()).unwrap();
            out.push(parse_entry(family, attrs).unwrap());
        }
    }
    panic!("no NLMSG_DONE")
}

/// `n` UDP connections 10.0.0.1:(1000+i) -> 10.0.0.2:53 in `zone`.
fn populate(d: &Daemon, dp: &str, n: u16, zone: u16) {
    let e = d.state.datapath(dp).unwrap();
    let action = conntrack::CtAction {
        commit: true,
        zone,
        ..Default::default()
    };
    for i in 0..n {
        let mut p = dpif_tests::packet::udp4(
            dpif_tests::packet::MAC_A,
            dpif_tests::packet::MAC_B,
            [10, 0, 0, 1],
            [10, 0, 0, 2],
            1000 + i,
            53,
            1,
        );
        let mut md = odp::flow::Flow::default();
        let r =
            e.dp.conntrack()
                .execute(&mut p, &mut md, &action, zone, dpif_netdev::flow::now_ms());
        assert_eq!(r.verdict, conntrack::Verdict::Continue);
    }
}

fn udp_tuple(sport: u16) -> dpif::ct::CtTuple {
    dpif::ct::CtTuple {
        src: IpAddr::from([10, 0, 0, 1]),
        dst: IpAddr::from([10, 0, 0, 2]),
        proto: 17,
        src_port: sport,
        dst_port: 53,
        ..Default::default()
    }
}

#[test]
fn ctnetlink_on_the_trackers() {
    let d = Daemon::start();
    let (a, b) = (unique("cta"), unique("ctb"));
    let da = d.state.create_dp(&a, 0, false).unwrap();
    let db = d.state.create_dp(&b, 0, false).unwrap();
    populate(&d, &a, 600, 0);
    populate(&d, &b, 2, 3);
    let mut s = Raw::connect(&d.path);

    // A dump without a datapath: every datapath's, in many datagrams.
    let all = dump(&mut s, |_| {});
    assert_eq!(all.len(), 602);
    assert_eq!(all.iter().filter(|e| e.zone == 3).count(), 2);
    // One datapath's, and filters.
    assert_eq!(
        dump(&mut s, |w| w
            .put_u32(OXVS_CTA_DP_IFINDEX, db.ifindex as u32))
        .len(),
        2
    );
    assert_eq!(dump(&mut s, |w| w.put_u16_be(CTA_ZONE, 3)).len(), 2);
    assert_eq!(dump(&mut s, |w| w.put_u32_be(CTA_MARK, 1)).len(), 0);

    // Get by tuple.
    let r = s.transact(&nf(1, IPCTNL_MSG_CT_GET, REQ_ACK, 2, |w| {
        put_tuple(w, CTA_TUPLE_ORIG, &udp_tuple(1007), None)
    }));
    assert_eq!(err_of(r.last().unwrap()), Some(0));
    let (fam, _, at) = split(&r[0][16..]).unwrap();
    assert_eq!(parse_entry(fam, at).unwrap().orig, udp_tuple(1007));
    // Not there, in another zone, malformed, or no tuple.
    let get = |t: dpif::ct::CtTuple, f: &dyn Fn(&mut nl::Writer)| {
        nf(1, IPCTNL_MSG_CT_GET, REQ_ACK, 2, |w| {
            put_tuple(w, CTA_TUPLE_ORIG, &t, None);
            f(w)
        })
    };
    assert_eq!(errno_of(&mut s, &get(udp_tuple(9), &|_| {})), 2);
    assert_eq!(
        errno_of(
            &mut s,
            &get(udp_tuple(1007), &|w| w.put_u16_be(CTA_ZONE, 3))
        ),
        2
    );
    assert_eq!(
        errno_of(
            &mut s,
            &get(udp_tuple(1007), &|w| w.put_u32(OXVS_CTA_DP_IFINDEX, 9999))
        ),
        19
    );
    assert_eq!(
        errno_of(
            &mut s,
            &get(udp_tuple(1007), &|w| w.put(CTA_ZONE, &[0, 0, 0]))
        ),
        22
    );
    assert_eq!(
        errno_of(&mut s, &nf(1, IPCTNL_MSG_CT_GET, REQ_ACK, 2, |_| {})),
        22
    );
    assert_eq!(
        errno_of(
            &mut s,
            &nf(1, IPCTNL_MSG_CT_GET, REQ_ACK, 2, |w| {
                let n = w.begin_nested(CTA_TUPLE_ORIG);
                w.put_u8(CTA_TUPLE_PROTO, 17);
                w.end_nested(n);
            })
        ),
        22,
        "tuple without addresses"
    );
    // A tuple of the wrong family for its addresses.
    assert_eq!(
        errno_of(
            &mut s,
            &nf(1, IPCTNL_MSG_CT_GET, REQ_ACK, 10, |w| {
                put_tuple(w, CTA_TUPLE_ORIG, &udp_tuple(1007), None)
            })
        ),
        22
    );
    // Truncated attribute.
    let mut bad = nf(1, IPCTNL_MSG_CT_GET, REQ_ACK, 2, |w| w.put_u32(CTA_MARK, 1));
    bad[20] = 40;
    assert_eq!(errno_of(&mut s, &bad), 22);
    // Unknown message type; creating connections.
    assert_eq!(errno_of(&mut s, &nf(1, 0x20, REQ_ACK, 2, |_| {})), 22);
    assert_eq!(
        errno_of(&mut s, &nf(1, IPCTNL_MSG_CT_NEW, REQ_ACK, 2, |_| {})),
        95
    );

    // Delete by tuple (with a wrong id: ENOENT), then by zone-less flush
    // of one datapath.
    let del = |id: Option<u32>| {
        nf(1, IPCTNL_MSG_CT_DELETE, REQ_ACK, 2, |w| {
            put_tuple(w, CTA_TUPLE_ORIG, &udp_tuple(1007), None);
            if let Some(id) = id {
                w.put_u32_be(CTA_ID, id);
            }
        })
    };
    let id = all.iter().find(|e| e.orig == udp_tuple(1007)).unwrap().id;
    assert_eq!(errno_of(&mut s, &del(Some(id ^ 1))), 2);
    assert_eq!(errno_of(&mut s, &del(Some(id))), 0);
    assert_eq!(errno_of(&mut s, &del(None)), 2);
    assert_eq!(da.dp.conntrack().n_conns(), 599);
    // The reply direction's tuple, given as the original one (as Open
    // vSwitch's flush-conntrack sends it), names the same connection: the
    // kernel looks either direction up.
    let mut reply = udp_tuple(53);
    (reply.src, reply.dst, reply.dst_port) = (udp_tuple(0).dst, udp_tuple(0).src, 1008);
    let r = s.transact(&nf(1, IPCTNL_MSG_CT_GET, REQ_ACK, 2, |w| {
        put_tuple(w, CTA_TUPLE_ORIG, &reply, None)
    }));
    let (fam, _, at) = split(&r[0][16..]).unwrap();
    assert_eq!(parse_entry(fam, at).unwrap().orig, udp_tuple(1008));
    let del_reply = nf(1, IPCTNL_MSG_CT_DELETE, REQ_ACK, 2, |w| {
        put_tuple(w, CTA_TUPLE_ORIG, &reply, None)
    });
    assert_eq!(errno_of(&mut s, &del_reply), 0);
    assert_eq!(da.dp.conntrack().n_conns(), 598);
    let flush_b = nf(1, IPCTNL_MSG_CT_DELETE, REQ_ACK, 0, |w| {
        w.put_u32(OXVS_CTA_DP_IFINDEX, db.ifindex as u32)
    });
    assert_eq!(errno_of(&mut s, &flush_b), 0);
    assert_eq!(
        (da.dp.conntrack().n_conns(), db.dp.conntrack().n_conns()),
        (598, 0)
    );
    // An IPv6 flush leaves IPv4 alone; an AF_UNSPEC one does not.
    assert_eq!(
        errno_of(&mut s, &nf(1, IPCTNL_MSG_CT_DELETE, REQ_ACK, 10, |_| {})),
        0
    );
    assert_eq!(da.dp.conntrack().n_conns(), 598);
    assert_eq!(
        errno_of(&mut s, &nf(1, IPCTNL_MSG_CT_DELETE, REQ_ACK, 0, |_| {})),
        0
    );
    assert_eq!(da.dp.conntrack().n_conns(), 0);

    // A client gone in the middle of a dump: the daemon goes on serving.
    populate(&d, &a, 600, 0);
    let gone = Raw::connect(&d.path);
    gone.send(&nf(
        1,
        IPCTNL_MSG_CT_GET,
        NLM_F_REQUEST | NLM_F_DUMP,
        0,
        |_| {},
    ));
    drop(gone);
    assert_eq!(dump(&mut s, |_| {}).len(), 600);
}

#[test]
fn cttimeout_objects() {
    let d = Daemon::start();
    let dp = unique("ctt");
    let e = d.state.create_dp(&dp, 0, false).unwrap();
    let mut s = Raw::connect(&d.path);
    let new = |flags: u16, l4: u8, data: bool| {
        nf(8, IPCTNL_MSG_TIMEOUT_NEW, REQ_ACK | flags, 0, |w| {
            w.put_string(CTA_TIMEOUT_NAME, "ovs_tp_1_tcp4");
            w.put_u16_be(CTA_TIMEOUT_L3PROTO, 2);
            w.put_u8(CTA_TIMEOUT_L4PROTO, l4);
            if data {
                let n = w.begin_nested(CTA_TIMEOUT_DATA);
                w.put_u32_be(3, 200); // ESTABLISHED
                w.end_nested(n);
            }
        })
    };
    assert_eq!(errno_of(&mut s, &new(0, 6, false)), 22, "no data");
    assert_eq!(errno_of(&mut s, &new(0, 6, true)), 0);
    assert_eq!(errno_of(&mut s, &new(NLM_F_EXCL, 6, true)), 17);
    assert_eq!(errno_of(&mut s, &new(0, 17, true)), 22, "another protocol");
    assert!(e.dp.conntrack().policy_id("ovs_tp_1_tcp4").is_some());
    let get = nf(8, IPCTNL_MSG_TIMEOUT_GET, REQ_ACK, 0, |w| {
        w.put_string(CTA_TIMEOUT_NAME, "ovs_tp_1_tcp4")
    });
    let r = s.transact(&get);
    assert_eq!(err_of(r.last().unwrap()), Some(0));
    let (_, _, at) = split(&r[0][16..]).unwrap();
    let top: [Option<&[u8]>; 6] = attrs(at).unwrap();
    let data: [Option<&[u8]>; 12] = attrs(top[4].unwrap()).unwrap();
    // Every TCP timeout, the kernel's defaults but the one set.
    assert!(data[1..].iter().all(Option::is_some));
    assert_eq!(data[3], Some(&200u32.to_be_bytes()[..]));
    assert_eq!(data[1], Some(&120u32.to_be_bytes()[..]));
    let r = s.transact(&nf(
        8,
        IPCTNL_MSG_TIMEOUT_GET,
        NLM_F_REQUEST | NLM_F_DUMP,
        0,
        |_| {},
    ));
    let n: usize = r.iter().map(|d| nl::msg::Messages::new(d).count()).sum();
    assert_eq!(n, 2, "one object and NLMSG_DONE");
    let del = nf(8, IPCTNL_MSG_TIMEOUT_DELETE, REQ_ACK, 0, |w| {
        w.put_string(CTA_TIMEOUT_NAME, "ovs_tp_1_tcp4")
    });
    // A datapath made later has the objects too.
    let later = d.state.create_dp(&unique("ctt"), 0, false).unwrap();
    assert!(later.dp.conntrack().policy_id("ovs_tp_1_tcp4").is_some());
    assert_eq!(errno_of(&mut s, &del), 0);
    assert_eq!(errno_of(&mut s, &del), 2);
    assert_eq!(errno_of(&mut s, &get), 2);
    assert!(e.dp.conntrack().policy_id("ovs_tp_1_tcp4").is_none());
    assert!(later.dp.conntrack().policy_id("ovs_tp_1_tcp4").is_none());
}

#[test]
fn ct_limit_family() {
    let d = Daemon::start();
    let dp = unique("ctl");
    let e = d.state.create_dp(&dp, 0, false).unwrap();
    populate(&d, &dp, 3, 4);
    let mut s = Raw::connect(&d.path);
    let req = |cmd: u8, ifindex: i32, l: Option<&[ZoneLimit]>| {
        let a = {
            let mut w = nl::Writer::new();
            if let Some(l) = l {
                w.put(OVS_CT_LIMIT_ATTR_ZONE_LIMIT, &encode(l));
            }
            w.into_bytes()
        };
        genl(FAM_CT_LIMIT, REQ_ACK, 3, cmd, Some(ifindex), &a)
    };
    assert_eq!(errno_of(&mut s, &req(OVS_CT_LIMIT_CMD_SET, 0, None)), 22);
    assert_eq!(errno_of(&mut s, &req(OVS_CT_LIMIT_CMD_DEL, 0, None)), 22);
    assert_eq!(errno_of(&mut s, &req(OVS_CT_LIMIT_CMD_GET, 4242, None)), 19);
    assert_eq!(errno_of(&mut s, &req(9, 0, None)), 95);
    let set = [
        ZoneLimit::default_limit(7),
        ZoneLimit {
            zone_id: 4,
            limit: 2,
            count: 0,
        },
        ZoneLimit {
            zone_id: 70000, // out of range: skipped, as the kernel does
            limit: 1,
            count: 0,
        },
    ];
    let r = s.transact(&req(OVS_CT_LIMIT_CMD_SET, 0, Some(&set)));
    assert_eq!(r.len(), 2, "an empty reply, then the ack");
    assert_eq!(Header::parse(&r[0]).unwrap().ty, FAM_CT_LIMIT);
    assert_eq!(e.dp.conntrack().limits().zone_limit(4), 2);
    // Set for every datapath: later ones too.
    let later = d.state.create_dp(&unique("ctl"), 0, false).unwrap();
    let l = later.dp.conntrack().limits();
    assert_eq!(
        (l.default_zone_limit(), l.zone_limit(4), l.zone_limit(5)),
        (7, 2, 7)
    );
    let get = |s: &mut Raw, l: Option<&[ZoneLimit]>| {
        let r = s.transact(&req(OVS_CT_LIMIT_CMD_GET, e.ifindex, l));
        assert_eq!(err_of(r.last().unwrap()), Some(0));
        let top: [Option<&[u8]>; 2] = attrs(&r[0][24..]).unwrap();
        decode(top[1].unwrap())
    };
    assert_eq!(
        get(&mut s, None),
        vec![
            ZoneLimit::default_limit(7),
            ZoneLimit {
                zone_id: 4,
                limit: 2,
                count: 3
            }
        ]
    );
    let q = [
        ZoneLimit::default_limit(0),
        ZoneLimit {
            zone_id: 9,
            limit: 0,
            count: 0,
        },
    ];
    assert_eq!(
        get(&mut s, Some(&q)),
        vec![
            ZoneLimit::default_limit(7),
            ZoneLimit {
                zone_id: 9,
                limit: 7,
                count: 0
            }
        ]
    );
    let del = [
        ZoneLimit::default_limit(0),
        ZoneLimit::zone(&dpif::ct::CtZoneLimit {
            zone: 4,
            limit: 0,
            count: 0,
        }),
    ];
    assert_eq!(
        errno_of(&mut s, &req(OVS_CT_LIMIT_CMD_DEL, 0, Some(&del))),
        0
    );
    assert_eq!(get(&mut s, None), vec![ZoneLimit::default_limit(0)]);
}
