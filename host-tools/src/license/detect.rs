//! Identifying a license file's text against the SPDX License List texts built into this
//! program (the `spdx` crate's `detection-inline-cache`: no file or network is read).
//!
//! The crate's own `Store::analyze` ranks matches by score alone over a `HashMap`, so two
//! texts with the same score (GPL-2.0-only and GPL-2.0-or-later share one) could come out in
//! either order from run to run. Here every entry is scored and ties go to the smaller id, so
//! the answer is the same on every run and machine.

use std::sync::OnceLock;

use spdx::detection::{LicenseEntry, LicenseType, Store, TextData};

use super::expression::gnu_base;
use super::{LicenseError, TextMatch};

/// The license texts, loaded once (decompressing them takes a few hundred milliseconds).
pub(super) fn store() -> Result<&'static Store, LicenseError> {
    static STORE: OnceLock<Result<Store, String>> = OnceLock::new();
    STORE
        .get_or_init(|| Store::load_inline().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|reason| LicenseError::DetectionData(reason.clone()))
}

/// The closest license text to `text`, or `None` when the text has no words to compare.
pub(super) fn identify(store: &Store, text: &str) -> Option<TextMatch> {
    let data = TextData::new(text);
    let mut ranked: Vec<(f32, &str, &LicenseEntry, bool)> = store
        .iter()
        .map(|(name, entry)| {
            let (score, header) = best_score(entry, &data);
            (score, name.as_str(), entry, header)
        })
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
    ranked
        .into_iter()
        .filter(|(score, ..)| *score > 0.0)
        .find_map(|(score, name, entry, header)| {
            let ids = current_ids(name, &entry.aliases);
            (!ids.is_empty()).then_some(TextMatch {
                ids,
                confidence: score,
                header,
            })
        })
}

/// The best score of an entry's texts (full text, alternates, headers) and whether it was a
/// header's; on a tie the full text wins.
fn best_score(entry: &LicenseEntry, data: &TextData) -> (f32, bool) {
    let mut best = (entry.original.match_score(data), LicenseType::Original);
    for alternate in &entry.alternates {
        let s = alternate.match_score(data);
        if s > best.0 {
            best = (s, LicenseType::Alternate);
        }
    }
    for header in &entry.headers {
        let s = header.match_score(data);
        if s > best.0 {
            best = (s, LicenseType::Header);
        }
    }
    (best.0, best.1 == LicenseType::Header)
}

/// The current (not deprecated) ids an entry's text stands for, sorted. A GNU license's text
/// stands for both its `-only` and `-or-later` ids: the text does not say which applies.
fn current_ids(name: &str, aliases: &[String]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for n in std::iter::once(name).chain(aliases.iter().map(String::as_str)) {
        let Some(id) = spdx::license_id(n) else {
            continue;
        };
        if id.is_gnu() {
            let base = gnu_base(id.name);
            for later in [false, true] {
                if let Some(g) = spdx::gnu_license_id(base, later) {
                    if !g.is_deprecated() {
                        ids.push(g.name.to_string());
                    }
                }
            }
        } else if !id.is_deprecated() {
            ids.push(id.name.to_string());
        }
    }
    ids.sort();
    ids.dedup();
    ids
}
