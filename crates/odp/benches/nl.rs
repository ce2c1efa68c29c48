#![allow(missing_docs)] // criterion_group! generates undocumented items.
//! Netlink codec cost per flow key: encode and strict decode of typical keys.
//!
//! Run with `cargo bench -p odp --bench nl`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use odp::nl::Mode;

/// Keys as `ovs-dpctl dump-flows` shows them for common megaflows.
const KEYS: &[(&str, &str)] = &[
    (
        "tcp4",
        "recirc_id(0),dp_hash(0),skb_priority(0),in_port(1),skb_mark(0),ct_state(0),ct_zone(0),ct_mark(0),ct_label(0),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15),eth_type(0x0800),ipv4(src=35.8.2.41,dst=172.16.0.20,proto=6,tos=0,ttl=128,frag=no),tcp(src=80,dst=8080),tcp_flags(syn)",
    ),
    (
        "vlan_ipv6",
        "recirc_id(0),in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15),eth_type(0x8100),vlan(vid=99,pcp=7),encap(eth_type(0x86dd),ipv6(src=::1,dst=::2,label=0,proto=6,tclass=0,hlimit=128,frag=no),tcp(src=80,dst=8080))",
    ),
    (
        "tunnel",
        "tunnel(tun_id=0x7f10354,src=10.10.10.10,dst=20.20.20.20,ttl=64,flags(csum|key)),in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15),eth_type(0x0806),arp(sip=1.2.3.4,tip=5.6.7.8,op=1,sha=00:0f:10:11:12:13,tha=00:14:15:16:17:18)",
    ),
];

fn bench(c: &mut Criterion) {
    for (name, text) in KEYS {
        let (key, _mask) = odp::text::key::parse_match(text).expect("bench key parses");
        let mut w = nl::Writer::new();
        odp::nl::key::emit_keys(&key, &mut w);
        let bytes = w.into_bytes();

        c.bench_function(&format!("nl_encode/{name}"), |b| {
            let mut buf = Vec::with_capacity(1024);
            b.iter(|| {
                buf.clear();
                let mut w = nl::Writer::with_buffer(std::mem::take(&mut buf));
                odp::nl::key::emit_keys(black_box(&key), &mut w);
                buf = w.into_bytes();
                black_box(buf.len())
            })
        });
        c.bench_function(&format!("nl_decode/{name}"), |b| {
            b.iter(|| odp::nl::key::decode_keys(black_box(&bytes), Mode::Strict).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
