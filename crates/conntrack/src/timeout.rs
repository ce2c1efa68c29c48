//! Timeouts: the kernel's defaults per protocol and state, and named
//! timeout policies (`ct(timeout=NAME)`, the kernel's `nf_conntrack_timeout`
//! objects) that override some of them.
//!
//! All values are in seconds.

use crate::tcp::TcpState;

/// TCP timeouts per state (`tcp_timeouts[]` of nf_conntrack_proto_tcp.c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpTimeouts {
    /// `SYN_SENT` (2 min).
    pub syn_sent: u32,
    /// `SYN_RECV` (60 s).
    pub syn_recv: u32,
    /// `ESTABLISHED` (5 days).
    pub established: u32,
    /// `FIN_WAIT` (2 min).
    pub fin_wait: u32,
    /// `CLOSE_WAIT` (60 s).
    pub close_wait: u32,
    /// `LAST_ACK` (30 s).
    pub last_ack: u32,
    /// `TIME_WAIT` (2 min).
    pub time_wait: u32,
    /// `CLOSE` (10 s).
    pub close: u32,
    /// `SYN_SENT2` (2 min).
    pub syn_sent2: u32,
    /// After too many retransmissions (5 min).
    pub retrans: u32,
    /// With unacknowledged data (5 min).
    pub unack: u32,
}

impl Default for TcpTimeouts {
    fn default() -> Self {
        TcpTimeouts {
            syn_sent: 120,
            syn_recv: 60,
            established: 5 * 24 * 3600,
            fin_wait: 120,
            close_wait: 60,
            last_ack: 30,
            time_wait: 120,
            close: 10,
            syn_sent2: 120,
            retrans: 300,
            unack: 300,
        }
    }
}

impl TcpTimeouts {
    /// The timeout of state number `s` ([`TcpState`] as `u8`).
    pub fn state(&self, s: u8) -> u32 {
        match s {
            x if x == TcpState::SynSent as u8 => self.syn_sent,
            x if x == TcpState::SynRecv as u8 => self.syn_recv,
            x if x == TcpState::Established as u8 => self.established,
            x if x == TcpState::FinWait as u8 => self.fin_wait,
            x if x == TcpState::CloseWait as u8 => self.close_wait,
            x if x == TcpState::LastAck as u8 => self.last_ack,
            x if x == TcpState::TimeWait as u8 => self.time_wait,
            x if x == TcpState::Close as u8 => self.close,
            x if x == TcpState::SynSent2 as u8 => self.syn_sent2,
            _ => self.syn_sent,
        }
    }
}

/// Every protocol's timeouts: a timeout policy, or the defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP.
    pub tcp: TcpTimeouts,
    /// UDP before a reply is seen (`UDP_UNREPLIED`, 30 s).
    pub udp_unreplied: u32,
    /// UDP once assured (`UDP_REPLIED`/stream, 120 s).
    pub udp_replied: u32,
    /// ICMP (30 s).
    pub icmp: u32,
    /// ICMPv6 (30 s).
    pub icmpv6: u32,
    /// Any other protocol (`nf_conntrack_generic_timeout`, 600 s).
    pub generic: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp: TcpTimeouts::default(),
            udp_unreplied: 30,
            udp_replied: 120,
            icmp: 30,
            icmpv6: 30,
            generic: 600,
        }
    }
}

/// One attribute of a timeout policy, as OVS's `ct_dpif_tp_attr` names
/// them (`TCP_SYN_SENT`, `UDP_FIRST`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TpAttr {
    /// TCP SYN_SENT.
    TcpSynSent,
    /// TCP SYN_RECV.
    TcpSynRecv,
    /// TCP ESTABLISHED.
    TcpEstablished,
    /// TCP FIN_WAIT.
    TcpFinWait,
    /// TCP CLOSE_WAIT.
    TcpCloseWait,
    /// TCP LAST_ACK.
    TcpLastAck,
    /// TCP TIME_WAIT.
    TcpTimeWait,
    /// TCP CLOSE.
    TcpClose,
    /// TCP SYN_SENT2.
    TcpSynSent2,
    /// TCP RETRANSMIT.
    TcpRetransmit,
    /// TCP UNACK.
    TcpUnack,
    /// UDP unreplied ("first").
    UdpFirst,
    /// UDP single (treated as unreplied, as the kernel has one value).
    UdpSingle,
    /// UDP replied ("multiple").
    UdpMultiple,
    /// ICMP first.
    IcmpFirst,
    /// ICMP reply.
    IcmpReply,
}

impl Timeouts {
    /// Sets one attribute.
    pub fn set(&mut self, attr: TpAttr, secs: u32) {
        let t = &mut self.tcp;
        match attr {
            TpAttr::TcpSynSent => t.syn_sent = secs,
            TpAttr::TcpSynRecv => t.syn_recv = secs,
            TpAttr::TcpEstablished => t.established = secs,
            TpAttr::TcpFinWait => t.fin_wait = secs,
            TpAttr::TcpCloseWait => t.close_wait = secs,
            TpAttr::TcpLastAck => t.last_ack = secs,
            TpAttr::TcpTimeWait => t.time_wait = secs,
            TpAttr::TcpClose => t.close = secs,
            TpAttr::TcpSynSent2 => t.syn_sent2 = secs,
            TpAttr::TcpRetransmit => t.retrans = secs,
            TpAttr::TcpUnack => t.unack = secs,
            TpAttr::UdpFirst | TpAttr::UdpSingle => self.udp_unreplied = secs,
            TpAttr::UdpMultiple => self.udp_replied = secs,
            TpAttr::IcmpFirst | TpAttr::IcmpReply => {
                self.icmp = secs;
                self.icmpv6 = secs;
            }
        }
    }
}

/// A named timeout policy: the defaults with some attributes replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutPolicy {
    /// The name `ct(timeout=NAME)` refers to (at most 31 bytes, as the
    /// kernel's `CTNL_TIMEOUT_NAME_MAX`).
    pub name: String,
    /// The timeouts.
    pub timeouts: Timeouts,
}
