//! The tracker against a model: UDP connections are a map from
//! (tuple, zone) to an expiry time; commits, lookups, time passing,
//! sweeps and flushes must agree with it.

use std::collections::HashMap;

use conntrack::{Conntrack, CtAction};
use dpif::ct::CtFlush as Flush;
use proptest::prelude::*;

use crate::common::*;
use crate::cs::*;

#[derive(Debug, Clone)]
enum Op {
    Commit(u8, u8),
    Lookup(u8, u8),
    Wait(u32),
    Sweep,
    FlushZone(u8),
    FlushAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6, 0u8..2).prop_map(|(p, z)| Op::Commit(p, z)),
        (0u8..6, 0u8..2).prop_map(|(p, z)| Op::Lookup(p, z)),
        (0u32..20_000).prop_map(Op::Wait),
        Just(Op::Sweep),
        (0u8..2).prop_map(Op::FlushZone),
        Just(Op::FlushAll),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn table_matches_model(ops in proptest::collection::vec(op(), 1..60)) {
        check(ops)?;
    }
}

/// A connection that expires exactly on a second boundary survives the
/// sweeps of that second and is gone after the next one.
#[test]
fn expired_within_the_second_goes_at_a_later_sweep() {
    let ops = vec![
        Op::Commit(0, 0),
        Op::Wait(30_000),
        Op::Sweep,
        Op::Sweep,
        Op::Wait(1_000),
        Op::Sweep,
    ];
    check(ops).unwrap();
    let ops = vec![
        Op::Commit(0, 0),
        Op::Commit(0, 0),
        Op::Wait(29_999),
        Op::Wait(1),
        Op::Sweep,
        Op::Commit(0, 0),
        Op::Sweep,
    ];
    check(ops).unwrap();
}

fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    {
        let ct = Conntrack::default();
        let mut model: HashMap<(u8, u8), u64> = HashMap::new();
        // Expired connections a sweep may not have removed yet: the
        // sweep removes what expired before the current second only.
        let mut pending: Vec<((u8, u8), u64)> = Vec::new();
        let mut now = 10_000u64;
        for o in ops {
            match o {
                Op::Commit(p, z) | Op::Lookup(p, z) => {
                    let commit = matches!(o, Op::Commit(..));
                    let a = CtAction {
                        commit,
                        ..Default::default()
                    };
                    let mut pkt = udp4([10, 0, 0, 1], 1000 + u16::from(p), [10, 0, 0, 2], 53, b"");
                    let mut m = md();
                    ct.execute(&mut pkt, &mut m, &a, u16::from(z), now);
                    let live = model.get(&(p, z)).is_some_and(|&e| e > now);
                    let want = TRK | NEW;
                    prop_assert_eq!(m.ct_state, want, "live={}", live);
                    if commit || live {
                        if let Some(old) = model.insert((p, z), now + 30_000) {
                            if old <= now {
                                pending.push(((p, z), old));
                            }
                        }
                    }
                }
                Op::Wait(ms) => now += u64::from(ms),
                Op::Sweep => {
                    ct.sweep(now, usize::MAX);
                    // The sweep removes what expired before the current
                    // second; what expired within it is invisible to
                    // lookups and goes at a later second's sweep.
                    let sec = now / 1000 * 1000;
                    pending.extend(
                        model
                            .iter()
                            .filter(|(_, &e)| e <= now)
                            .map(|(&k, &e)| (k, e)),
                    );
                    model.retain(|_, e| *e > now);
                    pending.retain(|&(_, e)| e >= sec);
                    let n = ct.n_conns() as usize;
                    prop_assert!(
                        n >= model.len() && n <= model.len() + pending.len(),
                        "{} {} {}",
                        n,
                        model.len(),
                        pending.len()
                    );
                }
                Op::FlushZone(z) => {
                    ct.flush(&Flush {
                        zone: Some(u16::from(z)),
                        ..Default::default()
                    });
                    model.retain(|k, _| k.1 != z);
                    pending.retain(|(k, _)| k.1 != z);
                }
                Op::FlushAll => {
                    ct.flush(&Flush::default());
                    model.clear();
                    pending.clear();
                }
            }
            let live = model.values().filter(|&&e| e > now).count();
            prop_assert_eq!(ct.dump(None, now).len(), live);
        }
    }

    Ok(())
}
