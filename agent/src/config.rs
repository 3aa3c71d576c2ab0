//! `/etc/nanolin/agent.conf`: what the agent updates, where the boot state lives, whom it
//! trusts, and where it polls.
//!
//! ```sh
//! compatible=qemu-aarch64-virt          # bundles for other boards are refused
//! slot_a=/dev/vda2  slot_b=/dev/vda3     # the rootfs image goes to the inactive one
//! slot_a_boot=/dev/vda5                  # an image named boot (optional, any name)
//! bootstate=uboot                        # uboot | grub | native
//! uboot_env="/dev/vda1 0x0 0x4000"       # as a line of fw_env.config: device, offset, size
//! uboot_env_redundant="/dev/vda1 0x4000 0x4000"
//! bootstate_path=/boot/grub/grubenv      # grub: the environment block; native: the record
//! keys="/etc/nanolin/keys/release.pub"   # trusted public keys, space-separated
//! repository=http://updates.example/repo channel=stable
//! poll_interval=3600 poll_jitter=600 tries=3 state_dir=/var/lib/nanolin/agent
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use nanolin_core::boot_state::{BootSlot, MAX_TRIES};
use nanolin_core::medium::{LIVE_ARG, LIVE_SLOT};

use crate::error::AgentError;
use crate::health::{DEFAULT_CONTROL_SOCKET, DEFAULT_HEALTH_DEADLINE, DEFAULT_SERVICES_DIR};
use crate::kv::read_pairs;

/// Where the configuration is read from unless `-c` or `NANOLIN_AGENT_CONFIG` says otherwise.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/nanolin/agent.conf";

/// Where the agent keeps its status unless `state_dir=` says otherwise.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/nanolin/agent";

/// Tries a newly installed slot gets unless `tries=` says otherwise.
pub const DEFAULT_TRIES: u8 = 3;

/// Seconds between polls unless `poll_interval=` says otherwise.
pub const DEFAULT_POLL_INTERVAL: u64 = 3600;

/// One copy of a U-Boot environment: as a line of `fw_env.config`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvLocation {
    /// Device or file.
    pub path: PathBuf,
    /// Offset of the copy.
    pub offset: u64,
    /// Bytes of the copy.
    pub size: usize,
}

/// Where the boot state lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BootStateConfig {
    /// A U-Boot environment, one copy or two redundant ones.
    Uboot {
        /// The first copy.
        primary: EnvLocation,
        /// The second copy (redundant layout).
        redundant: Option<EnvLocation>,
    },
    /// A GRUB environment block file.
    Grub {
        /// The file (`/boot/grub/grubenv`).
        path: PathBuf,
    },
    /// Nanolin's own two-copy record, read by `init`.
    Native {
        /// Device or file.
        path: PathBuf,
        /// Offset of the record's region.
        offset: u64,
    },
}

/// A pair of slots for one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotPair {
    /// The image name (`rootfs`).
    pub image: String,
    /// Slot A's device or file.
    pub a: PathBuf,
    /// Slot B's device or file.
    pub b: PathBuf,
}

impl SlotPair {
    /// The device of `slot`.
    pub fn path(&self, slot: BootSlot) -> &Path {
        match slot {
            BootSlot::A => &self.a,
            BootSlot::B => &self.b,
        }
    }
}

/// The agent's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// The file it came from.
    pub origin: PathBuf,
    /// The board compatible string.
    pub compatible: String,
    /// Slots, one pair per image name.
    pub slots: Vec<SlotPair>,
    /// The boot state backend.
    pub bootstate: BootStateConfig,
    /// Trusted public key files.
    pub keys: Vec<PathBuf>,
    /// Repository URL (for `poll`).
    pub repository: Option<String>,
    /// Channel (for `poll`).
    pub channel: String,
    /// Time between polls.
    pub poll_interval: Duration,
    /// Most random delay added to each poll interval, so a fleet does not poll at once.
    pub poll_jitter: Duration,
    /// Tries a new slot gets.
    pub tries: u8,
    /// Where the status record lives.
    pub state_dir: PathBuf,
    /// The booted slot, when the kernel command line does not say.
    pub booted: Option<BootSlot>,
    /// CA certificates (PEM) for HTTPS, instead of the system's.
    pub ca_file: Option<PathBuf>,
    /// Command the daemon runs after an install (e.g. `reboot`); none by default.
    pub reboot_command: Option<String>,
    /// How the daemon switches to a new slot after an install: `reboot_command`, or kexec.
    pub activate: crate::kexec::Activate,
    /// Network timeout.
    pub timeout: Duration,
    /// How long a booted slot has to bring its `health=required` services up (`commit`).
    pub health_deadline: Duration,
    /// Where init's service files are (`commit` reads which are `health=required`).
    pub services_dir: PathBuf,
    /// init's control socket (`commit` asks it for the services' states).
    pub control_socket: PathBuf,
}

