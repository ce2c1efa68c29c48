//! Datapath actions (`OVS_ACTION_ATTR_*`) as Rust types.
//!
//! An action list is a `Vec<Action>`, executed in order. Nested lists
//! (`sample`, `clone`, `check_pkt_len`, `dec_ttl`) hold their own
//! `Vec<Action>`. Byte layouts and the netlink framing live in
//! [`crate::nl::action`]; the `ovs-dpctl` text form lives in
//! [`crate::text::action`].
//!
//! Values are kept as they travel, so that netlink → model → netlink is an
//! exact round trip: the `userspace` userdata is the raw bytes (with
//! [`UserCookie`] as a typed view of OVS's cookie kinds), and the
//! `tnl_push` header is the raw header bytes (with [`TunnelHeader`] as a
//! typed view of its layers).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::key::{KeyAttr, MplsLse, NshAttr, PortNo, RecircId};

/// One datapath action.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Action {
    /// `OUTPUT`: send a copy of the packet to a port.
    Output(PortNo),
    /// `USERSPACE`: send the packet to a userspace process.
    Userspace(Userspace),
    /// `SET`: overwrite a header or metadata field with a key attribute.
    Set(KeyAttr),
    /// `SET_MASKED`: overwrite only the bits of `key` selected by `mask`
    /// (a key attribute of the same type).
    SetMasked {
        /// The new values.
        key: KeyAttr,
        /// The bits to change.
        mask: KeyAttr,
    },
    /// `PUSH_VLAN`: push an 802.1Q/802.1ad tag.
    PushVlan {
        /// Tag protocol identifier (0x8100, 0x88a8, ...).
        tpid: u16,
        /// Tag control information, including the CFI/present bit 0x1000.
        tci: u16,
    },
    /// `POP_VLAN`: pop the outermost VLAN tag.
    PopVlan,
    /// `SAMPLE`: run `actions` with a probability of `probability / u32::MAX`.
    Sample {
        /// Probability, as a fraction of `u32::MAX`.
        probability: u32,
        /// The actions to run on a copy of the packet.
        actions: Vec<Action>,
    },
    /// `RECIRC`: recirculate the packet with this recirculation id.
    Recirc(RecircId),
    /// `HASH`: compute the datapath hash (`dp_hash`).
    Hash {
        /// `OVS_HASH_ALG_*`.
        alg: u32,
        /// Basis for the hash.
        basis: u32,
    },
    /// `PUSH_MPLS`: push an MPLS label stack entry.
    PushMpls {
        /// The label stack entry.
        lse: MplsLse,
        /// The new EtherType (0x8847 or 0x8848).
        ethertype: u16,
    },
    /// `POP_MPLS`: pop the outermost MPLS entry; the payload gets this EtherType.
    PopMpls {
        /// EtherType of the payload.
        ethertype: u16,
    },
    /// `CT`: send the packet through connection tracking.
    Ct(Ct),
    /// `TRUNC`: truncate the packet copies sent by later outputs.
    Trunc {
        /// Maximum length kept.
        max_len: u32,
    },
    /// `PUSH_ETH`: push an Ethernet header.
    PushEth {
        /// Source address.
        src: [u8; 6],
        /// Destination address.
        dst: [u8; 6],
    },
    /// `POP_ETH`: pop the Ethernet header.
    PopEth,
    /// `CT_CLEAR`: clear the connection tracking state.
    CtClear,
    /// `PUSH_NSH`: push an NSH header described by NSH key attributes.
    PushNsh(Vec<NshAttr>),
    /// `POP_NSH`: pop the NSH header.
    PopNsh,
    /// `METER`: apply a meter.
    Meter(u32),
    /// `CLONE`: run `actions` on a copy of the packet.
    Clone(Vec<Action>),
    /// `CHECK_PKT_LEN`: run one of two action lists depending on the length.
    CheckPktLen {
        /// The length compared against.
        pkt_len: u16,
        /// Actions if the packet is longer than `pkt_len`.
        gt: Vec<Action>,
        /// Actions if the packet is at most `pkt_len` long.
        le: Vec<Action>,
    },
    /// `ADD_MPLS`: add an MPLS label stack entry at the start of the packet
    /// (before the Ethernet header when `tun_flags` says so).
    AddMpls {
        /// The label stack entry.
        lse: MplsLse,
        /// The new EtherType.
        ethertype: u16,
        /// `OVS_MPLS_L3_TUNNEL_FLAG_MASK` bits.
        tun_flags: u16,
    },
    /// `DEC_TTL`: decrement the IP TTL; run `actions` if it would reach zero.
    DecTtl(Vec<Action>),
    /// `DROP`: drop the packet explicitly, with an error code (0 = no error).
    Drop(u32),
    /// `PSAMPLE`: send a sample to the psample subsystem.
    Psample {
        /// The psample group.
        group: u32,
        /// An optional cookie of up to 16 bytes.
        cookie: Option<Vec<u8>>,
    },
    /// `TUNNEL_PUSH` (userspace only): push a pre-built tunnel header.
    TunnelPush(TunnelPush),
    /// `TUNNEL_POP` (userspace only): pop a tunnel header, then continue
    /// processing as received on this tunnel port.
    TunnelPop(PortNo),
    /// `LB_OUTPUT` (userspace only): output to a balance-tcp bond.
    LbOutput(u32),
    /// An action this crate does not model, or (tolerant decoding) a known
    /// action whose payload is malformed.
    Unknown {
        /// The action type.
        ty: u16,
        /// The raw payload.
        payload: Vec<u8>,
    },
}

