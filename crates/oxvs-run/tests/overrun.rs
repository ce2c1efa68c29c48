//! Overruns: notifications dropped for want of room are reported once as
//! `ENOBUFS`, then later messages arrive; the notice is handled with small
//! buffers and `MSG_PEEK`, and skipped under `NETLINK_NO_ENOBUFS`.

use crate::common::client::{self, assert_empty, ovs_socket, recv_datagram, transact};
use crate::common::nlmsg::*;
use crate::common::{daemon, probe, sys};

#[test]
fn overrun_is_enobufs_once_then_later_messages() {
    let d = daemon::start();
    let p = probe::run("overrun", Some(d.path()), &[]);
    p.assert_ok();
    if probe::skipped(&p, "overrun_is_enobufs_once_then_later_messages") {
        return;
    }
    assert_eq!(p.fact("done"), "1");
    if let Some(stats) = d.stats() {
        assert!(
            stats.dropped.load(std::sync::atomic::Ordering::Relaxed) > 0,
            "events were dropped for real"
        );
    }
}

/// Reads events off `s` until nothing more comes: the SEQNOs before and
/// after the first `ENOBUFS`, and how many `ENOBUFS` there were.
fn read_events(s: sys::Fd) -> (Vec<u32>, Vec<u32>, usize) {
    let (mut before, mut after, mut enobufs) = (Vec::new(), Vec::new(), 0);
    loop {
        match recv_datagram(s, libc::MSG_DONTWAIT) {
            Ok(msgs) => {
                for m in msgs {
                    let n = event_seqno(&m).expect("an event");
                    if enobufs == 0 {
                        before.push(n)
                    } else {
                        after.push(n)
                    }
                }
            }
            Err(libc::ENOBUFS) => enobufs += 1,
            // The notice comes once there is room again: wait a little.
            Err(libc::EAGAIN) if sys::poll_in(s, 500) != 0 => {}
            Err(libc::EAGAIN) => return (before, after, enobufs),
            Err(e) => panic!("recv: errno {e}"),
        }
    }
}

/// The probe.
pub fn probe_overrun() {
    let (ctl, _) = ovs_socket();
    let Ok(t) = client::lookup(ctl, TEST_FAMILY) else {
        return probe::skip("the daemon has no oxvs_test family");
    };
    let tg = t.groups[0].1;
    let listener = |no_enobufs: bool| {
        let s = client::genl_socket();
        sys::setsockopt_int(s, libc::SOL_SOCKET, libc::SO_RCVBUF, 4096).unwrap();
        if no_enobufs {
            sys::setsockopt_int(s, libc::SOL_NETLINK, NETLINK_NO_ENOBUFS, 1).unwrap();
        }
        sys::connect_nl(s, 0, 0).unwrap();
        sys::setsockopt_int(s, libc::SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, tg as i32).unwrap();
        s
    };
    let s = listener(false);
    let quiet = listener(true);

    // 64 events of 1000 bytes cannot all fit in an 8 KiB receive buffer.
    assert!(transact(ctl, &notify(t.id, 1, 64, 1000, tg, 0)).is_empty());
    for (sock, no_enobufs) in [(s, false), (quiet, true)] {
        let (before, after, enobufs) = read_events(sock);
        assert!(
            !before.is_empty() && before.len() < 64,
            "some dropped: {before:?}"
        );
        assert_eq!(
            before,
            (0..before.len() as u32).collect::<Vec<_>>(),
            "in order"
        );
        assert!(after.is_empty(), "nothing after the notice yet: {after:?}");
        assert_eq!(
            enobufs,
            usize::from(!no_enobufs),
            "ENOBUFS once unless NETLINK_NO_ENOBUFS"
        );
        // Later messages arrive, with no second ENOBUFS.
        assert!(transact(ctl, &notify(t.id, 2, 3, 100, tg, 0)).is_empty());
        let (later, more, again) = read_events(sock);
        assert_eq!((later, more, again), (vec![0, 1, 2], vec![], 0));
    }

    // The notice ahead of an answer, read with buffers too small for it,
    // and with MSG_PEEK: ENOBUFS once, then the answer, intact.
    let overrun_then_echo = |seq: u32| {
        let o = test_request(t.id, 0, seq, TEST_CMD_OVERRUN, &[]);
        let e = echo(t.id, seq + 1, &pattern(32, 7));
        assert_eq!(sys::sendmsg(ctl, &[&o, &e], None, 0), Ok(o.len() + e.len()));
        e.len()
    };
    let len = overrun_then_echo(10);
    assert_eq!(sys::recv(ctl, 8, 0).err(), Some(libc::ENOBUFS));
    assert_eq!(sys::recv(ctl, 65536, libc::MSG_DONTWAIT).unwrap().0, len);
    assert_empty(ctl);
    let len = overrun_then_echo(20);
    assert_eq!(
        sys::recvmsg(ctl, &[65536], libc::MSG_PEEK).err(),
        Some(libc::ENOBUFS)
    );
    let peeked = sys::recvmsg(ctl, &[65536], libc::MSG_PEEK).unwrap();
    assert_eq!(peeked.ret, len);
    assert_eq!(
        sys::recvmsg(ctl, &[65536], 0).unwrap().data(),
        peeked.data()
    );
    assert_empty(ctl);
    let len = overrun_then_echo(30);
    assert_eq!(
        sys::recv(ctl, 4, libc::MSG_PEEK | libc::MSG_TRUNC).err(),
        Some(libc::ENOBUFS)
    );
    assert_eq!(
        sys::recv(ctl, 4, libc::MSG_PEEK | libc::MSG_TRUNC)
            .unwrap()
            .0,
        len
    );
    assert_eq!(
        sys::recv(ctl, 1, libc::MSG_TRUNC | libc::MSG_DONTWAIT)
            .unwrap()
            .0,
        len
    );
    assert_empty(ctl);
    sys::setsockopt_int(ctl, libc::SOL_NETLINK, NETLINK_NO_ENOBUFS, 1).unwrap();
    let len = overrun_then_echo(40);
    assert_eq!(
        sys::recv(ctl, 65536, libc::MSG_DONTWAIT).unwrap().0,
        len,
        "notice skipped silently"
    );
    assert_empty(ctl);
    probe::fact("done", 1);
}
