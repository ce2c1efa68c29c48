//! The provider contract: what every kind of datapath implements.
//!
//! A provider type ([`DpifClass`], OVS's `struct dpif_class`) is registered
//! under a type name (`netdev`, `system`) and opens datapaths of its type; an
//! open datapath is a [`Provider`]. Callers never use a `Provider` directly:
//! they go through [`crate::Dpif`], which adds logging, counters and errno
//! checks once for every provider.
//!
//! # Contract
//!
//! - **Errors.** Every fallible method returns `Result<_, Errno>`. The errnos
//!   named in a method's `# Errors` section are part of the contract: callers
//!   branch on them, so a provider must not use them for other failures.
//!   `EINVAL` always means a malformed request (bad key, mask, actions or
//!   argument). `EOPNOTSUPP` means this provider does not implement the
//!   operation or option at all.
//! - **Blocking.** Every call is synchronous: it completes before returning
//!   and never returns `EAGAIN` or `EINPROGRESS` unless its docs say so
//!   (only [`Provider::recv`] and [`Provider::port_poll`] report "nothing
//!   now", as `Ok(None)`). Only [`Provider::recv_wait`] and
//!   [`Provider::port_poll_wait`] block, and only up to their timeout.
//! - **Threads.** A `Provider` is `Send + Sync`: all methods take `&self` and
//!   may be called from several threads at once. In particular handler
//!   threads call [`Provider::recv`] with distinct handler ids while other
//!   threads put, delete and dump flows. Flow puts and deletes are atomic:
//!   a packet sees either the old or the new flow, never a mix.
//! - **Ownership.** Everything returned is owned by the caller. Nothing is
//!   borrowed from the provider past the call, except a flow dump's cursors,
//!   which borrow the dump.
//! - **Flow identity.** A flow is identified by its UFID when the caller gives
//!   one, otherwise by its key (masked by its mask). Two flows whose matches
//!   overlap may not both be installed if they have the same mask and masked
//!   key (`EEXIST`); flows with different masks may overlap, and which one a
//!   packet hits is unspecified, as in OVS.

use crate::ct;
use crate::errno::Errno;
use crate::types::*;
use odp::key::PortNo;
use std::sync::Arc;

/// A kind of datapath, registered under a type name (OVS's `dpif_class`).
pub trait DpifClass: Send + Sync {
    /// The type name, e.g. `"netdev"` or `"system"`.
    fn type_name(&self) -> &'static str;

    /// Names of the datapaths of this type that exist now.
    ///
    /// # Errors
    /// Any errno if the datapaths cannot be listed (e.g. `EAFNOSUPPORT` when
    /// the kernel module is missing).
    fn enumerate(&self) -> Result<Vec<String>, Errno>;

    /// Opens the datapath `name`, creating it first if `create` is true.
    ///
    /// # Errors
    /// - `ENODEV` if it does not exist and `create` is false.
    /// - `EEXIST` if `create` is true and it exists already.
    /// - `EINVAL` if `name` is not a valid datapath name.
    /// - `EPERM` without the privileges the type needs.
    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn Provider>, Errno>;
}

/// One cursor of a flow dump (see [`Provider::flow_dump`]).
pub trait FlowDumpThread: Send {
    /// Appends up to `max` flows to `out` and returns how many it appended;
    /// 0 means the dump is over for this cursor.
    ///
    /// # Errors
    /// Any errno if the dump failed; the dump is then over.
    fn next(&mut self, out: &mut Vec<DpifFlow>, max: usize) -> Result<usize, Errno>;
}

/// A flow dump in progress. Several threads may drain it at once, each
/// through its own cursor: every flow present for the whole dump is returned
/// by one of the cursors; a flow added or deleted during the dump may or may
/// not be returned. A flow may be returned twice while other threads change
/// the table (the kernel's table can be resized mid-dump); the userspace
/// datapath returns each flow at most once.
pub trait FlowDump: Send + Sync {
    /// A new cursor over this dump.
    fn cursor(&self) -> Box<dyn FlowDumpThread + '_>;
}

/// An open datapath (the methods of OVS's `dpif_class` that take a `dpif`).
/// See the module docs for the contract that applies to every method.
pub trait Provider: Send + Sync {
    /// The datapath's name, without type.
    fn name(&self) -> &str;

    /// The provider's type name, e.g. `"netdev"`.
    fn type_name(&self) -> &'static str;

