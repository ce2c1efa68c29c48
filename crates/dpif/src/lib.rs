//! dpif, the datapath interface.
//!
//! A *datapath* is a flow-based software switch with no intelligence of its
//! own: it forwards packets by the flows its client installs. Every kind of
//! datapath is driven through this one interface.
//!
//! # Overview
//!
//! When a datapath *port* receives a packet, the datapath extracts the
//! packet's *flow key*. If a *flow* in its table matches the key, it executes
//! the flow's *actions* and counts the packet in the flow's statistics.
//! Otherwise it queues the packet as an *upcall* to userspace, whose handler
//! usually installs a flow.
//!
//! # Glossary
//!
//! - **datapath**: a set of ports and a flow table; named `type@name`, where
//!   the type selects the *provider* (`netdev`: the userspace datapath;
//!   `system`: the Linux kernel module). A name without `type@` is `system`.
//! - **port**: a numbered attachment point (`PortNo`); port 0 is the *local*
//!   port, an internal device named after the datapath.
//! - **flow key**: the packet's header fields and metadata, as
//!   `OVS_KEY_ATTR_*` attributes (`odp::key::KeyAttr`).
//! - **mask**: which bits of the key a flow matches (1 = must match).
//! - **megaflow**: a flow with a mask that wildcards some fields, so that it
//!   matches many microflows.
//! - **UFID**: a flow's 128-bit unique id, given by the caller or derived
//!   from the key ([`ufid`]).
//! - **upcall**: a packet sent to userspace: a *miss* (no flow matched), an
//!   *action* upcall (a `userspace` action), or a *sample*.
//! - **recirculation**: re-running the lookup on a packet after some actions,
//!   with a new `recirc_id` in its key.
//!
//! # Layout
//!
//! - [`provider`]: the contract a provider implements ([`DpifClass`],
//!   [`Provider`]), with per-method errno semantics.
//! - [`registry`]: provider types by name; opens `type@name`.
//! - [`Dpif`]: the wrapper callers use: logging, counters, contract checks.
//! - [`types`]: ports, statistics, flows, operations, upcalls.
//! - [`ct`]: connection tracking: entries, flush selectors, zone limits,
//!   fragment reassembly status, and `ovs-dpctl`'s text for them.
//! - [`Errno`]: the error of every call.

#![forbid(unsafe_code)]

pub mod ct;
mod dpif;
pub mod errno;
pub mod provider;
pub mod registry;
pub mod types;
pub mod ufid;

pub use crate::dpif::{CounterValues, Counters, Dpif};
pub use errno::Errno;
pub use provider::{DpifClass, FlowDump, FlowDumpThread, Provider};
pub use registry::{parse_name, Registry, DEFAULT_TYPE};
pub use types::*;
