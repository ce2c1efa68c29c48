//! `tnl_push(...)`: the tunnel header, layer by layer, as OVS prints and
//! parses it (Ethernet, IPv4/IPv6, then UDP+VXLAN/Geneve/GTP-U, GRE, ERSPAN
//! or SRv6).

use std::fmt::Write;

use super::fmt_mac;
use super::scan::Cur;
use crate::action::{vport_type as vt, TunnelPush, TNL_PUSH_HEADER_MAX};
use crate::key::PortNo;
use crate::text::key::scan::inet_ntop6 as fmt_ipv6;

const ETH_LEN: usize = 14;
const IPV4_LEN: usize = 20;
const IPV6_LEN: usize = 40;
const UDP_LEN: usize = 8;
const GRE_CSUM: u16 = 0x8000;
const GRE_KEY: u16 = 0x2000;
const GRE_SEQ: u16 = 0x1000;
const ETH_TYPE_ERSPAN1: u16 = 0x88be;
const ETH_TYPE_ERSPAN2: u16 = 0x22eb;
const SRV6_MAX_SEGS: usize = 6;
const IPPROTO_ROUTING: u8 = 43;
const SRH_TYPE_4: u8 = 4;

/// Header bytes read as OVS reads its fixed-size buffer: past the end reads 0.
struct Hdr<'a>(&'a [u8]);

impl Hdr<'_> {
    fn u8(&self, at: usize) -> u8 {
        self.0.get(at).copied().unwrap_or(0)
    }
    fn be16(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.u8(at), self.u8(at + 1)])
    }
    fn be32(&self, at: usize) -> u32 {
        u32::from_be_bytes([
            self.u8(at),
            self.u8(at + 1),
            self.u8(at + 2),
            self.u8(at + 3),
        ])
    }
    fn arr<const N: usize>(&self, at: usize) -> [u8; N] {
        let mut a = [0u8; N];
        for (i, b) in a.iter_mut().enumerate() {
            *b = self.u8(at + i);
        }
        a
    }
}

fn format_udp(h: &Hdr<'_>, at: usize, out: &mut String) -> usize {
    let _ = write!(
        out,
        "udp(src={},dst={},csum=0x{:x}),",
        h.be16(at),
        h.be16(at + 2),
        h.be16(at + 6)
    );
    at + UDP_LEN
}

