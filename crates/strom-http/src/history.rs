//! The in-memory metrics history behind the console's charts (C13): a background task
//! samples, every `[console] history_interval_ms` (10 s), each topic's records and bytes in
//! and out (the `strom_topic_*` counters' totals, `strom_broker::telemetry::topic_totals`),
//! each consumer group's lag and each webhook dead-letter topic's size, and keeps the last
//! `history_points` samples (360: one hour). `GET /v1/metrics/history` answers them as
//! aligned series, rates per second for the counters; it needs Describe on the cluster, and
//! lists only the topics and groups the caller may Describe. No external Prometheus needed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::extract::State;
use axum::Json;
use parking_lot::Mutex;
use serde::Serialize;
use strom_auth::{Operation, ResourceType};
use strom_broker::telemetry::{topic_totals, TopicTotals};
use utoipa::ToSchema;

use crate::caller::Caller;
use crate::error::ApiResult;
use crate::state::{AppState, Shared};
use crate::timefmt::now_ms;

/// One sample.
#[derive(Debug, Clone, Default)]
struct Point {
    at_ms: i64,
    topics: HashMap<String, TopicTotals>,
    lag: BTreeMap<String, i64>,
    dead_letters: BTreeMap<String, i64>,
}

/// The samples, oldest first.
pub struct History {
    interval_ms: u64,
    capacity: usize,
    points: Mutex<VecDeque<Point>>,
}

impl History {
    pub fn new(interval_ms: u64, capacity: usize) -> History {
        History {
            interval_ms: interval_ms.max(100),
            capacity: capacity.max(2),
            points: Mutex::new(VecDeque::new()),
        }
    }

    fn push(&self, point: Point) {
        let mut points = self.points.lock();
        if points.len() >= self.capacity {
            points.pop_front();
        }
        points.push_back(point);
    }
}

/// Starts the sampler; it ends with the server (or when the state is dropped). Outside a
/// Tokio runtime (a state built by a plain unit test) there is nothing to sample for.
pub fn spawn(state: &Shared) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak: Weak<AppState> = Arc::downgrade(state);
    let mut shutdown = state.shutdown.clone();
    let interval = Duration::from_millis(state.history.interval_ms);
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let Some(state) = weak.upgrade() else { return };
            let point = sample(&state);
            state.history.push(point);
        }
    });
}

fn partition_sizes(state: &AppState, topic: &str) -> Option<i64> {
    let t = state.broker.topic(topic)?;
    Some(
        (0..t.partition_count())
            .filter_map(|i| t.partition(i))
            .map(|p| (p.high_watermark() - p.log_start_offset()).max(0))
            .sum(),
    )
}

fn sample(state: &AppState) -> Point {
    let mut point = Point {
        at_ms: now_ms(),
        topics: topic_totals().into_iter().collect(),
        ..Point::default()
    };
    if let Some(consumers) = &state.consumers {
        let groups = &consumers.groups;
        for listing in groups.list_groups(&[], &[]) {
            let Ok(partitions) = groups.lag(&listing.group_id) else {
                continue;
            };
            let lag = partitions
                .iter()
                .filter_map(|p| {
                    let part = state.broker.partition(&p.topic, p.partition).ok()?;
                    Some(crate::metrics::lag_records(
                        p.committed_offset,
                        part.log_start_offset(),
                        part.high_watermark(),
                    ))
                })
                .sum();
            point.lag.insert(listing.group_id, lag);
        }
    }
    if let Some(webhooks) = &state.config.webhooks {
        for sub in webhooks.list() {
            if let Some(size) = partition_sizes(state, &sub.dead_letter_topic) {
                point.dead_letters.insert(sub.dead_letter_topic, size);
            }
        }
    }
    point
}

/// A topic's rates per second between samples (`null` at the first sample and where the
/// topic had no counters yet).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct TopicSeries {
    pub records_in: Vec<Option<f64>>,
    pub bytes_in: Vec<Option<f64>>,
    pub records_out: Vec<Option<f64>>,
    pub bytes_out: Vec<Option<f64>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryResponse {
    /// Milliseconds between samples.
    pub interval_ms: u64,
    /// Sample times (ms since the epoch), oldest first; every series is aligned with it.
    pub t: Vec<i64>,
    pub topics: BTreeMap<String, TopicSeries>,
    /// Each group's lag in records (summed over its partitions).
    pub groups: BTreeMap<String, Vec<Option<i64>>>,
    /// Each webhook dead-letter topic's records.
    pub dead_letters: BTreeMap<String, Vec<Option<i64>>>,
}

