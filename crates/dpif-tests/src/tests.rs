//! The suite's tests. Each takes a fresh [`TestBed`] and panics on failure.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dpif::{
    Dpif, Errno, Execute, FlowDel, FlowGet, FlowPut, FlowStats, ListenMask, Op, OpReply, PortSpec,
    PutFlags, UpcallKind,
};
use odp::action::Action;
use odp::key::{KeyAttr, PortNo, Ufid};

use crate::packet::{a_to_b, a_to_b_key};
use crate::TestBed;

const WAIT: Duration = Duration::from_secs(5);

/// IPv4 and UDP layers with every field wildcarded: appended to an L2 match
/// to make a megaflow that matches any IPv4/UDP packet. (A key must carry
/// every layer its EtherType implies, even when the mask ignores it.)
const WILD_L3: &str = "ipv4(proto=17/0),udp(src=0/0,dst=0/0)";

fn parse_key(text: &str) -> (Vec<KeyAttr>, Vec<KeyAttr>) {
    odp::text::key::parse_match(text).unwrap_or_else(|e| panic!("bad key {text:?}: {e}"))
}

/// The attributes of `key` that `mask` does not wildcard entirely (all of
/// them when `mask` is empty: an exact flow). Flows read back are compared
/// this way: a datapath may report attributes it adds under an all-zero
/// mask, as the kernel does (`recirc_id`, `dp_hash`, `skb_mark`, `ct_*`...),
/// and the flow still matches the packets it was written to match.
fn matched(key: &[KeyAttr], mask: &[KeyAttr]) -> Vec<KeyAttr> {
    let wildcarded = |ty: u16| {
        mask.iter().filter(|m| m.ty() == ty).any(|m| {
            let mut w = nl::Writer::new();
            odp::nl::key::emit_keys(std::slice::from_ref(m), &mut w);
            w.as_bytes()
                .get(4..)
                .is_some_and(|p| p.iter().all(|&b| b == 0))
        })
    };
    key.iter()
        .filter(|k| mask.is_empty() || !wildcarded(k.ty()))
        .cloned()
        .collect()
}

/// What a flow written as `text` matches (see [`matched`]).
fn matched_text(text: &str) -> Vec<KeyAttr> {
    let (key, mask) = parse_key(text);
    matched(&key, &mask)
}

fn parse_actions(text: &str) -> Vec<Action> {
    odp::text::action::parse_actions(text).unwrap_or_else(|e| panic!("bad actions {text:?}: {e}"))
}

fn put_op(key: &str, actions: &str, flags: PutFlags, ufid: Option<Ufid>) -> FlowPut {
    let (key, mask) = parse_key(key);
    FlowPut {
        flags,
        key,
        mask: Some(mask),
        ufid,
        actions: parse_actions(actions),
        want_stats: true,
    }
}

fn put(dpif: &Dpif, key: &str, actions: &str, flags: PutFlags) -> Result<Option<FlowStats>, Errno> {
    dpif.flow_put(put_op(key, actions, flags, None))
}

fn get(dpif: &Dpif, key: &str) -> Result<dpif::DpifFlow, Errno> {
    dpif.flow_get(FlowGet {
        key: parse_key(key).0,
        ufid: None,
    })
}

fn del(dpif: &Dpif, key: &str) -> Result<Option<FlowStats>, Errno> {
    dpif.flow_del(FlowDel {
        key: parse_key(key).0,
        ufid: None,
        want_stats: true,
    })
}

fn dump_all(dpif: &Dpif, terse: bool) -> Vec<dpif::DpifFlow> {
    let dump = dpif.flow_dump(terse).expect("flow_dump");
    let mut cursor = dump.cursor();
    let mut out = Vec::new();
    while cursor.next(&mut out, 7).expect("dump next") > 0 {}
    out
}

/// Waits until `cond` holds, for at most [`WAIT`].
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < WAIT, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn two_ports(bed: &dyn TestBed) -> (PortNo, PortNo) {
    (bed.add_test_port("p1", None), bed.add_test_port("p2", None))
}

