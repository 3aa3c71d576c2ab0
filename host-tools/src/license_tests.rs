use std::fs;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::expression::{edit_distance, read_tag};
use super::scan::{copyright_statement, decode, holder_of, license_tag, strip_comment};
use super::spdx_doc::{download_location, id_chars, timestamp};
use super::*;

/// The GPL-2.0 text, as the fixture tree of the workspace tests has it.
const GPL_2: &str = include_str!("../../tests/fixtures/license/hello/third_party/getopt/COPYING");
const MIT: &str = include_str!("../../tests/fixtures/license/hello/LICENSE");

fn fault(text: &str) -> (usize, ExpressionFault) {
    match check_expression(text) {
        Err(LicenseError::Expression { column, fault, .. }) => (column, fault),
        other => panic!("{text}: expected an expression error, got {other:?}"),
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn valid_expressions_name_their_ids() {
    let e = check_expression("GPL-2.0-only OR Apache-2.0").unwrap();
    assert_eq!(e.license_ids(), strings(&["Apache-2.0", "GPL-2.0-only"]));
    let e = check_expression("Apache-2.0 WITH LLVM-exception").unwrap();
    assert_eq!(e.license_ids(), strings(&["Apache-2.0"]));
    assert_eq!(e.exceptions(), strings(&["LLVM-exception"]));
    let e = check_expression(" (MIT AND BSD-3-Clause) ").unwrap();
    assert_eq!(e.as_str(), "(MIT AND BSD-3-Clause)");
    assert_eq!(e.license_ids(), strings(&["BSD-3-Clause", "MIT"]));
    let e = check_expression("MIT OR LicenseRef-Vendor-1.0").unwrap();
    assert_eq!(e.license_ids(), strings(&["LicenseRef-Vendor-1.0", "MIT"]));
    assert_eq!(
        check_expression("MIT AND MIT").unwrap().license_ids(),
        strings(&["MIT"])
    );
}

#[test]
fn deprecated_gnu_ids_say_what_to_write() {
    let (column, f) = fault("GPL-2.0");
    assert_eq!(column, 1);
    assert_eq!(
        f,
        ExpressionFault::DeprecatedLicense {
            id: "GPL-2.0".into(),
            replacements: strings(&["GPL-2.0-only", "GPL-2.0-or-later"]),
        }
    );
    assert_eq!(
        check_expression("GPL-2.0").unwrap_err().to_string(),
        "license `GPL-2.0`, column 1: `GPL-2.0` is deprecated in the SPDX License List: write \
         `GPL-2.0-only` or `GPL-2.0-or-later`"
    );
    let (column, f) = fault("MIT OR LGPL-2.1+");
    assert_eq!(column, 8);
    assert_eq!(
        f,
        ExpressionFault::DeprecatedLicense {
            id: "LGPL-2.1+".into(),
            replacements: strings(&["LGPL-2.1-or-later"]),
        }
    );
    let (_, f) = fault("GPL-3.0-only+");
    assert_eq!(
        f.to_string(),
        "GNU licenses take no `+` (they have -only and -or-later ids): write `GPL-3.0-or-later`"
    );
}

#[test]
fn unknown_ids_get_the_close_ones() {
    let suggested = |text: &str| match fault(text).1 {
        ExpressionFault::UnknownLicense { suggestions, .. }
        | ExpressionFault::UnknownException { suggestions, .. } => suggestions,
        other => panic!("{text}: {other:?}"),
    };
    assert_eq!(suggested("mit"), strings(&["MIT"]));
    assert_eq!(suggested("BSD-3-clause"), strings(&["BSD-3-Clause"]));
    assert_eq!(suggested("MTI"), strings(&["MIT"]));
    assert_eq!(suggested("Apache2"), strings(&["Apache-2.0"]));
    assert_eq!(suggested("Apache-2"), strings(&["Apache-2.0"]));
    assert_eq!(
        suggested("gplv2"),
        strings(&["GPL-2.0-only", "GPL-2.0-or-later"])
    );
    assert_eq!(
        suggested("Apache-2.0 WITH LLVM-Exception"),
        strings(&["LLVM-exception"])
    );
    assert_eq!(suggested("Zlibb"), strings(&["Zlib"]));
    assert_eq!(suggested("Totally-Made-Up"), Vec::<String>::new());

    let (column, f) = fault("MIT OR Apachee-2.0");
    assert_eq!(column, 8);
    assert_eq!(
        f.to_string(),
        "`Apachee-2.0` is not an SPDX license id: did you mean `Apache-2.0`?"
    );
    assert!(fault("Totally-Made-Up")
        .1
        .to_string()
        .contains("or LicenseRef-NAME for a license that is not on the list"));
}

#[test]
fn syntax_errors_say_what_to_do() {
    assert_eq!(
        fault("MIT/Apache-2.0").1,
        ExpressionFault::Syntax("`/` is not an SPDX operator: write OR".into())
    );
    assert!(matches!(fault("").1, ExpressionFault::Syntax(s) if s.contains("empty")));
    assert!(
        matches!(fault("(MIT AND Zlib").1, ExpressionFault::Syntax(s) if s.contains("never closed"))
    );
    assert!(matches!(fault("MIT OR").1, ExpressionFault::Syntax(_)));
    assert_eq!(
        fault("DocumentRef-x:LicenseRef-y").1,
        ExpressionFault::DocumentRef
    );
    assert_eq!(
        fault("MIT WITH AdditionRef-x").1,
        ExpressionFault::AdditionRef
    );
}

#[test]
fn errors_name_the_recipe_line() {
    let e = check_expression("GPL2")
        .unwrap_err()
        .at(Path::new("recipes/hello.rcp"), 4);
    assert_eq!(
        e.to_string(),
        "recipes/hello.rcp:4: license `GPL2`, column 1: `GPL2` is not an SPDX license id: did \
         you mean `GPL-2.0-only` or `GPL-2.0-or-later`?"
    );
}

#[test]
fn edit_distance_counts_transpositions_once() {
    assert_eq!(edit_distance("mit", "mit"), 0);
    assert_eq!(edit_distance("mti", "mit"), 1);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("apache-2", "apache-2.0"), 2);
}

#[test]
fn tags_are_read_as_sources_write_them() {
    let r = read_tag("GPL-2.0+");
    assert_eq!((r.ids, r.problem), (strings(&["GPL-2.0-or-later"]), None));
    assert_eq!(read_tag("GPL-2.0").ids, strings(&["GPL-2.0-only"]));
    assert_eq!(
        read_tag("MIT/Apache-2.0").ids,
        strings(&["Apache-2.0", "MIT"])
    );
    let r = read_tag("GPL-2.0 WITH Linux-syscall-note");
    assert_eq!(r.ids, strings(&["GPL-2.0-only"]));
    assert_eq!(r.exceptions, strings(&["Linux-syscall-note"]));
    assert_eq!(read_tag("LicenseRef-Foo").ids, strings(&["LicenseRef-Foo"]));
    let r = read_tag("Nope-1");
    assert!(r.ids.is_empty());
    assert!(r.problem.unwrap().contains("not an SPDX license id"));
}

#[test]
fn tag_lines() {
    assert_eq!(
        license_tag("/* SPDX-License-Identifier: MIT */").as_deref(),
        Some("MIT")
    );
    assert_eq!(
        license_tag("// SPDX-License-Identifier: (MIT OR Apache-2.0)").as_deref(),
        Some("(MIT OR Apache-2.0)")
    );
    assert_eq!(
        license_tag("<!-- SPDX-License-Identifier: CC-BY-4.0 -->").as_deref(),
        Some("CC-BY-4.0 --")
    );
    // Code that names the tag is no tag.
    assert_eq!(
        license_tag(r#"const TAG: &str = "SPDX-License-Identifier:";"#),
        None
    );
    assert_eq!(license_tag("int main(void);"), None);
}

#[test]
fn comment_markers_are_stripped() {
    assert_eq!(strip_comment(" * Copyright 2019 A"), "Copyright 2019 A");
    assert_eq!(strip_comment("/* Copyright 2019 A */"), "Copyright 2019 A");
    assert_eq!(strip_comment("## Copyright 2019 A"), "Copyright 2019 A");
    assert_eq!(strip_comment("-- Copyright 2019 A"), "Copyright 2019 A");
    assert_eq!(strip_comment("dnl Copyright 2019 A"), "Copyright 2019 A");
    assert_eq!(
        strip_comment("<!-- Copyright 2019 A -->"),
        "Copyright 2019 A"
    );
}

#[test]
fn copyright_statements_and_their_holders() {
    let holder = |line: &str| copyright_statement(line).map(|(_, h)| h);
    assert_eq!(
        holder(" * Copyright (C) 2019 Jane Doe").as_deref(),
        Some("Jane Doe")
    );
    assert_eq!(
        holder("# Copyright 2019-2021 The Foo Authors. All rights reserved.").as_deref(),
        Some("The Foo Authors")
    );
    assert_eq!(
        holder("Copyright (c) 2018, 2020 Acme Corp.").as_deref(),
        Some("Acme Corp.")
    );
    assert_eq!(holder("© Jane Doe").as_deref(), Some("Jane Doe"));
    assert_eq!(
        holder("Copyright © 2019 by Jane Doe").as_deref(),
        Some("Jane Doe")
    );
    assert_eq!(
        holder("Copyright(c)2019 Jane Doe").as_deref(),
        Some("Jane Doe")
    );
    assert_eq!(holder("(c) 2017 Jane Doe").as_deref(), Some("Jane Doe"));
    assert_eq!(
        holder("Copyright 2015-present Jane Doe").as_deref(),
        Some("Jane Doe")
    );
    assert_eq!(
        holder("// SPDX-FileCopyrightText: © 2022 Foo GmbH <info@foo.example>").as_deref(),
        Some("Foo GmbH <info@foo.example>")
    );
    assert_eq!(
        copyright_statement(r#"    printf("v1.0, Copyright (C) 2019 Jane Doe\n");"#),
        Some(("Copyright (C) 2019 Jane Doe".into(), "Jane Doe".into()))
    );
    assert_eq!(
        copyright_statement(" Copyright (C) 1989, 1991 Free Software Foundation, Inc.,"),
        Some((
            "Copyright (C) 1989, 1991 Free Software Foundation, Inc.".into(),
            "Free Software Foundation, Inc.".into()
        ))
    );
    // Sentences about copyright and templates are not statements.
    for line in [
        "The above copyright notice and this permission notice shall be included in all",
        "THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS \"AS IS\"",
        "    Copyright (C) <year>  <name of author>",
        "   Copyright [yyyy] [name of copyright owner]",
        "Copyright notice",
        "copyright holders and contributors may be used",
        "Copyright (C) 2019",
        "    Gnomovision version 69, Copyright (C) year name of author",
        "int copyright = 0;",
    ] {
        assert_eq!(copyright_statement(line), None, "{line}");
    }
    assert_eq!(holder_of("2019 Jane Doe."), Some("Jane Doe".into()));
}

#[test]
fn statements_are_bounded() {
    let line = format!("Copyright 2019 {}", "x".repeat(10_000));
    let (statement, holder) = copyright_statement(&line).unwrap();
    assert_eq!(statement.chars().count(), limits::MAX_STATEMENT_CHARS);
    assert_eq!(holder.chars().count(), limits::MAX_STATEMENT_CHARS);
}

#[test]
fn any_encoding_decodes() {
    assert_eq!(decode(b"plain", false).as_deref(), Some("plain"));
    assert_eq!(decode(b"\xEF\xBB\xBFbom", false).as_deref(), Some("bom"));
    // Latin-1: 0xA9 is the copyright sign.
    assert_eq!(decode(b"\xA9 2020 A", false).as_deref(), Some("© 2020 A"));
    // UTF-16 with a byte order mark, both orders.
    assert_eq!(decode(b"\xFF\xFEh\0i\0", false).as_deref(), Some("hi"));
    assert_eq!(decode(b"\xFE\xFF\0h\0i", false).as_deref(), Some("hi"));
    // A lone surrogate is replaced, not a failure.
    assert_eq!(
        decode(b"\xFF\xFE\x00\xD8", false).as_deref(),
        Some("\u{FFFD}")
    );
    // NUL: binary.
    assert_eq!(decode(b"ELF\0\x01", false), None);
    // UTF-8 cut by the read limit in the middle of `©` keeps what comes before.
    assert_eq!(
        decode("ab©".as_bytes().get(..3).unwrap(), true).as_deref(),
        Some("ab")
    );
}

#[test]
fn license_texts_are_identified_the_same_by_every_store() {
    // Two stores hold their texts in differently seeded hash maps: the ranking must not
    // depend on that (GPL-2.0-only and GPL-2.0-or-later share one text).
    let first = spdx::detection::Store::load_inline().unwrap();
    let second = spdx::detection::Store::load_inline().unwrap();
    let gpl = detect::identify(&first, GPL_2).unwrap();
    assert_eq!(gpl.ids, strings(&["GPL-2.0-only", "GPL-2.0-or-later"]));
    assert!(gpl.confidence > 0.98, "{gpl:?}");
    assert!(!gpl.header);
    assert_eq!(detect::identify(&second, GPL_2), Some(gpl));

    let mit = detect::identify(&first, MIT).unwrap();
    assert_eq!(mit.ids, strings(&["MIT"]));
    assert_eq!(mit.confidence, 1.0);
    assert_eq!(detect::identify(&second, MIT), Some(mit));

    assert_eq!(detect::identify(&first, ""), None);
    let prose = detect::identify(&first, "This is a README about a program.").unwrap();
    assert!(prose.confidence < limits::TEXT_MATCH_THRESHOLD, "{prose:?}");
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
}

#[test]
fn scan_finds_tags_statements_and_license_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    write(root, "LICENSES/MIT.txt", MIT.as_bytes());
    write(root, "COPYING", GPL_2.as_bytes());
    write(
        root,
        "a.c",
        b"// SPDX-License-Identifier: GPL-2.0-only\n// Copyright 2001 A\n",
    );
    write(
        root,
        "b/c.py",
        b"# SPDX-FileCopyrightText: 2002 B\n# SPDX-License-Identifier: MIT\n",
    );
    write(root, "b/bad.c", b"/* SPDX-License-Identifier: Nope-1 */\n");
    write(root, "plain.txt", b"nothing here\n");
    // Version control metadata is not part of the sources.
    write(root, ".git/config", b"# Copyright 2000 Not Sources\n");
    std::os::unix::fs::symlink("/etc/passwd", root.join("link")).unwrap();

    let scan = scan(root).unwrap();
    let names: Vec<&str> = scan.holders.iter().map(|h| h.name.as_str()).collect();
    // The MIT text names its holder too.
    assert_eq!(
        names,
        ["A", "B", "Free Software Foundation, Inc.", "Jane Doe"]
    );
    let tags: Vec<String> = scan.tags.iter().map(|t| t.place.to_string()).collect();
    assert_eq!(tags, ["a.c:1", "b/bad.c:1", "b/c.py:2"]);
    assert!(scan.tags[1].problem.is_some());
    let files: Vec<&str> = scan.license_files.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(files, ["COPYING", "LICENSES/MIT.txt"]);
    let digests: Vec<&str> = scan.files.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(
        digests,
        ["COPYING", "LICENSES/MIT.txt", "a.c", "b/bad.c", "b/c.py"]
    );
    assert_eq!(scan.stats.files_scanned, 6);
    assert_eq!(scan.stats.special_files, 1);

    // The only tag names -only: the GPL text counts as that.
    let declared = check_expression("GPL-2.0-only AND MIT").unwrap();
    let cmp = compare(&declared, &scan);
    assert!(cmp.agrees(), "{cmp:?}");
    assert_eq!(cmp.file_license("COPYING"), Some("GPL-2.0-only"));
    let cmp = compare(&check_expression("GPL-2.0-or-later").unwrap(), &scan);
    assert_eq!(cmp.file_license("COPYING"), Some("GPL-2.0-or-later"));
    assert_eq!(cmp.detected_not_declared, strings(&["GPL-2.0-only", "MIT"]));
    assert!(cmp.declared_not_found.is_empty());
}

#[test]
fn large_files_are_read_in_part_and_hashed_whole() {
    let dir = tempfile::tempdir().unwrap();
    let mut big = b"/* Copyright 2019 Big Holder */\n".to_vec();
    big.resize(limits::MAX_FILE_BYTES * 3, b'x');
    big.extend_from_slice(b"\n/* Copyright 2019 Never Read */\n");
    write(dir.path(), "big.c", &big);
    let scan = scan(dir.path()).unwrap();
    assert_eq!(scan.stats.truncated_files, 1);
    let names: Vec<&str> = scan.holders.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["Big Holder"]);
    let sha256: String = Sha256::digest(&big)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(scan.files[0].sha256, sha256);
}

#[test]
fn deep_trees_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut path = dir.path().to_path_buf();
    for _ in 0..limits::MAX_DEPTH + 2 {
        path.push("d");
    }
    fs::create_dir_all(&path).unwrap();
    fs::write(path.join("deep.c"), "// Copyright 2019 Too Deep\n").unwrap();
    let scan = scan(dir.path()).unwrap();
    assert_eq!(scan.stats.deep_directories, 1);
    assert!(scan.holders.is_empty());
}

