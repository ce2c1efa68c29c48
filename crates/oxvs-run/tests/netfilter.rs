//! NETLINK_NETFILTER sockets: a conntrack request swaps the socket for a
//! daemon connection on the same descriptor (flags and options kept); any
//! other subsystem, or no send at all, leaves it the kernel's.

use std::os::unix::fs::MetadataExt;

use crate::common::nlmsg::*;
use crate::common::{daemon, probe, sys};

#[test]
fn conntrack_sockets_move_to_the_daemon_others_stay() {
    let d = daemon::start();
    let p = probe::run("netfilter", Some(d.path()), &[]);
    p.assert_ok();
    if probe::skipped(&p, "conntrack_sockets_move_to_the_daemon_others_stay") {
        return;
    }
    assert_eq!(p.fact("done"), "1");
    if let Some(stats) = d.stats() {
        assert_eq!(
            stats.ctnetlink.load(std::sync::atomic::Ordering::Relaxed),
            1
        );
    }
}

fn inode(fd: sys::Fd) -> u64 {
    std::fs::metadata(format!("/proc/self/fd/{fd}"))
        .unwrap()
        .ino()
}

/// Whether a socket inode is a Unix socket (listed in /proc/net/unix): a
/// daemon connection rather than the kernel's netlink socket.
fn unix_socket(ino: u64) -> bool {
    let table = std::fs::read_to_string("/proc/self/net/unix").unwrap();
    table
        .lines()
        .skip(1)
        .any(|l| l.split_whitespace().nth(6) == Some(&ino.to_string()))
}

/// Whether `fd` is a kernel socket of domain AF_NETLINK.
fn kernel_netlink(fd: sys::Fd) -> bool {
    let ino = inode(fd);
    !unix_socket(ino)
        && std::fs::read_link(format!("/proc/self/fd/{fd}"))
            .unwrap()
            .to_string_lossy()
            == format!("socket:[{ino}]")
}

fn nfnl(ty: u16, flags: u16, seq: u32) -> Vec<u8> {
    // nfgenmsg: family AF_INET, version 0, res_id 0.
    message(
        ty,
        NLM_F_REQUEST | flags,
        seq,
        0,
        &[libc::AF_INET as u8, 0, 0, 0],
    )
}

/// The probe.
pub fn probe_netfilter() {
    let ty = libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    let s1 = match sys::socket(libc::AF_NETLINK, ty, libc::NETLINK_NETFILTER) {
        Ok(fd) => fd,
        Err(e) => return probe::skip(&format!("no NETLINK_NETFILTER sockets here (errno {e})")),
    };
    sys::setsockopt_int(s1, libc::SOL_SOCKET, libc::SO_RCVBUF, 65536).unwrap();
    let rcvbuf = sys::getsockopt_int(s1, libc::SOL_SOCKET, libc::SO_RCVBUF).unwrap();
    sys::setsockopt_int(s1, libc::SOL_NETLINK, NETLINK_EXT_ACK, 1).unwrap();
    assert!(kernel_netlink(s1), "a kernel socket until it sends");

    // A ctnetlink dump request (IPCTNL_MSG_CT_GET): to the daemon.
    let req = nfnl(0x0101, NLM_F_DUMP | NLM_F_ACK, 5);
    assert_eq!(sys::send(s1, &req, 0), Ok(req.len()));
    assert!(!kernel_netlink(s1), "now a daemon connection");
    assert_ne!(
        sys::fcntl_get(s1, libc::F_GETFD).unwrap() & libc::FD_CLOEXEC,
        0,
        "close-on-exec kept"
    );
    assert_ne!(
        sys::fcntl_get(s1, libc::F_GETFL).unwrap() & libc::O_NONBLOCK,
        0,
        "non-blocking kept"
    );
    assert_eq!(
        sys::getsockopt_int(s1, libc::SOL_SOCKET, libc::SO_RCVBUF),
        Ok(rcvbuf),
        "SO_RCVBUF replayed"
    );
    assert_eq!(
        sys::getsockopt_int(s1, libc::SOL_NETLINK, NETLINK_EXT_ACK),
        Ok(1),
        "EXT_ACK replayed"
    );
    assert_eq!(
        sys::getsockopt_int(s1, libc::SOL_SOCKET, libc::SO_PROTOCOL),
        Ok(libc::NETLINK_NETFILTER)
    );
    // The dump's answer from the daemon: its entries to NLMSG_DONE, or an
    // error (a daemon without conntrack answers EOPNOTSUPP).
    loop {
        let answer = sys::recv(s1, 65536, 0).expect("the daemon answers").1;
        let m = messages(&answer);
        assert!(!m.is_empty() && m.iter().all(|m| m.seq == 5), "{m:?}");
        if m.iter().any(|m| m.ty == NLMSG_DONE || m.ty == NLMSG_ERROR) {
            break;
        }
    }
    assert_eq!(sys::recv(s1, 65536, 0).err(), Some(libc::EAGAIN));

    // An nfqueue request: the kernel's, and it answers.
    let s2 = sys::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_NETFILTER).unwrap();
    let req = nfnl(0x0302, NLM_F_ACK, 6);
    assert_eq!(sys::send(s2, &req, 0), Ok(req.len()));
    assert!(kernel_netlink(s2));
    let answer = sys::recv(s2, 65536, 0).unwrap().1;
    assert_eq!(
        messages(&answer).first().map(|m| (m.ty, m.seq)),
        Some((NLMSG_ERROR, 6))
    );

    // A socket that never sends stays the kernel's.
    let s3 = sys::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_NETFILTER).unwrap();
    assert!(kernel_netlink(s3));
    for s in [s1, s2, s3] {
        sys::close(s).unwrap();
    }
    probe::fact("done", 1);
}
