//! Tests against the real openvswitch kernel module: run as root inside the
//! kvm-ovs guest (`scripts/kernel-tests.sh`). Without the module or without
//! privileges every test prints `SKIP: <reason>` and passes.
//!
//! Each test uses its own datapath names, so the tests may run in parallel.

use std::net::Ipv4Addr;
use std::process::Command;

use dpif_netlink::abi::*;
use dpif_netlink::datapath::DpRequest;
use dpif_netlink::error::errno::*;
use dpif_netlink::flow::FlowRequest;
use dpif_netlink::packet::{ExecuteRequest, UpcallCmd, UpcallMsg};
use dpif_netlink::vport::{TunnelOptions, VportRequest, VportType};
use dpif_netlink::{DpId, FlowOp, Kernel, Socket};
use odp::key::{EthernetKey, Ipv4Key, KeyAttr, PortNo, PortsKey};

/// The kernel, or `None` (after printing why) when these tests cannot run.
fn kernel() -> Option<Kernel> {
    let k = match Kernel::open() {
        Ok(k) => k,
        Err(e) => {
            println!("SKIP: {e}");
            return None;
        }
    };
    // Creating a datapath needs CAP_NET_ADMIN: probe with a bad request
    // that needs the privilege to get past the permission check.
    match k.dp_new("", 0, 0) {
        Err(e) if e.errno() == EPERM => {
            println!("SKIP: no CAP_NET_ADMIN ({e})");
            None
        }
        _ => Some(k),
    }
}

const FEATURES: u32 = OVS_DP_F_UNALIGNED | OVS_DP_F_VPORT_PIDS;

/// A datapath deleted when dropped.
struct Dp<'k> {
    k: &'k Kernel,
    ifindex: i32,
}

impl<'k> Dp<'k> {
    fn new(k: &'k Kernel, name: &str, upcall_pid: u32) -> Dp<'k> {
        let _ = k.dp_del(DpId::Name(name)); // leftovers of an earlier run
        let info = k.dp_new(name, upcall_pid, FEATURES).expect("dp_new");
        assert_eq!(info.name, name);
        Dp {
            k,
            ifindex: info.dp_ifindex,
        }
    }
}

impl Drop for Dp<'_> {
    fn drop(&mut self) {
        let _ = self.k.dp_del(DpId::Ifindex(self.ifindex));
    }
}

fn ip(args: &str) {
    let st = Command::new("ip")
        .args(args.split_whitespace())
        .status()
        .expect("run ip");
    assert!(st.success(), "ip {args}");
}

fn add_port(k: &Kernel, dp: i32, name: &str, ty: VportType, pids: Vec<u32>) -> u32 {
    let r = VportRequest {
        dp_ifindex: dp,
        vport_type: Some(ty),
        name: Some(name.into()),
        upcall_pids: Some(pids),
        ..VportRequest::default()
    };
    let v = k
        .vport_new(&r)
        .unwrap_or_else(|e| panic!("add {name}: {e}"));
    assert_eq!(v.name, name);
    assert_eq!(v.vport_type, ty);
    v.port_no
}

fn keys(attrs: &[KeyAttr]) -> Vec<u8> {
    let mut w = nl::Writer::new();
    odp::nl::key::emit_keys(attrs, &mut w);
    w.into_bytes()
}

fn output(port: u32) -> Vec<u8> {
    let mut w = nl::Writer::new();
    w.put_u32(odp::abi::OVS_ACTION_ATTR_OUTPUT, port);
    w.into_bytes()
}

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 1];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 2];

/// An exact TCP key: every layer present, as the kernel requires.
fn tcp_key(in_port: u32, sport: u16) -> Vec<KeyAttr> {
    vec![
        KeyAttr::InPort(in_port),
        KeyAttr::Ethernet(EthernetKey {
            src: MAC_A,
            dst: MAC_B,
        }),
        KeyAttr::Ethertype(0x0800),
        KeyAttr::Ipv4(Ipv4Key {
            src: Ipv4Addr::new(10, 0, 0, 1),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            proto: 6,
            tos: 0,
            ttl: 64,
            frag: 0,
        }),
        KeyAttr::Tcp(PortsKey {
            src: sport,
            dst: 80,
        }),
        KeyAttr::TcpFlags(0),
    ]
}