fn parse_number(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

fn parse_env_location(text: &str) -> Option<EnvLocation> {
    let mut words = text.split_whitespace();
    let path = PathBuf::from(words.next()?);
    let offset = parse_number(words.next().unwrap_or("0"))?;
    let size = usize::try_from(parse_number(words.next().unwrap_or("0x4000"))?).ok()?;
    // fw_env.config's fourth column (erase block size) is accepted and unused on files.
    (words.count() <= 2 && size >= 16).then_some(EnvLocation { path, offset, size })
}

impl AgentConfig {
    /// Reads and checks the configuration at `path`.
    pub fn load(path: &Path) -> Result<Self, AgentError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            AgentError::Config(format!(
                "unable to read the agent configuration {}: {e} (pass -c FILE or set NANOLIN_AGENT_CONFIG)",
                path.display()
            ))
        })?;
        Self::parse(path, &text)
    }

    /// Checks the configuration `text`, read from `origin`.
    pub fn parse(origin: &Path, text: &str) -> Result<Self, AgentError> {
        let name = origin.display().to_string();
        let pairs = read_pairs(&name, text).map_err(AgentError::Config)?;
        let get = |key: &str| pairs.iter().rev().find(|p| p.name == key);
        let value = |key: &str| get(key).map(|p| p.value.clone()).filter(|v| !v.is_empty());
        let fault = |key: &str, problem: &str| {
            let place = get(key)
                .map(|p| format!("{name}: {}: ", p.position))
                .unwrap_or_else(|| format!("{name}: "));
            AgentError::Config(format!("{place}{key}: {problem}"))
        };
        let known = |key: &str| {
            [
                "compatible",
                "slot_a",
                "slot_b",
                "bootstate",
                "uboot_env",
                "uboot_env_redundant",
                "bootstate_path",
                "bootstate_offset",
                "keys",
                "repository",
                "channel",
                "poll_interval",
                "poll_jitter",
                "tries",
                "state_dir",
                "booted",
                "ca_file",
                "reboot_command",
                "activate",
                "timeout",
                "health_deadline",
                "services_dir",
                "control_socket",
            ]
            .contains(&key)
                || key.starts_with("slot_a_")
                || key.starts_with("slot_b_")
        };
        if let Some(p) = pairs.iter().find(|p| !known(&p.name)) {
            return Err(AgentError::Config(format!(
                "{name}: {}: unknown setting {} (see nanolin-agent --help for the settings)",
                p.position, p.name
            )));
        }
        let compatible = value("compatible")
            .ok_or_else(|| fault("compatible", "must be set to the board's compatible string"))?;
        let mut slots = Vec::new();
        let pair = |image: &str, a: &str, b: &str| -> Result<Option<SlotPair>, AgentError> {
            match (value(a), value(b)) {
                (Some(pa), Some(pb)) if pa == pb => {
                    Err(fault(b, "names the same device as slot A"))
                }
                (Some(pa), Some(pb)) => Ok(Some(SlotPair {
                    image: image.to_string(),
                    a: pa.into(),
                    b: pb.into(),
                })),
                (None, None) => Ok(None),
                (Some(_), None) => Err(fault(b, "must be set too: a slot pair needs both")),
                (None, Some(_)) => Err(fault(a, "must be set too: a slot pair needs both")),
            }
        };
        if let Some(p) = pair("rootfs", "slot_a", "slot_b")? {
            slots.push(p);
        }
        for p in &pairs {
            if let Some(image) = p.name.strip_prefix("slot_a_") {
                if slots.iter().any(|s| s.image == image) {
                    continue;
                }
                if let Some(s) = pair(image, &p.name, &format!("slot_b_{image}"))? {
                    slots.push(s);
                }
            } else if let Some(image) = p.name.strip_prefix("slot_b_") {
                if get(&format!("slot_a_{image}")).is_none() {
                    return Err(fault(&p.name, "has no slot_a_ partner"));
                }
            }
        }
        if slots.is_empty() {
            return Err(fault(
                "slot_a",
                "no slots: set slot_a= and slot_b= (devices or files)",
            ));
        }
        let path_of = |key: &str| value(key).map(PathBuf::from);
        let bootstate = match value("bootstate").as_deref() {
            Some("uboot") => {
                let primary = value("uboot_env").ok_or_else(|| {
                    fault(
                        "uboot_env",
                        "must be set for bootstate=uboot: \"DEVICE OFFSET SIZE\"",
                    )
                })?;
                let primary = parse_env_location(&primary).ok_or_else(|| {
                    fault(
                        "uboot_env",
                        "must read \"DEVICE OFFSET SIZE\" as in fw_env.config",
                    )
                })?;
                let redundant = match value("uboot_env_redundant") {
                    Some(text) => Some(parse_env_location(&text).ok_or_else(|| {
                        fault(
                            "uboot_env_redundant",
                            "must read \"DEVICE OFFSET SIZE\" as in fw_env.config",
                        )
                    })?),
                    None => None,
                };
                if redundant.as_ref().is_some_and(|r| r.size != primary.size) {
                    return Err(fault(
                        "uboot_env_redundant",
                        "must have the size of the first copy",
                    ));
                }
                BootStateConfig::Uboot { primary, redundant }
            }
            Some("grub") => BootStateConfig::Grub {
                path: path_of("bootstate_path").ok_or_else(|| {
                    fault(
                        "bootstate_path",
                        "must name the grubenv file for bootstate=grub",
                    )
                })?,
            },
            Some("native") => BootStateConfig::Native {
                path: path_of("bootstate_path").ok_or_else(|| {
                    fault(
                        "bootstate_path",
                        "must name the device or file for bootstate=native",
                    )
                })?,
                offset: match value("bootstate_offset") {
                    Some(t) => parse_number(&t)
                        .ok_or_else(|| fault("bootstate_offset", "must be a number"))?,
                    None => 0,
                },
            },
            _ => return Err(fault("bootstate", "must be uboot, grub or native")),
        };
        let keys: Vec<PathBuf> = value("keys")
            .unwrap_or_default()
            .split_whitespace()
            .map(PathBuf::from)
            .collect();
        if keys.is_empty() {
            return Err(fault(
                "keys",
                "must name at least one trusted public key file",
            ));
        }
        let seconds = |key: &str, default: u64| -> Result<Duration, AgentError> {
            match value(key) {
                Some(t) => t
                    .parse::<u64>()
                    .map(Duration::from_secs)
                    .map_err(|_| fault(key, "must be a whole number of seconds")),
                None => Ok(Duration::from_secs(default)),
            }
        };
        let tries = match value("tries") {
            Some(t) => t
                .parse::<u8>()
                .ok()
                .filter(|n| (1..=MAX_TRIES).contains(n))
                .ok_or_else(|| fault("tries", "must be a number from 1 to 9"))?,
            None => DEFAULT_TRIES,
        };
        let booted = match value("booted") {
            Some(t) => {
                Some(BootSlot::from_name(&t).ok_or_else(|| fault("booted", "must be A or B"))?)
            }
            None => None,
        };
        let poll_interval = seconds("poll_interval", DEFAULT_POLL_INTERVAL)?;
        Ok(AgentConfig {
            origin: origin.to_path_buf(),
            compatible,
            slots,
            bootstate,
            keys,
            repository: value("repository").map(|r| r.trim_end_matches('/').to_string()),
            channel: value("channel").unwrap_or_else(|| "stable".into()),
            poll_interval,
            // A twelfth of the interval (5 min of an hour) unless set.
            poll_jitter: seconds("poll_jitter", poll_interval.as_secs() / 12)?,
            tries,
            state_dir: path_of("state_dir").unwrap_or_else(|| DEFAULT_STATE_DIR.into()),
            booted,
            ca_file: path_of("ca_file"),
            reboot_command: value("reboot_command"),
            activate: match value("activate") {
                Some(a) => crate::kexec::Activate::from_name(&a)
                    .ok_or_else(|| fault("activate", "must be reboot or kexec"))?,
                None => crate::kexec::Activate::Reboot,
            },
            timeout: seconds("timeout", 30)?,
            health_deadline: seconds("health_deadline", DEFAULT_HEALTH_DEADLINE.as_secs())?,
            services_dir: path_of("services_dir").unwrap_or_else(|| DEFAULT_SERVICES_DIR.into()),
            control_socket: path_of("control_socket")
                .unwrap_or_else(|| DEFAULT_CONTROL_SOCKET.into()),
        })
    }

    /// The slot pair for image `name`.
    pub fn slot_pair(&self, name: &str) -> Option<&SlotPair> {
        self.slots.iter().find(|s| s.image == name)
    }
}

