//! Datapath actions to and from the kernel's netlink encoding.
//!
//! [`emit_actions`] writes an action list as `OVS_ACTION_ATTR_*` attributes,
//! bit-exact with what OVS builds. [`decode_actions`] reads one back:
//!
//! - [`Mode::Strict`] applies the kernel's validation of action lists
//!   (`net/openvswitch/flow_netlink.c`): known types only, exact payload
//!   lengths, required sub-attributes, no duplicates, no trailing bytes,
//!   nested action lists at most [`MAX_DEPTH`] deep, and the checks on an
//!   action's own values (a nonzero `userspace` pid, `trunc` to at least an
//!   Ethernet header, MPLS EtherTypes, at most one of commit/force_commit).
//!   Checks that need the flow the actions belong to (e.g. that `push_vlan`
//!   applies to an Ethernet packet, or that a `set` field exists in it) are
//!   left to the datapath. The userspace-only actions (`tnl_push`,
//!   `tnl_pop`, `lb_output`) are accepted, since this crate serves a
//!   userspace datapath too.
//! - [`Mode::Tolerant`] keeps what it does not understand as
//!   [`Action::Unknown`] (including known actions with a malformed payload).
//!
//! ```
//! use odp::action::Action;
//! use odp::key::PortNo;
//! use odp::nl::{action, Mode};
//! let mut w = nl::Writer::new();
//! action::emit_actions(&[Action::Output(PortNo(1)), Action::PopVlan], &mut w);
//! let bytes = w.into_bytes();
//! assert_eq!(bytes, [8, 0, 1, 0, 1, 0, 0, 0, 4, 0, 5, 0]);
//! let back = action::decode_actions(&bytes, Mode::Strict).unwrap();
//! assert_eq!(back, [Action::Output(PortNo(1)), Action::PopVlan]);
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use nl::{Attr, AttrIter, Writer, NLA_F_NESTED};

use crate::abi::*;
use crate::action::{
    fixed_len, Action, Ct, Nat, NatKind, TunnelPush, Userspace, TNL_PUSH_HEADER_MAX,
};
use crate::error::{DecodeError, DecodeErrorKind as K};
use crate::key::{KeyAttr, MplsLse, NshAttr, NshBase, PortNo, RecircId};
use crate::nl::Mode;

/// Deepest nesting of action lists accepted (the kernel's
/// `OVS_COPY_ACTIONS_MAX_DEPTH`).
pub const MAX_DEPTH: usize = 16;

/// Largest encoded action list: it must fit in one netlink attribute.
pub const MAX_ACTIONS_LEN: usize = u16::MAX as usize;

/// Longest `psample` cookie (`OVS_PSAMPLE_COOKIE_MAX_SIZE`).
pub const PSAMPLE_COOKIE_MAX: usize = 16;

/// Longest NSH MD2 context (`NSH_CTX_HDRS_MAX_LEN`).
const NSH_MD2_MAX: usize = 248;

/// The key attribute codecs used inside `set`, `set_masked`.
mod keyglue {
    use crate::error::DecodeError;
    use crate::key::KeyAttr;
    use crate::nl::Mode;

    pub(super) fn emit_payload(attr: &KeyAttr, out: &mut Vec<u8>) {
        crate::nl::key::emit_payload(attr, out)
    }

    pub(super) fn decode_attr(ty: u16, payload: &[u8], mode: Mode) -> Result<KeyAttr, DecodeError> {
        crate::nl::key::decode_attr(ty, payload, mode)
    }
}

/// Appends `actions` to `w`, one attribute each, as OVS encodes them.
///
/// The result may exceed netlink's 64 kB limit; [`encode_actions`] checks.
pub fn emit_actions(actions: &[Action], w: &mut Writer) {
    for a in actions {
        emit_action(a, w);
    }
}

/// Encodes `actions` into a fresh buffer, failing with
/// [`K::TooLong`] if they do not fit in one netlink attribute.
pub fn encode_actions(actions: &[Action]) -> Result<Vec<u8>, DecodeError> {
    let mut w = Writer::new();
    emit_actions(actions, &mut w);
    if w.overflowed() || w.len() > MAX_ACTIONS_LEN {
        return Err(DecodeError {
            kind: K::TooLong,
            path: vec![],
        });
    }
    Ok(w.into_bytes())
}

fn emit_nested_list(w: &mut Writer, ty: u16, actions: &[Action]) {
    let n = w.begin_nested(ty);
    emit_actions(actions, w);
    w.end_nested(n);
}

