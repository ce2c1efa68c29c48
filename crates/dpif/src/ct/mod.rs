//! Connection tracking as the datapath interface sees it: Open vSwitch's
//! `ct-dpif` model (`struct ct_dpif_entry` and friends), what providers
//! return from the conntrack methods of [`crate::Provider`], and the one
//! place where that model becomes `ovs-dpctl`'s text ([`mod@format`]) and
//! `ovs-dpctl`'s arguments become the model ([`parse`]).
//!
//! # Vocabulary
//!
//! - **tuple** ([`CtTuple`]): one direction of a connection: addresses,
//!   IP protocol, ports (or the ICMP id, type and code).
//! - **entry** ([`CtEntry`]): a connection: its original and reply tuples,
//!   the tuple of the connection that expected it (its *parent*), zone,
//!   mark, labels, status bits, seconds to live, counters, timestamps, TCP
//!   or SCTP state, helper, and, for trackers with fixed buckets, its
//!   bucket.
//! - **zone**: a 16-bit number that separates otherwise equal tuples.
//! - **zone limit** ([`CtZoneLimit`]): most connections a zone may hold
//!   (0: no limit); a *default* limit applies to zones without one.
//! - **ipf**: fragment reassembly before tracking ([`IpfStatus`]).
//! - **timeout policy** ([`CtTimeoutPolicy`]): seconds for some protocol
//!   states ([`tp_attr`]), used by `ct` actions that name it.
//!
//! Numbers are OVS's `CT_DPIF_*` values: TCP states ([`tcp_state`]), TCP
//! flags ([`tcp_flags`]), status bits ([`status`]). Kernel numbers are
//! converted where they enter ([`tcp_state::from_kernel`]).

pub mod format;
pub mod parse;

use std::net::{IpAddr, Ipv4Addr};

/// `AF_INET`.
pub const AF_INET: u16 = 2;
/// `AF_INET6`.
pub const AF_INET6: u16 = 10;

/// `IPPROTO_ICMP`.
pub const IPPROTO_ICMP: u8 = 1;
/// `IPPROTO_IGMP`.
pub const IPPROTO_IGMP: u8 = 2;
/// `IPPROTO_TCP`.
pub const IPPROTO_TCP: u8 = 6;
/// `IPPROTO_UDP`.
pub const IPPROTO_UDP: u8 = 17;
/// `IPPROTO_DCCP`.
pub const IPPROTO_DCCP: u8 = 33;
/// `IPPROTO_ICMPV6`.
pub const IPPROTO_ICMPV6: u8 = 58;
/// `IPPROTO_SCTP`.
pub const IPPROTO_SCTP: u8 = 132;
/// `IPPROTO_UDPLITE`.
pub const IPPROTO_UDPLITE: u8 = 136;

/// One direction of a connection (`struct ct_dpif_tuple`).
///
/// Both addresses are of one family (that of `src`). For ICMP and ICMPv6
/// the ports are unused and `icmp_*` say the echo id, type and code; for
/// other protocols the reverse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CtTuple {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IP protocol.
    pub proto: u8,
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// ICMP echo identifier.
    pub icmp_id: u16,
    /// ICMP type.
    pub icmp_type: u8,
    /// ICMP code.
    pub icmp_code: u8,
}

impl Default for CtTuple {
    fn default() -> Self {
        CtTuple {
            src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            proto: 0,
            src_port: 0,
            dst_port: 0,
            icmp_id: 0,
            icmp_type: 0,
            icmp_code: 0,
        }
    }
}

impl CtTuple {
    /// Whether the addresses are IPv6.
    pub fn is_ipv6(&self) -> bool {
        self.src.is_ipv6()
    }

    /// The address family: [`AF_INET`] or [`AF_INET6`].
    pub fn l3_type(&self) -> u16 {
        if self.is_ipv6() {
            AF_INET6
        } else {
            AF_INET
        }
    }

