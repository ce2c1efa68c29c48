//! Upcalls: each datapath's thread hands misses and action upcalls to the
//! connection a port id names, as the kernel's `ovs_dp_upcall` does:
//!
//! - per-CPU dispatch (`OVS_DP_F_DISPATCH_UPCALL_PER_CPU` with
//!   `OVS_DP_ATTR_PER_CPU_PIDS`): the kernel picks the id of the CPU that
//!   received the packet; the daemon's upcalls are not tied to a CPU, so
//!   it picks by the flow's hash, which keeps each flow's upcalls in order
//!   on one handler;
//! - otherwise, misses go to one of the in-port's `OVS_VPORT_ATTR_UPCALL_PID`
//!   ids (by hash; `[0]` means none) and action upcalls to the `userspace`
//!   action's id.
//!
//! An upcall with no id, or whose id no connection has, or whose
//! connection's receive buffer is full, is dropped and counted lost. The
//! datapath of `oxvsd --port` gives its misses to its learning switch
//! unless a port names a connection.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dpif::{Provider, Upcall, UpcallKind};
use dpif_netlink::abi::*;
use nl::msg::MsgBuilder;
use odp::key::KeyAttr;

use crate::datapath::DpEntry;
use crate::families::FAM_PACKET;
use crate::lock;
use crate::server::State;

/// Upcalls taken from the datapath per wakeup.
const BATCH: usize = 256;

fn upcall_msg(d: &DpEntry, up: &Upcall) -> Vec<u8> {
    let cmd = match up.kind {
        UpcallKind::Miss => OVS_PACKET_CMD_MISS,
        UpcallKind::Action => OVS_PACKET_CMD_ACTION,
        UpcallKind::Sample => OXVS_PACKET_CMD_SAMPLE,
    };
    let mut b = MsgBuilder::genl(FAM_PACKET, 0, cmd, OVS_PACKET_VERSION);
    b.header_bytes(&d.ifindex.to_ne_bytes());
    let w = b.attrs();
    // The key as the kernel gives it, without what this datapath does not
    // support (conntrack) and what only OVS's own userspace datapath has
    // (ND extensions): a client installs flows with the keys of its
    // upcalls.
    let key: Vec<KeyAttr> = up
        .key
        .iter()
        .filter(|a| crate::flow::is_reported(a))
        .cloned()
        .collect();
    let k = w.begin_nested(OVS_PACKET_ATTR_KEY);
    odp::nl::key::emit_keys(&key, w);
    w.end_nested(k);
    if let Some(u) = &up.userdata {
        w.put(OVS_PACKET_ATTR_USERDATA, u);
    }
    if let Some(t) = &up.out_tun_key {
        let n = w.begin_nested(OVS_PACKET_ATTR_EGRESS_TUN_KEY);
        odp::nl::key::emit_tunnel(t, w);
        w.end_nested(n);
    }
    if let Some(a) = &up.actions {
        if let Ok(b) = odp::nl::action::encode_actions(a) {
            w.put(OVS_PACKET_ATTR_ACTIONS, &b);
        }
    }
    if let Some(m) = up.mru {
        w.put_u16(OVS_PACKET_ATTR_MRU, m);
    }
    if let Some(h) = up.hash {
        w.put_u64(OVS_PACKET_ATTR_HASH, h);
    }
    w.put(OVS_PACKET_ATTR_PACKET, &up.packet);
    b.finish().unwrap_or_default()
}

impl State {
    /// Runs a datapath's upcall thread until the datapath is destroyed.
    pub(crate) fn upcall_loop(&self, d: &DpEntry) {
        let mut last_expire = Instant::now();
        while !d.stop.load(Ordering::Relaxed) {
            if d.dp.recv_wait(0, Some(Duration::from_millis(100))) {
                d.busy.store(true, Ordering::Release);
                for _ in 0..BATCH {
                    match d.dp.recv(0) {
                        Ok(Some(up)) => self.deliver(d, up),
                        Ok(None) => break,
                        Err(e) => {
                            log::warn!("{}: receiving upcalls: {e}", d.name);
                            std::thread::sleep(Duration::from_millis(10));
                            break;
                        }
                    }
                }
            }
            d.busy.store(false, Ordering::Release);
            if let Some(l) = &d.learner {
                if last_expire.elapsed() >= Duration::from_secs(1) {
                    last_expire = Instant::now();
                    lock(l).expire(d.dp.as_ref());
                }
            }
        }
    }

    /// The port id an upcall goes to (0: none).
    fn upcall_pid(d: &DpEntry, up: &Upcall) -> u32 {
        let h = up
            .hash
            .unwrap_or(up.ufid.0 as u64 ^ (up.ufid.0 >> 64) as u64) as usize;
        if let Some(p) = d.per_cpu_pids() {
            return p[h % p.len()];
        }
        if up.kind == UpcallKind::Action {
            return up.pid;
        }
        let in_port = up.key.iter().find_map(|a| match a {
            KeyAttr::InPort(p) => Some(*p),
            _ => None,
        });
        match in_port.and_then(|p| d.port_pids(p)) {
            Some(p) if !p.is_empty() => p[h % p.len()],
            _ => 0,
        }
    }

    fn deliver(&self, d: &DpEntry, up: Upcall) {
        let pid = Self::upcall_pid(d, &up);
        let conn = (pid != 0).then(|| self.conn_by_pid(pid)).flatten();
        let Some(c) = conn else {
            match &d.learner {
                Some(l) if up.kind == UpcallKind::Miss => lock(l).handle(d.dp.as_ref(), &up),
                _ => {
                    d.lost.fetch_add(1, Ordering::Relaxed);
                }
            }
            return;
        };
        if !self.unsolicited(&c, &upcall_msg(d, &up)) {
            d.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Waits (200 ms at most) until the upcalls counted so far have been
    /// handed over, so that statistics and received upcalls agree as they
    /// do with the kernel, which queues upcalls at once.
    pub(crate) fn settle(&self, d: &DpEntry) {
        let deadline = Instant::now() + Duration::from_millis(200);
        while (d.busy.load(Ordering::Acquire) || d.dp.recv_wait(0, Some(Duration::ZERO)))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
