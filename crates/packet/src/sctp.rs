//! SCTP common headers (RFC 9260), with the CRC32c checksum.

use crate::bytes::{get_u16, get_u32, set_u16, set_u32};
use crate::{checksum, Error, Result};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const VTAG: usize = 4;
    pub const CHECKSUM: core::ops::Range<usize> = 8..12;
    pub const CHUNKS: usize = 12;
}

/// Length of the SCTP common header.
pub const HEADER_LEN: usize = field::CHUNKS;

/// A view of an SCTP common header.
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

    /// Checks the buffer holds 12 bytes.
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

    /// Verification tag.
    pub fn verification_tag(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::VTAG)
    }

    /// The CRC32c as stored (least significant byte first on the wire).
    pub fn checksum(&self) -> u32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&self.buffer.as_ref()[field::CHECKSUM]);
        u32::from_le_bytes(b)
    }

    /// True if the checksum over the whole buffer (the packet) is right.
    pub fn verify_checksum(&self) -> bool {
        let data = self.buffer.as_ref();
        let mut state = checksum::crc32c_update(!0, &data[..field::CHECKSUM.start]);
        state = checksum::crc32c_update(state, &[0; 4]);
        state = checksum::crc32c_update(state, &data[field::CHECKSUM.end..]);
        !state == self.checksum()
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The chunks after the common header.
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

    /// Sets the verification tag.
    pub fn set_verification_tag(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), field::VTAG, value);
    }

    /// Stores a checksum value (least significant byte first).
    pub fn set_checksum(&mut self, value: u32) {
        self.buffer.as_mut()[field::CHECKSUM].copy_from_slice(&value.to_le_bytes());
    }

    /// Computes and stores the CRC32c over the whole buffer (the packet).
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let crc = checksum::crc32c(self.buffer.as_ref());
        self.set_checksum(crc);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static HEADER: [u8; 12] = [0x0b, 0x59, 0x0b, 0x59, 0, 0, 0, 0, 0, 0, 0, 0];

    #[test]
    fn parse() {
        let p = Packet::new_checked(&HEADER[..]).unwrap();
        assert_eq!(p.src_port(), 2905);
        assert_eq!(p.dst_port(), 2905);
        assert_eq!(p.verification_tag(), 0);
        assert!(Packet::new_checked(&HEADER[..11]).is_err());
    }

    #[test]
    fn emit_and_checksum() {
        let mut buf = [0xa5u8; 12];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_src_port(2905);
        p.set_dst_port(2905);
        p.set_verification_tag(0);
        p.fill_checksum();
        let crc = checksum::crc32c(&HEADER);
        assert_eq!(buf[8..], crc.to_le_bytes());
        assert!(Packet::new_checked(&buf[..]).unwrap().verify_checksum());
        buf[0] ^= 0x80;
        assert!(!Packet::new_checked(&buf[..]).unwrap().verify_checksum());
    }
}
