//! init's options on the kernel command line: `nanolin.NAME=VALUE` words in /proc/cmdline.
//!
//! | option | meaning | default |
//! |---|---|---|
//! | `nanolin.services=DIR` | where the service files are | `/etc/nanolin/services` |
//! | `nanolin.modules=FILE` | kernel modules to load first, one per line | `/etc/nanolin/modules` |
//! | `nanolin.watchdog=DEVICE` | hardware watchdog to pet | none |
//!
//! Words without the `nanolin.` prefix belong to the kernel or other programs and are
//! ignored, as are stage1's options (`nanolin.slot=`, `nanolin.live=`, `nanolin.install=`,
//! read in the initramfs before init runs); so are unknown `nanolin.` options, reported by
//! name so a typo shows.

/// init's options, borrowed from the command line text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BootOptions<'a> {
    /// `nanolin.services=`.
    pub services: Option<&'a str>,
    /// `nanolin.modules=`.
    pub modules: Option<&'a str>,
    /// `nanolin.watchdog=`.
    pub watchdog: Option<&'a str>,
}

impl<'a> BootOptions<'a> {
    /// Reads the options from `cmdline`; `unknown` hears each unknown `nanolin.` word.
    pub fn parse(cmdline: &'a str, mut unknown: impl FnMut(&'a str)) -> Self {
        let mut options = BootOptions::default();
        for word in cmdline.split_ascii_whitespace() {
            let Some(option) = word.strip_prefix("nanolin.") else {
                continue;
            };
            match option.split_once('=') {
                Some(("services", v)) if !v.is_empty() => options.services = Some(v),
                Some(("modules", v)) if !v.is_empty() => options.modules = Some(v),
                Some(("watchdog", v)) if !v.is_empty() => options.watchdog = Some(v),
                Some(("slot" | "live" | "install", _)) => {}
                _ => unknown(word),
            }
        }
        options
    }
}

/// The module files named in a modules list: one per line, `#` comments and blank lines
/// skipped, each a path absolute or relative to `/lib/modules/RELEASE/`.
pub fn module_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

#[cfg(test)]
#[path = "cmdline_tests.rs"]
mod tests;
