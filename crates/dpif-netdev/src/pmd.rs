//! Poll threads ("PMD" threads in OVS): the fast path.
//!
//! Each poll thread owns a classifier and an exact-match cache and polls the
//! receive queues of the ports assigned to it. The control plane never
//! touches those structures: it sends [`Update`]s over a channel and wakes
//! the thread; the thread applies them between batches, and again right
//! after each receive, so that a flow installed before a packet was injected
//! is always seen by that packet.
//!
//! Per batch of up to 32 packets: extract each packet's flow, look it up in
//! the exact-match cache (skipped while it rarely hits), then all the
//! misses together in the classifier (signature cache, then subtables),
//! group the packets by flow, count each flow's statistics once, execute
//! the flow's actions per packet (a single output moves the packet's
//! buffer), collect outputs into per-port transmit batches, and send each
//! of those once.
//! Misses become upcalls. Nothing on this path allocates except upcalls
//! and actions that copy packets (clone, sample, flood to several ports
//! copies into recycled buffers).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use dpif::{Upcall, UpcallKind};
use netdev::{Batch, Packet, RxSignal};
use odp::action::{Action, Userspace};
use odp::execute::{PacketBuf, Sink};
use odp::flow::Flow;
use odp::key::{PortNo, RecircId};

use crate::classifier::Classifier;
use crate::dp::Shared;
use crate::emc::Emc;
use crate::flow::{now_ms, DpFlow};
use crate::flowkey::FlowKey;
use crate::port::Port;

/// Most times one packet may recirculate.
const MAX_RECIRC: usize = 6;

/// A change the control plane asks a poll thread to make.
#[derive(Debug)]
pub enum Update {
    /// Start polling a port and allow output to it.
    AddPort(Arc<Port>),
    /// Stop polling a port and sending to it.
    DelPort(PortNo),
    /// Install flows.
    AddFlows(Vec<Arc<DpFlow>>),
    /// Remove a flow.
    DelFlow(Arc<DpFlow>),
    /// Remove every flow.
    Flush,
    /// Leave the loop.
    Exit,
}

/// The control plane's handle on a poll thread.
#[derive(Debug)]
pub struct PmdHandle {
    tx: Sender<Update>,
    signal: Arc<RxSignal>,
    thread: Option<JoinHandle<()>>,
}

impl PmdHandle {
    /// Starts poll thread `id` of the datapath.
    pub fn start(id: usize, shared: Arc<Shared>) -> std::io::Result<PmdHandle> {
        let (tx, rx) = std::sync::mpsc::channel();
        let signal = Arc::new(RxSignal::new());
        let sig = signal.clone();
        let thread = std::thread::Builder::new()
            .name(format!("pmd{id}-{}", shared.name))
            .spawn(move || Pmd::new(id, shared, rx, sig).run())?;
        Ok(PmdHandle {
            tx,
            signal,
            thread: Some(thread),
        })
    }

    /// Sends an update and wakes the thread.
    pub fn send(&self, u: Update) {
        let _ = self.tx.send(u);
        self.signal.notify();
    }

    /// Stops the thread and waits for it.
    pub fn stop(&mut self) {
        self.send(Update::Exit);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for PmdHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A packet buffer the executor edits: a `netdev::Packet`.
#[derive(Clone, Debug, Default)]
pub struct Pkt(pub Packet);

impl PacketBuf for Pkt {
    fn data(&self) -> &[u8] {
        self.0.data()
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self.0.data_mut()
    }
    fn push_front(&mut self, n: usize) {
        self.0.push_front(n);
    }
    fn pull_front(&mut self, n: usize) {
        let _ = self.0.pull_front(n);
    }
    fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }
}

/// A port a poll thread sends to, with its transmit batch.
struct TxPort {
    port: Arc<Port>,
    batch: Batch,
}

/// Where executed packets go: transmit batches, upcalls, recirculation.
/// Shared by poll threads and the control plane's `execute`.
pub struct DpSink<'a> {
    /// The datapath.
    pub shared: &'a Shared,
    /// Transmit batches, by port.
    tx: &'a mut Vec<TxPort>,
    /// Packets to recirculate, with their metadata.
    pub recirc: Vec<(Pkt, Flow)>,
    /// The flow of the packet being executed, as received (for upcall keys).
    pub orig: Flow,
    /// Transmit queue to use.
    txq: usize,
    /// Random state.
    rng: u64,
}

