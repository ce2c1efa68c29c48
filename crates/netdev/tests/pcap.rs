//! The pcap netdev: round trips, independent parsing, malformed files.

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use netdev::pcap::PcapNetdev;
use netdev::{Batch, Netdev, Packet, BATCH_SIZE};

/// A fresh path in the temporary directory, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(tag: &str) -> TempPath {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        TempPath(
            std::env::temp_dir().join(format!("netdev-test-{}-{tag}-{n}.pcap", std::process::id())),
        )
    }

    fn s(&self) -> String {
        self.0.to_str().unwrap().to_owned()
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn opts(kv: &[(&str, &str)]) -> Vec<(String, String)> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Frame `i` of a test sequence: varying lengths from 60 to 1514, bytes
/// depending on `i` and the offset.
fn frame(i: usize) -> Vec<u8> {
    let len = 60 + (i * 97) % 1455;
    (0..len).map(|k| (i * 31 + k) as u8).collect()
}

/// Transmits `frames` through a pcap netdev writing `path`, in batches.
fn write_frames(path: &TempPath, frames: &[Vec<u8>], extra: &[(&str, &str)]) -> PcapNetdev {
    let mut o = opts(&[("tx_pcap", &path.s())]);
    o.extend(opts(extra));
    let d = PcapNetdev::open("tx0", &o).unwrap();
    let mut b = Batch::new();
    for chunk in frames.chunks(BATCH_SIZE) {
        for f in chunk {
            b.push_copy(f);
        }
        assert_eq!(d.send(0, &mut b).unwrap(), chunk.len());
        assert!(b.is_empty());
    }
    d
}

/// Receives everything from `d` until it reports nothing.
fn read_all(d: &dyn Netdev) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut b = Batch::new();
    loop {
        b.clear();
        match d.rxq_recv(0, &mut b).unwrap() {
            0 => return out,
            _ => out.extend(b.iter().map(|p| p.data().to_vec())),
        }
    }
}

#[test]
fn round_trip_through_tx_and_rx() {
    let path = TempPath::new("rt");
    let frames: Vec<Vec<u8>> = (0..70).map(frame).collect();
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let tx = write_frames(&path, &frames, &[]);
    let s = tx.stats();
    assert_eq!(s.tx_packets, 70);
    assert_eq!(
        s.tx_bytes,
        frames.iter().map(|f| f.len() as u64).sum::<u64>()
    );

    let rx = netdev::open("pcap", "rx0", &opts(&[("rx_pcap", &path.s())])).unwrap();
    assert_eq!(rx.kind(), "pcap");
    assert_eq!(read_all(&*rx), frames);
    let mut b = Batch::new();
    assert_eq!(rx.rxq_recv(0, &mut b).unwrap(), 0, "stays at end of file");
    assert_eq!(rx.stats().rx_packets, 70);
    assert!(!rx.wait_rx(0, std::time::Duration::from_millis(1)));

    // The same file through an independent reader.
    let file = fs::File::open(&path.0).unwrap();
    let mut r = pcap_file::pcap::PcapReader::new(file).unwrap();
    let h = r.header();
    assert_eq!(h.datalink, pcap_file::DataLink::ETHERNET);
    assert_eq!((h.version_major, h.version_minor), (2, 4));
    assert_eq!(h.snaplen, 262_144);
    assert_eq!(h.ts_resolution, pcap_file::TsResolution::MicroSecond);
    let mut n = 0;
    while let Some(p) = r.next_packet() {
        let p = p.unwrap();
        assert_eq!(&p.data[..], &frames[n][..]);
        assert_eq!(p.orig_len as usize, frames[n].len());
        assert!(p.timestamp.as_secs() + 1 >= before.as_secs());
        assert!(p.timestamp.as_secs() <= before.as_secs() + 3600);
        n += 1;
    }
    assert_eq!(n, 70);

    // And the raw header bytes: little-endian microsecond magic, v2.4,
    // snaplen 262144, LINKTYPE_ETHERNET.
    let bytes = fs::read(&path.0).unwrap();
    assert_eq!(
        &bytes[..24],
        &[0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 1, 0, 0, 0]
    );
    let total: usize = frames.iter().map(|f| 16 + f.len()).sum();
    assert_eq!(bytes.len(), 24 + total);

    tcpdump_reads(&path.0, 70);
}

