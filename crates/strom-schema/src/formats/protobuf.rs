//! Protobuf schemas: `.proto` text compiled at run time by `protox` (imports resolved from
//! the schema's references and Google's well-known types), or a base64 `FileDescriptorProto`
//! as Confluent's Python serializer registers it. Compatibility follows Confluent's
//! Protobuf rules: a field number keeps a wire-compatible type (int32/int64/uint32/uint64/
//! bool, sint32/sint64, fixed32/sfixed32, fixed64/sfixed64, string/bytes, any enum/int),
//! messages and the package are not removed or renamed, required fields are neither added
//! nor removed; removing or renaming an optional field is compatible; oneofs: existing
//! fields moved into an existing oneof, several into a new one, or a field leaving a oneof
//! are incompatible. Enum constants may be added or removed (proto3 enums are open), as
//! Confluent rules.

use std::collections::HashMap;

use prost_reflect::prost::Message;
use prost_reflect::prost_types::FileDescriptorProto;
use prost_reflect::{
    DescriptorPool, FieldDescriptor, FileDescriptor, Kind, MessageDescriptor, OneofDescriptor,
};
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};

use super::{Parsed, Source};
use crate::error::{SchemaError, SchemaResult};

/// The name the schema being parsed gets when it is `.proto` text.
const MAIN: &str = "__strom_schema__.proto";

struct Sources {
    files: HashMap<String, String>,
}

impl FileResolver for Sources {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.files.get(name) {
            Some(text) => match descriptor_of(text) {
                Some(mut proto) => {
                    proto.name = Some(name.to_string());
                    Ok(File::from_file_descriptor_proto(proto))
                }
                None => File::from_source(name, text),
            },
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}

/// A base64-encoded `FileDescriptorProto`, if `text` is one.
fn descriptor_of(text: &str) -> Option<FileDescriptorProto> {
    let trimmed = text.trim();
    if trimmed.contains(char::is_whitespace) || trimmed.contains('{') {
        return None;
    }
    let bytes = base64_decode(trimmed)?;
    FileDescriptorProto::decode(bytes.as_slice()).ok()
}

/// Standard base64 with padding; `None` for anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let bytes = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let n = match chunk.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + n]);
    }
    Some(out)
}

/// Compiles `source`; returns the pool and the main file's name.
fn compile(source: Source<'_>) -> SchemaResult<(DescriptorPool, String)> {
    let invalid = |e: &dyn std::fmt::Display| {
        SchemaError::InvalidSchema(format!("Invalid Protobuf schema: {e}"))
    };
    let main = descriptor_of(source.schema)
        .and_then(|d| d.name)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| MAIN.to_string());
    let mut files: HashMap<String, String> = source
        .deps
        .iter()
        .map(|d| (d.name.clone(), d.schema.clone()))
        .collect();
    files.insert(main.clone(), source.schema.to_string());
    let mut chain = ChainFileResolver::new();
    chain.add(Sources { files });
    chain.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(chain);
    compiler.include_imports(true);
    compiler.open_file(&main).map_err(|e| invalid(&e))?;
    Ok((compiler.descriptor_pool(), main))
}

/// Parses a Protobuf schema. Errors: `InvalidSchema`.
pub fn parse(source: Source<'_>) -> SchemaResult<Parsed> {
    let (pool, main) = compile(source)?;
    let file = pool
        .get_file_by_name(&main)
        .ok_or_else(|| SchemaError::InvalidSchema("Invalid Protobuf schema".to_string()))?;
    Ok(Parsed {
        fingerprint: fingerprint(&file),
        normalized: source.schema.to_string(),
    })
}

