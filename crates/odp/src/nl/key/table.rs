//! Length tables for `OVS_KEY_ATTR_*`, `OVS_TUNNEL_KEY_ATTR_*`,
//! `OVS_NSH_KEY_ATTR_*` and `OVS_VXLAN_EXT_*`: the single description of how
//! each attribute's payload is framed. Decoding checks lengths against these
//! tables, and emitting sizes fixed-length payloads from them.
//!
//! The tables follow the kernel's `ovs_key_lens[]` family
//! (`net/openvswitch/flow_netlink.c`) and OVS's `ovs_flow_key_attr_lens`
//! (`lib/odp-util.c`), with the departures noted on each entry.

use crate::abi::*;

/// How an attribute's payload is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrLen {
    /// Exactly this many bytes.
    Fixed(usize),
    /// A whole number of `n`-byte elements (`OVS_KEY_ATTR_MPLS`).
    Multiple(usize),
    /// Any length; the attribute's own rules apply.
    Variable,
    /// A stream of attributes described by another table.
    Nested(Level),
}

/// Which attribute set a nested attribute's payload belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `OVS_KEY_ATTR_*` (the payload of `OVS_KEY_ATTR_ENCAP`).
    Key,
    /// `OVS_TUNNEL_KEY_ATTR_*`.
    Tunnel,
    /// `OVS_VXLAN_EXT_*`.
    VxlanExt,
    /// `OVS_NSH_KEY_ATTR_*`.
    Nsh,
}

/// One row of a length table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrSpec {
    /// The attribute's name in the uapi header, without its prefix.
    pub name: &'static str,
    /// Its payload framing.
    pub len: AttrLen,
    /// Whether strict decoding accepts it (false for attributes that exist
    /// in the ABI but must never appear in a flow key on the wire).
    pub strict: bool,
}

const fn fixed(name: &'static str, n: usize) -> Option<AttrSpec> {
    Some(AttrSpec {
        name,
        len: AttrLen::Fixed(n),
        strict: true,
    })
}

const fn spec(name: &'static str, len: AttrLen) -> Option<AttrSpec> {
    Some(AttrSpec {
        name,
        len,
        strict: true,
    })
}

/// `OVS_KEY_ATTR_*`, indexed by type. `None`: not a key attribute.
static KEY: [Option<AttrSpec>; OVS_KEY_ATTR_MAX as usize + 1] = [
    None, // UNSPEC: never valid
    spec("ENCAP", AttrLen::Nested(Level::Key)),
    fixed("PRIORITY", 4),
    fixed("IN_PORT", 4),
    fixed("ETHERNET", 12),
    fixed("VLAN", 2),
    fixed("ETHERTYPE", 2),
    fixed("IPV4", 12),
    fixed("IPV6", 40),
    fixed("TCP", 4),
    fixed("UDP", 4),
    fixed("ICMP", 2),
    fixed("ICMPV6", 2),
    fixed("ARP", 24),
    fixed("ND", 28),
    fixed("SKB_MARK", 4),
    spec("TUNNEL", AttrLen::Nested(Level::Tunnel)),
    fixed("SCTP", 4),
    fixed("TCP_FLAGS", 2),
    fixed("DP_HASH", 4),
    fixed("RECIRC_ID", 4),
    spec("MPLS", AttrLen::Multiple(4)),
    fixed("CT_STATE", 4),
    fixed("CT_ZONE", 2),
    fixed("CT_MARK", 4),
    fixed("CT_LABELS", 16),
    // struct ovs_key_ct_tuple_ipv4 is 13 bytes of fields, padded to 16.
    fixed("CT_ORIG_TUPLE_IPV4", 16),
    // struct ovs_key_ct_tuple_ipv6 is 37 bytes of fields, padded to 40.
    fixed("CT_ORIG_TUPLE_IPV6", 40),
    spec("NSH", AttrLen::Nested(Level::Nsh)),
    // Userspace only, but our userspace datapath uses it: accepted.
    fixed("PACKET_TYPE", 4),
    // Userspace only, but our userspace datapath uses it: accepted.
    fixed("ND_EXTENSIONS", 8),
    // Kernel internal (`struct ip_tunnel_info`): never valid on the wire.
    Some(AttrSpec {
        name: "TUNNEL_INFO",
        len: AttrLen::Variable,
        strict: false,
    }),
    fixed("IPV6_EXTHDRS", 2),
];

/// `OVS_TUNNEL_KEY_ATTR_*`, indexed by type.
static TUNNEL: [Option<AttrSpec>; OVS_TUNNEL_KEY_ATTR_MAX as usize + 1] = [
    fixed("ID", 8),
    fixed("IPV4_SRC", 4),
    fixed("IPV4_DST", 4),
    fixed("TOS", 1),
    fixed("TTL", 1),
    fixed("DONT_FRAGMENT", 0),
    fixed("CSUM", 0),
    fixed("OAM", 0),
    spec("GENEVE_OPTS", AttrLen::Variable),
    fixed("TP_SRC", 2),
    fixed("TP_DST", 2),
    spec("VXLAN_OPTS", AttrLen::Nested(Level::VxlanExt)),
    fixed("IPV6_SRC", 16),
    fixed("IPV6_DST", 16),
    // The kernel writes PAD before a 64-bit attribute to align it; it has no
    // payload of its own that we model.
    fixed("PAD", 0),
    // Variable in the ABI; we model exactly `struct erspan_metadata`
    // (4-byte version + 8-byte union), so only that length is accepted.
    fixed("ERSPAN_OPTS", 12),
    fixed("IPV4_INFO_BRIDGE", 0),
    // OVS userspace only (`struct gtpu_metadata`, 2 bytes): accepted since our
    // userspace datapath uses it.
    fixed("GTPU_OPTS", 2),
];

/// `OVS_VXLAN_EXT_*`, indexed by type.
static VXLAN_EXT: [Option<AttrSpec>; 2] = [None, fixed("GBP", 4)];

/// `OVS_NSH_KEY_ATTR_*`, indexed by type.
static NSH: [Option<AttrSpec>; OVS_NSH_KEY_ATTR_MAX as usize + 1] = [
    None,
    fixed("BASE", 8),
    fixed("MD1", 16),
    spec("MD2", AttrLen::Variable),
];

/// The row for attribute `ty` of attribute set `level`, if it has one.
pub fn lookup(level: Level, ty: u16) -> Option<&'static AttrSpec> {
    let table: &'static [Option<AttrSpec>] = match level {
        Level::Key => &KEY,
        Level::Tunnel => &TUNNEL,
        Level::VxlanExt => &VXLAN_EXT,
        Level::Nsh => &NSH,
    };
    table.get(usize::from(ty)).and_then(Option::as_ref)
}

/// The fixed payload length of attribute `ty` of `level`, if it has one.
pub fn fixed_len(level: Level, ty: u16) -> Option<usize> {
    match lookup(level, ty)?.len {
        AttrLen::Fixed(n) => Some(n),
        _ => None,
    }
}

/// Checks a payload length against a row. `Err(want)` gives the length the
/// row asks for (for a `Multiple`, the next multiple down, at least one).
pub fn check_len(spec: &AttrSpec, got: usize) -> Result<(), usize> {
    match spec.len {
        AttrLen::Fixed(n) if n != got => Err(n),
        AttrLen::Multiple(n) if got == 0 || got.checked_rem(n) != Some(0) => {
            Err((got / n.max(1)).max(1) * n)
        }
        _ => Ok(()),
    }
}
