//! Flow commands: `dump-flows`, `add-flow`, `mod-flow`, `get-flow`,
//! `del-flow`, `del-flows`, and the file forms `add-flows`, `mod-flows`,
//! `del-flows FILE`.
//!
//! The file forms take one flow per line, `[add|modify|delete] FLOW
//! [ACTIONS]` (the command word defaults to the verb's), with `#` comments,
//! blank lines skipped and `\` continuing a line; `-` is standard input.
//! Their operations go to the datapath in batches, in order; errors are
//! reported per line and make the exit status non-zero.

use std::io::{BufRead, BufReader, Read};

use dpif::{Dpif, DpifFlow, Errno, FlowDel, FlowGet, FlowPut, FlowStats, Op, OpReply, PutFlags};
use odp::text::filter::Filter;

use crate::cli::{CmdResult, Ctx, OutputFormat};
use crate::fmt::{self, FlowFormat, Json, PortNames};

/// Operations sent to the datapath at once by the file forms.
const BATCH: usize = 64;

/// `add-flow` or `mod-flow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutKind {
    /// Create only.
    Add,
    /// Modify (create too with `--may-create`).
    Modify,
}

/// A line's command in a flow file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineCmd {
    /// `add`.
    Add,
    /// `modify`.
    Modify,
    /// `delete`.
    Delete,
}

/// Port names of `dp` if `--names` is in effect.
fn names_for(dp: &Dpif, wanted: bool) -> Option<PortNames> {
    wanted.then(|| PortNames::new(&dp.port_dump().unwrap_or_default()))
}

/// `dump-flows [DP] [filter=FILTER]`.
pub fn dump_flows(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let mut args = args.to_vec();
    let mut filter_text = None;
    while let Some(last) = args.last() {
        if let Some(f) = last
            .strip_prefix("filter=")
            .filter(|_| filter_text.is_none())
        {
            filter_text = Some(f.to_string());
        } else if last.starts_with("type=") {
            ctx.error(
                None,
                "Invalid argument 'type'. Use 'ovs-appctl dpctl/dump-flows' instead.",
            );
            return Err(Errno::EINVAL);
        } else if last.starts_with("pmd=") {
            // One flow table per datapath: nothing to select.
        } else {
            break;
        }
        args.pop();
    }
    let (dp, _) = ctx.opt_open(&args, 1)?;
    let filter = match filter_text.as_deref().map(Filter::parse) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => {
            ctx.error(
                Some(Errno::EINVAL),
                &format!("Failed to parse filter ({e})"),
            );
            return Err(Errno::EINVAL);
        }
    };
    let names = names_for(&dp, ctx.opts.names());
    let ff = FlowFormat {
        verbose: ctx.opts.verbosity > 0,
        names: names.as_ref(),
        now_ms: ctx.now_ms(),
    };
    let json = ctx.opts.format == OutputFormat::Json;
    let mut items = Vec::new();
    let dump = match dp.flow_dump(false) {
        Ok(d) => d,
        Err(e) => {
            ctx.error(Some(e), "Failed to dump flows from datapath");
            return Err(e);
        }
    };
    let mut cursor = dump.cursor();
    let mut batch = Vec::new();
    let mut result = Ok(());
    let mut line = String::new();
    loop {
        batch.clear();
        match cursor.next(&mut batch, 50) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                result = Err(e);
                break;
            }
        }
        for f in &batch {
            if let Some(filter) = &filter {
                if !filter.matches(&f.key, &f.mask) {
                    continue;
                }
            }
            if json {
                items.push(flow_json(f, &ff));
            } else {
                line.clear();
                fmt::flow_line(f, &ff, &mut line);
                line.push('\n');
                ctx.print(&line);
            }
        }
    }
    if json {
        let mut s = String::new();
        Json::Arr(items).write(&mut s);
        s.push('\n');
        ctx.print(&s);
    }
    result.inspect_err(|&e| ctx.error(Some(e), "Failed to dump flows from datapath"))
}

fn flow_json(f: &DpifFlow, ff: &FlowFormat<'_>) -> Json {
    let mut m = String::new();
    let mask = (!f.mask.is_empty()).then_some(f.mask.as_slice());
    odp::text::key::format_match(&f.key, mask, ff.verbose, &mut m);
    let mut a = String::new();
    odp::text::action::format_actions(&f.actions, &mut a);
    if let Some(n) = ff.names {
        m = n.key_text(&m);
        a = n.action_text(&a);
    }
    let mut u = String::new();
    fmt::ufid(f.ufid, &mut u);
    let used = if f.stats.used_ms == 0 {
        Json::Null
    } else {
        Json::Num(ff.now_ms.saturating_sub(f.stats.used_ms))
    };
    let mut flags = String::new();
    fmt::tcp_flags(f.stats.tcp_flags, &mut flags);
    Json::obj([
        (
            "ufid",
            if f.ufid_present {
                Json::Str(u.trim_start_matches("ufid:").to_string())
            } else {
                Json::Null
            },
        ),
        ("match", Json::Str(m)),
        ("packets", Json::Num(f.stats.n_packets)),
        ("bytes", Json::Num(f.stats.n_bytes)),
        ("used_ms_ago", used),
        ("tcp_flags", Json::Str(flags)),
        ("actions", Json::Str(a)),
    ])
}

