//! Where the boot state lives: one trait, a backend per bootloader.
//!
//! - [`UbootStore`]: U-Boot's environment, as `fw_env.config` locates it; with two copies each
//!   write goes to the older copy, so one valid copy exists at every instant.
//! - [`GrubStore`]: GRUB's environment block file, replaced in one step (rename).
//! - [`NativeStore`]: Nanolin's two-copy record with CRC, for boards where `init` picks the
//!   slot.
//!
//! Every write is read back and checked before the call returns.

use std::path::Path;

use nanolin_core::boot_record;
use nanolin_core::boot_state::BootState;
use nanolin_core::grub_env::{self, GrubEnv};
use nanolin_core::limits::GRUB_ENV_LEN;
use nanolin_core::uboot_env::{self, EnvCopy, Layout};

use crate::config::{AgentConfig, BootStateConfig, EnvLocation};
use crate::error::AgentError;
use crate::storage::{Access, Disk};

/// Reads and writes the boot state.
pub trait BootStateStore {
    /// The state as the bootloader will read it.
    fn load(&mut self) -> Result<BootState, AgentError>;
    /// Stores `state`; power loss during the call leaves the old or the new state.
    fn store(&mut self, state: &BootState) -> Result<(), AgentError>;
    /// A name for messages.
    fn describe(&self) -> String;
}

fn io_error<'p>(
    action: &'static str,
    path: &'p Path,
) -> impl FnOnce(std::io::Error) -> AgentError + 'p {
    move |e| AgentError::io(action, path, e)
}

/// The backend `config` names.
pub fn open_store<'d>(config: &AgentConfig, disk: &'d dyn Disk) -> Box<dyn BootStateStore + 'd> {
    match &config.bootstate {
        BootStateConfig::Uboot { primary, redundant } => Box::new(UbootStore {
            disk,
            copies: match redundant {
                Some(r) => vec![primary.clone(), r.clone()],
                None => vec![primary.clone()],
            },
            default_tries: config.tries,
        }),
        BootStateConfig::Grub { path } => Box::new(GrubStore {
            disk,
            path: path.clone(),
            default_tries: config.tries,
        }),
        BootStateConfig::Native { path, offset } => Box::new(NativeStore {
            disk,
            path: path.clone(),
            offset: *offset,
            default_tries: config.tries,
        }),
    }
}

/// The state stored in variables looked up by `get`: RAUC's boot scripts set defaults when
/// the variables are missing (`A B`, full tries), and so do we.
fn state_from_vars<'a>(
    get: impl Fn(&str) -> Option<&'a str>,
    default_tries: u8,
    origin: &str,
) -> Result<BootState, AgentError> {
    if get("BOOT_ORDER").is_none() {
        return Ok(BootState::new(default_tries));
    }
    let fill = |name: &str| get(name).or_else(|| name.starts_with("BOOT_").then_some("0"));
    BootState::from_vars(fill).map_err(|e| AgentError::BootState(format!("{origin}: {e}")))
}

/// The current copy of an environment: its index, its flag, its variables.
type CurrentCopy = (usize, Option<u8>, Vec<(String, String)>);

/// U-Boot's environment.
pub struct UbootStore<'d> {
    disk: &'d dyn Disk,
    copies: Vec<EnvLocation>,
    default_tries: u8,
}

impl UbootStore<'_> {
    fn layout(&self) -> Layout {
        if self.copies.len() == 2 {
            Layout::Redundant
        } else {
            Layout::Single
        }
    }

    fn read_copies(&self) -> Result<Vec<Vec<u8>>, AgentError> {
        let mut blocks = Vec::new();
        for copy in &self.copies {
            let mut block = vec![0u8; copy.size];
            let mut dev = self
                .disk
                .open(&copy.path, Access::Read)
                .map_err(io_error("open", &copy.path))?;
            dev.read_at(copy.offset, &mut block)
                .map_err(io_error("read", &copy.path))?;
            blocks.push(block);
        }
        Ok(blocks)
    }

    /// The current copy's index and its variables.
    fn current(&self) -> Result<CurrentCopy, AgentError> {
        let blocks = self.read_copies()?;
        let layout = self.layout();
        let parsed: Vec<_> = blocks.iter().map(|b| EnvCopy::parse(b, layout)).collect();
        let index = match parsed.as_slice() {
            [one] => one.as_ref().map(|_| 0).map_err(|e| *e),
            [a, b] => uboot_env::current(a, b).ok_or(uboot_env::UbootEnvError::NotTerminated),
            _ => Err(uboot_env::UbootEnvError::NotTerminated),
        };
        // No valid copy: U-Boot boots with its default environment, and its boot script sets
        // the slot variables' defaults; so do we, and the next write makes a valid copy.
        let Ok(index) = index else {
            let last = self.copies.len().saturating_sub(1);
            return Ok((last, None, Vec::new()));
        };
        let copy = parsed
            .get(index)
            .and_then(|p| p.as_ref().ok())
            .ok_or_else(|| AgentError::BootState("no valid copy".into()))?;
        let vars = copy
            .vars()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        Ok((index, copy.flag, vars))
    }
}

