//! TCP connection tracking: the state machine and window tracking of the
//! kernel's `nf_conntrack_proto_tcp.c` (after "Real Stateful TCP Packet
//! Filtering in IP Filter" by Guido van Rooij), reimplemented from its
//! documented behaviour.
//!
//! [`TcpConn::packet`] takes one segment of a connection and says whether
//! it is accepted (with the timeout the connection gets), ignored (passed
//! without changing the state, still part of the connection), invalid
//! (`+inv`), or whether the connection must be replaced by a new one
//! (a SYN reopening a closed connection). [`TcpConn::new`] is `tcp_new`:
//! only a SYN may start a connection unless `tcp_loose` is set.

use crate::state::Dir;
use crate::timeout::TcpTimeouts;

/// `enum tcp_conntrack`, in the kernel's numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum TcpState {
    /// `TCP_CONNTRACK_NONE`.
    None = 0,
    /// `SYN_SENT`: a SYN seen.
    SynSent = 1,
    /// `SYN_RECV`: a SYN-ACK seen.
    SynRecv = 2,
    /// `ESTABLISHED`: the handshake's ACK seen.
    Established = 3,
    /// `FIN_WAIT`: a FIN seen.
    FinWait = 4,
    /// `CLOSE_WAIT`: an ACK of a FIN seen.
    CloseWait = 5,
    /// `LAST_ACK`: FINs seen both ways.
    LastAck = 6,
    /// `TIME_WAIT`: the last ACK seen.
    TimeWait = 7,
    /// `CLOSE`: closed by a RST.
    Close = 8,
    /// `SYN_SENT2`: simultaneous open.
    SynSent2 = 9,
}

/// Kernel names of the states (`tcp_conntrack_names`).
pub const STATE_NAMES: [&str; 10] = [
    "NONE",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "FIN_WAIT",
    "CLOSE_WAIT",
    "LAST_ACK",
    "TIME_WAIT",
    "CLOSE",
    "SYN_SENT2",
];

/// An entry of the transition table: a state, invalid, or ignore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    S(TcpState),
    Iv,
    Ig,
}

use Next::{Ig, Iv};
use TcpState::*;
const NO: Next = Next::S(None);
const SS: Next = Next::S(SynSent);
const SR: Next = Next::S(SynRecv);
const ES: Next = Next::S(Established);
const FW: Next = Next::S(FinWait);
const CW: Next = Next::S(CloseWait);
const LA: Next = Next::S(LastAck);
const TW: Next = Next::S(TimeWait);
const CL: Next = Next::S(Close);
const S2: Next = Next::S(SynSent2);

/// Index of a segment's flags in the table (`get_conntrack_index`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Index {
    Syn = 0,
    SynAck = 1,
    Fin = 2,
    Ack = 3,
    Rst = 4,
    NoneSet = 5,
}

/// The transition table `[dir][index][old state]` (columns: NONE,
/// SYN_SENT, SYN_RECV, ESTABLISHED, FIN_WAIT, CLOSE_WAIT, LAST_ACK,
/// TIME_WAIT, CLOSE, SYN_SENT2), as `tcp_conntracks` in the kernel.
const TABLE: [[[Next; 10]; 6]; 2] = [
    [
        // original: syn, synack, fin, ack, rst, none
        [SS, SS, Ig, Ig, Ig, Ig, Ig, SS, SS, S2],
        [Iv, Iv, SR, Iv, Iv, Iv, Iv, Iv, Iv, SR],
        [Iv, Iv, FW, FW, LA, LA, LA, TW, CL, Iv],
        [ES, Iv, ES, ES, CW, CW, TW, TW, CL, Iv],
        [Iv, CL, CL, CL, CL, CL, CL, CL, CL, CL],
        [Iv, Iv, Iv, Iv, Iv, Iv, Iv, Iv, Iv, Iv],
    ],
    [
        // reply
        [Iv, S2, Iv, Iv, Iv, Iv, Iv, SS, Iv, S2],
        [Iv, SR, Ig, Ig, Ig, Ig, Ig, Ig, Ig, SR],
        [Iv, Iv, FW, FW, LA, LA, LA, TW, CL, Iv],
        [Iv, Ig, SR, ES, CW, CW, TW, TW, CL, Ig],
        [Iv, CL, CL, CL, CL, CL, CL, CL, CL, CL],
        [Iv, Iv, Iv, Iv, Iv, Iv, Iv, Iv, Iv, Iv],
    ],
];

