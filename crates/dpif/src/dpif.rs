//! [`Dpif`]: the handle every caller uses, whatever the provider.
//!
//! It does once, for every provider, what OVS's `lib/dpif.c` does: per-op
//! counters, logging (debug on success; warn on failure, except for errnos
//! that callers expect, such as `ENODEV` from a port query or `EEXIST` from a
//! create-only put; rate-limited), and a check that providers keep to the
//! contract (a synchronous call that returns `EAGAIN` or `EINPROGRESS` is
//! reported as `EPROTO`). Outputs exist only on success, so callers never
//! see half-filled results.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use odp::key::{PortNo, Ufid};

use crate::ct;
use crate::errno::Errno;
use crate::provider::{FlowDump, Provider};
use crate::types::*;

/// Operation counters of one handle, like OVS's coverage counters.
#[derive(Debug, Default)]
pub struct Counters {
    /// Flow puts.
    pub flow_put: AtomicU64,
    /// Flow deletes.
    pub flow_del: AtomicU64,
    /// Flow gets.
    pub flow_get: AtomicU64,
    /// Executes.
    pub execute: AtomicU64,
    /// Flow flushes.
    pub flow_flush: AtomicU64,
    /// Port adds.
    pub port_add: AtomicU64,
    /// Port deletes.
    pub port_del: AtomicU64,
    /// Upcalls received.
    pub recv: AtomicU64,
    /// Calls that failed.
    pub errors: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CounterValues {
    /// Flow puts.
    pub flow_put: u64,
    /// Flow deletes.
    pub flow_del: u64,
    /// Flow gets.
    pub flow_get: u64,
    /// Executes.
    pub execute: u64,
    /// Flow flushes.
    pub flow_flush: u64,
    /// Port adds.
    pub port_add: u64,
    /// Port deletes.
    pub port_del: u64,
    /// Upcalls received.
    pub recv: u64,
    /// Calls that failed.
    pub errors: u64,
}

/// Allows a burst of warnings, then about `per_sec` a second.
#[derive(Debug)]
struct RateLimit {
    start: Instant,
    /// Milliseconds since `start` at which the bucket was last refilled.
    last_ms: AtomicU64,
    tokens: AtomicU64,
    burst: u64,
    per_sec: u64,
}

impl RateLimit {
    fn new(per_sec: u64, burst: u64) -> Self {
        RateLimit {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
            tokens: AtomicU64::new(burst),
            burst,
            per_sec,
        }
    }

    fn allow(&self) -> bool {
        let now = self.start.elapsed().as_millis() as u64;
        let last = self.last_ms.load(Ordering::Relaxed);
        let refill = (now.saturating_sub(last)) * self.per_sec / 1000;
        if refill > 0
            && self
                .last_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let t = self.tokens.load(Ordering::Relaxed);
            self.tokens
                .store((t + refill).min(self.burst), Ordering::Relaxed);
        }
        self.tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| t.checked_sub(1))
            .is_ok()
    }
}

/// An open datapath of any provider. Cheap to clone; clones share the
/// provider and the counters. `Send + Sync`: see the threading rules in
/// [`crate::provider`].
#[derive(Clone)]
pub struct Dpif {
    provider: Arc<dyn Provider>,
    full_name: Arc<str>,
    counters: Arc<Counters>,
    warn_limit: Arc<RateLimit>,
}

impl std::fmt::Debug for Dpif {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dpif")
            .field("name", &self.full_name)
            .finish()
    }
}

/// Which failures of an operation are expected by callers and so logged
/// at debug level only.
fn expected(op: &str, e: Errno) -> bool {
    matches!(
        (op, e),
        ("port_query", Errno::ENODEV)
            | ("flow_put", Errno::EEXIST)
            | ("flow_put", Errno::ENOENT)
            | ("flow_del", Errno::ENOENT)
            | ("flow_get", Errno::ENOENT)
            | (_, Errno::EOPNOTSUPP)
    )
}

impl Dpif {
    /// Wraps an open provider.
    pub fn new(provider: Arc<dyn Provider>) -> Self {
        let full_name: Arc<str> = format!("{}@{}", provider.type_name(), provider.name()).into();
        Dpif {
            provider,
            full_name,
            counters: Arc::new(Counters::default()),
            warn_limit: Arc::new(RateLimit::new(5, 20)),
        }
    }

