//! Poll threads ("PMD" threads in OVS): the receive loop of the fast path.
//!
//! Each poll thread owns a [`Pipeline`] (classifier, exact-match cache,
//! transmit batches) and polls the receive queues of the ports assigned
//! to it; every received batch goes through the pipeline's stages (see
//! [`crate::pipeline`]). The control plane never touches the pipeline: it
//! sends [`Update`]s over a channel and wakes the thread; the thread
//! applies them between batches, and again right after each receive, so
//! that a flow installed before a packet was injected is always seen by
//! that packet.
//!
//! # Polling
//!
//! - A kernel-backed queue (a socket, a tap) that was empty is polled only
//!   every [`KERNEL_IDLE_SKIP`]` + 1` rounds while other queues keep the
//!   thread busy: reading an empty one is a system call, which would cost
//!   more than the packets of a busy in-memory queue. As soon as a round
//!   receives nothing, every queue is polled again (then waited on).
//! - A queue whose source holds its packets while unpolled
//!   ([`netdev::Netdev::rx_holds`], a generator) is left alone while the
//!   upcall queues could not take a whole batch of misses: its packets
//!   wait, as in a NIC's ring, instead of being received and then lost.
//!   Other queues keep being received, and their misses dropped (and
//!   counted) when the upcall queues are full.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use netdev::{Batch, RxSignal};
use odp::key::PortNo;

use crate::dp::Shared;
use crate::flow::{now_ms, DpFlow};
use crate::pipeline::{Pipeline, N};
use crate::port::Port;

/// Rounds an empty kernel-backed queue is skipped while the thread is
/// busy: at most ~64 batches (tens of microseconds) of extra latency for
/// it, against a system call every few batches.
pub const KERNEL_IDLE_SKIP: u8 = 63;

/// How long a thread whose only busy queues are held sleeps before
/// looking at the upcall queues again.
const HELD_WAIT: Duration = Duration::from_micros(50);

/// A change the control plane asks a poll thread to make.
#[derive(Debug)]
pub enum Update {
    /// Start polling a port and allow output to it.
    AddPort(Arc<Port>),
    /// Stop polling a port and sending to it.
    DelPort(PortNo),
    /// Install flows.
    AddFlows(Vec<Arc<DpFlow>>),
    /// Remove a flow.
    DelFlow(Arc<DpFlow>),
    /// Remove every flow.
    Flush,
    /// Run only on this CPU from now on (as OVS's `pmd-cpu-mask` places
    /// its poll threads).
    Pin(usize),
    /// Leave the loop.
    Exit,
}

/// The control plane's handle on a poll thread.
#[derive(Debug)]
pub struct PmdHandle {
    tx: Sender<Update>,
    signal: Arc<RxSignal>,
    thread: Option<JoinHandle<()>>,
}

impl PmdHandle {
    /// Starts poll thread `id` of the datapath.
    pub fn start(id: usize, shared: Arc<Shared>) -> std::io::Result<PmdHandle> {
        let (tx, rx) = std::sync::mpsc::channel();
        let signal = Arc::new(RxSignal::new());
        let sig = signal.clone();
        let thread = std::thread::Builder::new()
            .name(format!("pmd{id}-{}", shared.name))
            .spawn(move || Pmd::new(id, shared, rx, sig).run())?;
        Ok(PmdHandle {
            tx,
            signal,
            thread: Some(thread),
        })
    }

    /// Sends an update and wakes the thread.
    pub fn send(&self, u: Update) {
        let _ = self.tx.send(u);
        self.signal.notify();
    }

