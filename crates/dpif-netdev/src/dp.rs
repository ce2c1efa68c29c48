//! The userspace datapath's control plane: ports, the flow table, upcall
//! queues and statistics, behind the [`dpif::Provider`] contract.
//!
//! # Locking
//!
//! - `ports` (a `RwLock`) and `flows` (a `Mutex`) are held only by control
//!   calls (port add/del, flow put/del/get/dump...), never by poll threads
//!   while forwarding.
//! - Poll threads own their lookup tables; the control plane sends them
//!   [`Update`]s. A flow is looked up by packets only through those tables,
//!   so flow-table reads on the fast path never block on writers.
//! - Counters are atomics updated once per batch.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use dpif::{
    DpStats, DpifFlow, DpifPort, Errno, Execute, FlowDel, FlowDump, FlowDumpThread, FlowGet,
    FlowPut, FlowStats, ListenMask, Op, OpReply, PortSpec, PortStats, Provider, Timeout,
};
use odp::flow::Flow;
use odp::key::{KeyAttr, PortNo, Ufid};
use odp::nl::Mode;

use crate::flow::{DpFlow, StoredMatch};
use crate::flowkey::FlowKey;
use crate::pmd::{PmdHandle, Update};
use crate::port::{netdev_kind, open_netdev, Port};
use crate::upcall::{UpcallQueues, DEFAULT_QUEUE_LEN};

/// One more than the largest port number.
pub const MAX_PORTS: u32 = 65536;
/// Most flows a datapath holds.
pub const MAX_FLOWS: usize = 4_000_000;
/// Most port changes remembered for `port_poll` before it reports ENOBUFS.
const MAX_PORT_CHANGES: usize = 256;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A cheap hasher for the flow table's maps (UFIDs are already hashes;
/// matches are a pointer and a few words): the word hash of the
/// classifier, seeded per map. SipHash made inserting a flow (and
/// rehashing a growing table) several times dearer.
#[derive(Clone, Copy)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            self.0 = crate::flowkey::hash_word(self.0, u64::from_le_bytes(b));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.0 = crate::flowkey::hash_word(
                self.0,
                u64::from_le_bytes(b) ^ (rest.len() as u64) << 59,
            );
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = crate::flowkey::hash_word(self.0, n);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u128(&mut self, n: u128) {
        self.write_u64(n as u64);
        self.write_u64((n >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        crate::flowkey::hash_finish(self.0)
    }
}

/// Builds [`WordHasher`]s with a random seed per map.
#[derive(Clone, Copy)]
struct WordHasherBuilder(u64);

impl Default for WordHasherBuilder {
    fn default() -> Self {
        WordHasherBuilder(std::collections::hash_map::RandomState::new().hash_one(0u64))
    }
}

impl BuildHasher for WordHasherBuilder {
    type Hasher = WordHasher;
    fn build_hasher(&self) -> WordHasher {
        WordHasher(self.0)
    }
}

/// The flow table as the control plane sees it.
#[derive(Default)]
struct FlowTable {
    by_ufid: HashMap<Ufid, Arc<DpFlow>, WordHasherBuilder>,
    /// The flows by match (mask and masked key), to reject duplicate
    /// megaflows.
    by_match: HashSet<ByMatch, WordHasherBuilder>,
    /// The distinct masks, each with the number of flows that use it.
    /// Flows share these `Arc`s, so equal masks are the same pointer.
    masks: HashMap<Arc<FlowKey>, usize, WordHasherBuilder>,
    /// The distinct action lists new flows were made with (most flows of
    /// a switch share a handful: an output per port), each kept once.
    actions: HashSet<SharedActions, WordHasherBuilder>,
}

/// An interned action list, found in [`FlowTable::actions`] by its slice.
#[derive(PartialEq, Eq, Hash)]
struct SharedActions(Arc<Vec<odp::action::Action>>);

impl std::borrow::Borrow<[odp::action::Action]> for SharedActions {
    fn borrow(&self) -> &[odp::action::Action] {
        &self.0
    }
}

/// A flow as a key of [`FlowTable::by_match`]: hashed and compared by its
/// match. Masks are interned, so comparing them is comparing pointers.
struct ByMatch(Arc<DpFlow>);

impl PartialEq for ByMatch {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(self.0.packed_mask(), other.0.packed_mask())
            && self.0.key_words() == other.0.key_words()
    }
}

impl Eq for ByMatch {}

impl Hash for ByMatch {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(self.0.packed_mask()) as usize).hash(state);
        self.0.key_words().hash(state);
    }
}

impl FlowTable {
    /// The interned copy of `mask`, if some flow uses it.
    fn interned_mask(&self, mask: &FlowKey) -> Option<Arc<FlowKey>> {
        self.masks.get_key_value(mask).map(|(m, _)| m.clone())
    }

    /// The shared copy of `actions` (copied now if no flow has them).
    fn interned_actions(
        &mut self,
        actions: &[odp::action::Action],
    ) -> Arc<Vec<odp::action::Action>> {
        if let Some(a) = self.actions.get(actions) {
            return a.0.clone();
        }
        let a = Arc::new(actions.to_vec());
        self.actions.insert(SharedActions(a.clone()));
        a
    }

    /// Adds `flow`, unless a flow with its UFID or its match exists.
    fn insert(&mut self, flow: &Arc<DpFlow>) -> Result<(), Errno> {
        if self.by_ufid.contains_key(&flow.ufid) {
            return Err(Errno::EEXIST);
        }
        if self.by_ufid.len() >= MAX_FLOWS {
            return Err(Errno::EFBIG);
        }
        if !self.by_match.insert(ByMatch(flow.clone())) {
            return Err(Errno::EEXIST);
        }
        self.by_ufid.insert(flow.ufid, flow.clone());
        *self.masks.entry(flow.packed_mask().clone()).or_insert(0) += 1;
        Ok(())
    }

