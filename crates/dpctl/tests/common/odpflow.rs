//! Flow lines checked with Open vSwitch's own Python flow parser,
//! `ovs.flow.odp.ODPFlow` (Debian package `python3-openvswitch`, which also
//! needs `python3-netaddr` and `python3-pyparsing`).

use std::io::Write;
use std::process::{Command, Stdio};

/// Reads one flow line per stdin line; prints `ok` or `error: <why>` for each.
const CHECKER: &str = r#"
import sys
from ovs.flow.odp import ODPFlow
for line in sys.stdin:
    line = line.rstrip("\n")
    try:
        ODPFlow(line)
        print("ok")
    except Exception as e:
        why = " ".join(str(e).split()) or type(e).__name__
        print("error: " + why)
"#;

/// A Python interpreter that can import `ovs.flow.odp`, or why there is none.
fn interpreter() -> Result<String, String> {
    let mut why = Vec::new();
    // The system's python3 first: Debian installs the module for it.
    for py in ["/usr/bin/python3", "python3"] {
        match Command::new(py)
            .args(["-c", "import ovs.flow.odp"])
            .output()
        {
            Ok(o) if o.status.success() => return Ok(py.to_string()),
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr);
                why.push(format!(
                    "{py}: {}",
                    err.lines().last().unwrap_or("import failed")
                ));
            }
            Err(e) => why.push(format!("{py}: {e}")),
        }
    }
    Err(why.join("; "))
}

/// Parses each of `lines` with `ODPFlow`: `Ok(())` or the parser's error,
/// one per line. `None` (after printing a SKIP line that says why) when no
/// Python can import OVS's flow library.
pub fn parse_lines(lines: &[&str]) -> Option<Vec<Result<(), String>>> {
    let py = match interpreter() {
        Ok(py) => py,
        Err(why) => {
            println!(
                "SKIP: OVS's Python flow library (ovs.flow.odp, packages \
                 python3-openvswitch python3-netaddr python3-pyparsing) is not \
                 importable: {why}"
            );
            return None;
        }
    };
    let mut child = Command::new(&py)
        .args(["-c", CHECKER])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {py}: {e}"));
    let mut input = String::new();
    for l in lines {
        assert!(!l.contains('\n'), "one line: {l:?}");
        input.push_str(l);
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        out.status.success(),
        "{py} flow checker: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Result<(), String>> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| match l.strip_prefix("error: ") {
            Some(why) => Err(why.to_string()),
            None => Ok(()),
        })
        .collect();
    assert_eq!(results.len(), lines.len(), "one answer per line");
    Some(results)
}