/// Checks that `tcpdump -r` reads `path` and prints `n` packets, if
/// tcpdump is installed.
fn tcpdump_reads(path: &Path, n: usize) {
    // `--count` prints one line, "N packets": a line per packet would not
    // do, as tcpdump spreads some decoded frames over several lines.
    let out = match Command::new("tcpdump")
        .arg("--count")
        .arg("-nr")
        .arg(path)
        .output()
    {
        Ok(out) => out,
        Err(_) => {
            println!("SKIP: tcpdump not installed");
            return;
        }
    };
    assert!(
        out.status.success(),
        "tcpdump failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let count = stdout
        .split_whitespace()
        .next()
        .and_then(|w| w.parse::<usize>().ok());
    assert_eq!(count, Some(n), "tcpdump said {stdout:?}");
}

#[test]
fn loop_restarts_at_the_first_record() {
    let path = TempPath::new("loop");
    let frames: Vec<Vec<u8>> = (0..3).map(frame).collect();
    write_frames(&path, &frames, &[]);
    let rx = PcapNetdev::open("rx", &opts(&[("rx_pcap", &path.s()), ("loop", "true")])).unwrap();
    let mut b = Batch::new();
    for round in 0..3 {
        b.clear();
        assert_eq!(rx.rxq_recv(0, &mut b).unwrap(), BATCH_SIZE);
        for (i, p) in b.iter().enumerate() {
            assert_eq!(p.data(), &frames[(round * BATCH_SIZE + i) % 3][..]);
        }
    }
    assert!(rx.wait_rx(0, std::time::Duration::from_secs(5)));
    // Turning looping off lets the file end.
    rx.set_options(&opts(&[("loop", "false")])).unwrap();
    let rest = read_all(&rx);
    // 3 batches of 32 read 96 records, a multiple of 3: at the end.
    assert_eq!(rest.len(), (3 - (3 * BATCH_SIZE) % 3) % 3);
    assert!(!rx.wait_rx(0, std::time::Duration::ZERO));
    // Turning it on again after the end starts over.
    rx.set_options(&opts(&[("loop", "true")])).unwrap();
    b.clear();
    assert_eq!(rx.rxq_recv(0, &mut b).unwrap(), BATCH_SIZE);
    assert_eq!(b.packets()[0].data(), &frames[0][..]);

    // A looping file with no record never spins.
    let empty = TempPath::new("empty");
    write_frames(&empty, &[], &[]);
    let rx = PcapNetdev::open("rx", &opts(&[("rx_pcap", &empty.s()), ("loop", "true")])).unwrap();
    b.clear();
    assert_eq!(rx.rxq_recv(0, &mut b).unwrap(), 0);
    assert!(
        !rx.wait_rx(0, std::time::Duration::ZERO),
        "and is not ready"
    );
}

#[test]
fn snaplen_cuts_records_but_keeps_the_original_length() {
    let path = TempPath::new("snap");
    let frames = vec![frame(1), vec![0xab; 100], vec![0xcd; 64]];
    write_frames(&path, &frames, &[("snaplen", "64")]);
    let bytes = fs::read(&path.0).unwrap();
    assert_eq!(&bytes[16..20], &64u32.to_le_bytes(), "snaplen in header");
    // Second record: caplen 64, orig_len 100.
    let second = 24 + 16 + 64;
    assert_eq!(&bytes[second + 8..second + 12], &64u32.to_le_bytes());
    assert_eq!(&bytes[second + 12..second + 16], &100u32.to_le_bytes());
    let rx = PcapNetdev::open("rx", &opts(&[("rx_pcap", &path.s())])).unwrap();
    let got = read_all(&rx);
    assert_eq!(got.len(), 3);
    assert_eq!(got[1], vec![0xab; 64]);
    assert_eq!(got[2], vec![0xcd; 64]);
    tcpdump_reads(&path.0, 3);
}

/// A global header with the given magic (as file bytes), version and link
/// type, in the byte order the magic implies.
fn global_header(big_endian: bool, nanos: bool, linktype: u32) -> Vec<u8> {
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut h = Vec::new();
    h.extend(u32b(magic));
    h.extend(u16b(2));
    h.extend(u16b(4));
    h.extend(u32b(0));
    h.extend(u32b(0));
    h.extend(u32b(65535));
    h.extend(u32b(linktype));
    h
}

/// A record header in the given byte order.
fn record(big_endian: bool, caplen: u32, orig: u32, data: &[u8]) -> Vec<u8> {
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut r = Vec::new();
    r.extend(u32b(1_700_000_000));
    r.extend(u32b(999));
    r.extend(u32b(caplen));
    r.extend(u32b(orig));
    r.extend_from_slice(data);
    r
}

fn write(tag: &str, bytes: &[u8]) -> TempPath {
    let p = TempPath::new(tag);
    fs::write(&p.0, bytes).unwrap();
    p
}

fn open_rx(path: &TempPath) -> std::io::Result<PcapNetdev> {
    PcapNetdev::open("rx", &opts(&[("rx_pcap", &path.s())]))
}

#[test]
fn big_endian_and_nanosecond_files_are_read() {
    for (be, ns) in [(true, false), (true, true), (false, true), (false, false)] {
        let mut bytes = global_header(be, ns, 1);
        bytes.extend(record(be, 3, 3, b"abc"));
        bytes.extend(record(be, 2, 60, b"de"));
        let p = write("endian", &bytes);
        let rx = open_rx(&p).unwrap();
        assert_eq!(
            read_all(&rx),
            vec![b"abc".to_vec(), b"de".to_vec()],
            "{be} {ns}"
        );
    }
}

#[test]
fn malformed_global_headers_are_invalid_data() {
    let mut bad_magic = global_header(false, false, 1);
    bad_magic[0] = 0x0a;
    let mut bad_version = global_header(false, false, 1);
    bad_version[4] = 3;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", vec![], "too short"),
        (
            "short",
            global_header(false, false, 1)[..20].to_vec(),
            "too short",
        ),
        ("magic", bad_magic, "bad magic"),
        ("version", bad_version, "version"),
        ("linktype", global_header(false, false, 105), "link type"),
        (
            "pcapng",
            b"\x0a\x0d\x0d\x0a\x1c\0\0\0\x4d\x3c\x2b\x1a\0\0\0\0\0\0\0\0\0\0\0\0".to_vec(),
            "bad magic",
        ),
    ];
    for (tag, bytes, msg) in cases {
        let p = write(tag, &bytes);
        let e = open_rx(&p).err().unwrap();
        assert_eq!(e.kind(), ErrorKind::InvalidData, "{tag}: {e}");
        assert!(e.to_string().contains(msg), "{tag}: {e}");
        assert!(
            e.to_string().contains(&p.s()),
            "{tag}: the path is named: {e}"
        );
    }
    let missing = TempPath::new("missing");
    assert_eq!(open_rx(&missing).err().unwrap().kind(), ErrorKind::NotFound);
}

