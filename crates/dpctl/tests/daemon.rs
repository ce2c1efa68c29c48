//! The `oxvs-dpctl` binary driving `netdev@` datapaths hosted by an `oxvsd`
//! server (in this process, on a temporary socket named by
//! `$OXVSD_SOCKET`): the same texts as through the in-process provider.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

struct Daemon {
    dir: PathBuf,
    socket: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    fn start() -> Daemon {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "dpctl-oxvsd-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("oxvsd.sock");
        let server = oxvsd::Server::bind(oxvsd::Config::new(&socket)).expect("bind oxvsd");
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = Some(std::thread::spawn(move || server.run(&s)));
        Daemon {
            dir,
            socket,
            stop,
            thread,
        }
    }

    /// Runs oxvs-dpctl against this daemon: (exit status, stdout, stderr).
    fn dpctl(&self, args: &[&str]) -> (i32, String, String) {
        let o = Command::new(env!("CARGO_BIN_EXE_oxvs-dpctl"))
            .args(args)
            .env("OXVSD_SOCKET", &self.socket)
            .output()
            .expect("run oxvs-dpctl");
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8(o.stdout).unwrap(),
            String::from_utf8(o.stderr).unwrap(),
        )
    }

    fn ok(&self, args: &[&str]) -> String {
        let (rc, out, err) = self.dpctl(args);
        assert_eq!((rc, err.as_str()), (0, ""), "{args:?}");
        out
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const ARP: &str = "in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15),eth_type(0x0806),\
arp(sip=10.0.0.1,tip=10.0.0.2,op=1,sha=00:01:02:03:04:05,tha=00:00:00:00:00:00)";

#[test]
fn commands_through_the_daemon() {
    let d = Daemon::start();
    d.ok(&[
        "add-dp",
        "netdev@dmn0",
        "q1,type=dummy",
        "q2,type=dummy,port_no=5",
    ]);
    assert!(d.ok(&["dump-dps"]).lines().any(|l| l == "netdev@dmn0"));
    assert_eq!(
        d.ok(&["show", "netdev@dmn0"]),
        "netdev@dmn0:
  lookups: hit:0 missed:0 lost:0
  flows: 0
  masks: hit:0 total:0 hit/pkt:0.00
  caches:
    masks-cache: size:256
  port 0: dmn0 (internal)
  port 1: q1 (dummy)
  port 5: q2 (dummy)
"
    );
    d.ok(&["add-flow", "netdev@dmn0", ARP, "5"]);
    assert_eq!(
        d.ok(&["dump-flows", "netdev@dmn0"]),
        format!("{ARP}, packets:0, bytes:0, used:never, actions:5\n")
    );
    assert_eq!(
        d.ok(&["dump-flows", "--names", "netdev@dmn0"]),
        format!(
            "{}, packets:0, bytes:0, used:never, actions:q2\n",
            ARP.replace("in_port(1)", "in_port(q1)")
        )
    );
    let (rc, out, err) = d.dpctl(&["add-flow", "netdev@dmn0", ARP, "5"]);
    assert_eq!(
        (rc, out.as_str(), err.as_str()),
        (1, "", "oxvs-dpctl: updating flow table (File exists)\n")
    );
    d.ok(&["del-if", "netdev@dmn0", "q2"]);
    d.ok(&["del-flows", "netdev@dmn0"]);
    assert_eq!(d.ok(&["dump-flows", "netdev@dmn0"]), "");
    d.ok(&["del-dp", "netdev@dmn0"]);
    let (rc, _, err) = d.dpctl(&["show", "netdev@dmn0"]);
    assert_eq!(
        (rc, err.as_str()),
        (
            1,
            "oxvs-dpctl: opening datapath netdev@dmn0 failed (No such device)\n"
        )
    );
}

#[test]
fn no_daemon_is_said_so() {
    let (rc, out, err) = {
        let o = Command::new(env!("CARGO_BIN_EXE_oxvs-dpctl"))
            .args(["show", "netdev@x"])
            .env("OXVSD_SOCKET", "/nonexistent/oxvsd.sock")
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8(o.stdout).unwrap(),
            String::from_utf8(o.stderr).unwrap(),
        )
    };
    assert_eq!((rc, out.as_str()), (Some(1), ""));
    assert_eq!(
        err,
        "oxvs-dpctl: opening datapath netdev@x failed \
         (cannot use oxvsd at /nonexistent/oxvsd.sock: No such file or directory)\n"
    );
}

/// r12: a user without access to the socket is told so, and which socket,
/// not that a kernel module is missing.
#[test]
fn no_access_to_the_socket_is_said_so() {
    let root = std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"));
    if !root {
        eprintln!("SKIP: not root, cannot run as another user");
        return;
    }
    let d = Daemon::start();
    let run = |args: &[&str]| {
        let o = Command::new("setpriv")
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_oxvs-dpctl"))
            .args(args)
            .env("OXVSD_SOCKET", &d.socket)
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8(o.stderr).unwrap())
    };
    let sock = d.socket.display().to_string();
    assert_eq!(
        run(&["show", "netdev@x"]),
        (
            Some(1),
            format!(
                "oxvs-dpctl: opening datapath netdev@x failed \
                 (cannot use oxvsd at {sock}: Permission denied)\n"
            )
        )
    );
    let (rc, err) = run(&["dump-dps"]);
    assert_eq!(rc, Some(1));
    assert!(
        err.contains(&format!("cannot use oxvsd at {sock}: Permission denied")),
        "{err}"
    );
}
