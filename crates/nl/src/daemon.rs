//! The oxvsd transport: what a connection to the `oxvsd` daemon adds to a
//! netlink socket.
//!
//! `oxvsd` serves the kernel's netlink protocols for Open vSwitch (the
//! openvswitch generic netlink families, `nlctrl` family lookups, and the
//! conntrack subsystems of netfilter netlink) on a Unix socket of type
//! `SOCK_SEQPACKET`. One connection plays one netlink socket: the daemon's
//! own client (`dpif-netlink`) and programs run under `oxvs-run` (whose
//! netlink sockets become such connections) use it the same way.
//!
//! # Datagrams
//!
//! Each datagram, either way, holds one or more whole netlink messages laid
//! out as in a netlink datagram (`nlmsghdr`, payload, padding to 4 bytes),
//! so poll readiness, `MSG_TRUNC` and `MSG_PEEK` behave as on a netlink
//! socket. A client datagram holds at most [`MAX_REQUEST`] bytes. Requests
//! are handled in order, each answered as the kernel answers it: data
//! replies, then `NLMSG_ERROR` (0 for an ack) when `NLM_F_ACK` is set or
//! the request failed; dumps as `NLM_F_MULTI` datagrams ended by
//! `NLMSG_DONE`, sent as the client reads (a dump never overruns).
//!
//! # Greeting
//!
//! Right after accepting, the daemon sends one datagram: an `NLMSG_NOOP`
//! message whose `nlmsg_pid` is the connection's netlink port id (what
//! `getsockname` reports on a netlink socket and what upcall PIDs name),
//! followed by [`GREETING_LEN`]` - 16` bytes: the connection's cookie, a
//! native-order `u64` secret that names the connection in socket options
//! sent on another connection. A refused connection gets `NLMSG_ERROR`
//! with the reason (`EPERM`: peer credentials; `EMFILE`: connection limits)
//! and is closed.
//!
//! # Socket options
//!
//! Options that the daemon must know are set with the `nlctrl` request
//! [`OXVS_CTRL_CMD_SOCKOPT`]. Its attributes:
//!
//! - [`SOCKOPT_ATTR_PORT`] (`u32`) and [`SOCKOPT_ATTR_COOKIE`] (`u64`): the
//!   connection to act on, by port id and cookie; both absent: the
//!   connection the request came on. A wrong cookie is `ENOENT`.
//! - [`SOCKOPT_ATTR_LEVEL`], [`SOCKOPT_ATTR_NAME`], [`SOCKOPT_ATTR_VALUE`]
//!   (each `u32`): the option, as `setsockopt` names it:
//!   - `SOL_NETLINK`: `NETLINK_ADD_MEMBERSHIP` / `NETLINK_DROP_MEMBERSHIP`
//!     (value: a group id from a family lookup), `NETLINK_NO_ENOBUFS`,
//!     `NETLINK_EXT_ACK`, `NETLINK_CAP_ACK` (value 0 or 1);
//!   - `SOL_SOCKET`: `SO_RCVBUF`: the receive buffer in the kernel's terms
//!     (the `sk_rcvbuf` that `getsockopt(SO_RCVBUF)` reports, i.e. twice
//!     what was asked). The daemon holds at most that many bytes queued
//!     towards the connection (default [`DEFAULT_RCVBUF`], netlink's);
//!   - [`SOL_OXVS`]: [`OXVS_SO_BIND`] (value: a port id): renames the
//!     connection's port id, as `bind()` with a non-zero `nl_pid` does;
//!     `EADDRINUSE` if another connection has it, `EINVAL` if 0.
//!
//! The daemon acks when the option is in force (with `NLM_F_ACK`): once a
//! group join is acked, every later notification of that group reaches the
//! connection. A program's `setsockopt` is synchronous, so `oxvs-run` sends
//! these on a separate connection of its own and waits for the ack, while
//! the socket's own queue may hold notifications and upcalls.
//!
//! # Overruns
//!
//! Upcalls and multicast notifications that find the connection's receive
//! buffer full are dropped and counted, as netlink drops them. The daemon
//! then sends an [`OVERRUN`] message (a bare `NLMSG_OVERRUN` header, 16
//! bytes, alone in its datagram) as soon as there is room, unless the
//! connection set `NETLINK_NO_ENOBUFS`. A reader reports it as a receive
//! failing with `ENOBUFS`, as netlink reports an overrun.
//!
//! # Barriers
//!
//! The kernel handles a netlink request inside `sendmsg`: when `sendmsg`
//! returns, the answers are queued, and a program may read them with
//! `MSG_DONTWAIT` and take `EAGAIN` to mean "no answer" (Open vSwitch's
//! transactions and dumps do). A daemon answers later, so a client that
//! must look like the kernel ends what it sends with a *barrier*: an
//! `NLMSG_NOOP` request with `NLM_F_ACK` ([`barrier`]). The daemon answers
//! it as the kernel answers such a request, with an `NLMSG_ERROR` message
//! echoing its header (error 0), and it sends that answer
//!
//! - after every answer to the messages sent before it on the connection,
//!   the last part of a dump (`NLMSG_DONE`) included, and
//! - alone in its datagram,
//!
//! so the client can tell "everything I sent is answered" from "the answers
//! are on their way" ([`is_barrier_answer`]). `oxvs-run` appends a barrier
//! to every datagram a program sends and never shows its answer.
//!
//! # Message types on a connection
//!
//! `NLMSG_NOOP` (1) is a barrier (above). `GENL_ID_CTRL` (0x10) is
//! `nlctrl`: `CTRL_CMD_GETFAMILY` answers the openvswitch families with ids
//! in [`FAMILY_IDS`] and `ENOENT` for any other family. Types `0x100..=0x2ff` and `0x800..=0x8ff` are the
//! netfilter netlink subsystems ctnetlink, ctnetlink-exp and cttimeout
//! (subsystem in the high byte). Any other type is `ENOENT`, as generic
//! netlink answers a family id it does not know.
//!
//! # Connection tracking
//!
//! The daemon hosts one tracker per datapath. ctnetlink, cttimeout and the
//! `ovs_ct_limit` family are answered in the kernel's formats, and a
//! request that names no datapath (as the kernel's name none: ctnetlink
//! has no datapath handle, Open vSwitch sends `ovs_ct_limit` with
//! `dp_ifindex` 0) acts on every datapath the daemon hosts, as on one
//! table. oxvs's own client names its datapath: the private ctnetlink
//! attribute `OXVS_CTA_DP_IFINDEX` (type 0x3f01, `u32`), and
//! `ovs_header.dp_ifindex` in `ovs_ct_limit`; dumped entries carry their
//! bucket (`OXVS_CTA_BUCKET`, 0x3f02). Tracker settings the kernel lacks
//! (maxconns, connection count, TCP sequence checking, bucket count,
//! fragment reassembly) are `OXVS_DP_ATTR_CT_*` and `OXVS_DP_ATTR_IPF`
//! attributes of `ovs_datapath` replies and `SET`s. The numbers are in
//! `dpif_netlink::ctnetlink` and `dpif_netlink::abi`; the semantics in
//! `oxvsd::conntrack`.

