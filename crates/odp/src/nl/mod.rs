//! Flow keys, masks and actions to and from the kernel's netlink encoding.

pub mod action;
pub mod key;

/// How strictly to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The kernel's rules: exact attribute lengths, no duplicates, no unknown
    /// types, no trailing bytes, masks only where the parent field is exact,
    /// nesting limits. Used where we accept flows from a client.
    Strict,
    /// Keep what can be understood, report the rest through [`crate::Fitness`]
    /// (unknown attributes are kept as `Unknown`). Used on replies from a
    /// kernel that may be newer than this code.
    Tolerant,
}
