//! One agent at a time on the board's state: the daemon polls while the `commit` service
//! checks the boot's health, and both read, change and write the status record and the boot
//! state. Each takes this lock around its read-change-write, so neither loses the other's
//! change.

use std::fs::{File, OpenOptions};
use std::path::Path;

use rustix::fs::{flock, FlockOperation};

use crate::error::AgentError;

/// The lock file's name in the state directory.
pub const LOCK_FILE: &str = "lock";

/// Held while it lives (`flock(2)` on `STATE_DIR/lock`; closing the file releases it, and so
/// does the process ending, however it ends).
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

impl StateLock {
    /// Waits for the lock of `state_dir` and takes it.
    pub fn acquire(state_dir: &Path) -> Result<StateLock, AgentError> {
        std::fs::create_dir_all(state_dir).map_err(|e| AgentError::io("create", state_dir, e))?;
        let path = state_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| AgentError::io("open", &path, e))?;
        flock(&file, FlockOperation::LockExclusive)
            .map_err(|e| AgentError::io("lock", &path, e.into()))?;
        Ok(StateLock { _file: file })
    }
}
