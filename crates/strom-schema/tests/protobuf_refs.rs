//! Protobuf schemas with references (an `import` resolved from another subject's version)
//! and Google's well-known imports, encoding and decoding payloads through them; an import
//! nothing resolves; and `normalize`, which stores the canonical form so that the same
//! schema written differently gets the same id.

use serde_json::json;
use strom_schema::{Level, MemoryBackend, NewSchema, Reference, Registry, SchemaError, SchemaType};

const MONEY: &str = r#"syntax = "proto3";
package shop;
message Money {
  int64 cents = 1;
  string currency = 2;
}
"#;

const ORDER: &str = r#"syntax = "proto3";
package shop;
import "money.proto";
import "google/protobuf/timestamp.proto";
message Order {
  int64 id = 1;
  Money total = 2;
  google.protobuf.Timestamp at = 3;
}
"#;

fn proto(text: &str, references: Vec<Reference>) -> NewSchema {
    NewSchema {
        schema: text.to_string(),
        schema_type: SchemaType::Protobuf,
        references,
        ..NewSchema::default()
    }
}

fn registry() -> Registry {
    Registry::open(Box::new(MemoryBackend::default()), Level::Backward).expect("open")
}

#[test]
fn an_import_resolves_through_a_reference_and_well_known_types_need_none() {
    let r = registry();
    r.register("money", proto(MONEY, vec![]), false)
        .expect("money");
    let reference = Reference {
        name: "money.proto".into(),
        subject: "money".into(),
        version: 1,
    };
    let id = r
        .register("orders-value", proto(ORDER, vec![reference]), false)
        .expect("order with an import");
    let order = json!({"id": "7", "total": {"cents": "250", "currency": "EUR"},
                       "at": "2026-12-01T10:00:00Z"});
    let framed = r
        .payload_decoder(id)
        .expect("decoder")
        .encode(&order)
        .expect("encode through the imported type");
    let back = r.decode_value(&framed).expect("prefixed").expect("decodes");
    assert_eq!((back.schema_id, back.value), (id, order));
}

#[test]
fn an_import_nothing_resolves_is_an_invalid_schema() {
    let r = registry();
    let e = r
        .register("orders-value", proto(ORDER, vec![]), false)
        .expect_err("money.proto is not referenced");
    assert!(
        matches!(&e, SchemaError::InvalidSchema(why) if why.contains("money.proto")),
        "{e:?}"
    );
}

#[test]
fn normalize_stores_the_canonical_form_and_keeps_the_id() {
    let r = registry();
    let spaced = r#"{ "type" : "record", "name" : "A",
        "fields" : [ { "name" : "x", "type" : "int" } ] }"#;
    let new = NewSchema {
        schema: spaced.to_string(),
        ..NewSchema::default()
    };
    let id = r
        .register("a-value", new.clone(), true)
        .expect("normalized");
    let stored = r.schema(id).expect("stored").schema.clone();
    assert!(
        !stored.contains(' ') && stored.contains(r#""name":"A""#),
        "{stored}"
    );
    // The same schema written differently is the same schema: same id, no new version.
    assert_eq!(r.register("a-value", new, false).expect("again"), id);
    assert_eq!(r.versions("a-value", false).expect("versions"), vec![1]);
}
