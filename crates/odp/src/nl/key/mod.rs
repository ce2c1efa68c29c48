//! Flow keys and masks (`OVS_KEY_ATTR_*` lists) to and from the kernel's
//! netlink encoding, bit-exact.
//!
//! A key and its mask are both lists of [`KeyAttr`]; a mask attribute has the
//! same layout as the key attribute it masks. [`emit_keys`] writes a list,
//! [`decode_keys`] reads a key list and [`decode_mask`] reads a mask list
//! against its key.
//!
//! ```
//! use odp::key::{KeyAttr, PortsKey};
//! use odp::nl::{key, Mode};
//!
//! let attrs = vec![KeyAttr::InPort(1), KeyAttr::Ethertype(0x0800)];
//! let mut w = nl::Writer::new();
//! key::emit_keys(&attrs, &mut w);
//! // in_port is host order, eth_type network order.
//! assert_eq!(w.as_bytes(), &[8, 0, 3, 0, 1, 0, 0, 0, 6, 0, 6, 0, 8, 0, 0, 0][..]);
//! let (back, fit) = key::decode_keys(w.as_bytes(), Mode::Tolerant).unwrap();
//! assert_eq!(back, attrs);
//! assert_eq!(fit, odp::Fitness::Perfect);
//! # let _ = PortsKey::default();
//! ```
//!
//! # Byte order
//!
//! Host order: `PRIORITY`, `IN_PORT`, `SKB_MARK`, `DP_HASH`, `RECIRC_ID`,
//! `CT_STATE`, `CT_ZONE`, `CT_MARK`, `IPV6_EXTHDRS` (a host-order `__u16` in
//! the uapi header), the VXLAN GBP word and the ERSPAN `version`. Everything
//! else (header fields, addresses, ports, `PACKET_TYPE`, `TCP_FLAGS`, MPLS
//! LSEs, tunnel id, NSH words) is network order. No nested attribute carries
//! `NLA_F_NESTED`: OVS does not set it on key lists (checked against the
//! conformance corpus), and decoding ignores it.
//!
//! # Modes
//!
//! Both modes reject framing errors (a truncated header, an `nla_len` that
//! runs past its container: [`DecodeErrorKind::Trailing`]), a known attribute
//! with the wrong length ([`DecodeErrorKind::BadLength`]) and nesting beyond
//! the encap limit ([`DecodeErrorKind::TooDeep`]).
//!
//! **Strict** ([`Mode::Strict`], the kernel's rules from
//! `net/openvswitch/flow_netlink.c`), per list level:
//! - unknown types are rejected: above the maximum, `UNSPEC` (0), and
//!   `TUNNEL_INFO` (kernel internal). `PACKET_TYPE`, `ND_EXTENSIONS` and the
//!   tunnel `GTPU_OPTS` are userspace-only in OVS but accepted, since our
//!   userspace datapath uses them;
//! - duplicates are rejected (a bitmask of types seen per list). Unlike the
//!   kernel, this also applies inside `TUNNEL`, whose last-wins behaviour
//!   has no faithful model. In a key, as in the kernel, a type may also
//!   appear only once over all encap levels (`ENCAP`, `VLAN` and
//!   `ETHERTYPE` excepted, one per level);
//! - `ENCAP` may nest [`MAX_ENCAP_DEPTH_STRICT`] levels (outer VLAN and
//!   C-VLAN, as the kernel and `FLOW_MAX_VLAN_HEADERS`);
//! - MPLS holds 1 to 3 LSEs, geneve options a multiple of 4 up to 252 bytes,
//!   VXLAN options only `GBP`, and at most one of geneve, VXLAN and ERSPAN
//!   options appears in a tunnel; NSH does not hold both MD1 and MD2;
//! - plus the key rules of [`decode_keys`] and the mask rules of
//!   [`decode_mask`].
//!
//! **Tolerant** ([`Mode::Tolerant`]): unknown attributes are kept as
//! `KeyAttr::Unknown`, `TunnelAttr::Unknown` or `NshAttr::Unknown` (so a
//! re-emit gives the same bytes), duplicates are kept in order, and VXLAN
//! options that cannot be modelled are kept as a `TunnelAttr::Unknown`; any
//! of these makes the fitness [`Fitness::TooMuch`]. `ENCAP` may nest
//! [`MAX_ENCAP_DEPTH`] levels, as many as OVS's text parser accepts.
//!
//! Decoding never panics, and allocates at most in proportion to its input.

mod table;
mod validate;

pub use table::{check_len, fixed_len, lookup, AttrLen, AttrSpec, Level};

use std::net::{Ipv4Addr, Ipv6Addr};

