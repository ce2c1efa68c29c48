//! The built-in MAC-learning switch: handles the misses of a datapath
//! nobody subscribed to.
//!
//! On a miss it learns the source MAC's port, sends the packet to the
//! destination's port when known (flooding to every other port otherwise)
//! and installs a megaflow matching `in_port`, the Ethernet addresses and
//! the Ethernet type, so the following packets stay in the datapath.
//! [`Learner::expire`], called about once a second, deletes the flows it
//! installed that saw no packet for the idle timeout, refreshes the MACs of
//! the active ones and ages out MACs.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dpif::{Errno, Execute, FlowDel, FlowGet, FlowPut, Op, OpReply, Provider, PutFlags, Upcall};
use odp::action::Action;
use odp::key::{EthernetKey, KeyAttr, PortNo, Ufid};

/// Timers and sizes of the learning switch.
#[derive(Debug, Clone, Copy)]
pub struct LearnConfig {
    /// Flows idle this long are deleted.
    pub flow_idle: Duration,
    /// MACs not seen this long are forgotten.
    pub mac_age: Duration,
    /// Most MACs remembered (Open vSwitch's `mac-table-size` default); past
    /// it the least recently seen are forgotten first.
    pub max_macs: usize,
    /// Most flows installed; past it packets are forwarded without a flow.
    pub max_flows: usize,
}

impl Default for LearnConfig {
    fn default() -> LearnConfig {
        LearnConfig {
            flow_idle: Duration::from_secs(10),
            mac_age: Duration::from_secs(300),
            max_macs: 8192,
            max_flows: 16384,
        }
    }
}

/// A flow the learning switch installed.
#[derive(Debug, Clone)]
struct Learned {
    src: [u8; 6],
    in_port: u32,
    dst: [u8; 6],
    flood: bool,
    n_packets: u64,
    active: Instant,
}

/// One datapath's MAC table and learned flows.
#[derive(Debug, Default)]
pub struct Learner {
    cfg: LearnConfig,
    macs: HashMap<[u8; 6], (u32, Instant)>,
    flows: HashMap<Ufid, Learned>,
    ports: Vec<u32>,
}

fn is_multicast(mac: &[u8; 6]) -> bool {
    mac[0] & 1 != 0
}

impl Learner {
    /// A learner with timers `cfg`.
    pub fn new(cfg: LearnConfig) -> Learner {
        Learner {
            cfg,
            ..Learner::default()
        }
    }

    /// The port MAC `mac` was learned on.
    pub fn port_of(&self, mac: &[u8; 6]) -> Option<u32> {
        self.macs.get(mac).map(|&(p, _)| p)
    }

    /// Number of MACs remembered.
    pub fn n_macs(&self) -> usize {
        self.macs.len()
    }

    /// Number of flows installed and still tracked.
    pub fn n_flows(&self) -> usize {
        self.flows.len()
    }

    fn delete(&mut self, dp: &dyn Provider, which: impl Fn(&Learned) -> bool) {
        let ufids: Vec<Ufid> = self
            .flows
            .iter()
            .filter(|(_, l)| which(l))
            .map(|(u, _)| *u)
            .collect();
        let ops: Vec<Op> = ufids
            .iter()
            .map(|u| {
                Op::Del(FlowDel {
                    key: Vec::new(),
                    ufid: Some(*u),
                    want_stats: false,
                })
            })
            .collect();
        if !ops.is_empty() {
            let _ = dp.operate(&ops);
        }
        for u in ufids {
            self.flows.remove(&u);
        }
    }

