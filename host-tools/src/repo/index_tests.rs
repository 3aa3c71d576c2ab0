use std::fs;

use super::*;
use crate::repo::tests::{new_repo, signer, test_key};
use crate::repo::Status;

const SHA_A: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const SHA_B: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

fn literal() -> String {
    format!(
        "# nanolin repository index: every artifact with its size and SHA-256; index.sig signs it\n\
         format=1\n\
         version=7\n\
         created=1795000000\n\
         expires=1797592000\n\
         file=\"manifest.tgz 4 {SHA_A}\"\n\
         file=\"packages/hello-1.0-r26.11-G22134501.img 4096 {SHA_B}\"\n"
    )
}

#[test]
fn parse_and_emit_the_literal_text() {
    let index = Index::parse(&literal()).unwrap();
    assert_eq!(index.version, 7);
    assert_eq!(index.created, 1_795_000_000);
    assert_eq!(index.expires, 1_797_592_000);
    assert_eq!(index.files.len(), 2);
    let entry = index
        .get("packages/hello-1.0-r26.11-G22134501.img")
        .unwrap();
    assert_eq!(entry.size, 4096);
    assert_eq!(crate::repo::hex(&entry.sha256), SHA_B);
    assert!(index.get("packages.tgz").is_none());
    assert_eq!(index.to_text(), literal());
}

#[test]
fn faults_are_refused_with_their_line() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "version=7\n",
            "version=7\nversion=8\n",
            "line 4: version= is given twice",
        ),
        (
            "format=1\n",
            "format=2\n",
            "format=2: this nanolin reads index format 1",
        ),
        ("format=1\n", "", "format= is missing"),
        ("expires=1797592000\n", "", "expires= is missing"),
        (
            "version=7\n",
            "version=7\nsigned=yes\n",
            "line 4: signed= is not part",
        ),
        (
            "version=7\n",
            "version=-1\n",
            "version=\"-1\" is not a number",
        ),
        (
            "manifest.tgz 4",
            "manifest.tgz 4 ",
            "expected \"PATH SIZE SHA256\"",
        ),
        (
            "manifest.tgz 4",
            "manifest.tgz x4",
            "the size \"x4\" is not a number",
        ),
        (
            "manifest.tgz",
            "../index",
            "is not a path an index may list",
        ),
        (
            "manifest.tgz",
            "channels/b/stable",
            "is not a path an index may list",
        ),
        (SHA_A, "9F86", "64 lowercase hex digits"),
        (
            "packages/hello",
            "distros/hello",
            "line 7: distros/hello-1.0-r26.11-G22134501.img is out of order",
        ),
        (
            "manifest.tgz",
            "packages/hello-1.0-r26.11-G22134501.img",
            "out of order or listed twice",
        ),
    ];
    for (from, to, says) in cases {
        let text = literal().replacen(from, to, 1);
        let e = Index::parse(&text).unwrap_err();
        assert!(e.contains(says), "{from} -> {to}: {e}");
    }
}

#[test]
fn the_version_goes_up_at_each_index_and_never_restarts() {
    let key = test_key(1);
    let (_dir, repo) = new_repo(&key);
    let first = read_index(&repo).unwrap();
    assert_eq!(first.version, 1);
    let names: Vec<&str> = first.files.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(names, ["manifest.tgz", "packages.tgz"]);
    fs::write(repo.path("packages/b.lst"), "/\td\t0755\t0:0\t-\t-\t-\n").unwrap();
    fs::write(repo.path("packages/b.rcp"), "name=b\n").unwrap();
    fs::create_dir_all(repo.path("releases/board")).unwrap();
    fs::write(repo.path("releases/board/a.nlb"), "bundle").unwrap();
    let second = reindex(&repo, &signer(&key), 3600).unwrap();
    assert_eq!(second.version, 2);
    assert_eq!(second.expires, second.created + 3600);
    let names: Vec<&str> = second.files.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        names,
        [
            "manifest.tgz",
            "packages.tgz",
            "packages/b.lst",
            "packages/b.rcp",
            "releases/board/a.nlb"
        ]
    );
    let entry = second.get("releases/board/a.nlb").unwrap();
    assert_eq!(entry.size, 6);
    assert_eq!(
        crate::repo::hex(&entry.sha256),
        crate::repo::hex(
            &crate::repo::sha256_file(&repo.path("releases/board/a.nlb"))
                .unwrap()
                .1
        )
    );
    // The text on disk is what was returned, and its signature holds.
    let text = fs::read(repo.path(INDEX)).unwrap();
    assert_eq!(text, second.to_text().as_bytes());
    let sig = fs::read(repo.path(INDEX_SIG)).unwrap();
    repo.verify_bytes(&text, &sig, &repo.path(INDEX_SIG), &repo.path(INDEX))
        .unwrap();
    // The same files, key and time give the same bytes (but the next version).
    let third = reindex(&repo, &signer(&key), 3600).unwrap();
    assert_eq!(third.version, 3);
    assert_eq!(third.files, second.files);
    // Without the previous index there is no safe version to go on from.
    fs::remove_file(repo.path(INDEX)).unwrap();
    let e = reindex(&repo, &signer(&key), 3600).unwrap_err();
    assert!(e.to_string().contains("start again at 1"), "{e}");
    assert_eq!(e.status(), Status::No);
}

#[test]
fn links_and_leftovers_are_not_indexed() {
    let key = test_key(1);
    let (_dir, repo) = new_repo(&key);
    std::os::unix::fs::symlink("/etc/passwd", repo.path("packages/passwd.img")).unwrap();
    let e = reindex(&repo, &signer(&key), 3600).unwrap_err();
    assert!(e.to_string().contains("packages/passwd.img"), "{e}");
    fs::remove_file(repo.path("packages/passwd.img")).unwrap();
    fs::write(repo.path("packages/.x.img.part"), "half").unwrap();
    assert_eq!(
        artifact_files(&repo).unwrap(),
        [Found::Stray("packages/.x.img.part".into())]
    );
    assert!(reindex(&repo, &signer(&key), 3600).is_err());
}
