//! Differential test: the kernel datapath (`system`) against the userspace
//! datapath (`netdev`, in this process). Both get the same two ports (one
//! end of a veth pair each), the same flows and the same packets into port
//! 1; the packets out of each port (byte for byte, in order), every flow's
//! packet and byte counts and the datapaths' miss counts must agree.
//!
//! The other ends of the four veth pairs are ports of a helper kernel
//! datapath with no flows: a packet is injected by an execute on it that
//! outputs to the peer end, and what a datapath under test transmits comes
//! back to the helper as a miss upcall, which the test collects per port.
//!
//! Run as root inside the kvm-ovs guest (`scripts/kernel-tests.sh`). Without
//! the module or privileges it prints `SKIP: <reason>` and passes.

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use dpif::{Dpif, DpifClass, Errno, FlowGet, FlowPut, PortSpec, PutFlags};
use dpif_netlink::abi::OVS_DP_F_UNALIGNED;
use dpif_netlink::packet::{ExecuteRequest, UpcallMsg};
use dpif_netlink::vport::{VportRequest, VportType};
use dpif_netlink::{DpId, Kernel, Socket, SystemClass};
use odp::action::Action;
use odp::key::{KeyAttr, PortNo};

const KDP: &str = "oxdiffk";
const UDP_DP: &str = "oxdiffu";
const IO_DP: &str = "oxdiffio";
/// Datapath-under-test port interfaces: kernel p1, p2; userspace p1, p2.
const KPORTS: [&str; 2] = ["dfk1", "dfk2"];
const UPORTS: [&str; 2] = ["dfu1", "dfu2"];

/// The test's MAC addresses all start with these bytes; anything else the
/// helper receives (the host's own frames) is ignored.
const MAC_PREFIX: [u8; 3] = [0x02, 0xd1, 0xff];
const A: [u8; 6] = [0x02, 0xd1, 0xff, 0, 0, 0x0a];
const B: [u8; 6] = [0x02, 0xd1, 0xff, 0, 0, 0x0b];
const C: [u8; 6] = [0x02, 0xd1, 0xff, 0, 0, 0x0c];
const D: [u8; 6] = [0x02, 0xd1, 0xff, 0, 0, 0x0d];

