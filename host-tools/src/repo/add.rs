//! Placing artifacts in the repository by kind, each checked before anything is copied.
//!
//! The kind comes from the name:
//!
//! | artifact | goes to | checked |
//! | --- | --- | --- |
//! | `NAME-VERSION-rYY.MM-GDDHHMMSS.img` with its `.img.sig`, `.lst`, `.licenses.txt`, `.spdx.json` (package outputs) | `packages/` | the `.img.sig` holds under the repository's key |
//! | the same files with `--distro` (distro outputs, `NAME-rYY.MM-GDDHHMMSS.*` allowed) | `distros/` | the same |
//! | `RECIPE.rcp` | beside its image, as `BASE.rcp` | its `name=` and `version=` name exactly one image given or present |
//! | `FILE.nlb` (update bundle) | `releases/<board>/`, the board from its manifest | the manifest's signature holds under the repository's key; the length is the manifest's |
//! | `X.bmap`, the image it maps (`X`, `X.img`, `X.*`), and `*.img.gz`, `.img.xz`, `.img.zst`, `.img.bz2` (disk images) | beside the one board's bundles given with them | — |
//!
//! Giving `BASE.img` also takes `BASE.img.sig`, `BASE.lst`, `BASE.licenses.txt` and
//! `BASE.spdx.json` from beside it when they exist. A file already in the repository with the
//! same bytes is left as it is; one with other bytes is refused (versions are immutable), and
//! then nothing at all is copied.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use nanolin_core::version::ReleaseVersion;

use super::channel::{check_board_name, Release};
use super::{
    copy_new, file_name, is_safe_name, read_pairs, same_contents, RepoError, Repository, DISTROS,
    PACKAGES, RELEASES,
};
use crate::bundling::BundleFile;
use crate::error::Error;

/// What an artifact is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A package's image, signature, list or license report.
    Package,
    /// A distro's image, signature, list or license report.
    Distro,
    /// The recipe (or distro definition) of an image.
    Recipe,
    /// An update bundle.
    Bundle {
        /// The release it carries.
        release: Release,
        /// When devices stop accepting it, if ever.
        expires: Option<u64>,
    },
    /// A disk image or its block map.
    Disk,
}

/// Where one artifact goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The artifact.
    pub source: PathBuf,
    /// Its place, relative to the repository.
    pub dest: String,
    /// Its kind.
    pub kind: Kind,
}

/// What became of a placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Copied in.
    Added,
    /// The same bytes were there already.
    Present,
}

/// A bundle's release, read from its manifest after its signature is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleInfo {
    /// Board compatible string.
    pub board: String,
    /// Release version.
    pub version: ReleaseVersion,
    /// Bytes of the file.
    pub size: u64,
    /// When devices stop accepting it, if ever.
    pub expires: Option<u64>,
}

/// Checks the bundle at `path` against the repository's key, and its length against its
/// manifest.
pub fn inspect_bundle(repo: &Repository, path: &Path) -> Result<BundleInfo, Error> {
    let bundle = BundleFile::read(path)?;
    repo.verify_bytes(&bundle.manifest, &bundle.signature, path, path)?;
    let manifest = bundle.manifest(path)?;
    let expected = bundle.header.payload_offset() + manifest.payload_len();
    if bundle.file_len != expected {
        return Err(RepoError::Unplaceable {
            path: path.into(),
            reason: format!(
                "the file has {} bytes but its manifest says {expected}: an interrupted copy? \
                 Make or fetch the bundle again",
                bundle.file_len
            ),
        }
        .into());
    }
    Ok(BundleInfo {
        board: manifest.compatible.to_string(),
        version: manifest.version,
        size: bundle.file_len,
        expires: manifest.expires,
    })
}

/// The suffixes of a package's (or distro's) outputs, longest first.
const FAMILY: [&str; 5] = [".img.sig", ".licenses.txt", ".spdx.json", ".img", ".lst"];

/// Suffixes of compressed disk images.
const COMPRESSED_DISK: [&str; 4] = [".img.gz", ".img.xz", ".img.zst", ".img.bz2"];

