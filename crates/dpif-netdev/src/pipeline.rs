//! The fast path: what a poll thread does with each received batch.
//!
//! A batch of up to [`N`] packets goes through the stages below, each a
//! function here, each over the whole batch before the next starts (so
//! that the memory reads of different packets overlap, and each stage's
//! code stays in the instruction cache):
//!
//! 1. **receive**: the poll thread's loop ([`crate::pmd`]) fills the batch
//!    from a port's queue.
//! 2. **extract** ([`extract`]): each packet's key, word map and hash, in
//!    one pass over its headers ([`crate::miniflow`]).
//! 3. **cache** ([`cache`]): the exact-match cache, for the packets of
//!    flows seen often (skipped while it rarely hits, see [`EmcUse`]).
//! 4. **classify** ([`classify`]): the signature cache, then the megaflow
//!    subtables, for the packets the cache did not answer, all together.
//! 5. **execute** ([`execute`]): packets grouped by flow; each flow's
//!    statistics counted once; a flow whose actions are one output moves
//!    its packets to that port's transmit batch (a whole batch at once
//!    when it is all one flow), other actions run packet by packet. The
//!    conntrack engine, when there is one, runs from here: a `ct` action
//!    goes to [`crate::output::DpSink`]'s hook and the `recirc` after it
//!    comes back through this pipeline.
//! 6. **miss** ([`miss`]): the packets no flow matched become miss
//!    upcalls for the handler threads.
//! 7. **send**: every transmit batch is sent ([`TxPorts::flush`]).
//!
//! Packets that actions recirculate go through stages 2 to 6 again, in
//! batches, up to [`MAX_RECIRC`] times ([`Pipeline::run`]), before the send.
//!
//! Settings that can change at run time (dropping fragments, sampling,
//! the listen mask) are read once per batch ([`BatchConfig`]), so that no
//! stage branches on configuration per packet.
//!
//! # Context
//!
//! Runs on a poll thread, which owns everything here. No locks, no
//! allocation, no formatting, except for upcalls, packet copies made by
//! actions other than a single output, and recirculation.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use dpif::UpcallKind;
use netdev::Batch;
use odp::flow::Flow;
use odp::key::PortNo;

use crate::classifier::Classifier;
use crate::dp::Shared;
use crate::emc::Emc;
use crate::flow::{now_ms, DpFlow};
use crate::flowkey::{FlowKey, W_PROTO};
use crate::miniflow::PacketKey;
use crate::output::{DpSink, Pkt, Recirc, TxPorts};
use crate::rng::Rng;

/// Packets per batch.
pub const N: usize = netdev::BATCH_SIZE;

/// Most times one packet may recirculate.
pub const MAX_RECIRC: usize = 6;

/// The bits of packets `0..n`.
#[inline]
fn all(n: usize) -> u32 {
    if n >= 32 {
        u32::MAX
    } else {
        (1u32 << n) - 1
    }
}

/// The packet indices of the set bits of `bits`, ascending.
#[inline]
fn indices(mut bits: u32) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (bits != 0).then(|| {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            i
        })
    })
}

/// The metadata of a batch's packets.
#[derive(Clone, Copy)]
pub enum BatchMd<'a> {
    /// Received on this port: no other metadata.
    Received(PortNo),
    /// Recirculated: packet `i`'s metadata is element `i` of the first,
    /// and its maximum received fragment size (0 unless the connection
    /// tracker reassembled it) element `i` of the second.
    Recirculated(&'a [Flow], &'a [u16]),
}

impl BatchMd<'_> {
    /// Packet `i`'s metadata (for the executor).
    #[inline]
    fn of(&self, i: usize) -> Flow {
        match self {
            BatchMd::Received(port) => Flow {
                in_port: port.0,
                ..Flow::default()
            },
            BatchMd::Recirculated(mds, _) => mds.get(i).copied().unwrap_or_default(),
        }
    }

    /// Packet `i`'s maximum received fragment size (0: not reassembled).
    #[inline]
    fn mru(&self, i: usize) -> u16 {
        match self {
            BatchMd::Received(_) => 0,
            BatchMd::Recirculated(_, mrus) => mrus.get(i).copied().unwrap_or(0),
        }
    }

    /// Whether some packet of the batch was reassembled.
    fn any_mru(&self) -> bool {
        matches!(self, BatchMd::Recirculated(_, mrus) if mrus.iter().any(|&m| m != 0))
    }
}

