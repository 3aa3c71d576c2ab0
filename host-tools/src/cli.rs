//! The command line, defined once: help, usage errors and completions all come from here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Exit codes, shared by every Nanolin program.
pub const EXIT_CODES: &str = "\
Exit codes: 0 success, 1 no (verification failed, input refused), 2 usage error, 3 system failure.";

/// `nanolin`: build, sign and release purpose-built Linux appliances.
#[derive(Debug, Parser)]
#[command(name = "nanolin", version, about, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage signing keys (signify format).
    #[command(subcommand)]
    Key(KeyCommand),
    /// Sign files; each signature verifies with signify and with minisign.
    Sign(SignArgs),
    /// Verify files against signify or minisign signatures.
    Verify(VerifyArgs),
}

/// `nanolin key …`
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate an Ed25519 key pair in signify format.
    Generate(GenerateArgs),
}

/// `nanolin key generate`
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Public key file to create.
    #[arg(short = 'p', long = "public-key", value_name = "KEY.pub")]
    pub public_key: PathBuf,
    /// Secret key file to create (mode 0600).
    #[arg(short = 's', long = "secret-key", value_name = "KEY.sec")]
    pub secret_key: PathBuf,
    /// Store the secret key without a passphrase.
    #[arg(
        short = 'n',
        long = "no-passphrase",
        conflicts_with = "passphrase_file"
    )]
    pub no_passphrase: bool,
    /// Comment: the files say "COMMENT public key" and "COMMENT secret key".
    #[arg(short = 'c', long, default_value = "signify")]
    pub comment: String,
    /// Read the passphrase from the first line of FILE instead of the terminal.
    #[arg(long, value_name = "FILE", env = "NANOLIN_PASSPHRASE_FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// `nanolin sign`
#[derive(Debug, Args)]
pub struct SignArgs {
    /// Secret key (signify's or minisign's).
    #[arg(
        short = 's',
        long = "secret-key",
        value_name = "KEY.sec",
        env = "NANOLIN_KEY"
    )]
    pub secret_key: Option<PathBuf>,
    /// Signature file to write (default: FILE.sig); only with a single FILE.
    #[arg(short = 'x', long = "signature", value_name = "SIGFILE")]
    pub signature: Option<PathBuf>,
    /// Trusted (signed) comment (default: "timestamp:SECONDS<TAB>file:NAME", the time from
    /// SOURCE_DATE_EPOCH when set).
    #[arg(short = 't', long = "trusted-comment", value_name = "TEXT")]
    pub trusted_comment: Option<String>,
    /// Untrusted comment (default: "verify with KEY.pub").
    #[arg(short = 'c', long)]
    pub comment: Option<String>,
    /// Read the passphrase from the first line of FILE instead of the terminal.
    #[arg(long, value_name = "FILE", env = "NANOLIN_PASSPHRASE_FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Files to sign.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `nanolin verify`
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Public key (signify's or minisign's).
    #[arg(
        short = 'p',
        long = "public-key",
        value_name = "KEY.pub",
        env = "NANOLIN_PUBLIC_KEY"
    )]
    pub public_key: Option<PathBuf>,
    /// Signature file (default: FILE.sig); only with a single FILE.
    #[arg(short = 'x', long = "signature", value_name = "SIGFILE")]
    pub signature: Option<PathBuf>,
    /// Print nothing for files that verify.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Files to verify.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}