    /// Whether the protocol is ICMP or ICMPv6 (ids, types and codes rather
    /// than ports).
    pub fn is_icmp(&self) -> bool {
        self.proto == IPPROTO_ICMP || self.proto == IPPROTO_ICMPV6
    }
}

/// Packets and bytes of one direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CtCounters {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

/// When a connection started and stopped, in nanoseconds since the epoch
/// (0: unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CtTimestamp {
    /// Creation.
    pub start: u64,
    /// Deletion.
    pub stop: u64,
}

/// TCP states (`CT_DPIF_TCPS_*`).
pub mod tcp_state {
    /// `CLOSED`.
    pub const CLOSED: u8 = 0;
    /// `LISTEN`.
    pub const LISTEN: u8 = 1;
    /// `SYN_SENT`.
    pub const SYN_SENT: u8 = 2;
    /// `SYN_RECV`.
    pub const SYN_RECV: u8 = 3;
    /// `ESTABLISHED`.
    pub const ESTABLISHED: u8 = 4;
    /// `CLOSE_WAIT`.
    pub const CLOSE_WAIT: u8 = 5;
    /// `FIN_WAIT_1`.
    pub const FIN_WAIT_1: u8 = 6;
    /// `CLOSING`.
    pub const CLOSING: u8 = 7;
    /// `LAST_ACK`.
    pub const LAST_ACK: u8 = 8;
    /// `FIN_WAIT_2`.
    pub const FIN_WAIT_2: u8 = 9;
    /// `TIME_WAIT`.
    pub const TIME_WAIT: u8 = 10;
    /// The number of states (`CT_DPIF_TCPS_MAX_NUM`).
    pub const MAX_NUM: u8 = 11;

    /// Names by number, `MAX_NUM` included (as OVS's table has it).
    pub const NAMES: [&str; 12] = [
        "CLOSED",
        "LISTEN",
        "SYN_SENT",
        "SYN_RECV",
        "ESTABLISHED",
        "CLOSE_WAIT",
        "FIN_WAIT_1",
        "CLOSING",
        "LAST_ACK",
        "FIN_WAIT_2",
        "TIME_WAIT",
        "MAX_NUM",
    ];

    /// The state of a kernel `TCP_CONNTRACK_*` number, as OVS maps it
    /// (`SYN_SENT2` is `SYN_SENT`, `CLOSE` is `CLOSING`, unknown ones are
    /// `CLOSED`).
    pub fn from_kernel(s: u8) -> u8 {
        match s {
            1 | 9 => SYN_SENT,
            2 => SYN_RECV,
            3 => ESTABLISHED,
            4 => FIN_WAIT_1,
            5 => CLOSE_WAIT,
            6 => LAST_ACK,
            7 => TIME_WAIT,
            8 => CLOSING,
            _ => CLOSED,
        }
    }

    /// The kernel `TCP_CONNTRACK_*` number that reads back as `s` through
    /// [`from_kernel`] (for a tracker that reports OVS states over
    /// ctnetlink).
    pub fn to_kernel(s: u8) -> u8 {
        match s {
            SYN_SENT => 1,
            SYN_RECV => 2,
            ESTABLISHED => 3,
            FIN_WAIT_1 | FIN_WAIT_2 => 4,
            CLOSE_WAIT => 5,
            LAST_ACK => 6,
            TIME_WAIT => 7,
            CLOSING => 8,
            _ => 0,
        }
    }

    /// How the non-verbose dump and `ct-stats-show` merge states
    /// (`ct_dpif_coalesce_tcp_state`): `FIN_WAIT_2` as `TIME_WAIT`,
    /// `SYN_RECV` as `ESTABLISHED`.
    pub fn coalesce(s: u8) -> u8 {
        match s {
            FIN_WAIT_2 => TIME_WAIT,
            SYN_RECV => ESTABLISHED,
            x => x,
        }
    }
}

