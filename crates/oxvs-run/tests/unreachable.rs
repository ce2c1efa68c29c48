//! No daemon, or a daemon refusing: socket() fails with the errno of the
//! connection, and the process prints one line saying why.

use std::os::fd::AsFd;

use crate::common::{daemon, probe, sys};

fn check(path: &std::path::Path, errno: i32, words: &str) {
    let p = probe::run("unreachable", Some(path), &[]);
    p.assert_ok();
    assert_eq!(p.fact("first"), errno.to_string());
    assert_eq!(p.fact("second"), errno.to_string());
    // rtnetlink is the kernel's: it works (or fails as the kernel makes it
    // fail where netlink is not allowed), never with the daemon's errno.
    assert_ne!(p.fact("route"), errno.to_string());
    let lines: Vec<String> = p
        .stderr()
        .lines()
        .filter(|l| l.starts_with("oxvs-run:"))
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 1, "one line per process: {lines:?}");
    assert!(lines[0].contains(&*path.to_string_lossy()), "{}", lines[0]);
    assert!(lines[0].contains(words), "{}", lines[0]);
}

#[test]
fn no_socket_file_is_enoent_and_one_line() {
    let dir = std::env::temp_dir().join(format!("oxvs-run-none-{}", std::process::id()));
    check(
        &dir.join("oxvsd.sock"),
        libc::ENOENT,
        "No such file or directory",
    );
}

#[test]
fn nobody_listening_is_econnrefused() {
    let dir = std::env::temp_dir().join(format!("oxvs-run-deaf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("oxvsd.sock");
    let _ = std::fs::remove_file(&path);
    let s = rustix::net::socket(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::SEQPACKET,
        None,
    )
    .unwrap();
    rustix::net::bind(s.as_fd(), &rustix::net::SocketAddrUnix::new(&path).unwrap()).unwrap();
    check(&path, libc::ECONNREFUSED, "Connection refused");
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir(&dir);
}

#[test]
fn refused_connection_is_its_errno() {
    let d = daemon::start_refusing(libc::EPERM);
    check(d.path(), libc::EPERM, "refused");
}

/// The probe.
pub fn probe_unreachable() {
    for key in ["first", "second"] {
        let r = sys::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_GENERIC);
        probe::fact(key, r.err().unwrap_or(0));
    }
    // Other netlink protocols are the kernel's, daemon or not.
    let route = sys::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE);
    probe::fact(
        "route",
        route.map_or_else(|e| e.to_string(), |_| "ok".to_string()),
    );
}
