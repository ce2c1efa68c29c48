//! Where executed packets go: per-port transmit batches, action upcalls,
//! recirculation.
//!
//! [`TxPorts`] is the one place packets are sent from: each output port
//! has a transmit [`Batch`]; packets are moved (or, for actions that keep
//! the packet, copied) into it, a full batch is sent at once, and the
//! pipeline's send stage ([`TxPorts::flush`]) sends the rest once per
//! received batch.
//!
//! [`DpSink`] is the executor's [`Sink`]: outputs go to `TxPorts`,
//! `userspace` actions become action upcalls, `recirc` actions queue the
//! packet for the recirculation loop. Runs on a poll thread (or, for a
//! dpif `execute`, on the caller's thread): allocates only for upcalls and
//! for packets it must copy.

use std::sync::Arc;

use dpif::UpcallKind;
use netdev::{Batch, Packet};
use odp::action::{Action, Userspace};
use odp::execute::{Layers, PacketBuf, Sink};
use odp::flow::Flow;
use odp::key::{PortNo, RecircId};

use crate::dp::Shared;
use crate::port::Port;
use crate::rng::Rng;

/// A packet buffer the executor edits: a `netdev::Packet`, with the
/// header offsets the extractor found, if any (forgotten as soon as the
/// packet grows or shrinks at either end).
#[derive(Clone, Debug, Default)]
pub struct Pkt(pub Packet, pub Option<Layers>, pub u16);

impl PacketBuf for Pkt {
    fn data(&self) -> &[u8] {
        self.0.data()
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self.0.data_mut()
    }
    fn push_front(&mut self, n: usize) {
        self.1 = None;
        self.0.push_front(n);
    }
    fn pull_front(&mut self, n: usize) {
        self.1 = None;
        let _ = self.0.pull_front(n);
    }
    fn truncate(&mut self, len: usize) {
        self.1 = None;
        self.0.truncate(len);
    }
    fn layers(&self) -> Layers {
        self.1.unwrap_or_else(|| Layers::parse(self.0.data()))
    }
}

/// The connection tracker's view of a packet: its bytes; a length change
/// (reassembly) forgets the header offsets.
impl conntrack::CtBuf for Pkt {
    fn data(&self) -> &[u8] {
        self.0.data()
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self.0.data_mut()
    }
    fn set_len(&mut self, len: usize) {
        let cur = self.0.len();
        if len != cur {
            self.1 = None;
            if len < cur {
                self.0.truncate(len);
            } else {
                self.0.resize(len);
            }
        }
    }
}

/// A packet to recirculate, with its metadata.
pub type Recirc = (Pkt, Flow);

/// One output port and its transmit batch.
struct TxPort {
    port: Arc<Port>,
    batch: Batch,
}

impl TxPort {
    /// Sends the batch (which the netdev drains).
    #[inline]
    fn send(&mut self, txq: usize) {
        if self.batch.is_empty() {
            return;
        }
        let n = self.port.netdev.n_txq().max(1);
        let _ = self.port.netdev.send(txq % n, &mut self.batch);
    }
}

/// The transmit batches of one thread, by output port.
pub struct TxPorts {
    ports: Vec<TxPort>,
    /// Transmit queue this thread uses on every port.
    txq: usize,
}

impl TxPorts {
    /// No ports yet; sends go to queue `txq` (modulo each port's count).
    pub fn new(txq: usize) -> TxPorts {
        TxPorts {
            ports: Vec::new(),
            txq,
        }
    }

    /// The port numbered `no`, found among those already used or in the
    /// datapath (a port added since, or not polled by this thread).
    #[inline]
    fn slot(&mut self, shared: &Shared, no: PortNo) -> Option<&mut TxPort> {
        match self.ports.iter().position(|t| t.port.no == no) {
            Some(i) => self.ports.get_mut(i),
            None => {
                let port = shared.port(no)?;
                self.ports.push(TxPort {
                    port,
                    batch: Batch::new(),
                });
                self.ports.last_mut()
            }
        }
    }

    /// Outputs `packet` to port `no` by moving its buffer into the port's
    /// batch; `packet` gets a spare buffer back. Offload metadata (a vnet
    /// header) moves with the buffer.
    #[inline]
    pub fn push_move(&mut self, shared: &Shared, no: PortNo, packet: &mut Packet) {
        let txq = self.txq;
        let Some(t) = self.slot(shared, no) else {
            return;
        };
        if t.batch.is_full() {
            t.send(txq);
        }
        t.batch.push_swap(packet);
    }