/// Creating, opening, enumerating and destroying datapaths.
pub fn datapath_lifecycle(bed: &dyn TestBed) {
    let name = format!("lc{}", std::process::id());
    assert_eq!(bed.open_other(&name, false).err(), Some(Errno::ENODEV));
    let dp = bed.open_other(&name, true).expect("create");
    assert_eq!(bed.open_other(&name, true).err(), Some(Errno::EEXIST));
    assert!(bed.enumerate().contains(&name));
    let again = bed.open_other(&name, false).expect("open existing");
    assert_eq!(again.name(), name);
    dp.destroy().expect("destroy");
    assert!(!bed.enumerate().contains(&name));
    assert_eq!(again.get_stats().err(), Some(Errno::ENODEV));
    assert_eq!(bed.open_other(&name, false).err(), Some(Errno::ENODEV));
}

/// Port 0 is the local port, named after the datapath.
pub fn local_port_is_zero_and_named_after_datapath(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let local = dpif.port_query_by_number(PortNo(0)).expect("local port");
    assert_eq!(local.name, dpif.name());
    assert_eq!(local.port_type, "internal");
    assert_eq!(
        dpif.port_query_by_name(dpif.name()).unwrap().port_no,
        PortNo(0)
    );
    assert_eq!(dpif.port_del(PortNo(0)).err(), Some(Errno::EINVAL));
}

/// Port numbers: automatic, requested, in use; errors for unknown ports.
pub fn port_numbers_and_errors(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let p1 = bed.add_test_port("p1", None);
    assert_ne!(p1, PortNo(0));
    let p7 = bed.add_test_port("p7", Some(PortNo(7)));
    assert_eq!(p7, PortNo(7));
    assert_eq!(
        dpif.port_add(&bed.test_port_spec("p8"), Some(PortNo(7)))
            .err(),
        Some(Errno::EBUSY)
    );
    assert_eq!(
        dpif.port_add(&bed.test_port_spec("p1"), None).err(),
        Some(Errno::EEXIST)
    );
    let max = dpif.get_max_ports();
    assert_eq!(
        dpif.port_add(&bed.test_port_spec("p9"), Some(PortNo(max)))
            .err(),
        Some(Errno::EINVAL)
    );
    assert_eq!(
        dpif.port_query_by_number(PortNo(4242)).err(),
        Some(Errno::ENODEV)
    );
    assert_eq!(
        dpif.port_query_by_name("nosuchport").err(),
        Some(Errno::ENODEV)
    );
    assert_eq!(dpif.port_del(PortNo(4242)).err(), Some(Errno::ENODEV));
    let q = dpif.port_query_by_name("p7").unwrap();
    assert_eq!(q.port_no, PortNo(7));
    dpif.port_del(PortNo(7)).unwrap();
    assert_eq!(
        dpif.port_query_by_number(PortNo(7)).err(),
        Some(Errno::ENODEV)
    );
    // A freed number can be requested again.
    assert_eq!(bed.add_test_port("p7b", Some(PortNo(7))), PortNo(7));
    let unknown = PortSpec {
        name: "x0".into(),
        port_type: "nosuchtype".into(),
        options: vec![],
    };
    assert_eq!(dpif.port_add(&unknown, None).err(), Some(Errno::EINVAL));
}

/// Port dumps list every port in number order; port_poll reports changes.
pub fn port_dump_and_poll(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    // Drain what creation reported.
    while let Ok(Some(_)) = dpif.port_poll() {}
    let (p1, p2) = two_ports(bed);
    let ports = dpif.port_dump().unwrap();
    let nos: Vec<PortNo> = ports.iter().map(|p| p.port_no).collect();
    assert_eq!(nos, vec![PortNo(0), p1, p2]);
    let mut changed = HashSet::new();
    eventually("port_poll to report the new ports", || {
        match dpif.port_poll() {
            Ok(Some(name)) => {
                changed.insert(name);
            }
            Err(Errno::ENOBUFS) => {
                changed.insert("p1".into());
                changed.insert("p2".into());
            }
            _ => {}
        }
        changed.contains("p1") && changed.contains("p2")
    });
    dpif.port_del(p2).unwrap();
    assert!(
        dpif.port_poll_wait(Some(WAIT)),
        "port_poll_wait after port_del"
    );
    let mut seen_del = false;
    while let Ok(Some(name)) = dpif.port_poll() {
        seen_del |= name == "p2";
    }
    assert!(seen_del, "port_poll did not report p2's removal");
}

