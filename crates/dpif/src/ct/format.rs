//! `ovs-dpctl`'s conntrack text, byte for byte as Open vSwitch 3.1's
//! lib/ct-dpif.c and lib/dpctl.c print it: entries (`dump-conntrack
//! [-m] [-s]`), per-protocol counts (`ct-stats-show [-m]`), the bucket
//! histogram (`ct-bkts [gt=N]`), zone limits (`ct-get-limits`) and the
//! fragment reassembly status (`ipf-get-status`).
//!
//! Every function appends to a `String`; none prints a final newline that
//! `ovs-dpctl` would not.

use std::fmt::Write;
use std::net::IpAddr;

use super::*;

/// `ct_dpif_format_ipproto`: a protocol's name, or its number.
pub fn ipproto(s: &mut String, p: u8) {
    let name = match p {
        IPPROTO_ICMP => "icmp",
        IPPROTO_ICMPV6 => "icmpv6",
        IPPROTO_TCP => "tcp",
        IPPROTO_UDP => "udp",
        IPPROTO_SCTP => "sctp",
        IPPROTO_UDPLITE => "udplite",
        IPPROTO_DCCP => "dccp",
        IPPROTO_IGMP => "igmp",
        _ => {
            let _ = write!(s, "{p}");
            return;
        }
    };
    s.push_str(name);
}

/// `ct_dpif_format_tuple`: `src=..,dst=..` and ports or ICMP fields.
pub fn tuple(s: &mut String, t: &CtTuple) {
    // IPv6 addresses as inet_ntop writes them (Rust's Display agrees,
    // IPv4-mapped addresses included).
    match (t.src, t.dst) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let _ = write!(s, "src={a},dst={b}");
        }
        (a, b) => {
            let _ = write!(s, "src={a},dst={b}");
        }
    }
    if t.is_icmp() {
        let _ = write!(
            s,
            ",id={},type={},code={}",
            t.icmp_id, t.icmp_type, t.icmp_code
        );
    } else {
        let _ = write!(s, ",sport={},dport={}", t.src_port, t.dst_port);
    }
}

fn counters(s: &mut String, c: &CtCounters) {
    if c.packets != 0 || c.bytes != 0 {
        let _ = write!(s, ",packets={},bytes={}", c.packets, c.bytes);
    }
}

/// Days since 1970-01-01 to a civil date (proleptic Gregorian).
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A nanosecond timestamp as `%Y-%m-%dT%H:%M:%S.###` (UTC).
fn time(s: &mut String, ns: u64) {
    let ms = ns / 1_000_000;
    let secs = (ms / 1000) as i64;
    let (y, mo, d) = civil(secs.div_euclid(86_400));
    let t = secs.rem_euclid(86_400);
    let _ = write!(
        s,
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:03}",
        t / 3600,
        t / 60 % 60,
        t % 60,
        ms % 1000
    );
}

fn timestamp(s: &mut String, t: &CtTimestamp) {
    if t.start != 0 || t.stop != 0 {
        s.push_str(",start=");
        time(s, t.start);
        if t.stop != 0 {
            s.push_str(",stop=");
            time(s, t.stop);
        }
    }
}

/// `format_flags` with `|`: names of the set bits, lowest first, then any
/// unnamed bits in hex; `0` if none.
fn flags(s: &mut String, bits: u32, names: &[&str]) {
    if bits == 0 {
        s.push('0');
        return;
    }
    let mut bad = 0u32;
    let mut first = true;
    for bit in 0..32 {
        if bits & (1 << bit) == 0 {
            continue;
        }
        match names.get(bit) {
            Some(n) => {
                if !first {
                    s.push('|');
                }
                s.push_str(n);
                first = false;
            }
            None => bad |= 1 << bit,
        }
    }
    if bad != 0 {
        if !first {
            s.push('|');
        }
        let _ = write!(s, "0x{bad:x}");
    }
}