/// A UDP/IPv4 frame from MAC_A to MAC_B.
fn udp_frame() -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&MAC_B);
    p.extend_from_slice(&MAC_A);
    p.extend_from_slice(&[0x08, 0x00]);
    let ip = [
        0x45,
        0,
        0,
        28 + 4,
        0,
        0,
        0x40,
        0,
        64,
        17,
        0,
        0,
        10,
        0,
        0,
        1,
        10,
        0,
        0,
        2,
    ];
    let mut ip = ip.to_vec();
    let sum = !ip.chunks(2).fold(0u32, |s, c| {
        let s = s + u32::from(u16::from_be_bytes([c[0], c[1]]));
        (s & 0xffff) + (s >> 16)
    }) as u16;
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    p.extend_from_slice(&ip);
    p.extend_from_slice(&[0x30, 0x39, 0x00, 0x35, 0, 12, 0, 0]); // udp 12345 -> 53, no csum
    p.extend_from_slice(b"oxvs");
    p
}

#[test]
fn families_resolve_with_groups() {
    let Some(k) = kernel() else { return };
    let f = k.families();
    assert_eq!(f.datapath.version, u32::from(OVS_DATAPATH_VERSION));
    assert!(f.vport.group(OVS_VPORT_MCGROUP).is_some());
    let ids = [f.datapath.id, f.vport.id, f.flow.id, f.packet.id];
    assert!(ids.iter().all(|&i| i > GENL_ID_CTRL), "{ids:?}");
}

#[test]
fn datapath_lifecycle_and_errnos() {
    let Some(k) = kernel() else { return };
    let dp = Dp::new(&k, "oxt-dp1", 0);
    // Creating it again.
    let e = k.dp_new("oxt-dp1", 0, FEATURES).unwrap_err();
    assert_eq!(e.errno(), EEXIST, "{e}");
    // Get by name and by ifindex.
    let by_name = k.dp_get(DpId::Name("oxt-dp1")).unwrap();
    let by_index = k.dp_get(DpId::Ifindex(dp.ifindex)).unwrap();
    assert_eq!(by_name.dp_ifindex, dp.ifindex);
    assert_eq!(by_index.name, "oxt-dp1");
    let st = by_name.stats.expect("stats");
    assert_eq!(st.n_flows, 0);
    let mf = by_name.megaflow_stats.expect("megaflow stats");
    assert_eq!(mf.n_masks, 0);
    assert_eq!(by_name.user_features.map(|f| f & FEATURES), Some(FEATURES));
    // Dump lists it.
    assert!(k.dp_dump().unwrap().iter().any(|d| d.name == "oxt-dp1"));
    // Unknown user features.
    let e = k
        .dp_set(&DpRequest {
            dp_ifindex: dp.ifindex,
            user_features: Some(1 << 30),
            ..DpRequest::default()
        })
        .unwrap_err();
    assert_eq!(e.errno(), EOPNOTSUPP, "{e}");
    // Delete, then it is gone.
    k.dp_del(DpId::Name("oxt-dp1")).unwrap();
    assert_eq!(k.dp_get(DpId::Name("oxt-dp1")).unwrap_err().errno(), ENODEV);
    assert_eq!(k.dp_del(DpId::Name("oxt-dp1")).unwrap_err().errno(), ENODEV);
    assert!(!k.dp_dump().unwrap().iter().any(|d| d.name == "oxt-dp1"));
}

