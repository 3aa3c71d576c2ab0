//! License reports of a fixture source tree (tests/fixtures/license/hello: a small C program
//! under MIT that bundles a GPL-2.0-or-later getopt): the text report's content, the SPDX 2.3
//! document validated by the real pyspdxtools (Python package spdx-tools), and determinism
//! across runs and source locations.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use nanolin_host::license::{
    check_expression, report_text, scan, spdx_json, spdx_json_image, PackageInfo, Scan,
};

/// 2019-02-22 13:22:45 UTC, as `SOURCE_DATE_EPOCH` would give it.
const EPOCH: u64 = 1_550_841_765;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/license/hello")
}

fn package(declared: &str) -> PackageInfo {
    PackageInfo {
        name: "hello".to_string(),
        version: "1.0".to_string(),
        package_id: "hello-1.0-0123456789abcdef".to_string(),
        url: Some("https://example.org/hello/hello-1.0.tar.gz".to_string()),
        declared: check_expression(declared).unwrap(),
    }
}

fn scan_fixture() -> Scan {
    scan(&fixture()).unwrap()
}

/// pyspdxtools, or the failure that says how to install it.
fn pyspdxtools() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("pyspdxtools"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "pyspdxtools is not installed: run ./nanolin test (it installs it), or \
             `python3 -m pip install spdx-tools==0.8.5` (on a Python that Debian manages, add \
             --break-system-packages)"
        )
    })
}

