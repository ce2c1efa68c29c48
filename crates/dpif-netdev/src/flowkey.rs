//! [`FlowKey`]: a [`Flow`] packed into a fixed array of 64-bit words.
//!
//! The classifier and the exact-match cache never look at a [`Flow`]'s
//! fields: they work on this packed form. Packing is a pure *bit
//! permutation*: every bit of every field of a `Flow` lands at exactly one
//! bit of one word, unused word bits are zero, and no arithmetic mixes
//! fields. Two consequences the rest of the crate relies on:
//!
//! - packing is injective ([`FlowKey::to_flow`] undoes it), so comparing
//!   words compares flows exactly;
//! - packing commutes with bitwise AND: `pack(f & m) == pack(f) & pack(m)`,
//!   so a mask can be packed like a flow and applied word by word, and a
//!   mask word that is zero means "this word does not matter".
//!
//! The datapath packs each packet's flow once ([`FlowKey::new`]) and hands
//! the same key to the exact-match cache and, on a miss, to the classifier.
//!
//! The word layout puts the fields that megaflow masks usually match into
//! few words: a typical IPv4 5-tuple megaflow (in_port, recirc_id, dl_type,
//! nw_frag, nw_proto, addresses, ports) touches words 0 to 3 only; Ethernet,
//! VLAN, IPv6 and metadata follow; rarely used fields (conntrack tuple, ND,
//! ARP, NSH, tunnel, Geneve options) come last.

use odp::flow::{Flow, FlowNsh, FlowTnl, TunMetadata, VlanHdr};

/// Number of 64-bit words in a [`FlowKey`].
pub const N_WORDS: usize = 71;

/// Word holding `in_port` (low half) and `recirc_id` (high half).
pub const W_IN_PORT_RECIRC: usize = 0;
/// Word holding `dl_type`, `nw_frag`, `nw_proto`, `nw_tos`, `nw_ttl` and
/// `tcp_flags`.
pub const W_PROTO: usize = 1;
/// Word holding `nw_src` (low half) and `nw_dst` (high half).
pub const W_NW_ADDRS: usize = 2;
/// Word holding `tp_src`, `tp_dst`, `ct_tp_src`, `ct_tp_dst`.
pub const W_PORTS: usize = 3;
/// Word holding `dl_dst` (low 48 bits) and the outer VLAN TCI.
pub const W_DL_DST: usize = 4;
/// Word holding `dl_src` (low 48 bits) and the outer VLAN TPID.
pub const W_DL_SRC: usize = 5;
/// First of the four words holding `ipv6_src` then `ipv6_dst`.
pub const W_IPV6_ADDRS: usize = 7;
/// First word of the tunnel metadata.
const W_TUNNEL: usize = 30;
/// First word of the Geneve option bytes.
const W_TUN_OPTS: usize = 39;

/// A [`Flow`] (or a mask) packed into [`N_WORDS`] words; see the module docs.
#[derive(Clone, PartialEq, Eq)]
pub struct FlowKey {
    words: [u64; N_WORDS],
}

impl Default for FlowKey {
    fn default() -> Self {
        FlowKey {
            words: [0; N_WORDS],
        }
    }
}

/// Hashes the words through the classifier's word hash and hands the
/// hasher one 64-bit value: much cheaper than feeding it 568 bytes.
impl std::hash::Hash for FlowKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Four independent chains, so that the 71 multiplies overlap.
        let mut lanes = [
            HASH_SEED,
            0x1319_8a2e_0370_7344,
            0xa409_3822_299f_31d0,
            0x082e_fa98_ec4e_6c89,
        ];
        for chunk in self.words.chunks(4) {
            for (l, &w) in lanes.iter_mut().zip(chunk) {
                *l = hash_word(*l, w);
            }
        }
        let [a, b, c, d] = lanes;
        state.write_u64(hash_finish(
            a ^ b.rotate_left(16) ^ c.rotate_left(32) ^ d.rotate_left(48),
        ));
    }
}

impl std::fmt::Debug for FlowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (i, w) in self.words.iter().enumerate().filter(|(_, w)| **w != 0) {
            m.entry(&i, &format_args!("{w:#018x}"));
        }
        m.finish()
    }
}

