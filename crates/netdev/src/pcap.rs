//! The `pcap` netdev: receives packets from a capture file and transmits
//! them into another.
//!
//! # Options
//!
//! | key        | value                                   | default |
//! |------------|-----------------------------------------|---------|
//! | `rx_pcap`  | path of a pcap file to receive from; empty closes it | none |
//! | `loop`     | `true`: start over at the end of the file | `false` |
//! | `tx_pcap`  | path of a pcap file to create (truncated) and append transmitted frames to; empty closes it | none |
//! | `snaplen`  | 64..=262144: longest frame part written to `tx_pcap` | 262144 |
//! | `mtu`      | 68..=65535, reported only                | 1500    |
//!
//! Setting `rx_pcap` or `tx_pcap` to the path already open keeps the open
//! file; a new path opens (and checks) the new file before the old one is
//! closed, so a failed `set_options` changes nothing.
//!
//! # Receive
//!
//! One receive queue. Each call reads up to the batch's free space of
//! records, ignoring their timestamps (no pacing). Receive does not wait
//! for packets, but it does read the file: `rx_pcap` should be a regular
//! file (a FIFO would make receive block until its writer writes). At the end of the file
//! the queue is empty for good, unless `loop=true`, which rewinds to the
//! first record (a file with no record stays empty); setting `loop=true`
//! after the end also starts over. A malformed file (bad
//! magic, unsupported version or link type, truncated record, captured
//! length above 262144) is an [`io::ErrorKind::InvalidData`] error: from
//! `set_options` for a bad global header, else from receive, after which the
//! file is closed. Reading never allocates more than one record's length.
//!
//! # Transmit
//!
//! One transmit queue; its lock serializes senders. Each frame becomes a
//! record stamped with the current time, cut to `snaplen` bytes (the
//! record keeps the original length). The file is flushed after every
//! batch, so it is always readable by tcpdump or Wireshark up to the last
//! complete batch. Without `tx_pcap` transmitted frames are dropped and
//! counted in `tx_dropped`. A write error fails that `send` (its frames
//! counted in `tx_errors`) and closes the file, which may end in a partial
//! record; later frames are dropped until `tx_pcap` is set again.

use std::any::Any;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::pcapfile::{self, Header, DEFAULT_SNAPLEN, GLOBAL_HEADER_LEN, MAX_CAPLEN};
use crate::{bad_queue, next_local_mac, opt, Batch, MacAddr, Netdev, NetdevStats, StatsCounters};

/// Locks `m`, ignoring poisoning (the states here stay consistent).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Adds the path to an error's message, keeping its kind.
fn with_path(e: io::Error, dev: &str, path: &std::path::Path) -> io::Error {
    io::Error::new(e.kind(), format!("{dev}: {}: {e}", path.display()))
}

/// The receive side.
struct RxFile {
    /// Path, to compare on reconfiguration and for messages.
    path: PathBuf,
    /// The open file, after its global header.
    reader: BufReader<File>,
    /// The file's global header.
    header: Header,
    /// Records read since the last rewind (to stop looping on a file with
    /// no record).
    read_since_rewind: u64,
    /// The file was read to its end (and is not looping) or failed.
    done: bool,
    /// Reading failed: the file is never read again.
    failed: bool,
    /// A failure to report on the next receive.
    pending_error: Option<io::Error>,
}

impl RxFile {
    /// Opens `path` and checks its global header.
    fn open(dev: &str, path: PathBuf) -> io::Result<RxFile> {
        let file = File::open(&path).map_err(|e| with_path(e, dev, &path))?;
        let mut reader = BufReader::new(file);
        let header = pcapfile::read_header(&mut reader).map_err(|e| with_path(e, dev, &path))?;
        Ok(RxFile {
            path,
            reader,
            header,
            read_since_rewind: 0,
            done: false,
            failed: false,
            pending_error: None,
        })
    }
}

/// The transmit side.
struct TxFile {
    /// Path, to compare on reconfiguration.
    path: PathBuf,
    /// The file being appended to.
    writer: BufWriter<File>,
}

impl TxFile {
    /// Creates (truncates) `path` and writes the global header.
    fn create(dev: &str, path: PathBuf, snaplen: u32) -> io::Result<TxFile> {
        let file = File::create(&path).map_err(|e| with_path(e, dev, &path))?;
        let mut writer = BufWriter::new(file);
        pcapfile::write_header(&mut writer, snaplen)
            .and_then(|()| writer.flush())
            .map_err(|e| with_path(e, dev, &path))?;
        Ok(TxFile { path, writer })
    }
}

