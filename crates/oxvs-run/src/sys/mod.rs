//! Every FFI call and every `unsafe` block of the library.
//!
//! The rest of the crate is safe Rust; it reaches the operating system only
//! through the safe functions and types here:
//!
//! - [`real`]: libc's own functions, found once with `dlsym(RTLD_NEXT)`. The
//!   hooks forward every call on a file descriptor the library does not own
//!   to them, so errno and thread cancellation stay libc's, and the library
//!   calls them for I/O it does on a program's behalf (a `recvmsg` on a
//!   daemon connection).
//! - [`raw`]: system calls made directly, for the library's own I/O (the
//!   greeting, the side connection): they never re-enter a hook and are
//!   never cancellation points.
//! - [`UserIov`], [`write_sockaddr`]: the caller's buffers, read and written
//!   with copies, never turned into Rust references to the caller's memory.
//! - [`SpinLock`], [`OnceBox`]: the two synchronisation primitives, safe to
//!   use after `fork` in a child of a multithreaded parent.
//! - `hooks`: the exported `socket`, `recvmsg`, `close`... themselves.
//!
//! # Invariants
//!
//! - A function pointer from [`real`] is only ever made from the non-null
//!   address `dlsym` gave for that name, and its Rust type spells the C
//!   prototype of that libc function.
//! - Lengths passed to the kernel come from Rust slices, or from the caller's
//!   own arguments (whose validity is the caller's contract with libc).
//! - Nothing here panics on the way from a hook to the kernel and back.

// The exported hooks exist only in the shared library: in this crate's own
// unit-test binary they would replace libc's functions for the test runner.
#[cfg(not(test))]
mod hooks;

use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::ptr;
use core::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::ffi::CStr;

pub use libc::{c_int, c_void, iovec, socklen_t};

/// A file descriptor.
pub type Fd = c_int;

/// A positive errno value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub c_int);

/// A system call's result.
pub type SysResult<T> = Result<T, Errno>;

/// The calling thread's errno.
pub fn errno() -> Errno {
    // SAFETY: __errno_location returns the calling thread's errno slot,
    // valid for the thread's lifetime.
    Errno(unsafe { *libc::__errno_location() })
}

/// Sets the calling thread's errno.
pub fn set_errno(e: Errno) {
    // SAFETY: as in `errno`.
    unsafe { *libc::__errno_location() = e.0 }
}

fn check(ret: isize) -> SysResult<usize> {
    if ret < 0 {
        Err(errno())
    } else {
        Ok(ret as usize)
    }
}

/// libc's functions, as the next object after this library defines them.
pub mod real {
    use super::*;
    use core::sync::atomic::AtomicUsize;

    fn resolve(cache: &AtomicUsize, name: &CStr) -> usize {
        let p = cache.load(Ordering::Relaxed);
        if p != 0 {
            return p;
        }
        // SAFETY: dlsym with RTLD_NEXT and a NUL-terminated name has no
        // other precondition; it returns null or the symbol's address.
        let p = unsafe { libc::dlsym(libc::RTLD_NEXT, name.as_ptr()) } as usize;
        cache.store(p, Ordering::Relaxed);
        p
    }

    macro_rules! real_fns {
        ($( $name:ident: fn($($arg:ty),*) -> $ret:ty; )*) => {$(
            #[doc = concat!("libc's `", stringify!($name), "`, if it has one.")]
            pub fn $name() -> Option<unsafe extern "C" fn($($arg),*) -> $ret> {
                static CACHE: AtomicUsize = AtomicUsize::new(0);
                let p = resolve(&CACHE, {
                    const NAME: &CStr = match CStr::from_bytes_with_nul(
                        concat!(stringify!($name), "\0").as_bytes()) {
                        Ok(n) => n,
                        Err(_) => panic!("bad symbol name"),
                    };
                    NAME
                });
                // SAFETY: `p` is the non-null address dlsym gave for this
                // libc function, whose C prototype the type spells.
                (p != 0).then(|| unsafe {
                    core::mem::transmute::<usize, unsafe extern "C" fn($($arg),*) -> $ret>(p)
                })
            }
        )*};
    }

