//! The `netdev` dpif provider as a client of the `oxvsd` daemon.
//!
//! `oxvsd` hosts userspace datapaths and speaks the kernel's openvswitch
//! generic netlink messages on a Unix `SOCK_SEQPACKET` socket (the
//! transport is specified in [`nl::daemon`]), so this provider is the
//! `system` provider's code with a different socket:
//!
//! - **Datagrams** carry whole messages as on a netlink socket; requests,
//!   acks (`NLMSG_ERROR`), dumps (`NLM_F_MULTI` up to `NLMSG_DONE`) and
//!   families (`CTRL_CMD_GETFAMILY` on `GENL_ID_CTRL`) are as the kernel's.
//! - **Port ids.** The daemon's greeting gives the connection its port id;
//!   naming it in `OVS_VPORT_ATTR_UPCALL_PID` (or the per-CPU ids)
//!   subscribes the connection to those upcalls, exactly as with the
//!   kernel.
//! - **Socket options** (multicast groups, the receive buffer) are
//!   requests ([`nl::daemon::OXVS_CTRL_CMD_SOCKOPT`]).
//! - **Port types** beyond the kernel's (`dummy`, `pcap`, `tap`) have
//!   numbers of their own (`OXVS_VPORT_TYPE_*`) and their options travel as
//!   `key=value` strings in `OVS_VPORT_ATTR_OPTIONS`.
//! - **Settings the kernel lacks**: `OXVS_DP_ATTR_DROP_FRAGS` and
//!   `OXVS_DP_ATTR_SFLOW_PROBABILITY` in datapath replies and `SET`s, sample
//!   upcalls as command `OXVS_PACKET_CMD_SAMPLE`; `queue_to_priority` is
//!   computed here as the userspace datapath does (queue N, priority N + 1).
//!   The private numbers (`OXVS_*` in [`crate::abi`]) keep clear of the
//!   kernel's and of the attribute flag bits.
//!
//! Registering: [`register`] (this type alone) or [`register_all`]
//! (`system` and `netdev`), so that `system@dp0` and `netdev@dp0` open
//! through one [`dpif::Registry`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::system::SystemClass;

/// The default socket path of `oxvsd`.
pub const DEFAULT_SOCKET: &str = "/run/oxvs/oxvsd.sock";

/// The `netdev` provider type: datapaths hosted by `oxvsd`.
pub struct RemoteClass;

impl RemoteClass {
    /// A `netdev` provider type talking to the daemon at `socket`. Nothing
    /// is contacted until first use.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(socket: impl AsRef<Path>) -> SystemClass {
        SystemClass::daemon(socket.as_ref().to_path_buf())
    }

    /// The socket path to use: `$OXVSD_SOCKET`, else [`DEFAULT_SOCKET`].
    pub fn default_socket() -> PathBuf {
        std::env::var_os("OXVSD_SOCKET")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
    }
}

/// Registers the `netdev` provider type for the daemon at `socket`.
///
/// # Errors
/// `EEXIST` if a `netdev` type is registered already.
pub fn register(registry: &dpif::Registry, socket: impl AsRef<Path>) -> Result<(), dpif::Errno> {
    registry.register(Arc::new(RemoteClass::new(socket)))
}

/// Registers both types a client needs: `system` (the kernel) and `netdev`
/// (the daemon at [`RemoteClass::default_socket`]).
///
/// # Errors
/// `EEXIST` if either type is registered already.
pub fn register_all(registry: &dpif::Registry) -> Result<(), dpif::Errno> {
    crate::system::register(registry)?;
    register(registry, RemoteClass::default_socket())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dpif::DpifClass;

    #[test]
    fn registers_netdev_and_reports_a_missing_daemon() {
        let r = dpif::Registry::new();
        register(&r, "/nonexistent/oxvsd.sock").unwrap();
        assert_eq!(r.types(), vec!["netdev"]);
        let c = RemoteClass::new("/nonexistent/oxvsd.sock");
        assert_eq!(c.type_name(), "netdev");
        // No daemon: the connect errno (ENOENT), not a panic or a hang.
        assert_eq!(c.open("dp0", false).err(), Some(dpif::Errno::ENOENT));
    }
}