#[test]
fn vports_add_query_dump_delete() {
    let Some(k) = kernel() else { return };
    let dp = Dp::new(&k, "oxt-dp2", 0);
    let d = dp.ifindex;
    // The local port exists.
    let ports = k.vport_dump(d).unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!((ports[0].port_no, ports[0].name.as_str()), (0, "oxt-dp2"));
    assert_eq!(ports[0].vport_type, VportType::Internal);

    let p1 = add_port(&k, d, "oxt-int1", VportType::Internal, vec![0]);
    assert_eq!(p1, 1);
    ip("link add oxt-va type veth peer name oxt-vb");
    let pa = add_port(&k, d, "oxt-va", VportType::Netdev, vec![0]);
    // Explicit port number.
    let r = VportRequest {
        dp_ifindex: d,
        port_no: Some(7),
        vport_type: Some(VportType::Netdev),
        name: Some("oxt-vb".into()),
        upcall_pids: Some(vec![0]),
        ..VportRequest::default()
    };
    assert_eq!(k.vport_new(&r).unwrap().port_no, 7);
    // Tunnels with options.
    let vx = VportRequest {
        dp_ifindex: d,
        vport_type: Some(VportType::Vxlan),
        name: Some("oxt-vx".into()),
        options: Some(TunnelOptions {
            dst_port: Some(4790),
            vxlan_gbp: false,
        }),
        upcall_pids: Some(vec![0]),
        ..VportRequest::default()
    };
    let v = k.vport_new(&vx).unwrap();
    assert_eq!(v.options.and_then(|o| o.dst_port), Some(4790));
    let gn = VportRequest {
        vport_type: Some(VportType::Geneve),
        name: Some("oxt-gnv".into()),
        options: Some(TunnelOptions {
            dst_port: Some(6081),
            vxlan_gbp: false,
        }),
        ..vx.clone()
    };
    assert_eq!(k.vport_new(&gn).unwrap().vport_type, VportType::Geneve);
    let gre = VportRequest {
        vport_type: Some(VportType::Gre),
        name: Some("oxt-gre".into()),
        options: None,
        ..vx.clone()
    };
    assert_eq!(k.vport_new(&gre).unwrap().vport_type, VportType::Gre);

    // Query by name (without datapath) and by number.
    let q = k
        .vport_get(&VportRequest {
            name: Some("oxt-va".into()),
            ..VportRequest::default()
        })
        .unwrap();
    assert_eq!((q.port_no, q.dp_ifindex), (pa, d));
    let q = k
        .vport_get(&VportRequest {
            dp_ifindex: d,
            port_no: Some(7),
            ..VportRequest::default()
        })
        .unwrap();
    assert_eq!(q.name, "oxt-vb");
    assert!(q.stats.is_some());
    let names: Vec<String> = k
        .vport_dump(d)
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names.len(), 7, "{names:?}");
    assert_eq!(names[0], "oxt-dp2");

    // Errors.
    let missing = VportRequest {
        name: Some("oxt-nodev".into()),
        vport_type: Some(VportType::Netdev),
        ..r.clone()
    };
    let missing = VportRequest {
        port_no: None,
        ..missing
    };
    assert_eq!(k.vport_new(&missing).unwrap_err().errno(), ENODEV);
    let taken = VportRequest {
        name: Some("oxt-int2".into()),
        vport_type: Some(VportType::Internal),
        ..r.clone()
    };
    assert_eq!(k.vport_new(&taken).unwrap_err().errno(), EBUSY);
    let e = k
        .vport_get(&VportRequest {
            dp_ifindex: d,
            port_no: Some(99),
            ..VportRequest::default()
        })
        .unwrap_err();
    assert_eq!(e.errno(), ENODEV);
    let local = VportRequest {
        dp_ifindex: d,
        port_no: Some(0),
        ..VportRequest::default()
    };
    assert_eq!(k.vport_del(&local).unwrap_err().errno(), EINVAL);

    // Delete, then it is gone.
    let one = VportRequest {
        dp_ifindex: d,
        port_no: Some(p1),
        ..VportRequest::default()
    };
    k.vport_del(&one).unwrap();
    assert_eq!(k.vport_del(&one).unwrap_err().errno(), ENODEV);
    drop(dp);
    let _ = Command::new("ip").args(["link", "del", "oxt-va"]).status();
}