fn ip_bytes(ip: &IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

/// The payload of a key attribute (the `nl::key` codec, except for NSH,
/// whose layout inside actions this module owns).
pub(crate) fn key_payload(attr: &KeyAttr) -> Vec<u8> {
    let mut out = Vec::new();
    match attr {
        KeyAttr::Nsh(attrs) => {
            let mut w = Writer::new();
            emit_nsh_attrs(attrs, &mut w);
            out = w.into_bytes();
        }
        KeyAttr::Unknown { payload, .. } => out.extend_from_slice(payload),
        other => keyglue::emit_payload(other, &mut out),
    }
    out
}

fn nsh_attr_payload(a: &NshAttr) -> Vec<u8> {
    match a {
        NshAttr::Base(b) => {
            let mut p = vec![b.flags, b.ttl, b.mdtype, b.np];
            p.extend_from_slice(&b.path_hdr.to_be_bytes());
            p
        }
        NshAttr::Md1(c) => c.iter().flat_map(|v| v.to_be_bytes()).collect(),
        NshAttr::Md2(p) => p.clone(),
        NshAttr::Unknown { payload, .. } => payload.clone(),
    }
}

fn emit_nsh_attrs(attrs: &[NshAttr], w: &mut Writer) {
    for a in attrs {
        w.put(a.ty(), &nsh_attr_payload(a));
    }
}

fn emit_action(a: &Action, w: &mut Writer) {
    match a {
        Action::Output(p) => w.put_u32(OVS_ACTION_ATTR_OUTPUT, p.0),
        Action::Userspace(u) => emit_userspace(u, w),
        Action::Set(key) => {
            let n = w.begin_nested(OVS_ACTION_ATTR_SET);
            w.put(key.ty(), &key_payload(key));
            w.end_nested(n);
        }
        Action::SetMasked { key, mask } => {
            let n = w.begin_nested(OVS_ACTION_ATTR_SET_MASKED);
            let payload = match (key, mask) {
                (KeyAttr::Nsh(k), KeyAttr::Nsh(m)) => {
                    // Inside a masked set each NSH sub-attribute carries its
                    // value followed by its mask.
                    let mut inner = Writer::new();
                    for (ka, ma) in k.iter().zip(m.iter()) {
                        let mut p = nsh_attr_payload(ka);
                        p.extend_from_slice(&nsh_attr_payload(ma));
                        inner.put(ka.ty(), &p);
                    }
                    inner.into_bytes()
                }
                _ => {
                    let mut p = key_payload(key);
                    p.extend_from_slice(&key_payload(mask));
                    p
                }
            };
            w.put(key.ty(), &payload);
            w.end_nested(n);
        }
        Action::PushVlan { tpid, tci } => {
            let mut p = [0u8; 4];
            p[..2].copy_from_slice(&tpid.to_be_bytes());
            p[2..].copy_from_slice(&tci.to_be_bytes());
            w.put(OVS_ACTION_ATTR_PUSH_VLAN, &p);
        }
        Action::PopVlan => w.put_flag(OVS_ACTION_ATTR_POP_VLAN),
        Action::Sample {
            probability,
            actions,
        } => {
            let n = w.begin_nested(OVS_ACTION_ATTR_SAMPLE);
            w.put_u32(OVS_SAMPLE_ATTR_PROBABILITY, *probability);
            emit_nested_list(w, OVS_SAMPLE_ATTR_ACTIONS, actions);
            w.end_nested(n);
        }
        Action::Recirc(id) => w.put_u32(OVS_ACTION_ATTR_RECIRC, id.0),
        Action::Hash { alg, basis } => {
            let mut p = [0u8; 8];
            p[..4].copy_from_slice(&alg.to_ne_bytes());
            p[4..].copy_from_slice(&basis.to_ne_bytes());
            w.put(OVS_ACTION_ATTR_HASH, &p);
        }
        Action::PushMpls { lse, ethertype } => {
            let mut p = [0u8; 8];
            p[..4].copy_from_slice(&lse.0.to_be_bytes());
            p[4..6].copy_from_slice(&ethertype.to_be_bytes());
            w.put(OVS_ACTION_ATTR_PUSH_MPLS, &p);
        }
        Action::PopMpls { ethertype } => w.put_u16_be(OVS_ACTION_ATTR_POP_MPLS, *ethertype),
        Action::Ct(ct) => emit_ct(ct, w),
        Action::Trunc { max_len } => w.put_u32(OVS_ACTION_ATTR_TRUNC, *max_len),
        Action::PushEth { src, dst } => {
            let mut p = [0u8; 12];
            p[..6].copy_from_slice(src);
            p[6..].copy_from_slice(dst);
            w.put(OVS_ACTION_ATTR_PUSH_ETH, &p);
        }
        Action::PopEth => w.put_flag(OVS_ACTION_ATTR_POP_ETH),
        Action::CtClear => w.put_flag(OVS_ACTION_ATTR_CT_CLEAR),
        Action::PushNsh(attrs) => {
            let n = w.begin_nested(OVS_ACTION_ATTR_PUSH_NSH);
            let k = w.begin_nested(OVS_KEY_ATTR_NSH);
            emit_nsh_attrs(attrs, w);
            w.end_nested(k);
            w.end_nested(n);
        }
        Action::PopNsh => w.put_flag(OVS_ACTION_ATTR_POP_NSH),
        Action::Meter(m) => w.put_u32(OVS_ACTION_ATTR_METER, *m),
        Action::Clone(actions) => emit_nested_list(w, OVS_ACTION_ATTR_CLONE, actions),
        Action::CheckPktLen { pkt_len, gt, le } => {
            let n = w.begin_nested(OVS_ACTION_ATTR_CHECK_PKT_LEN);
            w.put_u16(OVS_CHECK_PKT_LEN_ATTR_PKT_LEN, *pkt_len);
            emit_nested_list(w, OVS_CHECK_PKT_LEN_ATTR_ACTIONS_IF_GREATER, gt);
            emit_nested_list(w, OVS_CHECK_PKT_LEN_ATTR_ACTIONS_IF_LESS_EQUAL, le);
            w.end_nested(n);
        }
        Action::AddMpls {
            lse,
            ethertype,
            tun_flags,
        } => {
            let mut p = [0u8; 8];
            p[..4].copy_from_slice(&lse.0.to_be_bytes());
            p[4..6].copy_from_slice(&ethertype.to_be_bytes());
            p[6..].copy_from_slice(&tun_flags.to_ne_bytes());
            w.put(OVS_ACTION_ATTR_ADD_MPLS, &p);
        }
        Action::DecTtl(actions) => {
            let n = w.begin_nested(OVS_ACTION_ATTR_DEC_TTL);
            emit_nested_list(w, OVS_DEC_TTL_ATTR_ACTION, actions);
            w.end_nested(n);
        }
        Action::Drop(code) => w.put_u32(OVS_ACTION_ATTR_DROP, *code),
        Action::Psample { group, cookie } => {
            // OVS marks this one nest with NLA_F_NESTED.
            let n = w.begin_nested(OVS_ACTION_ATTR_PSAMPLE | NLA_F_NESTED);
            w.put_u32(OVS_PSAMPLE_ATTR_GROUP, *group);
            if let Some(c) = cookie {
                w.put(OVS_PSAMPLE_ATTR_COOKIE, c);
            }
            w.end_nested(n);
        }
        Action::TunnelPush(t) => {
            let mut p = Vec::with_capacity(16 + t.header.len());
            p.extend_from_slice(&t.tnl_port.0.to_ne_bytes());
            p.extend_from_slice(&t.out_port.0.to_ne_bytes());
            let hlen = u32::try_from(t.header.len()).unwrap_or(u32::MAX);
            p.extend_from_slice(&hlen.to_ne_bytes());
            p.extend_from_slice(&t.tnl_type.to_ne_bytes());
            p.extend_from_slice(&t.header);
            w.put(OVS_ACTION_ATTR_TUNNEL_PUSH, &p);
        }
        Action::TunnelPop(p) => w.put_u32(OVS_ACTION_ATTR_TUNNEL_POP, p.0),
        Action::LbOutput(b) => w.put_u32(OVS_ACTION_ATTR_LB_OUTPUT, *b),
        Action::Unknown { ty, payload } => w.put(*ty, payload),
    }
}

fn emit_userspace(u: &Userspace, w: &mut Writer) {
    let n = w.begin_nested(OVS_ACTION_ATTR_USERSPACE);
    w.put_u32(OVS_USERSPACE_ATTR_PID, u.pid);
    if let Some(d) = &u.userdata {
        w.put(OVS_USERSPACE_ATTR_USERDATA, d);
    }
    if let Some(p) = u.egress_tun_port {
        w.put_u32(OVS_USERSPACE_ATTR_EGRESS_TUN_PORT, p.0);
    }
    if u.actions {
        w.put_flag(OVS_USERSPACE_ATTR_ACTIONS);
    }
    w.end_nested(n);
}

fn emit_ct(ct: &Ct, w: &mut Writer) {
    let n = w.begin_nested(OVS_ACTION_ATTR_CT);
    if ct.commit {
        w.put_flag(OVS_CT_ATTR_COMMIT);
    }
    if ct.force_commit {
        w.put_flag(OVS_CT_ATTR_FORCE_COMMIT);
    }
    if let Some(z) = ct.zone {
        w.put_u16(OVS_CT_ATTR_ZONE, z);
    }
    if let Some((v, m)) = ct.mark {
        let mut p = [0u8; 8];
        p[..4].copy_from_slice(&v.to_ne_bytes());
        p[4..].copy_from_slice(&m.to_ne_bytes());
        w.put(OVS_CT_ATTR_MARK, &p);
    }
    if let Some((v, m)) = ct.labels {
        let mut p = [0u8; 32];
        p[..16].copy_from_slice(&v.to_le_bytes());
        p[16..].copy_from_slice(&m.to_le_bytes());
        w.put(OVS_CT_ATTR_LABELS, &p);
    }
    if let Some(h) = &ct.helper {
        w.put_string(OVS_CT_ATTR_HELPER, h);
    }
    if let Some(t) = &ct.timeout {
        w.put_string(OVS_CT_ATTR_TIMEOUT, t);
    }
    if let Some(e) = ct.eventmask {
        w.put_u32(OVS_CT_ATTR_EVENTMASK, e);
    }
    if let Some(nat) = &ct.nat {
        let nn = w.begin_nested(OVS_CT_ATTR_NAT);
        match nat.kind {
            Some(NatKind::Src) => w.put_flag(OVS_NAT_ATTR_SRC),
            Some(NatKind::Dst) => w.put_flag(OVS_NAT_ATTR_DST),
            None => {}
        }
        if let Some(ip) = &nat.ip_min {
            w.put(OVS_NAT_ATTR_IP_MIN, &ip_bytes(ip));
        }
        if let Some(ip) = &nat.ip_max {
            w.put(OVS_NAT_ATTR_IP_MAX, &ip_bytes(ip));
        }
        if let Some(p) = nat.proto_min {
            w.put_u16(OVS_NAT_ATTR_PROTO_MIN, p);
        }
        if let Some(p) = nat.proto_max {
            w.put_u16(OVS_NAT_ATTR_PROTO_MAX, p);
        }
        if nat.persistent {
            w.put_flag(OVS_NAT_ATTR_PERSISTENT);
        }
        if nat.hash {
            w.put_flag(OVS_NAT_ATTR_PROTO_HASH);
        }
        if nat.random {
            w.put_flag(OVS_NAT_ATTR_PROTO_RANDOM);
        }
        w.end_nested(nn);
    }
    w.end_nested(n);
}

// ---------------------------------------------------------------------------
// Decoding

/// Decodes an action list.
///
/// # Errors
/// In both modes: a malformed attribute header, or a list over
/// [`MAX_ACTIONS_LEN`] bytes. In [`Mode::Strict`], also any violation of the
/// kernel's rules (see the module doc).
pub fn decode_actions(bytes: &[u8], mode: Mode) -> Result<Vec<Action>, DecodeError> {
    if bytes.len() > MAX_ACTIONS_LEN {
        return Err(DecodeError {
            kind: K::TooLong,
            path: vec![],
        });
    }
    decode_list(bytes, mode, 0)
}

/// Walks `bytes` as attributes, failing at the first framing error.
fn attrs(bytes: &[u8]) -> Result<Vec<Attr<'_>>, DecodeError> {
    AttrIter::new(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| DecodeError {
            kind: K::Trailing,
            path: vec![],
        })
}

