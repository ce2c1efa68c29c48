//! fork: a child uses an inherited socket and opens its own (with its own
//! side connection); exec: programs started by the program run under the
//! library too, through the environment.

use std::process::Command;

use crate::common::client::{self, ovs_socket, recv_datagram, transact};
use crate::common::nlmsg::*;
use crate::common::{daemon, probe, sys};
use crate::pyroute2::{have_python, script};

#[test]
fn forked_child_uses_inherited_and_new_sockets() {
    let d = daemon::start();
    let p = probe::run("fork", Some(d.path()), &[]);
    p.assert_ok();
    if probe::skipped(&p, "forked_child_uses_inherited_and_new_sockets") {
        return;
    }
    assert_eq!(p.fact("child"), "0");
    assert_eq!(p.fact("parent_after"), "ok");
    if let Some(stats) = d.stats() {
        // Parent: its socket and its side connection; child: its new socket
        // and a side connection of its own (not the parent's).
        assert_eq!(stats.accepted.load(std::sync::atomic::Ordering::Relaxed), 4);
    }
}

/// The probe.
pub fn probe_fork() {
    let (a, _) = ovs_socket();
    let Ok(t) = client::lookup(a, TEST_FAMILY) else {
        return probe::skip("the daemon has no oxvs_test family");
    };
    let tg = t.groups[0].1;
    sys::setsockopt_int(a, libc::SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, tg as i32).unwrap();
    let child = sys::fork().unwrap();
    if child == 0 {
        let ok = std::panic::catch_unwind(|| {
            // The inherited socket answers the child.
            let dp = client::lookup(a, "ovs_datapath").is_ok();
            // A socket of its own, joined through its own side connection.
            let (b, _) = ovs_socket();
            let joined =
                sys::setsockopt_int(b, libc::SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, tg as i32)
                    .is_ok();
            // a is a member too: its transaction reads the event back.
            let on_a = transact(a, &notify(t.id, 3, 1, 4, tg, 0));
            let got_a = on_a.len() == 1 && event_seqno(&on_a[0]) == Some(0);
            let got_b = recv_datagram(b, libc::MSG_DONTWAIT)
                .is_ok_and(|m| m.len() == 1 && event_seqno(&m[0]) == Some(0));
            // Exit status: one bit per failed check.
            [dp, joined, got_a, got_b]
                .iter()
                .enumerate()
                .fold(0, |acc, (i, ok)| acc | (i32::from(!ok) << i))
        });
        sys::exit_now(ok.unwrap_or(64));
    }
    probe::fact("child", sys::wait(child));
    // The parent's socket and side connection still work.
    let info = client::lookup(a, "ovs_datapath").expect("parent's socket");
    let g = info.groups[0].1 as i32;
    let joined = sys::setsockopt_int(a, libc::SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g);
    probe::fact(
        "parent_after",
        if joined.is_ok() {
            "ok".to_string()
        } else {
            format!("{joined:?}")
        },
    );
}

#[test]
fn programs_started_under_oxvs_run_inherit_it() {
    if !have_python() {
        println!("SKIP: programs_started_under_oxvs_run_inherit_it: no python3");
        return;
    }
    let d = daemon::start();
    if d.stats().is_none() {
        println!(
            "SKIP: programs_started_under_oxvs_run_inherit_it: needs the fixture's test family"
        );
        return;
    }
    // sh forks python3: both found the library through LD_PRELOAD.
    let line = format!(
        "python3 {} lookup {TEST_FAMILY}; echo done",
        script().display()
    );
    let out = probe::oxvs_run_command()
        .arg("--socket")
        .arg(d.path())
        .args(["--", "sh", "-c", &line])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts = probe::facts(&out.stdout);
    assert_eq!(
        facts.get("lookup_oxvs_test").map(String::as_str),
        Some("found")
    );
    // Natively, the kernel has no such family.
    let native = Command::new("python3")
        .arg(script())
        .args(["lookup", TEST_FAMILY])
        .output()
        .unwrap();
    if native.status.success() {
        assert_eq!(
            probe::facts(&native.stdout)
                .get("lookup_oxvs_test")
                .map(String::as_str),
            Some("absent")
        );
    }
}