/// Splits a leading `ufid:UUID` off flow text.
fn split_ufid<'s>(
    ctx: &mut Ctx<'_>,
    s: &'s str,
) -> Result<(Option<odp::key::Ufid>, &'s str), Errno> {
    match fmt::parse_ufid(s) {
        Ok(Some((u, n))) => Ok((Some(u), &s[n..])),
        Ok(None) => Ok((None, s)),
        Err(fmt::BadUfid) => {
            ctx.error(Some(Errno::EINVAL), "parsing flow ufid");
            Err(Errno::EINVAL)
        }
    }
}

/// Parses a put's flow and actions, reporting errors as `ovs-dpctl` does.
fn build_put(
    ctx: &mut Ctx<'_>,
    names: &PortNames,
    flow: &str,
    actions: &str,
    flags: PutFlags,
) -> Result<FlowPut, Errno> {
    let (ufid, key_s) = split_ufid(ctx, flow)?;
    let (key, mask) = odp::text::key::parse_match(&names.parse_text(key_s)).map_err(|e| {
        ctx.error(Some(Errno::EINVAL), &format!("parsing flow key ({e})"));
        Errno::EINVAL
    })?;
    let actions = odp::text::action::parse_actions(actions).map_err(|_| {
        ctx.error(Some(Errno::EINVAL), "parsing actions");
        Errno::EINVAL
    })?;
    Ok(FlowPut {
        flags,
        key,
        mask: (!mask.is_empty()).then_some(mask),
        ufid,
        actions,
        want_stats: ctx.opts.statistics,
    })
}

/// Parses a delete's flow; also says whether a UFID was given.
fn build_del(ctx: &mut Ctx<'_>, names: &PortNames, flow: &str) -> Result<FlowDel, Errno> {
    let (ufid, key_s) = split_ufid(ctx, flow)?;
    let (key, _mask) = odp::text::key::parse_match(&names.parse_text(key_s)).map_err(|e| {
        ctx.error(Some(Errno::EINVAL), &e.to_string());
        Errno::EINVAL
    })?;
    Ok(FlowDel {
        key,
        ufid,
        want_stats: ctx.opts.statistics,
    })
}

/// Reports the outcome of one put or delete: the error, or with `-s` the
/// flow's statistics.
fn report(ctx: &mut Ctx<'_>, op: &Op, r: Result<OpReply, Errno>) -> CmdResult {
    match (op, r) {
        (_, Ok(OpReply::Put(s) | OpReply::Del(s))) => {
            if ctx.opts.statistics {
                let mut line = String::new();
                fmt::flow_stats(
                    &s.unwrap_or_else(FlowStats::default),
                    ctx.now_ms(),
                    &mut line,
                );
                line.push('\n');
                ctx.print(&line);
            }
            Ok(())
        }
        (Op::Del(d), Err(e)) => {
            ctx.error(Some(e), "deleting flow");
            if e == Errno::ENOENT && d.ufid.is_none() {
                ctx.print("Perhaps you need to specify a UFID?\n");
            }
            Err(e)
        }
        (_, Err(e)) => {
            ctx.error(Some(e), "updating flow table");
            Err(e)
        }
        (_, Ok(_)) => Err(Errno::EPROTO),
    }
}

/// Runs a batch and reports each operation in order.
fn run_batch(ctx: &mut Ctx<'_>, dp: &Dpif, ops: &[Op]) -> CmdResult {
    let mut last = Ok(());
    for (op, r) in ops.iter().zip(dp.operate(ops)) {
        if let Err(e) = report(ctx, op, r) {
            last = Err(e);
        }
    }
    last
}

fn put_flags(ctx: &Ctx<'_>, kind: PutKind) -> PutFlags {
    match kind {
        PutKind::Add => PutFlags::CREATE,
        PutKind::Modify => PutFlags {
            create: ctx.opts.may_create,
            modify: true,
            zero_stats: ctx.opts.clear,
            probe: false,
        },
    }
}

