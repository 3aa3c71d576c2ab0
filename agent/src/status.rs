//! The agent's record of what each slot holds and how the last update went, kept in
//! `STATE_DIR/status` (key=value, replaced in one step).

use std::path::{Path, PathBuf};

use nanolin_core::boot_state::BootSlot;
use nanolin_core::version::ReleaseVersion;

use crate::error::AgentError;
use crate::kv::{quote, read_pairs};
use crate::storage::Disk;

/// What the agent knows of a slot's contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotCondition {
    /// Nothing recorded.
    Unknown,
    /// Being written: not bootable.
    Installing,
    /// Written and verified; not yet booted and confirmed.
    Installed,
    /// Booted and confirmed healthy.
    Good,
    /// Failed (its health check, or its tries ran out).
    Bad,
}

impl SlotCondition {
    /// The word stored and shown.
    pub fn name(self) -> &'static str {
        match self {
            SlotCondition::Unknown => "unknown",
            SlotCondition::Installing => "installing",
            SlotCondition::Installed => "installed",
            SlotCondition::Good => "good",
            SlotCondition::Bad => "bad",
        }
    }

    fn from_name(text: &str) -> Self {
        match text {
            "installing" => SlotCondition::Installing,
            "installed" => SlotCondition::Installed,
            "good" => SlotCondition::Good,
            "bad" => SlotCondition::Bad,
            _ => SlotCondition::Unknown,
        }
    }
}

/// One slot's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRecord {
    /// The release it holds.
    pub version: Option<ReleaseVersion>,
    /// Its condition.
    pub condition: SlotCondition,
    /// When it was installed (seconds since 1970).
    pub installed: Option<u64>,
    /// Size of each image written, by name.
    pub image_sizes: Vec<(String, u64)>,
}

/// The whole record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// Slots A and B.
    pub slots: [SlotRecord; 2],
    /// No release older than this is installed (the anti-rollback floor).
    pub floor: Option<ReleaseVersion>,
    /// Newest channel file version seen (replay protection).
    pub channel_seen: Option<ReleaseVersion>,
    /// Releases that failed on this board.
    pub failed: Vec<ReleaseVersion>,
    /// The last update attempt: its version, result, time, bytes downloaded and reused.
    pub last: Option<LastResult>,
}

/// How the last update attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastResult {
    /// The release.
    pub version: String,
    /// `installed`, or the reason it failed.
    pub result: String,
    /// When (seconds since 1970).
    pub time: u64,
    /// Bytes fetched from the source.
    pub downloaded: u64,
    /// Bytes taken from the slots instead.
    pub reused: u64,
}

impl Default for Status {
    fn default() -> Self {
        let empty = SlotRecord {
            version: None,
            condition: SlotCondition::Unknown,
            installed: None,
            image_sizes: Vec::new(),
        };
        Status {
            slots: [empty.clone(), empty],
            floor: None,
            channel_seen: None,
            failed: Vec::new(),
            last: None,
        }
    }
}

/// Where the record lives in `state_dir`.
pub fn status_path(state_dir: &Path) -> PathBuf {
    state_dir.join("status")
}

impl Status {
    /// Adds `version` to the releases never installed again (once).
    pub fn note_failed(&mut self, version: ReleaseVersion) {
        if !self.failed.contains(&version) {
            self.failed.push(version);
        }
    }

    /// The record of `slot`.
    pub fn slot(&self, slot: BootSlot) -> &SlotRecord {
        let [a, b] = &self.slots;
        match slot {
            BootSlot::A => a,
            BootSlot::B => b,
        }
    }

    /// The record of `slot`, to change.
    pub fn slot_mut(&mut self, slot: BootSlot) -> &mut SlotRecord {
        let [a, b] = &mut self.slots;
        match slot {
            BootSlot::A => a,
            BootSlot::B => b,
        }
    }

