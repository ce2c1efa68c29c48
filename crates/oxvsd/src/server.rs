//! The daemon: a `SOCK_SEQPACKET` listener, a pool of worker threads
//! serving every connection through one epoll set, one upcall thread per
//! datapath, and a link watcher.
//!
//! # Threads
//!
//! - Workers (`Config::workers`) take ready connections from the
//!   [`Reactor`]: a new connection on the listener, requests to handle, or
//!   room to send what a connection waits to send. No thread belongs to a
//!   connection, so idle connections cost a socket and a few hundred bytes.
//! - Each datapath's upcall thread ([`crate::upcall`]) hands misses and
//!   action upcalls to the connections their port ids name.
//! - The link watcher ([`crate::linkwatch`]) removes ports whose network
//!   device disappeared.
//! - The thread calling [`Server::run`] expires idle connections.
//!
//! # Robustness
//!
//! A client gets an errno for a malformed request (as the kernel answers)
//! and loses its connection only when it goes away. A client that does not
//! read blocks only itself: its replies wait in its own queue and its
//! requests are not read meanwhile; unsolicited messages to it are dropped
//! and counted. Every request is bounded: datagrams by
//! [`nl::daemon::MAX_REQUEST`], dumps by the client's reading.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use dpif_netdev::NetdevClass;
use nl::daemon;
use rustix::net::{RecvFlags, SocketFlags};

use crate::conn::{Conn, ConnIo, Peer};
use crate::datapath::DpEntry;
use crate::learn::LearnConfig;
use crate::reactor::{Interest, Reactor};
use crate::{dispatch, read, write};

/// The listener's token in the reactor.
const LISTENER: u64 = 0;
/// Datagrams read from one connection before serving others.
const READ_BUDGET: usize = 16;

/// Settings of a daemon.
#[derive(Debug, Clone)]
pub struct Config {
    /// The socket path.
    pub socket: PathBuf,
    /// The socket file's group (`None`: the daemon's).
    pub group: Option<u32>,
    /// Learning switch timers (datapaths of `oxvsd --port`).
    pub learn: LearnConfig,
    /// Poll threads per datapath.
    pub n_pmds: usize,
    /// Worker threads serving connections.
    pub workers: usize,
    /// Connections of one non-admin user.
    pub max_conns_per_user: usize,
    /// Connections of all non-admin users together.
    pub max_conns: usize,
    /// Connections in all (admins included).
    pub max_conns_total: usize,
    /// A non-admin connection that holds no subscription is closed after
    /// this long without a request.
    pub idle_timeout: Duration,
    /// Datapaths the daemon hosts at most.
    pub max_datapaths: usize,
    /// Ports of all datapaths together.
    pub max_ports: usize,
    /// The port types clients may add (`None`: every type).
    pub port_types: Option<Vec<String>>,
}

impl Config {
    /// Defaults with socket `path`.
    pub fn new(path: impl Into<PathBuf>) -> Config {
        Config {
            socket: path.into(),
            group: None,
            learn: LearnConfig::default(),
            n_pmds: 1,
            workers: 4,
            max_conns_per_user: 256,
            max_conns: 1024,
            max_conns_total: 16384,
            idle_timeout: Duration::from_secs(300),
            max_datapaths: 64,
            max_ports: 4096,
            port_types: None,
        }
    }
}

/// The daemon's state, shared by every thread.
pub struct State {
    pub(crate) cfg: Config,
    pub(crate) class: NetdevClass,
    pub(crate) dps: RwLock<BTreeMap<i32, Arc<DpEntry>>>,
    conns: RwLock<HashMap<u64, Arc<Conn>>>,
    pids: RwLock<HashMap<u32, Arc<Conn>>>,
    /// Serializes changes of the datapath and port tables (creation and
    /// deletion), as the kernel's `ovs_mutex` does.
    pub(crate) config_lock: Mutex<()>,
    next_token: AtomicU64,
    pub(crate) next_ifindex: AtomicI32,
    rover: Mutex<u32>,
    socket_gid: u32,
    my_uid: u32,
    pub(crate) reactor: Reactor,
    pub(crate) stopping: AtomicBool,
    started: Instant,
    /// cttimeout objects by name (see [`crate::netfilter`]).
    pub(crate) ct_timeouts: Mutex<BTreeMap<String, crate::netfilter::TimeoutObj>>,
    /// Zone limits set for every datapath (see [`crate::ct_limit`]).
    pub(crate) ct_limits: Mutex<crate::ct_limit::Shared>,
}

/// A running daemon (see the module docs).
pub struct Server {
    state: Arc<State>,
    listener: OwnedFd,
}