/// A netdev backed by pcap files; see the [module documentation](self).
pub struct PcapNetdev {
    /// Device name.
    name: String,
    /// Ethernet address.
    mac: MacAddr,
    /// MTU (reported only).
    mtu: AtomicU32,
    /// Snapshot length for transmitted records.
    snaplen: AtomicU32,
    /// Looping on the receive file.
    looping: AtomicBool,
    /// The receive file; the lock serializes receivers.
    rx: Mutex<Option<RxFile>>,
    /// The transmit file; the lock serializes senders.
    tx: Mutex<Option<TxFile>>,
    /// Counters.
    stats: StatsCounters,
}

impl PcapNetdev {
    /// A pcap netdev named `name` configured by `options` (see the
    /// [module documentation](self)); fails if a file cannot be opened or
    /// is not a valid Ethernet pcap file.
    pub fn open(name: &str, options: &[(String, String)]) -> io::Result<PcapNetdev> {
        let d = PcapNetdev {
            name: name.to_owned(),
            mac: next_local_mac(),
            mtu: AtomicU32::new(1500),
            snaplen: AtomicU32::new(DEFAULT_SNAPLEN),
            looping: AtomicBool::new(false),
            rx: Mutex::new(None),
            tx: Mutex::new(None),
            stats: StatsCounters::default(),
        };
        d.set_options(options)?;
        Ok(d)
    }

    /// Reads up to the batch's free space of records from `rx`.
    fn read_records(&self, rx: &mut RxFile, looping: bool, batch: &mut Batch) -> io::Result<usize> {
        let mut n = 0;
        let mut bytes = 0u64;
        let mut result = Ok(());
        while !batch.is_full() {
            let Some(slot) = batch.next_slot() else {
                break;
            };
            match pcapfile::read_record(&mut rx.reader, &rx.header, slot) {
                Ok(true) => {
                    bytes += slot.len() as u64;
                    n += 1;
                    rx.read_since_rewind += 1;
                }
                Ok(false) => {
                    batch.truncate(batch.len() - 1);
                    if looping && rx.read_since_rewind > 0 {
                        rx.read_since_rewind = 0;
                        if let Err(e) = rx.reader.seek(SeekFrom::Start(GLOBAL_HEADER_LEN)) {
                            result = Err(e);
                            break;
                        }
                    } else {
                        // The end, or a looping file with no record.
                        rx.done = true;
                        break;
                    }
                }
                Err(e) => {
                    batch.truncate(batch.len() - 1);
                    result = Err(e);
                    break;
                }
            }
        }
        self.stats.add_rx(n as u64, bytes);
        if let Err(e) = result {
            rx.done = true;
            rx.failed = true;
            let e = with_path(e, &self.name, &rx.path);
            if n == 0 {
                self.stats.add_rx_errors(1);
                return Err(e);
            }
            rx.pending_error = Some(e);
        }
        Ok(n)
    }
}

