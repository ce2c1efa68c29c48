//! The conntrack commands of `ovs-dpctl`, with its argument syntax, its
//! output (the text is [`dpif::ct::format`]'s) and its error messages:
//! `dump-conntrack`, `flush-conntrack`, `ct-stats-show`, `ct-bkts`,
//! `ct-set/get-maxconns`, `ct-get-nconns`, `ct-enable/disable/get-tcp-seq-chk`,
//! `ct-set/get/del-limits`, `ipf-set-enabled/disabled`, `ipf-set-min-frag`,
//! `ipf-set-max-nfrags`, `ipf-get-status`.
//!
//! The datapath argument is optional everywhere (the only datapath when
//! left out). Where Open vSwitch 3.1's `flush-conntrack` reads a datapath
//! argument as a tuple, this one takes it as a datapath, as its usage
//! line says.

use dpif::ct::format;
use dpif::ct::parse::{self, CtMatch};
use dpif::ct::{CtFlush, CtZoneLimit};
use dpif::Errno;

use crate::cli::{CmdResult, Ctx};

/// `dump-conntrack [-m] [-s] [dp] [zone=N]`.
pub fn dump_conntrack(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let mut args = args;
    let mut zone = None;
    if let Some(z) = args
        .last()
        .and_then(|a| a.strip_prefix("zone="))
        .and_then(parse::scan_u16)
    {
        zone = Some(z);
        args = &args[..args.len() - 1];
    }
    let (dp, _) = ctx.opt_open(args, 1)?;
    let d = dp
        .ct_dump(zone)
        .inspect_err(|&e| ctx.error(Some(e), "starting conntrack dump"))?;
    let verbose = ctx.opts.verbosity > 0;
    let text = format::dump(&d.entries, verbose, ctx.opts.statistics);
    ctx.print(&text);
    Ok(())
}

/// `flush-conntrack [dp] [zone=N] [ct-orig-tuple [ct-reply-tuple]]`.
pub fn flush_conntrack(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let mut rest = args;
    let dp_given = rest.first().is_some_and(|a| ctx.dp_exists(a));
    let dp_args = if dp_given { &rest[..1] } else { &rest[..0] };
    if dp_given {
        rest = &rest[1..];
    }
    let fail = |ctx: &mut Ctx<'_>, msg: &str| {
        ctx.error(Some(Errno::EINVAL), msg);
        Err(Errno::EINVAL)
    };
    let mut zone = None;
    if let Some(z) = rest.first().and_then(|a| a.strip_prefix("zone=")) {
        match parse::scan_u16(z) {
            Some(z) => zone = Some(z),
            None => return fail(ctx, "failed to parse zone"),
        }
        rest = &rest[1..];
    }
    let mut m = CtMatch::default();
    for (i, arg) in rest.iter().take(2).enumerate() {
        let t = if i == 0 { &mut m.orig } else { &mut m.reply };
        if !arg.is_empty() {
            if let Err(msg) = parse::tuple(arg, t, &mut m.ip_proto, &mut m.l3_type) {
                return fail(ctx, &msg);
            }
        }
    }
    if rest.len() > 2 {
        return fail(ctx, "invalid arguments");
    }
    let (dp, _) = ctx.opt_open(dp_args, 1)?;
    let r = if m.is_zero() {
        dp.ct_flush(&CtFlush {
            zone,
            ..CtFlush::default()
        })
    } else if let Some(t) = m.exact_orig() {
        dp.ct_flush(&CtFlush {
            zone,
            orig: Some(t),
            ..CtFlush::default()
        })
    } else {
        // A partial match: each selected connection by its tuple, as
        // OVS's ct_dpif_flush_tuple does.
        dp.ct_dump(zone).and_then(|d| {
            for e in d.entries.iter().filter(|e| m.selects(e)) {
                dp.ct_flush(&CtFlush {
                    zone: Some(e.zone),
                    orig: Some(e.orig),
                    ..CtFlush::default()
                })?;
            }
            Ok(())
        })
    };
    r.inspect_err(|&e| ctx.error(Some(e), "failed to flush conntrack"))
}

/// `ct-stats-show [dp] [zone=N] [verbose]` (and `-m`).
pub fn ct_stats_show(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let mut args = args;
    let mut zone = None;
    let mut verbose = ctx.opts.verbosity > 0;
    loop {
        match args.last() {
            Some(a) if a.starts_with("verbose") => verbose = true,
            Some(a) if a.starts_with("zone=") => match parse::scan_u16(&a[5..]) {
                Some(z) => zone = Some(z),
                None => break,
            },
            _ => break,
        }
        args = &args[..args.len() - 1];
    }
    let (dp, _) = ctx.opt_open(args, 1)?;
    let d = dp
        .ct_dump(zone)
        .inspect_err(|&e| ctx.error(Some(e), "starting conntrack dump"))?;
    let text = format::stats(&d.entries, verbose);
    ctx.print(&text);
    Ok(())
}

