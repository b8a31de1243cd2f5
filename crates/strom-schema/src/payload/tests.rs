//! Payload decoders through the registry: compiled per id, JSON Schema with a reference,
//! Protobuf message indexes, and the JSON rendering of a prefixed value.

use serde_json::json;

use crate::model::{NewSchema, Reference, SchemaType};
use crate::{Level, MemoryBackend, Registry};

fn registry() -> Registry {
    Registry::open(Box::<MemoryBackend>::default(), Level::Backward).expect("open")
}

fn schema(kind: SchemaType, text: &str, references: Vec<Reference>) -> NewSchema {
    NewSchema {
        schema: text.to_string(),
        schema_type: kind,
        references,
        ..NewSchema::default()
    }
}

fn prefixed(id: i32, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0];
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[test]
fn json_schema_payloads_validate_with_references() {
    let r = registry();
    let address =
        r#"{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}"#;
    r.register("addr", schema(SchemaType::Json, address, vec![]), false)
        .expect("dep");
    let person = r#"{"type":"object","properties":{"id":{"type":"integer"},
        "home":{"$ref":"address.json"}},"required":["id"]}"#;
    let refs = vec![Reference {
        name: "address.json".into(),
        subject: "addr".into(),
        version: 1,
    }];
    let id = r
        .register("p-value", schema(SchemaType::Json, person, refs), false)
        .expect("register");
    let d = r.payload_decoder(id).expect("decoder");
    d.check(br#"{"id":1,"home":{"city":"Oslo"}}"#)
        .expect("valid");
    let err = d.check(br#"{"id":"one"}"#).unwrap_err();
    assert!(err.contains("/id"), "{err}");
    let err = d.check(br#"{"id":1,"home":{}}"#).unwrap_err();
    assert!(err.contains("city"), "{err}");
    assert!(d.check(b"{not json").unwrap_err().contains("not JSON"));
    // Compiled once: the same decoder comes back.
    assert!(std::sync::Arc::ptr_eq(
        &d,
        &r.payload_decoder(id).expect("again")
    ));
}

const ORDER: &str = r#"syntax = "proto3";
package t;
message Other { string x = 1; }
message Order {
  int64 id = 1;
  string item = 2;
  message Line { int32 qty = 1; }
}
"#;

#[test]
fn protobuf_payloads_follow_the_message_indexes() {
    let r = registry();
    let id = r
        .register(
            "o-value",
            schema(SchemaType::Protobuf, ORDER, vec![]),
            false,
        )
        .expect("register");
    let d = r.payload_decoder(id).expect("decoder");
    // Indexes [1] (Order): count 1 (zigzag 2), index 1 (zigzag 2); then id=7, item="ab".
    let order = [2, 2, 0x08, 7, 0x12, 2, b'a', b'b'];
    d.check(&order).expect("valid");
    assert_eq!(
        d.to_json(&order).expect("json"),
        json!({"id": "7", "item": "ab"})
    );
    // A single 0 byte: the first message (Other), x = "ab".
    d.check(&[0, 0x0a, 2, b'a', b'b']).expect("first message");
    // Nested [1, 0]: Order.Line, qty = 3.
    d.check(&[4, 2, 0, 0x08, 3]).expect("nested");
    // A length past the end, an unknown message index, a wrong wire type.
    assert!(d.check(&[2, 2, 0x12, 50, b'a']).is_err());
    assert!(d
        .check(&[2, 8, 0x08, 1])
        .unwrap_err()
        .contains("names no message"));
    assert!(
        d.check(&[2, 2, 0x0d, 1, 2, 3, 4]).is_err(),
        "fixed32 for an int64 field"
    );
}

#[test]
fn decode_value_renders_avro_and_names_the_id() {
    let r = registry();
    let text = r#"{"type":"record","name":"U","fields":[{"name":"n","type":"string"}]}"#;
    let id = r
        .register("u-value", schema(SchemaType::Avro, text, vec![]), false)
        .expect("register");
    let got = r
        .decode_value(&prefixed(id, &[4, b'h', b'i']))
        .expect("prefixed")
        .expect("decodes");
    assert_eq!((got.schema_id, got.value), (id, json!({"n": "hi"})));
    let bad = r.decode_value(&prefixed(id, &[9])).expect("prefixed");
    assert!(bad.unwrap_err().starts_with(&format!("schema {id}:")));
    assert!(r.decode_value(b"{\"plain\":1}").is_none());
    assert!(r.decode_value(&prefixed(999, &[0])).is_none(), "unknown id");
}

#[test]
fn encode_frames_json_for_each_format_and_decodes_back() {
    let r = registry();
    let proto =
        "syntax = \"proto3\";\npackage t;\nmessage Order { int64 id = 1; string item = 2; }\n";
    let pb = r
        .register(
            "o-value",
            schema(SchemaType::Protobuf, proto, vec![]),
            false,
        )
        .expect("register");
    let d = r.payload_decoder(pb).expect("decoder");
    let framed = d
        .encode(&json!({"id": "5", "item": "pen"}))
        .expect("encode");
    // Prefix, then the message index list `0`, then the message.
    assert_eq!(&framed[..6], &prefixed(pb, &[0])[..]);
    let back = r.decode_value(&framed).expect("prefixed").expect("decodes");
    assert_eq!(back.value, json!({"id": "5", "item": "pen"}));
    let err = d.encode(&json!({"nope": 1})).unwrap_err();
    assert!(err.contains("t.Order"), "{err}");

    let js = r#"{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}"#;
    let js = r
        .register("j-value", schema(SchemaType::Json, js, vec![]), false)
        .expect("register");
    let d = r.payload_decoder(js).expect("decoder");
    assert_eq!(
        d.encode(&json!({"id": 1})).expect("valid"),
        prefixed(js, br#"{"id":1}"#)
    );
    assert!(d.encode(&json!({"id": "one"})).is_err());
}

#[test]
fn tagged_decoding_shows_avro_unions_as_the_rest_proxy_does() {
    let r = registry();
    let avro = r#"{"type":"record","name":"R","fields":[{"name":"n","type":["null","long"]}]}"#;
    let id = r
        .register("a-value", schema(SchemaType::Avro, avro, vec![]), false)
        .expect("register");
    let d = r.payload_decoder(id).expect("decoder");
    let framed = d.encode(&json!({"n": {"long": 7}})).expect("encode");
    let tagged = r
        .decode_value_tagged(&framed)
        .expect("prefixed")
        .expect("ok");
    assert_eq!(tagged.value, json!({"n": {"long": 7}}));
    let plain = r.decode_value(&framed).expect("prefixed").expect("ok");
    assert_eq!(plain.value, json!({"n": 7}));
}
