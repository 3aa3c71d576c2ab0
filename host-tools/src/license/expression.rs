//! SPDX license expressions: the strict check of a recipe's `license=`, with suggestions, and
//! the lenient reading of `SPDX-License-Identifier:` tags found in sources.

use std::fmt;

use spdx::error::Reason;
use spdx::{AdditionItem, LicenseId, LicenseItem, ParseError};

use super::{ExpressionFault, LicenseError};

/// A checked SPDX 2.3 license expression (`MIT`, `GPL-2.0-only OR Apache-2.0`,
/// `Apache-2.0 WITH LLVM-exception`, `(MIT AND BSD-3-Clause)`, `LicenseRef-Vendor`).
#[derive(Clone)]
pub struct Expression {
    text: String,
    parsed: spdx::Expression,
}

impl Expression {
    /// The expression as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The license ids it names (`MIT`, `Apache-2.0+`, `LicenseRef-Vendor`), sorted, once each.
    pub fn license_ids(&self) -> Vec<String> {
        sorted(
            self.parsed
                .requirements()
                .map(|r| r.req.license.to_string()),
        )
    }

    /// The exceptions it names (`LLVM-exception`), sorted, once each.
    pub fn exceptions(&self) -> Vec<String> {
        sorted(
            self.parsed
                .requirements()
                .filter_map(|r| r.req.addition.as_ref().map(|a| a.to_string())),
        )
    }
}

impl fmt::Debug for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expression").field(&self.text).finish()
    }
}

impl fmt::Display for Expression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Expression {}

fn sorted(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = items.collect();
    v.sort();
    v.dedup();
    v
}

/// Checks a recipe's `license=` value: a valid SPDX 2.3 expression whose ids are on the SPDX
/// License List (the version built into this program), not deprecated, spelt as the list spells
/// them. The error names the faulty id and, where one is close, the id to write instead.
pub fn check_expression(text: &str) -> Result<Expression, LicenseError> {
    let text = text.trim();
    let fail = |column: usize, fault: ExpressionFault| LicenseError::Expression {
        expression: text.to_string(),
        column,
        fault,
        origin: None,
    };
    let parsed = match spdx::Expression::parse(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            let (column, fault) = explain(text, &e);
            return Err(fail(column, fault));
        }
    };
    for req in parsed.requirements() {
        let column = column_of(text, req.span.start as usize);
        if let LicenseItem::Other(r) = &req.req.license {
            if r.doc_ref.is_some() {
                return Err(fail(column, ExpressionFault::DocumentRef));
            }
            if !is_idstring(&r.lic_ref) {
                return Err(fail(
                    column,
                    ExpressionFault::Syntax(format!(
                        "`LicenseRef-{}`: a LicenseRef name may have letters, digits, `.` and \
                         `-` only",
                        r.lic_ref
                    )),
                ));
            }
        }
        if let Some(AdditionItem::Other(_)) = &req.req.addition {
            return Err(fail(column, ExpressionFault::AdditionRef));
        }
    }
    Ok(Expression {
        text: text.to_string(),
        parsed,
    })
}

