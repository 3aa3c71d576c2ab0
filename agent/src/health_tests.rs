//! Unit tests of `health`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

/// What `init ctl status` answers, as init writes it.
const ANSWER: &str = "agent                    up (pid 41, 3 s)\n\
                      app                      starting (pid 44, 120 ms)\n\
                      hello                    done; last exit: exit status 0\n\
                      web                      failed: exit status 1\n\
                      db                       not started: needs disk, which cannot start\n\
                      network                  restarting in 500 ms\n\
                      \x1e0\n";

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn states_in_inits_words_are_up_pending_or_failed() {
    let states = parse_status(ANSWER);
    assert_eq!(states.len(), 6);
    assert_eq!(states[0], ("agent".into(), ServiceHealth::Up));
    assert_eq!(
        states[1],
        (
            "app".into(),
            ServiceHealth::Pending("starting (pid 44, 120 ms)".into())
        )
    );
    assert_eq!(states[2].1, ServiceHealth::Up);
    assert_eq!(
        states[3].1,
        ServiceHealth::Failed("failed: exit status 1".into())
    );
    assert!(matches!(states[4].1, ServiceHealth::Failed(_)));
    assert!(matches!(states[5].1, ServiceHealth::Pending(_)));
    assert!(matches!(
        ServiceHealth::from_state("removed: its file is gone"),
        ServiceHealth::Failed(_)
    ));
    assert!(matches!(
        ServiceHealth::from_state("waiting for its dependencies"),
        ServiceHealth::Pending(_)
    ));
}

#[test]
fn text_after_the_record_separator_and_odd_lines_are_ignored() {
    assert!(parse_status("").is_empty());
    assert!(parse_status("\x1e3\n").is_empty());
    assert!(parse_status("lonely\n\x1e0\n").is_empty());
    let states = parse_status("a up (pid 1, 0 s)\n\x1e0\nb failed\n");
    assert_eq!(states, vec![("a".into(), ServiceHealth::Up)]);
}

#[test]
fn healthy_when_every_required_service_is_up() {
    let verdict = wait_healthy(&names(&["agent", "hello"]), Duration::from_secs(5), || {
        Ok(ANSWER.to_string())
    });
    assert!(matches!(verdict, Verdict::Healthy(_)));
    let none = wait_healthy(&[], Duration::ZERO, || Ok(String::new()));
    assert!(matches!(none, Verdict::Healthy(_)));
}

#[test]
fn a_failed_service_ends_the_wait_at_once_and_is_named() {
    let start = Instant::now();
    let verdict = wait_healthy(&names(&["agent", "web"]), Duration::from_secs(60), || {
        Ok(ANSWER.to_string())
    });
    assert_eq!(
        verdict,
        Verdict::Unhealthy("web failed: exit status 1".into())
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_service_that_comes_up_late_is_waited_for() {
    let mut asked = 0;
    let verdict = wait_healthy(&names(&["app"]), Duration::from_secs(30), || {
        asked += 1;
        Ok(if asked < 3 {
            "app starting (pid 4, 10 ms)\n\x1e0\n".to_string()
        } else {
            "app up (pid 4, 1 s)\n\x1e0\n".to_string()
        })
    });
    assert!(matches!(verdict, Verdict::Healthy(_)));
    assert_eq!(asked, 3);
}

#[test]
fn the_deadline_names_what_was_still_pending() {
    let verdict = wait_healthy(
        &names(&["app", "ghost"]),
        Duration::from_millis(300),
        || Ok(ANSWER.to_string()),
    );
    let Verdict::Unhealthy(why) = verdict else {
        panic!("healthy past the deadline")
    };
    assert!(why.starts_with("not up within 0 s"), "{why}");
    assert!(why.contains("app starting (pid 44, 120 ms)"), "{why}");
    assert!(why.contains("ghost unknown to init"), "{why}");
}

#[test]
fn an_init_that_does_not_answer_is_pending_until_the_deadline() {
    let verdict = wait_healthy(&names(&["app"]), Duration::from_millis(300), || {
        Err(AgentError::Download("no".into()))
    });
    let Verdict::Unhealthy(why) = verdict else {
        panic!("healthy without init")
    };
    assert!(why.contains("init did not answer"), "{why}");
}

#[test]
fn required_services_are_read_from_the_service_files() {
    let dir = std::env::temp_dir().join(format!("nanolin-health-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("web"), "run=/bin/web\nhealth=required\n").unwrap();
    std::fs::write(dir.join("db"), "run=/bin/db\nhealth=\"required\"\n").unwrap();
    std::fs::write(dir.join("log"), "run=/bin/log\nhealth=none\n").unwrap();
    std::fs::write(dir.join("plain"), "run=/bin/plain\n").unwrap();
    std::fs::write(dir.join("broken"), "run=\"/bin/x\nhealth=required\n").unwrap();
    std::fs::write(dir.join(".hidden"), "health=required\n").unwrap();
    let found = required_services(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found, names(&["db", "web"]));
    assert!(matches!(
        required_services(Path::new("/nonexistent/services")),
        Err(AgentError::Io { .. })
    ));
}

#[test]
fn init_is_asked_over_its_control_socket() {
    let dir = std::env::temp_dir().join(format!("nanolin-ctl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let socket = dir.join("init.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = [0u8; 7];
        stream.read_exact(&mut request).unwrap();
        assert_eq!(&request, b"status\n");
        stream.write_all(ANSWER.as_bytes()).unwrap();
        // init keeps the connection open a moment: the separator must end the read.
        std::thread::sleep(Duration::from_millis(200));
    });
    let answer = query_init(&socket, Duration::from_secs(5)).unwrap();
    server.join().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(answer, ANSWER);
}
