//! oxvs-run itself: how it finds the library, what it puts in the
//! environment, and its exit statuses.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::probe::{library, oxvs_run};

/// Runs `exe` (an oxvs-run) with `args` and `env` (and no LD_PRELOAD or
/// OXVS_PRELOAD otherwise): exit status, stdout, stderr.
fn run_exe(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut c = Command::new(exe);
    c.args(args)
        .env_remove("LD_PRELOAD")
        .env_remove("OXVS_PRELOAD");
    for (k, v) in env {
        c.env(k, v);
    }
    // A copy of oxvs-run just written may be busy for a moment (another
    // test's fork holding the written file open until its exec).
    let mut tries = 0;
    let o = loop {
        match c.output() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 50 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            r => break r.unwrap(),
        }
    };
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Runs this build's oxvs-run with this build's library.
fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let lib = library();
    let mut env = env.to_vec();
    if !env.iter().any(|e| e.0 == "OXVS_PRELOAD") {
        env.push(("OXVS_PRELOAD", lib.to_str().unwrap()));
    }
    run_exe(Path::new(oxvs_run()), args, &env)
}

/// An installation: `prefix/bin/oxvs-run` with the library beside it, or
/// in `prefix/lib/oxvs/`; returns the prefix and the library's path.
fn install(beside: bool) -> (PathBuf, PathBuf) {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let prefix = std::env::temp_dir().join(format!("oxvs-run-install-{}-{n}", std::process::id()));
    let bin = prefix.join("bin");
    let libdir = if beside {
        bin.clone()
    } else {
        prefix.join("lib/oxvs")
    };
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&libdir).unwrap();
    std::fs::copy(oxvs_run(), bin.join("oxvs-run")).unwrap();
    std::fs::copy(library(), libdir.join("liboxvs_preload.so")).unwrap();
    (prefix, libdir.join("liboxvs_preload.so"))
}

#[test]
fn finds_the_library_beside_itself_or_in_lib_oxvs() {
    for beside in [true, false] {
        let (prefix, lib) = install(beside);
        let exe = prefix.join("bin/oxvs-run");
        let (code, out, err) = run_exe(&exe, &["sh", "-c", "echo $LD_PRELOAD"], &[]);
        assert_eq!(code, 0, "{err}");
        assert_eq!(
            Path::new(out.trim()).canonicalize().unwrap(),
            lib.canonicalize().unwrap()
        );
        std::fs::remove_file(&lib).unwrap();
        let (code, _, err) = run_exe(&exe, &["true"], &[]);
        assert_eq!(code, 125, "no library: {err}");
        assert!(err.contains("cannot find liboxvs_preload.so"), "{err}");
        std::fs::remove_dir_all(&prefix).unwrap();
    }
}

#[test]
fn preload_first_and_socket_set() {
    let lib = library();
    let lib = lib.to_str().unwrap();
    let (code, out, err) = run(
        &[
            "--socket",
            "/some/where.sock",
            "--",
            "sh",
            "-c",
            "echo \"$LD_PRELOAD|$OXVSD_SOCKET\"",
        ],
        &[],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), format!("{lib}|/some/where.sock"));
    // An existing LD_PRELOAD is kept after ours; no --socket leaves
    // OXVSD_SOCKET alone.
    let (code, out, _) = run(
        &["sh", "-c", "echo \"$LD_PRELOAD|$OXVSD_SOCKET\""],
        &[("LD_PRELOAD", lib), ("OXVSD_SOCKET", "/x.sock")],
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
    assert!(
        err.contains("oxvs-run-no-such-command: command not found"),
        "{err}"
    );
    let file = std::env::temp_dir().join(format!("oxvs-run-noexec-{}", std::process::id()));
    std::fs::write(&file, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = run(&[file.to_str().unwrap()], &[]);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(code, 126, "{err}");
    assert!(err.contains("cannot execute"), "{err}");
    let (code, _, err) = run(
        &["true"],
        &[("OXVS_PRELOAD", "/nonexistent/liboxvs_preload.so")],
    );
    assert_eq!(code, 125);
    assert!(err.contains("OXVS_PRELOAD"), "{err}");
    // The command's exit status is oxvs-run's.
    let (code, _, _) = run(&["sh", "-c", "exit 7"], &[]);
    assert_eq!(code, 7);
}
