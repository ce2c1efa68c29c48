//! Addresses of emulated sockets: `bind`, `connect`, `getsockname`,
//! `getpeername`, with the kernel's `netlink_bind`/`netlink_connect`/
//! `netlink_getname` rules.

use nl::daemon;

use crate::side::{self, Target};
use crate::socket::NlSocket;
use crate::sys::{raw, Errno, SysResult};

/// `sizeof(struct sockaddr_nl)`.
pub const SOCKADDR_NL_LEN: usize = 12;

/// A `struct sockaddr_nl` in memory order.
pub fn sockaddr_nl(pid: u32, groups: u32) -> [u8; SOCKADDR_NL_LEN] {
    let mut a = [0u8; SOCKADDR_NL_LEN];
    a[0..2].copy_from_slice(&(libc::AF_NETLINK as u16).to_ne_bytes());
    a[4..8].copy_from_slice(&pid.to_ne_bytes());
    a[8..12].copy_from_slice(&groups.to_ne_bytes());
    a
}

/// The address family of a caller's address (its first two bytes).
pub fn family(addr: &[u8]) -> Option<u16> {
    addr.get(..2).map(|b| u16::from_ne_bytes([b[0], b[1]]))
}

/// Reads a `sockaddr_nl` given with length `len` (`EINVAL` if too short
/// or not `AF_NETLINK`); returns `(nl_pid, nl_groups)`.
pub fn parse_nl(addr: &[u8], len: usize) -> SysResult<(u32, u32)> {
    if len < SOCKADDR_NL_LEN || addr.len() < SOCKADDR_NL_LEN {
        return Err(Errno(libc::EINVAL));
    }
    if family(addr) != Some(libc::AF_NETLINK as u16) {
        return Err(Errno(libc::EINVAL));
    }
    let pid = u32::from_ne_bytes([addr[4], addr[5], addr[6], addr[7]]);
    let groups = u32::from_ne_bytes([addr[8], addr[9], addr[10], addr[11]]);
    Ok((pid, groups))
}

/// The socket's name for the daemon's socket options.
pub fn target(sock: &NlSocket) -> Target {
    Target {
        port: sock.port(),
        cookie: sock.cookie(),
    }
}

/// `bind()`: a non-zero `nl_pid` renames the port (`EADDRINUSE` if taken,
/// `EINVAL` if the socket already has another); `nl_groups` becomes the
/// membership of groups 1..=32.
pub fn bind(sock: &NlSocket, addr: &[u8], len: usize) -> SysResult<()> {
    let (pid, groups) = parse_nl(addr, len)?;
    if sock.bound() {
        if pid != sock.port() {
            return Err(Errno(libc::EINVAL));
        }
    } else if pid != 0 && pid != sock.port() {
        side::set_option(target(sock), daemon::SOL_OXVS, daemon::OXVS_SO_BIND, pid)?;
        sock.set_port(pid);
    }
    sock.set_bound();
    set_low_groups(sock, groups)
}

/// Makes groups 1..=32 exactly those of mask `groups`, as `bind` does.
pub fn set_low_groups(sock: &NlSocket, groups: u32) -> SysResult<()> {
    if groups == 0 && sock.low_groups() == 0 {
        return Ok(());
    }
    for g in 1..=32u32 {
        let want = groups & (1 << (g - 1)) != 0;
        if want != sock.in_group(g) {
            let name = if want {
                daemon::NETLINK_ADD_MEMBERSHIP
            } else {
                daemon::NETLINK_DROP_MEMBERSHIP
            };
            side::set_option(target(sock), daemon::SOL_NETLINK, name, g)?;
            sock.set_group(g, want);
        }
    }
    Ok(())
}

