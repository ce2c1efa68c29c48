//! Netlink attribute (TLV) mechanics, with no knowledge of Open vSwitch.
//!
//! A netlink attribute is a 4-byte header (`nla_len: u16`, `nla_type: u16`,
//! both in host byte order) followed by `nla_len - 4` payload bytes, padded
//! with zeros to a multiple of 4 ([`NLA_ALIGNTO`]). Nested attributes carry a
//! stream of attributes as their payload.
//!
//! - [`AttrIter`] walks a stream of attributes, stopping with an error at the
//!   first malformed header, as the kernel's `nla_for_each_attr` does.
//! - [`Writer`] appends attributes to a buffer and supports nesting
//!   (`begin_nested` / `end_nested`), fixing up lengths when a nest closes.
//!
//! ```
//! let mut w = nl::Writer::new();
//! w.put_u32(3, 1);
//! let nest = w.begin_nested(1);
//! w.put_u16_be(6, 0x0800);
//! w.end_nested(nest);
//! let bytes = w.into_bytes();
//! let attrs: Vec<_> = nl::AttrIter::new(&bytes).collect::<Result<_, _>>().unwrap();
//! assert_eq!(attrs.len(), 2);
//! assert_eq!(attrs[0].ty, 3);
//! assert_eq!(attrs[1].payload.len(), 8);
//! ```

#![forbid(unsafe_code)]

pub mod daemon;
pub mod errno;
pub mod genl;
pub mod msg;
pub mod policy;

/// Attributes start on multiples of this many bytes.
pub const NLA_ALIGNTO: usize = 4;
/// Size of an attribute header.
pub const NLA_HDRLEN: usize = 4;
/// Flag bit set in `nla_type` on nested attributes by some senders.
pub const NLA_F_NESTED: u16 = 0x8000;
/// Flag bit for attributes whose payload is in network byte order.
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
/// Mask of the attribute type proper.
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);

/// Rounds `len` up to the attribute alignment.
#[inline]
pub const fn align(len: usize) -> usize {
    (len + NLA_ALIGNTO - 1) & !(NLA_ALIGNTO - 1)
}

/// One attribute seen in a buffer: its type (flags stripped) and its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attr<'a> {
    /// The attribute type, with `NLA_F_NESTED` and `NLA_F_NET_BYTEORDER` removed.
    pub ty: u16,
    /// The payload, without header or padding.
    pub payload: &'a [u8],
}

impl<'a> Attr<'a> {
    /// The payload as a host-order `u8`, if it is exactly 1 byte long.
    pub fn u8(&self) -> Option<u8> {
        match self.payload {
            [b] => Some(*b),
            _ => None,
        }
    }
    /// The payload as a host-order `u16`, if it is exactly 2 bytes long.
    pub fn u16(&self) -> Option<u16> {
        self.payload.try_into().ok().map(u16::from_ne_bytes)
    }
    /// The payload as a network-order `u16`, if it is exactly 2 bytes long.
    pub fn u16_be(&self) -> Option<u16> {
        self.payload.try_into().ok().map(u16::from_be_bytes)
    }
    /// The payload as a host-order `u32`, if it is exactly 4 bytes long.
    pub fn u32(&self) -> Option<u32> {
        self.payload.try_into().ok().map(u32::from_ne_bytes)
    }
    /// The payload as a network-order `u32`, if it is exactly 4 bytes long.
    pub fn u32_be(&self) -> Option<u32> {
        self.payload.try_into().ok().map(u32::from_be_bytes)
    }
    /// The payload as a host-order `u64`, if it is exactly 8 bytes long.
    pub fn u64(&self) -> Option<u64> {
        self.payload.try_into().ok().map(u64::from_ne_bytes)
    }
    /// The payload as a network-order `u64`, if it is exactly 8 bytes long.
    pub fn u64_be(&self) -> Option<u64> {
        self.payload.try_into().ok().map(u64::from_be_bytes)
    }
    /// Iterates over the attributes nested in this one's payload.
    pub fn nested(&self) -> AttrIter<'a> {
        AttrIter::new(self.payload)
    }
}

