//! Subscriptions: what a client sends ([`SubscriptionSpec`]), what is stored
//! ([`Subscription`], with its secrets and state) and what is shown ([`SubscriptionView`],
//! never a secret), with the validation of names, URLs, filters and retry schedules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{Result, WebhookError};
use crate::signing::Secret;

/// Default retry schedule (delays before each attempt, in ms): immediately, 5 s, 5 min,
/// 30 min, 2 h, 5 h, 10 h, 10 h (Svix's).
pub const DEFAULT_SCHEDULE_MS: [u64; 8] = [
    0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
];
/// Longest name: `<name>.dlq` and `webhook.<name>` must stay within Kafka's 249 characters.
pub const MAX_NAME_LEN: usize = 200;
pub const DEFAULT_TIMEOUT_MS: u64 = 15_000;
pub const MAX_TIMEOUT_MS: u64 = 120_000;
/// Default time of continuous failure after which an endpoint is disabled: 5 days (Svix's).
pub const DEFAULT_DISABLE_AFTER_MS: u64 = 5 * 24 * 3600 * 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Start {
    #[default]
    Latest,
    Earliest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PayloadMode {
    /// One `application/cloudevents+json` document.
    #[default]
    Structured,
    /// The raw value as the body, attributes as `ce-*` headers.
    Binary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Ordering {
    /// One event in flight per partition, in offset order.
    #[default]
    Partition,
    /// In offset order per key, parallel across keys (records without a key share one lane).
    Key,
    /// Every event on its own, up to the subscription's concurrency.
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum FailurePolicy {
    #[default]
    DeadLetter,
    Block,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointState {
    #[default]
    Active,
    Paused,
    /// Disabled by a `410 Gone` or by failing continuously for `disable_after_ms`
    /// (`disabled_reason` says which); `resume` enables it again.
    Disabled,
}

/// Which records are delivered; all given conditions must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    /// The record key starts with these bytes (UTF-8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_prefix: Option<String>,
    /// Every named header is present with exactly this value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The record's CloudEvents type (`ce_type` header) is one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
}

/// What a client sends to create a subscription (and, all optional, to change one).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionSpec {
    pub name: String,
    pub url: String,
    pub topics: Vec<String>,
    #[serde(default)]
    pub filter: Filter,
    #[serde(default)]
    pub start: Start,
    /// Start at the first record at or after this time (ms since the epoch); overrides `start`.
    #[serde(default)]
    pub start_timestamp_ms: Option<i64>,
    #[serde(default)]
    pub payload: PayloadMode,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
    /// Requests in flight to the endpoint at most [default: 16].
    #[serde(default)]
    pub concurrency: Option<u32>,
    /// Requests per second to the endpoint at most [default: unlimited].
    #[serde(default)]
    pub rate_limit_per_sec: Option<u32>,
    #[serde(default)]
    pub ordering: Ordering,
    /// Delays before each attempt in ms; the first is usually 0.
    #[serde(default)]
    pub retry_schedule_ms: Option<Vec<u64>>,
    #[serde(default)]
    pub failure_policy: FailurePolicy,
    /// Dead-letter topic [default: `<name>.dlq`].
    #[serde(default)]
    pub dead_letter_topic: Option<String>,
    /// `whsec_` + base64 of 24 to 64 bytes [default: generated].
    #[serde(default)]
    pub secret: Option<String>,
    /// Disable the endpoint after failing continuously this long; 0 never [default: 5 days].
    #[serde(default)]
    pub disable_after_ms: Option<u64>,
}

/// A change to a subscription (`PATCH`): only the given fields change; the positions, the
/// topics, the name and the dead-letter topic stay.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionPatch {
    pub url: Option<String>,
    pub filter: Option<Filter>,
    pub payload: Option<PayloadMode>,
    pub headers: Option<BTreeMap<String, String>>,
    pub timeout_ms: Option<u64>,
    pub concurrency: Option<u32>,
    /// 0 removes the limit.
    pub rate_limit_per_sec: Option<u32>,
    pub ordering: Option<Ordering>,
    pub retry_schedule_ms: Option<Vec<u64>>,
    pub failure_policy: Option<FailurePolicy>,
    pub disable_after_ms: Option<u64>,
    /// Rotate to this secret (`whsec_…`); the old ones keep signing for `keep_old_ms`.
    pub secret: Option<String>,
    /// Rotate to a generated secret (answered once, as `secret`).
    #[serde(default)]
    pub rotate_secret: bool,
    /// How long the old secrets keep signing after a rotation [default: 24 h].
    pub keep_old_ms: Option<i64>,
}

/// A stored subscription (the value in `__strom_webhooks`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Subscription {
    pub name: String,
    pub url: String,
    pub topics: Vec<String>,
    pub filter: Filter,
    pub payload: PayloadMode,
    pub headers: BTreeMap<String, String>,
    pub timeout_ms: u64,
    pub concurrency: u32,
    pub rate_limit_per_sec: Option<u32>,
    pub ordering: Ordering,
    pub retry_schedule_ms: Vec<u64>,
    pub failure_policy: FailurePolicy,
    pub dead_letter_topic: String,
    pub state: EndpointState,
    /// Newest first; all of them sign (rotation).
    pub secrets: Vec<Secret>,
    pub created_ms: i64,
    /// 0: never disabled for failing.
    #[serde(default = "default_disable_after")]
    pub disable_after_ms: u64,
    /// Why the endpoint is disabled (`state` is `disabled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// When the current run of failures started, once it has lasted a minute (so that a
    /// restart keeps counting towards `disable_after_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since_ms: Option<i64>,
}