fn decode_list(bytes: &[u8], mode: Mode, depth: usize) -> Result<Vec<Action>, DecodeError> {
    let mut out = Vec::with_capacity(bytes.len() / 8 + 1);
    for a in attrs(bytes)? {
        match decode_one(a, mode, depth) {
            Ok(act) => out.push(act),
            // Tolerant: keep what we cannot make sense of, raw.
            Err(_) if mode == Mode::Tolerant => {
                out.push(Action::Unknown {
                    ty: a.ty,
                    payload: a.payload.to_vec(),
                });
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

fn bad_len(ty: u16, got: usize, want: usize) -> DecodeError {
    DecodeError::new(K::BadLength { got, want }, ty)
}

fn u32_of(a: &Attr<'_>) -> Result<u32, DecodeError> {
    a.u32().ok_or_else(|| bad_len(a.ty, a.payload.len(), 4))
}

fn u16_of(a: &Attr<'_>) -> Result<u16, DecodeError> {
    a.u16().ok_or_else(|| bad_len(a.ty, a.payload.len(), 2))
}

fn flag_of(a: &Attr<'_>) -> Result<bool, DecodeError> {
    if a.payload.is_empty() {
        Ok(true)
    } else {
        Err(bad_len(a.ty, a.payload.len(), 0))
    }
}

/// Sub-attributes of a nested action, indexed by type (`1..=max`), with the
/// kernel's rules: type 0, types above `max` (unless `skip_unknown`) and
/// duplicates are errors.
fn sub_attrs<'a>(
    payload: &'a [u8],
    max: u16,
    skip_unknown: bool,
) -> Result<Vec<Option<Attr<'a>>>, DecodeError> {
    let mut slots = vec![None; usize::from(max) + 1];
    for a in attrs(payload)? {
        if a.ty > max {
            if skip_unknown {
                continue;
            }
            return Err(DecodeError::new(K::UnknownType, a.ty));
        }
        if a.ty == 0 {
            return Err(DecodeError::new(K::UnknownType, 0));
        }
        let slot = &mut slots[usize::from(a.ty)];
        if slot.is_some() {
            return Err(DecodeError::new(K::Duplicate, a.ty));
        }
        *slot = Some(a);
    }
    Ok(slots)
}

fn required<'a>(slots: &[Option<Attr<'a>>], ty: u16) -> Result<Attr<'a>, DecodeError> {
    slots[usize::from(ty)].ok_or_else(|| DecodeError::new(K::Missing, ty))
}

