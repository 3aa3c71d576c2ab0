//! The license report as an SPDX 2.3 JSON document.
//!
//! Each package is analysed (`filesAnalyzed: true`): its files are those of the sources in
//! which license or copyright information was found, each with its SHA-1 (which SPDX 2.3
//! requires) and SHA-256, the licenses it names and its copyright statements. SPDX 2.3 allows
//! `licenseInfoFromFiles` only on analysed packages; the package verification code, which would
//! have to cover every file, is left out (it is optional in 2.3).

use std::collections::{BTreeMap, BTreeSet};

use nanolin_core::version::utc_parts;
use serde_json::{json, Map, Value};

use super::{compare, PackageInfo, Scan};

/// Where document namespaces live: a reserved domain, so the URIs are unique names that no
/// one resolves.
const NAMESPACE: &str = "https://nanolin.invalid/spdx";

/// The SPDX document of one package: it DESCRIBES the package. `created_unix` is the creation
/// time in seconds since 1970 (pass `SOURCE_DATE_EPOCH`): the same inputs give the same bytes.
pub fn spdx_json(package: &PackageInfo, scan: &Scan, created_unix: u64) -> String {
    document(
        &package.package_id,
        &format!("{NAMESPACE}/{}", id_chars(&package.package_id)),
        &[(package, scan)],
        created_unix,
    )
}

/// One SPDX document for the packages of a whole image (`name`: the image's, unique, e.g.
/// `prime-r26.11-G22134501`): one SPDX package per package, all DESCRIBED by the document.
pub fn spdx_json_image(
    name: &str,
    packages: &[(&PackageInfo, &Scan)],
    created_unix: u64,
) -> String {
    document(
        name,
        &format!("{NAMESPACE}/image/{}", id_chars(name)),
        packages,
        created_unix,
    )
}

/// `YYYY-MM-DDThh:mm:ssZ`.
pub(super) fn timestamp(unix: u64) -> String {
    let [y, mo, d, h, mi, s] = utc_parts(unix);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// `s` with every character that an SPDX id cannot have (`[A-Za-z0-9.-]`) made a `-`.
pub(super) fn id_chars(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The recipe's URL if SPDX validators take it as a download location (`https://host.tld/…`,
/// also `git+https://…`), else `NOASSERTION`.
pub(super) fn download_location(url: Option<&str>) -> String {
    let Some(url) = url.map(str::trim) else {
        return "NOASSERTION".to_string();
    };
    let rest = url
        .strip_prefix("git+")
        .or_else(|| url.strip_prefix("hg+"))
        .or_else(|| url.strip_prefix("svn+"))
        .or_else(|| url.strip_prefix("bzr+"))
        .unwrap_or(url);
    let Some((scheme, rest)) = rest.split_once("://") else {
        return "NOASSERTION".to_string();
    };
    let scheme_ok = ["http", "https", "ftp", "git", "ssh", "svn", "sftp"]
        .contains(&scheme.to_ascii_lowercase().as_str());
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((h, port))
            if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            h
        }
        _ => host,
    };
    let tld_ok = host.rsplit_once('.').is_some_and(|(name, tld)| {
        (2..=5).contains(&tld.len())
            && tld.bytes().all(|b| b.is_ascii_alphabetic())
            && !name.is_empty()
            && name
                .split(['.', '-'])
                .all(|label| !label.is_empty() && label.bytes().all(|b| b.is_ascii_alphanumeric()))
    });
    if scheme_ok && tld_ok && !url.contains(char::is_whitespace) {
        url.to_string()
    } else {
        "NOASSERTION".to_string()
    }
}