    /// Removes `flow` (which must be in the table).
    fn remove(&mut self, flow: &Arc<DpFlow>) {
        if self.by_ufid.remove(&flow.ufid).is_none() {
            return;
        }
        self.by_match.remove(&ByMatch(flow.clone()));
        // Forget an action list only this flow still had (the set, the
        // flow and `a` hold it). Racing poll threads may briefly hold it
        // too: then it stays interned, which is harmless.
        let a = flow.actions().load_full();
        if Arc::strong_count(&a) <= 3 {
            self.actions.remove(&a[..]);
        }
        if let Some(n) = self.masks.get_mut(&**flow.packed_mask()) {
            *n -= 1;
            if *n == 0 {
                self.masks.remove(&**flow.packed_mask());
            }
        }
    }

    /// Removes every flow, killing each.
    fn clear(&mut self) {
        for f in self.by_ufid.values() {
            f.kill();
        }
        self.by_ufid.clear();
        self.by_match.clear();
        self.masks.clear();
        self.actions.clear();
    }
}

/// A validated put, ready to become a [`DpFlow`] under the table lock.
///
/// Small: the packed key is already reduced to the words its mask
/// touches, and the mask is on the heap (dropped for the table's shared
/// copy when there is one), so that moving it costs nothing.
struct NewFlow {
    ufid: Ufid,
    /// The masked key's words where the mask is nonzero.
    key_words: Box<[u64]>,
    /// The mask, packed.
    mask: Arc<FlowKey>,
    attrs: StoredMatch,
}

impl NewFlow {
    /// The flow, sharing `table`'s copies of its mask and its actions.
    fn build(self, table: &mut FlowTable, actions: &[odp::action::Action]) -> Arc<DpFlow> {
        let mask = table.interned_mask(&self.mask).unwrap_or(self.mask);
        let actions = table.interned_actions(actions);
        DpFlow::with_words(self.ufid, self.key_words, mask, self.attrs, actions)
    }
}

/// Port changes for `port_poll`.
#[derive(Default)]
struct PortChanges {
    names: VecDeque<String>,
    overflow: bool,
}

/// State shared by the control plane and the poll threads.
pub struct Shared {
    /// The datapath's name.
    pub name: String,
    ports: RwLock<BTreeMap<u32, Arc<Port>>>,
    flows: Mutex<FlowTable>,
    /// Upcall queues.
    pub upcalls: UpcallQueues,
    listen: AtomicU8,
    /// Drop IP fragments.
    pub drop_frags: AtomicBool,
    /// Sampling probability (of `u32::MAX`).
    pub sflow_probability: AtomicU32,
    /// Spin instead of blocking when idle.
    pub busy_poll: AtomicBool,
    n_hit: AtomicU64,
    n_missed: AtomicU64,
    n_mask_hit: AtomicU64,
    n_cache_hit: AtomicU64,
    changes: Mutex<PortChanges>,
    changed: Condvar,
    pub(crate) destroyed: AtomicBool,
    /// The connection tracker, shared by the poll threads (see
    /// [`crate::ct`]).
    pub conntrack: Arc<conntrack::Conntrack>,
}

impl Shared {
    /// The current listen mask.
    pub fn listen(&self) -> ListenMask {
        let m = self.listen.load(Ordering::Relaxed);
        ListenMask {
            miss: m & 1 != 0,
            action: m & 2 != 0,
            sample: m & 4 != 0,
        }
    }

    /// The port numbered `no`.
    pub fn port(&self, no: PortNo) -> Option<Arc<Port>> {
        self.ports
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&no.0)
            .cloned()
    }

    /// Adds per-batch counts.
    pub fn count(&self, hit: u64, missed: u64, mask_hit: u64, cache_hit: u64) {
        if hit != 0 {
            self.n_hit.fetch_add(hit, Ordering::Relaxed);
        }
        if missed != 0 {
            self.n_missed.fetch_add(missed, Ordering::Relaxed);
        }
        if mask_hit != 0 {
            self.n_mask_hit.fetch_add(mask_hit, Ordering::Relaxed);
        }
        if cache_hit != 0 {
            self.n_cache_hit.fetch_add(cache_hit, Ordering::Relaxed);
        }
    }

    /// Looks `flow` up in the control plane's table (slow: scans masks).
    /// Used for packets the control plane itself executes.
    pub fn lookup_control(&self, flow: &Flow) -> Option<Arc<DpFlow>> {
        let key = FlowKey::new(flow);
        let flows = lock(&self.flows);
        flows.by_ufid.values().find(|f| f.matches(&key)).cloned()
    }

    fn note_change(&self, name: &str) {
        let mut c = lock(&self.changes);
        if c.names.len() >= MAX_PORT_CHANGES {
            c.overflow = true;
        } else {
            c.names.push_back(name.to_string());
        }
        drop(c);
        self.changed.notify_all();
    }
}

/// A userspace datapath.
pub struct Datapath {
    shared: Arc<Shared>,
    pmds: Mutex<Vec<PmdHandle>>,
}

