//! Distros (`distros/NAME.rcp`): which packages make a board's root file system, and the
//! configuration laid over them.
//!
//! A distro is a key=value file (the one parser of [`nanolin_core::keyvalue`]), without
//! functions:
//!
//! ```sh
//! name=prime                              # must equal the file's name
//! description="The smallest Nanolin appliance"
//! packages="nanolin-init nanolin-agent busybox=1.35.0 hello"   # NAME or NAME=VERSION
//! recipes=../recipes                      # where the recipes are (default ../recipes)
//! overlay=prime                           # a directory copied over the packages (optional)
//! hostname=prime                          # /etc/hostname (default: the distro's name)
//! repository=http://10.0.2.2:8080         # what the agent polls (optional)
//! channel=stable                          # the channel it polls (default stable)
//! tries=3                                 # boot tries of a new release (default 3)
//! poll_interval=3600                      # seconds between the agent's polls (default 3600)
//! activate=kexec                          # how the agent starts a new release: reboot (default) or kexec
//! ```
//!
//! Every error names the file, line and column. A package named twice (with the same version
//! or another), an unknown key, or a missing `name`/`packages` is refused; whether each
//! package's recipe exists, and has the version asked, is checked when the distro is built.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use nanolin_core::keyvalue::{ExpandError, Item, Parser, Position, SyntaxErrorKind};

use crate::recipe::{is_package_name, Place};

/// Longest distro file, in bytes.
pub const DISTRO_MAX_LEN: usize = 64 * 1024;

/// Longest value once expanded, in bytes.
pub const VALUE_MAX_LEN: usize = 16 * 1024;

/// Most packages in a distro.
pub const PACKAGES_MAX: usize = 1024;

/// The keys of a distro file.
pub const DISTRO_KEYS: [&str; 11] = [
    "name",
    "description",
    "packages",
    "recipes",
    "overlay",
    "hostname",
    "repository",
    "channel",
    "tries",
    "poll_interval",
    "activate",
];

/// One package of a distro, with the version asked for, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// The package (recipe) name.
    pub name: String,
    /// `NAME=VERSION`: the recipe must have this version.
    pub version: Option<String>,
}

/// A checked distro file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distro {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its name.
    pub name: String,
    /// One line about it.
    pub description: Option<String>,
    /// The packages, in the order given (later ones are laid over earlier ones).
    pub packages: Vec<Wanted>,
    /// The directory of the recipes, relative to the distro's directory.
    pub recipes: PathBuf,
    /// A directory copied over the packages, relative to the distro's directory.
    pub overlay: Option<PathBuf>,
    /// The board's host name.
    pub hostname: String,
    /// The repository the agent polls, if any.
    pub repository: Option<String>,
    /// The channel it polls.
    pub channel: String,
    /// Boot tries a new release gets before the board falls back.
    pub tries: u32,
    /// Seconds between the agent's polls, when not the agent's default.
    pub poll_interval: Option<u32>,
    /// How the agent's daemon starts a new release (`reboot` or `kexec`), when not its default.
    pub activate: Option<String>,
    packages_at: Place,
}

/// What is wrong with a distro file.
#[derive(Debug)]
pub enum DistroError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// Not UTF-8, or too long.
    Unreadable {
        /// The file.
        at: Place,
        /// Why.
        reason: String,
    },
    /// The key=value syntax is broken.
    Syntax {
        /// Where.
        at: Place,
        /// What.
        kind: SyntaxErrorKind,
    },
    /// A key that distro files do not have, a function, a `$variable` not defined above, or a
    /// value that breaks its rule.
    Invalid {
        /// Where.
        at: Place,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A required key is missing.
    Missing {
        /// The end of the file, where it can be added.
        at: Place,
        /// The key.
        key: &'static str,
    },
    /// A package named twice.
    DuplicatePackage {
        /// The `packages` assignment.
        at: Place,
        /// The package.
        name: String,
        /// The two ways it is named.
        first: String,
        /// The second.
        second: String,
    },
    /// A package without a recipe, or with another version than asked.
    Package {
        /// The `packages` assignment.
        at: Place,
        /// What is wrong and what to do.
        reason: String,
    },
}

impl DistroError {
    /// The place the error is about, when it has one.
    pub fn place(&self) -> Option<&Place> {
        match self {
            DistroError::Io { .. } => None,
            DistroError::Unreadable { at, .. }
            | DistroError::Syntax { at, .. }
            | DistroError::Invalid { at, .. }
            | DistroError::Missing { at, .. }
            | DistroError::DuplicatePackage { at, .. }
            | DistroError::Package { at, .. } => Some(at),
        }
    }
}

