//! A generic netlink socket: transactions with acks, batches, dumps and
//! unsolicited messages (multicast notifications, upcalls), over the
//! kernel's netlink or a connection to `oxvsd` (see [`nl::daemon`]).
//!
//! Messages are framed by [`nl::msg`]; this module adds the request /
//! reply protocol:
//!
//! - every request carries `NLM_F_ACK` (except dumps), so every request gets
//!   exactly one `NLMSG_ERROR` (an ack when its error is 0), preceded by a
//!   data reply for commands that answer;
//! - replies are matched to requests by sequence number; messages with a
//!   sequence number we are not waiting for (left over from an abandoned dump)
//!   are dropped;
//! - a dump runs until `NLMSG_DONE`; abandoning one drains it before the
//!   socket's next request, since the kernel runs one dump per socket at a time;
//! - extended acks are on (`NETLINK_EXT_ACK`) and requests are not echoed back
//!   in errors (`NETLINK_CAP_ACK`), so an error carries the kernel's message.
//!
//! Both transports carry datagrams of whole messages, so everything past
//! the socket itself is shared.

use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::time::Duration;

use netlink_sys::{protocols::NETLINK_GENERIC, Socket as RawSocket, SocketAddr};
use nl::daemon;
use nl::msg::{Messages, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};

use crate::abi::*;
use crate::error::{errno, Error, Result};

/// Bytes of the receive buffer: one datagram (a dump batch, an upcall with a
/// 64 KiB packet and its key) must fit.
const RX_BUF: usize = 128 * 1024;

/// Requests sent in one `send`: bounded so that their replies cannot overflow
/// the socket's receive queue.
const BATCH_MAX_MSGS: usize = 64;
const BATCH_MAX_BYTES: usize = 48 * 1024;

/// A request being built: headers first, then attributes through
/// [`MsgBuilder::attrs`].
#[derive(Debug)]
pub struct MsgBuilder {
    m: nl::msg::MsgBuilder,
}

impl MsgBuilder {
    /// A generic netlink request of family `family` with `flags`
    /// (`NLM_F_REQUEST` is added).
    pub fn new(family: u16, flags: u16, cmd: u8, version: u8) -> MsgBuilder {
        MsgBuilder {
            m: nl::msg::MsgBuilder::genl(family, flags | NLM_F_REQUEST, cmd, version),
        }
    }

    /// A request of an openvswitch family: the generic header is followed by
    /// `struct ovs_header` with `dp_ifindex`.
    pub fn ovs(family: u16, flags: u16, cmd: u8, version: u8, dp_ifindex: i32) -> MsgBuilder {
        let mut m = MsgBuilder::new(family, flags, cmd, version);
        m.m.header_bytes(&dp_ifindex.to_ne_bytes());
        m
    }

    /// The attribute writer.
    pub fn attrs(&mut self) -> &mut nl::Writer {
        self.m.attrs()
    }

    /// The finished request.
    ///
    /// # Errors
    /// `EMSGSIZE` if an attribute overflowed its 16-bit length.
    pub fn finish(self) -> Result<Request> {
        let bytes = self
            .m
            .finish()
            .map_err(|_| Error::with_msg(errno::EMSGSIZE, "netlink attribute too long"))?;
        Ok(Request { bytes })
    }
}

/// A framed request, ready to send.
#[derive(Debug, Clone)]
pub struct Request {
    bytes: Vec<u8>,
}

impl Request {
    /// The whole message, headers included.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn flags(&self) -> u16 {
        u16::from_ne_bytes([self.bytes[6], self.bytes[7]])
    }

    fn set_flags(&mut self, flags: u16) {
        nl::msg::set_flags(&mut self.bytes, flags);
    }

    fn set_seq(&mut self, seq: u32) {
        nl::msg::set_seq(&mut self.bytes, seq);
    }
}

/// A generic netlink message received: its headers and the bytes after the
/// generic header (for the openvswitch families: `ovs_header`, then
/// attributes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// `nlmsg_type`: the family id.
    pub family: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `genlmsghdr.cmd`.
    pub cmd: u8,
    /// `genlmsghdr.version`.
    pub version: u8,
    /// Everything after the generic header.
    pub payload: Vec<u8>,
}

