//! Errors of the codecs, and the fitness of a decoded key.

use std::fmt;

/// How well a decoded flow key fits what this datapath models
/// (OVS's `enum odp_key_fitness`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fitness {
    /// The key has exactly the attributes expected.
    Perfect,
    /// The key has attributes beyond those expected (e.g. from a newer
    /// kernel): the extra ones were ignored.
    TooMuch,
    /// The key lacks attributes that were expected (e.g. an MPLS stack whose
    /// last entry is not bottom-of-stack).
    TooLittle,
    /// The key is malformed.
    Error,
}

impl Fitness {
    /// OVS's name for this fitness (`ODP_FIT_PERFECT`, ...).
    pub fn ovs_name(self) -> &'static str {
        match self {
            Fitness::Perfect => "ODP_FIT_PERFECT",
            Fitness::TooMuch => "ODP_FIT_TOO_MUCH",
            Fitness::TooLittle => "ODP_FIT_TOO_LITTLE",
            Fitness::Error => "ODP_FIT_ERROR",
        }
    }
}

/// What is wrong with a netlink attribute stream.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// An attribute type above the maximum, or not valid here.
    UnknownType,
    /// An attribute that may appear once appeared again.
    Duplicate,
    /// An attribute's payload has the wrong length.
    BadLength {
        /// Length found.
        got: usize,
        /// Length required.
        want: usize,
    },
    /// Bytes after the last attribute that do not form an attribute.
    Trailing,
    /// A required attribute is missing.
    Missing,
    /// A mask was given for a field whose parent field is not exact.
    MaskNotAllowed,
    /// Nesting deeper than allowed.
    TooDeep,
    /// A value outside its domain (e.g. a fragment type above 2).
    BadValue,
    /// The encoding exceeds netlink's 64 kB attribute limit.
    TooLong,
}

/// A netlink decoding error: what went wrong and where.
///
/// `path` is the stack of attribute types from the outermost list to the
/// attribute in error. At the dpif boundary this becomes `EINVAL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// What went wrong.
    pub kind: DecodeErrorKind,
    /// Attribute types leading to the error, outermost first.
    pub path: Vec<u16>,
}

impl DecodeError {
    /// An error of `kind` at the attribute `ty` of the current list.
    pub fn new(kind: DecodeErrorKind, ty: u16) -> Self {
        DecodeError {
            kind,
            path: vec![ty],
        }
    }

    /// Prepends the enclosing attribute type to the path.
    pub fn within(mut self, ty: u16) -> Self {
        self.path.insert(0, ty);
        self
    }

    /// The errno this error maps to at the dpif boundary (always `EINVAL`).
    pub fn errno(&self) -> i32 {
        22
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            DecodeErrorKind::UnknownType => write!(f, "unknown attribute type")?,
            DecodeErrorKind::Duplicate => write!(f, "duplicate attribute")?,
            DecodeErrorKind::BadLength { got, want } => {
                write!(f, "attribute has length {got}, expected {want}")?
            }
            DecodeErrorKind::Trailing => write!(f, "trailing bytes after attributes")?,
            DecodeErrorKind::Missing => write!(f, "missing attribute")?,
            DecodeErrorKind::MaskNotAllowed => {
                write!(f, "mask not allowed where the parent field is not exact")?
            }
            DecodeErrorKind::TooDeep => write!(f, "attributes nested too deeply")?,
            DecodeErrorKind::BadValue => write!(f, "attribute value out of range")?,
            DecodeErrorKind::TooLong => write!(f, "attributes exceed 64 kB")?,
        }
        write!(f, " (at attribute path {:?})", self.path)
    }
}

impl std::error::Error for DecodeError {}

/// A text parsing error, with OVS's message where OVS gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The message, e.g. `syntax error at vlan(...)`.
    pub msg: String,
}

impl ParseError {
    /// An error with the given message.
    pub fn new(msg: impl Into<String>) -> Self {
        ParseError { msg: msg.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for ParseError {}
