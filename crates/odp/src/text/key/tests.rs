//! Conformance against OVS's own output (`tests/data/conformance`).

use super::*;

macro_rules! corpus {
    ($name:literal) => {
        include_str!(concat!("../../../tests/data/conformance/", $name))
    };
}

/// What OVS's test-line reader does with one input line.
enum Line<'a> {
    /// Echoed unchanged.
    Comment(&'a str),
    /// Printed as an empty line.
    Blank,
    /// Handed to the verb.
    Case(&'a str),
}

fn classify(line: &str) -> Line<'_> {
    if line.starts_with('#') {
        return Line::Comment(line);
    }
    let body = line.split('#').next().unwrap_or("");
    if body.chars().all(|c| c == ' ' || c == '\t') {
        Line::Blank
    } else {
        Line::Case(body)
    }
}

/// `ovstest test-odp parse-wc-keys` on one case line.
fn parse_wc_keys(case: &str) -> String {
    match parse_match(case) {
        Ok((key, mask)) => {
            let mut out = String::new();
            format_match(&key, Some(&mask), false, &mut out);
            out
        }
        Err(e) => format!("odp_flow_from_string: error ({e})"),
    }
}

/// Runs `verb` over `input` and compares with `expected` line by line;
/// returns (case lines, failures).
fn run(input: &str, expected: &str, verb: impl Fn(&str) -> Option<String>) -> (usize, Vec<String>) {
    let exp: Vec<&str> = expected.lines().collect();
    let mut cases = 0;
    let mut failures = Vec::new();
    for (i, line) in input.lines().enumerate() {
        let want = exp.get(i).copied().unwrap_or("<missing>");
        let got = match classify(line) {
            Line::Comment(c) => Some(c.to_string()),
            Line::Blank => Some(String::new()),
            Line::Case(c) => {
                cases += 1;
                verb(c)
            }
        };
        if let Some(got) = got {
            if got != want {
                failures.push(format!("line {}:\n  want {want}\n  got  {got}", i + 1));
            }
        }
    }
    (cases, failures)
}

fn assert_all(name: &str, (cases, failures): (usize, Vec<String>)) {
    assert!(cases > 0, "{name}: no case lines");
    assert!(
        failures.is_empty(),
        "{name}: {} of {cases} lines differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn wc_keys_round_trip() {
    assert_all(
        "wc-keys",
        run(corpus!("wc-keys.in"), corpus!("wc-keys.out"), |c| {
            Some(parse_wc_keys(c))
        }),
    );
}

#[test]
fn wc_keys_extra_round_trip() {
    assert_all(
        "wc-keys-extra",
        run(
            corpus!("wc-keys-extra.in"),
            corpus!("wc-keys-extra.out"),
            |c| Some(parse_wc_keys(c)),
        ),
    );
}

#[test]
fn keys_with_masks() {
    assert_all(
        "keys.wc",
        run(corpus!("keys.in"), corpus!("keys.wc.out"), |c| {
            Some(parse_wc_keys(c))
        }),
    );
}

#[test]
fn nested_encap_limit() {
    assert_all(
        "keys-nested-encap",
        run(
            corpus!("keys-nested-encap.in"),
            corpus!("keys-nested-encap.out"),
            |c| Some(parse_wc_keys(c)),
        ),
    );
}

#[test]
fn key_size_limit() {
    let lines: Vec<&str> = corpus!("keys-too-long.in").lines().collect();
    let out: Vec<&str> = corpus!("keys-too-long.out").lines().collect();
    // Line 1 fits (OVS rejects it later, when converting to a flow).
    let (key, _) = parse_match(lines[0]).expect("65532 bytes of key fit");
    assert_eq!(key.len(), 16383);
    // Line 2 is one attribute too many.
    assert_eq!(parse_wc_keys(lines[1]), out[1]);
}

/// The canonical keys OVS prints re-parse and print identically with
/// `format_key` (OVS's `odp_flow_key_format`).
#[test]
fn canonical_keys_format() {
    assert_all(
        "keys.out",
        run(corpus!("keys.out"), corpus!("keys.out"), |c| {
            let body = c
                .strip_prefix("ODP_FIT_TOO_LITTLE: ")
                .or_else(|| c.strip_prefix("ODP_FIT_TOO_MUCH: "));
            let body = body.unwrap_or(c);
            let prefix = &c[..c.len() - body.len()];
            let (key, _) = parse_match(body).map_err(|e| e.to_string()).ok()?;
            let mut out = prefix.to_string();
            format_key(&key, &mut out);
            Some(out)
        }),
    );
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Text → attributes gives exactly the netlink bytes OVS built.
fn check_hex(name: &str, input: &str, hexes: &str) {
    let want: Vec<&str> = hexes.lines().collect();
    let mut failures = Vec::new();
    let mut cases = 0;
    for (i, line) in input.lines().enumerate() {
        let Line::Case(c) = classify(line) else {
            continue;
        };
        cases += 1;
        let got = match parse_match(c) {
            Ok((k, m)) => format!(
                "key={} mask={}",
                hex(&wire::stream(&k)),
                hex(&wire::stream(&m))
            ),
            Err(_) => "error".to_string(),
        };
        let w = want[i];
        let w = w.find(" flowkey=").map_or(w, |p| &w[..p]);
        if got != w {
            failures.push(format!("line {}:\n  want {w}\n  got  {got}", i + 1));
        }
    }
    assert!(cases > 0);
    assert!(
        failures.is_empty(),
        "{name}: {} of {cases} differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn wc_keys_bytes() {
    check_hex("wc-keys", corpus!("wc-keys.in"), corpus!("wc-keys.hex"));
    check_hex(
        "wc-keys-extra",
        corpus!("wc-keys-extra.in"),
        corpus!("wc-keys-extra.hex"),
    );
}

#[test]
fn keys_bytes() {
    check_hex("keys", corpus!("keys.in"), corpus!("keys.hex"));
    check_hex(
        "keys-nested-encap",
        corpus!("keys-nested-encap.in"),
        corpus!("keys-nested-encap.hex"),
    );
}
