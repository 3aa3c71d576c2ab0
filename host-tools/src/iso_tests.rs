use std::fs;
use std::path::{Path, PathBuf};

use super::*;

/// 2023-11-14 22:13:20 UTC.
const EPOCH: u64 = 1_700_000_000;

/// A 512-byte file with the FAT boot sector signature: enough for the checks before xorriso.
fn fake_fat(dir: &Path) -> PathBuf {
    let path = dir.join("esp.img");
    let mut sector = vec![0u8; 512];
    sector[510] = 0x55;
    sector[511] = 0xaa;
    fs::write(&path, sector).unwrap();
    path
}

fn spec<'a>(efi_image: &'a Path, files: &'a [(String, PathBuf)]) -> IsoSpec<'a> {
    IsoSpec {
        volume_id: "NANOLIN_TEST",
        efi_image,
        files,
        source_date_epoch: EPOCH,
    }
}

fn files(paths: &[&str]) -> Vec<(String, PathBuf)> {
    paths
        .iter()
        .map(|p| (p.to_string(), PathBuf::from("/dev/null")))
        .collect()
}

/// What is left in `dir` but the inputs made by the test.
fn leftovers(dir: &Path, inputs: &[&str]) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !inputs.contains(&name.as_str()))
        .collect()
}

#[test]
fn volume_ids_of_d_characters_up_to_32_pass() {
    for id in ["NANOLIN_PRIME", "A", "R26_11", &"X".repeat(32)] {
        check_volume_id(id).unwrap_or_else(|e| panic!("{id}: {e}"));
    }
}