/// The settings of the datapath that the stages use, read once per batch.
#[derive(Clone, Copy, Debug)]
pub struct BatchConfig {
    /// Drop IP fragments.
    drop_frags: bool,
    /// sFlow sampling probability (of `u32::MAX`); 0 when off or when no
    /// one listens for samples.
    sample_prob: u32,
    /// Whether miss upcalls are wanted (else misses count as lost).
    listen_miss: bool,
    /// Milliseconds now, for the flows' `used` times.
    now: u64,
}

impl BatchConfig {
    /// The datapath's current settings.
    pub fn read(shared: &Shared) -> BatchConfig {
        let listen = shared.listen();
        let prob = shared.sflow_probability.load(Ordering::Relaxed);
        BatchConfig {
            drop_frags: shared.drop_frags.load(Ordering::Relaxed),
            sample_prob: if listen.sample { prob } else { 0 },
            listen_miss: listen.miss,
            now: now_ms(),
        }
    }
}

/// Whether a poll thread consults its exact-match cache.
///
/// The cache is much larger than the CPU's caches: a lookup costs about
/// two cache misses, worth it only when it often hits (with many
/// microflows the signature cache and the subtables do the work anyway).
/// Each second the hit rate of the batches that used the cache decides:
/// below [`EMC_MIN_HIT_PCT`]% the cache is skipped, except on one batch in
/// [`EMC_PROBE_EVERY`], whose lookups (and insertions) keep measuring
/// whether it would pay again.
#[derive(Default)]
pub struct EmcUse {
    off: bool,
    batches: u64,
    lookups: u64,
    hits: u64,
}

/// Hit rate (percent) below which the exact-match cache is skipped.
const EMC_MIN_HIT_PCT: u64 = 30;
/// While skipped, one batch in this many still uses the cache.
const EMC_PROBE_EVERY: u64 = 16;

impl EmcUse {
    /// Whether the next batch should use the cache.
    #[inline]
    fn use_now(&mut self) -> bool {
        self.batches += 1;
        !self.off || self.batches.is_multiple_of(EMC_PROBE_EVERY)
    }

    /// Re-decides from the last interval's hit rate.
    pub fn review(&mut self) {
        if self.lookups >= 1000 {
            self.off = self.hits * 100 < self.lookups * EMC_MIN_HIT_PCT;
        }
        self.lookups = 0;
        self.hits = 0;
    }
}

/// Per-batch scratch, kept across batches so that the stages allocate
/// nothing.
struct Scratch {
    /// Each packet's key, map and hash.
    keys: [PacketKey; N],
    /// The full extractor's output, for the packets that need it.
    spill: Flow,
}

/// Counts of one batch, added to the datapath's once.
#[derive(Default)]
struct Counts {
    hit: u64,
    missed: u64,
    mask_hit: u64,
    cache_hit: u64,
}

/// A poll thread's fast path: its lookup tables, transmit batches and
/// scratch (see the module docs).
pub struct Pipeline {
    /// The megaflow classifier (with its signature cache).
    pub classifier: Classifier<Arc<DpFlow>>,
    /// The exact-match cache.
    pub emc: Emc<Arc<DpFlow>>,
    /// Whether to use the exact-match cache.
    pub emc_use: EmcUse,
    /// Transmit batches.
    pub tx: TxPorts,
    /// The thread's random numbers.
    rng: Rng,
    scratch: Box<Scratch>,
    /// The buffer the executor works in (swapped with a batch slot).
    spare: Pkt,
    /// Packets recirculated by the batch being processed.
    recirc: Vec<Recirc>,
    /// Recirculated packets being processed.
    recirc_now: Vec<Recirc>,
    /// Their metadata, by position in `recirc_batch`.
    recirc_md: Vec<Flow>,
    /// Their maximum received fragment sizes, by position.
    recirc_mru: Vec<u16>,
    /// The batch recirculated packets go through the stages in.
    recirc_batch: Batch,
}

