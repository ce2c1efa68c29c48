//! `oxvs-dpctl`: the `ovs-dpctl` command set for oxvs datapaths of every
//! provider type (names `type@name`, `system` when no type is given).
//! Arguments → dpif calls → text; no datapath logic lives here.
//!
//! # Layout
//!
//! - [`cli`]: options (anywhere on the line, as `ovs-dpctl`'s), the command
//!   table with argument counts, datapath lookup (an optional datapath
//!   argument means "the only one there is"), errors printed as
//!   `oxvs-dpctl: MESSAGE (strerror)` with exit status 1.
//! - [`dp`]: `add-dp`, `del-dp`, `dump-dps`, `show [-s]`.
//! - [`ports`]: `add-if`, `set-if`, `del-if`; how `show` names port types
//!   and configuration on `system` datapaths the way `ovs-dpctl` does.
//! - [`flows`]: `dump-flows [-m] [--names] [filter=...]`, `add-flow`,
//!   `mod-flow [--clear] [--may-create]`, `get-flow`, `del-flow`,
//!   `del-flows`, and the file forms `add-flows`, `mod-flows`,
//!   `del-flows FILE` (batched).
//! - [`conntrack`]: `dump-conntrack [-m] [-s]`, `flush-conntrack`,
//!   `ct-stats-show`, `ct-bkts`, `ct-*-maxconns`, `ct-get-nconns`,
//!   `ct-*-tcp-seq-chk`, `ct-set/get/del-limits`, `ipf-*` (text from
//!   `dpif::ct::format`, arguments by `dpif::ct::parse`).
//! - [`fmt`]: UFIDs, flow statistics, port names in flow text, JSON.
//! - [`verbs`]: the flow-checking verbs, which read one case per line on
//!   standard input with the line rules of Open vSwitch's `test-odp` (see
//!   [`for_each_case`]): `parse-keys`, `parse-wc-keys`, `parse-actions`,
//!   `parse-filter FILTER`.
//!
//! `--format json` makes `show`, `dump-dps`, `dump-flows` and `get-flow`
//! print one JSON document instead of text.
//!
//! [`run_with`] is the library entry point: any [`dpif::Registry`], any
//! output streams (tests register the userspace datapath in-process).

#![forbid(unsafe_code)]

pub mod cli;
pub mod conntrack;
pub mod dp;
pub mod flows;
pub mod fmt;
pub mod ports;
pub mod verbs;

use std::io::{self, BufRead, Write};

pub use cli::{Ctx, Opts, OutputFormat};

/// The registry `oxvs-dpctl` uses: every provider type it can drive.
/// Adding a provider is one `register` line here.
pub fn default_registry() -> dpif::Registry {
    let registry = dpif::Registry::new();
    // Each contacts its datapaths only when one of its type is used.
    // `system`: the kernel module.
    let _ = dpif_netlink::register(&registry);
    // `netdev`: userspace datapaths hosted by oxvsd ($OXVSD_SOCKET).
    let _ = dpif_netlink::remote::register(&registry, dpif_netlink::RemoteClass::default_socket());
    registry
}

/// Runs the command line `args` (without the program name) against
/// [`default_registry`], on the process's standard streams; returns the
/// exit status.
pub fn run(args: Vec<String>) -> i32 {
    let registry = default_registry();
    let stdout = io::stdout();
    let stderr = io::stderr();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut err = stderr.lock();
    let rc = run_with(&registry, args, &mut out, &mut err);
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            let _ = writeln!(err, "oxvs-dpctl: {e}");
            1
        }
        _ => rc,
    }
}

/// Runs the command line `args` (without the program name) with the
/// provider types of `registry`, writing to `stdout` and `stderr`; returns
/// the exit status (0 on success, 1 on any error, as `ovs-dpctl`).
///
/// The flow-checking verbs (`parse-*`) read standard input.
pub fn run_with(
    registry: &dpif::Registry,
    args: Vec<String>,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> i32 {
    let (opts, words) = match cli::parse_args(args) {
        Ok(v) => v,
        Err(msg) => {
            let _ = writeln!(stderr, "{}: {msg}", cli::PROGRAM);
            return 1;
        }
    };
    if opts.help {
        let _ = stdout.write_all(cli::usage().as_bytes());
        return 0;
    }
    if opts.version {
        let _ = writeln!(stdout, "oxvs-dpctl {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let Some((verb, rest)) = words.split_first() else {
        let _ = writeln!(
            stderr,
            "{}: missing command name; use --help for help",
            cli::PROGRAM
        );
        return 1;
    };
    if let Some(rc) = run_verb(verb, rest, stdout, stderr) {
        return rc;
    }
    let mut ctx = Ctx::new(registry, opts, stdout, stderr);
    ctx.dispatch(verb, rest)
}

/// The flow-checking verbs, which need no datapath; `None` for other verbs.
fn run_verb(
    verb: &str,
    args: &[String],
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
) -> Option<i32> {
    let stdin = io::stdin();
    let result = match (verb, args) {
        ("parse-keys", []) => for_each_case(stdin.lock(), stdout, verbs::parse_keys),
        ("parse-wc-keys", []) => for_each_case(stdin.lock(), stdout, verbs::parse_wc_keys),
        ("parse-actions", []) => for_each_case(stdin.lock(), stdout, verbs::parse_actions),
        ("parse-filter", [filter]) => {
            let spec = filter.strip_prefix("filter=").unwrap_or(filter);
            match odp::text::filter::Filter::parse(spec) {
                Ok(f) => for_each_case(stdin.lock(), stdout, |line, o| {
                    verbs::parse_filter(&f, line, o)
                }),
                Err(e) => {
                    let _ = writeln!(stderr, "{}: bad filter: {e}", cli::PROGRAM);
                    return Some(1);
                }
            }
        }
        ("parse-keys" | "parse-wc-keys" | "parse-actions" | "parse-filter", _) => {
            let _ = writeln!(
                stderr,
                "{}: '{verb}' command takes {} argument(s)",
                cli::PROGRAM,
                usize::from(verb == "parse-filter")
            );
            return Some(1);
        }
        _ => return None,
    };
    Some(match result {
        Ok(()) => 0,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            let _ = writeln!(stderr, "{}: {e}", cli::PROGRAM);
            1
        }
    })
}

/// Feeds each case line of `input` to `verb`, with `test-odp`'s line rules:
///
/// - a line starting with `#` is echoed unchanged and not parsed;
/// - otherwise everything from the first `#` on is dropped, and if only
///   spaces and tabs remain an empty line is printed;
/// - anything else is a case line: `verb` appends its output (normally one
///   line, without the newline; nothing for a filtered-out line) to a buffer
///   that is then printed, followed by a newline when non-empty.
pub fn for_each_case<R: BufRead, W: Write + ?Sized>(
    input: R,
    out: &mut W,
    mut verb: impl FnMut(&str, &mut String) -> bool,
) -> io::Result<()> {
    let mut buf = String::new();
    for line in input.split(b'\n') {
        let line = line?;
        let line = String::from_utf8_lossy(&line);
        let line = line.strip_suffix('\r').unwrap_or(&line);
        if line.starts_with('#') {
            writeln!(out, "{line}")?;
            continue;
        }
        let case = match line.find('#') {
            Some(i) => &line[..i],
            None => line,
        };
        if case.trim_matches([' ', '\t']).is_empty() {
            writeln!(out)?;
            continue;
        }
        buf.clear();
        if verb(case, &mut buf) {
            writeln!(out, "{buf}")?;
        }
    }
    Ok(())
}
