//! The conntrack commands against an `oxvsd` (in this process) whose
//! datapath's tracker holds real connections, made by running the
//! engine's `ct` action on packets built here byte by byte:
//!
//! - `oxvs-dpctl ... netdev@DP` through the daemon: the entries, limits
//!   and flushes are what the engine made, in `ovs-dpctl`'s text;
//! - Debian's `ovs-dpctl` run under `oxvs-run` (which sends its generic
//!   netlink and ctnetlink sockets to the daemon, where the datapath is
//!   its `system@DP`) prints the same bytes for every command both can
//!   run, and each one's flushes are seen alike by the other.
//!
//! The `ovs-dpctl` half SKIPs (saying so) without `ovs-dpctl` or a built
//! `oxvs-run` (`cargo build -p oxvs-run`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use conntrack::CtAction;
use packet::checksum;

struct Daemon {
    dir: PathBuf,
    socket: PathBuf,
    state: Arc<oxvsd::State>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Daemon {
    fn start() -> Daemon {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "dpctl-ct-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("oxvsd.sock");
        let server = oxvsd::Server::bind(oxvsd::Config::new(&socket)).expect("bind oxvsd");
        let state = server.state();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = Some(std::thread::spawn(move || server.run(&s)));
        Daemon {
            dir,
            socket,
            state,
            stop,
            thread,
        }
    }

    /// Runs `oxvs-dpctl`: (exit status, stdout, stderr).
    fn oxvs(&self, args: &[&str]) -> (i32, String, String) {
        let o = Command::new(env!("CARGO_BIN_EXE_oxvs-dpctl"))
            .args(args)
            .env("OXVSD_SOCKET", &self.socket)
            .output()
            .expect("run oxvs-dpctl");
        out(o)
    }

    fn ok(&self, args: &[&str]) -> String {
        let (rc, o, e) = self.oxvs(args);
        assert_eq!((rc, e.as_str()), (0, ""), "oxvs-dpctl {args:?}");
        o
    }

    /// Runs Debian's `ovs-dpctl` under `oxvs-run` against this daemon.
    fn ovs(&self, tools: &Tools, args: &[&str]) -> (i32, String, String) {
        let o = tools
            .oxvs_run(&self.socket)
            .arg(&tools.ovs_dpctl)
            // Its INFO that the datapath has no meters is not an error.
            .arg("--verbose=dpif_netlink:console:warn")
            .args(args)
            .output()
            .expect("run ovs-dpctl under oxvs-run");
        out(o)
    }

    /// The tracker of datapath `dp`.
    fn tracker(&self, dp: &str) -> Arc<oxvsd::datapath::DpEntry> {
        self.state.datapath(dp).expect("datapath exists")
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

fn out(o: std::process::Output) -> (i32, String, String) {
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

struct Tools {
    ovs_dpctl: PathBuf,
    oxvs_run: PathBuf,
    /// The preload library (`cargo test` leaves it in `deps/`, only
    /// `cargo build` copies it beside `oxvs-run`).
    preload: PathBuf,
}

impl Tools {
    /// `oxvs-run --socket SOCKET --` with this build's library.
    fn oxvs_run(&self, socket: &Path) -> Command {
        let mut c = Command::new(&self.oxvs_run);
        c.env("OXVS_PRELOAD", &self.preload)
            .env_remove("LD_PRELOAD")
            .arg("--socket")
            .arg(socket)
            .arg("--");
        c
    }
}

/// `ovs-dpctl` and this build's `oxvs-run`, or why not.
fn tools() -> Result<Tools, String> {
    let ovs_dpctl = ["/usr/bin/ovs-dpctl", "/usr/local/bin/ovs-dpctl"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .ok_or("no ovs-dpctl installed")?;
    let oxvs_run = Path::new(env!("CARGO_BIN_EXE_oxvs-dpctl")).with_file_name("oxvs-run");
    let lib = "liboxvs_preload.so";
    let preload = [
        oxvs_run.with_file_name(lib),
        oxvs_run.with_file_name("deps").join(lib),
    ]
    .into_iter()
    .find(|p| p.is_file());
    match preload {
        Some(preload) if oxvs_run.is_file() => Ok(Tools {
            ovs_dpctl,
            oxvs_run,
            preload,
        }),
        _ => Err(format!(
            "{} or its library not built (cargo build -p oxvs-run)",
            oxvs_run.display()
        )),
    }
}

/// ovsdb-server and ovs-vswitchd (under `oxvs-run`, so its datapaths are
/// the daemon's) in a directory of their own, for `ovs-appctl dpctl/...`;
/// stopped by pid when dropped.
struct Vswitchd {
    dir: PathBuf,
    pids: Vec<PathBuf>,
}

impl Vswitchd {
    fn start(d: &Daemon, t: &Tools) -> Result<Vswitchd, String> {
        let bin = |p: &str| Some(PathBuf::from(p)).filter(|p| p.is_file());
        let (Some(tool), Some(server), Some(vswitchd), Some(_)) = (
            bin("/usr/bin/ovsdb-tool"),
            bin("/usr/sbin/ovsdb-server"),
            bin("/usr/sbin/ovs-vswitchd"),
            bin("/usr/bin/ovs-appctl"),
        ) else {
            return Err("no ovsdb-server, ovs-vswitchd or ovs-appctl".into());
        };
        let dir = d.dir.join("ovs");
        std::fs::create_dir_all(&dir).unwrap();
        let v = Vswitchd {
            pids: vec![dir.join("ovsdb.pid"), dir.join("vswitchd.pid")],
            dir,
        };
        let env = |c: &mut Command| {
            for k in ["OVS_RUNDIR", "OVS_LOGDIR", "OVS_DBDIR", "OVS_SYSCONFDIR"] {
                c.env(k, &v.dir);
            }
        };
        let run = |mut c: Command| {
            env(&mut c);
            let o = c.output().map_err(|e| e.to_string())?;
            if o.status.success() {
                Ok(())
            } else {
                Err(String::from_utf8_lossy(&o.stderr).into_owned())
            }
        };
        let p = |f: &str| v.dir.join(f);
        let mut c = Command::new(tool);
        c.arg("create")
            .arg(p("conf.db"))
            .arg("/usr/share/openvswitch/vswitch.ovsschema");
        run(c)?;
        let mut c = Command::new(server);
        c.arg(format!("--remote=punix:{}", p("db.sock").display()))
            .arg(format!("--pidfile={}", v.pids[0].display()))
            .args(["--detach", "--no-chdir"])
            .arg(format!("--log-file={}", p("ovsdb.log").display()))
            .arg(p("conf.db"));
        run(c)?;
        let mut c = t.oxvs_run(&d.socket);
        c.arg(vswitchd)
            .arg(format!("unix:{}", p("db.sock").display()))
            .arg(format!("--pidfile={}", v.pids[1].display()))
            .args(["--detach", "--no-chdir"])
            .arg(format!("--log-file={}", p("vswitchd.log").display()))
            .arg(format!("--unixctl={}", p("vswitchd.ctl").display()));
        run(c)?;
        Ok(v)
    }

    /// `ovs-appctl dpctl/CMD ARGS...`: (exit status, stdout, stderr).
    fn appctl(&self, cmd: &str, args: &[&str]) -> (i32, String, String) {
        let o = Command::new("/usr/bin/ovs-appctl")
            .arg("-t")
            .arg(self.dir.join("vswitchd.ctl"))
            .arg(format!("dpctl/{cmd}"))
            .args(args)
            .output()
            .expect("run ovs-appctl");
        out(o)
    }
}

impl Drop for Vswitchd {
    fn drop(&mut self) {
        for p in &self.pids {
            if let Some(pid) = std::fs::read_to_string(p)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
    }
}

// ---- packets, built here ------------------------------------------------

fn frame(ethertype: u16, l3: &[u8]) -> Vec<u8> {
    let mut p = vec![0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1];
    p.extend_from_slice(&ethertype.to_be_bytes());
    p.extend_from_slice(l3);
    p
}

/// An IPv4 frame around `l4`, whose checksum at `csum_at` is computed.
fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, l4: &[u8], csum_at: usize) -> Vec<u8> {
    let mut h = vec![0x45, 0];
    h.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    h.extend_from_slice(&[0x12, 0x34, 0x40, 0, 64, proto, 0, 0]);
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let c = checksum::data(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    let mut l4 = l4.to_vec();
    let ph = if proto == 1 {
        0
    } else {
        checksum::pseudo_header_v4(
            u32::from_be_bytes(src),
            u32::from_be_bytes(dst),
            proto,
            l4.len() as u16,
        )
    };
    let c = checksum::finish(checksum::add(ph, &l4));
    l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(&l4);
    frame(0x0800, &h)
}

fn ipv6(src: u128, dst: u128, proto: u8, l4: &[u8], csum_at: usize) -> Vec<u8> {
    let mut h = vec![0x60, 0, 0, 0];
    h.extend_from_slice(&(l4.len() as u16).to_be_bytes());
    h.extend_from_slice(&[proto, 64]);
    h.extend_from_slice(&src.to_be_bytes());
    h.extend_from_slice(&dst.to_be_bytes());
    let mut l4 = l4.to_vec();
    let ph = checksum::pseudo_header_v6(src, dst, proto, l4.len() as u32);
    let c = checksum::finish(checksum::add(ph, &l4));
    l4[csum_at..csum_at + 2].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(&l4);
    frame(0x86dd, &h)
}

fn udp(sport: u16, dport: u16) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&[0, 12, 0, 0, b'a', b'b', b'c', b'd']);
    u
}

fn tcp(sport: u16, dport: u16, seq: u32, ack: u32, flags: u8) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t
}

fn icmp_echo(ty: u8, id: u16) -> Vec<u8> {
    let mut m = vec![ty, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    m
}

const A: [u8; 4] = [10, 0, 0, 1];
const B: [u8; 4] = [10, 0, 0, 2];
const C: [u8; 4] = [10, 0, 0, 3];
const SYN: u8 = 0x02;
const ACKF: u8 = 0x10;

/// Runs `ct(commit, zone, mark, labels)` on `p` in `dp`'s tracker.
fn ct(d: &Daemon, dp: &str, p: Vec<u8>, zone: u16, mark: Option<u32>, labels: Option<u128>) {
    let e = d.tracker(dp);
    let action = CtAction {
        commit: true,
        zone,
        mark: mark.map(|m| (m, u32::MAX)),
        labels: labels.map(|l| (l, u128::MAX)),
        ..CtAction::default()
    };
    let mut p = p;
    let mut md = odp::flow::Flow::default();
    let r =
        e.dp.conntrack()
            .execute(&mut p, &mut md, &action, zone, dpif_netdev::flow::now_ms());
    assert_eq!(r.verdict, conntrack::Verdict::Continue);
    assert_ne!(md.ct_state & 0x20, 0, "tracked: {:#x}", md.ct_state);
}

/// Four connections: UDP (zone 0, replied), TCP (zone 5, established,
/// mark 3), ICMP echo (zone 5), UDP over IPv6 (zone 7, labels).
fn populate(d: &Daemon, dp: &str) {
    ct(d, dp, ipv4(A, B, 17, &udp(5000, 53), 6), 0, None, None);
    ct(d, dp, ipv4(B, A, 17, &udp(53, 5000), 6), 0, None, None);
    ct(
        d,
        dp,
        ipv4(A, B, 6, &tcp(40000, 80, 100, 0, SYN), 16),
        5,
        Some(3),
        None,
    );
    ct(
        d,
        dp,
        ipv4(B, A, 6, &tcp(80, 40000, 700, 101, SYN | ACKF), 16),
        5,
        None,
        None,
    );
    ct(
        d,
        dp,
        ipv4(A, B, 6, &tcp(40000, 80, 101, 701, ACKF), 16),
        5,
        None,
        None,
    );
    ct(d, dp, ipv4(A, C, 1, &icmp_echo(8, 7), 2), 5, None, None);
    let (s6, d6) = (0xfd00u128 << 112 | 1, 0xfd00u128 << 112 | 2);
    ct(
        d,
        dp,
        ipv6(s6, d6, 17, &udp(1000, 2000), 6),
        7,
        None,
        Some(1 << 100 | 5),
    );
}

/// The connections as the engine itself reports them (the independent
/// side of the checks: the engine's own view, not the daemon's text).
fn engine_view(d: &Daemon, dp: &str) -> Vec<(IpAddr, u16, u16, u32)> {
    let mut v: Vec<_> = d
        .tracker(dp)
        .dp
        .conntrack()
        .dump(None, dpif_netdev::flow::now_ms())
        .iter()
        .map(|e| (e.orig.src, e.zone, e.orig.proto.into(), e.mark))
        .collect();
    v.sort();
    v
}

#[test]
fn conntrack_through_the_daemon_and_beside_ovs_dpctl() {
    let d = Daemon::start();
    d.ok(&["add-dp", "netdev@ct0"]);
    let dp = "netdev@ct0";
    populate(&d, "ct0");
    assert_eq!(engine_view(&d, "ct0").len(), 4);

    // The dump: every connection the engine made, as ovs-dpctl prints them.
    let dump = d.ok(&["dump-conntrack", dp]);
    let lines: Vec<&str> = dump.lines().collect();
    assert_eq!(lines.len(), 4, "{dump}");
    assert!(lines.contains(
        &"udp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=5000,dport=53),reply=(src=10.0.0.2,dst=10.0.0.1,sport=53,dport=5000)"
    ), "{dump}");
    assert!(lines.contains(
        &"tcp,orig=(src=10.0.0.1,dst=10.0.0.2,sport=40000,dport=80),reply=(src=10.0.0.2,dst=10.0.0.1,sport=80,dport=40000),zone=5,mark=3,protoinfo=(state=ESTABLISHED)"
    ), "{dump}");
    assert!(lines.contains(
        &"icmp,orig=(src=10.0.0.1,dst=10.0.0.3,id=7,type=8,code=0),reply=(src=10.0.0.3,dst=10.0.0.1,id=7,type=0,code=0),zone=5"
    ), "{dump}");
    assert!(lines.contains(
        &"udp,orig=(src=fd00::1,dst=fd00::2,sport=1000,dport=2000),reply=(src=fd00::2,dst=fd00::1,sport=2000,dport=1000),zone=7,labels=0x10000000000000000000000005"
    ), "{dump}");
    let zone5 = d.ok(&["dump-conntrack", dp, "zone=5"]);
    assert_eq!(zone5.lines().count(), 2, "{zone5}");
    let verbose = d.ok(&["dump-conntrack", "-m", "-s", dp]);
    assert!(
        verbose.contains(",status=SEEN_REPLY|ASSURED|CONFIRMED,timeout="),
        "{verbose}"
    );

    assert_eq!(
        d.ok(&["ct-stats-show", dp, "-m"]),
        "Connections Stats:\n    Total: 4\n  TCP: 1\n    Conn per TCP states:\n\
         \t  [ESTABLISHED]=1\n  UDP: 2\n  ICMP: 1\n"
    );
    assert!(d
        .ok(&["ct-bkts", dp])
        .starts_with("Total Buckets: 256\nCurrent Connections: 4\n\n"));

    // Settings only the userspace tracker has, through the daemon.
    assert_eq!(d.ok(&["ct-get-nconns", dp]), "4\n");
    assert_eq!(
        d.ok(&["ct-set-maxconns", dp, "5"]),
        "setting maxconns successful"
    );
    assert_eq!(d.ok(&["ct-get-maxconns", dp]), "5\n");
    assert_eq!(d.tracker("ct0").dp.conntrack().limits().max_conns(), 5);
    assert_eq!(
        d.ok(&["ct-get-tcp-seq-chk", dp]),
        "TCP sequence checking: enabled\n"
    );
    assert_eq!(
        d.ok(&["ct-disable-tcp-seq-chk", dp]),
        "disabling TCP sequence checking successful"
    );
    assert_eq!(
        d.ok(&["ct-get-tcp-seq-chk", dp]),
        "TCP sequence checking: disabled\n"
    );
    assert!(d.tracker("ct0").dp.conntrack().tcp_be_liberal());
    assert_eq!(
        d.ok(&["ipf-set-disabled", dp, "v6"]),
        "disabling fragmentation reassembly successful"
    );
    assert_eq!(
        d.ok(&["ipf-set-min-frag", dp, "v4", "1000"]),
        "setting minimum fragment size successful"
    );
    assert_eq!(
        d.ok(&["ipf-set-max-nfrags", dp, "500"]),
        "setting maximum fragments successful"
    );
    let st = d.ok(&["ipf-get-status", dp]);
    assert!(
        st.contains(
            "        v4 enabled: 1\n        v6 enabled: 0\n        max num frags (v4/v6): 500\n"
        ),
        "{st}"
    );
    assert!(st.contains("        min v4 frag size: 1000\n"), "{st}");
    let (rc, _, e) = d.oxvs(&["ipf-set-min-frag", dp, "v6", "10"]);
    assert_eq!(
        (rc, e.as_str()),
        (1, "oxvs-dpctl: requested minimum fragment size too small; see documentation (Invalid argument)\n")
    );

    // Zone limits: counts are the engine's.
    d.ok(&[
        "ct-set-limits",
        dp,
        "default=10",
        "zone=5,limit=3",
        "zone=9,limit=1",
    ]);
    assert_eq!(
        d.ok(&["ct-get-limits", dp]),
        "default limit=10\nzone=5,limit=3,count=2\nzone=9,limit=1,count=0\n"
    );
    assert_eq!(
        d.ok(&["ct-get-limits", dp, "zone=7,5"]),
        "default limit=10\nzone=7,limit=10,count=1\nzone=5,limit=3,count=2\n"
    );
    d.ok(&["ct-del-limits", dp, "zone=9"]);
    assert_eq!(
        d.ok(&["ct-get-limits", dp]),
        "default limit=10\nzone=5,limit=3,count=2\n"
    );

    // Flushes: by tuple, by zone, partial tuple, all.
    d.ok(&[
        "flush-conntrack",
        dp,
        "ct_nw_src=10.0.0.1,ct_nw_dst=10.0.0.2,ct_nw_proto=17,ct_tp_src=5000,ct_tp_dst=53",
    ]);
    assert_eq!(engine_view(&d, "ct0").len(), 3);
    let (rc, _, e) = d.oxvs(&[
        "flush-conntrack",
        dp,
        "ct_nw_src=10.0.0.1,ct_nw_dst=10.0.0.2,ct_nw_proto=17,ct_tp_src=5000,ct_tp_dst=53",
    ]);
    assert_eq!(
        (rc, e.as_str()),
        (
            1,
            "oxvs-dpctl: failed to flush conntrack (No such file or directory)\n"
        )
    );
    d.ok(&["flush-conntrack", dp, "zone=5", "ct_nw_dst=10.0.0.3"]);
    assert_eq!(engine_view(&d, "ct0").len(), 2);
    d.ok(&["flush-conntrack", dp, "zone=5"]);
    assert_eq!(engine_view(&d, "ct0").len(), 1);
    d.ok(&["flush-conntrack", dp]);
    assert_eq!(engine_view(&d, "ct0").len(), 0);
    assert_eq!(d.ok(&["dump-conntrack", dp]), "");

    // Bad arguments, as ovs-dpctl words them.
    let (rc, _, e) = d.oxvs(&["flush-conntrack", dp, "ct_nw_src=1.2.3"]);
    assert_eq!(
        (rc, e.as_str()),
        (
            1,
            "oxvs-dpctl: failed to parse field ct_nw_src (Invalid argument)\n"
        )
    );
    let (rc, _, e) = d.oxvs(&["ct-set-limits", dp, "zone=1"]);
    assert_eq!(
        (rc, e.as_str()),
        (
            1,
            "oxvs-dpctl: failed to parse zone limit (Invalid argument)\n"
        )
    );

    // Timeout policies through the `netdev` client: cttimeout objects on
    // the daemon, one per protocol, which its trackers take as policies.
    let class = dpif_netlink::RemoteClass::new(&d.socket);
    let h = dpif::Dpif::new(dpif::DpifClass::open(&class, "ct0", false).unwrap());
    let mut tp = dpif::ct::CtTimeoutPolicy {
        id: 4,
        ..Default::default()
    };
    tp.attrs[dpif::ct::tp_attr::TCP_SYN_SENT] = Some(33);
    tp.attrs[dpif::ct::tp_attr::UDP_SINGLE] = Some(40);
    h.ct_set_timeout_policy(&tp).unwrap();
    let engine = d
        .tracker("ct0")
        .dp
        .conntrack()
        .timeout_policy("ovs_tp_4_tcp4")
        .unwrap();
    assert_eq!(
        (engine.tcp.syn_sent, engine.tcp.established),
        (33, 5 * 24 * 3600)
    );
    let engine = d
        .tracker("ct0")
        .dp
        .conntrack()
        .timeout_policy("ovs_tp_4_udp6")
        .unwrap();
    assert_eq!((engine.udp_unreplied, engine.udp_replied), (40, 120));
    let got = h.ct_get_timeout_policy(4).unwrap();
    use dpif::ct::tp_attr as a;
    assert_eq!(got.attrs[a::TCP_SYN_SENT], Some(33));
    assert_eq!(got.attrs[a::TCP_ESTABLISHED], Some(5 * 24 * 3600));
    assert_eq!(
        (got.attrs[a::UDP_SINGLE], got.attrs[a::UDP_MULTIPLE]),
        (Some(40), Some(120))
    );
    assert_eq!(
        (got.attrs[a::UDP_FIRST], got.attrs[a::ICMP_REPLY]),
        (None, None)
    );
    assert_eq!(
        h.ct_timeout_policy_name(4, true, 58).unwrap(),
        "ovs_tp_4_icmpv6"
    );
    h.ct_del_timeout_policy(4).unwrap();
    assert!(d
        .tracker("ct0")
        .dp
        .conntrack()
        .timeout_policy("ovs_tp_4_tcp4")
        .is_none());
    assert_eq!(h.ct_get_timeout_policy(4), Err(dpif::Errno::ENOENT));
    h.ct_del_timeout_policy(4).unwrap();

    // ---- Debian's ovs-dpctl beside it ----------------------------------
    let t = match tools() {
        Ok(t) => t,
        Err(why) => {
            println!(
                "SKIP: conntrack_through_the_daemon_and_beside_ovs_dpctl (ovs-dpctl part): {why}"
            );
            return;
        }
    };
    let sys = "system@ct0";
    // The settings above are the daemon's, not the test's: back to none.
    d.ok(&["ct-set-limits", dp, "default=0"]);
    d.ok(&["ct-del-limits", dp, "zone=5"]);
    populate(&d, "ct0");
    let same = |ours: &[&str], theirs: &[&str]| {
        let (rc1, o1, e1) = d.oxvs(ours);
        let (rc2, o2, e2) = d.ovs(&t, theirs);
        assert_eq!((rc2, e2.as_str()), (0, ""), "ovs-dpctl {theirs:?}");
        assert_eq!((rc1, e1.as_str()), (0, ""), "oxvs-dpctl {ours:?}");
        assert_eq!(o1, o2, "oxvs-dpctl {ours:?} vs ovs-dpctl {theirs:?}");
        o1
    };
    assert_eq!(
        same(&["dump-conntrack", dp], &["dump-conntrack", sys])
            .lines()
            .count(),
        4
    );
    same(&["dump-conntrack", dp], &["dump-conntrack"]);
    same(
        &["dump-conntrack", "-m", dp],
        &["dump-conntrack", "-m", sys],
    );
    same(
        &["dump-conntrack", "-s", dp, "zone=5"],
        &["dump-conntrack", "-s", sys, "zone=5"],
    );
    same(&["ct-stats-show", dp], &["ct-stats-show", sys]);
    same(
        &["ct-stats-show", "-m", dp, "zone=5"],
        &["ct-stats-show", sys, "zone=5", "verbose"],
    );
    // Limits set by either are read alike by both.
    d.ok(&["ct-set-limits", dp, "default=10", "zone=5,limit=3"]);
    same(&["ct-get-limits", dp], &["ct-get-limits", sys]);
    same(
        &["ct-get-limits", dp, "zone=7,5"],
        &["ct-get-limits", sys, "zone=7,5"],
    );
    let (rc, o, e) = d.ovs(&t, &["ct-set-limits", sys, "default=20", "zone=7,limit=4"]);
    assert_eq!((rc, o.as_str(), e.as_str()), (0, "", ""));
    assert_eq!(
        same(&["ct-get-limits", dp], &["ct-get-limits", sys]),
        "default limit=20\nzone=5,limit=3,count=2\nzone=7,limit=4,count=1\n"
    );
    let (rc, _, e) = d.ovs(&t, &["ct-del-limits", sys, "zone=5,7"]);
    assert_eq!((rc, e.as_str()), (0, ""));
    assert_eq!(
        same(&["ct-get-limits", dp], &["ct-get-limits", sys]),
        "default limit=20\n"
    );
    // What OVS's system datapath class lacks, OVS says so for the
    // daemon's datapath as for the kernel's.
    for (cmd, msg) in [
        ("ct-get-maxconns", "maxconns could not be retrieved"),
        ("ct-get-nconns", "nconns could not be retrieved"),
        ("ct-get-tcp-seq-chk", "TCP sequence checking query failed"),
        ("ipf-get-status", "ipf status could not be retrieved"),
    ] {
        let (rc, o, e) = d.ovs(&t, &[cmd, sys]);
        assert_eq!(
            (rc != 0, o.as_str(), e.as_str()),
            (
                true,
                "",
                format!("ovs-dpctl: {msg} (Operation not supported)\n").as_str()
            ),
            "{cmd}"
        );
    }
    // Flushes by ovs-dpctl (OVS 3.1 takes no datapath argument before
    // the tuple), seen by both.
    let (rc, _, e) = d.ovs(
        &t,
        &[
            "flush-conntrack",
            "ct_nw_src=10.0.0.1,ct_nw_dst=10.0.0.2,ct_nw_proto=17,ct_tp_src=5000,ct_tp_dst=53",
        ],
    );
    assert_eq!((rc, e.as_str()), (0, ""));
    assert_eq!(engine_view(&d, "ct0").len(), 3);
    same(&["dump-conntrack", dp], &["dump-conntrack", sys]);
    let (rc, _, e) = d.ovs(&t, &["flush-conntrack", "zone=5"]);
    assert_eq!((rc, e.as_str()), (0, ""));
    assert_eq!(engine_view(&d, "ct0").len(), 1);
    assert_eq!(
        same(
            &["dump-conntrack", "-m", dp],
            &["dump-conntrack", "-m", sys]
        )
        .lines()
        .count(),
        1
    );
    let (rc, _, e) = d.ovs(&t, &["flush-conntrack"]);
    assert_eq!((rc, e.as_str()), (0, ""));
    assert_eq!(engine_view(&d, "ct0").len(), 0);
    assert_eq!(same(&["dump-conntrack", dp], &["dump-conntrack", sys]), "");

    // ---- and ovs-appctl dpctl/... of an ovs-vswitchd under oxvs-run ----
    let v = match Vswitchd::start(&d, &t) {
        Ok(v) => v,
        Err(why) => {
            println!(
                "SKIP: conntrack_through_the_daemon_and_beside_ovs_dpctl (ovs-appctl part): {why}"
            );
            return;
        }
    };
    populate(&d, "ct0");
    d.ok(&["ct-set-limits", dp, "default=0", "zone=5,limit=9"]);
    let same_app = |ours: &[&str], cmd: &str, theirs: &[&str]| {
        let (rc1, o1, e1) = d.oxvs(ours);
        let (rc2, o2, e2) = v.appctl(cmd, theirs);
        assert_eq!(
            (rc2, e2.as_str()),
            (0, ""),
            "ovs-appctl dpctl/{cmd} {theirs:?}"
        );
        assert_eq!((rc1, e1.as_str()), (0, ""), "oxvs-dpctl {ours:?}");
        assert_eq!(
            o1, o2,
            "oxvs-dpctl {ours:?} vs ovs-appctl dpctl/{cmd} {theirs:?}"
        );
        o1
    };
    assert_eq!(
        same_app(&["dump-conntrack", dp], "dump-conntrack", &[sys])
            .lines()
            .count(),
        4
    );
    same_app(
        &["dump-conntrack", "-m", dp, "zone=5"],
        "dump-conntrack",
        &["-m", sys, "zone=5"],
    );
    same_app(&["ct-stats-show", "-m", dp], "ct-stats-show", &["-m", sys]);
    assert_eq!(
        same_app(&["ct-get-limits", dp], "ct-get-limits", &[sys]),
        "default limit=0\nzone=5,limit=9,count=2\n"
    );
    let (rc, _, e) = v.appctl("flush-conntrack", &["zone=5"]);
    assert_eq!((rc, e.as_str()), (0, ""));
    assert_eq!(engine_view(&d, "ct0").len(), 2);
    same_app(&["dump-conntrack", dp], "dump-conntrack", &[sys]);
    let (rc, _, e) = v.appctl("ct-del-limits", &[sys, "zone=5"]);
    assert_eq!((rc, e.as_str()), (0, ""));
    assert_eq!(
        same_app(&["ct-get-limits", dp], "ct-get-limits", &[sys]),
        "default limit=0\n"
    );
    let (rc, _, e) = v.appctl("flush-conntrack", &[]);
    assert_eq!((rc, e.as_str()), (0, ""));
    assert_eq!(engine_view(&d, "ct0").len(), 0);
}
