use std::collections::HashMap;

use nanolin_core::keyvalue::Position;

use super::*;

const CONTENT: &[u8] = b"int main(void) { return 0; }\n";

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

fn entry(location: Location, file_name: &str) -> SourceEntry {
    SourceEntry {
        written: file_name.to_string(),
        location,
        file_name: file_name.to_string(),
        place: Place {
            file: PathBuf::from("recipes/hello.rcp"),
            position: Position { line: 8, column: 1 },
        },
    }
}

/// Every file under `dir`, relative.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_cache_is_found_from_the_environment() {
    let vars = |pairs: &[(&str, &str)]| {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        SourceCache::from_vars(|name| map.get(name).cloned()).map(|c| c.root().to_path_buf())
    };
    let all = [(CACHE_ENV, "/c"), ("XDG_CACHE_HOME", "/x"), ("HOME", "/h")];
    assert_eq!(vars(&all).unwrap(), Path::new("/c"));
    assert_eq!(vars(&all[1..]).unwrap(), Path::new("/x/nanolin/sources"));
    assert_eq!(
        vars(&all[2..]).unwrap(),
        Path::new("/h/.cache/nanolin/sources")
    );
    // Empty and relative values do not count.
    assert_eq!(
        vars(&[(CACHE_ENV, ""), ("XDG_CACHE_HOME", "rel"), ("HOME", "/h")]).unwrap(),
        Path::new("/h/.cache/nanolin/sources")
    );
    assert!(matches!(vars(&[]), Err(FetchError::NoCache)));
    assert!(FetchError::NoCache.to_string().contains(CACHE_ENV));
}

#[test]
fn a_local_file_is_copied_in_once_then_verified_in_place() {
    let recipe_dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = SourceCache::new(cache_dir.path());
    fs::write(recipe_dir.path().join("hello.c"), CONTENT).unwrap();
    let sum = sha256(CONTENT);
    let source = entry(Location::Path("hello.c".into()), "hello.c");

    let mut steps = Vec::new();
    let path = fetch(
        &source,
        &Pin::Sha256(sum),
        recipe_dir.path(),
        &cache,
        &mut |p| steps.push(p),
    )
    .unwrap();
    assert_eq!(path, cache.sha256_entry(&sum));
    assert_eq!(fs::read(&path).unwrap(), CONTENT);
    let len = CONTENT.len() as u64;
    assert_eq!(
        steps.last(),
        Some(&FetchProgress {
            step: FetchStep::Copy,
            done: len,
            total: Some(len)
        })
    );
    assert_eq!(
        files(cache_dir.path()),
        [PathBuf::from("sha256").join(hex(&sum))]
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o644
        );
    }

    // The second time the original is not needed: the entry is hashed again and used.
    fs::remove_file(recipe_dir.path().join("hello.c")).unwrap();
    let mut steps = Vec::new();
    let again = fetch(
        &source,
        &Pin::Sha256(sum),
        recipe_dir.path(),
        &cache,
        &mut |p| steps.push(p),
    )
    .unwrap();
    assert_eq!(again, path);
    assert!(
        steps.iter().all(|p| p.step == FetchStep::Verify),
        "{steps:?}"
    );
}

#[test]
fn a_damaged_cache_entry_is_replaced() {
    let recipe_dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = SourceCache::new(cache_dir.path());
    fs::write(recipe_dir.path().join("hello.c"), CONTENT).unwrap();
    let sum = sha256(CONTENT);
    let target = cache.sha256_entry(&sum);
    fs::create_dir_all(target.parent().unwrap()).unwrap();
    fs::write(&target, b"half a file").unwrap();
    let source = entry(Location::Path("hello.c".into()), "hello.c");
    fetch(
        &source,
        &Pin::Sha256(sum),
        recipe_dir.path(),
        &cache,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(fs::read(&target).unwrap(), CONTENT);
}

#[test]
fn a_wrong_pin_is_refused_with_both_hashes_and_leaves_nothing() {
    let recipe_dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = SourceCache::new(cache_dir.path());
    fs::write(recipe_dir.path().join("hello.c"), CONTENT).unwrap();
    let wrong = sha256(b"something else");
    let source = entry(Location::Path("hello.c".into()), "hello.c");
    let e = fetch(
        &source,
        &Pin::Sha256(wrong),
        recipe_dir.path(),
        &cache,
        &mut |_| {},
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "recipes/hello.rcp:8:1: hello.c: sha256 mismatch: expected {}, got {}: the source \
             changed upstream or the pin is wrong",
            hex(&wrong),
            hex(&sha256(CONTENT))
        )
    );
    assert_eq!(files(cache_dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn a_missing_file_names_the_path_and_the_recipe_line() {
    let recipe_dir = tempfile::tempdir().unwrap();
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = SourceCache::new(cache_dir.path());
    let source = entry(Location::Path("gone.tgz".into()), "gone.tgz");
    let e = fetch(
        &source,
        &Pin::Sha256(sha256(CONTENT)),
        recipe_dir.path(),
        &cache,
        &mut |_| {},
    )
    .unwrap_err();
    assert!(matches!(e, FetchError::Missing { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with("recipes/hello.rcp:8:1: source `gone.tgz`: "),
        "{text}"
    );
    assert!(
        text.contains(&recipe_dir.path().join("gone.tgz").display().to_string()),
        "{text}"
    );
}

#[test]
fn a_pin_of_the_wrong_kind_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cache = SourceCache::new(dir.path());
    let commit = CommitId([7; 20]);
    let file = entry(Location::Path("a".into()), "a");
    let e = fetch(&file, &Pin::Commit(commit), dir.path(), &cache, &mut |_| {}).unwrap_err();
    assert!(matches!(e, FetchError::PinKind { .. }));
    let git = entry(
        Location::Git {
            repository: "r".into(),
        },
        "r",
    );
    let e = fetch(&git, &Pin::Sha256([0; 32]), dir.path(), &cache, &mut |_| {}).unwrap_err();
    assert!(matches!(e, FetchError::PinKind { .. }));
}

#[test]
fn a_directory_that_is_not_a_repository_top_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cache = SourceCache::new(dir.path().join("cache"));
    let plain = dir.path().join("plain");
    fs::create_dir(&plain).unwrap();
    let git = entry(
        Location::Git {
            repository: "plain".into(),
        },
        "plain",
    );
    let e = fetch(
        &git,
        &Pin::Commit(CommitId([7; 20])),
        dir.path(),
        &cache,
        &mut |_| {},
    )
    .unwrap_err();
    // Without git installed the message says so instead; either way nothing is cached.
    assert!(matches!(e, FetchError::Git { .. }), "{e:?}");
    assert!(!dir.path().join("cache").exists());
}
