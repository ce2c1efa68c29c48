//! Random flow keys (with masks) in the datapath flow text format: every
//! key attribute OVS's parser knows, plausible layer sequences and
//! implausible ones (missing, repeated or out-of-order layers).

use crate::rng::Rng;
use crate::values::*;

/// `name=value` fields: each kept with probability `keep`%, in order
/// (shuffled now and then), joined by commas.
fn fields(r: &Rng, list: Vec<(&str, String)>, keep: u32) -> String {
    let mut v: Vec<String> = list
        .into_iter()
        .filter(|_| r.chance(keep))
        .map(|(n, val)| format!("{n}={val}"))
        .collect();
    if r.chance(5) && v.len() > 1 {
        let (i, j) = (r.below(v.len()), r.below(v.len()));
        v.swap(i, j);
    }
    v.join(",")
}

/// How often fields are kept: most of them for exact keys, fewer when masks
/// are in play.
fn keep(m: bool) -> u32 {
    if m {
        60
    } else {
        85
    }
}

fn ct_state(r: &Rng, m: bool) -> String {
    const NAMES: [&str; 9] = [
        "new", "est", "rel", "rpl", "inv", "trk", "snat", "dnat", "bogus",
    ];
    let names = |r: &Rng, n: usize| -> Vec<&'static str> {
        (0..n)
            .map(|_| NAMES[r.below(NAMES.len() - usize::from(!r.chance(3)))])
            .collect()
    };
    match r.below(5) {
        0 => masked_int(r, 8, m),
        1 if m => {
            let n = 1 + r.below(3);
            names(r, n)
                .iter()
                .map(|f| format!("{}{f}", if r.chance(50) { '+' } else { '-' }))
                .collect()
        }
        _ => {
            let n = 1 + r.below(3);
            names(r, n).join("|")
        }
    }
}

fn tcp_flags(r: &Rng, m: bool) -> String {
    const NAMES: [&str; 13] = [
        "fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr", "ns", "[200]", "[400]", "[800]",
        "xyz",
    ];
    match r.below(4) {
        0 | 1 => masked_int(r, 12, m),
        2 if m => (0..1 + r.below(3))
            .map(|_| {
                format!(
                    "{}{}",
                    if r.chance(50) { '+' } else { '-' },
                    NAMES[r.below(NAMES.len())]
                )
            })
            .collect(),
        _ => (0..1 + r.below(3))
            .map(|_| NAMES[r.below(NAMES.len())])
            .collect::<Vec<_>>()
            .join("|"),
    }
}

fn tun_flags(r: &Rng, m: bool) -> String {
    const NAMES: [&str; 5] = ["oam", "df", "csum", "key", "bad"];
    match r.below(4) {
        0 => masked_int(r, 16, m),
        1 if m => (0..1 + r.below(3))
            .map(|_| {
                format!(
                    "{}{}",
                    if r.chance(50) { '+' } else { '-' },
                    NAMES[r.below(4)]
                )
            })
            .collect(),
        _ => (0..r.below(4))
            .map(|_| NAMES[r.below(if r.chance(5) { 5 } else { 4 })])
            .collect::<Vec<_>>()
            .join("|"),
    }
}

fn geneve(r: &Rng, m: bool) -> String {
    let mut s = String::new();
    for _ in 0..r.below(4) {
        let len = r.pick(&[0usize, 4, 8, 4, 124, 3, 128]);
        let mut f = Vec::new();
        if r.chance(85) {
            f.push(format!("class={}", masked_int(r, 16, m)));
        }
        if r.chance(85) {
            f.push(format!("type={}", masked_int(r, 8, m)));
        }
        if r.chance(90) {
            f.push(format!("len={len}"));
        }
        if r.chance(80) {
            let mut d = hex_bytes(r, len.min(128));
            if m && r.chance(40) {
                d = format!("{d}/{}", hex_bytes(r, len.min(128)));
            }
            f.push(d);
        }
        s.push('{');
        s.push_str(&f.join(","));
        s.push('}');
    }
    s
}

