//! A small test server of the `nl::daemon` contract: a fixture standing in
//! for oxvsd while that daemon is being written, not a datapath.
//!
//! It serves, on a `SOCK_SEQPACKET` listener:
//!
//! - the greeting (port id, cookie), or a refusal when built refusing;
//! - barriers (`NLMSG_NOOP` with `NLM_F_ACK`: an ack, alone in its
//!   datagram; every request is handled in order on the connection's own
//!   thread, dumps sent in full before the next request);
//! - `nlctrl` `CTRL_CMD_GETFAMILY` for the families of [`FAMILIES`] (by
//!   name or id; `ENOENT` otherwise), and its dump, three families to a
//!   datagram;
//! - `OXVS_CTRL_CMD_SOCKOPT`: port + cookie checks, memberships,
//!   `NO_ENOBUFS`/`EXT_ACK`/`CAP_ACK`, `SO_RCVBUF` (which becomes the
//!   connection's `SO_SNDBUF`, so that notifications overrun for real) and
//!   `OXVS_SO_BIND` (`EADDRINUSE`, `EINVAL`);
//! - the test family `oxvs_test`: `ECHO`, `NOTIFY` (events to a group's
//!   members, dropped when their buffer is full, then the overrun notice as
//!   soon as there is room) and `OVERRUN` (the notice, now, to the sender:
//!   a knob to exercise clients);
//! - ctnetlink requests (counted): an ack, or `NLMSG_DONE` for a dump;
//! - the openvswitch families: no datapaths (empty dumps, else `ENODEV`).
//!
//! Anything else is `ENOENT`, as generic netlink answers an unknown family.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nl::daemon;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::net::{
    self, AddressFamily, RecvFlags, SendFlags, SocketAddrUnix, SocketFlags, SocketType,
};

use super::nlmsg::{self, *};

