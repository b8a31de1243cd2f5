//! JSON to Avro binary, for producers that send JSON (the REST Proxy's `avro` embedded
//! format, `strom produce --schema`): the input is read in Avro's JSON encoding as
//! Confluent's REST Proxy reads it (a union as `null` or `{"<branch type>": value}`, bytes
//! and fixed as strings of code points 0-255, enums as their symbol), a missing record
//! field takes its default, and the datum is written in Avro's binary encoding. The names
//! of union branches ([`branch_name`]) are also what the tagged JSON rendering uses.

use apache_avro::schema::{InnerDecimalSchema, NamespaceRef, RecordSchema, UuidSchema};
use apache_avro::Schema;
use serde_json::Value;

use super::{AvroPayload, MAX_DEPTH};

/// Why a JSON value does not convert, with the field path.
type Converted = Result<(), String>;

/// The name a union branch goes by in Avro's JSON encoding: the full name of a named type,
/// else the (underlying) type's name.
pub fn branch_name(schema: &Schema, ns: NamespaceRef<'_>) -> String {
    let named = |name: &apache_avro::schema::Name| name.fully_qualified_name(ns).fullname(None);
    match schema {
        Schema::Null => "null".into(),
        Schema::Boolean => "boolean".into(),
        Schema::Int | Schema::Date | Schema::TimeMillis => "int".into(),
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => "long".into(),
        Schema::Float => "float".into(),
        Schema::Double => "double".into(),
        Schema::Bytes | Schema::BigDecimal | Schema::Uuid(UuidSchema::Bytes) => "bytes".into(),
        Schema::String | Schema::Uuid(UuidSchema::String) => "string".into(),
        Schema::Decimal(d) => match &d.inner {
            InnerDecimalSchema::Bytes => "bytes".into(),
            InnerDecimalSchema::Fixed(f) => named(&f.name),
        },
        Schema::Fixed(f) | Schema::Duration(f) | Schema::Uuid(UuidSchema::Fixed(f)) => {
            named(&f.name)
        }
        Schema::Enum(e) => named(&e.name),
        Schema::Record(r) => named(&r.name),
        Schema::Ref { name } => named(name),
        Schema::Array(_) => "array".into(),
        Schema::Map(_) => "map".into(),
        Schema::Union(_) => "union".into(),
    }
}

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

fn zigzag(out: &mut Vec<u8>, n: i64) {
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
fn latin1(v: &Value) -> Result<Vec<u8>, String> {
    let Value::String(s) = v else {
        return Err(expected("a string of bytes", v));
    };
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).map_err(|_| format!("character {c:?} is not a byte")))
        .collect()
}

