//! The `ct_state` bits a `ct` action leaves in the flow key
//! (`OVS_CS_F_*` of `linux/openvswitch.h`), and the kernel's connection
//! status bits (`IPS_*` of `linux/netfilter/nf_conntrack_common.h`).

/// `OVS_CS_F_NEW`: the beginning of a new connection.
pub const CS_NEW: u8 = 0x01;
/// `OVS_CS_F_ESTABLISHED`: part of an existing connection.
pub const CS_ESTABLISHED: u8 = 0x02;
/// `OVS_CS_F_RELATED`: related to an existing connection.
pub const CS_RELATED: u8 = 0x04;
/// `OVS_CS_F_REPLY_DIR`: flow is in the reply direction.
pub const CS_REPLY_DIR: u8 = 0x08;
/// `OVS_CS_F_INVALID`: could not track the connection.
pub const CS_INVALID: u8 = 0x10;
/// `OVS_CS_F_TRACKED`: conntrack has occurred.
pub const CS_TRACKED: u8 = 0x20;
/// `OVS_CS_F_SRC_NAT`: packet's source address/port was mangled by NAT.
pub const CS_SRC_NAT: u8 = 0x40;
/// `OVS_CS_F_DST_NAT`: packet's destination address/port was mangled by NAT.
pub const CS_DST_NAT: u8 = 0x80;
/// Both NAT bits (`OVS_CS_F_NAT_MASK`).
pub const CS_NAT_MASK: u8 = CS_SRC_NAT | CS_DST_NAT;

/// Connection status bits, numbered as the kernel's `IPS_*_BIT` (and
/// OVS's `CT_DPIF_STATUS_*`, which copies them).
pub mod status {
    /// `IPS_EXPECTED`: an expected connection (created from an expectation).
    pub const EXPECTED: u32 = 1 << 0;
    /// `IPS_SEEN_REPLY`: packets have been seen both ways.
    pub const SEEN_REPLY: u32 = 1 << 1;
    /// `IPS_ASSURED`: the connection will not be early-dropped.
    pub const ASSURED: u32 = 1 << 2;
    /// `IPS_CONFIRMED`: the connection is in the table.
    pub const CONFIRMED: u32 = 1 << 3;
    /// `IPS_SRC_NAT`: the connection needs source NAT in the original direction.
    pub const SRC_NAT: u32 = 1 << 4;
    /// `IPS_DST_NAT`: the connection needs destination NAT in the original direction.
    pub const DST_NAT: u32 = 1 << 5;
    /// `IPS_SEQ_ADJUST`: TCP sequence numbers need adjusting (a helper resized a payload).
    pub const SEQ_ADJUST: u32 = 1 << 6;
    /// `IPS_SRC_NAT_DONE`: source NAT is set up.
    pub const SRC_NAT_DONE: u32 = 1 << 7;
    /// `IPS_DST_NAT_DONE`: destination NAT is set up.
    pub const DST_NAT_DONE: u32 = 1 << 8;
    /// `IPS_DYING`: the connection is being removed.
    pub const DYING: u32 = 1 << 9;
    /// Both NAT bits (`IPS_NAT_MASK`).
    pub const NAT_MASK: u32 = SRC_NAT | DST_NAT;
}

/// Direction of a packet within its connection (`enum ip_conntrack_dir`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// `IP_CT_DIR_ORIGINAL`: the direction of the first packet.
    Original = 0,
    /// `IP_CT_DIR_REPLY`.
    Reply = 1,
}

impl Dir {
    /// The other direction.
    pub fn rev(self) -> Dir {
        match self {
            Dir::Original => Dir::Reply,
            Dir::Reply => Dir::Original,
        }
    }

    /// 0 for original, 1 for reply (an index into per-direction arrays).
    pub fn idx(self) -> usize {
        self as usize
    }
}

/// What conntrack made of a packet (`enum ip_conntrack_info`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtInfo {
    /// `IP_CT_ESTABLISHED` / `IP_CT_ESTABLISHED_REPLY`.
    Established(Dir),
    /// `IP_CT_RELATED` / `IP_CT_RELATED_REPLY`.
    Related(Dir),
    /// `IP_CT_NEW` (always the original direction).
    New,
}

impl CtInfo {
    /// The packet's direction (`CTINFO2DIR`).
    pub fn dir(self) -> Dir {
        match self {
            CtInfo::Established(d) | CtInfo::Related(d) => d,
            CtInfo::New => Dir::Original,
        }
    }

    /// The `ct_state` bits of this information (`ovs_ct_get_state`).
    pub fn state(self) -> u8 {
        let mut s = CS_TRACKED;
        if self.dir() == Dir::Reply {
            s |= CS_REPLY_DIR;
        }
        s | match self {
            CtInfo::Established(_) => CS_ESTABLISHED,
            CtInfo::Related(_) => CS_RELATED,
            CtInfo::New => CS_NEW,
        }
    }
}
