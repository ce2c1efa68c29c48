//! rtnetlink, for the network devices behind ports: bringing one up (as
//! `ovs-dpctl add-if` does), telling a tunnel device from others, and
//! hearing of devices that disappear. Messages are framed by [`nl::msg`],
//! as every other netlink message of the workspace.

use std::time::Duration;

use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use nl::msg::{Messages, MsgBuilder, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_REQUEST};

use crate::error::{errno, Error, Result};

/// `RTM_NEWLINK`.
pub const RTM_NEWLINK: u16 = 16;
/// `RTM_DELLINK`.
pub const RTM_DELLINK: u16 = 17;
/// `RTM_GETLINK`.
pub const RTM_GETLINK: u16 = 18;
/// `RTNLGRP_LINK`: link notifications.
pub const RTNLGRP_LINK: u32 = 1;
/// `IFLA_IFNAME`.
pub const IFLA_IFNAME: u16 = 3;
/// `IFLA_LINKINFO`.
pub const IFLA_LINKINFO: u16 = 18;
/// In `IFLA_LINKINFO`: `IFLA_INFO_KIND`.
pub const IFLA_INFO_KIND: u16 = 1;
/// `IFF_UP`.
pub const IFF_UP: u32 = 1;
/// Bytes of `struct ifinfomsg`.
pub const IFINFO_LEN: usize = 16;

/// Link kinds of tunnel devices (`ip link add type KIND`): a port on one
/// would carry packets without their tunnel metadata.
pub const TUNNEL_KINDS: &[&str] = &[
    "vxlan",
    "geneve",
    "gretap",
    "ip6gretap",
    "erspan",
    "ip6erspan",
    "gre",
    "ip6gre",
    "gtp",
    "bareudp",
    "ipip",
    "sit",
    "ip6tnl",
    "lisp",
    "stt",
];

/// `struct ifinfomsg`: family, type, index, flags, change.
fn ifinfo(index: i32, flags: u32, change: u32) -> [u8; IFINFO_LEN] {
    let mut b = [0u8; IFINFO_LEN];
    b[4..8].copy_from_slice(&index.to_ne_bytes());
    b[8..12].copy_from_slice(&flags.to_ne_bytes());
    b[12..16].copy_from_slice(&change.to_ne_bytes());
    b
}

fn open() -> Result<Socket> {
    let mut s = Socket::new(NETLINK_ROUTE)?;
    s.bind_auto()?;
    s.connect(&SocketAddr::new(0, 0))?;
    Ok(s)
}

/// Sends `req` and returns the data messages of its answer (the ack
/// or error ending it consumed).
fn transact(req: &[u8]) -> Result<Vec<Vec<u8>>> {
    let s = open()?;
    s.send(req, 0)?;
    let mut out = Vec::new();
    loop {
        let mut buf: Vec<u8> = Vec::with_capacity(32 * 1024);
        s.recv(&mut buf, 0)?;
        for m in Messages::new(&buf) {
            let m = m.map_err(|e| Error::proto(e.to_string()))?;
            match m.header.ty {
                NLMSG_ERROR | NLMSG_DONE => {
                    let (code, text) = nl::msg::parse_error(m.header.flags, m.payload())
                        .map_err(|e| Error::proto(e.to_string()))?;
                    return match (code, text) {
                        (0, _) => Ok(out),
                        (c, Some(t)) => Err(Error::with_msg(c, t)),
                        (c, None) => Err(Error::new(c)),
                    };
                }
                _ => out.push(m.bytes.to_vec()),
            }
        }
    }
}

/// The request that sets `IFF_UP` on device `name`.
pub fn set_up_request(name: &str) -> Vec<u8> {
    let mut b = MsgBuilder::new(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK).seq(1);
    b.header_bytes(&ifinfo(0, IFF_UP, IFF_UP));
    b.attrs().put_string(IFLA_IFNAME, name);
    b.finish().unwrap_or_default()
}

/// Sets the device `name` up.
///
/// # Errors
/// The kernel's errno (`ENODEV` for no such device, `EPERM` without
/// privileges), or the socket's.
pub fn set_up(name: &str) -> Result<()> {
    transact(&set_up_request(name)).map(drop)
}

