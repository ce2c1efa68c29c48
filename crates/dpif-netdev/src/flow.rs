//! [`DpFlow`]: one installed megaflow, shared by the control plane and the
//! poll threads.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use dpif::FlowStats;
use odp::action::Action;
use odp::flow::Flow;
use odp::key::{KeyAttr, Ufid};

use crate::emc::EmcValue;
use crate::flowkey::FlowKey;

/// Milliseconds on the system's monotonic clock (`CLOCK_MONOTONIC`, the
/// clock the kernel datapath reports `used` times on), never 0 (0 means
/// "never used").
pub fn now_ms() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64) * 1000 + (t.tv_nsec as u64) / 1_000_000 + 1
}

/// Per-flow counters, updated by poll threads once per batch.
#[derive(Debug, Default)]
pub struct FlowCounters {
    packets: AtomicU64,
    bytes: AtomicU64,
    used_ms: AtomicU64,
    tcp_flags: AtomicU16,
}

impl FlowCounters {
    /// Counts `packets` packets of `bytes` bytes with `tcp_flags` OR'd, used now.
    pub fn add(&self, packets: u64, bytes: u64, tcp_flags: u16, now: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.used_ms.fetch_max(now, Ordering::Relaxed);
        if tcp_flags != 0 {
            self.tcp_flags.fetch_or(tcp_flags, Ordering::Relaxed);
        }
    }

    /// A snapshot.
    pub fn get(&self) -> FlowStats {
        FlowStats {
            n_packets: self.packets.load(Ordering::Relaxed),
            n_bytes: self.bytes.load(Ordering::Relaxed),
            used_ms: self.used_ms.load(Ordering::Relaxed),
            tcp_flags: self.tcp_flags.load(Ordering::Relaxed),
        }
    }

    /// Zeroes the counters; returns what they held.
    pub fn take(&self) -> FlowStats {
        FlowStats {
            n_packets: self.packets.swap(0, Ordering::Relaxed),
            n_bytes: self.bytes.swap(0, Ordering::Relaxed),
            used_ms: self.used_ms.swap(0, Ordering::Relaxed),
            tcp_flags: self.tcp_flags.swap(0, Ordering::Relaxed),
        }
    }
}

/// An installed megaflow.
///
/// Immutable except for its actions (replaced atomically by a modify), its
/// counters, and its `alive` flag (cleared when it is deleted, so that poll
/// threads that still hold it stop using it at once).
#[derive(Debug)]
pub struct DpFlow {
    /// The flow's id.
    pub ufid: Ufid,
    /// The key as the client gave it.
    pub key: Vec<KeyAttr>,
    /// The mask, as attributes (the client's, or exact for every key field).
    pub mask: Vec<KeyAttr>,
    /// The key, as a [`Flow`], already masked.
    pub flow: Flow,
    /// The mask, as a [`Flow`].
    pub mask_flow: Flow,
    /// The masked key, packed.
    pub packed_key: FlowKey,
    /// The mask, packed.
    pub packed_mask: FlowKey,
    /// The input port the flow matches (exact).
    pub in_port: u32,
    /// The actions; a modify swaps in a new list.
    pub actions: ArcSwap<Vec<Action>>,
    /// Counters.
    pub stats: FlowCounters,
    alive: AtomicBool,
}

impl DpFlow {
    /// A new, live flow.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        ufid: Ufid,
        key: Vec<KeyAttr>,
        mask: Vec<KeyAttr>,
        flow: Flow,
        mask_flow: Flow,
        actions: Vec<Action>,
    ) -> Arc<DpFlow> {
        let packed_mask = FlowKey::new(&mask_flow);
        let packed_key = FlowKey::new(&flow).and(&packed_mask);
        Arc::new(DpFlow {
            ufid,
            key,
            mask,
            in_port: flow.in_port,
            flow,
            mask_flow,
            packed_key,
            packed_mask,
            actions: ArcSwap::from_pointee(actions),
            stats: FlowCounters::default(),
            alive: AtomicBool::new(true),
        })
    }

    /// Marks the flow deleted: poll threads stop matching it.
    pub fn kill(&self) {
        self.alive.store(false, Ordering::Release);
    }

    /// Whether the flow is still installed.
    pub fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }
}

impl EmcValue for DpFlow {
    fn is_alive(&self) -> bool {
        DpFlow::is_alive(self)
    }
}
