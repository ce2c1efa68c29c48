//! Numbers of the netlink, generic netlink and openvswitch genl ABIs, spelled
//! as in the uapi headers (`linux/netlink.h`, `linux/genetlink.h`,
//! `linux/openvswitch.h`). Key and action attribute numbers live in
//! `odp::abi`; this module has the message-level ones.

#![allow(missing_docs)]

// linux/netlink.h and linux/genetlink.h: the message layer, shared with
// every other netlink user of the workspace.
pub use nl::genl::{
    CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_ATTR_HDRSIZE, CTRL_ATTR_MAXATTR,
    CTRL_ATTR_MCAST_GROUPS, CTRL_ATTR_MCAST_GRP_ID, CTRL_ATTR_MCAST_GRP_NAME, CTRL_ATTR_VERSION,
    CTRL_CMD_GETFAMILY, CTRL_CMD_NEWFAMILY, GENL_HDRLEN, GENL_ID_CTRL,
};
pub use nl::msg::{
    NLMSGERR_ATTR_MSG, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP, NLMSG_OVERRUN, NLM_F_ACK,
    NLM_F_ACK_TLVS, NLM_F_CAPPED, NLM_F_CREATE, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_ECHO,
    NLM_F_EXCL, NLM_F_MATCH, NLM_F_MULTI, NLM_F_REQUEST, NLM_F_ROOT,
};
/// `struct ovs_header`: one `int dp_ifindex`.
pub const OVS_HEADER_LEN: usize = 4;

// linux/openvswitch.h: family names, groups and versions.
pub const OVS_DATAPATH_FAMILY: &str = "ovs_datapath";
pub const OVS_DATAPATH_MCGROUP: &str = "ovs_datapath";
pub const OVS_DATAPATH_VERSION: u8 = 2;
pub const OVS_VPORT_FAMILY: &str = "ovs_vport";
pub const OVS_VPORT_MCGROUP: &str = "ovs_vport";
pub const OVS_VPORT_VERSION: u8 = 1;
pub const OVS_FLOW_FAMILY: &str = "ovs_flow";
pub const OVS_FLOW_MCGROUP: &str = "ovs_flow";
pub const OVS_FLOW_VERSION: u8 = 1;
pub const OVS_PACKET_FAMILY: &str = "ovs_packet";
pub const OVS_PACKET_VERSION: u8 = 1;
pub const OVS_METER_FAMILY: &str = "ovs_meter";
pub const OVS_METER_MCGROUP: &str = "ovs_meter";
pub const OVS_METER_VERSION: u8 = 1;

// enum ovs_datapath_cmd
pub const OVS_DP_CMD_NEW: u8 = 1;
pub const OVS_DP_CMD_DEL: u8 = 2;
pub const OVS_DP_CMD_GET: u8 = 3;
pub const OVS_DP_CMD_SET: u8 = 4;

// enum ovs_datapath_attr
pub const OVS_DP_ATTR_NAME: u16 = 1;
pub const OVS_DP_ATTR_UPCALL_PID: u16 = 2;
pub const OVS_DP_ATTR_STATS: u16 = 3;
pub const OVS_DP_ATTR_MEGAFLOW_STATS: u16 = 4;
pub const OVS_DP_ATTR_USER_FEATURES: u16 = 5;
pub const OVS_DP_ATTR_PAD: u16 = 6;
pub const OVS_DP_ATTR_MASKS_CACHE_SIZE: u16 = 7;
pub const OVS_DP_ATTR_PER_CPU_PIDS: u16 = 8;
pub const OVS_DP_ATTR_IFINDEX: u16 = 9;

// OVS_DP_ATTR_USER_FEATURES bits
pub const OVS_DP_F_UNALIGNED: u32 = 1 << 0;
pub const OVS_DP_F_VPORT_PIDS: u32 = 1 << 1;
pub const OVS_DP_F_TC_RECIRC_SHARING: u32 = 1 << 2;
pub const OVS_DP_F_DISPATCH_UPCALL_PER_CPU: u32 = 1 << 3;

// enum ovs_packet_cmd
pub const OVS_PACKET_CMD_MISS: u8 = 1;
pub const OVS_PACKET_CMD_ACTION: u8 = 2;
pub const OVS_PACKET_CMD_EXECUTE: u8 = 3;

