//! The `ct` action on one packet: `ovs_ct_execute` of
//! net/openvswitch/conntrack.c with `nf_conntrack_in` behind it.
//!
//! The steps, in the kernel's order:
//! 1. Is the packet's connection already known from its flow key
//!    (`skb_nfct_cached`)? A packet that went through `ct` in this zone
//!    before (`+trk`, not `+inv`) is looked up again without being
//!    tracked twice; `force` deletes a connection seen in the reply
//!    direction.
//! 2. Otherwise track it: find its connection or start one (protocol
//!    checks, TCP window tracking, ICMP errors matched to the connection
//!    they quote, expectations).
//! 3. NAT, once per packet and zone, if the action has `nat` and the
//!    connection is committed or being committed.
//! 4. Helpers, then the commit: zone limit, mark, labels, insertion.
//! 5. The flow key's `ct_*` fields.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use odp::flow::Flow;
use packet::ipproto;

use crate::action::CtAction;
use crate::conn::{Conn, ConnData, Counters, HelperState, L4};
use crate::nat::{self, Manip, NatRange};
use crate::state::*;
use crate::table::Guard;
use crate::tcp::{self, TcpConn, TcpVerdict};
use crate::timeout::Timeouts;
use crate::tuple::{self, ConnKey, CtBuf, Frag, Layers, Tuple};
use crate::Conntrack;

/// What the datapath does with the packet after `ct`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go on with the next action. The flow key's `ct_*` fields are set.
    Continue,
    /// Drop the packet (NAT found no free tuple, a zone limit or the
    /// connection maximum was hit, a commit clashed): the kernel frees the
    /// skb in these cases.
    Drop,
    /// The engine kept the packet (a fragment waiting for the rest of
    /// its datagram): nothing to forward now.
    Stolen,
}

/// The result of `ct` on one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtResult {
    /// What to do with the packet.
    pub verdict: Verdict,
    /// Nonzero when the packet is a datagram reassembled from fragments:
    /// the largest fragment's IP length. Output must refragment the
    /// packet to this size ([`crate::ipf::refragment`]), as the kernel's
    /// `ovs_fragment` does with `OVS_CB(skb)->mru`.
    pub mru: u16,
}

impl CtResult {
    const CONTINUE: CtResult = CtResult {
        verdict: Verdict::Continue,
        mru: 0,
    };
    const DROP: CtResult = CtResult {
        verdict: Verdict::Drop,
        mru: 0,
    };
}

/// A connection not yet in the table.
struct Fresh {
    orig: Tuple,
    reply: Tuple,
    master: Option<Arc<Conn>>,
    data: ConnData,
    /// NAT the related connection must get (from its expectation).
    follow: Option<crate::helper::expect::Expectation>,
}

/// The packet's connection while the action runs.
enum Cur<'g> {
    /// A committed connection.
    Known(&'g Arc<Conn>),
    /// A new connection, not committed (yet).
    Fresh(Box<Fresh>),
    /// A new connection being committed (allocated, not yet inserted).
    Owned(Arc<Conn>),
}

impl Cur<'_> {
    fn confirmed(&self) -> bool {
        matches!(self, Cur::Known(_))
    }
}

/// Outcome of tracking (`nf_conntrack_in`).
enum In<'g> {
    Invalid,
    Conn(Cur<'g>, CtInfo),
}

/// Where the ICMP error's quoted packet is, for NAT of related packets.
fn is_icmp_error(l: &Layers, p: &[u8]) -> bool {
    let Some(&ty) = p.get(l.l4) else {
        return false;
    };
    if l.v6 {
        l.proto == ipproto::ICMPV6 && ty < 128
    } else {
        l.proto == ipproto::ICMP && matches!(ty, 3 | 4 | 5 | 11 | 12)
    }
}

fn timeouts_of<'a>(ct: &'a Conntrack, policy: &'a Option<(u32, Arc<Timeouts>)>) -> &'a Timeouts {
    match policy {
        Some((_, t)) => t,
        None => &ct.timeouts,
    }
}

/// Writes the `ct_*` fields of the flow key (`__ovs_ct_update_key`).
fn update_key(md: &mut Flow, state: u8, zone: u16, conn: Option<(&Tuple, u32, u128)>) {
    md.ct_state = state;
    md.ct_zone = zone;
    match conn {
        Some((orig, mark, labels)) => {
            md.ct_mark = mark;
            md.ct_label = labels;
            md.ct_nw_proto = orig.proto;
            if orig.v6 {
                md.ct_ipv6_src = orig.src;
                md.ct_ipv6_dst = orig.dst;
                md.ct_nw_src = 0;
                md.ct_nw_dst = 0;
            } else {
                md.ct_nw_src = orig.src as u32;
                md.ct_nw_dst = orig.dst as u32;
                md.ct_ipv6_src = 0;
                md.ct_ipv6_dst = 0;
            }
            if orig.is_icmp() {
                md.ct_tp_src = u16::from(orig.icmp_type());
                md.ct_tp_dst = u16::from(orig.icmp_code());
            } else {
                md.ct_tp_src = orig.src_port;
                md.ct_tp_dst = orig.dst_port;
            }
        }
        None => {
            md.ct_mark = 0;
            md.ct_label = 0;
            md.ct_nw_proto = 0;
            md.ct_nw_src = 0;
            md.ct_nw_dst = 0;
            md.ct_ipv6_src = 0;
            md.ct_ipv6_dst = 0;
            md.ct_tp_src = 0;
            md.ct_tp_dst = 0;
        }
    }
}

