//! The megaflow classifier: which installed flow (key under mask) a packet
//! matches.
//!
//! # Structure
//!
//! Entries are grouped by mask: one [`Subtable`] per distinct mask. A
//! subtable knows which words of a [`FlowKey`] its mask touches (usually a
//! handful of the 71) and keeps, for each entry, only those words of the
//! masked key, in one flat array. A hash table maps the hash of those words
//! to the entry's index. Looking a packet up in a subtable therefore costs:
//! hash `n` masked words, probe one table, compare `n` words.
//!
//! A lookup visits the subtables in rank order and returns the first match.
//! Megaflows installed by the datapath do not overlap, so "first" only
//! decides how fast the answer comes: the subtables are ranked by how many
//! packets they matched in the last interval, busiest first, and
//! [`Classifier::sort_subtables`] re-ranks them. The poll thread should call
//! it periodically (for instance once a second, or every few thousand
//! batches); it is cheap (a stable sort of one small vector, skipped when
//! already in order).
//!
//! # Cost
//!
//! Lookups take `&self`, allocate nothing and take no lock; the per-subtable
//! hit counters are [`Cell`]s, which makes the classifier `!Sync` (it is
//! owned by one poll thread; see the crate docs) but still `Send`.
//! [`Classifier::lookup_batch`] walks one subtable at a time over all
//! still-unmatched packets of a batch, which keeps the subtable's
//! description hot and lets the CPU overlap the hash-table probes of
//! different packets.

use std::cell::Cell;
use std::cmp::Reverse;

use hashbrown::HashTable;
use odp::flow::Flow;

use crate::flowkey::{hash_finish, hash_word, FlowKey, HASH_SEED, N_WORDS};

/// Packets handled together by [`Classifier::lookup_batch`] (one bit each in
/// a `u64`).
const CHUNK: usize = 32;

/// Statistics of one lookup or batch of lookups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LookupStats {
    /// Packets that matched an entry.
    pub hits: u64,
    /// Sum, over the packets that matched, of the number of subtables
    /// visited to find the match (the matching one included): the
    /// datapath's "mask hit" counter. `masks_visited / hits` is the average
    /// number of subtables a hit costs.
    pub masks_visited: u64,
}

/// All entries sharing one mask.
struct Subtable<T> {
    /// Index in [`FlowKey::words`] of each word the mask touches, ascending.
    idx: Box<[u8]>,
    /// The mask's value of each of those words (never zero).
    mask: Box<[u64]>,
    /// Hash of `idx` and `mask`, to find a subtable by mask quickly.
    mask_hash: u64,
    /// Hash of an entry's masked words → its index in the arrays below.
    table: HashTable<u32>,
    /// Per entry: its masked words (`idx.len()` of them), back to back.
    keys: Vec<u64>,
    /// Per entry: the hash of its masked words (to rehash and reindex).
    hashes: Vec<u64>,
    /// Per entry: the value.
    values: Vec<T>,
    /// Packets matched since the last re-ranking.
    hits: Cell<u64>,
}

/// Does entry `e` (its words in `keys`) match the packet words `w`?
#[inline(always)]
fn entry_matches(keys: &[u64], idx: &[u8], mask: &[u64], e: usize, w: &[u64; N_WORDS]) -> bool {
    let n = idx.len();
    let Some(k) = keys.get(e * n..e * n + n) else {
        return false;
    };
    k.iter()
        .zip(idx.iter().zip(mask.iter()))
        .all(|(&k, (&i, &m))| k == w[usize::from(i)] & m)
}

