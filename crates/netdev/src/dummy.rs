//! The `dummy` netdev: an in-memory port for tests and benchmarks.
//!
//! - **Receive**: tests and the datapath put packets on a receive queue
//!   with [`DummyNetdev::inject`]. A queue holds at most `rx_queue_len`
//!   packets; an injection into a full queue is dropped and counted in
//!   `rx_dropped`. A queue can also *generate* packets endlessly (or a given
//!   number of times) from a list of templates
//!   ([`DummyNetdev::set_generator`]), copying them in turn into the
//!   batch's recycled buffers: a load source for benchmarks that allocates
//!   nothing per packet.
//! - **Transmit**: transmitted packets go to a per-queue log of at most
//!   `tx_log_len` packets, read with [`DummyNetdev::take_sent`]; a send
//!   into a full log drops the packet and counts it in `tx_dropped`. With
//!   `tx_discard=true` packets are only counted (for benchmarks). Frames
//!   shorter than an Ethernet header or longer than the MTU allows (MTU +
//!   14, + 4 for a VLAN-tagged frame) are dropped and counted in
//!   `tx_dropped`.
//!
//! # Options
//!
//! | key            | value                  | default          |
//! |----------------|------------------------|------------------|
//! | `n_rxq`        | 1..=64, at creation    | 1                |
//! | `n_txq`        | 1..=64, at creation    | 1                |
//! | `rx_queue_len` | 1..=1048576            | 1024             |
//! | `tx_log_len`   | 0..=1048576            | 1024             |
//! | `tx_discard`   | `true` / `false`       | `false`          |
//! | `mac`          | `xx:xx:xx:xx:xx:xx`    | `aa:55:00:00:00:NN` |
//! | `mtu`          | 68..=65535             | 1500             |
//! | `rx_hold`      | `true` / `false`       | `false`          |
//!
//! With `rx_hold=true` the receive queues report that they hold their
//! packets while unpolled ([`Netdev::rx_holds`]): a generator then waits
//! while the datapath cannot take more misses, as a benchmark measuring
//! flow setup wants (no miss lost because the generator ran ahead).
//!
//! # Buffers
//!
//! Injected packets are copied into buffers from a per-queue free list;
//! receive swaps them into the caller's batch and keeps the batch's spare
//! buffers in exchange (see [`crate::packet`]), so a steady
//! inject/receive cycle allocates nothing once warm. Transmitting with
//! `tx_discard=true` allocates nothing either; the transmit log, meant for
//! tests, hands the sender a fresh buffer for every packet it keeps once
//! its free list is used up (packets taken with
//! [`DummyNetdev::take_sent`] do not come back).

use std::any::Any;
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::{
    bad_queue, next_local_mac, opt, Batch, MacAddr, Netdev, NetdevStats, Packet, RxSignal,
    StatsCounters,
};

/// Default receive queue bound.
pub const DEFAULT_RX_QUEUE_LEN: usize = 1024;
/// Default transmit log bound.
pub const DEFAULT_TX_LOG_LEN: usize = 1024;
/// Default MTU.
pub const DEFAULT_MTU: u32 = 1500;

/// Largest accepted queue or log bound.
const MAX_QUEUE_LEN: usize = 1 << 20;
/// Largest number of queues.
const MAX_QUEUES: usize = 64;
/// Ethernet header length.
const ETH_HEADER_LEN: usize = 14;
/// VLAN header length.
const VLAN_HEADER_LEN: usize = 4;

/// Locks `m`, ignoring poisoning: every critical section here leaves its
/// state consistent, so a panic elsewhere does not invalidate it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A template-driven packet source (see [`DummyNetdev::set_generator`]).
struct Generator {
    /// Frames produced in turn.
    templates: Vec<Vec<u8>>,
    /// Index of the next template.
    next: usize,
    /// Packets left to produce; `None` for endless.
    remaining: Option<u64>,
}

/// Mutable state of one receive queue.
#[derive(Default)]
struct RxState {
    /// Injected packets not yet received.
    pending: VecDeque<Packet>,
    /// Recycled buffers for injection.
    free: Vec<Packet>,
    /// Packet generator, if any.
    generator: Option<Generator>,
}

/// One receive queue.
#[derive(Default)]
struct RxQueue {
    /// The queue's packets and buffers.
    state: Mutex<RxState>,
    /// Notified when the queue becomes non-empty; used by `wait_rx`.
    signal: RxSignal,
    /// Further signals to notify (see `attach_rx_signal`).
    attached: Mutex<Vec<Arc<RxSignal>>>,
}

impl RxQueue {
    /// Wakes the waiters of this queue.
    fn notify(&self) {
        self.signal.notify();
        for s in lock(&self.attached).iter() {
            s.notify();
        }
    }
}

