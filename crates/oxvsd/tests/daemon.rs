//! The daemon over its socket: errnos, clients dying mid-dump, malformed
//! and flooding clients, peer credentials, the learning switch, and the
//! binary's one-command mode and SIGTERM.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use common::{err_of, genl, run_as, run_as_nobody, unique, Daemon, Raw};
use dpif::{Dpif, DpifClass, Errno, FlowDel, FlowPut, PortSpec, PutFlags};
use dpif_netlink::abi::*;
use dpif_tests::packet::{udp4, MAC_A, MAC_B};
use odp::action::Action;
use odp::key::{KeyAttr, PortNo};
use oxvsd::families::{FAM_DP, FAM_FLOW, FAM_PACKET, FAM_VPORT};

fn dummy(name: &str) -> PortSpec {
    PortSpec {
        name: name.into(),
        port_type: "dummy".into(),
        options: vec![("rx_queue_len".into(), "10000".into())],
    }
}

fn open(d: &Daemon, name: &str, create: bool) -> Result<Dpif, Errno> {
    dpif_netlink::RemoteClass::new(&d.path)
        .open(name, create)
        .map(Dpif::new)
}

/// A flow on `in_port` matching UDP source port `sport`, output to `out`.
fn flow(in_port: PortNo, sport: u16, out: PortNo) -> FlowPut {
    let (key, mask) = odp::text::key::parse_match(&format!(
        "in_port({}),eth(src=02:00:00:00:00:0a,dst=02:00:00:00:00:0b),eth_type(0x0800),\
         ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src={sport},dst=9)",
        in_port.0
    ))
    .expect("key");
    FlowPut {
        flags: PutFlags::CREATE,
        key,
        mask: Some(mask),
        ufid: None,
        actions: vec![Action::Output(out)],
        want_stats: false,
    }
}

// ---- raw protocol helpers ------------------------------------------------

fn getfamily(seq: u32) -> Vec<u8> {
    let mut w = nl::Writer::new();
    w.put_string(CTRL_ATTR_FAMILY_NAME, "ovs_datapath");
    genl(
        GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_ACK,
        seq,
        CTRL_CMD_GETFAMILY,
        None,
        w.as_bytes(),
    )
}

/// A working request still works on this connection: family resolved, acked.
fn assert_usable(s: &mut Raw) {
    let r = s.transact(&getfamily(77));
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(u16::from_ne_bytes([r[0][4], r[0][5]]), GENL_ID_CTRL);
    assert_eq!(err_of(&r[1]), Some(0));
}

// ---- tests ------------------------------------------------------------------

#[test]
fn datapaths_ports_and_flows_with_errnos() {
    let d = Daemon::start();
    let name = unique("e");
    assert_eq!(open(&d, &name, false).err(), Some(Errno::ENODEV));
    let dp = open(&d, &name, true).unwrap();
    assert_eq!(open(&d, &name, true).err(), Some(Errno::EEXIST));
    assert_eq!(open(&d, "bad/name", true).err(), Some(Errno::EINVAL));
    assert_eq!(dp.type_name(), "netdev");
    let p1 = dp.port_add(&dummy("a1"), None).unwrap();
    let p2 = dp.port_add(&dummy("a2"), Some(PortNo(7))).unwrap();
    assert_eq!(p2, PortNo(7));
    assert_eq!(dp.port_add(&dummy("a1"), None).err(), Some(Errno::EEXIST));
    let bad = PortSpec {
        port_type: "nosuchtype".into(),
        ..dummy("a3")
    };
    assert_eq!(dp.port_add(&bad, None).err(), Some(Errno::EINVAL));
    assert_eq!(dp.port_del(PortNo(99)).err(), Some(Errno::ENODEV));
    assert_eq!(dp.port_del(PortNo(0)).err(), Some(Errno::EINVAL));
    let ports = dp.port_dump().unwrap();
    assert_eq!(
        ports
            .iter()
            .map(|p| (p.port_no, p.port_type.as_str()))
            .collect::<Vec<_>>(),
        vec![(PortNo(0), "internal"), (p1, "dummy"), (p2, "dummy")]
    );
    let f = flow(p1, 5, p2);
    dp.flow_put(f.clone()).unwrap();
    assert_eq!(dp.flow_put(f.clone()).err(), Some(Errno::EEXIST));
    let got = dp
        .flow_get(dpif::FlowGet {
            key: f.key.clone(),
            ufid: None,
        })
        .unwrap();
    assert_eq!(got.actions, vec![Action::Output(p2)]);
    // Forwarding through the flow installed over the socket.
    let pkt = udp4(MAC_A, MAC_B, [10, 0, 0, 1], [10, 0, 0, 2], 5, 9, 10);
    d.inject(&name, p1, &pkt);
    assert_eq!(
        d.take_output(&name, p2, 1, Duration::from_secs(5)),
        vec![pkt]
    );
    let del = FlowDel {
        key: f.key.clone(),
        ufid: None,
        want_stats: true,
    };
    let st = dp.flow_del(del.clone()).unwrap().unwrap();
    assert_eq!(st.n_packets, 1);
    assert_eq!(dp.flow_del(del).err(), Some(Errno::ENOENT));
    dp.port_del(p2).unwrap();
    assert_eq!(dp.port_query_by_name("a2").err(), Some(Errno::ENODEV));
    dp.destroy().unwrap();
    assert!(d.state.datapath(&name).is_none());
    assert_eq!(open(&d, &name, false).err(), Some(Errno::ENODEV));
}