/// `ct_clear`: the flow key as for an untracked packet
/// (`ovs_ct_clear`).
pub fn ct_clear(md: &mut Flow) {
    update_key(md, 0, 0, None);
}

/// The IP length of the datagram (what counters count).
fn ip_len(l: &Layers) -> u64 {
    (l.end - l.l3) as u64
}

impl Conntrack {
    /// Where the packet's IP header starts, and whether it is IPv6.
    pub(crate) fn l3_of(p: &[u8], md: &Flow) -> Option<(usize, bool)> {
        if md.packet_type == 0 {
            tuple::find_l3(p)
        } else {
            match md.packet_type & 0xffff {
                0x0800 => Some((0, false)),
                0x86dd => Some((0, true)),
                _ => None,
            }
        }
    }

    /// Runs the `ct` action on one packet. See [`Conntrack::execute`].
    pub(crate) fn process<B: CtBuf>(
        &self,
        buf: &mut B,
        md: &mut Flow,
        act: &CtAction,
        zone: u16,
        now: u64,
        g: &Guard<'_>,
    ) -> CtResult {
        let Some((l3, v6)) = Self::l3_of(buf.data(), md) else {
            self.stats.invalid.fetch_add(1, Ordering::Relaxed);
            update_key(md, CS_TRACKED | CS_INVALID, zone, None);
            return CtResult::CONTINUE;
        };
        let mut l = match tuple::parse_l3(buf.data(), l3, v6) {
            Ok(l) => l,
            Err(_) => {
                self.stats.invalid.fetch_add(1, Ordering::Relaxed);
                update_key(md, CS_TRACKED | CS_INVALID, zone, None);
                return CtResult::CONTINUE;
            }
        };
        let mut mru = 0;
        if l.frag == Frag::Fragment {
            match self.ipf.handle(buf, &l, zone, now) {
                crate::ipf::Outcome::Stolen => {
                    return CtResult {
                        verdict: Verdict::Stolen,
                        mru: 0,
                    }
                }
                crate::ipf::Outcome::Drop => return CtResult::DROP,
                crate::ipf::Outcome::Disabled => {
                    // Reassembly off for this family: a fragment cannot be
                    // tracked.
                    update_key(md, CS_TRACKED | CS_INVALID, zone, None);
                    return CtResult::CONTINUE;
                }
                crate::ipf::Outcome::Reassembled(m) => {
                    mru = m;
                    match tuple::parse_l3(buf.data(), l3, v6) {
                        Ok(nl) if nl.frag == Frag::None => l = nl,
                        _ => {
                            update_key(md, CS_TRACKED | CS_INVALID, zone, None);
                            return CtResult {
                                verdict: Verdict::Continue,
                                mru,
                            };
                        }
                    }
                    md.nw_frag = 0;
                }
            }
        }
        let verdict = self.process_l3(buf, &l, md, act, zone, now, g);
        CtResult { verdict, mru }
    }

