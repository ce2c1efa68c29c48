//! Routing a request to its family and answering as the kernel's
//! `netlink_rcv_skb` and `genl_rcv_msg` do:
//!
//! - a message without `NLM_F_REQUEST`, or of a control type (below
//!   `NLMSG_MIN_TYPE`), is not handled: only acked if it asks;
//! - an unknown type is `ENOENT`; a message too short for its family's
//!   headers is `EINVAL`; an unknown command (or a dump of a command that
//!   cannot dump) is `EOPNOTSUPP`; a command that changes datapaths or
//!   ports from a non-admin peer is `EPERM`;
//! - a handled request gets its reply (if any), then an ack if it asked;
//!   a failed one gets an error, with a message under `NETLINK_EXT_ACK`;
//!   a dump gets its messages and `NLMSG_DONE`, no ack.

use std::borrow::Cow;
use std::sync::Arc;

use nl::errno;
use nl::genl::{GenlHeader, GENL_HDRLEN, GENL_ID_CTRL};
use nl::msg::{Header, Message, NLMSG_MIN_TYPE, NLM_F_ACK, NLM_F_DUMP, NLM_F_ECHO, NLM_F_REQUEST};
use nl::policy::{Attrs, Policy};

use crate::conn::Conn;
use crate::dump::Dump;
use crate::families::{
    FamilyDef, FAM_CT_LIMIT, FAM_DP, FAM_FLOW, FAM_METER, FAM_PACKET, FAM_VPORT,
};
use crate::server::State;

/// What a request produced, ready to send.
pub enum Answer {
    /// Messages, each its own datagram (replies, acks, errors).
    Msgs(Vec<Vec<u8>>),
    /// A dump to run.
    Dump(Box<dyn Dump>),
}

/// A failed request: the errno and, for extended acks, why.
#[derive(Debug)]
pub struct Fail {
    /// The positive errno.
    pub errno: i32,
    /// The message.
    pub text: Option<Cow<'static, str>>,
}

impl Fail {
    /// A failure with no message.
    pub fn new(errno: i32) -> Fail {
        Fail { errno, text: None }
    }

    /// A failure with a message.
    pub fn msg(errno: i32, text: impl Into<Cow<'static, str>>) -> Fail {
        Fail {
            errno,
            text: Some(text.into()),
        }
    }
}

impl From<dpif::Errno> for Fail {
    fn from(e: dpif::Errno) -> Fail {
        Fail::new(e.get())
    }
}

impl From<nl::policy::Invalid> for Fail {
    fn from(e: nl::policy::Invalid) -> Fail {
        Fail::msg(errno::EINVAL, e.to_string())
    }
}

/// What a handler did.
pub enum Outcome {
    /// Done: an ack if asked.
    Done,
    /// A reply message, then an ack if asked.
    Reply(Vec<u8>),
    /// A dump to run.
    Dump(Box<dyn Dump>),
}

/// A handler's result.
pub type Handled = Result<Outcome, Fail>;

/// A generic netlink request, as a family handler sees it.
pub struct Req<'a> {
    /// Its header.
    pub hdr: Header,
    /// Its command.
    pub cmd: u8,
    /// What follows `genlmsghdr`.
    pub body: &'a [u8],
}

impl<'a> Req<'a> {
    /// Whether it asks for a dump.
    pub fn dump(&self) -> bool {
        self.hdr.flags & NLM_F_DUMP == NLM_F_DUMP
    }

    /// Whether it asks for its object back (`NLM_F_ECHO`).
    pub fn echo(&self) -> bool {
        self.hdr.flags & NLM_F_ECHO != 0
    }

    /// An openvswitch request's `dp_ifindex` and attributes, checked
    /// against `policy`.
    ///
    /// # Errors
    /// `EINVAL` for a short body or an attribute the policy rejects.
    pub fn ovs(&self, policy: Policy) -> Result<(i32, Attrs<'a>), Fail> {
        let h = self.body.get(..4).ok_or_else(|| Fail::new(errno::EINVAL))?;
        let ifindex = i32::from_ne_bytes([h[0], h[1], h[2], h[3]]);
        Ok((ifindex, Attrs::parse(&self.body[4..], policy)?))
    }
}

/// Handles one message of a datagram from `conn`.
pub fn handle(state: &Arc<State>, conn: &Arc<Conn>, m: &Message<'_>) -> Answer {
    let h = m.header;
    let ack = || nl::msg::ack(m.bytes, conn.pid(), 0, conn.ack_opts(), None);
    if h.flags & NLM_F_REQUEST == 0 || h.ty < NLMSG_MIN_TYPE {
        return Answer::Msgs(if h.flags & NLM_F_ACK != 0 {
            vec![ack()]
        } else {
            Vec::new()
        });
    }
    match route(state, conn, m) {
        Ok(Outcome::Dump(d)) => Answer::Dump(d),
        Ok(Outcome::Reply(r)) => {
            let mut v = vec![r];
            if h.flags & NLM_F_ACK != 0 {
                v.push(ack());
            }
            Answer::Msgs(v)
        }
        Ok(Outcome::Done) => Answer::Msgs(if h.flags & NLM_F_ACK != 0 {
            vec![ack()]
        } else {
            Vec::new()
        }),
        Err(f) => {
            log::debug!(
                "port id {}: type {:#x} failed: {} {}",
                conn.pid(),
                h.ty,
                f.errno,
                f.text.as_deref().unwrap_or("")
            );
            Answer::Msgs(vec![nl::msg::ack(
                m.bytes,
                conn.pid(),
                f.errno,
                conn.ack_opts(),
                f.text.as_deref(),
            )])
        }
    }
}

fn route(state: &Arc<State>, conn: &Arc<Conn>, m: &Message<'_>) -> Handled {
    let ty = m.header.ty;
    if crate::netfilter::is_netfilter(ty) {
        return crate::netfilter::handle(state, conn, m);
    }
    let fam = FamilyDef::by_id(ty).ok_or_else(|| Fail::new(errno::ENOENT))?;
    let payload = m.payload();
    let g = GenlHeader::parse(payload).ok_or_else(|| Fail::new(errno::EINVAL))?;
    if payload.len() < GENL_HDRLEN + fam.hdrsize as usize {
        return Err(Fail::new(errno::EINVAL));
    }
    let req = Req {
        hdr: m.header,
        cmd: g.cmd,
        body: &payload[GENL_HDRLEN..],
    };
    match ty {
        GENL_ID_CTRL => crate::ctrl::handle(state, conn, &req),
        FAM_DP => crate::datapath::handle(state, conn, &req),
        FAM_VPORT => crate::vport::handle(state, conn, &req),
        FAM_FLOW => crate::flow::handle(state, conn, &req),
        FAM_PACKET => crate::packet::handle(state, conn, &req),
        FAM_CT_LIMIT => crate::ct_limit::handle(state, conn, &req),
        FAM_METER => crate::meter::handle(state, conn, &req),
        _ => Err(Fail::new(errno::ENOENT)),
    }
}

/// `EPERM` unless the peer may change datapaths and ports.
pub fn admin(conn: &Conn) -> Result<(), Fail> {
    if conn.peer.admin {
        Ok(())
    } else {
        Err(Fail::msg(
            errno::EPERM,
            "changing datapaths and ports needs root or the daemon's user",
        ))
    }
}