/// What identifies a compiled file: its descriptor without its name and source positions,
/// imports in path order (so comments, layout and import order do not make another id).
fn fingerprint(file: &FileDescriptor) -> String {
    let mut proto = file.file_descriptor_proto().clone();
    proto.name = None;
    proto.source_code_info = None;
    let named = |indexes: &[i32]| -> Vec<String> {
        let mut names: Vec<String> = indexes
            .iter()
            .filter_map(|&i| proto.dependency.get(usize::try_from(i).ok()?).cloned())
            .collect();
        names.sort();
        names
    };
    let public = named(&proto.public_dependency);
    let weak = named(&proto.weak_dependency);
    proto.dependency.sort();
    proto.public_dependency.clear();
    proto.weak_dependency.clear();
    format!("{proto:?}\npublic {public:?}\nweak {weak:?}")
}

/// The canonical text of a Protobuf schema (`normalize=true`,
/// [`super::protobuf_canon`]), or its text as given when the file uses what the canonical
/// printer does not cover or the printed text would not compile back to the same schema.
/// Errors: `InvalidSchema`.
pub fn normalize(source: Source<'_>) -> SchemaResult<String> {
    let file = main_file(source)?;
    let Some(text) = super::protobuf_canon::canonical(&file) else {
        return Ok(source.schema.to_string());
    };
    let again = main_file(Source {
        schema: &text,
        deps: source.deps,
    });
    Ok(match again {
        Ok(again) if fingerprint(&again) == fingerprint(&file) => text,
        _ => source.schema.to_string(),
    })
}

pub(crate) fn main_file(source: Source<'_>) -> SchemaResult<FileDescriptor> {
    let (pool, main) = compile(source)?;
    pool.get_file_by_name(&main)
        .ok_or_else(|| SchemaError::InvalidSchema("Invalid Protobuf schema".to_string()))
}

/// Why `reader` cannot read what `writer` wrote. Errors: `InvalidSchema`.
pub fn incompatibilities(reader: Source<'_>, writer: Source<'_>) -> SchemaResult<Vec<String>> {
    let reader = main_file(reader)?;
    let writer = main_file(writer)?;
    let mut out = Vec::new();
    if reader.package_name() != writer.package_name() {
        out.push(format!(
            "PACKAGE_CHANGED: package '{}' became '{}'",
            writer.package_name(),
            reader.package_name()
        ));
    }
    let mut stack: Vec<MessageDescriptor> = writer.messages().collect();
    while let Some(message) = stack.pop() {
        stack.extend(message.child_messages().filter(|m| !m.is_map_entry()));
        let found = reader
            .parent_pool()
            .get_message_by_name(message.full_name());
        match found {
            Some(r) => compare_message(&r, &message, &mut out),
            None => out.push(format!(
                "MESSAGE_REMOVED: message '{}' is missing",
                message.full_name()
            )),
        }
    }
    Ok(out)
}

fn compare_message(reader: &MessageDescriptor, writer: &MessageDescriptor, out: &mut Vec<String>) {
    let name = writer.full_name();
    for w in writer.fields() {
        match reader.get_field(w.number()) {
            Some(r) => compare_field(name, &r, &w, out),
            None if w.is_required() => out.push(format!(
                "REQUIRED_FIELD_REMOVED: required field '{}' (number {}) of message '{name}' was removed",
                w.name(),
                w.number()
            )),
            None => {}
        }
    }
    compare_oneofs(reader, writer, out);
    for r in reader.fields() {
        if r.is_required() && writer.get_field(r.number()).is_none() {
            out.push(format!(
                "REQUIRED_FIELD_ADDED: required field '{}' (number {}) was added to message '{name}'",
                r.name(),
                r.number()
            ));
        }
    }
}

/// The field's oneof, unless it is the synthetic one of a proto3 `optional` field.
fn real_oneof(field: &FieldDescriptor) -> Option<OneofDescriptor> {
    field.containing_oneof().filter(|o| !o.is_synthetic())
}

