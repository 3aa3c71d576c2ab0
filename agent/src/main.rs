//! `nanolin-agent`: maps each command's result to an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use nanolin_agent::check::check_file;

const USAGE: &str = "\
usage: nanolin-agent verify -p KEY.pub [-x SIGFILE] FILE

Verifies FILE against its signify or minisign signature (default FILE.sig), streaming it
through a fixed 64 KiB buffer.

Exit codes: 0 success, 1 no (verification failed), 2 usage error, 3 system failure.";

fn usage(problem: &str) -> ExitCode {
    eprintln!("nanolin-agent: {problem}\n{USAGE}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args_os().skip(1);
    match args.next().as_ref().and_then(|a| a.to_str()) {
        Some("verify") => {}
        Some("--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("--version" | "-V") => {
            println!("nanolin-agent {}", env!("CARGO_PKG_VERSION"));
            return ExitCode::SUCCESS;
        }
        Some(other) => return usage(&format!("unknown command {other:?}")),
        None => return usage("no command given"),
    }
    let (mut key, mut sig, mut file) = (None, None, None);
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("-p") => key = args.next().map(PathBuf::from),
            Some("-x") => sig = args.next().map(PathBuf::from),
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
            eprintln!("nanolin-agent: {}: {e}", file.display());
            ExitCode::from(e.status())
        }
    }
}