/// A family the fixture answers lookups for.
pub struct Family {
    pub name: &'static str,
    pub id: u16,
    pub version: u32,
    pub maxattr: u32,
    pub group: Option<(&'static str, u32)>,
}

/// The families of the fixture: `nlctrl`, the openvswitch ones, the test one.
pub const FAMILIES: &[Family] = &[
    Family {
        name: "nlctrl",
        id: 0x10,
        version: 2,
        maxattr: 10,
        group: Some(("notify", 0x10)),
    },
    Family {
        name: "ovs_datapath",
        id: 0x21,
        version: 2,
        maxattr: 9,
        group: Some(("ovs_datapath", 2)),
    },
    Family {
        name: "ovs_vport",
        id: 0x22,
        version: 2,
        maxattr: 9,
        group: Some(("ovs_vport", 3)),
    },
    Family {
        name: "ovs_flow",
        id: 0x23,
        version: 1,
        maxattr: 11,
        group: Some(("ovs_flow", 4)),
    },
    Family {
        name: "ovs_packet",
        id: 0x24,
        version: 1,
        maxattr: 10,
        group: None,
    },
    Family {
        name: "ovs_meter",
        id: 0x25,
        version: 1,
        maxattr: 9,
        group: None,
    },
    Family {
        name: "ovs_ct_limit",
        id: 0x26,
        version: 1,
        maxattr: 2,
        group: None,
    },
    Family {
        name: nlmsg::TEST_FAMILY,
        id: 0x2e,
        version: 1,
        maxattr: 6,
        group: Some(("test", 5)),
    },
];

const TEST_FAMILY_ID: u16 = 0x2e;
const TEST_GROUP: u32 = 5;
const FIRST_PORT: u32 = 0x7000_0001;

/// What a test can ask the fixture after the fact.
#[derive(Default)]
pub struct Stats {
    /// Connections accepted.
    pub accepted: AtomicUsize,
    /// ctnetlink/cttimeout requests seen.
    pub ctnetlink: AtomicUsize,
    /// Every socket option set: (target port, level, name, value).
    pub sockopts: Mutex<Vec<(u32, u32, u32, u32)>>,
    /// Events dropped for want of room.
    pub dropped: AtomicUsize,
}

struct Conn {
    fd: OwnedFd,
    port: AtomicU32,
    cookie: u64,
    groups: Mutex<BTreeSet<u32>>,
    no_enobufs: AtomicBool,
    cap_ack: AtomicBool,
    overrun_pending: AtomicBool,
    send_lock: Mutex<()>,
}

struct State {
    conns: Mutex<Vec<Arc<Conn>>>,
    next_port: AtomicU32,
    stats: Arc<Stats>,
    refuse: Option<i32>,
    stop: AtomicBool,
}

/// A running fixture; stops accepting when dropped.
pub struct Fixture {
    dir: PathBuf,
    path: PathBuf,
    listener: Arc<OwnedFd>,
    state: Arc<State>,
}

impl Fixture {
    /// Starts a fixture listening in a fresh directory; `refuse` makes it
    /// refuse every connection with that errno.
    pub fn start(refuse: Option<i32>) -> Fixture {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "oxvs-run-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("oxvsd.sock");
        let _ = std::fs::remove_file(&path);
        let l = net::socket_with(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC,
            None,
        )
        .unwrap();
        net::bind(&l, &SocketAddrUnix::new(&path).unwrap()).unwrap();
        net::listen(&l, 128).unwrap();
        let listener = Arc::new(l);
        let state = Arc::new(State {
            conns: Mutex::new(Vec::new()),
            next_port: AtomicU32::new(FIRST_PORT),
            stats: Arc::new(Stats::default()),
            refuse,
            stop: AtomicBool::new(false),
        });
        let (l2, s2) = (listener.clone(), state.clone());
        std::thread::spawn(move || accept_loop(&l2, &s2));
        Fixture {
            dir,
            path,
            listener,
            state,
        }
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The counters.
    pub fn stats(&self) -> Arc<Stats> {
        self.state.stats.clone()
    }

    /// Port ids of the connections open now.
    pub fn ports(&self) -> Vec<u32> {
        self.state
            .conns
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.port.load(Ordering::Relaxed))
            .collect()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
        let _ = net::shutdown(&*self.listener, net::Shutdown::Both);
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

fn accept_loop(l: &OwnedFd, st: &Arc<State>) {
    while !st.stop.load(Ordering::Relaxed) {
        let fd = match net::accept_with(l, SocketFlags::CLOEXEC) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return,
        };
        st.stats.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = rustix::net::sockopt::set_socket_timeout(
            &fd,
            rustix::net::sockopt::Timeout::Send,
            Some(Duration::from_secs(5)),
        );
        if let Some(e) = st.refuse {
            let refusal = message(
                NLMSG_ERROR,
                0,
                0,
                0,
                &[(-e).to_ne_bytes().as_slice(), &[0u8; 16]].concat(),
            );
            let _ = net::send(&fd, &refusal, SendFlags::empty());
            continue;
        }
        let port = st.next_port.fetch_add(1, Ordering::Relaxed);
        let cookie = cookie_for(port);
        let conn = Arc::new(Conn {
            fd,
            port: AtomicU32::new(port),
            cookie,
            groups: Mutex::new(BTreeSet::new()),
            no_enobufs: AtomicBool::new(false),
            cap_ack: AtomicBool::new(false),
            overrun_pending: AtomicBool::new(false),
            send_lock: Mutex::new(()),
        });
        // Known before the greeting: once greeted, a client may name the
        // connection in a socket option sent on another one.
        st.conns.lock().unwrap().push(conn.clone());
        if net::send(
            &conn.fd,
            &daemon::greeting(port, cookie),
            SendFlags::empty(),
        )
        .is_err()
        {
            st.conns.lock().unwrap().retain(|c| !Arc::ptr_eq(c, &conn));
            continue;
        }
        let st = st.clone();
        std::thread::spawn(move || serve(&conn, &st));
    }
}

fn cookie_for(port: u32) -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (t.as_nanos() as u64).rotate_left(17) ^ (u64::from(port) << 32) ^ 0x9e37_79b9_7f4a_7c15
}

impl Conn {
    fn port(&self) -> u32 {
        self.port.load(Ordering::Relaxed)
    }

    /// Sends the overrun notice if one is due; `block`: wait for room.
    fn flush_overrun(&self, block: bool) {
        if self.overrun_pending.load(Ordering::Relaxed) {
            let flags = if block {
                SendFlags::empty()
            } else {
                SendFlags::DONTWAIT
            };
            if net::send(&self.fd, &daemon::OVERRUN, flags).is_ok() {
                self.overrun_pending.store(false, Ordering::Relaxed);
            }
        }
    }

