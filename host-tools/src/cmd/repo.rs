//! `nanolin repo init|add|index|publish|promote|check`: the repository a fleet polls.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cli::{
    LifetimeArgs, RepoAddArgs, RepoCheckArgs, RepoCommand, RepoIndexArgs, RepoInitArgs,
    RepoPromoteArgs, RepoPublishArgs, SecretKeyArgs,
};
use crate::cmd::bundle::parse_duration;
use crate::cmd::open_secret_key;
use crate::error::{Error, Status};
use crate::keyfile::{load_public_key, SigningKey};
use crate::repo::add::{place, plan, Kind, Outcome};
use crate::repo::channel::{check_channel_name, publish, read_channel, Published, Release};
use crate::repo::index::{read_index, reindex, write_index, Index};
use crate::repo::{check, utc, RepoError, Repository, Signer, INDEX, INDEX_SIG};

/// Runs `nanolin repo …`.
pub fn run(command: RepoCommand) -> Result<Status, Error> {
    match command {
        RepoCommand::Init(args) => init(args),
        RepoCommand::Add(args) => add(args),
        RepoCommand::Index(args) => index(args),
        RepoCommand::Publish(args) => publish_bundle(args),
        RepoCommand::Promote(args) => promote(args),
        RepoCommand::Check(args) => check_repository(args),
    }
}

/// Seconds the index and channel files stay valid, from `--expires`.
pub fn lifetime(args: &LifetimeArgs) -> Result<u64, Error> {
    parse_duration(&args.expires)
}

/// Opens the repository, then its secret key (so a wrong directory is said before a
/// passphrase is asked), and refuses any other key.
fn open(dir: &Path, key: SecretKeyArgs) -> Result<(Repository, SigningKey, PathBuf), Error> {
    let repo = Repository::open(dir)?;
    let (key, secret_path) = open_secret_key(key)?;
    repo.require_signer(&key, &secret_path)?;
    Ok((repo, key, secret_path))
}

fn say_index(repo: &Repository, index: &Index) {
    eprintln!(
        "{}: index version {}, {} files, expires {}",
        repo.root().display(),
        index.version,
        index.files.len(),
        utc(index.expires)
    );
}

fn say_published(repo: &Repository, published: &Published) {
    let file = &published.file;
    eprintln!(
        "{}: {} ({}, {} bytes){}, expires {}",
        repo.path(&published.path).display(),
        file.version,
        file.bundle,
        file.size,
        match published.previous {
            Some(previous) if previous == file.version => " again".to_string(),
            Some(previous) => format!(", was {previous}"),
            None => String::new(),
        },
        utc(file.expires)
    );
}

fn init(args: RepoInitArgs) -> Result<Status, Error> {
    let lifetime = lifetime(&args.lifetime)?;
    let (key, secret_path) = open_secret_key(args.key)?;
    let (repo, created) = Repository::create(&args.dir, &key, &secret_path)?;
    // A repository whose first index was never written (an interrupted init) gets it now.
    let never_indexed = !repo.path(INDEX).exists() && !repo.path(INDEX_SIG).exists();
    if !created && !never_indexed {
        eprintln!(
            "{}: already a repository of key {}: nothing to do",
            args.dir.display(),
            key.key_number
        );
        return Ok(Status::Success);
    }
    let signer = Signer::new(&key, &secret_path);
    let index = write_index(&repo, &signer, None, lifetime)?;
    eprintln!(
        "{}: repository of key {} (signature.pub)",
        args.dir.display(),
        key.key_number
    );
    say_index(&repo, &index);
    Ok(Status::Success)
}

fn add(args: RepoAddArgs) -> Result<Status, Error> {
    let lifetime = lifetime(&args.lifetime)?;
    if let Some(channel) = &args.channel {
        check_channel_name(channel)?;
    }
    let (repo, key, secret_path) = open(&args.dir, args.key)?;
    add_artifacts(
        &repo,
        &Signer::new(&key, &secret_path),
        &args.artifacts,
        args.distro,
        args.channel.as_deref(),
        lifetime,
    )?;
    Ok(Status::Success)
}