#[test]
fn client_dying_mid_dump_loses_nothing() {
    let d = Daemon::start();
    let name = unique("k");
    let dp = open(&d, &name, true).unwrap();
    let p1 = dp.port_add(&dummy("k1"), None).unwrap();
    let p2 = dp.port_add(&dummy("k2"), None).unwrap();
    let n = 1500u16;
    let puts: Vec<dpif::Op> = (1..=n).map(|s| dpif::Op::Put(flow(p1, s, p2))).collect();
    assert!(dp.operate(&puts).iter().all(|r| r.is_ok()));
    let ifindex = d.state.datapath(&name).unwrap().ifindex;
    // Several clients start a dump, read a little, and vanish.
    for _ in 0..5 {
        let mut s = Raw::connect(&d.path);
        let req = genl(
            FAM_FLOW,
            NLM_F_REQUEST | NLM_F_DUMP,
            1,
            OVS_FLOW_CMD_GET,
            Some(ifindex),
            &[],
        );
        s.send(&req);
        let first = s.recv().expect("first flow");
        assert_eq!(u16::from_ne_bytes([first[4], first[5]]), FAM_FLOW);
        drop(s);
    }
    // A request cut in the middle, then the client is gone.
    {
        let s = Raw::connect(&d.path);
        let req = getfamily(3);
        s.send(&req[..req.len() - 5]);
    }
    // Everything is still there, and forwarding goes on.
    let dump = dp.flow_dump(false).unwrap();
    let mut cur = dump.cursor();
    let mut all = Vec::new();
    while cur.next(&mut all, 100).unwrap() > 0 {}
    drop(cur);
    drop(dump);
    assert_eq!(all.len(), usize::from(n));
    let pkt = udp4(MAC_A, MAC_B, [10, 0, 0, 1], [10, 0, 0, 2], 77, 9, 10);
    d.inject(&name, p1, &pkt);
    assert_eq!(d.take_output(&name, p2, 1, Duration::from_secs(5)).len(), 1);
    dp.destroy().unwrap();
}