impl Datapath {
    /// Creates a datapath named `name` with `n_pmds` poll threads and its
    /// local port.
    ///
    /// # Errors
    /// `EINVAL` for an empty name; `ENOMEM`-like errnos if threads cannot start.
    pub fn create(name: &str, n_pmds: usize) -> Result<Arc<Datapath>, Errno> {
        if name.is_empty() || name.len() > 15 || name.contains(['/', '@', ' ']) {
            return Err(Errno::EINVAL);
        }
        let shared = Arc::new(Shared {
            name: name.to_string(),
            ports: RwLock::new(BTreeMap::new()),
            flows: Mutex::new(FlowTable::default()),
            upcalls: UpcallQueues::new(DEFAULT_QUEUE_LEN),
            listen: AtomicU8::new(0),
            drop_frags: AtomicBool::new(false),
            sflow_probability: AtomicU32::new(0),
            busy_poll: AtomicBool::new(false),
            n_hit: AtomicU64::new(0),
            n_missed: AtomicU64::new(0),
            n_mask_hit: AtomicU64::new(0),
            n_cache_hit: AtomicU64::new(0),
            changes: Mutex::new(PortChanges::default()),
            changed: Condvar::new(),
            destroyed: AtomicBool::new(false),
            conntrack: crate::ct::new_tracker(),
        });
        crate::ct::start_sweeper(&shared);
        let mut pmds = Vec::new();
        for id in 0..n_pmds.max(1) {
            pmds.push(PmdHandle::start(id, shared.clone()).map_err(Errno::from)?);
        }
        let dp = Arc::new(Datapath {
            shared,
            pmds: Mutex::new(pmds),
        });
        let local = PortSpec {
            name: name.to_string(),
            port_type: "internal".into(),
            options: vec![],
        };
        dp.add_port(&local, Some(PortNo(0)))?;
        Ok(dp)
    }

    /// The netdev of port `no`, for tests and tools that drive in-memory ports.
    pub fn port_netdev(&self, no: PortNo) -> Option<Arc<dyn netdev::Netdev>> {
        self.shared.port(no).map(|p| p.netdev.clone())
    }

    /// Makes idle poll threads spin instead of blocking.
    pub fn set_busy_poll(&self, busy: bool) {
        self.shared.busy_poll.store(busy, Ordering::Relaxed);
    }

    /// Pins poll thread `i` (of those the datapath was created with) to
    /// CPU `cpu`, as OVS's `pmd-cpu-mask` does; the thread applies it
    /// between batches (a failure is logged there). Returns false if
    /// there is no such thread.
    pub fn pin_pmd(&self, i: usize, cpu: usize) -> bool {
        match lock(&self.pmds).get(i) {
            Some(p) => {
                p.send(Update::Pin(cpu));
                true
            }
            None => false,
        }
    }

    /// The datapath's connection tracker (what the `ct` action runs on).
    pub fn conntrack(&self) -> &conntrack::Conntrack {
        &self.shared.conntrack
    }

    pub(crate) fn alive(&self) -> Result<(), Errno> {
        if self.shared.destroyed.load(Ordering::Acquire) {
            Err(Errno::ENODEV)
        } else {
            Ok(())
        }
    }

    fn broadcast(&self, make: impl Fn() -> Update) {
        for p in lock(&self.pmds).iter() {
            p.send(make());
        }
    }

    fn add_port(&self, spec: &PortSpec, want: Option<PortNo>) -> Result<PortNo, Errno> {
        self.alive()?;
        let port_type = if spec.port_type.is_empty() {
            "system"
        } else {
            spec.port_type.as_str()
        };
        let kind = match netdev_kind(port_type) {
            Some(k) => k,
            // Known port types of other datapaths that this one cannot open yet.
            None if matches!(
                port_type,
                "system" | "tap" | "afxdp" | "vxlan" | "geneve" | "gre"
            ) =>
            {
                return Err(Errno::EOPNOTSUPP)
            }
            None => return Err(Errno::EINVAL),
        };
        if spec.name.is_empty() {
            return Err(Errno::EINVAL);
        }
        let mut ports = self
            .shared
            .ports
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if ports.values().any(|p| p.name == spec.name) {
            return Err(Errno::EEXIST);
        }
        let no = match want {
            Some(n) if n.0 >= MAX_PORTS => return Err(Errno::EINVAL),
            Some(n) if ports.contains_key(&n.0) => return Err(Errno::EBUSY),
            Some(n) => n,
            None => PortNo(
                (1..MAX_PORTS)
                    .find(|n| !ports.contains_key(n))
                    .ok_or(Errno::EFBIG)?,
            ),
        };
        let netdev = open_netdev(kind, &spec.name, &spec.options).map_err(|e| {
            log::warn!("{}: cannot open {}: {e}", self.shared.name, spec.name);
            match e.kind() {
                std::io::ErrorKind::NotFound => Errno::ENODEV,
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData => Errno::EINVAL,
                std::io::ErrorKind::Unsupported => Errno::EOPNOTSUPP,
                std::io::ErrorKind::PermissionDenied => Errno::EPERM,
                _ => Errno::from(e),
            }
        })?;
        let port = Arc::new(Port {
            no,
            name: spec.name.clone(),
            port_type: port_type.to_string(),
            netdev,
        });
        ports.insert(no.0, port.clone());
        drop(ports);
        // Receive queues: all on one poll thread per port, spread by number.
        let pmds = lock(&self.pmds);
        if !pmds.is_empty() {
            pmds[no.0 as usize % pmds.len()].send(Update::AddPort(port));
        }
        drop(pmds);
        self.shared.note_change(&spec.name);
        Ok(no)
    }

