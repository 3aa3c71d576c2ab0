//! The service model, dependency graph and supervision state machine, driven as the binary
//! drives them, with a simulated clock and simulated processes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use nanolin_init::limits::{
    MAX_RAPID_FAILURES, RESTART_DELAY_FIRST_MS, STABLE_UPTIME_MS, STOP_GRACE_MS,
};
use nanolin_init::service::{Kind, Readiness, Restart, ServiceErrorKind, ServiceId};
use nanolin_init::supervisor::{
    Blocker, Decision, ExitStatus, Failure, Kill, Pid, State, Supervisor,
};
use nanolin_init::table::ServiceTable;

/// A table and a supervisor, with processes and time simulated.
struct Sim {
    table: Box<ServiceTable>,
    sup: Box<Supervisor>,
    now: u64,
    next_pid: Pid,
    /// Services in the order they were started.
    started: Vec<String>,
    blocked: Vec<(String, Blocker)>,
    cycles: Vec<Vec<String>>,
}

impl Sim {
    /// Services from (name, file text) pairs; files that fail are kept as invalid.
    fn new(files: &[(&str, &str)]) -> (Self, Vec<(String, nanolin_init::service::ServiceError)>) {
        let mut table = Box::new(ServiceTable::new());
        for (name, _) in files {
            table.declare(name).unwrap();
        }
        let mut errors = Vec::new();
        for (name, text) in files {
            let id = table.find(name).unwrap();
            if let Err(e) = table.define(id, text) {
                errors.push((name.to_string(), e));
            }
        }
        let mut cycles = Vec::new();
        table.mark_cycles(|t, cycle| {
            cycles.push(cycle.iter().map(|&id| t.name(id).to_string()).collect())
        });
        let mut sup = Box::new(Supervisor::new());
        sup.sync(&table);
        let sim = Sim {
            table,
            sup,
            now: 1_000,
            next_pid: 100,
            started: vec![],
            blocked: vec![],
            cycles,
        };
        (sim, errors)
    }

    fn ok(files: &[(&str, &str)]) -> Self {
        let (sim, errors) = Self::new(files);
        assert!(
            errors.is_empty(),
            "{} errors, first {:?}",
            errors.len(),
            errors.first()
        );
        sim
    }

    fn id(&self, name: &str) -> ServiceId {
        self.table.find(name).unwrap()
    }

    fn state(&self, name: &str) -> State {
        self.sup.report(self.id(name)).unwrap().state
    }

    fn pid(&self, name: &str) -> Pid {
        self.state(name).pid().unwrap()
    }

    /// Runs every decision the supervisor has.
    fn settle(&mut self) {
        while let Some(decision) = self.sup.next(&self.table) {
            match decision {
                Decision::Start(id) => {
                    self.started.push(self.table.name(id).to_string());
                    self.next_pid += 1;
                    self.sup.started(id, self.next_pid, self.now);
                    self.sup.executed(&self.table, id);
                }
                Decision::Blocked(id, why) => {
                    self.blocked.push((self.table.name(id).to_string(), why))
                }
            }
        }
    }

    fn exit(&mut self, name: &str, status: ExitStatus) -> State {
        let pid = self.pid(name);
        let exit = self.sup.exited(&self.table, pid, status, self.now).unwrap();
        self.settle();
        exit.state
    }

    fn advance(&mut self, ms: u64) -> Vec<Kill> {
        self.now += ms;
        let mut kills = vec![];
        self.sup.tick(self.now, |k| kills.push(k));
        self.settle();
        kills
    }

    fn position(&self, name: &str) -> usize {
        self.started
            .iter()
            .position(|s| s == name)
            .unwrap_or_else(|| panic!("{name} never started"))
    }
}

