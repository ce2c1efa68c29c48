//! A tracked connection (`struct nf_conn`).
//!
//! The parts fixed when the connection is committed (its two tuples,
//! zone, helper, timeout policy, master) are plain fields; what packets
//! change (protocol state, status, mark, labels, counters, sequence
//! adjustments) sits behind the connection's own lock, as the kernel's
//! `ct->lock`. The expiry time is an atomic, so the expiry sweep and the
//! lookups read it without the lock.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::helper::Helper;
use crate::state::{status, Dir};
use crate::tcp::{SeqAdj, TcpConn};
use crate::timeout::Timeouts;
use crate::tuple::Tuple;

/// Per-protocol state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    /// TCP, with window tracking.
    Tcp(TcpConn),
    /// UDP (and UDP-Lite): only the status bits matter.
    Udp,
    /// ICMP or ICMPv6 echo-like exchanges.
    Icmp,
    /// Any other protocol (`nf_conntrack_proto_generic`).
    Other,
}

/// Packet and byte counts of one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets.
    pub packets: u64,
    /// Bytes (IP datagram lengths).
    pub bytes: u64,
}

/// State a helper keeps per connection (FTP: where the last command
/// line rewritten was, so a retransmission is rewritten the same way).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HelperState {
    /// Per direction: sequence number after the last complete command
    /// line seen (`seq_aft_nl`) and whether it is set.
    pub seq_aft_nl: [Option<u32>; 2],
}

/// The mutable part of a connection, under its lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnData {
    /// Protocol state.
    pub l4: L4,
    /// `IPS_*` status bits.
    pub status: u32,
    /// `ct_mark`.
    pub mark: u32,
    /// `ct_label`.
    pub labels: u128,
    /// Per-direction counters.
    pub counters: [Counters; 2],
    /// Per-direction sequence adjustments (NAT of FTP payloads).
    pub seqadj: [SeqAdj; 2],
    /// Helper state.
    pub helper: HelperState,
    /// The timeout last applied, in seconds (what a dump prints relative to).
    pub timeout: u32,
    /// When the connection started (ms): UDP turns into a stream two
    /// seconds after it (`stream_ts`).
    pub start: u64,
}

/// A connection.
#[derive(Debug)]
pub struct Conn {
    /// Original-direction tuple.
    pub orig: Tuple,
    /// Reply-direction tuple (after NAT: what replies carry).
    pub reply: Tuple,
    /// Zone.
    pub zone: u16,
    /// A number unique among live connections (the dump's `id`).
    pub id: u32,
    /// The master connection's original tuple, for related connections.
    pub master: Option<Tuple>,
    /// The helper attached at commit.
    pub helper: Option<Helper>,
    /// The timeout policy attached at commit (index, and its timeouts).
    pub policy: Option<(u32, Arc<Timeouts>)>,
    /// Expiry time in milliseconds on the datapath's clock.
    pub expires: AtomicU64,
    /// Set once the connection is removed from the table.
    pub dead: AtomicBool,
    /// Mutable state.
    data: Mutex<ConnData>,
}

impl Conn {
    /// A connection with `data`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        orig: Tuple,
        reply: Tuple,
        zone: u16,
        id: u32,
        master: Option<Tuple>,
        helper: Option<Helper>,
        policy: Option<(u32, Arc<Timeouts>)>,
        expires: u64,
        data: ConnData,
    ) -> Conn {
        Conn {
            orig,
            reply,
            zone,
            id,
            master,
            helper,
            policy,
            expires: AtomicU64::new(expires),
            dead: AtomicBool::new(false),
            data: Mutex::new(data),
        }
    }

    /// Locks the mutable state. A poisoned lock (a panic while holding it)
    /// still gives the data: it is plain values, always consistent.
    pub fn lock(&self) -> MutexGuard<'_, ConnData> {
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The tuple of direction `d`.
    pub fn tuple(&self, d: Dir) -> &Tuple {
        match d {
            Dir::Original => &self.orig,
            Dir::Reply => &self.reply,
        }
    }

    /// Whether the connection is expired at `now` (ms) or removed.
    pub fn is_dead(&self, now: u64) -> bool {
        self.dead.load(Ordering::Acquire) || self.expires.load(Ordering::Relaxed) <= now
    }

    /// Whether NAT changed the connection's tuples.
    pub fn natted(&self, data: &ConnData) -> bool {
        data.status & status::NAT_MASK != 0
    }
}

/// Approximate memory one committed connection takes: the `Conn`
/// allocation (with its `Arc` header) plus two table entries (key,
/// pointer, direction and the table's per-slot overhead), and one
/// expiry-wheel slot pointer.
pub const BYTES_PER_CONN: usize = std::mem::size_of::<Conn>()
    + 2 * std::mem::size_of::<usize>()
    + 2 * (std::mem::size_of::<crate::tuple::ConnKey>() + 2 * std::mem::size_of::<usize>() + 8)
    + std::mem::size_of::<usize>();