/// A create-only put of an existing flow fails with EEXIST.
pub fn put_existing_without_modify_is_eexist(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    let key = a_to_b_key(p1.0, 1);
    put(dpif, &key, &p2.0.to_string(), PutFlags::CREATE).unwrap();
    assert_eq!(
        put(dpif, &key, &p2.0.to_string(), PutFlags::CREATE).err(),
        Some(Errno::EEXIST)
    );
    assert_eq!(dpif.get_stats().unwrap().n_flows, 1);
}

/// A modify-only put of a missing flow fails with ENOENT.
pub fn modify_missing_is_enoent(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    let key = a_to_b_key(p1.0, 1);
    assert_eq!(
        put(dpif, &key, &p2.0.to_string(), PutFlags::MODIFY).err(),
        Some(Errno::ENOENT)
    );
    assert_eq!(dpif.get_stats().unwrap().n_flows, 0);
}

/// Modifying a flow replaces its actions and keeps its statistics unless
/// asked to zero them; the reply carries the statistics before the put.
pub fn modify_keeps_stats_unless_zeroed(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    let key = a_to_b_key(p1.0, 1);
    put(dpif, &key, &p2.0.to_string(), PutFlags::CREATE).unwrap();
    for _ in 0..3 {
        bed.inject(p1, &a_to_b(1));
    }
    assert_eq!(bed.take_output(p2, 3, WAIT).len(), 3);
    eventually("flow stats to count 3 packets", || {
        get(dpif, &key).unwrap().stats.n_packets == 3
    });
    let old = put(dpif, &key, "drop", PutFlags::MODIFY)
        .unwrap()
        .expect("old stats");
    assert_eq!(old.n_packets, 3);
    assert_eq!(old.n_bytes, 3 * 60);
    let f = get(dpif, &key).unwrap();
    assert_eq!(f.stats.n_packets, 3, "modify kept the stats");
    assert!(f.actions.is_empty() || f.actions == parse_actions("drop"));
    let zero = PutFlags {
        zero_stats: true,
        ..PutFlags::MODIFY
    };
    put(dpif, &key, &p2.0.to_string(), zero).unwrap();
    assert_eq!(
        get(dpif, &key).unwrap().stats.n_packets,
        0,
        "zero_stats zeroed"
    );
    assert_eq!(
        get(dpif, &key).unwrap().actions,
        parse_actions(&p2.0.to_string())
    );
}

/// Flows can be read and deleted by key or by UFID.
pub fn get_and_del_by_key_and_by_ufid(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    let ufid = Ufid(0x0123_4567_89ab_cdef_0011_2233_4455_6677);
    let k1 = a_to_b_key(p1.0, 1);
    let k2 = a_to_b_key(p1.0, 2);
    dpif.flow_put(put_op(&k1, &p2.0.to_string(), PutFlags::CREATE, Some(ufid)))
        .unwrap();
    put(dpif, &k2, &p2.0.to_string(), PutFlags::CREATE).unwrap();
    let by_ufid = dpif
        .flow_get(FlowGet {
            key: vec![],
            ufid: Some(ufid),
        })
        .unwrap();
    assert_eq!(by_ufid.ufid, ufid);
    assert_eq!(matched(&by_ufid.key, &by_ufid.mask), matched_text(&k1));
    let by_key = get(dpif, &k2).unwrap();
    assert_eq!(by_key.ufid, Dpif::ufid_from_key(&parse_key(&k2).0));
    dpif.flow_del(FlowDel {
        key: vec![],
        ufid: Some(ufid),
        want_stats: false,
    })
    .unwrap();
    assert_eq!(
        dpif.flow_get(FlowGet {
            key: vec![],
            ufid: Some(ufid)
        })
        .err(),
        Some(Errno::ENOENT)
    );
    del(dpif, &k2).unwrap();
    assert_eq!(get(dpif, &k2).err(), Some(Errno::ENOENT));
    assert_eq!(dpif.get_stats().unwrap().n_flows, 0);
}

/// Deleting a missing flow fails with ENOENT.
pub fn del_missing_is_enoent(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, _) = two_ports(bed);
    assert_eq!(del(dpif, &a_to_b_key(p1.0, 1)).err(), Some(Errno::ENOENT));
    assert_eq!(
        dpif.flow_del(FlowDel {
            key: vec![],
            ufid: Some(Ufid(7)),
            want_stats: true
        })
        .err(),
        Some(Errno::ENOENT)
    );
}

