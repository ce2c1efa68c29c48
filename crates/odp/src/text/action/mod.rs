//! Datapath actions in OVS's text format (`ovs-dpctl dump-flows`), byte-exact
//! with OVS 3.7.1 `lib/odp-util.c` (`ovstest test-odp parse-actions`).
//!
//! [`format_actions`] prints what OVS's `format_odp_actions` prints.
//! [`parse_actions_with`] in [`Syntax::Ovs`] accepts exactly what OVS's
//! `odp_actions_from_string` accepts, quirks included, building the same
//! netlink bytes once emitted with [`crate::nl::action::emit_actions`].
//! [`parse_actions`] ([`Syntax::Printed`]) also accepts the printed forms
//! OVS cannot read back, so that every printed action list parses again:
//! `push_mpls`, `pop_mpls`, `hash`, `push_eth`, `pop_eth`, `dec_ttl`,
//! `recirc(0x...)`, `drop` as an empty nested list, slow-path reasons
//! separated by `,` or with unknown bits, Geneve options without data, and
//! the ERSPAN and GTP-U layers of `tnl_push`.
//!
//! Where OVS's parser leaves bytes uninitialized (the SRv6 header's next
//! header, flags and tag in `tnl_push`), we put zeros.
//!
//! ```
//! use odp::text::action::{format_actions, parse_actions};
//! let acts = parse_actions("push_vlan(vid=12,pcp=0),2").unwrap();
//! let mut s = String::new();
//! format_actions(&acts, &mut s);
//! assert_eq!(s, "push_vlan(vid=12,pcp=0),2");
//! ```

mod scan;
mod tnl;

use std::fmt::Write;
use std::net::{IpAddr, Ipv6Addr};

use crate::text::key::format::put_hex;
use crate::text::key::scan::inet_ntop6 as fmt_ipv6;
use crate::text::key::scan::parse_int_string as int_string;
use scan::{hex_pairs, Cur, DELIMITERS};

use crate::abi::*;
use crate::action::{fixed_len, Action, Ct, Nat, NatKind, UserCookie, Userspace, USER_COOKIE_LEN};
use crate::error::ParseError;
use crate::key::{KeyAttr, MplsLse, NshAttr, NshBase, PortNo, RecircId};

/// Action lists nest at most this deep in text (OVS's `MAX_ODP_NESTED`).
const MAX_NESTED: usize = 32;
/// Largest netlink attribute payload (`nl_attr_oversized`).
const MAX_ATTR_PAYLOAD: usize = u16::MAX as usize - 4;
/// `sizeof(struct ovs_key_ipv6)`: masked sets of bigger keys print unmasked.
const IPV6_KEY_LEN: usize = 40;

/// The key attribute text codec used inside `set(...)`.
mod keyglue {
    use crate::error::ParseError;
    use crate::key::KeyAttr;

    pub(super) fn parse_attr(s: &str) -> Result<(KeyAttr, KeyAttr, usize), ParseError> {
        crate::text::key::parse_attr(s)
    }

    pub(super) fn format_attr(
        key: &KeyAttr,
        mask: Option<&KeyAttr>,
        verbose: bool,
        out: &mut String,
    ) {
        crate::text::key::format_attr(key, mask, verbose, out)
    }
}

fn err() -> ParseError {
    ParseError::new("odp_actions_from_string: error")
}

// ---------------------------------------------------------------------------
// Shared formatting helpers

pub(super) fn fmt_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}

/// C's `%#x`: `0` for zero, `0x...` otherwise.
fn alt_hex(v: u64) -> String {
    if v == 0 {
        "0".into()
    } else {
        format!("{v:#x}")
    }
}

// ---------------------------------------------------------------------------
// Formatting

/// Appends the text form of `actions` to `out`, as OVS's
/// `format_odp_actions` (without port names). An empty list prints as `drop`.
pub fn format_actions(actions: &[Action], out: &mut String) {
    if actions.is_empty() {
        out.push_str("drop");
        return;
    }
    for (i, a) in actions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        format_action(a, out);
    }
}

/// One action in OVS's text format, as [`format_actions`] prints it.
impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        format_action(self, &mut s);
        f.write_str(&s)
    }
}

fn format_generic(ty: u16, payload: &[u8], out: &mut String) {
    let _ = write!(out, "action{ty}");
    for (i, b) in payload.iter().enumerate() {
        out.push(if i == 0 { '(' } else { ' ' });
        let _ = write!(out, "{b:02x}");
    }
    if !payload.is_empty() {
        out.push(')');
    }
}

fn format_lse(lse: MplsLse, out: &mut String) {
    let _ = write!(
        out,
        "label={},tc={},ttl={},bos={}",
        lse.label(),
        lse.tc(),
        lse.ttl(),
        u8::from(lse.bos())
    );
}

