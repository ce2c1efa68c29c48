//! Applying datapath actions to a packet.
//!
//! [`execute`] runs an action list on one packet. Header changes are made in
//! place, with checksums updated incrementally; pushes and pops grow or
//! shrink the packet at its front ([`PacketBuf`]). What leaves the packet's
//! hands — outputs, upcalls, recirculation, samples — goes to a
//! caller-supplied [`Sink`], so the executor itself never allocates, locks
//! or blocks; only nested action lists that run on a copy (`clone`,
//! `sample`, `check_pkt_len` branches that do not end the list) clone the
//! packet.
//!
//! Metadata (priority, skb_mark, recirc_id, dp_hash, tunnel, conntrack) lives
//! in a [`Flow`] passed alongside the packet; set actions on metadata update
//! it.
//!
//! Actions are trusted: [`validate`] checks a list once, against the flow
//! match it is installed with, so that every action is safe on every packet
//! of the match (as the kernel does at flow install). A packet whose headers
//! are too short for a set action is left unchanged by that action.

use crate::abi::*;
use crate::action::{Action, Userspace};
use crate::flow::Flow;
use crate::key::{KeyAttr, MplsLse, NshAttr, NshBase, PortNo, RecircId};
use packet::checksum;

/// A packet buffer the executor can edit: bytes that can grow and shrink at
/// the front (for header pushes and pops) and be truncated.
pub trait PacketBuf: Clone {
    /// The packet's bytes.
    fn data(&self) -> &[u8];
    /// The packet's bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Prepends `n` bytes (contents unspecified).
    fn push_front(&mut self, n: usize);
    /// Removes the first `n` bytes (`n <= len`).
    fn pull_front(&mut self, n: usize);
    /// Shortens the packet to `len` bytes, if longer.
    fn truncate(&mut self, len: usize);
    /// The packet's layers. By default found by walking the headers; a
    /// buffer that carries them from an earlier parse returns those (and
    /// must forget them when it grows or shrinks).
    fn layers(&self) -> Layers {
        Layers::parse(self.data())
    }
}

impl PacketBuf for Vec<u8> {
    fn data(&self) -> &[u8] {
        self
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self
    }
    fn push_front(&mut self, n: usize) {
        self.splice(0..0, std::iter::repeat_n(0, n));
    }
    fn pull_front(&mut self, n: usize) {
        self.drain(..n.min(self.len()));
    }
    fn truncate(&mut self, len: usize) {
        Vec::truncate(self, len)
    }
}

/// Where packets leave the executor. Implemented by the datapath.
pub trait Sink<B: PacketBuf> {
    /// Transmits `packet` on `port`; with `trunc`, only its first `trunc`
    /// bytes. Must copy what it keeps.
    fn output(&mut self, port: PortNo, packet: &B, md: &Flow, trunc: Option<u32>);
    /// Queues `packet` to userspace (a `userspace` action).
    fn userspace(&mut self, action: &Userspace, packet: &B, md: &Flow);
    /// Re-runs the lookup on `packet` with `md.recirc_id` set to `id`.
    fn recirc(&mut self, id: RecircId, packet: B, md: &Flow);
    /// A uniformly random `u32`, for `sample` actions.
    fn random(&mut self) -> u32;
    /// Whether a packet passes meter `id` (`true` when meters are not
    /// configured).
    fn meter(&mut self, id: u32, packet: &B) -> bool;
    /// Runs an action this executor does not implement (`ct`, tunnels,
    /// `lb_output`, `psample`...). Returns `false` to drop the packet.
    fn other(&mut self, action: &Action, packet: &mut B, md: &mut Flow) -> bool;
}

/// Limit on nested `clone`/`sample`/`check_pkt_len`/`dec_ttl` lists and
/// recirculations started from one packet, like the kernel's.
pub const MAX_NESTING: usize = 16;

/// Offsets of a packet's layers, found by walking its headers
/// ([`Layers::parse`]), or carried with the packet from the datapath's
/// key extraction ([`PacketBuf::layers`]) so that actions do not walk the
/// headers again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Layers {
    /// Offset of the innermost EtherType field (after VLAN tags).
    pub ethertype_at: Option<usize>,
    /// EtherType of the L3 header.
    pub dl_type: u16,
    /// Offset of the first MPLS label, if any.
    pub mpls_at: Option<usize>,
    /// Offset of the L3 header (IPv4, IPv6, ARP).
    pub l3: Option<usize>,
    /// Offset of the L4 header, when the packet is not a later fragment.
    pub l4: Option<usize>,
    /// IP protocol of the L4 header.
    pub proto: u8,
}

impl Layers {
    /// The layers of Ethernet frame `p`: up to any number of VLAN tags,
    /// then MPLS, IPv4 (L4 unless a later fragment or a bad header
    /// length), IPv6 (extension headers walked) or ARP/RARP.
    pub fn parse(p: &[u8]) -> Layers {
        let mut l = Layers::default();
        if p.len() < 14 {
            return l;
        }
        let mut at = 12;
        let mut ty = u16::from_be_bytes([p[12], p[13]]);
        while (ty == ETH_TYPE_VLAN_8021Q || ty == ETH_TYPE_VLAN_8021AD) && p.len() >= at + 6 {
            at += 4;
            ty = u16::from_be_bytes([p[at], p[at + 1]]);
        }
        l.ethertype_at = Some(at);
        l.dl_type = ty;
        let l3 = at + 2;
        match ty {
            ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST => l.mpls_at = Some(l3),
            ETH_TYPE_IP if p.len() >= l3 + 20 => {
                l.l3 = Some(l3);
                let ihl = usize::from(p[l3] & 0xf) * 4;
                let frag_off = u16::from_be_bytes([p[l3 + 6], p[l3 + 7]]) & 0x1fff;
                l.proto = p[l3 + 9];
                if ihl >= 20 && frag_off == 0 && p.len() >= l3 + ihl {
                    l.l4 = Some(l3 + ihl);
                }
            }
            ETH_TYPE_IPV6 if p.len() >= l3 + 40 => {
                l.l3 = Some(l3);
                let (l4, proto, later) = ipv6_l4(p, l3);
                l.proto = proto;
                if !later {
                    l.l4 = l4;
                }
            }
            ETH_TYPE_ARP | ETH_TYPE_RARP if p.len() >= l3 + 28 => l.l3 = Some(l3),
            _ => {}
        }
        l
    }
}

/// Walks IPv6 extension headers: (L4 offset, protocol, later fragment).
fn ipv6_l4(p: &[u8], l3: usize) -> (Option<usize>, u8, bool) {
    let mut next = p[l3 + 6];
    let mut at = l3 + 40;
    for _ in 0..8 {
        match next {
            0 | 43 | 60 => {
                if p.len() < at + 8 {
                    return (None, next, false);
                }
                next = p[at];
                at += (usize::from(p[at + 1]) + 1) * 8;
            }
            51 => {
                if p.len() < at + 8 {
                    return (None, next, false);
                }
                next = p[at];
                at += (usize::from(p[at + 1]) + 2) * 4;
            }
            44 => {
                if p.len() < at + 8 {
                    return (None, next, false);
                }
                let off = u16::from_be_bytes([p[at + 2], p[at + 3]]) & 0xfff8;
                next = p[at];
                at += 8;
                if off != 0 {
                    return (None, next, true);
                }
            }
            _ => break,
        }
    }
    if at <= p.len() {
        (Some(at), next, false)
    } else {
        (None, next, false)
    }
}

