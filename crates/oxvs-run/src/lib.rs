//! `liboxvs_preload.so`: the `LD_PRELOAD` library of `oxvs-run`, which makes
//! a program's generic netlink sockets connections to the `oxvsd` daemon.
//!
//! # Why an interposer
//!
//! Open vSwitch reaches a datapath only through netlink sockets: it opens
//! `socket(AF_NETLINK, SOCK_RAW, NETLINK_GENERIC)`, looks the `ovs_*`
//! families up through `nlctrl`, and sends them requests; upcalls and
//! notifications come back on sockets whose port ids it hands to the
//! datapath. `oxvsd` serves the same messages on a Unix socket (the
//! contract is `nl::daemon`), so an unmodified `ovs-vswitchd` or
//! `ovs-dpctl` drives an oxvs datapath once its netlink sockets lead there.
//! Which family a socket will talk to is not known when it is created, and
//! OVS shares sockets across families (one pooled socket looks up `nlctrl`,
//! then talks `ovs_flow`), so a whole `NETLINK_GENERIC` socket becomes a
//! daemon connection.
//!
//! # What it intercepts
//!
//! | call | on a daemon connection |
//! |---|---|
//! | `socket(AF_NETLINK, SOCK_RAW`/`SOCK_DGRAM, NETLINK_GENERIC)` | connects to `$OXVSD_SOCKET` (default `/run/oxvs/oxvsd.sock`), reads the greeting; failure: that errno, one line on stderr per process |
//! | `socket(AF_NETLINK, .., NETLINK_NETFILTER)` | a kernel socket until its first send; conntrack subsystems then swap it for a daemon connection ([`netfilter`]) |
//! | `bind`, `connect`, `getsockname`, `getpeername` | netlink addresses ([`addr`]) |
//! | `setsockopt`, `getsockopt` | `SOL_NETLINK` emulated, memberships through the daemon; `SO_RCVBUF` applied and passed on ([`sockopt`]) |
//! | `send`, `sendto`, `sendmsg`, `sendmmsg`, `write`, `writev` | one datagram to the daemon, plus a barrier; waits for the answers to start ([`msg`]) |
//! | `recv`, `recvfrom`, `recvmsg`, `recvmmsg`, `read`, `readv` (and the `_chk` variants) | netlink semantics: `MSG_TRUNC`, `MSG_PEEK`, `ENOBUFS` on overrun, `sockaddr_nl` source ([`msg`]) |
//! | `close`, `close_range`, `closefrom`, `dup`, `dup2`, `dup3`, `fcntl(F_DUPFD*)` | keep the descriptor table ([`table`]) in step |
//!
//! Every other socket, every other netlink protocol (rtnetlink included)
//! and every call on a descriptor that is not a daemon connection reach
//! libc unchanged. `poll`, `select` and `epoll` are not intercepted: a
//! seqpacket socket is readable when a whole datagram is queued, as a
//! netlink socket is.
//!
//! # Design
//!
//! - [`table`]: descriptor → socket state, one atomic load per lookup for
//!   descriptors below 65536 (a locked list above), states in a never-freed
//!   arena so lookups need no reference counting.
//! - [`msg`]: every datagram sent ends with a barrier (`nl::daemon`), so the
//!   library knows when the daemon has answered everything, as the kernel
//!   has by the time `sendmsg` returns; a per-socket read gate lets a thread
//!   take a control datagram off the head of the queue without taking
//!   another thread's datagram.
//! - [`side`]: one connection per process on which socket options are set
//!   synchronously (the socket's own queue may be full of upcalls); reopened
//!   in a forked child.
//! - [`sys`]: the only unsafe code — libc's real functions (`dlsym(RTLD_NEXT)`),
//!   raw system calls for the library's own I/O, the caller's buffers, and
//!   fork-safe locks.
//!
//! # Limits
//!
//! - A descriptor inherited across `exec` is a plain Unix socket in the new
//!   image: the table does not survive `exec`. Children reached through
//!   `fork` keep working sockets (and open their own side connection);
//!   programs started through `exec` get the library again from
//!   `LD_PRELOAD` but not their parent's netlink sockets.
//! - Statically linked programs, and calls made with `syscall()` or from
//!   inside libc, are not seen. A descriptor closed that way and reused for
//!   a file or a pipe is forgotten at its first `read`/`write` (`ENOTSOCK`),
//!   and one reused by `socket()` at once; one reused by `accept` or
//!   `socketpair` would be taken for the netlink socket it was.
//! - The daemon plays the kernel only: sending to another port id or to a
//!   multicast group fails (`EPERM`, or `ECONNREFUSED` for root), and the
//!   source address of every message reads as the kernel's (no group).
//! - `NETLINK_PKTINFO` and `NETLINK_LISTEN_ALL_NSID` are accepted but add no
//!   control messages; `SCM_*` data sent by the program is not passed on.
//! - A `NETLINK_NETFILTER` socket that only listens stays the kernel's, and
//!   a swapped one keeps the port id the kernel gave it in the program's
//!   memory (the daemon does not check request port ids).
//! - Answers are awaited up to [`msg::ANSWER_TIMEOUT`]; a daemon that does
//!   not answer barriers makes receives with `MSG_DONTWAIT` slow, not wrong.
//! - A send with `MSG_DONTWAIT` (or on a non-blocking socket) fails with
//!   `EAGAIN` while the daemon is not reading its requests; the kernel would
//!   have handled the request.

pub mod addr;
pub mod conn;
pub mod datagram;
pub mod lifecycle;
pub mod msg;
pub mod netfilter;
pub mod report;
pub mod side;
pub mod socket;
pub mod sockopt;
#[allow(unsafe_code)]
pub mod sys;
pub mod table;