/// TCP flags of one direction (`CT_DPIF_TCPF_*`, the same bits as the
/// kernel's `IP_CT_TCP_FLAG_*`).
pub mod tcp_flags {
    /// Names by bit.
    pub const NAMES: [&str; 6] = [
        "WINDOW_SCALE",
        "SACK_PERM",
        "CLOSE_INIT",
        "BE_LIBERAL",
        "DATA_UNACKNOWLEDGED",
        "MAXACK_SET",
    ];
    /// Every defined bit.
    pub const MASK: u8 = 0x3f;
}

/// Connection status bits (`CT_DPIF_STATUS_*`, the kernel's `IPS_*` bits
/// 0 to 12).
pub mod status {
    /// Names by bit.
    pub const NAMES: [&str; 13] = [
        "EXPECTED",
        "SEEN_REPLY",
        "ASSURED",
        "CONFIRMED",
        "SRC_NAT",
        "DST_NAT",
        "SEQ_ADJUST",
        "SRC_NAT_DONE",
        "DST_NAT_DONE",
        "DYING",
        "FIXED_TIMEOUT",
        "TEMPLATE",
        "UNTRACKED",
    ];
    /// Every defined bit: what OVS keeps of a kernel's status.
    pub const MASK: u32 = 0x1fff;
}

/// SCTP states (`CT_DPIF_SCTP_STATE_*`), by number, `MAX_NUM` included.
pub const SCTP_STATE_NAMES: [&str; 10] = [
    "CLOSED",
    "COOKIE_WAIT",
    "COOKIE_ECHOED",
    "ESTABLISHED",
    "SHUTDOWN_SENT",
    "SHUTDOWN_RECD",
    "SHUTDOWN_ACK_SENT",
    "HEARTBEAT_SENT",
    "HEARTBEAT_ACKED",
    "MAX_NUM",
];

/// TCP protocol information.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CtTcpInfo {
    /// State seen from the original direction ([`tcp_state`]).
    pub state_orig: u8,
    /// State seen from the reply direction (the kernel keeps one state:
    /// both are the same there).
    pub state_reply: u8,
    /// Window scale, original direction.
    pub wscale_orig: u8,
    /// Window scale, reply direction.
    pub wscale_reply: u8,
    /// Flags, original direction ([`tcp_flags`]).
    pub flags_orig: u8,
    /// Flags, reply direction.
    pub flags_reply: u8,
}

/// Protocol information of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtProtoinfo {
    /// TCP.
    Tcp(CtTcpInfo),
    /// SCTP: state ([`SCTP_STATE_NAMES`]) and verification tags.
    Sctp {
        /// State.
        state: u8,
        /// Tag, original direction.
        vtag_orig: u32,
        /// Tag, reply direction.
        vtag_reply: u32,
    },
}

/// A connection (`struct ct_dpif_entry`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CtEntry {
    /// Original tuple.
    pub orig: CtTuple,
    /// Reply tuple.
    pub reply: CtTuple,
    /// Original tuple of the connection that expected this one.
    pub parent: Option<CtTuple>,
    /// Counters, original direction (zero unless accounting is on).
    pub counters_orig: CtCounters,
    /// Counters, reply direction.
    pub counters_reply: CtCounters,
    /// Timestamps (zero unless the tracker keeps them).
    pub timestamp: CtTimestamp,
    /// Id.
    pub id: u32,
    /// Zone.
    pub zone: u16,
    /// Status bits ([`status`]).
    pub status: u32,
    /// Seconds left to live.
    pub timeout: u32,
    /// Mark.
    pub mark: u32,
    /// Labels: the 128-bit label bitmap as a number (bit `i` is label `i`).
    pub labels: u128,
    /// TCP or SCTP information.
    pub protoinfo: Option<CtProtoinfo>,
    /// Helper name (`ftp`, `tftp`...).
    pub helper: Option<String>,
    /// Bucket, for trackers with fixed buckets (`ct-bkts`); else 0.
    pub bucket: u32,
}

