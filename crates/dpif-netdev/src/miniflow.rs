//! Packet → key in one pass: the fast path's extractor.
//!
//! OVS's `miniflow_extract` is the model: read each header once and write
//! only the fields the packet has, straight into the form the lookups use,
//! with no intermediate [`Flow`]. Here that form is the packed
//! [`FlowKey`] (see [`crate::flowkey`]); a [`PacketKey`] keeps, beside the
//! key, the [`WordMap`] of its nonzero words and its hash, computed once
//! per packet and used by every later stage: the exact-match cache
//! compares the map and those words only, the signature cache and the
//! upcall queues use the hash, and the classifier gathers the words its
//! masks touch by index.
//!
//! A `PacketKey` is scratch that a poll thread reuses packet after
//! packet: the extractor writes the words of the packet's layout and
//! zeroes the words the previous packet left that this one does not have
//! (known from the previous map), so a plain packet costs about a dozen
//! word writes, not 71.
//!
//! # What the direct path reads
//!
//! Packets received from a port (metadata: the input port only) that are
//! Ethernet with at most one VLAN tag, then IPv4 (any header length,
//! fragments too) or IPv6 without extension headers, then TCP, UDP, SCTP,
//! ICMP or nothing the key reads; and Ethernet frames of any other
//! ethertype that the key does not look into. Everything else (ARP, MPLS,
//! NSH, ICMPv6, IPv6 extension headers, two VLAN tags, 802.3 frames,
//! truncated Ethernet or VLAN headers, recirculated packets with their
//! metadata) goes through the full extractor ([`odp::extract`]) and is
//! packed from the [`Flow`]. Both give the same key for every packet: a
//! property test checks it on random and mangled packets.

use odp::execute::Layers;
use odp::flow::Flow;

use crate::flowkey::{
    FlowKey, WordMap, W_DL_DST, W_DL_SRC, W_IPV6_ADDRS, W_NW_ADDRS, W_PORTS, W_PROTO,
};

/// Word holding `packet_type` (low half) and `ipv6_label` (high half).
const W_LABEL: usize = 13;

/// The words the direct path writes (each of them, zero or not).
const DIRECT_WORDS: u64 = 1 << crate::flowkey::W_IN_PORT_RECIRC
    | 1 << W_PROTO
    | 1 << W_NW_ADDRS
    | 1 << W_PORTS
    | 1 << W_DL_DST
    | 1 << W_DL_SRC
    | 0b1111 << W_IPV6_ADDRS
    | 1 << W_LABEL;

/// A packet's key, its map and its hash (see the module docs). Scratch:
/// each extraction replaces all three.
#[derive(Clone, Default)]
pub struct PacketKey {
    key: FlowKey,
    map: WordMap,
    hash: u32,
    /// The header offsets the direct path found (`None` after the full
    /// extractor): they go with the packet to the executor.
    layers: Option<Layers>,
}

impl std::fmt::Debug for PacketKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketKey")
            .field("key", &self.key)
            .field("hash", &self.hash)
            .finish()
    }
}

impl PacketKey {
    /// The packed key.
    #[inline]
    pub fn key(&self) -> &FlowKey {
        &self.key
    }

    /// Which words of the key are nonzero.
    #[inline]
    pub fn map(&self) -> &WordMap {
        &self.map
    }

    /// The key's hash ([`FlowKey::emc_hash`]).
    #[inline]
    pub fn hash(&self) -> u32 {
        self.hash
    }

    /// Where the packet's headers are, when the direct path read it
    /// (exactly what [`Layers::parse`] finds).
    #[inline]
    pub fn layers(&self) -> Option<Layers> {
        self.layers
    }