/// `add-flow [DP] FLOW ACTIONS` and `mod-flow [DP] FLOW ACTIONS`.
pub fn put_flow(ctx: &mut Ctx<'_>, args: &[String], kind: PutKind) -> CmdResult {
    let (dp, rest) = ctx.opt_open(args, 3)?;
    let [flow, actions] = rest else {
        ctx.error(Some(Errno::EINVAL), "datapath not found");
        return Err(Errno::EINVAL);
    };
    let names = PortNames::new(&dp.port_dump().unwrap_or_default());
    let flags = put_flags(ctx, kind);
    let put = build_put(ctx, &names, flow, actions, flags)?;
    run_batch(ctx, &dp, &[Op::Put(put)])
}

/// `get-flow [DP] ufid:UUID` or `get-flow [DP] FLOW`.
pub fn get_flow(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let (dp, rest) = ctx.opt_open(args, 2)?;
    let Some(text) = rest.last() else {
        ctx.error(Some(Errno::EINVAL), "datapath not found");
        return Err(Errno::EINVAL);
    };
    let names = PortNames::new(&dp.port_dump().unwrap_or_default());
    let (ufid, key_s) = split_ufid(ctx, text)?;
    let get = match ufid {
        Some(u) => FlowGet {
            key: Vec::new(),
            ufid: Some(u),
        },
        None => {
            let (key, _) = odp::text::key::parse_match(&names.parse_text(key_s)).map_err(|e| {
                ctx.error(Some(Errno::EINVAL), &format!("parsing flow key ({e})"));
                Errno::EINVAL
            })?;
            FlowGet { key, ufid: None }
        }
    };
    let flow = dp
        .flow_get(get)
        .inspect_err(|&e| ctx.error(Some(e), "getting flow"))?;
    let shown = ctx.opts.names().then_some(&names);
    let ff = FlowFormat {
        verbose: ctx.opts.verbosity > 0,
        names: shown,
        now_ms: ctx.now_ms(),
    };
    let mut s = String::new();
    if ctx.opts.format == OutputFormat::Json {
        flow_json(&flow, &ff).write(&mut s);
    } else {
        fmt::flow_line(&flow, &ff, &mut s);
    }
    s.push('\n');
    ctx.print(&s);
    Ok(())
}

/// `del-flow [DP] FLOW` (FLOW may start with, or be, `ufid:UUID`).
pub fn del_flow(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let (dp, rest) = ctx.opt_open(args, 2)?;
    let Some(text) = rest.last() else {
        ctx.error(Some(Errno::EINVAL), "datapath not found");
        return Err(Errno::EINVAL);
    };
    let names = PortNames::new(&dp.port_dump().unwrap_or_default());
    let del = build_del(ctx, &names, text)?;
    run_batch(ctx, &dp, &[Op::Del(del)])
}

/// `del-flows [DP]` deletes every flow; `del-flows [DP] FILE` the flows
/// listed in FILE.
pub fn del_flows(ctx: &mut Ctx<'_>, args: &[String]) -> CmdResult {
    let file_form = match args {
        [one] => !ctx.dp_exists(one),
        [] => false,
        _ => true,
    };
    if file_form {
        return process_file(ctx, args, LineCmd::Delete);
    }
    let (dp, _) = ctx.opt_open(args, 1)?;
    dp.flow_flush()
        .inspect_err(|&e| ctx.error(Some(e), "deleting all flows"))
}

/// One flow line: its command, flow and actions (see the module docs).
pub fn parse_flow_line(default: LineCmd, line: &str) -> (LineCmd, Option<&str>, Option<&str>) {
    let ws = |c: char| matches!(c, ' ' | '\t' | '\r' | '\n');
    let mut rest = line.trim_start_matches(ws);
    let word_len = rest.find(|c: char| ws(c) || c == ',').unwrap_or(rest.len());
    let word = &rest[..word_len];
    let mut cmd = default;
    // The word may be abbreviated, as in ovs-dpctl.
    let is = |full: &str| !word.is_empty() && full.starts_with(word);
    if is("add") {
        cmd = LineCmd::Add;
    } else if is("delete") {
        cmd = LineCmd::Delete;
    } else if is("modify") {
        cmd = LineCmd::Modify;
    }
    if cmd != default || is("add") || is("delete") || is("modify") {
        rest = &rest[word_len..];
    }
    rest = rest.trim_start_matches(ws);
    let flow_len = rest.find(ws).unwrap_or(rest.len());
    if flow_len == 0 {
        return (cmd, None, None);
    }
    let flow = &rest[..flow_len];
    let actions = rest[flow_len..].trim_start_matches(ws);
    (cmd, Some(flow), (!actions.is_empty()).then_some(actions))
}

