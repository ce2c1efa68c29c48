//! The `ct` action in the userspace datapath's fast path, with the flows
//! Open vSwitch installs for a stateful pipeline (`ct(...),recirc(N)`,
//! then matches on `ct_state`): a firewall that lets connections start one
//! way only and lets their replies back, and source NAT whose replies are
//! translated back. The expected behaviour is the kernel datapath's
//! (net/openvswitch/conntrack.c): `ct_state` is set on the packet's key
//! and survives recirculation; `commit` makes a connection whose replies
//! are `+est+rpl`; NAT rewrites the packet and its replies.

use std::sync::Arc;
use std::time::Duration;

use dpif::{Dpif, FlowPut, PortSpec, PutFlags};
use dpif_netdev::{Datapath, NetdevClass};
use dpif_tests::packet::udp4;
use netdev::dummy::DummyNetdev;
use odp::key::PortNo;

const A: [u8; 6] = [2, 0, 0, 0, 0, 0x0a];
const B: [u8; 6] = [2, 0, 0, 0, 0, 0x0b];

struct Dp {
    dp: Arc<Datapath>,
    dpif: Dpif,
}

impl Dp {
    fn new(tag: &str) -> Dp {
        let name = format!("ct{tag}{}", std::process::id() % 10_000);
        let dp = NetdevClass { n_pmds: 1 }.open_dp(&name, true).unwrap();
        let dpif = Dpif::new(dp.clone());
        for (n, p) in [(1, "1"), (2, "2")] {
            let spec = PortSpec {
                name: format!("{name}-{p}"),
                port_type: "dummy".into(),
                options: vec![],
            };
            dpif.port_add(&spec, Some(PortNo(n))).unwrap();
        }
        Dp { dp, dpif }
    }

    fn flow(&self, key_text: &str, actions: &str) {
        let (key, mask) = odp::text::key::parse_match(key_text).unwrap();
        let put = FlowPut {
            flags: PutFlags::CREATE,
            key,
            mask: Some(mask),
            ufid: None,
            actions: odp::text::action::parse_actions(actions).unwrap(),
            want_stats: false,
        };
        if let Err(e) = self.dpif.flow_put(put) {
            panic!("{key_text} {actions}: {e:?}");
        }
    }

    fn dummy(&self, port: u32) -> Arc<dyn netdev::Netdev> {
        self.dp.port_netdev(PortNo(port)).unwrap()
    }

