//! `ovs_vport` messages: create, delete, get, dump and set ports.

use crate::abi::*;
use crate::datapath::u32_array;
use crate::error::{Error, Result};
use crate::family::{c_string, Family};
use crate::socket::{Msg, MsgBuilder, Request};

/// A vport type (`enum ovs_vport_type`), with the type names OVS uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VportType {
    /// An existing network device (`system` in OVS).
    Netdev,
    /// A device the datapath creates (`internal`).
    Internal,
    /// `gre`.
    Gre,
    /// `vxlan`.
    Vxlan,
    /// `geneve`.
    Geneve,
    /// A type this crate does not know.
    Other(u32),
}

impl VportType {
    /// The kernel's number.
    pub fn to_u32(self) -> u32 {
        match self {
            VportType::Netdev => OVS_VPORT_TYPE_NETDEV,
            VportType::Internal => OVS_VPORT_TYPE_INTERNAL,
            VportType::Gre => OVS_VPORT_TYPE_GRE,
            VportType::Vxlan => OVS_VPORT_TYPE_VXLAN,
            VportType::Geneve => OVS_VPORT_TYPE_GENEVE,
            VportType::Other(n) => n,
        }
    }

    /// From the kernel's number.
    pub fn from_u32(n: u32) -> VportType {
        match n {
            OVS_VPORT_TYPE_NETDEV => VportType::Netdev,
            OVS_VPORT_TYPE_INTERNAL => VportType::Internal,
            OVS_VPORT_TYPE_GRE => VportType::Gre,
            OVS_VPORT_TYPE_VXLAN => VportType::Vxlan,
            OVS_VPORT_TYPE_GENEVE => VportType::Geneve,
            n => VportType::Other(n),
        }
    }

    /// The OVS type name (`system`, `internal`, `gre`, `vxlan`, `geneve`).
    pub fn name(self) -> &'static str {
        match self {
            VportType::Netdev => "system",
            VportType::Internal => "internal",
            VportType::Gre => "gre",
            VportType::Vxlan => "vxlan",
            VportType::Geneve => "geneve",
            VportType::Other(_) => "unknown",
        }
    }

    /// From an OVS type name (`""` and `system` are `Netdev`).
    pub fn from_name(s: &str) -> Option<VportType> {
        Some(match s {
            "" | "system" => VportType::Netdev,
            "internal" => VportType::Internal,
            "gre" => VportType::Gre,
            "vxlan" => VportType::Vxlan,
            "geneve" => VportType::Geneve,
            _ => return None,
        })
    }

    /// The UDP port a tunnel type listens on by default.
    pub fn default_dst_port(self) -> Option<u16> {
        match self {
            VportType::Vxlan => Some(4789),
            VportType::Geneve => Some(6081),
            _ => None,
        }
    }
}

/// `OVS_VPORT_ATTR_OPTIONS` of a tunnel vport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TunnelOptions {
    /// `OVS_TUNNEL_ATTR_DST_PORT`: the UDP port (vxlan, geneve).
    pub dst_port: Option<u16>,
    /// `OVS_VXLAN_EXT_GBP` in `OVS_TUNNEL_ATTR_EXTENSION` (vxlan).
    pub vxlan_gbp: bool,
}

impl TunnelOptions {
    /// The nested payload.
    pub fn emit(&self, w: &mut nl::Writer) {
        if let Some(p) = self.dst_port {
            w.put_u16(OVS_TUNNEL_ATTR_DST_PORT, p);
        }
        if self.vxlan_gbp {
            let n = w.begin_nested(OVS_TUNNEL_ATTR_EXTENSION);
            w.put_flag(OVS_VXLAN_EXT_GBP);
            w.end_nested(n);
        }
    }

    /// Parses the nested payload; unknown options are skipped.
    pub fn parse(bytes: &[u8]) -> TunnelOptions {
        let mut o = TunnelOptions::default();
        for a in nl::AttrIter::new(bytes).map_while(|a| a.ok()) {
            match a.ty {
                OVS_TUNNEL_ATTR_DST_PORT => o.dst_port = a.u16(),
                OVS_TUNNEL_ATTR_EXTENSION => {
                    o.vxlan_gbp = a
                        .nested()
                        .map_while(|x| x.ok())
                        .any(|x| x.ty == OVS_VXLAN_EXT_GBP)
                }
                _ => {}
            }
        }
        o
    }
}

