//! End to end on real interfaces: two hosts in network namespaces, each
//! joined by a veth pair to a switch namespace where a userspace datapath
//! has the other ends as `system` ports, with flows forwarding between
//! them. Ping crosses it, a TCP transfer with the veths' default offloads
//! (checksum offload, TSO) arrives intact, and the idle poll thread sleeps.
//!
//! Prints `SKIP: <reason>` and passes when not root or without `ip`/`ping`.

#[path = "../../netdev/tests/common/netns.rs"]
mod netns;

use std::time::{Duration, Instant};

use dpif::{Dpif, FlowPut, PortSpec, PutFlags};
use dpif_netdev::NetdevClass;
use netns::{run, Netns};
use odp::key::PortNo;

fn put_flow(dpif: &Dpif, key: &str, actions: &str) {
    let (key, mask) = odp::text::key::parse_match(key).unwrap();
    let actions = odp::text::action::parse_actions(actions).unwrap();
    dpif.flow_put(FlowPut {
        flags: PutFlags::CREATE,
        key,
        mask: Some(mask),
        ufid: None,
        actions,
        want_stats: false,
    })
    .unwrap();
}

/// CPU time (user + system, in clock ticks) of this process's threads
/// whose name starts with `prefix`.
fn thread_ticks(prefix: &str) -> u64 {
    let mut total = 0;
    for t in std::fs::read_dir("/proc/self/task").unwrap().flatten() {
        let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
        // "tid (comm) state ... utime(14) stime(15)": split after the ')'.
        let Some((head, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        if !head
            .split_once(" (")
            .is_some_and(|(_, c)| c.starts_with(prefix))
        {
            continue;
        }
        let f: Vec<&str> = rest.split_whitespace().collect();
        total += f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
    }
    total
}

/// A server in `ns` receiving one TCP stream on port 5001 and printing the
/// sha256 of what it got; a client in the other namespace sending `mb`
/// MiB of pseudo-random bytes and printing their sha256.
fn tcp_transfer(
    server: &Netns,
    client: &Netns,
    ip: &str,
    mb: usize,
) -> Result<(String, String), String> {
    tcp_transfer_ports(server, client, ip, 5001, mb)
}

/// As [`tcp_transfer`], the client connecting to port `port` (the server
/// listens on 5001).
fn tcp_transfer_ports(
    server: &Netns,
    client: &Netns,
    ip: &str,
    port: u16,
    mb: usize,
) -> Result<(String, String), String> {
    let srv = "import socket,hashlib\n\
               s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n\
               s.bind(('0.0.0.0',5001));s.listen(1);s.settimeout(20)\n\
               c,_=s.accept();c.settimeout(20);h=hashlib.sha256()\n\
               while True:\n  b=c.recv(1<<20)\n  if not b: break\n  h.update(b)\n\
               print(h.hexdigest())";
    let cli = format!(
        "import socket,hashlib,random,time\n\
         r=random.Random(7);h=hashlib.sha256()\n\
         for i in range(30):\n  \
           try:\n    s=socket.create_connection(('{ip}',{port}),timeout=2);break\n  \
           except OSError: time.sleep(0.1)\n\
         for i in range({mb}):\n  b=r.randbytes(1<<20);h.update(b);s.sendall(b)\n\
         s.close();print(h.hexdigest())"
    );
    let child = std::process::Command::new("ip")
        .args(["netns", "exec", &server.name, "python3", "-c", srv])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let sent = client.exec(&["python3", "-c", &cli]);
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let sent = sent?;
    Ok((
        sent.trim().to_string(),
        String::from_utf8_lossy(&out.stdout).trim().to_string(),
    ))
}

#[test]
fn ping_and_tcp_across_system_ports() {
    if netns::skip("ping_and_tcp_across_system_ports") {
        return;
    }
    if run(&["ping", "-V"]).is_err() {
        println!("SKIP: ping_and_tcp_across_system_ports: no ping command");
        return;
    }
    let sw = Netns::new("sw").unwrap();
    let h1 = Netns::new("h1").unwrap();
    let h2 = Netns::new("h2").unwrap();
    for ns in [&sw, &h1, &h2] {
        ns.no_ipv6().unwrap();
    }
    sw.veth("s1", "h1").unwrap();
    sw.veth("s2", "h2").unwrap();
    sw.ip(&["link", "set", "dev", "h1", "netns", &h1.name])
        .unwrap();
    sw.ip(&["link", "set", "dev", "h2", "netns", &h2.name])
        .unwrap();
    let mut vlans = true;
    for (ns, dev, ip, vip) in [
        (&h1, "h1", "10.77.0.1/24", "10.78.0.1/24"),
        (&h2, "h2", "10.77.0.2/24", "10.78.0.2/24"),
    ] {
        ns.ip(&["addr", "add", ip, "dev", dev]).unwrap();
        ns.ip(&["link", "set", "dev", dev, "up"]).unwrap();
        let v = format!("{dev}.5");
        // Needs the kernel's 802.1Q support, not everywhere.
        vlans = vlans
            && ns
                .ip(&[
                    "link", "add", "link", dev, "name", &v, "type", "vlan", "id", "5",
                ])
                .is_ok();
        if vlans {
            ns.ip(&["addr", "add", vip, "dev", &v]).unwrap();
            ns.ip(&["link", "set", "dev", &v, "up"]).unwrap();
        }
    }

    sw.enter(|| {
        let class = NetdevClass { n_pmds: 1 };
        let dp = class.open_dp("oxte2e", true).unwrap();
        let dpif = Dpif::new(dp.clone());
        for (no, name) in [(1, "s1"), (2, "s2")] {
            let spec = PortSpec {
                name: name.into(),
                port_type: "system".into(),
                options: vec![],
            };
            dpif.port_add(&spec, Some(PortNo(no))).unwrap();
        }
        // A missing interface is ENODEV.
        let missing = PortSpec {
            name: "nosuch9".into(),
            port_type: "system".into(),
            options: vec![],
        };
        assert_eq!(
            dpif.port_add(&missing, None).err(),
            Some(dpif::Errno::ENODEV)
        );
        // Everything IPv4 and ARP, untagged or in VLAN 5, crosses.
        for (from, to) in [(1, 2), (2, 1)] {
            for l3 in [
                "eth_type(0x0800),ipv4(proto=6/0),tcp(src=0/0,dst=0/0),tcp_flags(0/0)",
                "eth_type(0x0806),arp(op=1/0)",
            ] {
                let eth = "eth(src=00:00:00:00:00:00/00:00:00:00:00:00,\
                           dst=00:00:00:00:00:00/00:00:00:00:00:00)";
                let to = to.to_string();
                put_flow(&dpif, &format!("in_port({from}),{eth},{l3}"), &to);
                put_flow(
                    &dpif,
                    &format!(
                        "in_port({from}),{eth},eth_type(0x8100),vlan(vid=5,pcp=0/0),encap({l3})"
                    ),
                    &to,
                );
            }
        }

        let ping = h1.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.77.0.2"]);
        assert!(ping.is_ok(), "ping h1 -> h2: {ping:?}");
        let ping = h2.exec(&["ping", "-c", "5", "-i", "0.2", "-W", "1", "10.77.0.1"]);
        assert!(ping.is_ok(), "ping h2 -> h1: {ping:?}");
        if let Some(rtt) = ping
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("rtt"))
        {
            println!("ping h2 -> h1: {rtt}");
        }
        // Tagged: the veths strip the tag on receive; the port puts it
        // back, so the VLAN 5 flows match and the far end gets it tagged.
        if vlans {
            let ping = h1.exec(&["ping", "-c", "3", "-i", "0.2", "-W", "1", "10.78.0.2"]);
            assert!(ping.is_ok(), "ping over VLAN 5: {ping:?}");
        } else {
            println!("SKIP (part): no VLAN interfaces in this kernel");
        }

        if run(&["python3", "-c", "print(1)"]).is_ok() {
            let (sent, got) = tcp_transfer(&h2, &h1, "10.77.0.2", 20).unwrap();
            assert_eq!(sent.len(), 64, "client: {sent}");
            assert_eq!(sent, got, "20 MiB arrive intact across the datapath");
            let s1 = dp.port_netdev(PortNo(1)).unwrap().stats();
            // TSO on: far fewer frames than 1448-byte segments.
            assert!(s1.rx_packets < 20 * 1024 * 1024 / 1448, "{s1:?}");
            println!("TCP 20 MiB h1 -> h2: {s1:?}");
        } else {
            println!("SKIP (part): no python3 for the TCP transfer");
        }

        // A tagged frame sent by h1 (built here, sent through a `system`
        // netdev opened in h1's namespace) crosses the VLAN 5 flow and
        // reaches h2 with its tag, though each veth strips it on receive.
        let raw = |ns: &Netns, dev: &'static str| {
            let opts = vec![("vnet".to_string(), "false".to_string())];
            ns.enter(move || netdev::open("system", dev, &opts).unwrap())
        };
        let (r1, r2) = (raw(&h1, "h1"), raw(&h2, "h2"));
        let mut tagged = vec![0xff; 6];
        tagged.extend_from_slice(&r1.mac());
        tagged.extend_from_slice(&[0x81, 0x00, 0x60, 0x05, 0x08, 0x00]); // PCP 3, VID 5
        let mut ip = vec![
            0x45, 0, 0, 48, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 79, 0, 1, 10, 79, 0, 2,
        ];
        let sum = ip
            .chunks(2)
            .fold(0u32, |a, w| a + u32::from(u16::from_be_bytes([w[0], w[1]])));
        let csum = !(((sum & 0xffff) + (sum >> 16)) as u16);
        ip[10..12].copy_from_slice(&csum.to_be_bytes());
        tagged.extend_from_slice(&ip);
        tagged.extend_from_slice(&[0x30, 0x39, 0x30, 0x39, 0, 28, 0, 0]);
        tagged.extend_from_slice(b"oxvs vlan e2e test..");
        let mut b = netdev::Batch::new();
        b.push_copy(&tagged);
        assert_eq!(r1.send(0, &mut b).unwrap(), 1);
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut seen = None;
        while seen.is_none() && Instant::now() < deadline {
            r2.wait_rx(0, Duration::from_millis(50));
            b.clear();
            r2.rxq_recv(0, &mut b).unwrap();
            seen = b
                .iter()
                .find(|p| p.data().ends_with(b"e2e test.."))
                .cloned();
        }
        let seen = seen.expect("tagged frame crossed the datapath");
        assert_eq!(seen.data(), &tagged[..], "tag kept end to end");
        drop((r1, r2));

        // Idle: the poll thread blocks. 2 s of idling costs almost nothing.
        std::thread::sleep(Duration::from_millis(300));
        let (t0, p0) = (thread_ticks("pmd"), thread_ticks(""));
        let start = Instant::now();
        std::thread::sleep(Duration::from_secs(2));
        let used = thread_ticks("pmd") - t0;
        let all = thread_ticks("") - p0;
        let secs = start.elapsed().as_secs_f64();
        println!("idle: poll thread {used} ticks, whole process {all} ticks in {secs:.2} s");
        assert!(used <= 4, "idle poll thread used {used} ticks in 2 s");

        // Busy polling: the thread spins instead of blocking, and forwards.
        dp.set_busy_poll(true);
        let t0 = thread_ticks("pmd");
        let ping = h1.exec(&["ping", "-c", "5", "-i", "0.1", "-W", "1", "10.77.0.2"]);
        let used = thread_ticks("pmd") - t0;
        assert!(ping.is_ok(), "ping with busy polling: {ping:?}");
        if let Some(rtt) = ping
            .unwrap_or_default()
            .lines()
            .find(|l| l.starts_with("rtt"))
        {
            println!("busy polling: poll thread {used} ticks; ping {rtt}");
        }
        dp.set_busy_poll(false);

        // An interface going down does not make the thread spin, and
        // forwarding resumes when it comes back.
        sw.ip(&["link", "set", "dev", "s2", "down"]).unwrap();
        let _ = h1.exec(&["ping", "-c", "1", "-W", "1", "10.77.0.2"]);
        let t0 = thread_ticks("pmd");
        std::thread::sleep(Duration::from_secs(1));
        let used = thread_ticks("pmd") - t0;
        assert!(
            used <= 4,
            "poll thread used {used} ticks in 1 s with a port down"
        );
        sw.ip(&["link", "set", "dev", "s2", "up"]).unwrap();
        let ping = h1.exec(&["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.77.0.2"]);
        assert!(ping.is_ok(), "ping after the link came back: {ping:?}");

        // A port deleted under traffic: the datapath goes on, the port can
        // be added back and traffic flows again.
        let flood = std::process::Command::new("ip")
            .args([
                "netns", "exec", &h1.name, "ping", "-q", "-c", "300", "-i", "0.005",
            ])
            .arg("10.77.0.2")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        dpif.port_del(PortNo(2)).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let s2 = PortSpec {
            name: "s2".into(),
            port_type: "system".into(),
            options: vec![],
        };
        dpif.port_add(&s2, Some(PortNo(2))).unwrap();
        let _ = flood.wait_with_output();
        let ping = h1.exec(&["ping", "-c", "2", "-i", "0.2", "-W", "2", "10.77.0.2"]);
        assert!(ping.is_ok(), "ping after the port was re-added: {ping:?}");
        dpif.destroy().unwrap();
    });
}