impl Pipeline {
    /// An empty pipeline sending on transmit queue `txq`.
    pub fn new(txq: usize) -> Pipeline {
        let mut classifier = Classifier::new();
        classifier.enable_smc();
        Pipeline {
            classifier,
            emc: Emc::new(),
            emc_use: EmcUse::default(),
            tx: TxPorts::new(txq),
            rng: Rng::new(now_ms() ^ (txq as u64) << 32),
            scratch: Box::new(Scratch {
                keys: std::array::from_fn(|_| PacketKey::default()),
                spill: Flow::default(),
            }),
            spare: Pkt::default(),
            recirc: Vec::new(),
            recirc_now: Vec::new(),
            recirc_md: Vec::with_capacity(N),
            recirc_mru: Vec::with_capacity(N),
            recirc_batch: Batch::new(),
        }
    }

    /// Runs `batch`, received on `in_port`, through every stage, then the
    /// packets it recirculates, then sends. `batch` is left with spare
    /// buffers only (its packets went to transmit batches or were
    /// dropped).
    pub fn run(&mut self, shared: &Shared, batch: &mut Batch, in_port: PortNo) {
        let cfg = BatchConfig::read(shared);
        self.process(shared, &cfg, batch, BatchMd::Received(in_port));
        self.recirculate(shared, &cfg);
        self.tx.flush();
    }

    /// The recirculation loop: packets queued by `recirc` actions go
    /// through the stages again, in batches, until none is left or
    /// [`MAX_RECIRC`] rounds have passed (the rest are dropped).
    fn recirculate(&mut self, shared: &Shared, cfg: &BatchConfig) {
        for _ in 0..MAX_RECIRC {
            if self.recirc.is_empty() {
                return;
            }
            std::mem::swap(&mut self.recirc, &mut self.recirc_now);
            let mut batch = std::mem::take(&mut self.recirc_batch);
            let mut mds = std::mem::take(&mut self.recirc_md);
            let mut mrus = std::mem::take(&mut self.recirc_mru);
            let mut pending = std::mem::take(&mut self.recirc_now);
            while !pending.is_empty() {
                batch.clear();
                mds.clear();
                mrus.clear();
                let take = pending.len().min(N);
                for (mut p, md) in pending.drain(..take) {
                    batch.push_swap(&mut p.0);
                    mds.push(md);
                    mrus.push(p.2);
                }
                self.process(shared, cfg, &mut batch, BatchMd::Recirculated(&mds, &mrus));
            }
            self.recirc_mru = mrus;
            self.recirc_now = pending;
            self.recirc_batch = batch;
            self.recirc_md = mds;
        }
        self.recirc.clear();
    }

