//! Packet buffers and batches for the fast path.
//!
//! # Ownership and allocation rules
//!
//! - A [`Packet`] owns one heap buffer. Its bytes live in a window
//!   `[start, end)` of that buffer; the bytes before the window are the
//!   *headroom*, the bytes after it the *tailroom*. Pushing a header
//!   ([`Packet::push_front`]) moves `start` back into the headroom and
//!   pulling one ([`Packet::pull_front`]) moves it forward: neither copies
//!   the payload nor allocates while the room suffices.
//! - A packet allocates only when it is created, and when an operation
//!   needs more headroom or tailroom than the buffer has (a jumbo frame in
//!   a default-sized buffer, or more headers pushed than
//!   [`DEFAULT_HEADROOM`] holds). Such a reallocation keeps the contents
//!   and is the slow path; it never happens for frames up to
//!   [`DEFAULT_ROOM`] bytes with at most [`DEFAULT_HEADROOM`] bytes of
//!   pushed headers.
//! - [`Packet::reset`] and [`Packet::copy_from`] make a buffer ready for
//!   a new packet without freeing it: the start goes back to the default
//!   headroom, the length to 0 (or the copied length), the metadata to
//!   its defaults.
//! - A [`Batch`] owns a pool of up to [`BATCH_SIZE`] packets. The first
//!   [`Batch::len`] of them are the batch's packets; the rest are spare
//!   buffers kept for reuse. [`Batch::clear`] (and every provider's
//!   `send`, which drains the batch) only moves the boundary: the buffers
//!   stay in the pool, so a receive loop that clears and refills the same
//!   batch allocates nothing in steady state.
//! - Packets change hands by *swapping* buffers ([`Batch::push_swap`],
//!   [`Batch::swap_packet`]) so that both sides keep a buffer and nothing
//!   is freed or allocated. [`Batch::push`] takes an owned packet and frees
//!   the spare it displaces; it is meant for tests and slow paths.

use std::fmt;

/// The most packets a [`Batch`] holds.
pub const BATCH_SIZE: usize = 32;

/// Headroom reserved in front of a packet's data by default: room for an
/// outer Ethernet + IPv6 + UDP + Geneve-with-options tunnel header, or for
/// many VLAN and MPLS headers, without reallocating.
pub const DEFAULT_HEADROOM: usize = 128;

/// Data room of a default buffer: an Ethernet frame of MTU 1500 with two
/// VLAN tags fits with a wide margin.
pub const DEFAULT_ROOM: usize = 2048;

/// An owned packet buffer with headroom, plus per-packet metadata.
///
/// See the [module documentation](self) for the allocation rules.
#[derive(Clone)]
pub struct Packet {
    /// The whole buffer; always fully initialised (`buf.len()` is the
    /// capacity), so that growing the window never needs to initialise.
    buf: Vec<u8>,
    /// Offset of the first data byte.
    start: usize,
    /// Offset one past the last data byte.
    end: usize,
    /// Where the window starts after [`Packet::reset`].
    reset_headroom: usize,
    /// Datapath port number the packet was received on (metadata; a
    /// provider's receive sets it to 0 and the datapath fills it in).
    pub in_port: u32,
    /// Offload metadata: the `virtio_net_hdr` a kernel-backed provider
    /// received with the frame (a checksum left to finish, a TCP/UDP
    /// segment larger than the MTU), `None` for an ordinary frame. Its
    /// `csum_start` and `hdr_len` count from the first data byte and are
    /// kept right by [`Packet::push_front`] and [`Packet::pull_front`]. A
    /// provider transmitting to a device that takes the header gives it
    /// back to the kernel; others finish the work in software (see
    /// [`crate::offload`]). Cleared by [`Packet::reset`].
    pub vnet: Option<crate::offload::VnetHdr>,
}

impl Packet {
    /// An empty packet with [`DEFAULT_HEADROOM`] and [`DEFAULT_ROOM`].
    pub fn new() -> Packet {
        Packet::with_room(DEFAULT_HEADROOM, DEFAULT_ROOM)
    }

