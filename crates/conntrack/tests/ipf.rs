use conntrack::ipf::{refragment, IpfConfig};
use conntrack::{Config, Conntrack, CtAction, Verdict};

use crate::common::*;
use crate::cs::*;

const C: [u8; 4] = [10, 1, 1, 1];
const S: [u8; 4] = [10, 1, 1, 2];

fn commit() -> CtAction {
    CtAction {
        commit: true,
        ..Default::default()
    }
}

/// A UDP datagram of `len` payload bytes cut into IPv4 fragments of
/// `size` payload bytes (a multiple of 8), as a host would send them.
fn frags4(len: usize, size: usize, id: u16) -> (Vec<u8>, Vec<Vec<u8>>) {
    let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let whole = udp4(C, 4000, S, 5000, &payload);
    let l4 = whole[34..].to_vec();
    let mut out = Vec::new();
    let mut off = 0;
    while off < l4.len() {
        let n = size.min(l4.len() - off);
        let mf = if off + n < l4.len() { 0x2000 } else { 0 };
        out.push(ipv4_frag(
            C,
            S,
            17,
            &l4[off..off + n],
            None,
            mf | (off / 8) as u16,
            id,
        ));
        off += n;
    }
    (whole, out)
}

#[test]
fn ipv4_out_of_order_reassembled_tracked_and_refragmented() {
    let ct = Conntrack::default();
    let (whole, frags) = frags4(3000, 1480, 77);
    assert_eq!(frags.len(), 3);
    let order = [2, 0, 1];
    let mut last = None;
    for (k, &i) in order.iter().enumerate() {
        let mut p = frags[i].clone();
        let mut m = md();
        m.nw_frag = 1;
        let r = ct.execute(&mut p, &mut m, &commit(), 0, 0);
        if k < 2 {
            assert_eq!(r.verdict, Verdict::Stolen);
        } else {
            assert_eq!(r.verdict, Verdict::Continue);
            assert_eq!(m.ct_state, TRK | NEW);
            assert_eq!(r.mru as usize, 1500);
            last = Some((p, r.mru));
        }
    }
    let (p, mru) = last.unwrap();
    // The reassembled datagram is the original one, id and all.
    assert_eq!(p, ipv4_frag(C, S, 17, &whole[34..], None, 0, 77));
    assert!(checksums_ok(&p));
    let mut out = Vec::new();
    assert!(refragment(&p, 14, false, mru, 0, |f| out.push(f.to_vec())));
    assert_eq!(out, frags, "refragmented at the original sizes");
    let st = ct.ipf().status();
    assert_eq!(st.v4.nfrag_accepted, 3, "accepted");
    assert_eq!(st.v4.nfrag_completed_sent, 3, "completed");
    assert_eq!(st.nfrag, 0);
}

#[test]
fn ipv4_overlap_discards_the_datagram() {
    let ct = Conntrack::default();
    let (_, frags) = frags4(3000, 1480, 78);
    let mut p = frags[0].clone();
    assert_eq!(
        ct.execute(&mut p, &mut md(), &commit(), 0, 0).verdict,
        Verdict::Stolen
    );
    // A fragment at offset 1472 overlaps the first (0..1480).
    let l4 = vec![0u8; 16];
    let mut bad = ipv4_frag(C, S, 17, &l4, None, 0x2000 | 184, 78);
    assert_eq!(
        ct.execute(&mut bad, &mut md(), &commit(), 0, 0).verdict,
        Verdict::Drop
    );
    assert_eq!(ct.ipf().status().v4.nfrag_overlap, 2, "overlapped");
    // The rest no longer completes anything.
    for f in &frags[1..] {
        let mut p = f.clone();
        assert_eq!(
            ct.execute(&mut p, &mut md(), &commit(), 0, 0).verdict,
            Verdict::Stolen
        );
    }
}

