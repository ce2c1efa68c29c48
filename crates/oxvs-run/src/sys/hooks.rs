//! The exported functions that take the place of libc's.
//!
//! Each one looks its descriptor up in [`crate::table`] (one atomic load)
//! and, when the descriptor is not an emulated socket, calls libc's own
//! function with the same arguments. For emulated sockets it turns the raw
//! arguments into safe values (copies, or a [`UserIov`] over the caller's
//! buffers) and runs the safe code under [`guard`], which turns a panic
//! into `EIO` rather than letting it unwind into C.
//!
//! Pointer arguments are the caller's contract with libc (valid for the
//! lengths given); every SAFETY note below leans on it.

use core::panic::AssertUnwindSafe;

use libc::{c_uint, mmsghdr, msghdr, sockaddr, ssize_t, timespec};

use super::{c_int, c_void, iovec, socklen_t};
use super::{copy_in, real, set_errno, write_sockaddr, Errno, SysResult, UserIov};
use crate::lifecycle::{self, Plan};
use crate::socket::{Kind, NlSocket};
use crate::sockopt::{self, Route};
use crate::{addr, msg, netfilter, table};

/// Runs `f`, turning its error into `-1`/errno and a panic into `EIO`.
fn guard<T>(fail: T, f: impl FnOnce() -> SysResult<T>) -> T {
    match std::panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => {
            set_errno(e);
            fail
        }
        Err(_) => {
            set_errno(Errno(libc::EIO));
            fail
        }
    }
}

/// Runs bookkeeping after a call that succeeded, swallowing a panic.
fn quietly(f: impl FnOnce()) {
    let _ = std::panic::catch_unwind(AssertUnwindSafe(f));
}

/// After a failed emulated `read`/`write`: true (and the descriptor
/// forgotten) if it failed with `ENOTSOCK`, i.e. the descriptor was closed
/// behind the library's back (a close it could not see) and is now a file
/// or a pipe: the call then goes to libc.
fn stale(r: ssize_t, fd: c_int) -> bool {
    if r < 0 && super::errno() == Errno(libc::ENOTSOCK) {
        table::detach(fd);
        return true;
    }
    false
}

fn enosys<T>(fail: T) -> T {
    set_errno(Errno(libc::ENOSYS));
    fail
}

/// Copies a caller's address of `len` bytes (at most 128).
///
/// # Safety
/// `addr` null or readable for `len` bytes.
unsafe fn addr_in(addr: *const sockaddr, len: socklen_t) -> ([u8; 128], usize) {
    let mut buf = [0u8; 128];
    // SAFETY: the caller's address is readable for len bytes.
    unsafe { copy_in(addr.cast(), len as usize, &mut buf) };
    (buf, len as usize)
}

/// The daemon socket behind `fd`, or the undecided netfilter socket with
/// its id.
enum Owned {
    Daemon(&'static NlSocket),
    Netfilter(table::SocketId, &'static NlSocket),
}

#[inline]
fn owned(fd: c_int) -> Option<Owned> {
    let (id, s) = table::lookup(fd)?;
    match s.kind() {
        Kind::Daemon => Some(Owned::Daemon(s)),
        Kind::NetfilterUndecided => Some(Owned::Netfilter(id, s)),
        Kind::Free => None,
    }
}

// ---------------------------------------------------------------------------
// Creation and addresses.

#[no_mangle]
pub unsafe extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    let Some(real) = real::socket() else {
        return enosys(-1);
    };
    match lifecycle::plan(domain, ty, protocol) {
        Plan::Pass => {
            // SAFETY: plain integers.
            let fd = unsafe { real(domain, ty, protocol) };
            // A new descriptor is no emulated socket, whatever the table
            // remembered about its number.
            table::detach(fd);
            fd
        }
        Plan::Daemon => guard(-1, || lifecycle::create_daemon(ty, protocol)),
        Plan::Netfilter => {
            // SAFETY: plain integers.
            let fd = unsafe { real(domain, ty, protocol) };
            if fd >= 0 {
                quietly(|| lifecycle::register_netfilter(fd, ty, protocol));
            }
            fd
        }
    }
}

#[no_mangle]
pub unsafe extern "C" fn bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    let Some(real) = real::bind() else {
        return enosys(-1);
    };
    match owned(fd) {
        Some(Owned::Daemon(s)) => {
            // SAFETY: the caller's address, len bytes.
            let (a, n) = unsafe { addr_in(addr, len) };
            guard(-1, || addr::bind(s, &a, n).map(|()| 0))
        }
        Some(Owned::Netfilter(_, s)) => {
            // SAFETY: forwarding the caller's arguments.
            let r = unsafe { real(fd, addr, len) };
            if r == 0 {
                // SAFETY: as above.
                let (a, n) = unsafe { addr_in(addr, len) };
                if let Ok((pid, groups)) = addr::parse_nl(&a, n) {
                    quietly(|| netfilter::record_bind(s, pid, groups));
                }
            }
            r
        }
        // SAFETY: forwarding the caller's arguments.
        None => unsafe { real(fd, addr, len) },
    }
}