fn nested_list(a: &Attr<'_>, mode: Mode, depth: usize) -> Result<Vec<Action>, DecodeError> {
    if depth + 1 > MAX_DEPTH {
        return Err(DecodeError::new(K::TooDeep, a.ty));
    }
    decode_list(a.payload, mode, depth + 1).map_err(|e| e.within(a.ty))
}

/// Shortest packet `trunc` may cut to (an Ethernet header).
const ETH_HLEN: u32 = 14;

/// The kernel's checks on an action's own values (not those that depend on
/// the flow it belongs to, such as the packet's EtherType).
fn check_values(a: &Action) -> Result<(), DecodeError> {
    let bad = |ty| Err(DecodeError::new(K::BadValue, ty));
    match a {
        Action::Trunc { max_len } if *max_len < ETH_HLEN => bad(OVS_ACTION_ATTR_TRUNC),
        Action::PushMpls { ethertype, .. } | Action::AddMpls { ethertype, .. }
            if !matches!(*ethertype, ETH_TYPE_MPLS | ETH_TYPE_MPLS_MCAST) =>
        {
            bad(a.ty())
        }
        _ => Ok(()),
    }
}

fn decode_one(a: Attr<'_>, mode: Mode, depth: usize) -> Result<Action, DecodeError> {
    let act = decode_one_unchecked(a, mode, depth)?;
    if mode == Mode::Strict {
        check_values(&act)?;
    }
    Ok(act)
}

