//! Quota service tests: Kafka's precedence at all eight levels, who shares a measured rate,
//! alter/describe semantics and persistence through the store.

use std::sync::Arc;
use std::time::Duration;

use super::*;

fn quotas() -> (Arc<Store>, Quotas) {
    let store = Arc::new(Store::in_memory());
    (Arc::clone(&store), Quotas::new(store))
}

fn name(n: &str) -> Option<EntityName> {
    Some(EntityName::Name(n.to_string()))
}

fn entity(user: Option<EntityName>, client_id: Option<EntityName>) -> QuotaEntity {
    QuotaEntity { user, client_id }
}

fn set(q: &Quotas, e: QuotaEntity, key: &str, value: Option<f64>) -> Result<(), AuthError> {
    let alteration = QuotaAlteration {
        entity: e,
        ops: vec![(key.to_string(), value)],
    };
    q.alter(&[alteration], false).remove(0)
}

/// A delay computed at "now" of a 10 % overshoot: 1 s, less a few ms if the clock moved.
fn about_one_second(d: Duration) {
    assert!(
        (Duration::from_millis(990)..=Duration::from_secs(1)).contains(&d),
        "{d:?}"
    );
}

const D: Option<EntityName> = Some(EntityName::Default);

/// The eight levels, most specific first, for user alice and client id app.
fn levels() -> [QuotaEntity; 8] {
    [
        entity(name("alice"), name("app")),
        entity(name("alice"), D),
        entity(name("alice"), None),
        entity(D, name("app")),
        entity(D, D),
        entity(D, None),
        entity(None, name("app")),
        entity(None, D),
    ]
}

#[test]
fn precedence_follows_kafkas_eight_levels() {
    let (_, q) = quotas();
    // Decoys that must never apply to (alice, app).
    set(
        &q,
        entity(name("bob"), name("app")),
        "producer_byte_rate",
        Some(99.0),
    )
    .unwrap();
    set(
        &q,
        entity(None, name("other")),
        "producer_byte_rate",
        Some(98.0),
    )
    .unwrap();
    for (i, e) in levels().into_iter().enumerate() {
        set(&q, e, "producer_byte_rate", Some((i + 1) as f64)).unwrap();
    }
    // Remove the most specific level one at a time: the next one takes over.
    for (i, e) in levels().into_iter().enumerate() {
        let (value, from) = q
            .effective(QuotaKey::ProducerByteRate, "alice", "app")
            .unwrap();
        assert_eq!((value, &from), ((i + 1) as f64, &e), "level {}", i + 1);
        // Another key set on a more specific entity does not hide this one.
        assert!(q
            .effective(QuotaKey::ConsumerByteRate, "alice", "app")
            .is_none());
        set(&q, e, "producer_byte_rate", None).unwrap();
    }
    assert!(q
        .effective(QuotaKey::ProducerByteRate, "alice", "app")
        .is_none());
}

#[test]
fn a_user_quota_is_shared_by_all_its_client_ids() {
    let (_, q) = quotas();
    let alice = Principal::user("alice");
    set(
        &q,
        entity(name("alice"), None),
        "producer_byte_rate",
        Some(1000.0),
    )
    .unwrap();
    // 10 s of quota at once is allowed (Kafka's first-window rule), from two client ids.
    assert_eq!(q.record_produce(&alice, "a", 5000), Duration::ZERO);
    assert_eq!(q.record_produce(&alice, "b", 5000), Duration::ZERO);
    // 1000 more bytes: 10 % over the bound, delayed 10 % of 10 s, whichever client sends.
    about_one_second(q.record_produce(&alice, "c", 1000));
    about_one_second(q.delay(QuotaKey::ProducerByteRate, &alice, "a"));
    // Other users are not limited at all.
    assert_eq!(
        q.record_produce(&Principal::user("bob"), "a", 1 << 30),
        Duration::ZERO
    );
}

#[test]
fn a_default_client_id_quota_is_measured_per_client_id() {
    let (_, q) = quotas();
    let anon = Principal::anonymous();
    set(&q, entity(None, D), "producer_byte_rate", Some(1000.0)).unwrap();
    about_one_second(q.record_produce(&anon, "a", 11_000));
    // Client id b has its own rate under the same default.
    assert_eq!(q.record_produce(&anon, "b", 5000), Duration::ZERO);
}

#[test]
fn a_throttled_fetch_is_not_charged() {
    let (_, q) = quotas();
    let anon = Principal::anonymous();
    set(
        &q,
        entity(None, name("c")),
        "consumer_byte_rate",
        Some(1000.0),
    )
    .unwrap();
    assert_eq!(q.record_fetch(&anon, "c", 10_000), Duration::ZERO);
    assert!(q.record_fetch(&anon, "c", 5000) > Duration::ZERO);
    // The 5000 bytes were taken back: the rate is at the bound, not over it.
    assert_eq!(
        q.delay(QuotaKey::ConsumerByteRate, &anon, "c"),
        Duration::ZERO
    );
    // An HTTP read already delivered stays charged.
    assert!(q.record_consumed(&anon, "c", 5000) > Duration::ZERO);
    assert!(q.delay(QuotaKey::ConsumerByteRate, &anon, "c") > Duration::ZERO);
}

