//! The FTP helper (`nf_conntrack_ftp` with `nf_nat_ftp`).
//!
//! Commands that announce a data connection create an expectation:
//! `PORT h1,h2,h3,h4,p1,p2` and `EPRT |1|addr|port|` from the client,
//! `227 ... (h1,h2,h3,h4,p1,p2)` and `229 ... (|||port|)` from the
//! server. When the control connection is NATed, the announced address
//! and port are rewritten to what the peer sees, the payload may change
//! length, and every later segment's sequence (and the peer's
//! acknowledgment) numbers are shifted by the accumulated difference
//! ([`seq_adjust`], `nf_ct_seq_adjust`).

use packet::checksum;

use crate::conn::ConnData;
use crate::state::Dir;
use crate::tcp::SeqAdj;
use crate::tuple::{Layers, Tuple};

/// How long an FTP expectation lives (5 min, `nf_ct_ftp` policy).
pub const EXPECT_TIMEOUT_MS: u64 = 5 * 60 * 1000;

/// A command that announces a data connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Command {
    /// Which command.
    pub kind: Kind,
    /// Offset of the address/port text within the payload.
    pub start: usize,
    /// Its length.
    pub len: usize,
    /// The address announced (IPv4 for PORT/227; none for EPSV).
    pub addr: Option<u128>,
    /// The port announced.
    pub port: u16,
}

/// FTP commands the helper knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `PORT`.
    Port,
    /// `EPRT`.
    Eprt,
    /// `227` (PASV reply).
    Pasv,
    /// `229` (EPSV reply).
    Epsv,
}

fn parse_comma(s: &[u8]) -> Option<(usize, [u8; 6])> {
    let mut v = [0u16; 6];
    let mut i = 0;
    let mut n = 0;
    let mut digits = 0;
    while i < s.len() {
        let c = s[i];
        if c.is_ascii_digit() {
            v[n] = v[n] * 10 + u16::from(c - b'0');
            digits += 1;
            if v[n] > 255 || digits > 3 {
                return None;
            }
        } else if c == b',' && digits > 0 && n < 5 {
            n += 1;
            digits = 0;
        } else {
            break;
        }
        i += 1;
    }
    if n != 5 || digits == 0 {
        return None;
    }
    let mut out = [0u8; 6];
    for (o, x) in out.iter_mut().zip(v) {
        *o = x as u8;
    }
    Some((i, out))
}

fn parse_eprt(s: &[u8]) -> Option<(usize, Option<u128>, u16)> {
    // |af|addr|port|
    let d = *s.first()?;
    let parts: Vec<&[u8]> = s.get(1..)?.splitn(4, |&c| c == d).collect();
    if parts.len() < 4 {
        return None;
    }
    let text = std::str::from_utf8(parts[1]).ok()?;
    let addr = if parts[0] == b"1" {
        Some(u128::from(u32::from(
            text.parse::<std::net::Ipv4Addr>().ok()?,
        )))
    } else if parts[0] == b"2" {
        Some(u128::from(text.parse::<std::net::Ipv6Addr>().ok()?))
    } else {
        None
    };
    let port: u16 = std::str::from_utf8(parts[2]).ok()?.parse().ok()?;
    let len = 1 + parts[0].len() + 1 + parts[1].len() + 1 + parts[2].len() + 1;
    Some((len, addr, port))
}

fn parse_epsv(s: &[u8]) -> Option<(usize, u16)> {
    let d = *s.first()?;
    if s.get(1) != Some(&d) || s.get(2) != Some(&d) {
        return None;
    }
    let rest = s.get(3..)?;
    let end = rest.iter().position(|&c| c == d)?;
    let port: u16 = std::str::from_utf8(&rest[..end]).ok()?.parse().ok()?;
    Some((3 + end + 1, port))
}

/// Finds the first announcing command at the start of a line of
/// `payload` sent in direction `dir`.
pub fn find_command(payload: &[u8], dir: Dir) -> Option<Command> {
    let mut line = 0;
    while line < payload.len() {
        let s = &payload[line..];
        let found = match dir {
            Dir::Original => {
                if s.len() >= 5 && s[..5].eq_ignore_ascii_case(b"PORT ") {
                    parse_comma(&s[5..]).map(|(n, b)| Command {
                        kind: Kind::Port,
                        start: line + 5,
                        len: n,
                        addr: Some(u128::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
                        port: u16::from_be_bytes([b[4], b[5]]),
                    })
                } else if s.len() >= 5 && s[..5].eq_ignore_ascii_case(b"EPRT ") {
                    parse_eprt(&s[5..]).map(|(n, addr, port)| Command {
                        kind: Kind::Eprt,
                        start: line + 5,
                        len: n,
                        addr,
                        port,
                    })
                } else {
                    None
                }
            }
            Dir::Reply => {
                if s.starts_with(b"227 ") {
                    let open = s
                        .iter()
                        .take_while(|&&c| c != b'\n')
                        .position(|&c| c == b'(')?;
                    parse_comma(&s[open + 1..]).map(|(n, b)| Command {
                        kind: Kind::Pasv,
                        start: line + open + 1,
                        len: n,
                        addr: Some(u128::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))),
                        port: u16::from_be_bytes([b[4], b[5]]),
                    })
                } else if s.starts_with(b"229 ") {
                    let open = s
                        .iter()
                        .take_while(|&&c| c != b'\n')
                        .position(|&c| c == b'(')?;
                    parse_epsv(&s[open + 1..]).map(|(n, port)| Command {
                        kind: Kind::Epsv,
                        start: line + open + 1,
                        len: n,
                        addr: None,
                        port,
                    })
                } else {
                    None
                }
            }
        };
        if found.is_some() {
            return found;
        }
        match payload[line..].iter().position(|&c| c == b'\n') {
            Some(n) => line += n + 1,
            None => break,
        }
    }
    None
}

