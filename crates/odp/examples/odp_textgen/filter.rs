//! Random OpenFlow-style filters for `parse-filter` (OVS's
//! `parse_ofp_exact_flow` syntax): a protocol shorthand or `dl_type`, then
//! fields of the layers it allows, values exact or masked.

use crate::rng::Rng;
use crate::values::*;

/// A filter: `field=value` pairs separated by commas.
pub fn filter(r: &Rng) -> String {
    let proto = r.pick(&[
        "",
        "ip",
        "ipv6",
        "icmp",
        "icmp6",
        "tcp",
        "tcp6",
        "udp",
        "udp6",
        "sctp",
        "sctp6",
        "arp",
        "rarp",
        "mpls",
        "mplsm",
        "dl_type=0x0800",
        "dl_type=0x86dd",
        "dl_type=0x1234",
        "eth_type=0x0806",
    ]);
    let mut v: Vec<String> = Vec::new();
    if !proto.is_empty() {
        v.push(proto.to_string());
    }
    let ip4 = matches!(
        proto,
        "ip" | "icmp" | "tcp" | "udp" | "sctp" | "dl_type=0x0800"
    );
    let ip6 = matches!(
        proto,
        "ipv6" | "icmp6" | "tcp6" | "udp6" | "sctp6" | "dl_type=0x86dd"
    );
    let ports = matches!(proto, "tcp" | "tcp6" | "udp" | "udp6" | "sctp" | "sctp6");
    let arp = matches!(proto, "arp" | "rarp" | "eth_type=0x0806");
    let mpls = matches!(proto, "mpls" | "mplsm");
    let m = |r: &Rng, bits: u32| {
        let v = int(r, bits);
        if r.chance(25) {
            format!("{v}/{}", int(r, bits))
        } else {
            v
        }
    };
    let mut cand: Vec<String> = vec![
        format!("in_port={}", int(r, 16)),
        format!("dl_src={}", masked_mac(r, true)),
        format!("dl_dst={}", masked_mac(r, true)),
        format!("dl_vlan={}", int(r, 12)),
        format!("dl_vlan_pcp={}", int(r, 3)),
        format!("vlan_tci={}", m(r, 16)),
        format!("skb_priority={}", m(r, 32)),
        format!("pkt_mark={}", m(r, 32)),
        format!("recirc_id={}", int(r, 32)),
        format!("dp_hash={}", m(r, 32)),
        format!("tun_id={}", m(r, 64)),
        format!("tun_src={}", masked_ipv4(r, true)),
        format!("tun_dst={}", masked_ipv4(r, true)),
        format!("ct_zone={}", int(r, 16)),
        format!("ct_mark={}", m(r, 32)),
    ];
    if ip4 || ip6 {
        cand.extend([
            format!("nw_proto={}", int(r, 8)),
            format!("nw_tos={}", int(r, 8)),
            format!("nw_ecn={}", int(r, 2)),
            format!("nw_ttl={}", int(r, 8)),
        ]);
    }
    if ip4 {
        cand.extend([
            format!("nw_src={}", masked_ipv4(r, true)),
            format!("nw_dst={}", masked_ipv4(r, true)),
        ]);
    }
    if ip6 {
        cand.extend([
            format!("ipv6_src={}", masked_ipv6(r, true)),
            format!("ipv6_dst={}", masked_ipv6(r, true)),
            format!("ipv6_label={}", m(r, 20)),
        ]);
    }
    if ports {
        cand.extend([
            format!("tp_src={}", m(r, 16)),
            format!("tp_dst={}", m(r, 16)),
        ]);
    }
    if proto == "icmp" {
        cand.extend([
            format!("icmp_type={}", int(r, 8)),
            format!("icmp_code={}", int(r, 8)),
        ]);
    }
    if proto == "icmp6" {
        cand.extend([
            format!("icmpv6_type={}", int(r, 8)),
            format!("icmpv6_code={}", int(r, 8)),
            "icmpv6_type=135,nd_target=::1".to_string(),
            format!("icmpv6_type=136,icmpv6_code=0,nd_target={}", ipv6(r)),
        ]);
    }
    if arp {
        cand.extend([
            format!("arp_op={}", int(r, 16)),
            format!("arp_spa={}", masked_ipv4(r, true)),
            format!("arp_tpa={}", masked_ipv4(r, true)),
            format!("arp_sha={}", masked_mac(r, true)),
            format!("arp_tha={}", masked_mac(r, true)),
        ]);
    }
    if mpls {
        cand.extend([
            format!("mpls_label={}", int(r, 20)),
            format!("mpls_tc={}", int(r, 3)),
            format!("mpls_bos={}", int(r, 1)),
            format!("mpls_ttl={}", int(r, 8)),
        ]);
    }
    for _ in 0..r.below(4) {
        let c = cand[r.below(cand.len())].clone();
        v.push(c);
    }
    if v.is_empty() {
        v.push("ip".into());
    }
    v.join(",")
}