impl BootStateStore for UbootStore<'_> {
    fn load(&mut self) -> Result<BootState, AgentError> {
        let (_, _, vars) = self.current()?;
        let get = |name: &str| {
            vars.iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        state_from_vars(get, self.default_tries, &self.describe())
    }

    fn store(&mut self, state: &BootState) -> Result<(), AgentError> {
        let (index, flag, mut vars) = self.current()?;
        let order = state.order_text();
        let mut digits = [0u8; 2];
        for (name, value) in state.to_vars(&order, &mut digits) {
            match vars.iter_mut().find(|(n, _)| n == name) {
                Some(slot) => slot.1 = value.to_string(),
                None => vars.push((name.to_string(), value.to_string())),
            }
        }
        let layout = self.layout();
        // With two copies, write the one that is not current, one flag step newer.
        let target = if self.copies.len() == 2 { 1 - index } else { 0 };
        let copy = self
            .copies
            .get(target)
            .ok_or_else(|| AgentError::BootState("no copy to write".into()))?;
        let mut block = vec![0u8; copy.size];
        uboot_env::emit(
            vars.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            layout,
            flag.unwrap_or(0).wrapping_add(1),
            &mut block,
        )
        .map_err(|e| AgentError::BootState(format!("{}: {e}", self.describe())))?;
        let mut dev = self
            .disk
            .open(&copy.path, Access::Write)
            .map_err(io_error("open", &copy.path))?;
        dev.write_at(copy.offset, &block)
            .map_err(io_error("write", &copy.path))?;
        dev.sync().map_err(io_error("sync", &copy.path))?;
        drop(dev);
        let back = self.load()?;
        if back != *state {
            return Err(AgentError::BootState(format!(
                "{}: the environment read back differs from what was written",
                self.describe()
            )));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        let places: Vec<String> = self
            .copies
            .iter()
            .map(|c| format!("{} {:#x} {:#x}", c.path.display(), c.offset, c.size))
            .collect();
        format!("U-Boot environment ({})", places.join(", "))
    }
}

/// GRUB's environment block file.
pub struct GrubStore<'d> {
    disk: &'d dyn Disk,
    path: std::path::PathBuf,
    default_tries: u8,
}

/// Nanolin's own two-copy record.
pub struct NativeStore<'d> {
    disk: &'d dyn Disk,
    path: std::path::PathBuf,
    offset: u64,
    default_tries: u8,
}

impl BootStateStore for GrubStore<'_> {
    fn load(&mut self) -> Result<BootState, AgentError> {
        let bytes = self
            .disk
            .read_file(&self.path)
            .map_err(io_error("read", &self.path))?;
        let Some(bytes) = bytes else {
            return Ok(BootState::new(self.default_tries));
        };
        let env = GrubEnv::parse(&bytes)
            .map_err(|e| AgentError::BootState(format!("{}: {e}", self.describe())))?;
        let vars: Vec<(String, String)> = env
            .vars()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        let get = |name: &str| {
            vars.iter()
                .rev()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        state_from_vars(get, self.default_tries, &self.describe())
    }

    fn store(&mut self, state: &BootState) -> Result<(), AgentError> {
        let old = self
            .disk
            .read_file(&self.path)
            .map_err(io_error("read", &self.path))?;
        let mut vars: Vec<(String, String)> = match &old {
            Some(bytes) => GrubEnv::parse(bytes)
                .map(|env| {
                    env.vars()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let order = state.order_text();
        let mut digits = [0u8; 2];
        for (name, value) in state.to_vars(&order, &mut digits) {
            vars.retain(|(n, _)| n != name);
            vars.push((name.to_string(), value.to_string()));
        }
        // Keep the file's size (GRUB writes it in place, by its block list).
        let len = old
            .as_ref()
            .map_or(GRUB_ENV_LEN, |b| b.len().max(GRUB_ENV_LEN));
        let mut block = vec![0u8; len];
        grub_env::emit(
            vars.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            &mut block,
        )
        .map_err(|e| AgentError::BootState(format!("{}: {e}", self.describe())))?;
        self.disk
            .replace_file(&self.path, &block)
            .map_err(io_error("write", &self.path))?;
        if self.load()? != *state {
            return Err(AgentError::BootState(format!(
                "{}: the environment read back differs from what was written",
                self.describe()
            )));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("GRUB environment block {}", self.path.display())
    }
}

impl NativeStore<'_> {
    fn region(&self) -> Result<Vec<u8>, AgentError> {
        let mut region = vec![0u8; boot_record::REGION_LEN];
        let mut dev = self
            .disk
            .open(&self.path, Access::Read)
            .map_err(io_error("open", &self.path))?;
        dev.read_at(self.offset, &mut region)
            .map_err(io_error("read", &self.path))?;
        Ok(region)
    }
}

impl BootStateStore for NativeStore<'_> {
    fn load(&mut self) -> Result<BootState, AgentError> {
        // A region with no valid copy is a board never set up: init boots A, then B.
        Ok(boot_record::read(&self.region()?)
            .map(|(record, _)| record.state)
            .unwrap_or(BootState::new(self.default_tries)))
    }

    fn store(&mut self, state: &BootState) -> Result<(), AgentError> {
        let region = self.region()?;
        let (index, copy) = boot_record::next_write(&region, state);
        let mut dev = self
            .disk
            .open(&self.path, Access::Write)
            .map_err(io_error("open", &self.path))?;
        let at = self.offset + (index * boot_record::COPY_LEN) as u64;
        dev.write_at(at, &copy)
            .map_err(io_error("write", &self.path))?;
        dev.sync().map_err(io_error("sync", &self.path))?;
        drop(dev);
        if self.load()? != *state {
            return Err(AgentError::BootState(format!(
                "{}: the record read back differs from what was written",
                self.describe()
            )));
        }
        Ok(())
    }

    fn describe(&self) -> String {
        format!("boot record {} at {:#x}", self.path.display(), self.offset)
    }
}
