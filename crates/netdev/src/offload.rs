//! Offload metadata carried with a packet: the `virtio_net_hdr`.
//!
//! Linux hands a packet socket or a tap device opened with a *vnet header*
//! a 10-byte `virtio_net_hdr` in front of every frame. It says that the
//! frame's transport checksum is not finished yet (the sender's stack left
//! it to the hardware: `NEEDS_CSUM`, with where the checksummed bytes start
//! and where the checksum goes), and that a TCP (or UDP) "frame" is really
//! a large segment to be cut into `gso_size`-byte pieces on the way out
//! (GSO/TSO). Keeping that header with the packet lets the datapath forward
//! such frames without touching them: a provider whose device takes a vnet
//! header gives it back to the kernel, which finishes the job (or passes
//! it on to the next hop as is, e.g. to a veth peer).
//!
//! A provider whose device does not take a vnet header calls
//! [`finish_in_software`] before transmitting: it completes the checksum,
//! and cuts TCP segments (IPv4 or IPv6, after any VLAN tags) into frames
//! of at most `gso_size` payload bytes with their own IP lengths, IPv4
//! identifiers and header checksums, TCP sequence numbers, flags and
//! checksums. UDP GSO is not segmented in software (an error).
//!
//! The header is kept in host byte order, as Linux's legacy (non-version-1)
//! vnet headers are.

use std::io;

use crate::Packet;

/// A `virtio_net_hdr`: see the [module documentation](self).
///
/// `csum_start` and `hdr_len` count from the first byte of the packet's
/// data (the Ethernet destination address).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VnetHdr {
    /// [`VnetHdr::NEEDS_CSUM`], [`VnetHdr::DATA_VALID`].
    pub flags: u8,
    /// [`VnetHdr::GSO_NONE`], [`VnetHdr::GSO_TCPV4`]... possibly or-ed with
    /// [`VnetHdr::GSO_ECN`].
    pub gso_type: u8,
    /// Length of the headers to repeat in front of each segment.
    pub hdr_len: u16,
    /// Payload bytes per segment.
    pub gso_size: u16,
    /// Where the checksummed bytes start (the transport header).
    pub csum_start: u16,
    /// Where the checksum field is, counted from `csum_start`.
    pub csum_offset: u16,
}

impl VnetHdr {
    /// Size of the header on the wire.
    pub const LEN: usize = 10;
    /// The transport checksum must still be computed.
    pub const NEEDS_CSUM: u8 = 1;
    /// The checksum was verified by the receiver.
    pub const DATA_VALID: u8 = 2;
    /// Not a large segment.
    pub const GSO_NONE: u8 = 0;
    /// A TCP over IPv4 large segment.
    pub const GSO_TCPV4: u8 = 1;
    /// A UDP fragmentation offload (obsolete).
    pub const GSO_UDP: u8 = 3;
    /// A TCP over IPv6 large segment.
    pub const GSO_TCPV6: u8 = 4;
    /// A UDP segmentation offload segment.
    pub const GSO_UDP_L4: u8 = 5;
    /// Flag of `gso_type`: the segment had ECN CWR set.
    pub const GSO_ECN: u8 = 0x80;

    /// Reads a header from its wire form.
    pub fn from_bytes(b: &[u8; 10]) -> VnetHdr {
        let u = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        VnetHdr {
            flags: b[0],
            gso_type: b[1],
            hdr_len: u(2),
            gso_size: u(4),
            csum_start: u(6),
            csum_offset: u(8),
        }
    }