/// Whether the TCP/IPv4 checksum of an untagged frame is right (computed
/// here over the pseudo-header and the segment).
fn tcp4_checksum_ok(f: &[u8]) -> bool {
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let tot = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let tcp = &f[14 + ihl..14 + tot];
    let mut sum: u32 = 6 + tcp.len() as u32;
    for c in f[26..34].chunks(2).chain(tcp.chunks(2)) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum == 0xffff
}

/// Whether the TCP checksum field of an untagged IPv4 frame holds the
/// pseudo-header sum, counting the TCP length or not.
fn pseudo_ok(f: &[u8]) -> bool {
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let tot = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let field = u16::from_be_bytes([f[14 + ihl + 16], f[14 + ihl + 17]]);
    let fold = |mut s: u32| {
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    };
    let base: u32 = 6 + f[26..34]
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum::<u32>();
    field == fold(base + (tot - ihl) as u32) || field == fold(base)
}

#[test]
fn upcalls_of_checksum_offloaded_packets_are_finished() {
    if netns::skip("upcalls_of_checksum_offloaded_packets_are_finished") {
        return;
    }
    if run(&["python3", "-c", "print(1)"]).is_err() {
        println!("SKIP: upcalls_of_checksum_offloaded_packets_are_finished: no python3");
        return;
    }
    let sw = Netns::new("usw").unwrap();
    let h1 = Netns::new("uh1").unwrap();
    for ns in [&sw, &h1] {
        ns.no_ipv6().unwrap();
    }
    sw.veth("s1", "h1").unwrap();
    sw.ip(&["link", "set", "dev", "h1", "netns", &h1.name])
        .unwrap();
    h1.ip(&["addr", "add", "10.76.0.1/24", "dev", "h1"])
        .unwrap();
    h1.ip(&["link", "set", "dev", "h1", "up"]).unwrap();
    // No ARP needed: the peer's address is static.
    h1.ip(&[
        "neigh",
        "add",
        "10.76.0.2",
        "lladdr",
        "02:00:00:00:76:02",
        "dev",
        "h1",
    ])
    .unwrap();
    let offloads = h1.exec(&["ethtool", "-k", "h1"]).unwrap_or_default();
    println!(
        "h1 offloads: {}",
        offloads
            .lines()
            .find(|l| l.contains("tx-checksumming"))
            .unwrap_or("?")
    );

    sw.enter(|| {
        let dp = NetdevClass { n_pmds: 1 }.open_dp("oxteup", true).unwrap();
        let dpif = Dpif::new(dp.clone());
        let spec = PortSpec {
            name: "s1".into(),
            port_type: "system".into(),
            options: vec![],
        };
        dpif.port_add(&spec, Some(PortNo(1))).unwrap();
        dpif.recv_set_mask(dpif::ListenMask::ALL).unwrap();
        // A TCP SYN from h1's stack: its checksum is left to the "device".
        let _ = h1.exec(&[
            "python3",
            "-c",
            "import socket\ntry: socket.create_connection(('10.76.0.2',5001),timeout=0.5)\nexcept OSError: pass",
        ]);
        let deadline = Instant::now() + Duration::from_secs(3);
        let mut syn = None;
        while syn.is_none() && Instant::now() < deadline {
            dpif.recv_wait(0, Some(Duration::from_millis(100)));
            while let Ok(Some(up)) = dpif.recv(0) {
                let p = &up.packet;
                if p.len() >= 54 && p[12..14] == [0x08, 0x00] && p[23] == 6 {
                    syn = Some(p.clone());
                }
            }
        }
        let syn = syn.expect("the SYN was upcalled");
        assert!(tcp4_checksum_ok(&syn), "upcalled SYN has a complete checksum");
        dpif.destroy().unwrap();
    });
}

