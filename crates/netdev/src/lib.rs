//! Port I/O for the userspace datapath: the netdev provider layer.
//!
//! A *netdev* is one port's way to receive and transmit packets. The
//! datapath's poll threads call [`Netdev::rxq_recv`] on receive queues and
//! [`Netdev::send`] on transmit queues, a [`Batch`] of up to
//! [`BATCH_SIZE`] packets at a time.
//!
//! - [`packet`]: [`Packet`] (an owned buffer with headroom) and [`Batch`],
//!   with the ownership and allocation rules of the fast path.
//! - [`Netdev`]: the provider contract.
//! - [`dummy`]: an in-memory netdev for tests and benchmarks.
//! - [`pcap`]: a netdev that receives from and transmits to pcap files.
//! - [`afpacket`] (Linux): the `system` netdev, an existing interface
//!   through an `AF_PACKET` memory-mapped ring.
//! - [`tap`] (Linux): the `tap` and `internal` netdevs, a tap device.
//! - [`offload`]: the `virtio_net_hdr` kept with offloaded packets
//!   ([`Packet::vnet`]) and finishing offloads in software.
//! - [`Poller`] (Linux): waiting for many kernel-backed queues and an
//!   [`RxSignal`] at once.
//! - [`open`]: builds a netdev from a kind name and options.
//!
//! Errors are [`std::io::Error`]s; this crate does not know the datapath
//! interface (`dpif`), which maps them to its own error type.
//!
//! # Example: a poll loop forwarding between two ports
//!
//! ```
//! use std::time::Duration;
//! use netdev::dummy::DummyNetdev;
//! use netdev::{Batch, Netdev};
//!
//! let p1 = DummyNetdev::new("p1");
//! let p2 = DummyNetdev::new("p2");
//! let frame = [0xffu8; 60];
//! p1.inject(0, &frame)?;
//!
//! // One batch, allocated once, reused for every receive.
//! let mut batch = Batch::new();
//! for _ in 0..2 {
//!     if batch.is_empty() && !p1.wait_rx(0, Duration::from_millis(1)) {
//!         continue;
//!     }
//!     if p1.rxq_recv(0, &mut batch)? > 0 {
//!         for pkt in batch.iter_mut() {
//!             pkt.in_port = 1;
//!         }
//!         p2.send(0, &mut batch)?; // drains the batch, keeps its buffers
//!     }
//! }
//! assert_eq!(p2.take_sent()[0].data(), &frame[..]);
//! assert_eq!(p1.stats().rx_packets, 1);
//! # Ok::<(), std::io::Error>(())
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod afpacket;
pub mod dummy;
pub mod offload;
pub mod packet;
pub mod pcap;
mod pcapfile;
mod signal;
mod sys;
pub mod tap;

use std::any::Any;
use std::io;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use packet::{Batch, Packet, BATCH_SIZE, DEFAULT_HEADROOM, DEFAULT_ROOM};
pub use signal::RxSignal;
pub use sys::poll::Poller;

/// An Ethernet address.
pub type MacAddr = [u8; 6];

/// Counters of one netdev, as reported by [`Netdev::stats`].
///
/// Receive counters count what the provider handed to the datapath (or
/// lost before that); transmit counters what the datapath handed to
/// [`Netdev::send`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetdevStats {
    /// Packets received and appended to a batch.
    pub rx_packets: u64,
    /// Bytes of those packets.
    pub rx_bytes: u64,
    /// Receive failures (a malformed input, an I/O error).
    pub rx_errors: u64,
    /// Packets lost on receive for lack of room (a full queue).
    pub rx_dropped: u64,
    /// Packets transmitted.
    pub tx_packets: u64,
    /// Bytes of those packets.
    pub tx_bytes: u64,
    /// Packets whose transmission failed (an I/O error).
    pub tx_errors: u64,
    /// Packets not transmitted for lack of room or for an invalid size.
    pub tx_dropped: u64,
}