    real_fns! {
        socket: fn(c_int, c_int, c_int) -> c_int;
        bind: fn(c_int, *const libc::sockaddr, socklen_t) -> c_int;
        connect: fn(c_int, *const libc::sockaddr, socklen_t) -> c_int;
        getsockname: fn(c_int, *mut libc::sockaddr, *mut socklen_t) -> c_int;
        getpeername: fn(c_int, *mut libc::sockaddr, *mut socklen_t) -> c_int;
        setsockopt: fn(c_int, c_int, c_int, *const c_void, socklen_t) -> c_int;
        getsockopt: fn(c_int, c_int, c_int, *mut c_void, *mut socklen_t) -> c_int;
        send: fn(c_int, *const c_void, usize, c_int) -> isize;
        sendto: fn(c_int, *const c_void, usize, c_int, *const libc::sockaddr, socklen_t) -> isize;
        sendmsg: fn(c_int, *const libc::msghdr, c_int) -> isize;
        sendmmsg: fn(c_int, *mut libc::mmsghdr, libc::c_uint, c_int) -> c_int;
        recv: fn(c_int, *mut c_void, usize, c_int) -> isize;
        recvfrom: fn(c_int, *mut c_void, usize, c_int, *mut libc::sockaddr, *mut socklen_t) -> isize;
        recvmsg: fn(c_int, *mut libc::msghdr, c_int) -> isize;
        recvmmsg: fn(c_int, *mut libc::mmsghdr, libc::c_uint, c_int, *mut libc::timespec) -> c_int;
        read: fn(c_int, *mut c_void, usize) -> isize;
        write: fn(c_int, *const c_void, usize) -> isize;
        readv: fn(c_int, *const iovec, c_int) -> isize;
        writev: fn(c_int, *const iovec, c_int) -> isize;
        close: fn(c_int) -> c_int;
        close_range: fn(libc::c_uint, libc::c_uint, c_int) -> c_int;
        closefrom: fn(c_int) -> ();
        dup: fn(c_int) -> c_int;
        dup2: fn(c_int, c_int) -> c_int;
        dup3: fn(c_int, c_int, c_int) -> c_int;
        __recv_chk: fn(c_int, *mut c_void, usize, usize, c_int) -> isize;
        __recvfrom_chk: fn(c_int, *mut c_void, usize, usize, c_int, *mut libc::sockaddr, *mut socklen_t) -> isize;
        __read_chk: fn(c_int, *mut c_void, usize, usize) -> isize;
        poll: fn(*mut libc::pollfd, libc::nfds_t, c_int) -> c_int;
    }

    /// libc's `fcntl` (C-variadic), if it has one.
    pub fn fcntl() -> Option<unsafe extern "C" fn(c_int, c_int, ...) -> c_int> {
        static CACHE: AtomicUsize = AtomicUsize::new(0);
        let p = resolve(&CACHE, c"fcntl");
        // SAFETY: as in the functions above; fcntl's prototype is
        // `int fcntl(int, int, ...)`.
        (p != 0).then(|| unsafe {
            core::mem::transmute::<usize, unsafe extern "C" fn(c_int, c_int, ...) -> c_int>(p)
        })
    }

    /// libc's `fcntl64` (C-variadic), if it has one.
    pub fn fcntl64() -> Option<unsafe extern "C" fn(c_int, c_int, ...) -> c_int> {
        static CACHE: AtomicUsize = AtomicUsize::new(0);
        let p = resolve(&CACHE, c"fcntl64");
        // SAFETY: as for `fcntl`.
        (p != 0).then(|| unsafe {
            core::mem::transmute::<usize, unsafe extern "C" fn(c_int, c_int, ...) -> c_int>(p)
        })
    }
}