/// Suffixes of the other files of a release that go beside its bundle and disk image: the
/// kernel and initramfs QEMU loads (boards without a bootloader), the hybrid ISO, and the
/// release's description.
const RELEASE_FILES: [&str; 4] = [".kernel", ".initrd", ".iso", ".release"];

/// The release version ending `base` (`…-rYY.MM-GDDHHMMSS`) and what comes before it.
fn split_release(base: &str) -> Option<(&str, ReleaseVersion)> {
    let at = base.len().checked_sub(17)?;
    let (head, tail) = base.split_at(at);
    let version = tail.strip_prefix('-')?;
    ReleaseVersion::parse(version)
        .ok()
        .map(|v| (head, v))
        .filter(|(head, _)| !head.is_empty())
}

/// Decides where each artifact goes, checking names, signatures and bundles; copies nothing.
pub fn plan(
    repo: &Repository,
    artifacts: &[PathBuf],
    distro: bool,
) -> Result<Vec<Placement>, Error> {
    let files = with_companions(artifacts)?;
    let names: Vec<&str> = files
        .iter()
        .map(|p| {
            file_name(p)
                .filter(|n| is_safe_name(n))
                .ok_or_else(|| Error::from(RepoError::BadName { path: p.clone() }))
        })
        .collect::<Result<_, _>>()?;
    let disk = disk_images(&names);
    let mut placements = Vec::new();
    let mut groups: BTreeMap<&str, Vec<(&str, usize)>> = BTreeMap::new();
    let mut recipes = Vec::new();
    let mut disks = Vec::new();
    for (i, (path, name)) in files.iter().zip(&names).enumerate() {
        if disk.contains(&i) {
            disks.push(i);
        } else if name.ends_with(".nlb") {
            let info = inspect_bundle(repo, path)?;
            check_board_name(&info.board, path)?;
            let dest = format!("{RELEASES}/{}/{name}", info.board);
            placements.push(Placement {
                source: path.clone(),
                dest: dest.clone(),
                kind: Kind::Bundle {
                    release: Release {
                        board: info.board,
                        version: info.version,
                        bundle: dest,
                        size: info.size,
                    },
                    expires: info.expires,
                },
            });
        } else if name.ends_with(".rcp") {
            recipes.push(i);
        } else if let Some(suffix) = FAMILY.iter().find(|s| name.ends_with(*s)) {
            let base = &name[..name.len() - suffix.len()];
            groups.entry(base).or_default().push((suffix, i));
        } else {
            return Err(RepoError::UnknownKind { path: path.clone() }.into());
        }
    }
    let (dir, kind) = if distro {
        (DISTROS, Kind::Distro)
    } else {
        (PACKAGES, Kind::Package)
    };
    for (base, members) in &groups {
        let first = &files[members[0].1];
        check_group_name(base, distro, first)?;
        let member = |suffix: &str| members.iter().find(|m| m.0 == suffix).map(|m| &files[m.1]);
        let image = member(".img").ok_or_else(|| RepoError::Unplaceable {
            path: first.clone(),
            reason: format!(
                "its image {base}.img is not among the artifacts: add an image's files together"
            ),
        })?;
        let sig = member(".img.sig").ok_or_else(|| RepoError::Unplaceable {
            path: image.clone(),
            reason: format!(
                "no signature {base}.img.sig beside it: sign it with `nanolin sign -s KEY.sec` \
                 (or build it with -s); a disk image goes with its .bmap"
            ),
        })?;
        repo.verify_file(image, sig)?;
        for (_, i) in members {
            placements.push(Placement {
                source: files[*i].clone(),
                dest: format!("{dir}/{}", names[*i]),
                kind: kind.clone(),
            });
        }
    }
    for i in recipes {
        let base = recipe_base(repo, &files[i], dir, groups.keys().copied())?;
        placements.push(Placement {
            source: files[i].clone(),
            dest: format!("{dir}/{base}.rcp"),
            kind: Kind::Recipe,
        });
    }
    let boards: Vec<String> = placements
        .iter()
        .filter_map(|p| match &p.kind {
            Kind::Bundle { release, .. } => Some(release.board.clone()),
            _ => None,
        })
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    for i in disks {
        let board = match &boards[..] {
            [board] => board.clone(),
            _ => {
                return Err(RepoError::Unplaceable {
                    path: files[i].clone(),
                    reason: format!(
                        "a disk image goes beside its release's bundle: add it together with \
                         the bundles of one board (given: {})",
                        if boards.is_empty() {
                            "no bundle".to_string()
                        } else {
                            boards.join(", ")
                        }
                    ),
                }
                .into())
            }
        };
        placements.push(Placement {
            source: files[i].clone(),
            dest: format!("{RELEASES}/{board}/{}", names[i]),
            kind: Kind::Disk,
        });
    }
    dedupe(placements)
}

