//! The tree walk, the debugfs script on a literal tree, and the refusals made before any tool
//! runs. The tools' output is checked in `tests/tests/disk_image.rs` (fsck.fat, e2fsck).

use std::os::unix::fs::{symlink, PermissionsExt};

use super::*;

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// `b/`, `b/x` (0755), `a` (0644), `c -> a`, `b/sub/` (0700), created out of order.
fn tree(root: &Path) {
    fs::create_dir_all(root.join("b/sub")).unwrap();
    chmod(&root.join("b"), 0o755);
    chmod(&root.join("b/sub"), 0o700);
    fs::write(root.join("b/x"), b"x").unwrap();
    chmod(&root.join("b/x"), 0o755);
    fs::write(root.join("a"), b"a").unwrap();
    chmod(&root.join("a"), 0o644);
    symlink("a", root.join("c")).unwrap();
}

fn vfat(size: u64, label: &str, epoch: u64) -> VfatSpec<'_> {
    VfatSpec {
        size,
        label,
        volume_id: 0x1234_abcd,
        source_date_epoch: epoch,
    }
}

fn ext4(size: u64, label: &str, epoch: u64) -> Ext4Spec<'_> {
    Ext4Spec {
        size,
        label,
        uuid: Guid::derive("t", "uuid"),
        hash_seed: Guid::derive("t", "hash"),
        source_date_epoch: epoch,
    }
}

const EPOCH: u64 = 1_700_000_000;

#[test]
fn walks_directories_first_and_names_in_byte_order() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let entries = walk(dir.path()).unwrap();
    let names: Vec<(&str, &Kind, u32)> = entries
        .iter()
        .map(|e| (std::str::from_utf8(&e.name).unwrap(), &e.kind, e.mode))
        .collect();
    assert_eq!(
        names,
        [
            ("a", &Kind::File, 0o644),
            ("b", &Kind::Dir, 0o755),
            ("b/sub", &Kind::Dir, 0o700),
            ("b/x", &Kind::File, 0o755),
            ("c", &Kind::Link(b"a".to_vec()), 0o777),
        ]
    );
    assert_eq!(entries[3].parent(), b"b");
    assert_eq!(entries[3].file_name(), b"x");
    assert_eq!(entries[0].parent(), b"");
    assert_eq!(entries[0].file_name(), b"a");
    assert!(entries[3].source.is_absolute());
}

#[test]
fn debugfs_script_sets_every_mode_and_owner() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path());
    let root = fs::canonicalize(dir.path()).unwrap();
    let script = String::from_utf8(debugfs_commands(&walk(dir.path()).unwrap()).unwrap()).unwrap();
    let r = root.display();
    let owned = |path: &str| format!("sif \"{path}\" uid 0\nsif \"{path}\" gid 0\n");
    let expected = [
        format!(
            "write \"{r}/a\" \"/a\"\nsif \"/a\" mode 0100644\n{}",
            owned("/a")
        ),
        format!("mkdir \"/b\"\nsif \"/b\" mode 040755\n{}", owned("/b")),
        format!(
            "mkdir \"/b/sub\"\nsif \"/b/sub\" mode 040700\n{}",
            owned("/b/sub")
        ),
        format!(
            "write \"{r}/b/x\" \"/b/x\"\nsif \"/b/x\" mode 0100755\n{}",
            owned("/b/x")
        ),
        format!(
            "symlink \"/c\" \"a\"\nsif \"/c\" mode 0120777\n{}",
            owned("/c")
        ),
    ]
    .concat();
    assert_eq!(script, expected);
}

#[test]
fn ext4_refuses_names_debugfs_cannot_take() {
    for bad in ["say \"hi\"", "two\nlines"] {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(bad), b"").unwrap();
        let out = dir.path().join("out.ext4");
        let err = make_ext4(Some(dir.path()), &out, &ext4(1 << 20, "data", EPOCH)).unwrap_err();
        assert!(matches!(err, DiskError::Unsupported { .. }), "{err:?}");
        assert!(!out.exists());
    }
}

#[test]
fn vfat_refuses_links_clashing_names_and_unstorable_names() {
    type Make = fn(&Path);
    let cases: [(&str, Make); 4] = [
        ("link", |d| symlink("x", d.join("link")).unwrap()),
        ("case", |d| {
            fs::create_dir(d.join("EFI")).unwrap();
            fs::write(d.join("efi"), b"").unwrap();
        }),
        ("colon", |d| fs::write(d.join("a:b"), b"").unwrap()),
        ("dot", |d| fs::write(d.join("trailing."), b"").unwrap()),
    ];
    for (what, make) in cases {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        fs::create_dir(&tree).unwrap();
        make(&tree);
        let out = dir.path().join("out.vfat");
        let err = make_vfat(Some(&tree), &out, &vfat(1 << 20, "BOOT", EPOCH)).unwrap_err();
        assert!(
            matches!(err, DiskError::Unsupported { .. }),
            "{what}: {err:?}"
        );
        assert_eq!(err.status(), crate::Status::No);
        assert!(!out.exists(), "{what}");
    }
    // The same name in two directories is fine.
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("a")).unwrap();
    fs::write(dir.path().join("a/x"), b"").unwrap();
    fs::write(dir.path().join("x"), b"").unwrap();
    check_vfat_names(&walk(dir.path()).unwrap()).unwrap();
}

#[test]
fn refuses_sizes_labels_and_times_the_file_systems_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let vfat_err = |spec: VfatSpec<'_>| make_vfat(None, &out, &spec).unwrap_err();
    let ext4_err = |spec: Ext4Spec<'_>| make_ext4(None, &out, &spec).unwrap_err();

    assert!(matches!(
        vfat_err(vfat(0, "BOOT", EPOCH)),
        DiskError::FsSize { block: 512, .. }
    ));
    assert!(matches!(
        vfat_err(vfat(1000, "BOOT", EPOCH)),
        DiskError::FsSize { .. }
    ));
    for label in ["", "boot", "TWELVE CHARS", "A.B", "É"] {
        let err = vfat_err(vfat(1 << 20, label, EPOCH));
        assert!(
            matches!(err, DiskError::BadLabel { fs: "vfat", .. }),
            "{label:?}: {err:?}"
        );
    }
    for epoch in [0, 315_532_799, 4_354_819_200] {
        let err = vfat_err(vfat(1 << 20, "BOOT", epoch));
        assert!(
            matches!(err, DiskError::EpochOutOfRange { fs: "vfat", .. }),
            "{epoch}"
        );
        assert_eq!(err.status(), crate::Status::Usage);
    }

    assert!(matches!(
        ext4_err(ext4(1 << 20 | 512, "data", EPOCH)),
        DiskError::FsSize { block: 4096, .. }
    ));
    assert!(matches!(
        ext4_err(ext4(1 << 20, "seventeen bytes!!", EPOCH)),
        DiskError::BadLabel { fs: "ext4", .. }
    ));
    assert!(matches!(
        ext4_err(ext4(1 << 20, "data", 1 << 32)),
        DiskError::EpochOutOfRange { fs: "ext4", .. }
    ));

    let file = dir.path().join("file");
    fs::write(&file, b"").unwrap();
    let err = make_ext4(Some(&file), &out, &ext4(1 << 20, "data", EPOCH)).unwrap_err();
    assert!(matches!(err, DiskError::NotADirectory(_)), "{err:?}");
    assert!(!out.exists());
}