    /// Builds a flow entry from a put, checking everything the contract
    /// requires (EINVAL on any failure).
    ///
    /// A key that is the canonical encoding of its flow (what this
    /// datapath's upcalls carry, and what `flow_to_key` makes) obeys the
    /// kernel's rules by construction; any other goes through the strict
    /// netlink decoder, which applies them.
    fn make_flow(&self, put: &FlowPut, ufid: Ufid) -> Result<NewFlow, Errno> {
        let parms = odp::convert::KeyParms::all();
        let canonical = match odp::convert::key_to_flow(&put.key) {
            Ok((flow, odp::Fitness::Perfect)) => {
                (odp::convert::flow_to_key(&flow, &parms) == put.key).then_some(flow)
            }
            _ => None,
        };
        // The key as the strict decoder reads it (the mask is decoded
        // against it).
        let mut decoded = None;
        let (flow, key_nl, compact) = match canonical {
            Some(flow) => (flow, None, true),
            None => {
                let mut w = nl::Writer::with_buffer(Vec::with_capacity(256));
                odp::nl::key::emit_keys(&put.key, &mut w);
                let (key, _) =
                    odp::nl::key::decode_keys(w.as_bytes(), Mode::Strict).map_err(|e| {
                        log::debug!("{}: bad flow key: {e}", self.shared.name);
                        Errno::EINVAL
                    })?;
                let (flow, fitness) = odp::convert::key_to_flow(&key).map_err(|_| Errno::EINVAL)?;
                if fitness != odp::Fitness::Perfect {
                    return Err(Errno::EINVAL);
                }
                // The attributes are kept in their netlink form when that
                // decodes back to what the client gave (it nearly always
                // does).
                let compact = key == put.key;
                decoded = Some(key);
                (flow, Some(w.into_bytes()), compact)
            }
        };
        let key_packed = FlowKey::new(&flow);
        let (mask_nl, mask_flow) = match &put.mask {
            Some(mask) => {
                let mut mw = nl::Writer::with_buffer(Vec::with_capacity(256));
                odp::nl::key::emit_keys(mask, &mut mw);
                let key = decoded.as_deref().unwrap_or(&put.key);
                let mask = odp::nl::key::decode_mask(mw.as_bytes(), key, Mode::Strict)
                    .map_err(|_| Errno::EINVAL)?;
                let (m, _) = odp::convert::key_to_mask(&mask, &flow).map_err(|_| Errno::EINVAL)?;
                (Some((mw.into_bytes(), mask)), m)
            }
            None => (None, odp::convert::exact_mask_for_packet(&flow)),
        };
        if !put.key.iter().any(|a| matches!(a, KeyAttr::InPort(_))) || mask_flow.in_port != u32::MAX
        {
            return Err(Errno::EINVAL);
        }
        if self.shared.port(PortNo(flow.in_port)).is_none() {
            return Err(Errno::EINVAL);
        }
        check_supported(&put.actions)?;
        check_ct(&self.shared.conntrack, &put.actions, &flow)?;
        odp::execute::validate(&put.actions, &flow, &mask_flow).map_err(|e| {
            log::debug!(
                "{}: flow actions may not be safe on all matching packets: {e}",
                self.shared.name
            );
            Errno::EINVAL
        })?;
        let mask_packed = FlowKey::new(&mask_flow);
        let key_bytes = |nl: Option<Vec<u8>>| {
            nl.unwrap_or_else(|| {
                let mut w = nl::Writer::with_buffer(Vec::with_capacity(128));
                odp::nl::key::emit_keys(&put.key, &mut w);
                w.into_bytes()
            })
        };
        let attrs = match (compact, mask_nl) {
            (false, mask) => {
                let mask = match mask {
                    Some((_, attrs)) => attrs,
                    None => odp::convert::flow_to_mask(&mask_flow, &flow, &parms),
                };
                StoredMatch::List(Box::new((put.key.clone(), mask)))
            }
            (true, Some((mask_bytes, _))) => {
                let mut b = key_bytes(key_nl);
                let key_len = b.len() as u32;
                b.extend_from_slice(&mask_bytes);
                StoredMatch::Nl(b.into_boxed_slice(), key_len)
            }
            (true, None) => {
                // Derived again from the packed, masked flow when read:
                // only if that gives back exactly these attributes.
                // Masking that changes nothing gives the same attributes.
                let masked = key_packed.and(&mask_packed);
                if key_nl.is_none()
                    && (masked == key_packed
                        || odp::convert::flow_to_key(&masked.to_flow(), &parms) == put.key)
                {
                    StoredMatch::Derived
                } else {
                    StoredMatch::NlExact(key_bytes(key_nl).into_boxed_slice())
                }
            }
        };
        Ok(NewFlow {
            ufid,
            key_words: crate::flow::masked_words(&key_packed, &mask_packed),
            mask: Arc::new(mask_packed),
            attrs,
        })
    }

    /// Sends flows added by puts to the poll threads, in one message each.
    fn send_adds(&self, adds: &mut Vec<Arc<DpFlow>>) {
        if adds.is_empty() {
            return;
        }
        let pmds = lock(&self.pmds);
        if let Some((last, rest)) = pmds.split_last() {
            for p in rest {
                p.send(Update::AddFlows(adds.clone()));
            }
            last.send(Update::AddFlows(std::mem::take(adds)));
        }
        adds.clear();
    }