// enum ovs_packet_attr
pub const OVS_PACKET_ATTR_PACKET: u16 = 1;
pub const OVS_PACKET_ATTR_KEY: u16 = 2;
pub const OVS_PACKET_ATTR_ACTIONS: u16 = 3;
pub const OVS_PACKET_ATTR_USERDATA: u16 = 4;
pub const OVS_PACKET_ATTR_EGRESS_TUN_KEY: u16 = 5;
pub const OVS_PACKET_ATTR_PROBE: u16 = 8;
pub const OVS_PACKET_ATTR_MRU: u16 = 9;
pub const OVS_PACKET_ATTR_LEN: u16 = 10;
pub const OVS_PACKET_ATTR_HASH: u16 = 11;

// enum ovs_vport_cmd
pub const OVS_VPORT_CMD_NEW: u8 = 1;
pub const OVS_VPORT_CMD_DEL: u8 = 2;
pub const OVS_VPORT_CMD_GET: u8 = 3;
pub const OVS_VPORT_CMD_SET: u8 = 4;

// enum ovs_vport_type
pub const OVS_VPORT_TYPE_NETDEV: u32 = 1;
pub const OVS_VPORT_TYPE_INTERNAL: u32 = 2;
pub const OVS_VPORT_TYPE_GRE: u32 = 3;
pub const OVS_VPORT_TYPE_VXLAN: u32 = 4;
pub const OVS_VPORT_TYPE_GENEVE: u32 = 5;
// oxvsd only: port types of the userspace datapath the kernel does not have.
pub const OXVS_VPORT_TYPE_DUMMY: u32 = 0x4f58_0001;
pub const OXVS_VPORT_TYPE_PCAP: u32 = 0x4f58_0002;
pub const OXVS_VPORT_TYPE_TAP: u32 = 0x4f58_0003;
/// oxvsd only: the datapath's "drop IP fragments" setting (u32 0 or 1).
pub const OXVS_DP_ATTR_DROP_FRAGS: u16 = 0x3f01;
/// oxvsd only: the datapath's sampling probability (u32, of `u32::MAX`).
pub const OXVS_DP_ATTR_SFLOW_PROBABILITY: u16 = 0x3f02;
/// oxvsd only: the tracker's connection maximum (u32; replies and `SET`).
pub const OXVS_DP_ATTR_CT_MAXCONNS: u16 = 0x3f03;
/// oxvsd only: the tracker's connection count (u32; replies).
pub const OXVS_DP_ATTR_CT_NCONNS: u16 = 0x3f04;
/// oxvsd only: TCP sequence checking (u32 0 or 1; replies and `SET`).
pub const OXVS_DP_ATTR_CT_TCP_SEQ_CHK: u16 = 0x3f05;
/// oxvsd only: the tracker's bucket count for `ct-bkts` (u32; replies).
pub const OXVS_DP_ATTR_CT_N_BUCKETS: u16 = 0x3f06;
/// oxvsd only: fragment reassembly (nested `OXVS_IPF_ATTR_*`): its
/// status in replies; in a `SET`, the settings present are changed.
pub const OXVS_DP_ATTR_IPF: u16 = 0x3f07;
/// In `OXVS_DP_ATTR_IPF`: IPv4 reassembly on (u32 0 or 1).
pub const OXVS_IPF_ATTR_V4_ENABLED: u16 = 1;
/// In `OXVS_DP_ATTR_IPF`: IPv6 reassembly on (u32 0 or 1).
pub const OXVS_IPF_ATTR_V6_ENABLED: u16 = 2;
/// In `OXVS_DP_ATTR_IPF`: smallest IPv4 fragment (u32).
pub const OXVS_IPF_ATTR_V4_MIN_FRAG: u16 = 3;
/// In `OXVS_DP_ATTR_IPF`: smallest IPv6 fragment (u32).
pub const OXVS_IPF_ATTR_V6_MIN_FRAG: u16 = 4;
/// In `OXVS_DP_ATTR_IPF`: most fragments held (u32).
pub const OXVS_IPF_ATTR_MAX_NFRAGS: u16 = 5;
/// In `OXVS_DP_ATTR_IPF`: fragments held now (u32; replies).
pub const OXVS_IPF_ATTR_NFRAG: u16 = 6;
/// In `OXVS_DP_ATTR_IPF`: IPv4 counters (six u64: accepted, completed,
/// expired, too small, overlapped, purged; replies).
pub const OXVS_IPF_ATTR_V4_COUNTERS: u16 = 7;
/// In `OXVS_DP_ATTR_IPF`: IPv6 counters, as IPv4's.
pub const OXVS_IPF_ATTR_V6_COUNTERS: u16 = 8;
/// oxvsd only: a sample upcall (the kernel's sampling goes through
/// `userspace` actions instead).
pub const OXVS_PACKET_CMD_SAMPLE: u8 = 0xf1;
/// oxvsd only: in `OVS_VPORT_ATTR_OPTIONS`, one `key=value` string per option.
pub const OXVS_VPORT_OPTION_KV: u16 = 0x3f58;