fn erspan(r: &Rng, m: bool) -> String {
    let ver = r.pick(&["1", "2", "2", "1", "0", "3"]);
    let ver = if m && r.chance(20) {
        format!("{ver}/{}", int(r, 8))
    } else {
        ver.to_string()
    };
    let rest = if ver.starts_with('1') {
        fields(r, vec![("idx", masked_int(r, 32, m))], 80)
    } else {
        fields(
            r,
            vec![("dir", masked_int(r, 1, m)), ("hwid", masked_int(r, 6, m))],
            80,
        )
    };
    if rest.is_empty() {
        format!("ver={ver}")
    } else {
        format!("ver={ver},{rest}")
    }
}

/// `tunnel(...)`.
pub fn tunnel(r: &Rng, m: bool) -> String {
    let k = keep(m) - 20;
    let mut list = vec![
        ("tun_id", masked_int(r, 64, m)),
        ("src", masked_ipv4(r, m)),
        ("dst", masked_ipv4(r, m)),
        ("ipv6_src", masked_ipv6(r, m)),
        ("ipv6_dst", masked_ipv6(r, m)),
        ("tos", masked_int(r, 8, m)),
        ("ttl", masked_int(r, 8, m)),
        ("tp_src", masked_int(r, 16, m)),
        ("tp_dst", masked_int(r, 16, m)),
    ];
    if r.chance(50) {
        list.retain(|(n, _)| !n.starts_with("ipv6"));
    } else if r.chance(60) {
        list.retain(|(n, _)| *n != "src" && *n != "dst");
    }
    let mut s = fields(r, list, k);
    let mut more = Vec::new();
    match r.below(6) {
        0 => more.push(format!("erspan({})", erspan(r, m))),
        1 => more.push(format!(
            "vxlan(gbp({}))",
            fields(
                r,
                vec![("id", masked_int(r, 16, m)), ("flags", masked_int(r, 8, m))],
                80
            )
        )),
        2 => more.push(format!("geneve({})", geneve(r, m))),
        3 => more.push(format!(
            "gtpu({})",
            fields(
                r,
                vec![
                    ("flags", masked_int(r, 8, m)),
                    ("msgtype", masked_int(r, 8, m))
                ],
                80
            )
        )),
        _ => {}
    }
    if r.chance(60) {
        more.push(format!("flags({})", tun_flags(r, m)));
    }
    for x in more {
        if !s.is_empty() {
            s.push(',');
        }
        s.push_str(&x);
    }
    format!("tunnel({s})")
}

fn mpls(r: &Rng, m: bool) -> String {
    let n = match r.below(10) {
        0 => 0,
        1 => 2,
        2 => 3,
        3 => 4,
        _ => 1,
    };
    let lses: Vec<String> = (0..n)
        .map(|_| {
            fields(
                r,
                vec![
                    ("label", masked_int(r, 20, m)),
                    ("tc", masked_int(r, 3, m)),
                    ("ttl", masked_int(r, 8, m)),
                    ("bos", masked_int(r, 1, m)),
                ],
                keep(m),
            )
        })
        .collect();
    format!("mpls({})", lses.join(","))
}

fn frag(r: &Rng, m: bool) -> String {
    let f = r.pick(&["no", "first", "later", "no", "yes", "0"]);
    if m && r.chance(25) {
        format!("{f}/{}", int(r, 8))
    } else {
        f.to_string()
    }
}

