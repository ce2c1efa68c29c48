//! IP fragment reassembly before tracking, and refragmentation after it
//! (the kernel's `nf_defrag_ipv4`/`nf_defrag_ipv6` as used by
//! `handle_fragments` in net/openvswitch/conntrack.c, with the limits and
//! counters of OVS's userspace `ipf`).
//!
//! A fragment is stored until its datagram is complete. Like the kernel,
//! a fragment that overlaps another one (other than an exact duplicate,
//! which is dropped alone) discards the whole datagram (RFC 5722), and a
//! datagram not complete within the timeout is dropped. The fragment that
//! completes a datagram is replaced, in its buffer, by the reassembled
//! datagram; the largest fragment's IP length comes back as the MRU, to
//! which output refragments ([`refragment`]).
//!
//! The state sits behind one lock: only fragments take it, never other
//! packets.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use dpif::ct::{IpfFamilyStatus, IpfStatus};
use packet::{checksum, ipproto};

use crate::tuple::{CtBuf, Layers};

/// Reassembly settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpfConfig {
    /// Reassemble IPv4.
    pub v4_enabled: bool,
    /// Reassemble IPv6.
    pub v6_enabled: bool,
    /// Smallest IPv4 fragment (IP length) accepted unless it is the last;
    /// 0: none (the kernel has no minimum; OVS's userspace default is 1200).
    pub min_frag_size_v4: u32,
    /// The same for IPv6 (OVS's userspace default is 1280).
    pub min_frag_size_v6: u32,
    /// Most fragments held at once, all datagrams together (OVS's
    /// `max-frag`, 1000 by default).
    pub max_frags: u32,
    /// Most fragments of one datagram.
    pub max_frags_per_datagram: u32,
    /// Most bytes held (the kernel's `ipfrag_high_thresh`, 4 MiB).
    pub mem_limit: usize,
    /// IPv4 reassembly timeout in ms (`ipfrag_time`, 30 s).
    pub timeout_v4_ms: u64,
    /// IPv6 reassembly timeout in ms (`ip6frag_time`, 60 s).
    pub timeout_v6_ms: u64,
}

impl Default for IpfConfig {
    fn default() -> Self {
        IpfConfig {
            v4_enabled: true,
            v6_enabled: true,
            min_frag_size_v4: 0,
            min_frag_size_v6: 0,
            max_frags: 1000,
            max_frags_per_datagram: 64,
            mem_limit: 4 << 20,
            timeout_v4_ms: 30_000,
            timeout_v6_ms: 60_000,
        }
    }
}

/// Per-family counters (OVS's `ipf_status`).
#[derive(Debug, Default)]
pub struct FamilyCounters {
    /// Fragments accepted into a datagram.
    pub accepted: AtomicU64,
    /// Fragments of datagrams completed and sent on.
    pub completed: AtomicU64,
    /// Fragments dropped because their datagram timed out.
    pub expired: AtomicU64,
    /// Fragments dropped as too small.
    pub too_small: AtomicU64,
    /// Fragments dropped for overlapping.
    pub overlap: AtomicU64,
    /// Fragments dropped by a limit (memory, count) or as malformed.
    pub purged: AtomicU64,
}

