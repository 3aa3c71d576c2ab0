//! `nanolin distro build`: a distro's packages, built for a board, composed into one root file
//! system image.
//!
//! Steps, each shown as it runs: read the distro and the board; for each package, take its
//! build from the package store (`PACKAGES/TARGET/PACKAGE-ID/`, so a package whose recipe,
//! tree and dependencies did not change is not built again) or build it; check that no two
//! packages put different things at one path; unpack them in order into a fresh root, lay the
//! overlay over it, write the files the board needs (host name, os-release, the agent's
//! configuration and the trusted key); then write the image, its file list, one license
//! report and one SPDX document for the whole image, and the signature, into a staging
//! directory moved into place file by file only when all exist.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use nanolin_core::version::ReleaseVersion;
use rustix::fs::FlockOperation;
use serde_json::{Map, Value};

use crate::board::{Board, Bootloader, Role, StateLocation};
use crate::cli::{BoardBuildArgs, DistroBuildArgs, DistroCommand};
use crate::cmd::package::{build_recipe, recipes_with_ids, BuiltPackage};
use crate::cmd::{open_secret_key, step};
use crate::distro::Distro;
use crate::error::{Error, Status};
use crate::fetch::SourceCache;
use crate::keyfile::{public_key_text, SigningKey};
use crate::pkgimage::{write_image, write_list};
use crate::recipe::Recipe;
use crate::signing::{
    default_trusted_comment, sign_file, signature_file_text, signing_time, verify_with_comment,
};
use crate::tool::Failure;

/// Runs `nanolin distro …`.
pub fn run(command: DistroCommand) -> Result<Status, Error> {
    match command {
        DistroCommand::Build(args) => {
            build(args)?;
            Ok(Status::Success)
        }
    }
}

/// The board `target` names, from its `--boards` directory or the one beside the distro's.
pub fn target_board(target: &BoardBuildArgs, distro: &Distro) -> Result<Board, Error> {
    let boards = target
        .boards
        .clone()
        .unwrap_or_else(|| distro.dir().join("../boards"));
    Ok(Board::find(&boards, &target.board)?)
}

/// What a distro build wrote.
#[derive(Debug, Clone)]
pub struct BuiltDistro {
    /// The root file system image.
    pub image: PathBuf,
    /// All the files written: image, `.lst`, `.licenses.txt`, `.spdx.json`, `.img.sig`.
    pub files: Vec<PathBuf>,
    /// The release version of generation.
    pub version: ReleaseVersion,
}

/// `nanolin distro build`.
pub fn build(args: DistroBuildArgs) -> Result<BuiltDistro, Error> {
    let distro = Distro::load(&args.distro)?;
    let board = target_board(&args.target, &distro)?;
    let key = open_secret_key(args.key)?;
    let out = args.output.unwrap_or_else(|| PathBuf::from("out/distros"));
    let store = args
        .target
        .packages
        .unwrap_or_else(|| PathBuf::from("out/packages"));
    build_distro(
        &distro,
        &board,
        &key,
        &store,
        &out,
        args.target.verbose,
        signing_time(),
        &mut |_| Ok(()),
    )
}

