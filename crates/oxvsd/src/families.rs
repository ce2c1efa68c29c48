//! The generic netlink families the daemon serves, with the ids and
//! multicast group ids it gives them.
//!
//! Ids are fixed (the kernel assigns them at module load; clients look
//! them up by name, so any unused id works): family ids in
//! [`nl::daemon::FAMILY_IDS`], clear of `nlctrl` (0x10) and of the
//! netfilter subsystems' message types; group ids in a private range no
//! kernel group uses, so a client can never join a kernel group by mistake.

use dpif_netlink::abi::*;
use nl::genl::Family;

/// `ovs_datapath`'s id.
pub const FAM_DP: u16 = 0x21;
/// `ovs_vport`'s id.
pub const FAM_VPORT: u16 = 0x22;
/// `ovs_flow`'s id.
pub const FAM_FLOW: u16 = 0x23;
/// `ovs_packet`'s id.
pub const FAM_PACKET: u16 = 0x24;
/// `ovs_ct_limit`'s id.
pub const FAM_CT_LIMIT: u16 = 0x25;
/// `ovs_meter`'s id.
pub const FAM_METER: u16 = 0x26;

/// The `ovs_datapath` group (datapath notifications).
pub const GROUP_DP: u32 = 33;
/// The `ovs_vport` group (port notifications).
pub const GROUP_VPORT: u32 = 34;
/// The `ovs_flow` group (flow notifications).
pub const GROUP_FLOW: u32 = 35;
/// The `ovs_ct_limit` group (the kernel's sends nothing on it either).
pub const GROUP_CT_LIMIT: u32 = 36;
/// The `ovs_meter` group (never notified, as the kernel's).
pub const GROUP_METER: u32 = 37;
/// `nlctrl`'s `notify` group (the kernel's number).
pub const GROUP_CTRL_NOTIFY: u32 = 0x10;

/// A family served here.
#[derive(Debug, Clone, Copy)]
pub struct FamilyDef {
    /// Its name.
    pub name: &'static str,
    /// Its id.
    pub id: u16,
    /// Its version.
    pub version: u32,
    /// Its fixed header after `genlmsghdr` (`struct ovs_header`: 4).
    pub hdrsize: u32,
    /// Its highest attribute.
    pub maxattr: u32,
    /// Its multicast group: name and id.
    pub group: Option<(&'static str, u32)>,
}

/// Every family, `nlctrl` first, as `CTRL_CMD_GETFAMILY` reports them.
pub const FAMILIES: [FamilyDef; 7] = [
    FamilyDef {
        name: "nlctrl",
        id: GENL_ID_CTRL,
        version: 2,
        hdrsize: 0,
        maxattr: 10,
        group: Some(("notify", GROUP_CTRL_NOTIFY)),
    },
    FamilyDef {
        name: OVS_DATAPATH_FAMILY,
        id: FAM_DP,
        version: OVS_DATAPATH_VERSION as u32,
        hdrsize: OVS_HEADER_LEN as u32,
        maxattr: OVS_DP_ATTR_IFINDEX as u32,
        group: Some((OVS_DATAPATH_MCGROUP, GROUP_DP)),
    },
    FamilyDef {
        name: OVS_VPORT_FAMILY,
        id: FAM_VPORT,
        version: OVS_VPORT_VERSION as u32,
        hdrsize: OVS_HEADER_LEN as u32,
        maxattr: OVS_VPORT_ATTR_NETNSID as u32,
        group: Some((OVS_VPORT_MCGROUP, GROUP_VPORT)),
    },
    FamilyDef {
        name: OVS_FLOW_FAMILY,
        id: FAM_FLOW,
        version: OVS_FLOW_VERSION as u32,
        hdrsize: OVS_HEADER_LEN as u32,
        maxattr: OVS_FLOW_ATTR_UFID_FLAGS as u32,
        group: Some((OVS_FLOW_MCGROUP, GROUP_FLOW)),
    },
    FamilyDef {
        name: OVS_PACKET_FAMILY,
        id: FAM_PACKET,
        version: OVS_PACKET_VERSION as u32,
        hdrsize: OVS_HEADER_LEN as u32,
        maxattr: OVS_PACKET_ATTR_HASH as u32,
        group: None,
    },
    FamilyDef {
        name: dpif_netlink::ct_limit::OVS_CT_LIMIT_FAMILY,
        id: FAM_CT_LIMIT,
        version: dpif_netlink::ct_limit::OVS_CT_LIMIT_VERSION as u32,
        hdrsize: OVS_HEADER_LEN as u32,
        maxattr: dpif_netlink::ct_limit::OVS_CT_LIMIT_ATTR_ZONE_LIMIT as u32,
        group: Some((dpif_netlink::ct_limit::OVS_CT_LIMIT_MCGROUP, GROUP_CT_LIMIT)),
    },
    FamilyDef {
        name: OVS_METER_FAMILY,
        id: FAM_METER,
        version: OVS_METER_VERSION as u32,
        hdrsize: OVS_HEADER_LEN as u32,
        maxattr: OVS_METER_ATTR_PAD as u32,
        group: Some((OVS_METER_MCGROUP, GROUP_METER)),
    },
];

impl FamilyDef {
    /// The family by id.
    pub fn by_id(id: u16) -> Option<&'static FamilyDef> {
        FAMILIES.iter().find(|f| f.id == id)
    }

    /// The family by name.
    pub fn by_name(name: &str) -> Option<&'static FamilyDef> {
        FAMILIES.iter().find(|f| f.name == name)
    }

    /// As `CTRL_CMD_NEWFAMILY` describes it.
    pub fn describe(&self) -> Family {
        Family {
            name: self.name.to_string(),
            id: self.id,
            version: self.version,
            hdrsize: self.hdrsize,
            maxattr: self.maxattr,
            mcast_groups: self
                .group
                .iter()
                .map(|&(n, id)| (n.to_string(), id))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_stay_clear_of_nlctrl_and_netfilter() {
        for f in &FAMILIES[1..] {
            assert!(nl::daemon::FAMILY_IDS.contains(&f.id), "{}", f.name);
            assert!(!(0x100..=0x2ff).contains(&f.id) && !(0x800..=0x8ff).contains(&f.id));
        }
        let mut ids: Vec<u16> = FAMILIES.iter().map(|f| f.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), FAMILIES.len());
    }
}
