//! Random datapath action lists in the text format: every action OVS's
//! parser knows (nested lists included), the ones OVS prints but does not
//! parse, and `set` of any key attribute, exact or masked.

use crate::keys;
use crate::rng::Rng;
use crate::values::*;

fn userspace(r: &Rng) -> String {
    let mut s = format!("userspace(pid={}", int(r, 32));
    match r.below(8) {
        0 => s.push_str(&format!(
            ",sFlow(vid={},pcp={},output={})",
            int(r, 12),
            int(r, 3),
            int(r, 32)
        )),
        1 => {
            let reasons = ["cfm", "bfd", "lacp", "stp", "lldp", "action", "match", "0", "bogus"];
            let n = r.below(3);
            let v: Vec<&str> = (0..n).map(|_| reasons[r.below(reasons.len())]).collect();
            let v = if v.is_empty() { "0".to_string() } else { v.join(",") };
            s.push_str(&format!(",slow_path({v})"));
        }
        2 => {
            s.push_str(&format!(
                ",flow_sample(probability={},collector_set_id={},obs_domain_id={},obs_point_id={},output_port={}",
                int(r, 16),
                int(r, 32),
                int(r, 32),
                int(r, 32),
                int(r, 32)
            ));
            s.push_str(r.pick(&["", ",ingress", ",egress", ""]));
            s.push(')');
        }
        3 => s.push_str(&format!(",ipfix(output_port={})", int(r, 32))),
        4 => s.push_str(&format!(
            ",controller(reason={},dont_send={},continuation={},recirc_id={},rule_cookie=0x{:x},controller_id={},max_len={})",
            int(r, 8),
            r.below(3),
            r.below(3),
            int(r, 32),
            r.next(),
            int(r, 16),
            int(r, 16)
        )),
        5 => {
            let n = r.pick(&[0usize, 1, 4, 8, 12, 16, 20, 24, 32, 40]);
            let d: String = (0..n).map(|_| format!("{:02x}", r.next() as u8)).collect();
            let d = if r.chance(30) {
                d.as_bytes()
                    .chunks(2)
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>()
                    .join(".")
            } else {
                d
            };
            s.push_str(&format!(",userdata({d})"));
        }
        _ => {}
    }
    if r.chance(25) {
        s.push_str(",actions");
    }
    if r.chance(25) {
        s.push_str(&format!(",tunnel_out_port={}", int(r, 32)));
    }
    s.push(')');
    s
}

fn ct(r: &Rng) -> String {
    if r.chance(10) {
        return "ct".into();
    }
    let mut v: Vec<String> = Vec::new();
    if r.chance(40) {
        v.push(r.pick(&["commit", "force_commit"]).to_string());
    }
    if r.chance(30) {
        v.push(format!("zone={}", int(r, 16)));
    }
    if r.chance(25) {
        let mut m = format!("mark={:x}", r.next() as u32);
        if r.chance(30) {
            m = format!("mark=0x{:x}", r.next() as u32);
        }
        if r.chance(40) {
            m.push_str(&format!("/0x{:x}", r.next() as u32));
        }
        v.push(m);
    }
    if r.chance(20) {
        let mut l = format!("label=0x{:x}{:016x}", r.next(), r.next());
        if r.chance(40) {
            l.push_str(&format!("/0x{:x}", r.next()));
        }
        v.push(l);
    }
    if r.chance(20) {
        v.push(format!(
            "helper={}",
            r.pick(&["ftp", "tftp", "sip", "h323"])
        ));
    }
    if r.chance(15) {
        v.push(format!(
            "timeout={}",
            r.pick(&["ovs_tp_1_tcp4", "x", "a_b"])
        ));
    }
    if r.chance(40) {
        let mut n = String::from("nat");
        if r.chance(80) {
            let dir = r.pick(&["src", "dst"]);
            let addr = |r: &Rng| {
                if r.chance(60) {
                    ipv4(r)
                } else {
                    format!("[{}]", ipv6(r))
                }
            };
            let mut inner = dir.to_string();
            if r.chance(70) {
                let a = addr(r);
                let a = a.trim_matches(['[', ']']).to_string();
                let v6 = a.contains(':');
                let br = |x: String| {
                    if v6 && r.chance(50) {
                        format!("[{x}]")
                    } else {
                        x
                    }
                };
                inner.push('=');
                let first = br(a.clone());
                inner.push_str(&first);
                if r.chance(40) {
                    let b = if v6 { ipv6(r) } else { ipv4(r) };
                    inner.push('-');
                    inner.push_str(&if v6 { format!("[{b}]") } else { b });
                }
                if r.chance(40) {
                    inner.push_str(&format!(":{}", int(r, 16)));
                    if r.chance(50) {
                        inner.push_str(&format!("-{}", int(r, 16)));
                    }
                }
            }
            for f in ["random", "persistent", "hash"] {
                if r.chance(15) {
                    inner.push(',');
                    inner.push_str(f);
                }
            }
            n = format!("nat({inner})");
        }
        v.push(n);
    }
    format!("ct({})", v.join(","))
}

