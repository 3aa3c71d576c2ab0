use std::fs;
use std::path::{Path, PathBuf};

use nanolin_core::version::ReleaseVersion;
use nanolin_core::KeyNumber;

use super::*;
use crate::bundling::{create, BundleSpec, ImageSource};

/// A key made from `seed` (every byte of seed and key number `seed`).
pub(crate) fn test_key(seed: u8) -> SigningKey {
    let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new([seed; 32]));
    SigningKey {
        key_number: KeyNumber([seed; 8]),
        secret: *pair.sk,
    }
}

/// A signer with `key` at a fixed time (2026-11-22).
pub(crate) fn signer(key: &SigningKey) -> Signer<'_> {
    Signer::at(key, Path::new("test.sec"), 1_795_000_000)
}

/// A new repository of `key` in a temporary directory, indexed once.
pub(crate) fn new_repo(key: &SigningKey) -> (tempfile::TempDir, Repository) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("repo");
    let (repo, created) = Repository::create(&root, key, Path::new("test.sec")).unwrap();
    assert!(created);
    index::write_index(&repo, &signer(key), None, 86_400).unwrap();
    (dir, repo)
}

/// Writes `bytes` to `dir/name` and its signature by `key` to `dir/name.sig`.
pub(crate) fn signed_file(dir: &Path, name: &str, bytes: &[u8], key: &SigningKey) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, bytes).unwrap();
    fs::write(
        dir.join(format!("{name}.sig")),
        signer(key).sign(name, bytes).unwrap(),
    )
    .unwrap();
    path
}

/// A bundle for `board` at `version`, signed by `key`, written to `dir/name`.
pub(crate) fn bundle(
    dir: &Path,
    name: &str,
    board: &str,
    version: &str,
    key: &SigningKey,
) -> PathBuf {
    let image = dir.join(format!("{name}.rootfs"));
    fs::write(&image, format!("root file system of {version}").repeat(300)).unwrap();
    let out = dir.join(name);
    create(
        &BundleSpec {
            compatible: board,
            version: ReleaseVersion::parse(version).unwrap(),
            min_version: None,
            created: 1_795_000_000,
            expires: None,
            chunk_size: 4096,
            hashes_per_block: 4096,
            images: &[ImageSource {
                name: "rootfs".into(),
                path: image,
            }],
            untrusted_comment: "verify with test.pub".into(),
        },
        key,
        &out,
    )
    .unwrap();
    out
}

#[test]
fn safe_names_are_plain_url_and_index_words() {
    for good in [
        "hello-1.0-r26.11-G22134501.img",
        "a",
        "x_y+z~1.nlb",
        "QEMU-virt",
    ] {
        assert!(is_safe_name(good), "{good}");
    }
    let long = "a".repeat(NAME_MAX_LEN + 1);
    for bad in [
        "",
        ".hidden",
        "-flag",
        "a b",
        "a/b",
        "a\"b",
        "a$b",
        "é",
        "a%20",
        "..",
        long.as_str(),
    ] {
        assert!(!is_safe_name(bad), "{bad}");
    }
}

#[test]
fn index_paths_are_the_archives_or_files_under_artifact_dirs() {
    for good in [
        "packages.tgz",
        "manifest.tgz",
        "packages/x.img",
        "releases/qemu-aarch64-virt/p.nlb",
        "distros/a/b/c",
    ] {
        assert!(is_index_path(good), "{good}");
    }
    for bad in [
        "index",
        "signature.pub",
        "packages",
        "packages/",
        "channels/b/stable",
        "packages/../index",
        "/packages/x",
        "packages//x",
        "other/x",
    ] {
        assert!(!is_index_path(bad), "{bad}");
    }
}

#[test]
fn sha256_hex_round_trip() {
    let bytes: [u8; 32] = std::array::from_fn(|i| (i * 7) as u8);
    assert_eq!(parse_sha256(&hex(&bytes)), Some(bytes));
    assert_eq!(parse_sha256(&hex(&bytes).to_uppercase()), None);
    assert_eq!(parse_sha256(&hex(&bytes)[1..]), None);
    assert_eq!(parse_sha256(&format!("{}g", &hex(&bytes)[1..])), None);
}

