//! `nanolin package build`: a recipe to a signed, mountable package.
//!
//! Steps, each shown as it runs: read the recipe and the recipes beside it (package id,
//! dependencies), check the license expression, fetch and check every source into the
//! content-addressed cache, unpack into a fresh build directory, run `build()` and `package()`
//! in the sandbox, then write the image, its file list, its signature and the license reports
//! into a staging directory that is renamed into place file by file only once everything
//! exists: a failed build leaves nothing in the output directory.

use std::collections::HashMap;
use std::fs;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use nanolin_core::version::ReleaseVersion;

use crate::cli::{PackageBuildArgs, PackageCommand, PackageIdArgs};
use crate::cmd::{open_secret_key, step};
use crate::error::{Error, Status};
use crate::fetch::{content_digest, fetch, fetch_crates, FetchProgress, FetchStep, SourceCache};
use crate::license::compiled::CompiledCrates;
use crate::license::{check_expression, report_text, scan, spdx_json, PackageInfo};
use crate::pkgimage::{write_image, write_list};
use crate::recipe::{package_ids, Location, Pin, Recipe, SourceEntry};
use crate::sandbox::{Sandbox, StepOutput, BUILD_DIR};
use crate::signing::{
    default_trusted_comment, sign_file, signature_file_text, signing_time, verify_with_comment,
};

/// Runs `nanolin package …`.
pub fn run(command: PackageCommand) -> Result<Status, Error> {
    match command {
        PackageCommand::Build(args) => build(args),
        PackageCommand::Id(args) => print_ids(args),
    }
}

