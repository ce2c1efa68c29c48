//! Generic netlink: the `genlmsghdr` and the controller family (`nlctrl`)
//! that maps family names to ids and multicast groups.

use crate::{AttrIter, Writer};

/// Bytes of `struct genlmsghdr` (`cmd`, `version`, reserved).
pub const GENL_HDRLEN: usize = 4;
/// The controller family's fixed id.
pub const GENL_ID_CTRL: u16 = 0x10;
/// The controller's version.
pub const CTRL_VERSION: u8 = 2;

/// `CTRL_CMD_NEWFAMILY`: a family (reply, notification).
pub const CTRL_CMD_NEWFAMILY: u8 = 1;
/// `CTRL_CMD_GETFAMILY`: look a family up (or dump them all).
pub const CTRL_CMD_GETFAMILY: u8 = 3;

/// `CTRL_ATTR_FAMILY_ID` (`u16`).
pub const CTRL_ATTR_FAMILY_ID: u16 = 1;
/// `CTRL_ATTR_FAMILY_NAME` (string).
pub const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// `CTRL_ATTR_VERSION` (`u32`).
pub const CTRL_ATTR_VERSION: u16 = 3;
/// `CTRL_ATTR_HDRSIZE` (`u32`).
pub const CTRL_ATTR_HDRSIZE: u16 = 4;
/// `CTRL_ATTR_MAXATTR` (`u32`).
pub const CTRL_ATTR_MAXATTR: u16 = 5;
/// `CTRL_ATTR_OPS` (nested).
pub const CTRL_ATTR_OPS: u16 = 6;
/// `CTRL_ATTR_MCAST_GROUPS` (nested list of nested groups).
pub const CTRL_ATTR_MCAST_GROUPS: u16 = 7;
/// In a multicast group: `CTRL_ATTR_MCAST_GRP_NAME` (string).
pub const CTRL_ATTR_MCAST_GRP_NAME: u16 = 1;
/// In a multicast group: `CTRL_ATTR_MCAST_GRP_ID` (`u32`).
pub const CTRL_ATTR_MCAST_GRP_ID: u16 = 2;

/// Most bytes of a family name, NUL included (`GENL_NAMSIZ`).
pub const GENL_NAMSIZ: usize = 16;

/// `struct genlmsghdr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenlHeader {
    /// `cmd`.
    pub cmd: u8,
    /// `version`.
    pub version: u8,
}

impl GenlHeader {
    /// Reads the header at the start of a message payload.
    pub fn parse(payload: &[u8]) -> Option<GenlHeader> {
        let b = payload.get(..GENL_HDRLEN)?;
        Some(GenlHeader {
            cmd: b[0],
            version: b[1],
        })
    }
}

/// A generic netlink family as `CTRL_CMD_NEWFAMILY` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// Its name.
    pub name: String,
    /// Its id: the `nlmsg_type` of its messages.
    pub id: u16,
    /// Its version.
    pub version: u32,
    /// Size of its fixed header after `genlmsghdr`.
    pub hdrsize: u32,
    /// Its highest attribute type.
    pub maxattr: u32,
    /// Its multicast groups: name and id.
    pub mcast_groups: Vec<(String, u32)>,
}

/// A `CTRL_CMD_NEWFAMILY` without a usable id or name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadFamily(pub String);

impl std::fmt::Display for BadFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "family description: {}", self.0)
    }
}

impl std::error::Error for BadFamily {}

fn c_string(payload: &[u8]) -> String {
    let s = payload.split(|&c| c == 0).next().unwrap_or(&[]);
    String::from_utf8_lossy(s).into_owned()
}

impl Family {
    /// The id of multicast group `name`.
    pub fn group(&self, name: &str) -> Option<u32> {
        self.mcast_groups
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, id)| id)
    }

    /// Writes the family's attributes, as the controller does.
    pub fn emit(&self, w: &mut Writer) {
        w.put_string(CTRL_ATTR_FAMILY_NAME, &self.name);
        w.put_u16(CTRL_ATTR_FAMILY_ID, self.id);
        w.put_u32(CTRL_ATTR_VERSION, self.version);
        w.put_u32(CTRL_ATTR_HDRSIZE, self.hdrsize);
        w.put_u32(CTRL_ATTR_MAXATTR, self.maxattr);
        if !self.mcast_groups.is_empty() {
            let groups = w.begin_nested(CTRL_ATTR_MCAST_GROUPS);
            for (i, (name, id)) in self.mcast_groups.iter().enumerate() {
                let g = w.begin_nested(i as u16 + 1);
                w.put_string(CTRL_ATTR_MCAST_GRP_NAME, name);
                w.put_u32(CTRL_ATTR_MCAST_GRP_ID, *id);
                w.end_nested(g);
            }
            w.end_nested(groups);
        }
    }

    /// Reads a `CTRL_CMD_NEWFAMILY` (the attributes after `genlmsghdr`).
    /// Attributes it does not know are skipped.
    ///
    /// # Errors
    /// [`BadFamily`] if the stream is malformed or lacks an id or name.
    pub fn parse(attrs: &[u8]) -> Result<Family, BadFamily> {
        let mut f = Family {
            name: String::new(),
            id: 0,
            version: 0,
            hdrsize: 0,
            maxattr: 0,
            mcast_groups: Vec::new(),
        };
        for a in AttrIter::new(attrs) {
            let a = a.map_err(|e| BadFamily(e.to_string()))?;
            match a.ty {
                CTRL_ATTR_FAMILY_ID => {
                    f.id = a.u16().ok_or_else(|| BadFamily("bad family id".into()))?
                }
                CTRL_ATTR_FAMILY_NAME => f.name = c_string(a.payload),
                CTRL_ATTR_VERSION => f.version = a.u32().unwrap_or(0),
                CTRL_ATTR_HDRSIZE => f.hdrsize = a.u32().unwrap_or(0),
                CTRL_ATTR_MAXATTR => f.maxattr = a.u32().unwrap_or(0),
                CTRL_ATTR_MCAST_GROUPS => {
                    for g in a.nested() {
                        let g = g.map_err(|e| BadFamily(format!("multicast groups: {e}")))?;
                        let (mut name, mut id) = (None, None);
                        for ga in g.nested().map_while(Result::ok) {
                            match ga.ty {
                                CTRL_ATTR_MCAST_GRP_NAME => name = Some(c_string(ga.payload)),
                                CTRL_ATTR_MCAST_GRP_ID => id = ga.u32(),
                                _ => {}
                            }
                        }
                        if let (Some(n), Some(i)) = (name, id) {
                            f.mcast_groups.push((n, i));
                        }
                    }
                }
                _ => {}
            }
        }
        if f.id == 0 || f.name.is_empty() {
            return Err(BadFamily("no id or name".into()));
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn family_round_trip() {
        let f = Family {
            name: "ovs_vport".into(),
            id: 0x22,
            version: 1,
            hdrsize: 4,
            maxattr: 9,
            mcast_groups: vec![("ovs_vport".into(), 0x4f02)],
        };
        let mut w = Writer::new();
        f.emit(&mut w);
        assert_eq!(Family::parse(w.as_bytes()), Ok(f.clone()));
        assert_eq!(f.group("ovs_vport"), Some(0x4f02));
        assert!(Family::parse(&[]).is_err());
    }
}
