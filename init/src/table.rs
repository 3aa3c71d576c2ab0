//! Every service init knows: names first (the files in the services folder), then each
//! definition, then the check for dependency cycles.
//!
//! Names are declared before any file is read, so a `needs=` entry is resolved to a service
//! index as its file is parsed and no dependency name is ever stored. All storage is fixed:
//! a [`ServiceTable`] is meant to live in a `static`, zero-initialised, so only the pages it
//! uses count against PID 1's memory.

use nanolin_core::keyvalue::{Assignment, ExpandError, Item, Parser, Position, Value};

use crate::limits::{
    MAX_DEPENDENCIES, MAX_ENVIRONMENT, MAX_SERVICES, SERVICE_FILE_MAX_LEN, STRINGS_LEN,
    VALUE_MAX_LEN,
};
use crate::service::{
    is_valid_name, DependencyRange, Kind, Readiness, Restart, ServiceDef, ServiceError,
    ServiceErrorKind, ServiceId, ShortName,
};
use crate::strings::{StrRef, Strings};

/// Slots of the name index: a power of two, twice the services, so probes stay short.
const INDEX_SLOTS: usize = 2 * MAX_SERVICES;

/// Longest enumerated value (`kind=`, `ready=`, …) read.
const WORD_MAX_LEN: usize = 32;

/// What is known of a service's definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Definition {
    /// Declared; its file is not read yet.
    Pending,
    /// Read and valid.
    Valid(ServiceDef),
    /// Its file is broken; the service never starts.
    Invalid,
    /// Its file was removed (by a reload); the service is stopped and never starts.
    Removed,
}

/// One service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// Its name.
    pub name: StrRef,
    /// Its definition.
    pub definition: Definition,
    /// It depends on itself through other services; it never starts.
    pub in_cycle: bool,
    /// Hash of the file text last read, so a reload reads only files that changed.
    pub text_hash: u32,
}

/// Every service, its definition and its dependencies.
pub struct ServiceTable {
    strings: Strings<STRINGS_LEN>,
    entries: heapless::Vec<Entry, MAX_SERVICES>,
    edges: heapless::Vec<ServiceId, MAX_DEPENDENCIES>,
    /// Open-addressing hash index of names: slot holds id + 1, 0 when free.
    index: [u16; INDEX_SLOTS],
}

impl Default for ServiceTable {
    fn default() -> Self {
        Self::new()
    }
}

/// FNV-1a: short names and small files, no attacker (the files are the board's own).
fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}

fn hash(name: &str) -> usize {
    fnv1a(name.as_bytes()) as usize
}

/// The settings of a service file, as bits, to refuse one given twice.
#[derive(Clone, Copy)]
enum Setting {
    Run = 1 << 0,
    Needs = 1 << 1,
    After = 1 << 2,
    Kind = 1 << 3,
    Ready = 1 << 4,
    Restart = 1 << 5,
    User = 1 << 6,
    Health = 1 << 7,
    Directory = 1 << 8,
}

impl Setting {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "run" => Setting::Run,
            "needs" => Setting::Needs,
            "after" => Setting::After,
            "kind" => Setting::Kind,
            "ready" => Setting::Ready,
            "restart" => Setting::Restart,
            "user" => Setting::User,
            "health" => Setting::Health,
            "directory" => Setting::Directory,
            _ => return None,
        })
    }
}

/// Expands `value` (which may not use variables) into `buf`, at most [`VALUE_MAX_LEN`] bytes.
fn expand<'b>(value: &Value<'_>, buf: &'b mut [u8], at: Position) -> Result<&'b str, ServiceError> {
    let limit = buf.len().min(VALUE_MAX_LEN);
    let buf = buf.get_mut(..limit).unwrap_or(&mut []);
    let text = value.expand_into(buf, |_| None).map_err(|e| {
        let kind = match e {
            ExpandError::UnknownVariable(_) => ServiceErrorKind::Variable,
            ExpandError::TooLong { capacity } if capacity < VALUE_MAX_LEN => {
                ServiceErrorKind::OutOfStringSpace
            }
            ExpandError::TooLong { .. } => ServiceErrorKind::ValueTooLong,
        };
        ServiceError::at(at, kind)
    })?;
    // A NUL byte cannot pass through execve(2), and it ends environment entries here.
    if text.contains('\0') {
        return Err(ServiceError::at(at, ServiceErrorKind::NulByte));
    }
    Ok(text)
}

