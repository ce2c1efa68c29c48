//! `ovs-dpctl`'s conntrack arguments: conntrack tuples of
//! `flush-conntrack` (OVS's `ofp_ct_tuple_parse`: `ct_nw_src=A,ct_nw_dst=B,
//! ct_nw_proto=P,ct_tp_src=S,ct_tp_dst=D`, `ct_ipv6_src/dst`, `icmp_id`,
//! `icmp_type`, `icmp_code`; any field may be left out), zone limits of
//! `ct-set-limits` (`zone=N,limit=M`), and how a partial match selects
//! entries (`ct_dpif_entry_cmp`). Error messages are OVS's.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::*;

/// A possibly partial tuple (`struct ofp_ct_tuple`): unset fields are
/// zero (an unspecified address, port 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PartialTuple {
    /// Source address.
    pub src: Option<IpAddr>,
    /// Destination address.
    pub dst: Option<IpAddr>,
    /// Source port (0: any).
    pub src_port: u16,
    /// Destination port (0: any).
    pub dst_port: u16,
    /// ICMP id.
    pub icmp_id: u16,
    /// ICMP type.
    pub icmp_type: u8,
    /// ICMP code.
    pub icmp_code: u8,
}

/// A conntrack match (`struct ofp_ct_match`): protocol, family and
/// partial original and reply tuples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CtMatch {
    /// Address family ([`AF_INET`], [`AF_INET6`]), 0 if not given.
    pub l3_type: u16,
    /// IP protocol, 0 if not given.
    pub ip_proto: u8,
    /// Original direction.
    pub orig: PartialTuple,
    /// Reply direction.
    pub reply: PartialTuple,
}

fn is_icmp(p: u8) -> bool {
    p == IPPROTO_ICMP || p == IPPROTO_ICMPV6
}

impl PartialTuple {
    /// `ofp_ct_tuple_is_zero`.
    pub fn is_zero(&self, ip_proto: u8) -> bool {
        let zero_addr = |a: Option<IpAddr>| a.is_none_or(|a| a.is_unspecified());
        zero_addr(self.src)
            && zero_addr(self.dst)
            && (is_icmp(ip_proto) || (self.src_port == 0 && self.dst_port == 0))
    }

    /// `ofp_ct_tuple_is_five_tuple`: both addresses and, but for ICMP,
    /// both ports.
    pub fn is_five_tuple(&self, ip_proto: u8) -> bool {
        let set = |a: Option<IpAddr>| a.is_some_and(|a| !a.is_unspecified());
        set(self.src)
            && set(self.dst)
            && (is_icmp(ip_proto) || (self.src_port != 0 && self.dst_port != 0))
    }

    /// The tuple, for a five-tuple.
    pub fn to_tuple(&self, ip_proto: u8) -> CtTuple {
        let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
        let icmp = is_icmp(ip_proto);
        CtTuple {
            src: self.src.unwrap_or(any),
            dst: self.dst.unwrap_or(any),
            proto: ip_proto,
            src_port: if icmp { 0 } else { self.src_port },
            dst_port: if icmp { 0 } else { self.dst_port },
            icmp_id: if icmp { self.icmp_id } else { 0 },
            icmp_type: if icmp { self.icmp_type } else { 0 },
            icmp_code: if icmp { self.icmp_code } else { 0 },
        }
    }

    /// `ct_dpif_tuple_ip_cmp_partial`: whether `t` has every field set
    /// here (for ICMP the id, type and code always count).
    fn selects(&self, t: &CtTuple, ip_proto: u8) -> bool {
        let addr = |p: Option<IpAddr>, a: IpAddr| p.is_none_or(|p| p.is_unspecified() || p == a);
        if !addr(self.src, t.src) || !addr(self.dst, t.dst) {
            return false;
        }
        if is_icmp(ip_proto) {
            self.icmp_id == t.icmp_id
                && self.icmp_type == t.icmp_type
                && self.icmp_code == t.icmp_code
        } else {
            (self.src_port == 0 || self.src_port == t.src_port)
                && (self.dst_port == 0 || self.dst_port == t.dst_port)
        }
    }
}

impl CtMatch {
    /// `ofp_ct_match_is_zero`: selects everything.
    pub fn is_zero(&self) -> bool {
        self.ip_proto == 0
            && self.l3_type == 0
            && self.orig.is_zero(self.ip_proto)
            && self.reply.is_zero(self.ip_proto)
    }

    /// The original tuple, when the match names exactly one connection
    /// by it (a five-tuple original, nothing of the reply): what a
    /// provider's [`CtFlush::orig`] takes.
    pub fn exact_orig(&self) -> Option<CtTuple> {
        (self.orig.is_five_tuple(self.ip_proto) && self.reply.is_zero(self.ip_proto))
            .then(|| self.orig.to_tuple(self.ip_proto))
    }

    /// `ct_dpif_entry_cmp`: whether `e` has every field set here.
    pub fn selects(&self, e: &CtEntry) -> bool {
        (self.l3_type == 0 || self.l3_type == e.orig.l3_type())
            && (self.ip_proto == 0 || self.ip_proto == e.orig.proto)
            && self.orig.selects(&e.orig, self.ip_proto)
            && self.reply.selects(&e.reply, self.ip_proto)
    }
}

