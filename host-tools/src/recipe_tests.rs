use super::*;

const SUM_A: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const SUM_B: &str = "2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// The recipe of the format's description, with real-looking sums.
fn hello() -> String {
    format!(
        "# recipes/hello.rcp
name=hello
version=1.0
release=1
description=\"A small C program, built from source in the sandbox\"
url=https://example.invalid/hello
license=\"MIT\"                       # an SPDX expression
source=\"$name-$version.tar.gz https://example.invalid/src/$name-${{version}}.tar.gz::hello.tgz git+file:///srv/git/lib#commit={COMMIT}\"
sha256sums=\"{SUM_A} {SUM_B} SKIP\"
depends=\"busybox\"
makedepends=\"\"
build() {{
    make CC=\"$CC\"
}}
package() {{
    make DESTDIR=\"$DESTDIR\" install
}}
"
    )
}

/// A recipe with only what is required.
const MINIMAL: &str = "name=tiny\nversion=2\nrelease=3\nlicense=0BSD\npackage() {\n\ttrue\n}\n";

/// `text` with the line starting with `start` replaced by `line` (removed when empty).
fn with_line(text: &str, start: &str, line: &str) -> String {
    let mut found = false;
    let mut out = String::new();
    for l in text.split_inclusive('\n') {
        if !found && l.starts_with(start) {
            found = true;
            if !line.is_empty() {
                out.push_str(line);
                out.push('\n');
            }
        } else {
            out.push_str(l);
        }
    }
    assert!(found, "no line starts with {start:?}");
    out
}

fn parse(text: &str) -> Result<Recipe, RecipeError> {
    Recipe::parse(Path::new("recipes/test.rcp"), text.as_bytes())
}

fn parse_ok(text: &str) -> Recipe {
    parse(text).unwrap_or_else(|e| panic!("{e}"))
}

#[track_caller]
fn error(text: &str) -> RecipeError {
    match parse(text) {
        Ok(recipe) => panic!("accepted: {recipe:?}"),
        Err(e) => e,
    }
}

/// The line and column an error names.
#[track_caller]
fn at(error: &RecipeError) -> (u32, u32) {
    let place = error.place().expect("a place");
    assert_eq!(place.file, Path::new("recipes/test.rcp"));
    (place.position.line, place.position.column)
}

fn sha(hex_text: &str) -> [u8; 32] {
    parse_hex::<32>(hex_text).expect("64 hex digits")
}

#[test]
fn the_example_recipe_reads_as_written() {
    let r = parse_ok(&hello());
    assert_eq!(r.name, "hello");
    assert_eq!(r.version, "1.0");
    assert_eq!(r.release, 1);
    assert_eq!(
        r.description.as_deref(),
        Some("A small C program, built from source in the sandbox")
    );
    assert_eq!(r.url.as_deref(), Some("https://example.invalid/hello"));
    assert_eq!(r.license, "MIT");
    assert_eq!(r.depends, ["busybox"]);
    assert!(r.makedepends.is_empty());
    assert!(r.has_build);
    assert_eq!(r.dir(), Path::new("recipes"));
    assert_eq!(r.sources.len(), 3);
    let [a, b, c] = [&r.sources[0], &r.sources[1], &r.sources[2]];
    assert_eq!(
        a.entry.location,
        Location::Path(PathBuf::from("hello-1.0.tar.gz"))
    );
    assert_eq!(a.entry.file_name, "hello-1.0.tar.gz");
    assert_eq!(a.entry.written, "hello-1.0.tar.gz");
    assert_eq!(a.pin, Pin::Sha256(sha(SUM_A)));
    assert_eq!(a.entry.place.to_string(), "recipes/test.rcp:8:1");
    assert_eq!(
        b.entry.location,
        Location::Url("https://example.invalid/src/hello-1.0.tar.gz".into())
    );
    assert_eq!(b.entry.file_name, "hello.tgz");
    // Upper-case hex is read, and shown in lower case.
    assert_eq!(b.pin, Pin::Sha256(sha(&SUM_B.to_lowercase())));
    assert_eq!(
        c.entry.location,
        Location::Git {
            repository: PathBuf::from("/srv/git/lib")
        }
    );
    assert_eq!(c.entry.file_name, "lib");
    assert_eq!(c.pin.to_string(), format!("commit {COMMIT}"));
}

