//! The side connection: the library's own connection to the daemon, one per
//! process, on which it sets the options of the program's sockets.
//!
//! `setsockopt` is synchronous (once `NETLINK_ADD_MEMBERSHIP` returns, the
//! socket receives the group), while the socket's own queue may hold
//! notifications and upcalls the program has not read, so the library does
//! not wait for an ack there: it sends `OXVS_CTRL_CMD_SOCKOPT` on this
//! connection, naming the socket by port id and cookie, and waits for the
//! ack here. Calls are serialised by a lock. A process forked from one that
//! had the connection opens its own on first use (the inherited descriptor
//! is the parent's conversation).

use core::sync::atomic::{AtomicI32, Ordering};

use nl::daemon;

use crate::conn;
use crate::sys::{raw, Errno, Fd, SpinLock, SysResult};

/// How long to wait for the daemon's ack.
const ACK_TIMEOUT_MS: u32 = 10_000;

const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const GENL_ID_CTRL: u16 = 0x10;

/// The socket an option is for, as the daemon names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    /// Port id.
    pub port: u32,
    /// Cookie from the greeting.
    pub cookie: u64,
}

struct Side {
    fd: Fd,
    pid: u32,
    port: u32,
    seq: u32,
}

impl Default for Side {
    fn default() -> Self {
        Side {
            fd: -1,
            pid: 0,
            port: 0,
            seq: 0,
        }
    }
}

static SIDE: SpinLock<Side> = SpinLock::new(Side {
    fd: -1,
    pid: 0,
    port: 0,
    seq: 0,
});
/// The side connection's descriptor, readable without the lock by the
/// `close`/`dup2` hooks (-1: none).
static SIDE_FD: AtomicI32 = AtomicI32::new(-1);

/// Whether `fd` is this process's side connection.
pub fn is_side_fd(fd: Fd) -> bool {
    fd >= 0 && SIDE_FD.load(Ordering::Relaxed) == fd
}

/// The program is closing (or reusing) the side connection's descriptor:
/// forget it, and open a new connection when one is needed.
pub fn lost(fd: Fd) {
    if SIDE_FD
        .compare_exchange(fd, -1, Ordering::AcqRel, Ordering::Relaxed)
        .is_ok()
    {
        let mut side = SIDE.lock();
        if side.fd == fd {
            side.fd = -1;
        }
    }
}

/// Sets option `level`/`name` to `value` on socket `target`, waiting for
/// the daemon's ack.
///
/// # Errors
/// - the daemon's errno for the option (`ENOENT`: no such socket, ...);
/// - the connection's errno if the daemon cannot be reached (reported once
///   on standard error), `ETIMEDOUT` if it does not answer.
pub fn set_option(target: Target, level: u32, name: u32, value: u32) -> SysResult<()> {
    let mut side = SIDE.lock();
    let me = raw::getpid();
    if side.fd >= 0 && side.pid != me {
        // Inherited from the parent: not ours to talk on.
        if SIDE_FD
            .compare_exchange(side.fd, -1, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            raw::close(side.fd);
        }
        side.fd = -1;
    }
    if side.fd < 0 {
        let path = conn::socket_path();
        let w = conn::connect(&path, true).map_err(|f| {
            crate::report::once(&path, f);
            f.errno()
        })?;
        *side = Side {
            fd: w.fd,
            pid: me,
            port: w.port,
            seq: 0,
        };
        SIDE_FD.store(w.fd, Ordering::Release);
    }
    side.seq = side.seq.wrapping_add(1);
    let req = request(side.seq, side.port, target, level, name, value);
    let result =
        raw::send(side.fd, &req, libc::MSG_NOSIGNAL).and_then(|_| wait_ack(side.fd, side.seq));
    match result {
        Ok(code) => code,
        Err(e) => {
            // The conversation is lost; start a new one next time.
            SIDE_FD.store(-1, Ordering::Release);
            raw::close(side.fd);
            side.fd = -1;
            Err(e)
        }
    }
}