fn mac(m: [u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

// ---------------------------------------------------------------- packets

fn csum_add(mut sum: u32, data: &[u8]) -> u32 {
    for c in data.chunks(2) {
        let w = if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            u16::from_be_bytes([c[0], 0])
        };
        sum += u32::from(w);
    }
    sum
}

fn csum_fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn eth(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, ethertype: u16) -> Vec<u8> {
    let mut f = Vec::with_capacity(64);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(tci) = vlan {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f
}

/// An IPv4 packet (header with a valid checksum) carrying `l4`, whose
/// checksum (UDP, TCP, ICMP) is filled in here.
fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, ttl: u8, tos: u8, mut l4: Vec<u8>) -> Vec<u8> {
    let total = 20 + l4.len();
    let mut h = vec![0x45, tos];
    h.extend_from_slice(&(total as u16).to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34, 0x40, 0x00, ttl, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let c = csum_fold(csum_add(0, &h));
    h[10..12].copy_from_slice(&c.to_be_bytes());
    let at = match proto {
        17 => Some(6),
        6 => Some(16),
        1 => Some(2),
        _ => None,
    };
    if let Some(at) = at {
        let mut sum = 0;
        if proto != 1 {
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&src);
            pseudo.extend_from_slice(&dst);
            pseudo.extend_from_slice(&[0, proto]);
            pseudo.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            sum = csum_add(0, &pseudo);
        }
        let mut c = csum_fold(csum_add(sum, &l4));
        if proto == 17 && c == 0 {
            c = 0xffff;
        }
        l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    h.extend_from_slice(&l4);
    h
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

fn tcp(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&0x0102_0304u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0x20, 0x00, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

fn icmp_echo(ty: u8, id: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut i = vec![ty, 0, 0, 0];
    i.extend_from_slice(&id.to_be_bytes());
    i.extend_from_slice(&seq.to_be_bytes());
    i.extend_from_slice(payload);
    i
}

fn arp(op: u16, sha: [u8; 6], spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut a = vec![0, 1, 0x08, 0x00, 6, 4];
    a.extend_from_slice(&op.to_be_bytes());
    a.extend_from_slice(&sha);
    a.extend_from_slice(&spa);
    a.extend_from_slice(&[0; 6]);
    a.extend_from_slice(&tpa);
    a
}

fn frame(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, ethertype: u16, body: Vec<u8>) -> Vec<u8> {
    let mut f = eth(dst, src, vlan, ethertype);
    f.extend_from_slice(&body);
    f
}

/// The packet sequence: several kinds, each a few times with varying
/// payloads, interleaved.
fn packets() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for i in 0..4u8 {
        let n = u16::from(i);
        // Each payload ends with a marker unique to its packet, by which the
        // report names the input an output came from.
        let mut seq = 0u8;
        let mut pay = |kind: u8| -> Vec<u8> {
            seq += 1;
            let mut p: Vec<u8> = (0..(10 + 7 * i)).map(|b| b ^ i ^ kind).collect();
            p.extend_from_slice(&[0xd1, 0xff, i, seq]);
            p
        };
        // Exact UDP flow: plain output to 2.
        out.push((
            format!("udp exact #{i}"),
            frame(
                A,
                B,
                None,
                0x0800,
                ipv4(
                    [10, 1, 0, 1],
                    [10, 1, 0, 2],
                    17,
                    64,
                    0,
                    udp(1000, 2000, &pay(1)),
                ),
            ),
        ));
        // Masked: any IPv4 UDP to 10.2/16 from MAC A → ports 2 and 1.
        out.push((
            format!("udp to 10.2/16 #{i}"),
            frame(
                C,
                A,
                None,
                0x0800,
                ipv4(
                    [10, 9, 9, n as u8],
                    [10, 2, n as u8, 7],
                    17,
                    30 + i,
                    0,
                    udp(5000 + n, 53, &pay(2)),
                ),
            ),
        ));
        // Masked TCP to 10.3/16: set_masked ipv4 src and ttl.
        out.push((
            format!("tcp to 10.3/16 #{i}"),
            frame(
                C,
                B,
                None,
                0x0800,
                ipv4(
                    [10, 0, 0, 3],
                    [10, 3, 1, 1 + n as u8],
                    6,
                    64,
                    0x10,
                    tcp(40000 + n, 80, 0x18, &pay(3)),
                ),
            ),
        ));
        // Exact UDP from 10.4.0.1: set UDP ports.
        out.push((
            format!("udp set ports #{i}"),
            frame(
                A,
                D,
                None,
                0x0800,
                ipv4(
                    [10, 4, 0, 1],
                    [10, 4, 0, 2],
                    17,
                    64,
                    0,
                    udp(1111, 2222, &pay(4)),
                ),
            ),
        ));
        // Masked TCP to port 443: set TCP ports.
        out.push((
            format!("tcp set ports #{i}"),
            frame(
                D,
                A,
                None,
                0x0800,
                ipv4(
                    [10, 5, 0, 1],
                    [10, 5, 0, 2 + n as u8],
                    6,
                    64,
                    0,
                    tcp(50000, 443, 0x02, &pay(5)),
                ),
            ),
        ));
        // Untagged from D to B: push VLAN 10.
        out.push((
            format!("push_vlan #{i}"),
            frame(
                B,
                D,
                None,
                0x0800,
                ipv4([10, 6, 0, 1], [10, 6, 0, 2], 17, 64, 0, udp(7, 9, &pay(6))),
            ),
        ));
        // Tagged VLAN 20: pop VLAN.
        out.push((
            format!("pop_vlan #{i}"),
            frame(
                B,
                C,
                Some(20),
                0x0800,
                ipv4(
                    [10, 7, 0, 1],
                    [10, 7, 0, 2 + n as u8],
                    17,
                    64,
                    0,
                    udp(9, 7, &pay(7)),
                ),
            ),
        ));
        // Dropped: anything from MAC C to MAC D.
        out.push((
            format!("drop #{i}"),
            frame(
                D,
                C,
                None,
                0x0800,
                ipv4([10, 8, 0, 1], [10, 8, 0, 2], 17, 64, 0, udp(1, 2, &pay(8))),
            ),
        ));
        // ICMP echo request to 10.9.0.2.
        out.push((
            format!("icmp echo #{i}"),
            frame(
                B,
                A,
                None,
                0x0800,
                ipv4(
                    [10, 9, 0, 1],
                    [10, 9, 0, 2],
                    1,
                    64,
                    0,
                    icmp_echo(8, 0x77, n, &pay(9)),
                ),
            ),
        ));
        // ARP request for 10.10.0.2: output to 2.
        out.push((
            format!("arp #{i}"),
            frame(
                [0xff; 6],
                A,
                None,
                0x0806,
                arp(1, A, [10, 10, 1, i], [10, 10, 0, 2]),
            ),
        ));
        // Exact TCP with exact flags: only the SYN hits (the ACK misses).
        out.push((
            format!("tcp syn #{i}"),
            frame(
                C,
                A,
                None,
                0x0800,
                ipv4(
                    [10, 11, 0, 1],
                    [10, 11, 0, 2],
                    6,
                    64,
                    0,
                    tcp(2000, 22, 0x02, &pay(13)),
                ),
            ),
        ));
        if i % 2 == 1 {
            out.push((
                format!("miss tcp ack #{i}"),
                frame(
                    C,
                    A,
                    None,
                    0x0800,
                    ipv4(
                        [10, 11, 0, 1],
                        [10, 11, 0, 2],
                        6,
                        64,
                        0,
                        tcp(2000, 22, 0x10, &pay(14)),
                    ),
                ),
            ));
        }
        // Misses: a UDP port no flow has, an ICMP echo reply, a TCP
        // packet to 10.3/16 from another MAC pair.
        if i % 2 == 0 {
            out.push((
                format!("miss udp #{i}"),
                frame(
                    A,
                    B,
                    None,
                    0x0800,
                    ipv4(
                        [10, 1, 0, 1],
                        [10, 1, 0, 2],
                        17,
                        64,
                        0,
                        udp(1000, 2001, &pay(10)),
                    ),
                ),
            ));
            out.push((
                format!("miss icmp reply #{i}"),
                frame(
                    B,
                    A,
                    None,
                    0x0800,
                    ipv4(
                        [10, 9, 0, 1],
                        [10, 9, 0, 2],
                        1,
                        64,
                        0,
                        icmp_echo(0, 0x77, n, &pay(11)),
                    ),
                ),
            ));
        } else {
            out.push((
                format!("miss tcp #{i}"),
                frame(
                    A,
                    C,
                    None,
                    0x0800,
                    ipv4(
                        [10, 0, 0, 3],
                        [10, 3, 0, 1],
                        6,
                        64,
                        0,
                        tcp(1, 80, 0x10, &pay(12)),
                    ),
                ),
            ));
        }
    }
    out
}

// ---------------------------------------------------------------- flows

const W6: &str = "00:00:00:00:00:00/00:00:00:00:00:00";

/// The flows, as ovs-dpctl text: (match, actions). None overlaps another
/// on the test packets, so the result does not depend on lookup order.
fn flow_texts() -> Vec<(String, String)> {
    let (a, b, c, d) = (mac(A), mac(B), mac(C), mac(D));
    let ff = "ff:ff:ff:ff:ff:ff";
    vec![
        // Exact: plain output.
        (
            format!(
                "in_port(1),eth(src={b},dst={a}),eth_type(0x0800),\
                 ipv4(src=10.1.0.1,dst=10.1.0.2,proto=17,tos=0,ttl=64,frag=no),\
                 udp(src=1000,dst=2000)"
            ),
            "2".into(),
        ),
        // Masked: output to both ports.
        (
            format!(
                "in_port(1),eth(src={a}/{ff},dst={W6}),eth_type(0x0800),\
                 ipv4(src=0.0.0.0/0.0.0.0,dst=10.2.0.0/255.255.0.0,proto=17,tos=0/0,ttl=0/0,frag=no),\
                 udp(src=0/0,dst=0/0)"
            ),
            "2,1".into(),
        ),
        // Masked: set_masked of IPv4 source and TTL (only from B to C).
        (
            format!(
                "in_port(1),eth(src={b},dst={c}),eth_type(0x0800),\
                 ipv4(src=0.0.0.0/0.0.0.0,dst=10.3.0.0/255.255.0.0,proto=6,tos=0/0,ttl=0/0,frag=no),\
                 tcp(src=0/0,dst=0/0),tcp_flags(0/0)"
            ),
            "set(ipv4(src=192.168.9.9,ttl=9)),2".into(),
        ),
        // Exact: set UDP ports.
        (
            format!(
                "in_port(1),eth(src={d},dst={a}),eth_type(0x0800),\
                 ipv4(src=10.4.0.1,dst=10.4.0.2,proto=17,tos=0,ttl=64,frag=no),\
                 udp(src=1111,dst=2222)"
            ),
            "set(udp(src=3333,dst=4444)),2".into(),
        ),
        // Masked: set TCP ports.
        (
            format!(
                "in_port(1),eth(src={W6},dst={d}/{ff}),eth_type(0x0800),\
                 ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=6,tos=0/0,ttl=0/0,frag=no),\
                 tcp(src=0/0,dst=443),tcp_flags(0/0)"
            ),
            "set(tcp(src=1234,dst=8443)),2".into(),
        ),
        // Masked: push a VLAN tag.
        (
            format!(
                "in_port(1),eth(src={d},dst={b}),eth_type(0x0800),\
                 ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0,ttl=0/0,frag=no)"
            ),
            "push_vlan(vid=10,pcp=3),2".into(),
        ),
        // Masked, tagged: pop it.
        (
            format!(
                "in_port(1),eth(src={c},dst={b}),eth_type(0x8100),vlan(vid=20,pcp=0/0),\
                 encap(eth_type(0x0800),\
                 ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=17,tos=0/0,ttl=0/0,frag=no),\
                 udp(src=0/0,dst=0/0))"
            ),
            "pop_vlan,2".into(),
        ),
        // Masked: drop.
        (
            format!(
                "in_port(1),eth(src={c},dst={d}),eth_type(0x0800),\
                 ipv4(src=0.0.0.0/0.0.0.0,dst=0.0.0.0/0.0.0.0,proto=0/0,tos=0/0,ttl=0/0,frag=no)"
            ),
            "drop".into(),
        ),
        // Exact: ICMP echo request.
        (
            format!(
                "in_port(1),eth(src={a},dst={b}),eth_type(0x0800),\
                 ipv4(src=10.9.0.1,dst=10.9.0.2,proto=1,tos=0,ttl=64,frag=no),\
                 icmp(type=8,code=0)"
            ),
            "2".into(),
        ),
        // Masked: ARP requests.
        (
            format!(
                "in_port(1),eth(src={a},dst={W6}),eth_type(0x0806),\
                 arp(sip=0.0.0.0/0.0.0.0,tip=10.10.0.2,op=1,sha={W6},tha={W6})"
            ),
            "2".into(),
        ),
        // Exact TCP, flags too: rewrite both MACs, out of both ports.
        (
            format!(
                "in_port(1),eth(src={a},dst={c}),eth_type(0x0800),\
                 ipv4(src=10.11.0.1,dst=10.11.0.2,proto=6,tos=0,ttl=64,frag=no),\
                 tcp(src=2000,dst=22),tcp_flags(syn)"
            ),
            format!("1,set(eth(src={d},dst={b})),2"),
        ),
    ]
}

struct ParsedFlow {
    text: String,
    key: Vec<KeyAttr>,
    mask: Vec<KeyAttr>,
    actions: Vec<Action>,
}

fn parsed_flows() -> Vec<ParsedFlow> {
    flow_texts()
        .into_iter()
        .map(|(m, a)| {
            let (key, mask) =
                odp::text::key::parse_match(&m).unwrap_or_else(|e| panic!("{m}: {e:?}"));
            let actions =
                odp::text::action::parse_actions(&a).unwrap_or_else(|e| panic!("{a}: {e:?}"));
            ParsedFlow {
                text: format!("{m} actions:{a}"),
                key,
                mask,
                actions,
            }
        })
        .collect()
}

// ---------------------------------------------------------------- test bed

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn peer(name: &str) -> String {
    format!("{name}-io")
}

struct Bed {
    kernel: std::sync::Arc<Kernel>,
    kdp: Dpif,
    udp: Dpif,
    io_dp: i32,
    io_sock: Socket,
    /// Helper port number of each test interface's peer.
    io_port: HashMap<String, u32>,
    /// Interface of each helper port number.
    io_name: HashMap<u32, String>,
    veths: Vec<String>,
}

impl Drop for Bed {
    fn drop(&mut self) {
        let _ = self.udp.destroy();
        let _ = self.kernel.dp_del(DpId::Name(KDP));
        let _ = self.kernel.dp_del(DpId::Ifindex(self.io_dp));
        for v in &self.veths {
            let _ = sh(&["ip", "link", "del", v]);
        }
    }
}

fn bed() -> Option<Bed> {
    let class = SystemClass::new();
    let kernel = match class.kernel() {
        Ok(k) => k,
        Err(e) => {
            println!("SKIP: {e}");
            return None;
        }
    };
    let _ = kernel.dp_del(DpId::Name(KDP));
    let _ = kernel.dp_del(DpId::Name(IO_DP));
    let kdp = match class.open(KDP, true) {
        Ok(p) => Dpif::new(p),
        Err(Errno::EPERM) => {
            println!("SKIP: no CAP_NET_ADMIN");
            return None;
        }
        Err(e) => panic!("creating {KDP}: {e}"),
    };
    // The host must not send its own frames (IPv6 autoconfiguration)
    // through the test interfaces; the test's MAC filter is a second guard.
    for f in ["all", "default"] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{f}/disable_ipv6"), "1");
    }
    let io_sock = Socket::new().expect("netlink socket");
    let io = kernel
        .dp_new(IO_DP, io_sock.pid(), OVS_DP_F_UNALIGNED)
        .expect("helper datapath");
    let udp = Dpif::new(
        dpif_netdev::NetdevClass { n_pmds: 1 }
            .open_dp(UDP_DP, true)
            .expect("userspace datapath"),
    );
    let mut bed = Bed {
        kernel,
        kdp,
        udp,
        io_dp: io.dp_ifindex,
        io_sock,
        io_port: HashMap::new(),
        io_name: HashMap::new(),
        veths: Vec::new(),
    };
    for name in KPORTS.iter().chain(UPORTS.iter()) {
        let _ = sh(&["ip", "link", "del", name]);
        let p = peer(name);
        assert!(
            sh(&["ip", "link", "add", name, "type", "veth", "peer", "name", &p]),
            "veth {name}"
        );
        bed.veths.push(name.to_string());
        for dev in [*name, p.as_str()] {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{dev}/disable_ipv6"), "1");
            assert!(sh(&["ip", "link", "set", dev, "up"]));
        }
        let r = VportRequest {
            dp_ifindex: bed.io_dp,
            vport_type: Some(VportType::Netdev),
            name: Some(p.clone()),
            upcall_pids: Some(vec![bed.io_sock.pid()]),
            ..VportRequest::default()
        };
        let hp = bed.kernel.vport_new(&r).expect("helper port").port_no;
        bed.io_port.insert(name.to_string(), hp);
        bed.io_name.insert(hp, name.to_string());
    }
    for (dp, names) in [(&bed.kdp, KPORTS), (&bed.udp, UPORTS)] {
        for (i, name) in names.iter().enumerate() {
            let spec = PortSpec {
                name: name.to_string(),
                port_type: "system".into(),
                options: vec![],
            };
            let no = PortNo(i as u32 + 1);
            assert_eq!(
                dp.port_add(&spec, Some(no)),
                Ok(no),
                "{}: port_add {name}",
                dp.type_name()
            );
        }
    }
    Some(bed)
}

impl Bed {
    /// Sends `packet` into the test interface `name` (from its peer).
    fn inject(&self, name: &str, packet: &[u8]) {
        let mut w = nl::Writer::new();
        w.put_u32(odp::abi::OVS_ACTION_ATTR_OUTPUT, self.io_port[name]);
        let mut key = nl::Writer::new();
        odp::nl::key::emit_keys(&[KeyAttr::InPort(0)], &mut key);
        let ex = ExecuteRequest {
            dp_ifindex: self.io_dp,
            packet: packet.to_vec(),
            key: key.into_bytes(),
            actions: w.into_bytes(),
            ..ExecuteRequest::default()
        };
        self.kernel.execute(&[ex]).remove(0).expect("inject");
    }

    /// Collects what the test interfaces transmitted (test MACs only) until
    /// nothing has come for `quiet`, or `limit` has passed.
    fn collect(
        &mut self,
        out: &mut HashMap<String, Vec<Vec<u8>>>,
        quiet: Duration,
        limit: Duration,
    ) {
        let start = Instant::now();
        let mut last = Instant::now();
        loop {
            let mut got = false;
            while let Ok(Some(m)) = self.io_sock.recv_unsolicited() {
                got = true;
                let Ok(u) = UpcallMsg::parse(&m) else {
                    continue;
                };
                let Ok((key, _)) = odp::nl::key::decode_keys(&u.key, odp::nl::Mode::Tolerant)
                else {
                    continue;
                };
                let Some(in_port) = key.iter().find_map(|a| match a {
                    KeyAttr::InPort(p) => Some(*p),
                    _ => None,
                }) else {
                    continue;
                };
                let p = &u.packet;
                let ours = p.len() >= 12 && (p[0..3] == MAC_PREFIX || p[6..9] == MAC_PREFIX);
                if !ours {
                    continue;
                }
                if let Some(name) = self.io_name.get(&in_port) {
                    out.entry(name.clone()).or_default().push(u.packet);
                }
            }
            let now = Instant::now();
            if got {
                last = now;
            }
            if now.duration_since(last) >= quiet || now.duration_since(start) >= limit {
                return;
            }
            self.io_sock.wait_readable(Some(Duration::from_millis(20)));
        }
    }
}

fn hex(p: &[u8]) -> String {
    p.iter().map(|b| format!("{b:02x}")).collect()
}

/// Describes how two frames differ: length and the first differing offset.
fn describe_diff(k: &[u8], u: &[u8]) -> String {
    let at = k
        .iter()
        .zip(u)
        .position(|(a, b)| a != b)
        .unwrap_or(k.len().min(u.len()));
    format!(
        "kernel {} bytes, userspace {} bytes, first difference at byte {at}\n      kernel:    {}\n      userspace: {}",
        k.len(),
        u.len(),
        hex(k),
        hex(u)
    )
}

/// Which packet of the input sequence produced `out`: every input ends
/// with 14 bytes unique to it that no flow's actions change (the payload's
/// marker; for ARP, the sender and target addresses).
fn origin<'a>(input: &'a [(String, Vec<u8>)], out: &[u8]) -> &'a str {
    let tail = |p: &[u8]| p[p.len().saturating_sub(14)..].to_vec();
    input
        .iter()
        .find(|(_, p)| tail(p) == tail(out))
        .map_or("?", |(n, _)| n.as_str())
}

