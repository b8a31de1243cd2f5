//! JSON text to Avro binary while parsing: a `serde` seed driven by the schema reads the
//! JSON with `serde_json`'s deserializer and writes each datum's binary encoding as it goes,
//! with no JSON tree in between (Strom's produce API, `value_schema_id`). It reads what
//! [`super::encode`] reads and fails with the same messages and field paths; only a union
//! (whose branch may depend on the whole value) and a missing field's default go through
//! that tree encoder. Record fields may come in any order (those after a gap are buffered
//! until the record is complete); a field given twice is refused. An array's or a map's
//! item count, unknown until its end, is inserted before its items once they are written.

use std::fmt;

use apache_avro::schema::{NamespaceRef, RecordSchema};
use apache_avro::Schema;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::encode::{latin1, put_bytes, zigzag, Encoder, Unions};
use super::shape::{shape, Shape};
use super::{AvroPayload, MAX_DEPTH};

/// One conversion: the bytes written, and the first failure with its field path.
struct Stream<'p> {
    tree: Encoder<'p>,
    /// Why the conversion failed (set where it failed; serde's own error is then only a
    /// signal to unwind).
    failed: Option<String>,
}

impl AvroPayload {
    /// `json` (JSON text) as one Avro binary datum, converted while it is parsed, reading
    /// unions as `unions` says. Errors: where and why it does not convert (as
    /// [`AvroPayload::encode_with`]), or why it is not JSON.
    pub fn encode_text(&self, json: &str, unions: Unions) -> Result<Vec<u8>, String> {
        let mut st = Stream {
            tree: Encoder::new(self, unions),
            failed: None,
        };
        let mut de = serde_json::Deserializer::from_str(json);
        let seed = Datum {
            st: &mut st,
            schema: &self.root,
            ns: None,
            depth: 0,
        };
        let parsed = seed.deserialize(&mut de).and_then(|()| de.end());
        match (parsed, st.failed) {
            (Ok(()), _) => Ok(st.tree.out),
            (Err(_), Some(why)) => Err(st.tree.describe(why)),
            (Err(e), None) => Err(format!("not JSON: {e}")),
        }
    }
}

/// The datum of `schema` at this point of the input.
struct Datum<'a, 'p, 'n> {
    st: &'a mut Stream<'p>,
    schema: &'p Schema,
    ns: NamespaceRef<'n>,
    depth: usize,
}

fn kind_of_number() -> &'static str {
    "a number"
}

impl<'p> Datum<'_, 'p, '_> {
    /// Records `why` (unless a deeper failure is already recorded) and unwinds.
    fn fail<E: serde::de::Error>(&mut self, why: String) -> E {
        if self.st.failed.is_none() {
            self.st.failed = Some(why);
        }
        E::custom("conversion failed")
    }

    fn expected<E: serde::de::Error>(&mut self, got: &str) -> E {
        let what = match shape(self.schema) {
            Shape::Null => "null",
            Shape::Boolean => "a boolean",
            Shape::Int => "an int",
            Shape::Long => "a long",
            Shape::Float => "a float",
            Shape::Double => "a double",
            Shape::String => "a string",
            Shape::Bytes | Shape::Fixed(_) => "a string of bytes",
            Shape::Enum(_) => "an enum symbol",
            Shape::Record(_) => "an object (record)",
            Shape::Array(_) => "an array",
            Shape::Map(_) => "an object (map)",
            Shape::Union(_) | Shape::Ref(_) => "a value",
        };
        self.fail(format!("expected {what}, got {got}"))
    }

    fn out(&mut self) -> &mut Vec<u8> {
        &mut self.st.tree.out
    }

