//! oxvs-run itself: how it finds the library, what it puts in the
//! environment, and its exit statuses.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::common::probe::oxvs_run;

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(oxvs_run());
    c.args(args).env_remove("LD_PRELOAD").env_remove("OXVS_PRELOAD");
    for (k, v) in env {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn library() -> String {
    let p = std::path::Path::new(oxvs_run()).with_file_name("liboxvs_preload.so");
    assert!(p.is_file(), "{} is built beside oxvs-run", p.display());
    p.to_string_lossy().into_owned()
}

#[test]
fn preload_first_and_socket_set() {
    let lib = library();
    let (code, out, err) = run(
        &["--socket", "/some/where.sock", "--", "sh", "-c", "echo \"$LD_PRELOAD|$OXVSD_SOCKET\""],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("{lib}|/some/where.sock"));
    // An existing LD_PRELOAD is kept after ours; no --socket leaves
    // OXVSD_SOCKET alone.
    let (code, out, _) = run(
        &["sh", "-c", "echo \"$LD_PRELOAD|$OXVSD_SOCKET\""],
        &[("LD_PRELOAD", &lib), ("OXVSD_SOCKET", "/x.sock")],
    );
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("{lib}:{lib}|/x.sock"));
    let (code, out, _) = run(&["--socket=/y.sock", "sh", "-c", "echo $OXVSD_SOCKET"], &[]);
    assert_eq!((code, out.trim()), (0, "/y.sock"));
}

#[test]
fn exit_statuses() {
    let (code, _, err) = run(&[], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("usage"));
    let (code, _, err) = run(&["--bogus", "true"], &[]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = run(&["--", "oxvs-run-no-such-command"], &[]);
    assert_eq!(code, 127);
    assert!(err.contains("oxvs-run-no-such-command: command not found"), "{err}");
    let file = std::env::temp_dir().join(format!("oxvs-run-noexec-{}", std::process::id()));
    std::fs::write(&file, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = run(&[file.to_str().unwrap()], &[]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(code, 126, "{err}");
    assert!(err.contains("cannot execute"), "{err}");
    let (code, _, err) = run(&["true"], &[("OXVS_PRELOAD", "/nonexistent/liboxvs_preload.so")]);
    assert_eq!(code, 125);
    assert!(err.contains("OXVS_PRELOAD"), "{err}");
    // The exit status of the command is its own.
    let (code, _, _) = run(&["sh", "-c", "exit 7"], &[]);
    assert_eq!(code, 7);
}
