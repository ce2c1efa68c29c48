//! "A daemon" for the tests: today the fixture; the same cases can run
//! against the real oxvsd by setting `OXVS_TEST_OXVSD` to its binary (it is
//! then started with `--socket` in a fresh directory). Tests that need what
//! only the fixture has (its counters, the `oxvs_test` family) skip when
//! they do not get it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::fixture::{Fixture, Stats};

/// A daemon serving the `nl::daemon` contract.
pub struct Daemon {
    path: PathBuf,
    fixture: Option<Fixture>,
    child: Option<Child>,
}

impl Daemon {
    /// Its socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The fixture's counters, when the daemon is the fixture.
    pub fn stats(&self) -> Option<Arc<Stats>> {
        self.fixture.as_ref().map(|f| f.stats())
    }

    /// Port ids of the connections open now (fixture only).
    pub fn ports(&self) -> Option<Vec<u32>> {
        self.fixture.as_ref().map(|f| f.ports())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts a daemon and returns it once it accepts connections.
pub fn start() -> Daemon {
    match std::env::var_os("OXVS_TEST_OXVSD") {
        Some(bin) => start_oxvsd(Path::new(&bin)),
        None => {
            let f = Fixture::start(None);
            Daemon {
                path: f.path().to_path_buf(),
                fixture: Some(f),
                child: None,
            }
        }
    }
}

/// Starts a fixture that refuses every connection with `errno`.
pub fn start_refusing(errno: i32) -> Daemon {
    let f = Fixture::start(Some(errno));
    Daemon {
        path: f.path().to_path_buf(),
        fixture: Some(f),
        child: None,
    }
}

fn start_oxvsd(bin: &Path) -> Daemon {
    let dir = std::env::temp_dir().join(format!(
        "oxvs-run-oxvsd-{}-{:?}",
        std::process::id(),
        Instant::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("oxvsd.sock");
    let child = Command::new(bin)
        .arg("--socket")
        .arg(&path)
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", bin.display()));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "oxvsd did not create {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Daemon {
        path,
        fixture: None,
        child: Some(child),
    }
}
