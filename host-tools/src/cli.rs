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
    /// Make and inspect update bundles (.nlb) for nanolin-agent.
    #[command(subcommand)]
    Bundle(BundleCommand),
    /// Build packages from recipes (.rcp): sandboxed, reproducible, with license reports.
    #[command(subcommand)]
    Package(PackageCommand),
    /// Compose a distro's packages, built for a board, into one root file system image.
    #[command(subcommand)]
    Distro(DistroCommand),
    /// Keep a repository: the signed static files a fleet polls (index, packages, releases,
    /// channels).
    #[command(subcommand)]
    Repo(RepoCommand),
    /// Build releases: a flashable disk image, its block map and the update bundle of a
    /// distro for a board, published into a repository on request.
    #[command(subcommand)]
    Release(ReleaseCommand),
}

/// `nanolin release …`
#[derive(Debug, Subcommand)]
pub enum ReleaseCommand {
    /// Build DISTRO for a board: its root file system (slot A of a GPT disk image with boot,
    /// root A, root B and data partitions, boot state pointing at A), the .bmap for bmaptool,
    /// the update bundle (.nlb), the kernel and initramfs, a hybrid ISO for qemu-x86_64.
    Build(ReleaseBuildArgs),
    /// Boot a release's disk image in QEMU: the board's machine and firmware, its virtio disk,
    /// a user-mode network that reaches the host, the watchdog, the serial console here.
    Run(ReleaseRunArgs),
}

/// `nanolin release run`
#[derive(Debug, Args)]
pub struct ReleaseRunArgs {
    /// The disk image (`….disk.img` of `release build`); the board boots it and writes to it.
    #[arg(value_name = "IMAGE")]
    pub image: PathBuf,
    /// The board (default: the one the `.release` file beside the image names).
    #[arg(short = 'b', long, value_name = "BOARD")]
    pub board: Option<String>,
    /// Where the board files are (default: boards).
    #[arg(long, value_name = "DIR", default_value = "boards")]
    pub boards: PathBuf,
    /// Write the serial console to this file instead of the terminal.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Leave the image as it is: QEMU keeps the board's writes in memory (`-snapshot`).
    #[arg(long)]
    pub snapshot: bool,
    /// Print the QEMU command line instead of running it.
    #[arg(long)]
    pub print: bool,
}

/// `nanolin release build`
#[derive(Debug, Args)]
pub struct ReleaseBuildArgs {
    /// The distro: a name in distros/ (prime) or its file (distros/prime.rcp).
    #[arg(value_name = "DISTRO")]
    pub distro: String,
    /// The board, and where packages are kept.
    #[command(flatten)]
    pub target: BoardBuildArgs,
    /// Where to write the release (default out/releases).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Add the release to this repository (made with `nanolin repo init`, same key) and point
    /// the board's channel at its bundle.
    #[arg(long, value_name = "REPO")]
    pub publish: Option<PathBuf>,
    /// The channel --publish updates (default: the distro's channel=).
    #[arg(long, value_name = "CHANNEL", requires = "publish")]
    pub channel: Option<String>,
    /// How long the repository's index and channel file stay valid (with --publish).
    #[command(flatten)]
    pub lifetime: LifetimeArgs,
    /// The release key: signs packages, images and the bundle; the board trusts its public half.
    #[command(flatten)]
    pub key: SecretKeyArgs,
}

/// `nanolin repo …`
#[derive(Debug, Subcommand)]
pub enum RepoCommand {
    /// Make DIR a repository: its directories, signature.pub (the public half of the key),
    /// empty packages.tgz and manifest.tgz, and the first signed index.
    Init(RepoInitArgs),
    /// Check artifacts against the repository's key, copy them into place by kind (package
    /// and distro outputs, recipes, bundles, disk images), never replacing a file, and index.
    Add(RepoAddArgs),
    /// Write packages.tgz, manifest.tgz, and the signed index of every artifact (the
    /// repository's version one more than before).
    Index(RepoIndexArgs),
    /// Point a board's channel at a bundle (adding it first when it is not in the repository);
    /// refuses a release older than the channel's.
    Publish(RepoPublishArgs),
    /// Point channel --to at the release channel --from names, re-signed with a fresh expiry;
    /// refuses a release older than the channel's.
    Promote(RepoPromoteArgs),
    /// Verify the index's signature and expiry, every file's size and SHA-256, that nothing
    /// unlisted is there, and every channel; report each problem.
    Check(RepoCheckArgs),
}

/// How long what is signed stays valid.
#[derive(Debug, Args)]
pub struct LifetimeArgs {
    /// Clients refuse the index (and channel files) this long after signing: 30d, 12h, 2w.
    #[arg(long, value_name = "DURATION", default_value = crate::repo::DEFAULT_LIFETIME)]
    pub expires: String,
}