/// The `*.rcp` files of `dir`, sorted.
fn recipes_in(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let entries = fs::read_dir(dir).map_err(|e| Error::io("list", dir, e))?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rcp"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// `nanolin package id`: the ids of a directory's recipes, or of the recipes given (each
/// read with the recipes beside it, which its dependencies are among).
fn print_ids(args: PackageIdArgs) -> Result<Status, Error> {
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from("recipes")]
    } else {
        args.paths
    };
    let cache = SourceCache::from_env()?;
    // Whole directories, and single recipes by their canonical paths.
    let mut whole: Vec<PathBuf> = Vec::new();
    let mut wanted: std::collections::HashSet<PathBuf> = std::collections::HashSet::new();
    let mut dirs: Vec<PathBuf> = Vec::new();
    for path in &paths {
        if path.is_dir() {
            dirs.push(path.clone());
            whole.push(path.clone());
        } else {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
                _ => PathBuf::from("."),
            };
            dirs.push(dir);
            wanted.insert(fs::canonicalize(path).map_err(|e| Error::io("read", path, e))?);
        }
    }
    dirs.sort();
    dirs.dedup();
    let mut out = String::new();
    for dir in dirs {
        let all = whole.contains(&dir);
        for (recipe, id) in recipes_with_ids(&dir, &cache)? {
            let listed = all || fs::canonicalize(&recipe.path).is_ok_and(|p| wanted.contains(&p));
            if listed {
                out.push_str(&format!("{} {id}\n", recipe.name));
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(out.as_bytes())
        .map_err(|e| Error::io("write", Path::new("standard output"), e))?;
    Ok(Status::Success)
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
    let mut env = vec![
        ("CARCH".to_string(), carch.to_string()),
        ("CHOST".to_string(), target.to_string()),
        ("CC".to_string(), cc.to_string()),
    ];
    // Recipes that build Rust use the host's toolchain, read-only: its real binaries, not
    // rustup's proxies (which would look for their settings in the sandbox's $HOME).
    if let Some(bin) = rust_toolchain_bin() {
        env.push((
            "PATH".into(),
            format!("{}:{}", crate::sandbox::PATH, bin.display()),
        ));
    }
    Ok(env)
}

/// The `bin` directory of the Rust toolchain `rustc` on our `PATH` runs, if there is one.
fn rust_toolchain_bin() -> Option<PathBuf> {
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let sysroot = String::from_utf8(output.stdout).ok()?;
    let bin = Path::new(sysroot.trim()).join("bin");
    (output.status.success() && bin.join("cargo").exists()).then_some(bin)
}

/// Sets each recipe's [`Recipe::content_digests`] (its `tree+` and `cargo+` sources hashed),
/// so its package id covers them.
fn hash_contents(recipes: &mut [Recipe], cache: &SourceCache) -> Result<(), Error> {
    // Recipes of one tree share its sources (`tree+..`, `cargo+../Cargo.lock`): each is
    // archived or hashed once.
    let mut known: HashMap<PathBuf, [u8; 32]> = HashMap::new();
    for recipe in recipes {
        let mut digests = Vec::new();
        for source in recipe.sources.iter().filter(|s| s.pin == Pin::Content) {
            let place = match &source.entry.location {
                Location::Tree { dir } => recipe.dir().join(dir),
                Location::CargoLock { lock } => recipe.dir().join(lock),
                _ => PathBuf::new(),
            };
            let digest = match known.get(&place) {
                Some(digest) => *digest,
                None => content_digest(&source.entry, recipe.dir(), cache)?,
            };
            known.insert(place, digest);
            digests.push(digest);
        }
        recipe.content_digests = digests;
    }
    Ok(())
}

/// Recipes with their package ids, in the order given.
fn identify(mut recipes: Vec<Recipe>, cache: &SourceCache) -> Result<Vec<(Recipe, String)>, Error> {
    hash_contents(&mut recipes, cache)?;
    let ids = package_ids(&recipes)?;
    recipes
        .into_iter()
        .map(|recipe| {
            let id = ids
                .get(&recipe.name)
                .map(ToString::to_string)
                .ok_or_else(|| Error::Refused(format!("no package id for {}", recipe.name)))?;
            Ok((recipe, id))
        })
        .collect()
}

/// Every recipe in `dir` with its package id.
pub fn recipes_with_ids(dir: &Path, cache: &SourceCache) -> Result<Vec<(Recipe, String)>, Error> {
    let recipes = recipes_in(dir)?
        .iter()
        .map(|p| Recipe::load(p))
        .collect::<Result<Vec<_>, _>>()?;
    identify(recipes, cache)
}

/// The cargo configuration a `cargo+` source's build directory gets in `$HOME/.cargo`: the
/// vendored crates stand in for crates.io, and cargo never goes to the network.
fn cargo_config(vendor: &str) -> String {
    format!(
        "# Written by nanolin package build: crates come from the vendored sources only.\n\
         [source.crates-io]\nreplace-with = \"nanolin-vendored\"\n\n\
         [source.nanolin-vendored]\ndirectory = \"{BUILD_DIR}/{vendor}\"\n\n\
         [net]\noffline = true\n"
    )
}

/// Unpacks a lock file's crates into `src/NAME` as a cargo vendor directory (each crate in
/// `NAME-VERSION/` with the `.cargo-checksum.json` cargo checks against the lock) and points
/// cargo at it from `src/.cargo/config.toml`.
fn vendor_crates(
    entry: &SourceEntry,
    lock: &Path,
    cache: &SourceCache,
    src: &Path,
) -> Result<(), Error> {
    let name = &entry.file_name;
    let crates = fetch_crates(entry, lock, cache, &mut progress_printer(name.clone()))?;
    let vendor = src.join(name);
    for (krate, path) in &crates {
        untar(path, &vendor)?;
        let checksum = vendor
            .join(format!("{}-{}", krate.name, krate.version))
            .join(".cargo-checksum.json");
        let text = format!(
            "{{\"files\":{{}},\"package\":\"{}\"}}",
            krate.checksum_hex()
        );
        fs::write(&checksum, text).map_err(|e| Error::io("write", &checksum, e))?;
    }
    let config_dir = src.join(".cargo");
    fs::create_dir_all(&config_dir).map_err(|e| Error::io("create", &config_dir, e))?;
    let config = config_dir.join("config.toml");
    fs::write(&config, cargo_config(name)).map_err(|e| Error::io("write", &config, e))?;
    eprintln!("    {name}: {} crates vendored", crates.len());
    Ok(())
}

/// Every recipe in `dir` (for the ids of dependencies).
fn sibling_recipes(recipe: &Recipe) -> Result<Vec<Recipe>, Error> {
    let mut recipes = vec![recipe.clone()];
    for path in recipes_in(recipe.dir())? {
        if path == recipe.path {
            continue;
        }
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

/// Unpacks the files of a Debian binary package into `into` (its control files are left out).
fn unpack_deb(deb: &Path, into: &Path) -> Result<(), Error> {
    let output = Command::new("dpkg-deb")
        .arg("--extract")
        .arg(deb)
        .arg(into)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Refused(format!(
                "{}: unpacking a .deb source needs dpkg-deb: install dpkg",
                deb.display()
            )),
            _ => Error::io("run dpkg-deb on", deb, e),
        })?;
    if !output.status.success() {
        return Err(Error::Refused(format!(
            "{}: dpkg-deb could not unpack it ({}): {}",
            deb.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

fn step_name(step: FetchStep) -> &'static str {
    match step {
        FetchStep::Verify => "checking the cached copy",
        FetchStep::Copy => "copying into the cache",
        FetchStep::Download => "downloading",
        FetchStep::Archive => "archiving",
        FetchStep::Crates => "fetching its crates",
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
    let key = if args.key.secret_key.is_some() {
        Some(open_secret_key(args.key)?)
    } else {
        None
    };
    let out = args.output.unwrap_or_else(|| PathBuf::from("out/packages"));
    let cache = SourceCache::from_env()?;
    let (recipe, id) = recipe_id(&args.recipe, &cache)?;
    build_recipe(
        &recipe,
        &id,
        &cache,
        args.target.as_deref(),
        key.as_ref(),
        &out,
        args.verbose,
    )?;
    Ok(Status::Success)
}

/// A package a build wrote.
#[derive(Debug, Clone)]
pub struct BuiltPackage {
    /// Its package id.
    pub id: String,
    /// The files written into the output directory: `.img`, `.lst`, `.licenses.txt`,
    /// `.spdx.json`, and `.img.sig` when signed.
    pub files: Vec<PathBuf>,
}

impl BuiltPackage {
    /// The written file whose name ends with `ext` (`.img`, `.lst`…).
    pub fn file(&self, ext: &str) -> Option<&Path> {
        self.files
            .iter()
            .find(|f| f.to_string_lossy().ends_with(ext))
            .map(PathBuf::as_path)
    }
}

/// The package id of the recipe at `path`, read with the recipes beside it.
pub fn recipe_id(path: &Path, cache: &SourceCache) -> Result<(Recipe, String), Error> {
    let recipe = Recipe::load(path)?;
    let recipes = sibling_recipes(&recipe)?;
    identify(recipes, cache)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Refused(format!("no package id for {}", recipe.name)))
}

/// Builds `recipe` (whose package id is `id`) for `target` (the host's when `None`), signs
/// the image with `key` when given, and moves the outputs into `out` once they all exist.
pub fn build_recipe(
    recipe: &Recipe,
    id: &str,
    cache: &SourceCache,
    target: Option<&str>,
    key: Option<&(crate::keyfile::SigningKey, PathBuf)>,
    out: &Path,
    verbose: bool,
) -> Result<BuiltPackage, Error> {
    step(&format!(
        "{} {}-{}: package id {id}",
        recipe.name, recipe.version, recipe.release
    ));
    let declared =
        check_expression(&recipe.license).map_err(|e| e.at(&recipe.path, recipe.license_line()))?;
    let epoch = signing_time();
    let version = ReleaseVersion::from_unix(epoch)
        .map_err(|e| Error::Usage(format!("SOURCE_DATE_EPOCH {epoch}: {e}")))?;
    let env = match target {
        Some(t) => target_env(t)?,
        None => Vec::new(),
    };
    let work = std::env::temp_dir().join(format!("nanolin-build-{}-{}", id, std::process::id()));
    let _ = fs::remove_dir_all(&work);
    let result = build_in(
        recipe, cache, id, declared, epoch, &env, verbose, key, &work, &version,
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
    fs::create_dir_all(out).map_err(|e| Error::io("create", out, e))?;
    step(&format!("writing into {}", out.display()));
    let mut files = Vec::new();
    for (file, size) in &outputs.files {
        let name = file.file_name().map(PathBuf::from).unwrap_or_default();
        let target = out.join(&name);
        fs::rename(file, &target)
            .or_else(|_| fs::copy(file, &target).map(|_| ()))
            .map_err(|e| Error::io("move into place", &target, e))?;
        eprintln!("    {:<56} {size:>10} bytes", target.display());
        files.push(target);
    }
    let _ = fs::remove_dir_all(&work);
    Ok(BuiltPackage {
        id: id.to_string(),
        files,
    })
}

#[allow(clippy::too_many_arguments)]
fn build_in(
    recipe: &Recipe,
    cache: &SourceCache,
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
    let mut content_digests = recipe.content_digests.iter();
    for source in &recipe.sources {
        let name = source.entry.file_name.clone();
        let digest = if source.pin == Pin::Content {
            content_digests.next()
        } else {
            None
        };
        if let Location::CargoLock { lock } = &source.entry.location {
            vendor_crates(&source.entry, &recipe.dir().join(lock), cache, &src)?;
            continue;
        }
        // A tree was archived into the cache when its package id was computed.
        if let (Location::Tree { .. }, Some(digest)) = (&source.entry.location, digest) {
            let archive = cache.sha256_entry(digest);
            if archive.is_file() {
                untar(&archive, &src.join(&name))?;
                continue;
            }
        }
        let entry = fetch(
            &source.entry,
            &source.pin,
            recipe.dir(),
            cache,
            &mut progress_printer(name.clone()),
        )?;
        match &source.entry.location {
            Location::Git { .. } | Location::Tree { .. } => untar(&entry, &src.join(&name))?,
            _ => {
                let copy = src.join(&name);
                fs::copy(&entry, &copy).map_err(|e| Error::io("copy", &copy, e))?;
                if is_archive(&name) {
                    untar(&copy, &src)?;
                } else if let Some(stem) = name.strip_suffix(".deb") {
                    unpack_deb(&copy, &src.join(stem))?;
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
        output: if verbose {
            StepOutput::Stream
        } else {
            StepOutput::Status(format!("{}: building", recipe.name))
        },
    };
    let started = std::time::Instant::now();
    sandbox.run(&["/bin/sh", "-e", "-c", script])?;
    eprintln!(
        "    {}: built in {}",
        recipe.name,
        crate::status_line::format_elapsed(started.elapsed())
    );
    let mut scanned = scanned;
    if let Some(compiled) = CompiledCrates::read(&src, BUILD_DIR) {
        scanned.retain(|file| compiled.keeps(file));
        eprintln!(
            "    license report: the {} crates cargo compiled ({} files of other sources left out)",
            compiled.len(),
            scanned.stats.files_left_out
        );
    }

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