    /// Handles a miss: learns, forwards the packet and installs a flow.
    pub fn handle(&mut self, dp: &dyn Provider, up: &Upcall) {
        let now = Instant::now();
        let mut in_port = None;
        let mut eth = None;
        let mut tagged = false;
        for a in &up.key {
            match a {
                KeyAttr::InPort(p) => in_port = Some(*p),
                KeyAttr::Ethernet(e) => eth = Some(*e),
                KeyAttr::Vlan(_) | KeyAttr::Encap(_) => tagged = true,
                _ => {}
            }
        }
        let (Some(in_port), Some(eth)) = (in_port, eth) else {
            return;
        };
        if !is_multicast(&eth.src) {
            let src = eth.src;
            match self.macs.get(&src).map(|&(p, _)| p) {
                Some(p) if p != in_port => {
                    // Moved: the flows towards it, and from it, are wrong now.
                    self.delete(dp, |l| l.dst == src || l.src == src);
                }
                None => {
                    // New: flows flooding towards it can now be unicast.
                    self.delete(dp, |l| l.flood && l.dst == src);
                    self.make_room();
                }
                _ => {}
            }
            self.macs.insert(src, (in_port, now));
        }
        let known = (!is_multicast(&eth.dst))
            .then(|| self.macs.get(&eth.dst))
            .flatten()
            .filter(|(_, t)| now.duration_since(*t) < self.cfg.mac_age)
            .map(|&(p, _)| p);
        let (actions, flood) = match known {
            Some(p) if p == in_port => (Vec::new(), false),
            Some(p) => (vec![Action::Output(PortNo(p))], false),
            None => {
                let ports = dp.port_dump().unwrap_or_default();
                let out = ports
                    .iter()
                    .map(|p| p.port_no.0)
                    .filter(|&p| p != in_port && p != 0)
                    .map(|p| Action::Output(PortNo(p)))
                    .collect();
                (out, true)
            }
        };
        if !actions.is_empty() {
            let _ = dp.operate(&[Op::Execute(Execute {
                packet: up.packet.clone(),
                metadata: up.key.clone(),
                actions: actions.clone(),
                mtu: 0,
                probe: false,
            })]);
        }
        if self.flows.len() < self.cfg.max_flows {
            self.install(dp, up, &eth, in_port, tagged, actions, flood, now);
        }
    }

