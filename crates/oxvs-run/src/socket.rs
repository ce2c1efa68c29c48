//! The state of one emulated netlink socket, shared by every descriptor
//! that refers to it (`dup`), all in atomics so that the receive path
//! reads it without locks.

use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicU8, Ordering};

use crate::sys::SpinLock;

/// Group ids a socket's membership bitmap records (higher ones are still
/// joined through the daemon, just not listed by `NETLINK_LIST_MEMBERSHIPS`).
pub const MAX_GROUPS: u32 = 1024;
const GROUP_WORDS: usize = (MAX_GROUPS / 64) as usize;

/// What a socket currently is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A slot not in use.
    Free,
    /// A connection to the daemon playing a netlink socket.
    Daemon,
    /// A kernel `NETLINK_NETFILTER` socket whose first message has not been
    /// sent yet (see [`crate::netfilter`]).
    NetfilterUndecided,
}

/// One option recorded on an undecided netfilter socket, to replay on the
/// daemon connection that replaces it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// `setsockopt(level, name, value)` (value bytes as given, at most 64).
    SockOpt {
        /// Option level.
        level: i32,
        /// Option name.
        name: i32,
        /// Option value.
        value: Vec<u8>,
    },
    /// `bind()` with this port id and group mask.
    Bind {
        /// `nl_pid`.
        pid: u32,
        /// `nl_groups`.
        groups: u32,
    },
}

/// State behind the per-socket lock: the rarely touched parts.
#[derive(Default)]
pub struct Extra {
    /// `SOL_NETLINK` options the library does not know, by name.
    pub other_options: Vec<(i32, u32)>,
    /// Calls to replay when an undecided netfilter socket is swapped.
    pub recorded: Vec<Recorded>,
}

/// The `NETLINK_*` boolean options, as bits of [`NlSocket`]'s option word.
pub mod opt {
    /// `NETLINK_PKTINFO`.
    pub const PKTINFO: u32 = 3;
    /// `NETLINK_BROADCAST_ERROR`.
    pub const BROADCAST_ERROR: u32 = 4;
    /// `NETLINK_NO_ENOBUFS`.
    pub const NO_ENOBUFS: u32 = 5;
    /// `NETLINK_LISTEN_ALL_NSID`.
    pub const LISTEN_ALL_NSID: u32 = 8;
    /// `NETLINK_CAP_ACK`.
    pub const CAP_ACK: u32 = 10;
    /// `NETLINK_EXT_ACK`.
    pub const EXT_ACK: u32 = 11;
    /// `NETLINK_GET_STRICT_CHK`.
    pub const GET_STRICT_CHK: u32 = 12;
}

/// Who is reading a socket: the threads inside a receive, and whether one
/// of them holds it alone to look at the head of the queue and take a
/// control datagram off it (`MSG_PEEK`, then a receive, must not take
/// another thread's datagram in between).
///
/// One word: process id (32 bits), readers (31), alone (1). A word with
/// another process id was inherited through `fork` from threads that do not
/// exist in this process, and counts as empty.
#[derive(Default)]
pub struct ReadGate {
    word: AtomicU64,
}

const ALONE: u64 = 1;

/// A thread's presence in a [`ReadGate`], left on drop.
pub struct Reader<'a> {
    gate: &'a ReadGate,
    me: u32,
}

impl ReadGate {
    fn pack(pid: u32, readers: u64, alone: bool) -> u64 {
        (u64::from(pid) << 32) | (readers << 1) | u64::from(alone)
    }

    /// Enters as a reader, waiting while another holds the gate alone.
    pub fn enter(&self) -> Reader<'_> {
        let me = crate::sys::pid();
        let mut spins = 0u32;
        loop {
            let w = self.word.load(Ordering::Acquire);
            let next = if (w >> 32) as u32 != me {
                Self::pack(me, 1, false)
            } else if w & ALONE != 0 {
                spins += 1;
                if spins < 100 {
                    core::hint::spin_loop();
                } else {
                    crate::sys::raw::sched_yield();
                }
                continue;
            } else {
                w + 2
            };
            if self
                .word
                .compare_exchange_weak(w, next, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return Reader { gate: self, me };
            }
        }
    }
}

