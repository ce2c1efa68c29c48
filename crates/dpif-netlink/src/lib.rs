//! The Linux kernel datapath (the `openvswitch` module), driven over generic
//! netlink: the `system` dpif provider.
//!
//! # Layers
//!
//! - [`socket`]: a generic netlink socket (`netlink-sys`) with framing,
//!   acked transactions, batches, dumps and unsolicited messages.
//! - [`family`]: family resolution by name (`ovs_datapath`, `ovs_vport`,
//!   `ovs_flow`, `ovs_packet`) with multicast groups.
//! - [`abi`]: message-level numbers of `linux/openvswitch.h`.
//! - [`datapath`], [`vport`], [`flow`], [`packet`]: the messages of each
//!   family (`struct ovs_header` + attributes), built and parsed; replies
//!   from newer kernels parse (unknown attributes are skipped).
//! - [`Kernel`]: the families and a socket pool, one method per operation.
//! - [`ctnetlink`], [`ct_limit`]: the conntrack messages (netfilter's
//!   ctnetlink and cttimeout, the `ovs_ct_limit` family), one codec both
//!   ways; [`ct`]: the conntrack operations of [`Kernel`].
//! - [`system`]: the `system` dpif provider ([`SystemClass`]), with the
//!   notes on where the kernel and the dpif contract meet.
//! - [`Error`]: a positive errno and the kernel's extended-ack message.

//!
//! # Testing against the kernel
//!
//! The unit tests need no kernel. `tests/kernel.rs` (this crate's messages,
//! errnos, upcalls, per-CPU dispatch, EPERM, interop with `ovs-dpctl`) and
//! `tests/conformance.rs` (the `dpif-tests` suite, unchanged) need the
//! openvswitch module and root; elsewhere each test prints `SKIP: <reason>`
//! and passes. `scripts/kernel-tests.sh` runs them in a VM with the real
//! module; `scripts/kernel-bench.sh` measures flow install / dump / delete
//! rates beside `ovs-dpctl`'s.
//!
//! There is no `unsafe` here: sockets are `netlink-sys`'s, polling is
//! `rustix`'s.

#![deny(unsafe_code)]

pub mod abi;
pub mod ct;
pub mod ct_limit;
pub mod ctnetlink;
pub mod datapath;
pub mod error;
pub mod family;
pub mod flow;
pub mod kernel;
pub mod packet;
pub mod remote;
pub mod rtnl;
pub mod socket;
pub mod system;
pub mod vport;

pub use error::{Error, Result};
pub use family::{Families, Family};
pub use kernel::{DpId, FlowDumpStream, FlowOp, Kernel};
pub use remote::RemoteClass;
pub use socket::{Msg, MsgBuilder, Request, Socket};
pub use system::{register, SystemClass, SystemDp, UpcallDispatch};
