//! The streaming JSON-to-Avro converter against the tree encoder: the same bytes for every
//! Avro type (logical types included), unions tagged and bare, defaults and fields in any
//! order, and the same errors naming the same field paths; and what only streaming does
//! (a field given twice, JSON that does not parse).

use serde_json::Value;

use crate::formats::Source;
use crate::payload::avro::AvroPayload;
use crate::payload::Unions;

const ALL: &str = r#"{"type":"record","name":"All","namespace":"t","fields":[
  {"name":"n","type":"null"},
  {"name":"b","type":"boolean"},
  {"name":"i","type":"int"},
  {"name":"l","type":"long"},
  {"name":"f","type":"float"},
  {"name":"d","type":"double"},
  {"name":"s","type":"string"},
  {"name":"raw","type":"bytes"},
  {"name":"fx","type":{"type":"fixed","name":"Two","size":2}},
  {"name":"e","type":{"type":"enum","name":"Kind","symbols":["A","B"]}},
  {"name":"arr","type":{"type":"array","items":"int"}},
  {"name":"m","type":{"type":"map","values":{"type":"array","items":"string"}}},
  {"name":"u","type":["null","string","long","Kind"]},
  {"name":"day","type":{"type":"int","logicalType":"date"}},
  {"name":"at","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"id","type":{"type":"string","logicalType":"uuid"}},
  {"name":"nested","type":{"type":"record","name":"In","fields":[
     {"name":"x","type":"int"},{"name":"two","type":"Two"}]}},
  {"name":"more","type":{"type":"array","items":"In"}},
  {"name":"opt","type":["null","In"],"default":null},
  {"name":"dflt","type":"string","default":"zz"},
  {"name":"udflt","type":["string","null"],"default":"first"}]}"#;

fn payload() -> AvroPayload {
    AvroPayload::new(Source {
        schema: ALL,
        deps: &[],
    })
    .expect("schema")
}

const FULL: &str = r#"{"n":null,"b":true,"i":-7,"l":12345678901,"f":1.5,"d":-0.25,
  "s":"héllo","raw":"\u0000\u00ff","fx":"ab","e":"B","arr":[1,300,-2],
  "m":{"k":["a","b"],"z":[]},"u":{"long":5},"day":19000,"at":1700000000000,
  "id":"00000000-0000-0000-0000-000000000001","nested":{"x":1,"two":"xy"},
  "more":[{"x":2,"two":"cd"},{"two":"ef","x":3}],"opt":{"t.In":{"x":4,"two":"gh"}},
  "dflt":"given","udflt":{"null":null}}"#;

/// Both converters on `json`: they must agree, bytes or error.
fn both(p: &AvroPayload, json: &str, unions: Unions) -> Result<Vec<u8>, String> {
    let tree = serde_json::from_str::<Value>(json)
        .map_err(|e| e.to_string())
        .and_then(|v| p.encode_with(&v, unions));
    let stream = p.encode_text(json, unions);
    assert_eq!(stream, tree, "streaming and tree differ on {json}");
    stream
}

fn with(field: &str, value: &str) -> String {
    let mut v: Value = serde_json::from_str(FULL).expect("json");
    v[field] = serde_json::from_str(value).expect("value");
    v.to_string()
}

fn without(field: &str) -> String {
    let mut v: Value = serde_json::from_str(FULL).expect("json");
    v.as_object_mut().expect("object").remove(field);
    v.to_string()
}

#[test]
fn every_type_converts_to_the_same_bytes() {
    let p = payload();
    let bytes = both(&p, FULL, Unions::Tagged).expect("converts");
    assert!(!bytes.is_empty());
    // Read back, it is the same datum.
    let again = p.to_tagged_json(&bytes).expect("decodes");
    let stream_again = p
        .encode_text(&again.to_string(), Unions::Tagged)
        .expect("again");
    assert_eq!(stream_again, bytes);
}