/// Confluent's oneof rules: moving an existing field into a oneof the writer already had,
/// or several existing fields into a new one, is incompatible (a writer setting two of them
/// would be read as one); so is a field leaving a oneof the reader still has. A new oneof
/// of new fields, or of one moved field, is compatible.
fn compare_oneofs(reader: &MessageDescriptor, writer: &MessageDescriptor, out: &mut Vec<String>) {
    let name = writer.full_name();
    for oneof in reader.oneofs().filter(|o| !o.is_synthetic()) {
        let existed = writer
            .oneofs()
            .any(|o| !o.is_synthetic() && o.name() == oneof.name());
        let moved: Vec<String> = oneof
            .fields()
            .filter(|f| {
                writer
                    .get_field(f.number())
                    .is_some_and(|w| real_oneof(&w).is_none())
            })
            .map(|f| format!("'{}'", f.name()))
            .collect();
        if existed && !moved.is_empty() {
            out.push(format!(
                "FIELD_MOVED_TO_EXISTING_ONEOF: field(s) {} of message '{name}' moved into the existing oneof '{}'",
                moved.join(", "),
                oneof.name()
            ));
        } else if moved.len() > 1 {
            out.push(format!(
                "MULTIPLE_FIELDS_MOVED_TO_ONEOF: fields {} of message '{name}' moved into the new oneof '{}'",
                moved.join(", "),
                oneof.name()
            ));
        }
    }
    for oneof in writer.oneofs().filter(|o| !o.is_synthetic()) {
        if !reader.oneofs().any(|o| o.name() == oneof.name()) {
            continue;
        }
        for f in oneof.fields() {
            let still = reader
                .get_field(f.number())
                .and_then(|r| real_oneof(&r))
                .is_some_and(|o| o.name() == oneof.name());
            if !still {
                out.push(format!(
                    "ONEOF_FIELD_REMOVED: field '{}' (number {}) left the oneof '{}' of message '{name}'",
                    f.name(),
                    f.number(),
                    oneof.name()
                ));
            }
        }
    }
}

fn compare_field(
    message: &str,
    reader: &FieldDescriptor,
    writer: &FieldDescriptor,
    out: &mut Vec<String>,
) {
    let (r, w) = (reader.kind(), writer.kind());
    let same_group = wire_group(&r) == wire_group(&w);
    let messages_match = match (&r, &w) {
        (Kind::Message(a), Kind::Message(b)) => a.full_name() == b.full_name(),
        _ => true,
    };
    if !same_group || !messages_match {
        let reused = if reader.name() != writer.name() {
            " (field number reused)"
        } else {
            ""
        };
        out.push(format!(
            "FIELD_KIND_CHANGED: field number {} of message '{message}' was '{}' of type {}, now '{}' of type {}{reused}",
            writer.number(),
            writer.name(),
            kind_name(&w),
            reader.name(),
            kind_name(&r)
        ));
    } else if reader.is_list() != writer.is_list() || reader.is_map() != writer.is_map() {
        out.push(format!(
            "FIELD_LABEL_CHANGED: field '{}' (number {}) of message '{message}' changed between repeated and single",
            writer.name(),
            writer.number()
        ));
    }
}

/// Kinds that share an encoding share a group.
fn wire_group(kind: &Kind) -> u8 {
    match kind {
        Kind::Int32 | Kind::Int64 | Kind::Uint32 | Kind::Uint64 | Kind::Bool | Kind::Enum(_) => 0,
        Kind::Sint32 | Kind::Sint64 => 1,
        Kind::Fixed32 | Kind::Sfixed32 => 2,
        Kind::Fixed64 | Kind::Sfixed64 => 3,
        Kind::String | Kind::Bytes => 4,
        Kind::Double => 5,
        Kind::Float => 6,
        Kind::Message(_) => 7,
    }
}

fn kind_name(kind: &Kind) -> String {
    match kind {
        Kind::Message(m) => m.full_name().to_string(),
        Kind::Enum(e) => e.full_name().to_string(),
        other => format!("{other:?}").to_lowercase(),
    }
}
