//! Lookup benchmarks: the megaflow classifier at 1, 16 and 256 masks with
//! 10,000 and 1,000,000 flows, the exact-match cache on hits, and the cost
//! of packing a `Flow`.
//!
//! Masks look like the datapath's: in_port, recirc_id, dl_type and nw_frag
//! exact, plus an IPv4 source and destination prefix (different lengths per
//! mask) and, for every other mask, nw_proto and the TCP destination port.
//! Each mask's flows use their own in_port, so flows never overlap. Packets
//! are drawn at random from the installed flows (every lookup hits), with
//! random bits where the mask ignores them, and looked up in batches of 32.
//! The 8192 packed packets take 4.6 MB and stream through the caches, where
//! a real batch's keys were just built and are hot: the figures are on the
//! pessimistic side, most of all with few flows.
//!
//! Run briefly: `cargo bench -p dpif-netdev --bench classifier --
//! --warm-up-time 1 --measurement-time 2`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dpif_netdev::classifier::Classifier;
use dpif_netdev::emc::{Emc, EmcValue};
use dpif_netdev::flowkey::FlowKey;
use odp::flow::{Flow, FLOW_NW_FRAG_ANY, FLOW_NW_FRAG_LATER};

const BATCH: usize = 32;
const N_PACKETS: usize = 8192;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn prefix(len: u32) -> u32 {
    if len == 0 {
        0
    } else {
        !0u32 << (32 - len)
    }
}

/// Mask `i` of a set of masks.
fn mask(i: usize) -> Flow {
    let mut m = Flow {
        in_port: !0,
        recirc_id: !0,
        dl_type: !0,
        nw_frag: FLOW_NW_FRAG_ANY | FLOW_NW_FRAG_LATER,
        nw_src: prefix(16 + (i % 17) as u32),
        nw_dst: prefix(17 + (i / 17 % 16) as u32),
        ..Flow::default()
    };
    if i % 2 == 1 {
        m.nw_proto = !0;
        m.tp_dst = !0;
    }
    m
}

/// A random packet with headers in every field a mask may look at.
fn random_packet(rng: &mut Rng, in_port: u32) -> Flow {
    let r = rng.next();
    let mut f = Flow {
        in_port,
        dl_type: 0x0800,
        nw_src: r as u32,
        nw_dst: (r >> 32) as u32,
        nw_proto: 6,
        nw_ttl: 64,
        tp_src: rng.next() as u16,
        tp_dst: [80, 443, 22, 53][(r >> 7) as usize % 4],
        ..Flow::default()
    };
    let mac = rng.next().to_be_bytes();
    f.dl_src.copy_from_slice(&mac[..6]);
    f.dl_dst.copy_from_slice(&mac[2..]);
    f
}

/// A classifier with `n_flows` flows over `n_masks` masks, and packets
/// hitting them.
fn setup(n_masks: usize, n_flows: usize) -> (Classifier<u64>, Vec<FlowKey>) {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut c = Classifier::new();
    let masks: Vec<FlowKey> = (0..n_masks).map(|i| FlowKey::new(&mask(i))).collect();
    let mut installed: Vec<(FlowKey, usize)> = Vec::with_capacity(n_flows);
    let mut value = 0;
    while installed.len() < n_flows {
        let i = installed.len() % n_masks;
        let key = FlowKey::new(&random_packet(&mut rng, i as u32));
        value += 1;
        if c.insert_key(&key, &masks[i], value).is_ok() {
            installed.push((key, i));
        }
    }
    let packets = (0..N_PACKETS)
        .map(|_| {
            let (key, i) = &installed[rng.next() as usize % installed.len()];
            let noise = FlowKey::new(&random_packet(&mut rng, *i as u32));
            // Key bits under the mask, noise elsewhere.
            let m = &masks[*i];
            let mut w = [0u64; dpif_netdev::flowkey::N_WORDS];
            for (j, x) in w.iter_mut().enumerate() {
                let mw = m.words()[j];
                *x = (key.words()[j] & mw) | (noise.words()[j] & !mw);
            }
            FlowKey::from_words(w)
        })
        .collect();
    (c, packets)
}

fn bench_classifier(c: &mut Criterion) {
    let mut g = c.benchmark_group("classifier");
    g.sample_size(10);
    for &n_flows in &[10_000usize, 1_000_000] {
        for &n_masks in &[1usize, 16, 256] {
            let (cls, packets) = setup(n_masks, n_flows);
            assert_eq!(cls.n_masks(), n_masks);
            let id = format!("{n_masks}masks/{n_flows}flows");
            g.throughput(Throughput::Elements(BATCH as u64));
            g.bench_function(BenchmarkId::new("lookup_batch32", &id), |b| {
                let mut pos = 0;
                let mut out = [None; BATCH];
                b.iter(|| {
                    let refs: [&FlowKey; BATCH] = std::array::from_fn(|i| &packets[pos + i]);
                    pos = (pos + BATCH) % N_PACKETS;
                    let stats = cls.lookup_batch_keys(&refs, &mut out);
                    debug_assert_eq!(stats.hits, BATCH as u64);
                    black_box(&out);
                })
            });
            if n_flows == 10_000 {
                g.throughput(Throughput::Elements(1));
                g.bench_function(BenchmarkId::new("lookup_single", &id), |b| {
                    let mut pos = 0;
                    b.iter(|| {
                        pos = (pos + 1) % N_PACKETS;
                        black_box(cls.lookup_key(&packets[pos]).0)
                    })
                });
            }
        }
    }
    g.finish();
}

struct Live;

impl EmcValue for Live {
    fn is_alive(&self) -> bool {
        true
    }
}

fn bench_emc(c: &mut Criterion) {
    let mut g = c.benchmark_group("emc");
    let mut rng = Rng(99);
    let packets: Vec<FlowKey> = (0..4096)
        .map(|i| FlowKey::new(&random_packet(&mut rng, i % 4)))
        .collect();
    let mut emc = Emc::new();
    emc.set_insert_inv_prob(1);
    for k in &packets {
        emc.insert(k, k.emc_hash(), std::sync::Arc::new(Live));
    }
    let hits = packets
        .iter()
        .filter(|k| emc.lookup(k, k.emc_hash()).is_some())
        .count();
    // Only keep the packets that hit (some were evicted by 2-way conflicts).
    let packets: Vec<&FlowKey> = packets
        .iter()
        .filter(|k| emc.lookup(k, k.emc_hash()).is_some())
        .collect();
    assert_eq!(packets.len(), hits);
    g.throughput(Throughput::Elements(1));
    g.bench_function("hit", |b| {
        let mut pos = 0;
        b.iter(|| {
            pos = (pos + 1) % packets.len();
            let k = packets[pos];
            black_box(emc.lookup(k, k.emc_hash()))
        })
    });
    let flows: Vec<Flow> = (0..1024).map(|i| random_packet(&mut rng, i % 4)).collect();
    g.bench_function("flowkey_new", |b| {
        let mut pos = 0;
        b.iter(|| {
            pos = (pos + 1) % flows.len();
            black_box(FlowKey::new(&flows[pos]))
        })
    });
    g.finish();
}

/// The benchmark groups (the macro's function has no doc of its own).
#[allow(missing_docs)]
mod groups {
    use super::*;
    criterion_group!(benches, bench_classifier, bench_emc);
}
criterion_main!(groups::benches);
