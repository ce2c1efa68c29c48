//! Random input for the flow-language verbs of `ovstest test-odp` and
//! `oxvs-dpctl`: the lines a differential test feeds to both.
//!
//!     cargo run -p odp --example odp_textgen -- MODE [SEED [COUNT]]
//!
//! MODE is `keys` (flow keys, mostly exact, for `parse-keys`), `wc-keys`
//! (keys with masks, for `parse-wc-keys` and `parse-filter`), `actions`
//! (for `parse-actions`) or `filters` (OpenFlow-style filters for
//! `parse-filter`). Prints COUNT lines (default 1000) from SEED (default
//! 1): the same seed gives the same lines. Lines never contain `#` (the
//! test-line reader's comment character). About a sixth of the lines are
//! malformed on purpose, and some are lines of OVS's own conformance corpus
//! with numbers changed.

mod actions;
mod filter;
mod keys;
mod mutate;
mod rng;
mod values;

use rng::Rng;

const CORPUS_KEYS: &str = include_str!("../../tests/data/conformance/keys.in");
const CORPUS_WC_KEYS: &str = include_str!("../../tests/data/conformance/wc-keys.in");
const CORPUS_ACTIONS: &str = include_str!("../../tests/data/conformance/actions.in");

/// A case line of a corpus file (comments and blank lines skipped).
fn corpus_line<'a>(r: &Rng, text: &'a str) -> &'a str {
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty() && l.len() < 2000)
        .collect();
    lines[r.below(lines.len())]
}

fn one(r: &Rng, mode: &str) -> String {
    let corpus = match mode {
        "keys" => CORPUS_KEYS,
        "wc-keys" => CORPUS_WC_KEYS,
        _ => CORPUS_ACTIONS,
    };
    let line = match mode {
        "filters" => return filter::filter(r),
        _ if r.chance(15) => {
            let mut l = corpus_line(r, corpus).to_string();
            for _ in 0..1 + r.below(3) {
                l = mutate::replace_number(r, &l);
            }
            l
        }
        "keys" => keys::line(r, r.chance(10)),
        "wc-keys" => keys::line(r, true),
        _ => actions::line(r),
    };
    let line = if r.chance(15) {
        mutate::mutate(r, &line)
    } else {
        line
    };
    line.replace(['#', '\n', '\r'], "")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: odp_textgen keys|wc-keys|actions|filters [SEED [COUNT]]";
    let Some(mode) = args
        .first()
        .filter(|m| matches!(m.as_str(), "keys" | "wc-keys" | "actions" | "filters"))
    else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let num = |i: usize, default: u64| -> u64 {
        match args.get(i) {
            None => default,
            Some(s) => s.parse().unwrap_or_else(|_| {
                eprintln!("{usage}");
                std::process::exit(2)
            }),
        }
    };
    let (seed, count) = (num(1, 1), num(2, 1000));
    let r = Rng::new(seed);
    let mut out = String::new();
    for _ in 0..count {
        out.push_str(&one(&r, mode));
        out.push('\n');
    }
    print!("{out}");
}
