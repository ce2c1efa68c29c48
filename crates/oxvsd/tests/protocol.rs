//! The daemon's netlink protocol, message by message, against what the
//! kernel's openvswitch module and netlink core answer (the expected
//! values are the kernel's documented behaviour: `net/openvswitch/
//! datapath.c`, `net/netlink/af_netlink.c`): family lookups, socket
//! options, extended acks, user features, per-CPU and per-vport upcall
//! dispatch, overruns, notifications, unsupported features answered as an
//! older kernel answers them, names, connection limits and idle timeouts,
//! and ports following their devices.

mod common;

use std::time::{Duration, Instant};

use common::{err_of, err_text, genl, run_as, unique, Daemon, Raw};
use dpif_netlink::abi::*;
use dpif_tests::packet::{udp4, MAC_A, MAC_B};
use nl::daemon;
use nl::msg::{Header, NLM_F_CAPPED};
use odp::abi::{
    OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4, OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6, OVS_KEY_ATTR_ETHERNET,
    OVS_KEY_ATTR_ETHERTYPE, OVS_KEY_ATTR_IN_PORT, OVS_KEY_ATTR_IPV6, OVS_KEY_ATTR_ND_EXTENSIONS,
    OVS_KEY_ATTR_PACKET_TYPE, OVS_KEY_ATTR_PRIORITY, OVS_KEY_ATTR_SKB_MARK,
};
use odp::key::PortNo;
use oxvsd::families::{FAM_DP, FAM_FLOW, FAM_METER, FAM_PACKET, FAM_VPORT, GROUP_VPORT};

const REQ_ACK: u16 = NLM_F_REQUEST | NLM_F_ACK;

fn attrs(f: impl FnOnce(&mut nl::Writer)) -> Vec<u8> {
    let mut w = nl::Writer::new();
    f(&mut w);
    w.into_bytes()
}

fn sockopt(seq: u32, target: Option<(u32, u64)>, level: u32, name: u32, value: u32) -> Vec<u8> {
    let a = attrs(|w| {
        if let Some((p, c)) = target {
            w.put_u32(daemon::SOCKOPT_ATTR_PORT, p);
            w.put_u64(daemon::SOCKOPT_ATTR_COOKIE, c);
        }
        w.put_u32(daemon::SOCKOPT_ATTR_LEVEL, level);
        w.put_u32(daemon::SOCKOPT_ATTR_NAME, name);
        w.put_u32(daemon::SOCKOPT_ATTR_VALUE, value);
    });
    genl(
        GENL_ID_CTRL,
        REQ_ACK,
        seq,
        daemon::OXVS_CTRL_CMD_SOCKOPT,
        None,
        &a,
    )
}

/// The errno of the last message `req` got.
fn errno_of(s: &mut Raw, req: &[u8]) -> i32 {
    let r = s.transact(req);
    err_of(r.last().unwrap()).expect("ends with NLMSG_ERROR")
}

fn dp_new(s: &mut Raw, name: &str, features: Option<u32>) -> Result<i32, i32> {
    let a = attrs(|w| {
        w.put_string(OVS_DP_ATTR_NAME, name);
        w.put_u32(OVS_DP_ATTR_UPCALL_PID, 0);
        if let Some(f) = features {
            w.put_u32(OVS_DP_ATTR_USER_FEATURES, f);
        }
    });
    let r = s.transact(&genl(
        FAM_DP,
        REQ_ACK | NLM_F_ECHO,
        1,
        OVS_DP_CMD_NEW,
        Some(0),
        &a,
    ));
    match err_of(r.last().unwrap()) {
        Some(0) => Ok(i32::from_ne_bytes(r[0][20..24].try_into().unwrap())),
        Some(e) => Err(e),
        None => unreachable!(),
    }
}

/// The attributes of a reply of an openvswitch family.
fn reply_attrs(m: &[u8]) -> Vec<(u16, Vec<u8>)> {
    nl::AttrIter::new(&m[24..])
        .map(|a| a.unwrap())
        .map(|a| (a.ty, a.payload.to_vec()))
        .collect()
}

fn attr(m: &[u8], ty: u16) -> Option<Vec<u8>> {
    reply_attrs(m)
        .into_iter()
        .find(|(t, _)| *t == ty)
        .map(|x| x.1)
}

fn dp_get(s: &mut Raw, ifindex: i32) -> Vec<u8> {
    let r = s.transact(&genl(
        FAM_DP,
        REQ_ACK,
        2,
        OVS_DP_CMD_GET,
        Some(ifindex),
        &[],
    ));
    assert_eq!(err_of(r.last().unwrap()), Some(0));
    r[0].clone()
}

fn dp_set(s: &mut Raw, ifindex: i32, a: &[u8]) -> i32 {
    errno_of(
        s,
        &genl(FAM_DP, REQ_ACK, 3, OVS_DP_CMD_SET, Some(ifindex), a),
    )
}

fn vport_new(
    s: &mut Raw,
    ifindex: i32,
    name: &str,
    ty: u32,
    pids: &[u32],
) -> Result<u32, (i32, Option<String>)> {
    let a = attrs(|w| {
        w.put_string(OVS_VPORT_ATTR_NAME, name);
        w.put_u32(OVS_VPORT_ATTR_TYPE, ty);
        let b: Vec<u8> = pids.iter().flat_map(|p| p.to_ne_bytes()).collect();
        w.put(OVS_VPORT_ATTR_UPCALL_PID, &b);
    });
    let r = s.transact(&genl(
        FAM_VPORT,
        REQ_ACK | NLM_F_ECHO,
        4,
        OVS_VPORT_CMD_NEW,
        Some(ifindex),
        &a,
    ));
    let last = r.last().unwrap();
    match err_of(last) {
        Some(0) => Ok(u32::from_ne_bytes(
            attr(&r[0], OVS_VPORT_ATTR_PORT_NO).unwrap()[..4]
                .try_into()
                .unwrap(),
        )),
        Some(e) => Err((e, err_text(last))),
        None => unreachable!(),
    }
}

/// Adds a dummy port (oxvs's own type) with upcall port ids `pids`.
fn dummy_port(s: &mut Raw, ifindex: i32, name: &str, pids: &[u32]) -> u32 {
    vport_new(s, ifindex, name, OXVS_VPORT_TYPE_DUMMY, pids).expect("dummy port")
}

fn flow_put(s: &mut Raw, ifindex: i32, key: &str, actions: &str) -> i32 {
    let (k, m) = odp::text::key::parse_match(key).unwrap();
    let acts = odp::text::action::parse_actions(actions).unwrap();
    let a = attrs(|w| {
        let n = w.begin_nested(OVS_FLOW_ATTR_KEY);
        odp::nl::key::emit_keys(&k, w);
        w.end_nested(n);
        let n = w.begin_nested(OVS_FLOW_ATTR_MASK);
        odp::nl::key::emit_keys(&m, w);
        w.end_nested(n);
        w.put(
            OVS_FLOW_ATTR_ACTIONS,
            &odp::nl::action::encode_actions(&acts).unwrap(),
        );
    });
    errno_of(
        s,
        &genl(
            FAM_FLOW,
            REQ_ACK | NLM_F_CREATE,
            5,
            OVS_FLOW_CMD_NEW,
            Some(ifindex),
            &a,
        ),
    )
}

fn execute(s: &mut Raw, ifindex: i32, key: &str, actions: &str, probe: bool) -> i32 {
    let (k, _) = odp::text::key::parse_match(key).unwrap();
    let acts = odp::text::action::parse_actions(actions).unwrap();
    let pkt = udp4(MAC_A, MAC_B, [10, 0, 0, 1], [10, 0, 0, 2], 1, 2, 10);
    let a = attrs(|w| {
        w.put(OVS_PACKET_ATTR_PACKET, &pkt);
        let n = w.begin_nested(OVS_PACKET_ATTR_KEY);
        odp::nl::key::emit_keys(&k, w);
        w.end_nested(n);
        w.put(
            OVS_PACKET_ATTR_ACTIONS,
            &odp::nl::action::encode_actions(&acts).unwrap(),
        );
        if probe {
            w.put_flag(OVS_PACKET_ATTR_PROBE);
        }
    });
    errno_of(
        s,
        &genl(
            FAM_PACKET,
            REQ_ACK,
            6,
            OVS_PACKET_CMD_EXECUTE,
            Some(ifindex),
            &a,
        ),
    )
}

