//! `oxvs-dpctl`'s conntrack commands beside Debian's `ovs-dpctl` on the
//! kernel: connections made by the real openvswitch module (`ct(commit)`
//! flows, traffic from a network namespace through a veth port), then
//! dumps, statistics, zone limits and flushes by either tool, read by
//! both, byte for byte; and the "not supported" answers of what OVS's
//! `system` datapath lacks (maxconns, nconns, TCP sequence checking,
//! fragment reassembly), which both tools print alike. Needs root, the
//! openvswitch module and `ovs-dpctl`; otherwise prints `SKIP: <reason>`
//! and passes. `scripts/kernel-tests.sh` runs it in a VM.

use std::process::{Command, Output};

fn ovs_dpctl() -> Option<String> {
    [
        std::env::var("OVS_DPCTL").ok(),
        Some("/usr/bin/ovs-dpctl".to_string()),
        Some("/var/cache/kvm-ovs/ovs/usr/bin/ovs-dpctl".to_string()),
    ]
    .into_iter()
    .flatten()
    .find(|p| std::path::Path::new(p).exists())
}

fn skip_reason() -> Option<String> {
    if !std::path::Path::new("/sys/module/openvswitch").exists() {
        return Some("openvswitch kernel module not loaded".into());
    }
    if !std::path::Path::new("/sys/module/nf_conntrack").exists() {
        return Some("nf_conntrack not loaded".into());
    }
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        });
    if uid.as_deref() != Some("0") {
        return Some("not root".into());
    }
    if ovs_dpctl().is_none() {
        return Some("no ovs-dpctl".into());
    }
    None
}

fn exec(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {bin}: {e}"))
}

fn sh(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", cmd])
        .status()
        .is_ok_and(|s| s.success())
}

struct Tools {
    theirs: String,
    ours: String,
}