// Unused-constant guard: NO is the NONE column's state name.
const _: Next = NO;

/// `IP_CT_TCP_FLAG_*` (per direction).
pub mod flags {
    /// Window scaling option seen.
    pub const WINDOW_SCALE: u8 = 0x01;
    /// SACK permitted option seen.
    pub const SACK_PERM: u8 = 0x02;
    /// This side closed first (sent the first FIN).
    pub const CLOSE_INIT: u8 = 0x04;
    /// Be liberal: window problems are not invalid.
    pub const BE_LIBERAL: u8 = 0x08;
    /// Data sent but not yet acknowledged.
    pub const DATA_UNACKNOWLEDGED: u8 = 0x10;
    /// `td_maxack` holds a value.
    pub const MAXACK_SET: u8 = 0x20;
    /// A challenge ACK may answer an ignored SYN (in `last_flags`).
    pub const EXP_CHALLENGE_ACK: u8 = 0x40;
    /// Simultaneous open (in `last_flags`).
    pub const SIMULTANEOUS_OPEN: u8 = 0x80;
}

/// One side's window tracking (`struct ip_ct_tcp_state`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpSeen {
    /// Highest sequence number sent, plus length.
    pub td_end: u32,
    /// Highest ack + window seen from the peer.
    pub td_maxend: u32,
    /// Largest window seen.
    pub td_maxwin: u32,
    /// Largest ack sent.
    pub td_maxack: u32,
    /// Window scale factor.
    pub td_scale: u8,
    /// [`flags`] bits.
    pub flags: u8,
}

/// TCP state of a connection (`struct ip_ct_tcp`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpConn {
    /// The [`TcpState`] as its number.
    pub state: u8,
    /// Per-direction tracking, original then reply.
    pub seen: [TcpSeen; 2],
    last_dir: u8,
    last_index: u8,
    last_seq: u32,
    last_ack: u32,
    last_end: u32,
    last_win: u16,
    last_wscale: u8,
    last_flags: u8,
    retrans: u8,
}

/// The fields of one TCP segment that tracking needs.
#[derive(Debug, Clone, Copy)]
pub struct Segment<'a> {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// The 12 flag bits.
    pub flags: u16,
    /// Raw window.
    pub win: u16,
    /// The option bytes.
    pub options: &'a [u8],
    /// Payload length.
    pub payload_len: u32,
}

const FIN: u16 = 0x01;
const SYN: u16 = 0x02;
const RST: u16 = 0x04;
const PSH: u16 = 0x08;
const ACK: u16 = 0x10;
const URG: u16 = 0x20;
const ECE: u16 = 0x40;
const CWR: u16 = 0x80;

impl Segment<'_> {
    fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    /// `segment_seq_plus_len`.
    fn end(&self) -> u32 {
        self.seq
            .wrapping_add(self.payload_len)
            .wrapping_add(u32::from(self.has(SYN)))
            .wrapping_add(u32::from(self.has(FIN)))
    }

    fn index(&self) -> Index {
        if self.has(RST) {
            Index::Rst
        } else if self.has(SYN) {
            if self.has(ACK) {
                Index::SynAck
            } else {
                Index::Syn
            }
        } else if self.has(FIN) {
            Index::Fin
        } else if self.has(ACK) {
            Index::Ack
        } else {
            Index::NoneSet
        }
    }

    /// `tcp_error`'s flag check: only the combinations of
    /// `tcp_valid_flags` (PSH, ECE and CWR always allowed).
    pub fn flags_valid(&self) -> bool {
        let f = self.flags & 0x3f & !(PSH | ECE | CWR);
        matches!(
            f,
            x if x == SYN
                || x == SYN | URG
                || x == SYN | ACK
                || x == RST
                || x == RST | ACK
                || x == FIN | ACK
                || x == FIN | ACK | URG
                || x == ACK
                || x == ACK | URG
        )
    }
}

