//! Every registered version at once, for `GET /schemas`: subjects in name order, each
//! subject's versions in order, filtered by subject prefix, soft deletion and latest-only.

use crate::model::SubjectVersion;
use crate::registry::Registry;

impl Registry {
    /// The versions of every subject starting with `prefix` (soft-deleted ones too when
    /// `deleted`; only each subject's newest when `latest_only`).
    pub fn all_versions(
        &self,
        prefix: &str,
        deleted: bool,
        latest_only: bool,
    ) -> Vec<SubjectVersion> {
        let state = self.state.read();
        let mut out = Vec::new();
        for (subject, versions) in state.subjects.range(prefix.to_string()..) {
            if !subject.starts_with(prefix) {
                break;
            }
            let shown: Vec<_> = versions
                .iter()
                .filter(|(_, e)| deleted || !e.deleted)
                .collect();
            let chosen = match latest_only {
                true => shown.last().map_or(&[][..], std::slice::from_ref),
                false => &shown[..],
            };
            for (number, entry) in chosen {
                if let Some(schema) = state.schemas.get(&entry.id) {
                    out.push(SubjectVersion {
                        subject: subject.clone(),
                        version: **number,
                        deleted: entry.deleted,
                        schema: std::sync::Arc::clone(schema),
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{NewSchema, SchemaType};
    use crate::{Level, MemoryBackend, Registry};

    fn avro(field: &str) -> NewSchema {
        NewSchema {
            schema: format!(
                r#"{{"type":"record","name":"R","fields":[{{"name":"{field}","type":"int","default":0}}]}}"#
            ),
            schema_type: SchemaType::Avro,
            ..NewSchema::default()
        }
    }

    #[test]
    fn lists_in_order_with_prefix_deleted_and_latest_only() {
        let r = Registry::open(Box::<MemoryBackend>::default(), Level::None).expect("open");
        r.register("b", avro("x"), false).expect("b1");
        r.register("a", avro("x"), false).expect("a1");
        r.register("a", avro("y"), false).expect("a2");
        r.register("c", avro("z"), false).expect("c1");
        r.delete_subject("c", false).expect("soft delete");
        let names = |v: Vec<crate::SubjectVersion>| -> Vec<(String, i32)> {
            v.into_iter().map(|s| (s.subject, s.version)).collect()
        };
        let all = names(r.all_versions("", false, false));
        assert_eq!(all, [("a".into(), 1), ("a".into(), 2), ("b".into(), 1)]);
        assert_eq!(
            names(r.all_versions("", false, true)),
            [("a".into(), 2), ("b".into(), 1)]
        );
        assert_eq!(names(r.all_versions("c", true, false)), [("c".into(), 1)]);
        assert_eq!(names(r.all_versions("a", false, true)), [("a".into(), 2)]);
    }
}
