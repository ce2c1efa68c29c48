//! Open vSwitch's call sequence (lib/netlink-socket.c, drain_rcvbuf) under
//! `oxvs-run`, against a daemon.

use crate::common::client::{self, assert_empty, ovs_socket, recv_datagram};
use crate::common::nlmsg::*;
use crate::common::{daemon, probe, sys};

#[test]
fn ovs_netlink_sequence_under_preload() {
    let d = daemon::start();
    let p = probe::run("ovs_sequence", Some(d.path()), &[]);
    p.assert_ok();
    // The port id OVS reads with getsockname is a connection the daemon
    // knows (the socket is still open when the probe prints it... and
    // closed by now: compare with what the daemon gave out).
    let port: u32 = p.fact("port").parse().unwrap();
    assert_ne!(port, 0);
    if probe::skipped(&p, "ovs_netlink_sequence_under_preload (test family part)") {
        return;
    }
    assert_eq!(p.fact("done"), "1");
    if let Some(stats) = d.stats() {
        // SO_RCVBUFFORCE (or EPERM and the default) reached the daemon as
        // the socket's sk_rcvbuf, as getsockopt reported it.
        let rcvbuf: u32 = p.fact("rcvbuf").parse().unwrap();
        let opts = stats.sockopts.lock().unwrap();
        let forced = opts
            .iter()
            .any(|o| o.0 == port && o.1 == 1 && o.2 == 8 && o.3 == rcvbuf);
        let eperm = p.fact("rcvbufforce") == "EPERM";
        assert!(
            forced || eperm,
            "SO_RCVBUF {rcvbuf} for port {port} not in {opts:?}"
        );
        // NETLINK_ADD_MEMBERSHIP reached it, synchronously, on the side.
        let group: u32 = p.fact("dp_group").parse().unwrap();
        assert!(opts
            .iter()
            .any(|o| o.0 == port && o.1 == 270 && o.2 == 1 && o.3 == group));
    }
}

