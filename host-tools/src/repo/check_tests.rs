use std::fs;

use super::*;
use crate::repo::add::{place, plan, Kind};
use crate::repo::channel::publish;
use crate::repo::index::reindex;
use crate::repo::tests::{bundle, new_repo, signed_file, signer, test_key};

const NOW: u64 = 1_795_000_100;

/// A repository with a package and a bundle published to `stable`.
fn repository() -> (tempfile::TempDir, Repository) {
    let key = test_key(1);
    let (dir, repo) = new_repo(&key);
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let image = signed_file(&out, "a-1-r26.11-G22134501.img", b"image", &key);
    let nlb = bundle(
        &out,
        "p-r26.11-G22000001.nlb",
        "qemu-virt",
        "r26.11-G22000001",
        &key,
    );
    let placements = plan(&repo, &[image, nlb], false).unwrap();
    place(&repo, &placements).unwrap();
    reindex(&repo, &signer(&key), 3600).unwrap();
    let release = placements
        .iter()
        .find_map(|p| match &p.kind {
            Kind::Bundle { release, .. } => Some(release),
            _ => None,
        })
        .unwrap();
    publish(&repo, &signer(&key), release, "stable", 3600).unwrap();
    (dir, repo)
}

fn problems(repo: &Repository, now: u64) -> Vec<String> {
    check(repo.root(), None, now)
        .unwrap()
        .problems
        .into_iter()
        .map(|p| format!("{}: {}", p.path, p.what))
        .collect()
}

#[test]
fn a_sound_repository_has_no_problems() {
    let (_dir, repo) = repository();
    let report = check(repo.root(), None, NOW).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.files, 5);
    assert_eq!(report.channels, 1);
    assert_eq!(report.index.unwrap().version, 2);
}

#[test]
fn a_flipped_byte_is_named_with_both_hashes() {
    let (_dir, repo) = repository();
    let path = repo.path("packages/a-1-r26.11-G22134501.img");
    let before = crate::repo::sha256_file(&path).unwrap().1;
    fs::write(&path, b"imagf").unwrap();
    let after = crate::repo::sha256_file(&path).unwrap().1;
    let found = problems(&repo, NOW);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(
        found[0],
        format!(
            "packages/a-1-r26.11-G22134501.img: tampered: the index says sha256 {}, the file has {}",
            hex(&before),
            hex(&after)
        )
    );
    assert!(found[1].starts_with("packages/a-1-r26.11-G22134501.img.sig: the signature of"));
}

#[test]
fn index_faults_expiry_strays_and_channels() {
    let (_dir, repo) = repository();
    // Expired: said with the time.
    let found = problems(&repo, NOW + 3600);
    assert!(
        found.iter().any(|p| p.starts_with("index: expired at")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("channels/qemu-virt/stable: expired at")),
        "{found:?}"
    );
    // Unlisted and leftover files.
    fs::write(repo.path("packages/extra.img"), "x").unwrap();
    fs::write(repo.path("releases/.half.nlb.part"), "x").unwrap();
    let found = problems(&repo, NOW);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("packages/extra.img: not in the index"));
    assert!(found[1].starts_with("releases/.half.nlb.part: not a plain file"));
    fs::remove_file(repo.path("packages/extra.img")).unwrap();
    fs::write(repo.path("channels/qemu-virt/.stable.part"), "x").unwrap();
    let found = problems(&repo, NOW);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[1].starts_with("channels/qemu-virt/.stable.part: a temporary file"));
    fs::remove_file(repo.path("channels/qemu-virt/.stable.part")).unwrap();
    fs::remove_file(repo.path("releases/.half.nlb.part")).unwrap();
    // An edited index: its signature no longer holds.
    let text = fs::read_to_string(repo.path("index")).unwrap();
    fs::write(repo.path("index"), text.replace("expires=", "expires=9")).unwrap();
    let found = problems(&repo, NOW);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("the signature does not hold"),
        "{found:?}"
    );
    fs::write(repo.path("index"), text).unwrap();
    // A channel pointing at a bundle the index does not list.
    let channel = repo.path("channels/qemu-virt/stable");
    let text = fs::read_to_string(&channel).unwrap();
    fs::write(&channel, text.replace("p-r26", "q-r26")).unwrap();
    let found = problems(&repo, NOW);
    assert!(
        found.iter().any(|p| p.contains("does not hold")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|p| p.contains("is not in the index")),
        "{found:?}"
    );
    // Checked with another key: everything signed is refused, and signature.pub is named.
    fs::write(&channel, text).unwrap();
    let other = test_key(2).public_key();
    let report = check(repo.root(), Some(other), NOW).unwrap();
    let found: Vec<_> = report.problems.iter().map(|p| p.path.as_str()).collect();
    assert!(found.contains(&"signature.pub"), "{found:?}");
    assert!(found.contains(&"index"), "{found:?}");
    assert!(found.contains(&"channels/qemu-virt/stable"), "{found:?}");
}
