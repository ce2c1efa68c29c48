//! Conformance tests against the OVS corpus (`tests/data/conformance/actions*`).

use super::*;
use crate::nl::action::{decode_actions, encode_actions};
use crate::nl::Mode;

/// Whether the key codecs (`text::key`, `nl::key`) used by `set(...)` are in.
/// Until they are, lines with `set(` may fail and are only counted.
const KEY_CODECS_READY: bool = false;

fn corpus(name: &str) -> String {
    let p = format!(
        "{}/tests/data/conformance/{}",
        env!("CARGO_MANIFEST_DIR"),
        name
    );
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// OVS leaves the SRv6 header's next-header, flags and tag fields
/// uninitialized when parsing `tnl_push(...srv6...)`; the corpus holds
/// whatever was on its stack. Blank those bytes on both sides.
fn blank_uninit(line: &str, bytes: &mut [u8]) {
    if line.starts_with("tnl_push(") && line.contains("type=112") {
        for off in [0usize, 5, 6, 7] {
            if let Some(b) = bytes.get_mut(4 + 16 + 54 + off) {
                *b = 0;
            }
        }
    }
}

/// Runs one corpus file; returns (lines checked, failures on set() lines).
fn run(name: &str) -> (usize, Vec<String>) {
    let input = corpus(&format!("{name}.in"));
    let output = corpus(&format!("{name}.out"));
    let hexes = corpus(&format!("{name}.hex"));
    let (ins, outs, hexs): (Vec<_>, Vec<_>, Vec<_>) = (
        input.lines().collect(),
        output.lines().collect(),
        hexes.lines().collect(),
    );
    assert_eq!(ins.len(), outs.len());
    assert_eq!(ins.len(), hexs.len());
    let mut checked = 0;
    let mut pending = Vec::new();
    for i in 0..ins.len() {
        let raw = ins[i];
        if raw.starts_with('#') {
            assert_eq!(outs[i], raw);
            continue;
        }
        let line = raw.split('#').next().unwrap_or("");
        if line.trim_matches([' ', '\t']).is_empty() {
            continue;
        }
        checked += 1;
        let mut problems = Vec::new();
        let parsed = parse_actions(line);
        if outs[i] == "odp_actions_from_string: error" {
            assert_eq!(hexs[i], "error");
            if parsed.is_ok() {
                problems.push("parsed, but OVS rejects it".to_string());
            }
        } else {
            let want_hex = hexs[i].strip_prefix("actions=").expect("actions= line");
            match &parsed {
                Err(e) => problems.push(format!("parse failed: {e}")),
                Ok(acts) => {
                    let mut s = String::new();
                    format_actions(acts, &mut s);
                    if s != outs[i] {
                        problems.push(format!("format: {s}"));
                    }
                    match encode_actions(acts) {
                        Ok(mut b) => {
                            let mut want = unhex(want_hex);
                            blank_uninit(line, &mut b);
                            blank_uninit(line, &mut want);
                            if b != want {
                                problems.push(format!("emit: {}", hex(&b)));
                            }
                        }
                        Err(e) => problems.push(format!("encode: {e}")),
                    }
                }
            }
            let bytes = unhex(want_hex);
            match decode_actions(&bytes, Mode::Tolerant) {
                Ok(acts) => {
                    let mut s = String::new();
                    format_actions(&acts, &mut s);
                    if s != outs[i] {
                        problems.push(format!("hex->format: {s}"));
                    }
                    match encode_actions(&acts) {
                        Ok(b) if b == bytes => {}
                        _ => problems.push("hex->model->hex differs".into()),
                    }
                }
                Err(e) => problems.push(format!("decode: {e}")),
            }
            if let Err(e) = decode_actions(&bytes, Mode::Strict) {
                problems.push(format!("strict decode: {e}"));
            }
        }
        if !problems.is_empty() {
            let msg = format!(
                "{name}.in:{}: {}\n  {}",
                i + 1,
                &line[..line.len().min(200)],
                problems.join("\n  ")
            );
            if line.contains("set(") && !KEY_CODECS_READY {
                pending.push(msg);
            } else {
                panic!("{msg}");
            }
        }
    }
    (checked, pending)
}

fn report(name: &str) {
    let (checked, pending) = run(name);
    eprintln!(
        "{name}: {checked} case lines, {} pending on the key codecs",
        pending.len()
    );
    for p in &pending {
        eprintln!("{}", &p[..p.len().min(400)]);
    }
    assert!(checked > 0);
}

#[test]
fn corpus_actions() {
    report("actions");
}

#[test]
fn corpus_actions_invalid() {
    report("actions-invalid");
}

#[test]
fn corpus_actions_userdata_overflow() {
    report("actions-userdata-overflow");
}

#[test]
fn corpus_actions_too_long() {
    report("actions-too-long");
}

#[test]
fn drop_alone_is_an_explicit_drop() {
    assert_eq!(parse_actions("DROP").unwrap(), vec![Action::Drop(0)]);
    assert_eq!(parse_actions("").unwrap(), vec![]);
    let mut s = String::new();
    format_actions(&[], &mut s);
    assert_eq!(s, "drop");
}

#[test]
fn text_nesting_is_bounded() {
    let deep = |n: usize| format!("{}1{}", "clone(".repeat(n), ")".repeat(n));
    assert!(parse_actions(&deep(30)).is_ok());
    assert!(parse_actions(&deep(31)).is_err());
    assert!(parse_actions(&deep(100_000)).is_err());
}

#[test]
fn printed_extensions_parse_back() {
    for s in [
        "push_mpls(label=10,tc=3,ttl=64,bos=1,eth_type=0x8847)",
        "pop_mpls(eth_type=0x800)",
        "hash(l4(5))",
        "hash(sym_l4(0))",
        "push_eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15)",
        "pop_eth",
        "dec_ttl(le_1(1,2))",
        "push_nsh(flags=0,ttl=63,mdtype=1,np=3,spi=0x1,si=255,c1=0x1,c2=0x0,c3=0x0,c4=0x0)",
        "push_nsh(flags=0,ttl=63,mdtype=2,np=3,spi=0x1,si=255,md2=0x10000a0400000001)",
        "pop_nsh()",
        "meter(7)",
        "lb_output(3)",
        "recirc(0x2a)",
        "trunc(100),tnl_pop(3)",
        "sample(sample=50.0%,actions(1))",
        "psample(group=1)",
        "tnl_push(tnl_port(4),header(size=50,type=107,eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0,dl_type=0x0800),ipv4(src=1.1.2.88,dst=1.1.2.92,proto=47,tos=0,ttl=64,frag=0x4000),erspan(ver=1,sid=0x1,idx=0x7)),out_port(1))",
        "tnl_push(tnl_port(4),header(size=54,type=107,eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0,dl_type=0x0800),ipv4(src=1.1.2.88,dst=1.1.2.92,proto=47,tos=0,ttl=64,frag=0x4000),erspan(ver=2,sid=0x1,dir=1,hwid=0x3)),out_port(1))",
        "tnl_push(tnl_port(6),header(size=50,type=110,eth(dst=f8:bc:12:44:34:b6,src=f8:bc:12:46:58:e0,dl_type=0x0800),ipv4(src=1.1.2.88,dst=1.1.2.92,proto=17,tos=0,ttl=64,frag=0x4000),udp(src=0,dst=2152,csum=0x0),gtpu(flags=0x30,msgtype=255,teid=0x3039)),out_port(1))",
    ] {
        let acts = parse_actions(s).unwrap_or_else(|e| panic!("{s}: {e}"));
        let mut out = String::new();
        format_actions(&acts, &mut out);
        assert_eq!(out, s);
        let bytes = encode_actions(&acts).unwrap();
        assert_eq!(decode_actions(&bytes, Mode::Strict).unwrap(), acts, "{s}");
    }
}

#[test]
fn userspace_without_cookie_gets_a_zero_cookie() {
    let acts = parse_actions("userspace(pid=1)").unwrap();
    let mut out = String::new();
    format_actions(&acts, &mut out);
    assert_eq!(
        out,
        format!("userspace(pid=1,userdata({}))", "0".repeat(96))
    );
    let acts = parse_actions("userspace(pid=1,userdata(0102))").unwrap();
    out.clear();
    format_actions(&acts, &mut out);
    assert_eq!(out, "userspace(pid=1,userdata(0102000000000000))");
}

#[test]
fn unknown_and_malformed_actions_print_generically() {
    let mut out = String::new();
    format_actions(
        &[
            Action::Unknown {
                ty: 99,
                payload: vec![1, 2],
            },
            Action::Unknown {
                ty: 1,
                payload: vec![1],
            },
        ],
        &mut out,
    );
    assert_eq!(
        out,
        "action99(01 02),bad length 1, expected 4 for: action1(01)"
    );
}

#[test]
fn ipv6_prints_like_inet_ntop() {
    for (a, want) in [
        ("::1", "::1"),
        ("::", "::"),
        ("::ffff:1.2.3.4", "::ffff:1.2.3.4"),
        ("::1.2.3.4", "::1.2.3.4"),
        ("2001:cafe::88", "2001:cafe::88"),
        ("1:0:0:1:0:0:0:1", "1:0:0:1::1"),
        ("1:0:1:0:1:0:1:0", "1:0:1:0:1:0:1:0"),
    ] {
        assert_eq!(fmt_ipv6(&a.parse().unwrap()), want);
    }
}
