//! Dumps: connection entries as `ovs-dpctl dump-conntrack` sees them
//! from the kernel (`struct ct_dpif_entry`), their text byte for byte as
//! lib/ct-dpif.c's `ct_dpif_format_entry` prints it, the per-protocol
//! statistics of `ct-stats-show` and the bucket histogram of `ct-bkts`
//! (lib/dpctl.c), and flushes by selector.

use std::fmt::Write;
use std::sync::atomic::Ordering;

use packet::ipproto;

use crate::conn::{Conn, Counters, L4};
use crate::helper::Helper;
use crate::state::status;
use crate::tcp::TcpState;
use crate::tuple::{Tuple, DCCP, UDPLITE};
use crate::Conntrack;

/// OVS's `CT_DPIF_TCPS_*` names, in order.
pub const DPIF_TCP_STATES: [&str; 11] = [
    "CLOSED",
    "LISTEN",
    "SYN_SENT",
    "SYN_RECV",
    "ESTABLISHED",
    "CLOSE_WAIT",
    "FIN_WAIT_1",
    "CLOSING",
    "LAST_ACK",
    "FIN_WAIT_2",
    "TIME_WAIT",
];

/// A kernel TCP state as OVS reports it (`nl_ct_tcp_state_to_dpif`).
pub fn dpif_tcp_state(s: u8) -> u8 {
    match s {
        x if x == TcpState::SynSent as u8 || x == TcpState::SynSent2 as u8 => 2,
        x if x == TcpState::SynRecv as u8 => 3,
        x if x == TcpState::Established as u8 => 4,
        x if x == TcpState::FinWait as u8 => 6,
        x if x == TcpState::CloseWait as u8 => 5,
        x if x == TcpState::LastAck as u8 => 8,
        x if x == TcpState::TimeWait as u8 => 10,
        x if x == TcpState::Close as u8 => 7,
        _ => 0,
    }
}

/// `coalesce_tcp_state`: how the non-verbose dump and the statistics
/// merge OVS's states.
pub fn coalesce_tcp_state(s: u8) -> u8 {
    match s {
        9 => 10,
        3 => 4,
        x => x,
    }
}

/// TCP protocol information of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TcpInfo {
    /// `CT_DPIF_TCPS_*` state (the same both ways, as the kernel keeps one).
    pub state: u8,
    /// Window scale, original direction.
    pub wscale_orig: u8,
    /// Window scale, reply direction.
    pub wscale_reply: u8,
    /// `CT_DPIF_TCPF_*` flags, original direction.
    pub flags_orig: u8,
    /// The same, reply direction.
    pub flags_reply: u8,
}

/// One connection as a dump reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Original tuple.
    pub orig: Tuple,
    /// Reply tuple.
    pub reply: Tuple,
    /// Master's original tuple.
    pub parent: Option<Tuple>,
    /// Counters (zero unless accounting is on).
    pub counters: [Counters; 2],
    /// Id.
    pub id: u32,
    /// Zone.
    pub zone: u16,
    /// `IPS_*` status bits.
    pub status: u32,
    /// Seconds left.
    pub timeout: u32,
    /// Mark.
    pub mark: u32,
    /// Labels.
    pub labels: u128,
    /// TCP information (TCP only).
    pub tcp: Option<TcpInfo>,
    /// Helper.
    pub helper: Option<Helper>,
    /// Bucket for `ct-bkts`.
    pub bucket: u32,
}

/// Buckets reported to `ct-bkts`.
pub const N_BUCKETS: u32 = 256;

fn proto_name(p: u8) -> Option<&'static str> {
    Some(match p {
        ipproto::ICMP => "icmp",
        ipproto::ICMPV6 => "icmpv6",
        ipproto::TCP => "tcp",
        ipproto::UDP => "udp",
        ipproto::SCTP => "sctp",
        UDPLITE => "udplite",
        DCCP => "dccp",
        ipproto::IGMP => "igmp",
        _ => return None,
    })
}

fn format_tuple(s: &mut String, t: &Tuple) {
    if t.v6 {
        let _ = write!(
            s,
            "src={},dst={}",
            std::net::Ipv6Addr::from(t.src),
            std::net::Ipv6Addr::from(t.dst)
        );
    } else {
        let _ = write!(s, "src={},dst={}", t.src_v4(), t.dst_v4());
    }
    if t.proto == ipproto::ICMP || t.proto == ipproto::ICMPV6 {
        let _ = write!(
            s,
            ",id={},type={},code={}",
            t.src_port,
            t.icmp_type(),
            t.icmp_code()
        );
    } else {
        let _ = write!(s, ",sport={},dport={}", t.src_port, t.dst_port);
    }
}

fn format_counters(s: &mut String, c: &Counters) {
    if c.packets != 0 || c.bytes != 0 {
        let _ = write!(s, ",packets={},bytes={}", c.packets, c.bytes);
    }
}

const STATUS_NAMES: [&str; 13] = [
    "EXPECTED",
    "SEEN_REPLY",
    "ASSURED",
    "CONFIRMED",
    "SRC_NAT",
    "DST_NAT",
    "SEQ_ADJUST",
    "SRC_NAT_DONE",
    "DST_NAT_DONE",
    "DYING",
    "FIXED_TIMEOUT",
    "TEMPLATE",
    "UNTRACKED",
];