fn nsh(r: &Rng, m: bool) -> String {
    let md = r.pick(&["1", "2", "1", "0", "3"]);
    let mut list = vec![
        ("flags", masked_int(r, 8, m)),
        ("ttl", masked_int(r, 8, m)),
        (
            "mdtype",
            if m && r.chance(20) {
                format!("{md}/{}", int(r, 8))
            } else {
                md.to_string()
            },
        ),
        ("np", masked_int(r, 8, m)),
        (
            "spi",
            format!(
                "0x{:x}",
                r.next() as u32 & if r.chance(80) { 0xff_ffff } else { u32::MAX }
            ),
        ),
        ("si", masked_int(r, 8, m)),
    ];
    if m && r.chance(40) {
        let last = list.len() - 2;
        list[last].1 = format!("{}/0x{:x}", list[last].1, r.next() as u32);
    }
    let mut s = fields(r, list, keep(m));
    let extra = if md == "2" || r.chance(20) {
        if r.chance(70) {
            let n = r.pick(&[0usize, 4, 8, 16, 3, 32, 252, 256]);
            let d = hex_bytes(r, n);
            let d = if d.starts_with("0x") {
                d
            } else {
                format!("0x{d}")
            };
            if m && r.chance(30) {
                format!("md2={d}/{}", hex_bytes(r, n))
            } else {
                format!("md2={d}")
            }
        } else {
            String::new()
        }
    } else {
        fields(
            r,
            vec![
                ("c1", format!("0x{:x}", r.next() as u32)),
                ("c2", format!("0x{:x}", r.next() as u32)),
                ("c3", format!("0x{:x}", r.next() as u32)),
                ("c4", format!("0x{:x}", r.next() as u32)),
            ],
            keep(m),
        )
    };
    if !extra.is_empty() {
        if !s.is_empty() {
            s.push(',');
        }
        s.push_str(&extra);
    }
    format!("nsh({s})")
}

/// One key attribute of the type named `name`.
pub fn attr_named(r: &Rng, name: &str, m: bool, depth: usize) -> String {
    let k = keep(m);
    match name {
        "skb_priority" | "skb_mark" | "dp_hash" | "recirc_id" | "ct_mark" => {
            format!("{name}({})", masked_int(r, 32, m))
        }
        "ct_zone" => format!("ct_zone({})", masked_int(r, 16, m)),
        "ct_label" => {
            let v = format!("0x{:x}{:016x}", r.next(), r.next());
            let v = match r.below(6) {
                0 => masked_int(r, 128, m),
                1 if m => format!("{v}/0x{:x}", r.next()),
                _ => v,
            };
            format!("ct_label({v})")
        }
        "ct_state" => format!("ct_state({})", ct_state(r, m)),
        "ct_tuple4" | "ct_tuple6" => {
            let ip = |r: &Rng| {
                if name == "ct_tuple4" {
                    masked_ipv4(r, m)
                } else {
                    masked_ipv6(r, m)
                }
            };
            let f = vec![
                ("src", ip(r)),
                ("dst", ip(r)),
                ("proto", masked_int(r, 8, m)),
                ("tp_src", masked_int(r, 16, m)),
                ("tp_dst", masked_int(r, 16, m)),
            ];
            format!("{name}({})", fields(r, f, k))
        }
        "tunnel" => tunnel(r, m),
        "in_port" => {
            let p = match r.below(8) {
                0 => "LOCAL".to_string(),
                1 => "p1".to_string(),
                _ => masked_int(r, 32, m),
            };
            format!("in_port({p})")
        }
        "eth" => {
            let f = vec![("src", masked_mac(r, m)), ("dst", masked_mac(r, m))];
            format!("eth({})", fields(r, f, k))
        }
        "vlan" => {
            let f = vec![
                ("vid", masked_int(r, 12, m)),
                ("pcp", masked_int(r, 3, m)),
                ("cfi", masked_int(r, 1, m)),
            ];
            format!("vlan({})", fields(r, f, k))
        }
        "eth_type" => format!("eth_type({})", ethertype(r, m)),
        "mpls" => mpls(r, m),
        "ipv4" => {
            let f = vec![
                ("src", masked_ipv4(r, m)),
                ("dst", masked_ipv4(r, m)),
                ("proto", masked_int(r, 8, m)),
                ("tos", masked_int(r, 8, m)),
                ("ttl", masked_int(r, 8, m)),
                ("frag", frag(r, m)),
            ];
            format!("ipv4({})", fields(r, f, k))
        }
        "ipv6" => {
            let f = vec![
                ("src", masked_ipv6(r, m)),
                ("dst", masked_ipv6(r, m)),
                ("label", masked_int(r, 20, m)),
                ("proto", masked_int(r, 8, m)),
                ("tclass", masked_int(r, 8, m)),
                ("hlimit", masked_int(r, 8, m)),
                ("frag", frag(r, m)),
            ];
            format!("ipv6({})", fields(r, f, k))
        }
        "tcp" | "udp" | "sctp" => {
            let f = vec![("src", masked_int(r, 16, m)), ("dst", masked_int(r, 16, m))];
            format!("{name}({})", fields(r, f, k))
        }
        "tcp_flags" => format!("tcp_flags({})", tcp_flags(r, m)),
        "icmp" | "icmpv6" => {
            let t = if name == "icmpv6" && r.chance(40) {
                r.pick(&["135", "136", "133", "128"]).to_string()
            } else {
                masked_int(r, 8, m)
            };
            let f = vec![("type", t), ("code", masked_int(r, 8, m))];
            format!("{name}({})", fields(r, f, k))
        }
        "arp" => {
            let f = vec![
                ("sip", masked_ipv4(r, m)),
                ("tip", masked_ipv4(r, m)),
                ("op", masked_int(r, 16, m)),
                ("sha", masked_mac(r, m)),
                ("tha", masked_mac(r, m)),
            ];
            format!("arp({})", fields(r, f, k))
        }
        "nd" => {
            let f = vec![
                ("target", masked_ipv6(r, m)),
                ("sll", masked_mac(r, m)),
                ("tll", masked_mac(r, m)),
            ];
            format!("nd({})", fields(r, f, k))
        }
        "nd_ext" => {
            let f = vec![
                ("nd_reserved", masked_int(r, 32, m)),
                ("nd_options_type", masked_int(r, 8, m)),
            ];
            format!("nd_ext({})", fields(r, f, k))
        }
        "packet_type" => {
            let f = vec![("ns", masked_int(r, 16, m)), ("id", masked_int(r, 16, m))];
            format!("packet_type({})", fields(r, f, 90))
        }
        "nsh" => nsh(r, m),
        "encap" => {
            if depth > 3 {
                return "encap()".into();
            }
            let n = r.below(4);
            let inner: Vec<String> = (0..n).map(|_| attr(r, m, depth + 1)).collect();
            format!("encap({})", inner.join(","))
        }
        other => format!("{other}({})", int(r, 8)),
    }
}