/// An SPDX `idstring`: letters, digits, `.` and `-`.
fn is_idstring(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

/// Character column (from 1) of byte offset `at` in `text`.
fn column_of(text: &str, at: usize) -> usize {
    text.get(..at).map_or(1, |s| s.chars().count() + 1)
}

/// The column and the fault of a parse error, with suggestions.
fn explain(text: &str, e: &ParseError) -> (usize, ExpressionFault) {
    let column = column_of(text, e.span.start);
    let term = text.get(e.span.clone()).unwrap_or("").to_string();
    let plus_follows = text
        .get(e.span.end..)
        .is_some_and(|rest| rest.starts_with('+'));
    let fault = match &e.reason {
        Reason::UnknownLicense | Reason::UnknownTerm => {
            if spdx::license_id(&term).is_none() && !suggest_exception(&term).is_empty() {
                ExpressionFault::UnknownException {
                    suggestions: suggest_exception(&term),
                    id: term,
                }
            } else {
                ExpressionFault::UnknownLicense {
                    suggestions: suggest_license(&term),
                    id: term,
                }
            }
        }
        Reason::UnknownException => ExpressionFault::UnknownException {
            suggestions: suggest_exception(&term),
            id: term,
        },
        Reason::DeprecatedLicenseId => {
            let replacements = spdx::license_id(&term)
                .map(|id| successors(id, plus_follows))
                .unwrap_or_default();
            let id = if plus_follows {
                format!("{term}+")
            } else {
                term
            };
            ExpressionFault::DeprecatedLicense { id, replacements }
        }
        Reason::GnuNoPlus | Reason::GnuPlusWithSuffix => {
            let before = text.get(..e.span.start).unwrap_or("");
            let id = before
                .rsplit(|c: char| c.is_whitespace() || c == '(')
                .next()
                .unwrap_or("");
            let hint = spdx::license_id(id)
                .map(|id| successors(id, true))
                .filter(|s| !s.is_empty())
                .map_or(String::new(), |s| {
                    format!(": write {}", super::alternatives(&s))
                });
            ExpressionFault::Syntax(format!(
                "GNU licenses take no `+` (they have -only and -or-later ids){hint}"
            ))
        }
        Reason::InvalidCharacters if term.starts_with('/') => {
            ExpressionFault::Syntax("`/` is not an SPDX operator: write OR".to_string())
        }
        Reason::Empty => ExpressionFault::Syntax(
            "the expression is empty: write an SPDX license expression, e.g. MIT".to_string(),
        ),
        Reason::UnclosedParens => {
            ExpressionFault::Syntax("this `(` is never closed: add a `)`".to_string())
        }
        Reason::UnopenedParens => {
            ExpressionFault::Syntax("this `)` closes nothing: remove it".to_string())
        }
        other => ExpressionFault::Syntax(other.to_string()),
    };
    (column, fault)
}

/// The current ids for a license id: itself when not deprecated; for a deprecated GNU id its
/// `-or-later` form when `or_later`, else both the `-only` and `-or-later` forms (the bare id
/// did not say which it meant); nothing for other deprecated ids.
fn successors(id: LicenseId, or_later: bool) -> Vec<String> {
    if id.is_gnu() {
        let base = gnu_base(id.name);
        let forms: &[bool] = if or_later { &[true] } else { &[false, true] };
        forms
            .iter()
            .filter_map(|&later| spdx::gnu_license_id(base, later))
            .filter(|id| !id.is_deprecated())
            .map(|id| id.name.to_string())
            .collect()
    } else if id.is_deprecated() {
        Vec::new()
    } else {
        vec![id.name.to_string()]
    }
}

/// `GPL-2.0` of `GPL-2.0`, `GPL-2.0+`, `GPL-2.0-only` and `GPL-2.0-or-later`.
pub(super) fn gnu_base(name: &str) -> &str {
    let name = name.trim_end_matches('+');
    name.strip_suffix("-only")
        .or_else(|| name.strip_suffix("-or-later"))
        .unwrap_or(name)
}

/// Close license ids for an unknown term: the id differing only in case, an imprecise name
/// the SPDX crate knows (`apache2`, `gplv2`), or ids within a small edit distance.
fn suggest_license(term: &str) -> Vec<String> {
    let or_later = term.ends_with('+');
    let bare = term.trim_end_matches('+');
    if let Some(id) = spdx::identifiers::LICENSES
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case(bare))
        .and_then(|l| spdx::license_id(l.name))
    {
        let s = successors(id, or_later);
        if !s.is_empty() {
            return s;
        }
    }
    if let Some((id, len)) = spdx::imprecise_license_id(bare) {
        if len == bare.len() {
            let s = if id.is_gnu() {
                successors(spdx::license_id(gnu_base(id.name)).unwrap_or(id), or_later)
            } else {
                successors(id, or_later)
            };
            if !s.is_empty() {
                return s;
            }
        }
    }
    nearest(
        bare,
        spdx::identifiers::LICENSES
            .iter()
            .filter(|l| l.flags & spdx::flags::IS_DEPRECATED == 0)
            .map(|l| l.name),
    )
}

