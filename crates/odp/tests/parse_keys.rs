//! The `parse-keys` verb of the conformance corpus (see `CORPUS.md`) through
//! [`odp::convert`]: each key OVS parsed (the `key=` buffer of the `.hex`
//! line) is decoded into a flow, which must give the fitness prefix of the
//! `.out` line (or its `odp_flow_key_to_flow: error (...)` line), and
//! re-encoded with parse-keys' support settings, which must give exactly the
//! `flowkey=` bytes.

use odp::convert::{flow_to_key, key_to_flow, KeyParms};
use odp::key::KeyAttr;
use odp::nl::{key, Mode};
use odp::Fitness;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/conformance/");

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex digit"))
        .collect()
}

fn emit(attrs: &[KeyAttr]) -> Vec<u8> {
    let mut w = nl::Writer::new();
    key::emit_keys(attrs, &mut w);
    w.into_bytes()
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|w| w.strip_prefix(name).and_then(|w| w.strip_prefix('=')))
}

const KEY_TO_FLOW_ERROR: &str = "odp_flow_key_to_flow: error (";

/// Runs one parse-keys file; returns how many lines were checked.
fn run(stem: &str) -> usize {
    let hex = std::fs::read_to_string(format!("{DIR}{stem}.hex")).unwrap();
    let out = std::fs::read_to_string(format!("{DIR}{stem}.out")).unwrap();
    let hex: Vec<&str> = hex.lines().collect();
    let out: Vec<&str> = out.lines().collect();
    assert_eq!(hex.len(), out.len(), "{stem}: .hex and .out misaligned");
    let mut checked = 0;
    for (i, (h, o)) in hex.iter().zip(&out).enumerate() {
        let at = format!("{stem}:{}", i + 1);
        let Some(k) = field(h, "key") else {
            continue; // comment, blank, or a text parse error
        };
        let (attrs, _) = key::decode_keys(&unhex(k), Mode::Tolerant)
            .unwrap_or_else(|e| panic!("{at}: key does not decode: {e}"));
        let flowkey = field(h, "flowkey").expect("flowkey field");
        match key_to_flow(&attrs) {
            Err(e) => {
                assert_eq!(flowkey, "error", "{at}: OVS decoded it, we did not: {e}");
                let msg = o
                    .strip_prefix(KEY_TO_FLOW_ERROR)
                    .and_then(|m| m.strip_suffix(')'))
                    .unwrap_or_else(|| panic!("{at}: we failed ({e}), OVS printed {o}"));
                // Our message up to the key text must be OVS's.
                let ours = e.msg.split("; the flow key in error is: ").next().unwrap();
                let theirs = msg.split("; the flow key in error is: ").next().unwrap();
                assert_eq!(ours, theirs, "{at}");
            }
            Ok((flow, fit)) => {
                assert_ne!(flowkey, "error", "{at}: OVS failed ({o}), we did not");
                let want_fit = if o.starts_with("ODP_FIT_TOO_LITTLE: ") {
                    Fitness::TooLittle
                } else if o.starts_with("ODP_FIT_TOO_MUCH: ") {
                    Fitness::TooMuch
                } else {
                    Fitness::Perfect
                };
                assert_eq!(fit, want_fit, "{at}");
                let rekey = flow_to_key(&flow, &KeyParms::test_odp());
                assert_eq!(emit(&rekey), unhex(flowkey), "{at}: re-encoded key");
                // The canonical key decodes to the same flow, as well.
                let (again, fit2) = key_to_flow(&rekey).expect("canonical key decodes");
                assert_eq!(again, flow, "{at}: canonical key decodes differently");
                assert_eq!(fit2, fit, "{at}: canonical key fits differently");
            }
        }
        checked += 1;
    }
    checked
}

#[test]
fn keys() {
    let n = run("keys");
    assert!(n >= 190, "only {n} lines");
}

#[test]
fn keys_too_long() {
    assert_eq!(run("keys-too-long"), 1);
}

#[test]
fn keys_nested_encap() {
    // The only line is a text parse error: nothing reaches key_to_flow.
    assert_eq!(run("keys-nested-encap"), 0);
}
