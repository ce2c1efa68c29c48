//! `ovs_datapath` messages: create, delete, get, dump and set datapaths.

use crate::abi::*;
use crate::error::{Error, Result};
use crate::family::{c_string, Family};
use crate::socket::{Msg, MsgBuilder, Request};

/// `struct ovs_dp_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DpStats {
    /// Packets that matched a flow.
    pub n_hit: u64,
    /// Packets that matched no flow.
    pub n_missed: u64,
    /// Misses not sent to userspace.
    pub n_lost: u64,
    /// Flows in the table.
    pub n_flows: u64,
}

/// `struct ovs_dp_megaflow_stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MegaflowStats {
    /// Masks visited by lookups.
    pub n_mask_hit: u64,
    /// Masks in the table.
    pub n_masks: u32,
    /// Lookups answered by the mask cache.
    pub n_cache_hit: u64,
}

/// A datapath request (`OVS_DP_CMD_*`). Unset fields are not sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DpRequest {
    /// `ovs_header.dp_ifindex` (0: look up by `name`).
    pub dp_ifindex: i32,
    /// `OVS_DP_ATTR_NAME`.
    pub name: Option<String>,
    /// `OVS_DP_ATTR_UPCALL_PID` (required by `NEW`).
    pub upcall_pid: Option<u32>,
    /// `OVS_DP_ATTR_USER_FEATURES` (`OVS_DP_F_*`).
    pub user_features: Option<u32>,
    /// `OVS_DP_ATTR_PER_CPU_PIDS`: the handler port id of each CPU.
    pub per_cpu_pids: Option<Vec<u32>>,
    /// `OVS_DP_ATTR_MASKS_CACHE_SIZE`.
    pub masks_cache_size: Option<u32>,
    /// oxvsd only: `OXVS_DP_ATTR_DROP_FRAGS`.
    pub drop_frags: Option<bool>,
    /// oxvsd only: `OXVS_DP_ATTR_SFLOW_PROBABILITY`.
    pub sflow_probability: Option<u32>,
    /// oxvsd only: `OXVS_DP_ATTR_CT_MAXCONNS`.
    pub ct_maxconns: Option<u32>,
    /// oxvsd only: `OXVS_DP_ATTR_CT_TCP_SEQ_CHK`.
    pub ct_tcp_seq_chk: Option<bool>,
    /// oxvsd only: `OXVS_DP_ATTR_IPF` settings.
    pub ipf: Option<IpfSet>,
}

/// Fragment reassembly settings to change (`OXVS_DP_ATTR_IPF` in a
/// `SET`); unset fields are left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IpfSet {
    /// IPv4 reassembly on.
    pub v4_enabled: Option<bool>,
    /// IPv6 reassembly on.
    pub v6_enabled: Option<bool>,
    /// Smallest IPv4 fragment.
    pub v4_min_frag: Option<u32>,
    /// Smallest IPv6 fragment.
    pub v6_min_frag: Option<u32>,
    /// Most fragments held.
    pub max_nfrags: Option<u32>,
}

impl IpfSet {
    /// Writes the nest.
    pub fn put(&self, w: &mut nl::Writer) {
        let n = w.begin_nested(OXVS_DP_ATTR_IPF);
        let b = |v: Option<bool>| v.map(u32::from);
        for (ty, v) in [
            (OXVS_IPF_ATTR_V4_ENABLED, b(self.v4_enabled)),
            (OXVS_IPF_ATTR_V6_ENABLED, b(self.v6_enabled)),
            (OXVS_IPF_ATTR_V4_MIN_FRAG, self.v4_min_frag),
            (OXVS_IPF_ATTR_V6_MIN_FRAG, self.v6_min_frag),
            (OXVS_IPF_ATTR_MAX_NFRAGS, self.max_nfrags),
        ] {
            if let Some(v) = v {
                w.put_u32(ty, v);
            }
        }
        w.end_nested(n);
    }

