//! The health check of a booted slot: every service marked `health=required` in init's service
//! folder must be up before the deadline. Then the slot is committed (marked good, its tries
//! refilled); a new release that misses the deadline is marked bad and the board reboots into
//! the other slot.
//!
//! The agent learns what init knows through init's control socket (`init ctl status`): one line
//! per service, its name, then its state in words, then a record separator and the exit digit.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::error::AgentError;
use crate::kv::read_pairs;

/// Where init reads its services.
pub const DEFAULT_SERVICES_DIR: &str = "/etc/nanolin/services";

/// Where init answers `init ctl`.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/nanolin/init.sock";

/// Where `commit` leaves its verdict for this boot, beside init's control socket (in /run, a
/// tmpfs: gone at the next boot). The daemon waits for it before its first poll, so that an
/// install and its reboot never cut this boot's health check short (the check is what gives
/// the boot's try back).
pub const HEALTH_FILE_NAME: &str = "health";

/// [`HEALTH_FILE_NAME`] beside `control_socket`.
pub fn health_file(control_socket: &Path) -> std::path::PathBuf {
    control_socket
        .parent()
        .unwrap_or(Path::new("/run/nanolin"))
        .join(HEALTH_FILE_NAME)
}

/// How long a booted slot has to bring its required services up, unless configured.
pub const DEFAULT_HEALTH_DEADLINE: Duration = Duration::from_secs(120);

/// Longest service file read (init reads no more either).
pub const SERVICE_FILE_MAX_LEN: u64 = 64 * 1024;

/// Longest answer of `status` read from init.
pub const STATUS_MAX_LEN: u64 = 256 * 1024;

/// Time between two questions to init while services come up.
pub const CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// How init's record separator ends the text of an answer.
const RECORD_SEPARATOR: char = '\x1e';

/// One required service as init reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceHealth {
    /// Up (a longrun, ready) or done (a oneshot that succeeded).
    Up,
    /// Not yet: waiting, starting, restarting; the state in init's words.
    Pending(String),
    /// Will not come up by itself: failed, blocked, stopped; the state in init's words.
    Failed(String),
}

impl ServiceHealth {
    /// Reads init's words for a state (`up (pid 7, 3 s)`, `done`, `failed: exit status 1`).
    pub fn from_state(words: &str) -> Self {
        let words = words.trim();
        let first = words
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or("");
        match first {
            "up" | "done" => ServiceHealth::Up,
            "failed" | "not" | "removed" | "stopped" => ServiceHealth::Failed(words.to_string()),
            _ => ServiceHealth::Pending(words.to_string()),
        }
    }
}

