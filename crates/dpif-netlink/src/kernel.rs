//! [`Kernel`]: the openvswitch families and a pool of sockets, with one
//! method per kernel operation. Safe to share between threads: each call
//! borrows a socket from the pool for its duration.

use std::sync::Mutex;

use crate::abi::*;
use crate::datapath::{DpInfo, DpRequest};
use crate::error::{Error, Result};
use crate::family::Families;
use crate::flow::{FlowInfo, FlowRequest};
use crate::packet::ExecuteRequest;
use crate::socket::{Request, Socket};
use crate::vport::{VportInfo, VportRequest};

/// How a datapath or vport is named in a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpId<'a> {
    /// By the name of the datapath.
    Name(&'a str),
    /// By the ifindex of its local port.
    Ifindex(i32),
}

impl DpId<'_> {
    fn request(self) -> DpRequest {
        match self {
            DpId::Name(n) => DpRequest {
                name: Some(n.to_string()),
                ..DpRequest::default()
            },
            DpId::Ifindex(i) => DpRequest {
                dp_ifindex: i,
                ..DpRequest::default()
            },
        }
    }
}

/// A flow operation of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowOp {
    /// `OVS_FLOW_CMD_NEW`, `_SET`, `_GET` or `_DEL`.
    pub cmd: u8,
    /// Extra netlink flags (`NLM_F_CREATE`, `NLM_F_EXCL`, `NLM_F_ECHO`).
    pub flags: u16,
    /// The request.
    pub req: FlowRequest,
}

/// Where a [`Kernel`]'s sockets connect.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Endpoint {
    /// The kernel, over generic netlink.
    Netlink,
    /// The `oxvsd` daemon, over its Unix stream socket.
    Daemon(std::path::PathBuf),
}

/// The kernel's openvswitch module, or the `oxvsd` daemon that speaks the
/// same messages over a Unix stream socket.
#[derive(Debug)]
pub struct Kernel {
    families: Families,
    pool: Mutex<Vec<Socket>>,
    endpoint: Endpoint,
    /// `ovs_ct_limit`, resolved on first use (`None`: not registered).
    pub(crate) ct_limit: std::sync::OnceLock<Option<crate::family::Family>>,
}

impl Kernel {
    /// Resolves the openvswitch families.
    ///
    /// # Errors
    /// [`Error::module_not_loaded`] without the module; socket errors.
    pub fn open() -> Result<Kernel> {
        let mut sock = Socket::new()?;
        let families = Families::resolve(&mut sock)?;
        Ok(Kernel {
            families,
            pool: Mutex::new(vec![sock]),
            endpoint: Endpoint::Netlink,
            ct_limit: Default::default(),
        })
    }

    /// Connects to the `oxvsd` daemon at Unix socket `path` and resolves
    /// the openvswitch families it serves.
    ///
    /// # Errors
    /// The errno of `connect()` (`ENOENT`/`ECONNREFUSED` without a daemon,
    /// `EACCES`/`EPERM` when refused); protocol errors.
    pub fn open_daemon(path: &std::path::Path) -> Result<Kernel> {
        let mut sock = Socket::connect_unix(path)?;
        let families = Families::resolve(&mut sock)?;
        Ok(Kernel {
            families,
            pool: Mutex::new(vec![sock]),
            endpoint: Endpoint::Daemon(path.to_path_buf()),
            ct_limit: Default::default(),
        })
    }

    /// A new socket to the same endpoint (handlers, notifications).
    ///
    /// # Errors
    /// Socket errors.
    pub fn new_socket(&self) -> Result<Socket> {
        match &self.endpoint {
            Endpoint::Netlink => Socket::new(),
            Endpoint::Daemon(p) => Socket::connect_unix(p),
        }
    }

    /// A new socket for the conntrack subsystems of netfilter netlink:
    /// `NETLINK_NETFILTER` to the kernel, a connection to the daemon
    /// (which serves them on every connection).
    ///
    /// # Errors
    /// Socket errors.
    pub fn new_nf_socket(&self) -> Result<Socket> {
        match &self.endpoint {
            Endpoint::Netlink => Socket::new_netfilter(),
            Endpoint::Daemon(p) => Socket::connect_unix(p),
        }
    }

