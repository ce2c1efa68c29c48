//! The connection table: every committed connection under both of its
//! keys (original and reply tuple, with the zone).
//!
//! # Concurrency
//!
//! The table is a lock-free hash map (papaya): a lookup never waits for
//! an insertion, a removal or a resize, and allocates nothing. A poll
//! thread pins the map once per batch and borrows entries for the whole
//! batch. Removed connections are freed once no pinned reader can see
//! them (epoch-based reclamation). Counters (total and per zone) are
//! atomics.

use std::collections::hash_map::RandomState;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::conn::Conn;
use crate::state::Dir;
use crate::tuple::ConnKey;

/// A table slot: a connection and which of its tuples the key is.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The connection.
    pub conn: Arc<Conn>,
    /// The direction whose tuple is this entry's key.
    pub dir: Dir,
}

/// Why a connection could not be inserted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertError {
    /// A connection with one of the same keys exists (a clash).
    Clash,
}

/// The connection table.
pub struct Table {
    map: papaya::HashMap<ConnKey, Entry, RandomState>,
    /// A second hasher for `ct-bkts` buckets.
    bkt_hasher: RandomState,
    count: AtomicU32,
    zone_count: Box<[AtomicU32]>,
    next_id: AtomicU32,
}

/// A pinned view of the table for one batch (an epoch guard).
pub type Guard<'a> = papaya::LocalGuard<'a>;

impl Table {
    /// An empty table. Keys are hashed with a per-table random SipHash
    /// key, so crafted tuples cannot flood one bucket chain.
    pub fn new() -> Table {
        Table {
            map: papaya::HashMap::builder()
                .hasher(RandomState::new())
                .resize_mode(papaya::ResizeMode::Incremental(1024))
                .build(),
            bkt_hasher: RandomState::new(),
            count: AtomicU32::new(0),
            zone_count: (0..=u16::MAX).map(|_| AtomicU32::new(0)).collect(),
            next_id: AtomicU32::new(1),
        }
    }

    /// Pins the table for a batch of lookups.
    pub fn guard(&self) -> Guard<'_> {
        self.map.guard()
    }

    /// The entry for `key`, borrowed for as long as `guard` is held.
    pub fn lookup<'g>(&self, key: &ConnKey, guard: &'g Guard<'_>) -> Option<&'g Entry> {
        self.map.get(key, guard)
    }

    /// A fresh connection id.
    pub fn next_id(&self) -> u32 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Inserts `conn` under both of its keys. Fails, inserting nothing,
    /// if either key is taken.
    pub fn insert(&self, conn: &Arc<Conn>, guard: &Guard<'_>) -> Result<(), InsertError> {
        let ko = ConnKey {
            tuple: conn.orig,
            zone: conn.zone,
        };
        let kr = ConnKey {
            tuple: conn.reply,
            zone: conn.zone,
        };
        let e = Entry {
            conn: conn.clone(),
            dir: Dir::Original,
        };
        if self.map.try_insert(ko, e, guard).is_err() {
            return Err(InsertError::Clash);
        }
        if kr != ko {
            let e = Entry {
                conn: conn.clone(),
                dir: Dir::Reply,
            };
            if self.map.try_insert(kr, e, guard).is_err() {
                self.remove_key(&ko, conn, guard);
                return Err(InsertError::Clash);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.zone_count[usize::from(conn.zone)].fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn remove_key(&self, key: &ConnKey, conn: &Arc<Conn>, guard: &Guard<'_>) {
        let _ = self
            .map
            .remove_if(key, |_, e| Arc::ptr_eq(&e.conn, conn), guard);
    }

    /// Removes `conn`; `false` if it was already removed.
    pub fn remove(&self, conn: &Arc<Conn>, guard: &Guard<'_>) -> bool {
        if conn.dead.swap(true, Ordering::AcqRel) {
            return false;
        }
        let ko = ConnKey {
            tuple: conn.orig,
            zone: conn.zone,
        };
        let kr = ConnKey {
            tuple: conn.reply,
            zone: conn.zone,
        };
        self.remove_key(&ko, conn, guard);
        self.remove_key(&kr, conn, guard);
        self.count.fetch_sub(1, Ordering::Relaxed);
        self.zone_count[usize::from(conn.zone)].fetch_sub(1, Ordering::Relaxed);
        true
    }

    /// Number of connections.
    pub fn len(&self) -> u32 {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of connections in `zone`.
    pub fn zone_len(&self, zone: u16) -> u32 {
        self.zone_count[usize::from(zone)].load(Ordering::Relaxed)
    }

    /// Calls `f` on every connection once (its original-direction entry).
    /// Concurrent inserts and removals may or may not be seen.
    pub fn for_each(&self, mut f: impl FnMut(&Arc<Conn>)) {
        let guard = self.guard();
        for (_, e) in self.map.iter(&guard) {
            if e.dir == Dir::Original {
                f(&e.conn);
            }
        }
    }

    /// Removes every connection for which `pred` holds; returns how many.
    /// Forwarding goes on meanwhile: each removal is independent.
    pub fn remove_matching(&self, mut pred: impl FnMut(&Conn) -> bool) -> usize {
        let guard = self.guard();
        let mut n = 0;
        for (_, e) in self.map.iter(&guard) {
            if e.dir == Dir::Original && pred(&e.conn) && self.remove(&e.conn, &guard) {
                n += 1;
            }
        }
        n
    }

    /// The bucket a connection's original key falls in among `n`, for the
    /// `ct-bkts` histogram (our table has no fixed buckets: this spreads
    /// connections by their hash, as OVS's userspace table does).
    pub fn bucket_of(&self, conn: &Conn, n: u32) -> u32 {
        use std::hash::BuildHasher;
        let h = self.bkt_hasher.hash_one(ConnKey {
            tuple: conn.orig,
            zone: conn.zone,
        });
        (h % u64::from(n.max(1))) as u32
    }
}

impl Default for Table {
    fn default() -> Self {
        Table::new()
    }
}
