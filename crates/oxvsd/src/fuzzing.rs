//! Fuzzing entry points (for `fuzz/` and for the seed-corpus test).
//!
//! [`requests`] feeds arbitrary bytes, as one datagram from an admin
//! client, through the daemon's request handling, against a live daemon
//! state with in-memory datapaths, and checks after every message:
//!
//! - every request is answered as the kernel answers (a reply, an ack or
//!   an error when it asks for one; always something when it fails) and
//!   every answer is well framed;
//! - a request that failed changed nothing (datapaths, ports, flow counts);
//! - dumps end with `NLMSG_DONE`;
//! - datapaths still answer, each with its local port 0.
//!
//! Only `dummy` ports may be created, so no input touches the host.

#![doc(hidden)]

use std::os::fd::OwnedFd;
use std::sync::{Arc, OnceLock};

use dpif::Provider;
use nl::msg::{Header, Messages, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST};
use rustix::net::{AddressFamily, RecvFlags, SocketFlags, SocketType};

use crate::conn::{Conn, Peer};
use crate::dispatch::{self, Answer};
use crate::server::{Config, Server, State};

struct Fixture {
    state: Arc<State>,
    _server: Server,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let path = std::env::temp_dir().join(format!("oxvsd-fuzz-{}/s", std::process::id()));
        let mut cfg = Config::new(&path);
        cfg.max_datapaths = 3;
        cfg.max_ports = 12;
        cfg.port_types = Some(vec!["dummy".into()]);
        let server = Server::bind(cfg).expect("fuzz daemon socket");
        Fixture {
            state: server.state(),
            _server: server,
        }
    })
}

/// A port as the digest sees it: number, name, type.
type PortDigest = (u32, String, String);

/// What a request could change: datapaths, their ports, their flow counts.
fn digest(state: &State) -> Vec<(String, Vec<PortDigest>, u64)> {
    let mut v: Vec<_> = crate::read(&state.dps)
        .values()
        .map(|d| {
            let mut ports: Vec<(u32, String, String)> =
                d.dp.port_dump()
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| (p.port_no.0, p.name, p.port_type))
                    .collect();
            ports.sort();
            (
                d.name.clone(),
                ports,
                d.dp.get_stats().map_or(0, |s| s.n_flows),
            )
        })
        .collect();
    v.sort();
    v
}

fn check_framed(datagram: &[u8]) -> Vec<Header> {
    let mut out = Vec::new();
    for m in Messages::new(datagram) {
        let m = m.expect("the daemon frames its answers");
        out.push(m.header);
    }
    out
}

/// Runs one input (see the module docs). Panics when an invariant breaks.
pub fn requests(data: &[u8]) {
    let f = fixture();
    let (ours, theirs): (OwnedFd, OwnedFd) = rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .expect("socketpair");
    let conn = Arc::new(Conn::new(
        u64::MAX,
        ours,
        0x4655_5a5a,
        1,
        Peer {
            pid: std::process::id(),
            uid: 0,
            admin: true,
        },
    ));
    conn.set_rcvbuf(64 << 20);
    let mut buf = vec![0u8; 1 << 20];
    for m in Messages::new(data) {
        let Ok(m) = m else { break };
        let before = digest(&f.state);
        let answer = dispatch::handle(&f.state, &conn, &m);
        let h = m.header;
        let handled = h.flags & NLM_F_REQUEST != 0 && h.ty >= nl::msg::NLMSG_MIN_TYPE;
        let mut failed = false;
        match answer {
            Answer::Msgs(msgs) => {
                for x in &msgs {
                    let hs = check_framed(x);
                    if let Some(e) = hs.iter().find(|e| e.ty == NLMSG_ERROR) {
                        let (errno, _) = nl::msg::parse_error(e.flags, &x[16..]).expect("status");
                        failed |= errno != 0;
                    }
                }
                let acked = msgs.iter().any(|x| {
                    Header::parse(x).is_some_and(|e| e.ty == NLMSG_ERROR && e.seq == h.seq)
                });
                if handled && (h.flags & NLM_F_ACK != 0 || failed) {
                    assert!(acked, "request {h:?} not acked");
                }
            }
            Answer::Dump(mut d) => {
                assert_eq!(h.flags & NLM_F_DUMP, NLM_F_DUMP);
                let mut last = None;
                for _ in 0..100_000 {
                    let (dg, more) = d.next_datagram();
                    last = check_framed(&dg).last().copied();
                    if !more {
                        break;
                    }
                }
                assert_eq!(last.map(|l| l.ty), Some(NLMSG_DONE), "dump ends");
            }
        }
        if failed {
            assert_eq!(
                before,
                digest(&f.state),
                "a failed request changed state: {h:?}"
            );
        }
        // Drain what went out (notifications to other sockets are none here).
        while rustix::net::recv(&theirs, &mut buf[..], RecvFlags::DONTWAIT).is_ok() {}
    }
    for d in crate::read(&f.state.dps).values() {
        assert!(d.dp.port_query_by_number(odp::key::PortNo(0)).is_ok());
        d.dp.get_stats().expect("datapath answers");
    }
}

