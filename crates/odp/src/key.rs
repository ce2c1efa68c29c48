//! Flow key attributes (`OVS_KEY_ATTR_*`) as Rust types.
//!
//! A flow key travels as an ordered list of attributes, and so does its mask:
//! a mask attribute has the same type as the key attribute it masks, with a
//! 1 bit meaning "this bit must match". [`KeyAttr`] is used for both; a
//! [`Match`] pairs a key list with an optional mask list.
//!
//! Multi-byte fields hold their numeric value (host order in Rust); the codecs
//! put them in the byte order the ABI defines (network order for header
//! fields, host order for `in_port`, `skb_mark`, `recirc_id`, ...).
//!
//! The order of attributes is kept as given, so that text → netlink → text
//! and netlink → model → netlink are exact round trips.
//!
//! Identifiers have newtypes where they are used as identifiers ([`PortNo`]
//! in actions and at the dpif, [`Ufid`], [`RecircId`]). Attribute payloads
//! here stay raw integers on purpose: the same variant carries a mask,
//! whose value (say `in_port(0xffffffff)`) is a bit pattern, not a port.

use std::net::{Ipv4Addr, Ipv6Addr};

/// One `OVS_KEY_ATTR_*` attribute (of a key, or of a mask).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyAttr {
    /// `OVS_KEY_ATTR_ENCAP`: the attributes inside a VLAN tag.
    Encap(Vec<KeyAttr>),
    /// `OVS_KEY_ATTR_PRIORITY`: skb priority (text: `skb_priority`).
    Priority(u32),
    /// `OVS_KEY_ATTR_IN_PORT`: datapath port number.
    InPort(u32),
    /// `OVS_KEY_ATTR_ETHERNET`.
    Ethernet(EthernetKey),
    /// `OVS_KEY_ATTR_VLAN`: the 802.1Q TCI (with the CFI/"present" bit 0x1000).
    Vlan(u16),
    /// `OVS_KEY_ATTR_ETHERTYPE`.
    Ethertype(u16),
    /// `OVS_KEY_ATTR_IPV4`.
    Ipv4(Ipv4Key),
    /// `OVS_KEY_ATTR_IPV6`.
    Ipv6(Ipv6Key),
    /// `OVS_KEY_ATTR_TCP`.
    Tcp(PortsKey),
    /// `OVS_KEY_ATTR_UDP`.
    Udp(PortsKey),
    /// `OVS_KEY_ATTR_ICMP`.
    Icmp(IcmpKey),
    /// `OVS_KEY_ATTR_ICMPV6`.
    Icmpv6(IcmpKey),
    /// `OVS_KEY_ATTR_ARP`.
    Arp(ArpKey),
    /// `OVS_KEY_ATTR_ND`.
    Nd(NdKey),
    /// `OVS_KEY_ATTR_SKB_MARK`.
    SkbMark(u32),
    /// `OVS_KEY_ATTR_TUNNEL`: nested `OVS_TUNNEL_KEY_ATTR_*`.
    Tunnel(Vec<TunnelAttr>),
    /// `OVS_KEY_ATTR_SCTP`.
    Sctp(PortsKey),
    /// `OVS_KEY_ATTR_TCP_FLAGS`: the 12 low bits of the TCP flags word.
    TcpFlags(u16),
    /// `OVS_KEY_ATTR_DP_HASH`.
    DpHash(u32),
    /// `OVS_KEY_ATTR_RECIRC_ID`.
    RecircId(u32),
    /// `OVS_KEY_ATTR_MPLS`: label stack entries, outermost first.
    Mpls(Vec<MplsLse>),
    /// `OVS_KEY_ATTR_CT_STATE`: `OVS_CS_F_*` bits.
    CtState(u32),
    /// `OVS_KEY_ATTR_CT_ZONE`.
    CtZone(u16),
    /// `OVS_KEY_ATTR_CT_MARK`.
    CtMark(u32),
    /// `OVS_KEY_ATTR_CT_LABELS`: 128 bits, as the 16 bytes the ABI carries.
    CtLabels([u8; 16]),
    /// `OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4`.
    CtOrigTupleIpv4(CtTupleIpv4),
    /// `OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6`.
    CtOrigTupleIpv6(CtTupleIpv6),
    /// `OVS_KEY_ATTR_NSH`: nested `OVS_NSH_KEY_ATTR_*`.
    Nsh(Vec<NshAttr>),
    /// `OVS_KEY_ATTR_PACKET_TYPE` (userspace only): namespace << 16 | type.
    PacketType(u32),
    /// `OVS_KEY_ATTR_ND_EXTENSIONS` (userspace only).
    NdExtensions(NdExtKey),
    /// `OVS_KEY_ATTR_IPV6_EXTHDRS`: bitmap of extension headers seen.
    Ipv6Exthdrs(u16),
    /// An attribute this crate does not model (tolerant decoding only).
    Unknown {
        /// The attribute type.
        ty: u16,
        /// The raw payload.
        payload: Vec<u8>,
    },
}

