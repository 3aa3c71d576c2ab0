//! `nanolin-agent`: reads the command line, runs one command, maps its result to an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use nanolin_agent::bootstate::open_store;
use nanolin_agent::check::check_file;
use nanolin_agent::commands::{
    self, booted, install_from, jitter, mark, now, poll, CommitOutcome, PollOutcome,
};
use nanolin_agent::config::{is_live, AgentConfig, DEFAULT_CONFIG_PATH};
use nanolin_agent::error::AgentError;
use nanolin_agent::health::{
    health_file, note_verdict, query_init, required_services, wait_for_verdict, wait_healthy,
};
use nanolin_agent::install::{InstallOptions, InstallReport};
use nanolin_agent::say;
use nanolin_agent::state_lock::StateLock;
use nanolin_agent::status::Status;
use nanolin_agent::storage::RealDisk;
use nanolin_core::boot_state::BootSlot;

const USAGE: &str = "\
usage: nanolin-agent [-c CONFIG] COMMAND
  status [--json]              booted slot, each slot's release and state, the last result
  install [--no-delta] [--allow-downgrade] FILE|URL
                               verify a bundle and write it to the slot not booted; that slot
                               boots next, with `tries=` tries
  mark-good [A|B]              the slot (default: booted) is healthy: keep booting it
  mark-bad [A|B]               the slot failed: the bootloader skips it
  commit [--no-reboot]         wait for the services marked health=required, then mark the
                               booted slot good; a new release that fails is marked bad and
                               the board reboots into the other slot
  activate [--kexec]           start the slot that boots next: run reboot_command (default
                               `reboot`), or with --kexec load that slot's /boot/vmlinuz and
                               /boot/initrd.img and have init start it without a firmware reboot
  poll                         check the channel once; install its release if newer
  daemon                       poll every poll_interval (plus up to poll_jitter), run
                               reboot_command after an install (activate=kexec: kexec)
  verify -p KEY.pub [-x SIG] FILE
                               check a signed file through a fixed 64 KiB buffer

CONFIG defaults to $NANOLIN_AGENT_CONFIG, else /etc/nanolin/agent.conf (key=value):
  compatible slot_a slot_b [slot_a_NAME slot_b_NAME] bootstate=uboot|grub|native
  uboot_env uboot_env_redundant bootstate_path bootstate_offset keys repository channel
  poll_interval poll_jitter tries state_dir booted ca_file reboot_command timeout
  activate=reboot|kexec
  health_deadline services_dir control_socket

