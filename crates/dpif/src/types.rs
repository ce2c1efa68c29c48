//! Values that cross the dpif: ports, statistics, flows, operations, upcalls.

use std::time::Duration;

use odp::action::Action;
use odp::key::{KeyAttr, PortNo, TunnelAttr, Ufid};

/// Datapath-wide statistics (`struct dpif_dp_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DpStats {
    /// Packets that matched a flow.
    pub n_hit: u64,
    /// Packets that matched no flow (each became a miss upcall, or was lost).
    pub n_missed: u64,
    /// Packets that could not be queued to userspace (queue full, nobody listening).
    pub n_lost: u64,
    /// Flows in the table.
    pub n_flows: u64,
    /// Mask (subtable) visits made by lookups; with `n_hit + n_missed`, the
    /// average number of masks a lookup visits.
    pub n_mask_hit: u64,
    /// Distinct masks in the table.
    pub n_masks: u32,
    /// Packets that hit the exact-match cache, where the provider has one;
    /// `u64::MAX` when the provider does not count them (as OVS's dpif
    /// reports an unavailable statistic).
    pub n_cache_hit: u64,
}

/// A datapath port as the dpif reports it (`struct dpif_port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpifPort {
    /// The port's name (a network device name for most types).
    pub name: String,
    /// The port's type: `internal`, `system`, `tap`, `dummy`, `vxlan`, ...
    pub port_type: String,
    /// The port's number within the datapath.
    pub port_no: PortNo,
}

/// What to add as a port: a device name, a type and type-specific options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortSpec {
    /// Device name.
    pub name: String,
    /// Port type (`system` when empty).
    pub port_type: String,
    /// Type-specific options (`key=value`), in the order given.
    pub options: Vec<(String, String)>,
}

/// Per-port counters, as `ovs-dpctl show -s` prints them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PortStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Received packets dropped.
    pub rx_dropped: u64,
    /// Packets transmitted.
    pub tx_packets: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
    /// Transmit errors.
    pub tx_errors: u64,
    /// Packets dropped on transmit.
    pub tx_dropped: u64,
}

/// Per-flow statistics (`struct dpif_flow_stats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowStats {
    /// Packets that matched the flow.
    pub n_packets: u64,
    /// Bytes of those packets.
    pub n_bytes: u64,
    /// When a packet last matched, in milliseconds of the monotonic clock
    /// (0 = never).
    pub used_ms: u64,
    /// TCP flags (12 bits) OR'd over the matched packets.
    pub tcp_flags: u16,
}

/// A flow as the dpif reports it (`struct dpif_flow`).
///
/// In a terse dump only `ufid` and `stats` are filled; `key`, `mask` and
/// `actions` are empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DpifFlow {
    /// The flow key.
    pub key: Vec<KeyAttr>,
    /// The flow mask (empty for an exact-match flow written without mask).
    pub mask: Vec<KeyAttr>,
    /// The actions.
    pub actions: Vec<Action>,
    /// The flow's unique id.
    pub ufid: Ufid,
    /// Whether the datapath holds `ufid` for the flow. A kernel flow
    /// installed without a UFID (as `ovs-dpctl add-flow` makes them) has
    /// none: `ufid` is then the UFID of its key
    /// ([`crate::ufid::from_key`]), as OVS's `dpif_flow.ufid_present` says,
    /// and the flow is found by its key, not by that UFID.
    pub ufid_present: bool,
    /// Statistics.
    pub stats: FlowStats,
}

/// Flags of a flow put (`enum dpif_flow_put_flags`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PutFlags {
    /// Create the flow if it does not exist.
    pub create: bool,
    /// Modify the flow if it exists.
    pub modify: bool,
    /// Zero the statistics of a modified flow.
    pub zero_stats: bool,
    /// This put is a feature probe: do not log its failure.
    pub probe: bool,
}

impl PutFlags {
    /// Create only: fail with `EEXIST` if the flow exists.
    pub const CREATE: PutFlags = PutFlags {
        create: true,
        modify: false,
        zero_stats: false,
        probe: false,
    };
    /// Modify only: fail with `ENOENT` if the flow does not exist.
    pub const MODIFY: PutFlags = PutFlags {
        create: false,
        modify: true,
        zero_stats: false,
        probe: false,
    };
    /// Create or modify.
    pub const CREATE_OR_MODIFY: PutFlags = PutFlags {
        create: true,
        modify: true,
        zero_stats: false,
        probe: false,
    };
}