/// Builds `distro` for `board`, signed with `key`, packages kept in `store`, outputs in `out`,
/// as of `epoch` (seconds since 1970: the release version and every time stamp).
/// `add_to_root` runs on the composed root folder just before it becomes the image (a release
/// puts the kernel and initramfs into `/boot` there).
#[allow(clippy::too_many_arguments)]
pub fn build_distro(
    distro: &Distro,
    board: &Board,
    key: &(SigningKey, PathBuf),
    store: &Path,
    out: &Path,
    verbose: bool,
    epoch: u64,
    add_to_root: &mut dyn FnMut(&Path) -> Result<(), Error>,
) -> Result<BuiltDistro, Error> {
    let version = ReleaseVersion::from_unix(epoch)
        .map_err(|e| Error::Usage(format!("SOURCE_DATE_EPOCH {epoch}: {e}")))?;
    step(&format!(
        "distro {} for {} ({}), release {}",
        distro.name,
        board.name,
        board.target,
        version.text().as_str()
    ));

    // Every recipe is found and checked before anything is built; the recipes directory is
    // read, and its trees archived, once.
    let cache = SourceCache::from_env()?;
    let known = recipes_with_ids(&distro.dir().join(&distro.recipes), &cache)?;
    let mut recipes = Vec::new();
    for wanted in &distro.packages {
        let path = distro.recipe_path(wanted)?;
        let (recipe, id) = known
            .iter()
            .find(|(r, _)| r.name == wanted.name)
            .ok_or_else(|| {
                Error::Refused(format!(
                    "{}: no recipe named {}",
                    path.display(),
                    wanted.name
                ))
            })?;
        distro.check_version(wanted, &recipe.version)?;
        recipes.push((recipe, id));
    }
    let mut packages = Vec::new();
    for (recipe, id) in recipes {
        packages.push(package(recipe, id, &cache, board, key, store, verbose)?);
    }

    step("composing the root file system");
    let work = std::env::temp_dir().join(format!(
        "nanolin-distro-{}-{}-{}",
        distro.name,
        board.name,
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&work);
    let result = compose(
        distro,
        board,
        key,
        &packages,
        &work,
        &version,
        epoch,
        add_to_root,
    );
    let staged = match result {
        Ok(files) => files,
        Err(e) => {
            eprintln!(
                "    the work directory is kept for a look: {}",
                work.display()
            );
            return Err(e);
        }
    };
    fs::create_dir_all(out).map_err(|e| Error::io("create", out, e))?;
    step(&format!("writing into {}", out.display()));
    let mut files = Vec::new();
    for file in staged {
        let target = out.join(file.file_name().unwrap_or_default());
        fs::rename(&file, &target)
            .or_else(|_| fs::copy(&file, &target).map(|_| ()))
            .map_err(|e| Error::io("move into place", &target, e))?;
        let size = fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
        eprintln!("    {:<64} {size:>10} bytes", target.display());
        files.push(target);
    }
    let _ = fs::remove_dir_all(&work);
    Ok(BuiltDistro {
        image: files.first().cloned().unwrap_or_default(),
        files,
        version,
    })
}

/// The files of a package in the store, if a complete build is there.
fn stored(dir: &Path) -> Option<BuiltPackage> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let built = BuiltPackage {
        id: dir.file_name()?.to_string_lossy().into_owned(),
        files,
    };
    let complete = [".img", ".img.sig", ".lst", ".licenses.txt", ".spdx.json"]
        .iter()
        .all(|ext| built.file(ext).is_some());
    complete.then_some(built)
}

/// The package `id` for `board`: from the store, or built into it.
fn package(
    recipe: &Recipe,
    id: &str,
    cache: &SourceCache,
    board: &Board,
    key: &(SigningKey, PathBuf),
    store: &Path,
    verbose: bool,
) -> Result<BuiltPackage, Error> {
    // The id covers what a recipe is made of, not the target it is built for.
    let dir = store.join(&board.target).join(id);
    if let Some(built) = stored(&dir) {
        eprintln!("    {id}: built before, in {}", dir.display());
        return Ok(built);
    }
    // One build of an id at a time: a second `nanolin` on this store waits for the first and
    // takes its package, rather than building the same one beside it. The lock goes with the
    // file, when this function returns (or the process ends).
    let folder = store.join(&board.target);
    fs::create_dir_all(&folder).map_err(|e| Error::io("create", &folder, e))?;
    let lock_path = folder.join(format!(".{id}.lock"));
    let lock = fs::File::create(&lock_path).map_err(|e| Error::io("create", &lock_path, e))?;
    if rustix::fs::flock(&lock, FlockOperation::NonBlockingLockExclusive).is_err() {
        eprintln!("    {id}: being built by another nanolin on this store; waiting for it");
        rustix::fs::flock(&lock, FlockOperation::LockExclusive)
            .map_err(|e| Error::io("lock", &lock_path, e.into()))?;
    }
    if let Some(built) = stored(&dir) {
        eprintln!("    {id}: built before, in {}", dir.display());
        return Ok(built);
    }
    let partial = store
        .join(&board.target)
        .join(format!(".{id}.partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    build_recipe(
        recipe,
        id,
        cache,
        Some(&board.target),
        Some(key),
        &partial,
        verbose,
    )?;
    // Another build of the same id (a second `nanolin` on this store) may have finished
    // first: an id names the contents, so its package is as good as ours, and it may be in
    // use. Only an incomplete leftover is replaced.
    if fs::rename(&partial, &dir).is_err() {
        if let Some(built) = stored(&dir) {
            let _ = fs::remove_dir_all(&partial);
            return Ok(built);
        }
        let _ = fs::remove_dir_all(&dir);
        fs::rename(&partial, &dir).map_err(|e| Error::io("move into place", &dir, e))?;
    }
    stored(&dir)
        .ok_or_else(|| Error::Refused(format!("{}: the build left no package", dir.display())))
}

/// One line of a `.lst`: type, mode, and content (hash or link target).
type ListEntry = (String, String, String);

/// Reads a `.lst` into path → entry.
fn read_list(path: &Path) -> Result<BTreeMap<String, ListEntry>, Error> {
    let text = fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    let mut map = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [p, kind, mode, _owner, _size, sha, target] = fields[..] else {
            return Err(Error::Refused(format!(
                "{}:{}: not a .lst line (seven tab-separated fields)",
                path.display(),
                index + 1
            )));
        };
        let content = if kind == "l" { target } else { sha };
        map.insert(
            p.to_string(),
            (kind.to_string(), mode.to_string(), content.to_string()),
        );
    }
    Ok(map)
}

