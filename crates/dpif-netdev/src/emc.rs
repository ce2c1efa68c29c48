//! The exact-match cache: a small fixed array remembering which flow
//! recent packets matched, consulted before the classifier.
//!
//! # Layout
//!
//! [`Emc`] is an array of slots (8192 by default), 2-way associative: a
//! packet's 32-bit hash picks two candidate slots (its low bits, and the
//! bits above those). A slot holds the hash, the packet's exact key and the
//! value (the flow it matched).
//!
//! # Exactness
//!
//! A slot does not store the whole 568-byte [`FlowKey`]: it stores the
//! key's *signature*, a bitmap of which of the key's [`N_WORDS`](crate::flowkey::N_WORDS) words are
//! nonzero plus the nonzero words in order. The signature determines the
//! key (every word not in the bitmap is zero), and the key determines the
//! flow ([`FlowKey`] packing is injective), so equal signatures mean equal
//! flows: a hit is exact, hash collisions only cost a miss. Keys with more
//! than [`EMC_MAX_WORDS`] nonzero words are not cached. Typical packets
//! have about ten nonzero words, so a lookup reads two cache lines per
//! candidate slot.
//!
//! # Invalidation
//!
//! Values say whether they are still valid through [`EmcValue::is_alive`]
//! (for the datapath: an `Arc` of the flow, whose `alive` flag is cleared
//! when the flow leaves the classifier). A dead value is never returned;
//! its slot is reused by the next insertion there, and [`Emc::sweep`]
//! clears dead slots a few at a time so they release their values.
//!
//! # Insertion
//!
//! Inserting on every classifier hit would thrash the cache when there are
//! many more flows than slots, so [`Emc::maybe_insert`] inserts with
//! probability `1 / insert_inv_prob` (OVS's `emc-insert-inv-prob`, default
//! 100; 1 inserts always, 0 never).

use std::sync::Arc;

use crate::flowkey::{FlowKey, WordMap, N_WORDS};

/// Default number of slots.
pub const EMC_ENTRIES: usize = 8192;
/// Most nonzero key words a cached key may have.
pub const EMC_MAX_WORDS: usize = 28;
/// Default inverse insertion probability.
pub const DEFAULT_INSERT_INV_PROB: u32 = 100;

/// A value the cache can hold: it knows whether it is still valid.
pub trait EmcValue {
    /// Whether the cached value may still be returned.
    fn is_alive(&self) -> bool;
}

impl<T: EmcValue + ?Sized> EmcValue for Arc<T> {
    fn is_alive(&self) -> bool {
        (**self).is_alive()
    }
}

/// One slot. The header and the first words share the first cache line.
#[repr(C, align(64))]
struct Slot<T> {
    map: WordMap,
    value: Option<T>,
    hash: u32,
    /// Number of valid `words`.
    n: u8,
    /// The key's nonzero words, in word order.
    words: [u64; EMC_MAX_WORDS],
}

impl<T> Slot<T> {
    fn empty() -> Slot<T> {
        Slot {
            map: WordMap::default(),
            value: None,
            hash: 0,
            n: 0,
            words: [0; EMC_MAX_WORDS],
        }
    }

    /// Whether the slot holds exactly `key` (whose word map is `map`).
    #[inline]
    fn holds(&self, key: &FlowKey, map: &WordMap) -> bool {
        if self.map != *map {
            return false;
        }
        let w = key.words();
        // One compare of the OR of the differences. Equal maps mean at
        // most EMC_MAX_WORDS words (the slot could store the key); the
        // clamps only let the compiler drop the bounds checks.
        let mut diff = 0;
        let [lo, hi] = map.0;
        let mut k = 0;
        let mut bits = lo;
        while bits != 0 {
            let i = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            diff |= self.words[k.min(EMC_MAX_WORDS - 1)] ^ w[i.min(N_WORDS - 1)];
            k += 1;
        }
        let mut bits = hi;
        while bits != 0 {
            let i = 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            diff |= self.words[k.min(EMC_MAX_WORDS - 1)] ^ w[i.min(N_WORDS - 1)];
            k += 1;
        }
        diff == 0
    }

    /// Stores `key`; false (and the slot unchanged) if it has too many
    /// nonzero words.
    fn store(&mut self, key: &FlowKey, map: &WordMap, hash: u32, value: T) -> bool {
        let mut words = [0u64; EMC_MAX_WORDS];
        let nonzero = key.words().iter().filter(|&&w| w != 0);
        let mut n = 0;
        for &w in nonzero {
            let Some(dst) = words.get_mut(n) else {
                return false;
            };
            *dst = w;
            n += 1;
        }
        self.map = *map;
        self.words = words;
        self.n = n as u8;
        self.hash = hash;
        self.value = Some(value);
        true
    }
}