fn decode_one_unchecked(a: Attr<'_>, mode: Mode, depth: usize) -> Result<Action, DecodeError> {
    let ty = a.ty;
    if let Some(want) = fixed_len(ty) {
        if a.payload.len() != want {
            return Err(bad_len(ty, a.payload.len(), want));
        }
    }
    let p = a.payload;
    let wrap = |e: DecodeError| e.within(ty);
    Ok(match ty {
        OVS_ACTION_ATTR_OUTPUT => Action::Output(PortNo(u32_of(&a)?)),
        OVS_ACTION_ATTR_USERSPACE => Action::Userspace(decode_userspace(p, mode).map_err(wrap)?),
        OVS_ACTION_ATTR_SET => {
            let inner = single_attr(p).map_err(wrap)?;
            let key = decode_key(inner.ty, inner.payload, mode).map_err(|e| e.within(ty))?;
            Action::Set(key)
        }
        OVS_ACTION_ATTR_SET_MASKED => {
            let inner = single_attr(p).map_err(wrap)?;
            let (key, mask) = decode_masked_key(inner, mode).map_err(wrap)?;
            Action::SetMasked { key, mask }
        }
        OVS_ACTION_ATTR_PUSH_VLAN => Action::PushVlan {
            tpid: u16::from_be_bytes([p[0], p[1]]),
            tci: u16::from_be_bytes([p[2], p[3]]),
        },
        OVS_ACTION_ATTR_POP_VLAN => Action::PopVlan,
        OVS_ACTION_ATTR_SAMPLE => {
            let s = sub_attrs(p, 2, false).map_err(wrap)?;
            let prob = required(&s, OVS_SAMPLE_ATTR_PROBABILITY).map_err(wrap)?;
            let acts = required(&s, OVS_SAMPLE_ATTR_ACTIONS).map_err(wrap)?;
            Action::Sample {
                probability: u32_of(&prob).map_err(wrap)?,
                actions: nested_list(&acts, mode, depth).map_err(wrap)?,
            }
        }
        OVS_ACTION_ATTR_RECIRC => Action::Recirc(RecircId(u32_of(&a)?)),
        OVS_ACTION_ATTR_HASH => Action::Hash {
            alg: u32::from_ne_bytes([p[0], p[1], p[2], p[3]]),
            basis: u32::from_ne_bytes([p[4], p[5], p[6], p[7]]),
        },
        OVS_ACTION_ATTR_PUSH_MPLS | OVS_ACTION_ATTR_ADD_MPLS => {
            let lse = MplsLse(u32::from_be_bytes([p[0], p[1], p[2], p[3]]));
            let ethertype = u16::from_be_bytes([p[4], p[5]]);
            if ty == OVS_ACTION_ATTR_PUSH_MPLS {
                Action::PushMpls { lse, ethertype }
            } else {
                Action::AddMpls {
                    lse,
                    ethertype,
                    tun_flags: u16::from_ne_bytes([p[6], p[7]]),
                }
            }
        }
        OVS_ACTION_ATTR_POP_MPLS => Action::PopMpls {
            ethertype: u16::from_be_bytes([p[0], p[1]]),
        },
        OVS_ACTION_ATTR_CT => Action::Ct(decode_ct(p, mode).map_err(wrap)?),
        OVS_ACTION_ATTR_TRUNC => Action::Trunc {
            max_len: u32_of(&a)?,
        },
        OVS_ACTION_ATTR_PUSH_ETH => {
            let mut src = [0; 6];
            let mut dst = [0; 6];
            src.copy_from_slice(&p[..6]);
            dst.copy_from_slice(&p[6..]);
            Action::PushEth { src, dst }
        }
        OVS_ACTION_ATTR_POP_ETH => Action::PopEth,
        OVS_ACTION_ATTR_CT_CLEAR => Action::CtClear,
        OVS_ACTION_ATTR_PUSH_NSH => {
            let inner = single_attr(p).map_err(wrap)?;
            if inner.ty != OVS_KEY_ATTR_NSH {
                return Err(DecodeError::new(K::UnknownType, inner.ty).within(ty));
            }
            let attrs = decode_nsh_attrs(inner.payload, mode, false)
                .map_err(|e| e.within(inner.ty).within(ty))?;
            Action::PushNsh(attrs.into_iter().map(|(k, _)| k).collect())
        }
        OVS_ACTION_ATTR_POP_NSH => Action::PopNsh,
        OVS_ACTION_ATTR_METER => Action::Meter(u32_of(&a)?),
        OVS_ACTION_ATTR_CLONE => Action::Clone(nested_list(&a, mode, depth)?),
        OVS_ACTION_ATTR_CHECK_PKT_LEN => {
            let s = sub_attrs(p, 3, false).map_err(wrap)?;
            let len = required(&s, OVS_CHECK_PKT_LEN_ATTR_PKT_LEN).map_err(wrap)?;
            let gt = required(&s, OVS_CHECK_PKT_LEN_ATTR_ACTIONS_IF_GREATER).map_err(wrap)?;
            let le = required(&s, OVS_CHECK_PKT_LEN_ATTR_ACTIONS_IF_LESS_EQUAL).map_err(wrap)?;
            Action::CheckPktLen {
                pkt_len: u16_of(&len).map_err(wrap)?,
                gt: nested_list(&gt, mode, depth).map_err(wrap)?,
                le: nested_list(&le, mode, depth).map_err(wrap)?,
            }
        }
        OVS_ACTION_ATTR_DEC_TTL => {
            // The kernel ignores unknown attributes here, to be future proof.
            let s = sub_attrs(p, 1, true).map_err(wrap)?;
            let acts = required(&s, OVS_DEC_TTL_ATTR_ACTION).map_err(wrap)?;
            Action::DecTtl(nested_list(&acts, mode, depth).map_err(wrap)?)
        }
        OVS_ACTION_ATTR_DROP => Action::Drop(u32_of(&a)?),
        OVS_ACTION_ATTR_PSAMPLE => {
            let s = sub_attrs(p, 2, false).map_err(wrap)?;
            let group = required(&s, OVS_PSAMPLE_ATTR_GROUP).map_err(wrap)?;
            let cookie = match s[usize::from(OVS_PSAMPLE_ATTR_COOKIE)] {
                Some(c) if c.payload.len() > PSAMPLE_COOKIE_MAX => {
                    return Err(bad_len(c.ty, c.payload.len(), PSAMPLE_COOKIE_MAX).within(ty))
                }
                Some(c) => Some(c.payload.to_vec()),
                None => None,
            };
            Action::Psample {
                group: u32_of(&group).map_err(wrap)?,
                cookie,
            }
        }
        OVS_ACTION_ATTR_TUNNEL_PUSH => Action::TunnelPush(decode_tnl_push(ty, p)?),
        OVS_ACTION_ATTR_TUNNEL_POP => Action::TunnelPop(PortNo(u32_of(&a)?)),
        OVS_ACTION_ATTR_LB_OUTPUT => Action::LbOutput(u32_of(&a)?),
        _ => {
            if mode == Mode::Strict {
                return Err(DecodeError::new(K::UnknownType, ty));
            }
            Action::Unknown {
                ty,
                payload: p.to_vec(),
            }
        }
    })
}

