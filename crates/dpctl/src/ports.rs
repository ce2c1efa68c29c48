//! Port commands (`add-if`, `del-if`, `set-if`) and what `show` prints
//! about ports and caches beyond the dpif's port dump.
//!
//! On `system@` datapaths, tunnel ports follow `ovs-dpctl`'s conventions so
//! that both tools see the same state: a tunnel port is created under the
//! kernel name OVS gives it (`genev_sys_6081`, `vxlan_sys_4789`, `gre_sys`),
//! and `show` prints the configuration `ovs-dpctl` derives from that name
//! (`dst_port` when not the default; `packet_type=ptap`, since the packet
//! type mode is not stored in the kernel).

use dpif::{Dpif, DpifPort, Errno, PortSpec};
use odp::key::PortNo;

use crate::cli::{CmdResult, Ctx};
use crate::dp::PortCounters;

/// Tunnel types: name, kernel port name prefix, default UDP port (for the
/// types whose kernel name carries the port).
const TUNNELS: &[(&str, &str, Option<u16>)] = &[
    ("geneve", "genev_sys", Some(6081)),
    ("vxlan", "vxlan_sys", Some(4789)),
    ("gre", "gre_sys", None),
    ("lisp", "lisp_sys", Some(4341)),
    ("stt", "stt_sys", Some(7471)),
    ("gtpu", "gtpu_sys", Some(2152)),
    ("erspan", "erspan_sys", None),
    ("ip6erspan", "ip6erspan_sys", None),
    ("ip6gre", "ip6gre_sys", None),
];

fn tunnel(port_type: &str) -> Option<&'static (&'static str, &'static str, Option<u16>)> {
    TUNNELS.iter().find(|t| t.0 == port_type)
}

/// One `add-if` / `set-if` argument: `NAME[,type=T][,port_no=N][,KEY=VALUE...]`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IfaceArg {
    /// Device name.
    pub name: String,
    /// `type=`, if given.
    pub port_type: Option<String>,
    /// `port_no=`, if given.
    pub port_no: Option<String>,
    /// Other options, in order.
    pub options: Vec<(String, String)>,
    /// Options given twice (the first value is kept).
    pub duplicates: Vec<String>,
}

/// Parses an `add-if` / `set-if` argument; `None` if it has no name.
pub fn parse_iface(arg: &str) -> Option<IfaceArg> {
    let mut parts = arg.split(',').filter(|p| !p.is_empty());
    let mut a = IfaceArg {
        name: parts.next()?.to_string(),
        ..IfaceArg::default()
    };
    for opt in parts {
        let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
        match k {
            "type" => a.port_type = Some(v.to_string()),
            "port_no" => a.port_no = Some(v.to_string()),
            _ if a.options.iter().any(|(x, _)| x == k) => a.duplicates.push(k.to_string()),
            _ => a.options.push((k.to_string(), v.to_string())),
        }
    }
    Some(a)
}

/// The name a port gets in the datapath: on `system`, a tunnel is named as
/// OVS names it in the kernel.
fn dp_port_name(dp_type: &str, a: &IfaceArg, port_type: &str) -> String {
    match (dp_type, tunnel(port_type)) {
        ("system", Some(&(_, prefix, Some(default)))) => {
            let port = a
                .options
                .iter()
                .find(|(k, _)| k == "dst_port")
                .and_then(|(_, v)| v.parse::<u16>().ok())
                .unwrap_or(default);
            format!("{prefix}_{port}")
        }
        ("system", Some(&(_, prefix, None))) => prefix.to_string(),
        _ => a.name.clone(),
    }
}

/// `add-if DP IFACE...`.
pub fn add_if(ctx: &mut Ctx<'_>, dp_name: &str, ifaces: &[String]) -> CmdResult {
    let dp = ctx.open_arg(dp_name)?;
    let mut last = Ok(());
    for arg in ifaces {
        if let Err(e) = add_one(ctx, &dp, dp_name, arg) {
            last = Err(e);
        }
    }
    last
}