/// The `USERSPACE` action.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Userspace {
    /// Netlink port id of the receiving socket.
    pub pid: u32,
    /// Opaque data passed to userspace, as on the wire. See [`Userspace::cookie`].
    pub userdata: Option<Vec<u8>>,
    /// `EGRESS_TUN_PORT`: the tunnel port the packet was about to leave by.
    pub egress_tun_port: Option<PortNo>,
    /// `ACTIONS`: include the flow's actions in the upcall.
    pub actions: bool,
}

impl Userspace {
    /// The userdata viewed as one of OVS's cookies, if it is one.
    pub fn cookie(&self) -> Option<UserCookie> {
        self.userdata.as_deref().and_then(UserCookie::parse)
    }
}

/// OVS's `struct user_action_cookie`: the userdata OVS puts in the
/// `userspace` actions it builds (48 bytes, host byte order except where
/// noted). OVS sets `ofp_in_port` to `OFPP_NONE` and the ofproto UUID to zero
/// in cookies it parses from text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserCookie {
    /// `USER_ACTION_COOKIE_SFLOW`.
    Sflow {
        /// The VLAN TCI (network order on the wire).
        vlan_tci: u16,
        /// The output port, or a port count.
        output: u32,
    },
    /// `USER_ACTION_COOKIE_SLOW_PATH`.
    SlowPath {
        /// `SLOW_*` reason bits.
        reason: u32,
    },
    /// `USER_ACTION_COOKIE_FLOW_SAMPLE`.
    FlowSample {
        /// Sampling probability, as a fraction of 65535.
        probability: u16,
        /// IPFIX collector set.
        collector_set_id: u32,
        /// IPFIX observation domain.
        obs_domain_id: u32,
        /// IPFIX observation point.
        obs_point_id: u32,
        /// Output datapath port.
        output_port: PortNo,
        /// 0 default, 1 ingress, 2 egress.
        direction: u32,
    },
    /// `USER_ACTION_COOKIE_IPFIX`.
    Ipfix {
        /// Output datapath port.
        output_port: PortNo,
    },
    /// `USER_ACTION_COOKIE_CONTROLLER`.
    Controller {
        /// Do not send the packet to the controller.
        dont_send: bool,
        /// Continuation follows.
        continuation: bool,
        /// OpenFlow packet-in reason.
        reason: u16,
        /// Recirculation id.
        recirc_id: u32,
        /// Rule cookie (network order on the wire).
        rule_cookie: u64,
        /// Controller id.
        controller_id: u16,
        /// Max bytes to send.
        max_len: u16,
    },
}