impl Reader<'_> {
    /// Holds the gate alone if this is its only reader; false otherwise
    /// (another thread is receiving: it will take control datagrams itself).
    pub fn try_alone(&self) -> bool {
        let only = ReadGate::pack(self.me, 1, false);
        let alone = ReadGate::pack(self.me, 1, true);
        self.gate
            .word
            .compare_exchange(only, alone, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// Ends [`Reader::try_alone`].
    pub fn end_alone(&self) {
        self.gate.word.fetch_and(!ALONE, Ordering::AcqRel);
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        let _ = self
            .gate
            .word
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| {
                ((w >> 32) as u32 == self.me && w >> 1 & 0x7fff_ffff > 0).then(|| (w - 2) & !ALONE)
            });
    }
}

/// One emulated netlink socket.
pub struct NlSocket {
    refs: AtomicU32,
    kind: AtomicU8,
    protocol: AtomicI32,
    sock_type: AtomicI32,
    port: AtomicU32,
    cookie: AtomicU64,
    bound: AtomicBool,
    dst_port: AtomicU32,
    dst_group: AtomicU32,
    options: AtomicU32,
    groups_used: AtomicBool,
    groups: [AtomicU64; GROUP_WORDS],
    barriers_sent: AtomicU32,
    barriers_answered: AtomicU32,
    /// Threads receiving.
    pub gate: ReadGate,
    /// Options and replay log.
    pub extra: SpinLock<Extra>,
}

impl Default for NlSocket {
    fn default() -> Self {
        Self::new()
    }
}

impl NlSocket {
    /// A free socket.
    pub fn new() -> Self {
        NlSocket {
            refs: AtomicU32::new(0),
            kind: AtomicU8::new(0),
            protocol: AtomicI32::new(0),
            sock_type: AtomicI32::new(0),
            port: AtomicU32::new(0),
            cookie: AtomicU64::new(0),
            bound: AtomicBool::new(false),
            dst_port: AtomicU32::new(0),
            dst_group: AtomicU32::new(0),
            options: AtomicU32::new(0),
            groups_used: AtomicBool::new(false),
            groups: [const { AtomicU64::new(0) }; GROUP_WORDS],
            barriers_sent: AtomicU32::new(0),
            barriers_answered: AtomicU32::new(0),
            gate: ReadGate::default(),
            extra: SpinLock::new(Extra::default()),
        }
    }

    /// Clears everything for reuse.
    pub fn reset(&self) {
        self.kind.store(0, Ordering::Relaxed);
        self.protocol.store(0, Ordering::Relaxed);
        self.sock_type.store(0, Ordering::Relaxed);
        self.port.store(0, Ordering::Relaxed);
        self.cookie.store(0, Ordering::Relaxed);
        self.bound.store(false, Ordering::Relaxed);
        self.dst_port.store(0, Ordering::Relaxed);
        self.dst_group.store(0, Ordering::Relaxed);
        self.options.store(0, Ordering::Relaxed);
        self.groups_used.store(false, Ordering::Relaxed);
        for w in &self.groups {
            w.store(0, Ordering::Relaxed);
        }
        self.barriers_sent.store(0, Ordering::Relaxed);
        self.barriers_answered.store(0, Ordering::Relaxed);
        *self.extra.lock() = Extra::default();
    }

    /// Descriptor references: one more.
    pub fn acquire(&self) {
        self.refs.fetch_add(1, Ordering::AcqRel);
    }

