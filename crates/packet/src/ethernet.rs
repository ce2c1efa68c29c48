//! Ethernet II frames, and the 802.2 LLC/SNAP header of 802.3 frames.

use crate::bytes::{get_mac, get_u16, get_u32, set_u16, Field};
use crate::{Error, EthernetAddress, Result};

/// Ethertype of IPv4.
pub const ETHERTYPE_IPV4: u16 = 0x0800;
/// Ethertype of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// Ethertype of reverse ARP.
pub const ETHERTYPE_RARP: u16 = 0x8035;
/// Ethertype (TPID) of an 802.1Q VLAN tag.
pub const ETHERTYPE_VLAN: u16 = 0x8100;
/// Ethertype (TPID) of an 802.1ad service VLAN tag.
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Ethertype of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// Ethertype of unicast MPLS.
pub const ETHERTYPE_MPLS: u16 = 0x8847;
/// Ethertype of multicast MPLS.
pub const ETHERTYPE_MPLS_MCAST: u16 = 0x8848;
/// Ethertype of NSH.
pub const ETHERTYPE_NSH: u16 = 0x894f;
/// Smallest value of the type/length field that is an ethertype; smaller
/// values are 802.3 lengths.
pub const ETHERTYPE_MIN: u16 = 0x0600;

/// True for the two VLAN TPIDs.
pub fn is_vlan_tpid(ethertype: u16) -> bool {
    ethertype == ETHERTYPE_VLAN || ethertype == ETHERTYPE_QINQ
}

/// True for the two MPLS ethertypes.
pub fn is_mpls(ethertype: u16) -> bool {
    ethertype == ETHERTYPE_MPLS || ethertype == ETHERTYPE_MPLS_MCAST
}

mod field {
    use super::Field;
    pub const DST: Field = 0..6;
    pub const SRC: Field = 6..12;
    pub const ETHERTYPE: usize = 12;
    pub const PAYLOAD: usize = 14;
}

/// Length of an Ethernet II header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A view of an Ethernet II (or 802.3) frame header.
#[derive(Debug, Clone)]
pub struct Frame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Frame<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> Frame<T> {
        Frame { buffer }
    }

    /// Wraps `buffer` and checks it holds a whole header.
    pub fn new_checked(buffer: T) -> Result<Frame<T>> {
        let f = Frame::new_unchecked(buffer);
        f.check_len()?;
        Ok(f)
    }

    /// Checks the buffer holds the 14-byte header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Destination address.
    pub fn dst_addr(&self) -> EthernetAddress {
        get_mac(self.buffer.as_ref(), field::DST)
    }

    /// Source address.
    pub fn src_addr(&self) -> EthernetAddress {
        get_mac(self.buffer.as_ref(), field::SRC)
    }

    /// The type/length field: an ethertype, or for 802.3 frames (values
    /// below [`ETHERTYPE_MIN`]) the payload length.
    pub fn ethertype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ETHERTYPE)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Frame<&'a T> {
    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Frame<T> {
    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&addr);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: EthernetAddress) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&addr);
    }

    /// Sets the type/length field.
    pub fn set_ethertype(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::ETHERTYPE, value);
    }

    /// The bytes after the header, mutably.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[field::PAYLOAD..]
    }
}

mod llc_field {
    pub const DSAP: usize = 0;
    pub const SSAP: usize = 1;
    pub const CONTROL: usize = 2;
    pub const OUI: usize = 3;
    pub const SNAP_TYPE: usize = 6;
    pub const LEN: usize = 8;
}

/// Length of an LLC header with a SNAP extension.
pub const LLC_SNAP_LEN: usize = llc_field::LEN;
/// LLC DSAP and SSAP value announcing a SNAP header.
pub const LLC_SAP_SNAP: u8 = 0xaa;
/// LLC control value of unnumbered information, used with SNAP.
pub const LLC_CONTROL_UI: u8 = 0x03;

