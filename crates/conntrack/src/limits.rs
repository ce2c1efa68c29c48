//! Connection limits: the global maximum (`nf_conntrack_max`, OVS's
//! `maxconns`) and per-zone limits with a default (the kernel's
//! `ovs_ct_limit`, `ovs-dpctl ct-set-limits`).
//!
//! Limits are atomics, read when a connection is committed; setting them
//! never blocks forwarding. A zone limit of 0 means unlimited
//! (`OVS_CT_LIMIT_UNLIMITED`).

use std::sync::atomic::{AtomicU32, Ordering};

/// Marks a zone that follows the default limit.
const USE_DEFAULT: u32 = u32::MAX;

/// The limits.
pub struct Limits {
    max_conns: AtomicU32,
    default_zone: AtomicU32,
    zone: Box<[AtomicU32]>,
}

impl Limits {
    /// No zone limits; `max_conns` connections in all.
    pub fn new(max_conns: u32) -> Limits {
        Limits {
            max_conns: AtomicU32::new(max_conns),
            default_zone: AtomicU32::new(0),
            zone: (0..=u16::MAX)
                .map(|_| AtomicU32::new(USE_DEFAULT))
                .collect(),
        }
    }

    /// The global maximum.
    pub fn max_conns(&self) -> u32 {
        self.max_conns.load(Ordering::Relaxed)
    }

    /// Sets the global maximum.
    pub fn set_max_conns(&self, n: u32) {
        self.max_conns.store(n, Ordering::Relaxed);
    }

    /// The default zone limit (0: unlimited).
    pub fn default_zone_limit(&self) -> u32 {
        self.default_zone.load(Ordering::Relaxed)
    }

    /// Sets the default zone limit (0: unlimited).
    pub fn set_default_zone_limit(&self, n: u32) {
        self.default_zone.store(n, Ordering::Relaxed);
    }

    /// Sets `zone`'s limit (0: unlimited).
    pub fn set_zone_limit(&self, zone: u16, n: u32) {
        self.zone[usize::from(zone)].store(n.min(USE_DEFAULT - 1), Ordering::Relaxed);
    }

    /// Makes `zone` follow the default limit again.
    pub fn del_zone_limit(&self, zone: u16) {
        self.zone[usize::from(zone)].store(USE_DEFAULT, Ordering::Relaxed);
    }

    /// `zone`'s own limit, if it has one.
    pub fn zone_limit_set(&self, zone: u16) -> Option<u32> {
        match self.zone[usize::from(zone)].load(Ordering::Relaxed) {
            USE_DEFAULT => None,
            n => Some(n),
        }
    }

    /// The limit in force for `zone` (0: unlimited).
    pub fn zone_limit(&self, zone: u16) -> u32 {
        self.zone_limit_set(zone)
            .unwrap_or_else(|| self.default_zone_limit())
    }

    /// Zones with a limit of their own, in order.
    pub fn zones(&self) -> Vec<(u16, u32)> {
        (0..=u16::MAX)
            .filter_map(|z| self.zone_limit_set(z).map(|l| (z, l)))
            .collect()
    }
}