fn dp_name() -> String {
    unique("p")
}

#[test]
fn families_are_looked_up_and_dumped_as_nlctrl_answers() {
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    for (name, group) in [
        (OVS_DATAPATH_FAMILY, Some(OVS_DATAPATH_MCGROUP)),
        (OVS_VPORT_FAMILY, Some(OVS_VPORT_MCGROUP)),
        (OVS_FLOW_FAMILY, Some(OVS_FLOW_MCGROUP)),
        (OVS_PACKET_FAMILY, None),
        ("ovs_ct_limit", Some("ovs_ct_limit")),
        (OVS_METER_FAMILY, Some(OVS_METER_MCGROUP)),
        ("nlctrl", Some("notify")),
    ] {
        let a = attrs(|w| w.put_string(CTRL_ATTR_FAMILY_NAME, name));
        let r = s.transact(&genl(
            GENL_ID_CTRL,
            REQ_ACK,
            1,
            CTRL_CMD_GETFAMILY,
            None,
            &a,
        ));
        assert_eq!(err_of(&r[1]), Some(0), "{name}");
        let f = nl::genl::Family::parse(&r[0][20..]).unwrap();
        assert_eq!(f.name, name);
        assert_eq!(f.group(group.unwrap_or("none")).is_some(), group.is_some());
        if name != "nlctrl" {
            assert!(daemon::FAMILY_IDS.contains(&f.id));
            assert_eq!(f.hdrsize, 4);
        }
    }
    // Families the module does not have: ENOENT; no name nor id: EINVAL.
    for name in ["ethtool", "nl80211"] {
        let a = attrs(|w| w.put_string(CTRL_ATTR_FAMILY_NAME, name));
        assert_eq!(
            errno_of(
                &mut s,
                &genl(GENL_ID_CTRL, REQ_ACK, 2, CTRL_CMD_GETFAMILY, None, &a)
            ),
            2,
            "{name}"
        );
    }
    assert_eq!(
        errno_of(
            &mut s,
            &genl(GENL_ID_CTRL, REQ_ACK, 3, CTRL_CMD_GETFAMILY, None, &[])
        ),
        22
    );
    // A dump lists them all and ends with NLMSG_DONE, no ack.
    let r = s.transact(&genl(
        GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_DUMP,
        4,
        CTRL_CMD_GETFAMILY,
        None,
        &[],
    ));
    let names: Vec<String> = r[..r.len() - 1]
        .iter()
        .map(|m| nl::genl::Family::parse(&m[20..]).unwrap().name)
        .collect();
    assert_eq!(names.len(), 7, "{names:?}");
    assert_eq!(Header::parse(r.last().unwrap()).unwrap().ty, NLMSG_DONE);
}

#[test]
fn group_joined_from_another_connection_gets_notifications() {
    let d = Daemon::start();
    let mut admin = Raw::connect(&d.path);
    let mut listener = Raw::connect(&d.path);
    let mut side = Raw::connect(&d.path);
    // The side connection joins the listener to the vport group; a wrong
    // cookie names no socket.
    let bad = sockopt(
        1,
        Some((listener.pid, listener.cookie ^ 1)),
        daemon::SOL_NETLINK,
        daemon::NETLINK_ADD_MEMBERSHIP,
        GROUP_VPORT,
    );
    assert_eq!(errno_of(&mut side, &bad), 2);
    let good = sockopt(
        2,
        Some((listener.pid, listener.cookie)),
        daemon::SOL_NETLINK,
        daemon::NETLINK_ADD_MEMBERSHIP,
        GROUP_VPORT,
    );
    assert_eq!(errno_of(&mut side, &good), 0);
    // Once acked, a port added on a third connection is announced to it,
    // with the requester's sequence number; the requester gets its copy
    // only as the reply it asked for.
    let ifindex = dp_new(&mut admin, &dp_name(), None).unwrap();
    let port = dummy_port(&mut admin, ifindex, "pn1", &[0]);
    let m = listener.recv().expect("notification");
    let h = Header::parse(&m).unwrap();
    assert_eq!((h.ty, m[16]), (FAM_VPORT, OVS_VPORT_CMD_NEW));
    assert_eq!(h.seq, 4);
    assert_eq!(
        attr(&m, OVS_VPORT_ATTR_PORT_NO).unwrap(),
        port.to_ne_bytes().to_vec()
    );
    assert_eq!(admin.recv_within(Duration::from_millis(200)), None);
    // Deletion too, then nothing once it left the group.
    let a = attrs(|w| w.put_u32(OVS_VPORT_ATTR_PORT_NO, port));
    assert_eq!(
        errno_of(
            &mut admin,
            &genl(FAM_VPORT, REQ_ACK, 5, OVS_VPORT_CMD_DEL, Some(ifindex), &a)
        ),
        0
    );
    let m = listener.recv().expect("notification");
    assert_eq!(m[16], OVS_VPORT_CMD_DEL);
    let leave = sockopt(
        3,
        None,
        daemon::SOL_NETLINK,
        daemon::NETLINK_DROP_MEMBERSHIP,
        GROUP_VPORT,
    );
    assert_eq!(errno_of(&mut listener, &leave), 0);
    dummy_port(&mut admin, ifindex, "pn2", &[0]);
    assert_eq!(listener.recv_within(Duration::from_millis(300)), None);
}

#[test]
fn errors_echo_the_request_and_carry_messages_as_asked() {
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    let req = genl(FAM_DP, REQ_ACK, 9, OVS_DP_CMD_GET, Some(12345), &[]);
    // Default: the whole request comes back, no message.
    let r = s.transact(&req);
    let h = Header::parse(&r[0]).unwrap();
    assert_eq!(h.flags & NLM_F_CAPPED, 0);
    assert_eq!(&r[0][20..], &req[..]);
    assert_eq!(err_of(&r[0]), Some(19));
    // NETLINK_EXT_ACK: a message; NETLINK_CAP_ACK: the header only.
    assert_eq!(
        errno_of(
            &mut s,
            &sockopt(1, None, daemon::SOL_NETLINK, daemon::NETLINK_EXT_ACK, 1)
        ),
        0
    );
    assert_eq!(
        errno_of(
            &mut s,
            &sockopt(2, None, daemon::SOL_NETLINK, daemon::NETLINK_CAP_ACK, 1)
        ),
        0
    );
    let bad = genl(
        FAM_DP,
        REQ_ACK,
        10,
        OVS_DP_CMD_NEW,
        Some(0),
        &attrs(|w| {
            w.put_string(OVS_DP_ATTR_NAME, "x");
            w.put_u16(OVS_DP_ATTR_UPCALL_PID, 0);
        }),
    );
    let r = s.transact(&bad);
    let h = Header::parse(&r[0]).unwrap();
    assert_ne!(h.flags & NLM_F_CAPPED, 0);
    assert_eq!(r[0].len() % 4, 0);
    assert_eq!(err_of(&r[0]), Some(22));
    let text = err_text(&r[0]).expect("extended ack");
    assert!(text.contains("invalid length"), "{text}");
    // An unknown option is ENOPROTOOPT, and changes nothing.
    assert_eq!(
        errno_of(&mut s, &sockopt(3, None, daemon::SOL_NETLINK, 999, 1)),
        92
    );
}

#[test]
fn bind_takes_a_free_port_id_only() {
    let d = Daemon::start();
    let mut a = Raw::connect(&d.path);
    let mut b = Raw::connect(&d.path);
    assert_ne!(a.pid, b.pid);
    let bind = |pid| sockopt(1, None, daemon::SOL_OXVS, daemon::OXVS_SO_BIND, pid);
    assert_eq!(errno_of(&mut b, &bind(a.pid)), 98);
    assert_eq!(errno_of(&mut b, &bind(0)), 22);
    let free = 0x7ead_beef;
    assert_eq!(errno_of(&mut b, &bind(free)), 0);
    // Upcalls now reach it by its new id.
    let name = dp_name();
    let ifindex = dp_new(&mut a, &name, None).unwrap();
    let p = dummy_port(&mut a, ifindex, "pb1", &[free]);
    let pkt = udp4(MAC_A, MAC_B, [10, 0, 0, 1], [10, 0, 0, 2], 1, 2, 10);
    d.inject(&name, PortNo(p), &pkt);
    let m = b.recv().expect("upcall");
    assert_eq!(
        (Header::parse(&m).unwrap().ty, m[16]),
        (FAM_PACKET, OVS_PACKET_CMD_MISS)
    );
    assert_eq!(attr(&m, OVS_PACKET_ATTR_PACKET).unwrap(), pkt);
}