fn format_action(a: &Action, out: &mut String) {
    match a {
        Action::Output(p) => {
            let _ = write!(out, "{}", p.0);
        }
        Action::Userspace(u) => format_userspace(u, out),
        Action::Set(key) => {
            out.push_str("set(");
            keyglue::format_attr(key, None, true, out);
            out.push(')');
        }
        Action::SetMasked { key, mask } => format_set_masked(key, mask, out),
        Action::PushVlan { tpid, tci } => {
            out.push_str("push_vlan(");
            if *tpid != ETH_TYPE_VLAN_8021Q {
                let _ = write!(out, "tpid=0x{tpid:04x},");
            }
            let _ = write!(out, "vid={},pcp={}", tci & 0xfff, tci >> 13);
            if tci & 0x1000 == 0 {
                out.push_str(",cfi=0");
            }
            out.push(')');
        }
        Action::PopVlan => out.push_str("pop_vlan"),
        Action::Sample {
            probability,
            actions,
        } => {
            let pct = 100.0 * f64::from(*probability) / f64::from(u32::MAX);
            let _ = write!(out, "sample(sample={pct:.1}%,actions(");
            format_actions(actions, out);
            out.push_str("))");
        }
        Action::Recirc(id) => {
            let _ = write!(out, "recirc({})", alt_hex(u64::from(id.0)));
        }
        Action::Hash { alg, basis } => {
            out.push_str("hash(");
            match *alg {
                OVS_HASH_ALG_L4 => {
                    let _ = write!(out, "l4({basis})");
                }
                OVS_HASH_ALG_SYM_L4 => {
                    let _ = write!(out, "sym_l4({basis})");
                }
                _ => {
                    let _ = write!(out, "Unknown hash algorithm({alg})");
                }
            }
            out.push(')');
        }
        Action::PushMpls { lse, ethertype } => {
            out.push_str("push_mpls(");
            format_lse(*lse, out);
            let _ = write!(out, ",eth_type=0x{ethertype:x})");
        }
        Action::PopMpls { ethertype } => {
            let _ = write!(out, "pop_mpls(eth_type=0x{ethertype:x})");
        }
        Action::Ct(ct) => format_ct(ct, out),
        Action::Trunc { max_len } => {
            let _ = write!(out, "trunc({max_len})");
        }
        Action::PushEth { src, dst } => {
            let _ = write!(out, "push_eth(src={},dst={})", fmt_mac(src), fmt_mac(dst));
        }
        Action::PopEth => out.push_str("pop_eth"),
        Action::CtClear => out.push_str("ct_clear"),
        Action::PushNsh(attrs) => format_push_nsh(attrs, out),
        Action::PopNsh => out.push_str("pop_nsh()"),
        Action::Meter(m) => {
            let _ = write!(out, "meter({m})");
        }
        Action::Clone(actions) => {
            out.push_str("clone(");
            format_actions(actions, out);
            out.push(')');
        }
        Action::CheckPktLen { pkt_len, gt, le } => {
            let _ = write!(out, "check_pkt_len(size={pkt_len},gt(");
            format_actions(gt, out);
            out.push_str("),le(");
            format_actions(le, out);
            out.push_str("))");
        }
        Action::AddMpls { lse, ethertype, .. } => {
            out.push_str("add_mpls(");
            format_lse(*lse, out);
            let _ = write!(out, ",eth_type=0x{ethertype:x})");
        }
        Action::DecTtl(actions) => {
            out.push_str("dec_ttl(le_1(");
            format_actions(actions, out);
            out.push_str("))");
        }
        Action::Drop(_) => out.push_str("drop"),
        Action::Psample { group, cookie } => {
            let _ = write!(out, "psample(group={group}");
            if let Some(c) = cookie {
                out.push_str(",cookie=");
                put_hex(out, c);
            }
            out.push(')');
        }
        Action::TunnelPush(t) => tnl::format_tnl_push(t, out),
        Action::TunnelPop(p) => {
            let _ = write!(out, "tnl_pop({})", p.0);
        }
        Action::LbOutput(b) => {
            let _ = write!(out, "lb_output({b})");
        }
        Action::Unknown { ty, payload } => {
            if let Some(want) = fixed_len(*ty) {
                if payload.len() != want {
                    let _ = write!(out, "bad length {}, expected {} for: ", payload.len(), want);
                }
                format_generic(*ty, payload, out);
                return;
            }
            match *ty {
                OVS_ACTION_ATTR_USERSPACE => out.push_str("userspace(error)"),
                OVS_ACTION_ATTR_SAMPLE => out.push_str("sample(error)"),
                OVS_ACTION_ATTR_CT => out.push_str("ct(error)"),
                OVS_ACTION_ATTR_CHECK_PKT_LEN => out.push_str("check_pkt_len(error)"),
                _ => format_generic(*ty, payload, out),
            }
        }
    }
}

fn format_set_masked(key: &KeyAttr, mask: &KeyAttr, out: &mut String) {
    if let (KeyAttr::Nsh(k), KeyAttr::Nsh(m)) = (key, mask) {
        format_set_nsh(k, m, out);
        return;
    }
    out.push_str("set(");
    if crate::nl::action::key_payload(key).len() <= IPV6_KEY_LEN {
        keyglue::format_attr(key, Some(mask), false, out);
    } else {
        // OVS prints the action's one attribute, whose payload is the key's
        // then the mask's, without mask: for nested types, the key's
        // attributes followed by the mask's.
        let whole = match (key, mask) {
            (KeyAttr::Tunnel(k), KeyAttr::Tunnel(m)) => {
                KeyAttr::Tunnel(k.iter().chain(m).cloned().collect())
            }
            (KeyAttr::Encap(k), KeyAttr::Encap(m)) => {
                KeyAttr::Encap(k.iter().chain(m).cloned().collect())
            }
            _ => key.clone(),
        };
        keyglue::format_attr(&whole, None, false, out);
    }
    out.push(')');
}

/// NSH fields, flattened (OVS's `struct ovs_key_nsh`).
#[derive(Clone, Copy)]
struct NshFields {
    base: NshBase,
    context: [u32; 4],
}

fn nsh_fields(attrs: &[NshAttr], fill: u8) -> NshFields {
    let f32 = u32::from_ne_bytes([fill; 4]);
    let mut n = NshFields {
        base: NshBase {
            flags: fill,
            ttl: fill,
            mdtype: fill,
            np: fill,
            path_hdr: f32,
        },
        context: [f32; 4],
    };
    for a in attrs {
        match a {
            NshAttr::Base(b) => n.base = *b,
            NshAttr::Md1(c) => n.context = *c,
            _ => {}
        }
    }
    n
}

fn format_set_nsh(key: &[NshAttr], mask: &[NshAttr], out: &mut String) {
    let k = nsh_fields(key, 0);
    let m = nsh_fields(mask, 0xff);
    out.push_str("set(nsh(");
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !first {
            out.push(',');
        }
        first = false;
    };
    let u8m = |out: &mut String, name: &str, v: u8, mk: u8, sep: &mut dyn FnMut(&mut String)| {
        if mk != 0 {
            sep(out);
            if mk == u8::MAX {
                let _ = write!(out, "{name}={v}");
            } else {
                let _ = write!(out, "{name}=0x{v:02x}/0x{mk:02x}");
            }
        }
    };
    let be32m =
        |out: &mut String, name: &str, v: u32, mk: u32, sep: &mut dyn FnMut(&mut String)| {
            if mk != 0 {
                sep(out);
                if mk == u32::MAX {
                    let _ = write!(out, "{name}=0x{v:x}");
                } else {
                    let _ = write!(out, "{name}=0x{v:x}/0x{mk:08x}");
                }
            }
        };
    u8m(out, "flags", k.base.flags, m.base.flags, &mut sep);
    u8m(out, "ttl", k.base.ttl, m.base.ttl, &mut sep);
    u8m(out, "mdtype", k.base.mdtype, m.base.mdtype, &mut sep);
    u8m(out, "np", k.base.np, m.base.np, &mut sep);
    let mut spi_mask = m.base.path_hdr >> 8;
    if spi_mask == 0xff_ffff {
        spi_mask = u32::MAX;
    }
    be32m(out, "spi", k.base.path_hdr >> 8, spi_mask, &mut sep);
    u8m(
        out,
        "si",
        k.base.path_hdr as u8,
        m.base.path_hdr as u8,
        &mut sep,
    );
    for i in 0..4 {
        be32m(
            out,
            &format!("c{}", i + 1),
            k.context[i],
            m.context[i],
            &mut sep,
        );
    }
    out.push_str("))");
}

