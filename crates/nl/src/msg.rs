//! Netlink messages: the `nlmsghdr` framing, datagrams of several
//! messages, requests, acks, errors and dump ends, built and read the way
//! the kernel's `af_netlink.c` builds and reads them.
//!
//! ```
//! use nl::msg::{self, MsgBuilder};
//! let mut b = MsgBuilder::genl(0x21, msg::NLM_F_REQUEST | msg::NLM_F_ACK, 3, 2);
//! b.header_bytes(&0i32.to_ne_bytes()); // a family header
//! b.attrs().put_string(1, "dp0");
//! let req = b.finish().unwrap();
//! let m = msg::Messages::new(&req).next().unwrap().unwrap();
//! assert_eq!(m.header.ty, 0x21);
//! let ack = msg::ack(m.bytes, 7, 0, msg::AckOpts::default(), None);
//! let e = msg::Messages::new(&ack).next().unwrap().unwrap();
//! assert_eq!(msg::parse_error(e.header.flags, e.payload()).unwrap(), (0, None));
//! ```

use crate::Writer;

/// Bytes of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// Messages start on multiples of this many bytes.
pub const NLMSG_ALIGNTO: usize = 4;

/// `NLMSG_NOOP`: nothing (the daemon's greeting).
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`: an error or an ack.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`: the end of a dump.
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`: data lost.
pub const NLMSG_OVERRUN: u16 = 4;
/// The lowest type of a protocol's own messages.
pub const NLMSG_MIN_TYPE: u16 = 0x10;

/// `NLM_F_REQUEST`.
pub const NLM_F_REQUEST: u16 = 0x01;
/// `NLM_F_MULTI`: part of a dump.
pub const NLM_F_MULTI: u16 = 0x02;
/// `NLM_F_ACK`: answer with an ack.
pub const NLM_F_ACK: u16 = 0x04;
/// `NLM_F_ECHO`: answer with the object.
pub const NLM_F_ECHO: u16 = 0x08;
/// `NLM_F_DUMP_INTR`: the dump was inconsistent.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// `NLM_F_ROOT`.
pub const NLM_F_ROOT: u16 = 0x100;
/// `NLM_F_MATCH`.
pub const NLM_F_MATCH: u16 = 0x200;
/// `NLM_F_DUMP`: both bits.
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
/// `NLM_F_REPLACE` (on a new-object request).
pub const NLM_F_REPLACE: u16 = 0x100;
/// `NLM_F_EXCL` (on a new-object request).
pub const NLM_F_EXCL: u16 = 0x200;
/// `NLM_F_CREATE` (on a new-object request).
pub const NLM_F_CREATE: u16 = 0x400;
/// On `NLMSG_ERROR`: the request was not copied back whole.
pub const NLM_F_CAPPED: u16 = 0x100;
/// On `NLMSG_ERROR` / `NLMSG_DONE`: extended-ack TLVs follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

/// Extended ack TLV: the error message (a NUL-terminated string).
pub const NLMSGERR_ATTR_MSG: u16 = 1;

/// Rounds `len` up to the message alignment.
pub const fn align(len: usize) -> usize {
    (len + NLMSG_ALIGNTO - 1) & !(NLMSG_ALIGNTO - 1)
}

/// `struct nlmsghdr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// `nlmsg_len`: the whole message, header included.
    pub len: u32,
    /// `nlmsg_type`.
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`.
    pub pid: u32,
}

impl Header {
    /// Reads a header from the first 16 bytes of `b`.
    pub fn parse(b: &[u8]) -> Option<Header> {
        let b: &[u8; NLMSG_HDRLEN] = b.get(..NLMSG_HDRLEN)?.try_into().ok()?;
        Some(Header {
            len: u32::from_ne_bytes([b[0], b[1], b[2], b[3]]),
            ty: u16::from_ne_bytes([b[4], b[5]]),
            flags: u16::from_ne_bytes([b[6], b[7]]),
            seq: u32::from_ne_bytes([b[8], b[9], b[10], b[11]]),
            pid: u32::from_ne_bytes([b[12], b[13], b[14], b[15]]),
        })
    }

    /// The header's 16 bytes.
    pub fn to_bytes(&self) -> [u8; NLMSG_HDRLEN] {
        let mut b = [0u8; NLMSG_HDRLEN];
        b[0..4].copy_from_slice(&self.len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.ty.to_ne_bytes());
        b[6..8].copy_from_slice(&self.flags.to_ne_bytes());
        b[8..12].copy_from_slice(&self.seq.to_ne_bytes());
        b[12..16].copy_from_slice(&self.pid.to_ne_bytes());
        b
    }
}

/// One message of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// Its header.
    pub header: Header,
    /// The whole message: header and payload (`nlmsg_len` bytes).
    pub bytes: &'a [u8],
}

impl<'a> Message<'a> {
    /// The bytes after the header.
    pub fn payload(&self) -> &'a [u8] {
        &self.bytes[NLMSG_HDRLEN..]
    }
}

/// Why a datagram could not be split into messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadLength {
    /// Offset of the message within the datagram.
    pub offset: usize,
    /// The `nlmsg_len` it declared.
    pub len: u32,
}

impl std::fmt::Display for BadLength {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "netlink message at offset {} declares length {}",
            self.offset, self.len
        )
    }
}

impl std::error::Error for BadLength {}

/// The messages of a datagram, in order.
///
/// As `netlink_rcv_skb` reads a datagram: fewer than 16 bytes left over
/// end it quietly; a message whose `nlmsg_len` is below 16 or runs past
/// the end yields one `Err` and ends it. A message's padding may be
/// missing at the end of the datagram.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    buf: &'a [u8],
    offset: usize,
}

impl<'a> Messages<'a> {
    /// Starts reading `datagram`.
    pub fn new(datagram: &'a [u8]) -> Messages<'a> {
        Messages {
            buf: datagram,
            offset: 0,
        }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<Message<'a>, BadLength>;

    fn next(&mut self) -> Option<Self::Item> {
        let rest = self.buf.get(self.offset..)?;
        let header = Header::parse(rest)?;
        let len = header.len as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            let e = BadLength {
                offset: self.offset,
                len: header.len,
            };
            self.offset = self.buf.len();
            return Some(Err(e));
        }
        self.offset += align(len).min(rest.len());
        Some(Ok(Message {
            header,
            bytes: &rest[..len],
        }))
    }
}

/// A message being built: headers, then attributes through
/// [`MsgBuilder::attrs`].
#[derive(Debug)]
pub struct MsgBuilder {
    w: Writer,
}

impl MsgBuilder {
    /// A message of type `ty` with `flags`; sequence number and port id 0
    /// until set.
    pub fn new(ty: u16, flags: u16) -> MsgBuilder {
        let mut b = Vec::with_capacity(256);
        b.extend_from_slice(
            &Header {
                ty,
                flags,
                ..Header::default()
            }
            .to_bytes(),
        );
        MsgBuilder {
            w: Writer::with_buffer(b),
        }
    }

    /// A generic netlink message: `nlmsghdr` then `genlmsghdr`.
    pub fn genl(ty: u16, flags: u16, cmd: u8, version: u8) -> MsgBuilder {
        let mut m = MsgBuilder::new(ty, flags);
        m.header_bytes(&[cmd, version, 0, 0]);
        m
    }

    /// Sets `nlmsg_seq`.
    pub fn seq(mut self, seq: u32) -> MsgBuilder {
        set_seq(self.w.bytes_mut(), seq);
        self
    }

    /// Sets `nlmsg_pid`.
    pub fn pid(mut self, pid: u32) -> MsgBuilder {
        set_pid(self.w.bytes_mut(), pid);
        self
    }

    /// Appends a fixed family header (e.g. `struct ovs_header`), padded.
    pub fn header_bytes(&mut self, b: &[u8]) {
        self.w.put_raw(b);
    }

    /// The attribute writer.
    pub fn attrs(&mut self) -> &mut Writer {
        &mut self.w
    }

    /// The finished message, `nlmsg_len` set.
    ///
    /// # Errors
    /// [`TooLong`] if an attribute overflowed its 16-bit length or the
    /// message its 32-bit one.
    pub fn finish(self) -> Result<Vec<u8>, TooLong> {
        if self.w.overflowed() {
            return Err(TooLong);
        }
        let mut b = self.w.into_bytes();
        let len = u32::try_from(b.len()).map_err(|_| TooLong)?;
        b[0..4].copy_from_slice(&len.to_ne_bytes());
        Ok(b)
    }
}

/// A message or attribute longer than its length field can say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLong;

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("netlink message or attribute too long")
    }
}

impl std::error::Error for TooLong {}

/// Sets `nlmsg_flags` of the message starting at `msg[0]`.
pub fn set_flags(msg: &mut [u8], flags: u16) {
    msg[6..8].copy_from_slice(&flags.to_ne_bytes());
}

/// Sets `nlmsg_seq` of the message starting at `msg[0]`.
pub fn set_seq(msg: &mut [u8], seq: u32) {
    msg[8..12].copy_from_slice(&seq.to_ne_bytes());
}

/// Sets `nlmsg_pid` of the message starting at `msg[0]`.
pub fn set_pid(msg: &mut [u8], pid: u32) {
    msg[12..16].copy_from_slice(&pid.to_ne_bytes());
}

/// What a socket asked of its acks (`NETLINK_CAP_ACK`, `NETLINK_EXT_ACK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AckOpts {
    /// `NETLINK_CAP_ACK`: errors carry only the request's header.
    pub cap_ack: bool,
    /// `NETLINK_EXT_ACK`: errors may carry a message.
    pub ext_ack: bool,
}

