//! Connection tracking in the daemon: which datapath's tracker a request
//! acts on, and the tracker settings the kernel does not have, carried as
//! `OXVS_DP_ATTR_CT_*` / `OXVS_DP_ATTR_IPF` attributes of `ovs_datapath`
//! replies and `SET`s (see `dpif_netlink::abi`).
//!
//! # Which tracker
//!
//! Each hosted datapath has its own tracker. The kernel has one table per
//! network namespace, and ctnetlink, cttimeout and `ovs_ct_limit` (with
//! `dp_ifindex` 0, as Open vSwitch sends it) name no datapath, so such a
//! request acts on *every* datapath the daemon hosts, as on one table:
//! a dump lists the entries of each datapath in turn (by ifindex), a
//! delete or flush applies to each, a get answers from the first that
//! has the connection, a limit is set on each and reported from the
//! first (counts summed over all). A request naming a datapath
//! (`OXVS_CTA_DP_IFINDEX` in ctnetlink, `ovs_header.dp_ifindex` in
//! `ovs_ct_limit`) acts on that one only; `ENODEV` if there is none.
//! With a single datapath — how Open vSwitch runs — both views are the
//! same. Timeout objects and limits set for every datapath are kept by
//! the daemon and given to datapaths created later, as the kernel keeps
//! them for its namespace whatever datapaths come and go.

use std::sync::Arc;

use dpif::Provider;
use dpif_netdev::Datapath;
use dpif_netlink::abi::*;
use dpif_netlink::datapath::{put_ipf_status, IpfSet};
use nl::policy::Attrs;
use nl::Writer;

use crate::datapath::DpEntry;
use crate::dispatch::Fail;
use crate::read;
use crate::server::State;

/// The datapaths a request acts on: `ifindex`'s, or all for 0.
///
/// # Errors
/// `ENODEV` if `ifindex` names no datapath.
pub fn targets(state: &State, ifindex: i32) -> Result<Vec<Arc<DpEntry>>, Fail> {
    if ifindex == 0 {
        return Ok(read(&state.dps).values().cloned().collect());
    }
    Ok(vec![state.find_dp(ifindex, None)?])
}

/// Adds the tracker's settings to a datapath message.
pub fn put_dp_attrs(dp: &Datapath, w: &mut Writer) {
    if let Ok(n) = dp.ct_get_maxconns() {
        w.put_u32(OXVS_DP_ATTR_CT_MAXCONNS, n);
    }
    if let Ok(n) = dp.ct_get_nconns() {
        w.put_u32(OXVS_DP_ATTR_CT_NCONNS, n);
    }
    if let Ok(on) = dp.ct_get_tcp_seq_chk() {
        w.put_u32(OXVS_DP_ATTR_CT_TCP_SEQ_CHK, u32::from(on));
    }
    w.put_u32(OXVS_DP_ATTR_CT_N_BUCKETS, conntrack::dump::N_BUCKETS);
    if let Ok(st) = dp.ct_ipf_get_status() {
        put_ipf_status(w, &st);
    }
}

/// Applies the tracker settings of a datapath `SET`.
///
/// # Errors
/// `EINVAL` for a malformed `OXVS_DP_ATTR_IPF` or a value the tracker
/// refuses (a minimum fragment size below 400, more than 5000
/// fragments).
pub fn change(dp: &Datapath, a: &Attrs<'_>) -> Result<(), Fail> {
    // Check everything before changing anything.
    let ipf = match a.get(OXVS_DP_ATTR_IPF) {
        Some(p) => Some(IpfSet::parse(p).map_err(|e| Fail::msg(e.errno(), e.to_string()))?),
        None => None,
    };
    if let Some(i) = &ipf {
        let bad_min = |v: Option<u32>| v.is_some_and(|v| v < 400);
        if bad_min(i.v4_min_frag)
            || bad_min(i.v6_min_frag)
            || i.max_nfrags.is_some_and(|n| n > 5000)
        {
            return Err(Fail::msg(
                nl::errno::EINVAL,
                "fragment setting out of range",
            ));
        }
    }
    if let Some(n) = a.u32(OXVS_DP_ATTR_CT_MAXCONNS) {
        dp.ct_set_maxconns(n)?;
    }
    if let Some(v) = a.u32(OXVS_DP_ATTR_CT_TCP_SEQ_CHK) {
        dp.ct_set_tcp_seq_chk(v != 0)?;
    }
    if let Some(i) = ipf {
        for (v6, on) in [(false, i.v4_enabled), (true, i.v6_enabled)] {
            if let Some(on) = on {
                dp.ct_ipf_set_enabled(v6, on)?;
            }
        }
        for (v6, min) in [(false, i.v4_min_frag), (true, i.v6_min_frag)] {
            if let Some(m) = min {
                dp.ct_ipf_set_min_frag(v6, m)?;
            }
        }
        if let Some(n) = i.max_nfrags {
            dp.ct_ipf_set_max_nfrags(n)?;
        }
    }
    Ok(())
}