#[test]
fn flows_put_get_dump_delete() {
    let Some(k) = kernel() else { return };
    let dp = Dp::new(&k, "oxt-dp3", 0);
    let d = dp.ifindex;
    let p1 = add_port(&k, d, "oxt-fl1", VportType::Internal, vec![0]);
    let key = keys(&tcp_key(p1, 1000));
    let ufid: u128 = 0x1122_3344_5566_7788_99aa_bbcc_ddee_ff00;
    let new = |flags: u16, actions: Vec<u8>| FlowOp {
        cmd: OVS_FLOW_CMD_NEW,
        flags,
        req: FlowRequest {
            dp_ifindex: d,
            key: Some(key.clone()),
            actions: Some(actions),
            ufid: Some(ufid),
            ..FlowRequest::default()
        },
    };
    let r = k.flow_ops(&[new(NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, output(0))]);
    let f = r[0].as_ref().unwrap().as_ref().expect("echoed flow");
    assert_eq!(f.ufid, Some(ufid));
    // The kernel reports the key with its metadata (recirc_id, dp_hash, ...) first.
    let (got, _) =
        odp::nl::key::decode_keys(f.key.as_deref().unwrap(), odp::nl::Mode::Tolerant).unwrap();
    assert!(tcp_key(p1, 1000).iter().all(|a| got.contains(a)), "{got:?}");
    // Again with NLM_F_CREATE: EEXIST; without (create-or-modify) it
    // replaces the actions.
    let r = k.flow_ops(&[new(NLM_F_CREATE, output(0)), new(0, output(p1))]);
    assert_eq!(r[0].as_ref().unwrap_err().errno(), EEXIST);
    assert!(r[1].is_ok());
    // Get by UFID.
    let get = FlowOp {
        cmd: OVS_FLOW_CMD_GET,
        flags: 0,
        req: FlowRequest {
            dp_ifindex: d,
            ufid: Some(ufid),
            ..FlowRequest::default()
        },
    };
    let f = k
        .flow_ops(std::slice::from_ref(&get))
        .remove(0)
        .unwrap()
        .expect("flow");
    assert_eq!(f.actions.as_deref(), Some(&output(p1)[..]));
    assert_eq!(f.n_packets, 0);
    // A megaflow with a mask (wildcarded TCP source port).
    let mkey = keys(&tcp_key(p1, 2000));
    let mut mask_attrs = tcp_key(u32::MAX, 0);
    for a in &mut mask_attrs {
        match a {
            KeyAttr::Ethernet(e) => {
                *e = EthernetKey {
                    src: [0xff; 6],
                    dst: [0xff; 6],
                }
            }
            KeyAttr::Ethertype(t) => *t = 0xffff,
            KeyAttr::Ipv4(i) => {
                *i = Ipv4Key {
                    src: Ipv4Addr::BROADCAST,
                    dst: Ipv4Addr::BROADCAST,
                    proto: 0xff,
                    tos: 0,
                    ttl: 0,
                    frag: 0xff,
                }
            }
            KeyAttr::Tcp(t) => {
                *t = PortsKey {
                    src: 0,
                    dst: 0xffff,
                }
            }
            _ => {}
        }
    }
    let mput = FlowOp {
        cmd: OVS_FLOW_CMD_NEW,
        flags: NLM_F_CREATE | NLM_F_EXCL,
        req: FlowRequest {
            dp_ifindex: d,
            key: Some(mkey),
            mask: Some(keys(&mask_attrs)),
            actions: Some(vec![]),
            ufid: Some(2),
            ..FlowRequest::default()
        },
    };
    k.flow_ops(&[mput]).remove(0).unwrap();
    let st = k.dp_get(DpId::Ifindex(d)).unwrap();
    assert_eq!(st.stats.unwrap().n_flows, 2);
    assert_eq!(st.megaflow_stats.unwrap().n_masks, 2);

    // Dump: both, full; terse: ufids only.
    let mut dump = k.flow_dump(d, 0).unwrap();
    let mut full = Vec::new();
    while let Some(f) = dump.next_flow().unwrap() {
        full.push(f);
    }
    drop(dump);
    assert_eq!(full.len(), 2);
    assert!(full
        .iter()
        .all(|f| f.key.is_some() && f.mask.is_some() && f.actions.is_some()));
    let mut dump = k
        .flow_dump(
            d,
            OVS_UFID_F_OMIT_KEY | OVS_UFID_F_OMIT_MASK | OVS_UFID_F_OMIT_ACTIONS,
        )
        .unwrap();
    let mut terse = Vec::new();
    while let Some(f) = dump.next_flow().unwrap() {
        terse.push(f);
    }
    drop(dump);
    let mut ufids: Vec<u128> = terse.iter().filter_map(|f| f.ufid).collect();
    ufids.sort();
    assert_eq!(ufids, vec![2, ufid]);
    assert!(terse.iter().all(|f| f.key.is_none() && f.actions.is_none()));

    // SET with CLEAR on an existing flow; SET on a missing one is ENOENT.
    let set = |u: u128| FlowOp {
        cmd: OVS_FLOW_CMD_SET,
        flags: 0,
        req: FlowRequest {
            dp_ifindex: d,
            key: Some(key.clone()),
            ufid: Some(u),
            clear: true,
            ..FlowRequest::default()
        },
    };
    let r = k.flow_ops(&[set(ufid), set(77)]);
    assert!(r[0].is_ok(), "{:?}", r[0]);
    assert_eq!(r[1].as_ref().unwrap_err().errno(), ENOENT);

    // A malformed key (IPv4 without the layers the kernel requires) is EINVAL;
    // a probe is too, silently.
    let bad = FlowOp {
        cmd: OVS_FLOW_CMD_NEW,
        flags: NLM_F_CREATE,
        req: FlowRequest {
            dp_ifindex: d,
            key: Some(keys(&tcp_key(p1, 3000)[..4])),
            actions: Some(vec![]),
            probe: true,
            ..FlowRequest::default()
        },
    };
    assert_eq!(k.flow_ops(&[bad]).remove(0).unwrap_err().errno(), EINVAL);

    // Delete by UFID, then it is gone; a missing datapath is ENODEV.
    let del = FlowOp {
        cmd: OVS_FLOW_CMD_DEL,
        flags: 0,
        req: FlowRequest {
            dp_ifindex: d,
            ufid: Some(ufid),
            ..FlowRequest::default()
        },
    };
    let r = k.flow_ops(&[del.clone(), del, get]);
    assert!(r[0].is_ok());
    assert_eq!(r[1].as_ref().unwrap_err().errno(), ENOENT);
    assert_eq!(r[2].as_ref().unwrap_err().errno(), ENOENT);
    k.flow_flush(d).unwrap();
    assert_eq!(
        k.dp_get(DpId::Ifindex(d)).unwrap().stats.unwrap().n_flows,
        0
    );
    let nodp = FlowOp {
        cmd: OVS_FLOW_CMD_GET,
        flags: 0,
        req: FlowRequest {
            dp_ifindex: 999_999,
            ufid: Some(1),
            ..FlowRequest::default()
        },
    };
    assert_eq!(k.flow_ops(&[nodp]).remove(0).unwrap_err().errno(), ENODEV);
}