/// The `NLMSG_ERROR` answering `request` (a whole message): an ack when
/// `errno` is 0, else the error `-errno`, addressed to port `pid`.
///
/// As `netlink_ack`: an error copies the whole request back unless
/// `cap_ack` (then only its header, and `NLM_F_CAPPED`); an ack copies the
/// header (`NLM_F_CAPPED`); with `ext_ack` and a message, the message
/// follows as `NLMSGERR_ATTR_MSG` (`NLM_F_ACK_TLVS`).
pub fn ack(request: &[u8], pid: u32, errno: i32, opts: AckOpts, text: Option<&str>) -> Vec<u8> {
    let req_hdr = Header::parse(request).unwrap_or_default();
    let whole = errno != 0 && !opts.cap_ack;
    let copied = if whole {
        &request[..(req_hdr.len as usize).clamp(NLMSG_HDRLEN, request.len())]
    } else {
        &request[..NLMSG_HDRLEN.min(request.len())]
    };
    let mut flags = if whole { 0 } else { NLM_F_CAPPED };
    let tlv = text.filter(|_| opts.ext_ack && errno != 0);
    if tlv.is_some() {
        flags |= NLM_F_ACK_TLVS;
    }
    let mut b = MsgBuilder::new(NLMSG_ERROR, flags)
        .seq(req_hdr.seq)
        .pid(pid);
    b.header_bytes(&(-errno.abs()).to_ne_bytes());
    let mut echoed = copied.to_vec();
    echoed.resize(NLMSG_HDRLEN.max(echoed.len()), 0);
    b.header_bytes(&echoed);
    if let Some(t) = tlv {
        b.attrs().put_string(NLMSGERR_ATTR_MSG, t);
    }
    // Lengths here are bounded by the request's: cannot overflow.
    b.finish().unwrap_or_default()
}

