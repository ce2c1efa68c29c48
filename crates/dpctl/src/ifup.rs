//! Bringing a network device up, as `ovs-dpctl add-if` does after adding a
//! port to a kernel datapath: one `RTM_NEWLINK` request over rtnetlink that
//! sets `IFF_UP` on the device of that name.

use dpif::Errno;

const RTM_NEWLINK: u16 = 16;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_ACK: u16 = 4;
const IFLA_IFNAME: u16 = 3;
const IFF_UP: u32 = 1;
/// `struct nlmsghdr` and `struct ifinfomsg`.
const NLMSG_HDR_LEN: usize = 16;
const IFINFO_LEN: usize = 16;

/// The request that sets `IFF_UP` on device `name`.
pub fn request(name: &str, seq: u32) -> Vec<u8> {
    let mut m = vec![0u8; NLMSG_HDR_LEN];
    // ifinfomsg: family, pad, type, index 0 (by name), flags, change.
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(&0i32.to_ne_bytes());
    m.extend_from_slice(&IFF_UP.to_ne_bytes());
    m.extend_from_slice(&IFF_UP.to_ne_bytes());
    let attr_len = 4 + name.len() + 1;
    m.extend_from_slice(&(attr_len as u16).to_ne_bytes());
    m.extend_from_slice(&IFLA_IFNAME.to_ne_bytes());
    m.extend_from_slice(name.as_bytes());
    m.push(0);
    m.resize(m.len().next_multiple_of(4), 0);
    let len = m.len() as u32;
    m[0..4].copy_from_slice(&len.to_ne_bytes());
    m[4..6].copy_from_slice(&RTM_NEWLINK.to_ne_bytes());
    m[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    debug_assert_eq!(
        NLMSG_HDR_LEN + IFINFO_LEN + attr_len.next_multiple_of(4),
        m.len()
    );
    m
}

/// The errno of an acknowledgement (`Ok` for 0).
pub fn parse_ack(reply: &[u8]) -> Result<(), Errno> {
    let u16_at = |i: usize| {
        reply
            .get(i..i + 2)
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
    };
    let i32_at = |i: usize| {
        reply
            .get(i..i + 4)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    };
    if u16_at(4) != Some(NLMSG_ERROR) {
        return Err(Errno::EPROTO);
    }
    match i32_at(NLMSG_HDR_LEN) {
        Some(0) => Ok(()),
        Some(e) => Err(Errno::new(e.saturating_neg()).unwrap_or(Errno::EPROTO)),
        None => Err(Errno::EPROTO),
    }
}

/// Sets the device `name` up.
///
/// # Errors
/// The kernel's errno (`ENODEV` for no such device, `EPERM` without
/// privileges), or the socket's.
pub fn set_up(name: &str) -> Result<(), Errno> {
    use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
    let mut s = Socket::new(NETLINK_ROUTE)?;
    s.bind_auto()?;
    s.connect(&SocketAddr::new(0, 0))?;
    s.send(&request(name, 1), 0)?;
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    s.recv(&mut buf, 0)?;
    parse_ack(&buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let m = request("veth0", 7);
        assert_eq!(m.len(), 16 + 16 + 12);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()), 44);
        assert_eq!(u16::from_ne_bytes(m[4..6].try_into().unwrap()), 16);
        assert_eq!(u16::from_ne_bytes(m[6..8].try_into().unwrap()), 5);
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 7);
        assert_eq!(&m[24..32], &[1, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(&m[32..36], &[10, 0, 3, 0]);
        assert_eq!(&m[36..44], b"veth0\0\0\0");
    }

    #[test]
    fn acks() {
        let mut ack = vec![0u8; 36];
        ack[4..6].copy_from_slice(&2u16.to_ne_bytes());
        assert_eq!(parse_ack(&ack), Ok(()));
        ack[16..20].copy_from_slice(&(-19i32).to_ne_bytes());
        assert_eq!(parse_ack(&ack), Err(Errno::ENODEV));
        assert_eq!(parse_ack(&ack[..10]), Err(Errno::EPROTO));
    }
}