/// `struct ovs_key_ethernet`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct EthernetKey {
    /// Source MAC.
    pub src: [u8; 6],
    /// Destination MAC.
    pub dst: [u8; 6],
}

/// `struct ovs_key_ipv4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Key {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// IP protocol.
    pub proto: u8,
    /// Type of service (DSCP and ECN).
    pub tos: u8,
    /// Time to live.
    pub ttl: u8,
    /// One of `OVS_FRAG_TYPE_*` (or a mask of it).
    pub frag: u8,
}

impl Default for Ipv4Key {
    fn default() -> Self {
        Ipv4Key {
            src: Ipv4Addr::UNSPECIFIED,
            dst: Ipv4Addr::UNSPECIFIED,
            proto: 0,
            tos: 0,
            ttl: 0,
            frag: 0,
        }
    }
}

/// `struct ovs_key_ipv6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Key {
    /// Source address.
    pub src: Ipv6Addr,
    /// Destination address.
    pub dst: Ipv6Addr,
    /// Flow label (20 bits in the least significant bits).
    pub label: u32,
    /// Next header after the extension headers.
    pub proto: u8,
    /// Traffic class.
    pub tclass: u8,
    /// Hop limit.
    pub hlimit: u8,
    /// One of `OVS_FRAG_TYPE_*` (or a mask of it).
    pub frag: u8,
}

impl Default for Ipv6Key {
    fn default() -> Self {
        Ipv6Key {
            src: Ipv6Addr::UNSPECIFIED,
            dst: Ipv6Addr::UNSPECIFIED,
            label: 0,
            proto: 0,
            tclass: 0,
            hlimit: 0,
            frag: 0,
        }
    }
}

/// `struct ovs_key_tcp`, `ovs_key_udp` and `ovs_key_sctp`: a port pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PortsKey {
    /// Source port.
    pub src: u16,
    /// Destination port.
    pub dst: u16,
}

/// `struct ovs_key_icmp` and `ovs_key_icmpv6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IcmpKey {
    /// ICMP type.
    pub ty: u8,
    /// ICMP code.
    pub code: u8,
}

/// `struct ovs_key_arp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ArpKey {
    /// Sender protocol address.
    pub sip: Ipv4Addr,
    /// Target protocol address.
    pub tip: Ipv4Addr,
    /// Opcode (16 bits on the wire; OVS matches the low 8).
    pub op: u16,
    /// Sender hardware address.
    pub sha: [u8; 6],
    /// Target hardware address.
    pub tha: [u8; 6],
}

impl Default for ArpKey {
    fn default() -> Self {
        ArpKey {
            sip: Ipv4Addr::UNSPECIFIED,
            tip: Ipv4Addr::UNSPECIFIED,
            op: 0,
            sha: [0; 6],
            tha: [0; 6],
        }
    }
}

/// `struct ovs_key_nd`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NdKey {
    /// Target address.
    pub target: Ipv6Addr,
    /// Source link-layer address option.
    pub sll: [u8; 6],
    /// Target link-layer address option.
    pub tll: [u8; 6],
}