#[test]
fn reads_every_setting() {
    let sim = Sim::ok(&[
        ("network", "run=/sbin/net\nkind=oneshot\n"),
        ("syslog", "run=/sbin/syslogd\n"),
        (
            "agent",
            "# the update agent\nrun='/usr/bin/nanolin-agent daemon --interval 60'\nneeds=network\n\
             after=\"syslog absent\"\nready=fd:3\nrestart=on-failure\nuser=agent:agent\nhealth=required\n\
             directory=/var/lib/agent\nexport RUST_LOG=info\nexport GREETING=\"hello world\"\n",
        ),
    ]);
    let t = &sim.table;
    let def = t.definition(t.find("agent").unwrap()).unwrap();
    assert_eq!(
        t.string(def.run),
        "/usr/bin/nanolin-agent daemon --interval 60"
    );
    assert_eq!(t.dependencies(def.needs), [t.find("network").unwrap()]);
    // `after=` names that do not exist are ignored: ordering applies to services that exist.
    assert_eq!(t.dependencies(def.after), [t.find("syslog").unwrap()]);
    assert_eq!(
        (def.kind, def.ready, def.restart, def.health_required),
        (Kind::Longrun, Readiness::Fd(3), Restart::OnFailure, true)
    );
    assert_eq!(t.string(def.user.unwrap()), "agent:agent");
    assert_eq!(t.string(def.directory.unwrap()), "/var/lib/agent");
    assert_eq!(
        t.string(def.environment),
        "RUST_LOG=info\0GREETING=hello world\0"
    );
    assert_eq!(def.environment_len, 2);
    let net = t.definition(t.find("network").unwrap()).unwrap();
    assert_eq!((net.kind, net.restart), (Kind::Oneshot, Restart::Never));
}

#[test]
fn faults_are_named_with_their_place() {
    let cases: &[(&str, u32, ServiceErrorKind)] = &[
        ("run=x\nrunn=y\n", 2, ServiceErrorKind::UnknownSetting),
        ("run=x\nrun=y\n", 2, ServiceErrorKind::RepeatedSetting),
        (
            "run=x\nkind=daemon\n",
            2,
            ServiceErrorKind::InvalidValue {
                setting: "kind",
                expected: "longrun or oneshot",
            },
        ),
        (
            "run=x\nready=fd:1\n",
            2,
            ServiceErrorKind::InvalidValue {
                setting: "ready",
                expected: "none, notify, or fd:N with N from 3 to 63",
            },
        ),
        (
            "run=x\nrestart=sometimes\n",
            2,
            ServiceErrorKind::InvalidValue {
                setting: "restart",
                expected: "always, on-failure or never",
            },
        ),
        (
            "run=x\nhealth=maybe\n",
            2,
            ServiceErrorKind::InvalidValue {
                setting: "health",
                expected: "required or none",
            },
        ),
        (
            "run=x\ndirectory=relative\n",
            2,
            ServiceErrorKind::InvalidValue {
                setting: "directory",
                expected: "an absolute path",
            },
        ),
        ("run=\"$HOME/bin\"\n", 1, ServiceErrorKind::Variable),
        ("run=\"  \"\n", 1, ServiceErrorKind::MissingRun),
        (
            "run=x\nstart() {\n  x\n}\n",
            2,
            ServiceErrorKind::UnknownSetting,
        ),
        ("run=x\nneeds=self\n", 2, ServiceErrorKind::NeedsItself),
        // Found by the fuzzer: a NUL would end an environment entry early.
        ("run=x\nexport A=\"b\0c\"\n", 2, ServiceErrorKind::NulByte),
        (
            "run=x\nkind=oneshot\nready=notify\n",
            3,
            ServiceErrorKind::InvalidValue {
                setting: "ready",
                expected: "none for a oneshot (it is up once it exits 0)",
            },
        ),
        (
            "run=x\nneeds='a b\n",
            2,
            ServiceErrorKind::Syntax(nanolin_core::keyvalue::SyntaxErrorKind::UnterminatedQuote(
                '\'',
            )),
        ),
    ];
    for (text, line, kind) in cases {
        let (_, errors) = Sim::new(&[("self", text)]);
        let (_, e) = &errors[0];
        assert_eq!(
            (e.position.map(|p| p.line), e.kind),
            (Some(*line), *kind),
            "{text:?}"
        );
        assert!(!e.to_string().is_empty());
    }
    let (_, errors) = Sim::new(&[("svc", "kind=oneshot\n")]);
    assert_eq!(errors[0].1.kind, ServiceErrorKind::MissingRun);
    let (_, errors) = Sim::new(&[("svc", "run=x\nneeds=\"ghost\"\n")]);
    assert_eq!(
        errors[0].1.to_string(),
        "line 2, column 1: needs `ghost`, but no service of that name exists"
    );
}

