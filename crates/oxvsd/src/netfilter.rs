//! The conntrack subsystems of netfilter netlink, as the kernel's
//! nf_conntrack_netlink.c and nfnetlink_cttimeout.c answer them, on the
//! trackers of the daemon's datapaths (which ones: [`crate::conntrack`]).
//! Open vSwitch speaks them for a `system` datapath's connection tracking
//! (`dpctl/dump-conntrack`, `flush-conntrack`, timeout policies);
//! programs run under `oxvs-run` send them here. Messages are read with
//! [`dpif_netlink::ctnetlink`], the codec oxvs's own client uses.
//!
//! Every request needs root (`EPERM`), as nfnetlink needs
//! `CAP_NET_ADMIN`; a payload shorter than `nfgenmsg` or an attribute
//! the policy rejects is `EINVAL`.
//!
//! # ctnetlink
//!
//! - `IPCTNL_MSG_CT_GET` with `NLM_F_DUMP`: every connection, filtered by
//!   `nfgen_family` (unless `AF_UNSPEC`), `CTA_ZONE`, and `CTA_MARK` under
//!   `CTA_MARK_MASK` (all ones without); entries as `IPCTNL_MSG_CT_NEW`
//!   messages of the entry's family, with `OXVS_CTA_BUCKET`.
//! - `IPCTNL_MSG_CT_GET` (and `_GET_CTRZERO`, without zeroing): the
//!   connection whose `CTA_TUPLE_ORIG` (else `CTA_TUPLE_REPLY`) is given,
//!   in `CTA_ZONE` (0 without); `EINVAL` without a tuple or for a family
//!   other than `AF_INET`/`AF_INET6`, `ENOENT` if there is none.
//! - `IPCTNL_MSG_CT_DELETE` with a tuple: that connection (`ENOENT` if
//!   none, or if `CTA_ID` is given and differs); without: every
//!   connection of `nfgen_family` (all for `AF_UNSPEC`) whose mark matches
//!   `CTA_MARK`/`CTA_MARK_MASK` if given.
//! - `IPCTNL_MSG_CT_NEW` (creating or changing connections), the
//!   statistics, dying and unconfirmed lists, and expectations:
//!   `EOPNOTSUPP`. A message type past the subsystem's: `EINVAL`.
//!
//! # cttimeout
//!
//! Timeout objects (`IPCTNL_MSG_TIMEOUT_NEW/GET/DELETE`), kept by name
//! for the daemon: `NEW` needs name, L3 and L4 protocol and data
//! (`EINVAL`), replaces an object of the same protocol (`EEXIST` with
//! `NLM_F_EXCL`, `EINVAL` for another protocol); unset timeouts take the
//! kernel's defaults. `GET` by name (`ENOENT`) or as a dump reports every
//! timeout of the object's protocol; `DELETE` by name (`ENOENT`), or all.
//! Each object is also a timeout policy of that name on every datapath's
//! tracker (the defaults, with its protocol's timeouts), which
//! `ct(timeout=NAME)` actions use; datapaths created later get them too.

use std::sync::Arc;

use dpif::ct::{CtEntry, CtFlush, AF_INET, AF_INET6};
use dpif::Provider;
use dpif_netlink::ctnetlink::*;
use nl::errno;
use nl::msg::{Message, MsgBuilder, NLM_F_DUMP, NLM_F_EXCL, NLM_F_MULTI};
use nl::policy::{Attrs, Kind, Policy};

use crate::conn::Conn;
use crate::conntrack::targets;
use crate::dispatch::{admin, Fail, Handled, Outcome};
use crate::dump::MsgDump;
use crate::lock;
use crate::server::State;

/// `NFNL_SUBSYS_CTNETLINK`.
pub const NFNL_SUBSYS_CTNETLINK: u16 = 1;
/// `NFNL_SUBSYS_CTNETLINK_EXP`.
pub const NFNL_SUBSYS_CTNETLINK_EXP: u16 = 2;
/// `NFNL_SUBSYS_CTNETLINK_TIMEOUT`.
pub const NFNL_SUBSYS_CTNETLINK_TIMEOUT: u16 = 8;

