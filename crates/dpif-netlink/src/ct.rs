//! Connection tracking through [`Kernel`]: the conntrack table over
//! ctnetlink ([`crate::ctnetlink`]) and zone limits over `ovs_ct_limit`
//! ([`crate::ct_limit`]), as Open vSwitch's `dpif-netlink` drives them,
//! against the kernel or oxvsd.
//!
//! `dp` arguments name an oxvsd datapath ([`crate::ctnetlink::OXVS_CTA_DP_IFINDEX`],
//! `ovs_header.dp_ifindex`); the kernel has one table and one set of
//! limits per network namespace, and requests to it carry none.

use dpif::ct::{CtEntry, CtFlush, CtTuple};
use nl::msg::NLM_F_REQUEST;

use crate::ct_limit::{self, ZoneLimit};
use crate::ctnetlink::*;
use crate::error::{errno, Error, Result};
use crate::family::{self, Family};
use crate::kernel::Kernel;
use crate::socket::{MsgBuilder, Request};

/// Most entries one dump collects (a kernel's `nf_conntrack_max` is
/// 262,144 by default; this bounds a client's memory whatever the peer).
pub const MAX_DUMP_ENTRIES: usize = 4 << 20;

fn ct_request(msg: u8, family: u8, flags: u16, dp: Option<i32>) -> MsgBuilder {
    let mut m = MsgBuilder::new(
        msg_type(NFNL_SUBSYS_CTNETLINK, msg),
        flags | NLM_F_REQUEST,
        family,
        NFNETLINK_V0,
    );
    if let Some(i) = dp {
        m.attrs().put_u32(OXVS_CTA_DP_IFINDEX, i as u32);
    }
    m
}

/// `IPCTNL_MSG_CT_DELETE` of the connection whose original tuple is `t`.
fn delete_request(dp: Option<i32>, t: &CtTuple, zone: u16, id: Option<u32>) -> Result<Request> {
    let mut m = ct_request(IPCTNL_MSG_CT_DELETE, t.l3_type() as u8, 0, dp);
    let w = m.attrs();
    w.put_u16_be(CTA_ZONE, zone);
    put_tuple(w, CTA_TUPLE_ORIG, t, None);
    if let Some(id) = id {
        w.put_u32_be(CTA_ID, id);
    }
    m.finish()
}

fn timeout_request(msg: u8, flags: u16) -> MsgBuilder {
    MsgBuilder::new(
        msg_type(NFNL_SUBSYS_CTNETLINK_TIMEOUT, msg),
        flags | NLM_F_REQUEST,
        AF_UNSPEC,
        NFNETLINK_V0,
    )
}

impl Kernel {
    fn nf_transact(&self, req: Request) -> Result<Option<crate::socket::Msg>> {
        let mut s = self.new_nf_socket()?;
        s.transact(req)
    }

    /// Every connection (of `zone` if given), read with an
    /// `IPCTNL_MSG_CT_GET` dump as OVS reads it: entries that do not
    /// parse are skipped, zones are filtered here.
    ///
    /// # Errors
    /// Socket errors; `EFBIG` past [`MAX_DUMP_ENTRIES`].
    pub fn ct_dump(&self, dp: Option<i32>, zone: Option<u16>) -> Result<Vec<CtEntry>> {
        let mut s = self.new_nf_socket()?;
        s.dump_start(ct_request(IPCTNL_MSG_CT_GET, AF_UNSPEC, 0, dp).finish()?)?;
        let mut out = Vec::new();
        let want = msg_type(NFNL_SUBSYS_CTNETLINK, IPCTNL_MSG_CT_NEW);
        while let Some(m) = s.dump_next()? {
            if m.family != want || m.version != NFNETLINK_V0 {
                continue;
            }
            let Ok(e) = parse_entry(m.cmd, &m.payload) else {
                log::debug!("skipping a conntrack entry that does not parse");
                continue;
            };
            if zone.is_some_and(|z| z != e.zone) {
                continue;
            }
            if out.len() >= MAX_DUMP_ENTRIES {
                return Err(Error::with_msg(errno::EFBIG, "conntrack dump too large"));
            }
            out.push(e);
        }
        Ok(out)
    }

    /// Deletes the connection whose original tuple is `t` in `zone`
    /// (`IPCTNL_MSG_CT_DELETE` with `CTA_TUPLE_ORIG`, `CTA_ZONE`, and
    /// `CTA_ID` when given).
    ///
    /// # Errors
    /// `ENOENT` if there is none.
    pub fn ct_delete(
        &self,
        dp: Option<i32>,
        t: &CtTuple,
        zone: u16,
        id: Option<u32>,
    ) -> Result<()> {
        let mut m = ct_request(IPCTNL_MSG_CT_DELETE, t.l3_type() as u8, 0, dp);
        let w = m.attrs();
        w.put_u16_be(CTA_ZONE, zone);
        put_tuple(w, CTA_TUPLE_ORIG, t, None);
        if let Some(id) = id {
            w.put_u32_be(CTA_ID, id);
        }
        self.nf_transact(m.finish()?).map(drop)
    }

    /// Flushes the table (`IPCTNL_MSG_CT_DELETE` without a tuple), or the
    /// connections whose mark matches `(value, mask)`.
    ///
    /// # Errors
    /// Socket errors.
    pub fn ct_flush_all(&self, dp: Option<i32>, mark: Option<(u32, u32)>) -> Result<()> {
        let mut m = ct_request(IPCTNL_MSG_CT_DELETE, AF_UNSPEC, 0, dp);
        if let Some((v, mask)) = mark {
            m.attrs().put_u32_be(CTA_MARK, v);
            m.attrs().put_u32_be(CTA_MARK_MASK, mask);
        }
        self.nf_transact(m.finish()?).map(drop)
    }

