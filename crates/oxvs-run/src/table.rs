//! Which file descriptors are emulated netlink sockets.
//!
//! Every `read`, `write`, `recvmsg` and `close` of the process asks this
//! table first, so a lookup is one atomic load for descriptors below
//! [`DIRECT`]: an array of slots holding a socket id (plus one; 0 = not
//! ours). Descriptors from [`DIRECT`] up live in a small locked list.
//!
//! Socket states live in an arena of chunks that are allocated on demand
//! and never freed, so a lookup hands out `&'static` state with no
//! reference counting on the hot path. A state is recycled once the last
//! descriptor referring to it is closed; a thread still using a descriptor
//! that another thread closes is racing the kernel's fd table too.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::socket::{Kind, NlSocket};
use crate::sys::{Fd, OnceBox, SpinLock};

/// Descriptors below this are looked up without locks.
pub const DIRECT: usize = 1 << 16;
const CHUNK: usize = 256;
const CHUNKS: usize = 256;

static SLOTS: [AtomicU32; DIRECT] = [const { AtomicU32::new(0) }; DIRECT];
static OVERFLOW: SpinLock<Vec<(Fd, u32)>> = SpinLock::new(Vec::new());
static ARENA: [OnceBox<[NlSocket; CHUNK]>; CHUNKS] = [const { OnceBox::new() }; CHUNKS];
static NEXT_ID: AtomicU32 = AtomicU32::new(0);
static FREE_IDS: SpinLock<Vec<u32>> = SpinLock::new(Vec::new());

/// A socket id: an index into the arena.
pub type SocketId = u32;

fn state(id: SocketId) -> Option<&'static NlSocket> {
    let id = id as usize;
    ARENA.get(id / CHUNK)?.get()?.get(id % CHUNK)
}

fn slot_of(fd: Fd) -> Option<&'static AtomicU32> {
    usize::try_from(fd).ok().and_then(|i| SLOTS.get(i))
}

fn id_of(fd: Fd) -> Option<SocketId> {
    if fd < 0 {
        return None;
    }
    let v = match slot_of(fd) {
        Some(s) => s.load(Ordering::Acquire),
        None => OVERFLOW
            .lock()
            .iter()
            .find(|e| e.0 == fd)
            .map_or(0, |e| e.1),
    };
    v.checked_sub(1)
}

/// The socket behind `fd`, if `fd` is one of ours.
#[inline]
pub fn lookup(fd: Fd) -> Option<(SocketId, &'static NlSocket)> {
    let id = id_of(fd)?;
    let s = state(id)?;
    (s.kind() != Kind::Free).then_some((id, s))
}

/// The socket behind `fd` if it is a daemon connection.
#[inline]
pub fn daemon(fd: Fd) -> Option<&'static NlSocket> {
    lookup(fd)
        .map(|(_, s)| s)
        .filter(|s| s.kind() == Kind::Daemon)
}

/// Allocates a fresh socket state (no descriptor refers to it yet).
pub fn alloc() -> Option<(SocketId, &'static NlSocket)> {
    let reused = FREE_IDS.lock().pop();
    let id = match reused {
        Some(id) => id,
        None => {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            if id as usize >= CHUNK * CHUNKS {
                NEXT_ID.fetch_sub(1, Ordering::Relaxed);
                return None;
            }
            ARENA[id as usize / CHUNK].get_or_init(|| {
                let v: Vec<NlSocket> = (0..CHUNK).map(|_| NlSocket::new()).collect();
                match v.into_boxed_slice().try_into() {
                    Ok(chunk) => chunk,
                    Err(_) => unreachable!("CHUNK elements"),
                }
            });
            id
        }
    };
    let s = state(id)?;
    s.reset();
    Some((id, s))
}

/// Gives back a socket state that no descriptor refers to.
fn recycle(id: SocketId, s: &NlSocket) {
    s.reset();
    FREE_IDS.lock().push(id);
}