    /// A put; a new flow is appended to `adds` for the caller to send to
    /// the poll threads with [`Datapath::send_adds`] (once per batch of
    /// operations, rather than one message and wake-up per flow).
    fn flow_put(
        &self,
        put: &FlowPut,
        adds: &mut Vec<Arc<DpFlow>>,
    ) -> Result<Option<FlowStats>, Errno> {
        self.alive()?;
        let ufid = put.ufid.unwrap_or_else(|| dpif::ufid::from_key(&put.key));
        let table = lock(&self.shared.flows);
        if let Some(existing) = table.by_ufid.get(&ufid).cloned() {
            if !put.flags.modify {
                return Err(Errno::EEXIST);
            }
            // Validate the new actions against the existing match.
            check_supported(&put.actions)?;
            check_ct(&self.shared.conntrack, &put.actions, &existing.flow())?;
            odp::execute::validate(&put.actions, &existing.flow(), &existing.mask_flow())
                .map_err(|_| Errno::EINVAL)?;
            let old = if put.flags.zero_stats {
                existing.stats().take()
            } else {
                existing.stats().get()
            };
            existing.set_actions(Arc::new(put.actions.clone()));
            return Ok(put.want_stats.then_some(old));
        }
        if !put.flags.create {
            return Err(Errno::ENOENT);
        }
        drop(table);
        let new = self.make_flow(put, ufid)?;
        let mut table = lock(&self.shared.flows);
        let flow = new.build(&mut table, &put.actions);
        table.insert(&flow)?;
        drop(table);
        adds.push(flow);
        Ok(None)
    }

    fn find(&self, key: &[KeyAttr], ufid: Option<Ufid>) -> Result<Arc<DpFlow>, Errno> {
        let ufid = match ufid {
            Some(u) => u,
            None => {
                if key.is_empty() {
                    return Err(Errno::EINVAL);
                }
                dpif::ufid::from_key(key)
            }
        };
        lock(&self.shared.flows)
            .by_ufid
            .get(&ufid)
            .cloned()
            .ok_or(Errno::ENOENT)
    }

    fn flow_del(&self, del: &FlowDel) -> Result<Option<FlowStats>, Errno> {
        self.alive()?;
        let f = self.find(&del.key, del.ufid)?;
        let mut table = lock(&self.shared.flows);
        table.remove(&f);
        drop(table);
        f.kill();
        self.broadcast(|| Update::DelFlow(f.clone()));
        Ok(del.want_stats.then(|| f.stats().get()))
    }

    fn flow_get(&self, get: &FlowGet) -> Result<DpifFlow, Errno> {
        self.alive()?;
        let f = self.find(&get.key, get.ufid)?;
        Ok(to_dpif_flow(&f, false))
    }

    fn execute(&self, x: &Execute) -> Result<(), Errno> {
        self.alive()?;
        let mut md = Flow::default();
        let mut have_in_port = false;
        let (mut ethernet, mut ethertype) = (false, None);
        for a in &x.metadata {
            match a {
                KeyAttr::InPort(p) => {
                    md.in_port = *p;
                    have_in_port = true;
                }
                KeyAttr::Priority(v) => md.skb_priority = *v,
                KeyAttr::SkbMark(v) => md.pkt_mark = *v,
                KeyAttr::RecircId(v) => md.recirc_id = *v,
                KeyAttr::DpHash(v) => md.dp_hash = *v,
                // Conntrack metadata, as the kernel restores it
                // (`ovs_ct_fill_key`'s fields): a packet that went through
                // `ct` before its upcall finds its connection again.
                KeyAttr::CtState(v) => md.ct_state = (*v & 0xff) as u8,
                KeyAttr::CtZone(v) => md.ct_zone = *v,
                KeyAttr::CtMark(v) => md.ct_mark = *v,
                KeyAttr::CtLabels(v) => md.ct_label = u128::from_le_bytes(*v),
                KeyAttr::CtOrigTupleIpv4(t) => {
                    md.ct_nw_src = u32::from(t.src);
                    md.ct_nw_dst = u32::from(t.dst);
                    md.ct_nw_proto = t.proto;
                    md.ct_tp_src = t.src_port;
                    md.ct_tp_dst = t.dst_port;
                }
                KeyAttr::CtOrigTupleIpv6(t) => {
                    md.ct_ipv6_src = u128::from(t.src);
                    md.ct_ipv6_dst = u128::from(t.dst);
                    md.ct_nw_proto = t.proto;
                    md.ct_tp_src = t.src_port;
                    md.ct_tp_dst = t.dst_port;
                }
                KeyAttr::Ethernet(_) => ethernet = true,
                KeyAttr::Ethertype(t) => ethertype = Some(*t),
                _ => {}
            }
        }
        // An EtherType without Ethernet addresses: a packet without
        // Ethernet header, of that type (the kernel's
        // metadata_from_nlattrs, OVS's odp_key_from_dp_packet).
        if let (false, Some(t)) = (ethernet, ethertype) {
            md.packet_type = (1 << 16) | u32::from(t);
        }
        if !have_in_port || x.packet.len() < 14 {
            return Err(Errno::EINVAL);
        }
        check_supported(&x.actions)?;
        // Actions run on any packet: check them against the packet's own flow.
        let flow = odp::extract::extract(&x.packet, &md);
        check_ct(&self.shared.conntrack, &x.actions, &flow)?;
        let exact = odp::convert::exact_mask_for_packet(&flow);
        odp::execute::validate(&x.actions, &flow, &exact).map_err(|_| Errno::EINVAL)?;
        crate::pipeline::execute_one(&self.shared, &x.packet, md, x.mtu, &x.actions);
        Ok(())
    }
}

