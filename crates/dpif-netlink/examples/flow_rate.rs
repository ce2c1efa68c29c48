//! Flow install / dump / delete rates against the kernel datapath, through
//! the dpif wrapper (batched puts), for BENCHMARKS.md. Run as root where the
//! openvswitch module is loaded (e.g. inside the kvm-ovs guest):
//!
//!     flow_rate [N] [FLOWFILE]
//!
//! Installs N exact-match TCP flows (default 100000) in batches of 64, dumps
//! them, deletes them one by one in batches, and prints the rates. With
//! FLOWFILE, also writes the same flows in `ovs-dpctl add-flows` format so
//! that `ovs-dpctl` can be timed on the same work.

use std::io::Write;
use std::time::Instant;

use dpif::{Dpif, DpifClass, FlowDel, FlowPut, Op, PutFlags};
use odp::action::Action;
use odp::key::{EthernetKey, Ipv4Key, KeyAttr, PortNo, PortsKey};

const BATCH: usize = 64;

fn key(i: u32) -> Vec<KeyAttr> {
    let [a, b, c, d] = i.to_be_bytes();
    vec![
        KeyAttr::InPort(1),
        KeyAttr::Ethernet(EthernetKey {
            src: [2, 0, 0, 0, 0, 1],
            dst: [2, 0, 0, 0, 0, 2],
        }),
        KeyAttr::Ethertype(0x0800),
        KeyAttr::Ipv4(Ipv4Key {
            src: std::net::Ipv4Addr::new(10, b, c, d),
            dst: std::net::Ipv4Addr::new(10, 255, 0, a),
            proto: 6,
            tos: 0,
            ttl: 64,
            frag: 0,
        }),
        KeyAttr::Tcp(PortsKey { src: 1000, dst: 80 }),
        KeyAttr::TcpFlags(0),
    ]
}

fn text(i: u32) -> String {
    let [a, b, c, d] = i.to_be_bytes();
    format!(
        "in_port(1),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),eth_type(0x0800),\
         ipv4(src=10.{b}.{c}.{d},dst=10.255.0.{a},proto=6,tos=0,ttl=64,frag=no),\
         tcp(src=1000,dst=80),tcp_flags(0) 2"
    )
}

fn rate(n: usize, t: Instant) -> String {
    let s = t.elapsed().as_secs_f64();
    format!("{n} in {s:.2} s = {:.0}/s", n as f64 / s)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u32 = args
        .next()
        .map(|s| s.parse().expect("N"))
        .unwrap_or(100_000);
    if let Some(path) = args.next() {
        // FLOWFILE for add-flows (flow and actions), FLOWFILE.del for
        // del-flows (flow only).
        let mut f = std::io::BufWriter::new(std::fs::File::create(&path).expect("flow file"));
        let mut d = std::io::BufWriter::new(
            std::fs::File::create(format!("{path}.del")).expect("flow file"),
        );
        for i in 0..n {
            let line = text(i);
            writeln!(f, "{line}").expect("write");
            writeln!(d, "{}", line.trim_end_matches(" 2")).expect("write");
        }
    }
    let class = dpif_netlink::SystemClass::new();
    let name = "oxbench";
    if let Ok(p) = class.open(name, false) {
        let _ = p.destroy();
    }
    let dp = Dpif::new(class.open(name, true).expect("create datapath"));
    let out = vec![Action::Output(PortNo(2))];

    let t = Instant::now();
    let ids: Vec<u32> = (0..n).collect();
    for chunk in ids.chunks(BATCH) {
        let ops: Vec<Op> = chunk
            .iter()
            .map(|&i| {
                Op::Put(FlowPut {
                    flags: PutFlags::CREATE,
                    key: key(i),
                    mask: None,
                    ufid: None,
                    actions: out.clone(),
                    want_stats: false,
                })
            })
            .collect();
        for r in dp.operate(&ops) {
            r.expect("put");
        }
    }
    println!("install: {}", rate(n as usize, t));

    // The kernel's share: the same dump, parsed to FlowInfo only.
    let k = class.kernel().expect("kernel");
    let ifindex = k
        .dp_get(dpif_netlink::DpId::Name(name))
        .expect("dp")
        .dp_ifindex;
    let t = Instant::now();
    let mut raw = k.flow_dump(ifindex, 0).expect("raw dump");
    let mut m = 0;
    while raw.next_flow().expect("raw next").is_some() {
        m += 1;
    }
    drop(raw);
    println!("dump (netlink only, no odp decode): {}", rate(m, t));

    let t = Instant::now();
    let dump = dp.flow_dump(false).expect("dump");
    let mut c = dump.cursor();
    let mut flows = Vec::new();
    let mut total = 0;
    loop {
        flows.clear();
        let got = c.next(&mut flows, 1000).expect("dump next");
        if got == 0 {
            break;
        }
        total += got;
    }
    drop(c);
    drop(dump);
    assert_eq!(total, n as usize, "dumped every flow");
    println!("dump:    {}", rate(total, t));

    let t = Instant::now();
    for chunk in ids.chunks(BATCH) {
        let ops: Vec<Op> = chunk
            .iter()
            .map(|&i| {
                Op::Del(FlowDel {
                    key: key(i),
                    ufid: None,
                    want_stats: false,
                })
            })
            .collect();
        for r in dp.operate(&ops) {
            r.expect("del");
        }
    }
    println!("delete:  {}", rate(n as usize, t));
    assert_eq!(dp.get_stats().expect("stats").n_flows, 0);
    dp.destroy().expect("destroy");
}