/// Every key attribute name OVS's parser knows, and a few it does not.
pub const NAMES: [&str; 32] = [
    "skb_priority",
    "skb_mark",
    "recirc_id",
    "dp_hash",
    "ct_state",
    "ct_zone",
    "ct_mark",
    "ct_label",
    "ct_tuple4",
    "ct_tuple6",
    "tunnel",
    "in_port",
    "eth",
    "vlan",
    "eth_type",
    "mpls",
    "ipv4",
    "ipv6",
    "tcp",
    "tcp_flags",
    "udp",
    "sctp",
    "icmp",
    "icmpv6",
    "arp",
    "nd",
    "nd_ext",
    "packet_type",
    "nsh",
    "encap",
    "key32",
    "bogus",
];

/// Any one key attribute.
pub fn attr(r: &Rng, m: bool, depth: usize) -> String {
    let n = NAMES.len() - if r.chance(3) { 0 } else { 2 };
    attr_named(r, NAMES[r.below(n)], m, depth)
}

fn ethertype(r: &Rng, m: bool) -> String {
    if r.chance(25) {
        return masked_int(r, 16, m);
    }
    let t = r.pick(&[
        "0x0800", "0x86dd", "0x0806", "0x8035", "0x8847", "0x8848", "0x894f", "0x1234", "0x8100",
        "0x88a8", "0x05ff", "0x0600",
    ]);
    if m && r.chance(15) {
        format!("{t}/{}", int(r, 16))
    } else {
        t.to_string()
    }
}