#[test]
fn bad_names_and_duplicates_are_refused() {
    let mut table = Box::new(ServiceTable::new());
    for bad in ["", ".hidden", "has space", "slash/x", &"x".repeat(65)] {
        assert_eq!(
            table.declare(bad).unwrap_err().kind,
            ServiceErrorKind::InvalidName,
            "{bad:?}"
        );
    }
    table.declare("getty@tty1").unwrap();
    assert_eq!(
        table.declare("getty@tty1").unwrap_err().kind,
        ServiceErrorKind::DuplicateName
    );
}

#[test]
fn a_broken_file_keeps_nothing_and_the_rest_comes_up() {
    let (mut sim, errors) = Sim::new(&[
        ("good", "run=/bin/good\n"),
        ("broken", "run=/bin/broken\nneeds=good\nkind=bogus\n"),
        ("after-broken", "run=/bin/x\nneeds=broken\n"),
    ]);
    assert_eq!(errors.len(), 1);
    sim.settle();
    assert!(matches!(sim.state("good"), State::Up { .. }));
    assert_eq!(
        sim.state("broken"),
        State::Blocked(Blocker::InvalidDefinition)
    );
    assert_eq!(
        sim.state("after-broken"),
        State::Blocked(Blocker::Dependency(sim.id("broken")))
    );
}

#[test]
fn a_diamond_starts_in_order_and_in_parallel() {
    let mut sim = Sim::ok(&[
        ("d", "run=d\nneeds=\"b c\"\n"),
        ("b", "run=b\nneeds=a\nready=fd:3\n"),
        ("c", "run=c\nneeds=a\nready=notify\n"),
        ("a", "run=a\nkind=oneshot\n"),
    ]);
    sim.settle();
    assert_eq!(sim.started, ["a"]);
    sim.exit("a", ExitStatus::Code(0));
    // b and c start together, before either is ready.
    assert_eq!(sim.started, ["a", "b", "c"]);
    assert!(matches!(sim.state("b"), State::Starting { .. }));
    sim.sup.ready(sim.id("b"));
    sim.settle();
    assert_eq!(sim.started.len(), 3, "d must wait for c too");
    sim.sup.ready(sim.id("c"));
    sim.settle();
    assert_eq!(sim.started, ["a", "b", "c", "d"]);
    assert!(matches!(sim.state("d"), State::Up { .. }));
}

#[test]
fn cycles_are_reported_once_and_the_rest_comes_up() {
    let (mut sim, errors) = Sim::new(&[
        ("x", "run=x\nneeds=y\n"),
        ("y", "run=y\nafter=z\n"),
        ("z", "run=z\nneeds=x\n"),
        ("w", "run=w\nneeds=x\n"),
        ("free", "run=free\n"),
    ]);
    assert!(errors.is_empty());
    assert_eq!(sim.cycles.len(), 1, "{:?}", sim.cycles);
    let mut cycle = sim.cycles[0].clone();
    cycle.sort();
    assert_eq!(cycle, ["x", "y", "z"]);
    sim.settle();
    assert_eq!(sim.started, ["free"]);
    assert_eq!(sim.state("x"), State::Blocked(Blocker::Cycle));
    assert_eq!(
        sim.state("w"),
        State::Blocked(Blocker::Dependency(sim.id("x")))
    );
}

