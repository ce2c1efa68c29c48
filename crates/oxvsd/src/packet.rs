//! `ovs_packet`: executing actions on a packet a client sends
//! (`OVS_PACKET_CMD_EXECUTE`), as the kernel's `ovs_packet_cmd_execute`.

use std::sync::Arc;

use dpif::{Execute, Op, Provider};
use dpif_netlink::abi::*;
use nl::errno;
use odp::key::KeyAttr;
use odp::nl::Mode;

use crate::conn::Conn;
use crate::dispatch::{Fail, Handled, Outcome, Req};
use crate::flow::unsupported_as_einval;
use crate::policy;
use crate::server::State;

/// The kernel's `DP_MAX_PORTS`: the in_port of a packet from no port.
const DP_MAX_PORTS: u32 = u16::MAX as u32;

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
    let mut metadata = metadata_of(key)?;
    // Without an in_port the packet comes from no port: the kernel's key
    // says `DP_MAX_PORTS` (and its execute borrows the local port's
    // device). Open vSwitch sends such executes for packet-outs from a
    // port the datapath does not have.
    if !metadata.iter().any(|k| matches!(k, KeyAttr::InPort(_))) {
        metadata.push(KeyAttr::InPort(DP_MAX_PORTS));
    }
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

/// The key of an execute, read as the kernel's
/// `ovs_flow_key_extract_userspace` reads it: for its metadata only. The
/// attributes must be well framed, of known types and lengths, and not
/// repeated (`parse_flow_nlattrs`), but none calls for another: the flow
/// comes from the packet, so a packet without Ethernet header comes with
/// an `ETHERTYPE` and nothing of its IP header (as Open vSwitch sends it).
/// Conntrack attributes are metadata too: they carry a packet's connection
/// across its upcall.
fn metadata_of(b: &[u8]) -> Result<Vec<KeyAttr>, Fail> {
    let invalid = |e: String| Fail::msg(errno::EINVAL, format!("invalid flow key: {e}"));
    let mut seen = 0u64;
    let mut out = Vec::new();
    for a in nl::AttrIter::new(b) {
        let a = a.map_err(|e| invalid(format!("{e:?}")))?;
        let ty = a.ty & nl::NLA_TYPE_MASK;
        let bit = 1u64.checked_shl(u32::from(ty)).unwrap_or(0);
        if seen & bit != 0 {
            return Err(invalid(format!("duplicate attribute {ty}")));
        }
        seen |= bit;
        let k = odp::nl::key::decode_attr(ty, a.payload, Mode::Strict)
            .map_err(|e| invalid(format!("{e:?}")))?;
        out.push(k);
    }
    Ok(out)
}
