//! The daemon: a Unix stream listener, one reader and one writer thread
//! per connection, one upcall thread per datapath.
//!
//! # Robustness
//!
//! - Requests are read one message at a time, at most [`wire::MAX_MSG`]
//!   bytes; a length outside `16..=MAX_MSG` cannot be resynchronised on a
//!   stream, so it is answered `EINVAL` and the connection closed. A
//!   well-framed message that is malformed inside (short headers, bad
//!   attributes, unknown family or command) is answered with its errno
//!   and the connection stays usable.
//! - Replies go through a bounded queue to the connection's writer thread:
//!   a client that does not read blocks only its own requests; upcalls to
//!   a full queue are dropped and counted. A client that dies (even in the
//!   middle of a dump) ends its writer, which ends its dump; the datapaths
//!   are untouched and their misses fall back to the learning switch once
//!   no live connection is subscribed.
//! - Connections are capped ([`MAX_CONNS`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use dpif::{
    Errno, Execute, FlowDel, FlowGet, FlowPut, ListenMask, Op, OpReply, PortSpec, Provider,
    PutFlags, Upcall, UpcallKind,
};
use dpif_netdev::{Datapath, NetdevClass};
use dpif_netlink::abi::*;
use dpif_netlink::socket::OXVS_CTRL_CMD_JOIN_GROUP;
use dpif_netlink::vport::{netdev_type_name, netdev_type_number, parse_netdev_options};
use odp::key::{KeyAttr, PortNo, Ufid};
use odp::nl::Mode;

use crate::learn::{LearnConfig, Learner};
use crate::wire::{self, Frame};

/// Most connections served at once.
pub const MAX_CONNS: usize = 256;
/// Messages queued towards one connection.
const OUT_QUEUE: usize = 256;
/// Flows read from a dump per batch.
const DUMP_BATCH: usize = 64;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Settings of a daemon.
#[derive(Debug, Clone)]
pub struct Config {
    /// The socket path.
    pub socket: PathBuf,
    /// The socket file's group (`None`: the daemon's).
    pub group: Option<u32>,
    /// Learning switch timers.
    pub learn: LearnConfig,
    /// Poll threads per datapath.
    pub n_pmds: usize,
    /// How long the rest of a message may take once its first byte came;
    /// a peer stalling longer is disconnected.
    pub partial_timeout: Duration,
}

impl Config {
    /// Defaults with socket `path`.
    pub fn new(path: impl Into<PathBuf>) -> Config {
        Config {
            socket: path.into(),
            group: None,
            learn: LearnConfig::default(),
            n_pmds: 1,
            partial_timeout: Duration::from_secs(10),
        }
    }
}

/// A client connection.
struct Conn {
    pid: u32,
    out: SyncSender<Vec<u8>>,
    /// Messages queued but not yet written.
    queued: Arc<AtomicU64>,
    groups: Mutex<HashSet<u32>>,
    stream: UnixStream,
    lost: AtomicU64,
    /// Whether the peer is root or the daemon's own user (may add `pcap`
    /// ports, which read and write files as the daemon).
    trusted: bool,
}