    #[allow(clippy::too_many_arguments)]
    fn process_l3<B: CtBuf>(
        &self,
        buf: &mut B,
        l: &Layers,
        md: &mut Flow,
        act: &CtAction,
        zone: u16,
        now: u64,
        g: &Guard<'_>,
    ) -> Verdict {
        let tuple = tuple::tuple_of(buf.data(), l);

        // 1. skb_nfct_cached.
        let ct_executed =
            md.ct_state & CS_TRACKED != 0 && md.ct_state & CS_INVALID == 0 && md.ct_zone == zone;
        let mut cached: Option<(&Arc<Conn>, CtInfo)> = None;
        if ct_executed || (md.ct_state == 0 && act.force) {
            if let Some((conn, dir)) = self.find_existing(&tuple, md.ct_state, zone, now, g) {
                let info = {
                    let d = conn.lock();
                    ctinfo(dir, d.status)
                };
                let helper_ok =
                    act.helper.is_none() || conn.helper.is_none() || conn.helper == act.helper;
                let timeout_ok =
                    act.timeout.is_none() || conn.policy.as_ref().map(|p| p.0) == act.timeout;
                if act.force && dir != Dir::Original {
                    self.table.remove(conn, g);
                } else if ct_executed && helper_ok && timeout_ok {
                    cached = Some((conn, info));
                }
            }
        }

        let (mut cur, info, mut state) = match cached {
            Some((c, info)) => (Cur::Known(c), info, md.ct_state),
            None => {
                // ovs_ct_lookup: an expected connection is reported, not
                // created, until it is committed.
                if !act.commit {
                    if let Ok(t) = &tuple {
                        if let Some(exp) = self.expects.find(t, zone, now) {
                            if let Some(e) = self.table.lookup(&ConnKey { tuple: *t, zone }, g) {
                                let c = e.conn.clone();
                                self.table.remove(&c, g);
                            }
                            let m = &exp.master;
                            let d = m.lock();
                            update_key(
                                md,
                                CS_TRACKED | CS_NEW | CS_RELATED,
                                zone,
                                Some((&m.orig, d.mark, d.labels)),
                            );
                            return Verdict::Continue;
                        }
                    }
                }
                match self.conntrack_in(buf, l, tuple, zone, act, now, g) {
                    In::Invalid => {
                        self.stats.invalid.fetch_add(1, Ordering::Relaxed);
                        update_key(md, CS_TRACKED | CS_INVALID, zone, None);
                        return Verdict::Continue;
                    }
                    In::Conn(cur, info) => {
                        let mut s = info.state();
                        if !cur.confirmed() {
                            s |= CS_NEW;
                        }
                        let has_master = match &cur {
                            Cur::Known(c) => c.master.is_some(),
                            Cur::Fresh(f) => f.master.is_some(),
                            Cur::Owned(c) => c.master.is_some(),
                        };
                        if has_master {
                            s |= CS_RELATED;
                        }
                        (cur, info, s)
                    }
                }
            }
        };
        let was_cached = cached.is_some();

        // 3. NAT.
        if let Some(nat) = &act.nat {
            if state & CS_NAT_MASK == 0 && (cur.confirmed() || act.commit) {
                match self.ovs_ct_nat(buf, l, md, &mut cur, info, nat, act.commit, zone, g) {
                    Ok(bits) => state |= bits,
                    Err(()) => return Verdict::Drop,
                }
            }
        }

        // Commit of a new connection: allocate it now (its tuples are
        // final), so that helpers can name it as a master.
        if act.commit {
            if let Cur::Fresh(f) = cur {
                let f = *f;
                let policy = act.timeout.and_then(|i| self.policy(i));
                let conn = Conn::new(
                    f.orig,
                    f.reply,
                    zone,
                    self.table.next_id(),
                    f.master.as_ref().map(|m| m.orig),
                    act.helper.or_else(|| f.master.as_ref().and(None)),
                    policy,
                    0,
                    f.data,
                );
                cur = Cur::Owned(Arc::new(conn));
            }
        }

        // 4. Helper, sequence adjustment, liberal TCP.
        let conn_ref: Option<&Arc<Conn>> = match &cur {
            Cur::Known(c) => Some(c),
            Cur::Owned(c) => Some(c),
            Cur::Fresh(_) => None,
        };
        if let Some(c) = conn_ref {
            let call = if cur.confirmed() {
                !was_cached
            } else {
                act.commit
            };
            if call {
                if let Some(h) = c.helper {
                    if self
                        .run_helper(h, buf, l, c, info.dir(), zone, now)
                        .is_err()
                    {
                        return Verdict::Drop;
                    }
                }
                let needs_seqadj = c.lock().status & status::SEQ_ADJUST != 0;
                if needs_seqadj {
                    crate::helper::ftp::seq_adjust(buf.data_mut(), l, &c.lock(), info.dir());
                }
            }
            if cur.confirmed() && c.orig.proto == ipproto::TCP {
                let mut d = c.lock();
                let assured = d.status & status::ASSURED != 0;
                if let L4::Tcp(t) = &mut d.l4 {
                    if t.established(assured) {
                        t.set_liberal();
                    }
                }
            }
        }

        // Commit.
        if act.commit {
            let c: &Arc<Conn> = match &cur {
                Cur::Known(c) => c,
                Cur::Owned(c) => c,
                Cur::Fresh(_) => unreachable!("fresh connections are allocated above"),
            };
            if !cur.confirmed() {
                let limit = self.limits.zone_limit(zone);
                if limit != 0 && self.table.zone_len(zone) >= limit {
                    self.stats.zone_limit_drops.fetch_add(1, Ordering::Relaxed);
                    return Verdict::Drop;
                }
                if self.table.len() >= self.limits.max_conns() {
                    self.stats.max_conns_drops.fetch_add(1, Ordering::Relaxed);
                    return Verdict::Drop;
                }
            }
            {
                let mut d = c.lock();
                if let Some((v, m)) = act.mark {
                    d.mark = (d.mark & !m) | (v & m);
                }
                if let Some((v, m)) = act.labels {
                    d.labels = (d.labels & !m) | (v & m);
                }
                if !cur.confirmed() {
                    d.status |= status::CONFIRMED;
                    let timeouts = timeouts_of(self, &c.policy);
                    if d.timeout == 0 {
                        d.timeout = initial_timeout(&d.l4, timeouts, c.orig.v6);
                    }
                    c.expires
                        .store(now + u64::from(d.timeout) * 1000, Ordering::Relaxed);
                }
            }
            if let Cur::Owned(c) = &cur {
                if self.table.insert(c, g).is_err() {
                    self.stats.clash_drops.fetch_add(1, Ordering::Relaxed);
                    return Verdict::Drop;
                }
                self.wheel.add(c.clone(), now);
            }
        }

        // 5. The flow key.
        let (orig, mark, labels) = match &cur {
            Cur::Known(c) => {
                let d = c.lock();
                (c.master.unwrap_or(c.orig), d.mark, d.labels)
            }
            Cur::Owned(c) => {
                let d = c.lock();
                (c.master.unwrap_or(c.orig), d.mark, d.labels)
            }
            Cur::Fresh(f) => (
                f.master.as_ref().map(|m| m.orig).unwrap_or(f.orig),
                f.data.mark,
                f.data.labels,
            ),
        };
        if was_cached {
            md.ct_state = state;
            md.ct_mark = mark;
            md.ct_label = labels;
        } else {
            update_key(md, state, zone, Some((&orig, mark, labels)));
        }
        Verdict::Continue
    }

