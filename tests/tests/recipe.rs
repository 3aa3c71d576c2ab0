//! Recipes and their sources against real files and peers: the fixture recipes under
//! tests/fixtures/recipes/ (read as `sh` reads them, with package ids pinned across runs and
//! checked with `sha256sum`), a syntax error and a dependency cycle as files, and fetching
//! into the source cache from a local file, from nginx on 127.0.0.1 and from a git repository
//! made here — each with its bad case: a wrong pin, a missing file, a wrong commit.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::nginx::Nginx;
use common::{peer, workspace};
use nanolin_host::fetch::{fetch, FetchError, FetchProgress, FetchStep, SourceCache};
use nanolin_host::recipe::{package_ids, Recipe, RecipeError};

/// The ids of the fixture recipes. They change only when a fixture does (or the id's
/// definition): a change here on its own means ids are not stable across machines or runs.
const FIXTURE_IDS: [(&str, &str); 3] = [
    ("busybox", "busybox-1.36.1-c9ce9f8353c2eb18"),
    ("greeting", "greeting-2_rc1-9fef83c7ce0d48e2"),
    ("hello", "hello-1.0-8117a02a319f7cbe"),
];

fn fixtures() -> PathBuf {
    workspace().join("tests/fixtures/recipes")
}

/// Every `.rcp` directly in `dir`, by file name.
fn load_dir(dir: &Path) -> Vec<Recipe> {
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rcp"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| Recipe::load(p).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn ids_of(recipes: &[Recipe]) -> BTreeMap<String, String> {
    package_ids(recipes)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|(name, id)| (name, id.to_string()))
        .collect()
}

/// `sha256sum` of `bytes`, the peer tool's answer.
fn sha256sum(bytes: &[u8]) -> String {
    let mut child = Command::new(peer("sha256sum", "coreutils"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()[..64].to_string()
}

#[test]
fn fixture_package_ids_are_stable_and_hash_the_bytes_and_dependency_ids() {
    let recipes = load_dir(&fixtures());
    let ids = ids_of(&recipes);
    let expected: BTreeMap<String, String> = FIXTURE_IDS
        .iter()
        .map(|(n, id)| (n.to_string(), id.to_string()))
        .collect();
    assert_eq!(ids, expected);
    // The same definition, by sha256sum: recipe bytes, then each dependency's id and a newline
    // (depends, then makedepends).
    let hello = fs::read(fixtures().join("hello.rcp")).unwrap();
    let mut input = hello.clone();
    for dependency in ["busybox", "greeting"] {
        input.extend_from_slice(ids[dependency].as_bytes());
        input.push(b'\n');
    }
    assert_eq!(
        ids["hello"],
        format!("hello-1.0-{}", &sha256sum(&input)[..16])
    );
    let busybox = fs::read(fixtures().join("busybox.rcp")).unwrap();
    assert_eq!(
        ids["busybox"],
        format!("busybox-1.36.1-{}", &sha256sum(&busybox)[..16])
    );
    // Loaded again, in another order: the same ids.
    let mut reversed = load_dir(&fixtures());
    reversed.reverse();
    assert_eq!(ids_of(&reversed), ids);
}

#[test]
fn one_byte_changes_the_id_and_every_id_that_depends_on_it() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["busybox.rcp", "greeting.rcp", "hello.rcp"] {
        fs::copy(fixtures().join(name), dir.path().join(name)).unwrap();
    }
    let before = ids_of(&load_dir(dir.path()));
    assert_eq!(before, ids_of(&load_dir(&fixtures())));

    // One byte of hello: only hello's id changes.
    let hello = dir.path().join("hello.rcp");
    let text = fs::read_to_string(&hello).unwrap();
    fs::write(&hello, text.replace("release=1", "release=2")).unwrap();
    let after = ids_of(&load_dir(dir.path()));
    assert_ne!(after["hello"], before["hello"]);
    assert_eq!(after["busybox"], before["busybox"]);
    assert_eq!(after["greeting"], before["greeting"]);
    fs::write(&hello, text).unwrap();

    // One byte of busybox (a comment, even): busybox, and both recipes that need it.
    let busybox = dir.path().join("busybox.rcp");
    let mut bytes = fs::read(&busybox).unwrap();
    bytes[2] ^= 0x20;
    fs::write(&busybox, bytes).unwrap();
    let after = ids_of(&load_dir(dir.path()));
    for name in ["busybox", "greeting", "hello"] {
        assert_ne!(after[name], before[name], "{name}");
        assert!(after[name].starts_with(&format!("{name}-")));
    }
}

#[test]
fn fixture_values_are_what_sh_assigns() {
    let sh = peer("sh", "dash");
    for recipe in load_dir(&fixtures()) {
        let script = r#". "$1"; printf '%s\n' "$name" "$version" "$release" "$license" "$source" "$sha256sums" "$depends" "$makedepends""#;
        let out = Command::new(&sh)
            .args(["-c", script, "sh"])
            .arg(&recipe.path)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", recipe.path.display());
        let sources: Vec<&str> = recipe
            .sources
            .iter()
            .map(|s| s.entry.written.as_str())
            .collect();
        let sums: Vec<String> = recipe.sources.iter().map(|s| pin_text(&s.pin)).collect();
        let ours = [
            recipe.name.clone(),
            recipe.version.clone(),
            recipe.release.to_string(),
            recipe.license.clone(),
            sources.join(" "),
            sums.join(" "),
            recipe.depends.join(" "),
            recipe.makedepends.join(" "),
        ]
        .join("\n")
            + "\n";
        assert_eq!(String::from_utf8_lossy(&out.stdout), ours);
    }
}

fn pin_text(pin: &nanolin_host::recipe::Pin) -> String {
    match pin {
        nanolin_host::recipe::Pin::Sha256(_) => {
            pin.to_string().trim_start_matches("sha256 ").to_string()
        }
        nanolin_host::recipe::Pin::Commit(_) | nanolin_host::recipe::Pin::Content => {
            "SKIP".to_string()
        }
    }
}

#[test]
fn a_syntax_error_names_file_line_and_column() {
    let path = fixtures().join("bad/syntax-error.rcp");
    let e = Recipe::load(&path).unwrap_err();
    assert!(matches!(e, RecipeError::Syntax { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:6:23: command substitution ($(…) or backticks) needs a shell: write the value out",
            path.display()
        )
    );
}

#[test]
fn a_dependency_cycle_is_named() {
    let dir = fixtures().join("cycle");
    let e = package_ids(&load_dir(&dir)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:6:1: dependency cycle a → b → a: remove one of these dependencies",
            dir.join("b.rcp").display()
        )
    );
}

#[test]
fn a_missing_dependency_names_it_and_the_recipe() {
    let hello = Recipe::load(&fixtures().join("hello.rcp")).unwrap();
    let busybox = Recipe::load(&fixtures().join("busybox.rcp")).unwrap();
    let e = package_ids(&[hello, busybox]).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}:11:1: hello depends on `greeting`, which no recipe provides: add a recipe for \
             it, or remove it from the dependencies",
            fixtures().join("hello.rcp").display()
        )
    );
}