/// Appends `header(...)` for `t`.
fn format_header(t: &TunnelPush, out: &mut String) {
    let h = Hdr(&t.header);
    let eth_type = h.be16(12);
    let _ = write!(
        out,
        "header(size={},type={},eth(dst={},src={},dl_type=0x{:04x}),",
        t.header.len(),
        t.tnl_type,
        fmt_mac(&h.arr::<6>(0)),
        fmt_mac(&h.arr::<6>(6)),
        eth_type
    );
    let l3 = ETH_LEN;
    let l4 = if eth_type == crate::abi::ETH_TYPE_IP {
        let tos = h.u8(l3 + 1);
        let _ = write!(
            out,
            "ipv4(src={},dst={},proto={},tos={},ttl={},frag=0x{:x}),",
            std::net::Ipv4Addr::from(h.arr::<4>(l3 + 12)),
            std::net::Ipv4Addr::from(h.arr::<4>(l3 + 16)),
            h.u8(l3 + 9),
            if tos == 0 {
                "0".to_string()
            } else {
                format!("{tos:#x}")
            },
            h.u8(l3 + 8),
            h.be16(l3 + 6)
        );
        l3 + IPV4_LEN
    } else {
        let flow = h.be32(l3);
        let _ = write!(
            out,
            "ipv6(src={},dst={},label={},proto={},tclass=0x{:x},hlimit={}),",
            fmt_ipv6(&h.arr::<16>(l3 + 8).into()),
            fmt_ipv6(&h.arr::<16>(l3 + 24).into()),
            flow & 0xfffff,
            h.u8(l3 + 6),
            (flow >> 20) & 0xff,
            h.u8(l3 + 7)
        );
        l3 + IPV6_LEN
    };
    match t.tnl_type {
        vt::VXLAN => {
            let v = format_udp(&h, l4, out);
            let _ = write!(
                out,
                "vxlan(flags=0x{:x},vni=0x{:x})",
                h.be32(v),
                h.be32(v + 4) >> 8
            );
        }
        vt::GENEVE => {
            let g = format_udp(&h, l4, out);
            let opt_words = usize::from(h.u8(g) & 0x3f);
            let flags = h.u8(g + 1);
            let _ = write!(
                out,
                "geneve({}{}vni=0x{:x}",
                if flags & 0x80 != 0 { "oam," } else { "" },
                if flags & 0x40 != 0 { "crit," } else { "" },
                h.be32(g + 4) >> 8
            );
            if opt_words > 0 {
                out.push_str(",options(");
                let opts: Vec<u8> = (0..opt_words * 4).map(|i| h.u8(g + 8 + i)).collect();
                crate::text::key::format::format_geneve(out, &opts, None, false);
                out.push(')');
            }
            out.push(')');
        }
        vt::GRE | vt::IP6GRE => {
            let flags = h.be16(l4);
            let _ = write!(
                out,
                "gre((flags=0x{:x},proto=0x{:x})",
                flags,
                h.be16(l4 + 2)
            );
            let mut o = l4 + 4;
            if flags & GRE_CSUM != 0 {
                let _ = write!(out, ",csum=0x{:x}", h.be16(o));
                o += 4;
            }
            if flags & GRE_KEY != 0 {
                let _ = write!(out, ",key=0x{:x}", h.be32(o));
                o += 4;
            }
            if flags & GRE_SEQ != 0 {
                let _ = write!(out, ",seq=0x{:x}", h.be32(o));
            }
            out.push(')');
        }
        vt::ERSPAN | vt::IP6ERSPAN => {
            let e = l4 + 8;
            let ver = h.u8(e) >> 4;
            let sid = (u16::from(h.u8(e + 2) & 0x3) << 8) | u16::from(h.u8(e + 3));
            if ver == 1 {
                let _ = write!(
                    out,
                    "erspan(ver=1,sid=0x{:x},idx=0x{:x})",
                    sid,
                    h.be32(e + 4)
                );
            } else if ver == 2 {
                let b6 = h.u8(e + 4 + 6);
                let b7 = h.u8(e + 4 + 7);
                let hwid = ((b6 & 0x3) << 4) | (b7 >> 4);
                let dir = (b7 >> 3) & 1;
                let _ = write!(
                    out,
                    "erspan(ver=2,sid=0x{:x},dir={},hwid=0x{:x})",
                    sid, dir, hwid
                );
            }
        }
        vt::GTPU => {
            let g = format_udp(&h, l4, out);
            let _ = write!(
                out,
                "gtpu(flags=0x{:x},msgtype={},teid=0x{:x})",
                h.u8(g),
                h.u8(g + 1),
                h.be32(g + 4)
            );
        }
        vt::SRV6 => {
            let n = usize::from(h.u8(l4 + 4)) + 1;
            let _ = write!(out, "srv6(segments_left={},segs(", h.u8(l4 + 3));
            for i in 0..n {
                if i > 0 {
                    out.push(',');
                }
                let at = l4 + 8 + 16 * (n - 1 - i);
                out.push_str(&fmt_ipv6(&h.arr::<16>(at).into()));
            }
            out.push_str("))");
        }
        _ => {}
    }
    out.push(')');
}

/// Appends `tnl_push(...)` for `t`.
pub(super) fn format_tnl_push(t: &TunnelPush, out: &mut String) {
    let _ = write!(out, "tnl_push(tnl_port({}),", t.tnl_port.0);
    format_header(t, out);
    let _ = write!(out, ",out_port({}))", t.out_port.0);
}

fn ip_checksum(h: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for w in h.chunks(2) {
        let v = u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)]);
        sum += u32::from(v);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The UDP-based layers after `udp(...),`: returns the tunnel type and the
/// bytes after the UDP header.
fn scan_udp_tunnel(c: &mut Cur<'_>, printed: bool) -> Option<(u32, Vec<u8>)> {
    if let Some(r) = c.attempt(|c| {
        c.lit("vxlan(flags=0x").then_some(())?;
        let flags = c.int_x()? as u32;
        c.lit(",vni=0x").then_some(())?;
        let vni = c.int_x()? as u32;
        c.lit("))").then_some(())?;
        let mut b = flags.to_be_bytes().to_vec();
        b.extend_from_slice(&(vni << 8).to_be_bytes());
        Some((vt::VXLAN, b))
    }) {
        return Some(r);
    }
    if c.lit("geneve(") {
        let oam = c.lit("oam,");
        let crit = c.lit("crit,");
        c.lit("vni=").then_some(())?;
        let vni = c.i32()?;
        let mut opts = Vec::new();
        if c.lit(",options(") {
            let (o, _, used) = crate::text::key::parse::geneve_opts(c.rest(), false)?;
            c.advance(used);
            opts = o;
        }
        c.lit("))").then_some(())?;
        let mut b = vec![
            (opts.len() / 4) as u8 & 0x3f,
            (u8::from(oam) << 7) | (u8::from(crit) << 6),
            0x65,
            0x58,
        ];
        b.extend_from_slice(&(vni << 8).to_be_bytes());
        b.extend_from_slice(&opts);
        return Some((vt::GENEVE, b));
    }
    // OVS prints GTP-U after a UDP header but cannot parse it back; the
    // printed syntax accepts it.
    if !printed {
        return None;
    }
    c.attempt(|c| {
        c.lit("gtpu(flags=").then_some(())?;
        let flags = c.i8()?;
        c.lit(",msgtype=").then_some(())?;
        let msgtype = c.int_u()? as u8;
        c.lit(",teid=0x").then_some(())?;
        let teid = c.int_x()? as u32;
        c.lit("))").then_some(())?;
        let mut b = vec![flags, msgtype, 0, 0];
        b.extend_from_slice(&teid.to_be_bytes());
        Some((vt::GTPU, b))
    })
}

