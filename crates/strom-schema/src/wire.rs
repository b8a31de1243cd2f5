//! The serializers' wire format: magic byte `0x00`, then the schema id as 4 bytes big
//! endian, then the payload.

/// Bytes before the payload: the magic byte and the schema id.
pub const PREFIX_LEN: usize = 5;

/// The schema id a value claims, if it starts with the wire-format prefix.
pub fn schema_id(value: &[u8]) -> Option<i32> {
    match value {
        [0, a, b, c, d, ..] => Some(i32::from_be_bytes([*a, *b, *c, *d])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn prefix_is_magic_zero_and_a_big_endian_id() {
        assert_eq!(super::schema_id(&[0, 0, 0, 1, 2, 9]), Some(258));
        assert_eq!(super::schema_id(&[1, 0, 0, 1, 2]), None);
        assert_eq!(super::schema_id(&[0, 0, 0]), None);
    }
}
