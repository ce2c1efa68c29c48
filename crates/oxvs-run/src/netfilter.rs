//! `NETLINK_NETFILTER` sockets: the kernel's until their first message
//! shows what they are for.
//!
//! Netfilter netlink carries conntrack (which the daemon plays for its
//! datapaths) and much that it does not (nftables, queues, logs). A socket
//! is created as a real kernel socket, its options are recorded, and at its
//! first send the subsystem of the first message (`nlmsg_type >> 8`)
//! decides:
//!
//! - ctnetlink (1), ctnetlink-exp (2), cttimeout (8): a daemon connection is
//!   put in its place with `dup3` onto the same descriptor number(s),
//!   keeping close-on-exec and non-blocking mode, and the recorded options
//!   and `bind` are replayed on it;
//! - anything else: the socket stays the kernel's for good and the library
//!   forgets it.
//!
//! A socket that never sends (a conntrack event listener) stays the
//! kernel's; so does anything it received before its first send.

use nl::daemon;

use crate::socket::{NlSocket, Recorded};
use crate::sys::{raw, Errno, Fd, SysResult};
use crate::table::{self, SocketId};
use crate::{addr, conn, report, sockopt};

/// Netfilter subsystems the daemon serves.
pub const DAEMON_SUBSYSTEMS: [u16; 3] = [1, 2, 8];

/// Largest option value recorded for replay.
const MAX_RECORDED: usize = 64;

/// Whether a datagram whose first bytes are `head` goes to the daemon.
pub fn for_daemon(head: &[u8]) -> bool {
    match head.get(4..6) {
        Some(t) => DAEMON_SUBSYSTEMS.contains(&(u16::from_ne_bytes([t[0], t[1]]) >> 8)),
        None => false,
    }
}

/// Records a successful `setsockopt` on an undecided socket.
pub fn record_option(sock: &NlSocket, level: i32, name: i32, value: &[u8]) {
    // Values holding pointers (socket filters) cannot be replayed.
    if level == libc::SOL_SOCKET
        && [
            libc::SO_ATTACH_FILTER,
            libc::SO_ATTACH_REUSEPORT_CBPF,
            libc::SO_ATTACH_BPF,
        ]
        .contains(&name)
    {
        return;
    }
    let value = value[..value.len().min(MAX_RECORDED)].to_vec();
    sock.extra
        .lock()
        .recorded
        .push(Recorded::SockOpt { level, name, value });
}

/// Records a successful `bind` on an undecided socket.
pub fn record_bind(sock: &NlSocket, pid: u32, groups: u32) {
    sock.set_bound();
    sock.extra
        .lock()
        .recorded
        .push(Recorded::Bind { pid, groups });
}

/// Before the first send on undecided socket `id`: returns true if it is
/// now a daemon connection, false if it stays the kernel's.
pub fn decide(id: SocketId, sock: &'static NlSocket, head: &[u8]) -> SysResult<bool> {
    if !for_daemon(head) {
        for fd in table::fds_of(id) {
            table::detach(fd);
        }
        return Ok(false);
    }
    swap(id, sock)?;
    Ok(true)
}

fn swap(id: SocketId, sock: &'static NlSocket) -> SysResult<()> {
    let fds = table::fds_of(id);
    let Some(&first) = fds.first() else {
        return Err(Errno(libc::EBADF));
    };
    let nonblock = raw::fcntl_get(first, libc::F_GETFL)? & libc::O_NONBLOCK != 0;
    let path = conn::socket_path();
    let w = conn::connect(&path, true).map_err(|f| {
        report::once(&path, f);
        f.errno()
    })?;
    let result = fds.iter().try_for_each(|&fd| {
        let cloexec = raw::fcntl_get(fd, libc::F_GETFD)? & libc::FD_CLOEXEC != 0;
        raw::dup3(w.fd, fd, if cloexec { libc::O_CLOEXEC } else { 0 })
    });
    raw::close(w.fd);
    result?;
    if nonblock {
        let fl = raw::fcntl_get(first, libc::F_GETFL)?;
        raw::fcntl_set(first, libc::F_SETFL, fl | libc::O_NONBLOCK)?;
    }
    let recorded = std::mem::take(&mut sock.extra.lock().recorded);
    sock.set_daemon(w.port, w.cookie);
    replay(sock, first, &recorded);
    Ok(())
}

/// Applies recorded calls to the new connection. They succeeded on the
/// kernel's socket, so failures here are not the program's to see.
fn replay(sock: &NlSocket, fd: Fd, recorded: &[Recorded]) {
    for r in recorded {
        match r {
            Recorded::SockOpt { level, name, value } => {
                let _ = match sockopt::set_route(*level, *name) {
                    sockopt::Route::Emulate => sockopt::set(sock, fd, *level, *name, value),
                    sockopt::Route::Real => crate::sys::app::setsockopt(fd, *level, *name, value),
                };
            }
            Recorded::Bind { pid, groups } => {
                if *pid != 0 && *pid != sock.port() {
                    let t = addr::target(sock);
                    if crate::side::set_option(t, daemon::SOL_OXVS, daemon::OXVS_SO_BIND, *pid)
                        .is_ok()
                    {
                        sock.set_port(*pid);
                    }
                }
                let _ = addr::set_low_groups(sock, *groups);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(ty: u16) -> [u8; 16] {
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&16u32.to_ne_bytes());
        h[4..6].copy_from_slice(&ty.to_ne_bytes());
        h
    }

    #[test]
    fn subsystems() {
        assert!(for_daemon(&head(0x0101)));
        assert!(for_daemon(&head(0x0200)));
        assert!(for_daemon(&head(0x0801)));
        assert!(!for_daemon(&head(0x0a00))); // nftables
        assert!(!for_daemon(&head(0x0302))); // queue
        assert!(!for_daemon(&head(0x0010)));
        assert!(!for_daemon(&[1, 2, 3]));
    }

    #[test]
    fn records_replayable_options_only() {
        let s = NlSocket::new();
        record_option(&s, libc::SOL_SOCKET, libc::SO_RCVBUF, &[0; 4]);
        record_option(&s, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &[0; 16]);
        record_option(&s, libc::SOL_NETLINK, 11, &[1; 200]);
        record_bind(&s, 0, 2);
        let r = &s.extra.lock().recorded;
        assert_eq!(r.len(), 3);
        assert!(matches!(&r[1], Recorded::SockOpt { value, .. } if value.len() == MAX_RECORDED));
        assert_eq!(r[2], Recorded::Bind { pid: 0, groups: 2 });
        assert!(s.bound());
    }
}
