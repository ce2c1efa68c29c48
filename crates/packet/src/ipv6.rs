//! IPv6 headers (RFC 8200) and the extension headers a datapath walks:
//! hop-by-hop options, routing, fragment, destination options
//! ([`ExtHeader`], [`FragHeader`]) and the authentication header
//! ([`AuthHeader`], RFC 4302).

use crate::bytes::{get_u128, get_u16, get_u32, set_u16, set_u32, Field};
use crate::{Error, Result};

mod field {
    use super::Field;
    pub const VER_TC_FL: usize = 0;
    pub const PAYLOAD_LEN: usize = 4;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Field = 8..24;
    pub const DST: Field = 24..40;
    pub const PAYLOAD: usize = 40;
}

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = field::PAYLOAD;
/// Flow label bits of the first word.
pub const FLOW_LABEL_MASK: u32 = 0x000f_ffff;

/// A view of the fixed IPv6 header.
///
/// `check_len` guarantees the 40 bytes; it does not require the buffer to
/// hold `payload_len` more bytes ([`Packet::payload`] returns what is
/// there).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps `buffer` and checks it holds the fixed header.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let p = Packet::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the buffer holds 40 bytes.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < HEADER_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    fn first_word(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::VER_TC_FL)
    }

    /// IP version (6).
    pub fn version(&self) -> u8 {
        (self.first_word() >> 28) as u8
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.first_word() & FLOW_LABEL_MASK
    }

    /// Payload length (extension headers included).
    pub fn payload_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PAYLOAD_LEN)
    }

    /// Next header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NEXT_HEADER]
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> u128 {
        get_u128(self.buffer.as_ref(), field::SRC)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> u128 {
        get_u128(self.buffer.as_ref(), field::DST)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The bytes after the fixed header, up to `payload_len` or the end of
    /// the buffer, whichever comes first.
    pub fn payload(&self) -> &'a [u8] {
        let data = self.buffer.as_ref();
        let end = (HEADER_LEN + usize::from(self.payload_len())).min(data.len());
        &data[HEADER_LEN..end]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets version 6, the traffic class and the flow label.
    pub fn set_version_tc_flow_label(&mut self, traffic_class: u8, flow_label: u32) {
        let word = 6 << 28 | u32::from(traffic_class) << 20 | (flow_label & FLOW_LABEL_MASK);
        set_u32(self.buffer.as_mut(), field::VER_TC_FL, word);
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::PAYLOAD_LEN, value);
    }

    /// Sets the next header.
    pub fn set_next_header(&mut self, value: u8) {
        self.buffer.as_mut()[field::NEXT_HEADER] = value;
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = value;
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, value: u128) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&value.to_be_bytes());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, value: u128) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&value.to_be_bytes());
    }
}

mod ext_field {
    pub const NEXT_HEADER: usize = 0;
    pub const LEN: usize = 1;
    pub const ROUTING_TYPE: usize = 2;
    pub const SEGMENTS_LEFT: usize = 3;
    pub const MIN_LEN: usize = 8;
}

/// Smallest extension header (and the unit of their lengths).
pub const EXT_MIN_LEN: usize = ext_field::MIN_LEN;

/// A view of a hop-by-hop options, routing or destination options header:
/// next header, length in 8-byte units not counting the first 8, then
/// type-specific data.
#[derive(Debug, Clone)]
pub struct ExtHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> ExtHeader<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> ExtHeader<T> {
        ExtHeader { buffer }
    }

    /// Wraps `buffer` and checks it holds the whole header.
    pub fn new_checked(buffer: T) -> Result<ExtHeader<T>> {
        let h = ExtHeader::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// Checks the buffer holds 8 bytes and the length the header announces.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < EXT_MIN_LEN || len < self.header_len() {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// Next header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[ext_field::NEXT_HEADER]
    }

    /// The raw length field.
    pub fn hdr_ext_len(&self) -> u8 {
        self.buffer.as_ref()[ext_field::LEN]
    }

    /// Header length in bytes: `(hdr_ext_len + 1) * 8`.
    pub fn header_len(&self) -> usize {
        (usize::from(self.hdr_ext_len()) + 1) * 8
    }

    /// Routing type (meaningful in a routing header only).
    pub fn routing_type(&self) -> u8 {
        self.buffer.as_ref()[ext_field::ROUTING_TYPE]
    }

    /// Segments left (meaningful in a routing header only).
    pub fn segments_left(&self) -> u8 {
        self.buffer.as_ref()[ext_field::SEGMENTS_LEFT]
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> ExtHeader<&'a T> {
    /// The bytes after this header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ExtHeader<T> {
    /// Sets the next header.
    pub fn set_next_header(&mut self, value: u8) {
        self.buffer.as_mut()[ext_field::NEXT_HEADER] = value;
    }

    /// Sets the length field (the header is `(value + 1) * 8` bytes).
    pub fn set_hdr_ext_len(&mut self, value: u8) {
        self.buffer.as_mut()[ext_field::LEN] = value;
    }

    /// The bytes after the two-byte prefix up to the end of the header
    /// (options, or a routing header's type-specific data).
    pub fn data_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        &mut self.buffer.as_mut()[2..end]
    }
}

