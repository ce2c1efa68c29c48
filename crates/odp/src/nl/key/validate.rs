//! Strict-mode rules that involve more than one attribute: the kernel's key
//! rules (`ovs_key_from_nlattrs`, `parse_vlan_from_nlattrs`,
//! `ip_tun_from_nlattr`) and mask rules (`match_validate`,
//! `validate_vlan_mask_from_nlattrs`) in `net/openvswitch/flow_netlink.c`,
//! as far as they can be checked on attribute lists.
//!
//! The kernel merges the levels of a VLAN key (outer, `ENCAP`, inner
//! `ENCAP`) into one flow key: metadata and L3/L4 attributes may sit at any
//! level, but a type may appear only once over all levels, and the ethertype
//! that selects L3 is the innermost one. We follow that for keys. For masks
//! we additionally require a mask attribute to sit at the same level as the
//! key attribute it masks, which is how OVS builds them.

use super::{err, MAX_ENCAP_DEPTH};
use crate::abi::*;
use crate::key::{KeyAttr, TunnelAttr};
use crate::{DecodeError, DecodeErrorKind};

/// The VLAN TCI "present" (CFI) bit.
const VLAN_CFI: u16 = 0x1000;
/// `CT_STATE` bits the kernel supports (`OVS_CS_F_NEW` .. `OVS_CS_F_DST_NAT`).
const CT_STATE_SUPPORTED: u32 = 0xff;
/// ICMPv6 neighbour solicitation and advertisement.
const ND_TYPES: [u8; 2] = [135, 136];

fn bit(ty: u16) -> u64 {
    1u64.checked_shl(u32::from(ty)).unwrap_or(0)
}

fn is_vlan_tpid(eth_type: u16) -> bool {
    eth_type == ETH_TYPE_VLAN_8021Q || eth_type == ETH_TYPE_VLAN_8021AD
}

fn find<T>(level: &[KeyAttr], f: impl Fn(&KeyAttr) -> Option<T>) -> Option<T> {
    level.iter().find_map(f)
}

fn ethertype(level: &[KeyAttr]) -> Option<u16> {
    find(level, |a| match a {
        KeyAttr::Ethertype(t) => Some(*t),
        _ => None,
    })
}

fn vlan(level: &[KeyAttr]) -> Option<u16> {
    find(level, |a| match a {
        KeyAttr::Vlan(t) => Some(*t),
        _ => None,
    })
}

fn encap(level: &[KeyAttr]) -> Option<&[KeyAttr]> {
    level.iter().find_map(|a| match a {
        KeyAttr::Encap(inner) => Some(inner.as_slice()),
        _ => None,
    })
}

/// Adds the encap path (one `ENCAP` per level) in front of an error.
fn at_depth(mut e: DecodeError, depth: usize) -> DecodeError {
    for _ in 0..depth {
        e = e.within(OVS_KEY_ATTR_ENCAP);
    }
    e
}

/// What selects L3 and L4: the innermost ethertype and the L3/L4 values.
#[derive(Default)]
struct Facts {
    eth_type: Option<u16>,
    proto: Option<u8>,
    frag: Option<u8>,
    /// ICMP or ICMPv6 type (the kernel's `tp.src`).
    icmp_type: Option<u8>,
}

impl Facts {
    fn absorb(&mut self, level: &[KeyAttr]) {
        for a in level {
            match a {
                KeyAttr::Ipv4(k) => {
                    self.proto = Some(k.proto);
                    self.frag = Some(k.frag);
                }
                KeyAttr::Ipv6(k) => {
                    self.proto = Some(k.proto);
                    self.frag = Some(k.frag);
                }
                KeyAttr::Icmp(i) | KeyAttr::Icmpv6(i) => self.icmp_type = Some(i.ty),
                _ => {}
            }
        }
    }
}