impl<T> Subtable<T> {
    fn new(mask: &FlowKey) -> Subtable<T> {
        let (idx, words): (Vec<u8>, Vec<u64>) = mask
            .words()
            .iter()
            .enumerate()
            .filter(|(_, &m)| m != 0)
            .map(|(i, &m)| (i as u8, m))
            .unzip();
        Subtable {
            mask_hash: mask_hash(mask),
            idx: idx.into(),
            mask: words.into(),
            table: HashTable::new(),
            keys: Vec::new(),
            hashes: Vec::new(),
            values: Vec::new(),
            hits: Cell::new(0),
        }
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether this subtable's mask is `mask` (whose hash is `h`).
    fn has_mask(&self, mask: &FlowKey, h: u64) -> bool {
        if self.mask_hash != h {
            return false;
        }
        let mut mine = self.idx.iter().zip(self.mask.iter());
        for (i, &m) in mask.words().iter().enumerate().filter(|(_, &m)| m != 0) {
            match mine.next() {
                Some((&j, &n)) if usize::from(j) == i && n == m => {}
                _ => return false,
            }
        }
        mine.next().is_none()
    }

    /// The hash of the packet words `w` under this subtable's mask.
    #[inline(always)]
    fn hash(&self, w: &[u64; N_WORDS]) -> u64 {
        let mut h = HASH_SEED;
        for (&i, &m) in self.idx.iter().zip(self.mask.iter()) {
            h = hash_word(h, w[usize::from(i)] & m);
        }
        hash_finish(h)
    }

    /// The index of the entry matching the packet words `w` (hash `h`).
    #[inline(always)]
    fn find(&self, h: u64, w: &[u64; N_WORDS]) -> Option<usize> {
        let (keys, idx, mask) = (&self.keys[..], &self.idx[..], &self.mask[..]);
        self.table
            .find(h, |&e| entry_matches(keys, idx, mask, e as usize, w))
            .map(|&e| e as usize)
    }

    /// Adds an entry (the caller checked that none matches `w`).
    fn push(&mut self, h: u64, w: &[u64; N_WORDS], value: T) {
        let e = self.values.len() as u32;
        for (&i, &m) in self.idx.iter().zip(self.mask.iter()) {
            self.keys.push(w[usize::from(i)] & m);
        }
        self.hashes.push(h);
        self.values.push(value);
        let hashes = &self.hashes;
        self.table.insert_unique(h, e, |&x| hashes[x as usize]);
    }

    /// Removes the entry matching `w` (hash `h`), if any.
    fn remove(&mut self, h: u64, w: &[u64; N_WORDS]) -> Option<T> {
        let (keys, idx, mask) = (&self.keys[..], &self.idx[..], &self.mask[..]);
        let found = self
            .table
            .find_entry(h, |&e| entry_matches(keys, idx, mask, e as usize, w))
            .ok()?;
        let (e, _) = found.remove();
        let e = e as usize;
        let last = self.values.len() - 1;
        if e != last {
            // The last entry moves into the hole: repoint its table slot.
            let lh = self.hashes[last];
            if let Some(slot) = self.table.find_mut(lh, |&x| x as usize == last) {
                *slot = e as u32;
            }
            let n = self.idx.len();
            self.keys.copy_within(last * n..last * n + n, e * n);
        }
        self.keys.truncate(last * self.idx.len());
        self.hashes.swap_remove(e);
        Some(self.values.swap_remove(e))
    }

    /// The mask as a [`FlowKey`].
    fn mask_key(&self) -> FlowKey {
        let mut w = [0; N_WORDS];
        for (&i, &m) in self.idx.iter().zip(self.mask.iter()) {
            w[usize::from(i)] = m;
        }
        FlowKey::from_words(w)
    }

    /// Entry `e`'s masked key as a [`FlowKey`].
    fn entry_key(&self, e: usize) -> FlowKey {
        let n = self.idx.len();
        let mut w = [0; N_WORDS];
        for (&i, &k) in self.idx.iter().zip(&self.keys[e * n..e * n + n]) {
            w[usize::from(i)] = k;
        }
        FlowKey::from_words(w)
    }
}

fn mask_hash(mask: &FlowKey) -> u64 {
    let mut h = HASH_SEED;
    for (i, &m) in mask.words().iter().enumerate().filter(|(_, &m)| m != 0) {
        h = hash_word(hash_word(h, i as u64), m);
    }
    hash_finish(h)
}

/// The megaflow classifier (see the module docs). `T` is the value stored
/// per entry, typically an `Arc` of the datapath's flow.
pub struct Classifier<T> {
    /// Non-empty subtables, in visiting order.
    subtables: Vec<Subtable<T>>,
    /// Total number of entries.
    len: usize,
}

impl<T> Default for Classifier<T> {
    fn default() -> Self {
        Classifier {
            subtables: Vec::new(),
            len: 0,
        }
    }
}

impl<T> std::fmt::Debug for Classifier<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier")
            .field("len", &self.len)
            .field("n_masks", &self.subtables.len())
            .finish()
    }
}

