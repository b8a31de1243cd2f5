//! Protobuf's canonical form, what `normalize=true` stores: the compiled file printed back
//! as `.proto` text in one layout, so that files differing only in whitespace, comments,
//! the order of imports or of options, or in how they name types (relative or fully
//! qualified) print the same. Imports sorted by path; options (file, message, field, enum,
//! value, service, method), custom ones as `(full.name)`, sorted by name; every type name
//! fully qualified with a leading dot; two-space indentation, one declaration a line, no
//! comments. Declarations keep their order: top-level messages are what Confluent's message
//! indexes number, and field order is what JSON and text output follow.
//!
//! [`canonical`] answers `None` for what it does not print (proto2 groups, an option
//! holding a list or map, extension range options); the caller then keeps the text as
//! written. The caller also checks that the printed text compiles back to the same
//! descriptor before storing it.

use std::fmt::Write;

use prost_reflect::prost_types::field_descriptor_proto::Type;
use prost_reflect::prost_types::FieldDescriptorProto;
use prost_reflect::{
    Cardinality, DynamicMessage, EnumDescriptor, FieldDescriptor, FileDescriptor, Kind,
    MessageDescriptor, ServiceDescriptor, Syntax, Value,
};

/// The largest field number, which `max` stands for in a message's ranges.
const MAX_FIELD: i32 = 536_870_911;

/// `file` in canonical `.proto` text; `None` when it uses what is not printed.
pub fn canonical(file: &FileDescriptor) -> Option<String> {
    let mut p = Printer {
        out: String::new(),
        proto3: file.syntax() == Syntax::Proto3,
    };
    p.file(file)?;
    Some(p.out)
}

struct Printer {
    out: String,
    proto3: bool,
}

/// A string or bytes literal: printable ASCII as is, the rest escaped (octal for bytes).
fn quote(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(char::from(b)),
            _ => {
                let _ = write!(s, "\\{b:03o}");
            }
        }
    }
    s.push('"');
    s
}

fn float(f: f64) -> String {
    match f {
        f if f.is_nan() => "nan".into(),
        f if f.is_infinite() && f > 0.0 => "inf".into(),
        f if f.is_infinite() => "-inf".into(),
        f => format!("{f:?}"),
    }
}

/// An option's value as `.proto` text; `None` for a list or map inside a value.
fn value_text(value: &Value, kind: &Kind) -> Option<String> {
    Some(match value {
        Value::Bool(b) => b.to_string(),
        Value::I32(n) => n.to_string(),
        Value::I64(n) => n.to_string(),
        Value::U32(n) => n.to_string(),
        Value::U64(n) => n.to_string(),
        Value::F32(f) => float(f64::from(*f)),
        Value::F64(f) => float(*f),
        Value::String(s) => quote(s.as_bytes()),
        Value::Bytes(b) => quote(b),
        Value::EnumNumber(n) => match kind.as_enum().and_then(|e| e.get_value(*n)) {
            Some(v) => v.name().to_string(),
            None => n.to_string(),
        },
        Value::Message(m) => format!("{{ {} }}", m.to_text_format()),
        Value::List(_) | Value::Map(_) => return None,
    })
}

/// The options set in `options` as `(name, value)`, sorted by name (a repeated option once
/// per element, in order), leaving out `skip`.
fn options(options: &DynamicMessage, skip: &[&str]) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut put = |name: String, kind: Kind, value: &Value| -> Option<()> {
        match value {
            Value::List(items) => {
                for item in items {
                    out.push((name.clone(), value_text(item, &kind)?));
                }
            }
            other => out.push((name, value_text(other, &kind)?)),
        }
        Some(())
    };
    for (field, value) in options.fields() {
        if !skip.contains(&field.name()) {
            put(field.name().to_string(), field.kind(), value)?;
        }
    }
    for (ext, value) in options.extensions() {
        put(format!("({})", ext.full_name()), ext.kind(), value)?;
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Some(out)
}

/// `[a = 1, b = 2]` (with a leading space), or nothing.
fn bracketed(list: &[(String, String)]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let items: Vec<String> = list.iter().map(|(n, v)| format!("{n} = {v}")).collect();
    format!(" [{}]", items.join(", "))
}

fn type_name(kind: &Kind) -> String {
    match kind {
        Kind::Double => "double".into(),
        Kind::Float => "float".into(),
        Kind::Int32 => "int32".into(),
        Kind::Int64 => "int64".into(),
        Kind::Uint32 => "uint32".into(),
        Kind::Uint64 => "uint64".into(),
        Kind::Sint32 => "sint32".into(),
        Kind::Sint64 => "sint64".into(),
        Kind::Fixed32 => "fixed32".into(),
        Kind::Fixed64 => "fixed64".into(),
        Kind::Sfixed32 => "sfixed32".into(),
        Kind::Sfixed64 => "sfixed64".into(),
        Kind::Bool => "bool".into(),
        Kind::String => "string".into(),
        Kind::Bytes => "bytes".into(),
        Kind::Message(m) => format!(".{}", m.full_name()),
        Kind::Enum(e) => format!(".{}", e.full_name()),
    }
}

