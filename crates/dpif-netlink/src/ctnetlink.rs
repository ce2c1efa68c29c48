//! ctnetlink and cttimeout, the conntrack subsystems of netfilter netlink
//! (`linux/netfilter/nfnetlink_conntrack.h`, `nfnetlink_cttimeout.h`):
//! numbers, and the one codec of their messages, used both ways: by the
//! `system` provider to read the kernel's table (and oxvsd's) and by
//! oxvsd to answer in the kernel's formats.
//!
//! A netfilter message is `nlmsghdr` (type: subsystem << 8 | message),
//! `struct nfgenmsg` (address family, version 0, resource id, big-endian),
//! then attributes. Integers in conntrack attributes are big-endian
//! except `CTA_PROTO_NUM`, the ICMP type and code, TCP state and window
//! scales (one byte each) and the TCP flags (`struct nf_ct_tcp_flags`).
//!
//! Entries are read as Open vSwitch reads them (lib/netlink-conntrack.c):
//! tuples must have their IP and protocol parts, ICMP tuples their id,
//! type and code; status bits beyond OVS's are dropped; kernel TCP states
//! become OVS's; SCTP verification tags are read in host order, as OVS
//! reads them.
//!
//! # oxvsd additions
//!
//! Attribute types from 0x3f00 up are oxvsd's (the kernel's end below 30
//! and ignores types past its table):
//!
//! - [`OXVS_CTA_DP_IFINDEX`] (`u32`, host order) in a request: act on
//!   that datapath's tracker only; without it a request acts on every
//!   datapath of the daemon, as a kernel request acts on its one table.
//! - [`OXVS_CTA_BUCKET`] (`u32`, host order) in an entry: its bucket, for
//!   `ct-bkts`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use dpif::ct::*;
use nl::{AttrIter, Writer};

/// `NFNL_SUBSYS_CTNETLINK`.
pub const NFNL_SUBSYS_CTNETLINK: u8 = 1;
/// `NFNL_SUBSYS_CTNETLINK_TIMEOUT`.
pub const NFNL_SUBSYS_CTNETLINK_TIMEOUT: u8 = 8;
/// `NFNETLINK_V0`.
pub const NFNETLINK_V0: u8 = 0;
/// Bytes of `struct nfgenmsg`.
pub const NFGENMSG_LEN: usize = 4;
/// `AF_UNSPEC`.
pub const AF_UNSPEC: u8 = 0;

/// `IPCTNL_MSG_CT_NEW`: an entry (dump part, get reply, event).
pub const IPCTNL_MSG_CT_NEW: u8 = 0;
/// `IPCTNL_MSG_CT_GET`.
pub const IPCTNL_MSG_CT_GET: u8 = 1;
/// `IPCTNL_MSG_CT_DELETE`.
pub const IPCTNL_MSG_CT_DELETE: u8 = 2;
/// `IPCTNL_MSG_CT_GET_CTRZERO`.
pub const IPCTNL_MSG_CT_GET_CTRZERO: u8 = 3;
/// `IPCTNL_MSG_CT_GET_STATS_CPU`.
pub const IPCTNL_MSG_CT_GET_STATS_CPU: u8 = 4;
/// `IPCTNL_MSG_CT_GET_STATS`.
pub const IPCTNL_MSG_CT_GET_STATS: u8 = 5;
/// `IPCTNL_MSG_CT_GET_DYING`.
pub const IPCTNL_MSG_CT_GET_DYING: u8 = 6;
/// `IPCTNL_MSG_CT_GET_UNCONFIRMED`.
pub const IPCTNL_MSG_CT_GET_UNCONFIRMED: u8 = 7;
/// `IPCTNL_MSG_MAX`.
pub const IPCTNL_MSG_MAX: u8 = 8;

/// `CTA_TUPLE_ORIG` (nested).
pub const CTA_TUPLE_ORIG: u16 = 1;
/// `CTA_TUPLE_REPLY` (nested).
pub const CTA_TUPLE_REPLY: u16 = 2;
/// `CTA_STATUS` (be32).
pub const CTA_STATUS: u16 = 3;
/// `CTA_PROTOINFO` (nested).
pub const CTA_PROTOINFO: u16 = 4;
/// `CTA_HELP` (nested).
pub const CTA_HELP: u16 = 5;
/// `CTA_NAT_SRC`.
pub const CTA_NAT_SRC: u16 = 6;
/// `CTA_TIMEOUT` (be32 seconds).
pub const CTA_TIMEOUT: u16 = 7;
/// `CTA_MARK` (be32).
pub const CTA_MARK: u16 = 8;
/// `CTA_COUNTERS_ORIG` (nested).
pub const CTA_COUNTERS_ORIG: u16 = 9;
/// `CTA_COUNTERS_REPLY` (nested).
pub const CTA_COUNTERS_REPLY: u16 = 10;
/// `CTA_USE` (be32).
pub const CTA_USE: u16 = 11;
/// `CTA_ID` (be32).
pub const CTA_ID: u16 = 12;
/// `CTA_TUPLE_MASTER` (nested).
pub const CTA_TUPLE_MASTER: u16 = 14;
/// `CTA_ZONE` (be16).
pub const CTA_ZONE: u16 = 18;
/// `CTA_TIMESTAMP` (nested).
pub const CTA_TIMESTAMP: u16 = 20;
/// `CTA_MARK_MASK` (be32).
pub const CTA_MARK_MASK: u16 = 21;
/// `CTA_LABELS` (the label bitmap, 16 bytes).
pub const CTA_LABELS: u16 = 22;
/// `CTA_LABELS_MASK`.
pub const CTA_LABELS_MASK: u16 = 23;