/// The result of a dump: the entries and, for a tracker with fixed
/// buckets, how many buckets it has (`None` for the kernel's, where
/// `ct-bkts` says it is for the userspace tracker only).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CtDump {
    /// The entries.
    pub entries: Vec<CtEntry>,
    /// Buckets, if the tracker has them.
    pub n_buckets: Option<u32>,
}

/// Which connections [`crate::Provider::ct_flush`] removes. Every field
/// that is set must match; all unset removes every connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CtFlush {
    /// Only connections of this zone. With `orig`, unset means zone 0 (as
    /// OVS's `ct_dpif_flush`).
    pub zone: Option<u16>,
    /// Only the connection whose original tuple this is (every field of
    /// the tuple given).
    pub orig: Option<CtTuple>,
    /// Only connections whose mark matches: `(value, mask)`.
    pub mark: Option<(u32, u32)>,
    /// Only connections whose labels match: `(value, mask)`.
    pub labels: Option<(u128, u128)>,
}

impl CtFlush {
    /// Whether `e` is selected.
    pub fn matches(&self, e: &CtEntry) -> bool {
        let zone = match (self.zone, self.orig) {
            (Some(z), _) => Some(z),
            (None, Some(_)) => Some(0),
            (None, None) => None,
        };
        zone.is_none_or(|z| z == e.zone)
            && self.orig.is_none_or(|t| t == e.orig)
            && self.mark.is_none_or(|(v, m)| e.mark & m == v & m)
            && self.labels.is_none_or(|(v, m)| e.labels & m == v & m)
    }
}

/// A zone's limit and how many connections it holds
/// (`struct ct_dpif_zone_limit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CtZoneLimit {
    /// Zone.
    pub zone: u16,
    /// Limit (0: unlimited).
    pub limit: u32,
    /// Connections counted in the zone.
    pub count: u32,
}

/// Zone limits as [`crate::Provider::ct_get_limits`] reports them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CtLimits {
    /// The default limit (0: unlimited).
    pub default_limit: u32,
    /// Zones, in the provider's order.
    pub zones: Vec<CtZoneLimit>,
}

/// Fragment reassembly status of one address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpfFamilyStatus {
    /// Reassembly on.
    pub enabled: bool,
    /// Smallest fragment accepted (other than a last one).
    pub min_frag_size: u32,
    /// Fragments accepted.
    pub nfrag_accepted: u64,
    /// Fragments sent on in completed datagrams.
    pub nfrag_completed_sent: u64,
    /// Fragments sent on (or dropped) when their datagram expired.
    pub nfrag_expired_sent: u64,
    /// Fragments dropped as too small.
    pub nfrag_too_small: u64,
    /// Fragments dropped for overlapping.
    pub nfrag_overlap: u64,
    /// Fragments purged.
    pub nfrag_purged: u64,
}

/// Fragment reassembly status (`struct dpif_ipf_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpfStatus {
    /// IPv4.
    pub v4: IpfFamilyStatus,
    /// IPv6.
    pub v6: IpfFamilyStatus,
    /// Most fragments held.
    pub nfrag_max: u32,
    /// Fragments held now.
    pub nfrag: u32,
}

