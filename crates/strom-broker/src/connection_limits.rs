//! Connection admission shared by every listener: a cap on open connections overall and one
//! per client address (Kafka's `max.connections` and `max.connections.per.ip`, with
//! per-address overrides as in `max.connections.per.ip.overrides`).
//!
//! This module only counts: it knows nothing about sockets or protocols. A listener asks
//! [`ConnectionLimits::try_admit`] for each accepted connection and keeps the returned
//! [`ConnectionPermit`] for as long as the connection is open; dropping the permit gives the
//! slot back. Each listener owns its own `ConnectionLimits`, so Kafka and HTTP are counted
//! separately.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use parking_lot::Mutex;

/// The limits a listener enforces. `Default` holds the defaults the binary uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimitsConfig {
    /// Open connections at most, all addresses together.
    pub max_connections: usize,
    /// Open connections at most from one client address, unless overridden below.
    pub max_connections_per_ip: usize,
    /// Per-address limits that replace `max_connections_per_ip` for that address.
    pub max_connections_per_ip_overrides: HashMap<IpAddr, usize>,
}

/// 10,000 connections per listener: at the measured cost of an idle connection (see
/// `docs/benchmarks.md`) well under 1 GiB, and both listeners together stay within the
/// 20,000 open files this machine grants. One address may hold a tenth of that, so a single
/// misbehaving client cannot lock others out.
impl Default for ConnectionLimitsConfig {
    fn default() -> Self {
        ConnectionLimitsConfig {
            max_connections: 10_000,
            max_connections_per_ip: 1_000,
            max_connections_per_ip_overrides: HashMap::new(),
        }
    }
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectionRefused {
    #[error("the listener already has {limit} open connections")]
    Total { limit: usize },
    #[error("address {address} already has {limit} open connections")]
    PerAddress { address: IpAddr, limit: usize },
}

/// Counts open connections per listener; see the module doc.
#[derive(Debug)]
pub struct ConnectionLimits {
    config: ConnectionLimitsConfig,
    state: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_address: HashMap<IpAddr, usize>,
}

/// One admitted connection; dropping it frees its slot.
#[derive(Debug)]
pub struct ConnectionPermit {
    limits: Arc<ConnectionLimits>,
    address: IpAddr,
}

impl ConnectionLimits {
    pub fn new(config: ConnectionLimitsConfig) -> Arc<Self> {
        Arc::new(ConnectionLimits {
            config,
            state: Mutex::new(Counts::default()),
        })
    }

    /// The limit that applies to `address`.
    pub fn limit_for(&self, address: IpAddr) -> usize {
        let address = address.to_canonical();
        self.config
            .max_connections_per_ip_overrides
            .get(&address)
            .copied()
            .unwrap_or(self.config.max_connections_per_ip)
    }

    /// Admits a connection from `address`, or says which limit it would exceed.
    ///
    /// Errors: [`ConnectionRefused::Total`] when the listener is full,
    /// [`ConnectionRefused::PerAddress`] when this address holds its limit already.
    pub fn try_admit(
        self: &Arc<Self>,
        address: IpAddr,
    ) -> Result<ConnectionPermit, ConnectionRefused> {
        // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d; count it once.
        let address = address.to_canonical();
        let limit = self.limit_for(address);
        let mut state = self.state.lock();
        if state.total >= self.config.max_connections {
            return Err(ConnectionRefused::Total {
                limit: self.config.max_connections,
            });
        }
        let open = state.per_address.entry(address).or_insert(0);
        if *open >= limit {
            return Err(ConnectionRefused::PerAddress { address, limit });
        }
        *open += 1;
        state.total += 1;
        Ok(ConnectionPermit {
            limits: Arc::clone(self),
            address,
        })
    }

    /// Connections open now, overall.
    pub fn open(&self) -> usize {
        self.state.lock().total
    }

    /// The cap on open connections, all addresses together.
    pub fn max_connections(&self) -> usize {
        self.config.max_connections
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        let mut state = self.limits.state.lock();
        state.total = state.total.saturating_sub(1);
        if let Some(open) = state.per_address.get_mut(&self.address) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                state.per_address.remove(&self.address);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn limits(total: usize, per_ip: usize, overrides: &[(&str, usize)]) -> Arc<ConnectionLimits> {
        ConnectionLimits::new(ConnectionLimitsConfig {
            max_connections: total,
            max_connections_per_ip: per_ip,
            max_connections_per_ip_overrides: overrides.iter().map(|&(a, n)| (ip(a), n)).collect(),
        })
    }

    #[test]
    fn one_address_cannot_take_the_slots_of_another() {
        let limits = limits(10, 2, &[]);
        let held: Vec<_> = (0..2)
            .map(|_| limits.try_admit(ip("127.0.0.1")).expect("within limit"))
            .collect();
        assert_eq!(
            limits.try_admit(ip("127.0.0.1")).map(|_| ()),
            Err(ConnectionRefused::PerAddress {
                address: ip("127.0.0.1"),
                limit: 2
            })
        );
        let other = limits
            .try_admit(ip("127.0.0.2"))
            .expect("other address admitted");
        drop(held);
        drop(other);
        assert_eq!(limits.open(), 0);
        limits.try_admit(ip("127.0.0.1")).expect("slots come back");
    }

    #[test]
    fn overrides_and_the_total_cap_apply() {
        let limits = limits(3, 1, &[("10.0.0.1", 3)]);
        let _a = limits.try_admit(ip("10.0.0.1")).expect("1");
        let _b = limits
            .try_admit(ip("10.0.0.1"))
            .expect("2: override allows 3");
        let _c = limits.try_admit(ip("10.0.0.2")).expect("3");
        assert_eq!(
            limits.try_admit(ip("10.0.0.3")).map(|_| ()),
            Err(ConnectionRefused::Total { limit: 3 })
        );
    }

    #[test]
    fn mapped_ipv4_counts_as_the_same_address() {
        let limits = limits(10, 1, &[]);
        let _a = limits.try_admit(ip("127.0.0.1")).expect("first");
        assert!(limits.try_admit(ip("::ffff:127.0.0.1")).is_err());
    }
}