/// Size of OVS's `struct user_action_cookie`.
pub const USER_COOKIE_LEN: usize = 48;
/// OpenFlow `OFPP_NONE`, put in the cookie's `ofp_in_port`.
const OFPP_NONE: u16 = 0xffff;

mod cookie {
    pub const TYPE: usize = 0;
    pub const IN_PORT: usize = 4;
    pub const UNION: usize = 24;
}

fn rd_u16(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}
fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn wr_u16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_ne_bytes());
}
fn wr_u32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_ne_bytes());
}

impl UserCookie {
    /// Views `userdata` as a cookie: it must be exactly
    /// [`USER_COOKIE_LEN`] bytes with a known cookie type.
    pub fn parse(userdata: &[u8]) -> Option<UserCookie> {
        if userdata.len() != USER_COOKIE_LEN {
            return None;
        }
        let b = userdata;
        let u = cookie::UNION;
        match rd_u32(b, cookie::TYPE) {
            1 => Some(UserCookie::Sflow {
                vlan_tci: u16::from_be_bytes([b[u], b[u + 1]]),
                output: rd_u32(b, u + 4),
            }),
            2 => Some(UserCookie::SlowPath {
                reason: rd_u32(b, u + 4),
            }),
            3 => Some(UserCookie::FlowSample {
                probability: rd_u16(b, u),
                collector_set_id: rd_u32(b, u + 4),
                obs_domain_id: rd_u32(b, u + 8),
                obs_point_id: rd_u32(b, u + 12),
                output_port: PortNo(rd_u32(b, u + 16)),
                direction: rd_u32(b, u + 20),
            }),
            4 => Some(UserCookie::Ipfix {
                output_port: PortNo(rd_u32(b, u)),
            }),
            5 => {
                let mut c = [0u8; 8];
                c.copy_from_slice(&b[u + 8..u + 16]);
                Some(UserCookie::Controller {
                    dont_send: b[u] != 0,
                    continuation: b[u + 1] != 0,
                    reason: rd_u16(b, u + 2),
                    recirc_id: rd_u32(b, u + 4),
                    rule_cookie: u64::from_be_bytes(c),
                    controller_id: rd_u16(b, u + 16),
                    max_len: rd_u16(b, u + 18),
                })
            }
            _ => None,
        }
    }

    /// The cookie's bytes, as OVS builds them from text (`ofp_in_port` =
    /// `OFPP_NONE`, zero UUID).
    pub fn to_bytes(&self) -> [u8; USER_COOKIE_LEN] {
        let mut b = [0u8; USER_COOKIE_LEN];
        let u = cookie::UNION;
        wr_u16(&mut b, cookie::IN_PORT, OFPP_NONE);
        let ty = match *self {
            UserCookie::Sflow { vlan_tci, output } => {
                b[u..u + 2].copy_from_slice(&vlan_tci.to_be_bytes());
                wr_u32(&mut b, u + 4, output);
                1
            }
            UserCookie::SlowPath { reason } => {
                wr_u32(&mut b, u + 4, reason);
                2
            }
            UserCookie::FlowSample {
                probability,
                collector_set_id,
                obs_domain_id,
                obs_point_id,
                output_port,
                direction,
            } => {
                wr_u16(&mut b, u, probability);
                wr_u32(&mut b, u + 4, collector_set_id);
                wr_u32(&mut b, u + 8, obs_domain_id);
                wr_u32(&mut b, u + 12, obs_point_id);
                wr_u32(&mut b, u + 16, output_port.0);
                wr_u32(&mut b, u + 20, direction);
                3
            }
            UserCookie::Ipfix { output_port } => {
                wr_u32(&mut b, u, output_port.0);
                4
            }
            UserCookie::Controller {
                dont_send,
                continuation,
                reason,
                recirc_id,
                rule_cookie,
                controller_id,
                max_len,
            } => {
                b[u] = u8::from(dont_send);
                b[u + 1] = u8::from(continuation);
                wr_u16(&mut b, u + 2, reason);
                wr_u32(&mut b, u + 4, recirc_id);
                b[u + 8..u + 16].copy_from_slice(&rule_cookie.to_be_bytes());
                wr_u16(&mut b, u + 16, controller_id);
                wr_u16(&mut b, u + 18, max_len);
                5
            }
        };
        wr_u32(&mut b, cookie::TYPE, ty);
        b
    }
}