#[test]
fn a_minimal_recipe_needs_no_sources_build_or_dependencies() {
    let r = parse_ok(MINIMAL);
    assert_eq!((r.name.as_str(), r.release), ("tiny", 3));
    assert!(r.sources.is_empty() && r.depends.is_empty() && !r.has_build);
    assert_eq!(r.description, None);
    // An empty source list with an empty sums list is the same.
    parse_ok(&format!("{MINIMAL}source=\"\"\nsha256sums=\"\"\n"));
}

#[test]
fn helpers_exports_and_reassignment_behave_as_in_sh() {
    let r = parse_ok(&format!(
        "_tag=v2\nexport version=2.1\n{}version=\"$version.1\"\ntarball=\"$name-$_tag.tgz\"\nsource=\"$tarball\"\nsha256sums={SUM_A}\nhelper() {{\n\t:\n}}\n",
        with_line(MINIMAL, "version=", "")
    ));
    assert_eq!(r.version, "2.1.1");
    assert_eq!(r.sources[0].entry.file_name, "tiny-v2.tgz");
}

#[test]
fn source_names_default_to_the_last_part_of_the_location() {
    let cases = [
        ("dir/a.tar.gz", "a.tar.gz"),
        ("../shared/b.patch", "b.patch"),
        ("dir/a.tar.gz::renamed", "renamed"),
        ("https://h.invalid/x/y.tgz?raw=1#top", "y.tgz"),
        ("http://[::1]:8080/v6.tgz", "v6.tgz"),
        ("http://[::1]:8080/v6.tgz::other", "other"),
        ("https://h.invalid/download::src.tar", "src.tar"),
    ];
    for (written, name) in cases {
        let text = format!("{MINIMAL}source=\"{written}\"\nsha256sums={SUM_A}\n");
        assert_eq!(
            parse_ok(&text).sources[0].entry.file_name,
            name,
            "{written}"
        );
    }
    let git = [
        (
            format!("git+../lib.git#commit={COMMIT}"),
            "lib",
            "../lib.git",
        ),
        (
            format!("git+/srv/repo/#commit={COMMIT}"),
            "repo",
            "/srv/repo/",
        ),
        (
            format!("git+file:///srv/x.git#commit={COMMIT}::y"),
            "y",
            "/srv/x.git",
        ),
    ];
    for (written, name, repository) in git {
        let text = format!("{MINIMAL}source=\"{written}\"\nsha256sums=SKIP\n");
        let source = &parse_ok(&text).sources[0];
        assert_eq!(source.entry.file_name, name, "{written}");
        assert_eq!(
            source.entry.location,
            Location::Git {
                repository: PathBuf::from(repository)
            }
        );
    }
}

#[test]
fn not_utf8_is_refused_at_the_first_bad_byte() {
    let e = Recipe::parse(Path::new("recipes/test.rcp"), b"name=a\nversion=1\xff\n").unwrap_err();
    assert!(matches!(e, RecipeError::NotUtf8 { .. }));
    assert_eq!(at(&e), (2, 10));
    assert_eq!(
        e.to_string(),
        "recipes/test.rcp:2:10: not UTF-8 text: save the recipe as UTF-8"
    );
}

#[test]
fn a_recipe_past_the_limit_is_refused() {
    let text = format!("x=\"{}\"\n", "a".repeat(RECIPE_MAX_LEN));
    let e = error(&text);
    assert!(matches!(
        e,
        RecipeError::TooLong {
            limit: RECIPE_MAX_LEN,
            ..
        }
    ));
    assert_eq!(at(&e), (1, 1));
}

#[test]
fn syntax_errors_name_the_place_of_the_fault() {
    let cases = [
        ("name = hello", (1, 5), SyntaxErrorKind::SpaceAroundEquals),
        (
            "name=hello\nversion=$(date)",
            (2, 9),
            SyntaxErrorKind::CommandSubstitution,
        ),
        (
            "name=hello\ndescription=\"open\n",
            (2, 13),
            SyntaxErrorKind::UnterminatedQuote('"'),
        ),
        (
            "name=a\npackage() {\n  true\n",
            (2, 1),
            SyntaxErrorKind::UnterminatedFunction,
        ),
    ];
    for (text, place, expected) in cases {
        let e = error(text);
        let RecipeError::Syntax { kind, .. } = e else {
            panic!("{text:?}: {e:?}")
        };
        assert_eq!(kind, expected, "{text:?}");
        assert_eq!(at(&e), place, "{text:?}");
    }
    assert_eq!(
        error("name = hello").to_string(),
        "recipes/test.rcp:1:5: no spaces around `=`: write `name=value`, or quote a value with spaces"
    );
}