    /// The header's wire form.
    pub fn to_bytes(&self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b[0] = self.flags;
        b[1] = self.gso_type;
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    /// Whether the checksum is left to finish.
    pub fn needs_csum(&self) -> bool {
        self.flags & VnetHdr::NEEDS_CSUM != 0
    }

    /// Whether the frame is a large segment to cut.
    pub fn is_gso(&self) -> bool {
        self.gso_type & !VnetHdr::GSO_ECN != VnetHdr::GSO_NONE
    }

    /// Whether the header asks for nothing (may be dropped).
    pub fn is_plain(&self) -> bool {
        !self.needs_csum() && !self.is_gso()
    }

    /// Moves the offsets by `delta` bytes (headers pushed or pulled at the
    /// front of the data).
    pub(crate) fn shift(&mut self, delta: isize) {
        let mv = |v: u16| (v as isize + delta).clamp(0, u16::MAX as isize) as u16;
        if self.needs_csum() {
            self.csum_start = mv(self.csum_start);
        }
        if self.hdr_len != 0 {
            self.hdr_len = mv(self.hdr_len);
        }
    }
}

/// One's complement sum of `data` added to `sum` (not folded).
fn sum16(data: &[u8], mut sum: u64) -> u64 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u64;
    }
    if let [last] = chunks.remainder() {
        sum += (*last as u64) << 8;
    }
    sum
}

/// Folds a sum to 16 bits.
fn fold(mut sum: u64) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

fn bad(why: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("offload: {why}"))
}

/// Completes a `NEEDS_CSUM` checksum in `data`: the field holds the
/// pseudo-header sum; the result covers `csum_start..` of the frame.
fn finish_csum(data: &mut [u8], h: &VnetHdr) -> io::Result<()> {
    let start = h.csum_start as usize;
    let at = start + h.csum_offset as usize;
    if at + 2 > data.len() {
        return Err(bad("checksum offset beyond the frame"));
    }
    let mut c = !fold(sum16(&data[start..], 0));
    // A UDP checksum of 0 means "none"; 0xffff is the same value.
    if c == 0 && h.csum_offset == 6 {
        c = 0xffff;
    }
    data[at..at + 2].copy_from_slice(&c.to_be_bytes());
    Ok(())
}

/// Offset of the network header: after the Ethernet header and any VLAN
/// tags. Returns the offset and the EtherType.
fn l3_offset(data: &[u8]) -> Option<(usize, u16)> {
    let mut off = 12;
    loop {
        let ty = u16::from_be_bytes([*data.get(off)?, *data.get(off + 1)?]);
        if matches!(ty, 0x8100 | 0x88a8 | 0x9100) {
            off += 4;
        } else {
            return Some((off + 2, ty));
        }
    }
}

