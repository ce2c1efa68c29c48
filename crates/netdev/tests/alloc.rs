//! Steady-state receive and transmit allocate nothing: checked by counting
//! the allocations the test thread makes.
//!
//! Counting needs a global allocator, which is `unsafe` to implement; it
//! only forwards to the system allocator and counts, and lives in this test
//! binary alone.

#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use netdev::dummy::DummyNetdev;
use netdev::pcap::PcapNetdev;
use netdev::{Batch, Netdev, Packet, BATCH_SIZE};

/// Forwards to [`System`], counting allocations per thread.
struct Counting;

thread_local! {
    /// Allocations (and reallocations) made by this thread.
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

/// Bumps this thread's count (a no-op while the thread is being torn down).
fn count() {
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

/// Allocations made by this thread so far.
fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

// SAFETY: every method forwards to `System` with the caller's arguments,
// so it upholds `GlobalAlloc`'s contract exactly as `System` does; the
// counter is a thread-local `Cell` with a const initializer, which does not
// allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A 64-byte Ethernet frame tagged `tag`.
fn frame(tag: u8) -> [u8; 64] {
    let mut f = [tag; 64];
    f[12] = 0x08;
    f[13] = 0x00;
    f
}

/// Runs `round` a few times to warm up, then checks that further rounds
/// allocate nothing.
fn steady(what: &str, mut round: impl FnMut()) {
    for _ in 0..3 {
        round();
    }
    let before = allocs();
    for _ in 0..20 {
        round();
    }
    assert_eq!(allocs() - before, 0, "{what} allocated in steady state");
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocs();
    let p = Packet::new();
    assert!(allocs() > before);
    drop(p);
}

#[test]
fn packet_operations_do_not_allocate() {
    let mut p = Packet::new();
    steady("packet reuse", || {
        p.copy_from(&frame(1));
        p.push_front(4).fill(0);
        p.pull_front(4);
        p.resize(1500);
        p.truncate(60);
        p.reset();
    });
}

#[test]
fn dummy_inject_receive_send_do_not_allocate() {
    let rx = DummyNetdev::new("rx");
    let tx = DummyNetdev::new("tx");
    tx.set_options(&[("tx_discard".to_owned(), "true".to_owned())])
        .unwrap();
    let mut b = Batch::new();
    let f = frame(7);
    steady("inject/receive/send", || {
        for _ in 0..BATCH_SIZE {
            rx.inject(0, &f).unwrap();
        }
        assert_eq!(rx.rxq_recv(0, &mut b).unwrap(), BATCH_SIZE);
        for p in b.iter_mut() {
            p.push_front(4).copy_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        }
        assert_eq!(tx.send(0, &mut b).unwrap(), BATCH_SIZE);
    });

    let generator = DummyNetdev::new("gen");
    generator
        .set_generator(0, vec![frame(1).to_vec(), frame(2).to_vec()], None)
        .unwrap();
    steady("generator", || {
        assert_eq!(generator.rxq_recv(0, &mut b).unwrap(), BATCH_SIZE);
        b.retain(|p| p.data()[20] == 1);
        assert_eq!(tx.send(0, &mut b).unwrap(), BATCH_SIZE / 2);
    });
}

#[test]
fn pcap_receive_and_transmit_do_not_allocate() {
    let path = std::env::temp_dir().join(format!("netdev-alloc-{}.pcap", std::process::id()));
    let p = path.to_str().unwrap().to_owned();
    let opt = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    let tx = PcapNetdev::open("tx", &[opt("tx_pcap", &p)]).unwrap();
    let mut b = Batch::new();
    for i in 0..5 {
        b.push_copy(&frame(i));
    }
    tx.send(0, &mut b).unwrap();
    let rx = PcapNetdev::open("rx", &[opt("rx_pcap", &p), opt("loop", "true")]).unwrap();
    let sink = PcapNetdev::open("sink", &[opt("tx_pcap", "/dev/null")]).unwrap();
    steady("pcap loop receive + transmit", || {
        assert_eq!(rx.rxq_recv(0, &mut b).unwrap(), BATCH_SIZE);
        assert_eq!(sink.send(0, &mut b).unwrap(), BATCH_SIZE);
    });
    let _ = std::fs::remove_file(&path);
}