/// Whether a message type is one of those subsystems' (subsystem in the
/// high byte).
pub fn is_netfilter(ty: u16) -> bool {
    matches!(
        ty >> 8,
        NFNL_SUBSYS_CTNETLINK | NFNL_SUBSYS_CTNETLINK_EXP | NFNL_SUBSYS_CTNETLINK_TIMEOUT
    )
}

/// ctnetlink requests (the kernel's `ct_nla_policy`).
const CT_POLICY: Policy = &[
    (CTA_TUPLE_ORIG, Kind::Nested),
    (CTA_TUPLE_REPLY, Kind::Nested),
    (CTA_STATUS, Kind::U32),
    (CTA_PROTOINFO, Kind::Nested),
    (CTA_HELP, Kind::Nested),
    (CTA_NAT_SRC, Kind::Nested),
    (CTA_TIMEOUT, Kind::U32),
    (CTA_MARK, Kind::U32),
    (CTA_ID, Kind::U32),
    (CTA_TUPLE_MASTER, Kind::Nested),
    (CTA_ZONE, Kind::U16),
    (CTA_MARK_MASK, Kind::U32),
    (CTA_LABELS, Kind::Binary { min: 0, max: 16 }),
    (CTA_LABELS_MASK, Kind::Binary { min: 0, max: 16 }),
    (OXVS_CTA_DP_IFINDEX, Kind::U32),
];

/// cttimeout requests (the kernel's `cttimeout_nla_policy`).
const TIMEOUT_POLICY: Policy = &[
    (
        CTA_TIMEOUT_NAME,
        Kind::String {
            max: CTNL_TIMEOUT_NAME_MAX,
        },
    ),
    (CTA_TIMEOUT_L3PROTO, Kind::U16),
    (CTA_TIMEOUT_L4PROTO, Kind::U8),
    (CTA_TIMEOUT_DATA, Kind::Nested),
];

/// Handles a conntrack request.
pub fn handle(state: &Arc<State>, conn: &Arc<Conn>, m: &Message<'_>) -> Handled {
    admin(conn)?;
    let (family, _version, attrs) =
        split(m.payload()).map_err(|e| Fail::msg(errno::EINVAL, e.0))?;
    let msg = (m.header.ty & 0xff) as u8;
    match m.header.ty >> 8 {
        NFNL_SUBSYS_CTNETLINK => ctnetlink(state, conn, m, msg, family, attrs),
        NFNL_SUBSYS_CTNETLINK_TIMEOUT => cttimeout(state, conn, m, msg, attrs),
        _ => Err(Fail::msg(
            errno::EOPNOTSUPP,
            "conntrack expectations are not supported",
        )),
    }
}

fn be16(a: &Attrs<'_>, ty: u16) -> Option<u16> {
    a.get(ty)
        .and_then(|p| p.try_into().ok())
        .map(u16::from_be_bytes)
}

fn be32(a: &Attrs<'_>, ty: u16) -> Option<u32> {
    a.get(ty)
        .and_then(|p| p.try_into().ok())
        .map(u32::from_be_bytes)
}

fn bad(e: Malformed) -> Fail {
    Fail::msg(errno::EINVAL, e.0)
}

/// An entry as an `IPCTNL_MSG_CT_NEW` message.
fn entry_msg(e: &CtEntry, flags: u16, seq: u32, pid: u32) -> Vec<u8> {
    let mut b = MsgBuilder::new(msg_type(1, IPCTNL_MSG_CT_NEW), flags)
        .seq(seq)
        .pid(pid);
    b.header_bytes(&[e.orig.l3_type() as u8, NFNETLINK_V0, 0, 0]);
    put_entry(b.attrs(), e, true);
    b.finish().unwrap_or_default()
}

