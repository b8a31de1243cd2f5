//! The process's open-file limit (`RLIMIT_NOFILE`): reading it, and raising the soft limit to
//! the hard limit at start so the file budget and the sockets get all the system allows.

use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};

/// What [`raise_nofile_limit`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NofileLimit {
    /// Soft limit before the call.
    pub before: u64,
    /// Soft limit now.
    pub soft: u64,
    /// Hard limit (`u64::MAX` for unlimited).
    pub hard: u64,
}

/// The soft `RLIMIT_NOFILE` (`u64::MAX` for unlimited).
pub fn soft_nofile() -> u64 {
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (capped at the kernel's `nr_open`
/// when the hard limit is unlimited).
///
/// Errors: the `setrlimit` error; the limit is then unchanged.
pub fn raise_nofile_limit() -> std::io::Result<NofileLimit> {
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current.unwrap_or(u64::MAX);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    let target = match limit.maximum {
        Some(max) => max,
        None => std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .unwrap_or(1 << 20),
    };
    if target > before {
        setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(target),
                maximum: limit.maximum,
            },
        )?;
    }
    Ok(NofileLimit {
        before,
        soft: soft_nofile(),
        hard,
    })
}
