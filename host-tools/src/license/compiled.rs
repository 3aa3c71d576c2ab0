//! Which sources a cargo build compiled, read from the dependency files (`*.d`) it leaves in
//! its `target` directories, so a package built from a whole tree and a lock file's worth of
//! vendored crates is reported for the crates that went into it, not for every crate the lock
//! names (other platforms' crates, the host tools') nor for the tree's tests and fixtures.
//!
//! A source file belongs to the crate of its nearest directory holding a `Cargo.toml`. Kept:
//! files of compiled crates, files directly in a directory above a compiled crate (the
//! workspace's README and license files), and files that belong to no crate at all. Without
//! dependency files (a build that is not cargo's) everything is kept.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

/// Directory levels searched for `target` directories and, below them, for `.d` files.
const MAX_DEPTH: usize = 12;

/// Most dependency files read.
const MAX_DEP_FILES: usize = 20_000;

/// Largest dependency file read, in bytes.
const MAX_DEP_FILE_BYTES: u64 = 4 << 20;

/// The crates a build compiled, as directories relative to the build directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompiledCrates {
    root: PathBuf,
    crates: BTreeSet<String>,
    /// Directories above a compiled crate (`""` for the root itself).
    above: BTreeSet<String>,
}

impl CompiledCrates {
    /// Reads the dependency files under `build_dir` (mounted at `mount` in the sandbox, which
    /// is how the files name their paths). `None` when there are none: not a cargo build.
    pub fn read(build_dir: &Path, mount: &str) -> Option<CompiledCrates> {
        let mut dep_files = Vec::new();
        find_dep_files(build_dir, 0, false, &mut dep_files);
        if dep_files.is_empty() {
            return None;
        }
        let mut compiled = CompiledCrates {
            root: build_dir.to_path_buf(),
            ..CompiledCrates::default()
        };
        let mut nearest: HashMap<String, Option<String>> = HashMap::new();
        let prefix = format!("{}/", mount.trim_end_matches('/'));
        for file in dep_files {
            let Ok(text) = fs::read_to_string(&file) else {
                continue;
            };
            for word in text.split_ascii_whitespace() {
                let word = word.trim_end_matches(':');
                let Some(rel) = word.strip_prefix(&prefix) else {
                    continue;
                };
                // Generated files (build script outputs) are not sources.
                if rel.split('/').any(|part| part == "target") {
                    continue;
                }
                if let Some(krate) = compiled.crate_of(rel, &mut nearest) {
                    compiled.crates.insert(krate);
                }
            }
        }
        for krate in &compiled.crates {
            let mut dir = krate.as_str();
            while let Some((parent, _)) = dir.rsplit_once('/') {
                compiled.above.insert(parent.to_string());
                dir = parent;
            }
            compiled.above.insert(String::new());
        }
        Some(compiled)
    }

    /// Whether the findings of `file` (relative to the build directory) belong in the report.
    pub fn keeps(&self, file: &str) -> bool {
        let parent = file.rsplit_once('/').map_or("", |(dir, _)| dir);
        if self.above.contains(parent) {
            return true;
        }
        match self.crate_of(file, &mut HashMap::new()) {
            Some(krate) => self.crates.contains(&krate),
            None => true,
        }
    }

    /// How many crates were compiled.
    pub fn len(&self) -> usize {
        self.crates.len()
    }

    /// Whether no crate was compiled.
    pub fn is_empty(&self) -> bool {
        self.crates.is_empty()
    }

    /// The nearest directory above `file` (relative) holding a `Cargo.toml`.
    fn crate_of(
        &self,
        file: &str,
        nearest: &mut HashMap<String, Option<String>>,
    ) -> Option<String> {
        let mut dir = file.rsplit_once('/').map(|(dir, _)| dir);
        let mut visited = Vec::new();
        let found = loop {
            let Some(d) = dir else { break None };
            if let Some(known) = nearest.get(d) {
                break known.clone();
            }
            visited.push(d.to_string());
            if self.root.join(d).join("Cargo.toml").is_file() {
                break Some(d.to_string());
            }
            dir = d.rsplit_once('/').map(|(parent, _)| parent);
        };
        for d in visited {
            nearest.insert(d, found.clone());
        }
        found
    }
}

/// Collects `*.d` files inside `target` directories below `dir`.
fn find_dep_files(dir: &Path, depth: usize, in_target: bool, out: &mut Vec<PathBuf>) {
    if depth > MAX_DEPTH || out.len() >= MAX_DEP_FILES {
        return;
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        let name = entry.file_name();
        let path = entry.path();
        if kind.is_dir() {
            let target = in_target || name == "target";
            find_dep_files(&path, depth + 1, target, out);
        } else if in_target
            && kind.is_file()
            && path.extension().is_some_and(|x| x == "d")
            && entry
                .metadata()
                .is_ok_and(|m| m.len() <= MAX_DEP_FILE_BYTES)
            && out.len() < MAX_DEP_FILES
        {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(root: &Path, rel: &str, text: &str) {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn keeps_the_crates_a_build_compiled() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for krate in [
            "tree",
            "tree/core",
            "tree/tests",
            "vendor/used-1.0",
            "vendor/unused-1.0",
        ] {
            touch(root, &format!("{krate}/Cargo.toml"), "");
        }
        touch(root, "tree/README.md", "");
        touch(root, "tree/target/release/deps/x.d",
            "/build/tree/target/release/deps/libx.rlib: /build/tree/core/src/lib.rs /build/vendor/used-1.0/src/lib.rs /build/tree/target/release/build/out.rs\n\n/build/tree/core/src/lib.rs:\n");
        let compiled = CompiledCrates::read(root, "/build").unwrap();
        assert_eq!(compiled.len(), 2);
        assert!(compiled.keeps("tree/core/src/lib.rs"));
        assert!(compiled.keeps("tree/core/LICENSE"));
        assert!(compiled.keeps("vendor/used-1.0/LICENSE-MIT"));
        assert!(
            compiled.keeps("tree/README.md"),
            "the workspace's own files"
        );
        assert!(compiled.keeps(".recipe.rcp"));
        assert!(!compiled.keeps("vendor/unused-1.0/LICENSE"));
        assert!(!compiled.keeps("tree/tests/fixtures/COPYING"));
        assert!(
            !compiled.keeps("tree/tools/x.c"),
            "the workspace root's crate was not compiled"
        );
    }

    #[test]
    fn without_dependency_files_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        touch(dir.path(), "src/hello.c", "");
        touch(dir.path(), "src/hello.d", "hello.o: hello.c");
        assert!(CompiledCrates::read(dir.path(), "/build").is_none());
    }
}