/// Inputs that reach deep: valid requests of every family, as datagrams.
pub fn seeds() -> Vec<Vec<u8>> {
    use dpif_netlink::abi::*;
    use nl::msg::MsgBuilder;
    let ovs = |ty: u16, flags: u16, cmd: u8, ifindex: i32, f: &dyn Fn(&mut nl::Writer)| {
        let mut b = MsgBuilder::genl(ty, flags | NLM_F_REQUEST, cmd, 1).seq(1);
        b.header_bytes(&ifindex.to_ne_bytes());
        f(b.attrs());
        b.finish().unwrap_or_default()
    };
    let (k, m) = odp::text::key::parse_match(
        "in_port(1),eth(src=00:01:02:03:04:05,dst=10:11:12:13:14:15),eth_type(0x0800),\
         ipv4(src=10.0.0.1,dst=10.0.0.2,proto=17,tos=0,ttl=64,frag=no),udp(src=1,dst=2)",
    )
    .unwrap_or_default();
    let acts = odp::text::action::parse_actions("set(ipv4(ttl=9)),push_vlan(vid=5,pcp=0),1")
        .unwrap_or_default();
    let enc = |k: &[odp::key::KeyAttr]| {
        let mut w = nl::Writer::new();
        odp::nl::key::emit_keys(k, &mut w);
        w.into_bytes()
    };
    let (kb, mb) = (enc(&k), enc(&m));
    let ab = odp::nl::action::encode_actions(&acts).unwrap_or_default();
    let fam = |ty: u16| {
        let mut b = MsgBuilder::genl(nl::genl::GENL_ID_CTRL, NLM_F_REQUEST | NLM_F_ACK, 3, 1);
        b.attrs().put_u16(nl::genl::CTRL_ATTR_FAMILY_ID, ty);
        b.finish().unwrap_or_default()
    };
    let dp_new = ovs(
        crate::families::FAM_DP,
        NLM_F_ACK | nl::msg::NLM_F_ECHO,
        OVS_DP_CMD_NEW,
        0,
        &|w| {
            w.put_string(OVS_DP_ATTR_NAME, "fz0");
            w.put_u32(OVS_DP_ATTR_UPCALL_PID, 7);
            w.put_u32(
                OVS_DP_ATTR_USER_FEATURES,
                OVS_DP_F_UNALIGNED | OVS_DP_F_VPORT_PIDS,
            );
        },
    );
    let dp_name = |cmd: u8| {
        ovs(crate::families::FAM_DP, NLM_F_ACK, cmd, 0, &|w| {
            w.put_string(OVS_DP_ATTR_NAME, "fz0")
        })
    };
    let vport_new = ovs(
        crate::families::FAM_VPORT,
        NLM_F_ACK,
        OVS_VPORT_CMD_NEW,
        1,
        &|w| {
            w.put_string(OVS_VPORT_ATTR_NAME, "fzp1");
            w.put_u32(OVS_VPORT_ATTR_TYPE, OXVS_VPORT_TYPE_DUMMY);
            w.put(OVS_VPORT_ATTR_UPCALL_PID, &7u32.to_ne_bytes());
        },
    );
    let flow = |cmd: u8, flags: u16| {
        ovs(crate::families::FAM_FLOW, flags | NLM_F_ACK, cmd, 1, &|w| {
            w.put(OVS_FLOW_ATTR_KEY, &kb);
            w.put(OVS_FLOW_ATTR_MASK, &mb);
            w.put(OVS_FLOW_ATTR_ACTIONS, &ab);
            w.put(OVS_FLOW_ATTR_UFID, &[7; 16]);
        })
    };
    let exec = ovs(
        crate::families::FAM_PACKET,
        NLM_F_ACK,
        OVS_PACKET_CMD_EXECUTE,
        1,
        &|w| {
            w.put(OVS_PACKET_ATTR_PACKET, &[0u8; 60]);
            w.put(OVS_PACKET_ATTR_KEY, &kb);
            w.put(OVS_PACKET_ATTR_ACTIONS, &ab);
            w.put_flag(OVS_PACKET_ATTR_PROBE);
        },
    );
    let dump = |ty: u16, cmd: u8| ovs(ty, NLM_F_DUMP, cmd, 1, &|_| {});
    let mut one = vec![
        fam(crate::families::FAM_DP),
        dp_new.clone(),
        vport_new.clone(),
        flow(OVS_FLOW_CMD_NEW, nl::msg::NLM_F_CREATE),
        flow(OVS_FLOW_CMD_SET, 0),
        flow(OVS_FLOW_CMD_GET, 0),
        exec.clone(),
        dump(crate::families::FAM_FLOW, OVS_FLOW_CMD_GET),
        dump(crate::families::FAM_VPORT, OVS_VPORT_CMD_GET),
        dump(crate::families::FAM_DP, OVS_DP_CMD_GET),
        flow(OVS_FLOW_CMD_DEL, 0),
        dp_name(OVS_DP_CMD_GET),
        dp_name(OVS_DP_CMD_DEL),
    ];
    // And the whole sequence as one datagram.
    one.push(one.concat());
    one
}
