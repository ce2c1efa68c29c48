//! The ovs-dpctl command set through `dpctl::run_with`, against userspace
//! datapaths (`netdev@`) in this process. Expected texts follow the formats
//! `ovs-dpctl` 3.1 prints (see `show` and `dump-flows` in its manual and
//! the kernel interop test `vm_interop.rs`).

use std::io::Write;
use std::sync::{Arc, OnceLock};

fn registry() -> &'static dpif::Registry {
    static R: OnceLock<dpif::Registry> = OnceLock::new();
    R.get_or_init(|| {
        let r = dpif::Registry::new();
        r.register(Arc::new(dpif_netdev::NetdevClass { n_pmds: 1 }))
            .unwrap();
        r
    })
}

struct Out {
    rc: i32,
    out: String,
    err: String,
}

fn run(args: &[&str]) -> Out {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let rc = dpctl::run_with(
        registry(),
        args.iter().map(|s| s.to_string()).collect(),
        &mut out,
        &mut err,
    );
    Out {
        rc,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
    }
}

/// Runs a command that must succeed silently on stderr; returns stdout.
fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert_eq!(o.rc, 0, "{args:?}: {}", o.err);
    assert_eq!(o.err, "", "{args:?}");
    o.out
}

/// Runs a command that must fail; returns stderr (and checks stdout).
fn fails(args: &[&str], stdout: &str) -> String {
    let o = run(args);
    assert_eq!(o.rc, 1, "{args:?} should fail: {}", o.out);
    assert_eq!(o.out, stdout, "{args:?}");
    o.err
}

const FLOW: &str = "in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15),eth_type(0x0800),\
ipv4(src=1.2.3.4,dst=5.6.7.8,proto=6,tos=0,ttl=64,frag=no),tcp(src=80,dst=8080),tcp_flags(0)";
const ARP: &str = "in_port(2),eth(src=00:01:02:03:04:06,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),\
arp(sip=10.0.0.1,tip=10.0.0.2,op=1,sha=00:01:02:03:04:06,tha=00:00:00:00:00:00)";