#[no_mangle]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    let Some(real) = real::connect() else {
        return enosys(-1);
    };
    match owned(fd) {
        Some(Owned::Daemon(s)) => {
            // SAFETY: the caller's address, len bytes.
            let (a, n) = unsafe { addr_in(addr, len) };
            guard(-1, || addr::connect(s, &a, n).map(|()| 0))
        }
        Some(Owned::Netfilter(_, s)) => {
            // SAFETY: forwarding the caller's arguments.
            let r = unsafe { real(fd, addr, len) };
            if r == 0 {
                s.set_bound();
            }
            r
        }
        // SAFETY: forwarding the caller's arguments.
        None => unsafe { real(fd, addr, len) },
    }
}

#[no_mangle]
pub unsafe extern "C" fn getsockname(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    match owned(fd) {
        Some(Owned::Daemon(s)) => {
            if addr.is_null() || len.is_null() {
                set_errno(Errno(libc::EFAULT));
                return -1;
            }
            // SAFETY: the caller's address buffer of *len bytes.
            unsafe { write_sockaddr(addr, len, &addr::name(s)) };
            0
        }
        _ => match real::getsockname() {
            // SAFETY: forwarding the caller's arguments.
            Some(real) => unsafe { real(fd, addr, len) },
            None => enosys(-1),
        },
    }
}

#[no_mangle]
pub unsafe extern "C" fn getpeername(fd: c_int, addr: *mut sockaddr, len: *mut socklen_t) -> c_int {
    match owned(fd) {
        Some(Owned::Daemon(s)) => {
            if addr.is_null() || len.is_null() {
                set_errno(Errno(libc::EFAULT));
                return -1;
            }
            // SAFETY: the caller's address buffer of *len bytes.
            unsafe { write_sockaddr(addr, len, &addr::peer(s)) };
            0
        }
        _ => match real::getpeername() {
            // SAFETY: forwarding the caller's arguments.
            Some(real) => unsafe { real(fd, addr, len) },
            None => enosys(-1),
        },
    }
}

// ---------------------------------------------------------------------------
// Options.

#[no_mangle]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    let Some(real) = real::setsockopt() else {
        return enosys(-1);
    };
    match owned(fd) {
        Some(Owned::Daemon(s)) if sockopt::set_route(level, name) == Route::Emulate => {
            if val.is_null() && len as usize >= core::mem::size_of::<c_int>() {
                set_errno(Errno(libc::EFAULT));
                return -1;
            }
            let mut buf = [0u8; 64];
            // SAFETY: the caller's value, len bytes.
            let n = unsafe { copy_in(val, len as usize, &mut buf) };
            guard(-1, || {
                sockopt::set(s, fd, level, name, &buf[..n]).map(|()| 0)
            })
        }
        Some(Owned::Netfilter(_, s)) => {
            // SAFETY: forwarding the caller's arguments.
            let r = unsafe { real(fd, level, name, val, len) };
            if r == 0 {
                let mut buf = [0u8; 64];
                // SAFETY: as above.
                let n = unsafe { copy_in(val, len as usize, &mut buf) };
                quietly(|| netfilter::record_option(s, level, name, &buf[..n]));
            }
            r
        }
        // SAFETY: forwarding the caller's arguments.
        _ => unsafe { real(fd, level, name, val, len) },
    }
}