/// `ct-bkts [dp] [gt=N]`.
pub fn ct_bkts(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let mut args = args;
    let mut gt = 0;
    if let Some(v) = args
        .last()
        .and_then(|a| a.strip_prefix("gt="))
        .and_then(parse::scan_u16)
    {
        gt = v;
        args = &args[..args.len() - 1];
    }
    let (dp, _) = ctx.opt_open(args, 1)?;
    let d = dp
        .ct_dump(None)
        .inspect_err(|&e| ctx.error(Some(e), "starting conntrack dump"))?;
    let text = format::bkts(&d, gt);
    ctx.print(&text);
    Ok(())
}

/// `ct-set-maxconns [dp] N`.
pub fn ct_set_maxconns(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let (dp, _) = ctx.opt_open(args, 2)?;
    let Some(n) = args.last().and_then(|a| parse::scan_u32(a)) else {
        ctx.error(Some(Errno::EINVAL), "maxconns missing or malformed");
        return Err(Errno::EINVAL);
    };
    match dp.ct_set_maxconns(n) {
        Ok(()) => {
            ctx.print("setting maxconns successful");
            Ok(())
        }
        Err(e) => {
            ctx.error(Some(e), "ct set maxconns failed");
            Err(e)
        }
    }
}

/// `ct-get-maxconns [dp]`.
pub fn ct_get_maxconns(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let (dp, _) = ctx.opt_open(args, 1)?;
    let n = dp
        .ct_get_maxconns()
        .inspect_err(|&e| ctx.error(Some(e), "maxconns could not be retrieved"))?;
    ctx.print(&format!("{n}\n"));
    Ok(())
}

/// `ct-get-nconns [dp]`.
pub fn ct_get_nconns(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let (dp, _) = ctx.opt_open(args, 1)?;
    let n = dp
        .ct_get_nconns()
        .inspect_err(|&e| ctx.error(Some(e), "nconns could not be retrieved"))?;
    ctx.print(&format!("{n}\n"));
    Ok(())
}

/// `ct-enable-tcp-seq-chk [dp]` / `ct-disable-tcp-seq-chk [dp]`.
pub fn ct_set_tcp_seq_chk(ctx: &mut Ctx<'_>, args: &[String], on: bool) -> CmdResult {
    let (dp, _) = ctx.opt_open(args, 2)?;
    let what = if on { "enabling" } else { "disabling" };
    match dp.ct_set_tcp_seq_chk(on) {
        Ok(()) => {
            ctx.print(&format!("{what} TCP sequence checking successful"));
            Ok(())
        }
        Err(e) => {
            ctx.error(Some(e), &format!("{what} TCP sequence checking failed"));
            Err(e)
        }
    }
}

/// `ct-get-tcp-seq-chk [dp]`.
pub fn ct_get_tcp_seq_chk(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let (dp, _) = ctx.opt_open(args, 1)?;
    let on = dp
        .ct_get_tcp_seq_chk()
        .inspect_err(|&e| ctx.error(Some(e), "TCP sequence checking query failed"))?;
    let state = if on { "enabled" } else { "disabled" };
    ctx.print(&format!("TCP sequence checking: {state}\n"));
    Ok(())
}

/// The arguments after an optional datapath argument.
fn after_dp<'a>(ctx: &Ctx<'_>, args: &'a [String]) -> &'a [String] {
    match args.first() {
        Some(a) if ctx.dp_exists(a) => &args[1..],
        _ => args,
    }
}

/// `ct-set-limits [dp] [default=N] [zone=N,limit=N]...`.
pub fn ct_set_limits(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let (dp, _) = ctx.opt_open(args, usize::MAX)?;
    let mut rest = after_dp(ctx, args);
    let fail = |ctx: &mut Ctx<'_>, msg: &str| {
        ctx.error(Some(Errno::EINVAL), msg);
        Err(Errno::EINVAL)
    };
    let mut default = None;
    if let Some(d) = rest.first().and_then(|a| a.strip_prefix("default=")) {
        match parse::scan_u32(d) {
            Some(d) => default = Some(d),
            None => return fail(ctx, "invalid default limit"),
        }
        rest = &rest[1..];
    }
    let mut zones = Vec::new();
    for a in rest {
        match parse::zone_limit(a) {
            Ok((zone, limit)) => zones.push(CtZoneLimit {
                zone,
                limit,
                count: 0,
            }),
            Err(msg) => return fail(ctx, &msg),
        }
    }
    dp.ct_set_limits(default, &zones)
        .inspect_err(|&e| ctx.error(Some(e), "failed to set conntrack limit"))
}

