//! End to end through pcap ports: packets read from a capture file, matched
//! by installed flows whose actions rewrite headers, and written to another
//! capture file, which an independent pcap reader then checks.

use std::io::Write;
use std::time::{Duration, Instant};

use dpif::{Dpif, FlowPut, PortSpec, PutFlags};
use dpif_netdev::NetdevClass;
use odp::key::PortNo;

/// The Internet checksum of `data` (computed here, independently of the
/// datapath's incremental updates).
fn checksum(data: &[u8]) -> u16 {
    let mut sum = 0u32;
    for c in data.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Ethernet + IPv4 + UDP with valid checksums.
fn udp_packet(sport: u16) -> Vec<u8> {
    let payload = b"oxvs pcap forwarding test";
    let mut p = vec![0u8; 42];
    p[0..6].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x0b]);
    p[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 0x0a]);
    p[12..14].copy_from_slice(&[0x08, 0x00]);
    p[14] = 0x45;
    p[16..18].copy_from_slice(&((28 + payload.len()) as u16).to_be_bytes());
    p[22] = 64;
    p[23] = 17;
    p[26..30].copy_from_slice(&[10, 0, 0, 1]);
    p[30..34].copy_from_slice(&[10, 0, 0, 2]);
    let c = checksum(&p[14..34]);
    p[24..26].copy_from_slice(&c.to_be_bytes());
    p[34..36].copy_from_slice(&sport.to_be_bytes());
    p[36..38].copy_from_slice(&53u16.to_be_bytes());
    p[38..40].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(payload);
    let c = udp_checksum(&p[26..30], &p[30..34], &p[34..]);
    p[40..42].copy_from_slice(&c.to_be_bytes());
    p
}

fn udp_checksum(src: &[u8], dst: &[u8], udp: &[u8]) -> u16 {
    let mut pseudo = Vec::new();
    pseudo.extend_from_slice(src);
    pseudo.extend_from_slice(dst);
    pseudo.extend_from_slice(&[0, 17]);
    pseudo.extend_from_slice(&(udp.len() as u16).to_be_bytes());
    let mut zeroed = udp.to_vec();
    zeroed[6] = 0;
    zeroed[7] = 0;
    pseudo.extend_from_slice(&zeroed);
    match checksum(&pseudo) {
        0 => 0xffff,
        c => c,
    }
}

/// A classic pcap file holding `packets`.
fn write_pcap(path: &std::path::Path, packets: &[Vec<u8>]) {
    let mut f = std::fs::File::create(path).unwrap();
    let mut hdr = Vec::new();
    hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&[0; 8]);
    hdr.extend_from_slice(&65535u32.to_le_bytes());
    hdr.extend_from_slice(&1u32.to_le_bytes());
    f.write_all(&hdr).unwrap();
    for (i, p) in packets.iter().enumerate() {
        let mut rec = Vec::new();
        rec.extend_from_slice(&(i as u32).to_le_bytes());
        rec.extend_from_slice(&0u32.to_le_bytes());
        rec.extend_from_slice(&(p.len() as u32).to_le_bytes());
        rec.extend_from_slice(&(p.len() as u32).to_le_bytes());
        rec.extend_from_slice(p);
        f.write_all(&rec).unwrap();
    }
}

#[test]
fn pcap_in_flows_rewrite_headers_pcap_out() {
    let dir = std::env::temp_dir().join(format!("oxvs-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rx = dir.join("in.pcap");
    let tx = dir.join("out.pcap");
    let sent: Vec<Vec<u8>> = (1..=20).map(udp_packet).collect();
    write_pcap(&rx, &sent);

    let class = NetdevClass { n_pmds: 1 };
    let dp = class
        .open_dp(&format!("pc{}", std::process::id() % 100_000), true)
        .unwrap();
    let dpif = Dpif::new(dp.clone());
    // Output port first, so that nothing is read before the flow exists.
    let out = PortSpec {
        name: "pcap-out".into(),
        port_type: "pcap".into(),
        options: vec![("tx_pcap".into(), tx.display().to_string())],
    };
    dpif.port_add(&out, Some(PortNo(2))).unwrap();
    let (key, mask) = odp::text::key::parse_match(
        "in_port(1),eth(src=02:00:00:00:00:0a,dst=02:00:00:00:00:0b),eth_type(0x0800),\
         ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0/0,ttl=64,frag=no),udp(src=0/0,dst=53)",
    )
    .unwrap();
    let actions = odp::text::action::parse_actions(
        "set(ipv4(src=192.168.1.1,ttl=63)),set(udp(dst=5353)),push_vlan(vid=42,pcp=3),2",
    )
    .unwrap();
    // in_port 1 must exist for the put: add the input port with no file
    // yet, then point it at the capture once the flow is in.
    let input = PortSpec {
        name: "pcap-in".into(),
        port_type: "pcap".into(),
        options: vec![],
    };
    dpif.port_add(&input, Some(PortNo(1))).unwrap();
    dpif.flow_put(FlowPut {
        flags: PutFlags::CREATE,
        key,
        mask: Some(mask),
        ufid: None,
        actions,
        want_stats: false,
    })
    .unwrap();
    dp.port_netdev(PortNo(1))
        .unwrap()
        .set_options(&[("rx_pcap".into(), rx.display().to_string())])
        .unwrap();

    let start = Instant::now();
    while dp.port_netdev(PortNo(2)).unwrap().stats().tx_packets < sent.len() as u64 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "not every packet was forwarded"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    dpif.destroy().unwrap();

    // Read the output with an independent pcap reader.
    let file = std::fs::File::open(&tx).unwrap();
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("valid pcap header");
    let mut got = Vec::new();
    while let Some(pkt) = reader.next_packet() {
        got.push(pkt.expect("valid record").data.into_owned());
    }
    assert_eq!(got.len(), sent.len());
    for (orig, p) in sent.iter().zip(&got) {
        assert_eq!(p.len(), orig.len() + 4, "one VLAN tag pushed");
        assert_eq!(&p[..12], &orig[..12], "MACs unchanged");
        assert_eq!(
            &p[12..16],
            &[0x81, 0x00, (3 << 5), 42],
            "802.1Q tag vid 42 pcp 3"
        );
        let ip = &p[18..38];
        assert_eq!(&ip[12..16], &[192, 168, 1, 1], "source address rewritten");
        assert_eq!(ip[8], 63, "TTL rewritten");
        assert_eq!(checksum(ip), 0, "IPv4 header checksum valid");
        let udp = &p[38..];
        assert_eq!(&udp[..2], &orig[34..36], "source port unchanged");
        assert_eq!(
            u16::from_be_bytes([udp[2], udp[3]]),
            5353,
            "destination port rewritten"
        );
        let want = udp_checksum(&ip[12..16], &ip[16..20], udp);
        assert_eq!(
            u16::from_be_bytes([udp[6], udp[7]]),
            want,
            "UDP checksum valid"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
