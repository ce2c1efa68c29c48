//! Packet and batch buffer rules: headroom, reuse without reallocation.

use std::collections::HashSet;

use netdev::{Batch, Packet, BATCH_SIZE, DEFAULT_HEADROOM, DEFAULT_ROOM};

#[test]
fn push_and_pull_within_headroom_keep_the_buffer() {
    let payload: Vec<u8> = (0..100u8).collect();
    let mut p = Packet::from_slice(&payload);
    let addr = p.buffer_addr();
    let cap = p.capacity();
    assert_eq!(p.headroom(), DEFAULT_HEADROOM);

    // Push a 4-byte "VLAN header" and a 14-byte "Ethernet header".
    p.push_front(4).copy_from_slice(&[0x81, 0x00, 0x00, 0x0a]);
    p.push_front(14).fill(0xee);
    assert_eq!(p.len(), 118);
    assert_eq!(p.headroom(), DEFAULT_HEADROOM - 18);
    assert_eq!(&p.data()[..14], &[0xee; 14]);
    assert_eq!(&p.data()[14..18], &[0x81, 0x00, 0x00, 0x0a]);
    assert_eq!(&p.data()[18..], &payload[..]);
    assert_eq!(p.buffer_addr(), addr);
    assert_eq!(p.capacity(), cap);

    // Pull them off again: the removed bytes come back, the payload stays.
    assert_eq!(p.pull_front(14), Some(&[0xee; 14][..]));
    assert_eq!(p.pull_front(4), Some(&[0x81, 0x00, 0x00, 0x0a][..]));
    assert_eq!(p.data(), &payload[..]);
    assert_eq!(p.headroom(), DEFAULT_HEADROOM);
    assert_eq!(p.buffer_addr(), addr);

    // Pulling more than the packet holds changes nothing.
    assert_eq!(p.pull_front(101), None);
    assert_eq!(p.data(), &payload[..]);
}

#[test]
fn push_beyond_headroom_reallocates_and_keeps_data() {
    let mut p = Packet::with_room(8, 64);
    p.copy_from(b"payload");
    p.push_front(20).fill(7);
    assert_eq!(p.len(), 27);
    assert_eq!(&p.data()[..20], &[7; 20]);
    assert_eq!(&p.data()[20..], b"payload");
    // The slow path leaves room for more headers.
    assert!(p.headroom() >= DEFAULT_HEADROOM);
    let addr = p.buffer_addr();
    p.push_front(8).fill(1);
    assert_eq!(p.buffer_addr(), addr);
    assert_eq!(&p.data()[28..], b"payload");
}

#[test]
fn truncate_and_resize() {
    let mut p = Packet::new();
    p.copy_from(&[0xff; 64]);
    p.truncate(10);
    assert_eq!(p.data(), &[0xff; 10]);
    p.truncate(20); // longer than the packet: no change
    assert_eq!(p.len(), 10);
    // Growing zero-fills: stale bytes of the earlier, longer packet never
    // reappear.
    p.resize(30);
    assert_eq!(&p.data()[..10], &[0xff; 10]);
    assert_eq!(&p.data()[10..], &[0; 20]);
    p.resize(5);
    assert_eq!(p.data(), &[0xff; 5]);

    // Growing past the tailroom reallocates and keeps the data.
    let mut q = Packet::with_room(4, 16);
    q.copy_from(&[1, 2, 3]);
    q.resize(9000);
    assert_eq!(q.len(), 9000);
    assert_eq!(&q.data()[..3], &[1, 2, 3]);
    assert!(q.data()[3..].iter().all(|&b| b == 0));
    q.extend_from_slice(&[9, 9]);
    assert_eq!(q.len(), 9002);
    assert_eq!(&q.data()[9000..], &[9, 9]);
}

#[test]
fn reset_and_copy_reuse_the_buffer() {
    let mut p = Packet::new();
    let addr = p.buffer_addr();
    for len in [60usize, 1514, 0, DEFAULT_ROOM, 200] {
        p.copy_from(&vec![len as u8; len]);
        p.in_port = 7;
        p.push_front(14);
        p.reset();
        assert_eq!(p.len(), 0);
        assert_eq!(p.in_port, 0);
        assert_eq!(p.headroom(), DEFAULT_HEADROOM);
        assert_eq!(p.buffer_addr(), addr, "len {len}");
    }
}

