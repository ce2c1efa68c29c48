//! `ovs_flow`: flows of the daemon's datapaths, as the kernel's
//! `ovs_flow_cmd_*` install, change, report and delete them.
//!
//! Keys, masks and actions are read with the kernel's strict rules
//! (`odp::nl::Mode::Strict`). What the userspace datapath cannot do yet
//! answers as a kernel without it does: a conntrack key field is an
//! unknown attribute (`EINVAL`), and so is an action the datapath does not
//! support (a kernel without it would not know the attribute), so Open
//! vSwitch's feature probes conclude "not supported" without a warning.
//!
//! One deviation: a UFID must be 16 bytes (the kernel takes 1 to 16; Open
//! vSwitch always sends 16).

use std::sync::Arc;

use dpif::{DpifFlow, FlowDel, FlowGet, FlowPut, FlowStats, Op, OpReply, Provider, PutFlags};
use dpif_netlink::abi::*;
use nl::errno;
use nl::msg::{MsgBuilder, NLM_F_CREATE, NLM_F_EXCL, NLM_F_MULTI};
use nl::policy::Attrs;
use odp::key::{KeyAttr, Ufid};
use odp::nl::Mode;

use crate::conn::Conn;
use crate::datapath::{reply_if, DpEntry};
use crate::dispatch::{Fail, Handled, Outcome, Req};
use crate::dump::MsgDump;
use crate::families::{FAM_FLOW, GROUP_FLOW};
use crate::policy;
use crate::server::State;

/// Whether a key attribute is one of conntrack's, which the datapath does
/// not support yet.
pub(crate) fn is_conntrack(a: &KeyAttr) -> bool {
    matches!(
        a,
        KeyAttr::CtState(_)
            | KeyAttr::CtZone(_)
            | KeyAttr::CtMark(_)
            | KeyAttr::CtLabels(_)
            | KeyAttr::CtOrigTupleIpv4(_)
            | KeyAttr::CtOrigTupleIpv6(_)
    )
}

/// The key of a request, strictly decoded.
pub(crate) fn key_of(b: &[u8]) -> Result<Vec<KeyAttr>, Fail> {
    let key = odp::nl::key::decode_keys(b, Mode::Strict)
        .map_err(|e| Fail::msg(errno::EINVAL, format!("invalid flow key: {e:?}")))?
        .0;
    if let Some(a) = key.iter().find(|a| is_conntrack(a)) {
        return Err(Fail::msg(
            errno::EINVAL,
            format!(
                "unknown key attribute type {} (conntrack is not supported)",
                a.ty()
            ),
        ));
    }
    Ok(key)
}

/// A datapath failure as the kernel would give it: what the userspace
/// datapath does not support (`EOPNOTSUPP`) is what a kernel without the
/// feature cannot parse (`EINVAL`).
pub(crate) fn unsupported_as_einval(e: dpif::Errno) -> Fail {
    if e == dpif::Errno::EOPNOTSUPP {
        Fail::msg(errno::EINVAL, "action not supported by this datapath")
    } else {
        Fail::from(e)
    }
}

fn ufid_of(a: &Attrs<'_>) -> Result<Option<Ufid>, Fail> {
    match a.get(OVS_FLOW_ATTR_UFID) {
        None => Ok(None),
        Some(b) => {
            let b: [u8; 16] = b
                .try_into()
                .map_err(|_| Fail::msg(errno::EINVAL, "a UFID must be 16 bytes"))?;
            Ok(Some(Ufid(u128::from_ne_bytes(b))))
        }
    }
}

fn encode_keys(k: &[KeyAttr]) -> Vec<u8> {
    let mut w = nl::Writer::new();
    odp::nl::key::emit_keys(k, &mut w);
    w.into_bytes()
}

/// Whether a key or mask attribute is reported as the kernel reports it:
/// not conntrack's (the datapath has none yet), nor the packet type and ND
/// extensions (types that OVS's userspace took for itself and the kernel
/// never sends), as upcall keys leave them out. A flow put without a mask
/// has an exact mask, which the datapath spells out over every field it
/// has; a client that puts back what it dumped must not find attributes
/// there that its keys cannot carry.
pub(crate) fn is_reported(a: &KeyAttr) -> bool {
    !is_conntrack(a) && !matches!(a, KeyAttr::NdExtensions(_) | KeyAttr::PacketType(_))
}

