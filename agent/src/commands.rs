//! The agent's commands: each a function from the configuration to a result the binary maps
//! to an exit code.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nanolin_core::boot_state::{BootSlot, BootState};
use nanolin_core::version::ReleaseVersion;

use crate::bootstate::open_store;
use crate::channel::{Channel, CHANNEL_MAX_LEN};
use crate::config::{booted_slot, AgentConfig};
use crate::error::{AgentError, Refusal};
use crate::health::Verdict;
use crate::http::{get_limited, HttpOptions, Url};
use crate::install::{install, verify_manifest, InstallOptions, InstallReport};
use crate::source::{FileSource, HttpSource, Source};
use crate::status::{LastResult, SlotCondition, Status};
use crate::storage::Disk;

/// Seconds since 1970 (`NANOLIN_NOW` overrides the clock, for tests of expiry).
pub fn now() -> u64 {
    std::env::var("NANOLIN_NOW")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        })
}

/// The booted slot, from the configuration or `/proc/cmdline`.
pub fn booted(config: &AgentConfig) -> Result<BootSlot, AgentError> {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    booted_slot(config, &cmdline)
}

fn http_options(config: &AgentConfig) -> HttpOptions {
    HttpOptions {
        io_timeout: config.timeout,
        ca_file: config.ca_file.clone(),
        ..HttpOptions::default()
    }
}

/// Notes a release that did not come up: the board is back on the other slot while the new
/// one has no tries left. Such a release is never tried again.
pub fn note_fallback(
    config: &AgentConfig,
    disk: &dyn Disk,
    state: &BootState,
    booted: BootSlot,
) -> Result<Option<String>, AgentError> {
    let mut status = Status::load(disk, &config.state_dir)?;
    let other = booted.other();
    let record = status.slot(other);
    if record.condition != SlotCondition::Installed || state.left(other) > 0 {
        return Ok(None);
    }
    let version = record.version;
    status.slot_mut(other).condition = SlotCondition::Bad;
    if let Some(v) = version {
        status.note_failed(v);
    }
    let message = format!(
        "release {} in slot {other} did not come up: the board fell back to slot {booted}",
        version.map(|v| v.to_string()).unwrap_or_else(|| "?".into())
    );
    if let Some(last) = status.last.as_mut() {
        last.result = message.clone();
    }
    status.save(disk, &config.state_dir)?;
    Ok(Some(message))
}

/// `install FILE|URL`.
pub fn install_from(
    config: &AgentConfig,
    disk: &dyn Disk,
    location: &str,
    options: &InstallOptions,
) -> Result<InstallReport, AgentError> {
    let booted = booted(config)?;
    let mut source: Box<dyn Source> =
        if location.starts_with("http://") || location.starts_with("https://") {
            Box::new(HttpSource::new(location, http_options(config))?)
        } else {
            Box::new(FileSource::open(location.into())?)
        };
    install_recorded(config, disk, source.as_mut(), booted, options, location)
}

/// Installs from `source`; a failure is kept in the status record under `what`.
fn install_recorded(
    config: &AgentConfig,
    disk: &dyn Disk,
    source: &mut dyn Source,
    booted: BootSlot,
    options: &InstallOptions,
    what: &str,
) -> Result<InstallReport, AgentError> {
    let mut store = open_store(config, disk);
    let result = install(config, disk, store.as_mut(), source, booted, options);
    if let Err(e) = &result {
        record_failure(config, disk, what, e);
    }
    result
}

/// Keeps the reason of a failed install in the status record, for `status`.
fn record_failure(config: &AgentConfig, disk: &dyn Disk, what: &str, error: &AgentError) {
    if let Ok(mut status) = Status::load(disk, &config.state_dir) {
        status.last = Some(crate::status::LastResult {
            version: what.to_string(),
            result: format!("failed: {error}"),
            time: now(),
            downloaded: 0,
            reused: 0,
        });
        // Best effort: the error itself is what the caller reports.
        let _ = status.save(disk, &config.state_dir);
    }
}

/// `mark-good [SLOT]` and `mark-bad [SLOT]`.
pub fn mark(
    config: &AgentConfig,
    disk: &dyn Disk,
    slot: Option<BootSlot>,
    good: bool,
) -> Result<BootSlot, AgentError> {
    let slot = match slot {
        Some(s) => s,
        None => booted(config)?,
    };
    let mut store = open_store(config, disk);
    let mut state = store.load()?;
    let mut status = Status::load(disk, &config.state_dir)?;
    set_condition(&mut state, &mut status, slot, good, config.tries);
    store.store(&state)?;
    status.save(disk, &config.state_dir)?;
    Ok(slot)
}

/// `slot` is good (its tries refilled) or bad (none left, its release never taken again), in
/// the boot state and in the status record.
fn set_condition(
    state: &mut BootState,
    status: &mut Status,
    slot: BootSlot,
    good: bool,
    tries: u8,
) {
    if good {
        state.mark_good(slot, tries);
        status.slot_mut(slot).condition = SlotCondition::Good;
    } else {
        state.mark_bad(slot);
        status.slot_mut(slot).condition = SlotCondition::Bad;
        if let Some(v) = status.slot(slot).version {
            status.note_failed(v);
        }
    }
}

