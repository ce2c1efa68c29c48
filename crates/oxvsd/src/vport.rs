//! `ovs_vport`: the ports of the daemon's datapaths, as the kernel's
//! `ovs_vport_cmd_*` add, change, report and remove them, with
//! notifications to the `ovs_vport` group.
//!
//! Port types: `OVS_VPORT_TYPE_NETDEV` is an existing network device
//! (AF_PACKET), `OVS_VPORT_TYPE_INTERNAL` a tap device the daemon creates
//! with the requested name, and oxvs's own numbers add `dummy`, `pcap` and
//! `tap`. Tunnel vports are refused (`EAFNOSUPPORT`, as a kernel without
//! the vport module), and so is a `NETDEV` port on a tunnel device
//! (`EOPNOTSUPP`): OVS creates metadata-mode tunnel devices
//! (`genev_sys_6081`...) over rtnetlink and adds them as plain devices,
//! and AF_PACKET would lose their tunnel metadata.

use std::sync::Arc;

use dpif::{PortSpec, Provider};
use dpif_netlink::abi::*;
use dpif_netlink::vport::{netdev_type_name, netdev_type_number, parse_netdev_options};
use nl::errno;
use nl::msg::{MsgBuilder, NLM_F_MULTI};
use nl::policy::Attrs;
use odp::key::PortNo;

use crate::conn::Conn;
use crate::datapath::{reply_if, DpEntry};
use crate::dispatch::{admin, Fail, Handled, Outcome, Req};
use crate::dump::MsgDump;
use crate::families::{FAM_VPORT, GROUP_VPORT};
use crate::policy::{self, valid_name};
use crate::server::State;

/// One more than the largest port number (`DP_MAX_PORTS`).
const DP_MAX_PORTS: u32 = 65536;
/// The type number reported for a port type without one.
const UNKNOWN_TYPE: u32 = 0x4f58_00ff;

