//! The `parse-keys` verb of the conformance corpus (see `CORPUS.md`), whole:
//! for every case line of `keys.in`, `keys-too-long.in` and
//! `keys-nested-encap.in`, the text is parsed ([`parse_match`]), decoded
//! into a flow ([`key_to_flow`]: fitness prefix or error line), re-encoded
//! with parse-keys' support settings ([`flow_to_key`]) and formatted
//! ([`format_key`]); the printed line must equal the `.out` line, and the
//! re-encoded key's netlink bytes the `flowkey=` of the `.hex` line.
//!
//! A second test starts from the `key=` bytes OVS built instead of the
//! text, so that the conversion is checked apart from the text parser.

use odp::convert::{flow_to_key, key_to_flow, KeyParms};
use odp::key::KeyAttr;
use odp::nl::{key, Mode};
use odp::text::key::{format_key, parse_match};
use odp::Fitness;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/conformance/");

fn read_lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(format!("{DIR}{name}"))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .lines()
        .map(str::to_string)
        .collect()
}

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

/// What parse-keys prints for a decoded key, and the canonical key's bytes
/// (`None` on a decoding error).
fn convert(attrs: &[KeyAttr]) -> (String, Option<Vec<u8>>) {
    match key_to_flow(attrs) {
        Err(e) => (format!("odp_flow_key_to_flow: error ({})", e.msg), None),
        Ok((flow, fit)) => {
            let mut line = match fit {
                Fitness::TooLittle => "ODP_FIT_TOO_LITTLE: ".to_string(),
                Fitness::TooMuch => "ODP_FIT_TOO_MUCH: ".to_string(),
                _ => String::new(),
            };
            let canonical = flow_to_key(&flow, &KeyParms::test_odp());
            format_key(&canonical, &mut line);
            // The canonical key decodes to the same flow, with the same fit.
            let (again, fit2) = key_to_flow(&canonical).expect("a canonical key decodes");
            assert_eq!((again, fit2), (flow, fit), "canonical key of {line}");
            (line, Some(emit(&canonical)))
        }
    }
}

/// test-odp's line reader: `None` for a line that is echoed (a comment, or
/// blank once comments are cut), else the case text.
fn case_text(line: &str) -> Option<&str> {
    if line.starts_with('#') {
        return None;
    }
    let case = line.split('#').next().unwrap_or("");
    (!case.trim_matches([' ', '\t']).is_empty()).then_some(case)
}

/// Runs parse-keys over `<stem>.in`; returns the number of case lines.
fn run_text(stem: &str) -> usize {
    let input = read_lines(&format!("{stem}.in"));
    let output = read_lines(&format!("{stem}.out"));
    let hex = read_lines(&format!("{stem}.hex"));
    assert_eq!(input.len(), output.len(), "{stem}: .in and .out misaligned");
    assert_eq!(input.len(), hex.len(), "{stem}: .in and .hex misaligned");
    let mut cases = 0;
    for (i, line) in input.iter().enumerate() {
        let at = format!("{stem}.in:{}", i + 1);
        let Some(case) = case_text(line) else {
            let echo = if line.starts_with('#') {
                line.as_str()
            } else {
                ""
            };
            assert_eq!(output[i], echo, "{at}");
            continue;
        };
        cases += 1;
        let (printed, bytes) = match parse_match(case) {
            Err(e) => (format!("odp_flow_from_string: error ({})", e.msg), None),
            Ok((key, _mask)) => convert(&key),
        };
        assert!(
            printed == output[i],
            "{at}: printed\n{printed:.300}\nOVS\n{:.300}",
            output[i]
        );
        if let Some(bytes) = bytes {
            let want = field(&hex[i], "flowkey").expect("flowkey=");
            assert_eq!(bytes, unhex(want), "{at}: canonical key bytes");
        }
    }
    cases
}

#[test]
fn keys() {
    let n = run_text("keys");
    assert!(n >= 190, "only {n} case lines");
}

#[test]
fn keys_too_long() {
    assert_eq!(run_text("keys-too-long"), 2);
}

#[test]
fn keys_nested_encap() {
    assert_eq!(run_text("keys-nested-encap"), 1);
}

/// The same pipeline from the key bytes OVS's own parser built.
#[test]
fn from_ovs_key_bytes() {
    let mut n = 0;
    for stem in ["keys", "keys-too-long", "keys-nested-encap"] {
        let hex = read_lines(&format!("{stem}.hex"));
        let output = read_lines(&format!("{stem}.out"));
        for (i, h) in hex.iter().enumerate() {
            let Some(k) = field(h, "key") else {
                continue; // comment, blank, or a text parse error
            };
            let at = format!("{stem}.hex:{}", i + 1);
            let (attrs, _) = key::decode_keys(&unhex(k), Mode::Tolerant)
                .unwrap_or_else(|e| panic!("{at}: key does not decode: {e}"));
            let (printed, bytes) = convert(&attrs);
            assert!(
                printed == output[i],
                "{at}: printed\n{printed:.300}\nOVS\n{:.300}",
                output[i]
            );
            let want = field(h, "flowkey").expect("flowkey=");
            match bytes {
                Some(b) => assert_eq!(b, unhex(want), "{at}"),
                None => assert_eq!(want, "error", "{at}"),
            }
            n += 1;
        }
    }
    assert!(n >= 190, "only {n} keys");
}
