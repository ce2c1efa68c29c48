//! Waiting on several sources at once: [`Poller`] (an epoll set) and the
//! eventfd behind [`crate::RxSignal::wake_fd`]. Built on `rustix`: no
//! `unsafe` here.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::{epoll, eventfd, EventfdFlags, Timespec};

/// An epoll set: register descriptors with a token, wait for any of them
/// to become readable.
pub struct Poller {
    ep: OwnedFd,
    events: Vec<epoll::Event>,
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller").field("ep", &self.ep).finish()
    }
}

impl Poller {
    /// An empty set.
    pub fn new() -> io::Result<Poller> {
        Ok(Poller {
            ep: epoll::create(epoll::CreateFlags::CLOEXEC)?,
            events: Vec::with_capacity(64),
        })
    }

    /// Watches `fd` for readability (level-triggered), reporting `token`.
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64) -> io::Result<()> {
        epoll::add(
            &self.ep,
            fd,
            epoll::EventData::new_u64(token),
            epoll::EventFlags::IN,
        )?;
        Ok(())
    }

    /// Stops watching `fd`.
    pub fn remove(&self, fd: BorrowedFd<'_>) -> io::Result<()> {
        epoll::delete(&self.ep, fd)?;
        Ok(())
    }

    /// Waits until a watched descriptor is readable or `timeout` passes
    /// (`None`: forever); calls `ready` with each ready token. Returns how
    /// many were ready (0 on timeout). An interrupted wait returns 0.
    pub fn wait(
        &mut self,
        timeout: Option<Duration>,
        mut ready: impl FnMut(u64),
    ) -> io::Result<usize> {
        let ts = timeout.map(|t| Timespec {
            tv_sec: t.as_secs().min(i64::MAX as u64) as i64,
            tv_nsec: t.subsec_nanos() as _,
        });
        self.events.clear();
        match epoll::wait(
            &self.ep,
            rustix::buffer::spare_capacity(&mut self.events),
            ts.as_ref(),
        ) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => return Ok(0),
            Err(e) => return Err(e.into()),
        }
        for ev in &self.events {
            ready(ev.data.u64());
        }
        Ok(self.events.len())
    }
}

/// A non-blocking eventfd: readable while its counter is not zero.
#[derive(Debug)]
pub(crate) struct EventFd(OwnedFd);

impl EventFd {
    pub(crate) fn new() -> io::Result<EventFd> {
        Ok(EventFd(eventfd(
            0,
            EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK,
        )?))
    }

    /// Adds one to the counter (the descriptor becomes readable).
    pub(crate) fn notify(&self) {
        // A full counter (never in practice) is already readable.
        let _ = rustix::io::write(&self.0, &1u64.to_ne_bytes());
    }

    /// Resets the counter to zero.
    pub(crate) fn drain(&self) {
        let mut b = [0u8; 8];
        let _ = rustix::io::read(&self.0, &mut b);
    }

    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// Waits up to `timeout` for `fd` to become readable (`out`: writable).
/// Returns whether it did.
pub(crate) fn wait_fd(fd: BorrowedFd<'_>, out: bool, timeout: Duration) -> bool {
    use rustix::event::{PollFd, PollFlags};
    let flags = if out { PollFlags::OUT } else { PollFlags::IN };
    let mut fds = [PollFd::new(&fd, flags)];
    let ts = Timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    matches!(rustix::event::poll(&mut fds, Some(&ts)), Ok(n) if n > 0)
}
