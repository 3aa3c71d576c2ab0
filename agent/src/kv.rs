//! Reading the agent's key=value files (its configuration, its status record, channel files)
//! with the one parser of `nanolin-core`.

use nanolin_core::keyvalue::{Item, Parser, Position};

/// Longest value after expansion.
pub const VALUE_MAX_LEN: usize = 4096;

/// One `name=value` with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The name.
    pub name: String,
    /// The value, quotes resolved and `$variables` of earlier lines expanded.
    pub value: String,
    /// Where the assignment starts.
    pub position: Position,
}

/// The assignments of `text`, in order; `origin` names the file in errors.
pub fn read_pairs(origin: &str, text: &str) -> Result<Vec<Pair>, String> {
    let mut pairs: Vec<Pair> = Vec::new();
    let mut buf = vec![0u8; VALUE_MAX_LEN];
    for item in Parser::new(text) {
        let item = item.map_err(|e| format!("{origin}: {e}"))?;
        let Item::Assignment(a) = item else {
            if let Item::Function { position, .. } = item {
                return Err(format!(
                    "{origin}: {position}: functions have no meaning here"
                ));
            }
            continue;
        };
        let value = a
            .value
            .expand_into(&mut buf, |name| {
                pairs
                    .iter()
                    .rev()
                    .find(|p| p.name == name)
                    .map(|p| p.value.as_str())
            })
            .map_err(|e| format!("{origin}: {}: {e}", a.position))?
            .to_string();
        pairs.push(Pair {
            name: a.name.to_string(),
            value,
            position: a.position,
        });
    }
    Ok(pairs)
}

/// Quotes `value` for a key=value file so that `sh` and [`read_pairs`] read it back unchanged.
pub fn quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.,:/+@%".contains(c));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}