    /// Sends `pkt` in on `port`; returns what comes out of `out` within
    /// 2 s (nothing if nothing does).
    fn send(&self, port: u32, pkt: &[u8], out: u32) -> Option<Vec<u8>> {
        let inp = self.dummy(port);
        let d = inp.as_any().downcast_ref::<DummyNetdev>().unwrap();
        assert!(d.inject(0, pkt).unwrap());
        let o = self.dummy(out);
        let o = o.as_any().downcast_ref::<DummyNetdev>().unwrap();
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_secs(2) {
            if let Some(p) = o.take_sent().into_iter().next() {
                return Some(p.data().to_vec());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        None
    }
}

impl Drop for Dp {
    fn drop(&mut self) {
        let _ = self.dpif.destroy();
    }
}

const IP: &str = "eth(),eth_type(0x0800),ipv4(proto=17,frag=no),udp(src=0/0,dst=0/0)";

#[test]
fn stateful_firewall_allows_replies_and_refuses_new_connections_from_outside() {
    let d = Dp::new("fw");
    // As OVS translates a ct(zone=1),table=1 pipeline.
    d.flow(
        &format!("recirc_id(0),in_port(1),{IP}"),
        "ct(zone=1),recirc(0x1)",
    );
    d.flow(
        &format!("recirc_id(0),in_port(2),{IP}"),
        "ct(zone=1),recirc(0x2)",
    );
    d.flow(
        &format!("recirc_id(0x1),ct_state(+new+trk),in_port(1),{IP}"),
        "ct(commit,zone=1),2",
    );
    d.flow(
        &format!("recirc_id(0x1),ct_state(+est+trk),in_port(1),{IP}"),
        "2",
    );
    d.flow(
        &format!("recirc_id(0x2),ct_state(+est+trk),in_port(2),{IP}"),
        "1",
    );
    d.flow(
        &format!("recirc_id(0x2),ct_state(+new+trk),in_port(2),{IP}"),
        "drop",
    );

    let out = udp4(A, B, [10, 0, 0, 1], [10, 0, 0, 2], 1000, 53, 10);
    let back = udp4(B, A, [10, 0, 0, 2], [10, 0, 0, 1], 53, 1000, 10);
    let other = udp4(B, A, [10, 0, 0, 2], [10, 0, 0, 1], 54, 1000, 10);
    // A new connection from the inside goes out and is committed.
    assert_eq!(d.send(1, &out, 2), Some(out.clone()));
    // Its reply comes back in; more packets both ways flow.
    assert_eq!(d.send(2, &back, 1), Some(back.clone()));
    assert_eq!(d.send(1, &out, 2), Some(out.clone()));
    // A connection the outside starts is dropped.
    assert_eq!(d.send(2, &other, 1), None);
    let dump = d.dpif.ct_dump(Some(1)).unwrap();
    assert_eq!(dump.entries.len(), 1, "one committed connection");
    let e = &dump.entries[0];
    assert_eq!((e.orig.src_port, e.orig.dst_port), (1000, 53));
}

#[test]
fn source_nat_rewrites_the_packet_and_translates_replies_back() {
    let d = Dp::new("nat");
    d.flow(
        &format!("recirc_id(0),in_port(1),{IP}"),
        "ct(commit,zone=2,nat(src=10.0.0.100:4000-4001)),2",
    );
    d.flow(
        &format!("recirc_id(0),in_port(2),{IP}"),
        "ct(zone=2,nat),recirc(0x3)",
    );
    d.flow(
        &format!("recirc_id(0x3),ct_state(+est+trk),in_port(2),{IP}"),
        "1",
    );

    let out = udp4(A, B, [10, 0, 0, 1], [10, 0, 0, 2], 1000, 53, 10);
    let got = d.send(1, &out, 2).expect("forwarded");
    // The far end sees the translated source, a port from the range, and
    // a valid checksum.
    assert_eq!(&got[26..30], &[10, 0, 0, 100]);
    let sport = u16::from_be_bytes([got[34], got[35]]);
    assert!((4000..=4001).contains(&sport), "source port {sport}");
    assert_eq!(
        got,
        udp4(A, B, [10, 0, 0, 100], [10, 0, 0, 2], sport, 53, 10)
    );
    // Its reply, to the translated address, reaches the inside untranslated.
    let reply = udp4(B, A, [10, 0, 0, 2], [10, 0, 0, 100], 53, sport, 10);
    let back = d.send(2, &reply, 1).expect("reply forwarded");
    assert_eq!(back, udp4(B, A, [10, 0, 0, 2], [10, 0, 0, 1], 53, 1000, 10));
}

/// What comes out of `port` within `t`.
fn drain(d: &Dp, port: u32, t: Duration) -> Vec<Vec<u8>> {
    let o = d.dummy(port);
    let o = o.as_any().downcast_ref::<DummyNetdev>().unwrap();
    let start = std::time::Instant::now();
    let mut got = Vec::new();
    while start.elapsed() < t {
        got.extend(o.take_sent().into_iter().map(|p| p.data().to_vec()));
        std::thread::sleep(Duration::from_millis(5));
    }
    got
}

#[test]
fn fragments_are_reassembled_for_conntrack_and_sent_out_as_they_came() {
    let d = Dp::new("frag");
    d.flow(
        "recirc_id(0),in_port(1),eth(),eth_type(0x0800),ipv4(proto=17,frag=first),udp(src=0/0,dst=0/0)",
        "ct(zone=1),recirc(0x1)",
    );
    d.flow(
        "recirc_id(0),in_port(1),eth(),eth_type(0x0800),ipv4(proto=17,frag=later)",
        "ct(zone=1),recirc(0x1)",
    );
    d.flow(
        &format!("recirc_id(0x1),ct_state(+new+trk),in_port(1),{IP}"),
        "ct(commit,zone=1),2",
    );
    // A 3,000-byte UDP datagram, cut as a 1,500-byte MTU link cuts it.
    let whole = udp4(A, B, [10, 0, 0, 1], [10, 0, 0, 2], 5000, 6000, 3000);
    let mut frags = Vec::new();
    assert!(conntrack::ipf::refragment(
        &whole,
        14,
        false,
        1500,
        0,
        |f| frags.push(f.to_vec())
    ));
    assert_eq!(frags.len(), 3);
    // Out of order: the last first.
    let inp = d.dummy(1);
    let inp = inp.as_any().downcast_ref::<DummyNetdev>().unwrap();
    for f in [&frags[2], &frags[0], &frags[1]] {
        assert!(inp.inject(0, f).unwrap());
    }
    let out = drain(&d, 2, Duration::from_millis(1500));
    // The datagram went through conntrack whole (one connection) and left
    // as fragments no larger than those received.
    assert_eq!(out.len(), 3, "fragments out");
    assert!(
        out.iter().all(|f| f.len() <= 1514),
        "{:?}",
        out.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let mut payload = Vec::new();
    for f in &out {
        payload.extend_from_slice(&f[34..]);
    }
    assert_eq!(payload, whole[34..].to_vec(), "the same datagram");
    let dump = d.dpif.ct_dump(Some(1)).unwrap();
    assert_eq!(dump.entries.len(), 1);
}

/// The second pass of a packet whose recirculation missed: Open vSwitch
/// executes it with the upcall's key as metadata, conntrack fields
/// included, and the kernel finds the packet's connection from them
/// (`ovs_ct_find_existing`). Here, OVS's "DNAT with additional SNAT": the
/// connection committed with destination NAT is found again by the
/// second `ct(commit,nat(src))`, which therefore translates nothing (the
/// source binding is the identity) but sets the mark.
#[test]
fn an_executed_packet_keeps_its_connection_across_an_upcall() {
    let d = Dp::new("up");
    d.dpif.recv_set_mask(dpif::ListenMask::ALL).unwrap();
    d.flow(
        &format!("recirc_id(0),in_port(1),{IP}"),
        "ct(commit,nat(dst=10.0.0.2:53)),recirc(0x7)",
    );
    let to_vip = udp4(A, B, [10, 0, 0, 1], [172, 1, 1, 2], 1000, 8053, 10);
    let inp = d.dummy(1);
    let inp = inp.as_any().downcast_ref::<DummyNetdev>().unwrap();
    assert!(inp.inject(0, &to_vip).unwrap());
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut up = None;
    while up.is_none() && std::time::Instant::now() < deadline {
        d.dpif.recv_wait(0, Some(Duration::from_millis(100)));
        up = d.dpif.recv(0).unwrap();
    }
    let up = up.expect("the recirculated packet missed");
    let (key, _) = odp::convert::key_to_flow(&up.key).unwrap();
    assert_eq!(key.recirc_id, 7);
    assert_eq!(key.ct_state, 0xe1, "new, trk, snat and dnat: {key:?}");
    d.dpif
        .execute(dpif::Execute {
            packet: up.packet.clone(),
            metadata: up.key.clone(),
            actions: odp::text::action::parse_actions(
                "ct(commit,mark=0xac/0xffffffff,nat(src=10.0.0.240)),2",
            )
            .unwrap(),
            mtu: 0,
            probe: false,
        })
        .unwrap();
    let o = d.dummy(2);
    let o = o.as_any().downcast_ref::<DummyNetdev>().unwrap();
    let out = o.take_sent();
    assert_eq!(out.len(), 1);
    assert_eq!(
        out[0].data(),
        &udp4(A, B, [10, 0, 0, 1], [10, 0, 0, 2], 1000, 53, 10)[..],
        "destination translated, source not"
    );
    let dump = d.dpif.ct_dump(None).unwrap();
    assert_eq!(dump.entries.len(), 1, "{dump:?}");
    assert_eq!(dump.entries[0].mark, 0xac);
}

/// A reassembled datagram whose recirculation missed goes up with its MRU
/// (`OVS_PACKET_ATTR_MRU`), and Open vSwitch's execute of it, given that
/// MRU back, sends it out as fragments again, as the kernel does.
#[test]
fn a_reassembled_upcall_carries_its_mru_and_its_execute_refragments() {
    let d = Dp::new("fup");
    d.dpif.recv_set_mask(dpif::ListenMask::ALL).unwrap();
    for frag in ["first", "later"] {
        d.flow(
            &format!(
                "recirc_id(0),in_port(1),eth(),eth_type(0x0800),ipv4(proto=17,frag={frag}){}",
                if frag == "first" {
                    ",udp(src=0/0,dst=0/0)"
                } else {
                    ""
                }
            ),
            "ct(zone=1),recirc(0x1)",
        );
    }
    let whole = udp4(A, B, [10, 0, 0, 1], [10, 0, 0, 2], 5000, 6000, 3000);
    let mut frags = Vec::new();
    assert!(conntrack::ipf::refragment(
        &whole,
        14,
        false,
        1500,
        0,
        |f| frags.push(f.to_vec())
    ));
    let inp = d.dummy(1);
    let inp = inp.as_any().downcast_ref::<DummyNetdev>().unwrap();
    for f in &frags {
        assert!(inp.inject(0, f).unwrap());
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut up = None;
    while up.is_none() && std::time::Instant::now() < deadline {
        d.dpif.recv_wait(0, Some(Duration::from_millis(100)));
        up = d.dpif.recv(0).unwrap();
    }
    let up = up.expect("the reassembled datagram missed");
    assert_eq!(up.packet.len(), whole.len(), "upcalled whole");
    let largest = frags.iter().map(|f| f.len() - 14).max().unwrap();
    assert_eq!(up.mru, Some(largest as u16));
    d.dpif
        .execute(dpif::Execute {
            packet: up.packet.clone(),
            metadata: up.key.clone(),
            actions: odp::text::action::parse_actions("ct(commit,zone=1),2").unwrap(),
            mtu: up.mru.unwrap(),
            probe: false,
        })
        .unwrap();
    let out = drain(&d, 2, Duration::from_millis(300));
    assert_eq!(out.len(), 3, "fragments out");
    assert!(out.iter().all(|f| f.len() - 14 <= largest));
    let dump = d.dpif.ct_dump(Some(1)).unwrap();
    assert_eq!(dump.entries.len(), 1);
}
