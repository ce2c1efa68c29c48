//! Text pieces shared by the commands, in `ovs-dpctl`'s formats: UFIDs,
//! flow statistics, TCP flags, byte counts, port names in flow text, and a
//! minimal JSON writer for `--format json`.

use dpif::{DpifFlow, DpifPort, FlowStats};
use odp::key::Ufid;

/// Writes a UFID as `ufid:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`: the 128 bits
/// as four 32-bit words, least significant first, shown like a UUID.
pub fn ufid(u: Ufid, out: &mut String) {
    let w = |i: u32| (u.0 >> (32 * i)) as u32;
    out.push_str(&format!(
        "ufid:{:08x}-{:04x}-{:04x}-{:04x}-{:04x}{:08x}",
        w(0),
        w(1) >> 16,
        w(1) & 0xffff,
        w(2) >> 16,
        w(2) & 0xffff,
        w(3)
    ));
}

/// A `ufid:` whose UUID is malformed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadUfid;

/// Parses a leading `ufid:UUID` (the inverse of [`ufid`]). Returns the UFID
/// and the number of bytes consumed, `Ok(None)` if `s` does not start with
/// `ufid:`, and `Err` if it does but the UUID is malformed.
pub fn parse_ufid(s: &str) -> Result<Option<(Ufid, usize)>, BadUfid> {
    let Some(rest) = s.strip_prefix("ufid:") else {
        return Ok(None);
    };
    let len = rest
        .find(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .unwrap_or(rest.len());
    let text = &rest[..len];
    let groups: Vec<&str> = text.split('-').collect();
    let sizes = [8, 4, 4, 4, 12];
    if groups.len() != sizes.len() || groups.iter().zip(sizes).any(|(g, n)| g.len() != n) {
        return Err(BadUfid);
    }
    let hex: String = groups.concat();
    let v = u128::from_str_radix(&hex, 16).map_err(|_| BadUfid)?;
    // hex is w0 w1 w2 w3, most significant first; w0 is the low word.
    let word = |i: u32| (v >> (96 - 32 * i)) as u32 as u128;
    let u = word(0) | word(1) << 32 | word(2) << 64 | word(3) << 96;
    let mut used = "ufid:".len() + len;
    // A separator after the UFID belongs to it.
    if s[used..].starts_with(',') {
        used += 1;
    }
    Ok(Some((Ufid(u), used)))
}

/// TCP flags as `ovs-dpctl` prints them in flow statistics, in its order
/// (tcpdump's: SYN, FIN, PSH, RST, URG, ACK, ECE, CWR, NS), then the three
/// reserved bits that have no letter (OVS's `packet_format_tcp_flags`).
/// Bits above the 12 of the TCP header's flags field are not printed.
const TCP_FLAG_TEXT: [(u16, &str); 12] = [
    (0x002, "S"),
    (0x001, "F"),
    (0x008, "P"),
    (0x004, "R"),
    (0x020, "U"),
    (0x010, "."),
    (0x040, "E"),
    (0x080, "C"),
    (0x100, "N"),
    (0x200, "[200]"),
    (0x400, "[400]"),
    (0x800, "[800]"),
];

/// Writes the TCP flags of flow statistics in `ovs-dpctl`'s form (see
/// [`TCP_FLAG_TEXT`]), e.g. `SFP.` for SYN|FIN|PSH|ACK.
pub fn tcp_flags(flags: u16, out: &mut String) {
    for (bit, text) in TCP_FLAG_TEXT {
        if flags & bit != 0 {
            out.push_str(text);
        }
    }
}

/// Writes `packets:N, bytes:N, used:X.XXXs` (or `used:never`) and the TCP
/// flags if any. `now_ms` is the current time on the clock of `used_ms`.
pub fn flow_stats(s: &FlowStats, now_ms: u64, out: &mut String) {
    out.push_str(&format!(
        "packets:{}, bytes:{}, used:",
        s.n_packets, s.n_bytes
    ));
    if s.used_ms == 0 {
        out.push_str("never");
    } else {
        let ago = now_ms as i128 - s.used_ms as i128;
        out.push_str(&format!("{:.3}s", ago as f64 / 1000.0));
    }
    if s.tcp_flags != 0 {
        out.push_str(", flags:");
        tcp_flags(s.tcp_flags, out);
    }
}

/// A byte count in binary units, ` (1.5 KiB)`, or nothing below 1 KiB.
pub fn human_size(v: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    for (unit, shift) in UNITS {
        if v >= 1u64 << shift {
            return format!(" ({:.1} {unit})", v as f64 / (1u64 << shift) as f64);
        }
    }
    String::new()
}

/// Port number → name, for `--names`.
pub struct PortNames(Vec<(u32, String)>);

impl PortNames {
    /// From a port dump.
    pub fn new(ports: &[DpifPort]) -> PortNames {
        PortNames(
            ports
                .iter()
                .map(|p| (p.port_no.0, p.name.clone()))
                .collect(),
        )
    }

    fn name(&self, no: &str) -> Option<&str> {
        let no: u32 = no.parse().ok()?;
        self.0
            .iter()
            .find(|(n, _)| *n == no)
            .map(|(_, s)| s.as_str())
    }

    fn number(&self, name: &str) -> Option<u32> {
        self.0.iter().find(|(_, s)| s == name).map(|(n, _)| *n)
    }

    /// Rewrites `in_port(N)` in formatted key text as `in_port(NAME)`.
    pub fn key_text(&self, text: &str) -> String {
        self.rewrite_in_port(text, |inner| self.name(inner).map(str::to_string))
    }

    /// Rewrites `in_port(NAME)` in key text typed by a user as `in_port(N)`.
    pub fn parse_text(&self, text: &str) -> String {
        self.rewrite_in_port(text, |inner| {
            if inner.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                self.number(inner).map(|n| n.to_string())
            }
        })
    }

    fn rewrite_in_port(&self, text: &str, map: impl Fn(&str) -> Option<String>) -> String {
        const TAG: &str = "in_port(";
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(i) = rest.find(TAG) {
            let at_start = i == 0 || matches!(rest.as_bytes()[i - 1], b',' | b'(' | b' ');
            let after = &rest[i + TAG.len()..];
            let (Some(close), true) = (after.find(')'), at_start) else {
                out.push_str(&rest[..i + TAG.len()]);
                rest = after;
                continue;
            };
            out.push_str(&rest[..i + TAG.len()]);
            let inner = &after[..close];
            match map(inner) {
                Some(s) => out.push_str(&s),
                None => out.push_str(inner),
            }
            rest = &after[close..];
        }
        out.push_str(rest);
        out
    }

    /// Rewrites output port numbers in formatted action text as names: bare
    /// numbers in the top-level list and in the nested action lists of
    /// `clone(...)`, `actions(...)`, `gt(...)` and `le(...)`.
    pub fn action_text(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        // Whether each open parenthesis holds an action list.
        let mut lists: Vec<bool> = Vec::new();
        let mut token_start = 0;
        let bytes = text.as_bytes();
        let flush = |out: &mut String, tok: &str, in_list: bool| {
            if in_list && !tok.is_empty() && tok.bytes().all(|b| b.is_ascii_digit()) {
                if let Some(n) = self.name(tok) {
                    out.push_str(n);
                    return;
                }
            }
            out.push_str(tok);
        };
        for (i, &b) in bytes.iter().enumerate() {
            let in_list = lists.last().copied().unwrap_or(true);
            match b {
                b'(' => {
                    let name = &text[token_start..i];
                    lists.push(matches!(name, "clone" | "actions" | "gt" | "le"));
                    out.push_str(name);
                    out.push('(');
                    token_start = i + 1;
                }
                b',' | b')' => {
                    flush(&mut out, &text[token_start..i], in_list);
                    out.push(char::from(b));
                    if b == b')' {
                        lists.pop();
                    }
                    token_start = i + 1;
                }
                _ => {}
            }
        }
        let in_list = lists.last().copied().unwrap_or(true);
        flush(&mut out, &text[token_start..], in_list);
        out
    }
}