/// `ofputil_parse_key_value`'s splitting: `key=value` or `key:value`
/// items separated by commas or white space; a key alone has an empty
/// value. Parentheses in a value nest.
pub fn key_values(s: &str) -> Vec<(&str, &str)> {
    let delim = |c: char| c == ',' || c.is_ascii_whitespace();
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        rest = rest.trim_start_matches(delim);
        if rest.is_empty() {
            return out;
        }
        let kend = rest
            .find(|c: char| delim(c) || c == '=' || c == ':' || c == '(')
            .unwrap_or(rest.len());
        let key = &rest[..kend];
        rest = &rest[kend..];
        let mut value = "";
        if let Some(r) = rest.strip_prefix(['=', ':']) {
            let mut depth = 0i32;
            let mut end = r.len();
            for (i, c) in r.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    c if depth <= 0 && delim(c) => {
                        end = i;
                        break;
                    }
                    _ => {}
                }
            }
            value = &r[..end];
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('(') {
            let end = r.find(')').unwrap_or(r.len());
            value = &r[..end];
            rest = r.get(end + 1..).unwrap_or("");
        }
        out.push((key, value));
    }
}

fn num<T: std::str::FromStr>(v: &str) -> Option<T> {
    // strtoul-style: decimal, or 0x hexadecimal.
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16)
            .ok()
            .and_then(|n| n.to_string().parse().ok()),
        None => v.parse().ok(),
    }
}

/// `ofp_ct_tuple_parse`: reads `s` into `t`, setting the match's protocol
/// and family as fields name them.
///
/// # Errors
/// OVS's message (`failed to parse field ct_nw_src`, `invalid conntrack
/// tuple field: x`, ...).
pub fn tuple(s: &str, t: &mut PartialTuple, m_proto: &mut u8, l3: &mut u16) -> Result<(), String> {
    for (key, value) in key_values(s) {
        if value.is_empty() {
            return Err(format!("field {key} missing value"));
        }
        let bad = || format!("failed to parse field {key}");
        match key {
            "ct_nw_src" | "ct_nw_dst" | "ct_ipv6_src" | "ct_ipv6_dst" => {
                let v6 = key.starts_with("ct_ipv6");
                let want = if v6 { AF_INET6 } else { AF_INET };
                if *l3 != 0 && *l3 != want {
                    return Err(format!("the L3 protocol does not match {value}"));
                }
                let slot = if key.ends_with("src") {
                    &mut t.src
                } else {
                    &mut t.dst
                };
                if slot.is_some_and(|a| !a.is_unspecified()) {
                    return Err(format!("{key} is set multiple times"));
                }
                let a: IpAddr = if v6 {
                    value.parse::<Ipv6Addr>().map_err(|_| bad())?.into()
                } else {
                    value.parse::<Ipv4Addr>().map_err(|_| bad())?.into()
                };
                *slot = Some(a);
                *l3 = want;
            }
            "ct_nw_proto" => *m_proto = num(value).ok_or_else(bad)?,
            "ct_tp_src" => t.src_port = num(value).ok_or_else(bad)?,
            "ct_tp_dst" => t.dst_port = num(value).ok_or_else(bad)?,
            "icmp_type" | "icmp_code" | "icmp_id" => {
                if !is_icmp(*m_proto) {
                    return Err("invalid L4 fields".into());
                }
                match key {
                    "icmp_type" => t.icmp_type = num(value).ok_or_else(bad)?,
                    "icmp_code" => t.icmp_code = num(value).ok_or_else(bad)?,
                    _ => t.icmp_id = num(value).ok_or_else(bad)?,
                }
            }
            _ => return Err(format!("invalid conntrack tuple field: {key}")),
        }
    }
    if *m_proto == 0 && (t.src_port != 0 || t.dst_port != 0) {
        return Err("port is set without protocol".into());
    }
    Ok(())
}

/// `ct_dpif_parse_zone_limit_tuple`: `zone=N,limit=M`.
///
/// # Errors
/// OVS's message.
pub fn zone_limit(s: &str) -> Result<(u16, u32), String> {
    let (mut zone, mut limit) = (None, None);
    for (key, value) in key_values(s) {
        if value.is_empty() {
            return Err(format!("field {key} missing value"));
        }
        match key {
            "zone" => zone = Some(num(value).ok_or(format!("failed to parse field {key}"))?),
            "limit" => limit = Some(num(value).ok_or(format!("failed to parse field {key}"))?),
            _ => return Err(format!("invalid zone limit field: {key}")),
        }
    }
    match (zone, limit) {
        (Some(z), Some(l)) => Ok((z, l)),
        _ => Err("failed to parse zone limit".into()),
    }
}

/// `parse_ct_limit_zones`: `zone=N1[,N2]...`.
///
/// # Errors
/// OVS's message: `invalid argument ARG` or `invalid zone`.
pub fn zone_list(s: &str) -> Result<Vec<u16>, String> {
    let Some(list) = s.strip_prefix("zone=") else {
        return Err(format!("invalid argument {s}"));
    };
    let mut v = Vec::new();
    for z in list.split(',').filter(|z| !z.is_empty()) {
        v.push(scan_u16(z).ok_or("invalid zone")?);
    }
    if v.is_empty() {
        return Err("invalid zone".into());
    }
    Ok(v)
}

