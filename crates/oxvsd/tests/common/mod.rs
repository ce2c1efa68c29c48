//! A daemon on a temporary socket, in this process, for the tests.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use netdev::dummy::DummyNetdev;
use odp::key::PortNo;

/// A daemon serving on a temporary socket until dropped.
pub struct Daemon {
    pub path: PathBuf,
    pub state: Arc<oxvsd::State>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// A fresh temporary path (not created).
pub fn temp_path(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    std::env::temp_dir().join(format!(
        "oxvsd-test-{}-{}-{}/oxvsd.sock",
        std::process::id(),
        tag,
        N.fetch_add(1, Ordering::Relaxed)
    ))
}

/// A name unique in this process (netdev datapaths are process-global).
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}{}-{}",
        std::process::id() % 10_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

impl Daemon {
    pub fn start() -> Daemon {
        Daemon::start_with(|_| {})
    }

    pub fn start_with(f: impl FnOnce(&mut oxvsd::Config)) -> Daemon {
        let path = temp_path("d");
        let mut cfg = oxvsd::Config::new(&path);
        f(&mut cfg);
        let server = oxvsd::Server::bind(cfg).expect("bind");
        let state = server.state();
        let stop = Arc::new(AtomicBool::new(false));
        let s2 = stop.clone();
        let thread = std::thread::spawn(move || server.run(&s2));
        Daemon {
            path,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// The dummy device behind port `port` of datapath `dp`.
    pub fn dummy(&self, dp: &str, port: PortNo) -> Arc<dyn netdev::Netdev> {
        self.state
            .datapath(dp)
            .expect("datapath exists")
            .dp
            .port_netdev(port)
            .expect("port exists")
    }

    pub fn inject(&self, dp: &str, port: PortNo, packet: &[u8]) {
        let dev = self.dummy(dp, port);
        let d = dev.as_any().downcast_ref::<DummyNetdev>().expect("dummy");
        assert!(d.inject(0, packet).expect("inject"), "receive queue full");
    }

    pub fn take_output(
        &self,
        dp: &str,
        port: PortNo,
        min: usize,
        timeout: Duration,
    ) -> Vec<Vec<u8>> {
        let dev = self.dummy(dp, port);
        let d = dev.as_any().downcast_ref::<DummyNetdev>().expect("dummy");
        let start = std::time::Instant::now();
        let mut got = Vec::new();
        loop {
            got.extend(d.take_sent().into_iter().map(|p| p.data().to_vec()));
            if got.len() >= min || start.elapsed() >= timeout {
                return got;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A raw connection to the daemon: datagrams in and out, as a netlink
/// socket sees them.
pub struct Raw {
    pub fd: std::os::fd::OwnedFd,
    pub pid: u32,
    pub cookie: u64,
    queue: std::collections::VecDeque<Vec<u8>>,
}

impl Raw {
    /// Connects and reads the greeting.
    pub fn connect(path: &std::path::Path) -> Raw {
        Raw::try_connect(path).expect("greeting")
    }

    /// Connects; `Err(errno)` if refused.
    pub fn try_connect(path: &std::path::Path) -> Result<Raw, i32> {
        use rustix::net::*;
        let fd = socket_with(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        connect(&fd, &SocketAddrUnix::new(path).unwrap()).map_err(|e| e.raw_os_error())?;
        let mut r = Raw {
            fd,
            pid: 0,
            cookie: 0,
            queue: Default::default(),
        };
        let g = r.recv_datagram(Duration::from_secs(5)).ok_or(-1)?;
        match nl::daemon::parse_greeting(&g) {
            Some(nl::daemon::Greeting::Welcome { pid, cookie }) => {
                r.pid = pid;
                r.cookie = cookie;
                Ok(r)
            }
            Some(nl::daemon::Greeting::Refused(e)) => Err(e),
            None => panic!("bad greeting {g:?}"),
        }
    }

    /// Sends one datagram.
    pub fn send(&self, d: &[u8]) {
        rustix::net::send(&self.fd, d, rustix::net::SendFlags::NOSIGNAL).expect("send");
    }

    /// Receives one datagram, waiting up to `timeout`; `None` on timeout
    /// or once the daemon closed the connection.
    pub fn recv_datagram(&self, timeout: Duration) -> Option<Vec<u8>> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        let ts = Timespec {
            tv_sec: timeout.as_secs() as i64,
            tv_nsec: timeout.subsec_nanos() as i64,
        };
        let mut p = [PollFd::new(&self.fd, PollFlags::IN)];
        if poll(&mut p, Some(&ts)).ok()? == 0 {
            return None;
        }
        let mut buf = vec![0u8; 256 * 1024];
        let (n, _) =
            rustix::net::recv(&self.fd, &mut buf[..], rustix::net::RecvFlags::DONTWAIT).ok()?;
        (n > 0).then(|| buf[..n].to_vec())
    }

    /// The next message, waiting up to 5 s for a datagram.
    pub fn recv(&mut self) -> Option<Vec<u8>> {
        self.recv_within(Duration::from_secs(5))
    }

    /// The next message, waiting up to `timeout` for a datagram.
    pub fn recv_within(&mut self, timeout: Duration) -> Option<Vec<u8>> {
        if self.queue.is_empty() {
            let d = self.recv_datagram(timeout)?;
            for m in nl::msg::Messages::new(&d) {
                self.queue.push_back(m.expect("well-framed").bytes.to_vec());
            }
        }
        self.queue.pop_front()
    }

    /// Sends `req` and returns the messages up to and including its ack
    /// or error (or `NLMSG_DONE`).
    pub fn transact(&mut self, req: &[u8]) -> Vec<Vec<u8>> {
        let seq = nl::msg::Header::parse(req).unwrap().seq;
        self.send(req);
        let mut out = Vec::new();
        loop {
            let m = self.recv().expect("answer");
            let h = nl::msg::Header::parse(&m).unwrap();
            let end = h.seq == seq && (h.ty == nl::msg::NLMSG_ERROR || h.ty == nl::msg::NLMSG_DONE);
            out.push(m);
            if end {
                return out;
            }
        }
    }
}

/// The errno of an `NLMSG_ERROR` (0 for an ack); `None` for other types.
pub fn err_of(m: &[u8]) -> Option<i32> {
    let h = nl::msg::Header::parse(m)?;
    (h.ty == nl::msg::NLMSG_ERROR).then(|| nl::msg::parse_error(h.flags, &m[16..]).unwrap().0)
}

/// The extended-ack text of an `NLMSG_ERROR`.
pub fn err_text(m: &[u8]) -> Option<String> {
    let h = nl::msg::Header::parse(m)?;
    nl::msg::parse_error(h.flags, &m[16..]).ok()?.1
}

/// A generic netlink request: `dp_ifindex` makes it an openvswitch one.
pub fn genl(ty: u16, flags: u16, seq: u32, cmd: u8, ifindex: Option<i32>, attrs: &[u8]) -> Vec<u8> {
    let mut b = nl::msg::MsgBuilder::genl(ty, flags, cmd, 1).seq(seq);
    if let Some(i) = ifindex {
        b.header_bytes(&i.to_ne_bytes());
    }
    b.attrs().put_raw(attrs);
    b.finish().unwrap()
}

/// Runs test `test` of the current test binary as a child process under
/// uid/gid 65534, returning its stdout (`None`, with a SKIP line, when not
/// root).
pub fn run_as_nobody(test: &str, env: &[(&str, String)]) -> Option<String> {
    run_as(test, env, "65534")
}

/// Runs test `test` of the current test binary as uid 65534 with group
/// `gid`.
pub fn run_as(test: &str, env: &[(&str, String)], gid: &str) -> Option<String> {
    if rustix::process::geteuid().as_raw() != 0 {
        eprintln!("SKIP: not root, cannot switch to uid 65534");
        return None;
    }
    let exe = std::env::current_exe().unwrap();
    let mut c = std::process::Command::new("setpriv");
    c.args(["--reuid", "65534", "--regid", gid, "--clear-groups"])
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--include-ignored"]);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("setpriv");
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}