/// The probe: each step as OVS makes it, checked against netlink(7).
pub fn probe_sequence() {
    // A kernel socket as the reference for the generic socket options
    // (where netlink is allowed at all).
    let route = sys::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE).ok();

    // nl_sock_create.
    let fd = client::genl_socket();
    assert_eq!(
        sys::setsockopt_int(fd, libc::SOL_NETLINK, NETLINK_EXT_ACK, 1),
        Ok(())
    );
    let force = sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 4 << 20);
    assert!(matches!(force, Ok(()) | Err(libc::EPERM)));
    probe::fact("rcvbufforce", if force.is_ok() { "0" } else { "EPERM" });
    let rcvbuf = sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).unwrap();
    if let Some(route) = route {
        let force_ref = sys::setsockopt_int(route, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 4 << 20);
        assert_eq!(force, force_ref, "SO_RCVBUFFORCE as on a kernel socket");
        let rcvbuf_ref = sys::getsockopt_int(route, libc::SOL_SOCKET, libc::SO_RCVBUF).unwrap();
        assert_eq!(rcvbuf, rcvbuf_ref, "SO_RCVBUF as on a kernel socket");
        sys::close(route).unwrap();
    }
    probe::fact("rcvbuf", rcvbuf);
    assert_eq!(sys::connect_nl(fd, 0, 0), Ok(()));
    let (addr, len) = sys::getsockname(fd, 12).unwrap();
    assert_eq!(len, 12);
    let (fam, port, groups) = sys::parse_nl(&addr);
    assert_eq!((fam, groups), (libc::AF_NETLINK as u16, 0));
    assert_ne!(port, 0);
    probe::fact("port", port);

    // nl_lookup_genl_family: send, then a MSG_DONTWAIT receive that must
    // find the answer (the kernel answers inside sendmsg).
    let req = getfamily("ovs_datapath", 0, 1);
    assert_eq!(sys::sendmsg(fd, &[&req], None, 0), Ok(req.len()));
    let r =
        sys::recvmsg(fd, &[1024, 65536], libc::MSG_DONTWAIT).expect("answer queued after sendmsg");
    assert_eq!(r.flags, 0);
    assert_eq!(r.namelen, 12);
    assert_eq!(sys::parse_nl(&r.name), (libc::AF_NETLINK as u16, 0, 0));
    assert_eq!(r.controllen, 0);
    let msgs = messages(&r.data());
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    assert_eq!(msgs[0].seq, 1);
    assert_eq!(msgs[0].pid, port, "answers carry the requester's port id");
    let dp = family_info(&msgs[0]).expect("NEWFAMILY");
    assert_eq!(dp.name, "ovs_datapath");
    assert!(
        nl::daemon::FAMILY_IDS.contains(&dp.id),
        "family id {:#x}",
        dp.id
    );
    let group = dp
        .groups
        .iter()
        .find(|g| g.0 == "ovs_datapath")
        .expect("ovs_datapath group")
        .1;
    probe::fact("dp_group", group);
    assert_empty(fd);

    // nl_sock_join_mcgroup.
    assert_eq!(
        sys::setsockopt_int(fd, libc::SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, group as i32),
        Ok(())
    );
    let (list, _) =
        sys::getsockopt_bytes(fd, libc::SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 128).unwrap();
    let word = (group as usize - 1) / 32;
    let bits = u32::from_ne_bytes(list[word * 4..word * 4 + 4].try_into().unwrap());
    assert_ne!(
        bits & (1 << ((group - 1) % 32)),
        0,
        "LIST_MEMBERSHIPS shows the group"
    );

    // The rest needs the test family.
    let Ok(t) = client::lookup(fd, TEST_FAMILY) else {
        probe::skip("the daemon has no oxvs_test family");
        return;
    };
    let tg = t.groups[0].1;
    assert_eq!(
        sys::setsockopt_int(fd, libc::SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, tg as i32),
        Ok(())
    );
    let (u, _) = ovs_socket();

    // A notification caused by another socket's request is queued by the
    // time that request is answered, as with the kernel.
    let n = notify(t.id, 7, 1, 8, tg, NLM_F_ACK);
    assert_eq!(sys::sendmsg(u, &[&n], None, 0), Ok(n.len()));
    let ack = recv_datagram(u, libc::MSG_DONTWAIT).unwrap();
    assert_eq!((ack.len(), ack[0].errno(), ack[0].seq), (1, Some(0), 7));
    assert_empty(u);
    let ev = recv_datagram(fd, libc::MSG_DONTWAIT).expect("event queued");
    assert_eq!(ev.len(), 1);
    assert_eq!(event_seqno(&ev[0]), Some(0));
    assert_empty(fd);

    // Several messages in one datagram (nl_sock_transact_multiple), with
    // MSG_DONTWAIT; each answer arrives alone, in order, spilling from a
    // 16-byte first buffer into the tail.
    let reqs: Vec<Vec<u8>> = (0..3)
        .map(|i| echo(t.id, 10 + i, &pattern(100 * (i as usize + 1), i as u8)))
        .collect();
    let parts: Vec<&[u8]> = reqs.iter().map(Vec::as_slice).collect();
    let total: usize = reqs.iter().map(Vec::len).sum();
    assert_eq!(sys::sendmsg(u, &parts, None, libc::MSG_DONTWAIT), Ok(total));
    for (i, req) in reqs.iter().enumerate() {
        let r = sys::recvmsg(u, &[16, 65536], libc::MSG_DONTWAIT).unwrap();
        assert_eq!((r.ret, r.flags), (req.len(), 0));
        assert_eq!(r.bufs[0].len(), 16);
        let m = messages(&r.data());
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].seq, 10 + i as u32);
        assert_eq!(
            m[0].payload,
            messages(req)[0].payload,
            "echoed intact across the two buffers"
        );
    }
    assert_empty(u);

    // A datagram longer than both buffers: the bytes that fit, MSG_TRUNC.
    let big = echo(t.id, 20, &pattern(70_000, 9));
    sys::send(u, &big, 0).unwrap();
    let r = sys::recvmsg(u, &[16, 65536], libc::MSG_DONTWAIT).unwrap();
    assert_eq!(r.ret, 16 + 65536);
    assert_ne!(r.flags & libc::MSG_TRUNC, 0);
    assert_eq!(&r.data()[16..64], &big[16..64]);
    assert_empty(u);

    // drain_rcvbuf: 1-byte receives with MSG_TRUNC return each datagram's
    // full length (an echo's answer is as long as the request).
    let reqs: Vec<Vec<u8>> = (0..3)
        .map(|i| echo(t.id, 30 + i, &pattern(500 + i as usize * 40, 3)))
        .collect();
    for r in &reqs {
        sys::send(u, r, 0).unwrap();
    }
    for r in &reqs {
        let (n, _) = sys::recv(u, 1, libc::MSG_TRUNC | libc::MSG_DONTWAIT).unwrap();
        assert_eq!(n, r.len());
    }
    assert_eq!(
        sys::recv(u, 1, libc::MSG_TRUNC | libc::MSG_DONTWAIT).err(),
        Some(libc::EAGAIN)
    );

    // Readiness: nothing before a request; the whole answer right after the
    // send returns; nothing once it is read.
    assert_eq!(sys::poll_in(u, 0), 0);
    assert_eq!(sys::epoll_in(u, 0), 0);
    let req = echo(t.id, 40, &pattern(64, 1));
    sys::send(u, &req, 0).unwrap();
    assert_ne!(sys::poll_in(u, 0) & libc::POLLIN, 0);
    assert_eq!(sys::epoll_in(u, 0), 1);
    let r = sys::recvmsg(u, &[65536], libc::MSG_DONTWAIT).unwrap();
    assert_eq!((r.ret, r.flags), (req.len(), 0));
    assert_empty(u);
    assert_eq!(sys::poll_in(u, 0), 0);
    assert_eq!(sys::epoll_in(u, 0), 0);

    // MSG_PEEK leaves the datagram; the next receive gets the same bytes.
    let req = echo(t.id, 41, &pattern(80, 2));
    sys::send(u, &req, 0).unwrap();
    let peeked = sys::recvmsg(u, &[65536], libc::MSG_PEEK | libc::MSG_DONTWAIT).unwrap();
    let got = sys::recvmsg(u, &[65536], libc::MSG_DONTWAIT).unwrap();
    assert_eq!(peeked.data(), got.data());
    assert_eq!(peeked.ret, req.len());
    assert_empty(u);

    // write() and read() are a send and a receive.
    let req = echo(t.id, 42, &pattern(40, 4));
    assert_eq!(sys::write(u, &req), Ok(req.len()));
    assert_eq!(sys::read(u, 65536).unwrap().len(), req.len());

    // Identity of the socket.
    assert_eq!(
        sys::getsockopt_int(u, libc::SOL_SOCKET, libc::SO_TYPE),
        Ok(libc::SOCK_RAW)
    );
    assert_eq!(
        sys::getsockopt_int(u, libc::SOL_SOCKET, libc::SO_DOMAIN),
        Ok(libc::AF_NETLINK)
    );
    assert_eq!(
        sys::getsockopt_int(u, libc::SOL_SOCKET, libc::SO_PROTOCOL),
        Ok(libc::NETLINK_GENERIC)
    );
    let dg = sys::socket(
        libc::AF_NETLINK,
        libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
        libc::NETLINK_GENERIC,
    )
    .unwrap();
    assert_eq!(
        sys::getsockopt_int(dg, libc::SOL_SOCKET, libc::SO_TYPE),
        Ok(libc::SOCK_DGRAM)
    );
    assert_ne!(
        sys::fcntl_get(dg, libc::F_GETFD).unwrap() & libc::FD_CLOEXEC,
        0
    );
    sys::close(dg).unwrap();

    // A duplicate shares the socket; it outlives the original.
    let d = sys::fcntl_dupfd_cloexec(u, 100).unwrap();
    assert!(d >= 100);
    assert_eq!(sys::getsockname(d, 12), sys::getsockname(u, 12));
    sys::close(u).unwrap();
    let req = echo(t.id, 43, &pattern(10, 5));
    sys::send(d, &req, 0).unwrap();
    assert_eq!(
        sys::recv(d, 65536, libc::MSG_DONTWAIT).unwrap().0,
        req.len()
    );
    sys::close(d).unwrap();

    // A closed socket's number, reused by a pipe, is a pipe.
    let (r, w) = sys::pipe().unwrap();
    assert_eq!(sys::write(w, b"pipe"), Ok(4));
    assert_eq!(sys::read(r, 16).unwrap(), b"pipe");
    assert_eq!(sys::dup2(r, fd), Ok(fd));
    assert_eq!(sys::write(w, b"again"), Ok(5));
    assert_eq!(sys::read(fd, 16).unwrap(), b"again");
    for x in [r, w, fd] {
        sys::close(x).unwrap();
    }
    probe::fact("done", 1);
}

