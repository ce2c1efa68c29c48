//! Network service headers (RFC 8300): the base and service path
//! headers, with MD type 1 fixed context or MD type 2 variable metadata.

use crate::bytes::{get_u16, get_u32, set_u16, set_u32};
use crate::{Error, Result};

mod field {
    pub const VER_FLAGS_TTL_LEN: usize = 0;
    pub const MD_TYPE: usize = 2;
    pub const NEXT_PROTO: usize = 3;
    pub const PATH: usize = 4;
    pub const CONTEXT: usize = 8;
}

/// Length of the base and service path headers.
pub const BASE_LEN: usize = field::CONTEXT;
/// Length of an MD type 1 header (base, path and four context words).
pub const MD1_LEN: usize = 24;
/// MD type 1: fixed-length context.
pub const MD_TYPE_1: u8 = 1;
/// MD type 2: variable-length metadata TLVs.
pub const MD_TYPE_2: u8 = 2;
/// Next protocol: IPv4.
pub const NP_IPV4: u8 = 1;
/// Next protocol: IPv6.
pub const NP_IPV6: u8 = 2;
/// Next protocol: Ethernet.
pub const NP_ETHERNET: u8 = 3;
/// Next protocol: NSH.
pub const NP_NSH: u8 = 4;
/// Next protocol: MPLS.
pub const NP_MPLS: u8 = 5;

/// A view of an NSH. `check_len` guarantees the 8-byte base and path
/// headers and the whole length the header announces (which must be at
/// least 8 bytes).
#[derive(Debug, Clone)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> Header<T> {
        Header { buffer }
    }

    /// Wraps `buffer` and checks it holds the whole header.
    pub fn new_checked(buffer: T) -> Result<Header<T>> {
        let h = Header::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// Checks the buffer holds the base header and the announced length.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < BASE_LEN || self.header_len() < BASE_LEN || self.header_len() > len {
            Err(Error)
        } else {
            Ok(())
        }
    }

    fn first_word(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::VER_FLAGS_TTL_LEN)
    }

    /// Version (2 bits; 0 is the only one defined).
    pub fn version(&self) -> u8 {
        (self.first_word() >> 14) as u8
    }

    /// The O and U flag bits (2 bits: O is 2, U is 1).
    pub fn flags(&self) -> u8 {
        ((self.first_word() >> 12) & 0x3) as u8
    }

    /// TTL (6 bits).
    pub fn ttl(&self) -> u8 {
        ((self.first_word() >> 6) & 0x3f) as u8
    }

    /// Header length in bytes (the length field counts 4-byte words).
    pub fn header_len(&self) -> usize {
        usize::from(self.first_word() & 0x3f) * 4
    }

    /// MD type (4 bits).
    pub fn md_type(&self) -> u8 {
        self.buffer.as_ref()[field::MD_TYPE] & 0x0f
    }

    /// Next protocol.
    pub fn next_proto(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_PROTO]
    }

    /// The service path word: SPI << 8 | SI.
    pub fn path_hdr(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::PATH)
    }

    /// Service path identifier (24 bits).
    pub fn spi(&self) -> u32 {
        self.path_hdr() >> 8
    }

    /// Service index.
    pub fn si(&self) -> u8 {
        self.path_hdr() as u8
    }

    /// MD type 1 context word `i` (0..4); `None` unless the header is MD
    /// type 1 of the right length.
    pub fn md1_context(&self, i: usize) -> Option<u32> {
        if self.md_type() != MD_TYPE_1 || self.header_len() != MD1_LEN || i >= 4 {
            return None;
        }
        Some(get_u32(self.buffer.as_ref(), field::CONTEXT + 4 * i))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Header<&'a T> {
    /// The metadata after the base and path headers (MD1 context or MD2
    /// TLVs).
    pub fn metadata(&self) -> &'a [u8] {
        &self.buffer.as_ref()[BASE_LEN..self.header_len()]
    }

    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Header<T> {
    /// Sets version 0, the flags (2 bits), the TTL (6 bits) and the length
    /// (`header_len` bytes, a multiple of 4).
    pub fn set_flags_ttl_len(&mut self, flags: u8, ttl: u8, header_len: usize) {
        let word = u16::from(flags & 0x3) << 12
            | u16::from(ttl & 0x3f) << 6
            | ((header_len / 4) as u16 & 0x3f);
        set_u16(self.buffer.as_mut(), field::VER_FLAGS_TTL_LEN, word);
    }

    /// Sets the MD type (clearing the unassigned bits before it).
    pub fn set_md_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::MD_TYPE] = value & 0x0f;
    }

    /// Sets the next protocol.
    pub fn set_next_proto(&mut self, value: u8) {
        self.buffer.as_mut()[field::NEXT_PROTO] = value;
    }

    /// Sets the service path word (SPI << 8 | SI).
    pub fn set_path_hdr(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), field::PATH, value);
    }

    /// Sets MD type 1 context word `i` (0..4); the buffer must hold 24
    /// bytes.
    pub fn set_md1_context(&mut self, i: usize, value: u32) {
        set_u32(self.buffer.as_mut(), field::CONTEXT + 4 * i, value);
    }
}