/// How a flow line is written.
pub struct FlowFormat<'a> {
    /// `-m`: UFID, every attribute, `dp:` layer.
    pub verbose: bool,
    /// Port names for `in_port` and outputs.
    pub names: Option<&'a PortNames>,
    /// Now, on the clock of the flows' `used` times.
    pub now_ms: u64,
}

/// Writes a flow as `dump-flows` does.
pub fn flow_line(f: &DpifFlow, ff: &FlowFormat<'_>, out: &mut String) {
    // As ovs-dpctl: no UFID for a flow the datapath holds without one.
    if ff.verbose && f.ufid_present {
        ufid(f.ufid, out);
        out.push_str(", ");
    }
    let mut key = String::new();
    let mask = (!f.mask.is_empty()).then_some(f.mask.as_slice());
    odp::text::key::format_match(&f.key, mask, ff.verbose, &mut key);
    match ff.names {
        Some(n) => out.push_str(&n.key_text(&key)),
        None => out.push_str(&key),
    }
    out.push_str(", ");
    flow_stats(&f.stats, ff.now_ms, out);
    if ff.verbose {
        out.push_str(", dp:ovs");
    }
    out.push_str(", actions:");
    let mut acts = String::new();
    odp::text::action::format_actions(&f.actions, &mut acts);
    match ff.names {
        Some(n) => out.push_str(&n.action_text(&acts)),
        None => out.push_str(&acts),
    }
}

