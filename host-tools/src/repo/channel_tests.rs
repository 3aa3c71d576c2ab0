use std::fs;

use super::*;
use crate::repo::index::reindex;
use crate::repo::tests::{new_repo, signer, test_key};
use crate::repo::Status;

fn version(text: &str) -> ReleaseVersion {
    ReleaseVersion::parse(text).unwrap()
}

fn release(board: &str, v: &str) -> Release {
    Release {
        board: board.into(),
        version: version(v),
        bundle: format!("releases/{board}/prime-{v}.nlb"),
        size: 1234,
    }
}

/// The agent's format (`agent/src/channel.rs`), literally.
#[test]
fn the_text_is_the_agents() {
    let file = ChannelFile {
        board: "qemu-aarch64-virt".into(),
        channel: "stable".into(),
        version: version("r26.11-G22134501"),
        bundle: "releases/qemu-aarch64-virt/prime-r26.11-G22134501.nlb".into(),
        size: 123_456_789,
        expires: 1_798_761_600,
    };
    let text = "board=qemu-aarch64-virt\nchannel=stable\nversion=r26.11-G22134501\n\
                bundle=releases/qemu-aarch64-virt/prime-r26.11-G22134501.nlb\n\
                size=123456789\nexpires=1798761600\n";
    assert_eq!(file.to_text(), text);
    assert_eq!(parse_channel(text).unwrap(), file);
    let e = parse_channel("board=b\nchannel=c\nversion=r26.11-G22134501\n").unwrap_err();
    assert_eq!(e, "bundle= is missing");
    let e = parse_channel(&text.replace("size=123456789", "size=x")).unwrap_err();
    assert_eq!(e, "size= is not a number");
}

#[test]
fn channel_names_are_checked() {
    for good in ["stable", "testing", "beta-2"] {
        check_channel_name(good).unwrap();
    }
    for bad in ["", "a/b", ".hidden", "stable.sig", "x y"] {
        let e = check_channel_name(bad).unwrap_err();
        assert_eq!(e.status(), Status::Usage, "{bad}");
    }
}

#[test]
fn publish_never_goes_back() {
    let key = test_key(1);
    let (_dir, repo) = new_repo(&key);
    let s = signer(&key);
    let first = publish(&repo, &s, &release("b", "r26.11-G22000002"), "testing", 60).unwrap();
    assert_eq!(first.path, "channels/b/testing");
    assert_eq!(first.previous, None);
    assert_eq!(first.file.expires, s.time() + 60);
    let on_disk = fs::read_to_string(repo.path("channels/b/testing")).unwrap();
    assert_eq!(on_disk, first.file.to_text());
    assert_eq!(
        read_channel(&repo, "b", "testing").unwrap(),
        Some(first.file)
    );
    // Older: refused, with both versions; the file is left as it was.
    let e = publish(&repo, &s, &release("b", "r26.11-G22000001"), "testing", 60).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("names r26.11-G22000002")
            && text.contains("older r26.11-G22000001")
            && text.contains("rollback"),
        "{text}"
    );
    assert_eq!(e.status(), Status::No);
    assert_eq!(
        fs::read_to_string(repo.path("channels/b/testing")).unwrap(),
        on_disk
    );
    // The same release again renews it; a newer one replaces it.
    let again = publish(&repo, &s, &release("b", "r26.11-G22000002"), "testing", 60).unwrap();
    assert_eq!(again.previous, Some(version("r26.11-G22000002")));
    let newer = publish(&repo, &s, &release("b", "r26.11-G22000003"), "testing", 60).unwrap();
    assert_eq!(newer.previous, Some(version("r26.11-G22000002")));
    // Another board's channel is its own.
    publish(&repo, &s, &release("c", "r26.11-G22000001"), "testing", 60).unwrap();
}

#[test]
fn a_tampered_channel_is_not_trusted_for_its_version() {
    let key = test_key(1);
    let (_dir, repo) = new_repo(&key);
    let s = signer(&key);
    publish(&repo, &s, &release("b", "r26.11-G22000002"), "stable", 60).unwrap();
    let path = repo.path("channels/b/stable");
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replace("G22000002", "G22000009")).unwrap();
    let e = read_channel(&repo, "b", "stable").unwrap_err();
    assert!(e.to_string().contains("the signature does not hold"), "{e}");
    let e = publish(&repo, &s, &release("b", "r26.11-G22000003"), "stable", 60).unwrap_err();
    assert!(
        matches!(e, Error::Repo(RepoError::BadSignature { .. })),
        "{e}"
    );
}

#[test]
fn promote_copies_the_release_with_a_fresh_expiry_and_never_goes_back() {
    let key = test_key(1);
    let (_dir, repo) = new_repo(&key);
    let s = signer(&key);
    let r2 = release("b", "r26.11-G22000002");
    fs::create_dir_all(repo.path("releases/b")).unwrap();
    fs::write(repo.path(&r2.bundle), vec![0u8; 1234]).unwrap();
    let index = reindex(&repo, &s, 60).unwrap();
    publish(&repo, &s, &r2, "testing", 60).unwrap();
    let later = Signer::at(&key, std::path::Path::new("test.sec"), s.time() + 100);
    let promoted = promote(&repo, &later, &index, "b", "testing", "stable", 60).unwrap();
    assert_eq!(promoted.path, "channels/b/stable");
    assert_eq!(promoted.file.version, r2.version);
    assert_eq!(promoted.file.bundle, r2.bundle);
    assert_eq!(promoted.file.channel, "stable");
    assert_eq!(promoted.file.expires, s.time() + 160);
    // stable moves on to r3; promoting testing's r2 again is refused.
    let r3 = release("b", "r26.11-G22000003");
    publish(&repo, &s, &r3, "stable", 60).unwrap();
    let e = promote(&repo, &s, &index, "b", "testing", "stable", 60).unwrap_err();
    assert!(matches!(e, Error::Repo(RepoError::Older { .. })), "{e}");
    // From a channel that does not exist.
    let e = promote(&repo, &s, &index, "b", "nightly", "stable", 60).unwrap_err();
    assert!(
        e.to_string().contains("channels/b/nightly does not exist"),
        "{e}"
    );
    // A bundle the index does not list is not promoted.
    publish(&repo, &s, &release("b", "r26.11-G22000004"), "beta", 60).unwrap();
    let e = promote(&repo, &s, &index, "b", "beta", "stable", 60).unwrap_err();
    assert!(e.to_string().contains("does not list it"), "{e}");
}
