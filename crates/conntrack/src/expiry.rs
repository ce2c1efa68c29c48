//! Expiry: a timing wheel of one-second slots, swept incrementally.
//!
//! A connection sits in the slot of the second it expires in (clamped to
//! the wheel's span). Packets only move the connection's atomic expiry
//! time forward; the sweeper re-files a connection whose time moved when
//! it reaches its slot, and removes one whose time has passed. A sweep
//! handles at most `budget` connections, so it never stalls the thread
//! that runs it, and lookups meanwhile treat a connection past its time
//! as gone (as the kernel's lookup does with `nf_ct_is_expired`).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::conn::Conn;
use crate::table::Table;

/// Number of one-second slots (about 8.5 minutes of span).
const SLOTS: u64 = 512;

/// The timing wheel.
pub struct Wheel {
    slots: Vec<Mutex<Vec<Arc<Conn>>>>,
    /// The next second to sweep (`None` before the first use).
    cursor: Mutex<Option<u64>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Wheel {
    /// An empty wheel.
    pub fn new() -> Wheel {
        Wheel {
            slots: (0..SLOTS).map(|_| Mutex::new(Vec::new())).collect(),
            cursor: Mutex::new(None),
        }
    }

    fn slot_for(&self, expires_ms: u64, cursor: u64) -> usize {
        let sec = (expires_ms / 1000).clamp(cursor, cursor + SLOTS - 1);
        (sec % SLOTS) as usize
    }

    /// Files a newly committed connection.
    pub fn add(&self, conn: Arc<Conn>, now: u64) {
        let cursor = {
            let mut c = lock(&self.cursor);
            *c.get_or_insert(now / 1000)
        };
        let at = self.slot_for(conn.expires.load(Ordering::Relaxed), cursor);
        lock(&self.slots[at]).push(conn);
    }

    /// Sweeps the seconds before `now`, looking at no more than `budget`
    /// connections; returns how many it removed. Call it regularly (the
    /// datapath's main loop or a housekeeping thread).
    pub fn sweep(&self, table: &Table, now: u64, budget: usize) -> usize {
        let mut cursor_g = lock(&self.cursor);
        let now_sec = now / 1000;
        let mut cursor = *cursor_g.get_or_insert(now_sec);
        let mut seen = 0;
        let mut removed = 0;
        let guard = table.guard();
        while cursor < now_sec && seen < budget {
            let at = (cursor % SLOTS) as usize;
            let batch: Vec<Arc<Conn>> = {
                let mut s = lock(&self.slots[at]);
                let take = s.len().min(budget - seen);
                let start = s.len() - take;
                s.drain(start..).collect()
            };
            seen += batch.len();
            for c in batch {
                if c.dead.load(Ordering::Acquire) {
                    continue;
                }
                let exp = c.expires.load(Ordering::Relaxed);
                if exp <= now {
                    if table.remove(&c, &guard) {
                        removed += 1;
                    }
                } else {
                    let to = self.slot_for(exp, cursor + 1);
                    lock(&self.slots[to]).push(c);
                }
            }
            if lock(&self.slots[at]).is_empty() {
                cursor += 1;
            }
        }
        if cursor + SLOTS < now_sec {
            // Idle for longer than the wheel's span: every slot was
            // visited; jump ahead.
            cursor = now_sec.saturating_sub(SLOTS);
        }
        *cursor_g = Some(cursor);
        removed
    }

    /// Drops every connection that is already removed from the table
    /// (after a flush), keeping the others.
    pub fn purge_dead(&self) {
        for s in &self.slots {
            lock(s).retain(|c| !c.dead.load(Ordering::Acquire));
        }
    }
}

impl Default for Wheel {
    fn default() -> Self {
        Wheel::new()
    }
}
