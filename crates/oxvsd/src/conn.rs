//! One client connection: a `SOCK_SEQPACKET` socket playing one netlink
//! socket (see [`nl::daemon`]).
//!
//! # Sending
//!
//! The daemon's end of each connection has a send buffer the size of the
//! client's receive buffer (`SO_RCVBUF` as the client set it, netlink's
//! default otherwise), and every send is non-blocking, so the kernel keeps
//! the accounting of a netlink receive queue for us:
//!
//! - replies and dump datagrams that find no room wait in the connection's
//!   own queue ([`ConnIo::pending`]) and the connection reads no further
//!   request until they are out (a dump advances as the client reads, as a
//!   netlink dump does);
//! - unsolicited messages (upcalls, multicast notifications) that find no
//!   room are dropped and counted, and the client is told with the overrun
//!   notice once there is room again, as netlink reports `ENOBUFS`.
//!
//! # Locking
//!
//! [`Conn::io`] is held by the worker thread serving the connection's
//! requests; unsolicited sends never take it (a datagram send is atomic).

use std::collections::VecDeque;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;

use nl::daemon;
use nl::msg::AckOpts;
use rustix::net::SendFlags;

use crate::dump::Dump;

/// Who is at the other end (`SO_PEERCRED`).
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The peer's process.
    pub pid: u32,
    /// Its user.
    pub uid: u32,
    /// Whether it may change datapaths and ports: root or the daemon's
    /// own user. Other peers (members of the socket's group) may read
    /// everything and change flows of existing datapaths.
    pub admin: bool,
}

/// Option bits of a connection.
const NO_ENOBUFS: u32 = 1;
const EXT_ACK: u32 = 2;
const CAP_ACK: u32 = 4;

/// A client connection.
pub struct Conn {
    /// Its key in the reactor; never reused.
    pub token: u64,
    fd: OwnedFd,
    pid: AtomicU32,
    cookie: u64,
    /// Its peer.
    pub peer: Peer,
    opts: AtomicU32,
    groups: Mutex<Vec<u32>>,
    /// Unsolicited messages were dropped and the client not told yet.
    overrun: AtomicBool,
    /// Unsolicited messages dropped for want of room.
    pub lost: AtomicU64,
    /// Seconds (monotonic) of the last request.
    pub last_active: AtomicU64,
    /// A thread wanted the connection armed for room to send (the overrun
    /// notice) while a worker served it.
    pub wake_out: AtomicBool,
    /// What the serving worker works on.
    pub io: Mutex<ConnIo>,
}

/// The serving side of a connection, held by one worker at a time.
#[derive(Default)]
pub struct ConnIo {
    /// Datagrams waiting for room, in order.
    pub pending: VecDeque<Vec<u8>>,
    /// The dump in progress.
    pub dump: Option<Box<dyn Dump>>,
    /// Messages of a datagram left to handle once the dump is over.
    pub deferred: Option<Vec<u8>>,
    /// The peer went away or broke the protocol.
    pub closed: bool,
}

/// What an attempt to send did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sent {
    /// It is on its way.
    Yes,
    /// No room now.
    Full,
    /// The peer is gone.
    Gone,
}

impl Conn {
    /// A connection on `fd`, named `pid`.
    pub fn new(token: u64, fd: OwnedFd, pid: u32, cookie: u64, peer: Peer) -> Conn {
        Conn {
            token,
            fd,
            pid: AtomicU32::new(pid),
            cookie,
            peer,
            opts: AtomicU32::new(0),
            groups: Mutex::new(Vec::new()),
            overrun: AtomicBool::new(false),
            lost: AtomicU64::new(0),
            last_active: AtomicU64::new(0),
            wake_out: AtomicBool::new(false),
            io: Mutex::new(ConnIo::default()),
        }
    }