impl Msg {
    /// Splits an openvswitch message body into `dp_ifindex` and attributes.
    ///
    /// # Errors
    /// `EPROTO` if the body is shorter than `struct ovs_header`.
    pub fn ovs_body(&self) -> Result<(i32, &[u8])> {
        if self.payload.len() < OVS_HEADER_LEN {
            return Err(Error::proto("message shorter than ovs_header"));
        }
        let (h, rest) = self.payload.split_at(OVS_HEADER_LEN);
        Ok((i32::from_ne_bytes([h[0], h[1], h[2], h[3]]), rest))
    }
}

/// One message of a received datagram, classified.
#[derive(Debug)]
enum Rx {
    /// A data message.
    Data(Msg),
    /// `NLMSG_ERROR`: an ack (`None`) or an error, for request `seq`.
    Ack { seq: u32, err: Option<Error> },
    /// `NLMSG_DONE`: the end of dump `seq`, maybe with an error.
    Done { seq: u32, err: Option<Error> },
}

fn status(flags: u16, body: &[u8]) -> Result<Option<Error>> {
    let (code, text) = nl::msg::parse_error(flags, body)
        .map_err(|_| Error::proto("NLMSG_ERROR/NLMSG_DONE without a status"))?;
    Ok((code != 0).then(|| match text {
        Some(m) => Error::with_msg(code, m),
        None => Error::new(code),
    }))
}

/// Splits a datagram into messages.
fn parse_datagram(buf: &[u8], out: &mut Vec<Rx>) -> Result<()> {
    for m in Messages::new(buf) {
        let m = m.map_err(|e| Error::proto(e.to_string()))?;
        let h = m.header;
        let body = m.payload();
        match h.ty {
            NLMSG_NOOP => {}
            NLMSG_ERROR => out.push(Rx::Ack {
                seq: h.seq,
                err: status(h.flags, body)?,
            }),
            NLMSG_DONE => out.push(Rx::Done {
                seq: h.seq,
                // A kernel may end a dump with no status at all.
                err: if body.len() >= 4 {
                    status(h.flags, body)?
                } else {
                    None
                },
            }),
            NLMSG_OVERRUN => return Err(Error::new(errno::ENOBUFS)),
            _ => {
                let g = nl::genl::GenlHeader::parse(body)
                    .ok_or_else(|| Error::proto("message shorter than genlmsghdr"))?;
                out.push(Rx::Data(Msg {
                    family: h.ty,
                    flags: h.flags,
                    seq: h.seq,
                    cmd: g.cmd,
                    version: g.version,
                    payload: body[GENL_HDRLEN..].to_vec(),
                }));
            }
        }
    }
    Ok(())
}

/// What carries the messages.
#[derive(Debug)]
enum Transport {
    /// A netlink socket to the kernel.
    Netlink(RawSocket),
    /// A `SOCK_SEQPACKET` connection to `oxvsd`.
    Daemon(OwnedFd),
}

/// A dump in progress on a socket.
#[derive(Debug)]
struct DumpState {
    seq: u32,
    done: bool,
}

/// A generic netlink socket (see the module docs).
#[derive(Debug)]
pub struct Socket {
    sock: Transport,
    pid: u32,
    next_seq: u32,
    buf: Vec<u8>,
    rx: VecDeque<Rx>,
    dump: Option<DumpState>,
}

impl Socket {
    /// Opens a `NETLINK_GENERIC` socket bound to a kernel-chosen port id,
    /// with extended acks on.
    ///
    /// # Errors
    /// The errno of `socket()` / `bind()`.
    pub fn new() -> Result<Socket> {
        Socket::with_protocol(NETLINK_GENERIC)
    }

    /// Opens a `NETLINK_NETFILTER` socket (ctnetlink, cttimeout), framed
    /// as a generic netlink one: `struct nfgenmsg` has the size of
    /// `genlmsghdr`, so [`Msg::cmd`] is its address family and
    /// [`Msg::payload`] its attributes.
    ///
    /// # Errors
    /// The errno of `socket()` / `bind()`.
    pub fn new_netfilter() -> Result<Socket> {
        Socket::with_protocol(netlink_sys::protocols::NETLINK_NETFILTER)
    }

    fn with_protocol(protocol: isize) -> Result<Socket> {
        let mut sock = RawSocket::new(protocol)?;
        let addr = sock.bind_auto()?;
        // Best effort: old kernels lack these options; errors then carry no text.
        let _ = sock.set_ext_ack(true);
        let _ = sock.set_cap_ack(true);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(1);
        Ok(Socket {
            sock: Transport::Netlink(sock),
            pid: addr.port_number(),
            next_seq: seed | 1,
            buf: Vec::new(),
            rx: VecDeque::new(),
            dump: None,
        })
    }