/// A JSON value, written compactly with keys in insertion order.
#[derive(Debug, Clone)]
pub enum Json {
    /// `null`.
    Null,
    /// A number.
    Num(u64),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Json>),
    /// An object.
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// An object from pairs.
    pub fn obj<const N: usize>(pairs: [(&str, Json); N]) -> Json {
        Json::Obj(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// Appends the JSON text.
    pub fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Num(n) => out.push_str(&n.to_string()),
            Json::Str(s) => json_str(s, out),
            Json::Arr(v) => {
                out.push('[');
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    x.write(out);
                }
                out.push(']');
            }
            Json::Obj(v) => {
                out.push('{');
                for (i, (k, x)) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_str(k, out);
                    out.push(':');
                    x.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use odp::key::PortNo;

    #[test]
    fn ufid_round_trip() {
        let u = Ufid(0x0011_2233_4455_6677_8899_aabb_ccdd_eeff);
        let mut s = String::new();
        ufid(u, &mut s);
        // Low word first, as OVS prints its ovs_u128 on a little-endian host.
        assert_eq!(s, "ufid:ccddeeff-8899-aabb-4455-667700112233");
        assert_eq!(parse_ufid(&s), Ok(Some((u, s.len()))));
        assert_eq!(parse_ufid("in_port(1)"), Ok(None));
        assert_eq!(parse_ufid("ufid:1234"), Err(BadUfid));
        let with_key = format!("{s},in_port(1)");
        assert_eq!(parse_ufid(&with_key), Ok(Some((u, s.len() + 1))));
    }

    #[test]
    fn stats_and_flags() {
        let mut s = String::new();
        flow_stats(&FlowStats::default(), 5000, &mut s);
        assert_eq!(s, "packets:0, bytes:0, used:never");
        let st = FlowStats {
            n_packets: 3,
            n_bytes: 180,
            used_ms: 4488,
            tcp_flags: 0x012 | 0x100 | 0x400,
        };
        s.clear();
        flow_stats(&st, 5000, &mut s);
        assert_eq!(s, "packets:3, bytes:180, used:0.512s, flags:S.N[400]");
        // tcpdump's order, not the bits' (FIN is bit 0, SYN bit 1).
        let mut f = String::new();
        tcp_flags(0x01 | 0x02 | 0x08 | 0x10, &mut f);
        assert_eq!(f, "SFP.");
        f.clear();
        tcp_flags(0xfff, &mut f);
        assert_eq!(f, "SFPRU.ECN[200][400][800]");
        // Bits beyond the header's 12 flag bits print nothing.
        f.clear();
        tcp_flags(0xf004, &mut f);
        assert_eq!(f, "R");
        assert_eq!(human_size(1000), "");
        assert_eq!(human_size(1536), " (1.5 KiB)");
        assert_eq!(human_size(3 << 20), " (3.0 MiB)");
    }

    #[test]
    fn port_names_in_text() {
        let ports = [
            DpifPort {
                name: "p1".into(),
                port_type: "system".into(),
                port_no: PortNo(1),
            },
            DpifPort {
                name: "p2".into(),
                port_type: "system".into(),
                port_no: PortNo(2),
            },
        ];
        let n = PortNames::new(&ports);
        assert_eq!(n.key_text("in_port(1),eth()"), "in_port(p1),eth()");
        assert_eq!(n.parse_text("in_port(p2),eth()"), "in_port(2),eth()");
        assert_eq!(n.parse_text("in_port(9)"), "in_port(9)");
        assert_eq!(
            n.action_text("2,clone(1,trunc(2)),3,set(tunnel(tp_dst=1))"),
            "p2,clone(p1,trunc(2)),3,set(tunnel(tp_dst=1))"
        );
        assert_eq!(n.action_text("drop"), "drop");
    }

    #[test]
    fn json_text() {
        let mut s = String::new();
        Json::obj([
            ("a", Json::Num(1)),
            ("b", Json::Str("x\"y".into())),
            ("c", Json::Arr(vec![Json::Null])),
        ])
        .write(&mut s);
        assert_eq!(s, r#"{"a":1,"b":"x\"y","c":[null]}"#);
    }
}
