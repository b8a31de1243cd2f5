//! The registry's own rules: global ids shared across subjects and never reused, the
//! two-step delete, references, and a rebuild from stored records equal to the live state.

use std::sync::Arc;

use strom_schema::{
    Backend, Level, MemoryBackend, NewSchema, Reference, Registry, SchemaError, SchemaResult,
    SchemaType, VersionRef,
};

/// A backend shared between a registry and its reopened successor.
#[derive(Clone, Default)]
struct Shared(Arc<MemoryBackend>);

impl Backend for Shared {
    fn put_many(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> SchemaResult<()> {
        self.0.put_many(entries)
    }
    fn load(&self) -> SchemaResult<Vec<(Vec<u8>, Vec<u8>)>> {
        self.0.load()
    }
}

fn avro(text: &str) -> NewSchema {
    NewSchema {
        schema: text.to_string(),
        schema_type: SchemaType::Avro,
        ..NewSchema::default()
    }
}

const A: &str = r#"{"type":"record","name":"A","fields":[{"name":"x","type":"int"}]}"#;
const B: &str = r#"{"type":"record","name":"B","fields":[{"name":"y","type":"string"}]}"#;

#[test]
fn ids_are_global_stable_and_survive_a_rebuild() {
    let backend = Shared::default();
    let r = Registry::open(Box::new(backend.clone()), Level::Backward).expect("open");
    let a = r.register("s1", avro(A), false).expect("register");
    assert_eq!(
        r.register("s1", avro(A), false).expect("again"),
        a,
        "same schema, same id"
    );
    assert_eq!(r.register("s2", avro(A), false).expect("other subject"), a);
    assert_eq!(r.versions("s1", false).expect("versions"), vec![1]);
    let b = r.register("s3", avro(B), false).expect("register b");
    assert!(b > a);
    // Permanently delete B: its id is not handed out again, even after a rebuild.
    r.delete_subject("s3", false).expect("soft");
    r.delete_subject("s3", true).expect("hard");
    let reopened = Registry::open(Box::new(backend.clone()), Level::Backward).expect("reopen");
    assert_eq!(reopened.schema(a).expect("a").schema, A);
    assert!(matches!(
        reopened.schema(b),
        Err(SchemaError::SchemaNotFound(_))
    ));
    let c = reopened.register("s4", avro(B), false).expect("b again");
    assert!(c > b, "id {c} reused");
    assert_eq!(
        reopened
            .version("s2", VersionRef::Latest, false)
            .expect("s2")
            .schema
            .id,
        a
    );
}

#[test]
fn two_step_delete_and_references() {
    let r = Registry::open(Box::new(MemoryBackend::default()), Level::Backward).expect("open");
    r.register("base", avro(A), false).expect("base");
    let mut with_ref =
        avro(r#"{"type":"record","name":"Outer","fields":[{"name":"a","type":"A"}]}"#);
    with_ref.references = vec![Reference {
        name: "A".into(),
        subject: "base".into(),
        version: 1,
    }];
    let outer = r
        .register("outer", with_ref, false)
        .expect("outer with a reference");
    assert_eq!(
        r.referenced_by("base", VersionRef::Number(1))
            .expect("refs"),
        vec![outer]
    );
    assert!(matches!(
        r.delete_subject("base", false),
        Err(SchemaError::ReferenceExists(..))
    ));
    assert!(matches!(
        r.delete_subject("outer", true),
        Err(SchemaError::SubjectNotSoftDeleted(_))
    ));
    assert_eq!(
        r.delete_version("outer", VersionRef::Latest, false)
            .expect("soft"),
        1
    );
    assert!(matches!(
        r.delete_version("outer", VersionRef::Number(1), false),
        Err(SchemaError::VersionSoftDeleted(..))
    ));
    assert!(
        r.version("outer", VersionRef::Number(1), true)
            .expect("still readable")
            .deleted
    );
    assert_eq!(
        r.delete_version("outer", VersionRef::Number(1), true)
            .expect("hard"),
        1
    );
    assert!(matches!(
        r.versions("outer", true),
        Err(SchemaError::SubjectNotFound(_))
    ));
    // Nothing references base any more.
    assert_eq!(r.delete_subject("base", false).expect("soft base"), vec![1]);
    let mut missing = avro(A);
    missing.references = vec![Reference {
        name: "Z".into(),
        subject: "nowhere".into(),
        version: 1,
    }];
    assert!(matches!(
        r.register("z", missing, false),
        Err(SchemaError::InvalidSchema(_))
    ));
}