/// Largest datagram the daemon reads from a client: a 64 KiB packet with
/// its key and actions fits, and so does a batch of flow puts.
pub const MAX_REQUEST: usize = 256 * 1024;

/// Bytes of the greeting datagram: `nlmsghdr` and the cookie.
pub const GREETING_LEN: usize = 16 + 8;

/// The receive buffer a connection has until it sets one: netlink's
/// default `sk_rcvbuf` (`net.core.rmem_default`, 212,992 bytes).
pub const DEFAULT_RCVBUF: usize = 212_992;

/// `genlmsghdr.cmd` of the `nlctrl` request that sets a socket option.
pub const OXVS_CTRL_CMD_SOCKOPT: u8 = 0xf1;

/// Socket option request: the target connection's port id (`u32`).
pub const SOCKOPT_ATTR_PORT: u16 = 1;
/// Socket option request: the target connection's cookie (`u64`).
pub const SOCKOPT_ATTR_COOKIE: u16 = 2;
/// Socket option request: the option's level (`u32`).
pub const SOCKOPT_ATTR_LEVEL: u16 = 3;
/// Socket option request: the option's name (`u32`).
pub const SOCKOPT_ATTR_NAME: u16 = 4;
/// Socket option request: the option's value (`u32`).
pub const SOCKOPT_ATTR_VALUE: u16 = 5;