#[test]
fn duplicate_fragment_is_dropped_alone() {
    let ct = Conntrack::default();
    let (_, frags) = frags4(2000, 1480, 79);
    let mut p = frags[0].clone();
    ct.execute(&mut p, &mut md(), &commit(), 0, 0);
    let mut p = frags[0].clone();
    assert_eq!(
        ct.execute(&mut p, &mut md(), &commit(), 0, 0).verdict,
        Verdict::Drop
    );
    let mut p = frags[1].clone();
    assert_eq!(
        ct.execute(&mut p, &mut md(), &commit(), 0, 0).verdict,
        Verdict::Continue
    );
}

#[test]
fn too_many_fragments_and_too_small() {
    let ct = Conntrack::new(Config {
        ipf: IpfConfig {
            max_frags_per_datagram: 4,
            min_frag_size_v4: 400,
            ..IpfConfig::default()
        },
        ..Config::default()
    });
    let (_, frags) = frags4(3000, 400, 80);
    let mut verdicts = Vec::new();
    for f in &frags {
        let mut p = f.clone();
        verdicts.push(ct.execute(&mut p, &mut md(), &commit(), 0, 0).verdict);
    }
    assert_eq!(
        &verdicts[..5],
        &[
            Verdict::Stolen,
            Verdict::Stolen,
            Verdict::Stolen,
            Verdict::Stolen,
            Verdict::Drop
        ]
    );
    assert_eq!(ct.ipf().status().v4.nfrag_purged, 5, "purged");
    let (_, small) = frags4(1000, 96, 81);
    let mut p = small[0].clone();
    assert_eq!(
        ct.execute(&mut p, &mut md(), &commit(), 0, 0).verdict,
        Verdict::Drop
    );
    assert_eq!(ct.ipf().status().v4.nfrag_too_small, 1, "too small");
}

#[test]
fn incomplete_datagram_expires() {
    let ct = Conntrack::default();
    let (_, frags) = frags4(3000, 1480, 82);
    let mut p = frags[0].clone();
    ct.execute(&mut p, &mut md(), &commit(), 0, 1000);
    assert_eq!(ct.ipf().status().nfrag, 1);
    ct.sweep(1000 + 29_000, 100);
    assert_eq!(ct.ipf().status().nfrag, 1);
    ct.sweep(1000 + 30_000, 100);
    let st = ct.ipf().status();
    assert_eq!((st.nfrag, st.v4.nfrag_expired_sent), (0, 1));
    assert!(dpif::ct::format::ipf_status(&st).contains("        v4 frags expired: 1\n"));
}

#[test]
fn ipv6_fragments() {
    let ct = Conntrack::default();
    let c6: u128 = 0xfd00 << 112 | 1;
    let s6: u128 = 0xfd00 << 112 | 2;
    let payload: Vec<u8> = (0..2000).map(|i| i as u8).collect();
    let whole = udp6(c6, 1, s6, 2, &payload);
    let l4 = whole[54..].to_vec();
    let mut frags = Vec::new();
    let mut off = 0;
    while off < l4.len() {
        let n = 1232.min(l4.len() - off);
        let more = off + n < l4.len();
        let mut fh = vec![17, 0];
        fh.extend_from_slice(&(((off / 8) as u16) << 3 | u16::from(more)).to_be_bytes());
        fh.extend_from_slice(&0xabcdu32.to_be_bytes());
        fh.extend_from_slice(&l4[off..off + n]);
        frags.push(ipv6(c6, s6, 44, &fh, None));
        off += n;
    }
    let mut p = frags[1].clone();
    assert_eq!(
        ct.execute(&mut p, &mut md(), &commit(), 0, 0).verdict,
        Verdict::Stolen
    );
    let mut p = frags[0].clone();
    let mut m = md();
    let r = ct.execute(&mut p, &mut m, &commit(), 0, 0);
    assert_eq!(r.verdict, Verdict::Continue);
    assert_eq!(m.ct_state, TRK | NEW);
    assert_eq!(p, whole);
    let mut out = Vec::new();
    assert!(refragment(&p, 14, true, r.mru, 0xabcd, |f| out.push(f.to_vec())));
    assert_eq!(out, frags);
}
