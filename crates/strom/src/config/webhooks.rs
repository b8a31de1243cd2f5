//! Where webhooks may deliver (the SSRF policy) and the CA they trust.

use super::file::FileConfig;

/// The webhook target policy from `webhook_allowed_networks` and `webhook_ca_file`.
pub(super) fn webhook_policy(
    file: &FileConfig,
    http_auth: &strom_http::auth::HttpAuthConfig,
    kafka: &[crate::listeners::KafkaListener],
) -> anyhow::Result<strom_webhooks::ssrf::TargetPolicy> {
    let mut policy = webhook_targets(file.webhook_allowed_networks.as_deref(), http_auth, kafka)?;
    if let Some(path) = &file.webhook_ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("webhook_ca_file {}: {e}", path.display()))?;
        policy.ca_pem = Some(pem);
    }
    Ok(policy)
}

/// The webhook SSRF policy: private targets are allowed while nothing requires
/// authentication (`http_auth` is not `required`, no SASL listener), else only
/// `webhook_allowed_networks`.
fn webhook_targets(
    allowed_networks: Option<&[String]>,
    http_auth: &strom_http::auth::HttpAuthConfig,
    kafka: &[crate::listeners::KafkaListener],
) -> anyhow::Result<strom_webhooks::ssrf::TargetPolicy> {
    use strom_auth::SecurityProtocol::{SaslPlaintext, SaslSsl};
    let authenticated = http_auth.mode == strom_http::auth::AuthMode::Required
        || kafka
            .iter()
            .any(|l| matches!(l.protocol, SaslPlaintext | SaslSsl));
    let allowed = allowed_networks
        .unwrap_or_default()
        .iter()
        .map(|c| strom_webhooks::ssrf::Cidr::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("webhook_allowed_networks: {e}"))?;
    Ok(strom_webhooks::ssrf::TargetPolicy {
        allow_private: !authenticated,
        allowed,
        ca_pem: None,
    })
}
