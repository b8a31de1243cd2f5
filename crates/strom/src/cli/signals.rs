//! Ctrl-C, SIGTERM and SIGHUP as a flag that long-running client loops check, so that they
//! clean up (leave their consumer group) before exiting. A second signal ends the process
//! at once.

use std::sync::atomic::{AtomicBool, Ordering};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(signal: libc::c_int) {
    // Only async-signal-safe calls here: an atomic swap and `_exit`.
    if STOP.swap(true, Ordering::SeqCst) {
        // SAFETY: `_exit` is async-signal-safe.
        unsafe { libc::_exit(128 + signal) };
    }
}

/// Routes SIGINT, SIGTERM and SIGHUP to the flag.
pub fn install() {
    let handler = on_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: the handler only touches an atomic and calls `_exit`.
        unsafe { libc::signal(signal, handler) };
    }
}

/// Whether a termination signal has arrived.
pub fn stopping() -> bool {
    STOP.load(Ordering::SeqCst)
}
