//! The `system` netdev: an existing network interface (a veth, a NIC)
//! through an `AF_PACKET` socket.
//!
//! - **Receive**: a memory-mapped ring. By default a TPACKET_V2 ring of
//!   fixed frame slots (64 KiB + 256 bytes with `vnet`, else 9 KiB + 256),
//!   each handed over as soon as it is written: no added latency, at the
//!   cost of memory (32 MiB per port by default with `vnet`). Option
//!   `ring=v3` uses a TPACKET_V3 ring of blocks instead: the kernel fills a
//!   block with many frames and hands it over when it is full or when
//!   `block_timeout_ms` passes (1 ms at least), which adds up to that much
//!   latency at low rates — a ping through the switch then takes ~1 ms
//!   instead of ~0.1 ms, which is why V2 is the default. Either way
//!   [`Netdev::rxq_recv`] copies up to a batch of frames out of the ring.
//! - **VLAN**: a tag the device stripped (VLAN acceleration, as veths do)
//!   is reported in the ring's frame header and put back into the frame
//!   (TPID and TCI), so the datapath sees the frame as it was sent.
//! - **Offloads** (option `vnet`, on by default): the socket exchanges a
//!   `virtio_net_hdr` with the kernel (`PACKET_VNET_HDR`), so frames whose
//!   checksum is left to finish, and TCP segments larger than the MTU
//!   (GSO/TSO), arrive as they are, their header in [`Packet::vnet`], and
//!   are given back to the kernel on transmit, which finishes them (or
//!   passes them on, to a veth peer). Without `vnet`, received frames
//!   carry no header and [`crate::offload::finish_in_software`] finishes
//!   transmitted ones.
//! - **Transmit**: batched with `sendmmsg(2)` (one system call per batch).
//! - The interface is put in promiscuous mode while the netdev is open;
//!   the socket does not see frames it transmitted itself
//!   (`PACKET_IGNORE_OUTGOING`), so the datapath never receives its own
//!   output; MTU and Ethernet address are the interface's.
//!
//! Errors on open: no such interface is [`io::ErrorKind::NotFound`];
//! lacking `CAP_NET_RAW` is [`io::ErrorKind::PermissionDenied`].
//!
//! Options (at open only; changing them later is
//! [`io::ErrorKind::Unsupported`]): `ring` (`v2`, the default, or `v3`),
//! `vnet` (`true`/`false`), `block_size` (bytes, a power of two from 4096
//! to 4 MiB, at least large enough for a 64 KiB segment when `vnet` is on:
//! 131072 by default, 1 MiB with `ring=v2`),
//! `blocks` (2 to 1024, default 32), `block_timeout_ms` (1 to 1000,
//! default 1).

use std::any::Any;
use std::io;
use std::os::fd::BorrowedFd;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::offload::{self, VnetHdr};
use crate::sys::afpacket::{PacketSocket, Ring, RingConfig};
use crate::sys::{netif, poll};
use crate::{bad_queue, opt, Batch, MacAddr, Netdev, NetdevStats, Packet, StatsCounters};

/// Options of a `system` netdev.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Options {
    /// TPACKET version of the receive ring: 3 or 2.
    ring: u8,
    vnet: bool,
    block_size: u32,
    blocks: u32,
    block_timeout_ms: u32,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            ring: 2,
            vnet: true,
            block_size: 1 << 17,
            blocks: 32,
            block_timeout_ms: 1,
        }
    }
}

impl Options {
    /// Frame slot size of a V2 ring: a 64 KiB segment with headers when
    /// `vnet` is on, else a 9 KiB jumbo frame; both with room for the
    /// kernel's frame header and a VLAN tag.
    fn v2_frame_size(&self) -> u32 {
        if self.vnet {
            65536 + 256
        } else {
            9216 + 256
        }
    }

    fn parse(dev: &str, mut o: Options, options: &[(String, String)]) -> io::Result<Options> {
        for (k, v) in options {
            match k.as_str() {
                "ring" => {
                    o.ring = match v.as_str() {
                        "v2" => 2,
                        "v3" => 3,
                        _ => return Err(opt::invalid(dev, k, format!("\"{v}\" is not v2 or v3"))),
                    }
                }
                "vnet" => o.vnet = opt::boolean(dev, k, v)?,
                "block_size" => {
                    o.block_size = opt::number(dev, k, v, 4096, 4 << 20)?;
                    if !o.block_size.is_power_of_two() {
                        return Err(opt::invalid(dev, k, "not a power of two"));
                    }
                }
                "blocks" => o.blocks = opt::number(dev, k, v, 2, 1024)?,
                "block_timeout_ms" => o.block_timeout_ms = opt::number(dev, k, v, 1, 1000)?,
                _ => return Err(opt::unknown(dev, k)),
            }
        }
        if o.ring == 2 && !options.iter().any(|(k, _)| k == "block_size") {
            // 15 slots of 64 KiB segments per block.
            o.block_size = 1 << 20;
        }
        if o.ring == 2 && o.block_size < o.v2_frame_size() {
            return Err(opt::invalid(
                dev,
                "block_size",
                "smaller than a ring v2 frame slot",
            ));
        }
        if o.vnet && o.block_size < 1 << 17 {
            return Err(opt::invalid(
                dev,
                "block_size",
                "must be at least 131072 with vnet (64 KiB segments)",
            ));
        }
        Ok(o)
    }
}

