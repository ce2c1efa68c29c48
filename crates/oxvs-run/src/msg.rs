//! Sending and receiving on daemon connections, so that the program sees a
//! netlink socket.
//!
//! # Sending
//!
//! A program's datagram goes out as one seqpacket datagram with a barrier
//! (see `nl::daemon`) appended. The kernel answers inside `sendmsg`; here
//! the send waits until the answers have started to arrive (or the barrier's
//! answer did), so that `poll` right after a send finds them, and the
//! receive path below waits for the rest.
//!
//! # Receiving
//!
//! Datagrams are read straight into the program's buffers. The head of each
//! is then classified ([`crate::datagram`]): the overrun notice becomes
//! `ENOBUFS` (nothing at all under `NETLINK_NO_ENOBUFS`), a barrier's answer
//! is dropped. Buffers too small to classify a datagram (a 1-byte
//! `MSG_TRUNC` drain) read into a small buffer of the library's with
//! `MSG_TRUNC`, then copy. While a barrier is unanswered, an `EAGAIN` means
//! "not yet" rather than "nothing": the receive waits for the daemon (as
//! the kernel's queue would already hold the answers), up to
//! [`ANSWER_TIMEOUT`].

use std::time::{Duration, Instant};

use nl::daemon;

use crate::addr;
use crate::datagram::{self, Class, CLASSIFY_LEN};
use crate::socket::{opt, NlSocket, Reader};
use crate::sys::{app, raw, Errno, Fd, SysResult, UserIov};

/// How long a send or receive waits for the daemon's answers before giving
/// up on them (the daemon is expected to answer well within this).
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Polls in slices this long while waiting, to notice another thread
/// reading the answers.
const SLICE_MS: i32 = 10;

/// A receive's outcome for the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Received {
    /// The return value: bytes copied, or the datagram's full length when
    /// the program passed `MSG_TRUNC`.
    pub ret: usize,
    /// Whether the datagram was longer than the buffers (`MSG_TRUNC` in
    /// `msg_flags`).
    pub truncated: bool,
}

enum Got {
    Data(Received),
    Control(Class),
    Eof,
}

/// Sends the program's datagram (`iov`) to the daemon; `dest` is the
/// caller's address and its length, if any. Returns the bytes sent.
pub fn send(
    sock: &NlSocket,
    fd: Fd,
    iov: &UserIov<'_>,
    dest: Option<(&[u8], usize)>,
    flags: i32,
) -> SysResult<usize> {
    addr::check_destination(sock, dest)?;
    let len = iov.total();
    if len > daemon::MAX_REQUEST - daemon::BARRIER_LEN {
        return Err(Errno(libc::EMSGSIZE));
    }
    sock.set_bound();
    let (seq, ticket) = sock.barrier_sent();
    let barrier = daemon::barrier(seq, sock.port());
    match app::sendmsg(fd, iov, &barrier, flags | libc::MSG_NOSIGNAL) {
        Ok(n) => {
            wait_answered(sock, fd, ticket);
            Ok(n.saturating_sub(daemon::BARRIER_LEN).min(len))
        }
        Err(e) => {
            sock.barrier_unsent();
            Err(e)
        }
    }
}

/// After a send: waits until something is readable or the barrier with
/// `ticket` was answered (by anyone), then drops barrier answers at the
/// head of the queue.
fn wait_answered(sock: &NlSocket, fd: Fd, ticket: u32) {
    let deadline = Instant::now() + ANSWER_TIMEOUT;
    while !sock.barrier_done(ticket) {
        match app::poll(fd, libc::POLLIN, SLICE_MS) {
            Ok(0) | Err(Errno(libc::EINTR)) => {}
            _ => break,
        }
        if Instant::now() >= deadline {
            break;
        }
    }
    eat_barrier_answers(sock, fd, &sock.gate.enter());
}

/// Reads barrier answers off the head of the queue while barriers are
/// pending, so that readiness means data for the program. Only when no
/// other thread is receiving (else that thread takes them).
fn eat_barrier_answers(sock: &NlSocket, fd: Fd, reader: &Reader<'_>) {
    if !sock.barriers_pending() || !reader.try_alone() {
        return;
    }
    while sock.barriers_pending() && peek_class(fd) == Some(Class::BarrierAnswer) {
        consume(fd);
        sock.barrier_answered();
    }
    reader.end_alone();
}

/// The class of the datagram at the head of the queue, if there is one.
fn peek_class(fd: Fd) -> Option<Class> {
    let mut head = [0u8; CLASSIFY_LEN];
    let flags = libc::MSG_PEEK | libc::MSG_DONTWAIT | libc::MSG_TRUNC;
    match raw::recv(fd, &mut head, flags) {
        Ok(n) if n > 0 => {
            let seen = n.min(head.len());
            Some(datagram::classify(&head[..seen], seen, Some(n)))
        }
        _ => None,
    }
}