/// Refuses two packages that put different things at one path (directories may be shared
/// when their modes agree).
fn check_conflicts(packages: &[BuiltPackage]) -> Result<(), Error> {
    let mut seen: BTreeMap<String, (ListEntry, String)> = BTreeMap::new();
    for package in packages {
        let list = package
            .file(".lst")
            .ok_or_else(|| Error::Refused(format!("{}: no .lst", package.id)))?;
        for (path, entry) in read_list(list)? {
            match seen.get(&path) {
                Some((first, owner)) if *first != entry => {
                    return Err(Error::Refused(format!(
                        "{owner} and {} both install {path}, differently ({} {} vs {} {}): \
                         remove it from one of the recipes, or drop one package from the distro",
                        package.id, first.0, first.1, entry.0, entry.1
                    )))
                }
                Some(_) => {}
                None => {
                    seen.insert(path, (entry, package.id.clone()));
                }
            }
        }
    }
    Ok(())
}

/// Where stage1 mounts the boot partition on boards whose boot state is a file there
/// (`BOOTFS` of init/src/stage1.rs): not /boot, which holds each slot's kernel.
pub const BOOTFS: &str = "/boot/firmware";

/// The agent's configuration for `board`: its slots, where its boot state is, what it trusts
/// and polls.
fn agent_conf(distro: &Distro, board: &Board, key_file: &str) -> String {
    let index = |role| board.partition_number(role);
    let mut conf = format!(
        "# Written by nanolin distro build for {board}: the update agent's configuration.\n\
         compatible={compatible}\n\
         slot_a={a}\n\
         slot_b={b}\n\
         keys={key_file}\n\
         tries={tries}\n",
        board = board.name,
        compatible = board.compatible,
        a = board.partition_device(index(Role::RootA)),
        b = board.partition_device(index(Role::RootB)),
        tries = distro.tries,
    );
    let state = &board.boot_state;
    // A raw state is read from its device; a file from the boot partition, which stage1
    // mounts on /boot/firmware (the release's boot.conf names it: `bootfs=`).
    let (device, offset) = match &state.location {
        StateLocation::Disk { offset } => (board.disk_device.clone(), *offset),
        StateLocation::Partition { role, offset } => {
            (board.partition_device(index(*role)), *offset)
        }
        StateLocation::File { .. } => (String::new(), 0),
    };
    let file_path = match &state.location {
        StateLocation::File { path, .. } => format!("{BOOTFS}/{path}"),
        _ => String::new(),
    };
    match board.bootloader {
        Bootloader::Native => {
            conf.push_str(&format!(
                "bootstate=native\nbootstate_path={device}\nbootstate_offset={offset}\n"
            ));
        }
        Bootloader::Grub => {
            let path = if file_path.is_empty() {
                device
            } else {
                file_path
            };
            conf.push_str(&format!("bootstate=grub\nbootstate_path={path}\n"));
        }
        Bootloader::Uboot => {
            let (path, base) = if file_path.is_empty() {
                (device, offset)
            } else {
                (file_path, 0)
            };
            conf.push_str(&format!(
                "bootstate=uboot\nuboot_env=\"{path} {base:#x} {:#x}\"\n",
                state.size
            ));
            if state.redundant {
                conf.push_str(&format!(
                    "uboot_env_redundant=\"{path} {:#x} {:#x}\"\n",
                    base + state.size,
                    state.size
                ));
            }
        }
    }
    if let Some(repository) = &distro.repository {
        conf.push_str(&format!(
            "repository={repository}\nchannel={}\n",
            distro.channel
        ));
    }
    if let Some(activate) = &distro.activate {
        conf.push_str(&format!("activate={activate}\n"));
    }
    if let Some(seconds) = distro.poll_interval {
        conf.push_str(&format!("poll_interval={seconds}\n"));
    }
    // Our init is every Nanolin board's PID 1: after an install, and after a release fails
    // its health check, the agent asks it for an orderly reboot.
    conf.push_str("reboot_command=\"/sbin/init ctl reboot\"\n");
    conf
}

