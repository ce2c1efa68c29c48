//! Creating, duplicating and closing sockets: keeping the table in step
//! with the process's descriptors, so that a reused descriptor number is
//! never taken for a netlink socket.

use crate::conn;
use crate::report;
use crate::side;
use crate::sys::{raw, Errno, Fd, SysResult};
use crate::table;

/// What `socket()` does with its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// A socket of another kind: libc's `socket`.
    Pass,
    /// A `NETLINK_GENERIC` socket: a daemon connection.
    Daemon,
    /// A `NETLINK_NETFILTER` socket: the kernel's, undecided.
    Netfilter,
}

const TYPE_FLAGS: i32 = libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;

/// Decides what `socket(domain, ty, protocol)` is.
pub fn plan(domain: i32, ty: i32, protocol: i32) -> Plan {
    let base = ty & !TYPE_FLAGS;
    if domain != libc::AF_NETLINK || (base != libc::SOCK_RAW && base != libc::SOCK_DGRAM) {
        return Plan::Pass;
    }
    match protocol {
        libc::NETLINK_GENERIC => Plan::Daemon,
        libc::NETLINK_NETFILTER => Plan::Netfilter,
        _ => Plan::Pass,
    }
}

/// Creates a daemon connection playing `socket(AF_NETLINK, ty, protocol)`.
///
/// # Errors
/// The connection's errno (reported once on standard error), or `EMFILE`
/// when the library's socket table is full.
pub fn create_daemon(ty: i32, protocol: i32) -> SysResult<Fd> {
    let path = conn::socket_path();
    let w = conn::connect(&path, ty & libc::SOCK_CLOEXEC != 0).map_err(|f| {
        report::once(&path, f);
        f.errno()
    })?;
    let setup = || -> SysResult<()> {
        if ty & libc::SOCK_NONBLOCK != 0 {
            let fl = raw::fcntl_get(w.fd, libc::F_GETFL)?;
            raw::fcntl_set(w.fd, libc::F_SETFL, fl | libc::O_NONBLOCK)?;
        }
        let (id, s) = table::alloc().ok_or(Errno(libc::EMFILE))?;
        s.set_identity(protocol, ty & !TYPE_FLAGS);
        s.set_daemon(w.port, w.cookie);
        table::attach(w.fd, id);
        Ok(())
    };
    match setup() {
        Ok(()) => Ok(w.fd),
        Err(e) => {
            raw::close(w.fd);
            Err(e)
        }
    }
}

/// Registers kernel socket `fd` from `socket(AF_NETLINK, ty,
/// NETLINK_NETFILTER)` as undecided. Without room in the table it simply
/// stays the kernel's.
pub fn register_netfilter(fd: Fd, ty: i32, protocol: i32) {
    match table::alloc() {
        Some((id, s)) => {
            s.set_identity(protocol, ty & !TYPE_FLAGS);
            s.set_netfilter_undecided();
            table::attach(fd, id);
        }
        None => table::detach(fd),
    }
}

/// Before `fd` is closed.
pub fn closing(fd: Fd) {
    if side::is_side_fd(fd) {
        side::lost(fd);
    }
    table::detach(fd);
}

/// Before `first..=last` are closed.
pub fn closing_range(first: Fd, last: Fd) {
    let side_fd = (first..=last).find(|&fd| side::is_side_fd(fd));
    if let Some(fd) = side_fd {
        side::lost(fd);
    }
    table::detach_range(first, last);
}

/// After `new` became a duplicate of `old` (`dup`, `dup2`, `dup3`,
/// `F_DUPFD`): it shares `old`'s socket, or is no socket of ours.
pub fn duplicated(old: Fd, new: Fd) {
    if old == new {
        return;
    }
    if side::is_side_fd(new) {
        side::lost(new);
    }
    match table::lookup(old) {
        Some((id, _)) => table::attach(new, id),
        None => table::detach(new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let nl = libc::AF_NETLINK;
        assert_eq!(
            plan(nl, libc::SOCK_RAW, libc::NETLINK_GENERIC),
            Plan::Daemon
        );
        assert_eq!(
            plan(
                nl,
                libc::SOCK_DGRAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                16
            ),
            Plan::Daemon
        );
        assert_eq!(
            plan(nl, libc::SOCK_RAW, libc::NETLINK_NETFILTER),
            Plan::Netfilter
        );
        assert_eq!(plan(nl, libc::SOCK_RAW, libc::NETLINK_ROUTE), Plan::Pass);
        assert_eq!(
            plan(nl, libc::SOCK_SEQPACKET, libc::NETLINK_GENERIC),
            Plan::Pass
        );
        assert_eq!(plan(libc::AF_UNIX, libc::SOCK_RAW, 16), Plan::Pass);
    }
}