/// Malformed puts fail with EINVAL and leave the table unchanged.
pub fn malformed_puts_are_einval_and_change_nothing(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    let out = p2.0.to_string();
    // No in_port at all.
    let no_in_port = "eth(src=02:00:00:00:00:0a,dst=02:00:00:00:00:0b),eth_type(0x0800),\
                      ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=9)";
    assert_eq!(
        put(dpif, no_in_port, &out, PutFlags::CREATE).err(),
        Some(Errno::EINVAL)
    );
    // in_port wildcarded.
    let wild = a_to_b_key(p1.0, 1).replacen(
        &format!("in_port({})", p1.0),
        &format!("in_port({}/0xff)", p1.0),
        1,
    );
    assert_eq!(
        put(dpif, &wild, &out, PutFlags::CREATE).err(),
        Some(Errno::EINVAL)
    );
    // A mask attribute for a field absent from the key.
    let (key, mut mask) = parse_key(&a_to_b_key(p1.0, 1));
    mask.push(KeyAttr::TcpFlags(0xfff));
    let bad = FlowPut {
        flags: PutFlags::CREATE,
        key,
        mask: Some(mask),
        ufid: None,
        actions: parse_actions(&out),
        want_stats: false,
    };
    assert_eq!(dpif.flow_put(bad).err(), Some(Errno::EINVAL));
    // Actions not safe on every packet of the match: setting the IPv4 TTL
    // on a flow that does not match eth_type.
    // Actions not safe on every packet of the match: setting an IPv4
    // field on an IPv6 flow.
    let ipv6 = format!(
        "in_port({}),eth(src=02:00:00:00:00:0a,dst=02:00:00:00:00:0b),eth_type(0x86dd),\
         ipv6(src=::1,dst=::2,label=0,proto=17,tclass=0,hlimit=64,frag=no),udp(src=1,dst=9)",
        p1.0
    );
    put(dpif, &ipv6, &out, PutFlags::CREATE).expect("the IPv6 flow itself is valid");
    dpif.flow_del(FlowDel {
        key: parse_key(&ipv6).0,
        ufid: None,
        want_stats: false,
    })
    .unwrap();
    let set_ttl = Action::SetMasked {
        key: KeyAttr::Ipv4(odp::key::Ipv4Key {
            ttl: 9,
            ..Default::default()
        }),
        mask: KeyAttr::Ipv4(odp::key::Ipv4Key {
            ttl: 0xff,
            ..Default::default()
        }),
    };
    let (key, mask) = parse_key(&ipv6);
    let unsafe_put = FlowPut {
        flags: PutFlags::CREATE,
        key,
        mask: Some(mask),
        ufid: None,
        actions: vec![set_ttl],
        want_stats: false,
    };
    assert_eq!(dpif.flow_put(unsafe_put).err(), Some(Errno::EINVAL));
    if bed.caps().checks_in_port {
        assert_eq!(
            put(dpif, &a_to_b_key(4000, 1), &out, PutFlags::CREATE).err(),
            Some(Errno::EINVAL)
        );
    }
    assert_eq!(dpif.get_stats().unwrap().n_flows, 0);
    assert!(dump_all(dpif, false).is_empty());
}

/// Two flows with the same mask and masked key cannot coexist.
pub fn same_mask_and_masked_key_is_eexist(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    let k1 = format!(
        "in_port({}),eth(src=02:00:00:00:00:0a/ff:ff:ff:00:00:00,dst=02:00:00:00:00:0b),eth_type(0x0800),{}",
        p1.0,
        WILD_L3
    );
    let k2 = format!(
        "in_port({}),eth(src=02:00:00:ff:ff:ff/ff:ff:ff:00:00:00,dst=02:00:00:00:00:0b),eth_type(0x0800),{}",
        p1.0,
        WILD_L3
    );
    put(dpif, &k1, &p2.0.to_string(), PutFlags::CREATE).unwrap();
    assert_eq!(
        put(dpif, &k2, &p2.0.to_string(), PutFlags::CREATE).err(),
        Some(Errno::EEXIST)
    );
}