impl<'a> DpSink<'a> {
    fn tx_for(&mut self, port: PortNo) -> Option<&mut TxPort> {
        if let Some(i) = self.tx.iter().position(|t| t.port.no == port) {
            return Some(&mut self.tx[i]);
        }
        // A port not polled by this thread (or added since): look it up.
        let p = self.shared.port(port)?;
        self.tx.push(TxPort {
            port: p,
            batch: Batch::new(),
        });
        self.tx.last_mut()
    }

    /// Sends every pending transmit batch.
    pub fn flush(&mut self) {
        let txq = self.txq;
        for t in self.tx.iter_mut() {
            if !t.batch.is_empty() {
                let n = t.port.netdev.n_txq().max(1);
                let _ = t.port.netdev.send(txq % n, &mut t.batch);
            }
        }
    }

    /// Outputs `packet` to `port` by moving its buffer into the port's
    /// transmit batch (`packet` gets a spare buffer back).
    #[inline]
    fn output_move(&mut self, port: PortNo, packet: &mut Packet) {
        let txq = self.txq;
        let Some(t) = self.tx_for(port) else {
            return;
        };
        if t.batch.is_full() {
            let n = t.port.netdev.n_txq().max(1);
            let _ = t.port.netdev.send(txq % n, &mut t.batch);
        }
        t.batch.push_swap(packet);
    }

    /// Queues an upcall for `packet`, keyed by the flow it arrived with
    /// (`orig`); counted lost, and not even built, when every queue is full.
    pub(crate) fn upcall(
        &mut self,
        kind: UpcallKind,
        packet: &[u8],
        userdata: Option<Vec<u8>>,
        pid: u32,
    ) {
        if self.shared.upcalls.all_full() {
            self.shared.upcalls.count_lost(1);
            return;
        }
        let key = odp::convert::flow_to_key(&self.orig, &odp::convert::KeyParms::all());
        let ufid = dpif::ufid::from_key(&key);
        let hash = (ufid.0 as u32) ^ ((ufid.0 >> 64) as u32);
        let up = Upcall {
            kind,
            packet: packet.to_vec(),
            key,
            ufid,
            userdata,
            pid,
            out_tun_key: None,
            actions: None,
            mru: None,
            hash: None,
        };
        self.shared.upcalls.push(hash, up);
    }
}

impl Sink<Pkt> for DpSink<'_> {
    fn output(&mut self, port: PortNo, packet: &Pkt, _md: &Flow, trunc: Option<u32>) {
        let data = packet.data();
        let len = trunc.map_or(data.len(), |t| (t as usize).min(data.len()));
        let txq = self.txq;
        let Some(t) = self.tx_for(port) else {
            return;
        };
        if t.batch.is_full() {
            let n = t.port.netdev.n_txq().max(1);
            let _ = t.port.netdev.send(txq % n, &mut t.batch);
        }
        // Offload metadata (a vnet header) goes with a whole packet.
        if t.batch.push_copy(&data[..len]) && len == data.len() {
            if let Some(last) = t.batch.packets_mut().last_mut() {
                last.vnet = packet.0.vnet;
            }
        }
    }

    fn userspace(&mut self, action: &Userspace, packet: &Pkt, _md: &Flow) {
        if self.shared.listen().action {
            self.upcall(
                UpcallKind::Action,
                packet.data(),
                action.userdata.clone(),
                action.pid,
            );
        } else {
            self.shared.upcalls.count_lost(1);
        }
    }

    fn recirc(&mut self, _id: RecircId, packet: Pkt, md: &Flow) {
        self.recirc.push((packet, *md));
    }

    fn random(&mut self) -> u32 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    fn meter(&mut self, _id: u32, _packet: &Pkt) -> bool {
        // No meters are configured: every packet passes.
        true
    }

    fn other(&mut self, _action: &Action, _packet: &mut Pkt, _md: &mut Flow) -> bool {
        // Validation keeps unsupported actions out of flows and executes.
        false
    }
}