    /// Extracts the key of `packet`, received on port `in_port` with no
    /// other metadata. `spill` is scratch for the packets the direct path
    /// leaves to the full extractor; it holds their [`Flow`] afterwards
    /// (and garbage otherwise).
    ///
    /// Runs per packet on a poll thread: no allocation, no panic.
    #[inline]
    pub fn extract_received(&mut self, packet: &[u8], in_port: u32, spill: &mut Flow) {
        match parse(packet) {
            Some(h) => self.set_direct(in_port, &h),
            None => {
                let md = Flow {
                    in_port,
                    ..Flow::default()
                };
                self.extract(packet, &md, spill);
            }
        }
    }

    /// Extracts the key of `packet` with metadata `md` through the full
    /// extractor, leaving the packet's [`Flow`] in `flow`.
    pub fn extract(&mut self, packet: &[u8], md: &Flow, flow: &mut Flow) {
        odp::extract::extract_into(packet, md, flow);
        self.set_flow(flow);
    }

    /// Makes this the key of `flow`.
    pub fn set_flow(&mut self, flow: &Flow) {
        self.layers = None;
        self.key.repack(flow);
        self.map = WordMap::of(&self.key);
        self.hash = self.key.emc_hash();
    }

    #[inline(always)]
    fn set_direct(&mut self, in_port: u32, h: &Headers) {
        let w = self.key.words_mut();
        // Words the last packet had and this layout does not write.
        let [mut stale_lo, stale_hi] = self.map.0;
        stale_lo &= !DIRECT_WORDS;
        if stale_lo | stale_hi != 0 {
            for i in (WordMap([stale_lo, stale_hi])).indices() {
                w[i] = 0;
            }
        }
        let in_port = u64::from(in_port);
        w[crate::flowkey::W_IN_PORT_RECIRC] = in_port;
        w[W_PROTO] = h.proto;
        w[W_NW_ADDRS] = h.nw_addrs;
        w[W_PORTS] = h.ports;
        w[W_DL_DST] = h.dl_dst;
        w[W_DL_SRC] = h.dl_src;
        w[W_IPV6_ADDRS..W_IPV6_ADDRS + 4].copy_from_slice(&h.ipv6);
        w[W_LABEL] = h.label;
        let bit = |v: u64, i: usize| u64::from(v != 0) << i;
        let map = bit(in_port, crate::flowkey::W_IN_PORT_RECIRC)
            | bit(h.proto, W_PROTO)
            | bit(h.nw_addrs, W_NW_ADDRS)
            | bit(h.ports, W_PORTS)
            | bit(h.dl_dst, W_DL_DST)
            | bit(h.dl_src, W_DL_SRC)
            | bit(h.ipv6[0], W_IPV6_ADDRS)
            | bit(h.ipv6[1], W_IPV6_ADDRS + 1)
            | bit(h.ipv6[2], W_IPV6_ADDRS + 2)
            | bit(h.ipv6[3], W_IPV6_ADDRS + 3)
            | bit(h.label, W_LABEL);
        self.map = WordMap([map, 0]);
        self.hash = self.key.emc_hash();
        self.layers = Some(h.layers);
    }
}

/// The key words of a packet the direct path read, in [`FlowKey`]
/// packing.
#[derive(Default)]
struct Headers {
    proto: u64,
    nw_addrs: u64,
    ports: u64,
    dl_dst: u64,
    dl_src: u64,
    /// `ipv6_src` low, high, `ipv6_dst` low, high.
    ipv6: [u64; 4],
    label: u64,
    layers: Layers,
}

#[inline(always)]
fn be16(p: &[u8], at: usize) -> u64 {
    u64::from(u16::from_be_bytes([p[at], p[at + 1]]))
}

#[inline(always)]
fn be32(p: &[u8], at: usize) -> u64 {
    u64::from(u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]))
}

#[inline(always)]
fn be48(p: &[u8], at: usize) -> u64 {
    be16(p, at) << 32 | be32(p, at + 2)
}

#[inline(always)]
fn be64(p: &[u8], at: usize) -> u64 {
    be32(p, at) << 32 | be32(p, at + 4)
}