/// `ovs_scan(s, "%"SCNu16)`: leading digits of `s` as a `u16`.
pub fn scan_u16(s: &str) -> Option<u16> {
    scan_u32(s).and_then(|v| u16::try_from(v).ok())
}

/// `ovs_scan(s, "%"SCNu32)`: leading digits of `s` as a `u32`.
pub fn scan_u32(s: &str) -> Option<u32> {
    let s = s.trim_start();
    let s = s.strip_prefix('+').unwrap_or(s);
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_as_ovs_reads_them() {
        let mut m = CtMatch::default();
        tuple(
            "ct_nw_src=10.1.1.1,ct_nw_dst=10.1.1.2,ct_nw_proto=17,ct_tp_src=1,ct_tp_dst=2",
            &mut m.orig,
            &mut m.ip_proto,
            &mut m.l3_type,
        )
        .unwrap();
        assert_eq!((m.l3_type, m.ip_proto), (AF_INET, 17));
        let t = m.exact_orig().unwrap();
        assert_eq!((t.src_port, t.dst_port), (1, 2));
        assert_eq!(t.dst, IpAddr::from([10, 1, 1, 2]));

        let mut m = CtMatch::default();
        tuple(
            "ct_nw_src=10.1.1.1",
            &mut m.orig,
            &mut m.ip_proto,
            &mut m.l3_type,
        )
        .unwrap();
        assert!(m.exact_orig().is_none());
        assert!(!m.is_zero());

        let mut m = CtMatch::default();
        let e = |s: &str, m: &mut CtMatch| {
            tuple(s, &mut m.orig, &mut m.ip_proto, &mut m.l3_type).unwrap_err()
        };
        assert_eq!(e("ct_tp_src=1", &mut m), "port is set without protocol");
        let mut m = CtMatch::default();
        assert_eq!(e("icmp_id=1", &mut m), "invalid L4 fields");
        assert_eq!(
            e("ct_nw_src=1.2.3", &mut m),
            "failed to parse field ct_nw_src"
        );
        assert_eq!(e("bogus=1", &mut m), "invalid conntrack tuple field: bogus");
        assert_eq!(e("ct_nw_src", &mut m), "field ct_nw_src missing value");
        let mut m = CtMatch::default();
        tuple(
            "ct_ipv6_src=fd00::1",
            &mut m.orig,
            &mut m.ip_proto,
            &mut m.l3_type,
        )
        .unwrap();
        assert_eq!(
            e("ct_nw_dst=1.1.1.1", &mut m),
            "the L3 protocol does not match 1.1.1.1"
        );
    }

    #[test]
    fn partial_matches_select_as_ovs() {
        let orig = CtTuple {
            src: IpAddr::from([1, 1, 1, 1]),
            dst: IpAddr::from([2, 2, 2, 2]),
            proto: IPPROTO_TCP,
            src_port: 5,
            dst_port: 6,
            ..CtTuple::default()
        };
        let e = CtEntry {
            orig,
            reply: CtTuple {
                src: orig.dst,
                dst: orig.src,
                src_port: 6,
                dst_port: 5,
                ..orig
            },
            ..CtEntry::default()
        };
        let mut m = CtMatch::default();
        tuple(
            "ct_nw_dst=2.2.2.2,ct_nw_proto=6",
            &mut m.orig,
            &mut m.ip_proto,
            &mut m.l3_type,
        )
        .unwrap();
        assert!(m.selects(&e));
        m.ip_proto = IPPROTO_UDP;
        assert!(!m.selects(&e));
        let mut m = CtMatch::default();
        tuple(
            "ct_tp_src=6,ct_nw_proto=6",
            &mut m.reply,
            &mut m.ip_proto,
            &mut m.l3_type,
        )
        .unwrap();
        assert!(m.selects(&e));
        m.reply.src_port = 7;
        assert!(!m.selects(&e));
    }

    #[test]
    fn zone_limits_and_lists() {
        assert_eq!(zone_limit("zone=3,limit=10"), Ok((3, 10)));
        assert_eq!(zone_limit("limit=10,zone=3"), Ok((3, 10)));
        assert_eq!(
            zone_limit("zone=3"),
            Err("failed to parse zone limit".into())
        );
        assert_eq!(
            zone_limit("zone=70000,limit=1"),
            Err("failed to parse field zone".into())
        );
        assert_eq!(zone_limit("z=1"), Err("invalid zone limit field: z".into()));
        assert_eq!(zone_list("zone=1,2,65535"), Ok(vec![1, 2, 65535]));
        assert_eq!(zone_list("zones=1"), Err("invalid argument zones=1".into()));
        assert_eq!(zone_list("zone=x"), Err("invalid zone".into()));
        assert_eq!(scan_u32("12abc"), Some(12));
        assert_eq!(scan_u32("abc"), None);
    }
}
