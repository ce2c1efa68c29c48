//! The less common calls (sendmmsg/recvmmsg, readv/writev, close_range,
//! bind with groups) and threads sharing sockets, under `oxvs-run`.

use std::sync::Arc;

use crate::common::client::{self, assert_empty, ovs_socket, recv_datagram, transact};
use crate::common::nlmsg::*;
use crate::common::{daemon, probe, sys};

#[test]
fn batch_vector_and_range_calls() {
    let d = daemon::start();
    let p = probe::run("calls", Some(d.path()), &[]);
    p.assert_ok();
    if !probe::skipped(&p, "batch_vector_and_range_calls") {
        assert_eq!(p.fact("done"), "1");
    }
}

#[test]
fn threads_sharing_sockets() {
    let d = daemon::start();
    let p = probe::run("threads", Some(d.path()), &[]);
    p.assert_ok();
    if !probe::skipped(&p, "threads_sharing_sockets") {
        assert_eq!(p.fact("done"), "1");
    }
}

/// The probe of the less common calls.
pub fn probe_calls() {
    let (u, _) = ovs_socket();
    let Ok(t) = client::lookup(u, TEST_FAMILY) else {
        return probe::skip("the daemon has no oxvs_test family");
    };
    let tg = t.groups[0].1;
    assert!(tg <= 32, "the test group fits nl_groups");

    // sendmmsg: one datagram each; recvmmsg takes them in order.
    let reqs: Vec<Vec<u8>> = (0..3)
        .map(|i| echo(t.id, 50 + i, &pattern(20 + i as usize, 6)))
        .collect();
    let parts: Vec<&[u8]> = reqs.iter().map(Vec::as_slice).collect();
    assert_eq!(sys::sendmmsg(u, &parts, 0), Ok(3));
    let got = sys::recvmmsg(u, 8, 65536, libc::MSG_DONTWAIT).unwrap();
    assert_eq!(got.len(), 3);
    for (g, r) in got.iter().zip(&reqs) {
        assert_eq!(g.len(), r.len());
        assert_eq!(messages(g)[0].payload, messages(r)[0].payload);
    }
    assert_empty(u);

    // writev: the parts are one datagram; readv spreads the answer.
    let req = echo(t.id, 60, &pattern(100, 8));
    assert_eq!(sys::writev(u, &[&req[..10], &req[10..]]), Ok(req.len()));
    let (n, bufs) = sys::readv(u, &[8, 1000]).unwrap();
    assert_eq!(n, req.len());
    assert_eq!(messages(&bufs.concat()[..n])[0].seq, 60);
    assert_empty(u);

    // bind() with nl_groups joins groups 1..=32; a later bind changes them.
    let s = client::genl_socket();
    sys::bind_nl(s, 0, 1 << (tg - 1)).unwrap();
    let (a, _) = sys::getsockname(s, 12).unwrap();
    assert_eq!(sys::parse_nl(&a).2, 1 << (tg - 1));
    assert!(transact(u, &notify(t.id, 61, 1, 4, tg, 0)).is_empty());
    let ev = recv_datagram(s, libc::MSG_DONTWAIT).unwrap();
    assert_eq!(event_seqno(&ev[0]), Some(0));
    let port = sys::parse_nl(&a).1;
    sys::bind_nl(s, port, 0).unwrap();
    assert!(transact(u, &notify(t.id, 62, 1, 4, tg, 0)).is_empty());
    assert_empty(s);
    assert_eq!(sys::parse_nl(&sys::getsockname(s, 12).unwrap().0).2, 0);

    // close_range forgets the sockets it closes.
    let x = client::genl_socket();
    sys::close_range(x as u32, x as u32).unwrap();
    let (r, w) = sys::pipe().unwrap();
    assert_eq!(r, x, "the pipe takes the lowest free number");
    sys::write(w, b"y").unwrap();
    assert_eq!(sys::read(r, 4), Ok(b"y".to_vec()));
    // A close the library cannot see (a raw system call): the number, now a
    // pipe's, reads and writes as a pipe all the same.
    let y = client::genl_socket();
    sys::close_behind_libc(y).unwrap();
    let (r2, w2) = sys::pipe().unwrap();
    assert_eq!(r2, y);
    assert_eq!(sys::write(w2, b"z"), Ok(1));
    assert_eq!(sys::read(r2, 4), Ok(b"z".to_vec()));
    let (r3, w3) = sys::pipe().unwrap();
    let z = client::genl_socket();
    sys::dup2_behind_libc(w3, z).unwrap();
    assert_eq!(sys::write(z, b"w"), Ok(1));
    assert_eq!(sys::read(r3, 4), Ok(b"w".to_vec()));
    for f in [r, w, s, u, r2, w2, r3, w3, z] {
        sys::close(f).unwrap();
    }
    probe::fact("done", 1);
}

/// The probe of threads: several threads open sockets and join groups at
/// once (one side connection for them all), and two threads read one
/// socket while a third sends it requests: every answer arrives once.
pub fn probe_threads() {
    let (u, _) = ovs_socket();
    let Ok(t) = client::lookup(u, TEST_FAMILY) else {
        return probe::skip("the daemon has no oxvs_test family");
    };
    let tg = t.groups[0].1;
    let t = Arc::new(t);
    let openers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                for _ in 0..10 {
                    let (s, _) = ovs_socket();
                    sys::setsockopt_int(s, libc::SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, tg as i32)
                        .unwrap();
                    sys::setsockopt_int(s, libc::SOL_NETLINK, NETLINK_DROP_MEMBERSHIP, tg as i32)
                        .unwrap();
                    sys::close(s).unwrap();
                }
            })
        })
        .collect();
    for o in openers {
        o.join().unwrap();
    }

    // Readers and a sender on one socket; the sender ends with one marker
    // (seq u32::MAX) per reader.
    const N: u32 = 200;
    let markers = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let markers = markers.clone();
            std::thread::spawn(move || {
                let mut seqs = Vec::new();
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
                while std::time::Instant::now() < deadline {
                    match sys::recvmsg(u, &[65536], libc::MSG_DONTWAIT) {
                        Ok(r) => {
                            for m in messages(&r.data()) {
                                if m.seq == u32::MAX {
                                    markers.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                } else {
                                    seqs.push(m.seq);
                                }
                            }
                        }
                        Err(libc::EAGAIN)
                            if markers.load(std::sync::atomic::Ordering::SeqCst) == 2 =>
                        {
                            break
                        }
                        Err(libc::EAGAIN) => {
                            sys::poll_in(u, 10);
                        }
                        Err(e) => panic!("recv: errno {e}"),
                    }
                }
                seqs
            })
        })
        .collect();
    let sender = {
        let t = t.clone();
        std::thread::spawn(move || {
            for i in 0..N {
                sys::send(u, &echo(t.id, 1000 + i, &pattern(16, i as u8)), 0).unwrap();
            }
            // The last one tells both readers to stop.
            sys::send(u, &echo(t.id, u32::MAX, b"end"), 0).unwrap();
            sys::send(u, &echo(t.id, u32::MAX, b"end"), 0).unwrap();
        })
    };
    sender.join().unwrap();
    let mut all: Vec<u32> = readers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    all.retain(|&s| s != u32::MAX);
    all.sort_unstable();
    assert_eq!(
        all,
        (1000..1000 + N).collect::<Vec<_>>(),
        "each answer exactly once"
    );
    probe::fact("done", 1);
}