    /// `ovs_ct_find_existing`: the committed connection of a packet that
    /// went through `ct` before (its tuple inverted if NAT changed it).
    fn find_existing<'g>(
        &self,
        tuple: &packet::Result<Tuple>,
        key_state: u8,
        zone: u16,
        now: u64,
        g: &'g Guard<'_>,
    ) -> Option<(&'g Arc<Conn>, Dir)> {
        let t = tuple.as_ref().ok()?;
        let natted = key_state & CS_NAT_MASK != 0;
        let t = if natted { t.invert()? } else { *t };
        let e = self.table.lookup(&ConnKey { tuple: t, zone }, g)?;
        if e.conn.is_dead(now) {
            return None;
        }
        let dir = if natted { e.dir.rev() } else { e.dir };
        Some((&e.conn, dir))
    }

    /// Tracks a packet: `nf_conntrack_in`.
    #[allow(clippy::too_many_arguments)]
    fn conntrack_in<'g, B: CtBuf>(
        &self,
        buf: &mut B,
        l: &Layers,
        tuple: packet::Result<Tuple>,
        zone: u16,
        act: &CtAction,
        now: u64,
        g: &'g Guard<'_>,
    ) -> In<'g> {
        let Ok(t) = tuple else {
            return In::Invalid;
        };
        let p = buf.data();
        // Protocol error checks (tcp_error, udp_error, icmp_error).
        match self.l4_error(p, l) {
            L4Check::Invalid => return In::Invalid,
            L4Check::IcmpError => return self.icmp_error(p, l, zone, now, g),
            L4Check::Ok => {}
        }

        let mut repeat = 0;
        loop {
            if let Some(e) = self.table.lookup(&ConnKey { tuple: t, zone }, g) {
                let conn = &e.conn;
                if conn.is_dead(now) {
                    self.table.remove(conn, g);
                } else {
                    let dir = e.dir;
                    let mut d = conn.lock();
                    let info = ctinfo(dir, d.status);
                    let timeouts = timeouts_of(self, &conn.policy);
                    match self.l4_packet(p, l, &mut d, dir, true, timeouts, now) {
                        L4Verdict::Accept { timeout, kill } => {
                            if dir == Dir::Reply {
                                d.status |= status::SEEN_REPLY;
                            }
                            if self.acct() {
                                let c = &mut d.counters[dir.idx()];
                                c.packets += 1;
                                c.bytes += ip_len(l);
                            }
                            if let Some(secs) = timeout {
                                d.timeout = secs;
                                conn.expires
                                    .store(now + u64::from(secs) * 1000, Ordering::Relaxed);
                            }
                            drop(d);
                            if kill {
                                self.table.remove(conn, g);
                            }
                            return In::Conn(Cur::Known(conn), info);
                        }
                        L4Verdict::Ignore => {
                            drop(d);
                            return In::Conn(Cur::Known(conn), info);
                        }
                        L4Verdict::Invalid => return In::Invalid,
                        L4Verdict::Repeat => {
                            drop(d);
                            self.table.remove(conn, g);
                            repeat += 1;
                            if repeat > 1 {
                                return In::Invalid;
                            }
                            continue;
                        }
                    }
                }
            }
            break;
        }

        // A new connection.
        let Some(reply) = t.invert() else {
            return In::Invalid;
        };
        let exp = if act.commit {
            self.expects.take(&t, zone, now)
        } else {
            None
        };
        let l4 = match self.l4_new(p, l, &t) {
            Some(s) => s,
            None => return In::Invalid,
        };
        let (mark, labels) = match &exp {
            Some(e) => {
                let d = e.master.lock();
                (d.mark, d.labels)
            }
            None => (0, 0),
        };
        let mut data = ConnData {
            l4,
            status: if exp.is_some() { status::EXPECTED } else { 0 },
            mark,
            labels,
            counters: [Counters::default(); 2],
            seqadj: Default::default(),
            helper: HelperState::default(),
            timeout: 0,
            start: now,
        };
        let timeouts = match act.timeout.and_then(|i| self.policy(i)) {
            Some((_, t)) => *t,
            None => self.timeouts,
        };
        match self.l4_packet(p, l, &mut data, Dir::Original, false, &timeouts, now) {
            L4Verdict::Accept { timeout, .. } => {
                if let Some(s) = timeout {
                    data.timeout = s;
                }
                if self.acct() {
                    data.counters[0].packets += 1;
                    data.counters[0].bytes += ip_len(l);
                }
            }
            L4Verdict::Ignore => {}
            L4Verdict::Invalid | L4Verdict::Repeat => return In::Invalid,
        }
        let info = if exp.is_some() {
            CtInfo::Related(Dir::Original)
        } else {
            CtInfo::New
        };
        let mut fresh = Fresh {
            orig: t,
            reply,
            master: exp.as_ref().map(|e| e.master.clone()),
            data,
            follow: None,
        };
        if let Some(e) = exp {
            // nf_nat_follow_master: set up the related connection's NAT now.
            if e.nat_dst.is_some() || e.nat_src.is_some() {
                let mut cur_t = fresh.orig;
                if let Some((_, a)) = e.nat_src {
                    if cur_t.src != a {
                        cur_t.src = a;
                        fresh.data.status |= status::SRC_NAT;
                    }
                    fresh.data.status |= status::SRC_NAT_DONE;
                }
                if let Some((a, port)) = e.nat_dst {
                    if cur_t.dst != a || cur_t.dst_port != port {
                        cur_t.dst = a;
                        cur_t.dst_port = port;
                        fresh.data.status |= status::DST_NAT;
                    }
                    fresh.data.status |= status::DST_NAT_DONE;
                }
                if let Some(r) = cur_t.invert() {
                    fresh.reply = r;
                }
            }
            fresh.follow = Some(e);
        }
        In::Conn(Cur::Fresh(Box::new(fresh)), info)
    }

    /// `nf_conntrack_icmpv4_error` / `icmpv6_error`: an ICMP error is
    /// related to the connection of the packet it quotes.
    fn icmp_error<'g>(
        &self,
        p: &[u8],
        l: &Layers,
        zone: u16,
        now: u64,
        g: &'g Guard<'_>,
    ) -> In<'g> {
        let Some(inner) = inner_layers(p, l) else {
            return In::Invalid;
        };
        let Ok(orig) = tuple::tuple_of_inner(p, &inner) else {
            return In::Invalid;
        };
        // An error about an error is not related to anything.
        if orig.is_icmp()
            && !tuple::icmp_valid_new(orig.v6, orig.icmp_type())
            && orig.invert().is_none()
        {
            return In::Invalid;
        }
        let Some(inv) = orig.invert() else {
            return In::Invalid;
        };
        let Some(e) = self.table.lookup(&ConnKey { tuple: inv, zone }, g) else {
            return In::Invalid;
        };
        if e.conn.is_dead(now) {
            return In::Invalid;
        }
        // The outer destination must be where the connection sends.
        let (_, outer_dst) = tuple::addrs(p, l);
        if e.conn.tuple(e.dir).dst != outer_dst {
            return In::Invalid;
        }
        In::Conn(Cur::Known(&e.conn), CtInfo::Related(e.dir))
    }

    /// `ovs_ct_nat`: applies NAT to the packet; returns the `ct_state`
    /// NAT bits to add, or `Err` to drop the packet.
    #[allow(clippy::too_many_arguments)]
    fn ovs_ct_nat<B: CtBuf>(
        &self,
        buf: &mut B,
        l: &Layers,
        md: &mut Flow,
        cur: &mut Cur<'_>,
        info: CtInfo,
        nat: &crate::action::NatAction,
        commit: bool,
        zone: u16,
        g: &Guard<'_>,
    ) -> Result<u8, ()> {
        let st = self.status_of(cur);
        let dir = info.dir();
        let related_orig = info == CtInfo::Related(Dir::Original);
        let manip =
            if info != CtInfo::New && st & status::NAT_MASK != 0 && (!related_orig || commit) {
                if dir == Dir::Reply {
                    if st & status::SRC_NAT != 0 {
                        Manip::Dst
                    } else {
                        Manip::Src
                    }
                } else if st & status::SRC_NAT != 0 {
                    Manip::Src
                } else {
                    Manip::Dst
                }
            } else if let Some(k) = nat.kind {
                k
            } else {
                return Ok(0);
            };
        let mut bits = self.nat_execute(buf, l, md, cur, info, Some(&nat.range), manip, zone, g)?;
        let st = self.status_of(cur);
        if st & status::DST_NAT != 0 {
            if st & status::SRC_NAT != 0 {
                bits |= self.nat_execute(
                    buf,
                    l,
                    md,
                    cur,
                    info,
                    Some(&nat.range),
                    manip.rev(),
                    zone,
                    g,
                )?;
            } else if dir == Dir::Original {
                bits |= self.nat_execute(buf, l, md, cur, info, None, Manip::Src, zone, g)?;
            }
        }
        Ok(bits)
    }

    fn status_of(&self, cur: &Cur<'_>) -> u32 {
        match cur {
            Cur::Known(c) => c.lock().status,
            Cur::Owned(c) => c.lock().status,
            Cur::Fresh(f) => f.data.status,
        }
    }

    /// `ovs_ct_nat_execute`: sets up the binding of a new connection if
    /// needed, then rewrites the packet (`nf_nat_packet`).
    #[allow(clippy::too_many_arguments)]
    fn nat_execute<B: CtBuf>(
        &self,
        buf: &mut B,
        l: &Layers,
        md: &mut Flow,
        cur: &mut Cur<'_>,
        info: CtInfo,
        range: Option<&NatRange>,
        manip: Manip,
        zone: u16,
        g: &Guard<'_>,
    ) -> Result<u8, ()> {
        let dir = info.dir();
        let bit = match manip {
            Manip::Src => CS_SRC_NAT,
            Manip::Dst => CS_DST_NAT,
        };
        let is_rel = matches!(info, CtInfo::Related(_));
        if is_rel && is_icmp_error(l, buf.data()) {
            let (orig, reply, st) = self.tuples_of(cur);
            if !icmp_reply_translation(buf.data_mut(), l, &orig, &reply, st, dir, manip) {
                return Err(());
            }
            return Ok(bit);
        }
        if matches!(info, CtInfo::New | CtInfo::Related(_)) {
            if let Cur::Fresh(f) = cur {
                let done = match manip {
                    Manip::Src => status::SRC_NAT_DONE,
                    Manip::Dst => status::DST_NAT_DONE,
                };
                if f.data.status & done == 0 {
                    let r = range.filter(|r| r.map_ips || r.proto_specified);
                    let Some(cur_t) = f.reply.invert() else {
                        return Err(());
                    };
                    let mut rng = self.rng();
                    let mut ctx = nat::Ctx {
                        table: &self.table,
                        guard: g,
                        zone,
                        basis: &self.basis,
                        rng: &mut rng,
                    };
                    let newt = nat::unique_tuple(&cur_t, manip, r, &mut ctx);
                    if newt != cur_t {
                        let Some(rep) = newt.invert() else {
                            return Err(());
                        };
                        f.reply = rep;
                        f.data.status |= match manip {
                            Manip::Src => status::SRC_NAT,
                            Manip::Dst => status::DST_NAT,
                        };
                    }
                    f.data.status |= done;
                }
            }
        }
        // nf_nat_packet.
        let (orig, reply, st) = self.tuples_of(cur);
        let mut statusbit = match manip {
            Manip::Src => status::SRC_NAT,
            Manip::Dst => status::DST_NAT,
        };
        if dir == Dir::Reply {
            statusbit ^= status::NAT_MASK;
        }
        if st & statusbit != 0 {
            let other = if dir == Dir::Original { &reply } else { &orig };
            let Some(target) = other.invert() else {
                return Err(());
            };
            let (a, port) = match manip {
                Manip::Src => (target.src, target.src_port),
                Manip::Dst => (target.dst, target.dst_port),
            };
            let port = if target.is_icmp() {
                target.src_port
            } else {
                port
            };
            nat::manip_pkt(buf.data_mut(), l, manip, a, port, true);
        }
        update_key_nat(md, buf.data(), l, manip);
        Ok(bit)
    }

    fn tuples_of(&self, cur: &Cur<'_>) -> (Tuple, Tuple, u32) {
        match cur {
            Cur::Known(c) => (c.orig, c.reply, c.lock().status),
            Cur::Owned(c) => (c.orig, c.reply, c.lock().status),
            Cur::Fresh(f) => (f.orig, f.reply, f.data.status),
        }
    }
}

