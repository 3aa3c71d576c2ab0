//! The license report for people (`NAME-VERSION.licenses.txt`).

use std::fmt::Write;

use super::{compare, limits, PackageInfo, Scan};

/// The readable report: declared expression, differences with what the sources say, every
/// license found and where, every rights holder and where, and what the scan left out.
pub fn report_text(package: &PackageInfo, scan: &Scan) -> String {
    let comparison = compare(&package.declared, scan);
    let mut out = String::new();
    let o = &mut out;
    line(
        o,
        format_args!("License report: {}-{}", package.name, package.version),
    );
    line(o, format_args!("Package:           {}", package.package_id));
    line(o, format_args!("Declared license:  {}", package.declared));
    line(
        o,
        format_args!("SPDX License List: {}", spdx::license_version()),
    );
    if comparison.agrees() {
        line(
            o,
            format_args!("Verdict:           the sources agree with the declared license"),
        );
    } else {
        line(o, format_args!("Verdict:           DIFFERENCES: see below"));
    }

    line(o, format_args!(""));
    line(o, format_args!("Differences"));
    if comparison.agrees() {
        line(o, format_args!("  none"));
    }
    for id in &comparison.detected_not_declared {
        let places: Vec<String> = comparison
            .licenses
            .iter()
            .filter(|l| &l.id == id)
            .flat_map(|l| {
                l.files
                    .iter()
                    .map(|e| e.file.clone())
                    .chain(l.tags.iter().map(|p| p.to_string()))
            })
            .collect();
        line(
            o,
            format_args!(
                "  ! detected, not declared: {id} (in {})",
                places.join(", ")
            ),
        );
    }
    for id in &comparison.declared_not_found {
        line(
            o,
            format_args!("  ! declared, not found:    {id} (no SPDX tag or license file has it)"),
        );
    }

    line(o, format_args!(""));
    line(
        o,
        format_args!("Licenses found ({})", comparison.licenses.len()),
    );
    if comparison.licenses.is_empty() {
        line(o, format_args!("  none"));
    }
    for l in &comparison.licenses {
        let status = if l.declared {
            "declared"
        } else {
            "NOT DECLARED"
        };
        line(o, format_args!("  {} [{status}]", l.id));
        for e in &l.files {
            let what = if e.header {
                "license header"
            } else {
                "license text"
            };
            let mut note = format!("    {}: {what}, match {:.3}", e.file, e.confidence);
            if !e.same_text.is_empty() {
                let _ = write!(
                    note,
                    " (the same text as {}: the files' notices say which applies)",
                    e.same_text.join(", ")
                );
            }
            line(o, format_args!("{note}"));
        }
        for place in &l.tags {
            let text = scan
                .tags
                .iter()
                .find(|t| &t.place == place)
                .map_or("", |t| t.text.as_str());
            line(
                o,
                format_args!("    {place}: SPDX-License-Identifier: {text}"),
            );
        }
    }

    line(o, format_args!(""));
    line(o, format_args!("Rights holders ({})", scan.holders.len()));
    if scan.holders.is_empty() {
        line(o, format_args!("  none found"));
    }
    for holder in &scan.holders {
        line(o, format_args!("  {}", holder.name));
        for s in &holder.statements {
            line(o, format_args!("    {}: {}", s.place, s.text));
        }
    }

    let unidentified: Vec<_> = scan
        .license_files
        .iter()
        .filter(|f| f.identified().is_none())
        .collect();
    if !unidentified.is_empty() {
        line(o, format_args!(""));
        line(
            o,
            format_args!("License files not identified ({})", unidentified.len()),
        );
        for f in unidentified {
            match &f.best {
                Some(m) => line(
                    o,
                    format_args!(
                        "  {}: closest {} at {:.3}, below {:.3}",
                        f.file,
                        m.ids.join(" / "),
                        m.confidence,
                        limits::TEXT_MATCH_THRESHOLD
                    ),
                ),
                None => line(o, format_args!("  {}: not compared", f.file)),
            }
        }
    }

    let unread: Vec<_> = scan.tags.iter().filter(|t| t.problem.is_some()).collect();
    if !unread.is_empty() {
        line(o, format_args!(""));
        line(
            o,
            format_args!("SPDX tags not understood ({})", unread.len()),
        );
        for t in unread {
            line(
                o,
                format_args!(
                    "  {}: `{}`: {}",
                    t.place,
                    t.text,
                    t.problem.as_deref().unwrap_or_default()
                ),
            );
        }
    }

    let s = &scan.stats;
    line(o, format_args!(""));
    line(o, format_args!("Scan"));
    line(
        o,
        format_args!(
            "  {} files read, {} binary files skipped, {} links and special files skipped",
            s.files_scanned, s.binary_files, s.special_files
        ),
    );
    if s.files_left_out > 0 {
        line(
            o,
            format_args!(
                "  {} files with findings left out: sources the build did not compile (tests, \
                 tools, crates for other targets)",
                s.files_left_out
            ),
        );
    }
    if s.truncated_files > 0 {
        line(
            o,
            format_args!(
                "  {} files larger than {} bytes: only their start was read",
                s.truncated_files,
                limits::MAX_FILE_BYTES
            ),
        );
    }
    if s.deep_directories > 0 {
        line(
            o,
            format_args!(
                "  ! {} directories deeper than {} levels were not read",
                s.deep_directories,
                limits::MAX_DEPTH
            ),
        );
    }
    if s.file_limit_reached {
        line(
            o,
            format_args!(
                "  ! stopped after {} files: the rest of the tree was not read",
                limits::MAX_FILES
            ),
        );
    }
    if s.license_files_not_compared > 0 {
        line(
            o,
            format_args!(
                "  ! {} license files past the first {} were not compared",
                s.license_files_not_compared,
                limits::MAX_LICENSE_FILES
            ),
        );
    }
    out
}

fn line(out: &mut String, args: std::fmt::Arguments<'_>) {
    // Writing to a String cannot fail.
    let _ = out.write_fmt(args);
    out.push('\n');
}
