//! The reactor: one epoll set shared by the worker threads. Every source
//! is registered one-shot, so exactly one worker serves a ready
//! connection until it re-arms it.

use std::os::fd::{AsFd, OwnedFd};
use std::time::Duration;

use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
use rustix::event::Timespec;

/// What a connection waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Requests (and the peer going away).
    Read,
    /// Room to send what waits (and the peer going away).
    Write,
}

/// A ready source.
#[derive(Debug, Clone, Copy)]
pub struct Ready {
    /// Its token.
    pub token: u64,
    /// The peer hung up or the socket failed.
    pub hangup: bool,
}

/// An epoll set.
pub struct Reactor {
    ep: OwnedFd,
}

fn flags(i: Interest) -> EventFlags {
    let base = EventFlags::ONESHOT | EventFlags::RDHUP;
    match i {
        Interest::Read => base | EventFlags::IN,
        Interest::Write => base | EventFlags::OUT,
    }
}

impl Reactor {
    /// An empty set.
    ///
    /// # Errors
    /// The errno of `epoll_create1`.
    pub fn new() -> std::io::Result<Reactor> {
        Ok(Reactor {
            ep: epoll::create(CreateFlags::CLOEXEC)?,
        })
    }

    /// Registers `fd` as `token`, armed for `i`.
    ///
    /// # Errors
    /// The errno of `epoll_ctl`.
    pub fn add(&self, fd: impl AsFd, token: u64, i: Interest) -> std::io::Result<()> {
        Ok(epoll::add(
            &self.ep,
            fd,
            EventData::new_u64(token),
            flags(i),
        )?)
    }

    /// Re-arms `fd` for `i` after it fired.
    pub fn rearm(&self, fd: impl AsFd, token: u64, i: Interest) {
        // Fails only once the fd is gone, when nothing is left to arm.
        let _ = epoll::modify(&self.ep, fd, EventData::new_u64(token), flags(i));
    }

    /// Forgets `fd`.
    pub fn remove(&self, fd: impl AsFd) {
        let _ = epoll::delete(&self.ep, fd);
    }

    /// Waits up to `timeout` for one ready source.
    pub fn wait(&self, timeout: Duration) -> Option<Ready> {
        let mut ev = [Event {
            flags: EventFlags::empty(),
            data: EventData::new_u64(0),
        }];
        let ts = Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: i64::from(timeout.subsec_nanos()),
        };
        match epoll::wait(&self.ep, &mut ev[..], Some(&ts)) {
            Ok(1) => {
                // Event is packed: copy its fields out.
                let (data, flags) = (ev[0].data, ev[0].flags);
                Some(Ready {
                    token: data.u64(),
                    hangup: flags.intersects(EventFlags::HUP | EventFlags::ERR | EventFlags::RDHUP),
                })
            }
            _ => None,
        }
    }
}