/// `ovs_nat_update_key`: the flow key's address and port of the end NAT
/// changed.
fn update_key_nat(md: &mut Flow, p: &[u8], l: &Layers, manip: Manip) {
    let (s, d) = tuple::addrs(p, l);
    let ports =
        matches!(l.proto, ipproto::TCP | ipproto::UDP | ipproto::SCTP) && p.len() >= l.l4 + 4;
    match manip {
        Manip::Src => {
            if l.v6 {
                md.ipv6_src = s;
            } else {
                md.nw_src = s as u32;
            }
            if ports {
                md.tp_src = u16::from_be_bytes([p[l.l4], p[l.l4 + 1]]);
            }
        }
        Manip::Dst => {
            if l.v6 {
                md.ipv6_dst = d;
            } else {
                md.nw_dst = d as u32;
            }
            if ports {
                md.tp_dst = u16::from_be_bytes([p[l.l4 + 2], p[l.l4 + 3]]);
            }
        }
    }
}

/// `ovs_ct_get_info`/`resolve_normal_ct`: the ctinfo of a packet of
/// direction `dir` in a connection with status `st`.
pub(crate) fn ctinfo(dir: Dir, st: u32) -> CtInfo {
    if dir == Dir::Reply {
        CtInfo::Established(Dir::Reply)
    } else if st & status::SEEN_REPLY != 0 {
        CtInfo::Established(Dir::Original)
    } else if st & status::EXPECTED != 0 {
        CtInfo::Related(Dir::Original)
    } else {
        CtInfo::New
    }
}

