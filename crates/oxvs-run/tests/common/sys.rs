//! The probes' system calls: thin wrappers over libc's functions (called
//! through the dynamic linker, so that under `oxvs-run` they reach the
//! interposer exactly as a C program's calls do). All of the tests' unsafe
//! code is here. Errors are positive errno values.

#![allow(dead_code)]

use std::mem::{size_of, zeroed};

pub type Fd = i32;
pub type Res<T> = Result<T, i32>;

pub fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn check(r: isize) -> Res<usize> {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as usize)
    }
}

pub fn socket(domain: i32, ty: i32, protocol: i32) -> Res<Fd> {
    // SAFETY: integers only.
    check(unsafe { libc::socket(domain, ty, protocol) } as isize).map(|f| f as Fd)
}

pub fn close(fd: Fd) -> Res<()> {
    // SAFETY: integers only.
    check(unsafe { libc::close(fd) } as isize).map(drop)
}

pub fn setsockopt_bytes(fd: Fd, level: i32, name: i32, val: &[u8]) -> Res<()> {
    // SAFETY: val is valid for its length.
    let r = unsafe { libc::setsockopt(fd, level, name, val.as_ptr().cast(), val.len() as u32) };
    check(r as isize).map(drop)
}

pub fn setsockopt_int(fd: Fd, level: i32, name: i32, v: i32) -> Res<()> {
    setsockopt_bytes(fd, level, name, &v.to_ne_bytes())
}

/// `getsockopt` with `room` bytes of buffer: the bytes and the returned length.
pub fn getsockopt_bytes(fd: Fd, level: i32, name: i32, room: usize) -> Res<(Vec<u8>, usize)> {
    let mut buf = vec![0u8; room];
    let mut len = room as libc::socklen_t;
    // SAFETY: buf holds room bytes; len is valid.
    let r = unsafe { libc::getsockopt(fd, level, name, buf.as_mut_ptr().cast(), &mut len) };
    check(r as isize)?;
    Ok((buf, len as usize))
}