/// `before(a, b)`: sequence-space comparison.
fn before(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

const MAXACKWINCONST: u32 = 66000;
const TCP_MAX_WSCALE: u8 = 14;

/// The outcome of [`TcpConn::packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TcpVerdict {
    /// In window: the connection's timeout becomes this many seconds.
    /// `kill`: the connection ends after this packet (a RST answering
    /// an unreplied connection).
    Accept {
        /// New timeout in seconds.
        timeout: u32,
        /// The connection is to be removed.
        kill: bool,
        /// The connection becomes assured.
        assured: bool,
    },
    /// Passed, without changing the connection or its timeout.
    Ignore,
    /// Not acceptable: `+inv`.
    Invalid,
    /// A SYN reopens a closed connection: remove it and track the packet
    /// as new.
    Repeat,
}

/// Parses window scale and SACK-permitted options (`tcp_options`).
fn parse_options(opts: &[u8], st: &mut TcpSeen) {
    if opts.is_empty() {
        return;
    }
    st.td_scale = 0;
    st.flags &= flags::BE_LIBERAL;
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return,
            1 => i += 1,
            code => {
                if i + 1 >= opts.len() {
                    return;
                }
                let size = usize::from(opts[i + 1]);
                if size < 2 || size > opts.len() - i {
                    return;
                }
                if code == 4 && size == 2 {
                    st.flags |= flags::SACK_PERM;
                } else if code == 3 && size == 3 {
                    st.td_scale = opts[i + 2].min(TCP_MAX_WSCALE);
                    st.flags |= flags::WINDOW_SCALE;
                }
                i += size;
            }
        }
    }
}

/// The highest right edge of the SACK blocks, if above `sack` (`tcp_sack`).
fn parse_sack(opts: &[u8], sack: &mut u32) {
    // Timestamp-only fast path: NOP NOP TS(10).
    if opts.len() == 12 && opts[..4] == [1, 1, 8, 10] {
        return;
    }
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => return,
            1 => i += 1,
            code => {
                if i + 1 >= opts.len() {
                    return;
                }
                let size = usize::from(opts[i + 1]);
                if size < 2 || size > opts.len() - i {
                    return;
                }
                if code == 5 && size >= 10 && (size - 2) % 8 == 0 {
                    let mut b = i + 2;
                    while b + 8 <= i + size {
                        let right = u32::from_be_bytes([
                            opts[b + 4],
                            opts[b + 5],
                            opts[b + 6],
                            opts[b + 7],
                        ]);
                        if after(right, *sack) {
                            *sack = right;
                        }
                        b += 8;
                    }
                    return;
                }
                i += size;
            }
        }
    }
}

/// Sequence adjustment of one direction after a helper resized a payload
/// (`struct nf_ct_seqadj`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeqAdj {
    /// Sequence number where the latest resize happened.
    pub correction_pos: u32,
    /// Offset for sequence numbers up to `correction_pos`.
    pub offset_before: i32,
    /// Offset for sequence numbers after `correction_pos`.
    pub offset_after: i32,
}

impl SeqAdj {
    /// `nf_ct_seq_offset`: the offset that applies to `seq`.
    pub fn offset(&self, seq: u32) -> i32 {
        if after(seq, self.correction_pos) {
            self.offset_after
        } else {
            self.offset_before
        }
    }
}

/// What [`TcpConn::packet`] needs to know about the connection.
pub struct Ctx<'a> {
    /// The timeouts in force.
    pub timeouts: &'a TcpTimeouts,
    /// The `nf_conntrack_tcp_be_liberal` switch.
    pub be_liberal: bool,
    /// `nf_conntrack_tcp_max_retrans`.
    pub max_retrans: u8,
    /// `IPS_SEEN_REPLY`.
    pub seen_reply: bool,
    /// `IPS_ASSURED`.
    pub assured: bool,
    /// Sequence adjustments, per direction.
    pub seqadj: &'a [SeqAdj; 2],
}