/// The `CT` action's arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Ct {
    /// `COMMIT`: commit the connection.
    pub commit: bool,
    /// `FORCE_COMMIT`: commit, replacing a connection of the other direction.
    pub force_commit: bool,
    /// `ZONE`.
    pub zone: Option<u16>,
    /// `MARK`: value and mask.
    pub mark: Option<(u32, u32)>,
    /// `LABELS`: value and mask, as 128-bit numbers (host order on the wire).
    pub labels: Option<(u128, u128)>,
    /// `HELPER`: an ALG helper name (at most 15 bytes).
    pub helper: Option<String>,
    /// `TIMEOUT`: a timeout policy name (at most 31 bytes).
    pub timeout: Option<String>,
    /// `EVENTMASK`: conntrack events to deliver.
    pub eventmask: Option<u32>,
    /// `NAT`.
    pub nat: Option<Nat>,
}

/// Direction of a NAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatKind {
    /// Source NAT.
    Src,
    /// Destination NAT.
    Dst,
}

/// The `CT` action's `NAT` attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Nat {
    /// `SRC` or `DST`; `None` means "apply the NAT of the connection".
    pub kind: Option<NatKind>,
    /// `IP_MIN`.
    pub ip_min: Option<IpAddr>,
    /// `IP_MAX`.
    pub ip_max: Option<IpAddr>,
    /// `PROTO_MIN` (host order on the wire).
    pub proto_min: Option<u16>,
    /// `PROTO_MAX` (host order on the wire).
    pub proto_max: Option<u16>,
    /// `PERSISTENT`.
    pub persistent: bool,
    /// `PROTO_HASH`.
    pub hash: bool,
    /// `PROTO_RANDOM`.
    pub random: bool,
}

/// The `TUNNEL_PUSH` action (OVS's `struct ovs_action_push_tnl`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TunnelPush {
    /// The tunnel port.
    pub tnl_port: PortNo,
    /// The port the encapsulated packet leaves by.
    pub out_port: PortNo,
    /// `OVS_VPORT_TYPE_*` of the tunnel.
    pub tnl_type: u32,
    /// The header bytes to push (Ethernet onwards).
    pub header: Vec<u8>,
}

/// Most header bytes a `TUNNEL_PUSH` can carry (OVS's `TNL_PUSH_HEADER_SIZE`).
pub const TNL_PUSH_HEADER_MAX: usize = 512;

/// `OVS_VPORT_TYPE_*` numbers of tunnel types.
pub mod vport_type {
    /// GRE over IPv4.
    pub const GRE: u32 = 3;
    /// VXLAN.
    pub const VXLAN: u32 = 4;
    /// Geneve.
    pub const GENEVE: u32 = 5;
    /// ERSPAN over IPv4.
    pub const ERSPAN: u32 = 107;
    /// ERSPAN over IPv6.
    pub const IP6ERSPAN: u32 = 108;
    /// GRE over IPv6.
    pub const IP6GRE: u32 = 109;
    /// GTP-U.
    pub const GTPU: u32 = 110;
    /// SRv6.
    pub const SRV6: u32 = 112;
}