/// Lock-free counters behind [`NetdevStats`], for providers: any thread
/// may add to them and read them.
#[derive(Debug, Default)]
pub struct StatsCounters {
    rx_packets: AtomicU64,
    rx_bytes: AtomicU64,
    rx_errors: AtomicU64,
    rx_dropped: AtomicU64,
    tx_packets: AtomicU64,
    tx_bytes: AtomicU64,
    tx_errors: AtomicU64,
    tx_dropped: AtomicU64,
}

impl StatsCounters {
    /// Counts `packets` packets of `bytes` bytes in total as received.
    pub fn add_rx(&self, packets: u64, bytes: u64) {
        self.rx_packets.fetch_add(packets, Ordering::Relaxed);
        self.rx_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts `n` receive errors.
    pub fn add_rx_errors(&self, n: u64) {
        self.rx_errors.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` packets dropped on receive.
    pub fn add_rx_dropped(&self, n: u64) {
        self.rx_dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `packets` packets of `bytes` bytes in total as transmitted.
    pub fn add_tx(&self, packets: u64, bytes: u64) {
        self.tx_packets.fetch_add(packets, Ordering::Relaxed);
        self.tx_bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Counts `n` packets whose transmission failed.
    pub fn add_tx_errors(&self, n: u64) {
        self.tx_errors.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` packets dropped on transmit.
    pub fn add_tx_dropped(&self, n: u64) {
        self.tx_dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// A snapshot of all counters (each read atomically on its own).
    pub fn snapshot(&self) -> NetdevStats {
        let r = |c: &AtomicU64| c.load(Ordering::Relaxed);
        NetdevStats {
            rx_packets: r(&self.rx_packets),
            rx_bytes: r(&self.rx_bytes),
            rx_errors: r(&self.rx_errors),
            rx_dropped: r(&self.rx_dropped),
            tx_packets: r(&self.tx_packets),
            tx_bytes: r(&self.tx_bytes),
            tx_errors: r(&self.tx_errors),
            tx_dropped: r(&self.tx_dropped),
        }
    }
}

/// A netdev provider: one port's packet I/O.
///
/// # Queues
///
/// A netdev has [`Netdev::n_rxq`] receive queues and [`Netdev::n_txq`]
/// transmit queues, numbered from 0. A queue number out of range is an
/// error of kind [`io::ErrorKind::InvalidInput`].
///
/// # Threading
///
/// - Each receive queue is polled by **one thread at a time** (the poll
///   thread it is assigned to). Providers may rely on this for speed, but
///   must stay memory-safe if it is broken (the methods take `&self`, so
///   a provider guards each queue's state with its own lock, uncontended
///   in the normal case). Different queues may be polled concurrently.
/// - [`Netdev::send`] may be called **from several threads at once, on
///   the same or different transmit queues**. A provider serializes sends
///   on the same queue itself (every provider here holds a per-queue lock
///   for the duration of one `send`, so one batch's packets are never
///   interleaved with another's). Callers that want no contention use
///   distinct transmit queues, when there are enough.
/// - [`Netdev::stats`], [`Netdev::name`], [`Netdev::kind`],
///   [`Netdev::mtu`] and [`Netdev::mac`] may be called from any thread at
///   any time and never block on the data path for long.
/// - [`Netdev::set_options`] and [`Netdev::set_mtu`] are configuration
///   calls: they may run concurrently with receive and send, and take
///   effect at a batch boundary.
///
/// # Ownership
///
/// Packets are moved, never shared: [`Netdev::rxq_recv`] appends packets
/// to the caller's batch (reusing the batch's spare buffers, see
/// [`packet`]), and [`Netdev::send`] takes every packet of the batch and
/// leaves it empty, its buffers back in the caller's pool. Neither keeps a
/// reference into the caller's batch after returning.
///
/// # Errors
///
/// - Receive: `Ok(0)` means nothing is ready, not an error. An `Err` is a
///   failure of the device or its input (e.g. [`io::ErrorKind::InvalidData`]
///   for a malformed capture file); it is counted in `rx_errors`. Packets
///   received before a failure in the same call are returned first, and the
///   error is reported by the next call.
/// - Send: `Ok(n)` says `n` packets were transmitted; the others were
///   dropped and counted (`tx_dropped` for a full queue or a packet of
///   invalid size, `tx_errors` for an I/O failure). An `Err` means the
///   device failed (e.g. a write error); the whole batch is still drained
///   and its packets counted in `tx_errors`.
/// - Configuration: an unknown option or an invalid value is
///   [`io::ErrorKind::InvalidInput`], with a message naming it; an
///   unsupported operation is [`io::ErrorKind::Unsupported`].
pub trait Netdev: Send + Sync {
    /// The device's name (unique among the datapath's ports).
    fn name(&self) -> &str;

    /// The provider's kind: `"dummy"`, `"pcap"`, `"system"`, `"tap"` or
    /// `"internal"`.
    fn kind(&self) -> &'static str;

    /// Number of receive queues (at least 1).
    fn n_rxq(&self) -> usize;

    /// Number of transmit queues (at least 1).
    fn n_txq(&self) -> usize {
        1
    }

    /// Appends to `batch` up to [`Batch::free_space`] packets received on
    /// queue `rxq` and returns how many. Never blocks waiting for packets:
    /// `Ok(0)` when nothing is ready. Appended packets have `in_port` 0.
    fn rxq_recv(&self, rxq: usize, batch: &mut Batch) -> io::Result<usize>;

    /// Transmits the packets of `batch` on queue `txq`, in order, and
    /// drains the batch (see the trait documentation for errors). Returns
    /// how many packets were transmitted.
    fn send(&self, txq: usize, batch: &mut Batch) -> io::Result<usize>;

    /// The device's counters.
    fn stats(&self) -> NetdevStats;

    /// The device's MTU: the largest L3 payload of a frame it transmits.
    fn mtu(&self) -> u32;

    /// Changes the MTU. [`io::ErrorKind::Unsupported`] by default.
    fn set_mtu(&self, mtu: u32) -> io::Result<()> {
        let _ = mtu;
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{}: changing the MTU is not supported", self.name()),
        ))
    }

    /// The device's Ethernet address.
    fn mac(&self) -> MacAddr;

    /// Applies `key=value` options (the interface's `options` column).
    /// Options not listed keep their current values. On error nothing
    /// changes.
    fn set_options(&self, options: &[(String, String)]) -> io::Result<()>;

    /// Blocks the calling thread until queue `rxq` may have packets, or
    /// `timeout` passes. Returns `true` if packets may be ready (a spurious
    /// `true` is allowed: the caller polls and may get `Ok(0)`), `false` on
    /// timeout.
    ///
    /// The default sleeps for at most one millisecond and returns `true`,
    /// which turns a waiting thread into a slow poller; providers with a
    /// readiness signal override it. A thread serving several queues uses
    /// [`Netdev::attach_rx_signal`] or [`Netdev::rx_fd`] instead.
    fn wait_rx(&self, rxq: usize, timeout: Duration) -> bool {
        let _ = rxq;
        std::thread::sleep(timeout.min(Duration::from_millis(1)));
        true
    }

    /// Asks the provider to also notify `signal` whenever queue `rxq`
    /// becomes non-empty, so that one thread can wait for several queues of
    /// several in-process devices. Returns `false` if the provider has no
    /// such notification (the caller then uses [`Netdev::rx_fd`] or
    /// polls).
    fn attach_rx_signal(&self, rxq: usize, signal: Arc<RxSignal>) -> bool {
        let _ = (rxq, signal);
        false
    }

    /// Stops notifying `signal` for queue `rxq` (undoes
    /// [`Netdev::attach_rx_signal`], e.g. when the queue moves to another
    /// poll thread). Returns whether it was attached.
    fn detach_rx_signal(&self, rxq: usize, signal: &Arc<RxSignal>) -> bool {
        let _ = (rxq, signal);
        false
    }

    /// A file descriptor that becomes readable when queue `rxq` has
    /// packets, for providers backed by the kernel (an `AF_PACKET` socket,
    /// a tap device), so that a poll thread can wait on many with
    /// `poll(2)`. `None` by default.
    #[cfg(unix)]
    fn rx_fd(&self, rxq: usize) -> Option<std::os::fd::BorrowedFd<'_>> {
        let _ = rxq;
        None
    }