/// Timeout policy attributes (`CT_DPIF_TP_ATTR_*`): indexes into
/// [`CtTimeoutPolicy::attrs`], in OVS's order.
pub mod tp_attr {
    /// TCP `SYN_SENT`.
    pub const TCP_SYN_SENT: usize = 0;
    /// TCP `SYN_RECV`.
    pub const TCP_SYN_RECV: usize = 1;
    /// TCP `ESTABLISHED`.
    pub const TCP_ESTABLISHED: usize = 2;
    /// TCP `FIN_WAIT`.
    pub const TCP_FIN_WAIT: usize = 3;
    /// TCP `CLOSE_WAIT`.
    pub const TCP_CLOSE_WAIT: usize = 4;
    /// TCP `LAST_ACK`.
    pub const TCP_LAST_ACK: usize = 5;
    /// TCP `TIME_WAIT`.
    pub const TCP_TIME_WAIT: usize = 6;
    /// TCP `CLOSE`.
    pub const TCP_CLOSE: usize = 7;
    /// TCP `SYN_SENT2`.
    pub const TCP_SYN_SENT2: usize = 8;
    /// TCP retransmissions.
    pub const TCP_RETRANSMIT: usize = 9;
    /// TCP unacknowledged data.
    pub const TCP_UNACK: usize = 10;
    /// UDP first packet.
    pub const UDP_FIRST: usize = 11;
    /// UDP one direction seen (the kernel's `UNREPLIED`).
    pub const UDP_SINGLE: usize = 12;
    /// UDP both directions seen (the kernel's `REPLIED`).
    pub const UDP_MULTIPLE: usize = 13;
    /// ICMP first packet (the kernel's one ICMP timeout).
    pub const ICMP_FIRST: usize = 14;
    /// ICMP reply.
    pub const ICMP_REPLY: usize = 15;
    /// How many there are.
    pub const MAX: usize = 16;
    /// Names by index (`TCP_SYN_SENT`...).
    pub const NAMES: [&str; MAX] = [
        "TCP_SYN_SENT",
        "TCP_SYN_RECV",
        "TCP_ESTABLISHED",
        "TCP_FIN_WAIT",
        "TCP_CLOSE_WAIT",
        "TCP_LAST_ACK",
        "TCP_TIME_WAIT",
        "TCP_CLOSE",
        "TCP_SYN_SENT2",
        "TCP_RETRANSMIT",
        "TCP_UNACK",
        "UDP_FIRST",
        "UDP_SINGLE",
        "UDP_MULTIPLE",
        "ICMP_FIRST",
        "ICMP_REPLY",
    ];
}

/// A timeout policy (`struct ct_dpif_timeout_policy`): seconds for some
/// protocol states; the others keep the tracker's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CtTimeoutPolicy {
    /// The policy's id.
    pub id: u32,
    /// Seconds by [`tp_attr`] index; `None` when not set.
    pub attrs: [Option<u32>; tp_attr::MAX],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_tcp_states_round_trip() {
        for s in 0..=tcp_state::TIME_WAIT {
            let k = tcp_state::to_kernel(s);
            let back = tcp_state::from_kernel(k);
            // LISTEN and FIN_WAIT_2 have no kernel state of their own.
            match s {
                tcp_state::LISTEN => assert_eq!(back, tcp_state::CLOSED),
                tcp_state::FIN_WAIT_2 => assert_eq!(back, tcp_state::FIN_WAIT_1),
                _ => assert_eq!(back, s, "{s}"),
            }
        }
        // TCP_CONNTRACK_SYN_SENT2 reads as SYN_SENT.
        assert_eq!(tcp_state::from_kernel(9), tcp_state::SYN_SENT);
    }

    #[test]
    fn flush_selectors() {
        let e = CtEntry {
            zone: 3,
            mark: 0x15,
            labels: 0xf0,
            ..CtEntry::default()
        };
        assert!(CtFlush::default().matches(&e));
        assert!(CtFlush {
            zone: Some(3),
            mark: Some((0x5, 0xf)),
            ..CtFlush::default()
        }
        .matches(&e));
        assert!(!CtFlush {
            mark: Some((0x6, 0xf)),
            ..CtFlush::default()
        }
        .matches(&e));
        assert!(CtFlush {
            labels: Some((0x10, 0x10)),
            ..CtFlush::default()
        }
        .matches(&e));
        // A tuple without a zone means zone 0.
        assert!(!CtFlush {
            orig: Some(e.orig),
            ..CtFlush::default()
        }
        .matches(&e));
        assert!(CtFlush {
            orig: Some(e.orig),
            zone: Some(3),
            ..CtFlush::default()
        }
        .matches(&e));
    }
}