fn mac(m: [u8; 6]) -> u64 {
    u64::from_be_bytes([0, 0, m[0], m[1], m[2], m[3], m[4], m[5]])
}

fn unmac(w: u64) -> [u8; 6] {
    let b = w.to_be_bytes();
    [b[2], b[3], b[4], b[5], b[6], b[7]]
}

fn lo(x: u128) -> u64 {
    x as u64
}

fn hi(x: u128) -> u64 {
    (x >> 64) as u64
}

fn join(lo: u64, hi: u64) -> u128 {
    u128::from(hi) << 64 | u128::from(lo)
}

/// Packs two 32-bit values into one word (`a` low, `b` high).
fn w32(a: u32, b: u32) -> u64 {
    u64::from(a) | u64::from(b) << 32
}

/// Field `k` (of `bits` bits) of word `w` starting at bit `shift`.
fn bits(w: u64, shift: u32, width: u32) -> u64 {
    (w >> shift) & ((1u64 << width) - 1)
}

impl FlowKey {
    /// Packs `flow` (a flow or a mask).
    pub fn new(flow: &Flow) -> FlowKey {
        let mut k = FlowKey::default();
        k.pack(flow);
        k
    }

    /// The packed words.
    #[inline]
    pub fn words(&self) -> &[u64; N_WORDS] {
        &self.words
    }

    /// The packed words, writable: for the fast path's extractor, which
    /// writes the packing of a packet's flow directly (see
    /// [`crate::miniflow`]) and must keep the key the packing of a flow.
    #[inline]
    pub(crate) fn words_mut(&mut self) -> &mut [u64; N_WORDS] {
        &mut self.words
    }

    /// Builds a key from raw words (the inverse of [`FlowKey::words`]).
    /// Bits outside the layout are cleared so that the key stays the
    /// packing of some [`Flow`].
    pub fn from_words(words: [u64; N_WORDS]) -> FlowKey {
        FlowKey::new(&FlowKey { words }.to_flow())
    }

    /// Builds a key from words known to be the packing of some flow (no
    /// normalisation, unlike [`FlowKey::from_words`]).
    pub(crate) fn from_raw_words(words: [u64; N_WORDS]) -> FlowKey {
        FlowKey { words }
    }

    /// `self & mask`, word by word (the packing of the masked flow).
    pub fn and(&self, mask: &FlowKey) -> FlowKey {
        let mut k = self.clone();
        for (w, m) in k.words.iter_mut().zip(mask.words.iter()) {
            *w &= m;
        }
        k
    }