/// Every file in `dir` and below, with its bytes.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                let bytes = fs::read(&path).unwrap();
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    out
}

/// Fetches every source of `recipe` into `cache`, collecting progress reports.
fn fetch_all(
    recipe: &Recipe,
    cache: &SourceCache,
) -> (Result<Vec<PathBuf>, FetchError>, Vec<FetchProgress>) {
    let mut reports = Vec::new();
    let result = recipe
        .sources
        .iter()
        .map(|s| {
            fetch(&s.entry, &s.pin, recipe.dir(), cache, &mut |p| {
                reports.push(p)
            })
        })
        .collect();
    (result, reports)
}

#[test]
fn local_files_are_copied_in_then_found_in_the_cache_without_a_copy() {
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = SourceCache::new(cache_dir.path());
    let hello = Recipe::load(&fixtures().join("hello.rcp")).unwrap();
    let (paths, reports) = fetch_all(&hello, &cache);
    let paths = paths.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        fs::read(&paths[0]).unwrap(),
        fs::read(fixtures().join("files/hello.c")).unwrap()
    );
    assert!(reports.iter().any(|r| r.step == FetchStep::Copy));
    let first = tree(cache_dir.path());
    assert_eq!(first.len(), 2);
    for (path, bytes) in &first {
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(name, sha256sum(bytes), "the cache is content-addressed");
        assert!(path.starts_with("sha256"));
    }
    let modified = fs::metadata(&paths[0]).unwrap().modified().unwrap();

    // Again: the entries are re-hashed, not copied.
    let (again, reports) = fetch_all(&hello, &cache);
    assert_eq!(again.unwrap(), paths);
    assert!(
        reports.iter().all(|r| r.step == FetchStep::Verify),
        "{reports:?}"
    );
    assert_eq!(
        fs::metadata(&paths[0]).unwrap().modified().unwrap(),
        modified
    );
    assert_eq!(tree(cache_dir.path()), first);
}