/// The TCI of a key's innermost VLAN tag: the last `VLAN` attribute the
/// kernel's `parse_vlan_from_nlattrs` reads, following `ENCAP`s while the
/// tag is present; 0 without one.
fn key_innermost_tci(key: &[KeyAttr]) -> u16 {
    let mut level = key;
    let mut tci = 0;
    for _ in 0..=MAX_ENCAP_DEPTH {
        if !ethertype(level).is_some_and(is_vlan_tpid) {
            break;
        }
        let Some(t) = vlan(level) else { break };
        tci = t;
        match encap(level) {
            Some(inner) if t & VLAN_CFI != 0 => level = inner,
            _ => break,
        }
    }
    tci
}

/// Strict key rules; see [`super::decode_keys`].
pub(super) fn key(attrs: &[KeyAttr]) -> Result<(), DecodeError> {
    let mut level = attrs;
    let mut depth = 0;
    let mut all = 0u64;
    let mut facts = Facts::default();
    loop {
        for a in level {
            key_value(a).map_err(|e| at_depth(e, depth))?;
            let ty = a.ty();
            if !matches!(
                ty,
                OVS_KEY_ATTR_ENCAP | OVS_KEY_ATTR_VLAN | OVS_KEY_ATTR_ETHERTYPE
            ) {
                if all & bit(ty) != 0 {
                    return Err(at_depth(err(DecodeErrorKind::Duplicate, ty), depth));
                }
                all |= bit(ty);
            }
        }
        facts.absorb(level);
        let eth_type = ethertype(level);
        facts.eth_type = eth_type;
        let inner = encap(level);
        if !eth_type.is_some_and(is_vlan_tpid) {
            // ENCAP and VLAN belong to VLAN frames only.
            for ty in [OVS_KEY_ATTR_VLAN, OVS_KEY_ATTR_ENCAP] {
                if level.iter().any(|a| a.ty() == ty) {
                    return Err(at_depth(err(DecodeErrorKind::UnknownType, ty), depth));
                }
            }
            break;
        }
        let Some(tci) = vlan(level) else {
            return Err(at_depth(
                err(DecodeErrorKind::Missing, OVS_KEY_ATTR_VLAN),
                depth,
            ));
        };
        let Some(inner) = inner else {
            return Err(at_depth(
                err(DecodeErrorKind::Missing, OVS_KEY_ATTR_ENCAP),
                depth,
            ));
        };
        if tci & VLAN_CFI == 0 {
            // A truncated VLAN header: TCI 0 and nothing inside.
            let bad = if tci != 0 {
                Some(OVS_KEY_ATTR_VLAN)
            } else if !inner.is_empty() {
                Some(OVS_KEY_ATTR_ENCAP)
            } else {
                None
            };
            if let Some(ty) = bad {
                return Err(at_depth(err(DecodeErrorKind::BadValue, ty), depth));
            }
            break;
        }
        if depth >= MAX_ENCAP_DEPTH {
            break;
        }
        level = inner;
        depth += 1;
    }
    let expected = expected_keys(&facts);
    let missing = expected & !all;
    if missing != 0 {
        let ty = missing.trailing_zeros() as u16;
        return Err(at_depth(err(DecodeErrorKind::Missing, ty), depth));
    }
    Ok(())
}

/// Value rules on one key attribute (not applied to masks, except
/// `CT_STATE` which [`mask`] checks too).
fn key_value(a: &KeyAttr) -> Result<(), DecodeError> {
    let bad = |ty| Err(err(DecodeErrorKind::BadValue, ty));
    match a {
        KeyAttr::Ipv4(k) if k.frag > OVS_FRAG_TYPE_LATER => bad(OVS_KEY_ATTR_IPV4),
        KeyAttr::Ipv6(k) if k.frag > OVS_FRAG_TYPE_LATER || k.label & !0xfffff != 0 => {
            bad(OVS_KEY_ATTR_IPV6)
        }
        KeyAttr::Arp(k) if k.op > 0xff => bad(OVS_KEY_ATTR_ARP),
        KeyAttr::CtState(s) if s & !CT_STATE_SUPPORTED != 0 => bad(OVS_KEY_ATTR_CT_STATE),
        KeyAttr::Tunnel(t) => tunnel_key(t).map_err(|e| e.within(OVS_KEY_ATTR_TUNNEL)),
        _ => Ok(()),
    }
}