#[test]
fn request_time_delays_are_capped_at_one_window() {
    let (_, q) = quotas();
    let anon = Principal::anonymous();
    set(&q, entity(D, None), "request_percentage", Some(10.0)).unwrap();
    // 10 % of one handler over 10 s is 1 s of handler time; 5 s is far over.
    let delay = q.record_request_time(&anon, "x", Duration::from_secs(5));
    assert_eq!(delay, Duration::from_secs(1));
}

#[test]
fn alter_validates_keys_and_values_per_entry() {
    let (_, q) = quotas();
    let e = entity(name("u"), None);
    let bad = [
        ("nonsense", Some(1.0), "unknown quota key"),
        ("producer_byte_rate", Some(0.0), "positive whole number"),
        ("producer_byte_rate", Some(1.5), "positive whole number"),
        ("request_percentage", Some(f64::NAN), "positive number"),
    ];
    for (key, value, expect) in bad {
        let err = set(&q, e.clone(), key, value).unwrap_err();
        assert!(err.to_string().contains(expect), "{key}: {err}");
    }
    let twice = QuotaAlteration {
        entity: e.clone(),
        ops: vec![
            ("producer_byte_rate".into(), Some(1.0)),
            ("producer_byte_rate".into(), None),
        ],
    };
    let good = QuotaAlteration {
        entity: entity(None, name("c")),
        ops: vec![("request_percentage".into(), Some(12.5))],
    };
    let results = q.alter(&[twice, good.clone()], false);
    assert!(results[0].is_err() && results[1].is_ok(), "{results:?}");
    // validate_only changes nothing.
    let other = QuotaAlteration {
        entity: entity(None, name("d")),
        ops: vec![("producer_byte_rate".into(), Some(10.0))],
    };
    assert!(q.alter(&[other], true)[0].is_ok());
    let all = q.describe(&QuotaFilter::default()).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].0, good.entity);
}

#[test]
fn entities_parse_from_wire_parts() {
    let e = QuotaEntity::from_parts([("user", Some("u")), ("client-id", None)]).unwrap();
    assert_eq!(e, entity(name("u"), D));
    assert_eq!(e.to_string(), "user=u,client-id=<default>");
    for parts in [
        vec![],
        vec![("user", Some("a")), ("user", Some("b"))],
        vec![("ip", Some("127.0.0.1"))],
        vec![("group", Some("g"))],
    ] {
        assert!(QuotaEntity::from_parts(parts.clone()).is_err(), "{parts:?}");
    }
}

fn sorted(mut v: Vec<QuotaEntity>) -> Vec<QuotaEntity> {
    v.sort();
    v
}

#[test]
fn describe_filters_like_kafka() {
    let (_, q) = quotas();
    let all = [
        entity(name("alice"), name("app")),
        entity(name("alice"), D),
        entity(name("alice"), None),
        entity(D, None),
        entity(None, name("app")),
        entity(None, D),
    ];
    for e in &all {
        set(&q, e.clone(), "producer_byte_rate", Some(1.0)).unwrap();
    }
    let find = |components: Vec<(&str, QuotaMatch)>, strict| {
        let filter = QuotaFilter {
            components: components
                .into_iter()
                .map(|(k, m)| (k.to_string(), m))
                .collect(),
            strict,
        };
        let found: Vec<QuotaEntity> = q
            .describe(&filter)
            .unwrap()
            .into_iter()
            .map(|(e, _)| e)
            .collect();
        found
    };
    let exact = |n: &str| QuotaMatch::Exact(n.to_string());
    assert_eq!(find(vec![], false).len(), all.len());
    // Non-strict: alice's entities, whatever their client id.
    assert_eq!(
        find(vec![(ENTITY_USER, exact("alice"))], false),
        sorted(all[..3].to_vec())
    );
    // Strict: only the entity with no client-id.
    assert_eq!(
        find(vec![(ENTITY_USER, exact("alice"))], true),
        vec![all[2].clone()]
    );
    assert_eq!(
        find(vec![(ENTITY_USER, QuotaMatch::Default)], false),
        vec![all[3].clone()]
    );
    assert_eq!(
        find(vec![(ENTITY_CLIENT_ID, QuotaMatch::Any)], true),
        sorted(vec![all[4].clone(), all[5].clone()])
    );
    assert_eq!(
        find(
            vec![
                (ENTITY_USER, QuotaMatch::Any),
                (ENTITY_CLIENT_ID, QuotaMatch::Default)
            ],
            true
        ),
        vec![all[1].clone()]
    );
    let dup = QuotaFilter {
        components: vec![
            (ENTITY_USER.into(), QuotaMatch::Any),
            (ENTITY_USER.into(), QuotaMatch::Default),
        ],
        strict: false,
    };
    assert!(q.describe(&dup).is_err());
}

#[test]
fn quotas_are_reloaded_from_the_store() {
    let (store, q) = quotas();
    set(
        &q,
        entity(name("alice"), D),
        "producer_byte_rate",
        Some(1048576.0),
    )
    .unwrap();
    set(&q, entity(None, name("x")), "consumer_byte_rate", Some(7.0)).unwrap();
    set(&q, entity(None, name("x")), "consumer_byte_rate", None).unwrap();
    let reloaded = Quotas::new(store);
    let all = reloaded.describe(&QuotaFilter::default()).unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].0, entity(name("alice"), D));
    assert_eq!(all[0].1.get(&QuotaKey::ProducerByteRate), Some(&1048576.0));
}