/// Compares what the two datapaths sent out of one port, aligned (longest
/// common subsequence) so that one missing or extra frame is reported once,
/// not as a shift of every later one. Appends one line per difference.
fn compare_port(
    port: usize,
    k: &[Vec<u8>],
    u: &[Vec<u8>],
    input: &[(String, Vec<u8>)],
    diffs: &mut Vec<String>,
) {
    // lcs[i][j]: length of the common subsequence of k[i..] and u[j..].
    let mut lcs = vec![vec![0usize; u.len() + 1]; k.len() + 1];
    for i in (0..k.len()).rev() {
        for j in (0..u.len()).rev() {
            lcs[i][j] = if k[i] == u[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let (mut k_only, mut u_only) = (Vec::new(), Vec::new());
    while i < k.len() || j < u.len() {
        if i < k.len() && j < u.len() && k[i] == u[j] {
            i += 1;
            j += 1;
        } else if j == u.len() || (i < k.len() && lcs[i + 1][j] >= lcs[i][j + 1]) {
            k_only.push(i);
            i += 1;
        } else {
            u_only.push(j);
            j += 1;
        }
    }
    // Pair the leftovers: the same frame at another position is an order
    // difference; frames from the same input differ in their bytes.
    let mut u_left: Vec<Option<usize>> = u_only.into_iter().map(Some).collect();
    let mut take = |pred: &dyn Fn(&[u8]) -> bool| {
        u_left
            .iter_mut()
            .find(|x| x.is_some_and(|j| pred(&u[j])))
            .and_then(Option::take)
    };
    for i in k_only {
        let from = origin(input, &k[i]);
        if let Some(j) = take(&|b| b == k[i].as_slice()) {
            diffs.push(format!(
                "port {port}: order differs: the output from input {from:?} is kernel #{i}, userspace #{j}"
            ));
        } else if let Some(j) = take(&|b| from != "?" && origin(input, b) == from) {
            diffs.push(format!(
                "port {port}: output from input {from:?} (kernel #{i}, userspace #{j}): {}",
                describe_diff(&k[i], &u[j])
            ));
        } else {
            diffs.push(format!(
                "port {port}: output #{i} from input {from:?} only from the kernel: {}",
                hex(&k[i])
            ));
        }
    }
    for j in u_left.into_iter().flatten() {
        diffs.push(format!(
            "port {port}: output #{j} from input {:?} only from userspace: {}",
            origin(input, &u[j]),
            hex(&u[j])
        ));
    }
}

#[test]
fn differential_kernel_vs_userspace() {
    // Parse everything first, so a bad flow or action text fails everywhere.
    let flows = parsed_flows();
    let input = packets();
    assert!(input.len() >= 30, "{} packets", input.len());
    for (n, p) in &input {
        assert_eq!(origin(&input, p), n, "inputs must have unique tails");
    }

    let Some(mut bed) = bed() else {
        return;
    };
    let mut diffs: Vec<String> = Vec::new();

    for f in &flows {
        for dp in [&bed.kdp, &bed.udp] {
            let r = dp.flow_put(FlowPut {
                flags: PutFlags::CREATE,
                key: f.key.clone(),
                mask: Some(f.mask.clone()),
                ufid: Some(Dpif::ufid_from_key(&f.key)),
                actions: f.actions.clone(),
                want_stats: false,
            });
            if let Err(e) = r {
                diffs.push(format!(
                    "{}: flow_put failed ({e}): {}",
                    dp.type_name(),
                    f.text
                ));
            }
        }
    }
    let k0 = bed.kdp.get_stats().expect("kernel stats");
    let u0 = bed.udp.get_stats().expect("userspace stats");

    // Stray frames before the test starts are not ours to compare.
    let mut junk = HashMap::new();
    bed.collect(
        &mut junk,
        Duration::from_millis(100),
        Duration::from_millis(500),
    );

    let mut got: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    for (_, p) in &input {
        bed.inject(KPORTS[0], p);
        bed.inject(UPORTS[0], p);
        // Paced, so neither side's receive queue can overflow.
        std::thread::sleep(Duration::from_millis(2));
        bed.collect(&mut got, Duration::ZERO, Duration::ZERO);
    }
    bed.collect(&mut got, Duration::from_millis(500), Duration::from_secs(5));

    // Packets out of each port, in order.
    let mut total_out = 0;
    for (i, (kn, un)) in KPORTS.iter().zip(UPORTS).enumerate() {
        let port = i + 1;
        let empty = Vec::new();
        let k = got.get(*kn).unwrap_or(&empty);
        let u = got.get(un).unwrap_or(&empty);
        total_out += k.len();
        println!(
            "port {port}: kernel sent {}, userspace sent {}",
            k.len(),
            u.len()
        );
        compare_port(port, k, u, &input, &mut diffs);
    }
    assert!(total_out > 0, "the kernel datapath sent nothing at all");

    // Every flow's counts.
    for f in &flows {
        let get = |dp: &Dpif| {
            dp.flow_get(FlowGet {
                key: f.key.clone(),
                ufid: Some(Dpif::ufid_from_key(&f.key)),
            })
            .map(|fl| (fl.stats.n_packets, fl.stats.n_bytes))
        };
        let (k, u) = (get(&bed.kdp), get(&bed.udp));
        println!("flow {}: kernel {k:?}, userspace {u:?}", f.text);
        if k != u {
            diffs.push(format!(
                "flow {}: kernel (packets, bytes) {k:?}, userspace {u:?}",
                f.text
            ));
        }
    }

    // Misses.
    let k1 = bed.kdp.get_stats().expect("kernel stats");
    let u1 = bed.udp.get_stats().expect("userspace stats");
    let (km, um) = (k1.n_missed - k0.n_missed, u1.n_missed - u0.n_missed);
    let (kh, uh) = (k1.n_hit - k0.n_hit, u1.n_hit - u0.n_hit);
    println!("kernel: {kh} hit, {km} missed; userspace: {uh} hit, {um} missed");
    if km != um {
        diffs.push(format!("n_missed: kernel {km}, userspace {um}"));
    }
    if kh != uh {
        diffs.push(format!("n_hit: kernel {kh}, userspace {uh}"));
    }
    let expect_missed = input.iter().filter(|(n, _)| n.starts_with("miss")).count() as u64;
    if km != expect_missed {
        diffs.push(format!(
            "kernel n_missed {km}, {expect_missed} miss packets sent"
        ));
    }

    if !diffs.is_empty() {
        for d in &diffs {
            println!("DIFF: {d}");
        }
        panic!(
            "{} differences between the kernel and userspace datapaths",
            diffs.len()
        );
    }
}

/// The report's alignment, on the host: a missing frame, a changed frame and
/// a swapped pair are each reported once.
#[test]
fn differential_report_alignment() {
    let input = packets();
    let f: Vec<Vec<u8>> = input.iter().take(6).map(|(_, p)| p.clone()).collect();
    let mut changed = f[3].clone();
    changed[20] ^= 1;
    let k = f.clone();
    let u = vec![
        f[0].clone(),
        f[2].clone(),
        changed,
        f[5].clone(),
        f[4].clone(),
    ];
    let mut diffs = Vec::new();
    compare_port(2, &k, &u, &input, &mut diffs);
    assert_eq!(diffs.len(), 3, "{diffs:#?}");
    assert!(diffs
        .iter()
        .any(|d| d.contains("only from the kernel") && d.contains(&input[1].0)));
    assert!(diffs
        .iter()
        .any(|d| d.contains("first difference at byte 20")));
    assert!(diffs.iter().any(|d| d.contains("order differs")));
    let mut none = Vec::new();
    compare_port(1, &k, &k, &input, &mut none);
    assert!(none.is_empty());
}