/// `SOL_SOCKET`.
pub const SOL_SOCKET: u32 = 1;
/// `SO_RCVBUF`.
pub const SO_RCVBUF: u32 = 8;
/// `SOL_NETLINK`.
pub const SOL_NETLINK: u32 = 270;
/// `NETLINK_ADD_MEMBERSHIP`.
pub const NETLINK_ADD_MEMBERSHIP: u32 = 1;
/// `NETLINK_DROP_MEMBERSHIP`.
pub const NETLINK_DROP_MEMBERSHIP: u32 = 2;
/// `NETLINK_NO_ENOBUFS`.
pub const NETLINK_NO_ENOBUFS: u32 = 5;
/// `NETLINK_CAP_ACK`.
pub const NETLINK_CAP_ACK: u32 = 10;
/// `NETLINK_EXT_ACK`.
pub const NETLINK_EXT_ACK: u32 = 11;
/// The daemon's own option level.
pub const SOL_OXVS: u32 = 0x4f58;
/// At [`SOL_OXVS`]: take the port id in the value (`bind()`).
pub const OXVS_SO_BIND: u32 = 1;

/// The overrun notice: a bare `NLMSG_OVERRUN` header.
pub const OVERRUN: [u8; 16] = {
    let mut m = [0u8; 16];
    let len = 16u32.to_ne_bytes();
    let ty = 4u16.to_ne_bytes();
    m[0] = len[0];
    m[1] = len[1];
    m[2] = len[2];
    m[3] = len[3];
    m[4] = ty[0];
    m[5] = ty[1];
    m
};

/// The generic netlink family ids the daemon gives out, lowest and highest
/// (clear of `nlctrl` and of the netfilter subsystem types).
pub const FAMILY_IDS: std::ops::RangeInclusive<u16> = 0x21..=0x2f;

/// Whether a datagram is the overrun notice.
pub fn is_overrun(datagram: &[u8]) -> bool {
    datagram.len() >= 6
        && u16::from_ne_bytes([datagram[4], datagram[5]]) == 4
        && u32::from_ne_bytes([datagram[0], datagram[1], datagram[2], datagram[3]]) == 16
}

/// `nlmsg_type` of a barrier: `NLMSG_NOOP`.
pub const NLMSG_NOOP: u16 = 1;
/// `nlmsg_type` of an error or ack: `NLMSG_ERROR`.
pub const NLMSG_ERROR: u16 = 2;
/// `nlmsg_flags` of a barrier: `NLM_F_REQUEST | NLM_F_ACK`.
pub const BARRIER_FLAGS: u16 = 0x1 | 0x4;
/// Bytes of a barrier: a bare `nlmsghdr`.
pub const BARRIER_LEN: usize = 16;
/// Bytes of a barrier's answer: `nlmsghdr`, error code, echoed header.
pub const BARRIER_ANSWER_LEN: usize = 16 + 4 + 16;