/// The `NLMSG_DONE` ending dump `seq` for port `pid` (`NLM_F_MULTI`), with
/// status `-errno`.
pub fn done(seq: u32, pid: u32, errno: i32) -> Vec<u8> {
    let mut b = MsgBuilder::new(NLMSG_DONE, NLM_F_MULTI).seq(seq).pid(pid);
    b.header_bytes(&(-errno.abs()).to_ne_bytes());
    b.finish().unwrap_or_default()
}

/// Reads the payload of an `NLMSG_ERROR` (or the status of an
/// `NLMSG_DONE`, whose payload starts the same way): the positive errno
/// (0: an ack) and the extended-ack message, if any.
///
/// # Errors
/// [`BadLength`] if the payload is shorter than its `int`.
pub fn parse_error(flags: u16, payload: &[u8]) -> Result<(i32, Option<String>), BadLength> {
    let Some(code) = payload.get(..4) else {
        return Err(BadLength {
            offset: NLMSG_HDRLEN,
            len: payload.len() as u32,
        });
    };
    let code = i32::from_ne_bytes([code[0], code[1], code[2], code[3]]);
    let errno = code.checked_abs().unwrap_or(i32::MAX);
    if flags & NLM_F_ACK_TLVS == 0 || payload.len() <= 4 {
        return Ok((errno, None));
    }
    // An NLMSG_ERROR carries the request's header (and its payload unless
    // capped) before the TLVs; an NLMSG_DONE carries the TLVs at once.
    let tlvs = match Header::parse(&payload[4..]) {
        Some(h) if payload.len() >= 4 + NLMSG_HDRLEN => {
            let copied = if flags & NLM_F_CAPPED != 0 {
                NLMSG_HDRLEN
            } else {
                align((h.len as usize).max(NLMSG_HDRLEN))
            };
            payload.get(4 + copied..).unwrap_or(&[])
        }
        _ => &payload[4..],
    };
    let text = crate::AttrIter::new(tlvs)
        .map_while(Result::ok)
        .find(|a| a.ty == NLMSGERR_ATTR_MSG)
        .map(|a| {
            let s = a.payload.split(|&c| c == 0).next().unwrap_or(&[]);
            String::from_utf8_lossy(s).into_owned()
        });
    Ok((errno, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Vec<u8> {
        let mut b = MsgBuilder::genl(0x22, NLM_F_REQUEST | NLM_F_ACK, 1, 1)
            .seq(9)
            .pid(5);
        b.attrs().put_u32(1, 7);
        b.finish().unwrap()
    }

    #[test]
    fn error_copies_request_unless_capped() {
        let req = request();
        let e = ack(&req, 5, 22, AckOpts::default(), Some("bad"));
        let m = Messages::new(&e).next().unwrap().unwrap();
        assert_eq!(m.header.ty, NLMSG_ERROR);
        assert_eq!(m.header.seq, 9);
        assert_eq!(m.header.flags, 0);
        assert_eq!(&m.payload()[4..], &req[..]);
        assert_eq!(parse_error(m.header.flags, m.payload()), Ok((22, None)));

        let opts = AckOpts {
            cap_ack: true,
            ext_ack: true,
        };
        let e = ack(&req, 5, 22, opts, Some("bad"));
        let m = Messages::new(&e).next().unwrap().unwrap();
        assert_eq!(m.header.flags, NLM_F_CAPPED | NLM_F_ACK_TLVS);
        assert_eq!(&m.payload()[4..20], &req[..16]);
        assert_eq!(
            parse_error(m.header.flags, m.payload()),
            Ok((22, Some("bad".into())))
        );
        // Whole request and TLVs together.
        let opts = AckOpts {
            cap_ack: false,
            ext_ack: true,
        };
        let e = ack(&req, 5, 95, opts, Some("no"));
        let m = Messages::new(&e).next().unwrap().unwrap();
        assert_eq!(
            parse_error(m.header.flags, m.payload()),
            Ok((95, Some("no".into())))
        );
    }

    #[test]
    fn datagram_of_several_messages() {
        let mut d = request();
        d.extend_from_slice(&done(3, 1, 0));
        d.extend_from_slice(&[0; 7]); // ignored, as the kernel ignores it
        let ms: Vec<_> = Messages::new(&d).collect::<Result<_, _>>().unwrap();
        assert_eq!(ms.len(), 2);
        assert_eq!(ms[1].header.ty, NLMSG_DONE);
        let mut bad = request();
        bad[0] = 200;
        let ms: Vec<_> = Messages::new(&bad).collect();
        assert_eq!(
            ms,
            vec![Err(BadLength {
                offset: 0,
                len: 200
            })]
        );
    }
}