/// The kernel's tunnel key rules: a TTL, a destination, one address family,
/// and a non-zero destination.
fn tunnel_key(attrs: &[TunnelAttr]) -> Result<(), DecodeError> {
    let (mut ttl, mut v4, mut v6) = (false, false, false);
    let (mut dst4, mut dst6) = (None, None);
    for a in attrs {
        match a {
            TunnelAttr::Ttl(_) => ttl = true,
            TunnelAttr::Ipv4Src(_) => v4 = true,
            TunnelAttr::Ipv4Dst(d) => {
                v4 = true;
                dst4 = Some(*d);
            }
            TunnelAttr::Ipv6Src(_) => v6 = true,
            TunnelAttr::Ipv6Dst(d) => {
                v6 = true;
                dst6 = Some(*d);
            }
            _ => {}
        }
    }
    if v4 && v6 {
        return Err(err(DecodeErrorKind::BadValue, OVS_TUNNEL_KEY_ATTR_IPV6_DST));
    }
    if v6 {
        match dst6 {
            None => return Err(err(DecodeErrorKind::Missing, OVS_TUNNEL_KEY_ATTR_IPV6_DST)),
            Some(d) if d.is_unspecified() => {
                return Err(err(DecodeErrorKind::BadValue, OVS_TUNNEL_KEY_ATTR_IPV6_DST))
            }
            _ => {}
        }
    } else {
        match dst4 {
            None => return Err(err(DecodeErrorKind::Missing, OVS_TUNNEL_KEY_ATTR_IPV4_DST)),
            Some(d) if d.is_unspecified() => {
                return Err(err(DecodeErrorKind::BadValue, OVS_TUNNEL_KEY_ATTR_IPV4_DST))
            }
            _ => {}
        }
    }
    if !ttl {
        return Err(err(DecodeErrorKind::Missing, OVS_TUNNEL_KEY_ATTR_TTL));
    }
    Ok(())
}

/// The L3/L4 key attributes the key's own values call for (the kernel's
/// `key_expected`).
fn expected_keys(f: &Facts) -> u64 {
    let mut exp = 0;
    match f.eth_type {
        Some(ETH_TYPE_ARP) | Some(ETH_TYPE_RARP) => exp |= bit(OVS_KEY_ATTR_ARP),
        Some(ETH_TYPE_MPLS) | Some(ETH_TYPE_MPLS_MCAST) => exp |= bit(OVS_KEY_ATTR_MPLS),
        Some(ETH_TYPE_NSH) => exp |= bit(OVS_KEY_ATTR_NSH),
        Some(ETH_TYPE_IP) => {
            exp |= bit(OVS_KEY_ATTR_IPV4);
            if f.frag.is_some_and(|fr| fr != OVS_FRAG_TYPE_LATER) {
                exp |= l4_for(f.proto, IPPROTO_ICMP, OVS_KEY_ATTR_ICMP);
            }
        }
        Some(ETH_TYPE_IPV6) => {
            exp |= bit(OVS_KEY_ATTR_IPV6);
            if f.frag.is_some_and(|fr| fr != OVS_FRAG_TYPE_LATER) {
                exp |= l4_for(f.proto, IPPROTO_ICMPV6, OVS_KEY_ATTR_ICMPV6);
                if f.proto == Some(IPPROTO_ICMPV6)
                    && f.icmp_type.is_some_and(|t| ND_TYPES.contains(&t))
                {
                    exp |= bit(OVS_KEY_ATTR_ND);
                }
            }
        }
        _ => {}
    }
    exp
}

/// The L4 attributes an IP protocol calls for.
fn l4_for(proto: Option<u8>, icmp_proto: u8, icmp_attr: u16) -> u64 {
    match proto {
        Some(IPPROTO_TCP) => bit(OVS_KEY_ATTR_TCP) | bit(OVS_KEY_ATTR_TCP_FLAGS),
        Some(IPPROTO_UDP) => bit(OVS_KEY_ATTR_UDP),
        Some(IPPROTO_SCTP) => bit(OVS_KEY_ATTR_SCTP),
        Some(p) if p == icmp_proto => bit(icmp_attr),
        _ => 0,
    }
}

