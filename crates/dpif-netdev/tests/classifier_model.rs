//! Differential test: the classifier against a naive model (a list of
//! (key, mask, value) scanned linearly), over random sequences of inserts,
//! removals, lookups, batch lookups and re-rankings.
//!
//! The model knows nothing of the classifier's packing or hashing: it works
//! on [`Small`], a handful of fields spread over the whole [`Flow`] (metadata,
//! L2, L3, L4, NSH, tunnel, Geneve options), compared field by field. Values
//! come from small ranges so that flows often match entries and masks
//! repeat. Entries that would overlap an existing one are not inserted
//! (megaflows never overlap), so every lookup has at most one answer.

use dpif_netdev::classifier::Classifier;
use dpif_netdev::flowkey::FlowKey;
use odp::flow::Flow;
use proptest::prelude::*;

const NF: usize = 12;

/// The fields the test varies, each widened to u128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Small([u128; NF]);

impl Small {
    fn to_flow(self) -> Flow {
        let v = self.0;
        let mut f = Flow {
            in_port: v[0] as u32,
            recirc_id: v[1] as u32,
            ct_label: v[2],
            dl_type: v[4] as u16,
            nw_src: v[5] as u32,
            ipv6_dst: v[6],
            tp_dst: v[7] as u16,
            ..Flow::default()
        };
        f.dl_src[5] = v[3] as u8;
        f.nsh.context[2] = v[8] as u32;
        f.tunnel.tun_id = v[9] as u64;
        f.tunnel.metadata.opts[200] = v[10] as u8;
        f.mpls_lse[2] = v[11] as u32;
        f
    }

    fn and(self, m: Small) -> Small {
        let mut r = self;
        for (a, b) in r.0.iter_mut().zip(m.0) {
            *a &= b;
        }
        r
    }
}

/// Bit width of each field of [`Small`].
const WIDTH: [u32; NF] = [32, 32, 128, 8, 16, 32, 128, 16, 32, 64, 8, 32];

fn all_ones(i: usize) -> u128 {
    if WIDTH[i] == 128 {
        u128::MAX
    } else {
        (1u128 << WIDTH[i]) - 1
    }
}

/// A field value: a few low bits, sometimes with a high bit set.
fn field_value(i: usize) -> impl Strategy<Value = u128> {
    let top = 1u128 << (WIDTH[i] - 1);
    (0u128..6, any::<bool>()).prop_map(move |(x, hi)| if hi { x | top } else { x })
}

fn small() -> impl Strategy<Value = Small> {
    let fields: Vec<_> = (0..NF).map(field_value).collect();
    fields.prop_map(|v| Small(v.try_into().unwrap()))
}

/// A mask: each field ignored, exact, or matching some low bits (plus the
/// top bit sometimes).
fn mask() -> impl Strategy<Value = Small> {
    let fields: Vec<_> = (0..NF)
        .map(|i| {
            prop_oneof![
                3 => Just(0u128),
                2 => Just(all_ones(i)),
                1 => (0u128..8, any::<bool>())
                    .prop_map(move |(x, hi)| x | if hi { 1 << (WIDTH[i] - 1) } else { 0 }),
            ]
        })
        .collect();
    fields.prop_map(|v| Small(v.try_into().unwrap()))
}

#[derive(Debug, Clone)]
enum Op {
    /// Insert (key, palette mask index).
    Insert(Small, usize),
    /// Remove the n-th model entry (mod len), given with the masked-out
    /// bits of its key replaced by the noise.
    RemoveExisting(usize, Small),
    /// Remove an arbitrary (key, palette mask index).
    Remove(Small, usize),
    Lookup(Small),
    /// Lookup of a batch of flows: some derived from existing entries.
    Batch(Vec<(Option<usize>, Small)>),
    Sort,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (small(), 0usize..8).prop_map(|(k, m)| Op::Insert(k, m)),
        2 => (any::<usize>(), small()).prop_map(|(i, n)| Op::RemoveExisting(i, n)),
        1 => (small(), 0usize..8).prop_map(|(k, m)| Op::Remove(k, m)),
        4 => small().prop_map(Op::Lookup),
        2 => prop::collection::vec((prop::option::of(any::<usize>()), small()), 0..70)
            .prop_map(Op::Batch),
        1 => Just(Op::Sort),
    ]
}

struct Model {
    entries: Vec<(Small, Small, u32)>,
}

impl Model {
    fn find_same(&self, k: Small, m: Small) -> Option<usize> {
        self.entries
            .iter()
            .position(|&(ek, em, _)| em == m && ek.and(m) == k.and(m))
    }

    fn overlaps(&self, k: Small, m: Small) -> bool {
        self.entries
            .iter()
            .any(|&(ek, em, _)| (0..NF).all(|i| (ek.0[i] ^ k.0[i]) & em.0[i] & m.0[i] == 0))
    }

