use std::fs;

use super::*;
use crate::repo::tests::{bundle, new_repo, signed_file, test_key};
use crate::repo::Status;

const BASE: &str = "hello-1.0-r26.11-G22134501";

/// A package's outputs in `dir`, the image signed by `key`.
fn package(dir: &Path, base: &str, key: &crate::keyfile::SigningKey) -> PathBuf {
    let image = signed_file(dir, &format!("{base}.img"), b"squashfs of hello", key);
    fs::write(
        dir.join(format!("{base}.lst")),
        "/\td\t0755\t0:0\t-\t-\t-\n",
    )
    .unwrap();
    fs::write(dir.join(format!("{base}.licenses.txt")), "MIT\n").unwrap();
    fs::write(dir.join(format!("{base}.spdx.json")), "{}\n").unwrap();
    image
}

fn dests(placements: &[Placement]) -> Vec<&str> {
    placements.iter().map(|p| p.dest.as_str()).collect()
}

#[test]
fn release_versions_end_the_base_name() {
    assert_eq!(
        split_release(BASE).map(|(head, v)| (head, v.to_string())),
        Some(("hello-1.0", "r26.11-G22134501".into()))
    );
    assert!(split_release("prime-r26.11-G22134501").is_some());
    assert!(split_release("-r26.11-G22134501").is_none());
    assert!(split_release("r26.11-G22134501").is_none());
    assert!(split_release("hello-1.0").is_none());
    assert!(split_release("hello-r26.13-G22134501").is_none());
}

#[test]
fn disk_images_are_told_by_their_block_map_or_compression() {
    let names = [
        "disk.img",
        "disk.img.bmap",
        "other.img",
        "other.bmap",
        "x.img.xz",
        "p.img",
    ];
    let found: Vec<usize> = disk_images(&names).into_iter().collect();
    assert_eq!(found, [0, 1, 2, 3, 4]);
}

#[test]
fn a_package_goes_to_packages_with_its_companions_and_recipe() {
    let key = test_key(1);
    let (dir, repo) = new_repo(&key);
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let image = package(&out, BASE, &key);
    let recipe = out.join("hello.rcp");
    fs::write(
        &recipe,
        "name=hello\nversion=1.0\nrelease=1\npackage() {\n  true\n}\n",
    )
    .unwrap();
    let placements = plan(&repo, &[image, recipe], false).unwrap();
    assert_eq!(
        dests(&placements),
        [
            format!("packages/{BASE}.img"),
            format!("packages/{BASE}.img.sig"),
            format!("packages/{BASE}.lst"),
            format!("packages/{BASE}.licenses.txt"),
            format!("packages/{BASE}.spdx.json"),
            format!("packages/{BASE}.rcp"),
        ]
    );
    assert_eq!(
        place(&repo, &placements).unwrap(),
        [Outcome::Added; 6].to_vec()
    );
    assert!(same_contents(
        &out.join("hello.rcp"),
        &repo.path(&format!("packages/{BASE}.rcp"))
    )
    .unwrap());
    // Again: the same bytes are left as they are.
    assert_eq!(
        place(&repo, &placements).unwrap(),
        [Outcome::Present; 6].to_vec()
    );
    // The recipe alone finds its image in the repository.
    let placements = plan(&repo, &[out.join("hello.rcp")], false).unwrap();
    assert_eq!(dests(&placements), [format!("packages/{BASE}.rcp")]);
    // With --distro, to distros/, as `nanolin distro build` names them (DISTRO-BOARD-RELEASE),
    // with the distro's definition.
    let distro = package(&out, "prime-qemu-virt-r26.11-G22134502", &key);
    fs::write(out.join("prime.rcp"), "name=prime\npackages=\"hello\"\n").unwrap();
    let placements = plan(&repo, &[distro, out.join("prime.rcp")], true).unwrap();
    assert_eq!(
        placements[0].dest,
        "distros/prime-qemu-virt-r26.11-G22134502.img"
    );
    assert_eq!(placements[0].kind, Kind::Distro);
    assert_eq!(
        placements.last().unwrap().dest,
        "distros/prime-qemu-virt-r26.11-G22134502.rcp"
    );
    // Without it, a name without a version is refused.
    let bare = package(&out, "prime-r26.11-G22134502", &key);
    let e = plan(&repo, &[bare], false).unwrap_err();
    assert!(e.to_string().contains("--distro"), "{e}");
}