pub fn getsockopt_int(fd: Fd, level: i32, name: i32) -> Res<i32> {
    let (b, len) = getsockopt_bytes(fd, level, name, 4)?;
    assert_eq!(len, 4, "getsockopt({level}, {name}) length");
    Ok(i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

pub fn sockaddr_nl(pid: u32, groups: u32) -> libc::sockaddr_nl {
    // SAFETY: all-zero is a valid sockaddr_nl.
    let mut a: libc::sockaddr_nl = unsafe { zeroed() };
    a.nl_family = libc::AF_NETLINK as u16;
    a.nl_pid = pid;
    a.nl_groups = groups;
    a
}

pub fn bind_nl(fd: Fd, pid: u32, groups: u32) -> Res<()> {
    let a = sockaddr_nl(pid, groups);
    // SAFETY: a is a valid sockaddr_nl of the size given.
    let r = unsafe {
        libc::bind(
            fd,
            (&a as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    check(r as isize).map(drop)
}

pub fn connect_nl(fd: Fd, pid: u32, groups: u32) -> Res<()> {
    let a = sockaddr_nl(pid, groups);
    // SAFETY: as in bind_nl.
    let r = unsafe {
        libc::connect(
            fd,
            (&a as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    check(r as isize).map(drop)
}

/// `getsockname` with `room` bytes: the address bytes and the length.
pub fn getsockname(fd: Fd, room: usize) -> Res<(Vec<u8>, usize)> {
    let mut buf = vec![0u8; room.max(1)];
    let mut len = room as libc::socklen_t;
    // SAFETY: buf holds room bytes.
    let r = unsafe { libc::getsockname(fd, buf.as_mut_ptr().cast(), &mut len) };
    check(r as isize)?;
    buf.truncate(room);
    Ok((buf, len as usize))
}

pub fn getpeername(fd: Fd, room: usize) -> Res<(Vec<u8>, usize)> {
    let mut buf = vec![0u8; room.max(1)];
    let mut len = room as libc::socklen_t;
    // SAFETY: buf holds room bytes.
    let r = unsafe { libc::getpeername(fd, buf.as_mut_ptr().cast(), &mut len) };
    check(r as isize)?;
    buf.truncate(room);
    Ok((buf, len as usize))
}

/// A `sockaddr_nl` read back: family, pid, groups.
pub fn parse_nl(addr: &[u8]) -> (u16, u32, u32) {
    let g = |r: std::ops::Range<usize>| addr.get(r).map(|b| b.to_vec()).unwrap_or_default();
    let fam = g(0..2);
    let pid = g(4..8);
    let groups = g(8..12);
    (
        if fam.len() == 2 {
            u16::from_ne_bytes([fam[0], fam[1]])
        } else {
            0
        },
        if pid.len() == 4 {
            u32::from_ne_bytes(pid.try_into().unwrap())
        } else {
            0
        },
        if groups.len() == 4 {
            u32::from_ne_bytes(groups.try_into().unwrap())
        } else {
            0
        },
    )
}

/// `sendmsg` of `parts` as one datagram, to `dest` (pid, groups) if given.
pub fn sendmsg(fd: Fd, parts: &[&[u8]], dest: Option<(u32, u32)>, flags: i32) -> Res<usize> {
    let iov: Vec<libc::iovec> = parts
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut _,
            iov_len: p.len(),
        })
        .collect();
    let mut addr = dest.map(|(p, g)| sockaddr_nl(p, g));
    // SAFETY: all-zero msghdr is valid.
    let mut m: libc::msghdr = unsafe { zeroed() };
    m.msg_iov = iov.as_ptr() as *mut _;
    m.msg_iovlen = iov.len();
    if let Some(a) = addr.as_mut() {
        m.msg_name = (a as *mut libc::sockaddr_nl).cast();
        m.msg_namelen = size_of::<libc::sockaddr_nl>() as u32;
    }
    // SAFETY: iov and addr outlive the call.
    check(unsafe { libc::sendmsg(fd, &m, flags) })
}

pub fn send(fd: Fd, buf: &[u8], flags: i32) -> Res<usize> {
    // SAFETY: buf valid.
    check(unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags) })
}

pub fn sendto(fd: Fd, buf: &[u8], flags: i32, pid: u32, groups: u32) -> Res<usize> {
    let a = sockaddr_nl(pid, groups);
    // SAFETY: buf and a valid.
    check(unsafe {
        libc::sendto(
            fd,
            buf.as_ptr().cast(),
            buf.len(),
            flags,
            (&a as *const libc::sockaddr_nl).cast(),
            size_of::<libc::sockaddr_nl>() as u32,
        )
    })
}

pub fn write(fd: Fd, buf: &[u8]) -> Res<usize> {
    // SAFETY: buf valid.
    check(unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) })
}

pub fn read(fd: Fd, len: usize) -> Res<Vec<u8>> {
    let mut buf = vec![0u8; len];
    // SAFETY: buf valid.
    let n = check(unsafe { libc::read(fd, buf.as_mut_ptr().cast(), len) })?;
    buf.truncate(n);
    Ok(buf)
}

/// `recv` into a `len`-byte buffer: the return value and the buffer.
pub fn recv(fd: Fd, len: usize, flags: i32) -> Res<(usize, Vec<u8>)> {
    let mut buf = vec![0u8; len.max(1)];
    // SAFETY: buf holds at least len bytes.
    let n = check(unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), len, flags) })?;
    buf.truncate(len.min(n));
    Ok((n, buf))
}

/// `recvfrom`: the return value, the data, the address bytes and length.
pub fn recvfrom(fd: Fd, len: usize, flags: i32) -> Res<(usize, Vec<u8>, Vec<u8>, usize)> {
    let mut buf = vec![0u8; len.max(1)];
    let mut addr = [0u8; 128];
    let mut alen = 128 as libc::socklen_t;
    // SAFETY: buffers valid for their sizes.
    let n = check(unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            len,
            flags,
            addr.as_mut_ptr().cast(),
            &mut alen,
        )
    })?;
    buf.truncate(len.min(n));
    Ok((
        n,
        buf,
        addr[..(alen as usize).min(128)].to_vec(),
        alen as usize,
    ))
}

/// What `recvmsg` gave.
#[derive(Debug)]
pub struct RecvMsg {
    pub ret: usize,
    pub flags: i32,
    pub namelen: usize,
    pub name: Vec<u8>,
    pub controllen: usize,
    /// The buffers, in order.
    pub bufs: Vec<Vec<u8>>,
}