fn document(
    name: &str,
    namespace: &str,
    packages: &[(&PackageInfo, &Scan)],
    created_unix: u64,
) -> String {
    let mut order: Vec<&(&PackageInfo, &Scan)> = packages.iter().collect();
    order.sort_by(|a, b| a.0.package_id.cmp(&b.0.package_id));

    let mut used: BTreeSet<String> = BTreeSet::new();
    let mut license_refs: BTreeSet<String> = BTreeSet::new();
    let mut package_values = Vec::new();
    let mut file_values = Vec::new();
    let mut relationships = Vec::new();

    for (package, scan) in order {
        let mut stem = id_chars(&package.package_id);
        let mut n = 2;
        while !used.insert(stem.clone()) {
            stem = format!("{}-{n}", id_chars(&package.package_id));
            n += 1;
        }
        let package_ref = format!("SPDXRef-Package-{stem}");
        relationships.push(relationship("SPDXRef-DOCUMENT", "DESCRIBES", &package_ref));

        let comparison = compare(&package.declared, scan);
        let mut statements_by_file: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for holder in &scan.holders {
            for s in &holder.statements {
                statements_by_file
                    .entry(s.place.file.as_str())
                    .or_default()
                    .insert(s.text.as_str());
            }
        }
        let mut from_files: BTreeSet<String> = BTreeSet::new();
        for (index, digest) in scan.files.iter().enumerate() {
            let file_ref = format!("SPDXRef-File-{stem}-{}", index + 1);
            let mut infos: BTreeSet<String> = scan
                .tags
                .iter()
                .filter(|t| t.place.file == digest.file)
                .flat_map(|t| t.ids.iter().cloned())
                .collect();
            let mut comment = None;
            if let Some(id) = comparison.file_license(&digest.file) {
                infos.insert(id.to_string());
                if let Some(m) = scan
                    .license_files
                    .iter()
                    .find(|f| f.file == digest.file)
                    .and_then(|f| f.identified())
                {
                    let what = if m.header { "standard header" } else { "text" };
                    let whose = match m.ids.as_slice() {
                        [one] => one.clone(),
                        many => format!("{} (one text for all)", many.join(" and ")),
                    };
                    comment = Some(format!(
                        "The file matches the {what} of {whose} at {:.3}.",
                        m.confidence
                    ));
                }
            }
            let copyright = statements_by_file
                .get(digest.file.as_str())
                .map_or("NOASSERTION".to_string(), |s| {
                    s.iter().copied().collect::<Vec<_>>().join("\n")
                });
            let mut file = Map::new();
            file.insert("SPDXID".into(), json!(file_ref));
            file.insert("fileName".into(), json!(format!("./{}", digest.file)));
            file.insert(
                "checksums".into(),
                json!([
                    {"algorithm": "SHA1", "checksumValue": digest.sha1},
                    {"algorithm": "SHA256", "checksumValue": digest.sha256},
                ]),
            );
            file.insert("licenseConcluded".into(), json!("NOASSERTION"));
            if !infos.is_empty() {
                file.insert("licenseInfoInFiles".into(), json!(infos));
            }
            if let Some(comment) = comment {
                file.insert("licenseComments".into(), json!(comment));
            }
            file.insert("copyrightText".into(), json!(copyright));
            file_values.push(Value::Object(file));
            relationships.push(relationship(&package_ref, "CONTAINS", &file_ref));
            from_files.extend(infos);
        }

        let statements: BTreeSet<&str> = statements_by_file.values().flatten().copied().collect();
        let copyright = if statements.is_empty() {
            "NOASSERTION".to_string()
        } else {
            statements.into_iter().collect::<Vec<_>>().join("\n")
        };
        let concluded = if comparison.agrees() {
            package.declared.as_str().to_string()
        } else {
            "NOASSERTION".to_string()
        };
        license_refs.extend(
            package
                .declared
                .license_ids()
                .into_iter()
                .chain(from_files.iter().cloned())
                .filter(|id| id.starts_with("LicenseRef-")),
        );
        let mut value = Map::new();
        value.insert("SPDXID".into(), json!(package_ref));
        value.insert("name".into(), json!(package.name));
        value.insert("versionInfo".into(), json!(package.version));
        value.insert(
            "downloadLocation".into(),
            json!(download_location(package.url.as_deref())),
        );
        value.insert("filesAnalyzed".into(), json!(true));
        value.insert("licenseDeclared".into(), json!(package.declared.as_str()));
        value.insert("licenseConcluded".into(), json!(concluded));
        if !from_files.is_empty() {
            value.insert("licenseInfoFromFiles".into(), json!(from_files));
        }
        value.insert("copyrightText".into(), json!(copyright));
        value.insert(
            "comment".into(),
            json!(format!(
                "Package {}. Its files here are the {} source files in which license or \
                 copyright information was found, of {} read.",
                package.package_id,
                scan.files.len(),
                scan.stats.files_scanned
            )),
        );
        package_values.push(Value::Object(value));
    }

    let list = spdx::license_version();
    let list_major_minor = list.split('.').take(2).collect::<Vec<_>>().join(".");
    let mut doc = Map::new();
    doc.insert("spdxVersion".into(), json!("SPDX-2.3"));
    doc.insert("dataLicense".into(), json!("CC0-1.0"));
    doc.insert("SPDXID".into(), json!("SPDXRef-DOCUMENT"));
    doc.insert("name".into(), json!(name));
    doc.insert("documentNamespace".into(), json!(namespace));
    doc.insert(
        "creationInfo".into(),
        json!({
            "created": timestamp(created_unix),
            "creators": [format!("Tool: nanolin-{}", env!("CARGO_PKG_VERSION"))],
            "licenseListVersion": list_major_minor,
        }),
    );
    doc.insert("packages".into(), Value::Array(package_values));
    if !file_values.is_empty() {
        doc.insert("files".into(), Value::Array(file_values));
    }
    doc.insert("relationships".into(), Value::Array(relationships));
    if !license_refs.is_empty() {
        let infos: Vec<Value> = license_refs
            .iter()
            .map(|id| {
                json!({
                    "licenseId": id,
                    "name": id.trim_start_matches("LicenseRef-"),
                    "extractedText": format!(
                        "{id} is not on the SPDX License List: its text is in the package's sources."
                    ),
                })
            })
            .collect();
        doc.insert("hasExtractedLicensingInfos".into(), Value::Array(infos));
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default();
    text.push('\n');
    text
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({
        "spdxElementId": from,
        "relationshipType": kind,
        "relatedSpdxElement": to,
    })
}
