//! ICMP for IPv4 (RFC 792): the 8-byte header common to all messages.

use crate::bytes::{get_u16, get_u32, set_u16, set_u32};
use crate::{checksum, Error, Result};

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const REST: usize = 4;
    pub const PAYLOAD: usize = 8;
}

/// Length of the ICMP header (type, code, checksum and the 4-byte
/// type-specific word).
pub const HEADER_LEN: usize = field::PAYLOAD;
/// Echo reply type.
pub const TYPE_ECHO_REPLY: u8 = 0;
/// Destination unreachable type.
pub const TYPE_DEST_UNREACHABLE: u8 = 3;
/// Echo request type.
pub const TYPE_ECHO_REQUEST: u8 = 8;

/// A view of an ICMP message header.
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

    /// Message type.
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// The type-specific word (identifier and sequence for echo).
    pub fn rest_of_header(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::REST)
    }

    /// True if the checksum over the whole buffer (the message) is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::is_valid(checksum::add(0, self.buffer.as_ref()))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::TYPE] = value;
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the type-specific word.
    pub fn set_rest_of_header(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), field::REST, value);
    }

    /// Computes and stores the checksum over the whole buffer.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let sum = checksum::data(self.buffer.as_ref());
        self.set_checksum(sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Echo request, id 0x1234, seq 1, payload "ab", checksum filled in.
    static ECHO: [u8; 10] = [0x08, 0x00, 0x84, 0x68, 0x12, 0x34, 0x00, 0x01, b'a', b'b'];

    #[test]
    fn parse() {
        let p = Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.msg_type(), TYPE_ECHO_REQUEST);
        assert_eq!(p.msg_code(), 0);
        assert_eq!(p.rest_of_header(), 0x1234_0001);
        assert_eq!(p.payload(), b"ab");
        assert!(p.verify_checksum());
        assert!(Packet::new_checked(&ECHO[..7]).is_err());
    }

    #[test]
    fn emit() {
        let mut buf = [0xa5u8; 10];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(TYPE_ECHO_REQUEST);
        p.set_msg_code(0);
        p.set_rest_of_header(0x1234_0001);
        buf[8..].copy_from_slice(b"ab");
        Packet::new_unchecked(&mut buf[..]).fill_checksum();
        assert_eq!(buf, ECHO);
    }
}