const TCP_FLAG_NAMES: [&str; 6] = [
    "WINDOW_SCALE",
    "SACK_PERM",
    "CLOSE_INIT",
    "BE_LIBERAL",
    "DATA_UNACKNOWLEDGED",
    "MAXACK_SET",
];

/// `format_flags` with `|`: names of set bits, lowest first; "0" if none.
fn format_flags(s: &mut String, flags: u32, names: &[&str]) {
    if flags == 0 {
        s.push('0');
        return;
    }
    let mut first = true;
    let mut bad = 0;
    for bit in 0..32 {
        if flags & (1 << bit) == 0 {
            continue;
        }
        match names.get(bit) {
            Some(n) => {
                if !first {
                    s.push('|');
                }
                s.push_str(n);
                first = false;
            }
            None => bad |= 1 << bit,
        }
    }
    if bad != 0 {
        if !first {
            s.push('|');
        }
        let _ = write!(s, "{bad:#x}");
    }
}

impl Entry {
    /// The text `ovs-dpctl dump-conntrack` prints for this entry
    /// (`-m`: `verbose`, `-s`: `stats`).
    pub fn format(&self, verbose: bool, stats: bool) -> String {
        let mut s = String::with_capacity(200);
        match proto_name(self.orig.proto) {
            Some(n) => s.push_str(n),
            None => {
                let _ = write!(s, "{}", self.orig.proto);
            }
        }
        s.push_str(",orig=(");
        format_tuple(&mut s, &self.orig);
        if stats {
            format_counters(&mut s, &self.counters[0]);
        }
        s.push_str("),reply=(");
        format_tuple(&mut s, &self.reply);
        if stats {
            format_counters(&mut s, &self.counters[1]);
        }
        s.push(')');
        if verbose {
            let _ = write!(s, ",id={}", self.id);
        }
        if self.zone != 0 {
            let _ = write!(s, ",zone={}", self.zone);
        }
        if verbose {
            s.push_str(",status=");
            format_flags(&mut s, self.status & 0x1fff, &STATUS_NAMES);
        }
        if stats {
            let _ = write!(s, ",timeout={}", self.timeout);
        }
        if self.mark != 0 {
            let _ = write!(s, ",mark={}", self.mark);
        }
        if self.labels != 0 {
            let _ = write!(s, ",labels={:#x}", self.labels);
        }
        if let Some(t) = &self.tcp {
            s.push_str(",protoinfo=(");
            if verbose {
                let _ = write!(
                    s,
                    "state_orig={},state_reply={}",
                    DPIF_TCP_STATES[usize::from(t.state)],
                    DPIF_TCP_STATES[usize::from(t.state)]
                );
                if t.wscale_orig != 0 || t.wscale_reply != 0 {
                    let _ = write!(
                        s,
                        ",wscale_orig={},wscale_reply={}",
                        t.wscale_orig, t.wscale_reply
                    );
                }
                s.push_str(",flags_orig=");
                format_flags(&mut s, u32::from(t.flags_orig), &TCP_FLAG_NAMES);
                s.push_str(",flags_reply=");
                format_flags(&mut s, u32::from(t.flags_reply), &TCP_FLAG_NAMES);
            } else {
                let st = coalesce_tcp_state(t.state);
                let _ = write!(s, "state={}", DPIF_TCP_STATES[usize::from(st)]);
            }
            s.push(')');
        }
        if let Some(h) = self.helper {
            let _ = write!(s, ",helper={}", h.name());
        }
        if verbose {
            if let Some(p) = &self.parent {
                s.push_str(",parent=(");
                format_tuple(&mut s, p);
                s.push(')');
            }
        }
        s
    }
}

/// Which connections a flush removes (`ovs-dpctl flush-conntrack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flush {
    /// Only this zone.
    pub zone: Option<u16>,
    /// Only the connection whose original tuple this is.
    pub orig: Option<Tuple>,
    /// Only connections whose mark matches (value, mask).
    pub mark: Option<(u32, u32)>,
    /// Only connections whose labels match (value, mask).
    pub labels: Option<(u128, u128)>,
}

impl Conntrack {
    fn entry(&self, c: &Conn, now: u64) -> Entry {
        let d = c.lock();
        let tcp = match d.l4 {
            L4::Tcp(t) => Some(TcpInfo {
                state: dpif_tcp_state(t.state),
                wscale_orig: t.seen[0].td_scale,
                wscale_reply: t.seen[1].td_scale,
                flags_orig: t.seen[0].flags & 0x3f,
                flags_reply: t.seen[1].flags & 0x3f,
            }),
            _ => None,
        };
        let exp = c.expires.load(Ordering::Relaxed);
        Entry {
            orig: c.orig,
            reply: c.reply,
            parent: c.master,
            counters: d.counters,
            id: c.id,
            zone: c.zone,
            status: d.status,
            timeout: (exp.saturating_sub(now) / 1000) as u32,
            mark: d.mark,
            labels: d.labels,
            tcp,
            helper: c.helper,
            bucket: self.table.bucket_of(c, N_BUCKETS),
        }
    }