fn format_push_nsh(attrs: &[NshAttr], out: &mut String) {
    let mut base = NshBase {
        flags: 0,
        ttl: 63,
        ..NshBase::default()
    };
    let mut md1 = [0u32; 4];
    let mut md2: &[u8] = &[];
    for a in attrs {
        match a {
            NshAttr::Base(b) => base = *b,
            NshAttr::Md1(c) => md1 = *c,
            NshAttr::Md2(d) => md2 = d,
            NshAttr::Unknown { .. } => {}
        }
    }
    // OVS prints the header it builds: 2 bits of flags, 6 of TTL.
    let _ = write!(
        out,
        "push_nsh(flags={},ttl={},mdtype={},np={},spi=0x{:x},si={}",
        base.flags & 0x3,
        base.ttl & 0x3f,
        base.mdtype,
        base.np,
        base.path_hdr >> 8,
        base.path_hdr & 0xff
    );
    match base.mdtype {
        1 => {
            for (i, c) in md1.iter().enumerate() {
                let _ = write!(out, ",c{}=0x{:x}", i + 1, c);
            }
        }
        2 => {
            out.push_str(",md2=");
            put_hex(out, md2);
        }
        _ => out.push_str(",<error: unknown mdtype>"),
    }
    out.push(')');
}

const SLOW_PATH_REASONS: [(u32, &str); 7] = [
    (0x01, "cfm"),
    (0x02, "bfd"),
    (0x04, "lacp"),
    (0x08, "stp"),
    (0x10, "lldp"),
    (0x20, "action"),
    (0x40, "match"),
];

fn slow_path_name(bit: u32) -> Option<&'static str> {
    SLOW_PATH_REASONS
        .iter()
        .find(|(b, _)| *b == bit)
        .map(|(_, n)| *n)
}

fn format_userspace(u: &Userspace, out: &mut String) {
    let _ = write!(out, "userspace(pid={}", u.pid);
    if let Some(data) = &u.userdata {
        match u.cookie() {
            Some(UserCookie::Sflow { vlan_tci, output }) => {
                let _ = write!(
                    out,
                    ",sFlow(vid={},pcp={},output={})",
                    vlan_tci & 0xfff,
                    vlan_tci >> 13,
                    output
                );
            }
            Some(UserCookie::SlowPath { reason }) => {
                out.push_str(",slow_path(");
                if reason == 0 {
                    out.push('0');
                } else {
                    let mut bad = 0;
                    let mut flags = reason;
                    while flags != 0 {
                        let bit = flags & flags.wrapping_neg();
                        match slow_path_name(bit) {
                            Some(n) => {
                                let _ = write!(out, "{n},");
                            }
                            None => bad |= bit,
                        }
                        flags &= !bit;
                    }
                    if bad != 0 {
                        let _ = write!(out, "0x{bad:x},");
                    }
                    out.pop();
                }
                out.push(')');
            }
            Some(UserCookie::FlowSample {
                probability,
                collector_set_id,
                obs_domain_id,
                obs_point_id,
                output_port,
                direction,
            }) => {
                let _ = write!(
                    out,
                    ",flow_sample(probability={probability},collector_set_id={collector_set_id},obs_domain_id={obs_domain_id},obs_point_id={obs_point_id},output_port={}",
                    output_port.0
                );
                match direction {
                    1 => out.push_str(",ingress"),
                    2 => out.push_str(",egress"),
                    _ => {}
                }
                out.push(')');
            }
            Some(UserCookie::Ipfix { output_port }) => {
                let _ = write!(out, ",ipfix(output_port={})", output_port.0);
            }
            Some(UserCookie::Controller {
                dont_send,
                continuation,
                reason,
                recirc_id,
                rule_cookie,
                controller_id,
                max_len,
            }) => {
                let _ = write!(
                    out,
                    ",controller(reason={reason},dont_send={},continuation={},recirc_id={recirc_id},rule_cookie={},controller_id={controller_id},max_len={max_len})",
                    u8::from(dont_send),
                    u8::from(continuation),
                    alt_hex(rule_cookie)
                );
            }
            None => {
                out.push_str(",userdata(");
                for b in data {
                    let _ = write!(out, "{b:02x}");
                }
                out.push(')');
            }
        }
    }
    if u.actions {
        out.push_str(",actions");
    }
    if let Some(p) = u.egress_tun_port {
        let _ = write!(out, ",tunnel_out_port={}", p.0);
    }
    out.push(')');
}

/// OVS's `format_u128` in verbose mode: value, and `/mask` unless all ones.
fn format_u128(value: u128, mask: u128, out: &mut String) {
    put_hex(out, &value.to_be_bytes());
    if mask != u128::MAX {
        out.push('/');
        put_hex(out, &mask.to_be_bytes());
    }
}

fn ip_bracket(ip: &Ipv6Addr, bracket: bool) -> String {
    if bracket {
        format!("[{}]", fmt_ipv6(ip))
    } else {
        fmt_ipv6(ip)
    }
}

fn format_nat(nat: &Nat, out: &mut String) {
    let has_opts = nat.ip_min.is_some()
        || nat.ip_max.is_some()
        || nat.proto_min.is_some()
        || nat.proto_max.is_some()
        || nat.persistent
        || nat.hash
        || nat.random;
    if nat.kind.is_none() && has_opts {
        out.push_str("nat(error: options allowed only with \"src\" or \"dst\")");
        return;
    }
    if nat.ip_min.is_none() && nat.proto_min.is_some() {
        out.push_str("nat(error: proto but no IP.)");
        return;
    }
    if (nat.ip_min.is_none() && nat.ip_max.is_some())
        || (nat.proto_min.is_none() && nat.proto_max.is_some())
    {
        out.push_str("nat(error: range max without min.)");
        return;
    }
    if let (Some(a), Some(b)) = (&nat.ip_min, &nat.ip_max) {
        if a.is_ipv4() != b.is_ipv4() {
            out.push_str("nat(error: IP address sizes do not match)");
            return;
        }
    }
    let pmin = nat.proto_min.unwrap_or(0);
    let pmax = nat.proto_max.unwrap_or(0);
    let range_err = match (&nat.ip_min, &nat.ip_max) {
        (Some(IpAddr::V4(a)), Some(IpAddr::V4(b))) => !b.is_unspecified() && a > b,
        (Some(IpAddr::V6(a)), Some(IpAddr::V6(b))) => !b.is_unspecified() && a > b,
        _ => false,
    };
    if range_err || (pmax != 0 && pmin > pmax) {
        out.push_str("nat(range error)");
        return;
    }
    out.push_str("nat");
    let Some(kind) = nat.kind else {
        return;
    };
    out.push('(');
    out.push_str(match kind {
        NatKind::Src => "src",
        NatKind::Dst => "dst",
    });
    if let Some(min) = &nat.ip_min {
        out.push('=');
        match min {
            IpAddr::V4(a) => {
                let _ = write!(out, "{a}");
                if let Some(IpAddr::V4(b)) = &nat.ip_max {
                    if !b.is_unspecified() && b != a {
                        let _ = write!(out, "-{b}");
                    }
                }
            }
            IpAddr::V6(a) => {
                out.push_str(&ip_bracket(a, pmin != 0));
                if let Some(IpAddr::V6(b)) = &nat.ip_max {
                    if !b.is_unspecified() && b != a {
                        out.push('-');
                        out.push_str(&ip_bracket(b, pmin != 0));
                    }
                }
            }
        }
        if pmin != 0 {
            let _ = write!(out, ":{pmin}");
            if pmax != 0 && pmax != pmin {
                let _ = write!(out, "-{pmax}");
            }
        }
    }
    out.push(',');
    if nat.persistent {
        out.push_str("persistent,");
    }
    if nat.hash {
        out.push_str("hash,");
    }
    if nat.random {
        out.push_str("random,");
    }
    out.pop();
    out.push(')');
}

