//! Test helpers: throw-away network namespaces, commands, skipping.
//!
//! Shared by the netdev and dpif-netdev tests (`#[path]` include).

#![allow(dead_code)]

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Why the environment cannot run namespace tests, if it cannot.
pub fn skip_reason() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0");
    if !root {
        return Some("not running as root".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("no `ip` command".into());
    }
    None
}

/// Prints the skip line and returns true when the test cannot run.
pub fn skip(test: &str) -> bool {
    match skip_reason() {
        Some(r) => {
            println!("SKIP: {test}: {r}");
            true
        }
        None => false,
    }
}

/// Runs a command; its stdout on success, a message with stderr on failure.
pub fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        ))
    }
}

/// A network namespace deleted on drop (with every interface in it).
pub struct Netns {
    /// Its name under /run/netns.
    pub name: String,
}

impl Netns {
    /// A fresh namespace with a name unique to this process and call:
    /// `oxt<tag><pid><n>`. The cleanup guard exists before the namespace.
    pub fn new(tag: &str) -> Result<Netns, String> {
        static N: AtomicU32 = AtomicU32::new(0);
        let ns = Netns {
            name: format!(
                "oxt{tag}{}x{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ),
        };
        run(&["ip", "netns", "add", &ns.name])?;
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Runs `ip -n <ns> args...`.
    pub fn ip(&self, args: &[&str]) -> Result<String, String> {
        let mut v = vec!["ip", "-n", &self.name];
        v.extend_from_slice(args);
        run(&v)
    }

    /// Runs a command inside the namespace.
    pub fn exec(&self, args: &[&str]) -> Result<String, String> {
        let mut v = vec!["ip", "netns", "exec", &self.name];
        v.extend_from_slice(args);
        run(&v)
    }

    /// Disables IPv6 (no autoconfiguration chatter on new interfaces).
    pub fn no_ipv6(&self) -> Result<(), String> {
        for k in ["all", "default"] {
            self.exec(&[
                "sysctl",
                "-qw",
                &format!("net.ipv6.conf.{k}.disable_ipv6=1"),
            ])?;
        }
        Ok(())
    }

    /// Creates a veth pair `a`-`b` in the namespace, both up.
    pub fn veth(&self, a: &str, b: &str) -> Result<(), String> {
        self.ip(&["link", "add", "name", a, "type", "veth", "peer", "name", b])?;
        self.ip(&["link", "set", "dev", a, "up"])?;
        self.ip(&["link", "set", "dev", b, "up"])?;
        Ok(())
    }

    /// Runs `f` on a new thread that has entered the namespace (so that
    /// interfaces and sockets it opens are the namespace's), and returns
    /// its result. Other threads are unaffected.
    pub fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = std::fs::File::open(&path).expect("open netns");
                rustix::thread::move_into_link_name_space(
                    std::os::fd::AsFd::as_fd(&file),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .expect("setns");
                f()
            })
            .join()
            .expect("namespace thread panicked")
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = run(&["ip", "netns", "del", &self.name]);
    }
}
