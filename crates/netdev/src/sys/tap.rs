//! Tap devices: `/dev/net/tun` with `TUNSETIFF`.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;

use super::netif;

/// Offloads we accept from the kernel on a vnet tap: checksums, TSO.
const OFFLOADS: libc::c_uint =
    libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6 | libc::TUN_F_TSO_ECN;

/// Creates (or attaches to) tap device `name`, non-blocking, frames
/// without packet information, with a 10-byte vnet header on each frame
/// when `vnet`. Returns the open device.
pub(crate) fn open(name: &str, vnet: bool) -> io::Result<File> {
    let mut req = netif::ifreq(name)?;
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open("/dev/net/tun")
        .map_err(|e| netif::with_name(name, e))?;
    let mut flags = libc::IFF_TAP | libc::IFF_NO_PI;
    if vnet {
        flags |= libc::IFF_VNET_HDR;
    }
    req.ifr_ifru.ifru_flags = flags as libc::c_short;
    // SAFETY: TUNSETIFF reads and writes the `ifreq` we pass, which lives
    // for the call.
    let r = unsafe {
        libc::ioctl(
            file.as_raw_fd(),
            libc::TUNSETIFF as _,
            &mut req as *mut libc::ifreq,
        )
    };
    if r < 0 {
        return Err(netif::with_name(name, io::Error::last_os_error()));
    }
    if vnet {
        // SAFETY: TUNSETOFFLOAD takes its argument by value.
        let r = unsafe {
            libc::ioctl(
                file.as_raw_fd(),
                libc::TUNSETOFFLOAD as _,
                OFFLOADS as libc::c_ulong,
            )
        };
        if r < 0 {
            return Err(netif::with_name(name, io::Error::last_os_error()));
        }
    }
    Ok(file)
}