#[test]
fn a_failed_dependency_blocks_needs_but_not_after() {
    let mut sim = Sim::ok(&[
        ("db", "run=db\nrestart=never\nready=fd:3\n"),
        ("app", "run=app\nneeds=db\n"),
        ("web", "run=web\nneeds=app\n"),
        ("backup", "run=backup\nafter=db\n"),
    ]);
    sim.settle();
    assert_eq!(sim.started, ["db"]);
    let state = sim.exit("db", ExitStatus::Code(1));
    assert_eq!(state, State::Failed(Failure::Exited(ExitStatus::Code(1))));
    assert_eq!(
        sim.state("app"),
        State::Blocked(Blocker::Dependency(sim.id("db")))
    );
    assert_eq!(
        sim.state("web"),
        State::Blocked(Blocker::Dependency(sim.id("app")))
    );
    assert!(matches!(sim.state("backup"), State::Up { .. }));
    assert_eq!(sim.blocked.len(), 2);
}

#[test]
fn crashes_back_off_exponentially_then_give_up() {
    let mut sim = Sim::ok(&[("flaky", "run=flaky\n")]);
    sim.settle();
    // The first crash is restarted at once.
    assert_eq!(sim.exit("flaky", ExitStatus::Signal(11)), State::Waiting);
    assert!(matches!(sim.state("flaky"), State::Up { .. }));
    assert_eq!(sim.started.len(), 2);
    let mut delay = u64::from(RESTART_DELAY_FIRST_MS);
    for crash in 2..MAX_RAPID_FAILURES {
        let state = sim.exit("flaky", ExitStatus::Signal(11));
        assert_eq!(
            state,
            State::Backoff {
                until: sim.now + delay
            },
            "crash {crash}"
        );
        assert_eq!(sim.sup.next_deadline(), Some(sim.now + delay));
        sim.advance(delay - 1);
        assert!(matches!(sim.state("flaky"), State::Backoff { .. }));
        sim.advance(1);
        assert!(
            matches!(sim.state("flaky"), State::Up { .. }),
            "restarted after {delay} ms"
        );
        delay *= 2;
    }
    let state = sim.exit("flaky", ExitStatus::Signal(11));
    assert_eq!(
        state,
        State::Failed(Failure::CrashLoop(ExitStatus::Signal(11)))
    );
    assert_eq!(
        sim.sup.report(sim.id("flaky")).unwrap().starts,
        u32::from(MAX_RAPID_FAILURES)
    );
    // An operator's start gives it a fresh chance.
    assert!(sim.sup.start(sim.id("flaky")));
    sim.settle();
    assert!(matches!(sim.state("flaky"), State::Up { .. }));
}

#[test]
fn a_service_that_ran_long_enough_starts_over() {
    let mut sim = Sim::ok(&[("steady", "run=steady\n")]);
    sim.settle();
    for _ in 0..10 {
        sim.advance(STABLE_UPTIME_MS);
        // Each crash after a good run counts as a first crash: restarted at once.
        assert_eq!(sim.exit("steady", ExitStatus::Code(1)), State::Waiting);
        assert!(matches!(sim.state("steady"), State::Up { .. }));
    }
    assert_eq!(sim.started.len(), 11);
    assert!(matches!(sim.state("steady"), State::Up { .. }));
}

#[test]
fn restart_policies() {
    let mut sim = Sim::ok(&[
        ("never", "run=a\nrestart=never\n"),
        ("onfail", "run=b\nrestart=on-failure\n"),
        ("once", "run=c\nkind=oneshot\n"),
        ("retry", "run=d\nkind=oneshot\nrestart=on-failure\n"),
    ]);
    sim.settle();
    assert_eq!(sim.exit("never", ExitStatus::Code(0)), State::Done);
    assert_eq!(sim.exit("onfail", ExitStatus::Code(0)), State::Done);
    assert_eq!(
        sim.exit("once", ExitStatus::Code(3)),
        State::Failed(Failure::Exited(ExitStatus::Code(3)))
    );
    assert!(matches!(
        sim.exit("retry", ExitStatus::Code(3)),
        State::Waiting
    ));
}

