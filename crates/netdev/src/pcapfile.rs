//! The classic pcap file format, as read and written by the `pcap` netdev.
//!
//! A file is a 24-byte global header (magic, version 2.4, time zone
//! offset, timestamp accuracy, snapshot length, link type) followed by
//! records, each a 16-byte header (seconds, microseconds or nanoseconds,
//! captured length, original length) and the captured bytes. The magic
//! tells the byte order and the timestamp resolution.
//!
//! Why not the `pcap-file` crate: its current stable release (2.0.0)
//! rejects every record whose original length exceeds the file's snapshot
//! length, i.e. any capture taken with a short `-s` snaplen, which tcpdump
//! and Wireshark read fine; its reader also allocates an 8 MB buffer per
//! file, and its next major version is still a release candidate that
//! needs a newer compiler than our minimum. The format is small and fixed,
//! so we read and write it here with explicit bounds, and the tests check
//! our files with `pcap-file`'s reader independently.

use std::io::{self, Read, Write};
use std::time::Duration;

use crate::Packet;

/// Link type of Ethernet frames (`LINKTYPE_ETHERNET`).
pub const LINKTYPE_ETHERNET: u32 = 1;

/// The largest captured length a record may have (libpcap's own bound);
/// anything larger is treated as corruption, so a bad length can never make
/// the reader allocate more than this.
pub const MAX_CAPLEN: u32 = 262_144;

/// Snapshot length written in files we create (tcpdump's default).
pub const DEFAULT_SNAPLEN: u32 = MAX_CAPLEN;

/// Magic of a file with microsecond timestamps, as a native number.
const MAGIC_USEC: u32 = 0xa1b2_c3d4;
/// Magic of a file with nanosecond timestamps, as a native number.
const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
/// Length of the global header.
pub const GLOBAL_HEADER_LEN: u64 = 24;
/// Length of a record header.
const RECORD_HEADER_LEN: usize = 16;

/// An [`io::ErrorKind::InvalidData`] error.
fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// What the global header of a file says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The file's numbers are big-endian.
    pub big_endian: bool,
    /// Timestamps have nanosecond (not microsecond) resolution.
    pub nanos: bool,
    /// Snapshot length.
    pub snaplen: u32,
    /// Link type (the low 16 bits of the field).
    pub linktype: u32,
}

impl Header {
    /// Reads a 32-bit number in the file's byte order.
    fn u32(&self, b: &[u8]) -> u32 {
        let a = [b[0], b[1], b[2], b[3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }
}

/// Reads as many bytes as `buf` holds, stopping early only at end of file.
/// Returns how many were read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads and checks the global header. Only Ethernet captures are
/// accepted, since the netdev carries Ethernet frames.
pub fn read_header(r: &mut impl Read) -> io::Result<Header> {
    let mut b = [0u8; GLOBAL_HEADER_LEN as usize];
    let got = read_full(r, &mut b)?;
    if got < b.len() {
        return Err(invalid(format!(
            "pcap file too short: {got} bytes, the global header has {GLOBAL_HEADER_LEN}"
        )));
    }
    let magic_le = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    let (big_endian, nanos) = match (magic_le, magic_le.swap_bytes()) {
        (MAGIC_USEC, _) => (false, false),
        (MAGIC_NSEC, _) => (false, true),
        (_, MAGIC_USEC) => (true, false),
        (_, MAGIC_NSEC) => (true, true),
        _ => {
            return Err(invalid(format!(
                "not a pcap file: bad magic number {:02x}{:02x}{:02x}{:02x}",
                b[0], b[1], b[2], b[3]
            )))
        }
    };
    let mut h = Header {
        big_endian,
        nanos,
        snaplen: 0,
        linktype: 0,
    };
    let major = if big_endian {
        u16::from_be_bytes([b[4], b[5]])
    } else {
        u16::from_le_bytes([b[4], b[5]])
    };
    if major != 2 {
        return Err(invalid(format!(
            "unsupported pcap version {major} (expected 2)"
        )));
    }
    h.snaplen = h.u32(&b[16..20]);
    h.linktype = h.u32(&b[20..24]) & 0xffff;
    if h.linktype != LINKTYPE_ETHERNET {
        return Err(invalid(format!(
            "unsupported pcap link type {} (only Ethernet, {LINKTYPE_ETHERNET}, is supported)",
            h.linktype
        )));
    }
    Ok(h)
}

/// Reads the next record into `pkt` (reset first; `in_port` 0). Returns
/// `Ok(false)` at a clean end of file (between records), `InvalidData` for
/// a truncated record or one whose captured length exceeds
/// [`MAX_CAPLEN`]. Allocates at most [`MAX_CAPLEN`] bytes, and only if
/// `pkt`'s buffer is smaller than the record.
pub fn read_record(r: &mut impl Read, h: &Header, pkt: &mut Packet) -> io::Result<bool> {
    let mut b = [0u8; RECORD_HEADER_LEN];
    match read_full(r, &mut b)? {
        0 => return Ok(false),
        RECORD_HEADER_LEN => {}
        n => {
            return Err(invalid(format!(
                "truncated pcap record header: {n} of {RECORD_HEADER_LEN} bytes"
            )))
        }
    }
    let caplen = h.u32(&b[8..12]);
    if caplen > MAX_CAPLEN {
        return Err(invalid(format!(
            "pcap record captured length {caplen} exceeds the maximum {MAX_CAPLEN}"
        )));
    }
    pkt.reset();
    pkt.resize(caplen as usize);
    let got = read_full(r, pkt.data_mut())?;
    if got < caplen as usize {
        pkt.reset();
        return Err(invalid(format!(
            "truncated pcap record: {got} of {caplen} bytes"
        )));
    }
    Ok(true)
}

/// Writes a global header: little-endian, microsecond timestamps, version
/// 2.4, Ethernet, snapshot length `snaplen`.
pub fn write_header(w: &mut impl Write, snaplen: u32) -> io::Result<()> {
    let mut b = [0u8; GLOBAL_HEADER_LEN as usize];
    b[0..4].copy_from_slice(&MAGIC_USEC.to_le_bytes());
    b[4..6].copy_from_slice(&2u16.to_le_bytes());
    b[6..8].copy_from_slice(&4u16.to_le_bytes());
    // Bytes 8..16: time zone offset and accuracy, both 0.
    b[16..20].copy_from_slice(&snaplen.to_le_bytes());
    b[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    w.write_all(&b)
}

/// Writes one record (in a file written by [`write_header`]) of `frame`,
/// captured at `ts` since the Unix epoch and cut to `snaplen` bytes.
/// Seconds past 2106 wrap, as the format has 32 bits for them.
pub fn write_record(
    w: &mut impl Write,
    ts: Duration,
    frame: &[u8],
    snaplen: u32,
) -> io::Result<()> {
    let orig = u32::try_from(frame.len()).unwrap_or(u32::MAX);
    let caplen = orig.min(snaplen);
    let mut b = [0u8; RECORD_HEADER_LEN];
    // Truncation intended: see the doc comment.
    b[0..4].copy_from_slice(&(ts.as_secs() as u32).to_le_bytes());
    b[4..8].copy_from_slice(&ts.subsec_micros().to_le_bytes());
    b[8..12].copy_from_slice(&caplen.to_le_bytes());
    b[12..16].copy_from_slice(&orig.to_le_bytes());
    w.write_all(&b)?;
    w.write_all(&frame[..caplen as usize])
}