/// Runs `actions` on `packet`, whose metadata is `md`.
///
/// Runs on the caller's thread; allocates only where an action runs on a
/// copy of the packet. `depth` counts nesting and recirculation (start at 0);
/// beyond [`MAX_NESTING`] the packet is dropped.
pub fn execute<B: PacketBuf, S: Sink<B>>(
    packet: &mut B,
    md: &mut Flow,
    actions: &[Action],
    sink: &mut S,
    depth: usize,
) {
    if depth > MAX_NESTING {
        return;
    }
    let mut trunc: Option<u32> = None;
    for (i, action) in actions.iter().enumerate() {
        let last = i + 1 == actions.len();
        match action {
            Action::Output(port) => sink.output(*port, packet, md, trunc.take()),
            Action::Userspace(u) => sink.userspace(u, packet, md),
            Action::Set(attr) => set_field(packet, md, attr, None),
            Action::SetMasked { key, mask } => set_field(packet, md, key, Some(mask)),
            Action::PushVlan { tpid, tci } => push_vlan(packet, *tpid, *tci),
            Action::PopVlan => pop_vlan(packet),
            Action::Sample {
                probability,
                actions,
            } => {
                if *probability != 0 && (*probability == u32::MAX || sink.random() < *probability) {
                    if last {
                        return execute(packet, md, actions, sink, depth + 1);
                    }
                    let mut copy = packet.clone();
                    let mut md2 = *md;
                    execute(&mut copy, &mut md2, actions, sink, depth + 1);
                }
            }
            Action::Clone(actions) => {
                if last {
                    return execute(packet, md, actions, sink, depth + 1);
                }
                let mut copy = packet.clone();
                let mut md2 = *md;
                execute(&mut copy, &mut md2, actions, sink, depth + 1);
            }
            Action::Recirc(id) => {
                let mut md2 = *md;
                md2.recirc_id = id.0;
                if last {
                    let p = std::mem::replace(packet, packet.clone());
                    sink.recirc(*id, p, &md2);
                    return;
                }
                sink.recirc(*id, packet.clone(), &md2);
            }
            Action::Hash { alg, basis } => md.dp_hash = l4_hash(packet.data(), *alg, *basis),
            Action::PushMpls { lse, ethertype } => push_mpls(packet, md, *lse, *ethertype),
            Action::PopMpls { ethertype } => pop_mpls(packet, md, *ethertype),
            Action::AddMpls {
                lse,
                ethertype,
                tun_flags,
            } => {
                if tun_flags & OVS_MPLS_L3_TUNNEL_FLAG != 0 {
                    // The label goes where push_mpls puts it: after the
                    // Ethernet header, if any.
                    push_mpls(packet, md, *lse, *ethertype)
                } else {
                    // In front of the whole packet (Ethernet header
                    // included), which becomes an MPLS packet without
                    // Ethernet header: the kernel's push_mpls with a
                    // mac_len of 0, OVS's add_mpls without l3_encap.
                    push_mpls_front(packet, md, *lse, *ethertype)
                }
            }
            Action::Trunc { max_len } => trunc = Some(*max_len),
            Action::PushNsh(attrs) => {
                if !push_nsh(packet, md, attrs) {
                    return;
                }
            }
            Action::PopNsh => {
                if !pop_nsh(packet, md) {
                    return;
                }
            }
            Action::PushEth { src, dst } => {
                // The EtherType is the packet's type (the kernel's
                // skb->protocol), e.g. MPLS after add_mpls.
                let ty = l3_ethertype(md).unwrap_or_else(|| ethertype_for_l3(packet.data()));
                packet.push_front(14);
                let d = packet.data_mut();
                d[..6].copy_from_slice(dst);
                d[6..12].copy_from_slice(src);
                d[12..14].copy_from_slice(&ty.to_be_bytes());
                md.packet_type = 0;
            }
            Action::PopEth => {
                if let Some(l) = packet.layers().ethertype_at {
                    let ty = packet.layers().dl_type;
                    packet.pull_front(l + 2);
                    md.packet_type = (1 << 16) | u32::from(ty);
                }
            }
            Action::CheckPktLen { pkt_len, gt, le } => {
                let branch = if packet.data().len() > usize::from(*pkt_len) {
                    gt
                } else {
                    le
                };
                if last {
                    return execute(packet, md, branch, sink, depth + 1);
                }
                let mut copy = packet.clone();
                let mut md2 = *md;
                execute(&mut copy, &mut md2, branch, sink, depth + 1);
            }
            Action::DecTtl(on_zero) => {
                if !dec_ttl(packet) {
                    return execute(packet, md, on_zero, sink, depth + 1);
                }
            }
            Action::Drop(_) => return,
            Action::CtClear => {
                md.ct_state = 0;
                md.ct_zone = 0;
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
            Action::Meter(id) => {
                if !sink.meter(*id, packet) {
                    return;
                }
            }
            other => {
                if !sink.other(other, packet, md) {
                    return;
                }
            }
        }
    }
}

/// `OVS_MPLS_L3_TUNNEL_FLAG_MASK` of `add_mpls`'s `tun_flags`.
const OVS_MPLS_L3_TUNNEL_FLAG: u16 = 1;

/// The EtherType of a packet without Ethernet header (`packet_type` in
/// namespace `OFPHTN_ETHERTYPE`, 1); `None` for an Ethernet packet.
fn l3_ethertype(md: &Flow) -> Option<u16> {
    (md.packet_type >> 16 == 1).then_some(md.packet_type as u16)
}

/// The EtherType that describes a bare L3 packet, from its first nibble.
fn ethertype_for_l3(p: &[u8]) -> u16 {
    match p.first().map(|b| b >> 4) {
        Some(4) => ETH_TYPE_IP,
        Some(6) => ETH_TYPE_IPV6,
        _ => ETH_TYPE_TEB,
    }
}

fn push_vlan<B: PacketBuf>(packet: &mut B, tpid: u16, tci: u16) {
    if packet.data().len() < 12 {
        return;
    }
    packet.push_front(4);
    let d = packet.data_mut();
    d.copy_within(4..16, 0);
    d[12..14].copy_from_slice(&tpid.to_be_bytes());
    // The CFI bit marks "present" in the datapath; it is not sent.
    d[14..16].copy_from_slice(&(tci & !crate::flow::VLAN_CFI).to_be_bytes());
}

fn pop_vlan<B: PacketBuf>(packet: &mut B) {
    let d = packet.data();
    if d.len() < 18 {
        return;
    }
    let ty = u16::from_be_bytes([d[12], d[13]]);
    if ty != ETH_TYPE_VLAN_8021Q && ty != ETH_TYPE_VLAN_8021AD {
        return;
    }
    packet.data_mut().copy_within(0..12, 4);
    packet.pull_front(4);
}

/// NSH next-protocol values (`TUN_P_*` of the kernel's `nsh.h`) and the
/// EtherTypes they stand for.
const NSH_NEXT_PROTOCOLS: [(u8, u16); 5] = [
    (1, ETH_TYPE_IP),
    (2, ETH_TYPE_IPV6),
    (3, ETH_TYPE_TEB),
    (4, ETH_TYPE_NSH),
    (5, ETH_TYPE_MPLS),
];
/// `TUN_P_ETHERNET`.
const NSH_NP_ETHERNET: u8 = 3;

/// Pushes an NSH header built from `attrs` (the kernel's
/// `nsh_hdr_from_nlattr` then `nsh_push`): its next protocol is Ethernet
/// for an Ethernet frame, else the packet's type; the packet becomes an NSH
/// packet without Ethernet header. False (drop) where the kernel fails.
fn push_nsh<B: PacketBuf>(packet: &mut B, md: &mut Flow, attrs: &[NshAttr]) -> bool {
    let np = match l3_ethertype(md) {
        None => NSH_NP_ETHERNET,
        Some(ty) => match NSH_NEXT_PROTOCOLS.iter().find(|(_, t)| *t == ty) {
            Some((np, _)) => *np,
            None => return false,
        },
    };
    let mut base = NshBase::default();
    let mut metadata: Vec<u8> = Vec::new();
    for a in attrs {
        match a {
            NshAttr::Base(b) => base = *b,
            NshAttr::Md1(words) => metadata = words.iter().flat_map(|w| w.to_be_bytes()).collect(),
            NshAttr::Md2(tlvs) => metadata = tlvs.clone(),
            NshAttr::Unknown { .. } => return false,
        }
    }
    // Length in 4-byte words, 6 bits of it.
    let len = 8 + metadata.len();
    if len & 3 != 0 || len / 4 > 0x3f {
        return false;
    }
    let word0 = (u16::from(base.flags) << 12 & 0x3000)
        | (u16::from(base.ttl) << 6 & 0x0fc0)
        | (len / 4) as u16;
    packet.push_front(len);
    let d = packet.data_mut();
    d[0..2].copy_from_slice(&word0.to_be_bytes());
    d[2] = base.mdtype;
    d[3] = np;
    d[4..8].copy_from_slice(&base.path_hdr.to_be_bytes());
    d[8..len].copy_from_slice(&metadata);
    md.packet_type = (1 << 16) | u32::from(ETH_TYPE_NSH);
    true
}

/// Pops the NSH header of an NSH packet without Ethernet header (the
/// kernel's `nsh_pop`); the packet's type becomes the header's next
/// protocol (Ethernet for `TUN_P_ETHERNET`). False (drop) where the kernel
/// fails.
fn pop_nsh<B: PacketBuf>(packet: &mut B, md: &mut Flow) -> bool {
    if l3_ethertype(md) != Some(ETH_TYPE_NSH) {
        return false;
    }
    let d = packet.data();
    if d.len() < 8 {
        return false;
    }
    let len = usize::from(u16::from_be_bytes([d[0], d[1]]) & 0x3f) * 4;
    let Some(&(_, inner)) = NSH_NEXT_PROTOCOLS.iter().find(|(np, _)| *np == d[3]) else {
        return false;
    };
    if len < 8 || d.len() < len {
        return false;
    }
    packet.pull_front(len);
    md.packet_type = if inner == ETH_TYPE_TEB {
        0
    } else {
        (1 << 16) | u32::from(inner)
    };
    true
}

/// Pushes a label after the Ethernet header and its VLAN tags, or in front
/// of a packet without Ethernet header.
fn push_mpls<B: PacketBuf>(packet: &mut B, md: &mut Flow, lse: MplsLse, ethertype: u16) {
    if l3_ethertype(md).is_some() {
        return push_mpls_front(packet, md, lse, ethertype);
    }
    let Some(at) = Layers::parse(packet.data()).ethertype_at else {
        return;
    };
    packet.push_front(4);
    let d = packet.data_mut();
    d.copy_within(4..at + 6, 0);
    d[at..at + 2].copy_from_slice(&ethertype.to_be_bytes());
    d[at + 2..at + 6].copy_from_slice(&lse.0.to_be_bytes());
}

/// Pushes a label in front of the packet, which is then an MPLS packet
/// without Ethernet header.
fn push_mpls_front<B: PacketBuf>(packet: &mut B, md: &mut Flow, lse: MplsLse, ethertype: u16) {
    packet.push_front(4);
    packet.data_mut()[..4].copy_from_slice(&lse.0.to_be_bytes());
    md.packet_type = (1 << 16) | u32::from(ethertype);
}

/// Pops the outermost label. From a packet without Ethernet header, the
/// packet's type becomes `ethertype`, or Ethernet for `ETH_TYPE_TEB` (the
/// kernel's pop_mpls, OVS's).
fn pop_mpls<B: PacketBuf>(packet: &mut B, md: &mut Flow, ethertype: u16) {
    if let Some(ty) = l3_ethertype(md) {
        if (ty == ETH_TYPE_MPLS || ty == ETH_TYPE_MPLS_MCAST) && packet.data().len() >= 4 {
            packet.pull_front(4);
            md.packet_type = if ethertype == ETH_TYPE_TEB {
                0
            } else {
                (1 << 16) | u32::from(ethertype)
            };
        }
        return;
    }
    let l = Layers::parse(packet.data());
    let (Some(at), Some(mpls)) = (l.ethertype_at, l.mpls_at) else {
        return;
    };
    if packet.data().len() < mpls + 4 {
        return;
    }
    let d = packet.data_mut();
    d[at..at + 2].copy_from_slice(&ethertype.to_be_bytes());
    d.copy_within(0..at + 2, 4);
    packet.pull_front(4);
}

/// Decrements the IP TTL / hop limit; false if it is (or would become) 0.
fn dec_ttl<B: PacketBuf>(packet: &mut B) -> bool {
    let l = packet.layers();
    let Some(l3) = l.l3 else {
        return true;
    };
    let d = packet.data_mut();
    match l.dl_type {
        ETH_TYPE_IP => {
            if d[l3 + 8] <= 1 {
                return false;
            }
            let old = u16::from_be_bytes([d[l3 + 8], d[l3 + 9]]);
            d[l3 + 8] -= 1;
            let new = u16::from_be_bytes([d[l3 + 8], d[l3 + 9]]);
            let c = u16::from_be_bytes([d[l3 + 10], d[l3 + 11]]);
            d[l3 + 10..l3 + 12].copy_from_slice(&checksum::update_u16(c, old, new).to_be_bytes());
            true
        }
        ETH_TYPE_IPV6 => {
            if d[l3 + 7] <= 1 {
                return false;
            }
            d[l3 + 7] -= 1;
            true
        }
        _ => true,
    }
}

/// A symmetric-enough L4 hash of the 5-tuple, for `hash` actions.
fn l4_hash(p: &[u8], alg: u32, basis: u32) -> u32 {
    let l = Layers::parse(p);
    let mut h = basis ^ 0x9e37_79b9;
    let mut mix = |v: u32| {
        h ^= v;
        h = h.wrapping_mul(0x85eb_ca6b).rotate_left(13);
    };
    if let Some(l3) = l.l3 {
        let (a, b) = match l.dl_type {
            ETH_TYPE_IP => (
                u32::from_be_bytes([p[l3 + 12], p[l3 + 13], p[l3 + 14], p[l3 + 15]]),
                u32::from_be_bytes([p[l3 + 16], p[l3 + 17], p[l3 + 18], p[l3 + 19]]),
            ),
            ETH_TYPE_IPV6 => {
                let s = crc_words(&p[l3 + 8..l3 + 24]);
                let d = crc_words(&p[l3 + 24..l3 + 40]);
                (s, d)
            }
            _ => (0, 0),
        };
        if alg == OVS_HASH_ALG_SYM_L4 {
            mix(a ^ b);
        } else {
            mix(a);
            mix(b);
        }
        mix(u32::from(l.proto));
        if let Some(l4) = l.l4.filter(|&l4| p.len() >= l4 + 4) {
            let sp = u32::from(u16::from_be_bytes([p[l4], p[l4 + 1]]));
            let dp = u32::from(u16::from_be_bytes([p[l4 + 2], p[l4 + 3]]));
            if alg == OVS_HASH_ALG_SYM_L4 {
                mix(sp ^ dp);
            } else {
                mix(sp << 16 | dp);
            }
        }
    }
    h ^= h >> 16;
    h.wrapping_mul(0x7feb_352d)
}

fn crc_words(b: &[u8]) -> u32 {
    b.chunks_exact(4).fold(0, |acc, w| {
        acc ^ u32::from_be_bytes([w[0], w[1], w[2], w[3]])
    })
}

/// `new` where `mask` is 1, `old` elsewhere.
#[inline]
fn merge<T>(old: T, new: T, mask: T) -> T
where
    T: std::ops::BitAnd<Output = T>
        + std::ops::BitOr<Output = T>
        + std::ops::Not<Output = T>
        + Copy,
{
    (new & mask) | (old & !mask)
}

fn merge_mac(old: [u8; 6], new: [u8; 6], mask: Option<[u8; 6]>) -> [u8; 6] {
    match mask {
        None => new,
        Some(m) => std::array::from_fn(|i| merge(old[i], new[i], m[i])),
    }
}

/// Where the L4 checksum sits, if the packet has one to keep right.
fn l4_csum_at(l: &Layers, p: &[u8]) -> Option<usize> {
    let l4 = l.l4?;
    let off = match l.proto {
        IPPROTO_TCP => 16,
        IPPROTO_UDP => 6,
        IPPROTO_ICMPV6 => 2,
        _ => return None,
    };
    if p.len() < l4 + off + 2 {
        return None;
    }
    // A zero UDP checksum over IPv4 means "none": leave it so.
    if l.proto == IPPROTO_UDP && l.dl_type == ETH_TYPE_IP && p[l4 + 6] == 0 && p[l4 + 7] == 0 {
        return None;
    }
    Some(l4 + off)
}

fn get16(d: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([d[at], d[at + 1]])
}

fn put16(d: &mut [u8], at: usize, v: u16) {
    d[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

/// Replaces bytes `at..at+new.len()`, updating the checksums stored at each
/// offset in `csums` (each covering the replaced bytes, which start on an
/// even offset of the checksummed range).
fn replace(d: &mut [u8], at: usize, new: &[u8], csums: &[Option<usize>]) {
    let len = new.len();
    if d[at..at + len] == *new {
        return;
    }
    let mut old = [0u8; 16];
    old[..len].copy_from_slice(&d[at..at + len]);
    for c in csums.iter().flatten() {
        let v = get16(d, *c);
        let updated = checksum::update_bytes(v, &old[..len], new);
        put16(d, *c, updated);
    }
    d[at..at + len].copy_from_slice(new);
}

/// Applies a set or masked set of one field group.
fn set_field<B: PacketBuf>(packet: &mut B, md: &mut Flow, key: &KeyAttr, mask: Option<&KeyAttr>) {
    match (key, mask) {
        (KeyAttr::Priority(v), m) => {
            md.skb_priority = merge(
                md.skb_priority,
                *v,
                mask_u32(m, |a| match a {
                    KeyAttr::Priority(x) => Some(*x),
                    _ => None,
                }),
            )
        }
        (KeyAttr::SkbMark(v), m) => {
            md.pkt_mark = merge(
                md.pkt_mark,
                *v,
                mask_u32(m, |a| match a {
                    KeyAttr::SkbMark(x) => Some(*x),
                    _ => None,
                }),
            )
        }
        (KeyAttr::Ethernet(e), m) => {
            let d = packet.data_mut();
            if d.len() < 12 {
                return;
            }
            let mm = match m {
                Some(KeyAttr::Ethernet(x)) => Some(*x),
                _ => None,
            };
            let dst = merge_mac(
                d[0..6].try_into().unwrap_or([0; 6]),
                e.dst,
                mm.map(|x| x.dst),
            );
            let src = merge_mac(
                d[6..12].try_into().unwrap_or([0; 6]),
                e.src,
                mm.map(|x| x.src),
            );
            d[0..6].copy_from_slice(&dst);
            d[6..12].copy_from_slice(&src);
        }
        (KeyAttr::Ipv4(k), m) => {
            let l = packet.layers();
            let (Some(l3), ETH_TYPE_IP) = (l.l3, l.dl_type) else {
                return;
            };
            let mm = match m {
                Some(KeyAttr::Ipv4(x)) => *x,
                _ => crate::key::Ipv4Key {
                    src: std::net::Ipv4Addr::BROADCAST,
                    dst: std::net::Ipv4Addr::BROADCAST,
                    proto: 0,
                    tos: 0xff,
                    ttl: 0xff,
                    frag: 0,
                },
            };
            let d = packet.data_mut();
            let ip_csum = Some(l3 + 10);
            let l4c = l4_csum_at(&l, d);
            let old_src = u32::from_be_bytes([d[l3 + 12], d[l3 + 13], d[l3 + 14], d[l3 + 15]]);
            let old_dst = u32::from_be_bytes([d[l3 + 16], d[l3 + 17], d[l3 + 18], d[l3 + 19]]);
            let src = merge(old_src, u32::from(k.src), u32::from(mm.src));
            let dst = merge(old_dst, u32::from(k.dst), u32::from(mm.dst));
            replace(d, l3 + 12, &src.to_be_bytes(), &[ip_csum, l4c]);
            replace(d, l3 + 16, &dst.to_be_bytes(), &[ip_csum, l4c]);
            let tos = [d[l3], merge(d[l3 + 1], k.tos, mm.tos)];
            replace(d, l3, &tos, &[ip_csum]);
            let ttl = [merge(d[l3 + 8], k.ttl, mm.ttl), d[l3 + 9]];
            replace(d, l3 + 8, &ttl, &[ip_csum]);
        }
        (KeyAttr::Ipv6(k), m) => {
            let l = packet.layers();
            let (Some(l3), ETH_TYPE_IPV6) = (l.l3, l.dl_type) else {
                return;
            };
            let mm = match m {
                Some(KeyAttr::Ipv6(x)) => *x,
                _ => crate::key::Ipv6Key {
                    src: u128::MAX.into(),
                    dst: u128::MAX.into(),
                    label: 0xfffff,
                    proto: 0,
                    tclass: 0xff,
                    hlimit: 0xff,
                    frag: 0,
                },
            };
            let d = packet.data_mut();
            let l4c = l4_csum_at(&l, d);
            let old_src = u128::from_be_bytes(d[l3 + 8..l3 + 24].try_into().unwrap_or([0; 16]));
            let old_dst = u128::from_be_bytes(d[l3 + 24..l3 + 40].try_into().unwrap_or([0; 16]));
            let src = merge(old_src, u128::from(k.src), u128::from(mm.src));
            let dst = merge(old_dst, u128::from(k.dst), u128::from(mm.dst));
            replace(d, l3 + 8, &src.to_be_bytes(), &[l4c]);
            replace(d, l3 + 24, &dst.to_be_bytes(), &[l4c]);
            let w = u32::from_be_bytes([d[l3], d[l3 + 1], d[l3 + 2], d[l3 + 3]]);
            let tc = merge(((w >> 20) & 0xff) as u8, k.tclass, mm.tclass);
            let label = merge(w & 0xfffff, k.label, mm.label & 0xfffff);
            let w = (w & 0xf000_0000) | (u32::from(tc) << 20) | label;
            d[l3..l3 + 4].copy_from_slice(&w.to_be_bytes());
            d[l3 + 7] = merge(d[l3 + 7], k.hlimit, mm.hlimit);
        }
        (KeyAttr::Tcp(k) | KeyAttr::Udp(k) | KeyAttr::Sctp(k), m) => {
            let l = packet.layers();
            let want = match key {
                KeyAttr::Tcp(_) => IPPROTO_TCP,
                KeyAttr::Udp(_) => IPPROTO_UDP,
                _ => IPPROTO_SCTP,
            };
            let Some(l4) = l.l4.filter(|_| l.proto == want) else {
                return;
            };
            let mm = match m {
                Some(KeyAttr::Tcp(x) | KeyAttr::Udp(x) | KeyAttr::Sctp(x)) => *x,
                _ => crate::key::PortsKey {
                    src: 0xffff,
                    dst: 0xffff,
                },
            };
            let d = packet.data_mut();
            if d.len() < l4 + 4 {
                return;
            }
            let src = merge(get16(d, l4), k.src, mm.src);
            let dst = merge(get16(d, l4 + 2), k.dst, mm.dst);
            if want == IPPROTO_SCTP {
                if d.len() < l4 + 12 {
                    return;
                }
                put16(d, l4, src);
                put16(d, l4 + 2, dst);
                d[l4 + 8..l4 + 12].fill(0);
                let crc = checksum::crc32c(&d[l4..]);
                d[l4 + 8..l4 + 12].copy_from_slice(&crc.to_le_bytes());
            } else {
                let c = l4_csum_at(&l, d);
                replace(d, l4, &src.to_be_bytes(), &[c]);
                replace(d, l4 + 2, &dst.to_be_bytes(), &[c]);
            }
        }
        (KeyAttr::Icmp(k) | KeyAttr::Icmpv6(k), m) => {
            let l = packet.layers();
            let want = if matches!(key, KeyAttr::Icmp(_)) {
                IPPROTO_ICMP
            } else {
                IPPROTO_ICMPV6
            };
            let Some(l4) = l.l4.filter(|_| l.proto == want) else {
                return;
            };
            let mm = match m {
                Some(KeyAttr::Icmp(x) | KeyAttr::Icmpv6(x)) => *x,
                _ => crate::key::IcmpKey {
                    ty: 0xff,
                    code: 0xff,
                },
            };
            let d = packet.data_mut();
            if d.len() < l4 + 4 {
                return;
            }
            let ty = merge(d[l4], k.ty, mm.ty);
            let code = merge(d[l4 + 1], k.code, mm.code);
            replace(d, l4, &[ty, code], &[Some(l4 + 2)]);
        }
        (KeyAttr::Arp(k), m) => {
            let l = packet.layers();
            let Some(l3) =
                l.l3.filter(|_| l.dl_type == ETH_TYPE_ARP || l.dl_type == ETH_TYPE_RARP)
            else {
                return;
            };
            let mm = match m {
                Some(KeyAttr::Arp(x)) => *x,
                _ => crate::key::ArpKey {
                    sip: std::net::Ipv4Addr::BROADCAST,
                    tip: std::net::Ipv4Addr::BROADCAST,
                    op: 0xffff,
                    sha: [0xff; 6],
                    tha: [0xff; 6],
                },
            };
            let d = packet.data_mut();
            let op = merge(get16(d, l3 + 6), k.op, mm.op);
            put16(d, l3 + 6, op);
            let sha = merge_mac(
                d[l3 + 8..l3 + 14].try_into().unwrap_or([0; 6]),
                k.sha,
                Some(mm.sha),
            );
            d[l3 + 8..l3 + 14].copy_from_slice(&sha);
            let sip = merge(
                u32::from_be_bytes(d[l3 + 14..l3 + 18].try_into().unwrap_or([0; 4])),
                u32::from(k.sip),
                u32::from(mm.sip),
            );
            d[l3 + 14..l3 + 18].copy_from_slice(&sip.to_be_bytes());
            let tha = merge_mac(
                d[l3 + 18..l3 + 24].try_into().unwrap_or([0; 6]),
                k.tha,
                Some(mm.tha),
            );
            d[l3 + 18..l3 + 24].copy_from_slice(&tha);
            let tip = merge(
                u32::from_be_bytes(d[l3 + 24..l3 + 28].try_into().unwrap_or([0; 4])),
                u32::from(k.tip),
                u32::from(mm.tip),
            );
            d[l3 + 24..l3 + 28].copy_from_slice(&tip.to_be_bytes());
        }
        (KeyAttr::Mpls(lses), m) => {
            let l = packet.layers();
            let (Some(at), Some(new)) = (l.mpls_at, lses.first()) else {
                return;
            };
            let mm = match m {
                Some(KeyAttr::Mpls(x)) => x.first().map_or(u32::MAX, |x| x.0),
                _ => u32::MAX,
            };
            let d = packet.data_mut();
            if d.len() < at + 4 {
                return;
            }
            let old = u32::from_be_bytes([d[at], d[at + 1], d[at + 2], d[at + 3]]);
            d[at..at + 4].copy_from_slice(&merge(old, new.0, mm).to_be_bytes());
        }
        (KeyAttr::Nd(k), m) => set_nd(packet, k, m),
        // Metadata and fields the datapath keeps outside the packet.
        (KeyAttr::DpHash(v), _) => md.dp_hash = *v,
        (KeyAttr::RecircId(v), _) => md.recirc_id = *v,
        (KeyAttr::CtMark(v), _) => md.ct_mark = *v,
        (KeyAttr::CtLabels(v), _) => md.ct_label = u128::from_be_bytes(*v),
        // Everything else (tunnel, nsh, ...) is left to validation, which
        // rejects set actions this executor does not implement.
        _ => {}
    }
}

fn mask_u32(m: Option<&KeyAttr>, get: impl Fn(&KeyAttr) -> Option<u32>) -> u32 {
    m.and_then(get).unwrap_or(u32::MAX)
}

/// Sets the ND target and link-layer address options of an NS/NA.
fn set_nd<B: PacketBuf>(packet: &mut B, k: &crate::key::NdKey, m: Option<&KeyAttr>) {
    let l = packet.layers();
    let Some(l4) = l.l4.filter(|_| l.proto == IPPROTO_ICMPV6) else {
        return;
    };
    let d = packet.data_mut();
    if d.len() < l4 + 24 || !(d[l4] == 135 || d[l4] == 136) {
        return;
    }
    let mm = match m {
        Some(KeyAttr::Nd(x)) => *x,
        _ => crate::key::NdKey {
            target: u128::MAX.into(),
            sll: [0xff; 6],
            tll: [0xff; 6],
        },
    };
    let csum = Some(l4 + 2);
    let old_t = u128::from_be_bytes(d[l4 + 8..l4 + 24].try_into().unwrap_or([0; 16]));
    let t = merge(old_t, u128::from(k.target), u128::from(mm.target));
    replace(d, l4 + 8, &t.to_be_bytes(), &[csum]);
    // Options: type 1 = source link-layer address, 2 = target.
    let mut at = l4 + 24;
    while d.len() >= at + 8 {
        let len = usize::from(d[at + 1]) * 8;
        if len == 0 || d.len() < at + len {
            break;
        }
        let (new, mask) = match d[at] {
            1 => (k.sll, mm.sll),
            2 => (k.tll, mm.tll),
            _ => {
                at += len;
                continue;
            }
        };
        if len == 8 {
            let old: [u8; 6] = d[at + 2..at + 8].try_into().unwrap_or([0; 6]);
            let v = merge_mac(old, new, Some(mask));
            let mut o = [0u8; 8];
            o[..2].copy_from_slice(&d[at..at + 2]);
            o[2..].copy_from_slice(&v);
            replace(d, at, &o, &[csum]);
        }
        at += len;
    }
}

/// The first action (searching nested lists too) that [`execute`] does not
/// implement itself and so leaves to [`Sink::other`] or [`Sink::meter`]:
/// connection tracking, meters, tunnel push/pop, `lb_output`,
/// `psample`, and sets of
/// fields it does not edit (tunnel, NSH, conntrack tuples...). A datapath
/// without those features rejects such actions (`EOPNOTSUPP`) rather than
/// drop packets silently.
pub fn first_unsupported(actions: &[Action]) -> Option<&Action> {
    for a in actions {
        let nested = match a {
            Action::TunnelPush(_)
            | Action::TunnelPop(_)
            | Action::LbOutput(_)
            | Action::Psample { .. }
            | Action::Meter(_)
            | Action::Unknown { .. } => return Some(a),
            Action::Set(k) | Action::SetMasked { key: k, .. } => {
                let supported = matches!(
                    k,
                    KeyAttr::Priority(_)
                        | KeyAttr::SkbMark(_)
                        | KeyAttr::Ethernet(_)
                        | KeyAttr::Ipv4(_)
                        | KeyAttr::Ipv6(_)
                        | KeyAttr::Tcp(_)
                        | KeyAttr::Udp(_)
                        | KeyAttr::Sctp(_)
                        | KeyAttr::Icmp(_)
                        | KeyAttr::Icmpv6(_)
                        | KeyAttr::Arp(_)
                        | KeyAttr::Nd(_)
                        | KeyAttr::Mpls(_)
                        | KeyAttr::DpHash(_)
                        | KeyAttr::RecircId(_)
                        | KeyAttr::CtMark(_)
                        | KeyAttr::CtLabels(_)
                );
                if !supported {
                    return Some(a);
                }
                continue;
            }
            Action::Sample { actions, .. } | Action::Clone(actions) | Action::DecTtl(actions) => {
                first_unsupported(actions)
            }
            Action::CheckPktLen { gt, le, .. } => {
                first_unsupported(gt).or_else(|| first_unsupported(le))
            }
            _ => None,
        };
        if nested.is_some() {
            return nested;
        }
    }
    None
}

/// Why an action list cannot be installed with a match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateError(pub String);

impl std::fmt::Display for ValidateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ValidateError {}

/// Checks that `actions` are safe on every packet that matches `key`
/// under `mask` (both `Flow`s, mask bits 1 = exact), as the kernel does at
/// flow install: a set of an L3/L4 field needs the match to fix the
/// EtherType and IP protocol, a VLAN pop needs a VLAN, an MPLS pop an MPLS
/// EtherType, and so on. Also bounds nesting.
///
/// # Errors
/// The first unsafe or unsupported action, with a message.
pub fn validate(actions: &[Action], key: &Flow, mask: &Flow) -> Result<(), ValidateError> {
    validate_list(actions, key, mask, 0)
}

fn err(msg: impl Into<String>) -> Result<(), ValidateError> {
    Err(ValidateError(msg.into()))
}

fn validate_list(
    actions: &[Action],
    key: &Flow,
    mask: &Flow,
    depth: usize,
) -> Result<(), ValidateError> {
    if depth > MAX_NESTING {
        return err("actions nested too deeply");
    }
    // The EtherType and protocol may change along the list (push/pop).
    let mut dl_type = (mask.dl_type == 0xffff).then_some(key.dl_type);
    let mut proto = (mask.nw_proto == 0xff).then_some(key.nw_proto);
    let mut vlans = key
        .vlans
        .iter()
        .filter(|v| v.tci & crate::flow::VLAN_CFI != 0)
        .count();
    let vlan_known = mask.vlans[0].tci & crate::flow::VLAN_CFI != 0;
    for a in actions {
        match a {
            Action::Set(k) | Action::SetMasked { key: k, .. } => {
                let need_l3 = |ty: u16| -> Result<(), ValidateError> {
                    if dl_type == Some(ty) {
                        Ok(())
                    } else {
                        err(format!(
                            "set of {:?} needs eth_type 0x{ty:04x} matched exactly",
                            k.ty()
                        ))
                    }
                };
                let need_l4 = |p: u8| -> Result<(), ValidateError> {
                    if matches!(dl_type, Some(ETH_TYPE_IP) | Some(ETH_TYPE_IPV6))
                        && proto == Some(p)
                    {
                        Ok(())
                    } else {
                        err(format!(
                            "set of {:?} needs IP protocol {p} matched exactly",
                            k.ty()
                        ))
                    }
                };
                match k {
                    KeyAttr::Priority(_) | KeyAttr::SkbMark(_) | KeyAttr::Ethernet(_) => {}
                    KeyAttr::Ipv4(v) => {
                        need_l3(ETH_TYPE_IP)?;
                        // A full set may not change the protocol.
                        if matches!(a, Action::Set(_)) && proto != Some(v.proto) {
                            return err("set(ipv4) may not change the IP protocol");
                        }
                    }
                    KeyAttr::Ipv6(_) => need_l3(ETH_TYPE_IPV6)?,
                    KeyAttr::Arp(_) => {
                        if !matches!(dl_type, Some(ETH_TYPE_ARP) | Some(ETH_TYPE_RARP)) {
                            return err("set(arp) needs an ARP eth_type matched exactly");
                        }
                    }
                    KeyAttr::Tcp(_) => need_l4(IPPROTO_TCP)?,
                    KeyAttr::Udp(_) => need_l4(IPPROTO_UDP)?,
                    KeyAttr::Sctp(_) => need_l4(IPPROTO_SCTP)?,
                    KeyAttr::Icmp(_) => {
                        need_l3(ETH_TYPE_IP)?;
                        need_l4(IPPROTO_ICMP)?
                    }
                    KeyAttr::Icmpv6(_) | KeyAttr::Nd(_) => {
                        need_l3(ETH_TYPE_IPV6)?;
                        need_l4(IPPROTO_ICMPV6)?
                    }
                    KeyAttr::Mpls(_) => {
                        if !matches!(dl_type, Some(ETH_TYPE_MPLS) | Some(ETH_TYPE_MPLS_MCAST)) {
                            return err("set(mpls) needs an MPLS eth_type matched exactly");
                        }
                    }
                    KeyAttr::CtMark(_)
                    | KeyAttr::CtLabels(_)
                    | KeyAttr::DpHash(_)
                    | KeyAttr::RecircId(_) => {}
                    other => {
                        return err(format!(
                            "set of key attribute {} is not supported",
                            other.ty()
                        ))
                    }
                }
            }
            Action::PushVlan { tpid, tci } => {
                if *tpid != ETH_TYPE_VLAN_8021Q && *tpid != ETH_TYPE_VLAN_8021AD {
                    return err(format!("push_vlan with unsupported tpid 0x{tpid:04x}"));
                }
                if tci & crate::flow::VLAN_CFI == 0 {
                    return err("push_vlan needs the CFI (present) bit set");
                }
                vlans += 1;
            }
            Action::PopVlan => {
                if !vlan_known || vlans == 0 {
                    return err("pop_vlan on a match that does not fix a VLAN");
                }
                vlans -= 1;
            }
            Action::PushMpls { ethertype, .. } | Action::AddMpls { ethertype, .. } => {
                if *ethertype != ETH_TYPE_MPLS && *ethertype != ETH_TYPE_MPLS_MCAST {
                    return err("push_mpls with a non-MPLS ethertype");
                }
                dl_type = Some(*ethertype);
                proto = None;
            }
            Action::PopMpls { ethertype } => {
                if !matches!(dl_type, Some(ETH_TYPE_MPLS) | Some(ETH_TYPE_MPLS_MCAST)) {
                    return err("pop_mpls on a match that does not fix an MPLS eth_type");
                }
                dl_type = Some(*ethertype);
                proto = None;
            }
            Action::Sample { actions, .. } | Action::Clone(actions) | Action::DecTtl(actions) => {
                validate_list(actions, key, mask, depth + 1)?
            }
            Action::CheckPktLen { gt, le, .. } => {
                validate_list(gt, key, mask, depth + 1)?;
                validate_list(le, key, mask, depth + 1)?;
            }
            Action::PushEth { .. } => dl_type = dl_type.or(Some(key.dl_type)),
            Action::Unknown { ty, .. } => return err(format!("unknown action type {ty}")),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{EthernetKey, IcmpKey, Ipv4Key, PortsKey};
    use std::net::Ipv4Addr;

    /// Ethernet + IPv4 + TCP/UDP with valid checksums, built by hand.
    fn ip4_packet(proto: u8, payload: &[u8]) -> Vec<u8> {
        let l4_len = if proto == IPPROTO_TCP { 20 } else { 8 };
        let mut p = vec![0u8; 14 + 20 + l4_len];
        p[..6].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        p[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 1]);
        p[12..14].copy_from_slice(&ETH_TYPE_IP.to_be_bytes());
        p.extend_from_slice(payload);
        let total = (20 + l4_len + payload.len()) as u16;
        let ip = &mut p[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[8] = 64;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&[10, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[10, 0, 0, 2]);
        let c = checksum::data(ip);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        let l4 = 34;
        p[l4..l4 + 2].copy_from_slice(&1234u16.to_be_bytes());
        p[l4 + 2..l4 + 4].copy_from_slice(&80u16.to_be_bytes());
        let csum_at = if proto == IPPROTO_TCP {
            p[l4 + 12] = 5 << 4;
            l4 + 16
        } else {
            p[l4 + 4..l4 + 6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
            l4 + 6
        };
        let len = (p.len() - l4) as u16;
        let sum = checksum::add(
            checksum::pseudo_header_v4(0x0a00_0001, 0x0a00_0002, proto, len),
            &p[l4..],
        );
        let c = checksum::finish(sum);
        p[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
        p
    }

    fn l4_checksum_ok(p: &[u8]) -> bool {
        let src = u32::from_be_bytes(p[26..30].try_into().unwrap());
        let dst = u32::from_be_bytes(p[30..34].try_into().unwrap());
        let len = (p.len() - 34) as u16;
        checksum::is_valid(checksum::add(
            checksum::pseudo_header_v4(src, dst, p[23], len),
            &p[34..],
        ))
    }

    fn ip_checksum_ok(p: &[u8]) -> bool {
        checksum::is_valid(checksum::add(0, &p[14..34]))
    }

    #[derive(Default)]
    struct Recorder {
        out: Vec<(PortNo, Vec<u8>)>,
        upcalls: usize,
        recircs: Vec<(RecircId, Vec<u8>)>,
        rand: u32,
    }

    impl Sink<Vec<u8>> for Recorder {
        fn output(&mut self, port: PortNo, p: &Vec<u8>, _: &Flow, trunc: Option<u32>) {
            let n = trunc.map_or(p.len(), |t| (t as usize).min(p.len()));
            self.out.push((port, p[..n].to_vec()));
        }
        fn userspace(&mut self, _: &Userspace, _: &Vec<u8>, _: &Flow) {
            self.upcalls += 1;
        }
        fn recirc(&mut self, id: RecircId, p: Vec<u8>, md: &Flow) {
            assert_eq!(md.recirc_id, id.0);
            self.recircs.push((id, p));
        }
        fn random(&mut self) -> u32 {
            self.rand
        }
        fn meter(&mut self, _: u32, _: &Vec<u8>) -> bool {
            true
        }
        fn other(&mut self, _: &Action, _: &mut Vec<u8>, _: &mut Flow) -> bool {
            false
        }
    }

    fn run(p: &mut Vec<u8>, actions: &[Action]) -> Recorder {
        let mut r = Recorder::default();
        let mut md = Flow::default();
        execute(p, &mut md, actions, &mut r, 0);
        r
    }

    #[test]
    fn push_then_pop_vlan_restores_packet() {
        let orig = ip4_packet(IPPROTO_UDP, b"hello");
        let mut p = orig.clone();
        run(
            &mut p,
            &[Action::PushVlan {
                tpid: 0x8100,
                tci: 0x1000 | 99,
            }],
        );
        assert_eq!(p.len(), orig.len() + 4);
        assert_eq!(&p[12..16], &[0x81, 0x00, 0x00, 99]);
        assert_eq!(&p[16..], &orig[12..]);
        run(&mut p, &[Action::PopVlan]);
        assert_eq!(p, orig);
    }

    #[test]
    fn set_ipv4_and_ports_keep_checksums_valid() {
        for proto in [IPPROTO_TCP, IPPROTO_UDP] {
            let mut p = ip4_packet(proto, b"some payload bytes");
            let set_ip = Action::Set(KeyAttr::Ipv4(Ipv4Key {
                src: Ipv4Addr::new(192, 168, 7, 9),
                dst: Ipv4Addr::new(172, 16, 0, 1),
                proto,
                tos: 0x10,
                ttl: 3,
                frag: 0,
            }));
            let ports = PortsKey {
                src: 4321,
                dst: 8080,
            };
            let set_l4 = if proto == IPPROTO_TCP {
                Action::Set(KeyAttr::Tcp(ports))
            } else {
                Action::Set(KeyAttr::Udp(ports))
            };
            run(&mut p, &[set_ip, set_l4]);
            assert_eq!(&p[26..34], &[192, 168, 7, 9, 172, 16, 0, 1]);
            assert_eq!((p[15], p[22]), (0x10, 3));
            assert_eq!(&p[34..38], &[0x10, 0xe1, 0x1f, 0x90]);
            assert!(ip_checksum_ok(&p), "IPv4 header checksum");
            assert!(l4_checksum_ok(&p), "L4 checksum for proto {proto}");
        }
    }

    #[test]
    fn masked_sets_change_only_masked_bits() {
        let mut p = ip4_packet(IPPROTO_UDP, b"x");
        let key = KeyAttr::Ethernet(EthernetKey {
            src: [0xaa; 6],
            dst: [0xbb; 6],
        });
        let mask = KeyAttr::Ethernet(EthernetKey {
            src: [0xff, 0, 0, 0, 0, 0],
            dst: [0; 6],
        });
        run(&mut p, &[Action::SetMasked { key, mask }]);
        assert_eq!(&p[..12], &[2, 0, 0, 0, 0, 2, 0xaa, 0, 0, 0, 0, 1]);
        let key = KeyAttr::Ipv4(Ipv4Key {
            src: Ipv4Addr::new(99, 99, 99, 99),
            ..Default::default()
        });
        let mask = KeyAttr::Ipv4(Ipv4Key {
            src: Ipv4Addr::new(255, 0, 0, 0),
            ..Default::default()
        });
        run(&mut p, &[Action::SetMasked { key, mask }]);
        assert_eq!(&p[26..30], &[99, 0, 0, 1]);
        assert!(ip_checksum_ok(&p) && l4_checksum_ok(&p));
    }

    #[test]
    fn dec_ttl_runs_nested_actions_at_zero() {
        let mut p = ip4_packet(IPPROTO_UDP, b"x");
        p[22] = 2;
        let c = checksum::data(&{
            let mut h = p[14..34].to_vec();
            h[10] = 0;
            h[11] = 0;
            h
        });
        p[24..26].copy_from_slice(&c.to_be_bytes());
        let acts = [
            Action::DecTtl(vec![Action::Output(PortNo(9))]),
            Action::Output(PortNo(1)),
        ];
        let r = run(&mut p, &acts);
        assert_eq!(p[22], 1);
        assert!(ip_checksum_ok(&p));
        assert_eq!(
            r.out.iter().map(|o| o.0).collect::<Vec<_>>(),
            vec![PortNo(1)]
        );
        let r = run(&mut p, &acts);
        assert_eq!(
            r.out.iter().map(|o| o.0).collect::<Vec<_>>(),
            vec![PortNo(9)]
        );
    }

    #[test]
    fn clone_sample_trunc_and_recirc() {
        let mut p = ip4_packet(IPPROTO_UDP, b"payload");
        let orig = p.clone();
        let acts = [
            Action::Clone(vec![
                Action::PushVlan {
                    tpid: 0x8100,
                    tci: 0x1005,
                },
                Action::Output(PortNo(2)),
            ]),
            Action::Sample {
                probability: 0,
                actions: vec![Action::Output(PortNo(7))],
            },
            Action::Sample {
                probability: u32::MAX,
                actions: vec![Action::Output(PortNo(8))],
            },
            Action::Trunc { max_len: 20 },
            Action::Output(PortNo(3)),
            Action::Output(PortNo(4)),
            Action::Recirc(RecircId(5)),
        ];
        let r = run(&mut p, &acts);
        let ports: Vec<u32> = r.out.iter().map(|o| o.0 .0).collect();
        assert_eq!(ports, vec![2, 8, 3, 4]);
        assert_eq!(r.out[0].1.len(), orig.len() + 4, "clone ran on a copy");
        assert_eq!(r.out[2].1.len(), 20, "trunc applies to the next output");
        assert_eq!(r.out[3].1, orig, "and only to it");
        assert_eq!(r.recircs, vec![(RecircId(5), orig)]);
    }

    #[test]
    fn icmp_set_and_mpls_push_pop() {
        let mut p = ip4_packet(IPPROTO_UDP, b"abc");
        let orig = p.clone();
        let lse = MplsLse::new(100, 1, true, 64);
        run(
            &mut p,
            &[Action::PushMpls {
                lse,
                ethertype: ETH_TYPE_MPLS,
            }],
        );
        assert_eq!(&p[12..14], &ETH_TYPE_MPLS.to_be_bytes());
        assert_eq!(&p[14..18], &lse.0.to_be_bytes());
        run(
            &mut p,
            &[Action::PopMpls {
                ethertype: ETH_TYPE_IP,
            }],
        );
        assert_eq!(p, orig);
        // set(icmp) on a UDP packet changes nothing.
        run(
            &mut p,
            &[Action::Set(KeyAttr::Icmp(IcmpKey { ty: 1, code: 2 }))],
        );
        assert_eq!(p, orig);
    }

    #[test]
    fn truncated_packets_are_left_alone() {
        let full = ip4_packet(IPPROTO_TCP, b"data");
        for n in 0..full.len() {
            let mut p = full[..n].to_vec();
            run(
                &mut p,
                &[
                    Action::Set(KeyAttr::Tcp(PortsKey { src: 1, dst: 2 })),
                    Action::Set(KeyAttr::Ipv4(Ipv4Key {
                        ttl: 1,
                        proto: 6,
                        ..Default::default()
                    })),
                    Action::PopVlan,
                    Action::PopMpls { ethertype: 0x800 },
                    Action::DecTtl(vec![]),
                ],
            );
        }
    }

    #[test]
    fn unsupported_actions_are_found_in_nested_lists() {
        assert_eq!(
            first_unsupported(&[Action::Output(PortNo(1)), Action::CtClear]),
            None
        );
        // `ct` is the sink's to run (`Sink::other`); meters are not.
        let ct = Action::Ct(Default::default());
        assert_eq!(first_unsupported(std::slice::from_ref(&ct)), None);
        let meter = Action::Meter(3);
        let nested = [Action::Clone(vec![
            Action::Output(PortNo(1)),
            meter.clone(),
        ])];
        assert_eq!(first_unsupported(&nested), Some(&meter));
        let set_tun = Action::Set(KeyAttr::Tunnel(vec![]));
        let cpl = [Action::CheckPktLen {
            pkt_len: 9,
            gt: vec![],
            le: vec![set_tun.clone()],
        }];
        assert_eq!(first_unsupported(&cpl), Some(&set_tun));
    }

    #[test]
    fn validate_requires_fixed_parent_fields() {
        let mut key = Flow {
            dl_type: ETH_TYPE_IP,
            nw_proto: IPPROTO_TCP,
            ..Default::default()
        };
        let mut mask = Flow::default();
        let set_tcp = [Action::Set(KeyAttr::Tcp(PortsKey { src: 1, dst: 2 }))];
        assert!(validate(&set_tcp, &key, &mask).is_err());
        mask.dl_type = 0xffff;
        assert!(validate(&set_tcp, &key, &mask).is_err());
        mask.nw_proto = 0xff;
        assert!(validate(&set_tcp, &key, &mask).is_ok());
        assert!(validate(&[Action::PopVlan], &key, &mask).is_err());
        key.vlans[0].tci = 0x1000 | 5;
        mask.vlans[0].tci = 0xffff;
        assert!(validate(&[Action::PopVlan], &key, &mask).is_ok());
        assert!(validate(&[Action::PopVlan, Action::PopVlan], &key, &mask).is_err());
        let deep = (0..40).fold(vec![Action::Output(PortNo(1))], |a, _| {
            vec![Action::Clone(a)]
        });
        assert!(validate(&deep, &key, &mask).is_err());
        assert!(validate(
            &[Action::PushVlan {
                tpid: 0x1234,
                tci: 0x1000
            }],
            &key,
            &mask
        )
        .is_err());
    }
}