fn rate(prev: Option<&Point>, cur: &Point, topic: &str, f: fn(&TopicTotals) -> u64) -> Option<f64> {
    let prev = prev?;
    let secs = (cur.at_ms - prev.at_ms) as f64 / 1000.0;
    let (a, b) = (
        prev.topics.get(topic).map_or(0, f),
        f(cur.topics.get(topic)?),
    );
    (secs > 0.0).then(|| b.saturating_sub(a) as f64 / secs)
}

fn series(points: &[Point], visible: impl Fn(ResourceType, &str) -> bool) -> HistoryResponse {
    let mut out = HistoryResponse {
        interval_ms: 0,
        t: points.iter().map(|p| p.at_ms).collect(),
        topics: BTreeMap::new(),
        groups: BTreeMap::new(),
        dead_letters: BTreeMap::new(),
    };
    let names = |pick: fn(&Point) -> Vec<String>| {
        let mut n: Vec<String> = points.iter().flat_map(pick).collect();
        n.sort();
        n.dedup();
        n
    };
    for topic in names(|p| p.topics.keys().cloned().collect()) {
        if !visible(ResourceType::Topic, &topic) {
            continue;
        }
        let mut s = TopicSeries::default();
        for (i, cur) in points.iter().enumerate() {
            let prev = i.checked_sub(1).map(|j| &points[j]);
            s.records_in.push(rate(prev, cur, &topic, |t| t.records_in));
            s.bytes_in.push(rate(prev, cur, &topic, |t| t.bytes_in));
            s.records_out
                .push(rate(prev, cur, &topic, |t| t.records_out));
            s.bytes_out.push(rate(prev, cur, &topic, |t| t.bytes_out));
        }
        out.topics.insert(topic, s);
    }
    for group in names(|p| p.lag.keys().cloned().collect()) {
        if visible(ResourceType::Group, &group) {
            let s = points.iter().map(|p| p.lag.get(&group).copied()).collect();
            out.groups.insert(group, s);
        }
    }
    for topic in names(|p| p.dead_letters.keys().cloned().collect()) {
        if visible(ResourceType::Topic, &topic) {
            let s = points
                .iter()
                .map(|p| p.dead_letters.get(&topic).copied())
                .collect();
            out.dead_letters.insert(topic, s);
        }
    }
    out
}

/// The last hour of per-topic rates, group lag and dead-letter sizes, sampled in memory.
#[utoipa::path(get, path = "/v1/metrics/history", tag = "meta",
    responses((status = 200, body = HistoryResponse),
              (status = 403, description = "Not authorized", body = crate::schemas::Problem,
               content_type = "application/problem+json")))]
pub async fn history(
    State(state): State<Shared>,
    Caller(caller): Caller,
) -> ApiResult<Json<HistoryResponse>> {
    let points: Vec<Point> = state.history.points.lock().iter().cloned().collect();
    let authorizer = &state.config.security.authorizer;
    let mut out = series(&points, |kind, name| {
        authorizer.allowed(&caller, Operation::Describe, kind, name)
    });
    out.interval_ms = state.history.interval_ms;
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at_ms: i64, records_in: u64, lag: i64) -> Point {
        let mut p = Point {
            at_ms,
            ..Point::default()
        };
        let totals = TopicTotals {
            records_in,
            bytes_in: records_in * 10,
            ..TopicTotals::default()
        };
        p.topics.insert("orders".into(), totals);
        p.topics.insert("secret".into(), totals);
        p.lag.insert("billing".into(), lag);
        p
    }

    #[test]
    fn rates_are_per_second_between_samples_and_hidden_names_are_left_out() {
        let points = [point(0, 0, 5), point(10_000, 500, 3), point(20_000, 700, 0)];
        let out = series(&points, |_, name| name != "secret");
        assert_eq!(out.t, vec![0, 10_000, 20_000]);
        let orders = &out.topics["orders"];
        assert_eq!(orders.records_in, vec![None, Some(50.0), Some(20.0)]);
        assert_eq!(orders.bytes_in, vec![None, Some(500.0), Some(200.0)]);
        assert!(!out.topics.contains_key("secret"));
        assert_eq!(out.groups["billing"], vec![Some(5), Some(3), Some(0)]);
    }

    #[test]
    fn the_history_keeps_only_its_capacity() {
        let h = History::new(1_000, 3);
        for i in 0..5 {
            h.push(point(i, 0, 0));
        }
        let at: Vec<i64> = h.points.lock().iter().map(|p| p.at_ms).collect();
        assert_eq!(at, vec![2, 3, 4]);
    }
}
