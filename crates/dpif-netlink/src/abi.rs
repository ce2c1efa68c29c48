//! Numbers of the netlink, generic netlink and openvswitch genl ABIs, spelled
//! as in the uapi headers (`linux/netlink.h`, `linux/genetlink.h`,
//! `linux/openvswitch.h`). Key and action attribute numbers live in
//! `odp::abi`; this module has the message-level ones.

#![allow(missing_docs)]

// linux/netlink.h: message types.
pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;

// linux/netlink.h: nlmsg_flags.
pub const NLM_F_REQUEST: u16 = 0x01;
pub const NLM_F_MULTI: u16 = 0x02;
pub const NLM_F_ACK: u16 = 0x04;
pub const NLM_F_ECHO: u16 = 0x08;
pub const NLM_F_DUMP_INTR: u16 = 0x10;
pub const NLM_F_ROOT: u16 = 0x100;
pub const NLM_F_MATCH: u16 = 0x200;
pub const NLM_F_DUMP: u16 = NLM_F_ROOT | NLM_F_MATCH;
pub const NLM_F_EXCL: u16 = 0x200;
pub const NLM_F_CREATE: u16 = 0x400;
/// On an NLMSG_ERROR: the original request was not copied back.
pub const NLM_F_CAPPED: u16 = 0x100;
/// On an NLMSG_ERROR: extended-ack TLVs follow.
pub const NLM_F_ACK_TLVS: u16 = 0x200;

// enum nlmsgerr_attrs
pub const NLMSGERR_ATTR_MSG: u16 = 1;

pub const NLMSG_HDRLEN: usize = 16;
pub const GENL_HDRLEN: usize = 4;
/// `struct ovs_header`: one `int dp_ifindex`.
pub const OVS_HEADER_LEN: usize = 4;

// linux/genetlink.h: the controller family.
pub const GENL_ID_CTRL: u16 = 0x10;
pub const CTRL_CMD_GETFAMILY: u8 = 3;
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;
pub const CTRL_ATTR_VERSION: u16 = 3;
pub const CTRL_ATTR_HDRSIZE: u16 = 4;
pub const CTRL_ATTR_MAXATTR: u16 = 5;
pub const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
pub const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
pub const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;

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

// OVS_FLOW_ATTR_UFID_FLAGS bits
pub const OVS_UFID_F_OMIT_KEY: u32 = 1 << 0;
pub const OVS_UFID_F_OMIT_MASK: u32 = 1 << 1;
pub const OVS_UFID_F_OMIT_ACTIONS: u32 = 1 << 2;

/// The local port's number.
pub const OVSP_LOCAL: u32 = 0;
