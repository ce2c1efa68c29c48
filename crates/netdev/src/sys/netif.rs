//! Interface properties through `ioctl(2)` on a datagram socket: index,
//! MTU, Ethernet address, administrative state.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A request naming interface `name`; `InvalidInput` if the name cannot be
/// an interface name.
pub(crate) fn ifreq(name: &str) -> io::Result<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) || name.contains('/')
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("\"{name}\" is not a valid interface name"),
        ));
    }
    // SAFETY: `ifreq` is plain old data (integers, arrays and unions of
    // them); all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Ok(req)
}

/// A socket to issue interface ioctls on.
fn ctl_socket() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; it returns a new
    // descriptor we own, or -1.
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Runs interface ioctl `op` on `req`; ENODEV becomes `NotFound`.
fn ioctl(op: libc::c_ulong, req: &mut libc::ifreq) -> io::Result<()> {
    let sock = ctl_socket()?;
    // SAFETY: the interface ioctls used here read and write only the
    // `ifreq` we pass, which lives for the call.
    let r = unsafe { libc::ioctl(sock.as_raw_fd(), op as _, req as *mut libc::ifreq) };
    if r < 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::ENODEV) {
            return Err(io::Error::new(io::ErrorKind::NotFound, "no such interface"));
        }
        return Err(e);
    }
    Ok(())
}

/// The interface's index; `NotFound` if there is none of that name.
pub(crate) fn index(name: &str) -> io::Result<u32> {
    let mut req = ifreq(name)?;
    ioctl(libc::SIOCGIFINDEX, &mut req).map_err(|e| with_name(name, e))?;
    // SAFETY: SIOCGIFINDEX filled the `ifru_ifindex` member.
    Ok(unsafe { req.ifr_ifru.ifru_ifindex } as u32)
}

/// The interface's MTU.
pub(crate) fn mtu(name: &str) -> io::Result<u32> {
    let mut req = ifreq(name)?;
    ioctl(libc::SIOCGIFMTU, &mut req).map_err(|e| with_name(name, e))?;
    // SAFETY: SIOCGIFMTU filled the `ifru_mtu` member.
    Ok(unsafe { req.ifr_ifru.ifru_mtu } as u32)
}

/// Sets the interface's MTU.
pub(crate) fn set_mtu(name: &str, mtu: u32) -> io::Result<()> {
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_mtu = mtu.min(i32::MAX as u32) as i32;
    ioctl(libc::SIOCSIFMTU, &mut req).map_err(|e| with_name(name, e))
}

/// The interface's Ethernet address.
pub(crate) fn mac(name: &str) -> io::Result<[u8; 6]> {
    let mut req = ifreq(name)?;
    ioctl(libc::SIOCGIFHWADDR, &mut req).map_err(|e| with_name(name, e))?;
    // SAFETY: SIOCGIFHWADDR filled the `ifru_hwaddr` member.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut m = [0u8; 6];
    for (d, s) in m.iter_mut().zip(sa.sa_data.iter()) {
        *d = *s as u8;
    }
    Ok(m)
}

/// Brings the interface up (sets IFF_UP, keeping the other flags).
pub(crate) fn set_up(name: &str) -> io::Result<()> {
    let mut req = ifreq(name)?;
    ioctl(libc::SIOCGIFFLAGS, &mut req).map_err(|e| with_name(name, e))?;
    // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    if flags & libc::IFF_UP as libc::c_short != 0 {
        return Ok(());
    }
    req.ifr_ifru.ifru_flags = flags | libc::IFF_UP as libc::c_short;
    ioctl(libc::SIOCSIFFLAGS, &mut req).map_err(|e| with_name(name, e))
}

/// Prefixes an error with the interface name, keeping its kind.
pub(crate) fn with_name(name: &str, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{name}: {e}"))
}