/// `struct ovs_vport_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VportStats {
    /// Packets received.
    pub rx_packets: u64,
    /// Packets transmitted.
    pub tx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Bytes transmitted.
    pub tx_bytes: u64,
    /// Receive errors.
    pub rx_errors: u64,
    /// Transmit errors.
    pub tx_errors: u64,
    /// Receive drops.
    pub rx_dropped: u64,
    /// Transmit drops.
    pub tx_dropped: u64,
}

/// A vport request (`OVS_VPORT_CMD_*`). Unset fields are not sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VportRequest {
    /// The datapath (0 when looking a port up by name only).
    pub dp_ifindex: i32,
    /// `OVS_VPORT_ATTR_PORT_NO`.
    pub port_no: Option<u32>,
    /// `OVS_VPORT_ATTR_TYPE`.
    pub vport_type: Option<VportType>,
    /// `OVS_VPORT_ATTR_NAME`.
    pub name: Option<String>,
    /// `OVS_VPORT_ATTR_OPTIONS`.
    pub options: Option<TunnelOptions>,
    /// `OVS_VPORT_ATTR_UPCALL_PID` (required by `NEW`; `[0]`: no upcalls).
    pub upcall_pids: Option<Vec<u32>>,
    /// oxvsd only: the port's options as `key=value` strings in
    /// `OVS_VPORT_ATTR_OPTIONS` (when `options` is `None`).
    pub netdev_options: Vec<(String, String)>,
}

/// The `key=value` options of an oxvsd vport request.
pub fn parse_netdev_options(bytes: &[u8]) -> Vec<(String, String)> {
    nl::AttrIter::new(bytes)
        .map_while(|a| a.ok())
        .filter(|a| a.ty == OXVS_VPORT_OPTION_KV)
        .map(|a| {
            let s = c_string(a.payload);
            match s.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (s, String::new()),
            }
        })
        .collect()
}

/// The type number of an oxvsd port type name.
pub fn netdev_type_number(name: &str) -> Option<u32> {
    Some(match name {
        "" | "system" => OVS_VPORT_TYPE_NETDEV,
        "internal" => OVS_VPORT_TYPE_INTERNAL,
        "dummy" => OXVS_VPORT_TYPE_DUMMY,
        "pcap" => OXVS_VPORT_TYPE_PCAP,
        "tap" => OXVS_VPORT_TYPE_TAP,
        _ => return None,
    })
}

/// The oxvsd port type name of a type number.
pub fn netdev_type_name(n: u32) -> Option<&'static str> {
    Some(match n {
        OVS_VPORT_TYPE_NETDEV => "system",
        OVS_VPORT_TYPE_INTERNAL => "internal",
        OXVS_VPORT_TYPE_DUMMY => "dummy",
        OXVS_VPORT_TYPE_PCAP => "pcap",
        OXVS_VPORT_TYPE_TAP => "tap",
        _ => return None,
    })
}

impl VportRequest {
    /// Frames the request as command `cmd` with extra `flags`.
    ///
    /// # Errors
    /// `EMSGSIZE` if an attribute is too long.
    pub fn to_request(&self, family: &Family, cmd: u8, flags: u16) -> Result<Request> {
        let mut m = MsgBuilder::ovs(family.id, flags, cmd, OVS_VPORT_VERSION, self.dp_ifindex);
        let w = m.attrs();
        if let Some(p) = self.port_no {
            w.put_u32(OVS_VPORT_ATTR_PORT_NO, p);
        }
        if let Some(t) = self.vport_type {
            w.put_u32(OVS_VPORT_ATTR_TYPE, t.to_u32());
        }
        if let Some(n) = &self.name {
            w.put_string(OVS_VPORT_ATTR_NAME, n);
        }
        if let Some(o) = &self.options {
            let n = w.begin_nested(OVS_VPORT_ATTR_OPTIONS);
            o.emit(w);
            w.end_nested(n);
        } else if !self.netdev_options.is_empty() {
            let n = w.begin_nested(OVS_VPORT_ATTR_OPTIONS);
            for (k, v) in &self.netdev_options {
                w.put_string(OXVS_VPORT_OPTION_KV, &format!("{k}={v}"));
            }
            w.end_nested(n);
        }
        if let Some(pids) = &self.upcall_pids {
            let bytes: Vec<u8> = pids.iter().flat_map(|p| p.to_ne_bytes()).collect();
            w.put(OVS_VPORT_ATTR_UPCALL_PID, &bytes);
        }
        m.finish()
    }
}