#[test]
fn execute_and_upcalls() {
    let Some(k) = kernel() else { return };
    let mut up = Socket::new().unwrap();
    let dp = Dp::new(&k, "oxt-dp4", up.pid());
    let d = dp.ifindex;
    ip("link add oxt-ea type veth peer name oxt-eb");
    ip("link set oxt-ea up");
    ip("link set oxt-eb up");
    let pa = add_port(&k, d, "oxt-ea", VportType::Netdev, vec![up.pid()]);
    let pb = add_port(&k, d, "oxt-eb", VportType::Netdev, vec![up.pid()]);
    let meta = keys(&[KeyAttr::InPort(0)]);
    up.purge(); // IPv6 router solicitations and such may have raced in

    // Output on oxt-ea: the frame arrives on oxt-eb, misses, and comes up.
    let ex = ExecuteRequest {
        dp_ifindex: d,
        packet: udp_frame(),
        key: meta.clone(),
        actions: output(pa),
        ..ExecuteRequest::default()
    };
    let r = k.execute(std::slice::from_ref(&ex));
    assert!(r[0].is_ok(), "{:?}", r[0]);
    let miss = loop {
        assert!(
            up.wait_readable(Some(std::time::Duration::from_secs(5))),
            "no upcall"
        );
        let m = up.recv_unsolicited().unwrap().expect("message");
        let u = UpcallMsg::parse(&m).unwrap();
        if u.packet == udp_frame() {
            break u;
        }
    };
    assert_eq!(miss.cmd, UpcallCmd::Miss);
    assert_eq!(miss.dp_ifindex, d);
    let (key, _) = odp::nl::key::decode_keys(&miss.key, odp::nl::Mode::Tolerant).unwrap();
    assert!(key.contains(&KeyAttr::InPort(pb)), "{key:?}");

    // A userspace action: an action upcall with its userdata.
    let mut w = nl::Writer::new();
    let n = w.begin_nested(odp::abi::OVS_ACTION_ATTR_USERSPACE);
    w.put_u32(odp::abi::OVS_USERSPACE_ATTR_PID, up.pid());
    w.put(odp::abi::OVS_USERSPACE_ATTR_USERDATA, &[1, 2, 3, 4]);
    w.end_nested(n);
    let ex2 = ExecuteRequest {
        actions: w.into_bytes(),
        ..ex.clone()
    };
    assert!(k.execute(&[ex2])[0].is_ok());
    let act = loop {
        assert!(
            up.wait_readable(Some(std::time::Duration::from_secs(5))),
            "no action upcall"
        );
        let u = UpcallMsg::parse(&up.recv_unsolicited().unwrap().expect("message")).unwrap();
        if u.cmd == UpcallCmd::Action {
            break u;
        }
    };
    assert_eq!(act.userdata.as_deref(), Some(&[1, 2, 3, 4][..]));
    assert_eq!(act.packet, udp_frame());

    // Port counters saw the transmit.
    let q = k
        .vport_get(&VportRequest {
            dp_ifindex: d,
            port_no: Some(pa),
            ..VportRequest::default()
        })
        .unwrap();
    assert!(q.stats.unwrap().tx_packets >= 1);

    // Bad actions: EINVAL.
    let bad = ExecuteRequest {
        actions: vec![4, 0, 0x7f, 0],
        ..ex
    };
    assert_eq!(k.execute(&[bad])[0].as_ref().unwrap_err().errno(), EINVAL);
    drop(dp);
    let _ = Command::new("ip").args(["link", "del", "oxt-ea"]).status();
}

#[test]
fn vport_notifications_reach_subscribers() {
    let Some(k) = kernel() else { return };
    let mut sub = Socket::new().unwrap();
    sub.join_group(k.families().vport.group(OVS_VPORT_MCGROUP).unwrap())
        .unwrap();
    let dp = Dp::new(&k, "oxt-dp5", 0);
    add_port(&k, dp.ifindex, "oxt-n1", VportType::Internal, vec![0]);
    let mut seen = Vec::new();
    while sub.wait_readable(Some(std::time::Duration::from_secs(2))) {
        let Some(m) = sub.recv_unsolicited().unwrap() else {
            continue;
        };
        if m.cmd == OVS_VPORT_CMD_NEW {
            let v = dpif_netlink::vport::VportInfo::parse(&m).unwrap();
            if v.dp_ifindex == dp.ifindex {
                seen.push(v.name);
            }
        }
        if seen.iter().any(|n| n == "oxt-n1") {
            break;
        }
    }
    assert!(seen.iter().any(|n| n == "oxt-n1"), "{seen:?}");
}