/// Drops the datagram at the head of the queue.
fn consume(fd: Fd) {
    let mut scratch = [0u8; 1];
    let _ = raw::recv(fd, &mut scratch, libc::MSG_DONTWAIT | libc::MSG_TRUNC);
}

/// After a `MSG_PEEK` showed a control datagram: takes it off the queue,
/// alone, if it is still there; returns its class.
fn take_peeked_control(fd: Fd, reader: &Reader<'_>) -> Option<Class> {
    // Another thread in a receive takes the head itself soon: wait for it
    // to leave, a little, before looking again.
    let mut alone = false;
    for _ in 0..1000 {
        alone = reader.try_alone();
        if alone {
            break;
        }
        raw::sched_yield();
    }
    let class = peek_class(fd).filter(|c| *c != Class::Data);
    if class.is_some() {
        consume(fd);
    }
    if alone {
        reader.end_alone();
    }
    class
}

/// Receives one datagram for the program into `iov`, with the program's
/// `flags`.
///
/// # Errors
/// `ENOBUFS` once for an overrun; `EAGAIN` when nothing is there (and no
/// answer is awaited); any error of the Unix socket.
pub fn recv(sock: &NlSocket, fd: Fd, iov: &UserIov<'_>, flags: i32) -> SysResult<Received> {
    let reader = sock.gate.enter();
    let mut waiting_since: Option<Instant> = None;
    loop {
        let got = if iov.total() < CLASSIFY_LEN {
            recv_small(fd, iov, flags)
        } else {
            recv_direct(fd, iov, flags)
        };
        match got {
            Ok(Got::Data(r)) => {
                if flags & libc::MSG_PEEK == 0 {
                    eat_barrier_answers(sock, fd, &reader);
                }
                return Ok(r);
            }
            Ok(Got::Control(class)) => {
                // Peeked only: take it off the queue first.
                let class = if flags & libc::MSG_PEEK != 0 {
                    match take_peeked_control(fd, &reader) {
                        Some(c) => c,
                        None => continue,
                    }
                } else {
                    class
                };
                if class == Class::BarrierAnswer {
                    sock.barrier_answered();
                } else if !sock.option(opt::NO_ENOBUFS) {
                    return Err(Errno(libc::ENOBUFS));
                }
            }
            Ok(Got::Eof) => {
                sock.forget_barriers();
                return Ok(Received {
                    ret: 0,
                    truncated: false,
                });
            }
            Err(Errno(libc::EAGAIN)) if sock.barriers_pending() => {
                let since = *waiting_since.get_or_insert_with(Instant::now);
                if !wait_readable(sock, fd, since + ANSWER_TIMEOUT) {
                    sock.forget_barriers();
                    return Err(Errno(libc::EAGAIN));
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Waits until the socket is readable or no barrier is pending any more;
/// false once `deadline` passed.
fn wait_readable(sock: &NlSocket, fd: Fd, deadline: Instant) -> bool {
    while sock.barriers_pending() {
        match app::poll(fd, libc::POLLIN, SLICE_MS) {
            Ok(0) | Err(Errno(libc::EINTR)) => {}
            _ => return true,
        }
        if Instant::now() >= deadline {
            return false;
        }
    }
    true
}

fn recv_direct(fd: Fd, iov: &UserIov<'_>, flags: i32) -> SysResult<Got> {
    let (n, msg_flags) = app::recvmsg(fd, iov, flags)?;
    let truncated = msg_flags & libc::MSG_TRUNC != 0;
    if n == 0 && !truncated {
        return Ok(Got::Eof);
    }
    let mut head = [0u8; CLASSIFY_LEN];
    let seen = iov.gather(&mut head, n);
    // n is the full length unless the datagram was cut and the program did
    // not ask for the full length.
    let full = (!truncated || flags & libc::MSG_TRUNC != 0).then_some(n);
    let received = n.min(iov.total());
    match datagram::classify(&head[..seen], received, full) {
        Class::Data => Ok(Got::Data(Received { ret: n, truncated })),
        class => Ok(Got::Control(class)),
    }
}

fn recv_small(fd: Fd, iov: &UserIov<'_>, flags: i32) -> SysResult<Got> {
    let mut local = [0u8; 2 * CLASSIFY_LEN];
    let full = app::recv(fd, &mut local, flags | libc::MSG_TRUNC)?;
    if full == 0 {
        return Ok(Got::Eof);
    }
    let head = &local[..full.min(local.len())];
    match datagram::classify(head, head.len(), Some(full)) {
        Class::Data => {
            let room = iov.total();
            let copied = iov.scatter(&head[..head.len().min(room)]);
            let ret = if flags & libc::MSG_TRUNC != 0 {
                full
            } else {
                copied
            };
            Ok(Got::Data(Received {
                ret,
                truncated: full > room,
            }))
        }
        class => Ok(Got::Control(class)),
    }
}

/// The address a receive reports: the kernel's (`nl_pid` 0), no group.
pub fn source() -> [u8; addr::SOCKADDR_NL_LEN] {
    addr::sockaddr_nl(0, 0)
}