/// Calls the library makes on a program's behalf, through libc's own
/// functions (blocking calls stay cancellation points, as the program's
/// own call would be).
pub mod app {
    use super::*;

    /// `recvmsg` into the caller's buffers, with no address and no control
    /// data; returns the byte count and `msg_flags`.
    pub fn recvmsg(fd: Fd, iov: &UserIov<'_>, flags: c_int) -> SysResult<(usize, c_int)> {
        let f = real::recvmsg().ok_or(Errno(libc::ENOSYS))?;
        // SAFETY: an all-zero msghdr is valid (null name and control).
        let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_iov = iov.iov.as_ptr() as *mut iovec;
        msg.msg_iovlen = iov.iov.len() as _;
        // SAFETY: the iovecs are the caller's (valid by the contract of
        // `UserIov::from_raw`), and msg lives across the call.
        let n = check(unsafe { f(fd, &mut msg, flags) })?;
        Ok((n, msg.msg_flags))
    }

    /// `recv` into a buffer of the library's.
    pub fn recv(fd: Fd, buf: &mut [u8], flags: c_int) -> SysResult<usize> {
        let f = real::recv().ok_or(Errno(libc::ENOSYS))?;
        // SAFETY: buf is valid for buf.len() bytes.
        check(unsafe { f(fd, buf.as_mut_ptr().cast(), buf.len(), flags) })
    }

    /// `sendmsg` of the caller's buffers followed by `tail`, as one
    /// datagram, with no address and no control data.
    pub fn sendmsg(fd: Fd, iov: &UserIov<'_>, tail: &[u8], flags: c_int) -> SysResult<usize> {
        let f = real::sendmsg().ok_or(Errno(libc::ENOSYS))?;
        const INLINE: usize = 16;
        let mut inline = [iovec {
            iov_base: ptr::null_mut(),
            iov_len: 0,
        }; INLINE];
        let mut heap = Vec::new();
        let mut gathered = Vec::new();
        let n = iov.iov.len();
        let vec: &mut [iovec] = if n < INLINE {
            inline[..n].copy_from_slice(iov.iov);
            &mut inline[..=n]
        } else if n < libc::UIO_MAXIOV as usize {
            heap.extend_from_slice(iov.iov);
            heap.push(inline[0]);
            &mut heap[..]
        } else {
            // No room for one more iovec: one gathered copy instead.
            gathered.resize(iov.total(), 0);
            iov.gather(&mut gathered, usize::MAX);
            inline[0] = iovec {
                iov_base: gathered.as_mut_ptr().cast(),
                iov_len: gathered.len(),
            };
            &mut inline[..2]
        };
        let last = vec.len() - 1;
        vec[last] = iovec {
            iov_base: tail.as_ptr() as *mut c_void,
            iov_len: tail.len(),
        };
        // SAFETY: as in `recvmsg`.
        let mut msg: libc::msghdr = unsafe { core::mem::zeroed() };
        msg.msg_iov = vec.as_mut_ptr();
        msg.msg_iovlen = vec.len() as _;
        // SAFETY: every iovec is the caller's (valid by contract), or
        // points into `tail`/`gathered`, all alive across the call; the
        // kernel only reads them.
        check(unsafe { f(fd, &msg, flags) })
    }

    /// `poll` on one descriptor; returns its `revents` (0 on timeout).
    pub fn poll(fd: Fd, events: i16, timeout_ms: c_int) -> SysResult<i16> {
        let f = real::poll().ok_or(Errno(libc::ENOSYS))?;
        let mut p = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let n = check(unsafe { f(&mut p, 1, timeout_ms) } as isize)?;
        Ok(if n == 0 { 0 } else { p.revents })
    }

    /// `setsockopt` with the value in `val`.
    pub fn setsockopt(fd: Fd, level: c_int, name: c_int, val: &[u8]) -> SysResult<()> {
        let f = real::setsockopt().ok_or(Errno(libc::ENOSYS))?;
        // SAFETY: val is valid for val.len() bytes.
        check(unsafe { f(fd, level, name, val.as_ptr().cast(), val.len() as socklen_t) } as isize)
            .map(drop)
    }

