//! `ovs_flow` messages: new, set, get, delete and dump flows.
//!
//! Keys, masks and actions travel as already-encoded attribute streams
//! (`odp::nl::key`, `odp::nl::action` make and read them); this module frames
//! them with the flow attributes.
//!
//! A UFID is sent as 16 bytes: the `u128` in native byte order, which is
//! OVS's `ovs_u128` layout (`u64 lo, hi` in memory).

use crate::abi::*;
use crate::error::{Error, Result};
use crate::family::Family;
use crate::socket::{Msg, MsgBuilder, Request};

/// A flow request (`OVS_FLOW_CMD_*`). Unset fields are not sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowRequest {
    /// The datapath.
    pub dp_ifindex: i32,
    /// `OVS_FLOW_ATTR_KEY`: encoded key attributes.
    pub key: Option<Vec<u8>>,
    /// `OVS_FLOW_ATTR_MASK`: encoded mask attributes.
    pub mask: Option<Vec<u8>>,
    /// `OVS_FLOW_ATTR_ACTIONS`: encoded actions (`Some(empty)` = drop).
    pub actions: Option<Vec<u8>>,
    /// `OVS_FLOW_ATTR_UFID`.
    pub ufid: Option<u128>,
    /// `OVS_FLOW_ATTR_UFID_FLAGS` (`OVS_UFID_F_*`; 0 is not sent).
    pub ufid_flags: u32,
    /// `OVS_FLOW_ATTR_CLEAR`: zero the statistics (`SET`).
    pub clear: bool,
    /// `OVS_FLOW_ATTR_PROBE`: a feature probe; the kernel logs nothing.
    pub probe: bool,
}

impl FlowRequest {
    /// Frames the request as command `cmd` with extra `flags`.
    ///
    /// # Errors
    /// `EMSGSIZE` if the key, mask or actions are too long.
    pub fn to_request(&self, family: &Family, cmd: u8, flags: u16) -> Result<Request> {
        let mut m = MsgBuilder::ovs(family.id, flags, cmd, OVS_FLOW_VERSION, self.dp_ifindex);
        let w = m.attrs();
        if let Some(k) = &self.key {
            w.put(OVS_FLOW_ATTR_KEY, k);
        }
        if let Some(k) = &self.mask {
            w.put(OVS_FLOW_ATTR_MASK, k);
        }
        if let Some(a) = &self.actions {
            w.put(OVS_FLOW_ATTR_ACTIONS, a);
        }
        if let Some(u) = self.ufid {
            w.put(OVS_FLOW_ATTR_UFID, &u.to_ne_bytes());
        }
        if self.ufid_flags != 0 {
            w.put_u32(OVS_FLOW_ATTR_UFID_FLAGS, self.ufid_flags);
        }
        if self.clear {
            w.put_flag(OVS_FLOW_ATTR_CLEAR);
        }
        if self.probe {
            w.put_flag(OVS_FLOW_ATTR_PROBE);
        }
        m.finish()
    }
}

/// A flow as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowInfo {
    /// Its datapath.
    pub dp_ifindex: i32,
    /// Encoded key (absent in terse replies).
    pub key: Option<Vec<u8>>,
    /// Encoded mask.
    pub mask: Option<Vec<u8>>,
    /// Encoded actions.
    pub actions: Option<Vec<u8>>,
    /// UFID, if the flow has one.
    pub ufid: Option<u128>,
    /// Packets matched (absent = 0).
    pub n_packets: u64,
    /// Bytes matched.
    pub n_bytes: u64,
    /// TCP flags seen (the kernel keeps 8 bits).
    pub tcp_flags: u8,
    /// Last use, in ms of the kernel's monotonic clock (0 = never).
    pub used: u64,
}