fn other(msg: String) -> std::io::Error {
    std::io::Error::other(msg)
}

impl Server {
    /// Binds the socket: creates its directory (0755) if missing, replaces
    /// a stale socket file (never anything else), and makes the socket
    /// mode 0660.
    ///
    /// # Errors
    /// `EADDRINUSE` if a daemon answers on the path already; an error if
    /// the path is something other than a socket; I/O errors.
    pub fn bind(cfg: Config) -> std::io::Result<Server> {
        use rustix::net::{bind, listen, socket_with, AddressFamily, SocketAddrUnix, SocketType};
        let path = cfg.socket.clone();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir)?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
            }
        }
        if let Ok(m) = std::fs::symlink_metadata(&path) {
            if !m.file_type().is_socket() {
                return Err(other(format!(
                    "{}: exists and is not a socket; not replacing it",
                    path.display()
                )));
            }
            if probe(&path) {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    format!("{}: a daemon is already listening", path.display()),
                ));
            }
            std::fs::remove_file(&path)?;
        }
        let fd = socket_with(
            AddressFamily::UNIX,
            SocketType::SEQPACKET,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            None,
        )?;
        // The socket file appears with the process umask; tighten it
        // before anyone but the owner can connect.
        let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
        let r = bind(&fd, &SocketAddrUnix::new(&path)?);
        rustix::process::umask(old);
        r?;
        listen(&fd, 128)?;
        if let Some(g) = cfg.group {
            std::os::unix::fs::chown(&path, None, Some(g))?;
        }
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o660))?;
        let socket_gid = std::fs::metadata(&path)?.gid();
        let reactor = Reactor::new()?;
        reactor.add(&fd, LISTENER, Interest::Read)?;
        let state = Arc::new(State {
            class: NetdevClass {
                n_pmds: cfg.n_pmds.max(1),
            },
            cfg,
            dps: RwLock::new(BTreeMap::new()),
            conns: RwLock::new(HashMap::new()),
            pids: RwLock::new(HashMap::new()),
            config_lock: Mutex::new(()),
            next_token: AtomicU64::new(LISTENER + 1),
            next_ifindex: AtomicI32::new(1),
            rover: Mutex::new(0),
            socket_gid,
            my_uid: rustix::process::geteuid().as_raw(),
            reactor,
            stopping: AtomicBool::new(false),
            started: Instant::now(),
            ct_timeouts: Mutex::new(BTreeMap::new()),
            ct_limits: Mutex::new(Default::default()),
        });
        Ok(Server {
            state,
            listener: fd,
        })
    }

    /// The shared state (datapaths), for the one-command mode and tests.
    pub fn state(&self) -> Arc<State> {
        self.state.clone()
    }

    /// Serves until `stop` is set, then shuts down: closes every
    /// connection, destroys every datapath and removes the socket file.
    pub fn run(self, stop: &AtomicBool) {
        let listener = Arc::new(self.listener);
        let mut threads = Vec::new();
        for i in 0..self.state.cfg.workers.max(1) {
            let (st, l) = (self.state.clone(), listener.clone());
            match std::thread::Builder::new()
                .name(format!("oxvsd-worker{i}"))
                .spawn(move || st.worker(&l))
            {
                Ok(t) => threads.push(t),
                Err(e) => log::error!("starting a worker: {e}"),
            }
        }
        let watcher = crate::linkwatch::start(self.state.clone());
        let mut last_sweep = Instant::now();
        let sweep_every = (self.state.cfg.idle_timeout / 2)
            .clamp(Duration::from_millis(100), Duration::from_secs(5));
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
            if last_sweep.elapsed() >= sweep_every {
                last_sweep = Instant::now();
                self.state.expire_idle();
            }
        }
        self.state.stopping.store(true, Ordering::Relaxed);
        for t in threads {
            let _ = t.join();
        }
        if let Some(w) = watcher {
            w.stop();
        }
        self.state.shutdown();
        let _ = std::fs::remove_file(&self.state.cfg.socket);
    }
}

/// Whether a daemon answers on `path`.
fn probe(path: &std::path::Path) -> bool {
    use rustix::net::{connect, socket_with, AddressFamily, SocketAddrUnix, SocketType};
    let Ok(fd) = socket_with(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    ) else {
        return false;
    };
    let Ok(addr) = SocketAddrUnix::new(path) else {
        return false;
    };
    connect(&fd, &addr).is_ok()
}

