//! `ovs_packet` messages: executing actions on a packet, and upcalls.

use crate::abi::*;
use crate::error::{Error, Result};
use crate::family::Family;
use crate::socket::{Msg, MsgBuilder, Request};

/// `OVS_PACKET_CMD_EXECUTE`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExecuteRequest {
    /// The datapath.
    pub dp_ifindex: i32,
    /// The packet, from its Ethernet header.
    pub packet: Vec<u8>,
    /// Encoded key attributes: the packet's metadata (the kernel extracts the
    /// headers itself).
    pub key: Vec<u8>,
    /// Encoded actions.
    pub actions: Vec<u8>,
    /// `OVS_PACKET_ATTR_MRU` (0: not sent).
    pub mru: u16,
    /// `OVS_PACKET_ATTR_PROBE`.
    pub probe: bool,
}

impl ExecuteRequest {
    /// Frames the request.
    ///
    /// # Errors
    /// `EMSGSIZE` if the packet or actions are too long for an attribute.
    pub fn to_request(&self, family: &Family) -> Result<Request> {
        let mut m = MsgBuilder::ovs(
            family.id,
            0,
            OVS_PACKET_CMD_EXECUTE,
            OVS_PACKET_VERSION,
            self.dp_ifindex,
        );
        let w = m.attrs();
        w.put(OVS_PACKET_ATTR_PACKET, &self.packet);
        w.put(OVS_PACKET_ATTR_KEY, &self.key);
        w.put(OVS_PACKET_ATTR_ACTIONS, &self.actions);
        if self.probe {
            w.put_flag(OVS_PACKET_ATTR_PROBE);
        }
        if self.mru != 0 {
            w.put_u16(OVS_PACKET_ATTR_MRU, self.mru);
        }
        m.finish()
    }
}

/// Why the kernel sent a packet up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpcallCmd {
    /// `OVS_PACKET_CMD_MISS`.
    Miss,
    /// `OVS_PACKET_CMD_ACTION`.
    Action,
    /// `OXVS_PACKET_CMD_SAMPLE` (the daemon's datapath sampling only).
    Sample,
}

/// An upcall message (`OVS_PACKET_CMD_MISS` / `_ACTION`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpcallMsg {
    /// Miss or action.
    pub cmd: UpcallCmd,
    /// The datapath.
    pub dp_ifindex: i32,
    /// The packet.
    pub packet: Vec<u8>,
    /// Encoded key attributes.
    pub key: Vec<u8>,
    /// `OVS_PACKET_ATTR_USERDATA`.
    pub userdata: Option<Vec<u8>>,
    /// `OVS_PACKET_ATTR_EGRESS_TUN_KEY`: encoded tunnel attributes.
    pub egress_tun_key: Option<Vec<u8>>,
    /// `OVS_PACKET_ATTR_ACTIONS`: encoded actions.
    pub actions: Option<Vec<u8>>,
    /// `OVS_PACKET_ATTR_MRU`.
    pub mru: Option<u16>,
    /// `OVS_PACKET_ATTR_LEN`: the length before truncation.
    pub len: Option<u32>,
    /// `OVS_PACKET_ATTR_HASH`.
    pub hash: Option<u64>,
}

impl UpcallMsg {
    /// Parses an upcall.
    ///
    /// # Errors
    /// `EPROTO` for another command or a message without packet or key.
    pub fn parse(msg: &Msg) -> Result<UpcallMsg> {
        let cmd = match msg.cmd {
            OVS_PACKET_CMD_MISS => UpcallCmd::Miss,
            OVS_PACKET_CMD_ACTION => UpcallCmd::Action,
            OXVS_PACKET_CMD_SAMPLE => UpcallCmd::Sample,
            c => return Err(Error::proto(format!("unexpected packet command {c}"))),
        };
        let (dp_ifindex, attrs) = msg.ovs_body()?;
        let (mut packet, mut key) = (None, None);
        let mut u = UpcallMsg {
            cmd,
            dp_ifindex,
            packet: Vec::new(),
            key: Vec::new(),
            userdata: None,
            egress_tun_key: None,
            actions: None,
            mru: None,
            len: None,
            hash: None,
        };
        for a in nl::AttrIter::new(attrs) {
            let a = a.map_err(|e| Error::proto(format!("upcall: {e}")))?;
            match a.ty {
                OVS_PACKET_ATTR_PACKET => packet = Some(a.payload.to_vec()),
                OVS_PACKET_ATTR_KEY => key = Some(a.payload.to_vec()),
                OVS_PACKET_ATTR_USERDATA => u.userdata = Some(a.payload.to_vec()),
                OVS_PACKET_ATTR_EGRESS_TUN_KEY => u.egress_tun_key = Some(a.payload.to_vec()),
                OVS_PACKET_ATTR_ACTIONS => u.actions = Some(a.payload.to_vec()),
                OVS_PACKET_ATTR_MRU => u.mru = a.u16(),
                OVS_PACKET_ATTR_LEN => u.len = a.u32(),
                OVS_PACKET_ATTR_HASH => u.hash = a.u64(),
                _ => {}
            }
        }
        match (packet, key) {
            (Some(p), Some(k)) => {
                u.packet = p;
                u.key = k;
                Ok(u)
            }
            _ => Err(Error::proto("upcall without packet or key")),
        }
    }
}