#[test]
fn an_undefined_variable_is_refused_at_its_assignment() {
    // `$version` is defined only below the line that uses it.
    let text = with_line(&hello(), "name=", "name=hello-$version");
    let e = error(&text);
    assert!(
        matches!(&e, RecipeError::UndefinedVariable { variable, .. } if variable == "version"),
        "{e:?}"
    );
    assert_eq!(at(&e), (2, 1));
    assert!(e
        .to_string()
        .contains("$version is not defined above this line"));
}

#[test]
fn a_value_too_long_once_expanded_is_refused() {
    let half = "a".repeat(VALUE_MAX_LEN / 2 + 1);
    let e = error(&format!("{MINIMAL}big={half}\n  bigger=\"$big$big\"\n"));
    assert!(matches!(
        e,
        RecipeError::ValueTooLong {
            limit: VALUE_MAX_LEN,
            ..
        }
    ));
    assert_eq!(at(&e), (9, 3));
}

#[test]
fn a_recipe_name_in_another_case_is_flagged() {
    let e = error(&with_line(&hello(), "version=", "Version=1.0"));
    assert!(
        matches!(&e, RecipeError::WrongCase { found, expected, .. } if found == "Version" && expected == "version")
    );
    assert_eq!(at(&e), (3, 1));
    let e = error(&format!("{MINIMAL}  SHA256SUMS=\"\"\n"));
    assert_eq!(at(&e), (8, 3));
    let e = error(&with_line(&hello(), "package()", "Package() {"));
    assert!(
        matches!(&e, RecipeError::WrongCase { found, expected, .. } if found == "Package()" && expected == "package()")
    );
    assert_eq!(at(&e), (15, 1));
    assert!(e.to_string().contains("write `package()`"), "{e}");
}

#[test]
fn each_missing_requirement_is_named_at_the_end_of_the_file() {
    for (start, what) in [
        ("name=", "name"),
        ("version=", "version"),
        ("release=", "release"),
        ("license=", "license"),
    ] {
        let text = with_line(MINIMAL, start, "");
        let e = error(&text);
        assert!(
            matches!(&e, RecipeError::Missing { what: w, .. } if *w == what),
            "{e:?}"
        );
        // Six lines are left, and the end is the start of the seventh.
        assert_eq!(at(&e), (7, 1), "{what}");
        assert!(e.to_string().contains(&format!("has no `{what}`")), "{e}");
    }
    let e = error("name=a\nversion=1\nrelease=1\nlicense=MIT\nbuild() {\n\tmake\n}");
    assert!(matches!(
        e,
        RecipeError::Missing {
            what: "package()",
            ..
        }
    ));
    assert_eq!(at(&e), (7, 2));
    assert!(e.to_string().contains("add a package() function"));
}

#[test]
fn values_breaking_their_rule_are_refused_at_their_assignment() {
    let cases = [
        ("name=", "name=Hello", "name", 1),
        ("name=", "name=-x", "name", 1),
        ("name=", "name=a/b", "name", 1),
        ("version=", "version=1.0-2", "version", 2),
        ("version=", "version=\"1 0\"", "version", 2),
        ("version=", "version=../1", "version", 2),
        ("version=", "version=", "version", 2),
        ("release=", "release=0", "release", 3),
        ("release=", "release=01", "release", 3),
        ("release=", "release=r1", "release", 3),
        ("release=", "release=99999999999", "release", 3),
        ("license=", "license=\" \"", "license", 4),
    ];
    for (start, line, what, line_number) in cases {
        let e = error(&with_line(MINIMAL, start, line));
        assert!(
            matches!(&e, RecipeError::Invalid { what: w, .. } if *w == what),
            "{line}: {e:?}"
        );
        assert_eq!(at(&e), (line_number, 1), "{line}");
    }
    let e = error(&format!("{MINIMAL}depends=\"busybox Zlib\"\n"));
    assert!(
        matches!(&e, RecipeError::Invalid { what: "dependency", value, .. } if value == "Zlib")
    );
    assert_eq!(at(&e), (8, 1));
    assert_eq!(
        error(&with_line(MINIMAL, "version=", "version=1.0-2")).to_string(),
        "recipes/test.rcp:2:1: version `1.0-2` is invalid: a version is not empty and has no \
         `-` (it separates the parts of a package id), `/`, blanks or control characters: \
         write 1.0_rc1 for 1.0-rc1"
    );
}