/// In a tuple: `CTA_TUPLE_IP` (nested).
pub const CTA_TUPLE_IP: u16 = 1;
/// In a tuple: `CTA_TUPLE_PROTO` (nested).
pub const CTA_TUPLE_PROTO: u16 = 2;
/// In a tuple: `CTA_TUPLE_ZONE` (be16).
pub const CTA_TUPLE_ZONE: u16 = 3;
/// `CTA_IP_V4_SRC` (be32).
pub const CTA_IP_V4_SRC: u16 = 1;
/// `CTA_IP_V4_DST` (be32).
pub const CTA_IP_V4_DST: u16 = 2;
/// `CTA_IP_V6_SRC` (16 bytes).
pub const CTA_IP_V6_SRC: u16 = 3;
/// `CTA_IP_V6_DST` (16 bytes).
pub const CTA_IP_V6_DST: u16 = 4;
/// `CTA_PROTO_NUM` (u8).
pub const CTA_PROTO_NUM: u16 = 1;
/// `CTA_PROTO_SRC_PORT` (be16).
pub const CTA_PROTO_SRC_PORT: u16 = 2;
/// `CTA_PROTO_DST_PORT` (be16).
pub const CTA_PROTO_DST_PORT: u16 = 3;
/// `CTA_PROTO_ICMP_ID` (be16).
pub const CTA_PROTO_ICMP_ID: u16 = 4;
/// `CTA_PROTO_ICMP_TYPE` (u8).
pub const CTA_PROTO_ICMP_TYPE: u16 = 5;
/// `CTA_PROTO_ICMP_CODE` (u8).
pub const CTA_PROTO_ICMP_CODE: u16 = 6;
/// `CTA_PROTO_ICMPV6_ID` (be16).
pub const CTA_PROTO_ICMPV6_ID: u16 = 7;
/// `CTA_PROTO_ICMPV6_TYPE` (u8).
pub const CTA_PROTO_ICMPV6_TYPE: u16 = 8;
/// `CTA_PROTO_ICMPV6_CODE` (u8).
pub const CTA_PROTO_ICMPV6_CODE: u16 = 9;
/// `CTA_PROTOINFO_TCP` (nested).
pub const CTA_PROTOINFO_TCP: u16 = 1;
/// `CTA_PROTOINFO_SCTP` (nested).
pub const CTA_PROTOINFO_SCTP: u16 = 3;
/// `CTA_PROTOINFO_TCP_STATE` (u8).
pub const CTA_PROTOINFO_TCP_STATE: u16 = 1;
/// `CTA_PROTOINFO_TCP_WSCALE_ORIGINAL` (u8).
pub const CTA_PROTOINFO_TCP_WSCALE_ORIGINAL: u16 = 2;
/// `CTA_PROTOINFO_TCP_WSCALE_REPLY` (u8).
pub const CTA_PROTOINFO_TCP_WSCALE_REPLY: u16 = 3;
/// `CTA_PROTOINFO_TCP_FLAGS_ORIGINAL` (`struct nf_ct_tcp_flags`).
pub const CTA_PROTOINFO_TCP_FLAGS_ORIGINAL: u16 = 4;
/// `CTA_PROTOINFO_TCP_FLAGS_REPLY`.
pub const CTA_PROTOINFO_TCP_FLAGS_REPLY: u16 = 5;
/// `CTA_PROTOINFO_SCTP_STATE` (u8).
pub const CTA_PROTOINFO_SCTP_STATE: u16 = 1;
/// `CTA_PROTOINFO_SCTP_VTAG_ORIGINAL` (be32).
pub const CTA_PROTOINFO_SCTP_VTAG_ORIGINAL: u16 = 2;
/// `CTA_PROTOINFO_SCTP_VTAG_REPLY` (be32).
pub const CTA_PROTOINFO_SCTP_VTAG_REPLY: u16 = 3;
/// `CTA_COUNTERS_PACKETS` (be64).
pub const CTA_COUNTERS_PACKETS: u16 = 1;
/// `CTA_COUNTERS_BYTES` (be64).
pub const CTA_COUNTERS_BYTES: u16 = 2;
/// `CTA_TIMESTAMP_START` (be64 ns).
pub const CTA_TIMESTAMP_START: u16 = 1;
/// `CTA_TIMESTAMP_STOP` (be64 ns).
pub const CTA_TIMESTAMP_STOP: u16 = 2;
/// `CTA_HELP_NAME` (string).
pub const CTA_HELP_NAME: u16 = 1;

/// oxvsd: the datapath a request acts on (`u32`, host order).
pub const OXVS_CTA_DP_IFINDEX: u16 = 0x3f01;
/// oxvsd: an entry's bucket (`u32`, host order).
pub const OXVS_CTA_BUCKET: u16 = 0x3f02;

