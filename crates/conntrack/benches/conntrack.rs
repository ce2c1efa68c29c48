//! Connection tracker throughput: packets of established connections
//! (one thread, two threads sharing the tracker) and new connections.
//!
//!     cargo bench -p conntrack

use std::time::{Duration, Instant};

use conntrack::{Conntrack, CtAction};
use criterion::{criterion_main, Criterion, Throughput};
use odp::flow::Flow;
use packet::checksum;

fn udp4(src: u32, sport: u16, dst: u32, dport: u16) -> Vec<u8> {
    let mut p = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00];
    let mut h = vec![0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0];
    h.extend_from_slice(&src.to_be_bytes());
    h.extend_from_slice(&dst.to_be_bytes());
    let c = checksum::data(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&h);
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&[0, 8, 0, 0]);
    p
}

const CONNS: u32 = 10_000;

fn setup() -> (Conntrack, Vec<Vec<u8>>) {
    let ct = Conntrack::default();
    let commit = CtAction {
        commit: true,
        ..Default::default()
    };
    let mut pkts = Vec::new();
    for i in 0..CONNS {
        let mut p = udp4(0x0a00_0000 | i, 1000, 0x0b00_0001, 53);
        ct.execute(&mut p, &mut Flow::default(), &commit, 0, 0);
        let mut r = udp4(0x0b00_0001, 53, 0x0a00_0000 | i, 1000);
        ct.execute(&mut r, &mut Flow::default(), &commit, 0, 0);
        pkts.push(p);
    }
    (ct, pkts)
}

fn established(c: &mut Criterion) {
    let (ct, mut pkts) = setup();
    let lookup = CtAction::default();
    let mut g = c.benchmark_group("established");
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(32));
    g.bench_function("one_thread_batch32", |b| {
        let mut i = 0usize;
        let mut mds = vec![Flow::default(); 32];
        let mut res = vec![
            conntrack::CtResult {
                verdict: conntrack::Verdict::Continue,
                mru: 0
            };
            32
        ];
        b.iter(|| {
            let start = i % (pkts.len() - 32);
            i += 32;
            for m in mds.iter_mut() {
                m.ct_state = 0;
            }
            ct.execute_batch(
                &mut pkts[start..start + 32],
                &mut mds,
                &lookup,
                0,
                1000,
                &mut res,
            );
        })
    });
    g.bench_function("two_threads_batch32", |b| {
        b.iter_custom(|iters| {
            let ct = &ct;
            let t0 = Instant::now();
            std::thread::scope(|s| {
                for t in 0..2u32 {
                    s.spawn(move || {
                        let mut mine: Vec<Vec<u8>> = (0..CONNS / 2)
                            .map(|i| udp4(0x0a00_0000 | (i * 2 + t), 1000, 0x0b00_0001, 53))
                            .collect();
                        let mut mds = vec![Flow::default(); 32];
                        let mut res = vec![
                            conntrack::CtResult {
                                verdict: conntrack::Verdict::Continue,
                                mru: 0
                            };
                            32
                        ];
                        for k in 0..iters as usize {
                            let start = (k * 32) % (mine.len() - 32);
                            ct.execute_batch(
                                &mut mine[start..start + 32],
                                &mut mds,
                                &CtAction::default(),
                                0,
                                1000,
                                &mut res,
                            );
                        }
                    });
                }
            });
            // Two threads did `iters` batches each: report per batch pair.
            t0.elapsed() / 2
        })
    });
    g.finish();
}

fn new_conns(c: &mut Criterion) {
    let mut g = c.benchmark_group("new");
    g.measurement_time(Duration::from_secs(3));
    g.throughput(Throughput::Elements(1));
    let ct = Conntrack::default();
    let commit = CtAction {
        commit: true,
        ..Default::default()
    };
    let mut n: u32 = 0;
    let mut now = 0u64;
    g.bench_function("commit_udp", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            if n.is_multiple_of(200_000) {
                now += 60_000;
                while ct.sweep(now, 100_000) > 0 {}
            }
            let mut p = udp4(
                0x0c00_0000 | (n & 0xffff),
                (n >> 16) as u16,
                0x0b00_0001,
                53,
            );
            ct.execute(&mut p, &mut Flow::default(), &commit, 0, now);
        })
    });
    g.finish();
}

#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::established, super::new_conns);
}
criterion_main!(group::benches);
