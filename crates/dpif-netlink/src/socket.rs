//! A generic netlink socket: framing, transactions with acks, batches, dumps
//! and unsolicited messages (multicast notifications, upcalls).
//!
//! The socket itself is `netlink_sys::Socket`; this module adds the message
//! framing (`nlmsghdr` + `genlmsghdr` + a family header) and the request /
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

use std::collections::VecDeque;
use std::os::fd::AsFd;
use std::time::Duration;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use netlink_sys::{protocols::NETLINK_GENERIC, Socket as RawSocket, SocketAddr};

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
    w: nl::Writer,
}

impl MsgBuilder {
    /// A generic netlink request of family `family` with `flags`
    /// (`NLM_F_REQUEST` is added).
    pub fn new(family: u16, flags: u16, cmd: u8, version: u8) -> MsgBuilder {
        let mut b = Vec::with_capacity(256);
        b.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, fixed in finish
        b.extend_from_slice(&family.to_ne_bytes());
        b.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
        b.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_seq, set when sent
        b.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel fills it
        b.extend_from_slice(&[cmd, version, 0, 0]);
        MsgBuilder {
            w: nl::Writer::with_buffer(b),
        }
    }

    /// A request of an openvswitch family: the generic header is followed by
    /// `struct ovs_header` with `dp_ifindex`.
    pub fn ovs(family: u16, flags: u16, cmd: u8, version: u8, dp_ifindex: i32) -> MsgBuilder {
        let mut m = MsgBuilder::new(family, flags, cmd, version);
        let mut b = std::mem::take(&mut m.w).into_bytes();
        b.extend_from_slice(&dp_ifindex.to_ne_bytes());
        m.w = nl::Writer::with_buffer(b);
        m
    }

    /// The attribute writer.
    pub fn attrs(&mut self) -> &mut nl::Writer {
        &mut self.w
    }

    /// The finished request.
    ///
    /// # Errors
    /// `EMSGSIZE` if an attribute overflowed its 16-bit length.
    pub fn finish(self) -> Result<Request> {
        if self.w.overflowed() {
            return Err(Error::with_msg(
                errno::EMSGSIZE,
                "netlink attribute too long",
            ));
        }
        let mut bytes = self.w.into_bytes();
        let len = u32::try_from(bytes.len()).map_err(|_| Error::new(errno::EMSGSIZE))?;
        bytes[0..4].copy_from_slice(&len.to_ne_bytes());
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
        self.bytes[6..8].copy_from_slice(&flags.to_ne_bytes());
    }