/// Runs `actions` on one packet outside any poll thread (dpif `execute`).
pub fn execute_one(shared: &Shared, packet: &[u8], md: Flow, actions: &[Action]) {
    let mut tx = Vec::new();
    let orig = odp::extract::extract(packet, &md);
    let mut sink = DpSink {
        shared,
        tx: &mut tx,
        recirc: Vec::new(),
        orig,
        txq: 0,
        rng: now_ms() | 1,
    };
    let mut pkt = Pkt(Packet::from_slice(packet));
    let mut m = md;
    odp::execute::execute(&mut pkt, &mut m, actions, &mut sink, 0);
    sink.flush();
    // Recirculated packets go through the tables like received ones, on
    // this thread.
    let mut pending = std::mem::take(&mut sink.recirc);
    for _ in 0..MAX_RECIRC {
        if pending.is_empty() {
            break;
        }
        let mut next = Vec::new();
        for (p, md) in pending {
            let flow = odp::extract::extract(p.data(), &md);
            match shared.lookup_control(&flow) {
                Some(f) => {
                    f.stats()
                        .add(1, p.data().len() as u64, flow.tcp_flags, now_ms());
                    let actions = f.actions().load();
                    sink.orig = flow;
                    let mut p = p;
                    let mut m = md;
                    odp::execute::execute(&mut p, &mut m, &actions, &mut sink, 0);
                }
                None => {
                    sink.orig = flow;
                    shared.miss(&mut sink, p.data());
                }
            }
            next.append(&mut sink.recirc);
        }
        sink.flush();
        pending = next;
    }
}

/// Per-batch scratch of a poll thread, kept across batches so that the
/// fast path allocates nothing.
struct Scratch {
    /// The extracted flow of each packet (also its metadata while its
    /// actions run).
    flows: [Flow; netdev::BATCH_SIZE],
    /// Each packet's flow, packed.
    keys: [FlowKey; netdev::BATCH_SIZE],
    /// Each packet's cache hash.
    hashes: [u32; netdev::BATCH_SIZE],
    /// The `keys` whose tunnel words may be nonzero (one bit each).
    tunneled: u32,
}

/// One poll thread's state.
struct Pmd {
    id: usize,
    shared: Arc<Shared>,
    updates: Receiver<Update>,
    signal: Arc<RxSignal>,
    rx_ports: Vec<Arc<Port>>,
    /// Whether every polled queue notifies `signal` or has a descriptor in
    /// `poller` (else idle waits are short).
    all_signaled: bool,
    /// Idle waits on kernel-backed queues: see `idle_wait`.
    kwait: KernelWait,
    tx: Vec<TxPort>,
    classifier: Classifier<Arc<DpFlow>>,
    emc: Emc<Arc<DpFlow>>,
    exit: bool,
    rng: u64,
    scratch: Box<Scratch>,
    /// Scratch buffer the executor works in (swapped with batch slots).
    spare: Pkt,
    /// Adaptive use of the exact-match cache (see [`EmcUse`]).
    emc_use: EmcUse,
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
struct EmcUse {
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

    /// Re-decides from the counts since the last call.
    fn review(&mut self) {
        if self.lookups >= 1000 {
            self.off = self.hits * 100 < self.lookups * EMC_MIN_HIT_PCT;
        }
        self.lookups = 0;
        self.hits = 0;
    }
}

/// Packets of one batch that hit the same flow: a chain through
/// `next` from `first`, with their total size and TCP flags.
#[derive(Clone, Copy)]
struct Group<'a> {
    flow: &'a DpFlow,
    first: u8,
    last: u8,
    n: u8,
    bytes: u32,
    tcp_flags: u16,
}

/// xorshift64*: the next pseudo-random 32-bit number of `state`.
#[inline]
fn next_random(state: &mut u64) -> u32 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
}

/// Whether an event of probability `1 / inv_prob` happens, given the
/// random number `r` (0 never, 1 always).
#[inline]
fn one_in(inv_prob: u32, r: u32) -> bool {
    match inv_prob {
        0 => false,
        1 => true,
        p => (u64::from(r) * u64::from(p)) >> 32 == 0,
    }
}

