//! Counters of each front-end listener, read by `/metrics` at scrape time: open connections
//! and their limit (from the listener's [`ConnectionLimits`]), connections refused by reason,
//! connections closed for idleness or for a request head that did not arrive in time, and the
//! bytes of requests in flight against their budget.
//!
//! This module only counts (relaxed atomics, a few per connection, none per record); it knows
//! nothing about sockets or protocols. A listener registers itself once with the broker's
//! [`ListenerRegistry`] and keeps the returned [`ListenerStats`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::connection_limits::{ConnectionLimits, ConnectionRefused};

/// The counters of one listener.
#[derive(Debug)]
pub struct ListenerStats {
    /// The front end: `kafka` or `http`.
    pub frontend: &'static str,
    /// The listener's name (`PLAINTEXT`, `SASL_SSL`, `http`, ...).
    pub listener: String,
    limits: Arc<ConnectionLimits>,
    refused_total: AtomicU64,
    refused_per_address: AtomicU64,
    idle_closed: AtomicU64,
    header_read_timeouts: AtomicU64,
    request_bytes_in_flight: AtomicU64,
    request_bytes_limit: AtomicU64,
}

/// A snapshot of one listener's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerSnapshot {
    pub frontend: &'static str,
    pub listener: String,
    pub open_connections: u64,
    pub max_connections: u64,
    /// Connections refused because the listener was full.
    pub refused_total_limit: u64,
    /// Connections refused because their address held its share.
    pub refused_per_address_limit: u64,
    pub idle_closed: u64,
    pub header_read_timeouts: u64,
    pub request_bytes_in_flight: u64,
    /// The budget of request bytes in flight; 0 when the listener has none.
    pub request_bytes_limit: u64,
}

impl ListenerStats {
    /// The limits this listener admits connections under.
    pub fn limits(&self) -> &Arc<ConnectionLimits> {
        &self.limits
    }

    /// Counts a connection the limits turned away.
    pub fn refused(&self, reason: &ConnectionRefused) {
        let counter = match reason {
            ConnectionRefused::Total { .. } => &self.refused_total,
            ConnectionRefused::PerAddress { .. } => &self.refused_per_address,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed because no request was in progress for the idle timeout.
    pub fn idle_closed(&self) {
        self.idle_closed.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection closed because a request head did not arrive in time.
    pub fn header_read_timeout(&self) {
        self.header_read_timeouts.fetch_add(1, Ordering::Relaxed);
    }

    /// Sets the budget of request bytes in flight.
    pub fn set_request_bytes_limit(&self, bytes: u64) {
        self.request_bytes_limit.store(bytes, Ordering::Relaxed);
    }

    /// Request bytes reserved (`true`) or given back (`false`).
    pub fn request_bytes(&self, bytes: u64, reserved: bool) {
        if reserved {
            self.request_bytes_in_flight
                .fetch_add(bytes, Ordering::Relaxed);
        } else {
            self.request_bytes_in_flight
                .fetch_sub(bytes, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> ListenerSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ListenerSnapshot {
            frontend: self.frontend,
            listener: self.listener.clone(),
            open_connections: self.limits.open() as u64,
            max_connections: self.limits.max_connections() as u64,
            refused_total_limit: load(&self.refused_total),
            refused_per_address_limit: load(&self.refused_per_address),
            idle_closed: load(&self.idle_closed),
            header_read_timeouts: load(&self.header_read_timeouts),
            request_bytes_in_flight: load(&self.request_bytes_in_flight),
            request_bytes_limit: load(&self.request_bytes_limit),
        }
    }
}

/// Every listener of one broker, in registration order.
#[derive(Debug, Default)]
pub struct ListenerRegistry {
    listeners: Mutex<Vec<Arc<ListenerStats>>>,
}

impl ListenerRegistry {
    /// Registers a listener admitting connections under `limits`.
    pub fn register(
        &self,
        frontend: &'static str,
        listener: &str,
        limits: Arc<ConnectionLimits>,
    ) -> Arc<ListenerStats> {
        let stats = Arc::new(ListenerStats {
            frontend,
            listener: listener.to_string(),
            limits,
            refused_total: AtomicU64::new(0),
            refused_per_address: AtomicU64::new(0),
            idle_closed: AtomicU64::new(0),
            header_read_timeouts: AtomicU64::new(0),
            request_bytes_in_flight: AtomicU64::new(0),
            request_bytes_limit: AtomicU64::new(0),
        });
        self.listeners.lock().push(Arc::clone(&stats));
        stats
    }

    /// The counters of every registered listener.
    pub fn snapshot(&self) -> Vec<ListenerSnapshot> {
        self.listeners.lock().iter().map(|l| l.snapshot()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConnectionLimitsConfig;

    #[test]
    fn counts_what_the_listener_reports() {
        let registry = ListenerRegistry::default();
        let limits = ConnectionLimits::new(ConnectionLimitsConfig {
            max_connections: 1,
            ..Default::default()
        });
        let stats = registry.register("kafka", "PLAINTEXT", Arc::clone(&limits));
        let ip = std::net::IpAddr::from([127, 0, 0, 1]);
        let _held = limits.try_admit(ip).expect("first admitted");
        if let Err(refused) = limits.try_admit(ip) {
            stats.refused(&refused);
        }
        stats.idle_closed();
        stats.set_request_bytes_limit(100);
        stats.request_bytes(40, true);
        stats.request_bytes(10, false);
        let s = &registry.snapshot()[0];
        assert_eq!(
            (s.open_connections, s.max_connections, s.refused_total_limit),
            (1, 1, 1)
        );
        assert_eq!((s.idle_closed, s.header_read_timeouts), (1, 0));
        assert_eq!(
            (s.request_bytes_in_flight, s.request_bytes_limit),
            (30, 100)
        );
    }
}
