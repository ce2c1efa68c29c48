//! Probes: this test binary run again, as a child, to make a sequence of
//! calls either natively (against the kernel) or under `oxvs-run` (against
//! a daemon). The child runs the ignored test `probe_entry`, which looks the
//! case up by `$OXVS_PROBE`; it reports observations as `FACT key=value`
//! lines and fails (exit status 101) on a broken expectation.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

/// The `oxvs-run` binary under test.
pub fn oxvs_run() -> &'static str {
    env!("CARGO_BIN_EXE_oxvs-run")
}

/// The preload library of this build. `cargo test` builds it as a
/// dependency of the tests, into `deps/` (only `cargo build` copies it
/// beside `oxvs-run`), so the tests name it with `OXVS_PRELOAD`.
pub fn library() -> std::path::PathBuf {
    let p = Path::new(oxvs_run())
        .with_file_name("deps")
        .join("liboxvs_preload.so");
    assert!(p.is_file(), "{} is built", p.display());
    p
}

/// `oxvs-run` with this build's library.
pub fn oxvs_run_command() -> Command {
    let mut c = Command::new(oxvs_run());
    c.env("OXVS_PRELOAD", library()).env_remove("LD_PRELOAD");
    c
}

/// A finished probe.
pub struct Probe {
    pub output: Output,
    pub facts: BTreeMap<String, String>,
}

impl Probe {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Panics with the child's output unless it succeeded.
    pub fn assert_ok(&self) -> &Self {
        assert!(
            self.output.status.success(),
            "probe failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            self.output.status,
            self.stdout(),
            self.stderr()
        );
        self
    }

    pub fn fact(&self, key: &str) -> &str {
        self.facts.get(key).map(String::as_str).unwrap_or_else(|| {
            panic!(
                "probe reported no {key}:\n{}\n{}",
                self.stdout(),
                self.stderr()
            )
        })
    }

    /// The reason, if the probe skipped.
    pub fn skipped(&self) -> Option<&str> {
        self.facts.get("skip").map(String::as_str)
    }
}

/// Runs probe `case`: under `oxvs-run --socket daemon` when `daemon` is
/// given, natively otherwise, with extra environment `env`.
pub fn run(case: &str, daemon: Option<&Path>, env: &[(&str, &str)]) -> Probe {
    let me = std::env::current_exe().unwrap();
    let harness = [
        "--exact",
        "probe_entry",
        "--include-ignored",
        "--nocapture",
        "--test-threads=1",
    ];
    let mut cmd = match daemon {
        Some(path) => {
            let mut c = oxvs_run_command();
            c.arg("--socket").arg(path).arg("--").arg(&me);
            c
        }
        None => Command::new(&me),
    };
    cmd.args(harness)
        .env("OXVS_PROBE", case)
        .env_remove("LD_PRELOAD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().expect("run probe");
    Probe {
        facts: facts(&output.stdout),
        output,
    }
}

/// Parses `FACT key=value` lines.
pub fn facts(stdout: &[u8]) -> BTreeMap<String, String> {
    String::from_utf8_lossy(stdout)
        .lines()
        // libtest prints "test probe_entry ... " before the first line.
        .filter_map(|l| l.find("FACT ").map(|i| &l[i + 5..]))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Reports a fact (in the probe).
pub fn fact(key: &str, value: impl std::fmt::Display) {
    println!("FACT {key}={value}");
}

/// Reports a skip and ends the case (in the probe).
pub fn skip(reason: &str) {
    println!("FACT skip={reason}");
}

/// In the parent: prints SKIP and returns true if the probe skipped.
pub fn skipped(p: &Probe, test: &str) -> bool {
    match p.skipped() {
        Some(r) => {
            println!("SKIP: {test}: {r}");
            true
        }
        None => false,
    }
}
