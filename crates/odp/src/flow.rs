//! [`Flow`]: a packet's headers and metadata in one fixed layout.
//!
//! This is the datapath's equivalent of OVS's `struct flow`: every field a
//! flow key can express, at a fixed place, so that a key can be masked,
//! hashed and compared as plain data. Packet extraction fills a `Flow`;
//! [`crate::convert`] turns a `Flow` into key attributes and back.
//!
//! All multi-byte fields hold numeric values in host order (an IPv4 address
//! `a.b.c.d` is `u32::from_be_bytes([a, b, c, d])`). A mask is a `Flow` too,
//! with 1 bits where the value must match.

/// Geneve options of a tunnel, as the raw TLVs (at most 252 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TunMetadata {
    /// Number of valid bytes in `opts`.
    pub len: u8,
    /// The option TLVs as on the wire.
    pub opts: [u8; 252],
}

impl Default for TunMetadata {
    fn default() -> Self {
        TunMetadata {
            len: 0,
            opts: [0; 252],
        }
    }
}

impl TunMetadata {
    /// The valid option bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.opts[..usize::from(self.len).min(252)]
    }
}

/// Tunnel metadata (`struct flow_tnl`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowTnl {
    /// Outer IPv4 destination (0 when IPv6 or no tunnel).
    pub ip_dst: u32,
    /// Outer IPv6 destination.
    pub ipv6_dst: u128,
    /// Outer IPv4 source.
    pub ip_src: u32,
    /// Outer IPv6 source.
    pub ipv6_src: u128,
    /// Tunnel id.
    pub tun_id: u64,
    /// `FLOW_TNL_F_*` flags (DONT_FRAGMENT, CSUM, KEY, OAM...).
    pub flags: u16,
    /// Outer ToS.
    pub ip_tos: u8,
    /// Outer TTL.
    pub ip_ttl: u8,
    /// Outer transport source port.
    pub tp_src: u16,
    /// Outer transport destination port.
    pub tp_dst: u16,
    /// VXLAN GBP id.
    pub gbp_id: u16,
    /// VXLAN GBP flags.
    pub gbp_flags: u8,
    /// ERSPAN version.
    pub erspan_ver: u8,
    /// ERSPAN v1 index.
    pub erspan_idx: u32,
    /// ERSPAN v2 direction.
    pub erspan_dir: u8,
    /// ERSPAN v2 hardware id.
    pub erspan_hwid: u8,
    /// GTP-U flags.
    pub gtpu_flags: u8,
    /// GTP-U message type.
    pub gtpu_msgtype: u8,
    /// Geneve options.
    pub metadata: TunMetadata,
}

/// `FlowTnl::flags`: don't fragment.
pub const FLOW_TNL_F_DONT_FRAGMENT: u16 = 1 << 0;
/// `FlowTnl::flags`: checksum.
pub const FLOW_TNL_F_CSUM: u16 = 1 << 1;
/// `FlowTnl::flags`: key present.
pub const FLOW_TNL_F_KEY: u16 = 1 << 2;
/// `FlowTnl::flags`: OAM frame.
pub const FLOW_TNL_F_OAM: u16 = 1 << 3;

/// One VLAN header (`union flow_vlan_hdr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VlanHdr {
    /// TPID (0x8100 or 0x88a8); 0 when absent.
    pub tpid: u16,
    /// TCI, with [`VLAN_CFI`] set when the header is present.
    pub tci: u16,
}

/// The CFI bit, which OVS uses as "VLAN header present".
pub const VLAN_CFI: u16 = 0x1000;
/// VLAN id bits of a TCI.
pub const VLAN_VID_MASK: u16 = 0x0fff;
/// Priority bits of a TCI.
pub const VLAN_PCP_MASK: u16 = 0xe000;

/// Maximum VLAN headers a [`Flow`] holds (outer first).
pub const FLOW_MAX_VLAN_HEADERS: usize = 2;
/// Maximum MPLS label stack entries a [`Flow`] holds (outer first).
pub const FLOW_MAX_MPLS_LABELS: usize = 3;