    fn set_seq(&mut self, seq: u32) {
        self.bytes[8..12].copy_from_slice(&seq.to_ne_bytes());
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

fn rd_u16(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The extended-ack message in the TLVs of an `NLMSG_ERROR` / `NLMSG_DONE`.
fn ext_ack_msg(tlvs: &[u8]) -> Option<String> {
    nl::AttrIter::new(tlvs)
        .map_while(|a| a.ok())
        .find(|a| a.ty == NLMSGERR_ATTR_MSG)
        .map(|a| {
            let s = a.payload.split(|&c| c == 0).next().unwrap_or(&[]);
            String::from_utf8_lossy(s).into_owned()
        })
}

/// Parses an `NLMSG_ERROR` payload: `int error; struct nlmsghdr msg;` then
/// the request's payload unless capped, then TLVs if flagged.
fn parse_error(flags: u16, body: &[u8]) -> Result<Option<Error>> {
    if body.len() < 4 + NLMSG_HDRLEN {
        return Err(Error::proto("short NLMSG_ERROR"));
    }
    let code = rd_u32(body, 0) as i32;
    if code == 0 {
        return Ok(None);
    }
    let mut tlv_at = 4 + NLMSG_HDRLEN;
    if flags & NLM_F_CAPPED == 0 {
        let orig_len = rd_u32(body, 4) as usize;
        tlv_at = 4 + nl::align(orig_len.max(NLMSG_HDRLEN));
    }
    let msg = if flags & NLM_F_ACK_TLVS != 0 {
        body.get(tlv_at..).and_then(ext_ack_msg)
    } else {
        None
    };
    let mut e = Error::new(code);
    if let Some(m) = msg {
        e = Error::with_msg(e.errno(), m);
    }
    Ok(Some(e))
}

/// Splits a datagram into messages.
fn parse_datagram(mut buf: &[u8], out: &mut Vec<Rx>) -> Result<()> {
    while buf.len() >= NLMSG_HDRLEN {
        let len = rd_u32(buf, 0) as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Err(Error::proto("bad nlmsg_len"));
        }
        let ty = rd_u16(buf, 4);
        let flags = rd_u16(buf, 6);
        let seq = rd_u32(buf, 8);
        let body = &buf[NLMSG_HDRLEN..len];
        match ty {
            NLMSG_NOOP => {}
            NLMSG_ERROR => out.push(Rx::Ack {
                seq,
                err: parse_error(flags, body)?,
            }),
            NLMSG_DONE => {
                let code = if body.len() >= 4 {
                    rd_u32(body, 0) as i32
                } else {
                    0
                };
                let err = (code != 0).then(|| {
                    let e = Error::new(code);
                    match body
                        .get(4..)
                        .filter(|_| flags & NLM_F_ACK_TLVS != 0)
                        .and_then(ext_ack_msg)
                    {
                        Some(m) => Error::with_msg(e.errno(), m),
                        None => e,
                    }
                });
                out.push(Rx::Done { seq, err });
            }
            NLMSG_OVERRUN => return Err(Error::new(errno::ENOBUFS)),
            _ => {
                if body.len() < GENL_HDRLEN {
                    return Err(Error::proto("message shorter than genlmsghdr"));
                }
                out.push(Rx::Data(Msg {
                    family: ty,
                    flags,
                    seq,
                    cmd: body[0],
                    version: body[1],
                    payload: body[GENL_HDRLEN..].to_vec(),
                }));
            }
        }
        buf = &buf[nl::align(len).min(buf.len())..];
    }
    Ok(())
}

/// Largest message accepted from a stream peer.
pub const STREAM_MSG_MAX: usize = 1 << 20;

/// `genlmsghdr.cmd` of the stream-only request that joins a multicast group
/// (`CTRL_ATTR_MCAST_GRP_ID`): the stream's `NETLINK_ADD_MEMBERSHIP`.
pub const OXVS_CTRL_CMD_JOIN_GROUP: u8 = 0xf0;

/// What carries the messages.
#[derive(Debug)]
enum Transport {
    /// A netlink socket to the kernel: one datagram per `recv`.
    Netlink(RawSocket),
    /// A Unix stream to `oxvsd`: messages framed by `nlmsg_len`.
    Stream(UnixStream),
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
        let mut sock = RawSocket::new(NETLINK_GENERIC)?;
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

    /// Connects to the `oxvsd` daemon listening on Unix stream socket
    /// `path`. The daemon greets each connection with an `NLMSG_NOOP`
    /// whose `nlmsg_pid` is the port id it gave the connection (what upcall
    /// PIDs name, as a netlink socket's bound port id).
    ///
    /// # Errors
    /// The errno of `connect()`; `EPROTO` if the greeting is missing or
    /// malformed; `EPERM` if the daemon refused the peer's credentials.
    pub fn connect_unix(path: &Path) -> Result<Socket> {
        let mut stream = UnixStream::connect(path)?;
        let mut hdr = [0u8; NLMSG_HDRLEN];
        stream.read_exact(&mut hdr).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::with_msg(errno::EPERM, "the daemon closed the connection")
            } else {
                e.into()
            }
        })?;
        let len = rd_u32(&hdr, 0) as usize;
        let ty = rd_u16(&hdr, 4);
        if !(NLMSG_HDRLEN..=STREAM_MSG_MAX).contains(&len) {
            return Err(Error::proto("bad greeting"));
        }
        let mut body = vec![0u8; len - NLMSG_HDRLEN];
        stream.read_exact(&mut body)?;
        match ty {
            NLMSG_NOOP => {}
            NLMSG_ERROR if body.len() >= 4 => {
                return Err(Error::new(rd_u32(&body, 0) as i32));
            }
            _ => return Err(Error::proto("greeting is not NLMSG_NOOP")),
        }
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(1);
        Ok(Socket {
            sock: Transport::Stream(stream),
            pid: rd_u32(&hdr, 12),
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

    /// Joins multicast group `group`.
    ///
    /// # Errors
    /// The errno of `setsockopt`.
    pub fn join_group(&self, group: u32) -> Result<()> {
        match &self.sock {
            Transport::Netlink(s) => Ok(s.add_membership(group)?),
            Transport::Stream(_) => {
                // No ack asked: the daemon handles requests in order.
                let mut m = MsgBuilder::new(GENL_ID_CTRL, 0, OXVS_CTRL_CMD_JOIN_GROUP, 1);
                m.attrs().put_u32(CTRL_ATTR_MCAST_GRP_ID, group);
                self.send(m.finish()?.as_bytes())
            }
        }
    }

    /// Joins multicast group `group`, waiting until the daemon has done it
    /// (on a netlink socket, the same as [`Socket::join_group`]).
    ///
    /// # Errors
    /// The errno of `setsockopt`, or the daemon's.
    pub fn join_group_acked(&mut self, group: u32) -> Result<()> {
        if !self.is_stream() {
            return self.join_group(group);
        }
        let mut m = MsgBuilder::new(GENL_ID_CTRL, 0, OXVS_CTRL_CMD_JOIN_GROUP, 1);
        m.attrs().put_u32(CTRL_ATTR_MCAST_GRP_ID, group);
        self.transact(m.finish()?).map(drop)
    }

    /// Asks for a larger receive buffer (best effort).
    pub fn set_rcvbuf(&self, bytes: usize) {
        if let Transport::Netlink(s) = &self.sock {
            let _ = s.set_rx_buf_sz(bytes);
        }
    }

    fn seq(&mut self) -> u32 {
        let s = self.next_seq;
        self.next_seq = self.next_seq.wrapping_add(1).max(1);
        s
    }

    fn send(&self, bytes: &[u8]) -> Result<()> {
        let sock = match &self.sock {
            Transport::Netlink(s) => s,
            Transport::Stream(s) => {
                let mut w: &UnixStream = s;
                return w.write_all(bytes).map_err(Error::from);
            }
        };
        loop {
            match sock.send(bytes, 0) {
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
        let sock = match &self.sock {
            Transport::Netlink(s) => s,
            Transport::Stream(_) => return self.fill_stream(block),
        };
        let flags = libc_flags(block);
        if self.buf.capacity() < RX_BUF {
            self.buf.reserve_exact(RX_BUF);
        }
        loop {
            self.buf.clear();
            match sock.recv(&mut self.buf, flags) {
                Ok(n) if n > self.buf.len() => {
                    return Err(Error::with_msg(
                        errno::EMSGSIZE,
                        "netlink message truncated",
                    ));
                }
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !block => return Ok(false),
                Err(e) => return Err(e.into()),
            }
        }
        let mut out = Vec::new();
        parse_datagram(&self.buf, &mut out)?;
        self.rx.extend(out);
        Ok(true)
    }

    /// Reads one whole message from the stream into the queue.
    fn fill_stream(&mut self, block: bool) -> Result<bool> {
        let Transport::Stream(s) = &self.sock else {
            return Ok(false);
        };
        if !block && !poll_readable(&[s.as_fd()], Some(Duration::ZERO)) {
            return Ok(false);
        }
        let mut r: &UnixStream = s;
        let eof = |e: std::io::Error| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Error::with_msg(ECONNRESET, "the daemon closed the connection")
            } else {
                Error::from(e)
            }
        };
        let mut hdr = [0u8; NLMSG_HDRLEN];
        r.read_exact(&mut hdr).map_err(eof)?;
        let len = rd_u32(&hdr, 0) as usize;
        if !(NLMSG_HDRLEN..=STREAM_MSG_MAX).contains(&len) {
            return Err(Error::proto("bad nlmsg_len on the stream"));
        }
        self.buf.clear();
        self.buf.extend_from_slice(&hdr);
        self.buf.resize(len, 0);
        r.read_exact(&mut self.buf[NLMSG_HDRLEN..]).map_err(eof)?;
        let mut out = Vec::new();
        parse_datagram(&self.buf, &mut out)?;
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
            Transport::Stream(s) => s.as_fd(),
        }
    }

    /// Whether this socket talks to the daemon over a Unix stream.
    pub fn is_stream(&self) -> bool {
        matches!(self.sock, Transport::Stream(_))
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
            Transport::Stream(_) => Err(Error::new(errno::EOPNOTSUPP)),
        }
    }
}

/// The errno of a stream whose peer went away.
const ECONNRESET: i32 = 104;

fn libc_flags(block: bool) -> i32 {
    // MSG_TRUNC makes recv report a datagram's real length, so a truncated
    // one is detected; MSG_DONTWAIT for non-blocking reads.
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
        assert_eq!(rd_u32(b, 0), 32);
        assert_eq!(rd_u16(b, 4), 0x22);
        assert_eq!(rd_u16(b, 6), NLM_F_ECHO | NLM_F_REQUEST);
        assert_eq!(&b[16..20], &[3, 1, 0, 0]);
        assert_eq!(rd_u32(b, 20), 7);
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
