//! KIP-554 DescribeUserScramCredentials (50) and AlterUserScramCredentials (51), with Kafka's
//! semantics (`ControllerApis`, `ScramControlManager`): the client sends SaltedPassword and
//! the server derives StoredKey/ServerKey; describe returns mechanisms and iterations, never
//! salts or keys. Describe needs Describe on the Cluster, alter needs Alter on the Cluster.
//! One result per user; a user whose alterations are not all valid gets the first error and
//! none of them applied.

use std::collections::{BTreeSet, HashSet};

use kafka_protocol::messages::alter_user_scram_credentials_response::AlterUserScramCredentialsResult;
use kafka_protocol::messages::describe_user_scram_credentials_response::{
    CredentialInfo, DescribeUserScramCredentialsResult,
};
use kafka_protocol::messages::{
    AlterUserScramCredentialsRequest, AlterUserScramCredentialsResponse,
    DescribeUserScramCredentialsRequest, DescribeUserScramCredentialsResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strom_auth::{
    Operation, ResourceType, ScramCredential, ScramMechanism, Session, CLUSTER_NAME,
    MAX_ITERATIONS, MIN_ITERATIONS,
};

use super::Context;
use crate::errors::auth_error;

type Failure = (ResponseError, String);

pub fn describe(
    ctx: &Context,
    session: &Session,
    request: DescribeUserScramCredentialsRequest,
) -> DescribeUserScramCredentialsResponse {
    let security = &ctx.config.security;
    let response = DescribeUserScramCredentialsResponse::default();
    if !security.authorizer.authorize(
        session,
        Operation::Describe,
        ResourceType::Cluster,
        CLUSTER_NAME,
    ) {
        return response.with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    let all = security.users.describe();
    let named: Vec<String> = request
        .users
        .unwrap_or_default()
        .into_iter()
        .map(|u| u.name.to_string())
        .collect();
    let wanted: Vec<String> = if named.is_empty() {
        all.keys().cloned().collect()
    } else {
        named.clone()
    };
    let mut seen = HashSet::new();
    let duplicates: HashSet<&String> = named.iter().filter(|u| !seen.insert(*u)).collect();
    let mut reported = HashSet::new();
    let mut results = Vec::new();
    for user in &wanted {
        if !reported.insert(user.clone()) {
            continue;
        }
        let result = DescribeUserScramCredentialsResult::default()
            .with_user(StrBytes::from_string(user.clone()));
        let result = if duplicates.contains(user) {
            fail(result, ResponseError::DuplicateResource, format!(
                "Cannot describe SCRAM credentials for the same user twice in a single request: {user}"
            ))
        } else if let Some(creds) = all.get(user) {
            result.with_credential_infos(
                creds
                    .iter()
                    .map(|(m, iterations)| {
                        CredentialInfo::default()
                            .with_mechanism(m.code())
                            .with_iterations(i32::try_from(*iterations).unwrap_or(i32::MAX))
                    })
                    .collect(),
            )
        } else {
            fail(
                result,
                ResponseError::ResourceNotFound,
                format!("Attempt to describe a user credential that does not exist: {user}"),
            )
        };
        results.push(result);
    }
    response.with_results(results)
}

fn fail(
    r: DescribeUserScramCredentialsResult,
    error: ResponseError,
    message: String,
) -> DescribeUserScramCredentialsResult {
    r.with_error_code(error.code())
        .with_error_message(Some(StrBytes::from_string(message)))
}

/// One requested change.
enum Change {
    Delete,
    Upsert {
        iterations: i32,
        salt: Vec<u8>,
        salted_password: Vec<u8>,
    },
}

/// Blocking (writes `__strom_security`).
pub fn alter(
    ctx: &Context,
    session: &Session,
    request: AlterUserScramCredentialsRequest,
) -> AlterUserScramCredentialsResponse {
    let authorized = ctx.config.security.authorizer.authorize(
        session,
        Operation::Alter,
        ResourceType::Cluster,
        CLUSTER_NAME,
    );
    let mut changes: Vec<(String, i8, Change)> = Vec::new();
    for d in request.deletions {
        changes.push((d.name.to_string(), d.mechanism, Change::Delete));
    }
    for u in request.upsertions {
        let change = Change::Upsert {
            iterations: u.iterations,
            salt: u.salt.to_vec(),
            salted_password: u.salted_password.to_vec(),
        };
        changes.push((u.name.to_string(), u.mechanism, change));
    }
    let mut users: Vec<String> = Vec::new();
    for (user, _, _) in &changes {
        if !users.contains(user) {
            users.push(user.clone());
        }
    }
    let results = users
        .into_iter()
        .map(|user| {
            let mine: Vec<&(String, i8, Change)> =
                changes.iter().filter(|(u, _, _)| *u == user).collect();
            let outcome = if authorized {
                alter_user(ctx, &user, &mine)
            } else {
                Err((ResponseError::ClusterAuthorizationFailed, String::new()))
            };
            let result =
                AlterUserScramCredentialsResult::default().with_user(StrBytes::from_string(user));
            match outcome {
                Ok(()) => result,
                Err((error, message)) => result.with_error_code(error.code()).with_error_message(
                    (!message.is_empty()).then(|| StrBytes::from_string(message)),
                ),
            }
        })
        .collect();
    AlterUserScramCredentialsResponse::default().with_results(results)
}

/// Validates all of one user's changes, then applies them.
fn alter_user(ctx: &Context, user: &str, changes: &[&(String, i8, Change)]) -> Result<(), Failure> {
    let users = &ctx.config.security.users;
    if user.is_empty() {
        return Err((
            ResponseError::UnacceptableCredential,
            "Username must not be empty".into(),
        ));
    }
    let mut pairs = BTreeSet::new();
    if !changes.iter().all(|(_, m, _)| pairs.insert(*m)) {
        return Err((
            ResponseError::DuplicateResource,
            "A user credential cannot be altered twice in the same request".into(),
        ));
    }
    let mut valid = Vec::new();
    for (_, code, change) in changes {
        let mechanism = ScramMechanism::from_code(*code).ok_or((
            ResponseError::UnsupportedSaslMechanism,
            "Unknown SCRAM mechanism".to_string(),
        ))?;
        validate(users, user, mechanism, change)?;
        valid.push((mechanism, change));
    }
    for (mechanism, change) in valid {
        let result = match change {
            Change::Delete => users.delete(user, mechanism),
            Change::Upsert {
                iterations,
                salt,
                salted_password,
            } => {
                let iterations = u32::try_from(*iterations).unwrap_or(0);
                let credential = ScramCredential::from_salted_password(
                    mechanism,
                    salted_password,
                    salt.clone(),
                    iterations,
                );
                users.upsert(user, mechanism, credential)
            }
        };
        result.map_err(|err| auth_error(&err))?;
    }
    Ok(())
}

fn validate(
    users: &strom_auth::UserStore,
    user: &str,
    mechanism: ScramMechanism,
    change: &Change,
) -> Result<(), Failure> {
    let unacceptable = |m: &str| Err((ResponseError::UnacceptableCredential, m.to_string()));
    match change {
        Change::Delete if users.credential(user, mechanism).is_none() => Err((
            ResponseError::ResourceNotFound,
            "Attempt to delete a user credential that does not exist".into(),
        )),
        Change::Delete => Ok(()),
        Change::Upsert { iterations, .. } if *iterations < MIN_ITERATIONS as i32 => {
            unacceptable("Too few iterations")
        }
        Change::Upsert { iterations, .. } if *iterations > MAX_ITERATIONS as i32 => {
            unacceptable("Too many iterations")
        }
        Change::Upsert {
            salt,
            salted_password,
            ..
        } if salt.is_empty() || salted_password.is_empty() => {
            unacceptable("Salt and salted password must not be empty")
        }
        Change::Upsert { .. } => Ok(()),
    }
}
