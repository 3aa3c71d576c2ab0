//! `nanolin`: maps the library's result to an exit code, and nothing else.

use std::process::ExitCode;

use clap::Parser;
use nanolin_host::cli::{Cli, Command};
use nanolin_host::cmd;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Key(command) => cmd::key::run(command),
        Command::Sign(args) => cmd::sign::run(args),
        Command::Verify(args) => cmd::verify::run(args),
        Command::Bundle(command) => cmd::bundle::run(command),
        Command::Package(command) => cmd::package::run(command),
        Command::Distro(command) => cmd::distro::run(command),
        Command::Release(command) => cmd::release::run(command),
        Command::Repo(command) => cmd::repo::run(command),
    };
    let status = result.unwrap_or_else(|e| {
        eprintln!("nanolin: {e}");
        e.status()
    });
    ExitCode::from(status as u8)
}
