//! `oxvs-bench SCENARIO`: forwarding benchmarks of the userspace datapath
//! with in-memory ports, 64-byte packets and one poll thread (pinned to the
//! last CPU, as the OVS-DPDK peer pins its PMD). Prints one
//! JSON line per run.
//!
//! Scenarios:
//! - `io`: the baseline: a loop that moves packets from the generator port
//!   to the discard port with no datapath at all. Every other scenario's
//!   `ratio_to_io` is its rate divided by this one, measured in the same run.
//! - `exact`: one flow; every packet hits the exact-match cache.
//! - `megaflow`: 10,000 flows over 16 masks; 65,536 distinct packets, more
//!   than the cache holds, so most lookups go to the classifier.
//! - `large`: 1,000,000 flows (one mask); traffic spread over all of them.
//!   Also reports memory per flow.
//! - `setup`: every packet a new flow; a handler thread installs one flow
//!   per miss upcall. `mpps` counts packets, each a new flow; `flows_per_sec`
//!   is the install rate. The generator port holds its packets while the
//!   upcall queues are full (`rx_hold`), so `lost` should be 0.
//! - `puts` (not in `all`): the handler's side of `setup` alone: 200,000
//!   exact-match puts of upcall keys through dpif `operate`, 64 at a time,
//!   from one thread, with no traffic. `flows_per_sec` is the install rate.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dpif::{Dpif, FlowPut, ListenMask, Op, PortSpec, PutFlags};
use dpif_netdev::{Datapath, NetdevClass};
use netdev::dummy::DummyNetdev;
use netdev::Netdev;
use odp::action::Action;
use odp::convert::{flow_to_key, flow_to_mask, KeyParms};
use odp::flow::Flow;
use odp::key::PortNo;