    /// Destroys the datapath: its ports are removed and its flows deleted.
    /// Handles that are still open keep working only as far as returning
    /// `ENODEV`.
    ///
    /// # Errors
    /// - `ENODEV` if it was destroyed already.
    fn destroy(&self) -> Result<(), Errno>;

    /// Datapath-wide statistics.
    ///
    /// # Errors
    /// - `ENODEV` if the datapath was destroyed.
    fn get_stats(&self) -> Result<DpStats, Errno>;

    /// Whether IP fragments are dropped instead of being looked up.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` if the provider has no such setting.
    fn get_drop_frags(&self) -> Result<bool, Errno>;

    /// Sets whether IP fragments are dropped.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` if the provider has no such setting.
    fn set_drop_frags(&self, drop_frags: bool) -> Result<(), Errno>;

    /// Adds a port. `port_no` requests a number; `None` lets the datapath
    /// choose. Returns the port's number.
    ///
    /// # Errors
    /// - `EEXIST` if a port with this name exists.
    /// - `EBUSY` if the requested number is in use.
    /// - `EFBIG` if the datapath has no free port number.
    /// - `EINVAL` for an unknown port type, a bad option or a number above
    ///   [`Provider::get_max_ports`].
    /// - `ENODEV` if the device does not exist (for types that attach to one).
    fn port_add(&self, spec: &PortSpec, port_no: Option<PortNo>) -> Result<PortNo, Errno>;

    /// Removes a port.
    ///
    /// # Errors
    /// - `ENODEV` if there is no such port.
    /// - `EINVAL` when removing the local port (0), which only
    ///   [`Provider::destroy`] removes.
    fn port_del(&self, port_no: PortNo) -> Result<(), Errno>;

    /// Looks up the port numbered `port_no`.
    ///
    /// # Errors
    /// - `ENODEV` if no such port exists. Callers test for existence this
    ///   way, so report other failures differently.
    fn port_query_by_number(&self, port_no: PortNo) -> Result<DpifPort, Errno>;

    /// Looks up the port named `name`.
    ///
    /// # Errors
    /// - `ENODEV` if no such port exists.
    fn port_query_by_name(&self, name: &str) -> Result<DpifPort, Errno>;

    /// Counters of a port.
    ///
    /// # Errors
    /// - `ENODEV` if no such port exists.
    /// - `EOPNOTSUPP` if the provider keeps no port counters.
    fn port_stats(&self, port_no: PortNo) -> Result<PortStats, Errno>;

    /// One more than the largest port number the datapath accepts.
    fn get_max_ports(&self) -> u32;

    /// The datapath's flow caches that have a configurable size (OVS's
    /// `cache_get_supported_levels` / `cache_get_name` / `cache_get_size`):
    /// name and size of each, e.g. the kernel's `masks-cache`. None by
    /// default.
    fn cache_levels(&self) -> Vec<(String, u32)> {
        Vec::new()
    }

    /// All ports, in port-number order.
    ///
    /// # Errors
    /// - `ENODEV` if the datapath was destroyed.
    fn port_dump(&self) -> Result<Vec<DpifPort>, Errno>;

    /// Reports a change to the set of ports: `Ok(Some(name))` names a port
    /// that was added, removed or changed; `Ok(None)` means no change since
    /// the last call (OVS's `EAGAIN`). False positives are allowed.
    ///
    /// # Errors
    /// - `ENOBUFS` if changes were lost: the caller must re-dump the ports.
    fn port_poll(&self) -> Result<Option<String>, Errno>;

    /// Blocks until [`Provider::port_poll`] has something to report or
    /// `timeout` passes; returns whether it has.
    fn port_poll_wait(&self, timeout: Timeout) -> bool;

    /// Deletes every flow.
    ///
    /// # Errors
    /// - `ENODEV` if the datapath was destroyed.
    fn flow_flush(&self) -> Result<(), Errno>;

    /// Starts a flow dump. With `terse`, flows carry only their UFID and
    /// statistics.
    ///
    /// # Errors
    /// - `ENODEV` if the datapath was destroyed.
    fn flow_dump(&self, terse: bool) -> Result<Box<dyn FlowDump + '_>, Errno>;