/// Why an attribute stream could not be walked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// Fewer than 4 bytes remain, but more than 0: a truncated header.
    TruncatedHeader {
        /// Offset of the truncated header within the stream.
        offset: usize,
    },
    /// `nla_len` is below 4 or runs past the end of the stream.
    BadLength {
        /// Offset of the attribute within the stream.
        offset: usize,
        /// The `nla_len` it declared.
        nla_len: u16,
    },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::TruncatedHeader { offset } => {
                write!(f, "truncated attribute header at offset {offset}")
            }
            FrameError::BadLength { offset, nla_len } => {
                write!(f, "attribute at offset {offset} has bad length {nla_len}")
            }
        }
    }
}

impl std::error::Error for FrameError {}

/// Iterator over a stream of attributes.
///
/// Yields `Err` once, at the first malformed header, and then stops. The
/// last attribute of a stream may omit its trailing padding.
#[derive(Debug, Clone)]
pub struct AttrIter<'a> {
    buf: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> AttrIter<'a> {
    /// Starts walking `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        AttrIter {
            buf,
            offset: 0,
            failed: false,
        }
    }

    /// The bytes not yet walked.
    pub fn rest(&self) -> &'a [u8] {
        &self.buf[self.offset.min(self.buf.len())..]
    }
}

impl<'a> Iterator for AttrIter<'a> {
    type Item = Result<Attr<'a>, FrameError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.buf.len() {
            return None;
        }
        let rest = &self.buf[self.offset..];
        if rest.len() < NLA_HDRLEN {
            self.failed = true;
            return Some(Err(FrameError::TruncatedHeader {
                offset: self.offset,
            }));
        }
        let nla_len = u16::from_ne_bytes([rest[0], rest[1]]);
        let ty = u16::from_ne_bytes([rest[2], rest[3]]) & NLA_TYPE_MASK;
        let len = usize::from(nla_len);
        if len < NLA_HDRLEN || len > rest.len() {
            self.failed = true;
            return Some(Err(FrameError::BadLength {
                offset: self.offset,
                nla_len,
            }));
        }
        let attr = Attr {
            ty,
            payload: &rest[NLA_HDRLEN..len],
        };
        self.offset += align(len).min(rest.len());
        Some(Ok(attr))
    }
}

/// Appends netlink attributes to a growable buffer.
///
/// Lengths are `u16`: a payload (or nest) longer than `u16::MAX - 4` bytes
/// cannot be represented. [`Writer::overflowed`] reports whether that
/// happened, in which case the buffer content is not meaningful.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    buf: Vec<u8>,
    overflow: bool,
}

