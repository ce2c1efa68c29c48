//! Options, the command table, datapath lookup and error reporting: what
//! every command shares.
//!
//! Options may appear anywhere on the command line, as with `ovs-dpctl`
//! (`show -s dp0` and `-s show dp0` are the same); `--` ends them.

use std::io::Write;

use dpif::{Dpif, Errno, Registry};

/// The name errors are prefixed with.
pub const PROGRAM: &str = "oxvs-dpctl";

/// Output format of the reporting commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// `ovs-dpctl`'s text.
    #[default]
    Text,
    /// One JSON document, for scripts.
    Json,
}

/// Whether `e` says a daemon's socket is absent or refuses connections.
/// Whether `e`, from a `netdev@` datapath, says the daemon could not be
/// used at all: no socket, nobody listening, no access to the socket file,
/// or refused by the daemon's peer credential check.
fn unreachable_daemon(e: Errno) -> bool {
    [
        nl::errno::ENOENT,
        nl::errno::ECONNREFUSED,
        nl::errno::EACCES,
        nl::errno::EPERM,
    ]
    .contains(&e.get())
}

/// Command-line options.
#[derive(Debug, Clone, Default)]
pub struct Opts {
    /// `-s`: port statistics in `show`; flow statistics after puts and deletes.
    pub statistics: bool,
    /// `-m` (repeatable): verbose flows (UFIDs, every attribute).
    pub verbosity: u32,
    /// `--names` / `--no-names`; by default, names when verbose.
    pub names: Option<bool>,
    /// `--clear`: zero the statistics of a modified flow.
    pub clear: bool,
    /// `--may-create`: `mod-flow` creates a flow that does not exist.
    pub may_create: bool,
    /// `--format`.
    pub format: OutputFormat,
    /// `-h`.
    pub help: bool,
    /// `-V`.
    pub version: bool,
}

impl Opts {
    /// Whether flows show port names.
    pub fn names(&self) -> bool {
        self.names.unwrap_or(self.verbosity > 0)
    }
}

/// Splits `args` into options and words.
///
/// # Errors
/// The message for an unknown option or a bad `--format` value.
pub fn parse_args(args: Vec<String>) -> Result<(Opts, Vec<String>), String> {
    let mut o = Opts::default();
    let mut words = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        if a == "--" {
            words.extend(it.by_ref());
            break;
        }
        if a == "-" || !a.starts_with('-') {
            words.push(a);
            continue;
        }
        if let Some(long) = a.strip_prefix("--") {
            let (name, value) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            match name {
                "statistics" => o.statistics = true,
                "more" => o.verbosity += 1,
                "names" => o.names = Some(true),
                "no-names" => o.names = Some(false),
                "clear" => o.clear = true,
                "may-create" => o.may_create = true,
                "help" => o.help = true,
                "version" => o.version = true,
                "format" => {
                    let v = match value {
                        Some(v) => v,
                        None => it.next().ok_or("option '--format' requires an argument")?,
                    };
                    o.format = match v.as_str() {
                        "text" => OutputFormat::Text,
                        "json" => OutputFormat::Json,
                        _ => return Err(format!("unknown output format '{v}' (text or json)")),
                    };
                }
                _ => return Err(format!("unrecognized option '--{name}'")),
            }
            continue;
        }
        for c in a[1..].chars() {
            match c {
                's' => o.statistics = true,
                'm' => o.verbosity += 1,
                'h' => o.help = true,
                'V' => o.version = true,
                _ => return Err(format!("invalid option -- '{c}'")),
            }
        }
    }
    Ok((o, words))
}