/// `EINVAL` for `ct` actions the kernel would refuse at install: on a
/// flow that is not IP (`ct` needs an L3 protocol), or naming a helper or
/// timeout policy the tracker does not have.
fn check_ct(
    ct: &conntrack::Conntrack,
    actions: &[odp::action::Action],
    flow: &odp::flow::Flow,
) -> Result<(), Errno> {
    use odp::action::Action;
    for a in actions {
        match a {
            Action::Ct(c) => {
                if flow.dl_type != 0x0800 && flow.dl_type != 0x86dd {
                    return Err(Errno::EINVAL);
                }
                ct.action(c).map_err(|_| Errno::EINVAL)?;
            }
            Action::Clone(l) | Action::Sample { actions: l, .. } | Action::DecTtl(l) => {
                check_ct(ct, l, flow)?
            }
            Action::CheckPktLen { gt, le, .. } => {
                check_ct(ct, gt, flow)?;
                check_ct(ct, le, flow)?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// `EOPNOTSUPP` for actions this datapath does not implement yet
/// (conntrack, meters, tunnels, NSH field sets...), rather than dropping the packets
/// they would apply to.
fn check_supported(actions: &[odp::action::Action]) -> Result<(), Errno> {
    match odp::execute::first_unsupported(actions) {
        Some(a) => {
            log::debug!("unsupported action {a}");
            Err(Errno::EOPNOTSUPP)
        }
        None => Ok(()),
    }
}

fn to_dpif_flow(f: &DpFlow, terse: bool) -> DpifFlow {
    if terse {
        return DpifFlow {
            ufid: f.ufid,
            ufid_present: true,
            stats: f.stats().get(),
            ..Default::default()
        };
    }
    DpifFlow {
        key: f.key_attrs(),
        mask: f.mask_attrs(),
        actions: (**f.actions().load()).clone(),
        ufid: f.ufid,
        ufid_present: true,
        stats: f.stats().get(),
    }
}

/// A flow dump that owns its snapshot of the table, for a server that
/// resumes it as its client reads ([`Datapath::flow_dump_owned`]). Flows
/// deleted after the snapshot are skipped.
pub struct OwnedFlowDump {
    flows: std::vec::IntoIter<Arc<DpFlow>>,
    terse: bool,
}

impl Iterator for OwnedFlowDump {
    type Item = DpifFlow;

    fn next(&mut self) -> Option<DpifFlow> {
        self.flows
            .by_ref()
            .find(|f| f.is_alive())
            .map(|f| to_dpif_flow(&f, self.terse))
    }
}

impl Datapath {
    /// Starts a dump that owns its snapshot (see [`OwnedFlowDump`]);
    /// `terse` leaves out keys, masks and actions.
    ///
    /// # Errors
    /// `ENODEV` once the datapath is destroyed.
    pub fn flow_dump_owned(&self, terse: bool) -> Result<OwnedFlowDump, Errno> {
        self.alive()?;
        let flows: Vec<Arc<DpFlow>> = lock(&self.shared.flows).by_ufid.values().cloned().collect();
        Ok(OwnedFlowDump {
            flows: flows.into_iter(),
            terse,
        })
    }
}

struct Dump {
    flows: Vec<Arc<DpFlow>>,
    next: AtomicU64,
    terse: bool,
}

struct DumpCursor<'a> {
    dump: &'a Dump,
}

impl FlowDump for Dump {
    fn cursor(&self) -> Box<dyn FlowDumpThread + '_> {
        Box::new(DumpCursor { dump: self })
    }
}

impl FlowDumpThread for DumpCursor<'_> {
    fn next(&mut self, out: &mut Vec<DpifFlow>, max: usize) -> Result<usize, Errno> {
        let mut n = 0;
        while n < max {
            let i = self.dump.next.fetch_add(1, Ordering::Relaxed) as usize;
            let Some(f) = self.dump.flows.get(i) else {
                break;
            };
            // Flows deleted since the dump started are skipped.
            if f.is_alive() {
                out.push(to_dpif_flow(f, self.dump.terse));
                n += 1;
            }
        }
        Ok(n)
    }
}

impl Provider for Datapath {
    fn name(&self) -> &str {
        &self.shared.name
    }

    fn type_name(&self) -> &'static str {
        "netdev"
    }

    fn destroy(&self) -> Result<(), Errno> {
        if self.shared.destroyed.swap(true, Ordering::AcqRel) {
            return Err(Errno::ENODEV);
        }
        let mut pmds = lock(&self.pmds);
        for p in pmds.iter_mut() {
            p.stop();
        }
        pmds.clear();
        drop(pmds);
        lock(&self.shared.flows).clear();
        self.shared
            .ports
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.shared.upcalls.purge();
        registry()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.shared.name);
        Ok(())
    }

    fn get_stats(&self) -> Result<DpStats, Errno> {
        self.alive()?;
        let s = &self.shared;
        let flows = lock(&s.flows);
        let n_flows = flows.by_ufid.len() as u64;
        let n_masks = flows.masks.len() as u32;
        drop(flows);
        Ok(DpStats {
            n_hit: s.n_hit.load(Ordering::Relaxed),
            n_missed: s.n_missed.load(Ordering::Relaxed),
            n_lost: s.upcalls.lost(),
            n_flows,
            n_mask_hit: s.n_mask_hit.load(Ordering::Relaxed),
            n_masks,
            n_cache_hit: s.n_cache_hit.load(Ordering::Relaxed),
        })
    }

    fn get_drop_frags(&self) -> Result<bool, Errno> {
        self.alive()?;
        Ok(self.shared.drop_frags.load(Ordering::Relaxed))
    }

    fn set_drop_frags(&self, drop_frags: bool) -> Result<(), Errno> {
        self.alive()?;
        self.shared.drop_frags.store(drop_frags, Ordering::Relaxed);
        Ok(())
    }

    fn port_add(&self, spec: &PortSpec, port_no: Option<PortNo>) -> Result<PortNo, Errno> {
        self.add_port(spec, port_no)
    }

    fn port_del(&self, port_no: PortNo) -> Result<(), Errno> {
        self.alive()?;
        if port_no.0 == 0 {
            return Err(Errno::EINVAL);
        }
        let port = self
            .shared
            .ports
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&port_no.0)
            .ok_or(Errno::ENODEV)?;
        self.broadcast(|| Update::DelPort(port_no));
        self.shared.note_change(&port.name);
        Ok(())
    }

    fn port_query_by_number(&self, port_no: PortNo) -> Result<DpifPort, Errno> {
        self.alive()?;
        let p = self.shared.port(port_no).ok_or(Errno::ENODEV)?;
        Ok(DpifPort {
            name: p.name.clone(),
            port_type: p.port_type.clone(),
            port_no: p.no,
        })
    }

    fn port_query_by_name(&self, name: &str) -> Result<DpifPort, Errno> {
        self.alive()?;
        let ports = self
            .shared
            .ports
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let p = ports
            .values()
            .find(|p| p.name == name)
            .ok_or(Errno::ENODEV)?;
        Ok(DpifPort {
            name: p.name.clone(),
            port_type: p.port_type.clone(),
            port_no: p.no,
        })
    }

    fn port_stats(&self, port_no: PortNo) -> Result<PortStats, Errno> {
        self.alive()?;
        let p = self.shared.port(port_no).ok_or(Errno::ENODEV)?;
        let s = p.netdev.stats();
        Ok(PortStats {
            rx_packets: s.rx_packets,
            rx_bytes: s.rx_bytes,
            rx_errors: s.rx_errors,
            rx_dropped: s.rx_dropped,
            tx_packets: s.tx_packets,
            tx_bytes: s.tx_bytes,
            tx_errors: s.tx_errors,
            tx_dropped: s.tx_dropped,
        })
    }

    fn get_max_ports(&self) -> u32 {
        MAX_PORTS
    }

    fn port_dump(&self) -> Result<Vec<DpifPort>, Errno> {
        self.alive()?;
        let ports = self
            .shared
            .ports
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(ports
            .values()
            .map(|p| DpifPort {
                name: p.name.clone(),
                port_type: p.port_type.clone(),
                port_no: p.no,
            })
            .collect())
    }

    fn port_poll(&self) -> Result<Option<String>, Errno> {
        self.alive()?;
        let mut c = lock(&self.shared.changes);
        if c.overflow {
            c.overflow = false;
            c.names.clear();
            return Err(Errno::ENOBUFS);
        }
        Ok(c.names.pop_front())
    }

    fn port_poll_wait(&self, timeout: Timeout) -> bool {
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut c = lock(&self.shared.changes);
        loop {
            if c.overflow || !c.names.is_empty() {
                return true;
            }
            let step = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(l) if !l.is_zero() => l,
                    _ => return false,
                },
                None => Duration::from_secs(3600),
            };
            c = self
                .shared
                .changed
                .wait_timeout(c, step)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    fn flow_flush(&self) -> Result<(), Errno> {
        self.alive()?;
        lock(&self.shared.flows).clear();
        self.broadcast(|| Update::Flush);
        Ok(())
    }

    fn flow_dump(&self, terse: bool) -> Result<Box<dyn FlowDump + '_>, Errno> {
        self.alive()?;
        let flows: Vec<Arc<DpFlow>> = lock(&self.shared.flows).by_ufid.values().cloned().collect();
        Ok(Box::new(Dump {
            flows,
            next: AtomicU64::new(0),
            terse,
        }))
    }

    fn operate(&self, ops: &[Op]) -> Vec<Result<OpReply, Errno>> {
        // New flows reach the poll threads together, before any other
        // operation that could depend on them (a delete, an execute) and
        // before returning.
        let mut adds = Vec::new();
        let replies = ops
            .iter()
            .map(|op| match op {
                Op::Put(p) => self.flow_put(p, &mut adds).map(OpReply::Put),
                Op::Del(d) => {
                    self.send_adds(&mut adds);
                    self.flow_del(d).map(OpReply::Del)
                }
                Op::Get(g) => self.flow_get(g).map(|f| OpReply::Get(Box::new(f))),
                Op::Execute(x) => {
                    self.send_adds(&mut adds);
                    self.execute(x).map(|()| OpReply::Execute)
                }
            })
            .collect();
        self.send_adds(&mut adds);
        replies
    }

    fn recv_set_mask(&self, mask: ListenMask) -> Result<(), Errno> {
        self.alive()?;
        let m = u8::from(mask.miss) | (u8::from(mask.action) << 1) | (u8::from(mask.sample) << 2);
        self.shared.listen.store(m, Ordering::Relaxed);
        Ok(())
    }

    fn recv_get_mask(&self) -> ListenMask {
        self.shared.listen()
    }

    fn handlers_set(&self, n: u32) -> Result<(), Errno> {
        self.alive()?;
        if n == 0 || n > 1024 {
            return Err(Errno::EINVAL);
        }
        self.shared.upcalls.set_handlers(n as usize);
        Ok(())
    }

    fn recv(&self, handler_id: u32) -> Result<Option<dpif::Upcall>, Errno> {
        self.alive()?;
        self.shared.upcalls.pop(handler_id)
    }

    fn recv_wait(&self, handler_id: u32, timeout: Timeout) -> bool {
        self.shared.upcalls.wait(handler_id, timeout)
    }

    fn recv_purge(&self) {
        self.shared.upcalls.purge()
    }

    fn get_sflow_probability(&self) -> Result<u32, Errno> {
        self.alive()?;
        Ok(self.shared.sflow_probability.load(Ordering::Relaxed))
    }

    fn set_sflow_probability(&self, probability: u32) -> Result<(), Errno> {
        self.alive()?;
        self.shared
            .sflow_probability
            .store(probability, Ordering::Relaxed);
        Ok(())
    }

    fn queue_to_priority(&self, queue_id: u32) -> Result<u32, Errno> {
        // As OVS's netdev datapath: queue N is priority N + 1 (0 = none).
        queue_id.checked_add(1).ok_or(Errno::EINVAL)
    }

    // Connection tracking: see crate::ct.
    fn ct_dump(&self, zone: Option<u16>) -> Result<dpif::ct::CtDump, Errno> {
        crate::ct::dump(self, zone)
    }
    fn ct_flush(&self, f: &dpif::ct::CtFlush) -> Result<(), Errno> {
        crate::ct::flush(self, f)
    }
    fn ct_set_maxconns(&self, n: u32) -> Result<(), Errno> {
        crate::ct::set_maxconns(self, n)
    }
    fn ct_get_maxconns(&self) -> Result<u32, Errno> {
        crate::ct::get_maxconns(self)
    }
    fn ct_get_nconns(&self) -> Result<u32, Errno> {
        crate::ct::get_nconns(self)
    }
    fn ct_set_tcp_seq_chk(&self, on: bool) -> Result<(), Errno> {
        crate::ct::set_tcp_seq_chk(self, on)
    }
    fn ct_get_tcp_seq_chk(&self) -> Result<bool, Errno> {
        crate::ct::get_tcp_seq_chk(self)
    }
    fn ct_set_limits(&self, d: Option<u32>, z: &[dpif::ct::CtZoneLimit]) -> Result<(), Errno> {
        crate::ct::set_limits(self, d, z)
    }
    fn ct_get_limits(&self, zones: &[u16]) -> Result<dpif::ct::CtLimits, Errno> {
        crate::ct::get_limits(self, zones)
    }
    fn ct_del_limits(&self, zones: &[u16]) -> Result<(), Errno> {
        crate::ct::del_limits(self, zones)
    }
    fn ct_ipf_set_enabled(&self, v6: bool, on: bool) -> Result<(), Errno> {
        crate::ct::ipf_set_enabled(self, v6, on)
    }
    fn ct_ipf_set_min_frag(&self, v6: bool, min: u32) -> Result<(), Errno> {
        crate::ct::ipf_set_min_frag(self, v6, min)
    }
    fn ct_ipf_set_max_nfrags(&self, n: u32) -> Result<(), Errno> {
        crate::ct::ipf_set_max_nfrags(self, n)
    }
    fn ct_ipf_get_status(&self) -> Result<dpif::ct::IpfStatus, Errno> {
        crate::ct::ipf_get_status(self)
    }
    fn ct_set_timeout_policy(&self, tp: &dpif::ct::CtTimeoutPolicy) -> Result<(), Errno> {
        crate::ct::set_timeout_policy(self, tp)
    }
    fn ct_get_timeout_policy(&self, id: u32) -> Result<dpif::ct::CtTimeoutPolicy, Errno> {
        crate::ct::get_timeout_policy(self, id)
    }
    fn ct_del_timeout_policy(&self, id: u32) -> Result<(), Errno> {
        crate::ct::del_timeout_policy(self, id)
    }
    fn ct_timeout_policy_name(&self, id: u32, _v6: bool, _proto: u8) -> Result<String, Errno> {
        Ok(id.to_string())
    }
}