/// `IPCTNL_MSG_TIMEOUT_NEW`.
pub const IPCTNL_MSG_TIMEOUT_NEW: u8 = 0;
/// `IPCTNL_MSG_TIMEOUT_GET`.
pub const IPCTNL_MSG_TIMEOUT_GET: u8 = 1;
/// `IPCTNL_MSG_TIMEOUT_DELETE`.
pub const IPCTNL_MSG_TIMEOUT_DELETE: u8 = 2;
/// `CTA_TIMEOUT_NAME` (string, at most 32 bytes with its NUL).
pub const CTA_TIMEOUT_NAME: u16 = 1;
/// `CTA_TIMEOUT_L3PROTO` (be16).
pub const CTA_TIMEOUT_L3PROTO: u16 = 2;
/// `CTA_TIMEOUT_L4PROTO` (u8).
pub const CTA_TIMEOUT_L4PROTO: u16 = 3;
/// `CTA_TIMEOUT_DATA` (nested: per protocol, be32 seconds).
pub const CTA_TIMEOUT_DATA: u16 = 4;
/// `CTA_TIMEOUT_USE` (be32).
pub const CTA_TIMEOUT_USE: u16 = 5;
/// `CTNL_TIMEOUT_NAME_MAX`.
pub const CTNL_TIMEOUT_NAME_MAX: usize = 32;

/// The `nlmsg_type` of message `msg` of subsystem `subsys`.
pub const fn msg_type(subsys: u8, msg: u8) -> u16 {
    (subsys as u16) << 8 | msg as u16
}

/// A malformed ctnetlink message: what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed(pub &'static str);

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Malformed {}

type R<T> = Result<T, Malformed>;

/// The attributes of a stream by type (last occurrence wins, as
/// `nla_parse`); malformed framing is an error. Types at or above
/// `max` are ignored.
pub fn attrs<const N: usize>(b: &[u8]) -> R<[Option<&[u8]>; N]> {
    let mut t = [None; N];
    for a in AttrIter::new(b) {
        let a = a.map_err(|_| Malformed("malformed attribute"))?;
        if let Some(s) = t.get_mut(usize::from(a.ty)) {
            *s = Some(a.payload);
        }
    }
    Ok(t)
}

fn be16(p: Option<&[u8]>) -> R<Option<u16>> {
    p.map(|p| {
        p.try_into()
            .map(u16::from_be_bytes)
            .map_err(|_| Malformed("bad be16 attribute"))
    })
    .transpose()
}

fn be32(p: Option<&[u8]>) -> R<Option<u32>> {
    p.map(|p| {
        p.try_into()
            .map(u32::from_be_bytes)
            .map_err(|_| Malformed("bad be32 attribute"))
    })
    .transpose()
}

fn be64(p: Option<&[u8]>) -> R<Option<u64>> {
    p.map(|p| {
        p.try_into()
            .map(u64::from_be_bytes)
            .map_err(|_| Malformed("bad be64 attribute"))
    })
    .transpose()
}

fn u8a(p: Option<&[u8]>) -> R<Option<u8>> {
    p.map(|p| match p {
        [b] => Ok(*b),
        _ => Err(Malformed("bad u8 attribute")),
    })
    .transpose()
}

/// Writes a tuple nest of type `ty`: `CTA_TUPLE_IP`, `CTA_TUPLE_PROTO`
/// (ports for every protocol but ICMP, as `ctnetlink_dump_tuples`), and
/// `CTA_TUPLE_ZONE` if given.
pub fn put_tuple(w: &mut Writer, ty: u16, t: &CtTuple, zone: Option<u16>) {
    let n = w.begin_nested(ty);
    let ip = w.begin_nested(CTA_TUPLE_IP);
    match (t.src, t.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            w.put(CTA_IP_V4_SRC, &s.octets());
            w.put(CTA_IP_V4_DST, &d.octets());
        }
        (s, d) => {
            let v6 = |a: IpAddr| match a {
                IpAddr::V6(a) => a.octets(),
                IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
            };
            w.put(CTA_IP_V6_SRC, &v6(s));
            w.put(CTA_IP_V6_DST, &v6(d));
        }
    }
    w.end_nested(ip);
    let p = w.begin_nested(CTA_TUPLE_PROTO);
    w.put_u8(CTA_PROTO_NUM, t.proto);
    match (t.proto, t.is_ipv6()) {
        (IPPROTO_ICMP, false) => {
            w.put_u16_be(CTA_PROTO_ICMP_ID, t.icmp_id);
            w.put_u8(CTA_PROTO_ICMP_TYPE, t.icmp_type);
            w.put_u8(CTA_PROTO_ICMP_CODE, t.icmp_code);
        }
        (IPPROTO_ICMPV6, true) => {
            w.put_u16_be(CTA_PROTO_ICMPV6_ID, t.icmp_id);
            w.put_u8(CTA_PROTO_ICMPV6_TYPE, t.icmp_type);
            w.put_u8(CTA_PROTO_ICMPV6_CODE, t.icmp_code);
        }
        _ => {
            w.put_u16_be(CTA_PROTO_SRC_PORT, t.src_port);
            w.put_u16_be(CTA_PROTO_DST_PORT, t.dst_port);
        }
    }
    w.end_nested(p);
    if let Some(z) = zone {
        w.put_u16_be(CTA_TUPLE_ZONE, z);
    }
    w.end_nested(n);
}