/// `timeout=N` → `timeout=*` (seconds tick between two runs).
fn normalize_timeouts(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("timeout=") {
        out.push_str(&rest[..i + 8]);
        rest = &rest[i + 8..];
        let end = rest.find([',', '\n']).unwrap_or(rest.len());
        out.push('*');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

impl Tools {
    fn ok(&self, bin: &str, args: &[&str]) -> String {
        let o = exec(bin, args);
        assert!(
            o.status.success(),
            "{bin} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    /// Both succeed with the same stdout (timeouts aside).
    fn same(&self, args: &[&str]) -> String {
        let theirs = self.ok(&self.theirs, args);
        let ours = self.ok(&self.ours, args);
        if ours == theirs {
            println!("identical: {args:?} ({} lines)", ours.lines().count());
        } else {
            assert_eq!(
                normalize_timeouts(&ours),
                normalize_timeouts(&theirs),
                "stdout of {args:?} differs"
            );
            println!("identical up to timeouts: {args:?}");
        }
        ours
    }

    /// Both fail alike: exit status, stdout, and stderr up to the program
    /// name (ovs-dpctl's log lines dropped).
    fn same_error(&self, args: &[&str]) -> String {
        let t = exec(&self.theirs, args);
        let o = exec(&self.ours, args);
        assert!(!t.status.success(), "ovs-dpctl {args:?} succeeded");
        assert_eq!(o.status.code(), t.status.code(), "exit status of {args:?}");
        assert_eq!(o.stdout, t.stdout, "stdout of {args:?}");
        let theirs: String = String::from_utf8_lossy(&t.stderr)
            .lines()
            .filter(|l| l.starts_with("ovs-dpctl: "))
            .map(|l| format!("{}\n", l.replacen("ovs-dpctl: ", "oxvs-dpctl: ", 1)))
            .collect();
        let ours = String::from_utf8_lossy(&o.stderr).into_owned();
        assert_eq!(ours, theirs, "stderr of {args:?}");
        println!("same error: {args:?}: {}", ours.trim());
        ours
    }
}

const NS: &str = "oxct";
const PEER: &str = "10.9.0.1";

/// ICMP, UDP and TCP from the namespace into the datapath's port.
fn traffic() {
    let ns = |c: &str| sh(&format!("ip netns exec {NS} sh -c '{c}'"));
    ns(&format!("ping -c 1 -W 1 {PEER} >/dev/null 2>&1"));
    ns(&format!("bash -c \"echo hi > /dev/udp/{PEER}/5353\""));
    ns(&format!(
        "timeout 2 bash -c \"echo > /dev/tcp/{PEER}/80\" 2>/dev/null"
    ));
}

/// The UDP entry's source port, from a dump.
fn udp_sport(dump: &str) -> String {
    let l = dump
        .lines()
        .find(|l| l.starts_with("udp,"))
        .unwrap_or_else(|| panic!("no UDP entry in\n{dump}"));
    let i = l.find("sport=").unwrap() + 6;
    l[i..].split(',').next().unwrap().to_string()
}

#[test]
fn conntrack_commands_match_ovs_dpctl_on_the_kernel() {
    if let Some(why) = skip_reason() {
        println!("SKIP: {why}");
        return;
    }
    let t = Tools {
        theirs: ovs_dpctl().unwrap(),
        ours: env!("CARGO_BIN_EXE_oxvs-dpctl").to_string(),
    };
    let _ = std::fs::write("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
    assert!(sh(&format!(
        "ip netns add {NS} && ip link add oxct1 type veth peer name oxct2 && \
         ip link set oxct2 netns {NS} && ip link set oxct1 up && \
         ip netns exec {NS} ip link set lo up && \
         ip netns exec {NS} ip link set oxct2 up && \
         ip netns exec {NS} ip addr add 10.9.0.2/24 dev oxct2 && \
         ip netns exec {NS} ip neigh add {PEER} lladdr 02:00:00:00:00:01 dev oxct2"
    )));
    t.ok(&t.theirs, &["add-dp", "oxct", "oxct1"]);
    // Limits first: the kernel counts the connections committed under one.
    t.ok(
        &t.ours,
        &["ct-set-limits", "default=100", "zone=5,limit=10"],
    );
    t.ok(&t.theirs, &["ct-set-limits", "zone=7,limit=20"]);
    // The kernel wants every layer in the key, wildcarded or not.
    for (proto, l4, action) in [
        (1, "icmp(type=0/0,code=0/0)", "ct(commit,zone=5)"),
        (17, "udp(src=0/0,dst=0/0)", "ct(commit)"),
        (
            6,
            "tcp(src=0/0,dst=0/0),tcp_flags(0/0)",
            "ct(commit,zone=7)",
        ),
    ] {
        let key = format!("in_port(1),eth(),eth_type(0x0800),ipv4(proto={proto},frag=no),{l4}");
        t.ok(&t.theirs, &["add-flow", "oxct", &key, action]);
    }
    traffic();

    let dump = t.same(&["dump-conntrack"]);
    println!("{dump}");
    assert_eq!(
        dump.lines().count(),
        3,
        "ICMP, UDP and TCP entries:\n{dump}"
    );
    assert!(
        dump.contains("icmp,orig=(src=10.9.0.2,dst=10.9.0.1,"),
        "{dump}"
    );
    assert!(
        dump.contains(",zone=7,protoinfo=(state=SYN_SENT)"),
        "{dump}"
    );
    t.same(&["dump-conntrack", "oxct"]);
    t.same(&["dump-conntrack", "-m"]);
    t.same(&["dump-conntrack", "-s"]);
    t.same(&["dump-conntrack", "-m", "-s", "system@oxct", "zone=5"]);
    assert_eq!(t.same(&["dump-conntrack", "zone=9"]), "");
    t.same(&["ct-stats-show"]);
    t.same(&["ct-stats-show", "zone=7"]);
    t.same(&["ct-stats-show", "-m"]);
    assert_eq!(
        t.same(&["ct-bkts"]),
        "Command is available for UserSpace ConnTracker only.\n"
    );
    assert_eq!(
        t.same(&["ct-get-limits"]),
        "default limit=100\nzone=5,limit=10,count=1\nzone=7,limit=20,count=1\n"
    );
    t.same(&["ct-get-limits", "zone=7,5,9"]);
    t.ok(&t.theirs, &["ct-del-limits", "zone=7"]);
    assert_eq!(
        t.same(&["ct-get-limits", "oxct"]),
        "default limit=100\nzone=5,limit=10,count=1\n"
    );

    // What OVS's system datapath does not have: the same refusals.
    for args in [
        &["ct-set-maxconns", "10"][..],
        &["ct-get-maxconns"],
        &["ct-get-nconns"],
        &["ct-enable-tcp-seq-chk"],
        &["ct-disable-tcp-seq-chk"],
        &["ct-get-tcp-seq-chk"],
        &["ipf-set-enabled", "v4"],
        &["ipf-set-disabled", "v6"],
        &["ipf-set-min-frag", "v4", "1000"],
        &["ipf-set-max-nfrags", "10"],
        &["ipf-get-status"],
    ] {
        let e = t.same_error(args);
        assert!(e.ends_with("(Operation not supported)\n"), "{e}");
    }
    // Malformed arguments, refused alike.
    t.same_error(&["flush-conntrack", "ct_nw_src=1.2.3"]);
    t.same_error(&["flush-conntrack", "bogus=1"]);
    t.same_error(&["ct-set-limits", "zone=1"]);
    t.same_error(&["ct-get-limits", "zone=x"]);

    // Flushes by ours, read by both: one tuple, a zone, everything. On
    // fresh connections: the ones above may have timed out by now (30 s
    // for unanswered UDP and ICMP).
    t.ok(&t.ours, &["flush-conntrack"]);
    traffic();
    let dump = t.same(&["dump-conntrack"]);
    assert_eq!(dump.lines().count(), 3, "{dump}");
    let tuple = format!(
        "ct_nw_src=10.9.0.2,ct_nw_dst={PEER},ct_nw_proto=17,ct_tp_src={},ct_tp_dst=5353",
        udp_sport(&dump)
    );
    t.ok(&t.ours, &["flush-conntrack", &tuple]);
    let d = t.same(&["dump-conntrack"]);
    assert_eq!(d.lines().count(), 2, "{d}");
    assert!(!d.contains("udp,"), "{d}");
    // The same tuple again: gone, for both.
    t.same_error(&["flush-conntrack", &tuple]);
    t.ok(&t.ours, &["flush-conntrack", "zone=5"]);
    let d = t.same(&["dump-conntrack"]);
    assert_eq!(d.lines().count(), 1, "{d}");
    assert!(d.contains("zone=7"), "{d}");
    t.ok(&t.ours, &["flush-conntrack"]);
    assert_eq!(t.same(&["dump-conntrack"]), "");

    // Flushes by theirs, read by both.
    traffic();
    assert_eq!(t.same(&["dump-conntrack"]).lines().count(), 3);
    t.ok(&t.theirs, &["flush-conntrack", "zone=7"]);
    assert_eq!(t.same(&["dump-conntrack"]).lines().count(), 2);
    t.ok(&t.theirs, &["flush-conntrack"]);
    assert_eq!(t.same(&["dump-conntrack"]), "");

    // Timeout policies through the `system` provider: cttimeout objects in
    // the kernel, which fills in its own defaults (TCP ESTABLISHED: five
    // days; UDP replied: 120 s on Linux 6.1).
    let class = dpif_netlink::SystemClass::new();
    let h = dpif::Dpif::new(dpif::DpifClass::open(&class, "oxct", false).unwrap());
    let mut tp = dpif::ct::CtTimeoutPolicy {
        id: 3,
        ..Default::default()
    };
    use dpif::ct::tp_attr as a;
    tp.attrs[a::TCP_SYN_SENT] = Some(33);
    tp.attrs[a::UDP_SINGLE] = Some(44);
    tp.attrs[a::ICMP_FIRST] = Some(11);
    match h.ct_set_timeout_policy(&tp) {
        Err(e) => println!("SKIP: timeout policies: the kernel has no cttimeout ({e})"),
        Ok(()) => {
            let got = h.ct_get_timeout_policy(3).unwrap();
            assert_eq!(got.attrs[a::TCP_SYN_SENT], Some(33));
            assert_eq!(got.attrs[a::TCP_ESTABLISHED], Some(5 * 24 * 3600));
            assert_eq!(got.attrs[a::UDP_SINGLE], Some(44));
            assert_eq!(got.attrs[a::UDP_MULTIPLE], Some(120));
            assert_eq!(got.attrs[a::ICMP_FIRST], Some(11));
            assert_eq!(
                h.ct_timeout_policy_name(3, false, 6).unwrap(),
                "ovs_tp_3_tcp4"
            );
            h.ct_del_timeout_policy(3).unwrap();
            assert_eq!(h.ct_get_timeout_policy(3), Err(dpif::Errno::ENOENT));
            println!("timeout policy set, read back and deleted in the kernel");
        }
    }

    t.ok(&t.ours, &["ct-del-limits", "zone=5"]);
    t.ok(&t.ours, &["ct-set-limits", "default=0"]);
    assert_eq!(t.same(&["ct-get-limits"]), "default limit=0\n");
    t.ok(&t.ours, &["del-dp", "oxct"]);
    sh(&format!("ip netns del {NS}; ip link del oxct1 2>/dev/null"));
}