const USAGE: &str = "usage: oxvs-bench [--seconds N] io|exact|megaflow|large|setup|puts|all";

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut seconds = 3.0f64;
    if let Some(i) = args.iter().position(|a| a == "--seconds") {
        if i + 1 >= args.len() {
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
        seconds = match args[i + 1].parse() {
            Ok(s) if s > 0.0 => s,
            _ => {
                eprintln!("oxvs-bench: bad --seconds value {:?}", args[i + 1]);
                std::process::exit(2);
            }
        };
        args.drain(i..i + 2);
    }
    let [scenario] = args.as_slice() else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let window = Duration::from_secs_f64(seconds);
    let scenarios: Vec<&str> = match scenario.as_str() {
        "all" => vec!["exact", "megaflow", "large", "setup"],
        s @ ("io" | "exact" | "megaflow" | "large" | "setup" | "puts") => vec![s],
        other => {
            eprintln!("oxvs-bench: unknown scenario {other:?}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let baseline = io_baseline(window);
    if scenario == "io" {
        emit(&baseline, None);
        return;
    }
    for s in scenarios {
        let r = match s {
            "exact" => exact(window),
            "megaflow" => megaflow(window),
            "large" => large(window),
            "puts" => puts(),
            _ => setup(window),
        };
        emit(&r, Some(&baseline));
    }
}

/// One measurement.
#[derive(Debug, Default)]
struct Report {
    scenario: &'static str,
    packets: u64,
    seconds: f64,
    flows: u64,
    masks: u32,
    /// Packets that matched a flow (cache or classifier).
    hits: u64,
    cache_hits: u64,
    mask_visits: u64,
    lost: u64,
    flows_per_sec: Option<f64>,
    bytes_per_flow: Option<f64>,
    /// Nanoseconds the poll thread spent on a CPU during the window.
    pmd_cpu_ns: Option<u64>,
    /// Nanoseconds the handler thread spent on a CPU (`setup`).
    handler_cpu_ns: Option<u64>,
}

impl Report {
    fn mpps(&self) -> f64 {
        self.packets as f64 / self.seconds / 1e6
    }
}

fn emit(r: &Report, baseline: Option<&Report>) {
    let mpps = r.mpps();
    let mut line = format!(
        "{{\"scenario\": \"{}\", \"mpps\": {:.3}, \"ns_per_packet\": {:.1}, \"packets\": {}, \"seconds\": {:.3}, \"flows\": {}, \"masks\": {}, \"cache_hit_ratio\": {:.3}, \"masks_per_lookup\": {:.2}, \"lost\": {}",
        r.scenario,
        mpps,
        if mpps > 0.0 { 1e3 / mpps } else { 0.0 },
        r.packets,
        r.seconds,
        r.flows,
        r.masks,
        if r.hits > 0 { r.cache_hits as f64 / r.hits as f64 } else { 0.0 },
        // Subtables visited per classifier hit (misses visit every subtable
        // and are not counted, as in OVS).
        if r.hits > r.cache_hits { r.mask_visits as f64 / (r.hits - r.cache_hits) as f64 } else { 0.0 },
        r.lost,
    );
    if let Some(b) = baseline {
        line.push_str(&format!(
            ", \"io_mpps\": {:.3}, \"ratio_to_io\": {:.3}",
            b.mpps(),
            mpps / b.mpps()
        ));
    }
    if let Some(f) = r.flows_per_sec {
        line.push_str(&format!(", \"flows_per_sec\": {f:.0}"));
    }
    if let (Some(ns), true) = (r.pmd_cpu_ns, r.packets > 0) {
        // On-CPU time of the poll thread per packet: unlike the wall-clock
        // figures, not inflated when other processes take the CPU.
        line.push_str(&format!(
            ", \"pmd_cpu_ns_per_packet\": {:.1}",
            ns as f64 / r.packets as f64
        ));
    }
    if let (Some(ns), true) = (r.handler_cpu_ns, r.flows > 0) {
        // On-CPU time of the handler (upcall receive and flow install)
        // per installed flow.
        line.push_str(&format!(
            ", \"handler_cpu_ns_per_flow\": {:.1}",
            ns as f64 / r.flows as f64
        ));
    }
    if let Some(b) = r.bytes_per_flow {
        line.push_str(&format!(", \"bytes_per_flow\": {b:.0}"));
    }
    line.push('}');
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

/// A 64-byte (60 + FCS) UDP/IPv4 frame.
fn udp_frame(src_ip: u32, dst_ip: u32, sport: u16, dport: u16) -> Vec<u8> {
    let mut flow = Flow {
        dl_src: [0x02, 0, 0, 0, 0, 1],
        dl_dst: [0x02, 0, 0, 0, 0, 2],
        dl_type: 0x0800,
        nw_src: src_ip,
        nw_dst: dst_ip,
        nw_proto: 17,
        nw_ttl: 64,
        tp_src: sport,
        tp_dst: dport,
        ..Flow::default()
    };
    flow.in_port = 1;
    let mut p = odp::compose::compose(&flow, 18);
    p.resize(60, 0);
    p
}

/// A datapath with a generator port 1 and a discard port 2.
struct Rig {
    dp: Arc<Datapath>,
    dpif: Dpif,
    rx: Arc<dyn Netdev>,
    tx: Arc<dyn Netdev>,
}

fn rig(name: &str) -> Rig {
    rig_with(name, &[])
}

/// [`rig`] with extra options for the generator port.
fn rig_with(name: &str, in_opts: &[(&str, &str)]) -> Rig {
    let class = NetdevClass { n_pmds: 1 };
    let dp = class.open_dp(name, true).expect("create datapath");
    let dpif = Dpif::new(dp.clone());
    let spec = |n: &str, opts: &[(&str, &str)]| PortSpec {
        name: n.to_string(),
        port_type: "dummy".into(),
        options: opts
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    dpif.port_add(&spec(&format!("{name}-in"), in_opts), Some(PortNo(1)))
        .expect("port 1");
    dpif.port_add(
        &spec(&format!("{name}-out"), &[("tx_discard", "true")]),
        Some(PortNo(2)),
    )
    .expect("port 2");
    // The poll thread runs on the last CPU, as the OVS-DPDK peer's PMD
    // (pmd-cpu-mask) does: it is not moved between CPUs mid-run.
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    dp.pin_pmd(0, cpus - 1);
    let rx = dp.port_netdev(PortNo(1)).expect("port 1");
    let tx = dp.port_netdev(PortNo(2)).expect("port 2");
    Rig { dp, dpif, rx, tx }
}

impl Rig {
    fn generate(&self, templates: Vec<Vec<u8>>) {
        let dummy = self
            .rx
            .as_any()
            .downcast_ref::<DummyNetdev>()
            .expect("dummy");
        dummy.set_generator(0, templates, None).expect("generator");
    }

    fn stop(&self) {
        let dummy = self
            .rx
            .as_any()
            .downcast_ref::<DummyNetdev>()
            .expect("dummy");
        let _ = dummy.set_generator(0, Vec::new(), None);
    }

    /// Measures forwarded packets over `window`, after a warm-up.
    fn measure(&self, scenario: &'static str, window: Duration) -> Report {
        std::thread::sleep(Duration::from_millis(500));
        let s0 = self.dpif.get_stats().expect("stats");
        let c0 = pmd_cpu_ns();
        let t0 = self.tx.stats().tx_packets;
        let start = Instant::now();
        std::thread::sleep(window);
        let t1 = self.tx.stats().tx_packets;
        let c1 = pmd_cpu_ns();
        let elapsed = start.elapsed().as_secs_f64();
        let s1 = self.dpif.get_stats().expect("stats");
        Report {
            scenario,
            packets: t1 - t0,
            seconds: elapsed,
            flows: s1.n_flows,
            masks: s1.n_masks,
            hits: s1.n_hit - s0.n_hit,
            cache_hits: s1.n_cache_hit - s0.n_cache_hit,
            mask_visits: s1.n_mask_hit - s0.n_mask_hit,
            lost: s1.n_lost - s0.n_lost,
            pmd_cpu_ns: c0.zip(c1).map(|(a, b)| b.saturating_sub(a)),
            ..Report::default()
        }
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop();
        let _ = self.dpif.destroy();
        let _ = &self.dp;
    }
}

/// A put of `key` under `mask` (both flows) with output to port 2.
fn put_op(key: &Flow, mask: &Flow) -> Op {
    let parms = KeyParms::all();
    Op::Put(FlowPut {
        flags: PutFlags::CREATE,
        key: flow_to_key(key, &parms),
        mask: Some(flow_to_mask(mask, key, &parms)),
        ufid: None,
        actions: vec![Action::Output(PortNo(2))],
        want_stats: false,
    })
}

fn install(dpif: &Dpif, ops: Vec<Op>) -> usize {
    let mut ok = 0;
    for chunk in ops.chunks(1000) {
        for r in dpif.operate(chunk) {
            match r {
                Ok(_) => ok += 1,
                Err(e) if ok == 0 => eprintln!("oxvs-bench: flow put failed: {e:?}"),
                Err(_) => {}
            }
        }
    }
    ok
}

/// A mask matching in_port, eth_type and the top `prefix` bits of nw_dst.
fn dst_prefix_mask(prefix: u32) -> Flow {
    Flow {
        in_port: u32::MAX,
        dl_type: 0xffff,
        nw_dst: if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - prefix)
        },
        ..Flow::default()
    }
}

fn base_key(dst: u32) -> Flow {
    Flow {
        in_port: 1,
        dl_src: [0x02, 0, 0, 0, 0, 1],
        dl_dst: [0x02, 0, 0, 0, 0, 2],
        dl_type: 0x0800,
        nw_src: 0x0a00_0001,
        nw_dst: dst,
        nw_proto: 17,
        nw_ttl: 64,
        tp_src: 1,
        tp_dst: 9,
        ..Flow::default()
    }
}

/// Moves packets from a generator to a discard port in a plain loop: the
/// cost of the in-memory I/O alone.
fn io_baseline(window: Duration) -> Report {
    let rx = DummyNetdev::new("io-in");
    let tx = DummyNetdev::from_options("io-out", &[("tx_discard".into(), "true".into())])
        .expect("dummy");
    rx.set_generator(0, vec![udp_frame(0x0a00_0001, 0x0a00_0002, 1, 9)], None)
        .expect("gen");
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let tx = Arc::new(tx);
    let tx2 = tx.clone();
    let t = std::thread::spawn(move || {
        let mut batch = netdev::Batch::new();
        while !s.load(Ordering::Relaxed) {
            batch.clear();
            if rx.rxq_recv(0, &mut batch).unwrap_or(0) > 0 {
                let _ = tx2.send(0, &mut batch);
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    let p0 = tx.stats().tx_packets;
    let start = Instant::now();
    std::thread::sleep(window);
    let p1 = tx.stats().tx_packets;
    let seconds = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let _ = t.join();
    Report {
        scenario: "io",
        packets: p1 - p0,
        seconds,
        ..Report::default()
    }
}

fn exact(window: Duration) -> Report {
    let rig = rig("bexact");
    let key = base_key(0x0a00_0002);
    let mask = odp::convert::exact_mask_for_packet(&key);
    assert_eq!(
        install(&rig.dpif, vec![put_op(&key, &mask)]),
        1,
        "install the flow"
    );
    rig.generate(vec![udp_frame(0x0a00_0001, 0x0a00_0002, 1, 9)]);
    rig.measure("exact", window)
}

/// The 16 megaflow masks: /24 to /31 destination prefixes, each alone or
/// with the UDP destination port; mask `m` covers the region 10.m.0.0/12.
fn mega_mask(m: u32) -> (Flow, u32) {
    let prefix = 24 + (m % 8);
    let mut mask = dst_prefix_mask(prefix);
    if m >= 8 {
        mask.nw_proto = 0xff;
        mask.tp_dst = 0xffff;
    }
    (mask, prefix)
}

fn mega_dst(m: u32, i: u32, host: u32) -> u32 {
    let prefix = 24 + (m % 8);
    let host_bits = 32 - prefix;
    0x0a00_0000 | (m << 20) | (i << host_bits) | (host & ((1 << host_bits) - 1))
}

fn megaflow(window: Duration) -> Report {
    let rig = rig("bmega");
    let mut ops = Vec::new();
    // 16 masks, 625 flows each: 10,000 flows.
    for m in 0..16u32 {
        let (mask, _) = mega_mask(m);
        for i in 0..625u32 {
            ops.push(put_op(&base_key(mega_dst(m, i, 0)), &mask));
        }
    }
    let n = install(&rig.dpif, ops);
    assert_eq!(n, 10_000, "install 10,000 flows");
    // 65,536 distinct packets spread over every flow: more than the cache holds.
    let templates = (0..65_536u32)
        .map(|t| {
            let h = t.wrapping_mul(2_654_435_761);
            let dst = mega_dst(t % 16, (t / 16) % 625, h >> 8);
            udp_frame(0x0a00_0001, dst, (t & 0xffff) as u16, 9)
        })
        .collect();
    rig.generate(templates);
    rig.measure("megaflow", window)
}

/// Time on CPU, in nanoseconds, of this process's poll thread (the thread
/// whose name starts with `pmd0-`), from `/proc/self/task/*/schedstat`.
fn pmd_cpu_ns() -> Option<u64> {
    thread_cpu_ns("pmd0-")
}

/// Time on CPU, in nanoseconds, of this process's first thread whose name
/// starts with `prefix`.
fn thread_cpu_ns(prefix: &str) -> Option<u64> {
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.starts_with(prefix) {
            let st = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
            return st.split_whitespace().next()?.parse().ok();
        }
    }
    None
}

fn rss_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn large(window: Duration) -> Report {
    const N: u32 = 1_000_000;
    let rig = rig("blarge");
    let mask = dst_prefix_mask(32);
    let before = rss_bytes();
    let mut installed = 0;
    let mut ops = Vec::with_capacity(10_000);
    for i in 0..N {
        ops.push(put_op(&base_key(0x0b00_0000 + i), &mask));
        if ops.len() == 10_000 {
            installed += install(&rig.dpif, std::mem::take(&mut ops));
        }
    }
    installed += install(&rig.dpif, ops);
    assert_eq!(installed, N as usize, "install 1,000,000 flows");
    // Let the poll thread apply every insertion before measuring memory.
    std::thread::sleep(Duration::from_secs(2));
    let after = rss_bytes();
    let templates: Vec<Vec<u8>> = (0..262_144u32)
        .map(|t| {
            udp_frame(
                0x0a00_0001,
                0x0b00_0000 + (t.wrapping_mul(2_654_435_761) % N),
                1,
                9,
            )
        })
        .collect();
    rig.generate(templates);
    let mut r = rig.measure("large", window);
    if let (Some(b), Some(a)) = (before, after) {
        r.bytes_per_flow = Some(a.saturating_sub(b) as f64 / f64::from(N));
    }
    r
}

fn setup(window: Duration) -> Report {
    const N: u32 = 200_000;
    // The generator waits while the upcall queues are full, as a NIC's
    // ring holds packets the poll thread has not taken: no miss is lost
    // for running ahead of the handler.
    let rig = rig_with("bsetup", &[("rx_hold", "true")]);
    rig.dpif.handlers_set(1).expect("handlers");
    rig.dpif.recv_set_mask(ListenMask::ALL).expect("listen");
    let stop = Arc::new(AtomicBool::new(false));
    let handler = {
        let dpif = rig.dpif.clone();
        let stop = stop.clone();
        let spawn = std::thread::Builder::new().name("handler0".into());
        spawn
            .spawn(move || {
                let mut installed = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if !dpif.recv_wait(0, Some(Duration::from_millis(50))) {
                        continue;
                    }
                    let mut ops = Vec::with_capacity(256);
                    while ops.len() < 256 {
                        match dpif.recv(0) {
                            Ok(Some(up)) => ops.push(Op::Put(FlowPut {
                                flags: PutFlags::CREATE,
                                key: up.key,
                                mask: None,
                                ufid: Some(up.ufid),
                                actions: vec![Action::Output(PortNo(2))],
                                want_stats: false,
                            })),
                            _ => break,
                        }
                    }
                    installed += dpif.operate(&ops).iter().filter(|r| r.is_ok()).count() as u64;
                }
                installed
            })
            .expect("handler thread")
    };
    // N distinct microflows, sent round and round: each is a miss until its
    // flow is installed.
    let templates: Vec<Vec<u8>> = (0..N)
        .map(|i| udp_frame(0x0a00_0001, 0x0c00_0000 + i, (i & 0xffff) as u16, 9))
        .collect();
    let start = Instant::now();
    let cpu0 = pmd_cpu_ns().zip(thread_cpu_ns("handler0"));
    rig.generate(templates);
    let deadline = start + window.max(Duration::from_secs(60));
    loop {
        let s = rig.dpif.get_stats().expect("stats");
        if s.n_flows >= u64::from(N) || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu1 = pmd_cpu_ns().zip(thread_cpu_ns("handler0"));
    rig.stop();
    stop.store(true, Ordering::Relaxed);
    let _ = handler.join();
    let s = rig.dpif.get_stats().expect("stats");
    Report {
        scenario: "setup",
        packets: s.n_flows,
        seconds: elapsed,
        flows: s.n_flows,
        masks: s.n_masks,
        hits: s.n_hit,
        cache_hits: s.n_cache_hit,
        mask_visits: s.n_mask_hit,
        lost: s.n_lost,
        flows_per_sec: Some(s.n_flows as f64 / elapsed),
        pmd_cpu_ns: cpu0
            .zip(cpu1)
            .map(|((p0, _), (p1, _))| p1.saturating_sub(p0)),
        handler_cpu_ns: cpu0
            .zip(cpu1)
            .map(|((_, h0), (_, h1))| h1.saturating_sub(h0)),
        ..Report::default()
    }
}

fn puts() -> Report {
    const N: u32 = 200_000;
    let rig = rig("bputs");
    let parms = KeyParms::all();
    let ops: Vec<Op> = (0..N)
        .map(|i| {
            let mut f = base_key(0x0c00_0000 + i);
            f.tp_src = (i & 0xffff) as u16;
            Op::Put(FlowPut {
                flags: PutFlags::CREATE,
                key: flow_to_key(&f, &parms),
                mask: None,
                ufid: None,
                actions: vec![Action::Output(PortNo(2))],
                want_stats: false,
            })
        })
        .collect();
    let start = Instant::now();
    let mut ok = 0;
    for chunk in ops.chunks(64) {
        ok += rig.dpif.operate(chunk).iter().filter(|r| r.is_ok()).count() as u64;
    }
    let elapsed = start.elapsed().as_secs_f64();
    Report {
        scenario: "puts",
        packets: ok,
        seconds: elapsed,
        flows: ok,
        flows_per_sec: Some(ok as f64 / elapsed),
        ..Report::default()
    }
}
