//! `nanolin package build`: a recipe to a signed, mountable package.
//!
//! Steps, each shown as it runs: read the recipe and the recipes beside it (package id,
//! dependencies), check the license expression, fetch and check every source into the
//! content-addressed cache, unpack into a fresh build directory, run `build()` and `package()`
//! in the sandbox, then write the image, its file list, its signature and the license reports
//! into a staging directory that is renamed into place file by file only once everything
//! exists: a failed build leaves nothing in the output directory.

use std::fs;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use nanolin_core::version::ReleaseVersion;

use crate::cli::{PackageBuildArgs, PackageCommand};
use crate::cmd::open_secret_key;
use crate::error::{Error, Status};
use crate::fetch::{fetch, FetchProgress, FetchStep, SourceCache};
use crate::license::{check_expression, report_text, scan, spdx_json, PackageInfo};
use crate::pkgimage::{write_image, write_list};
use crate::recipe::{package_ids, Location, Recipe};
use crate::sandbox::Sandbox;
use crate::signing::{
    default_trusted_comment, sign_file, signature_file_text, signing_time, verify_with_comment,
};

/// Runs `nanolin package …`.
pub fn run(command: PackageCommand) -> Result<Status, Error> {
    match command {
        PackageCommand::Build(args) => build(args),
    }
}

/// Says what is happening: a line per step.
fn step(text: &str) {
    eprintln!("==> {text}");
}

/// The C compiler and target variables a recipe sees for a Rust-style target triple.
fn target_env(target: &str) -> Result<Vec<(String, String)>, Error> {
    let (carch, cc) = match target {
        "aarch64-unknown-linux-musl" | "aarch64-unknown-linux-gnu" => ("aarch64", "aarch64-linux-gnu-gcc"),
        "x86_64-unknown-linux-musl" | "x86_64-unknown-linux-gnu" => ("x86_64", "gcc"),
        "riscv64gc-unknown-linux-gnu" => ("riscv64", "riscv64-linux-gnu-gcc"),
        "armv7-unknown-linux-gnueabihf" => ("armv7", "arm-linux-gnueabihf-gcc"),
        other => {
            return Err(Error::Usage(format!(
                "unknown --target {other}: use aarch64-unknown-linux-musl, x86_64-unknown-linux-musl, riscv64gc-unknown-linux-gnu or armv7-unknown-linux-gnueabihf"
            )))
        }
    };
    Ok(vec![
        ("CARCH".into(), carch.into()),
        ("CHOST".into(), target.into()),
        ("CC".into(), cc.into()),
    ])
}

/// Every recipe in `dir` (for the ids of dependencies).
fn sibling_recipes(recipe: &Recipe) -> Result<Vec<Recipe>, Error> {
    let dir = recipe.dir();
    let mut recipes = vec![recipe.clone()];
    let entries = fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rcp") && *p != recipe.path)
        .collect();
    paths.sort();
    for path in paths {
        let other = Recipe::load(&path)?;
        if other.name != recipe.name {
            recipes.push(other);
        }
    }
    Ok(recipes)
}

fn is_archive(name: &str) -> bool {
    [
        ".tar", ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tar.zst",
    ]
    .iter()
    .any(|ext| name.ends_with(ext))
}

fn untar(archive: &Path, into: &Path) -> Result<(), Error> {
    fs::create_dir_all(into).map_err(|e| Error::io("create", into, e))?;
    let status = Command::new("tar")
        .arg("-xf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .arg("--no-same-owner")
        .arg("--no-same-permissions")
        .status()
        .map_err(|e| Error::io("run tar on", archive, e))?;
    if !status.success() {
        return Err(Error::Refused(format!(
            "{}: tar could not unpack it ({status})",
            archive.display()
        )));
    }
    Ok(())
}

fn step_name(step: FetchStep) -> &'static str {
    match step {
        FetchStep::Verify => "checking the cached copy",
        FetchStep::Copy => "copying into the cache",
        FetchStep::Download => "downloading",
        FetchStep::Archive => "archiving the commit",
    }
}

/// Draws a fetch's progress on a terminal; plain lines otherwise.
fn progress_printer(name: String) -> impl FnMut(FetchProgress) {
    let terminal = std::io::stderr().is_terminal();
    let mut last_percent = u64::MAX;
    move |p: FetchProgress| {
        let percent = p.total.map(|t| p.done * 100 / t.max(1));
        if terminal {
            let shown = match percent {
                Some(pc) => format!("{pc:3}%"),
                None => format!("{} KiB", p.done / 1024),
            };
            eprint!("\r    {name}: {} {shown}   ", step_name(p.step));
            if percent == Some(100) {
                eprintln!();
            }
            let _ = std::io::stderr().flush();
        } else if let Some(pc) = percent {
            // Plain output: a line at the start and at the end of each step.
            if (pc == 0 || pc == 100) && pc != last_percent {
                eprintln!("    {name}: {} {pc}%", step_name(p.step));
                last_percent = pc;
            }
        }
    }
}

/// What a build wrote.
struct Outputs {
    files: Vec<(PathBuf, u64)>,
}