    /// Connects to the `oxvsd` daemon listening on `path` (a
    /// `SOCK_SEQPACKET` socket, see [`nl::daemon`]) and reads its greeting,
    /// which gives the connection its port id.
    ///
    /// # Errors
    /// The errno of `connect()`; `EPROTO` if the greeting is missing or
    /// malformed; the daemon's errno if it refused the connection.
    pub fn connect_unix(path: &Path) -> Result<Socket> {
        use rustix::net::{
            connect, recv, socket_with, AddressFamily, RecvFlags, SocketAddrUnix, SocketFlags,
            SocketType,
        };
        let fd = socket_with(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .map_err(io_err)?;
        let addr = SocketAddrUnix::new(path).map_err(io_err)?;
        connect(&fd, &addr).map_err(io_err)?;
        let mut g = [0u8; 64];
        let (n, _) = loop {
            match recv(&fd, &mut g[..], RecvFlags::empty()) {
                Err(rustix::io::Errno::INTR) => continue,
                r => break r.map_err(io_err)?,
            }
        };
        let pid = match daemon::parse_greeting(&g[..n]) {
            Some(daemon::Greeting::Welcome { pid, .. }) => pid,
            Some(daemon::Greeting::Refused(e)) => {
                return Err(Error::with_msg(
                    e,
                    format!("{}: the daemon refused the connection", path.display()),
                ))
            }
            None if n == 0 => {
                return Err(Error::with_msg(
                    errno::ECONNRESET,
                    format!("{}: the daemon closed the connection", path.display()),
                ))
            }
            None => return Err(Error::proto("no greeting from the daemon")),
        };
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(1);
        Ok(Socket {
            sock: Transport::Daemon(fd),
            pid,
            next_seq: seed | 1,
            buf: Vec::new(),
            rx: VecDeque::new(),
            dump: None,
        })
    }

    /// The socket's netlink port id (what upcall PIDs name).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Joins multicast group `group`; once this returns, every later
    /// message of the group reaches this socket.
    ///
    /// # Errors
    /// The errno of `setsockopt`, or the daemon's.
    pub fn join_group(&mut self, group: u32) -> Result<()> {
        match &self.sock {
            Transport::Netlink(s) => Ok(s.add_membership(group)?),
            Transport::Daemon(_) => {
                let m = sockopt(daemon::SOL_NETLINK, daemon::NETLINK_ADD_MEMBERSHIP, group)?;
                self.transact(m).map(drop)
            }
        }
    }

    /// Asks for a receive buffer of `bytes` (best effort; the kernel
    /// doubles it, and so does the daemon's accounting).
    pub fn set_rcvbuf(&mut self, bytes: usize) {
        match &self.sock {
            Transport::Netlink(s) => {
                let _ = s.set_rx_buf_sz(bytes);
            }
            Transport::Daemon(_) => {
                let v = u32::try_from(bytes.saturating_mul(2)).unwrap_or(u32::MAX);
                if let Ok(m) = sockopt(daemon::SOL_SOCKET, daemon::SO_RCVBUF, v) {
                    let _ = self.transact(m);
                }
            }
        }
    }

    fn seq(&mut self) -> u32 {
        let s = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        s
    }

    fn send(&self, bytes: &[u8]) -> Result<()> {
        loop {
            let r = match &self.sock {
                Transport::Netlink(s) => s.send(bytes, 0),
                Transport::Daemon(fd) => {
                    rustix::net::send(fd, bytes, rustix::net::SendFlags::NOSIGNAL).map_err(io_err)
                }
            };
            match r {
                Ok(n) if n == bytes.len() => return Ok(()),
                Ok(_) => return Err(Error::with_msg(errno::EIO, "short netlink send")),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Receives one datagram into the queue. Returns false if `block` is
    /// false and nothing was waiting.
    fn fill(&mut self, block: bool) -> Result<bool> {
        // MSG_TRUNC makes recv report a datagram's real length, so a
        // truncated one is detected.
        let got = loop {
            let r = match &self.sock {
                Transport::Netlink(s) => {
                    self.buf.clear();
                    self.buf.reserve_exact(RX_BUF);
                    s.recv(&mut self.buf, libc_flags(block))
                        .map(|n| (n, self.buf.len()))
                }
                Transport::Daemon(fd) => {
                    self.buf.resize(RX_BUF, 0);
                    let mut flags = rustix::net::RecvFlags::TRUNC;
                    if !block {
                        flags |= rustix::net::RecvFlags::DONTWAIT;
                    }
                    match rustix::net::recv(fd, &mut self.buf[..], flags) {
                        Ok((_, 0)) => {
                            return Err(Error::with_msg(
                                errno::ECONNRESET,
                                "the daemon closed the connection",
                            ))
                        }
                        Ok((got, n)) => Ok((n, got)),
                        Err(e) => Err(io_err(e)),
                    }
                }
            };
            match r {
                Ok((n, got)) if n > got => {
                    return Err(Error::with_msg(
                        errno::EMSGSIZE,
                        "netlink message truncated",
                    ));
                }
                Ok((_, got)) => break got,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !block => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        };
        let mut out = Vec::new();
        parse_datagram(&self.buf[..got], &mut out)?;
        self.rx.extend(out);
        Ok(true)
    }

    fn next_rx(&mut self, block: bool) -> Result<Option<Rx>> {
        loop {
            if let Some(r) = self.rx.pop_front() {
                return Ok(Some(r));
            }
            if !self.fill(block)? {
                return Ok(None);
            }
        }
    }

    /// Reads and drops the rest of an abandoned dump.
    fn finish_dump(&mut self) -> Result<()> {
        while let Some(d) = &self.dump {
            if d.done {
                self.dump = None;
                break;
            }
            let seq = d.seq;
            match self.next_rx(true)? {
                Some(Rx::Done { seq: s, .. })
                | Some(Rx::Ack {
                    seq: s,
                    err: Some(_),
                }) if s == seq => {
                    self.dump = None;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Sends one request and waits for its ack; returns its data reply, if
    /// the command sent one.
    ///
    /// # Errors
    /// The kernel's errno (with its extended-ack message) or a socket error.
    pub fn transact(&mut self, req: Request) -> Result<Option<Msg>> {
        let mut r = self.transact_batch(vec![req]);
        r.pop().unwrap_or_else(|| Err(Error::proto("no reply")))
    }

    /// Sends requests in as few datagrams as possible and returns one result
    /// per request, in order. A failed request does not stop the others.
    pub fn transact_batch(&mut self, reqs: Vec<Request>) -> Vec<Result<Option<Msg>>> {
        let n = reqs.len();
        let mut results: Vec<Option<Result<Option<Msg>>>> = (0..n).map(|_| None).collect();
        if let Err(e) = self.finish_dump() {
            return (0..n).map(|_| Err(e.clone())).collect();
        }
        let mut reqs = reqs.into_iter().enumerate().peekable();
        while reqs.peek().is_some() {
            // One chunk: sequence numbers first..first+k map to indexes.
            let mut chunk = Vec::new();
            let mut idx = Vec::new();
            let first = self.seq();
            while let Some((_, next)) = reqs.peek() {
                let len = next.bytes.len();
                if !idx.is_empty()
                    && (idx.len() >= BATCH_MAX_MSGS || chunk.len() + len > BATCH_MAX_BYTES)
                {
                    break;
                }
                let Some((i, mut r)) = reqs.next() else { break };
                let seq = if idx.is_empty() { first } else { self.seq() };
                r.set_seq(seq);
                let f = r.flags();
                r.set_flags(f | NLM_F_ACK);
                chunk.extend_from_slice(&r.bytes);
                idx.push((seq, i));
            }
            if let Err(e) = self.send(&chunk) {
                for &(_, i) in &idx {
                    results[i] = Some(Err(e.clone()));
                }
                continue;
            }
            let mut replies: Vec<Option<Msg>> = idx.iter().map(|_| None).collect();
            let mut open = idx.len();
            while open > 0 {
                let rx = match self.next_rx(true) {
                    Ok(Some(rx)) => rx,
                    Ok(None) => continue,
                    Err(e) => {
                        for &(_, i) in &idx {
                            if results[i].is_none() {
                                results[i] = Some(Err(e.clone()));
                            }
                        }
                        break;
                    }
                };
                let seq = match &rx {
                    Rx::Data(m) => m.seq,
                    Rx::Ack { seq, .. } | Rx::Done { seq, .. } => *seq,
                };
                let Some(k) = idx.iter().position(|&(s, _)| s == seq) else {
                    continue; // stale: not ours
                };
                let i = idx[k].1;
                if results[i].is_some() {
                    continue;
                }
                match rx {
                    Rx::Data(m) => {
                        if replies[k].is_none() {
                            replies[k] = Some(m);
                        }
                    }
                    Rx::Ack { err: None, .. } | Rx::Done { err: None, .. } => {
                        results[i] = Some(Ok(replies[k].take()));
                        open -= 1;
                    }
                    Rx::Ack { err: Some(e), .. } | Rx::Done { err: Some(e), .. } => {
                        results[i] = Some(Err(e));
                        open -= 1;
                    }
                }
            }
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::proto("no reply"))))
            .collect()
    }

    /// Starts a dump with `req` (`NLM_F_DUMP` is added); read it with
    /// [`Socket::dump_next`].
    ///
    /// # Errors
    /// A socket error.
    pub fn dump_start(&mut self, mut req: Request) -> Result<()> {
        self.finish_dump()?;
        let seq = self.seq();
        req.set_seq(seq);
        let f = req.flags();
        req.set_flags((f | NLM_F_DUMP) & !NLM_F_ACK);
        self.send(&req.bytes)?;
        self.dump = Some(DumpState { seq, done: false });
        Ok(())
    }

    /// The next message of the dump in progress; `None` once it is over.
    ///
    /// # Errors
    /// The kernel's errno if the dump failed (it is then over).
    pub fn dump_next(&mut self) -> Result<Option<Msg>> {
        loop {
            let seq = match &self.dump {
                Some(d) if !d.done => d.seq,
                _ => return Ok(None),
            };
            let rx = match self.next_rx(true) {
                Ok(Some(rx)) => rx,
                Ok(None) => continue,
                Err(e) => {
                    self.dump = None;
                    return Err(e);
                }
            };
            match rx {
                Rx::Data(m) if m.seq == seq => return Ok(Some(m)),
                Rx::Done { seq: s, err } | Rx::Ack { seq: s, err } if s == seq => {
                    self.dump = None;
                    return match err {
                        Some(e) => Err(e),
                        None => Ok(None),
                    };
                }
                _ => {} // stale
            }
        }
    }

    /// Whether a dump started on this socket is still being read.
    pub fn dump_active(&self) -> bool {
        self.dump.as_ref().is_some_and(|d| !d.done)
    }

    /// Takes the next unsolicited message (notification, upcall), without
    /// blocking; `None` when there is none.
    ///
    /// # Errors
    /// `ENOBUFS` when the kernel dropped messages because the socket's queue
    /// was full; other socket errors.
    pub fn recv_unsolicited(&mut self) -> Result<Option<Msg>> {
        loop {
            match self.next_rx(false)? {
                None => return Ok(None),
                Some(Rx::Data(m)) => return Ok(Some(m)),
                Some(_) => {}
            }
        }
    }

    /// Whether messages already received wait in this socket's own queue
    /// (the kernel's queue is not looked at).
    pub fn has_queued(&self) -> bool {
        !self.rx.is_empty()
    }

    /// A duplicate of the socket's descriptor, to poll without holding the
    /// socket (see [`poll_readable`]).
    ///
    /// # Errors
    /// The errno of `dup`.
    pub fn dup_fd(&self) -> Result<std::os::fd::OwnedFd> {
        Ok(self.as_fd().try_clone_to_owned()?)
    }

    /// Whether a message is queued here or in the kernel.
    pub fn has_pending(&self) -> bool {
        !self.rx.is_empty() || self.wait_readable(Some(Duration::ZERO))
    }

    /// Blocks until the socket is readable or `timeout` passes (`None`:
    /// forever); returns whether it is readable.
    pub fn wait_readable(&self, timeout: Option<Duration>) -> bool {
        if !self.rx.is_empty() {
            return true;
        }
        poll_readable(&[self.as_fd()], timeout)
    }

    /// Drops every queued message.
    pub fn purge(&mut self) {
        self.rx.clear();
        while let Ok(true) = self.fill(false) {
            self.rx.clear();
        }
    }

    /// The file descriptor, for polling several sockets at once.
    pub fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match &self.sock {
            Transport::Netlink(s) => s.as_fd(),
            Transport::Daemon(s) => s.as_fd(),
        }
    }

    /// Whether this socket talks to `oxvsd` rather than the kernel.
    pub fn is_daemon(&self) -> bool {
        matches!(self.sock, Transport::Daemon(_))
    }

    /// Sends already-framed bytes as they are (tests of malformed input).
    ///
    /// # Errors
    /// The errno of the write.
    #[doc(hidden)]
    pub fn send_raw(&self, bytes: &[u8]) -> Result<()> {
        self.send(bytes)
    }

    /// Sends a request to a port other than the kernel (used in tests).
    #[doc(hidden)]
    pub fn send_raw_to(&self, bytes: &[u8], pid: u32) -> Result<()> {
        match &self.sock {
            Transport::Netlink(s) => {
                s.send_to(bytes, &SocketAddr::new(pid, 0), 0)?;
                Ok(())
            }
            Transport::Daemon(_) => Err(Error::new(errno::EOPNOTSUPP)),
        }
    }
}

/// An `OXVS_CTRL_CMD_SOCKOPT` request acting on the connection it is sent on.
fn sockopt(level: u32, name: u32, value: u32) -> Result<Request> {
    let mut m = MsgBuilder::new(GENL_ID_CTRL, 0, daemon::OXVS_CTRL_CMD_SOCKOPT, 1);
    m.attrs().put_u32(daemon::SOCKOPT_ATTR_LEVEL, level);
    m.attrs().put_u32(daemon::SOCKOPT_ATTR_NAME, name);
    m.attrs().put_u32(daemon::SOCKOPT_ATTR_VALUE, value);
    m.finish()
}

fn io_err(e: impl Into<std::io::Error>) -> std::io::Error {
    e.into()
}

fn libc_flags(block: bool) -> i32 {
    const MSG_TRUNC: i32 = 0x20;
    const MSG_DONTWAIT: i32 = 0x40;
    if block {
        MSG_TRUNC
    } else {
        MSG_TRUNC | MSG_DONTWAIT
    }
}

/// Polls `fds` for input; returns whether any is readable before `timeout`.
pub fn poll_readable(fds: &[std::os::fd::BorrowedFd<'_>], timeout: Option<Duration>) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let mut pfds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(fd, PollFlags::IN))
        .collect();
    let ts = timeout.map(|d| Timespec {
        tv_sec: d.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    });
    loop {
        match poll(&mut pfds, ts.as_ref()) {
            Ok(n) => return n > 0,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_frames_headers_and_length() {
        let mut m = MsgBuilder::ovs(0x22, NLM_F_ECHO, 3, 1, 7);
        m.attrs().put_u32(1, 5);
        let r = m.finish().unwrap();
        let b = r.as_bytes();
        assert_eq!(b.len(), 16 + 4 + 4 + 8);
        let h = nl::msg::Header::parse(b).unwrap();
        assert_eq!(
            (h.len, h.ty, h.flags),
            (32, 0x22, NLM_F_ECHO | NLM_F_REQUEST)
        );
        assert_eq!(&b[16..20], &[3, 1, 0, 0]);
        assert_eq!(&b[20..24], &7i32.to_ne_bytes());
        assert_eq!(&b[24..], &[8, 0, 1, 0, 5, 0, 0, 0]);
    }

    fn error_msg(code: i32, flags: u16, tlvs: &[u8]) -> Vec<u8> {
        let mut b = Vec::new();
        let len = 16 + 4 + 16 + tlvs.len();
        b.extend_from_slice(&(len as u32).to_ne_bytes());
        b.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        b.extend_from_slice(&flags.to_ne_bytes());
        b.extend_from_slice(&9u32.to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes());
        b.extend_from_slice(&code.to_ne_bytes());
        // The echoed request header (capped: header only).
        b.extend_from_slice(&[24, 0, 0, 0, 0x22, 0, 5, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
        b.extend_from_slice(tlvs);
        b
    }

    #[test]
    fn error_with_ext_ack_message() {
        let mut w = nl::Writer::new();
        w.put_string(NLMSGERR_ATTR_MSG, "Flow actions may not be safe");
        let b = error_msg(-22, NLM_F_CAPPED | NLM_F_ACK_TLVS, w.as_bytes());
        let mut out = Vec::new();
        parse_datagram(&b, &mut out).unwrap();
        match &out[..] {
            [Rx::Ack {
                seq: 9,
                err: Some(e),
            }] => {
                assert_eq!(e.errno(), 22);
                assert_eq!(e.msg(), Some("Flow actions may not be safe"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ack_is_error_zero() {
        let b = error_msg(0, NLM_F_CAPPED, &[]);
        let mut out = Vec::new();
        parse_datagram(&b, &mut out).unwrap();
        assert!(matches!(&out[..], [Rx::Ack { seq: 9, err: None }]));
    }

    #[test]
    fn bad_length_is_eproto() {
        let mut b = error_msg(0, 0, &[]);
        b[0] = 200;
        let mut out = Vec::new();
        assert_eq!(
            parse_datagram(&b, &mut out).unwrap_err().errno(),
            errno::EPROTO
        );
    }
}