fn format_ct(ct: &Ct, out: &mut String) {
    out.push_str("ct");
    let zone = ct.zone.unwrap_or(0);
    if !(ct.commit
        || ct.force_commit
        || zone != 0
        || ct.mark.is_some()
        || ct.labels.is_some()
        || ct.helper.is_some()
        || ct.timeout.is_some()
        || ct.nat.is_some())
    {
        return;
    }
    out.push('(');
    if ct.commit {
        out.push_str("commit,");
    }
    if ct.force_commit {
        out.push_str("force_commit,");
    }
    if zone != 0 {
        let _ = write!(out, "zone={zone},");
    }
    if let Some((v, m)) = ct.mark {
        let _ = write!(
            out,
            "mark={}/{},",
            alt_hex(u64::from(v)),
            alt_hex(u64::from(m))
        );
    }
    if let Some((v, m)) = ct.labels {
        out.push_str("label=");
        format_u128(v, m, out);
        out.push(',');
    }
    if let Some(h) = &ct.helper {
        let _ = write!(out, "helper={h},");
    }
    if let Some(t) = &ct.timeout {
        let _ = write!(out, "timeout={t},");
    }
    if let Some(nat) = &ct.nat {
        format_nat(nat, out);
    }
    if out.ends_with(',') {
        out.pop();
    }
    out.push(')');
}

// ---------------------------------------------------------------------------
// Parsing

/// Which action texts the parser reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Exactly what OVS's `odp_actions_from_string` reads (OVS 3.7.1,
    /// `ovstest test-odp parse-actions`, `ovs-dpctl add-flow`), quirks
    /// included.
    Ovs,
    /// That, and the printed forms OVS does not read back (see the module
    /// doc), so that everything [`format_actions`] prints parses again.
    Printed,
}

/// Parses an action list in OVS's text format, printed forms included
/// ([`Syntax::Printed`]); see [`parse_actions_with`].
///
/// # Errors
/// As [`parse_actions_with`].
pub fn parse_actions(s: &str) -> Result<Vec<Action>, ParseError> {
    parse_actions_with(s, Syntax::Printed)
}

/// Parses an action list in OVS's text format (`odp_actions_from_string`),
/// reading the forms `syntax` allows.
///
/// `drop` (any case, alone) gives a single explicit [`Action::Drop`]; an
/// empty string gives an empty list.
///
/// # Errors
/// Any text OVS rejects (and, with [`Syntax::Printed`], that is not a
/// printed form), including a list whose netlink encoding would not fit in
/// one attribute. The message carries no detail (OVS prints none).
pub fn parse_actions_with(s: &str, syntax: Syntax) -> Result<Vec<Action>, ParseError> {
    if s.eq_ignore_ascii_case("drop") {
        return Ok(vec![Action::Drop(0)]);
    }
    let mut c = Cur::new(s);
    let mut out = Vec::new();
    let mut w = nl::Writer::new();
    loop {
        c.skip_any(DELIMITERS);
        if c.at_end() {
            return Ok(out);
        }
        let a = parse_action(&mut c, 1, syntax)?;
        crate::nl::action::emit_actions(std::slice::from_ref(&a), &mut w);
        if w.overflowed() || w.len() > u16::MAX as usize {
            return Err(err());
        }
        if !(c.at_end() || DELIMITERS.contains(&c.peek())) {
            return Err(err());
        }
        out.push(a);
    }
}

/// A list of actions up to (not including) the closing parenthesis. As in
/// OVS, nothing is needed between two actions.
fn parse_list(c: &mut Cur<'_>, depth: usize, syn: Syntax) -> Result<Vec<Action>, ParseError> {
    let mut out = Vec::new();
    loop {
        c.skip_any(DELIMITERS);
        if c.peek() == b')' {
            break;
        }
        if c.at_end() {
            return Err(err());
        }
        out.push(parse_action(c, depth + 1, syn)?);
    }
    let mut w = nl::Writer::new();
    crate::nl::action::emit_actions(&out, &mut w);
    if w.overflowed() || w.len() > u16::MAX as usize {
        return Err(err());
    }
    Ok(out)
}

fn expect(ok: bool) -> Result<(), ParseError> {
    if ok {
        Ok(())
    } else {
        Err(err())
    }
}

/// `name(N)` with a `%i`/`%u` conversion.
fn paren_num<'a>(
    c: &mut Cur<'a>,
    name: &str,
    conv: impl FnOnce(&mut Cur<'a>) -> Option<u64>,
) -> Option<u64> {
    c.attempt(|c| {
        c.lit(name).then_some(())?;
        let v = conv(c)?;
        c.lit(")").then_some(v)
    })
}