/// Flush deletes every flow.
pub fn flush_deletes_everything(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    for s in 1..=20 {
        put(
            dpif,
            &a_to_b_key(p1.0, s),
            &p2.0.to_string(),
            PutFlags::CREATE,
        )
        .unwrap();
    }
    assert_eq!(dpif.get_stats().unwrap().n_flows, 20);
    dpif.flow_flush().unwrap();
    assert_eq!(dpif.get_stats().unwrap().n_flows, 0);
    assert!(dump_all(dpif, false).is_empty());
    bed.inject(p1, &a_to_b(1));
    // With no flow, the packet is not forwarded.
    assert!(bed
        .take_output(p2, 1, Duration::from_millis(200))
        .is_empty());
}

/// A dump returns every flow exactly once, with its key, mask and actions.
pub fn dump_returns_every_flow_once(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    let mut want = HashSet::new();
    for s in 1..=100u16 {
        let k = a_to_b_key(p1.0, s);
        put(dpif, &k, &p2.0.to_string(), PutFlags::CREATE).unwrap();
        want.insert(Dpif::ufid_from_key(&parse_key(&k).0));
    }
    // Several cursors drain one dump concurrently.
    let dump = dpif.flow_dump(false).unwrap();
    let got: Vec<dpif::DpifFlow> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let dump = &dump;
                s.spawn(move || {
                    let mut c = dump.cursor();
                    let mut out = Vec::new();
                    while c.next(&mut out, 5).unwrap() > 0 {}
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert_eq!(got.len(), 100, "every flow exactly once");
    let ufids: HashSet<Ufid> = got.iter().map(|f| f.ufid).collect();
    assert_eq!(ufids, want);
    for f in &got {
        assert!(!f.key.is_empty() && !f.mask.is_empty());
        assert_eq!(f.actions, parse_actions(&p2.0.to_string()));
    }
}

/// A terse dump carries UFIDs and statistics only.
pub fn terse_dump_has_ufid_and_stats_only(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    put(
        dpif,
        &a_to_b_key(p1.0, 1),
        &p2.0.to_string(),
        PutFlags::CREATE,
    )
    .unwrap();
    let flows = dump_all(dpif, true);
    assert_eq!(flows.len(), 1);
    assert!(flows[0].key.is_empty() && flows[0].mask.is_empty() && flows[0].actions.is_empty());
    assert_eq!(
        flows[0].ufid,
        Dpif::ufid_from_key(&parse_key(&a_to_b_key(p1.0, 1)).0)
    );
}

/// Dumps stay consistent while other threads put and delete flows: stable
/// flows appear exactly once, nothing crashes, and the final state is right.
pub fn dump_consistent_under_concurrent_put_del(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    let out = p2.0.to_string();
    for s in 1..=50 {
        put(dpif, &a_to_b_key(p1.0, s), &out, PutFlags::CREATE).unwrap();
    }
    let stable: HashSet<Ufid> = (1..=50)
        .map(|s| Dpif::ufid_from_key(&parse_key(&a_to_b_key(p1.0, s)).0))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    std::thread::scope(|s| {
        let writer = {
            let dpif = bed.reopen();
            let stop = stop.clone();
            let out = out.clone();
            s.spawn(move || {
                let mut i = 0u16;
                while !stop.load(Ordering::Relaxed) {
                    let k = a_to_b_key(p1.0, 1000 + (i % 200));
                    let _ = put(&dpif, &k, &out, PutFlags::CREATE);
                    let _ = del(&dpif, &a_to_b_key(p1.0, 1000 + (i % 200 + 100) % 200));
                    i = i.wrapping_add(1);
                }
            })
        };
        for _ in 0..20 {
            let flows = dump_all(dpif, false);
            let mut seen = HashSet::new();
            for f in &flows {
                let first = seen.insert(f.ufid);
                if bed.caps().dumps_unique {
                    assert!(first, "flow {:?} dumped twice", f.ufid);
                }
            }
            assert!(
                stable.is_subset(&seen),
                "a stable flow was missing from a dump"
            );
        }
        stop.store(true, Ordering::Relaxed);
        writer.join().unwrap();
    });
    let n = dump_all(dpif, false).len() as u64;
    assert_eq!(dpif.get_stats().unwrap().n_flows, n);
}

/// A batch answers each operation separately, in order.
pub fn operate_batch_has_per_op_results(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    let out = p2.0.to_string();
    let k1 = a_to_b_key(p1.0, 1);
    let ops = vec![
        Op::Put(put_op(&k1, &out, PutFlags::CREATE, None)),
        Op::Put(put_op(&k1, &out, PutFlags::CREATE, None)),
        Op::Get(FlowGet {
            key: parse_key(&k1).0,
            ufid: None,
        }),
        Op::Del(FlowDel {
            key: parse_key(&a_to_b_key(p1.0, 2)).0,
            ufid: None,
            want_stats: false,
        }),
        Op::Execute(Execute {
            packet: a_to_b(3),
            metadata: vec![KeyAttr::InPort(p1.0)],
            actions: parse_actions(&out),
            mtu: 0,
            probe: false,
        }),
        Op::Del(FlowDel {
            key: parse_key(&k1).0,
            ufid: None,
            want_stats: true,
        }),
    ];
    let r = dpif.operate(&ops);
    assert_eq!(r.len(), ops.len());
    assert!(matches!(r[0], Ok(OpReply::Put(None))));
    assert_eq!(r[1], Err(Errno::EEXIST));
    assert!(matches!(&r[2], Ok(OpReply::Get(f)) if matched(&f.key, &f.mask) == matched_text(&k1)));
    assert_eq!(r[3], Err(Errno::ENOENT));
    assert_eq!(r[4], Ok(OpReply::Execute));
    assert!(matches!(r[5], Ok(OpReply::Del(Some(_)))));
    assert_eq!(bed.take_output(p2, 1, WAIT), vec![a_to_b(3)]);
}

/// Forwarded packets count as hits and in the flow's statistics.
pub fn forwarding_counts_hits_and_flow_stats(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    let before = dpif.get_stats().unwrap();
    // A megaflow on the source MAC only.
    let key = format!(
        "in_port({}),eth(src=02:00:00:00:00:0a,dst=00:00:00:00:00:00/00:00:00:00:00:00),eth_type(0x0800),{}",
        p1.0,
        WILD_L3
    );
    put(dpif, &key, &p2.0.to_string(), PutFlags::CREATE).unwrap();
    for s in 1..=10 {
        bed.inject(p1, &a_to_b(s));
    }
    let got = bed.take_output(p2, 10, WAIT);
    assert_eq!(got.len(), 10);
    assert!(got.contains(&a_to_b(7)));
    eventually("n_hit to grow by 10", || {
        dpif.get_stats().unwrap().n_hit >= before.n_hit + 10
    });
    let f = get(dpif, &key).unwrap();
    assert_eq!(f.stats.n_packets, 10);
    assert_eq!(f.stats.n_bytes, 600);
    assert!(f.stats.used_ms > 0);
}

/// Execute runs actions on a packet given by the caller.
pub fn execute_outputs_packet(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    let x = Execute {
        packet: a_to_b(5),
        metadata: vec![KeyAttr::InPort(p1.0)],
        actions: parse_actions(&format!("{},{}", p2.0, p2.0)),
        mtu: 0,
        probe: false,
    };
    dpif.execute(x).unwrap();
    assert_eq!(bed.take_output(p2, 2, WAIT), vec![a_to_b(5), a_to_b(5)]);
    let bad = Execute {
        packet: a_to_b(5),
        metadata: vec![],
        actions: vec![],
        mtu: 0,
        probe: false,
    };
    assert_eq!(
        dpif.execute(bad).err(),
        Some(Errno::EINVAL),
        "execute needs in_port metadata"
    );
}

/// A packet that matches no flow becomes a miss upcall with its flow key.
pub fn miss_becomes_upcall_with_key(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, _p2) = two_ports(bed);
    dpif.handlers_set(1).unwrap();
    dpif.recv_set_mask(ListenMask::ALL).unwrap();
    bed.inject(p1, &a_to_b(42));
    assert!(dpif.recv_wait(0, Some(WAIT)), "no upcall");
    let up = dpif.recv(0).unwrap().expect("upcall");
    assert_eq!(up.kind, UpcallKind::Miss);
    assert_eq!(up.packet, a_to_b(42));
    let want = parse_key(&a_to_b_key(p1.0, 42)).0;
    for attr in &want {
        assert!(
            up.key.contains(attr),
            "upcall key lacks {attr:?}: {:?}",
            up.key
        );
    }
    assert_eq!(up.ufid, Dpif::ufid_from_key(&up.key));
    eventually("n_missed", || dpif.get_stats().unwrap().n_missed >= 1);
    assert_eq!(dpif.recv(0).unwrap(), None);
}

/// With misses not listened to, misses are counted as lost.
pub fn listen_mask_off_counts_lost(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, _) = two_ports(bed);
    dpif.handlers_set(1).unwrap();
    dpif.recv_set_mask(ListenMask::NONE).unwrap();
    assert_eq!(dpif.recv_get_mask(), ListenMask::NONE);
    let before = dpif.get_stats().unwrap();
    for s in 0..5 {
        bed.inject(p1, &a_to_b(s));
    }
    eventually("5 lost", || {
        dpif.get_stats().unwrap().n_lost >= before.n_lost + 5
    });
    assert_eq!(dpif.recv(0).unwrap(), None);
}