    /// `getsockopt` of an `int` option.
    pub fn getsockopt_int(fd: Fd, level: c_int, name: c_int) -> SysResult<c_int> {
        let f = real::getsockopt().ok_or(Errno(libc::ENOSYS))?;
        let mut v: c_int = 0;
        let mut len = core::mem::size_of::<c_int>() as socklen_t;
        // SAFETY: v and len are valid for the sizes given.
        check(unsafe { f(fd, level, name, (&mut v as *mut c_int).cast(), &mut len) } as isize)?;
        Ok(v)
    }

    /// `close` of a descriptor the library created.
    pub fn close(fd: Fd) {
        if let Some(f) = real::close() {
            // SAFETY: closing an integer has no memory-safety precondition.
            unsafe { f(fd) };
        }
    }
}

/// Direct system calls, for the library's own I/O.
pub mod raw {
    use super::*;

    /// `getpid()`.
    pub fn getpid() -> u32 {
        // SAFETY: no preconditions.
        unsafe { libc::syscall(libc::SYS_getpid) as u32 }
    }

    /// `geteuid()`.
    pub fn geteuid() -> u32 {
        // SAFETY: no preconditions.
        unsafe { libc::syscall(libc::SYS_geteuid) as u32 }
    }

    /// `socket(domain, ty, protocol)`.
    pub fn socket(domain: c_int, ty: c_int, protocol: c_int) -> SysResult<Fd> {
        // SAFETY: no memory arguments.
        check(unsafe { libc::syscall(libc::SYS_socket, domain, ty, protocol) } as isize)
            .map(|fd| fd as Fd)
    }

    /// `connect()` to the Unix socket at `path`.
    pub fn connect_unix(fd: Fd, path: &[u8]) -> SysResult<()> {
        // SAFETY: all-zero is a valid sockaddr_un.
        let mut sa: libc::sockaddr_un = unsafe { core::mem::zeroed() };
        if path.is_empty() || path.len() >= sa.sun_path.len() || path.contains(&0) {
            return Err(Errno(libc::ENAMETOOLONG));
        }
        sa.sun_family = libc::AF_UNIX as _;
        for (d, s) in sa.sun_path.iter_mut().zip(path) {
            *d = *s as libc::c_char;
        }
        let len = core::mem::size_of::<libc::sa_family_t>() + path.len() + 1;
        loop {
            // SAFETY: sa is valid for `len` bytes.
            let r = unsafe {
                libc::syscall(libc::SYS_connect, fd, &sa as *const libc::sockaddr_un, len)
            };
            match check(r as isize) {
                Err(Errno(libc::EINTR)) => continue,
                r => return r.map(drop),
            }
        }
    }

    /// `recvfrom(fd, buf, flags)` with no address.
    pub fn recv(fd: Fd, buf: &mut [u8], flags: c_int) -> SysResult<usize> {
        // SAFETY: buf is valid for buf.len() bytes; null address.
        let r = unsafe {
            libc::syscall(
                libc::SYS_recvfrom,
                fd,
                buf.as_mut_ptr(),
                buf.len(),
                flags,
                ptr::null_mut::<libc::sockaddr>(),
                ptr::null_mut::<socklen_t>(),
            )
        };
        check(r as isize)
    }

    /// `sendto(fd, buf, flags)` with no address.
    pub fn send(fd: Fd, buf: &[u8], flags: c_int) -> SysResult<usize> {
        // SAFETY: buf is valid for buf.len() bytes; null address.
        let r = unsafe {
            libc::syscall(
                libc::SYS_sendto,
                fd,
                buf.as_ptr(),
                buf.len(),
                flags,
                ptr::null::<libc::sockaddr>(),
                0,
            )
        };
        check(r as isize)
    }

