//! The `parse-filter` verb of the conformance corpus (see `CORPUS.md`):
//! each row of `filters.tsv` runs a filter over an input file, and must give
//! exactly the lines of its `filter-NN.out`.
//!
//! Each case line is parsed as parse-wc-keys does ([`parse_match`]), and a
//! matching line is printed with [`format_match`]. A second test takes the
//! key and mask from the buffers OVS built instead (the `key=` and `mask=`
//! of the input's `.hex` line), so that the filter is checked apart from
//! the text parser.

use odp::key::KeyAttr;
use odp::nl::{key, Mode};
use odp::text::filter::Filter;
use odp::text::key::{format_match, parse_match};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/conformance/");

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{DIR}{name}")).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex digit"))
        .collect()
}

fn field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|w| w.strip_prefix(name).and_then(|w| w.strip_prefix('=')))
}

/// The key and mask OVS built for line `i` of an input's `.hex`.
fn key_and_mask(hex_line: &str) -> (Vec<KeyAttr>, Vec<KeyAttr>) {
    let k = unhex(field(hex_line, "key").expect("key="));
    let m = unhex(field(hex_line, "mask").expect("mask="));
    let (key, _) = key::decode_keys(&k, Mode::Tolerant).expect("key decodes");
    let mask = key::decode_mask(&m, &key, Mode::Tolerant).expect("mask decodes");
    (key, mask)
}

/// What `test-odp parse-filter filter=<spec>` prints for `input`.
fn parse_filter(spec: &str, input: &str) -> Vec<String> {
    let filter = Filter::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
    let mut out = Vec::new();
    for line in read(input).lines() {
        if line.starts_with('#') {
            out.push(line.to_string());
            continue;
        }
        let case = line.split('#').next().unwrap_or("");
        if case.trim_matches([' ', '\t']).is_empty() {
            out.push(String::new());
            continue;
        }
        match parse_match(case) {
            Err(e) => out.push(format!("odp_flow_from_string: error ({})", e.msg)),
            Ok((key, mask)) => {
                if filter.matches(&key, &mask) {
                    let mut s = String::new();
                    format_match(&key, Some(&mask), false, &mut s);
                    out.push(s);
                }
            }
        }
    }
    out
}

/// The same, from OVS's key and mask buffers; a matching line is printed as
/// the input line itself (for these inputs, parse-wc-keys prints them
/// unchanged).
fn parse_filter_bytes(spec: &str, input: &str) -> Vec<String> {
    let filter = Filter::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"));
    let text = read(input);
    let hex = read(&input.replace(".in", ".hex"));
    let mut out = Vec::new();
    for (line, hex_line) in text.lines().zip(hex.lines()) {
        if line.starts_with('#') {
            out.push(line.to_string());
            continue;
        }
        let case = line.split('#').next().unwrap_or("");
        if case.trim_matches([' ', '\t']).is_empty() {
            out.push(String::new());
            continue;
        }
        let (key, mask) = key_and_mask(hex_line);
        if filter.matches(&key, &mask) {
            out.push(case.to_string());
        }
    }
    out
}

#[test]
fn filters_tsv() {
    let rows = read("filters.tsv");
    let mut n = 0;
    for row in rows.lines().filter(|l| !l.is_empty()) {
        let cols: Vec<&str> = row.split('\t').collect();
        let [spec, input, output] = cols[..] else {
            panic!("bad row {row:?}");
        };
        let want: Vec<String> = read(output).lines().map(str::to_string).collect();
        assert_eq!(parse_filter(spec, input), want, "filter={spec} on {input}");
        assert_eq!(
            parse_filter_bytes(spec, input),
            want,
            "filter={spec} on {input}, from OVS's buffers"
        );
        n += 1;
    }
    assert_eq!(n, 10);
}
