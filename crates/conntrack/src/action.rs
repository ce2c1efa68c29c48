//! [`CtAction`]: a `ct` action's arguments, resolved once (helper by
//! name, timeout policy by name) so that running it per packet needs no
//! string handling or allocation.

use crate::helper::Helper;
use crate::nat::{Manip, NatRange};

/// The `nat` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatAction {
    /// `src` or `dst` (a new binding on commit); `None`: only apply the
    /// connection's existing NAT (`OVS_CT_NAT` alone).
    pub kind: Option<Manip>,
    /// The range of a new binding.
    pub range: NatRange,
}

/// A `ct` action, ready to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CtAction {
    /// `commit` (implied by `force`).
    pub commit: bool,
    /// `force`: a committed connection of the other direction is deleted
    /// and the packet treated as new.
    pub force: bool,
    /// `zone` as written in the action (the datapath may pass another).
    pub zone: u16,
    /// `mark=VALUE/MASK`, on commit.
    pub mark: Option<(u32, u32)>,
    /// `labels=VALUE/MASK`, on commit.
    pub labels: Option<(u128, u128)>,
    /// `nat`.
    pub nat: Option<NatAction>,
    /// `helper=NAME`.
    pub helper: Option<Helper>,
    /// `timeout=NAME`, resolved to a policy index.
    pub timeout: Option<u32>,
}

/// Why an ODP `ct` action cannot run (the kernel refuses such a flow at
/// install time with `EINVAL`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ActionError {
    /// An unknown helper name.
    UnknownHelper(String),
    /// `mark`, `labels` or a NAT range without `commit`.
    NeedsCommit,
    /// A zero mark or labels mask.
    ZeroMask,
    /// A NAT range with addresses of two families, or min above max.
    BadNatRange,
}

impl std::fmt::Display for ActionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActionError::UnknownHelper(h) => write!(f, "unknown conntrack helper \"{h}\""),
            ActionError::NeedsCommit => {
                f.write_str("setting ct_mark, ct_labels or a NAT range requires commit")
            }
            ActionError::ZeroMask => f.write_str("ct_mark or ct_labels mask cannot be 0"),
            ActionError::BadNatRange => f.write_str("bad NAT range"),
        }
    }
}

impl std::error::Error for ActionError {}

impl CtAction {
    /// Resolves an ODP `ct` action, checking it as the kernel's
    /// `parse_ct` does. `policy` resolves a timeout policy name (an
    /// unknown name is ignored, as the kernel only logs it).
    pub fn from_odp(
        ct: &odp::action::Ct,
        policy: impl Fn(&str) -> Option<u32>,
    ) -> Result<CtAction, ActionError> {
        let commit = ct.commit || ct.force_commit;
        let helper = match &ct.helper {
            Some(h) => {
                Some(Helper::from_name(h).ok_or_else(|| ActionError::UnknownHelper(h.clone()))?)
            }
            None => None,
        };
        if let Some((_, m)) = ct.mark {
            if m == 0 {
                return Err(ActionError::ZeroMask);
            }
        }
        if let Some((_, m)) = ct.labels {
            if m == 0 {
                return Err(ActionError::ZeroMask);
            }
        }
        if !commit && (ct.mark.is_some() || ct.labels.is_some()) {
            return Err(ActionError::NeedsCommit);
        }
        let nat = match &ct.nat {
            Some(n) => {
                let kind = n.kind.map(|k| match k {
                    odp::action::NatKind::Src => Manip::Src,
                    odp::action::NatKind::Dst => Manip::Dst,
                });
                if kind.is_some() && !commit {
                    return Err(ActionError::NeedsCommit);
                }
                let range = NatRange::from_odp(n);
                let fam = |a: Option<std::net::IpAddr>| a.map(|a| a.is_ipv6());
                if let (Some(a), Some(b)) = (fam(n.ip_min), fam(n.ip_max)) {
                    if a != b {
                        return Err(ActionError::BadNatRange);
                    }
                }
                if range.map_ips && range.min_addr > range.max_addr {
                    return Err(ActionError::BadNatRange);
                }
                Some(NatAction { kind, range })
            }
            None => None,
        };
        Ok(CtAction {
            commit,
            force: ct.force_commit,
            zone: ct.zone.unwrap_or(0),
            mark: ct.mark,
            labels: ct.labels,
            nat,
            helper,
            timeout: ct.timeout.as_deref().and_then(policy),
        })
    }
}