/// Where the initramfs (stage1) says which slot it booted: `A` or `B` and a newline.
pub const SLOT_FILE: &str = "/run/nanolin/slot";

/// What the agent says when asked for the booted slot of a live system.
pub const LIVE_NO_SLOT: &str = "this is a live system (booted from the release's ISO): no slot \
is booted and nothing is updated; install it to a disk first (the ISO's install entry)";

/// Whether the board runs a live system (booted from the release's ISO, its root from the
/// medium, no slot): never when the configuration pins `booted=`; else when the kernel command
/// line `cmdline` names the live medium (`nanolin.live=`) or the initramfs wrote `live` in
/// [`SLOT_FILE`] (read only when needed).
pub fn is_live_with(
    config: &AgentConfig,
    cmdline: &str,
    slot_file: impl FnOnce() -> Option<String>,
) -> bool {
    if config.booted.is_some() {
        return false;
    }
    cmdline.split_whitespace().any(|w| w.starts_with(LIVE_ARG))
        || slot_file().is_some_and(|text| text.trim() == LIVE_SLOT)
}

/// [`is_live_with`] for this board: its `/proc/cmdline` and [`SLOT_FILE`].
pub fn is_live(config: &AgentConfig) -> bool {
    let cmdline = std::fs::read_to_string("/proc/cmdline").unwrap_or_default();
    is_live_with(config, &cmdline, || std::fs::read_to_string(SLOT_FILE).ok())
}

