//! The life of every service as a state machine: what to start next, and what each event does.
//!
//! The binary owns the system calls; this module only decides. Its loop is:
//!
//! 1. ask [`Supervisor::next`] for decisions until it has none: start a service (then report
//!    [`Supervisor::started`], and later [`Supervisor::executed`] or
//!    [`Supervisor::spawn_failed`]), or note one that cannot start;
//! 2. wait for events until [`Supervisor::next_deadline`]: report a process exit with
//!    [`Supervisor::exited`], readiness with [`Supervisor::ready`], and the passing of time with
//!    [`Supervisor::tick`].
//!
//! | state     | event                        | next state                                  |
//! |-----------|------------------------------|---------------------------------------------|
//! | Waiting   | needs up, afters settled     | Starting                                    |
//! | Starting  | exec succeeded, `ready=none` | Up                                          |
//! | Waiting   | a need failed or is blocked  | Blocked                                     |
//! | Starting  | ready                        | Up                                          |
//! | Starting  | exit 0 (oneshot)             | Done                                        |
//! | Starting, Up | exit, restart wanted      | Waiting at once the first time, then Backoff; Failed after too many rapid crashes |
//! | Starting, Up | exit, no restart          | Done (status 0) or Failed                   |
//! | Backoff   | delay passed                 | Waiting                                     |
//! | Starting, Up | stop requested            | Stopping (SIGTERM)                          |
//! | Stopping  | grace passed                 | Stopping (SIGKILL)                          |
//! | Stopping  | exit                         | Stopped, or Waiting for a restart           |
//! | Stopped, Failed, Done | start requested  | Waiting                                     |

use crate::limits::{
    MAX_RAPID_FAILURES, MAX_SERVICES, RESTART_DELAY_FIRST_MS, RESTART_DELAY_MAX_MS,
    STABLE_UPTIME_MS, STOP_GRACE_MS,
};
use crate::service::{Kind, Readiness, Restart, ServiceId};
use crate::table::{Definition, ServiceTable};

/// A process id.
pub type Pid = i32;

/// Milliseconds of a monotonic clock.
pub type Millis = u64;

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitStatus {
    /// It exited with this code.
    Code(i32),
    /// A signal killed it.
    Signal(i32),
}

impl ExitStatus {
    /// Exited 0.
    pub fn success(&self) -> bool {
        *self == ExitStatus::Code(0)
    }
}

/// Why a service gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// It exited this way, and its restart policy does not restart it.
    Exited(ExitStatus),
    /// It could not be started: the system's error number.
    SpawnFailed(i32),
    /// It crashed [`MAX_RAPID_FAILURES`] times in a row, each soon after starting.
    CrashLoop(ExitStatus),
}

/// Why a service cannot start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blocker {
    /// Its file is broken.
    InvalidDefinition,
    /// It depends on itself.
    Cycle,
    /// A service it needs failed or is blocked.
    Dependency(ServiceId),
    /// Its file was removed.
    Removed,
}

/// Where a service is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting for its dependencies.
    Waiting,
    /// Running, not ready yet.
    Starting {
        /// Its process.
        pid: Pid,
        /// When it was started.
        since: Millis,
    },
    /// Running and ready.
    Up {
        /// Its process.
        pid: Pid,
        /// When it was started.
        since: Millis,
    },
    /// Finished successfully (a oneshot, or a longrun that exited 0 and is not restarted).
    Done,
    /// Waiting to be restarted after a crash.
    Backoff {
        /// When it starts again.
        until: Millis,
    },
    /// Asked to stop; SIGTERM sent.
    Stopping {
        /// Its process.
        pid: Pid,
        /// When it gets SIGKILL (or got it).
        deadline: Millis,
        /// SIGKILL was sent.
        killed: bool,
        /// Start it again once it is down.
        restart: bool,
    },
    /// Stopped on request.
    Stopped,
    /// Gave up.
    Failed(Failure),
    /// Cannot start.
    Blocked(Blocker),
}

impl State {
    /// The running process, if any.
    pub fn pid(&self) -> Option<Pid> {
        match *self {
            State::Starting { pid, .. } | State::Up { pid, .. } | State::Stopping { pid, .. } => {
                Some(pid)
            }
            _ => None,
        }
    }

    /// Satisfies a `needs=` of another service.
    fn is_up(&self) -> bool {
        matches!(self, State::Up { .. } | State::Done)
    }

    /// No longer holds back a service ordered `after=` it.
    fn is_settled(&self) -> bool {
        matches!(
            self,
            State::Up { .. } | State::Done | State::Stopped | State::Failed(_) | State::Blocked(_)
        )
    }

    /// Will not come up without help.
    fn is_dead(&self) -> bool {
        matches!(self, State::Failed(_) | State::Blocked(_))
    }
}