fn write(path: &Path, text: impl AsRef<[u8]>) -> Result<(), Error> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    fs::write(path, text).map_err(|e| Error::io("write", path, e))
}

/// Runs a tool to its end, refusing on failure with what it said.
fn run_tool(command: &mut Command, what: &str) -> Result<(), Error> {
    crate::tool::run(command).map(drop).map_err(|failure| {
        Error::Refused(match failure {
            Failure::Missing => format!("{what} is not installed"),
            Failure::Spawn(e) => format!("unable to run {what}: {e}"),
            Failure::Exited { status, said } => {
                format!("{what} failed ({status}): {}", said.trim())
            }
        })
    })
}

/// Composes the root and writes the outputs into `work/out`; returns them, image first.
#[allow(clippy::too_many_arguments)]
fn compose(
    distro: &Distro,
    board: &Board,
    key: &(SigningKey, PathBuf),
    packages: &[BuiltPackage],
    work: &Path,
    version: &ReleaseVersion,
    epoch: u64,
    add_to_root: &mut dyn FnMut(&Path) -> Result<(), Error>,
) -> Result<Vec<PathBuf>, Error> {
    check_conflicts(packages)?;
    let root = work.join("root");
    let stage = work.join("out");
    fs::create_dir_all(&stage).map_err(|e| Error::io("create", &stage, e))?;
    for package in packages {
        let img = package
            .file(".img")
            .ok_or_else(|| Error::Refused(format!("{}: no .img", package.id)))?;
        eprintln!("    {}", package.id);
        run_tool(
            Command::new("unsquashfs")
                .args(["-f", "-n", "-no-xattrs", "-d"])
                .arg(&root)
                .arg(img),
            "unsquashfs",
        )?;
    }
    if let Some(overlay) = &distro.overlay {
        let overlay = distro.dir().join(overlay);
        if !overlay.is_dir() {
            return Err(Error::Refused(format!(
                "{}: the overlay {} is not a directory",
                distro.path.display(),
                overlay.display()
            )));
        }
        let mut from = overlay.into_os_string();
        from.push("/.");
        run_tool(
            Command::new("cp")
                .args(["-R", "--no-preserve=ownership,timestamps"])
                .arg(from)
                .arg(&root),
            "cp (the overlay)",
        )?;
    }
    // Mount points init and the agent expect.
    for dir in [
        "proc",
        "sys",
        "dev",
        "run",
        "tmp",
        "data",
        "boot",
        "var/lib/nanolin",
    ] {
        let path = root.join(dir);
        fs::create_dir_all(&path).map_err(|e| Error::io("create", &path, e))?;
    }
    let release = version.text();
    write(&root.join("etc/hostname"), format!("{}\n", distro.hostname))?;
    write(
        &root.join("etc/os-release"),
        format!(
            "NAME=Nanolin\nID=nanolin\nVARIANT=\"{name}\"\nVARIANT_ID={name}\n\
             VERSION_ID={release}\nPRETTY_NAME=\"Nanolin {name} {release}\"\n",
            name = distro.name,
            release = release.as_str()
        ),
    )?;
    write(
        &root.join("etc/nanolin/release"),
        format!(
            "distro={}\nboard={}\ncompatible={}\nversion={}\n",
            distro.name,
            board.name,
            board.compatible,
            release.as_str()
        ),
    )?;
    let public = key.0.public_key();
    let key_file = "/etc/nanolin/keys/release.pub";
    write(
        &root.join(key_file.trim_start_matches('/')),
        public_key_text(public, "nanolin release public key")?,
    )?;
    write(
        &root.join("etc/nanolin/agent.conf"),
        agent_conf(distro, board, key_file),
    )?;

    add_to_root(&root)?;

    let base = format!("{}-{}-{}", distro.name, board.name, release.as_str());
    let img = stage.join(format!("{base}.img"));
    write_image(&root, &img, epoch)?;
    let lst = stage.join(format!("{base}.lst"));
    write(&lst, write_list(&root)?)?;
    let text = stage.join(format!("{base}.licenses.txt"));
    write(&text, licenses_text(distro, board, packages)?)?;
    let spdx = stage.join(format!("{base}.spdx.json"));
    write(&spdx, spdx_merged(&base, packages)?)?;
    let signature = sign_file(&key.0, &img)?;
    let sig = stage.join(format!("{base}.img.sig"));
    write(
        &sig,
        signature_file_text(
            &key.0,
            signature,
            &verify_with_comment(&key.1),
            &default_trusted_comment(&img, epoch),
        )?,
    )?;
    Ok(vec![img, lst, text, spdx, sig])
}