#[test]
fn malformed_messages_get_errnos_and_the_daemon_survives() {
    let d = Daemon::start();
    let mut s = Raw::connect(&d.path);
    let one = |s: &mut Raw, m: &[u8]| {
        let r = s.transact(m);
        err_of(r.last().unwrap()).unwrap()
    };
    // Too short for the generic header.
    let mut m = vec![0u8; 16];
    m[0..4].copy_from_slice(&16u32.to_ne_bytes());
    m[4..6].copy_from_slice(&FAM_DP.to_ne_bytes());
    m[6..8].copy_from_slice(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
    assert_eq!(one(&mut s, &m), 22);
    assert_usable(&mut s);
    // No ovs_header.
    let m = genl(
        FAM_DP,
        NLM_F_REQUEST | NLM_F_ACK,
        4,
        OVS_DP_CMD_NEW,
        None,
        &[],
    );
    assert_eq!(one(&mut s, &m), 22);
    // Attributes that overrun their message.
    let m = genl(
        FAM_DP,
        NLM_F_REQUEST | NLM_F_ACK,
        5,
        OVS_DP_CMD_NEW,
        Some(0),
        &[200, 0, 1, 0, b'x', 0, 0, 0],
    );
    assert_eq!(one(&mut s, &m), 22);
    // A datapath without its required attributes; an unknown family (as
    // generic netlink: ENOENT); an unknown command (EOPNOTSUPP).
    let m = genl(
        FAM_DP,
        NLM_F_REQUEST | NLM_F_ACK,
        6,
        OVS_DP_CMD_NEW,
        Some(0),
        &[],
    );
    assert_eq!(one(&mut s, &m), 22);
    let m = genl(0x7777, NLM_F_REQUEST | NLM_F_ACK, 7, 1, Some(0), &[]);
    assert_eq!(one(&mut s, &m), 2);
    let m = genl(FAM_DP, NLM_F_REQUEST | NLM_F_ACK, 8, 99, Some(0), &[]);
    assert_eq!(one(&mut s, &m), 95);
    assert_usable(&mut s);
    // Random but well-framed messages: each answered, none kills the daemon.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..300u32 {
        let len = 20 + (i as usize % 60);
        let mut body = Vec::with_capacity(len);
        for _ in 0..len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            body.push(x as u8);
        }
        let fam = [GENL_ID_CTRL, FAM_DP, FAM_VPORT, FAM_FLOW, FAM_PACKET][i as usize % 5];
        let mut b =
            nl::msg::MsgBuilder::genl(fam, NLM_F_REQUEST | NLM_F_ACK, body[0] % 6, 1).seq(1000 + i);
        b.header_bytes(&body[1..]);
        let m = b.finish().unwrap();
        let r = s.transact(&m);
        assert!(err_of(r.last().unwrap()).is_some());
    }
    assert_usable(&mut s);
    // A message whose length cannot be framed: dropped quietly, as the
    // kernel drops the rest of such a datagram; the connection goes on.
    let mut m = getfamily(9);
    m[0..4].copy_from_slice(&8u32.to_ne_bytes());
    s.send(&m);
    assert_eq!(s.recv_within(Duration::from_millis(300)), None);
    let mut m = getfamily(10);
    m[0..4].copy_from_slice(&(64u32 << 20).to_ne_bytes());
    s.send(&m);
    assert_eq!(s.recv_within(Duration::from_millis(300)), None);
    assert_usable(&mut s);
    // A datagram larger than any request: its header is answered EMSGSIZE.
    let mut big = getfamily(11);
    big.resize(nl::daemon::MAX_REQUEST + 100, 0);
    let len = big.len() as u32;
    big[0..4].copy_from_slice(&len.to_ne_bytes());
    if rustix::net::sockopt::set_socket_send_buffer_size_force(&s.fd, 1 << 20).is_ok() {
        assert_eq!(one(&mut s, &big), 90);
    }
    // Messages without NLM_F_REQUEST are not handled, only acked if asked.
    let mut m = getfamily(12);
    m[6..8].copy_from_slice(&NLM_F_ACK.to_ne_bytes());
    let r = s.transact(&m);
    assert_eq!(r.len(), 1);
    assert_eq!(err_of(&r[0]), Some(0));
    // The daemon still serves others.
    let mut s3 = Raw::connect(&d.path);
    assert_usable(&mut s3);
}

