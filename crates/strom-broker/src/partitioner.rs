//! Kafka's default partitioner: murmur2 of the key, so a key lands in the same partition
//! whichever client (Java, librdkafka's `murmur2_random`, HTTP) produced it.

/// Kafka's murmur2 (as in `org.apache.kafka.common.utils.Utils.murmur2`).
pub fn murmur2(data: &[u8]) -> i32 {
    let _ = data;
    todo!()
}

/// Partition for `key` among `partitions`: `toPositive(murmur2(key)) % partitions`.
pub fn default_partition(key: &[u8], partitions: i32) -> i32 {
    let _ = (key, partitions);
    todo!()
}
