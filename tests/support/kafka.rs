//! A real Apache Kafka broker for a test binary, from `scripts/kafka/broker.sh`.
//!
//! [`shared`] starts one single-node broker the first time a test of the binary asks (about
//! 10 s), and every test of that binary shares it (tests keep to their own topics). A
//! static is never dropped, so the broker is started with `--owner-pid` = this process:
//! broker.sh's watchdog stops it within a second of the test binary's exit, however the
//! binary ends. A [`Broker`] made with [`Broker::start`] stops when dropped.
//!
//! Skipping: only when Java or the broker's jars cannot be had (no `java`, or
//! `broker.sh fetch` fails: no Maven or no registry), with a loud message; never under CI
//! (`CI` set), where `.ci/run` fetched the jars, so a missing broker fails the test.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// How many times a test tries to start its broker before failing.
const BROKER_START_ATTEMPTS: u32 = 2;

/// A running broker (or three-broker cluster) in its own directory.
pub struct Broker {
    pub bootstrap: String,
    dir: PathBuf,
    stopped: bool,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kafka/broker.sh")
}

/// Why a broker cannot be had on this machine, if it cannot: Java missing, or the broker's
/// jars not fetchable.
fn unavailable() -> Option<String> {
    let java = Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !java.is_ok_and(|s| s.success()) {
        return Some("no `java` on PATH (Kafka needs a Java 17+ runtime)".to_owned());
    }
    let fetch = Command::new(script())
        .arg("fetch")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status();
    match fetch {
        Ok(status) if status.success() => None,
        Ok(status) => Some(format!(
            "`scripts/kafka/broker.sh fetch` failed ({status}): the broker's jars are not in \
             the cache and Maven could not fetch them"
        )),
        Err(e) => Some(format!("cannot run scripts/kafka/broker.sh: {e}")),
    }
}

/// Removes the directories of earlier runs' brokers whose test process is gone.
fn clean_stale(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("kafka-"))
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

impl Broker {
    /// Starts `brokers` (1 or 3) brokers on free ports, owned by this process. `Err` only
    /// when a broker cannot be had on this machine (see the module doc); any other failure
    /// panics.
    pub fn start(brokers: u32, label: &str) -> Result<Broker, String> {
        if let Some(why) = unavailable() {
            return Err(why);
        }
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(&root).expect("target tmp dir");
        clean_stale(&root);
        // One retry: on a machine loaded by parallel builds a start can miss broker.sh's
        // readiness deadline once; twice is a real failure.
        let mut attempt = 0;
        let (dir, bootstrap) = loop {
            attempt += 1;
            let dir = root.join(format!("kafka-{}-{label}-{attempt}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            let output = Command::new(script())
                .args([
                    "start",
                    "--port",
                    "0",
                    "--brokers",
                    &brokers.to_string(),
                    "--dir",
                ])
                .arg(&dir)
                .args(["--owner-pid", &std::process::id().to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .output()
                .expect("run scripts/kafka/broker.sh start");
            if !output.status.success() {
                assert!(
                    attempt < BROKER_START_ATTEMPTS,
                    "scripts/kafka/broker.sh start failed {attempt} times ({}); its log is above",
                    output.status
                );
                eprintln!(
                    "broker.sh start failed ({}); trying once more",
                    output.status
                );
                continue;
            }
            let stdout = String::from_utf8_lossy(&output.stdout);
            let bootstrap = stdout
                .lines()
                .find_map(|l| l.strip_prefix("bootstrap="))
                .unwrap_or_else(|| panic!("broker.sh printed no bootstrap= line: {stdout:?}"))
                .to_owned();
            break (dir, bootstrap);
        };
        Ok(Broker {
            bootstrap,
            dir,
            stopped: false,
        })
    }

    /// SIGKILLs broker `n` (1-based) of a cluster and waits until it is gone.
    pub fn kill_broker(&self, n: u32) {
        let status = Command::new(script())
            .args(["kill", "--dir"])
            .arg(&self.dir)
            .args(["--broker", &n.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .expect("run scripts/kafka/broker.sh kill");
        assert!(status.success(), "broker.sh kill --broker {n}: {status}");
    }

    pub fn stop(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let status = Command::new(script())
            .args(["stop", "--dir"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!(
                "warning: broker.sh stop --dir {} failed",
                self.dir.display()
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The binary's shared broker, or `None` (after a loud message) when this machine cannot
/// run one. Under CI that is a failure, not a skip.
pub fn shared() -> Option<&'static Broker> {
    static SHARED: OnceLock<Result<Broker, String>> = OnceLock::new();
    match SHARED.get_or_init(|| Broker::start(1, "shared")) {
        Ok(broker) => Some(broker),
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("CI must run the Kafka tests, but no Kafka broker can be had: {why}")
        }
        Err(why) => {
            // Straight to fd 2: the test harness captures `eprintln!` of passing tests, and
            // a skip must not be quiet.
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!(
                    "\n!!!!! SKIPPING a Kafka test: no real Kafka broker on this machine: {why}. \
                     Install Java 17 and Maven and run scripts/kafka/broker.sh fetch. !!!!!\n"
                )
                .as_bytes(),
            );
            None
        }
    }
}