fn parse_action(c: &mut Cur<'_>, depth: usize, syn: Syntax) -> Result<Action, ParseError> {
    if depth >= MAX_NESTED {
        return Err(err());
    }
    let printed = syn == Syntax::Printed;
    if let Some(p) = c.attempt(|c| c.i32()) {
        return Ok(Action::Output(PortNo(p)));
    }
    if let Some(b) = paren_num(c, "lb_output(", Cur::int_u) {
        return Ok(Action::LbOutput(b as u32));
    }
    if let Some(v) = paren_num(c, "trunc(", Cur::int_i) {
        return Ok(Action::Trunc { max_len: v as u32 });
    }
    // OVS reads the id in decimal only, though it prints it in hex; the
    // printed form is an extension.
    if let Some(v) = paren_num(c, "recirc(", Cur::int_u).or_else(|| {
        printed
            .then(|| paren_num(c, "recirc(0x", Cur::int_x))
            .flatten()
    }) {
        return Ok(Action::Recirc(RecircId(v as u32)));
    }
    if c.starts_with("userspace(") {
        return parse_userspace(c, syn);
    }
    if c.starts_with("set(") {
        return parse_set(c);
    }
    if let Some(a) = parse_push_vlan(c) {
        return a;
    }
    if c.lit("pop_vlan") {
        return Ok(Action::PopVlan);
    }
    // OVS reads this one with the C library's sscanf("meter(%lli)").
    if let Some(v) = paren_num(c, "meter(", Cur::sscanf_lli) {
        return Ok(Action::Meter(v as u32));
    }
    if let Some(pct) = c.attempt(|c| {
        c.lit("sample(sample=").then_some(())?;
        let p = c.float()?;
        c.lit("%,actions(").then_some(())?;
        (0.0..=100.0).contains(&p).then_some(p)
    }) {
        let prob = (f64::from(u32::MAX) * (pct / 100.0) + 0.5).floor();
        let probability = if prob <= 0.0 {
            0
        } else if prob >= f64::from(u32::MAX) {
            u32::MAX
        } else {
            prob as u32
        };
        let actions = parse_branch(c, depth, syn)?;
        expect(c.lit("))"))?;
        return Ok(Action::Sample {
            probability,
            actions,
        });
    }
    if c.lit("clone(") {
        let actions = parse_branch(c, depth, syn)?;
        expect(c.lit(")"))?;
        return Ok(Action::Clone(actions));
    }
    if c.starts_with("push_nsh(") {
        return parse_push_nsh(c);
    }
    if c.lit("pop_nsh()") {
        return Ok(Action::PopNsh);
    }
    if let Some(p) = paren_num(c, "tnl_pop(", Cur::int_i) {
        return Ok(Action::TunnelPop(PortNo(p as u32)));
    }
    if c.lit("ct_clear") {
        return Ok(Action::CtClear);
    }
    if let Some(pkt_len) = c.attempt(|c| {
        c.lit("check_pkt_len(size=").then_some(())?;
        let v = c.i16()?;
        c.lit(",gt(").then_some(v)
    }) {
        let gt = parse_drop_or_list(c, depth, syn)?;
        expect(c.lit("),le("))?;
        let le = parse_drop_or_list(c, depth, syn)?;
        // OVS checks the character after the one that ends the list (a
        // `)` after a list, anything after `drop`).
        expect(!c.at_end() && c.peek_at(1) == b')')?;
        c.advance(2);
        return Ok(Action::CheckPktLen { pkt_len, gt, le });
    }
    if let Some(a) = c.attempt(|c| {
        c.lit("add_mpls(").then_some(())?;
        let (lse, ethertype) = scan_mpls(c)?;
        Some(Action::AddMpls {
            lse,
            ethertype,
            tun_flags: 0,
        })
    }) {
        return Ok(a);
    }
    if c.starts_with("psample(") {
        return parse_psample(c);
    }
    if printed {
        if let Some(a) = parse_extensions(c, depth, syn) {
            return a;
        }
    }
    if c.starts_with("ct") {
        return parse_ct(c).map(Action::Ct);
    }
    if let Some(t) = tnl::parse_tnl_push(c, printed) {
        return Ok(Action::TunnelPush(t));
    }
    Err(err())
}

/// A branch of `check_pkt_len`: text starting with `drop` (any case; OVS
/// reads those four letters as an empty list) or an action list.
fn parse_drop_or_list(
    c: &mut Cur<'_>,
    depth: usize,
    syn: Syntax,
) -> Result<Vec<Action>, ParseError> {
    if c.rest().len() >= 4 && c.rest()[..4].eq_ignore_ascii_case(b"drop") {
        c.advance(4);
        return Ok(Vec::new());
    }
    parse_list(c, depth, syn)
}

/// The list of `clone`, `sample` and `dec_ttl`. OVS accepts `drop` only in
/// `check_pkt_len`; the printed syntax accepts it wherever an empty list
/// prints that way.
fn parse_branch(c: &mut Cur<'_>, depth: usize, syn: Syntax) -> Result<Vec<Action>, ParseError> {
    match syn {
        Syntax::Printed => parse_drop_or_list(c, depth, syn),
        Syntax::Ovs => parse_list(c, depth, syn),
    }
}

/// `label=%i,tc=%d,ttl=%d,bos=%d,eth_type=0x%x)` of `add_mpls` and `push_mpls`.
fn scan_mpls(c: &mut Cur<'_>) -> Option<(MplsLse, u16)> {
    c.lit("label=").then_some(())?;
    let label = c.i32()?;
    c.lit(",tc=").then_some(())?;
    let tc = c.int_d()? as u8;
    c.lit(",ttl=").then_some(())?;
    let ttl = c.int_d()? as u8;
    c.lit(",bos=").then_some(())?;
    let bos = c.int_d()? as u8;
    c.lit(",eth_type=0x").then_some(())?;
    let eth = c.int_x()? as u16;
    c.lit(")").then_some(())?;
    let lse =
        label.wrapping_shl(12) | (u32::from(tc) << 9) | (u32::from(bos) << 8) | u32::from(ttl);
    Some((MplsLse(lse), eth))
}

/// Printed forms that OVS's parser does not accept; see the module doc.
fn parse_extensions(
    c: &mut Cur<'_>,
    depth: usize,
    syn: Syntax,
) -> Option<Result<Action, ParseError>> {
    if let Some(a) = c.attempt(|c| {
        c.lit("push_mpls(").then_some(())?;
        let (lse, ethertype) = scan_mpls(c)?;
        Some(Action::PushMpls { lse, ethertype })
    }) {
        return Some(Ok(a));
    }
    if let Some(e) = c.attempt(|c| {
        c.lit("pop_mpls(eth_type=0x").then_some(())?;
        let e = c.int_x()? as u16;
        c.lit(")").then_some(e)
    }) {
        return Some(Ok(Action::PopMpls { ethertype: e }));
    }
    if let Some(a) = c.attempt(|c| {
        c.lit("hash(").then_some(())?;
        let alg = if c.lit("l4(") {
            OVS_HASH_ALG_L4
        } else if c.lit("sym_l4(") {
            OVS_HASH_ALG_SYM_L4
        } else {
            return None;
        };
        let basis = c.int_u()? as u32;
        c.lit("))").then_some(Action::Hash { alg, basis })
    }) {
        return Some(Ok(a));
    }
    if let Some(a) = c.attempt(|c| {
        c.lit("push_eth(src=").then_some(())?;
        let src = c.mac()?;
        c.lit(",dst=").then_some(())?;
        let dst = c.mac()?;
        c.lit(")").then_some(Action::PushEth { src, dst })
    }) {
        return Some(Ok(a));
    }
    if c.lit("pop_eth") {
        return Some(Ok(Action::PopEth));
    }
    if c.lit("dec_ttl(le_1(") {
        return Some(parse_branch(c, depth, syn).and_then(|acts| {
            expect(c.lit("))"))?;
            Ok(Action::DecTtl(acts))
        }));
    }
    None
}