/// Purge discards queued upcalls.
pub fn purge_discards_upcalls(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, _) = two_ports(bed);
    dpif.handlers_set(1).unwrap();
    dpif.recv_set_mask(ListenMask::ALL).unwrap();
    for s in 0..5 {
        bed.inject(p1, &a_to_b(s));
    }
    eventually("5 misses", || dpif.get_stats().unwrap().n_missed >= 5);
    dpif.recv_purge();
    assert_eq!(dpif.recv(0).unwrap(), None);
}

/// Upcalls are spread over handler queues; recv with a bad handler id is
/// EINVAL; a full queue drops and counts lost without blocking forwarding.
pub fn handlers_spread_and_bound_queues(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, p2) = two_ports(bed);
    assert_eq!(dpif.handlers_set(0).err(), Some(Errno::EINVAL));
    dpif.handlers_set(4).unwrap();
    dpif.recv_set_mask(ListenMask::ALL).unwrap();
    assert_eq!(dpif.recv(4).err(), Some(Errno::EINVAL));
    // One forwarded flow, to check forwarding continues while queues fill.
    let fwd = format!(
        "in_port({}),eth(src=02:00:00:00:00:0b,dst=00:00:00:00:00:00/00:00:00:00:00:00),eth_type(0x0800),{}",
        p1.0,
        WILD_L3
    );
    put(dpif, &fwd, &p2.0.to_string(), PutFlags::CREATE).unwrap();
    let n = 5000u32;
    for s in 0..n {
        bed.inject(p1, &a_to_b((s % 60000) as u16 + 1));
    }
    let b_to_a = crate::packet::udp4(
        crate::packet::MAC_B,
        crate::packet::MAC_A,
        [10, 0, 0, 2],
        [10, 0, 0, 1],
        9,
        9,
        18,
    );
    bed.inject(p1, &b_to_a);
    assert_eq!(
        bed.take_output(p2, 1, WAIT).len(),
        1,
        "forwarding blocked by full upcall queues"
    );
    eventually("misses accounted", || {
        let st = dpif.get_stats().unwrap();
        st.n_missed >= u64::from(n)
    });
    let mut per_handler = [0u32; 4];
    for (h, count) in per_handler.iter_mut().enumerate() {
        while let Ok(Some(_)) = dpif.recv(h as u32) {
            *count += 1;
        }
    }
    let received: u32 = per_handler.iter().sum();
    let st = dpif.get_stats().unwrap();
    assert!(
        per_handler.iter().filter(|&&c| c > 0).count() >= 2,
        "upcalls not spread: {per_handler:?}"
    );
    assert_eq!(
        u64::from(received) + st.n_lost,
        st.n_missed,
        "every miss is received or lost"
    );
}