/// The artifacts (each once), plus the outputs beside each image not given.
fn with_companions(artifacts: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut push = |path: &Path, files: &mut Vec<PathBuf>| -> Result<(), Error> {
        let meta = fs::metadata(path).map_err(|e| Error::io("read", path, e))?;
        if !meta.is_file() {
            return Err(RepoError::Unplaceable {
                path: path.into(),
                reason: "not a file: give the artifacts themselves".into(),
            }
            .into());
        }
        let canonical = fs::canonicalize(path).map_err(|e| Error::io("read", path, e))?;
        if seen.insert(canonical) {
            files.push(path.to_path_buf());
        }
        Ok(())
    };
    for path in artifacts {
        push(path, &mut files)?;
    }
    let images: Vec<PathBuf> = files
        .iter()
        .filter(|p| file_name(p).is_some_and(|n| n.ends_with(".img")))
        .cloned()
        .collect();
    for image in images {
        let Some(base) = file_name(&image).and_then(|n| n.strip_suffix(".img")) else {
            continue;
        };
        for suffix in [".img.sig", ".lst", ".licenses.txt", ".spdx.json"] {
            let companion = image.with_file_name(format!("{base}{suffix}"));
            if companion.is_file() {
                push(&companion, &mut files)?;
            }
        }
    }
    Ok(files)
}

/// Indices of the disk images and block maps among `names`.
fn disk_images(names: &[&str]) -> BTreeSet<usize> {
    let mut disk = BTreeSet::new();
    for (i, name) in names.iter().enumerate() {
        if COMPRESSED_DISK
            .iter()
            .chain(&RELEASE_FILES)
            .any(|s| name.ends_with(s))
        {
            disk.insert(i);
        }
        let Some(stem) = name.strip_suffix(".bmap") else {
            continue;
        };
        disk.insert(i);
        let dotted = format!("{stem}.");
        for (j, other) in names.iter().enumerate() {
            if !other.ends_with(".bmap") && (*other == stem || other.starts_with(&dotted)) {
                disk.insert(j);
            }
        }
    }
    disk
}

/// Refuses a package or distro base name without the release version that makes it unique.
fn check_group_name(base: &str, distro: bool, path: &Path) -> Result<(), Error> {
    let fits = match split_release(base) {
        Some((head, _)) => distro || head.contains('-'),
        None => false,
    };
    if !fits {
        return Err(RepoError::Unplaceable {
            path: path.into(),
            reason: if distro {
                "a distro's files are named NAME-rYY.MM-GDDHHMMSS.img (.img.sig, .lst, …): the \
                 release version makes each name unique"
                    .into()
            } else {
                "a package's files are named NAME-VERSION-rYY.MM-GDDHHMMSS.img (.img.sig, .lst, \
                 …), as `nanolin package build` names them; a distro's go with --distro"
                    .into()
            },
        }
        .into());
    }
    Ok(())
}