/// `ct_dpif_format_enum`: a name from `names`, or `[N]`.
fn state(s: &mut String, v: u8, names: &[&str]) {
    match names.get(usize::from(v)) {
        Some(n) => s.push_str(n),
        None => {
            let _ = write!(s, "[{v}]");
        }
    }
}

fn protoinfo(s: &mut String, p: &CtProtoinfo, verbose: bool) {
    s.push_str(",protoinfo=(");
    match p {
        CtProtoinfo::Tcp(t) if verbose => {
            s.push_str("state_orig=");
            state(s, t.state_orig, &tcp_state::NAMES);
            s.push_str(",state_reply=");
            state(s, t.state_reply, &tcp_state::NAMES);
            if t.wscale_orig != 0 || t.wscale_reply != 0 {
                let _ = write!(
                    s,
                    ",wscale_orig={},wscale_reply={}",
                    t.wscale_orig, t.wscale_reply
                );
            }
            s.push_str(",flags_orig=");
            flags(s, u32::from(t.flags_orig), &tcp_flags::NAMES);
            s.push_str(",flags_reply=");
            flags(s, u32::from(t.flags_reply), &tcp_flags::NAMES);
        }
        CtProtoinfo::Tcp(t) => {
            s.push_str("state=");
            let st = tcp_state::coalesce(t.state_orig.max(t.state_reply));
            state(s, st, &tcp_state::NAMES);
        }
        CtProtoinfo::Sctp {
            state: st,
            vtag_orig,
            vtag_reply,
        } => {
            s.push_str("state=");
            state(s, *st, &SCTP_STATE_NAMES);
            let _ = write!(s, ",vtag_orig={vtag_orig},vtag_reply={vtag_reply}");
        }
    }
    s.push(')');
}

/// `ct_dpif_format_entry`: one line of `dump-conntrack` (without its
/// newline); `verbose` is `-m`, `stats` is `-s`.
pub fn entry(s: &mut String, e: &CtEntry, verbose: bool, stats: bool) {
    ipproto(s, e.orig.proto);
    s.push_str(",orig=(");
    tuple(s, &e.orig);
    if stats {
        counters(s, &e.counters_orig);
    }
    s.push_str("),reply=(");
    tuple(s, &e.reply);
    if stats {
        counters(s, &e.counters_reply);
    }
    s.push(')');
    if stats {
        timestamp(s, &e.timestamp);
    }
    if verbose {
        let _ = write!(s, ",id={}", e.id);
    }
    if e.zone != 0 {
        let _ = write!(s, ",zone={}", e.zone);
    }
    if verbose {
        s.push_str(",status=");
        flags(s, e.status, &status::NAMES);
    }
    if stats {
        let _ = write!(s, ",timeout={}", e.timeout);
    }
    if e.mark != 0 {
        let _ = write!(s, ",mark={}", e.mark);
    }
    if e.labels != 0 {
        let _ = write!(s, ",labels={:#x}", e.labels);
    }
    if let Some(p) = &e.protoinfo {
        protoinfo(s, p, verbose);
    }
    if let Some(h) = &e.helper {
        let _ = write!(s, ",helper={h}");
    }
    if verbose {
        if let Some(p) = &e.parent {
            s.push_str(",parent=(");
            tuple(s, p);
            s.push(')');
        }
    }
}

/// `dump-conntrack`'s output: one line per entry.
pub fn dump(entries: &[CtEntry], verbose: bool, stats: bool) -> String {
    let mut s = String::new();
    for e in entries {
        entry(&mut s, e, verbose, stats);
        s.push('\n');
    }
    s
}