/// A `userspace` action produces an action upcall with its userdata.
pub fn userspace_action_gives_action_upcall(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    let (p1, _) = two_ports(bed);
    dpif.handlers_set(1).unwrap();
    dpif.recv_set_mask(ListenMask::ALL).unwrap();
    let x = Execute {
        packet: a_to_b(9),
        metadata: vec![KeyAttr::InPort(p1.0)],
        actions: vec![Action::Userspace(odp::action::Userspace {
            pid: 0,
            userdata: Some(vec![1, 2, 3, 4]),
            egress_tun_port: None,
            actions: false,
        })],
        mtu: 0,
        probe: false,
    };
    dpif.execute(x).unwrap();
    assert!(dpif.recv_wait(0, Some(WAIT)));
    let up = dpif.recv(0).unwrap().expect("upcall");
    assert_eq!(up.kind, UpcallKind::Action);
    assert_eq!(up.userdata.as_deref(), Some(&[1u8, 2, 3, 4][..]));
    assert_eq!(up.packet, a_to_b(9));
}

/// With datapath-wide sampling at probability 1, every received packet is
/// also sent as a sample upcall.
pub fn sampling_gives_sample_upcalls(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    if !bed.caps().sflow {
        assert_eq!(
            dpif.set_sflow_probability(u32::MAX).err(),
            Some(Errno::EOPNOTSUPP)
        );
        return;
    }
    let (p1, p2) = two_ports(bed);
    dpif.handlers_set(1).unwrap();
    dpif.recv_set_mask(ListenMask::ALL).unwrap();
    put(
        dpif,
        &a_to_b_key(p1.0, 1),
        &p2.0.to_string(),
        PutFlags::CREATE,
    )
    .unwrap();
    dpif.set_sflow_probability(u32::MAX).unwrap();
    assert_eq!(dpif.get_sflow_probability().unwrap(), u32::MAX);
    bed.inject(p1, &a_to_b(1));
    assert_eq!(bed.take_output(p2, 1, WAIT).len(), 1);
    assert!(dpif.recv_wait(0, Some(WAIT)));
    let up = dpif.recv(0).unwrap().unwrap();
    assert_eq!(up.kind, UpcallKind::Sample);
    dpif.set_sflow_probability(0).unwrap();
    bed.inject(p1, &a_to_b(1));
    assert_eq!(bed.take_output(p2, 1, WAIT).len(), 1);
    assert_eq!(dpif.recv(0).unwrap(), None);
    // Listening without samples suppresses them.
    dpif.set_sflow_probability(u32::MAX).unwrap();
    dpif.recv_set_mask(ListenMask {
        sample: false,
        ..ListenMask::ALL
    })
    .unwrap();
    bed.inject(p1, &a_to_b(1));
    assert_eq!(bed.take_output(p2, 1, WAIT).len(), 1);
    assert_eq!(dpif.recv(0).unwrap(), None);
}