#[no_mangle]
pub unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    let Some(real) = real::getsockopt() else {
        return enosys(-1);
    };
    match owned(fd) {
        Some(Owned::Daemon(s)) if sockopt::get_route(level, name) == Route::Emulate => {
            if len.is_null() {
                set_errno(Errno(libc::EFAULT));
                return -1;
            }
            // SAFETY: len is the caller's, readable.
            let room = unsafe { *len } as usize;
            guard(-1, || {
                let out = sockopt::get(s, level, name, room)?;
                if val.is_null() && !out.bytes.is_empty() {
                    return Err(Errno(libc::EFAULT));
                }
                let n = out.bytes.len().min(room);
                // SAFETY: val holds `room` writable bytes, len is writable.
                unsafe {
                    if n > 0 {
                        core::ptr::copy_nonoverlapping(out.bytes.as_ptr(), val.cast::<u8>(), n);
                    }
                    *len = out.len as socklen_t;
                }
                Ok(0)
            })
        }
        // SAFETY: forwarding the caller's arguments.
        _ => unsafe { real(fd, level, name, val, len) },
    }
}

// ---------------------------------------------------------------------------
// Sending.

/// Send path for owned sockets; `None` when the call goes to libc.
///
/// # Safety
/// `iov` valid as `UserIov::from_raw` requires; `dest` null or readable for
/// `dest_len` bytes.
unsafe fn send_owned(
    fd: c_int,
    iov: *const iovec,
    n_iov: usize,
    dest: *const sockaddr,
    dest_len: socklen_t,
    flags: c_int,
) -> Option<ssize_t> {
    let sock = match owned(fd)? {
        Owned::Daemon(s) => s,
        Owned::Netfilter(id, s) => {
            // SAFETY: caller's iovecs.
            let iov = unsafe { UserIov::from_raw(iov, n_iov) };
            let mut head = [0u8; 16];
            let seen = iov.gather(&mut head, 16);
            // 1: now a daemon connection; 0: the kernel's; -1: errno set.
            match guard(-1, || {
                netfilter::decide(id, s, &head[..seen]).map(i32::from)
            }) {
                1 => s,
                0 => return None,
                _ => return Some(-1),
            }
        }
    };
    // SAFETY: caller's iovecs and address.
    let (iov, (a, n)) = unsafe { (UserIov::from_raw(iov, n_iov), addr_in(dest, dest_len)) };
    let dest = (!dest.is_null() && n > 0).then_some((&a[..], n));
    Some(guard(-1, || {
        msg::send(sock, fd, &iov, dest, flags).map(|n| n as ssize_t)
    }))
}

#[no_mangle]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, len: usize, flags: c_int) -> ssize_t {
    let one = iovec {
        iov_base: buf as *mut c_void,
        iov_len: len,
    };
    // SAFETY: the caller's buffer of len bytes.
    if let Some(r) = unsafe { send_owned(fd, &one, 1, core::ptr::null(), 0, flags) } {
        return r;
    }
    match real::send() {
        // SAFETY: forwarding the caller's arguments.
        Some(real) => unsafe { real(fd, buf, len, flags) },
        None => enosys(-1),
    }
}

#[no_mangle]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    len: usize,
    flags: c_int,
    dest: *const sockaddr,
    dest_len: socklen_t,
) -> ssize_t {
    let one = iovec {
        iov_base: buf as *mut c_void,
        iov_len: len,
    };
    // SAFETY: the caller's buffer and address.
    if let Some(r) = unsafe { send_owned(fd, &one, 1, dest, dest_len, flags) } {
        return r;
    }
    match real::sendto() {
        // SAFETY: forwarding the caller's arguments.
        Some(real) => unsafe { real(fd, buf, len, flags, dest, dest_len) },
        None => enosys(-1),
    }
}

#[no_mangle]
pub unsafe extern "C" fn sendmsg(fd: c_int, m: *const msghdr, flags: c_int) -> ssize_t {
    if !m.is_null() && table::lookup(fd).is_some() {
        // SAFETY: the caller's msghdr.
        let h = unsafe { &*m };
        // SAFETY: its iovecs and name.
        let r = unsafe {
            send_owned(
                fd,
                h.msg_iov,
                h.msg_iovlen,
                h.msg_name.cast(),
                h.msg_namelen,
                flags,
            )
        };
        if let Some(r) = r {
            return r;
        }
    }
    match real::sendmsg() {
        // SAFETY: forwarding the caller's arguments.
        Some(real) => unsafe { real(fd, m, flags) },
        None => enosys(-1),
    }
}