/// The command table: name, usage, minimum and maximum argument counts.
const COMMANDS: &[(&str, &str, usize, usize)] = &[
    ("add-dp", "dp [iface...]", 1, usize::MAX),
    ("del-dp", "dp", 1, 1),
    ("dump-dps", "", 0, 0),
    ("show", "[dp...]", 0, usize::MAX),
    ("add-if", "dp iface...", 2, usize::MAX),
    ("del-if", "dp iface...", 2, usize::MAX),
    ("set-if", "dp iface...", 2, usize::MAX),
    ("dump-flows", "[dp] [filter=..]", 0, 3),
    ("add-flow", "[dp] flow actions", 2, 3),
    ("add-flows", "[dp] file", 1, 2),
    ("mod-flow", "[dp] flow actions", 2, 3),
    ("mod-flows", "[dp] file", 1, 2),
    ("get-flow", "[dp] ufid:UUID | flow", 1, 2),
    ("del-flow", "[dp] flow", 1, 2),
    ("del-flows", "[dp] [file]", 0, 2),
    ("dump-conntrack", "[-m] [-s] [dp] [zone=N]", 0, 2),
    (
        "flush-conntrack",
        "[dp] [zone=N] [ct-orig-tuple] [ct-reply-tuple]",
        0,
        4,
    ),
    ("ct-stats-show", "[dp] [zone=N]", 0, 3),
    ("ct-bkts", "[dp] [gt=N]", 0, 2),
    ("ct-set-maxconns", "[dp] maxconns", 1, 2),
    ("ct-get-maxconns", "[dp]", 0, 1),
    ("ct-get-nconns", "[dp]", 0, 1),
    ("ct-enable-tcp-seq-chk", "[dp]", 0, 1),
    ("ct-disable-tcp-seq-chk", "[dp]", 0, 1),
    ("ct-get-tcp-seq-chk", "[dp]", 0, 1),
    (
        "ct-set-limits",
        "[dp] [default=L] [zone=N,limit=L]...",
        1,
        usize::MAX,
    ),
    ("ct-del-limits", "[dp] zone=N1[,N2]...", 1, 2),
    ("ct-get-limits", "[dp] [zone=N1[,N2]...]", 0, 2),
    ("ipf-set-enabled", "[dp] v4|v6", 1, 2),
    ("ipf-set-disabled", "[dp] v4|v6", 1, 2),
    ("ipf-set-min-frag", "[dp] v4|v6 minfragment", 2, 3),
    ("ipf-set-max-nfrags", "[dp] maxfrags", 1, 2),
    ("ipf-get-status", "[dp]", 0, 1),
    ("help", "", 0, 0),
    ("list-commands", "", 0, 0),
];

/// The `--help` text.
pub fn usage() -> String {
    let mut s = String::from(
        "oxvs-dpctl: Open vSwitch datapath management utility for oxvs datapaths\n\
         usage: oxvs-dpctl [OPTIONS] COMMAND [ARG...]\n\
         A datapath is named TYPE@NAME (TYPE defaults to system).\n\
         Commands:\n",
    );
    for (name, args, _, _) in COMMANDS {
        s.push_str(&format!("  {name:<14} {args}\n"));
    }
    s.push_str(
        "  parse-keys | parse-wc-keys | parse-actions | parse-filter FILTER\n\
         \x20                 check flow text read from stdin\n\
         Options:\n\
         \x20 -s, --statistics   print statistics (show: ports; flow commands: flows)\n\
         \x20 -m, --more         verbose flows (UFIDs, all attributes)\n\
         \x20 --names, --no-names  port names in flows (default: with -m)\n\
         \x20 --clear            mod-flow: reset the flow's statistics\n\
         \x20 --may-create       mod-flow: create the flow if it does not exist\n\
         \x20 --format text|json output format\n\
         \x20 -h, --help         this help\n\
         \x20 -V, --version      version\n",
    );
    s
}

/// One invocation: the registry, the options and the output streams.
pub struct Ctx<'a> {
    /// Provider types.
    pub registry: &'a Registry,
    /// Options.
    pub opts: Opts,
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard error.
    pub err: &'a mut dyn Write,
    /// Why each type that could not be listed by [`Ctx::all_dps`] failed.
    enum_errors: std::cell::RefCell<Vec<(String, Errno)>>,
}

/// A command's outcome: `Err` carries the errno that makes the exit status
/// non-zero (the message has been printed already).
pub type CmdResult = Result<(), Errno>;

