//! `AF_PACKET` sockets: a TPACKET_V3 (or V2) memory-mapped receive ring
//! and batched transmission with `sendmmsg(2)`.
//!
//! TPACKET_V3 ring layout (from the kernel's `if_packet.h`): the ring is `nblocks`
//! blocks of `block_size` bytes. Each block starts with a descriptor whose
//! `block_status` (offset 8) says who owns it (`TP_STATUS_USER` bit: us),
//! `num_pkts` (12) how many frames it holds and `offset_to_first_pkt` (16)
//! where the first one is. Each frame starts with a `tpacket3_hdr`:
//! `tp_next_offset` (0), `tp_snaplen` (12), `tp_len` (16), `tp_status`
//! (20), `tp_mac` (24, u16, from the frame header), then the VLAN TCI (32,
//! u32) and TPID (36, u16) of a tag the device stripped. With a vnet header
//! enabled, the 10-byte `virtio_net_hdr` sits right before the frame data.
//!
//! TPACKET_V2 ring layout: fixed-size frame slots (`frame_size` bytes,
//! never across a block boundary), each starting with a `tpacket2_hdr`:
//! `tp_status` (0, ownership as above, per frame), `tp_len` (4),
//! `tp_snaplen` (8), `tp_mac` (12, u16), the stripped VLAN TCI (24, u16) and
//! TPID (26, u16). The kernel hands each frame over as soon as it is
//! written, with no block timeout.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
const TPACKET_V2: libc::c_int = 1;
const TPACKET_V3: libc::c_int = 2;
/// Size of a `tpacket3_hdr`.
const HDR3_LEN: usize = 48;
/// Size of a `virtio_net_hdr`.
const VNET_LEN: usize = 10;

/// How the receive ring is laid out.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RingConfig {
    /// Bytes per block (a multiple of the page size; holds the largest frame).
    pub block_size: u32,
    /// Number of blocks.
    pub nblocks: u32,
    /// Milliseconds after which the kernel hands over a block that is not
    /// full (V3).
    pub retire_ms: u32,
    /// `Some(frame_size)`: a TPACKET_V2 ring of frame slots of that size (a
    /// multiple of 16 dividing into blocks); `None`: TPACKET_V3.
    pub v2_frame: Option<u32>,
}

/// One received frame, borrowed from the ring.
pub(crate) struct RxFrame<'a> {
    /// The captured bytes (without a stripped VLAN tag).
    pub data: &'a [u8],
    /// The frame's length on the wire (more than `data.len()` if truncated).
    pub wire_len: usize,
    /// The vnet header, if the socket has them.
    pub vnet: Option<[u8; VNET_LEN]>,
    /// A VLAN tag the device stripped: (TPID, TCI).
    pub vlan: Option<(u16, u16)>,
}

/// A packet socket bound to one interface.
#[derive(Debug)]
pub(crate) struct PacketSocket {
    fd: OwnedFd,
}

/// The receive ring of a [`PacketSocket`] and our position in it.
#[derive(Debug)]
pub(crate) struct Ring {
    base: NonNull<u8>,
    map_len: usize,
    block_size: usize,
    nblocks: usize,
    vnet: bool,
    /// V2: frame slot size and slots per block; `None` for V3.
    v2: Option<(usize, usize)>,
    /// V2: a frame returned by the last `next`, given back on the next call.
    held: Option<usize>,
    /// Current block (V3) or frame slot (V2).
    cur: usize,
    /// Frames of the current block already read.
    idx: u32,
    /// Offset of the next frame in the current block.
    off: usize,
}

// SAFETY: the ring is plain memory shared with the kernel; `Ring` owns the
// mapping and is used by one thread at a time (callers keep it in a mutex).
unsafe impl Send for Ring {}

fn last_err() -> io::Error {
    io::Error::last_os_error()
}