#[test]
fn vport_set_changes_upcall_pids() {
    let Some(k) = kernel() else { return };
    let dp = Dp::new(&k, "oxt-dp6", 0);
    let p = add_port(&k, dp.ifindex, "oxt-s1", VportType::Internal, vec![0]);
    // Kernels take at most one PID per possible CPU (the guest has 2).
    for pids in [vec![5], vec![11, 12], vec![0]] {
        let r = VportRequest {
            dp_ifindex: dp.ifindex,
            port_no: Some(p),
            upcall_pids: Some(pids.clone()),
            ..VportRequest::default()
        };
        let v = k
            .vport_set(&r)
            .unwrap_or_else(|e| panic!("set {pids:?}: {e}"));
        assert_eq!(v.upcall_pids, pids);
    }
    // The local port too.
    let r = VportRequest {
        dp_ifindex: dp.ifindex,
        port_no: Some(0),
        upcall_pids: Some(vec![1, 2]),
        ..VportRequest::default()
    };
    assert_eq!(k.vport_set(&r).unwrap().upcall_pids, vec![1, 2]);
}

/// Run by `scripts/kernel-tests.sh` a second time without privileges
/// (`OXVS_UNPRIVILEGED=1` under `setpriv`): reads work, changes are EPERM.
#[test]
fn unprivileged_requests_are_eperm() {
    if std::env::var_os("OXVS_UNPRIVILEGED").is_none() {
        println!("SKIP: run unprivileged by scripts/kernel-tests.sh");
        return;
    }
    let k = match Kernel::open() {
        Ok(k) => k,
        Err(e) => {
            println!("SKIP: {e}");
            return;
        }
    };
    assert!(k.dp_dump().is_ok(), "dumps need no privilege");
    let e = k.dp_new("oxt-unpriv", 0, FEATURES).unwrap_err();
    assert_eq!(e.errno(), EPERM, "{e}");
    use dpif::DpifClass;
    let class = dpif_netlink::SystemClass::new();
    assert_eq!(
        class.open("oxt-unpriv", true).err(),
        Some(dpif::Errno::EPERM)
    );
}

/// The provider with per-CPU upcall dispatch: the datapath lists a handler
/// per CPU and a miss reaches one of the handlers.
#[test]
fn provider_per_cpu_dispatch_delivers_misses() {
    use dpif::{DpifClass, ListenMask, PortSpec};
    let Some(k) = kernel() else { return };
    let _ = k.dp_del(DpId::Name("oxt-pc"));
    let class = dpif_netlink::SystemClass::with_dispatch(dpif_netlink::UpcallDispatch::PerCpu);
    let dp = dpif::Dpif::new(class.open("oxt-pc", true).expect("create"));
    let _guard = Dp {
        k: &k,
        ifindex: k.dp_get(DpId::Name("oxt-pc")).unwrap().dp_ifindex,
    };
    dp.handlers_set(2).unwrap();
    dp.recv_set_mask(ListenMask::ALL).unwrap();
    let info = k.dp_get(DpId::Name("oxt-pc")).unwrap();
    assert_ne!(
        info.user_features.unwrap_or(0) & OVS_DP_F_DISPATCH_UPCALL_PER_CPU,
        0
    );
    assert!(
        !info.per_cpu_pids.is_empty() && info.per_cpu_pids.iter().all(|&p| p != 0),
        "{info:?}"
    );

    ip("link add oxt-pca type veth peer name oxt-pcb");
    ip("link set oxt-pca up");
    ip("link set oxt-pcb up");
    let spec = |n: &str| PortSpec {
        name: n.into(),
        port_type: "system".into(),
        options: vec![],
    };
    let pa = dp.port_add(&spec("oxt-pca"), None).unwrap();
    let pb = dp.port_add(&spec("oxt-pcb"), None).unwrap();
    let ex = dpif::Execute {
        packet: udp_frame(),
        metadata: vec![KeyAttr::InPort(0)],
        actions: vec![odp::action::Action::Output(pa)],
        mtu: 0,
        probe: false,
    };
    dp.execute(ex).unwrap();
    let start = std::time::Instant::now();
    let up = 'found: loop {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(5),
            "no miss upcall"
        );
        for h in 0..2 {
            if dp.recv_wait(h, Some(std::time::Duration::from_millis(50))) {
                while let Some(u) = dp.recv(h).unwrap() {
                    if u.packet == udp_frame() {
                        break 'found u;
                    }
                }
            }
        }
    };
    assert_eq!(up.kind, dpif::UpcallKind::Miss);
    assert!(up.key.contains(&KeyAttr::InPort(pb.0)), "{:?}", up.key);
    assert_eq!(up.ufid, dpif::ufid::from_key(&up.key));
    dp.destroy().unwrap();
    let _ = Command::new("ip").args(["link", "del", "oxt-pca"]).status();
}

