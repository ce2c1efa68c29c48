//! Flow key text format (`odp::text::key`) against the netlink codec and
//! the conformance corpus: text parses to exactly the bytes OVS built, and
//! the bytes OVS built, decoded, print exactly as OVS printed them.

use odp::key::KeyAttr;
use odp::nl::{key, Mode};
use odp::text::key::{format_key, format_match, parse_match};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/conformance/");

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}{name}")).expect("corpus file")
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex digit"))
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn emit(attrs: &[KeyAttr]) -> Vec<u8> {
    let mut w = nl::Writer::new();
    key::emit_keys(attrs, &mut w);
    w.into_bytes()
}

/// A case line of an `.in` file (OVS's test-line rules), with its index.
fn cases(input: &str) -> Vec<(usize, String)> {
    input
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#'))
        .map(|(i, l)| (i, l.split('#').next().unwrap_or("").to_string()))
        .filter(|(_, l)| !l.chars().all(|c| c == ' ' || c == '\t'))
        .collect()
}

/// `field=<hex>` of a `.hex` line.
fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
}

/// Text → `parse_match` → `emit_keys` gives the `key=`/`mask=` bytes.
fn text_to_bytes(stem: &str) -> usize {
    let hexes = read(&format!("{stem}.hex"));
    let hexes: Vec<&str> = hexes.lines().collect();
    let mut n = 0;
    for (i, case) in cases(&read(&format!("{stem}.in"))) {
        let want = hexes[i];
        match parse_match(&case) {
            Ok((k, m)) => {
                assert_eq!(
                    Some(hex(&emit(&k)).as_str()),
                    field(want, "key"),
                    "{stem}.in:{}",
                    i + 1
                );
                assert_eq!(
                    Some(hex(&emit(&m)).as_str()),
                    field(want, "mask"),
                    "{stem}.in:{}",
                    i + 1
                );
            }
            Err(e) => assert_eq!(want, "error", "{stem}.in:{}: {e}", i + 1),
        }
        n += 1;
    }
    n
}

#[test]
fn text_parses_to_ovs_bytes() {
    for stem in [
        "wc-keys",
        "wc-keys-extra",
        "keys",
        "keys-nested-encap",
        "filter-base",
        "filter-vlan-base",
    ] {
        assert!(text_to_bytes(stem) > 0, "{stem}");
    }
}

/// OVS's bytes → `decode_keys`/`decode_mask` → `format_match` gives OVS's
/// parse-wc-keys output.
fn bytes_to_text(stem: &str, out_file: &str) -> usize {
    let hexes = read(&format!("{stem}.hex"));
    let outs = read(out_file);
    let outs: Vec<&str> = outs.lines().collect();
    let mut n = 0;
    for (i, line) in hexes.lines().enumerate() {
        let (Some(k), Some(m)) = (field(line, "key"), field(line, "mask")) else {
            continue;
        };
        let (key_attrs, _) = key::decode_keys(&unhex(k), Mode::Tolerant).expect("key decodes");
        let mask_attrs =
            key::decode_mask(&unhex(m), &key_attrs, Mode::Tolerant).expect("mask decodes");
        let mut text = String::new();
        format_match(&key_attrs, Some(&mask_attrs), false, &mut text);
        assert_eq!(text, outs[i], "{stem}.hex:{}", i + 1);
        n += 1;
    }
    n
}

#[test]
fn ovs_bytes_format_as_ovs_prints() {
    assert!(bytes_to_text("wc-keys", "wc-keys.out") > 0);
    assert!(bytes_to_text("wc-keys-extra", "wc-keys-extra.out") > 0);
    assert!(bytes_to_text("keys", "keys.wc.out") > 0);
}

/// The canonical keys OVS re-encoded (`flowkey=`) print as `keys.out`.
#[test]
fn canonical_key_bytes_format_as_keys_out() {
    let hexes = read("keys.hex");
    let outs = read("keys.out");
    let outs: Vec<&str> = outs.lines().collect();
    let mut n = 0;
    for (i, line) in hexes.lines().enumerate() {
        let Some(fk) = field(line, "flowkey") else {
            continue;
        };
        let (attrs, _) = key::decode_keys(&unhex(fk), Mode::Tolerant).expect("flowkey decodes");
        let mut text = String::new();
        format_key(&attrs, &mut text);
        let want = outs[i]
            .strip_prefix("ODP_FIT_TOO_LITTLE: ")
            .or_else(|| outs[i].strip_prefix("ODP_FIT_TOO_MUCH: "))
            .unwrap_or(outs[i]);
        assert_eq!(text, want, "keys.hex:{}", i + 1);
        n += 1;
    }
    assert!(n > 100);
}