impl<'a> Ctx<'a> {
    /// A context.
    pub fn new(
        registry: &'a Registry,
        opts: Opts,
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
    ) -> Ctx<'a> {
        Ctx {
            enum_errors: Default::default(),
            registry,
            opts,
            out,
            err,
        }
    }

    /// Runs one command; returns the exit status.
    pub fn dispatch(&mut self, verb: &str, args: &[String]) -> i32 {
        let Some(&(_, _, min, max)) = COMMANDS.iter().find(|c| c.0 == verb) else {
            self.error(
                None,
                &format!("unknown command '{verb}'; use --help for help"),
            );
            return 1;
        };
        if args.len() < min {
            let s = if min == 1 { "" } else { "s" };
            self.error(
                None,
                &format!("'{verb}' command requires at least {min} argument{s}"),
            );
            return 1;
        }
        if args.len() > max {
            let s = if max == 1 { "" } else { "s" };
            self.error(
                None,
                &format!("'{verb}' command takes at most {max} argument{s}"),
            );
            return 1;
        }
        let r = match verb {
            "add-dp" => crate::dp::add_dp(self, args),
            "del-dp" => crate::dp::del_dp(self, args),
            "dump-dps" => crate::dp::dump_dps(self),
            "show" => crate::dp::show(self, args),
            "add-if" => crate::ports::add_if(self, &args[0], &args[1..]),
            "del-if" => crate::ports::del_if(self, &args[0], &args[1..]),
            "set-if" => crate::ports::set_if(self, &args[0], &args[1..]),
            "dump-flows" => crate::flows::dump_flows(self, args),
            "add-flow" => crate::flows::put_flow(self, args, crate::flows::PutKind::Add),
            "mod-flow" => crate::flows::put_flow(self, args, crate::flows::PutKind::Modify),
            "add-flows" => crate::flows::process_file(self, args, crate::flows::LineCmd::Add),
            "mod-flows" => crate::flows::process_file(self, args, crate::flows::LineCmd::Modify),
            "get-flow" => crate::flows::get_flow(self, args),
            "del-flow" => crate::flows::del_flow(self, args),
            "del-flows" => crate::flows::del_flows(self, args),
            "dump-conntrack" => crate::conntrack::dump_conntrack(self, args),
            "flush-conntrack" => crate::conntrack::flush_conntrack(self, args),
            "ct-stats-show" => crate::conntrack::ct_stats_show(self, args),
            "ct-bkts" => crate::conntrack::ct_bkts(self, args),
            "ct-set-maxconns" => crate::conntrack::ct_set_maxconns(self, args),
            "ct-get-maxconns" => crate::conntrack::ct_get_maxconns(self, args),
            "ct-get-nconns" => crate::conntrack::ct_get_nconns(self, args),
            "ct-enable-tcp-seq-chk" => crate::conntrack::ct_set_tcp_seq_chk(self, args, true),
            "ct-disable-tcp-seq-chk" => crate::conntrack::ct_set_tcp_seq_chk(self, args, false),
            "ct-get-tcp-seq-chk" => crate::conntrack::ct_get_tcp_seq_chk(self, args),
            "ct-set-limits" => crate::conntrack::ct_set_limits(self, args),
            "ct-del-limits" => crate::conntrack::ct_del_limits(self, args),
            "ct-get-limits" => crate::conntrack::ct_get_limits(self, args),
            "ipf-set-enabled" => crate::conntrack::ipf_set_enabled(self, args, true),
            "ipf-set-disabled" => crate::conntrack::ipf_set_enabled(self, args, false),
            "ipf-set-min-frag" => crate::conntrack::ipf_set_min_frag(self, args),
            "ipf-set-max-nfrags" => crate::conntrack::ipf_set_max_nfrags(self, args),
            "ipf-get-status" => crate::conntrack::ipf_get_status(self, args),
            "help" => {
                let _ = self.out.write_all(usage().as_bytes());
                Ok(())
            }
            _ => {
                let mut s = String::from("The available commands are:\n");
                for (name, args, _, _) in COMMANDS {
                    s.push_str(&format!("  {name:<23} {args}\n"));
                }
                let _ = self.out.write_all(s.as_bytes());
                Ok(())
            }
        };
        i32::from(r.is_err())
    }

    /// Prints `oxvs-dpctl: MSG (strerror)` on standard error.
    pub fn error(&mut self, errno: Option<Errno>, msg: &str) {
        let _ = match errno {
            Some(e) => writeln!(self.err, "{PROGRAM}: {msg} ({e})"),
            None => writeln!(self.err, "{PROGRAM}: {msg}"),
        };
    }

    /// Like [`Ctx::error`] for an error about datapath `full` (`type@name`,
    /// or `None` for all types): a missing kernel module or an unknown type
    /// is said in words rather than as `EAFNOSUPPORT`'s strerror.
    pub fn dp_error(&mut self, full: Option<&str>, e: Errno, msg: &str) {
        let ty = full.map(|f| dpif::parse_name(f).0);
        if full.is_none() {
            // Every type failed: say why for each.
            let errs = self.enum_errors.borrow().clone();
            if !errs.is_empty() {
                let why: Vec<String> = errs.iter().map(|(t, e)| self.why(t, *e)).collect();
                let _ = writeln!(self.err, "{PROGRAM}: {msg} ({})", why.join("; "));
                return;
            }
        }
        if let Some(t) = ty.filter(|&t| t != "system" && unreachable_daemon(e)) {
            let why = self.why(t, e);
            let _ = writeln!(self.err, "{PROGRAM}: {msg} ({why})");
            return;
        }
        if e != Errno::EAFNOSUPPORT {
            return self.error(Some(e), msg);
        }
        let why = match ty {
            Some(ty) if self.registry.class(ty).is_err() => {
                format!("unknown datapath type '{ty}'")
            }
            Some("system") | None => "openvswitch kernel module not loaded".to_string(),
            Some(_) => e.to_string(),
        };
        let _ = writeln!(self.err, "{PROGRAM}: {msg} ({why})");
    }

    /// Why type `ty` failed with `e`, in words.
    fn why(&self, ty: &str, e: Errno) -> String {
        match ty {
            "system" if e == Errno::EAFNOSUPPORT => "openvswitch kernel module not loaded".into(),
            "system" => format!("kernel datapath: {e}"),
            _ if unreachable_daemon(e) || e == Errno::EAFNOSUPPORT => format!(
                "cannot use oxvsd at {}: {e}",
                dpif_netlink::RemoteClass::default_socket().display()
            ),
            _ => format!("{ty}: {e}"),
        }
    }

    /// Prints `text` on standard output.
    pub fn print(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
    }

    /// Opens `type@name` (`name` alone is `system@name`).
    pub fn open(&self, full: &str, create: bool) -> Result<Dpif, Errno> {
        self.registry.open(full, create)
    }

    /// `type@name` for every existing datapath, types in name order.
    ///
    /// A type whose datapaths cannot be listed (no kernel module, no
    /// daemon) has none, as long as another type could be listed.
    ///
    /// # Errors
    /// The last enumeration error, if no type could be listed.
    pub fn all_dps(&self) -> Result<Vec<String>, Errno> {
        let mut names = Vec::new();
        let mut listed = false;
        let mut last = None;
        for ty in self.registry.types() {
            match self.registry.enumerate(ty) {
                Ok(mut v) => {
                    listed = true;
                    v.sort();
                    names.extend(v.into_iter().map(|n| format!("{ty}@{n}")));
                }
                Err(e) => {
                    self.enum_errors.borrow_mut().push((ty.to_string(), e));
                    last = Some(e);
                }
            }
        }
        match last {
            Some(e) if !listed => Err(e),
            _ => Ok(names),
        }
    }

    /// Whether `full` names an existing datapath.
    pub fn dp_exists(&self, full: &str) -> bool {
        let (ty, name) = dpif::parse_name(full);
        self.registry
            .enumerate(ty)
            .is_ok_and(|v| v.iter().any(|n| n == name))
    }

    /// Opens the datapath of a command whose datapath argument is optional:
    /// `args[0]` if it names one, otherwise the only datapath there is.
    /// `max` is the command's largest argument count: with that many
    /// arguments, the first must be a datapath. Returns the handle and the
    /// arguments after the datapath.
    pub fn opt_open<'b>(
        &mut self,
        args: &'b [String],
        max: usize,
    ) -> Result<(Dpif, &'b [String]), Errno> {
        let (name, rest) = match args.first() {
            Some(a) if self.dp_exists(a) => (Some(a.clone()), &args[1..]),
            _ if args.len() == max => (None, args),
            _ => (self.one_dp(), args),
        };
        let Some(name) = name else {
            self.error(Some(Errno::EINVAL), "datapath not found");
            return Err(Errno::EINVAL);
        };
        match self.open(&name, false) {
            Ok(d) => Ok((d, rest)),
            Err(e) => {
                self.dp_error(Some(&name), e, "opening datapath");
                Err(e)
            }
        }
    }

    /// The only datapath, if exactly one exists (otherwise says why not).
    fn one_dp(&mut self) -> Option<String> {
        let names = self.all_dps().unwrap_or_default();
        match names.len() {
            1 => names.into_iter().next(),
            0 => {
                self.error(None, "no datapaths exist");
                None
            }
            _ => {
                self.error(None, "multiple datapaths, specify one");
                None
            }
        }
    }

    /// Opens the datapath named by a mandatory argument, reporting failure
    /// as `opening datapath (...)`.
    pub fn open_arg(&mut self, full: &str) -> Result<Dpif, Errno> {
        self.open(full, false).inspect_err(|&e| {
            self.dp_error(Some(full), e, "opening datapath");
        })
    }

    /// The current time on the clock of flows' `used` times: the monotonic
    /// clock, in milliseconds (the kernel's clock for `system`).
    pub fn now_ms(&self) -> u64 {
        let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        (t.tv_sec as u64) * 1000 + (t.tv_nsec as u64) / 1_000_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: &[&str]) -> Result<(Opts, Vec<String>), String> {
        parse_args(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn options_anywhere() {
        let (o, w) = parse(&["show", "-s", "dp0", "-mm", "--format=json"]).unwrap();
        assert!(o.statistics);
        assert_eq!(o.verbosity, 2);
        assert_eq!(o.format, OutputFormat::Json);
        assert_eq!(w, ["show", "dp0"]);
        assert!(o.names());
        let (o, w) = parse(&["--no-names", "-m", "--", "del-flows", "-"]).unwrap();
        assert!(!o.names());
        assert_eq!(w, ["del-flows", "-"]);
        let (_, w) = parse(&["add-flows", "dp", "-"]).unwrap();
        assert_eq!(w, ["add-flows", "dp", "-"]);
    }

    #[test]
    fn bad_options() {
        assert_eq!(
            parse(&["--bogus"]).unwrap_err(),
            "unrecognized option '--bogus'"
        );
        assert_eq!(parse(&["-x"]).unwrap_err(), "invalid option -- 'x'");
        assert!(parse(&["--format", "xml"]).is_err());
        assert!(parse(&["--format"]).is_err());
    }
}