    /// Reads the nest's payload.
    ///
    /// # Errors
    /// `EINVAL` for malformed framing or a field that is not a `u32`.
    pub fn parse(b: &[u8]) -> Result<IpfSet> {
        let mut s = IpfSet::default();
        for a in nl::AttrIter::new(b) {
            let a = a.map_err(|e| Error::with_msg(crate::error::errno::EINVAL, e.to_string()))?;
            let v = || {
                a.u32().ok_or_else(|| {
                    Error::with_msg(crate::error::errno::EINVAL, "bad ipf attribute")
                })
            };
            match a.ty {
                OXVS_IPF_ATTR_V4_ENABLED => s.v4_enabled = Some(v()? != 0),
                OXVS_IPF_ATTR_V6_ENABLED => s.v6_enabled = Some(v()? != 0),
                OXVS_IPF_ATTR_V4_MIN_FRAG => s.v4_min_frag = Some(v()?),
                OXVS_IPF_ATTR_V6_MIN_FRAG => s.v6_min_frag = Some(v()?),
                OXVS_IPF_ATTR_MAX_NFRAGS => s.max_nfrags = Some(v()?),
                _ => {}
            }
        }
        Ok(s)
    }
}

/// Writes a reassembly status as `OXVS_DP_ATTR_IPF`.
pub fn put_ipf_status(w: &mut nl::Writer, st: &dpif::ct::IpfStatus) {
    let n = w.begin_nested(OXVS_DP_ATTR_IPF);
    w.put_u32(OXVS_IPF_ATTR_V4_ENABLED, u32::from(st.v4.enabled));
    w.put_u32(OXVS_IPF_ATTR_V6_ENABLED, u32::from(st.v6.enabled));
    w.put_u32(OXVS_IPF_ATTR_V4_MIN_FRAG, st.v4.min_frag_size);
    w.put_u32(OXVS_IPF_ATTR_V6_MIN_FRAG, st.v6.min_frag_size);
    w.put_u32(OXVS_IPF_ATTR_MAX_NFRAGS, st.nfrag_max);
    w.put_u32(OXVS_IPF_ATTR_NFRAG, st.nfrag);
    for (ty, f) in [
        (OXVS_IPF_ATTR_V4_COUNTERS, &st.v4),
        (OXVS_IPF_ATTR_V6_COUNTERS, &st.v6),
    ] {
        let c: Vec<u8> = [
            f.nfrag_accepted,
            f.nfrag_completed_sent,
            f.nfrag_expired_sent,
            f.nfrag_too_small,
            f.nfrag_overlap,
            f.nfrag_purged,
        ]
        .iter()
        .flat_map(|v| v.to_ne_bytes())
        .collect();
        w.put(ty, &c);
    }
    w.end_nested(n);
}

/// Reads `OXVS_DP_ATTR_IPF`'s payload as a status (missing fields zero).
pub fn parse_ipf_status(b: &[u8]) -> dpif::ct::IpfStatus {
    let mut st = dpif::ct::IpfStatus::default();
    for a in nl::AttrIter::new(b).map_while(std::result::Result::ok) {
        let v = a.u32().unwrap_or(0);
        match a.ty {
            OXVS_IPF_ATTR_V4_ENABLED => st.v4.enabled = v != 0,
            OXVS_IPF_ATTR_V6_ENABLED => st.v6.enabled = v != 0,
            OXVS_IPF_ATTR_V4_MIN_FRAG => st.v4.min_frag_size = v,
            OXVS_IPF_ATTR_V6_MIN_FRAG => st.v6.min_frag_size = v,
            OXVS_IPF_ATTR_MAX_NFRAGS => st.nfrag_max = v,
            OXVS_IPF_ATTR_NFRAG => st.nfrag = v,
            OXVS_IPF_ATTR_V4_COUNTERS | OXVS_IPF_ATTR_V6_COUNTERS if a.payload.len() == 48 => {
                let f = if a.ty == OXVS_IPF_ATTR_V4_COUNTERS {
                    &mut st.v4
                } else {
                    &mut st.v6
                };
                let c = |i| u64_at(a.payload, i);
                f.nfrag_accepted = c(0);
                f.nfrag_completed_sent = c(1);
                f.nfrag_expired_sent = c(2);
                f.nfrag_too_small = c(3);
                f.nfrag_overlap = c(4);
                f.nfrag_purged = c(5);
            }
            _ => {}
        }
    }
    st
}

