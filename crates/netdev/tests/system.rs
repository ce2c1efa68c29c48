//! The kernel-backed netdevs (`system`, `tap`, `internal`) on veth pairs
//! and tap devices in throw-away network namespaces. Each test prints
//! `SKIP: <reason>` and passes when it cannot run (not root, no `ip`).

#[path = "common/netns.rs"]
mod netns;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netdev::offload::VnetHdr;
use netdev::{Batch, Netdev, Packet, Poller, RxSignal};
use netns::Netns;

fn opts(kv: &[(&str, &str)]) -> Vec<(String, String)> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Receives from `dev` until `want` packets matching `keep` arrived or
/// two seconds passed.
fn recv_matching(dev: &dyn Netdev, want: usize, keep: impl Fn(&Packet) -> bool) -> Vec<Packet> {
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut got = Vec::new();
    let mut batch = Batch::new();
    while got.len() < want && Instant::now() < deadline {
        if !dev.wait_rx(0, Duration::from_millis(50)) {
            continue;
        }
        batch.clear();
        dev.rxq_recv(0, &mut batch).expect("receive");
        got.extend(batch.iter().filter(|p| keep(p)).cloned());
    }
    got
}

/// Sends one UDP datagram to `ip` (port 9, discard) from the calling
/// thread's network namespace, so that the host resolves `ip` with ARP. No
/// outside command (such as ping) is needed.
fn send_udp_to(ip: &str) {
    let s = std::net::UdpSocket::bind("0.0.0.0:0").expect("UDP socket");
    s.send_to(b"oxvs", (ip, 9)).expect("UDP send");
}

const TEST_TYPE: [u8; 2] = [0x88, 0xb5]; // local experimental EtherType

fn frame(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    if let Some(tci) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&tci.to_be_bytes());
    }
    f.extend_from_slice(&TEST_TYPE);
    f.extend_from_slice(payload);
    f
}

fn is_test_frame(p: &Packet) -> bool {
    let d = p.data();
    d.len() > 18 && (d[12..14] == TEST_TYPE || d[16..18] == TEST_TYPE)
}

#[test]
fn system_receives_frames_and_restores_vlan_tags() {
    if netns::skip("system_receives_frames_and_restores_vlan_tags") {
        return;
    }
    let ns = Netns::new("rx").unwrap();
    ns.no_ipv6().unwrap();
    ns.veth("va", "vb").unwrap();
    for ring in ["v3", "v2"] {
        ns.enter(|| {
            let a = netdev::open("system", "va", &opts(&[("ring", ring)])).unwrap();
            let b =
                netdev::open("system", "vb", &opts(&[("vnet", "false"), ("ring", ring)])).unwrap();
            assert_eq!(a.kind(), "system");
            assert_eq!(a.mtu(), 1500);
            let src = b.mac();
            let plain = frame([0xff; 6], src, None, &[7u8; 100]);
            // PCP 5, VID 1234.
            let tagged = frame([0x02, 0, 0, 0, 0, 9], src, Some(0xa4d2), &[9u8; 200]);
            let mut batch = Batch::new();
            batch.push_copy(&plain);
            batch.push_copy(&tagged);
            assert_eq!(b.send(0, &mut batch).unwrap(), 2);
            assert!(batch.is_empty());
            let got = recv_matching(&*a, 2, is_test_frame);
            assert_eq!(got.len(), 2, "both frames arrive");
            assert_eq!(got[0].data(), &plain[..]);
            // The receiving veth strips the tag into metadata; it is put back.
            assert_eq!(got[1].data(), &tagged[..]);
            assert!(got.iter().all(|p| p.vnet.is_none() && p.in_port == 0));
            let s = a.stats();
            assert!(s.rx_packets >= 2, "{s:?}");
            assert_eq!(b.stats().tx_packets, 2);
            // Our own transmissions are not received back.
            let echoed = recv_matching(&*b, 1, is_test_frame);
            assert!(echoed.is_empty(), "b does not see what it sent");
        });
    }
}