/// A definition being read.
struct Draft {
    def: ServiceDef,
    seen: u16,
}

impl ServiceTable {
    /// An empty table (all zero: place it in a `static`).
    pub const fn new() -> Self {
        ServiceTable {
            strings: Strings::new(),
            entries: heapless::Vec::new(),
            edges: heapless::Vec::new(),
            index: [0; INDEX_SLOTS],
        }
    }

    /// Number of services.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no service is declared.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The service `id`.
    pub fn entry(&self, id: ServiceId) -> Option<&Entry> {
        self.entries.get(usize::from(id))
    }

    /// The valid definition of `id`.
    pub fn definition(&self, id: ServiceId) -> Option<&ServiceDef> {
        match &self.entry(id)?.definition {
            Definition::Valid(def) => Some(def),
            _ => None,
        }
    }

    /// The name of `id`.
    pub fn name(&self, id: ServiceId) -> &str {
        self.entry(id).map_or("", |e| self.strings.get(e.name))
    }

    /// A stored string.
    pub fn string(&self, r: StrRef) -> &str {
        self.strings.get(r)
    }

    /// The services in a dependency range.
    pub fn dependencies(&self, range: DependencyRange) -> &[ServiceId] {
        self.edges.get(range.indexes()).unwrap_or(&[])
    }

    /// Every service id.
    pub fn ids(&self) -> impl Iterator<Item = ServiceId> {
        (0..self.entries.len()).map(|i| i as ServiceId)
    }

    /// The service called `name`.
    pub fn find(&self, name: &str) -> Option<ServiceId> {
        let mask = INDEX_SLOTS - 1;
        let mut slot = hash(name) & mask;
        for _ in 0..INDEX_SLOTS {
            let stored = *self.index.get(slot)?;
            if stored == 0 {
                return None;
            }
            let id = stored - 1;
            if self.name(id) == name {
                return Some(id);
            }
            slot = (slot + 1) & mask;
        }
        None
    }

    /// Declares a service by name (its file is read later by [`define`](Self::define)).
    pub fn declare(&mut self, name: &str) -> Result<ServiceId, ServiceError> {
        if !is_valid_name(name) {
            return Err(ServiceError::whole(ServiceErrorKind::InvalidName));
        }
        if self.find(name).is_some() {
            return Err(ServiceError::whole(ServiceErrorKind::DuplicateName));
        }
        if self.entries.is_full() {
            return Err(ServiceError::whole(ServiceErrorKind::TooManyServices));
        }
        let stored = self
            .strings
            .push(name)
            .map_err(|_| ServiceError::whole(ServiceErrorKind::OutOfStringSpace))?;
        let id = self.entries.len() as ServiceId;
        let entry = Entry {
            name: stored,
            definition: Definition::Pending,
            in_cycle: false,
            text_hash: 0,
        };
        if self.entries.push(entry).is_err() {
            return Err(ServiceError::whole(ServiceErrorKind::TooManyServices));
        }
        let mask = INDEX_SLOTS - 1;
        let mut slot = hash(name) & mask;
        while let Some(stored) = self.index.get_mut(slot) {
            if *stored == 0 {
                *stored = id + 1;
                break;
            }
            slot = (slot + 1) & mask;
        }
        Ok(id)
    }

    /// Reads the definition of `id` from its file's text. On error the service is marked
    /// invalid (it never starts) and nothing of the file is kept.
    pub fn define(&mut self, id: ServiceId, text: &str) -> Result<(), ServiceError> {
        self.read_definition(id, text, false)
    }

