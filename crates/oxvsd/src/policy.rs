//! Attribute policies of the requests the daemon accepts: the kernel's
//! `nla_policy` tables of `net/openvswitch/datapath.c` and
//! `net/netlink/genetlink.c`, with fixed-size attributes checked exactly
//! (the kernel warns about, then accepts, over-long integers; we refuse
//! them: no client sends them).

use dpif_netlink::abi::*;
use nl::daemon;
use nl::policy::{Kind, Policy};

/// `IFNAMSIZ`: a name with its NUL.
pub const IFNAMSIZ: usize = 16;
/// Longest `OVS_DP_ATTR_PER_CPU_PIDS` / `OVS_VPORT_ATTR_UPCALL_PID` list.
pub const MAX_PIDS: usize = 4096;

/// `ovs_datapath` requests.
pub const DATAPATH: Policy = &[
    (OVS_DP_ATTR_NAME, Kind::String { max: IFNAMSIZ }),
    (OVS_DP_ATTR_UPCALL_PID, Kind::U32),
    (OVS_DP_ATTR_USER_FEATURES, Kind::U32),
    (OVS_DP_ATTR_MASKS_CACHE_SIZE, Kind::U32),
    (
        OVS_DP_ATTR_PER_CPU_PIDS,
        Kind::Binary {
            min: 0,
            max: 4 * MAX_PIDS,
        },
    ),
    (OVS_DP_ATTR_IFINDEX, Kind::U32),
    (OXVS_DP_ATTR_DROP_FRAGS, Kind::U32),
    (OXVS_DP_ATTR_SFLOW_PROBABILITY, Kind::U32),
    (OXVS_DP_ATTR_CT_MAXCONNS, Kind::U32),
    (OXVS_DP_ATTR_CT_TCP_SEQ_CHK, Kind::U32),
    (OXVS_DP_ATTR_IPF, Kind::Nested),
];

/// `ovs_ct_limit` requests (the kernel's `ct_limit_policy`): the zone
/// limit array, at most one structure per zone and the default.
pub const CT_LIMIT: Policy = &[(
    dpif_netlink::ct_limit::OVS_CT_LIMIT_ATTR_ZONE_LIMIT,
    Kind::Binary {
        min: 0,
        max: dpif_netlink::ct_limit::ZONE_LIMIT_LEN * (u16::MAX as usize + 2),
    },
)];

/// `ovs_vport` requests.
pub const VPORT: Policy = &[
    (OVS_VPORT_ATTR_PORT_NO, Kind::U32),
    (OVS_VPORT_ATTR_TYPE, Kind::U32),
    (OVS_VPORT_ATTR_NAME, Kind::String { max: IFNAMSIZ }),
    (OVS_VPORT_ATTR_OPTIONS, Kind::Nested),
    (
        OVS_VPORT_ATTR_UPCALL_PID,
        Kind::Binary {
            min: 0,
            max: 4 * MAX_PIDS,
        },
    ),
    (OVS_VPORT_ATTR_STATS, Kind::Exact(64)),
    (OVS_VPORT_ATTR_IFINDEX, Kind::U32),
    (OVS_VPORT_ATTR_NETNSID, Kind::U32),
];

/// `ovs_flow` requests.
pub const FLOW: Policy = &[
    (OVS_FLOW_ATTR_KEY, Kind::Nested),
    (OVS_FLOW_ATTR_ACTIONS, Kind::Nested),
    (OVS_FLOW_ATTR_CLEAR, Kind::Flag),
    (OVS_FLOW_ATTR_MASK, Kind::Nested),
    (OVS_FLOW_ATTR_PROBE, Kind::Flag),
    (OVS_FLOW_ATTR_UFID, Kind::Binary { min: 1, max: 16 }),
    (OVS_FLOW_ATTR_UFID_FLAGS, Kind::U32),
];

/// `ovs_packet` requests (`ETH_HLEN` bytes at least of packet).
pub const PACKET: Policy = &[
    (
        OVS_PACKET_ATTR_PACKET,
        Kind::Binary {
            min: 14,
            max: 65535,
        },
    ),
    (OVS_PACKET_ATTR_KEY, Kind::Nested),
    (OVS_PACKET_ATTR_ACTIONS, Kind::Nested),
    (OVS_PACKET_ATTR_PROBE, Kind::Flag),
    (OVS_PACKET_ATTR_MRU, Kind::U16),
    (OVS_PACKET_ATTR_HASH, Kind::U64),
];

/// `ovs_meter` requests (`meter_policy` of `net/openvswitch/meter.c`).
pub const METER: Policy = &[
    (OVS_METER_ATTR_ID, Kind::U32),
    (OVS_METER_ATTR_KBPS, Kind::Flag),
    (OVS_METER_ATTR_STATS, Kind::Exact(16)),
    (OVS_METER_ATTR_BANDS, Kind::Nested),
    (OVS_METER_ATTR_USED, Kind::U64),
    (OVS_METER_ATTR_CLEAR, Kind::Flag),
    (OVS_METER_ATTR_MAX_METERS, Kind::U32),
    (OVS_METER_ATTR_MAX_BANDS, Kind::U32),
];

/// One band of an `ovs_meter` request (`band_policy`).
pub const METER_BAND: Policy = &[
    (OVS_BAND_ATTR_TYPE, Kind::U32),
    (OVS_BAND_ATTR_RATE, Kind::U32),
    (OVS_BAND_ATTR_BURST, Kind::U32),
    (OVS_BAND_ATTR_STATS, Kind::Exact(16)),
];

/// `nlctrl` `CTRL_CMD_GETFAMILY`.
pub const CTRL: Policy = &[
    (CTRL_ATTR_FAMILY_ID, Kind::U16),
    (
        CTRL_ATTR_FAMILY_NAME,
        Kind::String {
            max: nl::genl::GENL_NAMSIZ,
        },
    ),
];

/// `nlctrl` [`daemon::OXVS_CTRL_CMD_SOCKOPT`].
pub const SOCKOPT: Policy = &[
    (daemon::SOCKOPT_ATTR_PORT, Kind::U32),
    (daemon::SOCKOPT_ATTR_COOKIE, Kind::U64),
    (daemon::SOCKOPT_ATTR_LEVEL, Kind::U32),
    (daemon::SOCKOPT_ATTR_NAME, Kind::U32),
    (daemon::SOCKOPT_ATTR_VALUE, Kind::U32),
];

/// Whether `name` is a valid network device (or datapath) name, as the
/// kernel's `dev_valid_name` checks it, and printable: 1 to 15 bytes, not
/// `.` or `..`, no `/`, `:`, whitespace or control characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < IFNAMSIZ
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_the_kernel_checks_them() {
        for ok in ["br0", "ovs-system", "a", "veth-x_1.2"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a:b",
            "a b",
            "a\tb",
            "a\u{1}b",
            "0123456789abcdef",
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
