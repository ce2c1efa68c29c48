//! MPLS label stack entries (RFC 3032).

use crate::bytes::{get_u32, set_u32};
use crate::{Error, Result};

/// Length of one label stack entry.
pub const LSE_LEN: usize = 4;
/// Label bits of an LSE (as a host-order `u32`).
pub const LABEL_MASK: u32 = 0xffff_f000;
/// Label shift within an LSE.
pub const LABEL_SHIFT: u32 = 12;
/// Traffic class bits of an LSE.
pub const TC_MASK: u32 = 0x0000_0e00;
/// Traffic class shift within an LSE.
pub const TC_SHIFT: u32 = 9;
/// Bottom-of-stack bit of an LSE.
pub const BOS_MASK: u32 = 0x0000_0100;
/// TTL bits of an LSE.
pub const TTL_MASK: u32 = 0x0000_00ff;

/// A view of one MPLS label stack entry.
#[derive(Debug, Clone)]
pub struct Lse<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Lse<T> {
    /// Wraps `buffer` without checking its length.
    pub fn new_unchecked(buffer: T) -> Lse<T> {
        Lse { buffer }
    }

    /// Wraps `buffer` and checks it holds a whole entry.
    pub fn new_checked(buffer: T) -> Result<Lse<T>> {
        let l = Lse::new_unchecked(buffer);
        l.check_len()?;
        Ok(l)
    }

    /// Checks the buffer holds 4 bytes.
    pub fn check_len(&self) -> Result<()> {
        if self.buffer.as_ref().len() < LSE_LEN {
            Err(Error)
        } else {
            Ok(())
        }
    }

    /// The whole entry as a host-order integer.
    pub fn raw(&self) -> u32 {
        get_u32(self.buffer.as_ref(), 0)
    }

    /// Label (20 bits).
    pub fn label(&self) -> u32 {
        (self.raw() & LABEL_MASK) >> LABEL_SHIFT
    }

    /// Traffic class (3 bits).
    pub fn tc(&self) -> u8 {
        ((self.raw() & TC_MASK) >> TC_SHIFT) as u8
    }

    /// True on the bottom entry of the stack.
    pub fn bos(&self) -> bool {
        self.raw() & BOS_MASK != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        (self.raw() & TTL_MASK) as u8
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Lse<&'a T> {
    /// The bytes after the entry.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer.as_ref()[LSE_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Lse<T> {
    /// Sets the whole entry.
    pub fn set_raw(&mut self, value: u32) {
        set_u32(self.buffer.as_mut(), 0, value);
    }

    /// Sets the fields of the entry.
    pub fn set_fields(&mut self, label: u32, tc: u8, bos: bool, ttl: u8) {
        let value = ((label << LABEL_SHIFT) & LABEL_MASK)
            | ((u32::from(tc) << TC_SHIFT) & TC_MASK)
            | if bos { BOS_MASK } else { 0 }
            | u32::from(ttl);
        self.set_raw(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static LSE: [u8; 4] = [0x00, 0x06, 0x4b, 0x40];

    #[test]
    fn parse() {
        let l = Lse::new_checked(&LSE[..]).unwrap();
        assert_eq!(l.label(), 100);
        assert_eq!(l.tc(), 5);
        assert!(l.bos());
        assert_eq!(l.ttl(), 64);
        assert!(Lse::new_checked(&LSE[..3]).is_err());
    }

    #[test]
    fn emit() {
        let mut buf = [0xa5u8; 4];
        Lse::new_unchecked(&mut buf[..]).set_fields(100, 5, true, 64);
        assert_eq!(buf, LSE);
    }
}
