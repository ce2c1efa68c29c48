//! NAT: choosing a translated tuple (`nf_nat_core.c`'s
//! `get_unique_tuple`) and rewriting packets to it (`nf_nat_proto.c`),
//! with incremental checksum updates.
//!
//! A NAT binding changes a connection's reply tuple: replies carry the
//! translated addresses and ports, and the engine rewrites each packet so
//! that its tuple becomes the inverse of the other direction's tuple.

use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;

use packet::{checksum, ipproto};

use crate::table::{Guard, Table};
use crate::tuple::{has_ports, ConnKey, Layers, Tuple};

/// Which end a NAT changes (`enum nf_nat_manip_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Manip {
    /// Source address and port.
    Src,
    /// Destination address and port.
    Dst,
}

impl Manip {
    /// The other end.
    pub fn rev(self) -> Manip {
        match self {
            Manip::Src => Manip::Dst,
            Manip::Dst => Manip::Src,
        }
    }
}

/// A NAT range (`struct nf_nat_range2`), from the `nat` argument of a
/// `ct` action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NatRange {
    /// Addresses given (`NF_NAT_RANGE_MAP_IPS`).
    pub map_ips: bool,
    /// Lowest address.
    pub min_addr: u128,
    /// Highest address.
    pub max_addr: u128,
    /// Ports given (`NF_NAT_RANGE_PROTO_SPECIFIED`).
    pub proto_specified: bool,
    /// Lowest port.
    pub min_port: u16,
    /// Highest port.
    pub max_port: u16,
    /// `persistent`: the address depends only on the source address.
    pub persistent: bool,
    /// `hash`: port offset from a hash of the tuple.
    pub hash: bool,
    /// `random`: port offset at random.
    pub random: bool,
}

impl NatRange {
    /// The range of an ODP `nat` argument (the kernel's `parse_nat`: a
    /// missing maximum equals the minimum).
    pub fn from_odp(n: &odp::action::Nat) -> NatRange {
        let addr = |a: Option<IpAddr>| match a {
            Some(IpAddr::V4(v)) => Some(u128::from(u32::from(v))),
            Some(IpAddr::V6(v)) => Some(u128::from(v)),
            None => None,
        };
        let min_addr = addr(n.ip_min);
        let max_addr = addr(n.ip_max).or(min_addr);
        let min_port = n.proto_min;
        let max_port = n.proto_max.or(min_port);
        NatRange {
            map_ips: min_addr.is_some(),
            min_addr: min_addr.unwrap_or(0),
            max_addr: max_addr.unwrap_or(0),
            proto_specified: min_port.is_some(),
            min_port: min_port.unwrap_or(0),
            max_port: max_port.unwrap_or(0),
            persistent: n.persistent,
            hash: n.hash,
            random: n.random,
        }
    }

    /// The all-zero address range (`nat(src=0.0.0.0)`): keep the address,
    /// change the port only on a collision.
    pub fn is_zero_addr(&self) -> bool {
        self.map_ips && self.min_addr == 0 && self.max_addr == 0
    }
}

/// Most ports tried for one binding (`NF_NAT_MAX_ATTEMPTS`).
const MAX_ATTEMPTS: u32 = 128;

fn get(t: &Tuple, m: Manip) -> (u128, u16) {
    match m {
        Manip::Src => (t.src, t.src_port),
        Manip::Dst => (t.dst, t.dst_port),
    }
}

fn set(t: &mut Tuple, m: Manip, addr: u128, port: u16) {
    match m {
        Manip::Src => {
            t.src = addr;
            t.src_port = port;
        }
        Manip::Dst => {
            t.dst = addr;
            t.dst_port = port;
        }
    }
}

/// Whether the L4 protocol has a port (or ICMP id) NAT can change for
/// end `m`: ICMP only has an id, which the kernel treats as a source
/// "port" for both manip types.
fn l4_manip(t: &Tuple, m: Manip) -> Option<bool> {
    if has_ports(t.proto) {
        Some(m == Manip::Src)
    } else if t.is_icmp() {
        Some(true)
    } else {
        None
    }
}

fn used(table: &Table, t: &Tuple, zone: u16, guard: &Guard<'_>) -> bool {
    match t.invert() {
        Some(r) => table.lookup(&ConnKey { tuple: r, zone }, guard).is_some(),
        None => false,
    }
}

/// A deterministic hash of `data` under the table's hasher key.
fn hash_of(basis: &std::collections::hash_map::RandomState, data: impl Hash) -> u64 {
    basis.hash_one(data)
}

/// Source of randomness for `random` port selection.
pub trait Rng {
    /// A random `u32`.
    fn next_u32(&mut self) -> u32;
}

