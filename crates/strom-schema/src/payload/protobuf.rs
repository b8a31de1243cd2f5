//! Protobuf payloads in Confluent's framing: after the schema id, the message indexes (a
//! zigzag varint count, then that many zigzag varint indexes naming the message type: a
//! top-level message of the file, then nested ones; a single `0` byte means the first
//! message), then the message, decoded with `prost-reflect` against the descriptor the
//! registry compiled. Lengths inside the message are checked against the bytes left before
//! anything is read (prost slices the buffer), nesting is bounded by prost's recursion
//! limit (100), and the message index path by [`MAX_INDEXES`].

use prost_reflect::{DynamicMessage, FileDescriptor, MessageDescriptor, SerializeOptions};
use serde_json::Value;

use crate::error::SchemaResult;
use crate::formats::Source;

/// Longest message index path accepted.
pub const MAX_INDEXES: usize = 32;

/// A compiled `.proto` file.
pub struct ProtoPayload {
    file: FileDescriptor,
}

/// A zigzag varint (32-bit) at the front of `bytes`; the value and the bytes it took.
fn varint(bytes: &[u8]) -> Result<(i32, usize), String> {
    let mut value: u32 = 0;
    for (i, byte) in bytes.iter().take(5).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Ok((((value >> 1) as i32) ^ -((value & 1) as i32), i + 1));
        }
    }
    Err("bad message index varint".to_string())
}

impl ProtoPayload {
    /// Compiles `source`. Errors: `InvalidSchema`.
    pub fn new(source: Source<'_>) -> SchemaResult<ProtoPayload> {
        Ok(ProtoPayload {
            file: crate::formats::protobuf::main_file(source)?,
        })
    }

    /// The message type the indexes name, and the message bytes after them.
    fn split<'p>(&self, payload: &'p [u8]) -> Result<(MessageDescriptor, &'p [u8]), String> {
        let (count, mut used) = varint(payload)?;
        let count = usize::try_from(count).map_err(|_| "negative message index count")?;
        if count > MAX_INDEXES {
            return Err(format!("{count} message indexes, at most {MAX_INDEXES}"));
        }
        let mut path = Vec::with_capacity(count.max(1));
        for _ in 0..count {
            let (index, n) = varint(&payload[used..])?;
            used += n;
            path.push(usize::try_from(index).map_err(|_| "negative message index")?);
        }
        if path.is_empty() {
            path.push(0);
        }
        let missing = || format!("message index path {path:?} names no message of the schema");
        let mut message = self.file.messages().nth(path[0]).ok_or_else(missing)?;
        for &i in &path[1..] {
            let child = message.child_messages().nth(i);
            message = child.ok_or_else(missing)?;
        }
        Ok((message, &payload[used..]))
    }

    fn decode(&self, payload: &[u8]) -> Result<DynamicMessage, String> {
        let (descriptor, bytes) = self.split(payload)?;
        let name = descriptor.full_name().to_string();
        DynamicMessage::decode(descriptor, bytes)
            .map_err(|e| format!("not a valid '{name}' message: {e}"))
    }

    /// Checks that `payload` is a message of the schema. Errors: why not.
    pub fn check(&self, payload: &[u8]) -> Result<(), String> {
        self.decode(payload).map(drop)
    }

    /// `value` (the Protobuf JSON mapping) as the file's first message, after its message
    /// index list (`0`), as Confluent's REST Proxy writes it. Errors: why it does not convert.
    pub fn encode(&self, value: &Value) -> Result<Vec<u8>, String> {
        let descriptor = self.file.messages().next();
        let descriptor = descriptor.ok_or("the schema defines no message")?;
        let name = descriptor.full_name().to_string();
        let message = DynamicMessage::deserialize(descriptor, value)
            .map_err(|e| format!("not a valid '{name}' message: {e}"))?;
        let mut out = vec![0u8];
        out.extend(prost_reflect::prost::Message::encode_to_vec(&message));
        Ok(out)
    }

    /// The message as JSON (the Protobuf JSON mapping). Errors: why it does not decode.
    pub fn to_json(&self, payload: &[u8]) -> Result<Value, String> {
        let message = self.decode(payload)?;
        message
            .serialize_with_options(serde_json::value::Serializer, &SerializeOptions::new())
            .map_err(|e| format!("cannot render the message as JSON: {e}"))
    }
}