impl Default for NdKey {
    fn default() -> Self {
        NdKey {
            target: Ipv6Addr::UNSPECIFIED,
            sll: [0; 6],
            tll: [0; 6],
        }
    }
}

/// `struct ovs_key_nd_extensions` (userspace only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NdExtKey {
    /// Neighbor advertisement flags (`nd_reserved`, network order on the wire).
    pub reserved: u32,
    /// Option type of the first ND option.
    pub options_type: u8,
}

/// One MPLS label stack entry (`struct ovs_key_mpls`), the raw 32-bit LSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MplsLse(pub u32);

impl MplsLse {
    /// The 20-bit label.
    pub fn label(self) -> u32 {
        self.0 >> 12
    }
    /// The 3-bit traffic class.
    pub fn tc(self) -> u8 {
        ((self.0 >> 9) & 7) as u8
    }
    /// The bottom-of-stack bit.
    pub fn bos(self) -> bool {
        self.0 & 0x100 != 0
    }
    /// The time to live.
    pub fn ttl(self) -> u8 {
        (self.0 & 0xff) as u8
    }
    /// Builds an LSE from its fields (values are truncated to their widths).
    pub fn new(label: u32, tc: u8, bos: bool, ttl: u8) -> Self {
        MplsLse(
            ((label & 0xfffff) << 12)
                | (u32::from(tc & 7) << 9)
                | (u32::from(bos) << 8)
                | u32::from(ttl),
        )
    }
}

/// `struct ovs_key_ct_tuple_ipv4`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CtTupleIpv4 {
    /// Original source address.
    pub src: Ipv4Addr,
    /// Original destination address.
    pub dst: Ipv4Addr,
    /// Original source port (or ICMP type).
    pub src_port: u16,
    /// Original destination port (or ICMP code).
    pub dst_port: u16,
    /// IP protocol.
    pub proto: u8,
}

/// `struct ovs_key_ct_tuple_ipv6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CtTupleIpv6 {
    /// Original source address.
    pub src: Ipv6Addr,
    /// Original destination address.
    pub dst: Ipv6Addr,
    /// Original source port (or ICMPv6 type).
    pub src_port: u16,
    /// Original destination port (or ICMPv6 code).
    pub dst_port: u16,
    /// IP protocol.
    pub proto: u8,
}

/// One `OVS_TUNNEL_KEY_ATTR_*` attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TunnelAttr {
    /// `ID`: tunnel id (VNI, GRE key...).
    Id(u64),
    /// `IPV4_SRC`.
    Ipv4Src(Ipv4Addr),
    /// `IPV4_DST`.
    Ipv4Dst(Ipv4Addr),
    /// `TOS`.
    Tos(u8),
    /// `TTL`.
    Ttl(u8),
    /// `DONT_FRAGMENT` (flag).
    DontFragment,
    /// `CSUM` (flag).
    Csum,
    /// `OAM` (flag).
    Oam,
    /// `GENEVE_OPTS`: the raw TLV options, as on the wire.
    GeneveOpts(Vec<u8>),
    /// `TP_SRC`.
    TpSrc(u16),
    /// `TP_DST`.
    TpDst(u16),
    /// `VXLAN_OPTS`: nested `OVS_VXLAN_EXT_*`; `Some(gbp)` when GBP is present.
    VxlanOpts(Option<u32>),
    /// `IPV6_SRC`.
    Ipv6Src(Ipv6Addr),
    /// `IPV6_DST`.
    Ipv6Dst(Ipv6Addr),
    /// `PAD` (ignored).
    Pad,
    /// `ERSPAN_OPTS`: `struct erspan_metadata`.
    ErspanOpts(ErspanMetadata),
    /// `IPV4_INFO_BRIDGE` (flag).
    Ipv4InfoBridge,
    /// `GTPU_OPTS` (userspace only): flags and message type.
    GtpuOpts {
        /// GTP-U flags.
        flags: u8,
        /// GTP-U message type.
        msgtype: u8,
    },
    /// An attribute this crate does not model (tolerant decoding only).
    Unknown {
        /// The attribute type.
        ty: u16,
        /// The raw payload.
        payload: Vec<u8>,
    },
}

