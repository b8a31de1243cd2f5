//! DescribeAcls (29), CreateAcls (30) and DeleteAcls (31), v1–3, over the one authorizer.
//! Describe needs Describe on the cluster, create and delete Alter on the cluster
//! (CLUSTER_AUTHORIZATION_FAILED); without an authorizer every answer is SECURITY_DISABLED,
//! as Kafka answers without `authorizer.class.name`. A binding or filter with an unknown or
//! filter-only code is refused on its own with INVALID_REQUEST and a message; the others in
//! the request still apply.

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_request::DeleteAclsFilter;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strom_auth::{
    AclBinding, AclFilter, AuthError, Operation, PatternType, Permission, ResourceType,
};

use super::auth::{denied_message, Access};
use super::common::str_bytes;
use crate::errors::acl_error;

/// Kafka's message when no authorizer is configured.
const NO_AUTHORIZER: &str = "No Authorizer is configured on the broker";

/// The fields a DescribeAcls request and a DeleteAcls filter share, as wire codes.
struct WireFilter<'a> {
    resource_type: i8,
    name: &'a Option<StrBytes>,
    pattern_type: i8,
    principal: &'a Option<StrBytes>,
    host: &'a Option<StrBytes>,
    operation: i8,
    permission: i8,
}

fn code<T>(kind: &str, code: i8, from: fn(i8) -> Option<T>) -> Result<T, String> {
    from(code).ok_or_else(|| format!("unknown {kind} code {code}"))
}

fn to_filter(f: WireFilter<'_>) -> Result<AclFilter, String> {
    let text = |s: &Option<StrBytes>| s.as_ref().map(|s| s.to_string());
    Ok(AclFilter {
        resource_type: Some(code(
            "resource type",
            f.resource_type,
            ResourceType::from_code,
        )?),
        resource_name: text(f.name),
        pattern_type: Some(code(
            "pattern type",
            f.pattern_type,
            PatternType::from_code,
        )?),
        principal: text(f.principal),
        host: text(f.host),
        operation: Some(code("operation", f.operation, Operation::from_code)?),
        permission: Some(code(
            "permission type",
            f.permission,
            Permission::from_code,
        )?),
    })
}

fn to_binding(c: &AclCreation) -> Result<AclBinding, String> {
    let binding = AclBinding {
        resource_type: code("resource type", c.resource_type, ResourceType::from_code)?,
        resource_name: c.resource_name.to_string(),
        pattern_type: code(
            "pattern type",
            c.resource_pattern_type,
            PatternType::from_code,
        )?,
        principal: c.principal.to_string(),
        host: c.host.to_string(),
        operation: code("operation", c.operation, Operation::from_code)?,
        permission: code("permission type", c.permission_type, Permission::from_code)?,
    };
    binding.validate()?;
    Ok(binding)
}

/// The refusal every item of a request gets, if any: no authorizer, or not allowed.
fn refusal(access: &Access, operation: Operation) -> Option<(ResponseError, Option<StrBytes>)> {
    if !access.enabled() {
        Some((
            ResponseError::SecurityDisabled,
            Some(str_bytes(NO_AUTHORIZER)),
        ))
    } else if !access.cluster(operation) {
        Some((ResponseError::ClusterAuthorizationFailed, denied_message()))
    } else {
        None
    }
}

pub fn describe(access: &Access, _version: i16, r: DescribeAclsRequest) -> DescribeAclsResponse {
    let response = DescribeAclsResponse::default();
    if let Some((code, message)) = refusal(access, Operation::Describe) {
        return response
            .with_error_code(code.code())
            .with_error_message(message);
    }
    let filter = match to_filter(WireFilter {
        resource_type: r.resource_type_filter,
        name: &r.resource_name_filter,
        pattern_type: r.pattern_type_filter,
        principal: &r.principal_filter,
        host: &r.host_filter,
        operation: r.operation,
        permission: r.permission_type,
    }) {
        Ok(filter) => filter,
        Err(message) => {
            return response
                .with_error_code(ResponseError::InvalidRequest.code())
                .with_error_message(Some(str_bytes(&message)))
        }
    };
    // Bindings come sorted by resource first, so each resource's ACLs are adjacent.
    let mut resources: Vec<DescribeAclsResource> = Vec::new();
    for b in access.security().authorizer.describe_acls(&filter) {
        let acl = AclDescription::default()
            .with_principal(str_bytes(&b.principal))
            .with_host(str_bytes(&b.host))
            .with_operation(b.operation.code())
            .with_permission_type(b.permission.code());
        match resources.last_mut() {
            Some(last)
                if last.resource_type == b.resource_type.code()
                    && last.resource_name.as_str() == b.resource_name
                    && last.pattern_type == b.pattern_type.code() =>
            {
                last.acls.push(acl)
            }
            _ => resources.push(
                DescribeAclsResource::default()
                    .with_resource_type(b.resource_type.code())
                    .with_resource_name(str_bytes(&b.resource_name))
                    .with_pattern_type(b.pattern_type.code())
                    .with_acls(vec![acl]),
            ),
        }
    }
    response.with_resources(resources)
}