/// The exact-match cache (see the module docs).
pub struct Emc<T> {
    slots: Box<[Slot<T>]>,
    /// `slots.len() - 1`.
    index_mask: u32,
    /// log2 of `slots.len()`: the shift giving the second way's index.
    shift: u32,
    insert_inv_prob: u32,
    /// xorshift32 state for insertion sampling and victim choice.
    rng: u32,
    /// Next slot [`Emc::sweep`] examines.
    sweep_pos: usize,
}

impl<T> std::fmt::Debug for Emc<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emc")
            .field("slots", &self.slots.len())
            .field("insert_inv_prob", &self.insert_inv_prob)
            .finish()
    }
}

impl<T: EmcValue> Default for Emc<T> {
    fn default() -> Self {
        Emc::new()
    }
}

impl<T: EmcValue> Emc<T> {
    /// A cache of [`EMC_ENTRIES`] slots inserting with probability
    /// 1/[`DEFAULT_INSERT_INV_PROB`].
    pub fn new() -> Emc<T> {
        Emc::with_slots(EMC_ENTRIES)
    }

    /// A cache of `slots` slots, rounded up to a power of two (at least 2).
    pub fn with_slots(slots: usize) -> Emc<T> {
        let n = slots.clamp(2, 1 << 24).next_power_of_two();
        Emc {
            slots: (0..n).map(|_| Slot::empty()).collect(),
            index_mask: (n - 1) as u32,
            shift: n.trailing_zeros(),
            insert_inv_prob: DEFAULT_INSERT_INV_PROB,
            rng: 0x9e37_79b9,
            sweep_pos: 0,
        }
    }

    /// Sets the inverse insertion probability (0: never insert, 1: always).
    pub fn set_insert_inv_prob(&mut self, inv_prob: u32) {
        self.insert_inv_prob = inv_prob;
    }