/// `nanolin repo init`
#[derive(Debug, Args)]
pub struct RepoInitArgs {
    /// The directory (created when missing; must be empty unless it is this key's repository).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// How long the first index is valid.
    #[command(flatten)]
    pub lifetime: LifetimeArgs,
    /// The repository's secret key, and its passphrase.
    #[command(flatten)]
    pub key: SecretKeyArgs,
}

/// `nanolin repo add`
#[derive(Debug, Args)]
pub struct RepoAddArgs {
    /// The repository.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Package outputs (IMAGE.img takes its .img.sig, .lst, .licenses.txt and .spdx.json from
    /// beside it), recipes (.rcp), bundles (.nlb), disk images with their .bmap.
    #[arg(value_name = "ARTIFACT", required = true)]
    pub artifacts: Vec<PathBuf>,
    /// The images given are distro outputs: they go to distros/.
    #[arg(long)]
    pub distro: bool,
    /// Publish the newest bundle given for each board to this channel too.
    #[arg(long, value_name = "CHANNEL")]
    pub channel: Option<String>,
    /// How long the index (and the channel file) is valid.
    #[command(flatten)]
    pub lifetime: LifetimeArgs,
    /// The repository's secret key, and its passphrase.
    #[command(flatten)]
    pub key: SecretKeyArgs,
}

/// `nanolin repo index`
#[derive(Debug, Args)]
pub struct RepoIndexArgs {
    /// The repository.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// How long the index is valid.
    #[command(flatten)]
    pub lifetime: LifetimeArgs,
    /// The repository's secret key, and its passphrase.
    #[command(flatten)]
    pub key: SecretKeyArgs,
}

/// `nanolin repo publish`
#[derive(Debug, Args)]
pub struct RepoPublishArgs {
    /// The repository.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The bundle: one in DIR/releases/BOARD/, or one to add.
    #[arg(value_name = "BUNDLE.nlb")]
    pub bundle: PathBuf,
    /// The channel (testing, stable): channels/BOARD/CHANNEL, the board from the bundle.
    #[arg(short = 'c', long, value_name = "CHANNEL")]
    pub channel: String,
    /// How long the channel file is valid (boards refuse it after; publish again to renew).
    #[command(flatten)]
    pub lifetime: LifetimeArgs,
    /// The repository's secret key, and its passphrase.
    #[command(flatten)]
    pub key: SecretKeyArgs,
}

/// `nanolin repo promote`
#[derive(Debug, Args)]
pub struct RepoPromoteArgs {
    /// The repository.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The board's compatible string.
    #[arg(short = 'b', long, value_name = "COMPATIBLE")]
    pub board: String,
    /// The channel whose release is promoted.
    #[arg(long, value_name = "CHANNEL")]
    pub from: String,
    /// The channel to point at it.
    #[arg(long, value_name = "CHANNEL")]
    pub to: String,
    /// How long the new channel file is valid.
    #[command(flatten)]
    pub lifetime: LifetimeArgs,
    /// The repository's secret key, and its passphrase.
    #[command(flatten)]
    pub key: SecretKeyArgs,
}

/// `nanolin repo check`
#[derive(Debug, Args)]
pub struct RepoCheckArgs {
    /// The repository.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The key to trust (default: the repository's own signature.pub, which proves only that
    /// the repository is consistent; give the key you trust to prove who signed it).
    #[arg(short = 'p', long = "public-key", value_name = "KEY.pub")]
    pub public_key: Option<PathBuf>,
}

/// `nanolin package …`
#[derive(Debug, Subcommand)]
pub enum PackageCommand {
    /// Build RECIPE.rcp into NAME-VERSION-RELEASE.img (squashfs), .lst, .img.sig,
    /// .licenses.txt and .spdx.json.
    Build(PackageBuildArgs),
    /// Print the package id of every recipe in DIR (or of the recipes given, read with the
    /// recipes beside them): `name id` per line, sorted by name.
    Id(PackageIdArgs),
}

/// `nanolin package id`
#[derive(Debug, Args)]
pub struct PackageIdArgs {
    /// Recipes, or directories of recipes (every `*.rcp` in them); default `recipes`.
    #[arg(value_name = "RECIPE.rcp|DIR")]
    pub paths: Vec<PathBuf>,
}

/// `nanolin package build`
#[derive(Debug, Args)]
pub struct PackageBuildArgs {
    /// The recipe; the recipes beside it give its dependencies' package ids.
    #[arg(value_name = "RECIPE.rcp")]
    pub recipe: PathBuf,
    /// Where to write the package (default out/packages).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// Sign the image with this key (and its passphrase); without it, no .sig is written.
    #[command(flatten)]
    pub key: SecretKeyArgs,
    /// The board's target triple: sets CC, CARCH and CHOST for the recipe.
    #[arg(long, value_name = "TRIPLE")]
    pub target: Option<String>,
    /// Stream the build's output (it always goes to the build log).
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// `nanolin bundle …`
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Write a signed update bundle: a manifest with chunk hashes, then the images.
    Create(BundleCreateArgs),
    /// Show a bundle's manifest, and check its signature and length.
    Info(BundleInfoArgs),
}

