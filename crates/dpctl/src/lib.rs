//! `oxvs-dpctl`: command-line front end. Arguments → calls → text output;
//! no datapath logic lives here.
//!
//! The flow-checking verbs read one case per line on standard input, with
//! the line rules of Open vSwitch's `test-odp` (see [`for_each_case`]):
//!
//! - `parse-keys`: text → key → flow → canonical key, printed with its fitness;
//! - `parse-wc-keys`: text → key and mask → text;
//! - `parse-actions`: text → actions → text;
//! - `parse-filter FILTER`: like `parse-wc-keys`, printing only the lines that
//!   match an OpenFlow-style filter.

#![forbid(unsafe_code)]

pub mod verbs;

use std::io::{self, BufRead, Write};

use clap::{Parser, Subcommand};

/// Command line of `oxvs-dpctl`.
#[derive(Debug, Parser)]
#[command(
    name = "oxvs-dpctl",
    version,
    about = "Drive oxvs datapaths like ovs-dpctl"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Variant names mirror the ovs-dpctl verbs, several of which start alike.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Read flow keys on stdin; print each in canonical form with its fitness.
    #[command(name = "parse-keys")]
    ParseKeys,
    /// Read masked flow keys on stdin; print each as dump-flows would.
    #[command(name = "parse-wc-keys")]
    ParseWcKeys,
    /// Read action lists on stdin; print each as dump-flows would.
    #[command(name = "parse-actions")]
    ParseActions,
    /// Read masked flow keys on stdin; print those that match FILTER.
    #[command(name = "parse-filter")]
    ParseFilter {
        /// An OpenFlow-style match, e.g. `tcp,tp_src=80`, optionally
        /// written `filter=tcp,tp_src=80`.
        filter: String,
    },
}

/// Runs the command line `args` (without the program name); returns the exit status.
pub fn run(args: Vec<String>) -> i32 {
    let cli = match Cli::try_parse_from(std::iter::once("oxvs-dpctl".to_string()).chain(args)) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 2 } else { 0 };
        }
    };
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = match cli.command {
        Command::ParseKeys => for_each_case(stdin.lock(), &mut out, verbs::parse_keys),
        Command::ParseWcKeys => for_each_case(stdin.lock(), &mut out, verbs::parse_wc_keys),
        Command::ParseActions => for_each_case(stdin.lock(), &mut out, verbs::parse_actions),
        Command::ParseFilter { filter } => {
            let spec = filter.strip_prefix("filter=").unwrap_or(&filter);
            match odp::text::filter::Filter::parse(spec) {
                Ok(f) => for_each_case(stdin.lock(), &mut out, |line, o| {
                    verbs::parse_filter(&f, line, o)
                }),
                Err(e) => {
                    eprintln!("oxvs-dpctl: bad filter: {e}");
                    return 1;
                }
            }
        }
    };
    match result.and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("oxvs-dpctl: {e}");
            1
        }
    }
}

/// Feeds each case line of `input` to `verb`, with `test-odp`'s line rules:
///
/// - a line starting with `#` is echoed unchanged and not parsed;
/// - otherwise everything from the first `#` on is dropped, and if only
///   spaces and tabs remain an empty line is printed;
/// - anything else is a case line: `verb` appends its output (normally one
///   line, without the newline; nothing for a filtered-out line) to a buffer
///   that is then printed, followed by a newline when non-empty.
pub fn for_each_case<R: BufRead, W: Write>(
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