fn push_nsh(r: &Rng) -> String {
    let md = r.pick(&["1", "2", "1", "3"]);
    let mut v = vec![
        format!("flags={}", int(r, 8)),
        format!("ttl={}", int(r, 8)),
        format!("mdtype={md}"),
        format!("np={}", int(r, 8)),
        format!(
            "spi=0x{:x}",
            r.next() as u32 & if r.chance(80) { 0xff_ffff } else { u32::MAX }
        ),
        format!("si={}", int(r, 8)),
    ];
    if md == "2" {
        let n = r.pick(&[0usize, 4, 8, 16, 3]);
        let d = hex_bytes(r, n);
        v.push(format!(
            "md2={}",
            if d.starts_with("0x") {
                d
            } else {
                format!("0x{d}")
            }
        ));
    } else {
        for c in ["c1", "c2", "c3", "c4"] {
            if r.chance(85) {
                v.push(format!("{c}=0x{:x}", r.next() as u32));
            }
        }
    }
    let v: Vec<String> = v.into_iter().filter(|_| r.chance(92)).collect();
    format!("push_nsh({})", v.join(","))
}

/// Set of a key attribute: exact (`set`), or masked fields, which OVS
/// turns into a masked set.
fn set(r: &Rng, depth: usize) -> String {
    let masks = r.chance(35);
    let name = r.pick(&[
        "eth",
        "ipv4",
        "ipv6",
        "tcp",
        "udp",
        "sctp",
        "icmp",
        "icmpv6",
        "arp",
        "nd",
        "nd_ext",
        "vlan",
        "mpls",
        "tunnel",
        "tunnel",
        "skb_mark",
        "skb_priority",
        "nsh",
        "ct_state",
        "eth_type",
        "in_port",
        "recirc_id",
        "dp_hash",
        "ct_label",
        "ct_mark",
        "ct_zone",
        "tcp_flags",
        "packet_type",
        "encap",
    ]);
    format!("set({})", keys::attr_named(r, name, masks, depth + 2))
}

fn list_or_drop(r: &Rng, depth: usize) -> String {
    if r.chance(15) {
        "drop".into()
    } else {
        list(r, depth + 1)
    }
}

/// One action.
pub fn action(r: &Rng, depth: usize) -> String {
    let nested_ok = depth < 3;
    match r.below(40) {
        0..=5 => int(r, 32),
        6 => format!("lb_output({})", int(r, 32)),
        7 => format!("trunc({})", int(r, 32)),
        8 => format!("recirc({})", int(r, 32)),
        9..=11 => userspace(r),
        12..=16 => set(r, depth),
        17 => {
            let v = match r.below(4) {
                0 => format!("vid={},pcp={}", int(r, 12), int(r, 3)),
                1 => format!("vid={},pcp={},cfi={}", int(r, 12), int(r, 3), r.below(3)),
                2 => format!("tpid={},vid={},pcp={}", int(r, 16), int(r, 12), int(r, 3)),
                _ => format!(
                    "tpid={},vid={},pcp={},cfi={}",
                    int(r, 16),
                    int(r, 12),
                    int(r, 3),
                    r.below(3)
                ),
            };
            format!("push_vlan({v})")
        }
        18 => "pop_vlan".into(),
        19 => format!("meter({})", int(r, 32)),
        20 if nested_ok => {
            let p = match r.below(6) {
                0 => "0".to_string(),
                1 => "100".to_string(),
                2 => "100.1".to_string(),
                3 => format!("{}", r.below(100)),
                _ => format!("{:.1}", r.below(1000) as f64 / 10.0),
            };
            format!("sample(sample={p}%,actions({}))", list(r, depth + 1))
        }
        21 if nested_ok => format!("clone({})", list(r, depth + 1)),
        22 => push_nsh(r),
        23 => "pop_nsh()".into(),
        24 => format!("tnl_pop({})", int(r, 32)),
        25 => "ct_clear".into(),
        26 | 27 => ct(r),
        28 if nested_ok => format!(
            "check_pkt_len(size={},gt({}),le({}))",
            int(r, 16),
            list_or_drop(r, depth),
            list_or_drop(r, depth)
        ),
        29 => format!(
            "add_mpls(label={},tc={},ttl={},bos={},eth_type=0x{:x})",
            int(r, 20),
            r.below(9),
            r.below(300),
            r.below(3),
            r.next() as u16
        ),
        30 => {
            let n = r.pick(&[0usize, 1, 2, 8, 15, 16, 17]);
            let mut c: String = (0..n).map(|_| format!("{:02x}", r.next() as u8)).collect();
            if r.chance(30) && !c.is_empty() {
                c.replace_range(0..1, "0");
            }
            if r.chance(20) && !c.is_empty() {
                c.remove(0);
            }
            let mut v = vec![format!("group={}", int(r, 32))];
            if r.chance(70) {
                v.push(format!("cookie=0x{c}"));
            }
            if r.chance(5) {
                v.reverse();
            }
            format!("psample({})", v.join(","))
        }
        31 => format!("push_eth(src={},dst={})", mac(r), mac(r)),
        32 => "pop_eth".into(),
        // Printed by OVS, not parsed.
        33 => r
            .pick(&[
                "hash(l4(0))",
                "pop_mpls(eth_type=0x800)",
                "push_mpls(label=1,tc=0,ttl=64,bos=1,eth_type=0x8847)",
                "dec_ttl(le_1(1))",
                "drop",
                "ct(error)",
                "encap_nsh()",
            ])
            .to_string(),
        34 => "drop".into(),
        _ => int(r, 16),
    }
}

/// A comma-separated action list (`drop` now and then for an empty one).
pub fn list(r: &Rng, depth: usize) -> String {
    let n = match r.below(10) {
        0 => 0,
        1..=5 => 1,
        6 | 7 => 2,
        _ => 3 + r.below(3),
    };
    let v: Vec<String> = (0..n).map(|_| action(r, depth)).collect();
    v.join(",")
}

/// A whole action line.
pub fn line(r: &Rng) -> String {
    let s = list(r, 0);
    if s.is_empty() {
        "drop".into()
    } else {
        s
    }
}