/// What the supervisor decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Start this service now.
    Start(ServiceId),
    /// This service cannot start, for this reason.
    Blocked(ServiceId, Blocker),
}

/// A signal the binary must send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kill {
    /// SIGTERM, the polite request.
    Term(Pid),
    /// SIGKILL, after the grace period.
    Kill(Pid),
}

/// What a process exit did to its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The service.
    pub id: ServiceId,
    /// How its process ended.
    pub status: ExitStatus,
    /// Its state now.
    pub state: State,
}

/// One service's record.
#[derive(Debug, Clone, Copy)]
struct Runtime {
    state: State,
    /// Rapid crashes in a row.
    crashes: u8,
    /// Next restart delay.
    delay_ms: u32,
    /// How its last process ended.
    last_exit: Option<ExitStatus>,
    /// Times it was started.
    starts: u32,
}

impl Runtime {
    fn new(state: State) -> Self {
        Runtime {
            state,
            crashes: 0,
            delay_ms: RESTART_DELAY_FIRST_MS,
            last_exit: None,
            starts: 0,
        }
    }
}

/// What the supervisor knows of a service, for status reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Its state.
    pub state: State,
    /// How its last process ended.
    pub last_exit: Option<ExitStatus>,
    /// Times it was started.
    pub starts: u32,
}

/// The state of every service.
pub struct Supervisor {
    runtime: heapless::Vec<Runtime, MAX_SERVICES>,
    /// Next service to look at in [`next`](Self::next).
    cursor: usize,
    /// A state changed since the last full pass: another pass may find work.
    dirty: bool,
    /// Everything is being stopped: nothing starts or restarts.
    shutting_down: bool,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    /// No services (place it in a `static`).
    pub const fn new() -> Self {
        Supervisor {
            runtime: heapless::Vec::new(),
            cursor: 0,
            // All zero, so a `static` Supervisor costs no file space; `sync` sets it.
            dirty: false,
            shutting_down: false,
        }
    }

    /// Takes in the services of `table` not known yet.
    pub fn sync(&mut self, table: &ServiceTable) {
        for id in table.ids().skip(self.runtime.len()) {
            let state = match table.entry(id) {
                Some(e) if e.in_cycle => State::Blocked(Blocker::Cycle),
                Some(e) if matches!(e.definition, Definition::Valid(_)) => State::Waiting,
                _ => State::Blocked(Blocker::InvalidDefinition),
            };
            if self.runtime.push(Runtime::new(state)).is_err() {
                break;
            }
        }
        self.dirty = true;
    }

    /// What is known of `id`.
    pub fn report(&self, id: ServiceId) -> Option<Report> {
        self.runtime.get(usize::from(id)).map(|r| Report {
            state: r.state,
            last_exit: r.last_exit,
            starts: r.starts,
        })
    }

    fn state(&self, id: ServiceId) -> State {
        self.runtime
            .get(usize::from(id))
            .map_or(State::Blocked(Blocker::InvalidDefinition), |r| r.state)
    }

    fn set(&mut self, id: ServiceId, state: State) {
        if let Some(r) = self.runtime.get_mut(usize::from(id)) {
            r.state = state;
            self.dirty = true;
        }
    }

    /// Looks at a waiting service: start it, block it, or leave it waiting.
    fn decide(&self, table: &ServiceTable, id: ServiceId) -> Option<Decision> {
        if self.state(id) != State::Waiting {
            return None;
        }
        let def = table.definition(id)?;
        for &need in table.dependencies(def.needs) {
            let state = self.state(need);
            if state.is_dead() {
                return Some(Decision::Blocked(id, Blocker::Dependency(need)));
            }
            if !state.is_up() {
                return None;
            }
        }
        if table
            .dependencies(def.after)
            .iter()
            .all(|&a| self.state(a).is_settled())
        {
            Some(Decision::Start(id))
        } else {
            None
        }
    }

    /// The next decision, or `None` when nothing can change until an event.
    pub fn next(&mut self, table: &ServiceTable) -> Option<Decision> {
        if self.shutting_down {
            return None;
        }
        loop {
            while self.cursor < self.runtime.len() {
                let id = self.cursor as ServiceId;
                self.cursor += 1;
                if let Some(decision) = self.decide(table, id) {
                    if let Decision::Blocked(id, blocker) = decision {
                        self.set(id, State::Blocked(blocker));
                    }
                    return Some(decision);
                }
            }
            if !self.dirty {
                return None;
            }
            self.dirty = false;
            self.cursor = 0;
        }
    }

    /// The service was started as process `pid`; it is up once its program runs
    /// ([`executed`](Self::executed)) and, if it has them, its readiness conditions hold.
    pub fn started(&mut self, id: ServiceId, pid: Pid, now: Millis) {
        if let Some(r) = self.runtime.get_mut(usize::from(id)) {
            r.starts = r.starts.saturating_add(1);
        }
        self.set(id, State::Starting { pid, since: now });
    }