impl TcpConn {
    /// `tcp_new`: the state for the first packet of a connection, or
    /// `None` if the packet may not start one. `loose` allows picking up
    /// a connection in the middle (`nf_conntrack_tcp_loose`).
    pub fn new(seg: &Segment<'_>, loose: bool) -> Option<TcpConn> {
        let next = TABLE[0][seg.index() as usize][0];
        let mut c = TcpConn {
            last_index: Index::NoneSet as u8,
            ..TcpConn::default()
        };
        match next {
            Next::S(SynSent) => {
                let s = &mut c.seen[0];
                s.td_end = seg.end();
                s.td_maxwin = u32::from(seg.win).max(1);
                s.td_maxend = s.td_end;
                parse_options(seg.options, s);
            }
            Next::S(_) if loose => {
                let s = &mut c.seen[0];
                s.td_end = seg.end();
                s.td_maxwin = u32::from(seg.win).max(1);
                s.td_maxend = s.td_end.wrapping_add(s.td_maxwin);
                c.seen[0].flags = flags::SACK_PERM | flags::BE_LIBERAL;
                c.seen[1].flags = flags::SACK_PERM | flags::BE_LIBERAL;
            }
            _ => return Option::None,
        }
        Some(c)
    }

    /// The state as a [`TcpState`].
    pub fn tcp_state(&self) -> TcpState {
        match self.state {
            1 => SynSent,
            2 => SynRecv,
            3 => Established,
            4 => FinWait,
            5 => CloseWait,
            6 => LastAck,
            7 => TimeWait,
            8 => Close,
            9 => SynSent2,
            _ => None,
        }
    }

    /// `nf_conntrack_tcp_established` (with `assured` the connection's
    /// `IPS_ASSURED`).
    pub fn established(&self, assured: bool) -> bool {
        self.state == Established as u8 && assured
    }

    /// Sets both directions liberal (`nf_ct_set_tcp_be_liberal`).
    pub fn set_liberal(&mut self) {
        self.seen[0].flags |= flags::BE_LIBERAL;
        self.seen[1].flags |= flags::BE_LIBERAL;
    }

    fn init_sender(&mut self, d: usize, seg: &Segment<'_>, end: u32, win: u32) {
        let (sender, receiver_flags) = {
            let rf = self.seen[1 - d].flags;
            (&mut self.seen[d], rf)
        };
        sender.td_end = end;
        sender.td_maxend = end;
        sender.td_maxwin = win.max(1);
        parse_options(seg.options, sender);
        if d == 1
            && !(sender.flags & flags::WINDOW_SCALE != 0
                && receiver_flags & flags::WINDOW_SCALE != 0)
        {
            self.seen[0].td_scale = 0;
            self.seen[1].td_scale = 0;
        }
    }

    /// The liberal escape of `nf_tcp_log_invalid`.
    fn invalid_or(&self, d: usize, ctx: &Ctx<'_>, v: Win) -> Win {
        if self.seen[d].flags & flags::BE_LIBERAL != 0 || ctx.be_liberal {
            Win::Accept
        } else {
            v
        }
    }