/// The packages' license reports, after a summary of the image.
fn licenses_text(
    distro: &Distro,
    board: &Board,
    packages: &[BuiltPackage],
) -> Result<String, Error> {
    let mut text = format!(
        "License report: distro {} for {}\n\nPackages ({})\n",
        distro.name,
        board.name,
        packages.len()
    );
    let mut reports = String::new();
    for package in packages {
        let path = package
            .file(".licenses.txt")
            .ok_or_else(|| Error::Refused(format!("{}: no license report", package.id)))?;
        let report = fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        let field = |name: &str| {
            report
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .map(str::trim)
                .unwrap_or("?")
                .to_string()
        };
        text.push_str(&format!(
            "  {:<44} {:<28} {}\n",
            package.id,
            field("Declared license:"),
            field("Verdict:")
        ));
        reports.push_str(&format!("\n{}\n{report}", "=".repeat(78)));
    }
    text.push_str(&reports);
    Ok(text)
}

/// One SPDX 2.3 document for the image: every package document's packages, files, licenses
/// and relationships (their ids are unique across packages: they carry the package's name).
fn spdx_merged(name: &str, packages: &[BuiltPackage]) -> Result<String, Error> {
    let mut merged_packages = Vec::new();
    let mut files = Vec::new();
    let mut relationships = Vec::new();
    let mut extracted: BTreeMap<String, Value> = BTreeMap::new();
    let mut first: Option<Map<String, Value>> = None;
    for package in packages {
        let path = package
            .file(".spdx.json")
            .ok_or_else(|| Error::Refused(format!("{}: no SPDX document", package.id)))?;
        let text = fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
        let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(&text) else {
            return Err(Error::Refused(format!(
                "{}: not an SPDX JSON document",
                path.display()
            )));
        };
        let list = |key: &str| match doc.get(key) {
            Some(Value::Array(items)) => items.clone(),
            _ => Vec::new(),
        };
        merged_packages.extend(list("packages"));
        files.extend(list("files"));
        relationships.extend(list("relationships"));
        for info in list("hasExtractedLicensingInfos") {
            if let Some(Value::String(id)) = info.get("licenseId") {
                extracted.entry(id.clone()).or_insert(info);
            }
        }
        first.get_or_insert(doc);
    }
    let mut doc = first.unwrap_or_default();
    doc.insert("name".into(), Value::String(name.to_string()));
    let namespace = format!("https://nanolin.invalid/spdx/image/{name}");
    doc.insert("documentNamespace".into(), Value::String(namespace));
    doc.insert("packages".into(), Value::Array(merged_packages));
    doc.insert("files".into(), Value::Array(files));
    doc.insert("relationships".into(), Value::Array(relationships));
    if extracted.is_empty() {
        doc.remove("hasExtractedLicensingInfos");
    } else {
        doc.insert(
            "hasExtractedLicensingInfos".into(),
            Value::Array(extracted.into_values().collect()),
        );
    }
    // The creation time is the first document's: every package's is SOURCE_DATE_EPOCH.
    serde_json::to_string_pretty(&Value::Object(doc))
        .map(|mut s| {
            s.push('\n');
            s
        })
        .map_err(|e| Error::Refused(format!("unable to write the SPDX document: {e}")))
}
