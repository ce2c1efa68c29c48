//! Datapath commands: `add-dp`, `del-dp`, `dump-dps`, `show`.

use dpif::{Dpif, DpifPort, Errno, PortStats};

use crate::cli::{CmdResult, Ctx, OutputFormat};
use crate::fmt::{human_size, Json};

/// `add-dp DP [IFACE...]`: creates a datapath, then adds the ports.
pub fn add_dp(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    match ctx.open(&args[0], true) {
        Ok(_) => {}
        Err(e) => {
            ctx.dp_error(Some(&args[0]), e, "add_dp");
            return Err(e);
        }
    }
    if args.len() > 1 {
        crate::ports::add_if(ctx, &args[0], &args[1..])?;
    }
    Ok(())
}

/// `del-dp DP`.
pub fn del_dp(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let dp = ctx.open_arg(&args[0])?;
    dp.destroy().inspect_err(|&e| ctx.error(Some(e), "del_dp"))
}

/// `dump-dps`: one `type@name` per line.
pub fn dump_dps(ctx: &mut Ctx<'_>) -> CmdResult {
    let names = ctx.all_dps().inspect_err(|&e| {
        ctx.dp_error(None, e, "enumerating datapaths");
    })?;
    if ctx.opts.format == OutputFormat::Json {
        let mut s = String::new();
        Json::Arr(names.into_iter().map(Json::Str).collect()).write(&mut s);
        s.push('\n');
        ctx.print(&s);
    } else {
        for n in names {
            ctx.print(&format!("{n}\n"));
        }
    }
    Ok(())
}

/// `show [DP...]`: every datapath when none is named.
pub fn show(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let mut last = Ok(());
    let mut json = Vec::new();
    let names: Vec<String> = if args.is_empty() {
        ctx.all_dps().inspect_err(|&e| {
            ctx.dp_error(None, e, "enumerating datapaths");
        })?
    } else {
        args.to_vec()
    };
    for name in &names {
        match ctx.open(name, false) {
            Ok(dp) => {
                let full = format!("{}@{}", dp.type_name(), dp.name());
                let info = gather(ctx, &dp);
                if ctx.opts.format == OutputFormat::Json {
                    json.push(show_json(&full, &info));
                } else {
                    let text = show_text(&full, &info, ctx.opts.statistics);
                    ctx.print(&text);
                }
            }
            Err(e) => {
                ctx.dp_error(Some(name), e, &format!("opening datapath {name} failed"));
                last = Err(e);
            }
        }
    }
    if ctx.opts.format == OutputFormat::Json {
        let mut s = String::new();
        Json::Arr(json).write(&mut s);
        s.push('\n');
        ctx.print(&s);
    }
    last
}

/// What `show` prints about one datapath.
pub struct ShowInfo {
    /// Datapath statistics, if they could be read.
    pub stats: Option<dpif::DpStats>,
    /// Whether to print the `masks:` line.
    pub masks: bool,
    /// Whether to print the `cache:` line.
    pub cache: bool,
    /// Cache levels and sizes (`caches:` block).
    pub caches: Vec<(String, u32)>,
    /// Ports, by number, with their configuration and counters.
    pub ports: Vec<PortInfo>,
}

/// One port of [`ShowInfo`].
pub struct PortInfo {
    /// The port.
    pub port: DpifPort,
    /// Configuration shown after the type, sorted by key.
    pub config: Vec<(String, String)>,
    /// Counters (see [`crate::ports::port_counters`]), or the errno.
    pub stats: Result<PortCounters, Errno>,
}

/// A port's counters as `show -s` prints them; `None` is shown as `?`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PortCounters {
    /// The datapath's counters.
    pub base: PortStats,
    /// Whether the error and drop counters are known.
    pub have_errors: bool,
    /// Receive overruns, frame errors; transmit aborts, carrier errors; collisions.
    pub extra: Option<[u64; 5]>,
}

fn gather(ctx: &Ctx<'_>, dp: &Dpif) -> ShowInfo {
    let ty = dp.type_name();
    let stats = dp.get_stats().ok();
    let masks = stats.is_some_and(|s| s.n_masks != u32::MAX);
    let cache = masks && stats.is_some_and(|s| s.n_cache_hit != u64::MAX);
    let caches = dp.cache_levels();
    let mut ports = dp.port_dump().unwrap_or_default();
    ports.sort_by_key(|p| p.port_no);
    let ports = ports
        .into_iter()
        .map(|mut port| PortInfo {
            config: crate::ports::port_config(ty, &port),
            stats: if ctx.opts.statistics {
                crate::ports::port_counters(dp, &port)
            } else {
                Err(Errno::EOPNOTSUPP)
            },
            port: {
                port.port_type = crate::ports::display_type(ty, &port);
                port
            },
        })
        .collect();
    ShowInfo {
        stats,
        masks,
        cache,
        caches,
        ports,
    }
}