/// A TCP/IPv4 segment of `n` payload bytes whose checksum field holds the
/// pseudo-header sum (what a stack leaves for checksum offload).
fn big_tcp(src: [u8; 6], dst: [u8; 6], n: usize) -> Vec<u8> {
    let mut f = vec![0u8; 54 + n];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    let tot = (40 + n) as u16;
    f[16..18].copy_from_slice(&tot.to_be_bytes());
    f[20] = 0x40; // DF
    f[22] = 64;
    f[23] = 6;
    f[26..30].copy_from_slice(&[10, 1, 0, 1]);
    f[30..34].copy_from_slice(&[10, 1, 0, 2]);
    let mut s: u32 = f[14..34]
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
        .sum();
    s = (s & 0xffff) + (s >> 16);
    s = (s & 0xffff) + (s >> 16);
    f[24..26].copy_from_slice(&(!(s as u16)).to_be_bytes());
    f[34..36].copy_from_slice(&40000u16.to_be_bytes());
    f[36..38].copy_from_slice(&5001u16.to_be_bytes());
    f[46] = 5 << 4;
    f[47] = 0x18;
    f[48..50].copy_from_slice(&64240u16.to_be_bytes());
    let mut p: u32 = 6 + 20 + n as u32;
    p += f[26..34]
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]) as u32)
        .sum::<u32>();
    p = (p & 0xffff) + (p >> 16);
    p = (p & 0xffff) + (p >> 16);
    f[50..52].copy_from_slice(&(p as u16).to_be_bytes());
    for (i, b) in f[54..].iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    f
}

#[test]
fn system_keeps_and_reinjects_tso_segments() {
    if netns::skip("system_keeps_and_reinjects_tso_segments") {
        return;
    }
    let ns = Netns::new("gso").unwrap();
    ns.no_ipv6().unwrap();
    ns.veth("va", "vb").unwrap();
    for ring in ["v3", "v2"] {
        ns.enter(|| {
            let a = netdev::open("system", "va", &opts(&[("ring", ring)])).unwrap();
            let b = netdev::open("system", "vb", &opts(&[("ring", ring)])).unwrap();
            let seg = big_tcp(b.mac(), a.mac(), 20_000);
            let hdr = VnetHdr {
                flags: VnetHdr::NEEDS_CSUM,
                gso_type: VnetHdr::GSO_TCPV4,
                hdr_len: 54,
                gso_size: 1448,
                csum_start: 34,
                csum_offset: 16,
            };
            let mut p = Packet::from_slice(&seg);
            p.vnet = Some(hdr);
            let mut batch = Batch::new();
            assert!(batch.push(p).is_ok());
            assert_eq!(b.send(0, &mut batch).unwrap(), 1, "{:?}", b.stats());
            let is_tcp = |p: &Packet| p.data().len() > 23 && p.data()[23] == 6;
            let got = recv_matching(&*a, 1, is_tcp);
            assert_eq!(got.len(), 1, "one 20 kB frame, not segments");
            assert_eq!(got[0].data(), &seg[..]);
            let h = got[0].vnet.expect("vnet header kept");
            assert_eq!(h.gso_type & !VnetHdr::GSO_ECN, VnetHdr::GSO_TCPV4);
            assert_eq!(h.gso_size, 1448);
            assert!(h.needs_csum());
            assert_eq!((h.csum_start, h.csum_offset), (34, 16));

            // Forward it back as received: the header goes back to the kernel.
            let mut batch = Batch::new();
            assert!(batch.push(got[0].clone()).is_ok());
            assert_eq!(a.send(0, &mut batch).unwrap(), 1);
            let back = recv_matching(&*b, 1, is_tcp);
            assert_eq!(back.len(), 1);
            assert_eq!(back[0].data(), &seg[..]);
            assert_eq!(back[0].vnet.map(|h| h.gso_size), Some(1448));
        });
    }
}

#[test]
fn system_tagged_tso_segment_offsets_follow_the_tag() {
    if netns::skip("system_tagged_tso_segment_offsets_follow_the_tag") {
        return;
    }
    let ns = Netns::new("vg").unwrap();
    ns.no_ipv6().unwrap();
    ns.veth("va", "vb").unwrap();
    for ring in ["v3", "v2"] {
        ns.enter(|| {
            let a = netdev::open("system", "va", &opts(&[("ring", ring)])).unwrap();
            let b = netdev::open("system", "vb", &opts(&[("ring", ring)])).unwrap();
            let plain = big_tcp(b.mac(), a.mac(), 5000);
            let mut seg = plain[..12].to_vec();
            seg.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
            seg.extend_from_slice(&plain[12..]);
            let mut p = Packet::from_slice(&seg);
            p.vnet = Some(VnetHdr {
                flags: VnetHdr::NEEDS_CSUM,
                gso_type: VnetHdr::GSO_TCPV4,
                hdr_len: 58,
                gso_size: 1448,
                csum_start: 38,
                csum_offset: 16,
            });
            let mut batch = Batch::new();
            assert!(batch.push(p).is_ok());
            assert_eq!(b.send(0, &mut batch).unwrap(), 1, "{:?}", b.stats());
            let got = recv_matching(&*a, 1, |p| p.len() > 5000);
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].data(), &seg[..], "tag restored in place");
            let h = got[0].vnet.expect("vnet header kept");
            assert_eq!(h.csum_start, 38, "offset counts the restored tag");
        });
    }
}

