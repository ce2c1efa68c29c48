//! Netlink flow key codec (`odp::nl::key`) against the conformance corpus:
//! every `key=`, `mask=` and `flowkey=` buffer OVS built must decode and
//! re-emit to the same bytes.

use odp::key::KeyAttr;
use odp::nl::{key, Mode};
use odp::{DecodeError, Fitness};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/conformance/");

const FILES: [&str; 7] = [
    "keys.hex",
    "wc-keys.hex",
    "wc-keys-extra.hex",
    "filter-base.hex",
    "filter-vlan-base.hex",
    "keys-too-long.hex",
    "keys-nested-encap.hex",
];

fn unhex(s: &str) -> Vec<u8> {
    assert_eq!(s.len() & 1, 0, "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digit"))
        .collect()
}

fn emit(attrs: &[KeyAttr]) -> Vec<u8> {
    let mut w = nl::Writer::new();
    key::emit_keys(attrs, &mut w);
    assert!(!w.overflowed());
    w.into_bytes()
}

/// One buffer of the corpus.
struct Case {
    file: &'static str,
    line: usize,
    field: &'static str,
    bytes: Vec<u8>,
}

fn cases() -> Vec<(Case, Option<Case>)> {
    let mut out = Vec::new();
    for file in FILES {
        let text = std::fs::read_to_string(format!("{DIR}{file}")).expect("corpus file");
        for (i, line) in text.lines().enumerate() {
            let field = |name: &'static str| {
                line.split(' ')
                    .find_map(|w| w.strip_prefix(name).and_then(|w| w.strip_prefix('=')))
                    .filter(|v| *v != "error")
                    .map(|v| Case {
                        file,
                        line: i + 1,
                        field: name,
                        bytes: unhex(v),
                    })
            };
            if let Some(k) = field("key") {
                let m = field("mask");
                out.push((k, m));
            }
            if let Some(f) = field("flowkey") {
                out.push((f, None));
            }
        }
    }
    out
}

/// Decodes strictly, falling back to tolerant; returns the attributes and
/// the strict error if there was one.
fn decode(c: &Case) -> (Vec<KeyAttr>, Option<DecodeError>) {
    match key::decode_keys(&c.bytes, Mode::Strict) {
        Ok((attrs, fit)) => {
            assert_eq!(fit, Fitness::Perfect, "{}:{} {}", c.file, c.line, c.field);
            (attrs, None)
        }
        Err(e) => {
            let (attrs, _) = key::decode_keys(&c.bytes, Mode::Tolerant)
                .unwrap_or_else(|e2| panic!("{}:{} {}: {e2}", c.file, c.line, c.field));
            (attrs, Some(e))
        }
    }
}

#[test]
fn corpus_round_trips_bit_exact() {
    let mut n = 0;
    let mut strict_failures = Vec::new();
    for (k, m) in cases() {
        let (kattrs, kerr) = decode(&k);
        assert_eq!(emit(&kattrs), k.bytes, "{}:{} {}", k.file, k.line, k.field);
        n += 1;
        if let Some(e) = kerr {
            strict_failures.push(format!("{}:{} {}: {e}", k.file, k.line, k.field));
        }
        if let Some(m) = m {
            let mattrs = match key::decode_mask(&m.bytes, &kattrs, Mode::Strict) {
                Ok(a) => a,
                Err(e) => {
                    strict_failures.push(format!("{}:{} mask: {e}", m.file, m.line));
                    key::decode_mask(&m.bytes, &kattrs, Mode::Tolerant)
                        .unwrap_or_else(|e| panic!("{}:{} mask: {e}", m.file, m.line))
                }
            };
            assert_eq!(emit(&mattrs), m.bytes, "{}:{} mask", m.file, m.line);
            n += 1;
        }
    }
    for f in &strict_failures {
        println!("strict rejects {f}");
    }
    println!(
        "{n} buffers round-tripped, {} rejected by strict mode",
        strict_failures.len()
    );
    assert!(n > 900, "only {n} buffers");
}