/// `show`'s text for one datapath, as `ovs-dpctl` prints it.
pub fn show_text(full: &str, info: &ShowInfo, with_stats: bool) -> String {
    let mut s = format!("{full}:\n");
    if let Some(st) = &info.stats {
        s.push_str(&format!(
            "  lookups: hit:{} missed:{} lost:{}\n  flows: {}\n",
            st.n_hit, st.n_missed, st.n_lost, st.n_flows
        ));
        let n_pkts = st.n_hit + st.n_missed;
        if info.masks {
            let avg = if n_pkts > 0 {
                st.n_mask_hit as f64 / n_pkts as f64
            } else {
                0.0
            };
            s.push_str(&format!(
                "  masks: hit:{} total:{} hit/pkt:{avg:.2}\n",
                st.n_mask_hit, st.n_masks
            ));
        }
        if info.cache {
            let rate = if n_pkts > 0 {
                st.n_cache_hit as f64 / n_pkts as f64 * 100.0
            } else {
                0.0
            };
            s.push_str(&format!(
                "  cache: hit:{} hit-rate:{rate:.2}%\n",
                st.n_cache_hit
            ));
        }
    }
    if !info.caches.is_empty() {
        s.push_str("  caches:\n");
        for (level, size) in &info.caches {
            s.push_str(&format!("    {level}: size:{size}\n"));
        }
    }
    for p in &info.ports {
        s.push_str(&format!("  port {}: {}", p.port.port_no.0, p.port.name));
        if p.port.port_type != "system" {
            s.push_str(&format!(" ({}", p.port.port_type));
            for (i, (k, v)) in p.config.iter().enumerate() {
                s.push_str(&format!("{} {k}={v}", if i == 0 { ':' } else { ',' }));
            }
            s.push(')');
        }
        s.push('\n');
        if with_stats {
            match &p.stats {
                Ok(c) => port_stats_text(c, &mut s),
                // ovs-dpctl leaves this line unterminated; we end it.
                Err(e) => s.push_str(&format!(", could not retrieve stats ({e})\n")),
            }
        }
    }
    s
}

fn port_stats_text(c: &PortCounters, s: &mut String) {
    let opt = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
    let err = |v: u64| opt(c.have_errors.then_some(v));
    let x = |i: usize| opt(c.extra.map(|e| e[i]));
    let b = &c.base;
    s.push_str(&format!(
        "    RX packets:{} errors:{} dropped:{} overruns:{} frame:{}\n",
        b.rx_packets,
        err(b.rx_errors),
        err(b.rx_dropped),
        x(0),
        x(1)
    ));
    s.push_str(&format!(
        "    TX packets:{} errors:{} dropped:{} aborted:{} carrier:{}\n",
        b.tx_packets,
        err(b.tx_errors),
        err(b.tx_dropped),
        x(2),
        x(3)
    ));
    s.push_str(&format!("    collisions:{}\n", x(4)));
    s.push_str(&format!(
        "    RX bytes:{}{}  TX bytes:{}{}\n",
        b.rx_bytes,
        human_size(b.rx_bytes),
        b.tx_bytes,
        human_size(b.tx_bytes)
    ));
}