impl Pmd {
    fn new(
        id: usize,
        shared: Arc<Shared>,
        updates: Receiver<Update>,
        signal: Arc<RxSignal>,
    ) -> Pmd {
        Pmd {
            id,
            shared,
            updates,
            signal,
            rx_ports: Vec::new(),
            all_signaled: true,
            kwait: KernelWait::default(),
            tx: Vec::new(),
            classifier: {
                let mut c = Classifier::new();
                c.enable_smc();
                c
            },
            emc: Emc::new(),
            exit: false,
            rng: 0x9e37_79b9_7f4a_7c15 ^ (id as u64 + 1),
            scratch: Box::new(Scratch {
                flows: [Flow::default(); netdev::BATCH_SIZE],
                keys: std::array::from_fn(|_| FlowKey::default()),
                hashes: [0; netdev::BATCH_SIZE],
                tunneled: 0,
            }),
            spare: Pkt::default(),
            emc_use: EmcUse::default(),
        }
    }
    fn apply_updates(&mut self) {
        while let Ok(u) = self.updates.try_recv() {
            match u {
                Update::AddPort(p) => {
                    for old in self.rx_ports.iter().filter(|x| x.no == p.no) {
                        self.kwait.unwatch(&*old.netdev);
                    }
                    for q in 0..p.netdev.n_rxq() {
                        if !p.netdev.attach_rx_signal(q, self.signal.clone())
                            && !self.kwait.watch(&self.signal, &*p.netdev, q)
                        {
                            self.all_signaled = false;
                        }
                    }
                    self.rx_ports.retain(|x| x.no != p.no);
                    self.rx_ports.push(p);
                }
                Update::DelPort(no) => {
                    for p in self.rx_ports.iter().filter(|x| x.no == no) {
                        self.kwait.unwatch(&*p.netdev);
                    }
                    self.rx_ports.retain(|x| x.no != no);
                    self.tx.retain(|t| t.port.no != no);
                }
                Update::AddFlows(flows) => {
                    for f in flows {
                        let key = f.packed_key();
                        let mask = f.packed_mask().clone();
                        let _ = self.classifier.insert_key(&key, &mask, f);
                    }
                }
                Update::DelFlow(f) => {
                    let key = f.packed_key();
                    if let Some(old) = self.classifier.get(&key, f.packed_mask()) {
                        if Arc::ptr_eq(old, &f) {
                            self.classifier.remove_key(&key, f.packed_mask());
                        }
                    }
                }
                Update::Flush => {
                    self.classifier.clear();
                    self.emc.clear();
                }
                Update::Exit => self.exit = true,
            }
        }
    }

    fn run(mut self) {
        let mut batch = Batch::new();
        let mut polls = 0u64;
        let mut next_sort = 0u64;
        loop {
            self.apply_updates();
            if self.exit {
                break;
            }
            let gen = self.signal.generation();
            let mut got = 0;
            for i in 0..self.rx_ports.len() {
                let port = self.rx_ports[i].clone();
                for q in 0..port.netdev.n_rxq() {
                    batch.clear();
                    match port.netdev.rxq_recv(q, &mut batch) {
                        Ok(0) => {}
                        Ok(n) => {
                            got += n;
                            self.apply_updates();
                            self.process(&mut batch, port.no);
                        }
                        Err(e) => {
                            log::warn!("{}: receive on {} failed: {e}", self.shared.name, port.name)
                        }
                    }
                }
            }
            polls += 1;
            if polls & 63 == 0 {
                self.emc.sweep(64);
                // Re-rank the subtables once a second (as OVS does): more
                // often, equally busy subtables trade places on noise, and
                // every change of order empties the signature cache.
                let now = now_ms();
                if now >= next_sort {
                    self.classifier.sort_subtables();
                    self.emc_use.review();
                    next_sort = now + 1000;
                }
            }
            if got == 0 {
                self.idle_wait(gen);
            }
        }
    }