    /// Whether the source of queue `rxq` holds its packets, losing none,
    /// while the queue is not polled: a traffic generator that pauses (a
    /// NIC's ring that fills is the hardware analogue, though it drops at
    /// the wire). A datapath that could not handle what it would receive
    /// (its upcall queues are full) leaves such a queue unpolled instead of
    /// receiving packets only to drop them. `false` by default: the queue
    /// is received from regardless, and what cannot be handled is dropped
    /// and counted.
    fn rx_holds(&self, rxq: usize) -> bool {
        let _ = rxq;
        false
    }

    /// The provider itself, to reach kind-specific methods (such as
    /// [`dummy::DummyNetdev::inject`]) through a `dyn Netdev`.
    fn as_any(&self) -> &dyn Any;
}

/// Builds a netdev of kind `kind` named `name`, with `options` applied.
/// Kinds: `"dummy"`, `"pcap"`, and on Linux `"system"` (an existing
/// interface, [`afpacket`]), `"tap"` and `"internal"` (a tap device,
/// [`tap`]); any other is [`io::ErrorKind::Unsupported`].
pub fn open(kind: &str, name: &str, options: &[(String, String)]) -> io::Result<Arc<dyn Netdev>> {
    match kind {
        "dummy" => Ok(Arc::new(dummy::DummyNetdev::from_options(name, options)?)),
        "pcap" => Ok(Arc::new(pcap::PcapNetdev::open(name, options)?)),
        "system" => Ok(Arc::new(afpacket::AfPacketNetdev::open(name, options)?)),
        "tap" => Ok(Arc::new(tap::TapNetdev::open("tap", name, options)?)),
        "internal" => Ok(Arc::new(tap::TapNetdev::open("internal", name, options)?)),
        _ => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{name}: unknown netdev kind \"{kind}\""),
        )),
    }
}