/// Where the distro build writes the release the root file system is (`VERSION_ID=`).
pub const OS_RELEASE: &str = "/etc/os-release";

/// The release the running root file system says it is, from `/etc/os-release`: the agent
/// knows a freshly flashed slot's release before it ever installed one.
pub fn running_release() -> Option<ReleaseVersion> {
    let text = std::fs::read_to_string(OS_RELEASE).ok()?;
    let pairs = crate::kv::read_pairs(OS_RELEASE, &text).ok()?;
    let id = pairs.iter().rev().find(|p| p.name == "VERSION_ID")?;
    ReleaseVersion::parse(&id.value).ok()
}

/// What `commit` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// The booted slot is good: its tries are refilled. `first` when this commit confirmed a
    /// newly installed release.
    Committed {
        /// The slot.
        slot: BootSlot,
        /// How long the required services took.
        waited: Duration,
        /// How many services the check required.
        required: usize,
        /// The release confirmed, when this boot was its first good one.
        first: Option<String>,
    },
    /// A new release failed its health check: it is marked bad and never tried again; a
    /// reboot brings the board back to the other slot.
    RolledBack(String),
    /// The slot failed its health check but has nothing better to fall back to, or was
    /// confirmed before (its tries are not refilled: after them the board falls back).
    Unhealthy(String),
}

/// `commit`: the booted slot's health check came to `verdict` about `required` services;
/// marks the slot good, or a new release that failed bad. `running` is the release of the
/// running root (for a slot the agent never installed).
pub fn commit(
    config: &AgentConfig,
    disk: &dyn Disk,
    running: Option<ReleaseVersion>,
    required: usize,
    verdict: Verdict,
) -> Result<CommitOutcome, AgentError> {
    let slot = booted(config)?;
    let mut store = open_store(config, disk);
    let mut state = store.load()?;
    let mut status = Status::load(disk, &config.state_dir)?;
    let learnt = status.slot(slot).version.is_none() && running.is_some();
    if learnt {
        status.slot_mut(slot).version = running;
    }
    let was = status.slot(slot).condition;
    let release = status
        .slot(slot)
        .version
        .map(|v| v.to_string())
        .unwrap_or_else(|| "(unrecorded release)".into());
    let (outcome, last) = match verdict {
        Verdict::Healthy(waited) => {
            set_condition(&mut state, &mut status, slot, true, config.tries);
            let first = (was != SlotCondition::Good).then(|| release.clone());
            let last = first.as_ref().map(|_| LastResult {
                version: release,
                result: format!(
                    "committed in slot {slot}: {required} required services up in {:.1} s",
                    waited.as_secs_f64()
                ),
                time: now(),
                downloaded: status.last.as_ref().map_or(0, |l| l.downloaded),
                reused: status.last.as_ref().map_or(0, |l| l.reused),
            });
            let outcome = CommitOutcome::Committed {
                slot,
                waited,
                required,
                first,
            };
            (outcome, last)
        }
        Verdict::Unhealthy(why) => {
            let other = slot.other();
            let fallback =
                status.slot(other).condition == SlotCondition::Good && state.left(other) > 0;
            if was == SlotCondition::Good || !fallback {
                if learnt {
                    status.save(disk, &config.state_dir)?;
                }
                let reason = if was == SlotCondition::Good {
                    "it was confirmed before, so it stays; its tries are not refilled".to_string()
                } else {
                    format!("slot {other} holds no good release to fall back to, so it stays")
                };
                return Ok(CommitOutcome::Unhealthy(format!(
                    "release {release} in slot {slot} failed its health check ({why}): {reason}"
                )));
            }
            set_condition(&mut state, &mut status, slot, false, config.tries);
            let message = format!(
                "release {release} in slot {slot} failed its health check ({why}): marked bad, \
                 never tried again; the board falls back to slot {other}"
            );
            let last = LastResult {
                version: release,
                result: message.clone(),
                time: now(),
                downloaded: 0,
                reused: 0,
            };
            (CommitOutcome::RolledBack(message), Some(last))
        }
    };
    if last.is_some() {
        status.last = last;
    }
    store.store(&state)?;
    status.save(disk, &config.state_dir)?;
    Ok(outcome)
}

/// What `poll` found.
#[derive(Debug)]
pub enum PollOutcome {
    /// A release was installed.
    Installed(InstallReport),
}