    /// An answer: never dropped, after any notice due.
    fn reply(&self, d: &[u8]) {
        let _g = self.send_lock.lock().unwrap();
        self.flush_overrun(true);
        let _ = net::send(&self.fd, d, SendFlags::empty());
    }

    /// A notification: dropped if there is no room, as netlink drops it.
    fn event(&self, d: &[u8], stats: &Stats) {
        let _g = self.send_lock.lock().unwrap();
        self.flush_overrun(false);
        if self.overrun_pending.load(Ordering::Relaxed)
            || net::send(&self.fd, d, SendFlags::DONTWAIT).is_err()
        {
            stats.dropped.fetch_add(1, Ordering::Relaxed);
            if !self.no_enobufs.load(Ordering::Relaxed) {
                self.overrun_pending.store(true, Ordering::Relaxed);
            }
        }
    }
}

fn serve(conn: &Arc<Conn>, st: &Arc<State>) {
    let mut buf = vec![0u8; daemon::MAX_REQUEST];
    loop {
        let mut events = PollFlags::IN;
        if conn.overrun_pending.load(Ordering::Relaxed) {
            events |= PollFlags::OUT;
        }
        let mut p = [PollFd::from_borrowed_fd(conn.fd.as_fd(), events)];
        let timeout = Timespec {
            tv_sec: 0,
            tv_nsec: 20_000_000,
        };
        if poll(&mut p, Some(&timeout)).is_err() {
            continue;
        }
        let revents = p[0].revents();
        if conn.overrun_pending.load(Ordering::Relaxed) {
            let _g = conn.send_lock.lock().unwrap();
            conn.flush_overrun(false);
        }
        if !revents.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR) {
            continue;
        }
        match net::recv(&conn.fd, &mut buf[..], RecvFlags::DONTWAIT) {
            Ok((_, 0)) => break,
            Ok((_, n)) => handle_datagram(conn, st, &buf[..n.min(buf.len())]),
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => {}
            Err(_) => break,
        }
    }
    st.conns.lock().unwrap().retain(|c| !Arc::ptr_eq(c, conn));
}

fn handle_datagram(conn: &Arc<Conn>, st: &Arc<State>, d: &[u8]) {
    for m in messages(d) {
        handle(conn, st, &m);
    }
}

/// The error (or ack) message answering `req`.
fn error_msg(conn: &Conn, req: &Msg, errno: i32) -> Vec<u8> {
    let mut p = (-errno).to_ne_bytes().to_vec();
    let mut echoed = req.emit();
    echoed.truncate(16 + req.payload.len());
    if errno == 0 || conn.cap_ack.load(Ordering::Relaxed) {
        echoed.truncate(16);
    }
    // The echoed header keeps the request's own length field.
    p.extend_from_slice(&echoed);
    message(NLMSG_ERROR, 0, req.seq, conn.port(), &p)
}

fn ack(conn: &Conn, req: &Msg) {
    if req.flags & NLM_F_ACK != 0 {
        conn.reply(&error_msg(conn, req, 0));
    }
}

fn fail(conn: &Conn, req: &Msg, errno: i32) {
    conn.reply(&error_msg(conn, req, errno));
}

fn handle(conn: &Arc<Conn>, st: &Arc<State>, m: &Msg) {
    // netlink_rcv_skb: only requests are handled; control messages (the
    // barrier among them) are acked when asked to.
    if m.flags & NLM_F_REQUEST == 0 || m.ty < 0x10 {
        return ack(conn, m);
    }
    match m.ty {
        GENL_ID_CTRL => ctrl(conn, st, m),
        TEST_FAMILY_ID => test_family(conn, st, m),
        0x100..=0x2ff | 0x800..=0x8ff => {
            st.stats.ctnetlink.fetch_add(1, Ordering::Relaxed);
            if m.flags & NLM_F_DUMP == NLM_F_DUMP {
                conn.reply(&message(
                    NLMSG_DONE,
                    NLM_F_MULTI,
                    m.seq,
                    conn.port(),
                    &0i32.to_ne_bytes(),
                ));
            } else {
                ack(conn, m);
            }
        }
        // The openvswitch families: no datapath here. Dumps are empty, and
        // anything else is ENODEV (no such datapath).
        t if FAMILIES.iter().any(|f| f.id == t) => {
            if m.flags & NLM_F_DUMP == NLM_F_DUMP {
                conn.reply(&message(
                    NLMSG_DONE,
                    NLM_F_MULTI,
                    m.seq,
                    conn.port(),
                    &0i32.to_ne_bytes(),
                ));
            } else {
                fail(conn, m, libc::ENODEV);
            }
        }
        _ => fail(conn, m, libc::ENOENT),
    }
}