/// Adds `artifacts` to `repo` (distro outputs when `distro`), indexes it, and points
/// `channel` of each board at the newest bundle given for it. Refuses, before anything is
/// copied, a release older than the channel's.
pub fn add_artifacts(
    repo: &Repository,
    signer: &Signer<'_>,
    artifacts: &[PathBuf],
    distro: bool,
    channel: Option<&str>,
    lifetime: u64,
) -> Result<(), Error> {
    if let Some(channel) = channel {
        check_channel_name(channel)?;
    }
    let placements = plan(repo, artifacts, distro)?;
    // The newest bundle of each board, for --channel.
    let mut newest: BTreeMap<String, Release> = BTreeMap::new();
    for placement in &placements {
        if let Kind::Bundle { release, .. } = &placement.kind {
            let entry = newest
                .entry(release.board.clone())
                .or_insert_with(|| release.clone());
            if release.version > entry.version {
                *entry = release.clone();
            }
        }
    }
    if channel.is_some() && newest.is_empty() {
        return Err(Error::Usage(
            "--channel publishes a bundle, but no bundle (.nlb) is among the artifacts".into(),
        ));
    }
    if let Some(channel) = channel {
        // Refuse a rollback before anything is copied.
        for release in newest.values() {
            refuse_older(repo, release, channel)?;
        }
    }
    let outcomes = place(repo, &placements)?;
    for (placement, outcome) in placements.iter().zip(&outcomes) {
        eprintln!(
            "{}: {}",
            repo.path(&placement.dest).display(),
            match outcome {
                Outcome::Added => "added",
                Outcome::Present => "already there, the same bytes",
            }
        );
    }
    let index = reindex(repo, signer, lifetime)?;
    say_index(repo, &index);
    if let Some(channel) = channel {
        for release in newest.values() {
            say_published(repo, &publish(repo, signer, release, channel, lifetime)?);
        }
    }
    Ok(())
}

/// Refuses `release` for a channel that names a newer one.
fn refuse_older(repo: &Repository, release: &Release, channel: &str) -> Result<(), Error> {
    if let Some(current) = read_channel(repo, &release.board, channel)? {
        if release.version < current.version {
            return Err(RepoError::Older {
                channel: repo.path(&crate::repo::channel::channel_path(&release.board, channel)),
                offered: release.version,
                current: current.version,
            }
            .into());
        }
    }
    Ok(())
}

fn index(args: RepoIndexArgs) -> Result<Status, Error> {
    let lifetime = lifetime(&args.lifetime)?;
    let (repo, key, secret_path) = open(&args.dir, args.key)?;
    let index = reindex(&repo, &Signer::new(&key, &secret_path), lifetime)?;
    say_index(&repo, &index);
    Ok(Status::Success)
}

fn publish_bundle(args: RepoPublishArgs) -> Result<Status, Error> {
    let lifetime = lifetime(&args.lifetime)?;
    check_channel_name(&args.channel)?;
    if !args.bundle.to_string_lossy().ends_with(".nlb") {
        return Err(Error::Usage(format!(
            "{}: not a bundle (.nlb): publish points a channel at an update bundle",
            args.bundle.display()
        )));
    }
    let (repo, key, secret_path) = open(&args.dir, args.key)?;
    let signer = Signer::new(&key, &secret_path);
    let placements = plan(&repo, std::slice::from_ref(&args.bundle), false)?;
    let Some((release, expires)) = placements.iter().find_map(|p| match &p.kind {
        Kind::Bundle { release, expires } => Some((release.clone(), *expires)),
        _ => None,
    }) else {
        return Err(Error::Usage(format!(
            "{}: not a bundle",
            args.bundle.display()
        )));
    };
    if let Some(expires) = expires.filter(|e| *e < signer.time()) {
        return Err(RepoError::Unpublishable {
            path: args.bundle.clone(),
            reason: format!(
                "the bundle expired at {}: boards would refuse it; make a new bundle",
                utc(expires)
            ),
        }
        .into());
    }
    refuse_older(&repo, &release, &args.channel)?;
    let outcomes = place(&repo, &placements)?;
    let listed = read_index(&repo)?
        .get(&release.bundle)
        .is_some_and(|e| e.size == release.size);
    if outcomes.contains(&Outcome::Added) || !listed {
        eprintln!("{}: added", repo.path(&release.bundle).display());
        say_index(&repo, &reindex(&repo, &signer, lifetime)?);
    }
    say_published(
        &repo,
        &publish(&repo, &signer, &release, &args.channel, lifetime)?,
    );
    Ok(Status::Success)
}

fn promote(args: RepoPromoteArgs) -> Result<Status, Error> {
    let lifetime = lifetime(&args.lifetime)?;
    let (repo, key, secret_path) = open(&args.dir, args.key)?;
    let index = read_index(&repo)?;
    let published = crate::repo::channel::promote(
        &repo,
        &Signer::new(&key, &secret_path),
        &index,
        &args.board,
        &args.from,
        &args.to,
        lifetime,
    )?;
    say_published(&repo, &published);
    Ok(Status::Success)
}

fn check_repository(args: RepoCheckArgs) -> Result<Status, Error> {
    let key = match &args.public_key {
        Some(path) => Some(load_public_key(path)?),
        None => None,
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let report = check::check(&args.dir, key, now)?;
    for problem in &report.problems {
        eprintln!(
            "{}: {}",
            args.dir.join(&problem.path).display(),
            problem.what
        );
    }
    if !report.problems.is_empty() {
        return Err(RepoError::CheckFailed {
            dir: args.dir,
            problems: report.problems.len(),
        }
        .into());
    }
    let (version, expires) = report
        .index
        .as_ref()
        .map(|i| (i.version, i.expires))
        .unwrap_or_default();
    println!(
        "{}: good: index version {version} (expires {}), {} files, {} channels",
        args.dir.display(),
        utc(expires),
        report.files,
        report.channels
    );
    Ok(Status::Success)
}