/// The payload must be exactly one attribute.
fn single_attr(p: &[u8]) -> Result<Attr<'_>, DecodeError> {
    let all = attrs(p)?;
    match all.as_slice() {
        [one] => Ok(*one),
        [] => Err(DecodeError {
            kind: K::Missing,
            path: vec![],
        }),
        [_, second, ..] => Err(DecodeError::new(K::Trailing, second.ty)),
    }
}

fn decode_key(ty: u16, payload: &[u8], mode: Mode) -> Result<KeyAttr, DecodeError> {
    if ty == OVS_KEY_ATTR_NSH {
        let attrs = decode_nsh_attrs(payload, mode, false).map_err(|e| e.within(ty))?;
        return Ok(KeyAttr::Nsh(attrs.into_iter().map(|(k, _)| k).collect()));
    }
    keyglue::decode_attr(ty, payload, mode)
}

fn decode_masked_key(inner: Attr<'_>, mode: Mode) -> Result<(KeyAttr, KeyAttr), DecodeError> {
    if inner.ty == OVS_KEY_ATTR_NSH {
        let pairs = decode_nsh_attrs(inner.payload, mode, true).map_err(|e| e.within(inner.ty))?;
        let (k, m): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
        return Ok((
            KeyAttr::Nsh(k),
            KeyAttr::Nsh(m.into_iter().flatten().collect()),
        ));
    }
    let len = inner.payload.len();
    if len & 1 != 0 {
        return Err(bad_len(inner.ty, len, len + 1));
    }
    let (kp, mp) = inner.payload.split_at(len / 2);
    let key = keyglue::decode_attr(inner.ty, kp, mode)?;
    let mask = keyglue::decode_attr(inner.ty, mp, mode)?;
    Ok((key, mask))
}

fn nsh_attr_from(ty: u16, p: &[u8]) -> Result<NshAttr, DecodeError> {
    Ok(match ty {
        OVS_NSH_KEY_ATTR_BASE => {
            if p.len() != 8 {
                return Err(bad_len(ty, p.len(), 8));
            }
            NshAttr::Base(NshBase {
                flags: p[0],
                ttl: p[1],
                mdtype: p[2],
                np: p[3],
                path_hdr: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
            })
        }
        OVS_NSH_KEY_ATTR_MD1 => {
            if p.len() != 16 {
                return Err(bad_len(ty, p.len(), 16));
            }
            let mut c = [0u32; 4];
            for (i, v) in c.iter_mut().enumerate() {
                *v = u32::from_be_bytes([p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]]);
            }
            NshAttr::Md1(c)
        }
        OVS_NSH_KEY_ATTR_MD2 => {
            if p.len() > NSH_MD2_MAX {
                return Err(bad_len(ty, p.len(), NSH_MD2_MAX));
            }
            NshAttr::Md2(p.to_vec())
        }
        _ => NshAttr::Unknown {
            ty,
            payload: p.to_vec(),
        },
    })
}

/// NSH key attributes; with `masked`, each carries a value then a mask of
/// the same length, and the second element of each pair is the mask.
fn decode_nsh_attrs(
    payload: &[u8],
    mode: Mode,
    masked: bool,
) -> Result<Vec<(NshAttr, Option<NshAttr>)>, DecodeError> {
    let mut out = Vec::new();
    let mut seen = [false; 4];
    for a in attrs(payload)? {
        if a.ty == 0 || a.ty > OVS_NSH_KEY_ATTR_MAX {
            if mode == Mode::Strict {
                return Err(DecodeError::new(K::UnknownType, a.ty));
            }
        } else {
            let s = &mut seen[usize::from(a.ty)];
            if *s {
                return Err(DecodeError::new(K::Duplicate, a.ty));
            }
            *s = true;
        }
        if masked {
            let len = a.payload.len();
            if len & 1 != 0 {
                return Err(bad_len(a.ty, len, len + 1));
            }
            let (k, m) = a.payload.split_at(len / 2);
            out.push((nsh_attr_from(a.ty, k)?, Some(nsh_attr_from(a.ty, m)?)));
        } else {
            out.push((nsh_attr_from(a.ty, a.payload)?, None));
        }
    }
    Ok(out)
}