impl FlowInfo {
    /// Parses a flow reply or notification. Unknown attributes are skipped.
    ///
    /// # Errors
    /// `EPROTO` if the message is malformed.
    pub fn parse(msg: &Msg) -> Result<FlowInfo> {
        let (dp_ifindex, attrs) = msg.ovs_body()?;
        let mut f = FlowInfo {
            dp_ifindex,
            ..FlowInfo::default()
        };
        for a in nl::AttrIter::new(attrs) {
            let a = a.map_err(|e| Error::proto(format!("flow reply: {e}")))?;
            match a.ty {
                OVS_FLOW_ATTR_KEY => f.key = Some(a.payload.to_vec()),
                OVS_FLOW_ATTR_MASK => f.mask = Some(a.payload.to_vec()),
                OVS_FLOW_ATTR_ACTIONS => f.actions = Some(a.payload.to_vec()),
                OVS_FLOW_ATTR_UFID => {
                    let mut b = [0u8; 16];
                    let n = a.payload.len().min(16);
                    b[..n].copy_from_slice(&a.payload[..n]);
                    f.ufid = Some(u128::from_ne_bytes(b));
                }
                OVS_FLOW_ATTR_STATS if a.payload.len() >= 16 => {
                    let p = a.payload;
                    f.n_packets =
                        u64::from_ne_bytes([p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7]]);
                    f.n_bytes =
                        u64::from_ne_bytes([p[8], p[9], p[10], p[11], p[12], p[13], p[14], p[15]]);
                }
                OVS_FLOW_ATTR_TCP_FLAGS => f.tcp_flags = a.u8().unwrap_or(0),
                OVS_FLOW_ATTR_USED => f.used = a.u64().unwrap_or(0),
                _ => {}
            }
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family() -> Family {
        Family {
            name: "ovs_flow".into(),
            id: 34,
            version: 1,
            hdrsize: 4,
            maxattr: 11,
            mcast_groups: vec![],
        }
    }

    #[test]
    fn request_attribute_order_and_bytes() {
        let r = FlowRequest {
            dp_ifindex: 5,
            key: Some(vec![8, 0, 3, 0, 1, 0, 0, 0]),
            actions: Some(vec![]),
            ufid: Some(0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10),
            ufid_flags: OVS_UFID_F_OMIT_KEY,
            probe: true,
            ..FlowRequest::default()
        };
        let req = r
            .to_request(&family(), OVS_FLOW_CMD_NEW, NLM_F_CREATE)
            .unwrap();
        let b = req.as_bytes();
        assert_eq!(&b[16..24], &[OVS_FLOW_CMD_NEW, 1, 0, 0, 5, 0, 0, 0]);
        let attrs: Vec<_> = nl::AttrIter::new(&b[24..]).map(|a| a.unwrap()).collect();
        let types: Vec<u16> = attrs.iter().map(|a| a.ty).collect();
        assert_eq!(
            types,
            [
                OVS_FLOW_ATTR_KEY,
                OVS_FLOW_ATTR_ACTIONS,
                OVS_FLOW_ATTR_UFID,
                OVS_FLOW_ATTR_UFID_FLAGS,
                OVS_FLOW_ATTR_PROBE
            ]
        );
        assert_eq!(
            attrs[2].payload[0], 0x10,
            "ufid is native (little-endian) order"
        );
    }

    #[test]
    fn parse_reply_with_unknown_attribute() {
        let mut w = nl::Writer::with_buffer(5i32.to_ne_bytes().to_vec());
        w.put(OVS_FLOW_ATTR_UFID, &7u128.to_ne_bytes());
        let mut stats = Vec::new();
        stats.extend_from_slice(&3u64.to_ne_bytes());
        stats.extend_from_slice(&180u64.to_ne_bytes());
        w.put(OVS_FLOW_ATTR_STATS, &stats);
        w.put_u8(OVS_FLOW_ATTR_TCP_FLAGS, 0x12);
        w.put_u64(OVS_FLOW_ATTR_USED, 99);
        w.put_u32(200, 1); // from a newer kernel
        let msg = Msg {
            family: 34,
            flags: 0,
            seq: 0,
            cmd: OVS_FLOW_CMD_GET,
            version: 1,
            payload: w.into_bytes(),
        };
        let f = FlowInfo::parse(&msg).unwrap();
        assert_eq!(f.dp_ifindex, 5);
        assert_eq!(f.ufid, Some(7));
        assert_eq!(
            (f.n_packets, f.n_bytes, f.tcp_flags, f.used),
            (3, 180, 0x12, 99)
        );
        assert_eq!(f.key, None);
    }
}
