//! `setsockopt`/`getsockopt` on emulated sockets, with the kernel's
//! `netlink_setsockopt`/`netlink_getsockopt` rules for `SOL_NETLINK`.
//!
//! - Memberships and the options the daemon must know (`NO_ENOBUFS`,
//!   `EXT_ACK`, `CAP_ACK`) go to the daemon through the side connection,
//!   synchronously, and are recorded here.
//! - The other `SOL_NETLINK` options are recorded and reported back.
//! - `SO_RCVBUF`/`SO_RCVBUFFORCE` are applied to the Unix socket, so the
//!   permission checks and the doubled value are the kernel's generic ones,
//!   and the resulting `sk_rcvbuf` is given to the daemon.
//! - `SO_TYPE`, `SO_DOMAIN`, `SO_PROTOCOL` answer as a netlink socket; every
//!   other `SOL_SOCKET` option is the Unix socket's.

use nl::daemon;

use crate::addr::target;
use crate::side;
use crate::socket::{opt, NlSocket, MAX_GROUPS};
use crate::sys::{app, Errno, Fd, SysResult};

const NETLINK_ADD_MEMBERSHIP: i32 = 1;
const NETLINK_DROP_MEMBERSHIP: i32 = 2;
const NETLINK_RX_RING: i32 = 6;
const NETLINK_TX_RING: i32 = 7;
const NETLINK_LIST_MEMBERSHIPS: i32 = 9;
/// How many unknown `SOL_NETLINK` options a socket remembers.
const MAX_OTHER_OPTIONS: usize = 32;

/// Who handles an option call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The Unix socket, unchanged.
    Real,
    /// This module.
    Emulate,
}

/// Who handles `setsockopt(level, name)`.
pub fn set_route(level: i32, name: i32) -> Route {
    match (level, name) {
        (libc::SOL_SOCKET, libc::SO_RCVBUF | libc::SO_RCVBUFFORCE) => Route::Emulate,
        (libc::SOL_SOCKET, _) => Route::Real,
        _ => Route::Emulate,
    }
}

/// Who handles `getsockopt(level, name)`.
pub fn get_route(level: i32, name: i32) -> Route {
    match (level, name) {
        (libc::SOL_SOCKET, libc::SO_TYPE | libc::SO_DOMAIN | libc::SO_PROTOCOL) => Route::Emulate,
        (libc::SOL_SOCKET, _) => Route::Real,
        _ => Route::Emulate,
    }
}

/// The `int` a `setsockopt` value gives, as netlink reads it: 0 when
/// shorter than an `int`.
pub fn int_value(val: &[u8]) -> u32 {
    match val.get(..4) {
        Some(b) => u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
        None => 0,
    }
}

/// `setsockopt` on daemon socket `sock` (descriptor `fd`) for a
/// [`Route::Emulate`] option; `val` holds the value's bytes.
pub fn set(sock: &NlSocket, fd: Fd, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
    match level {
        libc::SOL_SOCKET => {
            app::setsockopt(fd, level, name, val)?;
            let rcvbuf = app::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF)?;
            side::set_option(
                target(sock),
                daemon::SOL_SOCKET,
                daemon::SO_RCVBUF,
                rcvbuf as u32,
            )
        }
        libc::SOL_NETLINK => set_netlink(sock, name, int_value(val)),
        _ => Err(Errno(libc::ENOPROTOOPT)),
    }
}

fn set_netlink(sock: &NlSocket, name: i32, v: u32) -> SysResult<()> {
    let bit = name as u32;
    match name {
        NETLINK_ADD_MEMBERSHIP | NETLINK_DROP_MEMBERSHIP => {
            if v == 0 {
                return Err(Errno(libc::EINVAL));
            }
            side::set_option(target(sock), daemon::SOL_NETLINK, bit, v)?;
            sock.set_group(v, name == NETLINK_ADD_MEMBERSHIP);
            Ok(())
        }
        _ if [opt::NO_ENOBUFS, opt::EXT_ACK, opt::CAP_ACK].contains(&bit) => {
            side::set_option(target(sock), daemon::SOL_NETLINK, bit, (v != 0) as u32)?;
            sock.set_option(bit, v != 0);
            Ok(())
        }
        _ if [
            opt::PKTINFO,
            opt::BROADCAST_ERROR,
            opt::LISTEN_ALL_NSID,
            opt::GET_STRICT_CHK,
        ]
        .contains(&bit) =>
        {
            sock.set_option(bit, v != 0);
            Ok(())
        }
        NETLINK_RX_RING | NETLINK_TX_RING | NETLINK_LIST_MEMBERSHIPS => {
            Err(Errno(libc::ENOPROTOOPT))
        }
        _ => {
            // An option this library does not know (a newer kernel's):
            // kept and reported back, so a program probing for it goes on.
            let mut extra = sock.extra.lock();
            if let Some(e) = extra.other_options.iter_mut().find(|e| e.0 == name) {
                e.1 = v;
            } else if extra.other_options.len() < MAX_OTHER_OPTIONS {
                extra.other_options.push((name, v));
            } else {
                return Err(Errno(libc::ENOPROTOOPT));
            }
            Ok(())
        }
    }
}

/// What a `getsockopt` returns: the bytes to copy (at most the caller's
/// room) and the length to report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptOut {
    /// Value bytes.
    pub bytes: Vec<u8>,
    /// Length reported in `*optlen`.
    pub len: usize,
}