/// protoc's default JSON name: underscores dropped, the letter after one upper-cased.
fn default_json_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        match (c, upper) {
            ('_', _) => upper = true,
            (c, true) => {
                out.extend(c.to_uppercase());
                upper = false;
            }
            (c, false) => out.push(c),
        }
    }
    out
}

/// What a field or an extension is, for printing.
struct FieldLike<'a> {
    name: &'a str,
    number: u32,
    kind: Kind,
    cardinality: Cardinality,
    proto: &'a FieldDescriptorProto,
    options: DynamicMessage,
    /// In a (non-synthetic) oneof: printed without a label.
    in_oneof: bool,
    /// A map field: its key and value types.
    map: Option<(Kind, Kind)>,
}

impl FieldLike<'_> {
    fn of(f: &FieldDescriptor) -> FieldLike<'_> {
        let map = match (f.is_map(), f.kind()) {
            (true, Kind::Message(entry)) => Some((
                entry.map_entry_key_field().kind(),
                entry.map_entry_value_field().kind(),
            )),
            _ => None,
        };
        FieldLike {
            name: f.name(),
            number: f.number(),
            kind: f.kind(),
            cardinality: f.cardinality(),
            proto: f.field_descriptor_proto(),
            options: f.options(),
            in_oneof: f.containing_oneof().is_some_and(|o| !o.is_synthetic()),
            map,
        }
    }
}