    /// An empty packet whose buffer has `headroom` bytes in front of the
    /// data and `room` bytes for the data itself.
    pub fn with_room(headroom: usize, room: usize) -> Packet {
        Packet {
            buf: vec![0; headroom + room],
            start: headroom,
            end: headroom,
            reset_headroom: headroom,
            in_port: 0,
            vnet: None,
        }
    }

    /// A packet holding a copy of `data` after the default headroom.
    pub fn from_slice(data: &[u8]) -> Packet {
        let mut p = Packet::with_room(DEFAULT_HEADROOM, data.len().max(DEFAULT_ROOM));
        p.copy_from(data);
        p
    }

    /// The packet's bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The packet's bytes, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }

    /// Length of the data in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// Whether the packet holds no bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes free in front of the data.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.start
    }

    /// Bytes free after the data.
    #[inline]
    pub fn tailroom(&self) -> usize {
        self.buf.len() - self.end
    }

    /// Size of the whole buffer (headroom + data + tailroom).
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Address of the buffer, for tests that check a buffer is reused
    /// rather than reallocated. It is never dereferenced.
    pub fn buffer_addr(&self) -> usize {
        self.buf.as_ptr() as usize
    }

    /// Makes the packet empty and clears its metadata, keeping the buffer.
    /// The data starts again after the headroom the buffer was made with.
    #[inline]
    pub fn reset(&mut self) {
        let headroom = self.reset_headroom.min(self.buf.len());
        self.start = headroom;
        self.end = headroom;
        self.in_port = 0;
        self.vnet = None;
    }

    /// Resets the packet and copies `data` into it. Allocates only if
    /// `data` is longer than the buffer's room.
    #[inline]
    pub fn copy_from(&mut self, data: &[u8]) {
        self.reset();
        if data.len() > self.tailroom() {
            self.grow_for(data.len());
        }
        // Straight into the window: no zeroing first, the copy covers it.
        self.end = self.start + data.len();
        self.buf[self.start..self.end].copy_from_slice(data);
    }

    /// Grows the data by `n` bytes at the front (to write a header there)
    /// and returns those bytes. Their contents are unspecified (stale
    /// bytes of earlier packets): the caller overwrites them.
    ///
    /// Reallocates (keeping the data and adding [`DEFAULT_HEADROOM`] of
    /// spare headroom) only if the headroom is smaller than `n`.
    pub fn push_front(&mut self, n: usize) -> &mut [u8] {
        if n > self.start {
            self.grow(n - self.start + DEFAULT_HEADROOM, 0);
        }
        self.start -= n;
        if let Some(v) = &mut self.vnet {
            v.shift(n as isize);
        }
        &mut self.buf[self.start..self.start + n]
    }

    /// Removes `n` bytes from the front of the data (a header being
    /// stripped) and returns them; they stay valid until the buffer is next
    /// written. Returns `None`, changing nothing, if the packet is shorter
    /// than `n`.
    pub fn pull_front(&mut self, n: usize) -> Option<&[u8]> {
        if n > self.len() {
            return None;
        }
        let old = self.start;
        self.start += n;
        if let Some(v) = &mut self.vnet {
            v.shift(-(n as isize));
        }
        Some(&self.buf[old..old + n])
    }

    /// Shortens the data to `len` bytes, dropping bytes at the end. Does
    /// nothing if the packet is not longer than `len`.
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.end = self.start + len;
        }
    }

    /// Sets the data length to `len`: shortens like [`Packet::truncate`],
    /// or appends zero bytes at the end. Reallocates only if the tailroom is
    /// too small.
    pub fn resize(&mut self, len: usize) {
        let old = self.len();
        if len <= old {
            self.truncate(len);
            return;
        }
        let extra = len - old;
        if extra > self.tailroom() {
            self.grow(0, extra - self.tailroom());
        }
        self.buf[self.end..self.end + extra].fill(0);
        self.end += extra;
    }

    /// Appends `bytes` at the end of the data.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        let old = self.len();
        self.resize(old + bytes.len());
        self.data_mut()[old..].copy_from_slice(bytes);
    }

    /// Slow path of [`Packet::copy_from`]: room for `len` bytes of data.
    #[cold]
    #[inline(never)]
    fn grow_for(&mut self, len: usize) {
        self.grow(0, len - self.tailroom());
    }

    /// Slow path: a larger buffer with `front` more bytes of headroom and
    /// `back` more bytes of tailroom, keeping the data.
    fn grow(&mut self, front: usize, back: usize) {
        let mut buf = vec![0; self.buf.len() + front + back];
        let start = self.start + front;
        let len = self.len();
        buf[start..start + len].copy_from_slice(self.data());
        self.buf = buf;
        self.start = start;
        self.end = start + len;
        self.reset_headroom += front;
    }
}