/// Whether a peer may use the daemon (`Some(admin)`), by its credentials:
/// root and the daemon's own user as admins, members of the socket's group
/// (primary or supplementary) as users.
fn peer_of(fd: &OwnedFd, socket_gid: u32, my_uid: u32) -> Option<Peer> {
    let cred = rustix::net::sockopt::socket_peercred(fd).ok()?;
    let (uid, pid) = (cred.uid.as_raw(), cred.pid.as_raw_nonzero().get() as u32);
    let admin = uid == 0 || uid == my_uid;
    let member = cred.gid.as_raw() == socket_gid
        || std::fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("Groups:"))
            .is_some_and(|g| {
                g.split_whitespace()
                    .any(|x| x.parse::<u32>() == Ok(socket_gid))
            });
    (admin || member).then_some(Peer { pid, uid, admin })
}

fn now_secs(started: Instant) -> u64 {
    started.elapsed().as_secs()
}

impl State {
    /// The datapath named `name`.
    pub fn datapath(&self, name: &str) -> Option<Arc<DpEntry>> {
        crate::read(&self.dps)
            .values()
            .find(|d| d.name == name)
            .cloned()
    }

    /// The connection with port id `pid`.
    pub(crate) fn conn_by_pid(&self, pid: u32) -> Option<Arc<Conn>> {
        read(&self.pids).get(&pid).cloned()
    }

    /// Every connection in multicast group `group` except port `except`.
    pub(crate) fn group_members(&self, group: u32, except: u32) -> Vec<Arc<Conn>> {
        read(&self.conns)
            .values()
            .filter(|c| c.pid() != except && c.in_group(group))
            .cloned()
            .collect()
    }

    /// Whether any connection is in multicast group `group`.
    pub(crate) fn has_members(&self, group: u32) -> bool {
        read(&self.conns).values().any(|c| c.in_group(group))
    }

    /// Sends `msg` to group `group`, except to port `except` (the
    /// requester, who gets its copy as a reply when it asked for one).
    pub(crate) fn notify(&self, group: u32, msg: &[u8], except: u32) {
        for c in self.group_members(group, except) {
            self.unsolicited(&c, msg);
        }
    }

    /// Sends an unsolicited message to `conn` (see
    /// [`Conn::send_unsolicited`]); when it was dropped, makes sure the
    /// overrun notice goes out once there is room. Returns whether it was
    /// sent.
    pub(crate) fn unsolicited(&self, conn: &Conn, msg: &[u8]) -> bool {
        let sent = conn.send_unsolicited(msg);
        if !sent && conn.owes_overrun() {
            self.wake_for_room(conn);
        }
        sent
    }

    /// Arms `conn` for room to send. Rearming happens under the
    /// connection's lock; if a worker holds it, the worker re-arms when it
    /// is done (see [`State::serve`]).
    fn wake_for_room(&self, conn: &Conn) {
        match conn.io.try_lock() {
            Ok(io) => {
                if !io.closed {
                    self.reactor.rearm(conn.fd(), conn.token, Interest::Write);
                }
            }
            Err(_) => conn.wake_out.store(true, Ordering::Release),
        }
    }

    /// Renames connection `conn` to port id `pid`.
    ///
    /// # Errors
    /// `EADDRINUSE` if another connection has it; `EINVAL` for 0.
    pub(crate) fn rebind(&self, conn: &Arc<Conn>, pid: u32) -> Result<(), i32> {
        if pid == 0 {
            return Err(nl::errno::EINVAL);
        }
        let mut pids = write(&self.pids);
        match pids.get(&pid) {
            Some(c) if Arc::ptr_eq(c, conn) => return Ok(()),
            Some(_) => return Err(nl::errno::EADDRINUSE),
            None => {}
        }
        pids.remove(&conn.pid());
        conn.set_pid(pid);
        pids.insert(pid, conn.clone());
        Ok(())
    }

    /// A free port id, as netlink's autobind picks one: the peer's
    /// process id if free, else counting down from -4096.
    fn autobind(&self, pids: &HashMap<u32, Arc<Conn>>, process: u32) -> u32 {
        if process != 0 && !pids.contains_key(&process) {
            return process;
        }
        let mut rover = crate::lock(&self.rover);
        loop {
            *rover = rover.wrapping_add(1);
            let pid = (-4096i32).wrapping_sub(*rover as i32) as u32;
            if pid != 0 && !pids.contains_key(&pid) {
                return pid;
            }
        }
    }

