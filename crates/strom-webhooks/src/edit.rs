//! Changing a live subscription: `PATCH` ([`Webhooks::update`]: URL, filter, payload,
//! headers, limits, ordering, retry policy, secret rotation; the positions, topics and
//! dead-letter topic stay) and the endpoint state the workers change themselves (disabled by
//! a 410 or by failing continuously, the start of a run of failures). Every change is
//! written to `__strom_webhooks` before it takes effect.

use std::sync::Arc;

use crate::error::{Result, WebhookError};
use crate::model::{EndpointState, Subscription, SubscriptionPatch, SubscriptionView};
use crate::registry::{check_target, persist};
use crate::runtime::Runtime;
use crate::signing::Secret;
use crate::{Ctx, Webhooks};

/// How long old secrets keep signing after a rotation by default: 24 h.
pub const KEEP_OLD_MS: i64 = 24 * 3600 * 1000;

/// `secrets` with `fresh` first; the live old ones expire after `keep_old_ms`.
pub fn rotate_into(secrets: &mut Vec<Secret>, fresh: Secret, keep_old_ms: Option<i64>, now: i64) {
    let expires = now + keep_old_ms.unwrap_or(KEEP_OLD_MS).max(0);
    secrets.retain(|s| s.expires_ms.is_none_or(|e| e > now));
    for s in secrets.iter_mut() {
        s.expires_ms = Some(s.expires_ms.map_or(expires, |e| e.min(expires)));
    }
    secrets.insert(0, fresh);
}

impl Webhooks {
    /// Changes a subscription; returns it and the new secret when the patch rotated to a
    /// generated one. Its workers restart from the committed positions, so nothing is
    /// skipped or lost. Errors: `NotFound`, `Invalid`, `TargetRefused`, `Broker`.
    pub async fn update(
        &self,
        name: &str,
        patch: &SubscriptionPatch,
    ) -> Result<(SubscriptionView, Option<String>)> {
        let _admin = self.admin.lock().await;
        let rt = self.runtime(name)?;
        let _one = self.ctx.writes.lock().await;
        let mut sub = (*rt.current()).clone();
        let url = sub.apply(patch)?;
        if patch.url.is_some() {
            check_target(&self.ctx.policy, &url).await?;
        }
        let fresh = match (&patch.secret, patch.rotate_secret) {
            (Some(_), true) => {
                return Err(WebhookError::Invalid(
                    "give either secret or rotate_secret".into(),
                ))
            }
            (Some(text), false) => Some(Secret::parse(text)?),
            (None, true) => Some(Secret::generate()),
            (None, false) => None,
        };
        let shown = patch
            .rotate_secret
            .then(|| fresh.as_ref().map(|s| s.secret.clone()));
        if let Some(fresh) = fresh {
            rotate_into(&mut sub.secrets, fresh, patch.keep_old_ms, crate::now_ms());
        }
        self.persist(&sub).await?;
        drop(_one);
        let view = sub.view();
        self.relaunch(sub).await?;
        tracing::info!(subscription = %name, "webhook subscription changed");
        Ok((view, shown.flatten()))
    }
}

/// Changes the stored and live subscription of `rt` with `change` (which answers whether
/// anything changed), one change at a time, so that concurrent changes (an operator's pause,
/// a worker's disable) do not overwrite each other. Errors: `Broker` (nothing changed).
pub(crate) async fn modify(
    ctx: &Arc<Ctx>,
    rt: &Runtime,
    change: impl FnOnce(&mut Subscription) -> bool,
) -> Result<Arc<Subscription>> {
    let _one = ctx.writes.lock().await;
    let mut sub = (*rt.current()).clone();
    if !change(&mut sub) {
        return Ok(rt.current());
    }
    persist(ctx, &sub).await?;
    let sub = Arc::new(sub);
    *rt.sub.write() = Arc::clone(&sub);
    rt.notify();
    Ok(sub)
}

/// Disables the endpoint (durably) until it is resumed: a 410, or failing continuously for
/// `disable_after_ms`; `reason` is shown and logged.
pub(crate) async fn disable(ctx: &Arc<Ctx>, rt: &Runtime, reason: String) {
    let stored = modify(ctx, rt, |sub| {
        if sub.state == EndpointState::Disabled {
            return false;
        }
        tracing::warn!(subscription = %sub.name, %reason, "webhook endpoint disabled");
        let data = serde_json::json!({"reason": reason, "url": sub.url});
        ctx.events
            .publish(&sub.name, "endpoint.disabled", &sub.name, data);
        sub.state = EndpointState::Disabled;
        sub.disabled_reason = Some(reason);
        true
    })
    .await;
    if let Err(err) = stored {
        tracing::warn!(error = %err, "webhook: disabled state not stored");
    }
}

/// Stores when the current run of failures started (`None`: it ended), so that a restart
/// keeps counting towards `disable_after_ms`.
pub(crate) async fn store_failing_since(ctx: &Arc<Ctx>, rt: &Runtime, since: Option<i64>) {
    let stored = modify(ctx, rt, |sub| {
        let changed = sub.failing_since_ms != since;
        sub.failing_since_ms = since;
        changed
    })
    .await;
    if let Err(err) = stored {
        tracing::warn!(error = %err, "webhook: failure run not stored");
    }
}
