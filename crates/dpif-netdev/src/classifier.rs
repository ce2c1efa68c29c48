//! The megaflow classifier: which installed flow (key under mask) a packet
//! matches.
//!
//! # Structure
//!
//! Entries are grouped by mask: one `Subtable` per distinct mask. A
//! subtable knows which words of a [`FlowKey`] its mask touches (usually a
//! handful of the 71: an IPv4 5-tuple megaflow touches 4) and stores, per
//! entry, only those words of the masked key, next to the value. Its table
//! type is specialized for that word count, so masking, hashing and
//! comparing are straight-line code over a fixed-size array. Looking a
//! packet up in a subtable costs: gather and mask `n` words, hash them,
//! check a 16-bit summary of the home bucket (most misses stop here), read
//! one 64-byte bucket of tags, compare `n` words of the candidate entry.
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
//! still-unmatched packets of a batch, in two passes: the first hashes
//! every packet and reads its bucket, so the cache misses of different
//! packets overlap; the second compares.
//!
//! Insertion and removal (control path) cost a scan of the subtables'
//! 64-bit mask hashes plus one table operation; a table doubles its index
//! when three quarters full and never allocates on lookup.

use std::cell::Cell;
use std::cmp::Reverse;

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

/// Slots per [`Bucket`].
const SLOTS: usize = 7;

/// One cache line of a [`Table`]'s index: up to [`SLOTS`] entries, each as
/// a 32-bit tag (high hash bits, never 0; 0 marks a free slot) and the
/// entry's position in [`Table::entries`].
#[derive(Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    tags: [u32; SLOTS],
    /// Entries stored past this bucket although their home is here or
    /// before (linear probing); lookups go on to the next bucket only when
    /// it is nonzero. Kept exact on removal, so no tombstones are needed.
    overflow: u32,
    idx: [u32; SLOTS],
}

impl Bucket {
    /// Bit `s` set where slot `s` holds `tag` (branch-free).
    #[inline(always)]
    fn matches(&self, tag: u32) -> u32 {
        let mut m = 0;
        for (s, &t) in self.tags.iter().enumerate() {
            m |= u32::from(t == tag) << s;
        }
        m
    }
}

/// An entry's bit in its home bucket's summary (hash bits 28..32, which
/// neither the tag nor, below 2^28 buckets, the bucket index uses).
#[inline(always)]
fn sig_bit(h: u64) -> u16 {
    1 << ((h >> 28) & 15)
}

#[inline(always)]
fn tag_of(h: u64) -> u32 {
    (h >> 32) as u32 | 1
}

/// The entries of one mask whose masked key has `K` words (the mask's word
/// count, or more with zero padding).
///
/// A hash table of our own: an index of cache-line [`Bucket`]s (linear
/// probing between buckets) over a dense array of (masked key, value).
/// Written here rather than using a general-purpose map so that a batch
/// lookup can first hash every packet and touch its bucket, letting the
/// CPU overlap the cache misses of all packets, and only then compare.
struct Table<T, const K: usize> {
    /// Words the mask touches (`n <= K`).
    n: usize,
    /// Index in [`FlowKey::words`] of each word the mask touches; 0 past `n`.
    idx: [u8; K],
    /// The mask's value of each of those words; 0 past `n`.
    mask: [u64; K],
    /// The index; its length is a power of two.
    buckets: Vec<Bucket>,
    /// Per bucket, a 16-bit summary of the entries whose home it is (bit
    /// [`sig_bit`] of each entry's hash). A lookup whose bit is clear is a
    /// miss without reading the bucket: with a large table, most subtables
    /// a packet visits miss, and this small array stays in cache where the
    /// buckets would not.
    summary: Vec<u16>,
    /// (masked key words, value) per entry.
    entries: Vec<([u64; K], T)>,
}

#[inline(always)]
fn hash_key<const K: usize>(key: &[u64; K]) -> u64 {
    let mut h = HASH_SEED;
    for &x in key {
        h = hash_word(h, x);
    }
    hash_finish(h)
}