const TPID_8021Q: u64 = 0x8100;
const TPID_8021AD: u64 = 0x88a8;
const VLAN_CFI: u64 = odp::flow::VLAN_CFI as u64;

/// Reads `p` as the direct path does, or `None` for a packet it leaves
/// to the full extractor (see the module docs).
#[inline(always)]
fn parse(p: &[u8]) -> Option<Headers> {
    // A fixed-size view: the reads below need no bounds checks.
    let eth: &[u8; 14] = p.get(..14)?.try_into().ok()?;
    let mut h = Headers {
        dl_dst: be48(eth, 0),
        dl_src: be48(eth, 6),
        ..Headers::default()
    };
    let mut ty = be16(eth, 12);
    let mut l3 = 14;
    if ty == TPID_8021Q || ty == TPID_8021AD {
        if p.len() < 18 {
            return None;
        }
        h.dl_dst |= (be16(p, 14) | VLAN_CFI) << 48;
        h.dl_src |= ty << 48;
        ty = be16(p, 16);
        l3 = 18;
        if ty == TPID_8021Q || ty == TPID_8021AD {
            return None;
        }
    }
    if ty < u64::from(packet::ethernet::ETHERTYPE_MIN) {
        return None;
    }
    h.proto = ty;
    h.layers.ethertype_at = Some(l3 - 2);
    h.layers.dl_type = ty as u16;
    let d = &p[l3..];
    match ty as u16 {
        packet::ethernet::ETHERTYPE_IPV4 => {
            if d.len() >= 20 {
                let ihl = usize::from(d[0] & 0x0f) * 4;
                h.layers.l3 = Some(l3);
                h.layers.proto = d[9];
                if ihl >= 20 && be16(d, 6) & 0x1fff == 0 && d.len() >= ihl {
                    h.layers.l4 = Some(l3 + ihl);
                }
            }
            ipv4(d, &mut h)
        }
        packet::ethernet::ETHERTYPE_IPV6 => {
            ipv6(d, &mut h)?;
            if d.len() >= 40 {
                h.layers.l3 = Some(l3);
                h.layers.proto = d[6];
                h.layers.l4 = Some(l3 + 40);
            }
        }
        packet::ethernet::ETHERTYPE_ARP
        | packet::ethernet::ETHERTYPE_RARP
        | packet::ethernet::ETHERTYPE_NSH
        | packet::ethernet::ETHERTYPE_MPLS
        | packet::ethernet::ETHERTYPE_MPLS_MCAST => return None,
        _ => {}
    }
    Some(h)
}

/// IPv4 and what follows; a header too short or with a bad length leaves
/// the L3 words zero, as the full extractor does.
#[inline(always)]
fn ipv4(d: &[u8], h: &mut Headers) {
    let Some(ip) = d.get(..20).and_then(|ip| <&[u8; 20]>::try_from(ip).ok()) else {
        return;
    };
    let hlen = usize::from(ip[0] & 0x0f) * 4;
    if hlen < 20 || hlen > d.len() {
        return;
    }
    let proto = ip[9];
    h.nw_addrs = be32(ip, 12) | be32(ip, 16) << 32;
    h.proto |= u64::from(proto) << 24 | u64::from(ip[1]) << 32 | u64::from(ip[8]) << 40;
    let frag = be16(ip, 6) as u16;
    if frag & (packet::ipv4::FLAG_MF | packet::ipv4::FRAG_OFFSET_MASK) != 0 {
        let mut nw_frag = u64::from(odp::flow::FLOW_NW_FRAG_ANY);
        if frag & packet::ipv4::FRAG_OFFSET_MASK != 0 {
            nw_frag |= u64::from(odp::flow::FLOW_NW_FRAG_LATER);
            h.proto |= nw_frag << 16;
            return;
        }
        h.proto |= nw_frag << 16;
    }
    // The total length trims link-layer padding only.
    let total = be16(ip, 2) as usize;
    let end = if total >= hlen {
        total.min(d.len())
    } else {
        d.len()
    };
    l4(proto, true, &d[hlen..end], h);
}