fn decode_userspace(p: &[u8], mode: Mode) -> Result<Userspace, DecodeError> {
    // Newer kernels may add attributes; OVS ignores those beyond its policy.
    let s = sub_attrs(p, OVS_USERSPACE_ATTR_ACTIONS, mode == Mode::Tolerant)?;
    let pid = u32_of(&required(&s, OVS_USERSPACE_ATTR_PID)?)?;
    if mode == Mode::Strict && pid == 0 {
        return Err(DecodeError::new(K::BadValue, OVS_USERSPACE_ATTR_PID));
    }
    let egress_tun_port = match s[usize::from(OVS_USERSPACE_ATTR_EGRESS_TUN_PORT)] {
        Some(a) => Some(PortNo(u32_of(&a)?)),
        None => None,
    };
    let actions = match s[usize::from(OVS_USERSPACE_ATTR_ACTIONS)] {
        Some(a) => flag_of(&a)?,
        None => false,
    };
    Ok(Userspace {
        pid,
        userdata: s[usize::from(OVS_USERSPACE_ATTR_USERDATA)].map(|a| a.payload.to_vec()),
        egress_tun_port,
        actions,
    })
}

fn c_string(a: &Attr<'_>, max: usize) -> Result<String, DecodeError> {
    let p = a.payload;
    match p.split_last() {
        Some((0, body)) if !body.is_empty() && p.len() <= max && !body.contains(&0) => {
            String::from_utf8(body.to_vec()).map_err(|_| DecodeError::new(K::BadValue, a.ty))
        }
        _ => Err(DecodeError::new(K::BadValue, a.ty)),
    }
}

fn decode_ct(p: &[u8], mode: Mode) -> Result<Ct, DecodeError> {
    let s = sub_attrs(p, OVS_CT_ATTR_TIMEOUT, false)?;
    let mut ct = Ct::default();
    for a in s.iter().flatten() {
        match a.ty {
            OVS_CT_ATTR_COMMIT => ct.commit = flag_of(a)?,
            OVS_CT_ATTR_FORCE_COMMIT => ct.force_commit = flag_of(a)?,
            OVS_CT_ATTR_ZONE => ct.zone = Some(u16_of(a)?),
            OVS_CT_ATTR_MARK => {
                let v = a.u64().ok_or_else(|| bad_len(a.ty, a.payload.len(), 8))?;
                let b = v.to_ne_bytes();
                ct.mark = Some((
                    u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
                    u32::from_ne_bytes([b[4], b[5], b[6], b[7]]),
                ));
            }
            OVS_CT_ATTR_LABELS => {
                if a.payload.len() != 32 {
                    return Err(bad_len(a.ty, a.payload.len(), 32));
                }
                let mut v = [0u8; 16];
                let mut m = [0u8; 16];
                v.copy_from_slice(&a.payload[..16]);
                m.copy_from_slice(&a.payload[16..]);
                ct.labels = Some((u128::from_le_bytes(v), u128::from_le_bytes(m)));
            }
            OVS_CT_ATTR_HELPER => ct.helper = Some(c_string(a, 16)?),
            OVS_CT_ATTR_TIMEOUT => ct.timeout = Some(c_string(a, 32)?),
            OVS_CT_ATTR_EVENTMASK => ct.eventmask = Some(u32_of(a)?),
            OVS_CT_ATTR_NAT => {
                ct.nat = Some(decode_nat(a.payload, mode).map_err(|e| e.within(a.ty))?)
            }
            _ => {}
        }
    }
    if mode == Mode::Strict && ct.commit && ct.force_commit {
        return Err(DecodeError::new(K::BadValue, OVS_CT_ATTR_FORCE_COMMIT));
    }
    Ok(ct)
}

fn ip_of(a: &Attr<'_>) -> Result<IpAddr, DecodeError> {
    let p = a.payload;
    match p.len() {
        4 => Ok(IpAddr::V4(Ipv4Addr::new(p[0], p[1], p[2], p[3]))),
        16 => {
            let mut b = [0u8; 16];
            b.copy_from_slice(p);
            Ok(IpAddr::V6(Ipv6Addr::from(b)))
        }
        n => Err(bad_len(a.ty, n, 4)),
    }
}

