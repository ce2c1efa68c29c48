//! The dpif conformance suite (`dpif-tests`), unchanged, against the kernel
//! datapath. Run as root inside the kvm-ovs guest (`scripts/kernel-tests.sh`,
//! one test at a time: the tests' port names are device names, global to
//! the guest). Without the module or privileges each test prints `SKIP`.
//!
//! The test bed gives each test port a veth pair: one end is the port of
//! the datapath under test, the other end is a port of a second, helper
//! datapath. Injecting a packet is an execute on the helper datapath that
//! outputs it to the peer end; a packet the datapath under test transmits
//! arrives on the helper datapath as a miss upcall, which the bed collects
//! per port. So the bed needs nothing but this crate's own netlink client.

use std::collections::{HashMap, VecDeque};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dpif::{Dpif, DpifClass, Errno, PortSpec};
use dpif_netlink::abi::OVS_DP_F_UNALIGNED;
use dpif_netlink::packet::{ExecuteRequest, UpcallMsg};
use dpif_netlink::vport::{VportRequest, VportType};
use dpif_netlink::{DpId, Kernel, Socket, SystemClass};
use dpif_tests::{Capabilities, TestBed};
use odp::key::{KeyAttr, PortNo};

const DUT: &str = "oxtdut";
const IO: &str = "oxtio";

struct KernelBed {
    class: Arc<SystemClass>,
    kernel: Arc<Kernel>,
    dpif: Dpif,
    io_dp: i32,
    io_sock: Mutex<Socket>,
    /// Port of the datapath under test → port of its peer on the helper.
    peers: Mutex<HashMap<u32, u32>>,
    /// Packets that arrived on each helper port.
    received: Mutex<HashMap<u32, VecDeque<Vec<u8>>>>,
    veths: Mutex<Vec<String>>,
}

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The bed, or `None` (after printing why) when the suite cannot run here.
fn bed() -> Option<Box<KernelBed>> {
    let class = Arc::new(SystemClass::new());
    let kernel = match class.kernel() {
        Ok(k) => k,
        Err(e) => {
            println!("SKIP: {e}");
            return None;
        }
    };
    let _ = kernel.dp_del(DpId::Name(DUT));
    let _ = kernel.dp_del(DpId::Name(IO));
    let dpif = match class.open(DUT, true) {
        Ok(p) => Dpif::new(p),
        Err(Errno::EPERM) => {
            println!("SKIP: no CAP_NET_ADMIN");
            return None;
        }
        Err(e) => panic!("creating {DUT}: {e}"),
    };
    // The host stack must not send its own packets (IPv6 autoconfiguration)
    // through the test ports.
    for f in ["all", "default"] {
        let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{f}/disable_ipv6"), "1");
    }
    let io_sock = Socket::new().unwrap();
    let io = kernel
        .dp_new(IO, io_sock.pid(), OVS_DP_F_UNALIGNED)
        .expect("helper datapath");
    Some(Box::new(KernelBed {
        class,
        kernel,
        dpif,
        io_dp: io.dp_ifindex,
        io_sock: Mutex::new(io_sock),
        peers: Mutex::new(HashMap::new()),
        received: Mutex::new(HashMap::new()),
        veths: Mutex::new(Vec::new()),
    }))
}

impl KernelBed {
    fn peer_of(&self, port: PortNo) -> u32 {
        *self
            .peers
            .lock()
            .unwrap()
            .get(&port.0)
            .expect("not a test port")
    }

    /// Moves every pending helper upcall into `received`.
    fn drain(&self) {
        let mut s = self.io_sock.lock().unwrap();
        while let Ok(Some(m)) = s.recv_unsolicited() {
            let Ok(u) = UpcallMsg::parse(&m) else {
                continue;
            };
            let Ok((key, _)) = odp::nl::key::decode_keys(&u.key, odp::nl::Mode::Tolerant) else {
                continue;
            };
            let Some(in_port) = key.iter().find_map(|a| match a {
                KeyAttr::InPort(p) => Some(*p),
                _ => None,
            }) else {
                continue;
            };
            self.received
                .lock()
                .unwrap()
                .entry(in_port)
                .or_default()
                .push_back(u.packet);
        }
    }
}

