//! Hand-built test packets, independent of the `odp` crate's composer.

/// An Ethernet + IPv4 + UDP packet with valid IPv4 header checksum and a
/// zero (absent) UDP checksum, `payload_len` bytes of payload.
pub fn udp4(
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    src_ip: [u8; 4],
    dst_ip: [u8; 4],
    src_port: u16,
    dst_port: u16,
    payload_len: usize,
) -> Vec<u8> {
    let mut p = Vec::with_capacity(42 + payload_len);
    p.extend_from_slice(&dst_mac);
    p.extend_from_slice(&src_mac);
    p.extend_from_slice(&0x0800u16.to_be_bytes());
    let total = (20 + 8 + payload_len) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = 64;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&src_ip);
    ip[16..20].copy_from_slice(&dst_ip);
    let csum = checksum(&ip);
    ip[10..12].copy_from_slice(&csum.to_be_bytes());
    p.extend_from_slice(&ip);
    p.extend_from_slice(&src_port.to_be_bytes());
    p.extend_from_slice(&dst_port.to_be_bytes());
    p.extend_from_slice(&((8 + payload_len) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend((0..payload_len).map(|i| i as u8));
    p
}

/// The Internet checksum of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// MAC addresses used by the tests.
pub const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0a];
/// MAC addresses used by the tests.
pub const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x0b];

/// A UDP packet from A to B with source port `sport`: distinct `sport`s are
/// distinct microflows.
pub fn a_to_b(sport: u16) -> Vec<u8> {
    udp4(MAC_A, MAC_B, [10, 0, 0, 1], [10, 0, 0, 2], sport, 9, 18)
}

/// The flow key text of [`a_to_b`] arriving on `in_port`, exact match.
pub fn a_to_b_key(in_port: u32, sport: u16) -> String {
    format!(
        "in_port({in_port}),eth(src=02:00:00:00:00:0a,dst=02:00:00:00:00:0b),eth_type(0x0800),\
         ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src={sport},dst=9)"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn ipv4_header_checksum_verifies() {
        let p = super::a_to_b(1);
        assert_eq!(super::checksum(&p[14..34]), 0);
        assert_eq!(p.len(), 60);
    }
}
