//! Connection tuples (`struct nf_conntrack_tuple`) and the packet walk that
//! finds them.
//!
//! A [`Tuple`] is one direction of a connection: addresses, the L4
//! "ports" and the IP protocol. Addresses of both families live in a
//! `u128` (an IPv4 address in its low 32 bits), so a tuple is plain,
//! hashable data of a fixed size. For ICMP and ICMPv6 the source port
//! holds the echo identifier and the destination port `type << 8 | code`,
//! as the kernel keeps `src.u.icmp.id` and `dst.u.icmp.{type,code}`.
//!
//! [`parse`] walks a packet from its L3 header to its L4 header; it never
//! panics and reports a packet it cannot track as an error, which the
//! engine turns into `+trk+inv` as the kernel does.

use packet::ipproto;

/// One direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Tuple {
    /// Source address (IPv4 in the low 32 bits).
    pub src: u128,
    /// Destination address.
    pub dst: u128,
    /// Source port, or the ICMP echo identifier.
    pub src_port: u16,
    /// Destination port, or ICMP `type << 8 | code`.
    pub dst_port: u16,
    /// IP protocol.
    pub proto: u8,
    /// IPv6 (else IPv4).
    pub v6: bool,
}

/// A tuple within a zone: what the connection table is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ConnKey {
    /// The tuple.
    pub tuple: Tuple,
    /// The conntrack zone.
    pub zone: u16,
}

/// ICMP types the kernel tracks as connections, with their reply types.
fn icmp_reply_type(v6: bool, ty: u8) -> Option<u8> {
    if v6 {
        match ty {
            128 => Some(129),
            129 => Some(128),
            139 => Some(140),
            140 => Some(139),
            _ => None,
        }
    } else {
        match ty {
            8 => Some(0),
            0 => Some(8),
            13 => Some(14),
            14 => Some(13),
            15 => Some(16),
            16 => Some(15),
            17 => Some(18),
            18 => Some(17),
            _ => None,
        }
    }
}

/// True for ICMP(v6) types that may start a connection (`valid_new` of
/// nf_conntrack_proto_icmp.c / icmpv6.c).
pub(crate) fn icmp_valid_new(v6: bool, ty: u8) -> bool {
    if v6 {
        matches!(ty, 128 | 139)
    } else {
        matches!(ty, 8 | 13 | 15 | 17)
    }
}

/// True for protocols whose tuples carry ports.
pub(crate) fn has_ports(proto: u8) -> bool {
    matches!(
        proto,
        ipproto::TCP | ipproto::UDP | ipproto::SCTP | UDPLITE | DCCP
    )
}

/// UDP-Lite.
pub const UDPLITE: u8 = 136;
/// DCCP.
pub const DCCP: u8 = 33;

impl Tuple {
    /// True for ICMP over IPv4 or ICMPv6 over IPv6.
    pub fn is_icmp(&self) -> bool {
        (!self.v6 && self.proto == ipproto::ICMP) || (self.v6 && self.proto == ipproto::ICMPV6)
    }

    /// ICMP type (for ICMP tuples).
    pub fn icmp_type(&self) -> u8 {
        (self.dst_port >> 8) as u8
    }

    /// ICMP code (for ICMP tuples).
    pub fn icmp_code(&self) -> u8 {
        self.dst_port as u8
    }

    /// The tuple of the other direction (`nf_ct_invert_tuple`); `None` for
    /// an ICMP type that has no reply type.
    pub fn invert(&self) -> Option<Tuple> {
        let mut t = Tuple {
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            proto: self.proto,
            v6: self.v6,
        };
        if self.is_icmp() {
            let ty = icmp_reply_type(self.v6, self.icmp_type())?;
            t.src_port = self.src_port;
            t.dst_port = u16::from(ty) << 8 | u16::from(self.icmp_code());
        }
        Some(t)
    }

    /// The IPv4 source address (for IPv4 tuples).
    pub fn src_v4(&self) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::from(self.src as u32)
    }

    /// The IPv4 destination address (for IPv4 tuples).
    pub fn dst_v4(&self) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::from(self.dst as u32)
    }
}

/// A packet buffer the engine reads and rewrites: the datapath's packet
/// type implements it. The engine only rewrites bytes in place, except
/// when a helper resizes an FTP payload or a fragment is replaced by its
/// reassembled datagram, which need [`CtBuf::set_len`].
pub trait CtBuf {
    /// The packet's bytes (from the Ethernet header, or from the L3 header
    /// for a packet without Ethernet).
    fn data(&self) -> &[u8];
    /// The packet's bytes, writable.
    fn data_mut(&mut self) -> &mut [u8];
    /// Sets the length, growing with zero bytes or shrinking at the end.
    fn set_len(&mut self, len: usize);
}