/// Builds the `OXVS_CTRL_CMD_SOCKOPT` request.
pub fn request(seq: u32, pid: u32, target: Target, level: u32, name: u32, value: u32) -> Vec<u8> {
    let mut w = nl::Writer::new();
    w.put_u32(daemon::SOCKOPT_ATTR_PORT, target.port);
    w.put_u64(daemon::SOCKOPT_ATTR_COOKIE, target.cookie);
    w.put_u32(daemon::SOCKOPT_ATTR_LEVEL, level);
    w.put_u32(daemon::SOCKOPT_ATTR_NAME, name);
    w.put_u32(daemon::SOCKOPT_ATTR_VALUE, value);
    let attrs = w.into_bytes();
    let len = 16 + 4 + attrs.len();
    let mut m = Vec::with_capacity(len);
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&GENL_ID_CTRL.to_ne_bytes());
    m.extend_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&pid.to_ne_bytes());
    m.extend_from_slice(&[daemon::OXVS_CTRL_CMD_SOCKOPT, 1, 0, 0]);
    m.extend_from_slice(&attrs);
    m
}

/// Waits for the `NLMSG_ERROR` answering `seq`; its code is the result.
fn wait_ack(fd: Fd, seq: u32) -> SysResult<SysResult<()>> {
    let mut buf = vec![0u8; 8192];
    let deadline =
        std::time::Instant::now() + std::time::Duration::from_millis(ACK_TIMEOUT_MS.into());
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(Errno(libc::ETIMEDOUT));
        }
        let n = conn::recv_timeout(fd, &mut buf, left.as_millis().min(u32::MAX as u128) as u32)?;
        if let Some(code) = ack_code(&buf[..n.min(buf.len())], seq) {
            return Ok(if code == 0 { Ok(()) } else { Err(Errno(code)) });
        }
    }
}

/// The positive errno (0: ack) of the `NLMSG_ERROR` for `seq` in a
/// datagram, if there is one.
pub fn ack_code(datagram: &[u8], seq: u32) -> Option<i32> {
    let mut rest = datagram;
    while rest.len() >= 16 {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len < 16 || len > rest.len() {
            return None;
        }
        let ty = u16::from_ne_bytes([rest[4], rest[5]]);
        let s = u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]);
        if ty == NLMSG_ERROR && s == seq && len >= 20 {
            let e = i32::from_ne_bytes([rest[16], rest[17], rest[18], rest[19]]);
            return Some(e.checked_neg().filter(|&e| e >= 0).unwrap_or(libc::EPROTO));
        }
        rest = rest.get(nl::align(len)..).unwrap_or(&[]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let t = Target {
            port: 0x1234,
            cookie: 0xdead_beef_0102_0304,
        };
        let m = request(7, 99, t, 270, 1, 5);
        assert_eq!(
            u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize,
            m.len()
        );
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), 0x10);
        assert_eq!(u16::from_ne_bytes([m[6], m[7]]), 0x5);
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 7);
        assert_eq!(m[16], daemon::OXVS_CTRL_CMD_SOCKOPT);
        let attrs: Vec<_> = nl::AttrIter::new(&m[20..])
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(attrs.len(), 5);
        assert_eq!(attrs[0].u32(), Some(0x1234));
        assert_eq!(attrs[1].u64(), Some(0xdead_beef_0102_0304));
        assert_eq!(
            (attrs[2].u32(), attrs[3].u32(), attrs[4].u32()),
            (Some(270), Some(1), Some(5))
        );
    }

    fn err_msg(seq: u32, code: i32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&36u32.to_ne_bytes());
        m.extend_from_slice(&2u16.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&code.to_ne_bytes());
        m.extend_from_slice(&[0; 16]);
        m
    }

    #[test]
    fn ack_codes() {
        assert_eq!(ack_code(&err_msg(3, 0), 3), Some(0));
        assert_eq!(ack_code(&err_msg(3, -98), 3), Some(98));
        assert_eq!(ack_code(&err_msg(3, 0), 4), None);
        let mut two = err_msg(1, 0);
        two.extend_from_slice(&err_msg(4, -2));
        assert_eq!(ack_code(&two, 4), Some(2));
        // Malformed lengths end the walk instead of panicking.
        let mut bad = err_msg(4, 0);
        bad[0] = 200;
        assert_eq!(ack_code(&bad, 4), None);
        assert_eq!(ack_code(&bad[..10], 4), None);
        assert_eq!(ack_code(&err_msg(5, 7), 5), Some(libc::EPROTO));
    }
}