/// An open nest returned by [`Writer::begin_nested`].
#[derive(Debug)]
#[must_use = "a nest must be closed with end_nested"]
pub struct Nest(usize);

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Writer::default()
    }

    /// A writer appending to `buf`.
    pub fn with_buffer(buf: Vec<u8>) -> Self {
        Writer {
            buf,
            overflow: false,
        }
    }

    /// The bytes written so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Number of bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Whether an attribute or nest exceeded the 16-bit length limit.
    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    /// The bytes written so far, for fixing up a header in place.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// Takes the bytes written.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Drops everything written after `len` bytes (e.g. to cancel an attribute).
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    fn header(&mut self, ty: u16, payload_len: usize) {
        let total = NLA_HDRLEN + payload_len;
        let nla_len = match u16::try_from(total) {
            Ok(n) => n,
            Err(_) => {
                self.overflow = true;
                u16::MAX
            }
        };
        self.buf.extend_from_slice(&nla_len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
    }

    fn pad(&mut self) {
        let padded = align(self.buf.len());
        self.buf.resize(padded, 0);
    }

    /// Appends an attribute with an arbitrary payload.
    pub fn put(&mut self, ty: u16, payload: &[u8]) {
        self.header(ty, payload.len());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    /// Appends an attribute with no payload (a flag).
    pub fn put_flag(&mut self, ty: u16) {
        self.put(ty, &[]);
    }

    /// Appends a `u8` attribute.
    pub fn put_u8(&mut self, ty: u16, v: u8) {
        self.put(ty, &[v]);
    }

    /// Appends a host-order `u16` attribute.
    pub fn put_u16(&mut self, ty: u16, v: u16) {
        self.put(ty, &v.to_ne_bytes());
    }

    /// Appends a network-order `u16` attribute.
    pub fn put_u16_be(&mut self, ty: u16, v: u16) {
        self.put(ty, &v.to_be_bytes());
    }

    /// Appends a host-order `u32` attribute.
    pub fn put_u32(&mut self, ty: u16, v: u32) {
        self.put(ty, &v.to_ne_bytes());
    }

    /// Appends a network-order `u32` attribute.
    pub fn put_u32_be(&mut self, ty: u16, v: u32) {
        self.put(ty, &v.to_be_bytes());
    }

    /// Appends a host-order `u64` attribute.
    pub fn put_u64(&mut self, ty: u16, v: u64) {
        self.put(ty, &v.to_ne_bytes());
    }

    /// Appends a network-order `u64` attribute.
    pub fn put_u64_be(&mut self, ty: u16, v: u64) {
        self.put(ty, &v.to_be_bytes());
    }

    /// Appends a NUL-terminated string attribute.
    pub fn put_string(&mut self, ty: u16, s: &str) {
        self.header(ty, s.len() + 1);
        self.buf.extend_from_slice(s.as_bytes());
        self.buf.push(0);
        self.pad();
    }

    /// Reserves an attribute of `len` zeroed payload bytes and returns the
    /// payload for the caller to fill.
    pub fn put_zeroed(&mut self, ty: u16, len: usize) -> &mut [u8] {
        self.header(ty, len);
        let start = self.buf.len();
        self.buf.resize(start + len, 0);
        self.pad();
        &mut self.buf[start..start + len]
    }

    /// Opens a nested attribute; attributes written until the matching
    /// [`Writer::end_nested`] go inside it.
    pub fn begin_nested(&mut self, ty: u16) -> Nest {
        let at = self.buf.len();
        self.header(ty, 0);
        Nest(at)
    }

    /// Closes a nest, fixing up its length.
    pub fn end_nested(&mut self, nest: Nest) {
        let total = self.buf.len() - nest.0;
        let nla_len = match u16::try_from(total) {
            Ok(n) => n,
            Err(_) => {
                self.overflow = true;
                u16::MAX
            }
        };
        self.buf[nest.0..nest.0 + 2].copy_from_slice(&nla_len.to_ne_bytes());
    }

    /// Abandons a nest and everything written inside it.
    pub fn cancel_nested(&mut self, nest: Nest) {
        self.buf.truncate(nest.0);
    }

    /// Appends raw, already-framed attribute bytes.
    pub fn put_raw(&mut self, framed: &[u8]) {
        self.buf.extend_from_slice(framed);
        self.pad();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_lengths_cover_children_and_padding() {
        let mut w = Writer::new();
        let n = w.begin_nested(16);
        w.put_u8(4, 0x40);
        w.put_flag(5);
        w.end_nested(n);
        assert_eq!(
            w.as_bytes(),
            &[16, 0, 16, 0, 5, 0, 4, 0, 0x40, 0, 0, 0, 4, 0, 5, 0][..]
        );
    }

    #[test]
    fn iter_reports_bad_length_once() {
        let bytes = [8, 0, 1, 0, 1, 2, 3, 4, 9, 0, 2, 0, 0];
        let items: Vec<_> = AttrIter::new(&bytes).collect();
        assert_eq!(items.len(), 2);
        assert_eq!(
            items[0],
            Ok(Attr {
                ty: 1,
                payload: &[1, 2, 3, 4]
            })
        );
        assert_eq!(
            items[1],
            Err(FrameError::BadLength {
                offset: 8,
                nla_len: 9
            })
        );
    }

    #[test]
    fn iter_reports_truncated_header() {
        let bytes = [4, 0, 1, 0, 9];
        let items: Vec<_> = AttrIter::new(&bytes).collect();
        assert_eq!(items[1], Err(FrameError::TruncatedHeader { offset: 4 }));
    }

    #[test]
    fn overflow_is_flagged() {
        let mut w = Writer::new();
        w.put(1, &vec![0u8; 70000]);
        assert!(w.overflowed());
    }
}