    /// Executes a batch of operations, in order, and returns one result per
    /// operation. This is the only flow entry point: single puts, deletes,
    /// gets and executes are batches of one.
    ///
    /// Errors per operation:
    /// - put: `EEXIST` if the flow exists and `modify` is not set; `ENOENT`
    ///   if it does not exist and `create` is not set; `EINVAL` for a
    ///   malformed key, mask or actions, an `in_port` that is absent, not
    ///   exact or not a port of the datapath, or actions not safe on every
    ///   packet of the match; `EFBIG` / `ENOSPC` when the table is full.
    /// - del, get: `ENOENT` if there is no such flow; `EINVAL` for a
    ///   malformed key.
    /// - execute: `EINVAL` for malformed actions or metadata; `EOPNOTSUPP`
    ///   for an action the provider cannot run.
    fn operate(&self, ops: &[Op]) -> Vec<Result<OpReply, Errno>>;

    /// Sets which upcalls are sent. With an empty mask, upcalls are not
    /// queued (misses count as lost).
    ///
    /// # Errors
    /// - `EOPNOTSUPP` if a requested kind is not supported.
    fn recv_set_mask(&self, mask: ListenMask) -> Result<(), Errno>;

    /// The current listen mask.
    fn recv_get_mask(&self) -> ListenMask;

    /// Sets the number of handler queues (each read by one handler thread).
    /// Upcalls are spread over the queues by flow hash, so that upcalls of
    /// one flow stay in order.
    ///
    /// # Errors
    /// - `EINVAL` if `n` is 0.
    fn handlers_set(&self, n: u32) -> Result<(), Errno>;

    /// Takes the next upcall from handler queue `handler_id`; `Ok(None)` if
    /// the queue is empty (OVS's `EAGAIN`).
    ///
    /// # Errors
    /// - `EINVAL` if `handler_id` is not below the number of handlers.
    fn recv(&self, handler_id: u32) -> Result<Option<Upcall>, Errno>;

    /// Blocks until queue `handler_id` is non-empty or `timeout` passes;
    /// returns whether it is non-empty.
    fn recv_wait(&self, handler_id: u32, timeout: Timeout) -> bool;

    /// Discards every queued upcall.
    fn recv_purge(&self);

    /// The probability, scaled to `u32::MAX`, with which each packet
    /// received is also sent as a `Sample` upcall (0 = never).
    ///
    /// # Errors
    /// - `EOPNOTSUPP` if the provider has no datapath-wide sampling.
    fn get_sflow_probability(&self) -> Result<u32, Errno>;

    /// Sets the sampling probability (see [`Provider::get_sflow_probability`]).
    ///
    /// # Errors
    /// - `EOPNOTSUPP` if the provider has no datapath-wide sampling.
    fn set_sflow_probability(&self, probability: u32) -> Result<(), Errno>;

    /// Maps an OpenFlow queue id to the skb priority that selects it.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` if the provider has no queues.
    fn queue_to_priority(&self, queue_id: u32) -> Result<u32, Errno>;

    // ---- connection tracking (see [`crate::ct`]) ----------------------
    //
    // Every method has a default that answers `EOPNOTSUPP`: a provider
    // without a tracker, or without one of its settings, says so, and
    // `ovs-dpctl` prints its "not supported" message for that errno.

    /// Every connection of the datapath's tracker, or of `zone`'s only.
    /// Entries come in the provider's order; a connection created or
    /// removed during the dump may or may not be in it.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` without a tracker.
    /// - `ENODEV` if the datapath was destroyed.
    fn ct_dump(&self, zone: Option<u16>) -> Result<ct::CtDump, Errno> {
        let _ = zone;
        Err(Errno::EOPNOTSUPP)
    }

    /// Removes the connections `flush` selects (see [`ct::CtFlush`]).
    ///
    /// # Errors
    /// - `ENOENT` if `flush` names one connection by its tuple and there
    ///   is no such connection.
    /// - `EOPNOTSUPP` without a tracker, or for a selector the provider
    ///   cannot apply.
    fn ct_flush(&self, flush: &ct::CtFlush) -> Result<(), Errno> {
        let _ = flush;
        Err(Errno::EOPNOTSUPP)
    }

    /// Sets the most connections the tracker holds (`ct-set-maxconns`).
    ///
    /// # Errors
    /// - `EOPNOTSUPP` if the provider has no such setting.
    fn ct_set_maxconns(&self, maxconns: u32) -> Result<(), Errno> {
        let _ = maxconns;
        Err(Errno::EOPNOTSUPP)
    }

