//! The dummy netdev: inject/receive, send/log, bounds, stats, waiting.

use std::collections::HashSet;
use std::io::ErrorKind;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use netdev::dummy::DummyNetdev;
use netdev::{Batch, Netdev, NetdevStats, Packet, RxSignal, BATCH_SIZE};

/// An Ethernet frame of `len` bytes (IPv4 ethertype) whose payload bytes
/// are all `tag`.
fn frame(len: usize, tag: u8) -> Vec<u8> {
    let mut f = vec![tag; len];
    f[..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f
}

fn opts(kv: &[(&str, &str)]) -> Vec<(String, String)> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn inject_then_receive_in_order_with_stats() {
    let d = DummyNetdev::new("d0");
    assert_eq!(d.kind(), "dummy");
    assert_eq!(d.name(), "d0");
    assert_eq!(d.n_rxq(), 1);
    let frames: Vec<Vec<u8>> = (0..3).map(|i| frame(60 + i * 10, i as u8)).collect();
    for f in &frames {
        assert!(d.inject(0, f).unwrap());
    }
    assert_eq!(d.rx_pending(0).unwrap(), 3);
    let mut b = Batch::new();
    assert_eq!(d.rxq_recv(0, &mut b).unwrap(), 3);
    let got: Vec<&[u8]> = b.iter().map(Packet::data).collect();
    assert_eq!(got, frames.iter().map(Vec::as_slice).collect::<Vec<_>>());
    assert!(b.iter().all(|p| p.in_port == 0));
    assert_eq!(d.rxq_recv(0, &mut b).unwrap(), 0);
    assert_eq!(
        d.stats(),
        NetdevStats {
            rx_packets: 3,
            rx_bytes: 60 + 70 + 80,
            ..NetdevStats::default()
        }
    );
}

#[test]
fn receive_appends_up_to_free_space() {
    let d = DummyNetdev::new("d");
    for i in 0..40u8 {
        d.inject(0, &frame(64, i)).unwrap();
    }
    let mut b = Batch::new();
    b.push_copy(&frame(64, 200));
    assert_eq!(d.rxq_recv(0, &mut b).unwrap(), BATCH_SIZE - 1);
    assert_eq!(b.packets()[0].data()[20], 200, "existing packet kept");
    assert_eq!(b.packets()[1].data()[20], 0);
    assert_eq!(d.rxq_recv(0, &mut b).unwrap(), 0, "full batch");
    b.clear();
    assert_eq!(d.rxq_recv(0, &mut b).unwrap(), 9);
    assert_eq!(b.packets()[8].data()[20], 39);
}

#[test]
fn full_receive_queue_drops_and_counts() {
    let d = DummyNetdev::from_options("d", &opts(&[("rx_queue_len", "4")])).unwrap();
    let results: Vec<bool> = (0..6)
        .map(|i| d.inject(0, &frame(60, i)).unwrap())
        .collect();
    assert_eq!(results, [true, true, true, true, false, false]);
    assert_eq!(d.stats().rx_dropped, 2);
    let mut b = Batch::new();
    assert_eq!(d.rxq_recv(0, &mut b).unwrap(), 4);
    assert_eq!(b.packets()[3].data()[20], 3, "the late ones were dropped");
    // Room again.
    assert!(d.inject(0, &frame(60, 9)).unwrap());
}

#[test]
fn queue_numbers_are_checked() {
    let d = DummyNetdev::with_queues("d", 2, 3);
    assert_eq!((d.n_rxq(), d.n_txq()), (2, 3));
    assert!(d.inject(1, &frame(60, 1)).unwrap());
    assert_eq!(
        d.inject(2, &frame(60, 1)).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    let mut b = Batch::new();
    assert_eq!(d.rxq_recv(0, &mut b).unwrap(), 0, "queues are separate");
    assert_eq!(d.rxq_recv(1, &mut b).unwrap(), 1);
    assert_eq!(
        d.rxq_recv(5, &mut b).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // A send on a bad queue still drains the batch, counting errors.
    assert_eq!(
        d.send(3, &mut b).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert!(b.is_empty());
    assert_eq!(d.stats().tx_errors, 1);
}

#[test]
fn send_logs_drains_and_counts() {
    let d = DummyNetdev::new("d");
    let mut b = Batch::new();
    for i in 0..5 {
        b.push_copy(&frame(100, i));
    }
    assert_eq!(d.send(0, &mut b).unwrap(), 5);
    assert!(b.is_empty());
    assert_eq!(b.free_space(), BATCH_SIZE);
    let sent = d.take_sent();
    assert_eq!(sent.len(), 5);
    for (i, p) in sent.iter().enumerate() {
        assert_eq!(p.data(), &frame(100, i as u8)[..]);
    }
    assert!(d.take_sent().is_empty());
    let s = d.stats();
    assert_eq!((s.tx_packets, s.tx_bytes, s.tx_dropped), (5, 500, 0));

    // The drained batch still has its buffers: refilling works at once.
    for _ in 0..BATCH_SIZE {
        assert!(b.push_copy(&frame(60, 1)));
    }
}

#[test]
fn full_tx_log_drops_and_discard_mode_only_counts() {
    let d = DummyNetdev::from_options("d", &opts(&[("tx_log_len", "2")])).unwrap();
    let mut b = Batch::new();
    for i in 0..3 {
        b.push_copy(&frame(60, i));
    }
    assert_eq!(d.send(0, &mut b).unwrap(), 2);
    assert_eq!(d.stats().tx_dropped, 1);
    let sent = d.take_sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].data()[20], 1);

    d.set_options(&opts(&[("tx_discard", "true")])).unwrap();
    let before = d.stats();
    for _ in 0..10 {
        for i in 0..BATCH_SIZE {
            b.push_copy(&frame(64, i as u8));
        }
        assert_eq!(d.send(0, &mut b).unwrap(), BATCH_SIZE);
    }
    assert!(d.take_sent().is_empty());
    let after = d.stats();
    assert_eq!(after.tx_packets - before.tx_packets, 10 * BATCH_SIZE as u64);
    assert_eq!(
        after.tx_bytes - before.tx_bytes,
        10 * 64 * BATCH_SIZE as u64
    );
    assert_eq!(after.tx_dropped, before.tx_dropped);
}

#[test]
fn frames_outside_the_mtu_are_dropped() {
    let d = DummyNetdev::new("d");
    assert_eq!(d.mtu(), 1500);
    let mut tagged = frame(1518, 3);
    tagged[12..14].copy_from_slice(&[0x81, 0x00]);
    let mut b = Batch::new();
    b.push_copy(&frame(1514, 1)); // ok
    b.push_copy(&frame(1515, 2)); // too long
    b.push_copy(&tagged); // ok: VLAN tag allowance
    b.push_copy(&[0u8; 13]); // shorter than an Ethernet header
    assert_eq!(d.send(0, &mut b).unwrap(), 2);
    assert_eq!(d.stats().tx_dropped, 2);
    let tags: Vec<u8> = d.take_sent().iter().map(|p| p.data()[20]).collect();
    assert_eq!(tags, [1, 3]);

    d.set_mtu(9000).unwrap();
    b.push_copy(&frame(9014, 4));
    assert_eq!(d.send(0, &mut b).unwrap(), 1);
    assert_eq!(d.set_mtu(10).unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(d.mtu(), 9000);
}

#[test]
fn generator_cycles_templates_without_allocating() {
    let d = DummyNetdev::new("gen");
    let templates: Vec<Vec<u8>> = (0..3).map(|i| frame(64 + i, i as u8)).collect();
    d.set_generator(0, templates.clone(), None).unwrap();
    let mut b = Batch::new();
    let mut seen = HashSet::new();
    for round in 0..10 {
        b.clear();
        assert_eq!(d.rxq_recv(0, &mut b).unwrap(), BATCH_SIZE);
        for (i, p) in b.iter().enumerate() {
            let k = (round * BATCH_SIZE + i) % 3;
            assert_eq!(p.data(), &templates[k][..]);
            seen.insert(p.buffer_addr());
        }
    }
    assert_eq!(seen.len(), BATCH_SIZE, "only the batch's own buffers");
    assert_eq!(d.stats().rx_packets, 10 * BATCH_SIZE as u64);

    // A bounded generator stops after `count` packets.
    d.set_generator(0, templates, Some(5)).unwrap();
    b.clear();
    assert_eq!(d.rxq_recv(0, &mut b).unwrap(), 5);
    assert_eq!(b.packets()[4].data()[20], 1);
    b.clear();
    assert_eq!(d.rxq_recv(0, &mut b).unwrap(), 0);
}

#[test]
fn inject_receive_cycle_reuses_a_closed_set_of_buffers() {
    let d = DummyNetdev::new("d");
    let mut b = Batch::new();
    let f = frame(200, 7);
    let mut seen = HashSet::new();
    for _ in 0..50 {
        for _ in 0..BATCH_SIZE {
            d.inject(0, &f).unwrap();
        }
        b.clear();
        assert_eq!(d.rxq_recv(0, &mut b).unwrap(), BATCH_SIZE);
        seen.extend(b.iter().map(Packet::buffer_addr));
    }
    // The batch's 32 buffers plus at most one queue's worth injected
    // before the first receive: no per-packet allocation.
    assert!(seen.len() <= 2 * BATCH_SIZE, "{} buffers", seen.len());
}

#[test]
fn wait_rx_wakes_on_inject_and_times_out() {
    let d = Arc::new(DummyNetdev::new("d"));
    let t0 = Instant::now();
    assert!(!d.wait_rx(0, Duration::from_millis(30)));
    assert!(t0.elapsed() >= Duration::from_millis(30));

    let d2 = Arc::clone(&d);
    let injector = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        d2.inject(0, &frame(60, 1)).unwrap();
    });
    let t0 = Instant::now();
    assert!(d.wait_rx(0, Duration::from_secs(20)));
    assert!(t0.elapsed() < Duration::from_secs(10));
    injector.join().unwrap();
    // Packets already queued: no waiting.
    assert!(d.wait_rx(0, Duration::from_secs(20)));
    assert!(!d.wait_rx(9, Duration::ZERO), "bad queue");
}

#[test]
fn one_signal_serves_several_devices() {
    let a = Arc::new(DummyNetdev::new("a"));
    let b = Arc::new(DummyNetdev::with_queues("b", 2, 1));
    let sig = Arc::new(RxSignal::new());
    assert!(a.attach_rx_signal(0, Arc::clone(&sig)));
    assert!(b.attach_rx_signal(1, Arc::clone(&sig)));
    assert!(!b.attach_rx_signal(2, Arc::clone(&sig)));

    let seen = sig.generation();
    assert!(!sig.wait_since(seen, Duration::from_millis(10)));
    let b2 = Arc::clone(&b);
    let injector = thread::spawn(move || {
        thread::sleep(Duration::from_millis(30));
        b2.inject(1, &frame(60, 1)).unwrap();
    });
    assert!(sig.wait_since(seen, Duration::from_secs(20)));
    injector.join().unwrap();
    let mut batch = Batch::new();
    assert_eq!(b.rxq_recv(1, &mut batch).unwrap(), 1);
    let seen = sig.generation();
    a.inject(0, &frame(60, 2)).unwrap();
    assert!(sig.wait_since(seen, Duration::ZERO));

    // Detached, the signal is no longer notified.
    assert!(a.detach_rx_signal(0, &sig));
    assert!(!a.detach_rx_signal(0, &sig));
    assert_eq!(a.rxq_recv(0, &mut batch).unwrap(), 1);
    let seen = sig.generation();
    a.inject(0, &frame(60, 3)).unwrap();
    assert!(!sig.wait_since(seen, Duration::from_millis(10)));
    assert!(a.wait_rx(0, Duration::ZERO), "its own waiters still are");
}

#[test]
fn concurrent_senders_never_interleave_a_batch() {
    const THREADS: u8 = 4;
    const BATCHES: u8 = 50;
    const PER_BATCH: usize = 8;
    let d = Arc::new(DummyNetdev::from_options("d", &opts(&[("tx_log_len", "100000")])).unwrap());
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let d = Arc::clone(&d);
            thread::spawn(move || {
                let mut b = Batch::new();
                for n in 0..BATCHES {
                    for k in 0..PER_BATCH {
                        let mut f = frame(64, t);
                        f[21] = n;
                        f[22] = k as u8;
                        b.push_copy(&f);
                    }
                    assert_eq!(d.send(0, &mut b).unwrap(), PER_BATCH);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let sent = d.take_sent();
    assert_eq!(sent.len(), THREADS as usize * BATCHES as usize * PER_BATCH);
    for chunk in sent.chunks(PER_BATCH) {
        let (t, n) = (chunk[0].data()[20], chunk[0].data()[21]);
        for (k, p) in chunk.iter().enumerate() {
            assert_eq!(
                (p.data()[20], p.data()[21], p.data()[22]),
                (t, n, k as u8),
                "a batch was interleaved"
            );
        }
    }
    assert_eq!(d.stats().tx_packets, sent.len() as u64);
}

#[test]
fn options_are_validated_and_applied_atomically() {
    let d = DummyNetdev::new("d");
    let e = d.set_options(&opts(&[("bogus", "1")])).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("bogus"), "{e}");
    let e = d
        .set_options(&opts(&[("mtu", "9000"), ("rx_queue_len", "0")]))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(d.mtu(), 1500, "nothing applied on error");
    assert_eq!(
        d.set_options(&opts(&[("tx_discard", "yes")]))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        d.set_options(&opts(&[("n_rxq", "2")])).unwrap_err().kind(),
        ErrorKind::InvalidInput,
        "queue counts are fixed at creation"
    );
    d.set_options(&opts(&[("n_rxq", "1")])).unwrap();
    d.set_options(&opts(&[("mac", "02:00:5e:10:00:01"), ("mtu", "9000")]))
        .unwrap();
    assert_eq!(d.mac(), [0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]);
    assert_eq!(d.mtu(), 9000);
    for bad in [
        "02:00:5e:10:00",
        "02:00:5e:10:00:01:02",
        "0g:00:00:00:00:00",
        "::::::",
    ] {
        assert!(d.set_options(&opts(&[("mac", bad)])).is_err(), "{bad}");
    }
}

#[test]
fn open_by_kind_and_downcast() {
    let n = netdev::open("dummy", "p1", &opts(&[("n_rxq", "4"), ("n_txq", "2")])).unwrap();
    assert_eq!((n.kind(), n.n_rxq(), n.n_txq()), ("dummy", 4, 2));
    let d = n.as_any().downcast_ref::<DummyNetdev>().unwrap();
    d.inject(3, &frame(60, 1)).unwrap();
    let mut b = Batch::new();
    assert_eq!(n.rxq_recv(3, &mut b).unwrap(), 1);

    let e = netdev::open("warp", "p2", &[]).err().unwrap();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    // Default MACs are distinct, locally administered unicast addresses.
    let m1 = DummyNetdev::new("x").mac();
    let m2 = DummyNetdev::new("y").mac();
    assert_ne!(m1, m2);
    assert_eq!(m1[0] & 0x03, 0x02);
}
