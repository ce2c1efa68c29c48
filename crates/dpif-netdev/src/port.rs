//! Datapath ports: a number, a name, a type and the netdev doing the I/O.

use std::sync::Arc;

use netdev::Netdev;
use odp::action::Action;
use odp::key::{KeyAttr, PortNo};

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
///
/// - `system`: an existing interface through `AF_PACKET`
///   ([`netdev::afpacket`]).
/// - `tap`: a tap device named like the port ([`netdev::tap`]).
/// - `internal` (and the local port, named after the datapath): a tap
///   device too, see [`open_netdev`] for when it falls back to an
///   in-memory device.
/// - `dummy`, `pcap`: in-memory and capture-file devices.
pub fn netdev_kind(port_type: &str) -> Option<&'static str> {
    match port_type {
        "system" => Some("system"),
        "tap" => Some("tap"),
        "internal" => Some("internal"),
        "dummy" => Some("dummy"),
        "pcap" => Some("pcap"),
        _ => None,
    }
}

/// The environment variable that chooses how `internal` ports are made:
/// `tap` (a real tap device; the default) or `dummy` (an in-memory device,
/// e.g. for tests that must not create host interfaces).
pub const INTERNAL_ENV: &str = "OXVS_INTERNAL_PORTS";

/// Opens the netdev of kind `kind` (from [`netdev_kind`]) for port `name`.
///
/// An `internal` port is a tap device named like the port. When no tap can
/// be made for it (no privileges, no tun driver, a name that cannot be an
/// interface name, a device of that name already taken) it falls back to
/// an in-memory device, with a warning, so that a datapath can always be
/// created; [`INTERNAL_ENV`]`=dummy` makes that choice up front.
pub fn open_netdev(
    kind: &str,
    name: &str,
    options: &[(String, String)],
) -> std::io::Result<Arc<dyn Netdev>> {
    if kind != "internal" {
        return netdev::open(kind, name, options);
    }
    if std::env::var(INTERNAL_ENV).is_ok_and(|v| v == "dummy") {
        return netdev::open("dummy", name, options);
    }
    match netdev::open("internal", name, options) {
        Ok(dev) => Ok(dev),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput && !options.is_empty() => Err(e),
        Err(e) => {
            log::warn!(
                "{name}: no tap device for this internal port ({e}); using an in-memory device"
            );
            netdev::open("dummy", name, options)
        }
    }
}

/// Whether `actions` leave alone what an offloaded packet's vnet header
/// describes (see [`netdev::offload`]): the bytes a pending checksum
/// covers, and the headers a large segment repeats. Outputs, VLAN tags
/// (the offsets follow the tag), Ethernet addresses and metadata do;
/// anything else (IP or transport rewrites, MPLS, userspace and sampled
/// copies, conntrack...) makes the datapath finish the offloads in
/// software before running the actions.
pub fn keeps_offloads(actions: &[Action]) -> bool {
    let safe_set = |k: &KeyAttr| {
        matches!(
            k,
            KeyAttr::Ethernet(_) | KeyAttr::Priority(_) | KeyAttr::SkbMark(_)
        )
    };
    actions.iter().all(|a| match a {
        Action::Output(_)
        | Action::PushVlan { .. }
        | Action::PopVlan
        | Action::Recirc(_)
        | Action::Hash { .. } => true,
        Action::Set(k) => safe_set(k),
        Action::SetMasked { key, .. } => safe_set(key),
        _ => false,
    })
}