    /// Waits, with nothing received in the last round, until a queue may
    /// have packets or an update comes (`gen`: the signal's generation read
    /// before polling).
    ///
    /// With kernel-backed queues (sockets, taps) the thread blocks in epoll
    /// on their descriptors together with the signal's eventfd, so an idle
    /// switch sleeps; with busy polling it does not wait at all. With only
    /// in-memory queues it waits on the signal as before.
    fn idle_wait(&mut self, gen: u64) {
        let busy = self.shared.busy_poll.load(Ordering::Relaxed);
        if let Some(poller) = self.kwait.poller.as_mut().filter(|_| self.kwait.n_fds > 0) {
            if busy {
                std::hint::spin_loop();
                return;
            }
            let timeout = if self.all_signaled {
                Duration::from_millis(100)
            } else {
                Duration::from_micros(200)
            };
            if let Err(e) = poller.wait(Some(timeout), |_| {}) {
                log::warn!("{}: poll thread wait failed: {e}", self.shared.name);
                std::thread::sleep(Duration::from_millis(1));
            }
            // Notifications from now on make the eventfd readable again;
            // earlier ones are seen by the next round of polling.
            self.signal.clear_wake_fd();
            return;
        }
        let timeout = if self.all_signaled && !busy {
            Duration::from_millis(100)
        } else {
            Duration::from_micros(200)
        };
        self.signal.wait_since(gen, timeout);
    }

    /// Handles one received batch from port `in_port`.
    fn process(&mut self, batch: &mut Batch, in_port: PortNo) {
        let md = Flow {
            in_port: in_port.0,
            ..Flow::default()
        };
        let mut recirc = Vec::new();
        self.process_with(batch, |_| &md, true, &mut recirc);
        for _ in 0..MAX_RECIRC {
            if recirc.is_empty() {
                break;
            }
            let pending = std::mem::take(&mut recirc);
            for chunk in pending.chunks(netdev::BATCH_SIZE) {
                let mut b = Batch::new();
                for (p, _) in chunk {
                    b.push_copy(p.data());
                }
                self.process_with(&mut b, |i| &chunk[i].1, false, &mut recirc);
            }
        }
    }