impl<T> Classifier<T> {
    /// An empty classifier.
    pub fn new() -> Classifier<T> {
        Classifier::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of distinct masks (non-empty subtables).
    pub fn n_masks(&self) -> usize {
        self.subtables.len()
    }

    /// Adds an entry matching the flows `f` with `f & mask == key & mask`.
    /// Fails, giving `value` back, if an entry with the same mask and the
    /// same masked key exists.
    pub fn insert(&mut self, key: &Flow, mask: &Flow, value: T) -> Result<(), T> {
        self.insert_key(&FlowKey::new(key), &FlowKey::new(mask), value)
    }

    /// [`Classifier::insert`] on packed keys.
    pub fn insert_key(&mut self, key: &FlowKey, mask: &FlowKey, value: T) -> Result<(), T> {
        let mh = mask_hash(mask);
        let pos = match self.subtables.iter().position(|s| s.has_mask(mask, mh)) {
            Some(pos) => pos,
            None => {
                self.subtables.push(Subtable::new(mask));
                self.subtables.len() - 1
            }
        };
        let st = &mut self.subtables[pos];
        let w = key.words();
        let h = st.hash(w);
        if st.find(h, w).is_some() {
            return Err(value);
        }
        st.push(h, w, value);
        self.len += 1;
        Ok(())
    }

    /// Removes the entry with this mask and masked key, returning its value.
    pub fn remove(&mut self, key: &Flow, mask: &Flow) -> Option<T> {
        self.remove_key(&FlowKey::new(key), &FlowKey::new(mask))
    }

    /// [`Classifier::remove`] on packed keys.
    pub fn remove_key(&mut self, key: &FlowKey, mask: &FlowKey) -> Option<T> {
        let mh = mask_hash(mask);
        let pos = self.subtables.iter().position(|s| s.has_mask(mask, mh))?;
        let st = &mut self.subtables[pos];
        let w = key.words();
        let value = st.remove(st.hash(w), w)?;
        self.len -= 1;
        if st.len() == 0 {
            self.subtables.remove(pos);
        }
        Some(value)
    }

    /// The value of the entry exactly at this mask and masked key.
    pub fn get(&self, key: &FlowKey, mask: &FlowKey) -> Option<&T> {
        let mh = mask_hash(mask);
        let st = self.subtables.iter().find(|s| s.has_mask(mask, mh))?;
        let w = key.words();
        st.find(st.hash(w), w).map(|e| &st.values[e])
    }

    /// The first entry (in rank order) that `flow` matches.
    pub fn lookup(&self, flow: &Flow) -> Option<&T> {
        self.lookup_key(&FlowKey::new(flow)).0
    }

    /// The first entry (in rank order) that the packed flow `key` matches,
    /// and the number of subtables visited to find it (all of them on a
    /// miss).
    #[inline]
    pub fn lookup_key(&self, key: &FlowKey) -> (Option<&T>, usize) {
        let w = key.words();
        for (pos, st) in self.subtables.iter().enumerate() {
            if let Some(e) = st.find(st.hash(w), w) {
                st.hits.set(st.hits.get() + 1);
                return (Some(&st.values[e]), pos + 1);
            }
        }
        (None, self.subtables.len())
    }

    /// Looks up each of `flows`, writing the result for `flows[i]` to
    /// `out[i]` (`None` on a miss). Packs the flows itself; see
    /// [`Classifier::lookup_batch_keys`] when they are packed already.
    /// Only `min(flows.len(), out.len())` flows are looked up.
    pub fn lookup_batch<'a>(&'a self, flows: &[Flow], out: &mut [Option<&'a T>]) -> LookupStats {
        let mut stats = LookupStats::default();
        let mut packed: [FlowKey; CHUNK] = std::array::from_fn(|_| FlowKey::default());
        for (flows, out) in flows.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            for (k, f) in packed.iter_mut().zip(flows) {
                *k = FlowKey::new(f);
            }
            let refs: [&FlowKey; CHUNK] = std::array::from_fn(|i| &packed[i]);
            let n = flows.len().min(out.len());
            self.lookup_chunk(&refs[..n], &mut out[..n], &mut stats);
        }
        stats
    }

