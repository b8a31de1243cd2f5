//! The standard `process_*` metrics (Linux `/proc/self`: resident and virtual memory, CPU
//! seconds, open and maximum file descriptors, start time) and `strom_build_info`, read at
//! scrape time. Figures that cannot be read are left out, never reported as zero.

use crate::metrics::Family;

/// `process_*` families and `strom_build_info`.
pub(crate) fn process_families() -> Vec<Family> {
    let mut out = vec![Family::gauge(
        "strom_build_info",
        "Always 1; labelled with the version of the running server.",
    )
    .labelled(&[("version", env!("CARGO_PKG_VERSION"))], 1.0)];
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(kb) = status_kb(&status, "VmRSS:") {
        out.push(
            Family::gauge(
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
            )
            .single(kb * 1024.0),
        );
    }
    if let Some(kb) = status_kb(&status, "VmSize:") {
        out.push(
            Family::gauge(
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
            )
            .single(kb * 1024.0),
        );
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        out.push(
            Family::gauge("process_open_fds", "Number of open file descriptors.")
                .single(fds.count() as f64),
        );
    }
    if let Some(max) = max_fds() {
        out.push(
            Family::gauge(
                "process_max_fds",
                "Maximum number of open file descriptors.",
            )
            .single(max),
        );
    }
    if let Some((cpu, start)) = cpu_and_start() {
        out.push(
            Family::counter(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
            )
            .single(cpu),
        );
        out.push(
            Family::gauge(
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
            )
            .single(start),
        );
    }
    out
}

fn status_kb(status: &str, key: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

fn max_fds() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// CPU seconds (user + system) and the start time (Unix seconds) from `/proc/self/stat`.
pub(crate) fn cpu_and_start() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime 15, starttime 22.
    let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
    // SAFETY: sysconf only reads a system constant.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    if ticks <= 0.0 {
        return None;
    }
    let cpu = (field(14)? + field(15)?) / ticks;
    let boot = std::fs::read_to_string("/proc/stat").ok()?;
    let btime: f64 = boot
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some((cpu, btime + field(22)? / ticks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let mut out = String::new();
        for f in process_families() {
            f.render(&mut out);
        }
        for name in [
            "strom_build_info{version=",
            "process_resident_memory_bytes ",
            "process_open_fds ",
            "process_max_fds ",
            "process_cpu_seconds_total ",
            "process_start_time_seconds ",
        ] {
            assert!(out.contains(name), "{name} missing from:\n{out}");
        }
    }
}
