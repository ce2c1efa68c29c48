//! `oxvsd`: a daemon hosting userspace datapaths (`dpif-netdev`) behind a
//! Unix socket, speaking the Linux kernel's netlink protocols for Open
//! vSwitch.
//!
//! # Protocol
//!
//! The socket and what a connection adds to a netlink socket are
//! specified in [`nl::daemon`]: `SOCK_SEQPACKET` datagrams of whole
//! netlink messages, a greeting giving the connection its port id, socket
//! options as requests, overruns reported as netlink reports them. On it
//! the daemon serves what the kernel's openvswitch module serves, so Open
//! vSwitch's `dpif-netlink` (through `oxvs-run`) and oxvs's own
//! (`dpif_netlink::RemoteClass`) drive it as they drive the kernel:
//!
//! - `nlctrl` family lookups ([`ctrl`], ids in [`families`]);
//! - `ovs_datapath` ([`datapath`]), `ovs_vport` ([`vport`]), `ovs_flow`
//!   ([`flow`]) and `ovs_packet` ([`packet`]) requests, with the kernel's
//!   attribute policies ([`policy`]), errnos and notifications;
//! - `ovs_meter` requests, answered for meter tables with no room
//!   ([`meter`]);
//! - upcalls to the port ids ports and datapaths name ([`upcall`]);
//! - connection tracking: ctnetlink and cttimeout ([`netfilter`]),
//!   `ovs_ct_limit` ([`ct_limit`]), tracker settings as datapath
//!   attributes; which datapath's tracker a request acts on is said in
//!   [`conntrack`].
//!
//! Requests, dumps and acks follow the kernel ([`dispatch`]); the threads
//! and flow control are described in [`server`] and [`conn`].
//!
//! # Access
//!
//! The socket file is mode 0660 in a 0755 directory. A peer
//! (`SO_PEERCRED`) must be root, the daemon's user, or a member of the
//! socket's group; others get `EPERM` instead of the greeting. Members
//! that are not root (nor the daemon's user) may read every datapath,
//! port and flow and change the flows of existing datapaths; creating or
//! deleting datapaths and ports, changing their settings and upcall ids,
//! and executing packets need root (`EPERM` otherwise), as the kernel's
//! `GENL_UNS_ADMIN_PERM` commands do. Connections are limited per user and
//! in all for non-root peers, and a non-root connection that holds no
//! subscription is closed after an idle timeout.
//!
//! # Ownership
//!
//! A datapath created by a client belongs to its clients: the daemon never
//! deletes its flows, and its misses go only to the connections its ports
//! name, so it keeps forwarding while the client (ovs-vswitchd) restarts.
//! The datapath of `oxvsd --port` is the daemon's: a built-in learning
//! switch ([`learn`]) handles its misses and expires its flows.

#![forbid(unsafe_code)]

pub mod conn;
pub mod conntrack;
pub mod ct_limit;
pub mod ctrl;
pub mod datapath;
pub mod dispatch;
pub mod dump;
pub mod families;
pub mod flow;
pub mod fuzzing;
pub mod learn;
pub mod linkwatch;
pub mod meter;
pub mod netfilter;
pub mod packet;
pub mod policy;
pub mod reactor;
pub mod server;
pub mod upcall;
pub mod vport;

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use server::{Config, Server, State};

/// Locks `m`, recovering from a panicked holder (the data stays usable:
/// every critical section leaves it consistent).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Read-locks `l` (see [`lock`]).
pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}

/// Write-locks `l` (see [`lock`]).
pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}