#[test]
fn datapath_and_port_lifecycle() {
    ok(&[
        "add-dp",
        "netdev@dpa",
        "pa1,type=dummy",
        "pa2,type=dummy,port_no=5",
    ]);
    assert!(ok(&["dump-dps"]).lines().any(|l| l == "netdev@dpa"));
    let show = ok(&["show", "netdev@dpa"]);
    assert_eq!(
        show,
        "netdev@dpa:
  lookups: hit:0 missed:0 lost:0
  flows: 0
  masks: hit:0 total:0 hit/pkt:0.00
  cache: hit:0 hit-rate:0.00%
  port 0: dpa (internal)
  port 1: pa1 (dummy)
  port 5: pa2 (dummy)
"
    );
    let stats = ok(&["show", "-s", "netdev@dpa"]);
    assert!(
        stats.contains(
            "  port 5: pa2 (dummy)
    RX packets:0 errors:0 dropped:0 overruns:? frame:?
    TX packets:0 errors:0 dropped:0 aborted:? carrier:?
    collisions:?
    RX bytes:0  TX bytes:0
"
        ),
        "{stats}"
    );
    // Errors: each in ovs-dpctl's words, exit status 1.
    assert_eq!(
        fails(&["add-dp", "netdev@dpa"], ""),
        "oxvs-dpctl: add_dp (File exists)\n"
    );
    assert_eq!(
        fails(&["add-if", "netdev@dpa", "pa1,type=dummy"], ""),
        "oxvs-dpctl: adding pa1 to netdev@dpa failed (File exists)\n"
    );
    assert_eq!(
        fails(&["add-if", "netdev@dpa", "px,type=dummy,port_no=5"], ""),
        "oxvs-dpctl: adding px to netdev@dpa failed (Device or resource busy)\n"
    );
    assert_eq!(
        fails(&["add-if", "netdev@dpa", "pg,type=geneve"], ""),
        "oxvs-dpctl: pg: geneve type requires valid 'remote_ip' argument (Invalid argument)\n"
    );
    assert_eq!(
        fails(&["del-if", "netdev@dpa", "nosuch"], ""),
        "oxvs-dpctl: no port named nosuch\n"
    );
    assert_eq!(
        fails(&["set-if", "netdev@dpa", "nosuch"], ""),
        "oxvs-dpctl: nosuch: failed to query port in netdev@dpa (No such device)\n"
    );
    assert_eq!(
        fails(&["set-if", "netdev@dpa", "pa1,type=tap"], ""),
        "oxvs-dpctl: pa1: can't change type from dummy to tap\n"
    );
    assert_eq!(
        fails(&["set-if", "netdev@dpa", "pa1,port_no=9"], ""),
        "oxvs-dpctl: pa1: can't change port number from 1 to 9\n"
    );
    ok(&["set-if", "netdev@dpa", "pa1,type=dummy,port_no=1"]);
    ok(&["del-if", "netdev@dpa", "pa1", "5"]);
    assert!(ok(&["show", "netdev@dpa"]).ends_with("  port 0: dpa (internal)\n"));
    let json = ok(&["show", "--format", "json", "netdev@dpa"]);
    assert!(
        json.starts_with(
            r#"[{"name":"netdev@dpa","lookups":{"hit":0,"missed":0,"lost":0},"flows":0,"#
        ),
        "{json}"
    );
    assert!(json.contains(r#""ports":[{"port_no":0,"name":"dpa","type":"internal","config":{}}]"#));
    ok(&["del-dp", "netdev@dpa"]);
    assert_eq!(
        fails(&["show", "netdev@dpa"], ""),
        "oxvs-dpctl: opening datapath netdev@dpa failed (No such device)\n"
    );
    assert_eq!(
        fails(&["del-dp", "netdev@dpa"], ""),
        "oxvs-dpctl: opening datapath (No such device)\n"
    );
    assert_eq!(
        fails(&["add-dp", "nosuchtype@x"], ""),
        "oxvs-dpctl: add_dp (unknown datapath type 'nosuchtype')\n"
    );
}

#[test]
fn bad_command_lines() {
    assert_eq!(
        fails(&["bogus"], ""),
        "oxvs-dpctl: unknown command 'bogus'; use --help for help\n"
    );
    assert_eq!(
        fails(&["add-flow", "x"], ""),
        "oxvs-dpctl: 'add-flow' command requires at least 2 arguments\n"
    );
    assert_eq!(
        fails(&["del-dp", "a", "b"], ""),
        "oxvs-dpctl: 'del-dp' command takes at most 1 argument\n"
    );
    assert_eq!(
        fails(&["--bogus", "show"], ""),
        "oxvs-dpctl: unrecognized option '--bogus'\n"
    );
    assert_eq!(
        fails(&["dump-flows", "netdev@nosuchdp"], ""),
        "oxvs-dpctl: datapath not found (Invalid argument)\n"
    );
    assert!(ok(&["--help"]).contains("dump-flows"));
}

#[test]
fn flows() {
    ok(&["add-dp", "netdev@dpf", "pf1,type=dummy", "pf2,type=dummy"]);
    ok(&["add-flow", "netdev@dpf", FLOW, "2"]);
    let line = format!("{FLOW}, packets:0, bytes:0, used:never, actions:2\n");
    assert_eq!(ok(&["dump-flows", "netdev@dpf"]), line);
    // -m: the UFID first, every attribute, the datapath layer; names.
    let ufid = {
        let key = odp::text::key::parse_match(FLOW).unwrap().0;
        let u = dpif::Dpif::ufid_from_key(&key).0;
        let w = |i: u32| (u >> (32 * i)) as u32;
        format!(
            "ufid:{:08x}-{:04x}-{:04x}-{:04x}-{:04x}{:08x}",
            w(0),
            w(1) >> 16,
            w(1) & 0xffff,
            w(2) >> 16,
            w(2) & 0xffff,
            w(3)
        )
    };
    let verbose = ok(&["dump-flows", "-m", "netdev@dpf"]);
    assert!(verbose.starts_with(&format!("{ufid}, ")), "{verbose}");
    assert!(verbose.contains("in_port(pf1)"), "{verbose}");
    assert!(
        verbose.ends_with(", packets:0, bytes:0, used:never, dp:ovs, actions:pf2\n"),
        "{verbose}"
    );
    assert_eq!(
        ok(&["dump-flows", "--names", "netdev@dpf"]),
        line.replace("in_port(1)", "in_port(pf1)")
            .replace("actions:2", "actions:pf2")
    );
    // JSON for scripts: the same text pieces, as fields.
    let json = ok(&["dump-flows", "--format", "json", "netdev@dpf"]);
    assert_eq!(
        json,
        format!(
            "[{{\"ufid\":\"{}\",\"match\":\"{FLOW}\",\"packets\":0,\"bytes\":0,\
             \"used_ms_ago\":null,\"tcp_flags\":\"\",\"actions\":\"2\"}}]\n",
            ufid.trim_start_matches("ufid:")
        )
    );
    // Filters.
    assert_eq!(
        ok(&["dump-flows", "netdev@dpf", "filter=tcp,tp_dst=8080"]),
        line
    );
    assert_eq!(ok(&["dump-flows", "netdev@dpf", "filter=arp"]), "");
    assert!(fails(&["dump-flows", "netdev@dpf", "filter=bogus=1"], "")
        .starts_with("oxvs-dpctl: Failed to parse filter ("));
    // get-flow by UFID and by key.
    assert_eq!(ok(&["get-flow", "netdev@dpf", &ufid]), line);
    assert_eq!(ok(&["get-flow", "netdev@dpf", FLOW]), line);
    // Create-only, modify-only.
    assert_eq!(
        fails(&["add-flow", "netdev@dpf", FLOW, "1"], ""),
        "oxvs-dpctl: updating flow table (File exists)\n"
    );
    assert_eq!(
        fails(&["mod-flow", "netdev@dpf", ARP, "1"], ""),
        "oxvs-dpctl: updating flow table (No such file or directory)\n"
    );
    assert_eq!(
        ok(&["mod-flow", "-s", "netdev@dpf", FLOW, "1"]),
        "packets:0, bytes:0, used:never\n"
    );
    ok(&[
        "mod-flow",
        "--may-create",
        "--clear",
        "netdev@dpf",
        ARP,
        "1,2",
    ]);
    let both = ok(&["dump-flows", "netdev@dpf"]);
    assert_eq!(both.lines().count(), 2, "{both}");
    assert!(both.contains(&format!(
        "{FLOW}, packets:0, bytes:0, used:never, actions:1\n"
    )));
    assert!(both.contains(&format!(
        "{ARP}, packets:0, bytes:0, used:never, actions:1,2\n"
    )));
    // Parse errors.
    assert_eq!(
        fails(&["add-flow", "netdev@dpf", "in_port(1),foo", "2"], ""),
        "oxvs-dpctl: parsing flow key (syntax error at foo) (Invalid argument)\n"
    );
    assert_eq!(
        fails(&["add-flow", "netdev@dpf", "in_port(1),eth()", "foo"], ""),
        "oxvs-dpctl: parsing actions (Invalid argument)\n"
    );
    assert_eq!(
        fails(&["get-flow", "netdev@dpf", "ufid:1234"], ""),
        "oxvs-dpctl: parsing flow ufid (Invalid argument)\n"
    );
    // The only datapath is used when none is named... unless there are several.
    // Delete: by key, then a missing one.
    ok(&["del-flow", "netdev@dpf", ARP]);
    assert_eq!(
        fails(
            &["del-flow", "netdev@dpf", ARP],
            "Perhaps you need to specify a UFID?\n"
        ),
        "oxvs-dpctl: deleting flow (No such file or directory)\n"
    );
    assert_eq!(
        ok(&["del-flow", "-s", "netdev@dpf", &ufid]),
        "packets:0, bytes:0, used:never\n"
    );
    assert_eq!(ok(&["dump-flows", "netdev@dpf"]), "");
    assert_eq!(ok(&["dump-flows", "--format=json", "netdev@dpf"]), "[]\n");
    ok(&["del-dp", "netdev@dpf"]);
}

#[test]
fn flow_files() {
    ok(&["add-dp", "netdev@dpg", "pg1,type=dummy", "pg2,type=dummy"]);
    let dir = std::env::temp_dir().join(format!("dpctl-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("flows");
    let mut f = std::fs::File::create(&file).unwrap();
    // Port names work in flow files too.
    writeln!(
        f,
        "# two flows\n{FLOW} 2\n\nadd {} \\\n  1\nbogus-line-without-actions",
        ARP.replace("in_port(2)", "in_port(pg2)")
    )
    .unwrap();
    drop(f);
    let path = file.to_str().unwrap();
    assert_eq!(
        fails(&["add-flows", "netdev@dpg", path], ""),
        "oxvs-dpctl: Failed parsing line number 6, skipped!\n"
    );
    let dump = ok(&["dump-flows", "netdev@dpg"]);
    assert_eq!(dump.lines().count(), 2, "{dump}");
    assert!(dump.contains(&format!(
        "{ARP}, packets:0, bytes:0, used:never, actions:1\n"
    )));
    std::fs::write(&file, format!("{FLOW} 1\n")).unwrap();
    ok(&["mod-flows", "netdev@dpg", path]);
    assert!(ok(&["dump-flows", "netdev@dpg"]).contains(&format!(
        "{FLOW}, packets:0, bytes:0, used:never, actions:1\n"
    )));
    std::fs::write(&file, format!("{FLOW}\n")).unwrap();
    ok(&["del-flows", "netdev@dpg", path]);
    assert_eq!(ok(&["dump-flows", "netdev@dpg"]).lines().count(), 1);
    ok(&["del-flows", "netdev@dpg"]);
    assert_eq!(ok(&["dump-flows", "netdev@dpg"]), "");
    assert_eq!(
        fails(&["add-flows", "netdev@dpg", "/nonexistent/file"], ""),
        "oxvs-dpctl: Opening file \"/nonexistent/file\" failed (No such file or directory)\n"
    );
    ok(&["del-dp", "netdev@dpg"]);
    let _ = std::fs::remove_dir_all(&dir);
}