#[test]
fn missing_interface_is_not_found() {
    if netns::skip("missing_interface_is_not_found") {
        return;
    }
    let e = netdev::open("system", "oxt-no-such0", &[])
        .err()
        .expect("no such interface");
    assert_eq!(e.kind(), io::ErrorKind::NotFound, "{e}");
    let e = netdev::open("system", "this-name-is-far-too-long", &[])
        .err()
        .expect("bad name");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
    let e = netdev::open("system", "lo", &opts(&[("bogus", "1")]))
        .err()
        .expect("unknown option");
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{e}");
}

#[test]
fn tap_exchanges_frames_with_the_host() {
    if netns::skip("tap_exchanges_frames_with_the_host") {
        return;
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        println!("SKIP: tap_exchanges_frames_with_the_host: no /dev/net/tun");
        return;
    }
    let ns = Netns::new("tap").unwrap();
    ns.no_ipv6().unwrap();
    ns.enter(|| {
        let t = netdev::open("tap", "t0", &[]).unwrap();
        assert_eq!(t.kind(), "tap");
        ns.ip(&["addr", "add", "10.9.0.1/24", "dev", "t0"]).unwrap();
        assert!(ns.ip(&["link", "show", "t0"]).unwrap().contains("UP"));
        // The host resolves 10.9.0.2: an ARP request comes out of the tap.
        send_udp_to("10.9.0.2");
        let is_arp = |p: &Packet| p.data().len() >= 42 && p.data()[12..14] == [0x08, 0x06];
        let got = recv_matching(&*t, 1, is_arp);
        assert_eq!(got.len(), 1, "ARP request received from the host");
        let req = got[0].data();
        assert_eq!(&req[6..12], &t.mac(), "sent by the tap's own address");
        assert_eq!(&req[38..42], &[10, 9, 0, 2]);
        // Answer it: the host learns our address.
        let me = [0x02, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e];
        let mut rep = Vec::new();
        rep.extend_from_slice(&req[6..12]);
        rep.extend_from_slice(&me);
        rep.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
        rep.extend_from_slice(&me);
        rep.extend_from_slice(&[10, 9, 0, 2]);
        rep.extend_from_slice(&req[22..28]);
        rep.extend_from_slice(&req[28..32]);
        let mut batch = Batch::new();
        batch.push_copy(&rep);
        assert_eq!(t.send(0, &mut batch).unwrap(), 1);
        let neigh = ns.ip(&["neigh", "show", "10.9.0.2"]).unwrap();
        assert!(neigh.contains("02:0a:0b:0c:0d:0e"), "{neigh}");
    });
}

#[test]
fn internal_port_is_a_tap_named_like_the_port() {
    if netns::skip("internal_port_is_a_tap_named_like_the_port") {
        return;
    }
    if !std::path::Path::new("/dev/net/tun").exists() {
        println!("SKIP: internal_port_is_a_tap_named_like_the_port: no /dev/net/tun");
        return;
    }
    let ns = Netns::new("int").unwrap();
    ns.enter(|| {
        let t = netdev::open("internal", "br-oxt", &[]).unwrap();
        assert_eq!(t.kind(), "internal");
        let link = ns.ip(&["link", "show", "br-oxt"]).unwrap();
        assert!(link.contains("state DOWN"), "left down: {link}");
        // Brought up by the administrator, it carries traffic like a tap.
        ns.ip(&["link", "set", "dev", "br-oxt", "up"]).unwrap();
        ns.ip(&["addr", "add", "10.8.0.1/24", "dev", "br-oxt"])
            .unwrap();
        send_udp_to("10.8.0.2");
        let is_arp = |p: &Packet| p.data().len() >= 42 && p.data()[12..14] == [0x08, 0x06];
        assert_eq!(recv_matching(&*t, 1, is_arp).len(), 1);
        drop(t);
        assert!(
            ns.ip(&["link", "show", "br-oxt"]).is_err(),
            "gone with the netdev"
        );
    });
}