    /// Looks up each of `keys`, writing the result for `keys[i]` to
    /// `out[i]` (`None` on a miss). Only `min(keys.len(), out.len())` keys
    /// are looked up.
    pub fn lookup_batch_keys<'a>(
        &'a self,
        keys: &[&FlowKey],
        out: &mut [Option<&'a T>],
    ) -> LookupStats {
        let mut stats = LookupStats::default();
        for (keys, out) in keys.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
            let n = keys.len().min(out.len());
            self.lookup_chunk(&keys[..n], &mut out[..n], &mut stats);
        }
        stats
    }

    /// One chunk of at most [`CHUNK`] packets, `keys.len() == out.len()`.
    #[inline]
    fn lookup_chunk<'a>(
        &'a self,
        keys: &[&FlowKey],
        out: &mut [Option<&'a T>],
        stats: &mut LookupStats,
    ) {
        debug_assert!(keys.len() <= CHUNK && keys.len() == out.len());
        out.fill(None);
        let mut remaining: u64 = (1u64 << keys.len()) - 1;
        let mut hashes = [0u64; CHUNK];
        for (pos, st) in self.subtables.iter().enumerate() {
            if remaining == 0 {
                break;
            }
            let mut bits = remaining;
            while bits != 0 {
                let j = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                hashes[j] = st.hash(keys[j].words());
            }
            let mut bits = remaining;
            let mut hits = 0;
            while bits != 0 {
                let j = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                if let Some(e) = st.find(hashes[j], keys[j].words()) {
                    out[j] = Some(&st.values[e]);
                    remaining &= !(1u64 << j);
                    hits += 1;
                }
            }
            if hits != 0 {
                st.hits.set(st.hits.get() + hits);
                stats.hits += hits;
                stats.masks_visited += hits * (pos as u64 + 1);
            }
        }
    }

    /// Re-ranks the subtables by the packets each matched since the last
    /// call, busiest first (ties keep their order), and restarts the
    /// counts. Call it periodically from the owning thread.
    pub fn sort_subtables(&mut self) {
        let sorted = self
            .subtables
            .windows(2)
            .all(|p| p[0].hits.get() >= p[1].hits.get());
        if !sorted {
            self.subtables.sort_by_key(|s| Reverse(s.hits.get()));
        }
        for s in &self.subtables {
            s.hits.set(0);
        }
    }

    /// The masks in visiting order, each with its number of entries and the
    /// packets it matched since the last [`Classifier::sort_subtables`].
    pub fn masks(&self) -> impl Iterator<Item = (FlowKey, usize, u64)> + '_ {
        self.subtables
            .iter()
            .map(|s| (s.mask_key(), s.len(), s.hits.get()))
    }

    /// Every entry as (masked key, mask, value), subtable by subtable.
    pub fn iter(&self) -> impl Iterator<Item = (FlowKey, FlowKey, &T)> + '_ {
        self.subtables.iter().flat_map(|s| {
            let mask = s.mask_key();
            s.values
                .iter()
                .enumerate()
                .map(move |(e, v)| (s.entry_key(e), mask.clone(), v))
        })
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.subtables.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(in_port: u32, nw_src: u32, tp_dst: u16) -> Flow {
        Flow {
            in_port,
            nw_src,
            tp_dst,
            dl_type: 0x0800,
            ..Flow::default()
        }
    }

    fn mask(in_port: u32, nw_src: u32, tp_dst: u16) -> Flow {
        flow(in_port, nw_src, tp_dst)
    }

    #[test]
    fn duplicate_insert_fails_and_returns_value() {
        let mut c = Classifier::new();
        let m = mask(!0, 0xffff_ff00, 0);
        assert_eq!(c.insert(&flow(1, 0x0a00_0001, 80), &m, "a"), Ok(()));
        // Same masked key (differs only in masked-out bits).
        assert_eq!(c.insert(&flow(1, 0x0a00_00ff, 22), &m, "b"), Err("b"));
        // Same key, different mask: a different entry.
        assert_eq!(
            c.insert(&flow(1, 0x0a00_0001, 80), &mask(!0, !0, !0), "c"),
            Ok(())
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c.n_masks(), 2);
    }

    #[test]
    fn lookup_respects_mask() {
        let mut c = Classifier::new();
        c.insert(&flow(1, 0x0a00_0000, 0), &mask(!0, 0xffff_0000, 0), 1)
            .unwrap();
        assert_eq!(c.lookup(&flow(1, 0x0a00_1234, 443)), Some(&1));
        assert_eq!(c.lookup(&flow(2, 0x0a00_1234, 443)), None);
        assert_eq!(c.lookup(&flow(1, 0x0a01_1234, 443)), None);
    }

    #[test]
    fn removal_keeps_other_entries_and_drops_empty_masks() {
        let mut c = Classifier::new();
        let m = mask(!0, !0, 0);
        for i in 0..100u32 {
            c.insert(&flow(1, i, 0), &m, i).unwrap();
        }
        c.insert(&flow(2, 0, 0), &mask(!0, 0, 0), 1000).unwrap();
        assert_eq!(c.n_masks(), 2);
        // Remove every even entry, in an order that exercises the swap.
        for i in (0..100u32).step_by(2) {
            assert_eq!(c.remove(&flow(1, i, 7), &m), Some(i));
            assert_eq!(c.remove(&flow(1, i, 7), &m), None);
        }
        assert_eq!(c.len(), 51);
        for i in 0..100u32 {
            let want = (i % 2 == 1).then_some(i);
            assert_eq!(c.lookup(&flow(1, i, 9)).copied(), want, "{i}");
        }
        assert_eq!(c.remove(&flow(2, 5, 5), &mask(!0, 0, 0)), Some(1000));
        assert_eq!(c.n_masks(), 1);
        assert_eq!(c.remove(&flow(2, 5, 5), &mask(!0, 0, 0)), None);
        for i in (1..100u32).step_by(2) {
            assert_eq!(c.remove(&flow(1, i, 7), &m), Some(i));
        }
        assert!(c.is_empty());
        assert_eq!(c.n_masks(), 0);
        assert_eq!(c.lookup(&flow(1, 1, 1)), None);
    }

    #[test]
    fn ranking_moves_busy_subtable_first() {
        let mut c = Classifier::new();
        // Three masks, non-overlapping by in_port.
        c.insert(&flow(1, 0, 0), &mask(!0, 0, 0), "port1").unwrap();
        c.insert(&flow(2, 5, 0), &mask(!0, !0, 0), "port2").unwrap();
        c.insert(&flow(3, 5, 80), &mask(!0, !0, !0), "port3")
            .unwrap();
        let k3 = FlowKey::new(&flow(3, 5, 80));
        assert_eq!(c.lookup_key(&k3), (Some(&"port3"), 3));
        for _ in 0..10 {
            c.lookup(&flow(3, 5, 80));
        }
        c.lookup(&flow(2, 5, 0));
        let hits: Vec<u64> = c.masks().map(|(_, _, h)| h).collect();
        assert_eq!(hits, vec![0, 1, 11]);
        c.sort_subtables();
        assert_eq!(c.lookup_key(&k3), (Some(&"port3"), 1));
        let k2 = FlowKey::new(&flow(2, 5, 0));
        assert_eq!(c.lookup_key(&k2), (Some(&"port2"), 2));
        let order: Vec<usize> = c
            .masks()
            .map(|(m, _, _)| m.words().iter().filter(|&&w| w != 0).count())
            .collect();
        // port3's mask touches the in_port, dl_type, nw_src and tp_dst
        // words; port1's only in_port's and dl_type's.
        assert_eq!(order, vec![4, 3, 2]);
        // Counters restarted.
        assert!(c.masks().all(|(_, _, h)| h <= 1));
    }

    #[test]
    fn batch_matches_single_lookups_and_counts_masks() {
        let mut c = Classifier::new();
        for p in 0..8u32 {
            // Mask p: in_port plus p low bits of nw_src.
            let m = mask(!0, (1u32 << p) - 1, 0);
            c.insert(&flow(p, 3, 0), &m, p).unwrap();
        }
        let flows: Vec<Flow> = (0..70u32)
            .map(|i| flow(i % 10, 3 + (i / 10) * 256, 1))
            .collect();
        let mut out = vec![None; flows.len()];
        let stats = c.lookup_batch(&flows, &mut out);
        let mut want_stats = LookupStats::default();
        for (f, o) in flows.iter().zip(&out) {
            let (v, visited) = c.lookup_key(&FlowKey::new(f));
            assert_eq!(*o, v);
            if v.is_some() {
                want_stats.hits += 1;
                want_stats.masks_visited += visited as u64;
            }
        }
        assert_eq!(stats, want_stats);
        assert!(stats.hits > 0 && stats.hits < 70);
    }

    #[test]
    fn catch_all_mask() {
        let mut c = Classifier::new();
        c.insert(&flow(9, 9, 9), &Flow::default(), "any").unwrap();
        assert_eq!(
            c.insert(&flow(1, 1, 1), &Flow::default(), "dup"),
            Err("dup")
        );
        assert_eq!(c.lookup(&flow(5, 6, 7)), Some(&"any"));
        let (k, m, v) = c.iter().next().unwrap();
        assert!(k.is_zero() && m.is_zero());
        assert_eq!(*v, "any");
    }

    #[test]
    fn iter_gives_masked_keys() {
        let mut c = Classifier::new();
        c.insert(&flow(1, 0x0a00_0001, 80), &mask(!0, 0xffff_ff00, 0), 7)
            .unwrap();
        let all: Vec<_> = c.iter().collect();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0.to_flow(), flow(1, 0x0a00_0000, 0));
        assert_eq!(all[0].1.to_flow(), mask(!0, 0xffff_ff00, 0));
    }
}
