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