use super::Mode;
use crate::abi::*;
use crate::key::{
    ArpKey, CtTupleIpv4, CtTupleIpv6, ErspanMetadata, EthernetKey, IcmpKey, Ipv4Key, Ipv6Key,
    KeyAttr, MplsLse, NdExtKey, NdKey, NshAttr, NshBase, PortsKey, TunnelAttr,
};
use crate::{DecodeError, DecodeErrorKind, Fitness};

/// How many `ENCAP` levels strict decoding accepts (outer VLAN and C-VLAN).
pub const MAX_ENCAP_DEPTH_STRICT: usize = 2;
/// How many `ENCAP` levels tolerant decoding accepts (OVS's text parser
/// accepts 32 nested `encap()` and rejects 33).
pub const MAX_ENCAP_DEPTH: usize = 32;
/// The largest geneve option block strict decoding accepts (the kernel keeps
/// at most 255 bytes of options, and their length is a multiple of 4).
pub const MAX_GENEVE_OPTS_LEN: usize = 252;
/// The most MPLS LSEs strict decoding accepts (`MPLS_LABEL_DEPTH`).
pub const MAX_MPLS_LABELS_STRICT: usize = 3;

// ---------------------------------------------------------------------------
// Emitting

/// Appends a key or mask list, each attribute framed and padded.
///
/// A list or nest over netlink's 64 kB limit sets [`nl::Writer::overflowed`];
/// check it before sending the bytes.
pub fn emit_keys(attrs: &[KeyAttr], w: &mut nl::Writer) {
    for attr in attrs {
        emit_attr(attr, w);
    }
}

/// Appends one attribute, framed (header, payload, padding).
pub fn emit_attr(attr: &KeyAttr, w: &mut nl::Writer) {
    let ty = attr.ty();
    match attr {
        KeyAttr::Encap(inner) => {
            let nest = w.begin_nested(ty);
            emit_keys(inner, w);
            w.end_nested(nest);
        }
        KeyAttr::Tunnel(tun) => {
            let nest = w.begin_nested(ty);
            for t in tun {
                emit_tunnel_attr(t, w);
            }
            w.end_nested(nest);
        }
        KeyAttr::Nsh(nsh) => {
            let nest = w.begin_nested(ty);
            for n in nsh {
                emit_nsh_attr(n, w);
            }
            w.end_nested(nest);
        }
        _ => {
            let buf = w.put_zeroed(ty, flat_len(attr));
            fill_flat(attr, buf);
        }
    }
}

/// Appends only the payload of `attr` (no header, no trailing padding), as
/// `OVS_ACTION_ATTR_SET_MASKED` needs to place key and mask side by side.
pub fn emit_payload(attr: &KeyAttr, out: &mut Vec<u8>) {
    match attr {
        KeyAttr::Encap(_) | KeyAttr::Tunnel(_) | KeyAttr::Nsh(_) => {
            // A fresh writer: padding is relative to the payload's start,
            // not to whatever `out` already holds.
            let mut w = nl::Writer::new();
            match attr {
                KeyAttr::Encap(inner) => emit_keys(inner, &mut w),
                KeyAttr::Tunnel(tun) => emit_tunnel(tun, &mut w),
                KeyAttr::Nsh(nsh) => emit_nsh(nsh, &mut w),
                _ => {}
            }
            out.extend_from_slice(w.as_bytes());
        }
        _ => {
            let start = out.len();
            out.resize(start + flat_len(attr), 0);
            if let Some(buf) = out.get_mut(start..) {
                fill_flat(attr, buf);
            }
        }
    }
}

/// Payload length of a non-nested attribute.
fn flat_len(attr: &KeyAttr) -> usize {
    match attr {
        KeyAttr::Mpls(lses) => lses.len() * 4,
        KeyAttr::Unknown { payload, .. } => payload.len(),
        _ => fixed_len(Level::Key, attr.ty()).unwrap_or(0),
    }
}