#[test]
fn user_features_masks_cache_and_per_cpu_ids_as_the_kernel_checks_them() {
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    // Unknown bits, and TC recirculation sharing (no TC here): refused,
    // and no datapath is left behind.
    let n1 = dp_name();
    assert_eq!(dp_new(&mut s, &n1, Some(1 << 12)), Err(95));
    assert_eq!(
        dp_new(&mut s, &n1, Some(OVS_DP_F_TC_RECIRC_SHARING)),
        Err(95)
    );
    assert!(d.state.datapath(&n1).is_none());
    let f = OVS_DP_F_UNALIGNED | OVS_DP_F_VPORT_PIDS;
    let ifindex = dp_new(&mut s, &n1, Some(f)).unwrap();
    let m = dp_get(&mut s, ifindex);
    assert_eq!(
        attr(&m, OVS_DP_ATTR_USER_FEATURES).unwrap(),
        f.to_ne_bytes()
    );
    assert_eq!(
        attr(&m, OVS_DP_ATTR_MASKS_CACHE_SIZE).unwrap(),
        256u32.to_ne_bytes()
    );
    assert_eq!(attr(&m, OVS_DP_ATTR_STATS).unwrap().len(), 32);
    assert_eq!(attr(&m, OVS_DP_ATTR_MEGAFLOW_STATS).unwrap().len(), 32);
    assert_eq!(
        attr(&m, OVS_DP_ATTR_UPCALL_PID),
        None,
        "not reported, as by the kernel"
    );
    // A SET with an unknown bit changes nothing.
    assert_eq!(
        dp_set(
            &mut s,
            ifindex,
            &attrs(|w| w.put_u32(OVS_DP_ATTR_USER_FEATURES, 1 << 20))
        ),
        95
    );
    let m = dp_get(&mut s, ifindex);
    assert_eq!(
        attr(&m, OVS_DP_ATTR_USER_FEATURES).unwrap(),
        f.to_ne_bytes()
    );
    // The masks cache: 0 or a power of two up to 4096; above 4096 the
    // policy's range fails first (ERANGE, as ovs-dpctl cache-set-size shows
    // it: "Numerical result out of range").
    for (n, e) in [
        (100u32, 22),
        (8192, 34),
        (4097, 34),
        (80000, 34),
        (4096, 0),
        (512, 0),
        (0, 0),
    ] {
        assert_eq!(
            dp_set(
                &mut s,
                ifindex,
                &attrs(|w| w.put_u32(OVS_DP_ATTR_MASKS_CACHE_SIZE, n))
            ),
            e,
            "{n}"
        );
    }
    assert_eq!(
        attr(&dp_get(&mut s, ifindex), OVS_DP_ATTR_MASKS_CACHE_SIZE).unwrap(),
        0u32.to_ne_bytes()
    );
    // Per-CPU ids: a non-empty list of u32s, reported back.
    let pc = f | OVS_DP_F_DISPATCH_UPCALL_PER_CPU;
    let set = |w: &mut nl::Writer, ids: &[u8]| {
        w.put_u32(OVS_DP_ATTR_USER_FEATURES, pc);
        w.put(OVS_DP_ATTR_PER_CPU_PIDS, ids);
    };
    assert_eq!(dp_set(&mut s, ifindex, &attrs(|w| set(w, &[]))), 22);
    assert_eq!(dp_set(&mut s, ifindex, &attrs(|w| set(w, &[1, 0, 0]))), 22);
    assert_eq!(
        dp_set(
            &mut s,
            ifindex,
            &attrs(|w| set(w, &[7, 0, 0, 0, 8, 0, 0, 0]))
        ),
        0
    );
    let m = dp_get(&mut s, ifindex);
    assert_eq!(
        attr(&m, OVS_DP_ATTR_PER_CPU_PIDS).unwrap(),
        vec![7, 0, 0, 0, 8, 0, 0, 0]
    );
}

/// Injects UDP packets with source ports `ports` on port `p` of `dp`.
fn inject_flows(d: &Daemon, dp: &str, p: u32, ports: impl Iterator<Item = u16>) {
    for sp in ports {
        let pkt = udp4(MAC_A, MAC_B, [10, 0, 0, 1], [10, 0, 0, 2], sp, 9, 10);
        d.inject(dp, PortNo(p), &pkt);
    }
}

/// Source ports of the miss upcalls that arrive on `s` within `t`.
fn misses(s: &mut Raw, t: Duration) -> Vec<u16> {
    let mut out = Vec::new();
    while let Some(m) = s.recv_within(t) {
        if Header::parse(&m).unwrap().ty == FAM_PACKET && m[16] == OVS_PACKET_CMD_MISS {
            let pkt = attr(&m, OVS_PACKET_ATTR_PACKET).unwrap();
            out.push(u16::from_be_bytes([pkt[34], pkt[35]]));
        }
    }
    out
}

#[test]
fn per_cpu_dispatch_spreads_misses_and_keeps_each_flow_on_one_socket() {
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    let mut h1 = Raw::connect(&d.path);
    let mut h2 = Raw::connect(&d.path);
    let mut v = Raw::connect(&d.path);
    let name = dp_name();
    let ifindex = dp_new(
        &mut s,
        &name,
        Some(OVS_DP_F_UNALIGNED | OVS_DP_F_VPORT_PIDS | OVS_DP_F_DISPATCH_UPCALL_PER_CPU),
    )
    .unwrap();
    let ids: Vec<u8> = [h1.pid, h2.pid, h1.pid, h2.pid]
        .iter()
        .flat_map(|p| p.to_ne_bytes())
        .collect();
    assert_eq!(
        dp_set(
            &mut s,
            ifindex,
            &attrs(|w| w.put(OVS_DP_ATTR_PER_CPU_PIDS, &ids))
        ),
        0
    );
    // The port's own ids are not used in per-CPU mode.
    let p = dummy_port(&mut s, ifindex, "pc1", &[v.pid]);
    inject_flows(&d, &name, p, 1000..1064);
    inject_flows(&d, &name, p, 1000..1064);
    let (a, b) = (
        misses(&mut h1, Duration::from_millis(500)),
        misses(&mut h2, Duration::from_millis(100)),
    );
    assert_eq!(a.len() + b.len(), 128, "every miss delivered");
    assert!(
        !a.is_empty() && !b.is_empty(),
        "spread: {} / {}",
        a.len(),
        b.len()
    );
    assert!(
        a.iter().all(|x| !b.contains(x)),
        "a flow's upcalls on one socket"
    );
    assert!(misses(&mut v, Duration::from_millis(100)).is_empty());
}

#[test]
fn per_vport_dispatch_and_action_upcalls_follow_their_ids() {
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    let mut h1 = Raw::connect(&d.path);
    let mut h2 = Raw::connect(&d.path);
    let mut act = Raw::connect(&d.path);
    let name = dp_name();
    let ifindex = dp_new(
        &mut s,
        &name,
        Some(OVS_DP_F_UNALIGNED | OVS_DP_F_VPORT_PIDS),
    )
    .unwrap();
    let p1 = dummy_port(&mut s, ifindex, "pv1", &[h1.pid, h2.pid]);
    let p2 = dummy_port(&mut s, ifindex, "pv2", &[0]);
    inject_flows(&d, &name, p1, 2000..2040);
    let (a, b) = (
        misses(&mut h1, Duration::from_millis(500)),
        misses(&mut h2, Duration::from_millis(100)),
    );
    assert_eq!(a.len() + b.len(), 40);
    assert!(
        !a.is_empty() && !b.is_empty(),
        "spread: {} / {}",
        a.len(),
        b.len()
    );
    // A port whose ids are [0] makes no upcalls: its misses are lost.
    let before = u64::from_ne_bytes(
        attr(&dp_get(&mut s, ifindex), OVS_DP_ATTR_STATS).unwrap()[16..24]
            .try_into()
            .unwrap(),
    );
    inject_flows(&d, &name, p2, 1..4);
    std::thread::sleep(Duration::from_millis(300));
    let after = u64::from_ne_bytes(
        attr(&dp_get(&mut s, ifindex), OVS_DP_ATTR_STATS).unwrap()[16..24]
            .try_into()
            .unwrap(),
    );
    assert_eq!(after, before + 3, "misses counted lost");
    // A userspace action's upcall goes to the id in the action.
    let key = format!("in_port({p1}),eth(),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=7,dst=9)");
    assert_eq!(
        flow_put(
            &mut s,
            ifindex,
            &key,
            &format!("userspace(pid={})", act.pid)
        ),
        0
    );
    inject_flows(&d, &name, p1, 7..8);
    let m = act.recv().expect("action upcall");
    assert_eq!(
        (Header::parse(&m).unwrap().ty, m[16]),
        (FAM_PACKET, OVS_PACKET_CMD_ACTION)
    );
    assert!(misses(&mut h1, Duration::from_millis(100)).is_empty());
}

