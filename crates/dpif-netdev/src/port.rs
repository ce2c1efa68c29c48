//! Datapath ports: a number, a name, a type and the netdev doing the I/O.

use std::sync::Arc;

use netdev::Netdev;
use odp::key::PortNo;

/// One port of a userspace datapath.
#[derive(Clone)]
pub struct Port {
    /// The port's number.
    pub no: PortNo,
    /// The port's name (its netdev's name).
    pub name: String,
    /// The type reported to clients (`internal`, `dummy`, `pcap`...).
    pub port_type: String,
    /// The device.
    pub netdev: Arc<dyn Netdev>,
}

impl std::fmt::Debug for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Port")
            .field("no", &self.no)
            .field("name", &self.name)
            .field("type", &self.port_type)
            .finish()
    }
}

/// Maps a port type as clients write it to the netdev kind that implements
/// it. `None` for types this datapath does not know.
pub fn netdev_kind(port_type: &str) -> Option<&'static str> {
    match port_type {
        // The local port, and internal ports: in-memory devices for now.
        "internal" => Some("dummy"),
        "dummy" => Some("dummy"),
        "pcap" => Some("pcap"),
        _ => None,
    }
}