    /// Reads the record (a missing one is empty).
    pub fn load(disk: &dyn Disk, state_dir: &Path) -> Result<Self, AgentError> {
        let path = status_path(state_dir);
        let Some(bytes) = disk
            .read_file(&path)
            .map_err(|e| AgentError::io("read", &path, e))?
        else {
            return Ok(Status::default());
        };
        let text = String::from_utf8(bytes).map_err(|_| {
            AgentError::Config(format!(
                "{}: not text; remove it to start afresh",
                path.display()
            ))
        })?;
        Self::parse(&path.display().to_string(), &text)
    }

    /// Reads the record's text; `origin` names it in errors. Unknown lines are skipped, so an
    /// older agent (after a rollback) reads what a newer one wrote.
    pub fn parse(origin: &str, text: &str) -> Result<Self, AgentError> {
        let pairs = read_pairs(origin, text).map_err(AgentError::Config)?;
        let mut status = Status::default();
        let version = |v: &str| ReleaseVersion::parse(v).ok();
        let mut last = LastResult {
            version: String::new(),
            result: String::new(),
            time: 0,
            downloaded: 0,
            reused: 0,
        };
        for p in &pairs {
            let v = p.value.as_str();
            match p.name.as_str() {
                "floor" => status.floor = version(v),
                "channel_seen" => status.channel_seen = version(v),
                "failed" => status.failed = v.split_whitespace().filter_map(version).collect(),
                "last_version" => last.version = v.into(),
                "last_result" => last.result = v.into(),
                "last_time" => last.time = v.parse().unwrap_or(0),
                "last_downloaded" => last.downloaded = v.parse().unwrap_or(0),
                "last_reused" => last.reused = v.parse().unwrap_or(0),
                name => {
                    for slot in BootSlot::ALL {
                        let Some(field) = name.strip_prefix(&format!("slot_{}_", slot.name()))
                        else {
                            continue;
                        };
                        let record = status.slot_mut(slot);
                        match field {
                            "version" => record.version = version(v),
                            "state" => record.condition = SlotCondition::from_name(v),
                            "installed" => record.installed = v.parse().ok(),
                            _ => {
                                if let (Some(image), Ok(size)) =
                                    (field.strip_prefix("size_"), v.parse())
                                {
                                    record.image_sizes.push((image.to_string(), size));
                                }
                            }
                        }
                    }
                }
            }
        }
        if !last.version.is_empty() || !last.result.is_empty() {
            status.last = Some(last);
        }
        Ok(status)
    }

    /// The record as text.
    pub fn to_text(&self) -> String {
        let mut text = String::from("# nanolin-agent status: written by the agent, do not edit\n");
        let mut line = |name: &str, value: &str| {
            text.push_str(name);
            text.push('=');
            text.push_str(&quote(value));
            text.push('\n');
        };
        if let Some(floor) = self.floor {
            line("floor", floor.text().as_str());
        }
        if let Some(seen) = self.channel_seen {
            line("channel_seen", seen.text().as_str());
        }
        if !self.failed.is_empty() {
            let failed: Vec<String> = self.failed.iter().map(|v| v.to_string()).collect();
            line("failed", &failed.join(" "));
        }
        for slot in BootSlot::ALL {
            let record = self.slot(slot);
            let prefix = format!("slot_{}_", slot.name());
            if let Some(v) = record.version {
                line(&format!("{prefix}version"), v.text().as_str());
            }
            line(&format!("{prefix}state"), record.condition.name());
            if let Some(t) = record.installed {
                line(&format!("{prefix}installed"), &t.to_string());
            }
            for (image, size) in &record.image_sizes {
                line(&format!("{prefix}size_{image}"), &size.to_string());
            }
        }
        if let Some(last) = &self.last {
            line("last_version", &last.version);
            line("last_result", &last.result);
            line("last_time", &last.time.to_string());
            line("last_downloaded", &last.downloaded.to_string());
            line("last_reused", &last.reused.to_string());
        }
        text
    }

    /// Writes the record, replacing the old one in one step.
    pub fn save(&self, disk: &dyn Disk, state_dir: &Path) -> Result<(), AgentError> {
        let path = status_path(state_dir);
        disk.replace_file(&path, self.to_text().as_bytes())
            .map_err(|e| AgentError::io("write", &path, e))
    }
}