/// The timeout of a connection that is committed before any protocol
/// decision set one (defensive: every accepted packet sets one).
fn initial_timeout(l4: &L4, t: &Timeouts, v6: bool) -> u32 {
    match l4 {
        L4::Tcp(c) => t.tcp.state(c.state),
        L4::Udp => t.udp_unreplied,
        L4::Icmp => {
            if v6 {
                t.icmpv6
            } else {
                t.icmp
            }
        }
        L4::Other => t.generic,
    }
}

/// The quoted packet of an ICMP error whose outer layers are `l`.
pub(crate) fn inner_layers(p: &[u8], l: &Layers) -> Option<Layers> {
    let at = l.l4 + 8;
    if at >= l.end {
        return None;
    }
    let inner = &p[..l.end];
    let v6 = l.v6;
    // The quoted datagram is usually truncated: parse its header, and
    // bound everything by what the error carries.
    let hdr_ok = if v6 {
        inner.len() >= at + packet::ipv6::HEADER_LEN
    } else {
        inner.len() >= at + packet::ipv4::MIN_HEADER_LEN
    };
    if !hdr_ok {
        return None;
    }
    let mut il = tuple::parse_l3_truncated(inner, at, v6)?;
    il.end = il.end.min(l.end);
    if il.frag == Frag::Fragment || il.l4 > il.end {
        return None;
    }
    Some(il)
}

