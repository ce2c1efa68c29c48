//! Attribute policies: reading a request's attributes against a table that
//! gives each type its shape, as the kernel's `nla_policy` arrays do.
//!
//! A [`Policy`] lists `(type, Kind)` pairs. [`Attrs::parse`] walks a stream
//! of attributes and rejects, with the attribute's type:
//!
//! - a malformed stream (a truncated header, a length past the end);
//! - a payload whose length the kind does not allow: fixed-size integers
//!   must be exactly their size, strings must end in a NUL within their
//!   maximum and be UTF-8, binaries must be within their bounds;
//!
//! and ignores types the policy does not list, as the kernel's
//! non-strict parsing (`GENL_DONT_VALIDATE_STRICT`) of the openvswitch
//! families does. A repeated type keeps the last occurrence, as
//! `nla_parse` does. After a successful parse the typed getters cannot
//! fail on length.
//!
//! ```
//! use nl::policy::{Attrs, Kind, Policy};
//! const P: Policy = &[(1, Kind::String { max: 16 }), (2, Kind::U32)];
//! let mut w = nl::Writer::new();
//! w.put_string(1, "dp0");
//! w.put_u32(2, 7);
//! w.put_u16(9, 1); // not in the policy: ignored
//! let a = Attrs::parse(w.as_bytes(), P).unwrap();
//! assert_eq!(a.string(1), Some("dp0"));
//! assert_eq!(a.u32(2), Some(7));
//! let mut w = nl::Writer::new();
//! w.put_u16(2, 7); // too short for a u32
//! assert_eq!(Attrs::parse(w.as_bytes(), P).unwrap_err().ty, 2);
//! ```

use crate::AttrIter;

/// The shape an attribute's payload must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// No payload.
    Flag,
    /// A `u8`.
    U8,
    /// A `u16` (either byte order).
    U16,
    /// A `u32` (either byte order).
    U32,
    /// A `u64` (either byte order).
    U64,
    /// A NUL-terminated UTF-8 string of at most `max` bytes, NUL included.
    String {
        /// Longest payload.
        max: usize,
    },
    /// Any bytes, `min..=max` of them.
    Binary {
        /// Shortest payload.
        min: usize,
        /// Longest payload.
        max: usize,
    },
    /// Exactly `n` bytes (a fixed structure).
    Exact(usize),
    /// A stream of attributes (checked to be well framed; its content is
    /// its own policy's business).
    Nested,
    /// Anything.
    Unspec,
}

/// A policy: the attribute types a message may carry and their kinds.
pub type Policy = &'static [(u16, Kind)];

/// Most attribute types one policy may list.
pub const MAX_POLICY: usize = 24;

/// Why a stream of attributes was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Invalid {
    /// The attribute's type (0 when the stream itself is malformed).
    pub ty: u16,
    /// What was wrong.
    pub reason: Reason,
}

/// What was wrong with an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The stream is malformed at this offset.
    Frame(usize),
    /// The payload's length (given) is not allowed.
    Length(usize),
    /// A string without a terminating NUL.
    NotTerminated,
    /// A string that is not UTF-8.
    NotUtf8,
}

impl std::fmt::Display for Invalid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.reason {
            Reason::Frame(at) => write!(f, "malformed attribute at offset {at}"),
            Reason::Length(n) => write!(f, "attribute type {} has an invalid length {n}", self.ty),
            Reason::NotTerminated => write!(f, "attribute type {} is not NUL-terminated", self.ty),
            Reason::NotUtf8 => write!(f, "attribute type {} is not UTF-8", self.ty),
        }
    }
}

impl std::error::Error for Invalid {}

/// A message's attributes, checked against a policy.
#[derive(Debug, Clone)]
pub struct Attrs<'a> {
    policy: Policy,
    slots: [Option<&'a [u8]>; MAX_POLICY],
}

fn check(ty: u16, kind: Kind, p: &[u8]) -> Result<(), Invalid> {
    let bad = |reason| Err(Invalid { ty, reason });
    let want = match kind {
        Kind::Flag => Some(0),
        Kind::U8 => Some(1),
        Kind::U16 => Some(2),
        Kind::U32 => Some(4),
        Kind::U64 => Some(8),
        Kind::Exact(n) => Some(n),
        _ => None,
    };
    if let Some(n) = want {
        return if p.len() == n {
            Ok(())
        } else {
            bad(Reason::Length(p.len()))
        };
    }
    match kind {
        Kind::String { max } => {
            if p.is_empty() || p.len() > max {
                return bad(Reason::Length(p.len()));
            }
            let Some(nul) = p.iter().position(|&c| c == 0) else {
                return bad(Reason::NotTerminated);
            };
            if std::str::from_utf8(&p[..nul]).is_err() {
                return bad(Reason::NotUtf8);
            }
            Ok(())
        }
        Kind::Binary { min, max } if !(min..=max).contains(&p.len()) => {
            bad(Reason::Length(p.len()))
        }
        Kind::Nested => match AttrIter::new(p).find_map(Result::err) {
            Some(e) => bad(Reason::Frame(match e {
                crate::FrameError::TruncatedHeader { offset }
                | crate::FrameError::BadLength { offset, .. } => offset,
            })),
            None => Ok(()),
        },
        _ => Ok(()),
    }
}