/// A vport as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VportInfo {
    /// Its datapath.
    pub dp_ifindex: i32,
    /// Its number.
    pub port_no: u32,
    /// Its type.
    pub vport_type: VportType,
    /// Its name.
    pub name: String,
    /// Its tunnel options, if any.
    pub options: Option<TunnelOptions>,
    /// Its upcall port ids.
    pub upcall_pids: Vec<u32>,
    /// Its counters.
    pub stats: Option<VportStats>,
    /// The ifindex of its device.
    pub ifindex: Option<u32>,
    /// The network namespace id of its device, if elsewhere.
    pub netnsid: Option<i32>,
}

impl VportInfo {
    /// Parses a vport reply or notification. Unknown attributes are skipped.
    ///
    /// # Errors
    /// `EPROTO` if the message is malformed or lacks number, type or name.
    pub fn parse(msg: &Msg) -> Result<VportInfo> {
        let (dp_ifindex, attrs) = msg.ovs_body()?;
        let (mut port_no, mut ty, mut name) = (None, None, None);
        let mut v = VportInfo {
            dp_ifindex,
            port_no: 0,
            vport_type: VportType::Other(0),
            name: String::new(),
            options: None,
            upcall_pids: Vec::new(),
            stats: None,
            ifindex: None,
            netnsid: None,
        };
        for a in nl::AttrIter::new(attrs) {
            let a = a.map_err(|e| Error::proto(format!("vport reply: {e}")))?;
            match a.ty {
                OVS_VPORT_ATTR_PORT_NO => port_no = a.u32(),
                OVS_VPORT_ATTR_TYPE => ty = a.u32(),
                OVS_VPORT_ATTR_NAME => name = Some(c_string(a.payload)),
                OVS_VPORT_ATTR_OPTIONS => v.options = Some(TunnelOptions::parse(a.payload)),
                OVS_VPORT_ATTR_UPCALL_PID => v.upcall_pids = u32_array(a.payload),
                OVS_VPORT_ATTR_STATS if a.payload.len() >= 64 => {
                    let s: Vec<u64> = a.payload[..64]
                        .chunks_exact(8)
                        .map(|c| {
                            u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])
                        })
                        .collect();
                    v.stats = Some(VportStats {
                        rx_packets: s[0],
                        tx_packets: s[1],
                        rx_bytes: s[2],
                        tx_bytes: s[3],
                        rx_errors: s[4],
                        tx_errors: s[5],
                        rx_dropped: s[6],
                        tx_dropped: s[7],
                    });
                }
                OVS_VPORT_ATTR_IFINDEX => v.ifindex = a.u32(),
                OVS_VPORT_ATTR_NETNSID => v.netnsid = a.u32().map(|x| x as i32),
                _ => {}
            }
        }
        match (port_no, ty, name) {
            (Some(p), Some(t), Some(n)) => {
                v.port_no = p;
                v.vport_type = VportType::from_u32(t);
                v.name = n;
                Ok(v)
            }
            _ => Err(Error::proto("vport reply without number, type or name")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tunnel_options_round_trip() {
        let o = TunnelOptions {
            dst_port: Some(4789),
            vxlan_gbp: true,
        };
        let mut w = nl::Writer::new();
        o.emit(&mut w);
        assert_eq!(
            w.as_bytes(),
            &[6, 0, 1, 0, 0xb5, 0x12, 0, 0, 8, 0, 2, 0, 4, 0, 1, 0][..]
        );
        assert_eq!(TunnelOptions::parse(w.as_bytes()), o);
    }

    #[test]
    fn type_names() {
        for t in [
            VportType::Netdev,
            VportType::Internal,
            VportType::Gre,
            VportType::Vxlan,
            VportType::Geneve,
        ] {
            assert_eq!(VportType::from_name(t.name()), Some(t));
            assert_eq!(VportType::from_u32(t.to_u32()), t);
        }
        assert_eq!(VportType::from_name("dummy"), None);
    }
}