    fn number<E: serde::de::Error>(&mut self, int: Option<i64>, float: f64) -> Result<(), E> {
        match shape(self.schema) {
            Shape::Int => match int.and_then(|n| i32::try_from(n).ok()) {
                Some(n) => zigzag(self.out(), n.into()),
                None => return Err(self.expected(kind_of_number())),
            },
            Shape::Long => match int {
                Some(n) => zigzag(self.out(), n),
                None => return Err(self.expected(kind_of_number())),
            },
            Shape::Float => self.out().extend_from_slice(&(float as f32).to_le_bytes()),
            Shape::Double => self.out().extend_from_slice(&float.to_le_bytes()),
            _ => return Err(self.expected(kind_of_number())),
        }
        Ok(())
    }

    fn text<E: serde::de::Error>(&mut self, s: &str) -> Result<(), E> {
        match shape(self.schema) {
            Shape::String => put_bytes(self.out(), s.as_bytes()),
            Shape::Bytes => {
                let bytes = latin1(&Value::String(s.to_string())).map_err(|w| self.fail(w))?;
                put_bytes(self.out(), &bytes);
            }
            Shape::Fixed(f) => {
                let bytes = latin1(&Value::String(s.to_string())).map_err(|w| self.fail(w))?;
                if bytes.len() != f.size {
                    let why = format!("fixed of {} bytes, got {}", f.size, bytes.len());
                    return Err(self.fail(why));
                }
                self.out().extend_from_slice(&bytes);
            }
            Shape::Enum(e) => match e.symbols.iter().position(|x| x == s) {
                Some(i) => zigzag(self.out(), i as i64),
                None => return Err(self.fail(format!("'{s}' is not a symbol of the enum"))),
            },
            _ => return Err(self.expected("a string")),
        }
        Ok(())
    }
}

impl<'de, 'p> DeserializeSeed<'de> for Datum<'_, 'p, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(mut self, d: D) -> Result<(), D::Error> {
        if self.depth > MAX_DEPTH {
            return Err(self.fail(format!("nested deeper than {MAX_DEPTH}")));
        }
        match shape(self.schema) {
            Shape::Union(_) => {
                // The branch may depend on the whole value: read it, then convert the tree.
                let value = Value::deserialize(d)?;
                let (schema, ns, depth) = (self.schema, self.ns, self.depth);
                match self.st.tree.put(schema, ns, &value, depth) {
                    Ok(()) => Ok(()),
                    Err(why) => Err(self.fail(why)),
                }
            }
            Shape::Ref(name) => {
                let full = name.fully_qualified_name(self.ns);
                let payload = self.st.tree.payload;
                match payload.names.get(full.as_ref()) {
                    Some(named) => Datum {
                        st: self.st,
                        schema: named,
                        ns: full.namespace(),
                        depth: self.depth,
                    }
                    .deserialize(d),
                    None => {
                        let why = format!("unknown named type '{}'", full.fullname(None));
                        Err(self.fail(why))
                    }
                }
            }
            _ => d.deserialize_any(self),
        }
    }
}

impl<'de, 'p> Visitor<'de> for Datum<'_, 'p, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: serde::de::Error>(mut self) -> Result<(), E> {
        match shape(self.schema) {
            Shape::Null => Ok(()),
            _ => Err(self.expected("null")),
        }
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_bool<E: serde::de::Error>(mut self, b: bool) -> Result<(), E> {
        match shape(self.schema) {
            Shape::Boolean => {
                self.out().push(u8::from(b));
                Ok(())
            }
            _ => Err(self.expected("a boolean")),
        }
    }

    fn visit_i64<E: serde::de::Error>(mut self, n: i64) -> Result<(), E> {
        self.number(Some(n), n as f64)
    }

    fn visit_u64<E: serde::de::Error>(mut self, n: u64) -> Result<(), E> {
        self.number(i64::try_from(n).ok(), n as f64)
    }

    fn visit_f64<E: serde::de::Error>(mut self, f: f64) -> Result<(), E> {
        self.number(None, f)
    }

    fn visit_str<E: serde::de::Error>(mut self, s: &str) -> Result<(), E> {
        self.text(s)
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let Shape::Array(items) = shape(self.schema) else {
            return Err(self.expected("an array"));
        };
        let start = self.out().len();
        let mut count = 0usize;
        loop {
            let seed = Datum {
                st: &mut *self.st,
                schema: items,
                ns: self.ns,
                depth: self.depth + 1,
            };
            match seq.next_element_seed(seed) {
                Ok(Some(())) => count += 1,
                Ok(None) => break,
                Err(e) => {
                    self.st.tree.path.insert(0, count.to_string());
                    return Err(e);
                }
            }
        }
        finish_block(self.out(), start, count);
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, map: A) -> Result<(), A::Error> {
        match shape(self.schema) {
            Shape::Record(r) => self.record(r, map),
            Shape::Map(values) => self.map(values, map),
            _ => Err(self.expected("an object")),
        }
    }
}

