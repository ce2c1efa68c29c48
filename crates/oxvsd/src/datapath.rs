//! `ovs_datapath`: the datapaths the daemon hosts, as the kernel's
//! `ovs_dp_cmd_*` create, change, report and delete them.
//!
//! A datapath made by a client belongs to its clients: its misses go to the
//! port ids its ports name (or are counted lost), and the daemon never
//! deletes its flows. Only the datapath of `oxvsd --port` has the built-in
//! learning switch ([`DpEntry::learner`]).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

use dpif::{Errno, ListenMask, Provider};
use dpif_netdev::Datapath;
use dpif_netlink::abi::*;
use nl::errno;
use nl::msg::{MsgBuilder, NLM_F_MULTI};
use nl::policy::Attrs;

use crate::conn::Conn;
use crate::dispatch::{admin, Fail, Handled, Outcome, Req};
use crate::dump::MsgDump;
use crate::families::{FAM_DP, GROUP_DP};
use crate::learn::Learner;
use crate::policy::{self, valid_name};
use crate::server::State;
use crate::{lock, read, write};

/// The user features the daemon supports. `OVS_DP_F_TC_RECIRC_SHARING`
/// needs TC, which a userspace datapath does not have: refused, as by a
/// kernel built without `CONFIG_NET_TC_SKB_EXT`.
pub const SUPPORTED_FEATURES: u32 =
    OVS_DP_F_UNALIGNED | OVS_DP_F_VPORT_PIDS | OVS_DP_F_DISPATCH_UPCALL_PER_CPU;
/// The kernel's default masks cache size.
const DEFAULT_MASKS_CACHE: u32 = 256;
/// The kernel's largest (`PCPU_MIN_UNIT_SIZE / sizeof(struct mask_cache_entry)`).
const MAX_MASKS_CACHE: u32 = 4096;

