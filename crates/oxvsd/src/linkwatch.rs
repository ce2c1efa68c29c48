//! Ports whose network device disappears are removed, with an
//! `OVS_VPORT_CMD_DEL` notification, as the kernel detaches a vport when
//! its device is unregistered. Internal ports are not: as the kernel's
//! internal devices, theirs live as long as the port does, also when moved
//! to another network namespace (which looks like a removal from here).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use dpif::Provider;
use dpif_netlink::rtnl::LinkWatch;

use crate::server::State;

/// The running watcher.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl Watcher {
    /// Stops it.
    pub fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}

fn device_exists(name: &str) -> bool {
    std::path::Path::new("/sys/class/net").join(name).exists()
}

/// Removes every port backed by a device that no longer exists.
fn sweep(state: &State) {
    let dps: Vec<_> = crate::read(&state.dps).values().cloned().collect();
    for d in dps {
        let Ok(ports) = d.dp.port_dump() else {
            continue;
        };
        for p in ports {
            let backed = matches!(p.port_type.as_str(), "system" | "tap");
            if p.port_no.0 != 0 && backed && !device_exists(&p.name) {
                log::info!(
                    "{}: device {} disappeared: removing port {}",
                    d.name,
                    p.name,
                    p.port_no.0
                );
                if let Err(e) = state.remove_port(&d, p.port_no, 0, 0) {
                    log::debug!("{}: removing port {}: {}", d.name, p.port_no.0, e.errno);
                }
            }
        }
    }
}

/// Starts watching (`None` if rtnetlink is unavailable: logged).
pub fn start(state: Arc<State>) -> Option<Watcher> {
    let mut w = match LinkWatch::new() {
        Ok(w) => w,
        Err(e) => {
            log::warn!("cannot watch network devices (ports of deleted devices stay): {e}");
            return None;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    let s2 = stop.clone();
    let thread = std::thread::Builder::new()
        .name("oxvsd-links".into())
        .spawn(move || {
            while !s2.load(Ordering::Relaxed) {
                match w.wait(Duration::from_millis(200)) {
                    Ok(gone) if gone.is_empty() => {}
                    // Notifications lost or some device gone: a device may
                    // come back under the same name before we look, so the
                    // check is whether it exists now.
                    Ok(_) => sweep(&state),
                    Err(e) => {
                        sweep(&state);
                        if e.errno() != nl::errno::ENOBUFS {
                            std::thread::sleep(Duration::from_millis(200));
                        }
                    }
                }
            }
        })
        .ok()?;
    Some(Watcher { stop, thread })
}