/// Cuts a TCP large segment into frames appended to `out`.
fn segment_tcp(data: &[u8], h: &VnetHdr, out: &mut Vec<Packet>) -> io::Result<()> {
    let (l3, ty) = l3_offset(data).ok_or_else(|| bad("short frame"))?;
    let l4 = h.csum_start as usize;
    let v4 = ty == 0x0800;
    if !(v4 || ty == 0x86dd) || l4 < l3 + 20 || l4 + 20 > data.len() {
        return Err(bad("not a TCP segment over IP"));
    }
    let hlen = l4 + ((data[l4 + 12] >> 4) as usize) * 4;
    let mss = h.gso_size as usize;
    if mss == 0 || hlen > data.len() {
        return Err(bad("bad TCP header or segment size"));
    }
    let payload = &data[hlen..];
    let seq0 = u32::from_be_bytes(data[l4 + 4..l4 + 8].try_into().unwrap_or_default());
    let id0 = u16::from_be_bytes([data[l3 + 4], data[l3 + 5]]);
    let n = payload.len().div_ceil(mss).max(1);
    for i in 0..n {
        let chunk = &payload[(i * mss).min(payload.len())..((i + 1) * mss).min(payload.len())];
        let mut p = Packet::with_room(crate::DEFAULT_HEADROOM, hlen + chunk.len());
        p.extend_from_slice(&data[..hlen]);
        p.extend_from_slice(chunk);
        let f = p.data_mut();
        let tcp_len = (hlen - l4 + chunk.len()) as u16;
        if v4 {
            let tot = (l4 - l3) as u16 + tcp_len;
            f[l3 + 2..l3 + 4].copy_from_slice(&tot.to_be_bytes());
            f[l3 + 4..l3 + 6].copy_from_slice(&id0.wrapping_add(i as u16).to_be_bytes());
            f[l3 + 10..l3 + 12].fill(0);
            let c = !fold(sum16(&f[l3..l4], 0));
            f[l3 + 10..l3 + 12].copy_from_slice(&c.to_be_bytes());
        } else {
            let plen = (l4 - l3 - 40) as u16 + tcp_len;
            f[l3 + 4..l3 + 6].copy_from_slice(&plen.to_be_bytes());
        }
        let seq = seq0.wrapping_add((i * mss) as u32);
        f[l4 + 4..l4 + 8].copy_from_slice(&seq.to_be_bytes());
        // FIN and PSH only on the last piece, CWR only on the first.
        if i + 1 < n {
            f[l4 + 13] &= !0x09;
        }
        if i > 0 {
            f[l4 + 13] &= !0x80;
        }
        let pseudo = if v4 {
            sum16(&f[l3 + 12..l3 + 20], 6 + tcp_len as u64)
        } else {
            sum16(&f[l3 + 8..l3 + 40], 6 + tcp_len as u64)
        };
        f[l4 + 16..l4 + 18].fill(0);
        let c = !fold(sum16(&f[l4..], pseudo));
        f[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
        out.push(p);
    }
    Ok(())
}

/// Finishes in software what `pkt.vnet` leaves to the device, for a
/// device that takes no vnet header, and clears `pkt.vnet`.
///
/// - A checksum left to finish is completed in place.
/// - A TCP large segment is cut: the first frame replaces `pkt`'s data,
///   the others are appended to `extra` (in order, to send right after).
///
/// On error (a header that does not fit the frame, UDP GSO) the packet
/// should be dropped; `pkt.vnet` is cleared anyway.
pub fn finish_in_software(pkt: &mut Packet, extra: &mut Vec<Packet>) -> io::Result<()> {
    let Some(h) = pkt.vnet.take() else {
        return Ok(());
    };
    let gso = h.gso_type & !VnetHdr::GSO_ECN;
    match gso {
        VnetHdr::GSO_NONE if h.needs_csum() => finish_csum(pkt.data_mut(), &h),
        VnetHdr::GSO_NONE => Ok(()),
        VnetHdr::GSO_TCPV4 | VnetHdr::GSO_TCPV6 => {
            let first = extra.len();
            segment_tcp(pkt.data(), &h, extra)?;
            // The first piece goes where the large segment was.
            let head = extra.remove(first);
            pkt.copy_from(head.data());
            Ok(())
        }
        _ => Err(bad("UDP segmentation offload is not done in software")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP/IPv4 frame with `n` payload bytes and a correct checksum.
    fn tcp4(n: usize) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20 + n];
        f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        f[14] = 0x45;
        f[16..18].copy_from_slice(&((40 + n) as u16).to_be_bytes());
        f[22] = 64;
        f[23] = 6;
        f[26..30].copy_from_slice(&[10, 0, 0, 1]);
        f[30..34].copy_from_slice(&[10, 0, 0, 2]);
        f[34 + 12] = 5 << 4;
        f[34 + 13] = 0x18; // PSH|ACK
        for (i, b) in f[54..].iter_mut().enumerate() {
            *b = (i * 7) as u8;
        }
        f
    }

    /// Independent check: the TCP checksum over pseudo-header and segment
    /// sums to 0xffff.
    fn tcp4_ok(f: &[u8]) -> bool {
        let tcp = &f[34..];
        let mut s: u32 = 6 + tcp.len() as u32;
        for c in f[26..34].chunks(2).chain(tcp.chunks(2)) {
            let w = if c.len() == 2 {
                [c[0], c[1]]
            } else {
                [c[0], 0]
            };
            s += u16::from_be_bytes(w) as u32;
        }
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s == 0xffff
    }

    #[test]
    fn header_round_trip() {
        let h = VnetHdr {
            flags: 1,
            gso_type: 4,
            hdr_len: 66,
            gso_size: 1448,
            csum_start: 54,
            csum_offset: 16,
        };
        assert_eq!(VnetHdr::from_bytes(&h.to_bytes()), h);
        assert!(h.is_gso() && h.needs_csum() && !h.is_plain());
    }

    #[test]
    fn partial_checksum_completed() {
        let mut f = tcp4(101);
        // The sender leaves the pseudo-header sum in the field.
        let pseudo = fold(sum16(&f[26..34], 6 + 121));
        f[50..52].copy_from_slice(&pseudo.to_be_bytes());
        let mut p = Packet::from_slice(&f);
        p.vnet = Some(VnetHdr {
            flags: VnetHdr::NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 16,
            ..VnetHdr::default()
        });
        assert!(!tcp4_ok(p.data()));
        finish_in_software(&mut p, &mut Vec::new()).unwrap();
        assert!(tcp4_ok(p.data()));
        assert!(p.vnet.is_none());
    }

    #[test]
    fn push_and_pull_move_offsets() {
        let mut p = Packet::from_slice(&tcp4(10));
        p.vnet = Some(VnetHdr {
            flags: VnetHdr::NEEDS_CSUM,
            csum_start: 34,
            csum_offset: 16,
            ..VnetHdr::default()
        });
        p.push_front(4);
        assert_eq!(p.vnet.unwrap().csum_start, 38);
        p.pull_front(4);
        assert_eq!(p.vnet.unwrap().csum_start, 34);
    }

    #[test]
    fn pcap_output_holds_finished_frames() {
        use crate::Netdev;
        let path = std::env::temp_dir().join(format!("netdev-offload-{}.pcap", std::process::id()));
        let dev = crate::pcap::PcapNetdev::open(
            "off",
            &[("tx_pcap".to_string(), path.display().to_string())],
        )
        .unwrap();
        let mut p = Packet::from_slice(&tcp4(2500));
        p.vnet = Some(VnetHdr {
            flags: VnetHdr::NEEDS_CSUM,
            gso_type: VnetHdr::GSO_TCPV4,
            hdr_len: 54,
            gso_size: 1448,
            csum_start: 34,
            csum_offset: 16,
        });
        let mut batch = crate::Batch::new();
        assert!(batch.push(p).is_ok());
        dev.send(0, &mut batch).unwrap();
        drop(dev);
        let file = std::fs::File::open(&path).unwrap();
        let mut r = pcap_file::pcap::PcapReader::new(file).unwrap();
        let mut lens = Vec::new();
        while let Some(pkt) = r.next_packet() {
            let pkt = pkt.unwrap();
            assert!(tcp4_ok(&pkt.data), "a finished checksum");
            lens.push(pkt.data.len());
        }
        let _ = std::fs::remove_file(&path);
        assert_eq!(lens, vec![54 + 1448, 54 + 1052], "cut at gso_size");
    }

    #[test]
    fn tcp_segmented() {
        let f = tcp4(3000);
        let mut p = Packet::from_slice(&f);
        p.vnet = Some(VnetHdr {
            flags: VnetHdr::NEEDS_CSUM,
            gso_type: VnetHdr::GSO_TCPV4,
            hdr_len: 54,
            gso_size: 1400,
            csum_start: 34,
            csum_offset: 16,
        });
        let mut extra = Vec::new();
        finish_in_software(&mut p, &mut extra).unwrap();
        let all: Vec<&[u8]> = std::iter::once(p.data())
            .chain(extra.iter().map(|p| p.data()))
            .collect();
        assert_eq!(all.len(), 3);
        let mut payload = Vec::new();
        for (i, s) in all.iter().enumerate() {
            assert!(tcp4_ok(s), "segment {i} checksum");
            let tot = u16::from_be_bytes([s[16], s[17]]) as usize;
            assert_eq!(tot + 14, s.len());
            let seq = u32::from_be_bytes(s[38..42].try_into().unwrap());
            assert_eq!(seq as usize, i * 1400);
            assert_eq!(s[47] & 0x08 != 0, i == 2, "PSH only on the last");
            payload.extend_from_slice(&s[54..]);
        }
        assert_eq!(payload, f[54..]);
    }
}