/// `nf_nat_icmp_reply_translation`: NAT of an ICMP error related to a
/// NATed connection: the quoted packet is translated back the other way,
/// then the outer header; the ICMP checksum is recomputed.
fn icmp_reply_translation(
    p: &mut [u8],
    l: &Layers,
    orig: &Tuple,
    reply: &Tuple,
    st: u32,
    dir: Dir,
    manip: Manip,
) -> bool {
    let mut statusbit = match manip {
        Manip::Src => status::SRC_NAT,
        Manip::Dst => status::DST_NAT,
    };
    if dir == Dir::Reply {
        statusbit ^= status::NAT_MASK;
    }
    if st & statusbit == 0 {
        return true;
    }
    let Some(il) = inner_layers(p, l) else {
        return false;
    };
    let other = if dir == Dir::Original { reply } else { orig };
    // Inner: look like the packet that went the other way.
    let (ia, ip) = match manip.rev() {
        Manip::Src => (other.src, other.src_port),
        Manip::Dst => (other.dst, other.dst_port),
    };
    let ip = if other.is_icmp() { other.src_port } else { ip };
    nat::manip_pkt(p, &il, manip.rev(), ia, ip, false);
    // Outer: addresses only.
    let Some(target) = other.invert() else {
        return false;
    };
    let oa = match manip {
        Manip::Src => target.src,
        Manip::Dst => target.dst,
    };
    let outer = Layers { proto: 0, ..*l };
    nat::manip_pkt(p, &outer, manip, oa, 0, false);
    // The ICMP checksum over the whole message.
    let (s, d) = tuple::addrs(p, l);
    let msg_len = l.end - l.l4;
    p[l.l4 + 2] = 0;
    p[l.l4 + 3] = 0;
    let sum = if l.v6 {
        packet::checksum::pseudo_header_v6(s, d, ipproto::ICMPV6, msg_len as u32)
    } else {
        0
    };
    let c = packet::checksum::finish(packet::checksum::add(sum, &p[l.l4..l.end]));
    p[l.l4 + 2..l.l4 + 4].copy_from_slice(&c.to_be_bytes());
    true
}

/// Result of the protocol error checks.
pub(crate) enum L4Check {
    Ok,
    Invalid,
    IcmpError,
}

/// Result of the protocol's packet function.
pub(crate) enum L4Verdict {
    /// Accepted; `timeout`: new timeout in seconds (`None`: unchanged);
    /// `kill`: remove the connection after this packet.
    Accept {
        timeout: Option<u32>,
        kill: bool,
    },
    Ignore,
    Invalid,
    Repeat,
}

impl Conntrack {
    /// `tcp_error`, `udp_error`, `icmp_error` (header, checksum, flags).
    pub(crate) fn l4_error(&self, p: &[u8], l: &Layers) -> L4Check {
        let seg = &p[l.l4..l.end];
        let (s, d) = tuple::addrs(p, l);
        let pseudo = |proto: u8| {
            if l.v6 {
                packet::checksum::pseudo_header_v6(s, d, proto, seg.len() as u32)
            } else {
                packet::checksum::pseudo_header_v4(s as u32, d as u32, proto, seg.len() as u16)
            }
        };
        let check = self.checksum();
        match l.proto {
            ipproto::TCP => {
                let Ok(t) = packet::tcp::Packet::new_checked(seg) else {
                    return L4Check::Invalid;
                };
                if check && !t.verify_checksum(pseudo(ipproto::TCP)) {
                    return L4Check::Invalid;
                }
                let sg = tcp::Segment {
                    seq: 0,
                    ack: 0,
                    flags: t.flags(),
                    win: 0,
                    options: &[],
                    payload_len: 0,
                };
                if !sg.flags_valid() {
                    return L4Check::Invalid;
                }
                L4Check::Ok
            }
            ipproto::UDP => {
                let Ok(u) = packet::udp::Packet::new_checked(seg) else {
                    return L4Check::Invalid;
                };
                let ulen = usize::from(u.len());
                if ulen < 8 || ulen > seg.len() {
                    return L4Check::Invalid;
                }
                if check && (u.checksum() != 0 || l.v6) {
                    let sum = packet::checksum::add(pseudo(ipproto::UDP), seg);
                    if !packet::checksum::is_valid(sum) {
                        return L4Check::Invalid;
                    }
                }
                L4Check::Ok
            }
            ipproto::ICMP if !l.v6 => {
                if seg.len() < 8 {
                    return L4Check::Invalid;
                }
                if check && !packet::checksum::is_valid(packet::checksum::add(0, seg)) {
                    return L4Check::Invalid;
                }
                if matches!(seg[0], 3 | 4 | 5 | 11 | 12) {
                    L4Check::IcmpError
                } else {
                    L4Check::Ok
                }
            }
            ipproto::ICMPV6 if l.v6 => {
                if seg.len() < 8 {
                    return L4Check::Invalid;
                }
                if check
                    && !packet::checksum::is_valid(packet::checksum::add(
                        pseudo(ipproto::ICMPV6),
                        seg,
                    ))
                {
                    return L4Check::Invalid;
                }
                match seg[0] {
                    t if t < 128 => L4Check::IcmpError,
                    // MLD and neighbour discovery are not tracked
                    // (IP_CT_UNTRACKED), which the flow key shows as
                    // +trk+inv.
                    130..=136 | 143 => L4Check::Invalid,
                    _ => L4Check::Ok,
                }
            }
            _ => L4Check::Ok,
        }
    }

