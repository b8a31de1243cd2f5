//! Avro payloads: a walker over Avro's binary encoding driven by an `apache-avro` schema.
//! It checks a datum (every varint well formed, every length within the payload, enum and
//! union indexes in range, strings UTF-8, no bytes after the datum) and, when asked, builds
//! its JSON form. It allocates nothing from a length field: a length is compared with what
//! is left of the payload before anything is read, array and map items are bounded by the
//! payload's size (plus a small allowance for items that take no bytes) and nesting by
//! [`MAX_DEPTH`]. `apache-avro`'s own decoder is not used on produce: it allocates a
//! collection's claimed size up front (up to its 512 MiB default) and reads a truncated
//! string or union as a null.
//!
//! JSON form: records and maps as objects, unions as the chosen branch's value, enums as
//! the symbol, bytes and fixed as Avro's JSON encoding (one character per byte), logical
//! types as their underlying value (a uuid as its text), NaN and infinities as `null`; or,
//! for the REST Proxy, Avro's JSON encoding (unions tagged with their branch). The other
//! way, JSON to binary, is in [`encode`].

use std::collections::HashMap;

use apache_avro::schema::{Name, NamespaceRef, RecordSchema, ResolvedSchema};
use apache_avro::Schema;
use serde_json::{Map, Number, Value};

use crate::error::{SchemaError, SchemaResult};
use crate::formats::Source;
use shape::{shape, Shape};

/// Deepest nesting of records, arrays and maps walked.
pub const MAX_DEPTH: usize = 64;
/// Items (array elements, map entries) allowed beyond one per payload byte, for items that
/// take no bytes (nulls, empty records).
const ITEM_ALLOWANCE: usize = 1024;

/// A compiled Avro schema with its named types.
pub struct AvroPayload {
    root: Schema,
    names: HashMap<Name, Schema>,
}

/// Why a payload is refused: where (field path) and what.
struct Refused {
    path: Vec<String>,
    what: String,
}

fn refuse<T>(what: impl Into<String>) -> Result<T, Refused> {
    Err(Refused {
        path: Vec::new(),
        what: what.into(),
    })
}

/// Adds `segment` to the path of an error unwinding through a field or an item.
fn at<T>(result: Result<T, Refused>, segment: impl ToString) -> Result<T, Refused> {
    result.map_err(|mut e| {
        e.path.push(segment.to_string());
        e
    })
}

impl AvroPayload {
    /// Compiles `source`. Errors: `InvalidSchema`.
    pub fn new(source: Source<'_>) -> SchemaResult<AvroPayload> {
        let (root, deps) = crate::formats::avro::schemata(source)?;
        let mut all: Vec<&Schema> = deps.iter().collect();
        all.push(&root);
        let resolved = ResolvedSchema::new_with_schemata(all)
            .map_err(|e| SchemaError::InvalidSchema(format!("Invalid Avro schema: {e}")))?;
        let names = resolved
            .get_names()
            .iter()
            .map(|(name, schema)| (name.clone(), (*schema).clone()))
            .collect();
        Ok(AvroPayload { root, names })
    }

    /// Checks that `payload` is exactly one datum of the schema. Errors: why not.
    pub fn check(&self, payload: &[u8]) -> Result<(), String> {
        self.run::<false>(payload, false).map(drop)
    }

    /// The datum in `payload` as JSON. Errors: why it does not decode.
    pub fn to_json(&self, payload: &[u8]) -> Result<Value, String> {
        self.run::<true>(payload, false)
    }

    /// The datum in Avro's JSON encoding (a non-null union value as `{"<branch>": value}`),
    /// as Confluent's REST Proxy shows it. Errors: why it does not decode.
    pub fn to_tagged_json(&self, payload: &[u8]) -> Result<Value, String> {
        self.run::<true>(payload, true)
    }

    fn run<const BUILD: bool>(&self, payload: &[u8], tagged: bool) -> Result<Value, String> {
        let mut walker = Walker {
            buf: payload,
            pos: 0,
            names: &self.names,
            items_left: payload.len().saturating_add(ITEM_ALLOWANCE),
            tagged,
        };
        let value = walker
            .datum::<BUILD>(&self.root, None, 0)
            .map_err(|e| describe(e, walker.pos))?;
        if walker.pos != payload.len() {
            return Err(format!(
                "{} byte(s) follow the Avro datum",
                payload.len() - walker.pos
            ));
        }
        Ok(value)
    }
}