fn ctnetlink(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    m: &Message<'_>,
    msg: u8,
    family: u8,
    attrs: &[u8],
) -> Handled {
    let a = Attrs::parse(attrs, CT_POLICY)?;
    let dps = targets(state, a.u32(OXVS_CTA_DP_IFINDEX).unwrap_or(0) as i32)?;
    let (seq, pid) = (m.header.seq, conn.pid());
    let zone = be16(&a, CTA_ZONE);
    let mark = be32(&a, CTA_MARK).map(|v| (v, be32(&a, CTA_MARK_MASK).unwrap_or(u32::MAX)));
    let selected = move |e: &CtEntry| {
        (family == AF_UNSPEC || u16::from(family) == e.orig.l3_type())
            && zone.is_none_or(|z| z == e.zone)
            && mark.is_none_or(|(v, k)| e.mark & k == v & k)
    };
    match msg {
        IPCTNL_MSG_CT_GET | IPCTNL_MSG_CT_GET_CTRZERO
            if m.header.flags & NLM_F_DUMP == NLM_F_DUMP =>
        {
            let mut entries = Vec::new();
            for d in &dps {
                entries.extend(d.dp.ct_dump(None)?.entries.into_iter().filter(&selected));
            }
            let msgs = entries
                .into_iter()
                .map(move |e| entry_msg(&e, NLM_F_MULTI, seq, pid));
            Ok(Outcome::Dump(Box::new(MsgDump::new(msgs, seq, pid))))
        }
        IPCTNL_MSG_CT_GET | IPCTNL_MSG_CT_GET_CTRZERO => {
            let e = find(&dps, &a, family, zone.unwrap_or(0))?.1;
            Ok(Outcome::Reply(entry_msg(&e, 0, seq, pid)))
        }
        IPCTNL_MSG_CT_DELETE if a.has(CTA_TUPLE_ORIG) || a.has(CTA_TUPLE_REPLY) => {
            let (d, e) = find(&dps, &a, family, zone.unwrap_or(0))?;
            if be32(&a, CTA_ID).is_some_and(|id| id != e.id) {
                return Err(Fail::new(errno::ENOENT));
            }
            d.dp.ct_flush(&CtFlush {
                zone: Some(e.zone),
                orig: Some(e.orig),
                ..CtFlush::default()
            })?;
            Ok(Outcome::Done)
        }
        IPCTNL_MSG_CT_DELETE => {
            for d in &dps {
                if family == AF_UNSPEC {
                    d.dp.ct_flush(&CtFlush {
                        mark,
                        ..CtFlush::default()
                    })?;
                    continue;
                }
                for e in d.dp.ct_dump(None)?.entries.into_iter().filter(|e| {
                    u16::from(family) == e.orig.l3_type()
                        && mark.is_none_or(|(v, k)| e.mark & k == v & k)
                }) {
                    let r = d.dp.ct_flush(&CtFlush {
                        zone: Some(e.zone),
                        orig: Some(e.orig),
                        ..CtFlush::default()
                    });
                    // Gone meanwhile: not an error for a flush.
                    if let Err(err) = r {
                        if err != dpif::Errno::ENOENT {
                            return Err(err.into());
                        }
                    }
                }
            }
            Ok(Outcome::Done)
        }
        IPCTNL_MSG_CT_NEW => Err(Fail::msg(
            errno::EOPNOTSUPP,
            "creating or changing connections over ctnetlink is not supported",
        )),
        x if x < IPCTNL_MSG_MAX => Err(Fail::msg(errno::EOPNOTSUPP, "not supported by oxvsd")),
        _ => Err(Fail::new(errno::EINVAL)),
    }
}