    /// `tcp_in_window`.
    fn in_window(&mut self, dir: Dir, index: Index, seg: &Segment<'_>, ctx: &Ctx<'_>) -> Win {
        let d = dir.idx();
        let mut seq = seg.seq;
        let mut ack = seg.ack;
        let mut sack = seg.ack;
        let win_raw = seg.win;
        let mut win = u32::from(win_raw);
        let mut end = seg.end();

        if self.seen[1 - d].flags & flags::SACK_PERM != 0 {
            parse_sack(seg.options, &mut sack);
        }
        let receiver_offset = ctx.seqadj[1 - d].offset(ack.wrapping_sub(1));
        ack = ack.wrapping_sub(receiver_offset as u32);
        sack = sack.wrapping_sub(receiver_offset as u32);

        if self.seen[d].td_maxwin == 0 {
            if seg.has(SYN) {
                self.init_sender(d, seg, end, win);
                if !seg.has(ACK) {
                    return Win::Accept;
                }
            } else {
                let scale = self.seen[d].td_scale;
                let sender = &mut self.seen[d];
                sender.td_end = end;
                let swin = win << scale;
                sender.td_maxwin = swin.max(1);
                sender.td_maxend = end.wrapping_add(sender.td_maxwin);
                let receiver = &mut self.seen[1 - d];
                if receiver.td_maxwin == 0 {
                    receiver.td_end = sack;
                    receiver.td_maxend = sack;
                } else if sack == receiver.td_end.wrapping_add(1) {
                    receiver.td_end = receiver.td_end.wrapping_add(1);
                }
            }
        } else if seg.has(SYN)
            && after(end, self.seen[d].td_end)
            && (self.state == SynSent as u8 || self.state == SynRecv as u8)
        {
            self.init_sender(d, seg, end, win);
            if dir == Dir::Reply && !seg.has(ACK) {
                return Win::Accept;
            }
        }

        if !seg.has(ACK) || (seg.flags & (ACK | RST) == ACK | RST && ack == 0) {
            ack = self.seen[1 - d].td_end;
            sack = ack;
        }

        if seg.has(RST) && seq == 0 && self.state == SynSent as u8 {
            seq = self.seen[d].td_end;
            end = seq;
        }

        let sender = self.seen[d];
        let receiver = self.seen[1 - d];
        let maxackwin = sender.td_maxwin.max(MAXACKWINCONST);

        let seq_ok = before(seq, sender.td_maxend.wrapping_add(1));
        if !seq_ok {
            let overshot = end.wrapping_sub(sender.td_maxend).wrapping_add(1);
            let ack_ok = after(
                sack,
                receiver.td_end.wrapping_sub(maxackwin).wrapping_sub(1),
            );
            let in_recv_win = receiver.td_maxwin != 0
                && after(
                    end,
                    sender
                        .td_end
                        .wrapping_sub(receiver.td_maxwin)
                        .wrapping_sub(1),
                );
            if in_recv_win
                && ack_ok
                && overshot <= receiver.td_maxwin
                && before(sack, receiver.td_end.wrapping_add(1))
            {
                self.seen[d].td_end = end;
                self.seen[d].flags |= flags::DATA_UNACKNOWLEDGED;
                return self.invalid_or(d, ctx, Win::Ignore);
            }
            return self.invalid_or(d, ctx, Win::Invalid);
        }

        if !before(sack, receiver.td_end.wrapping_add(1)) {
            return self.invalid_or(d, ctx, Win::Invalid);
        }
        let in_recv_win = receiver.td_maxwin == 0
            || after(
                end,
                sender
                    .td_end
                    .wrapping_sub(receiver.td_maxwin)
                    .wrapping_sub(1),
            );
        if !in_recv_win {
            return self.invalid_or(d, ctx, Win::Ignore);
        }
        if !after(
            sack,
            receiver.td_end.wrapping_sub(maxackwin).wrapping_sub(1),
        ) {
            return self.invalid_or(d, ctx, Win::Ignore);
        }

        if !seg.has(SYN) {
            win <<= sender.td_scale;
        }
        let swin = win.wrapping_add(sack.wrapping_sub(ack));
        let s = &mut self.seen[d];
        if s.td_maxwin < swin {
            s.td_maxwin = swin;
        }
        if after(end, s.td_end) {
            s.td_end = end;
            s.flags |= flags::DATA_UNACKNOWLEDGED;
        }
        if seg.has(ACK) {
            if s.flags & flags::MAXACK_SET == 0 {
                s.td_maxack = ack;
                s.flags |= flags::MAXACK_SET;
            } else if after(ack, s.td_maxack) {
                s.td_maxack = ack;
            }
        }
        let s_maxend = s.td_maxend;
        let r = &mut self.seen[1 - d];
        if r.td_maxwin != 0 && after(end, s_maxend) {
            r.td_maxwin = r.td_maxwin.wrapping_add(end.wrapping_sub(s_maxend));
        }
        if after(sack.wrapping_add(win), r.td_maxend.wrapping_sub(1)) {
            r.td_maxend = sack.wrapping_add(win);
            if win == 0 {
                r.td_maxend = r.td_maxend.wrapping_add(1);
            }
        }
        if ack == r.td_end {
            r.flags &= !flags::DATA_UNACKNOWLEDGED;
        }

        if index == Index::Ack {
            if self.last_dir == d as u8
                && self.last_seq == seq
                && self.last_ack == ack
                && self.last_end == end
                && self.last_win == win_raw
            {
                self.retrans = self.retrans.saturating_add(1);
            } else {
                self.last_dir = d as u8;
                self.last_seq = seq;
                self.last_ack = ack;
                self.last_end = end;
                self.last_win = win_raw;
                self.retrans = 0;
            }
        }
        Win::Accept
    }