/// A `system` netdev: see the [module documentation](self).
pub struct AfPacketNetdev {
    name: String,
    ifindex: u32,
    sock: PacketSocket,
    ring: Mutex<Ring>,
    /// Serializes sends (one batch's frames stay together).
    tx: Mutex<()>,
    options: Options,
    mac: MacAddr,
    stats: StatsCounters,
    /// Empty receives since the socket's error was last checked.
    empty_polls: std::sync::atomic::AtomicU32,
}

impl std::fmt::Debug for AfPacketNetdev {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfPacketNetdev")
            .field("name", &self.name)
            .field("ifindex", &self.ifindex)
            .field("options", &self.options)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long a send waits for room in the socket before dropping.
const TX_WAIT: Duration = Duration::from_millis(2);

impl AfPacketNetdev {
    /// Opens interface `name` with `options` (see the module documentation).
    pub fn open(name: &str, options: &[(String, String)]) -> io::Result<AfPacketNetdev> {
        let o = Options::parse(name, Options::default(), options)?;
        let ifindex = netif::index(name)?;
        let cfg = RingConfig {
            block_size: o.block_size,
            nblocks: o.blocks,
            retire_ms: o.block_timeout_ms,
            v2_frame: (o.ring == 2).then(|| o.v2_frame_size()),
        };
        let (sock, ring) =
            PacketSocket::open(ifindex, o.vnet, cfg).map_err(|e| netif::with_name(name, e))?;
        sock.set_promisc(ifindex)
            .map_err(|e| netif::with_name(name, e))?;
        let mac = netif::mac(name)?;
        Ok(AfPacketNetdev {
            name: name.to_string(),
            ifindex,
            sock,
            ring: Mutex::new(ring),
            tx: Mutex::new(()),
            options: o,
            mac,
            stats: StatsCounters::default(),
            empty_polls: std::sync::atomic::AtomicU32::new(0),
        })
    }

    /// Whether frames carry vnet headers (option `vnet`).
    pub fn vnet(&self) -> bool {
        self.options.vnet
    }

    /// The interface's index.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Sends `frames` in `sendmmsg` calls; returns (sent, failed).
    fn send_all(&self, frames: &[(Option<&[u8; VnetHdr::LEN]>, &[u8])]) -> (usize, usize) {
        let (mut sent, mut failed, mut i, mut waited) = (0, 0, 0, false);
        while i < frames.len() {
            match self.sock.send_frames(&frames[i..]) {
                Ok(n) if n > 0 => {
                    sent += n;
                    i += n;
                    waited = false;
                }
                Ok(_) => break,
                Err(e)
                    if !waited
                        && matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::ENOBUFS)) =>
                {
                    poll::wait_fd(self.sock.fd(), true, TX_WAIT);
                    waited = true;
                }
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(
                            libc::EAGAIN
                                | libc::ENOBUFS
                                | libc::ENETDOWN
                                | libc::ENXIO
                                | libc::ENODEV
                        )
                    ) =>
                {
                    // Still full, or the interface is down or gone: drop
                    // the rest.
                    failed += frames.len() - i;
                    break;
                }
                Err(e) => {
                    // This frame is bad (too long, a bad vnet header...):
                    // skip it and go on.
                    log_once(&self.name, &e);
                    failed += 1;
                    i += 1;
                }
            }
        }
        (sent, failed)
    }
}

fn log_once(name: &str, e: &io::Error) {
    // The crate has no logger; errors are counted in tx_errors. Keep the
    // last one visible to debuggers.
    let _ = (name, e);
}

/// Copies a received frame into `slot`, putting back a stripped VLAN tag.
fn fill_slot(slot: &mut Packet, data: &[u8], vlan: Option<(u16, u16)>, vnet: Option<VnetHdr>) {
    match vlan {
        Some((tpid, tci)) if data.len() >= 12 => {
            slot.resize(data.len() + 4);
            let d = slot.data_mut();
            d[..12].copy_from_slice(&data[..12]);
            d[12..14].copy_from_slice(&tpid.to_be_bytes());
            d[14..16].copy_from_slice(&tci.to_be_bytes());
            d[16..].copy_from_slice(&data[12..]);
            // The kernel's offsets count without the tag.
            slot.vnet = vnet.map(|mut h| {
                h.shift(4);
                h
            });
        }
        _ => {
            slot.copy_from(data);
            slot.vnet = vnet;
        }
    }
}

