//! NSH encapsulation (`push_nsh`, `pop_nsh` with `push_eth`/`pop_eth`):
//! the frames of Open vSwitch's system tests "nsh - encap header", "nsh -
//! decap header" and "nsh - replace header", through a flow and an execute.

use std::sync::Arc;
use std::time::{Duration, Instant};

use dpif::{Dpif, Execute, FlowPut, PortSpec, PutFlags};
use dpif_netdev::{Datapath, NetdevClass};
use netdev::dummy::DummyNetdev;
use odp::key::{KeyAttr, PortNo};

fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The TCP SYN the tests carry inside NSH.
const TCP_SYN: &str = "f20000000002 f20000000001 0800 \
    4500 0028 0001 0000 4006 b013 c0a8 000a 0a00 000a \
    0400 0800 0000 00c8 0000 0000 5002 2000 b85e 0000";

/// The NSH packet of the decap and replace tests: Ethernet, NSH (TTL 8,
/// length 6 words, MD type 1, next protocol Ethernet, SPI 0x100, SI 3,
/// contexts 0x01020304...), then the TCP SYN.
fn nsh_in() -> Vec<u8> {
    unhex(&format!(
        "f2ff00000002 f2ff00000001 894f 0206 0103 00010003 \
         01020304 05060708 090a0b0c 0d0e0f10 {TCP_SYN}"
    ))
}

struct Bed {
    dp: Arc<Datapath>,
    dpif: Dpif,
}

impl Bed {
    fn new(tag: &str) -> Bed {
        let class = NetdevClass { n_pmds: 1 };
        let name = format!("nsh{tag}{}", std::process::id() % 100_000);
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

    fn execute(&self, frame: Vec<u8>, actions: &str) {
        self.dpif
            .execute(Execute {
                packet: frame,
                metadata: vec![KeyAttr::InPort(1)],
                actions: odp::text::action::parse_actions(actions).unwrap(),
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

#[test]
fn push_nsh_then_push_eth_encapsulates_the_frame() {
    let bed = Bed::new("e");
    bed.execute(
        unhex(TCP_SYN),
        "push_nsh(flags=0,ttl=63,mdtype=1,np=3,spi=0x1234,si=255,c1=0x11223344,c2=0x0,c3=0x0,c4=0x0),\
         push_eth(src=f2:ff:00:00:00:01,dst=f2:ff:00:00:00:02),2",
    );
    // What "nsh - encap header" expects on the wire: TTL 63, length 6,
    // next protocol Ethernet (3), SPI 0x1234, SI 255.
    let want = unhex(&format!(
        "f2ff00000002 f2ff00000001 894f 0fc6 0103 001234ff \
         11223344 00000000 00000000 00000000 {TCP_SYN}"
    ));
    assert_eq!(bed.sent(2), vec![want]);
}

#[test]
fn pop_eth_then_pop_nsh_gives_back_the_inner_frame() {
    let bed = Bed::new("d");
    bed.execute(nsh_in(), "pop_eth,pop_nsh(),2");
    assert_eq!(bed.sent(2), vec![unhex(TCP_SYN)]);
}

#[test]
fn nsh_header_replaced_in_a_flow() {
    let bed = Bed::new("r");
    let (mut key, mut mask) = odp::text::key::parse_match(
        "in_port(1),eth(src=f2:ff:00:00:00:01/00:00:00:00:00:00,dst=f2:ff:00:00:00:02/00:00:00:00:00:00),\
         eth_type(0x894f)",
    )
    .unwrap();
    // nsh(np=3,spi=0x100,si=3), built: OVS's key text reads `nsh(...)`
    // only before an `encap(...)`.
    use odp::key::{KeyAttr, NshAttr, NshBase};
    let base = |np, path_hdr| {
        KeyAttr::Nsh(vec![NshAttr::Base(NshBase {
            flags: 0,
            ttl: 0,
            mdtype: 0,
            np,
            path_hdr,
        })])
    };
    key.push(base(3, 0x100 << 8 | 3));
    mask.push(base(0xff, u32::MAX));
    let actions = odp::text::action::parse_actions(
        "pop_eth,pop_nsh(),push_nsh(flags=0,ttl=7,mdtype=1,np=3,spi=0x101,si=4,\
         c1=0x100f0e0d,c2=0xc0b0a09,c3=0x8070605,c4=0x4030201),\
         push_eth(src=f2:ff:00:00:00:01,dst=f2:ff:00:00:00:02),2",
    )
    .unwrap();
    bed.dpif
        .flow_put(FlowPut {
            flags: PutFlags::CREATE,
            key,
            mask: Some(mask),
            ufid: None,
            actions,
            want_stats: false,
        })
        .unwrap();
    let d = bed.dummy(1);
    let d = d.as_any().downcast_ref::<DummyNetdev>().unwrap();
    assert!(d.inject(0, &nsh_in()).unwrap());
    // What "nsh - replace header" expects: TTL 7, SPI 0x101, SI 4, the new
    // contexts.
    let want = unhex(&format!(
        "f2ff00000002 f2ff00000001 894f 01c6 0103 00010104 \
         100f0e0d 0c0b0a09 08070605 04030201 {TCP_SYN}"
    ));
    assert_eq!(bed.sent(2), vec![want]);
}

#[test]
fn pop_nsh_on_an_ethernet_frame_drops_it() {
    // The kernel's pop_nsh needs a packet without Ethernet header
    // (EINVAL, the packet dropped).
    let bed = Bed::new("x");
    let _ = bed.dpif.execute(Execute {
        packet: nsh_in(),
        metadata: vec![KeyAttr::InPort(1)],
        actions: odp::text::action::parse_actions("pop_nsh(),2").unwrap(),
        mtu: 0,
        probe: false,
    });
    bed.execute(unhex(TCP_SYN), "2");
    // Only the second packet comes out.
    assert_eq!(bed.sent(2), vec![unhex(TCP_SYN)]);
}