    /// Keeps the MAC table below its size: forgets the least recently
    /// seen eighth at once, so a flood of new addresses costs O(1) each.
    fn make_room(&mut self) {
        if self.macs.len() < self.cfg.max_macs.max(8) {
            return;
        }
        let mut ages: Vec<(Instant, [u8; 6])> =
            self.macs.iter().map(|(m, &(_, t))| (t, *m)).collect();
        let n = ages.len() / 8;
        ages.select_nth_unstable(n);
        for (_, m) in &ages[..=n] {
            self.macs.remove(m);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn install(
        &mut self,
        dp: &dyn Provider,
        up: &Upcall,
        eth: &EthernetKey,
        in_port: u32,
        tagged: bool,
        actions: Vec<Action>,
        flood: bool,
        now: Instant,
    ) {
        let ethertype = up.key.iter().find_map(|a| match a {
            KeyAttr::Ethertype(t) => Some(*t),
            _ => None,
        });
        // A megaflow on in_port, addresses and type; tagged frames get an
        // exact flow (the mask of a VLAN key needs its inner attributes).
        let wide = (!tagged).then(|| {
            // recirc_id is always exact, as in Open vSwitch's datapaths: a
            // recirculated packet must not match a first-pass flow.
            let mut m = vec![
                KeyAttr::RecircId(u32::MAX),
                KeyAttr::InPort(u32::MAX),
                KeyAttr::Ethernet(EthernetKey {
                    src: [0xff; 6],
                    dst: [0xff; 6],
                }),
            ];
            if ethertype.is_some() {
                m.push(KeyAttr::Ethertype(0xffff));
            }
            m
        });
        for mask in [wide, None] {
            let ufid = Ufid(fresh_ufid(&up.key, mask.as_deref()));
            let put = Op::Put(FlowPut {
                flags: PutFlags::CREATE,
                key: up.key.clone(),
                mask: mask.clone(),
                ufid: Some(ufid),
                actions: actions.clone(),
                want_stats: false,
            });
            match dp.operate(&[put]).pop() {
                Some(Ok(_)) | Some(Err(Errno::EEXIST)) => {
                    self.flows.insert(
                        ufid,
                        Learned {
                            src: eth.src,
                            in_port,
                            dst: eth.dst,
                            flood,
                            n_packets: 0,
                            active: now,
                        },
                    );
                    return;
                }
                Some(Err(e)) => log::debug!("learning switch: flow put: {e}"),
                None => return,
            }
            if mask.is_none() {
                return;
            }
        }
    }

    /// Deletes idle flows, refreshes the MACs of active ones, ages out
    /// MACs, and forgets every learned flow when the ports changed.
    pub fn expire(&mut self, dp: &dyn Provider) {
        let now = Instant::now();
        let ports: Vec<u32> = dp
            .port_dump()
            .unwrap_or_default()
            .iter()
            .map(|p| p.port_no.0)
            .collect();
        if ports != self.ports {
            if !self.ports.is_empty() {
                self.delete(dp, |_| true);
                self.macs.retain(|_, (p, _)| ports.contains(p));
            }
            self.ports = ports;
        }
        let ufids: Vec<Ufid> = self.flows.keys().copied().collect();
        let ops: Vec<Op> = ufids
            .iter()
            .map(|u| {
                Op::Get(FlowGet {
                    key: Vec::new(),
                    ufid: Some(*u),
                })
            })
            .collect();
        let replies = if ops.is_empty() {
            Vec::new()
        } else {
            dp.operate(&ops)
        };
        let mut idle = Vec::new();
        for (u, r) in ufids.iter().zip(replies) {
            let Some(l) = self.flows.get_mut(u) else {
                continue;
            };
            match r {
                Ok(OpReply::Get(f)) => {
                    if f.stats.n_packets != l.n_packets {
                        l.n_packets = f.stats.n_packets;
                        l.active = now;
                        if let Some(m) = self.macs.get_mut(&l.src) {
                            if m.0 == l.in_port {
                                m.1 = now;
                            }
                        }
                    } else if now.duration_since(l.active) >= self.cfg.flow_idle {
                        idle.push(*u);
                    }
                }
                Err(Errno::ENOENT) => {
                    self.flows.remove(u);
                }
                _ => {}
            }
        }
        if !idle.is_empty() {
            self.delete(dp, |_| false);
            let ops: Vec<Op> = idle
                .iter()
                .map(|u| {
                    Op::Del(FlowDel {
                        key: Vec::new(),
                        ufid: Some(*u),
                        want_stats: false,
                    })
                })
                .collect();
            let _ = dp.operate(&ops);
            for u in idle {
                self.flows.remove(&u);
            }
        }
        let age = self.cfg.mac_age;
        self.macs.retain(|_, (_, t)| now.duration_since(*t) < age);
        // Give back what a flood of addresses or flows took.
        if self.macs.capacity() > 4 * self.macs.len().max(64) {
            self.macs.shrink_to_fit();
        }
        if self.flows.capacity() > 4 * self.flows.len().max(64) {
            self.flows.shrink_to_fit();
        }
    }
}

/// A UFID for a learned flow: the key's UFID, varied by the mask so that a
/// megaflow and an exact flow of the same key differ.
fn fresh_ufid(key: &[KeyAttr], mask: Option<&[KeyAttr]>) -> u128 {
    match mask {
        // The masked part only: packets sharing the megaflow share its UFID.
        Some(m) => {
            let masked: Vec<KeyAttr> = key
                .iter()
                .filter(|a| m.iter().any(|x| x.ty() == a.ty()))
                .cloned()
                .collect();
            dpif::ufid::from_key(&masked).0 ^ 0x6c65_6172_6e00
        }
        None => dpif::ufid::from_key(key).0,
    }
}