fn family_msg(f: &Family, flags: u16, seq: u32, pid: u32) -> Vec<u8> {
    let mut w = nl::Writer::new();
    w.put_string(CTRL_ATTR_FAMILY_NAME, f.name);
    w.put_u16(CTRL_ATTR_FAMILY_ID, f.id);
    w.put_u32(CTRL_ATTR_VERSION, f.version);
    w.put_u32(
        CTRL_ATTR_HDRSIZE,
        if f.name.starts_with("ovs_") { 4 } else { 0 },
    );
    w.put_u32(CTRL_ATTR_MAXATTR, f.maxattr);
    if let Some((name, id)) = f.group {
        let groups = w.begin_nested(CTRL_ATTR_MCAST_GROUPS);
        let g = w.begin_nested(1);
        w.put_u32(CTRL_ATTR_MCAST_GRP_ID, id);
        w.put_string(CTRL_ATTR_MCAST_GRP_NAME, name);
        w.end_nested(g);
        w.end_nested(groups);
    }
    genl(
        GENL_ID_CTRL,
        flags,
        seq,
        pid,
        CTRL_CMD_NEWFAMILY,
        2,
        w.as_bytes(),
    )
}

fn ctrl(conn: &Arc<Conn>, st: &Arc<State>, m: &Msg) {
    match m.cmd() {
        Some(CTRL_CMD_GETFAMILY) if m.flags & NLM_F_DUMP == NLM_F_DUMP => {
            let all: Vec<Vec<u8>> = FAMILIES
                .iter()
                .map(|f| family_msg(f, NLM_F_MULTI, m.seq, conn.port()))
                .collect();
            let mut chunks: Vec<Vec<u8>> = all.chunks(3).map(|c| c.concat()).collect();
            let done = message(
                NLMSG_DONE,
                NLM_F_MULTI,
                m.seq,
                conn.port(),
                &0i32.to_ne_bytes(),
            );
            if let Some(last) = chunks.last_mut() {
                last.extend_from_slice(&done);
            }
            for c in chunks {
                conn.reply(&c);
            }
        }
        Some(CTRL_CMD_GETFAMILY) => {
            let attrs = m.attrs();
            let by_name = attrs
                .iter()
                .find(|a| a.0 == CTRL_ATTR_FAMILY_NAME)
                .map(|a| {
                    String::from_utf8_lossy(a.1.split(|&b| b == 0).next().unwrap_or(&[]))
                        .into_owned()
                });
            let by_id = attrs
                .iter()
                .find(|a| a.0 == CTRL_ATTR_FAMILY_ID && a.1.len() == 2)
                .map(|a| u16::from_ne_bytes([a.1[0], a.1[1]]));
            let f = FAMILIES
                .iter()
                .find(|f| Some(f.name) == by_name.as_deref() || Some(f.id) == by_id);
            match f {
                Some(f) => {
                    conn.reply(&family_msg(f, 0, m.seq, conn.port()));
                    ack(conn, m);
                }
                None => fail(conn, m, libc::ENOENT),
            }
        }
        Some(daemon::OXVS_CTRL_CMD_SOCKOPT) => match sockopt(conn, st, m) {
            Ok(()) => ack(conn, m),
            Err(e) => fail(conn, m, e),
        },
        _ => fail(conn, m, libc::EOPNOTSUPP),
    }
}