    /// The datapath's name without type.
    pub fn name(&self) -> &str {
        self.provider.name()
    }

    /// The datapath's full name, `type@name`.
    pub fn full_name(&self) -> &str {
        &self.full_name
    }

    /// The provider's type name.
    pub fn type_name(&self) -> &'static str {
        self.provider.type_name()
    }

    /// The counters of this handle (shared with its clones).
    pub fn counters(&self) -> CounterValues {
        let c = &self.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CounterValues {
            flow_put: l(&c.flow_put),
            flow_del: l(&c.flow_del),
            flow_get: l(&c.flow_get),
            execute: l(&c.execute),
            flow_flush: l(&c.flow_flush),
            port_add: l(&c.port_add),
            port_del: l(&c.port_del),
            recv: l(&c.recv),
            errors: l(&c.errors),
        }
    }

    /// Logs the outcome of `op` and enforces the synchronous-call rule.
    fn finish<T>(&self, op: &str, r: Result<T, Errno>) -> Result<T, Errno> {
        match r {
            Ok(v) => {
                log::debug!("{}: {op} success", self.full_name);
                Ok(v)
            }
            Err(e) => {
                let e = if e == Errno::EAGAIN || e.get() == 115 {
                    log::warn!(
                        "{}: provider returned {e:?} from synchronous {op}",
                        self.full_name
                    );
                    Errno::EPROTO
                } else {
                    e
                };
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                if expected(op, e) {
                    log::debug!("{}: {op} failed ({e})", self.full_name);
                } else if self.warn_limit.allow() {
                    log::warn!("{}: {op} failed ({e})", self.full_name);
                }
                Err(e)
            }
        }
    }

    /// Destroys the datapath (see [`Provider::destroy`]).
    pub fn destroy(&self) -> Result<(), Errno> {
        self.finish("destroy", self.provider.destroy())
    }

    /// Datapath-wide statistics.
    pub fn get_stats(&self) -> Result<DpStats, Errno> {
        self.finish("get_stats", self.provider.get_stats())
    }

    /// Whether IP fragments are dropped.
    pub fn get_drop_frags(&self) -> Result<bool, Errno> {
        self.finish("get_drop_frags", self.provider.get_drop_frags())
    }

    /// Sets whether IP fragments are dropped.
    pub fn set_drop_frags(&self, drop: bool) -> Result<(), Errno> {
        self.finish("set_drop_frags", self.provider.set_drop_frags(drop))
    }

    /// Adds a port (see [`Provider::port_add`]).
    pub fn port_add(&self, spec: &PortSpec, port_no: Option<PortNo>) -> Result<PortNo, Errno> {
        self.counters.port_add.fetch_add(1, Ordering::Relaxed);
        let r = self.provider.port_add(spec, port_no);
        if let Ok(no) = &r {
            log::info!("{}: added {} as port {}", self.full_name, spec.name, no.0);
        }
        self.finish("port_add", r)
    }

    /// Removes a port.
    pub fn port_del(&self, port_no: PortNo) -> Result<(), Errno> {
        self.counters.port_del.fetch_add(1, Ordering::Relaxed);
        self.finish("port_del", self.provider.port_del(port_no))
    }

    /// Looks up a port by number (`ENODEV` if absent).
    pub fn port_query_by_number(&self, port_no: PortNo) -> Result<DpifPort, Errno> {
        self.finish("port_query", self.provider.port_query_by_number(port_no))
    }

    /// Looks up a port by name (`ENODEV` if absent).
    pub fn port_query_by_name(&self, name: &str) -> Result<DpifPort, Errno> {
        self.finish("port_query", self.provider.port_query_by_name(name))
    }

    /// Counters of a port.
    pub fn port_stats(&self, port_no: PortNo) -> Result<PortStats, Errno> {
        self.finish("port_stats", self.provider.port_stats(port_no))
    }

    /// One more than the largest valid port number.
    pub fn get_max_ports(&self) -> u32 {
        self.provider.get_max_ports()
    }

    /// The datapath's sized flow caches (see
    /// [`crate::Provider::cache_levels`]).
    pub fn cache_levels(&self) -> Vec<(String, u32)> {
        self.provider.cache_levels()
    }

    /// All ports, in port-number order.
    pub fn port_dump(&self) -> Result<Vec<DpifPort>, Errno> {
        self.finish("port_dump", self.provider.port_dump())
    }

    /// A change to the set of ports, if any (see [`Provider::port_poll`]).
    pub fn port_poll(&self) -> Result<Option<String>, Errno> {
        let r = self.provider.port_poll();
        if r == Err(Errno::ENOBUFS) {
            // Expected under load: the caller re-dumps.
            log::debug!("{}: port_poll overflowed", self.full_name);
            return r;
        }
        self.finish("port_poll", r)
    }

    /// Waits for a port change (see [`Provider::port_poll_wait`]).
    pub fn port_poll_wait(&self, timeout: Option<Duration>) -> bool {
        self.provider.port_poll_wait(timeout)
    }

    /// Deletes every flow.
    pub fn flow_flush(&self) -> Result<(), Errno> {
        self.counters.flow_flush.fetch_add(1, Ordering::Relaxed);
        self.finish("flow_flush", self.provider.flow_flush())
    }

    /// Starts a flow dump (see [`Provider::flow_dump`]).
    pub fn flow_dump(&self, terse: bool) -> Result<Box<dyn FlowDump + '_>, Errno> {
        self.finish("flow_dump", self.provider.flow_dump(terse))
    }

    /// Executes a batch of operations (see [`Provider::operate`]); returns
    /// one result per operation.
    pub fn operate(&self, ops: &[Op]) -> Vec<Result<OpReply, Errno>> {
        let replies = self.provider.operate(ops);
        if replies.len() != ops.len() {
            log::warn!(
                "{}: provider answered {} of {} operations",
                self.full_name,
                replies.len(),
                ops.len()
            );
        }
        let mut out = Vec::with_capacity(ops.len());
        let mut replies = replies.into_iter();
        for op in ops {
            let r = replies.next().unwrap_or(Err(Errno::EPROTO));
            let (name, counter, probe) = match op {
                Op::Put(p) => ("flow_put", &self.counters.flow_put, p.flags.probe),
                Op::Del(_) => ("flow_del", &self.counters.flow_del, false),
                Op::Get(_) => ("flow_get", &self.counters.flow_get, false),
                Op::Execute(x) => ("execute", &self.counters.execute, x.probe),
            };
            counter.fetch_add(1, Ordering::Relaxed);
            // A reply of the wrong kind is a provider bug.
            let r = match (op, r) {
                (Op::Put(_), Ok(OpReply::Put(s))) => Ok(OpReply::Put(s)),
                (Op::Del(_), Ok(OpReply::Del(s))) => Ok(OpReply::Del(s)),
                (Op::Get(_), Ok(OpReply::Get(f))) => Ok(OpReply::Get(f)),
                (Op::Execute(_), Ok(OpReply::Execute)) => Ok(OpReply::Execute),
                (_, Ok(_)) => Err(Errno::EPROTO),
                (_, Err(e)) => Err(e),
            };
            if probe {
                if r.is_err() {
                    self.counters.errors.fetch_add(1, Ordering::Relaxed);
                }
                out.push(r);
            } else {
                if log::log_enabled!(log::Level::Debug) {
                    log_op(&self.full_name, op);
                }
                out.push(self.finish(name, r));
            }
        }
        out
    }

    /// Installs or modifies one flow; returns the old statistics if asked.
    pub fn flow_put(&self, put: FlowPut) -> Result<Option<FlowStats>, Errno> {
        match self.operate(&[Op::Put(put)]).pop() {
            Some(Ok(OpReply::Put(s))) => Ok(s),
            Some(Err(e)) => Err(e),
            _ => Err(Errno::EPROTO),
        }
    }

    /// Deletes one flow; returns its final statistics if asked.
    pub fn flow_del(&self, del: FlowDel) -> Result<Option<FlowStats>, Errno> {
        match self.operate(&[Op::Del(del)]).pop() {
            Some(Ok(OpReply::Del(s))) => Ok(s),
            Some(Err(e)) => Err(e),
            _ => Err(Errno::EPROTO),
        }
    }

    /// Reads one flow.
    pub fn flow_get(&self, get: FlowGet) -> Result<DpifFlow, Errno> {
        match self.operate(&[Op::Get(get)]).pop() {
            Some(Ok(OpReply::Get(f))) => Ok(*f),
            Some(Err(e)) => Err(e),
            _ => Err(Errno::EPROTO),
        }
    }

    /// Runs actions on one packet.
    pub fn execute(&self, execute: Execute) -> Result<(), Errno> {
        match self.operate(&[Op::Execute(execute)]).pop() {
            Some(Ok(OpReply::Execute)) => Ok(()),
            Some(Err(e)) => Err(e),
            _ => Err(Errno::EPROTO),
        }
    }

    /// Sets which upcalls are sent.
    pub fn recv_set_mask(&self, mask: ListenMask) -> Result<(), Errno> {
        self.finish("recv_set_mask", self.provider.recv_set_mask(mask))
    }

    /// The current listen mask.
    pub fn recv_get_mask(&self) -> ListenMask {
        self.provider.recv_get_mask()
    }

    /// Sets the number of handler queues.
    pub fn handlers_set(&self, n: u32) -> Result<(), Errno> {
        self.finish("handlers_set", self.provider.handlers_set(n))
    }

    /// Takes the next upcall of handler `handler_id`, if any.
    pub fn recv(&self, handler_id: u32) -> Result<Option<Upcall>, Errno> {
        let r = self.provider.recv(handler_id);
        if let Ok(Some(_)) = &r {
            self.counters.recv.fetch_add(1, Ordering::Relaxed);
        }
        self.finish("recv", r)
    }

    /// Waits until handler `handler_id` has an upcall or `timeout` passes.
    pub fn recv_wait(&self, handler_id: u32, timeout: Option<Duration>) -> bool {
        self.provider.recv_wait(handler_id, timeout)
    }

    /// Discards every queued upcall.
    pub fn recv_purge(&self) {
        self.provider.recv_purge()
    }

    /// The datapath-wide sampling probability.
    pub fn get_sflow_probability(&self) -> Result<u32, Errno> {
        self.finish(
            "get_sflow_probability",
            self.provider.get_sflow_probability(),
        )
    }

    /// Sets the datapath-wide sampling probability.
    pub fn set_sflow_probability(&self, p: u32) -> Result<(), Errno> {
        self.finish(
            "set_sflow_probability",
            self.provider.set_sflow_probability(p),
        )
    }

    /// Maps a queue id to a priority.
    pub fn queue_to_priority(&self, queue_id: u32) -> Result<u32, Errno> {
        self.finish(
            "queue_to_priority",
            self.provider.queue_to_priority(queue_id),
        )
    }

    /// Dumps the tracker (see [`Provider::ct_dump`]).
    pub fn ct_dump(&self, zone: Option<u16>) -> Result<ct::CtDump, Errno> {
        self.finish("ct_dump", self.provider.ct_dump(zone))
    }

    /// Removes connections (see [`Provider::ct_flush`]).
    pub fn ct_flush(&self, flush: &ct::CtFlush) -> Result<(), Errno> {
        self.finish("ct_flush", self.provider.ct_flush(flush))
    }

    /// See [`Provider::ct_set_maxconns`].
    pub fn ct_set_maxconns(&self, n: u32) -> Result<(), Errno> {
        self.finish("ct_set_maxconns", self.provider.ct_set_maxconns(n))
    }

    /// See [`Provider::ct_get_maxconns`].
    pub fn ct_get_maxconns(&self) -> Result<u32, Errno> {
        self.finish("ct_get_maxconns", self.provider.ct_get_maxconns())
    }

    /// See [`Provider::ct_get_nconns`].
    pub fn ct_get_nconns(&self) -> Result<u32, Errno> {
        self.finish("ct_get_nconns", self.provider.ct_get_nconns())
    }

    /// See [`Provider::ct_set_tcp_seq_chk`].
    pub fn ct_set_tcp_seq_chk(&self, enabled: bool) -> Result<(), Errno> {
        self.finish(
            "ct_set_tcp_seq_chk",
            self.provider.ct_set_tcp_seq_chk(enabled),
        )
    }

    /// See [`Provider::ct_get_tcp_seq_chk`].
    pub fn ct_get_tcp_seq_chk(&self) -> Result<bool, Errno> {
        self.finish("ct_get_tcp_seq_chk", self.provider.ct_get_tcp_seq_chk())
    }

    /// See [`Provider::ct_set_limits`].
    pub fn ct_set_limits(
        &self,
        default_limit: Option<u32>,
        zones: &[ct::CtZoneLimit],
    ) -> Result<(), Errno> {
        self.finish(
            "ct_set_limits",
            self.provider.ct_set_limits(default_limit, zones),
        )
    }

    /// See [`Provider::ct_get_limits`].
    pub fn ct_get_limits(&self, zones: &[u16]) -> Result<ct::CtLimits, Errno> {
        self.finish("ct_get_limits", self.provider.ct_get_limits(zones))
    }

    /// See [`Provider::ct_del_limits`].
    pub fn ct_del_limits(&self, zones: &[u16]) -> Result<(), Errno> {
        self.finish("ct_del_limits", self.provider.ct_del_limits(zones))
    }

    /// See [`Provider::ct_ipf_set_enabled`].
    pub fn ct_ipf_set_enabled(&self, v6: bool, enabled: bool) -> Result<(), Errno> {
        self.finish(
            "ct_ipf_set_enabled",
            self.provider.ct_ipf_set_enabled(v6, enabled),
        )
    }

    /// See [`Provider::ct_ipf_set_min_frag`].
    pub fn ct_ipf_set_min_frag(&self, v6: bool, min_frag: u32) -> Result<(), Errno> {
        self.finish(
            "ct_ipf_set_min_frag",
            self.provider.ct_ipf_set_min_frag(v6, min_frag),
        )
    }

    /// See [`Provider::ct_ipf_set_max_nfrags`].
    pub fn ct_ipf_set_max_nfrags(&self, n: u32) -> Result<(), Errno> {
        self.finish(
            "ct_ipf_set_max_nfrags",
            self.provider.ct_ipf_set_max_nfrags(n),
        )
    }

    /// See [`Provider::ct_ipf_get_status`].
    pub fn ct_ipf_get_status(&self) -> Result<ct::IpfStatus, Errno> {
        self.finish("ct_ipf_get_status", self.provider.ct_ipf_get_status())
    }

    /// See [`Provider::ct_set_timeout_policy`].
    pub fn ct_set_timeout_policy(&self, tp: &ct::CtTimeoutPolicy) -> Result<(), Errno> {
        self.finish(
            "ct_set_timeout_policy",
            self.provider.ct_set_timeout_policy(tp),
        )
    }

    /// See [`Provider::ct_get_timeout_policy`].
    pub fn ct_get_timeout_policy(&self, id: u32) -> Result<ct::CtTimeoutPolicy, Errno> {
        self.finish(
            "ct_get_timeout_policy",
            self.provider.ct_get_timeout_policy(id),
        )
    }

    /// See [`Provider::ct_del_timeout_policy`].
    pub fn ct_del_timeout_policy(&self, id: u32) -> Result<(), Errno> {
        self.finish(
            "ct_del_timeout_policy",
            self.provider.ct_del_timeout_policy(id),
        )
    }

    /// See [`Provider::ct_timeout_policy_name`].
    pub fn ct_timeout_policy_name(&self, id: u32, ipv6: bool, proto: u8) -> Result<String, Errno> {
        self.finish(
            "ct_timeout_policy_name",
            self.provider.ct_timeout_policy_name(id, ipv6, proto),
        )
    }

    /// The UFID a flow gets when the caller gives none: derived from the key.
    pub fn ufid_from_key(key: &[odp::key::KeyAttr]) -> Ufid {
        crate::ufid::from_key(key)
    }
}

/// Logs one operation in the text format (debug level only).
fn log_op(dp: &str, op: &Op) {
    match op {
        Op::Put(p) => {
            let mut s = String::new();
            odp::text::key::format_match(&p.key, p.mask.as_deref(), false, &mut s);
            s.push_str(", actions:");
            odp::text::action::format_actions(&p.actions, &mut s);
            log::debug!("{dp}: put {s}");
        }
        Op::Del(d) => {
            let mut s = String::new();
            odp::text::key::format_key(&d.key, &mut s);
            log::debug!("{dp}: del {s} ufid={:?}", d.ufid);
        }
        Op::Get(g) => {
            let mut s = String::new();
            odp::text::key::format_key(&g.key, &mut s);
            log::debug!("{dp}: get {s} ufid={:?}", g.ufid);
        }
        Op::Execute(x) => {
            let mut s = String::new();
            odp::text::action::format_actions(&x.actions, &mut s);
            log::debug!("{dp}: execute {} bytes, actions:{s}", x.packet.len());
        }
    }
}
