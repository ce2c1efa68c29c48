//! Integration tests of oxvs-run and its preload library: one binary.
//!
//! Most tests run probes (this binary again, see `common::probe`) under
//! `oxvs-run` against "a daemon" (`common::daemon`: the contract fixture
//! today), and natively against the kernel where the kernel is the
//! reference. They need no privileges; what a machine lacks is a `SKIP`.

mod common;

/// sendmmsg/recvmmsg, readv/writev, close_range, bind with groups; threads.
mod calls;
/// oxvs-run's exit statuses and environment.
mod cli;
/// Same observations natively (kernel) and under the preload (daemon).
mod differential;
/// fork and exec under the preload.
mod fork_exec;
/// NETLINK_NETFILTER sockets.
mod netfilter;
/// ENOBUFS and the overrun notice.
mod overrun;
/// Open vSwitch's call sequence.
mod ovs;
/// Python's socket module, as pyroute2 uses it.
mod pyroute2;
/// Everything again against the real oxvsd.
mod real_daemon;
/// No daemon, or a refusing one.
mod unreachable;

/// Entry point of the probes (`common::probe`): does nothing unless run as
/// one.
#[test]
#[ignore = "entry point of the probes the other tests run"]
fn probe_entry() {
    let Ok(case) = std::env::var("OXVS_PROBE") else {
        return;
    };
    match case.as_str() {
        "ovs_sequence" => ovs::probe_sequence(),
        "differential" => differential::probe_differential(),
        "overrun" => overrun::probe_overrun(),
        "fork" => fork_exec::probe_fork(),
        "unreachable" => unreachable::probe_unreachable(),
        "netfilter" => netfilter::probe_netfilter(),
        "calls" => calls::probe_calls(),
        "threads" => calls::probe_threads(),
        other => panic!("no probe {other}"),
    }
}