impl Default for Packet {
    fn default() -> Packet {
        Packet::new()
    }
}

impl fmt::Debug for Packet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packet")
            .field("len", &self.len())
            .field("headroom", &self.headroom())
            .field("tailroom", &self.tailroom())
            .field("in_port", &self.in_port)
            .field("vnet", &self.vnet)
            .finish()
    }
}

/// Up to [`BATCH_SIZE`] packets, the unit of receive and transmit.
///
/// See the [module documentation](self) for the ownership rules. The
/// batch keeps its buffers across [`Batch::clear`]; a provider's receive
/// fills [`Batch::next_slot`] buffers, and its send drains the batch.
pub struct Batch {
    /// The pool: `pool[..len]` are the batch's packets, `pool[len..]`
    /// spare buffers. Never longer than [`BATCH_SIZE`].
    pool: Vec<Packet>,
    /// Number of packets in the batch.
    len: usize,
    /// Headroom and room of buffers the batch allocates itself.
    headroom: usize,
    /// See `headroom`.
    room: usize,
}

impl Batch {
    /// An empty batch whose pool holds [`BATCH_SIZE`] default buffers,
    /// allocated now so that receiving never allocates later.
    pub fn new() -> Batch {
        Batch::with_room(DEFAULT_HEADROOM, DEFAULT_ROOM)
    }

    /// An empty batch whose pool holds [`BATCH_SIZE`] buffers with the
    /// given headroom and data room (e.g. 9216 bytes for jumbo frames).
    pub fn with_room(headroom: usize, room: usize) -> Batch {
        let pool = (0..BATCH_SIZE)
            .map(|_| Packet::with_room(headroom, room))
            .collect();
        Batch {
            pool,
            len: 0,
            headroom,
            room,
        }
    }