fn parse_push_vlan(c: &mut Cur<'_>) -> Option<Result<Action, ParseError>> {
    type Form = (&'static str, bool, bool);
    // (prefix, has tpid, has cfi), in OVS's order of attempts.
    const FORMS: [Form; 4] = [
        ("push_vlan(vid=", false, false),
        ("push_vlan(vid=", false, true),
        ("push_vlan(tpid=", true, false),
        ("push_vlan(tpid=", true, true),
    ];
    for (prefix, has_tpid, has_cfi) in FORMS {
        let r = c.attempt(|c| {
            c.lit(prefix).then_some(())?;
            let mut tpid = u64::from(ETH_TYPE_VLAN_8021Q);
            if has_tpid {
                tpid = c.int_i()?;
                c.lit(",vid=").then_some(())?;
            }
            let vid = c.int_i()? as i32;
            c.lit(",pcp=").then_some(())?;
            let pcp = c.int_i()? as i32;
            let mut cfi = 1;
            if has_cfi {
                c.lit(",cfi=").then_some(())?;
                cfi = c.int_i()? as i32;
            }
            c.lit(")").then_some((tpid as u16, vid, pcp, cfi))
        });
        if let Some((tpid, vid, pcp, cfi)) = r {
            if vid & !0xfff != 0 || pcp & !7 != 0 {
                return Some(Err(err()));
            }
            let tci = (vid as u16) | ((pcp as u16) << 13) | if cfi != 0 { 0x1000 } else { 0 };
            return Some(Ok(Action::PushVlan { tpid, tci }));
        }
    }
    None
}

fn parse_set(c: &mut Cur<'_>) -> Result<Action, ParseError> {
    c.advance(4);
    let (key, mask, used) = keyglue::parse_attr(c.rest_str())?;
    c.advance(used);
    expect(c.lit(")"))?;
    let kp = crate::nl::action::key_payload(&key);
    let mp = crate::nl::action::key_payload(&mask);
    if kp.len() == mp.len() && !mp.iter().all(|&b| b == 0xff) {
        Ok(Action::SetMasked { key, mask })
    } else {
        Ok(Action::Set(key))
    }
}

/// Slow-path reasons as OVS reads them (`parse_odp_flags`): names or
/// numbers separated by `|`, known bits only, up to `)`.
fn parse_slow_path_flags_ovs(c: &mut Cur<'_>) -> Option<u32> {
    const NAMES: &[(u32, &str)] = &SLOW_PATH_REASONS;
    let all = SLOW_PATH_REASONS.iter().fold(0, |m, (b, _)| m | b);
    let (flags, _, n) = crate::text::key::flags::parse_flags(c.rest(), NAMES, b')', all, false)?;
    c.advance(n);
    Some(flags)
}

/// Slow-path reasons in the printed syntax: also separated by `,`, with
/// unknown bits as a number, as OVS prints them.
fn parse_slow_path_flags(c: &mut Cur<'_>) -> Option<u32> {
    let mut result = 0u32;
    while c.peek() != b')' {
        if let Some(v) = c.attempt(|c| c.int_i()) {
            result |= v as u32;
        } else {
            let (bit, name) = SLOW_PATH_REASONS.iter().find(|(_, name)| {
                c.starts_with(name) && matches!(c.peek_at(name.len()), b'|' | b',' | b')')
            })?;
            result |= bit;
            c.advance(name.len());
        }
        if !c.lit("|") {
            c.lit(",");
        }
    }
    Some(result)
}

/// The cookie or userdata part of `userspace(...)`, if any. `Err` when a
/// cookie starts but is malformed.
fn parse_userdata(c: &mut Cur<'_>, syn: Syntax) -> Result<Option<Vec<u8>>, ParseError> {
    if let Some(ck) = c.attempt(|c| {
        c.lit(",sFlow(vid=").then_some(())?;
        let vid = c.int_i()? as u32;
        c.lit(",pcp=").then_some(())?;
        let pcp = c.int_i()? as u32;
        c.lit(",output=").then_some(())?;
        let output = c.i32()?;
        c.lit(")").then_some(())?;
        let mut tci = vid | (pcp << 13);
        if tci != 0 {
            tci |= 0x1000;
        }
        Some(UserCookie::Sflow {
            vlan_tci: tci as u16,
            output,
        })
    }) {
        return Ok(Some(ck.to_bytes().to_vec()));
    }
    if c.lit(",slow_path(") {
        let reason = match syn {
            Syntax::Ovs => parse_slow_path_flags_ovs(c),
            Syntax::Printed => parse_slow_path_flags(c),
        }
        .ok_or_else(err)?;
        expect(c.lit(")"))?;
        return Ok(Some(UserCookie::SlowPath { reason }.to_bytes().to_vec()));
    }
    if let Some((probability, collector_set_id, obs_domain_id, obs_point_id, output)) =
        c.attempt(|c| {
            c.lit(",flow_sample(probability=").then_some(())?;
            let p = c.i32()?;
            c.lit(",collector_set_id=").then_some(())?;
            let cs = c.i32()?;
            c.lit(",obs_domain_id=").then_some(())?;
            let od = c.i32()?;
            c.lit(",obs_point_id=").then_some(())?;
            let op = c.i32()?;
            c.lit(",output_port=").then_some(())?;
            let o = c.i32()?;
            Some((p, cs, od, op, o))
        })
    {
        let direction = if c.lit(",ingress") {
            1
        } else if c.lit(",egress") {
            2
        } else {
            0
        };
        expect(c.lit(")"))?;
        let ck = UserCookie::FlowSample {
            probability: probability as u16,
            collector_set_id,
            obs_domain_id,
            obs_point_id,
            output_port: PortNo(output),
            direction,
        };
        return Ok(Some(ck.to_bytes().to_vec()));
    }
    if let Some(o) = c.attempt(|c| {
        c.lit(",ipfix(output_port=").then_some(())?;
        let o = c.i32()?;
        c.lit(")").then_some(o)
    }) {
        let ck = UserCookie::Ipfix {
            output_port: PortNo(o),
        };
        return Ok(Some(ck.to_bytes().to_vec()));
    }
    if let Some(ck) = c.attempt(|c| {
        c.lit(",controller(reason=").then_some(())?;
        let reason = c.int_u()? as u16;
        c.lit(",dont_send=").then_some(())?;
        let dont_send = c.int_u()? as u8;
        c.lit(",continuation=").then_some(())?;
        let continuation = c.int_u()? as u8;
        c.lit(",recirc_id=").then_some(())?;
        let recirc_id = c.int_u()? as u32;
        c.lit(",rule_cookie=").then_some(())?;
        let rule_cookie = c.int_x()?;
        c.lit(",controller_id=").then_some(())?;
        let controller_id = c.int_u()? as u16;
        c.lit(",max_len=").then_some(())?;
        let max_len = c.int_u()? as u16;
        c.lit(")").then_some(())?;
        Some(UserCookie::Controller {
            dont_send: dont_send != 0,
            continuation: continuation != 0,
            reason,
            recirc_id,
            rule_cookie,
            controller_id,
            max_len,
        })
    }) {
        return Ok(Some(ck.to_bytes().to_vec()));
    }
    if c.lit(",userdata(") {
        let (bytes, used) = hex_pairs(c.rest());
        c.advance(used);
        expect(c.lit(")"))?;
        return Ok(Some(bytes));
    }
    Ok(None)
}

/// `userspace(...)`. As OVS's parser does, it reads `push_eth(src=..,
/// dst=..,type=..)` or `pop_eth` where the closing parenthesis of a
/// `userspace(pid=N...` should be, and then gives that action instead (for
/// `pop_eth`, having read 7 bytes from the start of `userspace(`).
fn parse_userspace(c: &mut Cur<'_>, syn: Syntax) -> Result<Action, ParseError> {
    let start = c.pos;
    let pid = c
        .attempt(|c| {
            c.lit("userspace(pid=").then_some(())?;
            c.i32()
        })
        .ok_or_else(err)?;
    // Without a cookie or userdata, OVS sends an all-zero cookie.
    let mut userdata = parse_userdata(c, syn)?.unwrap_or_else(|| vec![0; USER_COOKIE_LEN]);
    let actions = c.lit(",actions");
    let egress_tun_port = if let Some(p) = c.attempt(|c| {
        c.lit(",tunnel_out_port=").then_some(())?;
        let p = c.i32()?;
        c.lit(")").then_some(p)
    }) {
        // OVS leaves the attribute out for ODPP_NONE.
        (p != u32::MAX).then_some(PortNo(p))
    } else if c.lit(")") {
        None
    } else if let Some(a) = c.attempt(|c| {
        c.lit("push_eth(src=").then_some(())?;
        let src = c.mac()?;
        c.lit(",dst=").then_some(())?;
        let dst = c.mac()?;
        c.lit(",type=").then_some(())?;
        c.int_i()?;
        c.lit(")").then_some(Action::PushEth { src, dst })
    }) {
        return Ok(a);
    } else if c.starts_with("pop_eth") {
        c.pos = start + "pop_eth".len();
        return Ok(Action::PopEth);
    } else {
        return Err(err());
    };
    if userdata.len() > MAX_ATTR_PAYLOAD {
        return Err(err());
    }
    // Old kernels needed at least 8 bytes of userdata; OVS pads to that.
    if userdata.len() < 8 {
        userdata.resize(8, 0);
    }
    let nested = 8
        + nl::align(4 + userdata.len())
        + if egress_tun_port.is_some() { 8 } else { 0 }
        + if actions { 4 } else { 0 };
    if nested > MAX_ATTR_PAYLOAD {
        return Err(err());
    }
    Ok(Action::Userspace(Userspace {
        pid,
        userdata: Some(userdata),
        egress_tun_port,
        actions,
    }))
}

fn parse_psample(c: &mut Cur<'_>) -> Result<Action, ParseError> {
    c.advance("psample(".len());
    let mut group = None;
    let mut cookie: Option<Vec<u8>> = None;
    while c.peek() != b')' {
        c.skip_any(DELIMITERS);
        if group.is_none() {
            if let Some(g) = c.attempt(|c| {
                c.lit("group=").then_some(())?;
                c.i32()
            }) {
                group = Some(g);
                continue;
            }
        }
        if cookie.is_none() {
            if let Some(h) = c.attempt(|c| {
                c.lit("cookie=0x").then_some(())?;
                c.span(32, |b| b.is_ascii_hexdigit())
            }) {
                let (bytes, _) = hex_pairs(h.as_bytes());
                if !bytes.is_empty() {
                    cookie = Some(bytes);
                }
                continue;
            }
        }
        return Err(err());
    }
    c.advance(1);
    let group = group.ok_or_else(err)?;
    Ok(Action::Psample { group, cookie })
}

/// `name=` then a conversion.
fn field<'a>(
    c: &mut Cur<'a>,
    name: &str,
    conv: impl FnOnce(&mut Cur<'a>) -> Option<u64>,
) -> Option<u64> {
    c.attempt(|c| {
        c.lit(name).then_some(())?;
        conv(c)
    })
}

fn parse_push_nsh(c: &mut Cur<'_>) -> Result<Action, ParseError> {
    c.advance("push_nsh(".len());
    let mut base = NshBase {
        flags: 0,
        ttl: 63,
        mdtype: 1,
        np: 3,
        path_hdr: 0,
    };
    let mut spi: u32 = 0;
    let mut si: u8 = 255;
    let mut ctx = [0u32; 4];
    let mut md2: Vec<u8> = Vec::new();
    loop {
        c.skip_any(DELIMITERS);
        if c.peek() == b')' {
            break;
        }
        if let Some(v) = field(c, "flags=", Cur::int_i) {
            base.flags = v as u8;
            continue;
        }
        if let Some(v) = field(c, "ttl=", Cur::int_i) {
            base.ttl = v as u8;
            continue;
        }
        if let Some(v) = field(c, "mdtype=", Cur::int_i) {
            base.mdtype = v as u8;
            match base.mdtype {
                1 => {}
                2 => md2.clear(),
                _ => return Err(err()),
            }
            continue;
        }
        if let Some(v) = field(c, "np=", Cur::int_i) {
            base.np = v as u8;
            continue;
        }
        if let Some(v) = field(c, "spi=0x", Cur::int_x) {
            spi = v as u32;
            continue;
        }
        if let Some(v) = field(c, "si=", Cur::int_i) {
            si = v as u8;
            continue;
        }
        if base.mdtype == 1 {
            let mut hit = false;
            for (i, slot) in ctx.iter_mut().enumerate() {
                if let Some(v) = field(c, &format!("c{}=0x", i + 1), Cur::int_x) {
                    *slot = v as u32;
                    hit = true;
                    break;
                }
            }
            if hit {
                continue;
            }
        } else if base.mdtype == 2 {
            if let Some(h) = c.attempt(|c| {
                c.lit("md2=0x").then_some(())?;
                c.span(511, |b| b.is_ascii_hexdigit())
            }) {
                if c.pos / 2 > 248 {
                    return Err(err());
                }
                let (mut bytes, _) = hex_pairs(h.as_bytes());
                bytes.resize(nl::align(bytes.len()), 0);
                md2 = bytes;
                continue;
            }
        }
        return Err(err());
    }
    c.advance(1);
    base.path_hdr = (spi << 8) | u32::from(si);
    let mut attrs = vec![NshAttr::Base(base)];
    match base.mdtype {
        1 => attrs.push(NshAttr::Md1(ctx)),
        2 if !md2.is_empty() => attrs.push(NshAttr::Md2(md2)),
        _ => {}
    }
    Ok(Action::PushNsh(attrs))
}

fn parse_nat_range(c: &mut Cur<'_>, nat: &mut Nat) -> Option<()> {
    if !c.lit("=") {
        return Some(());
    }
    let v6 = |c: &mut Cur<'_>| {
        c.ipv6().or_else(|| {
            c.attempt(|c| {
                c.lit("[").then_some(())?;
                let a = c.ipv6()?;
                c.lit("]").then_some(a)
            })
        })
    };
    if let Some(a) = c.ipv4() {
        nat.ip_min = Some(IpAddr::V4(a));
        if c.lit("-") {
            nat.ip_max = Some(IpAddr::V4(c.ipv4()?));
        }
    } else if let Some(a) = v6(c) {
        nat.ip_min = Some(IpAddr::V6(a));
        if c.lit("-") {
            nat.ip_max = Some(IpAddr::V6(v6(c)?));
        }
    } else {
        return None;
    }
    if let Some(p) = c.attempt(|c| {
        c.lit(":").then_some(())?;
        c.int_u()
    }) {
        nat.proto_min = Some(p as u16);
        if c.lit("-") {
            nat.proto_max = Some(c.int_u()? as u16);
        }
    }
    Some(())
}