impl CtBuf for Vec<u8> {
    fn data(&self) -> &[u8] {
        self
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self
    }
    fn set_len(&mut self, len: usize) {
        self.resize(len, 0);
    }
}

/// Fragment status of an IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frag {
    /// Not a fragment.
    None,
    /// A fragment (first or later).
    Fragment,
}

/// Where a packet's layers are, and its tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layers {
    /// Offset of the IP header.
    pub l3: usize,
    /// IPv6 (else IPv4).
    pub v6: bool,
    /// Offset of the L4 header (after IPv6 extension headers).
    pub l4: usize,
    /// Offset one past the IP datagram's last byte (`total_len` /
    /// `payload_len` bound; link-layer padding after it is ignored).
    pub end: usize,
    /// The L4 protocol (after IPv6 extension headers).
    pub proto: u8,
    /// Whether the packet is a fragment.
    pub frag: Frag,
}

/// EtherTypes.
pub(crate) const ETH_P_IP: u16 = 0x0800;
pub(crate) const ETH_P_IPV6: u16 = 0x86dd;

/// Finds the IP header of an Ethernet frame (skipping up to two VLAN
/// tags): `(offset, is_ipv6)`, or `None` for a non-IP frame.
pub fn find_l3(frame: &[u8]) -> Option<(usize, bool)> {
    if frame.len() < 14 {
        return None;
    }
    let mut at = 12;
    let mut ty = u16::from_be_bytes([frame[12], frame[13]]);
    let mut tags = 0;
    while (ty == 0x8100 || ty == 0x88a8) && tags < 2 && frame.len() >= at + 6 {
        at += 4;
        ty = u16::from_be_bytes([frame[at], frame[at + 1]]);
        tags += 1;
    }
    match ty {
        ETH_P_IP => Some((at + 2, false)),
        ETH_P_IPV6 => Some((at + 2, true)),
        _ => None,
    }
}

/// Walks the IP header at `l3` (the kernel's `ipv6_skip_exthdr` for
/// IPv6). `Err` when the IP header is truncated or inconsistent.
pub fn parse_l3(p: &[u8], l3: usize, v6: bool) -> packet::Result<Layers> {
    let ip = p.get(l3..).ok_or(packet::Error)?;
    if !v6 {
        let h = packet::ipv4::Packet::new_checked(ip)?;
        if h.version() != 4 {
            return Err(packet::Error);
        }
        let total = usize::from(h.total_len());
        let hlen = h.header_len();
        if total < hlen || total > ip.len() {
            return Err(packet::Error);
        }
        let frag = if h.is_fragment() {
            Frag::Fragment
        } else {
            Frag::None
        };
        Ok(Layers {
            l3,
            v6,
            l4: l3 + hlen,
            end: l3 + total,
            proto: h.protocol(),
            frag,
        })
    } else {
        let h = packet::ipv6::Packet::new_checked(ip)?;
        if h.version() != 6 {
            return Err(packet::Error);
        }
        let end = packet::ipv6::HEADER_LEN + usize::from(h.payload_len());
        if end > ip.len() {
            return Err(packet::Error);
        }
        let mut next = h.next_header();
        let mut at = packet::ipv6::HEADER_LEN;
        let mut frag = Frag::None;
        // At most 8 extension headers, so the walk is bounded.
        for _ in 0..8 {
            match next {
                ipproto::HOPOPTS | ipproto::ROUTING | ipproto::DSTOPTS => {
                    let e = packet::ipv6::ExtHeader::new_checked(
                        ip.get(at..end).ok_or(packet::Error)?,
                    )?;
                    next = e.next_header();
                    at += e.header_len();
                }
                ipproto::AH => {
                    let e = packet::ipv6::AuthHeader::new_checked(
                        ip.get(at..end).ok_or(packet::Error)?,
                    )?;
                    next = e.next_header();
                    at += e.header_len();
                }
                ipproto::FRAGMENT => {
                    let f = packet::ipv6::FragHeader::new_checked(
                        ip.get(at..end).ok_or(packet::Error)?,
                    )?;
                    next = f.next_header();
                    at += packet::ipv6::FRAG_HEADER_LEN;
                    if f.frag_offset() != 0 || f.more_frags() {
                        frag = Frag::Fragment;
                        break;
                    }
                }
                _ => break,
            }
        }
        if at > end {
            return Err(packet::Error);
        }
        Ok(Layers {
            l3,
            v6,
            l4: l3 + at,
            end: l3 + end,
            proto: next,
            frag,
        })
    }
}