/// What became of a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Held: nothing to forward now.
    Stolen,
    /// Dropped (malformed, overlapping, over a limit).
    Drop,
    /// Reassembly is off for the family.
    Disabled,
    /// The buffer now holds the whole datagram; the value is the MRU.
    Reassembled(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Key {
    src: u128,
    dst: u128,
    id: u32,
    proto: u8,
    v6: bool,
    zone: u16,
}

struct Piece {
    off: usize,
    end: usize,
    data: Vec<u8>,
}

struct Datagram {
    pieces: Vec<Piece>,
    /// Bytes before the fragmentable part (L2, IP header, IPv6
    /// unfragmentable headers) of the first fragment, and where the
    /// fragment header was in it (IPv6) or the IP header (IPv4).
    head: Option<(Vec<u8>, usize, usize)>,
    /// Payload length, once the last fragment is known.
    total: Option<usize>,
    mem: usize,
    max_size: usize,
    expires: u64,
}

/// The reassembler.
pub struct Ipf {
    cfg: Mutex<IpfConfig>,
    v4_on: AtomicBool,
    v6_on: AtomicBool,
    lists: Mutex<HashMap<Key, Datagram>>,
    nfrag: AtomicU32,
    mem: AtomicU64,
    /// IPv4 counters.
    pub v4: FamilyCounters,
    /// IPv6 counters.
    pub v6: FamilyCounters,
}

/// Where a fragment's pieces are.
struct FragInfo {
    key: Key,
    /// Offset of the fragmentable payload in the packet.
    payload: usize,
    /// Fragment offset in bytes.
    off: usize,
    more: bool,
    /// For IPv6: offset of the fragment header; for IPv4: of the IP header.
    hdr_at: usize,
    /// For IPv6: offset of the next-header byte that names the fragment
    /// header.
    nh_at: usize,
}

fn frag_info(p: &[u8], l: &Layers, zone: u16) -> Option<FragInfo> {
    let (src, dst) = crate::tuple::addrs(p, l);
    if !l.v6 {
        let h = packet::ipv4::Packet::new_unchecked(&p[l.l3..]);
        Some(FragInfo {
            key: Key {
                src,
                dst,
                id: u32::from(h.ident()),
                proto: h.protocol(),
                v6: false,
                zone,
            },
            payload: l.l4,
            off: usize::from(h.frag_offset()) * 8,
            more: h.more_frags(),
            hdr_at: l.l3,
            nh_at: l.l3 + 9,
        })
    } else {
        let mut next = p[l.l3 + 6];
        let mut nh_at = l.l3 + 6;
        let mut at = l.l3 + packet::ipv6::HEADER_LEN;
        for _ in 0..8 {
            match next {
                ipproto::HOPOPTS | ipproto::ROUTING | ipproto::DSTOPTS => {
                    let e = packet::ipv6::ExtHeader::new_checked(p.get(at..l.end)?).ok()?;
                    nh_at = at;
                    next = e.next_header();
                    at += e.header_len();
                }
                ipproto::FRAGMENT => {
                    let f = packet::ipv6::FragHeader::new_checked(p.get(at..l.end)?).ok()?;
                    return Some(FragInfo {
                        key: Key {
                            src,
                            dst,
                            id: f.ident(),
                            proto: f.next_header(),
                            v6: true,
                            zone,
                        },
                        payload: at + packet::ipv6::FRAG_HEADER_LEN,
                        off: usize::from(f.frag_offset()) * 8,
                        more: f.more_frags(),
                        hdr_at: at,
                        nh_at,
                    });
                }
                _ => return None,
            }
        }
        None
    }
}

impl Ipf {
    /// A reassembler with `cfg`.
    pub fn new(cfg: IpfConfig) -> Ipf {
        Ipf {
            v4_on: AtomicBool::new(cfg.v4_enabled),
            v6_on: AtomicBool::new(cfg.v6_enabled),
            cfg: Mutex::new(cfg),
            lists: Mutex::new(HashMap::new()),
            nfrag: AtomicU32::new(0),
            mem: AtomicU64::new(0),
            v4: FamilyCounters::default(),
            v6: FamilyCounters::default(),
        }
    }

    fn cfg(&self) -> IpfConfig {
        self.cfg.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the settings (`ipf-set-enabled`, `ipf-set-min-frag`,
    /// `ipf-set-max-nfrags`).
    pub fn set_config(&self, cfg: IpfConfig) {
        self.v4_on.store(cfg.v4_enabled, Ordering::Relaxed);
        self.v6_on.store(cfg.v6_enabled, Ordering::Relaxed);
        *self.cfg.lock().unwrap_or_else(|e| e.into_inner()) = cfg;
    }

    fn counters(&self, v6: bool) -> &FamilyCounters {
        if v6 {
            &self.v6
        } else {
            &self.v4
        }
    }

    /// The status, as `ovs-dpctl ipf-get-status` reports it.
    pub fn status(&self) -> IpfStatus {
        let c = self.cfg();
        let fam = |f: &FamilyCounters, on: &AtomicBool, min: u32| IpfFamilyStatus {
            enabled: on.load(Ordering::Relaxed),
            min_frag_size: min,
            nfrag_accepted: f.accepted.load(Ordering::Relaxed),
            nfrag_completed_sent: f.completed.load(Ordering::Relaxed),
            nfrag_expired_sent: f.expired.load(Ordering::Relaxed),
            nfrag_too_small: f.too_small.load(Ordering::Relaxed),
            nfrag_overlap: f.overlap.load(Ordering::Relaxed),
            nfrag_purged: f.purged.load(Ordering::Relaxed),
        };
        IpfStatus {
            v4: fam(&self.v4, &self.v4_on, c.min_frag_size_v4),
            v6: fam(&self.v6, &self.v6_on, c.min_frag_size_v6),
            nfrag_max: c.max_frags,
            nfrag: self.nfrag.load(Ordering::Relaxed),
        }
    }

    /// The settings.
    pub fn config(&self) -> IpfConfig {
        self.cfg()
    }

    fn drop_list(&self, d: &Datagram) {
        self.nfrag
            .fetch_sub(d.pieces.len() as u32, Ordering::Relaxed);
        self.mem.fetch_sub(d.mem as u64, Ordering::Relaxed);
    }

    /// Drops datagrams whose time is up.
    pub fn expire(&self, now: u64) {
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        lists.retain(|k, d| {
            if d.expires <= now {
                self.counters(k.v6)
                    .expired
                    .fetch_add(d.pieces.len() as u64, Ordering::Relaxed);
                self.nfrag
                    .fetch_sub(d.pieces.len() as u32, Ordering::Relaxed);
                self.mem.fetch_sub(d.mem as u64, Ordering::Relaxed);
                false
            } else {
                true
            }
        });
    }

    /// Takes the fragment in `buf` (whose layers are `l`).
    pub fn handle<B: CtBuf>(&self, buf: &mut B, l: &Layers, zone: u16, now: u64) -> Outcome {
        let on = if l.v6 { &self.v6_on } else { &self.v4_on };
        if !on.load(Ordering::Relaxed) {
            return Outcome::Disabled;
        }
        let cnt = self.counters(l.v6);
        let cfg = self.cfg();
        self.expire(now);
        let p = buf.data();
        let Some(fi) = frag_info(p, l, zone) else {
            cnt.purged.fetch_add(1, Ordering::Relaxed);
            return Outcome::Drop;
        };
        let mut len = l.end - fi.payload;
        if fi.more && !len.is_multiple_of(8) {
            if l.v6 {
                cnt.purged.fetch_add(1, Ordering::Relaxed);
                return Outcome::Drop;
            }
            len &= !7;
        }
        let end = fi.off + len;
        let ip_size = l.end - l.l3;
        let min = if l.v6 {
            cfg.min_frag_size_v6
        } else {
            cfg.min_frag_size_v4
        } as usize;
        if fi.more && ip_size < min {
            cnt.too_small.fetch_add(1, Ordering::Relaxed);
            return Outcome::Drop;
        }
        if end > 65535 || (len == 0 && fi.more) {
            cnt.purged.fetch_add(1, Ordering::Relaxed);
            return Outcome::Drop;
        }
        let timeout = if l.v6 {
            cfg.timeout_v6_ms
        } else {
            cfg.timeout_v4_ms
        };
        let mut lists = self.lists.lock().unwrap_or_else(|e| e.into_inner());
        if self.nfrag.load(Ordering::Relaxed) >= cfg.max_frags
            || self.mem.load(Ordering::Relaxed) as usize + len > cfg.mem_limit
        {
            cnt.purged.fetch_add(1, Ordering::Relaxed);
            return Outcome::Drop;
        }
        let d = lists.entry(fi.key).or_insert_with(|| Datagram {
            pieces: Vec::new(),
            head: None,
            total: None,
            mem: 0,
            max_size: 0,
            expires: now + timeout,
        });
        // Overlap checks: an exact duplicate is dropped alone; any other
        // overlap discards the datagram.
        let mut bad = false;
        for pc in &d.pieces {
            if pc.off == fi.off && pc.end == end {
                cnt.purged.fetch_add(1, Ordering::Relaxed);
                return Outcome::Drop;
            }
            if fi.off < pc.end && pc.off < end {
                bad = true;
            }
        }
        let last_conflict = match d.total {
            Some(t) => end > t || (!fi.more && end != t),
            None => !fi.more && d.pieces.iter().any(|pc| pc.end > end),
        };
        if bad || last_conflict || d.pieces.len() as u32 >= cfg.max_frags_per_datagram {
            let n = d.pieces.len() as u64 + 1;
            if bad || last_conflict {
                cnt.overlap.fetch_add(n, Ordering::Relaxed);
            } else {
                cnt.purged.fetch_add(n, Ordering::Relaxed);
            }
            if let Some(d) = lists.remove(&fi.key) {
                self.drop_list(&d);
            }
            return Outcome::Drop;
        }
        d.pieces.push(Piece {
            off: fi.off,
            end,
            data: p[fi.payload..fi.payload + len].to_vec(),
        });
        d.mem += len;
        d.max_size = d.max_size.max(ip_size);
        self.nfrag.fetch_add(1, Ordering::Relaxed);
        self.mem.fetch_add(len as u64, Ordering::Relaxed);
        cnt.accepted.fetch_add(1, Ordering::Relaxed);
        if !fi.more {
            d.total = Some(end);
        }
        if fi.off == 0 {
            let hdr_rel = fi.hdr_at;
            d.head = Some((p[..fi.payload].to_vec(), hdr_rel, fi.nh_at));
        }
        // Complete?
        let (Some(total), Some(_)) = (d.total, d.head.as_ref()) else {
            return Outcome::Stolen;
        };
        d.pieces.sort_by_key(|pc| pc.off);
        let mut covered = 0;
        for pc in &d.pieces {
            if pc.off > covered {
                return Outcome::Stolen;
            }
            covered = covered.max(pc.end);
        }
        if covered < total {
            return Outcome::Stolen;
        }
        let Some(d) = lists.remove(&fi.key) else {
            return Outcome::Stolen;
        };
        drop(lists);
        self.drop_list(&d);
        cnt.completed
            .fetch_add(d.pieces.len() as u64, Ordering::Relaxed);
        let Some((head, hdr_at, nh_at)) = d.head else {
            return Outcome::Drop;
        };
        let l3 = l.l3;
        let v6 = l.v6;
        let out_len = if v6 {
            head.len() - packet::ipv6::FRAG_HEADER_LEN + total
        } else {
            head.len() + total
        };
        if out_len - l3 > 65535 + if v6 { packet::ipv6::HEADER_LEN } else { 0 } {
            cnt.purged.fetch_add(1, Ordering::Relaxed);
            return Outcome::Drop;
        }
        buf.set_len(out_len);
        let o = buf.data_mut();
        if v6 {
            let proto = fi.key.proto;
            o[..hdr_at].copy_from_slice(&head[..hdr_at]);
            let after = hdr_at + packet::ipv6::FRAG_HEADER_LEN;
            o[hdr_at..head.len() - packet::ipv6::FRAG_HEADER_LEN].copy_from_slice(&head[after..]);
            o[nh_at] = proto;
            let plen = (out_len - l3 - packet::ipv6::HEADER_LEN) as u16;
            o[l3 + 4..l3 + 6].copy_from_slice(&plen.to_be_bytes());
        } else {
            o[..head.len()].copy_from_slice(&head);
            let tl = (out_len - l3) as u16;
            let mut h = packet::ipv4::Packet::new_unchecked(&mut o[l3..]);
            h.set_total_len(tl);
            h.set_flags_frag(h.flags_frag() & packet::ipv4::FLAG_DF);
            h.fill_checksum();
        }
        let base = out_len - total;
        for pc in &d.pieces {
            o[base + pc.off..base + pc.end].copy_from_slice(&pc.data);
        }
        let _ = hdr_at;
        Outcome::Reassembled(d.max_size.min(65535) as u16)
    }
}

/// Cuts the datagram `p` (IP header at `l3`) into fragments of at most
/// `mru` bytes of IP length, as the kernel's `ip_do_fragment` /
/// `ip6_fragment` do for `ovs_fragment`, and passes each to `out`
/// (including the bytes before `l3`, the L2 header). A datagram that
/// fits is passed whole. IPv6 fragments carry identification `ident`.
/// Returns false (passing nothing) when `mru` is too small to carry
/// data or the packet is not IP.
pub fn refragment(
    p: &[u8],
    l3: usize,
    v6: bool,
    mru: u16,
    ident: u32,
    mut out: impl FnMut(&[u8]),
) -> bool {
    let Ok(l) = crate::tuple::parse_l3(p, l3, v6) else {
        return false;
    };
    let mru = usize::from(mru);
    if l.end - l3 <= mru {
        out(&p[..l.end]);
        return true;
    }
    let mut frag = Vec::with_capacity(l3 + mru + 8);
    if !v6 {
        let hlen = l.l4 - l3;
        let chunk = (mru.saturating_sub(hlen)) & !7;
        if chunk == 0 {
            return false;
        }
        let data = &p[l.l4..l.end];
        let orig_ff = packet::ipv4::Packet::new_unchecked(&p[l3..]).flags_frag();
        let mut off = 0;
        while off < data.len() {
            let n = chunk.min(data.len() - off);
            let last = off + n == data.len();
            frag.clear();
            frag.extend_from_slice(&p[..l.l4]);
            frag.extend_from_slice(&data[off..off + n]);
            let mut h = packet::ipv4::Packet::new_unchecked(&mut frag[l3..]);
            h.set_total_len((hlen + n) as u16);
            let mut ff = (orig_ff & packet::ipv4::FLAG_DF) | ((off / 8) as u16);
            if !last {
                ff |= packet::ipv4::FLAG_MF;
            }
            h.set_flags_frag(ff);
            h.fill_checksum();
            out(&frag);
            off += n;
        }
        true
    } else {
        // Unfragmentable part: the IPv6 header (extension headers are
        // kept in the fragmentable part, as the kernel does when no
        // routing or hop-by-hop header precedes).
        let unfrag = l3 + packet::ipv6::HEADER_LEN;
        let chunk = (mru.saturating_sub(packet::ipv6::HEADER_LEN + 8)) & !7;
        if chunk == 0 {
            return false;
        }
        let next = p[l3 + 6];
        let data = &p[unfrag..l.end];
        let mut off = 0;
        while off < data.len() {
            let n = chunk.min(data.len() - off);
            let last = off + n == data.len();
            frag.clear();
            frag.extend_from_slice(&p[..unfrag]);
            frag[l3 + 6] = ipproto::FRAGMENT;
            let plen = (8 + n) as u16;
            frag[l3 + 4..l3 + 6].copy_from_slice(&plen.to_be_bytes());
            let of = ((off / 8) as u16) << 3 | u16::from(!last);
            frag.extend_from_slice(&[next, 0]);
            frag.extend_from_slice(&of.to_be_bytes());
            frag.extend_from_slice(&ident.to_be_bytes());
            frag.extend_from_slice(&data[off..off + n]);
            out(&frag);
            off += n;
        }
        let _ = checksum::data;
        true
    }
}
