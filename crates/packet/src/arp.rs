//! ARP and RARP for Ethernet and IPv4 (RFC 826, RFC 903).

use crate::bytes::{get_mac, get_u16, get_u32, set_u16, set_u32, Field};
use crate::{Error, EthernetAddress, Result};

mod field {
    use super::Field;
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: Field = 8..14;
    pub const SPA: usize = 14;
    pub const THA: Field = 18..24;
    pub const TPA: usize = 24;
    pub const END: usize = 28;
}

/// Length of an ARP packet for Ethernet and IPv4.
pub const PACKET_LEN: usize = field::END;
/// Hardware type of Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;
/// Operation: request.
pub const OP_REQUEST: u16 = 1;
/// Operation: reply.
pub const OP_REPLY: u16 = 2;

/// A view of an ARP packet whose addresses are Ethernet and IPv4 ones.
/// `check_len` only guarantees the 28 bytes; [`Packet::is_ethernet_ipv4`]
/// tells whether the packet really declares those address kinds.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps `buffer` and checks it holds 28 bytes.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the buffer holds 28 bytes.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < PACKET_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// Hardware type.
    pub fn htype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol type (an ethertype).
    pub fn ptype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PTYPE)
    }

    /// Hardware address length.
    pub fn hlen(&self) -> u8 {
        self.buffer.as_ref()[field::HLEN]
    }

    /// Protocol address length.
    pub fn plen(&self) -> u8 {
        self.buffer.as_ref()[field::PLEN]
    }

    /// Operation.
    pub fn oper(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::OPER)
    }

    /// Sender hardware address.
    pub fn sha(&self) -> EthernetAddress {
        get_mac(self.buffer.as_ref(), field::SHA)
    }

    /// Sender protocol address.
    pub fn spa(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SPA)
    }

    /// Target hardware address.
    pub fn tha(&self) -> EthernetAddress {
        get_mac(self.buffer.as_ref(), field::THA)
    }

    /// Target protocol address.
    pub fn tpa(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::TPA)
    }

    /// True if the packet declares Ethernet hardware addresses and IPv4
    /// protocol addresses (the only layout this view describes).
    pub fn is_ethernet_ipv4(&self) -> bool {
        self.htype() == HTYPE_ETHERNET
            && self.ptype() == crate::ethernet::ETHERTYPE_IPV4
            && self.hlen() == 6
            && self.plen() == 4
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets hardware type, protocol type and both address lengths for
    /// Ethernet and IPv4.
    pub fn set_ethernet_ipv4(&mut self) {
        let b = self.buffer.as_mut();
        set_u16(b, field::HTYPE, HTYPE_ETHERNET);
        set_u16(b, field::PTYPE, crate::ethernet::ETHERTYPE_IPV4);
        b[field::HLEN] = 6;
        b[field::PLEN] = 4;
    }

    /// Sets the operation.
    pub fn set_oper(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::OPER, value);
    }

    /// Sets the sender hardware address.
    pub fn set_sha(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&addr);
    }

    /// Sets the sender protocol address.
    pub fn set_spa(&mut self, addr: u32) {
        set_u32(self.buffer.as_mut(), field::SPA, addr);
    }

    /// Sets the target hardware address.
    pub fn set_tha(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&addr);
    }

    /// Sets the target protocol address.
    pub fn set_tpa(&mut self, addr: u32) {
        set_u32(self.buffer.as_mut(), field::TPA, addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0a,
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x02,
    ];

    #[test]
    fn parse() {
        let p = Packet::new_checked(&REQUEST[..]).unwrap();
        assert!(p.is_ethernet_ipv4());
        assert_eq!(p.oper(), OP_REQUEST);
        assert_eq!(p.sha(), [2, 0, 0, 0, 0, 1]);
        assert_eq!(p.spa(), 0x0a00_0001);
        assert_eq!(p.tha(), [0; 6]);
        assert_eq!(p.tpa(), 0x0a00_0002);
        assert!(Packet::new_checked(&REQUEST[..27]).is_err());
        let mut other = REQUEST;
        other[5] = 16;
        assert!(!Packet::new_checked(&other[..]).unwrap().is_ethernet_ipv4());
    }

    #[test]
    fn emit() {
        let mut buf = [0xa5u8; 28];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_ethernet_ipv4();
        p.set_oper(OP_REQUEST);
        p.set_sha([2, 0, 0, 0, 0, 1]);
        p.set_spa(0x0a00_0001);
        p.set_tha([0; 6]);
        p.set_tpa(0x0a00_0002);
        assert_eq!(buf, REQUEST);
    }
}
