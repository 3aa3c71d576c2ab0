//! Where a secret key's passphrase comes from: the terminal, or a file for unattended hosts.

use std::fs;
use std::path::PathBuf;

use crate::error::Error;

/// The source of a passphrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassphraseSource {
    /// Ask on the controlling terminal, without echo.
    Terminal,
    /// The first line of this file (for build hosts without a terminal).
    File(PathBuf),
}

impl PassphraseSource {
    /// `File` when a path is given, else `Terminal`.
    pub fn from_option(path: Option<PathBuf>) -> Self {
        path.map_or(PassphraseSource::Terminal, PassphraseSource::File)
    }

    /// A passphrase for an existing key.
    pub fn read(&self, prompt: &str) -> Result<String, Error> {
        match self {
            PassphraseSource::File(path) => read_file(path),
            PassphraseSource::Terminal => ask(prompt),
        }
    }

    /// A passphrase for a new key: asked twice on a terminal; never empty.
    pub fn read_new(&self) -> Result<String, Error> {
        let passphrase = match self {
            PassphraseSource::File(path) => read_file(path)?,
            PassphraseSource::Terminal => {
                let first = ask("passphrase: ")?;
                let second = ask("confirm passphrase: ")?;
                if first != second {
                    return Err(Error::Passphrase(
                        "passphrases do not match: try again".into(),
                    ));
                }
                first
            }
        };
        if passphrase.is_empty() {
            return Err(Error::Passphrase(
                "empty passphrase: give one, or pass -n for a key without passphrase".into(),
            ));
        }
        Ok(passphrase)
    }
}

fn read_file(path: &PathBuf) -> Result<String, Error> {
    let text = fs::read_to_string(path).map_err(|e| Error::io("read passphrase file", path, e))?;
    let line = text.split('\n').next().unwrap_or("");
    Ok(line.strip_suffix('\r').unwrap_or(line).to_string())
}

fn ask(prompt: &str) -> Result<String, Error> {
    rpassword::prompt_password(prompt).map_err(|e| {
        Error::Passphrase(format!(
            "unable to ask for the passphrase on a terminal ({e}): pass --passphrase-file FILE"
        ))
    })
}