    /// Whether every word is zero (for a mask: it matches every flow).
    pub fn is_zero(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    /// A 32-bit hash of the fields that tell connections apart (ports,
    /// addresses, protocol, Ethernet addresses, in_port, recirc_id), for
    /// the exact-match cache, the signature cache and the upcall queues.
    /// Flows that differ elsewhere may collide, which only costs a cache
    /// miss: the caches compare whole keys.
    ///
    /// Every word goes through a multiply of its own before it meets
    /// another (each with a different key and rotation), so fields that
    /// share bit positions in different words (an address and a port)
    /// cannot cancel out; the multiplies are independent, so they overlap
    /// instead of forming a chain, and one final 128-bit multiply mixes
    /// the high bits into the low.
    #[inline]
    pub fn emc_hash(&self) -> u32 {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let w = &self.words;
        let mix = |i: usize, key: u64, rot: u32| (w[i] ^ key).wrapping_mul(K).rotate_left(rot);
        let h = mix(W_IN_PORT_RECIRC, 0x243f_6a88_85a3_08d3, 0)
            ^ mix(W_PROTO, 0x1319_8a2e_0370_7344, 7)
            ^ mix(W_NW_ADDRS, 0xa409_3822_299f_31d0, 13)
            ^ mix(W_PORTS, 0x082e_fa98_ec4e_6c89, 19)
            ^ mix(W_DL_DST, 0x4528_21e6_38d0_1377, 26)
            ^ mix(W_DL_SRC, 0xbe54_66cf_34e9_0c6c, 32)
            ^ mix(W_IPV6_ADDRS, 0xc0ac_29b7_c97c_50dd, 38)
            ^ mix(W_IPV6_ADDRS + 1, 0x3f84_d5b5_b547_0917, 45)
            ^ mix(W_IPV6_ADDRS + 2, 0x9216_d5d9_8979_fb1b, 51)
            ^ mix(W_IPV6_ADDRS + 3, 0xd131_0ba6_98df_b5ac, 57);
        let h = hash_finish(h);
        (h ^ (h >> 32)) as u32
    }

    /// Writes every field of `flow` into its place. Each struct is
    /// destructured without `..`, so a field added to [`Flow`] fails to
    /// compile here until it is given a place.
    /// Overwrites the key with the packing of `flow` (every word is
    /// written), in place.
    #[inline]
    pub fn repack(&mut self, flow: &Flow) {
        self.pack(flow);
    }

    /// [`FlowKey::repack`] for a flow without tunnel metadata (every
    /// field of `flow.tunnel` zero) into a key whose tunnel words are
    /// already zero (a fresh key, or one last packed this way): those 41
    /// words are left alone.
    #[inline]
    pub fn repack_untunneled(&mut self, flow: &Flow) {
        debug_assert!(flow.tunnel == FlowTnl::default());
        debug_assert!(self.words[W_TUNNEL..].iter().all(|&w| w == 0));
        self.pack_fields(flow, false);
    }

    /// Zeroes the tunnel words (before [`FlowKey::repack_untunneled`] on
    /// a key that held a tunnel).
    pub fn clear_tunnel(&mut self) {
        self.words[W_TUNNEL..].fill(0);
    }

    fn pack(&mut self, flow: &Flow) {
        self.pack_fields(flow, true);
    }

    #[inline(always)]
    fn pack_fields(&mut self, flow: &Flow, with_tunnel: bool) {
        // Matching through the reference copies only the small fields.
        let &Flow {
            ref tunnel,
            skb_priority,
            pkt_mark,
            dp_hash,
            in_port,
            recirc_id,
            ct_state,
            ct_nw_proto,
            ct_zone,
            ct_mark,
            ct_label,
            packet_type,
            dl_dst,
            dl_src,
            dl_type,
            vlans,
            mpls_lse,
            nw_src,
            nw_dst,
            ct_nw_src,
            ct_nw_dst,
            ipv6_src,
            ipv6_dst,
            ct_ipv6_src,
            ct_ipv6_dst,
            ipv6_label,
            nw_frag,
            nw_tos,
            nw_ttl,
            nw_proto,
            nd_target,
            arp_sha,
            arp_tha,
            tcp_flags,
            nsh,
            tp_src,
            tp_dst,
            ct_tp_src,
            ct_tp_dst,
            igmp_group_ip4,
        } = flow;
        let [VlanHdr {
            tpid: tpid0,
            tci: tci0,
        }, VlanHdr {
            tpid: tpid1,
            tci: tci1,
        }] = vlans;
        let FlowNsh {
            flags: nsh_flags,
            ttl: nsh_ttl,
            mdtype,
            np,
            path_hdr,
            context,
        } = nsh;
        let w = &mut self.words;
        w[0] = w32(in_port, recirc_id);
        w[1] = u64::from(dl_type)
            | u64::from(nw_frag) << 16
            | u64::from(nw_proto) << 24
            | u64::from(nw_tos) << 32
            | u64::from(nw_ttl) << 40
            | u64::from(tcp_flags) << 48;
        w[2] = w32(nw_src, nw_dst);
        w[3] = u64::from(tp_src)
            | u64::from(tp_dst) << 16
            | u64::from(ct_tp_src) << 32
            | u64::from(ct_tp_dst) << 48;
        w[4] = mac(dl_dst) | u64::from(tci0) << 48;
        w[5] = mac(dl_src) | u64::from(tpid0) << 48;
        w[6] = u64::from(tpid1)
            | u64::from(tci1) << 16
            | u64::from(ct_state) << 32
            | u64::from(ct_nw_proto) << 40
            | u64::from(ct_zone) << 48;
        w[7] = lo(ipv6_src);
        w[8] = hi(ipv6_src);
        w[9] = lo(ipv6_dst);
        w[10] = hi(ipv6_dst);
        w[11] = w32(dp_hash, skb_priority);
        w[12] = w32(pkt_mark, ct_mark);
        w[13] = w32(packet_type, ipv6_label);
        w[14] = w32(mpls_lse[0], mpls_lse[1]);
        w[15] = w32(mpls_lse[2], igmp_group_ip4);
        w[16] = lo(ct_label);
        w[17] = hi(ct_label);
        w[18] = w32(ct_nw_src, ct_nw_dst);
        w[19] = lo(ct_ipv6_src);
        w[20] = hi(ct_ipv6_src);
        w[21] = lo(ct_ipv6_dst);
        w[22] = hi(ct_ipv6_dst);
        w[23] = lo(nd_target);
        w[24] = hi(nd_target);
        w[25] = mac(arp_sha);
        w[26] = mac(arp_tha);
        w[27] = u64::from(nsh_flags)
            | u64::from(nsh_ttl) << 8
            | u64::from(mdtype) << 16
            | u64::from(np) << 24
            | u64::from(path_hdr) << 32;
        w[28] = w32(context[0], context[1]);
        w[29] = w32(context[2], context[3]);
        if with_tunnel {
            self.pack_tunnel(tunnel);
        }
    }

    fn pack_tunnel(&mut self, tunnel: &FlowTnl) {
        let &FlowTnl {
            ip_dst,
            ipv6_dst,
            ip_src,
            ipv6_src,
            tun_id,
            flags,
            ip_tos,
            ip_ttl,
            tp_src,
            tp_dst,
            gbp_id,
            gbp_flags,
            erspan_ver,
            erspan_idx,
            erspan_dir,
            erspan_hwid,
            gtpu_flags,
            gtpu_msgtype,
            metadata: TunMetadata { len, ref opts },
        } = tunnel;
        let w = &mut self.words;
        w[30] = w32(ip_dst, ip_src);
        w[31] = lo(ipv6_dst);
        w[32] = hi(ipv6_dst);
        w[33] = lo(ipv6_src);
        w[34] = hi(ipv6_src);
        w[35] = tun_id;
        w[36] = u64::from(flags)
            | u64::from(ip_tos) << 16
            | u64::from(ip_ttl) << 24
            | u64::from(tp_src) << 32
            | u64::from(tp_dst) << 48;
        w[37] = u64::from(gbp_id)
            | u64::from(gbp_flags) << 16
            | u64::from(erspan_ver) << 24
            | u64::from(erspan_idx) << 32;
        w[38] = u64::from(erspan_dir)
            | u64::from(erspan_hwid) << 8
            | u64::from(gtpu_flags) << 16
            | u64::from(gtpu_msgtype) << 24
            | u64::from(len) << 32;
        // 252 option bytes: 31 full words and 4 bytes in the last one.
        let (full, tail) = opts.split_at(248);
        for (dst, chunk) in w[W_TUN_OPTS..].iter_mut().zip(full.chunks_exact(8)) {
            let mut b = [0u8; 8];
            b.copy_from_slice(chunk);
            *dst = u64::from_le_bytes(b);
        }
        let mut b = [0u8; 4];
        b.copy_from_slice(tail);
        w[N_WORDS - 1] = u64::from(u32::from_le_bytes(b));
    }

    /// Unpacks the key into the [`Flow`] it was packed from.
    pub fn to_flow(&self) -> Flow {
        let w = &self.words;
        let b16 = |i: usize, s: u32| bits(w[i], s, 16) as u16;
        let b8 = |i: usize, s: u32| bits(w[i], s, 8) as u8;
        let b32 = |i: usize, s: u32| bits(w[i], s, 32) as u32;
        let mut opts = [0u8; 252];
        for (chunk, src) in opts.chunks_mut(8).zip(&w[W_TUN_OPTS..]) {
            let n = chunk.len();
            chunk.copy_from_slice(&src.to_le_bytes()[..n]);
        }
        Flow {
            tunnel: FlowTnl {
                ip_dst: b32(30, 0),
                ip_src: b32(30, 32),
                ipv6_dst: join(w[31], w[32]),
                ipv6_src: join(w[33], w[34]),
                tun_id: w[35],
                flags: b16(36, 0),
                ip_tos: b8(36, 16),
                ip_ttl: b8(36, 24),
                tp_src: b16(36, 32),
                tp_dst: b16(36, 48),
                gbp_id: b16(37, 0),
                gbp_flags: b8(37, 16),
                erspan_ver: b8(37, 24),
                erspan_idx: b32(37, 32),
                erspan_dir: b8(38, 0),
                erspan_hwid: b8(38, 8),
                gtpu_flags: b8(38, 16),
                gtpu_msgtype: b8(38, 24),
                metadata: TunMetadata {
                    len: b8(38, 32),
                    opts,
                },
            },
            in_port: b32(0, 0),
            recirc_id: b32(0, 32),
            dl_type: b16(1, 0),
            nw_frag: b8(1, 16),
            nw_proto: b8(1, 24),
            nw_tos: b8(1, 32),
            nw_ttl: b8(1, 40),
            tcp_flags: b16(1, 48),
            nw_src: b32(2, 0),
            nw_dst: b32(2, 32),
            tp_src: b16(3, 0),
            tp_dst: b16(3, 16),
            ct_tp_src: b16(3, 32),
            ct_tp_dst: b16(3, 48),
            dl_dst: unmac(w[4]),
            dl_src: unmac(w[5]),
            vlans: [
                VlanHdr {
                    tpid: b16(5, 48),
                    tci: b16(4, 48),
                },
                VlanHdr {
                    tpid: b16(6, 0),
                    tci: b16(6, 16),
                },
            ],
            ct_state: b8(6, 32),
            ct_nw_proto: b8(6, 40),
            ct_zone: b16(6, 48),
            ipv6_src: join(w[7], w[8]),
            ipv6_dst: join(w[9], w[10]),
            dp_hash: b32(11, 0),
            skb_priority: b32(11, 32),
            pkt_mark: b32(12, 0),
            ct_mark: b32(12, 32),
            packet_type: b32(13, 0),
            ipv6_label: b32(13, 32),
            mpls_lse: [b32(14, 0), b32(14, 32), b32(15, 0)],
            igmp_group_ip4: b32(15, 32),
            ct_label: join(w[16], w[17]),
            ct_nw_src: b32(18, 0),
            ct_nw_dst: b32(18, 32),
            ct_ipv6_src: join(w[19], w[20]),
            ct_ipv6_dst: join(w[21], w[22]),
            nd_target: join(w[23], w[24]),
            arp_sha: unmac(w[25]),
            arp_tha: unmac(w[26]),
            nsh: FlowNsh {
                flags: b8(27, 0),
                ttl: b8(27, 8),
                mdtype: b8(27, 16),
                np: b8(27, 24),
                path_hdr: b32(27, 32),
                context: [b32(28, 0), b32(28, 32), b32(29, 0), b32(29, 32)],
            },
        }
    }
}

/// Which words of a [`FlowKey`] are nonzero: bit `i % 64` of element
/// `i / 64` for word `i`. With the key's packing injective, the map and
/// the nonzero words in order determine the key (the exact-match cache
/// stores keys that way). The fast path's extractor
/// ([`crate::miniflow`]) computes it as it writes the words; other keys
/// get it from [`WordMap::of`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WordMap(pub [u64; 2]);

impl WordMap {
    /// Words 0..HOT hold the fields most packets have; the others are
    /// zero for plain (non-tunnel, non-conntrack) traffic.
    const HOT: usize = 16;