    /// Stages 2 to 6 on one batch.
    fn process(&mut self, shared: &Shared, cfg: &BatchConfig, batch: &mut Batch, md: BatchMd<'_>) {
        let Pipeline {
            classifier,
            emc,
            emc_use,
            tx,
            rng,
            scratch,
            spare,
            recirc,
            ..
        } = self;
        let n = batch.len().min(N);
        let live = extract(scratch, batch, md, cfg.drop_frags);
        if cfg.sample_prob != 0 {
            sample(shared, &scratch.keys, batch, cfg.sample_prob, rng);
        }
        let keys = &scratch.keys;
        let mut counts = Counts::default();
        let mut found: [Option<&Arc<DpFlow>>; N] = [None; N];
        let use_emc = emc_use.use_now();
        let pending = if use_emc {
            let (pending, hits) = cache(emc, keys, live, &mut found);
            emc_use.lookups += u64::from(live.count_ones());
            emc_use.hits += hits;
            counts.cache_hit += hits;
            pending
        } else {
            live
        };
        let inv_prob = if use_emc { emc.insert_inv_prob() } else { 0 };
        let mut emc_new = 0u32;
        let mut misses = 0u32;
        if pending != 0 {
            misses = classify(classifier, keys, pending, &mut found, &mut counts);
            for i in indices(pending & !misses) {
                if rng.one_in(inv_prob) {
                    emc_new |= 1 << i;
                }
            }
        }
        let new_flows: [Option<Arc<DpFlow>>; N] = std::array::from_fn(|i| {
            if emc_new & (1 << i) != 0 {
                found[i].cloned()
            } else {
                None
            }
        });
        counts.hit = u64::from((live & !misses).count_ones());
        let mut sink = DpSink {
            shared,
            tx,
            recirc,
            rng,
        };
        execute(&mut sink, cfg.now, batch, n, keys, &found, md, spare);
        if misses != 0 {
            counts.missed = u64::from(misses.count_ones());
            miss(shared, cfg.listen_miss, batch, keys, &md, misses);
        }
        shared.count(counts.hit, counts.missed, counts.mask_hit, counts.cache_hit);
        // Cache a sample of the flows the classifier found.
        for (i, f) in new_flows.into_iter().enumerate() {
            if let Some(f) = f {
                let k = &scratch.keys[i];
                emc.insert_mapped(k.key(), k.map(), k.hash(), f);
            }
        }
    }
}

/// Stage 2: every packet's key. Returns the packets to look up (all, less
/// fragments when they are dropped).
fn extract(scratch: &mut Scratch, batch: &Batch, md: BatchMd<'_>, drop_frags: bool) -> u32 {
    let n = batch.len().min(N);
    let Scratch { keys, spill } = scratch;
    match md {
        BatchMd::Received(port) => {
            for (k, p) in keys.iter_mut().zip(batch.packets()) {
                k.extract_received(p.data(), port.0, spill);
            }
        }
        BatchMd::Recirculated(mds, _) => {
            for ((k, p), md) in keys.iter_mut().zip(batch.packets()).zip(mds) {
                k.extract(p.data(), md, spill);
            }
        }
    }
    let mut live = all(n);
    if drop_frags {
        for (i, k) in keys[..n].iter().enumerate() {
            // nw_frag: bits 16..24 of the protocol word.
            if (k.key().words()[W_PROTO] >> 16) & 0xff != 0 {
                live &= !(1 << i);
            }
        }
    }
    live
}

/// sFlow: an upcall for each packet picked with probability `prob`.
fn sample(shared: &Shared, keys: &[PacketKey; N], batch: &Batch, prob: u32, rng: &mut Rng) {
    for (k, p) in keys.iter().zip(batch.packets()) {
        if rng.below(prob) {
            let flow = k.key().to_flow();
            shared
                .upcalls
                .queue(UpcallKind::Sample, p.data(), &flow, None, 0, 0);
        }
    }
}

/// Stage 3: the exact-match cache, for the packets of `live`. Returns the
/// packets it did not answer, and how many it did.
fn cache<'t>(
    emc: &'t Emc<Arc<DpFlow>>,
    keys: &[PacketKey; N],
    live: u32,
    found: &mut [Option<&'t Arc<DpFlow>>; N],
) -> (u32, u64) {
    for i in indices(live) {
        emc.prefetch(keys[i].hash());
    }
    let mut pending = 0;
    let mut hits = 0;
    for i in indices(live) {
        let k = &keys[i];
        match emc.lookup_mapped(k.key(), k.map(), k.hash()) {
            Some(f) => {
                found[i] = Some(f);
                hits += 1;
            }
            None => pending |= 1 << i,
        }
    }
    (pending, hits)
}