/// The connection a get or delete names by tuple, and its datapath.
fn find(
    dps: &[Arc<crate::datapath::DpEntry>],
    a: &Attrs<'_>,
    family: u8,
    zone: u16,
) -> Result<(Arc<crate::datapath::DpEntry>, CtEntry), Fail> {
    let fam = u16::from(family);
    if fam != AF_INET && fam != AF_INET6 {
        return Err(Fail::msg(errno::EINVAL, "unsupported address family"));
    }
    let Some(raw) = a.get(CTA_TUPLE_ORIG).or(a.get(CTA_TUPLE_REPLY)) else {
        return Err(Fail::new(errno::EINVAL));
    };
    let (t, _) = parse_tuple(raw, fam).map_err(bad)?;
    // Either tuple finds its connection in either direction, as the
    // kernel's hash lookup does.
    let now = dpif_netdev::flow::now_ms();
    for d in dps {
        if let Some(e) = d.dp.conntrack().get(&t, zone, now) {
            return Ok((d.clone(), e));
        }
    }
    Err(Fail::new(errno::ENOENT))
}

/// A cttimeout object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeoutObj {
    /// `CTA_TIMEOUT_L3PROTO`.
    pub l3: u16,
    /// `CTA_TIMEOUT_L4PROTO`.
    pub l4: u8,
    /// Seconds, by attribute number minus one.
    pub values: Vec<u32>,
}

/// The kernel's default timeouts of a protocol, in attribute order
/// (`CTA_TIMEOUT_TCP_*`, `_UDP_*`, `_ICMP(V6)_TIMEOUT`, `_GENERIC_TIMEOUT`).
fn default_values(l4: u8) -> Vec<u32> {
    let d = conntrack::timeout::Timeouts::default();
    let t = d.tcp;
    match l4 {
        dpif::ct::IPPROTO_TCP => vec![
            t.syn_sent,
            t.syn_recv,
            t.established,
            t.fin_wait,
            t.close_wait,
            t.last_ack,
            t.time_wait,
            t.close,
            t.syn_sent2,
            t.retrans,
            t.unack,
        ],
        dpif::ct::IPPROTO_UDP | dpif::ct::IPPROTO_UDPLITE => vec![d.udp_unreplied, d.udp_replied],
        dpif::ct::IPPROTO_ICMP => vec![d.icmp],
        dpif::ct::IPPROTO_ICMPV6 => vec![d.icmpv6],
        _ => vec![d.generic],
    }
}

impl TimeoutObj {
    /// The tracker timeout policy this object is: the defaults, with this
    /// protocol's timeouts.
    fn policy(&self, name: &str) -> conntrack::timeout::TimeoutPolicy {
        use conntrack::timeout::TpAttr::*;
        let mut t = conntrack::timeout::Timeouts::default();
        let v = &self.values;
        match self.l4 {
            dpif::ct::IPPROTO_TCP => {
                for (attr, val) in [
                    TcpSynSent,
                    TcpSynRecv,
                    TcpEstablished,
                    TcpFinWait,
                    TcpCloseWait,
                    TcpLastAck,
                    TcpTimeWait,
                    TcpClose,
                    TcpSynSent2,
                    TcpRetransmit,
                    TcpUnack,
                ]
                .into_iter()
                .zip(v)
                {
                    t.set(attr, *val);
                }
            }
            dpif::ct::IPPROTO_UDP | dpif::ct::IPPROTO_UDPLITE => {
                t.set(UdpFirst, v[0]);
                t.set(UdpMultiple, v[1]);
            }
            dpif::ct::IPPROTO_ICMP => t.icmp = v[0],
            dpif::ct::IPPROTO_ICMPV6 => t.icmpv6 = v[0],
            _ => t.generic = v[0],
        }
        conntrack::timeout::TimeoutPolicy {
            name: name.to_string(),
            timeouts: t,
        }
    }

    fn msg(&self, name: &str, flags: u16, seq: u32, pid: u32) -> Vec<u8> {
        let mut b = MsgBuilder::new(msg_type(8, IPCTNL_MSG_TIMEOUT_NEW), flags)
            .seq(seq)
            .pid(pid);
        b.header_bytes(&[AF_UNSPEC, NFNETLINK_V0, 0, 0]);
        let o = TimeoutObject {
            name: name.to_string(),
            l3: self.l3,
            l4: self.l4,
            values: (1..).zip(self.values.iter().copied()).collect(),
        };
        put_timeout(b.attrs(), &o, Some(1));
        b.finish().unwrap_or_default()
    }
}