fn default_disable_after() -> u64 {
    DEFAULT_DISABLE_AFTER_MS
}

/// A subscription as shown to clients: no secrets.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionView {
    pub name: String,
    pub group: String,
    pub url: String,
    pub topics: Vec<String>,
    pub filter: Filter,
    pub payload: PayloadMode,
    pub headers: BTreeMap<String, String>,
    pub timeout_ms: u64,
    pub concurrency: u32,
    pub rate_limit_per_sec: Option<u32>,
    pub ordering: Ordering,
    pub retry_schedule_ms: Vec<u64>,
    pub failure_policy: FailurePolicy,
    pub dead_letter_topic: String,
    pub state: EndpointState,
    pub created_ms: i64,
    pub disable_after_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
}

impl Subscription {
    /// The consumer group that holds this subscription's positions.
    pub fn group(&self) -> String {
        group_id(&self.name)
    }

    pub fn view(&self) -> SubscriptionView {
        SubscriptionView {
            name: self.name.clone(),
            group: self.group(),
            url: self.url.clone(),
            topics: self.topics.clone(),
            filter: self.filter.clone(),
            payload: self.payload,
            headers: self.headers.clone(),
            timeout_ms: self.timeout_ms,
            concurrency: self.concurrency,
            rate_limit_per_sec: self.rate_limit_per_sec,
            ordering: self.ordering,
            retry_schedule_ms: self.retry_schedule_ms.clone(),
            failure_policy: self.failure_policy,
            dead_letter_topic: self.dead_letter_topic.clone(),
            state: self.state,
            created_ms: self.created_ms,
            disable_after_ms: self.disable_after_ms,
            disabled_reason: self.disabled_reason.clone(),
        }
    }

    /// Checks the settings a client can change (URL, headers, schedule, timeout,
    /// concurrency). Errors: `Invalid`.
    pub fn validate(&self) -> Result<reqwest::Url> {
        let url = validate_url(&self.url)?;
        validate_headers(&self.headers)?;
        validate_schedule(&self.retry_schedule_ms)?;
        if self.timeout_ms == 0 || self.timeout_ms > MAX_TIMEOUT_MS {
            return Err(WebhookError::Invalid(format!(
                "timeout_ms must be 1 to {MAX_TIMEOUT_MS}"
            )));
        }
        if !(1..=1024).contains(&self.concurrency) {
            return Err(WebhookError::Invalid(
                "concurrency must be 1 to 1024".into(),
            ));
        }
        Ok(url)
    }

