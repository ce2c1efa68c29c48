//! ICMPv6 (RFC 4443) and neighbor discovery solicitations and
//! advertisements with their link-layer address options (RFC 4861).

use crate::bytes::{get_mac, get_u128, get_u16, get_u32, set_u16, set_u32};
use crate::{checksum, Error, EthernetAddress, Result};

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const DATA: usize = 4;
    pub const BODY: usize = 8;
    pub const ND_TARGET: core::ops::Range<usize> = 8..24;
    pub const ND_OPTIONS: usize = 24;
}

/// Length of the ICMPv6 header including its first 4-byte data word.
pub const HEADER_LEN: usize = field::BODY;
/// Length of a neighbor solicitation or advertisement before options.
pub const ND_LEN: usize = field::ND_OPTIONS;
/// Neighbor solicitation type.
pub const TYPE_NEIGHBOR_SOLICIT: u8 = 135;
/// Neighbor advertisement type.
pub const TYPE_NEIGHBOR_ADVERT: u8 = 136;
/// Echo request type.
pub const TYPE_ECHO_REQUEST: u8 = 128;
/// Neighbor advertisement router flag, in [`Packet::data_word`].
pub const NA_FLAG_ROUTER: u32 = 0x8000_0000;
/// Neighbor advertisement solicited flag.
pub const NA_FLAG_SOLICITED: u32 = 0x4000_0000;
/// Neighbor advertisement override flag.
pub const NA_FLAG_OVERRIDE: u32 = 0x2000_0000;
/// ND option: source link-layer address.
pub const OPT_SOURCE_LLADDR: u8 = 1;
/// ND option: target link-layer address.
pub const OPT_TARGET_LLADDR: u8 = 2;

/// A view of an ICMPv6 message. `check_len` guarantees the 8-byte header;
/// the ND accessors need [`Packet::check_nd_len`] as well.
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

    /// Checks the buffer holds the 24 bytes of a neighbor solicitation or
    /// advertisement (header, flags and target), so that
    /// [`Packet::nd_target`] and [`Packet::nd_options`] do not panic.
    pub fn check_nd_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < ND_LEN {
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

    /// The first data word (for ND: the reserved word, carrying the R, S
    /// and O flags of an advertisement).
    pub fn data_word(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::DATA)
    }

    /// True for a neighbor solicitation or advertisement (code 0).
    pub fn is_nd(&self) -> bool {
        self.msg_code() == 0
            && (self.msg_type() == TYPE_NEIGHBOR_SOLICIT || self.msg_type() == TYPE_NEIGHBOR_ADVERT)
    }

    /// ND target address (needs [`Packet::check_nd_len`]).
    pub fn nd_target(&self) -> u128 {
        get_u128(self.buffer.as_ref(), field::ND_TARGET)
    }

    /// True if the checksum over the whole buffer (the message) is right,
    /// `pseudo` being the pseudo-header's partial sum.
    pub fn verify_checksum(&self, pseudo: u32) -> bool {
        checksum::is_valid(checksum::add(pseudo, self.buffer.as_ref()))
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Packet<&'a T> {
    /// The bytes after the 8-byte header.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// The ND option bytes after the target (needs
    /// [`Packet::check_nd_len`]).
    pub fn nd_options(&self) -> &'a [u8] {
        &self.buffer.as_ref()[ND_LEN..]
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

    /// Sets the first data word.
    pub fn set_data_word(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), field::DATA, value);
    }

    /// Sets the ND target (the buffer must hold 24 bytes).
    pub fn set_nd_target(&mut self, value: u128) {
        self.buffer.as_mut()[field::ND_TARGET].copy_from_slice(&value.to_be_bytes());
    }

    /// Computes and stores the checksum over the whole buffer.
    pub fn fill_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let sum = checksum::finish(checksum::add(pseudo, self.buffer.as_ref()));
        self.set_checksum(sum);
    }
}