    /// The service's program is running (its exec succeeded): a longrun with `ready=none` is
    /// up from now on.
    pub fn executed(&mut self, table: &ServiceTable, id: ServiceId) {
        let immediate = table
            .definition(id)
            .is_some_and(|d| d.kind == Kind::Longrun && d.ready == Readiness::Immediate);
        if immediate {
            self.ready(id);
        }
    }

    /// Takes over process `pid` of service `id`, started by the init that re-executed into
    /// this one: up, or still waiting for its readiness. (A `ready=none` longrun counts as up:
    /// its exec is long done.)
    pub fn adopt(&mut self, table: &ServiceTable, id: ServiceId, pid: Pid, up: bool, now: Millis) {
        let immediate = table
            .definition(id)
            .is_some_and(|d| d.kind == Kind::Longrun && d.ready == Readiness::Immediate);
        let up = up || immediate;
        if self.state(id) == State::Waiting {
            if let Some(r) = self.runtime.get_mut(usize::from(id)) {
                r.starts = r.starts.saturating_add(1);
            }
            self.set(
                id,
                if up {
                    State::Up { pid, since: now }
                } else {
                    State::Starting { pid, since: now }
                },
            );
        }
    }

    /// The service could not be started (`errno` from the system).
    pub fn spawn_failed(&mut self, id: ServiceId, errno: i32) {
        self.set(id, State::Failed(Failure::SpawnFailed(errno)));
    }

    /// The service said it is ready.
    pub fn ready(&mut self, id: ServiceId) {
        if let State::Starting { pid, since } = self.state(id) {
            self.set(id, State::Up { pid, since });
        }
    }

    /// The service whose process is `pid`.
    pub fn find_pid(&self, pid: Pid) -> Option<ServiceId> {
        self.runtime
            .iter()
            .position(|r| r.state.pid() == Some(pid))
            .map(|i| i as ServiceId)
    }

    /// Process `pid` ended; returns what that did to its service (`None` for an orphan).
    pub fn exited(
        &mut self,
        table: &ServiceTable,
        pid: Pid,
        status: ExitStatus,
        now: Millis,
    ) -> Option<Exit> {
        let id = self.find_pid(pid)?;
        let def = table.definition(id).copied();
        let r = self.runtime.get_mut(usize::from(id))?;
        r.last_exit = Some(status);
        let shutting_down = self.shutting_down;
        let removed = table
            .entry(id)
            .is_some_and(|e| e.definition == Definition::Removed);
        let next = match r.state {
            _ if removed => State::Blocked(Blocker::Removed),
            State::Stopping { restart: true, .. } if !shutting_down => State::Waiting,
            State::Stopping { .. } => State::Stopped,
            State::Starting { since, .. } | State::Up { since, .. } => {
                let (kind, policy) =
                    def.map_or((Kind::Longrun, Restart::Never), |d| (d.kind, d.restart));
                let wanted = match (kind, policy) {
                    (Kind::Oneshot, _) if status.success() => false,
                    (_, Restart::Always) => true,
                    (_, Restart::OnFailure) => !status.success(),
                    (_, Restart::Never) => false,
                };
                if !wanted || shutting_down {
                    if status.success() || shutting_down {
                        State::Done
                    } else {
                        State::Failed(Failure::Exited(status))
                    }
                } else {
                    if now.saturating_sub(since) >= STABLE_UPTIME_MS {
                        r.crashes = 0;
                        r.delay_ms = RESTART_DELAY_FIRST_MS;
                    }
                    r.crashes = r.crashes.saturating_add(1);
                    if r.crashes >= MAX_RAPID_FAILURES {
                        State::Failed(Failure::CrashLoop(status))
                    } else if r.crashes == 1 {
                        // A first crash is restarted at once, as runit and dinit do: only a
                        // service that keeps crashing waits.
                        State::Waiting
                    } else {
                        let until = now + u64::from(r.delay_ms);
                        r.delay_ms = r.delay_ms.saturating_mul(2).min(RESTART_DELAY_MAX_MS);
                        State::Backoff { until }
                    }
                }
            }
            other => other,
        };
        self.set(id, next);
        Some(Exit {
            id,
            status,
            state: next,
        })
    }

    /// Time passed: restarts come due, stopping services past their grace get SIGKILL.
    pub fn tick(&mut self, now: Millis, mut kill: impl FnMut(Kill)) {
        let mut changed = false;
        for r in self.runtime.iter_mut() {
            match r.state {
                State::Backoff { until } if until <= now => {
                    r.state = State::Waiting;
                    changed = true;
                }
                State::Stopping {
                    pid,
                    deadline,
                    killed: false,
                    restart,
                } if deadline <= now => {
                    r.state = State::Stopping {
                        pid,
                        deadline,
                        killed: true,
                        restart,
                    };
                    kill(Kill::Kill(pid));
                }
                _ => {}
            }
        }
        self.dirty |= changed;
    }

