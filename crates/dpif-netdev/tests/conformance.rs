//! The dpif conformance suite against the userspace datapath, with dummy
//! (in-memory) ports.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dpif::{Dpif, DpifClass, Errno, PortSpec};
use dpif_netdev::{Datapath, NetdevClass};
use dpif_tests::{Capabilities, TestBed};
use netdev::dummy::DummyNetdev;
use odp::key::PortNo;

struct NetdevBed {
    class: NetdevClass,
    dp: Arc<Datapath>,
    dpif: Dpif,
    /// Packets taken from each port's transmit log but not yet returned.
    pending: Mutex<Vec<(PortNo, Vec<u8>)>>,
}

impl NetdevBed {
    fn new() -> Box<NetdevBed> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t{}-{}",
            std::process::id() % 100_000,
            N.fetch_add(1, Ordering::Relaxed)
        );
        let class = NetdevClass { n_pmds: 1 };
        let dp = class.open_dp(&name, true).expect("create datapath");
        let dpif = Dpif::new(dp.clone());
        Box::new(NetdevBed {
            class,
            dp,
            dpif,
            pending: Mutex::new(Vec::new()),
        })
    }

    fn dummy(&self, port: PortNo) -> Arc<dyn netdev::Netdev> {
        self.dp.port_netdev(port).expect("port exists")
    }
}

impl Drop for NetdevBed {
    fn drop(&mut self) {
        let _ = self.dpif.destroy();
    }
}

impl TestBed for NetdevBed {
    fn dpif(&self) -> &Dpif {
        &self.dpif
    }

    fn caps(&self) -> Capabilities {
        Capabilities {
            drop_frags: true,
            sflow: true,
            checks_in_port: true,
            queues: true,
            dumps_unique: true,
        }
    }

    fn add_test_port(&self, name: &str, port_no: Option<PortNo>) -> PortNo {
        self.dpif
            .port_add(&self.test_port_spec(name), port_no)
            .expect("add test port")
    }

    fn test_port_spec(&self, name: &str) -> PortSpec {
        PortSpec {
            name: name.into(),
            port_type: "dummy".into(),
            options: vec![("rx_queue_len".into(), "100000".into())],
        }
    }

    fn inject(&self, port: PortNo, packet: &[u8]) {
        let dev = self.dummy(port);
        let dummy = dev
            .as_any()
            .downcast_ref::<DummyNetdev>()
            .expect("dummy port");
        assert!(
            dummy.inject(0, packet).expect("inject"),
            "receive queue full"
        );
    }

    fn take_output(&self, port: PortNo, min: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let dev = self.dummy(port);
        let dummy = dev
            .as_any()
            .downcast_ref::<DummyNetdev>()
            .expect("dummy port");
        let start = Instant::now();
        let mut got = Vec::new();
        loop {
            got.extend(dummy.take_sent().into_iter().map(|p| p.data().to_vec()));
            if got.len() >= min || start.elapsed() >= timeout {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = &self.pending;
        got
    }

    fn reopen(&self) -> Dpif {
        Dpif::new(self.class.open_dp(self.dpif.name(), false).expect("reopen"))
    }

    fn open_other(&self, name: &str, create: bool) -> Result<Dpif, Errno> {
        self.class.open(name, create).map(Dpif::new)
    }

    fn enumerate(&self) -> Vec<String> {
        self.class.enumerate().expect("enumerate")
    }
}

dpif_tests::suite!(NetdevBed::new());