/// The booted slot: `booted=` in the configuration, else `nanolin.slot=` (or RAUC's
/// `rauc.slot=`) on the kernel command line `cmdline`, else what the initramfs wrote in
/// [`SLOT_FILE`] (read only when needed).
pub fn booted_slot(config: &AgentConfig, cmdline: &str) -> Result<BootSlot, AgentError> {
    booted_slot_with(config, cmdline, || std::fs::read_to_string(SLOT_FILE).ok())
}

/// [`booted_slot`], with the text of [`SLOT_FILE`] (or `None` when there is none) from
/// `slot_file`.
pub fn booted_slot_with(
    config: &AgentConfig,
    cmdline: &str,
    slot_file: impl FnOnce() -> Option<String>,
) -> Result<BootSlot, AgentError> {
    if let Some(slot) = config.booted {
        return Ok(slot);
    }
    let from_cmdline = cmdline
        .split_whitespace()
        .find_map(|w| {
            w.strip_prefix("nanolin.slot=")
                .or_else(|| w.strip_prefix("rauc.slot="))
        })
        .and_then(BootSlot::from_name);
    if let Some(slot) = from_cmdline {
        return Ok(slot);
    }
    match slot_file() {
        Some(text) if text.trim() == LIVE_SLOT => Err(AgentError::Config(LIVE_NO_SLOT.into())),
        Some(text) => BootSlot::from_name(text.trim()).ok_or_else(|| {
            AgentError::Config(format!(
                "{SLOT_FILE} says {:?}, not A or B: the initramfs wrote it wrong; set booted= in agent.conf meanwhile",
                text.trim()
            ))
        }),
        None => Err(AgentError::Config(format!(
            "cannot tell which slot is booted: the bootloader should add nanolin.slot=A (or B) to the kernel command line, or the initramfs write {SLOT_FILE}, or set booted= in agent.conf"
        ))),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
