//! The one line a process prints when its netlink sockets cannot reach the
//! daemon.

use core::sync::atomic::{AtomicU32, Ordering};

use crate::conn::Failure;
use crate::sys::raw;

static REPORTED_BY: AtomicU32 = AtomicU32::new(0);

/// The line for a failure to reach the daemon at `path`.
pub fn line(path: &[u8], failure: Failure) -> String {
    let path = String::from_utf8_lossy(path);
    let reason = strerror(failure.errno().0);
    match failure {
        Failure::Unreachable(_) => format!(
            "oxvs-run: cannot reach oxvsd at {path}: {reason}; netlink sockets fail with this error (is oxvsd running? set OXVSD_SOCKET or oxvs-run --socket)\n"
        ),
        Failure::Refused(_) => format!(
            "oxvs-run: oxvsd at {path} refused the connection: {reason}; netlink sockets fail with this error\n"
        ),
    }
}

/// The description of errno `e`, without std's "(os error N)".
fn strerror(e: i32) -> String {
    let s = std::io::Error::from_raw_os_error(e).to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

/// Prints [`line()`] on standard error, once per process (a forked child is
/// another process and may print its own).
pub fn once(path: &[u8], failure: Failure) {
    let me = raw::getpid();
    if REPORTED_BY.swap(me, Ordering::Relaxed) != me {
        raw::write_stderr(line(path, failure).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::Errno;

    #[test]
    fn one_line_naming_path_and_reason() {
        let l = line(b"/run/x.sock", Failure::Unreachable(Errno(libc::ENOENT)));
        assert!(l.contains("/run/x.sock") && l.contains("No such file or directory;"));
        assert_eq!(l.matches('\n').count(), 1);
        assert!(l.ends_with('\n'));
        let l = line(b"/p", Failure::Refused(Errno(libc::EPERM)));
        assert!(l.contains("refused") && l.contains("Operation not permitted"));
    }
}
