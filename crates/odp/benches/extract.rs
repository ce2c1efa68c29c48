//! Flow extraction cost per packet, for a few common packet kinds.
//!
//! Run with `cargo bench -p odp --bench extract`.

use criterion::{criterion_main, Criterion, Throughput};
use odp::compose::compose;
use odp::extract::extract;
use odp::flow::{Flow, VlanHdr, VLAN_CFI};
use std::hint::black_box;

fn base() -> Flow {
    Flow {
        dl_dst: [0x02, 0, 0, 0, 0, 2],
        dl_src: [0x02, 0, 0, 0, 0, 1],
        ..Flow::default()
    }
}

/// TCP over IPv4, 64 bytes on the wire (without FCS).
fn tcp_ipv4() -> Vec<u8> {
    let flow = Flow {
        dl_type: 0x0800,
        nw_src: 0x0a00_0001,
        nw_dst: 0x0a00_0002,
        nw_ttl: 64,
        nw_proto: 6,
        tp_src: 40000,
        tp_dst: 80,
        tcp_flags: 0x010,
        ..base()
    };
    let p = compose(&flow, 10);
    assert_eq!(p.len(), 64);
    p
}

/// TCP over IPv6 in an 802.1Q tag.
fn vlan_tcp_ipv6() -> Vec<u8> {
    let flow = Flow {
        dl_type: 0x86dd,
        vlans: [
            VlanHdr {
                tpid: 0x8100,
                tci: VLAN_CFI | 100,
            },
            VlanHdr::default(),
        ],
        ipv6_src: 0x2001_0db8 << 96 | 1,
        ipv6_dst: 0x2001_0db8 << 96 | 2,
        ipv6_label: 0x12345,
        nw_ttl: 64,
        nw_proto: 6,
        tp_src: 40000,
        tp_dst: 443,
        tcp_flags: 0x018,
        ..base()
    };
    compose(&flow, 10)
}

/// An ARP request.
fn arp() -> Vec<u8> {
    let flow = Flow {
        dl_dst: [0xff; 6],
        dl_type: 0x0806,
        nw_src: 0x0a00_0001,
        nw_dst: 0x0a00_0002,
        nw_proto: 1,
        arp_sha: [0x02, 0, 0, 0, 0, 1],
        ..base()
    };
    compose(&flow, 0)
}

fn bench_extract(c: &mut Criterion) {
    let md = Flow {
        in_port: 1,
        ..Flow::default()
    };
    let mut group = c.benchmark_group("extract");
    group.throughput(Throughput::Elements(1));
    for (name, packet) in [
        ("tcp_ipv4_64B", tcp_ipv4()),
        ("vlan_tcp_ipv6", vlan_tcp_ipv6()),
        ("arp", arp()),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| extract(black_box(&packet), black_box(&md)))
        });
    }
    group.finish();
}

// The macro defines an undocumented public function.
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench_extract);
}
use group::benches;
criterion_main!(benches);