#[test]
fn poller_wakes_for_kernel_queues_and_signals() {
    if netns::skip("poller_wakes_for_kernel_queues_and_signals") {
        return;
    }
    let ns = Netns::new("poll").unwrap();
    ns.no_ipv6().unwrap();
    ns.veth("va", "vb").unwrap();
    ns.enter(|| {
        let a = netdev::open("system", "va", &[]).unwrap();
        let b = netdev::open("system", "vb", &opts(&[("vnet", "false")])).unwrap();
        let signal = Arc::new(RxSignal::new());
        let mut poller = Poller::new().unwrap();
        poller.add(a.rx_fd(0).unwrap(), 1).unwrap();
        poller.add(signal.wake_fd().unwrap(), 2).unwrap();
        // Idle: times out with nothing ready.
        let t0 = Instant::now();
        assert_eq!(
            poller
                .wait(Some(Duration::from_millis(50)), |_| {})
                .unwrap(),
            0
        );
        assert!(t0.elapsed() >= Duration::from_millis(40));
        // A signal wakes it.
        signal.notify();
        let mut tokens = Vec::new();
        poller
            .wait(Some(Duration::from_secs(1)), |t| tokens.push(t))
            .unwrap();
        assert_eq!(tokens, vec![2]);
        signal.clear_wake_fd();
        // A frame on the veth wakes it (within the ring's block timeout).
        let mut batch = Batch::new();
        batch.push_copy(&frame([0xff; 6], b.mac(), None, &[1; 50]));
        b.send(0, &mut batch).unwrap();
        tokens.clear();
        poller
            .wait(Some(Duration::from_secs(1)), |t| tokens.push(t))
            .unwrap();
        assert_eq!(tokens, vec![1]);
        assert_eq!(recv_matching(&*a, 1, is_test_frame).len(), 1);
    });
}

#[test]
fn system_link_down_does_not_leave_the_queue_readable() {
    if netns::skip("system_link_down_does_not_leave_the_queue_readable") {
        return;
    }
    let ns = Netns::new("down").unwrap();
    ns.no_ipv6().unwrap();
    ns.veth("va", "vb").unwrap();
    ns.enter(|| {
        let a = netdev::open("system", "va", &[]).unwrap();
        let mut poller = Poller::new().unwrap();
        poller.add(a.rx_fd(0).unwrap(), 1).unwrap();
        ns.ip(&["link", "set", "dev", "va", "down"]).unwrap();
        let mut batch = Batch::new();
        let mut wakeups = 0;
        let mut errors = 0;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(300) {
            if poller
                .wait(Some(Duration::from_millis(100)), |_| {})
                .unwrap()
                > 0
            {
                wakeups += 1;
            }
            batch.clear();
            if a.rxq_recv(0, &mut batch).is_err() {
                errors += 1;
            }
        }
        println!("wakeups {wakeups}, errors {errors}");
        assert!(
            wakeups < 20,
            "{wakeups} wake-ups in 300 ms with the link down"
        );
        ns.ip(&["link", "set", "dev", "va", "up"]).unwrap();
    });
}

#[test]
fn without_privileges_open_is_permission_denied() {
    if netns::skip("without_privileges_open_is_permission_denied") {
        return;
    }
    if netns::run(&["setpriv", "--version"]).is_err() {
        println!("SKIP: without_privileges_open_is_permission_denied: no setpriv");
        return;
    }
    // Run the child test below as nobody, without capabilities.
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid",
            "65534",
            "--regid",
            "65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(exe)
        .args([
            "--exact",
            "child_open_unprivileged",
            "--ignored",
            "--nocapture",
        ])
        .env("OXVS_CHILD_UNPRIV", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("child checked"), "child did not run: {text}");
}

#[test]
#[ignore = "run by without_privileges_open_is_permission_denied as nobody"]
fn child_open_unprivileged() {
    if std::env::var_os("OXVS_CHILD_UNPRIV").is_none() {
        return;
    }
    let e = netdev::open("system", "lo", &[])
        .err()
        .expect("no AF_PACKET for nobody");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    let e = netdev::open("tap", "oxtnobody0", &[])
        .err()
        .expect("no tap for nobody");
    assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
    println!("child checked");
}
