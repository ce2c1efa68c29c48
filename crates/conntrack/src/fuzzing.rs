//! Entry points for the fuzz targets (`fuzz/`) and the seed-corpus test.
//!
//! [`packets`] feeds a sequence of arbitrary packets through one tracker
//! with a fake clock and checks invariants after each: no panic, a
//! `ct_state` the kernel could give (tracked; invalid alone; new and
//! established exclusive; reply only with established or related), a
//! packet that was not NATed, resized by a helper or reassembled keeps
//! its length, and the connection count stays within the maximum.

use odp::flow::Flow;

use crate::state::*;
use crate::{Config, Conntrack, CtAction, Verdict};

/// Runs the byte string as a sequence of packets: each packet is
/// `[flags, zone, time_step, len_hi, len_lo, bytes...]`.
pub fn packets(data: &[u8]) {
    let ct = Conntrack::new(Config {
        max_conns: 64,
        checksum: false,
        ..Config::default()
    });
    let mut now = 1_000u64;
    let mut i = 0;
    let mut steps = 0;
    while i + 5 <= data.len() && steps < 256 {
        steps += 1;
        let flags = data[i];
        let zone = u16::from(data[i + 1] & 3);
        now += u64::from(data[i + 2]) * 100;
        let len = usize::from(u16::from_be_bytes([data[i + 3], data[i + 4]]));
        i += 5;
        let end = (i + len).min(data.len());
        let mut pkt = data[i..end].to_vec();
        i = end;
        let nat = match flags >> 5 {
            1 => Some(crate::NatAction {
                kind: Some(crate::nat::Manip::Src),
                range: crate::nat::NatRange {
                    map_ips: true,
                    min_addr: 0x0a00_00fe,
                    max_addr: 0x0a00_00ff,
                    ..Default::default()
                },
            }),
            2 => Some(crate::NatAction {
                kind: Some(crate::nat::Manip::Dst),
                range: crate::nat::NatRange {
                    map_ips: true,
                    min_addr: 0x0a00_0101,
                    max_addr: 0x0a00_0101,
                    proto_specified: true,
                    min_port: 80,
                    max_port: 81,
                    ..Default::default()
                },
            }),
            3 => Some(crate::NatAction {
                kind: None,
                range: Default::default(),
            }),
            _ => None,
        };
        let commit = flags & 1 != 0 || nat.as_ref().is_some_and(|n| n.kind.is_some());
        let act = CtAction {
            commit,
            force: flags & 2 != 0 && commit,
            zone,
            mark: (flags & 4 != 0 && commit).then_some((7, 0xff)),
            labels: (flags & 8 != 0 && commit).then_some((1 << 100, 1 << 100)),
            nat,
            helper: if flags & 16 != 0 {
                Some(crate::helper::Helper::Ftp)
            } else {
                None
            },
            timeout: None,
        };
        let mut md = Flow::default();
        let before = pkt.len();
        let r = ct.execute(&mut pkt, &mut md, &act, zone, now);
        if r.verdict == Verdict::Continue {
            check_state(md.ct_state);
            let natted = md.ct_state & CS_NAT_MASK != 0;
            if !natted && r.mru == 0 && act.helper.is_none() {
                assert_eq!(pkt.len(), before, "packet length changed");
            }
        }
        assert!(ct.n_conns() <= 64, "connection maximum exceeded");
        if steps % 16 == 0 {
            ct.sweep(now, 64);
        }
    }
    let _ = ct.dump_text(None, true, true, now);
    let d = ct.ct_dump(None, now);
    let _ = dpif::ct::format::stats(&d.entries, true);
    let _ = dpif::ct::format::bkts(&d, 0);
}

fn check_state(s: u8) {
    assert!(s & CS_TRACKED != 0, "untracked after ct: {s:#x}");
    if s & CS_INVALID != 0 {
        assert_eq!(
            s,
            CS_TRACKED | CS_INVALID,
            "invalid with other bits: {s:#x}"
        );
        return;
    }
    assert!(
        s & CS_NEW == 0 || s & CS_ESTABLISHED == 0,
        "new and established: {s:#x}"
    );
    assert!(
        s & (CS_NEW | CS_ESTABLISHED | CS_RELATED) != 0,
        "no connection state: {s:#x}"
    );
    if s & CS_REPLY_DIR != 0 {
        assert!(
            s & (CS_ESTABLISHED | CS_RELATED) != 0,
            "reply without established or related: {s:#x}"
        );
    }
}
