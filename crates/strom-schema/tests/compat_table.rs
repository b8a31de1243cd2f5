//! The compatibility table: for each format, schema changes (written from the formats'
//! resolution rules and Confluent's documented verdicts) and the verdict under each level.
//! A case registers its earlier versions with checks off, sets the level, and asks both
//! the compatibility test and registration.

use strom_schema::{Against, Level, MemoryBackend, NewSchema, Registry, SchemaType};

/// Verdicts in the order BACKWARD, FORWARD, FULL (true: compatible); NONE always is.
struct Case {
    name: &'static str,
    kind: SchemaType,
    earlier: &'static [&'static str],
    new: &'static str,
    verdicts: [bool; 3],
    /// The verdicts for the TRANSITIVE levels, where they differ.
    transitive: Option<[bool; 3]>,
    /// A word the refusal message must contain (the field it names).
    names: &'static str,
}

const AVRO_V1: &str = r#"{"type":"record","name":"User","fields":[{"name":"id","type":"int"}]}"#;

const AVRO: &[Case] = &[
    Case {
        name: "add field with default",
        kind: SchemaType::Avro,
        earlier: &[AVRO_V1],
        new: r#"{"type":"record","name":"User","fields":[{"name":"id","type":"int"},{"name":"email","type":"string","default":""}]}"#,
        verdicts: [true, true, true],
        transitive: None,
        names: "",
    },
    Case {
        name: "add field without default",
        kind: SchemaType::Avro,
        earlier: &[AVRO_V1],
        new: r#"{"type":"record","name":"User","fields":[{"name":"id","type":"int"},{"name":"email","type":"string"}]}"#,
        verdicts: [false, true, false],
        transitive: None,
        names: "email",
    },
    Case {
        name: "remove field without default",
        kind: SchemaType::Avro,
        earlier: &[
            r#"{"type":"record","name":"User","fields":[{"name":"id","type":"int"},{"name":"email","type":"string"}]}"#,
        ],
        new: AVRO_V1,
        verdicts: [true, false, false],
        transitive: None,
        names: "email",
    },
    Case {
        name: "remove field with default",
        kind: SchemaType::Avro,
        earlier: &[
            r#"{"type":"record","name":"User","fields":[{"name":"id","type":"int"},{"name":"email","type":"string","default":""}]}"#,
        ],
        new: AVRO_V1,
        verdicts: [true, true, true],
        transitive: None,
        names: "",
    },
    Case {
        name: "promote int to long",
        kind: SchemaType::Avro,
        earlier: &[AVRO_V1],
        new: r#"{"type":"record","name":"User","fields":[{"name":"id","type":"long"}]}"#,
        verdicts: [true, false, false],
        transitive: None,
        names: "id",
    },
    Case {
        name: "change int to string",
        kind: SchemaType::Avro,
        earlier: &[AVRO_V1],
        new: r#"{"type":"record","name":"User","fields":[{"name":"id","type":"string"}]}"#,
        verdicts: [false, false, false],
        transitive: None,
        names: "id",
    },
    Case {
        name: "add enum symbol",
        kind: SchemaType::Avro,
        earlier: &[r#"{"type":"enum","name":"Color","symbols":["RED","GREEN"]}"#],
        new: r#"{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]}"#,
        verdicts: [true, false, false],
        transitive: None,
        names: "",
    },
    Case {
        name: "default added then dropped (transitive differs)",
        kind: SchemaType::Avro,
        earlier: &[
            AVRO_V1,
            r#"{"type":"record","name":"User","fields":[{"name":"id","type":"int"},{"name":"email","type":"string","default":""}]}"#,
        ],
        new: r#"{"type":"record","name":"User","fields":[{"name":"id","type":"int"},{"name":"email","type":"string"}]}"#,
        verdicts: [true, true, true],
        transitive: Some([false, true, false]),
        names: "email",
    },
];

const JSON_OPEN: &str = r#"{"type":"object","properties":{"id":{"type":"integer"}}}"#;
const JSON_CLOSED: &str =
    r#"{"type":"object","properties":{"id":{"type":"integer"}},"additionalProperties":false}"#;

const JSON: &[Case] = &[
    Case {
        name: "open model: add property",
        kind: SchemaType::Json,
        earlier: &[JSON_OPEN],
        new: r#"{"type":"object","properties":{"id":{"type":"integer"},"email":{"type":"string"}}}"#,
        verdicts: [false, true, false],
        transitive: None,
        names: "email",
    },
    Case {
        name: "closed model: add optional property",
        kind: SchemaType::Json,
        earlier: &[JSON_CLOSED],
        new: r#"{"type":"object","properties":{"id":{"type":"integer"},"email":{"type":"string"}},"additionalProperties":false}"#,
        verdicts: [true, false, false],
        transitive: None,
        names: "email",
    },
    Case {
        name: "open model: remove property",
        kind: SchemaType::Json,
        earlier: &[
            r#"{"type":"object","properties":{"id":{"type":"integer"},"email":{"type":"string"}}}"#,
        ],
        new: JSON_OPEN,
        verdicts: [true, false, false],
        transitive: None,
        names: "email",
    },
    Case {
        name: "closed model: remove property",
        kind: SchemaType::Json,
        earlier: &[
            r#"{"type":"object","properties":{"id":{"type":"integer"},"email":{"type":"string"}},"additionalProperties":false}"#,
        ],
        new: JSON_CLOSED,
        verdicts: [false, true, false],
        transitive: None,
        names: "email",
    },
    Case {
        name: "widen integer to number",
        kind: SchemaType::Json,
        earlier: &[JSON_OPEN],
        new: r#"{"type":"object","properties":{"id":{"type":"number"}}}"#,
        verdicts: [true, false, false],
        transitive: None,
        names: "id",
    },
    Case {
        name: "make a property required",
        kind: SchemaType::Json,
        earlier: &[JSON_OPEN],
        new: r#"{"type":"object","properties":{"id":{"type":"integer"}},"required":["id"]}"#,
        verdicts: [false, true, false],
        transitive: None,
        names: "id",
    },
    Case {
        name: "narrow maxLength",
        kind: SchemaType::Json,
        earlier: &[r#"{"type":"object","properties":{"name":{"type":"string","maxLength":100}}}"#],
        new: r#"{"type":"object","properties":{"name":{"type":"string","maxLength":50}}}"#,
        verdicts: [false, true, false],
        transitive: None,
        names: "maxLength",
    },
    Case {
        name: "widen maxLength",
        kind: SchemaType::Json,
        earlier: &[r#"{"type":"object","properties":{"name":{"type":"string","maxLength":100}}}"#],
        new: r#"{"type":"object","properties":{"name":{"type":"string","maxLength":200}}}"#,
        verdicts: [true, false, false],
        transitive: None,
        names: "maxLength",
    },
    Case {
        name: "raise minimum",
        kind: SchemaType::Json,
        earlier: &[r#"{"type":"object","properties":{"n":{"type":"integer","minimum":0}}}"#],
        new: r#"{"type":"object","properties":{"n":{"type":"integer","minimum":10}}}"#,
        verdicts: [false, true, false],
        transitive: None,
        names: "minimum",
    },
    Case {
        name: "narrow an enum",
        kind: SchemaType::Json,
        earlier: &[r#"{"type":"string","enum":["a","b"]}"#],
        new: r#"{"type":"string","enum":["a"]}"#,
        verdicts: [false, true, false],
        transitive: None,
        names: "\"b\"",
    },
    Case {
        name: "close, then reopen (transitive differs)",
        kind: SchemaType::Json,
        earlier: &[
            r#"{"type":"object","properties":{"id":{"type":"integer"},"x":{"type":"string"}},"additionalProperties":false}"#,
            JSON_CLOSED,
        ],
        new: r#"{"type":"object","properties":{"id":{"type":"integer"},"x":{"type":"integer"}},"additionalProperties":false}"#,
        verdicts: [true, false, false],
        transitive: Some([false, false, false]),
        names: "x",
    },
    Case {
        name: "oneOf gains a branch (combinators must stay identical)",
        kind: SchemaType::Json,
        earlier: &[r#"{"oneOf":[{"type":"string"},{"type":"integer"}]}"#],
        new: r#"{"oneOf":[{"type":"string"},{"type":"integer"},{"type":"boolean"}]}"#,
        verdicts: [false, false, false],
        transitive: None,
        names: "oneOf",
    },
    Case {
        name: "anyOf gains a branch (widens)",
        kind: SchemaType::Json,
        earlier: &[r#"{"anyOf":[{"type":"string"},{"type":"integer"}]}"#],
        new: r#"{"anyOf":[{"type":"string"},{"type":"integer"},{"type":"boolean"}]}"#,
        verdicts: [true, false, false],
        transitive: None,
        names: "boolean",
    },
    Case {
        name: "allOf dropped (widens)",
        kind: SchemaType::Json,
        earlier: &[r#"{"type":"object","allOf":[{"required":["a"]}]}"#],
        new: r#"{"type":"object"}"#,
        verdicts: [true, false, false],
        transitive: None,
        names: "allOf",
    },
];

const PROTO_V1: &str = "syntax = \"proto3\";\npackage shop;\nmessage Order {\n  string id = 1;\n  int32 count = 2;\n}\n";

const PROTOBUF: &[Case] = &[
    Case { name: "add field", kind: SchemaType::Protobuf, earlier: &[PROTO_V1],
        new: "syntax = \"proto3\";\npackage shop;\nmessage Order {\n  string id = 1;\n  int32 count = 2;\n  string note = 3;\n}\n",
        verdicts: [true, true, true], transitive: None, names: "" },
    Case { name: "remove field", kind: SchemaType::Protobuf, earlier: &[PROTO_V1],
        new: "syntax = \"proto3\";\npackage shop;\nmessage Order {\n  string id = 1;\n}\n",
        verdicts: [true, true, true], transitive: None, names: "" },
    Case { name: "field number reused with another type", kind: SchemaType::Protobuf, earlier: &[PROTO_V1],
        new: "syntax = \"proto3\";\npackage shop;\nmessage Order {\n  string id = 1;\n  string comment = 2;\n}\n",
        verdicts: [false, false, false], transitive: None, names: "reused" },
    Case { name: "int32 to int64 (same wire type)", kind: SchemaType::Protobuf, earlier: &[PROTO_V1],
        new: "syntax = \"proto3\";\npackage shop;\nmessage Order {\n  string id = 1;\n  int64 count = 2;\n}\n",
        verdicts: [true, true, true], transitive: None, names: "" },
    Case { name: "message removed", kind: SchemaType::Protobuf,
        earlier: &["syntax = \"proto3\";\npackage shop;\nmessage Order {\n  string id = 1;\n  int32 count = 2;\n}\nmessage Line { string sku = 1; }\n"],
        new: PROTO_V1, verdicts: [false, true, false], transitive: None, names: "shop.Line" },
    Case { name: "package changed", kind: SchemaType::Protobuf, earlier: &[PROTO_V1],
        new: "syntax = \"proto3\";\npackage store;\nmessage Order {\n  string id = 1;\n  int32 count = 2;\n}\n",
        verdicts: [false, false, false], transitive: None, names: "PACKAGE_CHANGED" },
    Case { name: "two existing fields moved into a new oneof", kind: SchemaType::Protobuf, earlier: &[PROTO_V1],
        new: "syntax = \"proto3\";\npackage shop;\nmessage Order {\n  oneof key {\n    string id = 1;\n    int32 count = 2;\n  }\n}\n",
        verdicts: [false, true, false], transitive: None, names: "MULTIPLE_FIELDS_MOVED_TO_ONEOF" },
    Case { name: "one existing field moved into a new oneof", kind: SchemaType::Protobuf, earlier: &[PROTO_V1],
        new: "syntax = \"proto3\";\npackage shop;\nmessage Order {\n  oneof key {\n    string id = 1;\n    string sku = 3;\n  }\n  int32 count = 2;\n}\n",
        verdicts: [true, true, true], transitive: None, names: "" },
    Case { name: "a field leaves its oneof", kind: SchemaType::Protobuf,
        earlier: &["syntax = \"proto3\";\npackage shop;\nmessage Order {\n  oneof key {\n    string id = 1;\n    string sku = 3;\n  }\n}\n"],
        new: "syntax = \"proto3\";\npackage shop;\nmessage Order {\n  oneof key {\n    string id = 1;\n  }\n  string sku = 3;\n}\n",
        verdicts: [false, false, false], transitive: None, names: "sku" },
    Case { name: "enum constant added", kind: SchemaType::Protobuf,
        earlier: &["syntax = \"proto3\";\npackage shop;\nenum State { NEW = 0; PAID = 1; }\nmessage Order {\n  State state = 1;\n}\n"],
        new: "syntax = \"proto3\";\npackage shop;\nenum State { NEW = 0; PAID = 1; SHIPPED = 2; }\nmessage Order {\n  State state = 1;\n}\n",
        verdicts: [true, true, true], transitive: None, names: "" },
    Case { name: "well-known import", kind: SchemaType::Protobuf, earlier: &[PROTO_V1],
        new: "syntax = \"proto3\";\npackage shop;\nimport \"google/protobuf/timestamp.proto\";\nmessage Order {\n  string id = 1;\n  int32 count = 2;\n  google.protobuf.Timestamp at = 3;\n}\n",
        verdicts: [true, true, true], transitive: None, names: "" },
];

fn schema(kind: SchemaType, text: &str) -> NewSchema {
    NewSchema {
        schema: text.to_string(),
        schema_type: kind,
        ..NewSchema::default()
    }
}

fn run(case: &Case, level: Level, expected: bool) {
    let registry = Registry::open(Box::new(MemoryBackend::default()), Level::None).expect("open");
    for old in case.earlier {
        registry
            .register("s", schema(case.kind, old), false)
            .expect("earlier version registers");
    }
    registry.set_level(None, Some(level)).expect("set level");
    let new = schema(case.kind, case.new);
    let messages = registry
        .test_compatibility("s", &new, Against::Level)
        .expect("test runs");
    assert_eq!(
        messages.is_empty(),
        expected,
        "{} under {level:?}: {messages:?}",
        case.name
    );
    if !expected {
        assert!(
            messages.iter().any(|m| m.contains(case.names)),
            "{}: no message names {:?}: {messages:?}",
            case.name,
            case.names
        );
    }
    let registered = registry.register("s", new, false);
    assert_eq!(
        registered.is_ok(),
        expected,
        "{} under {level:?} registration: {registered:?}",
        case.name
    );
}

fn run_table(cases: &[Case]) {
    for case in cases {
        let plain = [Level::Backward, Level::Forward, Level::Full];
        let transitive = [
            Level::BackwardTransitive,
            Level::ForwardTransitive,
            Level::FullTransitive,
        ];
        for i in 0..3 {
            run(case, plain[i], case.verdicts[i]);
            run(
                case,
                transitive[i],
                case.transitive.unwrap_or(case.verdicts)[i],
            );
        }
        run(case, Level::None, true);
    }
}

#[test]
fn avro_compatibility_table() {
    run_table(AVRO);
}

#[test]
fn json_schema_compatibility_table() {
    run_table(JSON);
}

#[test]
fn protobuf_compatibility_table() {
    run_table(PROTOBUF);
}
