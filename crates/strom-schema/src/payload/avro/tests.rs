//! The Avro walker against data `apache-avro` encodes, and hand-made bad payloads.

use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use serde_json::json;

use super::AvroPayload;
use crate::formats::{Dep, Source};

const USER: &str = r#"{"type":"record","name":"User","namespace":"t","fields":[
  {"name":"name","type":"string"},
  {"name":"age","type":"int"},
  {"name":"tags","type":{"type":"array","items":"string"}},
  {"name":"attrs","type":{"type":"map","values":"long"}},
  {"name":"email","type":["null","string"]},
  {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
  {"name":"score","type":"double"},
  {"name":"raw","type":"bytes"},
  {"name":"next","type":["null","User"]}]}"#;

fn payload(schema: &str) -> AvroPayload {
    AvroPayload::new(Source { schema, deps: &[] }).expect("schema")
}

fn user(name: &str, next: Avro) -> Avro {
    Avro::Record(vec![
        ("name".into(), Avro::String(name.into())),
        ("age".into(), Avro::Int(42)),
        (
            "tags".into(),
            Avro::Array(vec![Avro::String("x".into()), Avro::String("y".into())]),
        ),
        (
            "attrs".into(),
            Avro::Map([("k".to_string(), Avro::Long(-7))].into_iter().collect()),
        ),
        (
            "email".into(),
            Avro::Union(1, Box::new(Avro::String("a@b".into()))),
        ),
        ("kind".into(), Avro::Enum(1, "B".into())),
        ("score".into(), Avro::Double(1.5)),
        ("raw".into(), Avro::Bytes(vec![0, 255])),
        ("next".into(), next),
    ])
}

fn encoded() -> Vec<u8> {
    let schema = Schema::parse_str(USER).expect("schema");
    let inner = user("inner", Avro::Union(0, Box::new(Avro::Null)));
    GenericDatumWriter::builder(&schema)
        .build()
        .expect("writer")
        .write_value_to_vec(user("outer", Avro::Union(1, Box::new(inner))))
        .expect("encode")
}

#[test]
fn data_apache_avro_wrote_checks_and_renders_as_json() {
    let p = payload(USER);
    let bytes = encoded();
    p.check(&bytes).expect("valid");
    let json = p.to_json(&bytes).expect("json");
    assert_eq!(json["name"], "outer");
    assert_eq!(json["tags"], json!(["x", "y"]));
    assert_eq!(json["attrs"], json!({"k": -7}));
    assert_eq!(json["email"], "a@b");
    assert_eq!(json["kind"], "B");
    assert_eq!(json["score"], 1.5);
    assert_eq!(json["raw"], "\u{0}\u{ff}");
    assert_eq!(json["next"]["name"], "inner");
    assert_eq!(json["next"]["next"], json!(null));
}

#[test]
fn truncated_or_trailing_bytes_are_refused() {
    let p = payload(USER);
    let bytes = encoded();
    for cut in [1, bytes.len() / 2, bytes.len() - 1] {
        assert!(p.check(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    let err = p.check(&longer).unwrap_err();
    assert!(err.contains("follow the Avro datum"), "{err}");
    assert!(p.check(b"").is_err());
}

#[test]
fn lengths_and_counts_beyond_the_payload_are_refused_without_allocating() {
    // A string claiming 2^62 bytes.
    let p = payload(r#""string""#);
    let err = p
        .check(&[0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
        .unwrap_err();
    assert!(err.contains("length"), "{err}");
    // An array of 2^40 nulls: items that take no bytes are bounded by the payload too.
    let p = payload(r#"{"type":"array","items":"null"}"#);
    let err = p
        .check(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40, 0])
        .unwrap_err();
    assert!(err.contains("exceeds the payload"), "{err}");
    // A few nulls are fine.
    p.check(&[6, 0]).expect("three nulls");
}

#[test]
fn bad_indexes_utf8_booleans_and_varints_are_refused() {
    let e = payload(r#"{"type":"enum","name":"E","symbols":["A"]}"#);
    assert!(e.check(&[2]).unwrap_err().contains("enum index 1"));
    let u = payload(r#"["null","int"]"#);
    assert!(u.check(&[4]).unwrap_err().contains("union branch 2"));
    let s = payload(r#""string""#);
    assert!(s.check(&[2, 0xff]).unwrap_err().contains("UTF-8"));
    let b = payload(r#""boolean""#);
    assert!(b.check(&[2]).is_err());
    let i = payload(r#""int""#);
    assert!(
        i.check(&[0xff, 0xff, 0xff, 0xff, 0x7f]).is_err(),
        "beyond i32"
    );
    let l = payload(r#""long""#);
    assert!(l.check(&[0xff; 11]).is_err());
}

#[test]
fn errors_name_the_field() {
    let p = payload(USER);
    let mut bytes = encoded();
    // The first field is the name: a length of 100 bytes.
    bytes[0] = 200;
    let err = p.check(&bytes).unwrap_err();
    assert!(err.starts_with("field 'name'"), "{err}");
}

#[test]
fn deep_recursion_is_refused() {
    let p = payload(r#"{"type":"record","name":"L","fields":[{"name":"n","type":["null","L"]}]}"#);
    // 100 levels of "branch 1" then a null.
    let mut bytes = vec![2u8; 100];
    bytes.push(0);
    let err = p.check(&bytes).unwrap_err();
    assert!(err.contains("nested deeper"), "{err}");
    let mut ok = vec![2u8; 50];
    ok.push(0);
    p.check(&ok).expect("fifty levels");
}

#[test]
fn named_references_resolve() {
    let dep = Dep {
        name: "t.Addr".into(),
        schema: r#"{"type":"record","name":"Addr","namespace":"t","fields":[{"name":"city","type":"string"}]}"#.into(),
    };
    let deps = [dep];
    let p = AvroPayload::new(Source {
        schema: r#"{"type":"record","name":"P","namespace":"t","fields":[{"name":"home","type":"Addr"}]}"#,
        deps: &deps,
    })
    .expect("schema");
    assert_eq!(
        p.to_json(&[4, b'o', b's']).expect("json"),
        json!({"home": {"city": "os"}})
    );
}
