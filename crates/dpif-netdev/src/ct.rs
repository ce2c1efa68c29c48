//! The control plane of the datapath's connection tracker: the conntrack
//! methods of [`dpif::Provider`] on the datapath's
//! [`conntrack::Conntrack`] ([`Datapath::conntrack`], which the poll
//! threads share).
//!
//! Semantics are the kernel's where OVS's kernel and userspace datapaths
//! differ (zone limits count committed connections; limit 0 is no limit),
//! and OVS's userspace datapath's for what the kernel lacks: maxconns,
//! TCP sequence checking (the opposite of `tcp_be_liberal`), and
//! fragment reassembly settings with OVS's bounds (smallest fragment at
//! least 400 bytes, at most 5000 fragments held).

use std::sync::Arc;

use conntrack::Conntrack;
use dpif::ct::{CtDump, CtFlush, CtLimits, CtZoneLimit, IpfStatus};
use dpif::Errno;

use crate::flow::now_ms;
use crate::Datapath;

/// Most expired connections removed before a dump (bounded work).
const SWEEP_BUDGET: usize = 4096;

/// OVS's smallest allowed minimum fragment size (`IPF_*_FRAG_SIZE_LBOUND`).
const MIN_FRAG_LBOUND: u32 = 400;
/// OVS's largest allowed fragment count (`IPF_NFRAG_UBOUND`).
const NFRAG_UBOUND: u32 = 5000;

/// A new tracker for a datapath, with the kernel's defaults.
pub fn new_tracker() -> Arc<Conntrack> {
    Arc::new(Conntrack::default())
}

fn ct(dp: &Datapath) -> Result<&Conntrack, Errno> {
    dp.alive()?;
    Ok(dp.conntrack())
}

/// [`dpif::Provider::ct_dump`].
pub fn dump(dp: &Datapath, zone: Option<u16>) -> Result<CtDump, Errno> {
    let ct = ct(dp)?;
    let now = now_ms();
    ct.sweep(now, SWEEP_BUDGET);
    Ok(ct.ct_dump(zone, now))
}

/// [`dpif::Provider::ct_flush`]: `ENOENT` when a tuple names no
/// connection, as the kernel's delete answers.
pub fn flush(dp: &Datapath, f: &CtFlush) -> Result<(), Errno> {
    let n = ct(dp)?.flush(f);
    if f.orig.is_some() && n == 0 {
        return Err(Errno::ENOENT);
    }
    Ok(())
}

/// [`dpif::Provider::ct_set_maxconns`].
pub fn set_maxconns(dp: &Datapath, n: u32) -> Result<(), Errno> {
    ct(dp)?.limits().set_max_conns(n);
    Ok(())
}

/// [`dpif::Provider::ct_get_maxconns`].
pub fn get_maxconns(dp: &Datapath) -> Result<u32, Errno> {
    Ok(ct(dp)?.limits().max_conns())
}

/// [`dpif::Provider::ct_get_nconns`].
pub fn get_nconns(dp: &Datapath) -> Result<u32, Errno> {
    Ok(ct(dp)?.n_conns())
}

/// [`dpif::Provider::ct_set_tcp_seq_chk`].
pub fn set_tcp_seq_chk(dp: &Datapath, on: bool) -> Result<(), Errno> {
    ct(dp)?.set_tcp_be_liberal(!on);
    Ok(())
}

/// [`dpif::Provider::ct_get_tcp_seq_chk`].
pub fn get_tcp_seq_chk(dp: &Datapath) -> Result<bool, Errno> {
    Ok(!ct(dp)?.tcp_be_liberal())
}

/// [`dpif::Provider::ct_set_limits`].
pub fn set_limits(dp: &Datapath, default: Option<u32>, zones: &[CtZoneLimit]) -> Result<(), Errno> {
    let l = ct(dp)?.limits();
    if let Some(d) = default {
        l.set_default_zone_limit(d);
    }
    for z in zones {
        l.set_zone_limit(z.zone, z.limit);
    }
    Ok(())
}

/// [`dpif::Provider::ct_get_limits`].
pub fn get_limits(dp: &Datapath, zones: &[u16]) -> Result<CtLimits, Errno> {
    Ok(ct(dp)?.limits_report(zones))
}

/// [`dpif::Provider::ct_del_limits`].
pub fn del_limits(dp: &Datapath, zones: &[u16]) -> Result<(), Errno> {
    let l = ct(dp)?.limits();
    for &z in zones {
        l.del_zone_limit(z);
    }
    Ok(())
}

/// [`dpif::Provider::ct_ipf_set_enabled`].
pub fn ipf_set_enabled(dp: &Datapath, v6: bool, on: bool) -> Result<(), Errno> {
    let ipf = ct(dp)?.ipf();
    let mut c = ipf.config();
    if v6 {
        c.v6_enabled = on;
    } else {
        c.v4_enabled = on;
    }
    ipf.set_config(c);
    Ok(())
}

/// [`dpif::Provider::ct_ipf_set_min_frag`]: `EINVAL` below OVS's bound.
pub fn ipf_set_min_frag(dp: &Datapath, v6: bool, min: u32) -> Result<(), Errno> {
    let ipf = ct(dp)?.ipf();
    if min < MIN_FRAG_LBOUND {
        return Err(Errno::EINVAL);
    }
    let mut c = ipf.config();
    if v6 {
        c.min_frag_size_v6 = min;
    } else {
        c.min_frag_size_v4 = min;
    }
    ipf.set_config(c);
    Ok(())
}

/// [`dpif::Provider::ct_ipf_set_max_nfrags`]: `EINVAL` above OVS's bound.
pub fn ipf_set_max_nfrags(dp: &Datapath, n: u32) -> Result<(), Errno> {
    let ipf = ct(dp)?.ipf();
    if n > NFRAG_UBOUND {
        return Err(Errno::EINVAL);
    }
    let mut c = ipf.config();
    c.max_frags = n;
    ipf.set_config(c);
    Ok(())
}

/// [`dpif::Provider::ct_ipf_get_status`].
pub fn ipf_get_status(dp: &Datapath) -> Result<IpfStatus, Errno> {
    Ok(ct(dp)?.ipf().status())
}