/// The base name of the one image a recipe belongs to: `NAME-VERSION-RELEASE` for a package
/// recipe; for a distro definition (no `version=`) `NAME-RELEASE` or `NAME-BOARD-RELEASE`.
/// The images given are looked at first, then those in `dir`.
fn recipe_base<'a>(
    repo: &Repository,
    recipe: &Path,
    dir: &str,
    given: impl Iterator<Item = &'a str>,
) -> Result<String, Error> {
    let text = fs::read_to_string(recipe).map_err(|e| Error::io("read", recipe, e))?;
    let unplaceable = |reason: String| RepoError::Unplaceable {
        path: recipe.into(),
        reason,
    };
    let pairs = read_pairs(&text, true).map_err(unplaceable)?;
    let value = |key: &str| {
        pairs
            .iter()
            .rev()
            .find(|p| p.name == key)
            .map(|p| p.value.clone())
    };
    let name = value("name").ok_or_else(|| unplaceable("name= is missing".into()))?;
    let version = value("version");
    let fits = |base: &str| {
        split_release(base).is_some_and(|(head, _)| match &version {
            Some(version) => head == format!("{name}-{version}"),
            None => head == name || head.starts_with(&format!("{name}-")),
        })
    };
    let stem = match &version {
        Some(version) => format!("{name}-{version}"),
        None => name.clone(),
    };
    let mut matching: Vec<String> = given.filter(|b| fits(b)).map(str::to_string).collect();
    if matching.is_empty() {
        let dir_path = repo.path(dir);
        let present = fs::read_dir(&dir_path).map_err(|e| Error::io("list", &dir_path, e))?;
        for entry in present {
            let entry = entry.map_err(|e| Error::io("list", &dir_path, e))?;
            let name = entry.file_name();
            if let Some(base) = name.to_str().and_then(|n| n.strip_suffix(".img")) {
                if fits(base) {
                    matching.push(base.to_string());
                }
            }
        }
        matching.sort();
    }
    match &matching[..] {
        [base] => Ok(base.clone()),
        [] => Err(unplaceable(format!(
            "no image {stem}-rYY.MM-GDDHHMMSS.img among the artifacts or in {dir}/: add a \
             recipe with the image built from it"
        ))
        .into()),
        several => Err(unplaceable(format!(
            "it fits several images ({}): add it with the one built from it, alone",
            several.join(", ")
        ))
        .into()),
    }
}

/// Drops a second placement of the same bytes to the same place; refuses other bytes.
fn dedupe(placements: Vec<Placement>) -> Result<Vec<Placement>, Error> {
    let mut kept: Vec<Placement> = Vec::new();
    for placement in placements {
        if let Some(first) = kept.iter().find(|k| k.dest == placement.dest) {
            if !same_contents(&first.source, &placement.source)? {
                return Err(RepoError::Immutable {
                    existing: first.source.clone(),
                    offered: placement.source,
                }
                .into());
            }
            continue;
        }
        kept.push(placement);
    }
    Ok(kept)
}

/// Copies in what is not there yet, after checking that nothing would be replaced.
pub fn place(repo: &Repository, placements: &[Placement]) -> Result<Vec<Outcome>, Error> {
    let mut outcomes = Vec::with_capacity(placements.len());
    for placement in placements {
        let dest = repo.path(&placement.dest);
        let outcome = match fs::symlink_metadata(&dest) {
            Ok(meta) => {
                let same_file = matches!(
                    (fs::canonicalize(&dest), fs::canonicalize(&placement.source)),
                    (Ok(a), Ok(b)) if a == b
                );
                if meta.is_file() && (same_file || same_contents(&dest, &placement.source)?) {
                    Outcome::Present
                } else {
                    return Err(RepoError::Immutable {
                        existing: dest,
                        offered: placement.source.clone(),
                    }
                    .into());
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Outcome::Added,
            Err(e) => return Err(Error::io("inspect", &dest, e)),
        };
        outcomes.push(outcome);
    }
    for (placement, outcome) in placements.iter().zip(&outcomes) {
        if *outcome == Outcome::Added {
            let dest = repo.path(&placement.dest);
            if let Some(parent) = dest.parent() {
                fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
            }
            copy_new(&placement.source, &dest)?;
        }
    }
    Ok(outcomes)
}

#[cfg(test)]
#[path = "add_tests.rs"]
mod tests;
