//! [`DpFlow`]: one installed megaflow, shared by the control plane and the
//! poll threads.
//!
//! # Layout
//!
//! A poll thread that matches a flow touches its liveness flag, its
//! counters and its action list, and nothing else. Those live together in
//! the first cache line of the flow ([`DpFlow`] is `repr(C)` with that
//! line first and 64-byte aligned), so a hit costs one line of the flow.
//! Everything else is cold and kept compact: the mask is shared by every
//! flow that has it (the control plane interns masks), the masked key is
//! stored as only the words the mask touches, and the key and mask
//! attributes the client gave are kept in their netlink form and decoded
//! again when a client reads the flow back.

use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use dpif::FlowStats;
use odp::action::Action;
use odp::flow::Flow;
use odp::key::{KeyAttr, PortNo, Ufid};
use odp::nl::Mode;

use crate::emc::EmcValue;
use crate::flowkey::{FlowKey, N_WORDS};

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
    ///
    /// Only the packet and byte counts need read-modify-write atomics (a
    /// zeroing `take` may run concurrently and several poll threads may
    /// count one flow); the last-used time and the TCP flags are read
    /// first and written only when they change, which is rare.
    #[inline]
    pub fn add(&self, packets: u64, bytes: u64, tcp_flags: u16, now: u64) {
        self.packets.fetch_add(packets, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        if self.used_ms.load(Ordering::Relaxed) < now {
            self.used_ms.fetch_max(now, Ordering::Relaxed);
        }
        if tcp_flags & !self.tcp_flags.load(Ordering::Relaxed) != 0 {
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

/// What a poll thread reads on every hit: one cache line.
#[derive(Debug)]
#[repr(C, align(64))]
struct Hot {
    alive: AtomicBool,
    /// Whether `actions` is a single output, to `single_output`'s port:
    /// the common case, handled without reading the action list (two
    /// more cache lines).
    is_single_output: AtomicU8,
    single_output: AtomicU64,
    stats: FlowCounters,
    actions: ArcSwap<Vec<Action>>,
}

/// The key and mask attributes a client gave, stored compactly: nothing
/// at all when they can be derived again from the flow, else their
/// netlink encoding (one allocation), else the attribute lists.
#[derive(Debug)]
pub enum StoredMatch {
    /// The key is the canonical encoding of the (exactly masked) flow and
    /// the mask the exact one the datapath derived for a put without a
    /// mask: both derived again when read.
    Derived,
    /// The key's netlink encoding (decoding it, strictly, gives the
    /// attributes); the mask the exact one, derived again when read.
    NlExact(Box<[u8]>),
    /// The key's netlink encoding, then the mask's; the first `u32` bytes
    /// are the key's.
    Nl(Box<[u8]>, u32),
    /// The key and mask attributes themselves (when their encoding does
    /// not decode back to them).
    List(Box<(Vec<KeyAttr>, Vec<KeyAttr>)>),
}

/// An installed megaflow.
///
/// Immutable except for its actions (replaced atomically by a modify), its
/// counters, and its `alive` flag (cleared when it is deleted, so that poll
/// threads that still hold it stop using it at once).
///
/// Memory: one 64-byte line of hot fields and one of cold ones, plus the
/// masked key's words; the mask and the action list are shared with the
/// other flows that have the same (the control plane interns them).
#[derive(Debug)]
#[repr(C)]
pub struct DpFlow {
    hot: Hot,
    /// The flow's id.
    pub ufid: Ufid,
    /// The mask, packed (shared by the flows with this mask).
    mask: Arc<FlowKey>,
    /// The masked key's words at the positions where `mask` is nonzero.
    key_words: Box<[u64]>,
    /// The key and mask as the client gave them.
    attrs: StoredMatch,
}

impl DpFlow {
    /// A new, live flow matching `key & mask` (`mask` packed and ideally
    /// shared with the other flows that have it, `actions` too).
    pub fn new(
        ufid: Ufid,
        key: &FlowKey,
        mask: Arc<FlowKey>,
        attrs: StoredMatch,
        actions: Arc<Vec<Action>>,
    ) -> Arc<DpFlow> {
        let key_words = masked_words(key, &mask);
        DpFlow::with_words(ufid, key_words, mask, attrs, actions)
    }

    /// [`DpFlow::new`] from the masked key's words where `mask` is
    /// nonzero ([`masked_words`]).
    pub fn with_words(
        ufid: Ufid,
        key_words: Box<[u64]>,
        mask: Arc<FlowKey>,
        attrs: StoredMatch,
        actions: Arc<Vec<Action>>,
    ) -> Arc<DpFlow> {
        let single = single_output(&actions);
        Arc::new(DpFlow {
            hot: Hot {
                alive: AtomicBool::new(true),
                is_single_output: AtomicU8::new(u8::from(single.is_some())),
                single_output: AtomicU64::new(single.unwrap_or(0)),
                stats: FlowCounters::default(),
                actions: ArcSwap::new(actions),
            },
            ufid,
            mask,
            key_words,
            attrs,
        })
    }

    /// The input port the flow matches (exactly: every flow does).
    pub fn in_port(&self) -> u32 {
        // in_port is the low half of word 0, the first word every mask
        // touches.
        match self.mask.words()[crate::flowkey::W_IN_PORT_RECIRC] {
            0 => 0,
            m => (self.key_words.first().copied().unwrap_or(0) & m) as u32,
        }
    }

    /// Marks the flow deleted: poll threads stop matching it.
    pub fn kill(&self) {
        self.hot.alive.store(false, Ordering::Release);
    }

    /// Whether the flow is still installed.
    #[inline]
    pub fn is_alive(&self) -> bool {
        self.hot.alive.load(Ordering::Acquire)
    }

    /// Counters.
    #[inline]
    pub fn stats(&self) -> &FlowCounters {
        &self.hot.stats
    }

    /// The actions; [`DpFlow::set_actions`] swaps in a new list.
    #[inline]
    pub fn actions(&self) -> &ArcSwap<Vec<Action>> {
        &self.hot.actions
    }

    /// The port, if the actions are exactly one output (read from the
    /// flow's first cache line only). A reader racing with
    /// [`DpFlow::set_actions`] sees the old or the new actions.
    #[inline]
    pub fn single_output(&self) -> Option<PortNo> {
        if self.hot.is_single_output.load(Ordering::Acquire) == 0 {
            return None;
        }
        Some(PortNo(self.hot.single_output.load(Ordering::Acquire) as u32))
    }

    /// Replaces the actions (a modify). Callers serialise modifies of a
    /// flow (the control plane holds the flow table lock).
    pub fn set_actions(&self, actions: Arc<Vec<Action>>) {
        let single = single_output(&actions);
        // Readers check the flag first: clear it before the switch, set
        // it after, so that a set flag always goes with a matching port.
        self.hot.is_single_output.store(0, Ordering::Release);
        self.hot.actions.store(actions);
        if let Some(p) = single {
            self.hot.single_output.store(p, Ordering::Release);
            self.hot.is_single_output.store(1, Ordering::Release);
        }
    }

    /// The mask, packed.
    pub fn packed_mask(&self) -> &Arc<FlowKey> {
        &self.mask
    }

    /// The masked key, packed.
    pub fn packed_key(&self) -> FlowKey {
        let mut w = [0u64; N_WORDS];
        let slots = self.mask.words().iter().zip(w.iter_mut());
        for (dst, &k) in slots
            .filter(|(&m, _)| m != 0)
            .map(|(_, d)| d)
            .zip(self.key_words.iter())
        {
            *dst = k;
        }
        FlowKey::from_raw_words(w)
    }

    /// The masked key's words where the mask is nonzero (with the mask's
    /// identity, what tells two flows' matches apart).
    pub fn key_words(&self) -> &[u64] {
        &self.key_words
    }

    /// Whether the packed flow `key` matches this flow.
    pub fn matches(&self, key: &FlowKey) -> bool {
        let mut kw = self.key_words.iter();
        self.mask
            .words()
            .iter()
            .zip(key.words())
            .filter(|(&m, _)| m != 0)
            .all(|(&m, &k)| kw.next() == Some(&(k & m)))
    }

    /// The key as a [`Flow`], already masked.
    pub fn flow(&self) -> Flow {
        self.packed_key().to_flow()
    }

    /// The mask as a [`Flow`].
    pub fn mask_flow(&self) -> Flow {
        self.mask.to_flow()
    }

    /// The key attributes as the client gave them.
    pub fn key_attrs(&self) -> Vec<KeyAttr> {
        let decode = |b: &[u8]| {
            odp::nl::key::decode_keys(b, Mode::Strict)
                .map(|(k, _)| k)
                .unwrap_or_default()
        };
        match &self.attrs {
            StoredMatch::Derived => {
                odp::convert::flow_to_key(&self.flow(), &odp::convert::KeyParms::all())
            }
            StoredMatch::NlExact(b) => decode(b),
            StoredMatch::Nl(b, key_len) => decode(b.get(..*key_len as usize).unwrap_or_default()),
            StoredMatch::List(l) => l.0.clone(),
        }
    }

    /// The mask attributes.
    pub fn mask_attrs(&self) -> Vec<KeyAttr> {
        match &self.attrs {
            StoredMatch::List(l) => l.1.clone(),
            StoredMatch::Nl(b, key_len) => {
                let key = self.key_attrs();
                let mask = b.get(*key_len as usize..).unwrap_or_default();
                odp::nl::key::decode_mask(mask, &key, Mode::Strict).unwrap_or_default()
            }
            StoredMatch::Derived | StoredMatch::NlExact(_) => {
                let key = self.key_attrs();
                let Ok((flow, _)) = odp::convert::key_to_flow(&key) else {
                    return Vec::new();
                };
                let m = odp::convert::exact_mask_for_packet(&flow);
                odp::convert::flow_to_mask(&m, &flow, &odp::convert::KeyParms::all())
            }
        }
    }
}

/// The words of `key & mask` where `mask` is nonzero: what a flow stores
/// of its key.
pub fn masked_words(key: &FlowKey, mask: &FlowKey) -> Box<[u64]> {
    // Sized first: collecting through the filter would grow (and then
    // shrink) the allocation several times.
    let n = mask.words().iter().filter(|&&m| m != 0).count();
    let mut words = Vec::with_capacity(n);
    words.extend(
        mask.words()
            .iter()
            .zip(key.words())
            .filter(|(&m, _)| m != 0)
            .map(|(&m, &k)| k & m),
    );
    words.into_boxed_slice()
}

/// The port of an action list that is exactly one output.
fn single_output(actions: &[Action]) -> Option<u64> {
    match actions {
        [Action::Output(p)] => Some(u64::from(p.0)),
        _ => None,
    }
}

impl EmcValue for DpFlow {
    #[inline]
    fn is_alive(&self) -> bool {
        DpFlow::is_alive(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hot_fields_share_the_first_cache_line() {
        assert_eq!(std::mem::align_of::<DpFlow>(), 64);
        assert_eq!(std::mem::size_of::<Hot>(), 64);
        assert!(std::mem::size_of::<DpFlow>() <= 128);
    }

    #[test]
    fn sparse_key_round_trips_and_matches() {
        let key = FlowKey::new(&Flow {
            in_port: 3,
            dl_type: 0x0800,
            nw_src: 0x0a00_0001,
            nw_dst: 0x0a00_0102,
            tp_dst: 80,
            ..Flow::default()
        });
        let mask = Arc::new(FlowKey::new(&Flow {
            in_port: u32::MAX,
            dl_type: 0xffff,
            nw_dst: 0xffff_ff00,
            ..Flow::default()
        }));
        let f = DpFlow::new(
            Ufid(1),
            &key,
            mask.clone(),
            StoredMatch::List(Box::default()),
            Arc::new(vec![]),
        );
        assert_eq!(f.in_port(), 3);
        assert_eq!(f.packed_key(), key.and(&mask));
        assert!(f.matches(&key));
        assert_eq!(f.single_output(), None);
        f.set_actions(Arc::new(vec![Action::Output(PortNo(7))]));
        assert_eq!(f.single_output(), Some(PortNo(7)));
        f.set_actions(Arc::new(vec![
            Action::Output(PortNo(7)),
            Action::Output(PortNo(8)),
        ]));
        assert_eq!(f.single_output(), None);
        assert_eq!(f.actions().load().len(), 2);
        let mut other = key.to_flow();
        other.nw_dst = 0x0a00_01ff;
        other.tp_dst = 22;
        assert!(f.matches(&FlowKey::new(&other)));
        other.nw_dst = 0x0a00_02ff;
        assert!(!f.matches(&FlowKey::new(&other)));
        assert_eq!(f.flow().nw_dst, 0x0a00_0100);
        assert_eq!(f.mask_flow().nw_dst, 0xffff_ff00);
    }
}