/// Stage 4: the classifier (signature cache, then subtables), for the
/// packets of `pending`, all together. Returns the packets no live flow
/// matched.
fn classify<'t>(
    classifier: &'t Classifier<Arc<DpFlow>>,
    keys: &[PacketKey; N],
    pending: u32,
    found: &mut [Option<&'t Arc<DpFlow>>; N],
    counts: &mut Counts,
) -> u32 {
    let mut idx = [0u8; N];
    let mut m = 0;
    for i in indices(pending) {
        idx[m] = i as u8;
        m += 1;
    }
    let refs: [&FlowKey; N] = std::array::from_fn(|j| keys[usize::from(idx[j.min(m - 1)])].key());
    let hashes: [u32; N] = std::array::from_fn(|j| keys[usize::from(idx[j])].hash());
    let mut out: [Option<&Arc<DpFlow>>; N] = [None; N];
    let (stats, smc_hits) = classifier.lookup_batch_cached(&refs[..m], &hashes[..m], &mut out[..m]);
    counts.mask_hit += stats.masks_visited;
    // Like OVS, signature-cache hits count as cache hits.
    counts.cache_hit += smc_hits;
    let mut misses = 0;
    for (&i, f) in idx[..m].iter().zip(out) {
        let i = usize::from(i);
        match f.filter(|f| f.is_alive()) {
            Some(f) => found[i] = Some(f),
            None => misses |= 1 << i,
        }
    }
    misses
}

/// The packets of one flow in a batch: a list threaded through `next`.
struct Group<'t> {
    flow: &'t DpFlow,
    first: u8,
    last: u8,
    n: u32,
    bytes: u32,
    tcp_flags: u16,
}