impl RecvMsg {
    /// The bytes received, across the buffers.
    pub fn data(&self) -> Vec<u8> {
        let mut d: Vec<u8> = self.bufs.concat();
        d.truncate(self.ret.min(d.len()));
        d
    }
}

/// `recvmsg` into buffers of `sizes`, with a 128-byte name buffer and a
/// 64-byte control buffer (as OVS passes).
pub fn recvmsg(fd: Fd, sizes: &[usize], flags: i32) -> Res<RecvMsg> {
    let mut bufs: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0u8; n]).collect();
    let mut iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    let mut name = [0u8; 128];
    let mut control = [0u8; 64];
    // SAFETY: all-zero msghdr is valid.
    let mut m: libc::msghdr = unsafe { zeroed() };
    m.msg_iov = iov.as_mut_ptr();
    m.msg_iovlen = iov.len();
    m.msg_name = name.as_mut_ptr().cast();
    m.msg_namelen = 128;
    m.msg_control = control.as_mut_ptr().cast();
    m.msg_controllen = 64;
    // SAFETY: all buffers outlive the call.
    let ret = check(unsafe { libc::recvmsg(fd, &mut m, flags) })?;
    Ok(RecvMsg {
        ret,
        flags: m.msg_flags,
        namelen: m.msg_namelen as usize,
        name: name[..(m.msg_namelen as usize).min(128)].to_vec(),
        controllen: m.msg_controllen,
        bufs,
    })
}

/// `poll` for `POLLIN`: the revents (0 on timeout).
pub fn poll_in(fd: Fd, timeout_ms: i32) -> i16 {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let n = unsafe { libc::poll(&mut p, 1, timeout_ms) };
    if n <= 0 {
        0
    } else {
        p.revents
    }
}

/// How many events a fresh epoll instance watching `fd` for `EPOLLIN`
/// reports within `timeout_ms`.
pub fn epoll_in(fd: Fd, timeout_ms: i32) -> usize {
    // SAFETY: integers and valid event structs.
    unsafe {
        let ep = libc::epoll_create1(libc::EPOLL_CLOEXEC);
        assert!(ep >= 0);
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: fd as u64,
        };
        assert_eq!(libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev), 0);
        let mut out = [libc::epoll_event { events: 0, u64: 0 }; 4];
        let n = libc::epoll_wait(ep, out.as_mut_ptr(), 4, timeout_ms);
        libc::close(ep);
        n.max(0) as usize
    }
}

pub fn dup(fd: Fd) -> Res<Fd> {
    // SAFETY: integers only.
    check(unsafe { libc::dup(fd) } as isize).map(|f| f as Fd)
}

pub fn dup2(old: Fd, new: Fd) -> Res<Fd> {
    // SAFETY: integers only.
    check(unsafe { libc::dup2(old, new) } as isize).map(|f| f as Fd)
}

pub fn fcntl_dupfd_cloexec(fd: Fd, min: i32) -> Res<Fd> {
    // SAFETY: integers only.
    check(unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, min) } as isize).map(|f| f as Fd)
}

pub fn fcntl_get(fd: Fd, cmd: i32) -> Res<i32> {
    // SAFETY: integers only.
    check(unsafe { libc::fcntl(fd, cmd) } as isize).map(|f| f as i32)
}

pub fn pipe() -> Res<(Fd, Fd)> {
    let mut p = [0i32; 2];
    // SAFETY: p holds two ints.
    check(unsafe { libc::pipe(p.as_mut_ptr()) } as isize)?;
    Ok((p[0], p[1]))
}

pub fn getpid() -> u32 {
    std::process::id()
}

/// `fork()`: 0 in the child.
pub fn fork() -> Res<i32> {
    // SAFETY: the child only runs code that is safe after fork in this
    // test (it ends with `exit_now`).
    check(unsafe { libc::fork() } as isize).map(|p| p as i32)
}

/// Waits for `pid`; its exit status (or 128 + signal).
pub fn wait(pid: i32) -> i32 {
    let mut status = 0;
    // SAFETY: status valid.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    }
}

/// Ends the process at once (a forked child of the test harness).
pub fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and has no preconditions.
    unsafe { libc::_exit(code) }
}

