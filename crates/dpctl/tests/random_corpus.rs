//! The random corpus (`crates/odp/tests/data/random`, see its README.md):
//! random flow keys, masks, actions and filters, malformed ones included,
//! with what OVS 3.7.1's `ovstest test-odp` printed for them. Every verb's
//! output must be identical, line for line. `scripts/odp-differential.sh`
//! makes the corpus and runs fresh rounds against an OVS build.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../odp/tests/data/random")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(corpus(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Runs `oxvs-dpctl args` with `input` on stdin: stdout and exit status.
fn run(args: &[&str], input: &str) -> (String, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_oxvs-dpctl"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn oxvs-dpctl");
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("wait for oxvs-dpctl");
    // A verb that fails at once (a filter it rejects) reads no input.
    match writer.join().unwrap() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("write stdin: {e}"),
        _ => {}
    }
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// Every line of `got` equals that of `want`; reports the first few that
/// differ, with their input line.
fn same_lines(what: &str, input: &str, got: &str, want: &str) {
    let (inp, g, w): (Vec<&str>, Vec<&str>, Vec<&str>) = (
        input.lines().collect(),
        got.lines().collect(),
        want.lines().collect(),
    );
    let mut bad = 0;
    for i in 0..g.len().max(w.len()) {
        let (gl, wl) = (g.get(i).copied(), w.get(i).copied());
        if gl != wl {
            bad += 1;
            if bad <= 5 {
                eprintln!(
                    "{what}:{}:\n  input: {}\n  OVS:   {}\n  oxvs:  {}",
                    i + 1,
                    inp.get(i).copied().unwrap_or("?"),
                    wl.unwrap_or("<none>"),
                    gl.unwrap_or("<none>")
                );
            }
        }
    }
    assert_eq!(bad, 0, "{what}: {bad} of {} lines differ", w.len());
}

fn check(verb: &str, name: &str) {
    let input = read(&format!("{name}.in"));
    let want = read(&format!("{name}.out"));
    assert!(input.lines().count() >= 1000, "{name}.in is the corpus");
    let (got, _) = run(&[verb], &input);
    same_lines(&format!("{verb} {name}.in"), &input, &got, &want);
}

#[test]
fn random_keys() {
    check("parse-keys", "keys");
}

#[test]
fn random_wc_keys() {
    check("parse-wc-keys", "wc-keys");
}

#[test]
fn random_actions() {
    check("parse-actions", "actions");
}

/// `filter.out` holds, for each filter of `filters.txt` in order, a line
/// `=== filter=<F>` and what `test-odp parse-filter filter=<F>` printed
/// with `filter.in` on stdin, or `=== exit status N` when it failed.
#[test]
fn random_filters() {
    let filters = read("filters.txt");
    let input = read("filter.in");
    let out = read("filter.out");
    let mut sections = out.split("=== filter=").skip(1);
    let mut n = 0;
    for f in filters.lines() {
        let section = sections.next().expect("a section per filter");
        let (head, want) = section.split_once('\n').unwrap_or((section, ""));
        assert_eq!(head, f, "filter.out follows filters.txt");
        let (got, status) = run(&["parse-filter", &format!("filter={f}")], &input);
        match want.strip_prefix("=== exit status ") {
            Some(_) => assert_ne!(status, 0, "OVS rejected filter {f:?}; so must we"),
            None => {
                assert_eq!(status, 0, "filter {f:?}");
                same_lines(&format!("parse-filter filter={f}"), "", &got, want);
            }
        }
        n += 1;
    }
    assert!(n >= 10, "{n} filters");
}