    /// Outputs all of `batch` to port `no` (every packet of a received
    /// batch matched one flow whose action is that output): swaps the
    /// whole batch in when the port's batch is empty, else moves packet
    /// by packet. `batch` is left with spare buffers only.
    #[inline]
    pub fn push_batch(&mut self, shared: &Shared, no: PortNo, batch: &mut Batch) {
        let txq = self.txq;
        let Some(t) = self.slot(shared, no) else {
            batch.clear();
            return;
        };
        if t.batch.is_empty() {
            std::mem::swap(&mut t.batch, batch);
            batch.clear();
            return;
        }
        for p in batch.packets_mut() {
            if t.batch.is_full() {
                t.send(txq);
            }
            t.batch.push_swap(p);
        }
        batch.clear();
    }

    /// Outputs a copy of `data` (the first `len` bytes of a packet the
    /// actions go on with) to port `no`; `vnet` goes with a whole packet.
    pub fn push_copy(
        &mut self,
        shared: &Shared,
        no: PortNo,
        data: &[u8],
        vnet: Option<netdev::offload::VnetHdr>,
    ) {
        let txq = self.txq;
        let Some(t) = self.slot(shared, no) else {
            return;
        };
        if t.batch.is_full() {
            t.send(txq);
        }
        if t.batch.push_copy(data) {
            if let Some(last) = t.batch.packets_mut().last_mut() {
                last.vnet = vnet;
            }
        }
    }

    /// The send stage: sends every pending batch.
    pub fn flush(&mut self) {
        let txq = self.txq;
        for t in &mut self.ports {
            t.send(txq);
        }
    }

    /// Forgets port `no` (deleted).
    pub fn remove(&mut self, no: PortNo) {
        self.ports.retain(|t| t.port.no != no);
    }
}

/// The executor's [`Sink`] (see the module docs).
pub struct DpSink<'a> {
    /// The datapath.
    pub shared: &'a Shared,
    /// Transmit batches.
    pub tx: &'a mut TxPorts,
    /// Packets to recirculate.
    pub recirc: &'a mut Vec<Recirc>,
    /// The poll thread's random numbers (`sample` actions).
    pub rng: &'a mut Rng,
}

impl Sink<Pkt> for DpSink<'_> {
    fn output(&mut self, port: PortNo, packet: &Pkt, _md: &Flow, trunc: Option<u32>) {
        if packet.2 != 0 && trunc.is_none() {
            // Reassembled by the connection tracker: out as fragments of
            // at most the largest size received, as the kernel's
            // `ovs_fragment` does with the packet's MRU.
            let l = packet.layers();
            if let (Some(l3), 0x0800 | 0x86dd) = (l.l3, l.dl_type) {
                let ident = self.rng.next_u32();
                let (shared, tx) = (self.shared, &mut *self.tx);
                let sent = conntrack::ipf::refragment(
                    packet.data(),
                    l3,
                    l.dl_type == 0x86dd,
                    packet.2,
                    ident,
                    |frag| tx.push_copy(shared, port, frag, None),
                );
                if sent {
                    return;
                }
            }
        }
        let data = packet.data();
        let len = trunc.map_or(data.len(), |t| (t as usize).min(data.len()));
        let vnet = if len == data.len() {
            packet.0.vnet
        } else {
            None
        };
        self.tx.push_copy(self.shared, port, &data[..len], vnet);
    }

    fn userspace(&mut self, action: &Userspace, packet: &Pkt, md: &Flow) {
        if self.shared.listen().action {
            // The key as it is now, as the kernel's action upcalls carry it:
            // the packet's headers after the actions so far, and its
            // metadata (conntrack state included).
            let flow = odp::extract::extract(packet.data(), md);
            self.shared.upcalls.queue(
                UpcallKind::Action,
                packet.data(),
                &flow,
                action.userdata.clone(),
                action.pid,
                packet.2,
            );
        } else {
            self.shared.upcalls.count_lost(1);
        }
    }

    fn recirc(&mut self, _id: RecircId, packet: Pkt, md: &Flow) {
        self.recirc.push((packet, *md));
    }

    fn random(&mut self) -> u32 {
        self.rng.next_u32()
    }

    fn meter(&mut self, _id: u32, _packet: &Pkt) -> bool {
        // No meters are configured: every packet passes.
        true
    }

    fn other(&mut self, action: &Action, packet: &mut Pkt, md: &mut Flow) -> bool {
        // Validation keeps unsupported actions out of flows and executes.
        match action {
            // The connection tracker sets the `ct_*` fields of `md` (and
            // rewrites the packet for NAT); the `recirc` that follows in
            // the flow's actions sends it back through the pipeline with
            // that state, as the kernel does.
            Action::Ct(c) => {
                let ct = &self.shared.conntrack;
                // Validated at install; a policy deleted since is refused.
                let Ok(a) = ct.action(c) else {
                    return false;
                };
                let r = ct.execute(packet, md, &a, c.zone.unwrap_or(0), crate::flow::now_ms());
                if r.mru != 0 {
                    packet.2 = r.mru;
                }
                r.verdict == conntrack::Verdict::Continue
            }
            _ => false,
        }
    }
}
