//! Runs every file of the Open vSwitch conformance corpus through the
//! `oxvs-dpctl` verb that OVS's `test-odp` used to produce it, and requires
//! the output to be identical, line for line.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../odp/tests/data/conformance")
        .join(name)
}

fn run_verb(args: &[&str], input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxvs-dpctl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn oxvs-dpctl");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("wait for oxvs-dpctl");
    writer.join().unwrap().expect("write stdin");
    assert!(
        output.status.success(),
        "oxvs-dpctl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Compares line by line and reports every differing line (truncated) before failing.
fn assert_same_lines(what: &str, got: &[u8], want: &[u8]) {
    let got = String::from_utf8_lossy(got);
    let want = String::from_utf8_lossy(want);
    let got_lines: Vec<&str> = got.lines().collect();
    let want_lines: Vec<&str> = want.lines().collect();
    let mut bad = 0;
    for (i, (g, w)) in got_lines.iter().zip(&want_lines).enumerate() {
        if g != w {
            bad += 1;
            if bad <= 5 {
                let cut = |s: &str| s.chars().take(300).collect::<String>();
                eprintln!("{what}:{}:\n  got:  {}\n  want: {}", i + 1, cut(g), cut(w));
            }
        }
    }
    assert_eq!(
        got_lines.len(),
        want_lines.len(),
        "{what}: line counts differ"
    );
    assert_eq!(bad, 0, "{what}: {bad} of {} lines differ", want_lines.len());
}

fn check(verb: &str, input: &str, expected: &str) {
    let input_bytes = std::fs::read(corpus(input)).unwrap();
    let want = std::fs::read(corpus(expected)).unwrap();
    let got = run_verb(&[verb], &input_bytes);
    assert_same_lines(&format!("{verb} {input}"), &got, &want);
}

#[test]
fn parse_keys_keys() {
    check("parse-keys", "keys.in", "keys.out");
}

#[test]
fn parse_keys_too_long() {
    check("parse-keys", "keys-too-long.in", "keys-too-long.out");
}

#[test]
fn parse_keys_nested_encap() {
    check(
        "parse-keys",
        "keys-nested-encap.in",
        "keys-nested-encap.out",
    );
}

#[test]
fn parse_wc_keys_keys() {
    check("parse-wc-keys", "keys.in", "keys.wc.out");
}

#[test]
fn parse_wc_keys_wc_keys() {
    check("parse-wc-keys", "wc-keys.in", "wc-keys.out");
}

#[test]
fn parse_wc_keys_extra() {
    check("parse-wc-keys", "wc-keys-extra.in", "wc-keys-extra.out");
}

#[test]
fn parse_actions_valid() {
    check("parse-actions", "actions.in", "actions.out");
}

#[test]
fn parse_actions_invalid() {
    check("parse-actions", "actions-invalid.in", "actions-invalid.out");
}

#[test]
fn parse_actions_userdata_overflow() {
    check(
        "parse-actions",
        "actions-userdata-overflow.in",
        "actions-userdata-overflow.out",
    );
}

#[test]
fn parse_actions_too_long() {
    check(
        "parse-actions",
        "actions-too-long.in",
        "actions-too-long.out",
    );
}

#[test]
fn parse_filter_every_row() {
    let rows = std::fs::read_to_string(corpus("filters.tsv")).unwrap();
    let mut n = 0;
    for row in rows.lines().filter(|l| !l.trim().is_empty()) {
        let cols: Vec<&str> = row.split('\t').collect();
        assert_eq!(cols.len(), 3, "bad filters.tsv row {row:?}");
        let input = std::fs::read(corpus(cols[1])).unwrap();
        let want = std::fs::read(corpus(cols[2])).unwrap();
        let got = run_verb(&["parse-filter", &format!("filter={}", cols[0])], &input);
        assert_same_lines(
            &format!("parse-filter {} < {}", cols[0], cols[1]),
            &got,
            &want,
        );
        n += 1;
    }
    assert_eq!(n, 10);
}

#[test]
fn comment_and_blank_lines_follow_test_odp_rules() {
    let got = run_verb(
        &["parse-actions"],
        b"# a comment\n\n   # only a comment after spaces\n1 # trailing\n",
    );
    assert_eq!(String::from_utf8(got).unwrap(), "# a comment\n\n\n1\n");
}