#[no_mangle]
pub unsafe extern "C" fn sendmmsg(fd: c_int, v: *mut mmsghdr, n: c_uint, flags: c_int) -> c_int {
    if v.is_null() || table::lookup(fd).is_none() {
        return match real::sendmmsg() {
            // SAFETY: forwarding the caller's arguments.
            Some(real) => unsafe { real(fd, v, n, flags) },
            None => enosys(-1),
        };
    }
    let mut sent = 0;
    for i in 0..n as usize {
        // SAFETY: the caller's array of n mmsghdr.
        let e = unsafe { &mut *v.add(i) };
        // SAFETY: as in sendmsg.
        let r = unsafe { sendmsg(fd, &e.msg_hdr, flags) };
        if r < 0 {
            return if sent == 0 { -1 } else { sent };
        }
        e.msg_len = r as c_uint;
        sent += 1;
    }
    sent
}

#[no_mangle]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, len: usize) -> ssize_t {
    if table::lookup(fd).is_some() {
        let one = iovec {
            iov_base: buf as *mut c_void,
            iov_len: len,
        };
        // SAFETY: the caller's buffer.
        if let Some(r) = unsafe { send_owned(fd, &one, 1, core::ptr::null(), 0, 0) } {
            if !stale(r, fd) {
                return r;
            }
        }
    }
    match real::write() {
        // SAFETY: forwarding the caller's arguments.
        Some(real) => unsafe { real(fd, buf, len) },
        None => enosys(-1),
    }
}

#[no_mangle]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    if n >= 0 && table::lookup(fd).is_some() {
        // SAFETY: the caller's iovecs.
        if let Some(r) = unsafe { send_owned(fd, iov, n as usize, core::ptr::null(), 0, 0) } {
            if !stale(r, fd) {
                return r;
            }
        }
    }
    match real::writev() {
        // SAFETY: forwarding the caller's arguments.
        Some(real) => unsafe { real(fd, iov, n) },
        None => enosys(-1),
    }
}

// ---------------------------------------------------------------------------
// Receiving.

#[inline]
fn daemon_socket(fd: c_int) -> Option<&'static NlSocket> {
    table::daemon(fd)
}

/// Receives for a daemon socket into the caller's iovecs.
///
/// # Safety
/// `iov` valid as `UserIov::from_raw` requires.
unsafe fn recv_owned(
    s: &NlSocket,
    fd: c_int,
    iov: *const iovec,
    n_iov: usize,
    flags: c_int,
) -> SysResult<msg::Received> {
    // SAFETY: the caller's iovecs.
    let iov = unsafe { UserIov::from_raw(iov, n_iov) };
    msg::recv(s, fd, &iov, flags)
}

#[no_mangle]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, len: usize, flags: c_int) -> ssize_t {
    if let Some(s) = daemon_socket(fd) {
        let one = iovec {
            iov_base: buf,
            iov_len: len,
        };
        return guard(-1, || {
            // SAFETY: the caller's buffer.
            unsafe { recv_owned(s, fd, &one, 1, flags) }.map(|r| r.ret as ssize_t)
        });
    }
    match real::recv() {
        // SAFETY: forwarding the caller's arguments.
        Some(real) => unsafe { real(fd, buf, len, flags) },
        None => enosys(-1),
    }
}

#[no_mangle]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    flags: c_int,
    src: *mut sockaddr,
    src_len: *mut socklen_t,
) -> ssize_t {
    if let Some(s) = daemon_socket(fd) {
        let one = iovec {
            iov_base: buf,
            iov_len: len,
        };
        return guard(-1, || {
            // SAFETY: the caller's buffer.
            let r = unsafe { recv_owned(s, fd, &one, 1, flags) }?;
            // SAFETY: the caller's address buffer.
            unsafe { write_sockaddr(src, src_len, &msg::source()) };
            Ok(r.ret as ssize_t)
        });
    }
    match real::recvfrom() {
        // SAFETY: forwarding the caller's arguments.
        Some(real) => unsafe { real(fd, buf, len, flags, src, src_len) },
        None => enosys(-1),
    }
}

