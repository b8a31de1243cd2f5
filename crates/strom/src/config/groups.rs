//! Group coordinator and transaction settings (Kafka's `group.*`, `offsets.*` and
//! `transaction.*` names); defaults in `GroupConfig::default()` and `txn::DEFAULT_*`.

use std::time::Duration;

use super::file::FileConfig;
use super::ConfigError;

/// The group coordinator's settings from the file (Kafka's names, `group.*` / `offsets.*`).
pub(super) fn group_config(file: &FileConfig) -> anyhow::Result<strom_broker::group::GroupConfig> {
    let defaults = strom_broker::group::GroupConfig::default();
    let ms = Duration::from_millis;
    let config = strom_broker::group::GroupConfig {
        offsets_retention: file
            .offsets_retention_minutes
            .map_or(defaults.offsets_retention, |m| {
                Duration::from_secs(m.saturating_mul(60))
            }),
        initial_rebalance_delay: file
            .group_initial_rebalance_delay_ms
            .map_or(defaults.initial_rebalance_delay, ms),
        min_session_timeout: file
            .group_min_session_timeout_ms
            .map_or(defaults.min_session_timeout, ms),
        max_session_timeout: file
            .group_max_session_timeout_ms
            .map_or(defaults.max_session_timeout, ms),
        consumer_session_timeout: file
            .group_consumer_session_timeout_ms
            .map_or(defaults.consumer_session_timeout, ms),
        consumer_heartbeat_interval: file
            .group_consumer_heartbeat_interval_ms
            .map_or(defaults.consumer_heartbeat_interval, ms),
        consumer_assignors: file
            .group_consumer_assignors
            .clone()
            .unwrap_or_else(|| defaults.consumer_assignors.clone()),
        consumer_migration_policy: match &file.group_consumer_migration_policy {
            Some(policy) => policy
                .parse()
                .map_err(|e| anyhow::anyhow!("group_consumer_migration_policy: {e}"))?,
            None => defaults.consumer_migration_policy,
        },
        ..defaults
    };
    check_consumer_group_config(&config)?;
    if config.offsets_retention.is_zero() {
        bail!("offsets_retention_minutes must be greater than 0");
    }
    if config.min_session_timeout > config.max_session_timeout {
        bail!("group_min_session_timeout_ms must not exceed group_max_session_timeout_ms");
    }
    Ok(config)
}

/// KIP-848 settings: a heartbeat interval shorter than the session, known assignors.
pub(super) fn check_consumer_group_config(
    config: &strom_broker::group::GroupConfig,
) -> anyhow::Result<()> {
    if config.consumer_heartbeat_interval.is_zero()
        || config.consumer_heartbeat_interval >= config.consumer_session_timeout
    {
        bail!("group_consumer_heartbeat_interval_ms must be above 0 and below group_consumer_session_timeout_ms");
    }
    let known = strom_broker::group::consumer::ASSIGNORS;
    if config.consumer_assignors.is_empty()
        || config
            .consumer_assignors
            .iter()
            .any(|a| !known.contains(&a.as_str()))
    {
        bail!("group_consumer_assignors must list one or more of {known:?}");
    }
    Ok(())
}

/// The transaction coordinator's settings from the file.
pub(super) fn transaction_config(
    file: &FileConfig,
) -> anyhow::Result<strom_broker::txn::TxnConfig> {
    let transactions = strom_broker::txn::TxnConfig {
        max_timeout_ms: file
            .transaction_max_timeout_ms
            .unwrap_or(strom_broker::txn::DEFAULT_MAX_TIMEOUT_MS),
    };
    if transactions.max_timeout_ms <= 0 {
        bail!("transaction_max_timeout_ms must be greater than 0");
    }
    Ok(transactions)
}