fn decode_nat(p: &[u8], mode: Mode) -> Result<Nat, DecodeError> {
    let s = sub_attrs(p, OVS_NAT_ATTR_PROTO_RANDOM, false)?;
    let mut nat = Nat::default();
    for a in s.iter().flatten() {
        match a.ty {
            OVS_NAT_ATTR_SRC => {
                flag_of(a)?;
                nat.kind = Some(NatKind::Src);
            }
            OVS_NAT_ATTR_DST => {
                flag_of(a)?;
                if nat.kind.is_some() && mode == Mode::Strict {
                    return Err(DecodeError::new(K::BadValue, a.ty));
                }
                nat.kind.get_or_insert(NatKind::Dst);
            }
            OVS_NAT_ATTR_IP_MIN => nat.ip_min = Some(ip_of(a)?),
            OVS_NAT_ATTR_IP_MAX => nat.ip_max = Some(ip_of(a)?),
            OVS_NAT_ATTR_PROTO_MIN => nat.proto_min = Some(u16_of(a)?),
            OVS_NAT_ATTR_PROTO_MAX => nat.proto_max = Some(u16_of(a)?),
            OVS_NAT_ATTR_PERSISTENT => nat.persistent = flag_of(a)?,
            OVS_NAT_ATTR_PROTO_HASH => nat.hash = flag_of(a)?,
            OVS_NAT_ATTR_PROTO_RANDOM => nat.random = flag_of(a)?,
            _ => {}
        }
    }
    if mode == Mode::Strict {
        if let (Some(a), Some(b)) = (&nat.ip_min, &nat.ip_max) {
            if a.is_ipv4() != b.is_ipv4() {
                return Err(DecodeError::new(K::BadValue, OVS_NAT_ATTR_IP_MAX));
            }
        }
    }
    Ok(nat)
}

fn decode_tnl_push(ty: u16, p: &[u8]) -> Result<TunnelPush, DecodeError> {
    if p.len() < 16 {
        return Err(bad_len(ty, p.len(), 16));
    }
    let word = |i: usize| u32::from_ne_bytes([p[i], p[i + 1], p[i + 2], p[i + 3]]);
    let header = &p[16..];
    let header_len = word(8) as usize;
    if header_len != header.len() || header_len > TNL_PUSH_HEADER_MAX {
        return Err(bad_len(
            ty,
            p.len(),
            16 + header_len.min(TNL_PUSH_HEADER_MAX),
        ));
    }
    Ok(TunnelPush {
        tnl_port: PortNo(word(0)),
        out_port: PortNo(word(4)),
        tnl_type: word(12),
        header: header.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn psample_nest_carries_nla_f_nested() {
        let a = Action::Psample {
            group: 12,
            cookie: Some(hex("f1020304050607080910111213141516")),
        };
        let bytes = encode_actions(std::slice::from_ref(&a)).unwrap();
        assert_eq!(
            bytes,
            hex("20001980080001000c00000014000200f1020304050607080910111213141516")
        );
        assert_eq!(decode_actions(&bytes, Mode::Strict).unwrap(), vec![a]);
    }

    #[test]
    fn strict_rejects_wrong_length_tolerant_keeps_it() {
        let bytes = hex("090001000100000000000000");
        assert!(matches!(
            decode_actions(&bytes, Mode::Strict).unwrap_err().kind,
            K::BadLength { got: 5, want: 4 }
        ));
        assert_eq!(
            decode_actions(&bytes, Mode::Tolerant).unwrap(),
            vec![Action::Unknown {
                ty: 1,
                payload: vec![1, 0, 0, 0, 0]
            }]
        );
    }

    #[test]
    fn strict_rejects_unknown_type_and_trailing_bytes() {
        assert_eq!(
            decode_actions(&hex("04006300"), Mode::Strict)
                .unwrap_err()
                .kind,
            K::UnknownType
        );
        assert_eq!(
            decode_actions(&hex("0400050001"), Mode::Strict)
                .unwrap_err()
                .kind,
            K::Trailing
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let mut acts = vec![Action::PopVlan];
        for _ in 0..MAX_DEPTH {
            acts = vec![Action::Clone(acts)];
        }
        let ok = encode_actions(&acts).unwrap();
        assert_eq!(decode_actions(&ok, Mode::Strict).unwrap(), acts);
        let deeper = encode_actions(&[Action::Clone(acts)]).unwrap();
        assert_eq!(
            decode_actions(&deeper, Mode::Strict).unwrap_err().kind,
            K::TooDeep
        );
        // Tolerant mode stays bounded too: the too-deep part stays raw.
        assert!(decode_actions(&deeper, Mode::Tolerant).is_ok());
    }

    #[test]
    fn strict_checks_action_values() {
        let short_trunc = encode_actions(&[Action::Trunc { max_len: 13 }]).unwrap();
        assert_eq!(
            decode_actions(&short_trunc, Mode::Strict).unwrap_err().kind,
            K::BadValue
        );
        assert!(decode_actions(&short_trunc, Mode::Tolerant).is_ok());
        let ip_mpls = encode_actions(&[Action::PushMpls {
            lse: MplsLse(0x100),
            ethertype: 0x0800,
        }])
        .unwrap();
        assert_eq!(
            decode_actions(&ip_mpls, Mode::Strict).unwrap_err().kind,
            K::BadValue
        );
    }

    #[test]
    fn userspace_needs_a_pid() {
        assert_eq!(
            decode_actions(&hex("0800020004000400"), Mode::Strict)
                .unwrap_err()
                .kind,
            K::Missing
        );
    }

    #[test]
    fn too_long_is_reported() {
        let acts = vec![Action::PopVlan; 16384];
        assert_eq!(encode_actions(&acts).unwrap_err().kind, K::TooLong);
        assert!(encode_actions(&acts[..16383]).is_ok());
    }
}