impl fmt::Display for DistroError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DistroError::Io { path, source } => {
                write!(f, "unable to read {}: {source}", path.display())
            }
            DistroError::Unreadable { at, reason } => write!(f, "{at}: {reason}"),
            DistroError::Syntax { at, kind } => write!(f, "{at}: {kind}"),
            DistroError::Invalid { at, reason } => write!(f, "{at}: {reason}"),
            DistroError::Missing { at, key } => write!(
                f,
                "{at}: the distro has no `{key}`: add {key}=… (see distros/prime.rcp)"
            ),
            DistroError::DuplicatePackage {
                at,
                name,
                first,
                second,
            } => write!(
                f,
                "{at}: package {name} is named twice (`{first}` and `{second}`): a root file \
                 system holds one version of each package; keep one"
            ),
            DistroError::Package { at, reason } => write!(f, "{at}: {reason}"),
        }
    }
}

impl std::error::Error for DistroError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DistroError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Distro {
    /// Reads and checks the distro at `path`.
    pub fn load(path: &Path) -> Result<Distro, DistroError> {
        let bytes = fs::read(path).map_err(|source| DistroError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Distro::parse(path, &bytes)
    }

    /// Checks the distro text `bytes`, read from `path` (named in errors).
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Distro, DistroError> {
        let at = |position| Place {
            file: path.to_path_buf(),
            position,
        };
        let start = at(Position { line: 1, column: 1 });
        if bytes.len() > DISTRO_MAX_LEN {
            return Err(DistroError::Unreadable {
                at: start,
                reason: format!("longer than {DISTRO_MAX_LEN} bytes: is this a distro file?"),
            });
        }
        let text = std::str::from_utf8(bytes).map_err(|_| DistroError::Unreadable {
            at: start.clone(),
            reason: "not UTF-8 text: save the distro file as UTF-8".into(),
        })?;
        let mut values: Vec<(&'static str, String, Position)> = Vec::new();
        let mut end = Position { line: 1, column: 1 };
        let mut buf = vec![0u8; VALUE_MAX_LEN];
        for item in Parser::new(text) {
            let item = item.map_err(|e| DistroError::Syntax {
                at: at(e.position),
                kind: e.kind,
            })?;
            let a = match item {
                Item::Assignment(a) => a,
                Item::Function { name, position } => {
                    return Err(DistroError::Invalid {
                        at: at(position),
                        reason: format!(
                            "`{name}()` is a shell function: distro files have only key=value \
                             lines"
                        ),
                    })
                }
            };
            let Some(&key) = DISTRO_KEYS.iter().find(|k| **k == a.name) else {
                return Err(DistroError::Invalid {
                    at: at(a.position),
                    reason: format!(
                        "unknown key `{}`: a distro file has only these keys: {}",
                        a.name,
                        DISTRO_KEYS.join(", ")
                    ),
                });
            };
            if let Some((_, _, first)) = values.iter().find(|(k, _, _)| *k == key) {
                return Err(DistroError::Invalid {
                    at: at(a.position),
                    reason: format!("`{key}` is set twice (first on line {})", first.line),
                });
            }
            let value = a
                .value
                .expand_into(&mut buf, |name| {
                    values
                        .iter()
                        .find(|(k, _, _)| *k == name)
                        .map(|(_, v, _)| v.as_str())
                })
                .map_err(|e| DistroError::Invalid {
                    at: at(a.position),
                    reason: match e {
                        ExpandError::UnknownVariable(v) => {
                            format!("${v} is not defined above this line")
                        }
                        ExpandError::TooLong { .. } => {
                            format!("the value is longer than {VALUE_MAX_LEN} bytes")
                        }
                    },
                })?
                .to_string();
            end = Position {
                line: a.position.line + 1,
                column: 1,
            };
            values.push((key, value, a.position));
        }
        let get = |key: &str| {
            values
                .iter()
                .find(|(k, _, _)| *k == key)
                .map(|(_, v, p)| (v.as_str(), *p))
        };
        let required =
            |key: &'static str| get(key).ok_or(DistroError::Missing { at: at(end), key });
        let invalid = |position, reason: String| DistroError::Invalid {
            at: at(position),
            reason,
        };

        let (name, name_position) = required("name")?;
        if !is_package_name(name) {
            return Err(invalid(
                name_position,
                format!("name `{name}`: a distro name is lower-case letters, digits, `+._-`"),
            ));
        }
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if stem != name && !stem.is_empty() {
            return Err(invalid(
                name_position,
                format!("name `{name}` differs from the file's name `{stem}`: rename one"),
            ));
        }
        let (list, packages_position) = required("packages")?;
        let packages_at = at(packages_position);
        let mut packages: Vec<(Wanted, &str)> = Vec::new();
        for word in list.split_ascii_whitespace() {
            let (pkg, version) = match word.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (word, None),
            };
            if !is_package_name(pkg) || version.is_some_and(|v| v.is_empty() || v.contains('=')) {
                return Err(invalid(
                    packages_position,
                    format!("`{word}`: a package is NAME or NAME=VERSION"),
                ));
            }
            if let Some((_, first)) = packages.iter().find(|(w, _)| w.name == pkg) {
                return Err(DistroError::DuplicatePackage {
                    at: packages_at,
                    name: pkg.to_string(),
                    first: first.to_string(),
                    second: word.to_string(),
                });
            }
            if packages.len() == PACKAGES_MAX {
                return Err(invalid(
                    packages_position,
                    format!("more than {PACKAGES_MAX} packages"),
                ));
            }
            packages.push((
                Wanted {
                    name: pkg.to_string(),
                    version: version.map(str::to_string),
                },
                word,
            ));
        }
        if packages.is_empty() {
            return Err(invalid(
                packages_position,
                "no packages: a distro needs at least nanolin-init".into(),
            ));
        }
        let relative = |key: &str| -> Result<Option<PathBuf>, DistroError> {
            match get(key) {
                None => Ok(None),
                Some((v, p)) if v.is_empty() || v.starts_with('/') => Err(invalid(
                    p,
                    format!("{key} `{v}`: a directory relative to the distro file's"),
                )),
                Some((v, _)) => Ok(Some(PathBuf::from(v))),
            }
        };
        let hostname = match get("hostname") {
            Some((h, p)) => {
                let ok = !h.is_empty()
                    && h.len() <= 63
                    && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !h.starts_with('-');
                if !ok {
                    return Err(invalid(
                        p,
                        format!("hostname `{h}`: 1 to 63 letters, digits and `-`"),
                    ));
                }
                h.to_string()
            }
            None => name.to_string(),
        };
        let repository = match get("repository") {
            Some((r, p)) => {
                if !(r.starts_with("http://") || r.starts_with("https://")) {
                    return Err(invalid(
                        p,
                        format!("repository `{r}`: an http:// or https:// URL"),
                    ));
                }
                Some(r.trim_end_matches('/').to_string())
            }
            None => None,
        };
        let channel = match get("channel") {
            Some((c, p)) if !is_package_name(c) => {
                return Err(invalid(
                    p,
                    format!("channel `{c}`: lower-case letters, digits, `+._-`"),
                ))
            }
            Some((c, _)) => c.to_string(),
            None => "stable".into(),
        };
        let tries = match get("tries") {
            Some((t, p)) => match t.parse::<u32>() {
                Ok(n) if (1..=9).contains(&n) => n,
                _ => return Err(invalid(p, format!("tries `{t}`: a number from 1 to 9"))),
            },
            None => 3,
        };
        let poll_interval = match get("poll_interval") {
            Some((t, p)) => match t.parse::<u32>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    return Err(invalid(
                        p,
                        format!("poll_interval `{t}`: a whole number of seconds, at least 1"),
                    ))
                }
            },
            None => None,
        };
        let activate = match get("activate") {
            Some((a, _)) if a == "reboot" || a == "kexec" => Some(a.to_string()),
            Some((a, p)) => return Err(invalid(p, format!("activate `{a}`: reboot or kexec"))),
            None => None,
        };
        Ok(Distro {
            path: path.to_path_buf(),
            name: name.to_string(),
            description: get("description").map(|(d, _)| d.to_string()),
            packages: packages.into_iter().map(|(w, _)| w).collect(),
            recipes: relative("recipes")?.unwrap_or_else(|| PathBuf::from("../recipes")),
            overlay: relative("overlay")?,
            hostname,
            repository,
            channel,
            tries,
            poll_interval,
            activate,
            packages_at,
        })
    }

    /// The directory the distro file is in.
    pub fn dir(&self) -> &Path {
        match self.path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        }
    }

    /// The recipe of `wanted`: `RECIPES/NAME.rcp`, which must exist.
    pub fn recipe_path(&self, wanted: &Wanted) -> Result<PathBuf, DistroError> {
        let path = self
            .dir()
            .join(&self.recipes)
            .join(format!("{}.rcp", wanted.name));
        if !path.is_file() {
            return Err(DistroError::Package {
                at: self.packages_at.clone(),
                reason: format!(
                    "package {} has no recipe: {} does not exist (write it, or remove {} from \
                     packages)",
                    wanted.name,
                    path.display(),
                    wanted.name
                ),
            });
        }
        Ok(path)
    }

    /// Checks that a recipe's version is the one asked for, if one was.
    pub fn check_version(&self, wanted: &Wanted, version: &str) -> Result<(), DistroError> {
        match &wanted.version {
            Some(asked) if asked != version => Err(DistroError::Package {
                at: self.packages_at.clone(),
                reason: format!(
                    "the distro asks for {}={asked}, but its recipe builds version {version}: \
                     change one of them",
                    wanted.name
                ),
            }),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Distro, DistroError> {
        Distro::parse(Path::new("distros/prime.rcp"), text.as_bytes())
    }

    #[test]
    fn reads_the_example() {
        let d = parse(
            "name=prime\ndescription=\"x y\"\npackages=\"nanolin-init busybox=1.35.0\"\n\
             overlay=prime\nrepository=http://10.0.2.2:8080/\ntries=2\npoll_interval=60\n\
             activate=kexec\n",
        )
        .unwrap();
        assert_eq!(d.poll_interval, Some(60));
        assert_eq!(d.activate.as_deref(), Some("kexec"));
        assert_eq!(d.packages.len(), 2);
        assert_eq!(d.packages[1].version.as_deref(), Some("1.35.0"));
        assert_eq!(d.hostname, "prime");
        assert_eq!(d.repository.as_deref(), Some("http://10.0.2.2:8080"));
        assert_eq!(d.channel, "stable");
        assert_eq!(d.tries, 2);
        assert_eq!(d.recipes, Path::new("../recipes"));
    }

    #[test]
    fn refuses_with_file_line_and_column() {
        let cases = [
            (
                "name=prime\npackages=\"a b=1 b=2\"\n",
                "distros/prime.rcp:2:1:",
                "named twice",
            ),
            (
                "name=prime\npackages=\"a a\"\n",
                "prime.rcp:2:1:",
                "named twice",
            ),
            ("name=prime\n", "prime.rcp:2:1:", "no `packages`"),
            ("name=other\npackages=a\n", "prime.rcp:1:1:", "differs"),
            (
                "name=prime\npackages=a\nfoo=1\n",
                "prime.rcp:3:1:",
                "unknown key",
            ),
            (
                "name=prime\npackages=a\nbuild() {\n:\n}\n",
                "prime.rcp:3:1:",
                "function",
            ),
            (
                "name=prime\npackages=\"a=\"\n",
                "prime.rcp:2:1:",
                "NAME=VERSION",
            ),
            (
                "name=prime\npackages=a\ntries=0\n",
                "prime.rcp:3:1:",
                "tries",
            ),
            (
                "name=prime\npackages=a\npoll_interval=0\n",
                "prime.rcp:3:1:",
                "poll_interval `0`: a whole number of seconds",
            ),
            (
                "name=prime\npackages=a\nactivate=firmware\n",
                "prime.rcp:3:1:",
                "activate `firmware`: reboot or kexec",
            ),
            (
                "name=prime\npackages=a\nrepository=ftp://x\n",
                "prime.rcp:3:1:",
                "http",
            ),
            (
                "name=prime\npackages=a\noverlay=/etc\n",
                "prime.rcp:3:1:",
                "relative",
            ),
            (
                "name=prime\npackages=a\npackages=b\n",
                "prime.rcp:3:1:",
                "twice",
            ),
            ("name=\"prime\npackages=a\n", "prime.rcp:1:", ""),
        ];
        for (text, place, says) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(place) && e.contains(says), "{text:?}: {e}");
        }
    }

    #[test]
    fn the_shipped_distros_read() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../distros");
        let mut n = 0;
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "rcp") {
                let d = Distro::load(&path).unwrap();
                for wanted in &d.packages {
                    d.recipe_path(wanted).unwrap();
                }
                n += 1;
            }
        }
        assert!(n >= 1);
    }
}
