//! Actions the userspace datapath does not implement yet are refused with
//! EOPNOTSUPP at put and execute time, and nothing is installed (conntrack
//! is implemented: `ct` is accepted; see the conntrack tests).

use dpif::{Dpif, Errno, Execute, FlowPut, PortSpec, PutFlags};
use dpif_netdev::NetdevClass;
use odp::key::{KeyAttr, PortNo};

#[test]
fn meters_and_tunnels_are_eopnotsupp() {
    let class = NetdevClass { n_pmds: 1 };
    let dp = class
        .open_dp(&format!("un{}", std::process::id() % 100_000), true)
        .unwrap();
    let dpif = Dpif::new(dp);
    let spec = PortSpec {
        name: "un-p1".into(),
        port_type: "dummy".into(),
        options: vec![],
    };
    dpif.port_add(&spec, Some(PortNo(1))).unwrap();
    let (key, mask) = odp::text::key::parse_match(
        "in_port(1),eth(src=02:00:00:00:00:0a,dst=02:00:00:00:00:0b),eth_type(0x0800),\
         ipv4(proto=17/0),udp(src=0/0,dst=0/0)",
    )
    .unwrap();
    for actions in [
        "meter(3),1",
        "clone(meter(5)),1",
        "tnl_pop(4)",
        "set(tunnel(tun_id=0x1,dst=1.1.1.1,ttl=64))",
    ] {
        let acts = odp::text::action::parse_actions(actions).unwrap();
        let put = FlowPut {
            flags: PutFlags::CREATE,
            key: key.clone(),
            mask: Some(mask.clone()),
            ufid: None,
            actions: acts.clone(),
            want_stats: false,
        };
        assert_eq!(
            dpif.flow_put(put).err(),
            Some(Errno::EOPNOTSUPP),
            "put with {actions}"
        );
        let mut packet = vec![0u8; 60];
        packet[12] = 0x08;
        let x = Execute {
            packet,
            metadata: vec![KeyAttr::InPort(1)],
            actions: acts,
            mtu: 0,
            probe: false,
        };
        assert_eq!(
            dpif.execute(x).err(),
            Some(Errno::EOPNOTSUPP),
            "execute with {actions}"
        );
    }
    assert_eq!(dpif.get_stats().unwrap().n_flows, 0);
    dpif.destroy().unwrap();
}