#[test]
fn overrun_is_reported_once_then_delivery_resumes() {
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    let mut h = Raw::connect(&d.path);
    // A small receive buffer (in the kernel's terms, doubled).
    assert_eq!(
        errno_of(
            &mut h,
            &sockopt(1, None, daemon::SOL_SOCKET, daemon::SO_RCVBUF, 8192)
        ),
        0
    );
    let name = dp_name();
    let ifindex = dp_new(&mut s, &name, None).unwrap();
    let p = dummy_port(&mut s, ifindex, "po1", &[h.pid]);
    inject_flows(&d, &name, p, 1..=200);
    std::thread::sleep(Duration::from_millis(500));
    // Some upcalls, then the notice (exactly once), then nothing more.
    let mut got = 0;
    let mut overruns = 0;
    while let Some(dg) = h.recv_datagram(Duration::from_millis(300)) {
        if daemon::is_overrun(&dg) {
            overruns += 1;
        } else {
            got += 1;
        }
    }
    assert!(got > 0 && got < 200, "got {got}");
    assert_eq!(overruns, 1);
    let lost = u64::from_ne_bytes(
        attr(&dp_get(&mut s, ifindex), OVS_DP_ATTR_STATS).unwrap()[16..24]
            .try_into()
            .unwrap(),
    );
    assert_eq!(lost, 200 - got, "every miss delivered or counted lost");
    // Room again: new upcalls arrive, no further notice.
    inject_flows(&d, &name, p, 300..305);
    let after = misses(&mut h, Duration::from_millis(500));
    assert_eq!(after.len(), 5);
    // NETLINK_NO_ENOBUFS: drops are silent.
    assert_eq!(
        errno_of(
            &mut h,
            &sockopt(2, None, daemon::SOL_NETLINK, daemon::NETLINK_NO_ENOBUFS, 1)
        ),
        0
    );
    inject_flows(&d, &name, p, 400..600);
    std::thread::sleep(Duration::from_millis(500));
    let mut overruns = 0;
    while let Some(dg) = h.recv_datagram(Duration::from_millis(300)) {
        overruns += usize::from(daemon::is_overrun(&dg));
    }
    assert_eq!(overruns, 0);
}

#[test]
fn unsupported_features_answer_as_an_older_kernel() {
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    assert_eq!(
        errno_of(
            &mut s,
            &sockopt(1, None, daemon::SOL_NETLINK, daemon::NETLINK_EXT_ACK, 1)
        ),
        0
    );
    let ifindex = dp_new(&mut s, &dp_name(), None).unwrap();
    let p = dummy_port(&mut s, ifindex, "pu1", &[0]);
    let base = format!("in_port({p}),eth(),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)");
    // Conntrack key fields and actions are accepted; a ct action on a
    // flow that is not IP is refused, as by the kernel ("ct family
    // unspecified"), and so is an unknown helper.
    for ct in [
        "ct_state(+trk)",
        "ct_zone(5)",
        "ct_mark(0x1)",
        "ct_label(0x1)",
    ] {
        let key = format!("{ct},{base}");
        assert_eq!(flow_put(&mut s, ifindex, &key, "1"), 0, "{ct}");
    }
    assert_eq!(
        flow_put(&mut s, ifindex, &base, "ct(commit),recirc(0x1)"),
        0
    );
    let arp = format!("in_port({p}),eth(),eth_type(0x0806),arp()");
    assert_eq!(flow_put(&mut s, ifindex, &arp, "ct(commit)"), 22);
    let other = base.replace("udp(src=1,", "udp(src=3,");
    assert_eq!(
        flow_put(&mut s, ifindex, &other, "ct(commit,helper=nosuch)"),
        22
    );
    // Meter actions, in flows and in probes: unknown to this datapath.
    {
        let a = "meter(0)";
        let k = base.replace("udp(src=1,", "udp(src=4,");
        assert_eq!(flow_put(&mut s, ifindex, &k, a), 22, "{a}");
        assert_eq!(
            execute(&mut s, ifindex, &format!("in_port({p})"), a, true),
            22,
            "{a}"
        );
    }
    // What is supported is accepted.
    let k = base.replace("udp(src=1,", "udp(src=5,");
    assert_eq!(flow_put(&mut s, ifindex, &k, "ct_clear,1"), 0);
    assert_eq!(
        execute(&mut s, ifindex, &format!("in_port({p})"), "1", true),
        0
    );
    // Tunnel vports: EAFNOSUPPORT, with a message.
    for ty in [
        OVS_VPORT_TYPE_GRE,
        OVS_VPORT_TYPE_VXLAN,
        OVS_VPORT_TYPE_GENEVE,
    ] {
        let (e, text) = vport_new(&mut s, ifindex, "tun0", ty, &[0]).unwrap_err();
        assert_eq!(e, 97);
        assert!(text.unwrap().contains("tunnel"));
    }
    // ctnetlink and cttimeout act on the daemon's trackers, never the
    // host's table: creating connections is not supported, an IPv4 flush
    // succeeds, a timeout get without a name is malformed, a message
    // shorter than nfgenmsg too.
    for (ty, want) in [(0x0100u16, 95), (0x0102, 0), (0x0801, 22), (0x0109, 22)] {
        let mut b = nl::msg::MsgBuilder::new(ty, REQ_ACK).seq(7);
        b.header_bytes(&[2, 0, 0, 0]);
        assert_eq!(errno_of(&mut s, &b.finish().unwrap()), want, "{ty:#x}");
    }
    let b = nl::msg::MsgBuilder::new(0x0101, REQ_ACK).seq(8);
    assert_eq!(errno_of(&mut s, &b.finish().unwrap()), 22, "no nfgenmsg");
    // UFIDs of another length than 16 bytes.
    let a = attrs(|w| w.put(OVS_FLOW_ATTR_UFID, &[1, 2, 3, 4]));
    assert_eq!(
        errno_of(
            &mut s,
            &genl(FAM_FLOW, REQ_ACK, 8, OVS_FLOW_CMD_GET, Some(ifindex), &a)
        ),
        22
    );
}

/// An `ovs_meter` request of `cmd` on datapath `ifindex`.
fn meter_req(seq: u32, cmd: u8, ifindex: i32, a: &[u8]) -> Vec<u8> {
    genl(FAM_METER, REQ_ACK, seq, cmd, Some(ifindex), a)
}

/// One drop band of `rate`, as ovs-vswitchd sets meters.
fn meter_attrs(id: Option<u32>, bands: &[(u32, u32)]) -> Vec<u8> {
    attrs(|w| {
        if let Some(id) = id {
            w.put_u32(OVS_METER_ATTR_ID, id);
        }
        w.put_flag(OVS_METER_ATTR_KBPS);
        let n = w.begin_nested(OVS_METER_ATTR_BANDS);
        for &(rate, burst) in bands {
            let b = w.begin_nested(0);
            w.put_u32(OVS_BAND_ATTR_TYPE, OVS_METER_BAND_TYPE_DROP);
            w.put_u32(OVS_BAND_ATTR_RATE, rate);
            w.put_u32(OVS_BAND_ATTR_BURST, burst);
            w.end_nested(b);
        }
        w.end_nested(n);
    })
}