On a live system (booted from the release's ISO: no slot) status says live, commit has
nothing to do, daemon idles, and the commands that need a slot refuse.

Exit codes: 0 success, 1 no (update refused, nothing to update, verification failed),
2 usage error, 3 system failure.";

fn usage(problem: &str) -> ExitCode {
    say!("nanolin-agent: {problem}\n{USAGE}");
    ExitCode::from(2)
}

fn fail(e: &AgentError) -> ExitCode {
    say!("nanolin-agent: {e}");
    ExitCode::from(e.status())
}

fn main() -> ExitCode {
    let mut args: Vec<String> = Vec::new();
    for arg in std::env::args_os().skip(1) {
        match arg.into_string() {
            Ok(a) => args.push(a),
            Err(a) => return usage(&format!("argument {a:?} is not UTF-8")),
        }
    }
    let mut config_path = std::env::var("NANOLIN_AGENT_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(DEFAULT_CONFIG_PATH));
    if args.first().map(String::as_str) == Some("-c") {
        match args.get(1) {
            Some(path) => config_path = PathBuf::from(path),
            None => return usage("-c needs a configuration file"),
        }
        args.drain(..2);
    }
    let Some(command) = args.first().cloned() else {
        return usage("no command given");
    };
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    match command.as_str() {
        "--help" | "-h" | "help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        "--version" | "-V" => {
            println!("nanolin-agent {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        "verify" => return verify(&rest),
        _ => {}
    }
    let config = match AgentConfig::load(&config_path) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    // One agent at a time on the status record and boot state; `commit` and `daemon` take the
    // lock themselves, only around their changes.
    let _lock = match command.as_str() {
        "status" | "install" | "mark-good" | "mark-bad" | "poll" | "activate" => {
            match StateLock::acquire(&config.state_dir) {
                Ok(lock) => Some(lock),
                Err(e) => return fail(&e),
            }
        }
        _ => None,
    };
    let result = match command.as_str() {
        "status" => status(&config, &rest),
        "install" => install_command(&config, &rest),
        "mark-good" | "mark-bad" => mark_command(&config, &rest, command == "mark-good"),
        "poll" => poll_command(&config, &rest),
        "activate" => activate_command(&config, &rest),
        "commit" => commit_command(&config, &rest),
        "daemon" => daemon(&config, &rest),
        other => return usage(&format!("unknown command {other:?}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn options(flags: &[&str]) -> InstallOptions {
    InstallOptions {
        allow_downgrade: flags.contains(&"--allow-downgrade"),
        delta: !flags.contains(&"--no-delta"),
        now: now(),
        progress: true,
    }
}

fn describe(report: &InstallReport) -> String {
    format!(
        "installed {} into slot {}: {} bytes in {:.2} s, {} bytes fetched from the bundle, {} reused ({} in place, {} from the running slot); it boots next",
        report.version,
        report.slot.map(|s| s.name()).unwrap_or("?"),
        report.image_bytes,
        report.seconds,
        report.downloaded,
        report.reused(),
        report.reused_in_place,
        report.reused_from_running
    )
}

fn install_command(config: &AgentConfig, args: &[&str]) -> Result<(), AgentError> {
    let (flags, locations): (Vec<&str>, Vec<&str>) = args.iter().partition(|a| a.starts_with("--"));
    if let Some(bad) = flags
        .iter()
        .find(|f| !["--no-delta", "--allow-downgrade"].contains(f))
    {
        return Err(AgentError::Usage(format!("install: unknown option {bad}")));
    }
    let [location] = locations.as_slice() else {
        return Err(AgentError::Usage("install takes one FILE or URL".into()));
    };
    let report = install_from(config, &RealDisk, location, &options(&flags))?;
    println!("{}", describe(&report));
    Ok(())
}

fn mark_command(config: &AgentConfig, args: &[&str], good: bool) -> Result<(), AgentError> {
    let slot = match args {
        [] => None,
        [name] => Some(
            BootSlot::from_name(name)
                .ok_or_else(|| AgentError::Usage(format!("{name:?} is not a slot: use A or B")))?,
        ),
        _ => {
            return Err(AgentError::Usage(
                "mark-good and mark-bad take at most one slot".into(),
            ))
        }
    };
    let slot = mark(config, &RealDisk, slot, good)?;
    println!("slot {slot} marked {}", if good { "good" } else { "bad" });
    Ok(())
}

fn commit_command(config: &AgentConfig, args: &[&str]) -> Result<(), AgentError> {
    let reboot = match args {
        [] => true,
        ["--no-reboot"] => false,
        _ => return Err(AgentError::Usage("commit takes only --no-reboot".into())),
    };
    if is_live(config) {
        println!(
            "nothing to commit on a live system: no slot is booted (install it to a disk first)"
        );
        return Ok(());
    }
    // The wait needs no lock: the daemon polls meanwhile, and holds off installing because
    // the booted slot is not yet confirmed.
    let required = required_services(&config.services_dir)?;
    let (socket, timeout) = (config.control_socket.clone(), config.timeout);
    let verdict = wait_healthy(&required, config.health_deadline, || {
        query_init(&socket, timeout)
    });
    let outcome = {
        let _lock = StateLock::acquire(&config.state_dir)?;
        commands::commit(
            config,
            &RealDisk,
            commands::running_release(),
            required.len(),
            verdict,
        )?
    };
    note_verdict(
        &health_file(&config.control_socket),
        match &outcome {
            CommitOutcome::Committed { .. } => "committed",
            CommitOutcome::RolledBack(_) => "rolled back",
            CommitOutcome::Unhealthy(_) => "unhealthy",
        },
    );
    match outcome {
        CommitOutcome::Committed {
            slot,
            waited,
            required,
            first,
        } => {
            println!(
                "slot {slot} committed: {required} required services up in {:.1} s{}",
                waited.as_secs_f64(),
                first
                    .map(|release| format!("; release {release} confirmed"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        CommitOutcome::RolledBack(message) => {
            say!("nanolin-agent: {message}");
            if reboot {
                switch_slots(config);
            }
            Err(AgentError::Unhealthy(message))
        }
        CommitOutcome::Unhealthy(message) => Err(AgentError::Unhealthy(message)),
    }
}

/// After an install or a failed health check: reboots with `reboot_command` when the
/// configuration sets one (else the board switches at its next reboot); a failure is said,
/// not fatal.
fn switch_slots(config: &AgentConfig) {
    if config.reboot_command.is_none() {
        say!("nanolin-agent: reboot_command= is not set: reboot the board to switch slots");
    } else if let Err(e) = commands::reboot(config) {
        say!("nanolin-agent: {e}");
    }
}

fn activate_command(config: &AgentConfig, args: &[&str]) -> Result<(), AgentError> {
    match args {
        [] => commands::reboot(config),
        ["--kexec"] => kexec_now(config),
        _ => Err(AgentError::Usage("activate takes only --kexec".into())),
    }
}

fn kexec_now(config: &AgentConfig) -> Result<(), AgentError> {
    let loaded = nanolin_agent::kexec::activate_kexec(config, &RealDisk)?;
    println!(
        "starting slot {} by kexec ({}), command line: {}",
        loaded.slot, loaded.how, loaded.cmdline
    );
    Ok(())
}

fn poll_command(config: &AgentConfig, args: &[&str]) -> Result<(), AgentError> {
    match poll(config, &RealDisk, &options(args))? {
        PollOutcome::Installed(report) => println!("{}", describe(&report)),
    }
    Ok(())
}

fn daemon(config: &AgentConfig, args: &[&str]) -> Result<(), AgentError> {
    if is_live(config) {
        // Said once; then idle: init restarts a daemon that exits.
        say!(
            "nanolin-agent: a live system installs no updates: install it to a disk first (the \
             ISO's install entry); idling"
        );
        loop {
            std::thread::park();
        }
    }
    // This boot's health check first: an install and its reboot must not cut it short.
    let verdict = health_file(&config.control_socket);
    if !config.health_deadline.is_zero() && !wait_for_verdict(&verdict, config.health_deadline) {
        say!(
            "nanolin-agent: no health check spoke within {} s ({} is missing): polling anyway; \
             run `nanolin-agent commit` at boot, or set health_deadline=0",
            config.health_deadline.as_secs(),
            verdict.display()
        );
    }
    loop {
        let polled = StateLock::acquire(&config.state_dir)
            .and_then(|_lock| poll(config, &RealDisk, &options(args)));
        match polled {
            Ok(PollOutcome::Installed(report)) => {
                println!("{}", describe(&report));
                if config.activate == nanolin_agent::kexec::Activate::Kexec {
                    // kexec takes the try in the boot state on some boards: under the lock.
                    let kexec =
                        StateLock::acquire(&config.state_dir).and_then(|_lock| kexec_now(config));
                    match kexec {
                        Ok(()) => return Ok(()),
                        Err(e) => say!("nanolin-agent: kexec failed, rebooting: {e}"),
                    }
                }
                switch_slots(config);
            }
            Err(AgentError::UpToDate(m)) => say!("nanolin-agent: {m}"),
            Err(e) => say!("nanolin-agent: {e}"),
        }
        std::thread::sleep(config.poll_interval + jitter(config.poll_jitter));
    }
}

fn json_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn status(config: &AgentConfig, args: &[&str]) -> Result<(), AgentError> {
    let json = match args {
        [] => false,
        ["--json"] => true,
        _ => return Err(AgentError::Usage("status takes only --json".into())),
    };
    if is_live(config) {
        if json {
            println!(
                "{{\"board\":{},\"booted\":\"live\",\"live\":true}}",
                json_string(&config.compatible)
            );
        } else {
            println!("board:      {}", config.compatible);
            println!(
                "booted:     live (the root image of the release's ISO; no slot, no updates: \
                 install it to a disk first)"
            );
        }
        return Ok(());
    }
    let disk = RealDisk;
    let booted = booted(config).ok();
    let state = open_store(config, &disk).load()?;
    if let Some(b) = booted {
        commands::note_fallback(config, &disk, &state, b)?;
    }
    let status = Status::load(&disk, &config.state_dir)?;
    let order = state.order_text();
    let version = |slot: BootSlot| status.slot(slot).version.map(|v| v.to_string());
    if json {
        let mut out = String::from("{");
        out.push_str(&format!("\"board\":{},", json_string(&config.compatible)));
        out.push_str(&format!(
            "\"booted\":{},",
            booted.map_or("null".into(), |b| json_string(b.name()))
        ));
        out.push_str(&format!("\"boot_order\":{},", json_string(order.as_str())));
        out.push_str(&format!(
            "\"next_boot\":{},",
            state
                .next_boot()
                .map_or("null".into(), |b| json_string(b.name()))
        ));
        out.push_str("\"slots\":{");
        for (i, slot) in BootSlot::ALL.into_iter().enumerate() {
            let record = status.slot(slot);
            out.push_str(&format!(
                "{}{}:{{\"version\":{},\"state\":{},\"tries_left\":{},\"installed\":{}}}",
                if i > 0 { "," } else { "" },
                json_string(slot.name()),
                version(slot).map_or("null".into(), |v| json_string(&v)),
                json_string(record.condition.name()),
                state.left(slot),
                record.installed.map_or("null".into(), |t| t.to_string())
            ));
        }
        out.push_str("},");
        out.push_str(&format!(
            "\"floor\":{},",
            status
                .floor
                .map_or("null".into(), |v| json_string(&v.to_string()))
        ));
        let failed: Vec<String> = status
            .failed
            .iter()
            .map(|v| json_string(&v.to_string()))
            .collect();
        out.push_str(&format!("\"failed\":[{}],", failed.join(",")));
        match &status.last {
            Some(last) => out.push_str(&format!(
                "\"last\":{{\"version\":{},\"result\":{},\"time\":{},\"downloaded\":{},\"reused\":{}}}",
                json_string(&last.version),
                json_string(&last.result),
                last.time,
                last.downloaded,
                last.reused
            )),
            None => out.push_str("\"last\":null"),
        }
        out.push('}');
        println!("{out}");
        return Ok(());
    }
    println!("board:      {}", config.compatible);
    println!("booted:     {}", booted.map_or("unknown", |b| b.name()));
    println!(
        "boot order: {} (next boot: {})",
        if order.as_str().is_empty() {
            "none"
        } else {
            order.as_str()
        },
        state.next_boot().map_or("none", |b| b.name())
    );
    for slot in BootSlot::ALL {
        let record = status.slot(slot);
        println!(
            "slot {slot}:     {} {}, {} tries left{}",
            version(slot).unwrap_or_else(|| "(no release recorded)".into()),
            record.condition.name(),
            state.left(slot),
            if booted == Some(slot) { ", booted" } else { "" }
        );
    }
    if let Some(floor) = status.floor {
        println!("floor:      {floor}");
    }
    if !status.failed.is_empty() {
        let failed: Vec<String> = status.failed.iter().map(|v| v.to_string()).collect();
        println!("failed:     {}", failed.join(" "));
    }
    if let Some(last) = &status.last {
        println!(
            "last:       {}: {} ({} bytes downloaded, {} reused)",
            last.version, last.result, last.downloaded, last.reused
        );
    }
    Ok(())
}

fn verify(args: &[&str]) -> ExitCode {
    let (mut key, mut sig, mut file) = (None, None, None);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match *arg {
            "-p" => key = args.next().map(PathBuf::from),
            "-x" => sig = args.next().map(PathBuf::from),
            _ if file.is_none() => file = Some(PathBuf::from(arg)),
            _ => return usage("verify takes one FILE"),
        }
    }
    let (Some(key), Some(file)) = (key, file) else {
        return usage("verify needs -p KEY.pub and a FILE");
    };
    let sig = sig.unwrap_or_else(|| {
        let mut name = file.clone().into_os_string();
        name.push(".sig");
        PathBuf::from(name)
    });
    match check_file(&key, &file, &sig) {
        Ok(comment) => {
            println!(
                "{}: OK{}",
                file.display(),
                comment
                    .map(|c| format!(" (trusted comment: {c})"))
                    .unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            say!("nanolin-agent: {}: {e}", file.display());
            ExitCode::from(e.status())
        }
    }
}
