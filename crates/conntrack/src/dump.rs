//! Dumps and flushes: connections as the datapath interface reports them
//! ([`dpif::ct::CtEntry`], the kernel's view through `ovs-dpctl
//! dump-conntrack`), flushes by selector ([`dpif::ct::CtFlush`]), zone
//! limits with their counts ([`dpif::ct::CtLimits`]). The text of
//! `ovs-dpctl` for these lives in [`dpif::ct::format`].

use std::net::IpAddr;
use std::sync::atomic::Ordering;

use dpif::ct::{
    CtCounters, CtDump, CtEntry, CtFlush, CtLimits, CtProtoinfo, CtTcpInfo, CtTuple, CtZoneLimit,
};

use crate::conn::{Conn, Counters, L4};
use crate::state::status;
use crate::tuple::{ConnKey, Tuple};
use crate::Conntrack;

/// A kernel TCP state as OVS reports it (`nl_ct_tcp_state_to_dpif`).
pub fn dpif_tcp_state(s: u8) -> u8 {
    dpif::ct::tcp_state::from_kernel(s)
}

/// Buckets reported to `ct-bkts`.
pub const N_BUCKETS: u32 = 256;

/// A tuple as the datapath interface has it.
pub fn dpif_tuple(t: &Tuple) -> CtTuple {
    let addr = |a: u128| {
        if t.v6 {
            IpAddr::from(a.to_be_bytes())
        } else {
            IpAddr::from((a as u32).to_be_bytes())
        }
    };
    let mut d = CtTuple {
        src: addr(t.src),
        dst: addr(t.dst),
        proto: t.proto,
        ..CtTuple::default()
    };
    if t.is_icmp() {
        d.icmp_id = t.src_port;
        d.icmp_type = t.icmp_type();
        d.icmp_code = t.icmp_code();
    } else {
        d.src_port = t.src_port;
        d.dst_port = t.dst_port;
    }
    d
}

/// The tracker's tuple for a datapath interface tuple (the inverse of
/// [`dpif_tuple`]).
pub fn tuple_from_dpif(t: &CtTuple) -> Tuple {
    let addr = |a: IpAddr| match a {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    };
    let mut u = Tuple {
        src: addr(t.src),
        dst: addr(t.dst),
        src_port: t.src_port,
        dst_port: t.dst_port,
        proto: t.proto,
        v6: t.src.is_ipv6(),
    };
    if u.is_icmp() {
        u.src_port = t.icmp_id;
        u.dst_port = u16::from(t.icmp_type) << 8 | u16::from(t.icmp_code);
    }
    u
}

fn counters(c: &Counters) -> CtCounters {
    CtCounters {
        packets: c.packets,
        bytes: c.bytes,
    }
}

impl Conntrack {
    fn entry(&self, c: &Conn, now: u64) -> CtEntry {
        let d = c.lock();
        let protoinfo = match d.l4 {
            L4::Tcp(t) => {
                let state = dpif_tcp_state(t.state);
                Some(CtProtoinfo::Tcp(CtTcpInfo {
                    state_orig: state,
                    state_reply: state,
                    wscale_orig: t.seen[0].td_scale,
                    wscale_reply: t.seen[1].td_scale,
                    flags_orig: t.seen[0].flags & dpif::ct::tcp_flags::MASK,
                    flags_reply: t.seen[1].flags & dpif::ct::tcp_flags::MASK,
                }))
            }
            _ => None,
        };
        let exp = c.expires.load(Ordering::Relaxed);
        CtEntry {
            orig: dpif_tuple(&c.orig),
            reply: dpif_tuple(&c.reply),
            parent: c.master.as_ref().map(dpif_tuple),
            counters_orig: counters(&d.counters[0]),
            counters_reply: counters(&d.counters[1]),
            timestamp: Default::default(),
            id: c.id,
            zone: c.zone,
            status: d.status & dpif::ct::status::MASK,
            timeout: (exp.saturating_sub(now) / 1000) as u32,
            mark: d.mark,
            labels: d.labels,
            protoinfo,
            helper: c.helper.map(|h| h.name().to_string()),
            bucket: self.table.bucket_of(c, N_BUCKETS),
        }
    }