/// Inserts the count of the `count` items written from `start` before them (nothing for
/// none), then writes the end block.
fn finish_block(out: &mut Vec<u8>, start: usize, count: usize) {
    if count > 0 {
        let mut head = Vec::with_capacity(10);
        zigzag(&mut head, count as i64);
        out.splice(start..start, head);
    }
    zigzag(out, 0);
}

impl<'de, 'p> Datum<'_, 'p, '_> {
    fn map<A: MapAccess<'de>>(mut self, values: &'p Schema, mut map: A) -> Result<(), A::Error> {
        let start = self.out().len();
        let mut count = 0usize;
        while let Some(key) = map.next_key::<String>()? {
            put_bytes(self.out(), key.as_bytes());
            let seed = Datum {
                st: &mut *self.st,
                schema: values,
                ns: self.ns,
                depth: self.depth + 1,
            };
            if let Err(e) = map.next_value_seed(seed) {
                self.st.tree.path.insert(0, key);
                return Err(e);
            }
            count += 1;
        }
        finish_block(self.out(), start, count);
        Ok(())
    }

    /// The fields as they come: the next one in schema order is written in place, any
    /// other into `later` until the ones before it are written or defaulted.
    fn record<A: MapAccess<'de>>(
        mut self,
        r: &'p RecordSchema,
        mut map: A,
    ) -> Result<(), A::Error> {
        let full = r.name.fully_qualified_name(self.ns);
        let inner = full.namespace();
        let mut next = 0usize;
        let mut later: Vec<Option<Vec<u8>>> = Vec::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let Some(i) = r.fields.iter().position(|f| f.name == key.as_ref()) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let given = i < next || later.get(i).is_some_and(Option::is_some);
            if given {
                self.st.tree.path.insert(0, key.into_owned());
                return Err(self.fail("given twice".to_string()));
            }
            let direct = i == next;
            let mark = self.out().len();
            let seed = Datum {
                st: &mut *self.st,
                schema: &r.fields[i].schema,
                ns: inner,
                depth: self.depth + 1,
            };
            if let Err(e) = map.next_value_seed(seed) {
                self.st.tree.path.insert(0, key.into_owned());
                return Err(e);
            }
            if direct {
                next += 1;
                self.flush_later(&mut later, &mut next);
            } else {
                let bytes = self.out().split_off(mark);
                if later.len() <= i {
                    later.resize(i + 1, None);
                }
                later[i] = Some(bytes);
            }
        }
        while next < r.fields.len() {
            if later.get(next).is_none_or(Option::is_none) {
                let (depth, ns) = (self.depth, inner);
                if let Err(why) = self.st.tree.put_default(&r.fields[next], ns, depth + 1) {
                    return Err(self.fail(why));
                }
                next += 1;
            }
            self.flush_later(&mut later, &mut next);
        }
        Ok(())
    }

    /// Writes the buffered fields that are now next in order.
    fn flush_later(&mut self, later: &mut [Option<Vec<u8>>], next: &mut usize) {
        while let Some(bytes) = later.get_mut(*next).and_then(Option::take) {
            self.out().extend_from_slice(&bytes);
            *next += 1;
        }
    }
}

#[cfg(test)]
mod tests;
