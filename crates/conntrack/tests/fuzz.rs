use crate::common::*;

fn frame(flags: u8, zone: u8, step: u8, pkt: &[u8]) -> Vec<u8> {
    let mut v = vec![flags, zone, step];
    v.extend_from_slice(&(pkt.len() as u16).to_be_bytes());
    v.extend_from_slice(pkt);
    v
}

/// A seed corpus of real packet sequences, plus mutations of them.
fn seeds() -> Vec<Vec<u8>> {
    let c = [10, 0, 0, 1];
    let s = [10, 0, 0, 2];
    let seqs: Vec<Vec<Vec<u8>>> = vec![
        vec![
            tcp4(c, 1, s, 80, 1, 0, SYN, b""),
            tcp4(s, 80, c, 1, 9, 2, SYN | ACK, b""),
            tcp4(c, 1, s, 80, 2, 10, ACK, b"PORT 10,0,0,1,4,1\r\n"),
            tcp4(s, 80, c, 1, 10, 21, FIN | ACK, b""),
        ],
        vec![
            udp4(c, 5, s, 69, b"\x00\x01f\x00octet\x00"),
            udp4(s, 7, c, 5, b"\x00\x03"),
        ],
        vec![icmp4(c, s, 8, 0, 1, b"x"), icmp4(s, c, 0, 0, 1, b"x")],
        vec![
            ipv4_frag(c, s, 17, &[0u8; 24], None, 0x2000, 5),
            ipv4_frag(c, s, 17, &[0u8; 8], None, 3, 5),
        ],
    ];
    let mut out = Vec::new();
    for (k, seq) in seqs.iter().enumerate() {
        for flags in [0x01u8, 0x21, 0x41, 0x60, 0x1f] {
            let mut v = Vec::new();
            for p in seq {
                v.extend(frame(flags, k as u8, 1, p));
            }
            out.push(v.clone());
            // Mutations: flip bytes, truncate.
            for i in (0..v.len()).step_by(7) {
                let mut m = v.clone();
                m[i] ^= 0x5a;
                out.push(m);
            }
            out.push(v[..v.len() / 2].to_vec());
        }
    }
    out
}

#[test]
fn fuzz_entry_point_over_seeds() {
    for s in seeds() {
        conntrack::fuzzing::packets(&s);
    }
}