#[test]
fn sources_and_sums_must_pair_up() {
    let text = with_line(
        &hello(),
        "sha256sums=",
        &format!("sha256sums=\"{SUM_A} SKIP\""),
    );
    let e = error(&text);
    assert!(matches!(
        e,
        RecipeError::CountMismatch {
            sources: 3,
            sums: 2,
            ..
        }
    ));
    assert_eq!(at(&e), (9, 1));
    // Without sha256sums, the place is the source line.
    let e = error(&with_line(&hello(), "sha256sums=", ""));
    assert!(matches!(
        e,
        RecipeError::CountMismatch {
            sources: 3,
            sums: 0,
            ..
        }
    ));
    assert_eq!(at(&e), (8, 1));
    // Sums without sources.
    let e = error(&format!("{MINIMAL}\nsha256sums={SUM_A}\n"));
    assert!(matches!(
        e,
        RecipeError::CountMismatch {
            sources: 0,
            sums: 1,
            ..
        }
    ));
    assert_eq!(at(&e), (9, 1));
    assert!(
        e.to_string().contains("0 source(s) but 1 sha256sums"),
        "{e}"
    );
}

#[test]
fn malformed_sources_are_refused_with_the_reason() {
    let cases = [
        ("/abs/file.tgz", "not an absolute path"),
        ("ftp://h.invalid/x.tgz", "a source is a relative path"),
        ("https:///x.tgz", "no host"),
        ("https://h.invalid/", "no file name"),
        ("dir/..", "no file name"),
        ("x.tgz::", "must be a file name"),
        ("x.tgz::..", "must be a file name"),
        ("::x.tgz", "no location"),
        ("git+/srv/lib", "pinned by a full commit"),
        ("git+/srv/lib#branch=main", "not a branch"),
        (
            "git+/srv/lib#commit=0123456",
            "not a branch, tag or short id",
        ),
        (
            "git+https://h.invalid/lib.git#commit=C",
            "only local git repositories",
        ),
        ("git+file://host/lib#commit=C", "absolute path"),
        ("git+#commit=C", "no repository"),
    ];
    for (written, reason) in cases {
        let written = written.replace("=C", &format!("={COMMIT}"));
        let sum = if written.starts_with("git+") {
            "SKIP"
        } else {
            SUM_A
        };
        let text = format!("{MINIMAL}# sources\nsource=\"{written}\"\nsha256sums={sum}\n");
        let e = error(&text);
        assert!(
            matches!(&e, RecipeError::BadSource { entry, .. } if *entry == written),
            "{written}: {e:?}"
        );
        assert_eq!(at(&e), (9, 1), "{written}");
        assert!(e.to_string().contains(reason), "{written}: {e}");
    }
}

#[test]
fn malformed_sums_are_refused_at_the_sums_line() {
    let git = format!("git+/srv/lib#commit={COMMIT}");
    let cases = [
        ("a.tgz", "SKIP", "only a git source"),
        (git.as_str(), SUM_A, "pinned by its commit: write SKIP"),
        ("a.tgz", &SUM_A[1..], "64 hex digits"),
        (
            "a.tgz",
            "g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "64 hex digits",
        ),
    ];
    for (source, sum, reason) in cases {
        let text = format!("{MINIMAL}sha256sums=\"{sum}\"\nsource=\"{source}\"\n");
        let e = error(&text);
        assert!(
            matches!(&e, RecipeError::BadChecksum { sum: s, entry, .. } if s == sum && entry == source),
            "{e:?}"
        );
        assert_eq!(at(&e), (8, 1), "{source} {sum}");
        assert!(e.to_string().contains(reason), "{e}");
    }
}

#[test]
fn two_sources_under_one_name_are_refused() {
    let text = format!("{MINIMAL}source=\"a/x.tgz b/x.tgz\"\nsha256sums=\"{SUM_A} {SUM_A}\"\n");
    let e = error(&text);
    assert!(matches!(&e, RecipeError::DuplicateFileName { file_name, .. } if file_name == "x.tgz"));
    assert_eq!(at(&e), (8, 1));
    parse_ok(&text.replace("b/x.tgz", "b/x.tgz::y.tgz"));
}