/// Reads a tuple nest of address family `family` ([`AF_INET`] or
/// [`AF_INET6`]), and its `CTA_TUPLE_ZONE` if any.
///
/// # Errors
/// A missing or malformed part: both addresses, the protocol, and an
/// ICMP tuple's id, type and code are required (as OVS and the kernel
/// require them). Ports of other protocols are optional (zero).
pub fn parse_tuple(b: &[u8], family: u16) -> R<(CtTuple, Option<u16>)> {
    let t: [Option<&[u8]>; 4] = attrs(b)?;
    let ip: [Option<&[u8]>; 5] =
        attrs(t[usize::from(CTA_TUPLE_IP)].ok_or(Malformed("tuple without CTA_TUPLE_IP"))?)?;
    let pr: [Option<&[u8]>; 10] =
        attrs(t[usize::from(CTA_TUPLE_PROTO)].ok_or(Malformed("tuple without CTA_TUPLE_PROTO"))?)?;
    let zone = be16(t[usize::from(CTA_TUPLE_ZONE)])?;
    let (src, dst) = match family {
        AF_INET => {
            let a = |p: Option<&[u8]>| -> R<IpAddr> {
                let b: [u8; 4] = p
                    .ok_or(Malformed("tuple without an IPv4 address"))?
                    .try_into()
                    .map_err(|_| Malformed("bad IPv4 address"))?;
                Ok(Ipv4Addr::from(b).into())
            };
            (a(ip[1])?, a(ip[2])?)
        }
        AF_INET6 => {
            let a = |p: Option<&[u8]>| -> R<IpAddr> {
                let b: [u8; 16] = p
                    .ok_or(Malformed("tuple without an IPv6 address"))?
                    .try_into()
                    .map_err(|_| Malformed("bad IPv6 address"))?;
                Ok(Ipv6Addr::from(b).into())
            };
            (a(ip[3])?, a(ip[4])?)
        }
        _ => return Err(Malformed("unsupported address family")),
    };
    let proto =
        u8a(pr[usize::from(CTA_PROTO_NUM)])?.ok_or(Malformed("tuple without CTA_PROTO_NUM"))?;
    let mut tuple = CtTuple {
        src,
        dst,
        proto,
        ..CtTuple::default()
    };
    let icmp = match (family, proto) {
        (AF_INET, IPPROTO_ICMP) => {
            Some((CTA_PROTO_ICMP_ID, CTA_PROTO_ICMP_TYPE, CTA_PROTO_ICMP_CODE))
        }
        (AF_INET6, IPPROTO_ICMPV6) => Some((
            CTA_PROTO_ICMPV6_ID,
            CTA_PROTO_ICMPV6_TYPE,
            CTA_PROTO_ICMPV6_CODE,
        )),
        _ => None,
    };
    if let Some((id, ty, code)) = icmp {
        let missing = Malformed("ICMP tuple without id, type or code");
        tuple.icmp_id = be16(pr[usize::from(id)])?.ok_or(missing.clone())?;
        tuple.icmp_type = u8a(pr[usize::from(ty)])?.ok_or(missing.clone())?;
        tuple.icmp_code = u8a(pr[usize::from(code)])?.ok_or(missing)?;
    } else if let (Some(s), Some(d)) = (
        be16(pr[usize::from(CTA_PROTO_SRC_PORT)])?,
        be16(pr[usize::from(CTA_PROTO_DST_PORT)])?,
    ) {
        tuple.src_port = s;
        tuple.dst_port = d;
    }
    Ok((tuple, zone))
}

fn put_counters(w: &mut Writer, ty: u16, c: &CtCounters) {
    let n = w.begin_nested(ty);
    w.put_u64_be(CTA_COUNTERS_PACKETS, c.packets);
    w.put_u64_be(CTA_COUNTERS_BYTES, c.bytes);
    w.end_nested(n);
}

fn parse_counters(b: &[u8]) -> R<CtCounters> {
    let a: [Option<&[u8]>; 3] = attrs(b)?;
    let missing = Malformed("counters without packets or bytes");
    Ok(CtCounters {
        packets: be64(a[1])?.ok_or(missing.clone())?,
        bytes: be64(a[2])?.ok_or(missing)?,
    })
}