impl AvroPayload {
    /// `value` (Avro's JSON encoding) as one Avro binary datum. Errors: where and why it
    /// does not convert.
    pub fn encode(&self, value: &Value) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut path = Vec::new();
        let result = self.put(&mut out, &self.root, None, value, 0, &mut path);
        result.map_err(|why| match path.is_empty() {
            true => why,
            false => format!("field '{}': {why}", path.join(".")),
        })?;
        Ok(out)
    }

    fn put(
        &self,
        out: &mut Vec<u8>,
        schema: &Schema,
        ns: NamespaceRef<'_>,
        v: &Value,
        depth: usize,
        path: &mut Vec<String>,
    ) -> Converted {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        match schema {
            Schema::Null if v.is_null() => Ok(()),
            Schema::Null => Err(expected("null", v)),
            Schema::Boolean => match v {
                Value::Bool(b) => {
                    out.push(u8::from(*b));
                    Ok(())
                }
                _ => Err(expected("a boolean", v)),
            },
            Schema::Int | Schema::Date | Schema::TimeMillis => {
                let n = v.as_i64().and_then(|n| i32::try_from(n).ok());
                let n = n.ok_or_else(|| expected("an int", v))?;
                zigzag(out, n.into());
                Ok(())
            }
            Schema::Long
            | Schema::TimeMicros
            | Schema::TimestampMillis
            | Schema::TimestampMicros
            | Schema::TimestampNanos
            | Schema::LocalTimestampMillis
            | Schema::LocalTimestampMicros
            | Schema::LocalTimestampNanos => {
                let n = v.as_i64().ok_or_else(|| expected("a long", v))?;
                zigzag(out, n);
                Ok(())
            }
            Schema::Float => {
                let f = v.as_f64().ok_or_else(|| expected("a float", v))?;
                out.extend_from_slice(&(f as f32).to_le_bytes());
                Ok(())
            }
            Schema::Double => {
                let f = v.as_f64().ok_or_else(|| expected("a double", v))?;
                out.extend_from_slice(&f.to_le_bytes());
                Ok(())
            }
            Schema::String | Schema::Uuid(UuidSchema::String) => match v {
                Value::String(s) => {
                    put_bytes(out, s.as_bytes());
                    Ok(())
                }
                _ => Err(expected("a string", v)),
            },
            Schema::Bytes | Schema::BigDecimal | Schema::Uuid(UuidSchema::Bytes) => {
                put_bytes(out, &latin1(v)?);
                Ok(())
            }
            Schema::Decimal(d) => match &d.inner {
                InnerDecimalSchema::Bytes => {
                    put_bytes(out, &latin1(v)?);
                    Ok(())
                }
                InnerDecimalSchema::Fixed(f) => put_fixed(out, f.size, v),
            },
            Schema::Fixed(f) | Schema::Duration(f) | Schema::Uuid(UuidSchema::Fixed(f)) => {
                put_fixed(out, f.size, v)
            }
            Schema::Enum(e) => {
                let symbol = v.as_str().ok_or_else(|| expected("an enum symbol", v))?;
                let i = e.symbols.iter().position(|s| s == symbol);
                let i = i.ok_or_else(|| format!("'{symbol}' is not a symbol of the enum"))?;
                zigzag(out, i as i64);
                Ok(())
            }
            Schema::Union(u) => self.union(out, u.variants(), ns, v, depth, path),
            Schema::Record(r) => self.record(out, r, ns, v, depth, path),
            Schema::Array(a) => match v {
                Value::Array(items) => self.blocks(
                    out,
                    items.iter().map(|i| (None, i)),
                    items.len(),
                    |w, o, item, p| w.put(o, &a.items, ns, item, depth + 1, p),
                    path,
                ),
                _ => Err(expected("an array", v)),
            },
            Schema::Map(m) => match v {
                Value::Object(map) => {
                    let entries = map.iter().map(|(k, v)| (Some(k.as_str()), v));
                    self.blocks(
                        out,
                        entries,
                        map.len(),
                        |w, o, item, p| w.put(o, &m.types, ns, item, depth + 1, p),
                        path,
                    )
                }
                _ => Err(expected("an object (map)", v)),
            },
            Schema::Ref { name } => {
                let full = name.fully_qualified_name(ns);
                match self.names.get(full.as_ref()) {
                    Some(named) => self.put(out, named, full.namespace(), v, depth, path),
                    None => Err(format!("unknown named type '{}'", full.fullname(None))),
                }
            }
        }
    }

    /// `null`, or `{"<branch>": value}` naming one branch of the union.
    fn union(
        &self,
        out: &mut Vec<u8>,
        variants: &[Schema],
        ns: NamespaceRef<'_>,
        v: &Value,
        depth: usize,
        path: &mut Vec<String>,
    ) -> Converted {
        let (index, branch, inner) = match v {
            Value::Null => {
                let i = variants.iter().position(|s| matches!(s, Schema::Null));
                let i = i.ok_or_else(|| "null is not a branch of the union".to_string())?;
                (i, &variants[i], v)
            }
            Value::Object(map) if map.len() == 1 => {
                let Some((name, inner)) = map.iter().next() else {
                    return Err(expected("a union branch", v));
                };
                let found = variants.iter().position(|s| branch_name(s, ns) == *name);
                let i = found.ok_or_else(|| format!("'{name}' is not a branch of the union"))?;
                (i, &variants[i], inner)
            }
            _ => {
                let names: Vec<String> = variants.iter().map(|s| branch_name(s, ns)).collect();
                return Err(format!(
                    "expected null or {{\"<type>\": value}} with a type of [{}], got {}",
                    names.join(", "),
                    kind(v)
                ));
            }
        };
        zigzag(out, index as i64);
        self.put(out, branch, ns, inner, depth, path)
    }

    fn record(
        &self,
        out: &mut Vec<u8>,
        record: &RecordSchema,
        ns: NamespaceRef<'_>,
        v: &Value,
        depth: usize,
        path: &mut Vec<String>,
    ) -> Converted {
        let Value::Object(map) = v else {
            return Err(expected("an object (record)", v));
        };
        let full = record.name.fully_qualified_name(ns);
        for field in &record.fields {
            let given = map.get(&field.name).or(field.default.as_ref());
            let Some(given) = given else {
                path.insert(0, field.name.clone());
                return Err("missing, and the field has no default".into());
            };
            // A default of a union is a value of its first branch, without the tag.
            let result = match (&field.schema, map.contains_key(&field.name)) {
                (Schema::Union(u), false) if !given.is_null() => match u.variants().first() {
                    Some(first) => {
                        zigzag(out, 0);
                        self.put(out, first, full.namespace(), given, depth + 1, path)
                    }
                    None => Err("empty union".into()),
                },
                _ => self.put(out, &field.schema, full.namespace(), given, depth + 1, path),
            };
            if result.is_err() {
                path.insert(0, field.name.clone());
                return result;
            }
        }
        Ok(())
    }

    /// One block with every item (an array's or a map's), then the end block.
    fn blocks<'v>(
        &self,
        out: &mut Vec<u8>,
        items: impl Iterator<Item = (Option<&'v str>, &'v Value)>,
        count: usize,
        put: impl Fn(&Self, &mut Vec<u8>, &'v Value, &mut Vec<String>) -> Converted,
        path: &mut Vec<String>,
    ) -> Converted {
        if count > 0 {
            zigzag(out, count as i64);
            for (i, (key, item)) in items.enumerate() {
                if let Some(key) = key {
                    put_bytes(out, key.as_bytes());
                }
                if let Err(e) = put(self, out, item, path) {
                    path.insert(0, key.map_or_else(|| i.to_string(), str::to_string));
                    return Err(e);
                }
            }
        }
        zigzag(out, 0);
        Ok(())
    }
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
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