/// Length of a link-layer address option for Ethernet.
pub const LLADDR_OPT_LEN: usize = 8;

/// A view of one ND option: type, length in 8-byte units, data.
/// `check_len` guarantees a nonzero length that fits in the buffer.
#[derive(Debug, Clone)]
pub struct NdOption<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> NdOption<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> NdOption<T> {
        NdOption { buffer }
    }

    /// Wraps `buffer` and checks it holds the whole option.
    pub fn new_checked(buffer: T) -> Result<NdOption<T>> {
        let o = NdOption::new_unchecked(buffer);
        o.check_len()?;
        Ok(o)
    }

    /// Checks the buffer holds the 2-byte prefix and the announced length,
    /// which must not be zero.
    pub fn check_len(&self) -> Result<()> {
        let len = self.buffer.as_ref().len();
        if len < 2 || self.option_len() == 0 || self.option_len() > len {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// Option type.
    pub fn option_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// Option length in bytes.
    pub fn option_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[1]) * 8
    }

    /// The Ethernet address of a source or target link-layer address
    /// option of length 8; `None` for other options.
    pub fn lladdr(&self) -> Option<EthernetAddress> {
        let t = self.option_type();
        if (t == OPT_SOURCE_LLADDR || t == OPT_TARGET_LLADDR) && self.option_len() == LLADDR_OPT_LEN
        {
            Some(get_mac(self.buffer.as_ref(), 2..8))
        } else {
            None
        }
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> NdOption<T> {
    /// Writes a link-layer address option of type `option_type` (8 bytes).
    pub fn set_lladdr(&mut self, option_type: u8, addr: EthernetAddress) {
        let b = self.buffer.as_mut();
        b[0] = option_type;
        b[1] = 1;
        b[2..8].copy_from_slice(&addr);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Neighbor solicitation for fe80::1 with a source link-layer address.
    static NS: [u8; 32] = [
        135, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 2, 0,
        0, 0, 0, 9,
    ];

    #[test]
    fn parse_ns() {
        let p = Packet::new_checked(&NS[..]).unwrap();
        assert!(p.is_nd());
        p.check_nd_len().unwrap();
        assert_eq!(p.msg_type(), TYPE_NEIGHBOR_SOLICIT);
        assert_eq!(p.nd_target(), 0xfe80 << 112 | 1);
        let o = NdOption::new_checked(p.nd_options()).unwrap();
        assert_eq!(o.option_type(), OPT_SOURCE_LLADDR);
        assert_eq!(o.lladdr(), Some([2, 0, 0, 0, 0, 9]));
        assert!(Packet::new_checked(&NS[..23])
            .unwrap()
            .check_nd_len()
            .is_err());
        assert!(NdOption::new_checked(&NS[24..31]).is_err());
        let zero = [1u8, 0, 0, 0, 0, 0, 0, 0];
        assert!(NdOption::new_checked(&zero[..]).is_err());
    }

    #[test]
    fn emit_ns_and_checksum() {
        let mut buf = [0xa5u8; 32];
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.set_msg_type(TYPE_NEIGHBOR_SOLICIT);
        p.set_msg_code(0);
        p.set_checksum(0);
        p.set_data_word(0);
        p.set_nd_target(0xfe80 << 112 | 1);
        NdOption::new_unchecked(&mut buf[24..]).set_lladdr(OPT_SOURCE_LLADDR, [2, 0, 0, 0, 0, 9]);
        assert_eq!(buf, NS);
        let pseudo = checksum::pseudo_header_v6(0xfe80 << 112 | 2, 0xff02 << 112 | 1, 58, 32);
        let mut p = Packet::new_unchecked(&mut buf[..]);
        p.fill_checksum(pseudo);
        assert!(p.verify_checksum(pseudo));
        let words: u32 = 0x8700 + 0xfe80 + 1 + 0x0101 + 0x0200 + 9;
        assert_eq!(p.checksum(), !checksum::fold(words + pseudo));
    }
}