/// Branch-free comparison (`==` on arrays would call `memcmp`).
#[inline(always)]
fn same_key<const K: usize>(a: &[u64; K], b: &[u64; K]) -> bool {
    a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl<T, const K: usize> Table<T, K> {
    fn new(idx: &[u8], mask: &[u64]) -> Table<T, K> {
        Table {
            n: idx.len().min(K),
            idx: std::array::from_fn(|t| idx.get(t).copied().unwrap_or(0)),
            mask: std::array::from_fn(|t| mask.get(t).copied().unwrap_or(0)),
            buckets: vec![Bucket::default()],
            summary: vec![0],
            entries: Vec::new(),
        }
    }

    /// The words of `w` under the mask.
    #[inline(always)]
    fn masked(&self, w: &[u64; N_WORDS]) -> [u64; K] {
        // Clamping lets the compiler drop the bounds checks.
        std::array::from_fn(|t| w[usize::from(self.idx[t]).min(N_WORDS - 1)] & self.mask[t])
    }

    #[inline(always)]
    fn home(&self, h: u64) -> usize {
        h as usize & (self.buckets.len() - 1)
    }

    #[inline(always)]
    fn next(&self, b: usize) -> usize {
        (b + 1) & (self.buckets.len() - 1)
    }

    /// The bucket and slot holding the entry with `key` (hash `h`).
    #[inline(always)]
    fn locate(&self, key: &[u64; K], h: u64) -> Option<(usize, usize)> {
        let tag = tag_of(h);
        let mut b = self.home(h);
        if self.summary[b] & sig_bit(h) == 0 {
            return None;
        }
        // Bounded: probing never passes more buckets than there are.
        for _ in 0..self.buckets.len() {
            let bucket = &self.buckets[b];
            let mut m = bucket.matches(tag);
            while m != 0 {
                let s = m.trailing_zeros() as usize;
                m &= m - 1;
                let e = bucket.idx[s] as usize;
                if self.entries.get(e).is_some_and(|(k, _)| same_key(k, key)) {
                    return Some((b, s));
                }
            }
            if bucket.overflow == 0 {
                return None;
            }
            b = self.next(b);
        }
        None
    }

    #[inline(always)]
    fn find(&self, key: &[u64; K]) -> Option<&T> {
        let (b, s) = self.locate(key, hash_key(key))?;
        self.entries
            .get(self.buckets[b].idx[s] as usize)
            .map(|(_, v)| v)
    }

    /// Puts entry `e` (hash `h`) in the first free slot from its home on.
    fn place(&mut self, e: usize, h: u64) {
        let mut b = self.home(h);
        self.summary[b] |= sig_bit(h);
        for _ in 0..self.buckets.len() {
            let bucket = &mut self.buckets[b];
            if let Some(s) = bucket.tags.iter().position(|&t| t == 0) {
                bucket.tags[s] = tag_of(h);
                bucket.idx[s] = e as u32;
                return;
            }
            bucket.overflow += 1;
            b = self.next(b);
        }
        debug_assert!(false, "table full");
    }

    /// Doubles the index when it is 3/4 full.
    fn reserve_one(&mut self) {
        if (self.entries.len() + 1) * 4 <= self.buckets.len() * SLOTS * 3 {
            return;
        }
        self.buckets = vec![Bucket::default(); self.buckets.len() * 2];
        self.summary = vec![0; self.buckets.len()];
        for e in 0..self.entries.len() {
            let h = hash_key(&self.entries[e].0);
            self.place(e, h);
        }
    }

    fn insert(&mut self, w: &[u64; N_WORDS], value: T) -> Result<(), T> {
        let key = self.masked(w);
        if self.find(&key).is_some() {
            return Err(value);
        }
        self.reserve_one();
        let e = self.entries.len();
        self.entries.push((key, value));
        self.place(e, hash_key(&key));
        Ok(())
    }

    /// Frees slot `s` of bucket `b`, which holds an entry whose hash is
    /// `h`, and undoes the overflow counts its insertion added.
    fn unplace(&mut self, b: usize, s: usize, h: u64) {
        self.buckets[b].tags[s] = 0;
        let home = self.home(h);
        let mut p = home;
        while p != b {
            self.buckets[p].overflow -= 1;
            p = self.next(p);
        }
        // Recompute the home's summary from the entries still homed there:
        // they sit in the home bucket or past it, up to the first bucket
        // that nothing overflowed.
        let mut sum = 0;
        let mut p = home;
        for _ in 0..self.buckets.len() {
            let bucket = &self.buckets[p];
            for (&t, &e) in bucket.tags.iter().zip(&bucket.idx) {
                if t != 0 {
                    if let Some((k, _)) = self.entries.get(e as usize) {
                        let hk = hash_key(k);
                        if self.home(hk) == home {
                            sum |= sig_bit(hk);
                        }
                    }
                }
            }
            if bucket.overflow == 0 {
                break;
            }
            p = self.next(p);
        }
        self.summary[home] = sum;
    }

    fn remove(&mut self, w: &[u64; N_WORDS]) -> Option<T> {
        let key = self.masked(w);
        let h = hash_key(&key);
        let (b, s) = self.locate(&key, h)?;
        let e = self.buckets[b].idx[s] as usize;
        self.unplace(b, s, h);
        let last = self.entries.len() - 1;
        if e != last {
            // The last entry moves to `e`: repoint its slot.
            let lk = self.entries[last].0;
            if let Some((lb, ls)) = self.locate(&lk, hash_key(&lk)) {
                self.buckets[lb].idx[ls] = e as u32;
            }
        }
        Some(self.entries.swap_remove(e).1)
    }

    /// Looks up the packets of `keys` whose bit is set in `pending`,
    /// writing each match to `out`; returns the bits of the packets found.
    ///
    /// First hashes every packet, drops those its summary rules out, and
    /// reads the home bucket of the others (the reads of different packets
    /// proceed in parallel); then compares.
    #[inline(always)]
    fn probe<'a>(
        &'a self,
        keys: &[&FlowKey],
        pending: u64,
        out: &mut [Option<&'a T>],
        loc: &mut [u32; CHUNK],
    ) -> u64 {
        if pending & pending.wrapping_sub(1) == 0 {
            // A single packet: nothing to overlap.
            let j = pending.trailing_zeros() as usize % CHUNK;
            let (Some(key), Some(o)) = (keys.get(j), out.get_mut(j)) else {
                return 0;
            };
            let key = self.masked(key.words());
            let Some((b, s)) = self.locate(&key, hash_key(&key)) else {
                return 0;
            };
            let e = self.buckets[b].idx[s];
            *o = self.entries.get(e as usize).map(|(_, v)| v);
            loc[j] = e;
            return u64::from(o.is_some()) << j;
        }
        // Four passes, each starting the memory reads the next needs for
        // every packet: hash and prefetch the summaries; check them and
        // prefetch the home buckets; find the first candidate entry in
        // each and prefetch it; compare.
        let mut hashes = [0u64; CHUNK];
        let mut bits = pending;
        while bits != 0 {
            let j = bits.trailing_zeros() as usize % CHUNK;
            bits &= bits - 1;
            let Some(key) = keys.get(j) else { break };
            let h = hash_key(&self.masked(key.words()));
            hashes[j] = h;
            crate::sys::prefetch(&self.summary[self.home(h)]);
        }
        let mut candidates = 0u64;
        let mut bits = pending;
        while bits != 0 {
            let j = bits.trailing_zeros() as usize % CHUNK;
            bits &= bits - 1;
            let h = hashes[j];
            let b = self.home(h);
            if self.summary[b] & sig_bit(h) != 0 {
                crate::sys::prefetch(&self.buckets[b]);
                candidates |= 1u64 << j;
            }
        }
        let mut bits = candidates;
        while bits != 0 {
            let j = bits.trailing_zeros() as usize % CHUNK;
            bits &= bits - 1;
            let h = hashes[j];
            let bucket = &self.buckets[self.home(h)];
            let m = bucket.matches(tag_of(h));
            if m != 0 {
                let e = bucket.idx[m.trailing_zeros() as usize % SLOTS] as usize;
                if let Some(entry) = self.entries.get(e) {
                    crate::sys::prefetch(entry);
                }
            }
        }
        let mut found = 0;
        let mut bits = candidates;
        while bits != 0 {
            let j = bits.trailing_zeros() as usize % CHUNK;
            bits &= bits - 1;
            let Some(key) = keys.get(j) else { break };
            // Masking again is cheaper than keeping every masked key.
            if let Some((b, s)) = self.locate(&self.masked(key.words()), hashes[j]) {
                let e = self.buckets[b].idx[s];
                if let (Some((_, v)), Some(o)) = (self.entries.get(e as usize), out.get_mut(j)) {
                    *o = Some(v);
                    loc[j] = e;
                    found |= 1u64 << j;
                }
            }
        }
        found
    }

    /// Starts loading entry `e` (see [`crate::sys::prefetch`]).
    #[inline(always)]
    fn prefetch_entry(&self, e: u32) {
        if let Some(entry) = self.entries.get(e as usize) {
            crate::sys::prefetch(entry);
        }
    }

    /// The value of entry `e` if `w` matches it under the mask.
    #[inline(always)]
    fn verify(&self, w: &[u64; N_WORDS], e: u32) -> Option<&T> {
        let (k, v) = self.entries.get(e as usize)?;
        same_key(k, &self.masked(w)).then_some(v)
    }

    /// Every entry as (masked key, value).
    fn entries(&self) -> impl Iterator<Item = (FlowKey, &T)> + '_ {
        self.entries.iter().map(|(k, v)| {
            let mut w = [0; N_WORDS];
            for t in 0..self.n {
                w[usize::from(self.idx[t]).min(N_WORDS - 1)] = k[t];
            }
            (FlowKey::from_words(w), v)
        })
    }
}