/// The drop_frags setting: where supported, fragments are dropped when set.
pub fn drop_frags_setting(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    if !bed.caps().drop_frags {
        assert_eq!(dpif.set_drop_frags(true).err(), Some(Errno::EOPNOTSUPP));
        return;
    }
    assert!(!dpif.get_drop_frags().unwrap());
    let (p1, p2) = two_ports(bed);
    let key = format!(
        "in_port({}),eth(src=02:00:00:00:00:0a,dst=00:00:00:00:00:00/00:00:00:00:00:00),eth_type(0x0800),{}",
        p1.0,
        WILD_L3
    );
    put(dpif, &key, &p2.0.to_string(), PutFlags::CREATE).unwrap();
    let mut frag = a_to_b(1);
    frag[20] = 0x20; // More fragments.
    let csum_off = 14 + 10;
    frag[csum_off] = 0;
    frag[csum_off + 1] = 0;
    let c = crate::packet::checksum(&frag[14..34]);
    frag[csum_off..csum_off + 2].copy_from_slice(&c.to_be_bytes());
    bed.inject(p1, &frag);
    assert_eq!(
        bed.take_output(p2, 1, WAIT).len(),
        1,
        "fragment forwarded by default"
    );
    dpif.set_drop_frags(true).unwrap();
    assert!(dpif.get_drop_frags().unwrap());
    bed.inject(p1, &frag);
    bed.inject(p1, &a_to_b(1));
    let out = bed.take_output(p2, 1, WAIT);
    assert_eq!(
        out,
        vec![a_to_b(1)],
        "fragment dropped, whole packet forwarded"
    );
}

/// queue_to_priority either maps queues or says EOPNOTSUPP.
pub fn queue_to_priority_contract(bed: &dyn TestBed) {
    let dpif = bed.dpif();
    match dpif.queue_to_priority(3) {
        Ok(p) => {
            assert!(bed.caps().queues);
            assert_ne!(
                p,
                dpif.queue_to_priority(4).unwrap(),
                "distinct queues, distinct priorities"
            );
        }
        Err(e) => {
            assert!(!bed.caps().queues);
            assert_eq!(e, Errno::EOPNOTSUPP);
        }
    }
}