/// Writes an entry's attributes as `ctnetlink_fill_info` does (the
/// message's `nfgenmsg` family is the entry's [`CtTuple::l3_type`]).
/// Mark, labels, counters, timestamps, helper and parent only when set;
/// `bucket` adds [`OXVS_CTA_BUCKET`].
pub fn put_entry(w: &mut Writer, e: &CtEntry, bucket: bool) {
    put_tuple(w, CTA_TUPLE_ORIG, &e.orig, None);
    put_tuple(w, CTA_TUPLE_REPLY, &e.reply, None);
    if e.zone != 0 {
        w.put_u16_be(CTA_ZONE, e.zone);
    }
    w.put_u32_be(CTA_STATUS, e.status);
    if e.counters_orig != CtCounters::default() || e.counters_reply != CtCounters::default() {
        put_counters(w, CTA_COUNTERS_ORIG, &e.counters_orig);
        put_counters(w, CTA_COUNTERS_REPLY, &e.counters_reply);
    }
    if e.timestamp.start != 0 {
        let n = w.begin_nested(CTA_TIMESTAMP);
        w.put_u64_be(CTA_TIMESTAMP_START, e.timestamp.start);
        if e.timestamp.stop != 0 {
            w.put_u64_be(CTA_TIMESTAMP_STOP, e.timestamp.stop);
        }
        w.end_nested(n);
    }
    w.put_u32_be(CTA_TIMEOUT, e.timeout);
    match &e.protoinfo {
        Some(CtProtoinfo::Tcp(t)) => {
            let n = w.begin_nested(CTA_PROTOINFO);
            let tn = w.begin_nested(CTA_PROTOINFO_TCP);
            w.put_u8(
                CTA_PROTOINFO_TCP_STATE,
                tcp_state::to_kernel(t.state_orig.max(t.state_reply)),
            );
            w.put_u8(CTA_PROTOINFO_TCP_WSCALE_ORIGINAL, t.wscale_orig);
            w.put_u8(CTA_PROTOINFO_TCP_WSCALE_REPLY, t.wscale_reply);
            w.put(CTA_PROTOINFO_TCP_FLAGS_ORIGINAL, &[t.flags_orig, 0]);
            w.put(CTA_PROTOINFO_TCP_FLAGS_REPLY, &[t.flags_reply, 0]);
            w.end_nested(tn);
            w.end_nested(n);
        }
        Some(CtProtoinfo::Sctp {
            state,
            vtag_orig,
            vtag_reply,
        }) => {
            let n = w.begin_nested(CTA_PROTOINFO);
            let sn = w.begin_nested(CTA_PROTOINFO_SCTP);
            w.put_u8(CTA_PROTOINFO_SCTP_STATE, sctp_state_to_kernel(*state));
            // Host order: OVS reads the tags so (the kernel writes them
            // big-endian).
            w.put_u32(CTA_PROTOINFO_SCTP_VTAG_ORIGINAL, *vtag_orig);
            w.put_u32(CTA_PROTOINFO_SCTP_VTAG_REPLY, *vtag_reply);
            w.end_nested(sn);
            w.end_nested(n);
        }
        None => {}
    }
    if let Some(h) = &e.helper {
        let n = w.begin_nested(CTA_HELP);
        w.put_string(CTA_HELP_NAME, h);
        w.end_nested(n);
    }
    if e.mark != 0 {
        w.put_u32_be(CTA_MARK, e.mark);
    }
    if e.labels != 0 {
        w.put(CTA_LABELS, &e.labels.to_ne_bytes());
    }
    if let Some(p) = &e.parent {
        put_tuple(w, CTA_TUPLE_MASTER, p, None);
    }
    w.put_u32_be(CTA_ID, e.id);
    w.put_u32_be(CTA_USE, 1);
    if bucket {
        w.put_u32(OXVS_CTA_BUCKET, e.bucket);
    }
}

/// Reads an entry of address family `family` from its attributes, as
/// OVS's `nl_ct_attrs_to_ct_dpif_entry` (see the module docs).
///
/// # Errors
/// What OVS rejects: missing tuples, status or id; malformed nests.
pub fn parse_entry(family: u8, b: &[u8]) -> R<CtEntry> {
    let a: [Option<&[u8]>; 24] = attrs(b)?;
    let family = u16::from(family);
    let get = |t: u16| a[usize::from(t)];
    let (orig, _) = parse_tuple(
        get(CTA_TUPLE_ORIG).ok_or(Malformed("entry without CTA_TUPLE_ORIG"))?,
        family,
    )?;
    let (reply, _) = parse_tuple(
        get(CTA_TUPLE_REPLY).ok_or(Malformed("entry without CTA_TUPLE_REPLY"))?,
        family,
    )?;
    let mut e = CtEntry {
        orig,
        reply,
        status: be32(get(CTA_STATUS))?.ok_or(Malformed("entry without CTA_STATUS"))? & status::MASK,
        id: be32(get(CTA_ID))?.ok_or(Malformed("entry without CTA_ID"))?,
        zone: be16(get(CTA_ZONE))?.unwrap_or(0),
        timeout: be32(get(CTA_TIMEOUT))?.unwrap_or(0),
        mark: be32(get(CTA_MARK))?.unwrap_or(0),
        ..CtEntry::default()
    };
    if let Some(c) = get(CTA_COUNTERS_ORIG) {
        e.counters_orig = parse_counters(c)?;
    }
    if let Some(c) = get(CTA_COUNTERS_REPLY) {
        e.counters_reply = parse_counters(c)?;
    }
    if let Some(t) = get(CTA_TIMESTAMP) {
        let ts: [Option<&[u8]>; 3] = attrs(t)?;
        e.timestamp.start = be64(ts[1])?.ok_or(Malformed("timestamp without start"))?;
        e.timestamp.stop = be64(ts[2])?.unwrap_or(0);
    }
    if let Some(l) = get(CTA_LABELS) {
        let mut b = [0u8; 16];
        let n = l.len().min(16);
        b[..n].copy_from_slice(&l[..n]);
        e.labels = u128::from_ne_bytes(b);
    }
    if let Some(p) = get(CTA_PROTOINFO) {
        let pi: [Option<&[u8]>; 4] = attrs(p)?;
        if let Some(t) = pi[usize::from(CTA_PROTOINFO_TCP)] {
            let ta: [Option<&[u8]>; 6] = attrs(t)?;
            let st = tcp_state::from_kernel(
                u8a(ta[1])?.ok_or(Malformed("TCP protoinfo without state"))?,
            );
            let flags = |p: Option<&[u8]>| -> R<u8> {
                match p {
                    None => Ok(0),
                    Some([f, _]) => Ok(f & tcp_flags::MASK),
                    Some(_) => Err(Malformed("bad TCP flags")),
                }
            };
            e.protoinfo = Some(CtProtoinfo::Tcp(CtTcpInfo {
                state_orig: st,
                state_reply: st,
                wscale_orig: u8a(ta[2])?.unwrap_or(0),
                wscale_reply: u8a(ta[3])?.unwrap_or(0),
                flags_orig: flags(ta[4])?,
                flags_reply: flags(ta[5])?,
            }));
        } else if let Some(s) = pi[usize::from(CTA_PROTOINFO_SCTP)] {
            let sa: [Option<&[u8]>; 4] = attrs(s)?;
            let missing = Malformed("incomplete SCTP protoinfo");
            let u32h = |p: Option<&[u8]>| -> R<u32> {
                p.and_then(|p| p.try_into().ok())
                    .map(u32::from_ne_bytes)
                    .ok_or(missing.clone())
            };
            e.protoinfo = Some(CtProtoinfo::Sctp {
                state: sctp_state_from_kernel(u8a(sa[1])?.ok_or(missing.clone())?),
                vtag_orig: u32h(sa[2])?,
                vtag_reply: u32h(sa[3])?,
            });
        }
    }
    if let Some(h) = get(CTA_HELP) {
        let ha: [Option<&[u8]>; 2] = attrs(h)?;
        let name = ha[1].ok_or(Malformed("helper without a name"))?;
        let name = name.split(|&c| c == 0).next().unwrap_or(&[]);
        e.helper = Some(String::from_utf8_lossy(name).into_owned());
    }
    if let Some(m) = get(CTA_TUPLE_MASTER) {
        e.parent = Some(parse_tuple(m, family)?.0);
    }
    for at in AttrIter::new(b).flatten() {
        if at.ty == OXVS_CTA_BUCKET {
            e.bucket = at.u32().unwrap_or(0);
        }
    }
    Ok(e)
}