#[test]
fn malformed_records_are_errors_after_the_good_ones() {
    let good = record(false, 4, 4, b"good");
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "trunc-data",
            record(false, 100, 100, &[1; 50]),
            "truncated pcap record",
        ),
        (
            "trunc-header",
            record(false, 4, 4, b"")[..9].to_vec(),
            "truncated pcap record header",
        ),
        (
            "huge",
            record(false, u32::MAX, u32::MAX, &[1; 10]),
            "exceeds the maximum",
        ),
        (
            "over-max",
            record(false, 262_145, 262_145, &[]),
            "exceeds the maximum",
        ),
    ];
    for (tag, bad, msg) in cases {
        let mut bytes = global_header(false, false, 1);
        bytes.extend(&good);
        bytes.extend(&good);
        bytes.extend(&bad);
        let p = write(tag, &bytes);
        let rx = open_rx(&p).unwrap();
        let mut b = Batch::new();
        // The good records first, the error on the next call.
        assert_eq!(rx.rxq_recv(0, &mut b).unwrap(), 2, "{tag}");
        assert!(b.iter().all(|p| p.data() == b"good"));
        let e = rx.rxq_recv(0, &mut b).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData, "{tag}: {e}");
        assert!(e.to_string().contains(msg), "{tag}: {e}");
        assert_eq!(b.len(), 2, "{tag}: no half-read packet left in the batch");
        // Then the file is closed.
        assert_eq!(rx.rxq_recv(0, &mut b).unwrap(), 0);
        let s = rx.stats();
        assert_eq!((s.rx_packets, s.rx_errors), (2, 1), "{tag}");

        // Alone at the start, the error comes at once.
        let mut bytes = global_header(false, false, 1);
        bytes.extend(&bad);
        let p = write(tag, &bytes);
        let rx = open_rx(&p).unwrap();
        b.clear();
        assert_eq!(
            rx.rxq_recv(0, &mut b).unwrap_err().kind(),
            ErrorKind::InvalidData
        );
        assert!(b.is_empty());
    }
}

