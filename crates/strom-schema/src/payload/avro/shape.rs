//! What an Avro schema is on the wire: logical types folded onto the type that carries
//! them (a `date` is an `int`, a `timestamp-millis` a `long`, a `uuid` a string, bytes or
//! fixed, a `decimal` bytes or fixed, a `duration` a fixed). The binary walker
//! ([`super::Walker`]), the JSON-to-binary encoder ([`super::encode`]) and the names of
//! union branches all match on this one shape instead of each grouping `Schema`'s variants.

use apache_avro::schema::{
    EnumSchema, FixedSchema, InnerDecimalSchema, Name, NamespaceRef, RecordSchema, UnionSchema,
    UuidSchema,
};
use apache_avro::Schema;

/// A schema as its encoding sees it.
pub enum Shape<'s> {
    Null,
    Boolean,
    /// `int`, `date`, `time-millis`: a zigzag varint within 32 bits.
    Int,
    /// `long` and every time and timestamp type but `time-millis`.
    Long,
    Float,
    Double,
    /// `bytes`, `big-decimal`, a bytes `uuid` or `decimal`: a length, then the bytes.
    Bytes,
    /// `string`, a string `uuid`: a length, then UTF-8.
    String,
    /// `fixed`, `duration`, a fixed `uuid` or `decimal`: exactly `size` bytes.
    Fixed(&'s FixedSchema),
    Enum(&'s EnumSchema),
    Union(&'s UnionSchema),
    Record(&'s RecordSchema),
    Array(&'s Schema),
    Map(&'s Schema),
    /// A named type defined elsewhere.
    Ref(&'s Name),
}

/// The shape of `schema`.
pub fn shape(schema: &Schema) -> Shape<'_> {
    match schema {
        Schema::Null => Shape::Null,
        Schema::Boolean => Shape::Boolean,
        Schema::Int | Schema::Date | Schema::TimeMillis => Shape::Int,
        Schema::Long
        | Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Shape::Long,
        Schema::Float => Shape::Float,
        Schema::Double => Shape::Double,
        Schema::Bytes | Schema::BigDecimal | Schema::Uuid(UuidSchema::Bytes) => Shape::Bytes,
        Schema::String | Schema::Uuid(UuidSchema::String) => Shape::String,
        Schema::Decimal(d) => match &d.inner {
            InnerDecimalSchema::Bytes => Shape::Bytes,
            InnerDecimalSchema::Fixed(f) => Shape::Fixed(f),
        },
        Schema::Fixed(f) | Schema::Duration(f) | Schema::Uuid(UuidSchema::Fixed(f)) => {
            Shape::Fixed(f)
        }
        Schema::Enum(e) => Shape::Enum(e),
        Schema::Union(u) => Shape::Union(u),
        Schema::Record(r) => Shape::Record(r),
        Schema::Array(a) => Shape::Array(&a.items),
        Schema::Map(m) => Shape::Map(&m.types),
        Schema::Ref { name } => Shape::Ref(name),
    }
}

/// The name a union branch goes by in Avro's JSON encoding: the full name of a named type,
/// else the (underlying) type's name.
pub fn branch_name(schema: &Schema, ns: NamespaceRef<'_>) -> String {
    let named = |name: &Name| name.fully_qualified_name(ns).fullname(None);
    match shape(schema) {
        Shape::Null => "null".into(),
        Shape::Boolean => "boolean".into(),
        Shape::Int => "int".into(),
        Shape::Long => "long".into(),
        Shape::Float => "float".into(),
        Shape::Double => "double".into(),
        Shape::Bytes => "bytes".into(),
        Shape::String => "string".into(),
        Shape::Fixed(f) => named(&f.name),
        Shape::Enum(e) => named(&e.name),
        Shape::Record(r) => named(&r.name),
        Shape::Ref(name) => named(name),
        Shape::Array(_) => "array".into(),
        Shape::Map(_) => "map".into(),
        Shape::Union(_) => "union".into(),
    }
}