    /// Looks up, counts and executes one batch; `md_of(i)` is packet `i`'s
    /// metadata. Runs on the poll thread: no locks, no allocation except
    /// for upcalls and packet copies made by actions.
    ///
    /// Four passes: extract, pack and look every packet up in the cache;
    /// look the cache misses up in the classifier together (their memory
    /// reads overlap); group the packets by flow; run each group's actions
    /// (counting its statistics once). Flows are only borrowed from the
    /// lookup tables, never cloned, until the cache insertions at the end.
    ///
    /// `untunneled` says that no packet's metadata has tunnel fields.
    fn process_with<'m>(
        &mut self,
        batch: &mut Batch,
        md_of: impl Fn(usize) -> &'m Flow,
        untunneled: bool,
        recirc: &mut Vec<(Pkt, Flow)>,
    ) {
        const N: usize = netdev::BATCH_SIZE;
        let Pmd {
            id,
            shared,
            tx,
            classifier,
            emc,
            rng,
            scratch,
            spare,
            emc_use,
            ..
        } = self;
        let use_emc = emc_use.use_now();
        let shared: &Shared = shared;
        let Scratch {
            flows,
            keys,
            hashes,
            tunneled,
        } = &mut **scratch;
        let drop_frags = shared.drop_frags.load(Ordering::Relaxed);
        let sample_prob = shared.sflow_probability.load(Ordering::Relaxed);
        let listen = shared.listen();
        let now = now_ms();
        let n = batch.len().min(N);
        let mut n_cache_hit = 0u64;
        let mut n_mask_hit = 0u64;
        let mut found: [Option<&Arc<DpFlow>>; N] = [None; N];
        // Packets the cache did not know (indices).
        let mut pending = [0u8; N];
        let mut n_pending = 0;

        // Pass 1: extract and pack every packet; touch its cache slots.
        let mut live: u32 = 0;
        let mut touched = 0u32;
        for i in 0..n {
            let pkt = &batch.packets()[i];
            odp::extract::extract_into(pkt.data(), md_of(i), &mut flows[i]);
            let flow = &flows[i];
            if sample_prob != 0
                && listen.sample
                && (sample_prob == u32::MAX || next_random(rng) < sample_prob)
            {
                let mut no_tx = Vec::new();
                let mut s = DpSink {
                    shared,
                    tx: &mut no_tx,
                    recirc: Vec::new(),
                    orig: *flow,
                    txq: 0,
                    rng: 1,
                };
                s.upcall(UpcallKind::Sample, pkt.data(), None, 0);
            }
            if drop_frags && flow.nw_frag != 0 {
                continue;
            }
            live |= 1 << i;
            let key = &mut keys[i];
            if untunneled {
                // Received packets carry no tunnel metadata: skip packing
                // (and re-zeroing) the 41 tunnel words.
                if *tunneled & (1 << i) != 0 {
                    key.clear_tunnel();
                    *tunneled &= !(1 << i);
                }
                key.repack_untunneled(flow);
            } else {
                key.repack(flow);
                *tunneled |= 1 << i;
            }
            let h = key.emc_hash();
            hashes[i] = h;
            if use_emc {
                touched ^= emc.touch(h);
            }
        }
        std::hint::black_box(touched);

        // Pass 1b: the exact-match cache.
        let mut bits = live;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let hit = if use_emc {
                emc.lookup(&keys[i], hashes[i])
            } else {
                None
            };
            match hit {
                Some(f) => {
                    found[i] = Some(f);
                    n_cache_hit += 1;
                }
                None => {
                    pending[n_pending] = i as u8;
                    n_pending += 1;
                }
            }
        }
        if use_emc {
            emc_use.lookups += u64::from(live.count_ones());
            emc_use.hits += n_cache_hit;
        }

        // Pass 2: the classifier, for every cache miss at once.
        let mut misses = [0u8; N];
        let mut n_misses = 0;
        let mut emc_new: [Option<Arc<DpFlow>>; N] = Default::default();
        if n_pending > 0 {
            let refs: [&FlowKey; N] =
                std::array::from_fn(|j| &keys[usize::from(pending[j.min(n_pending - 1)])]);
            let hs: [u32; N] = std::array::from_fn(|j| hashes[usize::from(pending[j])]);
            let mut out: [Option<&Arc<DpFlow>>; N] = [None; N];
            let (stats, smc_hits) = classifier.lookup_batch_cached(
                &refs[..n_pending],
                &hs[..n_pending],
                &mut out[..n_pending],
            );
            n_mask_hit = stats.masks_visited;
            // Like OVS, signature-cache hits count as cache hits.
            n_cache_hit += smc_hits;
            let inv_prob = if use_emc { emc.insert_inv_prob() } else { 0 };
            for (&i, f) in pending[..n_pending].iter().zip(out) {
                let i = usize::from(i);
                match f.filter(|f| f.is_alive()) {
                    Some(f) => {
                        found[i] = Some(f);
                        if one_in(inv_prob, next_random(rng)) {
                            emc_new[i] = Some(f.clone());
                        }
                    }
                    None => {
                        misses[n_misses] = i as u8;
                        n_misses += 1;
                    }
                }
            }
        }

        // Pass 3: group the packets by flow.
        let mut groups: [Option<Group<'_>>; N] = [None; N];
        let mut n_groups = 0;
        let mut next = [0u8; N];
        let mut n_hit = 0u64;
        for i in 0..n {
            let Some(f) = found[i] else { continue };
            let f: &DpFlow = f;
            n_hit += 1;
            let len = batch.packets()[i].len() as u32;
            let tcp_flags = flows[i].tcp_flags;
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

        // Pass 4: count and execute, group by group.
        let mut sink = DpSink {
            shared,
            tx,
            recirc: std::mem::take(recirc),
            orig: Flow::default(),
            txq: *id,
            rng: *rng,
        };
        for g in groups[..n_groups].iter().flatten() {
            g.flow
                .stats()
                .add(u64::from(g.n), u64::from(g.bytes), g.tcp_flags, now);
            let mut i = usize::from(g.first);
            if let Some(port) = g.flow.single_output() {
                // The common case: the packets move to the port's
                // transmit batch, no copy, and the action list is not
                // even read. Offload metadata (a vnet header) moves with
                // the buffer; the output port finishes what it must.
                for _ in 0..g.n {
                    sink.output_move(port, &mut batch.packets_mut()[i]);
                    i = usize::from(next[i]);
                }
                continue;
            }
            let actions = g.flow.actions().load();
            let mut keeps_offloads = None;
            for _ in 0..g.n {
                // Actions that rewrite headers would break a checksum left
                // to finish or a segment left to cut: finish those in
                // software first (see `port::keeps_offloads`).
                let mut segs = Vec::new();
                let mut md0 = None;
                let mut ok = true;
                if batch.packets()[i].vnet.is_some()
                    && !*keeps_offloads.get_or_insert_with(|| crate::port::keeps_offloads(&actions))
                {
                    md0 = Some(flows[i]);
                    ok =
                        netdev::offload::finish_in_software(&mut batch.packets_mut()[i], &mut segs)
                            .is_ok();
                }
                if ok {
                    std::mem::swap(&mut spare.0, &mut batch.packets_mut()[i]);
                    // The extracted flow doubles as the packet's metadata:
                    // set actions on metadata edit this scratch copy.
                    odp::execute::execute(spare, &mut flows[i], &actions, &mut sink, 0);
                    std::mem::swap(&mut spare.0, &mut batch.packets_mut()[i]);
                    if let Some(md0) = md0 {
                        for seg in segs {
                            let mut md = md0;
                            odp::execute::execute(&mut Pkt(seg), &mut md, &actions, &mut sink, 0);
                        }
                    }
                }
                i = usize::from(next[i]);
            }
        }
        for &i in &misses[..n_misses] {
            let i = usize::from(i);
            sink.orig = flows[i];
            let pkt = &mut batch.packets_mut()[i];
            if pkt.vnet.is_some() {
                // Upcalls carry finished packets, as the kernel's do:
                // checksum completed, a large segment cut into frames.
                let mut segs = Vec::new();
                if netdev::offload::finish_in_software(pkt, &mut segs).is_ok() {
                    shared.miss(&mut sink, pkt.data());
                    for s in &segs {
                        shared.miss(&mut sink, s.data());
                    }
                }
                continue;
            }
            shared.miss(&mut sink, pkt.data());
        }
        sink.flush();
        *rng = sink.rng;
        *recirc = std::mem::take(&mut sink.recirc);
        drop(sink);
        shared.count(n_hit, n_misses as u64, n_mask_hit, n_cache_hit);

        // Cache the flows the classifier found (a sample of them).
        for (i, f) in emc_new.iter_mut().enumerate() {
            if let Some(f) = f.take() {
                emc.insert(&keys[i], hashes[i], f);
            }
        }
    }
}