    /// Number of packets in the batch.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the batch holds no packet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the batch holds [`BATCH_SIZE`] packets.
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len == BATCH_SIZE
    }

    /// How many more packets fit.
    #[inline]
    pub fn free_space(&self) -> usize {
        BATCH_SIZE - self.len
    }

    /// Empties the batch, keeping every buffer for reuse.
    #[inline]
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Keeps only the first `n` packets; the others become spare buffers.
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
    }

    /// Appends a packet made from a spare buffer, [reset](Packet::reset),
    /// and returns it for the caller to fill; `None` if the batch is full.
    /// Allocates only if the pool has no spare buffer, which happens only
    /// for a batch built by [`Batch::from_packets`] until its pool is full.
    #[inline]
    pub fn next_slot(&mut self) -> Option<&mut Packet> {
        let p = self.next_buffer()?;
        p.reset();
        Some(p)
    }

    /// The next spare buffer, appended to the batch as it is (stale
    /// contents and metadata: the caller resets or overwrites it).
    #[inline(always)]
    fn next_buffer(&mut self) -> Option<&mut Packet> {
        if self.len >= BATCH_SIZE {
            return None;
        }
        if self.pool.len() <= self.len {
            self.grow_pool();
        }
        let i = self.len;
        self.len += 1;
        self.pool.get_mut(i)
    }

    /// Slow path of [`Batch::next_buffer`]: one more buffer in the pool.
    #[cold]
    #[inline(never)]
    fn grow_pool(&mut self) {
        self.pool.push(Packet::with_room(self.headroom, self.room));
    }

    /// Appends a copy of `data` in a spare buffer; returns `false` (and
    /// changes nothing) if the batch is full.
    #[inline]
    pub fn push_copy(&mut self, data: &[u8]) -> bool {
        match self.next_buffer() {
            Some(p) => {
                p.copy_from(data);
                true
            }
            None => false,
        }
    }

    /// Appends `pkt` by swapping buffers: the batch takes `pkt`'s buffer
    /// and `pkt` receives a spare one (emptied), so nothing is allocated or
    /// freed. Returns `false`, leaving `pkt` alone, if the batch is full.
    #[inline]
    pub fn push_swap(&mut self, pkt: &mut Packet) -> bool {
        if self.next_slot().is_none() {
            return false;
        }
        let i = self.len - 1;
        std::mem::swap(&mut self.pool[i], pkt);
        pkt.reset();
        true
    }

    /// Appends an owned packet. The spare buffer it displaces (if any) is
    /// freed. Gives the packet back if the batch is full.
    pub fn push(&mut self, pkt: Packet) -> Result<(), Packet> {
        if self.is_full() {
            return Err(pkt);
        }
        if self.pool.len() == self.len {
            self.pool.push(pkt);
        } else {
            self.pool[self.len] = pkt;
        }
        self.len += 1;
        Ok(())
    }

    /// Exchanges the buffer of packet `i` with `other` (see
    /// [`Batch::push_swap`] for the reverse direction). Returns `false` if
    /// `i` is out of range.
    #[inline]
    pub fn swap_packet(&mut self, i: usize, other: &mut Packet) -> bool {
        if i >= self.len {
            return false;
        }
        std::mem::swap(&mut self.pool[i], other);
        true
    }

    /// A batch holding exactly `pkts` (at most [`BATCH_SIZE`]; extra
    /// packets are returned). Its pool has no spare buffers, so later
    /// refills allocate until the pool is full again.
    pub fn from_packets(pkts: Vec<Packet>) -> (Batch, Vec<Packet>) {
        let mut b = Batch {
            pool: Vec::with_capacity(BATCH_SIZE),
            len: 0,
            headroom: DEFAULT_HEADROOM,
            room: DEFAULT_ROOM,
        };
        let mut rest = Vec::new();
        for p in pkts {
            if let Err(p) = b.push(p) {
                rest.push(p);
            }
        }
        (b, rest)
    }

    /// Keeps the packets for which `keep` returns true, in order. The
    /// others become spare buffers (nothing is freed).
    pub fn retain(&mut self, mut keep: impl FnMut(&Packet) -> bool) {
        let mut w = 0;
        for i in 0..self.len {
            if keep(&self.pool[i]) {
                self.pool.swap(w, i);
                w += 1;
            }
        }
        self.len = w;
    }

    /// The batch's packets.
    #[inline]
    pub fn packets(&self) -> &[Packet] {
        &self.pool[..self.len]
    }

    /// The batch's packets, writable.
    #[inline]
    pub fn packets_mut(&mut self) -> &mut [Packet] {
        &mut self.pool[..self.len]
    }

    /// Iterates over the batch's packets.
    pub fn iter(&self) -> std::slice::Iter<'_, Packet> {
        self.packets().iter()
    }

    /// Iterates over the batch's packets, writable.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, Packet> {
        self.packets_mut().iter_mut()
    }

    /// Total bytes of the batch's packets.
    pub fn bytes(&self) -> u64 {
        self.iter().map(|p| p.len() as u64).sum()
    }
}

impl Default for Batch {
    fn default() -> Batch {
        Batch::new()
    }
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("len", &self.len)
            .field("pool", &self.pool.len())
            .finish()
    }
}

impl<'a> IntoIterator for &'a Batch {
    type Item = &'a Packet;
    type IntoIter = std::slice::Iter<'a, Packet>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a> IntoIterator for &'a mut Batch {
    type Item = &'a mut Packet;
    type IntoIter = std::slice::IterMut<'a, Packet>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}