fn add_one(ctx: &mut Ctx<'_>, dp: &Dpif, dp_name: &str, arg: &str) -> CmdResult {
    let Some(a) = parse_iface(arg) else {
        ctx.error(None, &format!("{arg} is not a valid network device name"));
        return Err(Errno::EINVAL);
    };
    for d in &a.duplicates {
        ctx.error(None, &format!("duplicate \"{d}\" option"));
    }
    let port_type = a.port_type.clone().unwrap_or_else(|| "system".into());
    let port_no = match &a.port_no {
        None => None,
        Some(v) => match v.parse::<u32>() {
            Ok(n) => Some(PortNo(n)),
            Err(_) => {
                ctx.error(
                    Some(Errno::EINVAL),
                    &format!("{}: invalid port_no \"{v}\"", a.name),
                );
                return Err(Errno::EINVAL);
            }
        },
    };
    if tunnel(&port_type).is_some() && !a.options.iter().any(|(k, _)| k == "remote_ip") {
        ctx.error(
            Some(Errno::EINVAL),
            &format!(
                "{}: {port_type} type requires valid 'remote_ip' argument",
                a.name
            ),
        );
        return Err(Errno::EINVAL);
    }
    let spec = PortSpec {
        name: dp_port_name(dp.type_name(), &a, &port_type),
        port_type,
        options: a.options.clone(),
    };
    match dp.port_add(&spec, port_no) {
        // A kernel port passes traffic only when its device is up.
        Ok(_) if dp.type_name() == "system" => dpif_netlink::rtnl::set_up(&spec.name)
            .map_err(|e| Errno::new(e.errno()).unwrap_or(Errno::EIO))
            .inspect_err(|&e| {
                ctx.error(
                    Some(e),
                    &format!("{}: failed bringing interface up", a.name),
                );
            }),
        Ok(_) => Ok(()),
        Err(e @ Errno::ENODEV) => {
            ctx.error(
                Some(e),
                &format!("{}: failed to open network device", a.name),
            );
            Err(e)
        }
        Err(e) => {
            ctx.error(Some(e), &format!("adding {} to {dp_name} failed", a.name));
            Err(e)
        }
    }
}

/// `del-if DP IFACE...`: each IFACE a port name or number.
pub fn del_if(ctx: &mut Ctx<'_>, dp_name: &str, ifaces: &[String]) -> CmdResult {
    let dp = ctx.open_arg(dp_name)?;
    let mut last = Ok(());
    for name in ifaces {
        let port = if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            match name.parse::<u32>() {
                Ok(n) => PortNo(n),
                Err(_) => {
                    ctx.error(None, &format!("no port named {name}"));
                    last = Err(Errno::ENOENT);
                    continue;
                }
            }
        } else {
            match dp.port_query_by_name(name) {
                Ok(p) => p.port_no,
                Err(_) => {
                    ctx.error(None, &format!("no port named {name}"));
                    last = Err(Errno::ENOENT);
                    continue;
                }
            }
        };
        if let Err(e) = dp.port_del(port) {
            ctx.error(
                Some(e),
                &format!("deleting port {name} from {dp_name} failed"),
            );
            last = Err(e);
        }
    }
    last
}

/// `set-if DP IFACE...`: the type and number cannot change; other options
/// are refused, as no provider can reconfigure a port in place.
pub fn set_if(ctx: &mut Ctx<'_>, dp_name: &str, ifaces: &[String]) -> CmdResult {
    let dp = ctx.open_arg(dp_name)?;
    let mut last = Ok(());
    for arg in ifaces {
        let Some(a) = parse_iface(arg) else {
            ctx.error(None, &format!("{arg} is not a valid network device name"));
            last = Err(Errno::EINVAL);
            continue;
        };
        let port = match dp.port_query_by_name(&a.name) {
            Ok(p) => p,
            Err(e) => {
                ctx.error(
                    Some(e),
                    &format!("{}: failed to query port in {dp_name}", a.name),
                );
                last = Err(e);
                continue;
            }
        };
        if let Some(t) = a.port_type.as_deref().filter(|t| *t != port.port_type) {
            ctx.error(
                None,
                &format!(
                    "{}: can't change type from {} to {t}",
                    a.name, port.port_type
                ),
            );
            last = Err(Errno::EINVAL);
            continue;
        }
        if let Some(n) = &a.port_no {
            if n.parse::<u32>().ok() != Some(port.port_no.0) {
                ctx.error(
                    None,
                    &format!(
                        "{}: can't change port number from {} to {n}",
                        a.name, port.port_no.0
                    ),
                );
                last = Err(Errno::EINVAL);
                continue;
            }
        }
        if !a.options.is_empty() {
            ctx.error(
                Some(Errno::EOPNOTSUPP),
                &format!("{}: Error updating configuration", a.name),
            );
            last = Err(Errno::EOPNOTSUPP);
        }
    }
    last
}

/// The type `show` gives a port. On `system`, OVS creates tunnel devices
/// itself and attaches them as plain (`system`) vports, then names their
/// type after the device: a `system` port named like an OVS tunnel device
/// (`genev_sys_6081`, `vxlan_sys_4789`, `gre_sys`) shows as that tunnel type.
pub fn display_type(dp_type: &str, port: &DpifPort) -> String {
    if dp_type == "system" && port.port_type == "system" {
        for &(ty, prefix, udp) in TUNNELS {
            let matches = match udp {
                Some(_) => port
                    .name
                    .strip_prefix(prefix)
                    .and_then(|r| r.strip_prefix('_'))
                    .is_some_and(|r| r.parse::<u16>().is_ok()),
                None => port.name == prefix,
            };
            if matches {
                return ty.to_string();
            }
        }
    }
    port.port_type.clone()
}

