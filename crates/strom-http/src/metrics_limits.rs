//! The `/metrics` families of Strom's limits: open log files against their budget, and per
//! listener (Kafka and HTTP) open connections, refusals by reason, idle and header-read
//! closes, and Kafka request bytes in flight against `queued_max_request_bytes`. Values are
//! read at scrape time from `strom_log::open_file_stats` and the broker's listener registry.

use strom_broker::{Broker, ListenerSnapshot};

use crate::metrics::Family;

pub(crate) fn limit_families(broker: &Broker) -> Vec<Family> {
    let files = strom_log::open_file_stats();
    let mut families = vec![
        Family::gauge(
            "strom_open_log_files",
            "Segment and index files open in the process-wide file cache.",
        )
        .single(files.open as f64),
        Family::gauge(
            "strom_open_log_files_budget",
            "Most segment and index files kept open at once (max_open_log_files).",
        )
        .single(files.budget as f64),
        Family::counter(
            "strom_log_files_opened_total",
            "Segment and index files opened, first opens and reopens after eviction.",
        )
        .single(files.opened_total as f64),
        Family::counter(
            "strom_log_files_evicted_total",
            "Segment and index files closed to stay within the budget.",
        )
        .single(files.evicted_total as f64),
    ];
    families.extend(listener_families(&broker.listeners().snapshot()));
    families
}

fn listener_families(listeners: &[ListenerSnapshot]) -> Vec<Family> {
    let mut open = Family::gauge(
        "strom_connections_open",
        "Connections open now, per listener.",
    );
    let mut max = Family::gauge(
        "strom_connections_max",
        "Most connections a listener admits (max_connections).",
    );
    let mut refused = Family::counter(
        "strom_connections_refused_total",
        "Connections refused by the connection limits, by reason (listener full or address at its share).",
    );
    let mut idle = Family::counter(
        "strom_connections_idle_closed_total",
        "Connections closed after no request for the idle timeout (Kafka connections_max_idle_ms, HTTP header_read_timeout).",
    );
    let mut header = Family::counter(
        "strom_http_header_read_timeouts_total",
        "HTTP connections closed because a request head was not complete within header_read_timeout.",
    );
    let mut in_flight = Family::gauge(
        "strom_kafka_request_bytes_in_flight",
        "Bytes of Kafka requests held in memory now (read, not yet answered).",
    );
    let mut budget = Family::gauge(
        "strom_kafka_queued_max_request_bytes",
        "Budget of Kafka request bytes in flight; reading pauses above it.",
    );
    for l in listeners {
        let labels = [("frontend", l.frontend), ("listener", l.listener.as_str())];
        open.add(&labels, l.open_connections as f64);
        max.add(&labels, l.max_connections as f64);
        for (reason, n) in [
            ("max_connections", l.refused_total_limit),
            ("max_connections_per_ip", l.refused_per_address_limit),
        ] {
            let labels = [labels[0], labels[1], ("reason", reason)];
            refused.add(&labels, n as f64);
        }
        idle.add(&labels, l.idle_closed as f64);
        match l.frontend {
            "http" => header.add(&[labels[1]], l.header_read_timeouts as f64),
            _ => {
                in_flight.add(&[labels[1]], l.request_bytes_in_flight as f64);
                budget.add(&[labels[1]], l.request_bytes_limit as f64);
            }
        }
    }
    vec![open, max, refused, idle, header, in_flight, budget]
}
