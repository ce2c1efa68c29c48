//! Netlink messages the tests send and read: generic netlink requests,
//! `nlctrl` family lookups, and the fixture's test family.

#![allow(dead_code)]

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const GENL_ID_CTRL: u16 = 0x10;
pub const CTRL_CMD_NEWFAMILY: u8 = 1;
pub const CTRL_CMD_GETFAMILY: u8 = 3;
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;
pub const CTRL_ATTR_VERSION: u16 = 3;
pub const CTRL_ATTR_HDRSIZE: u16 = 4;
pub const CTRL_ATTR_MAXATTR: u16 = 5;
pub const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
pub const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
pub const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;

pub const NETLINK_ADD_MEMBERSHIP: i32 = 1;
pub const NETLINK_DROP_MEMBERSHIP: i32 = 2;
pub const NETLINK_PKTINFO: i32 = 3;
pub const NETLINK_BROADCAST_ERROR: i32 = 4;
pub const NETLINK_NO_ENOBUFS: i32 = 5;
pub const NETLINK_LIST_MEMBERSHIPS: i32 = 9;
pub const NETLINK_CAP_ACK: i32 = 10;
pub const NETLINK_EXT_ACK: i32 = 11;
pub const NETLINK_GET_STRICT_CHK: i32 = 12;

/// The fixture's test family (absent from the kernel and, unless it adds
/// one, from oxvsd: tests needing it skip without it).
pub const TEST_FAMILY: &str = "oxvs_test";
/// Test family commands.
pub const TEST_CMD_ECHO: u8 = 1;
pub const TEST_CMD_NOTIFY: u8 = 2;
pub const TEST_CMD_EVENT: u8 = 3;
pub const TEST_CMD_OVERRUN: u8 = 4;
/// Test family attributes.
pub const TEST_ATTR_COUNT: u16 = 1;
pub const TEST_ATTR_SIZE: u16 = 2;
pub const TEST_ATTR_GROUP: u16 = 3;
pub const TEST_ATTR_SEQNO: u16 = 4;
pub const TEST_ATTR_PAD: u16 = 5;
pub const TEST_ATTR_DATA: u16 = 6;

/// A message: header fields and payload (without padding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Msg {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    pub payload: Vec<u8>,
}

impl Msg {
    /// The generic netlink command, if there is a genlmsghdr.
    pub fn cmd(&self) -> Option<u8> {
        self.payload.first().copied()
    }

    /// The attributes after the genlmsghdr.
    pub fn attrs(&self) -> Vec<(u16, Vec<u8>)> {
        attrs(self.payload.get(4..).unwrap_or(&[]))
    }

    /// For `NLMSG_ERROR`: the positive errno (0 for an ack).
    pub fn errno(&self) -> Option<i32> {
        (self.ty == NLMSG_ERROR && self.payload.len() >= 4)
            .then(|| -i32::from_ne_bytes(self.payload[..4].try_into().unwrap()))
    }

    /// The message's bytes.
    pub fn emit(&self) -> Vec<u8> {
        message(self.ty, self.flags, self.seq, self.pid, &self.payload)
    }
}

/// Every well-formed message of a datagram, in order (stops at the first
/// malformed header).
pub fn messages(d: &[u8]) -> Vec<Msg> {
    let mut out = Vec::new();
    let mut rest = d;
    while rest.len() >= 16 {
        let len = u32::from_ne_bytes(rest[0..4].try_into().unwrap()) as usize;
        if len < 16 || len > rest.len() {
            break;
        }
        out.push(Msg {
            ty: u16::from_ne_bytes([rest[4], rest[5]]),
            flags: u16::from_ne_bytes([rest[6], rest[7]]),
            seq: u32::from_ne_bytes(rest[8..12].try_into().unwrap()),
            pid: u32::from_ne_bytes(rest[12..16].try_into().unwrap()),
            payload: rest[16..len].to_vec(),
        });
        rest = rest.get(nl::align(len)..).unwrap_or(&[]);
    }
    out
}

/// Attributes of a buffer (stops at the first malformed one).
pub fn attrs(b: &[u8]) -> Vec<(u16, Vec<u8>)> {
    nl::AttrIter::new(b)
        .map_while(Result::ok)
        .map(|a| (a.ty, a.payload.to_vec()))
        .collect()
}

/// One message, padded.
pub fn message(ty: u16, flags: u16, seq: u32, pid: u32, payload: &[u8]) -> Vec<u8> {
    let len = 16 + payload.len();
    let mut m = Vec::with_capacity(nl::align(len));
    m.extend_from_slice(&(len as u32).to_ne_bytes());
    m.extend_from_slice(&ty.to_ne_bytes());
    m.extend_from_slice(&flags.to_ne_bytes());
    m.extend_from_slice(&seq.to_ne_bytes());
    m.extend_from_slice(&pid.to_ne_bytes());
    m.extend_from_slice(payload);
    m.resize(nl::align(len), 0);
    m
}