/// Everything [`unique_tuple`] needs besides the tuple.
pub struct Ctx<'a> {
    /// The table, to test for used tuples.
    pub table: &'a Table,
    /// A pinned view of it.
    pub guard: &'a Guard<'a>,
    /// The zone.
    pub zone: u16,
    /// Hash key for address and port choices.
    pub basis: &'a std::collections::hash_map::RandomState,
    /// Randomness for `random`.
    pub rng: &'a mut dyn Rng,
}

/// `get_unique_tuple`: the original-direction tuple `cur` (as the packet
/// looks after earlier manips) with end `m` translated into `range`
/// (`None`: a null binding, which keeps the address but may move the
/// port to avoid a clash). Returns the tuple; if every candidate is
/// taken, the last one (committing it then fails with a clash, and the
/// packet is dropped, as in the kernel).
pub fn unique_tuple(cur: &Tuple, m: Manip, range: Option<&NatRange>, ctx: &mut Ctx<'_>) -> Tuple {
    let (cur_addr, cur_port) = get(cur, m);
    let (amin, amax) = match range {
        Some(r) if r.map_ips && !r.is_zero_addr() => (r.min_addr, r.max_addr),
        _ => (cur_addr, cur_addr),
    };
    let proto_specified = range.is_some_and(|r| r.proto_specified);
    let random_all = range.is_some_and(|r| r.random || r.hash);
    let in_range = |t: &Tuple| {
        let (a, p) = get(t, m);
        a >= amin
            && a <= amax
            && (!proto_specified
                || l4_manip(t, m).is_none()
                || range.is_some_and(|r| p >= r.min_port && p <= r.max_port))
    };
    // 1. Source NAT keeps the original tuple when it is in range and free.
    if m == Manip::Src
        && !range.is_some_and(|r| r.random)
        && in_range(cur)
        && !used(ctx.table, cur, ctx.zone, ctx.guard)
    {
        return *cur;
    }
    // 2. The address: by a hash of the source address (and, unless
    //    persistent, the destination and zone).
    let mut cand = *cur;
    let addr = if amin == amax {
        amin
    } else {
        let persistent = range.is_some_and(|r| r.persistent);
        let h = if persistent {
            hash_of(ctx.basis, (cur.src, 0u8))
        } else {
            hash_of(ctx.basis, (cur.src, cur.dst, ctx.zone))
        };
        let span = amax.wrapping_sub(amin).saturating_add(1);
        amin + u128::from(h) % span
    };
    set(&mut cand, m, addr, cur_port);
    // 3. The port.
    let Some(port_end_is_src) = l4_manip(&cand, m) else {
        return cand;
    };
    if !proto_specified && in_range(&cand) && !used(ctx.table, &cand, ctx.zone, ctx.guard) {
        return cand;
    }
    // ICMP ids live in the source "port" for both manips.
    let port_m = if cand.is_icmp() { Manip::Src } else { m };
    let (_, port) = get(&cand, port_m);
    let (min, max) = match range {
        Some(r) if r.proto_specified => (r.min_port.min(r.max_port), r.max_port.max(r.min_port)),
        _ => {
            if cand.is_icmp() {
                (0, u16::MAX)
            } else if !port_end_is_src {
                // A destination port is never moved without a range.
                return cand;
            } else if port < 512 {
                (1, 511)
            } else if port < 1024 {
                (600, 1023)
            } else {
                (1024, u16::MAX)
            }
        }
    };
    let size = u32::from(max - min) + 1;
    let mut off: u32 = if range.is_some_and(|r| r.random) {
        ctx.rng.next_u32()
    } else if random_all || m == Manip::Src {
        // The kernel draws a random offset here; a keyed hash of the
        // tuple spreads as well and makes the choice reproducible.
        hash_of(ctx.basis, (cand, ctx.zone)) as u32
    } else {
        0
    };
    let mut attempts = size.min(MAX_ATTEMPTS);
    loop {
        for _ in 0..attempts {
            let p = min + (off % size) as u16;
            let (a, _) = get(&cand, port_m);
            set(&mut cand, port_m, a, p);
            if !used(ctx.table, &cand, ctx.zone, ctx.guard) {
                return cand;
            }
            off = off.wrapping_add(1);
        }
        if attempts >= size || attempts < 16 {
            return cand;
        }
        attempts /= 2;
        off = ctx.rng.next_u32();
    }
}