    /// `ppoll` on one descriptor for up to `timeout_ms`; returns `revents`.
    pub fn poll(fd: Fd, events: i16, timeout_ms: u32) -> SysResult<i16> {
        let mut p = libc::pollfd {
            fd,
            events,
            revents: 0,
        };
        let ts = libc::timespec {
            tv_sec: (timeout_ms / 1000) as _,
            tv_nsec: ((timeout_ms % 1000) * 1_000_000) as _,
        };
        // SAFETY: one valid pollfd and a valid timespec; no signal mask.
        let r = unsafe {
            libc::syscall(
                libc::SYS_ppoll,
                &mut p as *mut libc::pollfd,
                1,
                &ts as *const libc::timespec,
                ptr::null::<libc::sigset_t>(),
                0,
            )
        };
        let n = check(r as isize)?;
        Ok(if n == 0 { 0 } else { p.revents })
    }

    /// `close(fd)`.
    pub fn close(fd: Fd) {
        // SAFETY: no memory arguments.
        unsafe { libc::syscall(libc::SYS_close, fd) };
    }

    /// `dup3(old, new, flags)`.
    pub fn dup3(old: Fd, new: Fd, flags: c_int) -> SysResult<()> {
        // SAFETY: no memory arguments.
        check(unsafe { libc::syscall(libc::SYS_dup3, old, new, flags) } as isize).map(drop)
    }

    /// `fcntl(fd, cmd)` for the commands without argument.
    pub fn fcntl_get(fd: Fd, cmd: c_int) -> SysResult<c_int> {
        // SAFETY: F_GETFD / F_GETFL take no memory argument.
        check(unsafe { libc::syscall(libc::SYS_fcntl, fd, cmd, 0) } as isize).map(|v| v as c_int)
    }

    /// `fcntl(fd, cmd, arg)` for the commands with an integer argument.
    pub fn fcntl_set(fd: Fd, cmd: c_int, arg: c_int) -> SysResult<()> {
        // SAFETY: F_SETFD / F_SETFL take an integer.
        check(unsafe { libc::syscall(libc::SYS_fcntl, fd, cmd, arg) } as isize).map(drop)
    }

    /// `setsockopt` with the value in `val`.
    pub fn setsockopt(fd: Fd, level: c_int, name: c_int, val: &[u8]) -> SysResult<()> {
        // SAFETY: val is valid for val.len() bytes.
        let r = unsafe {
            libc::syscall(
                libc::SYS_setsockopt,
                fd,
                level,
                name,
                val.as_ptr(),
                val.len(),
            )
        };
        check(r as isize).map(drop)
    }

    /// `getsockopt` of an `int` option.
    pub fn getsockopt_int(fd: Fd, level: c_int, name: c_int) -> SysResult<c_int> {
        let mut v: c_int = 0;
        let mut len = core::mem::size_of::<c_int>() as socklen_t;
        // SAFETY: v and len are valid for the sizes given.
        let r = unsafe {
            libc::syscall(
                libc::SYS_getsockopt,
                fd,
                level,
                name,
                &mut v as *mut c_int,
                &mut len as *mut socklen_t,
            )
        };
        check(r as isize)?;
        Ok(v)
    }

    /// Writes `line` to standard error, ignoring failures.
    pub fn write_stderr(line: &[u8]) {
        // SAFETY: line is valid for line.len() bytes.
        unsafe { libc::syscall(libc::SYS_write, 2, line.as_ptr(), line.len()) };
    }

    /// Gives up the processor (spin lock back-off).
    pub fn sched_yield() {
        // SAFETY: no preconditions.
        unsafe { libc::syscall(libc::SYS_sched_yield) };
    }
}

static PID: AtomicU32 = AtomicU32::new(0);
static ATFORK: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

extern "C" fn refresh_pid_in_child() {
    PID.store(raw::getpid(), Ordering::Relaxed);
}