mod tlv_field {
    pub const CLASS: usize = 0;
    pub const TYPE: usize = 2;
    pub const LEN: usize = 3;
    pub const VALUE: usize = 4;
}

/// Length of an MD type 2 TLV header (class, type, length).
pub const TLV_HEADER_LEN: usize = tlv_field::VALUE;

/// A view of one MD type 2 metadata TLV: a 16-bit class, an 8-bit type,
/// a 7-bit value length in bytes, then the value padded to 4 bytes.
/// `check_len` guarantees the header and the padded value are in the
/// buffer.
#[derive(Debug, Clone)]
pub struct Md2Tlv<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Md2Tlv<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> Md2Tlv<T> {
        Md2Tlv { buffer }
    }

    /// Wraps `buffer` and checks it holds the whole TLV.
    pub fn new_checked(buffer: T) -> Result<Md2Tlv<T>> {
        let t = Md2Tlv::new_unchecked(buffer);
        t.check_len()?;
        Ok(t)
    }

    /// Checks the buffer holds the header and the padded value.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < TLV_HEADER_LEN || self.total_len() > len {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// Metadata class.
    pub fn class(&self) -> u16 {
        get_u16(self.buffer.as_ref(), tlv_field::CLASS)
    }

    /// Metadata type.
    pub fn tlv_type(&self) -> u8 {
        self.buffer.as_ref()[tlv_field::TYPE]
    }

    /// Length of the value in bytes (before padding).
    pub fn value_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[tlv_field::LEN] & 0x7f)
    }

    /// Length of the whole TLV: header and value padded to 4 bytes.
    pub fn total_len(&self) -> usize {
        TLV_HEADER_LEN + self.value_len().next_multiple_of(4)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Md2Tlv<&'a T> {
    /// The value (without padding).
    pub fn value(&self) -> &'a [u8] {
        &self.buffer.as_ref()[TLV_HEADER_LEN..TLV_HEADER_LEN + self.value_len()]
    }

    /// The bytes after this TLV (the next TLV, if any).
    pub fn next(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.total_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Md2Tlv<T> {
    /// Writes the header, the value and zero padding; the buffer must hold
    /// `4 + value.len()` rounded up to 4 bytes, and `value` at most 127.
    pub fn emit(&mut self, class: u16, tlv_type: u8, value: &[u8]) {
        let b = self.buffer.as_mut();
        set_u16(b, tlv_field::CLASS, class);
        b[tlv_field::TYPE] = tlv_type;
        b[tlv_field::LEN] = (value.len() & 0x7f) as u8;
        let end = TLV_HEADER_LEN + value.len();
        b[TLV_HEADER_LEN..end].copy_from_slice(value);
        let padded = TLV_HEADER_LEN + value.len().next_multiple_of(4);
        b[end..padded].fill(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // MD1: O flag, TTL 63, length 6 words, next proto Ethernet, SPI 0x123456, SI 255.
    static MD1: [u8; 24] = [
        0x2f, 0xc6, 0x01, 0x03, 0x12, 0x34, 0x56, 0xff, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0,
        0, 4,
    ];

    #[test]
    fn parse_md1() {
        let h = Header::new_checked(&MD1[..]).unwrap();
        assert_eq!(h.version(), 0);
        assert_eq!(h.flags(), 2);
        assert_eq!(h.ttl(), 63);
        assert_eq!(h.header_len(), 24);
        assert_eq!(h.md_type(), MD_TYPE_1);
        assert_eq!(h.next_proto(), NP_ETHERNET);
        assert_eq!(h.spi(), 0x123456);
        assert_eq!(h.si(), 255);
        assert_eq!(h.md1_context(3), Some(4));
        assert_eq!(h.md1_context(4), None);
        assert!(h.payload().is_empty());
        assert!(Header::new_checked(&MD1[..23]).is_err());
    }

    #[test]
    fn md2_without_tlvs() {
        let md2 = [0x00u8, 0x02, 0x02, 0x01, 0, 0, 1, 7];
        let h = Header::new_checked(&md2[..]).unwrap();
        assert_eq!(h.md_type(), MD_TYPE_2);
        assert_eq!(h.md1_context(0), None);
        assert!(h.metadata().is_empty());
        let zero_len = [0x00u8, 0x00, 0x02, 0x01, 0, 0, 1, 7];
        assert!(Header::new_checked(&zero_len[..]).is_err());
    }

    // MD2 header with two TLVs: class 0x0101 type 1 value "abcde" (padded
    // to 8), then class 0xffff type 0x80 with an empty value.
    static MD2: [u8; 28] = [
        0x00, 0x06, 0x02, 0x03, 0x00, 0x00, 0x10, 0x01, // base + path, length 6 words
        0x01, 0x01, 0x01, 0x05, b'a', b'b', b'c', b'd', b'e', 0, 0, 0, // TLV 1
        0xff, 0xff, 0x80, 0x00, // TLV 2
        0xaa, 0xbb, 0xcc, 0xdd, // payload
    ];

    #[test]
    fn parse_md2_tlvs() {
        let h = Header::new_checked(&MD2[..]).unwrap();
        assert_eq!(h.md_type(), MD_TYPE_2);
        assert_eq!(h.header_len(), 24);
        assert_eq!(h.payload(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        let t1 = Md2Tlv::new_checked(h.metadata()).unwrap();
        assert_eq!(
            (t1.class(), t1.tlv_type(), t1.value()),
            (0x0101, 1, &b"abcde"[..])
        );
        assert_eq!(t1.total_len(), 12);
        let t2 = Md2Tlv::new_checked(t1.next()).unwrap();
        assert_eq!(
            (t2.class(), t2.tlv_type(), t2.value_len()),
            (0xffff, 0x80, 0)
        );
        assert!(t2.next().is_empty());
        assert!(Md2Tlv::new_checked(&MD2[8..19]).is_err());
        assert!(Md2Tlv::new_checked(&MD2[8..11]).is_err());
    }

    #[test]
    fn emit_md2_tlvs() {
        let mut buf = [0xa5u8; 28];
        let mut h = Header::new_unchecked(&mut buf[..]);
        h.set_flags_ttl_len(0, 0, 24);
        h.set_md_type(MD_TYPE_2);
        h.set_next_proto(NP_ETHERNET);
        h.set_path_hdr(0x1001);
        Md2Tlv::new_unchecked(&mut buf[8..20]).emit(0x0101, 1, b"abcde");
        Md2Tlv::new_unchecked(&mut buf[20..24]).emit(0xffff, 0x80, &[]);
        buf[24..].copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(buf, MD2);
    }

    #[test]
    fn emit_md1() {
        let mut buf = [0xa5u8; 24];
        let mut h = Header::new_unchecked(&mut buf[..]);
        h.set_flags_ttl_len(2, 63, 24);
        h.set_md_type(MD_TYPE_1);
        h.set_next_proto(NP_ETHERNET);
        h.set_path_hdr(0x123456 << 8 | 255);
        for i in 0..4 {
            h.set_md1_context(i, i as u32 + 1);
        }
        assert_eq!(buf, MD1);
    }
}
