//! Forwarding while other threads put, delete and dump flows: nothing
//! crashes and every packet is counted exactly once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dpif::{Dpif, FlowDel, FlowGet, FlowPut, PortSpec, PutFlags};
use dpif_netdev::NetdevClass;
use netdev::dummy::DummyNetdev;
use odp::key::PortNo;

fn frame(src_last: u8, sport: u16) -> Vec<u8> {
    let mut p = vec![0u8; 60];
    p[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0xbb]);
    p[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, src_last]);
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    p[14] = 0x45;
    p[16..18].copy_from_slice(&46u16.to_be_bytes());
    p[22] = 64;
    p[23] = 17;
    p[26..30].copy_from_slice(&[10, 0, 0, src_last]);
    p[30..34].copy_from_slice(&[10, 0, 0, 2]);
    p[34..36].copy_from_slice(&sport.to_be_bytes());
    p[36..38].copy_from_slice(&9u16.to_be_bytes());
    p[38..40].copy_from_slice(&26u16.to_be_bytes());
    p
}

fn key(src_last: u8, sport: Option<u16>) -> String {
    let l4 = match sport {
        Some(s) => format!("udp(src={s},dst=9)"),
        None => "udp(src=0/0,dst=0/0)".to_string(),
    };
    format!(
        "in_port(1),eth(src=02:00:00:00:00:{src_last:02x},dst=00:00:00:00:00:00/00:00:00:00:00:00),\
         eth_type(0x0800),ipv4(proto=17/0),{l4}"
    )
}

fn put(dpif: &Dpif, k: &str, flags: PutFlags) -> Result<(), dpif::Errno> {
    let (key, mask) = odp::text::key::parse_match(k).unwrap();
    let actions = odp::text::action::parse_actions("2").unwrap();
    dpif.flow_put(FlowPut {
        flags,
        key,
        mask: Some(mask),
        ufid: None,
        actions,
        want_stats: false,
    })
    .map(|_| ())
}

#[test]
fn every_packet_counted_under_concurrent_put_del_dump() {
    let class = NetdevClass { n_pmds: 1 };
    let dp = class
        .open_dp(&format!("st{}", std::process::id() % 100_000), true)
        .unwrap();
    let dpif = Dpif::new(dp.clone());
    let spec = |n: &str, opts: Vec<(String, String)>| PortSpec {
        name: n.into(),
        port_type: "dummy".into(),
        options: opts,
    };
    dpif.port_add(
        &spec("st-in", vec![("rx_queue_len".into(), "1048576".into())]),
        Some(PortNo(1)),
    )
    .unwrap();
    dpif.port_add(
        &spec("st-out", vec![("tx_discard".into(), "true".into())]),
        Some(PortNo(2)),
    )
    .unwrap();
    // The flow under test: every packet from ...:0a, whatever its ports.
    let main_key = key(0x0a, None);
    put(&dpif, &main_key, PutFlags::CREATE).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    const N: u64 = 200_000;
    std::thread::scope(|s| {
        // Churn: other flows come and go, and dumps run, all the time.
        for t in 0..2u8 {
            let dpif = dpif.clone();
            let stop = stop.clone();
            s.spawn(move || {
                let mut i = 0u16;
                while !stop.load(Ordering::Relaxed) {
                    let k = key(0x20 + t, Some(i % 500));
                    let _ = put(&dpif, &k, PutFlags::CREATE);
                    let (dk, _) =
                        odp::text::key::parse_match(&key(0x20 + t, Some((i + 250) % 500))).unwrap();
                    let _ = dpif.flow_del(FlowDel {
                        key: dk,
                        ufid: None,
                        want_stats: true,
                    });
                    i = i.wrapping_add(1);
                }
            });
        }
        {
            let dpif = dpif.clone();
            let stop = stop.clone();
            s.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let dump = dpif.flow_dump(false).unwrap();
                    let mut c = dump.cursor();
                    let mut out = Vec::new();
                    while c.next(&mut out, 50).unwrap() > 0 {}
                    assert!(
                        out.iter()
                            .any(|f| f.key
                                == odp::text::key::parse_match(&key(0x0a, None)).unwrap().0)
                    );
                }
            });
        }
        // Traffic: N packets of the flow under test.
        let dev = dp.port_netdev(PortNo(1)).unwrap();
        let dummy = dev.as_any().downcast_ref::<DummyNetdev>().unwrap();
        for i in 0..N {
            let mut tries = 0;
            while !dummy.inject(0, &frame(0x0a, (i % 60000) as u16)).unwrap() {
                tries += 1;
                assert!(tries < 1_000_000, "receive queue stuck");
                std::thread::yield_now();
            }
        }
        let out = dp.port_netdev(PortNo(2)).unwrap();
        let start = Instant::now();
        while out.stats().tx_packets < N {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "forwarding stalled"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        stop.store(true, Ordering::Relaxed);
    });

    let out = dp.port_netdev(PortNo(2)).unwrap();
    assert_eq!(
        out.stats().tx_packets,
        N,
        "every packet forwarded exactly once"
    );
    let (k, _) = odp::text::key::parse_match(&main_key).unwrap();
    let f = dpif.flow_get(FlowGet { key: k, ufid: None }).unwrap();
    assert_eq!(f.stats.n_packets, N, "every packet counted in its flow");
    assert_eq!(f.stats.n_bytes, N * 60);
    let st = dpif.get_stats().unwrap();
    assert_eq!(st.n_hit, N);
    assert_eq!(st.n_missed, 0);
    assert_eq!(st.n_lost, 0);
    dpif.destroy().unwrap();
}
