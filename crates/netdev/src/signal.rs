//! [`RxSignal`]: wake a poll thread when packets arrive on in-process
//! devices.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::{Condvar, Mutex, OnceLock, PoisonError};

use crate::sys::poll::EventFd;
use std::time::{Duration, Instant};

/// A wake-up signal for threads waiting for received packets.
///
/// It counts notifications: a waiter reads [`RxSignal::generation`], polls
/// its queues, and if they were empty calls [`RxSignal::wait_since`] with
/// the generation it read, so that a notification sent between its poll and
/// its wait is not lost. One signal may be attached to many queues
/// ([`crate::Netdev::attach_rx_signal`]).
#[derive(Debug, Default)]
pub struct RxSignal {
    /// Notification count.
    generation: Mutex<u64>,
    /// Woken on every notification.
    cond: Condvar,
    /// Made readable on every notification, once [`RxSignal::wake_fd`]
    /// created it: lets a thread wait for the signal and for kernel
    /// descriptors together.
    wake: OnceLock<EventFd>,
}

impl RxSignal {
    /// A new signal with generation 0.
    pub fn new() -> RxSignal {
        RxSignal::default()
    }

    /// The number of notifications so far.
    pub fn generation(&self) -> u64 {
        *self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records a notification and wakes every waiter.
    pub fn notify(&self) {
        let mut g = self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        *g = g.wrapping_add(1);
        drop(g);
        self.cond.notify_all();
        if let Some(w) = self.wake.get() {
            w.notify();
        }
    }

    /// A descriptor (an eventfd) that becomes readable on every
    /// notification from now on, to wait for it in an epoll set with
    /// kernel-backed queues (see [`crate::Poller`]). It stays readable
    /// until [`RxSignal::clear_wake_fd`]; a waiter clears it after waking
    /// and before polling its queues, so that no notification is lost.
    pub fn wake_fd(&self) -> io::Result<BorrowedFd<'_>> {
        if self.wake.get().is_none() {
            // Losing a race to another caller just drops our eventfd.
            let _ = self.wake.set(EventFd::new()?);
        }
        match self.wake.get() {
            Some(w) => Ok(w.fd()),
            None => Err(io::Error::other("eventfd vanished")),
        }
    }

    /// Makes [`RxSignal::wake_fd`] unreadable again until the next
    /// notification.
    pub fn clear_wake_fd(&self) {
        if let Some(w) = self.wake.get() {
            w.drain();
        }
    }

    /// Waits until the generation differs from `seen` or `timeout` passes.
    /// Returns `true` if it differs (at once, if it already did).
    pub fn wait_since(&self, seen: u64, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut g = self
            .generation
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            if *g != seen {
                return true;
            }
            let left = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return false,
                },
                // A timeout too large to represent: wait in long steps.
                None => Duration::from_secs(3600),
            };
            g = self
                .cond
                .wait_timeout(g, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}
