//! Authorization end to end inside one process: a real broker and `strom_kafka::run` with
//! the authorizer on, and clients connecting from different loopback addresses. Every client
//! is `User:ANONYMOUS` on a PLAINTEXT listener, so "allowed" and "denied" are told apart by
//! ACL host: [`ALLOWED_IP`] has ALL on every resource, [`PARTIAL_IP`] only some, and
//! [`DENIED_IP`] none (ACLs exist for every resource, so nothing falls back to
//! `allow_everyone_if_no_acl_found`). [`grants`] takes the principal too, so the same
//! matrix runs with authenticated principals once SASL listeners exist.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use strom_auth::{
    AclBinding, AuthorizerConfig, Operation, PatternType, Permission, Principal, ResourceType,
    Security, SecurityConfig,
};
use strom_broker::txn::{TxnConfig, TxnCoordinator};
use strom_broker::{Broker, GroupCoordinator};
use strom_kafka::KafkaConfig;
use tokio::sync::watch;

use crate::common;
pub use common::Client;

#[path = "authz/acl_api.rs"]
mod acl_api;
#[path = "authz/admin.rs"]
mod admin;
#[path = "authz/consumer_groups.rs"]
mod consumer_groups;
#[path = "authz/matrix.rs"]
mod matrix;
#[path = "authz/txn.rs"]
mod txn;

const ALLOWED_IP: &str = "127.0.0.1";
const PARTIAL_IP: &str = "127.0.0.3";
const DENIED_IP: &str = "127.0.0.2";
const ANONYMOUS: &str = "User:ANONYMOUS";

pub struct Server {
    port: u16,
    broker: Arc<Broker>,
    security: Arc<Security>,
    /// Kept alive here: the broker holds its transaction coordinator weakly.
    _transactions: Arc<TxnCoordinator>,
    _dir: tempfile::TempDir,
    _stop: watch::Sender<bool>,
}

fn acl(
    resource_type: ResourceType,
    name: &str,
    pattern_type: PatternType,
    (principal, host): (&str, &str),
    operation: Operation,
) -> AclBinding {
    AclBinding {
        resource_type,
        resource_name: name.into(),
        pattern_type,
        principal: principal.into(),
        host: host.into(),
        operation,
        permission: Permission::Allow,
    }
}

/// ALL on every resource for `who` (principal, host).
fn grants(who: (&str, &str)) -> Vec<AclBinding> {
    use ResourceType::*;
    [
        (Topic, "*"),
        (Group, "*"),
        (Cluster, "kafka-cluster"),
        (TransactionalId, "*"),
    ]
    .into_iter()
    .map(|(t, name)| acl(t, name, PatternType::Literal, who, Operation::All))
    .collect()
}

/// Groups (Read, Describe, Delete), Create/Describe on topics prefixed `p-`, and Write on
/// transactional id `ptx` only.
fn partial_grants(who: (&str, &str)) -> Vec<AclBinding> {
    use ResourceType::*;
    let mut acls: Vec<AclBinding> = [Operation::Read, Operation::Describe, Operation::Delete]
        .into_iter()
        .map(|op| acl(Group, "*", PatternType::Literal, who, op))
        .collect();
    acls.push(acl(
        Topic,
        "p-",
        PatternType::Prefixed,
        who,
        Operation::Create,
    ));
    acls.push(acl(
        Topic,
        "p-",
        PatternType::Prefixed,
        who,
        Operation::Describe,
    ));
    acls.push(acl(
        TransactionalId,
        "ptx",
        PatternType::Literal,
        who,
        Operation::Write,
    ));
    acls
}

/// A server with the authorizer on, the matrix's ACLs, topic `t` (one partition) and the
/// group and transaction coordinators.
pub async fn start(enabled: bool) -> Server {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = common::broker_config(dir.path());
    let security_config = SecurityConfig {
        authorizer: AuthorizerConfig {
            enabled,
            super_users: vec![Principal::user("admin")],
            allow_everyone_if_no_acl_found: false,
        },
        ..SecurityConfig::default()
    };
    let (broker, security) = tokio::task::spawn_blocking(move || {
        let broker = Broker::open(config).expect("broker opens");
        broker
            .create_topic("t", 1, &BTreeMap::new())
            .expect("topic");
        let security = Security::open(Arc::clone(&broker), security_config).expect("security");
        let mut acls = grants((ANONYMOUS, ALLOWED_IP));
        acls.extend(partial_grants((ANONYMOUS, PARTIAL_IP)));
        let stored = security.authorizer.create_acls(&acls);
        assert!(stored.iter().all(Result::is_ok), "{stored:?}");
        (broker, security)
    })
    .await
    .expect("open task");
    let groups = GroupCoordinator::start(Arc::clone(&broker), Default::default())
        .await
        .expect("group coordinator");
    let transactions = {
        let (broker, groups) = (Arc::clone(&broker), groups.clone());
        tokio::task::spawn_blocking(move || {
            TxnCoordinator::start(broker, groups, TxnConfig::default())
        })
        .await
        .expect("start task")
        .expect("transaction coordinator")
    };
    let with_security = Arc::clone(&security);
    let (port, stop) = common::serve(Arc::clone(&broker), Some(groups), move |port| KafkaConfig {
        security: with_security,
        ..common::kafka_config(port)
    })
    .await;
    Server {
        port,
        broker,
        security,
        _transactions: transactions,
        _dir: dir,
        _stop: stop,
    }
}

pub fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_owned())
}

pub fn topic(name: &str) -> TopicName {
    TopicName(s(name))
}

pub fn group(name: &str) -> GroupId {
    GroupId(s(name))
}