impl Conn {
    /// Queues a message, waiting for room; false once the peer is gone.
    fn send(&self, msg: Vec<u8>) -> bool {
        self.queued.fetch_add(1, Ordering::Relaxed);
        let ok = self.out.send(msg).is_ok();
        if !ok {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
        ok
    }

    /// Queues without waiting; false (and nothing queued) when full or gone.
    fn try_send(&self, msg: Vec<u8>) -> bool {
        self.queued.fetch_add(1, Ordering::Relaxed);
        let ok = self.out.try_send(msg).is_ok();
        if !ok {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
        ok
    }
}

/// A datapath the daemon hosts.
pub struct DpEntry {
    /// Its name.
    pub name: String,
    /// Its handle in `ovs_header.dp_ifindex`.
    pub ifindex: i32,
    /// The datapath.
    pub dp: Arc<Datapath>,
    upcall_pid: AtomicU32,
    /// The connection that last set upcall PIDs (0: none). While it lives
    /// the datapath is the clients' (misses go to PIDs, or are lost when
    /// there are none); otherwise misses go to the learning switch.
    manager: AtomicU32,
    /// Upcalls dropped here (subscriber's queue full): counted as lost.
    lost: AtomicU64,
    /// Set while the upcall thread handles upcalls it took.
    busy: AtomicBool,
    user_features: AtomicU32,
    port_pids: Mutex<HashMap<u32, Vec<u32>>>,
    /// Its learning switch.
    pub learner: Mutex<Learner>,
    stop: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The daemon's state, shared by every thread.
pub struct State {
    cfg: Config,
    class: NetdevClass,
    dps: Mutex<BTreeMap<i32, Arc<DpEntry>>>,
    conns: Mutex<HashMap<u32, Arc<Conn>>>,
    next_pid: AtomicU32,
    next_ifindex: AtomicI32,
    socket_gid: u32,
    my_uid: u32,
}

/// A running daemon (see the module docs).
pub struct Server {
    state: Arc<State>,
    listener: UnixListener,
}

impl Server {
    /// Binds the socket: creates its directory (0755) if missing, replaces a
    /// stale socket file, and makes the socket mode 0660.
    ///
    /// # Errors
    /// `EADDRINUSE` if a daemon answers on the path already; I/O errors.
    pub fn bind(cfg: Config) -> std::io::Result<Server> {
        let path = cfg.socket.clone();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir)?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
            }
        }
        if path.exists() {
            if UnixStream::connect(&path).is_ok() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    format!("{}: a daemon is already listening", path.display()),
                ));
            }
            std::fs::remove_file(&path)?;
        }
        let listener = UnixListener::bind(&path)?;
        if let Some(g) = cfg.group {
            std::os::unix::fs::chown(&path, None, Some(g))?;
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))?;
        let socket_gid = std::fs::metadata(&path)?.gid();
        listener.set_nonblocking(true)?;
        let state = Arc::new(State {
            class: NetdevClass {
                n_pmds: cfg.n_pmds.max(1),
            },
            cfg,
            dps: Mutex::new(BTreeMap::new()),
            conns: Mutex::new(HashMap::new()),
            next_pid: AtomicU32::new(1),
            next_ifindex: AtomicI32::new(1),
            socket_gid,
            my_uid: rustix::process::geteuid().as_raw(),
        });
        Ok(Server { state, listener })
    }

    /// The shared state (datapaths), for the one-command mode and tests.
    pub fn state(&self) -> Arc<State> {
        self.state.clone()
    }

    /// Serves until `stop` is set, then shuts down: closes every
    /// connection, destroys every datapath and removes the socket file.
    pub fn run(self, stop: &AtomicBool) {
        while !stop.load(Ordering::Relaxed) {
            if !dpif_netlink::socket::poll_readable(
                &[self.listener.as_fd()],
                Some(Duration::from_millis(200)),
            ) {
                continue;
            }
            match self.listener.accept() {
                Ok((stream, _)) => self.state.clone().accept(stream),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    log::warn!("accept: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
        self.state.shutdown();
        let _ = std::fs::remove_file(&self.state.cfg.socket);
    }
}

/// Whether the peer may use the daemon: root, the daemon's own user, or a
/// member of the socket's group.
fn peer_allowed(stream: &UnixStream, socket_gid: u32, my_uid: u32) -> Option<bool> {
    let cred = rustix::net::sockopt::socket_peercred(stream).ok()?;
    let uid = cred.uid.as_raw();
    if uid == 0 || uid == my_uid {
        return Some(true);
    }
    if cred.gid.as_raw() == socket_gid {
        return Some(false);
    }
    // Supplementary groups of the peer process.
    let status = std::fs::read_to_string(format!("/proc/{}/status", cred.pid.as_raw_nonzero()))
        .unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .is_some_and(|g| {
            g.split_whitespace()
                .any(|x| x.parse::<u32>() == Ok(socket_gid))
        })
        .then_some(false)
}

impl State {
    /// The datapath named `name`.
    pub fn datapath(&self, name: &str) -> Option<Arc<DpEntry>> {
        lock(&self.dps).values().find(|d| d.name == name).cloned()
    }

    fn accept(self: Arc<State>, mut stream: UnixStream) {
        let _ = stream.set_nonblocking(false);
        let Some(trusted) = peer_allowed(&stream, self.socket_gid, self.my_uid) else {
            log::warn!("connection refused: peer credentials");
            let _ = stream.write_all(&wire::refusal());
            return;
        };
        if lock(&self.conns).len() >= MAX_CONNS {
            log::warn!("connection refused: {MAX_CONNS} connections open");
            return;
        }
        let pid = self.next_pid.fetch_add(1, Ordering::Relaxed);
        let Ok(writer) = stream.try_clone() else {
            return;
        };
        let Ok(keep) = stream.try_clone() else {
            return;
        };
        let (tx, rx) = sync_channel(OUT_QUEUE);
        let queued = Arc::new(AtomicU64::new(0));
        let q2 = queued.clone();
        let conn = Arc::new(Conn {
            pid,
            out: tx,
            queued,
            groups: Mutex::new(HashSet::new()),
            stream: keep,
            lost: AtomicU64::new(0),
            trusted,
        });
        if !conn.send(wire::greeting(pid)) {
            return;
        }
        lock(&self.conns).insert(pid, conn.clone());
        let _ = std::thread::Builder::new()
            .name(format!("oxvsd-w{pid}"))
            .spawn(move || write_loop(writer, rx, &q2));
        let _ = std::thread::Builder::new()
            .name(format!("oxvsd-r{pid}"))
            .spawn(move || {
                self.read_loop(&conn, &mut stream);
                lock(&self.conns).remove(&conn.pid);
                // Let the writer flush what is queued (a last error), for a
                // second at most, then close both ways.
                let deadline = Instant::now() + Duration::from_secs(1);
                while conn.queued.load(Ordering::Relaxed) > 0 && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(2));
                }
                let _ = stream.shutdown(std::net::Shutdown::Both);
                let dps: Vec<Arc<DpEntry>> = lock(&self.dps).values().cloned().collect();
                for d in dps {
                    if d.manager.load(Ordering::Relaxed) == conn.pid {
                        self.refresh_mask(&d);
                    }
                }
                let lost = conn.lost.load(Ordering::Relaxed);
                if lost > 0 {
                    log::info!("connection {}: {lost} upcalls dropped", conn.pid);
                }
            });
    }

    fn read_loop(self: &Arc<Self>, conn: &Conn, stream: &mut UnixStream) {
        let mut buf = Vec::new();
        loop {
            // Idle between messages for as long as the peer likes; once a
            // message starts, it must arrive within the partial timeout.
            let mut hdr = [0u8; NLMSG_HDRLEN];
            if stream.set_read_timeout(None).is_err() {
                return;
            }
            match stream.read(&mut hdr[..1]) {
                Ok(1) => {}
                _ => return,
            }
            if stream
                .set_read_timeout(Some(self.cfg.partial_timeout.max(Duration::from_millis(1))))
                .is_err()
                || stream.read_exact(&mut hdr[1..]).is_err()
            {
                return;
            }
            let len = wire::header_len(&hdr);
            if !(NLMSG_HDRLEN..=wire::MAX_MSG).contains(&len) {
                // Cannot find the next message: say why and close.
                conn.send(wire::error_raw(&hdr, conn.pid, errno::EINVAL));
                return;
            }
            buf.clear();
            buf.extend_from_slice(&hdr);
            buf.resize(len, 0);
            if stream.read_exact(&mut buf[NLMSG_HDRLEN..]).is_err() {
                return;
            }
            let f = wire::parse(&buf);
            if !self.dispatch(conn, &f) {
                return;
            }
        }
    }

    /// Handles one request; false when the connection is gone.
    fn dispatch(self: &Arc<Self>, conn: &Conn, f: &Frame) -> bool {
        if f.flags & NLM_F_REQUEST == 0 || wire::header_len(&f.hdr) < NLMSG_HDRLEN + GENL_HDRLEN {
            return conn.send(wire::error(f, conn.pid, errno::EINVAL));
        }
        let dump = f.flags & NLM_F_DUMP == NLM_F_DUMP && f.cmd == OVS_DP_CMD_GET;
        let r = match f.ty {
            GENL_ID_CTRL => self.ctrl(conn, f),
            wire::FAM_DP => self.dp_cmd(conn, f, dump),
            wire::FAM_VPORT => self.vport_cmd(conn, f, dump),
            wire::FAM_FLOW => self.flow_cmd(conn, f, dump),
            wire::FAM_PACKET => self.packet_cmd(f),
            _ => Err(Errno::EOPNOTSUPP),
        };
        match r {
            Ok(Reply::None) => {
                if f.flags & NLM_F_ACK != 0 {
                    conn.send(wire::error(f, conn.pid, 0))
                } else {
                    true
                }
            }
            Ok(Reply::Msg(m)) => {
                conn.send(m) && (f.flags & NLM_F_ACK == 0 || conn.send(wire::error(f, conn.pid, 0)))
            }
            Ok(Reply::DumpDone) => conn.send(wire::done(f.seq, conn.pid)),
            Ok(Reply::Gone) => false,
            Err(e) => conn.send(wire::error(f, conn.pid, e.get())),
        }
    }

    // ---- families ---------------------------------------------------------

    fn ctrl(&self, conn: &Conn, f: &Frame) -> Result<Reply, Errno> {
        let a = Attrs::parse(&f.body)?;
        match f.cmd {
            CTRL_CMD_GETFAMILY => {
                if f.flags & NLM_F_DUMP == NLM_F_DUMP {
                    for fam in &wire::FAMILIES {
                        let m = self.family_msg(f, conn, fam, NLM_F_MULTI);
                        if !conn.send(m) {
                            return Ok(Reply::Gone);
                        }
                    }
                    return Ok(Reply::DumpDone);
                }
                let name = a.string(CTRL_ATTR_FAMILY_NAME);
                let id = a.u16(CTRL_ATTR_FAMILY_ID);
                let fam = wire::FAMILIES
                    .iter()
                    .find(|x| Some(x.name) == name.as_deref() || Some(x.id) == id)
                    .ok_or(Errno::ENOENT)?;
                Ok(Reply::Msg(self.family_msg(f, conn, fam, 0)))
            }
            OXVS_CTRL_CMD_JOIN_GROUP => {
                let g = a.u32(CTRL_ATTR_MCAST_GRP_ID).ok_or(Errno::EINVAL)?;
                lock(&conn.groups).insert(g);
                Ok(Reply::None)
            }
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    fn family_msg(&self, f: &Frame, conn: &Conn, fam: &wire::FamilyDef, flags: u16) -> Vec<u8> {
        wire::message(
            GENL_ID_CTRL,
            flags,
            f.seq,
            conn.pid,
            1, // CTRL_CMD_NEWFAMILY
            2,
            None,
            &wire::family_attrs(fam),
        )
    }

    // ---- datapaths --------------------------------------------------------

    fn find_dp(&self, ifindex: i32, name: Option<&str>) -> Result<Arc<DpEntry>, Errno> {
        let dps = lock(&self.dps);
        if ifindex != 0 {
            return dps.get(&ifindex).cloned().ok_or(Errno::ENODEV);
        }
        let name = name.ok_or(Errno::EINVAL)?;
        dps.values()
            .find(|d| d.name == name)
            .cloned()
            .ok_or(Errno::ENODEV)
    }

    /// Waits (briefly) until the misses counted so far have been delivered
    /// to their subscribers' sockets, so statistics and received upcalls
    /// agree as they do with the kernel, which queues upcalls at once.
    fn settle(&self, d: &DpEntry) {
        let deadline = Instant::now() + Duration::from_millis(200);
        while (d.busy.load(Ordering::Acquire) || d.dp.recv_wait(0, Some(Duration::ZERO)))
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut subscribers: Vec<u32> = lock(&d.port_pids).values().flatten().copied().collect();
        subscribers.push(d.upcall_pid.load(Ordering::Relaxed));
        loop {
            let busy = {
                let conns = lock(&self.conns);
                subscribers
                    .iter()
                    .filter_map(|p| conns.get(p))
                    .any(|c| c.queued.load(Ordering::Relaxed) > 0)
            };
            if !busy || Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn dp_msg(&self, d: &DpEntry, cmd: u8, flags: u16, seq: u32, pid: u32) -> Vec<u8> {
        let mut w = nl::Writer::new();
        w.put_string(OVS_DP_ATTR_NAME, &d.name);
        w.put_u32(OVS_DP_ATTR_UPCALL_PID, d.upcall_pid.load(Ordering::Relaxed));
        let s = d.dp.get_stats().unwrap_or_default();
        let lost = s.n_lost + d.lost.load(Ordering::Relaxed);
        let stats: Vec<u8> = [s.n_hit, s.n_missed, lost, s.n_flows]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        w.put(OVS_DP_ATTR_STATS, &stats);
        let mut mf = Vec::with_capacity(32);
        mf.extend_from_slice(&s.n_mask_hit.to_ne_bytes());
        mf.extend_from_slice(&s.n_masks.to_ne_bytes());
        mf.extend_from_slice(&0u32.to_ne_bytes());
        mf.extend_from_slice(&s.n_cache_hit.to_ne_bytes());
        mf.extend_from_slice(&0u64.to_ne_bytes());
        w.put(OVS_DP_ATTR_MEGAFLOW_STATS, &mf);
        w.put_u32(
            OVS_DP_ATTR_USER_FEATURES,
            d.user_features.load(Ordering::Relaxed),
        );
        if let Ok(df) = d.dp.get_drop_frags() {
            w.put_u32(OXVS_DP_ATTR_DROP_FRAGS, u32::from(df));
        }
        if let Ok(p) = d.dp.get_sflow_probability() {
            w.put_u32(OXVS_DP_ATTR_SFLOW_PROBABILITY, p);
        }
        wire::message(
            wire::FAM_DP,
            flags,
            seq,
            pid,
            cmd,
            OVS_DATAPATH_VERSION,
            Some(d.ifindex),
            w.as_bytes(),
        )
    }

    /// Creates datapath `name` and starts its upcall thread.
    ///
    /// # Errors
    /// `EEXIST` if it exists; `EINVAL` for a bad name.
    pub fn create_dp(
        self: &Arc<State>,
        name: &str,
        upcall_pid: u32,
    ) -> Result<Arc<DpEntry>, Errno> {
        if name.is_empty() || name.len() >= 16 || name.contains(['/', ' ', ':']) {
            return Err(Errno::EINVAL);
        }
        if self.datapath(name).is_some() {
            return Err(Errno::EEXIST);
        }
        let dp = self.class.open_dp(name, true)?;
        dp.recv_set_mask(ListenMask::ALL)?;
        dp.handlers_set(1)?;
        let e = Arc::new(DpEntry {
            name: name.to_string(),
            ifindex: self.next_ifindex.fetch_add(1, Ordering::Relaxed),
            dp,
            upcall_pid: AtomicU32::new(upcall_pid),
            manager: AtomicU32::new(0),
            lost: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            user_features: AtomicU32::new(0),
            port_pids: Mutex::new(HashMap::new()),
            learner: Mutex::new(Learner::new(self.cfg.learn)),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
        });
        lock(&self.dps).insert(e.ifindex, e.clone());
        let (st, de) = (self.clone(), e.clone());
        let t = std::thread::Builder::new()
            .name(format!("oxvsd-up-{name}"))
            .spawn(move || st.upcall_loop(&de))
            .map_err(|_| Errno::ENOMEM)?;
        *lock(&e.thread) = Some(t);
        Ok(e)
    }

    /// Stops a datapath's upcall thread and destroys it.
    fn destroy_dp(&self, d: &DpEntry) -> Result<(), Errno> {
        lock(&self.dps).remove(&d.ifindex);
        d.stop.store(true, Ordering::Relaxed);
        if let Some(t) = lock(&d.thread).take() {
            let _ = t.join();
        }
        d.dp.destroy()
    }

    fn shutdown(&self) {
        for c in lock(&self.conns).values() {
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
        let dps: Vec<Arc<DpEntry>> = lock(&self.dps).values().cloned().collect();
        for d in dps {
            if let Err(e) = self.destroy_dp(&d) {
                log::warn!("destroying {}: {e}", d.name);
            }
        }
    }

    fn dp_cmd(self: &Arc<Self>, conn: &Conn, f: &Frame, dump: bool) -> Result<Reply, Errno> {
        let (ifindex, a) = ovs_body(&f.body)?;
        let echo = f.flags & NLM_F_ECHO != 0;
        match f.cmd {
            OVS_DP_CMD_NEW => {
                let name = a.string(OVS_DP_ATTR_NAME).ok_or(Errno::EINVAL)?;
                let pid = a.u32(OVS_DP_ATTR_UPCALL_PID).ok_or(Errno::EINVAL)?;
                let d = self.create_dp(&name, pid)?;
                d.manager.store(conn.pid, Ordering::Relaxed);
                self.refresh_mask(&d);
                if let Some(u) = a.u32(OVS_DP_ATTR_USER_FEATURES) {
                    d.user_features.store(u, Ordering::Relaxed);
                }
                Ok(self.maybe(echo, || self.dp_msg(&d, OVS_DP_CMD_NEW, 0, f.seq, conn.pid)))
            }
            OVS_DP_CMD_DEL => {
                let d = self.find_dp(ifindex, a.string(OVS_DP_ATTR_NAME).as_deref())?;
                let m = self.dp_msg(&d, OVS_DP_CMD_DEL, 0, f.seq, conn.pid);
                self.destroy_dp(&d)?;
                Ok(self.maybe(echo, || m))
            }
            OVS_DP_CMD_GET if dump => {
                let dps: Vec<Arc<DpEntry>> = lock(&self.dps).values().cloned().collect();
                for d in dps {
                    if !conn.send(self.dp_msg(&d, OVS_DP_CMD_NEW, NLM_F_MULTI, f.seq, conn.pid)) {
                        return Ok(Reply::Gone);
                    }
                }
                Ok(Reply::DumpDone)
            }
            OVS_DP_CMD_GET => {
                let d = self.find_dp(ifindex, a.string(OVS_DP_ATTR_NAME).as_deref())?;
                self.settle(&d);
                Ok(Reply::Msg(self.dp_msg(
                    &d,
                    OVS_DP_CMD_NEW,
                    0,
                    f.seq,
                    conn.pid,
                )))
            }
            OVS_DP_CMD_SET => {
                let d = self.find_dp(ifindex, a.string(OVS_DP_ATTR_NAME).as_deref())?;
                if let Some(p) = a.u32(OVS_DP_ATTR_UPCALL_PID) {
                    d.upcall_pid.store(p, Ordering::Relaxed);
                    d.manager.store(conn.pid, Ordering::Relaxed);
                }
                self.refresh_mask(&d);
                if let Some(df) = a.u32(OXVS_DP_ATTR_DROP_FRAGS) {
                    d.dp.set_drop_frags(df != 0)?;
                }
                if let Some(p) = a.u32(OXVS_DP_ATTR_SFLOW_PROBABILITY) {
                    d.dp.set_sflow_probability(p)?;
                }
                d.user_features.store(
                    a.u32(OVS_DP_ATTR_USER_FEATURES).unwrap_or(0),
                    Ordering::Relaxed,
                );
                Ok(self.maybe(echo, || self.dp_msg(&d, OVS_DP_CMD_NEW, 0, f.seq, conn.pid)))
            }
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    fn maybe(&self, echo: bool, m: impl FnOnce() -> Vec<u8>) -> Reply {
        if echo {
            Reply::Msg(m())
        } else {
            Reply::None
        }
    }

    // ---- vports -----------------------------------------------------------

    fn vport_msg(
        &self,
        d: &DpEntry,
        port_no: PortNo,
        cmd: u8,
        flags: u16,
        seq: u32,
        pid: u32,
    ) -> Result<Vec<u8>, Errno> {
        let p = d.dp.port_query_by_number(port_no)?;
        let mut w = nl::Writer::new();
        w.put_u32(OVS_VPORT_ATTR_PORT_NO, p.port_no.0);
        w.put_u32(
            OVS_VPORT_ATTR_TYPE,
            netdev_type_number(&p.port_type).unwrap_or(0x4f58_00ff),
        );
        w.put_string(OVS_VPORT_ATTR_NAME, &p.name);
        let pids = lock(&d.port_pids)
            .get(&p.port_no.0)
            .cloned()
            .unwrap_or_else(|| vec![0]);
        let pb: Vec<u8> = pids.iter().flat_map(|x| x.to_ne_bytes()).collect();
        w.put(OVS_VPORT_ATTR_UPCALL_PID, &pb);
        let s = d.dp.port_stats(p.port_no).unwrap_or_default();
        let sb: Vec<u8> = [
            s.rx_packets,
            s.tx_packets,
            s.rx_bytes,
            s.tx_bytes,
            s.rx_errors,
            s.tx_errors,
            s.rx_dropped,
            s.tx_dropped,
        ]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
        w.put(OVS_VPORT_ATTR_STATS, &sb);
        Ok(wire::message(
            wire::FAM_VPORT,
            flags,
            seq,
            pid,
            cmd,
            OVS_VPORT_VERSION,
            Some(d.ifindex),
            w.as_bytes(),
        ))
    }

    /// Sends a port notification to the connections in the vport group.
    fn notify_vport(&self, msg: &[u8]) {
        let conns: Vec<Arc<Conn>> = lock(&self.conns).values().cloned().collect();
        for c in conns {
            if lock(&c.groups).contains(&wire::GROUP_VPORT) {
                let mut m = msg.to_vec();
                m[8..12].copy_from_slice(&0u32.to_ne_bytes());
                if !c.try_send(m) {
                    c.lost.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// The datapath and port a vport request names.
    fn find_vport(&self, ifindex: i32, a: &Attrs<'_>) -> Result<(Arc<DpEntry>, PortNo), Errno> {
        if let Some(n) = a.u32(OVS_VPORT_ATTR_PORT_NO) {
            let d = self.find_dp(ifindex, None)?;
            d.dp.port_query_by_number(PortNo(n))?;
            return Ok((d, PortNo(n)));
        }
        let name = a.string(OVS_VPORT_ATTR_NAME).ok_or(Errno::EINVAL)?;
        let dps: Vec<Arc<DpEntry>> = if ifindex != 0 {
            vec![self.find_dp(ifindex, None)?]
        } else {
            lock(&self.dps).values().cloned().collect()
        };
        for d in dps {
            if let Ok(p) = d.dp.port_query_by_name(&name) {
                return Ok((d, p.port_no));
            }
        }
        Err(Errno::ENODEV)
    }

    fn vport_cmd(&self, conn: &Conn, f: &Frame, dump: bool) -> Result<Reply, Errno> {
        let (ifindex, a) = ovs_body(&f.body)?;
        let echo = f.flags & NLM_F_ECHO != 0;
        match f.cmd {
            OVS_VPORT_CMD_NEW => {
                let d = self.find_dp(ifindex, None)?;
                let name = a.string(OVS_VPORT_ATTR_NAME).ok_or(Errno::EINVAL)?;
                let ty = a.u32(OVS_VPORT_ATTR_TYPE).ok_or(Errno::EINVAL)?;
                let ty = netdev_type_name(ty).ok_or(Errno::EINVAL)?;
                if ty == "pcap" && !conn.trusted {
                    // pcap ports open files as the daemon.
                    return Err(Errno::EPERM);
                }
                let pids = a
                    .get(OVS_VPORT_ATTR_UPCALL_PID)
                    .map(u32s)
                    .ok_or(Errno::EINVAL)?;
                let spec = PortSpec {
                    name,
                    port_type: ty.to_string(),
                    options: a
                        .get(OVS_VPORT_ATTR_OPTIONS)
                        .map(parse_netdev_options)
                        .unwrap_or_default(),
                };
                let no =
                    d.dp.port_add(&spec, a.u32(OVS_VPORT_ATTR_PORT_NO).map(PortNo))?;
                lock(&d.port_pids).insert(no.0, pids);
                d.manager.store(conn.pid, Ordering::Relaxed);
                self.refresh_mask(&d);
                let m = self.vport_msg(&d, no, OVS_VPORT_CMD_NEW, 0, f.seq, conn.pid)?;
                self.notify_vport(&m);
                Ok(self.maybe(echo, || m))
            }
            OVS_VPORT_CMD_DEL => {
                let (d, no) = self.find_vport(ifindex, &a)?;
                if no.0 == 0 {
                    return Err(Errno::EINVAL);
                }
                let m = self.vport_msg(&d, no, OVS_VPORT_CMD_DEL, 0, f.seq, conn.pid)?;
                d.dp.port_del(no)?;
                lock(&d.port_pids).remove(&no.0);
                self.notify_vport(&m);
                Ok(self.maybe(echo, || m))
            }
            OVS_VPORT_CMD_GET if dump => {
                let d = self.find_dp(ifindex, None)?;
                for p in d.dp.port_dump()? {
                    let Ok(m) = self.vport_msg(
                        &d,
                        p.port_no,
                        OVS_VPORT_CMD_NEW,
                        NLM_F_MULTI,
                        f.seq,
                        conn.pid,
                    ) else {
                        continue;
                    };
                    if !conn.send(m) {
                        return Ok(Reply::Gone);
                    }
                }
                Ok(Reply::DumpDone)
            }
            OVS_VPORT_CMD_GET => {
                let (d, no) = self.find_vport(ifindex, &a)?;
                Ok(Reply::Msg(self.vport_msg(
                    &d,
                    no,
                    OVS_VPORT_CMD_NEW,
                    0,
                    f.seq,
                    conn.pid,
                )?))
            }
            OVS_VPORT_CMD_SET => {
                let (d, no) = self.find_vport(ifindex, &a)?;
                if let Some(p) = a.get(OVS_VPORT_ATTR_UPCALL_PID) {
                    lock(&d.port_pids).insert(no.0, u32s(p));
                    d.manager.store(conn.pid, Ordering::Relaxed);
                    self.refresh_mask(&d);
                }
                let m = self.vport_msg(&d, no, OVS_VPORT_CMD_NEW, 0, f.seq, conn.pid)?;
                Ok(self.maybe(echo, || m))
            }
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    // ---- flows ------------------------------------------------------------

    fn flow_cmd(&self, conn: &Conn, f: &Frame, dump: bool) -> Result<Reply, Errno> {
        let (ifindex, a) = ovs_body(&f.body)?;
        let d = self.find_dp(ifindex, None)?;
        let echo = f.flags & NLM_F_ECHO != 0;
        let key = match a.get(OVS_FLOW_ATTR_KEY) {
            Some(b) => Some(
                odp::nl::key::decode_keys(b, Mode::Tolerant)
                    .map_err(|_| Errno::EINVAL)?
                    .0,
            ),
            None => None,
        };
        let ufid = a.get(OVS_FLOW_ATTR_UFID).map(|b| {
            let mut u = [0u8; 16];
            let n = b.len().min(16);
            u[..n].copy_from_slice(&b[..n]);
            Ufid(u128::from_ne_bytes(u))
        });
        let ufid_flags = a.u32(OVS_FLOW_ATTR_UFID_FLAGS).unwrap_or(0);
        match f.cmd {
            OVS_FLOW_CMD_NEW | OVS_FLOW_CMD_SET => {
                let key = key.ok_or(Errno::EINVAL)?;
                let mask = match a.get(OVS_FLOW_ATTR_MASK) {
                    Some(b) => Some(
                        odp::nl::key::decode_mask(b, &key, Mode::Tolerant)
                            .map_err(|_| Errno::EINVAL)?,
                    ),
                    None => None,
                };
                let actions = match a.get(OVS_FLOW_ATTR_ACTIONS) {
                    Some(b) => Some(
                        odp::nl::action::decode_actions(b, Mode::Tolerant)
                            .map_err(|_| Errno::EINVAL)?,
                    ),
                    None => None,
                };
                let flags = if f.cmd == OVS_FLOW_CMD_SET {
                    PutFlags {
                        zero_stats: a.has(OVS_FLOW_ATTR_CLEAR),
                        ..PutFlags::MODIFY
                    }
                } else if f.flags & (NLM_F_CREATE | NLM_F_EXCL) != 0 {
                    PutFlags::CREATE
                } else {
                    PutFlags::CREATE_OR_MODIFY
                };
                let actions = match actions {
                    Some(x) => x,
                    None if f.cmd == OVS_FLOW_CMD_SET => {
                        // Keep the actions: only the statistics change.
                        match d
                            .dp
                            .operate(&[Op::Get(FlowGet {
                                key: key.clone(),
                                ufid,
                            })])
                            .pop()
                        {
                            Some(Ok(OpReply::Get(fl))) => fl.actions,
                            Some(Err(e)) => return Err(e),
                            _ => return Err(Errno::EINVAL),
                        }
                    }
                    None => return Err(Errno::EINVAL),
                };
                let put = FlowPut {
                    flags: PutFlags {
                        probe: a.has(OVS_FLOW_ATTR_PROBE),
                        ..flags
                    },
                    key,
                    mask,
                    ufid,
                    actions,
                    want_stats: echo,
                };
                let stats = match d.dp.operate(&[Op::Put(put)]).pop() {
                    Some(Ok(OpReply::Put(s))) => s.unwrap_or_default(),
                    Some(Err(e)) => return Err(e),
                    _ => dpif::FlowStats::default(),
                };
                Ok(self.maybe(echo, || {
                    flow_msg(&d, ufid, None, stats, f.cmd, 0, f.seq, conn.pid, 0)
                }))
            }
            OVS_FLOW_CMD_DEL => {
                if key.is_none() && ufid.is_none() {
                    d.dp.flow_flush()?;
                    return Ok(Reply::None);
                }
                let del = FlowDel {
                    key: key.unwrap_or_default(),
                    ufid,
                    want_stats: echo,
                };
                let stats = match d.dp.operate(&[Op::Del(del)]).pop() {
                    Some(Ok(OpReply::Del(s))) => s.unwrap_or_default(),
                    Some(Err(e)) => return Err(e),
                    _ => dpif::FlowStats::default(),
                };
                Ok(self.maybe(echo, || {
                    flow_msg(
                        &d,
                        ufid,
                        None,
                        stats,
                        OVS_FLOW_CMD_DEL,
                        0,
                        f.seq,
                        conn.pid,
                        0,
                    )
                }))
            }
            OVS_FLOW_CMD_GET if dump => {
                let terse = ufid_flags
                    & (OVS_UFID_F_OMIT_KEY | OVS_UFID_F_OMIT_MASK | OVS_UFID_F_OMIT_ACTIONS)
                    == (OVS_UFID_F_OMIT_KEY | OVS_UFID_F_OMIT_MASK | OVS_UFID_F_OMIT_ACTIONS);
                let dumper = d.dp.flow_dump(terse)?;
                let mut cursor = dumper.cursor();
                let mut batch = Vec::with_capacity(DUMP_BATCH);
                loop {
                    batch.clear();
                    let n = cursor.next(&mut batch, DUMP_BATCH)?;
                    if n == 0 {
                        break;
                    }
                    for fl in batch.drain(..) {
                        let m = flow_msg(
                            &d,
                            Some(fl.ufid),
                            Some(&fl),
                            fl.stats,
                            OVS_FLOW_CMD_NEW,
                            NLM_F_MULTI,
                            f.seq,
                            conn.pid,
                            ufid_flags,
                        );
                        if !conn.send(m) {
                            return Ok(Reply::Gone);
                        }
                    }
                }
                Ok(Reply::DumpDone)
            }
            OVS_FLOW_CMD_GET => {
                let get = FlowGet {
                    key: key.unwrap_or_default(),
                    ufid,
                };
                match d.dp.operate(&[Op::Get(get)]).pop() {
                    Some(Ok(OpReply::Get(fl))) => Ok(Reply::Msg(flow_msg(
                        &d,
                        Some(fl.ufid),
                        Some(&fl),
                        fl.stats,
                        OVS_FLOW_CMD_NEW,
                        0,
                        f.seq,
                        conn.pid,
                        ufid_flags,
                    ))),
                    Some(Err(e)) => Err(e),
                    _ => Err(Errno::EIO),
                }
            }
            _ => Err(Errno::EOPNOTSUPP),
        }
    }

    // ---- packets ----------------------------------------------------------

    fn packet_cmd(&self, f: &Frame) -> Result<Reply, Errno> {
        let (ifindex, a) = ovs_body(&f.body)?;
        if f.cmd != OVS_PACKET_CMD_EXECUTE {
            return Err(Errno::EOPNOTSUPP);
        }
        let d = self.find_dp(ifindex, None)?;
        let packet = a.get(OVS_PACKET_ATTR_PACKET).ok_or(Errno::EINVAL)?.to_vec();
        let key = odp::nl::key::decode_keys(
            a.get(OVS_PACKET_ATTR_KEY).ok_or(Errno::EINVAL)?,
            Mode::Tolerant,
        )
        .map_err(|_| Errno::EINVAL)?
        .0;
        let actions = odp::nl::action::decode_actions(
            a.get(OVS_PACKET_ATTR_ACTIONS).ok_or(Errno::EINVAL)?,
            Mode::Tolerant,
        )
        .map_err(|_| Errno::EINVAL)?;
        let x = Execute {
            packet,
            metadata: key,
            actions,
            mtu: a
                .get(OVS_PACKET_ATTR_MRU)
                .and_then(|b| b.get(..2))
                .map_or(0, |b| u16::from_ne_bytes([b[0], b[1]])),
            probe: a.has(OVS_PACKET_ATTR_PROBE),
        };
        match d.dp.operate(&[Op::Execute(x)]).pop() {
            Some(Ok(_)) => Ok(Reply::None),
            Some(Err(e)) => Err(e),
            None => Err(Errno::EIO),
        }
    }

    // ---- upcalls ----------------------------------------------------------

    /// Whether a live client manages datapath `d`'s upcalls.
    fn managed(&self, d: &DpEntry) -> bool {
        let m = d.manager.load(Ordering::Relaxed);
        m != 0 && lock(&self.conns).contains_key(&m)
    }

    /// Sets the datapath's miss listening: on for the learning switch, or
    /// as the managing client's PIDs say (no PID: misses counted lost).
    fn refresh_mask(&self, d: &DpEntry) {
        let miss = !self.managed(d)
            || d.upcall_pid.load(Ordering::Relaxed) != 0
            || lock(&d.port_pids).values().flatten().any(|&p| p != 0);
        let want = ListenMask {
            miss,
            action: true,
            sample: true,
        };
        if d.dp.recv_get_mask() != want {
            let _ = d.dp.recv_set_mask(want);
        }
    }

    fn upcall_loop(&self, d: &DpEntry) {
        let mut last_expire = Instant::now();
        while !d.stop.load(Ordering::Relaxed) {
            if d.dp.recv_wait(0, Some(Duration::from_millis(100))) {
                d.busy.store(true, Ordering::Release);
                for _ in 0..256 {
                    match d.dp.recv(0) {
                        Ok(Some(up)) => self.deliver(d, up),
                        Ok(None) => break,
                        Err(e) => {
                            log::warn!("{}: recv: {e}", d.name);
                            std::thread::sleep(Duration::from_millis(10));
                            break;
                        }
                    }
                }
            }
            d.busy.store(false, Ordering::Release);
            if last_expire.elapsed() >= Duration::from_secs(1) {
                last_expire = Instant::now();
                self.refresh_mask(d);
                if !self.managed(d) {
                    lock(&d.learner).expire(d.dp.as_ref());
                }
            }
        }
    }

    /// Sends an upcall to a live subscriber of its port (or the datapath),
    /// else gives a miss to the learning switch.
    fn deliver(&self, d: &DpEntry, up: Upcall) {
        let in_port = up.key.iter().find_map(|a| match a {
            KeyAttr::InPort(p) => Some(*p),
            _ => None,
        });
        let mut pids: Vec<u32> = in_port
            .and_then(|p| lock(&d.port_pids).get(&p).cloned())
            .unwrap_or_default();
        pids.retain(|&p| p != 0);
        if pids.is_empty() {
            let p = d.upcall_pid.load(Ordering::Relaxed);
            if p != 0 {
                pids.push(p);
            }
        }
        let conns = lock(&self.conns);
        let live: Vec<&Arc<Conn>> = pids.iter().filter_map(|p| conns.get(p)).collect();
        if live.is_empty() {
            let managed = d.manager.load(Ordering::Relaxed) != 0
                && conns.contains_key(&d.manager.load(Ordering::Relaxed));
            drop(conns);
            if up.kind == UpcallKind::Miss && !managed {
                lock(&d.learner).handle(d.dp.as_ref(), &up);
            }
            return;
        }
        let h = up.hash.unwrap_or(up.ufid.0 as u64) as usize;
        let c = live[h % live.len()].clone();
        drop(conns);
        let m = upcall_msg(d, &up, c.pid);
        if !c.try_send(m) {
            c.lost.fetch_add(1, Ordering::Relaxed);
            d.lost.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What a request produced.
enum Reply {
    /// Nothing but the ack (if asked).
    None,
    /// A reply message, then the ack (if asked).
    Msg(Vec<u8>),
    /// A dump was sent: end it.
    DumpDone,
    /// The peer went away.
    Gone,
}

fn write_loop(mut w: UnixStream, rx: Receiver<Vec<u8>>, queued: &AtomicU64) {
    while let Ok(m) = rx.recv() {
        let r = w.write_all(&m);
        queued.fetch_sub(1, Ordering::Relaxed);
        if r.is_err() {
            let _ = w.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
}

/// Native-order `u32`s.
fn u32s(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// Attributes of a request, by type (the last of a repeated type wins).
struct Attrs<'a> {
    map: HashMap<u16, &'a [u8]>,
}

impl<'a> Attrs<'a> {
    fn parse(b: &'a [u8]) -> Result<Attrs<'a>, Errno> {
        let mut map = HashMap::new();
        for a in nl::AttrIter::new(b) {
            let a = a.map_err(|_| Errno::EINVAL)?;
            map.insert(a.ty, a.payload);
        }
        Ok(Attrs { map })
    }

    fn get(&self, ty: u16) -> Option<&'a [u8]> {
        self.map.get(&ty).copied()
    }

    fn has(&self, ty: u16) -> bool {
        self.map.contains_key(&ty)
    }

    fn u16(&self, ty: u16) -> Option<u16> {
        self.get(ty)
            .and_then(|b| b.get(..2))
            .map(|b| u16::from_ne_bytes([b[0], b[1]]))
    }

    fn u32(&self, ty: u16) -> Option<u32> {
        self.get(ty)
            .and_then(|b| b.get(..4))
            .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&self, ty: u16) -> Option<String> {
        self.get(ty).map(|b| {
            let s = b.split(|&c| c == 0).next().unwrap_or(&[]);
            String::from_utf8_lossy(s).into_owned()
        })
    }
}

/// `ovs_header.dp_ifindex` and the attributes of an openvswitch request.
fn ovs_body(b: &[u8]) -> Result<(i32, Attrs<'_>), Errno> {
    if b.len() < OVS_HEADER_LEN {
        return Err(Errno::EINVAL);
    }
    let i = i32::from_ne_bytes([b[0], b[1], b[2], b[3]]);
    Ok((i, Attrs::parse(&b[OVS_HEADER_LEN..])?))
}

fn encode_keys(k: &[KeyAttr]) -> Vec<u8> {
    let mut w = nl::Writer::new();
    odp::nl::key::emit_keys(k, &mut w);
    w.into_bytes()
}

#[allow(clippy::too_many_arguments)]
fn flow_msg(
    d: &DpEntry,
    ufid: Option<Ufid>,
    flow: Option<&dpif::DpifFlow>,
    stats: dpif::FlowStats,
    cmd: u8,
    flags: u16,
    seq: u32,
    pid: u32,
    ufid_flags: u32,
) -> Vec<u8> {
    let mut w = nl::Writer::new();
    if let Some(fl) = flow {
        if ufid_flags & OVS_UFID_F_OMIT_KEY == 0 {
            w.put(OVS_FLOW_ATTR_KEY, &encode_keys(&fl.key));
        }
        if ufid_flags & OVS_UFID_F_OMIT_MASK == 0 && !fl.mask.is_empty() {
            w.put(OVS_FLOW_ATTR_MASK, &encode_keys(&fl.mask));
        }
    }
    if let Some(u) = ufid {
        w.put(OVS_FLOW_ATTR_UFID, &u.0.to_ne_bytes());
    }
    if stats.n_packets != 0 || stats.n_bytes != 0 {
        let mut s = Vec::with_capacity(16);
        s.extend_from_slice(&stats.n_packets.to_ne_bytes());
        s.extend_from_slice(&stats.n_bytes.to_ne_bytes());
        w.put(OVS_FLOW_ATTR_STATS, &s);
    }
    if stats.tcp_flags != 0 {
        w.put_u8(OVS_FLOW_ATTR_TCP_FLAGS, stats.tcp_flags as u8);
    }
    if stats.used_ms != 0 {
        w.put_u64(OVS_FLOW_ATTR_USED, stats.used_ms);
    }
    if let Some(fl) = flow {
        if ufid_flags & OVS_UFID_F_OMIT_ACTIONS == 0 {
            let a = odp::nl::action::encode_actions(&fl.actions).unwrap_or_default();
            w.put(OVS_FLOW_ATTR_ACTIONS, &a);
        }
    }
    wire::message(
        wire::FAM_FLOW,
        flags,
        seq,
        pid,
        cmd,
        OVS_FLOW_VERSION,
        Some(d.ifindex),
        w.as_bytes(),
    )
}

fn upcall_msg(d: &DpEntry, up: &Upcall, pid: u32) -> Vec<u8> {
    let mut w = nl::Writer::new();
    w.put(OVS_PACKET_ATTR_PACKET, &up.packet);
    w.put(OVS_PACKET_ATTR_KEY, &encode_keys(&up.key));
    if let Some(u) = &up.userdata {
        w.put(OVS_PACKET_ATTR_USERDATA, u);
    }
    if let Some(t) = &up.out_tun_key {
        let mut tw = nl::Writer::new();
        odp::nl::key::emit_tunnel(t, &mut tw);
        w.put(OVS_PACKET_ATTR_EGRESS_TUN_KEY, tw.as_bytes());
    }
    if let Some(a) = &up.actions {
        if let Ok(b) = odp::nl::action::encode_actions(a) {
            w.put(OVS_PACKET_ATTR_ACTIONS, &b);
        }
    }
    if let Some(m) = up.mru {
        w.put_u16(OVS_PACKET_ATTR_MRU, m);
    }
    if let Some(h) = up.hash {
        w.put_u64(OVS_PACKET_ATTR_HASH, h);
    }
    let cmd = match up.kind {
        UpcallKind::Miss => OVS_PACKET_CMD_MISS,
        UpcallKind::Action => OVS_PACKET_CMD_ACTION,
        UpcallKind::Sample => OXVS_PACKET_CMD_SAMPLE,
    };
    wire::message(
        wire::FAM_PACKET,
        0,
        0,
        pid,
        cmd,
        OVS_PACKET_VERSION,
        Some(d.ifindex),
        w.as_bytes(),
    )
}

/// errno values used here.
mod errno {
    pub const EINVAL: i32 = 22;
}