/// Stage 5: groups the packets by flow, counts each flow once and runs
/// its actions.
#[allow(clippy::too_many_arguments)]
fn execute<'k>(
    sink: &mut DpSink<'k>,
    now: u64,
    batch: &mut Batch,
    n: usize,
    keys: &'k [PacketKey; N],
    found: &[Option<&Arc<DpFlow>>; N],
    md: BatchMd<'_>,
    spare: &mut Pkt,
) {
    // The flows' first lines (counters, single output) for every packet.
    for f in found[..n].iter().flatten() {
        crate::sys::prefetch(&***f);
    }
    let mut groups: [Option<Group<'_>>; N] = [const { None }; N];
    let mut n_groups = 0;
    let mut next = [0u8; N];
    for i in 0..n {
        let Some(f) = found[i] else { continue };
        let f: &DpFlow = f;
        let len = batch.packets()[i].len() as u32;
        // tcp_flags: the top 16 bits of the protocol word.
        let tcp_flags = (keys[i].key().words()[W_PROTO] >> 48) as u16;
        // The latest groups first: packets of one flow tend to come
        // together.
        let g = groups[..n_groups]
            .iter_mut()
            .rev()
            .flatten()
            .find(|g| std::ptr::eq(g.flow, f));
        match g {
            Some(g) => {
                next[usize::from(g.last)] = i as u8;
                g.last = i as u8;
                g.n += 1;
                g.bytes += len;
                g.tcp_flags |= tcp_flags;
            }
            None => {
                groups[n_groups] = Some(Group {
                    flow: f,
                    first: i as u8,
                    last: i as u8,
                    n: 1,
                    bytes: len,
                    tcp_flags,
                });
                n_groups += 1;
            }
        }
    }
    for g in groups[..n_groups].iter().flatten() {
        g.flow
            .stats()
            .add(u64::from(g.n), u64::from(g.bytes), g.tcp_flags, now);
        // A reassembled packet is cut back into fragments on output (the
        // sink's `output`), so it does not take the shortcut.
        if let Some(port) = g.flow.single_output().filter(|_| !md.any_mru()) {
            // The common case: the packets move to the port's transmit
            // batch, no copy, and the action list is not even read.
            // Offload metadata (a vnet header) moves with the buffer; the
            // output port finishes what it must.
            if g.n as usize == batch.len() {
                sink.tx.push_batch(sink.shared, port, batch);
                return;
            }
            let mut i = usize::from(g.first);
            for _ in 0..g.n {
                sink.tx
                    .push_move(sink.shared, port, &mut batch.packets_mut()[i]);
                i = usize::from(next[i]);
            }
            continue;
        }
        let actions = g.flow.actions().load();
        let mut keeps_offloads = None;
        let mut i = usize::from(g.first);
        for _ in 0..g.n {
            let pkt = &mut batch.packets_mut()[i];
            // Actions that rewrite headers would break a checksum left to
            // finish or a segment left to cut: finish those in software
            // first (see `port::keeps_offloads`).
            let mut segs = Vec::new();
            let finish = pkt.vnet.is_some()
                && !*keeps_offloads.get_or_insert_with(|| crate::port::keeps_offloads(&actions));
            if !finish || netdev::offload::finish_in_software(pkt, &mut segs).is_ok() {
                std::mem::swap(&mut spare.0, pkt);
                spare.2 = md.mru(i);
                // The offsets hold unless finishing offloads changed the
                // packet.
                spare.1 = if segs.is_empty() && !finish {
                    keys[i].layers()
                } else {
                    None
                };
                let mut m = md.of(i);
                odp::execute::execute(spare, &mut m, &actions, sink, 0);
                std::mem::swap(&mut spare.0, &mut batch.packets_mut()[i]);
                for seg in segs {
                    let mut m = md.of(i);
                    odp::execute::execute(&mut Pkt(seg, None, 0), &mut m, &actions, sink, 0);
                }
            }
            i = usize::from(next[i]);
        }
    }
}

/// Stage 6: a miss upcall for each packet of `misses` (or a lost count
/// when no one listens).
fn miss(
    shared: &Shared,
    listen: bool,
    batch: &mut Batch,
    keys: &[PacketKey; N],
    md: &BatchMd<'_>,
    misses: u32,
) {
    for i in indices(misses) {
        if !listen {
            shared.upcalls.count_lost(1);
            continue;
        }
        let flow = keys[i].key().to_flow();
        let pkt = &mut batch.packets_mut()[i];
        if pkt.vnet.is_some() {
            // Upcalls carry finished packets, as the kernel's do: checksum
            // completed, a large segment cut into frames.
            let mut segs = Vec::new();
            if netdev::offload::finish_in_software(pkt, &mut segs).is_ok() {
                shared
                    .upcalls
                    .queue(UpcallKind::Miss, pkt.data(), &flow, None, 0, 0);
                for s in &segs {
                    shared
                        .upcalls
                        .queue(UpcallKind::Miss, s.data(), &flow, None, 0, 0);
                }
            }
            continue;
        }
        shared
            .upcalls
            .queue(UpcallKind::Miss, pkt.data(), &flow, None, 0, md.mru(i));
    }
}

/// Runs `actions` on one packet outside any poll thread (a dpif
/// `execute`), then whatever it recirculates, looking those up in the
/// control plane's table. Runs on the caller's thread.
pub fn execute_one(
    shared: &Shared,
    packet: &[u8],
    md: Flow,
    mru: u16,
    actions: &[odp::action::Action],
) {
    let mut tx = TxPorts::new(0);
    let mut rng = Rng::new(now_ms());
    let mut recirc = Vec::new();
    let mut sink = DpSink {
        shared,
        tx: &mut tx,
        recirc: &mut recirc,
        rng: &mut rng,
    };
    let mut pkt = Pkt(netdev::Packet::from_slice(packet), None, mru);
    let mut m = md;
    odp::execute::execute(&mut pkt, &mut m, actions, &mut sink, 0);
    for _ in 0..MAX_RECIRC {
        if sink.recirc.is_empty() {
            break;
        }
        let pending = std::mem::take(sink.recirc);
        for (mut p, mut md) in pending {
            let flow = odp::extract::extract(p.0.data(), &md);
            match shared.lookup_control(&flow) {
                Some(f) => {
                    f.stats().add(1, p.0.len() as u64, flow.tcp_flags, now_ms());
                    let actions = f.actions().load();
                    let mut s = DpSink {
                        shared,
                        tx: sink.tx,
                        recirc: sink.recirc,
                        rng: sink.rng,
                    };
                    odp::execute::execute(&mut p, &mut md, &actions, &mut s, 0);
                }
                None if shared.listen().miss => {
                    shared
                        .upcalls
                        .queue(UpcallKind::Miss, p.0.data(), &flow, None, 0, p.2);
                }
                None => shared.upcalls.count_lost(1),
            }
        }
    }
    sink.tx.flush();
}
