//! JSON to Avro binary: the same bytes `apache-avro` writes, the tagged JSON rendering read
//! back, defaults, and the errors that name the field.

use apache_avro::types::Value as Avro;
use apache_avro::writer::datum::GenericDatumWriter;
use apache_avro::Schema;
use serde_json::json;

use crate::formats::Source;
use crate::payload::avro::AvroPayload;

const ORDER: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
  {"name":"id","type":"long"},
  {"name":"item","type":"string"},
  {"name":"note","type":["null","string"],"default":null},
  {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
  {"name":"tags","type":{"type":"array","items":"int"}},
  {"name":"attrs","type":{"type":"map","values":"double"}},
  {"name":"raw","type":"bytes"},
  {"name":"next","type":["null","Order"],"default":null},
  {"name":"qty","type":"int","default":1}]}"#;

fn payload() -> AvroPayload {
    AvroPayload::new(Source {
        schema: ORDER,
        deps: &[],
    })
    .expect("schema")
}

fn apache(note: Option<&str>) -> Vec<u8> {
    let schema = Schema::parse_str(ORDER).expect("schema");
    let note = match note {
        Some(n) => Avro::Union(1, Box::new(Avro::String(n.into()))),
        None => Avro::Union(0, Box::new(Avro::Null)),
    };
    let value = Avro::Record(vec![
        ("id".into(), Avro::Long(-3)),
        ("item".into(), Avro::String("pen".into())),
        ("note".into(), note),
        ("kind".into(), Avro::Enum(1, "B".into())),
        (
            "tags".into(),
            Avro::Array(vec![Avro::Int(1), Avro::Int(300)]),
        ),
        (
            "attrs".into(),
            Avro::Map([("w".to_string(), Avro::Double(0.5))].into_iter().collect()),
        ),
        ("raw".into(), Avro::Bytes(vec![0, 255])),
        ("next".into(), Avro::Union(0, Box::new(Avro::Null))),
        ("qty".into(), Avro::Int(1)),
    ]);
    GenericDatumWriter::builder(&schema)
        .build()
        .expect("writer")
        .write_value_to_vec(value)
        .expect("encode")
}

fn order_json(note: serde_json::Value) -> serde_json::Value {
    json!({"id": -3, "item": "pen", "note": note, "kind": "B", "tags": [1, 300],
           "attrs": {"w": 0.5}, "raw": "\u{0}\u{ff}"})
}

#[test]
fn json_converts_to_the_bytes_apache_avro_writes() {
    let p = payload();
    let tagged = order_json(json!({"string": "gift"}));
    assert_eq!(p.encode(&tagged).expect("encode"), apache(Some("gift")));
    assert_eq!(
        p.encode(&order_json(json!(null))).expect("encode"),
        apache(None)
    );
}

#[test]
fn tagged_rendering_reads_back_what_was_converted() {
    let p = payload();
    let bytes = p
        .encode(&order_json(json!({"string": "gift"})))
        .expect("encode");
    let back = p.to_tagged_json(&bytes).expect("decode");
    assert_eq!(back["note"], json!({"string": "gift"}));
    assert_eq!(back["next"], json!(null));
    assert_eq!(back["qty"], json!(1));
    assert_eq!(p.encode(&back).expect("again"), bytes);
    // The untagged rendering (feeds) shows the branch's value.
    assert_eq!(p.to_json(&bytes).expect("decode")["note"], json!("gift"));
}

#[test]
fn a_nested_named_record_is_tagged_with_its_full_name() {
    let p = payload();
    let mut outer = order_json(json!(null));
    outer["next"] = json!({"shop.Order": order_json(json!(null))});
    let bytes = p.encode(&outer).expect("encode");
    let back = p.to_tagged_json(&bytes).expect("decode");
    assert_eq!(back["next"]["shop.Order"]["item"], json!("pen"));
}

#[test]
fn conversion_errors_name_the_field() {
    let p = payload();
    let mut bad = order_json(json!(null));
    bad["tags"] = json!([1, "x"]);
    let e = p.encode(&bad).expect_err("string in int array");
    assert!(
        e.contains("field 'tags.1'") && e.contains("expected an int"),
        "{e}"
    );
    let e = p
        .encode(&order_json(json!("untagged")))
        .expect_err("untagged union");
    assert!(
        e.contains("field 'note'") && e.contains("\"<type>\""),
        "{e}"
    );
    let e = p.encode(&json!({"id": 1})).expect_err("missing field");
    assert!(e.contains("field 'item': missing"), "{e}");
    let mut bad = order_json(json!(null));
    bad["kind"] = json!("C");
    let e = p.encode(&bad).expect_err("unknown symbol");
    assert!(e.contains("'C' is not a symbol"), "{e}");
}

#[test]
fn untagged_unions_convert_as_strom_renders_them() {
    use crate::payload::avro::encode::Unions;
    let p = payload();
    let bare = order_json(json!("gift"));
    assert_eq!(
        p.encode_with(&bare, Unions::Either).expect("bare value"),
        apache(Some("gift"))
    );
    // What the feeds show (unions untagged) converts back to the same bytes.
    let shown = p.to_json(&apache(Some("gift"))).expect("json");
    assert_eq!(
        p.encode_with(&shown, Unions::Either).expect("round trip"),
        apache(Some("gift"))
    );
    let tagged = order_json(json!({"string": "gift"}));
    assert_eq!(
        p.encode_with(&tagged, Unions::Either).expect("tagged"),
        apache(Some("gift"))
    );
    let mut nested = order_json(json!(null));
    nested["next"] = order_json(json!(null));
    nested["next"]["id"] = json!("x");
    let e = p
        .encode_with(&nested, Unions::Either)
        .expect_err("no branch fits");
    assert!(
        e.contains("field 'next'")
            && e.contains("matches no branch of the union [null, shop.Order]"),
        "{e}"
    );
}