fn build(args: PackageBuildArgs) -> Result<Status, Error> {
    let recipe = Recipe::load(&args.recipe)?;
    step(&format!(
        "{} {}-{}: reading recipes",
        recipe.name, recipe.version, recipe.release
    ));
    let recipes = sibling_recipes(&recipe)?;
    let ids = package_ids(&recipes)?;
    let id = ids
        .get(&recipe.name)
        .cloned()
        .ok_or_else(|| Error::Refused(format!("no package id for {}", recipe.name)))?;
    let declared = check_expression(&recipe.license)?;
    eprintln!("    package id {id}");
    let epoch = signing_time();
    let version = ReleaseVersion::from_unix(epoch)
        .map_err(|e| Error::Usage(format!("SOURCE_DATE_EPOCH {epoch}: {e}")))?;
    let env = match &args.target {
        Some(t) => target_env(t)?,
        None => Vec::new(),
    };
    let key = if args.key.secret_key.is_some() {
        Some(open_secret_key(args.key)?)
    } else {
        None
    };

    let work = std::env::temp_dir().join(format!("nanolin-build-{}-{}", id, std::process::id()));
    let _ = fs::remove_dir_all(&work);
    let result = build_in(
        &recipe,
        &id.to_string(),
        declared,
        epoch,
        &env,
        args.verbose,
        key.as_ref(),
        &work,
        &version,
    );
    let outputs = match result {
        Ok(o) => o,
        Err(e) => {
            eprintln!(
                "    the build directory is kept for a look: {}",
                work.display()
            );
            return Err(e);
        }
    };
    let out = args.output.unwrap_or_else(|| PathBuf::from("out/packages"));
    fs::create_dir_all(&out).map_err(|e| Error::io("create", &out, e))?;
    step(&format!("writing into {}", out.display()));
    for (file, size) in &outputs.files {
        let name = file.file_name().map(PathBuf::from).unwrap_or_default();
        let target = out.join(&name);
        fs::rename(file, &target)
            .or_else(|_| fs::copy(file, &target).map(|_| ()))
            .map_err(|e| Error::io("move into place", &target, e))?;
        eprintln!("    {:<56} {size:>10} bytes", target.display());
    }
    let _ = fs::remove_dir_all(&work);
    Ok(Status::Success)
}

#[allow(clippy::too_many_arguments)]
fn build_in(
    recipe: &Recipe,
    id: &str,
    declared: crate::license::Expression,
    epoch: u64,
    env: &[(String, String)],
    verbose: bool,
    key: Option<&(crate::keyfile::SigningKey, PathBuf)>,
    work: &Path,
    version: &ReleaseVersion,
) -> Result<Outputs, Error> {
    let (src, dest, stage) = (work.join("src"), work.join("dest"), work.join("out"));
    for dir in [&src, &dest, &stage] {
        fs::create_dir_all(dir).map_err(|e| Error::io("create", dir, e))?;
    }
    step("fetching sources");
    let cache = SourceCache::from_env()?;
    for source in &recipe.sources {
        let name = source.entry.file_name.clone();
        let entry = fetch(
            &source.entry,
            &source.pin,
            recipe.dir(),
            &cache,
            &mut progress_printer(name.clone()),
        )?;
        match &source.entry.location {
            Location::Git { .. } => untar(&entry, &src.join(&name))?,
            _ => {
                let copy = src.join(&name);
                fs::copy(&entry, &copy).map_err(|e| Error::io("copy", &copy, e))?;
                if is_archive(&name) {
                    untar(&copy, &src)?;
                }
            }
        }
    }
    // The license scan reads the sources as fetched, before the build adds to them.
    let scanned = scan(&src)?;
    let recipe_copy = src.join(".recipe.rcp");
    fs::write(&recipe_copy, &recipe.text).map_err(|e| Error::io("write", &recipe_copy, e))?;

    step("building in the sandbox (no network, read-only system)");
    let mut extra = env.to_vec();
    extra.push(("pkgname".into(), recipe.name.clone()));
    extra.push(("pkgver".into(), recipe.version.clone()));
    let script = if recipe.has_build {
        ". ./.recipe.rcp && build && cd /build && package"
    } else {
        ". ./.recipe.rcp && package"
    };
    let sandbox = Sandbox {
        build_dir: src.clone(),
        dest_dir: dest.clone(),
        log: work.join("build.log"),
        source_date_epoch: epoch,
        env: extra,
        verbose,
    };
    sandbox.run(&["/bin/sh", "-e", "-c", script])?;

    step("writing the image, its file list and the license reports");
    let base = format!(
        "{}-{}-{}",
        recipe.name,
        recipe.version,
        version.text().as_str()
    );
    let img = stage.join(format!("{base}.img"));
    write_image(&dest, &img, epoch)?;
    let lst = stage.join(format!("{base}.lst"));
    let list = write_list(&dest)?;
    fs::write(&lst, list).map_err(|e| Error::io("write", &lst, e))?;
    let info = PackageInfo {
        name: recipe.name.clone(),
        version: recipe.version.clone(),
        package_id: id.to_string(),
        url: recipe.url.clone(),
        declared,
    };
    let text = stage.join(format!("{base}.licenses.txt"));
    fs::write(&text, report_text(&info, &scanned)).map_err(|e| Error::io("write", &text, e))?;
    let spdx = stage.join(format!("{base}.spdx.json"));
    fs::write(&spdx, spdx_json(&info, &scanned, epoch))
        .map_err(|e| Error::io("write", &spdx, e))?;
    let mut files = vec![img.clone(), lst, text, spdx];
    if let Some((key, key_path)) = key {
        let signature = sign_file(key, &img)?;
        let sig_text = signature_file_text(
            key,
            signature,
            &verify_with_comment(key_path),
            &default_trusted_comment(&img, epoch),
        )?;
        let sig = stage.join(format!("{base}.img.sig"));
        fs::write(&sig, sig_text).map_err(|e| Error::io("write", &sig, e))?;
        files.push(sig);
    }
    let files = files
        .into_iter()
        .map(|f| {
            let size = fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
            (f, size)
        })
        .collect();
    Ok(Outputs { files })
}
