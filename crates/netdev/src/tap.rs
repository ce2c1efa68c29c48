//! The `tap` and `internal` netdevs: a Linux tap device.
//!
//! The netdev creates tap device `name` (or attaches to an existing
//! persistent one) and exchanges Ethernet frames with the host's stack
//! through it: what the datapath sends to the port, the host receives on
//! the interface, and what the host transmits on the interface the
//! datapath receives. A `tap` device is brought up. `internal` is the same
//! device under another kind, the datapath's local port named after the
//! datapath; as with Open vSwitch's internal ports it is left down (the
//! host sends nothing on it) until the administrator brings it up.
//!
//! Frames carry a `virtio_net_hdr` (option `vnet`, on by default, with
//! checksum and TSO offloads accepted), so the host's large TCP segments
//! and unfinished checksums arrive as they are, their header in
//! [`crate::Packet::vnet`], and such packets sent to the tap are handed to the
//! host stack unfinished, which accepts them. Without `vnet`, offloads
//! are finished in software on transmit
//! ([`crate::offload::finish_in_software`]).
//!
//! One receive and one transmit queue; reads and writes are non-blocking,
//! one system call per frame. The device disappears when the netdev is
//! dropped (unless it was made persistent by someone else).
//!
//! Errors on open: an invalid name is [`io::ErrorKind::InvalidInput`];
//! no access to `/dev/net/tun` or no `CAP_NET_ADMIN` is
//! [`io::ErrorKind::PermissionDenied`]; no tun driver is
//! [`io::ErrorKind::NotFound`].

use std::any::Any;
use std::fs::File;
use std::io::{self, IoSlice, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::offload::{self, VnetHdr};
use crate::sys::{netif, poll, tap};
use crate::{bad_queue, opt, Batch, MacAddr, Netdev, NetdevStats, StatsCounters};

/// Largest frame read from the device (a 64 KiB segment, its Ethernet
/// header and tags), plus the vnet header.
const READ_BUF: usize = 65536 + 64 + VnetHdr::LEN;

/// A `tap` or `internal` netdev: see the [module documentation](self).
pub struct TapNetdev {
    name: String,
    kind: &'static str,
    file: File,
    vnet: bool,
    /// Receive scratch buffer (one frame).
    rx: Mutex<Vec<u8>>,
    tx: Mutex<()>,
    mac: MacAddr,
    stats: StatsCounters,
}

impl std::fmt::Debug for TapNetdev {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapNetdev")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("vnet", &self.vnet)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl TapNetdev {
    /// Creates tap device `name` of netdev kind `kind` (`"tap"`, brought
    /// up, or `"internal"`, left down). Option: `vnet` (`true`/`false`).
    pub fn open(
        kind: &'static str,
        name: &str,
        options: &[(String, String)],
    ) -> io::Result<TapNetdev> {
        let mut vnet = true;
        for (k, v) in options {
            match k.as_str() {
                "vnet" => vnet = opt::boolean(name, k, v)?,
                _ => return Err(opt::unknown(name, k)),
            }
        }
        let file = tap::open(name, vnet)?;
        if kind == "tap" {
            netif::set_up(name)?;
        }
        let mac = netif::mac(name)?;
        Ok(TapNetdev {
            name: name.to_string(),
            kind,
            file,
            vnet,
            rx: Mutex::new(vec![0; READ_BUF]),
            tx: Mutex::new(()),
            mac,
            stats: StatsCounters::default(),
        })
    }

    fn write_frame(&self, hdr: Option<&[u8; VnetHdr::LEN]>, data: &[u8]) -> io::Result<()> {
        let want = hdr.map_or(0, |h| h.len()) + data.len();
        let n = match hdr {
            Some(h) => (&self.file).write_vectored(&[IoSlice::new(h), IoSlice::new(data)])?,
            None => (&self.file).write(data)?,
        };
        if n != want {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "short write to tap",
            ));
        }
        Ok(())
    }
}

impl Netdev for TapNetdev {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        self.kind
    }

    fn n_rxq(&self) -> usize {
        1
    }

    fn rxq_recv(&self, rxq: usize, batch: &mut Batch) -> io::Result<usize> {
        if rxq != 0 {
            return Err(bad_queue(&self.name, "receive queue", rxq, 1));
        }
        let mut buf = lock(&self.rx);
        let (mut n, mut bytes) = (0usize, 0u64);
        let hl = if self.vnet { VnetHdr::LEN } else { 0 };
        let mut result = Ok(());
        while batch.free_space() > 0 {
            let len = match (&self.file).read(&mut buf[..]) {
                Ok(len) => len,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.stats.add_rx_errors(1);
                    result = Err(e);
                    break;
                }
            };
            if len < hl + 14 {
                self.stats.add_rx_errors(1);
                continue;
            }
            let Some(slot) = batch.next_slot() else { break };
            slot.copy_from(&buf[hl..len]);
            if self.vnet {
                let mut h = [0u8; VnetHdr::LEN];
                h.copy_from_slice(&buf[..VnetHdr::LEN]);
                slot.vnet = Some(VnetHdr::from_bytes(&h)).filter(|h| !h.is_plain());
            }
            n += 1;
            bytes += (len - hl) as u64;
        }
        drop(buf);
        self.stats.add_rx(n as u64, bytes);
        // Packets first; an error with nothing received is reported now.
        match result {
            Err(e) if n == 0 => Err(e),
            _ => Ok(n),
        }
    }

    fn send(&self, txq: usize, batch: &mut Batch) -> io::Result<usize> {
        if txq != 0 {
            self.stats.add_tx_errors(batch.len() as u64);
            batch.clear();
            return Err(bad_queue(&self.name, "transmit queue", txq, 1));
        }
        let _tx = lock(&self.tx);
        let (mut sent, mut bytes, mut errors, mut dropped) = (0u64, 0u64, 0u64, 0u64);
        let mut extra = Vec::new();
        for p in batch.iter_mut() {
            let r = if self.vnet {
                let h = p.vnet.unwrap_or_default().to_bytes();
                self.write_frame(Some(&h), p.data()).map(|()| 1)
            } else {
                extra.clear();
                match offload::finish_in_software(p, &mut extra) {
                    Err(_) => {
                        dropped += 1;
                        continue;
                    }
                    Ok(()) => std::iter::once(p.data())
                        .chain(extra.iter().map(|s| s.data()))
                        .try_fold(0, |k, d| self.write_frame(None, d).map(|()| k + 1)),
                }
            };
            match r {
                Ok(k) => {
                    sent += k;
                    bytes += p.len() as u64;
                }
                // The host is not reading fast enough: drop.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => dropped += 1,
                Err(_) => errors += 1,
            }
        }
        batch.clear();
        self.stats.add_tx(sent, bytes);
        self.stats.add_tx_errors(errors);
        self.stats.add_tx_dropped(dropped);
        Ok(sent as usize)
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
        for (k, v) in options {
            match k.as_str() {
                "vnet" if opt::boolean(&self.name, k, v)? == self.vnet => {}
                "vnet" => {
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        format!("{}: vnet applies only when the port is added", self.name),
                    ))
                }
                _ => return Err(opt::unknown(&self.name, k)),
            }
        }
        Ok(())
    }

    fn wait_rx(&self, rxq: usize, timeout: Duration) -> bool {
        let _ = rxq;
        poll::wait_fd(self.file.as_fd(), false, timeout)
    }

    fn rx_fd(&self, rxq: usize) -> Option<BorrowedFd<'_>> {
        (rxq == 0).then(|| self.file.as_fd())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
