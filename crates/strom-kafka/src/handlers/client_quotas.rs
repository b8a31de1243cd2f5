//! DescribeClientQuotas (48) and AlterClientQuotas (49), KIP-546: the quota settings of
//! users and client ids, kept by `strom_auth::Quotas`. Describe needs DescribeConfigs on the
//! cluster and Alter needs AlterConfigs on it (Kafka's rule); without it every entry is
//! refused with CLUSTER_AUTHORIZATION_FAILED. Alter writes to `__strom_security`, so it
//! runs through `blocking`.

use kafka_protocol::messages::alter_client_quotas_response::{
    EntityData as AlterEntity, EntryData as AlterEntry,
};
use kafka_protocol::messages::describe_client_quotas_request::ComponentData;
use kafka_protocol::messages::describe_client_quotas_response::{EntityData, EntryData, ValueData};
use kafka_protocol::messages::{
    AlterClientQuotasRequest, AlterClientQuotasResponse, DescribeClientQuotasRequest,
    DescribeClientQuotasResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strom_auth::{
    AuthError, Operation, QuotaAlteration, QuotaEntity, QuotaFilter, QuotaMatch, ResourceType,
    Session, CLUSTER_NAME,
};

use super::Context;
use crate::errors::quota_error;

const DENIED: &str = "not authorized to describe or alter client quotas (needs DescribeConfigs or AlterConfigs on the cluster)";

pub fn describe(
    ctx: &Context,
    session: &Session,
    request: DescribeClientQuotasRequest,
) -> DescribeClientQuotasResponse {
    let security = &ctx.config.security;
    let op = Operation::DescribeConfigs;
    if !security
        .authorizer
        .authorize(session, op, ResourceType::Cluster, CLUSTER_NAME)
    {
        return describe_error(ResponseError::ClusterAuthorizationFailed, DENIED.into());
    }
    let found = filter(request).and_then(|f| security.quotas.describe(&f));
    let found = match found {
        Ok(found) => found,
        Err(err) => {
            let (code, message) = quota_error(&err);
            return describe_error(code, message);
        }
    };
    let entries = found
        .into_iter()
        .map(|(entity, values)| {
            let entity = entity
                .parts()
                .into_iter()
                .map(|(kind, name)| {
                    EntityData::default()
                        .with_entity_type(StrBytes::from_static_str(kind))
                        .with_entity_name(name.map(|n| StrBytes::from_string(n.to_string())))
                })
                .collect();
            let values = values
                .into_iter()
                .map(|(key, value)| {
                    ValueData::default()
                        .with_key(StrBytes::from_static_str(key.as_str()))
                        .with_value(value)
                })
                .collect();
            EntryData::default().with_entity(entity).with_values(values)
        })
        .collect();
    DescribeClientQuotasResponse::default().with_entries(Some(entries))
}

fn describe_error(code: ResponseError, message: String) -> DescribeClientQuotasResponse {
    DescribeClientQuotasResponse::default()
        .with_error_code(code.code())
        .with_error_message(Some(StrBytes::from_string(message)))
        .with_entries(None)
}

/// The filter of a request. Errors: `Invalid` for an unknown match type or an exact match
/// without a name (entity types are checked by the quota service).
fn filter(request: DescribeClientQuotasRequest) -> Result<QuotaFilter, AuthError> {
    let components = request
        .components
        .into_iter()
        .map(component)
        .collect::<Result<_, _>>()?;
    Ok(QuotaFilter {
        components,
        strict: request.strict,
    })
}

fn component(c: ComponentData) -> Result<(String, QuotaMatch), AuthError> {
    let how = match (c.match_type, c._match) {
        (0, Some(name)) => QuotaMatch::Exact(name.to_string()),
        (0, None) => {
            return Err(AuthError::Invalid(
                "match type 0 (exact) needs a name to match".into(),
            ))
        }
        (1, _) => QuotaMatch::Default,
        (2, _) => QuotaMatch::Any,
        (other, _) => {
            return Err(AuthError::Invalid(format!(
                "unknown match type {other} (0 exact, 1 default, 2 any)"
            )))
        }
    };
    Ok((c.entity_type.to_string(), how))
}

pub fn alter(
    ctx: &Context,
    session: &Session,
    request: AlterClientQuotasRequest,
) -> AlterClientQuotasResponse {
    let security = &ctx.config.security;
    let op = Operation::AlterConfigs;
    let allowed = security
        .authorizer
        .authorize(session, op, ResourceType::Cluster, CLUSTER_NAME);
    // Each entry: its wire entity (echoed back) and its parsed alteration, or why not.
    let mut parsed = Vec::with_capacity(request.entries.len());
    for entry in request.entries {
        let wire: Vec<AlterEntity> = entry
            .entity
            .iter()
            .map(|e| {
                AlterEntity::default()
                    .with_entity_type(e.entity_type.clone())
                    .with_entity_name(e.entity_name.clone())
            })
            .collect();
        let alteration = if allowed {
            QuotaEntity::from_parts(
                entry
                    .entity
                    .iter()
                    .map(|e| (e.entity_type.as_str(), e.entity_name.as_deref())),
            )
            .map(|entity| QuotaAlteration {
                entity,
                ops: entry
                    .ops
                    .iter()
                    .map(|o| (o.key.to_string(), (!o.remove).then_some(o.value)))
                    .collect(),
            })
            .map_err(|e| quota_error(&e))
        } else {
            Err((
                ResponseError::ClusterAuthorizationFailed,
                DENIED.to_string(),
            ))
        };
        parsed.push((wire, alteration));
    }
    let valid: Vec<QuotaAlteration> = parsed
        .iter()
        .filter_map(|(_, a)| a.as_ref().ok().cloned())
        .collect();
    let mut results = security
        .quotas
        .alter(&valid, request.validate_only)
        .into_iter();
    let entries = parsed
        .into_iter()
        .map(|(wire, alteration)| {
            let outcome = match alteration {
                Ok(_) => results
                    .next()
                    .unwrap_or(Ok(()))
                    .map_err(|e| quota_error(&e)),
                Err(e) => Err(e),
            };
            let entry = AlterEntry::default().with_entity(wire);
            match outcome {
                Ok(()) => entry,
                Err((code, message)) => entry
                    .with_error_code(code.code())
                    .with_error_message(Some(StrBytes::from_string(message))),
            }
        })
        .collect();
    AlterClientQuotasResponse::default().with_entries(entries)
}
