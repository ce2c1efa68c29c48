//! TCP headers (RFC 9293).

use crate::bytes::{get_u16, get_u32, set_u16, set_u32};
use crate::{checksum, Error, Result};

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ: usize = 4;
    pub const ACK: usize = 8;
    pub const OFFSET_FLAGS: usize = 12;
    pub const WINDOW: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
    pub const OPTIONS: usize = 20;
}

/// Length of a TCP header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS;
/// The 12 flag bits of the offset/flags word (reserved bits, NS, CWR,
/// ECE, URG, ACK, PSH, RST, SYN, FIN), as OVS matches them.
pub const FLAGS_MASK: u16 = 0x0fff;
/// FIN flag.
pub const FLAG_FIN: u16 = 0x001;
/// SYN flag.
pub const FLAG_SYN: u16 = 0x002;
/// RST flag.
pub const FLAG_RST: u16 = 0x004;
/// PSH flag.
pub const FLAG_PSH: u16 = 0x008;
/// ACK flag.
pub const FLAG_ACK: u16 = 0x010;

/// A view of a TCP header. `check_len` guarantees the fixed header and
/// the options announced by the data offset are in the buffer.
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

    /// Checks the buffer holds 20 bytes, the data offset is at least 5,
    /// and the options fit.
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

    /// Source port.
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SEQ)
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::ACK)
    }

    /// Header length in bytes (data offset × 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::OFFSET_FLAGS] >> 4) * 4
    }

    /// The 12 flag bits ([`FLAGS_MASK`]).
    pub fn flags(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::OFFSET_FLAGS) & FLAGS_MASK
    }

    /// Window size.
    pub fn window_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::WINDOW)
    }

    /// Checksum.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// True if the checksum is right, the buffer being the whole segment
    /// and `pseudo` the pseudo-header's partial sum.
    pub fn verify_checksum(&self, pseudo: u32) -> bool {
        checksum::is_valid(checksum::add(pseudo, self.buffer.as_ref()))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The option bytes.
    pub fn options(&self) -> &'a [u8] {
        &self.buffer.as_ref()[field::OPTIONS..self.header_len()]
    }

    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[self.header_len()..]
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

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), field::SEQ, value);
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), field::ACK, value);
    }

    /// Sets the header length (`header_len` bytes, a multiple of 4 from 20
    /// to 60) and the 12 flag bits.
    pub fn set_header_len_and_flags(&mut self, header_len: usize, flags: u16) {
        let word = ((header_len / 4) as u16) << 12 | (flags & FLAGS_MASK);
        set_u16(self.buffer.as_mut(), field::OFFSET_FLAGS, word);
    }

    /// Sets the window size.
    pub fn set_window_len(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::WINDOW, value);
    }

    /// Sets the checksum field.
    pub fn set_checksum(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, value: u16) {
        set_u16(self.buffer.as_mut(), field::URGENT, value);
    }

    /// Computes and stores the checksum over the whole buffer (the
    /// segment), `pseudo` being the pseudo-header's partial sum.
    pub fn fill_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let sum = checksum::finish(checksum::add(pseudo, self.buffer.as_ref()));
        self.set_checksum(sum);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // SYN from 10.0.0.1:49152 to 10.0.0.2:80, with an MSS option.
    static SEGMENT: [u8; 24] = [
        0xc0, 0x00, 0x00, 0x50, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x60, 0x02, 0xff,
        0xff, 0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
    ];

    fn pseudo() -> u32 {
        checksum::pseudo_header_v4(0x0a00_0001, 0x0a00_0002, crate::ipproto::TCP, 24)
    }

    #[test]
    fn parse() {
        let p = Packet::new_checked(&SEGMENT[..]).unwrap();
        assert_eq!(p.src_port(), 49152);
        assert_eq!(p.dst_port(), 80);
        assert_eq!(p.seq_number(), 1);
        assert_eq!(p.ack_number(), 0);
        assert_eq!(p.header_len(), 24);
        assert_eq!(p.flags(), FLAG_SYN);
        assert_eq!(p.window_len(), 0xffff);
        assert_eq!(p.options(), &[2, 4, 5, 0xb4]);
        assert!(p.payload().is_empty());
        assert!(Packet::new_checked(&SEGMENT[..23]).is_err());
        let mut bad = SEGMENT;
        bad[12] = 0x40;
        assert!(Packet::new_checked(&bad[..]).is_err());
    }

    #[test]
    fn emit_and_checksum() {
        let mut buf = [0xa5u8; 24];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_src_port(49152);
        p.set_dst_port(80);
        p.set_seq_number(1);
        p.set_ack_number(0);
        p.set_header_len_and_flags(24, FLAG_SYN);
        p.set_window_len(0xffff);
        p.set_urgent_at(0);
        p.set_checksum(0);
        buf[20..].copy_from_slice(&[2, 4, 5, 0xb4]);
        assert_eq!(buf, SEGMENT);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.fill_checksum(pseudo());
        assert!(p.verify_checksum(pseudo()));
        // Independent expectation: the sum of all 16-bit words, folded.
        let words: u32 = 0xc000 + 0x50 + 1 + 0x6002 + 0xffff + 0x0204 + 0x05b4;
        let expect = !checksum::fold(words + pseudo());
        assert_eq!(p.checksum(), expect);
    }
}
