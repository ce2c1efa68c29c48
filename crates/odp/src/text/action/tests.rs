//! Conformance tests against the OVS corpus (`tests/data/conformance/actions*`).

use super::*;
use crate::nl::action::{decode_actions, encode_actions};
use crate::nl::Mode;

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

/// Runs one corpus file line for line; returns the number of case lines.
fn run(name: &str) -> usize {
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
            panic!("{msg}");
        }
    }
    checked
}

fn report(name: &str, case_lines: usize) {
    assert_eq!(run(name), case_lines, "{name}: case lines checked");
}

#[test]
fn corpus_actions() {
    report("actions", 98);
}

#[test]
fn corpus_actions_invalid() {
    report("actions-invalid", 9);
}

#[test]
fn corpus_actions_userdata_overflow() {
    report("actions-userdata-overflow", 4);
}

#[test]
fn corpus_actions_too_long() {
    report("actions-too-long", 2);
}

#[test]
fn display_prints_one_action() {
    assert_eq!(Action::Meter(3).to_string(), "meter(3)");
    assert_eq!(Action::Recirc(RecircId(0)).to_string(), "recirc(0)");
    assert_eq!(Action::Clone(vec![]).to_string(), "clone(drop)");
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

/// A small deterministic generator (xorshift64*), so the test is repeatable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Mutated corpus inputs, text and netlink, through the fuzz targets'
/// properties (no panic; printed actions parse again and print the same;
/// decode(encode(x)) == x), and decoded netlink printed and fed back as text.
#[test]
fn mutated_corpus_keeps_fuzz_properties() {
    let input = corpus("actions.in") + &corpus("actions-invalid.in");
    let lines: Vec<&str> = input.lines().filter(|l| !l.starts_with('#')).collect();
    let hexes = corpus("actions.hex");
    let blobs: Vec<Vec<u8>> = hexes
        .lines()
        .filter_map(|l| l.strip_prefix("actions="))
        .map(unhex)
        .collect();
    const ALPHABET: &[u8] = b"(),=0123456789abcdefx:./-[]{}% \tsetcloneampldrop|";
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        // Text: replace, insert or delete a few bytes.
        let mut t: Vec<u8> = lines[rng.below(lines.len())].as_bytes().to_vec();
        for _ in 0..=rng.below(3) {
            let at = rng.below(t.len() + 1);
            match rng.below(3) {
                0 if at < t.len() => t[at] = ALPHABET[rng.below(ALPHABET.len())],
                1 => t.insert(at, ALPHABET[rng.below(ALPHABET.len())]),
                _ => t.truncate(at),
            }
        }
        crate::fuzzing::text_actions(&t);
        // Netlink: flip bytes of a corpus buffer, or cut it short.
        let mut b = blobs[rng.below(blobs.len())].clone();
        for _ in 0..=rng.below(3) {
            let at = rng.below(b.len());
            if at < b.len() {
                if rng.below(4) == 0 {
                    b.truncate(at);
                } else {
                    b[at] = rng.next() as u8;
                }
            }
        }
        crate::fuzzing::nl_actions(&b);
        for mode in [Mode::Strict, Mode::Tolerant] {
            if let Ok(acts) = decode_actions(&b, mode) {
                let mut s = String::new();
                format_actions(&acts, &mut s);
                crate::fuzzing::text_actions(s.as_bytes());
            }
        }
    }
}

#[test]
fn netlink_round_trips_what_text_builds() {
    // Every valid corpus line: text -> model -> netlink -> model is stable.
    for line in corpus("actions.in").lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let acts = parse_actions(line).unwrap();
        let bytes = encode_actions(&acts).unwrap();
        assert_eq!(
            decode_actions(&bytes, Mode::Strict).unwrap(),
            acts,
            "{line}"
        );
    }
}

/// Cases outside the corpus, with the output OVS's printing rules give.
#[test]
fn ovs_printing_rules_outside_the_corpus() {
    for (input, want) in [
        ("ct(zone=0)", "ct"),
        ("ct(commit,label=0x1)", "ct(commit,label=0x1)"),
        ("ct(mark=0/0x1)", "ct(mark=0/0x1)"),
        ("ct(nat(dst=10.0.0.1:80))", "ct(nat(dst=10.0.0.1:80))"),
        ("ct(nat(src=10.0.0.1-10.0.0.1))", "ct(nat(src=10.0.0.1))"),
        ("ct(nat(persistent))", "ct(nat)"),
        (
            "ct(nat(dst=[::1]:80-81,hash))",
            "ct(nat(dst=[::1]:80-81,hash))",
        ),
        (
            "userspace(pid=1,slow_path(cfm|bfd|match))",
            "userspace(pid=1,slow_path(cfm,bfd,match))",
        ),
        (
            "userspace(pid=1,slow_path(0x3))",
            "userspace(pid=1,slow_path(cfm,bfd))",
        ),
        (
            "userspace(pid=1,slow_path(cfm,bfd))",
            "userspace(pid=1,slow_path(cfm,bfd))",
        ),
        (
            "userspace(pid=7,sFlow(vid=0,pcp=0,output=3))",
            "userspace(pid=7,sFlow(vid=0,pcp=0,output=3))",
        ),
        (
            "push_nsh(mdtype=2,md2=0x0102030405)",
            "push_nsh(flags=0,ttl=63,mdtype=2,np=3,spi=0x0,si=255,md2=0x102030405000000)",
        ),
        (
            "push_vlan(tpid=0x88a8,vid=1,pcp=1,cfi=0)",
            "push_vlan(tpid=0x88a8,vid=1,pcp=1,cfi=0)",
        ),
        (
            "sample(sample=0.0%,actions(1))",
            "sample(sample=0.0%,actions(1))",
        ),
        (
            "sample(sample=100%,actions(clone(2)))",
            "sample(sample=100.0%,actions(clone(2)))",
        ),
        (
            "check_pkt_len(size=64,gt(DROP),le(drop))",
            "check_pkt_len(size=64,gt(drop),le(drop))",
        ),
        ("-1", "4294967295"),
        ("0x10, 010\t3", "16,8,3"),
    ] {
        let acts = parse_actions(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let mut s = String::new();
        format_actions(&acts, &mut s);
        assert_eq!(s, want, "{input}");
    }
    for bad in [
        "ct(commit,force_commit)",
        "ct(nat(src,dst))",
        "ct(nat(dst=::1:80-81))",
        "ct(nat(src=10.0.0.2-10.0.0.1))",
        "ct(nat(src=10.0.0.1,hash,random))",
        "ct(helper=0123456789abcdef)",
        "push_vlan(vid=4096,pcp=0)",
        "sample(sample=101%,actions(1))",
        "userspace(pid=1,userdata(123))",
        "clone(1",
        "1 2x",
        "recirc(-)",
    ] {
        assert!(parse_actions(bad).is_err(), "{bad}");
    }
}
