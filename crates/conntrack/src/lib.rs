//! Connection tracking for the userspace datapath, with the semantics of
//! the Linux kernel's `openvswitch` datapath (net/openvswitch/conntrack.c
//! over nf_conntrack).
//!
//! # Overview
//!
//! A [`Conntrack`] is one connection tracker, shared by all of a
//! datapath's poll threads. The datapath runs the `ct` action with
//! [`Conntrack::execute`] (one packet) or [`Conntrack::execute_batch`]
//! (up to a batch): the engine tracks the packet, applies NAT in place
//! (checksums updated incrementally, header offsets unchanged), and
//! fills the flow key's `ct_state`, `ct_zone`, `ct_mark`, `ct_label` and
//! original-tuple fields ([`odp::flow::Flow`]) as the kernel fills
//! `OVS_KEY_ATTR_CT_*`. `ct_clear` is [`ct_clear`].
//!
//! # Contract
//!
//! - **Threads.** Every method takes `&self`; [`Conntrack`] is `Send +
//!   Sync`. Lookups never block on insertions, removals, expiry, flushes
//!   or table growth (a lock-free table with epoch reclamation); the only
//!   lock a packet of an established connection takes is its own
//!   connection's (the kernel's `ct->lock`), held for the protocol update.
//!   Nothing on that path allocates or formats.
//! - **Time.** Every call that needs the time takes `now`, milliseconds
//!   on the datapath's monotonic clock. Expiry happens in
//!   [`Conntrack::sweep`] (bounded work per call) and lazily on lookup.
//! - **Bad input.** A packet the engine cannot track gets `+trk+inv`; it
//!   never panics, and every operation is bounded in CPU and memory.
//! - **Fragments.** A fragment is held ([`Verdict::Stolen`]) until its
//!   datagram is complete; the fragment that completes it is replaced in
//!   its buffer by the reassembled datagram, which goes on through the
//!   pipeline with [`CtResult::mru`] set: the datapath refragments it on
//!   output with [`ipf::refragment`].
//!
//! # Modules
//!
//! [`tuple`] (tuples and the packet walk), [`tcp`] (state machine and
//! window tracking), [`timeout`] (defaults and policies), [`nat`],
//! [`helper`] (FTP, TFTP, expectations), [`ipf`] (reassembly),
//! [`table`], [`expiry`], [`limits`], [`dump`] (entries and `ovs-dpctl`
//! text), [`fuzzing`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod action;
pub mod conn;
pub mod dump;
mod engine;
pub mod expiry;
pub mod fuzzing;
pub mod helper;
pub mod ipf;
pub mod limits;
pub mod nat;
pub mod state;
pub mod table;
pub mod tcp;
pub mod timeout;
pub mod tuple;

use std::collections::hash_map::RandomState;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub use action::{ActionError, CtAction, NatAction};
pub use engine::{ct_clear, CtResult, Verdict};
pub use tuple::CtBuf;

use timeout::{TimeoutPolicy, Timeouts};

/// A timeout policy slot: its name and timeouts.
type NamedPolicy = (String, Arc<Timeouts>);

/// Settings of a tracker.
#[derive(Debug, Clone)]
pub struct Config {
    /// Most connections (`nf_conntrack_max`, `ovs-dpctl ct-set-maxconns`).
    pub max_conns: u32,
    /// `nf_conntrack_tcp_be_liberal`: TCP window problems are never
    /// invalid.
    pub tcp_be_liberal: bool,
    /// `nf_conntrack_tcp_loose`: pick up TCP connections from any packet,
    /// not only a SYN (the kernel's default is on).
    pub tcp_loose: bool,
    /// `nf_conntrack_tcp_max_retrans` (3).
    pub tcp_max_retrans: u8,
    /// `nf_conntrack_checksum`: verify L4 checksums (on).
    pub checksum: bool,
    /// `nf_conntrack_acct`: count packets and bytes (off, as the kernel).
    pub acct: bool,
    /// Fragment reassembly.
    pub ipf: ipf::IpfConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_conns: 1_000_000,
            tcp_be_liberal: false,
            tcp_loose: true,
            tcp_max_retrans: 3,
            checksum: true,
            acct: false,
            ipf: ipf::IpfConfig::default(),
        }
    }
}