#[test]
fn versions_are_immutable() {
    let key = test_key(1);
    let (dir, repo) = new_repo(&key);
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let image = package(&out, BASE, &key);
    place(
        &repo,
        &plan(&repo, std::slice::from_ref(&image), false).unwrap(),
    )
    .unwrap();
    // Rebuilt with other bytes (and signed again): refused, nothing copied.
    fs::remove_file(repo.path(&format!("packages/{BASE}.spdx.json"))).unwrap();
    signed_file(&out, &format!("{BASE}.img"), b"other bytes", &key);
    let placements = plan(&repo, &[image], false).unwrap();
    let e = place(&repo, &placements).unwrap_err();
    assert!(e.to_string().contains("versions are immutable"), "{e}");
    assert_eq!(e.status(), Status::No);
    assert!(!repo.path(&format!("packages/{BASE}.spdx.json")).exists());
}

#[test]
fn refusals() {
    let key = test_key(1);
    let (dir, repo) = new_repo(&key);
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    // Signed by another key: both numbers named.
    let image = package(&out, BASE, &test_key(2));
    let e = plan(&repo, std::slice::from_ref(&image), false).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("signed by key 0202020202020202")
            && text.contains("trusts key 0101010101010101"),
        "{text}"
    );
    // Signed, then altered.
    package(&out, BASE, &key);
    fs::write(&image, "altered").unwrap();
    let e = plan(&repo, std::slice::from_ref(&image), false).unwrap_err();
    assert!(
        matches!(e, Error::Repo(RepoError::BadSignature { .. })),
        "{e}"
    );
    // Unsigned.
    fs::remove_file(out.join(format!("{BASE}.img.sig"))).unwrap();
    let e = plan(&repo, &[image], false).unwrap_err();
    assert!(e.to_string().contains("nanolin sign"), "{e}");
    // A list without its image.
    let e = plan(&repo, &[out.join(format!("{BASE}.lst"))], false).unwrap_err();
    assert!(e.to_string().contains("is not among the artifacts"), "{e}");
    // Not an artifact; a name that cannot be a URL.
    fs::write(out.join("notes.txt"), "x").unwrap();
    let e = plan(&repo, &[out.join("notes.txt")], false).unwrap_err();
    assert_eq!(e.status(), Status::Usage, "{e}");
    fs::write(out.join("a b.nlb"), "x").unwrap();
    let e = plan(&repo, &[out.join("a b.nlb")], false).unwrap_err();
    assert!(matches!(e, Error::Repo(RepoError::BadName { .. })), "{e}");
    // A recipe whose image is nowhere.
    fs::write(out.join("bye.rcp"), "name=bye\nversion=2\n").unwrap();
    let e = plan(&repo, &[out.join("bye.rcp")], false).unwrap_err();
    assert!(e.to_string().contains("bye-2-rYY.MM-GDDHHMMSS.img"), "{e}");
}

#[test]
fn bundles_go_to_their_boards_release_directory_with_the_disk_images() {
    let key = test_key(1);
    let (dir, repo) = new_repo(&key);
    let out = dir.path().join("out");
    fs::create_dir(&out).unwrap();
    let nlb = bundle(
        &out,
        "prime-r26.11-G22000001.nlb",
        "qemu-virt",
        "r26.11-G22000001",
        &key,
    );
    fs::write(out.join("disk.img"), "disk").unwrap();
    fs::write(out.join("disk.bmap"), "<bmap/>").unwrap();
    let placements = plan(
        &repo,
        &[nlb.clone(), out.join("disk.img"), out.join("disk.bmap")],
        false,
    )
    .unwrap();
    assert_eq!(
        dests(&placements),
        [
            "releases/qemu-virt/prime-r26.11-G22000001.nlb",
            "releases/qemu-virt/disk.img",
            "releases/qemu-virt/disk.bmap",
        ]
    );
    let Kind::Bundle { release, expires } = &placements[0].kind else {
        panic!("{:?}", placements[0].kind)
    };
    assert_eq!(release.version.to_string(), "r26.11-G22000001");
    assert_eq!(release.size, fs::metadata(&nlb).unwrap().len());
    assert_eq!(*expires, None);
    // A disk image alone has no place.
    let e = plan(&repo, &[out.join("disk.img"), out.join("disk.bmap")], false).unwrap_err();
    assert!(e.to_string().contains("no bundle"), "{e}");
    // A bundle by another key, and a truncated one.
    let other = bundle(&out, "o.nlb", "qemu-virt", "r26.11-G22000002", &test_key(2));
    let e = plan(&repo, &[other], false).unwrap_err();
    assert!(matches!(e, Error::Repo(RepoError::WrongKey { .. })), "{e}");
    let bytes = fs::read(&nlb).unwrap();
    fs::write(&nlb, &bytes[..bytes.len() - 1]).unwrap();
    let e = plan(&repo, &[nlb], false).unwrap_err();
    assert!(e.to_string().contains("interrupted copy"), "{e}");
}