/// Builds a barrier with this sequence number and port id.
pub fn barrier(seq: u32, pid: u32) -> [u8; BARRIER_LEN] {
    let mut m = [0u8; BARRIER_LEN];
    m[0..4].copy_from_slice(&(BARRIER_LEN as u32).to_ne_bytes());
    m[4..6].copy_from_slice(&NLMSG_NOOP.to_ne_bytes());
    m[6..8].copy_from_slice(&BARRIER_FLAGS.to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    m[12..16].copy_from_slice(&pid.to_ne_bytes());
    m
}

/// Whether a datagram of `len` bytes, of which `head` holds the first ones
/// (at least [`BARRIER_ANSWER_LEN`] when `len` is that long), is the answer
/// to a barrier: one `NLMSG_ERROR` message, alone in the datagram, whose
/// echoed header is a barrier's (any error code, so that a daemon answering
/// `ENOENT` still ends the wait).
pub fn is_barrier_answer(head: &[u8], len: usize) -> bool {
    let Some(h) = head.get(..BARRIER_ANSWER_LEN) else {
        return false;
    };
    let msg_len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
    len >= BARRIER_ANSWER_LEN
        && u16::from_ne_bytes([h[4], h[5]]) == NLMSG_ERROR
        && msg_len >= BARRIER_ANSWER_LEN
        && msg_len <= len
        && (msg_len + 3) & !3 >= len
        && u16::from_ne_bytes([h[24], h[25]]) == NLMSG_NOOP
        && u16::from_ne_bytes([h[26], h[27]]) == BARRIER_FLAGS
}

/// What a greeting says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Greeting {
    /// Accepted: the connection's port id and cookie.
    Welcome {
        /// The port id.
        pid: u32,
        /// The cookie.
        cookie: u64,
    },
    /// Refused, with this errno.
    Refused(i32),
}

/// Builds the greeting of an accepted connection.
pub fn greeting(pid: u32, cookie: u64) -> [u8; GREETING_LEN] {
    let mut g = [0u8; GREETING_LEN];
    g[0..4].copy_from_slice(&(GREETING_LEN as u32).to_ne_bytes());
    g[4..6].copy_from_slice(&1u16.to_ne_bytes()); // NLMSG_NOOP
    g[12..16].copy_from_slice(&pid.to_ne_bytes());
    g[16..24].copy_from_slice(&cookie.to_ne_bytes());
    g
}

/// Reads a greeting datagram; `None` if it is neither a greeting nor a
/// refusal.
pub fn parse_greeting(d: &[u8]) -> Option<Greeting> {
    if d.len() < 16 {
        return None;
    }
    let len = u32::from_ne_bytes([d[0], d[1], d[2], d[3]]) as usize;
    let ty = u16::from_ne_bytes([d[4], d[5]]);
    match ty {
        1 if len == GREETING_LEN && d.len() >= GREETING_LEN => Some(Greeting::Welcome {
            pid: u32::from_ne_bytes([d[12], d[13], d[14], d[15]]),
            cookie: u64::from_ne_bytes([d[16], d[17], d[18], d[19], d[20], d[21], d[22], d[23]]),
        }),
        2 if d.len() >= 20 => {
            let e = i32::from_ne_bytes([d[16], d[17], d[18], d[19]]);
            Some(Greeting::Refused(
                e.checked_neg().filter(|&e| e > 0).unwrap_or(e),
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greeting_round_trip() {
        let g = greeting(7, 0x0102_0304_0506_0708);
        assert_eq!(
            parse_greeting(&g),
            Some(Greeting::Welcome {
                pid: 7,
                cookie: 0x0102_0304_0506_0708
            })
        );
        assert!(!is_overrun(&g));
        assert!(is_overrun(&OVERRUN));
    }

    #[test]
    fn barrier_answer_is_recognized_alone_only() {
        let b = barrier(9, 77);
        let mut answer = Vec::new();
        answer.extend_from_slice(&(BARRIER_ANSWER_LEN as u32).to_ne_bytes());
        answer.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        answer.extend_from_slice(&0u16.to_ne_bytes());
        answer.extend_from_slice(&9u32.to_ne_bytes());
        answer.extend_from_slice(&77u32.to_ne_bytes());
        answer.extend_from_slice(&0i32.to_ne_bytes());
        answer.extend_from_slice(&b);
        assert!(is_barrier_answer(&answer, answer.len()));
        // Followed by another message in the same datagram: not alone.
        assert!(!is_barrier_answer(&answer, answer.len() + 16));
        // The answer to some other request.
        let mut other = answer.clone();
        other[24..26].copy_from_slice(&0x10u16.to_ne_bytes());
        assert!(!is_barrier_answer(&other, other.len()));
        assert!(!is_barrier_answer(&answer[..20], answer.len()));
        assert!(!is_overrun(&answer));
    }
}