/// `execvp(argv[0], argv)`; returns only on failure.
pub fn exec(argv: &[&str]) -> i32 {
    let c: Vec<std::ffi::CString> = argv
        .iter()
        .map(|a| std::ffi::CString::new(*a).unwrap())
        .collect();
    let mut p: Vec<*const libc::c_char> = c.iter().map(|a| a.as_ptr()).collect();
    p.push(std::ptr::null());
    // SAFETY: a NULL-terminated argv of valid C strings.
    unsafe { libc::execvp(p[0], p.as_ptr()) };
    errno()
}

/// `sendmmsg` of one datagram per buffer: how many were sent.
pub fn sendmmsg(fd: Fd, datagrams: &[&[u8]], flags: i32) -> Res<usize> {
    let mut iov: Vec<libc::iovec> = datagrams
        .iter()
        .map(|d| libc::iovec {
            iov_base: d.as_ptr() as *mut _,
            iov_len: d.len(),
        })
        .collect();
    // SAFETY: all-zero mmsghdr is valid.
    let mut v: Vec<libc::mmsghdr> = (0..datagrams.len()).map(|_| unsafe { zeroed() }).collect();
    for (m, i) in v.iter_mut().zip(iov.iter_mut()) {
        m.msg_hdr.msg_iov = i;
        m.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: v and iov outlive the call.
    check(unsafe { libc::sendmmsg(fd, v.as_mut_ptr(), v.len() as u32, flags) } as isize)
}

/// `recvmmsg` of up to `n` datagrams of at most `size` bytes: each
/// datagram's bytes.
pub fn recvmmsg(fd: Fd, n: usize, size: usize, flags: i32) -> Res<Vec<Vec<u8>>> {
    let mut bufs: Vec<Vec<u8>> = (0..n).map(|_| vec![0u8; size]).collect();
    let mut iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: all-zero mmsghdr is valid.
    let mut v: Vec<libc::mmsghdr> = (0..n).map(|_| unsafe { zeroed() }).collect();
    for (m, i) in v.iter_mut().zip(iov.iter_mut()) {
        m.msg_hdr.msg_iov = i;
        m.msg_hdr.msg_iovlen = 1;
    }
    // SAFETY: v, iov and bufs outlive the call.
    let got =
        check(
            unsafe { libc::recvmmsg(fd, v.as_mut_ptr(), n as u32, flags, std::ptr::null_mut()) }
                as isize,
        )?;
    Ok(bufs
        .into_iter()
        .zip(&v)
        .take(got)
        .map(|(mut b, m)| {
            b.truncate(m.msg_len as usize);
            b
        })
        .collect())
}

/// `writev` of `parts`.
pub fn writev(fd: Fd, parts: &[&[u8]]) -> Res<usize> {
    let iov: Vec<libc::iovec> = parts
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut _,
            iov_len: p.len(),
        })
        .collect();
    // SAFETY: iov valid.
    check(unsafe { libc::writev(fd, iov.as_ptr(), iov.len() as i32) })
}

/// `readv` into buffers of `sizes`: the count and the buffers.
pub fn readv(fd: Fd, sizes: &[usize]) -> Res<(usize, Vec<Vec<u8>>)> {
    let mut bufs: Vec<Vec<u8>> = sizes.iter().map(|&n| vec![0u8; n]).collect();
    let iov: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: b.len(),
        })
        .collect();
    // SAFETY: iov and bufs valid.
    let n = check(unsafe { libc::readv(fd, iov.as_ptr(), iov.len() as i32) })?;
    Ok((n, bufs))
}

/// `close_range(first, last, 0)`.
pub fn close_range(first: u32, last: u32) -> Res<()> {
    // SAFETY: integers only.
    check(unsafe { libc::close_range(first, last, 0) } as isize).map(drop)
}

/// `close` as a raw system call, which no interposer sees.
pub fn close_behind_libc(fd: Fd) -> Res<()> {
    // SAFETY: integers only.
    check(unsafe { libc::syscall(libc::SYS_close, fd) } as isize).map(drop)
}

/// `dup2` as a raw system call, which no interposer sees.
pub fn dup2_behind_libc(old: Fd, new: Fd) -> Res<()> {
    // SAFETY: integers only.
    check(unsafe { libc::syscall(libc::SYS_dup2, old, new) } as isize).map(drop)
}