    /// Reads `id`'s file again (a reload). Unchanged text is not read twice. On error a valid
    /// definition is kept as it was, so a bad edit does not take a running service down.
    /// Returns whether the definition changed.
    pub fn redefine(&mut self, id: ServiceId, text: &str) -> Result<bool, ServiceError> {
        let entry = self.entry(id).copied();
        let unchanged = entry.is_some_and(|e| {
            e.text_hash == fnv1a(text.as_bytes())
                && !matches!(e.definition, Definition::Removed | Definition::Pending)
        });
        if unchanged {
            return Ok(false);
        }
        self.read_definition(id, text, true).map(|()| true)
    }

    /// Marks `id`'s file as removed: it never starts again (until its file comes back).
    pub fn remove(&mut self, id: ServiceId) {
        if let Some(entry) = self.entries.get_mut(usize::from(id)) {
            entry.definition = Definition::Removed;
            entry.text_hash = 0;
        }
    }

    fn read_definition(
        &mut self,
        id: ServiceId,
        text: &str,
        keep_valid: bool,
    ) -> Result<(), ServiceError> {
        let (strings_mark, edges_mark) = (self.strings.len(), self.edges.len());
        let result = if text.len() > SERVICE_FILE_MAX_LEN {
            Err(ServiceError::whole(ServiceErrorKind::FileTooLarge))
        } else {
            self.parse(id, text)
        };
        let Some(entry) = self.entries.get_mut(usize::from(id)) else {
            return result.map(|_| ());
        };
        match result {
            Ok(def) => {
                entry.definition = Definition::Valid(def);
                entry.text_hash = fnv1a(text.as_bytes());
            }
            Err(_) => {
                self.strings.truncate(strings_mark);
                self.edges.truncate(edges_mark);
                if !(keep_valid && matches!(entry.definition, Definition::Valid(_))) {
                    entry.definition = Definition::Invalid;
                }
            }
        }
        result.map(|_| ())
    }

    fn parse(&mut self, id: ServiceId, text: &str) -> Result<ServiceDef, ServiceError> {
        let mut draft = Draft {
            def: ServiceDef {
                name: self.entry(id).map(|e| e.name).unwrap_or_default(),
                run: StrRef::default(),
                directory: None,
                user: None,
                environment: StrRef::default(),
                environment_len: 0,
                kind: Kind::Longrun,
                ready: Readiness::Immediate,
                restart: Restart::Always,
                health_required: false,
                needs: DependencyRange::default(),
                after: DependencyRange::default(),
                needs_line: 0,
                after_line: 0,
            },
            seen: 0,
        };
        let mut ready_at = None;
        for item in Parser::new(text) {
            let a = match item {
                Ok(Item::Assignment(a)) => a,
                Ok(Item::Function { position, .. }) => {
                    return Err(ServiceError::at(position, ServiceErrorKind::UnknownSetting))
                }
                Err(e) => {
                    return Err(ServiceError::at(
                        e.position,
                        ServiceErrorKind::Syntax(e.kind),
                    ))
                }
            };
            if a.exported {
                continue;
            }
            if a.name == "ready" {
                ready_at = Some(a.position);
            }
            self.setting(id, &a, &mut draft)?;
        }
        let def = &mut draft.def;
        if def.run.is_empty() {
            return Err(ServiceError::whole(ServiceErrorKind::MissingRun));
        }
        if draft.seen & Setting::Restart as u16 == 0 && def.kind == Kind::Oneshot {
            def.restart = Restart::Never;
        }
        if let (Kind::Oneshot, Readiness::Fd(_) | Readiness::Notify, Some(at)) =
            (def.kind, def.ready, ready_at)
        {
            return Err(ServiceError::at(
                at,
                ServiceErrorKind::InvalidValue {
                    setting: "ready",
                    expected: "none for a oneshot (it is up once it exits 0)",
                },
            ));
        }
        // The environment, last, so its entries lie together.
        let mut environment = self
            .strings
            .push("")
            .map_err(|_| ServiceError::whole(ServiceErrorKind::OutOfStringSpace))?;
        for item in Parser::new(text) {
            let Ok(Item::Assignment(a)) = item else {
                continue;
            };
            if !a.exported {
                continue;
            }
            if usize::from(draft.def.environment_len) >= MAX_ENVIRONMENT {
                return Err(ServiceError::at(
                    a.position,
                    ServiceErrorKind::TooManyVariables,
                ));
            }
            let mut buf = [0u8; VALUE_MAX_LEN];
            let value = expand(&a.value, &mut buf, a.position)?;
            let space = |_| ServiceError::at(a.position, ServiceErrorKind::OutOfStringSpace);
            for part in [a.name, "=", value, "\0"] {
                environment = self.strings.extend(environment, part).map_err(space)?;
            }
            draft.def.environment_len += 1;
        }
        draft.def.environment = environment;
        Ok(draft.def)
    }