#[test]
fn stop_sends_term_then_kill_after_the_grace() {
    let mut sim = Sim::ok(&[("svc", "run=svc\n")]);
    sim.settle();
    let pid = sim.pid("svc");
    assert_eq!(
        sim.sup.stop(sim.id("svc"), false, sim.now),
        Some(Kill::Term(pid))
    );
    assert_eq!(sim.advance(STOP_GRACE_MS - 1), []);
    assert_eq!(sim.advance(1), [Kill::Kill(pid)]);
    assert_eq!(sim.advance(STOP_GRACE_MS), [], "SIGKILL is sent once");
    assert_eq!(sim.exit("svc", ExitStatus::Signal(9)), State::Stopped);
    assert_eq!(sim.started.len(), 1, "a stopped service stays down");
    // A restart brings it back at once.
    assert!(sim.sup.start(sim.id("svc")));
    sim.settle();
    let pid = sim.pid("svc");
    assert_eq!(
        sim.sup.stop(sim.id("svc"), true, sim.now),
        Some(Kill::Term(pid))
    );
    assert_eq!(sim.exit("svc", ExitStatus::Signal(15)), State::Waiting);
    assert_eq!(sim.started.len(), 3);
}

#[test]
fn orphans_are_not_services() {
    let mut sim = Sim::ok(&[("svc", "run=svc\n")]);
    sim.settle();
    assert!(sim
        .sup
        .exited(&sim.table, 4242, ExitStatus::Code(0), sim.now)
        .is_none());
}

#[test]
fn a_thousand_services_in_layers_come_up_in_order() {
    // 40 layers of 25: each service needs every service of the layer below.
    let names: Vec<String> = (0..1000)
        .map(|i| format!("s{}-{}", i / 25, i % 25))
        .collect();
    let texts: Vec<String> = (0..1000)
        .map(|i| {
            let layer = i / 25;
            if layer == 0 {
                "run=/bin/true\n".to_string()
            } else {
                let below: Vec<&str> = names[(layer - 1) * 25..layer * 25]
                    .iter()
                    .map(String::as_str)
                    .collect();
                format!("run=/bin/true\nneeds=\"{}\"\nready=fd:3\n", below.join(" "))
            }
        })
        .collect();
    // Declared in reverse, so the order owes nothing to the file order.
    let files: Vec<(&str, &str)> = names
        .iter()
        .zip(&texts)
        .rev()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let mut sim = Sim::ok(&files);
    sim.settle();
    for layer in 1..40 {
        let ids: Vec<ServiceId> = (0..25).map(|i| sim.id(&names[layer * 25 + i])).collect();
        for &id in &ids {
            sim.sup.ready(id);
        }
        sim.settle();
    }
    assert_eq!(sim.started.len(), 1000);
    for (i, name) in names.iter().enumerate().skip(25) {
        let layer = i / 25;
        for below in &names[(layer - 1) * 25..layer * 25] {
            assert!(
                sim.position(below) < sim.position(name),
                "{below} before {name}"
            );
        }
    }
}

#[test]
fn a_thousand_service_chain_resolves() {
    let names: Vec<String> = (0..1000).map(|i| format!("c{i}")).collect();
    let texts: Vec<String> = (0..1000)
        .map(|i| {
            if i == 0 {
                "run=x\n".into()
            } else {
                format!("run=x\nneeds={}\n", names[i - 1])
            }
        })
        .collect();
    let files: Vec<(&str, &str)> = names
        .iter()
        .zip(&texts)
        .rev()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let mut sim = Sim::ok(&files);
    assert!(sim.cycles.is_empty());
    sim.settle();
    assert_eq!(sim.started, names);
}

#[test]
fn memory_per_service_is_small() {
    // The table and the supervisor are reserved once; this reports their fixed sizes.
    let table = std::mem::size_of::<ServiceTable>();
    let supervisor = std::mem::size_of::<Supervisor>();
    println!("ServiceTable {table} bytes, Supervisor {supervisor} bytes");
    assert!(table + supervisor <= 512 * 1024, "{table} + {supervisor}");
}

