//! `oxvs-run [--socket PATH] [--] COMMAND [ARG...]`: runs COMMAND with
//! `liboxvs_preload.so` in `LD_PRELOAD`, so that its generic netlink sockets
//! (and those of the programs it starts) are `oxvsd` connections.
//!
//! The library is `$OXVS_PRELOAD` if set, else `liboxvs_preload.so` beside
//! this executable, else `../lib/oxvs/liboxvs_preload.so` relative to it.
//! `--socket PATH` sets `OXVSD_SOCKET` (where the library connects).
//! COMMAND is found on `PATH` and replaces this process; exit status 127
//! if it is not found, 126 if it cannot be executed, 125 if the library is
//! missing, 2 for bad usage.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{exit, Command};

const LIBRARY: &str = "liboxvs_preload.so";

const USAGE: &str = "usage: oxvs-run [--socket PATH] [--] COMMAND [ARG...]\n\
    Runs COMMAND with its generic netlink sockets served by oxvsd.\n\
    --socket PATH  the daemon's socket (sets OXVSD_SOCKET; default $OXVSD_SOCKET or /run/oxvs/oxvsd.sock)\n\
    OXVS_PRELOAD   the library to preload (default: beside oxvs-run, or ../lib/oxvs/)";

struct Args {
    socket: Option<OsString>,
    command: Vec<OsString>,
}

fn parse(mut args: impl Iterator<Item = OsString>) -> Result<Args, String> {
    let mut socket = None;
    while let Some(a) = args.next() {
        match a.as_bytes() {
            b"--" => break,
            b"-h" | b"--help" => {
                println!("{USAGE}");
                exit(0);
            }
            b"--socket" => {
                socket = Some(args.next().ok_or("--socket needs a PATH")?);
            }
            s if s.starts_with(b"--socket=") => {
                socket = Some(OsString::from(std::ffi::OsStr::from_bytes(&s[9..])));
            }
            s if s.starts_with(b"-") && s.len() > 1 => {
                return Err(format!("unknown option {}", a.to_string_lossy()));
            }
            _ => {
                let mut command = vec![a];
                command.extend(args);
                return Ok(Args { socket, command });
            }
        }
    }
    let command: Vec<OsString> = args.collect();
    if command.is_empty() {
        return Err("no COMMAND given".into());
    }
    Ok(Args { socket, command })
}

/// Where the library is: `$OXVS_PRELOAD`, beside the executable, or in
/// `../lib/oxvs/` from it.
fn find_library() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("OXVS_PRELOAD").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("OXVS_PRELOAD={}: no such file", p.display()))
        };
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find own executable: {e}"))?;
    let dir = exe.parent().unwrap_or(Path::new("/"));
    let candidates = [dir.join(LIBRARY), dir.join("../lib/oxvs").join(LIBRARY)];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "cannot find {LIBRARY} (looked in {} and {}); set OXVS_PRELOAD",
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

/// `LD_PRELOAD` with `lib` first (the dynamic loader splits the list on
/// spaces and colons, so those cannot appear in the path).
fn preload_value(lib: &Path, existing: Option<OsString>) -> Result<OsString, String> {
    let lib = std::path::absolute(lib).map_err(|e| format!("{}: {e}", lib.display()))?;
    if lib
        .as_os_str()
        .as_bytes()
        .iter()
        .any(|&b| b == b' ' || b == b':')
    {
        return Err(format!(
            "{}: a preloaded library's path cannot hold ' ' or ':'",
            lib.display()
        ));
    }
    let mut v = lib.into_os_string();
    if let Some(e) = existing.filter(|e| !e.is_empty()) {
        v.push(":");
        v.push(e);
    }
    Ok(v)
}

/// Whether some directory of `PATH` has an entry called `name`.
fn on_path(name: &std::ffi::OsStr) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).symlink_metadata().is_ok()))
}

fn main() {
    let args = match parse(std::env::args_os().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("oxvs-run: {e}\n{USAGE}");
            exit(2);
        }
    };
    let preload =
        match find_library().and_then(|l| preload_value(&l, std::env::var_os("LD_PRELOAD"))) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("oxvs-run: {e}");
                exit(125);
            }
        };
    let mut cmd = Command::new(&args.command[0]);
    cmd.args(&args.command[1..]).env("LD_PRELOAD", preload);
    if let Some(s) = &args.socket {
        cmd.env("OXVSD_SOCKET", s);
    }
    let err = cmd.exec();
    let name = args.command[0].to_string_lossy();
    match err.kind() {
        // A search of PATH also ends in EACCES when some directory of PATH
        // cannot be searched: the command is still not there.
        std::io::ErrorKind::PermissionDenied
            if !name.contains('/') && !on_path(&args.command[0]) =>
        {
            eprintln!("oxvs-run: {name}: command not found");
            exit(127);
        }
        std::io::ErrorKind::NotFound => {
            eprintln!("oxvs-run: {name}: command not found");
            exit(127);
        }
        _ => {
            eprintln!("oxvs-run: {name}: cannot execute: {err}");
            exit(126);
        }
    }
}
