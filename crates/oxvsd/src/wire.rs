//! Framing of the daemon's side of the protocol: requests in, replies,
//! acks, dump ends, greetings and the generic netlink families out.

use dpif_netlink::abi::*;

/// A request as received: netlink and generic headers, then the body
/// (for the openvswitch families, `ovs_header` and attributes).
#[derive(Debug, Clone)]
pub struct Frame {
    /// `nlmsg_type`.
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `genlmsghdr.cmd` (0 if the message had no generic header).
    pub cmd: u8,
    /// The bytes after the generic header.
    pub body: Vec<u8>,
    /// The request's `nlmsghdr`, echoed in errors.
    pub hdr: [u8; NLMSG_HDRLEN],
}

/// Largest request accepted (a 64 KiB packet with key and actions fits).
pub const MAX_MSG: usize = 256 * 1024;

/// One of the families the daemon serves.
pub struct FamilyDef {
    /// Its name.
    pub name: &'static str,
    /// Its fixed id.
    pub id: u16,
    /// Its version.
    pub version: u32,
    /// Its highest attribute.
    pub maxattr: u32,
    /// Its multicast group, if any: name and id.
    pub group: Option<(&'static str, u32)>,
}

/// `ovs_datapath`'s id.
pub const FAM_DP: u16 = 0x21;
/// `ovs_vport`'s id.
pub const FAM_VPORT: u16 = 0x22;
/// `ovs_flow`'s id.
pub const FAM_FLOW: u16 = 0x23;
/// `ovs_packet`'s id.
pub const FAM_PACKET: u16 = 0x24;
/// The `ovs_vport` multicast group (port notifications).
pub const GROUP_VPORT: u32 = 2;

/// The families, as `CTRL_CMD_GETFAMILY` reports them.
pub const FAMILIES: [FamilyDef; 4] = [
    FamilyDef {
        name: OVS_DATAPATH_FAMILY,
        id: FAM_DP,
        version: OVS_DATAPATH_VERSION as u32,
        maxattr: 9,
        group: Some((OVS_DATAPATH_MCGROUP, 1)),
    },
    FamilyDef {
        name: OVS_VPORT_FAMILY,
        id: FAM_VPORT,
        version: OVS_VPORT_VERSION as u32,
        maxattr: 9,
        group: Some((OVS_VPORT_MCGROUP, GROUP_VPORT)),
    },
    FamilyDef {
        name: OVS_FLOW_FAMILY,
        id: FAM_FLOW,
        version: OVS_FLOW_VERSION as u32,
        maxattr: 11,
        group: Some((OVS_FLOW_MCGROUP, 3)),
    },
    FamilyDef {
        name: OVS_PACKET_FAMILY,
        id: FAM_PACKET,
        version: OVS_PACKET_VERSION as u32,
        maxattr: 11,
        group: None,
    },
];

fn rd_u16(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The length announced by a header.
pub fn header_len(hdr: &[u8; NLMSG_HDRLEN]) -> usize {
    rd_u32(hdr, 0) as usize
}

/// Splits a whole message (header included) into a [`Frame`]. A message
/// too short for the generic header gets `cmd` 0 and an empty body.
pub fn parse(msg: &[u8]) -> Frame {
    let mut hdr = [0u8; NLMSG_HDRLEN];
    hdr.copy_from_slice(&msg[..NLMSG_HDRLEN]);
    let (cmd, body) = if msg.len() >= NLMSG_HDRLEN + GENL_HDRLEN {
        (
            msg[NLMSG_HDRLEN],
            msg[NLMSG_HDRLEN + GENL_HDRLEN..].to_vec(),
        )
    } else {
        (0, Vec::new())
    };
    Frame {
        ty: rd_u16(msg, 4),
        flags: rd_u16(msg, 6),
        seq: rd_u32(msg, 8),
        cmd,
        body,
        hdr,
    }
}

fn header(out: &mut Vec<u8>, ty: u16, flags: u16, seq: u32, pid: u32) {
    out.extend_from_slice(&0u32.to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(&flags.to_ne_bytes());
    out.extend_from_slice(&seq.to_ne_bytes());
    out.extend_from_slice(&pid.to_ne_bytes());
}

fn finish(mut out: Vec<u8>) -> Vec<u8> {
    let len = out.len() as u32;
    out[0..4].copy_from_slice(&len.to_ne_bytes());
    out
}

/// A generic netlink message: headers, optional `ovs_header`, attributes.
#[allow(clippy::too_many_arguments)]
pub fn message(
    ty: u16,
    flags: u16,
    seq: u32,
    pid: u32,
    cmd: u8,
    version: u8,
    dp_ifindex: Option<i32>,
    attrs: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(NLMSG_HDRLEN + 8 + attrs.len());
    header(&mut out, ty, flags, seq, pid);
    out.extend_from_slice(&[cmd, version, 0, 0]);
    if let Some(i) = dp_ifindex {
        out.extend_from_slice(&i.to_ne_bytes());
    }
    out.extend_from_slice(attrs);
    finish(out)
}

/// `NLMSG_ERROR` for request `req` with positive errno `errno` (0: an ack).
/// The request is not copied back (`NLM_F_CAPPED`).
pub fn error(req: &Frame, pid: u32, errno: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(NLMSG_HDRLEN * 2 + 4);
    header(&mut out, NLMSG_ERROR, NLM_F_CAPPED, req.seq, pid);
    out.extend_from_slice(&(-errno).to_ne_bytes());
    out.extend_from_slice(&req.hdr);
    finish(out)
}

/// `NLMSG_ERROR` for a message whose header could not be trusted.
pub fn error_raw(hdr: &[u8; NLMSG_HDRLEN], pid: u32, errno: i32) -> Vec<u8> {
    let mut out = Vec::with_capacity(NLMSG_HDRLEN * 2 + 4);
    header(&mut out, NLMSG_ERROR, NLM_F_CAPPED, rd_u32(hdr, 8), pid);
    out.extend_from_slice(&(-errno).to_ne_bytes());
    out.extend_from_slice(hdr);
    finish(out)
}

/// `NLMSG_DONE` ending dump `seq`.
pub fn done(seq: u32, pid: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(NLMSG_HDRLEN + 4);
    header(&mut out, NLMSG_DONE, NLM_F_MULTI, seq, pid);
    out.extend_from_slice(&0i32.to_ne_bytes());
    finish(out)
}

/// The greeting: `NLMSG_NOOP` carrying the connection's port id.
pub fn greeting(pid: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(NLMSG_HDRLEN);
    header(&mut out, NLMSG_NOOP, 0, 0, pid);
    finish(out)
}

/// The refusal sent instead of a greeting: `NLMSG_ERROR` with `EPERM`.
pub fn refusal() -> Vec<u8> {
    let mut out = Vec::with_capacity(NLMSG_HDRLEN * 2 + 4);
    header(&mut out, NLMSG_ERROR, NLM_F_CAPPED, 0, 0);
    out.extend_from_slice(&(-1i32).to_ne_bytes());
    out.extend_from_slice(&[0u8; NLMSG_HDRLEN]);
    finish(out)
}

/// The `CTRL_CMD_NEWFAMILY` attributes of a family.
pub fn family_attrs(f: &FamilyDef) -> Vec<u8> {
    let mut w = nl::Writer::new();
    w.put_u16(CTRL_ATTR_FAMILY_ID, f.id);
    w.put_string(CTRL_ATTR_FAMILY_NAME, f.name);
    w.put_u32(CTRL_ATTR_VERSION, f.version);
    w.put_u32(CTRL_ATTR_HDRSIZE, OVS_HEADER_LEN as u32);
    w.put_u32(CTRL_ATTR_MAXATTR, f.maxattr);
    if let Some((name, id)) = f.group {
        let groups = w.begin_nested(CTRL_ATTR_MCAST_GROUPS);
        let g = w.begin_nested(1);
        w.put_u32(CTRL_ATTR_MCAST_GRP_ID, id);
        w.put_string(CTRL_ATTR_MCAST_GRP_NAME, name);
        w.end_nested(g);
        w.end_nested(groups);
    }
    w.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_parse_with_the_client_parser() {
        for f in &FAMILIES {
            let p = dpif_netlink::Family::parse(&family_attrs(f)).unwrap();
            assert_eq!((p.name.as_str(), p.id), (f.name, f.id));
            assert_eq!(p.group(f.name), f.group.map(|g| g.1));
        }
    }

    #[test]
    fn error_carries_negative_errno_and_header() {
        let req = parse(&message(FAM_DP, NLM_F_REQUEST, 7, 0, 3, 2, Some(0), &[]));
        let e = error(&req, 9, 19);
        assert_eq!(header_len(e[..16].try_into().unwrap()), e.len());
        assert_eq!(rd_u16(&e, 4), NLMSG_ERROR);
        assert_eq!(rd_u32(&e, 8), 7);
        assert_eq!(rd_u32(&e, 16) as i32, -19);
        assert_eq!(&e[20..36], &req.hdr);
    }
}