    /// `nf_conntrack_tcp_packet` for a segment of direction `dir` (the
    /// flags already passed [`Segment::flags_valid`]).
    pub fn packet(&mut self, dir: Dir, seg: &Segment<'_>, ctx: &Ctx<'_>) -> TcpVerdict {
        let d = dir.idx();
        let old_state = self.state;
        let index = seg.index();
        let mut old = old_state;
        let mut next = TABLE[d][index as usize][usize::from(old_state.min(9))];
        let mut skip_window = false;

        match next {
            Next::S(SynSent) | Ig => {
                if next == Next::S(SynSent) {
                    if old_state < TimeWait as u8 {
                        // Retransmitted SYN: the window check decides.
                        return self.finish(dir, index, seg, ctx, old, SynSent as u8, false);
                    }
                    if (self.seen[d].flags | self.seen[1 - d].flags) & flags::CLOSE_INIT != 0
                        || (self.last_dir == d as u8 && self.last_index == Index::Rst as u8)
                    {
                        return TcpVerdict::Repeat;
                    }
                }
                // Ignored packets (or a reopening SYN not allowed).
                if index == Index::SynAck
                    && self.last_index == Index::Syn as u8
                    && self.last_dir != d as u8
                    && seg.ack == self.last_end
                {
                    let ld = usize::from(self.last_dir & 1);
                    old = SynSent as u8;
                    let s = &mut self.seen[ld];
                    s.td_end = self.last_end;
                    s.td_maxend = self.last_end;
                    s.td_maxwin = u32::from(self.last_win).max(1);
                    s.td_scale = self.last_wscale;
                    self.last_flags &= !flags::EXP_CHALLENGE_ACK;
                    s.flags = self.last_flags;
                    let r = &mut self.seen[d];
                    r.td_end = 0;
                    r.td_maxend = 0;
                    r.td_maxwin = 0;
                    r.td_maxack = 0;
                    r.td_scale = 0;
                    r.flags &= flags::BE_LIBERAL;
                    next = SR;
                } else {
                    self.last_index = index as u8;
                    self.last_dir = d as u8;
                    self.last_seq = seg.seq;
                    self.last_end = seg.end();
                    self.last_win = seg.win;
                    if index == Index::Syn && dir == Dir::Original {
                        let mut seen = TcpSeen::default();
                        self.last_flags = 0;
                        self.last_wscale = 0;
                        parse_options(seg.options, &mut seen);
                        if seen.flags & flags::WINDOW_SCALE != 0 {
                            self.last_flags |= flags::WINDOW_SCALE;
                            self.last_wscale = seen.td_scale;
                        }
                        if seen.flags & flags::SACK_PERM != 0 {
                            self.last_flags |= flags::SACK_PERM;
                        }
                        if old_state == LastAck as u8 {
                            self.last_flags |= flags::EXP_CHALLENGE_ACK;
                        }
                    }
                    if old_state == SynSent as u8 && index == Index::Ack && dir == Dir::Reply {
                        self.last_ack = seg.ack;
                    }
                    return TcpVerdict::Ignore;
                }
            }
            Iv => return TcpVerdict::Invalid,
            Next::S(TimeWait)
                if old_state == LastAck as u8
                    && index == Index::Ack
                    && self.last_dir != d as u8
                    && self.last_index == Index::Syn as u8
                    && self.last_flags & flags::EXP_CHALLENGE_ACK != 0 =>
            {
                // An RFC 5961 challenge ACK, not the last ACK.
                self.last_flags &= !flags::EXP_CHALLENGE_ACK;
                return TcpVerdict::Ignore;
            }
            Next::S(SynSent2) => self.last_flags |= flags::SIMULTANEOUS_OPEN,
            Next::S(SynRecv)
                if dir == Dir::Reply
                    && index == Index::Ack
                    && self.last_flags & flags::SIMULTANEOUS_OPEN != 0 =>
            {
                next = ES;
            }
            Next::S(Close) if index == Index::Rst => {
                let early_drop = matches!(
                    self.tcp_state(),
                    FinWait | LastAck | TimeWait | Close | CloseWait
                );
                if early_drop {
                    skip_window = true;
                } else {
                    let mut keep = false;
                    if self.seen[1 - d].flags & flags::MAXACK_SET != 0
                        && self.last_index != Index::Syn as u8
                    {
                        let established = self.established(ctx.assured);
                        if seg.seq != 0 || established {
                            if before(seg.seq, self.seen[1 - d].td_maxack) {
                                return TcpVerdict::Invalid;
                            }
                            if established
                                && seg.seq != self.seen[1 - d].td_maxack
                                && !(self.last_index == Index::Ack as u8
                                    && self.last_dir == d as u8
                                    && seg.seq == self.last_end)
                            {
                                keep = true;
                            }
                        }
                    }
                    if keep {
                        next = Next::S(self.tcp_state());
                    }
                    // A RST answering a SYN or ACK let through earlier, or
                    // answering a challenge ACK: no window check.
                    let answers_ignored = ((ctx.seen_reply && self.last_index == Index::Syn as u8)
                        || (!ctx.assured && self.last_index == Index::Ack as u8))
                        && seg.ack == self.last_end;
                    let answers_challenge = old_state == SynSent as u8
                        && self.last_index == Index::Ack as u8
                        && self.last_dir == Dir::Reply as u8
                        && seg.seq == self.last_ack;
                    skip_window = answers_ignored || answers_challenge;
                }
            }
            _ => {}
        }
        let Next::S(new_state) = next else {
            return TcpVerdict::Invalid;
        };
        self.finish(dir, index, seg, ctx, old, new_state as u8, skip_window)
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        dir: Dir,
        index: Index,
        seg: &Segment<'_>,
        ctx: &Ctx<'_>,
        old_state: u8,
        new_state: u8,
        skip_window: bool,
    ) -> TcpVerdict {
        let d = dir.idx();
        if !skip_window {
            match self.in_window(dir, index, seg, ctx) {
                Win::Ignore => return TcpVerdict::Ignore,
                Win::Invalid => return TcpVerdict::Invalid,
                Win::Accept => {}
            }
        }
        self.last_index = index as u8;
        self.last_dir = d as u8;
        self.state = new_state;
        if old_state != new_state && new_state == FinWait as u8 {
            self.seen[d].flags |= flags::CLOSE_INIT;
        }
        let t = ctx.timeouts;
        let state_timeout = t.state(new_state);
        let unacked = (self.seen[0].flags | self.seen[1].flags) & flags::DATA_UNACKNOWLEDGED != 0;
        let mut timeout = if self.retrans >= ctx.max_retrans && state_timeout > t.retrans {
            t.retrans
        } else if index == Index::Rst {
            t.close
        } else if unacked && state_timeout > t.unack {
            t.unack
        } else if self.last_win == 0 && state_timeout > t.retrans {
            t.retrans
        } else {
            state_timeout
        };
        let mut assured = false;
        if !ctx.seen_reply {
            if seg.has(RST) {
                return TcpVerdict::Accept {
                    timeout,
                    kill: true,
                    assured: false,
                };
            }
            if index == Index::Syn && old_state == SynSent as u8 {
                // A retransmitted SYN does not renew the timeout.
                return TcpVerdict::Accept {
                    timeout: u32::MAX,
                    kill: false,
                    assured: false,
                };
            }
            if new_state == Established as u8 && timeout > t.unack {
                timeout = t.unack;
            }
        } else if !ctx.assured
            && (old_state == SynRecv as u8 || old_state == Established as u8)
            && new_state == Established as u8
        {
            assured = true;
        }
        TcpVerdict::Accept {
            timeout,
            kill: false,
            assured,
        }
    }
}

/// Outcome of the window check (`enum nf_ct_tcp_action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Win {
    Ignore,
    Invalid,
    Accept,
}