    /// The inverse insertion probability.
    pub fn insert_inv_prob(&self) -> u32 {
        self.insert_inv_prob
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The two candidate slots of `hash`.
    #[inline]
    fn ways(&self, hash: u32) -> [usize; 2] {
        [
            (hash & self.index_mask) as usize,
            ((hash >> self.shift) & self.index_mask) as usize,
        ]
    }

    /// Reads the headers of the two candidate slots of `hash` and returns
    /// a value derived from them. A batch of packets calls this for every
    /// packet before looking any up, so that the cache misses of the slots
    /// (the cache is larger than the CPU's caches) overlap instead of being
    /// paid one after the other; the caller feeds the results to
    /// [`std::hint::black_box`] so that the reads happen.
    #[inline]
    pub fn touch(&self, hash: u32) -> u32 {
        let [a, b] = self.ways(hash);
        self.slots[a].hash ^ self.slots[b].hash
    }

    /// Starts loading the two candidate slots of `hash` into the CPU's
    /// caches (see [`crate::sys::prefetch`]): the batch form of
    /// [`Emc::touch`], which does not wait for the loads.
    #[inline]
    pub fn prefetch(&self, hash: u32) {
        for i in self.ways(hash) {
            crate::sys::prefetch(&self.slots[i]);
        }
    }

    /// The live value cached for exactly `key`; `hash` is the packet's hash
    /// ([`FlowKey::emc_hash`], or any 32-bit hash of the packet that is
    /// the same for equal flows, such as a NIC's RSS hash).
    #[inline]
    pub fn lookup(&self, key: &FlowKey, hash: u32) -> Option<&T> {
        let mut map = None;
        for i in self.ways(hash) {
            let s = &self.slots[i];
            if s.hash != hash {
                continue;
            }
            let Some(v) = &s.value else { continue };
            let map = map.get_or_insert_with(|| WordMap::of(key));
            if s.holds(key, map) {
                return v.is_alive().then_some(v);
            }
        }
        None
    }

    /// [`Emc::lookup`] for a key whose [`WordMap`] is known (the fast
    /// path's extractor computes it).
    #[inline]
    pub fn lookup_mapped(&self, key: &FlowKey, map: &WordMap, hash: u32) -> Option<&T> {
        for i in self.ways(hash) {
            let s = &self.slots[i];
            if s.hash != hash || s.map != *map {
                continue;
            }
            let Some(v) = &s.value else { continue };
            if s.holds(key, map) {
                return v.is_alive().then_some(v);
            }
        }
        None
    }

    /// Caches `value` for `key` unconditionally (replacing the entry for
    /// the same key, else an empty or dead candidate slot, else a random
    /// one). Returns false if the key has too many nonzero words to cache.
    pub fn insert(&mut self, key: &FlowKey, hash: u32, value: T) -> bool {
        self.insert_mapped(key, &WordMap::of(key), hash, value)
    }

    /// [`Emc::insert`] for a key whose [`WordMap`] is known.
    pub fn insert_mapped(&mut self, key: &FlowKey, map: &WordMap, hash: u32, value: T) -> bool {
        let map = *map;
        let ways = self.ways(hash);
        let same = ways.iter().copied().find(|&i| {
            let s = &self.slots[i];
            s.hash == hash && s.value.is_some() && s.holds(key, &map)
        });
        let free = || {
            ways.iter().copied().find(|&i| match &self.slots[i].value {
                Some(v) => !v.is_alive(),
                None => true,
            })
        };
        let victim = match same.or_else(free) {
            Some(i) => i,
            None => ways[(self.next_random() & 1) as usize],
        };
        self.slots[victim].store(key, &map, hash, value)
    }

    /// Caches a clone of `value` for `key` with probability
    /// `1 / insert_inv_prob`. Returns whether it was inserted.
    pub fn maybe_insert(&mut self, key: &FlowKey, hash: u32, value: &T) -> bool
    where
        T: Clone,
    {
        match self.insert_inv_prob {
            0 => return false,
            1 => {}
            p => {
                // A random number in 0..p (multiply-shift, no division).
                let r = (u64::from(self.next_random()) * u64::from(p)) >> 32;
                if r != 0 {
                    return false;
                }
            }
        }
        self.insert(key, hash, value.clone())
    }

    /// Examines the next `n` slots (round robin) and empties those holding
    /// dead values, so that they release them. Call it now and then from
    /// the owning thread.
    pub fn sweep(&mut self, n: usize) {
        for _ in 0..n.min(self.slots.len()) {
            let s = &mut self.slots[self.sweep_pos];
            if s.value.as_ref().is_some_and(|v| !v.is_alive()) {
                *s = Slot::empty();
            }
            self.sweep_pos = (self.sweep_pos + 1) & self.index_mask as usize;
        }
    }

    /// Empties every slot.
    pub fn clear(&mut self) {
        for s in self.slots.iter_mut() {
            *s = Slot::empty();
        }
    }

    /// Number of slots holding a live value (scans the whole cache).
    pub fn count_live(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.value.as_ref().is_some_and(|v| v.is_alive()))
            .count()
    }

    fn next_random(&mut self) -> u32 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.rng = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use odp::flow::Flow;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[derive(Debug)]
    struct Entry {
        id: u32,
        alive: AtomicBool,
    }

    impl EmcValue for Entry {
        fn is_alive(&self) -> bool {
            self.alive.load(Ordering::Relaxed)
        }
    }

    fn entry(id: u32) -> Arc<Entry> {
        Arc::new(Entry {
            id,
            alive: AtomicBool::new(true),
        })
    }

    fn key(port: u16) -> FlowKey {
        FlowKey::new(&Flow {
            in_port: 1,
            dl_type: 0x0800,
            nw_src: 0x0a00_0001,
            nw_dst: 0x0a00_0002,
            nw_proto: 6,
            tp_src: port,
            tp_dst: 80,
            ..Flow::default()
        })
    }

    fn id(v: Option<&Arc<Entry>>) -> Option<u32> {
        v.map(|e| e.id)
    }

    #[test]
    fn hit_after_insert_and_exact_compare() {
        let mut emc = Emc::new();
        let (a, b) = (key(1000), key(1001));
        assert!(emc.insert(&a, a.emc_hash(), entry(1)));
        assert_eq!(id(emc.lookup(&a, a.emc_hash())), Some(1));
        assert_eq!(id(emc.lookup(&b, b.emc_hash())), None);
        // Same hash forced, different key: still a miss.
        assert_eq!(id(emc.lookup(&b, a.emc_hash())), None);
        // A flow differing only in a field outside the hash (tcp_flags).
        let mut f = a.to_flow();
        f.tcp_flags = 0x10;
        let c = FlowKey::new(&f);
        assert_eq!(id(emc.lookup(&c, a.emc_hash())), None);
    }

