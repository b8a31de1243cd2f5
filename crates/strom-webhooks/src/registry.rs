//! [`Webhooks`]: the subscription registry. Creates, changes and deletes subscriptions
//! (each change written to `__strom_webhooks` before it is answered), starts one worker per
//! partition of every subscribed topic, and stops them on delete or shutdown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use strom_broker::{is_internal_topic, Broker, GroupCoordinator, StateTopic};
use tokio::sync::watch;

use crate::error::{Result, WebhookError};
use crate::model::{self, EndpointState, Subscription, SubscriptionSpec, SubscriptionView};
use crate::runtime::Runtime;
use crate::signing::Secret;
use crate::ssrf::TargetPolicy;
use crate::{send, worker, Ctx};

/// The state topic's name (`__strom_webhooks`).
pub const STATE_NAME: &str = "webhooks";

pub struct Webhooks {
    pub(crate) ctx: Arc<Ctx>,
    pub(crate) subs: Mutex<BTreeMap<String, Arc<Runtime>>>,
    /// Held by every change of the set of subscriptions or of one's settings.
    pub(crate) admin: tokio::sync::Mutex<()>,
    /// Dead letters from REST Proxy consumers and topic reports.
    pub(crate) reports: Arc<crate::reports::Reports>,
}

impl std::fmt::Debug for Webhooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhooks")
            .field("subscriptions", &self.subs.lock().len())
            .finish()
    }
}

fn sub_key(name: &str) -> Vec<u8> {
    format!("sub/{name}").into_bytes()
}

fn dlq_key(topic: &str) -> Vec<u8> {
    format!("dlq/{topic}").into_bytes()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| WebhookError::Broker(strom_broker::BrokerError::ShuttingDown))?
}