    /// Applies `patch` (secrets aside, see `Webhooks::update`), then validates.
    /// Errors: `Invalid`.
    pub fn apply(&mut self, patch: &SubscriptionPatch) -> Result<reqwest::Url> {
        let p = patch.clone();
        if let Some(v) = p.url {
            self.url = v;
        }
        if let Some(v) = p.filter {
            self.filter = v;
        }
        if let Some(v) = p.payload {
            self.payload = v;
        }
        if let Some(v) = p.headers {
            self.headers = v;
        }
        if let Some(v) = p.timeout_ms {
            self.timeout_ms = v;
        }
        if let Some(v) = p.concurrency {
            self.concurrency = v;
        }
        if let Some(v) = p.rate_limit_per_sec {
            self.rate_limit_per_sec = (v > 0).then_some(v);
        }
        if let Some(v) = p.ordering {
            self.ordering = v;
        }
        if let Some(v) = p.retry_schedule_ms {
            self.retry_schedule_ms = v;
        }
        if let Some(v) = p.failure_policy {
            self.failure_policy = v;
        }
        if let Some(v) = p.disable_after_ms {
            self.disable_after_ms = v;
        }
        self.validate()
    }
}

/// The group id of subscription `name`.
pub fn group_id(name: &str) -> String {
    format!("webhook.{name}")
}

/// Names: 1 to 200 of `[a-zA-Z0-9._-]`, not starting with `.` or `_`, so `<name>.dlq` is a
/// legal, non-internal topic name.
pub fn validate_name(name: &str) -> Result<()> {
    let legal = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && !name.starts_with(['.', '_']);
    if legal {
        Ok(())
    } else {
        Err(WebhookError::Invalid(format!(
            "invalid subscription name '{name}': 1 to {MAX_NAME_LEN} of [a-zA-Z0-9._-], \
             not starting with '.' or '_'"
        )))
    }
}

/// The URL parses, is `http` or `https` and has a host; no credentials in it.
pub fn validate_url(url: &str) -> Result<reqwest::Url> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| WebhookError::Invalid(format!("invalid url: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(WebhookError::Invalid("url must be http or https".into()));
    }
    if parsed.host().is_none() {
        return Err(WebhookError::Invalid("url has no host".into()));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(WebhookError::Invalid(
            "url must not carry credentials; use custom headers".into(),
        ));
    }
    Ok(parsed)
}

/// A schedule has 1 to 20 delays of at most 7 days each.
pub fn validate_schedule(schedule: &[u64]) -> Result<()> {
    const WEEK_MS: u64 = 7 * 24 * 3600 * 1000;
    if schedule.is_empty() || schedule.len() > 20 || schedule.iter().any(|d| *d > WEEK_MS) {
        return Err(WebhookError::Invalid(
            "retry_schedule_ms needs 1 to 20 delays of at most 7 days".into(),
        ));
    }
    Ok(())
}

/// Custom headers must be valid HTTP headers and not ones Strom sets.
pub fn validate_headers(headers: &BTreeMap<String, String>) -> Result<()> {
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let reserved = lower.starts_with("webhook-")
            || lower.starts_with("ce-")
            || matches!(lower.as_str(), "content-type" | "content-length" | "host");
        let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
            && reqwest::header::HeaderValue::from_str(value).is_ok();
        if reserved || !valid {
            return Err(WebhookError::Invalid(format!(
                "header '{name}' is invalid or set by Strom"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_derived_topics_legal() {
        assert!(validate_name("orders-hook.v2").is_ok());
        for bad in ["", ".x", "_x", "a/b", "a b", &"x".repeat(201)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_and_schedules() {
        assert!(validate_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(validate_url("ftp://x/").is_err());
        assert!(validate_url("http://u:p@x/").is_err());
        assert!(validate_url("not a url").is_err());
        assert!(validate_schedule(&[]).is_err());
        assert!(validate_schedule(&DEFAULT_SCHEDULE_MS).is_ok());
    }
}