/// A kernel `SCTP_CONNTRACK_*` state as OVS numbers it
/// (`nl_ct_sctp_state_to_dpif`): `COOKIE_WAIT` (2) to `HEARTBEAT_ACKED`
/// (9) one lower; `NONE`, `CLOSED` and anything unknown `CLOSED` (0).
pub fn sctp_state_from_kernel(s: u8) -> u8 {
    match s {
        2..=9 => s - 1,
        _ => 0,
    }
}

/// The kernel state that reads back as OVS's `s`.
pub fn sctp_state_to_kernel(s: u8) -> u8 {
    match s {
        1..=8 => s + 1,
        _ => 1,
    }
}

/// The `nfgenmsg` and attributes of a netfilter message payload.
///
/// # Errors
/// A payload shorter than `nfgenmsg`.
pub fn split(payload: &[u8]) -> R<(u8, u8, &[u8])> {
    if payload.len() < NFGENMSG_LEN {
        return Err(Malformed("message shorter than nfgenmsg"));
    }
    Ok((payload[0], payload[1], &payload[NFGENMSG_LEN..]))
}

/// A cttimeout object: name, protocols, and timeouts (seconds) by their
/// `CTA_TIMEOUT_<PROTO>_*` attribute type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutObject {
    /// Name (under [`CTNL_TIMEOUT_NAME_MAX`] bytes).
    pub name: String,
    /// L3 protocol (`AF_INET`, `AF_INET6`).
    pub l3: u16,
    /// L4 protocol.
    pub l4: u8,
    /// `(attribute type, seconds)`, in type order.
    pub values: Vec<(u16, u32)>,
}

/// Writes a timeout object's attributes, as `ctnl_timeout_fill_info`
/// (`use_count` for replies).
pub fn put_timeout(w: &mut Writer, o: &TimeoutObject, use_count: Option<u32>) {
    w.put_string(CTA_TIMEOUT_NAME, &o.name);
    w.put_u16_be(CTA_TIMEOUT_L3PROTO, o.l3);
    w.put_u8(CTA_TIMEOUT_L4PROTO, o.l4);
    if let Some(u) = use_count {
        w.put_u32_be(CTA_TIMEOUT_USE, u);
    }
    let n = w.begin_nested(CTA_TIMEOUT_DATA);
    for &(ty, v) in &o.values {
        w.put_u32_be(ty, v);
    }
    w.end_nested(n);
}

/// Reads a timeout object (a `GET` reply).
///
/// # Errors
/// Name, protocols or data missing or malformed.
pub fn parse_timeout(b: &[u8]) -> R<TimeoutObject> {
    let a: [Option<&[u8]>; 6] = attrs(b)?;
    let name = a[1].ok_or(Malformed("timeout without a name"))?;
    let name = name.split(|&c| c == 0).next().unwrap_or(&[]);
    let data = a[4].ok_or(Malformed("timeout without data"))?;
    let mut values = Vec::new();
    for at in AttrIter::new(data) {
        let at = at.map_err(|_| Malformed("malformed timeout data"))?;
        values.push((at.ty, at.u32_be().ok_or(Malformed("bad timeout value"))?));
    }
    values.sort_unstable();
    Ok(TimeoutObject {
        name: String::from_utf8_lossy(name).into_owned(),
        l3: be16(a[2])?.ok_or(Malformed("timeout without L3 protocol"))?,
        l4: u8a(a[3])?.ok_or(Malformed("timeout without L4 protocol"))?,
        values,
    })
}