/// `nat` or `nat(...)`, with OVS's checks. The result is what OVS encodes:
/// without `src`/`dst`, nothing but the empty nest.
fn parse_nat(c: &mut Cur<'_>) -> Result<Nat, ParseError> {
    let mut p = Nat::default();
    let (mut snat, mut dnat) = (false, false);
    if c.lit("(") {
        let end = c
            .rest()
            .iter()
            .position(|&b| b == b')')
            .map(|i| c.pos + i)
            .ok_or_else(err)?;
        while c.pos < end {
            c.skip_any(DELIMITERS);
            if c.lit("src") {
                parse_nat_range(c, &mut p).ok_or_else(err)?;
                snat = true;
            } else if c.lit("dst") {
                parse_nat_range(c, &mut p).ok_or_else(err)?;
                dnat = true;
            } else if c.lit("persistent") {
                p.persistent = true;
            } else if c.lit("hash") {
                p.hash = true;
            } else if c.lit("random") {
                p.random = true;
            } else {
                return Err(err());
            }
        }
        if snat && dnat {
            return Err(err());
        }
        let bytes = |ip: &Option<IpAddr>| match ip {
            Some(IpAddr::V4(a)) => a.octets().to_vec(),
            Some(IpAddr::V6(a)) => a.octets().to_vec(),
            None => Vec::new(),
        };
        let (min, max) = (bytes(&p.ip_min), bytes(&p.ip_max));
        let len = min.len();
        let max_full = if max.len() == len {
            max.clone()
        } else {
            vec![0; len]
        };
        if (len != 0 && max_full.iter().any(|&b| b != 0) && max_full < min)
            || (p.proto_max.unwrap_or(0) != 0 && p.proto_max < p.proto_min)
        {
            return Err(err());
        }
        if p.hash && p.random {
            return Err(err());
        }
        c.advance(1);
        // What OVS puts in the nest.
        let mut nat = Nat::default();
        if snat || dnat {
            nat.kind = Some(if snat { NatKind::Src } else { NatKind::Dst });
            if len != 0 {
                nat.ip_min = p.ip_min;
                if max_full > min {
                    nat.ip_max = p.ip_max;
                }
                let pmin = p.proto_min.unwrap_or(0);
                if pmin != 0 {
                    nat.proto_min = Some(pmin);
                    let pmax = p.proto_max.unwrap_or(0);
                    if pmax > pmin {
                        nat.proto_max = Some(pmax);
                    }
                }
                nat.persistent = p.persistent;
                nat.hash = p.hash;
                nat.random = p.random;
            }
        }
        return Ok(nat);
    }
    Ok(Nat::default())
}