/// `struct erspan_metadata`: a version and version-specific fields.
///
/// On the wire: `int version` (host order), then the union of a v1
/// `be32 index` and a v2 `struct erspan_md2` (8 bytes, with `dir` and `hwid`
/// in bit fields), kept here exactly as on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ErspanMetadata {
    /// ERSPAN version (1 or 2), or its mask.
    pub version: u32,
    /// The version-specific bytes, exactly as on the wire.
    pub u: [u8; 8],
}

/// One `OVS_NSH_KEY_ATTR_*` attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NshAttr {
    /// `BASE`: `struct ovs_nsh_key_base`.
    Base(NshBase),
    /// `MD1`: four context words.
    Md1([u32; 4]),
    /// `MD2`: variable-length TLVs, raw.
    Md2(Vec<u8>),
    /// An attribute this crate does not model (tolerant decoding only).
    Unknown {
        /// The attribute type.
        ty: u16,
        /// The raw payload.
        payload: Vec<u8>,
    },
}

/// `struct ovs_nsh_key_base`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NshBase {
    /// NSH flags.
    pub flags: u8,
    /// NSH TTL.
    pub ttl: u8,
    /// Metadata type.
    pub mdtype: u8,
    /// Next protocol.
    pub np: u8,
    /// Service path identifier (24 bits) << 8 | service index.
    pub path_hdr: u32,
}

/// A flow key with an optional mask: what a megaflow matches.
///
/// `mask == None` means every field present in `key` is matched exactly.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Match {
    /// The key attributes.
    pub key: Vec<KeyAttr>,
    /// The mask attributes, if any.
    pub mask: Option<Vec<KeyAttr>>,
}

/// A 128-bit unique flow identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Ufid(pub u128);

/// A datapath port number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct PortNo(pub u32);

/// A recirculation id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct RecircId(pub u32);

impl KeyAttr {
    /// The `OVS_KEY_ATTR_*` number of this attribute.
    pub fn ty(&self) -> u16 {
        use crate::abi::*;
        match self {
            KeyAttr::Encap(_) => OVS_KEY_ATTR_ENCAP,
            KeyAttr::Priority(_) => OVS_KEY_ATTR_PRIORITY,
            KeyAttr::InPort(_) => OVS_KEY_ATTR_IN_PORT,
            KeyAttr::Ethernet(_) => OVS_KEY_ATTR_ETHERNET,
            KeyAttr::Vlan(_) => OVS_KEY_ATTR_VLAN,
            KeyAttr::Ethertype(_) => OVS_KEY_ATTR_ETHERTYPE,
            KeyAttr::Ipv4(_) => OVS_KEY_ATTR_IPV4,
            KeyAttr::Ipv6(_) => OVS_KEY_ATTR_IPV6,
            KeyAttr::Tcp(_) => OVS_KEY_ATTR_TCP,
            KeyAttr::Udp(_) => OVS_KEY_ATTR_UDP,
            KeyAttr::Icmp(_) => OVS_KEY_ATTR_ICMP,
            KeyAttr::Icmpv6(_) => OVS_KEY_ATTR_ICMPV6,
            KeyAttr::Arp(_) => OVS_KEY_ATTR_ARP,
            KeyAttr::Nd(_) => OVS_KEY_ATTR_ND,
            KeyAttr::SkbMark(_) => OVS_KEY_ATTR_SKB_MARK,
            KeyAttr::Tunnel(_) => OVS_KEY_ATTR_TUNNEL,
            KeyAttr::Sctp(_) => OVS_KEY_ATTR_SCTP,
            KeyAttr::TcpFlags(_) => OVS_KEY_ATTR_TCP_FLAGS,
            KeyAttr::DpHash(_) => OVS_KEY_ATTR_DP_HASH,
            KeyAttr::RecircId(_) => OVS_KEY_ATTR_RECIRC_ID,
            KeyAttr::Mpls(_) => OVS_KEY_ATTR_MPLS,
            KeyAttr::CtState(_) => OVS_KEY_ATTR_CT_STATE,
            KeyAttr::CtZone(_) => OVS_KEY_ATTR_CT_ZONE,
            KeyAttr::CtMark(_) => OVS_KEY_ATTR_CT_MARK,
            KeyAttr::CtLabels(_) => OVS_KEY_ATTR_CT_LABELS,
            KeyAttr::CtOrigTupleIpv4(_) => OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4,
            KeyAttr::CtOrigTupleIpv6(_) => OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6,
            KeyAttr::Nsh(_) => OVS_KEY_ATTR_NSH,
            KeyAttr::PacketType(_) => OVS_KEY_ATTR_PACKET_TYPE,
            KeyAttr::NdExtensions(_) => OVS_KEY_ATTR_ND_EXTENSIONS,
            KeyAttr::Ipv6Exthdrs(_) => OVS_KEY_ATTR_IPV6_EXTHDRS,
            KeyAttr::Unknown { ty, .. } => *ty,
        }
    }
}