/// A view of an 802.2 LLC header followed by a SNAP header (8 bytes), as
/// found after the length field of an 802.3 frame.
#[derive(Debug, Clone)]
pub struct LlcSnap<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> LlcSnap<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> LlcSnap<T> {
        LlcSnap { buffer }
    }

    /// Wraps `buffer` and checks it holds the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<LlcSnap<T>> {
        let h = LlcSnap::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// Checks the buffer holds the 8-byte header.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < LLC_SNAP_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// Destination service access point.
    pub fn dsap(&self) -> u8 {
        self.buffer.as_ref()[llc_field::DSAP]
    }

    /// Source service access point.
    pub fn ssap(&self) -> u8 {
        self.buffer.as_ref()[llc_field::SSAP]
    }

    /// Control field.
    pub fn control(&self) -> u8 {
        self.buffer.as_ref()[llc_field::CONTROL]
    }

    /// SNAP organization code (24 bits).
    pub fn oui(&self) -> u32 {
        get_u32(self.buffer.as_ref(), llc_field::OUI - 1) & 0x00ff_ffff
    }

    /// SNAP protocol id (an ethertype when the OUI is zero).
    pub fn snap_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), llc_field::SNAP_TYPE)
    }

    /// True when this is SNAP encapsulation of an Ethernet protocol (DSAP
    /// and SSAP `0xaa`, control 3, OUI 0), so [`Self::snap_type`] is an
    /// ethertype.
    pub fn is_snap_ethernet(&self) -> bool {
        self.dsap() == LLC_SAP_SNAP
            && self.ssap() == LLC_SAP_SNAP
            && self.control() == LLC_CONTROL_UI
            && self.oui() == 0
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> LlcSnap<T> {
    /// Sets DSAP, SSAP and control.
    pub fn set_llc(&mut self, dsap: u8, ssap: u8, control: u8) {
        let b = self.buffer.as_mut();
        b[llc_field::DSAP] = dsap;
        b[llc_field::SSAP] = ssap;
        b[llc_field::CONTROL] = control;
    }

    /// Sets the SNAP organization code (low 24 bits of `oui`).
    pub fn set_oui(&mut self, oui: u32) {
        self.buffer.as_mut()[llc_field::OUI..llc_field::SNAP_TYPE]
            .copy_from_slice(&oui.to_be_bytes()[1..]);
    }

    /// Sets the SNAP protocol id.
    pub fn set_snap_type(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), llc_field::SNAP_TYPE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static FRAME: [u8; 18] = [
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x08, 0x00, 0xaa,
        0xbb, 0xcc, 0xdd,
    ];

    static LLC_SNAP: [u8; 8] = [0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x86, 0xdd];

    #[test]
    fn parse_frame() {
        let f = Frame::new_checked(&FRAME[..]).unwrap();
        assert_eq!(f.dst_addr(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(f.src_addr(), [0x11, 0x12, 0x13, 0x14, 0x15, 0x16]);
        assert_eq!(f.ethertype(), ETHERTYPE_IPV4);
        assert_eq!(f.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(Frame::new_checked(&FRAME[..13]).err(), Some(Error));
    }

    #[test]
    fn emit_frame() {
        let mut buf = [0xa5u8; 18];
        let mut f = Frame::new_unchecked(&mut buf[..]);
        f.set_dst_addr([1, 2, 3, 4, 5, 6]);
        f.set_src_addr([0x11, 0x12, 0x13, 0x14, 0x15, 0x16]);
        f.set_ethertype(ETHERTYPE_IPV4);
        f.payload_mut().copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(buf, FRAME);
    }

    #[test]
    fn parse_and_emit_llc_snap() {
        let h = LlcSnap::new_checked(&LLC_SNAP[..]).unwrap();
        assert!(h.is_snap_ethernet());
        assert_eq!(h.snap_type(), ETHERTYPE_IPV6);
        assert_eq!(h.oui(), 0);
        let plain = [0x42u8, 0x42, 0x03, 0, 0, 0, 0, 0];
        assert!(!LlcSnap::new_checked(&plain[..]).unwrap().is_snap_ethernet());
        assert!(LlcSnap::new_checked(&LLC_SNAP[..7]).is_err());

        let mut buf = [0xa5u8; 8];
        let mut e = LlcSnap::new_unchecked(&mut buf[..]);
        e.set_llc(0xaa, 0xaa, 0x03);
        e.set_oui(0);
        e.set_snap_type(ETHERTYPE_IPV6);
        assert_eq!(buf, LLC_SNAP);
    }

    #[test]
    fn tpids() {
        assert!(is_vlan_tpid(0x8100) && is_vlan_tpid(0x88a8) && !is_vlan_tpid(0x0800));
        assert!(is_mpls(0x8847) && is_mpls(0x8848) && !is_mpls(0x8100));
    }
}
