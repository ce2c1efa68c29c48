//! MPLS encapsulation of whole Ethernet frames (OpenFlow `encap(mpls)` and
//! `decap()`, datapath actions `add_mpls`, `push_eth`, `pop_eth`,
//! `pop_mpls(eth_type=0x6558)`), checked against the frames Open vSwitch's
//! system tests expect on the wire ("mpls - encap header dp-support",
//! "datapath - encap decap mpls actions"), for a flow and for an execute.

use std::time::{Duration, Instant};

use dpif::{Dpif, Execute, FlowPut, PortSpec, PutFlags};
use dpif_netdev::{Datapath, NetdevClass};
use netdev::dummy::DummyNetdev;
use odp::action::Action;
use odp::key::{KeyAttr, MplsLse, PortNo};
use std::sync::Arc;

/// The ICMP echo request of OVS's "mpls - encap header dp-support" test.
fn icmp_frame() -> Vec<u8> {
    let hex = "36b1ee7c0102 36b1ee7c0103 0800 \
               4500 0054 0344 4000 4001 2161 0a01 0101 0a01 0102 \
               0800 efac 7ce4 0003 5b2c 1f61 0000 0000 500b 0200 0000 0000 \
               1011 1213 1415 1617 1819 1a1b 1c1d 1e1f 2021 2223 2425 2627 \
               2829 2a2b 2c2d 2e2f 3031 3233 3435 3637";
    unhex(hex)
}

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// What the test expects on the wire: Ethernet to 00:00:00:00:00:02 from
/// 00:00:00:00:00:01, type MPLS unicast, label 2 (TC 0, bottom of stack,
/// TTL 64), then the whole original frame.
fn encapsulated() -> Vec<u8> {
    let mut f = unhex("000000000002 000000000001 8847 00002140");
    f.extend(icmp_frame());
    f
}

const LABEL_2: MplsLse = MplsLse(0x0000_2140);
const SRC: [u8; 6] = [0, 0, 0, 0, 0, 1];
const DST: [u8; 6] = [0, 0, 0, 0, 0, 2];

struct Bed {
    dp: Arc<Datapath>,
    dpif: Dpif,
}

impl Bed {
    fn new(tag: &str) -> Bed {
        let class = NetdevClass { n_pmds: 1 };
        let name = format!("me{tag}{}", std::process::id() % 100_000);
        let dp = class.open_dp(&name, true).unwrap();
        let dpif = Dpif::new(dp.clone());
        for n in 1..=2 {
            let spec = PortSpec {
                name: format!("{name}-{n}"),
                port_type: "dummy".into(),
                options: vec![],
            };
            dpif.port_add(&spec, Some(PortNo(n))).unwrap();
        }
        Bed { dp, dpif }
    }

    fn dummy(&self, port: u32) -> Arc<dyn netdev::Netdev> {
        self.dp.port_netdev(PortNo(port)).unwrap()
    }

    fn inject(&self, port: u32, frame: &[u8]) {
        let d = self.dummy(port);
        let d = d.as_any().downcast_ref::<DummyNetdev>().unwrap();
        assert!(d.inject(0, frame).unwrap());
    }

    fn sent(&self, port: u32) -> Vec<Vec<u8>> {
        let d = self.dummy(port);
        let d = d.as_any().downcast_ref::<DummyNetdev>().unwrap();
        let start = Instant::now();
        let mut got = Vec::new();
        while got.is_empty() && start.elapsed() < Duration::from_secs(5) {
            got.extend(d.take_sent().into_iter().map(|p| p.data().to_vec()));
            std::thread::sleep(Duration::from_millis(1));
        }
        got
    }

    fn execute(&self, frame: Vec<u8>, actions: Vec<Action>) {
        self.dpif
            .execute(Execute {
                packet: frame,
                metadata: vec![KeyAttr::InPort(1)],
                actions,
                mtu: 0,
                probe: false,
            })
            .unwrap();
    }
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = self.dpif.destroy();
    }
}

fn encap_actions(tun_flags: u16) -> Vec<Action> {
    vec![
        Action::AddMpls {
            lse: LABEL_2,
            ethertype: 0x8847,
            tun_flags,
        },
        Action::PushEth { src: SRC, dst: DST },
        Action::Output(PortNo(2)),
    ]
}

#[test]
fn add_mpls_encapsulates_the_whole_frame_then_push_eth_says_mpls() {
    let bed = Bed::new("a");
    bed.execute(icmp_frame(), encap_actions(0));
    assert_eq!(bed.sent(2), vec![encapsulated()]);
}

#[test]
fn add_mpls_encap_in_a_flow() {
    let bed = Bed::new("f");
    let (key, mask) = odp::text::key::parse_match(
        "in_port(1),eth(src=36:b1:ee:7c:01:03/00:00:00:00:00:00,dst=36:b1:ee:7c:01:02/00:00:00:00:00:00),eth_type(0x0800),ipv4(frag=no)",
    )
    .unwrap();
    bed.dpif
        .flow_put(FlowPut {
            flags: PutFlags::CREATE,
            key,
            mask: Some(mask),
            ufid: None,
            actions: encap_actions(0),
            want_stats: false,
        })
        .unwrap();
    bed.inject(1, &icmp_frame());
    assert_eq!(bed.sent(2), vec![encapsulated()]);
}

#[test]
fn pop_eth_then_pop_mpls_teb_gives_back_the_frame() {
    let bed = Bed::new("d");
    bed.execute(
        encapsulated(),
        vec![
            Action::PopEth,
            Action::PopMpls { ethertype: 0x6558 },
            Action::Output(PortNo(2)),
        ],
    );
    assert_eq!(bed.sent(2), vec![icmp_frame()]);
}

#[test]
fn add_mpls_with_the_l3_flag_pushes_after_the_ethernet_header() {
    // OVS_MPLS_L3_TUNNEL_FLAG_MASK: the label goes where push_mpls puts it,
    // and the Ethernet header stays; no push_eth.
    let bed = Bed::new("l");
    bed.execute(
        icmp_frame(),
        vec![
            Action::AddMpls {
                lse: LABEL_2,
                ethertype: 0x8847,
                tun_flags: 1,
            },
            Action::Output(PortNo(2)),
        ],
    );
    let f = icmp_frame();
    let mut want = f[..12].to_vec();
    want.extend(unhex("8847 00002140"));
    want.extend(&f[14..]);
    assert_eq!(bed.sent(2), vec![want]);
}