#[test]
fn meter_tables_have_no_room() {
    // The family exists (a kernel without it makes ovs-vswitchd report
    // "does not support meters" on its console at start), but a meter
    // never fits: ovs-vswitchd's probe (set two, read them back) fails and
    // it uses no meters.
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    let ifindex = dp_new(&mut s, &dp_name(), None).unwrap();
    let r = s.transact(&meter_req(1, OVS_METER_CMD_FEATURES, ifindex, &[]));
    assert_eq!(err_of(r.last().unwrap()), Some(0));
    assert_eq!(r[0][16], OVS_METER_CMD_FEATURES);
    assert_eq!(
        i32::from_ne_bytes(r[0][20..24].try_into().unwrap()),
        ifindex
    );
    let max = attr(&r[0], OVS_METER_ATTR_MAX_METERS).unwrap();
    assert_eq!(u32::from_ne_bytes(max[..4].try_into().unwrap()), 0);
    let bands = attr(&r[0], OVS_METER_ATTR_MAX_BANDS).unwrap();
    assert_eq!(u32::from_ne_bytes(bands[..4].try_into().unwrap()), 1);
    // Set: checked as the kernel checks a meter, then the table is full.
    let ok = meter_attrs(Some(54545401), &[(1, 0)]);
    assert_eq!(
        errno_of(&mut s, &meter_req(2, OVS_METER_CMD_SET, ifindex, &ok)),
        27
    );
    // An empty band list is a valid meter (that never drops).
    let no_bands = meter_attrs(Some(2), &[]);
    assert_eq!(
        errno_of(&mut s, &meter_req(2, OVS_METER_CMD_SET, ifindex, &no_bands)),
        27
    );
    for (i, bad) in [
        meter_attrs(None, &[(1, 0)]),
        meter_attrs(Some(1), &[(1, 0), (2, 0)]),
        meter_attrs(Some(1), &[(0, 0)]),
        attrs(|w| w.put_u32(OVS_METER_ATTR_ID, 1)),
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(
            errno_of(&mut s, &meter_req(3, OVS_METER_CMD_SET, ifindex, bad)),
            22,
            "bad meter {i}"
        );
    }
    assert_eq!(
        errno_of(
            &mut s,
            &meter_req(4, OVS_METER_CMD_SET, ifindex + 1000, &ok)
        ),
        19
    );
    // Get: no such meter; del: nothing deleted, a reply without stats.
    let id = attrs(|w| w.put_u32(OVS_METER_ATTR_ID, 54545401));
    assert_eq!(
        errno_of(&mut s, &meter_req(5, OVS_METER_CMD_GET, ifindex, &id)),
        2
    );
    let r = s.transact(&meter_req(6, OVS_METER_CMD_DEL, ifindex, &id));
    assert_eq!(r.len(), 2);
    assert_eq!(err_of(&r[1]), Some(0));
    assert_eq!(r[0][16], OVS_METER_CMD_DEL);
    assert!(reply_attrs(&r[0]).is_empty());
    assert_eq!(
        errno_of(&mut s, &meter_req(7, OVS_METER_CMD_GET, ifindex, &[])),
        22
    );
    assert_eq!(
        errno_of(
            &mut s,
            &meter_req(8, OVS_METER_CMD_FEATURES, ifindex + 1000, &[])
        ),
        19
    );
    // The meter action stays refused in flows (EINVAL, as for a kernel
    // without meters).
    let p = dummy_port(&mut s, ifindex, "pm1", &[0]);
    let key = format!("in_port({p}),eth(),eth_type(0x0800),ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)");
    assert_eq!(flow_put(&mut s, ifindex, &key, "meter(0),1"), 22);
}

/// An execute of `packet` with a key given as raw attributes.
fn execute_raw(s: &mut Raw, ifindex: i32, packet: &[u8], key: &[u8], actions: &str) -> i32 {
    let acts = odp::text::action::parse_actions(actions).unwrap();
    let a = attrs(|w| {
        w.put(OVS_PACKET_ATTR_PACKET, packet);
        w.put(OVS_PACKET_ATTR_KEY, key);
        w.put(
            OVS_PACKET_ATTR_ACTIONS,
            &odp::nl::action::encode_actions(&acts).unwrap(),
        );
    });
    errno_of(
        s,
        &genl(
            FAM_PACKET,
            REQ_ACK,
            9,
            OVS_PACKET_CMD_EXECUTE,
            Some(ifindex),
            &a,
        ),
    )
}

