//! Cases mirroring Kafka's `StandardAuthorizerData` rules.

use super::*;

fn session(user: &str, ip: &str) -> Session {
    Session {
        principal: Principal::user(user),
        peer: format!("{ip}:1234").parse().expect("addr"),
        listener: Arc::from("TEST"),
    }
}

fn acl(name: &str, pattern: PatternType, who: &str, op: Operation, perm: Permission) -> AclBinding {
    AclBinding {
        resource_type: ResourceType::Topic,
        resource_name: name.into(),
        pattern_type: pattern,
        principal: who.into(),
        host: "*".into(),
        operation: op,
        permission: perm,
    }
}

fn authorizer(acls: &[AclBinding], no_acl_allows: bool) -> Authorizer {
    let a = Authorizer::new(
        AuthorizerConfig {
            enabled: true,
            super_users: vec![Principal::user("admin")],
            allow_everyone_if_no_acl_found: no_acl_allows,
        },
        Arc::new(Store::in_memory()),
    );
    assert!(a.create_acls(acls).iter().all(Result::is_ok));
    a
}

const T: ResourceType = ResourceType::Topic;

#[test]
fn literal_prefixed_and_wildcard_patterns_apply() {
    let a = authorizer(
        &[
            acl(
                "orders",
                PatternType::Literal,
                "User:alice",
                Operation::Read,
                Permission::Allow,
            ),
            acl(
                "pay-",
                PatternType::Prefixed,
                "User:alice",
                Operation::Write,
                Permission::Allow,
            ),
            acl(
                "*",
                PatternType::Literal,
                "User:bob",
                Operation::Read,
                Permission::Allow,
            ),
        ],
        false,
    );
    let alice = session("alice", "10.0.0.1");
    let bob = session("bob", "10.0.0.1");
    assert!(a.allowed(&alice, Operation::Read, T, "orders"));
    assert!(!a.allowed(&alice, Operation::Write, T, "orders"));
    assert!(a.allowed(&alice, Operation::Write, T, "pay-eu"));
    assert!(!a.allowed(&alice, Operation::Write, T, "pay"));
    assert!(a.allowed(&bob, Operation::Read, T, "anything"));
    assert!(!a.allowed(&bob, Operation::Read, ResourceType::Group, "anything"));
}

#[test]
fn deny_wins_and_implied_describe_is_for_allow_only() {
    let a = authorizer(
        &[
            acl(
                "t",
                PatternType::Literal,
                "User:*",
                Operation::All,
                Permission::Allow,
            ),
            acl(
                "t",
                PatternType::Literal,
                "User:eve",
                Operation::Read,
                Permission::Deny,
            ),
        ],
        false,
    );
    let eve = session("eve", "10.0.0.2");
    assert!(!a.allowed(&eve, Operation::Read, T, "t"));
    // A DENY for READ does not deny DESCRIBE.
    assert!(a.allowed(&eve, Operation::Describe, T, "t"));
    let b = authorizer(
        &[acl(
            "t",
            PatternType::Literal,
            "User:carol",
            Operation::Write,
            Permission::Allow,
        )],
        false,
    );
    let carol = session("carol", "10.0.0.3");
    assert!(b.allowed(&carol, Operation::Describe, T, "t"));
    assert!(!b.allowed(&carol, Operation::DescribeConfigs, T, "t"));
}

#[test]
fn hosts_super_users_and_the_no_acl_rule() {
    let mut only_local = acl(
        "t",
        PatternType::Literal,
        "User:dan",
        Operation::Read,
        Permission::Allow,
    );
    only_local.host = "127.0.0.1".into();
    let a = authorizer(&[only_local], false);
    assert!(a.allowed(&session("dan", "127.0.0.1"), Operation::Read, T, "t"));
    assert!(!a.allowed(&session("dan", "10.1.1.1"), Operation::Read, T, "t"));
    assert!(a.allowed(&session("admin", "10.1.1.1"), Operation::Delete, T, "t"));
    // No ACL on "other": denied by default, allowed with the development switch.
    assert!(!a.allowed(&session("dan", "127.0.0.1"), Operation::Read, T, "other"));
    let open = authorizer(&[], true);
    assert!(open.allowed(&session("dan", "127.0.0.1"), Operation::Read, T, "other"));
}

#[test]
fn delete_removes_only_matching_bindings() {
    let a = authorizer(
        &[
            acl(
                "t",
                PatternType::Literal,
                "User:a",
                Operation::Read,
                Permission::Allow,
            ),
            acl(
                "t",
                PatternType::Literal,
                "User:b",
                Operation::Read,
                Permission::Allow,
            ),
        ],
        false,
    );
    let removed = a
        .delete_acls(&[AclFilter {
            principal: Some("User:a".into()),
            ..AclFilter::default()
        }])
        .expect("delete");
    assert_eq!(removed[0].len(), 1);
    assert_eq!(a.describe_acls(&AclFilter::default()).len(), 1);
}

#[test]
fn allowed_on_any_needs_an_allow_no_deny_covers() {
    let write = |name: &str, pattern, perm| acl(name, pattern, "User:p", Operation::Write, perm);
    let p = session("p", "127.0.0.1");
    let a = authorizer(
        &[write("t", PatternType::Literal, Permission::Allow)],
        false,
    );
    assert!(a.allowed_on_any(&p, Operation::Write, T));
    assert!(!a.allowed_on_any(&session("q", "127.0.0.1"), Operation::Write, T));
    assert!(!a.allowed_on_any(&p, Operation::Read, T));
    let covered = authorizer(
        &[
            write("pay-eu", PatternType::Literal, Permission::Allow),
            write("pay-", PatternType::Prefixed, Permission::Deny),
        ],
        false,
    );
    assert!(!covered.allowed_on_any(&p, Operation::Write, T));
    let wildcard_deny = authorizer(
        &[
            write("x-", PatternType::Prefixed, Permission::Allow),
            write("*", PatternType::Literal, Permission::Deny),
        ],
        false,
    );
    assert!(!wildcard_deny.allowed_on_any(&p, Operation::Write, T));
    assert!(wildcard_deny.allowed_on_any(&session("admin", "10.0.0.1"), Operation::Write, T));
}

#[test]
fn the_security_state_topic_is_readable_by_super_users_only() {
    let open = authorizer(
        &[acl(
            "*",
            PatternType::Literal,
            "User:*",
            Operation::All,
            Permission::Allow,
        )],
        true,
    );
    let anyone = session("eve", "10.0.0.9");
    assert!(!open.allowed(&anyone, Operation::Read, T, SECRET_STATE_TOPIC));
    assert!(open.allowed(&anyone, Operation::Describe, T, SECRET_STATE_TOPIC));
    assert!(open.allowed(
        &session("admin", "10.0.0.9"),
        Operation::Read,
        T,
        SECRET_STATE_TOPIC
    ));
    let disabled = Authorizer::new(AuthorizerConfig::default(), Arc::new(Store::in_memory()));
    assert!(!disabled.allowed(&anyone, Operation::Read, T, SECRET_STATE_TOPIC));
    assert!(disabled.allowed(&anyone, Operation::Read, T, "orders"));
}
