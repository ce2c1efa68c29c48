//! The datapath's language: flow keys, masks and actions.
//!
//! - [`key`]: flow key attributes (`OVS_KEY_ATTR_*`) as Rust types, and
//!   [`key::Match`] (a key with its mask).
//! - [`action`]: datapath actions (`OVS_ACTION_ATTR_*`) as Rust types.
//! - [`flow`]: [`flow::Flow`], a packet's headers and metadata in one fixed
//!   layout; [`convert`] turns key attributes into a `Flow` and back, with a
//!   [`Fitness`] report as OVS gives.
//! - [`nl`]: the kernel's netlink encoding, both directions, bit-exact, with
//!   a strict (kernel rules) and a tolerant decoding mode.
//! - [`text`]: OVS's text format as printed and accepted by `ovs-dpctl`.
//! - [`extract`]: packet bytes → [`flow::Flow`]; [`compose`]: the reverse.
//! - [`fuzzing`]: entry points shared by the fuzz targets and plain tests.

#![forbid(unsafe_code)]

pub mod abi;
pub mod action;
pub mod compose;
pub mod convert;
pub mod error;
pub mod execute;
pub mod extract;
pub mod flow;
pub mod fuzzing;
pub mod key;
pub mod nl;
pub mod text;

pub use error::{DecodeError, DecodeErrorKind, Fitness, ParseError};