impl Drop for Datapath {
    fn drop(&mut self) {
        for p in lock(&self.pmds).iter_mut() {
            p.stop();
        }
    }
}

/// The process's userspace datapaths, by name.
fn registry() -> &'static Mutex<HashMap<String, Arc<Datapath>>> {
    static DPS: std::sync::OnceLock<Mutex<HashMap<String, Arc<Datapath>>>> =
        std::sync::OnceLock::new();
    DPS.get_or_init(Default::default)
}

/// The `netdev` provider type: userspace datapaths living in this process.
#[derive(Debug, Default)]
pub struct NetdevClass {
    /// Poll threads per new datapath (at least 1).
    pub n_pmds: usize,
}

impl NetdevClass {
    /// Opens (or creates) the datapath `name`, returning the concrete type.
    ///
    /// # Errors
    /// As [`dpif::DpifClass::open`].
    pub fn open_dp(&self, name: &str, create: bool) -> Result<Arc<Datapath>, Errno> {
        let mut dps = registry().lock().unwrap_or_else(PoisonError::into_inner);
        match (dps.get(name), create) {
            (Some(_), true) => Err(Errno::EEXIST),
            (Some(dp), false) => Ok(dp.clone()),
            (None, false) => Err(Errno::ENODEV),
            (None, true) => {
                let dp = Datapath::create(name, self.n_pmds.max(1))?;
                dps.insert(name.to_string(), dp.clone());
                Ok(dp)
            }
        }
    }
}

impl dpif::DpifClass for NetdevClass {
    fn type_name(&self) -> &'static str {
        "netdev"
    }

    fn enumerate(&self) -> Result<Vec<String>, Errno> {
        let dps = registry().lock().unwrap_or_else(PoisonError::into_inner);
        let mut names: Vec<String> = dps.keys().cloned().collect();
        names.sort();
        Ok(names)
    }

    fn open(&self, name: &str, create: bool) -> Result<Arc<dyn Provider>, Errno> {
        Ok(self.open_dp(name, create)?)
    }
}