impl DpRequest {
    /// Frames the request as command `cmd` with extra `flags`.
    ///
    /// # Errors
    /// `EMSGSIZE` if an attribute is too long.
    pub fn to_request(&self, family: &Family, cmd: u8, flags: u16) -> Result<Request> {
        let mut m = MsgBuilder::ovs(family.id, flags, cmd, OVS_DATAPATH_VERSION, self.dp_ifindex);
        let w = m.attrs();
        if let Some(n) = &self.name {
            w.put_string(OVS_DP_ATTR_NAME, n);
        }
        if let Some(p) = self.upcall_pid {
            w.put_u32(OVS_DP_ATTR_UPCALL_PID, p);
        }
        if let Some(f) = self.user_features {
            w.put_u32(OVS_DP_ATTR_USER_FEATURES, f);
        }
        if let Some(pids) = &self.per_cpu_pids {
            let bytes: Vec<u8> = pids.iter().flat_map(|p| p.to_ne_bytes()).collect();
            w.put(OVS_DP_ATTR_PER_CPU_PIDS, &bytes);
        }
        if let Some(s) = self.masks_cache_size {
            w.put_u32(OVS_DP_ATTR_MASKS_CACHE_SIZE, s);
        }
        if let Some(d) = self.drop_frags {
            w.put_u32(OXVS_DP_ATTR_DROP_FRAGS, u32::from(d));
        }
        if let Some(p) = self.sflow_probability {
            w.put_u32(OXVS_DP_ATTR_SFLOW_PROBABILITY, p);
        }
        if let Some(n) = self.ct_maxconns {
            w.put_u32(OXVS_DP_ATTR_CT_MAXCONNS, n);
        }
        if let Some(on) = self.ct_tcp_seq_chk {
            w.put_u32(OXVS_DP_ATTR_CT_TCP_SEQ_CHK, u32::from(on));
        }
        if let Some(i) = &self.ipf {
            i.put(w);
        }
        m.finish()
    }
}

/// A datapath as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DpInfo {
    /// The ifindex of the datapath's local port (its handle).
    pub dp_ifindex: i32,
    /// Its name.
    pub name: String,
    /// `OVS_DP_ATTR_STATS`.
    pub stats: Option<DpStats>,
    /// `OVS_DP_ATTR_MEGAFLOW_STATS`.
    pub megaflow_stats: Option<MegaflowStats>,
    /// `OVS_DP_ATTR_USER_FEATURES`.
    pub user_features: Option<u32>,
    /// `OVS_DP_ATTR_MASKS_CACHE_SIZE`.
    pub masks_cache_size: Option<u32>,
    /// `OVS_DP_ATTR_PER_CPU_PIDS`.
    pub per_cpu_pids: Vec<u32>,
    /// oxvsd only: `OXVS_DP_ATTR_DROP_FRAGS`.
    pub drop_frags: Option<bool>,
    /// oxvsd only: `OXVS_DP_ATTR_SFLOW_PROBABILITY`.
    pub sflow_probability: Option<u32>,
    /// oxvsd only: `OXVS_DP_ATTR_CT_MAXCONNS`.
    pub ct_maxconns: Option<u32>,
    /// oxvsd only: `OXVS_DP_ATTR_CT_NCONNS`.
    pub ct_nconns: Option<u32>,
    /// oxvsd only: `OXVS_DP_ATTR_CT_TCP_SEQ_CHK`.
    pub ct_tcp_seq_chk: Option<bool>,
    /// oxvsd only: `OXVS_DP_ATTR_CT_N_BUCKETS`.
    pub ct_n_buckets: Option<u32>,
    /// oxvsd only: `OXVS_DP_ATTR_IPF`.
    pub ipf: Option<dpif::ct::IpfStatus>,
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[i * 8..i * 8 + 8]);
    u64::from_ne_bytes(a)
}