#[test]
fn pairs_expand_earlier_values_and_skip_functions_only_when_asked() {
    let text = "name=hello\nfile=\"$name 1\"\nbuild() {\n  make\n}\n";
    let pairs = read_pairs(text, true).unwrap();
    assert_eq!(pairs.len(), 2);
    assert_eq!(pairs[1].value, "hello 1");
    assert_eq!(pairs[1].line, 2);
    let e = read_pairs(text, false).unwrap_err();
    assert!(e.contains("line 3") && e.contains("functions"), "{e}");
}

#[test]
fn create_makes_the_layout_and_refuses_a_directory_with_other_files() {
    let key = test_key(1);
    let (dir, repo) = new_repo(&key);
    for name in [
        "packages",
        "distros",
        "releases",
        "channels",
        "signature.pub",
        "index",
        "index.sig",
        "packages.tgz",
        "manifest.tgz",
    ] {
        assert!(repo.path(name).exists(), "{name}");
    }
    let text = fs::read_to_string(repo.path(SIGNATURE_PUB)).unwrap();
    assert!(text.starts_with("untrusted comment: nanolin repository public key\n"));
    assert_eq!(
        crate::keyfile::load_public_key(&repo.path(SIGNATURE_PUB)).unwrap(),
        key.public_key()
    );
    // The same key again: opened as it is.
    let (_, created) = Repository::create(repo.root(), &key, Path::new("k.sec")).unwrap();
    assert!(!created);
    // Another key: refused with both numbers.
    let e = Repository::create(repo.root(), &test_key(2), Path::new("other.sec")).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("other.sec is key 0202020202020202")
            && text.contains("trusts key 0101010101010101"),
        "{text}"
    );
    assert_eq!(e.status(), Status::No);
    // A directory with other files.
    let other = dir.path().join("other");
    fs::create_dir(&other).unwrap();
    fs::write(other.join("notes.txt"), "x").unwrap();
    let e = Repository::create(&other, &key, Path::new("k.sec")).unwrap_err();
    assert!(matches!(e, Error::Repo(RepoError::NotEmpty { .. })), "{e}");
    assert!(!other.join(SIGNATURE_PUB).exists());
    // Not a repository.
    let e = Repository::open(&other).unwrap_err();
    assert!(e.to_string().contains("nanolin repo init"), "{e}");
    assert_eq!(e.status(), Status::Usage);
}

#[test]
fn signatures_hold_under_the_repository_key_only() {
    let key = test_key(1);
    let (_dir, repo) = new_repo(&key);
    let message = b"board=b\n";
    let sig = signer(&key).sign("stable", message).unwrap();
    let here = Path::new("stable");
    repo.verify_bytes(message, &sig, Path::new("stable.sig"), here)
        .unwrap();
    let e = repo
        .verify_bytes(b"board=c\n", &sig, Path::new("stable.sig"), here)
        .unwrap_err();
    assert!(matches!(e, RepoError::BadSignature { .. }), "{e}");
    let other = signer(&test_key(2)).sign("stable", message).unwrap();
    let e = repo
        .verify_bytes(message, &other, Path::new("stable.sig"), here)
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("signed by key 0202020202020202")
            && text.contains("trusts key 0101010101010101"),
        "{text}"
    );
}

#[test]
fn the_signer_writes_what_nanolin_sign_writes() {
    let key = test_key(3);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("stable");
    fs::write(&file, "board=b\n").unwrap();
    let signature = crate::signing::sign_file(&key, &file).unwrap();
    let expected = crate::signing::signature_file_text(
        &key,
        signature,
        "verify with test.pub",
        &crate::signing::default_trusted_comment(&file, 1_795_000_000),
    )
    .unwrap();
    assert_eq!(signer(&key).sign("stable", b"board=b\n").unwrap(), expected);
}

#[test]
fn copy_new_never_replaces_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, dest) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("dest"),
    );
    fs::write(&a, "first").unwrap();
    fs::write(&b, "second").unwrap();
    copy_new(&a, &dest).unwrap();
    let e = copy_new(&b, &dest).unwrap_err();
    assert!(matches!(e, Error::Repo(RepoError::Immutable { .. })), "{e}");
    assert_eq!(fs::read(&dest).unwrap(), b"first");
    // No temporary file is left behind.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(same_contents(&a, &dest).unwrap());
    assert!(!same_contents(&b, &dest).unwrap());
}