#[no_mangle]
pub unsafe extern "C" fn recvmsg(fd: c_int, m: *mut msghdr, flags: c_int) -> ssize_t {
    if let (Some(s), false) = (daemon_socket(fd), m.is_null()) {
        return guard(-1, || {
            // SAFETY: the caller's msghdr.
            let h = unsafe { &mut *m };
            // SAFETY: its iovecs.
            let r = unsafe { recv_owned(s, fd, h.msg_iov, h.msg_iovlen, flags) }?;
            if !h.msg_name.is_null() {
                // SAFETY: msg_name holds msg_namelen bytes.
                unsafe { write_sockaddr(h.msg_name.cast(), &mut h.msg_namelen, &msg::source()) };
            }
            h.msg_controllen = 0;
            h.msg_flags = if r.truncated { libc::MSG_TRUNC } else { 0 };
            Ok(r.ret as ssize_t)
        });
    }
    match real::recvmsg() {
        // SAFETY: forwarding the caller's arguments.
        Some(real) => unsafe { real(fd, m, flags) },
        None => enosys(-1),
    }
}

#[no_mangle]
pub unsafe extern "C" fn recvmmsg(
    fd: c_int,
    v: *mut mmsghdr,
    n: c_uint,
    flags: c_int,
    timeout: *mut timespec,
) -> c_int {
    if v.is_null() || daemon_socket(fd).is_none() {
        return match real::recvmmsg() {
            // SAFETY: forwarding the caller's arguments.
            Some(real) => unsafe { real(fd, v, n, flags, timeout) },
            None => enosys(-1),
        };
    }
    // The timeout is not applied: each datagram after the first is taken
    // only if already there.
    let mut got = 0;
    let mut f = flags & !libc::MSG_WAITFORONE;
    for i in 0..n as usize {
        // SAFETY: the caller's array of n mmsghdr.
        let e = unsafe { &mut *v.add(i) };
        // SAFETY: as in recvmsg.
        let r = unsafe { recvmsg(fd, &mut e.msg_hdr, f) };
        if r < 0 {
            return if got == 0 { -1 } else { got };
        }
        e.msg_len = r as c_uint;
        got += 1;
        if flags & libc::MSG_WAITFORONE != 0 {
            f |= libc::MSG_DONTWAIT;
        }
    }
    got
}

#[no_mangle]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, len: usize) -> ssize_t {
    if let Some(s) = daemon_socket(fd) {
        let one = iovec {
            iov_base: buf,
            iov_len: len,
        };
        let r = guard(-1, || {
            // SAFETY: the caller's buffer.
            unsafe { recv_owned(s, fd, &one, 1, 0) }.map(|r| r.ret as ssize_t)
        });
        if !stale(r, fd) {
            return r;
        }
    }
    match real::read() {
        // SAFETY: forwarding the caller's arguments.
        Some(real) => unsafe { real(fd, buf, len) },
        None => enosys(-1),
    }
}

#[no_mangle]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const iovec, n: c_int) -> ssize_t {
    if let (Some(s), true) = (daemon_socket(fd), n >= 0) {
        let r = guard(-1, || {
            // SAFETY: the caller's iovecs.
            unsafe { recv_owned(s, fd, iov, n as usize, 0) }.map(|r| r.ret as ssize_t)
        });
        if !stale(r, fd) {
            return r;
        }
    }
    match real::readv() {
        // SAFETY: forwarding the caller's arguments.
        Some(real) => unsafe { real(fd, iov, n) },
        None => enosys(-1),
    }
}

#[no_mangle]
pub unsafe extern "C" fn __recv_chk(
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    buflen: usize,
    flags: c_int,
) -> ssize_t {
    if len <= buflen && daemon_socket(fd).is_some() {
        // SAFETY: as recv.
        return unsafe { recv(fd, buf, len, flags) };
    }
    match real::__recv_chk() {
        // SAFETY: forwarding the caller's arguments (libc aborts on overflow).
        Some(real) => unsafe { real(fd, buf, len, buflen, flags) },
        None => enosys(-1),
    }
}