/// A locally administered unicast Ethernet address, different for each
/// call in this process (`aa:55:00:00:00:NN`, NN counting from 1): the
/// default address of dummy and pcap devices.
pub fn next_local_mac() -> MacAddr {
    static NEXT: AtomicU8 = AtomicU8::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    [0xaa, 0x55, 0, 0, 0, n]
}

/// Helpers for parsing option values, shared by providers.
pub(crate) mod opt {
    use std::io;
    use std::str::FromStr;

    /// An [`io::ErrorKind::InvalidInput`] error for `dev`'s option `key`.
    pub fn invalid(dev: &str, key: &str, why: impl std::fmt::Display) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{dev}: option {key}: {why}"),
        )
    }

    /// An [`io::ErrorKind::InvalidInput`] error for an unknown option.
    pub fn unknown(dev: &str, key: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{dev}: unknown option \"{key}\""),
        )
    }

    /// Parses a number within `min..=max`.
    pub fn number<T>(dev: &str, key: &str, value: &str, min: T, max: T) -> io::Result<T>
    where
        T: FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        match value.parse::<T>() {
            Ok(v) if v >= min && v <= max => Ok(v),
            _ => Err(invalid(
                dev,
                key,
                format!("\"{value}\" is not a number from {min} to {max}"),
            )),
        }
    }

    /// Parses `true` or `false`.
    pub fn boolean(dev: &str, key: &str, value: &str) -> io::Result<bool> {
        match value {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(invalid(
                dev,
                key,
                format!("\"{value}\" is not true or false"),
            )),
        }
    }
}

/// The error for a queue number out of range.
pub(crate) fn bad_queue(dev: &str, what: &str, q: usize, n: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{dev}: {what} {q} out of range (device has {n})"),
    )
}