/// Close exception ids for an unknown term.
fn suggest_exception(term: &str) -> Vec<String> {
    let current = || {
        spdx::identifiers::EXCEPTIONS
            .iter()
            .filter(|e| e.flags & spdx::flags::IS_DEPRECATED == 0)
            .map(|e| e.name)
    };
    if let Some(name) = current().find(|n| n.eq_ignore_ascii_case(term)) {
        return vec![name.to_string()];
    }
    nearest(term, current())
}

/// The names at the smallest edit distance from `term`, if small enough to be a typo: at most
/// 1 for terms under 5 characters, else at most 2. At most three, sorted.
fn nearest<'a>(term: &str, names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let term_lower = term.to_ascii_lowercase();
    let limit = if term.chars().count() < 5 { 1 } else { 2 };
    let mut best: Vec<&str> = Vec::new();
    let mut best_distance = limit + 1;
    for name in names {
        let d = edit_distance(&term_lower, &name.to_ascii_lowercase());
        if d < best_distance {
            best_distance = d;
            best.clear();
        }
        if d == best_distance {
            best.push(name);
        }
    }
    best.sort_unstable();
    best.into_iter().take(3).map(str::to_string).collect()
}

/// Optimal string alignment distance: insertions, deletions, substitutions and transpositions
/// of adjacent characters each cost one.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let width = b.len() + 1;
    let mut d = vec![0usize; (a.len() + 1) * width];
    for i in 0..=a.len() {
        d[i * width] = i;
    }
    for (j, cell) in d.iter_mut().enumerate().take(width) {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[(i - 1) * width + j] + 1)
                .min(d[i * width + j - 1] + 1)
                .min(d[(i - 1) * width + j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[(i - 2) * width + j - 2] + 1);
            }
            d[i * width + j] = v;
        }
    }
    d[a.len() * width + b.len()]
}

/// What an `SPDX-License-Identifier:` tag in a source file names: read leniently, as sources
/// in the wild write them (`GPL-2.0+`, `MIT/Apache-2.0`), then mapped to current ids.
pub(super) struct TagReading {
    pub ids: Vec<String>,
    pub exceptions: Vec<String>,
    pub problem: Option<String>,
}

/// Reads a tag's expression.
pub(super) fn read_tag(text: &str) -> TagReading {
    let failed = |problem: String| TagReading {
        ids: Vec::new(),
        exceptions: Vec::new(),
        problem: Some(problem),
    };
    let canonical = match spdx::Expression::canonicalize(text) {
        Ok(c) => c.unwrap_or_else(|| text.to_string()),
        Err(e) => return failed(explain(text, &e).1.to_string()),
    };
    let parsed = match spdx::Expression::parse_mode(&canonical, spdx::ParseMode::LAX) {
        Ok(p) => p,
        Err(e) => return failed(explain(&canonical, &e).1.to_string()),
    };
    let mut ids = Vec::new();
    let mut exceptions = Vec::new();
    for req in parsed.requirements() {
        match &req.req.license {
            // A bare deprecated GNU id meant "this version only" (`GPL-2.0`), with `+` "or
            // later"; other deprecated ids have no one successor and stay as written.
            LicenseItem::Spdx { id, or_later } if id.is_deprecated() && id.is_gnu() => {
                match successors(*id, *or_later).into_iter().next() {
                    Some(current) => ids.push(current),
                    None => ids.push(req.req.license.to_string()),
                }
            }
            LicenseItem::Spdx { .. } => ids.push(req.req.license.to_string()),
            // References into other documents cannot be carried into ours: named in the
            // report through the tag's text only.
            LicenseItem::Other(r) if r.doc_ref.is_some() => {}
            LicenseItem::Other(r) if !is_idstring(&r.lic_ref) => {
                return failed(format!(
                    "`LicenseRef-{}`: a LicenseRef name may have letters, digits, `.` and `-` \
                     only",
                    r.lic_ref
                ));
            }
            LicenseItem::Other(_) => ids.push(req.req.license.to_string()),
        }
        if let Some(AdditionItem::Spdx(e)) = &req.req.addition {
            exceptions.push(e.name.to_string());
        }
    }
    TagReading {
        ids: sorted(ids.into_iter()),
        exceptions: sorted(exceptions.into_iter()),
        problem: None,
    }
}
