//! IGMP flows: IPv4 keys of protocol 2 have no L4 attribute (the kernel
//! neither parses IGMP nor has a key attribute for it), and are accepted
//! and forwarded as the kernel does. The packet and the flow are those of
//! Open vSwitch's system test "IGMP - flood under normal action".

use std::time::{Duration, Instant};

use dpif::{Dpif, FlowPut, PortSpec, PutFlags};
use dpif_netdev::NetdevClass;
use netdev::dummy::DummyNetdev;
use odp::key::PortNo;

/// An IGMPv3 membership report from f0:00:00:01:01:01 (IPv4 header with a
/// router alert option), as the OVS test sends it.
fn igmp_frame() -> Vec<u8> {
    let hex = "01005e010103 f00000010101 0800 \
               46c0 0028 0000 4000 0102 d349 4565 eb4a e000 0016 9404 0000 \
               2200 f902 0000 0001 0400 0000 e000 00fb 0000 0000 0000";
    let s: String = hex.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn igmp_flow_without_l4_attribute_is_accepted_and_forwards() {
    let class = NetdevClass { n_pmds: 1 };
    let name = format!("ig{}", std::process::id() % 100_000);
    let dp = class.open_dp(&name, true).unwrap();
    let dpif = Dpif::new(dp.clone());
    for n in 1..=3 {
        let spec = PortSpec {
            name: format!("{name}-{n}"),
            port_type: "dummy".into(),
            options: vec![],
        };
        dpif.port_add(&spec, Some(PortNo(n))).unwrap();
    }
    // The megaflow ovs-vswitchd puts for it (NORMAL floods to 1 and 3).
    let (key, mask) = odp::text::key::parse_match(
        "recirc_id(0),dp_hash(0/0),skb_priority(0/0),in_port(2),skb_mark(0/0),\
         eth(src=f0:00:00:01:01:01,dst=01:00:5e:01:01:03),eth_type(0x0800),\
         ipv4(src=69.101.235.74/0.0.0.0,dst=224.0.0.22/0.0.0.0,proto=2/0,tos=0xc0/0,ttl=1/0,frag=no)",
    )
    .unwrap();
    dpif.flow_put(FlowPut {
        flags: PutFlags::CREATE,
        key,
        mask: Some(mask),
        ufid: None,
        actions: odp::text::action::parse_actions("1,3").unwrap(),
        want_stats: false,
    })
    .unwrap();
    let dev = dp.port_netdev(PortNo(2)).unwrap();
    let d = dev.as_any().downcast_ref::<DummyNetdev>().unwrap();
    assert!(d.inject(0, &igmp_frame()).unwrap());
    for out in [1, 3] {
        let dev = dp.port_netdev(PortNo(out)).unwrap();
        let d = dev.as_any().downcast_ref::<DummyNetdev>().unwrap();
        let start = Instant::now();
        let mut got = Vec::new();
        while got.is_empty() && start.elapsed() < Duration::from_secs(5) {
            got.extend(d.take_sent().into_iter().map(|p| p.data().to_vec()));
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(got, vec![igmp_frame()], "port {out}");
    }
    assert_eq!(dpif.get_stats().unwrap().n_flows, 1);
    dpif.destroy().unwrap();
}
