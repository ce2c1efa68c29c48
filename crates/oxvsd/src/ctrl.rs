//! `nlctrl`: family lookups (`CTRL_CMD_GETFAMILY`), and the daemon's
//! socket options (`OXVS_CTRL_CMD_SOCKOPT`, see [`nl::daemon`]).

use std::sync::Arc;

use nl::daemon;
use nl::errno;
use nl::genl::{
    CTRL_ATTR_FAMILY_ID, CTRL_ATTR_FAMILY_NAME, CTRL_CMD_GETFAMILY, CTRL_CMD_NEWFAMILY,
};
use nl::msg::{MsgBuilder, NLM_F_MULTI};
use nl::policy::Attrs;

use crate::conn::Conn;
use crate::dispatch::{Fail, Handled, Outcome, Req};
use crate::dump::MsgDump;
use crate::families::{FamilyDef, FAMILIES};
use crate::policy;
use crate::server::State;

/// Largest receive buffer a client may ask for (`sk_rcvbuf` bytes).
const MAX_RCVBUF: u32 = 128 << 20;

fn family_msg(f: &FamilyDef, flags: u16, seq: u32, pid: u32) -> Vec<u8> {
    let mut b = MsgBuilder::genl(nl::genl::GENL_ID_CTRL, flags, CTRL_CMD_NEWFAMILY, 2)
        .seq(seq)
        .pid(pid);
    f.describe().emit(b.attrs());
    b.finish().unwrap_or_default()
}

/// Handles an `nlctrl` request.
pub fn handle(state: &Arc<State>, conn: &Arc<Conn>, req: &Req<'_>) -> Handled {
    match req.cmd {
        CTRL_CMD_GETFAMILY if req.dump() => {
            let (seq, pid) = (req.hdr.seq, conn.pid());
            let msgs = FAMILIES
                .iter()
                .map(move |f| family_msg(f, NLM_F_MULTI, seq, pid));
            Ok(Outcome::Dump(Box::new(MsgDump::new(msgs, seq, pid))))
        }
        CTRL_CMD_GETFAMILY => {
            let a = Attrs::parse(req.body, policy::CTRL)?;
            let f = if let Some(name) = a.string(CTRL_ATTR_FAMILY_NAME) {
                FamilyDef::by_name(name)
            } else if let Some(id) = a.u16(CTRL_ATTR_FAMILY_ID) {
                FamilyDef::by_id(id)
            } else {
                return Err(Fail::new(errno::EINVAL));
            };
            let f = f.ok_or_else(|| Fail::new(errno::ENOENT))?;
            Ok(Outcome::Reply(family_msg(f, 0, req.hdr.seq, conn.pid())))
        }
        daemon::OXVS_CTRL_CMD_SOCKOPT => sockopt(state, conn, req),
        _ => Err(Fail::new(errno::EOPNOTSUPP)),
    }
}

/// Applies a socket option to the connection it names.
fn sockopt(state: &Arc<State>, conn: &Arc<Conn>, req: &Req<'_>) -> Handled {
    let a = Attrs::parse(req.body, policy::SOCKOPT)?;
    let target = match (
        a.u32(daemon::SOCKOPT_ATTR_PORT),
        a.u64(daemon::SOCKOPT_ATTR_COOKIE),
    ) {
        (None, None) => conn.clone(),
        (Some(p), Some(c)) => match state.conn_by_pid(p) {
            Some(t) if t.cookie() == c => t,
            _ => return Err(Fail::msg(errno::ENOENT, "no such socket")),
        },
        _ => return Err(Fail::new(errno::EINVAL)),
    };
    let (Some(level), Some(name), Some(value)) = (
        a.u32(daemon::SOCKOPT_ATTR_LEVEL),
        a.u32(daemon::SOCKOPT_ATTR_NAME),
        a.u32(daemon::SOCKOPT_ATTR_VALUE),
    ) else {
        return Err(Fail::new(errno::EINVAL));
    };
    match (level, name) {
        (daemon::SOL_NETLINK, daemon::NETLINK_ADD_MEMBERSHIP) => target.join(value),
        (daemon::SOL_NETLINK, daemon::NETLINK_DROP_MEMBERSHIP) => target.leave(value),
        (daemon::SOL_NETLINK, n) => {
            if !target.set_netlink_flag(n, value != 0) {
                return Err(Fail::new(errno::ENOPROTOOPT));
            }
        }
        (daemon::SOL_SOCKET, daemon::SO_RCVBUF) => {
            target.set_rcvbuf(value.clamp(2048, MAX_RCVBUF) as usize)
        }
        (daemon::SOL_OXVS, daemon::OXVS_SO_BIND) => {
            state.rebind(&target, value).map_err(Fail::new)?
        }
        _ => return Err(Fail::new(errno::ENOPROTOOPT)),
    }
    Ok(Outcome::Done)
}
