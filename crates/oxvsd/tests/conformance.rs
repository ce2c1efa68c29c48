//! The dpif conformance suite against the `netdev` provider over the
//! daemon's socket: every operation crosses the Unix socket as the kernel's
//! openvswitch messages. Packets are injected into (and read from) the
//! daemon's dummy ports directly, the daemon running in this process.

mod common;

use std::time::Duration;

use common::{unique, Daemon};
use dpif::{Dpif, DpifClass, Errno, PortSpec};
use dpif_netlink::RemoteClass;
use dpif_tests::{Capabilities, TestBed};
use odp::key::PortNo;

struct RemoteBed {
    // Dropped last: the daemon outlives the client.
    class: dpif_netlink::SystemClass,
    dpif: Dpif,
    daemon: Daemon,
}

impl RemoteBed {
    fn new() -> Box<RemoteBed> {
        let daemon = Daemon::start();
        let class = RemoteClass::new(&daemon.path);
        let dp = class.open(&unique("c"), true).expect("create datapath");
        Box::new(RemoteBed {
            class,
            dpif: Dpif::new(dp),
            daemon,
        })
    }
}

impl Drop for RemoteBed {
    fn drop(&mut self) {
        let _ = self.dpif.destroy();
    }
}

impl TestBed for RemoteBed {
    fn dpif(&self) -> &Dpif {
        &self.dpif
    }

    fn caps(&self) -> Capabilities {
        // The same as the userspace datapath in process: every setting
        // crosses the socket.
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
        self.daemon.inject(self.dpif.name(), port, packet)
    }

    fn take_output(&self, port: PortNo, min: usize, timeout: Duration) -> Vec<Vec<u8>> {
        self.daemon
            .take_output(self.dpif.name(), port, min, timeout)
    }

    fn reopen(&self) -> Dpif {
        Dpif::new(self.class.open(self.dpif.name(), false).expect("reopen"))
    }

    fn open_other(&self, name: &str, create: bool) -> Result<Dpif, Errno> {
        self.class.open(name, create).map(Dpif::new)
    }

    fn enumerate(&self) -> Vec<String> {
        self.class.enumerate().expect("enumerate")
    }
}

dpif_tests::suite!(RemoteBed::new());