#[test]
fn tcp_port_rewrite_on_offloaded_traffic() {
    if netns::skip("tcp_port_rewrite_on_offloaded_traffic") {
        return;
    }
    if run(&["python3", "-c", "print(1)"]).is_err() {
        println!("SKIP: tcp_port_rewrite_on_offloaded_traffic: no python3");
        return;
    }
    let sw = Netns::new("rsw").unwrap();
    let h1 = Netns::new("rh1").unwrap();
    let h2 = Netns::new("rh2").unwrap();
    for ns in [&sw, &h1, &h2] {
        ns.no_ipv6().unwrap();
    }
    sw.veth("s1", "h1").unwrap();
    sw.veth("s2", "h2").unwrap();
    sw.ip(&["link", "set", "dev", "h1", "netns", &h1.name])
        .unwrap();
    sw.ip(&["link", "set", "dev", "h2", "netns", &h2.name])
        .unwrap();
    for (ns, dev, ip) in [(&h1, "h1", "10.75.0.1/24"), (&h2, "h2", "10.75.0.2/24")] {
        ns.ip(&["addr", "add", ip, "dev", dev]).unwrap();
        ns.ip(&["link", "set", "dev", dev, "up"]).unwrap();
    }
    sw.enter(|| {
        let dp = NetdevClass { n_pmds: 1 }.open_dp("oxtrw", true).unwrap();
        let dpif = Dpif::new(dp.clone());
        for (no, name) in [(1, "s1"), (2, "s2")] {
            let spec = PortSpec {
                name: name.into(),
                port_type: "system".into(),
                options: vec![],
            };
            dpif.port_add(&spec, Some(PortNo(no))).unwrap();
        }
        let eth = "eth(src=00:00:00:00:00:00/00:00:00:00:00:00,\
                   dst=00:00:00:00:00:00/00:00:00:00:00:00)";
        // h1 talks to port 6001; the datapath turns it into 5001 on the
        // way there and back into 6001 on the way back. Checksums are left
        // to the devices and segments are 64 KiB: the datapath must finish
        // them before rewriting.
        put_flow(
            &dpif,
            &format!("in_port(1),{eth},eth_type(0x0800),ipv4(proto=6),tcp(src=0/0,dst=6001),tcp_flags(0/0)"),
            "set(tcp(dst=5001)),2",
        );
        put_flow(
            &dpif,
            &format!("in_port(2),{eth},eth_type(0x0800),ipv4(proto=6),tcp(src=5001,dst=0/0),tcp_flags(0/0)"),
            "set(tcp(src=6001)),1",
        );
        for (from, to) in [(1, 2), (2, 1)] {
            put_flow(
                &dpif,
                &format!("in_port({from}),{eth},eth_type(0x0806),arp(op=1/0)"),
                &to.to_string(),
            );
        }
        // A tap on h2 to look at the frames as delivered (h2's own stack
        // trusts a checksum left to finish; a NIC would compute it).
        let tap = h2.enter(|| netdev::open("system", "h2", &[]).unwrap());
        let (sent, got) = tcp_transfer_ports(&h2, &h1, "10.75.0.2", 6001, 2).unwrap();
        assert_eq!(sent.len(), 64, "client: {sent}");
        assert_eq!(sent, got, "2 MiB arrive intact through the port rewrite");
        let mut batch = netdev::Batch::new();
        let mut checked = 0;
        loop {
            batch.clear();
            if tap.rxq_recv(0, &mut batch).unwrap() == 0 {
                break;
            }
            for p in batch.iter() {
                let f = p.data();
                if f.len() < 54 || f[12..14] != [0x08, 0x00] || f[23] != 6 || f[36..38] != [0x13, 0x89] {
                    continue;
                }
                checked += 1;
                match p.vnet.filter(|h| h.needs_csum()) {
                    None => assert!(tcp4_checksum_ok(f), "frame {checked}: bad checksum"),
                    // Left to finish: the field must hold the pseudo-header
                    // sum (with or without the length, as stacks do).
                    Some(_) => assert!(pseudo_ok(f), "frame {checked}: bad pseudo-header sum"),
                }
            }
        }
        assert!(checked > 10, "{checked} frames to port 5001 seen");
        dpif.destroy().unwrap();
    });
}
