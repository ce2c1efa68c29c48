//! UDP headers (RFC 768).

use crate::bytes::{get_u16, set_u16};
use crate::{checksum, Error, Result};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
    pub const PAYLOAD: usize = 8;
}

/// Length of a UDP header.
pub const HEADER_LEN: usize = field::PAYLOAD;

/// A view of a UDP header. `check_len` guarantees the 8 header bytes only,
/// not the length field.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps `buffer` and checks it holds the header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the buffer holds 8 bytes.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Length of header and payload.
    pub fn len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// True if the length field is zero (never valid).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checksum (0 means none was computed).
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// True if the checksum is absent (zero) or right, the buffer being
    /// the whole datagram and `pseudo` the pseudo-header's partial sum.
    pub fn verify_checksum(&self, pseudo: u32) -> bool {
        self.checksum() == 0 || checksum::is_valid(checksum::add(pseudo, self.buffer.as_ref()))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::SRC_PORT, value);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::DST_PORT, value);
    }

    /// Sets the length field.
    pub fn set_len(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Computes and stores the checksum over the whole buffer (the
    /// datagram); a computed zero is sent as `0xffff`.
    pub fn fill_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let sum = checksum::finish(checksum::add(pseudo, self.buffer.as_ref()));
        self.set_checksum(if sum == 0 { 0xffff } else { sum });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static DATAGRAM: [u8; 12] = [0x00, 0x35, 0x04, 0x00, 0x00, 0x0c, 0x00, 0x00, 1, 2, 3, 4];

    #[test]
    fn parse() {
        let p = Packet::new_checked(&DATAGRAM[..]).unwrap();
        assert_eq!(p.src_port(), 53);
        assert_eq!(p.dst_port(), 1024);
        assert_eq!(p.len(), 12);
        assert_eq!(p.payload(), &[1, 2, 3, 4]);
        assert!(p.verify_checksum(0));
        assert!(Packet::new_checked(&DATAGRAM[..7]).is_err());
    }

    #[test]
    fn emit_and_checksum() {
        let mut buf = [0xa5u8; 12];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_src_port(53);
        p.set_dst_port(1024);
        p.set_len(12);
        p.set_checksum(0);
        buf[8..].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(buf, DATAGRAM);
        let pseudo = checksum::pseudo_header_v4(0x0a00_0001, 0x0a00_0002, 17, 12);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.fill_checksum(pseudo);
        let words: u32 = 0x35 + 0x400 + 12 + 0x0102 + 0x0304;
        assert_eq!(p.checksum(), !checksum::fold(words + pseudo));
        assert!(p.verify_checksum(pseudo));
        buf[8] ^= 1;
        assert!(!Packet::new_checked(&buf[..])
            .unwrap()
            .verify_checksum(pseudo));
    }

    #[test]
    fn zero_checksum_is_sent_as_all_ones() {
        // Pick a pseudo-header sum that makes the total fold to 0xffff.
        let mut buf = [0u8; 8];
        let words = 0u32;
        let pseudo = 0xffff - words;
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.fill_checksum(pseudo);
        assert_eq!(p.checksum(), 0xffff);
    }
}
