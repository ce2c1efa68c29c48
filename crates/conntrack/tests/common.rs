//! Test packets, built byte by byte (independently of the engine's
//! parser), with correct checksums.

#![allow(dead_code)]

use odp::flow::Flow;
use packet::checksum;

pub const SYN: u16 = 0x02;
pub const ACK: u16 = 0x10;
pub const FIN: u16 = 0x01;
pub const RST: u16 = 0x04;
pub const PSH: u16 = 0x08;

pub fn v4(a: [u8; 4]) -> u128 {
    u128::from(u32::from_be_bytes(a))
}

fn eth(ty: u16) -> Vec<u8> {
    let mut p = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    p.extend_from_slice(&ty.to_be_bytes());
    p
}

/// An IPv4 packet (Ethernet header included) around `l4` (whose checksum
/// field at `csum_at`, if any, is filled in with the pseudo-header).
pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8], csum_at: Option<usize>) -> Vec<u8> {
    ipv4_frag(src, dst, proto, l4, csum_at, 0, 0x1234)
}

pub fn ipv4_frag(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    l4: &[u8],
    csum_at: Option<usize>,
    flags_frag: u16,
    id: u16,
) -> Vec<u8> {
    let mut p = eth(0x0800);
    let total = (20 + l4.len()) as u16;
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&total.to_be_bytes());
    h.extend_from_slice(&id.to_be_bytes());
    h.extend_from_slice(&flags_frag.to_be_bytes());
    h.extend_from_slice(&[64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let c = checksum::data(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(&h);
    let mut l4 = l4.to_vec();
    if let Some(at) = csum_at {
        l4[at] = 0;
        l4[at + 1] = 0;
        let ps = if proto == 1 {
            0
        } else {
            checksum::pseudo_header_v4(
                u32::from_be_bytes(src),
                u32::from_be_bytes(dst),
                proto,
                l4.len() as u16,
            )
        };
        let mut c = checksum::finish(checksum::add(ps, &l4));
        if proto == 17 && c == 0 {
            c = 0xffff;
        }
        l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    p.extend_from_slice(&l4);
    p
}

pub fn ipv6(src: u128, dst: u128, proto: u8, l4: &[u8], csum_at: Option<usize>) -> Vec<u8> {
    let mut p = eth(0x86dd);
    p.extend_from_slice(&[0x60, 0, 0, 0]);
    p.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    p.extend_from_slice(&[proto, 64]);
    p.extend_from_slice(&src.to_be_bytes());
    p.extend_from_slice(&dst.to_be_bytes());
    let mut l4 = l4.to_vec();
    if let Some(at) = csum_at {
        l4[at] = 0;
        l4[at + 1] = 0;
        let ps = checksum::pseudo_header_v6(src, dst, proto, l4.len() as u32);
        let mut c = checksum::finish(checksum::add(ps, &l4));
        if proto == 17 && c == 0 {
            c = 0xffff;
        }
        l4[at..at + 2].copy_from_slice(&c.to_be_bytes());
    }
    p.extend_from_slice(&l4);
    p
}

#[allow(clippy::too_many_arguments)]
pub fn tcp_seg(
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u16,
    win: u16,
    opts: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let hl = 20 + opts.len();
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&((((hl / 4) as u16) << 12) | flags).to_be_bytes());
    t.extend_from_slice(&win.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(opts);
    t.extend_from_slice(payload);
    t
}

#[allow(clippy::too_many_arguments)]
pub fn tcp4(
    src: [u8; 4],
    sport: u16,
    dst: [u8; 4],
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u16,
    payload: &[u8],
) -> Vec<u8> {
    let t = tcp_seg(sport, dport, seq, ack, flags, 65535, &[], payload);
    ipv4(src, dst, 6, &t, Some(16))
}

pub fn udp_dgram(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

pub fn udp4(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, payload: &[u8]) -> Vec<u8> {
    ipv4(src, dst, 17, &udp_dgram(sport, dport, payload), Some(6))
}

pub fn udp6(src: u128, sport: u16, dst: u128, dport: u16, payload: &[u8]) -> Vec<u8> {
    ipv6(src, dst, 17, &udp_dgram(sport, dport, payload), Some(6))
}

pub fn icmp4(src: [u8; 4], dst: [u8; 4], ty: u8, code: u8, rest: u32, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(&rest.to_be_bytes());
    m.extend_from_slice(payload);
    ipv4(src, dst, 1, &m, Some(2))
}

pub fn icmp6(src: u128, dst: u128, ty: u8, code: u8, rest: u32, payload: &[u8]) -> Vec<u8> {
    let mut m = vec![ty, code, 0, 0];
    m.extend_from_slice(&rest.to_be_bytes());
    m.extend_from_slice(payload);
    ipv6(src, dst, 58, &m, Some(2))
}

/// The IP datagram of a frame (without Ethernet).
pub fn l3(frame: &[u8]) -> &[u8] {
    &frame[14..]
}

/// A fresh flow key (no ct state).
pub fn md() -> Flow {
    Flow::default()
}

/// True if every checksum of the IPv4/IPv6 frame is right.
pub fn checksums_ok(frame: &[u8]) -> bool {
    let ty = u16::from_be_bytes([frame[12], frame[13]]);
    let ip = &frame[14..];
    if ty == 0x0800 {
        let h = packet::ipv4::Packet::new_checked(ip).unwrap();
        if !h.verify_checksum() {
            return false;
        }
        let l4 = h.payload();
        let (s, d) = (h.src_addr(), h.dst_addr());
        match h.protocol() {
            6 => checksum::is_valid(checksum::add(
                checksum::pseudo_header_v4(s, d, 6, l4.len() as u16),
                l4,
            )),
            17 => {
                u16::from_be_bytes([l4[6], l4[7]]) == 0
                    || checksum::is_valid(checksum::add(
                        checksum::pseudo_header_v4(s, d, 17, l4.len() as u16),
                        l4,
                    ))
            }
            1 => checksum::is_valid(checksum::add(0, l4)),
            _ => true,
        }
    } else {
        let h = packet::ipv6::Packet::new_checked(ip).unwrap();
        let l4 = h.payload();
        let ps = checksum::pseudo_header_v6(
            h.src_addr(),
            h.dst_addr(),
            h.next_header(),
            l4.len() as u32,
        );
        checksum::is_valid(checksum::add(ps, l4))
    }
}
