//! Bounded per-handler upcall queues.
//!
//! Poll threads push upcalls; handler threads take them by handler id. A
//! full queue never blocks or grows: the upcall is dropped and counted as
//! lost. Upcalls of one flow go to one queue (chosen by flow hash), so they
//! stay in order.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use dpif::Upcall;

/// Default capacity of each handler queue.
pub const DEFAULT_QUEUE_LEN: usize = 4096;

#[derive(Debug, Default)]
struct Handler {
    queue: Mutex<VecDeque<Upcall>>,
    ready: Condvar,
    /// The queue's length, readable without the lock.
    queued: AtomicUsize,
}

/// The handler queues of one datapath.
#[derive(Debug)]
pub struct UpcallQueues {
    handlers: RwLock<Vec<Arc<Handler>>>,
    capacity: usize,
    lost: AtomicU64,
}

impl UpcallQueues {
    /// One handler queue of `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        UpcallQueues {
            handlers: RwLock::new(vec![Arc::default()]),
            capacity,
            lost: AtomicU64::new(0),
        }
    }

    /// Upcalls dropped because their queue was full.
    pub fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Counts one upcall lost for another reason (nobody listening).
    pub fn count_lost(&self, n: u64) {
        self.lost.fetch_add(n, Ordering::Relaxed);
    }

    /// Replaces the queues with `n` empty ones (queued upcalls are dropped).
    pub fn set_handlers(&self, n: usize) {
        let mut h = self
            .handlers
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        *h = (0..n).map(|_| Arc::default()).collect();
    }

    /// Number of handler queues.
    pub fn n_handlers(&self) -> usize {
        self.handlers
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether every queue is full, so that an upcall would certainly be
    /// lost: poll threads check it before building one (a racy read; a
    /// queue that fills up meanwhile still drops and counts in `push`).
    pub fn all_full(&self) -> bool {
        let h = self.handlers.read().unwrap_or_else(PoisonError::into_inner);
        h.iter()
            .all(|h| h.queued.load(Ordering::Relaxed) >= self.capacity)
    }

    /// Whether every queue has room for `n` more upcalls, so that `n`
    /// misses queued now cannot be lost (a racy read, on the safe side:
    /// only handlers run concurrently, and they only make room).
    pub fn has_room(&self, n: usize) -> bool {
        let h = self.handlers.read().unwrap_or_else(PoisonError::into_inner);
        !h.is_empty()
            && h.iter()
                .all(|h| h.queued.load(Ordering::Relaxed) + n <= self.capacity)
    }

    /// Builds the upcall of `packet`, whose flow (as received) is `flow`,
    /// and queues it on the queue its flow hashes to (`pid`: the
    /// `userspace` action's port id, 0 for misses and samples); counted lost, and
    /// not even built, when every queue is full. The one upcall builder
    /// (miss, action and sample upcalls). `mru` is nonzero for a datagram
    /// reassembled from fragments (the largest fragment's size, which the
    /// upcall carries so that its execute refragments it, as the kernel's
    /// `OVS_PACKET_ATTR_MRU`). Returns whether it was queued.
    pub fn queue(
        &self,
        kind: dpif::UpcallKind,
        packet: &[u8],
        flow: &odp::flow::Flow,
        userdata: Option<Vec<u8>>,
        pid: u32,
        mru: u16,
    ) -> bool {
        if self.all_full() {
            self.count_lost(1);
            return false;
        }
        let key = odp::convert::flow_to_key(flow, &odp::convert::KeyParms::all());
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
            mru: (mru != 0).then_some(mru),
            hash: None,
        };
        self.push(hash, up)
    }

    /// Queues `upcall` on the queue chosen by `hash`; returns false (and
    /// counts it lost) if that queue is full.
    pub fn push(&self, hash: u32, upcall: Upcall) -> bool {
        let handler = {
            let h = self.handlers.read().unwrap_or_else(PoisonError::into_inner);
            if h.is_empty() {
                self.count_lost(1);
                return false;
            }
            h[hash as usize % h.len()].clone()
        };
        let mut q = handler.queue.lock().unwrap_or_else(PoisonError::into_inner);
        if q.len() >= self.capacity {
            drop(q);
            self.count_lost(1);
            return false;
        }
        let was_empty = q.is_empty();
        q.push_back(upcall);
        handler.queued.store(q.len(), Ordering::Relaxed);
        drop(q);
        // Waiters wait only while the queue is empty (checked under the
        // lock), so only the push that ends emptiness needs to wake them:
        // one wake-up (a system call) per burst instead of per upcall.
        if was_empty {
            handler.ready.notify_all();
        }
        true
    }

    fn handler(&self, id: u32) -> Option<Arc<Handler>> {
        let h = self.handlers.read().unwrap_or_else(PoisonError::into_inner);
        h.get(id as usize).cloned()
    }

    /// Takes the oldest upcall of queue `id`.
    ///
    /// # Errors
    /// `EINVAL` if there is no such queue.
    pub fn pop(&self, id: u32) -> Result<Option<Upcall>, dpif::Errno> {
        let h = self.handler(id).ok_or(dpif::Errno::EINVAL)?;
        let mut q = h.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let up = q.pop_front();
        h.queued.store(q.len(), Ordering::Relaxed);
        Ok(up)
    }

    /// Waits until queue `id` is non-empty or `timeout` passes.
    pub fn wait(&self, id: u32, timeout: Option<Duration>) -> bool {
        let Some(h) = self.handler(id) else {
            return false;
        };
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut q = h.queue.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if !q.is_empty() {
                return true;
            }
            let step = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return false,
                },
                None => Duration::from_secs(3600),
            };
            q = h
                .ready
                .wait_timeout(q, step)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Empties every queue.
    pub fn purge(&self) {
        let h = self.handlers.read().unwrap_or_else(PoisonError::into_inner);
        for handler in h.iter() {
            let mut q = handler.queue.lock().unwrap_or_else(PoisonError::into_inner);
            q.clear();
            handler.queued.store(0, Ordering::Relaxed);
        }
    }
}