    /// Every live connection (of `zone`, if given), in id order.
    pub fn dump(&self, zone: Option<u16>, now: u64) -> Vec<Entry> {
        let mut v = Vec::new();
        self.table.for_each(|c| {
            if !c.is_dead(now) && zone.is_none_or(|z| z == c.zone) {
                v.push(self.entry(c, now));
            }
        });
        v.sort_by_key(|e| e.id);
        v
    }

    /// `ovs-dpctl dump-conntrack`'s lines for this tracker.
    pub fn dump_text(&self, zone: Option<u16>, verbose: bool, stats: bool, now: u64) -> String {
        let mut s = String::new();
        for e in self.dump(zone, now) {
            s.push_str(&e.format(verbose, stats));
            s.push('\n');
        }
        s
    }

    /// Removes the connections `f` selects (all if `f` is empty), while
    /// forwarding goes on; returns how many.
    pub fn flush(&self, f: &Flush) -> usize {
        if *f == Flush::default() {
            self.expects.clear();
        }
        let n = self.table.remove_matching(|c| {
            if f.zone.is_some_and(|z| z != c.zone) {
                return false;
            }
            if f.orig.is_some_and(|t| t != c.orig) {
                return false;
            }
            if f.mark.is_some() || f.labels.is_some() {
                let d = c.lock();
                if f.mark.is_some_and(|(v, m)| d.mark & m != v & m) {
                    return false;
                }
                if f.labels.is_some_and(|(v, m)| d.labels & m != v & m) {
                    return false;
                }
            }
            true
        });
        self.wheel.purge_dead();
        n
    }

    /// `ovs-dpctl ct-stats-show [-m]`'s text.
    pub fn stats_text(&self, zone: Option<u16>, verbose: bool, now: u64) -> String {
        let entries = self.dump(zone, now);
        let mut per = [0u32; 9];
        let mut tcp_states = [0u32; 11];
        for e in &entries {
            let i = match e.orig.proto {
                ipproto::ICMP => 4,
                ipproto::ICMPV6 => 5,
                ipproto::TCP => {
                    let st = coalesce_tcp_state(e.tcp.map_or(0, |t| t.state));
                    tcp_states[usize::from(st)] += 1;
                    0
                }
                ipproto::UDP => 1,
                ipproto::SCTP => 3,
                UDPLITE => 2,
                DCCP => 6,
                ipproto::IGMP => 7,
                _ => 8,
            };
            per[i] += 1;
        }
        let mut s = format!("Connections Stats:\n    Total: {}\n", entries.len());
        if per[0] != 0 {
            let _ = writeln!(s, "  TCP: {}", per[0]);
            if verbose {
                s.push_str("    Conn per TCP states:\n");
                for (i, n) in tcp_states.iter().enumerate() {
                    if *n != 0 {
                        let _ = writeln!(s, "\t  [{}]={}", DPIF_TCP_STATES[i], n);
                    }
                }
            }
        }
        let names = [
            "TCP", "UDP", "UDPLITE", "SCTP", "ICMP", "ICMPV6", "DCCP", "IGMP", "Other",
        ];
        for i in [1usize, 2, 3, 4, 6, 7, 8] {
            if per[i] != 0 {
                let _ = writeln!(s, "  {}: {}", names[i], per[i]);
            }
        }
        s
    }

    /// `ovs-dpctl ct-bkts [gt=N]`'s text.
    pub fn bkts_text(&self, gt: u32, now: u64) -> String {
        let entries = self.dump(None, now);
        let mut s = format!("Total Buckets: {N_BUCKETS}\n");
        let mut per = vec![0u32; N_BUCKETS as usize];
        for e in &entries {
            per[e.bucket as usize] += 1;
        }
        let _ = writeln!(s, "Current Connections: {}", entries.len());
        s.push('\n');
        if !entries.is_empty() {
            s.push_str("+-----------+-----------------------------------------+\n");
            s.push_str("|  Buckets  |         Connections per Buckets         |\n");
            s.push_str("+-----------+-----------------------------------------+");
            for (i, n) in per.iter().enumerate() {
                if i % 8 == 0 {
                    let _ = write!(s, "\n {:3}..{:3}   | ", i, i + 7);
                }
                if *n > gt {
                    let _ = write!(s, "{n:5}");
                } else {
                    let _ = write!(s, "{:>5}", ".");
                }
            }
            s.push_str("\n\n");
        }
        s
    }

    /// Zone limits as `ovs-dpctl ct-get-limits` reports them: the
    /// default, then each zone with a limit of its own and its count.
    pub fn limits_text(&self) -> String {
        let mut s = format!("default limit={}\n", self.limits.default_zone_limit());
        for (z, l) in self.limits.zones() {
            let _ = writeln!(s, "zone={},limit={},count={}", z, l, self.table.zone_len(z));
        }
        s
    }
}

/// Whether `st` has the bits of a confirmed connection (for tests).
pub fn is_confirmed(st: u32) -> bool {
    st & status::CONFIRMED != 0
}