/// `Flow::nw_frag`: the packet is a fragment.
pub const FLOW_NW_FRAG_ANY: u8 = 1 << 0;
/// `Flow::nw_frag`: the packet is a fragment with nonzero offset.
pub const FLOW_NW_FRAG_LATER: u8 = 1 << 1;

/// NSH header fields (`struct ovs_key_nsh`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlowNsh {
    /// Flags.
    pub flags: u8,
    /// TTL.
    pub ttl: u8,
    /// MD type.
    pub mdtype: u8,
    /// Next protocol.
    pub np: u8,
    /// SPI << 8 | SI.
    pub path_hdr: u32,
    /// MD1 context words.
    pub context: [u32; 4],
}

/// A packet's headers and metadata (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flow {
    // Metadata.
    /// Tunnel the packet arrived on.
    pub tunnel: FlowTnl,
    /// skb priority.
    pub skb_priority: u32,
    /// skb mark.
    pub pkt_mark: u32,
    /// Datapath hash.
    pub dp_hash: u32,
    /// Input port.
    pub in_port: u32,
    /// Recirculation id.
    pub recirc_id: u32,
    /// Conntrack state bits (`OVS_CS_F_*`).
    pub ct_state: u8,
    /// Conntrack original-tuple IP protocol.
    pub ct_nw_proto: u8,
    /// Conntrack zone.
    pub ct_zone: u16,
    /// Conntrack mark.
    pub ct_mark: u32,
    /// Conntrack labels.
    pub ct_label: u128,
    /// Packet type: namespace << 16 | ns-specific type (0 = Ethernet).
    pub packet_type: u32,

    // L2.
    /// Ethernet destination.
    pub dl_dst: [u8; 6],
    /// Ethernet source.
    pub dl_src: [u8; 6],
    /// Ethertype of the innermost L2 header (after VLANs).
    pub dl_type: u16,
    /// VLAN headers, outermost first.
    pub vlans: [VlanHdr; FLOW_MAX_VLAN_HEADERS],
    /// MPLS label stack entries, outermost first.
    pub mpls_lse: [u32; FLOW_MAX_MPLS_LABELS],

    // L3.
    /// IPv4 source or ARP SPA.
    pub nw_src: u32,
    /// IPv4 destination or ARP TPA.
    pub nw_dst: u32,
    /// Conntrack original-tuple IPv4 source.
    pub ct_nw_src: u32,
    /// Conntrack original-tuple IPv4 destination.
    pub ct_nw_dst: u32,
    /// IPv6 source.
    pub ipv6_src: u128,
    /// IPv6 destination.
    pub ipv6_dst: u128,
    /// Conntrack original-tuple IPv6 source.
    pub ct_ipv6_src: u128,
    /// Conntrack original-tuple IPv6 destination.
    pub ct_ipv6_dst: u128,
    /// IPv6 flow label.
    pub ipv6_label: u32,
    /// `FLOW_NW_FRAG_*` bits.
    pub nw_frag: u8,
    /// IP ToS / traffic class.
    pub nw_tos: u8,
    /// IP TTL / hop limit.
    pub nw_ttl: u8,
    /// IP protocol, or the low 8 bits of the ARP opcode.
    pub nw_proto: u8,

    // L4.
    /// ND target.
    pub nd_target: u128,
    /// ARP/ND source hardware address.
    pub arp_sha: [u8; 6],
    /// ARP/ND target hardware address.
    pub arp_tha: [u8; 6],
    /// TCP flags (12 bits), or for ND the option type.
    pub tcp_flags: u16,
    /// NSH fields.
    pub nsh: FlowNsh,
    /// TCP/UDP/SCTP source port, or ICMP type.
    pub tp_src: u16,
    /// TCP/UDP/SCTP destination port, or ICMP code.
    pub tp_dst: u16,
    /// Conntrack original-tuple source port.
    pub ct_tp_src: u16,
    /// Conntrack original-tuple destination port.
    pub ct_tp_dst: u16,
    /// ICMPv6 ND reserved field (NA flags).
    pub igmp_group_ip4: u32,
}
