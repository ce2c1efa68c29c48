//! Megaflow masks through [`odp::convert`]: every key and mask of the
//! wildcarded corpus files that decodes into a flow and a mask re-encodes
//! ([`flow_to_mask`]) to attributes that decode to the same mask, except
//! for what OVS's encoding leaves out as well: an ERSPAN mask (only a
//! version of 1 or 2 is emitted, and a mask's version is all ones), and
//! conntrack original-tuple fields that do not belong to the flow's
//! Ethertype.

use odp::convert::{flow_to_key, flow_to_mask, key_to_flow, key_to_mask, KeyParms};
use odp::flow::Flow;
use odp::text::key::parse_match;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/conformance/");

#[test]
fn masks_re_encode_stably() {
    let mut stable = 0;
    let mut failures = Vec::new();
    for stem in [
        "wc-keys",
        "wc-keys-extra",
        "filter-base",
        "filter-vlan-base",
        "keys",
    ] {
        let text = std::fs::read_to_string(format!("{DIR}{stem}.in")).unwrap();
        for (i, line) in text.lines().enumerate() {
            if line.starts_with('#') || line.trim().is_empty() {
                continue;
            }
            let Ok((key, mask)) = parse_match(line) else {
                continue;
            };
            let Ok((flow, _)) = key_to_flow(&key) else {
                continue;
            };
            let Ok((m, _)) = key_to_mask(&mask, &flow) else {
                continue;
            };
            let parms = KeyParms::all();
            let canon_key = flow_to_key(&flow, &parms);
            let canon_mask = flow_to_mask(&m, &flow, &parms);
            let (flow2, _) = key_to_flow(&canon_key).unwrap();
            match key_to_mask(&canon_mask, &flow2) {
                Ok((m2, _)) if m2 == expected(&m, &flow) => stable += 1,
                Ok((m2, _)) => failures.push(format!(
                    "{stem}:{}: {}",
                    i + 1,
                    diff(&expected(&m, &flow), &m2)
                )),
                Err(e) => failures.push(format!("{stem}:{}: {e}", i + 1)),
            }
        }
    }
    for f in &failures {
        println!("{f}");
    }
    assert!(
        failures.is_empty(),
        "{} unstable, {stable} stable",
        failures.len()
    );
    assert!(stable > 300, "only {stable}");
}

/// `mask` without the fields that OVS's mask encoding cannot carry.
fn expected(mask: &Flow, flow: &Flow) -> Flow {
    let mut m = *mask;
    let t = &mut m.tunnel;
    if t.erspan_ver != 1 && t.erspan_ver != 2 {
        (t.erspan_ver, t.erspan_idx, t.erspan_dir, t.erspan_hwid) = (0, 0, 0, 0);
    }
    let (v4, v6) = match (flow.ct_nw_proto, flow.dl_type) {
        (0, _) => (false, false),
        (_, 0x0800) => (true, false),
        (_, 0x86dd) => (false, true),
        _ => (false, false),
    };
    if !v4 {
        (m.ct_nw_src, m.ct_nw_dst) = (0, 0);
    }
    if !v6 {
        (m.ct_ipv6_src, m.ct_ipv6_dst) = (0, 0);
    }
    if !v4 && !v6 {
        (m.ct_nw_proto, m.ct_tp_src, m.ct_tp_dst) = (0, 0, 0);
    }
    m
}

/// The differing `name: value` pieces of two flows' debug forms.
fn diff(a: &Flow, b: &Flow) -> String {
    let (a, b) = (format!("{a:?}"), format!("{b:?}"));
    let ta: Vec<&str> = a.split(", ").collect();
    let tb: Vec<&str> = b.split(", ").collect();
    ta.iter()
        .zip(&tb)
        .filter(|(x, y)| x != y)
        .map(|(x, y)| format!("{x} -> {y}"))
        .collect::<Vec<_>>()
        .join("; ")
}
