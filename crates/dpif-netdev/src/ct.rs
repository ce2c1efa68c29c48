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

use conntrack::timeout::{TimeoutPolicy, Timeouts, TpAttr};
use conntrack::Conntrack;
use dpif::ct::{tp_attr, CtDump, CtFlush, CtLimits, CtTimeoutPolicy, CtZoneLimit, IpfStatus};
use dpif::Errno;

use crate::flow::now_ms;
use crate::Datapath;

/// Most expired connections removed before a dump (bounded work).
const SWEEP_BUDGET: usize = 4096;

/// OVS's smallest allowed minimum fragment size (`IPF_*_FRAG_SIZE_LBOUND`).
const MIN_FRAG_LBOUND: u32 = 400;
/// OVS's largest allowed fragment count (`IPF_NFRAG_UBOUND`).
const NFRAG_UBOUND: u32 = 5000;

/// How often the sweeper removes expired connections and fragments.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_millis(100);

/// Starts the datapath's sweeper: a thread that removes expired
/// connections, a bounded number at a time, so that expiry never stalls a
/// poll thread (lookups already ignore expired connections). It ends when
/// the datapath is destroyed or dropped.
pub fn start_sweeper(shared: &Arc<crate::dp::Shared>) {
    let weak = Arc::downgrade(shared);
    let _ = std::thread::Builder::new()
        .name(format!("ct-sweep-{}", shared.name))
        .spawn(move || loop {
            std::thread::sleep(SWEEP_EVERY);
            let Some(s) = weak.upgrade() else { return };
            if s.destroyed.load(std::sync::atomic::Ordering::Acquire) {
                return;
            }
            s.conntrack.sweep(now_ms(), SWEEP_BUDGET);
        });
}

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

/// The engine's attribute at each [`tp_attr`] index (the same order).
const TP_ATTRS: [TpAttr; tp_attr::MAX] = [
    TpAttr::TcpSynSent,
    TpAttr::TcpSynRecv,
    TpAttr::TcpEstablished,
    TpAttr::TcpFinWait,
    TpAttr::TcpCloseWait,
    TpAttr::TcpLastAck,
    TpAttr::TcpTimeWait,
    TpAttr::TcpClose,
    TpAttr::TcpSynSent2,
    TpAttr::TcpRetransmit,
    TpAttr::TcpUnack,
    TpAttr::UdpFirst,
    TpAttr::UdpSingle,
    TpAttr::UdpMultiple,
    TpAttr::IcmpFirst,
    TpAttr::IcmpReply,
];

/// [`dpif::Provider::ct_set_timeout_policy`].
pub fn set_timeout_policy(dp: &Datapath, tp: &CtTimeoutPolicy) -> Result<(), Errno> {
    let mut t = Timeouts::default();
    for (attr, v) in TP_ATTRS.iter().zip(tp.attrs) {
        if let Some(v) = v {
            t.set(*attr, v);
        }
    }
    ct(dp)?.set_timeout_policy(TimeoutPolicy {
        name: tp.id.to_string(),
        timeouts: t,
    });
    Ok(())
}

/// [`dpif::Provider::ct_get_timeout_policy`]: every timeout, as the
/// tracker holds them.
pub fn get_timeout_policy(dp: &Datapath, id: u32) -> Result<CtTimeoutPolicy, Errno> {
    let t = ct(dp)?
        .timeout_policy(&id.to_string())
        .ok_or(Errno::ENOENT)?;
    let c = t.tcp;
    let v = [
        c.syn_sent,
        c.syn_recv,
        c.established,
        c.fin_wait,
        c.close_wait,
        c.last_ack,
        c.time_wait,
        c.close,
        c.syn_sent2,
        c.retrans,
        c.unack,
        t.udp_unreplied,
        t.udp_unreplied,
        t.udp_replied,
        t.icmp,
        t.icmp,
    ];
    Ok(CtTimeoutPolicy {
        id,
        attrs: v.map(Some),
    })
}

/// [`dpif::Provider::ct_del_timeout_policy`].
pub fn del_timeout_policy(dp: &Datapath, id: u32) -> Result<(), Errno> {
    ct(dp)?.del_timeout_policy(&id.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use dpif::Provider;

    #[test]
    fn settings_and_policies_reach_the_tracker() {
        let dp = Datapath::create("cttest0", 1).unwrap();
        dp.ct_set_maxconns(7).unwrap();
        assert_eq!(dp.conntrack().limits().max_conns(), 7);
        dp.ct_set_tcp_seq_chk(false).unwrap();
        assert!(dp.conntrack().tcp_be_liberal());
        assert_eq!(dp.ct_ipf_set_min_frag(false, 399), Err(Errno::EINVAL));
        assert_eq!(dp.ct_ipf_set_max_nfrags(5001), Err(Errno::EINVAL));
        dp.ct_ipf_set_enabled(true, false).unwrap();
        assert!(!dp.ct_ipf_get_status().unwrap().v6.enabled);
        dp.ct_set_limits(
            Some(3),
            &[CtZoneLimit {
                zone: 2,
                limit: 9,
                count: 0,
            }],
        )
        .unwrap();
        let l = dp.ct_get_limits(&[]).unwrap();
        assert_eq!(
            (l.default_limit, l.zones.len(), l.zones[0].limit),
            (3, 1, 9)
        );
        dp.ct_del_limits(&[2]).unwrap();
        assert_eq!(dp.ct_get_limits(&[2]).unwrap().zones[0].limit, 3);

        let mut tp = CtTimeoutPolicy {
            id: 9,
            ..Default::default()
        };
        tp.attrs[tp_attr::TCP_ESTABLISHED] = Some(77);
        tp.attrs[tp_attr::ICMP_FIRST] = Some(5);
        dp.ct_set_timeout_policy(&tp).unwrap();
        let name = dp.ct_timeout_policy_name(9, false, 6).unwrap();
        let t = dp.conntrack().timeout_policy(&name).unwrap();
        assert_eq!((t.tcp.established, t.icmp, t.udp_replied), (77, 5, 120));
        let got = dp.ct_get_timeout_policy(9).unwrap();
        assert_eq!(got.attrs[tp_attr::TCP_ESTABLISHED], Some(77));
        assert_eq!(got.attrs[tp_attr::TCP_SYN_SENT], Some(120));
        dp.ct_del_timeout_policy(9).unwrap();
        assert_eq!(dp.ct_get_timeout_policy(9), Err(Errno::ENOENT));
        dp.destroy().unwrap();
        assert_eq!(dp.ct_get_nconns(), Err(Errno::ENODEV));
    }
}
