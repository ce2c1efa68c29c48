//! IPv4 headers, options included (RFC 791).

use crate::bytes::{get_u16, get_u32, set_u16, set_u32};
use crate::{checksum, Error, Result};

mod field {
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: usize = 2;
    pub const IDENT: usize = 4;
    pub const FLAGS_FRAG: usize = 6;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: usize = 10;
    pub const SRC: usize = 12;
    pub const DST: usize = 16;
    pub const OPTIONS: usize = 20;
}

/// Length of an IPv4 header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS;
/// Don't-fragment flag, in [`Packet::flags_frag`].
pub const FLAG_DF: u16 = 0x4000;
/// More-fragments flag, in [`Packet::flags_frag`].
pub const FLAG_MF: u16 = 0x2000;
/// Fragment offset bits (in 8-byte units), in [`Packet::flags_frag`].
pub const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// A view of an IPv4 header.
///
/// `check_len` guarantees the fixed header and the options announced by
/// the IHL field are in the buffer. It does not require the buffer to hold
/// `total_len` bytes: a truncated packet still has a readable header, and
/// [`Packet::payload`] returns what is there.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps `buffer` and checks it holds the whole header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the buffer holds 20 bytes, the IHL is at least 5, and the
    /// header with its options fits in the buffer.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < MIN_HEADER_LEN {
            return Err(Error);
        }
        let hlen = self.header_len();
        if hlen < MIN_HEADER_LEN || hlen > len {
            return Err(Error);
        }
        Ok(())
    }

    /// IP version (4 for IPv4).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// Type of service (DSCP and ECN).
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    /// Total length of the datagram in bytes.
    pub fn total_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::TOTAL_LEN)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::IDENT)
    }

    /// Flags and fragment offset, as one 16-bit word.
    pub fn flags_frag(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::FLAGS_FRAG)
    }

    /// Don't-fragment flag.
    pub fn dont_frag(&self) -> bool {
        self.flags_frag() & FLAG_DF != 0
    }

    /// More-fragments flag.
    pub fn more_frags(&self) -> bool {
        self.flags_frag() & FLAG_MF != 0
    }

    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        self.flags_frag() & FRAG_OFFSET_MASK
    }

    /// True if the packet is a fragment (MF set or nonzero offset).
    pub fn is_fragment(&self) -> bool {
        self.flags_frag() & (FLAG_MF | FRAG_OFFSET_MASK) != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Source address.
    pub fn src_addr(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SRC)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::DST)
    }

    /// True if the header checksum is right.
    pub fn verify_checksum(&self) -> bool {
        checksum::is_valid(checksum::add(0, &self.buffer.as_ref()[..self.header_len()]))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The option bytes (between the fixed header and the payload).
    pub fn options(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }

    /// The payload: the bytes after the header up to `total_len`, or up to
    /// the end of the buffer when the packet is truncated or `total_len`
    /// is smaller than the header (link-layer padding is left out).
    pub fn payload(&self) -> &'a [u8] {
        let data = self.buffer.as_ref();
        let hlen = self.header_len();
        let total = usize::from(self.total_len());
        let end = if total >= hlen {
            total.min(data.len())
        } else {
            data.len()
        };
        &data[hlen..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the version to 4 and the header length (`header_len` bytes, a
    /// multiple of 4 from 20 to 60).
    pub fn set_version_and_header_len(&mut self, header_len: usize) {
        self.buffer.as_mut()[field::VER_IHL] = 0x40 | ((header_len / 4) as u8 & 0x0f);
    }

    /// Sets the type of service.
    pub fn set_tos(&mut self, value: u8) {
        self.buffer.as_mut()[field::TOS] = value;
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::TOTAL_LEN, value);
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::IDENT, value);
    }

    /// Sets flags and fragment offset as one word.
    pub fn set_flags_frag(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::FLAGS_FRAG, value);
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, value: u8) {
        self.buffer.as_mut()[field::TTL] = value;
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, value: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = value;
    }

    /// Sets the header checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), field::SRC, value);
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), field::DST, value);
    }

    /// The option bytes, mutably.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let hlen = self.header_len();
        &mut self.buffer.as_mut()[field::OPTIONS..hlen]
    }

    /// Computes and stores the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let hlen = self.header_len();
        let sum = checksum::data(&self.buffer.as_ref()[..hlen]);
        self.set_checksum(sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 24-byte header (one 4-byte option: NOP NOP NOP EOL), UDP, fragment
    // with MF set and offset 0, then 4 bytes of payload and 2 of padding.
    static PACKET: [u8; 30] = [
        0x46, 0x10, 0x00, 0x1c, 0x12, 0x34, 0x20, 0x00, 0x40, 0x11, 0x00, 0x00, 0x0a, 0x00, 0x00,
        0x01, 0x0a, 0x00, 0x00, 0x02, 0x01, 0x01, 0x01, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x00, 0x00,
    ];

    fn with_checksum() -> [u8; 30] {
        let mut p = PACKET;
        let sum = checksum::data(&p[..24]);
        p[10..12].copy_from_slice(&sum.to_be_bytes());
        p
    }

    #[test]
    fn parse() {
        let bytes = with_checksum();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.tos(), 0x10);
        assert_eq!(p.total_len(), 28);
        assert_eq!(p.ident(), 0x1234);
        assert!(p.more_frags() && !p.dont_frag() && p.is_fragment());
        assert_eq!(p.frag_offset(), 0);
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), crate::ipproto::UDP);
        assert_eq!(p.src_addr(), 0x0a00_0001);
        assert_eq!(p.dst_addr(), 0x0a00_0002);
        assert_eq!(p.options(), &[1, 1, 1, 0]);
        assert_eq!(p.payload(), &[0xde, 0xad, 0xbe, 0xef]);
        assert!(p.verify_checksum());
        assert!(!Packet::new_checked(&PACKET[..]).unwrap().verify_checksum());
    }

    #[test]
    fn truncated_and_bad_ihl() {
        assert!(Packet::new_checked(&PACKET[..19]).is_err());
        assert!(Packet::new_checked(&PACKET[..23]).is_err());
        let p = Packet::new_checked(&PACKET[..26]).unwrap();
        assert_eq!(p.payload(), &[0xde, 0xad]);
        let mut bad = PACKET;
        bad[0] = 0x44;
        assert!(Packet::new_checked(&bad[..]).is_err());
    }

    #[test]
    fn emit() {
        let mut buf = [0xa5u8; 30];
        buf[28] = 0;
        buf[29] = 0;
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version_and_header_len(24);
        p.set_tos(0x10);
        p.set_total_len(28);
        p.set_ident(0x1234);
        p.set_flags_frag(FLAG_MF);
        p.set_ttl(64);
        p.set_protocol(crate::ipproto::UDP);
        p.set_src_addr(0x0a00_0001);
        p.set_dst_addr(0x0a00_0002);
        p.options_mut().copy_from_slice(&[1, 1, 1, 0]);
        p.fill_checksum();
        buf[24..28].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(buf, with_checksum());
    }
}
