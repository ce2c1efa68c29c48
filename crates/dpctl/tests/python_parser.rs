//! Every line `dump-flows` and `dump-flows -m` print for the userspace
//! datapath (`netdev@`) parses with Open vSwitch's own Python flow parser,
//! `ovs.flow.odp.ODPFlow`. The flows are the key lines of OVS's
//! conformance corpus and of the random corpus that the datapath accepts,
//! each with an action list of OVS's corpus (or an output when the
//! datapath refuses those). Without the parser, prints SKIP and passes.

#[path = "common/odpflow.rs"]
mod odpflow;

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

/// Runs `oxvs-dpctl args` in this process: exit status and stdout.
fn run(args: &[&str]) -> (i32, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let rc = dpctl::run_with(
        registry(),
        args.iter().map(|s| s.to_string()).collect(),
        &mut out,
        &mut err,
    );
    (rc, String::from_utf8(out).unwrap())
}

/// Case lines of a corpus file (no comments, no blank lines).
fn cases(path: &str) -> Vec<String> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../odp/tests/data")
        .join(path);
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn dump_flows_lines_parse_with_ovs_python() {
    if odpflow::parse_lines(&["in_port(1), packets:0, bytes:0, used:never, actions:drop"]).is_none()
    {
        return;
    }
    let dp = "netdev@dppy";
    let (rc, _) = run(&["add-dp", dp, "py1,type=dummy", "py2,type=dummy"]);
    assert_eq!(rc, 0);
    let mut keys = cases("conformance/keys.in");
    keys.extend(cases("conformance/wc-keys.in"));
    keys.extend(cases("random/wc-keys.in").into_iter().step_by(4));
    let actions = cases("conformance/actions.in");
    let mut added = 0;
    for (i, key) in keys.iter().enumerate() {
        let acts = &actions[i % actions.len()];
        let (rc, _) = run(&["add-flow", dp, key, acts]);
        let rc = if rc == 0 {
            rc
        } else {
            run(&["add-flow", dp, key, "1"]).0
        };
        added += usize::from(rc == 0);
    }
    assert!(added >= 100, "the datapath took only {added} flows");
    let mut checked = 0;
    for args in [
        &["dump-flows", dp][..],
        &["dump-flows", "-m", dp],
        &["dump-flows", "--names", "-m", dp],
    ] {
        let (rc, out) = run(args);
        assert_eq!(rc, 0, "{args:?}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), added, "{args:?}");
        let results = odpflow::parse_lines(&lines).unwrap();
        for (line, r) in lines.iter().zip(results) {
            if let Err(why) = r {
                panic!("OVS's Python flow parser rejects {args:?} line ({why}):\n{line}");
            }
        }
        checked += lines.len();
    }
    println!("python ODPFlow: {checked} lines of {added} flows");
    run(&["del-dp", dp]);
}