#[test]
fn execute_key_gives_metadata_only_as_the_kernel_reads_it() {
    // A packet without Ethernet header comes with its EtherType and no
    // eth() nor ipv4() attribute, as ovs-vswitchd sends one after a
    // decap(): the kernel takes the key's metadata and extracts the rest
    // from the packet (ovs_flow_key_extract_userspace).
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    let dp = dp_name();
    let ifindex = dp_new(&mut s, &dp, None).unwrap();
    let p1 = dummy_port(&mut s, ifindex, "px1", &[0]);
    let p2 = dummy_port(&mut s, ifindex, "px2", &[0]);
    let frame = udp4(MAC_A, MAC_B, [10, 0, 0, 1], [10, 0, 0, 2], 1, 2, 10);
    let ip = &frame[14..];
    let key = attrs(|w| {
        w.put_u32(OVS_KEY_ATTR_PRIORITY, 0);
        w.put_u32(OVS_KEY_ATTR_SKB_MARK, 0);
        w.put_u32(OVS_KEY_ATTR_IN_PORT, p1);
        w.put_u16_be(OVS_KEY_ATTR_ETHERTYPE, 0x0800);
    });
    let push = format!("push_eth(src=02:00:00:00:00:0a,dst=02:00:00:00:00:0b),{p2}");
    assert_eq!(execute_raw(&mut s, ifindex, ip, &key, &push), 0);
    let out = d.take_output(&dp, PortNo(p2), 1, Duration::from_secs(5));
    assert_eq!(out, vec![frame.clone()]);
    // The EtherType is the packet's type: an MPLS packet without Ethernet
    // header (label 2, bottom of stack) has its label popped.
    let mut mpls = vec![0, 0, 0x21, 0x40];
    mpls.extend_from_slice(ip);
    let key = attrs(|w| {
        w.put_u32(OVS_KEY_ATTR_IN_PORT, p1);
        w.put_u16_be(OVS_KEY_ATTR_ETHERTYPE, 0x8847);
    });
    let pop = format!("pop_mpls(eth_type=0x800),{push}");
    assert_eq!(execute_raw(&mut s, ifindex, &mpls, &key, &pop), 0);
    let out = d.take_output(&dp, PortNo(p2), 1, Duration::from_secs(5));
    assert_eq!(out, vec![frame.clone()]);
    // An Ethernet packet whose key has eth_type(0x0800) but no ipv4():
    // accepted too (a flow key like this one would be EINVAL).
    let key = attrs(|w| {
        w.put_u32(OVS_KEY_ATTR_IN_PORT, p1);
        let e = w.put_zeroed(OVS_KEY_ATTR_ETHERNET, 12);
        e.copy_from_slice(&frame[..12]);
        w.put_u16_be(OVS_KEY_ATTR_ETHERTYPE, 0x0800);
    });
    assert_eq!(
        execute_raw(&mut s, ifindex, &frame, &key, &p2.to_string()),
        0
    );
    let out = d.take_output(&dp, PortNo(p2), 1, Duration::from_secs(5));
    assert_eq!(out, vec![frame.clone()]);
    // A key without in_port: the packet comes from no port (the kernel's
    // DP_MAX_PORTS), as for an OpenFlow packet-out from a port the
    // datapath lacks.
    let key = attrs(|w| w.put_u32(OVS_KEY_ATTR_SKB_MARK, 0));
    assert_eq!(
        execute_raw(&mut s, ifindex, &frame, &key, &p2.to_string()),
        0
    );
    let out = d.take_output(&dp, PortNo(p2), 1, Duration::from_secs(5));
    assert_eq!(out, vec![frame.clone()]);
    // What the kernel's parse_flow_nlattrs refuses still is: a repeated
    // attribute, a wrong length.
    for bad in [
        attrs(|w| {
            w.put_u32(OVS_KEY_ATTR_IN_PORT, p1);
            w.put_u32(OVS_KEY_ATTR_IN_PORT, p1);
        }),
        attrs(|w| {
            w.put_u32(OVS_KEY_ATTR_IN_PORT, p1);
            w.put_u32(OVS_KEY_ATTR_ETHERTYPE, 0x0800);
        }),
    ] {
        assert_eq!(
            execute_raw(&mut s, ifindex, &frame, &bad, &p2.to_string()),
            22
        );
    }
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn zero_vlan_mask_under_a_tagged_key_is_accepted_as_the_kernel_does() {
    // A flow ovs-vswitchd put in OVS's "802.1ad - vlan_limit" test, as
    // captured: an 802.1ad-tagged IPv6 key whose mask has the TPID exact
    // and a TCI of zeros under a non-empty ENCAP. The kernel checks the
    // key's TCI in place of an all-zero mask attribute and accepts it.
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    let ifindex = dp_new(&mut s, &dp_name(), None).unwrap();
    dummy_port(&mut s, ifindex, "pv1", &[0]);
    dummy_port(&mut s, ifindex, "pv2", &[0]);
    let key = unhex(
        "08001400 00000000 08001300 00000000 08000200 00000000 08000300 02000000
         08000f00 00000000 10000400 b21cf6fb 52e33333 00000016 06000600 88a80000
         06000500 1ffe0000 40000100 06000600 86dd0000 2c000800 00000000 00000000
         00000000 00000000 ff020000 00000000 00000000 00000016 00000000 3a000100
         06000c00 8f000000",
    );
    let mask = unhex(
        "08000200 00000000 0c001000 05000400 00000000 08000f00 00000000 08001400
         ffffffff 08001300 00000000 08000300 ffffffff 10000400 00000000 00000000
         00000000 06000600 ffff0000 06000500 00000000 40000100 06000600 ffff0000
         2c000800 00000000 00000000 00000000 00000000 00000000 00000000 00000000
         00000000 00000000 000000ff 06000c00 00000000",
    );
    let put = |mask: &[u8]| {
        let a = attrs(|w| {
            w.put(OVS_FLOW_ATTR_KEY, &key);
            w.put(OVS_FLOW_ATTR_MASK, mask);
            w.put(
                OVS_FLOW_ATTR_ACTIONS,
                &odp::nl::action::encode_actions(&odp::text::action::parse_actions("1").unwrap())
                    .unwrap(),
            );
        });
        genl(
            FAM_FLOW,
            REQ_ACK | NLM_F_CREATE,
            10,
            OVS_FLOW_CMD_NEW,
            Some(ifindex),
            &a,
        )
    };
    assert_eq!(errno_of(&mut s, &put(&mask)), 0);
    // The same with a zero TPID mask: refused, as by the kernel ("Must
    // have an exact match on VLAN TPID").
    let mut loose = mask.clone();
    let at = loose
        .windows(8)
        .position(|w| w == [6, 0, 6, 0, 0xff, 0xff, 0, 0])
        .unwrap();
    loose[at + 4] = 0;
    loose[at + 5] = 0;
    assert_eq!(errno_of(&mut s, &put(&loose)), 22);
}

#[test]
fn exact_flow_dumped_and_put_back_as_the_kernel_reports_it() {
    // ovs-vswitchd puts a flow without mask (exact) for a packet from a
    // port it does not know yet, later dumps it, and modifies it with the
    // dumped key and mask: the mask must carry nothing (conntrack fields)
    // that a key of this datapath cannot carry.
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    let ifindex = dp_new(&mut s, &dp_name(), None).unwrap();
    let p = dummy_port(&mut s, ifindex, "pe1", &[0]);
    let (key, _) = odp::text::key::parse_match(&format!(
        "recirc_id(0),dp_hash(0),skb_priority(0),in_port({p}),skb_mark(0),\
         eth(src=56:6c:98:5c:c3:87,dst=33:33:ff:5c:c3:87),eth_type(0x86dd),\
         ipv6(src=::,dst=ff02::1:ff5c:c387,label=0,proto=58,tclass=0,hlimit=255,frag=no),\
         icmpv6(type=135,code=0),nd(target=fe80::546c:98ff:fe5c:c387,sll=00:00:00:00:00:00,tll=00:00:00:00:00:00)"
    ))
    .unwrap();
    let ufid = [0x5au8; 16];
    let key_bytes = attrs(|w| odp::nl::key::emit_keys(&key, w));
    // No mask; empty actions (a drop), as dpif-netlink sends them.
    let a = attrs(|w| {
        w.put(OVS_FLOW_ATTR_KEY, &key_bytes);
        w.put(OVS_FLOW_ATTR_ACTIONS, &[]);
        w.put(OVS_FLOW_ATTR_UFID, &ufid);
    });
    assert_eq!(
        errno_of(
            &mut s,
            &genl(
                FAM_FLOW,
                REQ_ACK | NLM_F_CREATE,
                11,
                OVS_FLOW_CMD_NEW,
                Some(ifindex),
                &a
            )
        ),
        0
    );
    let get = attrs(|w| w.put(OVS_FLOW_ATTR_UFID, &ufid));
    let r = s.transact(&genl(
        FAM_FLOW,
        REQ_ACK,
        12,
        OVS_FLOW_CMD_GET,
        Some(ifindex),
        &get,
    ));
    assert_eq!(err_of(r.last().unwrap()), Some(0));
    let dumped_key = attr(&r[0], OVS_FLOW_ATTR_KEY).unwrap();
    let dumped_mask = attr(&r[0], OVS_FLOW_ATTR_MASK).unwrap();
    let types: Vec<u16> = nl::AttrIter::new(&dumped_mask)
        .map(|a| a.unwrap().ty)
        .collect();
    // What the kernel never reports is not in the mask; conntrack fields
    // are (the kernel's flow key holds them), each with its key attribute.
    for t in [
        OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4,
        OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6,
        OVS_KEY_ATTR_PACKET_TYPE,
        OVS_KEY_ATTR_ND_EXTENSIONS,
    ] {
        assert!(!types.contains(&t), "mask attribute {t} in {types:?}");
    }
    let key_types: Vec<u16> = nl::AttrIter::new(&dumped_key)
        .map(|a| a.unwrap().ty)
        .collect();
    for t in &types {
        if *t != odp::abi::OVS_KEY_ATTR_TUNNEL {
            assert!(
                key_types.contains(t),
                "mask attribute {t} without key: {key_types:?}"
            );
        }
    }
    assert!(types.contains(&OVS_KEY_ATTR_IPV6), "{types:?}");
    // Put back with new actions, as the revalidator does.
    let acts = odp::text::action::parse_actions(&p.to_string()).unwrap();
    let a = attrs(|w| {
        w.put(OVS_FLOW_ATTR_KEY, &dumped_key);
        w.put(OVS_FLOW_ATTR_MASK, &dumped_mask);
        w.put(
            OVS_FLOW_ATTR_ACTIONS,
            &odp::nl::action::encode_actions(&acts).unwrap(),
        );
        w.put(OVS_FLOW_ATTR_UFID, &ufid);
    });
    assert_eq!(
        errno_of(
            &mut s,
            &genl(FAM_FLOW, REQ_ACK, 13, OVS_FLOW_CMD_SET, Some(ifindex), &a)
        ),
        0
    );
}

#[test]
fn names_are_checked_as_network_device_names() {
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    for bad in ["a\u{1}b", "a b", "a/b", "0123456789abcdef", "", ".."] {
        assert_eq!(dp_new(&mut s, bad, None), Err(22), "{bad:?}");
    }
    let ifindex = dp_new(&mut s, &dp_name(), None).unwrap();
    for bad in ["p\u{7f}", "p q", "p:q"] {
        assert_eq!(
            vport_new(&mut s, ifindex, bad, OXVS_VPORT_TYPE_DUMMY, &[0])
                .unwrap_err()
                .0,
            22,
            "{bad:?}"
        );
    }
    // Invalid UTF-8 in a name is refused, not converted.
    let a = attrs(|w| {
        w.put(OVS_DP_ATTR_NAME, b"ab\xff\0");
        w.put_u32(OVS_DP_ATTR_UPCALL_PID, 0);
    });
    assert_eq!(
        errno_of(
            &mut s,
            &genl(FAM_DP, REQ_ACK, 1, OVS_DP_CMD_NEW, Some(0), &a)
        ),
        22
    );
    // Upcall id lists: non-empty and whole u32s.
    let a = attrs(|w| {
        w.put_string(OVS_VPORT_ATTR_NAME, "pl");
        w.put_u32(OVS_VPORT_ATTR_TYPE, OXVS_VPORT_TYPE_DUMMY);
        w.put(OVS_VPORT_ATTR_UPCALL_PID, &[1, 0, 0, 0, 2]);
    });
    assert_eq!(
        errno_of(
            &mut s,
            &genl(FAM_VPORT, REQ_ACK, 2, OVS_VPORT_CMD_NEW, Some(ifindex), &a)
        ),
        22
    );
}

#[test]
#[ignore = "run by member_connections_are_limited_and_expire as another user"]
fn child_member_connections() {
    let Some(path) = std::env::var_os("OXVSD_CHILD_SOCKET") else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    let results: Vec<String> = (0..5)
        .map(|_| match Raw::try_connect(&path) {
            Ok(r) => {
                std::mem::forget(r);
                "ok".into()
            }
            Err(e) => format!("e{e}"),
        })
        .collect();
    println!("CONNS={}", results.join(","));
}

#[test]
#[ignore = "run by member_connections_are_limited_and_expire as another user"]
fn child_idle_connection() {
    let Some(path) = std::env::var_os("OXVSD_CHILD_SOCKET") else {
        return;
    };
    let path = std::path::PathBuf::from(path);
    let idle = Raw::connect(&path);
    let mut joined = Raw::connect(&path);
    let join = sockopt(
        1,
        None,
        daemon::SOL_NETLINK,
        daemon::NETLINK_ADD_MEMBERSHIP,
        GROUP_VPORT,
    );
    assert_eq!(errno_of(&mut joined, &join), 0);
    std::thread::sleep(Duration::from_millis(2500));
    // The idle one was closed; the subscribed one still works.
    let closed = idle.recv_datagram(Duration::from_millis(100)).is_none()
        && rustix::net::send(&idle.fd, &[0; 16], rustix::net::SendFlags::NOSIGNAL).is_err();
    let a = attrs(|w| w.put_string(CTRL_ATTR_FAMILY_NAME, "ovs_flow"));
    let r = joined.transact(&genl(
        GENL_ID_CTRL,
        REQ_ACK,
        2,
        CTRL_CMD_GETFAMILY,
        None,
        &a,
    ));
    println!(
        "IDLE_CLOSED={closed} JOINED_OK={}",
        err_of(r.last().unwrap()) == Some(0)
    );
}

#[test]
fn member_connections_are_limited_and_expire() {
    let d = Daemon::start_with(|c| {
        c.max_conns_per_user = 3;
        c.idle_timeout = Duration::from_secs(1);
    });
    let gid = std::fs::metadata(&d.path)
        .map(|m| std::os::unix::fs::MetadataExt::gid(&m))
        .unwrap();
    let env = [("OXVSD_CHILD_SOCKET", d.path.display().to_string())];
    let Some(out) = run_as("child_member_connections", &env, &gid.to_string()) else {
        return;
    };
    assert!(out.contains("CONNS=ok,ok,ok,e24,e24"), "{out}");
    // Root still gets in, beyond the members' limit.
    let _roots: Vec<Raw> = (0..5).map(|_| Raw::connect(&d.path)).collect();
    let out = run_as("child_idle_connection", &env, &gid.to_string()).unwrap();
    assert!(out.contains("IDLE_CLOSED=true JOINED_OK=true"), "{out}");
    // Root's idle connections are kept.
    std::thread::sleep(Duration::from_millis(1500));
    let mut r = Raw::connect(&d.path);
    let a = attrs(|w| w.put_string(CTRL_ATTR_FAMILY_NAME, "ovs_flow"));
    let before = Instant::now();
    assert_eq!(
        errno_of(
            &mut r,
            &genl(GENL_ID_CTRL, REQ_ACK, 2, CTRL_CMD_GETFAMILY, None, &a)
        ),
        0
    );
    assert!(before.elapsed() < Duration::from_secs(1));
}

/// Runs `ip ARGS`; false (with a SKIP line) when that is not possible.
fn ip(args: &[&str]) -> bool {
    match std::process::Command::new("ip").args(args).output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!(
                "SKIP: ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&o.stderr).trim()
            );
            false
        }
        Err(e) => {
            eprintln!("SKIP: ip: {e}");
            false
        }
    }
}