/// Parses `tnl_push(...)` at the cursor. `None` if the text is not a valid
/// `tnl_push`. With `printed`, the ERSPAN and GTP-U layers OVS prints but
/// does not read are accepted too.
pub(super) fn parse_tnl_push(c: &mut Cur<'_>, printed: bool) -> Option<TunnelPush> {
    c.attempt(|c| {
        c.lit("tnl_push(tnl_port(").then_some(())?;
        let tnl_port = c.i32()?;
        c.lit("),header(size=").then_some(())?;
        let size = c.i32()? as usize;
        c.lit(",type=").then_some(())?;
        let ty = c.i32()?;
        c.lit(",eth(dst=").then_some(())?;
        let dst = c.mac()?;
        c.lit(",src=").then_some(())?;
        let src = c.mac()?;
        c.lit(",dl_type=0x").then_some(())?;
        let dl_type = c.int_x()? as u16;
        c.lit("),").then_some(())?;
        let mut h = Vec::with_capacity(128);
        h.extend_from_slice(&dst);
        h.extend_from_slice(&src);
        h.extend_from_slice(&dl_type.to_be_bytes());
        let is_v4 = dl_type == crate::abi::ETH_TYPE_IP;
        if is_v4 {
            c.lit("ipv4(src=").then_some(())?;
            let sip = c.ipv4()?;
            c.lit(",dst=").then_some(())?;
            let dip = c.ipv4()?;
            c.lit(",proto=").then_some(())?;
            let proto = c.i8()?;
            c.lit(",tos=").then_some(())?;
            let tos = c.i8()?;
            c.lit(",ttl=").then_some(())?;
            let ttl = c.i8()?;
            c.lit(",frag=0x").then_some(())?;
            let frag = c.int_x()? as u16;
            c.lit("),").then_some(())?;
            let mut ip = [0u8; IPV4_LEN];
            ip[0] = 0x45;
            ip[1] = tos;
            ip[6..8].copy_from_slice(&frag.to_be_bytes());
            ip[8] = ttl;
            ip[9] = proto;
            ip[12..16].copy_from_slice(&sip.octets());
            ip[16..20].copy_from_slice(&dip.octets());
            let sum = ip_checksum(&ip);
            ip[10..12].copy_from_slice(&sum.to_be_bytes());
            h.extend_from_slice(&ip);
        } else {
            c.lit("ipv6(src=").then_some(())?;
            let sip = c.ipv6()?;
            c.lit(",dst=").then_some(())?;
            let dip = c.ipv6()?;
            c.lit(",label=").then_some(())?;
            let label = c.i32()?;
            c.lit(",proto=").then_some(())?;
            let proto = c.i8()?;
            c.lit(",tclass=0x").then_some(())?;
            let tclass = c.int_x()? as u8;
            c.lit(",hlimit=").then_some(())?;
            let hlimit = c.i8()?;
            c.lit("),").then_some(())?;
            if label & !0xfffff != 0 {
                return None;
            }
            let flow = (6u32 << 28) | (u32::from(tclass) << 20) | label;
            h.extend_from_slice(&flow.to_be_bytes());
            h.extend_from_slice(&[0, 0, proto, hlimit]);
            h.extend_from_slice(&sip.octets());
            h.extend_from_slice(&dip.octets());
        }
        let l3 = ETH_LEN;
        let tnl_type;
        if let Some((sport, dport, csum)) = c.attempt(|c| {
            c.lit("udp(src=").then_some(())?;
            let s = c.i16()?;
            c.lit(",dst=").then_some(())?;
            let d = c.i16()?;
            c.lit(",csum=0x").then_some(())?;
            let k = c.int_x()? as u16;
            c.lit("),").then_some(())?;
            Some((s, d, k))
        }) {
            h.extend_from_slice(&sport.to_be_bytes());
            h.extend_from_slice(&dport.to_be_bytes());
            h.extend_from_slice(&[0, 0]);
            h.extend_from_slice(&csum.to_be_bytes());
            let (t, rest) = scan_udp_tunnel(c, printed)?;
            tnl_type = t;
            h.extend_from_slice(&rest);
        } else if c.lit("gre((flags=0x") {
            let flags = c.int_x()? as u16;
            c.lit(",proto=0x").then_some(())?;
            let proto = c.int_x()? as u16;
            c.lit(")").then_some(())?;
            tnl_type = if is_v4 { vt::GRE } else { vt::IP6GRE };
            h.extend_from_slice(&flags.to_be_bytes());
            h.extend_from_slice(&proto.to_be_bytes());
            if flags & GRE_CSUM != 0 {
                c.lit(",csum=0x").then_some(())?;
                let csum = c.int_x()? as u16;
                h.extend_from_slice(&csum.to_be_bytes());
                h.extend_from_slice(&[0, 0]);
            }
            if flags & GRE_KEY != 0 {
                c.lit(",key=0x").then_some(())?;
                h.extend_from_slice(&(c.int_x()? as u32).to_be_bytes());
            }
            if flags & GRE_SEQ != 0 {
                c.lit(",seq=0x").then_some(())?;
                h.extend_from_slice(&(c.int_x()? as u32).to_be_bytes());
            }
            c.lit("))").then_some(())?;
        } else if printed && c.lit("erspan(ver=") {
            // OVS's own parser cannot read back what it prints here (its
            // scan formats lack '%'); we accept the printed form.
            let ver = c.int_u()?;
            c.lit(",sid=0x").then_some(())?;
            let sid = c.int_x()? as u16 & 0x3ff;
            tnl_type = if is_v4 { vt::ERSPAN } else { vt::IP6ERSPAN };
            let proto = if ver == 1 {
                ETH_TYPE_ERSPAN1
            } else {
                ETH_TYPE_ERSPAN2
            };
            h.extend_from_slice(&GRE_SEQ.to_be_bytes());
            h.extend_from_slice(&proto.to_be_bytes());
            h.extend_from_slice(&[0; 4]);
            let base = [(ver as u8) << 4, 0, (sid >> 8) as u8, sid as u8];
            h.extend_from_slice(&base);
            match ver {
                1 => {
                    c.lit(",idx=0x").then_some(())?;
                    h.extend_from_slice(&(c.int_x()? as u32).to_be_bytes());
                }
                2 => {
                    c.lit(",dir=").then_some(())?;
                    let dir = c.int_u()? as u8 & 1;
                    c.lit(",hwid=0x").then_some(())?;
                    let hwid = c.int_x()? as u8 & 0x3f;
                    h.extend_from_slice(&[0; 6]);
                    h.push(hwid >> 4);
                    h.push(((hwid & 0xf) << 4) | (dir << 3));
                }
                _ => return None,
            }
            c.lit("))").then_some(())?;
        } else if c.lit("srv6(segments_left=") {
            let left = usize::from(c.int_u()? as u8);
            if left + 1 > SRV6_MAX_SEGS {
                return None;
            }
            tnl_type = vt::SRV6;
            if !is_v4 {
                h[l3 + 6] = IPPROTO_ROUTING;
            }
            let hdrlen = 2 * (left + 1);
            // Next header, flags and tag are left zero (OVS leaves them
            // uninitialized when parsing).
            h.extend_from_slice(&[0, hdrlen as u8, SRH_TYPE_4, left as u8, left as u8, 0, 0, 0]);
            c.lit(",segs(").then_some(())?;
            let mut segs = Vec::new();
            while let Some(a) = c.ipv6() {
                if segs.len() == left + 1 {
                    return None;
                }
                segs.push(a);
                c.lit(",");
            }
            if segs.len() != left + 1 {
                return None;
            }
            for a in segs.iter().rev() {
                h.extend_from_slice(&a.octets());
            }
            c.lit(")))").then_some(())?;
        } else {
            return None;
        }
        if ty != tnl_type || size != h.len() || h.len() > TNL_PUSH_HEADER_MAX {
            return None;
        }
        c.lit(",out_port(").then_some(())?;
        let out_port = c.i32()?;
        c.lit("))").then_some(())?;
        Some(TunnelPush {
            tnl_port: PortNo(tnl_port),
            out_port: PortNo(out_port),
            tnl_type,
            header: h,
        })
    })
}
