//! Open vSwitch's own `ovs-dpctl` (Debian's, unmodified) on a datapath of
//! an in-process `oxvsd`, through `oxvs-run`, against `oxvs-dpctl` on the
//! same state: `add-dp`, `add-if`, `add-flow(s)`, `dump-flows` (plain and
//! `-m`), `show [-s]` after traffic, `del-flow(s)`, `del-if`, `del-dp`, each
//! tool acting and both reading. Their texts must be identical but for the
//! datapath's type (`system@` for ovs-dpctl, `netdev@` for oxvs-dpctl).
//!
//! Needs root (veths), `ovs-dpctl`, python3 and the `oxvs-run` of this
//! build (a workspace build makes it); SKIPs loudly otherwise.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

fn target_dir() -> PathBuf {
    // target/<profile>/deps/tests-HASH
    std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .to_path_buf()
}

/// `oxvs-run` and its library, if this build made them.
fn oxvs_run() -> Option<(PathBuf, PathBuf)> {
    let t = target_dir();
    let run = t.join("oxvs-run");
    let lib = [
        t.join("liboxvs_preload.so"),
        t.join("deps/liboxvs_preload.so"),
    ]
    .into_iter()
    .find(|p| p.is_file())?;
    run.is_file().then_some((run, lib))
}

fn root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