impl Printer {
    fn line(&mut self, depth: usize, text: &str) {
        for _ in 0..depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    fn option_lines(&mut self, depth: usize, opts: &DynamicMessage, skip: &[&str]) -> Option<()> {
        for (name, value) in options(opts, skip)? {
            self.line(depth, &format!("option {name} = {value};"));
        }
        Some(())
    }

    fn file(&mut self, file: &FileDescriptor) -> Option<()> {
        let proto = file.file_descriptor_proto();
        self.line(
            0,
            &format!("syntax = \"proto{}\";", if self.proto3 { 3 } else { 2 }),
        );
        if !file.package_name().is_empty() {
            self.line(0, &format!("package {};", file.package_name()));
        }
        let mut imports: Vec<(String, &str)> = proto
            .dependency
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let i = i32::try_from(i).unwrap_or(i32::MAX);
                let modifier = match (
                    proto.public_dependency.contains(&i),
                    proto.weak_dependency.contains(&i),
                ) {
                    (true, _) => "public ",
                    (_, true) => "weak ",
                    _ => "",
                };
                (name.clone(), modifier)
            })
            .collect();
        imports.sort();
        for (name, modifier) in imports {
            self.line(0, &format!("import {modifier}{};", quote(name.as_bytes())));
        }
        self.option_lines(0, &file.options(), &[])?;
        for m in file.messages() {
            self.message(&m, 0)?;
        }
        for e in file.enums() {
            self.enumeration(&e, 0)?;
        }
        for s in file.services() {
            self.service(&s)?;
        }
        let extensions: Vec<_> = file.extensions().collect();
        self.extend_blocks(&extensions, 0)
    }

    fn field(&mut self, f: &FieldLike<'_>, depth: usize) -> Option<()> {
        if f.proto.r#type() == Type::Group {
            return None;
        }
        let label = match (f.in_oneof || f.map.is_some(), f.cardinality) {
            (true, _) => "",
            (false, Cardinality::Repeated) => "repeated ",
            (false, Cardinality::Required) => "required ",
            (false, Cardinality::Optional) if !self.proto3 || f.proto.proto3_optional() => {
                "optional "
            }
            (false, Cardinality::Optional) => "",
        };
        let ty = match &f.map {
            Some((k, v)) => format!("map<{}, {}>", type_name(k), type_name(v)),
            None => type_name(&f.kind),
        };
        let mut opts = Vec::new();
        if let Some(default) = &f.proto.default_value {
            let text = match f.kind {
                Kind::String => quote(default.as_bytes()),
                // Bytes defaults are kept C-escaped in the descriptor.
                Kind::Bytes => format!("\"{default}\""),
                _ => default.clone(),
            };
            opts.push(("default".to_string(), text));
        }
        if let Some(json) = &f.proto.json_name {
            if *json != default_json_name(f.name) {
                opts.push(("json_name".to_string(), quote(json.as_bytes())));
            }
        }
        opts.extend(options(&f.options, &[])?);
        let line = format!("{label}{ty} {} = {}{};", f.name, f.number, bracketed(&opts));
        self.line(depth, &line);
        Some(())
    }

    fn message(&mut self, m: &MessageDescriptor, depth: usize) -> Option<()> {
        self.line(depth, &format!("message {} {{", m.name()));
        let inner = depth + 1;
        self.option_lines(inner, &m.options(), &[])?;
        let mut oneofs_done = Vec::new();
        for f in m.fields() {
            match f.containing_oneof().filter(|o| !o.is_synthetic()) {
                Some(o) if oneofs_done.contains(&o.name().to_string()) => {}
                Some(o) => {
                    oneofs_done.push(o.name().to_string());
                    self.line(inner, &format!("oneof {} {{", o.name()));
                    self.option_lines(inner + 1, &o.options(), &[])?;
                    for member in o.fields() {
                        self.field(&FieldLike::of(&member), inner + 1)?;
                    }
                    self.line(inner, "}");
                }
                None => self.field(&FieldLike::of(&f), inner)?,
            }
        }
        for child in m.child_messages().filter(|c| !c.is_map_entry()) {
            self.message(&child, inner)?;
        }
        for e in m.child_enums() {
            self.enumeration(&e, inner)?;
        }
        let extensions: Vec<_> = m.child_extensions().collect();
        self.extend_blocks(&extensions, inner)?;
        let proto = m.descriptor_proto();
        let mut ranges = Vec::new();
        for r in &proto.extension_range {
            if r.options.is_some() {
                return None;
            }
            ranges.push(range(r.start(), r.end() - 1, MAX_FIELD));
        }
        if !ranges.is_empty() {
            self.line(inner, &format!("extensions {};", ranges.join(", ")));
        }
        let reserved: Vec<String> = proto
            .reserved_range
            .iter()
            .map(|r| range(r.start(), r.end() - 1, MAX_FIELD))
            .collect();
        self.reserved(inner, &reserved, &proto.reserved_name);
        self.line(depth, "}");
        Some(())
    }

    fn reserved(&mut self, depth: usize, ranges: &[String], names: &[String]) {
        if !ranges.is_empty() {
            self.line(depth, &format!("reserved {};", ranges.join(", ")));
        }
        if !names.is_empty() {
            let names: Vec<String> = names.iter().map(|n| quote(n.as_bytes())).collect();
            self.line(depth, &format!("reserved {};", names.join(", ")));
        }
    }

    fn enumeration(&mut self, e: &EnumDescriptor, depth: usize) -> Option<()> {
        self.line(depth, &format!("enum {} {{", e.name()));
        self.option_lines(depth + 1, &e.options(), &[])?;
        for v in e.values() {
            let opts = bracketed(&options(&v.options(), &[])?);
            self.line(depth + 1, &format!("{} = {}{opts};", v.name(), v.number()));
        }
        let proto = e.enum_descriptor_proto();
        let ranges: Vec<String> = proto
            .reserved_range
            .iter()
            .map(|r| range(r.start(), r.end(), i32::MAX))
            .collect();
        self.reserved(depth + 1, &ranges, &proto.reserved_name);
        self.line(depth, "}");
        Some(())
    }

    fn service(&mut self, s: &ServiceDescriptor) -> Option<()> {
        self.line(0, &format!("service {} {{", s.name()));
        self.option_lines(1, &s.options(), &[])?;
        for m in s.methods() {
            let stream = |on: bool| if on { "stream " } else { "" };
            let head = format!(
                "rpc {}({}.{}) returns ({}.{})",
                m.name(),
                stream(m.is_client_streaming()),
                m.input().full_name(),
                stream(m.is_server_streaming()),
                m.output().full_name()
            );
            let opts = options(&m.options(), &[])?;
            if opts.is_empty() {
                self.line(1, &format!("{head};"));
            } else {
                self.line(1, &format!("{head} {{"));
                for (name, value) in opts {
                    self.line(2, &format!("option {name} = {value};"));
                }
                self.line(1, "}");
            }
        }
        self.line(0, "}");
        Some(())
    }

    /// `extend .Msg { ... }` blocks, one per extended message, in order of appearance.
    fn extend_blocks(
        &mut self,
        extensions: &[prost_reflect::ExtensionDescriptor],
        depth: usize,
    ) -> Option<()> {
        let mut extendees: Vec<String> = Vec::new();
        for x in extensions {
            let name = x.containing_message().full_name().to_string();
            if !extendees.contains(&name) {
                extendees.push(name);
            }
        }
        for extendee in extendees {
            self.line(depth, &format!("extend .{extendee} {{"));
            for x in extensions
                .iter()
                .filter(|x| x.containing_message().full_name() == extendee)
            {
                let like = FieldLike {
                    name: x.name(),
                    number: x.number(),
                    kind: x.kind(),
                    cardinality: x.cardinality(),
                    proto: x.field_descriptor_proto(),
                    options: x.options(),
                    in_oneof: false,
                    map: None,
                };
                self.field(&like, depth + 1)?;
            }
            self.line(depth, "}");
        }
        Some(())
    }
}

/// `a`, `a to b` or `a to max` (both ends included; `max` is the largest number allowed).
fn range(start: i32, end: i32, max: i32) -> String {
    match (start == end, end >= max) {
        (true, _) => start.to_string(),
        (false, true) => format!("{start} to max"),
        (false, false) => format!("{start} to {end}"),
    }
}