/// Whether a mask attribute is all zeros (the kernel ignores those).
fn all_zero(a: &KeyAttr) -> bool {
    let mut p = Vec::new();
    super::emit_payload(a, &mut p);
    p.iter().all(|b| *b == 0)
}

/// L3/L4 mask types that need permission from the key and mask values.
const GATED: [u16; 14] = [
    OVS_KEY_ATTR_IPV4,
    OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4,
    OVS_KEY_ATTR_IPV6,
    OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6,
    OVS_KEY_ATTR_TCP,
    OVS_KEY_ATTR_TCP_FLAGS,
    OVS_KEY_ATTR_UDP,
    OVS_KEY_ATTR_SCTP,
    OVS_KEY_ATTR_ICMP,
    OVS_KEY_ATTR_ICMPV6,
    OVS_KEY_ATTR_ARP,
    OVS_KEY_ATTR_ND,
    OVS_KEY_ATTR_MPLS,
    OVS_KEY_ATTR_NSH,
];

/// Strict mask rules; see [`super::decode_mask`].
pub(super) fn mask(mask: &[KeyAttr], key: &[KeyAttr]) -> Result<(), DecodeError> {
    // Walk key and mask levels side by side.
    let (mut klevel, mut mlevel) = (key, mask);
    let mut depth = 0;
    let mut kfacts = Facts::default();
    let mut mfacts = Facts::default();
    let mut seen: Vec<(usize, u16)> = Vec::new();
    // The kernel checks a mask ENCAP's TCI in the attribute table it
    // filled with the key's attributes first, level by level: a mask
    // attribute that is all zeros does not replace an entry
    // (`__parse_flow_nlattrs` skips it), so a zero TCI mask is checked
    // (and used) as the last non-zero mask TCI above it, or else as the
    // TCI of the key's innermost tag. The TPID falls back the same way,
    // to a key EtherType, which is never exact (0xffff): no such fallback
    // can pass, so only the mask's own TPID is looked at below.
    let mut mask_tci = key_innermost_tci(key);
    loop {
        kfacts.absorb(klevel);
        mfacts.absorb(mlevel);
        kfacts.eth_type = ethertype(klevel);
        mfacts.eth_type = ethertype(mlevel);
        for a in mlevel {
            if let KeyAttr::CtState(s) = a {
                if s & !CT_STATE_SUPPORTED != 0 {
                    return Err(at_depth(
                        err(DecodeErrorKind::BadValue, OVS_KEY_ATTR_CT_STATE),
                        depth,
                    ));
                }
            }
            if let KeyAttr::Tunnel(t) = a {
                geneve_lengths_agree(t, klevel)
                    .map_err(|e| at_depth(e.within(OVS_KEY_ATTR_TUNNEL), depth))?;
            }
            if all_zero(a) {
                continue;
            }
            let ty = a.ty();
            // The kernel's match_validate always allows masks of the tunnel,
            // in_port and EtherType, present in the key or not (an exact
            // "no tunnel" match, for instance).
            let always_allowed = matches!(
                ty,
                OVS_KEY_ATTR_TUNNEL | OVS_KEY_ATTR_IN_PORT | OVS_KEY_ATTR_ETHERTYPE
            );
            if !always_allowed && !klevel.iter().any(|k| k.ty() == ty) {
                return Err(at_depth(err(DecodeErrorKind::MaskNotAllowed, ty), depth));
            }
            seen.push((depth, ty));
        }
        let Some(minner) = encap(mlevel).filter(|m| !m.is_empty()) else {
            break;
        };
        // A mask ENCAP: the key's tag must be present, and the mask must
        // match the TPID exactly and the CFI bit.
        let ktci = vlan(klevel).unwrap_or(0);
        let exact_tpid = ethertype(mlevel) == Some(0xffff);
        if let Some(t) = vlan(mlevel).filter(|&t| t != 0) {
            mask_tci = t;
        }
        if ktci & VLAN_CFI == 0 || !exact_tpid || mask_tci & VLAN_CFI == 0 {
            return Err(at_depth(
                err(DecodeErrorKind::MaskNotAllowed, OVS_KEY_ATTR_ENCAP),
                depth,
            ));
        }
        let Some(kinner) = encap(klevel) else {
            break;
        };
        if depth >= MAX_ENCAP_DEPTH {
            break;
        }
        klevel = kinner;
        mlevel = minner;
        depth += 1;
    }
    // The mask's ethertype only counts if the mask reached the key's
    // innermost level.
    let mut kdepth = 0;
    let mut k = key;
    while let Some(inner) = encap(k).filter(|_| ethertype(k).is_some_and(is_vlan_tpid)) {
        if kdepth >= MAX_ENCAP_DEPTH {
            break;
        }
        k = inner;
        kdepth += 1;
    }
    if kdepth != depth {
        mfacts.eth_type = None;
        kfacts.eth_type = ethertype(k);
    }
    let allowed = allowed_masks(&kfacts, &mfacts);
    for (d, ty) in seen {
        if GATED.contains(&ty) && allowed & bit(ty) == 0 {
            return Err(at_depth(err(DecodeErrorKind::MaskNotAllowed, ty), d));
        }
    }
    Ok(())
}