impl Netdev for AfPacketNetdev {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "system"
    }

    fn n_rxq(&self) -> usize {
        1
    }

    fn rxq_recv(&self, rxq: usize, batch: &mut Batch) -> io::Result<usize> {
        if rxq != 0 {
            return Err(bad_queue(&self.name, "receive queue", rxq, 1));
        }
        let mut ring = lock(&self.ring);
        let (mut n, mut bytes, mut dropped) = (0usize, 0u64, 0u64);
        while batch.free_space() > 0 {
            let Some(f) = ring.next() else { break };
            if f.data.len() < f.wire_len {
                // Truncated: larger than a ring block.
                dropped += 1;
                continue;
            }
            let vnet = f
                .vnet
                .map(|b| VnetHdr::from_bytes(&b))
                .filter(|h| !h.is_plain());
            let Some(slot) = batch.next_slot() else { break };
            fill_slot(slot, f.data, f.vlan, vnet);
            n += 1;
            bytes += slot.len() as u64;
        }
        drop(ring);
        self.stats.add_rx(n as u64, bytes);
        self.stats.add_rx_dropped(dropped);
        // A pending socket error (the interface went down) keeps the
        // descriptor readable, which would wake a waiting poll thread over
        // and over: clear it now and then when nothing arrives. The
        // interface coming back up resumes reception.
        if n == 0
            && self
                .empty_polls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                % 8
                == 7
        {
            if let Some(e) = self.sock.take_error() {
                self.stats.add_rx_errors(1);
                return Err(netif::with_name(&self.name, e));
            }
        }
        Ok(n)
    }

    fn send(&self, txq: usize, batch: &mut Batch) -> io::Result<usize> {
        if txq != 0 {
            self.stats.add_tx_errors(batch.len() as u64);
            batch.clear();
            return Err(bad_queue(&self.name, "transmit queue", txq, 1));
        }
        let _tx = lock(&self.tx);
        let mut dropped = 0u64;
        let (sent, failed, bytes);
        if self.options.vnet {
            let hdrs: Vec<[u8; VnetHdr::LEN]> = batch
                .iter()
                .map(|p| p.vnet.unwrap_or_default().to_bytes())
                .collect();
            let frames: Vec<(Option<&[u8; VnetHdr::LEN]>, &[u8])> = batch
                .iter()
                .zip(&hdrs)
                .map(|(p, h)| (Some(h), p.data()))
                .collect();
            (sent, failed) = self.send_all(&frames);
            bytes = frames[..sent].iter().map(|f| f.1.len() as u64).sum::<u64>();
        } else {
            // Finish offloads here; segments follow their packet.
            let mut extra: Vec<(usize, Packet)> = Vec::new();
            let mut bad = vec![false; batch.len()];
            let mut tmp = Vec::new();
            for (i, p) in batch.iter_mut().enumerate() {
                if p.vnet.is_some() {
                    if offload::finish_in_software(p, &mut tmp).is_err() {
                        bad[i] = true;
                        dropped += 1;
                    }
                    extra.extend(tmp.drain(..).map(|s| (i, s)));
                }
            }
            let mut frames: Vec<(Option<&[u8; VnetHdr::LEN]>, &[u8])> = Vec::new();
            let mut e = 0;
            for (i, p) in batch.iter().enumerate() {
                if !bad[i] {
                    frames.push((None, p.data()));
                }
                while e < extra.len() && extra[e].0 == i {
                    frames.push((None, extra[e].1.data()));
                    e += 1;
                }
            }
            (sent, failed) = self.send_all(&frames);
            bytes = frames[..sent].iter().map(|f| f.1.len() as u64).sum::<u64>();
        }
        batch.clear();
        self.stats.add_tx(sent as u64, bytes);
        self.stats.add_tx_errors(failed as u64);
        self.stats.add_tx_dropped(dropped);
        Ok(sent)
    }

    fn stats(&self) -> NetdevStats {
        self.stats.snapshot()
    }

    fn mtu(&self) -> u32 {
        netif::mtu(&self.name).unwrap_or(1500)
    }

    fn set_mtu(&self, mtu: u32) -> io::Result<()> {
        netif::set_mtu(&self.name, mtu)
    }

    fn mac(&self) -> MacAddr {
        self.mac
    }

    fn set_options(&self, options: &[(String, String)]) -> io::Result<()> {
        let o = Options::parse(&self.name, self.options, options)?;
        if o != self.options {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{}: ring and vnet options apply only when the port is added",
                    self.name
                ),
            ));
        }
        Ok(())
    }

    fn wait_rx(&self, rxq: usize, timeout: Duration) -> bool {
        let _ = rxq;
        if lock(&self.ring).ready() {
            return true;
        }
        poll::wait_fd(self.sock.fd(), false, timeout)
    }

    fn rx_fd(&self, rxq: usize) -> Option<BorrowedFd<'_>> {
        (rxq == 0).then(|| self.sock.fd())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