impl Netdev for PcapNetdev {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        "pcap"
    }

    fn n_rxq(&self) -> usize {
        1
    }

    fn rxq_recv(&self, rxq: usize, batch: &mut Batch) -> io::Result<usize> {
        if rxq != 0 {
            return Err(bad_queue(&self.name, "receive queue", rxq, 1));
        }
        let looping = self.looping.load(Ordering::Relaxed);
        let mut rx = lock(&self.rx);
        let Some(rx) = rx.as_mut() else {
            return Ok(0);
        };
        if let Some(e) = rx.pending_error.take() {
            self.stats.add_rx_errors(1);
            return Err(e);
        }
        if rx.done {
            return Ok(0);
        }
        self.read_records(rx, looping, batch)
    }

    fn send(&self, txq: usize, batch: &mut Batch) -> io::Result<usize> {
        let n = batch.len();
        if txq != 0 {
            self.stats.add_tx_errors(n as u64);
            batch.clear();
            return Err(bad_queue(&self.name, "transmit queue", txq, 1));
        }
        let mut guard = lock(&self.tx);
        let Some(tx) = guard.as_mut() else {
            self.stats.add_tx_dropped(n as u64);
            batch.clear();
            return Ok(0);
        };
        let snaplen = self.snaplen.load(Ordering::Relaxed);
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        // A capture holds frames as on the wire: offloads are finished
        // here (checksums completed, large segments cut).
        let mut segs = Vec::new();
        let written = batch
            .iter_mut()
            .try_for_each(|p| {
                segs.clear();
                if p.vnet.is_some() && crate::offload::finish_in_software(p, &mut segs).is_err() {
                    return Ok(());
                }
                std::iter::once(&*p)
                    .chain(&segs)
                    .try_for_each(|p| pcapfile::write_record(&mut tx.writer, ts, p.data(), snaplen))
            })
            .and_then(|()| tx.writer.flush());
        let bytes = batch.bytes();
        batch.clear();
        match written {
            Ok(()) => {
                self.stats.add_tx(n as u64, bytes);
                Ok(n)
            }
            Err(e) => {
                self.stats.add_tx_errors(n as u64);
                let e = with_path(e, &self.name, &tx.path);
                // The file may end in a partial record now: stop writing.
                *guard = None;
                Err(e)
            }
        }
    }

    fn stats(&self) -> NetdevStats {
        self.stats.snapshot()
    }

    fn mtu(&self) -> u32 {
        self.mtu.load(Ordering::Relaxed)
    }

    fn set_mtu(&self, mtu: u32) -> io::Result<()> {
        let mtu = opt::number(&self.name, "mtu", &mtu.to_string(), 68, 65535)?;
        self.mtu.store(mtu, Ordering::Relaxed);
        Ok(())
    }

    fn mac(&self) -> MacAddr {
        self.mac
    }

    fn set_options(&self, options: &[(String, String)]) -> io::Result<()> {
        let dev = self.name.as_str();
        let mut rx_path = None;
        let mut tx_path = None;
        let mut looping = None;
        let mut snaplen = None;
        let mut mtu = None;
        for (k, v) in options {
            match k.as_str() {
                "rx_pcap" => rx_path = Some(PathBuf::from(v)),
                "tx_pcap" => tx_path = Some(PathBuf::from(v)),
                "loop" => looping = Some(opt::boolean(dev, k, v)?),
                "snaplen" => snaplen = Some(opt::number(dev, k, v, 64, MAX_CAPLEN)?),
                "mtu" => mtu = Some(opt::number(dev, k, v, 68, 65535)?),
                _ => return Err(opt::unknown(dev, k)),
            }
        }
        let snaplen = snaplen.unwrap_or_else(|| self.snaplen.load(Ordering::Relaxed));

        // Open new files first, so that a failure changes nothing.
        let mut rx = lock(&self.rx);
        let mut tx = lock(&self.tx);
        let changed = |cur: Option<&PathBuf>, new: &PathBuf| cur != Some(new);
        let new_rx = match &rx_path {
            Some(p) if p.as_os_str().is_empty() => Some(None),
            Some(p) if changed(rx.as_ref().map(|r| &r.path), p) => {
                Some(Some(RxFile::open(dev, p.clone())?))
            }
            _ => None,
        };
        let new_tx = match &tx_path {
            Some(p) if p.as_os_str().is_empty() => Some(None),
            Some(p) if changed(tx.as_ref().map(|t| &t.path), p) => {
                Some(Some(TxFile::create(dev, p.clone(), snaplen)?))
            }
            _ => None,
        };
        if let Some(r) = new_rx {
            *rx = r;
        }
        if let Some(t) = new_tx {
            *tx = t;
        }
        self.snaplen.store(snaplen, Ordering::Relaxed);
        if let Some(l) = looping {
            self.looping.store(l, Ordering::Relaxed);
            // Looping turned on after the end of the file: start over.
            if let Some(r) = rx.as_mut().filter(|r| l && r.done && !r.failed) {
                r.done = false;
            }
        }
        if let Some(m) = mtu {
            self.mtu.store(m, Ordering::Relaxed);
        }
        Ok(())
    }

    fn wait_rx(&self, rxq: usize, timeout: Duration) -> bool {
        let ready = rxq == 0
            && lock(&self.rx)
                .as_ref()
                .is_some_and(|r| !r.done || r.pending_error.is_some());
        if !ready {
            std::thread::sleep(timeout);
        }
        ready
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