/// `attrs` as reported (see [`is_reported`]).
fn reported(attrs: &[KeyAttr]) -> Vec<KeyAttr> {
    attrs.iter().filter(|a| is_reported(a)).cloned().collect()
}

/// A flow as `ovs_flow_cmd_fill_info` reports it: identifier, key, mask,
/// statistics, actions, less what `ufid_flags` omits.
#[allow(clippy::too_many_arguments)]
pub(crate) fn flow_msg(
    d: &DpEntry,
    ufid: Option<Ufid>,
    flow: Option<&DpifFlow>,
    stats: FlowStats,
    cmd: u8,
    flags: u16,
    seq: u32,
    pid: u32,
    ufid_flags: u32,
) -> Vec<u8> {
    let mut b = MsgBuilder::genl(FAM_FLOW, flags, cmd, OVS_FLOW_VERSION)
        .seq(seq)
        .pid(pid);
    b.header_bytes(&d.ifindex.to_ne_bytes());
    let w = b.attrs();
    if let Some(fl) = flow {
        if ufid_flags & OVS_UFID_F_OMIT_KEY == 0 || ufid.is_none() {
            w.put(OVS_FLOW_ATTR_KEY, &encode_keys(&reported(&fl.key)));
        }
        if ufid_flags & OVS_UFID_F_OMIT_MASK == 0 && !fl.mask.is_empty() {
            w.put(OVS_FLOW_ATTR_MASK, &encode_keys(&reported(&fl.mask)));
        }
    }
    if let Some(u) = ufid {
        w.put(OVS_FLOW_ATTR_UFID, &u.0.to_ne_bytes());
    }
    if stats.n_packets != 0 {
        let s = w.put_zeroed(OVS_FLOW_ATTR_STATS, 16);
        s[..8].copy_from_slice(&stats.n_packets.to_ne_bytes());
        s[8..].copy_from_slice(&stats.n_bytes.to_ne_bytes());
    }
    if stats.tcp_flags != 0 {
        w.put_u8(OVS_FLOW_ATTR_TCP_FLAGS, stats.tcp_flags as u8);
    }
    if stats.used_ms != 0 {
        w.put_u64(OVS_FLOW_ATTR_USED, stats.used_ms);
    }
    if let Some(fl) = flow {
        if ufid_flags & OVS_UFID_F_OMIT_ACTIONS == 0 {
            let a = odp::nl::action::encode_actions(&fl.actions).unwrap_or_default();
            w.put(OVS_FLOW_ATTR_ACTIONS, &a);
        }
    }
    b.finish().unwrap_or_default()
}

fn one(d: &DpEntry, op: Op) -> Result<OpReply, Fail> {
    match d.dp.operate(&[op]).pop() {
        Some(Ok(r)) => Ok(r),
        Some(Err(e)) => Err(unsupported_as_einval(e)),
        None => Err(Fail::new(errno::EIO)),
    }
}