/// The protocols Open vSwitch makes a cttimeout object of each timeout
/// policy for.
pub const TP_PROTOS: [(u16, u8); 6] = [
    (AF_INET, IPPROTO_TCP),
    (AF_INET, IPPROTO_UDP),
    (AF_INET, IPPROTO_ICMP),
    (AF_INET6, IPPROTO_TCP),
    (AF_INET6, IPPROTO_UDP),
    (AF_INET6, IPPROTO_ICMPV6),
];

/// The cttimeout object of timeout policy `id` for `l4` over IPv6 or
/// IPv4, as OVS names it: `ovs_tp_ID_PROTO4`, `..._PROTO6`, or
/// `ovs_tp_ID_icmpv6`.
pub fn tp_name(id: u32, ipv6: bool, l4: u8) -> String {
    let mut s = format!("ovs_tp_{id}_");
    dpif::ct::format::ipproto(&mut s, l4);
    if !ipv6 {
        s.push('4');
    } else if l4 != IPPROTO_ICMPV6 {
        s.push('6');
    }
    s
}

/// `(timeout policy attribute, CTA_TIMEOUT_* type)` pairs for `l4`, as
/// OVS maps them: TCP's eleven one to one, UDP `SINGLE` to `UNREPLIED`
/// and `MULTIPLE` to `REPLIED`, ICMP(v6) `FIRST` to `TIMEOUT`.
pub fn tp_mapping(l4: u8) -> &'static [(usize, u16)] {
    use tp_attr::*;
    match l4 {
        IPPROTO_TCP => &[
            (TCP_SYN_SENT, 1),
            (TCP_SYN_RECV, 2),
            (TCP_ESTABLISHED, 3),
            (TCP_FIN_WAIT, 4),
            (TCP_CLOSE_WAIT, 5),
            (TCP_LAST_ACK, 6),
            (TCP_TIME_WAIT, 7),
            (TCP_CLOSE, 8),
            (TCP_SYN_SENT2, 9),
            (TCP_RETRANSMIT, 10),
            (TCP_UNACK, 11),
        ],
        IPPROTO_UDP => &[(UDP_SINGLE, 1), (UDP_MULTIPLE, 2)],
        IPPROTO_ICMP | IPPROTO_ICMPV6 => &[(ICMP_FIRST, 1)],
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> IpAddr {
        IpAddr::from(a)
    }

    /// Builds attributes by hand from the kernel's layout: `nlattr`
    /// headers (length, type; native order) then payloads, padded.
    fn attr(ty: u16, payload: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(payload);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    fn nest(ty: u16, parts: &[Vec<u8>]) -> Vec<u8> {
        attr(ty, &parts.concat())
    }

    /// A UDP entry as a 6.1 kernel dumps it (`ctnetlink_fill_info`),
    /// written from the uapi header's numbers.
    fn kernel_udp_entry() -> Vec<u8> {
        let tuple = |ty, s: [u8; 4], d: [u8; 4], sp: u16, dp: u16| {
            nest(
                ty,
                &[
                    nest(1, &[attr(1, &s), attr(2, &d)]),
                    nest(
                        2,
                        &[
                            attr(1, &[17]),
                            attr(2, &sp.to_be_bytes()),
                            attr(3, &dp.to_be_bytes()),
                        ],
                    ),
                ],
            )
        };
        [
            tuple(1, [10, 0, 0, 1], [10, 0, 0, 2], 5000, 53),
            tuple(2, [10, 0, 0, 2], [10, 0, 0, 1], 53, 5000),
            attr(18, &7u16.to_be_bytes()),
            // IPS_SEEN_REPLY | IPS_CONFIRMED | IPS_NAT_CLASH (bit 12 is
            // UNTRACKED; bit 13 IPS_HELPER is beyond OVS's mask).
            attr(3, &(0x0000_200au32).to_be_bytes()),
            attr(7, &29u32.to_be_bytes()),
            attr(8, &0x42u32.to_be_bytes()),
            attr(22, &{
                let mut l = [0u8; 16];
                l[0] = 0x01; // label 0
                l[15] = 0x80; // label 127
                l
            }),
            attr(12, &0xdead_beefu32.to_be_bytes()),
            attr(11, &1u32.to_be_bytes()),
        ]
        .concat()
    }

    #[test]
    fn reads_a_kernel_entry() {
        let e = parse_entry(2, &kernel_udp_entry()).unwrap();
        assert_eq!(e.orig.src, v4([10, 0, 0, 1]));
        assert_eq!((e.orig.src_port, e.orig.dst_port), (5000, 53));
        assert_eq!((e.reply.src_port, e.reply.dst_port), (53, 5000));
        assert_eq!(e.zone, 7);
        assert_eq!(e.status, 0xa);
        assert_eq!((e.timeout, e.mark, e.id), (29, 0x42, 0xdead_beef));
        assert_eq!(e.labels, 1 | 1 << 127);
        let mut s = String::new();
        dpif::ct::format::entry(&mut s, &e, false, false);
        assert_eq!(
            s,
            "udp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=5000,dport=53),\
             reply=(src=10.0.0.2,dst=10.0.0.1,sport=53,dport=5000),zone=7,mark=66,\
             labels=0x80000000000000000000000000000001"
        );
    }

    #[test]
    fn writes_what_it_reads_and_what_the_kernel_writes() {
        let e = parse_entry(2, &kernel_udp_entry()).unwrap();
        let mut w = Writer::new();
        put_entry(&mut w, &e, false);
        assert_eq!(parse_entry(2, w.as_bytes()).unwrap(), e);
        // The original tuple's bytes are the kernel's.
        let k = kernel_udp_entry();
        let n = usize::from(u16::from_ne_bytes([k[0], k[1]]));
        assert_eq!(&w.as_bytes()[..n], &k[..n]);
    }

    #[test]
    fn tcp_icmp_helper_parent_round_trip() {
        let t = CtTuple {
            src: "fd00::1".parse().unwrap(),
            dst: "fd00::2".parse().unwrap(),
            proto: IPPROTO_ICMPV6,
            icmp_id: 3,
            icmp_type: 128,
            icmp_code: 0,
            ..CtTuple::default()
        };
        let e = CtEntry {
            orig: t,
            reply: CtTuple {
                src: t.dst,
                dst: t.src,
                icmp_type: 129,
                ..t
            },
            parent: Some(t),
            helper: Some("ftp".into()),
            id: 9,
            status: 8,
            counters_orig: CtCounters {
                packets: 1,
                bytes: 2,
            },
            timestamp: CtTimestamp { start: 5, stop: 0 },
            protoinfo: Some(CtProtoinfo::Tcp(CtTcpInfo {
                state_orig: tcp_state::TIME_WAIT,
                state_reply: tcp_state::TIME_WAIT,
                wscale_orig: 7,
                wscale_reply: 2,
                flags_orig: 3,
                flags_reply: 0x20,
            })),
            bucket: 17,
            ..CtEntry::default()
        };
        let mut w = Writer::new();
        put_entry(&mut w, &e, true);
        assert_eq!(parse_entry(10, w.as_bytes()).unwrap(), e);
        // An ICMPv6 tuple's fields are the ICMPV6 ones (7, 8, 9).
        let mut w = Writer::new();
        put_tuple(&mut w, CTA_TUPLE_ORIG, &t, Some(4));
        let b = w.as_bytes();
        let proto = nest(
            2,
            &[
                attr(1, &[58]),
                attr(7, &3u16.to_be_bytes()),
                attr(8, &[128]),
                attr(9, &[0]),
            ],
        );
        assert!(b.windows(proto.len()).any(|x| x == proto.as_slice()));
        assert_eq!(parse_tuple(&b[4..], 10).unwrap(), (t, Some(4)));
    }

    #[test]
    fn timeout_objects_and_names() {
        assert_eq!(tp_name(1, false, IPPROTO_TCP), "ovs_tp_1_tcp4");
        assert_eq!(tp_name(7, true, IPPROTO_UDP), "ovs_tp_7_udp6");
        assert_eq!(tp_name(7, true, IPPROTO_ICMPV6), "ovs_tp_7_icmpv6");
        assert_eq!(tp_name(7, false, IPPROTO_ICMP), "ovs_tp_7_icmp4");
        let o = TimeoutObject {
            name: "ovs_tp_1_udp4".into(),
            l3: AF_INET,
            l4: IPPROTO_UDP,
            values: vec![(1, 30), (2, 180)],
        };
        let mut w = Writer::new();
        put_timeout(&mut w, &o, Some(1));
        // As nfnetlink_cttimeout.h lays it out.
        let want = [
            attr(1, b"ovs_tp_1_udp4\0"),
            attr(2, &2u16.to_be_bytes()),
            attr(3, &[17]),
            attr(5, &1u32.to_be_bytes()),
            nest(
                4,
                &[
                    attr(1, &30u32.to_be_bytes()),
                    attr(2, &180u32.to_be_bytes()),
                ],
            ),
        ]
        .concat();
        assert_eq!(w.as_bytes(), &want[..]);
        assert_eq!(parse_timeout(&want).unwrap(), o);
        assert!(parse_timeout(&want[..want.len() - 12]).is_err());
    }

    #[test]
    fn rejects_what_ovs_rejects() {
        // No id.
        let mut k = kernel_udp_entry();
        k.truncate(k.len() - 16);
        assert!(parse_entry(2, &k).is_err());
        // ICMP without its code.
        let icmp = nest(
            1,
            &[
                nest(1, &[attr(1, &[1, 1, 1, 1]), attr(2, &[2, 2, 2, 2])]),
                nest(2, &[attr(1, &[1]), attr(4, &[0, 1]), attr(5, &[8])]),
            ],
        );
        assert!(parse_tuple(&icmp[4..], 2).is_err());
        // Truncated attribute.
        assert!(parse_entry(2, &[8, 0, 1, 0, 1]).is_err());
        // Wrong family for the addresses.
        assert!(parse_tuple(&kernel_udp_entry()[4..], 10).is_err());
        assert_eq!(sctp_state_from_kernel(4), 3, "ESTABLISHED");
        assert_eq!(sctp_state_from_kernel(1), 0, "CLOSED");
        assert_eq!(sctp_state_from_kernel(5), 4, "SHUTDOWN_SENT");
        assert_eq!(sctp_state_from_kernel(0), 0);
        for s in 0..=8 {
            assert_eq!(sctp_state_from_kernel(sctp_state_to_kernel(s)), s);
        }
    }
}
