//! 802.1Q and 802.1ad VLAN tags.
//!
//! On the wire a tag is the TPID (in the ethertype position of the
//! preceding header) followed by the 2-byte TCI and the next ethertype.
//! [`Tag`] views those last 4 bytes.

use crate::bytes::{get_u16, set_u16};
use crate::{Error, Result};

mod field {
    pub const TCI: usize = 0;
    pub const ETHERTYPE: usize = 2;
    pub const PAYLOAD: usize = 4;
}

/// Length of a tag after its TPID.
pub const TAG_LEN: usize = field::PAYLOAD;
/// Priority code point bits of a TCI.
pub const PCP_MASK: u16 = 0xe000;
/// Drop eligible indicator (formerly CFI) bit of a TCI.
pub const DEI: u16 = 0x1000;
/// VLAN id bits of a TCI.
pub const VID_MASK: u16 = 0x0fff;

/// A view of a VLAN tag (TCI and the encapsulated ethertype).
#[derive(Debug, Clone)]
pub struct Tag<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Tag<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> Tag<T> {
        Tag { buffer }
    }

    /// Wraps `buffer` and checks it holds a whole tag.
    pub fn new_checked(buffer: T) -> Result<Tag<T>> {
        let t = Tag::new_unchecked(buffer);
        t.check_len()?;
        Ok(t)
    }

    /// Checks the buffer holds the 4 bytes of a tag.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < TAG_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// The whole tag control information.
    pub fn tci(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::TCI)
    }

    /// Priority code point (0..=7).
    pub fn pcp(&self) -> u8 {
        (self.tci() >> 13) as u8
    }

    /// Drop eligible indicator.
    pub fn dei(&self) -> bool {
        self.tci() & DEI != 0
    }

    /// VLAN id (0..=4095).
    pub fn vid(&self) -> u16 {
        self.tci() & VID_MASK
    }

    /// The encapsulated ethertype.
    pub fn ethertype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ETHERTYPE)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Tag<&'a T> {
    /// The bytes after the tag.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::PAYLOAD..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Tag<T> {
    /// Sets the tag control information.
    pub fn set_tci(&mut self, tci: u16) {
        set_u16(self.buffer.as_mut(), field::TCI, tci);
    }

    /// Sets the encapsulated ethertype.
    pub fn set_ethertype(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::ETHERTYPE, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static TAG: [u8; 4] = [0xb0, 0x64, 0x08, 0x00];

    #[test]
    fn parse() {
        let t = Tag::new_checked(&TAG[..]).unwrap();
        assert_eq!(t.tci(), 0xb064);
        assert_eq!(t.pcp(), 5);
        assert!(t.dei());
        assert_eq!(t.vid(), 100);
        assert_eq!(t.ethertype(), 0x0800);
        assert!(t.payload().is_empty());
        assert!(Tag::new_checked(&TAG[..3]).is_err());
    }

    #[test]
    fn emit() {
        let mut buf = [0xa5u8; 4];
        let mut t = Tag::new_unchecked(&mut buf[..]);
        t.set_tci(0xb064);
        t.set_ethertype(0x0800);
        assert_eq!(buf, TAG);
    }
}
