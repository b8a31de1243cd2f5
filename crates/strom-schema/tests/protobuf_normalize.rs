//! `normalize=true` for Protobuf: files that differ only in layout, comments, the order of
//! imports or options, or in how they name types get one id and one stored canonical text;
//! a real change gets a new id. Table-driven: each case is registered under its own subject
//! with normalize and compared with the base.

use strom_schema::{Level, MemoryBackend, NewSchema, Registry, SchemaType};

const BASE: &str = r#"syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";
option java_package = "dev.strom.shop";
option go_package = "strom/shop";
message Order {
  string id = 1;
  google.protobuf.Timestamp at = 2;
  repeated Line lines = 3 [deprecated = true];
  map<string, int64> totals = 4;
  oneof payment { string card = 5; string iban = 6; }
  optional google.protobuf.Duration ttl = 7;
  Status status = 8;
  reserved 20 to 29, 40;
  reserved "old";
  message Line { string sku = 1; int32 qty = 2 [json_name = "quantity"]; }
  enum Status { NEW = 0; PAID = 1; }
}
message Refund { string order_id = 1; }
"#;

/// Same schema, written differently.
const SAME: &[(&str, &str)] = &[
    (
        "layout and comments",
        r#"// an order
syntax="proto3";   package   shop.v1 ;
import "google/protobuf/timestamp.proto"; import "google/protobuf/duration.proto";
option java_package="dev.strom.shop";option go_package="strom/shop";
/* the order */ message Order{string id=1;google.protobuf.Timestamp at=2;
repeated Line lines=3[deprecated=true];map<string,int64>totals=4;
oneof payment{string card=5;string iban=6;}optional google.protobuf.Duration ttl=7;
Status status=8;reserved 20 to 29,40;reserved "old";
message Line{string sku=1;int32 qty=2[json_name="quantity"];}
enum Status{NEW=0;PAID=1;}}
message Refund{string order_id=1;}"#,
    ),
    ("imports and options in another order", SWAPPED),
    ("fully qualified type names", QUALIFIED),
];

const SWAPPED: &str = r#"syntax = "proto3";
package shop.v1;
import "google/protobuf/duration.proto";
import "google/protobuf/timestamp.proto";
option go_package = "strom/shop";
option java_package = "dev.strom.shop";
message Order {
  string id = 1;
  google.protobuf.Timestamp at = 2;
  repeated Line lines = 3 [deprecated = true];
  map<string, int64> totals = 4;
  oneof payment { string card = 5; string iban = 6; }
  optional google.protobuf.Duration ttl = 7;
  Status status = 8;
  reserved 20 to 29, 40;
  reserved "old";
  message Line { string sku = 1; int32 qty = 2 [json_name = "quantity"]; }
  enum Status { NEW = 0; PAID = 1; }
}
message Refund { string order_id = 1; }
"#;

const QUALIFIED: &str = r#"syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";
option java_package = "dev.strom.shop";
option go_package = "strom/shop";
message Order {
  string id = 1;
  .google.protobuf.Timestamp at = 2;
  repeated .shop.v1.Order.Line lines = 3 [deprecated = true];
  map<string, int64> totals = 4;
  oneof payment { string card = 5; string iban = 6; }
  optional .google.protobuf.Duration ttl = 7;
  shop.v1.Order.Status status = 8;
  reserved 20 to 29, 40;
  reserved "old";
  message Line { string sku = 1; int32 qty = 2 [json_name = "quantity"]; }
  enum Status { NEW = 0; PAID = 1; }
}
message Refund { string order_id = 1; }
"#;

/// Real changes: `from` replaced by `to` in the base.
const CHANGED: &[(&str, &str, &str)] = &[
    ("a field's type", "string sku = 1;", "bytes sku = 1;"),
    (
        "a field's number",
        "string order_id = 1;",
        "string order_id = 2;",
    ),
    (
        "a field added",
        "string order_id = 1;",
        "string order_id = 1; int32 n = 2;",
    ),
    ("an option's value", "\"strom/shop\"", "\"strom/shop2\""),
    ("a field renamed", "string id = 1;", "string key = 1;"),
    ("a message renamed", "message Refund", "message Refund2"),
];

fn registry() -> Registry {
    Registry::open(Box::<MemoryBackend>::default(), Level::None).expect("open")
}

fn proto(text: &str) -> NewSchema {
    NewSchema {
        schema: text.to_string(),
        schema_type: SchemaType::Protobuf,
        ..NewSchema::default()
    }
}

#[test]
fn equivalent_files_share_one_id_and_one_canonical_text() {
    let r = registry();
    let base = r.register("base", proto(BASE), true).expect("base");
    let canonical = r.schema(base).expect("stored").schema.clone();
    assert_ne!(canonical, BASE, "normalize stores the canonical form");
    let duration = canonical.find("duration.proto").expect("import");
    let timestamp = canonical.find("timestamp.proto").expect("import");
    assert!(duration < timestamp, "imports sorted:\n{canonical}");
    assert!(
        canonical.contains("repeated .shop.v1.Order.Line lines = 3 [deprecated = true];"),
        "fully qualified types:\n{canonical}"
    );
    assert!(
        canonical.contains("map<string, int64> totals = 4;"),
        "{canonical}"
    );
    assert!(
        canonical.contains("optional .google.protobuf.Duration ttl = 7;"),
        "{canonical}"
    );
    for (i, (case, text)) in SAME.iter().enumerate() {
        let id = r
            .register(&format!("same-{i}"), proto(text), true)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(id, base, "{case}: same schema, same id");
        assert_eq!(r.schema(id).expect("stored").schema, canonical, "{case}");
    }
    // The canonical text is a fixed point: registered as is, it is the same schema.
    assert_eq!(
        r.register("again", proto(&canonical), true).expect("again"),
        base
    );
}

#[test]
fn real_changes_get_new_ids() {
    let r = registry();
    let base = r.register("base", proto(BASE), true).expect("base");
    let mut seen = vec![base];
    for (i, (case, from, to)) in CHANGED.iter().enumerate() {
        assert!(BASE.contains(from), "{case}");
        let text = BASE.replacen(from, to, 1);
        let id = r
            .register(&format!("changed-{i}"), proto(&text), true)
            .unwrap_or_else(|e| panic!("{case}: {e}"));
        assert!(!seen.contains(&id), "{case}: a new schema gets a new id");
        seen.push(id);
    }
}

#[test]
fn without_normalize_the_text_is_kept_as_written() {
    let r = registry();
    let id = r.register("kept", proto(SWAPPED), false).expect("kept");
    assert_eq!(r.schema(id).expect("stored").schema, SWAPPED);
    // ... and an equivalent file still finds that id.
    assert_eq!(r.register("kept", proto(BASE), false).expect("base"), id);
}