    /// Whether this is the daemon rather than the kernel.
    pub fn is_daemon(&self) -> bool {
        matches!(self.endpoint, Endpoint::Daemon(_))
    }

    /// The resolved families.
    pub fn families(&self) -> &Families {
        &self.families
    }

    /// Takes a socket from the pool (or opens one).
    ///
    /// # Errors
    /// Socket errors.
    pub fn take_socket(&self) -> Result<Socket> {
        let s = self.pool.lock().map(|mut p| p.pop()).unwrap_or(None);
        match s {
            Some(s) => Ok(s),
            None => self.new_socket(),
        }
    }

    /// Returns a socket to the pool. A socket with a dump in progress is
    /// closed instead (closing it ends the dump).
    pub fn put_socket(&self, s: Socket) {
        if s.dump_active() {
            return;
        }
        if let Ok(mut p) = self.pool.lock() {
            if p.len() < 8 {
                p.push(s);
            }
        }
    }

    pub(crate) fn transact(&self, req: Request) -> Result<Option<crate::socket::Msg>> {
        let mut s = self.take_socket()?;
        let r = s.transact(req);
        self.put_socket(s);
        r
    }

    fn dump_all<T>(
        &self,
        req: Request,
        parse: impl Fn(&crate::socket::Msg) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut s = self.take_socket()?;
        let mut out = Vec::new();
        let r = (|| {
            s.dump_start(req)?;
            while let Some(m) = s.dump_next()? {
                out.push(parse(&m)?);
            }
            Ok(())
        })();
        self.put_socket(s);
        r.map(|()| out)
    }

    // ---- datapaths -------------------------------------------------------

    /// Creates datapath `name` (`OVS_DP_CMD_NEW`) sending misses to
    /// `upcall_pid` (0: nowhere), with `user_features`.
    ///
    /// # Errors
    /// `EEXIST` if it exists; `EOPNOTSUPP` for unknown feature bits; `EPERM`
    /// without `CAP_NET_ADMIN`.
    pub fn dp_new(&self, name: &str, upcall_pid: u32, user_features: u32) -> Result<DpInfo> {
        let r = DpRequest {
            name: Some(name.to_string()),
            upcall_pid: Some(upcall_pid),
            user_features: Some(user_features),
            ..DpRequest::default()
        };
        let req = r.to_request(&self.families.datapath, OVS_DP_CMD_NEW, NLM_F_ECHO)?;
        self.reply_dp(self.transact(req)?)
    }

    fn reply_dp(&self, m: Option<crate::socket::Msg>) -> Result<DpInfo> {
        DpInfo::parse(&m.ok_or_else(|| Error::proto("datapath command gave no reply"))?)
    }

    /// Deletes a datapath.
    ///
    /// # Errors
    /// `ENODEV` if there is no such datapath.
    pub fn dp_del(&self, id: DpId<'_>) -> Result<()> {
        let req = id
            .request()
            .to_request(&self.families.datapath, OVS_DP_CMD_DEL, 0)?;
        self.transact(req).map(drop)
    }

    /// Reads a datapath, with its statistics.
    ///
    /// # Errors
    /// `ENODEV` if there is no such datapath.
    pub fn dp_get(&self, id: DpId<'_>) -> Result<DpInfo> {
        let req = id
            .request()
            .to_request(&self.families.datapath, OVS_DP_CMD_GET, 0)?;
        self.reply_dp(self.transact(req)?)
    }

    /// Changes a datapath's settings (`OVS_DP_CMD_SET`): `req` names it and
    /// carries what to change. The kernel sets the user features to those in
    /// `req` (none when absent), so a SET must repeat them.
    ///
    /// # Errors
    /// `ENODEV` if there is no such datapath; `EOPNOTSUPP` for unknown
    /// features.
    pub fn dp_set(&self, req: &DpRequest) -> Result<DpInfo> {
        let req = req.to_request(&self.families.datapath, OVS_DP_CMD_SET, NLM_F_ECHO)?;
        self.reply_dp(self.transact(req)?)
    }