/// A [`Table`] sized for its mask: exact word counts up to 8 (the common
/// megaflow masks), padded sizes beyond (boxed, to keep this enum small).
enum Store<T> {
    K0(Table<T, 0>),
    K1(Table<T, 1>),
    K2(Table<T, 2>),
    K3(Table<T, 3>),
    K4(Table<T, 4>),
    K5(Table<T, 5>),
    K6(Table<T, 6>),
    K7(Table<T, 7>),
    K8(Table<T, 8>),
    K12(Box<Table<T, 12>>),
    K16(Box<Table<T, 16>>),
    K32(Box<Table<T, 32>>),
    KAll(Box<Table<T, N_WORDS>>),
}

/// Runs `$body` with `$t` bound to the [`Table`] inside a [`Store`].
macro_rules! with_table {
    ($store:expr, $t:ident => $body:expr) => {
        match $store {
            Store::K0($t) => $body,
            Store::K1($t) => $body,
            Store::K2($t) => $body,
            Store::K3($t) => $body,
            Store::K4($t) => $body,
            Store::K5($t) => $body,
            Store::K6($t) => $body,
            Store::K7($t) => $body,
            Store::K8($t) => $body,
            Store::K12($t) => $body,
            Store::K16($t) => $body,
            Store::K32($t) => $body,
            Store::KAll($t) => $body,
        }
    };
}