fn describe(e: Refused, pos: usize) -> String {
    if e.path.is_empty() {
        format!("{} (at byte {pos})", e.what)
    } else {
        let path: Vec<&str> = e.path.iter().rev().map(String::as_str).collect();
        format!("field '{}': {} (at byte {pos})", path.join("."), e.what)
    }
}

struct Walker<'a> {
    buf: &'a [u8],
    pos: usize,
    names: &'a HashMap<Name, Schema>,
    items_left: usize,
    tagged: bool,
}

impl<'a> Walker<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Refused> {
        let left = self.buf.len() - self.pos;
        if n > left {
            return refuse(format!("needs {n} byte(s), {left} left"));
        }
        let bytes = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(bytes)
    }

    /// A zigzag varint of at most 10 bytes.
    fn long(&mut self) -> Result<i64, Refused> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let [byte] = self.take(1)? else {
                return refuse("truncated varint");
            };
            if i == 9 && *byte > 1 {
                return refuse("varint overflows 64 bits");
            }
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                return Ok((value >> 1) as i64 ^ -((value & 1) as i64));
            }
        }
        refuse("varint longer than 10 bytes")
    }

    fn int(&mut self) -> Result<i32, Refused> {
        let n = self.long()?;
        i32::try_from(n).or_else(|_| refuse(format!("{n} does not fit an int")))
    }

    /// A length or count: not negative and at most what is left.
    fn len(&mut self) -> Result<usize, Refused> {
        let n = self.long()?;
        let left = self.buf.len() - self.pos;
        match usize::try_from(n) {
            Ok(len) if len <= left => Ok(len),
            _ => refuse(format!("length {n} with {left} byte(s) left")),
        }
    }

    fn bytes_json<const BUILD: bool>(&mut self, n: usize) -> Result<Value, Refused> {
        let bytes = self.take(n)?;
        Ok(if BUILD {
            Value::String(bytes.iter().map(|&b| char::from(b)).collect())
        } else {
            Value::Null
        })
    }

    fn string<const BUILD: bool>(&mut self) -> Result<Value, Refused> {
        let n = self.len()?;
        let bytes = self.take(n)?;
        let text = std::str::from_utf8(bytes).or_else(|_| refuse("string is not UTF-8"))?;
        Ok(if BUILD {
            Value::String(text.to_string())
        } else {
            Value::Null
        })
    }

    fn number<const BUILD: bool>(&self, n: i64) -> Value {
        if BUILD {
            Value::Number(n.into())
        } else {
            Value::Null
        }
    }

    fn float<const BUILD: bool>(&self, f: f64) -> Value {
        match BUILD {
            true => Number::from_f64(f).map_or(Value::Null, Value::Number),
            false => Value::Null,
        }
    }

    fn datum<const BUILD: bool>(
        &mut self,
        schema: &Schema,
        ns: NamespaceRef<'_>,
        depth: usize,
    ) -> Result<Value, Refused> {
        if depth > MAX_DEPTH {
            return refuse(format!("nested deeper than {MAX_DEPTH}"));
        }
        match shape(schema) {
            Shape::Null => Ok(Value::Null),
            Shape::Boolean => match self.take(1)? {
                [0] => Ok(Value::Bool(false)),
                [1] => Ok(Value::Bool(true)),
                other => refuse(format!("boolean byte {other:?} is not 0 or 1")),
            },
            Shape::Int => {
                let n = self.int()?;
                Ok(self.number::<BUILD>(n.into()))
            }
            Shape::Long => {
                let n = self.long()?;
                Ok(self.number::<BUILD>(n))
            }
            Shape::Float => {
                let b = self.take(4)?;
                let f = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                Ok(self.float::<BUILD>(f.into()))
            }
            Shape::Double => {
                let b = self.take(8)?;
                let mut raw = [0u8; 8];
                raw.copy_from_slice(b);
                Ok(self.float::<BUILD>(f64::from_le_bytes(raw)))
            }
            Shape::Bytes => {
                let n = self.len()?;
                self.bytes_json::<BUILD>(n)
            }
            Shape::String => self.string::<BUILD>(),
            Shape::Fixed(f) => self.bytes_json::<BUILD>(f.size),
            Shape::Enum(e) => {
                let i = self.int()?;
                match usize::try_from(i).ok().and_then(|i| e.symbols.get(i)) {
                    Some(symbol) if BUILD => Ok(Value::String(symbol.clone())),
                    Some(_) => Ok(Value::Null),
                    None => refuse(format!(
                        "enum index {i} out of range ({} symbols)",
                        e.symbols.len()
                    )),
                }
            }
            Shape::Union(u) => self.union::<BUILD>(u.variants(), ns, depth),
            Shape::Record(r) => self.record::<BUILD>(r, ns, depth),
            Shape::Array(items) => self.blocks::<BUILD>(items, false, ns, depth),
            Shape::Map(values) => self.blocks::<BUILD>(values, true, ns, depth),
            Shape::Ref(name) => {
                let full = name.fully_qualified_name(ns);
                let names: &'a HashMap<Name, Schema> = self.names;
                match names.get(full.as_ref()) {
                    Some(named) => self.datum::<BUILD>(named, full.namespace(), depth),
                    None => refuse(format!("unknown named type '{}'", full.fullname(None))),
                }
            }
        }
    }

    /// A union: the branch index, then the branch's datum (tagged with the branch's name
    /// for the REST Proxy's rendering).
    fn union<const BUILD: bool>(
        &mut self,
        variants: &[Schema],
        ns: NamespaceRef<'_>,
        depth: usize,
    ) -> Result<Value, Refused> {
        let i = self.long()?;
        let Some(branch) = usize::try_from(i).ok().and_then(|i| variants.get(i)) else {
            return refuse(format!(
                "union branch {i} out of range ({} branches)",
                variants.len()
            ));
        };
        let value = self.datum::<BUILD>(branch, ns, depth)?;
        Ok(
            match BUILD && self.tagged && !matches!(branch, Schema::Null) {
                true => serde_json::json!({ shape::branch_name(branch, ns): value }),
                false => value,
            },
        )
    }

    fn record<const BUILD: bool>(
        &mut self,
        record: &RecordSchema,
        ns: NamespaceRef<'_>,
        depth: usize,
    ) -> Result<Value, Refused> {
        let full = record.name.fully_qualified_name(ns);
        let inner = full.namespace();
        let mut object = Map::new();
        for field in &record.fields {
            let value = at(
                self.datum::<BUILD>(&field.schema, inner, depth + 1),
                &field.name,
            )?;
            if BUILD {
                object.insert(field.name.clone(), value);
            }
        }
        Ok(if BUILD {
            Value::Object(object)
        } else {
            Value::Null
        })
    }

    /// Array or map blocks: a count (negative: its absolute value, then the block's byte
    /// size), the items, until a count of 0.
    fn blocks<const BUILD: bool>(
        &mut self,
        items: &Schema,
        is_map: bool,
        ns: NamespaceRef<'_>,
        depth: usize,
    ) -> Result<Value, Refused> {
        let mut list = Vec::new();
        let mut object = Map::new();
        let mut index = 0usize;
        loop {
            let raw = self.long()?;
            if raw == 0 {
                break;
            }
            if raw < 0 {
                self.long()?;
            }
            let count = usize::try_from(raw.unsigned_abs()).unwrap_or(usize::MAX);
            if count > self.items_left {
                return refuse(format!("block of {count} items exceeds the payload"));
            }
            self.items_left -= count;
            for _ in 0..count {
                let key = if is_map {
                    at(self.string::<BUILD>(), index)?
                } else {
                    Value::Null
                };
                let value = at(self.datum::<BUILD>(items, ns, depth + 1), index)?;
                if BUILD {
                    match key {
                        Value::String(k) => drop(object.insert(k, value)),
                        _ => list.push(value),
                    }
                }
                index += 1;
            }
        }
        Ok(match (BUILD, is_map) {
            (false, _) => Value::Null,
            (true, true) => Value::Object(object),
            (true, false) => Value::Array(list),
        })
    }
}

pub mod encode;
pub mod shape;
pub mod stream;

#[cfg(test)]
mod tests;
