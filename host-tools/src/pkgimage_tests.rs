//! The `.lst` format on literal trees, and the image's refusals; the images themselves are
//! read back by the real `unsquashfs` in `tests/tests/pkgimage.rs`.

use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::net::UnixListener;

use super::*;

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn lists_a_tree_in_byte_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    chmod(d, 0o700); // the root is listed 0755 whatever its mode
    fs::create_dir(d.join("a")).unwrap();
    chmod(&d.join("a"), 0o755);
    fs::write(d.join("a/b"), b"hello\n").unwrap();
    chmod(&d.join("a/b"), 0o644);
    fs::write(d.join("a-b"), b"").unwrap();
    chmod(&d.join("a-b"), 0o755);
    symlink("a/b", d.join("z")).unwrap();

    let list = write_list(d).unwrap();
    let empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let hello = "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03";
    assert_eq!(
        list,
        format!(
            "/\td\t0755\t0:0\t-\t-\t-\n\
             /a\td\t0755\t0:0\t-\t-\t-\n\
             /a-b\tf\t0755\t0:0\t0\t{empty}\t-\n\
             /a/b\tf\t0644\t0:0\t6\t{hello}\t-\n\
             /z\tl\t0777\t0:0\t-\t-\ta/b\n"
        )
    );
}

#[test]
fn lists_an_empty_tree_as_its_root() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        write_list(dir.path()).unwrap(),
        "/\td\t0755\t0:0\t-\t-\t-\n"
    );
}

#[test]
fn escapes_what_would_break_a_line() {
    let mut out = String::new();
    escape(b"a\tb\nc\\d\re\x01\x7f\xff\xc3\xa9", &mut out);
    assert_eq!(out, "a\\tb\\nc\\\\d\\re\\x01\\x7f\\xffé");
}

#[test]
fn refuses_sockets() {
    let dir = tempfile::tempdir().unwrap();
    let _listener = UnixListener::bind(dir.path().join("sock")).unwrap();
    let e = write_list(dir.path()).unwrap_err();
    assert!(matches!(e, ImageError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("sock"), "{e}");
}

#[test]
fn refuses_a_file_as_tree() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("f"), b"").unwrap();
    let e = write_list(&dir.path().join("f")).unwrap_err();
    assert!(matches!(e, ImageError::NotADirectory(_)), "{e}");
    let e = write_image(&dir.path().join("f"), &dir.path().join("o.img"), 0).unwrap_err();
    assert!(matches!(e, ImageError::NotADirectory(_)), "{e}");
}

#[test]
fn refuses_times_squashfs_cannot_hold() {
    let dir = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let e = write_image(dir.path(), &out.path().join("o.img"), 1 << 32).unwrap_err();
    assert!(matches!(e, ImageError::EpochTooLarge(_)), "{e}");
    assert_eq!(fs::read_dir(out.path()).unwrap().count(), 0);
}

#[test]
fn refuses_an_image_inside_its_tree() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("sub")).unwrap();
    let e = write_image(dir.path(), &dir.path().join("sub/o.img"), 0).unwrap_err();
    assert!(matches!(e, ImageError::OutputInside { .. }), "{e}");
    assert_eq!(e.status(), Status::Usage);
}
