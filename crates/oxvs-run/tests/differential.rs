//! The kernel as the reference: the same call-level checks, which do not
//! depend on what the messages say, run natively on a real NETLINK_GENERIC
//! socket against the kernel's `nlctrl` and under `oxvs-run` against a
//! daemon (family `ovs_datapath`); every observation must match.

use std::collections::BTreeMap;

use crate::common::client::{self, assert_empty};
use crate::common::nlmsg::*;
use crate::common::{daemon, probe, sys};

/// Facts whose value netlink(7) and the kernel sources fix, whatever the
/// daemon: checked against these as well as against each other.
const EXPECTED: &[(&str, &str)] = &[
    ("fresh_name", "len=12 family=16 pid=0 groups=0"),
    ("connected_name", "len=12 family=16 pid!=0 groups=0"),
    ("peer_name", "len=12 family=16 pid=0 groups=0"),
    ("bind0_after_connect", "EINVAL"),
    ("so_type", "3"),
    ("so_type_dgram", "2"),
    ("so_domain", "16"),
    ("so_protocol", "16"),
    ("empty_recv", "EAGAIN"),
    ("empty_poll", "0"),
    ("empty_epoll", "0"),
    ("multi_send", "all bytes"),
    ("answer_poll", "readable"),
    (
        "first_answer",
        "alone, whole, name len=12 family=16 pid=0 groups=0, control 0",
    ),
    ("short_buffer", "20 bytes, MSG_TRUNC"),
    ("peek_then_drain", "same full length"),
    ("after_answers", "EAGAIN, not readable"),
    ("recvfrom_addr", "len=12 family=16 pid=0 groups=0"),
    ("unknown_family", "ENOENT"),
    (
        "dump",
        "multi-message datagrams, NLM_F_MULTI, ends with NLMSG_DONE, then EAGAIN",
    ),
    ("drain", "full lengths, then EAGAIN"),
    ("join_group", "getsockname and LIST_MEMBERSHIPS show it"),
    ("drop_group", "gone"),
    ("join_zero", "EINVAL"),
    ("list_memberships_fresh", "len=0"),
    ("netlink_bool_options", "set and read back"),
    (
        "bind_explicit",
        "taken; same pid again EADDRINUSE; other pid after bound EINVAL",
    ),
    ("read_write", "a send and a receive"),
    ("dup", "shares the socket"),
    ("reused_number", "a pipe"),
];

#[test]
fn native_kernel_and_preload_agree() {
    let native = probe::run("differential", None, &[("OXVS_PROBE_FAMILY", "nlctrl")]);
    if probe::skipped(&native, "native_kernel_and_preload_agree") {
        return;
    }
    native.assert_ok();
    let d = daemon::start();
    let preload = probe::run(
        "differential",
        Some(d.path()),
        &[("OXVS_PROBE_FAMILY", "ovs_datapath")],
    );
    preload.assert_ok();
    let mut want: BTreeMap<String, String> = EXPECTED
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // Generic socket code, same numbers on both; not fixed by netlink(7).
    for k in [
        "rcvbufforce",
        "rcvbuf_after_force",
        "rcvbuf_32k",
        "rcvbuf_tiny",
        "send_elsewhere",
    ] {
        want.insert(k.to_string(), native.fact(k).to_string());
    }
    assert_eq!(
        native.facts,
        want,
        "the kernel's own behaviour changed?\n{}",
        native.stdout()
    );
    assert_eq!(
        preload.facts,
        native.facts,
        "preload differs from the kernel\n{}",
        preload.stderr()
    );
}

fn name_fact(addr: &[u8], len: usize) -> String {
    let (fam, pid, groups) = sys::parse_nl(addr);
    format!("len={len} family={fam} pid={pid} groups={groups}")
}

fn errno_name(r: Result<impl Sized, i32>) -> String {
    match r {
        Ok(_) => "0".into(),
        Err(libc::EAGAIN) => "EAGAIN".into(),
        Err(libc::EINVAL) => "EINVAL".into(),
        Err(libc::EPERM) => "EPERM".into(),
        Err(libc::ENOENT) => "ENOENT".into(),
        Err(libc::EADDRINUSE) => "EADDRINUSE".into(),
        Err(libc::ECONNREFUSED) => "ECONNREFUSED".into(),
        Err(e) => format!("errno {e}"),
    }
}