    /// The map of `key`, by scanning its words.
    pub fn of(key: &FlowKey) -> WordMap {
        let w = key.words();
        let mut map = [0u64; 2];
        for (i, &x) in w[..Self::HOT].iter().enumerate() {
            map[0] |= u64::from(x != 0) << i;
        }
        // One cheap OR over the rest usually shows they are all zero.
        if w[Self::HOT..].iter().fold(0, |acc, &x| acc | x) != 0 {
            for (i, &x) in w.iter().enumerate().skip(Self::HOT) {
                map[i / 64] |= u64::from(x != 0) << (i % 64);
            }
        }
        WordMap(map)
    }

    /// Number of nonzero words.
    #[inline]
    pub fn count(&self) -> usize {
        (self.0[0].count_ones() + self.0[1].count_ones()) as usize
    }

    /// The indices of the nonzero words, ascending.
    #[inline]
    pub fn indices(self) -> impl Iterator<Item = usize> {
        let [mut lo, mut hi] = self.0;
        std::iter::from_fn(move || {
            if lo != 0 {
                let i = lo.trailing_zeros() as usize;
                lo &= lo - 1;
                Some(i)
            } else if hi != 0 {
                let i = hi.trailing_zeros() as usize;
                hi &= hi - 1;
                Some(64 + i)
            } else {
                None
            }
        })
    }
}

/// Seed of the word hash.
pub(crate) const HASH_SEED: u64 = 0x243f_6a88_85a3_08d3;

/// Folds one word into a running hash (cheap: one rotate, xor, multiply).
#[inline(always)]
pub(crate) fn hash_word(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Final mixing, so that both the low bits (bucket index) and the high
/// bits (the bucket tag) depend on every input bit.
#[inline(always)]
pub(crate) fn hash_finish(h: u64) -> u64 {
    let p = u128::from(h) * 0xa076_1d64_78bd_642f_u128;
    (p as u64) ^ ((p >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A flow with every byte set from a seed, so every field is nonzero.
    fn dense_flow(seed: u64) -> Flow {
        let mut x = seed | 1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut f = Flow::default();
        let r = |n: u64| n as u128 | (n as u128) << 64;
        f.tunnel.ip_dst = next() as u32;
        f.tunnel.ipv6_dst = r(next());
        f.tunnel.ip_src = next() as u32;
        f.tunnel.ipv6_src = r(next());
        f.tunnel.tun_id = next();
        f.tunnel.flags = next() as u16;
        f.tunnel.ip_tos = next() as u8;
        f.tunnel.ip_ttl = next() as u8;
        f.tunnel.tp_src = next() as u16;
        f.tunnel.tp_dst = next() as u16;
        f.tunnel.gbp_id = next() as u16;
        f.tunnel.gbp_flags = next() as u8;
        f.tunnel.erspan_ver = next() as u8;
        f.tunnel.erspan_idx = next() as u32;
        f.tunnel.erspan_dir = next() as u8;
        f.tunnel.erspan_hwid = next() as u8;
        f.tunnel.gtpu_flags = next() as u8;
        f.tunnel.gtpu_msgtype = next() as u8;
        f.tunnel.metadata.len = next() as u8;
        for b in f.tunnel.metadata.opts.iter_mut() {
            *b = next() as u8;
        }
        f.skb_priority = next() as u32;
        f.pkt_mark = next() as u32;
        f.dp_hash = next() as u32;
        f.in_port = next() as u32;
        f.recirc_id = next() as u32;
        f.ct_state = next() as u8;
        f.ct_nw_proto = next() as u8;
        f.ct_zone = next() as u16;
        f.ct_mark = next() as u32;
        f.ct_label = r(next());
        f.packet_type = next() as u32;
        f.dl_dst = unmac(next());
        f.dl_src = unmac(next());
        f.dl_type = next() as u16;
        for v in f.vlans.iter_mut() {
            v.tpid = next() as u16;
            v.tci = next() as u16;
        }
        for l in f.mpls_lse.iter_mut() {
            *l = next() as u32;
        }
        f.nw_src = next() as u32;
        f.nw_dst = next() as u32;
        f.ct_nw_src = next() as u32;
        f.ct_nw_dst = next() as u32;
        f.ipv6_src = r(next());
        f.ipv6_dst = r(next());
        f.ct_ipv6_src = r(next());
        f.ct_ipv6_dst = r(next());
        f.ipv6_label = next() as u32;
        f.nw_frag = next() as u8;
        f.nw_tos = next() as u8;
        f.nw_ttl = next() as u8;
        f.nw_proto = next() as u8;
        f.nd_target = r(next());
        f.arp_sha = unmac(next());
        f.arp_tha = unmac(next());
        f.tcp_flags = next() as u16;
        f.nsh.flags = next() as u8;
        f.nsh.ttl = next() as u8;
        f.nsh.mdtype = next() as u8;
        f.nsh.np = next() as u8;
        f.nsh.path_hdr = next() as u32;
        for c in f.nsh.context.iter_mut() {
            *c = next() as u32;
        }
        f.tp_src = next() as u16;
        f.tp_dst = next() as u16;
        f.ct_tp_src = next() as u16;
        f.ct_tp_dst = next() as u16;
        f.igmp_group_ip4 = next() as u32;
        f
    }

    #[test]
    fn all_ones_flow_fills_every_layout_bit_once() {
        // Unpacking all-ones words gives a flow whose every field is all
        // ones; packing it back must set exactly as many bits as the fields
        // hold, so no two field bits share a word bit.
        let f = FlowKey {
            words: [!0; N_WORDS],
        }
        .to_flow();
        assert_eq!(f.tunnel.metadata.opts, [0xff; 252]);
        assert_eq!(f.ipv6_dst, u128::MAX);
        let packed = FlowKey::new(&f);
        let set: u32 = packed.words.iter().map(|w| w.count_ones()).sum();
        // Field widths of `Flow`, summed by hand from flow.rs:
        // tunnel 32+128+32+128+64+16+8+8+16+16+16+8+8+32+8+8+8+8+8+252*8,
        // metadata 32*5+8+8+16+32+128+32, L2 48+48+16+2*32+3*32,
        // L3 4*32+4*128+32+4*8, L4 128+48+48+16+(4*8+32+4*32)+4*16+32.
        let tunnel = 32
            + 128
            + 32
            + 128
            + 64
            + 16
            + 8
            + 8
            + 16
            + 16
            + 16
            + 8
            + 8
            + 32
            + 8
            + 8
            + 8
            + 8
            + 8
            + 252 * 8;
        let meta = 32 * 5 + 8 + 8 + 16 + 32 + 128 + 32;
        let l2 = 48 + 48 + 16 + 2 * 32 + 3 * 32;
        let l3 = 4 * 32 + 4 * 128 + 32 + 4 * 8;
        let l4 = 128 + 48 + 48 + 16 + (4 * 8 + 32 + 4 * 32) + 4 * 16 + 32;
        assert_eq!(set, tunnel + meta + l2 + l3 + l4);
        assert_eq!(packed.to_flow(), f);
    }

    #[test]
    fn untunneled_repack_matches_a_full_pack() {
        let mut k = FlowKey::new(&dense_flow(5));
        let mut f = dense_flow(6);
        f.tunnel = FlowTnl::default();
        k.clear_tunnel();
        k.repack_untunneled(&f);
        assert_eq!(k, FlowKey::new(&f));
    }

    #[test]
    fn dense_flow_round_trips() {
        for seed in 1..20 {
            let f = dense_flow(seed);
            assert_eq!(FlowKey::new(&f).to_flow(), f);
        }
    }

    #[test]
    fn single_field_change_changes_the_key() {
        let f = dense_flow(3);
        let k = FlowKey::new(&f);
        let mut g = f;
        g.tunnel.metadata.opts[251] ^= 0x80;
        assert_ne!(FlowKey::new(&g), k);
        let mut g = f;
        g.igmp_group_ip4 ^= 1;
        assert_ne!(FlowKey::new(&g), k);
        let mut g = f;
        g.vlans[1].tci ^= 0x8000;
        assert_ne!(FlowKey::new(&g), k);
    }

    proptest! {
        #[test]
        fn packing_commutes_with_and(a in any::<u64>(), b in any::<u64>()) {
            let (fa, fb) = (dense_flow(a), dense_flow(b));
            let ka = FlowKey::new(&fa);
            let kb = FlowKey::new(&fb);
            let anded = ka.and(&kb);
            prop_assert_eq!(FlowKey::new(&anded.to_flow()), anded.clone());
            // The masked flow, field by field on a few fields.
            let m = anded.to_flow();
            prop_assert_eq!(m.nw_src, fa.nw_src & fb.nw_src);
            prop_assert_eq!(m.ipv6_dst, fa.ipv6_dst & fb.ipv6_dst);
            prop_assert_eq!(m.vlans[0].tci, fa.vlans[0].tci & fb.vlans[0].tci);
            prop_assert_eq!(m.tunnel.metadata.opts[250], fa.tunnel.metadata.opts[250] & fb.tunnel.metadata.opts[250]);
            prop_assert_eq!(m.dl_src[0], fa.dl_src[0] & fb.dl_src[0]);
        }
    }
}