/// The services in `dir` whose files say `health=required`, sorted by name.
///
/// A file the agent cannot read as key=value is skipped with a warning: init reports such a
/// service as broken, and the health check does not stand or fall by the agent's reading.
pub fn required_services(dir: &Path) -> Result<Vec<String>, AgentError> {
    let entries = std::fs::read_dir(dir).map_err(|e| AgentError::io("read", dir, e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| AgentError::io("read", dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if name.starts_with('.') || !path.is_file() {
            continue;
        }
        let mut text = String::new();
        std::fs::File::open(&path)
            .and_then(|f| f.take(SERVICE_FILE_MAX_LEN).read_to_string(&mut text))
            .map_err(|e| AgentError::io("read", &path, e))?;
        match read_pairs(&path.display().to_string(), &text) {
            Ok(pairs) => {
                let health = pairs.iter().rev().find(|p| p.name == "health");
                if health.is_some_and(|p| p.value == "required") {
                    names.push(name);
                }
            }
            Err(e) => crate::say!("nanolin-agent: {e}; not part of the health check"),
        }
    }
    names.sort();
    Ok(names)
}

/// Each service's name and state, from the text of init's `status` answer.
pub fn parse_status(answer: &str) -> Vec<(String, ServiceHealth)> {
    let text = answer.split(RECORD_SEPARATOR).next().unwrap_or("");
    text.lines()
        .filter_map(|line| {
            let (name, state) = line.trim_start().split_once(char::is_whitespace)?;
            Some((name.to_string(), ServiceHealth::from_state(state)))
        })
        .collect()
}

/// Asks init for every service's state.
pub fn query_init(socket: &Path, timeout: Duration) -> Result<String, AgentError> {
    let mut stream =
        UnixStream::connect(socket).map_err(|e| AgentError::io("connect to", socket, e))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .and_then(|()| stream.write_all(b"status\n"))
        .map_err(|e| AgentError::io("ask init through", socket, e))?;
    let mut answer = String::new();
    let mut limited = stream.take(STATUS_MAX_LEN);
    let mut buf = [0u8; 4096];
    loop {
        let n = limited
            .read(&mut buf)
            .map_err(|e| AgentError::io("read init's answer from", socket, e))?;
        if n == 0 {
            break;
        }
        answer.push_str(&String::from_utf8_lossy(buf.get(..n).unwrap_or(&[])));
        // The status digit and newline after the separator end the answer.
        if answer
            .split_once(RECORD_SEPARATOR)
            .is_some_and(|(_, tail)| tail.ends_with('\n'))
        {
            break;
        }
    }
    Ok(answer)
}

/// Leaves `verdict` in `file` ([`health_file`]); best effort (without it the daemon only
/// waits out the deadline once).
pub fn note_verdict(file: &Path, verdict: &str) {
    if let Some(dir) = file.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(file, format!("{verdict}\n"));
}

/// Waits until this boot's health check has left its verdict in `file` or `deadline` (plus a
/// little) has passed; returns whether it did.
pub fn wait_for_verdict(file: &Path, deadline: Duration) -> bool {
    let start = Instant::now();
    let limit = deadline + Duration::from_secs(10);
    while start.elapsed() < limit {
        if file.exists() {
            return true;
        }
        std::thread::sleep(CHECK_INTERVAL);
    }
    false
}

/// The outcome of waiting for the required services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// All were up after this long.
    Healthy(Duration),
    /// One failed, or the deadline passed first: which services and why, in words.
    Unhealthy(String),
}

/// Asks `status` (init's answer) until every service in `required` is up, one of them has
/// failed, or `deadline` has passed. An unreachable init counts as "not yet".
pub fn wait_healthy(
    required: &[String],
    deadline: Duration,
    mut status: impl FnMut() -> Result<String, AgentError>,
) -> Verdict {
    let start = Instant::now();
    loop {
        let (pending, failed) = match status() {
            Ok(answer) => judge(required, &parse_status(&answer)),
            Err(e) => (vec![format!("init did not answer: {e}")], Vec::new()),
        };
        if !failed.is_empty() {
            return Verdict::Unhealthy(failed.join("; "));
        }
        if pending.is_empty() {
            return Verdict::Healthy(start.elapsed());
        }
        if start.elapsed() >= deadline {
            return Verdict::Unhealthy(format!(
                "not up within {} s: {}",
                deadline.as_secs(),
                pending.join("; ")
            ));
        }
        std::thread::sleep(CHECK_INTERVAL.min(deadline.saturating_sub(start.elapsed())));
    }
}

/// The required services not up yet, and those that failed, each with its state.
fn judge(required: &[String], states: &[(String, ServiceHealth)]) -> (Vec<String>, Vec<String>) {
    let mut pending = Vec::new();
    let mut failed = Vec::new();
    for name in required {
        match states.iter().find(|(n, _)| n == name).map(|(_, s)| s) {
            Some(ServiceHealth::Up) => {}
            Some(ServiceHealth::Pending(words)) => pending.push(format!("{name} {words}")),
            Some(ServiceHealth::Failed(words)) => failed.push(format!("{name} {words}")),
            None => pending.push(format!("{name} unknown to init")),
        }
    }
    (pending, failed)
}

#[cfg(test)]
#[path = "health_tests.rs"]
mod tests;
