//! `ovs_meter`: the datapaths' meter tables, which have no room.
//!
//! The kernel (`net/openvswitch/meter.c`, Linux 4.15 and later) keeps a
//! meter table per datapath and runs its token buckets on packets that go
//! through an `OVS_ACTION_ATTR_METER` action. The userspace datapath does
//! not run meters yet, so here every datapath's table holds none:
//!
//! - `OVS_METER_CMD_FEATURES` reports `OVS_METER_ATTR_MAX_METERS` 0 (the
//!   kernel reports its table's `max_meters_allowed`), with the kernel's
//!   band limits;
//! - `OVS_METER_CMD_SET` checks the meter as the kernel's
//!   `dp_meter_create` does, then fails with `EFBIG`, what the kernel's
//!   `attach_meter` answers when the table is full;
//! - `OVS_METER_CMD_GET` finds no meter (`ENOENT`); `OVS_METER_CMD_DEL`
//!   deletes nothing and replies, as the kernel does for an absent meter.
//!
//! Open vSwitch probes meters by setting two and reading them back; the
//! probe fails, so it uses none (and flows with a `meter` action are
//! refused: see `crate::flow`). Why serve the family at all rather than
//! answer as a kernel older than 4.15 (no `ovs_meter` family): Open
//! vSwitch reports that case on its console at start, where its own
//! system tests take any unexpected line for a failure.

use std::sync::Arc;

use dpif_netlink::abi::*;
use nl::errno;
use nl::msg::MsgBuilder;
use nl::policy::Attrs;

use crate::conn::Conn;
use crate::dispatch::{admin, Fail, Handled, Outcome, Req};
use crate::families::FAM_METER;
use crate::policy;
use crate::server::State;

/// Meters a datapath's table holds.
pub const MAX_METERS: u32 = 0;
/// Bands per meter (the kernel's `DP_MAX_BANDS`).
pub const MAX_BANDS: usize = 1;

/// Handles an `ovs_meter` request.
pub fn handle(state: &Arc<State>, conn: &Arc<Conn>, req: &Req<'_>) -> Handled {
    if req.dump() {
        // The kernel's meter commands have no dumpit.
        return Err(Fail::new(errno::EOPNOTSUPP));
    }
    let (ifindex, a) = req.ovs(policy::METER)?;
    let reply = |cmd: u8, attrs: &dyn Fn(&mut nl::Writer)| {
        let mut b = MsgBuilder::genl(FAM_METER, 0, cmd, OVS_METER_VERSION)
            .seq(req.hdr.seq)
            .pid(conn.pid());
        b.header_bytes(&ifindex.to_ne_bytes());
        attrs(b.attrs());
        b.finish()
            .map(Outcome::Reply)
            .map_err(|_| Fail::new(errno::EMSGSIZE))
    };
    match req.cmd {
        OVS_METER_CMD_FEATURES => {
            state.find_dp(ifindex, None)?;
            reply(OVS_METER_CMD_FEATURES, &|w| {
                w.put_u32(OVS_METER_ATTR_MAX_METERS, MAX_METERS);
                w.put_u32(OVS_METER_ATTR_MAX_BANDS, MAX_BANDS as u32);
                let bands = w.begin_nested(OVS_METER_ATTR_BANDS);
                let band = w.begin_nested(0);
                w.put_u32(OVS_BAND_ATTR_TYPE, OVS_METER_BAND_TYPE_DROP);
                w.end_nested(band);
                w.end_nested(bands);
            })
        }
        OVS_METER_CMD_SET => {
            admin(conn)?;
            if !a.has(OVS_METER_ATTR_ID) {
                return Err(Fail::new(errno::EINVAL));
            }
            check_bands(&a)?;
            state.find_dp(ifindex, None)?;
            Err(Fail::msg(
                errno::EFBIG,
                "meter table full: this datapath runs no meters",
            ))
        }
        OVS_METER_CMD_GET => {
            if !a.has(OVS_METER_ATTR_ID) {
                return Err(Fail::new(errno::EINVAL));
            }
            state.find_dp(ifindex, None)?;
            Err(Fail::new(errno::ENOENT))
        }
        OVS_METER_CMD_DEL => {
            admin(conn)?;
            if !a.has(OVS_METER_ATTR_ID) {
                return Err(Fail::new(errno::EINVAL));
            }
            state.find_dp(ifindex, None)?;
            reply(OVS_METER_CMD_DEL, &|_| {})
        }
        _ => Err(Fail::new(errno::EOPNOTSUPP)),
    }
}

/// Checks a meter's bands as the kernel's `dp_meter_create` does: present,
/// at most [`MAX_BANDS`], each with a type, a non-zero rate and a burst.
fn check_bands(a: &Attrs<'_>) -> Result<(), Fail> {
    let bands = a
        .get(OVS_METER_ATTR_BANDS)
        .ok_or_else(|| Fail::new(errno::EINVAL))?;
    let mut n = 0;
    for band in nl::AttrIter::new(bands) {
        let band = band.map_err(|_| Fail::new(errno::EINVAL))?;
        n += 1;
        if n > MAX_BANDS {
            return Err(Fail::msg(errno::EINVAL, "too many meter bands"));
        }
        let b = Attrs::parse(band.payload, policy::METER_BAND)?;
        match (
            b.has(OVS_BAND_ATTR_TYPE),
            b.u32(OVS_BAND_ATTR_RATE),
            b.has(OVS_BAND_ATTR_BURST),
        ) {
            (true, Some(rate), true) if rate != 0 => {}
            _ => return Err(Fail::new(errno::EINVAL)),
        }
    }
    Ok(())
}