    /// The most connections the tracker holds.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` if the provider has no such setting.
    fn ct_get_maxconns(&self) -> Result<u32, Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// How many connections the tracker holds.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` if the provider cannot tell.
    fn ct_get_nconns(&self) -> Result<u32, Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// Turns TCP sequence number checking on or off (off: the kernel's
    /// `nf_conntrack_tcp_be_liberal`).
    ///
    /// # Errors
    /// - `EOPNOTSUPP` if the provider has no such setting.
    fn ct_set_tcp_seq_chk(&self, enabled: bool) -> Result<(), Errno> {
        let _ = enabled;
        Err(Errno::EOPNOTSUPP)
    }

    /// Whether TCP sequence numbers are checked.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` if the provider has no such setting.
    fn ct_get_tcp_seq_chk(&self) -> Result<bool, Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// Sets the default zone limit (if given) and the limits of `zones`
    /// (their `count` is ignored); a limit of 0 is no limit.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` without zone limits.
    fn ct_set_limits(
        &self,
        default_limit: Option<u32>,
        zones: &[ct::CtZoneLimit],
    ) -> Result<(), Errno> {
        let _ = (default_limit, zones);
        Err(Errno::EOPNOTSUPP)
    }

    /// The default limit and, for `zones` (empty: every zone with a limit
    /// of its own), each zone's limit in force (its own, else the
    /// default) and its connection count.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` without zone limits.
    fn ct_get_limits(&self, zones: &[u16]) -> Result<ct::CtLimits, Errno> {
        let _ = zones;
        Err(Errno::EOPNOTSUPP)
    }

    /// Makes `zones` follow the default limit again.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` without zone limits.
    fn ct_del_limits(&self, zones: &[u16]) -> Result<(), Errno> {
        let _ = zones;
        Err(Errno::EOPNOTSUPP)
    }

    /// Turns fragment reassembly of IPv6 (`v6`) or IPv4 on or off.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` if the provider has no such setting.
    fn ct_ipf_set_enabled(&self, v6: bool, enabled: bool) -> Result<(), Errno> {
        let _ = (v6, enabled);
        Err(Errno::EOPNOTSUPP)
    }

    /// Sets the smallest fragment accepted for a family.
    ///
    /// # Errors
    /// - `EINVAL` for a size the provider refuses.
    /// - `EOPNOTSUPP` if the provider has no such setting.
    fn ct_ipf_set_min_frag(&self, v6: bool, min_frag: u32) -> Result<(), Errno> {
        let _ = (v6, min_frag);
        Err(Errno::EOPNOTSUPP)
    }

    /// Sets the most fragments held at once.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` if the provider has no such setting.
    fn ct_ipf_set_max_nfrags(&self, max_nfrags: u32) -> Result<(), Errno> {
        let _ = max_nfrags;
        Err(Errno::EOPNOTSUPP)
    }

    /// Fragment reassembly settings and counters.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` without fragment reassembly of its own.
    fn ct_ipf_get_status(&self) -> Result<ct::IpfStatus, Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// Adds or replaces timeout policy `tp.id`. The timeouts it does not
    /// set are the tracker's defaults.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` without timeout policies.
    fn ct_set_timeout_policy(&self, tp: &ct::CtTimeoutPolicy) -> Result<(), Errno> {
        let _ = tp;
        Err(Errno::EOPNOTSUPP)
    }

    /// Timeout policy `id`, as the tracker holds it (a provider may report
    /// defaults for timeouts that were not set).
    ///
    /// # Errors
    /// - `ENOENT` if there is no such policy.
    /// - `EOPNOTSUPP` without timeout policies.
    fn ct_get_timeout_policy(&self, id: u32) -> Result<ct::CtTimeoutPolicy, Errno> {
        let _ = id;
        Err(Errno::EOPNOTSUPP)
    }

    /// Removes timeout policy `id` (nothing if there is none).
    ///
    /// # Errors
    /// - `EOPNOTSUPP` without timeout policies.
    fn ct_del_timeout_policy(&self, id: u32) -> Result<(), Errno> {
        let _ = id;
        Err(Errno::EOPNOTSUPP)
    }

    /// The name a `ct` action's `timeout=` gives to use policy `id` for
    /// packets of protocol `proto` over IPv6 (`ipv6`) or IPv4.
    ///
    /// # Errors
    /// - `EOPNOTSUPP` without timeout policies.
    fn ct_timeout_policy_name(&self, id: u32, ipv6: bool, proto: u8) -> Result<String, Errno> {
        let _ = (id, ipv6, proto);
        Err(Errno::EOPNOTSUPP)
    }
}