    #[test]
    fn dead_values_are_never_returned() {
        let mut emc = Emc::new();
        let a = key(7);
        let e = entry(1);
        emc.insert(&a, a.emc_hash(), e.clone());
        assert_eq!(id(emc.lookup(&a, a.emc_hash())), Some(1));
        e.alive.store(false, Ordering::Relaxed);
        assert_eq!(id(emc.lookup(&a, a.emc_hash())), None);
        assert_eq!(emc.count_live(), 0);
        // Sweeping releases the dead value.
        assert_eq!(Arc::strong_count(&e), 2);
        emc.sweep(emc.capacity());
        assert_eq!(Arc::strong_count(&e), 1);
        // Re-inserting a new flow for the same key works.
        emc.insert(&a, a.emc_hash(), entry(2));
        assert_eq!(id(emc.lookup(&a, a.emc_hash())), Some(2));
    }

    #[test]
    fn two_ways_per_hash_and_dead_slots_reused_first() {
        let mut emc = Emc::with_slots(64);
        let h = 0x0000_0a05; // ways 5 and (h >> 6) & 63 = 40
        let keys: Vec<FlowKey> = (0..3).map(key).collect();
        let e0 = entry(0);
        emc.insert(&keys[0], h, e0.clone());
        emc.insert(&keys[1], h, entry(1));
        assert_eq!(id(emc.lookup(&keys[0], h)), Some(0));
        assert_eq!(id(emc.lookup(&keys[1], h)), Some(1));
        // Killing entry 0 makes its slot the one the third key takes.
        e0.alive.store(false, Ordering::Relaxed);
        emc.insert(&keys[2], h, entry(2));
        assert_eq!(id(emc.lookup(&keys[1], h)), Some(1));
        assert_eq!(id(emc.lookup(&keys[2], h)), Some(2));
        // A fourth key evicts one of the two live ones.
        let k3 = key(3);
        emc.insert(&k3, h, entry(3));
        assert_eq!(id(emc.lookup(&k3, h)), Some(3));
        let left = [1, 2]
            .iter()
            .filter(|&&i| emc.lookup(&keys[i as usize], h).is_some())
            .count();
        assert_eq!(left, 1);
        // Re-inserting an existing key replaces it in place.
        emc.insert(&k3, h, entry(33));
        assert_eq!(id(emc.lookup(&k3, h)), Some(33));
        assert_eq!(emc.count_live(), 2);
    }

    #[test]
    fn keys_with_too_many_words_are_not_cached() {
        let mut emc = Emc::new();
        let mut f = Flow::default();
        for b in f.tunnel.metadata.opts.iter_mut() {
            *b = 1;
        }
        let k = FlowKey::new(&f);
        assert!(!emc.insert(&k, k.emc_hash(), entry(1)));
        assert_eq!(id(emc.lookup(&k, k.emc_hash())), None);
        // Exactly the limit fits.
        let mut f = Flow::default();
        for b in f.tunnel.metadata.opts[..8 * EMC_MAX_WORDS].iter_mut() {
            *b = 1;
        }
        let k = FlowKey::new(&f);
        assert!(emc.insert(&k, k.emc_hash(), entry(2)));
        assert_eq!(id(emc.lookup(&k, k.emc_hash())), Some(2));
    }

    #[test]
    fn all_zero_key_is_cached() {
        let mut emc = Emc::new();
        let k = FlowKey::default();
        emc.insert(&k, k.emc_hash(), entry(5));
        assert_eq!(id(emc.lookup(&k, k.emc_hash())), Some(5));
    }

    #[test]
    fn insertion_probability() {
        let mut emc = Emc::with_slots(1 << 16);
        let e = entry(1);
        emc.set_insert_inv_prob(0);
        assert!(!(0..1000).any(|p| {
            let k = key(p);
            emc.maybe_insert(&k, k.emc_hash(), &e)
        }));
        emc.set_insert_inv_prob(1);
        assert!((0..1000).all(|p| {
            let k = key(p);
            emc.maybe_insert(&k, k.emc_hash(), &e)
        }));
        emc.clear();
        emc.set_insert_inv_prob(100);
        let n = (0..20_000u32)
            .filter(|&p| {
                let k = key(p as u16);
                emc.maybe_insert(&k, k.emc_hash(), &e)
            })
            .count();
        assert!((120..300).contains(&n), "{n}");
    }
}