/// [`parse_l3`] for the packet quoted by an ICMP error: the datagram may
/// be truncated, so its end is where the buffer ends.
pub(crate) fn parse_l3_truncated(p: &[u8], l3: usize, v6: bool) -> Option<Layers> {
    let ip = p.get(l3..)?;
    if !v6 {
        let h = packet::ipv4::Packet::new_checked(ip).ok()?;
        if h.version() != 4 {
            return None;
        }
        let end = (l3 + usize::from(h.total_len())).min(p.len());
        Some(Layers {
            l3,
            v6,
            l4: l3 + h.header_len(),
            end,
            proto: h.protocol(),
            frag: if h.frag_offset() != 0 {
                Frag::Fragment
            } else {
                Frag::None
            },
        })
    } else {
        let h = packet::ipv6::Packet::new_checked(ip).ok()?;
        if h.version() != 6 {
            return None;
        }
        let end = (l3 + packet::ipv6::HEADER_LEN + usize::from(h.payload_len())).min(p.len());
        let mut copy = Layers {
            l3,
            v6,
            l4: l3 + packet::ipv6::HEADER_LEN,
            end,
            proto: h.next_header(),
            frag: Frag::None,
        };
        // Walk extension headers within what is there.
        let mut next = h.next_header();
        let mut at = l3 + packet::ipv6::HEADER_LEN;
        for _ in 0..8 {
            match next {
                ipproto::HOPOPTS | ipproto::ROUTING | ipproto::DSTOPTS => {
                    let e = packet::ipv6::ExtHeader::new_checked(p.get(at..end)?).ok()?;
                    next = e.next_header();
                    at += e.header_len();
                }
                ipproto::FRAGMENT => {
                    let f = packet::ipv6::FragHeader::new_checked(p.get(at..end)?).ok()?;
                    next = f.next_header();
                    at += packet::ipv6::FRAG_HEADER_LEN;
                    if f.frag_offset() != 0 {
                        copy.frag = Frag::Fragment;
                        break;
                    }
                }
                _ => break,
            }
        }
        copy.l4 = at;
        copy.proto = next;
        Some(copy)
    }
}

/// The tuple of the packet quoted by an ICMP error (only the first 8
/// bytes of its L4 header need be there).
pub(crate) fn tuple_of_inner(p: &[u8], l: &Layers) -> packet::Result<Tuple> {
    tuple_of(p, l)
}

/// The address fields of the IP header at `l3`.
pub(crate) fn addrs(p: &[u8], l: &Layers) -> (u128, u128) {
    if l.v6 {
        let h = packet::ipv6::Packet::new_unchecked(&p[l.l3..]);
        (h.src_addr(), h.dst_addr())
    } else {
        let h = packet::ipv4::Packet::new_unchecked(&p[l.l3..]);
        (u128::from(h.src_addr()), u128::from(h.dst_addr()))
    }
}

/// The tuple of a non-fragment packet whose layers are `l`; `Err` when
/// the L4 header is truncated (`nf_ct_get_tuple` failing).
pub fn tuple_of(p: &[u8], l: &Layers) -> packet::Result<Tuple> {
    let (src, dst) = addrs(p, l);
    let l4 = p.get(l.l4..l.end).ok_or(packet::Error)?;
    let mut t = Tuple {
        src,
        dst,
        src_port: 0,
        dst_port: 0,
        proto: l.proto,
        v6: l.v6,
    };
    if has_ports(l.proto) {
        if l4.len() < 4 {
            return Err(packet::Error);
        }
        t.src_port = u16::from_be_bytes([l4[0], l4[1]]);
        t.dst_port = u16::from_be_bytes([l4[2], l4[3]]);
    } else if t.is_icmp() {
        if l4.len() < 8 {
            return Err(packet::Error);
        }
        t.dst_port = u16::from_be_bytes([l4[0], l4[1]]);
        t.src_port = u16::from_be_bytes([l4[4], l4[5]]);
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invert_swaps_ports_and_icmp_types() {
        let t = Tuple {
            src: 1,
            dst: 2,
            src_port: 10,
            dst_port: 20,
            proto: ipproto::TCP,
            v6: false,
        };
        let r = t.invert().unwrap();
        assert_eq!((r.src, r.dst, r.src_port, r.dst_port), (2, 1, 20, 10));
        assert_eq!(r.invert().unwrap(), t);
        let echo = Tuple {
            proto: ipproto::ICMP,
            src_port: 77,
            dst_port: 8 << 8,
            ..t
        };
        let r = echo.invert().unwrap();
        assert_eq!((r.src_port, r.icmp_type(), r.icmp_code()), (77, 0, 0));
        let unreachable = Tuple {
            dst_port: 3 << 8 | 3,
            ..echo
        };
        assert_eq!(unreachable.invert(), None);
    }

    #[test]
    fn find_l3_skips_vlan_tags() {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x81, 0x00, 0, 5, 0x86, 0xdd]);
        assert_eq!(find_l3(&f), Some((18, true)));
        assert_eq!(find_l3(&f[..13]), None);
    }
}