    /// Descriptor references: one fewer; true when that was the last.
    pub fn release(&self) -> bool {
        self.refs
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| r.checked_sub(1))
            .map(|old| old == 1)
            .unwrap_or(false)
    }

    /// How many descriptors refer to it.
    pub fn refs(&self) -> u32 {
        self.refs.load(Ordering::Acquire)
    }

    /// What it is.
    pub fn kind(&self) -> Kind {
        match self.kind.load(Ordering::Acquire) {
            1 => Kind::Daemon,
            2 => Kind::NetfilterUndecided,
            _ => Kind::Free,
        }
    }

    /// Makes it a daemon connection with this port id and cookie.
    pub fn set_daemon(&self, port: u32, cookie: u64) {
        self.port.store(port, Ordering::Relaxed);
        self.cookie.store(cookie, Ordering::Relaxed);
        self.kind.store(1, Ordering::Release);
    }

    /// Makes it an undecided netfilter socket.
    pub fn set_netfilter_undecided(&self) {
        self.kind.store(2, Ordering::Release);
    }

    /// The netlink protocol (`NETLINK_GENERIC`, ...).
    pub fn protocol(&self) -> i32 {
        self.protocol.load(Ordering::Relaxed)
    }

    /// The socket type given to `socket()` (`SOCK_RAW` or `SOCK_DGRAM`).
    pub fn sock_type(&self) -> i32 {
        self.sock_type.load(Ordering::Relaxed)
    }

    /// Sets protocol and type.
    pub fn set_identity(&self, protocol: i32, sock_type: i32) {
        self.protocol.store(protocol, Ordering::Relaxed);
        self.sock_type.store(sock_type, Ordering::Relaxed);
    }

    /// The port id (`nl_pid`).
    pub fn port(&self) -> u32 {
        self.port.load(Ordering::Acquire)
    }

    /// Sets the port id (after `OXVS_SO_BIND`).
    pub fn set_port(&self, port: u32) {
        self.port.store(port, Ordering::Release);
    }

    /// The cookie naming the connection in socket options.
    pub fn cookie(&self) -> u64 {
        self.cookie.load(Ordering::Acquire)
    }

    /// Whether the socket has an address (as the kernel's `nlk->bound`:
    /// set by `bind`, `connect` and the first send).
    pub fn bound(&self) -> bool {
        self.bound.load(Ordering::Acquire)
    }

    /// Marks the socket bound.
    pub fn set_bound(&self) {
        self.bound.store(true, Ordering::Release);
    }

    /// The `connect()` destination: port id and group number.
    pub fn destination(&self) -> (u32, u32) {
        (
            self.dst_port.load(Ordering::Relaxed),
            self.dst_group.load(Ordering::Relaxed),
        )
    }

    /// Sets the `connect()` destination.
    pub fn set_destination(&self, port: u32, group: u32) {
        self.dst_port.store(port, Ordering::Relaxed);
        self.dst_group.store(group, Ordering::Relaxed);
    }

    /// Whether boolean option `bit` (one of [`opt`]) is on.
    pub fn option(&self, bit: u32) -> bool {
        bit < 32 && self.options.load(Ordering::Relaxed) & (1 << bit) != 0
    }

    /// Turns boolean option `bit` on or off.
    pub fn set_option(&self, bit: u32, on: bool) {
        if bit < 32 {
            if on {
                self.options.fetch_or(1 << bit, Ordering::Relaxed);
            } else {
                self.options.fetch_and(!(1 << bit), Ordering::Relaxed);
            }
        }
    }

    /// Whether the socket has joined `group`.
    pub fn in_group(&self, group: u32) -> bool {
        match Self::group_bit(group) {
            Some((w, b)) => self.groups[w].load(Ordering::Relaxed) & b != 0,
            None => false,
        }
    }

    /// Records a join or a leave of `group`.
    pub fn set_group(&self, group: u32, member: bool) {
        self.groups_used.store(true, Ordering::Relaxed);
        if let Some((w, b)) = Self::group_bit(group) {
            if member {
                self.groups[w].fetch_or(b, Ordering::Relaxed);
            } else {
                self.groups[w].fetch_and(!b, Ordering::Relaxed);
            }
        }
    }

    /// Whether any membership call was made (the kernel sizes
    /// `NETLINK_LIST_MEMBERSHIPS` from then on).
    pub fn groups_used(&self) -> bool {
        self.groups_used.load(Ordering::Relaxed)
    }

    /// Groups 1..=32 as the `nl_groups` mask `getsockname` reports.
    pub fn low_groups(&self) -> u32 {
        self.groups[0].load(Ordering::Relaxed) as u32
    }

    /// The membership bitmap as `u32` words (bit `g - 1` for group `g`).
    pub fn group_words(&self) -> [u32; GROUP_WORDS * 2] {
        let mut out = [0u32; GROUP_WORDS * 2];
        for (i, w) in self.groups.iter().enumerate() {
            let v = w.load(Ordering::Relaxed);
            out[2 * i] = v as u32;
            out[2 * i + 1] = (v >> 32) as u32;
        }
        out
    }

    fn group_bit(group: u32) -> Option<(usize, u64)> {
        let g = group.checked_sub(1)?;
        (g < MAX_GROUPS).then(|| ((g / 64) as usize, 1u64 << (g % 64)))
    }

    /// A barrier is about to be sent: returns its sequence number and its
    /// ticket (the count of barriers sent, itself included).
    pub fn barrier_sent(&self) -> (u32, u32) {
        let ticket = self
            .barriers_sent
            .fetch_add(1, Ordering::AcqRel)
            .wrapping_add(1);
        (ticket, ticket)
    }

    /// A barrier could not be sent after all.
    pub fn barrier_unsent(&self) {
        self.barriers_answered.fetch_add(1, Ordering::AcqRel);
    }

    /// A barrier's answer was read.
    pub fn barrier_answered(&self) {
        let sent = self.barriers_sent.load(Ordering::Acquire);
        let _ = self
            .barriers_answered
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |a| {
                (sent.wrapping_sub(a) as i32 > 0).then(|| a.wrapping_add(1))
            });
    }

    /// Whether a barrier sent is still unanswered.
    pub fn barriers_pending(&self) -> bool {
        let sent = self.barriers_sent.load(Ordering::Acquire);
        let answered = self.barriers_answered.load(Ordering::Acquire);
        sent.wrapping_sub(answered) as i32 > 0
    }

    /// Whether the barrier with `ticket` has been answered.
    pub fn barrier_done(&self, ticket: u32) -> bool {
        self.barriers_answered
            .load(Ordering::Acquire)
            .wrapping_sub(ticket) as i32
            >= 0
    }

    /// Gives up on every unanswered barrier (the connection ended, or the
    /// daemon did not answer in time).
    pub fn forget_barriers(&self) {
        let sent = self.barriers_sent.load(Ordering::Acquire);
        self.barriers_answered.store(sent, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barrier_accounting() {
        let s = NlSocket::new();
        assert!(!s.barriers_pending());
        let (_, t1) = s.barrier_sent();
        let (_, t2) = s.barrier_sent();
        assert!(s.barriers_pending());
        s.barrier_answered();
        assert!(s.barrier_done(t1));
        assert!(!s.barrier_done(t2));
        s.barrier_answered();
        assert!(s.barrier_done(t2));
        assert!(!s.barriers_pending());
        // A stray answer never makes the count go ahead of what was sent.
        s.barrier_answered();
        let (_, t3) = s.barrier_sent();
        assert!(!s.barrier_done(t3));
        s.forget_barriers();
        assert!(s.barrier_done(t3));
    }

    #[test]
    fn groups_bitmap() {
        let s = NlSocket::new();
        assert!(!s.groups_used());
        s.set_group(1, true);
        s.set_group(32, true);
        s.set_group(33, true);
        s.set_group(MAX_GROUPS + 1, true);
        assert_eq!(s.low_groups(), 0x8000_0001);
        assert!(s.in_group(33) && !s.in_group(34) && !s.in_group(0));
        assert_eq!(s.group_words()[1], 1);
        s.set_group(1, false);
        assert_eq!(s.low_groups(), 0x8000_0000);
        assert!(s.groups_used());
    }

    #[test]
    fn read_gate() {
        let g = ReadGate::default();
        let a = g.enter();
        assert!(a.try_alone());
        a.end_alone();
        let b = g.enter();
        assert!(!a.try_alone(), "two readers");
        drop(b);
        assert!(a.try_alone());
        a.end_alone();
        drop(a);
        // A word from another process (inherited through fork) is empty.
        g.word.store(
            ReadGate::pack(crate::sys::pid().wrapping_add(1), 3, true),
            Ordering::Relaxed,
        );
        let c = g.enter();
        assert!(c.try_alone());
    }

    #[test]
    fn references() {
        let s = NlSocket::new();
        s.acquire();
        s.acquire();
        assert!(!s.release());
        assert!(s.release());
        assert!(!s.release());
    }
}