fn found(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Env {
    socket: PathBuf,
    dir: PathBuf,
    run: PathBuf,
    lib: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    veths: Vec<String>,
}

impl Env {
    fn start(tag: &str) -> Env {
        let (run, lib) = oxvs_run().unwrap();
        let dir = std::env::temp_dir().join(format!("ovs-dpctl-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("oxvsd.sock");
        let server = oxvsd::Server::bind(oxvsd::Config::new(&socket)).expect("bind oxvsd");
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = Some(std::thread::spawn(move || server.run(&s)));
        Env {
            socket,
            dir,
            run,
            lib,
            stop,
            thread,
            veths: Vec::new(),
        }
    }

    fn veth(&mut self, a: &str, b: &str) {
        let ok = |args: &[&str]| {
            let st = Command::new("ip").args(args).status().unwrap();
            assert!(st.success(), "ip {args:?}");
        };
        ok(&["link", "add", a, "type", "veth", "peer", "name", b]);
        self.veths.push(a.to_string());
        // No IPv6 chatter (router solicitations, MLD): only the test's
        // frames cross the datapath, so both tools read the same counters.
        for d in [a, b] {
            let _ = std::fs::write(format!("/proc/sys/net/ipv6/conf/{d}/disable_ipv6"), "1");
        }
        ok(&["link", "set", a, "up"]);
        ok(&["link", "set", b, "up"]);
    }

    /// `ovs-dpctl ARGS` under oxvs-run: (status, stdout, stderr).
    fn ovs(&self, args: &[&str]) -> (i32, String, String) {
        let o = Command::new(&self.run)
            .arg("ovs-dpctl")
            .args(args)
            .env("OXVSD_SOCKET", &self.socket)
            .env("OXVS_PRELOAD", &self.lib)
            .env_remove("LD_PRELOAD")
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            // OVS logs its meter probe at INFO on the console; not output.
            String::from_utf8_lossy(&o.stderr)
                .lines()
                .filter(|l| !l.contains("|INFO|"))
                .map(|l| format!("{l}\n"))
                .collect(),
        )
    }

    /// `oxvs-dpctl ARGS`: (status, stdout, stderr).
    fn oxvs(&self, args: &[&str]) -> (i32, String, String) {
        let o = Command::new(env!("CARGO_BIN_EXE_oxvs-dpctl"))
            .args(args)
            .env("OXVSD_SOCKET", &self.socket)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    fn ovs_ok(&self, args: &[&str]) -> String {
        let (rc, out, err) = self.ovs(args);
        assert_eq!((rc, err.as_str()), (0, ""), "ovs-dpctl {args:?}");
        out
    }

    fn oxvs_ok(&self, args: &[&str]) -> String {
        let (rc, out, err) = self.oxvs(args);
        assert_eq!((rc, err.as_str()), (0, ""), "oxvs-dpctl {args:?}");
        out
    }

    /// The same reading through both tools, compared.
    fn same(&self, ovs_args: &[&str], oxvs_args: &[&str]) -> String {
        let a = self.ovs_ok(ovs_args);
        let b = self.oxvs_ok(oxvs_args).replace("netdev@", "system@");
        assert_eq!(a, b, "ovs-dpctl {ovs_args:?} vs oxvs-dpctl {oxvs_args:?}");
        a
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for v in &self.veths {
            let _ = Command::new("ip").args(["link", "del", v]).status();
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends `n` copies of `frame` out of device `dev` (AF_PACKET, python3).
fn send_frames(dev: &str, frame: &[u8], n: usize) {
    let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
    let st = Command::new("python3")
        .args([
            "-c",
            &format!(
                "import socket\ns=socket.socket(socket.AF_PACKET,socket.SOCK_RAW)\n\
                 s.bind(('{dev}',0))\nf=bytes.fromhex('{hex}')\n\
                 for _ in range({n}): s.send(f)\n"
            ),
        ])
        .status()
        .unwrap();
    assert!(st.success());
}

#[test]
fn ovs_dpctl_and_oxvs_dpctl_agree_on_the_same_daemon() {
    if !root() {
        eprintln!("SKIP: not root: cannot create veths");
        return;
    }
    if !found("ovs-dpctl") || !found("python3") {
        eprintln!("SKIP: ovs-dpctl (openvswitch-switch) or python3 missing");
        return;
    }
    if oxvs_run().is_none() {
        eprintln!("SKIP: oxvs-run not built beside the tests (build the workspace)");
        return;
    }
    let mut e = Env::start("agree");
    let tag = std::process::id() % 10000;
    let (a0, a1, b0, b1) = (
        format!("oda{tag}"),
        format!("odA{tag}"),
        format!("odb{tag}"),
        format!("odB{tag}"),
    );
    e.veth(&a0, &a1);
    e.veth(&b0, &b1);
    // ovs-dpctl makes the datapath and one port, oxvs-dpctl the other.
    e.ovs_ok(&["add-dp", "dp0"]);
    e.ovs_ok(&["add-if", "dp0", &a0]);
    e.oxvs_ok(&["add-if", "netdev@dp0", &b0]);
    e.same(&["dump-dps"], &["dump-dps"]);
    e.same(&["show"], &["show", "netdev@dp0"]);
    // A flow from each tool (ovs-dpctl's without a UFID, as it makes them).
    let arp = "in_port(1),eth(src=02:00:00:00:00:0a,dst=ff:ff:ff:ff:ff:ff),eth_type(0x0806),\
               arp(sip=10.1.0.1,tip=10.1.0.2,op=1,sha=02:00:00:00:00:0a,tha=00:00:00:00:00:00)";
    let udp = "in_port(2),eth(),eth_type(0x0800),ipv4(src=10.1.0.2,dst=10.1.0.1,proto=17,\
               tos=0,ttl=64,frag=no),udp(src=7,dst=9)";
    e.ovs_ok(&["add-flow", "dp0", arp, "2"]);
    e.oxvs_ok(&["add-flow", "netdev@dp0", udp, "1"]);
    // Traffic through both flows, so that statistics and ports move.
    let mut frame = vec![0xff; 6];
    frame.extend_from_slice(&[2, 0, 0, 0, 0, 0x0a, 0x08, 0x06]);
    frame.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 0x0a, 10, 1, 0, 1]);
    frame.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 1, 0, 2]);
    frame.resize(60, 0);
    send_frames(&a1, &frame, 3);
    let udp_frame = dpif_tests::packet::udp4(
        [2, 0, 0, 0, 0, 0x0b],
        [2, 0, 0, 0, 0, 0x0a],
        [10, 1, 0, 2],
        [10, 1, 0, 1],
        7,
        9,
        10,
    );
    send_frames(&b1, &udp_frame, 2);
    std::thread::sleep(std::time::Duration::from_millis(300));
    // Flow ages differ between the two reads: compare with `used:` cut.
    let cut = |s: String| -> String {
        s.lines()
            .map(|l| match l.find(", used:") {
                Some(i) => {
                    let rest = &l[i + 7..];
                    let end = rest.find(',').map_or(rest.len(), |j| j);
                    format!("{}{}", &l[..i], &rest[end..])
                }
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for args in [vec!["dump-flows"], vec!["dump-flows", "-m"]] {
        let a = cut(e.ovs_ok(&[&args[..], &["dp0"]].concat()));
        let b = cut(e.oxvs_ok(&[&args[..], &["netdev@dp0"]].concat()));
        assert_eq!(a, b, "{args:?}");
        assert!(a.contains("packets:3") && a.contains("packets:2"), "{a}");
    }
    e.same(&["show", "-s"], &["show", "-s", "netdev@dp0"]);
    // Deleting a flow by key with the other tool, then all flows.
    e.oxvs_ok(&["del-flow", "netdev@dp0", arp]);
    assert_eq!(
        cut(e.ovs_ok(&["dump-flows", "dp0"])).lines().count(),
        1,
        "one flow left"
    );
    e.ovs_ok(&["del-flows", "dp0"]);
    e.same(&["dump-flows", "dp0"], &["dump-flows", "netdev@dp0"]);
    assert_eq!(e.ovs_ok(&["dump-flows", "dp0"]), "");
    // Errors: the same words for the same failure.
    let (rc1, _, err1) = e.ovs(&["del-if", "dp0", "nosuchport0"]);
    let (rc2, _, err2) = e.oxvs(&["del-if", "netdev@dp0", "nosuchport0"]);
    assert_eq!(
        (rc1, err1.replace("ovs-dpctl", "X")),
        (rc2, err2.replace("oxvs-dpctl", "X").replace("netdev@", "")),
    );
    e.ovs_ok(&["del-if", "dp0", &b0]);
    e.same(&["show"], &["show", "netdev@dp0"]);
    e.oxvs_ok(&["del-dp", "netdev@dp0"]);
    assert_eq!(e.ovs_ok(&["dump-dps"]), "");
}