/// Install or modify a flow (`struct dpif_flow_put`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowPut {
    /// Create / modify / zero-stats flags.
    pub flags: PutFlags,
    /// The flow key. `in_port` must be present and exact.
    pub key: Vec<KeyAttr>,
    /// The mask; `None` means every field present in `key` is exact.
    pub mask: Option<Vec<KeyAttr>>,
    /// The flow's id; when `None` the provider derives one from the key.
    pub ufid: Option<Ufid>,
    /// The actions (an empty list drops).
    pub actions: Vec<Action>,
    /// Whether to return the flow's statistics from before the put.
    pub want_stats: bool,
}

/// Delete a flow (`struct dpif_flow_del`). Identified by `ufid` if given,
/// otherwise by `key`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowDel {
    /// The flow key, when deleting by key.
    pub key: Vec<KeyAttr>,
    /// The flow id, when deleting by id.
    pub ufid: Option<Ufid>,
    /// Whether to return the flow's final statistics.
    pub want_stats: bool,
}

/// Read one flow (`struct dpif_flow_get`). Identified by `ufid` if given,
/// otherwise by `key`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FlowGet {
    /// The flow key, when looking up by key.
    pub key: Vec<KeyAttr>,
    /// The flow id, when looking up by id.
    pub ufid: Option<Ufid>,
}

/// Run actions on a packet (`struct dpif_execute`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Execute {
    /// The packet, starting at its Ethernet header.
    pub packet: Vec<u8>,
    /// Metadata of the packet as key attributes (at least `in_port`; others:
    /// priority, skb_mark, recirc_id, dp_hash, tunnel, ct_*). Header fields
    /// present here are ignored: the datapath extracts them from `packet`.
    pub metadata: Vec<KeyAttr>,
    /// The actions.
    pub actions: Vec<Action>,
    /// Maximum received unit for fragmentation on output (0 = none).
    pub mtu: u16,
    /// This execute is a feature probe: do not log its failure.
    pub probe: bool,
}

/// One operation of a batch (`struct dpif_op`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Install or modify a flow.
    Put(FlowPut),
    /// Delete a flow.
    Del(FlowDel),
    /// Read a flow.
    Get(FlowGet),
    /// Run actions on a packet.
    Execute(Execute),
}

/// The result of one operation of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpReply {
    /// A put: the flow's statistics before the put, if asked for and it existed.
    Put(Option<FlowStats>),
    /// A delete: the flow's final statistics, if asked for.
    Del(Option<FlowStats>),
    /// A get: the flow.
    Get(Box<DpifFlow>),
    /// An execute.
    Execute,
}

/// Which upcalls a datapath sends (`DPIF_UC_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListenMask {
    /// Packets that matched no flow.
    pub miss: bool,
    /// Packets sent by a `userspace` action.
    pub action: bool,
    /// Packets picked by datapath-wide sampling.
    pub sample: bool,
}

impl ListenMask {
    /// Listen to every kind of upcall.
    pub const ALL: ListenMask = ListenMask {
        miss: true,
        action: true,
        sample: true,
    };
    /// Listen to nothing (upcalls are counted as lost).
    pub const NONE: ListenMask = ListenMask {
        miss: false,
        action: false,
        sample: false,
    };
}

/// Why a packet went to userspace (`enum dpif_upcall_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpcallKind {
    /// No flow matched.
    Miss,
    /// A `userspace` action.
    Action,
    /// Datapath-wide sampling.
    Sample,
}

/// A packet sent to userspace (`struct dpif_upcall`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upcall {
    /// Why.
    pub kind: UpcallKind,
    /// The packet as it was when the upcall was made.
    pub packet: Vec<u8>,
    /// The flow key extracted from the packet (on arrival, before actions).
    pub key: Vec<KeyAttr>,
    /// The UFID the datapath would give a flow with this exact key.
    pub ufid: Ufid,
    /// The `userspace` action's userdata, for action upcalls.
    pub userdata: Option<Vec<u8>>,
    /// The `userspace` action's netlink port id, for action upcalls (0 for
    /// misses and samples, which go where their in-port's upcall ids say).
    pub pid: u32,
    /// Egress tunnel key, for action upcalls that asked for it.
    pub out_tun_key: Option<Vec<TunnelAttr>>,
    /// The actions being executed, for action upcalls that asked for them.
    pub actions: Option<Vec<Action>>,
    /// Maximum received fragment size, when the packet was reassembled.
    pub mru: Option<u16>,
    /// Packet hash, where the datapath computed one.
    pub hash: Option<u64>,
}

/// How long [`crate::Provider::recv_wait`] may block.
pub type Timeout = Option<Duration>;
