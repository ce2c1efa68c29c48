//! Application-layer helpers (ALGs): `helper=ftp` and `helper=tftp`.
//!
//! A helper watches a connection's payload and creates *expectations*:
//! connections that will be tracked as related to it (`+rel`) when they
//! start. Under NAT the FTP helper also rewrites the addresses and ports
//! that commands carry, resizing the payload and adjusting TCP sequence
//! numbers from then on.

pub mod expect;
pub mod ftp;
pub mod tftp;

/// A helper a connection can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Helper {
    /// FTP (`nf_conntrack_ftp`, `nf_nat_ftp`).
    Ftp,
    /// TFTP (`nf_conntrack_tftp`, `nf_nat_tftp`).
    Tftp,
}

impl Helper {
    /// The helper called `name`, as `ct(helper=NAME)` names it.
    pub fn from_name(name: &str) -> Option<Helper> {
        match name {
            "ftp" => Some(Helper::Ftp),
            "tftp" => Some(Helper::Tftp),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Helper::Ftp => "ftp",
            Helper::Tftp => "tftp",
        }
    }
}

use std::sync::Arc;

use crate::conn::Conn;
use crate::state::{status, Dir};
use crate::tuple::{CtBuf, Layers};
use crate::Conntrack;

impl Conntrack {
    /// Runs connection `c`'s helper on a packet of direction `dir`:
    /// creates expectations and, under NAT, rewrites FTP payloads.
    /// `Err`: the packet must be dropped (a rewrite did not fit).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn run_helper<B: CtBuf>(
        &self,
        h: Helper,
        buf: &mut B,
        l: &Layers,
        c: &Arc<Conn>,
        dir: Dir,
        zone: u16,
        now: u64,
    ) -> Result<(), ()> {
        let natted = c.lock().status & status::NAT_MASK != 0;
        match h {
            Helper::Tftp => {
                if l.proto != packet::ipproto::UDP || l.end < l.l4 + 8 {
                    return Ok(());
                }
                let payload = &buf.data()[l.l4 + 8..l.end];
                if let Some(t) = tftp::expectation_tuple(dir, &c.orig, &c.reply, payload) {
                    let e = tftp::make(t, zone, c.clone(), natted, now);
                    self.expects.add(e, now);
                }
                Ok(())
            }
            Helper::Ftp => self.ftp_help(buf, l, c, dir, zone, now, natted),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn ftp_help<B: CtBuf>(
        &self,
        buf: &mut B,
        l: &Layers,
        c: &Arc<Conn>,
        dir: Dir,
        zone: u16,
        now: u64,
        natted: bool,
    ) -> Result<(), ()> {
        if l.proto != packet::ipproto::TCP {
            return Ok(());
        }
        let p = buf.data();
        let Ok(t) = packet::tcp::Packet::new_checked(&p[l.l4..l.end]) else {
            return Ok(());
        };
        let hl = t.header_len();
        let seq = t.seq_number();
        let pay = l.l4 + hl;
        let Some(found) = ftp::inspect(&p[pay..l.end], dir, &c.orig, &c.reply) else {
            return Ok(());
        };
        // A retransmission of a line already handled is left alone.
        {
            let d = c.lock();
            if d.helper.seq_aft_nl[dir.idx()] == Some(seq) {
                return Ok(());
            }
        }
        let mut expect = found.expect;
        let (mut nat_dst, mut nat_src) = (None, None);
        if natted {
            // nf_nat_ftp: announce the address the peer sees.
            let (this, other) = if dir == Dir::Original {
                (&c.orig, &c.reply)
            } else {
                (&c.reply, &c.orig)
            };
            let newaddr = other.dst;
            expect.dst = newaddr;
            // follow_master: back to the announcer's real address/port.
            nat_dst = Some((this.src, found.cmd.port));
            nat_src = Some((crate::nat::Manip::Src, this.dst));
        }
        // Find a free port for the expectation, starting with the same.
        let mut port = found.cmd.port;
        let mut added = false;
        for _ in 0..16 {
            expect.dst_port = port;
            let e = expect::Expectation {
                tuple: expect,
                any_src_port: true,
                zone,
                master: c.clone(),
                nat_dst,
                nat_src,
                expires: now + ftp::EXPECT_TIMEOUT_MS,
            };
            if self.expects.add(e, now) {
                added = true;
                break;
            }
            if !natted {
                break;
            }
            port = port.wrapping_add(1).max(1);
        }
        if !added {
            return Ok(());
        }
        if natted
            && (expect.dst != found.cmd.addr.unwrap_or(expect.dst)
                || port != found.cmd.port
                || found.cmd.addr.is_none())
        {
            let text = ftp::format_command(found.cmd.kind, expect.dst, c.orig.v6, port);
            let start = pay + found.cmd.start;
            let old_len = found.cmd.len;
            let delta = text.len() as isize - old_len as isize;
            let total = buf.data().len();
            let new_total = (total as isize + delta) as usize;
            let ip_len = l.end - l.l3;
            let new_ip_len = (ip_len as isize + delta) as usize;
            if new_ip_len > 65535 {
                return Err(());
            }
            // Resize: move the tail, write the text.
            if delta > 0 {
                buf.set_len(new_total);
            }
            let d = buf.data_mut();
            d.copy_within(
                start + old_len..total,
                (start as isize + text.len() as isize) as usize,
            );
            d[start..start + text.len()].copy_from_slice(text.as_bytes());
            if delta < 0 {
                buf.set_len(new_total);
            }
            let new_end = (l.end as isize + delta) as usize;
            let d = buf.data_mut();
            // IP length and checksum.
            if l.v6 {
                let pl = (new_end - l.l3 - packet::ipv6::HEADER_LEN) as u16;
                d[l.l3 + 4..l.l3 + 6].copy_from_slice(&pl.to_be_bytes());
            } else {
                let mut h = packet::ipv4::Packet::new_unchecked(&mut d[l.l3..]);
                h.set_total_len(new_ip_len as u16);
                h.fill_checksum();
            }
            // TCP checksum over the new segment.
            let (s, dst) = crate::tuple::addrs(d, l);
            let seg_len = new_end - l.l4;
            let pseudo = if l.v6 {
                checksum::pseudo_header_v6(s, dst, packet::ipproto::TCP, seg_len as u32)
            } else {
                checksum::pseudo_header_v4(
                    s as u32,
                    dst as u32,
                    packet::ipproto::TCP,
                    seg_len as u16,
                )
            };
            d[l.l4 + 16] = 0;
            d[l.l4 + 17] = 0;
            let cs = checksum::finish(checksum::add(pseudo, &d[l.l4..new_end]));
            d[l.l4 + 16..l.l4 + 18].copy_from_slice(&cs.to_be_bytes());
            if delta != 0 {
                let mut cd = c.lock();
                ftp::seqadj_set(&mut cd.seqadj[dir.idx()], seq, delta as i32);
                cd.status |= status::SEQ_ADJUST;
            }
        }
        c.lock().helper.seq_aft_nl[dir.idx()] = Some(seq);
        Ok(())
    }
}

use packet::checksum;