#[no_mangle]
pub unsafe extern "C" fn __recvfrom_chk(
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    buflen: usize,
    flags: c_int,
    src: *mut sockaddr,
    src_len: *mut socklen_t,
) -> ssize_t {
    if len <= buflen && daemon_socket(fd).is_some() {
        // SAFETY: as recvfrom.
        return unsafe { recvfrom(fd, buf, len, flags, src, src_len) };
    }
    match real::__recvfrom_chk() {
        // SAFETY: forwarding the caller's arguments.
        Some(real) => unsafe { real(fd, buf, len, buflen, flags, src, src_len) },
        None => enosys(-1),
    }
}

#[no_mangle]
pub unsafe extern "C" fn __read_chk(
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    buflen: usize,
) -> ssize_t {
    if len <= buflen && daemon_socket(fd).is_some() {
        // SAFETY: as read.
        return unsafe { read(fd, buf, len) };
    }
    match real::__read_chk() {
        // SAFETY: forwarding the caller's arguments.
        Some(real) => unsafe { real(fd, buf, len, buflen) },
        None => enosys(-1),
    }
}

// ---------------------------------------------------------------------------
// Descriptors.

#[no_mangle]
pub unsafe extern "C" fn close(fd: c_int) -> c_int {
    lifecycle::closing(fd);
    match real::close() {
        // SAFETY: plain integer.
        Some(real) => unsafe { real(fd) },
        None => enosys(-1),
    }
}

#[no_mangle]
pub unsafe extern "C" fn close_range(first: c_uint, last: c_uint, flags: c_int) -> c_int {
    let Some(real) = real::close_range() else {
        return enosys(-1);
    };
    if flags & libc::CLOSE_RANGE_CLOEXEC as c_int == 0 {
        let last = last.min(c_int::MAX as c_uint) as c_int;
        if first <= c_int::MAX as c_uint {
            lifecycle::closing_range(first as c_int, last);
        }
    }
    // SAFETY: plain integers.
    unsafe { real(first, last, flags) }
}

#[no_mangle]
pub unsafe extern "C" fn closefrom(low: c_int) {
    lifecycle::closing_range(low.max(0), c_int::MAX);
    if let Some(real) = real::closefrom() {
        // SAFETY: plain integer.
        unsafe { real(low) }
    }
}

#[no_mangle]
pub unsafe extern "C" fn dup(old: c_int) -> c_int {
    let Some(real) = real::dup() else {
        return enosys(-1);
    };
    // SAFETY: plain integer.
    let new = unsafe { real(old) };
    if new >= 0 {
        lifecycle::duplicated(old, new);
    }
    new
}

#[no_mangle]
pub unsafe extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    let Some(real) = real::dup2() else {
        return enosys(-1);
    };
    // SAFETY: plain integers.
    let r = unsafe { real(old, new) };
    if r >= 0 {
        lifecycle::duplicated(old, r);
    }
    r
}

#[no_mangle]
pub unsafe extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    let Some(real) = real::dup3() else {
        return enosys(-1);
    };
    // SAFETY: plain integers.
    let r = unsafe { real(old, new, flags) };
    if r >= 0 {
        lifecycle::duplicated(old, r);
    }
    r
}

/// `fcntl` is C-variadic; every command's argument is one integer or one
/// pointer, which the x86-64 and AArch64 Linux calling conventions pass
/// exactly as a third fixed argument of pointer size.
#[no_mangle]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    let Some(real) = real::fcntl() else {
        return enosys(-1);
    };
    // SAFETY: forwarding the caller's arguments.
    let r = unsafe { real(fd, cmd, arg) };
    if r >= 0 && (cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC) {
        lifecycle::duplicated(fd, r);
    }
    r
}

/// `fcntl64`: as [`fcntl`].
#[no_mangle]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, arg: usize) -> c_int {
    let Some(real) = real::fcntl64().or_else(real::fcntl) else {
        return enosys(-1);
    };
    // SAFETY: forwarding the caller's arguments.
    let r = unsafe { real(fd, cmd, arg) };
    if r >= 0 && (cmd == libc::F_DUPFD || cmd == libc::F_DUPFD_CLOEXEC) {
        lifecycle::duplicated(fd, r);
    }
    r
}