fn store(fd: Fd, value: u32) -> u32 {
    match slot_of(fd) {
        Some(slot) => slot.swap(value, Ordering::AcqRel),
        None => {
            let mut list = OVERFLOW.lock();
            let old = list
                .iter()
                .position(|e| e.0 == fd)
                .map_or(0, |i| list.swap_remove(i).1);
            if value != 0 {
                list.push((fd, value));
            }
            old
        }
    }
}

fn drop_ref(old: u32) {
    if let Some(id) = old.checked_sub(1) {
        if let Some(s) = state(id) {
            if s.release() {
                recycle(id, s);
            }
        }
    }
}

/// Makes `fd` refer to socket `id` (replacing whatever the slot held).
pub fn attach(fd: Fd, id: SocketId) {
    let Some(s) = state(id) else { return };
    if fd < 0 {
        return;
    }
    s.acquire();
    drop_ref(store(fd, id + 1));
}

/// Forgets `fd` (closed, or now something else).
pub fn detach(fd: Fd) {
    if fd < 0 {
        return;
    }
    // Fast path: most closed descriptors were never ours.
    if slot_of(fd).is_some_and(|s| s.load(Ordering::Relaxed) == 0) {
        return;
    }
    drop_ref(store(fd, 0));
}

/// Forgets every descriptor in `first..=last`.
pub fn detach_range(first: Fd, last: Fd) {
    let first = first.max(0);
    if last < first {
        return;
    }
    let direct_end = (last as i64).min(DIRECT as i64 - 1);
    for fd in first as i64..=direct_end {
        detach(fd as Fd);
    }
    let extra: Vec<Fd> = OVERFLOW
        .lock()
        .iter()
        .map(|e| e.0)
        .filter(|&fd| fd >= first && fd <= last)
        .collect();
    for fd in extra {
        detach(fd);
    }
}

/// Every descriptor that refers to socket `id`.
pub fn fds_of(id: SocketId) -> Vec<Fd> {
    let want = id + 1;
    let mut out: Vec<Fd> = SLOTS
        .iter()
        .enumerate()
        .filter(|(_, s)| s.load(Ordering::Relaxed) == want)
        .map(|(fd, _)| fd as Fd)
        .collect();
    out.extend(OVERFLOW.lock().iter().filter(|e| e.1 == want).map(|e| e.0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // The table is process-global: each test uses its own descriptor range.

    #[test]
    fn attach_lookup_detach_recycles() {
        let (id, s) = alloc().unwrap();
        s.set_daemon(5, 6);
        attach(1000, id);
        attach(1001, id);
        assert_eq!(lookup(1000).map(|x| x.0), Some(id));
        assert_eq!(fds_of(id), vec![1000, 1001]);
        detach(1000);
        assert!(lookup(1000).is_none());
        assert_eq!(daemon(1001).map(|s| s.port()), Some(5));
        detach(1001);
        // The last reference gone, the state is free again.
        assert_eq!(s.kind(), Kind::Free);
        assert!(lookup(1001).is_none());
    }

    #[test]
    fn big_descriptors_use_the_overflow_list() {
        let fd = DIRECT as Fd + 7;
        let (id, s) = alloc().unwrap();
        s.set_daemon(9, 9);
        attach(fd, id);
        assert_eq!(lookup(fd).map(|x| x.0), Some(id));
        detach_range(fd - 1, fd + 1);
        assert!(lookup(fd).is_none());
        assert_eq!(s.kind(), Kind::Free);
    }

    #[test]
    fn attaching_over_a_stale_slot_releases_it() {
        let (a, sa) = alloc().unwrap();
        let (b, sb) = alloc().unwrap();
        sa.set_daemon(1, 1);
        sb.set_daemon(2, 2);
        attach(2000, a);
        attach(2000, b);
        assert_eq!(sa.kind(), Kind::Free);
        assert_eq!(lookup(2000).map(|x| x.0), Some(b));
        detach(2000);
        assert!(lookup(-1).is_none());
    }
}
