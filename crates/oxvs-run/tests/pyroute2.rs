//! Python's socket module, used as pyroute2 uses it: natively against the
//! kernel and under `oxvs-run` against a daemon, with the same results.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{daemon, probe};

pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/pyroute2_probe.py")
}

/// Whether python3 runs here.
pub fn have_python() -> bool {
    Command::new("python3")
        .arg("-c")
        .arg("pass")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn run(cmd: &mut Command) -> std::collections::BTreeMap<String, String> {
    let out = cmd.output().expect("run python3");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    probe::facts(&out.stdout)
}

#[test]
fn pyroute2_calls_match_the_kernel() {
    if !have_python() {
        println!("SKIP: pyroute2_calls_match_the_kernel: no python3");
        return;
    }
    let native = Command::new("python3")
        .arg(script())
        .args(["calls", "nlctrl"])
        .env_remove("LD_PRELOAD")
        .output()
        .unwrap();
    if !native.status.success() {
        println!(
            "SKIP: pyroute2_calls_match_the_kernel: no netlink here: {}",
            String::from_utf8_lossy(&native.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return;
    }
    let native = probe::facts(&native.stdout);
    let expected: &[(&str, &str)] = &[
        ("fresh_name", "(0, 0)"),
        ("bound_name", "explicit pid"),
        ("same_pid", "EADDRINUSE"),
        ("next_pid", "other"),
        ("rebind", "EINVAL"),
        ("sendto", "all"),
        ("recvfrom_addr", "(0, 0)"),
        ("answer", "NEWFAMILY"),
        ("answer_pid", "ours"),
        ("unknown", "-2"),
        ("peek_trunc", "full length"),
        ("recvmsg_short", "MSG_TRUNC"),
        ("empty", "EAGAIN"),
    ];
    let expected: std::collections::BTreeMap<String, String> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(native, expected, "the kernel's behaviour");
    let d = daemon::start();
    let preload = run(probe::oxvs_run_command()
        .arg("--socket")
        .arg(d.path())
        .arg("--")
        .arg("python3")
        .arg(script())
        .args(["calls", "ovs_datapath"]));
    assert_eq!(preload, native);
}