    /// Every datapath.
    ///
    /// # Errors
    /// Socket or protocol errors.
    pub fn dp_dump(&self) -> Result<Vec<DpInfo>> {
        let req = DpRequest::default().to_request(&self.families.datapath, OVS_DP_CMD_GET, 0)?;
        self.dump_all(req, DpInfo::parse)
    }

    // ---- vports ----------------------------------------------------------

    fn reply_vport(&self, m: Option<crate::socket::Msg>) -> Result<VportInfo> {
        VportInfo::parse(&m.ok_or_else(|| Error::proto("vport command gave no reply"))?)
    }

    /// Adds a vport (`OVS_VPORT_CMD_NEW`); returns it with its number.
    ///
    /// # Errors
    /// `ENODEV` if a `Netdev` port's device does not exist; `EBUSY` if the
    /// device is in use or the number is taken; `EFBIG` for a number out of
    /// range; `EEXIST` when the name exists.
    pub fn vport_new(&self, req: &VportRequest) -> Result<VportInfo> {
        let req = req.to_request(&self.families.vport, OVS_VPORT_CMD_NEW, NLM_F_ECHO)?;
        self.reply_vport(self.transact(req)?)
    }

    /// Removes a vport named by `req` (number with `dp_ifindex`, or name).
    ///
    /// # Errors
    /// `ENODEV` if there is no such vport; `EINVAL` for the local port.
    pub fn vport_del(&self, req: &VportRequest) -> Result<()> {
        let req = req.to_request(&self.families.vport, OVS_VPORT_CMD_DEL, 0)?;
        self.transact(req).map(drop)
    }

    /// Reads a vport named by `req`.
    ///
    /// # Errors
    /// `ENODEV` if there is no such vport.
    pub fn vport_get(&self, req: &VportRequest) -> Result<VportInfo> {
        let req = req.to_request(&self.families.vport, OVS_VPORT_CMD_GET, 0)?;
        self.reply_vport(self.transact(req)?)
    }

    /// Changes a vport (upcall pids, options).
    ///
    /// # Errors
    /// `ENODEV` if there is no such vport.
    pub fn vport_set(&self, req: &VportRequest) -> Result<VportInfo> {
        let req = req.to_request(&self.families.vport, OVS_VPORT_CMD_SET, NLM_F_ECHO)?;
        self.reply_vport(self.transact(req)?)
    }

    /// The vports of datapath `dp_ifindex`, in number order.
    ///
    /// # Errors
    /// `ENODEV` if there is no such datapath.
    pub fn vport_dump(&self, dp_ifindex: i32) -> Result<Vec<VportInfo>> {
        let r = VportRequest {
            dp_ifindex,
            ..VportRequest::default()
        };
        let req = r.to_request(&self.families.vport, OVS_VPORT_CMD_GET, 0)?;
        let mut v = self.dump_all(req, VportInfo::parse)?;
        v.sort_by_key(|p| p.port_no);
        Ok(v)
    }

    // ---- flows -----------------------------------------------------------

    /// Runs flow operations in batches; one result per operation, with the
    /// kernel's reply for commands that gave one (`GET`, or `NLM_F_ECHO`).
    pub fn flow_ops(&self, ops: &[FlowOp]) -> Vec<Result<Option<FlowInfo>>> {
        let mut reqs = Vec::with_capacity(ops.len());
        let mut pre: Vec<Option<Error>> = Vec::with_capacity(ops.len());
        for op in ops {
            match op.req.to_request(&self.families.flow, op.cmd, op.flags) {
                Ok(r) => {
                    reqs.push(r);
                    pre.push(None);
                }
                Err(e) => pre.push(Some(e)),
            }
        }
        let mut replies = match self.take_socket() {
            Ok(mut s) => {
                let r = s.transact_batch(reqs);
                self.put_socket(s);
                r.into_iter()
            }
            Err(e) => return ops.iter().map(|_| Err(e.clone())).collect(),
        };
        pre.into_iter()
            .map(|p| match p {
                Some(e) => Err(e),
                None => match replies.next() {
                    Some(Ok(Some(m))) => FlowInfo::parse(&m).map(Some),
                    Some(Ok(None)) => Ok(None),
                    Some(Err(e)) => Err(e),
                    None => Err(Error::proto("missing reply")),
                },
            })
            .collect()
    }