/// One transmit queue.
#[derive(Default)]
struct TxQueue {
    /// Transmitted packets not yet taken.
    log: VecDeque<Packet>,
    /// Recycled buffers handed to the sender's batch in exchange for the
    /// packets kept in the log.
    free: Vec<Packet>,
}

/// An in-memory netdev; see the [module documentation](self).
pub struct DummyNetdev {
    /// Device name.
    name: String,
    /// Receive queues.
    rxqs: Vec<RxQueue>,
    /// Transmit queues; each lock serializes sends on its queue.
    txqs: Vec<Mutex<TxQueue>>,
    /// Counters.
    stats: StatsCounters,
    /// MTU.
    mtu: AtomicU32,
    /// Ethernet address, in the low 48 bits.
    mac: AtomicU64,
    /// Receive queue bound.
    rx_queue_len: AtomicUsize,
    /// Transmit log bound.
    tx_log_len: AtomicUsize,
    /// Count transmitted packets without logging them.
    tx_discard: AtomicBool,
    /// Receive queues hold their packets while unpolled.
    rx_hold: AtomicBool,
}

/// Packs an address into the low 48 bits of a `u64`.
fn mac_to_u64(mac: MacAddr) -> u64 {
    mac.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// Unpacks [`mac_to_u64`].
fn u64_to_mac(v: u64) -> MacAddr {
    let b = v.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// Parses `xx:xx:xx:xx:xx:xx`.
fn parse_mac(s: &str) -> Option<MacAddr> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in mac.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(mac)
}

/// Options parsed and validated, before they are applied.
#[derive(Default)]
struct ParsedOptions {
    rx_queue_len: Option<usize>,
    tx_log_len: Option<usize>,
    tx_discard: Option<bool>,
    mac: Option<MacAddr>,
    mtu: Option<u32>,
    rx_hold: Option<bool>,
    n_rxq: Option<usize>,
    n_txq: Option<usize>,
}

impl ParsedOptions {
    /// Parses every option, failing on the first bad one.
    fn parse(dev: &str, options: &[(String, String)]) -> io::Result<ParsedOptions> {
        let mut p = ParsedOptions::default();
        for (k, v) in options {
            match k.as_str() {
                "rx_queue_len" => {
                    p.rx_queue_len = Some(opt::number(dev, k, v, 1, MAX_QUEUE_LEN)?);
                }
                "tx_log_len" => p.tx_log_len = Some(opt::number(dev, k, v, 0, MAX_QUEUE_LEN)?),
                "tx_discard" => p.tx_discard = Some(opt::boolean(dev, k, v)?),
                "mac" => {
                    p.mac = Some(
                        parse_mac(v)
                            .ok_or_else(|| opt::invalid(dev, k, format!("bad address \"{v}\"")))?,
                    )
                }
                "mtu" => p.mtu = Some(opt::number(dev, k, v, 68, 65535)?),
                "rx_hold" => p.rx_hold = Some(opt::boolean(dev, k, v)?),
                "n_rxq" => p.n_rxq = Some(opt::number(dev, k, v, 1, MAX_QUEUES)?),
                "n_txq" => p.n_txq = Some(opt::number(dev, k, v, 1, MAX_QUEUES)?),
                _ => return Err(opt::unknown(dev, k)),
            }
        }
        Ok(p)
    }
}

impl DummyNetdev {
    /// A dummy netdev with one receive and one transmit queue and default
    /// settings.
    pub fn new(name: &str) -> DummyNetdev {
        DummyNetdev::with_queues(name, 1, 1)
    }

    /// A dummy netdev with `n_rxq` receive and `n_txq` transmit queues
    /// (each clamped to 1..=64).
    pub fn with_queues(name: &str, n_rxq: usize, n_txq: usize) -> DummyNetdev {
        let n_rxq = n_rxq.clamp(1, MAX_QUEUES);
        let n_txq = n_txq.clamp(1, MAX_QUEUES);
        DummyNetdev {
            name: name.to_owned(),
            rxqs: (0..n_rxq).map(|_| RxQueue::default()).collect(),
            txqs: (0..n_txq).map(|_| Mutex::default()).collect(),
            stats: StatsCounters::default(),
            mtu: AtomicU32::new(DEFAULT_MTU),
            mac: AtomicU64::new(mac_to_u64(next_local_mac())),
            rx_queue_len: AtomicUsize::new(DEFAULT_RX_QUEUE_LEN),
            tx_log_len: AtomicUsize::new(DEFAULT_TX_LOG_LEN),
            tx_discard: AtomicBool::new(false),
            rx_hold: AtomicBool::new(false),
        }
    }

    /// A dummy netdev configured by `options`, including the creation-time
    /// options `n_rxq` and `n_txq`.
    pub fn from_options(name: &str, options: &[(String, String)]) -> io::Result<DummyNetdev> {
        let p = ParsedOptions::parse(name, options)?;
        let d = DummyNetdev::with_queues(name, p.n_rxq.unwrap_or(1), p.n_txq.unwrap_or(1));
        d.apply(&p)?;
        Ok(d)
    }

    /// Applies validated options.
    fn apply(&self, p: &ParsedOptions) -> io::Result<()> {
        if p.n_rxq.is_some_and(|n| n != self.rxqs.len())
            || p.n_txq.is_some_and(|n| n != self.txqs.len())
        {
            return Err(opt::invalid(
                &self.name,
                "n_rxq/n_txq",
                "queue counts can only be set at creation",
            ));
        }
        if let Some(v) = p.rx_queue_len {
            self.rx_queue_len.store(v, Ordering::Relaxed);
        }
        if let Some(v) = p.tx_log_len {
            self.tx_log_len.store(v, Ordering::Relaxed);
        }
        if let Some(v) = p.tx_discard {
            self.tx_discard.store(v, Ordering::Relaxed);
        }
        if let Some(v) = p.mac {
            self.mac.store(mac_to_u64(v), Ordering::Relaxed);
        }
        if let Some(v) = p.mtu {
            self.mtu.store(v, Ordering::Relaxed);
        }
        if let Some(v) = p.rx_hold {
            self.rx_hold.store(v, Ordering::Relaxed);
        }
        Ok(())
    }

    /// The receive queue `rxq`, or an error.
    fn rxq(&self, rxq: usize) -> io::Result<&RxQueue> {
        self.rxqs
            .get(rxq)
            .ok_or_else(|| bad_queue(&self.name, "receive queue", rxq, self.rxqs.len()))
    }

    /// Puts a copy of `frame` on receive queue `rxq`. Returns `Ok(false)`
    /// if the queue was full: the packet is dropped and counted in
    /// `rx_dropped`. Wakes threads waiting for the queue.
    pub fn inject(&self, rxq: usize, frame: &[u8]) -> io::Result<bool> {
        let q = self.rxq(rxq)?;
        let limit = self.rx_queue_len.load(Ordering::Relaxed);
        let mut st = lock(&q.state);
        if st.pending.len() >= limit {
            drop(st);
            self.stats.add_rx_dropped(1);
            return Ok(false);
        }
        let mut p = st.free.pop().unwrap_or_default();
        p.copy_from(frame);
        let was_empty = st.pending.is_empty();
        st.pending.push_back(p);
        drop(st);
        if was_empty {
            q.notify();
        }
        Ok(true)
    }

    /// Makes receive queue `rxq` produce copies of `templates` in turn
    /// after any injected packets: `count` packets in all, or endlessly if
    /// `count` is `None`. An empty `templates` stops the generator.
    pub fn set_generator(
        &self,
        rxq: usize,
        templates: Vec<Vec<u8>>,
        count: Option<u64>,
    ) -> io::Result<()> {
        let q = self.rxq(rxq)?;
        let generator = (!templates.is_empty()).then_some(Generator {
            templates,
            next: 0,
            remaining: count,
        });
        let active = generator.is_some();
        lock(&q.state).generator = generator;
        if active {
            q.notify();
        }
        Ok(())
    }

    /// Number of packets waiting on receive queue `rxq` (generated packets
    /// not included).
    pub fn rx_pending(&self, rxq: usize) -> io::Result<usize> {
        Ok(lock(&self.rxq(rxq)?.state).pending.len())
    }

    /// Removes and returns the packets logged by every transmit queue, in
    /// queue order and, within a queue, in transmit order.
    pub fn take_sent(&self) -> Vec<Packet> {
        let mut out = Vec::new();
        for q in &self.txqs {
            out.extend(lock(q).log.drain(..));
        }
        out
    }

    /// Whether `frame` is at least an Ethernet header long and fits the
    /// MTU (with room for one VLAN tag if it carries one).
    /// `max_untagged` is the MTU plus the Ethernet header.
    #[inline]
    fn frame_ok(frame: &[u8], max_untagged: usize) -> bool {
        if frame.len() < ETH_HEADER_LEN {
            return false;
        }
        if frame.len() <= max_untagged {
            return true;
        }
        matches!(frame[12..14], [0x81, 0x00] | [0x88, 0xa8])
            && frame.len() <= max_untagged + VLAN_HEADER_LEN
    }
}

impl Netdev for DummyNetdev {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "dummy"
    }

    fn n_rxq(&self) -> usize {
        self.rxqs.len()
    }

    fn n_txq(&self) -> usize {
        self.txqs.len()
    }

    fn rxq_recv(&self, rxq: usize, batch: &mut Batch) -> io::Result<usize> {
        let q = self.rxq(rxq)?;
        let free_limit = self.rx_queue_len.load(Ordering::Relaxed);
        let mut st = lock(&q.state);
        let st = &mut *st;
        let mut n = 0;
        let mut bytes = 0u64;
        while !batch.is_full() {
            let Some(mut p) = st.pending.pop_front() else {
                break;
            };
            bytes += p.len() as u64;
            batch.push_swap(&mut p);
            n += 1;
            // `p` is now one of the batch's spare buffers: keep it for the
            // next injection.
            if st.free.len() < free_limit {
                st.free.push(p);
            }
        }
        if let Some(g) = &mut st.generator {
            let room = batch.free_space() as u64;
            let count = g.remaining.map_or(room, |r| r.min(room));
            for _ in 0..count {
                let Some(t) = g.templates.get(g.next) else {
                    break;
                };
                batch.push_copy(t);
                bytes += t.len() as u64;
                g.next += 1;
                if g.next == g.templates.len() {
                    g.next = 0;
                }
            }
            n += count as usize;
            if let Some(r) = &mut g.remaining {
                *r -= count;
                if *r == 0 {
                    st.generator = None;
                }
            }
        }
        self.stats.add_rx(n as u64, bytes);
        Ok(n)
    }

    fn send(&self, txq: usize, batch: &mut Batch) -> io::Result<usize> {
        let Some(q) = self.txqs.get(txq) else {
            self.stats.add_tx_errors(batch.len() as u64);
            batch.clear();
            return Err(bad_queue(
                &self.name,
                "transmit queue",
                txq,
                self.txqs.len(),
            ));
        };
        let discard = self.tx_discard.load(Ordering::Relaxed);
        let limit = self.tx_log_len.load(Ordering::Relaxed);
        let mut sent = 0;
        let mut bytes = 0u64;
        let mut dropped = 0;
        let max_untagged = self.mtu.load(Ordering::Relaxed) as usize + ETH_HEADER_LEN;
        let mut q = lock(q);
        for i in 0..batch.len() {
            let p = &batch.packets()[i];
            let len = p.len() as u64;
            if !Self::frame_ok(p.data(), max_untagged) || (!discard && q.log.len() >= limit) {
                dropped += 1;
                continue;
            }
            if !discard {
                let mut keep = q.free.pop().unwrap_or_default();
                batch.swap_packet(i, &mut keep);
                q.log.push_back(keep);
            }
            sent += 1;
            bytes += len;
        }
        drop(q);
        batch.clear();
        self.stats.add_tx(sent as u64, bytes);
        if dropped != 0 {
            self.stats.add_tx_dropped(dropped);
        }
        Ok(sent)
    }

    fn stats(&self) -> NetdevStats {
        self.stats.snapshot()
    }

    fn mtu(&self) -> u32 {
        self.mtu.load(Ordering::Relaxed)
    }

    fn set_mtu(&self, mtu: u32) -> io::Result<()> {
        let mtu = opt::number(&self.name, "mtu", &mtu.to_string(), 68, 65535)?;
        self.mtu.store(mtu, Ordering::Relaxed);
        Ok(())
    }

    fn mac(&self) -> MacAddr {
        u64_to_mac(self.mac.load(Ordering::Relaxed))
    }

    fn set_options(&self, options: &[(String, String)]) -> io::Result<()> {
        let p = ParsedOptions::parse(&self.name, options)?;
        self.apply(&p)
    }

    fn wait_rx(&self, rxq: usize, timeout: Duration) -> bool {
        let Ok(q) = self.rxq(rxq) else {
            return false;
        };
        let seen = q.signal.generation();
        {
            let st = lock(&q.state);
            if !st.pending.is_empty() || st.generator.is_some() {
                return true;
            }
        }
        q.signal.wait_since(seen, timeout)
    }

    fn rx_holds(&self, rxq: usize) -> bool {
        rxq < self.rxqs.len() && self.rx_hold.load(Ordering::Relaxed)
    }

    fn attach_rx_signal(&self, rxq: usize, signal: Arc<RxSignal>) -> bool {
        match self.rxq(rxq) {
            Ok(q) => {
                lock(&q.attached).push(signal);
                true
            }
            Err(_) => false,
        }
    }

    fn detach_rx_signal(&self, rxq: usize, signal: &Arc<RxSignal>) -> bool {
        let Ok(q) = self.rxq(rxq) else {
            return false;
        };
        let mut attached = lock(&q.attached);
        let before = attached.len();
        attached.retain(|s| !Arc::ptr_eq(s, signal));
        attached.len() != before
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