#[test]
fn shutdown_stops_dependents_first() {
    let mut sim = Sim::ok(&[
        ("base", "run=base\n"),
        ("mid", "run=mid\nneeds=base\n"),
        ("top", "run=top\nafter=mid\n"),
        ("flaky", "run=flaky\n"),
    ]);
    sim.settle();
    assert_eq!(sim.started.len(), 4);
    sim.sup.shut_down();
    let mut stopped = vec![];
    let mut step = |sim: &mut Sim| {
        let mut kills = vec![];
        let done = sim.sup.shutdown_step(&sim.table, sim.now, |id, k| {
            kills.push((sim.table.name(id).to_string(), k))
        });
        for (name, _) in &kills {
            stopped.push(name.clone());
        }
        (done, kills)
    };
    let (done, kills) = step(&mut sim);
    assert!(!done);
    let first: Vec<&str> = kills.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(first, ["top", "flaky"]);
    // A crash during shutdown is not restarted.
    assert_eq!(sim.exit("flaky", ExitStatus::Signal(15)), State::Stopped);
    sim.exit("top", ExitStatus::Code(0));
    let (_, kills) = step(&mut sim);
    assert_eq!(
        kills.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["mid"]
    );
    sim.exit("mid", ExitStatus::Code(0));
    let (_, kills) = step(&mut sim);
    assert_eq!(
        kills.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        ["base"]
    );
    sim.exit("base", ExitStatus::Code(0));
    assert!(step(&mut sim).0);
    assert_eq!(sim.started.len(), 4, "nothing started during shutdown");
}

#[test]
fn reload_adds_removes_mends_and_keeps_what_runs() {
    let (mut sim, errors) = Sim::new(&[
        ("keep", "run=keep\n"),
        ("gone", "run=gone\n"),
        ("mended", "run=m\nkind=bogus\n"),
        ("needs-new", "run=x\nafter=keep\n"),
    ]);
    assert_eq!(errors.len(), 1);
    sim.settle();
    let keep_pid = sim.pid("keep");
    let gone_pid = sim.pid("gone");
    let strings_before = sim
        .table
        .string(sim.table.definition(sim.id("keep")).unwrap().run)
        .to_string();

    // The reload: "fresh" appears, "gone" disappears, "mended" is fixed, "keep" is unchanged.
    let fresh = sim.table.declare("fresh").unwrap();
    sim.table.define(fresh, "run=fresh\nneeds=keep\n").unwrap();
    assert!(
        !sim.table.redefine(sim.id("keep"), "run=keep\n").unwrap(),
        "unchanged text is not read again"
    );
    assert!(sim.table.redefine(sim.id("mended"), "run=m\n").unwrap());
    // A bad edit of a valid service keeps the old definition.
    assert!(sim
        .table
        .redefine(sim.id("needs-new"), "run=x\nkind=bogus\n")
        .is_err());
    assert!(sim.table.definition(sim.id("needs-new")).is_some());
    let gone = sim.id("gone");
    sim.table.remove(gone);
    sim.table.mark_cycles(|_, _| {});
    let mut kills = vec![];
    sim.sup.refresh(&sim.table, sim.now, |k| kills.push(k));
    assert_eq!(kills, [Kill::Term(gone_pid)]);
    sim.settle();
    assert_eq!(
        sim.exit("gone", ExitStatus::Signal(15)),
        State::Blocked(Blocker::Removed)
    );
    assert_eq!(
        sim.pid("keep"),
        keep_pid,
        "an unchanged service keeps running"
    );
    assert!(matches!(sim.state("fresh"), State::Up { .. }));
    assert!(matches!(sim.state("mended"), State::Up { .. }));
    assert_eq!(
        sim.table
            .string(sim.table.definition(sim.id("keep")).unwrap().run),
        strings_before
    );
    // A removed service does not start again, even when asked.
    sim.sup.start(gone);
    sim.settle();
    assert_eq!(sim.state("gone"), State::Blocked(Blocker::Removed));
    // Its file comes back: it starts again.
    sim.table.redefine(gone, "run=gone\n").unwrap();
    sim.sup.refresh(&sim.table, sim.now, |_| {});
    sim.settle();
    assert!(matches!(sim.state("gone"), State::Up { .. }));
}