/// `ct-del-limits [dp] zone=N1[,N2]...`.
pub fn ct_del_limits(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let (dp, _) = ctx.opt_open(args, 2)?;
    let rest = after_dp(ctx, args);
    let zones = match rest.first().map(|a| parse::zone_list(a)) {
        Some(Ok(z)) => z,
        Some(Err(msg)) => {
            ctx.error(Some(Errno::EINVAL), &msg);
            return Err(Errno::EINVAL);
        }
        None => {
            ctx.error(Some(Errno::EINVAL), "invalid argument");
            return Err(Errno::EINVAL);
        }
    };
    dp.ct_del_limits(&zones)
        .inspect_err(|&e| ctx.error(Some(e), "failed to delete conntrack limit"))
}

/// `ct-get-limits [dp] [zone=N1[,N2]...]`.
pub fn ct_get_limits(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let (dp, _) = ctx.opt_open(args, 2)?;
    let rest = after_dp(ctx, args);
    let zones = match rest.first().map(|a| parse::zone_list(a)) {
        Some(Ok(z)) => z,
        Some(Err(msg)) => {
            ctx.error(Some(Errno::EINVAL), &msg);
            return Err(Errno::EINVAL);
        }
        None => Vec::new(),
    };
    match dp.ct_get_limits(&zones) {
        Ok(l) => {
            let text = format::limits(&l);
            ctx.print(&text);
            Ok(())
        }
        Err(e) => {
            ctx.error(Some(e), &format!("failed to get conntrack limit {e}"));
            Err(e)
        }
    }
}

/// `v4` or `v6` (OVS reads the first two characters): whether IPv6.
fn family(arg: Option<&String>) -> Option<bool> {
    let a = arg?.trim_start();
    match a.get(..2)? {
        "v4" => Some(false),
        "v6" => Some(true),
        _ => None,
    }
}

/// `ipf-set-enabled [dp] v4|v6` / `ipf-set-disabled [dp] v4|v6`.
pub fn ipf_set_enabled(ctx: &mut Ctx<'_>, args: &[String], on: bool) -> CmdResult {
    let (dp, _) = ctx.opt_open(args, 3)?;
    let what = if on { "enabling" } else { "disabling" };
    let Some(v6) = family(args.last()) else {
        ctx.error(
            Some(Errno::EINVAL),
            "parameter missing: 'v4' for IPv4 or 'v6' for IPv6",
        );
        return Err(Errno::EINVAL);
    };
    match dp.ct_ipf_set_enabled(v6, on) {
        Ok(()) => {
            ctx.print(&format!("{what} fragmentation reassembly successful"));
            Ok(())
        }
        Err(e) => {
            ctx.error(Some(e), &format!("{what} fragmentation reassembly failed"));
            Err(e)
        }
    }
}

/// `ipf-set-min-frag [dp] v4|v6 N`.
pub fn ipf_set_min_frag(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let (dp, _) = ctx.opt_open(args, 3)?;
    let n = args.len();
    let Some(v6) = n.checked_sub(2).and_then(|i| family(args.get(i))) else {
        ctx.error(
            Some(Errno::EINVAL),
            "parameter missing: v4 for IPv4 or v6 for IPv6",
        );
        return Err(Errno::EINVAL);
    };
    let Some(min) = args.last().and_then(|a| parse::scan_u32(a)) else {
        ctx.error(
            Some(Errno::EINVAL),
            "parameter missing for minimum fragment size",
        );
        return Err(Errno::EINVAL);
    };
    match dp.ct_ipf_set_min_frag(v6, min) {
        Ok(()) => {
            ctx.print("setting minimum fragment size successful");
            Ok(())
        }
        Err(e) => {
            ctx.error(
                Some(e),
                "requested minimum fragment size too small; see documentation",
            );
            Err(e)
        }
    }
}

/// `ipf-set-max-nfrags [dp] N`.
pub fn ipf_set_max_nfrags(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let (dp, _) = ctx.opt_open(args, 2)?;
    let Some(n) = args.last().and_then(|a| parse::scan_u32(a)) else {
        ctx.error(
            Some(Errno::EINVAL),
            "parameter missing for maximum fragments",
        );
        return Err(Errno::EINVAL);
    };
    match dp.ct_ipf_set_max_nfrags(n) {
        Ok(()) => {
            ctx.print("setting maximum fragments successful");
            Ok(())
        }
        Err(e) => {
            ctx.error(Some(e), "setting maximum fragments failed");
            Err(e)
        }
    }
}

/// `ipf-get-status [dp] [-m]`. The fragment lists of `-m` are not
/// available from any provider: said as an error after the status.
pub fn ipf_get_status(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let (dp, _) = ctx.opt_open(args, 1)?;
    let st = dp
        .ct_ipf_get_status()
        .inspect_err(|&e| ctx.error(Some(e), "ipf status could not be retrieved"))?;
    ctx.print(&format::ipf_status(&st));
    if ctx.opts.verbosity > 0 {
        ctx.error(Some(Errno::EOPNOTSUPP), "starting ipf list dump");
    }
    Ok(())
}