    /// Stops the thread and waits for it.
    pub fn stop(&mut self) {
        self.send(Update::Exit);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for PmdHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One receive queue a poll thread polls.
struct RxQueue {
    port: Arc<Port>,
    q: usize,
    /// Kernel-backed: an empty poll is a system call.
    kernel: bool,
    /// Its source holds packets while unpolled.
    holds: bool,
    /// Rounds left before polling it again.
    skip: u8,
}

/// One poll thread's state.
struct Pmd {
    shared: Arc<Shared>,
    updates: Receiver<Update>,
    signal: Arc<RxSignal>,
    rxqs: Vec<RxQueue>,
    /// Whether every polled queue notifies `signal` or has a descriptor in
    /// `kwait` (else idle waits are short).
    all_signaled: bool,
    /// Idle waits on kernel-backed queues: see `idle_wait`.
    kwait: KernelWait,
    pipeline: Pipeline,
    exit: bool,
}

impl Pmd {
    fn new(
        id: usize,
        shared: Arc<Shared>,
        updates: Receiver<Update>,
        signal: Arc<RxSignal>,
    ) -> Pmd {
        Pmd {
            shared,
            updates,
            signal,
            rxqs: Vec::new(),
            all_signaled: true,
            kwait: KernelWait::default(),
            pipeline: Pipeline::new(id),
            exit: false,
        }
    }

    fn apply_updates(&mut self) {
        while let Ok(u) = self.updates.try_recv() {
            match u {
                Update::AddPort(p) => {
                    self.forget_port(p.no);
                    for q in 0..p.netdev.n_rxq() {
                        let signaled = p.netdev.attach_rx_signal(q, self.signal.clone());
                        let kernel = !signaled && self.kwait.watch(&self.signal, &*p.netdev, q);
                        if !signaled && !kernel {
                            self.all_signaled = false;
                        }
                        self.rxqs.push(RxQueue {
                            port: p.clone(),
                            q,
                            kernel: p.netdev.rx_fd(q).is_some(),
                            holds: p.netdev.rx_holds(q),
                            skip: 0,
                        });
                    }
                }
                Update::DelPort(no) => {
                    self.forget_port(no);
                    self.pipeline.tx.remove(no);
                }
                Update::AddFlows(flows) => {
                    for f in flows {
                        let key = f.packed_key();
                        let mask = f.packed_mask().clone();
                        let _ = self.pipeline.classifier.insert_key(&key, &mask, f);
                    }
                }
                Update::DelFlow(f) => {
                    let key = f.packed_key();
                    let classifier = &mut self.pipeline.classifier;
                    if let Some(old) = classifier.get(&key, f.packed_mask()) {
                        if Arc::ptr_eq(old, &f) {
                            classifier.remove_key(&key, f.packed_mask());
                        }
                    }
                }
                Update::Flush => {
                    self.pipeline.classifier.clear();
                    self.pipeline.emc.clear();
                }
                Update::Pin(cpu) => {
                    let mut set = rustix::thread::CpuSet::new();
                    set.set(cpu);
                    if let Err(e) = rustix::thread::sched_setaffinity(None, &set) {
                        log::warn!(
                            "{}: cannot pin poll thread to CPU {cpu}: {e}",
                            self.shared.name
                        );
                    }
                }
                Update::Exit => self.exit = true,
            }
        }
    }

    /// Stops polling port `no`'s queues.
    fn forget_port(&mut self, no: PortNo) {
        if let Some(old) = self.rxqs.iter().find(|x| x.port.no == no) {
            self.kwait.unwatch(&*old.port.netdev);
        }
        self.rxqs.retain(|x| x.port.no != no);
    }

    fn run(mut self) {
        let mut batch = Batch::new();
        let mut polls = 0u64;
        let mut next_sort = 0u64;
        loop {
            self.apply_updates();
            if self.exit {
                break;
            }
            let gen = self.signal.generation();
            let (got, held) = self.poll_round(&mut batch);
            polls += 1;
            if polls & 63 == 0 {
                self.pipeline.emc.sweep(64);
                // Re-rank the subtables once a second (as OVS does): more
                // often, equally busy subtables trade places on noise.
                let now = now_ms();
                if now >= next_sort {
                    self.pipeline.classifier.sort_subtables();
                    self.pipeline.emc_use.review();
                    next_sort = now + 1000;
                }
            }
            if got == 0 {
                for rxq in &mut self.rxqs {
                    rxq.skip = 0;
                }
                if held {
                    self.signal.wait_since(gen, HELD_WAIT);
                } else {
                    self.idle_wait(gen);
                }
            }
        }
    }

    /// The receive stage: polls every queue once (see the module docs for
    /// the queues it skips) and runs each received batch through the
    /// pipeline. Returns the packets received and whether a held queue was
    /// left unpolled.
    fn poll_round(&mut self, batch: &mut Batch) -> (usize, bool) {
        let mut got = 0;
        let mut held = false;
        // Asked at most once a round, and only when a queue holds.
        let mut room: Option<bool> = None;
        for r in 0..self.rxqs.len() {
            // An update applied after a receive may have removed queues.
            let Some(rxq) = self.rxqs.get_mut(r) else {
                break;
            };
            if rxq.skip > 0 {
                rxq.skip -= 1;
                continue;
            }
            if rxq.holds && !*room.get_or_insert_with(|| self.shared.upcalls.has_room(N)) {
                held = true;
                continue;
            }
            let port = rxq.port.clone();
            batch.clear();
            match port.netdev.rxq_recv(rxq.q, batch) {
                Ok(0) => {
                    if rxq.kernel {
                        rxq.skip = KERNEL_IDLE_SKIP;
                    }
                }
                Ok(n) => {
                    got += n;
                    self.apply_updates();
                    self.pipeline.run(&self.shared, batch, port.no);
                    // Each batch may fill the upcall queues.
                    room = None;
                }
                Err(e) => {
                    log::warn!("{}: receive on {} failed: {e}", self.shared.name, port.name)
                }
            }
        }
        (got, held)
    }

    /// Waits, with nothing received in the last round, until a queue may
    /// have packets or an update comes (`gen`: the signal's generation read
    /// before polling).
    ///
    /// With kernel-backed queues (sockets, taps) the thread blocks in epoll
    /// on their descriptors together with the signal's eventfd, so an idle
    /// switch sleeps; with busy polling it does not wait at all. With only
    /// in-memory queues it waits on the signal as before.
    fn idle_wait(&mut self, gen: u64) {
        let busy = self.shared.busy_poll.load(Ordering::Relaxed);
        if let Some(poller) = self.kwait.poller.as_mut().filter(|_| self.kwait.n_fds > 0) {
            if busy {
                std::hint::spin_loop();
                return;
            }
            let timeout = if self.all_signaled {
                Duration::from_millis(100)
            } else {
                Duration::from_micros(200)
            };
            if let Err(e) = poller.wait(Some(timeout), |_| {}) {
                log::warn!("{}: poll thread wait failed: {e}", self.shared.name);
                std::thread::sleep(Duration::from_millis(1));
            }
            // Notifications from now on make the eventfd readable again;
            // earlier ones are seen by the next round of polling.
            self.signal.clear_wake_fd();
            return;
        }
        let timeout = if self.all_signaled && !busy {
            Duration::from_millis(100)
        } else {
            Duration::from_micros(200)
        };
        self.signal.wait_since(gen, timeout);
    }
}

/// Whether a poll thread should spin instead of blocking when idle.
pub type BusyPoll = AtomicBool;

/// A poll thread's epoll set over its kernel-backed receive queues and its
/// signal's eventfd, made when the first such queue arrives.
#[derive(Default)]
struct KernelWait {
    poller: Option<netdev::Poller>,
    /// Queue descriptors registered.
    n_fds: usize,
}

impl KernelWait {
    /// Token of the signal's eventfd.
    const SIGNAL: u64 = u64::MAX;

    /// Registers queue `q` of `dev` if it has a descriptor; returns whether
    /// the thread will now wake for it.
    fn watch(&mut self, signal: &RxSignal, dev: &dyn netdev::Netdev, q: usize) -> bool {
        let Some(fd) = dev.rx_fd(q) else {
            return false;
        };
        if self.poller.is_none() {
            let p = netdev::Poller::new().and_then(|p| {
                p.add(signal.wake_fd()?, KernelWait::SIGNAL)?;
                Ok(p)
            });
            match p {
                Ok(p) => self.poller = Some(p),
                Err(e) => {
                    log::warn!("{}: no epoll set, polling instead: {e}", dev.name());
                    return false;
                }
            }
        }
        let Some(p) = &self.poller else { return false };
        match p.add(fd, q as u64) {
            Ok(()) => {
                self.n_fds += 1;
                true
            }
            Err(e) => {
                log::warn!("{}: cannot wait for queue {q}: {e}", dev.name());
                false
            }
        }
    }

    /// Unregisters every queue of `dev`.
    fn unwatch(&mut self, dev: &dyn netdev::Netdev) {
        let Some(p) = &self.poller else { return };
        for q in 0..dev.n_rxq() {
            if let Some(fd) = dev.rx_fd(q) {
                if p.remove(fd).is_ok() {
                    self.n_fds -= 1;
                }
            }
        }
    }
}