/// The link kind of device `name` (`"veth"`, `"geneve"`...), `None` for a
/// device without one (a physical NIC, a tap).
///
/// # Errors
/// `ENODEV` if there is no such device; socket errors.
pub fn link_kind(name: &str) -> Result<Option<String>> {
    let mut b = MsgBuilder::new(RTM_GETLINK, NLM_F_REQUEST | NLM_F_ACK).seq(1);
    b.header_bytes(&ifinfo(0, 0, 0));
    b.attrs().put_string(IFLA_IFNAME, name);
    let req = b.finish().map_err(|_| Error::new(errno::ENAMETOOLONG))?;
    for m in transact(&req)? {
        let attrs = m.get(16 + IFINFO_LEN..).unwrap_or(&[]);
        for a in nl::AttrIter::new(attrs).map_while(|a| a.ok()) {
            if a.ty == IFLA_LINKINFO {
                for i in a.nested().map_while(|x| x.ok()) {
                    if i.ty == IFLA_INFO_KIND {
                        let s = i.payload.split(|&c| c == 0).next().unwrap_or(&[]);
                        return Ok(Some(String::from_utf8_lossy(s).into_owned()));
                    }
                }
            }
        }
    }
    Ok(None)
}

/// A device that disappeared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkGone {
    /// Its ifindex.
    pub ifindex: i32,
    /// Its name.
    pub name: String,
}

/// Link notifications of the network namespace the watcher was made in.
pub struct LinkWatch {
    sock: Socket,
    buf: Vec<u8>,
}

impl LinkWatch {
    /// Subscribes to link notifications.
    ///
    /// # Errors
    /// Socket errors.
    pub fn new() -> Result<LinkWatch> {
        let s = open()?;
        s.add_membership(RTNLGRP_LINK)?;
        Ok(LinkWatch {
            sock: s,
            buf: Vec::with_capacity(64 * 1024),
        })
    }

    /// Devices deleted, waiting up to `timeout` for a notification.
    ///
    /// # Errors
    /// `ENOBUFS` when notifications were lost (the caller should then
    /// check every device it cares about); socket errors.
    pub fn wait(&mut self, timeout: Duration) -> Result<Vec<LinkGone>> {
        let mut out = Vec::new();
        if !crate::socket::poll_readable(&[std::os::fd::AsFd::as_fd(&self.sock)], Some(timeout)) {
            return Ok(out);
        }
        self.buf.clear();
        self.sock.recv(&mut self.buf, 0x40 /* MSG_DONTWAIT */)?;
        for m in Messages::new(&self.buf).map_while(|m| m.ok()) {
            if m.header.ty != RTM_DELLINK {
                continue;
            }
            let p = m.payload();
            let Some(h) = p.get(..IFINFO_LEN) else {
                continue;
            };
            let ifindex = i32::from_ne_bytes([h[4], h[5], h[6], h[7]]);
            let name = nl::AttrIter::new(&p[IFINFO_LEN..])
                .map_while(|a| a.ok())
                .find(|a| a.ty == IFLA_IFNAME)
                .map(|a| {
                    let s = a.payload.split(|&c| c == 0).next().unwrap_or(&[]);
                    String::from_utf8_lossy(s).into_owned()
                })
                .unwrap_or_default();
            out.push(LinkGone { ifindex, name });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_up_request_layout() {
        let r = set_up_request("veth0");
        let m = Messages::new(&r).next().unwrap().unwrap();
        assert_eq!(m.header.ty, RTM_NEWLINK);
        assert_eq!(m.header.flags, NLM_F_REQUEST | NLM_F_ACK);
        let p = m.payload();
        assert_eq!(&p[8..12], &IFF_UP.to_ne_bytes());
        assert_eq!(&p[12..16], &IFF_UP.to_ne_bytes());
        let a = nl::AttrIter::new(&p[16..]).next().unwrap().unwrap();
        assert_eq!((a.ty, a.payload), (IFLA_IFNAME, &b"veth0\0"[..]));
    }

    #[test]
    fn loopback_has_no_kind_and_missing_is_enodev() {
        match link_kind("lo") {
            Ok(k) => {
                assert_eq!(k, None);
                assert_eq!(
                    link_kind("oxvs-no-such0").unwrap_err().errno(),
                    errno::ENODEV
                );
            }
            Err(e) => eprintln!("SKIP: rtnetlink unavailable: {e}"),
        }
    }
}