    fn setting(
        &mut self,
        id: ServiceId,
        a: &Assignment<'_>,
        draft: &mut Draft,
    ) -> Result<(), ServiceError> {
        let at = a.position;
        let setting = Setting::from_name(a.name)
            .ok_or(ServiceError::at(at, ServiceErrorKind::UnknownSetting))?;
        if draft.seen & setting as u16 != 0 {
            return Err(ServiceError::at(at, ServiceErrorKind::RepeatedSetting));
        }
        draft.seen |= setting as u16;
        let invalid = |setting, expected| {
            ServiceError::at(at, ServiceErrorKind::InvalidValue { setting, expected })
        };
        let def = &mut draft.def;
        match setting {
            Setting::Run | Setting::User | Setting::Directory => {
                let stored = self
                    .strings
                    .push_with(|buf| expand(&a.value, buf, at).map(str::len))?;
                match setting {
                    Setting::Run => {
                        if self.strings.get(stored).trim().is_empty() {
                            return Err(ServiceError::at(at, ServiceErrorKind::MissingRun));
                        }
                        def.run = stored;
                    }
                    Setting::User if !stored.is_empty() => def.user = Some(stored),
                    Setting::Directory if self.strings.get(stored).starts_with('/') => {
                        def.directory = Some(stored)
                    }
                    Setting::Directory => return Err(invalid("directory", "an absolute path")),
                    _ => return Err(invalid("user", "a user name or uid[:gid]")),
                }
            }
            Setting::Needs | Setting::After => {
                let range = self.dependencies_of(id, a)?;
                if matches!(setting, Setting::Needs) {
                    (def.needs, def.needs_line) = (range, at.line);
                } else {
                    (def.after, def.after_line) = (range, at.line);
                }
            }
            Setting::Kind | Setting::Ready | Setting::Restart | Setting::Health => {
                let mut buf = [0u8; WORD_MAX_LEN];
                let word = expand(&a.value, &mut buf, at).map_err(|e| match e.kind {
                    ServiceErrorKind::OutOfStringSpace => {
                        ServiceError::at(at, ServiceErrorKind::ValueTooLong)
                    }
                    _ => e,
                })?;
                match setting {
                    Setting::Kind => {
                        def.kind = Kind::parse(word).ok_or(invalid("kind", "longrun or oneshot"))?
                    }
                    Setting::Ready => {
                        def.ready = Readiness::parse(word).ok_or(invalid(
                            "ready",
                            "none, notify, or fd:N with N from 3 to 63",
                        ))?
                    }
                    Setting::Restart => {
                        def.restart = Restart::parse(word)
                            .ok_or(invalid("restart", "always, on-failure or never"))?
                    }
                    _ => {
                        def.health_required = match word {
                            "required" => true,
                            "none" => false,
                            _ => return Err(invalid("health", "required or none")),
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Resolves the names of a `needs=` or `after=` value. Unknown names are an error for
    /// `needs` and ignored for `after` (ordering applies only to services that exist).
    fn dependencies_of(
        &mut self,
        id: ServiceId,
        a: &Assignment<'_>,
    ) -> Result<DependencyRange, ServiceError> {
        let at = a.position;
        let mut buf = [0u8; VALUE_MAX_LEN];
        let names = expand(&a.value, &mut buf, at)?;
        let start = self.edges.len();
        for name in names.split_ascii_whitespace() {
            let target = match self.find(name) {
                Some(target) => target,
                None if a.name == "after" => continue,
                None => {
                    return Err(ServiceError::at(
                        at,
                        ServiceErrorKind::UnknownService(ShortName::new(name)),
                    ))
                }
            };
            if target == id {
                return Err(ServiceError::at(at, ServiceErrorKind::NeedsItself));
            }
            if self.edges.push(target).is_err() {
                return Err(ServiceError::at(at, ServiceErrorKind::TooManyDependencies));
            }
        }
        Ok(DependencyRange {
            start: start as u16,
            len: (self.edges.len() - start) as u16,
        })
    }

    /// All dependencies of `id`, hard and ordering.
    pub fn all_dependencies(&self, id: ServiceId) -> impl Iterator<Item = ServiceId> + '_ {
        let def = self.definition(id).copied();
        let needs = def.map(|d| self.dependencies(d.needs)).unwrap_or(&[]);
        let after = def.map(|d| self.dependencies(d.after)).unwrap_or(&[]);
        needs.iter().chain(after).copied()
    }

    /// Finds the services that depend on themselves through others, marks them, and reports
    /// each cycle once, as the list of its services in order.
    pub fn mark_cycles(&mut self, mut report: impl FnMut(&Self, &[ServiceId])) {
        let n = self.entries.len();
        for entry in self.entries.iter_mut() {
            entry.in_cycle = false;
        }
        let mut ordered = Bits::new();
        // Repeatedly take every service whose dependencies are all taken: what is never taken
        // lies on a cycle or behind one.
        let mut progress = true;
        while progress {
            progress = false;
            for id in self.ids() {
                if !ordered.get(id) && self.all_dependencies(id).all(|d| ordered.get(d)) {
                    ordered.set(id);
                    progress = true;
                }
            }
        }
        let mut reported = Bits::new();
        let mut path = [0 as ServiceId; MAX_SERVICES];
        for start in 0..n as ServiceId {
            if ordered.get(start) || reported.get(start) {
                continue;
            }
            // Walk unordered dependencies until a service repeats: that loop is a cycle.
            let mut len = 0;
            let mut current = start;
            let cycle_start = loop {
                if let Some(at) = path
                    .get(..len)
                    .and_then(|p| p.iter().position(|&s| s == current))
                {
                    break Some(at);
                }
                if reported.get(current) {
                    break None;
                }
                let Some(slot) = path.get_mut(len) else {
                    break None;
                };
                *slot = current;
                len += 1;
                match self.all_dependencies(current).find(|&d| !ordered.get(d)) {
                    Some(next) => current = next,
                    None => break None,
                }
            };
            for &id in path.get(..len).unwrap_or(&[]) {
                reported.set(id);
            }
            if let Some(cycle) = cycle_start.and_then(|at| path.get(at..len)) {
                for &id in cycle {
                    if let Some(entry) = self.entries.get_mut(usize::from(id)) {
                        entry.in_cycle = true;
                    }
                }
                report(self, cycle);
            }
        }
    }
}

/// A set of service ids.
struct Bits([u64; MAX_SERVICES / 64]);

impl Bits {
    fn new() -> Self {
        Bits([0; MAX_SERVICES / 64])
    }

    fn get(&self, id: ServiceId) -> bool {
        let i = usize::from(id);
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set(&mut self, id: ServiceId) {
        let i = usize::from(id);
        if let Some(w) = self.0.get_mut(i / 64) {
            *w |= 1 << (i % 64);
        }
    }
}