#[test]
fn a_volume_id_with_another_character_is_refused_naming_it_and_a_fix() {
    let e = check_volume_id("nanolin-prime").unwrap_err();
    assert!(
        matches!(e, IsoError::BadVolumeId { bad: Some('n'), .. }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "ISO volume id \"nanolin-prime\" holds 'n', which ISO 9660 volume ids cannot: use \
         uppercase A-Z, digits and _ (e.g. \"NANOLIN_PRIME\")"
    );
    let e = check_volume_id("NANOLIN PRIME").unwrap_err();
    assert!(
        matches!(e, IsoError::BadVolumeId { bad: Some(' '), .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("\"NANOLIN_PRIME\""), "{e}");
    let e = check_volume_id("NANOLIN.É").unwrap_err();
    assert!(
        matches!(e, IsoError::BadVolumeId { bad: Some('.'), .. }),
        "{e:?}"
    );
}

#[test]
fn an_empty_or_long_volume_id_is_refused_with_the_limit() {
    let e = check_volume_id("").unwrap_err();
    assert!(
        matches!(e, IsoError::BadVolumeId { bad: None, .. }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "ISO volume id \"\" is 0 characters: ISO 9660 stores 1 to 32"
    );
    let long = "N".repeat(33);
    let e = check_volume_id(&long).unwrap_err();
    assert!(
        matches!(e, IsoError::BadVolumeId { bad: None, .. }),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "ISO volume id \"{long}\" is 33 characters: ISO 9660 stores 1 to 32 (e.g. \"{}\")",
            "N".repeat(32)
        )
    );
}

#[test]
fn plain_relative_iso_paths_pass() {
    check_iso_paths(&files(&[
        "nanolin/root.img",
        "README",
        "a/b/c.d",
        "a-b",
        "a.b",
        "ab/c",
        "efi.img.sig",
        "EFI.IMG",
        "with space/and=equals\\",
    ]))
    .unwrap();
    check_iso_paths(&[]).unwrap();
}

#[test]
fn iso_paths_that_are_not_plain_and_relative_are_refused_with_why() {
    for (path, why) in [
        ("", "it is empty"),
        ("/nanolin/root.img", "it is absolute"),
        ("nanolin/../root.img", "a . or .. component"),
        ("..", "a . or .. component"),
        ("./root.img", "a . or .. component"),
        ("nanolin//root.img", "an empty component"),
        ("nanolin/", "an empty component"),
        ("root\n.img", "a control character"),
        (EFI_IMAGE_PATH, "the EFI image is stored there"),
    ] {
        let e = check_iso_paths(&files(&["ok", path])).unwrap_err();
        assert!(
            matches!(&e, IsoError::BadIsoPath { path: p, .. } if p == path),
            "{e:?}"
        );
        let text = e.to_string();
        assert!(text.starts_with(&format!("{path:?} cannot be a path in the ISO: ")));
        assert!(text.contains(why), "{path:?}: {text}");
        assert_eq!(e.status(), Status::Usage);
    }
    let long = format!("dir/{}", "n".repeat(256));
    assert!(matches!(
        check_iso_paths(&files(&[&long])),
        Err(IsoError::BadIsoPath { .. })
    ));
    check_iso_paths(&files(&[&format!("dir/{}", "n".repeat(255))])).unwrap();
}

#[test]
fn a_path_given_twice_is_refused() {
    let e = check_iso_paths(&files(&["a/b", "c", "a/b"])).unwrap_err();
    assert!(
        matches!(&e, IsoError::PathClash { first, second } if first == "a/b" && second == "a/b"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "two files are given the path \"a/b\" in the ISO: give each its own path"
    );
}

#[test]
fn a_file_where_another_needs_a_directory_is_refused_in_either_order() {
    for paths in [["a/b", "a/b/c"], ["a/b/c", "a/b"]] {
        let e = check_iso_paths(&files(&paths)).unwrap_err();
        assert!(
            matches!(&e, IsoError::PathClash { first, second } if first == "a/b" && second == "a/b/c"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "\"a/b/c\" in the ISO needs \"a/b\" to be a directory, but a file is given that \
             path: rename one"
        );
    }
    let e = check_iso_paths(&files(&["efi.img/x"])).unwrap_err();
    assert!(
        matches!(&e, IsoError::PathClash { first, .. } if first == EFI_IMAGE_PATH),
        "{e:?}"
    );
}

#[test]
fn a_missing_efi_image_is_named_and_nothing_is_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let efi = dir.path().join("nope.img");
    let e = make_iso(&spec(&efi, &[]), &dir.path().join("out.iso")).unwrap_err();
    assert!(
        matches!(&e, IsoError::MissingFile { path, .. } if *path == efi),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{} (given for the EFI image) does not exist: build it first or fix the path",
            efi.display()
        )
    );
    assert_eq!(e.status(), Status::Usage);
    assert_eq!(leftovers(dir.path(), &[]), Vec::<String>::new());
}

#[test]
fn an_efi_image_that_is_a_directory_or_not_fat_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.iso");
    let e = make_iso(&spec(dir.path(), &[]), &out).unwrap_err();
    assert!(matches!(e, IsoError::NotAFile { .. }), "{e:?}");
    assert!(e.to_string().contains("is not a regular file"), "{e}");

    for bytes in [&b"not a file system"[..], &[0u8; 4096][..]] {
        let efi = dir.path().join("efi.img");
        fs::write(&efi, bytes).unwrap();
        let e = make_iso(&spec(&efi, &[]), &out).unwrap_err();
        assert!(matches!(&e, IsoError::NotFat(p) if *p == efi), "{e:?}");
        assert_eq!(
            e.to_string(),
            format!(
                "{} is not a FAT file system image (no boot sector signature): give the EFI \
                 System Partition image, made with make_vfat or mkfs.fat",
                efi.display()
            )
        );
        assert_eq!(e.status(), Status::No);
    }
    assert_eq!(leftovers(dir.path(), &["efi.img"]), Vec::<String>::new());
}

#[test]
fn a_missing_file_is_named_with_its_path_in_the_iso() {
    let dir = tempfile::tempdir().unwrap();
    let efi = fake_fat(dir.path());
    let missing = dir.path().join("root.img");
    let list = vec![
        ("README".to_string(), efi.clone()),
        ("nanolin/root.img".to_string(), missing.clone()),
    ];
    let e = make_iso(&spec(&efi, &list), &dir.path().join("out.iso")).unwrap_err();
    assert!(
        matches!(&e, IsoError::MissingFile { path, purpose } if *path == missing && purpose == "nanolin/root.img"),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{} (given for nanolin/root.img) does not exist: build it first or fix the path",
            missing.display()
        )
    );
    assert_eq!(leftovers(dir.path(), &["esp.img"]), Vec::<String>::new());
}

#[test]
fn spec_errors_come_before_files_are_looked_at() {
    let dir = tempfile::tempdir().unwrap();
    let efi = dir.path().join("nope.img");
    let out = dir.path().join("out.iso");
    let mut bad = spec(&efi, &[]);
    bad.volume_id = "nanolin";
    assert!(matches!(
        make_iso(&bad, &out),
        Err(IsoError::BadVolumeId { .. })
    ));
    let mut late = spec(&efi, &[]);
    late.source_date_epoch = EPOCH_MAX + 1;
    let e = make_iso(&late, &out).unwrap_err();
    assert!(matches!(e, IsoError::EpochOutOfRange(_)), "{e:?}");
    assert_eq!(
        e.to_string(),
        "SOURCE_DATE_EPOCH 5869584000 is past 2155-12-31 23:59:59 UTC (5869583999), the last \
         time ISO 9660 stores: give an earlier time"
    );
    let list = files(&["/abs"]);
    assert!(matches!(
        make_iso(&spec(&efi, &list), &out),
        Err(IsoError::BadIsoPath { .. })
    ));
}

#[test]
fn dates_are_utc_digits_as_xorriso_takes_them() {
    assert_eq!(iso_date(0), "1970010100000000");
    assert_eq!(iso_date(EPOCH), "2023111422132000");
    // A leap day, and the day after the last of February in a century year.
    assert_eq!(iso_date(951_782_400), "2000022900000000");
    assert_eq!(iso_date(4_107_542_400), "2100030100000000");
    assert_eq!(iso_date(EPOCH_MAX), "2155123123595900");
}

#[test]
fn graft_points_escape_equals_and_backslash_in_the_iso_path_only() {
    assert_eq!(
        graft_point("a=b\\c/d", Path::new("/host/x=y")),
        "/a\\=b\\\\c/d=/host/x=y"
    );
    assert_eq!(
        graft_point("nanolin/root.img", Path::new("rel/root.img")),
        "/nanolin/root.img=rel/root.img"
    );
}

#[test]
fn xorriso_complaints_are_kept_and_its_chatter_dropped() {
    let said = "xorriso 1.5.4 : RockRidge filesystem manipulator, libburnia project.\n\n\
                Drive current: -outdev 'stdio:x.iso'\n\
                xorriso : FAILURE : Cannot determine attributes of source file '/x' : No such file or directory\n\
                xorriso : aborting : -abort_on 'FAILURE' encountered 'FAILURE'\n";
    assert_eq!(
        complaints(said),
        "xorriso : FAILURE : Cannot determine attributes of source file '/x' : No such file or \
         directory\nxorriso : aborting : -abort_on 'FAILURE' encountered 'FAILURE'"
    );
    assert_eq!(complaints("  something else\n"), "something else");
}

#[test]
fn a_missing_xorriso_says_what_to_install() {
    let e = IsoError::ToolMissing;
    assert_eq!(
        e.to_string(),
        "xorriso is not installed: ISO images need it; install it with `apt-get install xorriso`"
    );
    assert_eq!(e.status(), Status::System);
}

#[test]
fn a_failing_xorriso_is_quoted() {
    use std::os::unix::process::ExitStatusExt;
    let e = IsoError::ToolFailed {
        status: std::process::ExitStatus::from_raw(5 << 8),
        said: "xorriso : FAILURE : no space\n".to_string(),
    };
    assert_eq!(
        e.to_string(),
        "xorriso failed (exit status: 5): xorriso : FAILURE : no space"
    );
    assert_eq!(e.status(), Status::System);
}