/// The ifindex of network device `name`, if it exists here.
fn ifindex_of(name: &str) -> Option<u32> {
    std::fs::read_to_string(format!("/sys/class/net/{name}/ifindex"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Port `port_no` of `d` as `ovs_vport_cmd_fill_info` reports it.
pub(crate) fn vport_msg(
    d: &DpEntry,
    port_no: PortNo,
    cmd: u8,
    flags: u16,
    seq: u32,
    pid: u32,
) -> Result<Vec<u8>, Fail> {
    let p = d.dp.port_query_by_number(port_no)?;
    let mut b = MsgBuilder::genl(FAM_VPORT, flags, cmd, OVS_VPORT_VERSION)
        .seq(seq)
        .pid(pid);
    b.header_bytes(&d.ifindex.to_ne_bytes());
    let w = b.attrs();
    w.put_u32(OVS_VPORT_ATTR_PORT_NO, p.port_no.0);
    w.put_u32(
        OVS_VPORT_ATTR_TYPE,
        netdev_type_number(&p.port_type).unwrap_or(UNKNOWN_TYPE),
    );
    w.put_string(OVS_VPORT_ATTR_NAME, &p.name);
    let pids = d.port_pids(p.port_no.0);
    let pb: Vec<u8> = match &pids {
        Some(p) => p.iter().flat_map(|x| x.to_ne_bytes()).collect(),
        None => 0u32.to_ne_bytes().to_vec(),
    };
    w.put(OVS_VPORT_ATTR_UPCALL_PID, &pb);
    let s = d.dp.port_stats(p.port_no).unwrap_or_default();
    let st = w.put_zeroed(OVS_VPORT_ATTR_STATS, 64);
    for (i, v) in [
        s.rx_packets,
        s.tx_packets,
        s.rx_bytes,
        s.tx_bytes,
        s.rx_errors,
        s.tx_errors,
        s.rx_dropped,
        s.tx_dropped,
    ]
    .iter()
    .enumerate()
    {
        st[i * 8..i * 8 + 8].copy_from_slice(&v.to_ne_bytes());
    }
    if matches!(p.port_type.as_str(), "system" | "internal" | "tap") {
        if let Some(i) = ifindex_of(&p.name) {
            w.put_u32(OVS_VPORT_ATTR_IFINDEX, i);
        }
    }
    Ok(b.finish().unwrap_or_default())
}

/// The upcall port ids of a request: a non-empty list of `u32`s.
fn pids_of(a: &Attrs<'_>) -> Result<Option<Arc<[u32]>>, Fail> {
    let Some(p) = a.get(OVS_VPORT_ATTR_UPCALL_PID) else {
        return Ok(None);
    };
    if p.is_empty() || p.len() % 4 != 0 {
        return Err(Fail::msg(errno::EINVAL, "bad upcall port id list"));
    }
    Ok(Some(
        a.u32s(OVS_VPORT_ATTR_UPCALL_PID)
            .into_iter()
            .flatten()
            .collect(),
    ))
}

/// The port type name a `NEW` asks for.
fn port_type(ty: u32, name: &str) -> Result<&'static str, Fail> {
    match ty {
        OVS_VPORT_TYPE_GRE | OVS_VPORT_TYPE_VXLAN | OVS_VPORT_TYPE_GENEVE | 6..=0xff => {
            return Err(Fail::msg(
                errno::EAFNOSUPPORT,
                "tunnel vports are not supported by oxvs",
            ))
        }
        _ => {}
    }
    let t = netdev_type_name(ty).ok_or_else(|| Fail::new(errno::EAFNOSUPPORT))?;
    if t == "system" {
        match dpif_netlink::rtnl::link_kind(name) {
            Ok(Some(kind)) if dpif_netlink::rtnl::TUNNEL_KINDS.contains(&kind.as_str()) => {
                log::warn!("refusing port {name}: a {kind} tunnel device (native tunnels are not supported)");
                return Err(Fail::msg(
                    errno::EOPNOTSUPP,
                    format!(
                        "{name} is a {kind} tunnel device: tunnel ports are not supported by oxvs"
                    ),
                ));
            }
            Err(e) if e.errno() == errno::ENODEV => return Err(Fail::new(errno::ENODEV)),
            _ => {}
        }
    }
    Ok(t)
}

impl State {
    /// The port a request names, as the kernel's `lookup_vport`: by name
    /// (in the datapath `dp_ifindex` names, if any), else by number.
    fn find_vport(&self, ifindex: i32, a: &Attrs<'_>) -> Result<(Arc<DpEntry>, PortNo), Fail> {
        if let Some(name) = a.string(OVS_VPORT_ATTR_NAME) {
            let dps: Vec<Arc<DpEntry>> = crate::read(&self.dps).values().cloned().collect();
            for d in dps {
                if let Ok(p) = d.dp.port_query_by_name(name) {
                    if ifindex != 0 && ifindex != d.ifindex {
                        return Err(Fail::new(errno::ENODEV));
                    }
                    return Ok((d, p.port_no));
                }
            }
            return Err(Fail::new(errno::ENODEV));
        }
        let Some(n) = a.u32(OVS_VPORT_ATTR_PORT_NO) else {
            return Err(Fail::new(errno::EINVAL));
        };
        let d = self.find_dp(ifindex, None)?;
        if n >= DP_MAX_PORTS {
            return Err(Fail::new(errno::EFBIG));
        }
        d.dp.port_query_by_number(PortNo(n))?;
        Ok((d, PortNo(n)))
    }

    /// Removes port `no` of `d` and tells the `ovs_vport` group (for a
    /// device that disappeared: the requester is nobody).
    pub(crate) fn remove_port(
        &self,
        d: &DpEntry,
        no: PortNo,
        seq: u32,
        pid: u32,
    ) -> Result<Vec<u8>, Fail> {
        let m = vport_msg(d, no, OVS_VPORT_CMD_DEL, 0, seq, pid)?;
        d.dp.port_del(no)?;
        d.forget_port(no.0);
        self.notify(GROUP_VPORT, &m, pid);
        Ok(m)
    }
}

/// Handles an `ovs_vport` request.
pub fn handle(state: &Arc<State>, conn: &Arc<Conn>, req: &Req<'_>) -> Handled {
    let (ifindex, a) = req.ovs(policy::VPORT)?;
    let (seq, pid) = (req.hdr.seq, conn.pid());
    match req.cmd {
        OVS_VPORT_CMD_NEW => {
            admin(conn)?;
            let (Some(name), Some(ty), Some(pids)) = (
                a.string(OVS_VPORT_ATTR_NAME),
                a.u32(OVS_VPORT_ATTR_TYPE),
                pids_of(&a)?,
            ) else {
                return Err(Fail::new(errno::EINVAL));
            };
            if !valid_name(name) {
                return Err(Fail::msg(errno::EINVAL, "invalid port name"));
            }
            let d = state.find_dp(ifindex, None)?;
            let requested = a.u32(OVS_VPORT_ATTR_PORT_NO);
            if let Some(n) = requested {
                if n >= DP_MAX_PORTS {
                    return Err(Fail::new(errno::EFBIG));
                }
                if d.dp.port_query_by_number(PortNo(n)).is_ok() {
                    return Err(Fail::new(errno::EBUSY));
                }
            }
            let ty = port_type(ty, name)?;
            if let Some(allowed) = &state.cfg.port_types {
                if !allowed.iter().any(|t| t == ty) {
                    return Err(Fail::msg(
                        errno::EPERM,
                        format!("port type {ty} is not allowed by this daemon"),
                    ));
                }
            }
            let spec = PortSpec {
                name: name.to_string(),
                port_type: ty.to_string(),
                options: a
                    .get(OVS_VPORT_ATTR_OPTIONS)
                    .map(parse_netdev_options)
                    .unwrap_or_default(),
            };
            let no = {
                let _g = crate::lock(&state.config_lock);
                if state.n_ports() >= state.cfg.max_ports {
                    return Err(Fail::msg(errno::EFBIG, "port limit reached"));
                }
                d.dp.port_add(&spec, requested.map(PortNo))?
            };
            d.set_port_pids(no.0, pids);
            log::info!("{}: added port {} ({}) as {}", d.name, name, ty, no.0);
            let m = vport_msg(&d, no, OVS_VPORT_CMD_NEW, 0, seq, pid)?;
            state.notify(GROUP_VPORT, &m, pid);
            Ok(reply_if(req.echo(), m))
        }
        OVS_VPORT_CMD_DEL => {
            admin(conn)?;
            let (d, no) = state.find_vport(ifindex, &a)?;
            if no.0 == 0 {
                return Err(Fail::new(errno::EINVAL));
            }
            let m = state.remove_port(&d, no, seq, pid)?;
            log::info!("{}: deleted port {}", d.name, no.0);
            Ok(reply_if(req.echo(), m))
        }
        OVS_VPORT_CMD_GET if req.dump() => {
            let d = state.find_dp(ifindex, None)?;
            let ports = d.dp.port_dump()?;
            let msgs = ports.into_iter().filter_map(move |p| {
                vport_msg(&d, p.port_no, OVS_VPORT_CMD_GET, NLM_F_MULTI, seq, pid).ok()
            });
            Ok(Outcome::Dump(Box::new(MsgDump::new(msgs, seq, pid))))
        }
        OVS_VPORT_CMD_GET => {
            let (d, no) = state.find_vport(ifindex, &a)?;
            Ok(Outcome::Reply(vport_msg(
                &d,
                no,
                OVS_VPORT_CMD_GET,
                0,
                seq,
                pid,
            )?))
        }
        OVS_VPORT_CMD_SET => {
            admin(conn)?;
            let (d, no) = state.find_vport(ifindex, &a)?;
            let p = d.dp.port_query_by_number(no)?;
            if let Some(t) = a.u32(OVS_VPORT_ATTR_TYPE) {
                if netdev_type_number(&p.port_type) != Some(t) {
                    return Err(Fail::new(errno::EINVAL));
                }
            }
            if a.has(OVS_VPORT_ATTR_OPTIONS) {
                // No port type here has options that change after creation.
                return Err(Fail::new(errno::EOPNOTSUPP));
            }
            if let Some(pids) = pids_of(&a)? {
                d.set_port_pids(no.0, pids);
            }
            let m = vport_msg(&d, no, OVS_VPORT_CMD_SET, 0, seq, pid)?;
            state.notify(GROUP_VPORT, &m, pid);
            Ok(reply_if(req.echo(), m))
        }
        _ => Err(Fail::new(errno::EOPNOTSUPP)),
    }
}