/// Counters of packets the tracker refused.
#[derive(Debug, Default)]
pub struct Stats {
    /// Packets found invalid.
    pub invalid: AtomicU64,
    /// Commits refused by a zone limit.
    pub zone_limit_drops: AtomicU64,
    /// Commits refused by the connection maximum.
    pub max_conns_drops: AtomicU64,
    /// Commits refused because the tuple was taken (NAT exhaustion).
    pub clash_drops: AtomicU64,
}

/// A connection tracker. See the [crate documentation](crate).
pub struct Conntrack {
    cfg: Config,
    be_liberal: AtomicBool,
    acct: AtomicBool,
    pub(crate) table: table::Table,
    pub(crate) wheel: expiry::Wheel,
    pub(crate) limits: limits::Limits,
    pub(crate) expects: helper::expect::Expectations,
    policies: RwLock<Vec<Option<NamedPolicy>>>,
    pub(crate) timeouts: Timeouts,
    pub(crate) basis: RandomState,
    pub(crate) ipf: ipf::Ipf,
    pub(crate) stats: Stats,
    rng: AtomicU64,
}

/// A small xorshift generator for `random` NAT ports, seeded per tracker.
pub(crate) struct XorShift(u64);

impl nat::Rng for XorShift {
    fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 32) as u32
    }
}

impl Conntrack {
    /// A tracker with `cfg`.
    pub fn new(cfg: Config) -> Conntrack {
        use std::hash::{BuildHasher, Hasher};
        let basis = RandomState::new();
        let mut h = basis.build_hasher();
        h.write_u64(0x5eed);
        Conntrack {
            be_liberal: AtomicBool::new(cfg.tcp_be_liberal),
            acct: AtomicBool::new(cfg.acct),
            table: table::Table::new(),
            wheel: expiry::Wheel::new(),
            limits: limits::Limits::new(cfg.max_conns),
            expects: Default::default(),
            policies: RwLock::new(Vec::new()),
            timeouts: Timeouts::default(),
            basis,
            ipf: ipf::Ipf::new(cfg.ipf.clone()),
            stats: Stats::default(),
            rng: AtomicU64::new(h.finish() | 1),
            cfg,
        }
    }

    pub(crate) fn rng(&self) -> XorShift {
        let s = self.rng.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
        XorShift(s | 1)
    }

    pub(crate) fn be_liberal(&self) -> bool {
        self.be_liberal.load(Ordering::Relaxed)
    }

    pub(crate) fn acct(&self) -> bool {
        self.acct.load(Ordering::Relaxed)
    }

    pub(crate) fn checksum(&self) -> bool {
        self.cfg.checksum
    }

    /// Turns the liberal TCP window check on or off (the kernel's
    /// `nf_conntrack_tcp_be_liberal` sysctl).
    pub fn set_tcp_be_liberal(&self, on: bool) {
        self.be_liberal.store(on, Ordering::Relaxed);
    }

    /// Whether the liberal TCP window check is on (OVS's TCP sequence
    /// checking is its opposite).
    pub fn tcp_be_liberal(&self) -> bool {
        self.be_liberal()
    }

    /// Turns packet and byte counting on or off.
    pub fn set_acct(&self, on: bool) {
        self.acct.store(on, Ordering::Relaxed);
    }

    /// Runs the `ct` action on one packet whose flow key (the metadata
    /// carried with it, `ct_*` fields included) is `md`, in `zone` (the
    /// action's zone, or one the datapath loaded from a key field).
    ///
    /// Runs on a poll thread: for a packet of an established connection
    /// it takes no lock but the connection's own and allocates nothing.
    /// NAT rewrites the packet in place; `md`'s `ct_*` fields (and, after
    /// NAT, its addresses and ports) are updated as the kernel updates
    /// the flow key.
    pub fn execute<B: CtBuf>(
        &self,
        packet: &mut B,
        md: &mut odp::flow::Flow,
        action: &CtAction,
        zone: u16,
        now: u64,
    ) -> CtResult {
        let g = self.table.guard();
        self.process(packet, md, action, zone, now, &g)
    }