fn setopt<T>(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int, v: &T) -> io::Result<()> {
    // SAFETY: `v` points to a valid `T` for the duration of the call and
    // we pass its exact size; the kernel only reads it.
    let r = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (v as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if r < 0 {
        Err(last_err())
    } else {
        Ok(())
    }
}

impl PacketSocket {
    /// Opens a socket on interface `ifindex` with its receive ring. With
    /// `vnet`, frames carry a `virtio_net_hdr` both ways.
    pub(crate) fn open(
        ifindex: u32,
        vnet: bool,
        cfg: RingConfig,
    ) -> io::Result<(PacketSocket, Ring)> {
        // SAFETY: socket(2) with constant arguments returns a new
        // descriptor or -1. Protocol 0: nothing is received before bind.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
            )
        };
        if fd < 0 {
            let e = last_err();
            if e.raw_os_error() == Some(libc::EPERM) || e.raw_os_error() == Some(libc::EACCES) {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "AF_PACKET sockets need CAP_NET_RAW",
                ));
            }
            return Err(e);
        }
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let sock = PacketSocket { fd };
        let b = sock.fd.as_fd();
        let version = if cfg.v2_frame.is_some() {
            TPACKET_V2
        } else {
            TPACKET_V3
        };
        setopt(b, libc::SOL_PACKET, libc::PACKET_VERSION, &version)?;
        if vnet {
            setopt(
                b,
                libc::SOL_PACKET,
                libc::PACKET_VNET_HDR,
                &1 as &libc::c_int,
            )?;
        }
        // Not on kernels before 4.20: then our own transmissions come back,
        // which bind-to-ifindex peers tolerate (the datapath would see them
        // as input), so fail loudly rather than loop.
        setopt(
            b,
            libc::SOL_PACKET,
            libc::PACKET_IGNORE_OUTGOING,
            &1 as &libc::c_int,
        )?;
        let req = libc::tpacket_req3 {
            tp_block_size: cfg.block_size,
            tp_block_nr: cfg.nblocks,
            tp_frame_size: cfg.v2_frame.unwrap_or(2048),
            tp_frame_nr: cfg.block_size / cfg.v2_frame.unwrap_or(2048) * cfg.nblocks,
            tp_retire_blk_tov: cfg.retire_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setopt(b, libc::SOL_PACKET, libc::PACKET_RX_RING, &req)?;
        let map_len = cfg.block_size as usize * cfg.nblocks as usize;
        let map = |flags: libc::c_int| {
            // SAFETY: mapping the ring the kernel just allocated for this
            // socket, at an address of the kernel's choosing; the result is
            // checked and owned by `Ring`, which unmaps it on drop.
            unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    map_len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_SHARED | flags,
                    sock.fd.as_raw_fd(),
                    0,
                )
            }
        };
        // Locked if the limit allows, else plain.
        let mut p = map(libc::MAP_LOCKED);
        if p == libc::MAP_FAILED {
            p = map(0);
        }
        if p == libc::MAP_FAILED {
            return Err(last_err());
        }
        let ring = Ring {
            base: NonNull::new(p.cast()).ok_or_else(last_err)?,
            map_len,
            block_size: cfg.block_size as usize,
            nblocks: cfg.nblocks as usize,
            vnet,
            v2: cfg
                .v2_frame
                .map(|f| (f as usize, (cfg.block_size / f) as usize)),
            held: None,
            cur: 0,
            idx: 0,
            off: 0,
        };
        // SAFETY: `sockaddr_ll` is plain old data; all zeroes is valid.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        sll.sll_ifindex = ifindex as i32;
        // SAFETY: `sll` is a valid `sockaddr_ll` of the size we pass.
        let r = unsafe {
            libc::bind(
                sock.fd.as_raw_fd(),
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if r < 0 {
            return Err(last_err());
        }
        Ok((sock, ring))
    }

    /// Puts the interface in promiscuous mode for as long as the socket is
    /// open.
    pub(crate) fn set_promisc(&self, ifindex: u32) -> io::Result<()> {
        let mr = libc::packet_mreq {
            mr_ifindex: ifindex as i32,
            mr_type: libc::PACKET_MR_PROMISC as u16,
            mr_alen: 0,
            mr_address: [0; 8],
        };
        setopt(
            self.fd.as_fd(),
            libc::SOL_PACKET,
            libc::PACKET_ADD_MEMBERSHIP,
            &mr,
        )
    }

    /// Takes the socket's pending error (`SO_ERROR`, e.g. `ENETDOWN` when
    /// the interface went down), clearing it.
    pub(crate) fn take_error(&self) -> Option<io::Error> {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `v` and `len` are valid for writes of their sizes for the
        // duration of the call.
        let r = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                (&mut v as *mut libc::c_int).cast(),
                &mut len,
            )
        };
        if r < 0 {
            return Some(last_err());
        }
        (v != 0).then(|| io::Error::from_raw_os_error(v))
    }

    /// The descriptor, readable when a block is ready.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Sends frames (each an optional vnet header and the frame bytes) with
    /// one `sendmmsg(2)` call; returns how many went out (a prefix). An
    /// error is returned only if the first frame fails.
    pub(crate) fn send_frames(
        &self,
        frames: &[(Option<&[u8; VNET_LEN]>, &[u8])],
    ) -> io::Result<usize> {
        const MAX: usize = 32;
        let n = frames.len().min(MAX);
        let empty = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let mut iov = [[empty, empty]; MAX];
        // SAFETY: `mmsghdr` is plain old data; all zeroes is valid.
        let mut msgs: [libc::mmsghdr; MAX] = unsafe { std::mem::zeroed() };
        for (i, (h, data)) in frames[..n].iter().enumerate() {
            let mut k = 0;
            if let Some(h) = h {
                iov[i][k] = libc::iovec {
                    iov_base: h.as_ptr() as *mut libc::c_void,
                    iov_len: h.len(),
                };
                k += 1;
            }
            iov[i][k] = libc::iovec {
                iov_base: data.as_ptr() as *mut libc::c_void,
                iov_len: data.len(),
            };
            msgs[i].msg_hdr.msg_iov = iov[i].as_mut_ptr();
            msgs[i].msg_hdr.msg_iovlen = k + 1;
        }
        // SAFETY: `msgs[..n]` point into `iov`, which point into `frames`;
        // all outlive the call, and the kernel only reads the buffers.
        let r = unsafe {
            libc::sendmmsg(
                self.fd.as_raw_fd(),
                msgs.as_mut_ptr(),
                n as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if r < 0 {
            Err(last_err())
        } else {
            Ok(r as usize)
        }
    }
}

impl Ring {
    fn block(&self, i: usize) -> *mut u8 {
        // SAFETY: `i < nblocks`, so the offset stays inside the mapping.
        unsafe { self.base.as_ptr().add(i * self.block_size) }
    }

    fn status(&self, blk: *mut u8) -> &AtomicU32 {
        // SAFETY: offset 8 of a block is its 4-byte aligned `block_status`,
        // shared with the kernel: accessed only atomically.
        unsafe { AtomicU32::from_ptr(blk.add(8).cast()) }
    }

    fn read_u32(blk: *const u8, off: usize) -> u32 {
        // SAFETY: callers pass offsets inside a block we own (checked
        // against the block size).
        unsafe { std::ptr::read_unaligned(blk.add(off).cast::<u32>()) }
    }

    fn read_u16(blk: *const u8, off: usize) -> u16 {
        // SAFETY: as for `read_u32`.
        unsafe { std::ptr::read_unaligned(blk.add(off).cast::<u16>()) }
    }

    /// Gives the current block back to the kernel and moves to the next.
    fn release(&mut self) {
        let blk = self.block(self.cur);
        self.status(blk).store(TP_STATUS_KERNEL, Ordering::Release);
        self.cur = (self.cur + 1) % self.nblocks;
        self.idx = 0;
        self.off = 0;
    }

    /// The next received frame, `None` if the kernel has handed over no
    /// more. Blocks (V3) or frames (V2) are given back once read.
    pub(crate) fn next(&mut self) -> Option<RxFrame<'_>> {
        if let Some((fsize, per_block)) = self.v2 {
            return self.next_v2(fsize, per_block);
        }
        loop {
            let blk = self.block(self.cur);
            if self.status(blk).load(Ordering::Acquire) & TP_STATUS_USER == 0 {
                return None;
            }
            let num = Ring::read_u32(blk, 12);
            if self.idx >= num {
                self.release();
                continue;
            }
            if self.idx == 0 {
                self.off = Ring::read_u32(blk, 16) as usize;
            }
            let off = self.off;
            if off + HDR3_LEN > self.block_size {
                // A corrupt block: skip it.
                self.release();
                continue;
            }
            let next = Ring::read_u32(blk, off) as usize;
            let snaplen = Ring::read_u32(blk, off + 12) as usize;
            let wire_len = Ring::read_u32(blk, off + 16) as usize;
            let status = Ring::read_u32(blk, off + 20);
            let mac = Ring::read_u16(blk, off + 24) as usize;
            let tci = Ring::read_u32(blk, off + 32);
            let tpid = Ring::read_u16(blk, off + 36);
            if off + mac + snaplen > self.block_size || (self.vnet && mac < HDR3_LEN + VNET_LEN) {
                self.release();
                continue;
            }
            self.idx += 1;
            self.off = off + next;
            // SAFETY: the frame lies inside the block (checked above),
            // which the kernel handed to us (TP_STATUS_USER) and does not
            // write until `release`, which needs `&mut self`, so it cannot
            // run while the returned borrow lives.
            let data = unsafe { std::slice::from_raw_parts(blk.add(off + mac), snaplen) };
            let vnet = if self.vnet {
                let mut h = [0u8; VNET_LEN];
                // SAFETY: `mac >= HDR3_LEN + VNET_LEN` (checked), so the
                // header lies inside the frame slot, before the data.
                let s =
                    unsafe { std::slice::from_raw_parts(blk.add(off + mac - VNET_LEN), VNET_LEN) };
                h.copy_from_slice(s);
                Some(h)
            } else {
                None
            };
            let vlan = if status & TP_STATUS_VLAN_VALID != 0 {
                let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 {
                    tpid
                } else {
                    0x8100
                };
                Some((tpid, tci as u16))
            } else {
                None
            };
            return Some(RxFrame {
                data,
                wire_len,
                vnet,
                vlan,
            });
        }
    }

    /// Address of V2 frame slot `i`.
    fn slot(&self, i: usize, fsize: usize, per_block: usize) -> *mut u8 {
        // SAFETY: `i` is below the slot count, so the slot lies inside its
        // block, inside the mapping.
        unsafe { self.block(i / per_block).add((i % per_block) * fsize) }
    }

    fn slot_status(&self, slot: *mut u8) -> &AtomicU32 {
        // SAFETY: offset 0 of a V2 slot is its 4-byte aligned `tp_status`
        // (slots are 16-byte aligned), shared with the kernel: accessed
        // only atomically.
        unsafe { AtomicU32::from_ptr(slot.cast()) }
    }

    fn next_v2(&mut self, fsize: usize, per_block: usize) -> Option<RxFrame<'_>> {
        let nslots = per_block * self.nblocks;
        if let Some(i) = self.held.take() {
            let slot = self.slot(i, fsize, per_block);
            self.slot_status(slot)
                .store(TP_STATUS_KERNEL, Ordering::Release);
        }
        loop {
            let slot = self.slot(self.cur, fsize, per_block);
            let status = self.slot_status(slot).load(Ordering::Acquire);
            if status & TP_STATUS_USER == 0 {
                return None;
            }
            let i = self.cur;
            self.cur = (self.cur + 1) % nslots;
            let wire_len = Ring::read_u32(slot, 4) as usize;
            let snaplen = Ring::read_u32(slot, 8) as usize;
            let mac = Ring::read_u16(slot, 12) as usize;
            let tci = Ring::read_u16(slot, 24);
            let tpid = Ring::read_u16(slot, 26);
            if mac + snaplen > fsize || (self.vnet && mac < 32 + VNET_LEN) {
                // A corrupt slot: give it back and go on.
                self.slot_status(slot)
                    .store(TP_STATUS_KERNEL, Ordering::Release);
                continue;
            }
            self.held = Some(i);
            // SAFETY: the frame lies inside the slot (checked above), which
            // the kernel handed to us and does not write until we give it
            // back at the next call, which needs `&mut self`, so not while
            // the returned borrow lives.
            let data = unsafe { std::slice::from_raw_parts(slot.add(mac), snaplen) };
            let vnet = if self.vnet {
                let mut h = [0u8; VNET_LEN];
                // SAFETY: `mac >= 32 + VNET_LEN` (checked): the header lies
                // in the slot, after the frame header, before the data.
                let s = unsafe { std::slice::from_raw_parts(slot.add(mac - VNET_LEN), VNET_LEN) };
                h.copy_from_slice(s);
                Some(h)
            } else {
                None
            };
            let vlan = (status & TP_STATUS_VLAN_VALID != 0).then(|| {
                let tpid = if status & TP_STATUS_VLAN_TPID_VALID != 0 {
                    tpid
                } else {
                    0x8100
                };
                (tpid, tci)
            });
            return Some(RxFrame {
                data,
                wire_len,
                vnet,
                vlan,
            });
        }
    }

    /// Whether the kernel has handed over a block or frame (frames may be
    /// ready).
    pub(crate) fn ready(&self) -> bool {
        let at = match self.v2 {
            Some((fsize, per_block)) => self.slot(self.cur, fsize, per_block),
            None => self.block(self.cur),
        };
        let status = match self.v2 {
            Some(_) => self.slot_status(at),
            None => self.status(at),
        };
        status.load(Ordering::Acquire) & TP_STATUS_USER != 0
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the mapping this ring owns; no borrow
        // of it can outlive `self`.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.map_len) };
    }
}