/// The IP layer of a tunnel header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelIp {
    /// IPv4.
    V4 {
        /// Source.
        src: Ipv4Addr,
        /// Destination.
        dst: Ipv4Addr,
        /// Protocol.
        proto: u8,
        /// Type of service.
        tos: u8,
        /// Time to live.
        ttl: u8,
        /// Flags and fragment offset.
        frag_off: u16,
    },
    /// IPv6.
    V6 {
        /// Source.
        src: Ipv6Addr,
        /// Destination.
        dst: Ipv6Addr,
        /// Flow label.
        label: u32,
        /// Next header.
        proto: u8,
        /// Traffic class.
        tclass: u8,
        /// Hop limit.
        hlimit: u8,
    },
}

/// The layers of a `tnl_push` header, as a typed view over its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelHeader<'a> {
    /// Ethernet destination.
    pub eth_dst: [u8; 6],
    /// Ethernet source.
    pub eth_src: [u8; 6],
    /// EtherType.
    pub eth_type: u16,
    /// The IP layer, if the header is long enough for it.
    pub ip: Option<TunnelIp>,
    /// Bytes after the IP header.
    pub l4: &'a [u8],
}

impl TunnelPush {
    /// Views the header's Ethernet and IP layers. `None` if the header is
    /// shorter than an Ethernet header.
    pub fn layers(&self) -> Option<TunnelHeader<'_>> {
        let h = &self.header;
        if h.len() < 14 {
            return None;
        }
        let mut eth_dst = [0; 6];
        let mut eth_src = [0; 6];
        eth_dst.copy_from_slice(&h[0..6]);
        eth_src.copy_from_slice(&h[6..12]);
        let eth_type = u16::from_be_bytes([h[12], h[13]]);
        let l3 = &h[14..];
        let (ip, l4): (Option<TunnelIp>, &[u8]) = if eth_type == crate::abi::ETH_TYPE_IP {
            if l3.len() < 20 {
                (None, &[])
            } else {
                (
                    Some(TunnelIp::V4 {
                        src: Ipv4Addr::new(l3[12], l3[13], l3[14], l3[15]),
                        dst: Ipv4Addr::new(l3[16], l3[17], l3[18], l3[19]),
                        proto: l3[9],
                        tos: l3[1],
                        ttl: l3[8],
                        frag_off: u16::from_be_bytes([l3[6], l3[7]]),
                    }),
                    &l3[20..],
                )
            }
        } else if l3.len() < 40 {
            (None, &[])
        } else {
            let flow = u32::from_be_bytes([l3[0], l3[1], l3[2], l3[3]]);
            let mut s = [0u8; 16];
            let mut d = [0u8; 16];
            s.copy_from_slice(&l3[8..24]);
            d.copy_from_slice(&l3[24..40]);
            (
                Some(TunnelIp::V6 {
                    src: Ipv6Addr::from(s),
                    dst: Ipv6Addr::from(d),
                    label: flow & 0xfffff,
                    proto: l3[6],
                    tclass: ((flow >> 20) & 0xff) as u8,
                    hlimit: l3[7],
                }),
                &l3[40..],
            )
        };
        Some(TunnelHeader {
            eth_dst,
            eth_src,
            eth_type,
            ip,
            l4,
        })
    }
}