/// `getsockopt` on daemon socket `sock` for a [`Route::Emulate`] option,
/// with `room` bytes at the caller's `optval`.
pub fn get(sock: &NlSocket, level: i32, name: i32, room: usize) -> SysResult<OptOut> {
    match level {
        libc::SOL_SOCKET => {
            let v = match name {
                libc::SO_TYPE => sock.sock_type(),
                libc::SO_DOMAIN => libc::AF_NETLINK,
                libc::SO_PROTOCOL => sock.protocol(),
                _ => return Err(Errno(libc::ENOPROTOOPT)),
            };
            // sock_getsockopt: an int, cut to the room given.
            let len = room.min(4);
            Ok(OptOut {
                bytes: v.to_ne_bytes()[..len].to_vec(),
                len,
            })
        }
        libc::SOL_NETLINK => get_netlink(sock, name, room),
        _ => Err(Errno(libc::ENOPROTOOPT)),
    }
}

fn get_netlink(sock: &NlSocket, name: i32, room: usize) -> SysResult<OptOut> {
    let bit = name as u32;
    let int = |v: u32| {
        if room < 4 {
            Err(Errno(libc::EINVAL))
        } else {
            Ok(OptOut {
                bytes: v.to_ne_bytes().to_vec(),
                len: 4,
            })
        }
    };
    match name {
        NETLINK_LIST_MEMBERSHIPS => {
            // netlink_getsockopt: whole u32 words while they fit, and the
            // bitmap's full size in *optlen.
            let ngroups = if sock.groups_used() {
                MAX_GROUPS as usize
            } else {
                0
            };
            let size = ngroups.div_ceil(8).next_multiple_of(4);
            let words = sock.group_words();
            let mut bytes = Vec::new();
            for w in words.iter().take(size / 4) {
                if room - bytes.len() < 4 {
                    break;
                }
                bytes.extend_from_slice(&w.to_ne_bytes());
            }
            Ok(OptOut { bytes, len: size })
        }
        _ if [
            opt::PKTINFO,
            opt::BROADCAST_ERROR,
            opt::NO_ENOBUFS,
            opt::LISTEN_ALL_NSID,
            opt::CAP_ACK,
            opt::EXT_ACK,
            opt::GET_STRICT_CHK,
        ]
        .contains(&bit) =>
        {
            int(sock.option(bit) as u32)
        }
        _ => {
            let stored = sock
                .extra
                .lock()
                .other_options
                .iter()
                .find(|e| e.0 == name)
                .map(|e| e.1);
            match stored {
                Some(v) => int(v),
                None => Err(Errno(libc::ENOPROTOOPT)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sock() -> NlSocket {
        let s = NlSocket::new();
        s.set_identity(libc::NETLINK_GENERIC, libc::SOCK_RAW);
        s.set_daemon(1, 2);
        s
    }

    #[test]
    fn local_options_round_trip_silently() {
        let s = sock();
        for name in [3, 4, 8, 12] {
            set(&s, -1, libc::SOL_NETLINK, name, &1i32.to_ne_bytes()).unwrap();
            let out = get(&s, libc::SOL_NETLINK, name, 4).unwrap();
            assert_eq!(
                out,
                OptOut {
                    bytes: 1i32.to_ne_bytes().to_vec(),
                    len: 4
                }
            );
        }
        // Short values read as 0, as netlink reads them.
        set(&s, -1, libc::SOL_NETLINK, 3, &[1]).unwrap();
        assert_eq!(
            get(&s, libc::SOL_NETLINK, 3, 8).unwrap().bytes,
            0i32.to_ne_bytes()
        );
        assert_eq!(get(&s, libc::SOL_NETLINK, 3, 3), Err(Errno(libc::EINVAL)));
    }

    #[test]
    fn unknown_options_are_kept() {
        let s = sock();
        assert_eq!(
            get(&s, libc::SOL_NETLINK, 77, 4),
            Err(Errno(libc::ENOPROTOOPT))
        );
        set(&s, -1, libc::SOL_NETLINK, 77, &9i32.to_ne_bytes()).unwrap();
        assert_eq!(
            get(&s, libc::SOL_NETLINK, 77, 4).unwrap().bytes,
            9i32.to_ne_bytes()
        );
        assert_eq!(
            set(&s, -1, libc::SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, &[0; 4]),
            Err(Errno(libc::ENOPROTOOPT))
        );
        assert_eq!(
            set(&s, -1, libc::SOL_IP, 1, &[0; 4]),
            Err(Errno(libc::ENOPROTOOPT))
        );
    }

    #[test]
    fn socket_identity() {
        let s = sock();
        assert_eq!(
            get(&s, libc::SOL_SOCKET, libc::SO_DOMAIN, 4).unwrap().bytes,
            16i32.to_ne_bytes()
        );
        assert_eq!(
            get(&s, libc::SOL_SOCKET, libc::SO_TYPE, 4).unwrap().bytes,
            3i32.to_ne_bytes()
        );
        assert_eq!(
            get(&s, libc::SOL_SOCKET, libc::SO_PROTOCOL, 2).unwrap().len,
            2
        );
        assert_eq!(get_route(libc::SOL_SOCKET, libc::SO_RCVBUF), Route::Real);
        assert_eq!(
            set_route(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE),
            Route::Emulate
        );
    }

    #[test]
    fn memberships_list() {
        let s = sock();
        let empty = get(&s, libc::SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 64).unwrap();
        assert_eq!(
            empty,
            OptOut {
                bytes: vec![],
                len: 0
            }
        );
        s.set_group(3, true);
        s.set_group(40, true);
        let out = get(&s, libc::SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 9).unwrap();
        assert_eq!(out.len, 128);
        assert_eq!(out.bytes.len(), 8);
        assert_eq!(out.bytes[0], 0b100);
        assert_eq!(out.bytes[4], 0b1000_0000);
        assert_eq!(
            set(&s, -1, libc::SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &[0; 4]),
            Err(Errno(libc::EINVAL))
        );
    }
}