/// Rewrites the IP header at `l.l3` and its L4 header so that end `m`
/// carries `addr` and `port` (the port only for protocols with ports, or
/// an ICMP echo id). `l4_full`: the L4 header and payload are complete
/// (not the quoted, truncated packet inside an ICMP error), so the L4
/// checksum is updated.
pub fn manip_pkt(p: &mut [u8], l: &Layers, m: Manip, addr: u128, port: u16, l4_full: bool) {
    let l3 = l.l3;
    let (old_addr_bytes, new_addr_bytes, at): ([u8; 16], [u8; 16], usize);
    let alen;
    if l.v6 {
        alen = 16;
        at = l3 + if m == Manip::Src { 8 } else { 24 };
        let mut o = [0u8; 16];
        o.copy_from_slice(&p[at..at + 16]);
        old_addr_bytes = o;
        new_addr_bytes = addr.to_be_bytes();
    } else {
        alen = 4;
        at = l3 + if m == Manip::Src { 12 } else { 16 };
        let mut o = [0u8; 16];
        o[..4].copy_from_slice(&p[at..at + 4]);
        old_addr_bytes = o;
        let mut n = [0u8; 16];
        n[..4].copy_from_slice(&(addr as u32).to_be_bytes());
        new_addr_bytes = n;
    }
    let old_a = &old_addr_bytes[..alen];
    let new_a = &new_addr_bytes[..alen];
    let addr_changed = old_a != new_a;
    if addr_changed {
        p[at..at + alen].copy_from_slice(new_a);
        if !l.v6 {
            let c = u16::from_be_bytes([p[l3 + 10], p[l3 + 11]]);
            let c = checksum::update_bytes(c, old_a, new_a);
            p[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        }
    }
    let l4 = l.l4;
    let avail = l.end.min(p.len()).saturating_sub(l4);
    // Offsets of the port (or ICMP id) and checksum fields.
    let (port_at, csum_at, pseudo, udp): (Option<usize>, Option<usize>, bool, bool) = match l.proto
    {
        ipproto::TCP => (
            Some(if m == Manip::Src { 0 } else { 2 }),
            Some(16),
            true,
            false,
        ),
        ipproto::UDP | crate::tuple::UDPLITE => (
            Some(if m == Manip::Src { 0 } else { 2 }),
            Some(6),
            true,
            l.proto == ipproto::UDP,
        ),
        ipproto::SCTP | crate::tuple::DCCP => (
            Some(if m == Manip::Src { 0 } else { 2 }),
            None,
            false,
            false,
        ),
        ipproto::ICMP if !l.v6 => (icmp_id_at(p, l4, avail, false), Some(2), false, false),
        ipproto::ICMPV6 if l.v6 => (icmp_id_at(p, l4, avail, true), Some(2), true, false),
        _ => (None, None, false, false),
    };
    let mut old_port = [0u8; 2];
    let new_port = port.to_be_bytes();
    let mut port_changed = false;
    if let Some(pa) = port_at {
        if avail >= pa + 2 {
            old_port.copy_from_slice(&p[l4 + pa..l4 + pa + 2]);
            if old_port != new_port {
                p[l4 + pa..l4 + pa + 2].copy_from_slice(&new_port);
                port_changed = true;
            }
        }
    }
    if let Some(ca) = csum_at {
        if l4_full && avail >= ca + 2 {
            let c = u16::from_be_bytes([p[l4 + ca], p[l4 + ca + 1]]);
            if udp && c == 0 && !l.v6 {
                return;
            }
            let mut c2 = c;
            if pseudo && addr_changed {
                c2 = checksum::update_bytes(c2, old_a, new_a);
            }
            if port_changed {
                c2 = checksum::update_bytes(c2, &old_port, &new_port);
            }
            if udp && c2 == 0 {
                c2 = 0xffff;
            }
            p[l4 + ca..l4 + ca + 2].copy_from_slice(&c2.to_be_bytes());
        }
    }
}

/// Where an ICMP echo-like message keeps its identifier; `None` for
/// other types (errors keep their header as is).
fn icmp_id_at(p: &[u8], l4: usize, avail: usize, v6: bool) -> Option<usize> {
    if avail < 8 {
        return None;
    }
    let ty = p[l4];
    let echo = if v6 {
        matches!(ty, 128 | 129 | 139 | 140)
    } else {
        matches!(ty, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18)
    };
    echo.then_some(4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_address_range_is_recognised() {
        let n = odp::action::Nat {
            kind: Some(odp::action::NatKind::Src),
            ip_min: Some("0.0.0.0".parse().unwrap()),
            ..Default::default()
        };
        let r = NatRange::from_odp(&n);
        assert!(r.is_zero_addr());
        assert!(!r.proto_specified);
        let n = odp::action::Nat {
            ip_min: Some("10.0.0.1".parse().unwrap()),
            proto_min: Some(100),
            ..n
        };
        let r = NatRange::from_odp(&n);
        assert_eq!((r.min_addr, r.max_addr), (0x0a00_0001, 0x0a00_0001));
        assert_eq!((r.min_port, r.max_port), (100, 100));
    }
}
