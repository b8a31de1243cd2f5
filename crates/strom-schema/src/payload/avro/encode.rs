//! JSON to Avro binary, for producers that send JSON (the REST Proxy's `avro` embedded
//! format, `strom produce --schema`): the input is read in Avro's JSON encoding as
//! Confluent's REST Proxy reads it (a union as `null` or `{"<branch type>": value}`, bytes
//! and fixed as strings of code points 0-255, enums as their symbol), a missing record
//! field takes its default, and the datum is written in Avro's binary encoding. Strom's own
//! produce API also reads a union as a bare value ([`Unions::Either`]), the way Strom's
//! readers show it, so what is read can be written back.

use apache_avro::schema::{NamespaceRef, RecordField, RecordSchema};
use apache_avro::Schema;
use serde_json::Value;

use super::shape::{branch_name, shape, Shape};
use super::{AvroPayload, MAX_DEPTH};

/// Why a JSON value does not convert, with the field path.
type Converted = Result<(), String>;

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn expected(what: &str, got: &Value) -> String {
    format!("expected {what}, got {}", kind(got))
}

pub(super) fn zigzag(out: &mut Vec<u8>, n: i64) {
    let mut z = ((n << 1) ^ (n >> 63)) as u64;
    loop {
        let byte = (z & 0x7f) as u8;
        z >>= 7;
        if z == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A string of code points 0-255 as bytes (Avro's JSON encoding of bytes and fixed).
pub(super) fn latin1(v: &Value) -> Result<Vec<u8>, String> {
    let Value::String(s) = v else {
        return Err(expected("a string of bytes", v));
    };
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).map_err(|_| format!("character {c:?} is not a byte")))
        .collect()
}

/// How union values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unions {
    /// Avro's JSON encoding, as the REST Proxy reads it: `null` or `{"<branch>": value}`.
    Tagged,
    /// Also a bare value, as Strom's readers show unions: the first branch it converts to
    /// (a one-key object naming a branch is still read as tagged).
    Either,
}

/// Branch attempts allowed for one datum in [`Unions::Either`] (a value is tried against
/// the branches in turn; nested unions could otherwise multiply the attempts).
const MAX_BRANCH_TRIES: usize = 10_000;

impl AvroPayload {
    /// `value` (Avro's JSON encoding) as one Avro binary datum. Errors: where and why it
    /// does not convert.
    pub fn encode(&self, value: &Value) -> Result<Vec<u8>, String> {
        self.encode_with(value, Unions::Tagged)
    }

    /// [`Self::encode`], reading unions as `unions` says.
    pub fn encode_with(&self, value: &Value, unions: Unions) -> Result<Vec<u8>, String> {
        let mut e = Encoder::new(self, unions);
        let result = e.put(&self.root, None, value, 0);
        result.map_err(|why| e.describe(why))?;
        Ok(e.out)
    }
}

/// One conversion in progress: the bytes written and, on failure, the field path (also
/// used by the streaming converter, [`super::stream`], for unions and defaults).
pub(super) struct Encoder<'p> {
    pub(super) payload: &'p AvroPayload,
    pub(super) out: Vec<u8>,
    pub(super) path: Vec<String>,
    unions: Unions,
    tries_left: usize,
}

