//! The daemon's fuzz target over its seeds and deterministic mutations of
//! them (byte flips, truncations, splices), so that plain `cargo test`
//! exercises what `cargo fuzz run daemon_requests` explores.

#[test]
fn daemon_requests_over_seeds_and_mutations() {
    let seeds = oxvsd::fuzzing::seeds();
    // fuzz/seed.sh asks for them as a corpus.
    if let Some(dir) = std::env::var_os("OXVS_FUZZ_CORPUS") {
        std::fs::create_dir_all(&dir).unwrap();
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(std::path::Path::new(&dir).join(format!("seed{i}")), s).unwrap();
        }
    }
    for s in &seeds {
        oxvsd::fuzzing::requests(s);
    }
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for _ in 0..3000 {
        let mut s = seeds[next() as usize % seeds.len()].clone();
        match next() % 4 {
            0 => {
                for _ in 0..1 + next() % 4 {
                    let i = next() as usize % s.len().max(1);
                    if let Some(b) = s.get_mut(i) {
                        *b ^= 1 << (next() % 8);
                    }
                }
            }
            1 => s.truncate(next() as usize % (s.len() + 1)),
            2 => {
                let o = &seeds[next() as usize % seeds.len()];
                let cut = next() as usize % (s.len() + 1);
                s.truncate(cut);
                s.extend_from_slice(&o[next() as usize % (o.len() + 1)..]);
            }
            _ => {
                let i = next() as usize % s.len().max(1);
                if i + 2 <= s.len() {
                    let v = (next() % 65536) as u16;
                    s[i..i + 2].copy_from_slice(&v.to_ne_bytes());
                }
            }
        }
        oxvsd::fuzzing::requests(&s);
    }
}
