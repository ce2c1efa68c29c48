//! The `oxvsd` binary.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use dpif::PortSpec;

/// A daemon hosting userspace datapaths behind a Unix socket, speaking the
/// kernel's openvswitch netlink messages: with no options, a pure server
/// whose clients (ovs-vswitchd under oxvs-run, oxvs-dpctl) create and drive
/// datapaths, as the kernel module is. With `--port`, also a learning
/// switch on a fresh datapath with those ports.
#[derive(Parser, Debug)]
#[command(name = "oxvsd", version)]
struct Args {
    /// The control socket.
    #[arg(long, default_value = dpif_netlink::remote::DEFAULT_SOCKET)]
    socket: std::path::PathBuf,
    /// The socket file's group (numeric gid); members may connect.
    #[arg(long)]
    group: Option<u32>,
    /// A port of the one-command datapath: `IFNAME` (type system) or
    /// `TYPE:NAME` (e.g. `dummy:p1`). Repeat for more ports.
    #[arg(long = "port")]
    ports: Vec<String>,
    /// The one-command datapath's name.
    #[arg(long = "dp", default_value = "oxvs0")]
    dp: String,
    /// Seconds before an idle learned flow is deleted.
    #[arg(long, default_value_t = 10)]
    flow_idle: u64,
    /// Seconds before a MAC not seen is forgotten.
    #[arg(long, default_value_t = 300)]
    mac_age: u64,
    /// Most MACs the learning switch remembers.
    #[arg(long, default_value_t = 8192)]
    mac_table_size: usize,
    /// Poll threads per datapath.
    #[arg(long, default_value_t = 1)]
    pmds: usize,
    /// Poll threads of the one-command datapath spin instead of sleeping
    /// when idle: lower latency, one busy core.
    #[arg(long)]
    busy_poll: bool,
    /// The port types clients may add, comma-separated (default: all of
    /// system, internal, tap, dummy, pcap).
    #[arg(long, value_delimiter = ',')]
    port_types: Option<Vec<String>>,
    /// Threads serving client connections.
    #[arg(long, default_value_t = 4)]
    workers: usize,
    /// Log level: error, warn, info, debug or trace (also `RUST_LOG`).
    #[arg(long, default_value = "info")]
    log_level: String,
}

fn port_spec(s: &str) -> PortSpec {
    let (ty, name) = match s.split_once(':') {
        Some((t, n)) => (t, n),
        None => ("system", s),
    };
    PortSpec {
        name: name.to_string(),
        port_type: ty.to_string(),
        options: Vec::new(),
    }
}

fn main() {
    let args = Args::parse();
    // Lines go to standard error, which systemd's journal collects.
    env_logger::Builder::new()
        .parse_filters(&args.log_level)
        .parse_env("RUST_LOG")
        .format_target(false)
        .init();
    let mut cfg = oxvsd::Config::new(&args.socket);
    cfg.group = args.group;
    cfg.n_pmds = args.pmds;
    cfg.workers = args.workers.max(1);
    cfg.port_types = args.port_types.clone();
    cfg.learn.flow_idle = Duration::from_secs(args.flow_idle.max(1));
    cfg.learn.mac_age = Duration::from_secs(args.mac_age.max(1));
    cfg.learn.max_macs = args.mac_table_size.max(8);
    let server = match oxvsd::Server::bind(cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("oxvsd: {}: {e}", args.socket.display());
            std::process::exit(1);
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            eprintln!("oxvsd: signal handler: {e}");
            std::process::exit(1);
        }
    }
    let mut failed = false;
    if !args.ports.is_empty() {
        let state = server.state();
        let d = match state.create_dp(&args.dp, 0, true) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("oxvsd: creating datapath {}: {e}", args.dp);
                let _ = std::fs::remove_file(&args.socket);
                std::process::exit(1);
            }
        };
        d.dp.set_busy_poll(args.busy_poll);
        for p in &args.ports {
            let spec = port_spec(p);
            match dpif::Provider::port_add(d.dp.as_ref(), &spec, None) {
                Ok(no) => eprintln!(
                    "oxvsd: {}: port {} ({}) is {}",
                    args.dp, spec.name, spec.port_type, no.0
                ),
                Err(e) => {
                    eprintln!("oxvsd: adding port {p}: {e}");
                    failed = true;
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
        if !stop.load(Ordering::Relaxed) {
            eprintln!(
                "oxvsd: learning switch on {} ({} ports); control socket {}",
                args.dp,
                args.ports.len(),
                args.socket.display()
            );
        }
    }
    server.run(&stop);
    if failed {
        std::process::exit(1);
    }
}