impl Drop for KernelBed {
    fn drop(&mut self) {
        let _ = self.kernel.dp_del(DpId::Name(DUT));
        let _ = self.kernel.dp_del(DpId::Ifindex(self.io_dp));
        for v in self.veths.lock().unwrap().iter() {
            let _ = sh(&["ip", "link", "del", v]);
        }
    }
}

impl TestBed for KernelBed {
    fn dpif(&self) -> &Dpif {
        &self.dpif
    }

    fn caps(&self) -> Capabilities {
        Capabilities {
            drop_frags: false,
            sflow: false,
            checks_in_port: false,
            queues: false,
            dumps_unique: false,
        }
    }

    fn add_test_port(&self, name: &str, port_no: Option<PortNo>) -> PortNo {
        let peer = format!("{name}-io");
        assert!(
            sh(&["ip", "link", "add", name, "type", "veth", "peer", "name", &peer]),
            "veth {name}"
        );
        self.veths.lock().unwrap().push(name.to_string());
        assert!(sh(&["ip", "link", "set", name, "up"]));
        assert!(sh(&["ip", "link", "set", &peer, "up"]));
        let p = self
            .dpif
            .port_add(&self.test_port_spec(name), port_no)
            .expect("port_add");
        let pid = self.io_sock.lock().unwrap().pid();
        let r = VportRequest {
            dp_ifindex: self.io_dp,
            vport_type: Some(VportType::Netdev),
            name: Some(peer),
            upcall_pids: Some(vec![pid]),
            ..VportRequest::default()
        };
        let hp = self.kernel.vport_new(&r).expect("helper port").port_no;
        self.peers.lock().unwrap().insert(p.0, hp);
        p
    }

    fn test_port_spec(&self, name: &str) -> PortSpec {
        PortSpec {
            name: name.to_string(),
            port_type: "system".into(),
            options: vec![],
        }
    }

    fn inject(&self, port: PortNo, packet: &[u8]) {
        let hp = self.peer_of(port);
        let mut w = nl::Writer::new();
        w.put_u32(odp::abi::OVS_ACTION_ATTR_OUTPUT, hp);
        let mut key = nl::Writer::new();
        odp::nl::key::emit_keys(&[KeyAttr::InPort(0)], &mut key);
        let ex = ExecuteRequest {
            dp_ifindex: self.io_dp,
            packet: packet.to_vec(),
            key: key.into_bytes(),
            actions: w.into_bytes(),
            ..ExecuteRequest::default()
        };
        self.kernel.execute(&[ex]).remove(0).expect("inject");
    }

    fn take_output(&self, port: PortNo, min: usize, timeout: Duration) -> Vec<Vec<u8>> {
        let hp = self.peer_of(port);
        let deadline = Instant::now() + timeout;
        loop {
            self.drain();
            let n = self
                .received
                .lock()
                .unwrap()
                .get(&hp)
                .map_or(0, |q| q.len());
            let now = Instant::now();
            if n >= min || now >= deadline {
                break;
            }
            let s = self.io_sock.lock().unwrap();
            s.wait_readable(Some(deadline - now));
        }
        // Let stragglers arrive when more than `min` may come.
        self.received
            .lock()
            .unwrap()
            .remove(&hp)
            .map(Vec::from)
            .unwrap_or_default()
    }

    fn reopen(&self) -> Dpif {
        Dpif::new(self.class.open(DUT, false).expect("reopen"))
    }

    fn open_other(&self, name: &str, create: bool) -> Result<Dpif, Errno> {
        self.class.open(name, create).map(Dpif::new)
    }

    fn enumerate(&self) -> Vec<String> {
        self.class.enumerate().expect("enumerate")
    }
}

dpif_tests::suite!(match bed() {
    Some(b) => b,
    None => return,
});