/// Whether a poll thread should spin instead of blocking when idle.
pub type BusyPoll = AtomicBool;

/// A poll thread's epoll set over its kernel-backed receive queues and its
/// signal's eventfd, made when the first such queue arrives.
#[derive(Default)]
struct KernelWait {
    poller: Option<netdev::Poller>,
    /// Queue descriptors registered.
    n_fds: usize,
}

impl KernelWait {
    /// Token of the signal's eventfd.
    const SIGNAL: u64 = u64::MAX;

    /// Registers queue `q` of `dev` if it has a descriptor; returns whether
    /// the thread will now wake for it.
    fn watch(&mut self, signal: &RxSignal, dev: &dyn netdev::Netdev, q: usize) -> bool {
        let Some(fd) = dev.rx_fd(q) else {
            return false;
        };
        if self.poller.is_none() {
            let p = netdev::Poller::new().and_then(|p| {
                p.add(signal.wake_fd()?, KernelWait::SIGNAL)?;
                Ok(p)
            });
            match p {
                Ok(p) => self.poller = Some(p),
                Err(e) => {
                    log::warn!("{}: no epoll set, polling instead: {e}", dev.name());
                    return false;
                }
            }
        }
        let Some(p) = &self.poller else { return false };
        match p.add(fd, q as u64) {
            Ok(()) => {
                self.n_fds += 1;
                true
            }
            Err(e) => {
                log::warn!("{}: cannot wait for queue {q}: {e}", dev.name());
                false
            }
        }
    }

    /// Unregisters every queue of `dev`.
    fn unwatch(&mut self, dev: &dyn netdev::Netdev) {
        let Some(p) = &self.poller else { return };
        for q in 0..dev.n_rxq() {
            if let Some(fd) = dev.rx_fd(q) {
                if p.remove(fd).is_ok() {
                    self.n_fds -= 1;
                }
            }
        }
    }
}
