//! Expectations (`struct nf_conntrack_expect`): connections a helper
//! announced, which are tracked as related to their master when they
//! start.
//!
//! The list is bounded ([`MAX_EXPECT`]) and consulted only when a packet
//! matches no connection, never on the established-connection path.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::conn::Conn;
use crate::nat::Manip;
use crate::tuple::Tuple;

/// Most expectations held at once (the kernel's `nf_ct_expect_max`
/// scales with the table; a fixed bound keeps memory bounded).
pub const MAX_EXPECT: usize = 4096;

/// Most expectations per master (FTP's `max_expected`).
pub const MAX_PER_MASTER: usize = 1;

/// One expectation.
#[derive(Debug, Clone)]
pub struct Expectation {
    /// The expected original-direction tuple. `src_port` is ignored when
    /// `any_src_port` (FTP data and TFTP replies come from any port).
    pub tuple: Tuple,
    /// Match any source port.
    pub any_src_port: bool,
    /// Zone.
    pub zone: u16,
    /// The master connection.
    pub master: Arc<Conn>,
    /// NAT to apply to the related connection (`nf_nat_follow_master`):
    /// the destination address and port it must be translated to.
    pub nat_dst: Option<(u128, u16)>,
    /// The source address it must carry after NAT, with the manip.
    pub nat_src: Option<(Manip, u128)>,
    /// Expiry (ms).
    pub expires: u64,
}

impl Expectation {
    fn matches(&self, t: &Tuple, zone: u16) -> bool {
        self.zone == zone
            && self.tuple.proto == t.proto
            && self.tuple.v6 == t.v6
            && self.tuple.src == t.src
            && self.tuple.dst == t.dst
            && self.tuple.dst_port == t.dst_port
            && (self.any_src_port || self.tuple.src_port == t.src_port)
    }
}

/// The expectation list.
#[derive(Default)]
pub struct Expectations {
    list: Mutex<Vec<Expectation>>,
}

impl Expectations {
    fn lock(&self) -> MutexGuard<'_, Vec<Expectation>> {
        self.list.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `e`, replacing an older one of the same master beyond
    /// [`MAX_PER_MASTER`]. Returns false (adding nothing) when the list
    /// is full or an equal expectation of another master exists.
    pub fn add(&self, e: Expectation, now: u64) -> bool {
        let mut l = self.lock();
        l.retain(|x| x.expires > now && !x.master.dead.load(std::sync::atomic::Ordering::Relaxed));
        if l.iter()
            .any(|x| x.matches(&e.tuple, e.zone) && !Arc::ptr_eq(&x.master, &e.master))
        {
            return false;
        }
        let mine = l
            .iter()
            .filter(|x| Arc::ptr_eq(&x.master, &e.master))
            .count();
        if mine >= MAX_PER_MASTER {
            if let Some(i) = l.iter().position(|x| Arc::ptr_eq(&x.master, &e.master)) {
                l.remove(i);
            }
        }
        if l.len() >= MAX_EXPECT {
            return false;
        }
        l.push(e);
        true
    }

    /// Whether `t` (in `zone`) is expected, without consuming it.
    pub fn find(&self, t: &Tuple, zone: u16, now: u64) -> Option<Expectation> {
        self.lock()
            .iter()
            .find(|x| x.expires > now && x.matches(t, zone))
            .cloned()
    }

    /// Takes the expectation `t` matches.
    pub fn take(&self, t: &Tuple, zone: u16, now: u64) -> Option<Expectation> {
        let mut l = self.lock();
        let i = l
            .iter()
            .position(|x| x.expires > now && x.matches(t, zone))?;
        Some(l.swap_remove(i))
    }

    /// Drops every expectation.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Number held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