    /// The earliest time [`tick`](Self::tick) has work.
    pub fn next_deadline(&self) -> Option<Millis> {
        self.runtime
            .iter()
            .filter_map(|r| match r.state {
                State::Backoff { until } => Some(until),
                State::Stopping {
                    deadline,
                    killed: false,
                    ..
                } => Some(deadline),
                _ => None,
            })
            .min()
    }

    /// Stops `id` (and starts it again after, with `restart`); returns the signal to send.
    pub fn stop(&mut self, id: ServiceId, restart: bool, now: Millis) -> Option<Kill> {
        match self.state(id) {
            State::Starting { pid, .. } | State::Up { pid, .. } => {
                let deadline = now + STOP_GRACE_MS;
                self.set(
                    id,
                    State::Stopping {
                        pid,
                        deadline,
                        killed: false,
                        restart,
                    },
                );
                Some(Kill::Term(pid))
            }
            State::Stopping {
                pid,
                deadline,
                killed,
                ..
            } => {
                self.set(
                    id,
                    State::Stopping {
                        pid,
                        deadline,
                        killed,
                        restart,
                    },
                );
                None
            }
            State::Blocked(_) => None,
            _ => {
                self.set(
                    id,
                    if restart {
                        State::Waiting
                    } else {
                        State::Stopped
                    },
                );
                None
            }
        }
    }

    /// Takes in a reloaded table: new services, removed ones (stopped; `kill` hears the
    /// signals), ones whose files were mended or broken, and the new cycles. Services that
    /// keep running keep their process; a changed definition applies from their next start.
    pub fn refresh(&mut self, table: &ServiceTable, now: Millis, mut kill: impl FnMut(Kill)) {
        self.sync(table);
        for id in table.ids() {
            let Some(entry) = table.entry(id).copied() else {
                continue;
            };
            let state = self.state(id);
            let next = match (entry.definition, entry.in_cycle, state) {
                (Definition::Removed, _, State::Starting { .. } | State::Up { .. }) => {
                    if let Some(signal) = self.stop(id, false, now) {
                        kill(signal);
                    }
                    continue;
                }
                (Definition::Removed, _, State::Stopping { .. }) => continue,
                (Definition::Removed, _, _) => State::Blocked(Blocker::Removed),
                (Definition::Valid(_), true, State::Waiting | State::Blocked(_)) => {
                    State::Blocked(Blocker::Cycle)
                }
                (Definition::Valid(_), false, State::Blocked(_)) => State::Waiting,
                (
                    Definition::Invalid | Definition::Pending,
                    _,
                    State::Waiting | State::Blocked(_),
                ) => State::Blocked(Blocker::InvalidDefinition),
                _ => continue,
            };
            self.set(id, next);
        }
    }

    /// Begins shutting down: from now on nothing starts, and [`shutdown_step`](Self::shutdown_step)
    /// stops services in reverse dependency order.
    pub fn shut_down(&mut self) {
        self.shutting_down = true;
    }

    /// True once [`shut_down`](Self::shut_down) was called.
    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// Stops every running service on which no running service depends; returns true when no
    /// service runs any more.
    pub fn shutdown_step(
        &mut self,
        table: &ServiceTable,
        now: Millis,
        mut kill: impl FnMut(ServiceId, Kill),
    ) -> bool {
        let mut running = false;
        for id in 0..self.runtime.len() as ServiceId {
            let state = self.state(id);
            match state {
                State::Waiting | State::Backoff { .. } => self.set(id, State::Stopped),
                State::Starting { .. } | State::Up { .. } => {
                    running = true;
                    // A service stops only after everything that depends on it is down.
                    let depended_on = table.ids().any(|other| {
                        self.state(other).pid().is_some()
                            && table.all_dependencies(other).any(|d| d == id)
                    });
                    if !depended_on {
                        if let Some(signal) = self.stop(id, false, now) {
                            kill(id, signal);
                        }
                    }
                }
                State::Stopping { .. } => running = true,
                _ => {}
            }
        }
        !running
    }

    /// Starts `id` again if it is stopped, done or failed; returns false if it cannot start.
    pub fn start(&mut self, id: ServiceId) -> bool {
        match self.state(id) {
            State::Stopped | State::Done | State::Failed(_) => {
                if let Some(r) = self.runtime.get_mut(usize::from(id)) {
                    r.crashes = 0;
                    r.delay_ms = RESTART_DELAY_FIRST_MS;
                }
                self.set(id, State::Waiting);
                true
            }
            State::Blocked(_) => false,
            _ => true,
        }
    }
}