/// Writes `bytes` at `off` in `buf`, ignoring what does not fit (the caller
/// sized `buf` from the length table, so everything fits).
fn put(buf: &mut [u8], off: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(off..off + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// Fills the payload of a non-nested attribute into `buf`, which has the
/// length [`flat_len`] gives.
fn fill_flat(attr: &KeyAttr, buf: &mut [u8]) {
    match attr {
        KeyAttr::Priority(v)
        | KeyAttr::InPort(v)
        | KeyAttr::SkbMark(v)
        | KeyAttr::DpHash(v)
        | KeyAttr::RecircId(v)
        | KeyAttr::CtState(v)
        | KeyAttr::CtMark(v) => put(buf, 0, &v.to_ne_bytes()),
        KeyAttr::CtZone(v) | KeyAttr::Ipv6Exthdrs(v) => put(buf, 0, &v.to_ne_bytes()),
        KeyAttr::Vlan(v) | KeyAttr::Ethertype(v) | KeyAttr::TcpFlags(v) => {
            put(buf, 0, &v.to_be_bytes())
        }
        KeyAttr::PacketType(v) => put(buf, 0, &v.to_be_bytes()),
        KeyAttr::Ethernet(e) => {
            put(buf, 0, &e.src);
            put(buf, 6, &e.dst);
        }
        KeyAttr::Ipv4(k) => {
            put(buf, 0, &k.src.octets());
            put(buf, 4, &k.dst.octets());
            put(buf, 8, &[k.proto, k.tos, k.ttl, k.frag]);
        }
        KeyAttr::Ipv6(k) => {
            put(buf, 0, &k.src.octets());
            put(buf, 16, &k.dst.octets());
            put(buf, 32, &k.label.to_be_bytes());
            put(buf, 36, &[k.proto, k.tclass, k.hlimit, k.frag]);
        }
        KeyAttr::Tcp(p) | KeyAttr::Udp(p) | KeyAttr::Sctp(p) => {
            put(buf, 0, &p.src.to_be_bytes());
            put(buf, 2, &p.dst.to_be_bytes());
        }
        KeyAttr::Icmp(i) | KeyAttr::Icmpv6(i) => put(buf, 0, &[i.ty, i.code]),
        KeyAttr::Arp(a) => {
            put(buf, 0, &a.sip.octets());
            put(buf, 4, &a.tip.octets());
            put(buf, 8, &a.op.to_be_bytes());
            put(buf, 10, &a.sha);
            put(buf, 16, &a.tha);
        }
        KeyAttr::Nd(n) => {
            put(buf, 0, &n.target.octets());
            put(buf, 16, &n.sll);
            put(buf, 22, &n.tll);
        }
        KeyAttr::NdExtensions(n) => {
            put(buf, 0, &n.reserved.to_be_bytes());
            put(buf, 4, &[n.options_type]);
        }
        KeyAttr::Mpls(lses) => {
            for (i, lse) in lses.iter().enumerate() {
                put(buf, i * 4, &lse.0.to_be_bytes());
            }
        }
        KeyAttr::CtLabels(l) => put(buf, 0, l),
        KeyAttr::CtOrigTupleIpv4(t) => {
            put(buf, 0, &t.src.octets());
            put(buf, 4, &t.dst.octets());
            put(buf, 8, &t.src_port.to_be_bytes());
            put(buf, 10, &t.dst_port.to_be_bytes());
            put(buf, 12, &[t.proto]);
        }
        KeyAttr::CtOrigTupleIpv6(t) => {
            put(buf, 0, &t.src.octets());
            put(buf, 16, &t.dst.octets());
            put(buf, 32, &t.src_port.to_be_bytes());
            put(buf, 34, &t.dst_port.to_be_bytes());
            put(buf, 36, &[t.proto]);
        }
        KeyAttr::Unknown { payload, .. } => put(buf, 0, payload),
        KeyAttr::Encap(_) | KeyAttr::Tunnel(_) | KeyAttr::Nsh(_) => {}
    }
}

/// Appends the attributes of an `OVS_KEY_ATTR_TUNNEL` nest (for actions
/// that carry one, such as `set(tunnel(...))`), in the order given.
pub fn emit_tunnel(attrs: &[TunnelAttr], w: &mut nl::Writer) {
    attrs.iter().for_each(|t| emit_tunnel_attr(t, w));
}

/// Appends the attributes of an `OVS_KEY_ATTR_NSH` nest (for actions that
/// carry one, such as `push_nsh`), in the order given.
pub fn emit_nsh(attrs: &[NshAttr], w: &mut nl::Writer) {
    attrs.iter().for_each(|n| emit_nsh_attr(n, w));
}

/// Appends one `OVS_TUNNEL_KEY_ATTR_*`, framed.
pub fn emit_tunnel_attr(attr: &TunnelAttr, w: &mut nl::Writer) {
    let ty = attr.ty();
    match attr {
        TunnelAttr::Id(id) => w.put_u64_be(ty, *id),
        TunnelAttr::Ipv4Src(a) | TunnelAttr::Ipv4Dst(a) => w.put(ty, &a.octets()),
        TunnelAttr::Ipv6Src(a) | TunnelAttr::Ipv6Dst(a) => w.put(ty, &a.octets()),
        TunnelAttr::Tos(v) | TunnelAttr::Ttl(v) => w.put_u8(ty, *v),
        TunnelAttr::DontFragment
        | TunnelAttr::Csum
        | TunnelAttr::Oam
        | TunnelAttr::Pad
        | TunnelAttr::Ipv4InfoBridge => w.put_flag(ty),
        TunnelAttr::GeneveOpts(opts) => w.put(ty, opts),
        TunnelAttr::TpSrc(p) | TunnelAttr::TpDst(p) => w.put_u16_be(ty, *p),
        TunnelAttr::VxlanOpts(gbp) => {
            let nest = w.begin_nested(ty);
            if let Some(gbp) = gbp {
                w.put_u32(OVS_VXLAN_EXT_GBP, *gbp);
            }
            w.end_nested(nest);
        }
        TunnelAttr::ErspanOpts(md) => {
            let buf = w.put_zeroed(ty, 12);
            put(buf, 0, &md.version.to_ne_bytes());
            put(buf, 4, &md.u);
        }
        TunnelAttr::GtpuOpts { flags, msgtype } => w.put(ty, &[*flags, *msgtype]),
        TunnelAttr::Unknown { ty, payload } => w.put(*ty, payload),
    }
}

/// Appends one `OVS_NSH_KEY_ATTR_*`, framed.
pub fn emit_nsh_attr(attr: &NshAttr, w: &mut nl::Writer) {
    let ty = attr.ty();
    match attr {
        NshAttr::Base(b) => {
            let buf = w.put_zeroed(ty, 8);
            put(buf, 0, &[b.flags, b.ttl, b.mdtype, b.np]);
            put(buf, 4, &b.path_hdr.to_be_bytes());
        }
        NshAttr::Md1(ctx) => {
            let buf = w.put_zeroed(ty, 16);
            for (i, c) in ctx.iter().enumerate() {
                put(buf, i * 4, &c.to_be_bytes());
            }
        }
        NshAttr::Md2(tlvs) => w.put(ty, tlvs),
        NshAttr::Unknown { ty, payload } => w.put(*ty, payload),
    }
}

// ---------------------------------------------------------------------------
// Decoding

/// Decodes a flow key list.
///
/// In strict mode, besides the per-list rules of the module doc, the key
/// must satisfy the kernel's key rules (see `validate.rs`): a VLAN
/// ethertype needs `VLAN` and `ENCAP`, `ENCAP` needs a VLAN ethertype, a
/// tagged TCI has the CFI bit and a truncated (zero) TCI has an empty encap,
/// fragment types are at most 2, the IPv6 label fits 20 bits, the ARP opcode
/// fits 8 bits, `CT_STATE` uses only the 8 defined bits, the L3/L4 attribute
/// that the ethertype and IP protocol call for is present, and a tunnel has
/// a TTL and a non-zero destination of a single address family.
///
/// # Errors
/// A [`DecodeError`] whose path leads to the offending attribute.
pub fn decode_keys(bytes: &[u8], mode: Mode) -> Result<(Vec<KeyAttr>, Fitness), DecodeError> {
    let mut cx = Cx::new(mode);
    let attrs = cx.key_list(bytes)?;
    if mode == Mode::Strict {
        validate::key(&attrs)?;
    }
    Ok((attrs, cx.fitness()))
}

/// Decodes a mask list that goes with `key`.
///
/// In strict mode the kernel's `match_validate` rules that can be checked on
/// attribute lists apply. A mask attribute whose payload is all zeros is
/// ignored by these rules, as the kernel ignores it. Otherwise:
/// - every mask attribute must have a key attribute of the same type at the
///   same encap level ([`DecodeErrorKind::MaskNotAllowed`]);
/// - L3 masks (`IPV4`, `IPV6`, `ARP`, `MPLS`, `NSH`, the ct orig tuples)
///   need the key's ethertype to call for them and the ethertype mask to be
///   exact; L4 masks (`TCP`, `TCP_FLAGS`, `UDP`, `SCTP`, `ICMP`, `ICMPV6`)
///   need the key's IP protocol to call for them, the key not to be a later
///   fragment, and the protocol mask to be exact; `ND` needs an ICMPv6
///   neighbour solicitation or advertisement and an exact ICMPv6 type mask,
///   and excludes the IPv6 ct orig tuple;
/// - a mask `ENCAP` needs a key TCI with the CFI bit, an exact ethertype
///   (TPID) mask and a TCI mask with the CFI bit;
/// - `CT_STATE` uses only the 8 defined bits;
/// - a tunnel's geneve option mask has the length of the key's options
///   ([`DecodeErrorKind::BadLength`]).
///
/// Not checked here, because they need the whole flow rather than the
/// lists: the kernel's merge of key and mask into `sw_flow_key` (so a mask
/// attribute must sit at the same encap level as its key attribute, which
/// is how OVS builds masks), and the implicit exact-match masks the kernel
/// adds for fields it always matches.
///
/// # Errors
/// A [`DecodeError`] whose path leads to the offending mask attribute.
pub fn decode_mask(bytes: &[u8], key: &[KeyAttr], mode: Mode) -> Result<Vec<KeyAttr>, DecodeError> {
    let mut cx = Cx::new(mode);
    let attrs = cx.key_list(bytes)?;
    if mode == Mode::Strict {
        validate::mask(&attrs, key)?;
    }
    Ok(attrs)
}

/// Decodes one attribute of type `ty` from its payload (checking its length
/// against the table). In tolerant mode an unknown type gives
/// `KeyAttr::Unknown`. Key and mask rules that involve other attributes are
/// not checked.
///
/// # Errors
/// As [`decode_keys`], for this attribute alone; the path starts with `ty`.
pub fn decode_attr(ty: u16, payload: &[u8], mode: Mode) -> Result<KeyAttr, DecodeError> {
    let ty = ty & nl::NLA_TYPE_MASK;
    Cx::new(mode).key_attr(ty, payload)
}

/// Decodes the payload of an `OVS_KEY_ATTR_TUNNEL` nest with the list rules
/// of the module doc (types, duplicates, lengths, option blocks). The key
/// rules of [`decode_keys`] (TTL, destination) are not applied.
///
/// # Errors
/// A [`DecodeError`] whose path starts inside the nest.
pub fn decode_tunnel(bytes: &[u8], mode: Mode) -> Result<(Vec<TunnelAttr>, Fitness), DecodeError> {
    let mut cx = Cx::new(mode);
    let attrs = cx.tunnel_list(bytes)?;
    Ok((attrs, cx.fitness()))
}

/// Decodes the payload of an `OVS_KEY_ATTR_NSH` nest with the list rules of
/// the module doc.
///
/// # Errors
/// A [`DecodeError`] whose path starts inside the nest.
pub fn decode_nsh(bytes: &[u8], mode: Mode) -> Result<(Vec<NshAttr>, Fitness), DecodeError> {
    let mut cx = Cx::new(mode);
    let attrs = cx.nsh_list(bytes)?;
    Ok((attrs, cx.fitness()))
}

/// Decoding state: the mode, what fitness we owe, and the encap depth.
struct Cx {
    mode: Mode,
    too_much: bool,
    depth: usize,
}

fn err(kind: DecodeErrorKind, ty: u16) -> DecodeError {
    DecodeError::new(kind, ty)
}

fn trailing() -> DecodeError {
    DecodeError {
        kind: DecodeErrorKind::Trailing,
        path: Vec::new(),
    }
}

/// Reads `N` bytes at `off`; zeros if out of range (lengths are checked
/// before any read, so this only keeps reads panic-free).
fn arr<const N: usize>(p: &[u8], off: usize) -> [u8; N] {
    p.get(off..off + N)
        .and_then(|s| s.try_into().ok())
        .unwrap_or([0; N])
}
fn be16(p: &[u8], off: usize) -> u16 {
    u16::from_be_bytes(arr(p, off))
}
fn be32(p: &[u8], off: usize) -> u32 {
    u32::from_be_bytes(arr(p, off))
}
fn ne16(p: &[u8], off: usize) -> u16 {
    u16::from_ne_bytes(arr(p, off))
}
fn ne32(p: &[u8], off: usize) -> u32 {
    u32::from_ne_bytes(arr(p, off))
}
fn ip4(p: &[u8], off: usize) -> Ipv4Addr {
    Ipv4Addr::from(arr::<4>(p, off))
}
fn ip6(p: &[u8], off: usize) -> Ipv6Addr {
    Ipv6Addr::from(arr::<16>(p, off))
}
fn byte(p: &[u8], off: usize) -> u8 {
    p.get(off).copied().unwrap_or(0)
}

/// Marks `ty` as seen in `seen`; returns whether it was already.
fn seen_before(seen: &mut u64, ty: u16) -> bool {
    let bit = 1u64.checked_shl(u32::from(ty)).unwrap_or(0);
    let dup = *seen & bit != 0;
    *seen |= bit;
    dup
}

impl Cx {
    fn new(mode: Mode) -> Self {
        Cx {
            mode,
            too_much: false,
            depth: 0,
        }
    }

    fn strict(&self) -> bool {
        self.mode == Mode::Strict
    }

    fn fitness(&self) -> Fitness {
        if self.too_much {
            Fitness::TooMuch
        } else {
            Fitness::Perfect
        }
    }

    /// The spec for `ty` at `level` if this mode models it; `Ok(None)` for an
    /// attribute to keep as unknown (tolerant mode).
    fn spec(&mut self, level: Level, ty: u16) -> Result<Option<&'static AttrSpec>, DecodeError> {
        match lookup(level, ty) {
            Some(spec) if spec.strict => Ok(Some(spec)),
            _ if self.strict() => Err(err(DecodeErrorKind::UnknownType, ty)),
            _ => {
                self.too_much = true;
                Ok(None)
            }
        }
    }

    /// Duplicate handling: an error in strict mode, noted in tolerant mode.
    fn duplicate(&mut self, seen: &mut u64, ty: u16) -> Result<(), DecodeError> {
        if seen_before(seen, ty) {
            if self.strict() {
                return Err(err(DecodeErrorKind::Duplicate, ty));
            }
            self.too_much = true;
        }
        Ok(())
    }

    fn key_list(&mut self, bytes: &[u8]) -> Result<Vec<KeyAttr>, DecodeError> {
        // Attributes are at least 4 bytes; most keys have 8-byte ones.
        let mut out = Vec::with_capacity(bytes.len() / 8 + 1);
        let mut seen = 0u64;
        for item in nl::AttrIter::new(bytes) {
            let a = item.map_err(|_| trailing())?;
            self.duplicate(&mut seen, a.ty)?;
            out.push(self.key_attr(a.ty, a.payload)?);
        }
        Ok(out)
    }

    fn key_attr(&mut self, ty: u16, p: &[u8]) -> Result<KeyAttr, DecodeError> {
        let Some(spec) = self.spec(Level::Key, ty)? else {
            return Ok(KeyAttr::Unknown {
                ty,
                payload: p.to_vec(),
            });
        };
        check_len(spec, p.len())
            .map_err(|want| err(DecodeErrorKind::BadLength { got: p.len(), want }, ty))?;
        self.key_payload(ty, p).map_err(|e| e.within(ty))
    }

    /// Decodes a payload whose length has been checked. Errors are relative
    /// to the attribute (the caller adds `ty` to the path).
    fn key_payload(&mut self, ty: u16, p: &[u8]) -> Result<KeyAttr, DecodeError> {
        let nested_err = |kind| DecodeError {
            kind,
            path: Vec::new(),
        };
        Ok(match ty {
            OVS_KEY_ATTR_ENCAP => {
                let limit = if self.strict() {
                    MAX_ENCAP_DEPTH_STRICT
                } else {
                    MAX_ENCAP_DEPTH
                };
                if self.depth >= limit {
                    return Err(nested_err(DecodeErrorKind::TooDeep));
                }
                self.depth += 1;
                let inner = self.key_list(p);
                self.depth -= 1;
                KeyAttr::Encap(inner?)
            }
            OVS_KEY_ATTR_PRIORITY => KeyAttr::Priority(ne32(p, 0)),
            OVS_KEY_ATTR_IN_PORT => KeyAttr::InPort(ne32(p, 0)),
            OVS_KEY_ATTR_ETHERNET => KeyAttr::Ethernet(EthernetKey {
                src: arr(p, 0),
                dst: arr(p, 6),
            }),
            OVS_KEY_ATTR_VLAN => KeyAttr::Vlan(be16(p, 0)),
            OVS_KEY_ATTR_ETHERTYPE => KeyAttr::Ethertype(be16(p, 0)),
            OVS_KEY_ATTR_IPV4 => KeyAttr::Ipv4(Ipv4Key {
                src: ip4(p, 0),
                dst: ip4(p, 4),
                proto: byte(p, 8),
                tos: byte(p, 9),
                ttl: byte(p, 10),
                frag: byte(p, 11),
            }),
            OVS_KEY_ATTR_IPV6 => KeyAttr::Ipv6(Ipv6Key {
                src: ip6(p, 0),
                dst: ip6(p, 16),
                label: be32(p, 32),
                proto: byte(p, 36),
                tclass: byte(p, 37),
                hlimit: byte(p, 38),
                frag: byte(p, 39),
            }),
            OVS_KEY_ATTR_TCP => KeyAttr::Tcp(ports(p)),
            OVS_KEY_ATTR_UDP => KeyAttr::Udp(ports(p)),
            OVS_KEY_ATTR_SCTP => KeyAttr::Sctp(ports(p)),
            OVS_KEY_ATTR_ICMP => KeyAttr::Icmp(icmp(p)),
            OVS_KEY_ATTR_ICMPV6 => KeyAttr::Icmpv6(icmp(p)),
            OVS_KEY_ATTR_ARP => KeyAttr::Arp(ArpKey {
                sip: ip4(p, 0),
                tip: ip4(p, 4),
                op: be16(p, 8),
                sha: arr(p, 10),
                tha: arr(p, 16),
            }),
            OVS_KEY_ATTR_ND => KeyAttr::Nd(NdKey {
                target: ip6(p, 0),
                sll: arr(p, 16),
                tll: arr(p, 22),
            }),
            OVS_KEY_ATTR_SKB_MARK => KeyAttr::SkbMark(ne32(p, 0)),
            OVS_KEY_ATTR_TUNNEL => KeyAttr::Tunnel(self.tunnel_list(p)?),
            OVS_KEY_ATTR_TCP_FLAGS => KeyAttr::TcpFlags(be16(p, 0)),
            OVS_KEY_ATTR_DP_HASH => KeyAttr::DpHash(ne32(p, 0)),
            OVS_KEY_ATTR_RECIRC_ID => KeyAttr::RecircId(ne32(p, 0)),
            OVS_KEY_ATTR_MPLS => {
                let n = p.len() / 4;
                if self.strict() && n > MAX_MPLS_LABELS_STRICT {
                    return Err(nested_err(DecodeErrorKind::BadLength {
                        got: p.len(),
                        want: MAX_MPLS_LABELS_STRICT * 4,
                    }));
                }
                KeyAttr::Mpls(p.chunks_exact(4).map(|c| MplsLse(be32(c, 0))).collect())
            }
            OVS_KEY_ATTR_CT_STATE => KeyAttr::CtState(ne32(p, 0)),
            OVS_KEY_ATTR_CT_ZONE => KeyAttr::CtZone(ne16(p, 0)),
            OVS_KEY_ATTR_CT_MARK => KeyAttr::CtMark(ne32(p, 0)),
            OVS_KEY_ATTR_CT_LABELS => KeyAttr::CtLabels(arr(p, 0)),
            OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4 => KeyAttr::CtOrigTupleIpv4(CtTupleIpv4 {
                src: ip4(p, 0),
                dst: ip4(p, 4),
                src_port: be16(p, 8),
                dst_port: be16(p, 10),
                proto: byte(p, 12),
            }),
            OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6 => KeyAttr::CtOrigTupleIpv6(CtTupleIpv6 {
                src: ip6(p, 0),
                dst: ip6(p, 16),
                src_port: be16(p, 32),
                dst_port: be16(p, 34),
                proto: byte(p, 36),
            }),
            OVS_KEY_ATTR_NSH => KeyAttr::Nsh(self.nsh_list(p)?),
            OVS_KEY_ATTR_PACKET_TYPE => KeyAttr::PacketType(be32(p, 0)),
            OVS_KEY_ATTR_ND_EXTENSIONS => KeyAttr::NdExtensions(NdExtKey {
                reserved: be32(p, 0),
                options_type: byte(p, 4),
            }),
            OVS_KEY_ATTR_IPV6_EXTHDRS => KeyAttr::Ipv6Exthdrs(ne16(p, 0)),
            // Unreachable with the table as it is: a type the table accepts
            // but this match does not model is kept raw.
            _ => KeyAttr::Unknown {
                ty,
                payload: p.to_vec(),
            },
        })
    }

    fn tunnel_list(&mut self, bytes: &[u8]) -> Result<Vec<TunnelAttr>, DecodeError> {
        let mut out = Vec::new();
        let mut seen = 0u64;
        let mut opts_seen = false;
        for item in nl::AttrIter::new(bytes) {
            let a = item.map_err(|_| trailing())?;
            let (ty, p) = (a.ty, a.payload);
            self.duplicate(&mut seen, ty)?;
            let Some(spec) = self.spec(Level::Tunnel, ty)? else {
                out.push(TunnelAttr::Unknown {
                    ty,
                    payload: p.to_vec(),
                });
                continue;
            };
            check_len(spec, p.len())
                .map_err(|want| err(DecodeErrorKind::BadLength { got: p.len(), want }, ty))?;
            if matches!(
                ty,
                OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS
                    | OVS_TUNNEL_KEY_ATTR_VXLAN_OPTS
                    | OVS_TUNNEL_KEY_ATTR_ERSPAN_OPTS
            ) {
                if opts_seen && self.strict() {
                    // The kernel's "Multiple metadata blocks provided".
                    return Err(err(DecodeErrorKind::Duplicate, ty));
                }
                opts_seen = true;
            }
            out.push(match ty {
                OVS_TUNNEL_KEY_ATTR_ID => TunnelAttr::Id(u64::from_be_bytes(arr(p, 0))),
                OVS_TUNNEL_KEY_ATTR_IPV4_SRC => TunnelAttr::Ipv4Src(ip4(p, 0)),
                OVS_TUNNEL_KEY_ATTR_IPV4_DST => TunnelAttr::Ipv4Dst(ip4(p, 0)),
                OVS_TUNNEL_KEY_ATTR_TOS => TunnelAttr::Tos(byte(p, 0)),
                OVS_TUNNEL_KEY_ATTR_TTL => TunnelAttr::Ttl(byte(p, 0)),
                OVS_TUNNEL_KEY_ATTR_DONT_FRAGMENT => TunnelAttr::DontFragment,
                OVS_TUNNEL_KEY_ATTR_CSUM => TunnelAttr::Csum,
                OVS_TUNNEL_KEY_ATTR_OAM => TunnelAttr::Oam,
                OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS => {
                    if self.strict() && (p.len() & 3 != 0 || p.len() > MAX_GENEVE_OPTS_LEN) {
                        let want = (p.len() & !3).min(MAX_GENEVE_OPTS_LEN);
                        return Err(err(DecodeErrorKind::BadLength { got: p.len(), want }, ty));
                    }
                    TunnelAttr::GeneveOpts(p.to_vec())
                }
                OVS_TUNNEL_KEY_ATTR_TP_SRC => TunnelAttr::TpSrc(be16(p, 0)),
                OVS_TUNNEL_KEY_ATTR_TP_DST => TunnelAttr::TpDst(be16(p, 0)),
                OVS_TUNNEL_KEY_ATTR_VXLAN_OPTS => self.vxlan(p).map_err(|e| e.within(ty))?,
                OVS_TUNNEL_KEY_ATTR_IPV6_SRC => TunnelAttr::Ipv6Src(ip6(p, 0)),
                OVS_TUNNEL_KEY_ATTR_IPV6_DST => TunnelAttr::Ipv6Dst(ip6(p, 0)),
                OVS_TUNNEL_KEY_ATTR_PAD => TunnelAttr::Pad,
                OVS_TUNNEL_KEY_ATTR_ERSPAN_OPTS => TunnelAttr::ErspanOpts(ErspanMetadata {
                    version: ne32(p, 0),
                    u: arr(p, 4),
                }),
                OVS_TUNNEL_KEY_ATTR_IPV4_INFO_BRIDGE => TunnelAttr::Ipv4InfoBridge,
                OVS_TUNNEL_KEY_ATTR_GTPU_OPTS => TunnelAttr::GtpuOpts {
                    flags: byte(p, 0),
                    msgtype: byte(p, 1),
                },
                _ => TunnelAttr::Unknown {
                    ty,
                    payload: p.to_vec(),
                },
            });
        }
        Ok(out)
    }

    /// `OVS_TUNNEL_KEY_ATTR_VXLAN_OPTS`: at most one `GBP`. In tolerant mode,
    /// content we cannot model keeps the whole attribute raw.
    fn vxlan(&mut self, bytes: &[u8]) -> Result<TunnelAttr, DecodeError> {
        let mut gbp = None;
        let mut raw = false;
        for item in nl::AttrIter::new(bytes) {
            let a = item.map_err(|_| trailing())?;
            let Some(spec) = self.spec(Level::VxlanExt, a.ty)? else {
                raw = true;
                continue;
            };
            check_len(spec, a.payload.len()).map_err(|want| {
                err(
                    DecodeErrorKind::BadLength {
                        got: a.payload.len(),
                        want,
                    },
                    a.ty,
                )
            })?;
            if gbp.is_some() {
                if self.strict() {
                    return Err(err(DecodeErrorKind::Duplicate, a.ty));
                }
                self.too_much = true;
                raw = true;
            }
            gbp = Some(ne32(a.payload, 0));
        }
        Ok(if raw {
            TunnelAttr::Unknown {
                ty: OVS_TUNNEL_KEY_ATTR_VXLAN_OPTS,
                payload: bytes.to_vec(),
            }
        } else {
            TunnelAttr::VxlanOpts(gbp)
        })
    }

    fn nsh_list(&mut self, bytes: &[u8]) -> Result<Vec<NshAttr>, DecodeError> {
        let mut out = Vec::new();
        let mut seen = 0u64;
        for item in nl::AttrIter::new(bytes) {
            let a = item.map_err(|_| trailing())?;
            let (ty, p) = (a.ty, a.payload);
            self.duplicate(&mut seen, ty)?;
            let Some(spec) = self.spec(Level::Nsh, ty)? else {
                out.push(NshAttr::Unknown {
                    ty,
                    payload: p.to_vec(),
                });
                continue;
            };
            check_len(spec, p.len())
                .map_err(|want| err(DecodeErrorKind::BadLength { got: p.len(), want }, ty))?;
            out.push(match ty {
                OVS_NSH_KEY_ATTR_BASE => NshAttr::Base(NshBase {
                    flags: byte(p, 0),
                    ttl: byte(p, 1),
                    mdtype: byte(p, 2),
                    np: byte(p, 3),
                    path_hdr: be32(p, 4),
                }),
                OVS_NSH_KEY_ATTR_MD1 => {
                    NshAttr::Md1([be32(p, 0), be32(p, 4), be32(p, 8), be32(p, 12)])
                }
                OVS_NSH_KEY_ATTR_MD2 => NshAttr::Md2(p.to_vec()),
                _ => NshAttr::Unknown {
                    ty,
                    payload: p.to_vec(),
                },
            });
        }
        let has = |t: u16| seen & (1 << t) != 0;
        if self.strict() && has(OVS_NSH_KEY_ATTR_MD1) && has(OVS_NSH_KEY_ATTR_MD2) {
            return Err(err(DecodeErrorKind::BadValue, OVS_NSH_KEY_ATTR_MD2));
        }
        Ok(out)
    }
}

fn ports(p: &[u8]) -> PortsKey {
    PortsKey {
        src: be16(p, 0),
        dst: be16(p, 2),
    }
}

fn icmp(p: &[u8]) -> IcmpKey {
    IcmpKey {
        ty: byte(p, 0),
        code: byte(p, 1),
    }
}

#[cfg(test)]
mod tests;