fn show_json(full: &str, info: &ShowInfo) -> Json {
    let mut o = vec![("name".to_string(), Json::Str(full.to_string()))];
    if let Some(st) = &info.stats {
        o.push((
            "lookups".into(),
            Json::obj([
                ("hit", Json::Num(st.n_hit)),
                ("missed", Json::Num(st.n_missed)),
                ("lost", Json::Num(st.n_lost)),
            ]),
        ));
        o.push(("flows".into(), Json::Num(st.n_flows)));
        if info.masks {
            o.push((
                "masks".into(),
                Json::obj([
                    ("hit", Json::Num(st.n_mask_hit)),
                    ("total", Json::Num(u64::from(st.n_masks))),
                ]),
            ));
        }
        if info.cache {
            o.push((
                "cache".into(),
                Json::obj([("hit", Json::Num(st.n_cache_hit))]),
            ));
        }
    }
    o.push((
        "caches".into(),
        Json::Obj(
            info.caches
                .iter()
                .map(|(k, v)| (k.clone(), Json::obj([("size", Json::Num(u64::from(*v)))])))
                .collect(),
        ),
    ));
    let ports = info
        .ports
        .iter()
        .map(|p| {
            let mut po = vec![
                (
                    "port_no".to_string(),
                    Json::Num(u64::from(p.port.port_no.0)),
                ),
                ("name".into(), Json::Str(p.port.name.clone())),
                ("type".into(), Json::Str(p.port.port_type.clone())),
                (
                    "config".into(),
                    Json::Obj(
                        p.config
                            .iter()
                            .map(|(k, v)| (k.clone(), Json::Str(v.clone())))
                            .collect(),
                    ),
                ),
            ];
            if let Ok(c) = &p.stats {
                let b = &c.base;
                let err = |v: u64| {
                    if c.have_errors {
                        Json::Num(v)
                    } else {
                        Json::Null
                    }
                };
                po.push((
                    "stats".into(),
                    Json::obj([
                        ("rx_packets", Json::Num(b.rx_packets)),
                        ("rx_bytes", Json::Num(b.rx_bytes)),
                        ("rx_errors", err(b.rx_errors)),
                        ("rx_dropped", err(b.rx_dropped)),
                        ("tx_packets", Json::Num(b.tx_packets)),
                        ("tx_bytes", Json::Num(b.tx_bytes)),
                        ("tx_errors", err(b.tx_errors)),
                        ("tx_dropped", err(b.tx_dropped)),
                    ]),
                ));
            }
            Json::Obj(po)
        })
        .collect();
    o.push(("ports".into(), Json::Arr(ports)));
    Json::Obj(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use odp::key::PortNo;

    fn port(no: u32, name: &str, ty: &str) -> DpifPort {
        DpifPort {
            name: name.into(),
            port_type: ty.into(),
            port_no: PortNo(no),
        }
    }

    /// The layout of `ovs-dpctl show -s` (Open vSwitch 3.1, kernel datapath).
    #[test]
    fn show_layout() {
        let info = ShowInfo {
            stats: Some(dpif::DpStats {
                n_hit: 4,
                n_missed: 18,
                n_lost: 18,
                n_flows: 1,
                n_mask_hit: 4,
                n_masks: 1,
                n_cache_hit: 3,
            }),
            masks: true,
            cache: false,
            caches: vec![("masks-cache".into(), 256)],
            ports: vec![
                PortInfo {
                    port: port(0, "dp0", "internal"),
                    config: vec![],
                    stats: Ok(PortCounters {
                        base: PortStats {
                            tx_packets: 1,
                            tx_bytes: 90,
                            ..PortStats::default()
                        },
                        have_errors: true,
                        extra: Some([0; 5]),
                    }),
                },
                PortInfo {
                    port: port(2, "genev_sys_6082", "geneve"),
                    config: vec![
                        ("dst_port".into(), "6082".into()),
                        ("packet_type".into(), "ptap".into()),
                    ],
                    stats: Ok(PortCounters {
                        base: PortStats {
                            rx_bytes: 2048,
                            ..PortStats::default()
                        },
                        have_errors: false,
                        extra: None,
                    }),
                },
                PortInfo {
                    port: port(7, "v2", "system"),
                    config: vec![],
                    stats: Err(Errno::ENODEV),
                },
            ],
        };
        let want = "system@dp0:
  lookups: hit:4 missed:18 lost:18
  flows: 1
  masks: hit:4 total:1 hit/pkt:0.18
  caches:
    masks-cache: size:256
  port 0: dp0 (internal)
    RX packets:0 errors:0 dropped:0 overruns:0 frame:0
    TX packets:1 errors:0 dropped:0 aborted:0 carrier:0
    collisions:0
    RX bytes:0  TX bytes:90
  port 2: genev_sys_6082 (geneve: dst_port=6082, packet_type=ptap)
    RX packets:0 errors:? dropped:? overruns:? frame:?
    TX packets:0 errors:? dropped:? aborted:? carrier:?
    collisions:?
    RX bytes:2048 (2.0 KiB)  TX bytes:0
  port 7: v2
, could not retrieve stats (No such device)
";
        assert_eq!(show_text("system@dp0", &info, true), want);
        let plain = show_text("system@dp0", &info, false);
        assert!(plain.ends_with("  port 7: v2\n"), "{plain}");
    }
}