/// Fetches the channel file, checks it, and installs its release when it is newer.
pub fn poll(
    config: &AgentConfig,
    disk: &dyn Disk,
    options: &InstallOptions,
) -> Result<PollOutcome, AgentError> {
    let repository = config.repository.as_deref().ok_or_else(|| {
        AgentError::Config(format!(
            "{}: repository= is not set: poll needs the update server's URL",
            config.origin.display()
        ))
    })?;
    let booted = booted(config)?;
    let state = open_store(config, disk).load()?;
    if let Some(message) = note_fallback(config, disk, &state, booted)? {
        crate::say!("nanolin-agent: {message}");
    }
    // Before any traffic: nothing is installed over the fallback while the booted slot waits
    // for its health check.
    let mut status = Status::load(disk, &config.state_dir)?;
    if status.slot(booted).condition == SlotCondition::Installed {
        return Err(AgentError::UpToDate(format!(
            "slot {booted} runs {}, which has not passed its health check yet: no install over \
             slot {} (the fallback) until `nanolin-agent commit` confirms it",
            status
                .slot(booted)
                .version
                .map(|v| v.to_string())
                .unwrap_or_else(|| "a new release".into()),
            booted.other()
        )));
    }
    let base = Url::parse(&format!("{repository}/"))
        .map_err(|e| AgentError::Config(format!("repository={repository}: {e}")))?;
    let channel_url = base
        .join(&format!(
            "channels/{}/{}",
            config.compatible, config.channel
        ))
        .map_err(|e| AgentError::Config(format!("channel URL: {e}")))?;
    let signature_url = Url::parse(&format!("{channel_url}.sig"))
        .map_err(|e| AgentError::Config(format!("channel URL: {e}")))?;
    let opts = http_options(config);
    let fetch = |url: &Url| {
        get_limited(url, CHANNEL_MAX_LEN, &opts).map_err(|e| AgentError::Download(e.to_string()))
    };
    let text = fetch(&channel_url)?;
    let signature = fetch(&signature_url)?;
    verify_manifest(&text, &signature, &config.keys).map_err(|e| match e {
        AgentError::Refused(Refusal::Signature(r)) => {
            AgentError::Refused(Refusal::Channel(format!("{channel_url}: {r}")))
        }
        other => other,
    })?;
    let text = String::from_utf8(text)
        .map_err(|_| Refusal::Channel(format!("{channel_url}: not text")))?;
    let channel = Channel::parse(&text)?;
    if channel.board != config.compatible || channel.channel != config.channel {
        return Err(Refusal::Channel(format!(
            "{channel_url} is for board {} channel {}, not {} {}",
            channel.board, channel.channel, config.compatible, config.channel
        ))
        .into());
    }
    if options.now > channel.expires {
        return Err(Refusal::Expired {
            what: "the channel file",
            expires: channel.expires,
            now: options.now,
        }
        .into());
    }
    if let Some(seen) = status.channel_seen {
        if channel.version < seen {
            return Err(Refusal::ChannelReplay {
                got: channel.version.to_string(),
                seen: seen.to_string(),
            }
            .into());
        }
    }
    if status.channel_seen != Some(channel.version) {
        status.channel_seen = Some(channel.version);
        status.save(disk, &config.state_dir)?;
    }
    if status.failed.contains(&channel.version) {
        return Err(Refusal::FailedBefore {
            version: channel.version.to_string(),
        }
        .into());
    }
    if let Some(installed) = status.slot(booted).version.or_else(running_release) {
        if channel.version <= installed {
            return Err(AgentError::UpToDate(format!(
                "up to date: slot {booted} runs {installed}, the channel offers {}",
                channel.version
            )));
        }
    }
    let other = status.slot(booted.other());
    if other.condition == SlotCondition::Installed && other.version == Some(channel.version) {
        return Err(AgentError::UpToDate(format!(
            "{} is installed in slot {} and waits for a reboot",
            channel.version,
            booted.other()
        )));
    }
    let bundle_url = base
        .join(&channel.bundle)
        .map_err(|e| Refusal::Channel(format!("bundle={}: {e}", channel.bundle)))?;
    let mut source = HttpSource::new(&bundle_url.to_string(), opts.clone())?;
    let len = source.size()?;
    if len != channel.size {
        return Err(Refusal::Channel(format!(
            "{bundle_url} has {len} bytes but the channel file says {}",
            channel.size
        ))
        .into());
    }
    let what = channel.version.to_string();
    install_recorded(config, disk, &mut source, booted, options, &what).map(PollOutcome::Installed)
}

/// Reboots into the slot that boots next: `reboot_command`, else `reboot` (`activate`, and
/// after an install or a failed health check).
pub fn reboot(config: &AgentConfig) -> Result<(), AgentError> {
    let command = config.reboot_command.as_deref().unwrap_or("reboot");
    crate::say!("nanolin-agent: running {command}");
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(command)
        .status()
        .map_err(|e| AgentError::io("run", std::path::Path::new("/bin/sh"), e))?;
    if !status.success() {
        return Err(AgentError::Config(format!(
            "{}: reboot_command {command:?} failed ({status}): fix it, or reboot by hand",
            config.origin.display()
        )));
    }
    Ok(())
}

/// A random-enough delay up to `max` (a fleet should not poll in step).
pub fn jitter(max: Duration) -> Duration {
    if max.is_zero() {
        return max;
    }
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64 ^ d.as_secs())
        .unwrap_or(0)
        ^ u64::from(std::process::id()).rotate_left(17);
    let mixed = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    Duration::from_millis(mixed % (max.as_millis().max(1) as u64))
}
