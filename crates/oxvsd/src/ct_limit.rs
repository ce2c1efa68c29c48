//! `ovs_ct_limit`: conntrack zone limits, as net/openvswitch/conntrack.c's
//! `ovs_ct_limit_cmd_*` set, delete and report them, on the trackers of
//! the datapath `ovs_header.dp_ifindex` names (0: every datapath, see
//! [`crate::conntrack`]).
//!
//! - `SET` and `DEL` (root only, as the kernel's `GENL_UNS_ADMIN_PERM`)
//!   need `OVS_CT_LIMIT_ATTR_ZONE_LIMIT` (`EINVAL` without); zone id -1 is
//!   the default limit (`DEL` resets it to 0, unlimited); ids outside
//!   0..=65535 are skipped. Both answer with an empty message.
//! - `GET` answers the default first, then each zone asked for with the
//!   limit in force and its count, or, when none is asked for, every zone
//!   with a limit of its own.
//!
//! Limits set for every datapath (`dp_ifindex` 0) are also kept by the
//! daemon and given to datapaths created later, as the kernel's limits
//! outlive its datapaths.

use std::sync::Arc;

use dpif::Provider;
use dpif_netlink::ct_limit::*;
use nl::errno;
use nl::msg::MsgBuilder;

use crate::conn::Conn;
use crate::conntrack::targets;
use crate::datapath::DpEntry;
use crate::dispatch::{admin, Fail, Handled, Outcome, Req};
use crate::families::FAM_CT_LIMIT;
use crate::policy;
use crate::server::State;

/// The limits set for every datapath: the default, and zones' own.
#[derive(Debug, Default)]
pub struct Shared {
    default: u32,
    zones: std::collections::BTreeMap<u16, u32>,
}

impl Shared {
    fn update(&mut self, set: bool, l: &[ZoneLimit]) {
        for z in l {
            match (z.zone_id, z.zone_number()) {
                (OVS_ZONE_LIMIT_DEFAULT_ZONE, _) => self.default = if set { z.limit } else { 0 },
                (_, Some(zone)) if set => {
                    self.zones.insert(zone, z.limit);
                }
                (_, Some(zone)) => {
                    self.zones.remove(&zone);
                }
                (_, None) => {}
            }
        }
    }
}

/// Gives a new datapath's tracker the limits set for every datapath.
pub(crate) fn apply_shared(s: &Shared, dp: &dpif_netdev::Datapath) {
    let zones: Vec<dpif::ct::CtZoneLimit> = s
        .zones
        .iter()
        .map(|(&zone, &limit)| dpif::ct::CtZoneLimit {
            zone,
            limit,
            count: 0,
        })
        .collect();
    let _ = dp.ct_set_limits(Some(s.default), &zones);
}

fn reply(req: &Req<'_>, conn: &Conn, ifindex: i32, limits: Option<&[ZoneLimit]>) -> Vec<u8> {
    let mut b = MsgBuilder::genl(FAM_CT_LIMIT, 0, req.cmd, OVS_CT_LIMIT_VERSION)
        .seq(req.hdr.seq)
        .pid(conn.pid());
    b.header_bytes(&ifindex.to_ne_bytes());
    if let Some(l) = limits {
        b.attrs().put(OVS_CT_LIMIT_ATTR_ZONE_LIMIT, &encode(l));
    }
    b.finish().unwrap_or_default()
}

/// The limit in force for `zone` on the first datapath, with the count
/// summed over `dps`.
fn zone_report(dps: &[Arc<DpEntry>], zone: u16) -> Result<ZoneLimit, Fail> {
    let mut z = ZoneLimit {
        zone_id: i32::from(zone),
        limit: 0,
        count: 0,
    };
    for (i, d) in dps.iter().enumerate() {
        let l = d.dp.ct_get_limits(&[zone])?;
        if let Some(r) = l.zones.first() {
            if i == 0 {
                z.limit = r.limit;
            }
            z.count = z.count.saturating_add(r.count);
        }
    }
    Ok(z)
}

/// Handles an `ovs_ct_limit` request.
pub fn handle(state: &Arc<State>, conn: &Arc<Conn>, req: &Req<'_>) -> Handled {
    let (ifindex, a) = req.ovs(policy::CT_LIMIT)?;
    let given = a.get(OVS_CT_LIMIT_ATTR_ZONE_LIMIT).map(decode);
    match req.cmd {
        OVS_CT_LIMIT_CMD_SET | OVS_CT_LIMIT_CMD_DEL => {
            admin(conn)?;
            let l = given.ok_or_else(|| Fail::msg(errno::EINVAL, "no zone limits"))?;
            let set = req.cmd == OVS_CT_LIMIT_CMD_SET;
            // Under the lock datapath creation takes, so a datapath made
            // meanwhile gets these limits either way.
            let mut shared = crate::lock(&state.ct_limits);
            let dps = targets(state, ifindex)?;
            if ifindex == 0 {
                shared.update(set, &l);
            }
            for d in &dps {
                for z in &l {
                    match (z.zone_id, z.zone_number()) {
                        (OVS_ZONE_LIMIT_DEFAULT_ZONE, _) => {
                            d.dp.ct_set_limits(Some(if set { z.limit } else { 0 }), &[])?
                        }
                        (_, Some(zone)) if set => d.dp.ct_set_limits(
                            None,
                            &[dpif::ct::CtZoneLimit {
                                zone,
                                limit: z.limit,
                                count: 0,
                            }],
                        )?,
                        (_, Some(zone)) => d.dp.ct_del_limits(&[zone])?,
                        (_, None) => log::debug!("zone id {} is out of range", z.zone_id),
                    }
                }
            }
            Ok(Outcome::Reply(reply(req, conn, ifindex, None)))
        }
        OVS_CT_LIMIT_CMD_GET => {
            let dps = targets(state, ifindex)?;
            let default = match dps.first() {
                Some(d) => d.dp.ct_get_limits(&[])?.default_limit,
                None => 0,
            };
            let mut out = vec![ZoneLimit::default_limit(default)];
            match given {
                Some(l) => {
                    for z in l {
                        if let Some(zone) = z.zone_number() {
                            out.push(zone_report(&dps, zone)?);
                        }
                    }
                }
                None => {
                    let own = match dps.first() {
                        Some(d) => d.dp.ct_get_limits(&[])?.zones,
                        None => Vec::new(),
                    };
                    for z in own {
                        out.push(zone_report(&dps, z.zone)?);
                    }
                }
            }
            Ok(Outcome::Reply(reply(req, conn, ifindex, Some(&out))))
        }
        _ => Err(Fail::new(errno::EOPNOTSUPP)),
    }
}