/// This process's id, cached; a `fork` handler refreshes it in the child.
pub fn pid() -> u32 {
    let p = PID.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    if !ATFORK.swap(true, Ordering::AcqRel) {
        // SAFETY: registers a child handler that only stores an integer.
        unsafe { libc::pthread_atfork(None, None, Some(refresh_pid_in_child)) };
    }
    let p = raw::getpid();
    PID.store(p, Ordering::Relaxed);
    p
}

/// The value of environment variable `name`, copied.
pub fn getenv(name: &CStr) -> Option<Vec<u8>> {
    // SAFETY: getenv reads the environment; the returned pointer, if not
    // null, is a NUL-terminated string valid until the environment changes,
    // and is copied at once.
    unsafe {
        let p = libc::getenv(name.as_ptr());
        (!p.is_null()).then(|| CStr::from_ptr(p).to_bytes().to_vec())
    }
}

/// A caller's scatter/gather list (`msg_iov`, or one buffer).
///
/// The buffers are touched only by the kernel or by copies made here, never
/// through Rust references, so overlapping or aliased buffers stay the
/// caller's business as they are with libc.
pub struct UserIov<'a> {
    iov: &'a [iovec],
}

impl<'a> UserIov<'a> {
    /// Wraps `n` iovecs at `iov`.
    ///
    /// # Safety
    ///
    /// `iov` must point to `n` readable iovecs (or `n` must be 0), each
    /// describing memory valid for reads and writes of `iov_len` bytes, for
    /// the lifetime `'a`: what `recvmsg`/`sendmsg` require of their caller.
    pub unsafe fn from_raw(iov: *const iovec, n: usize) -> Self {
        if n == 0 || iov.is_null() {
            return UserIov { iov: &[] };
        }
        // SAFETY: the caller guarantees n readable iovecs at iov.
        let iov = unsafe { core::slice::from_raw_parts(iov, n) };
        UserIov { iov }
    }

    /// Total bytes described (saturating).
    pub fn total(&self) -> usize {
        self.iov
            .iter()
            .fold(0usize, |t, v| t.saturating_add(v.iov_len))
    }

    /// Copies the first `min(out.len(), limit)` bytes of the buffers into
    /// `out`; returns how many it copied.
    pub fn gather(&self, out: &mut [u8], limit: usize) -> usize {
        let want = out.len().min(limit);
        let mut done = 0;
        for v in self.iov {
            if done == want {
                break;
            }
            let n = v.iov_len.min(want - done);
            if n > 0 {
                // SAFETY: v describes readable memory of iov_len >= n bytes
                // (contract of from_raw); out has room for n more bytes.
                unsafe {
                    ptr::copy_nonoverlapping(v.iov_base as *const u8, out.as_mut_ptr().add(done), n)
                };
            }
            done += n;
        }
        done
    }

    /// Copies `data` into the buffers, in order, as far as they reach;
    /// returns how many bytes it copied.
    pub fn scatter(&self, data: &[u8]) -> usize {
        let mut done = 0;
        for v in self.iov {
            if done == data.len() {
                break;
            }
            let n = v.iov_len.min(data.len() - done);
            if n > 0 {
                // SAFETY: v describes writable memory of iov_len >= n bytes
                // (contract of from_raw); data has n more bytes.
                unsafe {
                    ptr::copy_nonoverlapping(data.as_ptr().add(done), v.iov_base as *mut u8, n)
                };
            }
            done += n;
        }
        done
    }
}

/// Writes an address as `getsockname`/`recvfrom` do: the first
/// `min(*len, addr.len())` bytes at `dst`, then the full length in `*len`.
/// Null pointers write nothing.
///
/// # Safety
///
/// `len` must be null or valid for reads and writes, and `dst` null or valid
/// for writes of `*len` bytes.
pub unsafe fn write_sockaddr(dst: *mut libc::sockaddr, len: *mut socklen_t, addr: &[u8]) {
    if dst.is_null() || len.is_null() {
        return;
    }
    // SAFETY: the caller guarantees len is valid and dst holds *len bytes.
    unsafe {
        let n = (*len as usize).min(addr.len());
        ptr::copy_nonoverlapping(addr.as_ptr(), dst.cast::<u8>(), n);
        *len = addr.len() as socklen_t;
    }
}