impl Webhooks {
    /// Opens `__strom_webhooks`, loads every subscription and starts its workers; all stop
    /// when `shutdown` turns true. Errors: `Broker` when the state topic cannot be read.
    pub async fn start(
        broker: Arc<Broker>,
        groups: GroupCoordinator,
        policy: TargetPolicy,
        decoder: Option<crate::payload::ValueDecoder>,
        mut shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Webhooks>> {
        let b = Arc::clone(&broker);
        let (store, stored) = blocking(move || {
            let store = StateTopic::open(b, STATE_NAME)?;
            let stored = store.load()?;
            Ok((store, stored))
        })
        .await?;
        let events = crate::events::Events::start(Arc::clone(&broker)).await;
        let ctx = Arc::new(Ctx {
            broker,
            groups,
            store,
            policy: Arc::new(policy),
            decoder,
            writes: Default::default(),
            reads: Default::default(),
            events,
        });
        let me = Arc::new(Webhooks {
            ctx,
            subs: Mutex::new(BTreeMap::new()),
            admin: Default::default(),
            reports: Default::default(),
        });
        for (key, value) in stored {
            if !key.starts_with(b"sub/") {
                continue;
            }
            match serde_json::from_slice::<Subscription>(&value) {
                Ok(sub) => {
                    if let Err(err) = me.launch(sub) {
                        tracing::warn!(error = %err, "webhook subscription not started");
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "skipping an unreadable webhook subscription")
                }
            }
        }
        let weak = Arc::downgrade(&me);
        tokio::spawn(async move {
            let _ = shutdown.wait_for(|s| *s).await;
            if let Some(me) = weak.upgrade() {
                for rt in me.subs.lock().values() {
                    let _ = rt.stop.send(true);
                }
            }
        });
        Ok(me)
    }

    /// Starts the runtime and workers of a stored subscription.
    fn launch(&self, sub: Subscription) -> Result<()> {
        let rt = self.new_runtime(sub, None)?;
        if let Some(old) = self.subs.lock().insert(rt.current().name.clone(), rt) {
            let _ = old.stop.send(true);
        }
        Ok(())
    }

    /// Replaces a running subscription with `sub` (a `PATCH`): the old workers stop and
    /// finish first, the new ones start from the committed positions; metrics and history
    /// carry over.
    pub(crate) async fn relaunch(&self, sub: Subscription) -> Result<()> {
        let old = self.runtime(&sub.name)?;
        let grace = Duration::from_millis(old.current().timeout_ms) + Duration::from_secs(5);
        old.shut(grace).await;
        let rt = self.new_runtime(sub, Some(&old))?;
        self.subs.lock().insert(rt.current().name.clone(), rt);
        Ok(())
    }

    /// A runtime for `sub` with one worker per partition of every subscribed topic (and
    /// for partitions added later: [`crate::partitions`]).
    fn new_runtime(&self, sub: Subscription, carry: Option<&Runtime>) -> Result<Arc<Runtime>> {
        let url = model::validate_url(&sub.url)?;
        let client = send::client(&sub, Arc::clone(&self.ctx.policy))?;
        let rt = Arc::new(Runtime::new(sub, client, url, carry));
        crate::partitions::start(&self.ctx, &rt);
        Ok(rt)
    }

    pub(crate) fn runtime(&self, name: &str) -> Result<Arc<Runtime>> {
        self.subs
            .lock()
            .get(name)
            .cloned()
            .ok_or_else(|| WebhookError::NotFound(name.to_string()))
    }

    pub(crate) async fn persist(&self, sub: &Subscription) -> Result<()> {
        persist(&self.ctx, sub).await
    }

    pub fn list(&self) -> Vec<SubscriptionView> {
        self.subs
            .lock()
            .values()
            .map(|rt| rt.current().view())
            .collect()
    }

    pub fn get(&self, name: &str) -> Result<SubscriptionView> {
        Ok(self.runtime(name)?.current().view())
    }

    /// Creates a subscription; returns it and its signing secret (the only time it is
    /// shown outside the secret endpoint).
    /// Errors: `Invalid`, `TargetRefused`, `UnknownTopic`, `Exists`, `Conflict` (the
    /// dead-letter topic belongs to something else), `Broker`, `Group`.
    pub async fn create(&self, spec: SubscriptionSpec) -> Result<(SubscriptionView, String)> {
        let sub = self.build(&spec).await?;
        let _admin = self.admin.lock().await;
        if self.subs.lock().contains_key(&sub.name) {
            return Err(WebhookError::Exists(sub.name));
        }
        self.claim_dead_letter_topic(&sub).await?;
        self.commit_start(&sub, &spec).await?;
        let owner = (
            dlq_key(&sub.dead_letter_topic),
            sub.name.clone().into_bytes(),
        );
        let value = serde_json::to_vec(&sub).map_err(|e| WebhookError::Invalid(e.to_string()))?;
        let key = sub_key(&sub.name);
        let ctx = Arc::clone(&self.ctx);
        blocking(move || {
            ctx.store
                .put_many(&[(&owner.0, Some(&owner.1)), (&key, Some(&value))])?;
            Ok(())
        })
        .await?;
        let secret = sub
            .secrets
            .first()
            .map(|s| s.secret.clone())
            .unwrap_or_default();
        let view = sub.view();
        let data = serde_json::json!({"url": sub.url, "topics": sub.topics,
            "dead_letter_topic": sub.dead_letter_topic});
        self.ctx
            .events
            .publish(&sub.name, "subscription.created", &sub.name, data);
        self.launch(sub)?;
        Ok((view, secret))
    }

    /// Validates `spec` into a subscription (no side effects).
    async fn build(&self, spec: &SubscriptionSpec) -> Result<Subscription> {
        model::validate_name(&spec.name)?;
        if spec.topics.is_empty() {
            return Err(WebhookError::Invalid(
                "topics must name at least one topic".into(),
            ));
        }
        let secret = match &spec.secret {
            Some(s) => Secret::parse(s)?,
            None => Secret::generate(),
        };
        let sub = Subscription {
            name: spec.name.clone(),
            url: spec.url.clone(),
            topics: spec.topics.clone(),
            filter: spec.filter.clone(),
            payload: spec.payload,
            headers: spec.headers.clone(),
            timeout_ms: spec.timeout_ms.unwrap_or(model::DEFAULT_TIMEOUT_MS),
            concurrency: spec.concurrency.unwrap_or(16),
            rate_limit_per_sec: spec.rate_limit_per_sec.filter(|r| *r > 0),
            ordering: spec.ordering,
            retry_schedule_ms: spec
                .retry_schedule_ms
                .clone()
                .unwrap_or_else(|| model::DEFAULT_SCHEDULE_MS.to_vec()),
            failure_policy: spec.failure_policy,
            dead_letter_topic: spec
                .dead_letter_topic
                .clone()
                .unwrap_or_else(|| format!("{}.dlq", spec.name)),
            state: EndpointState::Active,
            secrets: vec![secret],
            created_ms: crate::now_ms(),
            disable_after_ms: spec
                .disable_after_ms
                .unwrap_or(model::DEFAULT_DISABLE_AFTER_MS),
            disabled_reason: None,
            failing_since_ms: None,
        };
        let url = sub.validate()?;
        check_target(&self.ctx.policy, &url).await?;
        for t in &spec.topics {
            if is_internal_topic(t) || self.ctx.broker.topic(t).is_none() {
                return Err(WebhookError::UnknownTopic(t.clone()));
            }
        }
        self.ctx
            .broker
            .validate_new_topic(&sub.dead_letter_topic, 1, &BTreeMap::new())
            .or_else(|e| match e {
                strom_broker::BrokerError::TopicExists(_) => Ok(()),
                e => Err(e),
            })
            .map_err(|e| WebhookError::Invalid(format!("dead-letter topic: {e}")))?;
        Ok(sub)
    }

    /// Creates the dead-letter topic, or adopts it when this subscription name owned it
    /// before. Errors: `Conflict` when it exists and belongs to something else.
    async fn claim_dead_letter_topic(&self, sub: &Subscription) -> Result<()> {
        let ctx = Arc::clone(&self.ctx);
        let (topic, name) = (sub.dead_letter_topic.clone(), sub.name.clone());
        blocking(move || {
            if ctx.broker.topic(&topic).is_some() {
                let owners = ctx.store.load()?;
                let owner = owners.get(&dlq_key(&topic)[..]);
                if owner.map(|o| &o[..]) != Some(name.as_bytes()) {
                    return Err(WebhookError::Conflict(format!(
                        "dead-letter topic '{topic}' exists and does not belong to subscription '{name}'"
                    )));
                }
                return Ok(());
            }
            match ctx.broker.create_topic(&topic, 1, &BTreeMap::new()) {
                Ok(_) | Err(strom_broker::BrokerError::TopicExists(_)) => Ok(()),
                Err(e) => Err(e.into()),
            }
        })
        .await
    }

    /// Commits the start position of every partition, so that a restart before the first
    /// delivery starts where creation said.
    async fn commit_start(&self, sub: &Subscription, spec: &SubscriptionSpec) -> Result<()> {
        let group = sub.group();
        for topic in &sub.topics {
            let Some(t) = self.ctx.broker.topic(topic) else {
                continue;
            };
            for part in t.partitions() {
                let offset = match (spec.start_timestamp_ms, spec.start) {
                    (Some(ts), _) => part
                        .offset_for_timestamp(ts)?
                        .map_or(part.high_watermark(), |(o, _)| o),
                    (None, model::Start::Earliest) => part.log_start_offset(),
                    (None, model::Start::Latest) => part.high_watermark(),
                };
                worker::commit(&self.ctx, &group, topic, part.index(), offset).await;
            }
        }
        Ok(())
    }

    /// Deletes a subscription: its workers stop, its group and stored record go; the
    /// dead-letter topic stays (still owned by the name).
    pub async fn delete(&self, name: &str) -> Result<()> {
        let _admin = self.admin.lock().await;
        let rt = self.runtime(name)?;
        let _ = rt.stop.send(true);
        self.subs.lock().remove(name);
        let key = sub_key(name);
        let ctx = Arc::clone(&self.ctx);
        blocking(move || Ok(ctx.store.put(&key, None)?)).await?;
        let _ = self
            .ctx
            .groups
            .delete_groups(&[model::group_id(name)])
            .await;
        let data = serde_json::json!({});
        self.ctx
            .events
            .publish(name, "subscription.deleted", name, data);
        Ok(())
    }

    /// Pauses (`Paused`) or resumes (`Active`, also after a 410 or failing disabled it;
    /// the run of failures starts over).
    pub async fn set_state(&self, name: &str, state: EndpointState) -> Result<SubscriptionView> {
        let rt = self.runtime(name)?;
        let before = rt.state();
        if state == EndpointState::Active {
            rt.note_success();
        }
        let sub = crate::edit::modify(&self.ctx, &rt, |sub| {
            sub.state = state;
            if state == EndpointState::Active {
                sub.disabled_reason = None;
                sub.failing_since_ms = None;
            }
            true
        })
        .await?;
        let kind = match (before, state) {
            (EndpointState::Disabled, EndpointState::Active) => Some("endpoint.enabled"),
            (EndpointState::Paused, EndpointState::Active) => Some("subscription.resumed"),
            (EndpointState::Active, EndpointState::Paused) => Some("subscription.paused"),
            _ => None,
        };
        if let Some(kind) = kind {
            let data = serde_json::json!({"state": sub.view().state});
            self.ctx.events.publish(name, kind, name, data);
        }
        Ok(sub.view())
    }
}

/// Writes `sub` to the state topic.
pub(crate) async fn persist(ctx: &Arc<Ctx>, sub: &Subscription) -> Result<()> {
    let value = serde_json::to_vec(sub).map_err(|e| WebhookError::Invalid(e.to_string()))?;
    let key = sub_key(&sub.name);
    let ctx = Arc::clone(ctx);
    blocking(move || Ok(ctx.store.put(&key, Some(&value))?)).await
}

/// Refuses a target whose address (literal or resolved now) the policy refuses; delivery
/// checks again at every connection.
pub(crate) async fn check_target(policy: &TargetPolicy, url: &reqwest::Url) -> Result<()> {
    send::check_literal(url, policy)?;
    if let Some(url::Host::Domain(host)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(80);
        if let Ok(addrs) = tokio::net::lookup_host((host, port)).await {
            for a in addrs {
                policy.check(a.ip())?;
            }
        }
    }
    Ok(())
}