impl<'p> Encoder<'p> {
    pub(super) fn new(payload: &'p AvroPayload, unions: Unions) -> Encoder<'p> {
        Encoder {
            payload,
            out: Vec::new(),
            path: Vec::new(),
            unions,
            tries_left: MAX_BRANCH_TRIES,
        }
    }

    /// `why` with the field path, if any.
    pub(super) fn describe(&self, why: String) -> String {
        match self.path.is_empty() {
            true => why,
            false => format!("field '{}': {why}", self.path.join(".")),
        }
    }

    /// The default of a record field the input left out. Errors: it has none (the path
    /// then names the field).
    pub(super) fn put_default(
        &mut self,
        field: &RecordField,
        ns: NamespaceRef<'_>,
        depth: usize,
    ) -> Converted {
        let result = match &field.default {
            None => Err("missing, and the field has no default".to_string()),
            Some(given) => self.put_field(field, ns, given, false, depth),
        };
        if result.is_err() {
            self.path.insert(0, field.name.clone());
        }
        result
    }

    /// A field's value (`given` says whether the input had it: a default of a union is a
    /// value of its first branch, without the tag).
    fn put_field(
        &mut self,
        field: &RecordField,
        ns: NamespaceRef<'_>,
        value: &Value,
        given: bool,
        depth: usize,
    ) -> Converted {
        match (&field.schema, given) {
            (Schema::Union(u), false) if !value.is_null() => match u.variants().first() {
                Some(first) => {
                    zigzag(&mut self.out, 0);
                    self.put(first, ns, value, depth)
                }
                None => Err("empty union".into()),
            },
            _ => self.put(&field.schema, ns, value, depth),
        }
    }

    pub(super) fn put(
        &mut self,
        schema: &Schema,
        ns: NamespaceRef<'_>,
        v: &Value,
        depth: usize,
    ) -> Converted {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        let out = &mut self.out;
        match shape(schema) {
            Shape::Null if v.is_null() => Ok(()),
            Shape::Null => Err(expected("null", v)),
            Shape::Boolean => match v {
                Value::Bool(b) => {
                    out.push(u8::from(*b));
                    Ok(())
                }
                _ => Err(expected("a boolean", v)),
            },
            Shape::Int => {
                let n = v.as_i64().and_then(|n| i32::try_from(n).ok());
                zigzag(out, n.ok_or_else(|| expected("an int", v))?.into());
                Ok(())
            }
            Shape::Long => {
                zigzag(out, v.as_i64().ok_or_else(|| expected("a long", v))?);
                Ok(())
            }
            Shape::Float => {
                let f = v.as_f64().ok_or_else(|| expected("a float", v))?;
                out.extend_from_slice(&(f as f32).to_le_bytes());
                Ok(())
            }
            Shape::Double => {
                let f = v.as_f64().ok_or_else(|| expected("a double", v))?;
                out.extend_from_slice(&f.to_le_bytes());
                Ok(())
            }
            Shape::String => match v {
                Value::String(s) => {
                    put_bytes(out, s.as_bytes());
                    Ok(())
                }
                _ => Err(expected("a string", v)),
            },
            Shape::Bytes => {
                put_bytes(out, &latin1(v)?);
                Ok(())
            }
            Shape::Fixed(f) => put_fixed(out, f.size, v),
            Shape::Enum(e) => {
                let symbol = v.as_str().ok_or_else(|| expected("an enum symbol", v))?;
                let i = e.symbols.iter().position(|s| s == symbol);
                let i = i.ok_or_else(|| format!("'{symbol}' is not a symbol of the enum"))?;
                zigzag(out, i as i64);
                Ok(())
            }
            Shape::Union(u) => self.union(u.variants(), ns, v, depth),
            Shape::Record(r) => self.record(r, ns, v, depth),
            Shape::Array(items) => match v {
                Value::Array(list) => {
                    self.blocks(list.iter().map(|i| (None, i)), list.len(), items, ns, depth)
                }
                _ => Err(expected("an array", v)),
            },
            Shape::Map(values) => match v {
                Value::Object(map) => {
                    let entries = map.iter().map(|(k, v)| (Some(k.as_str()), v));
                    self.blocks(entries, map.len(), values, ns, depth)
                }
                _ => Err(expected("an object (map)", v)),
            },
            Shape::Ref(name) => {
                let full = name.fully_qualified_name(ns);
                match self.payload.names.get(full.as_ref()) {
                    Some(named) => self.put(named, full.namespace(), v, depth),
                    None => Err(format!("unknown named type '{}'", full.fullname(None))),
                }
            }
        }
    }

    /// `null`, or `{"<branch>": value}` naming one branch of the union; with
    /// [`Unions::Either`] also a bare value of one of the branches.
    fn union(
        &mut self,
        variants: &[Schema],
        ns: NamespaceRef<'_>,
        v: &Value,
        depth: usize,
    ) -> Converted {
        let tagged = match v {
            Value::Null => variants
                .iter()
                .position(|s| matches!(s, Schema::Null))
                .map(|i| (i, v))
                .ok_or_else(|| "null is not a branch of the union".to_string())
                .map(Some)?,
            Value::Object(map) if map.len() == 1 => map.iter().next().and_then(|(name, inner)| {
                let i = variants.iter().position(|s| branch_name(s, ns) == *name)?;
                Some((i, inner))
            }),
            _ => None,
        };
        if let Some((i, inner)) = tagged {
            zigzag(&mut self.out, i as i64);
            return self.put(&variants[i], ns, inner, depth);
        }
        if self.unions == Unions::Either {
            if let Some(done) = self.first_branch(variants, ns, v, depth) {
                return done;
            }
        }
        let names: Vec<String> = variants.iter().map(|s| branch_name(s, ns)).collect();
        Err(match (self.unions, v) {
            (Unions::Tagged, Value::Object(map)) if map.len() == 1 => {
                let name = map.keys().next().map_or("", String::as_str);
                format!("'{name}' is not a branch of the union")
            }
            (Unions::Tagged, _) => format!(
                "expected null or {{\"<type>\": value}} with a type of [{}], got {}",
                names.join(", "),
                kind(v)
            ),
            (Unions::Either, _) => format!(
                "{} matches no branch of the union [{}]",
                kind(v),
                names.join(", ")
            ),
        })
    }

    /// The first non-null branch `v` converts to, written; `None` when none does (nothing
    /// written), `Some(Err)` when the attempts ran out.
    fn first_branch(
        &mut self,
        variants: &[Schema],
        ns: NamespaceRef<'_>,
        v: &Value,
        depth: usize,
    ) -> Option<Converted> {
        let mark = self.out.len();
        for (i, branch) in variants.iter().enumerate() {
            if matches!(branch, Schema::Null) {
                continue;
            }
            if self.tries_left == 0 {
                return Some(Err("too many union branches to try".into()));
            }
            self.tries_left -= 1;
            zigzag(&mut self.out, i as i64);
            if self.put(branch, ns, v, depth).is_ok() {
                return Some(Ok(()));
            }
            // Nothing was unwinding when the union was entered: the path is this try's.
            self.out.truncate(mark);
            self.path.clear();
        }
        None
    }

    fn record(
        &mut self,
        record: &RecordSchema,
        ns: NamespaceRef<'_>,
        v: &Value,
        depth: usize,
    ) -> Converted {
        let Value::Object(map) = v else {
            return Err(expected("an object (record)", v));
        };
        let full = record.name.fully_qualified_name(ns);
        for field in &record.fields {
            let result = match map.get(&field.name) {
                None => self.put_default(field, full.namespace(), depth + 1),
                Some(given) => self.put_field(field, full.namespace(), given, true, depth + 1),
            };
            if let Err(why) = result {
                if map.contains_key(&field.name) {
                    self.path.insert(0, field.name.clone());
                }
                return Err(why);
            }
        }
        Ok(())
    }

    /// One block with every item (an array's or a map's), then the end block.
    fn blocks<'v>(
        &mut self,
        items: impl Iterator<Item = (Option<&'v str>, &'v Value)>,
        count: usize,
        schema: &Schema,
        ns: NamespaceRef<'_>,
        depth: usize,
    ) -> Converted {
        if count > 0 {
            zigzag(&mut self.out, count as i64);
            for (i, (key, item)) in items.enumerate() {
                if let Some(key) = key {
                    put_bytes(&mut self.out, key.as_bytes());
                }
                if let Err(e) = self.put(schema, ns, item, depth + 1) {
                    self.path
                        .insert(0, key.map_or_else(|| i.to_string(), str::to_string));
                    return Err(e);
                }
            }
        }
        zigzag(&mut self.out, 0);
        Ok(())
    }
}

pub(super) fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    zigzag(out, bytes.len() as i64);
    out.extend_from_slice(bytes);
}

fn put_fixed(out: &mut Vec<u8>, size: usize, v: &Value) -> Converted {
    let bytes = latin1(v)?;
    if bytes.len() != size {
        return Err(format!("fixed of {size} bytes, got {}", bytes.len()));
    }
    out.extend_from_slice(&bytes);
    Ok(())
}

#[cfg(test)]
mod tests;