    /// The protocol state of a connection's first packet (`*_new`);
    /// `None` if the packet may not start a connection.
    fn l4_new(&self, p: &[u8], l: &Layers, t: &Tuple) -> Option<L4> {
        match l.proto {
            ipproto::TCP => {
                let seg = tcp_segment(p, l)?;
                TcpConn::new(&seg, self.cfg.tcp_loose).map(L4::Tcp)
            }
            ipproto::UDP | tuple::UDPLITE => Some(L4::Udp),
            _ if t.is_icmp() => tuple::icmp_valid_new(t.v6, t.icmp_type()).then_some(L4::Icmp),
            _ => Some(L4::Other),
        }
    }

    /// The protocol's packet function (`nf_conntrack_tcp_packet`,
    /// `nf_conntrack_udp_packet`, ICMP, generic).
    #[allow(clippy::too_many_arguments)]
    fn l4_packet(
        &self,
        p: &[u8],
        l: &Layers,
        d: &mut ConnData,
        dir: Dir,
        confirmed: bool,
        t: &Timeouts,
        now: u64,
    ) -> L4Verdict {
        let seen_reply = d.status & status::SEEN_REPLY != 0;
        let assured = d.status & status::ASSURED != 0;
        match &mut d.l4 {
            L4::Tcp(c) => {
                let Some(seg) = tcp_segment(p, l) else {
                    return L4Verdict::Invalid;
                };
                let ctx = tcp::Ctx {
                    timeouts: &t.tcp,
                    be_liberal: self.be_liberal(),
                    max_retrans: self.cfg.tcp_max_retrans,
                    seen_reply,
                    assured,
                    seqadj: &d.seqadj,
                };
                match c.packet(dir, &seg, &ctx) {
                    TcpVerdict::Accept {
                        timeout,
                        kill,
                        assured: a,
                    } => {
                        if a {
                            d.status |= status::ASSURED;
                        }
                        L4Verdict::Accept {
                            timeout: (timeout != u32::MAX).then_some(timeout),
                            kill,
                        }
                    }
                    TcpVerdict::Ignore => L4Verdict::Ignore,
                    TcpVerdict::Invalid => L4Verdict::Invalid,
                    TcpVerdict::Repeat => L4Verdict::Repeat,
                }
            }
            L4::Udp => {
                if !confirmed {
                    d.start = now;
                }
                // UDP "stream": replies seen, and still active two seconds
                // after the connection started (timeout extended, assured).
                if seen_reply {
                    let stream = now > d.start.saturating_add(2000);
                    let timeout = if stream {
                        t.udp_replied
                    } else {
                        t.udp_unreplied
                    };
                    if stream && !assured {
                        d.status |= status::ASSURED;
                    }
                    L4Verdict::Accept {
                        timeout: Some(timeout),
                        kill: false,
                    }
                } else {
                    L4Verdict::Accept {
                        timeout: Some(t.udp_unreplied),
                        kill: false,
                    }
                }
            }
            L4::Icmp => L4Verdict::Accept {
                timeout: Some(if l.v6 { t.icmpv6 } else { t.icmp }),
                kill: false,
            },
            L4::Other => L4Verdict::Accept {
                timeout: Some(t.generic),
                kill: false,
            },
        }
    }
}

/// The TCP segment of a packet, if its header is complete.
fn tcp_segment<'a>(p: &'a [u8], l: &Layers) -> Option<tcp::Segment<'a>> {
    let seg = p.get(l.l4..l.end)?;
    let t = packet::tcp::Packet::new_checked(seg).ok()?;
    let hl = t.header_len();
    Some(tcp::Segment {
        seq: t.seq_number(),
        ack: t.ack_number(),
        flags: t.flags(),
        win: t.window_len(),
        options: &seg[20..hl],
        payload_len: (seg.len() - hl) as u32,
    })
}