/// Gives a new datapath's tracker every timeout object as a policy.
pub(crate) fn apply_timeouts(
    objs: &std::collections::BTreeMap<String, TimeoutObj>,
    dp: &dpif_netdev::Datapath,
) {
    for (name, o) in objs {
        dp.conntrack().set_timeout_policy(o.policy(name));
    }
}

fn cttimeout(
    state: &Arc<State>,
    conn: &Arc<Conn>,
    m: &Message<'_>,
    msg: u8,
    attrs: &[u8],
) -> Handled {
    let a = Attrs::parse(attrs, TIMEOUT_POLICY)?;
    let (seq, pid) = (m.header.seq, conn.pid());
    let name = a.string(CTA_TIMEOUT_NAME);
    let all = || targets(state, 0);
    match msg {
        IPCTNL_MSG_TIMEOUT_NEW => {
            let (Some(name), Some(l3), Some(l4), Some(data)) = (
                name,
                be16(&a, CTA_TIMEOUT_L3PROTO),
                a.u8(CTA_TIMEOUT_L4PROTO),
                a.get(CTA_TIMEOUT_DATA),
            ) else {
                return Err(Fail::new(errno::EINVAL));
            };
            let mut objs = lock(&state.ct_timeouts);
            let mut values = match objs.get(name) {
                Some(_) if m.header.flags & NLM_F_EXCL != 0 => {
                    return Err(Fail::new(errno::EEXIST))
                }
                Some(o) if o.l3 != l3 || o.l4 != l4 => return Err(Fail::new(errno::EINVAL)),
                Some(o) => o.values.clone(),
                None => default_values(l4),
            };
            for at in nl::AttrIter::new(data) {
                let at = at.map_err(|e| Fail::msg(errno::EINVAL, e.to_string()))?;
                let i = usize::from(at.ty);
                if i == 0 || i > values.len() {
                    continue;
                }
                values[i - 1] = at.u32_be().ok_or_else(|| Fail::new(errno::EINVAL))?;
            }
            let obj = TimeoutObj { l3, l4, values };
            for d in all()? {
                d.dp.conntrack().set_timeout_policy(obj.policy(name));
            }
            objs.insert(name.to_string(), obj);
            Ok(Outcome::Done)
        }
        IPCTNL_MSG_TIMEOUT_GET if m.header.flags & NLM_F_DUMP == NLM_F_DUMP => {
            let msgs: Vec<Vec<u8>> = lock(&state.ct_timeouts)
                .iter()
                .map(|(n, o)| o.msg(n, NLM_F_MULTI, seq, pid))
                .collect();
            Ok(Outcome::Dump(Box::new(MsgDump::new(
                msgs.into_iter(),
                seq,
                pid,
            ))))
        }
        IPCTNL_MSG_TIMEOUT_GET => {
            let name = name.ok_or_else(|| Fail::new(errno::EINVAL))?;
            let objs = lock(&state.ct_timeouts);
            let o = objs.get(name).ok_or_else(|| Fail::new(errno::ENOENT))?;
            Ok(Outcome::Reply(o.msg(name, 0, seq, pid)))
        }
        IPCTNL_MSG_TIMEOUT_DELETE => {
            let mut objs = lock(&state.ct_timeouts);
            let names: Vec<String> = match name {
                Some(n) if objs.contains_key(n) => vec![n.to_string()],
                Some(_) => return Err(Fail::new(errno::ENOENT)),
                None => objs.keys().cloned().collect(),
            };
            for n in names {
                objs.remove(&n);
                for d in all()? {
                    d.dp.conntrack().del_timeout_policy(&n);
                }
            }
            Ok(Outcome::Done)
        }
        _ => Err(Fail::msg(errno::EOPNOTSUPP, "not supported by oxvsd")),
    }
}
