//! The whole suite again against the real oxvsd: this binary re-run with
//! `OXVS_TEST_OXVSD` naming the daemon built beside it (a workspace test
//! run builds it), so that the contract fixture and the daemon are held to
//! the same cases.

use std::path::PathBuf;

/// The oxvsd binary: `OXVS_TEST_OXVSD`, or the one in this target dir.
fn oxvsd() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("OXVS_TEST_OXVSD") {
        return Some(PathBuf::from(p));
    }
    // target/<profile>/deps/tests-HASH → target/<profile>/oxvsd
    let exe = std::env::current_exe().ok()?;
    let p = exe.parent()?.parent()?.join("oxvsd");
    p.is_file().then_some(p)
}

#[test]
fn suite_against_oxvsd() {
    if std::env::var_os("OXVS_TEST_OXVSD").is_some() {
        return; // already the re-run
    }
    let Some(bin) = oxvsd() else {
        eprintln!(
            "SKIP: no oxvsd binary beside the tests (build the workspace, or set OXVS_TEST_OXVSD)"
        );
        return;
    };
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--skip", "suite_against_oxvsd", "--test-threads", "4"])
        .env("OXVS_TEST_OXVSD", &bin)
        .output()
        .expect("re-run the suite");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "against {}:\n{text}\n{}",
        bin.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "{}",
        text.lines()
            .filter(|l| l.starts_with("test result"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
