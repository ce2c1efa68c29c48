//! The conntrack subsystems of netfilter netlink (ctnetlink, its
//! expectations, cttimeout), which Open vSwitch speaks to the kernel for a
//! `system` datapath's connection tracking (`dpctl/dump-conntrack`,
//! `flush-conntrack`, timeout policies). Programs run under `oxvs-run`
//! send them here rather than to the host's conntrack table.
//!
//! The userspace datapath has no connection tracker yet: every request is
//! answered `EOPNOTSUPP`.

use nl::errno;
use nl::msg::Message;

use crate::dispatch::{Fail, Handled};

/// `NFNL_SUBSYS_CTNETLINK`.
pub const NFNL_SUBSYS_CTNETLINK: u16 = 1;
/// `NFNL_SUBSYS_CTNETLINK_EXP`.
pub const NFNL_SUBSYS_CTNETLINK_EXP: u16 = 2;
/// `NFNL_SUBSYS_CTNETLINK_TIMEOUT`.
pub const NFNL_SUBSYS_CTNETLINK_TIMEOUT: u16 = 8;

/// Whether a message type is one of those subsystems' (subsystem in the
/// high byte).
pub fn is_netfilter(ty: u16) -> bool {
    matches!(
        ty >> 8,
        NFNL_SUBSYS_CTNETLINK | NFNL_SUBSYS_CTNETLINK_EXP | NFNL_SUBSYS_CTNETLINK_TIMEOUT
    )
}

/// Handles a conntrack request.
pub fn handle(_m: &Message<'_>) -> Handled {
    Err(Fail::msg(
        errno::EOPNOTSUPP,
        "connection tracking is not supported by oxvs yet",
    ))
}