/// A datapath the daemon hosts.
pub struct DpEntry {
    /// Its name.
    pub name: String,
    /// Its handle in `ovs_header.dp_ifindex`.
    pub ifindex: i32,
    /// The datapath.
    pub dp: Arc<Datapath>,
    user_features: AtomicU32,
    masks_cache_size: AtomicU32,
    per_cpu_pids: RwLock<Arc<[u32]>>,
    port_pids: RwLock<HashMap<u32, Arc<[u32]>>>,
    /// The learning switch, for the datapath of `oxvsd --port` only.
    pub learner: Option<Mutex<Learner>>,
    /// Upcalls dropped by the daemon (no socket with the port id, or its
    /// queue full): counted lost with the datapath's own.
    pub(crate) lost: AtomicU64,
    /// Set while the upcall thread holds upcalls it took.
    pub(crate) busy: AtomicBool,
    pub(crate) stop: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl DpEntry {
    /// Its user features.
    pub fn user_features(&self) -> u32 {
        self.user_features.load(Ordering::Relaxed)
    }

    /// The per-CPU upcall port ids, when upcalls are dispatched per CPU.
    pub(crate) fn per_cpu_pids(&self) -> Option<Arc<[u32]>> {
        if self.user_features() & OVS_DP_F_DISPATCH_UPCALL_PER_CPU == 0 {
            return None;
        }
        let p = read(&self.per_cpu_pids).clone();
        (!p.is_empty()).then_some(p)
    }

    /// The upcall port ids of port `port_no`.
    pub(crate) fn port_pids(&self, port_no: u32) -> Option<Arc<[u32]>> {
        read(&self.port_pids).get(&port_no).cloned()
    }

    /// Sets the upcall port ids of port `port_no`.
    pub(crate) fn set_port_pids(&self, port_no: u32, pids: Arc<[u32]>) {
        write(&self.port_pids).insert(port_no, pids);
    }

    /// Forgets port `port_no`'s upcall port ids.
    pub(crate) fn forget_port(&self, port_no: u32) {
        write(&self.port_pids).remove(&port_no);
    }

    /// Adds every port id that upcalls may go to.
    pub(crate) fn upcall_pids(&self, out: &mut HashSet<u32>) {
        out.extend(read(&self.per_cpu_pids).iter().copied());
        for p in read(&self.port_pids).values() {
            out.extend(p.iter().copied());
        }
    }

    /// The datapath as `ovs_dp_cmd_fill_info` reports it, as command `cmd`.
    pub(crate) fn msg(&self, cmd: u8, flags: u16, seq: u32, pid: u32) -> Vec<u8> {
        let mut b = MsgBuilder::genl(FAM_DP, flags, cmd, OVS_DATAPATH_VERSION)
            .seq(seq)
            .pid(pid);
        b.header_bytes(&self.ifindex.to_ne_bytes());
        let w = b.attrs();
        w.put_string(OVS_DP_ATTR_NAME, &self.name);
        let s = self.dp.get_stats().unwrap_or_default();
        let lost = s.n_lost + self.lost.load(Ordering::Relaxed);
        let st = w.put_zeroed(OVS_DP_ATTR_STATS, 32);
        for (i, v) in [s.n_hit, s.n_missed, lost, s.n_flows].iter().enumerate() {
            st[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
        }
        // struct ovs_dp_megaflow_stats: n_mask_hit, n_masks, pad0,
        // n_cache_hit, pad1.
        let mf = w.put_zeroed(OVS_DP_ATTR_MEGAFLOW_STATS, 32);
        mf[0..8].copy_from_slice(&s.n_mask_hit.to_ne_bytes());
        mf[8..12].copy_from_slice(&s.n_masks.to_ne_bytes());
        mf[16..24].copy_from_slice(&s.n_cache_hit.to_ne_bytes());
        w.put_u32(OVS_DP_ATTR_USER_FEATURES, self.user_features());
        w.put_u32(
            OVS_DP_ATTR_MASKS_CACHE_SIZE,
            self.masks_cache_size.load(Ordering::Relaxed),
        );
        if let Some(p) = self.per_cpu_pids() {
            let b: Vec<u8> = p.iter().flat_map(|x| x.to_ne_bytes()).collect();
            w.put(OVS_DP_ATTR_PER_CPU_PIDS, &b);
        }
        if let Ok(df) = self.dp.get_drop_frags() {
            w.put_u32(OXVS_DP_ATTR_DROP_FRAGS, u32::from(df));
        }
        if let Ok(p) = self.dp.get_sflow_probability() {
            w.put_u32(OXVS_DP_ATTR_SFLOW_PROBABILITY, p);
        }
        crate::conntrack::put_dp_attrs(&self.dp, w);
        b.finish().unwrap_or_default()
    }

    /// Applies the settings of a `NEW` or `SET` (`ovs_dp_change`).
    fn change(&self, a: &Attrs<'_>) -> Result<(), Fail> {
        if let Some(f) = a.u32(OVS_DP_ATTR_USER_FEATURES) {
            check_features(f)?;
            self.user_features.store(f, Ordering::Relaxed);
        }
        if let Some(n) = a.u32(OVS_DP_ATTR_MASKS_CACHE_SIZE) {
            // Not a power of two: ovs_flow_tbl_masks_cache_resize's EINVAL.
            if n > MAX_MASKS_CACHE || (n != 0 && !n.is_power_of_two()) {
                return Err(Fail::msg(errno::EINVAL, "invalid masks cache size"));
            }
            self.masks_cache_size.store(n, Ordering::Relaxed);
        }
        if self.user_features() & OVS_DP_F_DISPATCH_UPCALL_PER_CPU != 0 {
            if let Some(p) = a.get(OVS_DP_ATTR_PER_CPU_PIDS) {
                if p.is_empty() || p.len() % 4 != 0 {
                    return Err(Fail::new(errno::EINVAL));
                }
                *write(&self.per_cpu_pids) = a
                    .u32s(OVS_DP_ATTR_PER_CPU_PIDS)
                    .into_iter()
                    .flatten()
                    .collect();
            }
        }
        if let Some(df) = a.u32(OXVS_DP_ATTR_DROP_FRAGS) {
            self.dp.set_drop_frags(df != 0)?;
        }
        if let Some(p) = a.u32(OXVS_DP_ATTR_SFLOW_PROBABILITY) {
            self.dp.set_sflow_probability(p)?;
        }
        crate::conntrack::change(&self.dp, a)
    }
}

fn check_features(f: u32) -> Result<(), Fail> {
    if f & !SUPPORTED_FEATURES != 0 {
        return Err(Fail::msg(
            errno::EOPNOTSUPP,
            "unsupported datapath user features",
        ));
    }
    Ok(())
}

impl State {
    /// Creates datapath `name` with its local port and starts its upcall
    /// thread. `learning` gives it the built-in learning switch (for
    /// `oxvsd --port`); otherwise it belongs to its clients.
    ///
    /// # Errors
    /// `EEXIST` if it exists; `EINVAL` for a bad name; `ENOSPC` past the
    /// daemon's datapath limit.
    pub fn create_dp(
        self: &Arc<State>,
        name: &str,
        local_pid: u32,
        learning: bool,
    ) -> Result<Arc<DpEntry>, Errno> {
        if !valid_name(name) {
            return Err(Errno::EINVAL);
        }
        let _g = lock(&self.config_lock);
        if self.datapath(name).is_some() {
            return Err(Errno::EEXIST);
        }
        if read(&self.dps).len() >= self.cfg.max_datapaths {
            return Err(Errno::ENOSPC);
        }
        let dp = self.class.open_dp(name, true)?;
        dp.recv_set_mask(ListenMask::ALL)?;
        dp.handlers_set(1)?;
        let e = Arc::new(DpEntry {
            name: name.to_string(),
            ifindex: self.next_ifindex.fetch_add(1, Ordering::Relaxed),
            dp,
            user_features: AtomicU32::new(0),
            masks_cache_size: AtomicU32::new(DEFAULT_MASKS_CACHE),
            per_cpu_pids: RwLock::new(Arc::from(Vec::new())),
            port_pids: RwLock::new(HashMap::from([(0, Arc::from(vec![local_pid]))])),
            learner: learning.then(|| Mutex::new(Learner::new(self.cfg.learn))),
            lost: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        {
            // What names no datapath applies to every datapath, later ones
            // too (the kernel keeps it per network namespace).
            let tp = lock(&self.ct_timeouts);
            crate::netfilter::apply_timeouts(&tp, &e.dp);
            crate::ct_limit::apply_shared(&lock(&self.ct_limits), &e.dp);
            write(&self.dps).insert(e.ifindex, e.clone());
        }
        let (st, de) = (self.clone(), e.clone());
        match std::thread::Builder::new()
            .name(format!("oxvsd-up-{name}"))
            .spawn(move || st.upcall_loop(&de))
        {
            Ok(t) => *lock(&e.thread) = Some(t),
            Err(_) => {
                let _ = self.destroy_dp(&e);
                return Err(Errno::ENOMEM);
            }
        }
        log::info!("created datapath {name}");
        Ok(e)
    }

    /// Stops a datapath's upcall thread and destroys it.
    pub(crate) fn destroy_dp(&self, d: &DpEntry) -> Result<(), Errno> {
        write(&self.dps).remove(&d.ifindex);
        d.stop.store(true, Ordering::Relaxed);
        if let Some(t) = lock(&d.thread).take() {
            let _ = t.join();
        }
        log::info!("destroyed datapath {}", d.name);
        d.dp.destroy()
    }

    /// The datapath a request names: by `OVS_DP_ATTR_NAME` if present,
    /// else by `dp_ifindex`, as the kernel's `lookup_datapath`.
    pub(crate) fn find_dp(&self, ifindex: i32, name: Option<&str>) -> Result<Arc<DpEntry>, Fail> {
        let found = match name {
            Some(n) => self.datapath(n),
            None => read(&self.dps).get(&ifindex).cloned(),
        };
        found.ok_or_else(|| Fail::new(errno::ENODEV))
    }

    /// Ports of every datapath.
    pub(crate) fn n_ports(&self) -> usize {
        read(&self.dps)
            .values()
            .map(|d| d.dp.port_dump().map_or(0, |p| p.len()))
            .sum()
    }
}

/// Handles an `ovs_datapath` request.
pub fn handle(state: &Arc<State>, conn: &Arc<Conn>, req: &Req<'_>) -> Handled {
    let (ifindex, a) = req.ovs(policy::DATAPATH)?;
    // The kernel's policy gives the masks cache size a range
    // (NLA_POLICY_RANGE, 0 to MAX_MASKS_CACHE), checked with the other
    // attributes before any command runs: ERANGE, whatever the command.
    if a.u32(OVS_DP_ATTR_MASKS_CACHE_SIZE)
        .is_some_and(|n| n > MAX_MASKS_CACHE)
    {
        return Err(Fail::msg(errno::ERANGE, "integer out of range"));
    }
    let (seq, pid) = (req.hdr.seq, conn.pid());
    match req.cmd {
        OVS_DP_CMD_NEW => {
            admin(conn)?;
            let (Some(name), Some(upcall_pid)) =
                (a.string(OVS_DP_ATTR_NAME), a.u32(OVS_DP_ATTR_UPCALL_PID))
            else {
                return Err(Fail::new(errno::EINVAL));
            };
            if let Some(f) = a.u32(OVS_DP_ATTR_USER_FEATURES) {
                check_features(f)?;
            }
            let d = state.create_dp(name, upcall_pid, false)?;
            if let Err(e) = d.change(&a) {
                let _ = state.destroy_dp(&d);
                return Err(e);
            }
            let m = d.msg(OVS_DP_CMD_NEW, 0, seq, pid);
            state.notify(GROUP_DP, &m, pid);
            Ok(reply_if(req.echo(), m))
        }
        OVS_DP_CMD_DEL => {
            admin(conn)?;
            let d = state.find_dp(ifindex, a.string(OVS_DP_ATTR_NAME))?;
            let m = d.msg(OVS_DP_CMD_DEL, 0, seq, pid);
            {
                let _g = lock(&state.config_lock);
                state.destroy_dp(&d)?;
            }
            state.notify(GROUP_DP, &m, pid);
            Ok(reply_if(req.echo(), m))
        }
        OVS_DP_CMD_GET if req.dump() => {
            let dps: Vec<Arc<DpEntry>> = read(&state.dps).values().cloned().collect();
            let msgs = dps
                .into_iter()
                .map(move |d| d.msg(OVS_DP_CMD_GET, NLM_F_MULTI, seq, pid));
            Ok(Outcome::Dump(Box::new(MsgDump::new(msgs, seq, pid))))
        }
        OVS_DP_CMD_GET => {
            let d = state.find_dp(ifindex, a.string(OVS_DP_ATTR_NAME))?;
            state.settle(&d);
            Ok(Outcome::Reply(d.msg(OVS_DP_CMD_GET, 0, seq, pid)))
        }
        OVS_DP_CMD_SET => {
            admin(conn)?;
            let d = state.find_dp(ifindex, a.string(OVS_DP_ATTR_NAME))?;
            d.change(&a)?;
            let m = d.msg(OVS_DP_CMD_SET, 0, seq, pid);
            state.notify(GROUP_DP, &m, pid);
            Ok(reply_if(req.echo(), m))
        }
        _ => Err(Fail::new(errno::EOPNOTSUPP)),
    }
}

/// A reply when the request asked for its object (`NLM_F_ECHO`).
pub(crate) fn reply_if(echo: bool, m: Vec<u8>) -> Outcome {
    if echo {
        Outcome::Reply(m)
    } else {
        Outcome::Done
    }
}