/// Which gated mask types the key and mask values permit (the kernel's
/// `mask_allowed`, restricted to [`GATED`]).
fn allowed_masks(k: &Facts, m: &Facts) -> u64 {
    let mut ok = 0;
    let exact_eth = m.eth_type == Some(0xffff);
    let exact_proto = m.proto == Some(0xff);
    let not_later = k.frag.is_some_and(|fr| fr != OVS_FRAG_TYPE_LATER);
    let l4 = |icmp_proto, icmp_attr| {
        if not_later && exact_proto {
            l4_for(k.proto, icmp_proto, icmp_attr)
        } else {
            0
        }
    };
    match k.eth_type {
        Some(ETH_TYPE_ARP) | Some(ETH_TYPE_RARP) if exact_eth => ok |= bit(OVS_KEY_ATTR_ARP),
        Some(ETH_TYPE_MPLS) | Some(ETH_TYPE_MPLS_MCAST) if exact_eth => {
            ok |= bit(OVS_KEY_ATTR_MPLS)
        }
        Some(ETH_TYPE_NSH) if exact_eth => ok |= bit(OVS_KEY_ATTR_NSH),
        Some(ETH_TYPE_IP) => {
            if exact_eth {
                ok |= bit(OVS_KEY_ATTR_IPV4) | bit(OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV4);
            }
            ok |= l4(IPPROTO_ICMP, OVS_KEY_ATTR_ICMP);
        }
        Some(ETH_TYPE_IPV6) => {
            if exact_eth {
                ok |= bit(OVS_KEY_ATTR_IPV6) | bit(OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6);
            }
            ok |= l4(IPPROTO_ICMPV6, OVS_KEY_ATTR_ICMPV6);
            if not_later
                && k.proto == Some(IPPROTO_ICMPV6)
                && k.icmp_type.is_some_and(|t| ND_TYPES.contains(&t))
            {
                ok &= !bit(OVS_KEY_ATTR_CT_ORIG_TUPLE_IPV6);
                if m.icmp_type == Some(0xff) {
                    ok |= bit(OVS_KEY_ATTR_ND);
                }
            }
        }
        _ => {}
    }
    ok
}

/// The kernel's "Geneve option len != mask len": a geneve mask has the
/// length of the key's options.
fn geneve_lengths_agree(mask: &[TunnelAttr], klevel: &[KeyAttr]) -> Result<(), DecodeError> {
    let geneve = |t: &[TunnelAttr]| {
        t.iter().find_map(|x| match x {
            TunnelAttr::GeneveOpts(o) => Some(o.len()),
            _ => None,
        })
    };
    let Some(got) = geneve(mask) else {
        return Ok(());
    };
    let want = klevel
        .iter()
        .find_map(|k| match k {
            KeyAttr::Tunnel(t) => geneve(t),
            _ => None,
        })
        .unwrap_or(0);
    if got != want {
        return Err(err(
            DecodeErrorKind::BadLength { got, want },
            OVS_TUNNEL_KEY_ATTR_GENEVE_OPTS,
        ));
    }
    Ok(())
}