    /// Removes what `f` selects: everything or by mark in one request, one
    /// connection by its tuple, else (a zone, labels) by dumping and
    /// deleting each selected entry by tuple, zone and id, as OVS flushes
    /// a zone. Entries gone meanwhile are not an error.
    ///
    /// # Errors
    /// `ENOENT` for a tuple that names no connection; socket errors.
    pub fn ct_flush(&self, dp: Option<i32>, f: &CtFlush) -> Result<()> {
        if let Some(t) = &f.orig {
            if f.mark.is_none() && f.labels.is_none() {
                return self.ct_delete(dp, t, f.zone.unwrap_or(0), None);
            }
        }
        if f.zone.is_none() && f.orig.is_none() && f.labels.is_none() {
            return self.ct_flush_all(dp, f.mark);
        }
        let mut found = false;
        let mut s = self.new_nf_socket()?;
        for e in self.ct_dump(dp, None)? {
            if !f.matches(&e) {
                continue;
            }
            found = true;
            match s.transact(delete_request(dp, &e.orig, e.zone, Some(e.id))?) {
                Err(err) if err.errno() == errno::ENOENT => {}
                r => drop(r?),
            }
        }
        if f.orig.is_some() && !found {
            return Err(Error::new(errno::ENOENT));
        }
        Ok(())
    }

    /// Adds or replaces a cttimeout object (`IPCTNL_MSG_TIMEOUT_NEW`).
    ///
    /// # Errors
    /// The kernel's errno (`EINVAL` for a protocol change).
    pub fn ct_timeout_set(&self, o: &TimeoutObject) -> Result<()> {
        let mut m = timeout_request(
            IPCTNL_MSG_TIMEOUT_NEW,
            nl::msg::NLM_F_CREATE | nl::msg::NLM_F_REPLACE,
        );
        put_timeout(m.attrs(), o, None);
        self.nf_transact(m.finish()?).map(drop)
    }

    /// The cttimeout object `name`.
    ///
    /// # Errors
    /// `ENOENT` if there is none; `EPROTO` for a malformed reply.
    pub fn ct_timeout_get(&self, name: &str) -> Result<TimeoutObject> {
        let mut m = timeout_request(IPCTNL_MSG_TIMEOUT_GET, 0);
        m.attrs().put_string(CTA_TIMEOUT_NAME, name);
        let r = self
            .nf_transact(m.finish()?)?
            .ok_or_else(|| Error::proto("cttimeout get without a reply"))?;
        parse_timeout(&r.payload).map_err(|e| Error::proto(e.to_string()))
    }

    /// Deletes the cttimeout object `name`.
    ///
    /// # Errors
    /// `ENOENT` if there is none; `EBUSY` while a connection uses it.
    pub fn ct_timeout_del(&self, name: &str) -> Result<()> {
        let mut m = timeout_request(IPCTNL_MSG_TIMEOUT_DELETE, 0);
        m.attrs().put_string(CTA_TIMEOUT_NAME, name);
        self.nf_transact(m.finish()?).map(drop)
    }

    /// `ovs_ct_limit`, if registered.
    ///
    /// # Errors
    /// Socket errors.
    pub fn ct_limit_family(&self) -> Result<Option<Family>> {
        if let Some(f) = self.ct_limit.get() {
            return Ok(f.clone());
        }
        let mut s = self.take_socket()?;
        let r = family::resolve(&mut s, ct_limit::OVS_CT_LIMIT_FAMILY);
        self.put_socket(s);
        let f = match r {
            Ok(f) => Some(f),
            Err(e) if e.errno() == errno::ENOENT => None,
            Err(e) => return Err(e),
        };
        Ok(self.ct_limit.get_or_init(|| f).clone())
    }

    /// An `ovs_ct_limit` command with `limits` (absent if `None`) for
    /// datapath `dp_ifindex` (0: all); returns the reply's limits.
    ///
    /// # Errors
    /// `EOPNOTSUPP` without the family (as OVS); the kernel's errno.
    pub fn ct_limit(
        &self,
        cmd: u8,
        dp_ifindex: i32,
        limits: Option<&[ZoneLimit]>,
    ) -> Result<Vec<ZoneLimit>> {
        let fam = self
            .ct_limit_family()?
            .ok_or_else(|| Error::with_msg(errno::EOPNOTSUPP, "no ovs_ct_limit family"))?;
        let mut m = MsgBuilder::ovs(
            fam.id,
            nl::msg::NLM_F_ECHO,
            cmd,
            ct_limit::OVS_CT_LIMIT_VERSION,
            dp_ifindex,
        );
        if let Some(l) = limits {
            m.attrs()
                .put(ct_limit::OVS_CT_LIMIT_ATTR_ZONE_LIMIT, &ct_limit::encode(l));
        }
        let Some(reply) = self.transact(m.finish()?)? else {
            return Ok(Vec::new());
        };
        let (_, attrs) = reply.ovs_body()?;
        Ok(nl::AttrIter::new(attrs)
            .map_while(std::result::Result::ok)
            .find(|a| a.ty == ct_limit::OVS_CT_LIMIT_ATTR_ZONE_LIMIT)
            .map(|a| ct_limit::decode(a.payload))
            .unwrap_or_default())
    }
}