/// Copies up to `out.len()` bytes from `src` (a caller's argument).
///
/// # Safety
///
/// `src` must be null or valid for reads of `len` bytes.
pub unsafe fn copy_in(src: *const c_void, len: usize, out: &mut [u8]) -> usize {
    if src.is_null() {
        return 0;
    }
    let n = len.min(out.len());
    // SAFETY: src readable for len >= n bytes (caller), out holds n bytes.
    unsafe { ptr::copy_nonoverlapping(src.cast::<u8>(), out.as_mut_ptr(), n) };
    n
}

/// A spin lock that survives `fork`.
///
/// The lock word holds the process id of its holder. A child forked while
/// another thread of its parent held the lock finds a foreign process id in
/// it (that thread does not exist in the child): it takes the lock over and
/// starts from `T::default()` (the data may have been half-updated), leaking
/// what was there. Waiters spin, then yield; the critical sections are short
/// and off the hot paths.
pub struct SpinLock<T> {
    owner: AtomicU32,
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out the data to one holder at a time.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: moving the lock moves the data.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T: Default> SpinLock<T> {
    /// A free lock holding `v`.
    pub const fn new(v: T) -> Self {
        SpinLock {
            owner: AtomicU32::new(0),
            data: UnsafeCell::new(v),
        }
    }

    /// Takes the lock.
    pub fn lock(&self) -> SpinGuard<'_, T> {
        let me = pid();
        let mut spins = 0u32;
        loop {
            match self
                .owner
                .compare_exchange_weak(0, me, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return SpinGuard { lock: self },
                Err(cur) if cur != 0 && cur != me => {
                    if self
                        .owner
                        .compare_exchange(cur, me, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    {
                        // SAFETY: the lock is ours now (taken over from a
                        // thread that does not exist in this process).
                        let data = unsafe { &mut *self.data.get() };
                        core::mem::forget(core::mem::take(data));
                        return SpinGuard { lock: self };
                    }
                }
                Err(_) => {
                    spins += 1;
                    if spins < 100 {
                        core::hint::spin_loop();
                    } else {
                        raw::sched_yield();
                    }
                }
            }
        }
    }
}

/// Holder of a [`SpinLock`].
pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, exclusively.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.owner.store(0, Ordering::Release);
    }
}

/// A value allocated on first use and never freed, readable without locks.
pub struct OnceBox<T> {
    ptr: AtomicPtr<T>,
}

// SAFETY: shares &T across threads once published; T itself must be Sync.
unsafe impl<T: Sync + Send> Sync for OnceBox<T> {}

impl<T> OnceBox<T> {
    /// Empty.
    pub const fn new() -> Self {
        OnceBox {
            ptr: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// The value, if allocated.
    pub fn get(&self) -> Option<&T> {
        let p = self.ptr.load(Ordering::Acquire);
        // SAFETY: a non-null pointer was published by `get_or_init` from
        // Box::into_raw and is never freed.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// The value, allocating it with `init` if needed.
    pub fn get_or_init(&self, init: impl FnOnce() -> Box<T>) -> &T {
        if let Some(v) = self.get() {
            return v;
        }
        let fresh = Box::into_raw(init());
        match self
            .ptr
            .compare_exchange(ptr::null_mut(), fresh, Ordering::AcqRel, Ordering::Acquire)
        {
            // SAFETY: just published, never freed.
            Ok(_) => unsafe { &*fresh },
            Err(won) => {
                // SAFETY: `fresh` was never published; this is its only
                // owner. `won` was published by another thread.
                unsafe {
                    drop(Box::from_raw(fresh));
                    &*won
                }
            }
        }
    }
}

impl<T> Default for OnceBox<T> {
    fn default() -> Self {
        Self::new()
    }
}