// enum ovs_vport_attr
pub const OVS_VPORT_ATTR_PORT_NO: u16 = 1;
pub const OVS_VPORT_ATTR_TYPE: u16 = 2;
pub const OVS_VPORT_ATTR_NAME: u16 = 3;
pub const OVS_VPORT_ATTR_OPTIONS: u16 = 4;
pub const OVS_VPORT_ATTR_UPCALL_PID: u16 = 5;
pub const OVS_VPORT_ATTR_STATS: u16 = 6;
pub const OVS_VPORT_ATTR_PAD: u16 = 7;
pub const OVS_VPORT_ATTR_IFINDEX: u16 = 8;
pub const OVS_VPORT_ATTR_NETNSID: u16 = 9;

// OVS_VPORT_ATTR_OPTIONS for tunnels
pub const OVS_TUNNEL_ATTR_DST_PORT: u16 = 1;
pub const OVS_TUNNEL_ATTR_EXTENSION: u16 = 2;
pub const OVS_VXLAN_EXT_GBP: u16 = 1;

// enum ovs_flow_cmd
pub const OVS_FLOW_CMD_NEW: u8 = 1;
pub const OVS_FLOW_CMD_DEL: u8 = 2;
pub const OVS_FLOW_CMD_GET: u8 = 3;
pub const OVS_FLOW_CMD_SET: u8 = 4;

// enum ovs_flow_attr
pub const OVS_FLOW_ATTR_KEY: u16 = 1;
pub const OVS_FLOW_ATTR_ACTIONS: u16 = 2;
pub const OVS_FLOW_ATTR_STATS: u16 = 3;
pub const OVS_FLOW_ATTR_TCP_FLAGS: u16 = 4;
pub const OVS_FLOW_ATTR_USED: u16 = 5;
pub const OVS_FLOW_ATTR_CLEAR: u16 = 6;
pub const OVS_FLOW_ATTR_MASK: u16 = 7;
pub const OVS_FLOW_ATTR_PROBE: u16 = 8;
pub const OVS_FLOW_ATTR_UFID: u16 = 9;
pub const OVS_FLOW_ATTR_UFID_FLAGS: u16 = 10;
pub const OVS_FLOW_ATTR_PAD: u16 = 11;

// enum ovs_meter_cmd
pub const OVS_METER_CMD_FEATURES: u8 = 1;
pub const OVS_METER_CMD_SET: u8 = 2;
pub const OVS_METER_CMD_DEL: u8 = 3;
pub const OVS_METER_CMD_GET: u8 = 4;

// enum ovs_meter_attr
pub const OVS_METER_ATTR_ID: u16 = 1;
pub const OVS_METER_ATTR_KBPS: u16 = 2;
pub const OVS_METER_ATTR_STATS: u16 = 3;
pub const OVS_METER_ATTR_BANDS: u16 = 4;
pub const OVS_METER_ATTR_USED: u16 = 5;
pub const OVS_METER_ATTR_CLEAR: u16 = 6;
pub const OVS_METER_ATTR_MAX_METERS: u16 = 7;
pub const OVS_METER_ATTR_MAX_BANDS: u16 = 8;
pub const OVS_METER_ATTR_PAD: u16 = 9;

// enum ovs_band_attr
pub const OVS_BAND_ATTR_TYPE: u16 = 1;
pub const OVS_BAND_ATTR_RATE: u16 = 2;
pub const OVS_BAND_ATTR_BURST: u16 = 3;
pub const OVS_BAND_ATTR_STATS: u16 = 4;

// enum ovs_meter_band_type
pub const OVS_METER_BAND_TYPE_DROP: u32 = 1;

// OVS_FLOW_ATTR_UFID_FLAGS bits
pub const OVS_UFID_F_OMIT_KEY: u32 = 1 << 0;
pub const OVS_UFID_F_OMIT_MASK: u32 = 1 << 1;
pub const OVS_UFID_F_OMIT_ACTIONS: u32 = 1 << 2;

/// The local port's number.
pub const OVSP_LOCAL: u32 = 0;