    /// Deletes every flow of datapath `dp_ifindex`.
    ///
    /// # Errors
    /// `ENODEV` if there is no such datapath.
    pub fn flow_flush(&self, dp_ifindex: i32) -> Result<()> {
        let r = FlowRequest {
            dp_ifindex,
            ..FlowRequest::default()
        };
        self.transact(r.to_request(&self.families.flow, OVS_FLOW_CMD_DEL, 0)?)
            .map(drop)
    }

    /// Starts a flow dump of `dp_ifindex`; `ufid_flags` omit parts of each
    /// flow (terse dumps).
    ///
    /// # Errors
    /// Socket errors (a missing datapath shows on the first `next`).
    pub fn flow_dump(&self, dp_ifindex: i32, ufid_flags: u32) -> Result<FlowDumpStream<'_>> {
        let r = FlowRequest {
            dp_ifindex,
            ufid_flags,
            ..FlowRequest::default()
        };
        let req = r.to_request(&self.families.flow, OVS_FLOW_CMD_GET, 0)?;
        let mut s = self.take_socket()?;
        if let Err(e) = s.dump_start(req) {
            self.put_socket(s);
            return Err(e);
        }
        Ok(FlowDumpStream {
            kernel: self,
            sock: Some(s),
        })
    }

    // ---- packets ---------------------------------------------------------

    /// Executes actions on packets, in batches; one result per packet.
    pub fn execute(&self, reqs: &[ExecuteRequest]) -> Vec<Result<()>> {
        let mut framed = Vec::new();
        let mut pre = Vec::new();
        for r in reqs {
            match r.to_request(&self.families.packet) {
                Ok(f) => {
                    framed.push(f);
                    pre.push(None);
                }
                Err(e) => pre.push(Some(e)),
            }
        }
        let mut replies = match self.take_socket() {
            Ok(mut s) => {
                let r = s.transact_batch(framed);
                self.put_socket(s);
                r.into_iter()
            }
            Err(e) => return reqs.iter().map(|_| Err(e.clone())).collect(),
        };
        pre.into_iter()
            .map(|p| match p {
                Some(e) => Err(e),
                None => replies
                    .next()
                    .unwrap_or_else(|| Err(Error::proto("missing reply")))
                    .map(drop),
            })
            .collect()
    }
}

/// A flow dump being read; dropping it early closes its socket, which ends
/// the dump in the kernel.
#[derive(Debug)]
pub struct FlowDumpStream<'k> {
    kernel: &'k Kernel,
    sock: Option<Socket>,
}

impl FlowDumpStream<'_> {
    /// The next flow; `None` at the end.
    ///
    /// # Errors
    /// `ENODEV` if the datapath does not exist; protocol errors.
    pub fn next_flow(&mut self) -> Result<Option<FlowInfo>> {
        let Some(s) = self.sock.as_mut() else {
            return Ok(None);
        };
        match s.dump_next() {
            Ok(Some(m)) => FlowInfo::parse(&m).map(Some),
            Ok(None) => {
                if let Some(s) = self.sock.take() {
                    self.kernel.put_socket(s);
                }
                Ok(None)
            }
            Err(e) => {
                if let Some(s) = self.sock.take() {
                    self.kernel.put_socket(s);
                }
                Err(e)
            }
        }
    }
}

impl Drop for FlowDumpStream<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.sock.take() {
            self.kernel.put_socket(s);
        }
    }
}
