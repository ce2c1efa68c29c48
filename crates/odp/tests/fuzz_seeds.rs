//! Runs the fuzz targets' functions (`odp::fuzzing`) over a seed corpus
//! under plain `cargo test`: every case line and every netlink buffer of the
//! conformance corpus, plus deterministic mutations of them (truncations,
//! bit flips), so that stable CI exercises the same properties as the fuzzer.

use std::path::PathBuf;

fn data(name: &str) -> String {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/conformance")
        .join(name);
    std::fs::read_to_string(p).unwrap()
}

fn cases(name: &str) -> Vec<String> {
    data(name)
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#') && l.len() < 4096)
        .map(str::to_owned)
        .collect()
}

fn hex_buffers(name: &str, keys: &[&str]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for line in cases(name) {
        for word in line.split_whitespace() {
            if let Some((k, v)) = word.split_once('=') {
                if keys.contains(&k) && v != "error" {
                    out.push(hex(v));
                }
            }
        }
    }
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// The seed itself, every prefix (for short seeds) and a few bit flips.
fn mutations(seed: &[u8], rng: &mut Rng) -> Vec<Vec<u8>> {
    let mut out = vec![seed.to_vec()];
    if seed.len() <= 256 {
        out.extend((0..seed.len()).map(|n| seed[..n].to_vec()));
    }
    for _ in 0..8 {
        if seed.is_empty() {
            break;
        }
        let mut m = seed.to_vec();
        let i = (rng.next() as usize) % m.len();
        m[i] ^= 1 << (rng.next() % 8);
        out.push(m);
    }
    out
}

#[test]
fn nl_key_seeds() {
    let mut rng = Rng(0x9e3779b97f4a7c15);
    let mut n = 0;
    for f in [
        "keys.hex",
        "wc-keys.hex",
        "wc-keys-extra.hex",
        "filter-base.hex",
        "filter-vlan-base.hex",
    ] {
        for buf in hex_buffers(f, &["key", "mask", "flowkey"]) {
            for m in mutations(&buf, &mut rng) {
                odp::fuzzing::nl_key(&m);
                n += 1;
            }
        }
    }
    assert!(n > 1000, "only {n} inputs");
}

#[test]
fn nl_actions_seeds() {
    let mut rng = Rng(0x2545f4914f6cdd1d);
    let mut n = 0;
    for buf in hex_buffers("actions.hex", &["actions"]) {
        for m in mutations(&buf, &mut rng) {
            odp::fuzzing::nl_actions(&m);
            n += 1;
        }
    }
    assert!(n > 1000, "only {n} inputs");
}

#[test]
fn text_key_seeds() {
    let mut rng = Rng(0xdeadbeefcafef00d);
    let mut n = 0;
    for f in [
        "keys.in",
        "wc-keys.in",
        "wc-keys-extra.in",
        "filter-base.in",
        "filter-vlan-base.in",
    ] {
        for line in cases(f) {
            for m in mutations(line.as_bytes(), &mut rng) {
                odp::fuzzing::text_key(&m);
                n += 1;
            }
        }
    }
    assert!(n > 1000, "only {n} inputs");
}

#[test]
fn text_actions_seeds() {
    let mut rng = Rng(0x0123456789abcdef);
    let mut n = 0;
    for f in ["actions.in", "actions-invalid.in"] {
        for line in cases(f) {
            for m in mutations(line.as_bytes(), &mut rng) {
                odp::fuzzing::text_actions(&m);
                n += 1;
            }
        }
    }
    assert!(n > 1000, "only {n} inputs");
}

#[test]
fn flow_extract_seeds() {
    // Packets composed from the flows of the conformance keys, then mutated.
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut n = 0;
    for line in cases("keys.in") {
        let Ok((key, _)) = odp::text::key::parse_match(&line) else {
            continue;
        };
        let Ok((flow, _)) = odp::convert::key_to_flow(&key) else {
            continue;
        };
        let packet = odp::compose::compose(&flow, 8);
        for m in mutations(&packet, &mut rng) {
            odp::fuzzing::flow_extract(&m);
            n += 1;
        }
    }
    assert!(n > 1000, "only {n} inputs");
}

/// Inputs that once broke a fuzz target, kept as regression tests:
/// `tests/data/regress/<target>-<what>.*`.
#[test]
fn regressions() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/regress");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let data = std::fs::read(&path).unwrap();
        let target = name.split('-').next().unwrap();
        match target {
            "text_key" => odp::fuzzing::text_key(&data),
            "text_actions" => odp::fuzzing::text_actions(&data),
            "nl_key" => odp::fuzzing::nl_key(&data),
            "nl_actions" => odp::fuzzing::nl_actions(&data),
            "flow_extract" => odp::fuzzing::flow_extract(&data),
            other => panic!("regression file {name} names no fuzz target ({other})"),
        }
        n += 1;
    }
    assert!(n >= 1);
}
