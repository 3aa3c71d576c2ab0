//! Release versions: `rYY.MM-GDDHHMMSS`, the UTC time a release was generated.
//!
//! `r19.02-G22132245` is 2019-02-22 13:22:45 UTC. Versions are totally ordered by that time,
//! which makes them the anti-rollback counter: a board never installs a version older than a
//! floor it has recorded. Years are 2000 to 2099.

use core::fmt;

/// Bytes of a release version's text.
pub const RELEASE_VERSION_LEN: usize = 16;

/// Seconds from 1970-01-01 to 2000-01-01, the first instant a version can name.
const EPOCH_2000: u64 = 946_684_800;

/// Seconds from 1970-01-01 to 2100-01-01, the first instant a version cannot name.
const EPOCH_2100: u64 = 4_102_444_800;

/// What is wrong with a release version's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionError {
    /// Not of the shape `rYY.MM-GDDHHMMSS`; the column (1-based) of the first wrong character.
    Shape {
        /// Column of the first character that does not fit.
        column: usize,
    },
    /// The shape fits but the date or time does not exist (month 13, 31 February, hour 24…).
    NoSuchTime,
    /// A time before 2000 or from 2100 on: outside what two year digits can name.
    OutOfRange,
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            VersionError::Shape { column } => write!(
                f,
                "not a release version at column {column}: expected rYY.MM-GDDHHMMSS, e.g. r19.02-G22132245"
            ),
            VersionError::NoSuchTime => f.write_str("the release version names a date or time that does not exist"),
            VersionError::OutOfRange => f.write_str("release versions name times from 2000 to 2099 only"),
        }
    }
}

impl core::error::Error for VersionError {}

/// A release version: seconds since 1970-01-01 UTC, shown as `rYY.MM-GDDHHMMSS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReleaseVersion {
    unix: u64,
}

impl ReleaseVersion {
    /// The version of a release generated at `unix` seconds since 1970 (UTC).
    pub fn from_unix(unix: u64) -> Result<Self, VersionError> {
        if (EPOCH_2000..EPOCH_2100).contains(&unix) {
            Ok(ReleaseVersion { unix })
        } else {
            Err(VersionError::OutOfRange)
        }
    }

    /// Seconds since 1970-01-01 UTC.
    pub const fn unix(self) -> u64 {
        self.unix
    }

    /// Reads `rYY.MM-GDDHHMMSS`.
    pub fn parse(text: &str) -> Result<Self, VersionError> {
        const SHAPE: &[u8; RELEASE_VERSION_LEN] = b"r00.00-G00000000";
        let bytes = text.as_bytes();
        for (i, want) in SHAPE.iter().enumerate() {
            let got = bytes.get(i).copied();
            let fits = match (want, got) {
                (b'0', Some(g)) => g.is_ascii_digit(),
                (w, Some(g)) => *w == g,
                (_, None) => false,
            };
            if !fits {
                return Err(VersionError::Shape { column: i + 1 });
            }
        }
        if bytes.len() != RELEASE_VERSION_LEN {
            return Err(VersionError::Shape {
                column: RELEASE_VERSION_LEN + 1,
            });
        }
        let two = |at: usize| -> u64 {
            let digit = |i: usize| u64::from(bytes.get(i).copied().unwrap_or(b'0') - b'0');
            digit(at) * 10 + digit(at + 1)
        };
        let (year, month, day) = (2000 + two(1), two(4), two(8));
        let (hour, minute, second) = (two(10), two(12), two(14));
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 59
        {
            return Err(VersionError::NoSuchTime);
        }
        let days = days_from_civil(year, month, day);
        ReleaseVersion::from_unix(days * 86_400 + hour * 3600 + minute * 60 + second)
    }

    /// The text, `rYY.MM-GDDHHMMSS`.
    pub fn text(self) -> VersionText {
        let (year, month, day) = civil_from_days(self.unix / 86_400);
        let secs = self.unix % 86_400;
        let fields = [
            year % 100,
            month,
            day,
            secs / 3600,
            secs / 60 % 60,
            secs % 60,
        ];
        let mut bytes = *b"r00.00-G00000000";
        for (value, at) in fields.iter().zip([1, 4, 8, 10, 12, 14]) {
            if let Some(pair) = bytes.get_mut(at..at + 2) {
                // Each field is below 100, so both digits are ASCII.
                pair.copy_from_slice(&[b'0' + (value / 10 % 10) as u8, b'0' + (value % 10) as u8]);
            }
        }
        VersionText { bytes }
    }
}

impl fmt::Display for ReleaseVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text().as_str())
    }
}

/// A release version's text, without allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionText {
    bytes: [u8; RELEASE_VERSION_LEN],
}

impl VersionText {
    /// The text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes).unwrap_or("r00.00-G00000000")
    }
}

/// The UTC calendar time of `unix` seconds since 1970: year, month, day, hour, minute, second.
pub fn utc_parts(unix: u64) -> [u64; 6] {
    let (year, month, day) = civil_from_days(unix / 86_400);
    let secs = unix % 86_400;
    [year, month, day, secs / 3600, secs / 60 % 60, secs % 60]
}

fn is_leap(year: u64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to a date of 2000 or later (Howard Hinnant's algorithm, for years that
/// are never negative here).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
#[path = "version_tests.rs"]
mod tests;