#[test]
fn unions_tagged_and_bare() {
    let p = payload();
    for u in [
        r#"null"#,
        r#"{"string":"x"}"#,
        r#"{"long":3}"#,
        r#"{"t.Kind":"A"}"#,
    ] {
        both(&p, &with("u", u), Unions::Tagged).expect(u);
    }
    // Bare values: the first branch they convert to (Strom's lenient form).
    for u in [r#""x""#, "3", r#"{"string":"x"}"#] {
        both(&p, &with("u", u), Unions::Either).expect(u);
    }
    assert_eq!(
        both(&p, &with("u", "3"), Unions::Tagged).expect_err("bare in tagged"),
        "field 'u': expected null or {\"<type>\": value} with a type of [null, string, long, t.Kind], got a number"
    );
    let e = both(&p, &with("u", "true"), Unions::Either).expect_err("no branch");
    assert!(
        e.starts_with("field 'u': a boolean matches no branch"),
        "{e}"
    );
}

#[test]
fn defaults_and_field_order() {
    let p = payload();
    let full = both(&p, FULL, Unions::Tagged).expect("full");
    for field in ["opt", "dflt", "udflt"] {
        both(&p, &without(field), Unions::Tagged).expect(field);
    }
    // Fields in reverse order: the same bytes.
    let v: serde_json::Map<String, Value> = serde_json::from_str(FULL).expect("json");
    let reversed: Vec<String> = v
        .iter()
        .rev()
        .map(|(k, v)| format!("{}:{v}", Value::String(k.clone())))
        .collect();
    let reversed = format!("{{{}}}", reversed.join(","));
    assert_eq!(
        p.encode_text(&reversed, Unions::Tagged).expect("reversed"),
        full
    );
    // Unknown fields are skipped, as the tree encoder does.
    let extra = FULL.replacen('{', r#"{"unknown":{"deep":[1,2]},"#, 1);
    assert_eq!(both(&p, &extra, Unions::Tagged).expect("extra"), full);
}

#[test]
fn errors_name_the_field_path() {
    let p = payload();
    let cases = [
        (
            with("i", "3000000000"),
            "field 'i': expected an int, got a number",
        ),
        (with("i", "1.5"), "field 'i': expected an int, got a number"),
        (with("s", "1"), "field 's': expected a string, got a number"),
        (with("b", "null"), "field 'b': expected a boolean, got null"),
        (
            with("arr", "[1,\"x\"]"),
            "field 'arr.1': expected an int, got a string",
        ),
        (
            with("m", r#"{"k":["a",2]}"#),
            "field 'm.k.1': expected a string, got a number",
        ),
        (
            with("e", r#""C""#),
            "field 'e': 'C' is not a symbol of the enum",
        ),
        (
            with("fx", r#""abc""#),
            "field 'fx': fixed of 2 bytes, got 3",
        ),
        (
            with("raw", r#""€""#),
            "field 'raw': character '€' is not a byte",
        ),
        (
            with("nested", r#"{"x":1}"#),
            "field 'nested.two': missing, and the field has no default",
        ),
        (
            with("more", r#"[{"x":1,"two":"ab"},{"x":"y","two":"ab"}]"#),
            "field 'more.1.x': expected an int, got a string",
        ),
        (
            with("nested", "[]"),
            "field 'nested': expected an object (record), got an array",
        ),
        (
            with("arr", "{}"),
            "field 'arr': expected an array, got an object",
        ),
        (
            with("m", "[]"),
            "field 'm': expected an object (map), got an array",
        ),
        (
            without("s"),
            "field 's': missing, and the field has no default",
        ),
        ("7".to_string(), "expected an object (record), got a number"),
    ];
    for (json, why) in cases {
        assert_eq!(
            both(&p, &json, Unions::Tagged).expect_err(why),
            why,
            "{json}"
        );
    }
}

#[test]
fn what_only_streaming_refuses() {
    let p = payload();
    let twice = FULL.replacen('{', r#"{"s":"a","#, 1);
    assert_eq!(
        p.encode_text(&twice, Unions::Tagged).expect_err("twice"),
        "field 's': given twice"
    );
    let e = p.encode_text("{\"n\":", Unions::Tagged).expect_err("cut");
    assert!(e.starts_with("not JSON"), "{e}");
    let e = p
        .encode_text(&format!("{FULL} 1"), Unions::Tagged)
        .expect_err("trailing");
    assert!(e.starts_with("not JSON"), "{e}");
}