    /// The live connection `t` names in either direction in `zone`, as
    /// the kernel's `nf_conntrack_find_get` finds it (ctnetlink's get and
    /// delete): one hash lookup.
    pub fn get(&self, t: &CtTuple, zone: u16, now: u64) -> Option<CtEntry> {
        let g = self.table.guard();
        let key = ConnKey {
            tuple: tuple_from_dpif(t),
            zone,
        };
        let e = self.table.lookup(&key, &g)?;
        (!e.conn.is_dead(now)).then(|| self.entry(&e.conn, now))
    }

    /// Every live connection (of `zone`, if given), in id order.
    pub fn dump(&self, zone: Option<u16>, now: u64) -> Vec<CtEntry> {
        let mut v = Vec::new();
        self.table.for_each(|c| {
            if !c.is_dead(now) && zone.is_none_or(|z| z == c.zone) {
                v.push(self.entry(c, now));
            }
        });
        v.sort_by_key(|e| e.id);
        v
    }

    /// [`Conntrack::dump`] with the tracker's bucket count, for
    /// `ct-bkts`.
    pub fn ct_dump(&self, zone: Option<u16>, now: u64) -> CtDump {
        CtDump {
            entries: self.dump(zone, now),
            n_buckets: Some(N_BUCKETS),
        }
    }

    /// `ovs-dpctl dump-conntrack`'s lines for this tracker
    /// ([`dpif::ct::format::dump`] of [`Conntrack::dump`]).
    pub fn dump_text(&self, zone: Option<u16>, verbose: bool, stats: bool, now: u64) -> String {
        dpif::ct::format::dump(&self.dump(zone, now), verbose, stats)
    }

    /// Removes the connections `f` selects (all if `f` is empty, see
    /// [`CtFlush`]; a tuple selects the connection it belongs to in either
    /// direction), while forwarding goes on; returns how many.
    pub fn flush(&self, f: &CtFlush) -> usize {
        if *f == CtFlush::default() {
            self.expects.clear();
        }
        let zone = f.zone.or(f.orig.map(|_| 0));
        let n = self.table.remove_matching(|c| {
            if zone.is_some_and(|z| z != c.zone) {
                return false;
            }
            // As the kernel's lookup (and OVS's userspace conntrack), a
            // tuple names its connection in either direction.
            if f.orig
                .is_some_and(|t| t != dpif_tuple(&c.orig) && t != dpif_tuple(&c.reply))
            {
                return false;
            }
            if f.mark.is_some() || f.labels.is_some() {
                let d = c.lock();
                if f.mark.is_some_and(|(v, m)| d.mark & m != v & m) {
                    return false;
                }
                if f.labels.is_some_and(|(v, m)| d.labels & m != v & m) {
                    return false;
                }
            }
            true
        });
        self.wheel.purge_dead();
        n
    }

    /// Zone limits as `ovs-dpctl ct-get-limits` reports them (the
    /// kernel's `ovs_ct_limit` get): the default limit and, for `zones`
    /// (empty: every zone with a limit of its own, in the order of the
    /// kernel's hash table, zone modulo 512), the limit in force and the
    /// zone's connection count.
    pub fn limits_report(&self, zones: &[u16]) -> CtLimits {
        let l = &self.limits;
        let list: Vec<CtZoneLimit> = if zones.is_empty() {
            let mut own = l.zones();
            own.sort_by_key(|&(z, _)| (z % 512, z));
            own.into_iter()
                .map(|(zone, limit)| CtZoneLimit {
                    zone,
                    limit,
                    count: self.table.zone_len(zone),
                })
                .collect()
        } else {
            zones
                .iter()
                .map(|&zone| CtZoneLimit {
                    zone,
                    limit: l.zone_limit(zone),
                    count: self.table.zone_len(zone),
                })
                .collect()
        };
        CtLimits {
            default_limit: l.default_zone_limit(),
            zones: list,
        }
    }
}

/// Whether `st` has the bits of a confirmed connection (for tests).
pub fn is_confirmed(st: u32) -> bool {
    st & status::CONFIRMED != 0
}