mod frag_field {
    pub const NEXT_HEADER: usize = 0;
    pub const RESERVED: usize = 1;
    pub const OFFSET_FLAGS: usize = 2;
    pub const IDENT: usize = 4;
    pub const LEN: usize = 8;
}

/// Length of a fragment header.
pub const FRAG_HEADER_LEN: usize = frag_field::LEN;
/// Fragment offset bits of [`FragHeader::offset_flags`] (offset << 3).
pub const FRAG_OFFSET_MASK: u16 = 0xfff8;
/// More-fragments flag of [`FragHeader::offset_flags`].
pub const FRAG_MORE: u16 = 0x0001;

/// A view of a fragment header.
#[derive(Debug, Clone)]
pub struct FragHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> FragHeader<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> FragHeader<T> {
        FragHeader { buffer }
    }

    /// Wraps `buffer` and checks it holds the 8-byte header.
    pub fn new_checked(buffer: T) -> Result<FragHeader<T>> {
        let h = FragHeader::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// Checks the buffer holds 8 bytes.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < FRAG_HEADER_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// Next header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[frag_field::NEXT_HEADER]
    }

    /// Offset, reserved bits and M flag as one word.
    pub fn offset_flags(&self) -> u16 {
        get_u16(self.buffer.as_ref(), frag_field::OFFSET_FLAGS)
    }

    /// Fragment offset in 8-byte units.
    pub fn frag_offset(&self) -> u16 {
        self.offset_flags() >> 3
    }

    /// More-fragments flag.
    pub fn more_frags(&self) -> bool {
        self.offset_flags() & FRAG_MORE != 0
    }

    /// Identification.
    pub fn ident(&self) -> u32 {
        get_u32(self.buffer.as_ref(), frag_field::IDENT)
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> FragHeader<&'a T> {
    /// The bytes after this header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[FRAG_HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> FragHeader<T> {
    /// Sets the next header and clears the reserved byte.
    pub fn set_next_header(&mut self, value: u8) {
        let b = self.buffer.as_mut();
        b[frag_field::NEXT_HEADER] = value;
        b[frag_field::RESERVED] = 0;
    }

    /// Sets offset, reserved bits and M flag as one word.
    pub fn set_offset_flags(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), frag_field::OFFSET_FLAGS, value);
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), frag_field::IDENT, value);
    }
}

mod ah_field {
    pub const NEXT_HEADER: usize = 0;
    pub const LEN: usize = 1;
    pub const SPI: usize = 4;
    pub const SEQ: usize = 8;
    pub const MIN_LEN: usize = 12;
}

/// Smallest authentication header (no integrity check value).
pub const AH_MIN_LEN: usize = ah_field::MIN_LEN;