/// The attributes that follow `eth_type(t)` in a well-formed key.
fn layers_after(r: &Rng, t: &str, m: bool, depth: usize) -> Vec<String> {
    let mut v = Vec::new();
    let t = t.split('/').next().unwrap_or(t);
    match t {
        "0x0800" | "0x86dd" => {
            let v6 = t == "0x86dd";
            let proto = r.pick(&["6", "17", "132", "1", "58", "47", "0"]);
            let l3 = attr_named(r, if v6 { "ipv6" } else { "ipv4" }, m, depth);
            // Replace the random proto with the chosen one most of the time.
            let l3 = if r.chance(75) {
                replace_field(&l3, "proto", proto)
            } else {
                l3
            };
            v.push(l3);
            let l4 = match proto {
                "6" => vec!["tcp", "tcp_flags"],
                "17" => vec!["udp"],
                "132" => vec!["sctp"],
                "1" if !v6 => vec!["icmp"],
                "58" if v6 => vec!["icmpv6", "nd", "nd_ext"],
                _ => vec![],
            };
            for (i, a) in l4.iter().enumerate() {
                if i == 0 || r.chance(60) {
                    v.push(attr_named(r, a, m, depth));
                }
            }
        }
        "0x0806" | "0x8035" => v.push(attr_named(r, "arp", m, depth)),
        "0x8847" | "0x8848" => v.push(attr_named(r, "mpls", m, depth)),
        "0x894f" => v.push(attr_named(r, "nsh", m, depth)),
        "0x8100" | "0x88a8" => {
            v.push(attr_named(r, "vlan", m, depth));
            if depth < 3 && r.chance(85) {
                let inner = ethertype(r, m);
                let mut e = vec![format!("eth_type({inner})")];
                e.extend(layers_after(r, &inner, m, depth + 1));
                v.push(format!("encap({})", e.join(",")));
            }
        }
        _ => {}
    }
    v
}

/// `attr` with the value of its field `name` replaced by `value`.
fn replace_field(attr: &str, name: &str, value: &str) -> String {
    let pat = format!("{name}=");
    match attr.find(&pat) {
        Some(i) if i == 0 || matches!(attr.as_bytes()[i - 1], b'(' | b',') => {
            let start = i + pat.len();
            let end = attr[start..]
                .find([',', ')'])
                .map_or(attr.len(), |e| start + e);
            format!("{}{value}{}", &attr[..start], &attr[end..])
        }
        _ => attr.to_string(),
    }
}

/// A whole key: metadata, Ethernet, EtherType and the layers it implies,
/// mostly well formed; now and then attributes in random order or numbers.
pub fn line(r: &Rng, m: bool) -> String {
    if r.chance(12) {
        let n = 1 + r.below(8);
        return (0..n).map(|_| attr(r, m, 0)).collect::<Vec<_>>().join(",");
    }
    let mut v = Vec::new();
    for name in [
        "recirc_id",
        "dp_hash",
        "skb_priority",
        "tunnel",
        "in_port",
        "skb_mark",
        "ct_state",
        "ct_zone",
        "ct_mark",
        "ct_label",
        "ct_tuple4",
        "ct_tuple6",
        "packet_type",
    ] {
        let p = match name {
            "in_port" => 80,
            "tunnel" | "ct_tuple4" | "ct_tuple6" | "packet_type" => 12,
            _ => 25,
        };
        if r.chance(p) {
            v.push(attr_named(r, name, m, 0));
        }
    }
    if r.chance(85) {
        v.push(attr_named(r, "eth", m, 0));
    }
    if r.chance(90) {
        let t = ethertype(r, m);
        v.push(format!("eth_type({t})"));
        v.extend(layers_after(r, &t, m, 0));
    }
    if r.chance(8) && !v.is_empty() {
        let i = r.below(v.len());
        v.remove(i);
    }
    if r.chance(5) && !v.is_empty() {
        let i = r.below(v.len());
        let dup = v[i].clone();
        v.insert(r.below(v.len()), dup);
    }
    if r.chance(4) {
        v.push(attr(r, m, 0));
    }
    let sep = if r.chance(5) { ", " } else { "," };
    v.join(sep)
}