/// `ct-stats-show`'s output for `entries` (`verbose`: `-m`, TCP states).
pub fn stats(entries: &[CtEntry], verbose: bool) -> String {
    // TCP, UDP, UDPLITE, SCTP, ICMP, ICMPV6, DCCP, IGMP, Other
    let mut per = [0u32; 9];
    let mut tcp = [0u32; tcp_state::MAX_NUM as usize];
    for e in entries {
        let i = match e.orig.proto {
            IPPROTO_ICMP => 4,
            IPPROTO_ICMPV6 => 5,
            IPPROTO_TCP => {
                let st = match e.protoinfo {
                    Some(CtProtoinfo::Tcp(t)) => t.state_orig.max(t.state_reply),
                    _ => 0,
                };
                if let Some(n) = tcp.get_mut(usize::from(tcp_state::coalesce(st))) {
                    *n += 1;
                }
                0
            }
            IPPROTO_UDP => 1,
            IPPROTO_SCTP => 3,
            IPPROTO_UDPLITE => 2,
            IPPROTO_DCCP => 6,
            IPPROTO_IGMP => 7,
            _ => 8,
        };
        per[i] += 1;
    }
    let mut s = format!("Connections Stats:\n    Total: {}\n", entries.len());
    if per[0] != 0 {
        let _ = writeln!(s, "  TCP: {}", per[0]);
        if verbose {
            s.push_str("    Conn per TCP states:\n");
            for (i, n) in tcp.iter().enumerate() {
                if *n != 0 {
                    let _ = writeln!(s, "\t  [{}]={n}", tcp_state::NAMES[i]);
                }
            }
        }
    }
    // ICMPv6 is counted but not printed, as in OVS.
    let names = [
        (1, "UDP"),
        (2, "UDPLITE"),
        (3, "SCTP"),
        (4, "ICMP"),
        (6, "DCCP"),
        (7, "IGMP"),
        (8, "Other"),
    ];
    for (i, name) in names {
        if per[i] != 0 {
            let _ = writeln!(s, "  {name}: {}", per[i]);
        }
    }
    s
}

/// `ct-bkts`'s output: `None` buckets is the kernel's answer.
pub fn bkts(d: &CtDump, gt: u16) -> String {
    let Some(n) = d.n_buckets else {
        return "Command is available for UserSpace ConnTracker only.\n".to_string();
    };
    let mut s = format!("Total Buckets: {n}\n");
    let mut per = vec![0u32; n as usize];
    for e in &d.entries {
        match per.get_mut(e.bucket as usize) {
            Some(c) => *c += 1,
            None => {
                let _ = writeln!(s, "Bucket nr out of range: {} >= {n}", e.bucket);
            }
        }
    }
    let _ = writeln!(s, "Current Connections: {}", d.entries.len());
    s.push('\n');
    if n != 0 && !d.entries.is_empty() {
        s.push_str("+-----------+-----------------------------------------+\n");
        s.push_str("|  Buckets  |         Connections per Buckets         |\n");
        s.push_str("+-----------+-----------------------------------------+");
        for (i, c) in per.iter().enumerate() {
            if i % 8 == 0 {
                let _ = write!(s, "\n {:3}..{:3}   | ", i, i + 7);
            }
            if *c > u32::from(gt) {
                let _ = write!(s, "{c:5}");
            } else {
                s.push_str("    .");
            }
        }
        s.push_str("\n\n");
    }
    s
}

/// `ct-get-limits`'s output (`ct_dpif_format_zone_limits` and its
/// newline).
pub fn limits(l: &CtLimits) -> String {
    let mut s = format!("default limit={}", l.default_limit);
    for z in &l.zones {
        let _ = write!(s, "\nzone={},limit={},count={}", z.zone, z.limit, z.count);
    }
    s.push('\n');
    s
}