/// Native-order `u32`s of an array attribute.
pub(crate) fn u32_array(b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4)
        .map(|c| u32::from_ne_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

impl DpInfo {
    /// Parses a datapath reply or notification. Attributes this crate does
    /// not know (a newer kernel's) are skipped.
    ///
    /// # Errors
    /// `EPROTO` if the message is malformed or has no name.
    pub fn parse(msg: &Msg) -> Result<DpInfo> {
        let (dp_ifindex, attrs) = msg.ovs_body()?;
        let mut d = DpInfo {
            dp_ifindex,
            ..DpInfo::default()
        };
        for a in nl::AttrIter::new(attrs) {
            let a = a.map_err(|e| Error::proto(format!("datapath reply: {e}")))?;
            match a.ty {
                OVS_DP_ATTR_NAME => d.name = c_string(a.payload),
                OVS_DP_ATTR_STATS if a.payload.len() >= 32 => {
                    let p = a.payload;
                    d.stats = Some(DpStats {
                        n_hit: u64_at(p, 0),
                        n_missed: u64_at(p, 1),
                        n_lost: u64_at(p, 2),
                        n_flows: u64_at(p, 3),
                    });
                }
                OVS_DP_ATTR_MEGAFLOW_STATS if a.payload.len() >= 24 => {
                    let p = a.payload;
                    d.megaflow_stats = Some(MegaflowStats {
                        n_mask_hit: u64_at(p, 0),
                        n_masks: u32::from_ne_bytes([p[8], p[9], p[10], p[11]]),
                        n_cache_hit: u64_at(p, 2),
                    });
                }
                OVS_DP_ATTR_USER_FEATURES => d.user_features = a.u32(),
                OVS_DP_ATTR_MASKS_CACHE_SIZE => d.masks_cache_size = a.u32(),
                OVS_DP_ATTR_PER_CPU_PIDS => d.per_cpu_pids = u32_array(a.payload),
                OXVS_DP_ATTR_DROP_FRAGS => d.drop_frags = a.u32().map(|v| v != 0),
                OXVS_DP_ATTR_SFLOW_PROBABILITY => d.sflow_probability = a.u32(),
                OXVS_DP_ATTR_CT_MAXCONNS => d.ct_maxconns = a.u32(),
                OXVS_DP_ATTR_CT_NCONNS => d.ct_nconns = a.u32(),
                OXVS_DP_ATTR_CT_TCP_SEQ_CHK => d.ct_tcp_seq_chk = a.u32().map(|v| v != 0),
                OXVS_DP_ATTR_CT_N_BUCKETS => d.ct_n_buckets = a.u32(),
                OXVS_DP_ATTR_IPF => d.ipf = Some(parse_ipf_status(a.payload)),
                _ => {}
            }
        }
        if d.name.is_empty() {
            return Err(Error::proto("datapath reply without a name"));
        }
        Ok(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(attrs: nl::Writer) -> Msg {
        Msg {
            family: 32,
            flags: 0,
            seq: 0,
            cmd: OVS_DP_CMD_GET,
            version: 2,
            payload: attrs.into_bytes(),
        }
    }

    #[test]
    fn parses_stats_and_skips_newer_attributes() {
        let mut w = nl::Writer::with_buffer(7i32.to_ne_bytes().to_vec());
        w.put_string(OVS_DP_ATTR_NAME, "dp0");
        let stats: Vec<u8> = [1u64, 2, 3, 4]
            .iter()
            .flat_map(|v| v.to_ne_bytes())
            .collect();
        w.put(OVS_DP_ATTR_STATS, &stats);
        let mut mf = Vec::new();
        mf.extend_from_slice(&10u64.to_ne_bytes());
        mf.extend_from_slice(&3u32.to_ne_bytes());
        mf.extend_from_slice(&0u32.to_ne_bytes());
        mf.extend_from_slice(&5u64.to_ne_bytes());
        mf.extend_from_slice(&0u64.to_ne_bytes());
        w.put(OVS_DP_ATTR_MEGAFLOW_STATS, &mf);
        w.put_u32(OVS_DP_ATTR_USER_FEATURES, OVS_DP_F_UNALIGNED);
        w.put(OVS_DP_ATTR_PER_CPU_PIDS, &[9, 0, 0, 0, 8, 0, 0, 0]);
        w.put_u32(77, 1); // a newer kernel's attribute
        let d = DpInfo::parse(&msg(w)).unwrap();
        assert_eq!(d.dp_ifindex, 7);
        assert_eq!(d.name, "dp0");
        assert_eq!(
            d.stats,
            Some(DpStats {
                n_hit: 1,
                n_missed: 2,
                n_lost: 3,
                n_flows: 4
            })
        );
        assert_eq!(
            d.megaflow_stats,
            Some(MegaflowStats {
                n_mask_hit: 10,
                n_masks: 3,
                n_cache_hit: 5
            })
        );
        assert_eq!(d.user_features, Some(OVS_DP_F_UNALIGNED));
        assert_eq!(d.per_cpu_pids, vec![9, 8]);
    }

    #[test]
    fn new_request_bytes() {
        let f = Family {
            name: "ovs_datapath".into(),
            id: 32,
            version: 2,
            hdrsize: 4,
            maxattr: 9,
            mcast_groups: vec![],
        };
        let r = DpRequest {
            name: Some("dp0".into()),
            upcall_pid: Some(5),
            user_features: Some(3),
            ..DpRequest::default()
        };
        let b = r.to_request(&f, OVS_DP_CMD_NEW, NLM_F_ECHO).unwrap();
        let b = b.as_bytes();
        assert_eq!(
            &b[16..24],
            &[OVS_DP_CMD_NEW, OVS_DATAPATH_VERSION, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            &b[24..],
            &[8, 0, 1, 0, b'd', b'p', b'0', 0, 8, 0, 2, 0, 5, 0, 0, 0, 8, 0, 5, 0, 3, 0, 0, 0][..]
        );
    }

    #[test]
    fn ipf_status_and_settings_round_trip() {
        let st = dpif::ct::IpfStatus {
            v4: dpif::ct::IpfFamilyStatus {
                enabled: true,
                min_frag_size: 1200,
                nfrag_accepted: 1,
                nfrag_purged: 6,
                ..Default::default()
            },
            v6: dpif::ct::IpfFamilyStatus {
                nfrag_overlap: 5,
                ..Default::default()
            },
            nfrag_max: 1000,
            nfrag: 3,
        };
        let mut w = nl::Writer::new();
        put_ipf_status(&mut w, &st);
        let a = nl::AttrIter::new(w.as_bytes()).next().unwrap().unwrap();
        assert_eq!(a.ty, OXVS_DP_ATTR_IPF);
        assert_eq!(parse_ipf_status(a.payload), st);
        let set = IpfSet {
            v6_enabled: Some(false),
            max_nfrags: Some(9),
            ..IpfSet::default()
        };
        let mut w = nl::Writer::new();
        set.put(&mut w);
        let a = nl::AttrIter::new(w.as_bytes()).next().unwrap().unwrap();
        assert_eq!(IpfSet::parse(a.payload).unwrap(), set);
        assert!(IpfSet::parse(&[8, 0, 1, 0, 1, 0]).is_err());
    }

    #[test]
    fn reply_without_name_is_eproto() {
        let w = nl::Writer::with_buffer(7i32.to_ne_bytes().to_vec());
        assert_eq!(
            DpInfo::parse(&msg(w)).unwrap_err().errno(),
            crate::error::errno::EPROTO
        );
    }
}