#[test]
fn scan_refuses_what_is_no_directory() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f");
    fs::write(&file, "x").unwrap();
    let e = scan(&file).unwrap_err();
    assert!(matches!(e, LicenseError::NotADirectory(_)));
    assert!(e
        .to_string()
        .ends_with("is not a directory: give the directory the sources were unpacked into"));
    let e = scan(&dir.path().join("missing")).unwrap_err();
    assert!(e.to_string().starts_with("unable to read "), "{e}");
}

#[test]
fn spdx_helpers() {
    assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
    assert_eq!(timestamp(1_550_841_765), "2019-02-22T13:22:45Z");
    assert_eq!(id_chars("a_b+c.d-1"), "a-b-c.d-1");
    for good in [
        "https://example.org/hello-1.0.tar.gz",
        "git+https://git.example.org/hello.git",
        "http://user@ftp.example.com:8080/x",
    ] {
        assert_eq!(download_location(Some(good)), good);
    }
    for bad in [
        "",
        "hello.tar.gz",
        "file:///src/x",
        "https://localhost/x",
        "https://exa mple.org/",
    ] {
        assert_eq!(download_location(Some(bad)), "NOASSERTION", "{bad}");
    }
    assert_eq!(download_location(None), "NOASSERTION");
}

#[test]
fn empty_scan_gives_a_document_without_files() {
    let dir = tempfile::tempdir().unwrap();
    let scan = scan(dir.path()).unwrap();
    let package = PackageInfo {
        name: "empty".into(),
        version: "0".into(),
        package_id: "empty-0-0000000000000000".into(),
        url: None,
        declared: check_expression("MIT").unwrap(),
    };
    let json = spdx_json(&package, &scan, 0);
    assert!(!json.contains("\"files\""), "{json}");
    assert!(
        json.contains("\"copyrightText\": \"NOASSERTION\""),
        "{json}"
    );
    assert!(
        json.contains("\"licenseConcluded\": \"NOASSERTION\""),
        "{json}"
    );
    let text = report_text(&package, &scan);
    assert!(text.contains("  ! declared, not found:    MIT"), "{text}");
    assert!(
        text.contains("Rights holders (0)\n  none found\n"),
        "{text}"
    );
}