/// A generic netlink message: genlmsghdr then attributes.
pub fn genl(
    ty: u16,
    flags: u16,
    seq: u32,
    pid: u32,
    cmd: u8,
    version: u8,
    attrs: &[u8],
) -> Vec<u8> {
    let mut p = vec![cmd, version, 0, 0];
    p.extend_from_slice(attrs);
    message(ty, flags, seq, pid, &p)
}

/// `CTRL_CMD_GETFAMILY` for `name`, as OVS sends it (version 1).
pub fn getfamily(name: &str, flags: u16, seq: u32) -> Vec<u8> {
    let mut w = nl::Writer::new();
    w.put_string(CTRL_ATTR_FAMILY_NAME, name);
    genl(
        GENL_ID_CTRL,
        NLM_F_REQUEST | flags,
        seq,
        0,
        CTRL_CMD_GETFAMILY,
        1,
        w.as_bytes(),
    )
}

/// A `CTRL_CMD_GETFAMILY` dump.
pub fn getfamily_dump(seq: u32) -> Vec<u8> {
    genl(
        GENL_ID_CTRL,
        NLM_F_REQUEST | NLM_F_DUMP | NLM_F_ACK,
        seq,
        0,
        CTRL_CMD_GETFAMILY,
        1,
        &[],
    )
}

/// What a `CTRL_CMD_NEWFAMILY` says.
#[derive(Clone, Debug, Default)]
pub struct FamilyInfo {
    pub id: u16,
    pub name: String,
    pub groups: Vec<(String, u32)>,
}

pub fn family_info(m: &Msg) -> Option<FamilyInfo> {
    if m.ty != GENL_ID_CTRL || m.cmd() != Some(CTRL_CMD_NEWFAMILY) {
        return None;
    }
    let mut f = FamilyInfo::default();
    for (ty, v) in m.attrs() {
        match ty {
            CTRL_ATTR_FAMILY_ID if v.len() == 2 => f.id = u16::from_ne_bytes([v[0], v[1]]),
            CTRL_ATTR_FAMILY_NAME => {
                f.name = String::from_utf8_lossy(v.split(|&b| b == 0).next().unwrap_or(&[])).into()
            }
            CTRL_ATTR_MCAST_GROUPS => {
                for (_, g) in attrs(&v) {
                    let mut name = String::new();
                    let mut id = 0;
                    for (t, x) in attrs(&g) {
                        match t {
                            CTRL_ATTR_MCAST_GRP_NAME => {
                                name = String::from_utf8_lossy(
                                    x.split(|&b| b == 0).next().unwrap_or(&[]),
                                )
                                .into()
                            }
                            CTRL_ATTR_MCAST_GRP_ID if x.len() == 4 => {
                                id = u32::from_ne_bytes(x[..4].try_into().unwrap())
                            }
                            _ => {}
                        }
                    }
                    f.groups.push((name, id));
                }
            }
            _ => {}
        }
    }
    Some(f)
}

/// A test family request.
pub fn test_request(family: u16, flags: u16, seq: u32, cmd: u8, attrs: &[u8]) -> Vec<u8> {
    genl(family, NLM_F_REQUEST | flags, seq, 0, cmd, 1, attrs)
}

/// `ECHO` of `data`.
pub fn echo(family: u16, seq: u32, data: &[u8]) -> Vec<u8> {
    let mut w = nl::Writer::new();
    w.put(TEST_ATTR_DATA, data);
    test_request(family, 0, seq, TEST_CMD_ECHO, w.as_bytes())
}

/// `NOTIFY`: `count` events of `size` pad bytes to `group`.
pub fn notify(family: u16, seq: u32, count: u32, size: u32, group: u32, flags: u16) -> Vec<u8> {
    let mut w = nl::Writer::new();
    w.put_u32(TEST_ATTR_COUNT, count);
    w.put_u32(TEST_ATTR_SIZE, size);
    w.put_u32(TEST_ATTR_GROUP, group);
    test_request(family, flags, seq, TEST_CMD_NOTIFY, w.as_bytes())
}

/// A recognisable data pattern of `n` bytes.
pub fn pattern(n: usize, salt: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt))
        .collect()
}

/// The `SEQNO` of a test event.
pub fn event_seqno(m: &Msg) -> Option<u32> {
    (m.cmd() == Some(TEST_CMD_EVENT)).then_some(())?;
    m.attrs()
        .into_iter()
        .find(|(t, v)| *t == TEST_ATTR_SEQNO && v.len() == 4)
        .map(|(_, v)| u32::from_ne_bytes(v[..4].try_into().unwrap()))
}