/// The buffer addresses of the packets of `b`.
fn addrs(b: &Batch) -> Vec<usize> {
    b.iter().map(Packet::buffer_addr).collect()
}

#[test]
fn batch_fills_to_batch_size_and_recycles_buffers() {
    let mut b = Batch::new();
    assert!(b.is_empty());
    assert_eq!(b.free_space(), BATCH_SIZE);
    for i in 0..BATCH_SIZE {
        assert!(b.push_copy(&[i as u8; 60]));
    }
    assert!(b.is_full());
    assert!(!b.push_copy(&[0; 60]));
    assert!(b.next_slot().is_none());
    assert_eq!(b.push(Packet::new()).map_err(|p| p.len()), Err(0));
    assert_eq!(b.len(), BATCH_SIZE);
    for (i, p) in b.iter().enumerate() {
        assert_eq!(p.data(), &[i as u8; 60]);
    }
    assert_eq!(b.bytes(), 60 * BATCH_SIZE as u64);

    let first: HashSet<usize> = addrs(&b).into_iter().collect();
    assert_eq!(first.len(), BATCH_SIZE);
    for round in 0..5 {
        b.clear();
        assert!(b.is_empty());
        for _ in 0..BATCH_SIZE {
            let slot = b.next_slot().unwrap();
            assert!(slot.is_empty(), "a recycled slot is reset");
            slot.copy_from(&[round; 1500]);
        }
        let again: HashSet<usize> = addrs(&b).into_iter().collect();
        assert_eq!(again, first, "round {round} reused the same buffers");
    }
}

#[test]
fn retain_keeps_order_and_buffers() {
    let mut b = Batch::new();
    for i in 0..10u8 {
        b.push_copy(&[i]);
    }
    let before: HashSet<usize> = addrs(&b).into_iter().collect();
    b.retain(|p| p.data()[0] % 3 != 0);
    let kept: Vec<u8> = b.iter().map(|p| p.data()[0]).collect();
    assert_eq!(kept, vec![1, 2, 4, 5, 7, 8]);
    // The dropped packets' buffers are the next spare slots.
    for _ in 0..4 {
        b.next_slot().unwrap();
    }
    let after: HashSet<usize> = addrs(&b).into_iter().collect();
    assert_eq!(after, before);
}

#[test]
fn push_swap_exchanges_buffers() {
    let mut b = Batch::new();
    b.push_copy(b"one");
    let mut p = Packet::from_slice(b"two");
    let p_addr = p.buffer_addr();
    assert!(b.push_swap(&mut p));
    assert_eq!(b.len(), 2);
    assert_eq!(b.packets()[1].data(), b"two");
    assert_eq!(b.packets()[1].buffer_addr(), p_addr);
    assert!(p.is_empty(), "the caller gets an emptied spare buffer");
    assert_ne!(p.buffer_addr(), p_addr);

    let mut other = Packet::from_slice(b"three");
    assert!(b.swap_packet(0, &mut other));
    assert_eq!(other.data(), b"one");
    assert_eq!(b.packets()[0].data(), b"three");
    assert!(!b.swap_packet(2, &mut other));
    b.truncate(1);
    assert_eq!(b.len(), 1);
}

#[test]
fn from_packets_splits_overflow_and_iterates() {
    let pkts: Vec<Packet> = (0..40u8).map(|i| Packet::from_slice(&[i])).collect();
    let (mut b, rest) = Batch::from_packets(pkts);
    assert_eq!(b.len(), BATCH_SIZE);
    assert_eq!(rest.len(), 8);
    assert_eq!(rest[0].data(), &[32]);
    for p in &mut b {
        p.in_port = 3;
    }
    assert!((&b).into_iter().all(|p| p.in_port == 3));
    // Refilling such a batch allocates only until its pool is full.
    b.clear();
    assert!(b.push_copy(b"x"));
}

#[test]
fn jumbo_batches() {
    let mut b = Batch::with_room(DEFAULT_HEADROOM, 9216);
    let slot = b.next_slot().unwrap();
    let addr = slot.buffer_addr();
    slot.copy_from(&[5; 9000]);
    assert_eq!(b.packets()[0].buffer_addr(), addr);
    assert_eq!(b.packets()[0].len(), 9000);
}