    fn worker(self: &Arc<State>, listener: &OwnedFd) {
        while !self.stopping.load(Ordering::Relaxed) {
            let Some(ready) = self.reactor.wait(Duration::from_millis(200)) else {
                continue;
            };
            if ready.token == LISTENER {
                self.accept_all(listener);
                self.reactor.rearm(listener, LISTENER, Interest::Read);
                continue;
            }
            let conn = read(&self.conns).get(&ready.token).cloned();
            if let Some(c) = conn {
                self.serve(&c);
            }
        }
    }

    fn accept_all(self: &Arc<State>, listener: &OwnedFd) {
        loop {
            match rustix::net::accept_with(listener, SocketFlags::CLOEXEC | SocketFlags::NONBLOCK) {
                Ok(fd) => self.accept(fd),
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::AGAIN) => return,
                Err(e) => {
                    log::warn!("accept: {e}");
                    return;
                }
            }
        }
    }

    fn refuse(fd: &OwnedFd, errno: i32) {
        let hdr = nl::msg::Header {
            len: nl::msg::NLMSG_HDRLEN as u32,
            ..Default::default()
        };
        let m = nl::msg::ack(&hdr.to_bytes(), 0, errno, Default::default(), None);
        let _ = rustix::net::send(fd, &m, rustix::net::SendFlags::DONTWAIT);
    }

    fn accept(self: &Arc<State>, fd: OwnedFd) {
        let Some(peer) = peer_of(&fd, self.socket_gid, self.my_uid) else {
            log::warn!("connection refused: peer credentials");
            Self::refuse(&fd, nl::errno::EPERM);
            return;
        };
        let token = self.next_token.fetch_add(1, Ordering::Relaxed);
        let cookie = cookie();
        let conn = {
            let mut conns = write(&self.conns);
            let mut pids = write(&self.pids);
            let users = conns.values().filter(|c| !c.peer.admin).count();
            let mine = conns.values().filter(|c| c.peer.uid == peer.uid).count();
            let full = conns.len() >= self.cfg.max_conns_total
                || (!peer.admin
                    && (users >= self.cfg.max_conns || mine >= self.cfg.max_conns_per_user));
            if full {
                drop((conns, pids));
                log::warn!(
                    "connection of uid {} refused: connection limit reached",
                    peer.uid
                );
                Self::refuse(&fd, nl::errno::EMFILE);
                return;
            }
            let pid = self.autobind(&pids, peer.pid);
            let conn = Arc::new(Conn::new(token, fd, pid, cookie, peer));
            conn.last_active
                .store(now_secs(self.started), Ordering::Relaxed);
            conn.set_rcvbuf(daemon::DEFAULT_RCVBUF);
            conns.insert(token, conn.clone());
            pids.insert(pid, conn.clone());
            conn
        };
        if conn.try_send(&daemon::greeting(conn.pid(), cookie)) != crate::conn::Sent::Yes {
            self.close(&conn);
            return;
        }
        log::debug!(
            "connection {} (port id {}) from pid {} uid {}",
            token,
            conn.pid(),
            peer.pid,
            peer.uid
        );
        if self.reactor.add(conn.fd(), token, Interest::Read).is_err() {
            self.close(&conn);
        }
    }

    /// Serves a ready connection: sends what waits, handles requests, and
    /// re-arms it for what it waits for next.
    fn serve(self: &Arc<State>, conn: &Arc<Conn>) {
        let mut io = crate::lock(&conn.io);
        if io.closed {
            return;
        }
        conn.flush_overrun();
        let mut buf = Vec::new();
        if io.flush(conn) {
            if let Some(rest) = io.deferred.take() {
                self.handle_datagram(conn, &mut io, &rest);
            }
            let mut budget = READ_BUDGET;
            while io.idle() && io.deferred.is_none() && budget > 0 {
                budget -= 1;
                if buf.is_empty() {
                    buf.resize(daemon::MAX_REQUEST, 0);
                }
                match rustix::net::recv(
                    conn.fd(),
                    &mut buf[..],
                    RecvFlags::DONTWAIT | RecvFlags::TRUNC,
                ) {
                    Ok((_, 0)) => io.closed = true,
                    Ok((got, n)) if n > got => {
                        // Larger than any request: answer its header.
                        let ack = nl::msg::ack(
                            &buf[..nl::msg::NLMSG_HDRLEN.min(got)],
                            conn.pid(),
                            nl::errno::EMSGSIZE,
                            conn.ack_opts(),
                            Some("request larger than the daemon accepts"),
                        );
                        io.reply(conn, ack);
                    }
                    Ok((got, _)) => {
                        conn.last_active
                            .store(now_secs(self.started), Ordering::Relaxed);
                        let d = buf[..got].to_vec();
                        self.handle_datagram(conn, &mut io, &d);
                    }
                    Err(rustix::io::Errno::INTR) => {}
                    Err(rustix::io::Errno::AGAIN) => break,
                    Err(_) => io.closed = true,
                }
            }
        }
        if io.closed {
            drop(io);
            self.close(conn);
            return;
        }
        let busy = !io.idle() || io.deferred.is_some();
        let want = if busy || conn.owes_overrun() {
            Interest::Write
        } else {
            Interest::Read
        };
        // Re-armed under the lock: another worker cannot serve it before
        // this one is done.
        self.reactor.rearm(conn.fd(), conn.token, want);
        drop(io);
        if conn.wake_out.swap(false, Ordering::AcqRel) {
            self.wake_for_room(conn);
        }
    }

    /// Handles the messages of one datagram in order. A dump holds the rest
    /// of the datagram back until it is over.
    fn handle_datagram(self: &Arc<State>, conn: &Arc<Conn>, io: &mut ConnIo, d: &[u8]) {
        let base = d.as_ptr() as usize;
        for m in nl::msg::Messages::new(d) {
            let m = match m {
                Ok(m) => m,
                Err(e) => {
                    // The kernel drops the rest of such a datagram quietly.
                    log::debug!("connection {}: {e}", conn.token);
                    return;
                }
            };
            match dispatch::handle(self, conn, &m) {
                dispatch::Answer::Msgs(msgs) => {
                    for x in msgs {
                        io.reply(conn, x);
                    }
                }
                dispatch::Answer::Dump(dump) => {
                    io.dump = Some(dump);
                    io.flush(conn);
                    let end = m.bytes.as_ptr() as usize - base + nl::msg::align(m.bytes.len());
                    if io.dump.is_some() && end < d.len() {
                        io.deferred = Some(d[end..].to_vec());
                        return;
                    }
                }
            }
            if io.closed {
                return;
            }
        }
    }

    /// Forgets a connection. Port ids naming it stay where they are, as
    /// with a closed netlink socket: upcalls to them are counted lost.
    fn close(&self, conn: &Arc<Conn>) {
        self.reactor.remove(conn.fd());
        write(&self.conns).remove(&conn.token);
        {
            let mut pids = write(&self.pids);
            if pids.get(&conn.pid()).is_some_and(|c| Arc::ptr_eq(c, conn)) {
                pids.remove(&conn.pid());
            }
        }
        let mut io = crate::lock(&conn.io);
        io.closed = true;
        io.pending.clear();
        io.dump = None;
        let lost = conn.lost.load(Ordering::Relaxed);
        log::debug!(
            "connection {} (port id {}) closed; {lost} unsolicited messages dropped",
            conn.token,
            conn.pid()
        );
        let _ = rustix::net::shutdown(conn.fd(), rustix::net::Shutdown::Both);
    }

    /// Closes connections of non-admin peers idle longer than the idle
    /// timeout that hold no subscription (no group, no port id naming them
    /// for upcalls).
    fn expire_idle(&self) {
        let now = now_secs(self.started);
        let limit = self.cfg.idle_timeout.as_secs();
        let named = self.named_pids();
        let idle: Vec<Arc<Conn>> = read(&self.conns)
            .values()
            .filter(|c| {
                !c.peer.admin
                    && now.saturating_sub(c.last_active.load(Ordering::Relaxed)) >= limit
                    && !c.has_groups()
                    && !named.contains(&c.pid())
            })
            .cloned()
            .collect();
        for c in idle {
            log::info!(
                "connection {} of uid {} closed after {}s idle",
                c.token,
                c.peer.uid,
                limit
            );
            self.close(&c);
        }
    }

    /// Every port id some datapath sends upcalls to.
    fn named_pids(&self) -> std::collections::HashSet<u32> {
        let mut out = std::collections::HashSet::new();
        for d in read(&self.dps).values() {
            d.upcall_pids(&mut out);
        }
        out
    }

    fn shutdown(&self) {
        let conns: Vec<Arc<Conn>> = read(&self.conns).values().cloned().collect();
        for c in conns {
            self.close(&c);
        }
        let dps: Vec<Arc<DpEntry>> = read(&self.dps).values().cloned().collect();
        for d in dps {
            if let Err(e) = self.destroy_dp(&d) {
                log::warn!("destroying {}: {e}", d.name);
            }
        }
    }
}

/// A connection's cookie: 8 random bytes.
fn cookie() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // No entropy source: still unique per connection, just guessable.
        static N: AtomicU64 = AtomicU64::new(1);
        return N.fetch_add(1, Ordering::Relaxed) ^ std::process::id() as u64;
    }
    u64::from_ne_bytes(b)
}
