//! `odp::abi` against the installed uapi header `linux/openvswitch.h`
//! (from linux-libc-dev): every enumerator and `OVS_CS_F_*` flag the header
//! defines that we also define must have the same value. Skips, loudly, when
//! the header is absent.

use std::collections::BTreeMap;

const HEADER: &str = "/usr/include/linux/openvswitch.h";

/// Removes `/* */` and `//` comments.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = match rest[i..].find("*/") {
            Some(j) => &rest[i + j + 2..],
            None => "",
        };
    }
    out.push_str(rest);
    out.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn int(s: &str) -> Option<i64> {
    let s = s
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .trim();
    if let Some((a, b)) = s.split_once("<<") {
        return Some(int(a)? << int(b)?);
    }
    let s = s.trim_end_matches(['u', 'U', 'l', 'L']);
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => i64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Every enumerator of every `enum ... { }` and every `#define NAME <int>`.
fn header_values(text: &str) -> BTreeMap<String, i64> {
    let text = strip_comments(text);
    let mut map = BTreeMap::new();
    for line in text.lines() {
        let mut w = line.split_whitespace();
        if w.next() == Some("#define") {
            if let (Some(name), Some(v)) = (w.next(), int(&w.collect::<Vec<_>>().join(" "))) {
                map.insert(name.to_string(), v);
            }
        }
    }
    let mut rest = text.as_str();
    while let Some(i) = rest.find("enum") {
        rest = &rest[i + 4..];
        let (Some(open), Some(close)) = (rest.find('{'), rest.find('}')) else {
            break;
        };
        if open > close || rest[..open].contains(';') {
            continue;
        }
        let body = &rest[open + 1..close];
        let mut next = Some(0i64);
        for item in body.split(',') {
            let item: String = item
                .lines()
                .filter(|l| !l.trim_start().starts_with('#'))
                .collect::<Vec<_>>()
                .join(" ");
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let (name, value) = match item.split_once('=') {
                Some((n, v)) => (n.trim(), int(v)),
                None => (item, next),
            };
            if let Some(v) = value {
                map.insert(name.to_string(), v);
            }
            next = value.map(|v| v + 1);
        }
        rest = &rest[close..];
    }
    map
}

/// `pub const NAME: T = VALUE;` lines of our abi.rs.
fn our_values() -> BTreeMap<String, i64> {
    let src = include_str!("../src/abi.rs");
    src.lines()
        .filter_map(|l| {
            let l = l.trim().strip_prefix("pub const ")?;
            let (name, rest) = l.split_once(':')?;
            let value = rest.split_once('=')?.1.trim().trim_end_matches(';');
            Some((name.trim().to_string(), int(value)?))
        })
        .collect()
}

#[test]
fn our_abi_parse_sees_the_compiled_values() {
    let ours = our_values();
    assert_eq!(
        ours["OVS_KEY_ATTR_IPV6_EXTHDRS"],
        i64::from(odp::abi::OVS_KEY_ATTR_IPV6_EXTHDRS)
    );
    assert_eq!(
        ours["OVS_TUNNEL_KEY_ATTR_GTPU_OPTS"],
        i64::from(odp::abi::OVS_TUNNEL_KEY_ATTR_GTPU_OPTS)
    );
    assert_eq!(
        ours["OVS_CS_F_DST_NAT"],
        i64::from(odp::abi::OVS_CS_F_DST_NAT)
    );
    assert!(ours.len() > 120, "{} constants parsed", ours.len());
}

#[test]
fn abi_matches_uapi_header() {
    let Ok(text) = std::fs::read_to_string(HEADER) else {
        println!("SKIP: {HEADER} not found; install linux-libc-dev to compare odp::abi with the uapi header");
        eprintln!("SKIP: {HEADER} not found; abi_matches_uapi_header checked nothing");
        return;
    };
    let header = header_values(&text);
    // The parse itself works: known fixed points of the ABI.
    assert_eq!(header.get("OVS_KEY_ATTR_ENCAP"), Some(&1));
    assert_eq!(header.get("OVS_TUNNEL_KEY_ATTR_ID"), Some(&0));
    assert_eq!(header.get("OVS_CS_F_TRACKED"), Some(&0x20));
    let ours = our_values();
    let mut compared = 0;
    let mut mismatches = Vec::new();
    for (name, ours_v) in &ours {
        // OVS_*_MAX constants include OVS's userspace-only additions
        // (GTPU_OPTS, TUNNEL_PUSH...), so they may exceed the kernel's.
        if name.ends_with("_MAX") {
            continue;
        }
        if let Some(h) = header.get(name) {
            compared += 1;
            if h != ours_v {
                mismatches.push(format!("{name}: header {h}, ours {ours_v}"));
            }
        }
    }
    assert!(mismatches.is_empty(), "{mismatches:#?}");
    // Every key, tunnel and NSH attribute of the header is known to us.
    for (name, _) in header.iter().filter(|(n, _)| {
        ["OVS_KEY_ATTR_", "OVS_TUNNEL_KEY_ATTR_", "OVS_NSH_KEY_ATTR_"]
            .iter()
            .any(|p| n.starts_with(p))
            && !n.ends_with("_MAX")
            && !n.ends_with("_UNSPEC")
    }) {
        assert!(
            ours.contains_key(name),
            "{name} is in the header but not in odp::abi"
        );
    }
    assert_eq!(
        header.get("__OVS_KEY_ATTR_MAX").map(|m| m - 1),
        Some(i64::from(odp::abi::OVS_KEY_ATTR_MAX)),
        "OVS_KEY_ATTR_MAX"
    );
    assert!(compared > 100, "only {compared} constants compared");
    println!("{compared} constants match {HEADER}");
}
