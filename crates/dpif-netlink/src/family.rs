//! Generic netlink family resolution: name → id, version and multicast
//! groups (`CTRL_CMD_GETFAMILY`). Family ids are assigned when a module
//! registers, so they differ from boot to boot.

use crate::abi::*;
use crate::error::{errno, Error, Result};
use crate::socket::{MsgBuilder, Socket};

pub use nl::genl::Family;

/// Looks up family `name`.
///
/// # Errors
/// `ENOENT` if no such family is registered (for the openvswitch families,
/// see [`Families::resolve`]); `EPROTO` for a malformed answer; socket
/// errors.
pub fn resolve(sock: &mut Socket, name: &str) -> Result<Family> {
    let mut m = MsgBuilder::new(GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, 1);
    m.attrs().put_string(CTRL_ATTR_FAMILY_NAME, name);
    let reply = sock
        .transact(m.finish()?)?
        .ok_or_else(|| Error::proto("CTRL_CMD_GETFAMILY gave no reply"))?;
    Family::parse(&reply.payload).map_err(|e| Error::proto(e.to_string()))
}

/// A NUL-terminated string attribute's text.
pub(crate) fn c_string(payload: &[u8]) -> String {
    let s = payload.split(|&c| c == 0).next().unwrap_or(&[]);
    String::from_utf8_lossy(s).into_owned()
}

/// The four openvswitch families, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Families {
    /// `ovs_datapath`.
    pub datapath: Family,
    /// `ovs_vport` (multicast group `ovs_vport` carries port notifications).
    pub vport: Family,
    /// `ovs_flow`.
    pub flow: Family,
    /// `ovs_packet`.
    pub packet: Family,
}

impl Families {
    /// Resolves the openvswitch families.
    ///
    /// # Errors
    /// [`Error::module_not_loaded`] (`EAFNOSUPPORT`) if the kernel has no
    /// openvswitch module; socket errors.
    pub fn resolve(sock: &mut Socket) -> Result<Families> {
        let get = |sock: &mut Socket, name: &str| match resolve(sock, name) {
            Err(e) if e.errno() == errno::ENOENT => Err(Error::module_not_loaded(name)),
            r => r,
        };
        Ok(Families {
            datapath: get(sock, OVS_DATAPATH_FAMILY)?,
            vport: get(sock, OVS_VPORT_FAMILY)?,
            flow: get(sock, OVS_FLOW_FAMILY)?,
            packet: get(sock, OVS_PACKET_FAMILY)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_id_version_and_groups() {
        let mut w = nl::Writer::new();
        w.put_string(CTRL_ATTR_FAMILY_NAME, "ovs_vport");
        w.put_u16(CTRL_ATTR_FAMILY_ID, 33);
        w.put_u32(CTRL_ATTR_VERSION, 1);
        w.put_u32(CTRL_ATTR_HDRSIZE, 4);
        w.put_u32(99, 0); // unknown: ignored
        let groups = w.begin_nested(CTRL_ATTR_MCAST_GROUPS);
        let g = w.begin_nested(1);
        w.put_u32(CTRL_ATTR_MCAST_GRP_ID, 10);
        w.put_string(CTRL_ATTR_MCAST_GRP_NAME, "ovs_vport");
        w.end_nested(g);
        w.end_nested(groups);
        let f = Family::parse(w.as_bytes()).unwrap();
        assert_eq!(f.name, "ovs_vport");
        assert_eq!((f.id, f.version, f.hdrsize), (33, 1, 4));
        assert_eq!(f.group("ovs_vport"), Some(10));
        assert_eq!(f.group("other"), None);
        let mut w = nl::Writer::new();
        w.put_string(CTRL_ATTR_FAMILY_NAME, "x");
        assert!(Family::parse(w.as_bytes()).is_err());
    }
}