fn sockopt(conn: &Arc<Conn>, st: &Arc<State>, m: &Msg) -> Result<(), i32> {
    let attrs = m.attrs();
    let get32 = |t: u16| {
        attrs
            .iter()
            .find(|a| a.0 == t && a.1.len() == 4)
            .map(|a| u32::from_ne_bytes(a.1[..4].try_into().unwrap()))
    };
    let port = get32(daemon::SOCKOPT_ATTR_PORT);
    let cookie = attrs
        .iter()
        .find(|a| a.0 == daemon::SOCKOPT_ATTR_COOKIE && a.1.len() == 8)
        .map(|a| u64::from_ne_bytes(a.1[..8].try_into().unwrap()));
    let target = match (port, cookie) {
        (None, None) => conn.clone(),
        (Some(p), Some(c)) => st
            .conns
            .lock()
            .unwrap()
            .iter()
            .find(|x| x.port() == p && x.cookie == c)
            .cloned()
            .ok_or(libc::ENOENT)?,
        _ => return Err(libc::EINVAL),
    };
    let (Some(level), Some(name), Some(value)) = (
        get32(daemon::SOCKOPT_ATTR_LEVEL),
        get32(daemon::SOCKOPT_ATTR_NAME),
        get32(daemon::SOCKOPT_ATTR_VALUE),
    ) else {
        return Err(libc::EINVAL);
    };
    st.stats
        .sockopts
        .lock()
        .unwrap()
        .push((target.port(), level, name, value));
    match (level, name) {
        (daemon::SOL_NETLINK, daemon::NETLINK_ADD_MEMBERSHIP) if value != 0 => {
            target.groups.lock().unwrap().insert(value);
        }
        (daemon::SOL_NETLINK, daemon::NETLINK_DROP_MEMBERSHIP) if value != 0 => {
            target.groups.lock().unwrap().remove(&value);
        }
        (daemon::SOL_NETLINK, daemon::NETLINK_NO_ENOBUFS) => {
            target.no_enobufs.store(value != 0, Ordering::Relaxed);
            if value != 0 {
                target.overrun_pending.store(false, Ordering::Relaxed);
            }
        }
        (daemon::SOL_NETLINK, daemon::NETLINK_CAP_ACK) => {
            target.cap_ack.store(value != 0, Ordering::Relaxed)
        }
        (daemon::SOL_NETLINK, daemon::NETLINK_EXT_ACK) => {}
        (daemon::SOL_SOCKET, daemon::SO_RCVBUF) => {
            // sk_sndbuf becomes twice what is asked, as sk_rcvbuf did.
            let half = (value / 2) as usize;
            if rustix::net::sockopt::set_socket_send_buffer_size_force(&target.fd, half).is_err() {
                let _ = rustix::net::sockopt::set_socket_send_buffer_size(&target.fd, half);
            }
        }
        (daemon::SOL_OXVS, daemon::OXVS_SO_BIND) => {
            if value == 0 {
                return Err(libc::EINVAL);
            }
            let conns = st.conns.lock().unwrap();
            if conns
                .iter()
                .any(|c| !Arc::ptr_eq(c, &target) && c.port() == value)
            {
                return Err(libc::EADDRINUSE);
            }
            target.port.store(value, Ordering::Relaxed);
        }
        _ => return Err(libc::ENOPROTOOPT),
    }
    Ok(())
}

fn test_family(conn: &Arc<Conn>, st: &Arc<State>, m: &Msg) {
    let attrs = m.attrs();
    let get32 = |t: u16| {
        attrs
            .iter()
            .find(|a| a.0 == t && a.1.len() == 4)
            .map(|a| u32::from_ne_bytes(a.1[..4].try_into().unwrap()))
    };
    match m.cmd() {
        Some(TEST_CMD_ECHO) => {
            conn.reply(&message(TEST_FAMILY_ID, 0, m.seq, conn.port(), &m.payload));
            ack(conn, m);
        }
        Some(TEST_CMD_NOTIFY) => {
            let count = get32(TEST_ATTR_COUNT).unwrap_or(1);
            let size = get32(TEST_ATTR_SIZE).unwrap_or(0) as usize;
            let group = get32(TEST_ATTR_GROUP).unwrap_or(TEST_GROUP);
            let members: Vec<Arc<Conn>> = st
                .conns
                .lock()
                .unwrap()
                .iter()
                .filter(|c| c.groups.lock().unwrap().contains(&group))
                .cloned()
                .collect();
            for i in 0..count {
                let mut w = nl::Writer::new();
                w.put_u32(TEST_ATTR_SEQNO, i);
                w.put(TEST_ATTR_PAD, &vec![0x5a; size]);
                let ev = genl(TEST_FAMILY_ID, 0, 0, 0, TEST_CMD_EVENT, 1, w.as_bytes());
                for c in &members {
                    c.event(&ev, &st.stats);
                }
            }
            ack(conn, m);
        }
        Some(TEST_CMD_OVERRUN) => {
            conn.reply(&daemon::OVERRUN);
            ack(conn, m);
        }
        _ => fail(conn, m, libc::EOPNOTSUPP),
    }
}
