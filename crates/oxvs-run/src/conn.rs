//! Opening a connection to the daemon: connect, then read the greeting.

use nl::daemon::{self, Greeting};

use crate::sys::{raw, Errno, Fd, SysResult};

/// Where the daemon listens unless `OXVSD_SOCKET` says otherwise.
pub const DEFAULT_SOCKET: &str = "/run/oxvs/oxvsd.sock";

/// How long to wait for the greeting once connected.
const GREETING_TIMEOUT_MS: u32 = 10_000;

/// The daemon's socket path: `$OXVSD_SOCKET`, else [`DEFAULT_SOCKET`].
pub fn socket_path() -> Vec<u8> {
    crate::sys::getenv(c"OXVSD_SOCKET")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_SOCKET.as_bytes().to_vec())
}

/// An accepted connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Welcome {
    /// The connected socket (`SOCK_SEQPACKET`, blocking).
    pub fd: Fd,
    /// Its netlink port id.
    pub port: u32,
    /// Its cookie.
    pub cookie: u64,
}

/// Why a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Connecting failed with this errno (no daemon, no permission, ...).
    Unreachable(Errno),
    /// The daemon answered with a refusal carrying this errno.
    Refused(Errno),
}

impl Failure {
    /// The errno to report to the program.
    pub fn errno(self) -> Errno {
        match self {
            Failure::Unreachable(e) | Failure::Refused(e) => e,
        }
    }
}

/// Connects to the daemon at `path` and reads its greeting (blocking).
/// The socket is close-on-exec if `cloexec`.
pub fn connect(path: &[u8], cloexec: bool) -> Result<Welcome, Failure> {
    let ty = libc::SOCK_SEQPACKET | if cloexec { libc::SOCK_CLOEXEC } else { 0 };
    let fd = raw::socket(libc::AF_UNIX, ty, 0).map_err(Failure::Unreachable)?;
    match greet(fd, path) {
        Ok(w) => Ok(w),
        Err(f) => {
            raw::close(fd);
            Err(f)
        }
    }
}

fn greet(fd: Fd, path: &[u8]) -> Result<Welcome, Failure> {
    raw::connect_unix(fd, path).map_err(Failure::Unreachable)?;
    let mut buf = [0u8; 64];
    let n = recv_timeout(fd, &mut buf, GREETING_TIMEOUT_MS).map_err(Failure::Unreachable)?;
    match daemon::parse_greeting(&buf[..n.min(buf.len())]) {
        Some(Greeting::Welcome { pid, cookie }) => Ok(Welcome {
            fd,
            port: pid,
            cookie,
        }),
        Some(Greeting::Refused(e)) if e > 0 => Err(Failure::Refused(Errno(e))),
        _ => Err(Failure::Unreachable(Errno(libc::EPROTO))),
    }
}

/// Receives one datagram, waiting at most `timeout_ms` for it (`ETIMEDOUT`
/// then); end of file is `ECONNRESET`.
pub fn recv_timeout(fd: Fd, buf: &mut [u8], timeout_ms: u32) -> SysResult<usize> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(timeout_ms.into());
    loop {
        match raw::recv(fd, buf, libc::MSG_DONTWAIT | libc::MSG_TRUNC) {
            Ok(0) => return Err(Errno(libc::ECONNRESET)),
            Ok(n) => return Ok(n),
            Err(Errno(libc::EAGAIN)) | Err(Errno(libc::EINTR)) => {}
            Err(e) => return Err(e),
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(Errno(libc::ETIMEDOUT));
        }
        match raw::poll(
            fd,
            libc::POLLIN,
            left.as_millis().min(u32::MAX as u128) as u32,
        ) {
            Ok(_) | Err(Errno(libc::EINTR)) => {}
            Err(e) => return Err(e),
        }
    }
}