    fn lookup(&self, f: Small) -> Option<u32> {
        let mut hits = self
            .entries
            .iter()
            .filter(|&&(k, m, _)| f.and(m) == k.and(m))
            .map(|&(_, _, v)| v);
        let first = hits.next();
        assert_eq!(hits.next(), None, "model entries overlap");
        first
    }

    fn n_masks(&self) -> usize {
        let mut masks: Vec<[u128; NF]> = self.entries.iter().map(|e| e.1 .0).collect();
        masks.sort();
        masks.dedup();
        masks.len()
    }

    /// A flow matching entry `i` (its masked-out bits from `noise`).
    fn flow_for(&self, i: usize, noise: Small) -> Small {
        let (k, m, _) = self.entries[i % self.entries.len()];
        let mut f = k.and(m);
        for j in 0..NF {
            f.0[j] |= noise.0[j] & !m.0[j];
        }
        f
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn classifier_matches_model(
        palette in prop::collection::vec(mask(), 8),
        ops in prop::collection::vec(op(), 1..120),
    ) {
        let mut c: Classifier<u32> = Classifier::new();
        let mut model = Model { entries: Vec::new() };
        let mut next_value = 0u32;
        for op in ops {
            match op {
                Op::Insert(k, mi) => {
                    let m = palette[mi];
                    next_value += 1;
                    let v = next_value;
                    if model.find_same(k, m).is_some() {
                        prop_assert_eq!(c.insert(&k.to_flow(), &m.to_flow(), v), Err(v));
                    } else if !model.overlaps(k, m) {
                        prop_assert_eq!(c.insert(&k.to_flow(), &m.to_flow(), v), Ok(()));
                        model.entries.push((k, m, v));
                    }
                }
                Op::RemoveExisting(i, noise) => {
                    if model.entries.is_empty() {
                        continue;
                    }
                    let i = i % model.entries.len();
                    let (_, m, v) = model.entries[i];
                    let k = model.flow_for(i, noise);
                    prop_assert_eq!(c.remove(&k.to_flow(), &m.to_flow()), Some(v));
                    model.entries.remove(i);
                    prop_assert_eq!(c.remove(&k.to_flow(), &m.to_flow()), None);
                }
                Op::Remove(k, mi) => {
                    let m = palette[mi];
                    let want = model.find_same(k, m).map(|i| model.entries.remove(i).2);
                    prop_assert_eq!(c.remove(&k.to_flow(), &m.to_flow()), want);
                }
                Op::Lookup(f) => {
                    prop_assert_eq!(c.lookup(&f.to_flow()).copied(), model.lookup(f));
                }
                Op::Batch(items) => {
                    let smalls: Vec<Small> = items
                        .iter()
                        .map(|&(pick, noise)| match pick {
                            Some(i) if !model.entries.is_empty() => model.flow_for(i, noise),
                            _ => noise,
                        })
                        .collect();
                    let flows: Vec<Flow> = smalls.iter().map(|s| s.to_flow()).collect();
                    let mut out = vec![None; flows.len()];
                    let stats = c.lookup_batch(&flows, &mut out);
                    let mut hits = 0;
                    for (s, o) in smalls.iter().zip(&out) {
                        let want = model.lookup(*s);
                        hits += u64::from(want.is_some());
                        prop_assert_eq!(o.copied(), want);
                    }
                    prop_assert_eq!(stats.hits, hits);
                    prop_assert!(stats.masks_visited >= hits);
                    prop_assert!(stats.masks_visited <= hits * c.n_masks() as u64);
                    // The packed-key batch gives the same answers.
                    let keys: Vec<FlowKey> = flows.iter().map(FlowKey::new).collect();
                    let refs: Vec<&FlowKey> = keys.iter().collect();
                    let mut out2 = vec![None; refs.len()];
                    prop_assert_eq!(c.lookup_batch_keys(&refs, &mut out2), stats);
                    prop_assert_eq!(out2, out);
                }
                Op::Sort => c.sort_subtables(),
            }
            prop_assert_eq!(c.len(), model.entries.len());
            prop_assert_eq!(c.n_masks(), model.n_masks());
        }
        // Every remaining entry is found by its own key and listed by iter().
        for (i, &(_, m, v)) in model.entries.iter().enumerate() {
            let k = model.flow_for(i, Small([0; NF]));
            prop_assert_eq!(c.lookup(&k.to_flow()).copied(), Some(v));
            prop_assert_eq!(c.get(&FlowKey::new(&k.to_flow()), &FlowKey::new(&m.to_flow())).copied(), Some(v));
        }
        let mut listed: Vec<u32> = c.iter().map(|(_, _, &v)| v).collect();
        listed.sort();
        let mut want: Vec<u32> = model.entries.iter().map(|e| e.2).collect();
        want.sort();
        prop_assert_eq!(listed, want);
    }
}
