//! Declared against detected: every license id found in the sources set against the ids of
//! the recipe's expression.

use std::collections::{BTreeMap, BTreeSet};

use super::{Expression, Place, Scan};

/// A license file whose text was identified as a license.
#[derive(Debug, Clone, PartialEq)]
pub struct FileEvidence {
    /// Path relative to the source root.
    pub file: String,
    /// The match score, 0 to 1.
    pub confidence: f32,
    /// The file matched the license's standard header rather than its full text.
    pub header: bool,
    /// The other ids with the same text (`GPL-2.0-or-later` beside `GPL-2.0-only`).
    pub same_text: Vec<String>,
}

/// One license id found in the sources, and everywhere it was found.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundLicense {
    /// The SPDX id (or `LicenseRef-…`).
    pub id: String,
    /// The declared expression names it.
    pub declared: bool,
    /// The SPDX tags naming it, by place.
    pub tags: Vec<Place>,
    /// The license files whose text is it, by path.
    pub files: Vec<FileEvidence>,
}

/// Declared against detected.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The ids the declared expression names, sorted.
    pub declared: Vec<String>,
    /// Every id found, sorted.
    pub licenses: Vec<FoundLicense>,
    /// Ids found in the sources that the declared expression does not name.
    pub detected_not_declared: Vec<String>,
    /// Ids the declared expression names that no tag or license file has.
    pub declared_not_found: Vec<String>,
}

impl Comparison {
    /// Everything found is declared and everything declared is found.
    pub fn agrees(&self) -> bool {
        self.detected_not_declared.is_empty() && self.declared_not_found.is_empty()
    }

    /// The id a license file was counted as, if it was identified.
    pub fn file_license(&self, file: &str) -> Option<&str> {
        self.licenses
            .iter()
            .find(|l| l.files.iter().any(|e| e.file == file))
            .map(|l| l.id.as_str())
    }
}

/// The id compared: `Apache-2.0+` counts as `Apache-2.0`.
fn key(id: &str) -> &str {
    id.trim_end_matches('+')
}

/// Sets what `scan` found against the `declared` expression. A license file whose text stands
/// for several ids (GPL-2.0-only and GPL-2.0-or-later) counts as the declared one if one is
/// declared, else as one that a tag names, else as the first.
pub fn compare(declared: &Expression, scan: &Scan) -> Comparison {
    let declared_ids = declared.license_ids();
    let declared_keys: BTreeSet<&str> = declared_ids.iter().map(|id| key(id)).collect();
    let tagged: BTreeSet<&str> = scan
        .tags
        .iter()
        .flat_map(|t| t.ids.iter().map(|id| key(id)))
        .collect();

    let mut found: BTreeMap<String, FoundLicense> = BTreeMap::new();
    for tag in &scan.tags {
        for id in &tag.ids {
            found
                .entry(id.clone())
                .or_insert_with(|| new_found(id, &declared_keys))
                .tags
                .push(tag.place.clone());
        }
    }
    for file in &scan.license_files {
        let Some(m) = file.identified() else {
            continue;
        };
        let chosen = m
            .ids
            .iter()
            .find(|id| declared_keys.contains(key(id)))
            .or_else(|| m.ids.iter().find(|id| tagged.contains(key(id))))
            .or_else(|| m.ids.first());
        let Some(chosen) = chosen else {
            continue;
        };
        found
            .entry(chosen.clone())
            .or_insert_with(|| new_found(chosen, &declared_keys))
            .files
            .push(FileEvidence {
                file: file.file.clone(),
                confidence: m.confidence,
                header: m.header,
                same_text: m.ids.iter().filter(|id| *id != chosen).cloned().collect(),
            });
    }

    let found_keys: BTreeSet<&str> = found.keys().map(|id| key(id)).collect();
    let declared_not_found = declared_ids
        .iter()
        .filter(|id| !found_keys.contains(key(id)))
        .cloned()
        .collect();
    let mut licenses: Vec<FoundLicense> = found.into_values().collect();
    for l in &mut licenses {
        l.tags.sort();
        l.tags.dedup();
        l.files.sort_by(|a, b| a.file.cmp(&b.file));
    }
    let detected_not_declared = licenses
        .iter()
        .filter(|l| !l.declared)
        .map(|l| l.id.clone())
        .collect();
    Comparison {
        declared: declared_ids,
        licenses,
        detected_not_declared,
        declared_not_found,
    }
}

fn new_found(id: &str, declared_keys: &BTreeSet<&str>) -> FoundLicense {
    FoundLicense {
        id: id.to_string(),
        declared: declared_keys.contains(key(id)),
        tags: Vec::new(),
        files: Vec::new(),
    }
}