/// The text a command carries for `addr` and `port` (`nf_nat_ftp`'s
/// `nf_nat_ftp_fmt_cmd`).
pub fn format_command(kind: Kind, addr: u128, v6: bool, port: u16) -> String {
    match kind {
        Kind::Port | Kind::Pasv => {
            let a = (addr as u32).to_be_bytes();
            format!(
                "{},{},{},{},{},{}",
                a[0],
                a[1],
                a[2],
                a[3],
                port >> 8,
                port & 0xff
            )
        }
        Kind::Eprt => {
            if v6 {
                format!("|2|{}|{}|", std::net::Ipv6Addr::from(addr), port)
            } else {
                format!("|1|{}|{}|", std::net::Ipv4Addr::from(addr as u32), port)
            }
        }
        Kind::Epsv => format!("|||{port}|"),
    }
}

/// `nf_ct_seqadj_set`: records a payload resize of `delta` bytes in the
/// segment starting at `seq` of direction `dir`.
pub fn seqadj_set(adj: &mut SeqAdj, seq: u32, delta: i32) {
    if adj.offset_before == adj.offset_after || (adj.correction_pos.wrapping_sub(seq) as i32) < 0 {
        adj.correction_pos = seq;
        adj.offset_before = adj.offset_after;
        adj.offset_after = adj.offset_after.wrapping_add(delta);
    }
}

/// `nf_ct_seq_adjust`: shifts the sequence number of a segment of
/// direction `dir` and its acknowledgment number by the resizes made so
/// far, updating the TCP checksum.
pub fn seq_adjust(p: &mut [u8], l: &Layers, d: &ConnData, dir: Dir) {
    if l.proto != packet::ipproto::TCP || p.len() < l.l4 + 20 {
        return;
    }
    let this = d.seqadj[dir.idx()];
    let other = d.seqadj[dir.rev().idx()];
    let t = l.l4;
    let seq = u32::from_be_bytes([p[t + 4], p[t + 5], p[t + 6], p[t + 7]]);
    let ack = u32::from_be_bytes([p[t + 8], p[t + 9], p[t + 10], p[t + 11]]);
    let newseq = seq.wrapping_add(this.offset(seq) as u32);
    let ackoff = if (other
        .correction_pos
        .wrapping_sub(ack.wrapping_sub(other.offset_before as u32)) as i32)
        < 0
    {
        other.offset_after
    } else {
        other.offset_before
    };
    let newack = ack.wrapping_sub(ackoff as u32);
    let mut c = u16::from_be_bytes([p[t + 16], p[t + 17]]);
    c = checksum::update_u32(c, seq, newseq);
    c = checksum::update_u32(c, ack, newack);
    p[t + 4..t + 8].copy_from_slice(&newseq.to_be_bytes());
    p[t + 8..t + 12].copy_from_slice(&newack.to_be_bytes());
    p[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
}

/// What the helper found in a segment.
pub struct Found {
    /// The command.
    pub cmd: Command,
    /// The expected connection's tuple (source port unused).
    pub expect: Tuple,
}

/// Parses a segment of the control connection: the command and the
/// expectation it creates (`help` of nf_conntrack_ftp). `orig`/`reply`
/// are the connection's tuples.
pub fn inspect(payload: &[u8], dir: Dir, orig: &Tuple, reply: &Tuple) -> Option<Found> {
    let cmd = find_command(payload, dir)?;
    let (this, other) = if dir == Dir::Original {
        (orig, reply)
    } else {
        (reply, orig)
    };
    // The data connection comes from the peer to the announcing side's
    // address as the connection sees it.
    let expect = Tuple {
        src: other.src,
        dst: this.src,
        src_port: 0,
        dst_port: cmd.port,
        proto: packet::ipproto::TCP,
        v6: orig.v6,
    };
    Some(Found { cmd, expect })
}
