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
//! the cache then the classifier, group the packets by flow, count each
//! flow's statistics once, execute the flow's actions per packet, collect
//! outputs into per-port transmit batches, and send each of those once.
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
    /// Install a flow.
    AddFlow(Arc<DpFlow>),
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

    fn upcall(&mut self, kind: UpcallKind, packet: &[u8], userdata: Option<Vec<u8>>) {
        let key = odp::convert::flow_to_key(&self.orig, &odp::convert::KeyParms::all());
        let ufid = dpif::ufid::from_key(&key);
        let hash = (ufid.0 as u32) ^ ((ufid.0 >> 64) as u32);
        let up = Upcall {
            kind,
            packet: packet.to_vec(),
            key,
            ufid,
            userdata,
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
        t.batch.push_copy(&data[..len]);
    }

    fn userspace(&mut self, action: &Userspace, packet: &Pkt, _md: &Flow) {
        if self.shared.listen().action {
            self.upcall(UpcallKind::Action, packet.data(), action.userdata.clone());
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

/// One poll thread's state.
struct Pmd {
    id: usize,
    shared: Arc<Shared>,
    updates: Receiver<Update>,
    signal: Arc<RxSignal>,
    rx_ports: Vec<Arc<Port>>,
    /// Whether every polled queue notifies `signal` (else idle waits are short).
    all_signaled: bool,
    tx: Vec<TxPort>,
    classifier: Classifier<Arc<DpFlow>>,
    emc: Emc<Arc<DpFlow>>,
    exit: bool,
    rng: u64,
    /// Scratch: the flows of the batch being processed.
    flows: Box<[Flow; netdev::BATCH_SIZE]>,
    /// Scratch: the batch's packets grouped by flow.
    groups: Vec<Group>,
    /// Scratch buffer the executor works in (swapped with batch slots).
    spare: Pkt,
}

/// Packets of one batch that hit the same flow.
struct Group {
    flow: Arc<DpFlow>,
    members: [u8; netdev::BATCH_SIZE],
    n: usize,
    bytes: u64,
    tcp_flags: u16,
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
            tx: Vec::new(),
            classifier: Classifier::new(),
            emc: Emc::new(),
            exit: false,
            rng: 0x9e37_79b9_7f4a_7c15 ^ (id as u64 + 1),
            flows: Box::new([Flow::default(); netdev::BATCH_SIZE]),
            groups: Vec::with_capacity(netdev::BATCH_SIZE),
            spare: Pkt::default(),
        }
    }

    fn apply_updates(&mut self) {
        while let Ok(u) = self.updates.try_recv() {
            match u {
                Update::AddPort(p) => {
                    for q in 0..p.netdev.n_rxq() {
                        if !p.netdev.attach_rx_signal(q, self.signal.clone()) {
                            self.all_signaled = false;
                        }
                    }
                    self.rx_ports.retain(|x| x.no != p.no);
                    self.rx_ports.push(p);
                }
                Update::DelPort(no) => {
                    self.rx_ports.retain(|x| x.no != no);
                    self.tx.retain(|t| t.port.no != no);
                }
                Update::AddFlow(f) => {
                    let _ = self
                        .classifier
                        .insert_key(&f.packed_key(), f.packed_mask(), f.clone());
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
                self.classifier.sort_subtables();
                self.emc.sweep(64);
            }
            if got == 0 {
                let timeout = if self.all_signaled && !self.shared.busy_poll.load(Ordering::Relaxed)
                {
                    Duration::from_millis(100)
                } else {
                    Duration::from_micros(200)
                };
                self.signal.wait_since(gen, timeout);
            }
        }
    }

    /// Handles one received batch from port `in_port`.
    fn process(&mut self, batch: &mut Batch, in_port: PortNo) {
        let md = Flow {
            in_port: in_port.0,
            ..Flow::default()
        };
        let mut recirc = Vec::new();
        self.process_with(batch, |_| &md, &mut recirc);
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
                self.process_with(&mut b, |i| &chunk[i].1, &mut recirc);
            }
        }
    }

    /// Looks up, counts and executes one batch; `md_of(i)` is packet `i`'s
    /// metadata. Runs on the poll thread: no locks, no allocation except
    /// for upcalls and packet copies made by actions.
    fn process_with<'m>(
        &mut self,
        batch: &mut Batch,
        md_of: impl Fn(usize) -> &'m Flow,
        recirc: &mut Vec<(Pkt, Flow)>,
    ) {
        let shared = self.shared.clone();
        let drop_frags = shared.drop_frags.load(Ordering::Relaxed);
        let sample_prob = shared.sflow_probability.load(Ordering::Relaxed);
        let listen = shared.listen();
        let now = now_ms();
        let mut groups = std::mem::take(&mut self.groups);
        groups.clear();
        let mut n_hit = 0u64;
        let mut n_missed = 0u64;
        let mut n_cache_hit = 0u64;
        let mut n_mask_hit = 0u64;
        let mut misses: [u8; netdev::BATCH_SIZE] = [0; netdev::BATCH_SIZE];
        let mut n_misses = 0;
        let n = batch.len().min(netdev::BATCH_SIZE);

        for i in 0..n {
            let pkt = &batch.packets()[i];
            self.flows[i] = odp::extract::extract(pkt.data(), md_of(i));
            let sampled = sample_prob != 0
                && listen.sample
                && (sample_prob == u32::MAX || self.random() < sample_prob);
            let flow = &self.flows[i];
            if drop_frags && flow.nw_frag != 0 {
                continue;
            }
            if sampled {
                let mut tx = Vec::new();
                let mut s = DpSink {
                    shared: &shared,
                    tx: &mut tx,
                    recirc: Vec::new(),
                    orig: *flow,
                    txq: 0,
                    rng: 1,
                };
                s.upcall(UpcallKind::Sample, pkt.data(), None);
            }
            let key = FlowKey::new(flow);
            let hash = key.emc_hash();
            let hit = match self.emc.lookup(&key, hash) {
                Some(f) => {
                    n_cache_hit += 1;
                    Some(f)
                }
                None => {
                    let (found, visited) = self.classifier.lookup_key(&key);
                    n_mask_hit += visited as u64;
                    match found.filter(|f| f.is_alive()) {
                        Some(f) => {
                            self.emc.maybe_insert(&key, hash, f);
                            self.emc.lookup(&key, hash).or(Some(f))
                        }
                        None => None,
                    }
                }
            };
            let Some(f) = hit else {
                n_missed += 1;
                misses[n_misses] = i as u8;
                n_misses += 1;
                continue;
            };
            n_hit += 1;
            let len = pkt.len() as u64;
            let tcp_flags = flow.tcp_flags;
            match groups.iter_mut().find(|g| Arc::ptr_eq(&g.flow, f)) {
                Some(g) => {
                    g.members[g.n] = i as u8;
                    g.n += 1;
                    g.bytes += len;
                    g.tcp_flags |= tcp_flags;
                }
                None => {
                    let mut members = [0u8; netdev::BATCH_SIZE];
                    members[0] = i as u8;
                    groups.push(Group {
                        flow: f.clone(),
                        members,
                        n: 1,
                        bytes: len,
                        tcp_flags,
                    });
                }
            }
        }

        let mut tx = std::mem::take(&mut self.tx);
        {
            let mut sink = DpSink {
                shared: &shared,
                tx: &mut tx,
                recirc: std::mem::take(recirc),
                orig: Flow::default(),
                txq: self.id,
                rng: self.rng,
            };
            for g in &groups {
                g.flow.stats().add(g.n as u64, g.bytes, g.tcp_flags, now);
                let actions = g.flow.actions().load();
                for &i in &g.members[..g.n] {
                    let i = usize::from(i);
                    std::mem::swap(&mut self.spare.0, &mut batch.packets_mut()[i]);
                    // The extracted flow doubles as the packet's metadata:
                    // set actions on metadata edit this scratch copy.
                    let md = &mut self.flows[i];
                    odp::execute::execute(&mut self.spare, md, &actions, &mut sink, 0);
                    std::mem::swap(&mut self.spare.0, &mut batch.packets_mut()[i]);
                }
            }
            for &i in &misses[..n_misses] {
                let i = usize::from(i);
                sink.orig = self.flows[i];
                shared.miss(&mut sink, batch.packets()[i].data());
            }
            sink.flush();
            self.rng = sink.rng;
            *recirc = std::mem::take(&mut sink.recirc);
        }
        self.tx = tx;
        groups.clear();
        self.groups = groups;
        shared.count(n_hit, n_missed, n_mask_hit, n_cache_hit);
    }

    fn random(&mut self) -> u32 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }
}

/// Whether a poll thread should spin instead of blocking when idle.
pub type BusyPoll = AtomicBool;