/// IPv6 without extension headers; `None` for what the full extractor
/// must walk (extension headers, ICMPv6).
#[inline(always)]
fn ipv6(d: &[u8], h: &mut Headers) -> Option<()> {
    if d.len() < 40 {
        return Some(());
    }
    let next = d[6];
    if matches!(
        next,
        packet::ipproto::HOPOPTS
            | packet::ipproto::ROUTING
            | packet::ipproto::DSTOPTS
            | packet::ipproto::AH
            | packet::ipproto::FRAGMENT
            | packet::ipproto::ICMPV6
    ) {
        return None;
    }
    let first = be32(d, 0);
    h.label = (first & u64::from(packet::ipv6::FLOW_LABEL_MASK)) << 32;
    h.proto |= u64::from(next) << 24 | ((first >> 20) & 0xff) << 32 | u64::from(d[7]) << 40;
    // u128 halves: low word = the address's last 8 bytes.
    h.ipv6 = [be64(d, 16), be64(d, 8), be64(d, 32), be64(d, 24)];
    let end = (40 + be16(d, 4) as usize).min(d.len());
    l4(next, false, &d[40..end], h);
    Some(())
}

/// The ports (or ICMP type and code) and TCP flags.
#[inline(always)]
fn l4(proto: u8, v4: bool, l: &[u8], h: &mut Headers) {
    let ports = |min: usize| {
        let p: &[u8; 4] = l.get(..4)?.try_into().ok()?;
        (l.len() >= min).then(|| be16(p, 0) | be16(p, 2) << 16)
    };
    let found = match proto {
        packet::ipproto::TCP => {
            if l.len() < 20 {
                return;
            }
            let hlen = usize::from(l[12] >> 4) * 4;
            if hlen < 20 || hlen > l.len() {
                return;
            }
            h.proto |= (be16(l, 12) & u64::from(packet::tcp::FLAGS_MASK)) << 48;
            ports(20)
        }
        packet::ipproto::UDP => ports(packet::udp::HEADER_LEN),
        packet::ipproto::SCTP => ports(packet::sctp::HEADER_LEN),
        packet::ipproto::ICMP if v4 => {
            (l.len() >= packet::icmpv4::HEADER_LEN).then(|| u64::from(l[0]) | u64::from(l[1]) << 16)
        }
        _ => None,
    };
    if let Some(p) = found {
        h.ports = p;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The key of `packet` by the full extractor.
    fn reference(packet: &[u8], in_port: u32) -> FlowKey {
        let md = Flow {
            in_port,
            ..Flow::default()
        };
        FlowKey::new(&odp::extract::extract(packet, &md))
    }

    fn check(k: &mut PacketKey, packet: &[u8], in_port: u32) -> Result<(), TestCaseError> {
        let mut spill = Flow::default();
        k.extract_received(packet, in_port, &mut spill);
        let want = reference(packet, in_port);
        prop_assert_eq!(k.key(), &want, "packet {:02x?}", packet);
        prop_assert_eq!(k.map(), &WordMap::of(&want));
        prop_assert_eq!(k.hash(), want.emc_hash());
        if let Some(l) = k.layers() {
            prop_assert_eq!(l, Layers::parse(packet), "layers of {:02x?}", packet);
        }
        Ok(())
    }

    /// Frames of every layout the direct path reads, and some it does
    /// not, as starting points for mutation.
    fn templates() -> Vec<Vec<u8>> {
        use odp::compose::compose;
        let base = Flow {
            dl_src: [2, 0, 0, 0, 0, 1],
            dl_dst: [2, 0, 0, 0, 0, 2],
            nw_ttl: 64,
            nw_tos: 0x2e,
            tp_src: 1234,
            tp_dst: 80,
            ..Flow::default()
        };
        let v4 = Flow {
            dl_type: 0x0800,
            nw_src: 0x0a00_0001,
            nw_dst: 0x0a00_0102,
            ..base
        };
        let v6 = Flow {
            dl_type: 0x86dd,
            ipv6_src: 0x2001_0db8_0000_0000_0000_0000_0000_0001,
            ipv6_dst: 0xfe80_0000_0000_0000_0211_22ff_fe33_4455,
            ipv6_label: 0x12345,
            ..base
        };
        let mut out = Vec::new();
        for proto in [6u8, 17, 132, 1, 58, 47] {
            for f in [v4, v6] {
                let mut f = Flow {
                    nw_proto: proto,
                    ..f
                };
                if proto == 6 {
                    f.tcp_flags = 0x012;
                }
                out.push(compose(&f, 16));
                let mut tagged = f;
                tagged.vlans[0] = odp::flow::VlanHdr {
                    tpid: 0x8100,
                    tci: 0x1000 | 0x2005,
                };
                out.push(compose(&tagged, 16));
                let mut qinq = tagged;
                qinq.vlans[1] = odp::flow::VlanHdr {
                    tpid: 0x8100,
                    tci: 0x1000 | 7,
                };
                out.push(compose(&qinq, 16));
            }
        }
        let arp = Flow {
            dl_type: 0x0806,
            nw_proto: 1,
            nw_src: 1,
            nw_dst: 2,
            arp_sha: [1; 6],
            ..base
        };
        out.push(compose(&arp, 0));
        let other = Flow {
            dl_type: 0x88cc,
            ..base
        };
        out.push(compose(&other, 20));
        out
    }

    #[test]
    fn templates_match_the_full_extractor() {
        let mut k = PacketKey::default();
        let t = templates();
        // The direct path reads the plain layouts itself.
        let direct = t.iter().filter(|p| parse(p).is_some()).count();
        assert!(direct >= 16, "{direct} of {}", t.len());
        for t in t {
            for cut in 0..=t.len() {
                check(&mut k, &t[..cut], 3).unwrap();
            }
        }
    }

    #[test]
    fn stale_words_of_a_full_extraction_are_cleared() {
        let mut k = PacketKey::default();
        let mut spill = Flow::default();
        let md = Flow {
            in_port: 1,
            recirc_id: 9,
            ct_state: 0x21,
            ct_label: u128::MAX,
            ..Flow::default()
        };
        let t = templates();
        k.extract(&t[0], &md, &mut spill);
        check(&mut k, &t[1], 1).unwrap();
    }

    proptest! {
        #[test]
        fn mangled_packets_match_the_full_extractor(
            which in 0usize..64,
            edits in proptest::collection::vec((0usize..96, any::<u8>()), 0..6),
            cut in 0usize..128,
            in_port in 0u32..4,
        ) {
            let t = templates();
            let mut p = t[which % t.len()].clone();
            for (at, b) in edits {
                if let Some(x) = p.get_mut(at) {
                    *x = b;
                }
            }
            let cut = cut.min(p.len());
            let mut k = PacketKey::default();
            // Reuse one scratch key across packets, as a poll thread does.
            check(&mut k, &t[(which + 1) % t.len()], in_port)?;
            check(&mut k, &p[..cut], in_port)?;
            check(&mut k, &p, in_port)?;
        }

        #[test]
        fn random_bytes_match_the_full_extractor(
            bytes in proptest::collection::vec(any::<u8>(), 0..100),
            ty in prop_oneof![Just(0x0800u16), Just(0x86dd), Just(0x8100), any::<u16>()],
            proto in prop_oneof![Just(6u8), Just(17), Just(1), Just(132), any::<u8>()],
        ) {
            let mut p = bytes;
            if p.len() >= 14 {
                p[12..14].copy_from_slice(&ty.to_be_bytes());
            }
            if p.len() >= 24 {
                p[23] = proto;
                p[20] = proto;
            }
            let mut k = PacketKey::default();
            check(&mut k, &p, 1)?;
        }
    }
}
