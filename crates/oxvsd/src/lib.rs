//! `oxvsd`: a daemon hosting userspace datapaths (`dpif-netdev`) behind a
//! Unix stream socket.
//!
//! # Protocol
//!
//! The daemon speaks the Linux kernel's openvswitch generic netlink
//! messages (`ovs_datapath`, `ovs_vport`, `ovs_flow`, `ovs_packet`:
//! `nlmsghdr` + `genlmsghdr` + `struct ovs_header` + attributes) over the
//! stream, so `dpif-netlink`'s codec drives both the kernel (`system`) and
//! the daemon (`netdev`, [`dpif_netlink::RemoteClass`]). What differs from
//! a netlink socket is listed in [`dpif_netlink::remote`]: messages are
//! framed by `nlmsg_len`, a greeting `NLMSG_NOOP` gives the connection its
//! port id, and multicast groups are joined by a request.
//!
//! - Families are resolved with `CTRL_CMD_GETFAMILY` on `GENL_ID_CTRL`
//!   (fixed ids, [`wire::FAMILIES`]).
//! - Every request gets `NLMSG_ERROR` (0 = ack) when it asks `NLM_F_ACK` or
//!   fails, after its reply when it has one (`GET`, or `NLM_F_ECHO`).
//! - Dumps (`NLM_F_DUMP`) answer `NLM_F_MULTI` messages then `NLMSG_DONE`.
//! - Upcalls (`OVS_PACKET_CMD_MISS` / `_ACTION`) go to a connection named
//!   by the in-port's `OVS_VPORT_ATTR_UPCALL_PID` list (picked by hash) or
//!   else the datapath's `OVS_DP_ATTR_UPCALL_PID`. When no live connection
//!   is named, misses go to the built-in learning switch ([`learn`]).
//! - Access: the socket file is mode 0660 in a 0755 directory; each peer's
//!   `SO_PEERCRED` must be root, the daemon's user, or in the socket's
//!   group, else it gets `NLMSG_ERROR` `EPERM` instead of the greeting.
//!   Members of the group are not root: they may not add `pcap` ports
//!   (files opened as the daemon), `EPERM`.

#![forbid(unsafe_code)]

pub mod learn;
pub mod server;
pub mod wire;

pub use server::{Config, Server, State};