fn parse_ct(c: &mut Cur<'_>) -> Result<Ct, ParseError> {
    c.advance(2);
    let mut ct = Ct::default();
    let mut zone = 0u16;
    let mut mark = (0u32, 0u32);
    let mut labels = (0u128, 0u128);
    if c.lit("(") {
        loop {
            let end = c
                .rest()
                .iter()
                .position(|&b| b == b')')
                .map(|i| c.pos + i)
                .ok_or_else(err)?;
            let mut nat_seen = false;
            while c.pos != end {
                c.skip_any(DELIMITERS);
                if c.lit("commit") {
                    ct.commit = true;
                    continue;
                }
                if c.lit("force_commit") {
                    ct.force_commit = true;
                    continue;
                }
                if let Some(z) = c.attempt(|c| {
                    c.lit("zone=").then_some(())?;
                    c.int_u()
                }) {
                    zone = z as u16;
                    continue;
                }
                if let Some(v) = c.attempt(|c| {
                    c.lit("mark=").then_some(())?;
                    c.int_x()
                }) {
                    mark.0 = v as u32;
                    mark.1 = c
                        .attempt(|c| {
                            c.lit("/").then_some(())?;
                            c.int_x()
                        })
                        .map_or(u32::MAX, |m| m as u32);
                    continue;
                }
                if c.lit("label=") {
                    let (v, used) = int_string(c.rest(), 16).ok_or_else(err)?;
                    c.advance(used);
                    let mut m = u128::MAX;
                    if c.lit("/") {
                        let (mb, used) = int_string(c.rest(), 16).ok_or_else(err)?;
                        c.advance(used);
                        m = u128::from_be_bytes(mb.try_into().map_err(|_| err())?);
                    }
                    labels = (u128::from_be_bytes(v.try_into().map_err(|_| err())?), m);
                    continue;
                }
                let word = |c: &mut Cur<'_>, max: usize| -> Result<String, ParseError> {
                    let n = c
                        .rest()
                        .iter()
                        .position(|b| b", \t\r\n)".contains(b))
                        .unwrap_or(c.rest().len());
                    if n == 0 || n > max {
                        return Err(err());
                    }
                    let s = std::str::from_utf8(&c.rest()[..n]).map_err(|_| err())?;
                    let s = s.to_string();
                    c.advance(n);
                    Ok(s)
                };
                if c.lit("helper=") {
                    ct.helper = Some(word(c, 15)?);
                    continue;
                }
                if c.lit("timeout=") {
                    ct.timeout = Some(word(c, 31)?);
                    continue;
                }
                if c.lit("nat") {
                    ct.nat = Some(parse_nat(c)?);
                    nat_seen = true;
                    break;
                }
                return Err(err());
            }
            if !nat_seen {
                break;
            }
        }
        c.advance(1);
    }
    if ct.commit && ct.force_commit {
        return Err(err());
    }
    if ct.commit {
        ct.force_commit = false;
    }
    ct.zone = (zone != 0).then_some(zone);
    ct.mark = (mark.1 != 0).then_some(mark);
    ct.labels = (labels.1 != 0).then_some(labels);
    Ok(ct)
}

#[cfg(test)]
mod tests;