/// A recipe in `dir` with one source and its sum.
fn write_recipe(dir: &Path, source: &str, sum: &str) -> Recipe {
    let text = format!(
        "name=t\nversion=1\nrelease=1\nlicense=MIT\n\nsource=\"{source}\"\nsha256sums=\"{sum}\"\npackage() {{\n\t:\n}}\n"
    );
    let path = dir.join("t.rcp");
    fs::write(&path, text).unwrap();
    Recipe::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// Bytes from a xorshift generator: random-looking, the same every run.
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len + 8);
    while bytes.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        bytes.extend_from_slice(&seed.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

#[test]
fn downloads_from_nginx_stream_into_the_cache_and_are_fetched_once() {
    let site = tempfile::tempdir().unwrap();
    let tarball = random_bytes(3 * 1024 * 1024 + 17, 5);
    fs::write(site.path().join("hello-1.0.tar.gz"), &tarball).unwrap();
    let nginx = Nginx::start(site.path());
    let work = tempfile::tempdir().unwrap();
    let cache = SourceCache::new(work.path().join("cache"));
    let url = nginx.url("hello-1.0.tar.gz");
    let recipe = write_recipe(work.path(), &url, &sha256sum(&tarball));

    let (paths, reports) = fetch_all(&recipe, &cache);
    let paths = paths.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(fs::read(&paths[0]).unwrap(), tarball);
    let len = tarball.len() as u64;
    assert!(reports.len() > 1, "progress is reported while it streams");
    assert!(reports
        .iter()
        .all(|r| r.step == FetchStep::Download && r.total == Some(len)));
    assert_eq!(reports.last().map(|r| r.done), Some(len));
    assert_eq!(nginx.wait_for_requests(1).len(), 1);

    // Cached: no request at all.
    let (again, _) = fetch_all(&recipe, &cache);
    assert_eq!(again.unwrap(), paths);
    assert_eq!(nginx.requests().len(), 1);
}

#[test]
fn a_wrong_pin_is_refused_with_both_hashes_and_the_cache_is_unchanged() {
    let site = tempfile::tempdir().unwrap();
    fs::write(site.path().join("hello-1.0.tar.gz"), b"changed upstream\n").unwrap();
    let nginx = Nginx::start(site.path());
    let work = tempfile::tempdir().unwrap();
    let cache_dir = work.path().join("cache");
    let cache = SourceCache::new(&cache_dir);
    // Something cached already, which must stay as it is.
    let kept = write_recipe(work.path(), "kept.txt", &sha256sum(b"kept\n"));
    fs::write(work.path().join("kept.txt"), b"kept\n").unwrap();
    fetch_all(&kept, &cache).0.unwrap();
    let before = tree(&cache_dir);

    let pinned = sha256sum(b"the release as it was\n");
    let recipe = write_recipe(work.path(), &nginx.url("hello-1.0.tar.gz"), &pinned);
    let e = fetch_all(&recipe, &cache).0.unwrap_err();
    assert!(matches!(e, FetchError::Mismatch { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:6:1: hello-1.0.tar.gz: sha256 mismatch: expected {pinned}, got {}: the source \
             changed upstream or the pin is wrong",
            work.path().join("t.rcp").display(),
            sha256sum(b"changed upstream\n")
        )
    );
    assert_eq!(tree(&cache_dir), before, "nothing left behind");
}

#[test]
fn a_missing_source_names_the_path_or_url_and_the_recipe_line() {
    let site = tempfile::tempdir().unwrap();
    let nginx = Nginx::start(site.path());
    let work = tempfile::tempdir().unwrap();
    let cache_dir = work.path().join("cache");
    let cache = SourceCache::new(&cache_dir);
    let recipe_path = work.path().join("t.rcp");
    let sum = sha256sum(b"");

    let recipe = write_recipe(work.path(), "src/gone.tar.gz", &sum);
    let e = fetch_all(&recipe, &cache).0.unwrap_err();
    assert!(matches!(e, FetchError::Missing { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:6:1: source `src/gone.tar.gz`: {} does not exist: put it there, or fix the path \
             in the recipe",
            recipe_path.display(),
            work.path().join("src/gone.tar.gz").display()
        )
    );

    let url = nginx.url("gone.tar.gz");
    let recipe = write_recipe(work.path(), &url, &sum);
    let e = fetch_all(&recipe, &cache).0.unwrap_err();
    assert!(
        matches!(e, FetchError::HttpStatus { status: 404, .. }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{}:6:1: {url}: the server answered 404 (no such file): check the URL, or try again \
             later",
            recipe_path.display()
        )
    );
    // A server that is not there.
    let closed = format!("http://127.0.0.1:{}/x.tgz", closed_port());
    let recipe = write_recipe(work.path(), &closed, &sum);
    let e = fetch_all(&recipe, &cache).0.unwrap_err();
    assert!(matches!(e, FetchError::Http { .. }), "{e:?}");
    assert!(e.to_string().contains(&closed), "{e}");
    assert!(tree(&cache_dir).is_empty());
}

/// A port on 127.0.0.1 where nothing listens (a moment ago).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Runs git in `dir` with a fixed identity and dates, so commits are the same every run.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(peer("git", "git"))
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=Nanolin Test",
            "-c",
            "user.email=test@nanolin.invalid",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A repository `lib` in `dir` with two commits: the first and the second's ids.
fn make_repository(dir: &Path) -> (String, String) {
    let repo = dir.join("lib");
    fs::create_dir_all(repo.join("src")).unwrap();
    git(&repo, &["init", "-q"]);
    fs::write(repo.join("src/lib.c"), "int answer(void) { return 42; }\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "first"]);
    let first = git(&repo, &["rev-parse", "HEAD"]);
    fs::write(repo.join("src/lib.c"), "int answer(void) { return 43; }\n").unwrap();
    fs::write(repo.join("README"), "later\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "second"]);
    let second = git(&repo, &["rev-parse", "HEAD"]);
    (first, second)
}

#[test]
fn a_git_source_is_archived_at_its_commit_deterministically() {
    let work = tempfile::tempdir().unwrap();
    let (first, _second) = make_repository(work.path());
    let cache = SourceCache::new(work.path().join("cache"));
    let recipe = write_recipe(work.path(), &format!("git+lib#commit={first}"), "SKIP");
    assert_eq!(recipe.sources[0].entry.file_name, "lib");

    let (paths, reports) = fetch_all(&recipe, &cache);
    let path = paths.unwrap_or_else(|e| panic!("{e}")).remove(0);
    assert_eq!(path, work.path().join(format!("cache/git/{first}.tar")));
    assert!(reports.iter().all(|r| r.step == FetchStep::Archive));
    // The first commit's tree, whatever the work tree holds now.
    let listing = Command::new(peer("tar", "tar"))
        .arg("-tf")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&listing.stdout),
        "src/\nsrc/lib.c\n"
    );
    let extracted = Command::new(peer("tar", "tar"))
        .arg("-xOf")
        .arg(&path)
        .arg("src/lib.c")
        .output()
        .unwrap();
    assert_eq!(extracted.stdout, b"int answer(void) { return 42; }\n");

    // The same bytes from a fresh cache, and from an absolute file:// URL.
    let other = SourceCache::new(work.path().join("other"));
    let url = format!(
        "git+file://{}#commit={first}",
        work.path().join("lib").display()
    );
    let by_url = write_recipe(work.path(), &url, "SKIP");
    let again = fetch_all(&by_url, &other).0.unwrap().remove(0);
    assert_eq!(fs::read(&again).unwrap(), fs::read(&path).unwrap());

    // Cached: the repository is not needed any more.
    fs::remove_dir_all(work.path().join("lib")).unwrap();
    let (cached, reports) = fetch_all(&recipe, &cache);
    assert_eq!(cached.unwrap(), [path]);
    assert!(reports.iter().all(|r| r.step == FetchStep::Verify));
}

#[test]
fn a_wrong_commit_or_a_missing_repository_is_refused() {
    let work = tempfile::tempdir().unwrap();
    make_repository(work.path());
    let cache_dir = work.path().join("cache");
    let cache = SourceCache::new(&cache_dir);
    let recipe_path = work.path().join("t.rcp");

    let wrong = "0123456789abcdef0123456789abcdef01234567";
    let recipe = write_recipe(work.path(), &format!("git+lib#commit={wrong}"), "SKIP");
    let e = fetch_all(&recipe, &cache).0.unwrap_err();
    assert!(matches!(e, FetchError::UnknownCommit { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}:6:1: commit {wrong} is not in the git repository {}: fetch it into that \
             repository, or fix the commit in the recipe",
            recipe_path.display(),
            work.path().join("lib").display()
        )
    );

    // A blob's id is not a commit.
    let blob = git(&work.path().join("lib"), &["rev-parse", "HEAD:README"]);
    let recipe = write_recipe(work.path(), &format!("git+lib#commit={blob}"), "SKIP");
    let e = fetch_all(&recipe, &cache).0.unwrap_err();
    assert!(matches!(e, FetchError::UnknownCommit { .. }), "{e:?}");

    let recipe = write_recipe(work.path(), &format!("git+nowhere#commit={wrong}"), "SKIP");
    let e = fetch_all(&recipe, &cache).0.unwrap_err();
    assert!(matches!(e, FetchError::Missing { .. }), "{e:?}");
    assert!(e.to_string().contains("nowhere does not exist"), "{e}");

    // A directory inside the repository is not a repository of its own.
    let recipe = write_recipe(work.path(), &format!("git+lib/src#commit={wrong}"), "SKIP");
    let e = fetch_all(&recipe, &cache).0.unwrap_err();
    assert!(
        e.to_string().contains("not the top of a git repository"),
        "{e}"
    );
    assert!(tree(&cache_dir).is_empty());
}