/// Blocking: stores the valid bindings in one durable write.
pub fn create(access: &Access, _version: i16, r: CreateAclsRequest) -> CreateAclsResponse {
    let result = |code: ResponseError, message: Option<StrBytes>| {
        AclCreationResult::default()
            .with_error_code(code.code())
            .with_error_message(message)
    };
    if let Some((code, message)) = refusal(access, Operation::Alter) {
        let results = r.creations.iter().map(|_| result(code, message.clone()));
        return CreateAclsResponse::default().with_results(results.collect());
    }
    let parsed: Vec<Result<AclBinding, String>> = r.creations.iter().map(to_binding).collect();
    let valid: Vec<AclBinding> = parsed.iter().filter_map(|p| p.clone().ok()).collect();
    let mut stored = access.security().authorizer.create_acls(&valid).into_iter();
    let results = parsed
        .into_iter()
        .map(|p| match p {
            Err(message) => result(ResponseError::InvalidRequest, Some(str_bytes(&message))),
            Ok(binding) => match stored.next() {
                Some(Ok(())) => {
                    let s = access.session();
                    tracing::info!(principal = %s.principal, peer = %s.peer, listener = %s.listener, acl = %binding, "ACL created");
                    AclCreationResult::default()
                }
                Some(Err(err)) => failed(&err, result),
                None => result(ResponseError::UnknownServerError, None),
            },
        })
        .collect();
    CreateAclsResponse::default().with_results(results)
}

fn failed(
    err: &AuthError,
    result: impl Fn(ResponseError, Option<StrBytes>) -> AclCreationResult,
) -> AclCreationResult {
    let (code, message) = acl_error(err);
    result(code, Some(str_bytes(&message)))
}

/// Blocking: removes every ACL matching each valid filter in one durable write.
pub fn delete(access: &Access, _version: i16, r: DeleteAclsRequest) -> DeleteAclsResponse {
    let result = |code: ResponseError, message: Option<StrBytes>| {
        DeleteAclsFilterResult::default()
            .with_error_code(code.code())
            .with_error_message(message)
    };
    if let Some((code, message)) = refusal(access, Operation::Alter) {
        let results = r.filters.iter().map(|_| result(code, message.clone()));
        return DeleteAclsResponse::default().with_filter_results(results.collect());
    }
    let parsed: Vec<Result<AclFilter, String>> = r.filters.iter().map(wire_filter).collect();
    let valid: Vec<AclFilter> = parsed.iter().filter_map(|p| p.clone().ok()).collect();
    let removed = access.security().authorizer.delete_acls(&valid);
    let mut removed = match removed {
        Ok(removed) => removed.into_iter(),
        Err(err) => {
            let (code, message) = acl_error(&err);
            let results = parsed.iter().map(|p| match p {
                Err(reason) => result(ResponseError::InvalidRequest, Some(str_bytes(reason))),
                Ok(_) => result(code, Some(str_bytes(&message))),
            });
            return DeleteAclsResponse::default().with_filter_results(results.collect());
        }
    };
    let results = parsed
        .into_iter()
        .map(|p| match p {
            Err(reason) => result(ResponseError::InvalidRequest, Some(str_bytes(&reason))),
            Ok(_) => {
                let gone = removed.next().unwrap_or_default();
                for b in &gone {
                    let s = access.session();
                    tracing::info!(principal = %s.principal, peer = %s.peer, listener = %s.listener, acl = %b, "ACL deleted");
                }
                DeleteAclsFilterResult::default()
                    .with_matching_acls(gone.iter().map(matching).collect())
            }
        })
        .collect();
    DeleteAclsResponse::default().with_filter_results(results)
}

fn wire_filter(f: &DeleteAclsFilter) -> Result<AclFilter, String> {
    to_filter(WireFilter {
        resource_type: f.resource_type_filter,
        name: &f.resource_name_filter,
        pattern_type: f.pattern_type_filter,
        principal: &f.principal_filter,
        host: &f.host_filter,
        operation: f.operation,
        permission: f.permission_type,
    })
}

fn matching(b: &AclBinding) -> DeleteAclsMatchingAcl {
    DeleteAclsMatchingAcl::default()
        .with_resource_type(b.resource_type.code())
        .with_resource_name(str_bytes(&b.resource_name))
        .with_pattern_type(b.pattern_type.code())
        .with_principal(str_bytes(&b.principal))
        .with_host(str_bytes(&b.host))
        .with_operation(b.operation.code())
        .with_permission_type(b.permission.code())
}
