//! `ovs_packet`: executing actions on a packet a client sends
//! (`OVS_PACKET_CMD_EXECUTE`), as the kernel's `ovs_packet_cmd_execute`.

use std::sync::Arc;

use dpif::{Execute, Op, Provider};
use dpif_netlink::abi::*;
use nl::errno;
use odp::nl::Mode;

use crate::conn::Conn;
use crate::dispatch::{Fail, Handled, Outcome, Req};
use crate::flow::{key_of, unsupported_as_einval};
use crate::policy;
use crate::server::State;

/// Handles an `ovs_packet` request.
pub fn handle(state: &Arc<State>, _conn: &Arc<Conn>, req: &Req<'_>) -> Handled {
    if req.cmd != OVS_PACKET_CMD_EXECUTE || req.dump() {
        return Err(Fail::new(errno::EOPNOTSUPP));
    }
    let (ifindex, a) = req.ovs(policy::PACKET)?;
    let (Some(packet), Some(key), Some(actions)) = (
        a.get(OVS_PACKET_ATTR_PACKET),
        a.get(OVS_PACKET_ATTR_KEY),
        a.get(OVS_PACKET_ATTR_ACTIONS),
    ) else {
        return Err(Fail::new(errno::EINVAL));
    };
    let metadata = key_of(key)?;
    let actions = odp::nl::action::decode_actions(actions, Mode::Strict)
        .map_err(|e| Fail::msg(errno::EINVAL, format!("invalid actions: {e:?}")))?;
    let d = state.find_dp(ifindex, None)?;
    let x = Execute {
        packet: packet.to_vec(),
        metadata,
        actions,
        mtu: a.u16(OVS_PACKET_ATTR_MRU).unwrap_or(0),
        probe: a.has(OVS_PACKET_ATTR_PROBE),
    };
    match d.dp.operate(&[Op::Execute(x)]).pop() {
        Some(Ok(_)) => Ok(Outcome::Done),
        Some(Err(e)) => Err(unsupported_as_einval(e)),
        None => Err(Fail::new(errno::EIO)),
    }
}