impl<T> Store<T> {
    fn new(idx: &[u8], mask: &[u64]) -> Store<T> {
        match idx.len() {
            0 => Store::K0(Table::new(idx, mask)),
            1 => Store::K1(Table::new(idx, mask)),
            2 => Store::K2(Table::new(idx, mask)),
            3 => Store::K3(Table::new(idx, mask)),
            4 => Store::K4(Table::new(idx, mask)),
            5 => Store::K5(Table::new(idx, mask)),
            6 => Store::K6(Table::new(idx, mask)),
            7 => Store::K7(Table::new(idx, mask)),
            8 => Store::K8(Table::new(idx, mask)),
            9..=12 => Store::K12(Box::new(Table::new(idx, mask))),
            13..=16 => Store::K16(Box::new(Table::new(idx, mask))),
            17..=32 => Store::K32(Box::new(Table::new(idx, mask))),
            _ => Store::KAll(Box::new(Table::new(idx, mask))),
        }
    }
}

/// All entries sharing one mask.
struct Subtable<T> {
    /// The entries, in a table specialized for the mask's word count.
    store: Store<T>,
    /// The subtable's name in signature-cache entries: stays the same
    /// when the subtables are re-ranked, so re-ranking keeps the cache.
    id: u16,
    /// Packets matched since the last re-ranking.
    hits: Cell<u64>,
    /// Hash of the mask, to find a subtable by mask quickly.
    mask_hash: u64,
    /// Number of entries.
    len: usize,
    /// The mask (for finding the subtable and listing it; boxed, as it is
    /// cold and large).
    mask: Box<FlowKey>,
}

impl<T> Subtable<T> {
    fn new(mask: &FlowKey, id: u16) -> Subtable<T> {
        let (idx, words): (Vec<u8>, Vec<u64>) = mask
            .words()
            .iter()
            .enumerate()
            .filter(|(_, &m)| m != 0)
            .map(|(i, &m)| (i as u8, m))
            .unzip();
        Subtable {
            store: Store::new(&idx, &words),
            id,
            hits: Cell::new(0),
            mask_hash: mask_hash(mask),
            len: 0,
            mask: Box::new(mask.clone()),
        }
    }

    /// Whether this subtable's mask is `mask` (whose hash is `h`).
    fn has_mask(&self, mask: &FlowKey, h: u64) -> bool {
        self.mask_hash == h && *self.mask == *mask
    }

    fn find(&self, w: &[u64; N_WORDS]) -> Option<&T> {
        with_table!(&self.store, t => t.find(&t.masked(w)))
    }

    fn insert(&mut self, w: &[u64; N_WORDS], value: T) -> Result<(), T> {
        with_table!(&mut self.store, t => t.insert(w, value))?;
        self.len += 1;
        Ok(())
    }

    fn remove(&mut self, w: &[u64; N_WORDS]) -> Option<T> {
        let v = with_table!(&mut self.store, t => t.remove(w))?;
        self.len -= 1;
        Some(v)
    }

    #[inline]
    fn probe<'a>(
        &'a self,
        keys: &[&FlowKey],
        pending: u64,
        out: &mut [Option<&'a T>],
        loc: &mut [u32; CHUNK],
    ) -> u64 {
        with_table!(&self.store, t => t.probe(keys, pending, out, loc))
    }

    #[inline]
    fn verify(&self, w: &[u64; N_WORDS], e: u32) -> Option<&T> {
        with_table!(&self.store, t => t.verify(w, e))
    }

    #[inline]
    fn prefetch_entry(&self, e: u32) {
        with_table!(&self.store, t => t.prefetch_entry(e))
    }

    /// Sum of the overflow counts of the index (0 when no entry sits
    /// past its home bucket).
    #[cfg(test)]
    fn overflow_sum(&self) -> u64 {
        with_table!(&self.store, t => t.buckets.iter().map(|b| u64::from(b.overflow)).sum())
    }

    fn entries(&self) -> Box<dyn Iterator<Item = (FlowKey, &T)> + '_> {
        with_table!(&self.store, t => Box::new(t.entries()))
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
    /// The position in `subtables` of the subtable with each id
    /// ([`NO_SUBTABLE`] for an unused id).
    pos_of_id: Vec<u16>,
    /// Total number of entries.
    len: usize,
    /// The signature cache of [`Classifier::lookup_batch_cached`]
    /// (allocated by [`Classifier::enable_smc`]).
    smc: Box<[SmcBucket]>,
    /// Adaptive use of the signature cache: skipped (but for one batch in
    /// [`SMC_PROBE_EVERY`]) while its hit rate stays below
    /// [`SMC_MIN_HIT_PCT`]%, re-decided by [`Classifier::sort_subtables`].
    smc_off: Cell<bool>,
    smc_batches: Cell<u64>,
    smc_lookups: Cell<u64>,
    smc_hits: Cell<u64>,
}