    /// [`Conntrack::execute`] on a batch: `packets[i]` with `mds[i]`,
    /// results in `results[i]` (the three slices are cut to the shortest).
    /// The table is pinned once for the whole batch.
    pub fn execute_batch<B: CtBuf>(
        &self,
        packets: &mut [B],
        mds: &mut [odp::flow::Flow],
        action: &CtAction,
        zone: u16,
        now: u64,
        results: &mut [CtResult],
    ) {
        let g = self.table.guard();
        for ((p, md), r) in packets
            .iter_mut()
            .zip(mds.iter_mut())
            .zip(results.iter_mut())
        {
            *r = self.process(p, md, action, zone, now, &g);
        }
    }

    /// Resolves an ODP `ct` action against this tracker's timeout
    /// policies (see [`CtAction::from_odp`]).
    pub fn action(&self, ct: &odp::action::Ct) -> Result<CtAction, ActionError> {
        CtAction::from_odp(ct, |name| self.policy_id(name))
    }

    /// Removes expired connections and fragments, looking at no more than
    /// `budget` connections; returns how many connections it removed.
    pub fn sweep(&self, now: u64, budget: usize) -> usize {
        self.ipf.expire(now);
        self.wheel.sweep(&self.table, now, budget)
    }

    /// Number of connections.
    pub fn n_conns(&self) -> u32 {
        self.table.len()
    }

    /// Number of connections in `zone`.
    pub fn zone_conns(&self, zone: u16) -> u32 {
        self.table.zone_len(zone)
    }

    /// The connection limits (maxconns, zone limits).
    pub fn limits(&self) -> &limits::Limits {
        &self.limits
    }

    /// Refusal counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The fragment reassembler (status, settings).
    pub fn ipf(&self) -> &ipf::Ipf {
        &self.ipf
    }

    /// Adds or replaces the timeout policy named `p.name`; returns its
    /// index. Connections committed before keep the timeouts they had.
    pub fn set_timeout_policy(&self, p: TimeoutPolicy) -> u32 {
        let mut v = self.policies.write().unwrap_or_else(|e| e.into_inner());
        let entry = Some((p.name.clone(), Arc::new(p.timeouts)));
        if let Some(i) = v
            .iter()
            .position(|x| x.as_ref().is_some_and(|(n, _)| *n == p.name))
        {
            v[i] = entry;
            return i as u32;
        }
        v.push(entry);
        (v.len() - 1) as u32
    }

    /// Removes the timeout policy `name`; false if there is none.
    pub fn del_timeout_policy(&self, name: &str) -> bool {
        let mut v = self.policies.write().unwrap_or_else(|e| e.into_inner());
        match v
            .iter()
            .position(|x| x.as_ref().is_some_and(|(n, _)| n == name))
        {
            Some(i) => {
                v[i] = None;
                true
            }
            None => false,
        }
    }

    /// The timeouts of policy `name`.
    pub fn timeout_policy(&self, name: &str) -> Option<Timeouts> {
        let id = self.policy_id(name)?;
        self.policy(id).map(|(_, t)| *t)
    }

    /// The index of the timeout policy `name`.
    pub fn policy_id(&self, name: &str) -> Option<u32> {
        let v = self.policies.read().unwrap_or_else(|e| e.into_inner());
        v.iter()
            .position(|x| x.as_ref().is_some_and(|(n, _)| n == name))
            .map(|i| i as u32)
    }

    pub(crate) fn policy(&self, id: u32) -> Option<(u32, Arc<Timeouts>)> {
        let v = self.policies.read().unwrap_or_else(|e| e.into_inner());
        v.get(id as usize)?.as_ref().map(|(_, t)| (id, t.clone()))
    }

    /// The default timeouts.
    pub fn default_timeouts(&self) -> &Timeouts {
        &self.timeouts
    }
}

impl Default for Conntrack {
    fn default() -> Self {
        Conntrack::new(Config::default())
    }
}