/// The configuration `show` prints after a port's type, sorted by key.
pub fn port_config(dp_type: &str, port: &DpifPort) -> Vec<(String, String)> {
    let mut cfg = Vec::new();
    if dp_type != "system" {
        return cfg;
    }
    if let Some(&(_, prefix, default)) = tunnel(&display_type(dp_type, port)) {
        if let (Some(default), Some(n)) = (
            default,
            port.name
                .strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('_'))
                .and_then(|r| r.parse::<u16>().ok()),
        ) {
            if n != default {
                cfg.push(("dst_port".to_string(), n.to_string()));
            }
        }
        cfg.push(("packet_type".to_string(), "ptap".to_string()));
    }
    cfg
}

/// A port's counters for `show -s`: the datapath's, plus the device's
/// error counters that the datapath does not keep, read from sysfs for a
/// port on an existing network device, as `ovs-dpctl` takes them from the
/// device; an internal port's are 0; tunnel ports and ports without a
/// network device have none (`?`).
pub fn port_counters(dp: &Dpif, port: &DpifPort) -> Result<PortCounters, Errno> {
    let base = dp.port_stats(port.port_no)?;
    if tunnel(&display_type(dp.type_name(), port)).is_some() {
        return Ok(PortCounters {
            base,
            have_errors: false,
            extra: None,
        });
    }
    let extra = match port.port_type.as_str() {
        "internal" => Some([0; 5]),
        "system" => {
            let read = |f: &str| {
                std::fs::read_to_string(format!("/sys/class/net/{}/statistics/{f}", port.name))
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0)
            };
            Some([
                read("rx_over_errors"),
                read("rx_frame_errors"),
                read("tx_aborted_errors"),
                read("tx_carrier_errors"),
                read("collisions"),
            ])
        }
        _ => None,
    };
    Ok(PortCounters {
        base,
        have_errors: true,
        extra,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iface_arguments() {
        let a =
            parse_iface("gnv0,type=geneve,,remote_ip=1.1.1.1,dst_port=6082,remote_ip=2.2.2.2,csum")
                .unwrap();
        assert_eq!(a.name, "gnv0");
        assert_eq!(a.port_type.as_deref(), Some("geneve"));
        assert_eq!(
            a.options,
            [
                ("remote_ip".to_string(), "1.1.1.1".to_string()),
                ("dst_port".into(), "6082".into()),
                ("csum".into(), "".into())
            ]
        );
        assert_eq!(a.duplicates, ["remote_ip"]);
        assert_eq!(dp_port_name("system", &a, "geneve"), "genev_sys_6082");
        assert_eq!(dp_port_name("netdev", &a, "geneve"), "gnv0");
        assert!(parse_iface(",,").is_none());
        let v = parse_iface("v2,port_no=7").unwrap();
        assert_eq!(v.port_no.as_deref(), Some("7"));
        assert_eq!(dp_port_name("system", &v, "system"), "v2");
    }

    #[test]
    fn tunnel_config_as_ovs_dpctl_shows_it() {
        let p = |name: &str, ty: &str| DpifPort {
            name: name.into(),
            port_type: ty.into(),
            port_no: PortNo(2),
        };
        let s = |v: Vec<(String, String)>| {
            v.into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(
            s(port_config("system", &p("genev_sys_6082", "geneve"))),
            "dst_port=6082,packet_type=ptap"
        );
        assert_eq!(
            s(port_config("system", &p("vxlan_sys_4789", "vxlan"))),
            "packet_type=ptap"
        );
        assert_eq!(s(port_config("system", &p("v1", "system"))), "");
        // OVS attaches its tunnel devices as plain vports.
        assert_eq!(
            display_type("system", &p("genev_sys_6082", "system")),
            "geneve"
        );
        assert_eq!(display_type("system", &p("gre_sys", "system")), "gre");
        assert_eq!(
            display_type("system", &p("genev_sys_x", "system")),
            "system"
        );
        assert_eq!(display_type("netdev", &p("gre_sys", "system")), "system");
        assert_eq!(
            s(port_config("system", &p("genev_sys_6082", "system"))),
            "dst_port=6082,packet_type=ptap"
        );
        assert_eq!(s(port_config("netdev", &p("gnv0", "geneve"))), "");
    }
}