/// `connect()`: remembers the destination; `AF_UNSPEC` disconnects.
/// Only the kernel (port 0) can be reached.
pub fn connect(sock: &NlSocket, addr: &[u8], len: usize) -> SysResult<()> {
    if len < 2 {
        return Err(Errno(libc::EINVAL));
    }
    if family(addr) == Some(libc::AF_UNSPEC as u16) {
        sock.set_destination(0, 0);
        return Ok(());
    }
    let (pid, groups) = parse_nl(addr, len)?;
    if (pid != 0 || groups != 0) && raw::geteuid() != 0 {
        // netlink_connect: NL_CFG_F_NONROOT_SEND is not set for generic
        // netlink (an approximation of the CAP_NET_ADMIN check).
        return Err(Errno(libc::EPERM));
    }
    sock.set_bound();
    sock.set_destination(pid, groups.trailing_zeros().wrapping_add(1) % 33);
    Ok(())
}

/// `getsockname()`: the port id once bound (0 before, as the kernel), and
/// groups 1..=32.
pub fn name(sock: &NlSocket) -> [u8; SOCKADDR_NL_LEN] {
    let pid = if sock.bound() { sock.port() } else { 0 };
    sockaddr_nl(pid, sock.low_groups())
}

/// `getpeername()`: the `connect()` destination.
pub fn peer(sock: &NlSocket) -> [u8; SOCKADDR_NL_LEN] {
    let (port, group) = sock.destination();
    let mask = if (1..=32).contains(&group) {
        1u32 << (group - 1)
    } else {
        0
    };
    sockaddr_nl(port, mask)
}

/// Checks a send's destination (`None`: the connected one). The daemon
/// plays the kernel only: another port id or a group cannot be reached.
pub fn check_destination(sock: &NlSocket, dest: Option<(&[u8], usize)>) -> SysResult<()> {
    let (pid, groups) = match dest {
        Some((addr, len)) => parse_nl(addr, len)?,
        None => {
            let (port, group) = sock.destination();
            (port, group)
        }
    };
    if pid == 0 && groups == 0 {
        return Ok(());
    }
    if raw::geteuid() != 0 {
        // netlink_sendmsg without NL_CFG_F_NONROOT_SEND.
        return Err(Errno(libc::EPERM));
    }
    Err(Errno(libc::ECONNREFUSED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockaddr_layout_and_parse() {
        let a = sockaddr_nl(0x01020304, 0x10);
        assert_eq!(a.len(), 12);
        assert_eq!(parse_nl(&a, 12), Ok((0x01020304, 0x10)));
        assert_eq!(parse_nl(&a, 11), Err(Errno(libc::EINVAL)));
        let mut b = a;
        b[0] = libc::AF_UNIX as u8;
        assert_eq!(parse_nl(&b, 12), Err(Errno(libc::EINVAL)));
        assert_eq!(parse_nl(&a[..4], 12), Err(Errno(libc::EINVAL)));
    }

    #[test]
    fn unbound_name_is_zero_until_bound() {
        let s = NlSocket::new();
        s.set_daemon(77, 1);
        assert_eq!(parse_nl(&name(&s), 12), Ok((0, 0)));
        connect(&s, &sockaddr_nl(0, 0), 12).unwrap();
        assert_eq!(parse_nl(&name(&s), 12), Ok((77, 0)));
        assert_eq!(parse_nl(&peer(&s), 12), Ok((0, 0)));
        // bound: rebinding to another pid (0 included) is EINVAL, the same is fine.
        assert_eq!(bind(&s, &sockaddr_nl(0, 0), 12), Err(Errno(libc::EINVAL)));
        assert_eq!(bind(&s, &sockaddr_nl(77, 0), 12), Ok(()));
    }

    #[test]
    fn destinations() {
        let s = NlSocket::new();
        s.set_daemon(5, 1);
        assert_eq!(check_destination(&s, None), Ok(()));
        assert_eq!(
            check_destination(&s, Some((&sockaddr_nl(0, 0), 12))),
            Ok(())
        );
        assert_eq!(
            check_destination(&s, Some((&sockaddr_nl(0, 0), 8))),
            Err(Errno(libc::EINVAL))
        );
        assert!(check_destination(&s, Some((&sockaddr_nl(9, 0), 12))).is_err());
        assert_eq!(connect(&s, &[0, 0], 2), Ok(()));
    }
}
