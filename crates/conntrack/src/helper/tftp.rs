//! The TFTP helper (`nf_conntrack_tftp`): a read or write request from
//! the client announces a reply from any port of the server back to the
//! client's port.

use packet::ipproto;

use super::expect::Expectation;
use crate::nat::Manip;
use crate::state::Dir;
use crate::tuple::Tuple;

/// TFTP opcodes that open a transfer.
const OPCODE_READ: u16 = 1;
const OPCODE_WRITE: u16 = 2;

/// How long an expectation lives (`nf_ct_tftp`'s `timeout`, 5 min).
pub const EXPECT_TIMEOUT_MS: u64 = 5 * 60 * 1000;

/// The expectation a TFTP request (`payload`, of a packet of direction
/// `dir` in a connection whose tuples are `orig` and `reply`) creates, if
/// it is one: a UDP packet from the server (any port) to where the
/// client's packets come from (`ct->tuplehash[!dir].tuple` inverted:
/// the reply tuple's destination, after NAT).
pub fn expectation_tuple(dir: Dir, orig: &Tuple, reply: &Tuple, payload: &[u8]) -> Option<Tuple> {
    if orig.proto != ipproto::UDP || payload.len() < 2 {
        return None;
    }
    let op = u16::from_be_bytes([payload[0], payload[1]]);
    if op != OPCODE_READ && op != OPCODE_WRITE {
        return None;
    }
    // The kernel: nf_ct_expect_init(exp, ..., &tuple->src.u3, &tuple->dst.u3,
    // IPPROTO_UDP, NULL, &tuple->dst.u.udp.port) with tuple = the other
    // direction's tuple.
    let other = if dir == Dir::Original { reply } else { orig };
    Some(Tuple {
        src: other.src,
        dst: other.dst,
        src_port: 0,
        dst_port: other.dst_port,
        proto: ipproto::UDP,
        v6: orig.v6,
    })
}

/// The NAT the related connection follows when the master is NATed
/// (`nf_nat_follow_master`): its destination becomes the master's
/// original source, and its source the master's original destination.
#[allow(clippy::type_complexity)]
pub fn follow_master(
    orig: &Tuple,
    saved_port: u16,
) -> (Option<(u128, u16)>, Option<(Manip, u128)>) {
    (Some((orig.src, saved_port)), Some((Manip::Src, orig.dst)))
}

/// Builds the expectation record.
pub fn make(
    tuple: Tuple,
    zone: u16,
    master: std::sync::Arc<crate::conn::Conn>,
    natted: bool,
    now: u64,
) -> Expectation {
    let (nat_dst, nat_src) = if natted {
        follow_master(&master.orig, master.orig.src_port)
    } else {
        (None, None)
    };
    Expectation {
        tuple,
        any_src_port: true,
        zone,
        master,
        nat_dst,
        nat_src,
        expires: now + EXPECT_TIMEOUT_MS,
    }
}