/// Handles an `ovs_flow` request.
pub fn handle(state: &Arc<State>, conn: &Arc<Conn>, req: &Req<'_>) -> Handled {
    let (ifindex, a) = req.ovs(policy::FLOW)?;
    let d = state.find_dp(ifindex, None)?;
    let (seq, pid) = (req.hdr.seq, conn.pid());
    let ufid = ufid_of(&a)?;
    let ufid_flags = a.u32(OVS_FLOW_ATTR_UFID_FLAGS).unwrap_or(0);
    let key = a.get(OVS_FLOW_ATTR_KEY).map(key_of).transpose()?;
    let notify = |m: &[u8]| state.notify(GROUP_FLOW, m, pid);
    match req.cmd {
        OVS_FLOW_CMD_NEW | OVS_FLOW_CMD_SET => {
            let new = req.cmd == OVS_FLOW_CMD_NEW;
            let key = key.ok_or_else(|| Fail::msg(errno::EINVAL, "flow key attribute missing"))?;
            let mask =
                match a.get(OVS_FLOW_ATTR_MASK) {
                    Some(b) => Some(odp::nl::key::decode_mask(b, &key, Mode::Strict).map_err(
                        |e| Fail::msg(errno::EINVAL, format!("invalid flow mask: {e:?}")),
                    )?),
                    None => None,
                };
            let actions =
                match a.get(OVS_FLOW_ATTR_ACTIONS) {
                    Some(b) => Some(odp::nl::action::decode_actions(b, Mode::Strict).map_err(
                        |e| Fail::msg(errno::EINVAL, format!("invalid flow actions: {e:?}")),
                    )?),
                    None if new => {
                        return Err(Fail::msg(errno::EINVAL, "flow actions attribute missing"))
                    }
                    None => None,
                };
            let flags = if !new {
                PutFlags {
                    zero_stats: a.has(OVS_FLOW_ATTR_CLEAR),
                    ..PutFlags::MODIFY
                }
            } else if req.hdr.flags & (NLM_F_CREATE | NLM_F_EXCL) != 0 {
                PutFlags::CREATE
            } else {
                PutFlags::CREATE_OR_MODIFY
            };
            let actions = match actions {
                Some(x) => x,
                // SET without actions changes only the statistics.
                None => match one(
                    &d,
                    Op::Get(FlowGet {
                        key: key.clone(),
                        ufid,
                    }),
                )? {
                    OpReply::Get(fl) => fl.actions,
                    _ => return Err(Fail::new(errno::EIO)),
                },
            };
            let put = FlowPut {
                flags: PutFlags {
                    probe: a.has(OVS_FLOW_ATTR_PROBE),
                    ..flags
                },
                key: key.clone(),
                mask: mask.clone(),
                ufid,
                actions: actions.clone(),
                want_stats: true,
            };
            let stats = match one(&d, Op::Put(put))? {
                OpReply::Put(s) => s.unwrap_or_default(),
                _ => FlowStats::default(),
            };
            let flow = DpifFlow {
                key,
                mask: mask.unwrap_or_default(),
                actions,
                ufid: ufid.unwrap_or_default(),
                stats,
            };
            if !req.echo() && !state.has_members(GROUP_FLOW) {
                return Ok(Outcome::Done);
            }
            let m = flow_msg(
                &d,
                ufid,
                Some(&flow),
                stats,
                req.cmd,
                0,
                seq,
                pid,
                ufid_flags,
            );
            notify(&m);
            Ok(reply_if(req.echo(), m))
        }
        OVS_FLOW_CMD_DEL => {
            if key.is_none() && ufid.is_none() {
                d.dp.flow_flush()?;
                return Ok(Outcome::Done);
            }
            let del = FlowDel {
                key: key.unwrap_or_default(),
                ufid,
                want_stats: true,
            };
            let stats = match one(&d, Op::Del(del))? {
                OpReply::Del(s) => s.unwrap_or_default(),
                _ => FlowStats::default(),
            };
            let m = flow_msg(&d, ufid, None, stats, OVS_FLOW_CMD_DEL, 0, seq, pid, 0);
            notify(&m);
            Ok(reply_if(req.echo(), m))
        }
        OVS_FLOW_CMD_GET if req.dump() => {
            let terse = ufid_flags
                & (OVS_UFID_F_OMIT_KEY | OVS_UFID_F_OMIT_MASK | OVS_UFID_F_OMIT_ACTIONS)
                == (OVS_UFID_F_OMIT_KEY | OVS_UFID_F_OMIT_MASK | OVS_UFID_F_OMIT_ACTIONS);
            let flows = d.dp.flow_dump_owned(terse)?;
            let msgs = flows.map(move |fl| {
                flow_msg(
                    &d,
                    Some(fl.ufid),
                    Some(&fl),
                    fl.stats,
                    OVS_FLOW_CMD_GET,
                    NLM_F_MULTI,
                    seq,
                    pid,
                    ufid_flags,
                )
            });
            Ok(Outcome::Dump(Box::new(MsgDump::new(msgs, seq, pid))))
        }
        OVS_FLOW_CMD_GET => {
            if key.is_none() && ufid.is_none() {
                return Err(Fail::msg(errno::EINVAL, "flow get needs a key or a UFID"));
            }
            let get = FlowGet {
                key: key.unwrap_or_default(),
                ufid,
            };
            match one(&d, Op::Get(get))? {
                OpReply::Get(fl) => Ok(Outcome::Reply(flow_msg(
                    &d,
                    Some(fl.ufid),
                    Some(&fl),
                    fl.stats,
                    OVS_FLOW_CMD_GET,
                    0,
                    seq,
                    pid,
                    ufid_flags,
                ))),
                _ => Err(Fail::new(errno::EIO)),
            }
        }
        _ => Err(Fail::new(errno::EOPNOTSUPP)),
    }
}