#[test]
fn reading_an_arbitrary_file_never_panics() {
    // Every prefix of a valid file, and a file of garbage after a valid
    // header: errors or packets, never a panic.
    let mut bytes = global_header(false, false, 1);
    for i in 0..4 {
        bytes.extend(record(
            false,
            10 + i,
            10 + i,
            &vec![i as u8; 10 + i as usize],
        ));
    }
    for cut in 0..bytes.len() {
        let p = write("prefix", &bytes[..cut]);
        if let Ok(rx) = open_rx(&p) {
            let mut b = Batch::new();
            while let Ok(n) = rx.rxq_recv(0, &mut b) {
                if n == 0 {
                    break;
                }
                b.clear();
            }
        }
    }
    let mut garbage = global_header(true, false, 1);
    let mut x: u32 = 12345;
    for _ in 0..4096 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        garbage.push((x >> 16) as u8);
    }
    let p = write("garbage", &garbage);
    let rx = open_rx(&p).unwrap();
    let mut b = Batch::new();
    for _ in 0..10 {
        let _ = rx.rxq_recv(0, &mut b);
        b.clear();
    }
}

#[test]
fn write_errors_are_reported() {
    // /dev/full accepts the open but fails every write with ENOSPC.
    if !Path::new("/dev/full").exists() {
        println!("SKIP: no /dev/full");
        return;
    }
    let e = PcapNetdev::open("tx", &opts(&[("tx_pcap", "/dev/full")]))
        .err()
        .unwrap();
    assert!(e.to_string().contains("/dev/full"), "{e}");
}

#[test]
fn options_and_reconfiguration() {
    let a = TempPath::new("a");
    let b_path = TempPath::new("b");
    let d = write_frames(&a, &[frame(1)], &[]);
    // Same path again: the open file is kept (not truncated).
    d.set_options(&opts(&[("tx_pcap", &a.s())])).unwrap();
    let mut b = Batch::new();
    b.push_copy(&frame(2));
    d.send(0, &mut b).unwrap();
    let rx = open_rx(&a).unwrap();
    assert_eq!(read_all(&rx), vec![frame(1), frame(2)]);

    // A new path switches files; a failing option changes nothing.
    d.set_options(&opts(&[("tx_pcap", &b_path.s())])).unwrap();
    let bad = d
        .set_options(&opts(&[
            ("tx_pcap", "/nonexistent-dir/x.pcap"),
            ("loop", "true"),
        ]))
        .unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::NotFound);
    b.push_copy(&frame(3));
    d.send(0, &mut b).unwrap();
    assert_eq!(read_all(&open_rx(&b_path).unwrap()), vec![frame(3)]);

    assert_eq!(
        d.set_options(&opts(&[("rxq_pcap", "x")]))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        d.set_options(&opts(&[("snaplen", "10")]))
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );

    // Closing the transmit file: frames are dropped and counted.
    d.set_options(&opts(&[("tx_pcap", "")])).unwrap();
    b.push_copy(&frame(4));
    assert_eq!(d.send(0, &mut b).unwrap(), 0);
    assert!(b.is_empty());
    assert_eq!(d.stats().tx_dropped, 1);
    // No receive file: nothing to receive.
    assert_eq!(d.rxq_recv(0, &mut b).unwrap(), 0);
    assert_eq!(
        d.rxq_recv(1, &mut b).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    b.push_copy(&frame(5));
    assert_eq!(
        d.send(1, &mut b).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert!(b.is_empty());
}

#[test]
fn received_packets_reuse_the_batch_buffers() {
    let path = TempPath::new("reuse");
    let frames: Vec<Vec<u8>> = (0..BATCH_SIZE * 4).map(frame).collect();
    write_frames(&path, &frames, &[]);
    let rx = open_rx(&path).unwrap();
    let mut b = Batch::new();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..4 {
        b.clear();
        assert_eq!(rx.rxq_recv(0, &mut b).unwrap(), BATCH_SIZE);
        seen.extend(b.iter().map(Packet::buffer_addr));
    }
    assert_eq!(seen.len(), BATCH_SIZE);
}