/// Debian's `ovs-dpctl`, if there is one: `$OVS_DPCTL`, the `PATH`'s, or
/// the copy `run-in-guest --self-test` unpacks.
fn ovs_dpctl() -> Option<String> {
    let cands = [
        std::env::var("OVS_DPCTL").ok(),
        Some("/usr/bin/ovs-dpctl".to_string()),
        Some("/var/cache/kvm-ovs/ovs/usr/bin/ovs-dpctl".to_string()),
    ];
    cands
        .into_iter()
        .flatten()
        .find(|p| std::path::Path::new(p).exists())
}

fn run_dpctl(d: &str, args: &[&str]) -> String {
    let out = Command::new(d).args(args).output().expect("run ovs-dpctl");
    assert!(
        out.status.success(),
        "ovs-dpctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn format_flow(f: &dpif::DpifFlow) -> String {
    let mut s = String::new();
    odp::text::key::format_match(&f.key, Some(&f.mask), false, &mut s);
    s.push_str(", actions:");
    odp::text::action::format_actions(&f.actions, &mut s);
    s
}

/// Flows and ports written through the provider read the same in
/// `ovs-dpctl`, and flows `ovs-dpctl` writes read the same through the
/// provider, with the UFID OVS derives from the key.
#[test]
fn interop_with_ovs_dpctl() {
    use dpif::{DpifClass, FlowPut, PortSpec, PutFlags};
    let Some(k) = kernel() else { return };
    let Some(d) = ovs_dpctl() else {
        println!("SKIP: no ovs-dpctl");
        return;
    };
    let _ = k.dp_del(DpId::Name("oxt-iop"));
    let class = dpif_netlink::SystemClass::new();
    let dp = dpif::Dpif::new(class.open("oxt-iop", true).unwrap());
    let _guard = Dp {
        k: &k,
        ifindex: k.dp_get(DpId::Name("oxt-iop")).unwrap().dp_ifindex,
    };
    let spec = PortSpec {
        name: "oxt-iopp".into(),
        port_type: "internal".into(),
        options: vec![],
    };
    let p = dp.port_add(&spec, None).unwrap();
    let show = run_dpctl(&d, &["show", "system@oxt-iop"]);
    assert!(show.contains("  port 0: oxt-iop (internal)\n"), "{show}");
    assert!(
        show.contains(&format!("  port {}: oxt-iopp (internal)\n", p.0)),
        "{show}"
    );

    // Ours, read by ovs-dpctl.
    let texts = [
        format!(
            "in_port({}),eth(src=02:00:00:00:00:01,dst=02:00:00:00:00:02),eth_type(0x0800),\
             ipv4(src=10.0.0.1,dst=10.0.0.2,proto=6,tos=0,ttl=64,frag=no),tcp(src=1000,dst=80),tcp_flags(0)",
            p.0
        ),
        // The kernel keeps keys masked: write one that is.
        format!("in_port({}),eth(src=02:00:00:00:00:00/ff:ff:ff:00:00:00,dst=02:00:00:00:00:02)", p.0),
    ];
    for t in &texts {
        let (key, mask) = odp::text::key::parse_match(t).unwrap();
        let put = FlowPut {
            flags: PutFlags::CREATE,
            key,
            mask: Some(mask),
            ufid: None,
            actions: vec![odp::action::Action::Output(PortNo(0))],
            want_stats: false,
        };
        dp.flow_put(put).unwrap();
    }
    let dump = run_dpctl(&d, &["dump-flows", "system@oxt-iop"]);
    let mut theirs: Vec<String> = dump
        .lines()
        .map(|l| l.replace(", packets:0, bytes:0, used:never", ""))
        .collect();
    let mut want: Vec<String> = texts.iter().map(|t| format!("{t}, actions:0")).collect();
    theirs.sort();
    want.sort();
    assert_eq!(theirs, want);
    // UFIDs: OVS prints its ovs_u128 as 32-bit words; ours is the same
    // 16 bytes, so `ovs-dpctl -m` shows the UFID we gave each flow.
    let verbose = run_dpctl(&d, &["dump-flows", "-m", "system@oxt-iop"]);
    for t in &texts {
        let u = dpif::Dpif::ufid_from_key(&odp::text::key::parse_match(t).unwrap().0).0;
        let w = [
            u as u32,
            (u >> 32) as u32,
            (u >> 64) as u32,
            (u >> 96) as u32,
        ];
        let ufid = format!(
            "ufid:{:08x}-{:04x}-{:04x}-{:04x}-{:04x}{:08x}, ",
            w[0],
            w[1] >> 16,
            w[1] & 0xffff,
            w[2] >> 16,
            w[2] & 0xffff,
            w[3]
        );
        assert!(
            verbose.lines().any(|l| l.starts_with(&ufid)),
            "{ufid} not in\n{verbose}"
        );
    }

    // Theirs, read through the provider.
    dp.flow_flush().unwrap();
    let t = format!(
        "in_port({}),eth(src=02:00:00:00:00:05,dst=02:00:00:00:00:06),eth_type(0x86dd),\
         ipv6(src=2001:db8::1,dst=2001:db8::2,label=0,proto=17,tclass=0,hlimit=64,frag=no),udp(src=5,dst=6)",
        p.0
    );
    run_dpctl(&d, &["add-flow", "system@oxt-iop", &t, "0"]);
    let dump = dp.flow_dump(false).unwrap();
    let mut c = dump.cursor();
    let mut flows = Vec::new();
    while c.next(&mut flows, 10).unwrap() > 0 {}
    assert_eq!(flows.len(), 1);
    // As ovs-dpctl prints it: the kernel's IPv6 flows carry `ipv6_exthdrs`
    // (Linux 5.18+), which OVS prints as `key32(...)`.
    let theirs = run_dpctl(&d, &["dump-flows", "system@oxt-iop"])
        .replace(", packets:0, bytes:0, used:never", "");
    assert_eq!(format!("{}\n", format_flow(&flows[0])), theirs);
    assert!(
        theirs.starts_with(&t[..t.find(",udp(").unwrap()]),
        "{theirs}"
    );
    // ovs-dpctl installs flows without a UFID: none is reported, and the
    // flow's UFID is that of the key the kernel returned, as OVS's
    // dpif-netlink derives it.
    assert!(!flows[0].ufid_present);
    assert_eq!(flows[0].ufid, dpif::Dpif::ufid_from_key(&flows[0].key));
    drop(c);
    drop(dump);
    dp.destroy().unwrap();
}

/// Tunnel ports through the provider: types, options, bad options.
#[test]
fn provider_tunnel_ports() {
    use dpif::{DpifClass, Errno, PortSpec};
    let Some(k) = kernel() else { return };
    let _ = k.dp_del(DpId::Name("oxt-tun"));
    let class = dpif_netlink::SystemClass::new();
    let dp = dpif::Dpif::new(class.open("oxt-tun", true).unwrap());
    let _guard = Dp {
        k: &k,
        ifindex: k.dp_get(DpId::Name("oxt-tun")).unwrap().dp_ifindex,
    };
    let spec = |name: &str, ty: &str, opts: &[(&str, &str)]| PortSpec {
        name: name.into(),
        port_type: ty.into(),
        options: opts
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    };
    let vx = dp
        .port_add(
            &spec("oxt-tvx", "vxlan", &[("dst_port", "4791"), ("exts", "gbp")]),
            None,
        )
        .unwrap();
    let gn = dp
        .port_add(&spec("oxt-tgn", "geneve", &[("remote_ip", "flow")]), None)
        .unwrap();
    let gr = dp.port_add(&spec("oxt-tgr", "gre", &[]), None).unwrap();
    for (p, ty) in [(vx, "vxlan"), (gn, "geneve"), (gr, "gre")] {
        assert_eq!(dp.port_query_by_number(p).unwrap().port_type, ty);
    }
    let v = k
        .vport_get(&VportRequest {
            name: Some("oxt-tvx".into()),
            ..VportRequest::default()
        })
        .unwrap();
    assert_eq!(
        v.options,
        Some(TunnelOptions {
            dst_port: Some(4791),
            vxlan_gbp: true
        })
    );
    let g = k
        .vport_get(&VportRequest {
            name: Some("oxt-tgn".into()),
            ..VportRequest::default()
        })
        .unwrap();
    assert_eq!(
        g.options.and_then(|o| o.dst_port),
        Some(6081),
        "default geneve port"
    );
    for bad in [
        spec("oxt-tb1", "vxlan", &[("dst_port", "x")]),
        spec("oxt-tb2", "vxlan", &[("exts", "nosuch")]),
        spec("oxt-tb3", "internal", &[("dst_port", "1")]),
        spec("oxt-tb4", "dummy", &[]),
    ] {
        assert_eq!(
            dp.port_add(&bad, None).err(),
            Some(Errno::EINVAL),
            "{bad:?}"
        );
    }
    assert_eq!(
        dp.port_add(&spec("oxt-tvx", "vxlan", &[]), None).err(),
        Some(Errno::EEXIST)
    );
    dp.destroy().unwrap();
}
