//! Zero-copy views over packet headers, and the checksums they carry.
//!
//! Every header type is a view, `Header<T: AsRef<[u8]>>`, over a caller's
//! buffer: nothing is copied when parsing and nothing is allocated.
//!
//! - `new_unchecked(buffer)` wraps any buffer; `check_len()` verifies that
//!   the buffer holds the whole fixed header (and, for headers with a length
//!   field, that the length field is sane and fits); `new_checked(buffer)` is
//!   both. **Once `check_len` has passed, no getter panics.** Setters need
//!   `T: AsMut<[u8]>` and the same guarantee. Use checked views on untrusted
//!   input, unchecked ones when emitting into a buffer sized by the caller.
//! - Field offsets live in each module's private `field` module as ranges.
//! - Multi-byte fields are read and written in network byte order and
//!   returned as host-order integers.
//!
//! Modules: [`ethernet`] (Ethernet II and 802.3/LLC/SNAP), [`vlan`]
//! (802.1Q/802.1ad tags), [`mpls`], [`arp`], [`ipv4`], [`ipv6`] (with its
//! extension headers), [`tcp`], [`udp`], [`sctp`], [`icmpv4`], [`icmpv6`]
//! (with neighbor discovery), [`nsh`], and [`checksum`] (Internet checksum,
//! pseudo-headers, RFC 1624 incremental update, CRC32c).
//!
//! ```
//! use packet::{ethernet, udp};
//! let frame = [
//!     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 1, 0x08, 0x06,
//! ];
//! let eth = ethernet::Frame::new_checked(&frame[..]).unwrap();
//! assert_eq!(eth.ethertype(), ethernet::ETHERTYPE_ARP);
//! assert!(ethernet::Frame::new_checked(&frame[..13]).is_err());
//!
//! let mut buf = [0u8; 8];
//! let mut dgram = udp::Packet::new_unchecked(&mut buf[..]);
//! dgram.set_src_port(53);
//! dgram.set_dst_port(1024);
//! dgram.set_len(8);
//! assert_eq!(buf[..4], [0, 53, 4, 0]);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod mpls;
pub mod nsh;
pub mod sctp;
pub mod tcp;
pub mod udp;
pub mod vlan;

use core::fmt;

/// IP protocol numbers (IPv4 protocol, IPv6 next header).
pub mod ipproto {
    /// IPv6 hop-by-hop options.
    pub const HOPOPTS: u8 = 0;
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// IGMP.
    pub const IGMP: u8 = 2;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// IPv6 routing header.
    pub const ROUTING: u8 = 43;
    /// IPv6 fragment header.
    pub const FRAGMENT: u8 = 44;
    /// GRE.
    pub const GRE: u8 = 47;
    /// ESP.
    pub const ESP: u8 = 50;
    /// Authentication header.
    pub const AH: u8 = 51;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
    /// IPv6 "no next header".
    pub const NONE: u8 = 59;
    /// IPv6 destination options.
    pub const DSTOPTS: u8 = 60;
    /// SCTP.
    pub const SCTP: u8 = 132;
}

/// A per-packet failure: the buffer is too short for the header, or a
/// length field in it is inconsistent. Deliberately carries no detail, so
/// that failing on a bad packet costs nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("truncated or malformed packet header")
    }
}

impl std::error::Error for Error {}

/// The result of a check on packet bytes.
pub type Result<T> = core::result::Result<T, Error>;

/// An Ethernet (MAC) address as its six bytes.
pub type EthernetAddress = [u8; 6];

/// Byte-order helpers shared by the views. Callers guarantee the range is
/// inside the buffer (the views' `check_len` contract).
pub(crate) mod bytes {
    use core::ops::Range;

    /// A field's location within a header.
    pub type Field = Range<usize>;

    #[inline]
    pub fn get_u16(data: &[u8], at: usize) -> u16 {
        u16::from_be_bytes([data[at], data[at + 1]])
    }

    #[inline]
    pub fn set_u16(data: &mut [u8], at: usize, value: u16) {
        data[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

    #[inline]
    pub fn get_u32(data: &[u8], at: usize) -> u32 {
        u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
    }

    #[inline]
    pub fn set_u32(data: &mut [u8], at: usize, value: u32) {
        data[at..at + 4].copy_from_slice(&value.to_be_bytes());
    }

    #[inline]
    pub fn get_u128(data: &[u8], field: Field) -> u128 {
        let mut b = [0u8; 16];
        b.copy_from_slice(&data[field]);
        u128::from_be_bytes(b)
    }

    #[inline]
    pub fn get_mac(data: &[u8], field: Field) -> [u8; 6] {
        let mut b = [0u8; 6];
        b.copy_from_slice(&data[field]);
        b
    }
}