/// A view of an authentication header, whose length field counts 4-byte
/// units minus 2.
#[derive(Debug, Clone)]
pub struct AuthHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> AuthHeader<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> AuthHeader<T> {
        AuthHeader { buffer }
    }

    /// Wraps `buffer` and checks it holds the whole header.
    pub fn new_checked(buffer: T) -> Result<AuthHeader<T>> {
        let h = AuthHeader::new_unchecked(buffer);
        h.check_len()?;
        Ok(h)
    }

    /// Checks the buffer holds 12 bytes and the length the header
    /// announces, which must be at least 12.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < AH_MIN_LEN || self.header_len() < AH_MIN_LEN || len < self.header_len() {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// Next header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[ah_field::NEXT_HEADER]
    }

    /// Header length in bytes: `(len + 2) * 4`.
    pub fn header_len(&self) -> usize {
        (usize::from(self.buffer.as_ref()[ah_field::LEN]) + 2) * 4
    }

    /// Security parameters index.
    pub fn spi(&self) -> u32 {
        get_u32(self.buffer.as_ref(), ah_field::SPI)
    }

    /// Sequence number.
    pub fn seq(&self) -> u32 {
        get_u32(self.buffer.as_ref(), ah_field::SEQ)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> AuthHeader<T> {
    /// Sets next header and length (`header_len` bytes, a multiple of 4 of
    /// at least 12), clearing the reserved bytes.
    pub fn set_next_header_and_len(&mut self, next_header: u8, header_len: usize) {
        let b = self.buffer.as_mut();
        b[ah_field::NEXT_HEADER] = next_header;
        b[ah_field::LEN] = (header_len / 4).saturating_sub(2) as u8;
        b[2] = 0;
        b[3] = 0;
    }

    /// Sets the security parameters index.
    pub fn set_spi(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), ah_field::SPI, value);
    }

    /// Sets the sequence number.
    pub fn set_seq(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), ah_field::SEQ, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipproto;

    static HEADER: [u8; 44] = [
        0x6a, 0x51, 0x23, 0x45, 0x00, 0x04, 0x11, 0x40, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 1, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 2, 3, 4,
    ];

    #[test]
    fn parse_header() {
        let p = Packet::new_checked(&HEADER[..]).unwrap();
        assert_eq!(p.version(), 6);
        assert_eq!(p.traffic_class(), 0xa5);
        assert_eq!(p.flow_label(), 0x12345);
        assert_eq!(p.payload_len(), 4);
        assert_eq!(p.next_header(), ipproto::UDP);
        assert_eq!(p.hop_limit(), 64);
        assert_eq!(p.src_addr(), 0x2001_0db8 << 96 | 1);
        assert_eq!(p.dst_addr(), 0x2001_0db8 << 96 | 2);
        assert_eq!(p.payload(), &[1, 2, 3, 4]);
        assert_eq!(
            Packet::new_checked(&HEADER[..42]).unwrap().payload(),
            &[1, 2]
        );
        assert!(Packet::new_checked(&HEADER[..39]).is_err());
    }

    #[test]
    fn emit_header() {
        let mut buf = [0xa5u8; 44];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_version_tc_flow_label(0xa5, 0x12345);
        p.set_payload_len(4);
        p.set_next_header(ipproto::UDP);
        p.set_hop_limit(64);
        p.set_src_addr(0x2001_0db8 << 96 | 1);
        p.set_dst_addr(0x2001_0db8 << 96 | 2);
        buf[40..].copy_from_slice(&[1, 2, 3, 4]);
        assert_eq!(buf, HEADER);
    }

    // Hop-by-hop (16 bytes: PadN), then a fragment header, then AH.
    static EXT: [u8; 40] = [
        44, 1, 1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // hop-by-hop
        51, 0, 0x01, 0x91, 0xde, 0xad, 0xbe, 0xef, // fragment: offset 50, M
        6, 2, 0, 0, 0, 0, 0, 7, 0, 0, 0, 9, 0xaa, 0xbb, 0xcc, 0xdd, // AH, 16 bytes
    ];

    #[test]
    fn parse_ext_headers() {
        let h = ExtHeader::new_checked(&EXT[..]).unwrap();
        assert_eq!(h.next_header(), ipproto::FRAGMENT);
        assert_eq!(h.header_len(), 16);
        let f = FragHeader::new_checked(h.payload()).unwrap();
        assert_eq!(f.next_header(), ipproto::AH);
        assert_eq!(f.frag_offset(), 50);
        assert!(f.more_frags());
        assert_eq!(f.ident(), 0xdead_beef);
        let a = AuthHeader::new_checked(f.payload()).unwrap();
        assert_eq!(a.next_header(), ipproto::TCP);
        assert_eq!(a.header_len(), 16);
        assert_eq!(a.spi(), 7);
        assert_eq!(a.seq(), 9);
        assert!(ExtHeader::new_checked(&EXT[..15]).is_err());
        assert!(FragHeader::new_checked(&EXT[16..23]).is_err());
        assert!(AuthHeader::new_checked(&EXT[24..39]).is_err());
    }

    #[test]
    fn emit_ext_headers() {
        let mut buf = [0xa5u8; 40];
        let mut h = ExtHeader::new_unchecked(&mut buf[..16]);
        h.set_next_header(ipproto::FRAGMENT);
        h.set_hdr_ext_len(1);
        let data = h.data_mut();
        data.fill(0);
        data[0] = 1;
        data[1] = 12;
        let mut f = FragHeader::new_unchecked(&mut buf[16..24]);
        f.set_next_header(ipproto::AH);
        f.set_offset_flags(50 << 3 | FRAG_MORE);
        f.set_ident(0xdead_beef);
        let mut a = AuthHeader::new_unchecked(&mut buf[24..40]);
        a.set_next_header_and_len(ipproto::TCP, 16);
        a.set_spi(7);
        a.set_seq(9);
        buf[36..40].copy_from_slice(&[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(buf, EXT);
    }
}