/// Hit rate (percent) below which the signature cache is skipped.
const SMC_MIN_HIT_PCT: u64 = 20;
/// While skipped, one batch in this many still uses the signature cache.
const SMC_PROBE_EVERY: u64 = 16;

/// One cache line of the signature cache: [`SMC_WAYS`] entries (see
/// [`smc_entry`]) for the hashes whose low bits pick this bucket.
#[derive(Default)]
#[repr(C, align(64))]
struct SmcBucket {
    ways: [Cell<u64>; SMC_WAYS],
}

/// Entries per signature-cache bucket.
const SMC_WAYS: usize = 8;

impl SmcBucket {
    /// The entry for signature `sig`, if any.
    #[inline]
    fn find(&self, sig: u64) -> Option<u64> {
        self.ways
            .iter()
            .map(Cell::get)
            .find(|&e| e != 0 && e >> 48 == sig)
    }

    /// Stores `entry` over the entry with the same signature, else an
    /// empty one, else the one `victim` picks.
    fn store(&self, entry: u64, victim: usize) {
        let sig = entry >> 48;
        let way = self
            .ways
            .iter()
            .position(|w| w.get() >> 48 == sig && w.get() != 0)
            .or_else(|| self.ways.iter().position(|w| w.get() == 0))
            .unwrap_or(victim % SMC_WAYS);
        self.ways[way].set(entry);
    }
}

impl<T> Default for Classifier<T> {
    fn default() -> Self {
        Classifier {
            subtables: Vec::new(),
            pos_of_id: Vec::new(),
            len: 0,
            smc: Box::new([]),
            smc_off: Cell::new(false),
            smc_batches: Cell::new(0),
            smc_lookups: Cell::new(0),
            smc_hits: Cell::new(0),
        }
    }
}

/// Entries of the signature cache (a power of two): 2 MiB, in buckets
/// of eight (one cache line), room for a few hundred thousand microflows.
pub const SMC_ENTRIES: usize = 1 << 18;

/// An unused subtable id in [`Classifier::pos_of_id`].
const NO_SUBTABLE: u16 = u16::MAX;