impl Action {
    /// The `OVS_ACTION_ATTR_*` number of this action.
    pub fn ty(&self) -> u16 {
        use crate::abi::*;
        match self {
            Action::Output(_) => OVS_ACTION_ATTR_OUTPUT,
            Action::Userspace(_) => OVS_ACTION_ATTR_USERSPACE,
            Action::Set(_) => OVS_ACTION_ATTR_SET,
            Action::SetMasked { .. } => OVS_ACTION_ATTR_SET_MASKED,
            Action::PushVlan { .. } => OVS_ACTION_ATTR_PUSH_VLAN,
            Action::PopVlan => OVS_ACTION_ATTR_POP_VLAN,
            Action::Sample { .. } => OVS_ACTION_ATTR_SAMPLE,
            Action::Recirc(_) => OVS_ACTION_ATTR_RECIRC,
            Action::Hash { .. } => OVS_ACTION_ATTR_HASH,
            Action::PushMpls { .. } => OVS_ACTION_ATTR_PUSH_MPLS,
            Action::PopMpls { .. } => OVS_ACTION_ATTR_POP_MPLS,
            Action::Ct(_) => OVS_ACTION_ATTR_CT,
            Action::Trunc { .. } => OVS_ACTION_ATTR_TRUNC,
            Action::PushEth { .. } => OVS_ACTION_ATTR_PUSH_ETH,
            Action::PopEth => OVS_ACTION_ATTR_POP_ETH,
            Action::CtClear => OVS_ACTION_ATTR_CT_CLEAR,
            Action::PushNsh(_) => OVS_ACTION_ATTR_PUSH_NSH,
            Action::PopNsh => OVS_ACTION_ATTR_POP_NSH,
            Action::Meter(_) => OVS_ACTION_ATTR_METER,
            Action::Clone(_) => OVS_ACTION_ATTR_CLONE,
            Action::CheckPktLen { .. } => OVS_ACTION_ATTR_CHECK_PKT_LEN,
            Action::AddMpls { .. } => OVS_ACTION_ATTR_ADD_MPLS,
            Action::DecTtl(_) => OVS_ACTION_ATTR_DEC_TTL,
            Action::Drop(_) => OVS_ACTION_ATTR_DROP,
            Action::Psample { .. } => OVS_ACTION_ATTR_PSAMPLE,
            Action::TunnelPush(_) => OVS_ACTION_ATTR_TUNNEL_PUSH,
            Action::TunnelPop(_) => OVS_ACTION_ATTR_TUNNEL_POP,
            Action::LbOutput(_) => OVS_ACTION_ATTR_LB_OUTPUT,
            Action::Unknown { ty, .. } => *ty,
        }
    }
}

/// The fixed payload length of action type `ty`, or `None` if its length
/// varies (or the type is unknown). The kernel's and OVS's length table.
pub fn fixed_len(ty: u16) -> Option<usize> {
    use crate::abi::*;
    Some(match ty {
        OVS_ACTION_ATTR_OUTPUT
        | OVS_ACTION_ATTR_RECIRC
        | OVS_ACTION_ATTR_TRUNC
        | OVS_ACTION_ATTR_METER
        | OVS_ACTION_ATTR_DROP
        | OVS_ACTION_ATTR_TUNNEL_POP
        | OVS_ACTION_ATTR_LB_OUTPUT
        | OVS_ACTION_ATTR_PUSH_VLAN => 4,
        OVS_ACTION_ATTR_POP_VLAN
        | OVS_ACTION_ATTR_CT_CLEAR
        | OVS_ACTION_ATTR_POP_ETH
        | OVS_ACTION_ATTR_POP_NSH => 0,
        OVS_ACTION_ATTR_PUSH_MPLS | OVS_ACTION_ATTR_HASH | OVS_ACTION_ATTR_ADD_MPLS => 8,
        OVS_ACTION_ATTR_POP_MPLS => 2,
        OVS_ACTION_ATTR_PUSH_ETH => 12,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_round_trips_through_bytes() {
        let c = UserCookie::Controller {
            dont_send: true,
            continuation: false,
            reason: 1,
            recirc_id: 4444,
            rule_cookie: 0x5555,
            controller_id: 0,
            max_len: 65535,
        };
        assert_eq!(UserCookie::parse(&c.to_bytes()), Some(c));
        assert_eq!(UserCookie::parse(&[0u8; 48]), None);
        assert_eq!(UserCookie::parse(&c.to_bytes()[..47]), None);
    }

    #[test]
    fn tunnel_header_too_short_has_no_layers() {
        let t = TunnelPush {
            header: vec![0; 13],
            ..TunnelPush::default()
        };
        assert!(t.layers().is_none());
    }
}
