//! The `ovs_ct_limit` generic netlink family (`linux/openvswitch.h`,
//! net/openvswitch/conntrack.c): conntrack zone limits, and the codec of
//! its one attribute, used by the `system` provider and by oxvsd.
//!
//! Requests and replies are `genlmsghdr`, `struct ovs_header`, then
//! `OVS_CT_LIMIT_ATTR_ZONE_LIMIT`: an array of `struct ovs_zone_limit`
//! (`int zone_id; u32 limit; u32 count;`, host order, 12 bytes each,
//! packed). Zone id [`OVS_ZONE_LIMIT_DEFAULT_ZONE`] (-1) is the default
//! limit. `SET` and `DEL` answer with an empty message; `GET` with the
//! default first, then the zones asked for (or every zone with a limit).
//!
//! The kernel keeps one set of limits per network namespace and ignores
//! `ovs_header.dp_ifindex` (OVS sends 0). oxvsd reads it: 0 is every
//! datapath it hosts, otherwise that datapath's tracker.

use dpif::ct::CtZoneLimit;

/// The family name.
pub const OVS_CT_LIMIT_FAMILY: &str = "ovs_ct_limit";
/// Its multicast group.
pub const OVS_CT_LIMIT_MCGROUP: &str = "ovs_ct_limit";
/// Its version.
pub const OVS_CT_LIMIT_VERSION: u8 = 1;
/// `OVS_CT_LIMIT_CMD_SET`.
pub const OVS_CT_LIMIT_CMD_SET: u8 = 1;
/// `OVS_CT_LIMIT_CMD_DEL`.
pub const OVS_CT_LIMIT_CMD_DEL: u8 = 2;
/// `OVS_CT_LIMIT_CMD_GET`.
pub const OVS_CT_LIMIT_CMD_GET: u8 = 3;
/// `OVS_CT_LIMIT_ATTR_ZONE_LIMIT`.
pub const OVS_CT_LIMIT_ATTR_ZONE_LIMIT: u16 = 1;
/// The zone id of the default limit.
pub const OVS_ZONE_LIMIT_DEFAULT_ZONE: i32 = -1;
/// Bytes of `struct ovs_zone_limit`.
pub const ZONE_LIMIT_LEN: usize = 12;

/// One `struct ovs_zone_limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneLimit {
    /// Zone id ([`OVS_ZONE_LIMIT_DEFAULT_ZONE`] for the default).
    pub zone_id: i32,
    /// Limit.
    pub limit: u32,
    /// Count.
    pub count: u32,
}

impl ZoneLimit {
    /// The default limit's entry.
    pub fn default_limit(limit: u32) -> ZoneLimit {
        ZoneLimit {
            zone_id: OVS_ZONE_LIMIT_DEFAULT_ZONE,
            limit,
            count: 0,
        }
    }

    /// A zone's entry.
    pub fn zone(z: &CtZoneLimit) -> ZoneLimit {
        ZoneLimit {
            zone_id: i32::from(z.zone),
            limit: z.limit,
            count: z.count,
        }
    }

    /// The zone, for an id in range (`check_zone_id`).
    pub fn zone_number(&self) -> Option<u16> {
        u16::try_from(self.zone_id).ok()
    }
}

/// The attribute's payload for `limits`.
pub fn encode(limits: &[ZoneLimit]) -> Vec<u8> {
    let mut b = Vec::with_capacity(limits.len() * ZONE_LIMIT_LEN);
    for l in limits {
        b.extend_from_slice(&l.zone_id.to_ne_bytes());
        b.extend_from_slice(&l.limit.to_ne_bytes());
        b.extend_from_slice(&l.count.to_ne_bytes());
    }
    b
}

/// The structures of an attribute's payload, as the kernel walks them:
/// whole structures only, trailing bytes ignored.
pub fn decode(b: &[u8]) -> Vec<ZoneLimit> {
    b.chunks_exact(ZONE_LIMIT_LEN)
        .map(|c| ZoneLimit {
            zone_id: i32::from_ne_bytes([c[0], c[1], c[2], c[3]]),
            limit: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
            count: u32::from_ne_bytes([c[8], c[9], c[10], c[11]]),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_the_kernels() {
        // struct ovs_zone_limit { int zone_id; __u32 limit; __u32 count; }
        let b = encode(&[
            ZoneLimit::default_limit(10),
            ZoneLimit {
                zone_id: 3,
                limit: 5,
                count: 2,
            },
        ]);
        let mut want = Vec::new();
        for v in [-1i32 as u32, 10, 0, 3, 5, 2] {
            want.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(b, want);
        let mut more = b.clone();
        more.extend_from_slice(&[1, 2, 3]); // a partial structure: ignored
        let d = decode(&more);
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].zone_number(), None);
        assert_eq!(d[1].zone_number(), Some(3));
        assert_eq!(
            ZoneLimit {
                zone_id: 65536,
                limit: 0,
                count: 0
            }
            .zone_number(),
            None
        );
    }
}
