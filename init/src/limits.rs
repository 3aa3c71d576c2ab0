//! Every capacity and time constant of init, in one place.
//!
//! Memory is reserved once, statically; nothing grows while the board runs. The sizes below
//! keep PID 1 within its budget of 256 KiB of private memory with 500 services.

/// Most services init supervises.
pub const MAX_SERVICES: usize = 1024;

/// Most dependencies (`needs=` and `after=` entries) over all services: enough for 1000
/// services in layers of 25, each needing the whole layer below.
pub const MAX_DEPENDENCIES: usize = 32768;

/// Bytes for every string of every service (names, commands, directories, environments).
pub const STRINGS_LEN: usize = 128 * 1024;

/// Longest service name (the file name in `/etc/nanolin/services/`).
pub const NAME_MAX_LEN: usize = 64;

/// Longest value of one setting, `run=` included.
pub const VALUE_MAX_LEN: usize = 4096;

/// Largest service file read.
pub const SERVICE_FILE_MAX_LEN: usize = 16 * 1024;

/// Most environment variables (`export NAME=value` lines) per service.
pub const MAX_ENVIRONMENT: usize = 64;

/// Most arguments of a service's command.
pub const MAX_ARGUMENTS: usize = 64;

/// Highest file descriptor a service may name for `ready=fd:N`.
pub const READY_FD_MAX: u8 = 63;

/// Wait before restarting a service that crashed twice in a row, in milliseconds; it doubles
/// per further crash. (A first crash is restarted at once.)
pub const RESTART_DELAY_FIRST_MS: u32 = 100;

/// Longest wait before restarting a crashed service, in milliseconds.
pub const RESTART_DELAY_MAX_MS: u32 = 30_000;

/// A service that ran this long before exiting counts as having worked: its crash count and
/// restart delay start over.
pub const STABLE_UPTIME_MS: u64 = 10_000;

/// Crashes in a row, each before [`STABLE_UPTIME_MS`], after which a service is marked failed
/// instead of restarted.
pub const MAX_RAPID_FAILURES: u8 = 5;

/// Time a service has to exit after SIGTERM before it gets SIGKILL, in milliseconds.
pub const STOP_GRACE_MS: u64 = 5_000;

/// Lines of service output kept for `init ctl log NAME`, over all services; the oldest go
/// first when it is full.
pub const LOG_SLOTS: usize = 512;

/// Bytes of one kept line; a longer line takes several slots.
pub const LOG_LINE_MAX: usize = 124;