/// `ipf-get-status`'s output (without the fragment lists of `-m`).
pub fn ipf_status(st: &IpfStatus) -> String {
    let mut s = String::new();
    s.push_str("        Fragmentation Module Status\n");
    s.push_str("        ---------------------------\n");
    let _ = writeln!(s, "        v4 enabled: {}", u32::from(st.v4.enabled));
    let _ = writeln!(s, "        v6 enabled: {}", u32::from(st.v6.enabled));
    let _ = writeln!(s, "        max num frags (v4/v6): {}", st.nfrag_max);
    let _ = writeln!(s, "        num frag: {}", st.nfrag);
    for (name, f) in [("v4", &st.v4), ("v6", &st.v6)] {
        let _ = writeln!(s, "        min {name} frag size: {}", f.min_frag_size);
        for (what, v) in [
            ("accepted", f.nfrag_accepted),
            ("completed", f.nfrag_completed_sent),
            ("expired", f.nfrag_expired_sent),
            ("too small", f.nfrag_too_small),
            ("overlapped", f.nfrag_overlap),
            ("purged", f.nfrag_purged),
        ] {
            let _ = writeln!(s, "        {name} frags {what}: {v}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn v4(a: [u8; 4]) -> IpAddr {
        IpAddr::from(a)
    }

    fn tcp_entry() -> CtEntry {
        let orig = CtTuple {
            src: v4([10, 1, 1, 1]),
            dst: v4([10, 1, 1, 2]),
            proto: IPPROTO_TCP,
            src_port: 1234,
            dst_port: 80,
            ..CtTuple::default()
        };
        let reply = CtTuple {
            src: orig.dst,
            dst: orig.src,
            src_port: 80,
            dst_port: 1234,
            ..orig
        };
        CtEntry {
            orig,
            reply,
            id: 77,
            zone: 5,
            status: 0xe, // SEEN_REPLY|ASSURED|CONFIRMED
            timeout: 431_999,
            mark: 3,
            labels: 0x1_0000_0000_0000_0000_0000_0000_0002,
            protoinfo: Some(CtProtoinfo::Tcp(CtTcpInfo {
                state_orig: tcp_state::SYN_RECV,
                state_reply: tcp_state::SYN_RECV,
                wscale_orig: 7,
                wscale_reply: 0,
                flags_orig: 0x3,
                flags_reply: 0,
            })),
            counters_orig: CtCounters {
                packets: 3,
                bytes: 180,
            },
            ..CtEntry::default()
        }
    }

    // The expected strings follow lib/ct-dpif.c's format statements.
    #[test]
    fn entry_lines() {
        let e = tcp_entry();
        let mut s = String::new();
        entry(&mut s, &e, false, false);
        assert_eq!(
            s,
            "tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1234,dport=80),\
             reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=1234),zone=5,mark=3,\
             labels=0x10000000000000000000000000002,protoinfo=(state=ESTABLISHED)"
        );
        s.clear();
        entry(&mut s, &e, true, true);
        assert_eq!(
            s,
            "tcp,orig=(src=10.1.1.1,dst=10.1.1.2,sport=1234,dport=80,packets=3,bytes=180),\
             reply=(src=10.1.1.2,dst=10.1.1.1,sport=80,dport=1234),id=77,zone=5,\
             status=SEEN_REPLY|ASSURED|CONFIRMED,timeout=431999,mark=3,\
             labels=0x10000000000000000000000000002,protoinfo=(state_orig=SYN_RECV,\
             state_reply=SYN_RECV,wscale_orig=7,wscale_reply=0,\
             flags_orig=WINDOW_SCALE|SACK_PERM,flags_reply=0)"
        );
    }

    #[test]
    fn icmpv6_parent_helper_unknown_bits() {
        let a: IpAddr = "fd00::1".parse::<Ipv6Addr>().unwrap().into();
        let b: IpAddr = "fd00::2".parse::<Ipv6Addr>().unwrap().into();
        let t = CtTuple {
            src: a,
            dst: b,
            proto: IPPROTO_ICMPV6,
            icmp_id: 9,
            icmp_type: 128,
            icmp_code: 0,
            ..CtTuple::default()
        };
        let e = CtEntry {
            orig: t,
            reply: CtTuple {
                src: b,
                dst: a,
                icmp_type: 129,
                ..t
            },
            parent: Some(t),
            helper: Some("ftp".into()),
            status: 1 << 20 | 1,
            ..CtEntry::default()
        };
        let mut s = String::new();
        entry(&mut s, &e, true, false);
        assert_eq!(
            s,
            "icmpv6,orig=(src=fd00::1,dst=fd00::2,id=9,type=128,code=0),\
             reply=(src=fd00::2,dst=fd00::1,id=9,type=129,code=0),id=0,\
             status=EXPECTED|0x100000,helper=ftp,\
             parent=(src=fd00::1,dst=fd00::2,id=9,type=128,code=0)"
        );
    }

    #[test]
    fn timestamps_in_utc() {
        let mut s = String::new();
        // 2021-03-04T05:06:07.089Z
        time(&mut s, 1_614_834_367_089_000_000);
        assert_eq!(s, "2021-03-04T05:06:07.089");
        s.clear();
        time(&mut s, 0);
        assert_eq!(s, "1970-01-01T00:00:00.000");
    }

    #[test]
    fn stats_text() {
        let mut e = tcp_entry();
        let mut u = e.clone();
        u.orig.proto = IPPROTO_UDP;
        u.protoinfo = None;
        let mut i6 = u.clone();
        i6.orig.proto = IPPROTO_ICMPV6;
        let entries = vec![e.clone(), u, i6];
        assert_eq!(
            stats(&entries, true),
            "Connections Stats:\n    Total: 3\n  TCP: 1\n    Conn per TCP states:\n\
             \t  [ESTABLISHED]=1\n  UDP: 1\n"
        );
        e.protoinfo = None;
        assert_eq!(
            stats(&[e], false),
            "Connections Stats:\n    Total: 1\n  TCP: 1\n"
        );
    }

    #[test]
    fn bkts_and_limits_text() {
        assert_eq!(
            bkts(&CtDump::default(), 0),
            "Command is available for UserSpace ConnTracker only.\n"
        );
        let d = CtDump {
            entries: vec![CtEntry {
                bucket: 9,
                ..CtEntry::default()
            }],
            n_buckets: Some(16),
        };
        assert_eq!(
            bkts(&d, 0),
            "Total Buckets: 16\nCurrent Connections: 1\n\n\
             +-----------+-----------------------------------------+\n\
             |  Buckets  |         Connections per Buckets         |\n\
             +-----------+-----------------------------------------+\n\
             \x20  0..  7   |     .    .    .    .    .    .    .    .\n\
             \x20  8.. 15   |     .    1    .    .    .    .    .    .\n\n"
        );
        assert_eq!(
            bkts(&d, 1).lines().nth(7),
            Some("   8.. 15   |     .    .    .    .    .    .    .    .")
        );
        let l = CtLimits {
            default_limit: 10,
            zones: vec![CtZoneLimit {
                zone: 3,
                limit: 5,
                count: 1,
            }],
        };
        assert_eq!(limits(&l), "default limit=10\nzone=3,limit=5,count=1\n");
    }

    #[test]
    fn ipf_text() {
        let st = IpfStatus {
            v4: IpfFamilyStatus {
                enabled: true,
                min_frag_size: 1200,
                nfrag_expired_sent: 2,
                ..Default::default()
            },
            nfrag_max: 1000,
            ..Default::default()
        };
        let t = ipf_status(&st);
        assert!(t.starts_with(
            "        Fragmentation Module Status\n        ---------------------------\n\
             \x20       v4 enabled: 1\n        v6 enabled: 0\n\
             \x20       max num frags (v4/v6): 1000\n        num frag: 0\n\
             \x20       min v4 frag size: 1200\n        v4 frags accepted: 0\n\
             \x20       v4 frags completed: 0\n        v4 frags expired: 2\n"
        ));
        assert!(t.ends_with("        v6 frags purged: 0\n"));
        assert_eq!(t.lines().count(), 20);
    }
}