#[test]
fn a_dependency_listed_twice_is_refused_where_it_repeats() {
    let e = error(&format!("{MINIMAL}depends=\"a b\"\nmakedepends=\"c a\"\n"));
    assert!(matches!(&e, RecipeError::DuplicateDependency { name, .. } if name == "a"));
    assert_eq!(at(&e), (9, 1));
}

fn recipe(name: &str, depends: &str, makedepends: &str) -> Recipe {
    let text = format!(
        "name={name}\nversion=1\nrelease=1\nlicense=MIT\ndepends=\"{depends}\"\nmakedepends=\"{makedepends}\"\npackage() {{\n\t:\n}}\n"
    );
    Recipe::parse(
        &PathBuf::from(format!("recipes/{name}.rcp")),
        text.as_bytes(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn a_package_id_hashes_the_recipe_bytes_then_each_dependency_id() {
    let leaf = recipe("leaf", "", "");
    let leaf_id = leaf.package_id([]);
    let digest = Sha256::digest(leaf.text.as_bytes());
    assert_eq!(
        leaf_id.as_str(),
        format!("leaf-1-{}", &hex(&digest)[..PACKAGE_HASH_HEX_LEN])
    );
    let top = recipe("top", "leaf", "");
    let mut hasher = Sha256::new();
    hasher.update(top.text.as_bytes());
    hasher.update(format!("{leaf_id}\n").as_bytes());
    let expected = format!("top-1-{}", &hex(&hasher.finalize())[..16]);
    let ids = package_ids(&[top.clone(), leaf.clone()]).unwrap();
    assert_eq!(ids["top"].as_str(), expected);
    assert_eq!(ids["leaf"], leaf_id);
    assert_eq!(ids.len(), 2);
}

#[test]
fn package_ids_resolve_any_order_and_follow_changes_down_the_graph() {
    let recipes = vec![
        recipe("app", "lib", "cc"),
        recipe("lib", "base", ""),
        recipe("cc", "base", ""),
        recipe("base", "", ""),
    ];
    let ids = package_ids(&recipes).unwrap();
    let mut reversed = recipes.clone();
    reversed.reverse();
    assert_eq!(package_ids(&reversed).unwrap(), ids);

    // One byte more in `base` changes every id above it.
    let mut changed = recipes.clone();
    let mut text = changed[3].text.clone();
    text.push('\n');
    changed[3] = Recipe::parse(&changed[3].path, text.as_bytes()).unwrap();
    let new_ids = package_ids(&changed).unwrap();
    for name in ["app", "lib", "cc", "base"] {
        assert_ne!(new_ids[name], ids[name], "{name}");
    }
    // The order of dependency ids matters.
    let (lib, cc) = (&ids["lib"], &ids["cc"]);
    assert_ne!(
        recipes[0].package_id([lib, cc]),
        recipes[0].package_id([cc, lib])
    );
}

#[test]
fn a_long_chain_resolves_without_deep_recursion() {
    let n = 5000;
    let recipes: Vec<Recipe> = (0..n)
        .map(|i| {
            let dep = if i + 1 < n {
                format!("p{}", i + 1)
            } else {
                String::new()
            };
            recipe(&format!("p{i}"), &dep, "")
        })
        .collect();
    assert_eq!(package_ids(&recipes).unwrap().len(), n);
}

#[test]
fn a_missing_dependency_names_it_and_who_needs_it() {
    let e = package_ids(&[recipe("a", "", "zlib"), recipe("b", "", "")]).unwrap_err();
    assert!(
        matches!(&e, RecipeError::MissingDependency { recipe, dependency, .. } if recipe == "a" && dependency == "zlib")
    );
    assert_eq!(
        e.to_string(),
        "recipes/a.rcp:6:1: a depends on `zlib`, which no recipe provides: add a recipe for it, \
         or remove it from the dependencies"
    );
}

#[test]
fn a_cycle_is_named_around() {
    let e = package_ids(&[
        recipe("a", "b", ""),
        recipe("b", "", "a"),
        recipe("c", "", ""),
    ])
    .unwrap_err();
    let RecipeError::Cycle { cycle, at } = &e else {
        panic!("{e:?}")
    };
    assert_eq!(cycle, &["a", "b", "a"]);
    assert_eq!(at.to_string(), "recipes/b.rcp:6:1");
    assert!(e.to_string().contains("dependency cycle a → b → a"), "{e}");
    // Reached from outside, the cycle is still named from where it closes.
    let e = package_ids(&[
        recipe("top", "x", ""),
        recipe("x", "y", ""),
        recipe("y", "z", ""),
        recipe("z", "x", ""),
    ])
    .unwrap_err();
    assert!(
        e.to_string()
            .contains("recipes/z.rcp:5:1: dependency cycle x → y → z → x"),
        "{e}"
    );
    let e = package_ids(&[recipe("self", "self", "")]).unwrap_err();
    assert!(e.to_string().contains("cycle self → self"), "{e}");
}

#[test]
fn two_recipes_of_one_name_are_refused() {
    let mut second = recipe("a", "", "");
    second.path = PathBuf::from("other/a.rcp");
    let e = package_ids(&[recipe("a", "", ""), second]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "other/a.rcp:1:1: a second recipe named `a` (the first is recipes/a.rcp): remove or \
         rename one"
    );
}

#[test]
fn load_reads_a_file_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tiny.rcp");
    std::fs::write(&path, MINIMAL).unwrap();
    let r = Recipe::load(&path).unwrap();
    assert_eq!(r.path, path);
    assert_eq!(r.dir(), dir.path());
    let e = Recipe::load(&dir.path().join("none.rcp")).unwrap_err();
    assert!(matches!(e, RecipeError::Io { .. }));
    assert!(e.to_string().starts_with("unable to read "), "{e}");
}

#[test]
fn hex_round_trips() {
    assert_eq!(hex(&[0x01, 0xab, 0xff]), "01abff");
    assert_eq!(parse_hex::<3>("01ABff"), Some([0x01, 0xab, 0xff]));
    assert_eq!(parse_hex::<3>("01abf"), None);
    assert_eq!(parse_hex::<1>("+1"), None);
    assert_eq!(
        CommitId::parse(COMMIT).map(|c| c.to_string()).as_deref(),
        Some(COMMIT)
    );
}

#[test]
fn tree_and_cargo_sources_are_pinned_by_their_content() {
    let text = MINIMAL.replace(
        "package()",
        "source=\"tree+..::nanolin cargo+../Cargo.lock\"\nsha256sums=\"SKIP SKIP\"\npackage()",
    );
    let recipe = parse_ok(&text);
    assert_eq!(recipe.sources.len(), 2);
    let (tree, lock) = (&recipe.sources[0], &recipe.sources[1]);
    assert_eq!(tree.entry.location, Location::Tree { dir: "..".into() });
    assert_eq!(tree.entry.file_name, "nanolin");
    assert_eq!(tree.pin, Pin::Content);
    assert_eq!(
        lock.entry.location,
        Location::CargoLock {
            lock: "../Cargo.lock".into()
        }
    );
    assert_eq!(lock.entry.file_name, "vendor");
    assert_eq!(lock.pin, Pin::Content);

    // Their content enters the id: the same recipe with other content has another id.
    let mut other = recipe.clone();
    other.content_digests = vec![[1; 32], [2; 32]];
    let mut again = recipe.clone();
    again.content_digests = vec![[1; 32], [2; 32]];
    assert_ne!(recipe.package_id([]), other.package_id([]));
    assert_eq!(other.package_id([]), again.package_id([]));
    again.content_digests[1] = [3; 32];
    assert_ne!(other.package_id([]), again.package_id([]));
}

#[test]
fn tree_and_cargo_sources_are_refused_when_misused() {
    let with = |source: &str, sums: &str| {
        error(&MINIMAL.replace(
            "package()",
            &format!("source=\"{source}\"\nsha256sums=\"{sums}\"\npackage()"),
        ))
        .to_string()
    };
    let e = with("tree+..::nanolin", SUM_A);
    assert!(e.contains("pinned by its content"), "{e}");
    let e = with("tree+..", "SKIP");
    assert!(e.contains("NAME"), "{e}");
    let e = with("tree+/srv/tree::x", "SKIP");
    assert!(e.contains("relative"), "{e}");
    let e = with("cargo+../Cargo.toml", "SKIP");
    assert!(e.contains("Cargo.lock"), "{e}");
    let e = with("hello.c", "SKIP");
    assert!(e.contains("tree or a cargo source may be SKIP"), "{e}");
}