/// A signature-cache entry: the packet hash's high 16 bits, the subtable's
/// id (15 bits) and a valid bit, the entry's index in its table. 0 is an
/// empty entry.
fn smc_entry(hash: u32, id: u16, e: u32) -> u64 {
    u64::from(hash >> 16) << 48 | 1 << 47 | (u64::from(id) & 0x7fff) << 32 | u64::from(e)
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
                // The lowest free id (ids above 0x7fff do not fit a
                // signature-cache entry: those subtables are never cached).
                let id = match self.pos_of_id.iter().position(|&p| p == NO_SUBTABLE) {
                    Some(id) => id,
                    None => {
                        self.pos_of_id.push(NO_SUBTABLE);
                        self.pos_of_id.len() - 1
                    }
                };
                self.subtables.push(Subtable::new(mask, id as u16));
                self.reindex();
                self.subtables.len() - 1
            }
        };
        self.subtables[pos].insert(key.words(), value)?;
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
        let value = st.remove(key.words())?;
        self.len -= 1;
        if st.len == 0 {
            // Signature-cache entries naming its id stay: whatever they
            // point to is checked before use.
            self.subtables.remove(pos);
            self.reindex();
        }
        Some(value)
    }

    /// The value of the entry exactly at this mask and masked key.
    pub fn get(&self, key: &FlowKey, mask: &FlowKey) -> Option<&T> {
        let mh = mask_hash(mask);
        let st = self.subtables.iter().find(|s| s.has_mask(mask, mh))?;
        st.find(key.words())
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
        let mut out = [None];
        let stats = self.lookup_chunk(&[key], &mut out);
        match out[0] {
            Some(v) => (Some(v), stats.masks_visited as usize),
            None => (None, self.subtables.len()),
        }
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
            let s = self.lookup_chunk(&refs[..n], &mut out[..n]);
            stats.hits += s.hits;
            stats.masks_visited += s.masks_visited;
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
            let s = self.lookup_chunk(&keys[..n], &mut out[..n]);
            stats.hits += s.hits;
            stats.masks_visited += s.masks_visited;
        }
        stats
    }

    /// One chunk of at most [`CHUNK`] packets, `keys.len() == out.len()`.
    #[inline]
    fn lookup_chunk<'a>(&'a self, keys: &[&FlowKey], out: &mut [Option<&'a T>]) -> LookupStats {
        out.fill(None);
        let pending: u64 = (1u64 << keys.len().min(CHUNK)) - 1;
        let mut loc = [0u32; CHUNK];
        let mut pos = [0u16; CHUNK];
        self.lookup_pending(keys, pending, out, &mut loc, &mut pos)
    }

    /// Looks up the packets of `keys` whose bit is in `pending`, writing
    /// each match to `out` and where it was found to `pos_of` (subtable
    /// id) and `loc` (entry index).
    #[inline]
    fn lookup_pending<'a>(
        &'a self,
        keys: &[&FlowKey],
        mut pending: u64,
        out: &mut [Option<&'a T>],
        loc: &mut [u32; CHUNK],
        pos_of: &mut [u16; CHUNK],
    ) -> LookupStats {
        debug_assert!(keys.len() <= CHUNK && keys.len() == out.len());
        let mut stats = LookupStats::default();
        for (pos, st) in self.subtables.iter().enumerate() {
            if pending == 0 {
                break;
            }
            let found = st.probe(keys, pending, out, loc);
            if found != 0 {
                pending &= !found;
                let hits = u64::from(found.count_ones());
                st.hits.set(st.hits.get() + hits);
                stats.hits += hits;
                stats.masks_visited += hits * (pos as u64 + 1);
                let mut bits = found;
                while bits != 0 {
                    let j = bits.trailing_zeros() as usize % CHUNK;
                    bits &= bits - 1;
                    pos_of[j] = st.id;
                }
            }
        }
        stats
    }

    /// [`Classifier::lookup_batch_keys`] for at most 32 packets, in front
    /// of which sits a signature cache (OVS's SMC): `hashes[i]` (a hash of
    /// the whole packet key, such as [`FlowKey::emc_hash`]) picks an entry
    /// that remembers where a packet with that hash last matched (subtable
    /// and entry); the packet is checked against that one entry, under its
    /// subtable's mask, before any subtable is searched. A stale entry (the
    /// entry moved or was removed, subtables were re-ranked) only costs the
    /// check: whatever it points to is returned only if the packet matches
    /// it. With overlapping entries the cache may return a match other than
    /// the first in rank order (as an exact-match cache does). Returns the
    /// statistics of the subtable search (`hits` and `masks_visited` count
    /// only packets the cache did not answer) and the number of packets
    /// the cache answered.
    pub fn lookup_batch_cached<'a>(
        &'a self,
        keys: &[&FlowKey],
        hashes: &[u32],
        out: &mut [Option<&'a T>],
    ) -> (LookupStats, u64) {
        let n = keys.len().min(out.len()).min(hashes.len()).min(CHUNK);
        out.fill(None);
        // With one subtable, checking the cached entry costs as much as
        // searching; with a low hit rate the cache's own miss is wasted.
        let batches = self.smc_batches.get() + 1;
        self.smc_batches.set(batches);
        if self.smc.is_empty()
            || self.subtables.len() <= 1
            || (self.smc_off.get() && !batches.is_multiple_of(SMC_PROBE_EVERY))
        {
            return (self.lookup_chunk(&keys[..n], &mut out[..n]), 0);
        }
        let smc_mask = self.smc.len() - 1;
        // Three passes, each starting the memory reads of the next for
        // every packet: the buckets; the entries they name; the checks.
        for &h in &hashes[..n] {
            crate::sys::prefetch(&self.smc[h as usize & smc_mask]);
        }
        let mut cand: [Option<(&Subtable<T>, u32)>; CHUNK] = [const { None }; CHUNK];
        for (c, &h) in cand.iter_mut().zip(&hashes[..n]) {
            *c = self.smc[h as usize & smc_mask]
                .find(u64::from(h >> 16))
                .and_then(|e| {
                    let id = ((e >> 32) & 0x7fff) as usize;
                    let pos = *self.pos_of_id.get(id)?;
                    let st = self.subtables.get(usize::from(pos))?;
                    st.prefetch_entry(e as u32);
                    Some((st, e as u32))
                });
        }
        let mut pending = 0u64;
        let mut cached = 0u64;
        for j in 0..n {
            match cand[j].and_then(|(st, e)| st.verify(keys[j].words(), e)) {
                Some(v) => {
                    out[j] = Some(v);
                    cached += 1;
                }
                None => pending |= 1 << j,
            }
        }
        let mut stats = LookupStats::default();
        if pending != 0 {
            let mut loc = [0u32; CHUNK];
            let mut pos = [0u16; CHUNK];
            stats = self.lookup_pending(&keys[..n], pending, &mut out[..n], &mut loc, &mut pos);
            // Only packets the subtables found could have been cache hits.
            self.smc_lookups
                .set(self.smc_lookups.get() + stats.hits + cached);
            self.smc_hits.set(self.smc_hits.get() + cached);
            let mut bits = pending;
            while bits != 0 {
                let j = bits.trailing_zeros() as usize % CHUNK;
                bits &= bits - 1;
                if out[j].is_some() {
                    let h = hashes[j];
                    // The victim way: cheap pseudo-random bits of the hash.
                    let victim = (h >> 13) as usize ^ loc[j] as usize;
                    self.smc[h as usize & smc_mask].store(smc_entry(h, pos[j], loc[j]), victim);
                }
            }
        }
        if pending == 0 {
            self.smc_lookups.set(self.smc_lookups.get() + cached);
            self.smc_hits.set(self.smc_hits.get() + cached);
        }
        (stats, cached)
    }

    /// Turns on the signature cache of [`Classifier::lookup_batch_cached`]
    /// ([`SMC_ENTRIES`] entries).
    pub fn enable_smc(&mut self) {
        if self.smc.is_empty() {
            self.smc = (0..SMC_ENTRIES / SMC_WAYS)
                .map(|_| SmcBucket::default())
                .collect();
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
            self.reindex();
        }
        for s in &self.subtables {
            s.hits.set(0);
        }
        if self.smc_lookups.get() >= 1000 {
            self.smc_off
                .set(self.smc_hits.get() * 100 < self.smc_lookups.get() * SMC_MIN_HIT_PCT);
        }
        self.smc_lookups.set(0);
        self.smc_hits.set(0);
    }

    /// The masks in visiting order, each with its number of entries and the
    /// packets it matched since the last [`Classifier::sort_subtables`].
    pub fn masks(&self) -> impl Iterator<Item = (FlowKey, usize, u64)> + '_ {
        self.subtables
            .iter()
            .map(|s| ((*s.mask).clone(), s.len, s.hits.get()))
    }

    /// Every entry as (masked key, mask, value), subtable by subtable.
    pub fn iter(&self) -> impl Iterator<Item = (FlowKey, FlowKey, &T)> + '_ {
        self.subtables
            .iter()
            .flat_map(|s| s.entries().map(move |(k, v)| (k, (*s.mask).clone(), v)))
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.subtables.clear();
        self.pos_of_id.clear();
        self.len = 0;
        self.clear_smc();
    }

    /// Rebuilds `pos_of_id` from the subtables' order.
    fn reindex(&mut self) {
        self.pos_of_id.fill(NO_SUBTABLE);
        for (pos, st) in self.subtables.iter().enumerate() {
            if let Some(p) = self.pos_of_id.get_mut(usize::from(st.id)) {
                *p = pos as u16;
            }
        }
        while self.pos_of_id.last() == Some(&NO_SUBTABLE) {
            self.pos_of_id.pop();
        }
    }

    fn clear_smc(&self) {
        for b in self.smc.iter() {
            for w in &b.ways {
                w.set(0);
            }
        }
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

    #[test]
    fn every_mask_size() {
        // Masks touching the first `c` words, for every `c`: each lands in
        // a differently sized table.
        let mut c = Classifier::new();
        let mut rng = 0x1234_5678_u64;
        let mut keys = Vec::new();
        for count in 0..=N_WORDS {
            let mut m = [0u64; N_WORDS];
            for (i, w) in m.iter_mut().enumerate().take(count) {
                *w = !0u64 >> (i % 7);
            }
            // Distinct in_port per mask keeps the entries disjoint, except
            // for the catch-all (count 0), inserted last below.
            let mask = FlowKey::from_words(m);
            let mut k = [0u64; N_WORDS];
            for w in k.iter_mut() {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                *w = rng;
            }
            k[0] = count as u64 | 0xffff_ffff_0000_0000;
            let key = FlowKey::from_words(k);
            keys.push((key, mask));
        }
        for (n, (k, m)) in keys.iter().enumerate().rev() {
            assert_eq!(c.insert_key(k, m, n), Ok(()));
            assert_eq!(c.insert_key(k, m, n), Err(n));
        }
        assert_eq!(c.n_masks(), N_WORDS + 1);
        for (n, (k, m)) in keys.iter().enumerate() {
            let want = if n == 0 { Some(&0) } else { Some(&n) };
            assert_eq!(c.lookup_key(k).0, want, "{n}");
            assert_eq!(c.get(k, m), Some(&n));
            // Any bit flip under the mask misses this entry.
            if n > 0 {
                let mut w = *k.words();
                w[n - 1] ^= m.words()[n - 1] & m.words()[n - 1].wrapping_neg();
                assert_ne!(c.get(&FlowKey::from_words(w), m), Some(&n), "{n}");
            }
        }
        assert_eq!(c.iter().count(), N_WORDS + 1);
        for (n, (k, m)) in keys.iter().enumerate() {
            assert_eq!(c.remove_key(k, m), Some(n));
        }
        assert!(c.is_empty() && c.n_masks() == 0);
    }

    #[test]
    fn large_table_grow_and_random_removal() {
        let mut c = Classifier::new();
        let m = mask(!0, !0, !0);
        let n = 20_000u32;
        let key = |i: u32| flow(i % 7, i.wrapping_mul(2_654_435_761), (i % 1000) as u16);
        for i in 0..n {
            assert_eq!(c.insert(&key(i), &m, i), Ok(()));
        }
        // Remove a pseudo-random half.
        let gone = |i: u32| i.wrapping_mul(0x9e37_79b9).rotate_left(7) & 1 == 0;
        for i in (0..n).rev().filter(|&i| gone(i)) {
            assert_eq!(c.remove(&key(i), &m), Some(i));
        }
        for i in 0..n {
            let want = (!gone(i)).then_some(i);
            assert_eq!(c.lookup(&key(i)).copied(), want, "{i}");
        }
        // Reinsert the removed ones with new values; all are found again.
        for i in (0..n).filter(|&i| gone(i)) {
            assert_eq!(c.insert(&key(i), &m, i + n), Ok(()));
        }
        assert_eq!(c.len(), n as usize);
        assert!(c.subtables[0].overflow_sum() > 0, "test exercises overflow");
        let flows: Vec<Flow> = (0..n).map(key).collect();
        let mut out = vec![None; flows.len()];
        assert_eq!(c.lookup_batch(&flows, &mut out).hits, u64::from(n));
        for (i, o) in out.iter().enumerate() {
            let i = i as u32;
            assert_eq!(o.copied(), Some(if gone(i) { i + n } else { i }));
        }
        // Removing everything leaves exact (zero) overflow counts.
        let keep_one = key(n);
        c.insert(&keep_one, &m, 0).unwrap();
        for i in 0..n {
            assert!(c.remove(&key(i), &m).is_some());
        }
        assert_eq!(c.len(), 1);
        assert_eq!(c.subtables[0].overflow_sum(), 0);
        assert_eq!(c.lookup(&keep_one), Some(&0));
    }

    #[test]
    fn signature_cache_keeps_a_large_working_set_across_reranking() {
        // 16 masks, 1024 flows each; 65,536 microflows spread over them.
        let mut c = Classifier::new();
        c.enable_smc();
        for m in 0..16u32 {
            let mk = mask(!0, !0 << (m % 8), if m >= 8 { 0xffff } else { 0 });
            for i in 0..1024u32 {
                c.insert(&flow(1, (m << 24) | (i << 8), 80), &mk, m * 1024 + i)
                    .unwrap();
            }
        }
        let pkts: Vec<FlowKey> = (0..65_536u32)
            .map(|t| FlowKey::new(&flow(1, ((t % 16) << 24) | ((t / 16 % 1024) << 8), 80)))
            .collect();
        let pass = |c: &Classifier<u32>| {
            let mut cached = 0;
            for chunk in pkts.chunks(CHUNK) {
                let keys: Vec<&FlowKey> = chunk.iter().collect();
                let hashes: Vec<u32> = keys.iter().map(|k| k.emc_hash()).collect();
                let mut out = vec![None; keys.len()];
                let (stats, n) = c.lookup_batch_cached(&keys, &hashes, &mut out);
                assert_eq!(stats.hits + n, keys.len() as u64);
                cached += n;
            }
            cached
        };
        pass(&c);
        // Re-ranking keeps the cache: entries name subtables by id.
        c.sort_subtables();
        let cached = pass(&c);
        assert!(cached * 100 >= 95 * pkts.len() as u64, "{cached}");
    }

    #[test]
    fn signature_cache_answers_like_the_subtables_and_never_returns_removed_entries() {
        let mut c = Classifier::new();
        c.enable_smc();
        for i in 0..64u32 {
            let m = if i % 2 == 0 {
                mask(!0, 0xffff_ff00, 0)
            } else {
                mask(!0, 0xffff_ffff, 0xffff)
            };
            c.insert(&flow(1, 0x0a00_0000 + (i << 8) + i, 80), &m, i)
                .unwrap();
        }
        let pkts: Vec<FlowKey> = (0..96u32)
            .map(|i| FlowKey::new(&flow(1, 0x0a00_0000 + (i << 8) + i, 80)))
            .collect();
        let check = |c: &Classifier<u32>, expect: &dyn Fn(usize) -> Option<u32>| {
            for chunk in (0..pkts.len()).collect::<Vec<_>>().chunks(CHUNK) {
                let keys: Vec<&FlowKey> = chunk.iter().map(|&i| &pkts[i]).collect();
                let hashes: Vec<u32> = keys.iter().map(|k| k.emc_hash()).collect();
                let mut out = vec![None; keys.len()];
                let (_, cached) = c.lookup_batch_cached(&keys, &hashes, &mut out);
                for (o, &i) in out.iter().zip(chunk) {
                    assert_eq!(o.copied(), expect(i), "packet {i}");
                }
                let _ = cached;
            }
        };
        let all = |i: usize| (i < 64).then_some(i as u32);
        check(&c, &all);
        // The second time the cache answers.
        let keys: Vec<&FlowKey> = pkts[..CHUNK].iter().collect();
        let hashes: Vec<u32> = keys.iter().map(|k| k.emc_hash()).collect();
        let mut out = vec![None; CHUNK];
        let (stats, cached) = c.lookup_batch_cached(&keys, &hashes, &mut out);
        assert_eq!(cached, CHUNK as u64);
        assert_eq!(stats.hits, 0);
        // Removing entries (the last moves into their slots) never makes
        // the cache return them.
        for i in (0..64u32).step_by(3) {
            let m = if i % 2 == 0 {
                mask(!0, 0xffff_ff00, 0)
            } else {
                mask(!0, 0xffff_ffff, 0xffff)
            };
            assert_eq!(
                c.remove(&flow(1, 0x0a00_0000 + (i << 8) + i, 80), &m),
                Some(i)
            );
        }
        let after = |i: usize| (i < 64 && !i.is_multiple_of(3)).then_some(i as u32);
        check(&c, &after);
        check(&c, &after);
    }
}
