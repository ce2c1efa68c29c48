//! Netlink client steps the probes share, written as Open vSwitch's
//! `lib/netlink-socket.c` makes them.

#![allow(dead_code)]

use super::nlmsg::{self, FamilyInfo, Msg};
use super::sys::{self, Fd, Res};

/// `socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC)`, or panics.
pub fn genl_socket() -> Fd {
    sys::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_GENERIC)
        .expect("NETLINK_GENERIC socket")
}

/// `nl_sock_create`: the socket, `NETLINK_EXT_ACK`, `SO_RCVBUFFORCE` (EPERM
/// tolerated), connect to the kernel; returns the socket and its port id.
pub fn ovs_socket() -> (Fd, u32) {
    let fd = genl_socket();
    sys::setsockopt_int(fd, libc::SOL_NETLINK, nlmsg::NETLINK_EXT_ACK, 1).expect("NETLINK_EXT_ACK");
    match sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 4 << 20) {
        Ok(()) | Err(libc::EPERM) => {}
        Err(e) => panic!("SO_RCVBUFFORCE: errno {e}"),
    }
    sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).expect("SO_RCVBUF");
    sys::connect_nl(fd, 0, 0).expect("connect(0)");
    let (addr, len) = sys::getsockname(fd, 12).expect("getsockname");
    assert_eq!(len, 12, "getsockname length");
    let (fam, pid, _) = sys::parse_nl(&addr);
    assert_eq!(fam, libc::AF_NETLINK as u16);
    (fd, pid)
}

/// One datagram received as `nl_sock_recv__` does (a 1 KiB buffer and a
/// 64 KiB tail), as messages.
pub fn recv_datagram(fd: Fd, flags: i32) -> Res<Vec<Msg>> {
    let r = sys::recvmsg(fd, &[1024, 65536], flags)?;
    assert_eq!(
        r.flags & libc::MSG_TRUNC,
        0,
        "unexpectedly truncated datagram"
    );
    Ok(nlmsg::messages(&r.data()))
}

/// `nl_sock_transact`: sends `req`, then reads with `MSG_DONTWAIT` until
/// `EAGAIN`; every message received, in order.
pub fn transact(fd: Fd, req: &[u8]) -> Vec<Msg> {
    sys::send(fd, req, 0).expect("send");
    let mut out = Vec::new();
    loop {
        match recv_datagram(fd, libc::MSG_DONTWAIT) {
            Ok(m) => out.extend(m),
            Err(libc::EAGAIN) => return out,
            Err(e) => panic!("recv: errno {e}"),
        }
    }
}

/// `nl_lookup_genl_family`: the family, or the errno of the answer.
pub fn lookup(fd: Fd, name: &str) -> Result<FamilyInfo, i32> {
    let answers = transact(fd, &nlmsg::getfamily(name, 0, 0x4c00));
    for m in &answers {
        if let Some(e) = m.errno() {
            return Err(e);
        }
        if let Some(f) = nlmsg::family_info(m) {
            return Ok(f);
        }
    }
    panic!("no answer to GETFAMILY {name}: {answers:?}")
}

/// Expects `EAGAIN` from a `MSG_DONTWAIT` receive.
pub fn assert_empty(fd: Fd) {
    match sys::recvmsg(fd, &[65536], libc::MSG_DONTWAIT) {
        Err(libc::EAGAIN) => {}
        other => panic!("expected EAGAIN, got {other:?}"),
    }
}