#[test]
fn ports_follow_their_devices() {
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("SKIP: not root: cannot create network devices");
        return;
    }
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    let mut l = Raw::connect(&d.path);
    let join = sockopt(
        1,
        None,
        daemon::SOL_NETLINK,
        daemon::NETLINK_ADD_MEMBERSHIP,
        GROUP_VPORT,
    );
    assert_eq!(errno_of(&mut l, &join), 0);
    let ifindex = dp_new(&mut s, &dp_name(), None).unwrap();
    // An internal port is a tap device with the requested name.
    let tag = std::process::id() % 10000;
    let internal = format!("oxi{tag}");
    let p = vport_new(&mut s, ifindex, &internal, OVS_VPORT_TYPE_INTERNAL, &[0]).unwrap();
    let dev_index: u32 = std::fs::read_to_string(format!("/sys/class/net/{internal}/ifindex"))
        .expect("internal port's device exists")
        .trim()
        .parse()
        .unwrap();
    let a = attrs(|w| w.put_u32(OVS_VPORT_ATTR_PORT_NO, p));
    let r = s.transact(&genl(
        FAM_VPORT,
        REQ_ACK,
        3,
        OVS_VPORT_CMD_GET,
        Some(ifindex),
        &a,
    ));
    assert_eq!(
        attr(&r[0], OVS_VPORT_ATTR_IFINDEX).unwrap(),
        dev_index.to_ne_bytes()
    );
    assert_eq!(
        attr(&r[0], OVS_VPORT_ATTR_TYPE).unwrap(),
        OVS_VPORT_TYPE_INTERNAL.to_ne_bytes()
    );
    while l.recv_within(Duration::from_millis(200)).is_some() {}
    // Moved to another network namespace, an internal port's device stays
    // the port's, as the kernel's internal devices do (OVS's system tests
    // move internal ports into namespaces).
    let ns = format!("oxns{tag}");
    if !ip(&["netns", "add", &ns]) {
        return;
    }
    let moved = ip(&["link", "set", "dev", &internal, "netns", &ns]);
    let kept = l.recv_within(Duration::from_secs(1));
    let r = s.transact(&genl(
        FAM_VPORT,
        REQ_ACK,
        5,
        OVS_VPORT_CMD_GET,
        Some(ifindex),
        &a,
    ));
    ip(&["netns", "del", &ns]);
    assert!(moved);
    assert!(kept.is_none(), "no notification for a moved internal port");
    assert_eq!(Header::parse(&r[0]).unwrap().ty, FAM_VPORT, "port kept");
    // A netdev port on a veth: removed, and announced, when the device goes.
    let (va, vb) = (format!("oxa{tag}"), format!("oxb{tag}"));
    if !ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb]) {
        return;
    }
    let p = vport_new(&mut s, ifindex, &va, OVS_VPORT_TYPE_NETDEV, &[0]).unwrap();
    let _ = l.recv().expect("NEW notification");
    assert!(ip(&["link", "del", &va]));
    let m = l
        .recv_within(Duration::from_secs(5))
        .expect("DEL notification");
    assert_eq!(
        (Header::parse(&m).unwrap().ty, m[16]),
        (FAM_VPORT, OVS_VPORT_CMD_DEL)
    );
    assert_eq!(attr(&m, OVS_VPORT_ATTR_PORT_NO).unwrap(), p.to_ne_bytes());
    let a = attrs(|w| w.put_u32(OVS_VPORT_ATTR_PORT_NO, p));
    assert_eq!(
        errno_of(
            &mut s,
            &genl(FAM_VPORT, REQ_ACK, 4, OVS_VPORT_CMD_GET, Some(ifindex), &a)
        ),
        19
    );
    // A missing device is ENODEV.
    assert_eq!(
        vport_new(&mut s, ifindex, "oxvs-none0", OVS_VPORT_TYPE_NETDEV, &[0])
            .unwrap_err()
            .0,
        19
    );
}