/// Reads logical lines: `#` starts a comment, blank lines are skipped, a
/// trailing `\` joins the next line. Yields (first line number, text).
fn logical_lines(input: impl BufRead) -> impl Iterator<Item = std::io::Result<(usize, String)>> {
    let mut lines = input.lines().enumerate();
    std::iter::from_fn(move || {
        let mut acc = String::new();
        let mut first = None;
        loop {
            let (i, line) = match lines.next() {
                Some((i, Ok(l))) => (i, l),
                Some((_, Err(e))) => return Some(Err(e)),
                None => {
                    return first.map(|n| Ok((n, acc)));
                }
            };
            first.get_or_insert(i + 1);
            let line = match line.find('#') {
                Some(c) => &line[..c],
                None => &line[..],
            };
            if let Some(cont) = line.strip_suffix('\\') {
                acc.push_str(cont);
                continue;
            }
            acc.push_str(line);
            if acc.trim().is_empty() {
                acc.clear();
                first = None;
                continue;
            }
            return first.map(|n| Ok((n, acc)));
        }
    })
}

/// `add-flows`, `mod-flows`, `del-flows` with a FILE.
pub fn process_file(ctx: &mut Ctx<'_>, args: &[String], default: LineCmd) -> CmdResult {
    let (dp, rest) = ctx.opt_open(args, 3)?;
    let Some(file) = rest.last() else {
        ctx.error(Some(Errno::EINVAL), "datapath not found");
        return Err(Errno::EINVAL);
    };
    let input: Box<dyn Read> = if file == "-" {
        Box::new(std::io::stdin())
    } else {
        match std::fs::File::open(file) {
            Ok(f) => Box::new(f),
            Err(e) => {
                let e = Errno::from(e);
                ctx.error(Some(e), &format!("Opening file \"{file}\" failed"));
                return Err(e);
            }
        }
    };
    let names = PortNames::new(&dp.port_dump().unwrap_or_default());
    let mut ops = Vec::with_capacity(BATCH);
    let mut last = Ok(());
    let mut note = |r: CmdResult| {
        if r.is_err() {
            last = r;
        }
    };
    for item in logical_lines(BufReader::new(input)) {
        let (n, line) = match item {
            Ok(v) => v,
            Err(e) => {
                let e = Errno::from(e);
                ctx.error(Some(e), &format!("reading \"{file}\""));
                note(Err(e));
                break;
            }
        };
        let (cmd, flow, actions) = parse_flow_line(default, &line);
        let op = match (cmd, flow, actions) {
            (LineCmd::Add | LineCmd::Modify, Some(f), Some(a)) => {
                let flags = if cmd == LineCmd::Add {
                    PutFlags::CREATE
                } else {
                    PutFlags::MODIFY
                };
                build_put(ctx, &names, f, a, flags).map(Op::Put)
            }
            (LineCmd::Delete, Some(f), None) => build_del(ctx, &names, f).map(Op::Del),
            _ => {
                // Keep the messages in line order.
                note(run_batch(ctx, &dp, &ops));
                ops.clear();
                ctx.error(None, &format!("Failed parsing line number {n}, skipped!"));
                note(Err(Errno::EINVAL));
                continue;
            }
        };
        match op {
            Ok(op) => ops.push(op),
            Err(e) => note(Err(e)),
        }
        if ops.len() >= BATCH {
            note(run_batch(ctx, &dp, &ops));
            ops.clear();
        }
    }
    note(run_batch(ctx, &dp, &ops));
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_lines() {
        use LineCmd::*;
        assert_eq!(
            parse_flow_line(Add, "  in_port(1),eth() 2,3"),
            (Add, Some("in_port(1),eth()"), Some("2,3"))
        );
        assert_eq!(
            parse_flow_line(Add, "delete in_port(1)"),
            (Delete, Some("in_port(1)"), None)
        );
        assert_eq!(
            parse_flow_line(Delete, "mod in_port(1) drop"),
            (Modify, Some("in_port(1)"), Some("drop"))
        );
        assert_eq!(parse_flow_line(Add, "add"), (Add, None, None));
        // The flow's first attribute is not a command word.
        assert_eq!(
            parse_flow_line(Modify, "ufid:x,in_port(1) 1"),
            (Modify, Some("ufid:x,in_port(1)"), Some("1"))
        );
    }

    #[test]
    fn preprocessed_lines() {
        let text = "# comment\n\nin_port(1) \\\n 2\n  \ndel in_port(2) # gone\n";
        let got: Vec<(usize, String)> =
            logical_lines(text.as_bytes()).map(Result::unwrap).collect();
        assert_eq!(
            got,
            [
                (3, "in_port(1)  2".to_string()),
                (6, "del in_port(2) ".to_string())
            ]
        );
    }
}