    /// The socket.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Its netlink port id.
    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::Relaxed)
    }

    /// Renames it (the caller keeps port ids unique).
    pub fn set_pid(&self, pid: u32) {
        self.pid.store(pid, Ordering::Relaxed);
    }

    /// Its cookie.
    pub fn cookie(&self) -> u64 {
        self.cookie
    }

    /// How its acks look.
    pub fn ack_opts(&self) -> AckOpts {
        let o = self.opts.load(Ordering::Relaxed);
        AckOpts {
            cap_ack: o & CAP_ACK != 0,
            ext_ack: o & EXT_ACK != 0,
        }
    }

    fn set_opt(&self, bit: u32, on: bool) {
        if on {
            self.opts.fetch_or(bit, Ordering::Relaxed);
        } else {
            self.opts.fetch_and(!bit, Ordering::Relaxed);
        }
    }

    /// Applies `NETLINK_NO_ENOBUFS`, `NETLINK_EXT_ACK` or `NETLINK_CAP_ACK`;
    /// false for another option.
    pub fn set_netlink_flag(&self, name: u32, on: bool) -> bool {
        let bit = match name {
            daemon::NETLINK_NO_ENOBUFS => NO_ENOBUFS,
            daemon::NETLINK_EXT_ACK => EXT_ACK,
            daemon::NETLINK_CAP_ACK => CAP_ACK,
            _ => return false,
        };
        self.set_opt(bit, on);
        true
    }

    /// Sets the receive buffer: the daemon's send buffer towards this
    /// client becomes `sk_rcvbuf` bytes (the kernel doubles what it is
    /// given). Falls back to the unprivileged option, which the system
    /// caps, when the daemon may not force it.
    pub fn set_rcvbuf(&self, sk_rcvbuf: usize) {
        let half = (sk_rcvbuf / 2).max(1);
        if rustix::net::sockopt::set_socket_send_buffer_size_force(&self.fd, half).is_err() {
            let _ = rustix::net::sockopt::set_socket_send_buffer_size(&self.fd, half);
        }
    }

    /// Joins multicast group `g`.
    pub fn join(&self, g: u32) {
        let mut gs = crate::lock(&self.groups);
        if !gs.contains(&g) {
            gs.push(g);
        }
    }

    /// Leaves multicast group `g`.
    pub fn leave(&self, g: u32) {
        crate::lock(&self.groups).retain(|&x| x != g);
    }

    /// Whether it is in group `g`.
    pub fn in_group(&self, g: u32) -> bool {
        crate::lock(&self.groups).contains(&g)
    }

    /// Whether it has joined any group.
    pub fn has_groups(&self) -> bool {
        !crate::lock(&self.groups).is_empty()
    }

    /// Tries to send one datagram now.
    pub fn try_send(&self, datagram: &[u8]) -> Sent {
        loop {
            match rustix::net::send(
                &self.fd,
                datagram,
                SendFlags::DONTWAIT | SendFlags::NOSIGNAL,
            ) {
                Ok(_) => return Sent::Yes,
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::AGAIN) => return Sent::Full,
                // Larger than the whole buffer: it can never fit. Dropped
                // as an overrun (the kernel drops it the same way).
                Err(rustix::io::Errno::MSGSIZE) | Err(rustix::io::Errno::NOBUFS) => {
                    return Sent::Full
                }
                Err(_) => return Sent::Gone,
            }
        }
    }

    /// Sends an unsolicited message (an upcall, a notification): now, or
    /// never (dropped, counted, and reported to the client as an overrun).
    /// Returns whether it was sent. Safe from any thread.
    pub fn send_unsolicited(&self, msg: &[u8]) -> bool {
        if !self.flush_overrun() {
            self.lost.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        match self.try_send(msg) {
            Sent::Yes => true,
            Sent::Full => {
                self.lost.fetch_add(1, Ordering::Relaxed);
                if self.opts.load(Ordering::Relaxed) & NO_ENOBUFS == 0 {
                    self.overrun.store(true, Ordering::Release);
                }
                false
            }
            Sent::Gone => false,
        }
    }

    /// Sends the overrun notice if one is owed; false if it is owed and
    /// there is still no room for it.
    pub fn flush_overrun(&self) -> bool {
        if !self.overrun.swap(false, Ordering::AcqRel) {
            return true;
        }
        if self.try_send(&daemon::OVERRUN) == Sent::Full {
            self.overrun.store(true, Ordering::Release);
            return false;
        }
        true
    }

    /// Whether an overrun notice is owed.
    pub fn owes_overrun(&self) -> bool {
        self.overrun.load(Ordering::Acquire)
    }
}

impl ConnIo {
    /// Queues a reply datagram behind those already waiting, sending what
    /// fits now.
    pub fn reply(&mut self, conn: &Conn, datagram: Vec<u8>) {
        if self.closed {
            return;
        }
        if self.pending.is_empty() {
            match conn.try_send(&datagram) {
                Sent::Yes => return,
                Sent::Gone => {
                    self.closed = true;
                    return;
                }
                Sent::Full => {}
            }
        }
        self.pending.push_back(datagram);
    }

    /// Sends waiting datagrams, then advances the dump, while there is
    /// room. Returns whether everything is out (no datagram waits and no
    /// dump is in progress).
    pub fn flush(&mut self, conn: &Conn) -> bool {
        loop {
            while let Some(d) = self.pending.front() {
                match conn.try_send(d) {
                    Sent::Yes => {
                        self.pending.pop_front();
                    }
                    Sent::Full => return false,
                    Sent::Gone => {
                        self.closed = true;
                        self.pending.clear();
                        self.dump = None;
                        return true;
                    }
                }
            }
            let Some(dump) = self.dump.as_mut() else {
                return true;
            };
            let (datagram, more) = dump.next_datagram();
            if !more {
                self.dump = None;
            }
            if !datagram.is_empty() {
                self.pending.push_back(datagram);
            }
        }
    }

    /// Whether the connection may read its next request.
    pub fn idle(&self) -> bool {
        self.pending.is_empty() && self.dump.is_none() && !self.closed
    }
}