/// Validates `json` with pyspdxtools; panics with its messages when it refuses.
fn validate(json: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.spdx.json");
    fs::write(&path, json).unwrap();
    let out = Command::new(pyspdxtools())
        .arg("-i")
        .arg(&path)
        .output()
        .expect("run pyspdxtools");
    assert!(
        out.status.success(),
        "pyspdxtools refused the document:\n{}{}\n{json}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn text_report_names_holders_licenses_and_the_mismatch() {
    let report = report_text(&package("MIT"), &scan_fixture());
    println!("{report}");
    for expected in [
        "License report: hello-1.0\n",
        "Declared license:  MIT\n",
        "Verdict:           DIFFERENCES: see below\n",
        // The bundled getopt: its tag and its COPYING (whose GPL-2.0 text is counted as the
        // id its tag names).
        "  ! detected, not declared: GPL-2.0-or-later (in third_party/getopt/COPYING, third_party/getopt/getopt.c:2)\n",
        "  GPL-2.0-or-later [NOT DECLARED]\n",
        "    third_party/getopt/COPYING: license text, match 0.989 (the same text as GPL-2.0-only: the files' notices say which applies)\n",
        "    third_party/getopt/getopt.c:2: SPDX-License-Identifier: GPL-2.0-or-later\n",
        "  MIT [declared]\n",
        "    LICENSE: license text, match 1.000\n",
        "    Makefile:1: SPDX-License-Identifier: MIT\n",
        "    src/hello.c:1: SPDX-License-Identifier: MIT\n",
        "    src/util.c:2: SPDX-License-Identifier: MIT\n",
        // Rights holders, each once, with every statement.
        "  Free Software Foundation, Inc.\n",
        "    third_party/getopt/getopt.c:3: Copyright (C) 1987-2017 Free Software Foundation, Inc.\n",
        "  Jane Doe\n",
        "    LICENSE:3: Copyright (c) 2019 Jane Doe\n",
        "    Makefile:2: Copyright (C) 2019 Jane Doe\n",
        "    src/hello.c:2: Copyright (C) 2019, 2021 Jane Doe\n",
        "    src/hello.c:11: Copyright (C) 2019 Jane Doe\n",
        // Latin-1 © (0xA9) read as such.
        "    src/version.c:1: © 2020 Jane Doe\n",
        "  John Smith <john@example.org>\n",
        "    src/util.c:1: SPDX-FileCopyrightText: 2021 John Smith <john@example.org>\n",
        "  9 files read, 1 binary files skipped, 0 links and special files skipped\n",
    ] {
        assert!(report.contains(expected), "missing {expected:?} in:\n{report}");
    }
    // The binary file's text and the license templates' placeholders are not holders.
    assert!(!report.contains("Not A Holder"), "{report}");
    assert!(!report.contains("name of author"), "{report}");
}

#[test]
fn declaring_both_licenses_agrees() {
    let report = report_text(&package("MIT AND GPL-2.0-or-later"), &scan_fixture());
    assert!(
        report.contains("Verdict:           the sources agree with the declared license\n"),
        "{report}"
    );
    assert!(report.contains("Differences\n  none\n"), "{report}");
    // What is declared but appears nowhere is flagged too.
    let report = report_text(&package("MIT OR Apache-2.0"), &scan_fixture());
    assert!(
        report.contains(
            "  ! declared, not found:    Apache-2.0 (no SPDX tag or license file has it)\n"
        ),
        "{report}"
    );
}

#[test]
fn spdx_document_validates_with_pyspdxtools() {
    let scan = scan_fixture();
    let json = spdx_json(&package("MIT"), &scan, EPOCH);
    for expected in [
        r#""spdxVersion": "SPDX-2.3""#,
        r#""dataLicense": "CC0-1.0""#,
        r#""SPDXID": "SPDXRef-DOCUMENT""#,
        r#""documentNamespace": "https://nanolin.invalid/spdx/hello-1.0-0123456789abcdef""#,
        r#""created": "2019-02-22T13:22:45Z""#,
        r#""Tool: nanolin-"#,
        r#""downloadLocation": "https://example.org/hello/hello-1.0.tar.gz""#,
        r#""licenseDeclared": "MIT""#,
        r#""licenseConcluded": "NOASSERTION""#,
        r#""fileName": "./third_party/getopt/COPYING""#,
        r#""relationshipType": "DESCRIBES""#,
    ] {
        assert!(json.contains(expected), "missing {expected} in:\n{json}");
    }
    assert!(
        json.contains(
            "\"licenseInfoFromFiles\": [\n        \"GPL-2.0-or-later\",\n        \"MIT\"\n      ]"
        ),
        "{json}"
    );
    validate(&json);

    // Agreeing: the declared expression is concluded.
    let json = spdx_json(&package("MIT AND GPL-2.0-or-later"), &scan, EPOCH);
    assert!(
        json.contains(r#""licenseConcluded": "MIT AND GPL-2.0-or-later""#),
        "{json}"
    );
    validate(&json);
}

#[test]
fn license_ref_is_extracted_and_validates() {
    let mut hello = package("MIT AND (GPL-2.0-or-later OR LicenseRef-Hello-Commercial)");
    hello.url = None;
    let json = spdx_json(&hello, &scan_fixture(), EPOCH);
    assert!(
        json.contains(r#""licenseId": "LicenseRef-Hello-Commercial""#),
        "{json}"
    );
    assert!(
        json.contains(r#""downloadLocation": "NOASSERTION""#),
        "{json}"
    );
    validate(&json);
}

#[test]
fn image_document_of_two_packages_validates() {
    let scan = scan_fixture();
    let hello = package("MIT");
    let mut other = package("GPL-2.0-or-later");
    other.name = "getopt".to_string();
    other.package_id = "getopt-2017-fedcba9876543210".to_string();
    let json = spdx_json_image(
        "prime-r19.02-G22132245",
        &[(&hello, &scan), (&other, &scan)],
        EPOCH,
    );
    assert!(
        json.contains(r#""relatedSpdxElement": "SPDXRef-Package-getopt-2017-fedcba9876543210""#),
        "{json}"
    );
    assert!(
        json.contains(r#""relatedSpdxElement": "SPDXRef-Package-hello-1.0-0123456789abcdef""#),
        "{json}"
    );
    validate(&json);
}

/// Copies a tree of plain files and directories.
fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Both reports of the fixture copied to `dir/name`, as one string.
fn reports_of_copy(dir: &Path, name: &str) -> String {
    let root = dir.join(name);
    copy_tree(&fixture(), &root);
    let scan = scan(&root).unwrap();
    let hello = package("MIT");
    format!(
        "{}\n{}",
        report_text(&hello, &scan),
        spdx_json(&hello, &scan, EPOCH)
    )
}

/// Run as a child by `two_runs_are_byte_identical`: writes the reports where it is told.
#[test]
fn child_writes_reports() {
    let Some(out) = std::env::var_os("NANOLIN_LICENSE_CHILD_OUT") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    fs::write(out, reports_of_copy(dir.path(), "elsewhere")).unwrap();
}

#[test]
fn two_runs_are_byte_identical() {
    let dir = tempfile::tempdir().unwrap();
    let first = reports_of_copy(dir.path(), "one");
    let second = reports_of_copy(dir.path(), "two/deeper");
    assert_eq!(first, second, "two scans in one process differ");
    // Another process: its hash maps are seeded differently (the license texts live in one).
    let out = dir.path().join("child.txt");
    // Its output is kept from ours: test runners count the "test result" lines they see.
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_writes_reports", "--quiet"])
        .env("NANOLIN_LICENSE_CHILD_OUT", &out)
        .output()
        .unwrap();
    assert!(
        child.status.success(),
        "{}{}",
        String::from_utf8_lossy(&child.stdout),
        String::from_utf8_lossy(&child.stderr)
    );
    let third = fs::read_to_string(&out).unwrap();
    assert_eq!(first, third, "a second run gives other bytes");
}