/// Open vSwitch's handler installs a drop flow with the bare upcall key (no
/// mask: exact) for a packet from a port it does not know yet
/// (ofproto-dpif-upcall.c, `recv_upcalls`), and its revalidator later
/// reads the flow back by UFID and modifies it with the key and mask it
/// read. A kernel without conntrack reports key and mask with the same
/// attributes (`ovs_nla_put_key` puts conntrack fields only when built
/// with it) and accepts them back in `OVS_FLOW_CMD_SET`.
#[test]
fn exact_flow_is_reported_as_put_and_modified_with_what_was_read() {
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    let ifindex = dp_new(&mut s, &dp_name(), Some(OVS_DP_F_UNALIGNED)).unwrap();
    let p = dummy_port(&mut s, ifindex, "px1", &[0]);
    let out = dummy_port(&mut s, ifindex, "px2", &[0]);
    let (key, _) = odp::text::key::parse_match(&format!(
        "recirc_id(0),dp_hash(0),skb_priority(0),in_port({p}),skb_mark(0),\
         eth(src=02:00:00:00:00:0a,dst=02:00:00:00:00:0b),eth_type(0x0800),\
         ipv4(src=10.0.0.1,dst=10.0.0.2,proto=1,tos=0,ttl=64,frag=no),icmp(type=8,code=0)"
    ))
    .unwrap();
    let ufid = 0x1234_5678_9abc_def0_0fed_cba9_8765_4321u128.to_ne_bytes();
    let new = attrs(|w| {
        let n = w.begin_nested(OVS_FLOW_ATTR_KEY);
        odp::nl::key::emit_keys(&key, w);
        w.end_nested(n);
        w.put(OVS_FLOW_ATTR_UFID, &ufid);
        w.put(OVS_FLOW_ATTR_ACTIONS, &[]);
    });
    let new = genl(
        FAM_FLOW,
        REQ_ACK | NLM_F_CREATE,
        20,
        OVS_FLOW_CMD_NEW,
        Some(ifindex),
        &new,
    );
    assert_eq!(errno_of(&mut s, &new), 0);

    let get = |s: &mut Raw, seq| {
        let r = s.transact(&genl(
            FAM_FLOW,
            REQ_ACK,
            seq,
            OVS_FLOW_CMD_GET,
            Some(ifindex),
            &attrs(|w| w.put(OVS_FLOW_ATTR_UFID, &ufid)),
        ));
        assert_eq!(err_of(r.last().unwrap()), Some(0));
        r[0].clone()
    };
    let got = get(&mut s, 21);
    let (k, m) = (
        attr(&got, OVS_FLOW_ATTR_KEY).unwrap(),
        attr(&got, OVS_FLOW_ATTR_MASK).expect("an exact flow reports its mask"),
    );
    // The kernel puts a tunnel mask into every mask (zero when the key has
    // no tunnel) and nothing else the key lacks.
    let types = |b: &[u8]| -> Vec<u16> {
        nl::AttrIter::new(b)
            .map(|a| a.unwrap().ty)
            .filter(|&t| t != odp::abi::OVS_KEY_ATTR_TUNNEL)
            .collect()
    };
    assert_eq!(types(&m), types(&k), "mask attributes are the key's");

    let set = attrs(|w| {
        w.put(OVS_FLOW_ATTR_KEY, &k);
        w.put(OVS_FLOW_ATTR_MASK, &m);
        w.put(OVS_FLOW_ATTR_UFID, &ufid);
        w.put(
            OVS_FLOW_ATTR_ACTIONS,
            &odp::nl::action::encode_actions(&[odp::action::Action::Output(PortNo(out))]).unwrap(),
        );
    });
    let set = genl(FAM_FLOW, REQ_ACK, 22, OVS_FLOW_CMD_SET, Some(ifindex), &set);
    assert_eq!(errno_of(&mut s, &set), 0, "revalidator's modify");
    let acts = attr(&get(&mut s, 23), OVS_FLOW_ATTR_ACTIONS).unwrap();
    assert_eq!(
        odp::nl::action::decode_actions(&acts, odp::nl::Mode::Strict).unwrap(),
        vec![odp::action::Action::Output(PortNo(out))]
    );
}

/// A client that opens a datapath only to read it (`oxvs-dpctl show`,
/// `dump-flows`) leaves its upcall dispatch alone: ovs-vswitchd set
/// per-CPU dispatch with its handlers' ids, and its misses keep reaching
/// them (they were lost once a reader had switched the datapath to
/// per-vport dispatch, whose port ids ovs-vswitchd had left at 0).
#[test]
fn reading_client_leaves_the_dispatch_mode_alone() {
    use dpif::DpifClass;
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    let mut h = Raw::connect(&d.path);
    let name = dp_name();
    let per_cpu = OVS_DP_F_UNALIGNED | OVS_DP_F_DISPATCH_UPCALL_PER_CPU;
    let ifindex = dp_new(&mut s, &name, Some(per_cpu)).unwrap();
    let ids: Vec<u8> = [h.pid, h.pid]
        .iter()
        .flat_map(|p| p.to_ne_bytes())
        .collect();
    assert_eq!(
        dp_set(
            &mut s,
            ifindex,
            &attrs(|w| {
                w.put_u32(OVS_DP_ATTR_USER_FEATURES, per_cpu);
                w.put(OVS_DP_ATTR_PER_CPU_PIDS, &ids);
            })
        ),
        0
    );
    let p = dummy_port(&mut s, ifindex, "pr1", &[0]);

    let reader = dpif_netlink::RemoteClass::new(&d.path)
        .open(&name, false)
        .expect("open");
    let reader = dpif::Dpif::new(reader);
    assert_eq!(reader.port_dump().unwrap().len(), 2);
    let dump = reader.flow_dump(false).unwrap();
    let mut flows = Vec::new();
    let mut cursor = dump.cursor();
    while cursor.next(&mut flows, 64).unwrap() > 0 {}
    assert!(flows.is_empty());
    drop(cursor);
    drop(dump);

    let m = dp_get(&mut s, ifindex);
    let features = u32::from_ne_bytes(
        attr(&m, OVS_DP_ATTR_USER_FEATURES).unwrap()[..4]
            .try_into()
            .unwrap(),
    );
    assert_eq!(features, per_cpu, "user features kept");
    assert_eq!(attr(&m, OVS_DP_ATTR_PER_CPU_PIDS).unwrap(), ids);
    inject_flows(&d, &name, p, 3000..3004);
    assert_eq!(
        misses(&mut h, Duration::from_millis(500)).len(),
        4,
        "misses reach the handler"
    );
}

/// A flow whose Ethernet addresses are wildcarded reads back, through the
/// client `oxvs-dpctl` uses, with its Ethernet attribute: it says the
/// packet is Ethernet (`eth()` in OVS's format, as `ovs-dpctl` prints the
/// same reply), while wildcarded metadata may be left out.
#[test]
fn client_keeps_a_wildcarded_ethernet_attribute() {
    use dpif::DpifClass;
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    let name = dp_name();
    let ifindex = dp_new(&mut s, &name, Some(OVS_DP_F_UNALIGNED)).unwrap();
    let p = dummy_port(&mut s, ifindex, "pe1", &[0]);
    let text = format!(
        "recirc_id(0x1),dp_hash(0x5/0xf),in_port({p}),eth(src=02:00:00:00:00:0a/00:00:00:00:00:00,\
         dst=02:00:00:00:00:0b/00:00:00:00:00:00),eth_type(0x0800),ipv4(frag=no)"
    );
    assert_eq!(flow_put(&mut s, ifindex, &text, "drop"), 0);

    // The reply as it comes off the socket, formatted as OVS formats it.
    let r = s.transact(&genl(
        FAM_FLOW,
        NLM_F_REQUEST | NLM_F_DUMP,
        30,
        OVS_FLOW_CMD_GET,
        Some(ifindex),
        &[],
    ));
    let key = odp::nl::key::decode_keys(
        &attr(&r[0], OVS_FLOW_ATTR_KEY).unwrap(),
        odp::nl::Mode::Strict,
    )
    .unwrap()
    .0;
    let mask = odp::nl::key::decode_mask(
        &attr(&r[0], OVS_FLOW_ATTR_MASK).unwrap(),
        &key,
        odp::nl::Mode::Strict,
    )
    .unwrap();
    let mut want = String::new();
    odp::text::key::format_match(&key, Some(&mask), false, &mut want);
    assert!(want.contains(",eth(),"), "{want}");

    let dp = dpif::Dpif::new(
        dpif_netlink::RemoteClass::new(&d.path)
            .open(&name, false)
            .unwrap(),
    );
    let dump = dp.flow_dump(false).unwrap();
    let mut flows = Vec::new();
    let mut cursor = dump.cursor();
    while cursor.next(&mut flows, 64).unwrap() > 0 {}
    drop(cursor);
    assert_eq!(flows.len(), 1);
    let mut got = String::new();
    odp::text::key::format_match(&flows[0].key, Some(&flows[0].mask), false, &mut got);
    assert_eq!(got, want);
}