#[test]
fn one_command_mode_fails_on_a_bad_port() {
    let path = common::temp_path("badport");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_oxvsd"))
        .arg("--socket")
        .arg(&path)
        .args(["--port", "dummy:g1", "--port", "nosuchtype:g2"])
        .output()
        .expect("run oxvsd");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("adding port nosuchtype:g2"));
    assert!(!path.exists(), "socket removed");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn a_flooding_client_does_not_block_others() {
    let d = Daemon::start();
    let name = unique("f");
    let dp = open(&d, &name, true).unwrap();
    let s = Raw::connect(&d.path);
    // Requests whose replies are never read, until the socket is full.
    let ifindex = d.state.datapath(&name).unwrap().ifindex;
    let req = genl(
        FAM_DP,
        NLM_F_REQUEST | NLM_F_ACK,
        1,
        OVS_DP_CMD_GET,
        Some(ifindex),
        &[],
    );
    let mut sent = 0usize;
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(3) {
        match rustix::net::send(&s.fd, &req, rustix::net::SendFlags::DONTWAIT) {
            Ok(_) => sent += 1,
            Err(rustix::io::Errno::AGAIN) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(sent > 100, "sent {sent}");
    // Others are served meanwhile.
    let t = Instant::now();
    dp.get_stats().unwrap();
    let p = dp.port_add(&dummy("f1"), None).unwrap();
    assert_eq!(dp.port_query_by_number(p).unwrap().name, "f1");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    drop(s);
    dp.destroy().unwrap();
}

#[test]
fn learning_switch_floods_learns_and_expires() {
    let d = Daemon::start_with(|c| c.learn.flow_idle = Duration::from_secs(1));
    let name = unique("l");
    let e = d.state.create_dp(&name, 0, true).unwrap();
    let add = |n: &str| dpif::Provider::port_add(e.dp.as_ref(), &dummy(n), None).unwrap();
    let (p1, p2, p3) = (add("l1"), add("l2"), add("l3"));
    let wait = Duration::from_secs(5);
    // Broadcast from A on p1: flooded to p2 and p3, not back to p1.
    let bcast = udp4(MAC_A, [0xff; 6], [10, 0, 0, 1], [10, 0, 0, 255], 1, 9, 10);
    d.inject(&name, p1, &bcast);
    assert_eq!(d.take_output(&name, p2, 1, wait), vec![bcast.clone()]);
    assert_eq!(d.take_output(&name, p3, 1, wait), vec![bcast.clone()]);
    // B answers A on p2: A is known, so only p1 gets it.
    let reply = udp4(MAC_B, MAC_A, [10, 0, 0, 2], [10, 0, 0, 1], 9, 1, 10);
    d.inject(&name, p2, &reply);
    assert_eq!(d.take_output(&name, p1, 1, wait), vec![reply.clone()]);
    // A to B: unicast to p2.
    let ab = udp4(MAC_A, MAC_B, [10, 0, 0, 1], [10, 0, 0, 2], 1, 9, 10);
    d.inject(&name, p1, &ab);
    assert_eq!(d.take_output(&name, p2, 1, wait), vec![ab.clone()]);
    assert!(d
        .take_output(&name, p3, 1, Duration::from_millis(200))
        .is_empty());
    assert!(d
        .take_output(&name, p1, 1, Duration::from_millis(50))
        .is_empty());
    // The flows are megaflows, seen through the socket like any flow.
    let dp = open(&d, &name, false).unwrap();
    let dump = dp.flow_dump(false).unwrap();
    let mut cur = dump.cursor();
    let mut flows = Vec::new();
    while cur.next(&mut flows, 50).unwrap() > 0 {}
    drop(cur);
    drop(dump);
    let to_a = flows
        .iter()
        .find(|f| {
            f.key.contains(&KeyAttr::InPort(p2.0))
                && f.key
                    .iter()
                    .any(|k| matches!(k, KeyAttr::Ethernet(e) if e.dst == MAC_A))
        })
        .expect("flow B->A");
    assert_eq!(to_a.actions, vec![Action::Output(p1)]);
    assert!(
        !to_a.mask.iter().any(|m| matches!(m, KeyAttr::Ipv4(_))),
        "L3 wildcarded: {:?}",
        to_a.mask
    );
    // Packets matching it stay in the datapath.
    let reply2 = udp4(MAC_B, MAC_A, [10, 0, 0, 2], [10, 0, 0, 1], 33, 44, 10);
    d.inject(&name, p2, &reply2);
    assert_eq!(d.take_output(&name, p1, 1, wait), vec![reply2]);
    drop(dp);
    // Idle flows expire.
    let start = Instant::now();
    loop {
        let n = dpif::Provider::get_stats(e.dp.as_ref()).unwrap().n_flows;
        if n == 0 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{n} flows left");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn subscribed_client_gets_the_misses() {
    let d = Daemon::start();
    let name = unique("s");
    let dp = open(&d, &name, true).unwrap();
    let p1 = dp.port_add(&dummy("s1"), None).unwrap();
    let p2 = dp.port_add(&dummy("s2"), None).unwrap();
    dp.handlers_set(1).unwrap();
    dp.recv_set_mask(dpif::ListenMask::ALL).unwrap();
    let pkt = udp4(MAC_A, [0xff; 6], [10, 0, 0, 1], [10, 0, 0, 255], 1, 9, 10);
    d.inject(&name, p1, &pkt);
    assert!(dp.recv_wait(0, Some(Duration::from_secs(5))));
    let up = dp.recv(0).unwrap().expect("upcall");
    assert_eq!(up.packet, pkt);
    assert!(up.key.contains(&KeyAttr::InPort(p1.0)));
    // Not flooded: the client handles misses.
    assert!(d
        .take_output(&name, p2, 1, Duration::from_millis(200))
        .is_empty());
    // A flow the client installed keeps forwarding once it is gone, and
    // misses are counted lost: nobody else handles them.
    dp.flow_put(flow(p1, 7, p2)).unwrap();
    let lost = dp.get_stats().unwrap().n_lost;
    drop(dp);
    std::thread::sleep(Duration::from_millis(300));
    let hit = udp4(MAC_A, MAC_B, [10, 0, 0, 1], [10, 0, 0, 2], 7, 9, 10);
    d.inject(&name, p1, &hit);
    assert_eq!(
        d.take_output(&name, p2, 1, Duration::from_secs(5)),
        vec![hit]
    );
    d.inject(&name, p1, &pkt);
    assert!(d
        .take_output(&name, p2, 1, Duration::from_millis(300))
        .is_empty());
    let start = Instant::now();
    while open(&d, &name, false).unwrap().get_stats().unwrap().n_lost <= lost {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "miss not counted lost"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
#[ignore = "run by peer_credentials_are_checked as another user"]
fn child_connect() {
    let Some(path) = std::env::var_os("OXVSD_CHILD_SOCKET") else {
        return;
    };
    let r = dpif_netlink::Socket::connect_unix(std::path::Path::new(&path));
    println!(
        "RESULT={}",
        match r {
            Ok(_) => "connected".to_string(),
            Err(e) => format!("errno{}", e.errno()),
        }
    );
}

#[test]
fn peer_credentials_are_checked() {
    let d = Daemon::start();
    let mode = std::fs::metadata(&d.path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let dir = d.path.parent().unwrap();
    assert_eq!(
        std::fs::metadata(dir).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let env = [("OXVSD_CHILD_SOCKET", d.path.display().to_string())];
    let Some(out) = run_as_nobody("child_connect", &env) else {
        return;
    };
    // The file mode keeps others out.
    assert!(out.contains("RESULT=errno13"), "{out}");
    // With the mode opened up, SO_PEERCRED still refuses them.
    std::fs::set_permissions(&d.path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = run_as_nobody("child_connect", &env).unwrap();
    assert!(out.contains("RESULT=errno1"), "{out}");
    // Root is served.
    assert!(dpif_netlink::Socket::connect_unix(&d.path).is_ok());
}

#[test]
#[ignore = "run by socket_group_members_are_served as another user"]
fn child_group_member() {
    let (Some(path), Ok(dp), Ok(p1)) = (
        std::env::var_os("OXVSD_CHILD_SOCKET"),
        std::env::var("OXVSD_CHILD_DP"),
        std::env::var("OXVSD_CHILD_PORT"),
    ) else {
        return;
    };
    let class = dpif_netlink::RemoteClass::new(std::path::PathBuf::from(path));
    let created = class.open("gnew0", true).err();
    let dp = Dpif::new(class.open(&dp, false).unwrap());
    let port = dp.port_add(&dummy("g1"), None).err();
    let p1 = PortNo(p1.parse().unwrap());
    let flow_ok = dp.flow_put(flow(p1, 5, p1)).is_ok();
    let stats_ok = dp.get_stats().is_ok();
    println!("CREATE={created:?} PORT={port:?} FLOW={flow_ok} STATS={stats_ok}");
}

#[test]
fn socket_group_members_are_served_without_root_powers() {
    let d = Daemon::start();
    let name = unique("g");
    let dp = open(&d, &name, true).unwrap();
    let p1 = dp.port_add(&dummy("g0"), None).unwrap();
    let env = [
        ("OXVSD_CHILD_SOCKET", d.path.display().to_string()),
        ("OXVSD_CHILD_DP", name.clone()),
        ("OXVSD_CHILD_PORT", p1.0.to_string()),
    ];
    // The socket's group is root's (0) here; a member that is not root.
    let gid = std::fs::metadata(&d.path)
        .map(|m| std::os::unix::fs::MetadataExt::gid(&m))
        .unwrap();
    let Some(out) = run_as("child_group_member", &env, &gid.to_string()) else {
        return;
    };
    assert!(
        out.contains("CREATE=Some(EPERM) PORT=Some(EPERM) FLOW=true STATS=true"),
        "{out}"
    );
    assert_eq!(dp.port_query_by_name("g1").err(), Some(Errno::ENODEV));
    assert!(d.state.datapath("gnew0").is_none());
}

#[test]
fn binary_one_command_mode_and_sigterm() {
    let path = common::temp_path("bin");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_oxvsd"))
        .arg("--socket")
        .arg(&path)
        .args(["--port", "dummy:b1", "--port", "dummy:b2", "--dp", "bin0"])
        .spawn()
        .expect("spawn oxvsd");
    let start = Instant::now();
    let dp = loop {
        if let Ok(dp) = dpif_netlink::RemoteClass::new(&path).open("bin0", false) {
            break Dpif::new(dp);
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "daemon did not come up"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let names: Vec<String> = dp
        .port_dump()
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["bin0", "b1", "b2"]);
    // A second daemon on the same socket refuses to start.
    let second = std::process::Command::new(env!("CARGO_BIN_EXE_oxvsd"))
        .arg("--socket")
        .arg(&path)
        .output()
        .unwrap();
    assert!(!second.status.success());
    drop(dp);
    let st = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    assert!(!path.exists(), "socket removed");
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

/// `pkt` with an 802.1Q tag (VLAN `vid`) after the MAC addresses.
fn tagged(pkt: &[u8], vid: u16) -> Vec<u8> {
    let mut t = pkt[..12].to_vec();
    t.extend_from_slice(&0x8100u16.to_be_bytes());
    t.extend_from_slice(&vid.to_be_bytes());
    t.extend_from_slice(&pkt[12..]);
    t
}

#[test]
fn learning_switch_keeps_vlan_tags_and_follows_moves() {
    let d = Daemon::start();
    let name = unique("v");
    let e = d.state.create_dp(&name, 0, true).unwrap();
    let add = |n: &str| dpif::Provider::port_add(e.dp.as_ref(), &dummy(n), None).unwrap();
    let (p1, p2, p3) = (add("v1"), add("v2"), add("v3"));
    let wait = Duration::from_secs(5);
    let bcast = tagged(
        &udp4(MAC_A, [0xff; 6], [10, 0, 0, 1], [10, 0, 0, 255], 1, 9, 10),
        42,
    );
    d.inject(&name, p1, &bcast);
    assert_eq!(d.take_output(&name, p2, 1, wait), vec![bcast.clone()]);
    assert_eq!(d.take_output(&name, p3, 1, wait), vec![bcast.clone()]);
    let reply = tagged(
        &udp4(MAC_B, MAC_A, [10, 0, 0, 2], [10, 0, 0, 1], 9, 1, 10),
        42,
    );
    d.inject(&name, p2, &reply);
    assert_eq!(d.take_output(&name, p1, 1, wait), vec![reply.clone()]);
    assert!(d
        .take_output(&name, p3, 1, Duration::from_millis(100))
        .is_empty());
    // A moves to p3: traffic to A follows it.
    let from_a = udp4(MAC_A, [0xff; 6], [10, 0, 0, 1], [10, 0, 0, 255], 2, 9, 10);
    d.inject(&name, p3, &from_a);
    assert_eq!(d.take_output(&name, p1, 1, wait), vec![from_a.clone()]);
    assert_eq!(d.take_output(&name, p2, 1, wait), vec![from_a]);
    let to_a = udp4(MAC_B, MAC_A, [10, 0, 0, 2], [10, 0, 0, 1], 9, 1, 10);
    d.inject(&name, p2, &to_a);
    assert_eq!(d.take_output(&name, p3, 1, wait), vec![to_a]);
    assert!(d
        .take_output(&name, p1, 1, Duration::from_millis(100))
        .is_empty());
    assert_eq!(
        e.learner.as_ref().unwrap().lock().unwrap().port_of(&MAC_A),
        Some(p3.0)
    );
}

#[test]
#[ignore = "run by a_client_killed_mid_dump as a child process"]
fn child_dump_then_hang() {
    let (Some(path), Some(ifindex)) = (
        std::env::var_os("OXVSD_CHILD_SOCKET"),
        std::env::var("OXVSD_CHILD_IFINDEX").ok(),
    ) else {
        return;
    };
    let mut s = Raw::connect(std::path::Path::new(&path));
    let req = genl(
        FAM_FLOW,
        NLM_F_REQUEST | NLM_F_DUMP,
        1,
        OVS_FLOW_CMD_GET,
        Some(ifindex.parse().unwrap()),
        &[],
    );
    s.send(&req);
    s.recv().unwrap();
    println!("STARTED");
    std::thread::sleep(Duration::from_secs(60));
}

#[test]
fn a_client_killed_mid_dump() {
    use std::io::BufRead;
    let d = Daemon::start();
    let name = unique("x");
    let dp = open(&d, &name, true).unwrap();
    let p1 = dp.port_add(&dummy("x1"), None).unwrap();
    let p2 = dp.port_add(&dummy("x2"), None).unwrap();
    let n = 2000u16;
    let puts: Vec<dpif::Op> = (1..=n).map(|s| dpif::Op::Put(flow(p1, s, p2))).collect();
    assert!(dp.operate(&puts).iter().all(|r| r.is_ok()));
    let ifindex = d.state.datapath(&name).unwrap().ifindex;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_dump_then_hang",
            "--nocapture",
            "--include-ignored",
        ])
        .env("OXVSD_CHILD_SOCKET", &d.path)
        .env("OXVSD_CHILD_IFINDEX", ifindex.to_string())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(out).lines();
    assert!(lines.any(|l| l.map(|l| l.contains("STARTED")).unwrap_or(false)));
    child.kill().unwrap(); // SIGKILL, in the middle of the dump
    child.wait().unwrap();
    // Nothing lost; forwarding, dumps and new flows still work.
    let dump = dp.flow_dump(true).unwrap();
    let mut cur = dump.cursor();
    let mut all = Vec::new();
    while cur.next(&mut all, 100).unwrap() > 0 {}
    drop(cur);
    drop(dump);
    assert_eq!(all.len(), usize::from(n));
    dp.flow_put(flow(p1, 60000, p2)).unwrap();
    let pkt = udp4(MAC_A, MAC_B, [10, 0, 0, 1], [10, 0, 0, 2], 60000, 9, 10);
    d.inject(&name, p1, &pkt);
    assert_eq!(
        d.take_output(&name, p2, 1, Duration::from_secs(5)),
        vec![pkt]
    );
    dp.destroy().unwrap();
}

/// A learning switch on a daemon-owned datapath with three dummy ports.
fn learning(d: &Daemon, name: &str) -> (std::sync::Arc<oxvsd::datapath::DpEntry>, [PortNo; 3]) {
    let e = d.state.create_dp(name, 0, true).unwrap();
    let add = |n: String| dpif::Provider::port_add(e.dp.as_ref(), &dummy(&n), None).unwrap();
    let ports = [
        add(format!("{name}a")),
        add(format!("{name}b")),
        add(format!("{name}c")),
    ];
    (e, ports)
}

fn flows_of(e: &oxvsd::datapath::DpEntry) -> Vec<dpif::DpifFlow> {
    e.dp.flow_dump_owned(false).unwrap().collect()
}

#[test]
fn r12_learned_flows_match_recirc_id_exactly() {
    let d = Daemon::start();
    let name = unique("r");
    let (e, [p1, p2, _]) = learning(&d, &name);
    let wait = Duration::from_secs(5);
    d.inject(
        &name,
        p1,
        &udp4(MAC_A, [0xff; 6], [10, 0, 0, 1], [10, 0, 0, 255], 1, 9, 10),
    );
    d.take_output(&name, p2, 1, wait);
    let start = Instant::now();
    while flows_of(&e).is_empty() {
        assert!(start.elapsed() < wait, "no learned flow");
        std::thread::sleep(Duration::from_millis(10));
    }
    for f in flows_of(&e) {
        assert!(
            f.mask.is_empty() || f.mask.contains(&KeyAttr::RecircId(u32::MAX)),
            "recirc_id wildcarded: {:?}",
            f.mask
        );
    }
}

#[test]
fn r12_mac_table_is_bounded_and_a_move_touches_only_its_flows() {
    let d = Daemon::start_with(|c| c.learn.max_macs = 64);
    let name = unique("m");
    let (e, [p1, p2, p3]) = learning(&d, &name);
    let wait = Duration::from_secs(5);
    // A <-> B learned, with flows both ways.
    let ab = udp4(MAC_A, MAC_B, [10, 0, 0, 1], [10, 0, 0, 2], 1, 9, 10);
    let ba = udp4(MAC_B, MAC_A, [10, 0, 0, 2], [10, 0, 0, 1], 9, 1, 10);
    d.inject(&name, p1, &ab);
    d.take_output(&name, p2, 1, wait);
    d.inject(&name, p2, &ba);
    assert_eq!(d.take_output(&name, p1, 1, wait), vec![ba.clone()]);
    d.inject(&name, p1, &ab);
    assert_eq!(d.take_output(&name, p2, 1, wait), vec![ab.clone()]);
    let learned = |mac: [u8; 6]| {
        flows_of(&e)
            .iter()
            .filter(|f| {
                f.key
                    .iter()
                    .any(|k| matches!(k, KeyAttr::Ethernet(x) if x.src == mac || x.dst == mac))
            })
            .count()
    };
    let before = learned(MAC_A);
    assert!(before >= 2, "A's flows: {before}");
    // A flood of spoofed sources on p3: the table stays bounded.
    for i in 0..500u32 {
        let mut mac = [0x02, 0x77, 0, 0, 0, 0];
        mac[2..].copy_from_slice(&i.to_be_bytes());
        d.inject(
            &name,
            p3,
            &udp4(mac, [0xff; 6], [10, 0, 1, 1], [10, 0, 1, 255], 1, 9, 10),
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    let n = e.learner.as_ref().unwrap().lock().unwrap().n_macs();
    assert!(n <= 64, "{n} MACs remembered");
    // The flood's copies are not the point here.
    for p in [p1, p2] {
        d.take_output(&name, p, usize::MAX, Duration::from_millis(300));
    }
    // B shows up on p3 (a move): B's flows go, but traffic A <-> B is
    // relearned; a third party's flows are untouched.
    let c = [0x02, 0, 0, 0, 0, 0x0c];
    let ca = udp4(c, MAC_A, [10, 0, 0, 3], [10, 0, 0, 1], 5, 6, 10);
    d.inject(&name, p3, &ca);
    let got = d.take_output(&name, p1, 1, wait);
    assert!(got.contains(&ca), "C's packet to A: {} frames", got.len());
    let start = Instant::now();
    while learned(c) == 0 {
        assert!(start.elapsed() < wait, "C's flow");
        std::thread::sleep(Duration::from_millis(10));
    }
    let moved = udp4(MAC_B, [0xff; 6], [10, 0, 0, 2], [10, 0, 0, 255], 9, 9, 10);
    d.inject(&name, p3, &moved);
    d.take_output(&name, p1, 1, wait);
    std::thread::sleep(Duration::from_millis(200));
    assert!(learned(c) >= 1, "a third party's flow survived B's move");
    assert_eq!(
        e.learner.as_ref().unwrap().lock().unwrap().port_of(&MAC_B),
        Some(p3.0)
    );
}