impl TunnelAttr {
    /// The `OVS_TUNNEL_KEY_ATTR_*` number of this attribute.
    pub fn ty(&self) -> u16 {
        use crate::abi::*;
        match self {
            TunnelAttr::Id(_) => OVS_TUNNEL_KEY_ATTR_ID,
            TunnelAttr::Ipv4Src(_) => OVS_TUNNEL_KEY_ATTR_IPV4_SRC,
            TunnelAttr::Ipv4Dst(_) => OVS_TUNNEL_KEY_ATTR_IPV4_DST,
            TunnelAttr::Tos(_) => OVS_TUNNEL_KEY_ATTR_TOS,
            TunnelAttr::Ttl(_) => OVS_TUNNEL_KEY_ATTR_TTL,
            TunnelAttr::DontFragment => OVS_TUNNEL_KEY_ATTR_DONT_FRAGMENT,
            TunnelAttr::Csum => OVS_TUNNEL_KEY_ATTR_CSUM,
            TunnelAttr::Oam => OVS_TUNNEL_KEY_ATTR_OAM,
            TunnelAttr::GeneveOpts(_) => OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS,
            TunnelAttr::TpSrc(_) => OVS_TUNNEL_KEY_ATTR_TP_SRC,
            TunnelAttr::TpDst(_) => OVS_TUNNEL_KEY_ATTR_TP_DST,
            TunnelAttr::VxlanOpts(_) => OVS_TUNNEL_KEY_ATTR_VXLAN_OPTS,
            TunnelAttr::Ipv6Src(_) => OVS_TUNNEL_KEY_ATTR_IPV6_SRC,
            TunnelAttr::Ipv6Dst(_) => OVS_TUNNEL_KEY_ATTR_IPV6_DST,
            TunnelAttr::Pad => OVS_TUNNEL_KEY_ATTR_PAD,
            TunnelAttr::ErspanOpts(_) => OVS_TUNNEL_KEY_ATTR_ERSPAN_OPTS,
            TunnelAttr::Ipv4InfoBridge => OVS_TUNNEL_KEY_ATTR_IPV4_INFO_BRIDGE,
            TunnelAttr::GtpuOpts { .. } => OVS_TUNNEL_KEY_ATTR_GTPU_OPTS,
            TunnelAttr::Unknown { ty, .. } => *ty,
        }
    }
}

impl NshAttr {
    /// The `OVS_NSH_KEY_ATTR_*` number of this attribute.
    pub fn ty(&self) -> u16 {
        use crate::abi::*;
        match self {
            NshAttr::Base(_) => OVS_NSH_KEY_ATTR_BASE,
            NshAttr::Md1(_) => OVS_NSH_KEY_ATTR_MD1,
            NshAttr::Md2(_) => OVS_NSH_KEY_ATTR_MD2,
            NshAttr::Unknown { ty, .. } => *ty,
        }
    }
}