/// The probe: `$OXVS_PROBE_FAMILY` is a family both sides know.
pub fn probe_differential() {
    let family = std::env::var("OXVS_PROBE_FAMILY").unwrap();
    let fd = match sys::socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_GENERIC) {
        Ok(fd) => fd,
        Err(e) => return probe::skip(&format!("no NETLINK_GENERIC socket here (errno {e})")),
    };

    // Names before and after connect.
    let (a, len) = sys::getsockname(fd, 12).unwrap();
    probe::fact("fresh_name", name_fact(&a, len));
    let (a, len) = sys::getsockname(fd, 128).unwrap();
    assert_eq!(len, 12);
    assert!(
        a[12..].iter().all(|&b| b == 0),
        "nothing written past the address"
    );
    let lm = sys::getsockopt_bytes(fd, libc::SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 64).unwrap();
    probe::fact("list_memberships_fresh", format!("len={}", lm.1));
    sys::setsockopt_int(fd, libc::SOL_NETLINK, NETLINK_EXT_ACK, 1).unwrap();
    sys::connect_nl(fd, 0, 0).unwrap();
    let (a, len) = sys::getsockname(fd, 12).unwrap();
    let (fam, pid, groups) = sys::parse_nl(&a);
    assert_ne!(pid, 0);
    probe::fact(
        "connected_name",
        format!("len={len} family={fam} pid!=0 groups={groups}"),
    );
    let (a, len) = sys::getpeername(fd, 12).unwrap();
    probe::fact("peer_name", name_fact(&a, len));
    probe::fact("bind0_after_connect", errno_name(sys::bind_nl(fd, 0, 0)));

    // Identity.
    probe::fact(
        "so_type",
        sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TYPE).unwrap(),
    );
    probe::fact(
        "so_domain",
        sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_DOMAIN).unwrap(),
    );
    probe::fact(
        "so_protocol",
        sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL).unwrap(),
    );
    let dg = sys::socket(libc::AF_NETLINK, libc::SOCK_DGRAM, libc::NETLINK_GENERIC).unwrap();
    probe::fact(
        "so_type_dgram",
        sys::getsockopt_int(dg, libc::SOL_SOCKET, libc::SO_TYPE).unwrap(),
    );
    sys::close(dg).unwrap();

    // Receive buffer: generic socket code on both sides.
    let force = sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 1 << 20);
    probe::fact("rcvbufforce", errno_name(force));
    probe::fact(
        "rcvbuf_after_force",
        sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).unwrap(),
    );
    sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 32768).unwrap();
    probe::fact(
        "rcvbuf_32k",
        sys::getsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).unwrap(),
    );
    let tiny = client::genl_socket();
    sys::setsockopt_int(tiny, libc::SOL_SOCKET, libc::SO_RCVBUF, 1).unwrap();
    probe::fact(
        "rcvbuf_tiny",
        sys::getsockopt_int(tiny, libc::SOL_SOCKET, libc::SO_RCVBUF).unwrap(),
    );
    sys::close(tiny).unwrap();
    sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 1 << 20).unwrap();

    // Boolean SOL_NETLINK options read back.
    let mut ok = true;
    for name in [
        NETLINK_PKTINFO,
        NETLINK_BROADCAST_ERROR,
        NETLINK_NO_ENOBUFS,
        NETLINK_CAP_ACK,
        NETLINK_GET_STRICT_CHK,
    ] {
        for v in [1, 0] {
            sys::setsockopt_int(fd, libc::SOL_NETLINK, name, v).unwrap();
            ok &= sys::getsockopt_int(fd, libc::SOL_NETLINK, name) == Ok(v);
        }
    }
    ok &= sys::getsockopt_int(fd, libc::SOL_NETLINK, NETLINK_EXT_ACK) == Ok(1);
    ok &= sys::getsockopt_bytes(fd, libc::SOL_NETLINK, NETLINK_EXT_ACK, 3).err()
        == Some(libc::EINVAL);
    probe::fact(
        "netlink_bool_options",
        if ok { "set and read back" } else { "mismatch" },
    );

    // An empty queue.
    probe::fact(
        "empty_recv",
        errno_name(sys::recvmsg(fd, &[65536], libc::MSG_DONTWAIT)),
    );
    probe::fact("empty_poll", sys::poll_in(fd, 0));
    probe::fact("empty_epoll", sys::epoll_in(fd, 0));

    // Three requests in one datagram.
    let reqs: Vec<Vec<u8>> = (1..=3).map(|s| getfamily(&family, 0, s)).collect();
    let parts: Vec<&[u8]> = reqs.iter().map(Vec::as_slice).collect();
    let total: usize = reqs.iter().map(Vec::len).sum();
    let sent = sys::sendmsg(fd, &parts, Some((0, 0)), libc::MSG_DONTWAIT);
    probe::fact(
        "multi_send",
        if sent == Ok(total) {
            "all bytes".to_string()
        } else {
            format!("{sent:?}")
        },
    );
    let readable = sys::poll_in(fd, 0) & libc::POLLIN != 0;
    probe::fact(
        "answer_poll",
        if readable { "readable" } else { "not readable" },
    );

    // First answer: small first buffer and a tail, as OVS reads.
    let r = sys::recvmsg(fd, &[16, 65536], 0).unwrap();
    let m = messages(&r.data());
    let whole = m.len() == 1 && m[0].seq == 1 && nl::align(16 + m[0].payload.len()) >= r.ret;
    probe::fact(
        "first_answer",
        format!(
            "{}, {}, name {}, control {}",
            if m.len() == 1 { "alone" } else { "several" },
            if whole && r.flags == 0 {
                "whole"
            } else {
                "cut"
            },
            name_fact(&r.name, r.namelen),
            r.controllen
        ),
    );
    // Second: a 20-byte buffer keeps 20 bytes and says MSG_TRUNC.
    let r = sys::recvmsg(fd, &[20], 0).unwrap();
    probe::fact(
        "short_buffer",
        format!(
            "{} bytes{}",
            r.ret,
            if r.flags & libc::MSG_TRUNC != 0 {
                ", MSG_TRUNC"
            } else {
                ""
            }
        ),
    );
    // Third: peek with one byte and MSG_TRUNC, then drain it the same way.
    let peek = sys::recvmsg(fd, &[1], libc::MSG_PEEK | libc::MSG_TRUNC).unwrap();
    let (drained, _) = sys::recv(fd, 1, libc::MSG_TRUNC | libc::MSG_DONTWAIT).unwrap();
    let same = peek.ret == drained && drained > 16 && peek.flags & libc::MSG_TRUNC != 0;
    probe::fact(
        "peek_then_drain",
        if same {
            "same full length".into()
        } else {
            format!("{} vs {drained}", peek.ret)
        },
    );
    let after = sys::recvmsg(fd, &[65536], libc::MSG_DONTWAIT);
    let readable = sys::poll_in(fd, 0) != 0 || sys::epoll_in(fd, 0) != 0;
    probe::fact(
        "after_answers",
        format!(
            "{}, {}",
            errno_name(after),
            if readable { "readable" } else { "not readable" }
        ),
    );

    // recvfrom reports the kernel as the source.
    sys::sendto(fd, &getfamily(&family, 0, 4), 0, 0, 0).unwrap();
    let (_, _, addr, alen) = sys::recvfrom(fd, 65536, 0).unwrap();
    probe::fact("recvfrom_addr", name_fact(&addr, alen));

    // An unknown family.
    let answer = client::transact(fd, &getfamily("oxvs_nofamily", NLM_F_ACK, 5));
    let e = answer.iter().find_map(Msg::errno);
    probe::fact(
        "unknown_family",
        errno_name(match e {
            Some(0) | None => Ok(()),
            Some(e) => Err(e),
        }),
    );

    // A dump, read as nl_dump_next does (MSG_DONTWAIT receives).
    sys::send(fd, &getfamily_dump(6), 0).unwrap();
    let (mut multi, mut all_multi, mut done) = (false, true, false);
    while !done {
        let msgs = client::recv_datagram(fd, libc::MSG_DONTWAIT).expect("dump part");
        multi |= msgs.len() > 1;
        for m in &msgs {
            all_multi &= m.flags & NLM_F_MULTI != 0 && m.seq == 6;
            done |= m.ty == NLMSG_DONE;
        }
    }
    let eagain = sys::recvmsg(fd, &[65536], libc::MSG_DONTWAIT).err() == Some(libc::EAGAIN);
    probe::fact(
        "dump",
        format!(
            "{}, {}, ends with NLMSG_DONE, then {}",
            if multi {
                "multi-message datagrams"
            } else {
                "one message per datagram"
            },
            if all_multi {
                "NLM_F_MULTI"
            } else {
                "flags differ"
            },
            if eagain { "EAGAIN" } else { "more" }
        ),
    );

    // drain_rcvbuf over a dump.
    sys::send(fd, &getfamily_dump(7), 0).unwrap();
    let mut lengths = Vec::new();
    let end = loop {
        match sys::recv(fd, 1, libc::MSG_TRUNC | libc::MSG_DONTWAIT) {
            Ok((n, _)) => lengths.push(n),
            Err(e) => break e,
        }
    };
    let full = !lengths.is_empty() && lengths.iter().all(|&n| n >= 20);
    probe::fact(
        "drain",
        format!(
            "{}, then {}",
            if full { "full lengths" } else { "short" },
            errno_name(Err::<(), _>(end))
        ),
    );

    // Membership of the family's group.
    let info = client::lookup(fd, &family).expect("family");
    let g = info.groups.first().expect("a multicast group").1;
    sys::setsockopt_int(fd, libc::SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, g as i32).unwrap();
    let (a, _) = sys::getsockname(fd, 12).unwrap();
    let mask = if g <= 32 { 1u32 << (g - 1) } else { 0 };
    let (list, list_len) =
        sys::getsockopt_bytes(fd, libc::SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 256).unwrap();
    let w = (g as usize - 1) / 32;
    let listed = list_len >= 4 * (w + 1)
        && list_len % 4 == 0
        && u32::from_ne_bytes(list[4 * w..4 * w + 4].try_into().unwrap()) & (1 << ((g - 1) % 32))
            != 0;
    let shown = sys::parse_nl(&a).2 == mask && listed;
    probe::fact(
        "join_group",
        if shown {
            "getsockname and LIST_MEMBERSHIPS show it"
        } else {
            "not shown"
        },
    );
    sys::setsockopt_int(fd, libc::SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, g as i32).unwrap();
    let (a, _) = sys::getsockname(fd, 12).unwrap();
    let (list, _) =
        sys::getsockopt_bytes(fd, libc::SOL_NETLINK, NETLINK_LIST_MEMBERSHIPS, 256).unwrap();
    let gone = sys::parse_nl(&a).2 == 0 && list.iter().all(|&b| b == 0);
    probe::fact("drop_group", if gone { "gone" } else { "still there" });
    probe::fact(
        "join_zero",
        errno_name(sys::setsockopt_int(
            fd,
            libc::SOL_NETLINK,
            NETLINK_ADD_MEMBERSHIP,
            0,
        )),
    );

    // Sending to another port id.
    probe::fact(
        "send_elsewhere",
        errno_name(sys::sendto(
            fd,
            &getfamily(&family, 0, 8),
            0,
            0x7ead_beef,
            0,
        )),
    );

    // bind() with explicit port ids, as pyroute2 does.
    let want = 0x4000_0000 | (sys::getpid() & 0x3f_ffff);
    let a = client::genl_socket();
    let b = client::genl_socket();
    let first = sys::bind_nl(a, want, 0);
    let (addr, _) = sys::getsockname(a, 12).unwrap();
    let again = sys::bind_nl(b, want, 0);
    let other = sys::bind_nl(a, want + 1, 0);
    let ok = first.is_ok()
        && sys::parse_nl(&addr).1 == want
        && again == Err(libc::EADDRINUSE)
        && other == Err(libc::EINVAL);
    probe::fact(
        "bind_explicit",
        if ok {
            "taken; same pid again EADDRINUSE; other pid after bound EINVAL".to_string()
        } else {
            format!("{first:?} {:?} {again:?} {other:?}", sys::parse_nl(&addr))
        },
    );
    sys::close(a).unwrap();
    sys::close(b).unwrap();

    // write() and read().
    let req = getfamily(&family, 0, 9);
    let w = sys::write(fd, &req);
    let r = sys::read(fd, 65536);
    let ok = w == Ok(req.len())
        && r.as_ref()
            .is_ok_and(|d| messages(d).first().is_some_and(|m| m.seq == 9));
    probe::fact(
        "read_write",
        if ok { "a send and a receive" } else { "broken" },
    );
    assert_empty(fd);

    // dup, then close the original.
    let d = sys::dup(fd).unwrap();
    let same = sys::getsockname(d, 12) == sys::getsockname(fd, 12);
    sys::close(fd).unwrap();
    let works = client::lookup(d, &family).is_ok();
    probe::fact(
        "dup",
        if same && works {
            "shares the socket"
        } else {
            "broken"
        },
    );

    // The number of a closed socket, reused by a pipe (pipes take the
    // lowest free numbers), is a pipe.
    sys::close(d).unwrap();
    let mut pipes = Vec::new();
    let mut end = None;
    while pipes.len() < 64 && end.is_none() {
        let (r, w) = sys::pipe().unwrap();
        pipes.push((r, w));
        end = [r, w].contains(&d).then_some((r, w));
    }
    let ok = end
        .is_some_and(|(r, w)| sys::write(w, b"x").is_ok() && sys::read(r, 4) == Ok(b"x".to_vec()));
    probe::fact(
        "reused_number",
        if ok { "a pipe" } else { "broken or not reused" },
    );
    for (r, w) in pipes {
        sys::close(r).unwrap();
        sys::close(w).unwrap();
    }
}