impl<'a> Attrs<'a> {
    /// Reads `buf` against `policy` (see the module docs).
    ///
    /// # Errors
    /// [`Invalid`] for the first attribute that breaks the policy.
    pub fn parse(buf: &'a [u8], policy: Policy) -> Result<Attrs<'a>, Invalid> {
        debug_assert!(policy.len() <= MAX_POLICY);
        let mut slots = [None; MAX_POLICY];
        for a in AttrIter::new(buf) {
            let a = a.map_err(|e| Invalid {
                ty: 0,
                reason: Reason::Frame(match e {
                    crate::FrameError::TruncatedHeader { offset }
                    | crate::FrameError::BadLength { offset, .. } => offset,
                }),
            })?;
            if let Some(i) = policy.iter().position(|&(t, _)| t == a.ty) {
                check(a.ty, policy[i].1, a.payload)?;
                if let Some(s) = slots.get_mut(i) {
                    *s = Some(a.payload);
                }
            }
        }
        Ok(Attrs { policy, slots })
    }

    fn slot(&self, ty: u16) -> Option<(Kind, &'a [u8])> {
        let i = self.policy.iter().position(|&(t, _)| t == ty)?;
        Some((self.policy[i].1, self.slots.get(i).copied().flatten()?))
    }

    /// The payload of attribute `ty`, if present.
    pub fn get(&self, ty: u16) -> Option<&'a [u8]> {
        self.slot(ty).map(|(_, p)| p)
    }

    /// Whether attribute `ty` is present.
    pub fn has(&self, ty: u16) -> bool {
        self.slot(ty).is_some()
    }

    /// A `u8` attribute (policy [`Kind::U8`]).
    pub fn u8(&self, ty: u16) -> Option<u8> {
        self.get(ty)?.try_into().ok().map(u8::from_ne_bytes)
    }

    /// A host-order `u16` attribute (policy [`Kind::U16`]).
    pub fn u16(&self, ty: u16) -> Option<u16> {
        self.get(ty)?.try_into().ok().map(u16::from_ne_bytes)
    }

    /// A host-order `u32` attribute (policy [`Kind::U32`]).
    pub fn u32(&self, ty: u16) -> Option<u32> {
        self.get(ty)?.try_into().ok().map(u32::from_ne_bytes)
    }

    /// A host-order `u64` attribute (policy [`Kind::U64`]).
    pub fn u64(&self, ty: u16) -> Option<u64> {
        self.get(ty)?.try_into().ok().map(u64::from_ne_bytes)
    }

    /// A string attribute without its NUL (policy [`Kind::String`]).
    pub fn string(&self, ty: u16) -> Option<&'a str> {
        let (Kind::String { .. }, p) = self.slot(ty)? else {
            return None;
        };
        let s = p.split(|&c| c == 0).next()?;
        std::str::from_utf8(s).ok()
    }

    /// Host-order `u32`s filling the payload (a `Binary` policy whose
    /// bounds are multiples of 4), e.g. a list of port ids.
    pub fn u32s(&self, ty: u16) -> Option<impl Iterator<Item = u32> + 'a> {
        let p = self.get(ty)?;
        (p.len() % 4 == 0).then(|| {
            p.chunks_exact(4)
                .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Writer;

    const P: Policy = &[
        (1, Kind::String { max: 16 }),
        (2, Kind::U32),
        (3, Kind::Binary { min: 4, max: 64 }),
        (4, Kind::Flag),
        (5, Kind::Nested),
    ];

    #[test]
    fn lengths_are_exact() {
        for (len, ok) in [(3, false), (4, true), (5, false), (8, false)] {
            let mut w = Writer::new();
            w.put(2, &vec![1; len]);
            assert_eq!(Attrs::parse(w.as_bytes(), P).is_ok(), ok, "len {len}");
        }
        let mut w = Writer::new();
        w.put(4, &[0]);
        assert_eq!(
            Attrs::parse(w.as_bytes(), P).unwrap_err(),
            Invalid {
                ty: 4,
                reason: Reason::Length(1)
            }
        );
    }

    #[test]
    fn strings_need_nul_and_utf8_within_max() {
        let mut w = Writer::new();
        w.put(1, b"abc");
        assert_eq!(
            Attrs::parse(w.as_bytes(), P).unwrap_err().reason,
            Reason::NotTerminated
        );
        let mut w = Writer::new();
        w.put(1, b"\xff\0");
        assert_eq!(
            Attrs::parse(w.as_bytes(), P).unwrap_err().reason,
            Reason::NotUtf8
        );
        let mut w = Writer::new();
        w.put_string(1, "0123456789abcdef");
        assert_eq!(
            Attrs::parse(w.as_bytes(), P).unwrap_err().reason,
            Reason::Length(17)
        );
        let mut w = Writer::new();
        w.put_string(1, "0123456789abcde");
        assert_eq!(
            Attrs::parse(w.as_bytes(), P).unwrap().string(1),
            Some("0123456789abcde")
        );
    }

    #[test]
    fn last_repeat_wins_and_nested_is_framed() {
        let mut w = Writer::new();
        w.put_u32(2, 1);
        w.put_u32(2, 2);
        w.put(3, &[1, 0, 0, 0, 2, 0, 0, 0]);
        let a = Attrs::parse(w.as_bytes(), P).unwrap();
        assert_eq!(a.u32(2), Some(2));
        assert_eq!(a.u32s(3).unwrap().collect::<Vec<_>>(), vec![1, 2]);
        assert!(!a.has(4));
        let mut w = Writer::new();
        w.put(5, &[9, 0, 1, 0]);
        assert_eq!(
            Attrs::parse(w.as_bytes(), P).unwrap_err().reason,
            Reason::Frame(0)
        );
    }
}