/// The installed `ovs-dpctl` (Open vSwitch's own client), if any.
fn ovs_dpctl() -> Option<&'static str> {
    ["/usr/bin/ovs-dpctl", "/usr/local/bin/ovs-dpctl"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
}

#[test]
fn unmodified_ovs_dpctl_finds_the_families_through_the_daemon() {
    let Some(dpctl) = ovs_dpctl() else {
        println!("SKIP: unmodified_ovs_dpctl_finds_the_families_through_the_daemon: no ovs-dpctl");
        return;
    };
    let d = daemon::start();
    let out = probe::oxvs_run_command()
        .arg("--socket")
        .arg(d.path())
        .args(["--", dpctl, "dump-dps"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "ovs-dpctl dump-dps under oxvs-run: {}\n{stderr}",
        out.status
    );
    // Had a lookup failed, OVS would say the kernel module is missing; it
    // went on to ask for the datapaths instead.
    assert!(!stderr.contains("does not exist"), "{stderr}");
    assert!(!stderr.contains("oxvs-run:"), "{stderr}");
    // Nothing the interposer did made OVS warn (its test suite fails a
    // test on any WARN).
    assert!(!stderr.contains("netlink_socket|WARN"), "{stderr}");
    if let Some(stats) = d.stats() {
        assert!(stats.accepted.load(std::sync::atomic::Ordering::Relaxed) > 0);
        // The fixture has no datapaths: an empty list, and not a word.
        assert!(out.status.success(), "{stderr}");
        assert_eq!((out.stdout.as_slice(), stderr.as_ref()), (&b""[..], ""));
    }
}