/// `nanolin bundle create`
#[derive(Debug, Args)]
pub struct BundleCreateArgs {
    /// Board compatible string: devices whose agent.conf says another refuse the bundle.
    #[arg(short = 'b', long = "board", value_name = "COMPATIBLE")]
    pub board: String,
    /// Release version rYY.MM-GDDHHMMSS (default: from SOURCE_DATE_EPOCH or the UTC clock).
    #[arg(long, value_name = "VERSION")]
    pub version: Option<String>,
    /// An image, for slot pair NAME (default rootfs); repeat for more images.
    #[arg(
        short = 'i',
        long = "image",
        value_name = "[NAME=]FILE",
        required = true
    )]
    pub images: Vec<String>,
    /// Devices that install this bundle never accept a release older than VERSION afterwards.
    #[arg(long = "min-version", value_name = "VERSION")]
    pub min_version: Option<String>,
    /// Devices refuse the bundle this long after it was made: 90d, 12h, 30m, 3600s, 2w.
    #[arg(long, value_name = "DURATION")]
    pub expires: Option<String>,
    /// Bytes per chunk, a power of two from 4096 to 16777216 (smaller: finer deltas).
    #[arg(long = "chunk-size", value_name = "BYTES", default_value_t = nanolin_core::bundle::DEFAULT_CHUNK_SIZE)]
    pub chunk_size: u32,
    /// The secret key to sign the manifest with, and its passphrase.
    #[command(flatten)]
    pub key: SecretKeyArgs,
    /// The bundle to write.
    #[arg(short = 'o', long = "output", value_name = "OUT.nlb")]
    pub output: PathBuf,
}

/// `nanolin bundle info`
#[derive(Debug, Args)]
pub struct BundleInfoArgs {
    /// Check the manifest's signature with this public key.
    #[arg(
        short = 'p',
        long = "public-key",
        value_name = "KEY.pub",
        env = "NANOLIN_PUBLIC_KEY"
    )]
    pub public_key: Option<PathBuf>,
    /// The bundle.
    #[arg(value_name = "FILE.nlb")]
    pub bundle: PathBuf,
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

/// The secret key to sign with, and where its passphrase comes from.
#[derive(Debug, Args)]
pub struct SecretKeyArgs {
    /// Secret key (signify's or minisign's).
    #[arg(
        short = 's',
        long = "secret-key",
        value_name = "KEY.sec",
        env = "NANOLIN_KEY"
    )]
    pub secret_key: Option<PathBuf>,
    /// Read the passphrase from the first line of FILE instead of the terminal.
    #[arg(long, value_name = "FILE", env = "NANOLIN_PASSPHRASE_FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// `nanolin sign`
#[derive(Debug, Args)]
pub struct SignArgs {
    /// The secret key and its passphrase.
    #[command(flatten)]
    pub key: SecretKeyArgs,
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

/// `nanolin distro …`
#[derive(Debug, Subcommand)]
pub enum DistroCommand {
    /// Build DISTRO.rcp for a board: its packages (built, or taken from the package store),
    /// the overlay and the board's configuration, as NAME-BOARD-rYY.MM-GDDHHMMSS.img
    /// (squashfs), .lst, .licenses.txt, .spdx.json and .img.sig.
    Build(DistroBuildArgs),
}

/// The board a distro is built for, and where its packages are kept.
#[derive(Debug, Args)]
pub struct BoardBuildArgs {
    /// The board to build for (a file in the boards directory).
    #[arg(
        short = 'b',
        long,
        value_name = "BOARD",
        default_value = "qemu-aarch64-virt"
    )]
    pub board: String,
    /// Where the board files are (default: ../boards from the distro file).
    #[arg(long, value_name = "DIR")]
    pub boards: Option<PathBuf>,
    /// The package store: builds kept by target and package id (default out/packages).
    #[arg(long, value_name = "DIR")]
    pub packages: Option<PathBuf>,
    /// Stream the package builds' output.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// `nanolin distro build`
#[derive(Debug, Args)]
pub struct DistroBuildArgs {
    /// The distro file (distros/prime.rcp).
    #[arg(value_name = "DISTRO.rcp")]
    pub distro: PathBuf,
    /// The board, and where packages are kept.
    #[command(flatten)]
    pub target: BoardBuildArgs,
    /// Where to write the image (default out/distros).
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: Option<PathBuf>,
    /// The release key: signs packages and the image; the board's agent trusts its public half.
    #[command(flatten)]
    pub key: SecretKeyArgs,
}
